"""Flux-form finite-volume updates on periodic C-grids, with the face interpolation as a parameter.

Everything here is in *Courant units*: along axis ``a`` the face Courant number is
``courant[a] = velocity[a] * dt / spacing[a]`` on the + face of every cell, a flux is
``courant * face value`` and the update is ``c - sum_a (F[a] - roll(F[a], 1, a))`` -- flux form, so
mass is conserved to round-off for any face values.

Two ways to combine directions (both flux form):

* :func:`unsplit_step` -- every direction from the same state (forward Euler; the learned models'
  update, as in the paper's code);
* :func:`lin_rood_step` -- the symmetric Lin & Rood (1996) splitting
  ``C + T_y(C + A_x C / 2) + T_x(C + A_y C / 2)``: outer operators ``T`` in flux form (mass exact),
  inner half-steps ``A`` in advective form (a constant field stays constant).
  :func:`lin_rood_step_halo` is the same arithmetic for a stencil reconstruction, evaluated on one
  periodically padded copy of ``c`` so that XLA fuses the step into a few loops (the fast path of the
  classical schemes).

The face values come from a function ``faces(field, courant, axis)`` (a :data:`PeriodicFaces`), so a
classical reconstruction and a learned interpolation run through the same code.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from learned_advection.numerics.reconstructions import PeriodicFaces, StencilFaces


def courant_numbers(velocity: Sequence[Array], dt, spacing: Sequence[float]) -> tuple[Array, ...]:
    """Face Courant numbers ``velocity[a] * dt / spacing[a]`` (signed, per face) along every axis."""
    return tuple(u * (dt / d) for u, d in zip(velocity, spacing))


def check_shape(c: Array) -> None:
    """Refuse a concentration that is neither ``(x,)`` nor ``(y, x)``."""
    if c.ndim not in (1, 2):
        raise ValueError(f"concentration must be 1-D (x,) or 2-D (y, x), got shape {c.shape}")


def flux_increment(c: Array, courant: Array, faces: Array, axis: int) -> Array:
    """``T c = -(F[i+1/2] - F[i-1/2])`` with ``F = courant * face value`` (flux form, mass exact)."""
    flux = courant * faces
    return -(flux - jnp.roll(flux, 1, axis=axis))


def advective_increment(c: Array, courant: Array, faces: Array, axis: int) -> Array:
    """``A c = T c + c (courant[i+1/2] - courant[i-1/2])``: advective form, keeps a constant constant."""
    return flux_increment(c, courant, faces, axis) + c * (courant - jnp.roll(courant, 1, axis=axis))


def net_outflow(fluxes: Sequence[Array]) -> Array:
    """``sum_a (F[a] - roll(F[a], 1, a))``: the net outflow of every cell (update = ``c - net_outflow``)."""
    return sum(f - jnp.roll(f, 1, axis=a) for a, f in enumerate(fluxes))


# --------------------------------------------------------------------------- unsplit
def unsplit_step(c: Float[Array, "*space"], courant: Sequence[Array], faces: Sequence[Array]) -> Float[Array, "*space"]:
    """Forward Euler in flux form with every direction's face values taken from the same state."""
    out = c
    for a in range(c.ndim):
        out = out + flux_increment(c, courant[a], faces[a], a)
    return out


# --------------------------------------------------------------------------- Lin & Rood splitting
def lin_rood_fluxes(
    faces: PeriodicFaces, c: Float[Array, "*space"], courant: Sequence[Array], inner: str = "advective"
) -> tuple[Array, ...]:
    """The outer fluxes (Courant units) of one Lin & Rood step: ``lin_rood_step = c - net_outflow(these)``.

    1-D: ``courant * faces(c)``.  2-D: the y flux from ``c + A_x c / 2`` and the x flux from
    ``c + A_y c / 2``.  ``inner="flux"`` uses flux-form inner half-steps, as the paper's public code does;
    it is kept only to show (in the tests) why the advective inner form is the default: with it a
    constant field is not preserved in a non-uniform divergence-free flow.
    """
    check_shape(c)
    if c.ndim == 1:
        return (courant[0] * faces(c, courant[0], 0),)
    inner_op = {"advective": advective_increment, "flux": flux_increment}[inner]

    def half(field, axis):
        return field + 0.5 * inner_op(field, courant[axis], faces(field, courant[axis], axis), axis)

    y_from, x_from = half(c, 1), half(c, 0)
    return courant[0] * faces(y_from, courant[0], 0), courant[1] * faces(x_from, courant[1], 1)


def lin_rood_step(
    faces: PeriodicFaces, c: Float[Array, "*space"], courant: Sequence[Array], inner: str = "advective"
) -> Float[Array, "*space"]:
    """One step of a 1-D reconstruction: flux form in 1-D, symmetric Lin & Rood (1996) in 2-D.

    Operation for operation ``c + T_y(c + A_x c / 2) + T_x(c + A_y c / 2)`` (see :func:`lin_rood_fluxes`
    for the same step as fluxes).
    """
    check_shape(c)
    if c.ndim == 1:
        return c + flux_increment(c, courant[0], faces(c, courant[0], 0), 0)
    inner_op = {"advective": advective_increment, "flux": flux_increment}[inner]

    def T(field, axis):
        return flux_increment(field, courant[axis], faces(field, courant[axis], axis), axis)

    def A(field, axis):
        return inner_op(field, courant[axis], faces(field, courant[axis], axis), axis)

    return c + T(c + 0.5 * A(c, 1), 0) + T(c + 0.5 * A(c, 0), 1)


