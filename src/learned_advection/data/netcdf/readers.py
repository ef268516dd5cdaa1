"""Reading problems, reference trajectories and simulation outputs, every value checked: each problem
with a file is one-line :class:`~learned_advection.errors.UserError`."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from learned_advection.data.netcdf import regional
from learned_advection.data.netcdf.checks import open_netcdf
from learned_advection.data.netcdf.conventions import (
    AXIS_NAMES,
    CONCENTRATION,
    FACE_DIMS,
    SPACING_RTOL,
    TRACER_DIM,
    VELOCITY_NAMES,
    VELOCITY_TIME,
    portable_attrs,
)
from learned_advection.data.netcdf.problem import Problem, TracerVariable
from learned_advection.data.netcdf.times import coordinate_times, output_time_units, velocity_time_unit
from learned_advection.errors import UserError
from learned_advection.numerics.grids import Grid


def _real(values: np.ndarray, what: str, path) -> np.ndarray:
    """``values`` as float64, refused unless they are real numbers (integers or floats)."""
    if not (np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.floating)):
        raise UserError(f"{path}: {what} must be real numbers, got dtype {values.dtype}")
    return values.astype(np.float64)


def _coordinate(ds, name: str, n: int, path) -> tuple[float, float]:
    """Spacing and origin of a cell-centre coordinate, checked."""
    if name not in ds.coords and name not in ds.variables:
        raise UserError(f"{path}: missing coordinate {name!r}")
    coord = ds[name]
    if coord.dims != (name,):
        raise UserError(f"{path}: coordinate {name!r} must have dims ({name},), got {coord.dims}")
    values = _real(np.asarray(coord.values), f"coordinate {name!r}", path)
    if values.shape != (n,):
        raise UserError(f"{path}: coordinate {name!r} has {values.size} values, concentration has {n} cells")
    if not np.all(np.isfinite(values)):
        raise UserError(f"{path}: coordinate {name!r} contains NaN or Inf")
    if n < 2:
        raise UserError(f"{path}: need at least 2 cells along {name}, got {n}")
    with np.errstate(over="ignore", invalid="ignore"):
        diffs = np.diff(values)
        if np.any(diffs <= 0):
            raise UserError(f"{path}: coordinate {name!r} must be strictly increasing")
        d = (values[-1] - values[0]) / (n - 1)
        length, origin = d * n, values[0] - d / 2
    if not (np.all(np.isfinite(diffs)) and math.isfinite(length) and math.isfinite(origin) and d > 0):
        raise UserError(
            f"{path}: coordinate {name!r} spans {values[0]:g} to {values[-1]:g}: the grid's extent is not a finite positive number"
        )
    if not np.allclose(diffs, d, rtol=SPACING_RTOL, atol=0.0):
        raise UserError(
            f"{path}: coordinate {name!r} is not uniformly spaced (spacing from {diffs.min():g} to {diffs.max():g})"
        )
    return float(d), float(origin)


def _finite(values: np.ndarray, name: str, path, dtype=None, hint: str = "") -> np.ndarray:
    """``values`` checked: real, finite and (with ``dtype``) representable in the dtype of the run.

    Representable: no magnitude above the dtype's largest number (it would become Inf), and no
    nonzero magnitudes below its smallest normal number (flushed to zero in computations) unless the
    variable's largest magnitude is so much larger that the loss is within the dtype's rounding of
    it (a Gaussian's far tails are fine; a field of 1e-300 is not).  ``hint`` ends those messages.
    Integers are returned as float64, floats as they are.
    """
    if not (np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.floating)):
        raise UserError(f"{path}: variable {name!r} must be real numbers, got dtype {values.dtype}")
    if not np.all(np.isfinite(values)):
        raise UserError(f"{path}: variable {name!r} contains NaN or Inf")
    values = values if np.issubdtype(values.dtype, np.floating) else values.astype(np.float64)
    if dtype is not None and values.size:
        info = np.finfo(dtype)
        magnitude = np.abs(values)
        largest = float(magnitude.max())
        if largest > float(info.max):
            raise UserError(
                f"{path}: variable {name!r} has values up to {largest:.3g}, beyond the {info.dtype} range "
                f"(largest {float(info.max):.3g}){hint}"
            )
        tiny = float(info.tiny)
        if 0 < largest < tiny / float(info.eps) and np.any((magnitude > 0) & (magnitude < tiny)):
            raise UserError(
                f"{path}: variable {name!r} has nonzero values no larger than {largest:.3g}, below the "
                f"{info.dtype} range (smallest normal {tiny:.3g}): they would be flushed to zero{hint}"
            )
    return values


def _grid(ds, axes: Sequence[str], shape: Sequence[int], path) -> Grid:
    """The grid of cell-centre coordinates ``axes`` (checked) for fields of the given spatial shape."""
    spacing, origin = zip(*(_coordinate(ds, name, n, path) for name, n in zip(axes, shape)))
    return Grid(tuple(shape), tuple(d * n for d, n in zip(spacing, shape)), origin)


def _variable(ds, name: str, path):
    if name not in ds.data_vars:
        raise UserError(f"{path}: missing variable {name!r}")
    return ds[name]


def _problem_axes(ds, path) -> tuple[str, ...]:
    """The grid's dims: those of ``concentration`` (without a leading ``tracer``), or, without it, the
    velocity's (``x_velocity`` without a leading time dim)."""

    def spatial(dims, leading):
        return dims[1:] if dims and dims[0] in leading else dims

    if CONCENTRATION in ds.data_vars:
        dims = ds[CONCENTRATION].dims
        axes = spatial(dims, (TRACER_DIM,))
        if axes not in (AXIS_NAMES[1], AXIS_NAMES[2]):
            raise UserError(
                f"{path}: {CONCENTRATION!r} must have dims (x) or (y, x), optionally after a leading "
                f"{TRACER_DIM!r}, got {dims}"
            )
        return axes
    dims = _variable(ds, VELOCITY_NAMES["x"], path).dims
    cells = {face: name for name, face in FACE_DIMS.items()}
    axes = tuple(cells.get(d, d) for d in spatial(dims, ("time", VELOCITY_TIME)))
    if axes not in (AXIS_NAMES[1], AXIS_NAMES[2]):
        raise UserError(
            f"{path}: missing variable {CONCENTRATION!r} (and 'x_velocity' has dims {dims}, not the grid's "
            "(x) or (y, x) to find other tracers by)"
        )
    return axes


def _check_tracer_name(name: str, path) -> None:
    """Refuse a tracer name the output (netCDF-4) cannot hold, or that would break one-line messages:
    empty, ``.``, ``/`` anywhere (netCDF-4 makes it a group), control characters or line breaks, and
    leading or trailing whitespace."""
    reason = None
    if not name or name == ".":
        reason = "is not a name a netCDF-4 variable can have"
    elif "/" in name:
        reason = "contains '/', which a netCDF-4 variable name cannot hold (it would name a group)"
    elif any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in name):
        reason = "contains control or line-break characters"
    elif name != name.strip():
        reason = "starts or ends with whitespace"
    if reason:
        raise UserError(f"{path}: the tracer variable {name!r} {reason}; rename it in the input")


