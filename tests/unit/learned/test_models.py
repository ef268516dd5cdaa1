"""Learned interpolation: constraint, conservation, semi-linearity, equivariance, gradients."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learned_advection.flows import velocity as vel_mod
from learned_advection.learned.config import ModelConfig
from learned_advection.learned.interpolation import (
    constrained_coefficients,
    constraint_basis,
    stencil_offsets,
    stencil_values,
)
from learned_advection.learned.models import build_model
from learned_advection.learned.network import PeriodicConv, periodic_windows, rescale_unit
from learned_advection.numerics.grids import Grid

STENCILS = [((2,), 1), ((4,), 1), ((2, 3), 2), ((4, 5), 2)]


@pytest.mark.parametrize("stencil,ndim", STENCILS)
def test_coefficients_sum_to_one_and_zero_output_is_centred(stencil, ndim):
    c0, null = constraint_basis(stencil, ndim)
    size = int(np.prod(stencil))
    assert null.shape == (size, size - 1)
    np.testing.assert_allclose(null.T @ null, np.eye(size - 1), atol=1e-12)  # orthonormal
    np.testing.assert_allclose(c0.sum(), 1.0)
    z = jax.random.normal(jax.random.PRNGKey(0), (size - 1, 7, 5)) * 10.0
    w = constrained_coefficients(z, stencil, ndim)
    roundoff = 8 * np.finfo(np.float32).eps * np.asarray(jnp.abs(w).sum(axis=0))  # float32 round-off of the sum
    assert np.all(np.abs(np.asarray(w.sum(axis=0)) - 1.0) <= roundoff)
    w0 = np.asarray(constrained_coefficients(jnp.zeros((size - 1, 3)), stencil, ndim))
    offsets = stencil_offsets(stencil, ndim, 0)
    for k, off in enumerate(offsets):  # 1/2 on cells i and i+1 across the face, 0 elsewhere
        expect = 0.5 if off[0] in (0, 1) and all(o == 0 for o in off[1:]) else 0.0
        np.testing.assert_allclose(w0[k], expect, atol=1e-7)


def _setup(ndim, n=16):
    if ndim == 1:
        grid = Grid((n,), (float(n),))
        velocity = (jnp.full((n,), 0.8),)
        c = jax.random.uniform(jax.random.PRNGKey(3), (n,))
        return grid, velocity, c, 0.5
    grid = Grid((n, n), (1.0, 1.0))
    velocity = vel_mod.random_sinusoidal(grid, seed=1)
    c = jax.random.uniform(jax.random.PRNGKey(3), (n, n))
    return grid, velocity, c, 0.4 * grid.spacing[0]


class _Jitted:
    """A model with jitted methods (eager op-by-op dispatch is slow on a busy CPU)."""

    def __init__(self, model):
        self.model, self.config = model, model.config
        self._call = eqx.filter_jit(lambda m, *a: m(*a))
        self._coefficients = eqx.filter_jit(lambda m, *a: m.coefficients(*a))
        self._faces = eqx.filter_jit(lambda m, *a: m.face_values(*a))

    def __call__(self, c, velocity, dt, spacing):
        return self._call(self.model, c, tuple(velocity), dt, tuple(spacing))

    def coefficients(self, c, velocity, dt, spacing):
        return self._coefficients(self.model, c, tuple(velocity), dt, tuple(spacing))

    def face_values(self, c, velocity, dt, spacing):
        return self._faces(self.model, c, tuple(velocity), dt, tuple(spacing))


def _model(ndim, scale=1.0, jit=True, **kw):
    stencil = (2,) if ndim == 1 else (2, 3)
    cfg = ModelConfig(ndim=ndim, layers=3, filters=8, stencil=stencil, final_init_scale=scale, **kw)
    model = build_model(cfg, jax.random.PRNGKey(7))
    return _Jitted(model) if jit else model


@pytest.mark.parametrize("ndim", [1, 2])
def test_untrained_zero_last_layer_is_centred_scheme(ndim):
    grid, velocity, c, dt = _setup(ndim)
    model = _model(ndim, scale=0.0)
    for w in model.coefficients(c, velocity, dt, grid.spacing):
        c0, _ = constraint_basis(model.config.stencil, ndim)
        np.testing.assert_allclose(np.asarray(w), np.broadcast_to(c0.reshape((-1,) + (1,) * ndim), w.shape), atol=1e-7)
    faces = model.face_values(c, velocity, dt, grid.spacing)
    for a, f in enumerate(faces):
        np.testing.assert_allclose(np.asarray(f), np.asarray(0.5 * (c + jnp.roll(c, -1, axis=a))), atol=1e-6)


@pytest.mark.parametrize("ndim", [1, 2])
@pytest.mark.parametrize("velocity_input", ["raw", "courant"])
def test_mass_conserved_and_semilinear(ndim, velocity_input):
    grid, velocity, c, dt = _setup(ndim)
    model = _model(ndim, velocity_input=velocity_input)
    out = model(c, velocity, dt, grid.spacing)
    assert out.shape == c.shape
    assert not np.allclose(out, c)
    np.testing.assert_allclose(float(out.sum()), float(c.sum()), rtol=2e-6)
    a, b = 3.7, -1.3
    np.testing.assert_allclose(
        np.asarray(model(a * c + b, velocity, dt, grid.spacing)), np.asarray(a * out + b), atol=2e-5
    )
    const = jnp.full(c.shape, 0.42)  # a constant field stays constant (divergence-free flow)
    np.testing.assert_allclose(np.asarray(model(const, velocity, dt, grid.spacing)), 0.42, atol=1e-6)


@pytest.mark.parametrize("ndim", [1, 2])
def test_periodic_shift_equivariance(ndim):
    grid, velocity, c, dt = _setup(ndim)
    model = _model(ndim)
    shift = (5,) if ndim == 1 else (3, -6)
    axes = tuple(range(ndim))
    roll = lambda x: jnp.roll(x, shift, axis=axes)  # noqa: E731
    lhs = model(roll(c), tuple(roll(u) for u in velocity), dt, grid.spacing)
    rhs = roll(model(c, velocity, dt, grid.spacing))
    np.testing.assert_allclose(np.asarray(lhs), np.asarray(rhs), atol=1e-6)


def test_rescale_constant_field_and_gradient_finite():
    c = jnp.full((8,), 2.5)
    np.testing.assert_array_equal(np.asarray(rescale_unit(c)), 0.0)
    np.testing.assert_allclose(np.asarray(rescale_unit(jnp.arange(5.0))), np.linspace(0, 1, 5), atol=1e-7)
    grid, velocity, _, dt = _setup(1)
    model = _model(1, jit=False)

    @jax.jit
    def grads(c, model):
        return jax.grad(lambda c, m: jnp.sum(m(c, velocity, dt, grid.spacing) ** 2), argnums=(0, 1))(c, model)

    gc, gm = grads(jnp.full((16,), 0.3), model)
    assert np.all(np.isfinite(np.asarray(gc)))
    assert all(np.all(np.isfinite(np.asarray(x))) for x in jax.tree_util.tree_leaves(gm))


def test_model_is_batched_with_vmap_and_rejects_wrong_dimension():
    grid, velocity, c, dt = _setup(1)
    model = _model(1, jit=False)
    batch = jnp.stack([c, 2 * c])
    out = jax.jit(jax.vmap(lambda x: model(x, velocity, dt, grid.spacing)))(batch)
    np.testing.assert_allclose(np.asarray(out[1]), np.asarray(2 * out[0]), atol=1e-5)
    with pytest.raises(ValueError, match="1-D but the concentration has shape"):
        model(jnp.zeros((4, 4)), velocity, dt, grid.spacing)


def test_config_validation():
    with pytest.raises(ValueError, match="2-D stencil is"):
        ModelConfig(ndim=2, stencil=(2,))
    with pytest.raises(ValueError, match="across the face must be even"):
        ModelConfig(ndim=1, stencil=(3,))
    with pytest.raises(ValueError, match="activation must be one of"):
        ModelConfig(activation="nope")
    cfg = ModelConfig(ndim=2, stencil=(4, 5), activation="gelu")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg


# --------------------------------------------------------------------------- large steps (flux-form semi-Lagrangian)
def _ffsl_model(max_courant=3, seed=0, large_step="ffsl"):
    from learned_advection.learned.models import build_model

    cfg = ModelConfig(
        ndim=2,
        layers=2,
        filters=8,
        stencil=(4, 3),
        velocity_input="courant",
        final_init_scale=1.0,
        max_courant=max_courant,
        large_step=large_step,
    )
    return build_model(cfg, jax.random.PRNGKey(seed))


@pytest.mark.parametrize("cy,cx", [(1, 0), (2, -3), (-3, 1), (3, 3)])
def test_ffsl_learned_step_shifts_exactly_at_integer_courant_numbers(cy, cx):
    """Whole cells are moved exactly whatever the (random, untrained) weights: the learned part multiplies a zero fraction."""
    from learned_advection.numerics.grids import Grid

    g = Grid((16, 16), (1.0, 1.0))
    c = jnp.asarray(np.random.default_rng(1).uniform(0, 1, g.shape), jnp.float32)
    vel = tuple(jnp.full(g.shape, s * d, jnp.float32) for s, d in zip((cy, cx), g.spacing))
    model = _ffsl_model()
    # unsplit: the two directions from the same state -- exact only along one axis at a time
    for vel1, shift in (((vel[0], jnp.zeros_like(vel[1])), (cy, 0)), ((jnp.zeros_like(vel[0]), vel[1]), (0, cx))):
        out = model(c, vel1, 1.0, g.spacing)
        np.testing.assert_allclose(np.asarray(out), np.asarray(jnp.roll(c, shift, axis=(0, 1))), rtol=0, atol=2e-6)


def test_ffsl_learned_is_the_usual_model_below_courant_one_and_keeps_mass_above():
    from learned_advection.flows import velocity
    from learned_advection.numerics.grids import Grid

    g = Grid((16, 16), (1.0, 1.0))
    vel = tuple(u.astype(jnp.float32) for u in velocity.random_sinusoidal(g, seed=2))
    c = jnp.asarray(np.random.default_rng(3).uniform(0, 1, g.shape), jnp.float32)
    ffsl, plain = _ffsl_model(), _ffsl_model(large_step="none")
    dt_small = 0.9 / (16 * max(float(jnp.abs(u).max()) for u in vel))  # Courant 0.9
    np.testing.assert_array_equal(
        np.asarray(ffsl(c, vel, dt_small, g.spacing)), np.asarray(plain(c, vel, dt_small, g.spacing))
    )
    out = ffsl(c, vel, 3.5 * dt_small / 0.9, g.spacing)  # Courant up to 3.5
    assert abs(float(out.sum()) - float(c.sum())) < 1e-4
    assert np.all(np.isfinite(np.asarray(out)))
    from learned_advection.learned.models import with_options

    bounded = with_options(ffsl, limiter="fct")  # FCT with reach max_courant against sub-stepped upwind
    out = bounded(c, vel, 3.5 * dt_small / 0.9, g.spacing)
    assert float(out.min()) >= float(c.min()) - 1e-6 and float(out.max()) <= float(c.max()) + 1e-6


# --------------------------------------------------------------------------- periodic windows
@settings(max_examples=40, deadline=None)
@given(
    ny=st.integers(1, 7),
    nx=st.integers(1, 7),
    lead=st.integers(0, 1),
    offsets=st.lists(st.tuples(st.integers(-9, 9), st.integers(-9, 9)), min_size=1, max_size=6),
)
def test_periodic_windows_are_the_rolled_arrays(ny, nx, lead, offsets):
    """``periodic_windows(x, offsets)[k][i] = x[i + offsets[k]]`` periodically, even for shifts longer than the grid."""
    x = np.arange((3 if lead else 1) * ny * nx, dtype=np.float32).reshape(((3,) if lead else ()) + (ny, nx))
    got = periodic_windows(jnp.asarray(x), offsets, lead=lead)
    for off, window in zip(offsets, got):
        np.testing.assert_array_equal(np.asarray(window), np.roll(x, (-off[0], -off[1]), axis=(lead, lead + 1)))


def test_stencil_values_and_convolution_match_the_rolled_forms():
    """The slicing form of the stencil values and of the periodic convolution is the old roll form, bitwise."""
    rng = np.random.default_rng(3)
    c = jnp.asarray(rng.standard_normal((6, 9)), jnp.float32)
    for axis in (0, 1):
        offsets = stencil_offsets((4, 5), 2, axis)
        rolled = np.stack([np.roll(np.asarray(c), tuple(-o for o in off), axis=(0, 1)) for off in offsets])
        np.testing.assert_array_equal(np.asarray(stencil_values(c, (4, 5), axis)), rolled)
    conv = PeriodicConv(3, 4, 3, 2, rng=np.random.default_rng(0))
    x = jnp.asarray(rng.standard_normal((3, 6, 9)), jnp.float32)
    shifts = [
        jnp.roll(x, off, axis=(1, 2))
        for off in ((1, 1), (1, 0), (1, -1), (0, 1), (0, 0), (0, -1), (-1, 1), (-1, 0), (-1, -1))
    ]
    old = jnp.tensordot(conv.weight, jnp.stack(shifts, axis=1).reshape((-1, 6, 9)), axes=1) + conv.bias[:, None, None]
    np.testing.assert_array_equal(np.asarray(conv(x)), np.asarray(old))


@pytest.mark.parametrize("large_step", ["none", "ffsl"])
def test_a_batched_step_is_the_step_of_each_sample(large_step):
    """``vmap`` over samples (the batched rollout) gives each sample's own step."""
    cfg = ModelConfig(
        ndim=2, layers=2, filters=4, stencil=(4, 5), velocity_input="courant", max_courant=2, large_step=large_step
    )
    model = build_model(cfg, jax.random.PRNGKey(1))
    grid = Grid.square(12, 2 * np.pi)
    rng = np.random.default_rng(5)
    c = jnp.asarray(rng.random((3, 12, 12)), jnp.float32)
    vel = tuple(jnp.asarray(2.5 * rng.standard_normal((3, 12, 12)), jnp.float32) for _ in range(2))
    dt = 0.4 * grid.spacing[0]
    batched = jax.vmap(lambda c, *v: model(c, v, dt, grid.spacing))(c, *vel)
    for b in range(3):
        one = model(c[b], tuple(u[b] for u in vel), dt, grid.spacing)
        np.testing.assert_allclose(np.asarray(batched[b]), np.asarray(one), rtol=1e-5, atol=1e-6)
