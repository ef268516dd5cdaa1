"""Run a scheme on a :class:`~learned_advection.data.netcdf.Problem` (the library side of ``simulate``).

Everything a user can get wrong is checked by :func:`plan` before any computation, and reported as
:class:`~learned_advection.errors.UserError`; :func:`check_resources` refuses a run whose output or
working memory cannot fit.  A run is computed in chunks (:func:`stream`): each a call of one compiled
loop over a few saved frames (or over part of the steps between two saved frames), short enough that
Ctrl-C takes effect within a fraction of a second, with the state carried from chunk to chunk.
:func:`simulate_to_file` appends every chunk's frames to the output file as they come, so memory
holds about one state plus one chunk however many frames are saved.

Many tracers: a problem whose ``concentration`` has a leading tracer axis (every tracer of the input
file) is advected by the same flow in one compiled step, the stepper mapped over the tracers with
``jax.vmap`` (velocity-only work, such as Courant numbers, is done once for all).  That is also the
way in the Python API: steppers are unbatched, so ``jax.vmap(lambda c: rollout(step, c, velocity,
dt, spacing, n))(tracers)`` advects a stack of tracers with one flow.

Velocities at their own times (``velocity_time`` in the input): each step uses the velocity
interpolated linearly in time to its midpoint ``t + dt/2`` (:func:`interpolation_weights`,
:func:`blend`); a chunk gets the few velocity fields its steps use and per-step indices and weights,
and the blend happens inside the compiled loop, so no field per step is ever stored.  A linear
combination of discretely divergence-free face velocities is discretely divergence-free.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from learned_advection.errors import UserError
from learned_advection.files import available_memory, check_free_space, format_bytes, interrupts_at_checkpoints
from learned_advection.progress import progress_bar
from learned_advection.numerics.grids import dt_from_cfl, max_courant
from learned_advection.data import netcdf as io
from learned_advection.data.netcdf import Problem
from learned_advection.numerics.limiters import for_courant
from learned_advection.numerics.steppers import SCHEMES, Stepper, get_scheme

# A Courant number this close above 1 (round-off from dt = dx / max|u|) is accepted.
COURANT_SLACK = 1e-9
# The largest --steps: step indices and times stay exact integers in float64.
MAX_STEPS = 2**53
# Chunks: the wall time one chunk aims at (the longest a Ctrl-C waits), the cells x steps of the first
# chunks (before any timing), the bytes of saved frames (and of time-dependent velocity) one chunk
# holds, and the most steps of one chunk (the compiled loop counts in int32).
CHUNK_SECONDS = 0.1
FIRST_CHUNK_CELL_STEPS = 2**16
CHUNK_BYTES = 4 * 2**20
MAX_CHUNK_STEPS = 2**30
# Velocity interpolated in time: the most steps of one chunk (their frame indices and weights are
# passed to the compiled loop), and the slack, relative to the times, by which the steps' midpoints
# may fall outside the velocity's times (round-off) before a run is refused.
INTERPOLATED_CHUNK_STEPS = 2**16
SPAN_SLACK = 1e-9
# Rough working memory of a classical run, in states (face values, fluxes, temporaries, copies): a run of
# Van Leer or PPM at 2048^2 measured 30-36 states of resident memory above one at 256^2, input included.
WORKSPACE_STATES = 32


@dataclasses.dataclass(frozen=True)
class Plan:
    """A validated run: time step, step counts and the resulting Courant number."""

    dt: float
    n_steps: int
    save_every: int
    courant: float

    @property
    def n_frames(self) -> int:
        """Number of saved states, the initial state included."""
        return self.n_steps // self.save_every + 1

    @property
    def times(self) -> np.ndarray:
        """Physical times of the saved states (initial state first)."""
        return self.frame_times(0, self.n_frames)

    def frame_times(self, first: int, count: int) -> np.ndarray:
        """Physical times of the saved states ``first, ..., first + count - 1`` (0 is the initial state)."""
        return self.dt * (np.arange(first, first + count, dtype=np.float64) * float(self.save_every))


@dataclasses.dataclass(frozen=True)
class SimulationResult:
    """What ``simulate`` computed: the saved states of one run (its trajectory), their times and the plan."""

    states: np.ndarray  # (n_saved, *grid.shape), initial state first
    times: np.ndarray
    plan: Plan


def used_velocity(problem: Problem, n_steps: int, dt: float | None = None) -> tuple[np.ndarray, ...]:
    """The velocity fields a run of ``n_steps`` uses (the first ``n_steps`` of a series of one per step).

    A velocity at its own times (``problem.interpolated``): the fields around the midpoints of the
    steps of ``dt`` (every field when ``dt`` is not known yet); the run is checked to lie within them
    by :func:`check_velocity_span`.
    """
    if problem.interpolated:
        if dt is None:
            return problem.velocity
        k, _ = interpolation_weights(problem.velocity_times, [0.5 * dt, (n_steps - 0.5) * dt])  # first, last
        return tuple(u[k[0] : k[1] + 2] for u in problem.velocity)
    if problem.time_dependent:
        return tuple(u[:n_steps] for u in problem.velocity)
    return problem.velocity


def step_midpoints(first: int, count: int, dt: float) -> np.ndarray:
    """The midpoints ``(n + 1/2) dt`` of steps ``n = first, ..., first + count - 1`` (float64, from t = 0)."""
    return (np.arange(first, first + count, dtype=np.float64) + 0.5) * dt


def interpolation_weights(times, t) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation in time: for each ``t``, the index ``k`` of the field at or before it and
    the weight ``w`` of the next one, so that the velocity at ``t`` is ``(1 - w) u[k] + w u[k + 1]``
    (:func:`blend`).  ``times`` are strictly increasing (at least two); ``k`` is clipped so that
    ``k + 1`` exists and ``w`` to [0, 1] (a ``t`` outside the times takes the nearest field)."""
    times = np.asarray(times, np.float64)
    t = np.asarray(t, np.float64)
    k = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    w = np.clip((t - times[k]) / (times[k + 1] - times[k]), 0.0, 1.0)
    return k, w


