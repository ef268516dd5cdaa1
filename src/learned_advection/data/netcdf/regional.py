"""Reading a regional domain from a problem file: the boundaries of each axis (global attributes
``x_boundary``, ``y_boundary``), the face velocities along non-periodic axes (``x_face``, ``y_face``), the
tracers' values at open sides and their emission sources (see
:mod:`~learned_advection.data.netcdf.conventions`), every value checked; each problem is a one-line
:class:`~learned_advection.errors.UserError`."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Sequence

import numpy as np

from learned_advection.data.netcdf.conventions import (
    BOUNDARY_ATTRS,
    BOUNDARY_TIME,
    FACE_DIMS,
    PERIODIC,
    SIDE_KINDS,
    SIDES,
    SOURCE_TIME,
    TRACER_DIM,
    VELOCITY_NAMES,
    boundary_variable,
    source_variable,
)
from learned_advection.data.netcdf.problem import SideValues, Sources, TracerVariable
from learned_advection.data.netcdf.times import RUN_TIME_UNITS, coordinate_times
from learned_advection.errors import UserError
from learned_advection.numerics.grids import Grid

_BOUNDARY_NAME = re.compile(r"^(.+)_([xy])_(low|high)$")
_SOURCE_NAME = re.compile(r"^(.+)_source$")


def _text(value) -> str | None:
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (str, np.str_)):
        return str(value)
    return None


def read_boundaries(ds, axes: Sequence[str], path) -> tuple[tuple[str, str] | None, ...]:
    """The boundaries of each axis from the global attributes ``x_boundary`` / ``y_boundary``: ``None``
    (periodic, the default) or the kinds ``(low, high)`` of its sides.

    Parameters
    ----------
    ds : xarray.Dataset
        The problem file.
    axes : sequence of str
        The grid's dims (``("x",)`` or ``("y", "x")``).
    path : path
        The file, for the messages.

    Returns
    -------
    tuple
        One entry per array axis.
    """
    for name, attr in BOUNDARY_ATTRS.items():
        if name not in axes and attr in ds.attrs:
            raise UserError(f"{path}: global attribute {attr!r} is given, but the grid has no {name} axis")
    out = []
    for name in axes:
        attr = BOUNDARY_ATTRS[name]
        if attr not in ds.attrs:
            out.append(None)
            continue
        raw = ds.attrs[attr]
        text = _text(raw)
        words = text.split() if text is not None else []
        if words == [PERIODIC]:
            out.append(None)
        elif len(words) in (1, 2) and all(w in SIDE_KINDS for w in words):
            out.append((words[0], words[-1]))
        else:
            raise UserError(
                f"{path}: global attribute {attr!r} is {raw!r}; it must be {PERIODIC}, wall, open or two of "
                "wall and open (LOW HIGH, e.g. 'open wall')"
            )
    return tuple(out)


def auxiliary_names(ds) -> set[str]:
    """The data variables that are boundary values (``<tracer>_<axis>_<low|high>``) or emission sources
    (``<tracer>_source``) of another data variable, and so not tracers."""
    names = {str(n) for n in ds.data_vars}
    out = set()
    for name in names:
        for pattern in (_BOUNDARY_NAME, _SOURCE_NAME):
            match = pattern.match(name)
            if match and match.group(1) in names:
                out.add(name)
    return out


def velocity_dims(axes: Sequence[str], bounds, component: int) -> tuple[str, ...]:
    """The spatial dims of velocity component ``component`` (an array axis): the grid's, with the face dim
    along its own axis when that axis is not periodic.

    Parameters
    ----------
    axes : sequence of str
        The grid's dims.
    bounds : tuple
        :func:`read_boundaries` of the file.
    component : int
        The array axis of the component.

    Returns
    -------
    tuple of str
    """
    dims = list(axes)
    if bounds[component] is not None:
        dims[component] = FACE_DIMS[axes[component]]
    return tuple(dims)


def check_velocity_dims(var, vname: str, axes: Sequence[str], bounds, component: int, path) -> None:
    """Refuse a velocity component whose faces do not fit its axis's boundaries (``n + 1`` faces along a
    non-periodic axis, ``n`` along a periodic one), in one line naming the dim needed."""
    name = axes[component]
    face = FACE_DIMS[name]
    attr = BOUNDARY_ATTRS[name]
    if bounds[component] is None and face in var.dims:
        raise UserError(
            f"{path}: {vname!r} has dim {face!r} (n + 1 faces) but the {name} axis is periodic ({attr} absent or "
            f"{PERIODIC}): give it dim {name!r} (the + face of every cell), or set {attr}"
        )
    if bounds[component] is not None and face not in var.dims:
        raise UserError(
            f"{path}: {vname!r} has dims ({', '.join(map(str, var.dims))}), but the {name} axis is not periodic "
            f"({attr} = {' '.join(bounds[component])!r}): it needs dim {face!r} of n + 1 faces (-1/2 .. n - 1/2) "
            f"in place of {name!r}"
        )
    for other in range(len(axes)):
        if other != component and FACE_DIMS[axes[other]] in var.dims:
            raise UserError(
                f"{path}: {vname!r} has dim {FACE_DIMS[axes[other]]!r}; only the {axes[other]} velocity has faces "
                f"along {axes[other]} ({vname!r} takes the cell dim {axes[other]!r})"
            )


def check_face_coordinates(ds, grid: Grid, axes: Sequence[str], bounds, path) -> None:
    """Refuse a face coordinate (``x_face``) that is not at the cell centres -/+ half a cell."""
    for a, name in enumerate(axes):
        face = FACE_DIMS[name]
        if bounds[a] is None or face not in ds.variables:
            continue
        coord = ds[face]
        values = np.asarray(coord.values)
        if coord.dims != (face,) or values.dtype.kind not in "iuf":
            raise UserError(f"{path}: coordinate {face!r} must be real numbers with dims ({face},)")
        values = values.astype(np.float64)
        expected = grid.origin[a] + grid.spacing[a] * np.arange(grid.shape[a] + 1)
        d = grid.spacing[a]
        tolerance = 1e-3 * d + 1e-5 * float(np.max(np.abs(expected)))
        if values.shape != expected.shape or not np.all(np.isfinite(values)):
            raise UserError(f"{path}: coordinate {face!r} must hold {expected.size} finite face positions")
        worst = float(np.max(np.abs(values - expected)))
        if worst > tolerance:
            raise UserError(
                f"{path}: coordinate {face!r} is not at the cell faces (the centres of {name!r} -/+ d{name}/2, "
                f"{expected[0]:g} to {expected[-1]:g}): off by up to {worst:.3g}"
            )


def check_walls(velocity: Sequence[np.ndarray], axes: Sequence[str], bounds, path) -> None:
    """Refuse a non-zero normal velocity on a wall (any time), naming the side and the largest value."""
    for a, sides in enumerate(bounds):
        if sides is None:
            continue
        u = velocity[a]
        axis = u.ndim - len(axes) + a
        for s, kind in enumerate(sides):
            if kind != "wall":
                continue
            on = np.take(u, 0 if s == 0 else u.shape[axis] - 1, axis=axis)
            if np.any(on != 0):
                name = axes[a]
                raise UserError(
                    f"{path}: {VELOCITY_NAMES[name]!r} is not zero on the {SIDES[s]} {name} wall (up to "
                    f"{float(np.max(np.abs(on))):.3g}); a wall lets nothing through"
                )


def _own_times(ds, dim: str, n: int, run_unit: str | None, reference: str | None, path) -> np.ndarray:
    """The coordinate ``dim`` (``boundary_time``, ``source_time``) in the run's time unit, checked like
    ``velocity_time`` (:func:`~learned_advection.data.netcdf.times.coordinate_times`).  Dates are taken from
    the run's t = 0, the first date of ``velocity_time`` (``reference``), which they need."""
    t, own = coordinate_times(ds, dim, n, run_unit, path, "the values along it", repr(dim))
    if own is not None:
        if reference is None:
            raise UserError(
                f"{path}: {dim!r} holds dates, but the velocity has none (velocity_time) to fix the run's t = 0; "
                f"give {dim} as durations or numbers from t = 0"
            )
        shift = datetime.datetime.fromisoformat(own) - datetime.datetime.fromisoformat(reference)
        t = t + shift / datetime.timedelta(seconds=RUN_TIME_UNITS[run_unit])
        with np.errstate(over="ignore", invalid="ignore"):
            steps = np.diff(t)
        if not np.all(np.isfinite(t)) or not np.all(steps > 0) or not np.all(np.isfinite(steps)):
            raise UserError(f"{path}: coordinate {dim!r} must be strictly increasing finite times")
    return t


