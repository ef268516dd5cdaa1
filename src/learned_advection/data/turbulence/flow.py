"""The turbulence data's configuration (``TurbulenceData``), its initial blobs, step times and velocities."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from learned_advection.flows import turbulence
from learned_advection.numerics.grids import Grid, coarsen_concentration


@dataclasses.dataclass(frozen=True)
class TurbulenceData:
    """Resolutions, time step, initial blobs and pyqg run of the 2-D turbulence reference data.

    Parameters
    ----------
    fine_n : int, default 256
        Grid size of the fine reference solver (``fine_n`` by ``fine_n``).
    coarse_n : int, default 32
        Grid size of the stored coarse-grained concentration; divides ``fine_n``.
    store_n : int, default 128
        Grid size of the stored corner streamfunction; divides ``fine_n``.
    coarse_dt : float, default 0.024
        Coarse time step; the velocity is held constant over each coarse step.
    n_blobs : int, default 10
        Number of Gaussian blobs in the initial concentration.
    blob_width : float, default 0.5
        Standard deviation of each blob.
    flow : TurbulenceConfig, default TurbulenceConfig()
        The pyqg run that provides the velocity.
    """

    fine_n: int = 256
    coarse_n: int = 32
    store_n: int = 128  # grid of the stored corner streamfunction
    coarse_dt: float = 0.024
    n_blobs: int = 10
    blob_width: float = 0.5
    flow: turbulence.TurbulenceConfig = turbulence.TurbulenceConfig()

    @property
    def factor(self) -> int:
        """``fine_n // coarse_n``: fine cells per coarse cell along each axis, and fine steps per coarse step."""
        return self.fine_n // self.coarse_n

    def grid(self, n: int) -> Grid:
        """The square ``n`` by ``n`` grid on the turbulence domain ``[0, 2 pi]^2``.

        Parameters
        ----------
        n : int
            Cells per axis.
        """
        return Grid.square(n, turbulence.DOMAIN)


def gaussian_blobs(grid: Grid, seed: int, n_blobs: int = 10, width: float = 0.5) -> np.ndarray:
    """Sum of ``n_blobs`` periodic Gaussians ``exp(-r^2 / (2 width^2))`` at random places, scaled to max 1.

    Parameters
    ----------
    grid : Grid
        2-D grid; the field holds the values at its cell centres.
    seed : int
        Seed of the blob positions.
    n_blobs : int, default 10
        Number of blobs.
    width : float, default 0.5
        Standard deviation of each blob.

    Returns
    -------
    numpy.ndarray
        Shape ``(y, x)`` = ``grid.shape``, float64.
    """
    rng = np.random.default_rng([seed, 7919])
    Y, X = grid.mesh()
    field = np.zeros(grid.shape)
    for y0, x0 in rng.uniform(0, 1, (n_blobs, 2)) * np.asarray(grid.length):
        dy = (Y - y0 + grid.length[0] / 2) % grid.length[0] - grid.length[0] / 2
        dx = (X - x0 + grid.length[1] / 2) % grid.length[1] - grid.length[1] / 2
        field += np.exp(-(dx**2 + dy**2) / (2 * width**2))
    return field / field.max()


def midpoint_times(config: TurbulenceData, n_steps: int) -> np.ndarray:
    """Midpoint time of each coarse step, ``spinup + (k + 1/2) coarse_dt`` for ``k < n_steps``.

    Parameters
    ----------
    config : TurbulenceData
        Coarse step and pyqg spin-up.
    n_steps : int
        Number of coarse steps.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_steps,)``.
    """
    return config.flow.spinup + config.coarse_dt * (np.arange(n_steps) + 0.5)


def velocity_for(psi_store, n: int):
    """Face velocities on ``n``^2 from stored corner streamfunction(s) (any leading axes).

    Parameters
    ----------
    psi_store : array
        Corner streamfunction, ``(..., N, N)`` with ``N`` divisible by ``n``.
    n : int
        Target grid size.

    Returns
    -------
    tuple of array
        ``(y_velocity, x_velocity)``, each ``(..., n, n)``.
    """
    return turbulence.face_velocities(psi_store, n)


def stride(config: TurbulenceData, n: int, k: int = 1) -> int:
    """Coarse steps per solver step on ``n``^2 at ``k`` times its Courant-0.5 step ``dt_c * coarse_n / n``.

    1 while that step is at most one coarse step (``k`` must divide ``n / coarse_n``); otherwise
    ``k / (n / coarse_n)`` (which must be a whole number).

    Parameters
    ----------
    config : TurbulenceData
        Coarse grid size.
    n : int
        Solver grid size, a multiple of ``coarse_n``.
    k : int, default 1
        Multiple of the Courant-0.5 step.

    Raises
    ------
    ValueError
        If ``k`` does not fit as described.
    """
    f = n // config.coarse_n
    if k < 1 or (k <= f and f % k) or (k > f and k % f):
        raise ValueError(f"step multiple k={k} does not fit {n}^2 (sub-steps per coarse step: {f})")
    return max(1, k // f)


def initial_on(config: TurbulenceData, seed: int, n: int) -> np.ndarray:
    """The sample's initial concentration on ``n``^2 (exact block mean of the fine initial field).

    Parameters
    ----------
    config : TurbulenceData
        The data configuration (fine grid and blobs).
    seed : int
        Sample seed.
    n : int
        Target grid size, a divisor of ``fine_n``.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, n)``.
    """
    fine = gaussian_blobs(config.grid(config.fine_n), seed, config.n_blobs, config.blob_width)
    return np.asarray(coarsen_concentration(jnp.asarray(fine), config.fine_n // n, 2))
