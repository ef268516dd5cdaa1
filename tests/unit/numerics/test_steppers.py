"""The stepper abstraction: time-stepping types over an interpolation, corrections, wrappers, combinators."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import oracles
from learned_advection.flows import velocity
from learned_advection.learned.config import ModelConfig
from learned_advection.learned.interpolation import constraint_basis
from learned_advection.learned.models import LearnedModel, build_model
from learned_advection.numerics import fluxform, grids, limiters, reconstructions, rollout, schemes, steppers, symmetry
from learned_advection.numerics.corrected import Corrected
from learned_advection.numerics.interpolation import Interpolation, Reconstruction
from learned_advection.numerics.schemes import SCHEMES, scheme
from learned_advection.numerics.time_stepping import FFSL, SSPRK3, LinRood, Unsplit


def _flow(n=24, seed=5, dtype=jnp.float32):
    g = grids.Grid((n, n), (1.0, 1.0))
    vel = tuple(u.astype(dtype) for u in velocity.random_sinusoidal(g, seed=seed))
    dt = grids.dt_from_cfl(velocity.max_speed(vel), g.spacing, 0.5)
    c0 = jnp.asarray(np.random.default_rng(seed).uniform(0.0, 1.0, g.shape), dtype)
    return g, c0, vel, dt


def _upwind_coefficient_model(ndim: int) -> LearnedModel:
    """A learned model whose network outputs, everywhere, the stencil coefficients (1, 0): upwind for u > 0."""
    stencil = (2,) if ndim == 1 else (2, 1)
    model = build_model(ModelConfig(ndim=ndim, layers=2, filters=4, stencil=stencil), jax.random.PRNGKey(0))
    c0, null = constraint_basis(stencil, ndim)
    target = np.zeros_like(c0)
    target[0] = 1.0  # the cell behind the + face (offset 0) gets weight 1
    z = null.T @ (target - c0)
    last = model.network.convs[-1]
    bias = jnp.asarray(np.tile(z, ndim), last.bias.dtype)
    return eqx.tree_at(
        lambda m: (m.network.convs[-1].weight, m.network.convs[-1].bias), model, (jnp.zeros_like(last.weight), bias)
    )


@pytest.mark.parametrize("ndim", [1, 2])
def test_learned_stepper_with_fixed_upwind_coefficients_is_the_upwind_step(ndim):
    n = 32
    rng = np.random.default_rng(ndim)
    shape = (n,) * ndim
    c = jnp.asarray(rng.uniform(0, 1, shape), jnp.float32)
    vel = tuple(jnp.asarray(rng.uniform(0.2, 1.0, shape), jnp.float32) for _ in range(ndim))  # u > 0: upwind = cell i
    spacing, dt = (1.0,) * ndim, 0.3
    learned = _upwind_coefficient_model(ndim)
    coeffs = learned.coefficients(c, vel, dt, spacing)
    np.testing.assert_allclose(np.asarray(coeffs[0][0]), 1.0, atol=1e-6)
    # The learned model's update is the unsplit flux form; the same machinery over the classical upwind reconstruction.
    upwind_unsplit = Unsplit("upwind", schemes.UPWIND.interpolation)
    np.testing.assert_allclose(
        np.asarray(learned(c, vel, dt, spacing)), np.asarray(upwind_unsplit(c, vel, dt, spacing)), rtol=0, atol=2e-6
    )
    if ndim == 1:  # in 1-D the split and unsplit updates are the same
        np.testing.assert_allclose(
            np.asarray(learned(c, vel, dt, spacing)), np.asarray(schemes.UPWIND(c, vel, dt, spacing)), rtol=0, atol=2e-6
        )


@pytest.mark.parametrize("name", ["upwind", "vanleer", "ppm", "weno5z"])
@pytest.mark.parametrize("ndim", [1, 2])
def test_unsplit_stencil_step_is_the_periodic_unsplit_step_bitwise(name, ndim, x64_mode):
    """An unsplit stepper over a stencil reconstruction takes padded copies (unsplit_step_halo): operation for
    operation the rolls form, so bitwise equal outside jit; flux form, so mass is kept to round-off in float64."""
    x64_mode(True)
    g, c0, vel, dt = _flow(dtype=jnp.float64)
    if ndim == 1:
        c0, vel = c0[0], (vel[1][0],)
        g = grids.Grid((g.shape[1],), (1.0,))
    stepper = Unsplit(name, schemes.scheme(name).interpolation)
    courant = fluxform.courant_numbers(vel, dt, g.spacing)
    with jax.disable_jit():
        fused = stepper(c0, vel, dt, g.spacing)
        rolled = fluxform.unsplit_step(c0, courant, stepper.interpolation(c0, vel, dt, g.spacing))
    np.testing.assert_array_equal(np.asarray(fused), np.asarray(rolled))
    c = c0
    for _ in range(50):
        c = jax.jit(stepper)(c, vel, dt, g.spacing)
    assert abs(float(jnp.sum(c) - jnp.sum(c0))) <= 1e-12 * float(jnp.sum(c0))


class _Smooth(Interpolation):
    """A made-up correction with a known reach: a centred difference of ``c`` on every + face (reach 1)."""

    @property
    def reach(self):
        return 1

    def __call__(self, c, velocity, dt, spacing):
        return tuple(0.1 * (jnp.roll(c, -1, axis=a) - c) for a in range(c.ndim))


STEPPING = {"lin-rood": LinRood, "unsplit": Unsplit, "ssp-rk3": SSPRK3}


@pytest.mark.parametrize("name", list(SCHEMES))
@pytest.mark.parametrize("kind", [*STEPPING, "ffsl", "corrected"])
def test_fluxes_reproduce_the_step(name, kind):
    """``c - net_outflow(fluxes)`` is the step, for every time-stepping type's fast path."""
    g, c0, vel, dt = _flow()
    rec = schemes.scheme(name).interpolation
    if kind == "ffsl":
        stepper, dt = FFSL(name, rec, 3), 3 * dt
    elif kind == "corrected":
        stepper = Corrected(LinRood(name, rec), _Smooth())
    else:
        stepper = STEPPING[kind](name, rec)
    direct = stepper(c0, vel, dt, g.spacing)
    from_fluxes = c0 - fluxform.net_outflow(stepper.fluxes(c0, vel, dt, g.spacing))
    np.testing.assert_allclose(np.asarray(from_fluxes), np.asarray(direct), rtol=0, atol=4e-6)


