"""Every stepper declares its reach: a cell's update reads no cell farther than ``reach`` along any axis.

Property test: changing every cell outside the square of half-width ``reach`` around a cell (field and
velocity both) leaves that cell's update bitwise unchanged; and the reach is not a gross over-estimate for the
plain schemes (one cell fewer, some change shows).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learned_advection.numerics.corrected import Corrected
from learned_advection.numerics.interpolation import Interpolation
from learned_advection.numerics.limiters import FCT
from learned_advection.numerics.rollout import Repeated
from learned_advection.numerics.schemes import PPM, UPWIND, VANLEER, WENO5Z, scheme
from learned_advection.numerics.symmetry import D4Average
from learned_advection.numerics.time_stepping import Unsplit

N = 20


class _Neighbours(Interpolation):
    """A correction of known reach: a fixed combination of the cells i-1 .. i+2 of every + face."""

    @property
    def reach(self):
        return 2

    def __call__(self, c, velocity, dt, spacing):
        return tuple(0.05 * (jnp.roll(c, 1, axis=a) - jnp.roll(c, -2, axis=a)) for a in range(c.ndim))


CASES = {
    "upwind": (UPWIND, 0.9),
    "vanleer": (VANLEER, 0.9),
    "ppm": (PPM, 0.9),
    "weno5z": (WENO5Z, 0.6),
    "ppm-unsplit": (Unsplit("ppm", PPM.interpolation), 0.45),
    "ppm-large-step": (scheme("ppm", 2.5, bounded=False), 2.5),
    "vanleer-large-step-fct": (scheme("vanleer", 2.5), 2.5),
    "fct": (FCT(VANLEER), 0.9),
    "corrected": (Corrected(scheme("ppm", 2.0, bounded=False), _Neighbours()), 1.9),
    "d4": (D4Average(UPWIND), 0.9),
    "repeated": (Repeated(UPWIND, 2), 1.8),
}


def _problem(seed, courant, shape):
    rng = np.random.default_rng(seed)
    c = rng.uniform(0.0, 1.0, shape).astype(np.float32)
    velocity = tuple(rng.uniform(-courant, courant, shape).astype(np.float32) for _ in shape)
    return c, velocity


def _outside(shape, centre, reach):
    """Cells farther than ``reach`` from ``centre`` along some axis (periodic distance)."""
    grids = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    far = np.zeros(shape, bool)
    for g, n, i in zip(grids, shape, centre):
        d = np.abs(g - i)
        far |= np.minimum(d, n - d) > reach
    return far


@pytest.mark.parametrize("name", list(CASES))
def test_cells_beyond_the_reach_do_not_change_the_update(name):
    stepper, courant = CASES[name]
    reach = stepper.reach
    assert isinstance(reach, int) and reach >= 1
    shape = (N, N)
    step = jax.jit(lambda c, v: stepper(c, v, 1.0, (1.0, 1.0)))

    @settings(max_examples=4, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1), iy=st.integers(0, N - 1), ix=st.integers(0, N - 1))
    def check(seed, iy, ix):
        c, velocity = _problem(seed, courant, shape)
        c2, velocity2 = _problem(seed + 1, courant, shape)
        far = _outside(shape, (iy, ix), reach)
        mixed_c = np.where(far, c2, c)
        mixed_v = tuple(np.where(far, b, a) for a, b in zip(velocity, velocity2))
        before = np.asarray(step(jnp.asarray(c), tuple(map(jnp.asarray, velocity))))[iy, ix]
        after = np.asarray(step(jnp.asarray(mixed_c), tuple(map(jnp.asarray, mixed_v))))[iy, ix]
        assert before == after

    check()


@pytest.mark.parametrize("name", ["upwind", "vanleer", "ppm", "ppm-large-step"])
def test_the_reach_of_a_plain_scheme_is_tight(name):
    stepper, courant = CASES[name]
    courant = stepper.max_courant + 0.5 if stepper.max_courant > 1 else courant  # the large step's last whole cell too
    shape, centre = (N, N), (N // 2, N // 2)
    far = _outside(shape, centre, stepper.reach - 1)
    c, velocity = _problem(0, courant, shape)
    velocity = tuple(
        np.full(shape, courant * 0.99, np.float32) for _ in shape
    )  # every face moves mass upwind-to-centre
    c2 = np.where(far, c + 1.0, c)
    step = jax.jit(lambda c, v: stepper(c, v, 1.0, (1.0, 1.0)))
    v = tuple(map(jnp.asarray, velocity))
    assert np.asarray(step(jnp.asarray(c), v))[centre] != np.asarray(step(jnp.asarray(c2), v))[centre]
