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
that one is already inside the bounds.

3. In floating point the update ``c - (F[i+1/2] - F[i-1/2])`` is rounded at the size of the fluxes, not of
   the values: a step of Courant number ``C`` moves up to ``C`` whole cells through a face, so its fluxes
   are about ``C * max|c|`` and the new value carries an error of a few ulp of that (float32, ``C = 4``,
   values in ``[0, 1]``: up to ~5e-7).  Where the exact update lies on the bound -- at an integer Courant
   number a cell receives exactly one upwind cell, so the cells of a block of the extreme value land on it
   -- the rounding puts it outside (and ``c_td``, which the bounds include, carries the same error; in a
   float32 flow that is divergence-free to round-off it is off by that round-off too).  So wherever the
   low-order update is bounded at every Courant number the step is meant for (``substeps >= reach * ndim``:
   the large step, and the ordinary step in 1-D or with ``substeps=2`` in 2-D), :func:`fct_step` clips the
   update to the range of ``c`` over the cells it depends on (:func:`bounding_radius`): in exact arithmetic
   in a divergence-free flow the clip changes nothing, in floating point it removes only the rounding
   excess (a few ulp of the fluxes per clipped cell: mass to round-off), and no value leaves the initial
   range, exactly.  Elsewhere (one donor-cell step in 2-D, where ``|C_x| + |C_y| > 1`` can make ``c_td``
   itself leave the range) the update is not clipped: a clip there would take real mass away.  The clip
   treats the flow as divergence-free, as every flow of this package is: in a compressing flow ``c_td``
   may rightly leave the range of ``c``.

:class:`FCT` wraps any flux-form stepper (one with ``fluxes``,
:class:`~learned_advection.numerics.steppers.FluxForm`: classical, corrected or a learned model) this way.
Pure numerics; nothing here knows about networks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from learned_advection.numerics.fluxform import courant_numbers, net_outflow, wrap_pad
from learned_advection.numerics.steppers import FluxForm, Wrapper


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


def low_order_substeps(reach: int, ndim: int, substeps: int | None = None) -> int:
    """The donor-cell sub-steps of the low-order flux (static).

    ``substeps`` when given; otherwise 1 at ``reach == 1`` (bounded while the outgoing Courant numbers of a
    cell sum to at most 1: any 1-D step, a 2-D step with ``|C_x| + |C_y| <= 1``) and ``reach * ndim`` above
    (at most ``1 / ndim`` per axis and sub-step: bounded at any face Courant number up to ``reach``).
    """
    if substeps is None:
        return 1 if reach == 1 else reach * ndim
    if isinstance(substeps, bool) or not isinstance(substeps, int) or substeps < 1:
        raise ValueError(f"substeps must be an integer >= 1, got {substeps!r}")
    return substeps


def clips(reach: int, ndim: int, substeps: int | None = None) -> bool:
    """Whether :func:`fct_step` clips the rounding excess: when the low-order flux is bounded at every face
    Courant number up to ``reach`` in a divergence-free flow (``substeps >= reach * ndim``, at most ``1 / ndim``
    per axis and sub-step).  Not for one donor-cell step in 2-D (the default below Courant number 1): it may
    leave the range itself, and a clip would then take real mass away."""
    return low_order_substeps(reach, ndim, substeps) >= reach * ndim


def bounding_radius(reach: int, ndim: int, substeps: int | None = None) -> int:
    """Cells per side (along every axis) whose old values bound a cell's limited update.

    The limiter's bounds of a cell reach ``reach`` cells (its face neighbours at ``reach == 1``) over the
    old state and the low-order update, and the low-order update of a cell reaches one cell per donor-cell
    sub-step (:func:`low_order_substeps`); so in a divergence-free flow, in exact arithmetic, a cell's
    limited update lies in the range of the old state over the square of this radius around it.
    """
    return reach + low_order_substeps(reach, ndim, substeps)


def local_range(c: Float[Array, "*space"], radius: int) -> tuple[Array, Array]:
    """``(min, max)`` of ``c`` over the square of ``radius`` cells per side around every cell (periodic).

    Separable, one axis at a time, each a ``reduce_window`` over a copy padded along that axis: inside the 2-D
    FCT step measured faster than slices of one padded copy (XLA fuses the step differently; 1-D: the same).
    """
    return _window_reduce(c, radius, jnp.inf, jax.lax.min), _window_reduce(c, radius, -jnp.inf, jax.lax.max)


def _window_reduce(c: Array, radius: int, init: float, op) -> Array:
    """``op`` (min or max) of ``c`` over the square of ``radius`` cells per side around every cell (periodic)."""
    width = 2 * radius + 1
    for a in range(c.ndim):
        window = tuple(width if b == a else 1 for b in range(c.ndim))
        c = jax.lax.reduce_window(wrap_pad(c, radius, a), init, op, window, (1,) * c.ndim, "VALID")
    return c


