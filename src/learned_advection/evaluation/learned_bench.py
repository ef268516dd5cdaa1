"""Throughput of the learned stepper: untrained 2-D models of several network sizes and inference
options, per sample and batched, with their FLOP/s next to the machine's matmul peak
(:func:`bench_learned`, ``bench --learned``), and the paper's speed comparison of its model at 32^2
against Van Leer at 128^2 (:func:`paper_model_vs_vanleer`, ``bench --paper-vs-vanleer``).  The
network's weights do not change its cost, so untrained models are timed."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from learned_advection.evaluation.machine import environment, matmul_peak
from learned_advection.evaluation.scheme_bench import time_scan
from learned_advection.flows.velocity import random_sinusoidal
from learned_advection.numerics import schemes
from learned_advection.numerics.grids import Grid
from learned_advection.numerics.rollout import Repeated


def _batched_blob(grid: Grid, max_speed: float, batch: int):
    """A Gaussian blob in a random divergence-free flow on a ``2 pi`` periodic square, repeated ``batch`` times."""
    velocity = random_sinusoidal(grid, seed=0, max_speed=max_speed)
    c0 = jnp.asarray(np.exp(-2.0 * sum((m - np.pi) ** 2 for m in grid.mesh())), jnp.result_type(float))
    return jnp.broadcast_to(c0, (batch, *c0.shape)), tuple(jnp.broadcast_to(u, (batch, *u.shape)) for u in velocity)


LEARNED_SIZES = ((4, 32), (6, 64), (10, 128))  # (layers, filters); 10 x 128 is the paper's 2-D network


SMALL_SIZES = ((1, 8), (2, 16), (3, 16), (2, 32))  # small networks, sized to a cost budget below the classical schemes'


def model_flops_per_step(config, n: int) -> float:
    """Floating-point operations of one learned step on an ``n^ndim`` grid (convolutions + stencil sums).

    Parameters
    ----------
    config : ModelConfig
        The model's configuration.
    n : int
        Cells per axis.

    Returns
    -------
    float
    """
    cells = n**config.ndim
    channels = [1 + config.ndim] + [config.filters] * (config.layers - 1) + [config.ndim * (config.stencil_size - 1)]
    conv = sum(
        2.0 * cin * cout * k**config.ndim * cells
        for cin, cout, k in zip(channels[:-1], channels[1:], config.kernel_sizes)
    )
    stencil = config.ndim * cells * (2.0 * config.stencil_size * (config.stencil_size - 1) + 2.0 * config.stencil_size)
    return conv + stencil


# inference options timed on the first size: (label, ModelConfig options, step multiple k: Courant ~k/2)
LEARNED_OPTIONS = (
    (" bf16", {"precision": "bfloat16"}, 1),
    (" fct", {"limiter": "fct"}, 1),
    (" d4", {"symmetry": "d4"}, 1),
    (" ffsl k4", {"large_step": "ffsl", "max_courant": 2}, 4),
    (" ffsl k4 fct", {"large_step": "ffsl", "max_courant": 2, "limiter": "fct"}, 4),
    (" ffsl k8", {"large_step": "ffsl", "max_courant": 4}, 8),
    (" ffsl k8 fct", {"large_step": "ffsl", "max_courant": 4, "limiter": "fct"}, 8),
    (" ppm+ k8", {"base_scheme": "ppm", "max_courant": 4}, 8),  # PPM's large step plus the network's correction
)


def bench_learned(
    sizes: Sequence[tuple[int, int]] = LEARNED_SIZES,
    n: int = 32,
    batches: Sequence[int] = (1, 16),
    repeats: int = 5,
    n_steps: int = 20,
    peak_gflops: float | None = None,
    progress: Callable[[dict], None] | None = None,
    options: Sequence[tuple[str, dict, int]] = LEARNED_OPTIONS[:3],
) -> list[dict]:
    """Seconds per step of untrained 2-D learned steppers (weights do not change the cost), per sample and batched.

    Every size in float32, then the first size with each of ``options``.  Batch 1 runs the one sample's
    step (no batch axis), larger batches ``jax.vmap`` of it.

    Parameters
    ----------
    sizes : sequence of (int, int), default LEARNED_SIZES
        ``(layers, filters)`` of the networks.
    n : int, default 32
        Cells per axis.
    batches : sequence of int, default (1, 16)
        Batch sizes.
    repeats : int, default 5
        Timed runs per case.
    n_steps : int, default 20
        Most steps per timed run (fewer for costly cases).
    peak_gflops : float, optional
        The machine's matmul peak, for ``utilization``.
    progress : callable, optional
        Called with each record as it is done.
    options : sequence of (str, dict, int)
        ``(label, ModelConfig options, k)``: the step is ``k`` times the Courant-0.5 step.

    Returns
    -------
    list of dict
        One record per case.
    """
    from learned_advection.learned.config import ModelConfig
    from learned_advection.learned.models import build_model

    grid = Grid.square(n, 2 * np.pi)
    dt = 0.5 * grid.spacing[0] / 3.0
    out = []
    cases = [(layers, filters, "", {}, 1) for layers, filters in sizes]
    cases += [(*sizes[0], label, opts, k) for label, opts, k in options]
    for layers, filters, label, opts, k in cases:
        config = ModelConfig(ndim=2, layers=layers, filters=filters, stencil=(4, 5), velocity_input="courant", **opts)
        model = build_model(config, jax.random.PRNGKey(0))
        # network FLOPs (the flux update is negligible); the D4 average runs the network on 8 images
        flops = model_flops_per_step(config, n) * (8 if config.symmetry == "d4" else 1)
        for batch in batches:
            cb, vb = _batched_blob(grid, 3.0, batch)
            if batch == 1:
                cb, vb = cb[0], tuple(u[0] for u in vb)

                def step(c, *v):
                    return model(c, v, k * dt, grid.spacing)
            else:
                step = jax.vmap(lambda c, *v: model(c, v, k * dt, grid.spacing))
            steps = max(2, min(n_steps, int(4e9 // (flops * batch))))  # about the same work per case
            times = time_scan(step, cb, steps, repeats, args=vb)
            t = statistics.median(times)
            gflops = flops * batch / t / 1e9
            record = {
                "implementation": "learned-advection",
                "scheme": f"learned {layers}x{filters}{label}",
                "layers": layers,
                "filters": filters,
                "precision": config.precision,
                "limiter": config.limiter,
                "symmetry": config.symmetry,
                "large_step": config.large_step,
                "base_scheme": config.base_scheme,
                "k": k,
                "n": n,
                "batch": batch,
                "us_per_step": t * 1e6,
                "ms_per_step_per_sample": t * 1e3 / batch,
                "mcups": n * n * batch / t / 1e6,
                "flops_per_step_per_sample": flops,
                "gflops": gflops,
                "utilization": None if not peak_gflops else gflops / peak_gflops,
            }
            out.append(record)
            if progress is not None:
                progress(record)
    return out


def learned_only(quick: bool = False, progress: Callable[[dict], None] | None = None) -> dict:
    """``bench --learned``: the learned stepper at the small sizes and the paper's, and the matmul peak of the same run.

    The small sizes are :data:`SMALL_SIZES` (1 x 8 to 4 x 32); every inference option and large step is
    timed on 4 x 32 (``quick``: on 1 x 8).

    Parameters
    ----------
    quick : bool, default False
        Two tiny networks, fewer batches, repeats and steps.
    progress : callable, optional
        Called with each record as it is done.

    Returns
    -------
    dict
        The report (JSON-ready).
    """
    peak = matmul_peak(sizes=(512,) if quick else (2048, 4096), repeats=2 if quick else 3)
    sizes = ((1, 8), (2, 8)) if quick else ((4, 32), *SMALL_SIZES, *LEARNED_SIZES[1:])  # quick: the options on 1 x 8
    learned = bench_learned(
        sizes=sizes,
        batches=(1, 4) if quick else (1, 16),
        repeats=3 if quick else 7,
        n_steps=5 if quick else 40,
        peak_gflops=peak["best_gflops"],
        progress=progress,
        options=LEARNED_OPTIONS,
    )
    return {"environment": environment(), "quick": quick, "matmul_peak": peak, "learned": learned}


def format_learned_progress(r: dict) -> str:
    """One line for a finished learned-stepper case.

    Parameters
    ----------
    r : dict
        A :func:`bench_learned` record.

    Returns
    -------
    str
    """
    return f"  {r['scheme']} batch {r['batch']}: {r['ms_per_step_per_sample']:.3f} ms/step/sample"


def paper_model_vs_vanleer(
    config, batches: Sequence[int] = (1, 8, 64), repeats: int = 5, coarse_steps: int = 8
) -> dict:
    """The paper's Sec. IV comparison on this JAX device: its learned model at 32^2 against Van Leer at 128^2.

    Van Leer at 128^2 is the accuracy the model matches; each advances the same simulated time.  One
    coarse step of the learned model is one step at 32^2; for Van Leer at 128^2 it is 4 steps of a
    quarter of the time step (Courant number 0.5 at 128^2).  The network's weights do not change its
    cost, so an untrained model is timed.  The velocity is a runtime input.  The paper reports the
    learned model 80% faster on a V100 GPU.

    Parameters
    ----------
    config : ModelConfig
        A 2-D model configuration (the paper's is 10 x 128).
    batches : sequence of int, default (1, 8, 64)
        Batch sizes.
    repeats : int, default 5
        Timed runs per case.
    coarse_steps : int, default 8
        Coarse steps per timed run.

    Returns
    -------
    dict
        Per batch size the milliseconds per coarse step per sample of both and ``learned_speedup``
        (> 1: the learned model is faster).
    """
    from learned_advection.learned.models import build_model

    model = build_model(config, jax.random.PRNGKey(0))
    coarse, fine = Grid.square(32, 2 * np.pi), Grid.square(128, 2 * np.pi)
    u_max = 1.0
    dt = 0.5 * coarse.spacing[0] / u_max  # Courant 0.5 at 32^2, and at 128^2 for the 4 sub-steps of dt / 4
    vanleer = Repeated(schemes.scheme("vanleer"), 4)
    records = []
    for batch in batches:
        runs = {}
        for name, grid, stepper in (("learned-32", coarse, model), ("vanleer-128", fine, vanleer)):
            cb, vb = _batched_blob(grid, u_max, batch)
            one = lambda c, *v, g=grid, s=stepper: s(c, v, dt, g.spacing)  # noqa: E731
            times = time_scan(jax.vmap(one), cb, coarse_steps, repeats, args=vb)
            runs[name] = statistics.median(times) * 1e3 / batch
        records.append(
            {
                "batch": batch,
                "learned_ms_per_coarse_step_per_sample": runs["learned-32"],
                "vanleer128_ms_per_coarse_step_per_sample": runs["vanleer-128"],
                "learned_speedup": runs["vanleer-128"] / runs["learned-32"],
            }
        )
    device = jax.devices()[0]
    return {
        "environment": environment(),
        "device_kind": getattr(device, "device_kind", str(device)),
        "model": config.to_dict(),
        "records": records,
    }


def format_paper_comparison(report: dict) -> str:
    """:func:`paper_model_vs_vanleer`'s report as a few lines of text.

    Parameters
    ----------
    report : dict
        The report.

    Returns
    -------
    str
    """
    rows = [
        f"paper-sized model ({report['model']['layers']} x {report['model']['filters']}) at 32^2 vs Van Leer at "
        f"128^2 on {report['device_kind']} ({report['environment']['backend']}), ms per coarse step per sample:"
    ]
    for r in report["records"]:
        rows.append(
            f"  batch {r['batch']:>4}: learned {r['learned_ms_per_coarse_step_per_sample']:9.3f}   vanleer-128 "
            f"{r['vanleer128_ms_per_coarse_step_per_sample']:9.3f}   learned speed-up {r['learned_speedup']:.2f}x"
        )
    return "\n".join(rows)
