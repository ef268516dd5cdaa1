"""A run computed in chunks (:func:`stream`): each a call of one compiled loop over a few saved frames
(or over part of the steps between two saved frames), short enough that Ctrl-C takes effect within a
fraction of a second, with the state carried from chunk to chunk.  :func:`simulate_to_file` appends
every chunk's frames to the output file as they come, so memory holds about one state plus one chunk
however many frames are saved; :func:`simulate` keeps them in memory."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from learned_advection.data.netcdf.problem import Problem
from learned_advection.data.netcdf.trajectories import simulation_writer
from learned_advection.files import interrupts_at_checkpoints
from learned_advection.numerics.steppers import Stepper
from learned_advection.progress import progress_bar
from learned_advection.transport.arithmetic import run_dtype, tracer_scales
from learned_advection.transport.guard import BlowUpGuard, divergence_free
from learned_advection.transport.planning import Plan, limited_step
from learned_advection.transport.regional import (
    boundary_attrs,
    budget_attrs,
    budget_totals,
    cell_volume,
    check_regional_run,
    inflow_range,
    initial_state,
    regional_inputs,
    regional_step,
    regional_summary,
    saved_part,
    source_rate,
)
from learned_advection.transport.resources import check_resources, chunk_caps
from learned_advection.transport.winds import blend, interpolation_weights, step_midpoints, used_velocity

# Chunks: the wall time one chunk aims at (the longest a Ctrl-C waits), the cells x steps of the first
# chunks (before any timing), and the most steps of one chunk (the compiled loop counts in int32).
CHUNK_SECONDS = 0.1
FIRST_CHUNK_CELL_STEPS = 2**16
MAX_CHUNK_STEPS = 2**30


@dataclasses.dataclass(frozen=True)
class Chunk:
    """One chunk of a run: the saved states it produced (maybe none), numbered from ``first`` (the
    initial state is 0), and the steps it took."""

    frames: np.ndarray  # (k, *grid.shape), or (k, n_tracers, *grid.shape)
    first: int
    steps: int
    budget: dict | None = None  # a regional run: the mass budget at each saved state (budget_totals)


def _pow2_floor(x: float) -> int:
    return 1 << max(0, int(math.floor(math.log2(max(x, 1.0)))))


def stream(
    problem: Problem,
    step: Stepper,
    run: Plan,
    *,
    chunk_seconds: float | None = None,
    first_chunk_steps: int | None = None,
) -> Iterator[Chunk]:
    """Integrate the problem chunk by chunk, yielding each chunk's saved states as numpy arrays.

    A chunk is one call of a single compiled loop: ``k`` saved states ``every`` steps apart (both
    counts are runtime values, so no chunk length is ever compiled anew), or, when the steps between
    two saved states take long, ``n`` of those steps.  The first chunks hold about
    :data:`FIRST_CHUNK_CELL_STEPS` cell updates; the length is then re-chosen from a timing so a chunk
    takes about ``chunk_seconds``, within the caps on the bytes of a chunk
    (:func:`~learned_advection.transport.resources.chunk_caps`: saved states, and fields of a
    time-dependent velocity, which is sliced and converted to the run's dtype one chunk at a time).
    Step counts are Python integers (no overflow at any length).

    Several tracers (a leading tracer axis): the stepper is mapped over them with ``jax.vmap``, each
    tracer scaled by its own power of two.  A velocity at its own times: a chunk gets the fields its
    steps' midpoints fall between (at most ``velocity_fields_per_chunk`` of them, which may shorten
    the chunk) with a field index and weight per step, blended in the loop
    (:func:`~learned_advection.transport.winds.blend`).

    A regional problem (walls, open sides, emission sources): the state carried from chunk to chunk is
    each tracer's :class:`~learned_advection.numerics.regional.RegionalState` (the step is ``step`` on the
    problem's domain, :func:`~learned_advection.transport.regional.regional_step`, with each tracer's side
    values and sources scaled like it), and each chunk also yields the mass budget at its saved states.
    A periodic problem carries the bare array, as it always has.

    Parameters
    ----------
    problem : Problem
        The problem to run.
    step : Stepper
        The stepper, unbatched (``step(c, velocity, dt, spacing)``).
    run : Plan
        The validated run (:func:`~learned_advection.transport.planning.plan`).
    chunk_seconds : float, optional
        The wall time a chunk aims at (default :data:`CHUNK_SECONDS`).
    first_chunk_steps : int, optional
        Steps of the first chunks (default: from :data:`FIRST_CHUNK_CELL_STEPS`).

    Yields
    ------
    Chunk
        The saved states of each chunk (maybe none), in order.
    """
    dtype = run_dtype()
    chunk_seconds = CHUNK_SECONDS if chunk_seconds is None else chunk_seconds
    spacing, shape = problem.grid.spacing, problem.grid.shape
    cells = int(np.prod(shape)) * problem.n_tracers
    interpolated = problem.interpolated
    series = problem.time_dependent and not interpolated  # one field per step
    every, n_saved, n_steps = run.save_every, run.n_frames - 1, run.n_steps
    frame_cap, step_cap, field_cap = chunk_caps(problem, dtype)
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
            part = np.zeros((n_fields,) + u.shape[1:], dtype)
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
            part = np.zeros((field_cap,) + u.shape[1:], dtype)
            part[: len(used)] = u[used]
            fields.append(jnp.asarray(part))
        index = np.zeros(n_fields, np.int32)
        index[: len(k)] = np.searchsorted(used, k)
        weight = np.zeros(n_fields, dtype)
        weight[: len(k)] = w
        return tuple(fields), jnp.asarray(index), jnp.asarray(weight)

    scale = tracer_scales(problem)
    regional = problem.regional
    extra = ()  # a regional run: the side values and emission rates of every tracer
    if regional:
        inputs = regional_inputs(problem, scale, dtype)
        tracer_step = regional_step(step, problem, inputs)
        extra = (inputs.sides, inputs.rates)
        if problem.batched:

            def apply(c, v, extra):
                return jax.vmap(lambda c, sides, rate: tracer_step(c, v, run.dt, spacing, sides, rate))(c, *extra)
        else:

            def apply(c, v, extra):
                sides, rate = extra
                first = None if rate is None else rate[0]
                return tracer_step(c, v, run.dt, spacing, tuple(x[0] for x in sides), first)

        keep = saved_part
    elif problem.batched:

        def apply(c, v, extra):
            return jax.vmap(lambda one_tracer: step(one_tracer, v, run.dt, spacing))(c)

        keep = None
    else:

        def apply(c, v, extra):
            return step(c, v, run.dt, spacing)

        keep = None

    @jax.jit
    def advance(c, vel, k, steps_each, extra):
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
            return apply(c, v, extra)

        if keep is None:

            def interval(i, carry):
                c, saved = carry
                c = jax.lax.fori_loop(0, steps_each, lambda j, c: one(i, j, c), c)
                return c, jax.lax.dynamic_update_index_in_dim(saved, c, i, 0)

            return jax.lax.fori_loop(0, k, interval, (c, jnp.zeros((n_buffer,) + c.shape, c.dtype)))

        def interval_kept(i, carry):
            c, buffers = carry
            c = jax.lax.fori_loop(0, steps_each, lambda j, c: one(i, j, c), c)
            return c, jax.tree_util.tree_map(
                lambda b, x: jax.lax.dynamic_update_index_in_dim(b, x, i, 0), buffers, keep(c)
            )

        buffers = jax.tree_util.tree_map(lambda x: jnp.zeros((n_buffer,) + x.shape, x.dtype), keep(c))
        return jax.lax.fori_loop(0, k, interval_kept, (c, buffers))

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
    scale_exact = scale
    scale = np.asarray(scale, dtype)
    state_shape = c.shape
    if regional:
        c = initial_state(c, problem.batched)
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
        c, buffer = advance(c, vel, k, each, extra)
        phase += k * each
        budget = None
        if phase % every == 0:  # ends on a saved state
            if regional:
                buffer, budgets = buffer
                budgets = jax.tree_util.tree_map(lambda x: np.asarray(x)[:k], budgets)
                budget = budget_totals(budgets, scale_exact, problem.batched)
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
        yield Chunk(frames, first, k * each, budget)
        frames = None  # not kept alive while the next chunk is computed
        if calls > 1 and elapsed > 0 and done < n_steps:  # (the first call compiled the loop: not timed)
            best = min(_pow2_floor(chunk_seconds * k * each / elapsed), MAX_CHUNK_STEPS)
            if step_cap is not None:
                best = min(best, step_cap)
            if best >= 2 * steps or 2 * best <= steps:  # re-chosen (at no cost: nothing is compiled)
                steps = best


@dataclasses.dataclass(frozen=True)
class SimulationResult:
    """What ``simulate`` computed: the saved states of one run (its trajectory), their times and the plan."""

    states: np.ndarray  # (n_saved, *grid.shape), initial state first
    times: np.ndarray
    plan: Plan
    budget: dict | None = None  # a regional run: the mass budget at the end (budget_totals)


def blow_up_guard(problem: Problem, run: Plan, initial: np.ndarray, describe: str) -> BlowUpGuard:
    """The :class:`~learned_advection.transport.guard.BlowUpGuard` of a run (its range checked where the
    velocity the run uses is divergence-free).

    Parameters
    ----------
    problem : Problem
        The problem of the run.
    run : Plan
        The validated run.
    initial : numpy.ndarray
        The initial state in the run's dtype.
    describe : str
        The run, for the message.

    Returns
    -------
    BlowUpGuard
    """
    velocity = used_velocity(problem, run.n_steps, run.dt)
    bounded = divergence_free(velocity, problem.grid.spacing, run.dt)
    names = problem.tracer_names if problem.batched else None
    if not problem.regional:
        return BlowUpGuard(initial, problem.grid.ndim, initial.dtype, bounded, describe, names)
    return BlowUpGuard(
        initial,
        problem.grid.ndim,
        initial.dtype,
        bounded,
        describe,
        names,
        inflow_range=inflow_range(problem),
        volume=cell_volume(problem),
        source_rate=source_rate(problem),
    )


def simulate(problem: Problem, step: Stepper, run: Plan) -> SimulationResult:
    """Integrate the problem (chunk by chunk, :func:`stream`) and return every saved state in memory.

    The run is first held to ``step``'s declared limits as ``run.limits`` says
    (:func:`~learned_advection.transport.planning.limited_step`: refused, or each step taken as equal
    sub-steps; the result's ``plan`` gives their number).  A run that blows up stops with a one-line
    :class:`~learned_advection.errors.UserError` (:func:`blow_up_guard`).

    Parameters
    ----------
    problem : Problem
        The problem to run.
    step : Stepper
        The stepper.
    run : Plan
        The validated run.

    Returns
    -------
    SimulationResult
        States ``(n_saved, *grid)``, or ``(n_saved, n_tracers, *grid)`` for a problem with a leading
        tracer axis, initial state first; for a regional problem the mass budget at the last state
        (:func:`~learned_advection.transport.regional.budget_totals`).
    """
    step, run = limited_step(problem, step, run)
    dtype = run_dtype()
    if problem.regional:
        check_regional_run(problem, step, run, dtype)
    states = np.empty((run.n_frames,) + np.shape(problem.concentration), dtype)
    states[0] = np.asarray(jnp.asarray(problem.concentration, dtype))
    guard = blow_up_guard(problem, run, states[0], f"Courant {run.courant:.3g}")
    budget = None
    with interrupts_at_checkpoints() as check:  # Ctrl-C between two chunks
        for chunk in stream(problem, step, run):
            check()
            guard.check(chunk.frames, chunk.first, run.save_every, chunk.budget, run.dt)
            states[chunk.first : chunk.first + len(chunk.frames)] = chunk.frames
            if chunk.budget is not None and len(chunk.frames):
                budget = {k: v[-1] for k, v in chunk.budget.items()}
    return SimulationResult(states, run.times, run, budget)


@dataclasses.dataclass(frozen=True)
class RunSummary:
    """What :func:`simulate_to_file` wrote: the initial and final states (every tracer), the final time,
    the seconds taken, and the sub-steps of each step."""

    path: Path
    initial: np.ndarray
    final: np.ndarray
    final_time: float
    seconds: float
    substeps: int = 1
    budget: dict | None = None  # a regional run: per tracer, the masses of regional_summary


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

    The run is first held to ``step``'s declared limits as ``run.limits`` says
    (:func:`~learned_advection.transport.planning.limited_step`: refused, or each step taken as equal
    sub-steps, written to the ``substeps`` attribute), then the resources are checked
    (:func:`~learned_advection.transport.resources.check_resources`).
    Every chunk's saved states are appended to a temporary file in the output folder, renamed to
    ``path`` at the end: an error or Ctrl-C (which takes effect within about a chunk,
    :data:`CHUNK_SECONDS`) leaves nothing and never touches an existing ``path``.  A run that blows up
    (:func:`blow_up_guard`: NaN or Inf, mass not kept, oscillations or values far outside the initial
    range) stops there with a :class:`~learned_advection.errors.UserError` and writes nothing.  Every
    tracer goes to its own variable (``problem.tracer_variables``), with its attributes.  A progress bar
    over the steps goes to stderr (:func:`~learned_advection.progress.progress_bar`).

    A regional problem is first checked for its step (:func:`~learned_advection.transport.regional.check_regional_run`);
    its output gets the boundaries in the global attributes and each tracer's mass budget
    (``mass_inflow``, ``mass_outflow``, ``mass_emitted``, ``mass_change``) in its variable's attributes,
    also returned in the summary's ``budget``
    (:func:`~learned_advection.transport.regional.regional_summary`).

    Parameters
    ----------
    problem : Problem
        The problem to run.
    step : Stepper
        The stepper.
    run : Plan
        The validated run.
    path : path
        The output file.
    scheme : str
        The scheme's name, written to the file's attributes and shown on the progress bar.
    overwrite : bool, default False
        Replace an existing ``path``.
    units : mapping, optional
        Units of the coordinates.
    attrs : mapping, optional
        More global attributes of the output.
    command : str, optional
        The command line, for the ``history`` attribute.
    inputs : sequence of paths, default ()
        Input files the output may not replace.
    progress : bool, default True
        Show the progress bar.

    Returns
    -------
    RunSummary
    """
    path = Path(path)
    step, run = limited_step(problem, step, run)
    if run.substeps > 1:
        attrs = {**(attrs or {}), "substeps": run.substeps}
    dtype = run_dtype()
    if problem.regional:
        check_regional_run(problem, step, run, dtype)
        attrs = {**(attrs or {}), **boundary_attrs(problem)}
    check_resources(problem, run, path.parent if str(path.parent) else Path("."), dtype)
    initial = np.asarray(jnp.asarray(problem.concentration, dtype))
    final = initial
    budget = None
    guard = blow_up_guard(problem, run, initial, f"{scheme}, Courant {run.courant:.3g}")
    with simulation_writer(
        path,
        problem.grid,
        run.n_frames,
        dtype,
        scheme=scheme,
        dt=run.dt,
        courant=run.courant,
        n_steps=run.n_steps,
        save_every=run.save_every,
        overwrite=overwrite,
        units=units,
        attrs=attrs,
        command=command,
        inputs=inputs,
        tracers=problem.tracer_variables,
        tracer_coordinate=problem.tracer_coordinate,
    ) as writer:
        writer.append(initial[None], run.frame_times(0, 1))
        start = time.perf_counter()
        with (
            progress_bar(total=run.n_steps, desc=scheme, unit="step", unit_scale=True, enabled=progress) as bar,
            interrupts_at_checkpoints() as check,
        ):  # Ctrl-C takes effect between two chunks
            for chunk in stream(problem, step, run):
                check()
                if len(chunk.frames):
                    # never garbage with exit 0
                    guard.check(chunk.frames, chunk.first, run.save_every, chunk.budget, run.dt)
                    writer.append(chunk.frames, run.frame_times(chunk.first, len(chunk.frames)))
                    final = np.array(chunk.frames[-1])  # a copy: the chunk is freed before the next one
                    if chunk.budget is not None:
                        budget = {k: np.array(v[-1]) for k, v in chunk.budget.items()}
                bar.update(chunk.steps)
                del chunk
        seconds = time.perf_counter() - start
        summary = None
        if problem.regional:
            summary = regional_summary(problem, initial, final, budget)
            writer.update_attrs(budget_attrs(problem, summary))
    final_time = float(run.frame_times(run.n_frames - 1, 1)[0])
    return RunSummary(path, initial, final, final_time, seconds, run.substeps, summary)