def test_the_fused_lin_rood_step_equals_the_periodic_oracle_over_any_interpolation():
    """The padded-copy Lin & Rood step equals the periodic form (tests/oracles.py) driven by an interpolation's
    ``along``: same numbers."""

    class Wrapped(Interpolation):
        inner: Reconstruction

        def __call__(self, c, velocity, dt, spacing):
            return self.inner(c, velocity, dt, spacing)

    g, c0, vel, dt = _flow()
    interp = Wrapped(schemes.PPM.interpolation)
    generic = oracles.lin_rood_step(
        lambda f, cr, a: interp.along(f, vel, dt, g.spacing, a), c0, fluxform.courant_numbers(vel, dt, g.spacing)
    )
    np.testing.assert_allclose(np.asarray(generic), np.asarray(schemes.PPM(c0, vel, dt, g.spacing)), rtol=0, atol=2e-6)


def test_the_builder_gives_the_scheme_its_large_step_or_the_bounded_large_step():
    assert scheme("ppm") is schemes.PPM and scheme("weno5z", 0.7) is schemes.WENO5Z
    plain = scheme("vanleer", 2.5, bounded=False)
    assert isinstance(plain, FFSL) and plain.max_courant == 3 and plain.name == "vanleer" and plain.order == 2
    bounded = scheme("vanleer", 2.5)
    assert isinstance(bounded, limiters.FCT) and bounded.stepper == plain and bounded.max_courant == 3
    assert bounded.name == "vanleer+fct"
    # the large step is the scheme's reconstruction on the FFSL path, max_courant = ceil(courant)
    vl = schemes.VANLEER
    assert (
        plain == FFSL("vanleer", vl.interpolation, 3, vl.order, vl.description) == scheme("vanleer", 3, bounded=False)
    )
    assert scheme("vanleer", 1.0, bounded=False) is vl and scheme("upwind", 0.5) is schemes.UPWIND
    with pytest.raises(ValueError, match="unknown scheme"):
        scheme("weno9")
    with pytest.raises(ValueError, match="Lin & Rood"):
        scheme("weno5z", 2.0)


@pytest.mark.parametrize("name", list(schemes.SCHEMES))
def test_fct_wrapper_bounds_any_classical_scheme(name):
    g, c0, vel, dt = _flow(seed=7)
    c0 = jnp.where(c0 > 0.6, 1.0, 0.0).astype(
        jnp.float32
    )  # a sharp field: PPM and Van Leer would over/undershoot in 2-D
    bounded = limiters.FCT(schemes.scheme(name))
    assert bounded.name == f"{name}+fct"
    c = jax.jit(lambda c: rollout.rollout(bounded, c, vel, dt, g.spacing, 50, 50))(c0)[-1]
    assert float(c.min()) >= -1e-6 and float(c.max()) <= 1 + 1e-6
    assert abs(np.asarray(c, np.float64).sum() - np.asarray(c0, np.float64).sum()) < 1e-3


