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

import math
from collections.abc import Sequence
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from learned_advection.numerics.fluxform import courant_numbers, net_outflow
from learned_advection.numerics.steppers import FluxFormStepper, Stepper, Wrapper, large_step


def upwind_fluxes(c: Float[Array, "*space"], courant: Sequence[Array], substeps: int = 1) -> tuple[Array, ...]:
    """Donor-cell fluxes (Courant units) at the + face of every cell along every axis.

    ``substeps > 1`` (static): the fluxes of ``substeps`` donor-cell steps of ``courant / substeps`` each,
    summed -- the low-order partner of a large step, bounded while every sub-step's outgoing Courant
    numbers sum to at most 1 per cell.
    """
    def donor(field, cr):
        return tuple(x * jnp.where(x >= 0, field, jnp.roll(field, -1, axis=a)) for a, x in enumerate(cr))

    if substeps == 1:
        return donor(c, courant)
    part = tuple(cr / substeps for cr in courant)

    def body(_, carry):  # a loop, not unrolled: unrolled sub-steps compile to much slower code on the CPU
        field, total = carry
        f = donor(field, part)
        return field - net_outflow(f), tuple(t + x for t, x in zip(total, f))

    return jax.lax.fori_loop(0, substeps, body, (c, tuple(jnp.zeros_like(cr) for cr in courant)))[1]


def _neighbourhood(x: Array, op, reach: int = 1) -> Array:
    """``op`` (max or min) over every cell and its face neighbours (``reach == 1``), or over the square of
    cells within ``reach`` cells of it (``reach > 1``)."""
    if reach == 1:
        out = x
        for a in range(x.ndim):
            out = op(out, op(jnp.roll(x, 1, axis=a), jnp.roll(x, -1, axis=a)))
        return out
    for a in range(x.ndim):
        out = x
        for k in range(1, reach + 1):
            out = op(out, op(jnp.roll(x, k, axis=a), jnp.roll(x, -k, axis=a)))
        x = out
    return x


def limit(c: Float[Array, "*space"], courant: Sequence[Array], high: Sequence[Array], reach: int = 1) -> tuple[Array, ...]:
    """Zalesak-limited fluxes: ``F_low + C * (F_high - F_low)`` with ``C in [0, 1]`` per face.

    ``reach`` (static, an integer): the largest ``|courant|`` the step may have.  Above 1 the low-order
    flux is donor-cell upwind in ``reach * ndim`` sub-steps (bounded in a divergence-free flow) and the
    bounds of every cell are taken over the cells within ``reach`` of it (where its mass may come from).
    """
    low = upwind_fluxes(c, courant, 1 if reach == 1 else reach * c.ndim)
    c_td = c - net_outflow(low)
    anti = tuple(h - lo for h, lo in zip(high, low))
    upper = _neighbourhood(jnp.maximum(c, c_td), jnp.maximum, reach)
    lower = _neighbourhood(jnp.minimum(c, c_td), jnp.minimum, reach)
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


def fct_step(c: Float[Array, "*space"], courant: Sequence[Array], high: Sequence[Array], reach: int = 1) -> Float[Array, "*space"]:
    """One bounded flux-form step from high-order fluxes ``high`` (Courant units); ``reach`` as in :func:`limit`."""
    return c - net_outflow(limit(c, courant, high, reach))


class FCT(Wrapper):
    """``stepper`` (a flux-form stepper) with its fluxes limited by :func:`limit` against donor-cell upwind (no new extrema)."""

    stepper: FluxFormStepper
    reach: int | None = eqx.field(static=True, default=None)
    """Largest ``|courant|`` of the steps (see :func:`limit`); default: the stepper's ``max_courant``."""
    suffix: ClassVar[str] = "fct"

    def __call__(self, c, velocity, dt, spacing):
        courant = courant_numbers(velocity, dt, spacing)
        reach = self.stepper.max_courant if self.reach is None else self.reach
        return fct_step(c, courant, self.stepper.fluxes(c, velocity, dt, spacing), reach)


def for_courant(scheme: FluxFormStepper, courant: float) -> Stepper:
    """``scheme`` for Courant numbers up to ``courant``: itself up to 1; above 1, on the flux-form
    semi-Lagrangian path (``max_courant = ceil(courant)``) inside :class:`FCT` against a large-step upwind
    flux, so that no value leaves the initial range (the plain large step undershoots)."""
    if not courant <= 1:
        return FCT(large_step(scheme, math.ceil(courant)))
    return scheme
