"""Throughput of the classical schemes (and, when installed, jax-cfd's Van Leer for comparison), of the
learned stepper for several network sizes (per sample and batched, with its achieved FLOP/s next to the
machine's best float32 matrix-multiply FLOP/s measured in the same run: ``utilization``).

Each case is a jitted ``lax.scan`` over ``n_steps`` steps; it is compiled and run once (warm-up),
then timed ``repeats`` times with ``block_until_ready``; the median is reported as microseconds
per step and million cell updates per second.  The velocity is a random periodic divergence-free
flow (2-D) or a uniform one (1-D) at Courant number 0.5.
"""

from __future__ import annotations

import dataclasses
import platform
import statistics
import time
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .grids import Grid
from .schemes import SCHEMES, get_scheme
from .velocity import random_sinusoidal

SIZES_1D = (256, 1024, 4096)
SIZES_2D = (64, 128, 256, 512)
JAX_CFD_SIZES = (128, 256)


@dataclasses.dataclass(frozen=True)
class BenchResult:
    implementation: str  # "learned-advection" or "jax-cfd"
    scheme: str
    ndim: int
    n: int  # cells per axis
    cells: int
    n_steps: int
    repeats: int
    us_per_step: float  # median
    mcups: float  # million cell updates per second (median)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _problem(ndim: int, n: int):
    if ndim == 1:
        grid = Grid((n,), (1.0,))
        velocity = (jnp.ones(grid.shape, jnp.result_type(float)),)
    else:
        grid = Grid.square(n, 1.0)
        velocity = random_sinusoidal(grid, seed=0)
    mesh = grid.mesh()
    c0 = jnp.asarray(np.exp(-30.0 * sum((m - 0.5) ** 2 for m in mesh)), jnp.result_type(float))
    dt = 0.5 * min(grid.spacing) / max(float(jnp.max(jnp.abs(u))) for u in velocity)
    return grid, c0, velocity, dt


def time_scan(step: Callable, c0, n_steps: int, repeats: int) -> list[float]:
    """Seconds per step of ``repeats`` timed runs of a jitted scan of ``step(c) -> c`` (after a warm-up run)."""
    run = jax.jit(lambda c: jax.lax.scan(lambda c, _: (step(c), None), c, None, length=n_steps)[0])
    jax.block_until_ready(run(c0))  # compile + warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(run(c0))
        times.append((time.perf_counter() - start) / n_steps)
    return times


def _result(impl: str, scheme: str, ndim: int, n: int, n_steps: int, times: Sequence[float]) -> BenchResult:
    t = statistics.median(times)
    cells = n**ndim
    return BenchResult(impl, scheme, ndim, n, cells, n_steps, len(times), t * 1e6, cells / t / 1e6)


