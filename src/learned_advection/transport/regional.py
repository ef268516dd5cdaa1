"""A regional run of a problem read from a file: the stepper between its walls and open sides, with its
emission sources (:class:`~learned_advection.numerics.regional.Regional`), batched over the tracers and
scaled like them, and its mass budget brought back to the tracers' units.

Each tracer is run on ``c / 2**k`` (:func:`~learned_advection.transport.arithmetic.tracer_scales`), so its
boundary values and emission rates are divided by the same power of two, and the budget (computed on the
scaled tracer) is multiplied back: every operation of the step is positively homogeneous and the scaling
exact.  The state of a regional run is a :class:`~learned_advection.numerics.regional.RegionalState` per
tracer (concentration, steps taken, budget), carried from chunk to chunk like the bare array of a periodic
run.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from learned_advection.data.netcdf.conventions import AXIS_NAMES, BOUNDARY_ATTRS, BOUNDARY_TIME, PERIODIC, SOURCE_TIME
from learned_advection.data.netcdf.problem import Problem
from learned_advection.errors import UserError
from learned_advection.numerics.boundaries import Boundaries, BoundaryValue, Open, Wall
from learned_advection.numerics.regional import Budget, Regional, RegionalState, Source
from learned_advection.numerics.rollout import Repeated
from learned_advection.numerics.steppers import Stepper
from learned_advection.transport.winds import check_span

# The most steps of a regional run: its state counts them in int32.
MAX_REGIONAL_STEPS = 2**31 - 1


@dataclasses.dataclass(frozen=True)
class RegionalInputs:
    """The per-tracer arrays of a regional run, scaled like the tracers, in the run's dtype: the value of
    every open side (in the order of ``problem.boundary_values``; ``(n_tracers, [k,] m)``) and the emission
    rates (``(n_tracers, [k,] *grid)`` or ``None``); their times (shared by the tracers)."""

    sides: tuple
    side_times: tuple
    rates: jax.Array | None
    rate_times: jax.Array | None


def regional_inputs(problem: Problem, scale, dtype) -> RegionalInputs:
    """The boundary values and emission rates of a run, divided by each tracer's ``scale`` (exact: powers of
    two).

    Parameters
    ----------
    problem : Problem
        A regional problem.
    scale : float or numpy.ndarray
        :func:`~learned_advection.transport.arithmetic.tracer_scales` of the problem.
    dtype : numpy dtype
        The run's dtype.

    Returns
    -------
    RegionalInputs
    """
    per_tracer = np.reshape(np.asarray(scale, np.float64), (-1,))

    def scaled(values):
        values = np.asarray(values, np.float64)
        return jnp.asarray(values / per_tracer.reshape((-1,) + (1,) * (values.ndim - 1)), dtype)

    def times(t):
        return None if t is None else jnp.asarray(np.asarray(t, np.float64), dtype)

    sides = tuple(scaled(v.values) for v in problem.boundary_values.values())
    side_times = tuple(times(v.times) for v in problem.boundary_values.values())
    src = problem.sources
    if src is None:
        return RegionalInputs(sides, side_times, None, None)
    return RegionalInputs(sides, side_times, scaled(src.rates), times(src.times))


def regional_step(step: Stepper, problem: Problem, inputs: RegionalInputs):
    """``(state, velocity, dt, spacing, sides, rate) -> state``: one step of ``step`` on the problem's domain
    for one tracer, its side values ``sides`` and emission rate ``rate`` (rows of ``inputs``).

    ``step`` repeated (sub-steps, :class:`~learned_advection.numerics.rollout.Repeated`) becomes the regional
    step repeated, so that each sub-step crosses the boundaries and emits at its own time.
    """
    n_sub = 1
    if isinstance(step, Repeated):
        step, n_sub = step.stepper, step.n_sub
    keys = list(problem.boundary_values)

    def one(state, velocity, dt, spacing, sides, rate):
        axes = []
        for a, kinds in enumerate(problem.axis_boundaries):
            if kinds is None:
                axes.append(None)
                continue
            pair = []
            for s, kind in enumerate(kinds):
                if kind == "wall":
                    pair.append(Wall())
                else:
                    i = keys.index((a, s))
                    pair.append(Open(BoundaryValue(sides[i], inputs.side_times[i])))
            axes.append(tuple(pair))
        source = None if rate is None else Source(rate, inputs.rate_times)
        regional = Regional(step, Boundaries(tuple(axes)), source)
        runner = regional if n_sub == 1 else Repeated(regional, n_sub)
        return runner(state, velocity, dt, spacing)

    return one


def initial_state(c, batched: bool) -> RegionalState:
    """The regional state of the (scaled) tracers ``c`` at t = 0 (a leading tracer axis when ``batched``)."""
    ndim = c.ndim - batched
    one = RegionalState(
        c[0] if batched else c, jnp.zeros((), c.dtype), jnp.zeros((), jnp.int32), Budget.zero(ndim, c.dtype)
    )
    if not batched:
        return one
    n = c.shape[0]
    return jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (n,) + x.shape), one)._replace(c=c)


def saved_part(state: RegionalState):
    """What a regional run keeps of a state at a saved step: the concentration and the budget."""
    return state.c, state.budget


def budget_totals(budget: Budget, scale, batched: bool) -> dict[str, np.ndarray]:
    """The budget in the tracers' units, float64: ``inflow`` and ``outflow`` ``(..., ndim, 2)`` per side and
    ``emitted`` ``(...)`` (the compensation of the sums applied).

    Parameters
    ----------
    budget : Budget
        Budgets with any leading axes (saved frames), then the tracer axis of a batched run.
    scale : float or numpy.ndarray
        Each tracer's scale (:func:`~learned_advection.transport.arithmetic.tracer_scales`).
    batched : bool
        Whether the budgets have a tracer axis.

    Returns
    -------
    dict
    """
    per_tracer = np.reshape(np.asarray(scale, np.float64), (-1,))
    sides = per_tracer.reshape(-1, 1, 1) if batched else float(per_tracer[0])
    whole = per_tracer if batched else float(per_tracer[0])

    def total(value, error, factor):
        return (np.asarray(value, np.float64) - np.asarray(error, np.float64)) * factor

    return {
        "inflow": total(budget.inflow, budget.inflow_error, sides),
        "outflow": total(budget.outflow, budget.outflow_error, sides),
        "emitted": total(budget.emitted, budget.emitted_error, whole),
    }


def check_boundary_form(problem: Problem, step: Stepper, dtype, dt: float = 1.0) -> None:
    """Refuse (one line) a stepper that has no boundary form for a regional problem (``D4Average``, a learned
    stencil on the flux-form semi-Lagrangian path), by
    tracing one step (nothing is computed).

    Parameters
    ----------
    problem : Problem
        A regional problem.
    step : Stepper
        The run's stepper.
    dtype : numpy dtype
        The run's dtype.
    dt : float, optional
        The run's time step (a learned model checks it against the one it was trained with).
    """
    shape = tuple(problem.grid.shape)
    inputs = regional_inputs(problem, 1.0 if not problem.batched else np.ones(problem.n_tracers), dtype)
    one = regional_step(step, problem, inputs)
    velocity = tuple(jax.ShapeDtypeStruct(u.shape[np.ndim(u) - len(shape) :], dtype) for u in problem.velocity)
    state = initial_state(jnp.zeros(shape, dtype), False)
    sides = tuple(s[0] for s in inputs.sides)
    rate = None if inputs.rates is None else inputs.rates[0]
    try:
        jax.eval_shape(lambda st, v: one(st, v, dt, problem.grid.spacing, sides, rate), state, velocity)
    except ValueError as e:
        if "periodic domains only" not in str(e):
            raise
        raise UserError(
            f"{str(e).splitlines()[0]}, and this problem has walls, open sides or emission sources; use a "
            "classical scheme"
        ) from None


def check_regional_run(problem: Problem, step: Stepper, run, dtype) -> None:
    """Refuse (one line) a regional run the regional step cannot take: a stepper without a boundary form
    (:func:`check_boundary_form`), more than :data:`MAX_REGIONAL_STEPS` steps, or
    boundary values or sources at their own times that do not cover the run.

    Parameters
    ----------
    problem : Problem
        A regional problem.
    step : Stepper
        The run's stepper (after :func:`~learned_advection.transport.planning.limited_step`).
    run : Plan
        The validated run.
    dtype : numpy dtype
        The run's dtype.
    """
    if run.n_steps > MAX_REGIONAL_STEPS:
        raise UserError(
            f"--steps must be at most 2^31 - 1 = {MAX_REGIONAL_STEPS} on a regional domain, got {run.n_steps}"
        )
    check_boundary_form(problem, step, dtype, run.dt)
    end = run.n_steps * run.dt
    for values in problem.boundary_values.values():
        if values.times is not None:
            check_span(
                problem,
                values.times,
                0.0,
                end,
                BOUNDARY_TIME,
                ("the boundary values are", "them"),
                f"the whole run, {run.n_steps} steps of dt = {run.dt:.6g}",
                "boundary values at times that cover the run",
            )
            break
    if problem.sources is not None and problem.sources.times is not None:
        first, last = 0.5 * run.dt, (run.n_steps - 0.5) * run.dt
        check_span(
            problem,
            problem.sources.times,
            first,
            last,
            SOURCE_TIME,
            ("the sources are", "them"),
            f"the midpoints of its {run.n_steps} steps of dt = {run.dt:.6g}",
            "sources at times that cover the run",
        )


def cell_volume(problem: Problem) -> float:
    """The volume (length in 1-D, area in 2-D) of a cell: the mass of a field is ``sum(c) * cell_volume``."""
    return float(math.prod(float(d) for d in problem.grid.spacing))


def _per_tracer(values: np.ndarray, batched: bool):
    return values if batched else float(values[0])


def inflow_range(problem: Problem):
    """The least and largest value at open sides, per tracer (numbers for one tracer), or ``None``."""
    if not problem.boundary_values:
        return None
    n = problem.n_tracers
    rows = [np.reshape(np.asarray(v.values, np.float64), (n, -1)) for v in problem.boundary_values.values()]
    low = np.min([r.min(axis=1) for r in rows], axis=0)
    high = np.max([r.max(axis=1) for r in rows], axis=0)
    return _per_tracer(low, problem.batched), _per_tracer(high, problem.batched)


def source_rate(problem: Problem):
    """The largest ``sum |S|`` (over cells) of each tracer's emission rate over its times, or ``None``."""
    src = problem.sources
    if src is None:
        return None
    n, ndim = problem.n_tracers, problem.grid.ndim
    rates = np.abs(np.asarray(src.rates, np.float64))
    totals = rates.sum(axis=tuple(range(-ndim, 0)))  # (n,) or (n, k)
    return _per_tracer(np.reshape(totals, (n, -1)).max(axis=1), problem.batched)


