"""Steady flows: what a step computes from the velocity alone (``Stepper.prepare``) is computed once, and
the step from it (``Stepper.advance``) is bitwise equal to the ordinary step -- every classical scheme,
1-D and 2-D, the Courant <= 1 path and the large-step (flux-form semi-Lagrangian) path, through
``rollout`` with a constant velocity and through ``Repeated``."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learned_advection.flows.velocity import random_sinusoidal
from learned_advection.numerics import schemes
from learned_advection.numerics.grids import Grid
from learned_advection.numerics.rollout import Repeated, rollout
from learned_advection.numerics.schemes import SCHEMES

NAMES = ("upwind", "vanleer", "ppm")


def _problem(ndim: int, seed: int, courant: float, n: int = 24):
    """A rough field and a non-uniform velocity of largest Courant number ``courant`` (signs of both kinds)."""
    rng = np.random.default_rng(seed)
    if ndim == 1:
        grid = Grid((n,), (1.0,))
        velocity = (jnp.asarray(rng.uniform(-1.0, 1.0, n), jnp.float32),)
    else:
        grid = Grid.square(n, 1.0)
        velocity = tuple(jnp.asarray(u, jnp.float32) for u in random_sinusoidal(grid, seed=seed))
    c = jnp.asarray(rng.uniform(0.0, 1.0, grid.shape), jnp.float32)
    speed = max(float(jnp.max(jnp.abs(u))) for u in velocity)
    dt = courant * min(grid.spacing) / speed
    return grid, c, velocity, dt


# one compilation per (stepper, shape): dt and the arrays are runtime inputs
_step = eqx.filter_jit(lambda s, c, v, dt, spacing: s(c, v, dt, spacing))
_prepare = eqx.filter_jit(lambda s, v, dt, spacing: s.prepare(v, dt, spacing))
_advance = eqx.filter_jit(lambda s, c, p, v, dt, spacing: s.advance(c, p, v, dt, spacing))


def _check(stepper, c, velocity, dt, spacing):
    prepared = _prepare(stepper, velocity, dt, spacing)  # computed apart, passed in: as a steady run does
    np.testing.assert_array_equal(
        np.asarray(_advance(stepper, c, prepared, velocity, dt, spacing)),
        np.asarray(_step(stepper, c, velocity, dt, spacing)),
    )


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("ndim", [1, 2])
@pytest.mark.parametrize("max_courant", [1, 4])
def test_prepared_step_is_bitwise_the_step(name, ndim, max_courant):
    stepper = schemes.scheme(name, max_courant, bounded=False)
    courant = 0.9 if max_courant == 1 else 3.5
    grid, c, velocity, dt = _problem(ndim, 0, courant)
    prepared = stepper.prepare(velocity, dt, grid.spacing)
    assert prepared is not None  # the classical Lin & Rood schemes do prepare something
    _check(stepper, c, velocity, dt, grid.spacing)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), courant=st.floats(0.05, 1.0), name=st.sampled_from(NAMES))
def test_prepared_step_is_bitwise_the_step_for_any_flow(seed, courant, name):
    grid, c, velocity, dt = _problem(2, seed, courant)
    _check(SCHEMES[name], c, velocity, dt, grid.spacing)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), courant=st.floats(0.5, 4.0), ndim=st.sampled_from([1, 2]))
def test_prepared_large_step_is_bitwise_the_step_for_any_flow(seed, courant, ndim):
    grid, c, velocity, dt = _problem(ndim, seed, courant)
    _check(schemes.scheme("vanleer", 4, bounded=False), c, velocity, dt, grid.spacing)


@pytest.mark.parametrize("ndim", [1, 2])
def test_steppers_without_preparation_step_as_usual(ndim):
    weno = SCHEMES["weno5z"]
    grid, c, velocity, dt = _problem(ndim, 1, 0.5)
    assert weno.prepare(velocity, dt, grid.spacing) is None
    _check(weno, c, velocity, dt, grid.spacing)


@pytest.mark.parametrize("ndim", [1, 2])
def test_repeated_prepares_its_sub_step(ndim):
    stepper = Repeated(SCHEMES["vanleer"], 3)
    grid, c, velocity, dt = _problem(ndim, 2, 2.5)  # Courant 2.5 per step: 0.83 per sub-step
    _check(stepper, c, velocity, dt, grid.spacing)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("ndim", [1, 2])
def test_steady_rollout_is_bitwise_the_loop_of_steps(name, ndim):
    """``rollout`` with a constant velocity (prepared once) equals a scan of the ordinary step."""
    stepper = SCHEMES[name]
    grid, c, velocity, dt = _problem(ndim, 3, 0.8)
    spacing = grid.spacing

    @jax.jit
    def by_rollout(c, v):
        return rollout(stepper, c, v, dt, spacing, 12, save_every=4)

    @jax.jit
    def by_steps(c, v):
        def chunk(c, _):
            c = jax.lax.scan(lambda c, _: (stepper(c, v, dt, spacing), None), c, None, length=4)[0]
            return c, c

        return jnp.concatenate([c[None], jax.lax.scan(chunk, c, None, length=3)[1]])

    np.testing.assert_array_equal(np.asarray(by_rollout(c, velocity)), np.asarray(by_steps(c, velocity)))
