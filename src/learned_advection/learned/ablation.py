"""The paper's alternative learned terms (Zhuang et al. 2020, Sec. II E), one stepper each.

Each is a network's raw outputs used some other way than as stencil coefficients: a learned diffusion
added to Van Leer (:class:`LearnedDiffusion`, flux form), the next state directly (:class:`NextState`) or
the spatial derivative (:class:`LearnedDerivative`, advective form).  The last two have no physical
constraint, as in the paper's negative results.  Outputs scale with the field's range, as the rescaled
input does.  Their reach is unknown (a network).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp

from learned_advection.learned.network import Network
from learned_advection.numerics.schemes import VANLEER
from learned_advection.numerics.steppers import Stepper


class LearnedDiffusion(Stepper):
    """Van Leer plus ``dt * div(D grad C)`` in flux form (Eq. 7), ``D`` a learned diffusion tensor.

    The network's outputs are the diffusion numbers ``D dt / (dx dy)``: ``Dxx`` in 1-D; ``Dyy, Dxy, Dxx`` in 2-D.

    Attributes
    ----------
    network
        The CNN (``kind="diffusion"``).
    """

    network: Network
    name: str = eqx.field(static=True, default="diffusion")

    def __call__(self, c, velocity, dt, spacing):
        z = self.network(c, velocity, dt, spacing)
        base = VANLEER(c, velocity, dt, spacing)
        if c.ndim == 1:
            d_face = 0.5 * (z[0] + jnp.roll(z[0], -1))
            flux = d_face * (jnp.roll(c, -1) - c)  # already times dt / dx^2 (spacing absorbed in z)
            return base + (flux - jnp.roll(flux, 1))
        d_yy, d_xy, d_xx = z
        grads = []
        for a in range(2):  # centred gradient of C (times the cell size) at cell centres
            grads.append(0.5 * (jnp.roll(c, -1, axis=a) - jnp.roll(c, 1, axis=a)))
        out = base
        for a, (d_aa, other) in enumerate(((d_yy, 1), (d_xx, 0))):
            face = lambda x: 0.5 * (x + jnp.roll(x, -1, axis=a))  # noqa: E731  cell -> + face along a
            flux = face(d_aa) * (jnp.roll(c, -1, axis=a) - c) + 0.5 * face(d_xy) * face(grads[other])
            out = out + (flux - jnp.roll(flux, 1, axis=a))
        return out


class NextState(Stepper):
    """``c + span(c) * z``: the network predicts the change of the state over the step.

    Attributes
    ----------
    network
        The CNN (``kind="next-state"``).
    """

    network: Network
    name: str = eqx.field(static=True, default="next-state")

    def __call__(self, c, velocity, dt, spacing):
        span = jnp.max(c) - jnp.min(c)
        return c + span * self.network(c, velocity, dt, spacing)[0]


class LearnedDerivative(Stepper):
    """``c - dt * u * dC/dx`` per axis (advective form) with ``dC/dx = span(c) / dx * z``.

    Attributes
    ----------
    network
        The CNN (``kind="derivative"``).
    """

    network: Network
    name: str = eqx.field(static=True, default="derivative")

    def __call__(self, c, velocity, dt, spacing):
        z = self.network(c, velocity, dt, spacing)
        span = jnp.max(c) - jnp.min(c)
        out = c
        for a, (u, h) in enumerate(zip(velocity, spacing)):
            u_centre = 0.5 * (u + jnp.roll(u, 1, axis=a))
            out = out - dt * u_centre * (span / h) * z[a]
        return out


ABLATIONS = {"diffusion": LearnedDiffusion, "next-state": NextState, "derivative": LearnedDerivative}
"""The stepper type of every ablation ``kind``."""
