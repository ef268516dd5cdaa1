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

from learned_advection.numerics.fluxform import (
    close_walls,
    courant_numbers,
    divergence_of_faces,
    extended_courant,
    face_divergence,
    materialize,
    net_outflow,
    with_previous_face,
    wrap_pad,
)
from learned_advection.numerics.steppers import FluxForm, Stepper, Wrapper


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
    """
    n = c.shape
    low, limited = _limited(c, courant, high, reach, substeps)[1:]
    return tuple(lo + jax.lax.slice_in_dim(f, 1, n[a] + 1, axis=a) for a, (lo, f) in enumerate(zip(low, limited)))


def _limited(c, courant, high, reach, substeps):
    """``(c_low, low, limited)``: the low-order update and fluxes, and the limited antidiffusive fluxes on faces
    ``-1/2 .. n - 1/2`` (:func:`limited_correction` with the bounds of :func:`limit`).

    The high-order fluxes, the low-order update and the antidiffusive fluxes are each computed once
    (:func:`~learned_advection.numerics.fluxform.materialize`; XLA's fused loops would otherwise recompute
    them at every neighbour that reads them), the bounds windows are ``reduce_window`` passes.
    """
    high = materialize(tuple(high))
    low = upwind_fluxes(c, courant, low_order_substeps(reach, c.ndim, substeps))
    c_low = c - net_outflow(low)
    anti = tuple(with_previous_face(h - lo, a) for a, (h, lo) in enumerate(zip(high, low)))
    c_low, anti = materialize((c_low, anti))
    if reach == 1:  # the cell and its face neighbours
        lower, upper = (
            _face_neighbours(jnp.minimum(c, c_low), jnp.minimum),
            _face_neighbours(jnp.maximum(c, c_low), jnp.maximum),
        )
    else:  # the square of ``reach`` cells per side
        lower = _window_reduce(jnp.minimum(c, c_low), reach, jnp.inf, jax.lax.min)
        upper = _window_reduce(jnp.maximum(c, c_low), reach, -jnp.inf, jax.lax.max)
    return c_low, low, limited_correction(c_low, anti, lower, upper)


def _face_neighbours(x: Array, op) -> Array:
    """``op`` of every cell and its face neighbours (periodic), from slices of one padded copy."""
    padded, out = wrap_pad(x, 1), x
    for a in range(x.ndim):
        lo = jax.lax.slice(
            padded,
            tuple(0 if b == a else 1 for b in range(x.ndim)),
            tuple(n if b == a else n + 1 for b, n in enumerate(x.shape)),
        )
        hi = jax.lax.slice(
            padded,
            tuple(2 if b == a else 1 for b in range(x.ndim)),
            tuple(n + 2 if b == a else n + 1 for b, n in enumerate(x.shape)),
        )
        out = op(out, op(lo, hi))
    return out


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
    out, _, limited = _limited(c, courant, high, reach, substeps)
    for a, f in enumerate(limited):
        out = out - face_divergence(f, a)
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

    def regional_fluxes(self, c, velocity, dt, spacing, conditions) -> tuple[Array, ...]:
        return self.regional_step(c, velocity, dt, spacing, conditions)[1]

    def regional_step(self, c, velocity, dt, spacing, conditions):
        """:func:`fct_step` on a domain with the boundaries ``conditions``: donor-cell low-order fluxes that take
        the inflow values at an inflow face, bounds and clip over the cells nearby and the inflow values."""
        courant = extended_courant(courant_numbers(velocity, dt, spacing), conditions)
        high = materialize(tuple(self.stepper.regional_fluxes(c, velocity, dt, spacing, conditions)))
        reach = self.stepper.max_courant
        low = regional_upwind_fluxes(c, courant, conditions, low_order_substeps(reach, c.ndim, self.substeps))
        c_low = c - divergence_of_faces(low)
        anti = tuple(h - lo for h, lo in zip(high, low))
        c_low, anti = materialize((c_low, anti))
        if reach == 1:  # the cell and its face neighbours, as the periodic step (:func:`_limited`)
            lower = regional_face_neighbours(jnp.minimum(c, c_low), jax.lax.min, conditions, courant)
            upper = regional_face_neighbours(jnp.maximum(c, c_low), jax.lax.max, conditions, courant)
        else:  # the square of ``reach`` cells per side
            lower = regional_range(jnp.minimum(c, c_low), reach, jax.lax.min, conditions, courant)
            upper = regional_range(jnp.maximum(c, c_low), reach, jax.lax.max, conditions, courant)
        periodic = tuple(conditions.periodic_axis(a) for a in range(c.ndim))
        limited = limited_correction(c_low, anti, lower, upper, periodic)
        fluxes = tuple(lo + f for lo, f in zip(low, limited))
        out = c_low - divergence_of_faces(limited)
        if clips(reach, c.ndim, self.substeps):
            radius = bounding_radius(reach, c.ndim, self.substeps)
            lo = regional_range(c, radius, jax.lax.min, conditions, courant)
            hi = regional_range(c, radius, jax.lax.max, conditions, courant)
            net = jnp.abs(divergence_of_faces(courant))
            tolerance = DIVERGENCE_FREE_EPS * jnp.finfo(net.dtype).eps * max(reach, 1)
            calm = _constant_padded_reduce(net, radius, -jnp.inf, jax.lax.max, periodic) <= tolerance
            out = jnp.where(calm, jnp.minimum(jnp.maximum(out, lo), hi), out)
        return out, fluxes


def regional_upwind_fluxes(
    c: Float[Array, "*space"], courant: Sequence[Array], conditions, substeps: int = 1
) -> tuple[Array, ...]:
    """:func:`upwind_fluxes` on faces ``-1/2 .. n - 1/2`` of a domain with the boundaries ``conditions``
    (``courant`` on those faces): an inflow face takes the inflow value of its sub-step's time, a wall nothing."""
    part = tuple(cr / substeps for cr in courant)
    sub = conditions.dt / substeps

    def donor(field, m):
        now = conditions._replace(t=conditions.t + m * sub, dt=sub)
        out = []
        for a, x in enumerate(part):
            padded = now.pad(field, 1, a, x)
            n = field.shape[a]
            left, right = (jax.lax.slice_in_dim(padded, k, k + n + 1, axis=a) for k in (0, 1))
            out.append(x * jnp.where(x >= 0, left, right))
        return close_walls(out, conditions)

    def body(m, carry):
        field, total = carry
        f = donor(field, m)
        return field - divergence_of_faces(f), tuple(t + x for t, x in zip(total, f))

    return jax.lax.fori_loop(0, substeps, body, (c, tuple(jnp.zeros_like(cr) for cr in part)))[1]


