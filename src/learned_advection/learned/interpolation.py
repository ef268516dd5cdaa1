"""The network as face values: the paper's constrained stencil interpolation and the hybrid's correction.

Per face (the + face of every cell along every axis) the network outputs ``S - 1`` numbers ``z``;
the stencil coefficients are the affine map ``coeffs = c0 + N z`` where ``c0`` is the centred average
(1/2 on cells ``i`` and ``i+1`` across the face) and ``N`` an orthonormal basis (from an SVD) of the
null space of the constraint "coefficients sum to 1".  Hence the coefficients sum to 1 for any
network output (first-order accuracy), and a zero output gives the centred scheme
(:class:`NetworkInterpolation`; :class:`SweptNetworkInterpolation` on the flux-form semi-Lagrangian path).
:class:`NetworkCorrection` uses the null-space part alone (coefficients summing to 0): corrections to a
classical scheme's face values.

Stencils: ``stencil = (across,)`` in 1-D, ``(across, along)`` in 2-D.  ``across`` (even) cells across
the face: 2 -> cells ``i, i+1``; 4 -> ``i-1 .. i+2``.  ``along`` (odd) cells along each other axis,
centred on the face: 3 -> ``j-1, j, j+1``.  The paper's "3-point stencil" is ``(2,)`` in 1-D and
``(2, 3)`` in 2-D.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from learned_advection.learned.network import Network, periodic_windows
from learned_advection.numerics.ffsl import departure, upwind_shifted, whole_cells
from learned_advection.numerics.fluxform import close_walls, courant_numbers, extended_courant, with_previous_face
from learned_advection.numerics.interpolation import Interpolation
from learned_advection.numerics.time_stepping import Unsplit


def stencil_offsets(stencil: Sequence[int], ndim: int, axis: int) -> list[tuple[int, ...]]:
    """Cell offsets (one per array axis) of the stencil for the + face along ``axis``.

    The across offsets (along ``axis``) are ``1 - across/2 .. across/2`` (``0, 1`` for 2 cells); the
    along offsets on every other axis are ``-(along//2) .. along//2``.  Ordered across-major.
    """
    across = stencil[0]
    along = stencil[1] if ndim > 1 else 1
    per_axis = []
    for b in range(ndim):
        if b == axis:
            per_axis.append(range(1 - across // 2, across // 2 + 1))
        else:
            per_axis.append(range(-(along // 2), along // 2 + 1))
    # itertools.product over axes in array order, then reorder so the across axis varies slowest.
    order = [axis] + [b for b in range(ndim) if b != axis]
    offsets = []
    for combo in itertools.product(*(per_axis[b] for b in order)):
        off = [0] * ndim
        for b, o in zip(order, combo):
            off[b] = o
        offsets.append(tuple(off))
    return offsets


@functools.cache
def constraint_basis(stencil: tuple[int, ...], ndim: int) -> tuple[np.ndarray, np.ndarray]:
    """``(c0, N)``: centred coefficients ``(S,)`` and an orthonormal null-space basis ``(S, S-1)``.

    Every ``c0 + N z`` sums to 1.  ``N`` comes from the SVD of the constraint matrix ``1^T`` (1 x S).
    The basis is the same for every axis (offsets are listed in the same across/along order).
    """
    offsets = stencil_offsets(stencil, ndim, 0)
    size = len(offsets)
    c0 = np.zeros(size)
    for k, off in enumerate(offsets):
        if all(o == 0 for o in off[1:]) and off[0] in (0, 1):
            c0[k] = 0.5
    constraint = np.ones((1, size))
    _, _, vt = np.linalg.svd(constraint)
    null = vt[1:].T  # (S, S-1), orthonormal columns, each orthogonal to the ones vector
    return c0, null


def constrained_coefficients(
    z: Float[Array, "m *space"], stencil: tuple[int, ...], ndim: int
) -> Float[Array, "s *space"]:
    """Map unconstrained outputs ``z`` (``S-1`` per face) to coefficients ``c0 + N z`` summing to 1."""
    c0, null = constraint_basis(tuple(stencil), ndim)
    c0 = jnp.asarray(c0, z.dtype).reshape((-1,) + (1,) * (z.ndim - 1))
    return c0 + jnp.tensordot(jnp.asarray(null, z.dtype), z, axes=1)


def stencil_values(c: Float[Array, "*space"], stencil: tuple[int, ...], axis: int) -> Float[Array, "s *space"]:
    """Stacked stencil values (:func:`stencil_offsets` order) for the + face along ``axis`` of every cell (periodic)."""
    return jnp.stack(periodic_windows(c, stencil_offsets(stencil, c.ndim, axis)))


def stencil_halo(stencil: Sequence[int], ndim: int) -> int:
    """Ghost cells per side that the stencils of faces ``-1/2 .. n - 1/2`` read (and the network's outputs of
    cell ``-1``, the owner of face ``-1/2``, need): at least 1."""
    along = stencil[1] // 2 if ndim > 1 else 0
    return max(1, stencil[0] // 2, along)


def regional_stencil_sums(
    weights: Sequence[Array], padded: Array, stencil: Sequence[int], axis: int, halo: int
) -> Array:
    """``sum_s weights[s] * c[i + offset_s]`` on the faces ``i + 1/2``, ``i = -1 .. n - 1`` along ``axis`` (every
    cell along the other axis) from ``padded`` (``c`` with ``halo`` ghost cells on every side); ``weights[s]``
    shaped like those faces."""
    n = tuple(s - 2 * halo for s in padded.shape)
    size = tuple(m + (b == axis) for b, m in enumerate(n))
    total = None
    for w, off in zip(weights, stencil_offsets(stencil, padded.ndim, axis)):
        start = tuple(halo + o - (b == axis) for b, o in enumerate(off))
        term = w * jax.lax.slice(padded, start, tuple(s + m for s, m in zip(start, size)))
        total = term if total is None else total + term
    return total


def _face_outputs(z: Array, halo: int, shape: Sequence[int], axis: int) -> Array:
    """The outputs ``z`` of cells ``-halo .. n - 1 + halo`` cut to the owners of faces ``-1/2 .. n - 1/2`` along
    ``axis``: cells ``-1 .. n - 1`` along it, ``0 .. n - 1`` along the others."""
    start = (0,) + tuple(halo - (b == axis) for b in range(len(shape)))
    size = (z.shape[0],) + tuple(m + (b == axis) for b, m in enumerate(shape))
    return jax.lax.slice(z, start, tuple(s + m for s, m in zip(start, size)))


class NetworkInterpolation(Interpolation):
    """Face values from the network's constrained stencil coefficients (the paper's learned interpolation).

    Its ``max_courant`` is the model's (``ModelConfig.max_courant``: the reach of a limiter's bounds);
    its reach is unknown (the network's receptive field and the min-max rescaling).

    Attributes
    ----------
    network
        The CNN (its outputs: ``S - 1`` per face and axis).
    outflow
        The ghost cells beyond an outflow side on a regional domain
        (:func:`~learned_advection.learned.network.pad_concentration`): ``"edge"`` (the edge cell repeated) or
        ``"extrapolated"`` (the classical schemes' polynomial extrapolation).
    """

    network: Network
    outflow: str = eqx.field(static=True, default="edge")

    @property
    def max_courant(self) -> int:
        return self.network.config.max_courant

    def coefficients(self, c, velocity, dt, spacing) -> tuple[Float[Array, "s *space"], ...]:
        """Per axis, the stencil coefficients ``(S, *space)`` of every + face (each set sums to 1)."""
        cfg = self.network.config
        z = self.network(c, velocity, dt, spacing)
        m = cfg.stencil_size - 1
        return tuple(constrained_coefficients(z[a * m : (a + 1) * m], cfg.stencil, cfg.ndim) for a in range(cfg.ndim))

    def __call__(self, c, velocity, dt, spacing) -> tuple[Array, ...]:
        coeffs = self.coefficients(c, velocity, dt, spacing)
        cfg = self.network.config
        return tuple(jnp.sum(w * stencil_values(c, cfg.stencil, a), axis=0) for a, w in enumerate(coeffs))

    def regional(self, c, velocity, dt, spacing, conditions) -> tuple[Array, ...]:
        """Face values on faces ``-1/2 .. n - 1/2`` along every axis of a domain with the boundaries
        ``conditions`` (:meth:`~learned_advection.learned.network.Network.regional`: the network and the
        stencils read the ghost cells)."""
        cfg = self.network.config
        halo = stencil_halo(cfg.stencil, c.ndim)
        z, padded = self.network.regional(c, velocity, dt, spacing, conditions, halo, self.outflow)
        m = cfg.stencil_size - 1
        out = []
        for a in range(c.ndim):
            za = _face_outputs(z[a * m : (a + 1) * m], halo, c.shape, a)
            w = constrained_coefficients(za, cfg.stencil, cfg.ndim)
            out.append(regional_stencil_sums(list(w), padded, cfg.stencil, a, halo))
        return tuple(out)


class SweptNetworkInterpolation(NetworkInterpolation):
    """The learned stencil on the flux-form semi-Lagrangian path (``ModelConfig.large_step="ffsl"``).

    The face value is the mean of the volume swept through the face in one step (Lin & Rood 1996):
    ``floor(|C|)`` whole upwind cells, exactly, plus the fraction ``|C| - floor(|C|)`` of the next one, whose
    value is the learned stencil centred on that departure cell (its coefficients still sum to 1; the cells
    selected by :mod:`~learned_advection.numerics.ffsl`).  The flux ``C * value`` is then the FFSL flux, so a
    shift by a whole number of cells is exact for any weights; below Courant 1 it is the usual value.

    Attributes
    ----------
    network
        The CNN.
    """

    def __call__(self, c, velocity, dt, spacing) -> tuple[Array, ...]:
        coeffs = self.coefficients(c, velocity, dt, spacing)
        return tuple(self._swept_mean(c, w, velocity[a] * (dt / spacing[a]), a) for a, w in enumerate(coeffs))

    def regional(self, c, velocity, dt, spacing, conditions) -> tuple[Array, ...]:
        """Refused: the swept learned stencil has no boundary form."""
        raise ValueError("the learned stencil on the flux-form semi-Lagrangian path runs on periodic domains only")

    def _swept_mean(self, c, w, courant, axis):
        """The FFSL face value along ``axis``."""
        cfg = self.network.config
        most = cfg.max_courant
        positive, size, whole, frac = departure(courant, clamp=most)
        offsets = stencil_offsets(cfg.stencil, c.ndim, axis)
        centre = (0,) * c.ndim

        def along(off, m):  # the offset moved m cells along the axis
            return tuple(o + m if b == axis else o for b, o in enumerate(off))

        shifts = range(-most, most + 1)
        wanted = sorted({along(off, m) for off in offsets for m in shifts} | {along(centre, m) for m in shifts})
        at = dict(zip(wanted, periodic_windows(c, wanted)))
        # the stencil centred m = min(floor|C|, max_courant) cells upwind
        values = [upwind_shifted(lambda s, off=off: at[along(off, s)], positive, whole, most) for off in offsets]
        swept = whole_cells(lambda k: at[along(centre, k)], positive, whole, most, jnp.zeros_like(c))
        partial = jnp.sum(w * jnp.stack(values), axis=0)  # a reduction: the face values are computed once
        return jnp.where(whole >= 1, (swept + frac * partial) / jnp.where(whole >= 1, size, 1), partial)


class NetworkCorrection(Interpolation):
    """Learned corrections to a classical scheme's face values (``ModelConfig.base_scheme``).

    Per face the network's ``S - 1`` outputs ``z`` give coefficients ``N z`` (the null-space basis of
    :func:`constraint_basis`), which sum to 0; the correction is their sum against the stencil values of the
    raw concentration around the face.  So a constant field gets no correction (the base scheme keeps it),
    the scheme stays semi-linear (the network sees the rescaled field), the flux form keeps mass, and a zero
    output is the base scheme itself (:class:`~learned_advection.numerics.corrected.Corrected`).

    Attributes
    ----------
    network
        The CNN (its outputs: ``S - 1`` per face and axis).
    outflow
        The ghost cells beyond an outflow side on a regional domain, as for :class:`NetworkInterpolation`.
    """

    network: Network
    outflow: str = eqx.field(static=True, default="edge")

    def coefficients(self, c, velocity, dt, spacing) -> tuple[Float[Array, "s *space"], ...]:
        """Per axis, the correction coefficients ``(S, *space)`` of every + face (each set sums to 0)."""
        cfg = self.network.config
        z = self.network(c, velocity, dt, spacing)
        m = cfg.stencil_size - 1
        _, null = constraint_basis(tuple(cfg.stencil), cfg.ndim)
        null = jnp.asarray(null, z.dtype)
        return tuple(jnp.tensordot(null, z[a * m : (a + 1) * m], axes=1) for a in range(cfg.ndim))

    def __call__(self, c, velocity, dt, spacing) -> tuple[Array, ...]:
        return self._corrections(c, velocity, dt, spacing, extended=False)

    def extended(self, c, velocity, dt, spacing) -> tuple[Array, ...]:
        """:meth:`__call__` on faces ``-1/2 .. n - 1/2`` along each axis, from slices of one padded copy of ``c``."""
        return self._corrections(c, velocity, dt, spacing, extended=True)

    def regional(self, c, velocity, dt, spacing, conditions) -> tuple[Array, ...]:
        """The corrections on faces ``-1/2 .. n - 1/2`` along every axis of a domain with the boundaries
        ``conditions`` (:meth:`~learned_advection.learned.network.Network.regional`: the network and the
        stencils read the ghost cells; a constant field, ghost cells included, gets none)."""
        cfg = self.network.config
        halo = stencil_halo(cfg.stencil, c.ndim)
        z, padded = self.network.regional(c, velocity, dt, spacing, conditions, halo, self.outflow)
        m = cfg.stencil_size - 1
        _, null = constraint_basis(tuple(cfg.stencil), cfg.ndim)
        null = jnp.asarray(null, z.dtype)
        out = []
        for a in range(c.ndim):
            za = _face_outputs(z[a * m : (a + 1) * m], halo, c.shape, a)
            w = jnp.tensordot(null, za, axes=1)
            out.append(regional_stencil_sums(list(w), padded, cfg.stencil, a, halo))
        return tuple(out)

    def _corrections(self, c, velocity, dt, spacing, extended: bool) -> tuple[Array, ...]:
        """``sum_s (N z)_s c_s = sum_j z_j (N^T c)_j``: the stencil values projected on the basis with constant
        factors, one fused loop per axis instead of two small matrix products (same numbers to round-off)."""
        cfg = self.network.config
        z = self.network(c, velocity, dt, spacing)
        m = cfg.stencil_size - 1
        _, null = constraint_basis(tuple(cfg.stencil), cfg.ndim)
        out = []
        for a in range(cfg.ndim):
            offsets = stencil_offsets(cfg.stencil, c.ndim, a)
            za = z[a * m : (a + 1) * m]
            if extended:  # cell i + offset of face i + 1/2 for i = -1 .. n - 1 along a
                shifted = [tuple(o - (b == a) for b, o in enumerate(off)) for off in offsets]
                values = periodic_windows(c, shifted, size=tuple(n + (b == a) for b, n in enumerate(c.shape)))
                za = with_previous_face(za, a + 1)
            else:
                values = periodic_windows(c, offsets)
            total = jnp.zeros_like(values[0])
            for j in range(m):
                total = total + za[j] * sum(float(null[s, j]) * v for s, v in enumerate(values))
            out.append(total)
        return tuple(out)


class NetworkUnsplit(Unsplit):
    """:class:`~learned_advection.numerics.time_stepping.Unsplit` steps over the network's face values
    (:class:`NetworkInterpolation`), with a boundary form: the same step on a regional domain, the network and
    its stencils reading the ghost cells (:meth:`NetworkInterpolation.regional`)."""

    def regional_fluxes(self, c, velocity, dt, spacing, conditions) -> tuple[Array, ...]:
        """The fluxes (Courant units) on faces ``-1/2 .. n - 1/2`` of every axis; nothing crosses a wall."""
        courant = extended_courant(courant_numbers(velocity, dt, spacing), conditions)
        faces = self.interpolation.regional(c, velocity, dt, spacing, conditions)
        return close_walls(tuple(cr * f for cr, f in zip(courant, faces)), conditions)