def blend(frames, index, weight) -> tuple:
    """``(1 - weight) frames[index] + weight frames[index + 1]`` for each velocity component (jax,
    traceable: ``index`` and ``weight`` may be traced scalars).  Linear in the fields, so discretely
    divergence-free C-grid face velocities blend into a discretely divergence-free one."""
    def at(u, i):
        return jax.lax.dynamic_index_in_dim(u, i, keepdims=False)

    return tuple((1 - weight) * at(u, index) + weight * at(u, index + 1) for u in frames)


def check_velocity_span(problem: Problem, n_steps: int, dt: float) -> None:
    """Refuse (one line) a run whose steps' midpoints fall outside the times of a velocity given at its own times."""
    if not problem.interpolated:
        return
    times = problem.velocity_times
    first, last = 0.5 * dt, (n_steps - 0.5) * dt
    slack = SPAN_SLACK * max(abs(float(times[0])), abs(float(times[-1])), abs(last))
    if first < times[0] - slack or last > times[-1] + slack:
        raise UserError(
            f"the velocity is given from velocity_time {times[0]:.6g} to {times[-1]:.6g} but the run needs it from "
            f"{first:.6g} to {last:.6g} (the midpoints of its {n_steps} steps of dt = {dt:.6g} from t = 0); "
            "give fewer --steps or velocities that cover the run"
        )


def axis_speeds(velocity) -> list[float]:
    """Largest ``|u|`` per axis over all fields (and times) given."""
    return [float(np.max(np.abs(u))) for u in velocity]


# Headroom of the schemes' arithmetic in the run's dtype: a concentration up to the dtype's largest
# number / HEADROOM (neighbour differences times Courant numbers, a few of them summed, and an
# overshoot of the 2-D splitting must stay finite).  The run itself works on the concentration
# divided by a power of two (:func:`concentration_scale`), so products of differences (PPM's limiter)
# neither overflow nor underflow at any magnitude.
HEADROOM = 2.0**10


def max_concentration(dtype) -> float:
    """The largest ``|concentration|`` a run in ``dtype`` accepts (:data:`HEADROOM` below the largest number)."""
    return float(np.finfo(dtype).max) / HEADROOM


def concentration_scale(c) -> float:
    """The power of two ``2**k`` that brings ``max |c|`` into ``[0.5, 1)`` (1 for a zero field).

    Every scheme here is positively homogeneous (``H(a c) = a H(c)`` for ``a > 0``: the classical
    limiters use only sums, differences, min/max and products with Courant numbers; the learned model
    sees ``c`` rescaled to [0, 1] and applies its coefficients to ``c``), and scaling by a power of two
    is exact in floating point.  So a run on ``c / 2**k``, scaled back, gives the same numbers as a run
    on ``c`` wherever that run neither overflows nor underflows -- and stays accurate where it would
    (e.g. PPM on a field of 1e-19 in float32, whose squared differences would be flushed to zero).
    """
    largest = float(np.max(np.abs(c))) if np.size(c) else 0.0
    if not largest > 0 or not math.isfinite(largest):
        return 1.0
    return math.ldexp(1.0, math.frexp(largest)[1])


