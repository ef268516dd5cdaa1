"""Classical 1-D face reconstructions: the face value of every + face from the cell averages and the
face Courant number (upwind, Van Leer with the Lin et al. 1994 limiter, PPM; and WENO5-Z, a
method-of-lines reconstruction for a Runge-Kutta stepper).

A reconstruction is written once as a *stencil* function ``faces(get, courant)``: ``get(k)`` returns,
for every face ``i + 1/2`` being computed, the average of cell ``i + k`` (so the face lies between
``get(0)`` and ``get(1)``).  The same function then runs on periodic arrays (``get`` = roll, see
:func:`periodic`) and on halo-padded arrays (``get`` = slice, the fused path of
:func:`learned_advection.numerics.fluxform.lin_rood_step_halo`).  :func:`ppm_faces` is the textbook
whole-array PPM that the tests check the stencil form against.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array

StencilFaces = Callable[[Callable[[int], Array], Array], Array]
"""``faces(get, courant) -> face values``, see the module docstring."""
PeriodicFaces = Callable[[Array, Array, int], Array]
"""``faces(c, courant, axis) -> face values`` on a periodic array."""


def at(c: Array, k: int, axis: int) -> Array:
    """Value of cell ``i + k`` at position ``i`` (periodic)."""
    return jnp.roll(c, -k, axis=axis)


def periodic(faces: StencilFaces) -> PeriodicFaces:
    """The stencil reconstruction ``faces`` on a periodic array: ``(c, courant, axis) -> face values``."""

    def reconstruct(c: Array, courant: Array, axis: int) -> Array:
        return faces(lambda k: at(c, k, axis), courant)

    reconstruct.__name__ = faces.__name__.lstrip("_")
    reconstruct.__doc__ = faces.__doc__
    return reconstruct


def padded(faces: StencilFaces, halo: int) -> PeriodicFaces:
    """:func:`periodic` evaluated on one periodically padded copy of the array: ``get`` slices instead of rolls.

    The same numbers as ``periodic(faces)``; for a wide stencil XLA fuses the slices better than the
    rolls (WENO5-Z's Runge-Kutta steps at 128^2: 1.3-1.5x faster).  ``halo``: cells the stencil needs
    beyond the face's own pair (``get(k)`` for ``-halo < k <= halo``).
    """

    def reconstruct(c: Array, courant: Array, axis: int) -> Array:
        n = c.shape[axis]
        widths = [(0, 0)] * c.ndim
        widths[axis] = (halo, halo)
        pad = jnp.pad(c, widths, mode="wrap")
        return faces(lambda k: jax.lax.slice_in_dim(pad, halo + k, halo + k + n, axis=axis), courant)

    reconstruct.__name__ = faces.__name__.lstrip("_")
    reconstruct.__doc__ = faces.__doc__
    return reconstruct


def upwind(get, courant):
    """First-order upwind: the face value is the upwind cell average."""
    return jnp.where(courant >= 0, get(0), get(1))


def vanleer_half_slope(cm: Array, c: Array, cp: Array) -> Array:
    """Half the Lin et al. (1994) monotonic slope of cell ``c`` between neighbours ``cm`` and ``cp``.

    The limited slope is ``sign(s) * min(|s|, 2 min(c - min(cm, c, cp), max(cm, c, cp) - c))`` with
    ``s = (cp - cm) / 2``: with ``d1 = c - cm`` and ``d2 = cp - c`` it is ``s`` clipped to
    ``[2 min(max(d1, d2), 0), 2 max(min(d1, d2), 0)]`` (both bounds 0 at an extremum, where ``d1`` and
    ``d2`` differ in sign).  Half of it is ``(cp - cm) / 4`` clipped to ``[min(max(d1, d2), 0),
    max(min(d1, d2), 0)]``, which needs no multiplication by 2; every min, max and clip is a
    compare-and-select (XLA's ``minimum``/``maximum`` also propagate NaNs, which costs extra
    instructions on CPUs).  Halving is exact (away from subnormal numbers), so ``2 * vanleer_half_slope``
    is bitwise the min/max formula (the tests check :func:`vanleer_slope` against the literal formula),
    up to the sign of a zero.
    """
    d1 = c - cm
    d2 = cp - c
    half = 0.25 * (cp - cm)
    d1_smaller = d1 < d2
    upper = jnp.where(d1_smaller, d1, d2)  # min(d1, d2), then max(., 0)
    upper = jnp.where(upper > 0, upper, 0.0)
    lower = jnp.where(d1_smaller, d2, d1)  # max(d1, d2), then min(., 0)
    lower = jnp.where(lower < 0, lower, 0.0)
    half = jnp.where(half < lower, lower, half)
    return jnp.where(half > upper, upper, half)


def vanleer_slope(cm: Array, c: Array, cp: Array) -> Array:
    """Lin et al. (1994) monotonic slope of cell ``c`` between neighbours ``cm`` and ``cp``:
    ``sign(s) * min(|s|, 2 min(c - min(cm, c, cp), max(cm, c, cp) - c))`` with ``s = (cp - cm) / 2``
    (twice :func:`vanleer_half_slope`, bitwise)."""
    return 2.0 * vanleer_half_slope(cm, c, cp)


def vanleer(get, courant):
    """Van Leer with the Lin et al. (1994) monotonic limiter (space-time, one step).

    The face value is ``c_up + w * slope_up`` of the upwind cell, with ``w = (1 - courant) / 2`` for
    ``courant >= 0`` and ``-(1 + courant) / 2`` otherwise.  The upwind cell's three cells are selected
    first, mirrored for ``courant < 0`` (the limited slope of the mirrored cells is exactly minus the
    slope, so ``c1 + (1 + courant) / 2 * slope(c[i+2], c1, c0)`` is the same number), and only one slope
    is computed: XLA's fused loop stays short (1.3-1.4x faster per sweep than selecting between both
    slopes, itself about 1.4x faster than both one-sided face values; equal results, up to the sign of a zero).
    The product ``w * slope`` is taken as ``(1 - |courant|)`` times :func:`vanleer_half_slope` (the same
    number: both factors scaled by a power of two; the tests check the face values bitwise against the
    textbook form), which with the select-only limiter makes a sweep about 1.25x faster than
    ``w * vanleer_slope`` with min/max and ``copysign`` (one XLA CPU thread, 128^2).
    """
    positive = courant >= 0
    c0, c1 = get(0), get(1)
    up = jnp.where(positive, c0, c1)
    half_slope = vanleer_half_slope(jnp.where(positive, get(-1), get(2)), up, jnp.where(positive, c1, c0))
    return up + (1.0 - jnp.abs(courant)) * half_slope


def ppm_edges(c: Array, axis: int) -> tuple[Array, Array]:
    """Left/right edge values of the Colella & Woodward (1984) parabola, with its monotone limiter."""
    edge = ppm_edge(at(c, -1, axis), c, at(c, 1, axis), at(c, 2, axis))  # at i + 1/2
    return ppm_monotone(at(edge, -1, axis), c, edge)


def ppm_edge(cm: Array, c0: Array, c1: Array, cp: Array) -> Array:
    """4th-order value on the face between ``c0`` and ``c1``, bounded by those two averages."""
    edge = (7.0 / 12.0) * (c0 + c1) - (1.0 / 12.0) * (cm + cp)
    return jnp.clip(edge, jnp.minimum(c0, c1), jnp.maximum(c0, c1))


def ppm_monotone(left: Array, c: Array, right: Array) -> tuple[Array, Array]:
    """Colella-Woodward limiter: flatten at extrema, steepen the parabola so it has no interior extremum."""
    extremum = (right - c) * (c - left) <= 0.0
    left = jnp.where(extremum, c, left)
    right = jnp.where(extremum, c, right)
    da = right - left
    mid = c - 0.5 * (left + right)
    left = jnp.where(da * mid > da * da / 6.0, 3.0 * c - 2.0 * right, left)
    right = jnp.where(-da * da / 6.0 > da * mid, 3.0 * c - 2.0 * left, right)
    return left, right


def ppm_faces(c: Array, courant: Array, axis: int) -> Array:
    """Piecewise-parabolic method: average of the upwind parabola over the region swept in one step."""
    left, right = ppm_edges(c, axis)
    da = right - left
    a6 = 6.0 * (c - 0.5 * (left + right))
    nu = jnp.abs(courant)
    # u >= 0: mean over the last nu of cell i;  u < 0: mean over the first nu of cell i+1.
    from_left = right - 0.5 * nu * (da - (1.0 - 2.0 * nu / 3.0) * a6)
    l1, da1, a61 = at(left, 1, axis), at(da, 1, axis), at(a6, 1, axis)
    from_right = l1 + 0.5 * nu * (da1 + (1.0 - 2.0 * nu / 3.0) * a61)
    return jnp.where(courant >= 0, from_left, from_right)


def upwind_five(get, courant):
    """The five cells centred on the upwind cell of every face, ordered along the flow: ``i-2 .. i+2`` for
    ``courant >= 0``, the mirror ``i+3 .. i-1`` otherwise (what PPM and WENO5-Z build their value from)."""
    positive = courant >= 0
    return tuple(jnp.where(positive, get(k), get(1 - k)) for k in (-2, -1, 0, 1, 2))


def ppm(get, courant):
    """PPM as a stencil reconstruction (:func:`ppm_faces` operation for operation, ~2-14x faster).

    Only the upwind cell's parabola is built: its five cells are selected first, mirrored for
    ``courant < 0`` (the limited parabola is mirror-symmetric, so the face value of the mirrored
    upwind cell is the same number), which keeps the fused loop short.
    """
    c_m2, c_m1, c, c_p1, c_p2 = upwind_five(get, courant)
    left, right = ppm_monotone(ppm_edge(c_m2, c_m1, c, c_p1), c, ppm_edge(c_m1, c, c_p1, c_p2))
    da = right - left
    a6 = 6.0 * (c - 0.5 * (left + right))
    nu = jnp.abs(courant)
    return right - 0.5 * nu * (da - (1.0 - 2.0 * nu / 3.0) * a6)


def weno_epsilon(dtype) -> float:
    """The WENO-Z ``epsilon`` of ``dtype``: 1e-40 in float64 (Borges et al. 2008), 1e-18 in float32.

    It only keeps ``tau / (beta + epsilon)`` finite where a smoothness indicator is zero.  In float32
    1e-40 is subnormal (flushed to zero on CPUs, and then a constant field gives 0/0); 1e-18 is the
    power of ten that keeps ``(beta + epsilon)**-2``, which the gradient of the ratio forms, finite
    (1e36 < 3.4e38), so ``jax.grad`` stays finite on a constant field.
    """
    return 1e-40 if jnp.dtype(dtype).itemsize >= 8 else 1e-18


def weno5z(get, courant):
    """WENO5-Z (Borges, Carmona, Costa & Don 2008), fifth order on smooth fields, upwind-biased.

    Point value on face ``i + 1/2`` from the cells ``i-2 .. i+2`` for ``courant >= 0`` (the mirror
    ``i+3 .. i-1`` otherwise; ``halo`` 3): the three third-order candidate values ``q_k`` of Jiang &
    Shu (1996) with their smoothness indicators ``beta_k``, combined with the Z weights
    ``alpha_k = d_k (1 + tau5 / (beta_k + epsilon))``, ``tau5 = |beta_0 - beta_2|``, ``p = 1`` (the
    paper's choice), ``d = (1/10, 6/10, 3/10)`` and ``epsilon`` from :func:`weno_epsilon`.  The face
    value does not depend on ``|courant|``: it is a method-of-lines reconstruction, meant for a
    Runge-Kutta time stepper (:func:`learned_advection.numerics.fluxform.ssp_rk3_fluxes`).  As with
    :func:`ppm`, the five upwind cells are selected first (mirrored for ``courant < 0``), so the
    arithmetic runs once.
    """
    a, b, c, d, e = upwind_five(get, courant)
    # Everything from neighbour differences, so that a constant field of any value gives exactly c:
    # q_k = c + delta_k are (2a - 7b + 11c) / 6, (-b + 5c + 2d) / 6 and (2c + 5d - e) / 6, and the
    # beta_k are Jiang & Shu's 13/12 (a - 2b + c)^2 + 1/4 (a - 4b + 3c)^2, ... in the same terms.
    ab, cb, dc, bc, ec, ed = a - b, c - b, d - c, b - c, e - c, e - d
    delta0 = (2.0 * ab + 5.0 * cb) / 6.0
    delta1 = (2.0 * dc - bc) / 6.0
    delta2 = (5.0 * dc - ec) / 6.0
    beta0 = (13.0 / 12.0) * (ab + cb) ** 2 + 0.25 * (ab + 3.0 * cb) ** 2
    beta1 = (13.0 / 12.0) * (bc + dc) ** 2 + 0.25 * (bc - dc) ** 2
    beta2 = (13.0 / 12.0) * (ed - dc) ** 2 + 0.25 * (ed - 3.0 * dc) ** 2
    eps = weno_epsilon(c.dtype)
    tau = jnp.abs(beta0 - beta2)
    alpha0 = 0.1 * (1.0 + tau / (beta0 + eps))
    alpha1 = 0.6 * (1.0 + tau / (beta1 + eps))
    alpha2 = 0.3 * (1.0 + tau / (beta2 + eps))
    return c + (alpha0 * delta0 + alpha1 * delta1 + alpha2 * delta2) / (alpha0 + alpha1 + alpha2)
