"""No value leaves the initial range, exactly, in the run's precision: the classical schemes' bounded large step
(``la.scheme(name, courant)`` above Courant number 1) and ``la.FCT(stepper)`` below it.

In exact arithmetic FCT keeps every cell inside the range of the old state; in float32 the flux-form update is
rounded at the size of the fluxes (up to ``courant * max|c|``), and at an integer Courant number, where a cell
receives exactly one upwind cell, a block of the extreme value landed a few ulp outside the range (-1.8e-7 and
1 + 4.8e-7 at Courant 4 before :func:`~learned_advection.numerics.limiters.fct_step` clipped the rounding excess).
Random fields with blocks of exact 0s and 1s, Courant numbers at, a few ulp either side of and between the
integers, uniform and non-uniform divergence-free flows; one compiled step per scheme and grid, reused.
"""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import learned_advection as la
from learned_advection.flows.velocity import faces_from_streamfunction
from learned_advection.numerics.limiters import FCT, local_range

LARGE = ("upwind", "vanleer", "ppm")  # the Lin & Rood schemes: those with a large step
SHAPES = {1: (40,), 2: (20, 20)}
EPS = float(np.finfo(np.float32).eps)
_local_range = jax.jit(local_range, static_argnums=1)


@functools.cache
def _steps(ndim: int, kind: str):
    """One jitted function per grid and kind returning every scheme's step (one compilation, reused)."""
    if kind == "large":  # FFSL + FCT up to Courant 4
        steppers = [la.scheme(name, 4.0) for name in LARGE]
    elif kind == "fct":  # FCT around the ordinary step (below Courant 1): 1-D as is, 2-D with two sub-steps
        steppers = [FCT(la.scheme(name), substeps=None if ndim == 1 else 2) for name in la.SCHEMES]
    else:  # the default FCT around one scheme in 2-D: bounded only while |C_x| + |C_y| <= 1
        steppers = [FCT(la.UPWIND)]
    spacing = (1.0,) * ndim
    return jax.jit(lambda c, velocity, dt: [s(c, velocity, dt, spacing) for s in steppers])


def _field(seed: int, ndim: int) -> jnp.ndarray:
    """Values in [0.2, 0.9] with a block of exact 1s and one of exact 0s at random places."""
    rng = np.random.default_rng(seed)
    shape = SHAPES[ndim]
    c = rng.uniform(0.2, 0.9, shape)
    for value in (1.0, 0.0):
        start = [rng.integers(0, n) for n in shape]
        size = [rng.integers(2, n // 2) for n in shape]
        block = tuple(np.arange(s, s + w) % n for s, w, n in zip(start, size, shape))
        c[np.ix_(*block)] = value
    return jnp.asarray(c, jnp.float32)


def _flow(seed: int, ndim: int, uniform: bool) -> tuple:
    """Face velocities with ``max|u| = 1``: uniform (any direction) or a random divergence-free flow from a corner
    streamfunction (cast to float32: divergence-free to round-off)."""
    rng = np.random.default_rng(seed + 1)
    shape = SHAPES[ndim]
    if ndim == 1:
        return (jnp.full(shape, rng.choice([-1.0, 1.0]), jnp.float32),)
    if uniform:
        speeds = np.array([1.0, rng.uniform(-1, 1)]) * rng.choice([-1.0, 1.0], 2)
        return tuple(jnp.full(shape, s, jnp.float32) for s in rng.permutation(speeds))
    y, x = np.meshgrid(*(2 * np.pi * np.arange(n) / n for n in shape), indexing="ij")
    modes = ((1, 0), (0, 1), (1, 1), (2, -1))
    psi = sum(rng.normal() * np.cos(ky * y + kx * x + rng.uniform(0, 2 * np.pi)) for ky, kx in modes)
    velocity = faces_from_streamfunction(jnp.asarray(psi, jnp.float32), (1.0, 1.0))
    top = max(float(jnp.abs(u).max()) for u in velocity)
    return tuple(u / top for u in velocity)


def _nearby(k: int, ulps: int) -> float:
    """``k`` moved ``ulps`` float32 ulp (negative: down)."""
    x = np.float32(k)
    for _ in range(abs(ulps)):
        x = np.nextafter(x, np.float32(np.inf if ulps > 0 else -np.inf))
    return float(x)


LARGE_COURANT = st.one_of(
    st.sampled_from([2.0, 3.0, 4.0]),
    st.builds(_nearby, st.sampled_from([1, 2, 3, 4]), st.sampled_from([-3, -1, 1, 3])).filter(lambda x: 1 < x <= 4),
    st.floats(1.0, 4.0, exclude_min=True, width=32),
)


def _check(outs, c, courant, names):
    """Every output inside ``[min c, max c]`` exactly; mass to round-off: a few ulp of the fluxes per cell."""
    lo, hi = c.min(), c.max()
    mass = float(np.sum(np.asarray(c, np.float64)))
    round_off = 4 * EPS * max(courant, 1.0) * float(hi) * c.size
    for name, out in zip(names, outs):
        assert out.dtype == jnp.float32
        assert float(out.min()) >= float(lo) and float(out.max()) <= float(hi), (name, courant, out.min(), out.max())
        assert abs(float(np.sum(np.asarray(out, np.float64))) - mass) <= round_off, name


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), courant=LARGE_COURANT, ndim=st.sampled_from([1, 2]), uniform=st.booleans())
def test_large_steps_stay_in_the_initial_range_exactly(seed, courant, ndim, uniform):
    c, velocity = _field(seed, ndim), _flow(seed, ndim, uniform)
    outs = _steps(ndim, "large")(c, velocity, jnp.float32(courant))
    _check(outs, c, courant, LARGE)


