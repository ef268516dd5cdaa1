"""The safeguard of a learned correction (``limiter="safeguard"``, :class:`~learned_advection.numerics.limiters.Safeguard`):
the correction limited against its base step's result, and :func:`~learned_advection.numerics.fluxform.materialize`,
the fusion boundary it is fast with."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learned_advection.evaluation.deformation_limit import cellular_flow
from learned_advection.flows import velocity as flows
from learned_advection.learned.checkpoint import load_stepper
from learned_advection.learned.config import ModelConfig
from learned_advection.learned.models import build_model, with_options
from learned_advection.numerics.corrected import Corrected
from learned_advection.numerics.fluxform import materialize, net_outflow
from learned_advection.numerics.grids import Grid
from learned_advection.numerics.limiters import Safeguard, local_range
from learned_advection.numerics.schemes import scheme


def _hybrid(scale, seed=0, max_courant=4):
    cfg = ModelConfig(
        ndim=2,
        layers=2,
        filters=8,
        stencil=(2, 3),
        velocity_input="courant",
        final_init_scale=scale,
        max_courant=max_courant,
        base_scheme="ppm",
        limiter="safeguard",
    )
    return build_model(cfg, jax.random.PRNGKey(seed))


def _flow(n, courant, seed):
    g = Grid((n, n), (1.0, 1.0))
    vel = flows.random_sinusoidal(g, seed=seed)
    scale = courant / max(float(jnp.max(jnp.abs(u))) / d for u, d in zip(vel, g.spacing))
    return g, tuple(u * scale for u in vel)


def test_materialize_is_the_identity_under_jit_vmap_and_differentiation():
    x = jnp.arange(6.0, dtype=jnp.float32).reshape(2, 3)
    tree = (x, {"y": -x})
    out = jax.jit(materialize)(tree)
    np.testing.assert_array_equal(out[0], x)
    np.testing.assert_array_equal(out[1]["y"], -x)
    np.testing.assert_array_equal(jax.vmap(lambda r: materialize(r) * 2)(x), 2 * x)
    np.testing.assert_array_equal(jax.grad(lambda r: jnp.sum(materialize(r) ** 2))(x), 2 * x)
    batched_grad = jax.jit(jax.vmap(jax.grad(lambda r: jnp.sum(materialize(r) ** 2))))(x)
    np.testing.assert_array_equal(batched_grad, 2 * x)
    nan = jnp.full(3, jnp.nan)  # the run-time predicate's other branch keeps the values too
    assert np.isnan(np.asarray(jax.jit(materialize)(nan))).all()


def test_the_safeguard_needs_a_correction_and_the_config_refuses_it_without_a_base():
    with pytest.raises(TypeError, match="split_fluxes"):
        Safeguard(scheme("ppm", 4, bounded=False))
    with pytest.raises(ValueError, match="safeguard"):
        ModelConfig(ndim=2, stencil=(2, 3), limiter="safeguard")


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    courant=st.floats(0.2, 3.95),
    scale=st.sampled_from([0.5, 3.0, 30.0]),
)
def test_every_value_stays_in_the_range_of_the_old_state_and_the_base_result_nearby(seed, courant, scale):
    """The guarantee: each cell in [min, max] of ``c`` and the base step's result over its 3 x 3 cells (to a few
    ulp of the fluxes); mass to round-off; the flux form agrees with the step."""
    g, vel = _flow(16, courant, seed % 7)
    rng = np.random.default_rng(seed)
    c = jnp.asarray(rng.random(g.shape), jnp.float32)
    model = _hybrid(scale, seed % 5)
    base = model.stepper.stepper.base  # Safeguard(Corrected(base, ...))
    assert isinstance(model.stepper, Safeguard) and isinstance(model.stepper.stepper, Corrected)
    out = np.asarray(model(c, vel, 1.0, g.spacing), np.float64)
    c_base = base(c, vel, 1.0, g.spacing)
    lo = np.asarray(local_range(jnp.minimum(c, c_base), 1)[0], np.float64)
    hi = np.asarray(local_range(jnp.maximum(c, c_base), 1)[1], np.float64)
    tol = 8 * np.finfo(np.float32).eps * (1 + courant)
    assert (out >= lo - tol).all() and (out <= hi + tol).all()
    assert abs(out.sum() - float(np.asarray(c, np.float64).sum())) <= 1e-4
    flux_form = np.asarray(c - net_outflow(model.fluxes(c, vel, 1.0, g.spacing)))
    np.testing.assert_allclose(out, flux_form, rtol=0, atol=tol)


def test_a_zero_correction_is_the_base_step():
    g, vel = _flow(16, 3.5, 2)
    c = jnp.asarray(np.random.default_rng(0).random(g.shape), jnp.float32)
    zero = _hybrid(0.0)
    base = scheme("ppm", 4, bounded=False)
    np.testing.assert_allclose(zero(c, vel, 1.0, g.spacing), base(c, vel, 1.0, g.spacing), rtol=0, atol=1e-6)


def test_the_shipped_hybrid_is_safeguarded_by_default_and_stays_in_range_where_plain_blows_up():
    """Steady cellular vortices (k = 1, Courant 3, deformation number 0.59, inside the declared limits): the
    unguarded hybrid reaches +-1e14 in 200 steps; its default (safeguarded) variant stays in [0, 1] like PPM."""
    grid = Grid.square(32, 2 * np.pi)
    model = load_stepper("pretrained:turbulence-2d-k8-hybrid", grid)
    assert model.config.limiter == "safeguard" and model.stepper.name.endswith("+safeguard")
    dt = model.trained_dt
    vel = tuple(jnp.asarray(u, jnp.float32) for u in cellular_flow(1, 3.0, dt, grid))
    block = jnp.zeros(grid.shape, jnp.float32).at[8:20, 6:18].set(1.0)

    def run(step):
        return jax.jit(lambda c: jax.lax.fori_loop(0, 200, lambda i, c: step(c, vel, dt, grid.spacing), c))(block)

    safe = np.asarray(run(model))
    assert np.isfinite(safe).all() and safe.min() >= -1e-5 and safe.max() <= 1 + 1e-5
    assert abs(float(safe.sum()) - float(block.sum())) <= 1e-3
    unguarded = np.asarray(run(with_options(model, limiter="none")))
    assert not (np.abs(unguarded) <= 10).all()
