"""A classical large step plus a learned face-value correction (``ModelConfig.base_scheme``)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learned_advection.flows import velocity as flows
from learned_advection.learned.config import ModelConfig
from learned_advection.learned.interpolation import NetworkCorrection
from learned_advection.learned.models import build_model, with_options
from learned_advection.numerics import schemes
from learned_advection.numerics.corrected import Corrected
from learned_advection.numerics.fluxform import net_outflow
from learned_advection.numerics.grids import Grid
from learned_advection.numerics.limiters import FCT
from learned_advection.numerics.sharding import step_reach
from learned_advection.numerics.time_stepping import FFSL


def _model(base, max_courant=4, scale=1.0, seed=0, stencil=(2, 3)):
    cfg = ModelConfig(
        ndim=2,
        layers=2,
        filters=8,
        stencil=stencil,
        velocity_input="courant",
        final_init_scale=scale,
        max_courant=max_courant,
        base_scheme=base,
    )
    return build_model(cfg, jax.random.PRNGKey(seed))


def _flow(n, max_courant, seed=5):
    """A non-uniform divergence-free flow whose largest face Courant number (dt = 1) is ``max_courant``."""
    g = Grid((n, n), (1.0, 1.0))
    vel = flows.random_sinusoidal(g, seed=seed)
    scale = max_courant / max(float(jnp.max(jnp.abs(u))) / d for u, d in zip(vel, g.spacing))
    return g, tuple(u * scale for u in vel)


def _blobs(n, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    out = np.full((n, n), 0.1)
    for _ in range(4):
        cy, cx, w = rng.uniform(0, n), rng.uniform(0, n), rng.uniform(2, 5)
        dy = np.minimum(abs(y - cy), n - abs(y - cy))
        dx = np.minimum(abs(x - cx), n - abs(x - cx))
        out += np.exp(-(dy**2 + dx**2) / (2 * w**2))
    return out


@pytest.mark.parametrize("base", ["vanleer", "ppm"])
@pytest.mark.parametrize("max_courant,courant", [(1, 0.8), (4, 3.9)])
def test_a_zero_correction_is_the_classical_step(base, max_courant, courant):
    """A zero-initialised output layer gives the base scheme exactly (training starts there)."""
    g, vel = _flow(16, courant)
    vel = tuple(u.astype(jnp.float32) for u in vel)
    c = jnp.asarray(_blobs(16), jnp.float32)
    model = _model(base, max_courant, scale=0.0)
    scheme = schemes.scheme(base, max_courant, bounded=False)
    got = np.asarray(model(c, vel, 1.0, g.spacing))
    # the base scheme's fluxes, exactly; its fused single-step form (at Courant < 1) to float32 round-off
    np.testing.assert_array_equal(got, np.asarray(c - net_outflow(scheme.fluxes(c, vel, 1.0, g.spacing))))
    np.testing.assert_allclose(got, np.asarray(scheme(c, vel, 1.0, g.spacing)), rtol=0, atol=1e-6)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), stencil=st.sampled_from([(2, 1), (2, 3), (4, 3), (4, 5)]))
def test_correction_coefficients_sum_to_zero(seed, stencil):
    model = _model("ppm", stencil=stencil, seed=seed % 1000)
    rng = np.random.default_rng(seed)
    c = jnp.asarray(rng.random((8, 8)), jnp.float32)
    vel = tuple(jnp.asarray(rng.standard_normal((8, 8)), jnp.float32) for _ in range(2))
    assert isinstance(model.interpolation, NetworkCorrection)
    for d in model.coefficients(c, vel, 1.0, (1.0, 1.0)):
        assert d.shape == (np.prod(stencil), 8, 8)
        np.testing.assert_allclose(np.asarray(d.sum(axis=0)), 0.0, atol=1e-5)


@pytest.mark.parametrize("base", ["vanleer", "ppm"])
@pytest.mark.parametrize("bounded", [False, True])
def test_mass_to_round_off_and_a_constant_kept_at_courant_up_to_4(base, bounded, x64_mode):
    """Random (untrained) weights: still flux form, and a constant gets no correction.  (Unbounded, the
    weights are small: random large corrections grow without a limiter, as an untrained model may.)"""
    x64_mode(True)
    g, vel = _flow(32, 3.9)
    model = _model(base, scale=1.0 if bounded else 0.02)
    if bounded:
        model = with_options(model, limiter="fct")
    run = jax.jit(lambda c: jax.lax.fori_loop(0, 20, lambda _, x: model(x, vel, 1.0, g.spacing), c))
    c = jnp.asarray(_blobs(32))
    out = run(c)
    assert np.all(np.isfinite(np.asarray(out)))
    assert abs(float(out.sum()) - float(c.sum())) < 1e-12 * float(c.sum())
    np.testing.assert_allclose(np.asarray(run(jnp.full(g.shape, 0.37))), 0.37, rtol=0, atol=1e-12)
    if bounded:
        assert float(out.min()) >= float(c.min()) - 1e-12 and float(out.max()) <= float(c.max()) + 1e-12


def test_the_correction_changes_the_step_and_is_semilinear():
    """Non-zero weights move the step off the base scheme; ``H(a C + b) = a H(C) + b`` (a > 0) still holds."""
    g, vel = _flow(16, 2.5)
    vel = tuple(u.astype(jnp.float32) for u in vel)
    c = jnp.asarray(_blobs(16), jnp.float32)
    model = _model("ppm", scale=0.3)
    out = model(c, vel, 1.0, g.spacing)
    assert float(jnp.abs(out - schemes.scheme("ppm", 4, bounded=False)(c, vel, 1.0, g.spacing)).max()) > 1e-3
    np.testing.assert_allclose(
        np.asarray(model(3.0 * c + 2.0, vel, 1.0, g.spacing)), np.asarray(3.0 * out + 2.0), rtol=0, atol=2e-5
    )


def test_composition_and_validation():
    model = _model("vanleer")
    step = model.stepper
    assert isinstance(step, Corrected) and isinstance(step.correction, NetworkCorrection) and step.max_courant == 4
    assert step.base == schemes.scheme("vanleer", 4, bounded=False) and isinstance(step.base, FFSL)
    assert model.max_courant == 4 and FCT(model).max_courant == 4
    assert isinstance(with_options(model, limiter="fct").stepper, FCT)
    assert (
        step_reach(step) is None and model.reach is None
    )  # the network's reach is not a stencil's: sharding uses XLA's own halos
    with pytest.raises(ValueError, match="base_scheme 'ppm' needs"):
        ModelConfig(ndim=2, stencil=(2, 3), base_scheme="ppm", large_step="ffsl", max_courant=2)
    with pytest.raises(ValueError, match="base_scheme must be one of"):
        ModelConfig(ndim=2, stencil=(2, 3), base_scheme="weno")
    cfg = model.config
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    old = cfg.to_dict()
    del old["base_scheme"]  # a checkpoint from before the field: no base scheme
    assert ModelConfig.from_dict(old).base_scheme == "none"


def test_projected_correction_is_the_coefficient_form_and_a_per_cell_output_layer():
    """The correction evaluated by projection equals ``sum(coefficients * stencil values)``; ``output_kernel_size=1``
    makes the last convolution per cell (its weights ``(out, in)``), and the parameter count follows."""
    from learned_advection.learned.config import parameter_count
    from learned_advection.learned.interpolation import stencil_values

    cfg = ModelConfig(
        ndim=2,
        layers=2,
        filters=16,
        stencil=(2, 3),
        velocity_input="courant",
        final_init_scale=1.0,
        max_courant=4,
        base_scheme="ppm",
        output_kernel_size=1,
    )
    model = build_model(cfg, jax.random.PRNGKey(3))
    assert model.convs[-1].weight.shape == (10, 16) and model.convs[0].weight.shape == (16, 27)
    assert parameter_count(cfg) == sum(conv.weight.size + conv.bias.size for conv in model.convs)
    rng = np.random.default_rng(0)
    c = jnp.asarray(rng.random((12, 12)), jnp.float32)
    vel = tuple(jnp.asarray(rng.standard_normal((12, 12)), jnp.float32) for _ in range(2))
    got = model.interpolation(c, vel, 1.0, (1.0, 1.0))
    for a, d in enumerate(model.coefficients(c, vel, 1.0, (1.0, 1.0))):
        want = jnp.sum(d * stencil_values(c, cfg.stencil, a), axis=0)
        np.testing.assert_allclose(np.asarray(got[a]), np.asarray(want), rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="output_kernel_size must be"):
        ModelConfig(ndim=2, stencil=(2, 3), output_kernel_size=2)


def test_the_shipped_hybrid_loads_by_name():
    """``pretrained:turbulence-2d-k8-hybrid``: PPM's step at 8 coarse steps (dt 0.192, Courant up to 4) plus the
    correction; its correction is not zero (trained), and a constant stays constant through it."""
    from learned_advection.learned.checkpoint import load_stepper

    grid = Grid.square(32, 2 * np.pi)
    model = load_stepper("pretrained:turbulence-2d-k8-hybrid", grid)
    cfg = model.config
    assert (cfg.base_scheme, cfg.max_courant, cfg.output_kernel_size) == ("ppm", 4, 1)
    assert model.trained_dt == pytest.approx(0.192)
    vel = tuple(u.astype(jnp.float32) for u in flows.random_sinusoidal(grid, seed=1, max_speed=3.0))
    c = jnp.asarray(_blobs(32), jnp.float32)
    out = model(c, vel, 0.192, grid.spacing)
    assert float(jnp.abs(out - schemes.scheme("ppm", 4, bounded=False)(c, vel, 0.192, grid.spacing)).max()) > 1e-4
    np.testing.assert_allclose(
        np.asarray(model(jnp.full((32, 32), 0.4, jnp.float32), vel, 0.192, grid.spacing)), 0.4, atol=1e-6
    )


@pytest.mark.parametrize("stencil", [(2, 3), (4, 3), (2, 1)])
def test_the_extended_correction_step_equals_the_flux_form(stencil):
    """The step takes the correction's divergence from faces -1/2 .. n - 1/2 (slices of one padded copy, no
    roll): the same as ``c - net_outflow(fluxes)`` (what FCT limits) to float32 round-off, and the extended
    face values are the + face values with the last face first."""
    g, vel = _flow(12, 3.5)
    vel = tuple(u.astype(jnp.float32) for u in vel)
    c = jnp.asarray(_blobs(12), jnp.float32)
    model = _model("ppm", stencil=stencil, scale=0.3)
    step = model.stepper
    np.testing.assert_allclose(
        np.asarray(model(c, vel, 1.0, g.spacing)),
        np.asarray(c - net_outflow(step.fluxes(c, vel, 1.0, g.spacing))),
        rtol=0,
        atol=3e-6,
    )
    corr = model.interpolation
    for a, (plain, ext) in enumerate(zip(corr(c, vel, 1.0, g.spacing), corr.extended(c, vel, 1.0, g.spacing))):
        want = jnp.concatenate([jnp.take(plain, jnp.array([-1]), axis=a), plain], axis=a)
        np.testing.assert_allclose(np.asarray(ext), np.asarray(want), rtol=0, atol=1e-6)