def regional_summary(problem: Problem, initial: np.ndarray, final: np.ndarray, budget: dict | None) -> dict:
    """The mass budget of a finished regional run, per tracer (arrays of ``n_tracers``, float64, in the run's
    units: mass is ``sum(c) * cell volume``): ``inflow``, ``outflow``, ``emitted``, ``change`` (final minus
    initial mass) and ``residual`` (``change - (emitted + inflow - outflow)``: round-off).

    Parameters
    ----------
    problem : Problem
        The regional problem.
    initial, final : numpy.ndarray
        The first and last saved states.
    budget : dict or None
        :func:`budget_totals` at the last saved state (``None``: nothing was saved after the initial state).

    Returns
    -------
    dict
    """
    n, ndim = problem.n_tracers, problem.grid.ndim
    axes = tuple(range(-ndim, 0))
    volume = cell_volume(problem)
    change = (np.asarray(final, np.float64).sum(axis=axes) - np.asarray(initial, np.float64).sum(axis=axes)) * volume
    zero = np.zeros(n)
    if budget is None:
        inflow = outflow = emitted = zero
    else:
        inflow = np.reshape(np.sum(budget["inflow"], axis=(-2, -1)), (n,))
        outflow = np.reshape(np.sum(budget["outflow"], axis=(-2, -1)), (n,))
        emitted = np.reshape(budget["emitted"], (n,))
    change = np.reshape(change, (n,))
    return {
        "inflow": inflow,
        "outflow": outflow,
        "emitted": emitted,
        "change": change,
        "residual": change - (emitted + inflow - outflow),
    }


