"""Flux-corrected transport (Boris & Book 1973; Zalesak 1979): bound any high-order flux by a monotone one.

Works for any flux-form stepper on a periodic grid (1-D or 2-D, forward Euler, every direction from
the same state).  Fluxes are in Courant units: ``F[a]`` is ``courant * face value`` at the + face of
every cell along axis ``a`` and the update is ``c - sum_a (F[a] - roll(F[a], 1, a))``.

1. The low-order flux is donor-cell upwind.  In a discretely divergence-free flow whose outgoing
   Courant numbers sum to at most 1 per cell, its update ``c_td`` is a convex combination of ``c`` and
   its face neighbours, so it creates no new extrema.
2. The antidiffusive flux ``A = F_high - F_low`` is scaled face by face by ``C in [0, 1]`` (Zalesak's
   limiter) so that every cell stays inside the range of ``c`` and ``c_td`` over itself and its face
   neighbours.

The result is in flux form (mass is conserved to round-off for any high-order flux), never leaves the
local bounds, hence never leaves the initial ``[min, max]``, and equals the high-order update wherever
that one is already inside the bounds.  :class:`FCT` wraps any
:class:`~learned_advection.numerics.steppers.FluxFormStepper` (classical or learned) this way.
Pure numerics; nothing here knows about networks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import jax.numpy as jnp
from jaxtyping import Array, Float

from learned_advection.numerics.fluxform import courant_numbers, net_outflow
from learned_advection.numerics.steppers import FluxFormStepper, Wrapper


def upwind_fluxes(c: Float[Array, "*space"], courant: Sequence[Array]) -> tuple[Array, ...]:
    """Donor-cell fluxes (Courant units) at the + face of every cell along every axis."""
    return tuple(cr * jnp.where(cr >= 0, c, jnp.roll(c, -1, axis=a)) for a, cr in enumerate(courant))


def _neighbourhood(x: Array, op) -> Array:
    out = x
    for a in range(x.ndim):
        out = op(out, op(jnp.roll(x, 1, axis=a), jnp.roll(x, -1, axis=a)))
    return out


def limit(c: Float[Array, "*space"], courant: Sequence[Array], high: Sequence[Array]) -> tuple[Array, ...]:
    """Zalesak-limited fluxes: ``F_low + C * (F_high - F_low)`` with ``C in [0, 1]`` per face."""
    low = upwind_fluxes(c, courant)
    c_td = c - net_outflow(low)
    anti = tuple(h - lo for h, lo in zip(high, low))
    upper = _neighbourhood(jnp.maximum(c, c_td), jnp.maximum)
    lower = _neighbourhood(jnp.minimum(c, c_td), jnp.minimum)
    # antidiffusive mass entering (P+) and leaving (P-) every cell
    p_in = sum(jnp.maximum(jnp.roll(f, 1, axis=a), 0) - jnp.minimum(f, 0) for a, f in enumerate(anti))
    p_out = sum(jnp.maximum(f, 0) - jnp.minimum(jnp.roll(f, 1, axis=a), 0) for a, f in enumerate(anti))
    room_up = jnp.maximum(upper - c_td, 0)
    room_down = jnp.maximum(c_td - lower, 0)
    r_in = jnp.where(p_in > room_up, room_up / jnp.where(p_in > 0, p_in, 1), 1)
    r_out = jnp.where(p_out > room_down, room_down / jnp.where(p_out > 0, p_out, 1), 1)
    out = []
    for a, f in enumerate(anti):
        # f > 0 moves mass from cell i to i+1: limited by what i may lose and i+1 may gain
        r_in_next, r_out_next = jnp.roll(r_in, -1, axis=a), jnp.roll(r_out, -1, axis=a)
        scale = jnp.where(f >= 0, jnp.minimum(r_in_next, r_out), jnp.minimum(r_in, r_out_next))
        out.append(low[a] + scale * f)
    return tuple(out)


def fct_step(c: Float[Array, "*space"], courant: Sequence[Array], high: Sequence[Array]) -> Float[Array, "*space"]:
    """One bounded flux-form step from high-order fluxes ``high`` (Courant units)."""
    return c - net_outflow(limit(c, courant, high))


class FCT(Wrapper):
    """``stepper`` (a flux-form stepper) with its fluxes limited by :func:`limit` against donor-cell upwind (no new extrema)."""

    stepper: FluxFormStepper
    suffix: ClassVar[str] = "fct"

    def __call__(self, c, velocity, dt, spacing):
        courant = courant_numbers(velocity, dt, spacing)
        return fct_step(c, courant, self.stepper.fluxes(c, velocity, dt, spacing))
