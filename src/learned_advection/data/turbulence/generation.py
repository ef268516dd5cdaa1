"""Solving on the turbulence samples' flow, and generating one reference sample at the fine resolution."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from learned_advection._version import __version__
from learned_advection.data.turbulence.flow import TurbulenceData, gaussian_blobs, midpoint_times, stride, velocity_for
from learned_advection.flows import turbulence
from learned_advection.numerics import schemes
from learned_advection.numerics.grids import max_courant
from learned_advection.numerics.rollout import coarse_grained_rollout


def solve_on(scheme, c0, psi_corner, n: int, config: TurbulenceData, n_steps: int | None = None, k: int = 1):
    """Solve on ``n``^2 with the per-coarse-step velocities; return the trajectory coarse-grained to 32^2.

    ``psi_corner``: ``(steps, N, N)`` corner streamfunction on any grid ``N`` divisible by ``n``;
    ``c0``: the initial state on ``n``^2.  ``k``: the time step is ``k`` times today's Courant-0.5 step at
    ``n``^2 (so the Courant number is about ``k / 2``).  Returns ``(steps / s + 1, 32, 32)``: the states
    every ``s = stride(config, n, k)`` coarse steps.  A step longer than one coarse step uses the average
    of the velocities of the coarse steps it spans (still discretely divergence-free).

    Parameters
    ----------
    scheme : Stepper
        The stepper to run.
    c0 : array
        Initial state on the solver grid, ``(n, n)``.
    psi_corner : array
        Corner streamfunction per coarse step, ``(steps, N, N)``.
    n : int
        Solver grid size, a multiple of ``coarse_n``.
    config : TurbulenceData
        Coarse grid and coarse step.
    n_steps : int, optional
        Coarse steps to run; ``None`` (default) runs all of ``psi_corner``.  A multiple of the stride.
    k : int, default 1
        Multiple of the Courant-0.5 step (see :func:`stride`).

    Returns
    -------
    array
        ``(n_steps / s + 1, coarse_n, coarse_n)``, initial state first.
    """
    steps = psi_corner.shape[0] if n_steps is None else n_steps
    every = stride(config, n, k)
    spacing = config.grid(n).spacing
    if every == 1:
        return coarse_grained_rollout(
            scheme,
            c0,
            psi_corner,
            config.coarse_dt,
            spacing,
            steps,
            n // config.coarse_n,
            velocity_map=lambda psi: velocity_for(psi, n),
            sub_steps=n // config.coarse_n // k,
        )
    if steps % every:
        raise ValueError(f"{steps} coarse steps are not a whole number of steps of {every} coarse steps")
    psi = psi_corner[:steps]
    psi = psi.reshape(steps // every, every, *psi.shape[1:]).mean(axis=1)
    return coarse_grained_rollout(
        scheme,
        c0,
        psi,
        config.coarse_dt * every,
        spacing,
        steps // every,
        n // config.coarse_n,
        velocity_map=lambda p: velocity_for(p, n),
        sub_steps=1,
    )


def _fine_problem(config: TurbulenceData, seed: int, n_steps: int):
    """``(times, psi, c0, courant)`` of one sample on the fine grid: every coarse step's midpoint, pyqg's
    streamfunction at those times, the initial blobs, and the largest Courant number of the fine solver
    (refused above 1)."""
    times = midpoint_times(config, n_steps)
    psi = turbulence.streamfunction_history(config.flow, seed, times)  # (steps, 256, 256), our sign
    fine = config.grid(config.fine_n)
    courant = max_courant(velocity_for(psi, config.fine_n), config.coarse_dt / config.factor, fine.spacing)
    if courant > 1:
        raise RuntimeError(f"seed {seed}: Courant number {courant:.2f} > 1 at {config.fine_n}^2; reduce coarse_dt")
    c0 = jnp.asarray(gaussian_blobs(fine, seed, config.n_blobs, config.blob_width), psi.dtype)
    return times, psi, c0, courant


def _solve_fine(config: TurbulenceData, scheme, c0, psi) -> np.ndarray:
    """``scheme`` (a stepper) at ``fine_n``^2 from ``c0`` in the flow ``psi``, coarse-grained to ``coarse_n``."""
    return np.asarray(jax.jit(lambda c, p: solve_on(scheme, c, p, config.fine_n, config))(c0, psi))


def fine_solution(config: TurbulenceData, seed: int, n_steps: int, scheme: str = "vanleer") -> np.ndarray:
    """``scheme`` at ``fine_n``^2 (Courant 0.5) on one sample, coarse-grained: ``(n_steps + 1, coarse, coarse)``.

    Parameters
    ----------
    config : TurbulenceData
        The data configuration.
    seed : int
        Sample seed (flow and initial blobs).
    n_steps : int
        Number of coarse steps.
    scheme : str, default "vanleer"
        Name of the fine-grid scheme.

    Raises
    ------
    RuntimeError
        If the fine Courant number exceeds 1.
    """
    _, psi, c0, _ = _fine_problem(config, seed, n_steps)
    return _solve_fine(config, schemes.scheme(scheme), c0, psi)


def generate_sample(config: TurbulenceData, seed: int, n_steps: int) -> xr.Dataset:
    """One reference sample: pyqg velocity history + Van Leer at ``fine_n`` coarse-grained to ``coarse_n``.

    Parameters
    ----------
    config : TurbulenceData
        The data configuration.
    seed : int
        Sample seed (flow and initial blobs).
    n_steps : int
        Number of coarse steps.

    Returns
    -------
    xarray.Dataset
        ``concentration (time, y, x)`` = ``(n_steps + 1, coarse_n, coarse_n)`` and
        ``psi (step, y_corner, x_corner)`` = ``(n_steps, store_n, store_n)``, both float32.

    Raises
    ------
    RuntimeError
        If the fine Courant number exceeds 1.
    """
    times, psi, c0, courant = _fine_problem(config, seed, n_steps)
    ref = _solve_fine(config, schemes.VANLEER, c0, psi)
    f = config.fine_n // config.store_n
    psi_store = np.asarray(psi[:, f - 1 :: f, f - 1 :: f], dtype=np.float32)
    g = config.grid(config.coarse_n)
    gs = config.grid(config.store_n)
    return xr.Dataset(
        {
            "concentration": (
                ("time", "y", "x"),
                ref.astype(np.float32),
                {"long_name": "coarse-grained reference concentration"},
            ),
            "psi": (
                ("step", "y_corner", "x_corner"),
                psi_store,
                {"long_name": "streamfunction at cell corners (u = dpsi/dy, v = -dpsi/dx), held over each coarse step"},
            ),
        },
        coords={
            "time": ("time", config.flow.spinup + config.coarse_dt * np.arange(n_steps + 1)),
            "x": ("x", g.centres(1)),
            "y": ("y", g.centres(0)),
            "x_corner": ("x_corner", gs.faces(1)),
            "y_corner": ("y_corner", gs.faces(0)),
            "step_time": ("step", times),
        },
        attrs={
            "seed": seed,
            "reference": f"vanleer at {config.fine_n}^2, {config.factor} sub-steps per coarse step, block-mean coarse-grained",
            "coarse_dt": config.coarse_dt,
            "max_courant_fine": courant,
            "blobs": f"{config.n_blobs} Gaussian blobs of width {config.blob_width}",
            "velocity": "pyqg-jax BTModel 256^2, McWilliams-84 initial condition, beta=0, rek=0, rd=None",
            "learned_advection_version": __version__,
        },
    )
