"""WENO5-Z with SSP-RK3: the reconstruction, the Runge-Kutta flux form, mass, order, square waves, stability, gradients.

The properties every classical scheme shares (mass over 1000 steps in float32 and float64, semi-linearity,
a constant kept in a non-uniform 2-D flow, FCT bounds, fluxes reproducing the step) are checked for
``weno5z`` with the others in test_schemes.py and test_steppers.py.  Not checked for it: the exact
one-cell shift at Courant number 1 (WENO5-Z with SSP-RK3 is not exact there: its face values do not
depend on the Courant number) and "no new extrema" (WENO is not bounded; its square-wave overshoot is
measured below instead).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learned_advection.flows import velocity
from learned_advection.numerics import fluxform, grids, reconstructions, rollout, schemes
from learned_advection.numerics.interpolation import Reconstruction
from learned_advection.numerics.time_stepping import SSPRK3

WENO = schemes.WENO5Z


def _run(step, c0, vel, dt, spacing, n):
    return jax.jit(lambda c: rollout.rollout(step, c, vel, dt, spacing, n, n))(c0)[-1]


def _states(step, c0, vel, dt, spacing, n):
    return jax.jit(lambda c: rollout.rollout(step, c, vel, dt, spacing, n, 1))(c0)


def _sine_means(n: int) -> np.ndarray:
    """Exact cell means of ``sin(2 pi x)`` on ``n`` cells of [0, 1]."""
    g = grids.Grid((n,), (1.0,))
    right = g.faces(0)
    left = right - g.spacing[0]
    return (np.cos(2 * np.pi * left) - np.cos(2 * np.pi * right)) / (2 * np.pi * g.spacing[0])


def _literal_weno5z(get, courant):
    """Borges et al. (2008) as printed (p = 1): candidates, Jiang-Shu indicators, Z weights; mirrored for courant < 0."""
    pos = courant >= 0
    a, b, c, d, e = (jnp.where(pos, get(k), get(1 - k)) for k in (-2, -1, 0, 1, 2))
    q = ((2 * a - 7 * b + 11 * c) / 6, (-b + 5 * c + 2 * d) / 6, (2 * c + 5 * d - e) / 6)
    beta = (
        13 / 12 * (a - 2 * b + c) ** 2 + 1 / 4 * (a - 4 * b + 3 * c) ** 2,
        13 / 12 * (b - 2 * c + d) ** 2 + 1 / 4 * (b - d) ** 2,
        13 / 12 * (c - 2 * d + e) ** 2 + 1 / 4 * (3 * c - 4 * d + e) ** 2,
    )
    tau = jnp.abs(beta[0] - beta[2])
    alpha = [dk * (1 + tau / (bk + reconstructions.weno_epsilon(c.dtype))) for dk, bk in zip((0.1, 0.6, 0.3), beta)]
    return sum(al * qk for al, qk in zip(alpha, q)) / sum(alpha)


def _linear5(get, courant):
    """The same five-cell stencil with the linear (optimal) weights: fifth-order upwind, unlimited."""
    pos = courant >= 0
    a, b, c, d, e = (jnp.where(pos, get(k), get(1 - k)) for k in (-2, -1, 0, 1, 2))
    return (2 * a - 13 * b + 47 * c + 27 * d - 3 * e) / 60


LINEAR5 = SSPRK3("linear5", Reconstruction(_linear5, 3), 5)


# --------------------------------------------------------------------------- the reconstruction
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_reconstruction_equals_the_printed_formula(sign, x64_mode):
    """Written with neighbour differences, the face values are Borges et al.'s formula to round-off."""
    x64_mode(True)
    rng = np.random.default_rng(0)
    for c in (rng.uniform(size=300), rng.standard_normal(300) * 1e3 + 5.0, (rng.uniform(size=300) > 0.5) * 1.0):
        c = jnp.asarray(c)
        cr = jnp.full(c.shape, 0.3 * sign)
        ours = reconstructions.periodic(reconstructions.weno5z)(c, cr, 0)
        literal = reconstructions.periodic(_literal_weno5z)(c, cr, 0)
        np.testing.assert_allclose(
            np.asarray(ours), np.asarray(literal), rtol=1e-13, atol=1e-13 * float(jnp.max(jnp.abs(c)))
        )