def check_arithmetic(problem: Problem, velocity, dt: float, scheme: str | None = None, dtype=None) -> None:
    """Refuse a run whose arithmetic in ``dtype`` would overflow or underflow (one-line :class:`UserError`).

    ``dt / dx`` (the factor of every Courant number) must be representable: above the dtype's largest
    number it is Inf (and ``0 * Inf`` NaN), below its smallest normal number it is flushed to zero
    and nothing moves.  The concentration (and, for the learned scheme, whose network sees raw
    velocities, the velocity) must stay within :func:`max_concentration`.  ``dtype`` defaults to the
    dtype :func:`simulate` computes in.
    """
    dtype = np.dtype(jnp.result_type(float) if dtype is None else dtype)
    info = np.finfo(dtype)
    biggest, tiny = float(info.max), float(info.tiny)
    hint = "; use --x64 to compute in float64" if dtype == np.float32 else ""
    remedy = "rescale the input or use --x64 (float64)" if dtype == np.float32 else "rescale the input"
    axes = ("x",) if problem.grid.ndim == 1 else ("y", "x")
    for u, d, axis in zip(velocity, problem.grid.spacing, axes):
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            factor = float(np.float64(dt) / np.float64(d))
        if not factor <= biggest:
            raise UserError(f"dt / d{axis} = {factor:.3g} is beyond the {dtype} range (largest {biggest:.3g}){hint}")
        if factor < tiny and np.any(np.asarray(u) != 0):
            raise UserError(
                f"dt / d{axis} = {factor:.3g} is below the {dtype} range (smallest normal {tiny:.3g}): the "
                f"Courant numbers would be flushed to zero and nothing would move{hint}"
            )
    limit = max_concentration(dtype)
    fields = list(_tracer_fields(problem))
    if scheme == "learned":
        fields += [(f"{a} velocity", u) for a, u in zip(axes, velocity)]
    for what, values in fields:
        largest = float(np.max(np.abs(values))) if np.size(values) else 0.0
        if largest > limit:
            name = f" for {scheme}" if scheme else ""
            raise UserError(
                f"the {what} reaches {largest:.3g}, more than {limit:.3g}, the most{name} in {dtype} without "
                f"overflow in the scheme's arithmetic; {remedy}"
            )


def _tracer_fields(problem: Problem):
    """``(description, values)`` of each tracer (``concentration`` alone keeps its old description)."""
    if not problem.batched:
        name = problem.tracer_names[0]
        yield ("concentration" if name == io.CONCENTRATION else f"tracer {name!r}"), problem.concentration
        return
    for name, values in zip(problem.tracer_names, problem.concentration):
        yield f"tracer {name!r}", values


def plan(
    problem: Problem,
    n_steps: int,
    *,
    dt: float | None = None,
    cfl: float | None = None,
    save_every: int = 1,
    scheme: str | None = None,
    dtype=None,
    supported: float | None = None,
) -> Plan:
    """Validate the run options against the problem; ``dt`` comes from ``dt`` or from ``cfl``.

    With ``cfl``, ``dt = cfl * min_a(dx_a / max|u_a|)`` over every velocity field the run uses (a
    velocity at its own times: over all of them).  ``scheme`` and ``dtype`` (default: the dtype
    :func:`simulate` computes in) are those of the run: its arithmetic is checked with
    :func:`check_arithmetic`.  ``supported``: the largest Courant number the run's stepper takes (default:
    :func:`supported_courant` of ``scheme``; a learned model's is its ``max_courant``).
    """
    if isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps <= 0:
        raise UserError(f"--steps must be a positive integer, got {n_steps}")
    if isinstance(save_every, bool) or int(save_every) != save_every or save_every <= 0:
        raise UserError(f"--save-every must be a positive integer, got {save_every}")
    n_steps, save_every = int(n_steps), int(save_every)
    if n_steps > MAX_STEPS:
        raise UserError(f"--steps must be at most 2^53 = {MAX_STEPS}, got {n_steps}")
    if n_steps % save_every:
        raise UserError(f"--steps ({n_steps}) must be a multiple of --save-every ({save_every})")
    if (dt is None) == (cfl is None):
        raise UserError("give exactly one of --dt and --cfl")
    if problem.time_dependent and not problem.interpolated and problem.n_velocity_steps < n_steps:
        raise UserError(
            f"the input has {problem.n_velocity_steps} velocity fields in time, need one per step ({n_steps})"
        )
    velocity = used_velocity(problem, n_steps)
    spacing = problem.grid.spacing
    if cfl is not None:
        if not math.isfinite(cfl) or not 0 < cfl <= LARGE_COURANT:
            raise UserError(f"--cfl must be in (0, {LARGE_COURANT}], got {cfl:g}")
        speeds = axis_speeds(velocity)
        if all(s == 0 for s in speeds):
            raise UserError("the velocity is zero everywhere: give --dt instead of --cfl")
        dt = dt_from_cfl(speeds, spacing, cfl)
        if not math.isfinite(dt) or dt <= 0:
            raise UserError(f"the time step from --cfl {cfl:g} is {dt:g}: the cell sizes and velocities are out of range")
    if not math.isfinite(dt) or dt <= 0:
        raise UserError(f"--dt must be a positive number, got {dt:g}")
    if not math.isfinite(dt * n_steps):
        raise UserError(f"the run's end time ({n_steps} steps of dt = {dt:g}) is not a finite number")
    check_velocity_span(problem, n_steps, dt)  # a velocity at its own times: the run within them
    velocity = used_velocity(problem, n_steps, dt)
    courant = max_courant(velocity, dt, spacing)
    supported = supported_courant(scheme) if supported is None else supported
    if courant > supported + COURANT_SLACK:
        which = f"{scheme} supports" if scheme else "the schemes support"
        raise UserError(f"Courant number {courant:.4g} > {supported:g} with dt = {dt:g} ({which} at most {supported:g}); "
                        f"use a smaller --dt or --cfl <= {supported:g}")
    check_arithmetic(problem, velocity, dt, scheme, dtype)
    return Plan(float(dt), n_steps, save_every, float(courant))


