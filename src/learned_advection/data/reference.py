"""Training / evaluation data: initial conditions, fine-grid references, coarse-graining, windows.

The 1-D experiment of Zhuang et al. (2020): 32 periodic cells, dx = 1, u = 1, dt = 0.5 (CFL 0.5);
square waves of height U[0.1, 0.9] and width 2-8 coarse cells (optionally Gaussians).  Initial
conditions are built at 8x resolution (256 cells) and coarse-grained, so the coarse initial states are
exact cell averages of the fine ones; the reference is Van Leer at 256 cells (8 fine steps per coarse
step) coarse-grained (block mean) to 32 cells.

A :class:`Trajectories` set holds coarse states ``(sample, time, *space)`` and face velocities (one
array per axis, ``(sample, *space)`` constant in time or ``(sample, time, *space)``).  Randomness:
every generator takes a ``numpy.random.Generator``; :func:`rng_for` derives independent streams from
``(seed, purpose)`` so training, validation and test samples never share random numbers.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from learned_advection.numerics import schemes
from learned_advection.numerics.grids import Grid
from learned_advection.numerics.rollout import coarse_grained_rollout

PURPOSES = {"train": 0, "validation": 1, "test": 2}
SHAPES = ("square", "gaussian")


def rng_for(seed: int, purpose: str) -> np.random.Generator:
    """An independent random stream for ``(seed, purpose)`` (purpose: train, validation, test).

    Parameters
    ----------
    seed : int
        Integer seed.
    purpose : {"train", "validation", "test"}
        Which stream; the same seed gives independent streams for different purposes.

    Returns
    -------
    numpy.random.Generator
        A generator seeded from ``(seed, purpose)``.
    """
    return np.random.default_rng([int(seed), PURPOSES[purpose], 20200501])


@dataclasses.dataclass(frozen=True)
class Setup1D:
    """The 1-D constant-velocity problem (coarse grid, velocity, time step, reference resolution).

    Parameters
    ----------
    n : int, default 32
        Coarse cells.
    length : float, default 32.0
        Domain length.
    speed : float, default 1.0
        Constant velocity.
    dt : float, default 0.5
        Coarse time step.
    factor : int, default 8
        Reference resolution ``factor * n``, with ``factor`` fine steps per coarse step.
    reference_scheme : str, default "vanleer"
        Name of the scheme that computes the fine-grid reference.
    """

    n: int = 32
    length: float = 32.0
    speed: float = 1.0
    dt: float = 0.5
    factor: int = 8  # reference resolution = factor * n, factor fine steps per coarse step
    reference_scheme: str = "vanleer"

    @property
    def grid(self) -> Grid:
        """The coarse 1-D grid, ``n`` cells over ``length``."""
        return Grid((self.n,), (self.length,))

    @property
    def fine_grid(self) -> Grid:
        """The reference grid, ``factor * n`` cells over ``length``."""
        return self.grid.refine(self.factor)

    @property
    def cfl(self) -> float:
        """Courant number ``|speed| dt / dx`` on the coarse grid."""
        return abs(self.speed) * self.dt / self.grid.spacing[0]

    def to_dict(self) -> dict:
        """The fields as a plain ``dict``."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Trajectories:
    """A set of coarse reference trajectories (training/evaluation data): ``states (sample, time, *space)``,
    ``velocity[a]`` per axis, the step ``dt`` and the ``grid``.  (A *trajectory* is always the states of one
    run at its saved steps: what :func:`~learned_advection.numerics.rollout.rollout` returns.)

    Parameters
    ----------
    states : numpy.ndarray
        Coarse states, ``(sample, time, x)`` in 1-D or ``(sample, time, y, x)`` in 2-D, initial state first.
    velocity : tuple of numpy.ndarray
        Face velocities ordered like the array axes, each ``(sample, *space)`` (constant in time) or
        ``(sample, n_steps, *space)`` (one per step).
    dt : float
        Time step between consecutive states.
    grid : Grid
        The coarse grid of ``states``.
    """

    states: np.ndarray
    velocity: tuple[np.ndarray, ...]
    dt: float
    grid: Grid

    @property
    def n_samples(self) -> int:
        """Number of trajectories."""
        return self.states.shape[0]

    @property
    def n_steps(self) -> int:
        """Steps per trajectory (states per trajectory less one)."""
        return self.states.shape[1] - 1

    @property
    def time_dependent_velocity(self) -> bool:
        """Whether the velocity has one field per step (a time axis)."""
        return self.velocity[0].ndim == self.states.ndim

    def concat(self, other: "Trajectories") -> "Trajectories":
        """These samples followed by those of ``other``.

        Parameters
        ----------
        other : Trajectories
            Samples on the same grid, with the same step and the same number of steps.

        Raises
        ------
        ValueError
            If the grids, steps or trajectory shapes differ.
        """
        if other.grid != self.grid or other.dt != self.dt or other.states.shape[1:] != self.states.shape[1:]:
            raise ValueError("can only concatenate trajectories on the same grid, time step and length")
        vel = tuple(np.concatenate([a, b]) for a, b in zip(self.velocity, other.velocity))
        return Trajectories(np.concatenate([self.states, other.states]), vel, self.dt, self.grid)

    def every(self, k: int) -> "Trajectories":
        """The same runs seen by a solver with ``k`` times the step: every ``k``-th state, the step ``k * dt``,
        and (a velocity per step) the average of the ``k`` velocities each long step spans -- a linear
        combination of divergence-free fields, so still divergence-free.

        Parameters
        ----------
        k : int
            Steps per long step; a positive divisor of :attr:`n_steps` (1 returns ``self``).

        Raises
        ------
        ValueError
            If ``k`` is not positive or does not divide :attr:`n_steps`.
        """
        if k == 1:
            return self
        if k < 1 or self.n_steps % k:
            raise ValueError(f"{self.n_steps} steps are not a whole number of steps of {k}")
        vel = self.velocity
        if self.time_dependent_velocity:
            vel = tuple(
                u.reshape(u.shape[0], u.shape[1] // k, k, *u.shape[2:]).mean(axis=2).astype(u.dtype) for u in vel
            )
        return Trajectories(self.states[:, ::k], vel, self.dt * k, self.grid)

    def take(self, start: int, stop: int) -> "Trajectories":
        """Samples ``start`` to ``stop - 1``.

        Parameters
        ----------
        start, stop : int
            Sample range, as in a slice ``start:stop``.
        """
        return Trajectories(self.states[start:stop], tuple(u[start:stop] for u in self.velocity), self.dt, self.grid)

    def split_validation(self) -> tuple["Trajectories", "Trajectories"]:
        """``(training, validation)``: the last ~20% of the samples held out (at least one); a single
        trajectory is both.

        Returns
        -------
        tuple of Trajectories
            ``(training, validation)``.
        """
        if self.n_samples < 2:
            return self, self
        k = self.n_samples - max(1, self.n_samples // 5)
        return self.take(0, k), self.take(k, self.n_samples)


# --------------------------------------------------------------------------- initial conditions
def square_wave(rng: np.random.Generator, setup: Setup1D, height=(0.1, 0.9), width=(2, 8)) -> np.ndarray:
    """A periodic square wave on the *fine* grid: height U[0.1, 0.9], width U{2..8} coarse cells.

    Edges lie on fine-cell faces (width and position in whole fine cells), so the fine state is exact.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random stream for height, width and position.
    setup : Setup1D
        The problem; the wave lives on its fine grid.
    height : tuple of float, default (0.1, 0.9)
        Range of the uniform height.
    width : tuple of int, default (2, 8)
        Range of the width in coarse cells (inclusive; drawn in whole fine cells).

    Returns
    -------
    numpy.ndarray
        Shape ``(factor * n,)``.
    """
    nf, f = setup.n * setup.factor, setup.factor
    h = rng.uniform(*height)
    w = int(rng.integers(width[0] * f, width[1] * f + 1))
    start = int(rng.integers(0, nf))
    c = np.zeros(nf)
    c[(start + np.arange(w)) % nf] = h
    return c


def gaussian(rng: np.random.Generator, setup: Setup1D, height=(0.1, 0.9), sigma=(1.0, 2.5)) -> np.ndarray:
    """A periodic Gaussian on the *fine* grid as exact fine-cell averages: height U[0.1, 0.9], sigma in coarse cells.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random stream for height, width and centre.
    setup : Setup1D
        The problem; the Gaussian lives on its fine grid.
    height : tuple of float, default (0.1, 0.9)
        Range of the uniform peak height.
    sigma : tuple of float, default (1.0, 2.5)
        Range of the uniform standard deviation, in coarse cells.

    Returns
    -------
    numpy.ndarray
        Shape ``(factor * n,)``.
    """
    from math import erf

    nf = setup.n * setup.factor
    length = setup.length
    h = rng.uniform(*height)
    s = rng.uniform(*sigma) * setup.grid.spacing[0]
    x0 = rng.uniform(0, length)
    edges = np.linspace(0.0, length, nf + 1)
    cdf = np.zeros(nf + 1)
    verf = np.vectorize(erf)
    for shift in (-2, -1, 0, 1, 2):  # periodic images
        cdf += 0.5 * verf((edges - x0 - shift * length) / (math.sqrt(2.0) * s))
    dx = length / nf
    return h * s * math.sqrt(2.0 * math.pi) * np.diff(cdf) / dx


def initial_conditions(
    rng: np.random.Generator, setup: Setup1D, n: int, shapes: Sequence[str] = ("square",)
) -> np.ndarray:
    """``n`` fine-grid initial conditions, shapes cycled through ``shapes`` (``(n, factor * N)``).

    Parameters
    ----------
    rng : numpy.random.Generator
        Random stream for all of them.
    setup : Setup1D
        The problem.
    n : int
        Number of initial conditions.
    shapes : sequence of {"square", "gaussian"}, default ("square",)
        Shapes, used in turn.

    Raises
    ------
    ValueError
        If a shape is unknown.
    """
    out = []
    for k in range(n):
        shape = shapes[k % len(shapes)]
        if shape == "square":
            out.append(square_wave(rng, setup))
        elif shape == "gaussian":
            out.append(gaussian(rng, setup))
        else:
            raise ValueError(f"unknown initial shape {shape!r}; choose from {', '.join(SHAPES)}")
    return np.stack(out)


# --------------------------------------------------------------------------- references
@functools.lru_cache(maxsize=32)
def _reference_runner(setup: Setup1D, n_steps: int):
    fine = setup.fine_grid
    scheme = schemes.scheme(setup.reference_scheme)

    @jax.jit
    def run(c0):
        vel = (jnp.full(fine.shape, setup.speed, c0.dtype),)
        return jax.vmap(
            lambda c: coarse_grained_rollout(scheme, c, vel, setup.dt, fine.spacing, n_steps, setup.factor)
        )(c0)

    return run


def reference_1d(fine_c0: np.ndarray, setup: Setup1D, n_steps: int) -> np.ndarray:
    """Fine-grid reference coarse-grained: ``(sample, n_steps + 1, N)`` at every coarse step.

    Parameters
    ----------
    fine_c0 : numpy.ndarray
        Fine initial states, ``(sample, factor * N)``.
    setup : Setup1D
        The problem (velocity, step, reference scheme and resolution).
    n_steps : int
        Number of coarse steps.
    """
    return np.asarray(_reference_runner(setup, n_steps)(jnp.asarray(fine_c0, jnp.result_type(float))))


def make_dataset_1d(
    rng: np.random.Generator, setup: Setup1D, n_samples: int, n_steps: int, shapes: Sequence[str] = ("square",)
) -> Trajectories:
    """``n_samples`` reference trajectories of ``n_steps`` coarse steps on the coarse 1-D grid.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random stream for the initial conditions.
    setup : Setup1D
        The problem.
    n_samples : int
        Number of trajectories.
    n_steps : int
        Coarse steps per trajectory.
    shapes : sequence of {"square", "gaussian"}, default ("square",)
        Initial shapes, used in turn.

    Returns
    -------
    Trajectories
        States ``(n_samples, n_steps + 1, n)`` and a constant velocity ``(n_samples, n)``.
    """
    fine_c0 = initial_conditions(rng, setup, n_samples, shapes)
    states = reference_1d(fine_c0, setup, n_steps)
    vel = (np.full((n_samples, setup.n), setup.speed, dtype=states.dtype),)
    return Trajectories(states, vel, setup.dt, setup.grid)


def make_test_set_1d(seeds: Sequence[int], setup: Setup1D, n_steps: int, shape: str = "square") -> Trajectories:
    """One test sample per seed (its own random stream, disjoint from every training stream).

    Parameters
    ----------
    seeds : sequence of int
        One seed per sample, each used with purpose ``"test"``.
    setup : Setup1D
        The problem.
    n_steps : int
        Coarse steps per trajectory.
    shape : {"square", "gaussian"}, default "square"
        Initial shape.

    Returns
    -------
    Trajectories
        States ``(len(seeds), n_steps + 1, n)`` and a constant velocity ``(len(seeds), n)``.
    """
    fine_c0 = np.stack([initial_conditions(rng_for(s, "test"), setup, 1, (shape,))[0] for s in seeds])
    states = reference_1d(fine_c0, setup, n_steps)
    vel = (np.full((len(seeds), setup.n), setup.speed, dtype=states.dtype),)
    return Trajectories(states, vel, setup.dt, setup.grid)


# --------------------------------------------------------------------------- windows
def window_velocity(velocity: Sequence[Array], sample: Array, start: Array, length: int, time_dependent: bool):
    """Velocities for a batch of windows: ``(batch, length, *space)`` (time series) or ``(batch, *space)``.

    Parameters
    ----------
    velocity : sequence of array
        Face velocities ordered like the array axes, each ``(sample, time, *space)`` or ``(sample, *space)``.
    sample : array of int
        Sample index of each window, ``(batch,)``.
    start : array of int
        First step of each window, ``(batch,)``.
    length : int
        Steps per window.
    time_dependent : bool
        Whether ``velocity`` has a time axis.

    Returns
    -------
    tuple of array
        One array per axis, in the same order.
    """
    if time_dependent:
        idx = start[:, None] + jnp.arange(length)[None, :]
        return tuple(u[sample[:, None], idx] for u in velocity)
    return tuple(u[sample] for u in velocity)


def window_states(states: Float[Array, "n t *space"], sample: Array, start: Array, length: int) -> Array:
    """``length + 1`` consecutive states from each ``(sample, start)``: ``(batch, length + 1, *space)``.

    Parameters
    ----------
    states : array
        Trajectories, ``(sample, time, *space)``.
    sample : array of int
        Sample index of each window, ``(batch,)``.
    start : array of int
        First state of each window, ``(batch,)``.
    length : int
        Steps per window.
    """
    idx = start[:, None] + jnp.arange(length + 1)[None, :]
    return states[sample[:, None], idx]
