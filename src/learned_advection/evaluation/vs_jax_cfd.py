"""Our 2-D Van Leer against jax-cfd's ``advect_van_leer`` (``bench --vs-jax-cfd``): like for like (ours also
stepped unsplit, as jax-cfd steps its own), with the velocity a runtime input, closed over, or (ours)
prepared once; what each step buys on a diagonal translation (:func:`diagonal_accuracy`); and where the
time goes (:func:`kernel_profiles`).  jax-cfd is optional (the ``bench`` extra): without it, or with a
JAX it does not run on, only ours is timed and the report says why."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax.numpy as jnp
import numpy as np

from learned_advection.evaluation.machine import environment, wide_vectors_supported
from learned_advection.evaluation.profiling import kernel_times
from learned_advection.evaluation.scheme_bench import (
    BenchResult,
    bench_problem,
    bench_result,
    bench_schemes,
    scan_steps,
    steps_for,
    time_scan,
)
from learned_advection.numerics.grids import Grid
from learned_advection.numerics.schemes import VANLEER
from learned_advection.numerics.time_stepping import Unsplit

JAX_CFD_SIZES = (128, 256)


def jax_cfd_available() -> tuple[bool, str]:
    """Whether ``jax_cfd`` imports and runs with this JAX, and why not.

    Returns
    -------
    available : bool
    why : str
        ``""`` when available.
    """
    try:
        import jax_cfd.base  # noqa: F401
        from jax_cfd.base import advection  # noqa: F401
    except Exception as e:  # ImportError, or an incompatibility raised at import
        return False, f"jax-cfd not importable: {type(e).__name__}: {e}".splitlines()[0]
    return True, ""


def jax_cfd_van_leer_step(grid: Grid, dt: float) -> Callable:
    """jax-cfd's ``advect_van_leer`` with forward Euler, on our grid and C-grid velocities: ``step(c_xy, vy, vx) -> c_xy``.

    jax-cfd orders axes ``(x, y)``; our arrays are ``(y, x)``, so arrays are passed transposed (the
    ``+`` face of a cell has offset 1 along its axis in jax-cfd's convention).

    Parameters
    ----------
    grid : Grid
        A 2-D periodic grid.
    dt : float
        The time step.

    Returns
    -------
    callable
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
    """jax-cfd's Van Leer at each size, once per ``(velocity, vector_width)`` of ``variants``.

    Parameters
    ----------
    sizes : sequence of int, default JAX_CFD_SIZES
        Cells per axis.
    repeats : int, default 5
        Timed runs per case.
    quick : bool, default False
        Fewer steps per run.
    progress : callable, optional
        Called with each :class:`~learned_advection.evaluation.scheme_bench.BenchResult` as it is done.
    variants : sequence of (str, int or None)
        Settings: the velocity ``"input"`` or ``"constant"``, and the vector width.

    Returns
    -------
    list of BenchResult
    """
    out = []
    for n in sizes:
        grid, c0, velocity, dt = bench_problem(2, n)
        n_steps = steps_for(n * n, quick)
        step = jax_cfd_van_leer_step(grid, dt)
        for vel_mode, width in variants:
            if vel_mode == "input":
                fn, args = step, tuple(velocity)
            else:
                fn, args = (lambda c: step(c, *velocity)), ()
            times = time_scan(fn, c0.T, n_steps, repeats, args=args, vector_width=width)
            out.append(
                bench_result(
                    "jax-cfd",
                    "vanleer (advect_van_leer + Euler)",
                    2,
                    n,
                    n_steps,
                    times,
                    velocity=vel_mode,
                    vector_width=width,
                )
            )
            if progress is not None:
                progress(out[-1])
    return out


# ours timed in each of these modes is set against jax-cfd timed in the mode it maps to
_THEIR_MODE = {"input": "input", "constant": "constant", "steady": "constant"}


def versus_jax_cfd(ours: Sequence[BenchResult], sizes, repeats, quick, progress, variants) -> dict:
    """jax-cfd's Van Leer at ``sizes`` (when it runs) and the ratio of cell-update rates against ours.

    Parameters
    ----------
    ours : sequence of BenchResult
        Our timings (the 2-D Van Leer ones, Lin & Rood and unsplit, are compared).
    sizes : sequence of int
        Cells per axis of jax-cfd's runs.
    repeats : int
        Timed runs per case.
    quick : bool
        Fewer steps per run.
    progress : callable or None
        Called with each result as it is done.
    variants : sequence of (str, int or None)
        jax-cfd's settings (see :func:`bench_jax_cfd`); ours in each setting is set against jax-cfd's
        in the setting it maps to (ours ``"steady"`` against jax-cfd's ``"constant"``).

    Returns
    -------
    dict
        ``results`` (jax-cfd's, as dicts), ``jax_cfd`` (``available`` and a ``note``) and
        ``vanleer_vs_jax_cfd`` (one comparison per case of ours).
    """
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
        r = next(
            (
                r
                for r in theirs
                if r.n == m.n and (r.velocity, r.vector_width) == (_THEIR_MODE[m.velocity], m.vector_width)
            ),
            None,
        )
        if r is not None:
            comparison.append(
                {
                    "scheme": m.scheme,
                    "n": m.n,
                    "velocity": m.velocity,
                    "jax_cfd_velocity": r.velocity,
                    "vector_width": m.vector_width,
                    "ours_mcups": m.mcups,
                    "jax_cfd_mcups": r.mcups,
                    "speedup": m.mcups / r.mcups,
                }
            )
    return {
        "results": [r.as_dict() for r in theirs],
        "jax_cfd": {
            "available": ok,
            "note": why or "advect_van_leer + forward Euler (unsplit, one reconstruction per axis)",
        },
        "vanleer_vs_jax_cfd": comparison,
    }


UNSPLIT_VANLEER = Unsplit(
    "vanleer-unsplit",
    VANLEER.interpolation,
    1,
    "Van Leer faces, unsplit forward Euler (the scheme class of jax-cfd's advect_van_leer)",
)
"""Our Van Leer reconstruction stepped as jax-cfd steps its own: both axes from the same state (two 1-D
reconstructions per step to Lin & Rood's four), for a like-for-like timing; first order in the cross terms."""


def diagonal_accuracy(n: int = 128, courants: Sequence[float] = (0.25, 0.4)) -> list[dict]:
    """What each step buys: a Gaussian carried once across a periodic grid by a uniform diagonal flow.

    The Gaussian has standard deviation 0.05 of the domain; the exact solution is the initial field.
    For each Courant number per axis: the relative L1 error and the largest value after
    ``n / courant`` steps of our Van Leer (Lin & Rood), of :data:`UNSPLIT_VANLEER` and of jax-cfd's
    ``advect_van_leer`` with forward Euler (when it runs).  A largest value above 1 is a new maximum
    (growth).

    Parameters
    ----------
    n : int, default 128
        Cells per axis.
    courants : sequence of float, default (0.25, 0.4)
        Courant numbers per axis.

    Returns
    -------
    list of dict
        One record per scheme and Courant number.
    """
    grid = Grid.square(n, 1.0)
    mesh = grid.mesh()
    c0 = jnp.asarray(np.exp(-sum((m - 0.5) ** 2 for m in mesh) / (2 * 0.05**2)), jnp.result_type(float))
    velocity = tuple(jnp.ones(grid.shape, c0.dtype) for _ in range(2))
    out = []
    for courant in courants:
        dt = courant * grid.spacing[0]
        steps = int(round(n / courant))
        cases = {
            "vanleer (lin-rood)": (lambda c, dt=dt: VANLEER(c, velocity, dt, grid.spacing), c0),
            UNSPLIT_VANLEER.name: (lambda c, dt=dt: UNSPLIT_VANLEER(c, velocity, dt, grid.spacing), c0),
        }
        if jax_cfd_available()[0]:
            cfd = jax_cfd_van_leer_step(grid, dt)
            cases["jax-cfd advect_van_leer"] = (lambda c, cfd=cfd: cfd(c, *velocity), c0.T)
        for name, (step, start) in cases.items():
            end = scan_steps(step, steps)(start)
            out.append(
                {
                    "scheme": name,
                    "n": n,
                    "courant_per_axis": courant,
                    "steps": steps,
                    "relative_l1": float(jnp.sum(jnp.abs(end - start)) / jnp.sum(jnp.abs(start))),
                    "max": float(jnp.max(end)),
                }
            )
    return out


def kernel_profiles(sizes: Sequence[int], quick: bool = False) -> list[dict]:
    """:func:`~learned_advection.evaluation.profiling.kernel_times` of our Van Leer and of jax-cfd's, at each size.

    Ours is steady (prepared once), jax-cfd's has its velocity closed over (when it runs).

    Parameters
    ----------
    sizes : sequence of int
        Cells per axis.
    quick : bool, default False
        Fewer steps per run.

    Returns
    -------
    list of dict
    """
    out = []
    ok, _ = jax_cfd_available()
    for n in sizes:
        grid, c0, velocity, dt = bench_problem(2, n)
        n_steps = max(10, steps_for(n * n, quick) // 4)
        prepared = VANLEER.prepare(velocity, dt, grid.spacing)
        cases = [
            (
                "learned-advection",
                "steady",
                lambda c, p, v: VANLEER.advance(c, p, v, dt, grid.spacing),
                c0,
                (prepared, tuple(velocity)),
            )
        ]
        if ok:
            cfd = jax_cfd_van_leer_step(grid, dt)
            cases.append(("jax-cfd", "constant", lambda c: cfd(c, *velocity), c0.T, ()))
        for impl, mode, step, start, args in cases:
            out.append({"implementation": impl, "n": n, "velocity": mode, **kernel_times(step, start, n_steps, args)})
    return out


def vanleer_vs_jax_cfd(
    quick: bool = False,
    repeats: int | None = None,
    progress: Callable[[BenchResult], None] | None = None,
    kernels: bool = False,
) -> dict:
    """Only the 2-D Van Leer side-by-side with jax-cfd (what ``bench --vs-jax-cfd`` prints).

    Ours with the velocity a runtime input, closed over, and prepared once (steady), also stepped
    unsplit (:data:`UNSPLIT_VANLEER`); jax-cfd's input and closed over; each with XLA's default vector
    width and, on AVX-512 CPUs, 512-bit vectors; and :func:`diagonal_accuracy`.

    Parameters
    ----------
    quick : bool, default False
        One small size and fewer steps.
    repeats : int, optional
        Timed runs per case (default 3 with ``quick``, else 7).
    progress : callable, optional
        Called with each result as it is done.
    kernels : bool, default False
        Also :func:`kernel_profiles` at the same sizes (``report["kernels"]``).

    Returns
    -------
    dict
        The report (JSON-ready).
    """
    repeats = repeats or (3 if quick else 7)
    sizes = (64,) if quick else JAX_CFD_SIZES
    widths = [None] + ([512] if wide_vectors_supported() else [])
    variants = [(mode, w) for w in widths for mode in ("input", "constant")]
    # ours also stepped unsplit, as jax-cfd steps its own (no steady variant: it prepares nothing)
    ours = bench_schemes(
        schemes=(VANLEER, UNSPLIT_VANLEER),
        sizes_1d=(),
        sizes_2d=sizes,
        repeats=repeats,
        quick=quick,
        progress=progress,
        variants_2d={"vanleer": variants + [("steady", w) for w in widths], UNSPLIT_VANLEER.name: variants},
    )
    versus = versus_jax_cfd(ours, sizes, repeats, quick, progress, variants)
    report = {
        "environment": environment(),
        "quick": quick,
        **versus,
        "results": [r.as_dict() for r in ours] + versus["results"],
        "diagonal_accuracy": diagonal_accuracy(64 if quick else 128),
    }
    if kernels:
        report["kernels"] = kernel_profiles(sizes, quick)
    return report
