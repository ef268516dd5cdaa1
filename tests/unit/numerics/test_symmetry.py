"""D4 symmetries commute with advection on the C-grid (exactly, for every scheme)."""

import jax.numpy as jnp
import numpy as np
import pytest

from learned_advection.flows import velocity
from learned_advection.numerics import grids, schemes, symmetry


@pytest.mark.parametrize("k", range(8))
@pytest.mark.parametrize("name", ["upwind", "vanleer", "ppm"])
def test_symmetry_commutes_with_step(k, name, x64_mode):
    x64_mode(True)
    g = grids.Grid((16, 16), (1.0, 1.0))
    vel = velocity.random_sinusoidal(g, seed=4)
    c = jnp.asarray(np.random.default_rng(k).uniform(size=g.shape))
    step = schemes.scheme(name)
    dt = 0.02
    tc, tv = symmetry.d4_element(k, c, vel)
    # images of a divergence-free field stay divergence-free
    assert float(jnp.max(jnp.abs(grids.divergence(tv, g.spacing)))) < 1e-12
    lhs = step(tc, tv, dt, g.spacing)
    rhs = symmetry.d4_element(k, step(c, vel, dt, g.spacing), vel)[0]
    np.testing.assert_allclose(lhs, rhs, atol=1e-13)


def test_orbit_has_eight_distinct_images():
    c = jnp.asarray(np.random.default_rng(0).uniform(size=(8, 8)))
    vel = (jnp.zeros((8, 8)), jnp.ones((8, 8)))
    cs, _ = symmetry.d4_orbit(c, vel)
    assert cs.shape == (8, 8, 8)
    flat = np.asarray(cs).reshape(8, -1)
    assert len({tuple(np.round(r, 12)) for r in flat}) == 8