def _read(
    ds,
    name: str,
    tracer: TracerVariable,
    time_dim: str,
    space: tuple[tuple[str, int], ...],
    finite: Callable,
    path,
    profile: bool = False,
) -> tuple[np.ndarray, bool]:
    """Variable ``name`` of ``tracer`` with dims ``[tracer,] [time_dim,] *space`` (``space``: the dims that
    follow, each ``(dim, size)``; left out for a constant along a side with ``profile``), checked; returned
    as ``(tracer.size, [k,] *space sizes)`` (a constant broadcast) and whether it has ``time_dim``."""
    var = ds[name]
    lead = (TRACER_DIM,) if tracer.count is not None else ()
    dims = tuple(map(str, var.dims))
    allowed = []
    for t in ((), (time_dim,)):
        allowed.append(lead + t + tuple(d for d, _ in space))
        if profile:  # a boundary profile is optional
            allowed.append(lead + t)
    if dims not in allowed:
        spatial = ", ".join(d for d, _ in space)
        tail = f"({spatial})" if spatial else "()"
        front = f"{TRACER_DIM}, " if lead else ""
        options = f"({front}[{time_dim},] {spatial})" if spatial else f"({front}[{time_dim}])"
        raise UserError(
            f"{path}: variable {name!r} has dims ({', '.join(dims)}); it must have dims {options}"
            f"{' or without ' + tail if profile and space else ''}"
        )
    values = np.asarray(var.values)
    if lead and values.shape[0] != tracer.count:
        raise UserError(
            f"{path}: variable {name!r} has {values.shape[0]} tracers along {TRACER_DIM!r}, {tracer.name!r} has "
            f"{tracer.count}"
        )
    for d, n in space:
        if d in dims and var.sizes[d] != n:
            raise UserError(f"{path}: variable {name!r} has {var.sizes[d]} values along {d!r}, the grid {n}")
    values = finite(values, name)
    timed = time_dim in dims
    if not lead:
        values = values[None]
    target = (tracer.size,) + ((var.sizes[time_dim],) if timed else ()) + tuple(n for _, n in space)
    if values.ndim < len(target):  # a constant along the side
        values = values.reshape(values.shape + (1,) * (len(target) - values.ndim))
    return np.broadcast_to(values, target), timed


