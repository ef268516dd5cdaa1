"""Flux-form semi-Lagrangian (FFSL) large steps (Lin & Rood 1996): which cells a face's flux sweeps.

The mass through face ``i + 1/2`` in one step of Courant number ``C`` is that of the cells swept from its
departure point: ``n = floor(|C|)`` whole upwind cells, moved exactly, plus the fraction ``f = |C| - n``
of the next one, averaged by a reconstruction centred on that departure cell.  The selection is written
once here, for every face value that takes a large step:

* :func:`swept_flux` -- a stencil reconstruction (``faces(get, courant)``, see
  :mod:`~learned_advection.numerics.reconstructions`), the classical schemes' large step
  (:class:`~learned_advection.numerics.time_stepping.FFSL`, the hybrid model's base);
* :func:`departure`, :func:`upwind_shifted` and :func:`whole_cells` -- the pieces, which a learned
  stencil (``ModelConfig.large_step="ffsl"``) combines with its own coefficients.

Every function takes the cells as a function ``cell(k)`` (or ``shifted(s)``): the value of cell
``i + k`` at face ``i + 1/2``, whether from a roll of a periodic array or a slice of a padded copy.  The
stencil values of every face are selected from ``max_whole + 1`` shifted copies by its own ``n``, so the
reconstruction is evaluated once per face, not once per possible ``n``; ``max_whole`` (static) bounds
``n`` (a face with ``floor(|C|) > max_whole`` is treated as ``n = max_whole``).
"""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp
from jaxtyping import Array

from learned_advection.numerics.reconstructions import StencilFaces

MAX_DEFORMATION = 0.9
"""The deformation number (``max |du| dt / dx`` along an axis) up to which an unbounded FFSL step (Courant number
above 1) is declared sound.  Its departure regions stay ordered only below 1; measured on steady cellular
vortices (:mod:`~learned_advection.evaluation.deformation_limit`) PPM's unbounded large step stays in the initial
range at every run with ``D <= 0.96`` and leaves it from ``D = 1.06``."""

Cells = Callable[[int], Array]
"""``cell(k)``: the value of cell ``i + k`` at every face ``i + 1/2``."""


def departure(courant: Array, clamp: int | None = None) -> tuple[Array, Array, Array, Array]:
    """``(positive, size, whole, frac)`` of every face: the sign of ``courant``, ``|courant|``, the whole cells
    swept ``floor(|courant|)`` (at most ``clamp`` when given) and the fraction ``|courant| - whole``."""
    positive = courant >= 0
    size = jnp.abs(courant)
    whole = jnp.floor(size)
    if clamp is not None:
        whole = jnp.minimum(whole, clamp)
    return positive, size, whole, size - whole


def upwind_shifted(shifted: Cells, positive: Array, whole: Array, max_whole: int) -> Array:
    """Per face, ``shifted(-m)`` (``courant >= 0``) or ``shifted(m)`` (``courant < 0``) with
    ``m = min(whole, max_whole)``: a value moved ``m`` cells upwind (the departure cell's)."""
    out = shifted(0)
    for m in range(1, max_whole + 1):
        out = jnp.where(whole >= m, jnp.where(positive, shifted(-m), shifted(m)), out)
    return out


def whole_cells(cell: Cells, positive: Array, whole: Array, max_whole: int, total: Array) -> Array:
    """``total`` plus the whole cells the face sweeps: the ``m``-th upwind cell (``cell(1 - m)`` for
    ``courant >= 0``, ``cell(m)`` otherwise) for ``m = 1 .. min(whole, max_whole)``, added one by one."""
    for m in range(max_whole):
        total = total + jnp.where(whole > m, jnp.where(positive, cell(-m), cell(m + 1)), 0)
    return total


def swept_flux(faces: StencilFaces, cell: Cells, courant: Array, max_whole: int) -> Array:
    """The FFSL flux (Courant units) of the stencil reconstruction ``faces`` at every face.

    ``frac * faces(get, +-frac)`` with ``get(k)`` the stencil centred on the departure cell, plus the whole
    cells swept, signed as ``courant``.  For ``|courant| < 1`` it is ``courant * faces(cell, courant)``, the
    usual flux, whatever ``max_whole``.
    """
    positive, _, whole, frac = departure(courant)
    cache: dict[int, Array] = {}

    def get(k):
        if k not in cache:
            cache[k] = upwind_shifted(lambda s: cell(k + s), positive, whole, max_whole)
        return cache[k]

    partial = frac * faces(get, jnp.where(positive, frac, -frac))
    partial = whole_cells(cell, positive, whole, max_whole, partial)
    return jnp.where(positive, partial, -partial)
