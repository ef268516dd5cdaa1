"""pyqg-jax turbulence velocity: McWilliams-84 initial condition and divergence-free faces on every grid."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from learned_advection.flows import turbulence
from learned_advection.numerics import grids


def test_mcwilliams84_zero_mean_energy_and_seed_determinism(x64_mode):
    x64_mode(True)
    a = turbulence.mcwilliams84_streamfunction_hat(64, jax.random.PRNGKey(3), 0.5, jnp.float64)
    b = turbulence.mcwilliams84_streamfunction_hat(64, jax.random.PRNGKey(3), 0.5, jnp.float64)
    c = turbulence.mcwilliams84_streamfunction_hat(64, jax.random.PRNGKey(4), 0.5, jnp.float64)
    np.testing.assert_array_equal(a, b)
    assert float(jnp.max(jnp.abs(a - c))) > 1e-3
    assert abs(complex(a[0, 0])) < 1e-12  # zero mean
    assert float(turbulence.kinetic_energy(a)) == pytest.approx(0.5, rel=1e-12)


@pytest.mark.parametrize("n", [256, 128, 64, 32])
def test_turbulent_faces_divergence_free(n, x64_mode):
    x64_mode(True)
    psi_hat = turbulence.mcwilliams84_streamfunction_hat(256, jax.random.PRNGKey(0), 0.5, jnp.float64)
    psi = turbulence.corner_streamfunction(psi_hat)
    vel = turbulence.face_velocities(psi, n)
    assert vel[0].shape == (n, n)
    spacing = grids.Grid.square(n, turbulence.DOMAIN).spacing
    assert float(jnp.max(jnp.abs(grids.divergence(vel, spacing)))) <= 1e-12
    # coarse faces are the mean of the fine faces along them
    if n < 256:
        fine = turbulence.face_velocities(psi, 256)
        for a, b in zip(grids.coarsen_velocity(fine, 256 // n), vel):
            np.testing.assert_allclose(a, b, atol=1e-12)


def test_pyqg_history_deterministic_and_evolving():
    config = turbulence.TurbulenceConfig(n=32, dt=0.002)
    a = turbulence.streamfunction_history(config, 1, [0.0, 0.1])
    b = turbulence.streamfunction_history(config, 1, [0.0, 0.1])
    np.testing.assert_array_equal(a, b)
    assert a.shape == (2, 32, 32)
    assert float(jnp.max(jnp.abs(a[1] - a[0]))) > 1e-4
    with pytest.raises(ValueError, match="pyqg time grid"):
        turbulence.streamfunction_history(config, 1, [0.0005])
