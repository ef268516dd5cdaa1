"""The blow-up guard: a run whose saved states leave what advection allows (mass, sum |c|, and in a
divergence-free flow the initial range) stops with one line; a sound run of every classical scheme, at
every Courant number it takes, never trips it."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learned_advection import transport as sim
from learned_advection.data.netcdf import Problem
from learned_advection.errors import UserError
from learned_advection.flows.velocity import random_sinusoidal
from learned_advection.numerics.grids import Grid
from learned_advection.numerics.steppers import Stepper
from learned_advection.transport.guard import BlowUpGuard, divergence_free, mass_tolerance


def _guard(initial, bounded=True, names=None):
    return BlowUpGuard(np.asarray(initial), 1, np.float32, bounded, "test, Courant 1", names)


def test_mass_tolerance_is_round_off_and_grows_like_a_random_walk():
    eps = np.finfo(np.float32).eps
    assert mass_tolerance(np.float32, 1) < 2e-4
    assert mass_tolerance(np.float64, 1) < 1e-12
    assert mass_tolerance(np.float32, 10**6) == pytest.approx(1000 * eps + 64 * eps * 1000)
    assert mass_tolerance(np.float32, 4) < mass_tolerance(np.float32, 400) < mass_tolerance(np.float32, 40000)


def test_values_far_outside_the_range_stop_a_divergence_free_run():
    c0 = np.array([0.0, 0.5, 1.0, 0.5])
    guard = _guard(c0)
    guard.check(np.array([[0.0, 0.2, 1.3, 0.5]]), 1, 1)  # an overshoot of 30% of the range: allowed
    with pytest.raises(UserError, match=r"blew up: values in \[-1.5, 3\], far outside the initial range by step 9"):
        guard.check(np.array([[0.0, 0.5, 1.0, 0.5], [-1.5, 0.5, 3.0, 0.0]]), 2, 3)
    _guard(c0, bounded=False).check(np.array([[0.0, 0.25, 1.5, 0.25]]), 1, 1)  # a compressive flow may pile up


def test_a_constant_field_gets_a_margin_from_its_magnitude():
    guard = _guard(np.full(4, 2.0))
    guard.check(np.full((1, 4), 2.0) + np.array([[1e-4, -1e-4, 0, 0]]), 1, 1)
    with pytest.raises(UserError, match="far outside the initial range"):
        guard.check(np.array([[2.5, 1.5, 2.0, 2.0]]), 1, 1)


def test_oscillations_and_mass_drift_stop_any_run():
    c0 = np.array([1.0, -1.0, 1.0, -1.0])  # mass 0, sum |c| 4
    guard = _guard(c0, bounded=False)
    with pytest.raises(UserError, match=r"sum \|c\| grew 2.5-fold"):
        guard.check(np.array([[2.5, -2.5, 2.5, -2.5]]), 1, 1)
    with pytest.raises(UserError, match=r"the mass changed by 0.001 of sum \|c0\|"):
        guard.check(np.array([[1.004, -1.0, 1.0, -1.0]]), 1, 1)
    with pytest.raises(UserError, match="NaN or Inf by step 1 "):
        guard.check(np.array([[np.inf, -1.0, 1.0, -1.0]]), 1, 1)


def test_a_zero_field_must_stay_zero():
    guard = _guard(np.zeros(4))
    guard.check(np.zeros((2, 4)), 1, 1)
    with pytest.raises(UserError, match="blew up"):
        guard.check(np.array([[0.0, 1e-30, 0.0, 0.0]]), 1, 1)


def test_the_message_names_the_tracer():
    c0 = np.array([[0.0, 1.0, 0.0, 1.0], [0.0, 2.0, 0.0, 2.0]])
    guard = BlowUpGuard(c0, 1, np.float32, True, "ppm, Courant 3", ["so2", "dust"])
    bad = c0.copy()
    bad[1, 0] = -7.0
    with pytest.raises(UserError, match=r"by step 5 in tracer 'dust' \(ppm, Courant 3\); nothing written"):
        guard.check(bad[None], 5, 1)


def test_divergence_free_flows_are_told_from_compressive_ones():
    grid = Grid.square(16, 2 * np.pi)
    flow = tuple(np.asarray(u, np.float64) for u in random_sinusoidal(grid, 3, max_speed=2.0))
    assert divergence_free(flow, grid.spacing, 0.1)
    assert divergence_free(tuple(u.astype(np.float32) for u in flow), grid.spacing, 0.1)  # float32 round-off
    series = tuple(np.stack([u, 0.5 * u]) for u in flow)  # a leading time axis
    assert divergence_free(series, grid.spacing, 0.1)
    assert not divergence_free((flow[0], np.roll(flow[1], 1, axis=0)), grid.spacing, 0.1)
    assert divergence_free((np.full(8, -0.3),), (0.125,), 0.2)
    assert not divergence_free((np.linspace(0.5, 1.0, 8),), (0.125,), 0.2)


class Explodes(Stepper):
    """Doubles the deviation from the mean every step: mass kept, a grid-scale mode growing without bound."""

    name: str = "explodes"

    def __call__(self, c, velocity, dt, spacing):
        return 2 * c - jnp.mean(c)


def test_a_finite_blow_up_through_the_api_stops_with_one_line(tmp_path):
    grid = Grid((16,), (1.0,))
    c0 = np.where(np.arange(16) < 8, 1.0, 0.0)
    problem = Problem(grid, c0, (np.full(16, 0.5),), False)
    run = sim.plan(problem, 40, dt=0.01, save_every=4)
    for go in (
        lambda: sim.simulate(problem, Explodes(), run),
        lambda: sim.simulate_to_file(problem, Explodes(), run, tmp_path / "out.nc", scheme="x", progress=False),
    ):
        with pytest.raises(UserError, match=r"blew up: values in .* far outside the initial range by step 4 "):
            go()
    assert list(tmp_path.iterdir()) == []


GRID_2D = Grid.square(16, 2 * np.pi)


@settings(max_examples=12, deadline=None)
@given(
    scheme=st.sampled_from(["upwind", "vanleer", "ppm", "weno5z"]),
    courant=st.floats(0.05, 4.0),
    seed=st.integers(0, 2**16),
    block=st.booleans(),
)
def test_sound_runs_of_every_classical_scheme_never_trip_the_guard(scheme, courant, seed, block):
    rng = np.random.default_rng(seed)
    courant = min(courant, sim.supported_courant(scheme))
    flow = tuple(np.asarray(u, np.float64) for u in random_sinusoidal(GRID_2D, seed, max_speed=1.0))
    c0 = rng.uniform(-1, 1, GRID_2D.shape) if not block else np.where(rng.uniform(size=GRID_2D.shape) < 0.3, 1.0, 0.0)
    problem = Problem(GRID_2D, c0, flow, False)
    run = sim.plan(problem, 24, cfl=courant, save_every=8, scheme=scheme)
    step = sim.get_stepper(scheme, problem, None, run.courant)
    states = sim.simulate(problem, step, run).states
    assert np.isfinite(states).all()
