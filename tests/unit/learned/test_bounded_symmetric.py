"""Bounded learned fluxes (FCT) and exact D4 symmetry of the learned stepper (model options)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from learned_advection.flows import velocity as vel_mod
from learned_advection.learned.config import ModelConfig
from learned_advection.learned.models import build_model, with_options
from learned_advection.numerics import limiters as fct
from learned_advection.numerics import symmetry
from learned_advection.numerics.grids import Grid


def _flow_2d(n=24, courant=0.45, dtype=jnp.float64):
    grid = Grid((n, n), (1.0, 1.0))
    velocity = vel_mod.random_sinusoidal(grid, seed=3, max_speed=1.0)
    dt = courant * grid.spacing[0]  # max |u| = 1: Courant <= 0.45 per direction, <= 0.9 summed
    y, x = np.meshgrid(*(np.arange(n) / n for _ in range(2)), indexing="ij")
    c = np.exp(-((x - 0.4) ** 2 + (y - 0.55) ** 2) / 0.01) + (np.abs(x - 0.7) < 0.1) * (np.abs(y - 0.3) < 0.15)
    return grid, tuple(jnp.asarray(u, dtype) for u in velocity), jnp.asarray(c, dtype), dt


def _rough_model(ndim, **options):
    # a large last-layer scale makes the untrained coefficients far from any sensible scheme
    cfg = ModelConfig(
        ndim=ndim,
        layers=3,
        filters=8,
        stencil=(4,) if ndim == 1 else (4, 3),
        velocity_input="courant",
        final_init_scale=3.0,
        **options,
    )
    return build_model(cfg, jax.random.PRNGKey(7))


def _rollout(model, c, velocity, dt, spacing, n):
    step = jax.jit(lambda x: model(x, velocity, dt, spacing))
    out = [c]
    for _ in range(n):
        out.append(step(out[-1]))
    return np.stack([np.asarray(x) for x in out])


@pytest.mark.parametrize("ndim", [1, 2])
def test_fct_keeps_initial_bounds_and_mass(x64_mode, ndim):
    x64_mode(True)
    if ndim == 2:
        grid, velocity, c, dt = _flow_2d()
    else:
        grid = Grid((40,), (1.0,))
        x = np.arange(40) / 40
        velocity = (jnp.full((40,), 1.0),)
        dt = 0.8 * grid.spacing[0]
        c = jnp.asarray((np.abs(x - 0.3) < 0.1) + np.exp(-(((x - 0.7) / 0.05) ** 2)))
    raw = _rough_model(ndim)
    bounded = with_options(raw, limiter="fct")
    free = _rollout(raw, c, velocity, dt, grid.spacing, 60)
    traj = _rollout(bounded, c, velocity, dt, grid.spacing, 60)
    lo, hi = float(c.min()), float(c.max())
    # the unlimited rough model does leave the bounds (so the check below means something) ...
    assert not np.all(np.isfinite(free)) or free.max() > hi + 1e-3 or free.min() < lo - 1e-3
    # ... the limited one never does, and conserves mass
    assert traj.max() <= hi + 1e-12 and traj.min() >= lo - 1e-12
    np.testing.assert_allclose(traj.sum(axis=tuple(range(1, ndim + 1))), float(c.sum()), rtol=1e-12)
    assert np.abs(np.diff(traj, axis=0)).max() > 1e-3  # it does move the field


def test_fct_accepts_bounded_fluxes_unchanged(x64_mode):
    x64_mode(True)
    grid, velocity, c, dt = _flow_2d()
    cr = tuple(u * dt / d for u, d in zip(velocity, grid.spacing))
    low = fct.upwind_fluxes(c, cr)
    for got, want in zip(fct.limit(c, cr, low), low):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    # a smooth field advected with centred fluxes needs (almost) no correction away from extrema
    smooth = jnp.asarray(np.sin(2 * np.pi * np.arange(24) / 24))[None, :] * jnp.ones((24, 1)) + 2
    centred = tuple(u * 0.5 * (smooth + jnp.roll(smooth, -1, a)) for a, u in enumerate(cr))
    limited = fct.limit(smooth, cr, centred)
    changed = np.mean([np.mean(np.abs(np.asarray(a - b)) > 1e-12) for a, b in zip(limited, centred)])
    assert changed < 0.35


def test_d4_symmetric_model_is_equivariant(x64_mode):
    x64_mode(True)
    grid, velocity, c, dt = _flow_2d(n=16)
    plain = _rough_model(2)
    sym = with_options(plain, symmetry="d4")
    bounded_sym = with_options(plain, symmetry="d4", limiter="fct")
    worst_plain = 0.0
    for k in range(8):
        gc, gv = symmetry.d4_element(k, c, velocity)
        for model, tol in ((sym, 1e-12), (bounded_sym, 1e-12)):
            lhs = model(gc, gv, dt, grid.spacing)
            rhs = symmetry.d4_element(k, model(c, velocity, dt, grid.spacing), velocity)[0]
            np.testing.assert_allclose(np.asarray(lhs), np.asarray(rhs), atol=tol)
        lhs = plain(gc, gv, dt, grid.spacing)
        rhs = symmetry.d4_element(k, plain(c, velocity, dt, grid.spacing), velocity)[0]
        worst_plain = max(worst_plain, float(jnp.abs(lhs - rhs).max()))
    assert worst_plain > 1e-3  # without the option the network is not equivariant
    np.testing.assert_allclose(float(sym(c, velocity, dt, grid.spacing).sum()), float(c.sum()), rtol=1e-12)


def test_d4_inverse_undoes_every_element():
    c = jnp.arange(30.0).reshape(5, 6)
    sq = jnp.arange(36.0).reshape(6, 6)
    zero = (jnp.zeros((6, 6)), jnp.zeros((6, 6)))
    for k in range(8):
        np.testing.assert_array_equal(
            np.asarray(symmetry.d4_inverse(k, symmetry.d4_element(k, sq, zero)[0])), np.asarray(sq)
        )
    assert symmetry.d4_inverse(0, c).shape == c.shape


def test_option_validation():
    with pytest.raises(ValueError, match="limiter"):
        ModelConfig(ndim=1, limiter="clip")
    with pytest.raises(ValueError, match="2-D"):
        ModelConfig(ndim=1, symmetry="d4")
    model = build_model(ModelConfig(ndim=2, stencil=(2, 3)), jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="square"):
        with_options(model, symmetry="d4")(jnp.zeros((4, 6)), (jnp.zeros((4, 6)),) * 2, 0.1, (0.1, 0.2))
    same = with_options(model, limiter="fct")
    assert all(np.array_equal(a.weight, b.weight) for a, b in zip(model.convs, same.convs))


def test_bfloat16_network_is_close_and_conserves_mass():
    grid, velocity, c, dt = _flow_2d(n=16, dtype=jnp.float32)
    model = build_model(
        ModelConfig(ndim=2, layers=2, filters=8, stencil=(4, 3), velocity_input="courant"), jax.random.PRNGKey(1)
    )
    low = with_options(model, precision="bfloat16")
    a, b = model(c, velocity, dt, grid.spacing), low(c, velocity, dt, grid.spacing)
    assert b.dtype == jnp.float32
    assert 0 < float(jnp.abs(a - b).max()) < 2e-2  # different, and close
    np.testing.assert_allclose(float(b.sum()), float(c.sum()), rtol=1e-5)
