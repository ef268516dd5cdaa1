"""Grids, exact coarse-graining, divergence-free velocity fields, rollout conventions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from learned_advection.flows import velocity
from learned_advection.numerics import grids, rollout, schemes

SIZES = [256, 128, 64, 32]


@pytest.mark.parametrize("n", SIZES)
def test_random_sinusoidal_divergence_free(n, x64_mode):
    x64_mode(True)
    g = grids.Grid((n, n), (2 * np.pi, 2 * np.pi))
    vel = velocity.random_sinusoidal(g, seed=5)
    assert vel[0].dtype == jnp.float64
    assert float(jnp.max(jnp.abs(grids.divergence(vel, g.spacing)))) <= 1e-12
    assert velocity.max_speed(vel) == pytest.approx(1.0)


@pytest.mark.parametrize("n", SIZES)
def test_deformational_divergence_free(n, x64_mode):
    x64_mode(True)
    g = grids.Grid((n, n), (1.0, 1.0))
    vel = velocity.deformational(g)(jnp.asarray(1.3))
    assert float(jnp.max(jnp.abs(grids.divergence(vel, g.spacing)))) <= 1e-12


def test_deformational_matches_analytic_field(x64_mode):
    """Face averages approach the point values u = sin^2(pi x) sin(2 pi y) cos(pi t/T) at face centres."""
    x64_mode(True)
    g = grids.Grid((128, 128), (1.0, 1.0))
    t = 0.7
    v, u = velocity.deformational(g)(jnp.asarray(t))
    y, xf = np.meshgrid(g.centres(0), g.faces(1), indexing="ij")
    u_exact = np.sin(np.pi * xf) ** 2 * np.sin(2 * np.pi * y) * np.cos(np.pi * t / 5)
    yf, x = np.meshgrid(g.faces(0), g.centres(1), indexing="ij")
    v_exact = -(np.sin(np.pi * yf) ** 2) * np.sin(2 * np.pi * x) * np.cos(np.pi * t / 5)
    np.testing.assert_allclose(u, u_exact, atol=1e-3)
    np.testing.assert_allclose(v, v_exact, atol=1e-3)


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_velocity_coarsening_equals_streamfunction_subsampling(factor, x64_mode):
    x64_mode(True)
    g = grids.Grid((64, 64), (1.0, 1.0))
    fine, coarse = velocity.random_sinusoidal_family(g, seed=2, factors=[1, factor])
    averaged = grids.coarsen_velocity(fine, factor)
    for a, b in zip(averaged, coarse):
        np.testing.assert_allclose(a, b, atol=1e-13)
    gc = g.coarsen(factor)
    assert float(jnp.max(jnp.abs(grids.divergence(averaged, gc.spacing)))) <= 1e-12


@pytest.mark.parametrize("factor", [2, 4, 8])
@pytest.mark.parametrize("ndim", [1, 2])
def test_concentration_coarsening_is_block_mean(factor, ndim, x64_mode):
    x64_mode(True)
    rng = np.random.default_rng(0)
    c = rng.uniform(size=(3,) + (32,) * ndim)  # a leading batch axis passes through
    cc = np.asarray(grids.coarsen_concentration(jnp.asarray(c), factor, ndim))
    assert cc.shape == (3,) + (32 // factor,) * ndim
    np.testing.assert_allclose(
        cc.sum(axis=tuple(range(1, ndim + 1))) * factor**ndim, c.sum(axis=tuple(range(1, ndim + 1)))
    )
    if ndim == 1:
        np.testing.assert_allclose(cc[0, 1], c[0, factor : 2 * factor].mean())
    else:
        np.testing.assert_allclose(cc[1, 0, 1], c[1, :factor, factor : 2 * factor].mean())


def test_1d_velocity_coarsening_takes_the_coarse_face():
    u = jnp.arange(16.0)
    np.testing.assert_array_equal(grids.coarsen_velocity((u,), 4)[0], [3.0, 7.0, 11.0, 15.0])


def test_coarsening_rejects_indivisible_grid():
    with pytest.raises(ValueError, match="not divisible"):
        grids.coarsen_concentration(jnp.ones(30), 4, 1)


def test_dt_from_cfl():
    assert grids.dt_from_cfl(2.0, (0.5, 0.25), 0.5) == pytest.approx(0.0625)
    assert grids.dt_from_cfl(2.0, (0.5, 0.25), 3.0) == pytest.approx(0.375)  # large steps: any positive Courant number
    with pytest.raises(ValueError, match=r"Courant number must be positive and finite, got nan"):
        grids.dt_from_cfl(1.0, (1.0,), float("nan"))


def _cosine_bell(g):
    Y, X = g.mesh()
    r = np.minimum(1.0, 4 * np.hypot(X - 0.25, Y - 0.25))
    return 0.5 * (1 + np.cos(np.pi * r))


def test_deformational_flow_returns_bell_with_converging_vanleer_error():
    errors = []
    for n in (32, 64, 128):
        g = grids.Grid((n, n), (1.0, 1.0))
        c0 = jnp.asarray(_cosine_bell(g), jnp.float32)
        n_steps = int(np.ceil(5.0 / grids.dt_from_cfl(1.0, g.spacing, 0.5)))
        dt = 5.0 / n_steps
        final = jax.jit(
            lambda c: rollout.rollout(schemes.VANLEER, c, velocity.deformational(g), dt, g.spacing, n_steps, n_steps)
        )(c0)[-1]
        errors.append(float(jnp.mean(jnp.abs(final - c0))))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.5 * errors[0]


def test_rollout_velocity_forms_agree():
    """Constant tuple, time series and callable velocity give the same trajectory; saving every k-th step."""
    g = grids.Grid((16, 16), (1.0, 1.0))
    vel = velocity.random_sinusoidal(g, seed=1)
    c0 = jnp.asarray(np.random.default_rng(0).uniform(size=g.shape), jnp.float32)
    dt = 0.01
    a = rollout.rollout(schemes.VANLEER, c0, vel, dt, g.spacing, 12, 3)
    series = tuple(jnp.broadcast_to(u, (12,) + u.shape) for u in vel)
    b = rollout.rollout(schemes.VANLEER, c0, series, dt, g.spacing, 12, 3)
    c = rollout.rollout(schemes.VANLEER, c0, lambda t: vel, dt, g.spacing, 12, 3)
    assert a.shape == (5, 16, 16)
    # the three forms compile to differently fused XLA programs: equal to float32 round-off
    np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(a, c, atol=1e-6)
    step_by_step = c0
    for _ in range(3):
        step_by_step = schemes.VANLEER(step_by_step, vel, dt, g.spacing)
    np.testing.assert_allclose(a[1], step_by_step, atol=1e-6)
    with pytest.raises(ValueError, match="multiple"):
        rollout.rollout(schemes.VANLEER, c0, vel, dt, g.spacing, 10, 3)
