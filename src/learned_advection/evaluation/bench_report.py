"""Everything ``learned-advection bench`` reports with no option (:func:`run`) and its table
(:func:`format_table`, which also prints the reports of ``--vs-jax-cfd`` and ``--learned``)."""

from __future__ import annotations

from collections.abc import Callable

from learned_advection.evaluation.learned_bench import LEARNED_SIZES, bench_learned
from learned_advection.evaluation.machine import environment, matmul_peak, wide_vectors_supported
from learned_advection.evaluation.scheme_bench import SIZES_1D, SIZES_2D, BenchResult, bench_schemes, settings_label
from learned_advection.evaluation.vs_jax_cfd import JAX_CFD_SIZES, UNSPLIT_VANLEER, versus_jax_cfd


def run(quick: bool = False, progress: Callable[[BenchResult], None] | None = None) -> dict:
    """Everything ``learned-advection bench`` reports, as a JSON-ready dict.

    Every scheme at every size (2-D Van Leer also with its velocity closed over, steady, and with
    512-bit vectors on AVX-512 CPUs), jax-cfd's Van Leer against ours, the matmul peak and the learned
    stepper.

    Parameters
    ----------
    quick : bool, default False
        One small size per dimension, fewer repeats and steps.
    progress : callable, optional
        Called with each :class:`~learned_advection.evaluation.scheme_bench.BenchResult` as it is done.

    Returns
    -------
    dict
    """
    repeats = 3 if quick else 7
    sizes_1d = (256,) if quick else SIZES_1D
    sizes_2d = (64,) if quick else SIZES_2D
    widths = [None] + ([512] if wide_vectors_supported() else [])
    variants = [("input", w) for w in widths] + [("constant", None)]
    ours = bench_schemes(
        sizes_1d=sizes_1d,
        sizes_2d=sizes_2d,
        repeats=repeats,
        quick=quick,
        progress=progress,
        variants_2d={"vanleer": variants + [("steady", None)]},
    )
    versus = versus_jax_cfd(ours, (64,) if quick else JAX_CFD_SIZES, repeats, quick, progress, variants)
    peak = matmul_peak(sizes=(512,) if quick else (2048, 4096), repeats=2 if quick else 3)
    learned = bench_learned(
        sizes=((4, 32),) if quick else LEARNED_SIZES,
        batches=(1, 4) if quick else (1, 4, 16),
        repeats=repeats,
        n_steps=5 if quick else 20,
        peak_gflops=peak["best_gflops"],
    )
    return {
        "environment": environment(),
        "quick": quick,
        **versus,
        "results": [r.as_dict() for r in ours] + versus["results"],
        "matmul_peak": peak,
        "learned": learned,
    }


def format_table(report: dict) -> str:
    """A report of :func:`run`, ``bench --vs-jax-cfd`` or ``bench --learned`` as a table and a few lines of text.

    Parameters
    ----------
    report : dict
        The report.

    Returns
    -------
    str
    """
    head = f"{'implementation':<18} {'scheme':<34} {'dim':>3} {'cells':>9} {'us/step':>10} {'Mcell/s':>9}"
    rows = [head, "-" * len(head)] if report.get("results") else []
    for r in report.get("results", []):
        size = f"{r['n']}" if r["ndim"] == 1 else f"{r['n']}^2"
        rows.append(
            f"{r['implementation']:<18} {r['scheme']:<34} {r['ndim']:>3} {size:>9} {r['us_per_step']:10.1f} {r['mcups']:9.1f}"
            + settings_label(r)
        )
    if "jax_cfd" in report and not report["jax_cfd"]["available"]:
        rows.append(f"(jax-cfd: {report['jax_cfd']['note']})")
    peak = report.get("matmul_peak")
    if peak:
        rows.append(
            f"best float32 matmul: {peak['best_gflops']:.1f} GFLOP/s ({peak['best']['implementation']}, "
            f"{peak['best']['n']}^2)"
        )
    for r in report.get("learned", []):
        util = "" if r["utilization"] is None else f", {100 * r['utilization']:.1f}% of matmul peak"
        rows.append(
            f"{r['scheme']:<24} {r['n']}^2 batch {r['batch']:>3}: {r['ms_per_step_per_sample']:8.3f} ms/step/sample, "
            f"{r['gflops']:6.2f} GFLOP/s{util}"
        )
    for p in report.get("kernels", []):
        top = ", ".join(f"{k['kernel']} {k['us_per_step']:.1f}" for k in p["kernels"][:6])
        rows.append(
            f"kernels of {p['implementation']} {p['n']}^2 (velocity {p['velocity']}), us per step: {top}; "
            f"all kernels {sum(k['us_per_step'] for k in p['kernels']):.1f} in {len(p['kernels'])} kernels on "
            f"{p['threads']} thread(s), wall {p['wall_us_per_step']:.1f} (profiled)"
        )
    for c in report.get("vanleer_vs_jax_cfd", []):
        theirs = c.get("jax_cfd_velocity", c.get("velocity", "input"))
        against = "" if theirs == c.get("velocity", "input") else f" (jax-cfd's velocity {theirs})"
        scheme = " (ours unsplit, jax-cfd's scheme class)" if c.get("scheme") == UNSPLIT_VANLEER.name else ""
        rows.append(
            f"Van Leer {c['n']}^2{scheme}: ours / jax-cfd cell-updates per second = {c['speedup']:.2f}"
            f"{settings_label(c)}" + against
        )
    for a in report.get("diagonal_accuracy", []):
        rows.append(
            f"diagonal translation once across {a['n']}^2, Courant {a['courant_per_axis']} per axis, "
            f"{a['steps']} steps: {a['scheme']} relative L1 error {a['relative_l1']:.3g}, max {a['max']:.3g} (exact 1)"
        )
    return "\n".join(rows)