# A cell is in a divergence-free part of the flow where the net outflow of every cell within its bounding
# radius is at most this many machine epsilons per unit of ``reach`` (Courant units): the round-off of a
# float32 flow that is divergence-free (velocities rounded to a few ulp), not a compressing flow.
DIVERGENCE_FREE_EPS = 32


def divergence_free_cells(courant: Sequence[Array], radius: int, reach: int) -> Array:
    """Whether every cell within ``radius`` of each cell has a net outflow (in Courant units) of round-off only
    (:data:`DIVERGENCE_FREE_EPS`): where :func:`fct_step` may clip."""
    net = net_outflow(courant)  # the divergence of the flow, in Courant units
    tolerance = DIVERGENCE_FREE_EPS * jnp.finfo(net.dtype).eps * max(reach, 1)
    return _window_reduce(jnp.abs(net), radius, -jnp.inf, jax.lax.max) <= tolerance


def _window(x: Array, halo: int, offset: Sequence[int], out_halo: int, shape: Sequence[int]) -> Array:
    """``x[i + offset]`` on the cells of ``shape`` plus ``out_halo`` on every side, from ``x`` holding them
    plus ``halo`` on every side (a slice: no copy, fused by XLA)."""
    start = tuple(halo - out_halo + o for o in offset)
    return jax.lax.slice(x, start, tuple(s + n + 2 * out_halo for s, n in zip(start, shape)))


def limit(
    c: Float[Array, "*space"],
    courant: Sequence[Array],
    high: Sequence[Array],
    reach: int = 1,
    substeps: int | None = None,
) -> tuple[Array, ...]:
    """Zalesak-limited fluxes: ``F_low + C * (F_high - F_low)`` with ``C in [0, 1]`` per face.

    ``reach`` (static, an integer): the largest ``|courant|`` the step may have.  Above 1 the low-order
    flux is donor-cell upwind in ``reach * ndim`` sub-steps (bounded in a divergence-free flow) and the
    bounds of every cell are taken over the cells within ``reach`` of it (where its mass may come from).
    ``substeps`` (static): the low-order flux's sub-steps instead (:func:`low_order_substeps`).

    Evaluated on one periodically padded copy of the fluxes and ``c``, every neighbour a slice of it (as the
    classical schemes' fused path): XLA's fused loops re-evaluate the bounds at each neighbour that reads
    them, which is cheap with slices and was slow (2-4x at 32^2) with ``jnp.roll``'s concatenations.
    """
    low = upwind_fluxes(c, courant, low_order_substeps(reach, c.ndim, substeps))
    nd, shape = c.ndim, c.shape
    halo = 2 + (1 if reach == 1 else reach * nd)  # what the bounds (over ``reach``) and the two face neighbours use
    zero = (0,) * nd

    def unit(a, d):
        return tuple(d if b == a else 0 for b in range(nd))

    def at(x, hx, offset, hout):
        return _window(x, hx, offset, hout, shape)

    low_p = tuple(wrap_pad(f, halo) for f in low)
    anti_p = tuple(wrap_pad(h, halo) - f for h, f in zip(high, low_p))  # antidiffusive fluxes
    h1 = halo - 1
    c1 = at(wrap_pad(c, halo), halo, zero, h1)
    c_td = c1 - sum(at(low_p[a], halo, zero, h1) - at(low_p[a], halo, unit(a, -1), h1) for a in range(nd))

    def bound(x, op):
        """``op`` over every cell and its face neighbours (``reach == 1``) or the square within ``reach``."""
        if reach == 1:
            out = at(x, h1, zero, h1 - 1)
            for a in range(nd):
                out = op(out, op(at(x, h1, unit(a, -1), h1 - 1), at(x, h1, unit(a, 1), h1 - 1)))
            return out, h1 - 1
        hx = h1
        for a in range(nd):  # separable: along each axis in turn (each pass narrows the halo by ``reach``)
            out = at(x, hx, zero, hx - reach)
            for d in range(1, reach + 1):
                out = op(out, op(at(x, hx, unit(a, -d), hx - reach), at(x, hx, unit(a, d), hx - reach)))
            x, hx = out, hx - reach
        return x, hx

    upper, hr = bound(jnp.maximum(c1, c_td), jnp.maximum)
    lower, _ = bound(jnp.minimum(c1, c_td), jnp.minimum)
    # antidiffusive mass entering (P+) and leaving (P-) every cell
    sides = [(at(f, halo, zero, hr), at(f, halo, unit(a, -1), hr)) for a, f in enumerate(anti_p)]
    p_in = sum(jnp.maximum(f_minus, 0) - jnp.minimum(f, 0) for f, f_minus in sides)
    p_out = sum(jnp.maximum(f, 0) - jnp.minimum(f_minus, 0) for f, f_minus in sides)
    c_td = at(c_td, h1, zero, hr)
    room_up = jnp.maximum(upper - c_td, 0)
    room_down = jnp.maximum(c_td - lower, 0)
    r_in = jnp.where(p_in > room_up, room_up / jnp.where(p_in > 0, p_in, 1), 1)
    r_out = jnp.where(p_out > room_down, room_down / jnp.where(p_out > 0, p_out, 1), 1)
    out = []
    for a in range(nd):
        # f > 0 moves mass from cell i to i+1: limited by what i may lose and i+1 may gain
        f = at(anti_p[a], halo, zero, 0)
        here_in, here_out = at(r_in, hr, zero, 0), at(r_out, hr, zero, 0)
        next_in, next_out = at(r_in, hr, unit(a, 1), 0), at(r_out, hr, unit(a, 1), 0)
        scale = jnp.where(f >= 0, jnp.minimum(next_in, here_out), jnp.minimum(here_in, next_out))
        out.append(low[a] + scale * f)
    return tuple(out)


