"""Learned models on regional (non-periodic) domains: the network reads the ghost cells a classical stencil gets."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from learned_advection.learned.checkpoint import load_model
from learned_advection.learned.config import ModelConfig
from learned_advection.learned.models import build_model, with_options
from learned_advection.learned.network import pad_concentration
from learned_advection.numerics.boundaries import Open, Wall, boundaries
from learned_advection.numerics.fluxform import extended_courant
from learned_advection.numerics.limiters import FCT, _face_neighbours, regional_face_neighbours
from learned_advection.numerics.regional import Regional
from learned_advection.numerics.rollout import rollout

PAPER, HYBRID = "pretrained", "pretrained:turbulence-2d-k8-hybrid"
N = 32
H = 2 * np.pi / N
F32 = np.finfo(np.float32).eps


@pytest.fixture(scope="module")
def shipped():
    """The shipped models as they ship (the paper model in FCT, the hybrid in Safeguard) and their dt."""
    out = {}
    for name in (PAPER, HYBRID):
        model, config = load_model(name)
        out[name] = (model, float(config["dt"]))
    return out


@eqx.filter_jit
def _compiled(regional, state, velocity, dt, spacing, n_steps, save_every):
    return rollout(regional, state, velocity, dt, spacing, n_steps, save_every)


def _run(stepper, bounds, c0, velocity, dt, n_steps, save_every=None):
    regional = Regional(stepper, bounds)
    c0 = jnp.asarray(c0, jnp.float32)
    return _compiled(
        regional,
        regional.initial(c0),
        tuple(velocity),
        jnp.asarray(dt, jnp.float32),
        (H, H),
        n_steps,
        save_every or n_steps,
    )


def _channel(speed):
    """A uniform flow along x between walls: y faces (n + 1, n) zero, x faces (n, n + 1)."""
    return jnp.zeros((N + 1, N), jnp.float32), jnp.full((N, N + 1), speed, jnp.float32)


def _open_flow(seed, walls_y):
    """A random smooth divergence-free flow (streamfunction on the cell corners), open along x, walls or open
    along y (zero normal velocity on the walls), max speed 1."""
    rng = np.random.default_rng(seed)
    y, x = np.meshgrid(np.arange(N + 1) * H, np.arange(N + 1) * H, indexing="ij")
    a, b, p, q = rng.normal(size=4)
    eddies = 0.4 * a * np.sin(x + p) * np.sin(y + q) + 0.2 * b * np.cos(2 * x + q)
    if walls_y:
        eddies = eddies * np.sin(y / 2) ** 2  # psi constant along both y walls: no flow through them
    psi = 0.6 * y + eddies
    u = (psi[1:, :] - psi[:-1, :]) / H
    v = -(psi[:, 1:] - psi[:, :-1]) / H
    scale = max(np.abs(u).max(), np.abs(v).max())
    return jnp.asarray(v / scale, jnp.float32), jnp.asarray(u / scale, jnp.float32)


# --------------------------------------------------------------------------- the periodic step, unchanged
@pytest.mark.parametrize(
    ("name", "limiter"), [(PAPER, "none"), (PAPER, "fct"), (HYBRID, "safeguard"), (HYBRID, "none")]
)
def test_an_all_periodic_regional_run_of_a_learned_model_is_the_ordinary_run(shipped, name, limiter):
    model, dt = shipped[name]
    model = with_options(model, limiter=limiter)
    rng = np.random.default_rng(1)
    c0 = jnp.asarray(rng.random((N, N)), jnp.float32)
    u = 0.5 + 0.3 * np.sin(2 * np.pi * np.arange(N) / N)[:, None] * np.ones((1, N))
    velocity = (jnp.full((N, N), 0.3, jnp.float32), jnp.asarray(u, jnp.float32))
    scale = 1.0 if dt < 0.1 else 4.0  # the hybrid takes large steps
    velocity = tuple(scale * v for v in velocity)
    regional = _run(model, boundaries(ndim=2), c0, velocity, dt, 4)
    ordinary = eqx.filter_jit(rollout)(model, c0, velocity, jnp.float32(dt), (H, H), 4, 4)
    np.testing.assert_allclose(np.asarray(regional.c[-1]), np.asarray(ordinary[-1]), rtol=0, atol=64 * F32)
    assert float(jnp.max(jnp.abs(regional.budget.inflow))) == 0.0


def test_the_regional_network_reads_the_periodic_image_on_a_periodic_axis():
    """A 1-D model, freshly initialised: on an all-periodic domain the network's outputs of the interior cells and
    of the ghost cells are its periodic outputs."""
    config = ModelConfig(ndim=1, layers=3, filters=8, stencil=(4,), final_init_scale=1.0)
    model = build_model(config, jax.random.PRNGKey(0))
    c = jnp.asarray(np.random.default_rng(2).random(16), jnp.float32)
    velocity = (jnp.linspace(0.2, 0.9, 16, dtype=jnp.float32),)
    conditions = boundaries(ndim=1).at(0.0, 0.1)
    z, padded = model.network.regional(c, velocity, 0.1, (1.0,), conditions, 2)
    periodic = model.network(c, velocity, 0.1, (1.0,))
    np.testing.assert_allclose(np.asarray(z), np.asarray(jnp.pad(periodic, ((0, 0), (2, 2)), mode="wrap")), atol=1e-6)
    np.testing.assert_array_equal(np.asarray(padded), np.asarray(jnp.pad(c, 2, mode="wrap")))


# --------------------------------------------------------------------------- the defining properties
@pytest.mark.parametrize("name", [PAPER, HYBRID])
def test_a_constant_inflow_into_a_uniform_channel_stays_constant(shipped, name):
    """The shipped defaults (paper model in FCT, hybrid in Safeguard): a constant field with the same constant
    inflow stays that constant, exactly (the network sees a constant, its coefficients sum to 1)."""
    model, dt = shipped[name]
    speed = 0.8 if dt < 0.1 else 2.0  # Courant ~0.1 and ~2
    bounds = boundaries(x=(Open(0.7), Open()), y=Wall())
    out = _run(model, bounds, np.full((N, N), 0.7), _channel(speed), dt, 40, 10)
    np.testing.assert_allclose(np.asarray(out.c), 0.7, rtol=0, atol=4 * F32)


@pytest.mark.parametrize("name", [PAPER, HYBRID])
def test_a_constant_inflow_fills_an_empty_channel(shipped, name):
    """Clean air at first, an inflow of 0.7: after about three transits the channel holds 0.7 everywhere."""
    model, dt = shipped[name]
    speed = 0.8 if dt < 0.1 else 2.0
    steps = int(np.ceil(3 * 2 * np.pi / (speed * dt)))
    bounds = boundaries(x=(Open(0.7), Open()), y=Wall())
    out = _run(model, bounds, np.zeros((N, N)), _channel(speed), dt, steps)
    np.testing.assert_allclose(np.asarray(out.c[-1]), 0.7, rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", [PAPER, HYBRID])
@pytest.mark.parametrize("walls_y", [True, False], ids=["walls", "open"])
def test_the_mass_budget_of_a_learned_model_closes_in_float32(shipped, name, walls_y):
    """mass change = inflow - outflow (:meth:`Budget.net`) to 1e-6 relative, a time-dependent patchy inflow."""
    model, dt = shipped[name]
    velocity = _open_flow(3, walls_y)
    if dt > 0.1:
        velocity = tuple(2.0 * v for v in velocity)
    rng = np.random.default_rng(4)
    inflow = Open(([0.0, 10 * dt, 40 * dt], rng.random((3, N)).astype(np.float32)))
    side_y = Wall() if walls_y else (Open(0.3), Open(0.6))
    bounds = boundaries(x=(inflow, Open()), y=side_y)
    c0 = rng.random((N, N)).astype(np.float32)
    out = _run(model, bounds, c0, velocity, dt, 48, 8)
    mass = np.asarray(out.c, np.float64).sum(axis=(1, 2)) * H * H
    net = np.asarray(out.budget.net(), np.float64)
    b = out.budget
    scale = max(np.abs(mass).max(), float(jnp.sum(b.inflow[-1])), float(jnp.sum(b.outflow[-1])))
    assert np.abs((mass - mass[0]) - net).max() <= 1e-6 * scale
    assert float(jnp.sum(b.inflow[-1])) > 0 and float(jnp.sum(b.outflow[-1])) > 0  # things did cross


@pytest.mark.parametrize("substeps", [2, 8])
def test_the_paper_model_in_fct_stays_within_the_initial_and_inflow_values(shipped, substeps):
    """A sheared channel flow, a block of 1 in clean air and an inflow of 2: every value stays in [0, 2]
    (the shipped paper model's FCT, two donor-cell half steps, and one with more)."""
    model, dt = shipped[PAPER]
    bare = with_options(model, limiter="none")
    y = (np.arange(N) + 0.5) * H
    u = np.ones((N, N + 1), np.float32) * (1.0 + 0.5 * np.sin(y))[:, None].astype(np.float32)
    velocity = (jnp.zeros((N + 1, N), jnp.float32), jnp.asarray(u))
    c0 = np.zeros((N, N), np.float32)
    c0[8:20, 4:14] = 1.0
    bounds = boundaries(x=(Open(2.0), Open()), y=Wall())
    limited = _run(FCT(bare, substeps=substeps), bounds, c0, velocity, dt, 120, 10)
    assert float(limited.c.min()) >= 0.0 and float(limited.c.max()) <= 2.0
    unbounded = _run(bare, bounds, c0, velocity, dt, 120, 10)
    assert float(unbounded.c.min()) < 0.0 or float(unbounded.c.max()) > 2.0  # the bound is the limiter's


def test_the_swept_learned_stencil_is_refused_on_a_regional_domain():
    config = ModelConfig(ndim=1, layers=2, filters=4, stencil=(2,), max_courant=2, large_step="ffsl")
    model = build_model(config, jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="periodic domains only"):
        _run(model, boundaries(x="open"), np.zeros(8), (jnp.ones(9, jnp.float32),), 0.1, 2)


def test_the_regional_face_neighbour_bounds_are_the_periodic_ones_and_see_the_inflow():
    """:func:`regional_face_neighbours`: on an all-periodic domain the bounds of FCT's periodic step at Courant
    number 1; beyond an inflow side the inflow value, beyond a wall or an outflow side nothing."""
    rng = np.random.default_rng(5)
    c = jnp.asarray(rng.random((6, 7)), jnp.float32)
    periodic = boundaries(ndim=2).at(0.0, 0.1)
    courant = extended_courant((jnp.full((6, 7), 0.3), jnp.full((6, 7), 0.2)), periodic)
    for op in (jax.lax.min, jax.lax.max):
        np.testing.assert_array_equal(
            np.asarray(regional_face_neighbours(c, op, periodic, courant)), np.asarray(_face_neighbours(c, op))
        )
    channel = boundaries(x=(Open(5.0), Open()), y=Wall()).at(0.0, 0.1)
    courant = (jnp.zeros((7, 7)), jnp.full((6, 8), 0.3))
    upper = np.asarray(regional_face_neighbours(c, jax.lax.max, channel, courant))
    lower = np.asarray(regional_face_neighbours(c, jax.lax.min, channel, courant))
    assert (upper[:, 0] == 5.0).all() and (upper[:, 1:] <= 1.0).all()  # the inflow value, the first column only
    inner = np.minimum(np.asarray(c), np.minimum(np.roll(np.asarray(c), 1, 1), np.roll(np.asarray(c), -1, 1)))
    np.testing.assert_array_equal(
        lower[1:-1, 1:-1], np.minimum(inner, np.minimum(np.roll(c, 1, 0), np.roll(c, -1, 0)))[1:-1, 1:-1]
    )
    np.testing.assert_array_equal(lower[0, 1:-1], np.minimum(inner[0], np.asarray(c)[1])[1:-1])  # no ghost below


def test_outflow_ghost_cells_repeat_the_edge_cell_and_the_others_are_the_classical_ones():
    rng = np.random.default_rng(6)
    c = jnp.asarray(rng.random((6, 7)), jnp.float32)
    conditions = boundaries(x=(Open(5.0), Open()), y=(Wall(), Open(2.0))).at(0.0, 0.1)
    # y faces: zero on the low wall, -0.2 on the high side (into the domain: inflow); x faces: 0.3 (inflow low x)
    courant = (jnp.zeros((7, 7)).at[-1].set(-0.2), jnp.full((6, 8), 0.3))
    edge = np.asarray(pad_concentration(c, 3, conditions, courant, "edge"))
    classical = np.asarray(pad_concentration(c, 3, conditions, courant, "extrapolated"))
    np.testing.assert_array_equal(edge[:, -3:], np.repeat(edge[:, -4:-3], 3, axis=1))  # outflow: the edge column
    np.testing.assert_array_equal(edge[:, :-3], classical[:, :-3])  # inflow, wall and interior: unchanged
    assert (edge[3:-3, :3] == 5.0).all() and (edge[-3:, 3:-3] == 2.0).all()
    np.testing.assert_array_equal(edge[:3, 3:-3], np.asarray(c)[2::-1])  # the wall's mirror image
    with pytest.raises(ValueError, match="'edge' or 'extrapolated'"):
        pad_concentration(c, 3, conditions, courant, "zero")


def test_a_1d_learned_model_in_fct_keeps_a_constant_and_its_mass_budget_on_an_open_domain():
    config = ModelConfig(ndim=1, layers=3, filters=8, stencil=(4,), final_init_scale=1.0, limiter="fct")
    model = build_model(config, jax.random.PRNGKey(1))
    n, h, dt = 24, 1.0 / 24, 0.5 / 24
    velocity = (jnp.full(n + 1, 1.0, jnp.float32),)
    regional = Regional(model, boundaries(x=(Open(0.4), Open())))
    run = eqx.filter_jit(rollout)
    kept = run(regional, regional.initial(jnp.full(n, 0.4, jnp.float32)), velocity, jnp.float32(dt), (h,), 30, 10)
    np.testing.assert_allclose(np.asarray(kept.c), 0.4, rtol=0, atol=4 * F32)
    c0 = jnp.asarray(np.random.default_rng(7).random(n), jnp.float32)
    out = run(regional, regional.initial(c0), velocity, jnp.float32(dt), (h,), 30, 10)
    mass = np.asarray(out.c, np.float64).sum(axis=-1) * h
    assert np.abs((mass - mass[0]) - np.asarray(out.budget.net(), np.float64)).max() <= 1e-6 * mass.max()
    assert float(out.c.min()) >= 0.0 and float(out.c.max()) <= 1.0  # inside the initial and inflow values