def test_reconstruction_is_fifth_order_at_the_face(x64_mode):
    """Point values at the faces from exact cell means of a sine: the error falls like dx^5 (no time stepping)."""
    x64_mode(True)
    errors = []
    for n in (32, 64):
        faces = reconstructions.periodic(reconstructions.weno5z)(jnp.asarray(_sine_means(n)), jnp.ones(n), 0)
        exact = np.sin(2 * np.pi * grids.Grid((n,), (1.0,)).faces(0))
        errors.append(np.max(np.abs(np.asarray(faces) - exact)))
    assert np.log2(errors[0] / errors[1]) >= 4.7, errors


@pytest.mark.parametrize("value", [0.0, 0.3, -7.1e5, 1e-30])
@pytest.mark.parametrize("x64", [False, True])
def test_reconstruction_of_a_constant_is_exact(value, x64, x64_mode):
    x64_mode(x64)
    c = jnp.full(16, value, jnp.float64 if x64 else jnp.float32)
    for sign in (1.0, -1.0):
        faces = reconstructions.periodic(reconstructions.weno5z)(c, jnp.full(16, sign, c.dtype), 0)
        np.testing.assert_array_equal(np.asarray(faces), np.asarray(c))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(6, 40), scale=st.floats(1e-3, 1e3), offset=st.floats(-1e3, 1e3))
def test_reconstruction_mirror_and_semi_linearity(seed, n, scale, offset):
    """The face from the right (courant < 0) is the mirror image of the face from the left, bitwise;
    and the reconstruction commutes with ``a c + b`` (a > 0) to round-off (epsilon is far below the indicators)."""
    rng = np.random.default_rng(seed)
    c = jnp.asarray(rng.uniform(size=n), jnp.float32)
    rec = reconstructions.periodic(reconstructions.weno5z)
    from_right = np.asarray(rec(c, jnp.full(n, -0.5), 0))
    mirrored = np.asarray(rec(c[::-1], jnp.full(n, 0.5), 0))
    # reversed, the + face of cell i is the + face of cell n - 2 - i (periodic)
    np.testing.assert_array_equal(from_right, mirrored[(n - 2 - np.arange(n)) % n])
    lhs = np.asarray(rec(scale * c + offset, jnp.full(n, 0.5), 0), np.float64)
    rhs = scale * np.asarray(rec(c, jnp.full(n, 0.5), 0), np.float64) + offset
    np.testing.assert_allclose(lhs, rhs, rtol=0, atol=1e-5 * (scale + abs(offset)))


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    shape=st.sampled_from([(1,), (2,), (5,), (17,), (3, 7), (8, 2)]),
    axis=st.integers(0, 1),
    name=st.sampled_from(sorted(schemes.SCHEMES)),
)
def test_padded_evaluation_equals_the_periodic_one(seed, shape, axis, name):
    """``padded(faces, halo)`` (slices of one wrapped copy, the Runge-Kutta stages' path) gives the numbers
    of ``periodic(faces)`` (rolls) bitwise, on grids smaller than the stencil too, with mixed signs."""
    axis = min(axis, len(shape) - 1)
    rng = np.random.default_rng(seed)
    c = jnp.asarray(rng.uniform(size=shape), jnp.float32)
    courant = jnp.asarray(rng.uniform(-0.9, 0.9, size=shape), jnp.float32)
    interp = schemes.scheme(name).interpolation
    rolled = reconstructions.periodic(interp.faces)(c, courant, axis)
    sliced = reconstructions.padded(interp.faces, interp.halo)(c, courant, axis)
    np.testing.assert_array_equal(np.asarray(sliced), np.asarray(rolled))


# --------------------------------------------------------------------------- SSP-RK3 in flux form
@pytest.mark.parametrize("ndim", [1, 2])
def test_ssp_rk3_fluxes_are_the_shu_osher_stages(ndim, x64_mode):
    """``c - net_outflow((F0 + F1 + 4 F2) / 6)`` is Shu & Osher's three-stage form with forward-Euler stages."""
    x64_mode(True)
    g = grids.Grid((24,) * ndim, (1.0,) * ndim)
    vel = velocity.random_sinusoidal(g, seed=4) if ndim == 2 else (jnp.full(g.shape, -0.8),)
    dt = grids.dt_from_cfl(velocity.max_speed(vel), g.spacing, 0.5)
    c0 = jnp.asarray(np.random.default_rng(4).uniform(size=g.shape))
    courant = fluxform.courant_numbers(vel, dt, g.spacing)
    faces = reconstructions.periodic(reconstructions.weno5z)

    def euler(c):
        return fluxform.unsplit_step(c, courant, [faces(c, cr, a) for a, cr in enumerate(courant)])

    c1 = euler(c0)
    c2 = 0.75 * c0 + 0.25 * euler(c1)
    textbook = c0 / 3 + 2 / 3 * euler(c2)
    np.testing.assert_allclose(np.asarray(WENO(c0, vel, dt, g.spacing)), np.asarray(textbook), rtol=0, atol=1e-14)