def regional_range(x: Array, radius: int, op, conditions, courant: Sequence[Array]) -> Array:
    """``op`` (``jax.lax.min`` or ``max``) of ``x`` over the square of ``radius`` cells per side around every cell
    of a domain with the boundaries ``conditions``, the inflow values beyond an inflow side included (walls
    and outflow sides add nothing)."""
    init = jnp.inf if op is jax.lax.min else -jnp.inf
    padded = conditions.pad(x, radius, 0, courant[0], fill=init)
    if x.ndim == 2:  # then along x, over the rows padded along y (the corners from them)
        rows = jnp.pad(courant[1], ((radius, radius), (0, 0)), mode="wrap" if conditions.periodic_axis(0) else "edge")
        padded = conditions.pad(padded, radius, 1, rows, other=radius, fill=init)
    width = 2 * radius + 1
    for a in range(x.ndim):
        window = tuple(width if b == a else 1 for b in range(x.ndim))
        padded = jax.lax.reduce_window(padded, init, op, window, (1,) * x.ndim, "VALID")
    return padded


def _constant_padded_reduce(x: Array, radius: int, init: float, op, periodic: Sequence[bool]) -> Array:
    """``op`` of ``x`` over the square of ``radius`` cells per side, wrapped along a periodic axis and padded with
    ``init`` along another."""
    width = 2 * radius + 1
    for a in range(x.ndim):
        widths = [(0, 0)] * x.ndim
        widths[a] = (radius, radius)
        padded = jnp.pad(x, widths, mode="wrap") if periodic[a] else jnp.pad(x, widths, constant_values=init)
        window = tuple(width if b == a else 1 for b in range(x.ndim))
        x = jax.lax.reduce_window(padded, init, op, window, (1,) * x.ndim, "VALID")
    return x