def _steps_for(cells: int, quick: bool) -> int:
    """About the same work per case: many steps on small grids, fewer on large ones."""
    target = 2e6 if quick else 2e7  # cell updates per timed run
    return int(min(1000 if not quick else 100, max(10, target // cells)))


def bench_schemes(
    schemes: Sequence[str] = tuple(SCHEMES),
    sizes_1d: Sequence[int] = SIZES_1D,
    sizes_2d: Sequence[int] = SIZES_2D,
    repeats: int = 5,
    quick: bool = False,
    progress: Callable[[BenchResult], None] | None = None,
) -> list[BenchResult]:
    out = []
    for ndim, sizes in ((1, sizes_1d), (2, sizes_2d)):
        for n in sizes:
            grid, c0, velocity, dt = _problem(ndim, n)
            n_steps = _steps_for(n**ndim, quick)
            for name in schemes:
                scheme = get_scheme(name)
                times = time_scan(lambda c, s=scheme: s(c, velocity, dt, grid.spacing), c0, n_steps, repeats)
                out.append(_result("learned-advection", name, ndim, n, n_steps, times))
                if progress is not None:
                    progress(out[-1])
    return out


def jax_cfd_available() -> tuple[bool, str]:
    """Whether ``jax_cfd`` imports and runs with this JAX, and why not."""
    try:
        import jax_cfd.base  # noqa: F401
        from jax_cfd.base import advection  # noqa: F401
    except Exception as e:  # ImportError, or an incompatibility raised at import
        return False, f"jax-cfd not importable: {type(e).__name__}: {e}".splitlines()[0]
    return True, ""


def jax_cfd_van_leer_step(grid: Grid, velocity, dt: float) -> Callable:
    """jax-cfd's ``advect_van_leer`` with forward Euler, on our grid and C-grid velocities.

    jax-cfd orders axes ``(x, y)``; our arrays are ``(y, x)``, so arrays are passed transposed (the
    ``+`` face of a cell has offset 1 along its axis in jax-cfd's convention).
    """
    from jax_cfd.base import advection, boundaries
    from jax_cfd.base import grids as cfd_grids

    ny, nx = grid.shape
    cgrid = cfd_grids.Grid((nx, ny), domain=((0.0, grid.length[1]), (0.0, grid.length[0])))
    bc = boundaries.periodic_boundary_conditions(2)
    vy, vx = velocity
    v = (
        cfd_grids.GridVariable(cfd_grids.GridArray(vx.T, (1.0, 0.5), cgrid), bc),
        cfd_grids.GridVariable(cfd_grids.GridArray(vy.T, (0.5, 1.0), cgrid), bc),
    )

    def step(c_xy):
        cv = cfd_grids.GridVariable(cfd_grids.GridArray(c_xy, (0.5, 0.5), cgrid), bc)
        return c_xy + dt * advection.advect_van_leer(cv, v, dt).data

    return step


def bench_jax_cfd(
    sizes: Sequence[int] = JAX_CFD_SIZES,
    repeats: int = 5,
    quick: bool = False,
    progress: Callable[[BenchResult], None] | None = None,
) -> list[BenchResult]:
    out = []
    for n in sizes:
        grid, c0, velocity, dt = _problem(2, n)
        n_steps = _steps_for(n * n, quick)
        times = time_scan(jax_cfd_van_leer_step(grid, velocity, dt), c0.T, n_steps, repeats)
        out.append(_result("jax-cfd", "vanleer (advect_van_leer + Euler)", 2, n, n_steps, times))
        if progress is not None:
            progress(out[-1])
    return out


# --------------------------------------------------------------------------- the machine's matmul peak
def matmul_peak(sizes: Sequence[int] = (2048, 4096), repeats: int = 3) -> dict:
    """Best measured float32 matrix-multiply FLOP/s: numpy (BLAS) and jitted JAX at each size, same run."""
    rng = np.random.default_rng(0)
    records = []
    for n in sizes:
        a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
        flops = 2.0 * n**3
        a @ b  # warm-up
        t = min(_timed(lambda: a @ b) for _ in range(repeats))
        records.append({"implementation": "numpy", "n": n, "gflops": flops / t / 1e9})
        ja, jb = jnp.asarray(a), jnp.asarray(b)
        mm = jax.jit(jnp.matmul)
        jax.block_until_ready(mm(ja, jb))
        t = min(_timed(lambda: jax.block_until_ready(mm(ja, jb))) for _ in range(repeats))
        records.append({"implementation": "jax", "n": n, "gflops": flops / t / 1e9})
    best = max(records, key=lambda r: r["gflops"])
    return {"best_gflops": best["gflops"], "best": best, "records": records}


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# --------------------------------------------------------------------------- the learned stepper
LEARNED_SIZES = ((4, 32), (6, 64), (10, 128))  # (layers, filters); 10 x 128 is the paper's 2-D network


def model_flops_per_step(config, n: int) -> float:
    """Floating-point operations of one learned step on an ``n^ndim`` grid (convolutions + stencil sums)."""
    cells = n**config.ndim
    k = config.kernel_size**config.ndim
    channels = [1 + config.ndim] + [config.filters] * (config.layers - 1) + [config.ndim * (config.stencil_size - 1)]
    conv = sum(2.0 * cin * cout * k * cells for cin, cout in zip(channels[:-1], channels[1:]))
    stencil = config.ndim * cells * (2.0 * config.stencil_size * (config.stencil_size - 1) + 2.0 * config.stencil_size)
    return conv + stencil


def bench_learned(
    sizes: Sequence[tuple[int, int]] = LEARNED_SIZES,
    n: int = 32,
    batches: Sequence[int] = (1, 16),
    repeats: int = 5,
    n_steps: int = 20,
    peak_gflops: float | None = None,
    progress: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Seconds per step of untrained 2-D learned steppers (weights do not change the cost), per sample and batched."""
    from .models import ModelConfig, build_model

    grid = Grid.square(n, 2 * np.pi)
    velocity = random_sinusoidal(grid, seed=0, max_speed=3.0)
    dt = 0.5 * grid.spacing[0] / 3.0
    mesh = grid.mesh()
    c0 = jnp.asarray(np.exp(-2.0 * sum((m - np.pi) ** 2 for m in mesh)), jnp.result_type(float))
    out = []
    # the sizes in float32, then the first size with each inference option of the shipped model
    cases = [(layers, filters, {}) for layers, filters in sizes]
    cases += [(*sizes[0], opts) for opts in ({"precision": "bfloat16"}, {"limiter": "fct"}, {"symmetry": "d4"})]
    for layers, filters, opts in cases:
        config = ModelConfig(ndim=2, layers=layers, filters=filters, stencil=(4, 5), velocity_input="courant", **opts)
        model = build_model(config, jax.random.PRNGKey(0))
        # network FLOPs (the flux update is negligible); the D4 average runs the network on 8 images
        flops = model_flops_per_step(config, n) * (8 if config.symmetry == "d4" else 1)
        for batch in batches:
            cb = jnp.broadcast_to(c0, (batch, *c0.shape))
            vb = tuple(jnp.broadcast_to(u, (batch, *u.shape)) for u in velocity)
            step = jax.vmap(lambda c, *v: model(c, v, dt, grid.spacing))
            steps = max(2, min(n_steps, int(4e9 // (flops * batch))))  # about the same work per case
            times = time_scan(lambda c: step(c, *vb), cb, steps, repeats)
            t = statistics.median(times)
            gflops = flops * batch / t / 1e9
            label = f"learned {layers}x{filters}" + {"precision": " bf16", "limiter": " fct", "symmetry": " d4"}.get(
                next(iter(opts), ""), "")
            record = {"implementation": "learned-advection", "scheme": label, "layers": layers,
                      "filters": filters, "precision": config.precision, "limiter": config.limiter,
                      "symmetry": config.symmetry, "n": n, "batch": batch, "us_per_step": t * 1e6,
                      "ms_per_step_per_sample": t * 1e3 / batch, "mcups": n * n * batch / t / 1e6,
                      "flops_per_step_per_sample": flops, "gflops": gflops,
                      "utilization": None if not peak_gflops else gflops / peak_gflops}
            out.append(record)
            if progress is not None:
                progress(record)
    return out


def environment() -> dict:
    import os

    return {
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "x64": bool(jax.config.jax_enable_x64),
    }


def run(quick: bool = False, progress: Callable[[BenchResult], None] | None = None) -> dict:
    """Everything ``learned-advection bench`` reports, as a JSON-ready dict."""
    repeats = 3 if quick else 7
    sizes_1d = (256,) if quick else SIZES_1D
    sizes_2d = (64,) if quick else SIZES_2D
    ours = bench_schemes(sizes_1d=sizes_1d, sizes_2d=sizes_2d, repeats=repeats, quick=quick, progress=progress)
    ok, why = jax_cfd_available()
    theirs: list[BenchResult] = []
    if ok:
        try:
            theirs = bench_jax_cfd(sizes=(64,) if quick else JAX_CFD_SIZES, repeats=repeats, quick=quick, progress=progress)
        except Exception as e:  # an incompatible jax-cfd fails when traced
            ok, why = False, f"jax-cfd failed with this JAX: {type(e).__name__}: {e}".splitlines()[0]
    peak = matmul_peak(sizes=(512,) if quick else (2048, 4096), repeats=2 if quick else 3)
    learned = bench_learned(sizes=((4, 32),) if quick else LEARNED_SIZES, batches=(1, 4) if quick else (1, 16),
                            repeats=repeats, n_steps=5 if quick else 20, peak_gflops=peak["best_gflops"])
    comparison = []
    for r in theirs:
        mine = next((m for m in ours if m.scheme == "vanleer" and m.ndim == 2 and m.n == r.n), None)
        if mine is not None:
            comparison.append({"n": r.n, "ours_mcups": mine.mcups, "jax_cfd_mcups": r.mcups, "speedup": mine.mcups / r.mcups})
    return {
        "environment": environment(),
        "quick": quick,
        "results": [r.as_dict() for r in ours + theirs],
        "jax_cfd": {"available": ok, "note": why or "advect_van_leer + forward Euler (unsplit, one reconstruction per axis)"},
        "vanleer_vs_jax_cfd": comparison,
        "matmul_peak": peak,
        "learned": learned,
    }


def format_table(report: dict) -> str:
    head = f"{'implementation':<18} {'scheme':<34} {'dim':>3} {'cells':>9} {'us/step':>10} {'Mcell/s':>9}"
    rows = [head, "-" * len(head)]
    for r in report["results"]:
        size = f"{r['n']}" if r["ndim"] == 1 else f"{r['n']}^2"
        rows.append(
            f"{r['implementation']:<18} {r['scheme']:<34} {r['ndim']:>3} {size:>9} {r['us_per_step']:10.1f} {r['mcups']:9.1f}"
        )
    if not report["jax_cfd"]["available"]:
        rows.append(f"(jax-cfd: {report['jax_cfd']['note']})")
    peak = report.get("matmul_peak")
    if peak:
        rows.append(f"best float32 matmul: {peak['best_gflops']:.1f} GFLOP/s ({peak['best']['implementation']}, "
                    f"{peak['best']['n']}^2)")
    for r in report.get("learned", []):
        util = "" if r["utilization"] is None else f", {100 * r['utilization']:.1f}% of matmul peak"
        rows.append(f"{r['scheme']:<16} {r['n']}^2 batch {r['batch']:>3}: {r['ms_per_step_per_sample']:8.3f} ms/step/sample, "
                    f"{r['gflops']:6.2f} GFLOP/s{util}")
    for c in report["vanleer_vs_jax_cfd"]:
        rows.append(f"Van Leer {c['n']}^2: ours / jax-cfd cell-updates per second = {c['speedup']:.2f}")
    return "\n".join(rows)
