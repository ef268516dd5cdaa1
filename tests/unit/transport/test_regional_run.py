"""A regional run of a problem in memory (:mod:`learned_advection.transport.regional`): the step the compiled
loop takes is the regional step, tracers are scaled by powers of two with their boundary values and
sources, and the budget comes back in the tracers' units."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from learned_advection import transport
from learned_advection.data.netcdf.problem import Problem, SideValues, Sources
from learned_advection.errors import UserError
from learned_advection.numerics import schemes
from learned_advection.numerics.boundaries import Open, Wall, boundaries
from learned_advection.numerics.grids import Grid
from learned_advection.numerics.regional import Regional, Source
from learned_advection.numerics.rollout import rollout
from learned_advection.numerics.steppers import Stepper

N, M = 16, 8
GRID = Grid((M, N), (1.0, 1.0))


def _channel(c0, inflow, rate=None) -> Problem:
    """Uniform flow 1 along x, open in x (``inflow`` per tracer on the left), walls in y."""
    batched = np.ndim(c0) == 3
    n = np.shape(c0)[0] if batched else 1
    sides = {
        (1, 0): SideValues(np.broadcast_to(np.reshape(inflow, (n, 1)), (n, M)).copy()),
        (1, 1): SideValues(np.zeros((n, M))),
    }
    sources = None if rate is None else Sources(np.broadcast_to(rate, (n, M, N)).copy())
    velocity = (np.zeros((M + 1, N)), np.ones((M, N + 1)))
    return Problem(
        GRID,
        np.asarray(c0, np.float64),
        velocity,
        boundaries=(("wall", "wall"), ("open", "open")),
        boundary_values=sides,
        sources=sources,
    )


def test_a_run_is_the_regional_rollout_of_the_python_api():
    """``transport.simulate`` of a regional problem (chunked, velocity traced in the compiled loop, the
    tracer scaled by a power of two) gives :func:`rollout` of :class:`Regional`, and the same budget."""
    rng = np.random.default_rng(0)
    c0 = rng.random((M, N))
    problem = _channel(c0, 0.75, rate=np.full((M, N), 0.5))
    run = transport.plan(problem, 24, cfl=0.5, save_every=8, scheme="ppm")
    result = transport.simulate(problem, transport.get_stepper("ppm", problem), run)
    bounds = boundaries(x=(Open(0.75), Open(0.0)), y=Wall())
    regional = Regional(schemes.scheme("ppm", 1.0), bounds, Source(jnp.full((M, N), 0.5, jnp.float32)))
    velocity = tuple(jnp.asarray(u, jnp.float32) for u in problem.velocity)
    states = rollout(regional, regional.initial(jnp.asarray(c0, jnp.float32)), velocity, run.dt, GRID.spacing, 24, 8)
    np.testing.assert_allclose(result.states, np.asarray(states.c), rtol=2e-6, atol=1e-6)
    last = jax.tree_util.tree_map(lambda x: x[-1], states.budget)
    np.testing.assert_allclose(result.budget["inflow"], np.asarray(last.inflow - last.inflow_error), rtol=1e-5)
    np.testing.assert_allclose(result.budget["emitted"], float(last.emitted - last.emitted_error), rtol=1e-5)


def test_tracers_are_scaled_with_their_boundary_values_and_budget():
    """Three tracers, the same inflow times 1, 2^-70 and 3e-20: each run gives the first one's numbers scaled
    (exactly for the power of two), and the budget in each tracer's own units."""
    factors = np.array([1.0, 2.0**-70, 3e-20])
    problem = _channel(np.zeros((3, M, N)), factors)
    run = transport.plan(problem, 32, cfl=0.5, save_every=16, scheme="vanleer")
    result = transport.simulate(problem, transport.get_stepper("vanleer", problem), run)
    states = result.states.astype(np.float64)
    np.testing.assert_array_equal(states[:, 1], states[:, 0] * 2.0**-70)
    np.testing.assert_allclose(states[:, 2], states[:, 0] * 3e-20, rtol=1e-6, atol=1e-30)
    inflow = result.budget["inflow"][:, 1, 0]  # through the low x side
    np.testing.assert_allclose(inflow, factors * inflow[0], rtol=1e-6)
    assert inflow[0] == pytest.approx(run.dt * 32, rel=1e-6)  # a unit inflow through a side of length 1


class _PeriodicOnly(Stepper):
    """A step with no boundary form (as a learned model)."""

    @property
    def name(self) -> str:
        return "periodic-only"

    def __call__(self, c, velocity, dt, spacing):
        return c


def test_a_step_without_boundary_form_is_refused_in_one_line():
    problem = _channel(np.zeros((M, N)), 1.0)
    run = transport.plan(problem, 4, cfl=0.5, scheme="upwind")
    with pytest.raises(UserError, match="the periodic-only step runs on periodic domains only") as e:
        transport.simulate(problem, _PeriodicOnly(), run)
    assert "\n" not in str(e.value)


def test_a_source_adds_rate_times_time_times_area():
    problem = _channel(np.zeros((M, N)), 0.0, rate=np.full((M, N), 3.0))
    run = transport.plan(problem, 10, dt=0.01, scheme="upwind")
    result = transport.simulate(problem, transport.get_stepper("upwind", problem), run)
    assert float(result.budget["emitted"]) == pytest.approx(3.0 * 0.1, rel=1e-6)


def test_the_guard_holds_a_regional_run_to_its_budget():
    """The blow-up guard of a regional run: a frame whose mass changed by its budget passes (empty domain,
    1 came in and 0.25 left), one whose mass is off the budget is refused in one line; values up to the
    inflow's range pass in a divergence-free flow, far beyond it do not; the faces' divergence is taken over
    the n + 1 faces of a non-periodic axis."""
    from learned_advection.transport.guard import BlowUpGuard, divergence_free

    initial = np.zeros(8)
    guard = BlowUpGuard(initial, 1, np.float64, True, "test", inflow_range=(0.0, 2.0), volume=0.5)
    budget = {"inflow": np.array([[[1.0, 0.0]]]), "outflow": np.array([[[0.0, 0.25]]]), "emitted": np.array([0.0])}
    frame = np.array([[1.5, 0, 0, 0, 0, 0, 0, 0.0]])  # mass 1.5 * 0.5 = 0.75 = 1 - 0.25
    guard.check(frame, 1, 1, budget, 0.1)
    with pytest.raises(UserError, match="the mass is off its budget") as e:
        guard.check(frame * 1.01, 1, 1, budget, 0.1)
    assert "\n" not in str(e.value)
    with pytest.raises(UserError, match="far outside the initial range"):
        guard.check(np.array([[1.5, 0, 0, 0, 0, 0, 10.0, -10.0]]), 1, 1, budget, 0.1)
    assert divergence_free((np.ones(9),), (0.125,), 0.1)  # uniform flow through 9 faces
    assert not divergence_free((np.linspace(0, 1, 9),), (0.125,), 0.1)
