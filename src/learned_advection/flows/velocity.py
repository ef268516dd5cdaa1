"""Velocity fields on C-grid faces, exactly (discretely) divergence-free.

2-D fields come from a streamfunction ``psi`` sampled at cell *corners*: ``psi[j, i]`` is at the
upper-right corner ``(y[j] + dy/2, x[i] + dx/2)`` of cell ``(j, i)``.  With ``u = dpsi/dy`` and
``v = -dpsi/dx``, the face *averages* are exact differences of corner values::

    x_velocity[j, i] = (psi[j, i] - psi[j-1, i]) / dy      (+x face of cell (j, i))
    y_velocity[j, i] = -(psi[j, i] - psi[j, i-1]) / dx     (+y face of cell (j, i))

so the discrete divergence cancels identically, and coarse-graining (subsampling ``psi``) keeps it so.
Velocities are returned as ``(y_velocity, x_velocity)``, ordered like the array axes.
"""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from learned_advection.numerics.grids import Grid

Velocity = tuple[Array, ...]


def faces_from_streamfunction(psi: Float[Array, "*batch ny nx"], spacing) -> tuple[Array, Array]:
    """C-grid face velocities ``(y_velocity, x_velocity)`` from a corner streamfunction.

    Parameters
    ----------
    psi
        Streamfunction at the upper-right corner of every cell, ``(..., ny, nx)``.
    spacing
        Cell sizes ``(dy, dx)``.
    """
    dy, dx = spacing
    u = (psi - jnp.roll(psi, 1, axis=-2)) / dy
    v = -(psi - jnp.roll(psi, 1, axis=-1)) / dx
    return v, u


