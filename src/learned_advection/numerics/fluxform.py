"""Flux-form finite-volume updates on periodic C-grids: the array kernels of the time-stepping schemes.

Everything here is in *Courant units*: along axis ``a`` the face Courant number is
``courant[a] = velocity[a] * dt / spacing[a]`` on the + face of every cell, a flux is
``courant * face value`` and the update is ``c - sum_a (F[a] - roll(F[a], 1, a))`` -- flux form, so
mass is conserved to round-off for any face values.

* :func:`unsplit_step` -- every direction from the same state (forward Euler; the learned models'
  update, as in the paper's code); :func:`unsplit_step_halo` the same for a stencil reconstruction on
  padded copies;
* :func:`lin_rood_step_halo` -- the symmetric Lin & Rood (1996) splitting
  ``C + T_y(C + A_x C / 2) + T_x(C + A_y C / 2)`` (outer operators ``T`` in flux form, mass exact; inner
  half-steps ``A`` in advective form, a constant field stays constant) for a stencil reconstruction,
  evaluated on one periodically padded copy of ``c`` so that XLA fuses the step into a few loops;
  :func:`lin_rood_halo_courant` computes its velocity-only arrays once (a steady flow) and
  :func:`lin_rood_step_prepared` steps from them, bitwise equal; with ``max_whole > 0`` its operators are
  flux-form semi-Lagrangian (:mod:`~learned_advection.numerics.ffsl`), the large step;
* :func:`ssp_rk3_fluxes` -- three unsplit forward-Euler stages combined as the third-order SSP
  Runge-Kutta method, for method-of-lines reconstructions (WENO5-Z), still in flux form.

The time-stepping types that use these kernels are in :mod:`~learned_advection.numerics.time_stepping`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from learned_advection.numerics.ffsl import swept_flux
from learned_advection.numerics.reconstructions import PeriodicFaces, StencilFaces

if TYPE_CHECKING:
    from learned_advection.numerics.boundaries import BoundaryConditions


def _materialize_once(tree):
    """``tree`` through a ``lax.cond`` on a run-time predicate whose branches both return it unchanged."""
    leaf = jax.tree_util.tree_leaves(tree)[0]
    return jax.lax.cond(
        jnp.isfinite(jnp.ravel(leaf)[0]), lambda t: t, lambda t: jax.tree_util.tree_map(lambda x: x + 0, t), tree
    )


@jax.custom_batching.custom_vmap
def _materialize_batchable(tree):
    return _materialize_once(tree)


@_materialize_batchable.def_vmap
def _materialize_batched(axis_size, in_batched, tree):
    # the batch as one array through one ``cond`` (a batched predicate would turn it into a ``select``)
    return _materialize_batchable(tree), in_batched[0]


@jax.custom_jvp
def materialize(tree):
    """``tree`` (a pytree of arrays), unchanged, computed once into memory before anything reads it.

    XLA fuses a producer into each of its consumers; where a step reads its fluxes at several neighbours
    (a limiter, a correction's divergence) the fused loops recompute them at each, several times the cost.
    A conditional on a value known only at run time is a fusion boundary that XLA keeps (an
    ``optimization_barrier`` is not, on the CPU); under ``jax.vmap`` the whole batch goes through one
    conditional, and its derivative is the identity.
    """
    return _materialize_batchable(tree)


@materialize.defjvp
def _materialize_jvp(primals, tangents):
    return materialize(primals[0]), tangents[0]


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


def with_previous_face(x: Array, axis: int) -> Array:
    """A + face field along ``axis`` on faces ``-1/2, 1/2, ..., n - 1/2`` (length ``n + 1``; periodic: the last first)."""
    n = x.shape[axis]
    return jnp.concatenate([_slice(x, n - 1, 1, axis), x], axis=axis)


def face_divergence(flux: Array, axis: int) -> Array:
    """``F[i + 1/2] - F[i - 1/2]`` of fluxes on faces ``-1/2 .. n - 1/2`` (length ``n + 1`` along ``axis``)."""
    n = flux.shape[axis] - 1
    return _slice(flux, 1, n, axis) - _slice(flux, 0, n, axis)


def _halo_fluxes(
    faces: StencilFaces, padded: Array, courant: Array, axis: int, halo: int, max_whole: int = 0, weight: float = 1.0
) -> Array:
    """Fluxes (Courant units) on faces ``-1/2 .. n - 1/2`` along ``axis`` from ``c`` padded with ``halo`` cells.

    ``courant`` holds the face Courant numbers from :func:`with_previous_face` (length ``n + 1``).
    ``max_whole = 0``: ``courant * face value``.  ``max_whole > 0``: the flux-form semi-Lagrangian flux of
    :func:`~learned_advection.numerics.ffsl.swept_flux` (``halo`` must then cover the stencil plus ``max_whole`` cells), the stencil values of
    every face selected from slices of the one padded copy.  ``weight``: the fluxes times this constant
    (``max_whole = 0``: as ``(weight * courant) * face value``, a factor XLA computes once for a steady flow).
    """
    n = padded.shape[axis] - 2 * halo

    def cell(d):  # cell j + d of face j + 1/2 (j = -1 .. n - 1): face entry j + 1, padded index j + d + halo
        return _slice(padded, halo - 1 + d, n + 1, axis)

    if max_whole == 0:
        return (courant if weight == 1.0 else weight * courant) * faces(cell, courant)
    flux = swept_flux(faces, cell, courant, max_whole)
    return flux if weight == 1.0 else weight * flux


def _halo_increment(faces: StencilFaces, padded: Array, courant: Array, axis: int, halo: int) -> Array:
    """``T c`` along ``axis`` from ``c`` padded with ``halo`` cells on both sides of ``axis``.

    ``courant`` holds the face Courant numbers from :func:`with_previous_face` (length ``n + 1``); the
    result has length ``n`` along ``axis``.  Same arithmetic as :func:`flux_increment` on the periodic
    array, without the per-shift copies.
    """
    return -face_divergence(_halo_fluxes(faces, padded, courant, axis, halo), axis)


def _inner_half_step(
    faces: StencilFaces,
    padded: Array,
    courant: Array,
    axis: int,
    halo: int,
    max_whole: int = 0,
    keep: Array | None = None,
) -> Array:
    """``c + A c / 2`` along ``axis`` (the advective inner half-step of Lin & Rood) from ``c`` padded with
    ``halo`` cells on both sides of ``axis``; length ``n`` along ``axis``, padded along the other axis as given.

    Written as ``c * keep - (H[i + 1/2] - H[i - 1/2])`` with half fluxes ``H = F / 2`` and
    ``keep = 1 + (courant[i + 1/2] - courant[i - 1/2]) / 2`` (:func:`inner_keep`; passed in when already
    computed): the same step as ``c + (flux_increment + c * (courant[i + 1/2] - courant[i - 1/2])) / 2`` up to
    round-off, with fewer operations in the loop XLA fuses it into (each inner value is read four times by the
    outer operator).  ``courant`` as in :func:`_halo_increment`; ``max_whole > 0``: flux-form semi-Lagrangian
    fluxes (:func:`~learned_advection.numerics.ffsl.swept_flux`).
    """
    n = padded.shape[axis] - 2 * halo
    half = _halo_fluxes(faces, padded, courant, axis, halo, max_whole, weight=0.5)
    return _slice(padded, halo, n, axis) * (inner_keep(courant, axis) if keep is None else keep) - face_divergence(
        half, axis
    )


def inner_keep(courant: Array, axis: int) -> Array:
    """``1 + (courant[i + 1/2] - courant[i - 1/2]) / 2`` from face Courant numbers on faces ``-1/2 .. n - 1/2``:
    the weight of a cell's own value in the advective inner half-step ``c * keep - (H[i + 1/2] - H[i - 1/2])``
    of the fused Lin & Rood step (half fluxes ``H``)."""
    return 1.0 + 0.5 * face_divergence(courant, axis)


def lin_rood_step_halo(
    faces: StencilFaces, halo: int, c: Float[Array, "*space"], courant: Sequence[Array], max_whole: int = 0
) -> Float[Array, "*space"]:
    """One symmetric Lin & Rood step (advective inner operators) of a stencil reconstruction, on one padded copy.

    ``halo`` is the number of cells the stencil needs beyond the face's own pair.  Results equal
    the periodic form (``tests/oracles.py``) with ``periodic(faces)`` to round-off (the arithmetic is the same, operation
    for operation).  ``max_whole > 0``: the same step with flux-form semi-Lagrangian
    operators (Courant numbers up to ``max_whole + 1``), ``c - net_outflow(lin_rood_fluxes_halo(...))``.
    """
    check_shape(c)
    if max_whole:
        return c - net_outflow(lin_rood_fluxes_halo(faces, halo, c, courant, max_whole))
    return lin_rood_step_prepared(faces, halo, c, lin_rood_halo_courant(courant, halo))


def unsplit_step_halo(
    faces: StencilFaces, halo: int, c: Float[Array, "*space"], courant: Sequence[Array]
) -> Float[Array, "*space"]:
    """:func:`unsplit_step` for a stencil reconstruction, each axis from a copy of ``c`` padded along that axis.

    The same arithmetic as ``unsplit_step(c, courant, [periodic(faces)(c, courant[a], a) ...])``, operation for
    operation (bitwise equal outside jit), without the per-shift copies of the rolls.
    """
    check_shape(c)
    out = c
    for a in range(c.ndim):
        out = out + _halo_increment(faces, wrap_pad(c, halo, a), with_previous_face(courant[a], a), a, halo)
    return out


class HaloCourant(NamedTuple):
    """The velocity-only arrays of one :func:`lin_rood_step_halo` step (``max_whole = 0``), from
    :func:`lin_rood_halo_courant`: computed once for a steady flow, passed to every
    :func:`lin_rood_step_prepared` step.

    ``outer[a]``: face Courant numbers along axis ``a`` on faces ``-1/2 .. n - 1/2`` (the last one first);
    in 2-D ``inner[a]`` the same on every row (column) of the periodic halo, for the inner half-step along
    ``a``, and ``keep[a]`` its :func:`inner_keep` (the advective term's weight); empty in 1-D.
    """

    outer: tuple[Array, ...]
    inner: tuple[Array, ...]
    keep: tuple[Array, ...]


def lin_rood_halo_courant(courant: Sequence[Array], halo: int) -> HaloCourant:
    """The :class:`HaloCourant` arrays of face Courant numbers ``courant`` for a stencil of ``halo`` cells."""
    outer = tuple(with_previous_face(cr, a) for a, cr in enumerate(courant))
    if len(courant) == 1:
        return HaloCourant(outer, (), ())
    inner = (with_previous_face(wrap_pad(courant[0], halo, 1), 0), with_previous_face(wrap_pad(courant[1], halo, 0), 1))
    return HaloCourant(outer, inner, tuple(inner_keep(cr, a) for a, cr in enumerate(inner)))


def lin_rood_step_prepared(
    faces: StencilFaces, halo: int, c: Float[Array, "*space"], prepared: HaloCourant
) -> Float[Array, "*space"]:
    """:func:`lin_rood_step_halo` (``max_whole = 0``) from its velocity-only arrays (:func:`lin_rood_halo_courant`).

    The same operations on the same numbers: bitwise equal to :func:`lin_rood_step_halo`.
    """
    check_shape(c)
    outer, inner, keep = prepared
    if c.ndim == 1:
        return c + _halo_increment(faces, wrap_pad(c, halo, 0), outer[0], 0, halo)
    padded = wrap_pad(c, halo)  # (ny + 2h, nx + 2h)
    # Inner x half-step on every padded row, then the outer y operator on the result; and the same transposed.
    ty = _halo_increment(faces, _inner_half_step(faces, padded, inner[1], 1, halo, keep=keep[1]), outer[0], 0, halo)
    tx = _halo_increment(faces, _inner_half_step(faces, padded, inner[0], 0, halo, keep=keep[0]), outer[1], 1, halo)
    return c + ty + tx


def lin_rood_fluxes_halo(
    faces: StencilFaces, halo: int, c: Float[Array, "*space"], courant: Sequence[Array], max_whole: int = 0
) -> tuple[Array, ...]:
    """The outer fluxes of one Lin & Rood step (``max_whole > 0``: with FFSL operators) on one padded copy.

    The outer fluxes at the + face of every cell, in Courant units; equal to the periodic forms to round-off.
    """
    check_shape(c)
    h = halo + max_whole

    def outer(field, axis):  # field padded by h along axis only; fluxes at the + faces of cells 0 .. n - 1
        flux = _halo_fluxes(faces, field, with_previous_face(courant[axis], axis), axis, h, max_whole)
        return _slice(flux, 1, c.shape[axis], axis)

    if c.ndim == 1:
        return (outer(wrap_pad(c, h, 0), 0),)
    padded = wrap_pad(c, h)
    qy = _inner_half_step(faces, padded, with_previous_face(wrap_pad(courant[1], h, 0), 1), 1, h, max_whole)
    qx = _inner_half_step(faces, padded, with_previous_face(wrap_pad(courant[0], h, 1), 0), 0, h, max_whole)
    return outer(qy, 0), outer(qx, 1)


# --------------------------------------------------------------------------- SSP-RK3 (method of lines)
def ssp_rk3_fluxes(faces: PeriodicFaces, c: Float[Array, "*space"], courant: Sequence[Array]) -> tuple[Array, ...]:
    """The fluxes (Courant units) of one third-order SSP Runge-Kutta step (Shu & Osher 1988), unsplit.

    Each stage is a forward-Euler flux-form stage with every direction's face values from the same
    state: ``F_k = courant * faces(c_k)`` along every axis, ``c_1 = c - net_outflow(F_0)``,
    ``c_2 = 3/4 c + 1/4 (c_1 - net_outflow(F_1))``, ``c_next = 1/3 c + 2/3 (c_2 - net_outflow(F_2))``,
    which is ``c - net_outflow((F_0 + F_1 + 4 F_2) / 6)``: the step is flux form (mass exact; a
    limiter such as FCT can bound it) and these are its fluxes.  The velocity (``courant``) is the same
    in every stage: third order in time for a steady flow (for a flow that changes within the step,
    the order in time is that of the one velocity per step the caller passes).
    """
    check_shape(c)

    def stage(field):
        return tuple(cr * faces(field, cr, a) for a, cr in enumerate(courant))

    f0 = stage(c)
    c1 = c - net_outflow(f0)
    f1 = stage(c1)
    c2 = 0.75 * c + 0.25 * (c1 - net_outflow(f1))
    f2 = stage(c2)
    return tuple((a + b + 4.0 * d) / 6.0 for a, b, d in zip(f0, f1, f2))


# --------------------------------------------------------------------------- regional (non-periodic) domains
def extended_courant(courant: Sequence[Array], conditions: BoundaryConditions) -> tuple[Array, ...]:
    """Face Courant numbers on faces ``-1/2 .. n - 1/2`` along every axis: as given along a non-periodic axis
    (``n + 1`` faces), the last face first again along a periodic one."""
    return tuple(cr if not conditions.periodic_axis(a) else with_previous_face(cr, a) for a, cr in enumerate(courant))


def _along_ghost_rows(courant: Array, halo: int, axis: int, conditions: BoundaryConditions) -> Array:
    """Face Courant numbers along ``axis`` (2-D) extended by ``halo`` cells along the other axis: wrapped where
    it is periodic, the edge values repeated where it is not."""
    other = 1 - axis
    widths = [(0, 0), (0, 0)]
    widths[other] = (halo, halo)
    return jnp.pad(courant, widths, mode="wrap" if conditions.periodic_axis(other) else "edge")


def close_walls(fluxes: Sequence[Array], conditions: BoundaryConditions) -> tuple[Array, ...]:
    """Fluxes on faces ``-1/2 .. n - 1/2`` with the faces on walls set to zero (nothing crosses a wall)."""
    out = []
    for a, flux in enumerate(fluxes):
        sides = conditions.bounds.axes[a]
        if sides is not None:
            n = flux.shape[a]
            index = jnp.arange(n).reshape((-1,) + (1,) * (flux.ndim - 1 - a))
            shut = jnp.zeros(flux.shape, dtype=bool)
            if sides[0].kind == "wall":
                shut = shut | (index == 0)
            if sides[1].kind == "wall":
                shut = shut | (index == n - 1)
            flux = jnp.where(shut, jnp.zeros_like(flux), flux)
        out.append(flux)
    return tuple(out)


def divergence_of_faces(fluxes: Sequence[Array]) -> Array:
    """``sum_a F[a][i + 1/2] - F[a][i - 1/2]`` of fluxes on faces ``-1/2 .. n - 1/2`` (the update is ``c - it``)."""
    return sum(face_divergence(f, a) for a, f in enumerate(fluxes))


def lin_rood_fluxes_regional(
    faces: StencilFaces,
    halo: int,
    c: Float[Array, "*space"],
    courant: Sequence[Array],
    conditions: BoundaryConditions,
    max_whole: int = 0,
) -> tuple[Array, ...]:
    """The outer fluxes of one Lin & Rood step (``max_whole > 0``: FFSL operators) on faces ``-1/2 .. n - 1/2``
    of a domain with the boundaries ``conditions`` (ghost cells from
    :meth:`~learned_advection.numerics.boundaries.BoundaryConditions.pad`; ``courant`` with ``n + 1`` faces along
    a non-periodic axis); the faces on walls carry nothing."""
    check_shape(c)
    h = halo + max_whole
    cr = extended_courant(courant, conditions)
    if c.ndim == 1:
        return close_walls((_halo_fluxes(faces, conditions.pad(c, h, 0, cr[0]), cr[0], 0, h, max_whole),), conditions)
    rows = (_along_ghost_rows(cr[0], h, 0, conditions), _along_ghost_rows(cr[1], h, 1, conditions))
    padded = conditions.pad(conditions.pad(c, h, 0, cr[0]), h, 1, rows[1], other=h)
    qy = _inner_half_step(faces, padded, rows[1], 1, h, max_whole)  # x half-step on every padded row
    qx = _inner_half_step(faces, padded, rows[0], 0, h, max_whole)  # y half-step on every padded column
    fluxes = (_halo_fluxes(faces, qy, cr[0], 0, h, max_whole), _halo_fluxes(faces, qx, cr[1], 1, h, max_whole))
    return close_walls(fluxes, conditions)


def ssp_rk3_fluxes_regional(
    faces: StencilFaces, halo: int, c: Float[Array, "*space"], courant: Sequence[Array], conditions: BoundaryConditions
) -> tuple[Array, ...]:
    """:func:`ssp_rk3_fluxes` on faces ``-1/2 .. n - 1/2`` of a domain with the boundaries ``conditions``: each
    stage's ghost cells at that stage's time (``t``, ``t + dt``, ``t + dt / 2``)."""
    check_shape(c)
    cr = extended_courant(courant, conditions)

    def stage(field, offset):
        fluxes = tuple(
            _halo_fluxes(faces, conditions.pad(field, halo, a, cr[a], offset), cr[a], a, halo) for a in range(c.ndim)
        )
        return close_walls(fluxes, conditions)

    f0 = stage(c, 0.0)
    c1 = c - divergence_of_faces(f0)
    f1 = stage(c1, 1.0)
    c2 = 0.75 * c + 0.25 * (c1 - divergence_of_faces(f1))
    f2 = stage(c2, 0.5)
    return tuple((a + b + 4.0 * d) / 6.0 for a, b, d in zip(f0, f1, f2))
