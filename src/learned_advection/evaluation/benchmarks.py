"""Throughput of the classical schemes (and, when installed, jax-cfd's Van Leer for comparison), of the
learned stepper for several network sizes (per sample and batched, with its achieved FLOP/s next to the
machine's best float32 matrix-multiply FLOP/s measured in the same run: ``utilization``).

Each case is a jitted ``lax.scan`` over ``n_steps`` steps; it is compiled and run once (warm-up),
then timed ``repeats`` times with ``block_until_ready``; the median is reported as microseconds
per step and million cell updates per second.  The velocity is a random periodic divergence-free
flow (2-D) or a uniform one (1-D) at Courant number 0.5.

The velocity is a *runtime input* of the compiled scan, as in any simulation whose flow changes in
time (the turbulence data, a coupled solver).  Closed over as a constant it lets XLA fold every
velocity-only expression (Courant numbers, upwind selections, limiter weights) at compile time; the
2-D Van Leer comparison with jax-cfd is also timed that way (``velocity="constant"``), since it
changes jax-cfd's cost much more than ours.  Ours is also timed as a steady run takes it
(``velocity="steady"``: :meth:`~learned_advection.numerics.steppers.Stepper.prepare` once, its arrays
runtime inputs of every step, as :func:`~learned_advection.numerics.rollout.rollout` does for a
constant velocity) and set against jax-cfd's closed-over velocity.  Each 2-D Van Leer case is timed with XLA's default CPU
vector width and with 512-bit vectors (``xla_cpu_prefer_vector_width``, per compilation), which
AVX-512 CPUs execute at twice the lanes (``vector_width`` in the records; ``None`` is XLA's default).
"""

from __future__ import annotations

import dataclasses
import os
import platform
import statistics
from collections.abc import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from learned_advection.numerics.grids import Grid
from learned_advection.numerics.rollout import Repeated
from learned_advection.numerics.steppers import SCHEMES, VANLEER, FluxFormStepper, get_scheme
from learned_advection.flows.velocity import random_sinusoidal
from learned_advection.evaluation.timing import time_calls

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
    velocity: str = "input"  # "input": a runtime argument; "constant": closed over, folded by XLA;
    # "steady": Stepper.prepare once, its arrays runtime arguments of every step (as rollout runs a steady flow)
    vector_width: int | None = None  # xla_cpu_prefer_vector_width of the compilation; None = XLA's default

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


def scan_steps(step: Callable, n_steps: int) -> Callable:
    """``jax.jit`` of ``(c, *args) -> c`` after ``n_steps`` applications of ``step(c, *args)`` (one ``lax.scan``)."""
    return jax.jit(lambda c, *a: jax.lax.scan(lambda c, _: (step(c, *a), None), c, None, length=n_steps)[0])


def time_scan(
    step: Callable, c0, n_steps: int, repeats: int, args: Sequence = (), vector_width: int | None = None
) -> list[float]:
    """Seconds per step of ``repeats`` timed runs of a jitted scan of ``step(c, *args) -> c`` (after a warm-up run).

    ``args`` are runtime inputs of the compiled scan (not constants XLA can fold); ``vector_width``
    compiles with ``xla_cpu_prefer_vector_width`` set (CPU only; ``None`` keeps XLA's default).
    """
    scan = scan_steps(step, n_steps)
    args = tuple(args)
    if vector_width is None:
        run = scan
    else:
        run = scan.lower(c0, *args).compile(compiler_options={"xla_cpu_prefer_vector_width": int(vector_width)})
    return [t / n_steps for t in time_calls(run, (c0, *args), repeats)]


def _result(impl: str, scheme: str, ndim: int, n: int, n_steps: int, times: Sequence[float], **settings) -> BenchResult:
    t = statistics.median(times)
    cells = n**ndim
    return BenchResult(impl, scheme, ndim, n, cells, n_steps, len(times), t * 1e6, cells / t / 1e6, **settings)


def wide_vectors_supported() -> bool:
    """Whether the CPU has AVX-512 (so 512-bit vectors are worth timing); False off x86 Linux."""
    if jax.default_backend() != "cpu":
        return False
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and " avx512f" in line for line in f)
    except OSError:
        return False