def limited_correction(
    c_low: Float[Array, "*space"], extra: Sequence[Array], lower: Array, upper: Array, periodic=None
) -> tuple[Array, ...]:
    """Zalesak's limiter on correction fluxes ``extra`` added to the update ``c_low``: ``C * extra`` per face.

    ``extra[a]`` is on faces ``-1/2 .. n - 1/2`` along axis ``a`` (length ``n + 1``, the first face the last
    one's periodic image); ``C in [0, 1]`` per face is the largest such that ``c_low - sum_a div(C * extra[a])``
    stays in ``[lower, upper]`` wherever ``c_low`` does.  Returned on the same faces.  ``periodic[a]`` false:
    the first and last faces along ``a`` are boundary faces, limited by their one interior cell only (the
    ghost cell beyond is given, not updated).
    """
    n = c_low.shape
    p_in = p_out = 0
    for a, f in enumerate(extra):
        before, after = jax.lax.slice_in_dim(f, 0, n[a], axis=a), jax.lax.slice_in_dim(f, 1, n[a] + 1, axis=a)
        p_in = p_in + jnp.maximum(before, 0) - jnp.minimum(after, 0)
        p_out = p_out + jnp.maximum(after, 0) - jnp.minimum(before, 0)
    room_up = jnp.maximum(upper - c_low, 0)
    room_down = jnp.maximum(c_low - lower, 0)
    r_in = jnp.where(p_in > room_up, room_up / jnp.where(p_in > 0, p_in, 1), 1)
    r_out = jnp.where(p_out > room_down, room_down / jnp.where(p_out > 0, p_out, 1), 1)
    out = []
    for a, f in enumerate(extra):
        # face i + 1/2 for i = -1 .. n - 1: f > 0 moves mass from cell i to i + 1
        if periodic is None or periodic[a]:
            here_in, here_out = with_previous_face(r_in, a), with_previous_face(r_out, a)
            next_in = jnp.concatenate([r_in, jax.lax.slice_in_dim(r_in, 0, 1, axis=a)], axis=a)
            next_out = jnp.concatenate([r_out, jax.lax.slice_in_dim(r_out, 0, 1, axis=a)], axis=a)
        else:  # the ghost cells beyond a boundary face take anything
            one = jnp.ones_like(jax.lax.slice_in_dim(r_in, 0, 1, axis=a))
            here_in, here_out = (jnp.concatenate([one, r], axis=a) for r in (r_in, r_out))
            next_in, next_out = (jnp.concatenate([r, one], axis=a) for r in (r_in, r_out))
        out.append(jnp.where(f >= 0, jnp.minimum(next_in, here_out), jnp.minimum(here_in, next_out)) * f)
    return tuple(out)


