"""Periodic uniform finite-volume grids and exact (conservative) coarse-graining.

Conventions (see docs/design.md):

* arrays are ``(x,)`` in 1-D and ``(y, x)`` in 2-D; every function here works on the *trailing*
  ``ndim`` axes, so leading batch/time axes pass through untouched;
* concentration is a cell average; ``velocity[a]`` is the normal velocity on the **+ face** of each
  cell along array axis ``a`` (Arakawa C-grid).  In 2-D, ``velocity = (y_velocity, x_velocity)``,
  ordered like the array axes, and ``spacing = (dy, dx)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float


@dataclasses.dataclass(frozen=True)
class Grid:
    """A periodic, uniform, cell-centred grid.

    ``shape`` and ``length`` are ordered like the array axes: ``(nx,)`` in 1-D, ``(ny, nx)`` in 2-D.
    The domain along axis ``a`` spans ``[origin[a], origin[a] + length[a])``.

    Parameters
    ----------
    shape : tuple of int
        Number of cells per axis, ``(nx,)`` or ``(ny, nx)``; each at least 1.
    length : tuple of float
        Domain length per axis, same order as ``shape``; each positive and finite.
    origin : tuple of float, optional
        Coordinate of the lower domain edge per axis; ``None`` (default) is all zeros.

    Raises
    ------
    ValueError
        If the grid is not 1-D or 2-D, the lengths do not match the axes, or a size or length is not positive.
    """

    shape: tuple[int, ...]
    length: tuple[float, ...]
    origin: tuple[float, ...] | None = None

    def __post_init__(self):
        shape = tuple(int(n) for n in self.shape)
        length = tuple(float(v) for v in self.length)
        if len(shape) not in (1, 2) or len(length) != len(shape):
            raise ValueError(f"a grid is 1-D or 2-D with one length per axis, got shape {shape} and length {length}")
        if any(n < 1 for n in shape) or any(not np.isfinite(v) or v <= 0 for v in length):
            raise ValueError(f"grid sizes and lengths must be positive, got shape {shape} and length {length}")
        origin = (0.0,) * len(shape) if self.origin is None else tuple(float(v) for v in self.origin)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "length", length)
        object.__setattr__(self, "origin", origin)

    @classmethod
    def square(cls, n: int, length: float, ndim: int = 2) -> "Grid":
        """A grid with the same number of cells and the same length along every axis.

        Parameters
        ----------
        n : int
            Cells per axis.
        length : float
            Domain length per axis.
        ndim : int, default 2
            Number of axes (1 or 2).
        """
        return cls((n,) * ndim, (length,) * ndim)

    @property
    def ndim(self) -> int:
        """Number of axes (1 or 2)."""
        return len(self.shape)

    @property
    def spacing(self) -> tuple[float, ...]:
        """Cell width per axis, ``length[a] / shape[a]``, ordered like the axes."""
        return tuple(length / n for length, n in zip(self.length, self.shape))

    def centres(self, axis: int) -> np.ndarray:
        """Cell-centre coordinates along ``axis`` (1-D numpy array, float64).

        Parameters
        ----------
        axis : int
            Array axis (0 is ``y`` in 2-D, ``x`` in 1-D).

        Returns
        -------
        numpy.ndarray
            Shape ``(shape[axis],)``.
        """
        d = self.spacing[axis]
        return self.origin[axis] + d * (np.arange(self.shape[axis]) + 0.5)

    def faces(self, axis: int) -> np.ndarray:
        """Coordinates of the + face of every cell along ``axis``.

        Parameters
        ----------
        axis : int
            Array axis (0 is ``y`` in 2-D, ``x`` in 1-D).

        Returns
        -------
        numpy.ndarray
            Shape ``(shape[axis],)``, float64.
        """
        d = self.spacing[axis]
        return self.origin[axis] + d * (np.arange(self.shape[axis]) + 1.0)

    def mesh(self) -> tuple[np.ndarray, ...]:
        """Cell-centre coordinates broadcast to the grid shape, ordered like the axes.

        Returns
        -------
        tuple of numpy.ndarray
            One array of shape ``shape`` per axis (``(y, x)`` in 2-D, ``indexing="ij"``).
        """
        return tuple(np.meshgrid(*(self.centres(a) for a in range(self.ndim)), indexing="ij"))

    def coarsen(self, factor: int) -> "Grid":
        """The same domain with ``factor`` times fewer cells per axis.

        Parameters
        ----------
        factor : int
            Positive integer that divides every entry of ``shape``.

        Raises
        ------
        ValueError
            If ``factor`` is not a positive integer or does not divide the grid shape.
        """
        _check_factor(self.shape, factor)
        return Grid(tuple(n // factor for n in self.shape), self.length, self.origin)

    def refine(self, factor: int) -> "Grid":
        """The same domain with ``factor`` times more cells per axis.

        Parameters
        ----------
        factor : int
            Positive integer refinement factor.
        """
        return Grid(tuple(n * factor for n in self.shape), self.length, self.origin)


def _check_factor(shape: Sequence[int], factor: int) -> None:
    if int(factor) != factor or factor < 1:
        raise ValueError(f"coarse-graining factor must be a positive integer, got {factor}")
    bad = [n for n in shape if n % factor]
    if bad:
        raise ValueError(f"grid shape {tuple(shape)} is not divisible by coarse-graining factor {factor}")


def coarsen_concentration(c: Float[Array, "*batch *space"], factor: int, ndim: int) -> Float[Array, "*batch *coarse"]:
    """Conservative block mean over the trailing ``ndim`` axes.

    Parameters
    ----------
    c : array
        Cell averages, ``(..., x)`` in 1-D or ``(..., y, x)`` in 2-D; leading axes pass through.
    factor : int
        Positive integer that divides every spatial size; 1 returns ``c`` unchanged.
    ndim : int
        Number of trailing spatial axes (1 or 2).

    Returns
    -------
    array
        Shape ``(..., x / factor)`` or ``(..., y / factor, x / factor)``.
    """
    if factor == 1:
        return c
    space = c.shape[c.ndim - ndim :]
    _check_factor(space, factor)
    lead = c.shape[: c.ndim - ndim]
    blocked = c.reshape(lead + sum(((n // factor, factor) for n in space), ()))
    axes = tuple(len(lead) + 2 * k + 1 for k in range(ndim))
    return blocked.mean(axis=axes)


def coarsen_velocity(
    velocity: Sequence[Float[Array, "*batch *space"]], factor: int
) -> tuple[Float[Array, "*batch *coarse"], ...]:
    """Coarse face velocities: mean of the fine face values along each coarse face.

    ``velocity[a]`` lives on the + faces along axis ``a``.  The coarse + face of coarse cell ``I`` is the
    fine + face of fine cell ``f*I + f - 1``; along the other axes the ``f`` fine faces that make up the
    coarse face are averaged.  For velocities built from a corner streamfunction this equals subsampling
    the streamfunction at every ``f``-th corner, so the coarse field is exactly divergence-free too.

    Parameters
    ----------
    velocity : sequence of array
        Face velocities ordered like the array axes (``(u,)`` in 1-D, ``(v, u)`` in 2-D), each
        ``(..., *space)``; the number of entries is the number of spatial axes.
    factor : int
        Positive integer that divides every spatial size; 1 returns the velocities unchanged.

    Returns
    -------
    tuple of array
        Coarse face velocities, same order, each ``(..., *space / factor)``.
    """
    ndim = len(velocity)
    if factor == 1:
        return tuple(velocity)
    out = []
    for a, u in enumerate(velocity):
        space = u.shape[u.ndim - ndim :]
        _check_factor(space, factor)
        ax = u.ndim - ndim + a
        u = jnp.take(u, jnp.arange(factor - 1, u.shape[ax], factor), axis=ax)
        lead = u.shape[: u.ndim - ndim]
        sizes = u.shape[u.ndim - ndim :]
        shape = list(lead)
        mean_axes = []
        for k, n in enumerate(sizes):
            if k == a:
                shape.append(n)
            else:
                shape += [n // factor, factor]
                mean_axes.append(len(shape) - 1)
        out.append(u.reshape(shape).mean(axis=tuple(mean_axes)) if mean_axes else u.reshape(shape))
    return tuple(out)


def divergence(
    velocity: Sequence[Float[Array, "*batch *space"]], spacing: Sequence[float]
) -> Float[Array, "*batch *space"]:
    """Discrete (finite-volume) divergence of C-grid face velocities.

    Parameters
    ----------
    velocity : sequence of array
        Face velocities ordered like the array axes, each ``(..., *space)``.
    spacing : sequence of float
        Cell width per axis, same order (``(dy, dx)`` in 2-D).

    Returns
    -------
    array
        Cell-centred divergence, ``(..., *space)``.
    """
    ndim = len(velocity)
    total = 0.0
    for a, (u, d) in enumerate(zip(velocity, spacing)):
        ax = u.ndim - ndim + a
        total = total + (u - jnp.roll(u, 1, axis=ax)) / d
    return total


def max_courant(velocity: Sequence[Float[Array, "..."]], dt: float, spacing: Sequence[float]) -> float:
    """The largest Courant number ``|u_a| dt / dx_a`` over every axis, face (and time) of ``velocity``.

    A Python float, computed from the arrays' own values (numpy; not traceable).

    Parameters
    ----------
    velocity : sequence of array
        Face velocities ordered like the array axes; any leading (e.g. time) axes are included.
    dt : float
        Time step.
    spacing : sequence of float
        Cell width per axis, same order as ``velocity``.
    """
    return float(max(float(np.max(np.abs(np.asarray(u)))) * dt / d for u, d in zip(velocity, spacing)))


def deformation_number(velocity: Sequence[Float[Array, "..."]], dt: float, spacing: Sequence[float]) -> float:
    """The largest deformation number ``|u_a[i+1/2] - u_a[i-1/2]| dt / dx_a`` over every axis, cell (and time).

    How far one step stretches or squeezes a cell along an axis (periodic differences along the axis); a
    flux-form semi-Lagrangian step's departure regions stay ordered only while it is below 1.  A Python
    float, computed from the arrays' own values (numpy; not traceable).

    Parameters
    ----------
    velocity : sequence of array
        Face velocities ordered like the array axes, the spatial axes last; any leading (e.g. time) axes are
        included.
    dt : float
        Time step.
    spacing : sequence of float
        Cell width per axis, same order as ``velocity``.

    Returns
    -------
    float
    """
    nd = len(spacing)
    out = 0.0
    for a, (u, d) in enumerate(zip(velocity, spacing)):
        u = np.asarray(u, np.float64)
        axis = u.ndim - nd + a
        out = max(out, float(np.max(np.abs(u - np.roll(u, 1, axis=axis)), initial=0.0)) * dt / d)
    return out


def dt_from_cfl(max_speed: float | Sequence[float], spacing: Sequence[float], cfl: float = 0.5) -> float:
    """Time step with the given Courant number: ``cfl * min_a(dx_a / max|u_a|)``.

    ``max_speed`` is one speed for all axes or one per axis.  Any positive ``cfl``: which Courant numbers a
    scheme supports is the scheme's business (the classical ones take up to 4 on their large-step path).

    Parameters
    ----------
    max_speed : float or sequence of float
        Largest speed ``max|u|``, one for all axes or one per axis ordered like ``spacing``.
    spacing : sequence of float
        Cell width per axis (``(dy, dx)`` in 2-D).
    cfl : float, default 0.5
        Target Courant number; positive and finite.

    Returns
    -------
    float
        The time step; axes with zero speed are ignored.

    Raises
    ------
    ValueError
        If ``cfl`` is not positive and finite, or every speed is zero.
    """
    speeds = [float(max_speed)] * len(spacing) if np.ndim(max_speed) == 0 else [float(s) for s in max_speed]
    if not 0 < cfl < float("inf"):
        raise ValueError(f"Courant number must be positive and finite, got {cfl}")
    if all(s <= 0 for s in speeds):
        raise ValueError("velocity is zero everywhere: no time step follows from a Courant number")
    return cfl * min(d / s for d, s in zip(spacing, speeds) if s > 0)
