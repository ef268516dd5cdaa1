"""Test oracles: the periodic reference forms of the flux-form steps, written with ``jnp.roll``.

The package steps on padded copies (:mod:`learned_advection.numerics.fluxform`'s fused paths); these are the
textbook forms the tests check them against, operation for operation where the docstrings say so.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
from jaxtyping import Array, Float

from learned_advection.numerics.fluxform import check_shape, flux_increment
from learned_advection.numerics.reconstructions import PeriodicFaces, StencilFaces


# --------------------------------------------------------------------------- Lin & Rood splitting
def lin_rood_fluxes(
    faces: PeriodicFaces, c: Float[Array, "*space"], courant: Sequence[Array], inner: str = "advective"
) -> tuple[Array, ...]:
    """The outer fluxes (Courant units) of one Lin & Rood step: ``lin_rood_step = c - net_outflow(these)``.

    1-D: ``courant * faces(c)``.  2-D: the y flux from ``c + A_x c / 2`` and the x flux from
    ``c + A_y c / 2``.  ``inner="flux"`` uses flux-form inner half-steps, as the paper's public code does;
    it shows why the advective inner form is the package's: with it a constant field is not preserved in a
    non-uniform divergence-free flow.
    """
    check_shape(c)
    if c.ndim == 1:
        return (courant[0] * faces(c, courant[0], 0),)
    y_from, x_from = _half_step(faces, c, courant, 1, inner), _half_step(faces, c, courant, 0, inner)
    return courant[0] * faces(y_from, courant[0], 0), courant[1] * faces(x_from, courant[1], 1)


def _half_step(faces: PeriodicFaces, c: Array, courant: Sequence[Array], axis: int, inner: str) -> Array:
    """The inner half-step ``c + A c / 2`` along ``axis``; advective: ``c * keep - (H - roll(H, 1))`` with
    ``H = (courant / 2) * faces`` and ``keep = 1 + (courant - roll(courant, 1)) / 2`` (the fused path's
    operations, so the two agree bitwise outside jit)."""
    cr = courant[axis]
    if inner == "flux":
        return c + 0.5 * flux_increment(c, cr, faces(c, cr, axis), axis)
    if inner != "advective":
        raise ValueError(f"inner must be 'advective' or 'flux', got {inner!r}")
    half = (0.5 * cr) * faces(c, cr, axis)
    keep = 1.0 + 0.5 * (cr - jnp.roll(cr, 1, axis=axis))
    return c * keep - (half - jnp.roll(half, 1, axis=axis))


def lin_rood_step(
    faces: PeriodicFaces, c: Float[Array, "*space"], courant: Sequence[Array], inner: str = "advective"
) -> Float[Array, "*space"]:
    """One step of a 1-D reconstruction: flux form in 1-D, symmetric Lin & Rood (1996) in 2-D,
    operation for operation ``c + T_y(c + A_x c / 2) + T_x(c + A_y c / 2)``."""
    check_shape(c)
    if c.ndim == 1:
        return c + flux_increment(c, courant[0], faces(c, courant[0], 0), 0)

    def T(field, axis):
        return flux_increment(field, courant[axis], faces(field, courant[axis], axis), axis)

    return c + T(_half_step(faces, c, courant, 1, inner), 0) + T(_half_step(faces, c, courant, 0, inner), 1)


# --------------------------------------------------------------------------- large steps (FFSL)
def ffsl_fluxes(faces: StencilFaces, c: Float[Array, "*space"], courant: Array, max_whole: int, axis: int = 0) -> Array:
    """Flux-form semi-Lagrangian fluxes (Lin & Rood 1996) along ``axis`` of a periodic array, for any Courant number.

    ``n = floor(|courant|)`` whole upwind cells moved exactly, plus the fraction ``|courant| - n`` of the next
    one from the stencil reconstruction centred on that departure cell; Courant units.  ``max_whole`` bounds
    ``n``.  Below Courant 1 the usual ``courant * faces(c)``.
    """
    positive = courant >= 0
    size = jnp.abs(courant)
    whole = jnp.floor(size)
    frac = size - whole
    cache: dict[int, Array] = {}

    def select(shift_pos, shift_neg):
        def shifted(m):
            return jnp.where(positive, jnp.roll(c, shift_pos(m), axis=axis), jnp.roll(c, shift_neg(m), axis=axis))

        out = shifted(0)
        for m in range(1, max_whole + 1):
            out = jnp.where(whole >= m, shifted(m), out)
        return out

    def get(k):
        if k not in cache:
            cache[k] = c if max_whole == 0 and k == 0 else select(lambda m: m - k, lambda m: -m - k)
        return cache[k]

    partial = frac * faces(get, jnp.where(positive, frac, -frac))
    for m in range(max_whole):  # the whole cells crossed: m = 0 .. n - 1
        upwind_cell = jnp.where(positive, jnp.roll(c, m, axis=axis), jnp.roll(c, -m - 1, axis=axis))
        partial = partial + jnp.where(whole > m, upwind_cell, 0)
    return jnp.where(positive, partial, -partial)


def ffsl_increment(faces: StencilFaces, c: Array, courant: Array, max_whole: int, axis: int, advective: bool) -> Array:
    """``T c`` (flux form) or ``A c`` (advective form, keeps a constant) along ``axis`` from :func:`ffsl_fluxes`."""
    flux = ffsl_fluxes(faces, c, courant, max_whole, axis)
    out = -(flux - jnp.roll(flux, 1, axis=axis))
    if advective:
        out = out + c * (courant - jnp.roll(courant, 1, axis=axis))
    return out


def lin_rood_ffsl_fluxes(
    faces: StencilFaces, c: Float[Array, "*space"], courant: Sequence[Array], max_whole: int
) -> tuple[Array, ...]:
    """The outer fluxes of one Lin & Rood step with FFSL operators (advective inner, flux-form outer, as FV3's
    ``fv_tp_2d``); the step is ``c - net_outflow(these)``."""
    check_shape(c)
    if c.ndim == 1:
        return (ffsl_fluxes(faces, c, courant[0], max_whole, 0),)
    y_from = c + 0.5 * ffsl_increment(faces, c, courant[1], max_whole, 1, True)
    x_from = c + 0.5 * ffsl_increment(faces, c, courant[0], max_whole, 0, True)
    return ffsl_fluxes(faces, y_from, courant[0], max_whole, 0), ffsl_fluxes(faces, x_from, courant[1], max_whole, 1)