def fct_step(
    c: Float[Array, "*space"],
    courant: Sequence[Array],
    high: Sequence[Array],
    reach: int = 1,
    substeps: int | None = None,
) -> Float[Array, "*space"]:
    """One bounded flux-form step from high-order fluxes ``high`` (Courant units); ``reach`` and ``substeps`` as
    in :func:`limit`.

    ``c - net_outflow(limit(...))``, clipped -- where the low-order flux is bounded at every Courant number up
    to ``reach`` (:func:`clips`) -- to the range of ``c`` over :func:`bounding_radius` cells around every
    cell (:func:`local_range`), in the divergence-free part of the flow (:func:`divergence_free_cells`):
    there the clip removes only the rounding excess of the
    flux-form update (module docstring, point 3), so no value leaves the range of ``c``, exactly, and the
    mass changes by round-off.
    """
    out = c - net_outflow(limit(c, courant, high, reach, substeps))
    if not clips(reach, c.ndim, substeps):
        return out
    radius = bounding_radius(reach, c.ndim, substeps)
    lo, hi = local_range(c, radius)
    return jnp.where(divergence_free_cells(courant, radius, reach), jnp.minimum(jnp.maximum(out, lo), hi), out)


class FCT(Wrapper):
    """A flux-form stepper with its fluxes limited by :func:`limit` against donor-cell upwind (no new extrema).

    The limiter's reach is the stepper's ``max_courant`` (above 1: a sub-stepped upwind flux and bounds over
    that many cells).  In a divergence-free flow the step (:func:`fct_step`) keeps every value inside the
    range of the old state, exactly, at every Courant number up to ``max_courant``: above 1, in 1-D, and in
    2-D below 1 with ``substeps=2``.  With the default one donor-cell step in 2-D it is bounded while a
    cell's outgoing Courant numbers sum to at most 1 (``|C_x| + |C_y| <= 1``), to round-off.

    Attributes
    ----------
    stepper
        Any stepper with ``fluxes(c, velocity, dt, spacing)`` (:class:`~learned_advection.numerics.steppers.FluxForm`,
        or a learned model over one) and ``max_courant``.
    substeps
        Donor-cell sub-steps of the low-order flux (:func:`low_order_substeps`); ``None``: 1 at
        ``max_courant == 1``, ``max_courant * ndim`` above.  In 2-D below Courant number 1, 2 bounds the
        step at any Courant number (a diagonal flow at 0.9 per axis has outgoing Courant numbers summing to 1.8).
    """

    stepper: FluxForm
    substeps: int | None = eqx.field(static=True, default=None)
    suffix: ClassVar[str] = "fct"

    def __check_init__(self):
        if not callable(getattr(self.stepper, "fluxes", None)):
            raise TypeError(f"FCT limits fluxes: {type(self.stepper).__name__} has no fluxes(c, velocity, dt, spacing)")
        low_order_substeps(1, 1, self.substeps)  # refuses a substeps that is not a positive integer

    @property
    def max_deformation(self) -> None:
        """``None``: the limited step stays in the range of the old state at any deformation (divergence-free flow)."""
        return None

    @property
    def reach(self) -> int | None:
        inner = self.stepper.reach
        if inner is None:
            return None
        most = self.stepper.max_courant
        low = low_order_substeps(most, 2, self.substeps)  # donor-cell sub-steps of the low-order flux (at most 2-D)
        # + the bounds' neighbourhood, the limiter's face neighbours and the update (the clip of
        # :func:`fct_step` reads ``most + low`` cells, within this)
        return inner + low + most + 2

    def fluxes(self, c, velocity, dt, spacing) -> tuple[Array, ...]:
        """The limited fluxes (Courant units); the step is ``c - net_outflow`` of them to round-off, clipped
        to the range of ``c`` nearby (:func:`fct_step`)."""
        courant = courant_numbers(velocity, dt, spacing)
        return limit(c, courant, self.stepper.fluxes(c, velocity, dt, spacing), self.stepper.max_courant, self.substeps)

    def __call__(self, c, velocity, dt, spacing):
        courant = courant_numbers(velocity, dt, spacing)
        high = self.stepper.fluxes(c, velocity, dt, spacing)
        return fct_step(c, courant, high, self.stepper.max_courant, self.substeps)