def _tracer_names(ds, axes: tuple[str, ...], path, skip=frozenset()) -> list[str]:
    """The data variables that are tracers (dims ``axes`` or ``(tracer, *axes)``), in file order.

    A variable holding the grid's dims in another order, or a ``tracer`` dim elsewhere than first, is
    refused (it would otherwise be left out silently); variables with other dims, and those in ``skip``
    (boundary values and sources), are not tracers.
    """
    velocities = set(VELOCITY_NAMES.values())
    names = []
    for name, var in ds.data_vars.items():
        name = str(name)
        if name in velocities or name in skip:
            continue
        dims = var.dims
        if dims in (axes, (TRACER_DIM,) + axes):
            if name in ("time", TRACER_DIM, VELOCITY_TIME):
                raise UserError(f"{path}: a tracer may not be called {name!r} (a dimension of the output)")
            _check_tracer_name(name, path)
            names.append(name)
        elif (set(dims) == set(axes) or set(dims) == {TRACER_DIM, *axes}) or (
            TRACER_DIM in dims and set(axes) & set(dims)
        ):
            expected = f"({', '.join(axes)}) or ({TRACER_DIM}, {', '.join(axes)})"
            raise UserError(
                f"{path}: variable {name!r} has dims ({', '.join(map(str, dims))}); a tracer must have dims {expected}"
            )
    if not names:
        raise UserError(
            f"{path}: missing variable {CONCENTRATION!r} (no variable with dims ({', '.join(axes)}) or "
            f"({TRACER_DIM}, {', '.join(axes)}) to advect)"
        )
    return names