def corner_mesh(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """``(Y, X)`` coordinates of the upper-right corner of every cell.

    Parameters
    ----------
    grid
        A 2-D grid.
    """
    return tuple(np.meshgrid(grid.faces(0), grid.faces(1), indexing="ij"))


def constant(grid: Grid, speed) -> Velocity:
    """Uniform velocity on every face.

    Parameters
    ----------
    grid
        The grid the velocity lives on.
    speed
        One value per axis, ordered like the array axes, or a scalar in 1-D.
    """
    speed = np.atleast_1d(np.asarray(speed, dtype=float))
    if speed.shape != (grid.ndim,):
        raise ValueError(f"need one speed per axis ({grid.ndim}), got {speed.tolist()}")
    return tuple(jnp.full(grid.shape, s, dtype=jnp.result_type(float)) for s in speed)


def random_sinusoidal_streamfunction(grid: Grid, seed: int, kmax: int = 4, power: float = 3.0):
    """Random periodic streamfunction: superposition of waves with ``|k| <= kmax``.

    Each integer wavevector ``(ky, kx) != 0`` with ``|k| <= kmax`` gets a random phase and an amplitude
    ``(|k| + 1)^-power`` (velocity amplitude; the streamfunction amplitude is divided by ``|k|``
    scaled to the domain).  Returns a function of corner coordinates ``(Y, X) -> psi`` (float64 numpy).

    Parameters
    ----------
    grid
        The grid whose domain lengths set the wavenumbers.
    seed
        Seed of the amplitudes and phases.
    kmax
        Largest wavenumber magnitude.
    power
        Spectral slope of the velocity amplitudes.
    """
    rng = np.random.default_rng(seed)
    ly, lx = grid.length
    waves = []
    for ky in range(-kmax, kmax + 1):
        for kx in range(0, kmax + 1):
            if (kx == 0 and ky <= 0) or kx * kx + ky * ky > kmax * kmax:
                continue  # one of each +-k pair
            kmag = np.hypot(kx, ky)
            amp = (kmag + 1.0) ** -power * rng.normal()
            phase = rng.uniform(0, 2 * np.pi)
            wy, wx = 2 * np.pi * ky / ly, 2 * np.pi * kx / lx
            waves.append((amp / np.hypot(wx, wy), wy, wx, phase))

    def psi(Y, X):
        out = np.zeros(np.broadcast(Y, X).shape)
        for amp, wy, wx, phase in waves:
            out += amp * np.cos(wy * Y + wx * X + phase)
        return out

    return psi


def random_sinusoidal(grid: Grid, seed: int, kmax: int = 4, power: float = 3.0, max_speed: float = 1.0) -> Velocity:
    """Random periodic divergence-free flow (seeded), normalised so that ``max |u| = max_speed``.

    The normalisation uses this grid's face velocities; sample the same flow on another grid with
    :func:`random_sinusoidal_family` so all grids share one normalisation.

    Parameters
    ----------
    grid
        A 2-D grid.
    seed
        Seed of the flow.
    kmax
        Largest wavenumber magnitude.
    power
        Spectral slope of the velocity amplitudes.
    max_speed
        Largest face speed after normalisation.
    """
    return random_sinusoidal_family(grid, seed, [1], kmax, power, max_speed)[0]


def random_sinusoidal_family(grid: Grid, seed: int, factors, kmax: int = 4, power: float = 3.0, max_speed: float = 1.0):
    """The same random flow on ``grid`` coarsened by each factor in ``factors`` (one normalisation).

    Parameters
    ----------
    grid
        The finest 2-D grid; the normalisation uses its face velocities.
    seed
        Seed of the flow.
    factors
        Coarsening factors, one velocity per factor (1: ``grid`` itself).
    kmax
        Largest wavenumber magnitude.
    power
        Spectral slope of the velocity amplitudes.
    max_speed
        Largest face speed on ``grid`` after normalisation.
    """
    if grid.ndim != 2:
        raise ValueError("random sinusoidal flows are 2-D")
    psi_fn = random_sinusoidal_streamfunction(grid, seed, kmax, power)
    psi = jnp.asarray(psi_fn(*corner_mesh(grid)))
    fine = faces_from_streamfunction(psi, grid.spacing)
    scale = max_speed / float(max(jnp.max(jnp.abs(u)) for u in fine))
    out = []
    for f in factors:
        g = grid.coarsen(f)
        p = psi[f - 1 :: f, f - 1 :: f]
        out.append(
            tuple(jnp.asarray(u * scale, dtype=jnp.result_type(float)) for u in faces_from_streamfunction(p, g.spacing))
        )
    return out


def deformational_streamfunction(Y, X, t, period: float = 5.0):
    """LeVeque (1996) swirling deformational flow on [0, 1]^2: ``psi = sin^2(pi x) sin^2(pi y) cos(pi t / T) / pi``.

    Parameters
    ----------
    Y, X
        Coordinates (corners of the cells for C-grid velocities).
    t
        Time.
    period
        The period ``T``; the flow reverses at ``T / 2``.
    """
    return jnp.sin(jnp.pi * X) ** 2 * jnp.sin(jnp.pi * Y) ** 2 * jnp.cos(jnp.pi * t / period) / jnp.pi


def deformational(grid: Grid, period: float = 5.0) -> Callable[[Array], Velocity]:
    """Time-dependent deformational flow ``t -> (y_velocity, x_velocity)`` (jax-traceable in ``t``).

    ``u = sin^2(pi x) sin(2 pi y) cos(pi t/T)``, ``v = -sin^2(pi y) sin(2 pi x) cos(pi t/T)``; the flow
    reverses at ``T/2`` and the exact solution at ``t = T`` equals the initial condition.

    Parameters
    ----------
    grid
        A 2-D grid on [0, 1]^2.
    period
        The period ``T``.
    """
    if grid.ndim != 2:
        raise ValueError("the deformational flow is 2-D")
    Y, X = (jnp.asarray(a) for a in corner_mesh(grid))

    def velocity(t):
        psi = deformational_streamfunction(Y, X, t, period).astype(jnp.result_type(float))
        return faces_from_streamfunction(psi, grid.spacing)

    return velocity


def max_speed(velocity: Velocity) -> float:
    """Largest absolute face velocity over all components.

    Parameters
    ----------
    velocity
        Face velocities, one array per axis.
    """
    return float(max(jnp.max(jnp.abs(u)) for u in velocity))
