"""The machine a benchmark runs on: its software and devices (:func:`environment`), whether its CPU has
512-bit vectors, and its best measured float32 matrix-multiply rate (:func:`matmul_peak`)."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from learned_advection.evaluation.timing import time_calls


def wide_vectors_supported() -> bool:
    """Whether the CPU has AVX-512 (so 512-bit vectors are worth timing); False off x86 Linux.

    Returns
    -------
    bool
    """
    if jax.default_backend() != "cpu":
        return False
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and " avx512f" in line for line in f)
    except OSError:
        return False


def environment() -> dict:
    """The software and devices of this run, recorded with every benchmark report.

    Returns
    -------
    dict
        JAX's version, backend and devices, CPU count, Python, machine, float64 on or off, ``XLA_FLAGS``
        and whether the CPU has AVX-512.
    """
    return {
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "x64": bool(jax.config.jax_enable_x64),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "avx512": wide_vectors_supported(),
    }


def matmul_peak(sizes: Sequence[int] = (2048, 4096), repeats: int = 3) -> dict:
    """Best measured float32 matrix-multiply FLOP/s: numpy (BLAS) and jitted JAX at each size, same run.

    Parameters
    ----------
    sizes : sequence of int, default (2048, 4096)
        Sizes ``n`` of the square matrices.
    repeats : int, default 3
        Timed runs per case (the fastest counts).

    Returns
    -------
    dict
        ``best_gflops``, the ``best`` record and every record (``implementation``, ``n``, ``gflops``).
    """
    rng = np.random.default_rng(0)
    records = []
    for n in sizes:
        a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
        flops = 2.0 * n**3
        t = min(time_calls(lambda: a @ b, repeats=repeats))
        records.append({"implementation": "numpy", "n": n, "gflops": flops / t / 1e9})
        ja, jb = jnp.asarray(a), jnp.asarray(b)
        t = min(time_calls(jax.jit(jnp.matmul), (ja, jb), repeats))
        records.append({"implementation": "jax", "n": n, "gflops": flops / t / 1e9})
    best = max(records, key=lambda r: r["gflops"])
    return {"best_gflops": best["gflops"], "best": best, "records": records}