def _tracer_coordinate(ds, path) -> tuple[np.ndarray, dict] | None:
    """The ``tracer`` coordinate (numbers or strings) and its attributes, if the file has one."""
    if TRACER_DIM not in ds.variables or ds[TRACER_DIM].dims != (TRACER_DIM,):
        return None
    values = np.asarray(ds[TRACER_DIM].values)
    if values.dtype.kind in "iuf":
        pass
    elif values.dtype.kind in "USO" and all(isinstance(v, (str, bytes)) for v in values.tolist()):
        values = np.array(
            [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values.tolist()], dtype=object
        )
        for value in values.tolist():
            if "\x00" in value:  # netCDF-4 strings end at a NUL: the output could not hold the label
                raise UserError(
                    f"{path}: coordinate {TRACER_DIM!r} holds the label {value!r}, with a NUL character, "
                    "which the output cannot hold"
                )
    else:
        return None
    return values, portable_attrs(ds[TRACER_DIM].attrs)


def _run_time_unit(ds, axes: tuple[str, ...], path) -> str | None:
    """The run's time unit: the time part of the velocity's ``units`` (``m s-1``: seconds), the same for
    every component; ``None`` when they name none."""
    parsed = {}
    for name in axes:
        vname = VELOCITY_NAMES[name]
        units = ds[vname].attrs.get("units")
        if isinstance(units, bytes):
            units = units.decode("utf-8", "replace")
        parsed[vname] = (units, velocity_time_unit(units))
    if len({unit for _, unit in parsed.values()}) > 1:
        described = " but ".join(
            f"{vname!r} has units {units!r}" if units is not None else f"{vname!r} has none"
            for vname, (units, _) in parsed.items()
        )
        raise UserError(f"{path}: the velocity components disagree on their units: {described}")
    (_, unit), *_ = parsed.values()
    return None if unit is None else unit[1]


