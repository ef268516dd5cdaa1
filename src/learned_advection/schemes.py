"""Classical flux-form finite-volume advection schemes on periodic C-grids.

Every scheme -- classical here, learned in :mod:`learned_advection.models` -- is a callable with one
signature::

    step(c, velocity, dt, spacing) -> c_next

``c`` is ``(x,)`` or ``(y, x)``; ``velocity[a]`` is the + face velocity along array axis ``a`` (same
shape as ``c``); ``spacing[a]`` the cell size along axis ``a``.  Steppers are unbatched: batch with
``jax.vmap``.  All updates are in flux form, so mass is conserved to round-off by construction.

A classical scheme is a 1-D *reconstruction* (face value from cell averages and the face Courant
number, see :func:`upwind_faces`, :func:`vanleer_faces`, :func:`ppm_faces`) plus the flux-form update;
in 2-D the 1-D operators are combined with the symmetric Lin & Rood (1996) splitting
``C + T_y(C + A_x C / 2) + T_x(C + A_y C / 2)`` -- outer operators ``T`` in flux form (mass exact),
inner half-steps ``A`` in advective form (a constant field stays constant).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import jax.numpy as jnp
from jaxtyping import Array, Float

Reconstruction = Callable[[Array, Array, int], Array]


def _at(c: Array, k: int, axis: int) -> Array:
    """Value of cell ``i + k`` at position ``i`` (periodic)."""
    return jnp.roll(c, -k, axis=axis)


# --------------------------------------------------------------------------- reconstructions
def upwind_faces(c: Array, courant: Array, axis: int) -> Array:
    """First-order upwind: the face value is the upwind cell average."""
    return jnp.where(courant >= 0, c, _at(c, 1, axis))


def vanleer_slopes(c: Array, axis: int) -> Array:
    """Lin et al. (1994) monotonic slope: centred slope limited by twice the distance to the local min/max."""
    cm, cp = _at(c, -1, axis), _at(c, 1, axis)
    slope = 0.5 * (cp - cm)
    cmin = jnp.minimum(jnp.minimum(cm, c), cp)
    cmax = jnp.maximum(jnp.maximum(cm, c), cp)
    bound = jnp.minimum(jnp.abs(slope), 2.0 * jnp.minimum(c - cmin, cmax - c))
    return jnp.sign(slope) * bound


def vanleer_faces(c: Array, courant: Array, axis: int) -> Array:
    """Van Leer with the Lin et al. (1994) monotonic limiter (space-time, one step)."""
    d = vanleer_slopes(c, axis)
    from_left = c + 0.5 * (1.0 - courant) * d
    from_right = _at(c, 1, axis) - 0.5 * (1.0 + courant) * _at(d, 1, axis)
    return jnp.where(courant >= 0, from_left, from_right)


def ppm_edges(c: Array, axis: int) -> tuple[Array, Array]:
    """Left/right edge values of the Colella & Woodward (1984) parabola, with its monotone limiter."""
    cm, cp, cpp = _at(c, -1, axis), _at(c, 1, axis), _at(c, 2, axis)
    # 4th-order interface value at i+1/2, bounded by the two adjacent cell averages.
    edge = (7.0 / 12.0) * (c + cp) - (1.0 / 12.0) * (cm + cpp)
    edge = jnp.clip(edge, jnp.minimum(c, cp), jnp.maximum(c, cp))
    right = edge
    left = _at(edge, -1, axis)
    # Monotonicity: flatten at extrema, steepen the parabola so it has no interior extremum.
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
    l1, da1, a61 = _at(left, 1, axis), _at(da, 1, axis), _at(a6, 1, axis)
    from_right = l1 + 0.5 * nu * (da1 + (1.0 - 2.0 * nu / 3.0) * a61)
    return jnp.where(courant >= 0, from_left, from_right)


# --------------------------------------------------------------------------- flux-form operators
def flux_increment(c: Array, courant: Array, faces: Array, axis: int) -> Array:
    """``T c = -(F[i+1/2] - F[i-1/2])`` with ``F = courant * face value`` (flux form, mass exact)."""
    flux = courant * faces
    return -(flux - jnp.roll(flux, 1, axis=axis))


def advective_increment(c: Array, courant: Array, faces: Array, axis: int) -> Array:
    """``A c = T c + c (courant[i+1/2] - courant[i-1/2])``: advective form, keeps a constant constant."""
    return flux_increment(c, courant, faces, axis) + c * (courant - jnp.roll(courant, 1, axis=axis))


def courant_numbers(velocity: Sequence[Array], dt, spacing: Sequence[float]) -> tuple[Array, ...]:
    return tuple(u * (dt / d) for u, d in zip(velocity, spacing))


def lin_rood_step(
    reconstruct: Reconstruction, c: Array, velocity: Sequence[Array], dt, spacing, inner: str = "advective"
) -> Array:
    """One step of a 1-D reconstruction: flux form in 1-D, symmetric Lin & Rood (1996) in 2-D.

    ``inner="flux"`` uses flux-form inner half-steps as the paper's public code does; it is kept only
    to demonstrate (in the tests) why the advective inner form is the default: with it a constant field
    is not preserved in a non-uniform divergence-free flow.
    """
    cr = courant_numbers(velocity, dt, spacing)
    if c.ndim == 1:
        return c + flux_increment(c, cr[0], reconstruct(c, cr[0], 0), 0)
    if c.ndim != 2:
        raise ValueError(f"concentration must be 1-D (x,) or 2-D (y, x), got shape {c.shape}")
    inner_op = {"advective": advective_increment, "flux": flux_increment}[inner]

    def T(field, axis):
        return flux_increment(field, cr[axis], reconstruct(field, cr[axis], axis), axis)

    def A(field, axis):
        return inner_op(field, cr[axis], reconstruct(field, cr[axis], axis), axis)

    return c + T(c + 0.5 * A(c, 1), 0) + T(c + 0.5 * A(c, 0), 1)


@dataclasses.dataclass(frozen=True)
class ClassicalScheme:
    """A classical flux-form scheme: a named 1-D reconstruction and its formal order of accuracy."""

    name: str
    order: int
    reconstruct: Reconstruction
    description: str = ""

    def __call__(
        self,
        c: Float[Array, "*space"],
        velocity: Sequence[Float[Array, "*space"]],
        dt: float,
        spacing: Sequence[float],
    ) -> Float[Array, "*space"]:
        return lin_rood_step(self.reconstruct, c, velocity, dt, spacing)


UPWIND = ClassicalScheme("upwind", 1, upwind_faces, "first-order upwind")
VANLEER = ClassicalScheme("vanleer", 2, vanleer_faces, "Van Leer, Lin et al. (1994) monotonic limiter")
PPM = ClassicalScheme("ppm", 3, ppm_faces, "piecewise-parabolic method, Colella & Woodward (1984) monotone limiter")

SCHEMES: dict[str, ClassicalScheme] = {s.name: s for s in (UPWIND, VANLEER, PPM)}


def get_scheme(name: str) -> ClassicalScheme:
    try:
        return SCHEMES[name]
    except KeyError:
        raise ValueError(f"unknown scheme {name!r}; choose one of {', '.join(SCHEMES)}") from None
