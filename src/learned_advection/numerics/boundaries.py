"""Boundary conditions of a regional (non-periodic) domain: which side does what, and its ghost cells.

Along a non-periodic axis of ``n`` cells the face velocity has ``n + 1`` entries (C-grid: faces
``-1/2 .. n - 1/2``, the boundary faces first and last); along a periodic axis it has ``n`` (the + face of
every cell), as everywhere else in the package.  Each side of a non-periodic axis is

* :class:`Wall` -- no flux: the face velocity on it must be zero (:func:`check_velocity` refuses a run
  otherwise, and the flux there is zero whatever it is);
* :class:`Open` -- where the face velocity points into the domain (inflow) the tracer enters with the
  side's boundary value (:class:`BoundaryValue`: a constant, a profile along the side, or values at
  their own times interpolated linearly, or any traceable function of time); where it points out
  (outflow) the tracer leaves with the upwind value, and nothing is reflected.

The schemes see a side through its *ghost cells* (:meth:`BoundaryConditions.pad`), the cells beyond it
that their stencils read:

* inflow: ghost cell ``k`` (``k = 1, 2, ...`` cells out) holds the fluid that crosses the boundary face
  between ``(k - 1) / C`` and ``k / C`` steps later (``C``: the face Courant number), i.e. the mean of the
  boundary value over those times (three-point Gauss-Legendre): a constant inflow is exact, and a
  time-dependent one is to the order of the scheme, as the characteristic of the outside flow carries it;
* outflow: the cell averages of the degree-4 polynomial through the averages of the ``5`` nearest
  cells (fewer on a short axis), so that the upwind stencil keeps its order; the value only ever leaves;
* wall: the interior mirrored (``c[-k] = c[k - 1]``).

The corner ghost cells of a 2-D domain are filled along ``x`` from the ``y``-padded rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

EXTRAPOLATION_DEGREE = 4
"""Degree of the polynomial that fills an outflow side's ghost cells (enough for WENO5-Z's fifth order)."""

_GAUSS = ((0.5 - np.sqrt(15.0) / 10.0, 5.0 / 18.0), (0.5, 8.0 / 18.0), (0.5 + np.sqrt(15.0) / 10.0, 5.0 / 18.0))
"""Three-point Gauss-Legendre nodes and weights on [0, 1] (exact for polynomials of degree 5)."""


# --------------------------------------------------------------------------- boundary values
class BoundaryValue(eqx.Module):
    """The concentration at an open side, as a function of time, per boundary cell.

    ``values`` with ``times=None`` is constant (a scalar, or a profile along the side); with ``times`` (1-D,
    increasing) ``values[i]`` (a scalar or a profile) holds at ``times[i]``, linearly interpolated between and
    held beyond the ends; ``function`` (instead) is any jax-traceable ``t -> value`` (elementwise in ``t``).
    """

    values: Array | None = None
    times: Array | None = None
    function: Callable[[Array], Array] | None = eqx.field(static=True, default=None)

    def __call__(self, t: Array) -> Array:
        """The value of every boundary cell at its own time ``t`` (shape ``(m,)``: the cells along the side)."""
        if self.function is not None:
            return jnp.broadcast_to(jnp.asarray(self.function(t)), t.shape)
        values = jnp.asarray(0.0 if self.values is None else self.values)
        if self.times is None:
            return jnp.broadcast_to(values, t.shape)
        times = jnp.asarray(self.times, dtype=t.dtype)
        i = jnp.clip(jnp.searchsorted(times, t, side="right") - 1, 0, times.shape[0] - 2)
        w = jnp.clip((t - times[i]) / (times[i + 1] - times[i]), 0.0, 1.0)
        if values.ndim == 1:
            v0, v1 = values[i], values[i + 1]
        else:  # a profile at every time: cell j at its own time
            cells = jnp.arange(t.shape[-1])
            v0, v1 = values[i, cells], values[i + 1, cells]
        return v0 + w * (v1 - v0)  # exactly v0 where the value does not change

    def mean(self, start: Array, end: Array) -> Array:
        """The mean of every boundary cell's value over its ``[start, end]`` (three-point Gauss-Legendre, written
        about the middle node so that a value constant over the interval is its mean exactly)."""
        if self.function is None and self.times is None:
            return self(start)
        (a, wa), (m, _), (b, wb) = _GAUSS
        middle = self(start + m * (end - start))
        return middle + (
            wa * (self(start + a * (end - start)) - middle) + wb * (self(start + b * (end - start)) - middle)
        )


def boundary_value(value: Any) -> BoundaryValue:
    """A :class:`BoundaryValue` from a number or array (constant), a ``(times, values)`` pair, a function of
    time, or a :class:`BoundaryValue`."""
    if isinstance(value, BoundaryValue):
        return value
    if callable(value):
        return BoundaryValue(function=value)
    if isinstance(value, tuple) and len(value) == 2:
        times, values = (np.asarray(v) for v in value)
        if times.ndim != 1 or times.shape[0] < 2 or values.shape[:1] != times.shape:
            raise ValueError(
                f"boundary values at times need 1-D times (at least two) and values with them first, got "
                f"shapes {times.shape} and {values.shape}"
            )
        if not np.all(np.diff(times) > 0):
            raise ValueError("boundary value times must be increasing")
        return BoundaryValue(jnp.asarray(values), jnp.asarray(times))
    return BoundaryValue(jnp.asarray(value))


# --------------------------------------------------------------------------- sides
class Side(eqx.Module):
    """One side of a non-periodic axis."""

    kind: str = eqx.field(static=True, default="")


class Wall(Side):
    """No flux through the side (zero normal face velocity)."""

    kind: str = eqx.field(static=True, default="wall")


class Open(Side):
    """Inflow with ``value`` where the flow enters, upwind outflow where it leaves (``value``: anything
    :func:`boundary_value` takes; default 0, clean air)."""

    value: BoundaryValue = eqx.field(default_factory=BoundaryValue)
    kind: str = eqx.field(static=True, default="open")

    def __init__(self, value: Any = 0.0):
        self.value = boundary_value(value)
        self.kind = "open"


def _side(value) -> Side:
    if isinstance(value, Side):
        return value
    if value == "wall":
        return Wall()
    if value == "open":
        return Open()
    raise ValueError(f"a side is Wall(), Open(value), 'wall' or 'open', got {value!r}")


def _axis(value) -> tuple[Side, Side] | None:
    if value is None or (isinstance(value, str) and value == "periodic"):
        return None
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"an axis takes one side for both ends or (low, high), got {value!r}")
        return _side(value[0]), _side(value[1])
    side = _side(value)
    return side, side


class Boundaries(eqx.Module):
    """The boundary conditions of every axis of a domain: ``None`` (periodic) or ``(low, high)`` sides per
    array axis (``(x,)`` in 1-D, ``(y, x)`` in 2-D).

    Build one with :func:`boundaries`: ``boundaries(x=(Open(1.0), Open()), y=Wall())`` is a channel with a
    clean-air outflow on the right, inflow of 1 on the left and walls top and bottom.
    """

    axes: tuple[tuple[Side, Side] | None, ...]

    @property
    def ndim(self) -> int:
        return len(self.axes)

    @property
    def periodic(self) -> bool:
        """Every axis periodic (the ordinary domain)."""
        return all(a is None for a in self.axes)

    def faces(self, shape: Sequence[int]) -> tuple[tuple[int, ...], ...]:
        """The face-velocity shape along every axis of a domain of cells ``shape``."""
        out = []
        for a, sides in enumerate(self.axes):
            s = list(shape)
            s[a] += 0 if sides is None else 1
            out.append(tuple(s))
        return tuple(out)

    def at(self, t, dt) -> BoundaryConditions:
        """The conditions of a step from time ``t`` to ``t + dt``."""
        return BoundaryConditions(self, jnp.asarray(t), jnp.asarray(dt))


def boundaries(ndim: int | None = None, *, x="periodic", y="periodic") -> Boundaries:
    """:class:`Boundaries` of a 1-D (``x``) or 2-D (``y`` and ``x``) domain.

    Each of ``x``, ``y`` is ``"periodic"``, a side for both ends (:class:`Wall`, :class:`Open`, ``"wall"``,
    ``"open"``) or a pair ``(low, high)`` of them.  ``ndim`` (default: 2 when ``y`` is given, else 1).
    """
    ndim = (1 if isinstance(y, str) and y == "periodic" else 2) if ndim is None else ndim
    if ndim not in (1, 2):
        raise ValueError(f"a domain is 1-D or 2-D, got ndim={ndim}")
    if ndim == 1:
        if not (isinstance(y, str) and y == "periodic"):
            raise ValueError("a 1-D domain has no y boundaries")
        return Boundaries((_axis(x),))
    return Boundaries((_axis(y), _axis(x)))


PERIODIC_1D = Boundaries((None,))
PERIODIC_2D = Boundaries((None, None))


def check_values(bounds: Boundaries, shape: Sequence[int]) -> None:
    """Refuse an open side's values of a shape that is not a scalar or a profile along the side (at each of its
    times, when it has them)."""
    names = ("x",) if len(shape) == 1 else ("y", "x")
    for a, sides in enumerate(bounds.axes):
        if sides is None:
            continue
        along = () if len(shape) == 1 else (shape[1 - a],)
        for end, side in zip(("low", "high"), sides):
            value = getattr(side, "value", None)
            if value is None or value.function is not None or value.values is None:
                continue
            got = tuple(np.shape(value.values))[0 if value.times is None else 1 :]
            if got not in ((), along):
                raise ValueError(
                    f"the values of the {end} {names[a]} side have shape {got}{' at each time' if value.times is not None else ''}, "
                    f"need () or {along} (the cells along the side)"
                )


def check_velocity(bounds: Boundaries, shape: Sequence[int], velocity: Sequence[Array]) -> None:
    """Refuse face velocities of the wrong shape for the domain (``n + 1`` faces along a non-periodic axis),
    or a non-zero normal velocity on a wall (concrete values only)."""
    expected = bounds.faces(shape)
    if len(velocity) != len(expected):
        raise ValueError(f"need {len(expected)} velocity components, got {len(velocity)}")
    names = ("x",) if len(shape) == 1 else ("y", "x")
    for a, (u, want) in enumerate(zip(velocity, expected)):
        got = tuple(np.shape(u))[-len(shape) :]
        if got != want:
            raise ValueError(
                f"the {names[a]} face velocity has shape {got}, need {want} "
                f"({'n + 1 faces along a non-periodic axis' if bounds.axes[a] else 'n faces along a periodic axis'})"
            )
        sides = bounds.axes[a]
        if sides is None or isinstance(u, jax.core.Tracer):  # traced: the flux on a wall is zero whatever u is
            continue
        values = np.asarray(u)
        for end, side in zip((0, want[a] - 1), sides):
            if side.kind == "wall":
                on = np.take(values, end, axis=values.ndim - len(shape) + a)
                if np.any(on != 0):
                    raise ValueError(
                        f"the {names[a]} face velocity on the {('low', 'high')[end > 0]} {names[a]} wall must be zero, "
                        f"got up to {float(np.max(np.abs(on))):.3g}"
                    )


# --------------------------------------------------------------------------- ghost cells
def _extrapolation_weights(points: int, ghosts: int) -> np.ndarray:
    """``w[k - 1, j]``: ghost cell ``-k``'s average from the averages of cells ``0 .. points - 1`` (exact for
    polynomials of degree ``points - 1``), unit cells ``[j, j + 1]``."""
    deg = points

    def integral(a, b, m):
        return (Fraction(b) ** (m + 1) - Fraction(a) ** (m + 1)) / (m + 1)

    a = np.array([[float(integral(j, j + 1, m)) for m in range(deg)] for j in range(points)])
    g = np.array([[float(integral(-k, -k + 1, m)) for m in range(deg)] for k in range(1, ghosts + 1)])
    return g @ np.linalg.inv(a)


def _take(x: Array, start: int, size: int, axis: int) -> Array:
    idx = [slice(None)] * x.ndim
    idx[axis] = slice(start, start + size)
    return x[tuple(idx)]


class BoundaryConditions(NamedTuple):
    """The boundaries of one step from ``t`` to ``t + dt`` (:meth:`Boundaries.at`): what fills ghost cells."""

    bounds: Boundaries
    t: Array
    dt: Array

    def periodic_axis(self, axis: int) -> bool:
        """Whether ``axis`` is periodic."""
        return self.bounds.axes[axis] is None

    def pad(
        self, field: Array, halo: int, axis: int, courant: Array, offset: float = 0.0, other: int = 0, fill=None
    ) -> Array:
        """``field`` with ``halo`` ghost cells on both sides of ``axis``.

        ``courant``: the face Courant numbers along ``axis`` on faces ``-1/2 .. n - 1/2`` (``n + 1``), shaped
        like ``field`` but for ``axis``; ``offset``: the time of ``field`` in steps after ``t`` (a Runge-Kutta
        stage); ``other``: the ghost cells ``field`` already has along the other axis of a 2-D domain (the
        side's inflow values are computed on the side's own cells and extended to them: wrapped where that
        axis is periodic, else the edge value repeated); ``fill``: a value for every ghost cell but the inflow
        ones (walls and outflow; what a range over the ghost cells should not see).
        """
        sides = self.bounds.axes[axis]
        if sides is None:
            widths = [(0, 0)] * field.ndim
            widths[axis] = (halo, halo)
            return jnp.pad(field, widths, mode="wrap")
        low = self._ghosts(field, halo, axis, courant, offset, other, sides[0], False, fill)
        flipped, flipped_courant = jnp.flip(field, axis), jnp.flip(courant, axis)
        high = self._ghosts(flipped, halo, axis, flipped_courant, offset, other, sides[1], True, fill)
        return jnp.concatenate([jnp.flip(low, axis), field, high], axis=axis)

    def _ghosts(self, field, halo, axis, courant, offset, other, side: Side, high: bool, fill=None) -> Array:
        """Ghost cells ``1 .. halo`` beyond the low end of ``field`` along ``axis`` (``field`` and ``courant``
        flipped for the high end), nearest first."""
        n = field.shape[axis]
        ghost_shape = list(field.shape)
        ghost_shape[axis] = halo
        if fill is not None and side.kind == "wall":
            return jnp.full(ghost_shape, fill, field.dtype)
        if side.kind == "wall":
            reach = min(halo, n)
            mirror = _take(field, 0, reach, axis)
            if reach < halo:  # an axis shorter than the halo: the far ghosts repeat the last one
                mirror = jnp.concatenate([mirror] + [_take(mirror, reach - 1, 1, axis)] * (halo - reach), axis=axis)
            return mirror
        # outflow: polynomial extrapolation of the nearest cells (the far ghosts repeat the edge cell)
        points = min(EXTRAPOLATION_DEGREE + 1, n)
        near = min(halo, 3)
        w = _extrapolation_weights(points, near)
        cells = [_take(field, j, 1, axis) for j in range(points)]
        ghosts = [sum(float(w[k, j]) * cells[j] for j in range(points)) for k in range(near)]
        outflow = jnp.concatenate(ghosts + [cells[0]] * (halo - near), axis=axis)
        if fill is not None:
            outflow = jnp.full(ghost_shape, fill, field.dtype)
        # inflow: the mean boundary value over the times the ghost cell's fluid crosses the boundary face
        cr = jnp.reshape(_take(courant, 0, 1, axis), (-1,))  # along the side (padded by `other`)
        inner = cr[other : cr.shape[0] - other]
        speed = (-inner if high else inner).astype(field.dtype)
        speed = jnp.where(speed > 0, speed, 1.0)
        dt = jnp.asarray(self.dt, field.dtype)
        t0 = jnp.asarray(self.t, field.dtype) + offset * dt
        line = jnp.stack(
            [side.value.mean(t0 + ((k - 1) / speed) * dt, t0 + (k / speed) * dt) for k in range(1, halo + 1)]
        ).astype(field.dtype)  # (halo, cells along the side)
        if other:
            mode = "wrap" if self.bounds.axes[1 - axis] is None else "edge"
            line = jnp.pad(line, ((0, 0), (other, other)), mode=mode)
        if field.ndim == 1:
            inflow = jnp.reshape(line, (halo,))
        else:
            inflow = line if axis == 0 else line.T
        entering = (_take(courant, 0, 1, axis) * (-1 if high else 1)) > 0
        return jnp.where(entering, inflow, outflow)
