"""The stress suite: a stepper on flows and tracers it was not built for, run *at* its declared limits.

Every stepper declares the largest Courant number it is meant for (``max_courant``) and, for an unbounded
large step, the largest deformation number (``max_deformation``, :func:`~learned_advection.numerics.grids.deformation_number`).
The suite runs it on every pair of a flow and a tracer with each flow scaled so that the run sits at those
limits, and reports whether it blew up, how far it left the initial range, its mass change and its error
against a fine reference.  Within the declared limits a sound stepper never blows up; beyond them
:func:`~learned_advection.numerics.limits.check_limits` refuses the run, which the suite checks too.

Flows (2-D, periodic, on the square of the grid, every one from a corner streamfunction, so the discrete
divergence is zero on every grid; :data:`FLOWS`):

* ``random`` -- a steady random multi-mode flow (wavenumbers up to 4,
  :func:`~learned_advection.flows.velocity.random_sinusoidal_streamfunction`);
* ``cellular`` -- steady cellular vortices ``sin(2x) sin(2y)`` (16 vortices);
* ``shear`` -- a steady shear ``u ~ sin y``, ``v = 0`` (no deformation along the flow: the Courant limit binds);
* ``vortex`` -- a smooth periodic vortex patch, rotating like a solid body in its core;
* ``deformation`` -- LeVeque's swirling deformation ``sin^2(x / 2) sin^2(y / 2) cos(pi t / T)``, reversing at
  half the run (``T`` the run's length), so the exact solution at the end is the initial tracer;
* ``unsteady`` -- four random multi-mode flows with weights ``cos(2 pi s / P_j + theta_j)`` (``s`` the step
  number, periods :data:`UNSTEADY_PERIODS` steps): a flow whose structure changes every few tens of steps, in
  place of decaying turbulence (a pyqg history as long as a 4096-step run of the hybrid model, 786 time
  units, costs far more than the suite).

Each flow is scaled so that its largest Courant number over the run is the stepper's limit
(:func:`target_courant`: ``max_courant``, or for an ordinary step its ``stable_courant`` when below 1, times a
fraction), unless that would put its deformation number above ``max_deformation``: then the deformation number
is at that limit and the Courant number below its own.  A time-dependent flow is measured at every step's
midpoint, the times the step sees it.

Tracers (in ``[0, 1]``, cell means of the fine grid; :data:`TRACERS`): ``smooth`` (``(1 + sin x sin y) / 2``),
``blobs`` (the turbulence data's ten Gaussian blobs, :func:`~learned_advection.data.turbulence.flow.gaussian_blobs`),
``block`` (a square of ones, eight cells a side on 32², edges on cell faces) and ``filaments`` (strips of
ones 1, 1.5 and 2 coarse cells wide).

Per case the run is checked at every saved state by
:class:`~learned_advection.transport.guard.BlowUpGuard` (NaN or Inf, a value more than the initial range
outside it, ``sum |c|`` doubled, the mass changed beyond round-off); the error is the MAE at step :data:`EARLY`
and at the end against PPM at :data:`DEFAULT_FACTOR` times the resolution with steps of Courant number at most
:data:`REFERENCE_COURANT`, coarse-grained; ``ppm_early_mae`` and ``ppm_mae`` are those of the bounded PPM step at
the same grid, step and flow.  Per flow the same flow at :data:`BEYOND` times the amplitude of the run (1.5 times the limit that
binds) must be refused by :func:`~learned_advection.numerics.limits.check_limits`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from learned_advection.data.turbulence.flow import gaussian_blobs
from learned_advection.errors import UserError
from learned_advection.evaluation.metrics import mae_per_sample, mass_change
from learned_advection.flows.velocity import corner_mesh, faces_from_streamfunction, random_sinusoidal_streamfunction
from learned_advection.numerics.grids import Grid, coarsen_concentration, deformation_number, max_courant
from learned_advection.numerics.limits import check_limits, substeps_needed
from learned_advection.numerics.rollout import rollout
from learned_advection.numerics.schemes import SCHEMES, scheme
from learned_advection.numerics.steppers import Stepper
from learned_advection.progress import progress_bar
from learned_advection.transport.guard import BlowUpGuard

FLOWS = ("random", "cellular", "shear", "vortex", "deformation", "unsteady")
TRACERS = ("smooth", "blobs", "block", "filaments")
DEFAULT_STEPS = 4096
MAX_STEPS = 65536
DEFAULT_FACTOR = 2  # reference resolution / the grid's
MAX_FACTOR = 8
REFERENCE_SCHEME = "ppm"
REFERENCE_COURANT = 1.0  # the reference's largest Courant number on its fine grid
BEYOND = 1.5  # the flow of the refusal check, in amplitudes of the flow at the limits
MAX_SAVED = 1024  # saved states per run, at most (the guard checks each)
EARLY = 256  # the step of the early error too (a mixing flow leaves little to compare at the end of a long run)
AT_LIMIT = 1 - 1e-12  # a flow at a limit, less round-off: ``check_limits`` takes it
N = 32  # the default grid: N² on [0, 2 pi]², as the shipped models'
CLASSICAL_DT = 1.0  # the time step of a classical stepper (the flows are scaled to it)

RANDOM_SEED = 7
CELLULAR_K = 2
VORTEX_WIDTH = 1 / 8  # of the domain length: the patch's Gaussian width
UNSTEADY_SEEDS = (11, 12, 13, 14)
UNSTEADY_PERIODS = (24, 40, 64, 96)  # steps
TRACER_SUBCELLS = 4  # sample points per fine cell along each axis


# --------------------------------------------------------------------------- flows
@dataclasses.dataclass(frozen=True)
class Flow:
    """A divergence-free flow ``psi(s) = sum_j weights(s)[j] * patterns[j]`` at unit amplitude.

    ``s`` is the time in steps of the run (the flow is the same in steps whatever the step ``dt``; its
    amplitude is set by the limits at that ``dt``).

    Attributes
    ----------
    name : str
        One of :data:`FLOWS`.
    patterns : tuple of callable
        ``(Y, X) -> psi`` on corner coordinates (numpy float64), one per basis field.
    weights : callable or None
        ``s -> (len(s), len(patterns))`` (numpy) for a time-dependent flow; ``None`` for a steady one.
    """

    name: str
    patterns: tuple[Callable, ...]
    weights: Callable | None = None

    @property
    def steady(self) -> bool:
        return self.weights is None

    def faces(self, grid: Grid) -> np.ndarray:
        """Face velocities of every pattern on ``grid``: ``(J, 2, y, x)`` float64, ``[:, 0]`` along y, ``[:, 1]`` along x."""
        corners = corner_mesh(grid)
        out = []
        for pattern in self.patterns:
            psi = np.asarray(pattern(*corners), np.float64)
            v, u = faces_from_streamfunction(psi, grid.spacing)
            out.append(np.stack([np.asarray(v, np.float64), np.asarray(u, np.float64)]))
        return np.stack(out)

    def weights_at(self, times: np.ndarray) -> np.ndarray:
        """The weights at ``times`` (in steps): ``(len(times), J)``; ones for a steady flow."""
        times = np.asarray(times, np.float64)
        if self.weights is None:
            return np.ones((times.size, 1))
        return np.asarray(self.weights(times), np.float64).reshape(times.size, len(self.patterns))

    def velocity(self, grid: Grid, n_steps: int, amplitude: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """``(y_velocity, x_velocity)`` as the run sees it, float64: ``(y, x)`` each for a steady flow, else
        ``(n_steps, y, x)`` at every step's midpoint."""
        faces = self.faces(grid)
        if self.steady:
            return amplitude * faces[0, 0], amplitude * faces[0, 1]
        w = amplitude * self.weights_at(np.arange(n_steps) + 0.5)
        return np.einsum("tj,jyx->tyx", w, faces[:, 0]), np.einsum("tj,jyx->tyx", w, faces[:, 1])