# The largest Courant number of a run: the classical reconstructions take any step up to it on the
# flux-form semi-Lagrangian path (above 1: inside FCT against a large-step upwind flux, so no value
# leaves the initial range); see docs/results.md for their accuracy against the step.
LARGE_COURANT = 4


def supported_courant(scheme: str | None) -> float:
    """The largest Courant number ``scheme`` runs at: :data:`LARGE_COURANT` for the classical Lin & Rood
    schemes, 1 for the learned models and for no scheme given, a scheme's own stable limit otherwise."""
    if scheme is None or scheme == "learned" or scheme not in SCHEMES:
        return 1.0
    s = SCHEMES[scheme]
    if s.splitting == "lin-rood":
        return float(LARGE_COURANT)
    return float(s.stable_courant)


def get_stepper(scheme: str, problem: Problem, model=None, courant: float = 1.0) -> Stepper:
    """The stepper of a classical scheme by name, or ``"learned"`` from the checkpoint ``model``.

    ``courant``: the run's largest Courant number; a classical scheme above 1 takes the bounded large-step
    path (:func:`~learned_advection.numerics.limiters.for_courant`).
    """
    if scheme == "learned":
        if model is None:
            raise UserError("--scheme learned needs --model PATH (a checkpoint)")
        try:
            from learned_advection.learned.checkpoint import load_stepper
        except ImportError as e:
            raise UserError(f"the learned scheme is not available in this installation ({e})") from None
        return load_stepper(model, problem.grid)
    if model is not None:
        raise UserError(f"--model is only used with --scheme learned, not {scheme}")
    try:
        stepper = get_scheme(scheme)
    except ValueError:
        raise UserError(f"unknown scheme {scheme!r}; choose one of {', '.join([*SCHEMES, 'learned'])}") from None
    return for_courant(stepper, courant) if courant > 1 else stepper


@dataclasses.dataclass(frozen=True)
class Resources:
    """What a run needs: bytes of the output file and (roughly) of working memory, and the chunk sizes."""

    disk_bytes: int
    memory_bytes: int
    frames_per_chunk: int
    velocity_steps_per_chunk: int  # 0 for a constant velocity
    velocity_fields_per_chunk: int = 0  # a velocity at its own times: the fields one chunk holds


def _state_bytes(problem: Problem, dtype) -> int:
    """Bytes of one tracer's state (one velocity component's field)."""
    return int(np.prod(problem.grid.shape)) * np.dtype(dtype).itemsize