def read_problem(path, dtype=np.float32) -> Problem:
    """Read and validate an advection problem (initial tracers, face velocities, grid).

    Every data variable with the grid's dims, or with a leading ``tracer`` dim, is a tracer (see
    :mod:`~learned_advection.data.netcdf.conventions`); they are stacked into ``concentration`` (a
    leading tracer axis unless the file holds one tracer).  Each tracer is checked on its own, and so
    is its name (one the output cannot hold, with ``/``, a control character or surrounding
    whitespace, is refused).

    The run's time unit is the time part of the velocity's ``units`` (``m s-1``: seconds; see
    ``learned_advection.data.netcdf.times``); ``velocity_time`` holding durations or dates is
    converted to it (dates: t = 0 is the first), plain numbers are taken in it.  The CF units of the
    output's ``time`` are then in ``units["time"]``.

    Parameters
    ----------
    path : path
        The input file.
    dtype : numpy dtype, default numpy.float32
        The dtype the run computes in: a value it cannot represent (beyond its range, or flushed to
        zero where that is not negligible next to the tracer's largest value) is refused, suggesting
        ``--x64`` for float32.

    Returns
    -------
    Problem

    Raises
    ------
    UserError
        Any problem with the file or its values, in one line.
    """
    path = Path(path)
    hint = "; use --x64 to compute in float64" if np.dtype(dtype) == np.float32 else ""
    ds = open_netcdf(path, "input")
    axes = _problem_axes(ds, path)
    bounds = regional.read_boundaries(ds, axes, path)
    tracers, fields = [], []
    for name in _tracer_names(ds, axes, path, regional.auxiliary_names(ds)):
        var = ds[name]
        values = np.asarray(var.values)
        if var.dims[0] == TRACER_DIM:
            if values.shape[0] == 0:
                raise UserError(f"{path}: variable {name!r} holds no tracers (its {TRACER_DIM!r} dim has length 0)")
            fields += [_finite(values[i], f"{name}[{i}]", path, dtype, hint) for i in range(values.shape[0])]
            tracers.append(TracerVariable(name, values.shape[0], portable_attrs(var.attrs)))
        else:
            fields.append(_finite(values, name, path, dtype, hint))
            tracers.append(TracerVariable(name, None, portable_attrs(var.attrs)))
        del values
    shape = fields[0].shape
    grid = _grid(ds, axes, shape, path)
    if len(fields) == 1 and tracers[0].count is None:
        c0 = fields[0]
    else:
        c0 = np.empty((len(fields),) + shape, np.result_type(*fields))
        for i, f in enumerate(fields):
            c0[i] = f
    del fields

    velocity = []
    time_dims = set()
    for component, name in enumerate(axes):
        vname = VELOCITY_NAMES[name]
        var = _variable(ds, vname, path)
        regional.check_velocity_dims(var, vname, axes, bounds, component, path)
        dims = regional.velocity_dims(axes, bounds, component)
        if var.dims == dims:
            time_dims.add(None)
        elif var.dims in (("time",) + dims, (VELOCITY_TIME,) + dims):
            time_dims.add((var.dims[0], var.shape[0]))
        else:
            grid_dims = ", ".join(dims)
            expected = f"({grid_dims}), (time, {grid_dims}) or ({VELOCITY_TIME}, {grid_dims})"
            raise UserError(f"{path}: {vname!r} must have dims {expected}, got {var.dims}")
        spatial = tuple(var.sizes[a] for a in dims)
        faces = tuple(n + (d != a) for n, d, a in zip(shape, dims, axes))
        if spatial != faces:
            if dims == axes:
                raise UserError(f"{path}: {vname!r} has shape {spatial}, concentration has shape {shape}")
            raise UserError(
                f"{path}: {vname!r} has shape {spatial} along ({', '.join(dims)}), need {faces} (n + 1 faces along "
                f"a non-periodic axis; concentration has shape {shape})"
            )
        velocity.append(_finite(np.asarray(var.values), vname, path, dtype, hint))
    if len(time_dims) > 1:
        described = sorted("constant" if d is None else f"{d[0]} of length {d[1]}" for d in time_dims)
        raise UserError(f"{path}: velocity components disagree on time dependence ({', '.join(described)})")
    (time_dim,) = time_dims
    if time_dim is not None and time_dim[1] == 0:
        raise UserError(f"{path}: time-dependent velocity has no time steps")
    run_unit = _run_time_unit(ds, axes, path)
    times, reference = None, None
    if time_dim is not None and time_dim[0] == VELOCITY_TIME:
        times, reference = coordinate_times(
            ds, VELOCITY_TIME, time_dim[1], run_unit, path, "the velocity fields", "the velocity"
        )
    units = {k: str(ds[k].attrs["units"]) for k in axes if "units" in ds[k].attrs}
    time_units = output_time_units(run_unit, reference)
    if time_units is not None:
        units["time"] = time_units
    regional.check_walls(velocity, axes, bounds, path)
    regional.check_face_coordinates(ds, grid, axes, bounds, path)

    def finite(values, name):
        return _finite(values, name, path, dtype, hint)

    side_values = regional.read_side_values(ds, tracers, grid, axes, bounds, run_unit, reference, finite, path)
    sources = regional.read_sources(ds, tracers, grid, axes, run_unit, reference, finite, path)
    return Problem(
        grid,
        c0,
        tuple(velocity),
        time_dim is not None,
        units,
        tuple(tracers),
        times,
        _tracer_coordinate(ds, path) if c0.ndim == grid.ndim + 1 else None,
        run_unit,
        reference,
        bounds if any(b is not None for b in bounds) else (),
        side_values,
        sources,
    )