def make_flow(name: str, grid: Grid, n_steps: int) -> Flow:
    """The flow ``name`` (one of :data:`FLOWS`) on the square domain of ``grid``, at unit amplitude.

    Parameters
    ----------
    name : str
        Which flow.
    grid : Grid
        A 2-D grid on a square (the patterns are functions of the coordinates: any resolution of the domain).
    n_steps : int
        Steps of the run (the ``deformation`` flow reverses at half of them).

    Returns
    -------
    Flow

    Raises
    ------
    ValueError
        If ``name`` is unknown.
    """
    length = grid.length[0]
    w = 2 * np.pi / length
    if name == "random":
        return Flow(name, (random_sinusoidal_streamfunction(grid, RANDOM_SEED),))
    if name == "cellular":
        return Flow(name, (lambda Y, X: np.sin(CELLULAR_K * w * X) * np.sin(CELLULAR_K * w * Y),))
    if name == "shear":
        return Flow(name, (lambda Y, X: np.cos(w * Y) + 0 * X,))  # u = dpsi/dy = -w sin(w y)
    if name == "vortex":
        centre, width = length / 2, VORTEX_WIDTH * length

        def patch(Y, X):  # a periodic distance: r^2 ~ dx^2 + dy^2 near the centre
            r2 = (2 - np.cos(w * (X - centre)) - np.cos(w * (Y - centre))) * 2 / w**2
            return np.exp(-r2 / (2 * width**2))

        return Flow(name, (patch,))
    if name == "deformation":
        return Flow(
            name,
            (lambda Y, X: np.sin(w * X / 2) ** 2 * np.sin(w * Y / 2) ** 2,),
            lambda s: np.cos(np.pi * s / n_steps)[:, None],
        )
    if name == "unsteady":
        phases = 2 * np.pi * np.arange(len(UNSTEADY_SEEDS)) / len(UNSTEADY_SEEDS)
        periods = np.asarray(UNSTEADY_PERIODS, np.float64)
        return Flow(
            name,
            tuple(random_sinusoidal_streamfunction(grid, seed) for seed in UNSTEADY_SEEDS),
            lambda s: np.cos(2 * np.pi * s[:, None] / periods[None, :] + phases[None, :]),
        )
    raise ValueError(f"unknown flow {name!r}; choose from {', '.join(FLOWS)}")