def budget_attrs(problem: Problem, summary: dict) -> list[dict]:
    """The attributes of each tracer variable of the output that give its mass budget (``mass_inflow``,
    ``mass_outflow``, ``mass_emitted``, ``mass_change``; one number per tracer along a ``tracer`` dim) and its
    emission rate's ``source_units``, if given."""
    out, row = [], 0
    units = () if problem.sources is None else problem.sources.units
    for tracer in problem.tracer_variables:
        rows = slice(row, row + tracer.size)
        attrs = {}
        for key in ("inflow", "outflow", "emitted", "change"):
            values = np.asarray(summary[key][rows], np.float64)
            attrs[f"mass_{key}"] = np.float64(values[0]) if tracer.count is None else values
        if units and units[row] is not None:
            attrs["source_units"] = units[row]
        out.append(attrs)
        row += tracer.size
    return out


def boundary_attrs(problem: Problem) -> dict:
    """The global attributes of a regional run's output: ``periodic`` and each axis's ``x_boundary`` /
    ``y_boundary`` as the input names them (``periodic``, ``wall``, ``open`` or ``LOW HIGH``)."""
    attrs = {"periodic": "true" if problem.periodic else "false"}
    for name, sides in zip(AXIS_NAMES[problem.grid.ndim], problem.axis_boundaries):
        attrs[BOUNDARY_ATTRS[name]] = (
            PERIODIC if sides is None else (sides[0] if sides[0] == sides[1] else " ".join(sides))
        )
    return attrs