def _time_step(ds, path) -> float:
    """The step of the ``time`` coordinate, checked: real, finite, at least two entries, strictly
    increasing and uniform."""
    if "time" not in ds.variables:
        raise UserError(f"{path}: missing coordinate 'time' (the times of the states, uniformly spaced)")
    if ds["time"].dims != ("time",):
        raise UserError(f"{path}: coordinate 'time' must have dims (time,), got {ds['time'].dims}")
    t = _real(np.asarray(ds["time"].values), "coordinate 'time'", path)
    if not np.all(np.isfinite(t)):
        raise UserError(f"{path}: coordinate 'time' contains NaN or Inf")
    if len(t) < 2:
        raise UserError(f"{path}: time must be uniform with at least two entries, got {len(t)}")
    with np.errstate(over="ignore", invalid="ignore"):
        diffs = np.diff(t)
    if not np.all(diffs > 0):
        raise UserError(f"{path}: time must be strictly increasing (a positive time step)")
    dt = float(t[1] - t[0])
    if not (math.isfinite(dt) and np.all(np.isfinite(diffs)) and np.allclose(diffs, dt, rtol=SPACING_RTOL, atol=0.0)):
        raise UserError(f"{path}: time must be uniformly spaced (steps from {diffs.min():g} to {diffs.max():g})")
    return dt


def read_reference(path):
    """Read coarse reference trajectories as :class:`~learned_advection.data.reference.Trajectories`.

    ``concentration`` has dims ``(time, x)`` / ``(sample, time, x)`` in 1-D or ``(..., time, y, x)`` in
    2-D (in any order); face velocities ``x_velocity`` (and ``y_velocity`` in 2-D) have the spatial dims,
    optionally with ``time`` (one field per step, length ``n_time - 1`` or more) and/or ``sample``.
    Coordinates ``x`` (``y``) are uniform cell centres; ``time`` is uniform, increasing, and gives ``dt``.
    States and velocities are checked as strictly as :func:`read_problem` checks its input.

    Parameters
    ----------
    path : path
        The reference file.

    Returns
    -------
    Trajectories
        States and velocities as float32 (values float32 cannot represent are refused).

    Raises
    ------
    UserError
        Any problem with the file or its values, in one line.
    """
    from learned_advection.data.reference import Trajectories

    path = Path(path)
    hint = " (reference data is used in float32)"
    ds = open_netcdf(path, "reference")
    conc = _variable(ds, CONCENTRATION, path)
    space = tuple(d for d in AXIS_NAMES[2] if d in conc.dims)
    if "x" not in space or "time" not in conc.dims:
        raise UserError(f"{path}: concentration must have dims (time, x), (time, y, x) or with a leading sample")
    order = (("sample",) if "sample" in conc.dims else ()) + ("time",) + space
    if set(conc.dims) != set(order) or len(conc.dims) != len(order):
        raise UserError(f"{path}: unexpected concentration dims {conc.dims}")
    states = _finite(np.asarray(conc.transpose(*order).values), CONCENTRATION, path, np.float32, hint)
    states = states.astype(np.float32)
    if "sample" not in conc.dims:
        states = states[None]
    if states.shape[0] == 0:
        raise UserError(f"{path}: the file holds no samples (the sample dim has length 0)")
    dt = _time_step(ds, path)
    grid = _grid(ds, space, states.shape[2:], path)
    velocity = []
    for d in space:
        name = VELOCITY_NAMES[d]
        var = _variable(ds, name, path)
        vorder = tuple(k for k in ("sample", "time") if k in var.dims) + space
        if set(var.dims) != set(vorder) or len(var.dims) != len(vorder):
            raise UserError(f"{path}: unexpected {name} dims {var.dims}")
        u = _finite(np.asarray(var.transpose(*vorder).values), name, path, np.float32, hint).astype(np.float32)
        if "sample" not in var.dims:
            u = np.broadcast_to(u, (states.shape[0],) + u.shape).copy()
        if "time" in var.dims:
            u = u[:, : states.shape[1] - 1]
        velocity.append(u)
    return Trajectories(states, tuple(velocity), dt, grid)


def read_simulation(path):
    """Open a simulation output written by :func:`~learned_advection.data.netcdf.trajectories.write_simulation`.

    Parameters
    ----------
    path : path
        The trajectory file.

    Returns
    -------
    xarray.Dataset
        The file's contents, loaded into memory.
    """
    return open_netcdf(path, "trajectory")