def read_side_values(
    ds, tracers: Sequence[TracerVariable], grid: Grid, axes: Sequence[str], bounds, run_unit, reference, finite, path
) -> dict[tuple[int, int], SideValues]:
    """The values of every tracer at every open side, ``(array axis, side) -> SideValues``.

    A missing value for an open side is refused (one line naming the variable), and so is a value given for
    a wall or a periodic axis.
    """
    names = {str(n) for n in ds.data_vars}
    for tracer in tracers:
        for a, name in enumerate(axes):
            for s, side in enumerate(SIDES):
                vname = boundary_variable(tracer.name, name, side)
                kind = None if bounds[a] is None else bounds[a][s]
                if vname in names and kind != "open":
                    what = f"the {side} {name} side is a wall" if kind == "wall" else f"the {name} axis is periodic"
                    raise UserError(f"{path}: variable {vname!r} gives a boundary value, but {what}")
    out = {}
    times = None
    for a, name in enumerate(axes):
        if bounds[a] is None:
            continue
        other = [(axes[b], grid.shape[b]) for b in range(len(axes)) if b != a]
        m = other[0][1] if other else 1
        for s, side in enumerate(SIDES):
            if bounds[a][s] != "open":
                continue
            parts = []
            for tracer in tracers:
                vname = boundary_variable(tracer.name, name, side)
                if vname not in names:
                    raise UserError(
                        f"{path}: missing variable {vname!r}: the value of {tracer.name!r} at the open {side} {name} "
                        "side (an open side needs one for every tracer, even where the flow only leaves)"
                    )
                values, timed = _read(ds, vname, tracer, BOUNDARY_TIME, tuple(other), finite, path, profile=True)
                parts.append((values.reshape(values.shape[: 1 + timed] + (m,)), timed))
            if any(timed for _, timed in parts) and times is None:
                times = _own_times(ds, BOUNDARY_TIME, ds.sizes[BOUNDARY_TIME], run_unit, reference, path)
            if any(timed for _, timed in parts):
                k = len(times)
                stacked = np.concatenate(
                    [v if timed else np.broadcast_to(v[:, None], (v.shape[0], k, m)) for v, timed in parts]
                )
                out[(a, s)] = SideValues(np.ascontiguousarray(stacked), times)
            else:
                out[(a, s)] = SideValues(np.ascontiguousarray(np.concatenate([v for v, _ in parts])))
    return out


def read_sources(
    ds, tracers: Sequence[TracerVariable], grid: Grid, axes: Sequence[str], run_unit, reference, finite, path
) -> Sources | None:
    """The emission rates of the tracers (``<tracer>_source``), ``None`` when no tracer has one."""
    names = {str(n) for n in ds.data_vars}
    given = [source_variable(t.name) in names for t in tracers]
    if not any(given):
        return None
    space = tuple(zip(axes, grid.shape))
    parts, units = [], []
    for tracer, has in zip(tracers, given):
        if not has:
            parts.append((np.zeros((tracer.size,) + tuple(grid.shape)), False))
            units += [None] * tracer.size
            continue
        vname = source_variable(tracer.name)
        parts.append(_read(ds, vname, tracer, SOURCE_TIME, space, finite, path))
        text = _text(ds[vname].attrs.get("units"))
        units += [text] * tracer.size
    times = None
    if any(timed for _, timed in parts):
        times = _own_times(ds, SOURCE_TIME, ds.sizes[SOURCE_TIME], run_unit, reference, path)
        k = len(times)
        rates = np.concatenate(
            [v if timed else np.broadcast_to(v[:, None], (v.shape[0], k) + v.shape[1:]) for v, timed in parts]
        )
    else:
        rates = np.concatenate([v for v, _ in parts])
    return Sources(np.ascontiguousarray(rates), times, tuple(units))
