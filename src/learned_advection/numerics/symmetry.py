"""Exact D4 symmetries (rotations by 90 degrees and reflections) of 2-D C-grid fields.

A symmetry acts on a concentration ``(..., y, x)`` and on its face velocities ``(y_velocity,
x_velocity)`` together.  Reflection ``x -> -x`` maps cell ``i`` to ``N-1-i``; the + x-face of cell
``i`` becomes the face between ``N-1-i`` and ``N-2-i`` (the + face of cell ``N-2-i``) and its velocity
changes sign; y-face velocities are only reordered.  Transposition swaps the roles of x and y faces.
All eight elements are compositions of these, so advection commutes with every one of them exactly.
:class:`D4Average` averages any 2-D stepper over the group, which makes it exactly D4-equivariant.
"""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp

from learned_advection.numerics.steppers import Wrapper


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


class D4Average(Wrapper):
    """The average of ``stepper`` over the 8 rotations/reflections of the square (2-D, square cells; 8x the cost)."""

    suffix: ClassVar[str] = "d4"

    @property
    def reach(self) -> int | None:
        inner = self.stepper.reach
        return None if inner is None else inner + 1  # reflected face velocities move by one cell

    def __call__(self, c, velocity, dt, spacing):
        if c.ndim != 2:
            raise ValueError(f"D4 averaging needs a 2-D concentration, got shape {c.shape}")
        if abs(spacing[0] - spacing[1]) > 1e-9 * abs(spacing[0]):
            raise ValueError(f"symmetry 'd4' needs square cells, got spacing {tuple(spacing)}")
        images = [self.stepper(*d4_element(k, c, tuple(velocity)), dt, spacing) for k in range(8)]
        return sum(d4_inverse(k, x) for k, x in enumerate(images)) / 8