def _steps_for(cells: int, quick: bool) -> int:
    """About the same work per case: many steps on small grids, fewer on large ones."""
    target = 2e6 if quick else 2e7  # cell updates per timed run
    return int(min(1000 if not quick else 100, max(10, target // cells)))


def bench_schemes(
    schemes: Sequence[str | FluxFormStepper] = tuple(SCHEMES),
    sizes_1d: Sequence[int] = SIZES_1D,
    sizes_2d: Sequence[int] = SIZES_2D,
    repeats: int = 5,
    quick: bool = False,
    progress: Callable[[BenchResult], None] | None = None,
    variants_2d: Mapping[str, Sequence[tuple[str, int | None]]] | None = None,
) -> list[BenchResult]:
    """Every scheme (a name of :data:`SCHEMES` or a stepper) at every size (velocity a runtime input, XLA's
    default vector width), and in 2-D also with each ``(velocity, vector_width)`` that ``variants_2d`` lists
    for the scheme's name (see the module doc)."""
    out = []
    steppers = [get_scheme(s) if isinstance(s, str) else s for s in schemes]
    for ndim, sizes in ((1, sizes_1d), (2, sizes_2d)):
        for n in sizes:
            grid, c0, velocity, dt = _problem(ndim, n)
            n_steps = _steps_for(n**ndim, quick)
            for scheme in steppers:
                name = scheme.name
                variants = [("input", None)]
                if ndim == 2:
                    variants += [v for v in (variants_2d or {}).get(name, ()) if v != ("input", None)]
                for vel_mode, width in variants:
                    if vel_mode == "input":
                        step, args = (lambda c, *v, s=scheme: s(c, v, dt, grid.spacing)), tuple(velocity)
                    elif vel_mode == "steady":  # prepared once, as rollout does for a constant velocity
                        step = lambda c, p, v, s=scheme: s.advance(c, p, v, dt, grid.spacing)  # noqa: E731
                        args = (scheme.prepare(velocity, dt, grid.spacing), tuple(velocity))
                    else:
                        step, args = (lambda c, s=scheme: s(c, velocity, dt, grid.spacing)), ()
                    times = time_scan(step, c0, n_steps, repeats, args=args, vector_width=width)
                    out.append(_result("learned-advection", name, ndim, n, n_steps, times, velocity=vel_mode,
                                       vector_width=width))
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


def jax_cfd_van_leer_step(grid: Grid, dt: float) -> Callable:
    """jax-cfd's ``advect_van_leer`` with forward Euler, on our grid and C-grid velocities:
    ``step(c_xy, vy, vx) -> c_xy``.

    jax-cfd orders axes ``(x, y)``; our arrays are ``(y, x)``, so arrays are passed transposed (the
    ``+`` face of a cell has offset 1 along its axis in jax-cfd's convention).
    """
    from jax_cfd.base import advection, boundaries
    from jax_cfd.base import grids as cfd_grids

    ny, nx = grid.shape
    cgrid = cfd_grids.Grid((nx, ny), domain=((0.0, grid.length[1]), (0.0, grid.length[0])))
    bc = boundaries.periodic_boundary_conditions(2)

    def step(c_xy, vy, vx):
        v = (
            cfd_grids.GridVariable(cfd_grids.GridArray(vx.T, (1.0, 0.5), cgrid), bc),
            cfd_grids.GridVariable(cfd_grids.GridArray(vy.T, (0.5, 1.0), cgrid), bc),
        )
        cv = cfd_grids.GridVariable(cfd_grids.GridArray(c_xy, (0.5, 0.5), cgrid), bc)
        return c_xy + dt * advection.advect_van_leer(cv, v, dt).data

    return step


def bench_jax_cfd(
    sizes: Sequence[int] = JAX_CFD_SIZES,
    repeats: int = 5,
    quick: bool = False,
    progress: Callable[[BenchResult], None] | None = None,
    variants: Sequence[tuple[str, int | None]] = (("input", None),),
) -> list[BenchResult]:
    """jax-cfd's Van Leer at each size, once per ``(velocity, vector_width)`` of ``variants``."""
    out = []
    for n in sizes:
        grid, c0, velocity, dt = _problem(2, n)
        n_steps = _steps_for(n * n, quick)
        step = jax_cfd_van_leer_step(grid, dt)
        for vel_mode, width in variants:
            if vel_mode == "input":
                fn, args = step, tuple(velocity)
            else:
                fn, args = (lambda c: step(c, *velocity)), ()
            times = time_scan(fn, c0.T, n_steps, repeats, args=args, vector_width=width)
            out.append(_result("jax-cfd", "vanleer (advect_van_leer + Euler)", 2, n, n_steps, times,
                               velocity=vel_mode, vector_width=width))
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
        t = min(time_calls(lambda: a @ b, repeats=repeats))
        records.append({"implementation": "numpy", "n": n, "gflops": flops / t / 1e9})
        ja, jb = jnp.asarray(a), jnp.asarray(b)
        t = min(time_calls(jax.jit(jnp.matmul), (ja, jb), repeats))
        records.append({"implementation": "jax", "n": n, "gflops": flops / t / 1e9})
    best = max(records, key=lambda r: r["gflops"])
    return {"best_gflops": best["gflops"], "best": best, "records": records}


# --------------------------------------------------------------------------- the learned stepper
def _batched_blob(grid: Grid, max_speed: float, batch: int):
    """A Gaussian blob in a random divergence-free flow on a ``2 pi`` periodic square, repeated ``batch`` times."""
    velocity = random_sinusoidal(grid, seed=0, max_speed=max_speed)
    c0 = jnp.asarray(np.exp(-2.0 * sum((m - np.pi) ** 2 for m in grid.mesh())), jnp.result_type(float))
    return jnp.broadcast_to(c0, (batch, *c0.shape)), tuple(jnp.broadcast_to(u, (batch, *u.shape)) for u in velocity)


LEARNED_SIZES = ((4, 32), (6, 64), (10, 128))  # (layers, filters); 10 x 128 is the paper's 2-D network
SMALL_SIZES = ((1, 8), (2, 16), (3, 16), (2, 32))  # lever 3 of issue 17: networks sized to the cost budget


def model_flops_per_step(config, n: int) -> float:
    """Floating-point operations of one learned step on an ``n^ndim`` grid (convolutions + stencil sums)."""
    cells = n**config.ndim
    channels = [1 + config.ndim] + [config.filters] * (config.layers - 1) + [config.ndim * (config.stencil_size - 1)]
    conv = sum(2.0 * cin * cout * k**config.ndim * cells
               for cin, cout, k in zip(channels[:-1], channels[1:], config.kernel_sizes))
    stencil = config.ndim * cells * (2.0 * config.stencil_size * (config.stencil_size - 1) + 2.0 * config.stencil_size)
    return conv + stencil


# inference options timed on the first size: (label, ModelConfig options, step multiple k: Courant ~k/2)
LEARNED_OPTIONS = (
    (" bf16", {"precision": "bfloat16"}, 1), (" fct", {"limiter": "fct"}, 1), (" d4", {"symmetry": "d4"}, 1),
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

    Every size in float32, then the first size with each of ``options`` (``(label, ModelConfig options, k)``: the
    step is ``k`` times the Courant-0.5 step).  Batch 1 runs the one sample's step (no batch axis), larger
    batches ``jax.vmap`` of it.
    """
    from learned_advection.learned.models import ModelConfig, build_model

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
            record = {"implementation": "learned-advection", "scheme": f"learned {layers}x{filters}{label}",
                      "layers": layers, "filters": filters, "precision": config.precision, "limiter": config.limiter,
                      "symmetry": config.symmetry, "large_step": config.large_step,
                      "base_scheme": config.base_scheme, "k": k, "n": n, "batch": batch,
                      "us_per_step": t * 1e6, "ms_per_step_per_sample": t * 1e3 / batch, "mcups": n * n * batch / t / 1e6,
                      "flops_per_step_per_sample": flops, "gflops": gflops,
                      "utilization": None if not peak_gflops else gflops / peak_gflops}
            out.append(record)
            if progress is not None:
                progress(record)
    return out


def learned_only(quick: bool = False, progress: Callable[[dict], None] | None = None) -> dict:
    """``bench --learned``: the learned stepper at the sizes of issue 17's lever 3 (1 x 8 to 4 x 32) and the
    paper's, with every inference option and large step on 4 x 32 (``quick``: on 1 x 8), and the matmul peak of
    the same run."""
    peak = matmul_peak(sizes=(512,) if quick else (2048, 4096), repeats=2 if quick else 3)
    sizes = ((1, 8), (2, 8)) if quick else ((4, 32), *SMALL_SIZES, *LEARNED_SIZES[1:])  # quick: the options on 1 x 8
    learned = bench_learned(sizes=sizes, batches=(1, 4) if quick else (1, 16), repeats=3 if quick else 7,
                            n_steps=5 if quick else 40, peak_gflops=peak["best_gflops"], progress=progress,
                            options=LEARNED_OPTIONS)
    return {"environment": environment(), "quick": quick, "matmul_peak": peak, "learned": learned}


def environment() -> dict:
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


def run(quick: bool = False, progress: Callable[[BenchResult], None] | None = None) -> dict:
    """Everything ``learned-advection bench`` reports, as a JSON-ready dict."""
    repeats = 3 if quick else 7
    sizes_1d = (256,) if quick else SIZES_1D
    sizes_2d = (64,) if quick else SIZES_2D
    widths = [None] + ([512] if wide_vectors_supported() else [])
    variants = [("input", w) for w in widths] + [("constant", None)]
    ours = bench_schemes(sizes_1d=sizes_1d, sizes_2d=sizes_2d, repeats=repeats, quick=quick, progress=progress,
                         variants_2d={"vanleer": variants + [("steady", None)]})
    versus = _versus_jax_cfd(ours, (64,) if quick else JAX_CFD_SIZES, repeats, quick, progress, variants)
    peak = matmul_peak(sizes=(512,) if quick else (2048, 4096), repeats=2 if quick else 3)
    learned = bench_learned(sizes=((4, 32),) if quick else LEARNED_SIZES, batches=(1, 4) if quick else (1, 4, 16),
                            repeats=repeats, n_steps=5 if quick else 20, peak_gflops=peak["best_gflops"])
    return {"environment": environment(), "quick": quick, **versus,
            "results": [r.as_dict() for r in ours] + versus["results"], "matmul_peak": peak, "learned": learned}


# ours timed in each of these modes is set against jax-cfd timed in the mode it maps to
_THEIR_MODE = {"input": "input", "constant": "constant", "steady": "constant"}


def _versus_jax_cfd(ours: Sequence[BenchResult], sizes, repeats, quick, progress, variants) -> dict:
    """jax-cfd's Van Leer at ``sizes`` (when it runs) and the ratio of cell-update rates against ours."""
    ok, why = jax_cfd_available()
    theirs: list[BenchResult] = []
    if ok:
        try:
            theirs = bench_jax_cfd(sizes=sizes, repeats=repeats, quick=quick, progress=progress, variants=variants)
        except Exception as e:  # an incompatible jax-cfd fails when traced
            ok, why = False, f"jax-cfd failed with this JAX: {type(e).__name__}: {e}".splitlines()[0]
    comparison = []
    for m in ours:
        if m.scheme not in ("vanleer", UNSPLIT_VANLEER.name) or m.ndim != 2:
            continue
        r = next((r for r in theirs if r.n == m.n and (r.velocity, r.vector_width) == (_THEIR_MODE[m.velocity],
                                                                                      m.vector_width)), None)
        if r is not None:
            comparison.append({"scheme": m.scheme, "n": m.n, "velocity": m.velocity, "jax_cfd_velocity": r.velocity,
                               "vector_width": m.vector_width, "ours_mcups": m.mcups, "jax_cfd_mcups": r.mcups,
                               "speedup": m.mcups / r.mcups})
    return {"results": [r.as_dict() for r in theirs],
            "jax_cfd": {"available": ok,
                        "note": why or "advect_van_leer + forward Euler (unsplit, one reconstruction per axis)"},
            "vanleer_vs_jax_cfd": comparison}


UNSPLIT_VANLEER = FluxFormStepper("vanleer-unsplit", VANLEER.interpolation, "unsplit", 1,
                                   "Van Leer faces, unsplit forward Euler (the scheme class of jax-cfd's advect_van_leer)")
"""Our Van Leer reconstruction stepped as jax-cfd steps its own: both axes from the same state (two 1-D
reconstructions per step to Lin & Rood's four), for a like-for-like timing; first order in the cross terms."""


def diagonal_accuracy(n: int = 128, courants: Sequence[float] = (0.25, 0.4)) -> list[dict]:
    """What each step buys: a Gaussian (standard deviation 0.05 of the domain) carried once across a periodic
    ``n^2`` grid by a uniform diagonal flow, whose exact solution is the initial field.  For each Courant
    number per axis in ``courants``: the relative L1 error and the largest value after ``n / courant`` steps
    of our Van Leer (Lin & Rood), of :data:`UNSPLIT_VANLEER` and of jax-cfd's ``advect_van_leer`` with
    forward Euler (when it runs).  A largest value above 1 is a new maximum (growth)."""
    grid = Grid.square(n, 1.0)
    mesh = grid.mesh()
    c0 = jnp.asarray(np.exp(-sum((m - 0.5) ** 2 for m in mesh) / (2 * 0.05**2)), jnp.result_type(float))
    velocity = tuple(jnp.ones(grid.shape, c0.dtype) for _ in range(2))
    out = []
    for courant in courants:
        dt = courant * grid.spacing[0]
        steps = int(round(n / courant))
        cases = {"vanleer (lin-rood)": (lambda c, dt=dt: VANLEER(c, velocity, dt, grid.spacing), c0),
                 UNSPLIT_VANLEER.name: (lambda c, dt=dt: UNSPLIT_VANLEER(c, velocity, dt, grid.spacing), c0)}
        if jax_cfd_available()[0]:
            cfd = jax_cfd_van_leer_step(grid, dt)
            cases["jax-cfd advect_van_leer"] = (lambda c, cfd=cfd: cfd(c, *velocity), c0.T)
        for name, (step, start) in cases.items():
            end = scan_steps(step, steps)(start)
            out.append({"scheme": name, "n": n, "courant_per_axis": courant, "steps": steps,
                        "relative_l1": float(jnp.sum(jnp.abs(end - start)) / jnp.sum(jnp.abs(start))),
                        "max": float(jnp.max(end))})
    return out


def vanleer_vs_jax_cfd(quick: bool = False, repeats: int | None = None,
                       progress: Callable[[BenchResult], None] | None = None, kernels: bool = False) -> dict:
    """Only the 2-D Van Leer side-by-side with jax-cfd (what ``bench --vs-jax-cfd`` prints): ours with the
    velocity a runtime input, closed over, and prepared once (steady); jax-cfd's input and closed over;
    each with XLA's default vector width and, on AVX-512 CPUs, 512-bit vectors.  ``kernels``: also
    :func:`kernel_profiles` at the same sizes (``report["kernels"]``)."""
    repeats = repeats or (3 if quick else 7)
    sizes = (64,) if quick else JAX_CFD_SIZES
    widths = [None] + ([512] if wide_vectors_supported() else [])
    variants = [(mode, w) for w in widths for mode in ("input", "constant")]
    # ours also stepped unsplit, as jax-cfd steps its own (no steady variant: it prepares nothing)
    ours = bench_schemes(schemes=(VANLEER, UNSPLIT_VANLEER), sizes_1d=(), sizes_2d=sizes, repeats=repeats,
                         quick=quick, progress=progress,
                         variants_2d={"vanleer": variants + [("steady", w) for w in widths], UNSPLIT_VANLEER.name: variants})
    versus = _versus_jax_cfd(ours, sizes, repeats, quick, progress, variants)
    report = {"environment": environment(), "quick": quick, **versus,
              "results": [r.as_dict() for r in ours] + versus["results"],
              "diagonal_accuracy": diagonal_accuracy(64 if quick else 128)}
    if kernels:
        report["kernels"] = kernel_profiles(sizes, quick)
    return report


def kernel_times(step: Callable, c0, n_steps: int, args: Sequence = ()) -> dict:
    """Where a step's time goes: microseconds per step spent in each compiled kernel (XLA thunk: a fused
    loop, a copy, a concatenate) of a jitted scan of ``step(c, *args) -> c``, summed over threads.

    From one profiled run (JAX's profiler with XLA's per-kernel trace events switched on for this compilation,
    ``xla_cpu_enable_xprof_traceme``; CPU only) after an untimed warm-up run; the tracing itself adds a little to
    every kernel.  Returns ``{"kernels": [{"kernel", "us_per_step"}, ...] (largest first), "threads": how many
    threads ran a kernel, "wall_us_per_step": the profiled run's wall time per step}``.
    """
    import glob
    import shutil
    import tempfile
    import time

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
                if ("Execute" in name or name.startswith(("end:", "while", "$", "Pjit", "Threadpool"))
                        or " " in name or "::" in name):
                    continue
                totals[name] = totals.get(name, 0.0) + event.duration_ns
                threads.add((plane.name, line.name))
    kernels = sorted(({"kernel": k, "us_per_step": v / 1e3 / n_steps} for k, v in totals.items()),
                     key=lambda r: -r["us_per_step"])
    return {"kernels": kernels, "threads": len(threads), "wall_us_per_step": wall / n_steps * 1e6}


def kernel_profiles(sizes: Sequence[int], quick: bool = False) -> list[dict]:
    """:func:`kernel_times` of our steady 2-D Van Leer (prepared once) and of jax-cfd's with its velocity closed
    over (when it runs), at each size."""
    out = []
    ok, _ = jax_cfd_available()
    for n in sizes:
        grid, c0, velocity, dt = _problem(2, n)
        n_steps = max(10, _steps_for(n * n, quick) // 4)
        prepared = VANLEER.prepare(velocity, dt, grid.spacing)
        cases = [("learned-advection", "steady",
                  lambda c, p, v: VANLEER.advance(c, p, v, dt, grid.spacing), c0, (prepared, tuple(velocity)))]
        if ok:
            cfd = jax_cfd_van_leer_step(grid, dt)
            cases.append(("jax-cfd", "constant", lambda c: cfd(c, *velocity), c0.T, ()))
        for impl, mode, step, start, args in cases:
            out.append({"implementation": impl, "n": n, "velocity": mode, **kernel_times(step, start, n_steps, args)})
    return out


def _settings(r: dict) -> str:
    """'' for the default case, else e.g. ' [512-bit, velocity constant]'."""
    parts = []
    if r.get("vector_width"):
        parts.append(f"{r['vector_width']}-bit")
    if r.get("velocity", "input") != "input":
        parts.append(f"velocity {r['velocity']}")
    return f" [{', '.join(parts)}]" if parts else ""


def format_progress(r: BenchResult) -> str:
    """One line for a finished case, e.g. ``  learned-advection vanleer 2-D n=64: 35.1 us/step [512-bit]``."""
    return f"  {r.implementation} {r.scheme} {r.ndim}-D n={r.n}: {r.us_per_step:.1f} us/step{_settings(r.as_dict())}"


def format_learned_progress(r: dict) -> str:
    """One line for a finished learned-stepper case (a :func:`bench_learned` record)."""
    return f"  {r['scheme']} batch {r['batch']}: {r['ms_per_step_per_sample']:.3f} ms/step/sample"


def format_table(report: dict) -> str:
    head = f"{'implementation':<18} {'scheme':<34} {'dim':>3} {'cells':>9} {'us/step':>10} {'Mcell/s':>9}"
    rows = [head, "-" * len(head)] if report.get("results") else []
    for r in report.get("results", []):
        size = f"{r['n']}" if r["ndim"] == 1 else f"{r['n']}^2"
        rows.append(
            f"{r['implementation']:<18} {r['scheme']:<34} {r['ndim']:>3} {size:>9} {r['us_per_step']:10.1f} {r['mcups']:9.1f}"
            + _settings(r)
        )
    if "jax_cfd" in report and not report["jax_cfd"]["available"]:
        rows.append(f"(jax-cfd: {report['jax_cfd']['note']})")
    peak = report.get("matmul_peak")
    if peak:
        rows.append(f"best float32 matmul: {peak['best_gflops']:.1f} GFLOP/s ({peak['best']['implementation']}, "
                    f"{peak['best']['n']}^2)")
    for r in report.get("learned", []):
        util = "" if r["utilization"] is None else f", {100 * r['utilization']:.1f}% of matmul peak"
        rows.append(f"{r['scheme']:<24} {r['n']}^2 batch {r['batch']:>3}: {r['ms_per_step_per_sample']:8.3f} ms/step/sample, "
                    f"{r['gflops']:6.2f} GFLOP/s{util}")
    for p in report.get("kernels", []):
        top = ", ".join(f"{k['kernel']} {k['us_per_step']:.1f}" for k in p["kernels"][:6])
        rows.append(f"kernels of {p['implementation']} {p['n']}^2 (velocity {p['velocity']}), us per step: {top}; "
                    f"all kernels {sum(k['us_per_step'] for k in p['kernels']):.1f} in {len(p['kernels'])} kernels on "
                    f"{p['threads']} thread(s), wall {p['wall_us_per_step']:.1f} (profiled)")
    for c in report.get("vanleer_vs_jax_cfd", []):
        theirs = c.get("jax_cfd_velocity", c.get("velocity", "input"))
        against = "" if theirs == c.get("velocity", "input") else f" (jax-cfd's velocity {theirs})"
        scheme = " (ours unsplit, jax-cfd's scheme class)" if c.get("scheme") == UNSPLIT_VANLEER.name else ""
        rows.append(f"Van Leer {c['n']}^2{scheme}: ours / jax-cfd cell-updates per second = {c['speedup']:.2f}"
                    f"{_settings(c)}" + against)
    for a in report.get("diagonal_accuracy", []):
        rows.append(f"diagonal translation once across {a['n']}^2, Courant {a['courant_per_axis']} per axis, "
                    f"{a['steps']} steps: {a['scheme']} relative L1 error {a['relative_l1']:.3g}, max {a['max']:.3g} (exact 1)")
    return "\n".join(rows)


# --------------------------------------------------------------------------- the paper's speed claim
def paper_model_vs_vanleer(config, batches: Sequence[int] = (1, 8, 64), repeats: int = 5, coarse_steps: int = 8) -> dict:
    """The paper's Sec. IV comparison on this JAX device: its learned model (``config``, a 2-D
    :class:`~learned_advection.learned.models.ModelConfig`: the paper's is 10 x 128) at 32^2 against
    Van Leer at 128^2 (the accuracy it matches), each advancing the same simulated time.

    One coarse step of the learned model is one step at 32^2; for Van Leer at 128^2 it is 4 steps of a
    quarter of the time step (Courant number 0.5 at 128^2).  The network's weights do not change its
    cost, so an untrained model is timed.  The velocity is a runtime input.  Returns per batch size the
    milliseconds per coarse step per sample of both and ``learned_speedup`` (> 1: the learned model is
    faster).  The paper reports the learned model 80% faster on a V100 GPU.
    """
    from learned_advection.learned.models import build_model

    model = build_model(config, jax.random.PRNGKey(0))
    coarse, fine = Grid.square(32, 2 * np.pi), Grid.square(128, 2 * np.pi)
    u_max = 1.0
    dt = 0.5 * coarse.spacing[0] / u_max  # Courant 0.5 at 32^2, and at 128^2 for the 4 sub-steps of dt / 4
    vanleer = Repeated(get_scheme("vanleer"), 4)
    records = []
    for batch in batches:
        runs = {}
        for name, grid, stepper in (("learned-32", coarse, model), ("vanleer-128", fine, vanleer)):
            cb, vb = _batched_blob(grid, u_max, batch)
            one = lambda c, *v, g=grid, s=stepper: s(c, v, dt, g.spacing)  # noqa: E731
            times = time_scan(jax.vmap(one), cb, coarse_steps, repeats, args=vb)
            runs[name] = statistics.median(times) * 1e3 / batch
        records.append({"batch": batch, "learned_ms_per_coarse_step_per_sample": runs["learned-32"],
                        "vanleer128_ms_per_coarse_step_per_sample": runs["vanleer-128"],
                        "learned_speedup": runs["vanleer-128"] / runs["learned-32"]})
    device = jax.devices()[0]
    return {"environment": environment(), "device_kind": getattr(device, "device_kind", str(device)),
            "model": config.to_dict(), "records": records}


def format_paper_comparison(report: dict) -> str:
    rows = [f"paper-sized model ({report['model']['layers']} x {report['model']['filters']}) at 32^2 vs Van Leer at "
            f"128^2 on {report['device_kind']} ({report['environment']['backend']}), ms per coarse step per sample:"]
    for r in report["records"]:
        rows.append(f"  batch {r['batch']:>4}: learned {r['learned_ms_per_coarse_step_per_sample']:9.3f}   vanleer-128 "
                    f"{r['vanleer128_ms_per_coarse_step_per_sample']:9.3f}   learned speed-up {r['learned_speedup']:.2f}x")
    return "\n".join(rows)


# --------------------------------------------------------------------------- a grid split over devices
def bench_sharded(n: int = 1024, n_steps: int = 20, repeats: int = 3, scheme: str = "vanleer") -> dict:
    """A 2-D ``scheme`` run of ``n_steps`` steps on ``n^2`` cells split over all ``jax.devices()``
    (:mod:`~learned_advection.numerics.sharding`) against the same run on one device: time per step
    (median of ``repeats`` jitted rollouts, velocity a runtime input) and the largest difference of the
    final state, for the halo exchange (:func:`~learned_advection.numerics.sharding.sharded`) and for
    SPMD placement alone (the inputs placed on the mesh, the plain stepper; XLA makes the halos).

    On a CPU, ``learned-advection bench --shard --cpu-devices 4`` splits the host into 4 devices.
    """
    from learned_advection.numerics.rollout import rollout
    from learned_advection.numerics.sharding import grid_mesh, shard_fields, sharded

    grid, c0, velocity, dt = _problem(2, n)
    stepper = get_scheme(scheme)
    mesh = grid_mesh(grid.shape)
    cases = [("one device", stepper, jax.device_put((c0, tuple(velocity)), jax.devices()[0])),
             ("halo exchange", sharded(stepper, mesh), shard_fields((c0, tuple(velocity)), mesh)),
             ("SPMD placement", stepper, shard_fields((c0, tuple(velocity)), mesh))]
    records, reference = [], None
    for name, step, (c, vel) in cases:
        run = jax.jit(lambda c, *v, s=step: rollout(s, c, v, dt, grid.spacing, n_steps, save_every=n_steps)[-1])
        final = np.asarray(run(c, *vel))
        if reference is None:
            reference = final
        times = time_calls(run, (c, *vel), repeats)
        records.append({"case": name, "devices": 1 if name == "one device" else mesh.size,
                        "halo": getattr(step, "halo", None), "ms_per_step": 1e3 * statistics.median(times) / n_steps,
                        "max_abs_diff": float(np.max(np.abs(final - reference)))})
    return {"environment": environment(), "scheme": scheme, "n": n, "n_steps": n_steps, "repeats": repeats,
            "mesh": dict(mesh.shape), "max_abs_state": float(np.max(np.abs(reference))), "records": records}


def format_sharded(report: dict) -> str:
    mesh = " x ".join(f"{k} ({a})" for a, k in report["mesh"].items())
    rows = [f"{report['scheme']} {report['n']}^2, {report['n_steps']} steps, {report['environment']['backend']}, "
            f"mesh {mesh} of {len(report['environment']['devices'])} devices (max |C| {report['max_abs_state']:.3g}):"]
    for r in report["records"]:
        rows.append(f"  {r['case']:<15} {r['devices']} device(s): {r['ms_per_step']:9.3f} ms/step, "
                    f"max |difference| from one device {r['max_abs_diff']:.3g}")
    return "\n".join(rows)
