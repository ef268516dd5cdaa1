"""Wall-clock timing of compiled JAX callables (the one timing loop of the package).

A callable is called once first (compilation and warm-up, not timed), then ``repeats`` times, each
call waited for with ``jax.block_until_ready`` so that the asynchronous dispatch of JAX does not hide
the work.  Inputs the real run would receive at run time (a velocity that changes in time) are passed
as arguments, not closed over: a closed-over array is a constant XLA may fold at compile time.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from learned_advection.numerics.rollout import batched_rollout, rollout


def time_calls(fn: Callable, args: Sequence = (), repeats: int = 3) -> list[float]:
    """Seconds of each of ``repeats`` calls ``fn(*args)``, after one untimed warm-up call."""
    args = tuple(args)
    jax.block_until_ready(fn(*args))  # compile + warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return times


def median_seconds(fn: Callable, args: Sequence = (), repeats: int = 3) -> float:
    """Median wall-clock seconds of ``fn(*args)`` (:func:`time_calls`)."""
    return statistics.median(time_calls(fn, args, repeats))


def ms_per_step(stepper, data, n_steps: int = 32, repeats: int = 3, batch: int = 1) -> float:
    """Milliseconds per step of ``stepper`` rolling out the first sample of ``data`` (a
    :class:`~learned_advection.data.reference.Trajectories`): a jitted rollout of ``n_steps`` steps with
    the velocity as a runtime input, median of ``repeats`` runs.  ``batch > 1``: that many copies of the
    sample in one batched rollout (the time of the whole batch); ``batch == 1``: the one sample's own
    rollout (no batch axis: what a single run compiles to; ``vmap`` over a batch of one can be slower)."""
    velocity = tuple(jnp.asarray(u[:1, :n_steps] if data.time_dependent_velocity else u[:1]) for u in data.velocity)
    velocity = tuple(jnp.repeat(u, batch, axis=0) for u in velocity)
    spacing = tuple(data.grid.spacing)
    if batch == 1:

        def fn(c, v):
            return rollout(stepper, c[0], tuple(u[0] for u in v), data.dt, spacing, n_steps)
    else:

        def fn(c, v):
            return batched_rollout(stepper, c, v, data.dt, spacing, n_steps)

    fn = jax.jit(fn)
    c0 = jnp.repeat(jnp.asarray(data.states[:1, 0]), batch, axis=0)
    return 1e3 * median_seconds(fn, (c0, velocity), repeats) / n_steps