# --------------------------------------------------------------------------- fused (halo) evaluation
def _slice(x: Array, start: int, size: int, axis: int) -> Array:
    return jax.lax.slice_in_dim(x, start, start + size, axis=axis)


def wrap_pad(x: Array, halo: int, axis: int | None = None) -> Array:
    """Periodic halo of ``halo`` cells on both sides of ``axis`` (every axis if ``None``)."""
    if axis is None:
        return jnp.pad(x, halo, mode="wrap")
    widths = [(0, 0)] * x.ndim
    widths[axis] = (halo, halo)
    return jnp.pad(x, widths, mode="wrap")


def _face_courant(courant: Array, axis: int) -> Array:
    """Courant numbers on faces ``-1/2, 1/2, ..., n - 1/2`` along ``axis`` (length ``n + 1``)."""
    n = courant.shape[axis]
    return jnp.concatenate([_slice(courant, n - 1, 1, axis), courant], axis=axis)


def _halo_increment(faces: StencilFaces, padded: Array, courant: Array, axis: int, halo: int, advective: bool) -> Array:
    """``T c`` (or ``A c``) along ``axis`` from ``c`` padded with ``halo`` cells on both sides of ``axis``.

    ``courant`` holds the face Courant numbers from :func:`_face_courant` (length ``n + 1``); the
    result has length ``n`` along ``axis``.  Same arithmetic as :func:`flux_increment` and
    :func:`advective_increment` on the periodic array, without the per-shift copies.
    """
    n = padded.shape[axis] - 2 * halo
    # Face j (j = -1 .. n-1) is entry j + 1; cell j + k of it lives at padded index j + k + halo.
    flux = courant * faces(lambda k: _slice(padded, halo - 1 + k, n + 1, axis), courant)
    out = -(_slice(flux, 1, n, axis) - _slice(flux, 0, n, axis))
    if advective:
        out = out + _slice(padded, halo, n, axis) * (_slice(courant, 1, n, axis) - _slice(courant, 0, n, axis))
    return out


def lin_rood_step_halo(faces: StencilFaces, halo: int, c: Float[Array, "*space"], courant: Sequence[Array]) -> Float[Array, "*space"]:
    """:func:`lin_rood_step` (advective inner operators) for a stencil reconstruction, on one padded copy.

    ``halo`` is the number of cells the stencil needs beyond the face's own pair.  Results equal
    :func:`lin_rood_step` with ``periodic(faces)`` to round-off (the arithmetic is the same, operation
    for operation).
    """
    check_shape(c)
    if c.ndim == 1:
        return c + _halo_increment(faces, wrap_pad(c, halo, 0), _face_courant(courant[0], 0), 0, halo, False)
    ny, nx = c.shape
    padded = wrap_pad(c, halo)  # (ny + 2h, nx + 2h)
    # Inner x half-step on every padded row, then the outer y operator on the result.
    rows = _slice(padded, halo, nx, 1)  # c on padded rows, interior columns
    ax = _halo_increment(faces, padded, _face_courant(wrap_pad(courant[1], halo, 0), 1), 1, halo, True)
    ty = _halo_increment(faces, rows + 0.5 * ax, _face_courant(courant[0], 0), 0, halo, False)
    # Inner y half-step on every padded column, then the outer x operator.
    cols = _slice(padded, halo, ny, 0)
    ay = _halo_increment(faces, padded, _face_courant(wrap_pad(courant[0], halo, 1), 0), 0, halo, True)
    tx = _halo_increment(faces, cols + 0.5 * ay, _face_courant(courant[1], 1), 1, halo, False)
    return c + ty + tx


# --------------------------------------------------------------------------- large steps (FFSL, 1-D)
def ffsl_fluxes_1d(faces: StencilFaces, c: Float[Array, "x"], courant: Array, max_whole: int) -> Array:
    """Flux-form semi-Lagrangian fluxes (Lin & Rood 1996) along a periodic 1-D array, for any Courant number.

    The mass through face ``i + 1/2`` in one step is that of the cells swept from its departure point:
    ``n = floor(|courant|)`` whole upwind cells, moved exactly, plus the fraction ``f = |courant| - n``
    of the next one, averaged from the stencil reconstruction ``faces`` centred on that departure cell
    (the same one-step space-time average as at ``|courant| < 1``).  Returns the fluxes in Courant units
    (``c_next = c - (F - roll(F, 1))``: flux form, mass exact).  ``max_whole`` (static) bounds ``n``:
    faces with ``floor(|courant|) > max_whole`` are not supported (the caller checks the Courant number).
    For ``|courant| < 1`` the flux is ``courant * faces(c)``, the usual one.
    """
    positive = courant >= 0
    size = jnp.abs(courant)
    whole = jnp.floor(size)
    frac = size - whole

    def shifted(m: int):
        """``get(k)`` for the stencil centred ``m`` cells upwind of the usual one (each sign its own way)."""
        return lambda k: jnp.where(positive, jnp.roll(c, m - k), jnp.roll(c, -m - k))

    swept = jnp.zeros_like(c)  # mass of the whole cells crossed, in cell averages
    flux = jnp.zeros_like(c)
    for m in range(max_whole + 1):
        signed_frac = jnp.where(positive, frac, -frac)
        partial = swept + frac * faces(shifted(m), signed_frac)
        flux = jnp.where(whole == m, jnp.where(positive, partial, -partial), flux)
        upwind_cell = jnp.where(positive, jnp.roll(c, m), jnp.roll(c, -m - 1))  # the next whole cell crossed
        swept = swept + upwind_cell
    return flux