# --------------------------------------------------------------------------- mass, constants
@pytest.mark.parametrize("x64,tol", [(False, 1e-6), (True, 1e-13)])
def test_mass_conserved_in_time_varying_flows(x64, tol, x64_mode):
    """1-D: a speed that changes sign in time; 2-D: LeVeque's deformational flow, one full period."""
    x64_mode(x64)
    dtype = jnp.float64 if x64 else jnp.float32
    rng = np.random.default_rng(3)
    g1 = grids.Grid((64,), (1.0,))
    c1 = jnp.asarray(rng.uniform(size=g1.shape), dtype)
    out1 = _run(WENO, c1, lambda t: (jnp.full(g1.shape, jnp.cos(3.0 * t), dtype),), 0.005, g1.spacing, 400)
    g2 = grids.Grid((48, 48), (1.0, 1.0))
    c2 = jnp.asarray(rng.uniform(size=g2.shape), dtype)
    flow = velocity.deformational(g2)
    n_steps = 160
    out2 = _run(WENO, c2, lambda t: tuple(u.astype(dtype) for u in flow(t)), 5.0 / n_steps, g2.spacing, n_steps)
    for c0, c in ((c1, out1), (c2, out2)):
        assert c.dtype == dtype and bool(jnp.all(jnp.isfinite(c)))
        m0, m1 = np.asarray(c0, np.float64).sum(), np.asarray(c, np.float64).sum()
        assert abs(m1 - m0) / abs(m0) <= tol


def test_constant_preserved_in_the_deformational_flow(x64_mode):
    x64_mode(True)
    g = grids.Grid((48, 48), (1.0, 1.0))
    flow = velocity.deformational(g)
    out = _run(WENO, jnp.full(g.shape, 0.37), flow, 5.0 / 160, g.spacing, 160)
    np.testing.assert_allclose(np.asarray(out), 0.37, rtol=0, atol=1e-13)


# --------------------------------------------------------------------------- order
def test_order_of_accuracy_1d(x64_mode):
    """L1 error after one period of a sine at unit speed, 128 -> 256 cells: fifth order.

    dt is refined like dx^(5/3) (Courant number 0.4 on 128 cells, 0.4 / 2^(2/3) on 256), so that the
    third-order time error of SSP-RK3 shrinks like dx^5 too; at a fixed Courant number it dominates and
    the measured order is 3.0.  Measured here: 5.00.
    """
    x64_mode(True)

    def error(n, courant):
        c0 = _sine_means(n)
        n_steps = int(np.ceil(n / courant))
        out = _run(WENO, jnp.asarray(c0), (jnp.ones(n),), 1.0 / n_steps, (1.0 / n,), n_steps)
        return np.mean(np.abs(np.asarray(out) - c0))

    order = np.log2(error(128, 0.4) / error(256, 0.4 / 2 ** (2 / 3)))
    assert order >= 4.7, order


def test_order_of_accuracy_2d(x64_mode):
    """2-D (unsplit stages), a product of sines in a diagonal flow, 32 -> 64 cells per side, dt ~ dx^(5/3): measured 5.00."""
    x64_mode(True)

    def error(n, courant):
        s = _sine_means(n)
        c0 = np.outer(s, s) + 1.0
        n_steps = int(np.ceil(n / courant))
        vel = (jnp.ones((n, n)), jnp.ones((n, n)))
        out = _run(WENO, jnp.asarray(c0), vel, 1.0 / n_steps, (1.0 / n, 1.0 / n), n_steps)
        return np.mean(np.abs(np.asarray(out) - c0))

    order = np.log2(error(32, 0.4) / error(64, 0.4 / 2 ** (2 / 3)))
    assert order >= 4.7, order