def _caps(problem: Problem, dtype) -> tuple[int, int | None, int]:
    """Per chunk: most saved frames (of every tracer), most steps (``None``: a constant velocity) and
    most fields of a velocity at its own times (0 for other velocities)."""
    state = _state_bytes(problem, dtype)
    frames = max(1, CHUNK_BYTES // (state * problem.n_tracers))
    if problem.interpolated:
        fields = min(len(problem.velocity_times), max(2, CHUNK_BYTES // (problem.grid.ndim * state)))
        return frames, INTERPOLATED_CHUNK_STEPS, fields
    steps = max(1, CHUNK_BYTES // (problem.grid.ndim * state)) if problem.time_dependent else None
    return frames, steps, 0


def run_dtype():
    """The dtype a run computes in: float32, or float64 under ``--x64`` / ``use_x64()``."""
    return np.dtype(jnp.result_type(float))


def estimate_resources(problem: Problem, run: Plan, dtype=None) -> Resources:
    """Disk for the output (every saved frame of every tracer) and memory for the run (about
    ``WORKSPACE_STATES`` states per tracer, two copies of one chunk of frames, and the velocity on the
    device: constant, or two copies of one chunk of a time series or of the fields a chunk
    interpolates between).  The problem's arrays, already in memory, are not counted."""
    dtype = run_dtype() if dtype is None else np.dtype(dtype)
    state = _state_bytes(problem, dtype)
    tracers = problem.n_tracers
    frame_cap, step_cap, field_cap = _caps(problem, dtype)
    frames = min(run.n_frames - 1, frame_cap)
    steps = 0 if step_cap is None else min(run.n_steps, step_cap)
    if problem.interpolated:  # the fields (read, then converted), and a frame index and weight per step
        velocity = problem.grid.ndim * state * 2 * field_cap + 2 * steps * (4 + dtype.itemsize)
    else:  # constant, or a series: read, then converted
        velocity = problem.grid.ndim * state * (1 if step_cap is None else 2 * steps)
    memory = (WORKSPACE_STATES + 2 * frames) * state * tracers + velocity
    disk = io.simulation_bytes(problem.grid, run.n_frames, dtype, tracers)
    return Resources(disk, memory, frames, 0 if problem.interpolated else steps, field_cap)


def check_resources(problem: Problem, run: Plan, output_folder, dtype=None) -> Resources:
    """Refuse, with one line saying what it would need, a run whose output does not fit on the disk of
    ``output_folder`` or whose working memory exceeds the memory available (every tracer counted)."""
    dtype = run_dtype() if dtype is None else np.dtype(dtype)
    need = estimate_resources(problem, run, dtype)
    cells = "x".join(map(str, problem.grid.shape))
    tracers = f"{problem.n_tracers} tracers x " if problem.batched else ""
    check_free_space(output_folder, need.disk_bytes,
                     f"the output ({run.n_frames} saved states of {tracers}{cells} {dtype.name} cells; a larger "
                     "--save-every saves fewer)")
    available = available_memory()
    if available is not None and need.memory_bytes > available:
        state = f"{problem.n_tracers} tracers of {cells} cells, their" if problem.batched else f"the {cells} state, its"
        raise UserError(f"the run needs about {format_bytes(need.memory_bytes)} of memory ({state} work "
                        f"space, {need.frames_per_chunk} saved states per chunk and the velocity) but "
                        f"{format_bytes(available)} is available")
    return need


@dataclasses.dataclass(frozen=True)
class Chunk:
    """One chunk of a run: the saved states it produced (maybe none), numbered from ``first`` (the
    initial state is 0), and the steps it took."""

    frames: np.ndarray  # (k, *grid.shape), or (k, n_tracers, *grid.shape)
    first: int
    steps: int


def _pow2_floor(x: float) -> int:
    return 1 << max(0, int(math.floor(math.log2(max(x, 1.0)))))


def tracer_scales(problem: Problem) -> np.ndarray | float:
    """:func:`concentration_scale` of each tracer (shaped to broadcast over the stack), or of the one tracer."""
    if not problem.batched:
        return concentration_scale(problem.concentration)
    scales = np.array([concentration_scale(c) for c in problem.concentration], np.float64)
    return scales.reshape((-1,) + (1,) * problem.grid.ndim)


def stream(problem: Problem, step: Stepper, run: Plan, *, chunk_seconds: float | None = None,
           first_chunk_steps: int | None = None) -> Iterator[Chunk]:
    """Integrate the problem chunk by chunk, yielding each chunk's saved states as numpy arrays.

    A chunk is one call of a single compiled loop: ``k`` saved states ``every`` steps apart (both
    counts are runtime values, so no chunk length is ever compiled anew), or, when the steps between
    two saved states take long, ``n`` of those steps.  The first chunks hold about
    ``FIRST_CHUNK_CELL_STEPS`` cell updates; the length is then re-chosen from a timing so a chunk
    takes about ``chunk_seconds`` (default ``CHUNK_SECONDS``), within the caps on the bytes of a
    chunk (``CHUNK_BYTES``: saved states, and fields of a time-dependent velocity, which is sliced and
    converted to the run's dtype one chunk at a time).  Step counts are Python integers (no overflow
    at any length).

    Several tracers (a leading tracer axis): the stepper is mapped over them with ``jax.vmap``, each
    tracer scaled by its own power of two.  A velocity at its own times: a chunk gets the fields its
    steps' midpoints fall between (at most ``velocity_fields_per_chunk`` of them, which may shorten
    the chunk) with a field index and weight per step, blended in the loop (:func:`blend`).
    """
    dtype = run_dtype()
    chunk_seconds = CHUNK_SECONDS if chunk_seconds is None else chunk_seconds
    spacing, shape = problem.grid.spacing, problem.grid.shape
    cells = int(np.prod(shape)) * problem.n_tracers
    interpolated = problem.interpolated
    series = problem.time_dependent and not interpolated  # one field per step
    every, n_saved, n_steps = run.save_every, run.n_frames - 1, run.n_steps
    frame_cap, step_cap, field_cap = _caps(problem, dtype)
    n_buffer = max(1, min(frame_cap, n_saved))  # saved states one call can hold
    n_fields = 0 if step_cap is None else min(step_cap, n_steps)  # velocity fields (or weights) one call can use
    velocity = used_velocity(problem, n_steps)
    constant = None if problem.time_dependent else tuple(jnp.asarray(u, dtype) for u in velocity)

    def velocity_chunk(start: int):
        """Fields ``start, ...`` of the series (``n_fields`` of them, zeros past the end of the run)."""
        if not series:
            return constant
        stop = min(start + n_fields, n_steps)
        out = []
        for u in velocity:
            part = np.zeros((n_fields,) + shape, dtype)
            part[: stop - start] = u[start:stop]
            out.append(jnp.asarray(part))
        return tuple(out)

    def interpolation_plan(start: int, count: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Field indices and weights of steps ``start, ...`` (``count`` of them), and how many of those
        steps one chunk can take (the fields they use fit ``field_cap``)."""
        k, w = interpolation_weights(problem.velocity_times, step_midpoints(start, count, run.dt))
        jumps = np.diff(k)  # a step to the next field adds one field, a longer jump two
        needed = 2 + np.concatenate([[0], np.cumsum((jumps > 0).astype(np.int64) + (jumps > 1))])
        return k, w, int(np.searchsorted(needed, field_cap, side="right"))

    def interpolation_chunk(k: np.ndarray, w: np.ndarray):
        """The fields steps with indices ``k`` use (in a buffer of ``field_cap``), and per step the index
        in that buffer and the weight (``n_fields`` of each, zeros past the chunk)."""
        used = np.unique(np.concatenate([k, k + 1]))
        fields = []
        for u in velocity:
            part = np.zeros((field_cap,) + shape, dtype)
            part[: len(used)] = u[used]
            fields.append(jnp.asarray(part))
        index = np.zeros(n_fields, np.int32)
        index[: len(k)] = np.searchsorted(used, k)
        weight = np.zeros(n_fields, dtype)
        weight[: len(k)] = w
        return tuple(fields), jnp.asarray(index), jnp.asarray(weight)

    if problem.batched:
        def apply(c, v):
            return jax.vmap(lambda one_tracer: step(one_tracer, v, run.dt, spacing))(c)
    else:
        def apply(c, v):
            return step(c, v, run.dt, spacing)

    @jax.jit
    def advance(c, vel, k, steps_each):
        """``k`` times ``steps_each`` steps, keeping the state after each (the first ``k`` of the buffer)."""

        def one(i, j, c):
            if interpolated:
                fields, index, weight = vel
                n = i * steps_each + j
                v = blend(fields, index[n], weight[n])
            elif series:
                v = tuple(u[i * steps_each + j] for u in vel)
            else:
                v = vel
            return apply(c, v)

        def interval(i, carry):
            c, saved = carry
            c = jax.lax.fori_loop(0, steps_each, lambda j, c: one(i, j, c), c)
            return c, jax.lax.dynamic_update_index_in_dim(saved, c, i, 0)

        return jax.lax.fori_loop(0, k, interval, (c, jnp.zeros((n_buffer,) + c.shape, c.dtype)))

    scale = tracer_scales(problem)
    steps = min(first_chunk_steps or max(1, FIRST_CHUNK_CELL_STEPS // cells), MAX_CHUNK_STEPS)
    if step_cap is not None:
        steps = min(steps, step_cap)
    done = saved = phase = calls = 0
    if problem.batched:  # tracer by tracer: no float64 copy of the whole stack
        c = np.empty(problem.concentration.shape, dtype)
        for i, tracer in enumerate(problem.concentration):
            c[i] = np.asarray(tracer, np.float64) / scale[i]  # exact (a power of two)
        c = jnp.asarray(c)
    else:
        c = jnp.asarray(np.asarray(problem.concentration, np.float64) / scale, dtype)  # exact (a power of two)
    scale = np.asarray(scale, dtype)
    state_shape = c.shape
    while done < n_steps:
        limit = steps
        if interpolated:
            k_steps, w_steps, fit = interpolation_plan(done, min(steps, n_steps - done))
            limit = min(steps, fit)
        if phase == 0 and limit >= every:  # whole saved states
            k, each = min(limit // every, n_buffer, n_saved - saved), every
        else:  # part of the steps between two saved states
            k, each = 1, min(limit, every - phase)
        vel = interpolation_chunk(k_steps[: k * each], w_steps[: k * each]) if interpolated else velocity_chunk(done)
        start = time.perf_counter()
        c, buffer = advance(c, vel, k, each)
        phase += k * each
        if phase % every == 0:  # ends on a saved state
            with np.errstate(over="ignore"):  # an overflow here is a blow-up, which the caller reports
                frames = np.asarray(buffer)[:k] * scale
            first, saved, phase = saved + 1, saved + k, 0
        else:
            jax.block_until_ready(c)
            frames, first = np.empty((0,) + state_shape, dtype), saved + 1
        elapsed = time.perf_counter() - start
        buffer = vel = None
        done += k * each
        calls += 1
        yield Chunk(frames, first, k * each)
        frames = None  # not kept alive while the next chunk is computed
        if calls > 1 and elapsed > 0 and done < n_steps:  # (the first call compiled the loop: not timed)
            best = min(_pow2_floor(chunk_seconds * k * each / elapsed), MAX_CHUNK_STEPS)
            if step_cap is not None:
                best = min(best, step_cap)
            if best >= 2 * steps or 2 * best <= steps:  # re-chosen (at no cost: nothing is compiled)
                steps = best


def simulate(problem: Problem, step: Stepper, run: Plan) -> SimulationResult:
    """Integrate the problem (chunk by chunk, :func:`stream`) and return every saved state in memory
    (``(n_saved, n_tracers, *grid)`` for a problem with a leading tracer axis)."""
    dtype = run_dtype()
    states = np.empty((run.n_frames,) + np.shape(problem.concentration), dtype)
    states[0] = np.asarray(jnp.asarray(problem.concentration, dtype))
    with interrupts_at_checkpoints() as check:  # Ctrl-C between two chunks
        for chunk in stream(problem, step, run):
            check()
            states[chunk.first : chunk.first + len(chunk.frames)] = chunk.frames
    return SimulationResult(states, run.times, run)


@dataclasses.dataclass(frozen=True)
class RunSummary:
    """What :func:`simulate_to_file` wrote: the initial and final states (every tracer), the final time,
    the seconds taken."""

    path: Path
    initial: np.ndarray
    final: np.ndarray
    final_time: float
    seconds: float


def simulate_to_file(
    problem: Problem,
    step: Stepper,
    run: Plan,
    path,
    *,
    scheme: str,
    overwrite: bool = False,
    units: Mapping[str, str] | None = None,
    attrs: Mapping | None = None,
    command: str | None = None,
    inputs=(),
    progress: bool = True,
) -> RunSummary:
    """Run the problem and stream the trajectory to the netCDF file ``path`` as it is computed.

    The resources are checked first (:func:`check_resources`).  Every chunk's saved states are appended
    to a temporary file in the output folder, renamed to ``path`` at the end: an error or Ctrl-C (which
    takes effect within about a chunk, ``CHUNK_SECONDS``) leaves nothing and never touches an existing
    ``path``.  A run that blows up (a saved state with NaN or Inf) stops there with a :class:`UserError`
    and writes nothing.  Every tracer goes to its own variable (``problem.tracer_variables``), with
    its attributes.  A progress bar over the steps goes to stderr (:func:`~learned_advection.progress.progress_bar`).
    """
    path = Path(path)
    dtype = run_dtype()
    check_resources(problem, run, path.parent if str(path.parent) else Path("."), dtype)
    initial = np.asarray(jnp.asarray(problem.concentration, dtype))
    final = initial
    with io.simulation_writer(path, problem.grid, run.n_frames, dtype, scheme=scheme, dt=run.dt, courant=run.courant,
                              n_steps=run.n_steps, save_every=run.save_every, overwrite=overwrite, units=units,
                              attrs=attrs, command=command, inputs=inputs, tracers=problem.tracer_variables,
                              tracer_coordinate=problem.tracer_coordinate) as writer:
        writer.append(initial[None], run.frame_times(0, 1))
        start = time.perf_counter()
        with progress_bar(total=run.n_steps, desc=scheme, unit="step", unit_scale=True, enabled=progress) as bar, \
                interrupts_at_checkpoints() as check:  # Ctrl-C takes effect between two chunks
            for chunk in stream(problem, step, run):
                check()
                if len(chunk.frames):
                    finite = np.isfinite(chunk.frames).reshape(len(chunk.frames), -1).all(axis=1)
                    if not finite.all():  # never a NaN result with exit 0: stop, write nothing
                        bad = int(np.argmin(finite))
                        step_no = (chunk.first + bad) * run.save_every
                        which = ""
                        if problem.batched:
                            tracers = np.isfinite(chunk.frames[bad]).reshape(problem.n_tracers, -1).all(axis=1)
                            which = f" in tracer {problem.tracer_names[int(np.argmin(tracers))]!r}"
                        raise UserError(f"the run blew up: NaN or Inf by step {step_no}{which} ({scheme}, Courant "
                                        f"{run.courant:.3g}); nothing written (a smaller --dt or --cfl may help)")
                    writer.append(chunk.frames, run.frame_times(chunk.first, len(chunk.frames)))
                    final = np.array(chunk.frames[-1])  # a copy: the chunk is freed before the next one
                bar.update(chunk.steps)
                del chunk
        seconds = time.perf_counter() - start
    return RunSummary(path, initial, final, float(run.frame_times(run.n_frames - 1, 1)[0]), seconds)


MAX_BENCH_TRACERS = 256


def tracer_benchmark(n_tracers: int = 16, n: int = 128, n_steps: int = 300, scheme: str = "vanleer",
                     save_every: int | None = None, repeats: int = 3, folder=None) -> dict:
    """Wall time of ``n_tracers`` tracers in one run against ``n_tracers`` runs of one tracer each.

    The problem: ``n x n`` cells on the unit square, a random divergence-free flow (constant), Gaussian
    blobs at random places, ``n_steps`` steps at Courant number 0.5, saved every ``save_every`` steps
    (default: 5 saved states).  ``end_to_end``: :func:`simulate_to_file` into ``folder`` (a temporary
    folder by default), as ``simulate`` runs it after reading its input -- each single-tracer run
    compiles its own loop, as a separate command would (starting a process and importing JAX, a few
    seconds more per command, are not counted).  ``compiled``: the median of ``repeats`` calls of one
    compiled rollout of the ``n_steps`` (``jax.vmap`` of :func:`~learned_advection.numerics.rollout.rollout`
    over the tracers against one tracer's), compilation excluded.  ``per_tracer_ratio``: the time per
    tracer of the batched run over that of a single run (below 1: batching pays).
    """
    import tempfile

    from learned_advection.flows.velocity import random_sinusoidal
    from learned_advection.evaluation.timing import median_seconds
    from learned_advection.numerics.grids import Grid
    from learned_advection.numerics.rollout import rollout

    if not 1 <= n_tracers <= MAX_BENCH_TRACERS or n < 4 or n_steps < 1:
        raise UserError(f"--tracers must be from 1 to {MAX_BENCH_TRACERS} (with at least 4 cells and one step), got "
                        f"{n_tracers}")
    save_every = save_every or max(1, n_steps // 4)
    n_steps -= n_steps % save_every
    grid = Grid((n, n), (1.0, 1.0))
    velocity = tuple(np.asarray(u, np.float64) for u in random_sinusoidal(grid, 0))
    rng = np.random.default_rng(0)
    y, x = grid.mesh()
    centres = rng.uniform(0, 1, (n_tracers, 2))
    c0 = np.stack([np.exp(-(((y - cy) % 1 - 0.5) ** 2 + ((x - cx) % 1 - 0.5) ** 2) / 0.01) for cy, cx in centres])
    many = Problem(grid, c0, velocity)
    run = plan(many, n_steps, cfl=0.5, save_every=save_every)
    step = get_stepper(scheme, many)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        start = time.perf_counter()
        simulate_to_file(many, step, run, Path(tmp) / "many.nc", scheme=scheme, progress=False)
        batched = time.perf_counter() - start
        singles = []
        for i in range(n_tracers):
            start = time.perf_counter()
            simulate_to_file(Problem(grid, c0[i], velocity), step, run, Path(tmp) / f"one{i}.nc", scheme=scheme,
                             overwrite=True, progress=False)
            singles.append(time.perf_counter() - start)
    dtype = run_dtype()
    v = tuple(jnp.asarray(u, dtype) for u in velocity)

    def one(c, v):
        return rollout(step, c, v, run.dt, grid.spacing, n_steps, n_steps)

    compiled_one = median_seconds(jax.jit(one), (jnp.asarray(c0[0], dtype), v), repeats)
    compiled_many = median_seconds(jax.jit(jax.vmap(one, in_axes=(0, None))), (jnp.asarray(c0, dtype), v), repeats)
    separate = float(sum(singles))
    return {
        "scheme": scheme, "cells": f"{n}x{n}", "n_tracers": n_tracers, "n_steps": n_steps, "save_every": save_every,
        "dtype": dtype.name, "devices": [str(d) for d in jax.devices()],
        "end_to_end": {"batched_s": batched, "separate_s": separate, "separate_each_s": singles,
                       "per_tracer_ratio": batched / separate},
        "compiled": {"batched_s": compiled_many, "single_s": compiled_one,
                     "per_tracer_ratio": compiled_many / (n_tracers * compiled_one)},
    }


def format_tracer_benchmark(report: Mapping) -> str:
    """:func:`tracer_benchmark`'s figures as a few lines of text."""
    e, c = report["end_to_end"], report["compiled"]
    k = report["n_tracers"]
    return "\n".join([
        f"{report['scheme']}, {report['cells']} cells, {report['n_steps']} steps ({report['dtype']}), {k} tracers:",
        f"  simulate, end to end: one run of {k} tracers {e['batched_s']:.2f} s; {k} runs of one tracer "
        f"{e['separate_s']:.2f} s in all; time per tracer {e['per_tracer_ratio']:.3f}x that of a separate run",
        f"  compiled steps only: {k} tracers vmapped {c['batched_s']:.3f} s; one tracer {c['single_s']:.3f} s; "
        f"time per tracer {c['per_tracer_ratio']:.3f}x",
    ])