def test_integer_courant_numbers_in_1d_stay_in_range_on_every_large_step_configuration():
    """At ``la.scheme(name, k)`` for k = 2, 3, 4 (what ``--cfl k`` builds), a uniform flow at exactly k: a pure
    shift, every block of 0s and 1s landing exactly on the bound."""
    c, velocity = _field(3, 1), (jnp.ones(SHAPES[1], jnp.float32),)
    for k in (2, 3, 4):
        step = jax.jit(lambda x, k=k: [la.scheme(name, float(k))(x, velocity, float(k), (1.0,)) for name in LARGE])
        outs = step(c)
        _check(outs, c, k, LARGE)
        for out in outs:  # the exact result is the shifted field: the clip removed round-off only
            np.testing.assert_allclose(np.asarray(out), np.asarray(jnp.roll(c, k)), rtol=0, atol=8 * EPS * k)


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    courant=st.one_of(st.just(1.0), st.floats(0.0625, 1.0, width=32)),
    ndim=st.sampled_from([1, 2]),
    uniform=st.booleans(),
)
def test_fct_bounds_every_scheme_below_courant_one(seed, courant, ndim, uniform):
    """``la.FCT(scheme)`` (2-D: ``substeps=2``) keeps every classical scheme in the initial range at any Courant
    number up to 1, exactly."""
    c, velocity = _field(seed, ndim), _flow(seed, ndim, uniform)
    outs = _steps(ndim, "fct")(c, velocity, jnp.float32(courant))
    _check(outs, c, courant, list(la.SCHEMES))


def test_default_fct_in_2d_needs_the_outgoing_courant_numbers_to_sum_to_at_most_one():
    """Why 2-D takes ``substeps=2`` above: with one donor-cell step the low-order update of a diagonal flow at
    0.9 per axis is not a convex combination, and the default FCT leaves the range (unclipped: mass kept)."""
    c = _field(0, 2)
    mass = float(np.sum(np.asarray(c, np.float64)))
    diagonal = (jnp.full(SHAPES[2], 0.9, jnp.float32), jnp.full(SHAPES[2], 0.9, jnp.float32))
    (out,) = _steps(2, "default")(c, diagonal, jnp.float32(1.0))
    assert float(out.min()) < float(c.min()) - 1e-2 or float(out.max()) > float(c.max()) + 1e-2
    assert abs(float(np.sum(np.asarray(out, np.float64))) - mass) <= 4 * EPS * c.size


@settings(max_examples=8, deadline=None)
@given(
    shape=st.sampled_from([(7,), (24,), (5, 9), (12, 12)]),
    radius=st.sampled_from([1, 2, 5, 12]),
    seed=st.integers(0, 2**31 - 1),
)
def test_local_range_is_the_range_over_the_square_around_every_cell(shape, radius, seed):
    """What the clip bounds a cell by: the periodic min and max over every shift within ``radius`` per axis."""
    c = np.random.default_rng(seed).random(shape).astype(np.float32)
    lo, hi = _local_range(jnp.asarray(c), radius)
    shifts = [
        np.roll(c, s, axis=tuple(range(c.ndim))) for s in itertools.product(range(-radius, radius + 1), repeat=c.ndim)
    ]
    np.testing.assert_array_equal(np.asarray(lo), np.min(shifts, axis=0))
    np.testing.assert_array_equal(np.asarray(hi), np.max(shifts, axis=0))


@pytest.mark.parametrize("name", LARGE)
def test_a_compressing_flow_is_not_clipped_and_keeps_its_mass(name):
    """A 1-D flow that converges piles the tracer up above its initial maximum (rightly): the clip of the
    rounding excess stays off there, so mass is kept to round-off (a clip everywhere took 16% away by step 100)."""
    n = 64
    x = (np.arange(n) + 0.5) / n
    u = jnp.asarray(0.5 + 0.45 * np.sin(2 * np.pi * (x + 0.5 / n)), jnp.float32)
    c = jnp.asarray(np.where((x > 0.3) & (x < 0.6), 1.0, 0.1), jnp.float32)
    dt = 3.5 / n / float(u.max())
    states = la.rollout(la.scheme(name, 3.5), c, (u,), dt, (1 / n,), 100, 100)
    mass = np.asarray(states, np.float64).sum(axis=-1)
    assert abs(mass[-1] - mass[0]) / mass[0] < 1e-5
    assert float(states[-1].max()) > 1.0  # the tracer piles up where the flow converges
