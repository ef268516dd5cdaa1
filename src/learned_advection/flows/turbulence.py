"""Decaying 2-D turbulence velocity from pyqg-jax, as exactly divergence-free C-grid face velocities.

Barotropic pyqg model (``BTModel``) on [0, 2 pi]^2, ``beta = 0``, ``rek = 0``, ``rd = None`` and its
default small-scale filter, started from the McWilliams (1984) random initial condition with kinetic
energy 0.5, as in pyqg's barotropic example.

Streamfunction and sign: pyqg uses ``u = -dpsi/dy, v = dpsi/dx``; this package uses
``u = dpsi/dy, v = -dpsi/dx`` (see :mod:`learned_advection.flows.velocity`), so ``psi_ours = -psi_pyqg``.
pyqg's grid has cell centres at ``(i + 1/2) dx`` like ours; the streamfunction is evaluated at cell
*corners* ``(i + 1) dx`` by a spectral half-cell shift, and face velocities are corner differences,
so every grid (256, 128, 64, 32 -- subsampled corners) is exactly divergence-free.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from learned_advection.flows.velocity import faces_from_streamfunction
from learned_advection.numerics.grids import Grid

DOMAIN = 2 * np.pi


@dataclasses.dataclass(frozen=True)
class TurbulenceConfig:
    """Parameters of the pyqg-jax run that provides the velocity history.

    Parameters
    ----------
    n : int, default 256
        pyqg grid size (also the fine reference grid), ``n`` by ``n`` on ``[0, 2 pi]^2``.
    dt : float, default 0.001
        pyqg time step.
    spinup : float, default 4.0
        Initial period that is discarded: the velocity history starts at this time.
    energy : float, default 0.5
        Initial kinetic energy ``mean(u^2 + v^2) / 2``.
    x64 : bool, default False
        Run pyqg in float64 instead of float32.
    """

    n: int = 256  # pyqg (and fine reference) grid size
    dt: float = 0.001  # pyqg time step (0.005 blows up at 256^2)
    spinup: float = 4.0  # discarded initial period
    energy: float = 0.5  # initial kinetic energy (McWilliams 1984 normalisation)
    x64: bool = False  # pyqg precision


def bt_model(config: TurbulenceConfig):
    """The pyqg-jax barotropic model of ``config`` with its AB3 stepper.

    Parameters
    ----------
    config : TurbulenceConfig
        Grid size, time step and precision.

    Returns
    -------
    pyqg_jax.steppers.SteppedModel
        ``BTModel`` on ``[0, 2 pi]^2`` (``beta = 0``, ``rek = 0``, ``rd = None``) stepped with ``dt``.
    """
    import pyqg_jax

    precision = pyqg_jax.state.Precision.DOUBLE if config.x64 else pyqg_jax.state.Precision.SINGLE
    model = pyqg_jax.bt_model.BTModel(L=DOMAIN, nx=config.n, beta=0.0, H=1.0, rek=0.0, rd=None, precision=precision)
    return pyqg_jax.steppers.SteppedModel(model, pyqg_jax.steppers.AB3Stepper(dt=config.dt))


def _wavenumbers(n: int):
    k = jnp.fft.rfftfreq(n, 1.0 / n) * (2 * np.pi / DOMAIN)  # x, last axis
    l = jnp.fft.fftfreq(n, 1.0 / n) * (2 * np.pi / DOMAIN)  # y
    return l[:, None], k[None, :]


def mcwilliams84_streamfunction_hat(n: int, key, energy: float = 0.5, dtype=jnp.float32):
    """Spectral streamfunction of the McWilliams (1984) random initial condition.

    Amplitude spectrum ``(kappa sqrt(1 + (kappa^2 / 36)^2))^-1`` with random complex Gaussian
    coefficients, zero mean, scaled so that the kinetic energy ``mean(u^2 + v^2) / 2 = energy``.

    Parameters
    ----------
    n : int
        Grid size (``n`` by ``n``).
    key : jax.Array
        JAX random key.
    energy : float, default 0.5
        Kinetic energy of the result.
    dtype : dtype, default jnp.float32
        Real dtype of the random coefficients.

    Returns
    -------
    jax.Array
        Complex ``rfft2`` coefficients in pyqg's sign convention, ``(n, n // 2 + 1)``.
    """
    l, k = _wavenumbers(n)
    wv2 = k**2 + l**2
    ckappa = jnp.where(wv2 > 0, 1.0 / jnp.sqrt(wv2 * (1.0 + (wv2 / 36.0) ** 2)), 0.0)
    kr, ki = jax.random.split(key)
    shape = wv2.shape
    pi_hat = (jax.random.normal(kr, shape, dtype) + 1j * jax.random.normal(ki, shape, dtype)) * ckappa
    # go through physical space so the field is real and has zero mean
    psi = jnp.fft.irfft2(pi_hat, s=(n, n))
    psi = psi - psi.mean()
    return _normalise_energy(jnp.fft.rfft2(psi), energy)


def _normalise_energy(psi_hat, energy):
    n = psi_hat.shape[0]
    u, v = _velocity_at_centres(psi_hat, n)
    ke = 0.5 * jnp.mean(u**2 + v**2)
    return psi_hat * jnp.sqrt(energy / ke)


def _velocity_at_centres(psi_hat, n):
    l, k = _wavenumbers(n)
    u = jnp.fft.irfft2(-1j * l * psi_hat, s=(n, n))
    v = jnp.fft.irfft2(1j * k * psi_hat, s=(n, n))
    return u, v


def kinetic_energy(psi_hat) -> jax.Array:
    """Mean kinetic energy of a pyqg-convention spectral streamfunction (cell-centre values).

    Parameters
    ----------
    psi_hat : jax.Array
        ``rfft2`` coefficients of the streamfunction, ``(n, n // 2 + 1)``.

    Returns
    -------
    jax.Array
        Scalar ``mean(u^2 + v^2) / 2``.
    """
    u, v = _velocity_at_centres(psi_hat, psi_hat.shape[0])
    return 0.5 * jnp.mean(u**2 + v**2)


def corner_streamfunction(psi_hat_pyqg) -> jax.Array:
    """Our-convention streamfunction at cell corners ``(y_j + dy/2, x_i + dx/2)`` from pyqg's ``ph``.

    Parameters
    ----------
    psi_hat_pyqg : jax.Array
        pyqg's spectral streamfunction of one layer, ``(n, n // 2 + 1)``.

    Returns
    -------
    jax.Array
        Real corner streamfunction, ``(y, x)`` = ``(n, n)``, sign ``psi_ours = -psi_pyqg``.
    """
    n = psi_hat_pyqg.shape[-2]
    dx = DOMAIN / n
    l, k = _wavenumbers(n)
    shift = jnp.exp(1j * (k + l) * (dx / 2))
    return -jnp.fft.irfft2(psi_hat_pyqg * shift, s=(n, n))


def initial_state(config: TurbulenceConfig, seed: int):
    """pyqg stepper state holding the McWilliams-84 initial condition for ``seed``.

    Parameters
    ----------
    config : TurbulenceConfig
        The pyqg run.
    seed : int
        Seed of the random initial condition.

    Returns
    -------
    tuple
        ``(stepped, state)``: the stepped model (:func:`bt_model`) and its initial stepper state.
    """
    stepped = bt_model(config)
    model = stepped.model
    dtype = jnp.float64 if config.x64 else jnp.float32
    psi_hat = mcwilliams84_streamfunction_hat(config.n, jax.random.PRNGKey(seed), config.energy, dtype)
    l, k = _wavenumbers(config.n)
    q = jnp.fft.irfft2(-(k**2 + l**2) * psi_hat, s=(config.n, config.n)).astype(dtype)
    state = model.create_initial_state(jax.random.PRNGKey(0)).update(q=q[None])
    return stepped, stepped.initialize_stepper_state(state)


def streamfunction_history(config: TurbulenceConfig, seed: int, times) -> jax.Array:
    """Corner streamfunction (our sign) at each of ``times`` (absolute, >= spinup), shape ``(T, n, n)``.

    ``times`` must lie on the pyqg time grid (multiples of ``config.dt``) and increase.

    Parameters
    ----------
    config : TurbulenceConfig
        The pyqg run.
    seed : int
        Seed of the random initial condition.
    times : array_like of float
        Sample times, ``(T,)``, measured from the initial condition.

    Raises
    ------
    ValueError
        If ``times`` do not increase, are negative, or are off the pyqg time grid.
    """
    times = np.asarray(times, dtype=float)
    steps = np.rint(times / config.dt).astype(int)
    if np.any(np.abs(steps * config.dt - times) > 1e-9) or np.any(np.diff(steps) <= 0) or steps[0] < 0:
        raise ValueError("sample times must increase and lie on the pyqg time grid")
    stepped, state = initial_state(config, seed)
    gaps = np.diff(np.concatenate([[0], steps]))

    def advance(state, n_steps):
        state = jax.lax.fori_loop(0, n_steps, lambda _, s: stepped.step_model(s), state)
        full = stepped.model.get_full_state(state.state)
        return state, corner_streamfunction(full.ph[0])

    advance = jax.jit(advance)
    out = []
    for gap in gaps:
        state, psi = advance(state, int(gap))
        out.append(psi)
    return jnp.stack(out)


def face_velocities(psi_corner, grid_n: int):
    """``(y_velocity, x_velocity)`` on a ``grid_n``^2 grid from a fine corner streamfunction (any leading axes).

    Parameters
    ----------
    psi_corner : array
        Corner streamfunction, ``(..., N, N)``, on a grid ``N`` divisible by ``grid_n``.
    grid_n : int
        Target grid size; every ``N / grid_n``-th corner is used.

    Returns
    -------
    tuple of array
        ``(y_velocity, x_velocity)``, each ``(..., grid_n, grid_n)``, exactly divergence-free.

    Raises
    ------
    ValueError
        If ``grid_n`` does not divide ``N``.
    """
    n = psi_corner.shape[-1]
    if n % grid_n:
        raise ValueError(f"grid {grid_n} does not divide the streamfunction grid {n}")
    f = n // grid_n
    psi = psi_corner[..., f - 1 :: f, f - 1 :: f]
    return faces_from_streamfunction(psi, Grid.square(grid_n, DOMAIN).spacing)
