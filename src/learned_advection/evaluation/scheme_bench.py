"""Throughput of the classical schemes: microseconds per step and million cell updates per second of
each scheme at each size (:func:`bench_schemes`), and the compiled, timed scan every benchmark of the
package uses (:func:`scan_steps`, :func:`time_scan`, built on
:func:`~learned_advection.evaluation.timing.time_calls`).

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
import statistics
from collections.abc import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from learned_advection.evaluation.timing import time_calls
from learned_advection.flows.velocity import random_sinusoidal
from learned_advection.numerics.grids import Grid
from learned_advection.numerics.schemes import SCHEMES
from learned_advection.numerics.steppers import Stepper

SIZES_1D = (256, 1024, 4096)
SIZES_2D = (64, 128, 256, 512)


@dataclasses.dataclass(frozen=True)
class BenchResult:
    """One timed case: an implementation of a scheme at one size, in one setting (median of the timed runs)."""

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
        """The fields as a JSON-ready dict.

        Returns
        -------
        dict
        """
        return dataclasses.asdict(self)


def bench_problem(ndim: int, n: int):
    """The benchmark problem: a Gaussian blob on the unit ``n^ndim`` grid at Courant number 0.5.

    Parameters
    ----------
    ndim : int
        1 (a uniform velocity) or 2 (a random periodic divergence-free flow).
    n : int
        Cells per axis.

    Returns
    -------
    grid : Grid
    c0 : jax.Array
        The initial field.
    velocity : tuple of jax.Array
        The face velocities.
    dt : float
        The time step.
    """
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
    """``jax.jit`` of ``(c, *args) -> c`` after ``n_steps`` applications of ``step(c, *args)`` (one ``lax.scan``).

    Parameters
    ----------
    step : callable
        ``step(c, *args) -> c``.
    n_steps : int
        Number of steps of the scan.

    Returns
    -------
    callable
    """
    return jax.jit(lambda c, *a: jax.lax.scan(lambda c, _: (step(c, *a), None), c, None, length=n_steps)[0])


def time_scan(
    step: Callable, c0, n_steps: int, repeats: int, args: Sequence = (), vector_width: int | None = None
) -> list[float]:
    """Seconds per step of ``repeats`` timed runs of a jitted scan of ``step(c, *args) -> c`` (after a warm-up run).

    Parameters
    ----------
    step : callable
        ``step(c, *args) -> c``.
    c0 : array
        The initial state.
    n_steps : int
        Steps per run.
    repeats : int
        Timed runs.
    args : sequence, default ()
        Runtime inputs of the compiled scan (not constants XLA can fold).
    vector_width : int, optional
        Compile with ``xla_cpu_prefer_vector_width`` set (CPU only; ``None`` keeps XLA's default).

    Returns
    -------
    list of float
    """
    scan = scan_steps(step, n_steps)
    args = tuple(args)
    if vector_width is None:
        run = scan
    else:
        run = scan.lower(c0, *args).compile(compiler_options={"xla_cpu_prefer_vector_width": int(vector_width)})
    return [t / n_steps for t in time_calls(run, (c0, *args), repeats)]


def bench_result(
    impl: str, scheme: str, ndim: int, n: int, n_steps: int, times: Sequence[float], **settings
) -> BenchResult:
    """A :class:`BenchResult` from the seconds per step of the timed runs.

    Parameters
    ----------
    impl : str
        ``"learned-advection"`` or ``"jax-cfd"``.
    scheme : str
        The scheme's name.
    ndim, n : int
        Dimensions and cells per axis.
    n_steps : int
        Steps per timed run.
    times : sequence of float
        Seconds per step of each timed run.
    **settings
        ``velocity`` and ``vector_width``.

    Returns
    -------
    BenchResult
    """
    t = statistics.median(times)
    cells = n**ndim
    return BenchResult(impl, scheme, ndim, n, cells, n_steps, len(times), t * 1e6, cells / t / 1e6, **settings)


def steps_for(cells: int, quick: bool) -> int:
    """About the same work per case: many steps on small grids, fewer on large ones.

    Parameters
    ----------
    cells : int
        Cells of the grid.
    quick : bool
        Fewer steps.

    Returns
    -------
    int
    """
    target = 2e6 if quick else 2e7  # cell updates per timed run
    return int(min(1000 if not quick else 100, max(10, target // cells)))


def bench_schemes(
    schemes: Sequence[str | Stepper] = tuple(SCHEMES),
    sizes_1d: Sequence[int] = SIZES_1D,
    sizes_2d: Sequence[int] = SIZES_2D,
    repeats: int = 5,
    quick: bool = False,
    progress: Callable[[BenchResult], None] | None = None,
    variants_2d: Mapping[str, Sequence[tuple[str, int | None]]] | None = None,
) -> list[BenchResult]:
    """Every scheme at every size (velocity a runtime input, XLA's default vector width), and in 2-D in more settings.

    Parameters
    ----------
    schemes : sequence of str or Stepper, default every scheme of SCHEMES
        Names of :data:`SCHEMES`, or steppers.
    sizes_1d, sizes_2d : sequence of int
        Cells per axis in 1-D and 2-D.
    repeats : int, default 5
        Timed runs per case.
    quick : bool, default False
        Fewer steps per run.
    progress : callable, optional
        Called with each :class:`BenchResult` as it is done.
    variants_2d : mapping, optional
        By scheme name, the further ``(velocity, vector_width)`` settings timed in 2-D (see the module doc).

    Returns
    -------
    list of BenchResult
    """
    out = []
    steppers = [SCHEMES[s] if isinstance(s, str) else s for s in schemes]
    for ndim, sizes in ((1, sizes_1d), (2, sizes_2d)):
        for n in sizes:
            grid, c0, velocity, dt = bench_problem(ndim, n)
            n_steps = steps_for(n**ndim, quick)
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
                    out.append(
                        bench_result(
                            "learned-advection", name, ndim, n, n_steps, times, velocity=vel_mode, vector_width=width
                        )
                    )
                    if progress is not None:
                        progress(out[-1])
    return out


def settings_label(r: dict) -> str:
    """The settings of a case as a suffix: ``''`` for the default case, else e.g. ``' [512-bit, velocity constant]'``.

    Parameters
    ----------
    r : dict
        A :class:`BenchResult` as a dict, or a comparison record.

    Returns
    -------
    str
    """
    parts = []
    if r.get("vector_width"):
        parts.append(f"{r['vector_width']}-bit")
    if r.get("velocity", "input") != "input":
        parts.append(f"velocity {r['velocity']}")
    return f" [{', '.join(parts)}]" if parts else ""


def format_progress(r: BenchResult) -> str:
    """One line for a finished case, e.g. ``  learned-advection vanleer 2-D n=64: 35.1 us/step [512-bit]``.

    Parameters
    ----------
    r : BenchResult
        The case.

    Returns
    -------
    str
    """
    return (
        f"  {r.implementation} {r.scheme} {r.ndim}-D n={r.n}: {r.us_per_step:.1f} us/step{settings_label(r.as_dict())}"
    )