def test_d4_wrapper_makes_a_stepper_equivariant():
    g, c0, vel, dt = _flow(n=16)
    avg = symmetry.D4Average(schemes.PPM)
    for k in (1, 2, 5):
        gc, gv = symmetry.d4_element(k, c0, vel)
        lhs = avg(gc, gv, dt, g.spacing)
        rhs = symmetry.d4_element(k, avg(c0, vel, dt, g.spacing), vel)[0]
        np.testing.assert_allclose(np.asarray(lhs), np.asarray(rhs), rtol=0, atol=2e-6)
    with pytest.raises(ValueError, match="square cells"):
        avg(c0, vel, dt, (1.0, 2.0))


def test_repeated_and_coarse_grained_rollout_equal_the_fine_loop():
    g, c0, vel, dt = _flow(n=32)
    vl = schemes.VANLEER
    manual = c0
    for _ in range(3):
        manual = vl(manual, vel, dt / 3, g.spacing)
    np.testing.assert_allclose(
        np.asarray(rollout.Repeated(vl, 3)(c0, vel, dt, g.spacing)), np.asarray(manual), rtol=0, atol=1e-6
    )
    fine = rollout.rollout(vl, c0, vel, dt / 2, g.spacing, 8, save_every=2)
    coarse = rollout.coarse_grained_rollout(vl, c0, vel, dt, g.spacing, 4, factor=2)
    np.testing.assert_allclose(
        np.asarray(coarse), np.asarray(grids.coarsen_concentration(fine, 2, 2)), rtol=0, atol=1e-6
    )
    assert coarse.shape == (5, 16, 16)


def test_rollout_with_a_velocity_function_and_t0():
    """Each step ``n`` sees the velocity at ``t0 + (n + 1/2) dt``."""
    n = 32
    g = grids.Grid((n,), (1.0,))
    c0 = jnp.asarray(np.sin(2 * np.pi * g.centres(0)) + 1.0, jnp.float32)
    t0, dt = 3.0, 0.01

    def vel(t):
        return (jnp.full((n,), 1.0 + t, jnp.float32),)

    seen = []
    manual = c0
    for k in range(4):
        seen.append(t0 + (k + 0.5) * dt)
        manual = schemes.VANLEER(manual, vel(seen[-1]), dt, g.spacing)
    out = rollout.rollout(schemes.VANLEER, c0, vel, dt, g.spacing, 4, save_every=2, t0=t0)
    assert out.shape == (3, n)
    np.testing.assert_allclose(np.asarray(out[-1]), np.asarray(manual), rtol=0, atol=1e-6)
    # the same run from t0 = 0 sees other velocities, so t0 is really used
    assert (
        float(jnp.max(jnp.abs(rollout.rollout(schemes.VANLEER, c0, vel, dt, g.spacing, 4, t0=0.0)[-1] - manual))) > 1e-3
    )


@pytest.mark.parametrize("stepper", [*schemes.SCHEMES.values(), limiters.FCT(schemes.PPM)], ids=lambda s: s.name)
def test_gradients_through_every_classical_scheme_are_finite(stepper):
    g, c0, vel, dt = _flow(n=8)

    def loss(c, v):  # two steps, evaluated op by op (no whole-graph compilation: fast for a test)
        for _ in range(2):
            c = stepper(c, v, dt, g.spacing)
        return jnp.sum(c**2)

    grad = jax.grad(loss, argnums=(0, 1))
    gc, gv = grad(c0, vel)
    assert np.isfinite(np.asarray(gc)).all() and all(np.isfinite(np.asarray(u)).all() for u in gv)
    assert float(jnp.abs(gc).sum()) > 0  # the loss depends on the initial state
    # on a constant field too (no NaN from a limiter's division or branch)
    gconst, _ = grad(jnp.ones_like(c0), vel)
    assert np.isfinite(np.asarray(gconst)).all()


def test_stepper_is_the_one_base_type():
    model = build_model(ModelConfig(ndim=2, stencil=(2, 3), layers=2, filters=4), jax.random.PRNGKey(0))
    for s in (
        *schemes.SCHEMES.values(),
        limiters.FCT(schemes.VANLEER),
        symmetry.D4Average(schemes.UPWIND),
        rollout.Repeated(schemes.PPM, 2),
        model,
    ):
        assert isinstance(s, steppers.Stepper) and isinstance(s.name, str) and s.name
    with pytest.raises(TypeError, match="abstract"):
        steppers.Stepper()
    with pytest.raises(TypeError, match="fluxes"):
        limiters.FCT(symmetry.D4Average(schemes.UPWIND))
    with pytest.raises(ValueError, match="max_courant"):
        FFSL("x", schemes.UPWIND.interpolation, 0)


def test_reconstructions_are_plain_stencil_functions():
    c = jnp.arange(8.0)
    cr = jnp.full(8, 0.5)
    np.testing.assert_array_equal(np.asarray(reconstructions.periodic(reconstructions.upwind)(c, cr, 0)), np.asarray(c))
    np.testing.assert_array_equal(
        np.asarray(reconstructions.periodic(reconstructions.upwind)(c, -cr, 0)), np.asarray(jnp.roll(c, -1))
    )
