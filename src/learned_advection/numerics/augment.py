"""Exact D4 symmetries (rotations by 90 degrees and reflections) of 2-D C-grid fields.

A symmetry acts on a concentration ``(..., y, x)`` and on its face velocities ``(y_velocity,
x_velocity)`` together.  Reflection ``x -> -x`` maps cell ``i`` to ``N-1-i``; the + x-face of cell
``i`` becomes the face between ``N-1-i`` and ``N-2-i`` (the + face of cell ``N-2-i``) and its velocity
changes sign; y-face velocities are only reordered.  Transposition swaps the roles of x and y faces.
All eight elements are compositions of these, so advection commutes with every one of them exactly.
"""

from __future__ import annotations

import jax.numpy as jnp


def flip_x(c, velocity):
    v, u = velocity
    return jnp.flip(c, -1), (jnp.flip(v, -1), -jnp.roll(jnp.flip(u, -1), -1, axis=-1))


def flip_y(c, velocity):
    v, u = velocity
    return jnp.flip(c, -2), (-jnp.roll(jnp.flip(v, -2), -1, axis=-2), jnp.flip(u, -2))


def transpose(c, velocity):
    v, u = velocity
    return jnp.swapaxes(c, -1, -2), (jnp.swapaxes(u, -1, -2), jnp.swapaxes(v, -1, -2))


def d4_element(k: int, c, velocity):
    """Apply group element ``k`` in 0..7 (bit 0: flip x, bit 1: flip y, bit 2: transpose)."""
    if k & 1:
        c, velocity = flip_x(c, velocity)
    if k & 2:
        c, velocity = flip_y(c, velocity)
    if k & 4:
        c, velocity = transpose(c, velocity)
    return c, velocity


def d4_inverse(k: int, c):
    """Undo element ``k`` on a concentration (cell-centred field) ``(..., y, x)``."""
    if k & 4:
        c = jnp.swapaxes(c, -1, -2)
    if k & 2:
        c = jnp.flip(c, -2)
    if k & 1:
        c = jnp.flip(c, -1)
    return c


def d4_orbit(c, velocity):
    """All eight images, stacked along a new leading axis."""
    images = [d4_element(k, c, velocity) for k in range(8)]
    return jnp.stack([i[0] for i in images]), tuple(jnp.stack([i[1][a] for i in images]) for a in range(2))
