"""The tracer benchmark of ``bench --tracers``: many tracers in one ``simulate`` run against one run per
tracer, end to end and compiled steps only."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from learned_advection.errors import UserError
from learned_advection.evaluation.timing import median_seconds
from learned_advection.flows.velocity import random_sinusoidal
from learned_advection.numerics.grids import Grid
from learned_advection.numerics.rollout import rollout
from learned_advection.transport import Problem, get_stepper, plan, run_dtype, simulate_to_file

MAX_BENCH_TRACERS = 256


def tracer_benchmark(
    n_tracers: int = 16,
    n: int = 128,
    n_steps: int = 300,
    scheme: str = "vanleer",
    save_every: int | None = None,
    repeats: int = 3,
    folder=None,
) -> dict:
    """Wall time of ``n_tracers`` tracers in one run against ``n_tracers`` runs of one tracer each.

    The problem: ``n x n`` cells on the unit square, a random divergence-free flow (constant), Gaussian
    blobs at random places, ``n_steps`` steps at Courant number 0.5.  ``end_to_end``:
    :func:`~learned_advection.transport.streaming.simulate_to_file` into ``folder``, as ``simulate``
    runs it after reading its input -- each single-tracer run compiles its own loop, as a separate
    command would (starting a process and importing JAX, a few seconds more per command, are not
    counted).  ``compiled``: the median of ``repeats`` calls of one compiled rollout of the ``n_steps``
    (``jax.vmap`` of :func:`~learned_advection.numerics.rollout.rollout` over the tracers against one
    tracer's), compilation excluded.  ``per_tracer_ratio``: the time per tracer of the batched run over
    that of a single run (below 1: batching pays).

    Parameters
    ----------
    n_tracers : int, default 16
        Number of tracers, 1 to :data:`MAX_BENCH_TRACERS`.
    n : int, default 128
        Cells per axis (at least 4).
    n_steps : int, default 300
        Steps of each run (rounded down to a multiple of ``save_every``).
    scheme : str, default "vanleer"
        A scheme's name.
    save_every : int, optional
        Save every ``save_every``-th state (default: 5 saved states).
    repeats : int, default 3
        Timed calls of the compiled rollouts.
    folder : path, optional
        Where the outputs are written (a temporary folder in it; default: the system's).

    Returns
    -------
    dict
        The report (JSON-ready).

    Raises
    ------
    UserError
        ``n_tracers``, ``n`` or ``n_steps`` out of range.
    """
    if not 1 <= n_tracers <= MAX_BENCH_TRACERS or n < 4 or n_steps < 1:
        raise UserError(
            f"--tracers must be from 1 to {MAX_BENCH_TRACERS} (with at least 4 cells and one step), got {n_tracers}"
        )
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
            simulate_to_file(
                Problem(grid, c0[i], velocity),
                step,
                run,
                Path(tmp) / f"one{i}.nc",
                scheme=scheme,
                overwrite=True,
                progress=False,
            )
            singles.append(time.perf_counter() - start)
    dtype = run_dtype()
    v = tuple(jnp.asarray(u, dtype) for u in velocity)

    def one(c, v):
        return rollout(step, c, v, run.dt, grid.spacing, n_steps, n_steps)

    compiled_one = median_seconds(jax.jit(one), (jnp.asarray(c0[0], dtype), v), repeats)
    compiled_many = median_seconds(jax.jit(jax.vmap(one, in_axes=(0, None))), (jnp.asarray(c0, dtype), v), repeats)
    separate = float(sum(singles))
    return {
        "scheme": scheme,
        "cells": f"{n}x{n}",
        "n_tracers": n_tracers,
        "n_steps": n_steps,
        "save_every": save_every,
        "dtype": dtype.name,
        "devices": [str(d) for d in jax.devices()],
        "end_to_end": {
            "batched_s": batched,
            "separate_s": separate,
            "separate_each_s": singles,
            "per_tracer_ratio": batched / separate,
        },
        "compiled": {
            "batched_s": compiled_many,
            "single_s": compiled_one,
            "per_tracer_ratio": compiled_many / (n_tracers * compiled_one),
        },
    }


def format_tracer_benchmark(report: Mapping) -> str:
    """:func:`tracer_benchmark`'s figures as a few lines of text.

    Parameters
    ----------
    report : mapping
        The report.

    Returns
    -------
    str
    """
    e, c = report["end_to_end"], report["compiled"]
    k = report["n_tracers"]
    return "\n".join(
        [
            f"{report['scheme']}, {report['cells']} cells, {report['n_steps']} steps ({report['dtype']}), {k} tracers:",
            f"  simulate, end to end: one run of {k} tracers {e['batched_s']:.2f} s; {k} runs of one tracer "
            f"{e['separate_s']:.2f} s in all; time per tracer {e['per_tracer_ratio']:.3f}x that of a separate run",
            f"  compiled steps only: {k} tracers vmapped {c['batched_s']:.3f} s; one tracer {c['single_s']:.3f} s; "
            f"time per tracer {c['per_tracer_ratio']:.3f}x",
        ]
    )
