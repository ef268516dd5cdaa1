"""What a run needs (disk for its output, working memory, the size of its chunks) and the refusal of a
run that cannot fit, before it starts."""

from __future__ import annotations

import dataclasses

import numpy as np

from learned_advection.data.netcdf.problem import Problem
from learned_advection.data.netcdf.trajectories import simulation_bytes
from learned_advection.errors import UserError
from learned_advection.files import available_memory, check_free_space, format_bytes
from learned_advection.transport.arithmetic import run_dtype
from learned_advection.transport.planning import Plan

# The bytes of saved frames (and of time-dependent velocity) one chunk holds.
CHUNK_BYTES = 4 * 2**20
# Velocity interpolated in time: the most steps of one chunk (their frame indices and weights are
# passed to the compiled loop).
INTERPOLATED_CHUNK_STEPS = 2**16
# Rough working memory of a classical run, in states (face values, fluxes, temporaries, copies): a run of
# Van Leer or PPM at 2048^2 measured 30-36 states of resident memory above one at 256^2, input included.
WORKSPACE_STATES = 32


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


def chunk_caps(problem: Problem, dtype) -> tuple[int, int | None, int]:
    """What one chunk of a run may hold, from :data:`CHUNK_BYTES`.

    Parameters
    ----------
    problem : Problem
        The problem of the run.
    dtype : numpy dtype
        The run's dtype.

    Returns
    -------
    frames : int
        Most saved frames (of every tracer) per chunk.
    steps : int or None
        Most steps per chunk (``None``: a constant velocity, no limit).
    fields : int
        Most fields of a velocity at its own times per chunk (0 for other velocities).
    """
    state = _state_bytes(problem, dtype)
    frames = max(1, CHUNK_BYTES // (state * problem.n_tracers))
    if problem.interpolated:
        fields = min(len(problem.velocity_times), max(2, CHUNK_BYTES // (problem.grid.ndim * state)))
        return frames, INTERPOLATED_CHUNK_STEPS, fields
    steps = max(1, CHUNK_BYTES // (problem.grid.ndim * state)) if problem.time_dependent else None
    return frames, steps, 0


def estimate_resources(problem: Problem, run: Plan, dtype=None) -> Resources:
    """Disk for the output and memory for the run.

    Disk: every saved frame of every tracer.  Memory: about :data:`WORKSPACE_STATES` states per tracer,
    two copies of one chunk of frames, the velocity on the device (constant, or two copies of one
    chunk of a time series or of the fields a chunk interpolates between) and a regional run's emission
    rates.  The problem's arrays, already in memory, are not counted.

    Parameters
    ----------
    problem : Problem
        The problem of the run.
    run : Plan
        The run.
    dtype : numpy dtype, optional
        The run's dtype (default: :func:`~learned_advection.transport.arithmetic.run_dtype`).

    Returns
    -------
    Resources
    """
    dtype = run_dtype() if dtype is None else np.dtype(dtype)
    state = _state_bytes(problem, dtype)
    tracers = problem.n_tracers
    frame_cap, step_cap, field_cap = chunk_caps(problem, dtype)
    frames = min(run.n_frames - 1, frame_cap)
    steps = 0 if step_cap is None else min(run.n_steps, step_cap)
    if problem.interpolated:  # the fields (read, then converted), and a frame index and weight per step
        velocity = problem.grid.ndim * state * 2 * field_cap + 2 * steps * (4 + dtype.itemsize)
    else:  # constant, or a series: read, then converted
        velocity = problem.grid.ndim * state * (1 if step_cap is None else 2 * steps)
    memory = (WORKSPACE_STATES + 2 * frames) * state * tracers + velocity
    if problem.sources is not None:  # a regional run's emission rates, on the device for the whole run
        memory += int(np.size(problem.sources.rates)) * dtype.itemsize
    disk = simulation_bytes(problem.grid, run.n_frames, dtype, tracers)
    return Resources(disk, memory, frames, 0 if problem.interpolated else steps, field_cap)


def check_resources(problem: Problem, run: Plan, output_folder, dtype=None) -> Resources:
    """Refuse a run whose output does not fit on the disk or whose working memory exceeds the memory available.

    Parameters
    ----------
    problem : Problem
        The problem of the run (every tracer counted).
    run : Plan
        The run.
    output_folder : path
        The folder the output goes to (its free space is checked).
    dtype : numpy dtype, optional
        The run's dtype (default: :func:`~learned_advection.transport.arithmetic.run_dtype`).

    Returns
    -------
    Resources
        What the run needs (:func:`estimate_resources`).

    Raises
    ------
    UserError
        One line saying what the run would need and what is available.
    """
    dtype = run_dtype() if dtype is None else np.dtype(dtype)
    need = estimate_resources(problem, run, dtype)
    cells = "x".join(map(str, problem.grid.shape))
    tracers = f"{problem.n_tracers} tracers x " if problem.batched else ""
    check_free_space(
        output_folder,
        need.disk_bytes,
        f"the output ({run.n_frames} saved states of {tracers}{cells} {dtype.name} cells; a larger "
        "--save-every saves fewer)",
    )
    available = available_memory()
    if available is not None and need.memory_bytes > available:
        state = f"{problem.n_tracers} tracers of {cells} cells, their" if problem.batched else f"the {cells} state, its"
        raise UserError(
            f"the run needs about {format_bytes(need.memory_bytes)} of memory ({state} work "
            f"space, {need.frames_per_chunk} saved states per chunk and the velocity) but "
            f"{format_bytes(available)} is available"
        )
    return need