def flow_numbers(
    flow: Flow, grid: Grid, dt: float, n_steps: int, amplitude: float = 1.0, sub: int = 1
) -> tuple[float, float]:
    """``(Courant number, deformation number)`` of ``flow`` at ``amplitude`` over the run: at every step's midpoint,
    or with ``sub`` steps of ``dt / sub`` per step, at every sub-step's (a block of steps at a time)."""
    faces = amplitude * flow.faces(grid)
    if flow.steady:
        velocity = (faces[0, 0], faces[0, 1])
        return max_courant(velocity, dt / sub, grid.spacing), deformation_number(velocity, dt / sub, grid.spacing)
    courant = deformation = 0.0
    times = (np.arange(n_steps * sub) + 0.5) / sub
    block = max(1, 2**20 // faces[0, 0].size)
    for start in range(0, times.size, block):
        w = flow.weights_at(times[start : start + block])
        velocity = tuple(np.einsum("tj,jyx->tyx", w, faces[:, a]) for a in range(2))
        courant = max(courant, max_courant(velocity, dt / sub, grid.spacing))
        deformation = max(deformation, deformation_number(velocity, dt / sub, grid.spacing))
    return courant, deformation


def amplitude_at(
    flow: Flow, grid: Grid, dt: float, n_steps: int, courant: float, deformation: float | None = None
) -> float:
    """The amplitude that puts ``flow``'s Courant number at ``courant`` -- or, where that would put its deformation
    number above ``deformation``, the deformation number at ``deformation`` (less :data:`AT_LIMIT` round-off).

    Parameters
    ----------
    flow : Flow
        The flow at unit amplitude.
    grid : Grid
        The grid of the run.
    dt : float
        The time step of the run.
    n_steps : int
        Steps of the run.
    courant : float
        The Courant number to reach.
    deformation : float or None
        The deformation number not to exceed (``None``: no cap).

    Returns
    -------
    float
    """
    c1, d1 = flow_numbers(flow, grid, dt, n_steps)
    amplitude = courant / c1
    if deformation is not None and d1 > 0:
        amplitude = min(amplitude, deformation / d1)
    return amplitude * AT_LIMIT


# --------------------------------------------------------------------------- limits of a stepper
def stable_courant(stepper) -> float:
    """The ``stable_courant`` of the time-stepping scheme inside ``stepper`` (through wrappers and a correction's
    base), 1 when none declares one."""
    part = stepper
    for _ in range(32):
        value = getattr(part, "stable_courant", None)
        if value is not None:
            return float(value)
        part = getattr(part, "stepper", None) or getattr(part, "base", None)
        if part is None:
            break
    return 1.0


def target_courant(stepper, fraction: float = 1.0) -> float:
    """The Courant number a stress run of ``stepper`` is scaled to: ``max_courant`` above 1, else
    ``min(1, stable_courant)``; times ``fraction``."""
    limit = stepper.max_courant if stepper.max_courant > 1 else min(1.0, stable_courant(stepper))
    return float(limit) * fraction


# --------------------------------------------------------------------------- tracers
def _cell_values(name: str, grid: Grid, coarse_spacing: float) -> np.ndarray:
    """Tracer ``name`` at the cell centres of ``grid``, float64 in [0, 1]."""
    length = grid.length[0]
    w = 2 * np.pi / length
    Y, X = grid.mesh()
    if name == "smooth":
        return 0.5 + 0.5 * np.sin(w * X) * np.sin(w * Y)
    if name == "blobs":
        return gaussian_blobs(grid, seed=0, width=0.5 / w)
    if name == "block":  # eight cells a side on 32^2, edges on cell faces of 16^2 and 32^2
        inside = (Y >= 10 / 32 * length) & (Y < 18 / 32 * length) & (X >= 6 / 32 * length) & (X < 14 / 32 * length)
        return inside.astype(np.float64)
    if name == "filaments":  # strips 1, 2 and 1.5 cells of the coarse grid wide
        h = coarse_spacing
        strips = (
            ((Y >= length / 8) & (Y < length / 8 + h))
            | ((Y >= 5 * length / 8) & (Y < 5 * length / 8 + 2 * h))
            | ((X >= 3 * length / 8) & (X < 3 * length / 8 + 1.5 * h))
        )
        return strips.astype(np.float64)
    raise ValueError(f"unknown tracer {name!r}; choose from {', '.join(TRACERS)}")


def initial_tracers(names: Sequence[str], grid: Grid, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """``(coarse, fine)`` initial states of the tracers ``names``: cell means on ``grid`` refined by ``factor``
    (from :data:`TRACER_SUBCELLS` points a side per fine cell) and their block means on ``grid``.

    Parameters
    ----------
    names : sequence of str
        Tracers of :data:`TRACERS`.
    grid : Grid
        The grid of the run.
    factor : int
        The reference's resolution factor.

    Returns
    -------
    tuple of numpy.ndarray
        ``(len(names), *grid.shape)`` and ``(len(names), *fine shape)``, float64, values in ``[0, 1]``.
    """
    points = grid.refine(factor * TRACER_SUBCELLS)
    fine = np.stack(
        [
            np.asarray(coarsen_concentration(jnp.asarray(_cell_values(n, points, grid.spacing[0])), TRACER_SUBCELLS, 2))
            for n in names
        ]
    ).astype(np.float64)
    fine = np.clip(fine, 0.0, 1.0)  # round-off of the means
    return np.asarray(coarsen_concentration(jnp.asarray(fine), factor, 2), np.float64), fine


# --------------------------------------------------------------------------- runs
@eqx.filter_jit
def _trajectories(stepper, c0, faces, weights, dt, spacing, n_steps, save_every, factor):
    """States of every tracer of ``c0`` every ``save_every`` steps, block-averaged by ``factor`` (1: as they are).

    ``faces``: ``(J, 2, y, x)``; ``weights``: ``(n_steps, J)`` per step (``None``: the steady flow ``faces[0]``).
    """
    post = None if factor == 1 else (lambda c: coarsen_concentration(c, factor, 2))
    if weights is None:
        velocity, to_faces = (faces[0, 0], faces[0, 1]), None
    else:
        velocity = weights

        def to_faces(w):
            return jnp.tensordot(w, faces[:, 0], axes=1), jnp.tensordot(w, faces[:, 1], axes=1)

    def one(c):
        return rollout(stepper, c, velocity, dt, spacing, n_steps, save_every, post=post, velocity_map=to_faces)

    return jax.vmap(one)(c0)


def _run(
    stepper, c0, flow: Flow, grid: Grid, dt: float, n_steps: int, amplitude: float, save_every: int, sub=1, factor=1
):
    """:func:`_trajectories` of ``stepper`` in ``flow`` at ``amplitude`` on ``grid``, ``sub`` steps per step of ``dt``."""
    dtype = jnp.result_type(float)
    faces = jnp.asarray(amplitude * flow.faces(grid), dtype)
    weights = None
    if not flow.steady:
        weights = jnp.asarray(flow.weights_at((np.arange(n_steps * sub) + 0.5) / sub), dtype)
    out = _trajectories(
        stepper,
        jnp.asarray(c0, dtype),
        faces,
        weights,
        float(dt) / sub,
        tuple(grid.spacing),
        n_steps * sub,
        save_every,
        factor,
    )
    return np.asarray(out)


def reference_states(
    flow: Flow, amplitude: float, c_fine: np.ndarray, grid: Grid, dt: float, n_steps: int, factor: int, every: int
) -> np.ndarray:
    """The reference every ``every`` steps: :data:`REFERENCE_SCHEME` on ``grid`` refined by ``factor`` with sub-steps
    of Courant number at most :data:`REFERENCE_COURANT`, coarse-grained to ``grid``: ``(tracers, saved, *grid.shape)``."""
    fine = grid.refine(factor)
    courant, _ = flow_numbers(flow, fine, dt, n_steps, amplitude)
    sub = max(1, math.ceil(courant / REFERENCE_COURANT - 1e-9))
    while flow_numbers(flow, fine, dt, n_steps, amplitude, sub)[0] > REFERENCE_COURANT:  # sub-step midpoints
        sub += 1
    return _run(
        scheme(REFERENCE_SCHEME), c_fine, flow, fine, dt, n_steps, amplitude, every * sub, sub=sub, factor=factor
    )


def early_step(n_steps: int) -> int | None:
    """:data:`EARLY` when the run is longer and a multiple of it (its error is reported too), else ``None``."""
    return EARLY if n_steps > EARLY and n_steps % EARLY == 0 else None


def _save_every(n_steps: int) -> int:
    """The smallest divisor of ``n_steps`` that saves at most :data:`MAX_SAVED` states."""
    for k in range(max(1, math.ceil(n_steps / MAX_SAVED)), n_steps + 1):
        if n_steps % k == 0:
            return k
    return max(1, n_steps)


def blow_up(frames: np.ndarray, save_every: int, describe: str) -> tuple[int | None, str]:
    """The first saved state that :class:`~learned_advection.transport.guard.BlowUpGuard` refuses, as
    ``(step, reason)``; ``(None, "")`` when none.

    Parameters
    ----------
    frames : numpy.ndarray
        States ``(saved, *space)`` of one tracer, the initial one first, every ``save_every`` steps.
    save_every : int
        Steps between two saved states.
    describe : str
        The run, for the guard's message.
    """
    guard = BlowUpGuard(frames[0], 2, np.float32, bounded=True, describe=describe)
    try:
        guard.check(frames, 0, save_every)
        return None, ""
    except UserError:
        pass
    for i in range(len(frames)):
        try:
            guard.check(frames[i : i + 1], i, save_every)
        except UserError as e:
            reason = str(e).split(" by step ")[0].removeprefix("the run blew up: ")
            return i * save_every, reason
    return None, ""  # pragma: no cover - the whole run failed, so one state does


def run_flow(
    stepper: Stepper,
    flow: Flow,
    tracers: Sequence[str],
    grid: Grid,
    dt: float,
    n_steps: int,
    amplitude: float,
    *,
    factor: int | None = DEFAULT_FACTOR,
    check: bool = True,
    label: str = "",
    references: dict | None = None,
    baseline: Stepper | None = None,
) -> list[dict]:
    """One stepper in one flow at ``amplitude``, every tracer at once: a row per tracer.

    Parameters
    ----------
    stepper : Stepper
        The step under test.
    flow : Flow
        The flow at unit amplitude (:func:`make_flow`).
    tracers : sequence of str
        Tracers of :data:`TRACERS`.
    grid : Grid
        The grid of the run.
    dt : float
        The time step.
    n_steps : int
        Steps of the run.
    amplitude : float
        The flow's amplitude (:func:`amplitude_at`).
    factor : int or None, default DEFAULT_FACTOR
        The reference's resolution factor; ``None``: no reference (``mae`` is ``None``).
    check : bool, default True
        Refuse (:func:`~learned_advection.numerics.limits.check_limits`) a flow beyond the stepper's limits;
        ``False`` runs it anyway (to measure a blow-up).
    label : str
        The stepper's name in the rows.
    references : dict, optional
        A cache of reference states, shared by the calls of one suite.
    baseline : Stepper, optional
        A classical step to run in the same cases, for comparison (``ppm_mae``: :func:`stress_suite` runs the
        bounded PPM step at the stepper's Courant number); ``None``: none (``ppm_mae`` is ``None``).

    Returns
    -------
    list of dict
        ``stepper``, ``flow``, ``tracer``, ``courant``, ``deformation``; ``early_mae`` and ``mae`` (at step
        :data:`EARLY` and at the end; ``None`` without a reference, or a run not longer than :data:`EARLY` or not
        a multiple of it), ``ppm_early_mae`` and ``ppm_mae`` (the baseline's); ``blew_up_at`` (a step or ``None``),
        ``reason``, ``min``, ``max`` (over the saved states), ``mass_change`` (relative to ``sum |c0|``, at the end).

    Raises
    ------
    UserError
        ``check`` and a flow beyond the stepper's limits.
    """
    velocity = flow.velocity(grid, n_steps, amplitude)
    courant = max_courant(velocity, dt, grid.spacing)
    deformation = deformation_number(velocity, dt, grid.spacing)
    if check:
        check_limits(stepper, velocity, dt, grid.spacing, what=f"in the {flow.name} flow")
    del velocity
    coarse, fine = initial_tracers(tracers, grid, factor or 1)
    save_every = _save_every(n_steps)
    frames = _run(stepper, coarse, flow, grid, dt, n_steps, amplitude, save_every)
    early = early_step(n_steps)
    every = early or n_steps  # the reference and the baseline are saved at the early step and the end
    if early is not None and early % save_every:
        early = None  # the saved states miss it
    reference = None
    if factor is not None:
        key = (flow.name, amplitude, factor, tuple(tracers), grid.shape, dt, n_steps)
        references = {} if references is None else references
        if key not in references:
            references[key] = reference_states(flow, amplitude, fine, grid, dt, n_steps, factor, every)
        reference = references[key]
    ppm = None
    if baseline is not None:
        ppm = _run(baseline, coarse, flow, grid, dt, n_steps, amplitude, every)

    def mae(states, i, at_early):
        if reference is None or states is None or (at_early and early is None):
            return None
        return float(mae_per_sample(states[1 if at_early else -1], reference[i][1 if at_early else -1]))

    rows = []
    for i, name in enumerate(tracers):
        states = frames[i]
        step, reason = blow_up(states, save_every, f"{label or stepper.name}, {flow.name} flow, {name} tracer")
        with np.errstate(invalid="ignore", over="ignore"):
            final = states[-1]
            rows.append(
                {
                    "stepper": label or stepper.name,
                    "flow": flow.name,
                    "tracer": name,
                    "courant": courant,
                    "deformation": deformation,
                    "early_mae": None if early is None else mae(states[:: early // save_every], i, True),
                    "mae": mae(states, i, False),
                    "ppm_early_mae": None if ppm is None else mae(ppm[i], i, True),
                    "ppm_mae": None if ppm is None else mae(ppm[i], i, False),
                    "blew_up_at": step,
                    "reason": reason,
                    "min": float(np.min(states)),
                    "max": float(np.max(states)),
                    "mass_change": float(mass_change(final.astype(np.float64), coarse[i])),
                }
            )
    return rows


def beyond_limits(stepper: Stepper, flow: Flow, grid: Grid, dt: float, n_steps: int, label: str = "") -> dict:
    """``flow`` at :data:`BEYOND` times the stepper's declared limits (Courant number, deformation number where
    declared: the one that binds) and what :func:`~learned_advection.numerics.limits.check_limits` says of it.

    Returns
    -------
    dict
        ``stepper``, ``flow``, ``courant``, ``deformation``, ``refused`` (bool), ``message`` (the one line, or
        ``""``), ``substeps`` (:func:`~learned_advection.numerics.limits.substeps_needed`).
    """
    most = stepper.max_deformation
    amplitude = amplitude_at(
        flow, grid, dt, n_steps, BEYOND * target_courant(stepper), None if most is None else BEYOND * most
    )
    velocity = flow.velocity(grid, n_steps, amplitude)
    try:
        check_limits(stepper, velocity, dt, grid.spacing, what=f"in the {flow.name} flow")
        refused, message = False, ""
    except UserError as e:
        refused, message = True, str(e)
    return {
        "stepper": label or stepper.name,
        "flow": flow.name,
        "courant": max_courant(velocity, dt, grid.spacing),
        "deformation": deformation_number(velocity, dt, grid.spacing),
        "refused": refused,
        "message": message,
        "substeps": substeps_needed(stepper, velocity, dt, grid.spacing),
    }


# --------------------------------------------------------------------------- the suite
@dataclasses.dataclass(frozen=True)
class Target:
    """What a stress run tests: its steppers by label, the grid and time step they run at, and a description."""

    steppers: dict
    grid: Grid
    dt: float
    description: str


_CLASSICAL = re.compile(r"^(?P<name>[a-z0-9]+?)(?:-(?P<n>\d+))?(?:-k(?P<k>\d+))?(?P<unbounded>-unbounded)?$")


def _exists(text: str) -> bool:
    """Whether ``text`` names an existing path (a name the system cannot take is none)."""
    try:
        return Path(text).exists()
    except (OSError, ValueError):
        return False


def load_target(target: str, variants: str | None = None) -> Target:
    """The steppers of ``target``: a learned model (``pretrained``, ``pretrained:NAME`` or a checkpoint folder)
    in each of ``variants``, or a classical step spelled as in ``cost turbulence-2d``, ``NAME[-N][-kK][-unbounded]``.

    A classical ``NAME-kK`` is the scheme at ``K`` times its Courant-0.5 step, i.e. for Courant numbers up to
    ``K / 2`` (``ppm-k8``: PPM's bounded large step at Courant 4; ``-unbounded``: without FCT), on ``N``² cells of
    [0, 2 pi]² (default :data:`N`), with ``dt =`` :data:`CLASSICAL_DT`.  A learned model runs on its own grid and
    trained time step; a variant is ``plain`` (as trained) or a value of the model's ``limiter`` option
    (:func:`~learned_advection.learned.models.with_options`).

    Raises
    ------
    UserError
        One line: a target that is neither, a bad variant, or variants given for a classical step.
    """
    text = str(target).strip()
    match = _CLASSICAL.match(text)
    if match and match["name"] in SCHEMES and not _exists(text):
        if variants is not None:
            raise UserError(f"--variants applies to learned models, not to the classical step {text!r}")
        n = int(match["n"] or N)
        k = int(match["k"] or 2)
        if not 4 <= n <= 1024 or n % 2:
            raise UserError(f"grid size in {text!r} must be even, from 4 to 1024, got {n}")
        if not 1 <= k <= 16:
            raise UserError(f"step multiple k in {text!r} must be from 1 to 16 (Courant numbers up to 8), got {k}")
        bounded = match["unbounded"] is None
        if bounded is False and k <= 2:
            raise UserError(f"{text!r}: -unbounded names a large step (k above 2, Courant numbers above 1)")
        try:
            stepper = scheme(match["name"], k / 2, bounded=bounded)
        except ValueError as e:
            raise UserError(f"{text!r}: {e}") from None
        grid = Grid.square(n, 2 * np.pi)
        return Target(
            {text: stepper}, grid, CLASSICAL_DT, f"{text}: {stepper.name}, {n}² of [0, 2 pi]², dt = {CLASSICAL_DT:g}"
        )
    if not (text == "pretrained" or text.startswith("pretrained:") or _exists(text)):
        raise UserError(
            f"unknown target {text!r}: give pretrained:NAME, a checkpoint folder, or a classical step "
            f"NAME[-N][-kK][-unbounded] with NAME one of {', '.join(SCHEMES)} (e.g. ppm-k8, ppm-k8-unbounded)"
        )
    from learned_advection.learned.checkpoint import grid_of, load_stepper, read_config
    from learned_advection.learned.models import parse_variants, variant_model

    folder, config = read_config(text)
    grid = grid_of(config, folder)
    if grid.ndim != 2:
        raise UserError(f"model {folder} is {grid.ndim}-D; the stress suite runs 2-D models")
    model = load_stepper(text, grid)
    steppers = {}
    for name in parse_variants("plain" if variants is None else variants):
        try:
            suffix, stepper = variant_model(model, name)
        except ValueError as e:  # a variant this model cannot take (the safeguard of a model without a correction)
            raise UserError(f"variant {name!r} of {text!r}: {e}") from None
        steppers[f"plain ({suffix[1:]})" if name == "plain" and suffix else name] = stepper
    return Target(steppers, grid, float(model.trained_dt), f"{text}: {grid.shape[0]}², dt = {model.trained_dt:g}")


def stress_suite(
    steppers: dict,
    grid: Grid,
    dt: float,
    *,
    flows: Sequence[str] = FLOWS,
    tracers: Sequence[str] = TRACERS,
    n_steps: int = DEFAULT_STEPS,
    factor: int = DEFAULT_FACTOR,
    courant_fraction: float = 1.0,
    baseline: bool = True,
    progress: bool = True,
) -> dict:
    """Every stepper on every flow and tracer at its declared limits, and every flow beyond them.

    Parameters
    ----------
    steppers : dict of str to Stepper
        The steppers by label (:func:`load_target`).
    grid : Grid
        The grid of the runs (2-D, square).
    dt : float
        The time step (a learned model's trained one).
    flows, tracers : sequence of str
        Names of :data:`FLOWS` and :data:`TRACERS`.
    n_steps : int, default DEFAULT_STEPS
        Steps of every run.
    factor : int, default DEFAULT_FACTOR
        The reference's resolution factor.
    courant_fraction : float, default 1.0
        The runs' Courant number as a fraction of each stepper's (:func:`target_courant`), in (0, 1].
    baseline : bool, default True
        Also run the bounded PPM step of each case (``ppm_mae``).
    progress : bool, default True
        Show a progress bar (stderr).

    Returns
    -------
    dict
        ``settings``; ``cases`` (the rows of :func:`run_flow`); ``beyond`` (:func:`beyond_limits` of each
        stepper and flow); ``limits`` (each stepper's ``max_courant``, ``max_deformation``, target Courant number).

    Raises
    ------
    UserError
        A bad option (one line).
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or not 1 <= n_steps <= MAX_STEPS:
        raise UserError(f"--steps must be an integer from 1 to {MAX_STEPS}, got {n_steps!r}")
    if isinstance(factor, bool) or not isinstance(factor, int) or not 2 <= factor <= MAX_FACTOR:
        raise UserError(f"the reference factor must be an integer from 2 to {MAX_FACTOR}, got {factor!r}")
    if not (isinstance(courant_fraction, (int, float)) and 0 < courant_fraction <= 1):
        raise UserError(f"--courant-fraction must be in (0, 1], got {courant_fraction!r}")
    if grid.ndim != 2 or grid.shape[0] != grid.shape[1] or not math.isclose(grid.length[0], grid.length[1]):
        raise UserError(f"the stress suite runs on a square 2-D grid, got {grid.shape}")
    flows, tracers = list(flows), list(tracers)
    for name in flows:
        if name not in FLOWS:
            raise UserError(f"unknown flow {name!r}; choose from {', '.join(FLOWS)}")
    for name in tracers:
        if name not in TRACERS:
            raise UserError(f"unknown tracer {name!r}; choose from {', '.join(TRACERS)}")
    cases, beyond, limits, references = [], [], {}, {}
    bar = progress_bar(total=len(steppers) * len(flows), desc="stress", unit="flow", enabled=progress)
    with bar:
        for label, stepper in steppers.items():
            target = target_courant(stepper, courant_fraction)
            most = stepper.max_deformation
            limits[label] = {"max_courant": stepper.max_courant, "max_deformation": most, "courant": target}
            ppm = scheme("ppm", target) if baseline else None  # bounded above Courant 1
            for name in flows:
                bar.set_postfix_str(f"{label}, {name}")
                flow = make_flow(name, grid, n_steps)
                amplitude = amplitude_at(flow, grid, dt, n_steps, target, most)
                cases += run_flow(
                    stepper,
                    flow,
                    tracers,
                    grid,
                    dt,
                    n_steps,
                    amplitude,
                    factor=factor,
                    label=label,
                    references=references,
                    baseline=ppm,
                )
                beyond.append(beyond_limits(stepper, flow, grid, dt, n_steps, label))
                bar.update(1)
    settings = {
        "grid": list(grid.shape),
        "length": grid.length[0],
        "dt": dt,
        "steps": n_steps,
        "factor": factor,
        "reference": f"{REFERENCE_SCHEME} at {grid.shape[0] * factor}², Courant <= {REFERENCE_COURANT:g}",
        "early_step": early_step(n_steps),
        "courant_fraction": courant_fraction,
        "flows": flows,
        "tracers": tracers,
    }
    return {"settings": settings, "limits": limits, "cases": cases, "beyond": beyond}


# --------------------------------------------------------------------------- reporting
def _g(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def summary(result: dict) -> str:
    """``N cases, B blow-ups, R refusals beyond limits (of M checks)``."""
    blown = sum(r["blew_up_at"] is not None for r in result["cases"])
    refused = sum(b["refused"] for b in result["beyond"])
    return (
        f"{len(result['cases'])} cases, {blown} blow-ups, {refused} refusals beyond limits "
        f"(of {len(result['beyond'])} checks)"
    )


def format_table(result: dict) -> str:
    """Markdown: a row per case, the checks beyond the limits, the blow-ups spelled out and :func:`summary`."""
    s = result["settings"]
    early = s.get("early_step") or EARLY
    lines = [
        f"Stress suite: {s['grid'][0]}² of [0, {s['length']:.4g}]², dt = {s['dt']:g}, {s['steps']} steps, "
        f"reference {s['reference']}, Courant fraction {s['courant_fraction']:g}.",
        "",
        "| stepper | max Courant | max deformation | runs at Courant |",
        "|---|---|---|---|",
    ]
    for label, lim in result["limits"].items():
        lines.append(f"| {label} | {lim['max_courant']} | {_g(lim['max_deformation'])} | {lim['courant']:.4g} |")
    lines += [
        "",
        f"| stepper | flow | tracer | Courant | D | MAE@{early} | MAE@{s['steps']} | PPM MAE@{early} | "
        f"PPM MAE@{s['steps']} | blew up at | min | max | mass change |",
        "|---" * 13 + "|",
    ]
    for r in result["cases"]:
        blown = "-" if r["blew_up_at"] is None else f"**step {r['blew_up_at']}**"
        lines.append(
            f"| {r['stepper']} | {r['flow']} | {r['tracer']} | {r['courant']:.3f} | {r['deformation']:.3f} | "
            f"{_g(r['early_mae'])} | {_g(r['mae'])} | {_g(r['ppm_early_mae'])} | {_g(r['ppm_mae'])} | {blown} | "
            f"{_g(r['min'])} | {_g(r['max'])} | {r['mass_change']:.1e} |"
        )
    lines += [
        "",
        f"Beyond the limits ({BEYOND:g} times the flow at its limits):",
        "",
        "| stepper | flow | Courant | D | refused | sub-steps needed | message |",
        "|---|---|---|---|---|---|---|",
    ]
    for b in result["beyond"]:
        message = b["message"].replace("|", "\\|") or "-"
        lines.append(
            f"| {b['stepper']} | {b['flow']} | {b['courant']:.3f} | {b['deformation']:.3f} | "
            f"{'yes' if b['refused'] else '**no**'} | {b['substeps']} | {message} |"
        )
    blown = [r for r in result["cases"] if r["blew_up_at"] is not None]
    if blown:
        lines += ["", "BLOW-UPS within the declared limits:", ""]
        lines += [
            f"* {r['stepper']}, {r['flow']} flow, {r['tracer']} tracer: {r['reason']} by step {r['blew_up_at']} "
            f"(Courant {r['courant']:.3f}, D {r['deformation']:.3f})"
            for r in blown
        ]
    return "\n".join(lines + ["", summary(result)]) + "\n"


def to_csv(result: dict) -> str:
    """The rows of ``result["cases"]`` as CSV (a header line first)."""
    fields = ["stepper", "flow", "tracer", "courant", "deformation", "early_mae", "mae", "ppm_early_mae", "ppm_mae"]
    fields += ["blew_up_at", "reason"]
    fields += ["min", "max", "mass_change"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for r in result["cases"]:
        writer.writerow({k: ("" if r[k] is None else r[k]) for k in fields})
    return out.getvalue()


OUTPUTS = ("stress.json", "stress.csv", "stress.md")


def write_outputs(out, result: dict) -> list[Path]:
    """Write ``stress.json`` (everything), ``stress.csv`` (the cases) and ``stress.md`` (:func:`format_table`) to
    the folder ``out`` (created); returns their paths."""
    from learned_advection.files import write_json_atomic, write_text_atomic

    out = Path(out)
    clean = jax.tree_util.tree_map(lambda v: None if isinstance(v, float) and not math.isfinite(v) else v, result)
    return [
        write_json_atomic(out / "stress.json", clean),
        write_text_atomic(out / "stress.csv", to_csv(result)),
        write_text_atomic(out / "stress.md", format_table(result)),
    ]