class Safeguard(Wrapper):
    """A corrected step (a classical step plus a learned correction) with its correction limited against the
    classical step's own result: never outside what the classical step and the old state hold nearby.

    The step is ``c_base - sum_a div(C * extra[a])``: ``c_base`` the base step's update, ``extra`` the
    correction's fluxes, ``C in [0, 1]`` per face from :func:`limited_correction` with the bounds of every
    cell the ``min`` and ``max`` of the old state and of ``c_base`` over the 3 x 3 cells around it.

    Guarantee (exact arithmetic; in floating point to a few ulp of the fluxes): every value lies in the range
    of the old state and the base step's result over the 3 x 3 cells around it, so no step of it leaves
    ``[min(c, c_base), max(c, c_base)]``: it is as bounded as its base step, wherever the base step is
    (within the base's declared Courant and deformation limits, an FFSL large step stays in range); mass is
    kept exactly (flux form); where the correction stays inside the bounds it is not changed.  It is not a
    bound of its own: where the base step leaves the range it may follow it (wrap it in :class:`FCT` for a
    bound on the whole step).

    On a regional domain (:meth:`regional_step`) the same limiter over the boundary forms of both parts, the
    bounds over the 3 x 3 cells nearby and the inflow values beyond an inflow side (:func:`regional_range`),
    the boundary faces limited by their interior cell only.

    Attributes
    ----------
    stepper
        A stepper with ``split_fluxes(c, velocity, dt, spacing) -> (base fluxes, correction fluxes)``
        (:class:`~learned_advection.numerics.corrected.Corrected`, or a learned model over one); on a regional
        domain also ``regional_split_fluxes(c, velocity, dt, spacing, conditions)``.
    """

    stepper: Stepper
    suffix: ClassVar[str] = "safeguard"

    def __check_init__(self):
        if not callable(getattr(self.stepper, "split_fluxes", None)):
            raise TypeError(
                f"Safeguard limits a correction: {type(self.stepper).__name__} has no split_fluxes(c, velocity, dt, spacing)"
            )

    @property
    def reach(self) -> int | None:
        inner = self.stepper.reach
        return None if inner is None else inner + 2  # the bounds and the neighbours' limiter factors: 2 cells

    def _parts(self, c, velocity, dt, spacing):
        base, extra = self.stepper.split_fluxes(c, velocity, dt, spacing)
        c_base = c - net_outflow(base)
        lower = _window_reduce(jnp.minimum(c, c_base), 1, jnp.inf, jax.lax.min)
        upper = _window_reduce(jnp.maximum(c, c_base), 1, -jnp.inf, jax.lax.max)
        return base, c_base, limited_correction(c_base, extra, lower, upper)

    def fluxes(self, c, velocity, dt, spacing) -> tuple[Array, ...]:
        """The base fluxes plus the limited correction (Courant units, + faces)."""
        base, _, limited = self._parts(c, velocity, dt, spacing)
        n = c.shape
        return tuple(b + jax.lax.slice_in_dim(f, 1, n[a] + 1, axis=a) for a, (b, f) in enumerate(zip(base, limited)))

    def __call__(self, c, velocity, dt, spacing):
        _, out, limited = self._parts(c, velocity, dt, spacing)
        for a, f in enumerate(limited):
            out = out - face_divergence(f, a)
        return out

    def regional_fluxes(self, c, velocity, dt, spacing, conditions) -> tuple[Array, ...]:
        return self.regional_step(c, velocity, dt, spacing, conditions)[1]

    def regional_step(self, c, velocity, dt, spacing, conditions):
        """The limited step on a domain with the boundaries ``conditions``: ``(c_next, fluxes)`` on faces
        ``-1/2 .. n - 1/2`` (the base fluxes plus the limited correction)."""
        split = getattr(self.stepper, "regional_split_fluxes", None)
        if split is None:
            raise ValueError(f"the {self.name} step runs on periodic domains only (it has no boundary form)")
        base, extra = split(c, velocity, dt, spacing, conditions)
        courant = extended_courant(courant_numbers(velocity, dt, spacing), conditions)
        c_base = materialize(c - divergence_of_faces(base))
        lower = regional_range(jnp.minimum(c, c_base), 1, jax.lax.min, conditions, courant)
        upper = regional_range(jnp.maximum(c, c_base), 1, jax.lax.max, conditions, courant)
        periodic = tuple(conditions.periodic_axis(a) for a in range(c.ndim))
        limited = limited_correction(c_base, extra, lower, upper, periodic)
        return c_base - divergence_of_faces(limited), tuple(b + f for b, f in zip(base, limited))


def regional_face_neighbours(x: Array, op, conditions, courant: Sequence[Array]) -> Array:
    """``op`` (``jax.lax.min`` or ``max``) of every cell and its face neighbours on a domain with the boundaries
    ``conditions`` (``courant`` on faces ``-1/2 .. n - 1/2``): the inflow value beyond an inflow side included,
    nothing beyond a wall or an outflow side; along a periodic axis the periodic neighbour, as the bounds of
    :func:`limit` at ``reach == 1``."""
    init = jnp.inf if op is jax.lax.min else -jnp.inf
    out = x
    for a in range(x.ndim):
        padded, n = conditions.pad(x, 1, a, courant[a], fill=init), x.shape[a]
        out = op(out, op(jax.lax.slice_in_dim(padded, 0, n, axis=a), jax.lax.slice_in_dim(padded, 2, n + 2, axis=a)))
    return out
