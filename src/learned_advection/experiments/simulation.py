"""Run a scheme on a :class:`~learned_advection.data.netcdf.Problem` (the library side of ``simulate``).

Everything a user can get wrong is checked by :func:`plan` before any computation, and reported as
:class:`~learned_advection.errors.UserError`; :func:`check_resources` refuses a run whose output or
working memory cannot fit.  A run is computed in chunks (:func:`stream`): each a call of one compiled
loop over a few saved frames (or over part of the steps between two saved frames), short enough that
Ctrl-C takes effect within a fraction of a second, with the state carried from chunk to chunk.
:func:`simulate_to_file` appends every chunk's frames to the output file as they come, so memory
holds about one state plus one chunk however many frames are saved.
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


def used_velocity(problem: Problem, n_steps: int) -> tuple[np.ndarray, ...]:
    """The velocity fields a run of ``n_steps`` uses (the first ``n_steps`` of a time series)."""
    if problem.time_dependent:
        return tuple(u[:n_steps] for u in problem.velocity)
    return problem.velocity


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
    fields = [("concentration", problem.concentration)]
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


def plan(
    problem: Problem,
    n_steps: int,
    *,
    dt: float | None = None,
    cfl: float | None = None,
    save_every: int = 1,
    scheme: str | None = None,
    dtype=None,
) -> Plan:
    """Validate the run options against the problem; ``dt`` comes from ``dt`` or from ``cfl``.

    With ``cfl``, ``dt = cfl * min_a(dx_a / max|u_a|)`` over every velocity field the run uses.
    ``scheme`` and ``dtype`` (default: the dtype :func:`simulate` computes in) are those of the run:
    its arithmetic is checked with :func:`check_arithmetic`.
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
    if problem.time_dependent and problem.n_velocity_steps < n_steps:
        raise UserError(
            f"the input has {problem.n_velocity_steps} velocity fields in time, need one per step ({n_steps})"
        )
    velocity = used_velocity(problem, n_steps)
    spacing = problem.grid.spacing
    if cfl is not None:
        if not math.isfinite(cfl) or not 0 < cfl <= 1:
            raise UserError(f"--cfl must be in (0, 1], got {cfl:g}")
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
    courant = max_courant(velocity, dt, spacing)
    if courant > 1 + COURANT_SLACK:
        raise UserError(f"Courant number {courant:.4g} > 1 with dt = {dt:g}; use a smaller --dt or --cfl <= 1")
    check_arithmetic(problem, velocity, dt, scheme, dtype)
    return Plan(float(dt), n_steps, save_every, float(courant))


def get_stepper(scheme: str, problem: Problem, model=None) -> Stepper:
    """The stepper of a classical scheme by name, or ``"learned"`` from the checkpoint ``model``."""
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
        return get_scheme(scheme)
    except ValueError:
        raise UserError(f"unknown scheme {scheme!r}; choose one of {', '.join([*SCHEMES, 'learned'])}") from None


@dataclasses.dataclass(frozen=True)
class Resources:
    """What a run needs: bytes of the output file and (roughly) of working memory, and the chunk sizes."""

    disk_bytes: int
    memory_bytes: int
    frames_per_chunk: int
    velocity_steps_per_chunk: int  # 0 for a constant velocity


def _state_bytes(problem: Problem, dtype) -> int:
    return int(np.prod(problem.grid.shape)) * np.dtype(dtype).itemsize


