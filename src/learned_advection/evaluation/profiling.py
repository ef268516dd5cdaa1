"""Where a compiled step's time goes: microseconds per step in each compiled kernel, read from JAX's
profiler (:func:`kernel_times`)."""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence

import jax

from learned_advection.evaluation.scheme_bench import scan_steps


def kernel_times(step: Callable, c0, n_steps: int, args: Sequence = ()) -> dict:
    """Where a step's time goes: microseconds per step spent in each compiled kernel of a jitted scan.

    A kernel is an XLA thunk: a fused loop, a copy, a concatenate; its time is summed over threads.
    From one profiled run (JAX's profiler with XLA's per-kernel trace events switched on for this
    compilation, ``xla_cpu_enable_xprof_traceme``; CPU only) after an untimed warm-up run; the tracing
    itself adds a little to every kernel.

    Parameters
    ----------
    step : callable
        ``step(c, *args) -> c``.
    c0 : array
        The initial state.
    n_steps : int
        Steps of the profiled run.
    args : sequence, default ()
        Runtime inputs of the compiled scan.

    Returns
    -------
    dict
        ``kernels`` (``[{"kernel", "us_per_step"}, ...]``, largest first), ``threads`` (how many
        threads ran a kernel) and ``wall_us_per_step`` (the profiled run's wall time per step).
    """
    from jax.profiler import ProfileData

    args = tuple(args)
    run = scan_steps(step, n_steps).lower(c0, *args).compile(compiler_options={"xla_cpu_enable_xprof_traceme": True})
    jax.block_until_ready(run(c0, *args))
    directory = tempfile.mkdtemp(prefix="learned-advection-trace-")
    try:
        jax.profiler.start_trace(directory)
        start = time.perf_counter()
        jax.block_until_ready(run(c0, *args))
        wall = time.perf_counter() - start
        jax.profiler.stop_trace()
        profile = ProfileData.from_file(glob.glob(os.path.join(directory, "**", "*.xplane.pb"), recursive=True)[0])
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    totals: dict[str, float] = {}
    threads = set()
    for plane in profile.planes:
        for line in plane.lines:
            for event in line.events:
                name = event.name
                # kernel events only: not the executor's, the loop's or Python's own spans, nor the "end:" markers
                if (
                    "Execute" in name
                    or name.startswith(("end:", "while", "$", "Pjit", "Threadpool"))
                    or " " in name
                    or "::" in name
                ):
                    continue
                totals[name] = totals.get(name, 0.0) + event.duration_ns
                threads.add((plane.name, line.name))
    kernels = sorted(
        ({"kernel": k, "us_per_step": v / 1e3 / n_steps} for k, v in totals.items()), key=lambda r: -r["us_per_step"]
    )
    return {"kernels": kernels, "threads": len(threads), "wall_us_per_step": wall / n_steps * 1e6}