# --------------------------------------------------------------------------- square waves
def _square(n, lo=0.2, hi=0.9):
    c = np.full(n, lo)
    c[n // 4 : n // 2] = hi
    return c


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("ndim", [1, 2])
def test_square_wave_overshoot_is_small(sign, ndim, x64_mode):
    """A 16-cell square wave (64 cells, jump 0.7) over one period at Courant number 0.4 (2-D: per axis,
    a diagonal flow): over- and undershoot stay below 1e-3 of the jump at every step.

    Measured: 1.2e-4 (1-D) and 2.9e-4 (2-D) of the jump.  The bound is WENO's "essentially
    non-oscillatory": the same stencil with the linear weights (fifth-order upwind) overshoots by
    ~0.17 of the jump, asserted too, so the nonlinear weights are what keeps it small.  (Squares only
    2-8 cells wide are another matter: there every candidate stencil crosses a jump and WENO5-Z
    overshoots by 3-11% of the jump; see docs/results.md.)
    """
    x64_mode(True)
    n, lo, hi = 64, 0.2, 0.9
    if ndim == 1:
        c0 = _square(n, lo, hi)
        vel = (jnp.full(c0.shape, sign),)
    else:
        c0 = np.minimum.outer(_square(n, lo, hi), np.roll(_square(n, lo, hi), 5))
        vel = (jnp.full(c0.shape, 0.6 * sign), jnp.full(c0.shape, sign))
    n_steps = int(round(n / 0.4))
    dt = n / n_steps  # one period along x
    for scheme, bound in ((WENO, 1e-3), (LINEAR5, None)):
        states = _states(scheme, jnp.asarray(c0), vel, dt, (1.0,) * ndim, n_steps)
        excess = max(float(states.max()) - hi, lo - float(states.min())) / (hi - lo)
        if bound is None:
            assert excess > 0.1, excess
        else:
            assert excess < bound, excess


# --------------------------------------------------------------------------- stability
def test_stable_at_its_courant_number_in_2d(x64_mode):
    """Unsplit stages add the axes' Courant numbers: a rough field in a diagonal flow stays bounded over
    4000 steps at ``stable_courant`` (0.7) per axis and blows up at 0.9 per axis."""
    x64_mode(True)
    n = 32
    c0 = jnp.asarray(np.random.default_rng(0).uniform(size=(n, n)))
    vel = (jnp.ones((n, n)), jnp.ones((n, n)))
    assert WENO.stable_courant == 0.7
    bounded = _run(WENO, c0, vel, WENO.stable_courant, (1.0, 1.0), 4000)
    assert float(bounded.min()) > -0.1 and float(bounded.max()) < 1.1
    unstable = _run(WENO, c0, vel, 0.9, (1.0, 1.0), 4000)
    assert not float(jnp.max(jnp.abs(unstable))) < 10.0  # inf or nan included


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("x64", [False, True])
def test_gradients_are_finite_and_match_finite_differences(x64, x64_mode):
    """jax.grad through three steps is finite (a constant field included, where every indicator is zero)
    and, in float64, equals a central finite difference along a random direction."""
    x64_mode(x64)
    dtype = jnp.float64 if x64 else jnp.float32
    g = grids.Grid((16, 16), (1.0, 1.0))
    vel = tuple(u.astype(dtype) for u in velocity.random_sinusoidal(g, seed=2))
    dt = grids.dt_from_cfl(velocity.max_speed(vel), g.spacing, 0.5)
    rng = np.random.default_rng(2)
    c0 = jnp.asarray(rng.uniform(size=g.shape), dtype)
    weight = jnp.asarray(rng.standard_normal(g.shape), dtype)

    def loss(c, v):
        for _ in range(3):
            c = WENO(c, v, dt, g.spacing)
        return jnp.sum(weight * c**2)

    grad = jax.grad(loss, argnums=(0, 1))
    for c in (c0, jnp.full(g.shape, 0.5, dtype)):
        gc, gv = grad(c, vel)
        assert np.isfinite(np.asarray(gc)).all() and all(np.isfinite(np.asarray(u)).all() for u in gv)
    gc, _ = grad(c0, vel)
    assert float(jnp.abs(gc).sum()) > 0
    if x64:
        direction = jnp.asarray(rng.standard_normal(g.shape))
        h = 1e-6
        numeric = (loss(c0 + h * direction, vel) - loss(c0 - h * direction, vel)) / (2 * h)
        np.testing.assert_allclose(float(jnp.sum(gc * direction)), float(numeric), rtol=1e-6)


def test_stable_courant_is_validated():
    with pytest.raises(ValueError, match="stable_courant"):
        SSPRK3("x", WENO.interpolation, stable_courant=1.5)
    assert schemes.VANLEER.stable_courant == 1.0