def _caps(problem: Problem, dtype) -> tuple[int, int | None]:
    """Most saved frames, and most steps of a time-dependent velocity (``None``: constant), per chunk."""
    state = _state_bytes(problem, dtype)
    frames = max(1, CHUNK_BYTES // state)
    steps = max(1, CHUNK_BYTES // (problem.grid.ndim * state)) if problem.time_dependent else None
    return frames, steps


def run_dtype():
    """The dtype a run computes in: float32, or float64 under ``--x64`` / ``use_x64()``."""
    return np.dtype(jnp.result_type(float))


def estimate_resources(problem: Problem, run: Plan, dtype=None) -> Resources:
    """Disk for the output (every saved frame) and memory for the run (about ``WORKSPACE_STATES`` states,
    two copies of one chunk of frames, and the velocity on the device: constant, or two copies of one
    chunk of a time series).  The problem's arrays, already in memory, are not counted."""
    dtype = run_dtype() if dtype is None else np.dtype(dtype)
    state = _state_bytes(problem, dtype)
    frame_cap, step_cap = _caps(problem, dtype)
    frames = min(run.n_frames - 1, frame_cap)
    steps = 0 if step_cap is None else min(run.n_steps, step_cap)
    velocity = problem.grid.ndim * state * (1 if step_cap is None else 2 * steps)  # a series: read, then converted
    memory = WORKSPACE_STATES * state + 2 * frames * state + velocity
    return Resources(io.simulation_bytes(problem.grid, run.n_frames, dtype), memory, frames, steps)


def check_resources(problem: Problem, run: Plan, output_folder, dtype=None) -> Resources:
    """Refuse, with one line saying what it would need, a run whose output does not fit on the disk of
    ``output_folder`` or whose working memory exceeds the memory available."""
    dtype = run_dtype() if dtype is None else np.dtype(dtype)
    need = estimate_resources(problem, run, dtype)
    cells = "x".join(map(str, problem.grid.shape))
    check_free_space(output_folder, need.disk_bytes,
                     f"the output ({run.n_frames} saved states of {cells} {dtype.name} cells; a larger --save-every saves fewer)")
    available = available_memory()
    if available is not None and need.memory_bytes > available:
        raise UserError(f"the run needs about {format_bytes(need.memory_bytes)} of memory (the {cells} state, its work "
                        f"space, {need.frames_per_chunk} saved states per chunk and the velocity) but "
                        f"{format_bytes(available)} is available")
    return need


@dataclasses.dataclass(frozen=True)
class Chunk:
    """One chunk of a run: the saved states it produced (maybe none), numbered from ``first`` (the
    initial state is 0), and the steps it took."""

    frames: np.ndarray  # (k, *grid.shape)
    first: int
    steps: int


def _pow2_floor(x: float) -> int:
    return 1 << max(0, int(math.floor(math.log2(max(x, 1.0)))))


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
    """
    dtype = run_dtype()
    chunk_seconds = CHUNK_SECONDS if chunk_seconds is None else chunk_seconds
    spacing, shape = problem.grid.spacing, problem.grid.shape
    cells = int(np.prod(shape))
    series = problem.time_dependent
    every, n_saved, n_steps = run.save_every, run.n_frames - 1, run.n_steps
    frame_cap, step_cap = _caps(problem, dtype)
    n_buffer = max(1, min(frame_cap, n_saved))  # saved states one call can hold
    n_fields = 0 if step_cap is None else min(step_cap, n_steps)  # velocity fields one call can use
    velocity = used_velocity(problem, n_steps)
    constant = None if series else tuple(jnp.asarray(u, dtype) for u in velocity)

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

    @jax.jit
    def advance(c, vel, k, steps_each):
        """``k`` times ``steps_each`` steps, keeping the state after each (the first ``k`` of the buffer)."""

        def one(i, j, c):
            v = tuple(u[i * steps_each + j] for u in vel) if series else vel
            return step(c, v, run.dt, spacing)

        def interval(i, carry):
            c, saved = carry
            c = jax.lax.fori_loop(0, steps_each, lambda j, c: one(i, j, c), c)
            return c, jax.lax.dynamic_update_index_in_dim(saved, c, i, 0)

        return jax.lax.fori_loop(0, k, interval, (c, jnp.zeros((n_buffer,) + c.shape, c.dtype)))

    scale = concentration_scale(problem.concentration)
    steps = min(first_chunk_steps or max(1, FIRST_CHUNK_CELL_STEPS // cells), MAX_CHUNK_STEPS)
    if step_cap is not None:
        steps = min(steps, step_cap)
    done = saved = phase = calls = 0
    c = jnp.asarray(np.asarray(problem.concentration, np.float64) / scale, dtype)  # exact (a power of two)
    while done < n_steps:
        if phase == 0 and steps >= every:  # whole saved states
            k, each = min(steps // every, n_buffer, n_saved - saved), every
        else:  # part of the steps between two saved states
            k, each = 1, min(steps, every - phase)
        start = time.perf_counter()
        c, buffer = advance(c, velocity_chunk(done), k, each)
        phase += k * each
        if phase % every == 0:  # ends on a saved state
            with np.errstate(over="ignore"):  # an overflow here is a blow-up, which the caller reports
                frames = np.asarray(buffer)[:k] * np.asarray(scale, dtype)
            first, saved, phase = saved + 1, saved + k, 0
        else:
            jax.block_until_ready(c)
            frames, first = np.empty((0,) + shape, dtype), saved + 1
        elapsed = time.perf_counter() - start
        buffer = None
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
    """Integrate the problem (chunk by chunk, :func:`stream`) and return every saved state in memory."""
    dtype = run_dtype()
    states = np.empty((run.n_frames,) + problem.grid.shape, dtype)
    states[0] = np.asarray(jnp.asarray(problem.concentration, dtype))
    with interrupts_at_checkpoints() as check:  # Ctrl-C between two chunks
        for chunk in stream(problem, step, run):
            check()
            states[chunk.first : chunk.first + len(chunk.frames)] = chunk.frames
    return SimulationResult(states, run.times, run)


@dataclasses.dataclass(frozen=True)
class RunSummary:
    """What :func:`simulate_to_file` wrote: the initial and final states, the final time, the seconds taken."""

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
    and writes nothing.  A progress bar over the steps goes to stderr (:func:`~learned_advection.progress.progress_bar`).
    """
    path = Path(path)
    dtype = run_dtype()
    check_resources(problem, run, path.parent if str(path.parent) else Path("."), dtype)
    initial = np.asarray(jnp.asarray(problem.concentration, dtype))
    final = initial
    with io.simulation_writer(path, problem.grid, run.n_frames, dtype, scheme=scheme, dt=run.dt, courant=run.courant,
                              n_steps=run.n_steps, save_every=run.save_every, overwrite=overwrite, units=units,
                              attrs=attrs, command=command, inputs=inputs) as writer:
        writer.append(initial[None], run.frame_times(0, 1))
        start = time.perf_counter()
        with progress_bar(total=run.n_steps, desc=scheme, unit="step", unit_scale=True, enabled=progress) as bar, \
                interrupts_at_checkpoints() as check:  # Ctrl-C takes effect between two chunks
            for chunk in stream(problem, step, run):
                check()
                if len(chunk.frames):
                    finite = np.isfinite(chunk.frames).reshape(len(chunk.frames), -1).all(axis=1)
                    if not finite.all():  # never a NaN result with exit 0: stop, write nothing
                        step_no = (chunk.first + int(np.argmin(finite))) * run.save_every
                        raise UserError(f"the run blew up: NaN or Inf by step {step_no} ({scheme}, Courant "
                                        f"{run.courant:.3g}); nothing written (a smaller --dt or --cfl may help)")
                    writer.append(chunk.frames, run.frame_times(chunk.first, len(chunk.frames)))
                    final = np.array(chunk.frames[-1])  # a copy: the chunk is freed before the next one
                bar.update(chunk.steps)
                del chunk
        seconds = time.perf_counter() - start
    return RunSummary(path, initial, final, float(run.frame_times(run.n_frames - 1, 1)[0]), seconds)
