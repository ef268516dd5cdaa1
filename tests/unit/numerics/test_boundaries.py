"""Regional domains: walls, open sides (inflow and outflow), emission sources and the mass budget, per scheme."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learned_advection.errors import UserError
from learned_advection.evaluation.regional_accuracy import (
    ORDER_RUNS,
    constant_inflow_error,
    measured_order,
    pulse_left_behind,
    run_1d,
    stepper,
)
from learned_advection.numerics import schemes
from learned_advection.numerics.boundaries import (
    Open,
    Wall,
    _extrapolation_weights,
    boundaries,
    boundary_value,
)
from learned_advection.numerics.limits import check_limits
from learned_advection.numerics.precision import float64
from learned_advection.numerics.regional import Regional, Source
from learned_advection.numerics.rollout import Repeated, rollout
from learned_advection.numerics.symmetry import D4Average

# every scheme: (name, Courant number); above 1 the large step, unbounded or (+fct) bounded
STEPS = [
    ("upwind", 0.5),
    ("vanleer", 0.5),
    ("ppm", 0.5),
    ("weno5z", 0.5),
    ("ppm", 2.5),
    ("vanleer", 3.5),
    ("ppm+fct", 2.5),
    ("vanleer+fct", 3.5),
]
IDS = [f"{n}-{c}" for n, c in STEPS]


@eqx.filter_jit
def _compiled(regional, state, velocity, dt, spacing, n_steps, save_every):
    return rollout(regional, state, velocity, dt, spacing, n_steps, save_every)


def _run(stepper, bounds, c0, velocity, dt, spacing, n_steps, save_every=None, source=None, t0=0.0):
    """The rollout of ``stepper`` on the domain ``bounds`` (compiled once per structure and shapes)."""
    regional = Regional(stepper, bounds, source)
    c0 = jnp.asarray(c0)
    dt = jnp.asarray(dt, c0.dtype)
    return _compiled(
        regional, regional.initial(c0, t0), tuple(velocity), dt, tuple(spacing), n_steps, save_every or n_steps
    )


def _streamfunction_flow(psi: np.ndarray, spacing):
    """Face velocities (y faces, x faces) of a streamfunction on the ``(ny + 1, nx + 1)`` cell corners of a
    domain open or walled on every side: ``n + 1`` faces along both axes, discretely divergence-free."""
    dy, dx = spacing
    u = (psi[1:, :] - psi[:-1, :]) / dy  # x faces: (ny, nx + 1)
    v = -(psi[:, 1:] - psi[:, :-1]) / dx  # y faces: (ny + 1, nx)
    return v, u


# --------------------------------------------------------------------------- ghost cells
@pytest.mark.parametrize("points", [1, 2, 3, 5])
def test_outflow_extrapolation_is_exact_for_polynomials_of_its_degree(points):
    w = _extrapolation_weights(points, 3)
    rng = np.random.default_rng(points)
    coeffs = rng.normal(size=points)

    def mean(a, b):  # the average over [a, b] of sum_m coeffs[m] x^m
        return sum(c * (b ** (m + 1) - a ** (m + 1)) / (m + 1) for m, c in enumerate(coeffs)) / (b - a)

    cells = np.array([mean(j, j + 1) for j in range(points)])
    ghosts = np.array([mean(-k, -k + 1) for k in (1, 2, 3)])
    np.testing.assert_allclose(w @ cells, ghosts, rtol=1e-9, atol=1e-9)


def test_boundary_values_at_their_own_times_are_interpolated_and_held_beyond():
    value = boundary_value(([0.0, 1.0, 3.0], [0.0, 2.0, 0.0]))
    t = jnp.array([-1.0, 0.5, 2.0, 5.0])
    np.testing.assert_allclose(value(t), [0.0, 1.0, 1.0, 0.0])
    # the mean over [0, 1] of a linear ramp is its midpoint value
    np.testing.assert_allclose(value.mean(jnp.array([0.0]), jnp.array([1.0])), [1.0], rtol=1e-6)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"x": "sticky"}, "a side is"),
        ({"x": ("open", "open", "open")}, "low, high"),
    ],
)
def test_bad_boundary_specifications_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        boundaries(**spec)


def test_boundary_value_times_must_increase():
    with pytest.raises(ValueError, match="increasing"):
        boundary_value(([0.0, 0.0], [1.0, 2.0]))


# --------------------------------------------------------------------------- the defining properties
@pytest.mark.parametrize("name, courant", STEPS, ids=IDS)
def test_a_constant_inflow_fills_a_1d_domain_exactly(name, courant):
    """After enough transit times a constant inflow is the value everywhere, to round-off (float32)."""
    assert constant_inflow_error(name, courant) <= 8 * np.finfo(np.float32).eps


@pytest.mark.parametrize("name, courant", [("ppm", 0.5), ("weno5z", 0.5), ("ppm", 2.5)])
def test_a_constant_inflow_fills_a_2d_channel_between_walls(name, courant):
    n = 24
    dt = courant / n
    velocity = (jnp.zeros((n + 1, n)), jnp.ones((n, n + 1)))
    bounds = boundaries(x=(Open(2.0), Open()), y=Wall())
    out = _run(stepper(name, courant), bounds, jnp.zeros((n, n)), velocity, dt, (1 / n, 1 / n), int(4 / dt))
    np.testing.assert_allclose(np.asarray(out.c[-1]), 2.0, rtol=0, atol=16 * np.finfo(np.float32).eps)


@pytest.mark.parametrize("name, courant", STEPS, ids=IDS)
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a_pulse_leaves_through_the_outflow_side_and_nothing_stays(name, courant, sign):
    assert pulse_left_behind(name, courant, speed=sign) <= 1e-6
    n = 32
    x = (np.arange(n) + 0.5) / n
    c0 = np.exp(-(((x - 0.5) / 0.08) ** 2)).astype(np.float32)
    final = run_1d(stepper(name, courant), boundaries(x="open"), c0, sign, courant / n, int(3 * n / courant))
    # everything left through the downstream side (net: an outflow face value may dip below zero in the tail)
    side = 1 if sign > 0 else 0
    b = final.budget
    np.testing.assert_allclose(float(b.outflow[0, side] - b.inflow[0, side]), c0.sum() / n, rtol=1e-5)
    assert float(b.outflow[0, 1 - side]) <= 1e-6 * c0.sum() / n


@pytest.mark.parametrize("name, courant", STEPS, ids=IDS)
def test_walls_let_nothing_through(name, courant):
    """A vortex in a walled box: the budget records nothing crossing and the mass stays to round-off."""
    n = 24
    h = 1.0 / n
    corners = np.arange(n + 1) * h
    psi = np.sin(np.pi * corners)[:, None] * np.sin(np.pi * corners)[None, :] / np.pi
    psi[[0, -1], :] = 0.0  # exactly zero on the walls: no normal velocity there
    psi[:, [0, -1]] = 0.0
    v, u = _streamfunction_flow(psi, (h, h))
    dt = courant * h / max(np.abs(u).max(), np.abs(v).max())
    xc = (np.arange(n) + 0.5) * h
    c0 = np.exp(-((xc[:, None] - 0.5) ** 2 + (xc[None, :] - 0.3) ** 2) / 0.02).astype(np.float32)
    velocity = (jnp.asarray(v, jnp.float32), jnp.asarray(u, jnp.float32))
    out = _run(stepper(name, courant), boundaries(x=Wall(), y=Wall()), c0, velocity, dt, (h, h), 64, 16)
    assert float(jnp.max(jnp.abs(out.budget.inflow))) == 0.0
    assert float(jnp.max(jnp.abs(out.budget.outflow))) == 0.0
    mass = np.asarray(out.c, np.float64).sum(axis=(1, 2))
    np.testing.assert_allclose(mass, mass[0], rtol=1e-6)


def test_an_emission_adds_exactly_its_mass():
    n = 16
    h = 1.0 / n
    rate = np.zeros((n, n), np.float32)
    rate[5, 7] = 3.0
    velocity = (jnp.zeros((n + 1, n)), jnp.zeros((n, n + 1)))
    dt = 0.01
    out = _run(
        schemes.scheme("ppm"),
        boundaries(x="wall", y="wall"),
        np.zeros((n, n), np.float32),
        velocity,
        dt,
        (h, h),
        50,
        source=Source(jnp.asarray(rate)),
    )
    emitted = 50 * dt * 3.0 * h * h
    np.testing.assert_allclose(float(out.budget.emitted[-1]), emitted, rtol=1e-6)
    np.testing.assert_allclose(float(jnp.sum(out.c[-1])) * h * h, emitted, rtol=1e-6)


@pytest.mark.parametrize("name, courant", STEPS, ids=IDS)
def test_an_all_periodic_regional_run_is_the_ordinary_run(name, courant, x64_mode):
    x64_mode(True)
    n = 20
    rng = np.random.default_rng(3)
    c0 = rng.random((n, n))
    u = 1.0 + 0.3 * np.sin(2 * np.pi * np.arange(n) / n)[:, None] * np.ones((1, n))
    v = np.full((n, n), 0.4)
    velocity = (jnp.asarray(v), jnp.asarray(u))
    dt = courant / (n * float(np.abs(u).max()))
    step = stepper(name, courant)
    regional = _run(step, boundaries(ndim=2), c0, velocity, dt, (1 / n, 1 / n), 12)
    ordinary = rollout(step, jnp.asarray(c0), velocity, dt, (1 / n, 1 / n), 12, 12)
    np.testing.assert_allclose(np.asarray(regional.c[-1]), np.asarray(ordinary[-1]), rtol=0, atol=1e-12)
    assert float(jnp.max(jnp.abs(regional.budget.inflow))) == 0.0


# --------------------------------------------------------------------------- the budget, for any flow
@st.composite
def regional_problems(draw):
    n = draw(st.sampled_from([7, 12]))
    kinds = [draw(st.sampled_from(["open", "wall"])) for _ in range(4)]  # y low, y high, x low, x high
    seed = draw(st.integers(0, 2**31 - 1))
    name, courant = draw(st.sampled_from(STEPS))
    emit = draw(st.booleans())
    return n, kinds, seed, name, courant, emit


def _budget_residual(problem, dtype):
    n, kinds, seed, name, courant, emit = problem
    rng = np.random.default_rng(seed)
    h = 1.0 / n
    y, x = np.meshgrid(np.arange(n + 1) * h, np.arange(n + 1) * h, indexing="ij")  # the cell corners
    a, b, c, p, q = rng.normal(size=5)
    psi = a * x + b * y + 0.3 * c * np.sin(2 * np.pi * (x + p)) * np.sin(2 * np.pi * (y + q))
    for kind, vanish in zip(kinds, (y, 1 - y, x, 1 - x)):  # y low, y high, x low, x high
        if kind == "wall":
            psi = psi * vanish  # zero on the walled line: no normal velocity through it
    v, u = _streamfunction_flow(psi, (h, h))
    speed = max(np.abs(u).max(), np.abs(v).max(), 1e-3)
    jump = max(np.abs(np.diff(u, axis=1)).max(), np.abs(np.diff(v, axis=0)).max(), 1e-3)
    dt = min(0.9 * courant * h / speed, 0.8 * h / jump)  # within the Courant and the deformation limits
    sides = [
        Wall() if k == "wall" else Open(([0.0, 10 * dt, 40 * dt], rng.random((3, n)).astype(dtype))) for k in kinds
    ]
    bounds = boundaries(x=(sides[2], sides[3]), y=(sides[0], sides[1]))
    source = Source(jnp.asarray(rng.random((n, n)), dtype)) if emit else None
    c0 = rng.random((n, n)).astype(dtype)
    velocity = (jnp.asarray(v, dtype), jnp.asarray(u, dtype))
    out = _run(stepper(name, courant), bounds, c0, velocity, dtype(dt), (h, h), 24, 8, source=source)
    mass = np.asarray(out.c, np.float64).sum(axis=(1, 2)) * h * h
    net = np.asarray(out.budget.net(), np.float64)
    b = out.budget
    scale = max(
        np.abs(mass).max(),
        float(jnp.sum(b.inflow[-1])),
        float(jnp.sum(b.outflow[-1])),
        float(b.emitted[-1]),
    )
    return np.abs((mass - mass[0]) - net).max() / scale


@settings(max_examples=12, deadline=None)
@given(regional_problems())
def test_the_mass_budget_closes_in_float32_for_any_flow_and_sides(problem):
    """mass change = emitted + inflow - outflow to <= 1e-6 relative (a divergence-free or not flow, any sides)."""
    assert _budget_residual(problem, np.float32) <= 1e-6


@settings(max_examples=6, deadline=None)
@given(regional_problems())
def test_the_mass_budget_closes_in_float64_for_any_flow_and_sides(problem):
    with float64():
        assert _budget_residual(problem, np.float64) <= 1e-12


# --------------------------------------------------------------------------- refusals
def test_a_velocity_with_the_periodic_face_count_on_an_open_axis_is_refused():
    n = 8
    with pytest.raises(ValueError, match=r"shape \(8,\), need \(9,\)"):
        _run(schemes.PPM, boundaries(x="open"), jnp.zeros(n), (jnp.ones(n),), 0.05, (1 / n,), 2)


def test_a_wall_with_flow_through_it_is_refused():
    n = 8
    with pytest.raises(ValueError, match="high x wall must be zero"):
        Regional(schemes.PPM, boundaries(x=(Open(), Wall())))(
            Regional(schemes.PPM, boundaries(x=(Open(), Wall()))).initial(jnp.zeros(n)),
            (jnp.ones(n + 1),),
            0.05,
            (1 / n,),
        )


def test_a_stepper_without_a_boundary_form_is_refused_in_one_line():
    n = 8
    averaged = D4Average(schemes.PPM)
    velocity = (jnp.zeros((n + 1, n)), jnp.ones((n, n + 1)))
    with pytest.raises(ValueError, match="periodic domains only"):
        _run(averaged, boundaries(x="open", y="wall"), jnp.zeros((n, n)), velocity, 0.05, (1 / n, 1 / n), 2)


# --------------------------------------------------------------------------- order of accuracy
@pytest.mark.parametrize("name, courant, refine, sizes", ORDER_RUNS, ids=[f"{r[0]}-{r[1]}" for r in ORDER_RUNS])
def test_order_of_accuracy_with_a_smooth_time_dependent_inflow(name, courant, refine, sizes):
    """Van Leer >= 1.8, PPM >= 2.5, WENO5-Z >= 4.5 (L1 away from the extrema, where the limiters clip)."""
    target = {"vanleer": 1.8, "ppm": 2.5, "weno5z": 4.5}[name.removesuffix("+fct")]
    order, coarse, fine = measured_order(name, courant, refine, sizes)
    assert order >= target, f"measured order {order:.2f} (errors {coarse:.3g}, {fine:.3g})"


# --------------------------------------------------------------------------- bounds and sub-steps
@pytest.mark.parametrize("name, courant", [("ppm+fct", 2.5), ("vanleer+fct", 3.9), ("upwind", 0.9)])
def test_the_bounded_steps_stay_within_the_initial_and_inflow_values(name, courant):
    """A sheared channel flow, a block in [0, 1] and an inflow of 2: every value stays in [0, 2], exactly."""
    n = 24
    h = 1.0 / n
    y = (np.arange(n) + 0.5) * h
    u = np.ones((n, n + 1), np.float32) * (1 + 0.5 * np.sin(2 * np.pi * y))[:, None].astype(np.float32)
    velocity = (jnp.zeros((n + 1, n), jnp.float32), jnp.asarray(u))
    c0 = np.zeros((n, n), np.float32)
    c0[8:16, 4:12] = 1.0
    dt = courant * h / float(u.max())
    bounds = boundaries(x=(Open(2.0), Open()), y=Wall())
    out = _run(stepper(name, courant), bounds, c0, velocity, dt, (h, h), 96, 8)
    assert float(out.c.min()) >= 0.0 and float(out.c.max()) <= 2.0


def test_sub_steps_on_a_regional_domain_are_the_steps_at_their_own_times():
    n = 32
    h = 1.0 / n
    x = (np.arange(n) + 0.5) * h
    c0 = np.exp(-(((x - 0.5) / 0.1) ** 2)).astype(np.float32)
    bounds = boundaries(x=(Open(([0.0, 1.0], [0.0, 1.0])), Open()))
    velocity = (jnp.ones(n + 1, jnp.float32),)
    whole = _run(Repeated(schemes.PPM, 4), bounds, c0, velocity, 4 * 0.4 * h, (h,), 10, 1)
    parts = _run(schemes.PPM, bounds, c0, velocity, 0.4 * h, (h,), 40, 4)
    np.testing.assert_allclose(np.asarray(whole.c), np.asarray(parts.c), rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.asarray(whole.budget.inflow), np.asarray(parts.budget.inflow), rtol=1e-5)


def test_the_limits_of_a_regional_run_are_checked_without_wrapping_around_its_ends():
    """A flow that speeds up along an open axis: its faces at the two ends are not neighbours."""
    n = 32
    u = jnp.linspace(0.5, 2.5, n + 1)  # face Courant numbers 0.5 .. 2.5 at dt = dx: deformation 2/32 per cell
    step = schemes.scheme("ppm", 2.5, bounded=False)
    c0 = jnp.zeros(n)
    regional = Regional(step, boundaries(x="open"))
    out = rollout(regional, regional.initial(c0), (u,), 1.0 / n, (1.0 / n,), 2)
    assert out.c.shape == (3, n)
    with pytest.raises(UserError, match="deformation number 2 "):  # the same flow read as periodic
        check_limits(step, (u,), 1.0 / n, (1.0 / n,))
    jump = jnp.zeros(n + 1).at[-1].set(2.0)  # the outflow face at Courant 2, the rest still: beyond 0.9
    with pytest.raises(UserError, match="deformation number 2 "):
        rollout(regional, regional.initial(c0), (jump,), 1.0 / n, (1.0 / n,), 2)


@pytest.mark.parametrize(
    "side, source, message",
    [
        (Open(np.ones(5)), None, r"low x side have shape \(5,\), need \(\) or \(8,\)"),
        (Open(([0.0, 1.0], np.ones((2, 7)))), None, r"shape \(7,\) at each time"),
        (Open(), Source(np.ones((8, 9))), r"source rate has shape \(8, 9\)"),
    ],
)
def test_boundary_values_and_sources_of_the_wrong_shape_are_refused(side, source, message):
    regional = Regional(schemes.PPM, boundaries(x=(side, Open()), y=Wall()), source)
    with pytest.raises(ValueError, match=message):
        regional.initial(jnp.zeros((8, 8)))
