"""netCDF input and output of advection problems, trajectories and reference trajectories (xarray,
engine ``h5netcdf``): every file is opened by :func:`open_netcdf` and checked by the same validators.

File conventions (shared with every tool that reads or writes our files):

* ``concentration`` with dims ``(x)`` or ``(y, x)``: cell averages;
* ``x_velocity`` (and in 2-D ``y_velocity``) with the same dims, or with a leading ``time`` dim (one
  field per step; without it the velocity is constant).  ``x_velocity[..., i]`` is the velocity on the
  face between cells ``i`` and ``i + 1`` (the + face, Arakawa C-grid), likewise ``y_velocity[j, ...]``;
* coordinates ``x`` (and ``y``) hold cell-centre positions with uniform spacing ``dx``; the periodic
  domain spans ``N dx`` starting at ``x[0] - dx/2``;
* trajectories: ``concentration(time, [y,] x)`` with a ``time`` coordinate in physical time, the
  initial state first, and CF-style attributes describing the run;
* reference trajectories (training and evaluation data): ``concentration([sample,] time, [y,] x)``
  and face velocities with optional ``sample`` and ``time`` dims (:func:`read_reference`).

In memory, velocities are tuples ordered like the array axes: ``(x_velocity,)`` in 1-D and
``(y_velocity, x_velocity)`` in 2-D (see :mod:`learned_advection.numerics.grids`).

Every problem with the input is reported as :class:`~learned_advection.errors.UserError` with a
one-line message.  Writes are atomic: a temporary file in the destination folder is renamed over the
destination only once it is complete, so a failed or interrupted write leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from learned_advection._version import __version__
from learned_advection.errors import UserError
from learned_advection.files import atomic_path, check_output_path
from learned_advection.numerics.grids import Grid

ENGINE = "h5netcdf"
CONCENTRATION = "concentration"
AXIS_NAMES = {1: ("x",), 2: ("y", "x")}
VELOCITY_NAMES = {"x": "x_velocity", "y": "y_velocity"}
# Relative tolerance on the uniformity of coordinate spacing (float32 coordinates pass).
SPACING_RTOL = 1e-5


@dataclasses.dataclass(frozen=True)
class Problem:
    """An advection problem read from a file.

    ``velocity`` is ordered like the array axes (``(y_velocity, x_velocity)`` in 2-D); each array has
    the grid's shape, or a leading time axis (one field per step) when ``time_dependent``.
    """

    grid: Grid
    concentration: np.ndarray
    velocity: tuple[np.ndarray, ...]
    time_dependent: bool = False
    units: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def n_velocity_steps(self) -> int | None:
        """Number of velocity fields in time (``None`` for a constant velocity)."""
        return int(self.velocity[0].shape[0]) if self.time_dependent else None


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


# --------------------------------------------------------------------------- reading
def _coordinate(ds, name: str, n: int, path) -> tuple[float, float]:
    """Spacing and origin of a cell-centre coordinate, checked."""
    if name not in ds.coords and name not in ds.variables:
        raise UserError(f"{path}: missing coordinate {name!r}")
    coord = ds[name]
    if coord.dims != (name,):
        raise UserError(f"{path}: coordinate {name!r} must have dims ({name},), got {coord.dims}")
    values = np.asarray(coord.values)
    if not np.issubdtype(values.dtype, np.number) or np.issubdtype(values.dtype, np.complexfloating):
        raise UserError(f"{path}: coordinate {name!r} must be real numbers, got dtype {values.dtype}")
    values = values.astype(np.float64)
    if values.shape != (n,):
        raise UserError(f"{path}: coordinate {name!r} has {values.size} values, concentration has {n} cells")
    if not np.all(np.isfinite(values)):
        raise UserError(f"{path}: coordinate {name!r} contains NaN or Inf")
    if n < 2:
        raise UserError(f"{path}: need at least 2 cells along {name}, got {n}")
    diffs = np.diff(values)
    if np.any(diffs <= 0):
        raise UserError(f"{path}: coordinate {name!r} must be strictly increasing")
    d = (values[-1] - values[0]) / (n - 1)
    if not np.allclose(diffs, d, rtol=SPACING_RTOL, atol=0.0):
        raise UserError(
            f"{path}: coordinate {name!r} is not uniformly spaced (spacing from {diffs.min():g} to {diffs.max():g})"
        )
    return float(d), float(values[0] - d / 2)


def _finite(values: np.ndarray, name: str, path) -> np.ndarray:
    if not (np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.floating)):
        raise UserError(f"{path}: variable {name!r} must be real numbers, got dtype {values.dtype}")
    if not np.all(np.isfinite(values)):
        raise UserError(f"{path}: variable {name!r} contains NaN or Inf")
    return values if np.issubdtype(values.dtype, np.floating) else values.astype(np.float64)


# How a missing file is reported, per kind of file (default: "KIND file not found: PATH").
_MISSING = {"reference": "{kind} file {path} does not exist"}


def open_netcdf(path, kind: str = "input"):
    """Open a netCDF file (engine ``h5netcdf``, times not decoded) and load it into memory.

    ``kind`` names the file in the messages: a missing file, a folder, a file that is not netCDF and
    one whose values cannot be read are each a one-line :class:`UserError`.
    """
    import xarray as xr

    path = Path(path)
    if not path.exists():
        raise UserError(_MISSING.get(kind, "{kind} file not found: {path}").format(kind=kind, path=path))
    if path.is_dir():
        raise UserError(f"{kind} is a folder, not a netCDF file: {path}")
    try:
        ds = xr.open_dataset(path, engine=ENGINE, decode_times=False, decode_cf=True, cache=False)
    except Exception as e:  # h5py/h5netcdf/xarray raise a variety of types for unreadable files
        raise UserError(f"cannot read {path} as netCDF: {_first_line(e)}") from None
    try:
        with ds:
            return ds.load()
    except Exception as e:  # corrupt data discovered while loading values
        raise UserError(f"cannot read {path}: {_first_line(e)}") from None


def _grid(ds, axes: Sequence[str], shape: Sequence[int], path) -> Grid:
    """The grid of cell-centre coordinates ``axes`` (checked) for fields of the given spatial shape."""
    spacing, origin = zip(*(_coordinate(ds, name, n, path) for name, n in zip(axes, shape)))
    return Grid(tuple(shape), tuple(d * n for d, n in zip(spacing, shape)), origin)


def _variable(ds, name: str, path):
    if name not in ds.data_vars:
        raise UserError(f"{path}: missing variable {name!r}")
    return ds[name]


def read_problem(path) -> Problem:
    """Read and validate an advection problem (initial concentration, face velocities, grid)."""
    path = Path(path)
    ds = open_netcdf(path, "input")
    conc = _variable(ds, CONCENTRATION, path)
    if conc.dims not in (AXIS_NAMES[1], AXIS_NAMES[2]):
        raise UserError(f"{path}: {CONCENTRATION!r} must have dims (x) or (y, x), got {conc.dims}")
    axes = conc.dims
    c0 = _finite(np.asarray(conc.values), CONCENTRATION, path)
    shape = c0.shape
    grid = _grid(ds, axes, shape, path)

    velocity = []
    time_lengths = set()
    for name in axes:
        vname = VELOCITY_NAMES[name]
        var = _variable(ds, vname, path)
        if var.dims == axes:
            time_lengths.add(None)
        elif var.dims == ("time",) + axes:
            time_lengths.add(var.sizes["time"])
        else:
            expected = f"({', '.join(axes)}) or (time, {', '.join(axes)})"
            raise UserError(f"{path}: {vname!r} must have dims {expected}, got {var.dims}")
        spatial = tuple(var.sizes[a] for a in axes)
        if spatial != shape:
            raise UserError(f"{path}: {vname!r} has shape {spatial}, concentration has shape {shape}")
        velocity.append(_finite(np.asarray(var.values), vname, path))
    if len(time_lengths) > 1:
        raise UserError(f"{path}: velocity components disagree on time dependence (time lengths {sorted(map(str, time_lengths))})")
    (n_time,) = time_lengths
    if n_time == 0:
        raise UserError(f"{path}: time-dependent velocity has no time steps")
    units = {k: str(ds[k].attrs["units"]) for k in axes if "units" in ds[k].attrs}
    return Problem(grid, c0, tuple(velocity), n_time is not None, units)


def read_reference(path):
    """Read coarse reference trajectories as :class:`~learned_advection.data.reference.Trajectories`.

    ``concentration`` has dims ``(time, x)`` / ``(sample, time, x)`` in 1-D or ``(..., time, y, x)`` in
    2-D (in any order); face velocities ``x_velocity`` (and ``y_velocity`` in 2-D) have the spatial dims,
    optionally with ``time`` (one field per step, length ``n_time - 1`` or more) and/or ``sample``.
    Coordinates ``x`` (``y``) are uniform cell centres; ``time`` is uniform and gives ``dt``.
    States and velocities are returned as float32.
    """
    from learned_advection.data.reference import Trajectories

    path = Path(path)
    ds = open_netcdf(path, "reference")
    conc = _variable(ds, CONCENTRATION, path)
    space = tuple(d for d in AXIS_NAMES[2] if d in conc.dims)
    if "x" not in space or "time" not in conc.dims:
        raise UserError(f"{path}: concentration must have dims (time, x), (time, y, x) or with a leading sample")
    order = (("sample",) if "sample" in conc.dims else ()) + ("time",) + space
    if set(conc.dims) != set(order):
        raise UserError(f"{path}: unexpected concentration dims {conc.dims}")
    states = _finite(np.asarray(conc.transpose(*order).values), CONCENTRATION, path).astype(np.float32)
    if "sample" not in conc.dims:
        states = states[None]
    t = np.asarray(ds["time"].values, dtype=float)
    if len(t) < 2 or not np.allclose(np.diff(t), t[1] - t[0], rtol=1e-6):
        raise UserError(f"{path}: time must be uniform with at least two entries")
    grid = _grid(ds, space, states.shape[2:], path)
    velocity = []
    for d in space:
        name = VELOCITY_NAMES[d]
        var = _variable(ds, name, path)
        vorder = tuple(k for k in ("sample", "time") if k in var.dims) + space
        if set(var.dims) != set(vorder):
            raise UserError(f"{path}: unexpected {name} dims {var.dims}")
        u = _finite(np.asarray(var.transpose(*vorder).values), name, path).astype(np.float32)
        if "sample" not in var.dims:
            u = np.broadcast_to(u, (states.shape[0],) + u.shape).copy()
        if "time" in var.dims:
            u = u[:, : states.shape[1] - 1]
        velocity.append(u)
    return Trajectories(states, tuple(velocity), float(t[1] - t[0]), grid)


# --------------------------------------------------------------------------- writing
def write_dataset_atomic(ds, path, overwrite: bool = False) -> Path:
    """Write an xarray dataset to ``path`` atomically (checked first with :func:`check_output_path`)."""
    path = check_output_path(path, overwrite)
    encoding = {name: {"_FillValue": None} for name in list(ds.data_vars) + list(ds.coords)}
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine=ENGINE, encoding=encoding)
    return path


def _coords(grid: Grid, units: Mapping[str, str] | None = None) -> dict:
    units = dict(units or {})
    names = AXIS_NAMES[grid.ndim]
    return {
        name: (
            name,
            grid.centres(a),
            {"units": units.get(name, "1"), "long_name": f"{name} position of cell centres", "axis": name.upper()},
        )
        for a, name in enumerate(names)
    }


def _velocity_vars(grid: Grid, velocity: Sequence, time_dependent: bool) -> dict:
    names = AXIS_NAMES[grid.ndim]
    if len(velocity) != grid.ndim:
        raise ValueError(f"need {grid.ndim} velocity components ordered like the axes, got {len(velocity)}")
    out = {}
    for a, (name, u) in enumerate(zip(names, velocity)):
        u = np.asarray(u)
        dims = (("time",) if time_dependent else ()) + names
        expected = ((u.shape[0],) if time_dependent else ()) + grid.shape
        if u.shape != expected or (time_dependent and u.ndim != grid.ndim + 1):
            raise ValueError(f"{VELOCITY_NAMES[name]} has shape {u.shape}, expected {expected}")
        side = {"x": "+x face, between cells i and i+1", "y": "+y face, between rows j and j+1"}[name]
        out[VELOCITY_NAMES[name]] = (
            dims,
            u,
            {"units": "1", "long_name": f"{name} velocity on the {side}", "grid_location": "face"},
        )
    return out


def _history(command: str | None) -> str:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{stamp}: {command or 'learned-advection ' + __version__}"


def write_problem(
    path,
    grid: Grid,
    concentration,
    velocity: Sequence,
    *,
    time_dependent: bool | None = None,
    overwrite: bool = False,
    attrs: Mapping | None = None,
    command: str | None = None,
) -> Path:
    """Write an input file for ``learned-advection simulate``.

    ``velocity`` is ordered like the array axes (``(y_velocity, x_velocity)`` in 2-D); each component
    has the grid's shape, or a leading time axis (one field per step) when ``time_dependent``
    (inferred from the number of dimensions when not given).
    """
    import xarray as xr

    c = np.asarray(concentration)
    if c.shape != grid.shape:
        raise ValueError(f"concentration has shape {c.shape}, grid has shape {grid.shape}")
    if time_dependent is None:
        time_dependent = np.ndim(velocity[0]) == grid.ndim + 1
    names = AXIS_NAMES[grid.ndim]
    data_vars = {
        CONCENTRATION: (names, c, {"units": "1", "long_name": "tracer concentration (cell average)"}),
        **_velocity_vars(grid, velocity, time_dependent),
    }
    global_attrs = {
        "Conventions": "CF-1.8",
        "title": "learned-advection problem: initial concentration and C-grid face velocities",
        "source": f"learned-advection {__version__}",
        "history": _history(command),
        "periodic": "true",
    }
    global_attrs.update(attrs or {})
    ds = xr.Dataset(data_vars, coords=_coords(grid), attrs=global_attrs)
    return write_dataset_atomic(ds, path, overwrite)


def write_simulation(
    path,
    grid: Grid,
    states,
    times,
    *,
    scheme: str,
    dt: float,
    courant: float,
    n_steps: int | None = None,
    save_every: int | None = None,
    overwrite: bool = False,
    units: Mapping[str, str] | None = None,
    attrs: Mapping | None = None,
    command: str | None = None,
) -> Path:
    """Write ``concentration(time, [y,] x)`` (initial state first) with CF-style metadata."""
    import xarray as xr

    states = np.asarray(states)
    times = np.asarray(times, dtype=np.float64)
    if states.shape[1:] != grid.shape or states.shape[0] != times.shape[0]:
        raise ValueError(f"states of shape {states.shape} do not match grid {grid.shape} and {times.size} times")
    names = AXIS_NAMES[grid.ndim]
    coords = _coords(grid, units)
    coords["time"] = ("time", times, {"units": "1", "long_name": "time", "axis": "T"})
    run = {
        "scheme": scheme,
        "dt": float(dt),
        "courant_number": float(courant),
    }
    if n_steps is not None:
        run["n_steps"] = int(n_steps)
    if save_every is not None:
        run["save_every"] = int(save_every)
    conc_attrs = {
        "units": "1",
        "long_name": "tracer concentration (cell average)",
        "cell_methods": "area: mean" if grid.ndim == 2 else "x: mean",
        **run,
    }
    global_attrs = {
        "Conventions": "CF-1.8",
        "title": f"learned-advection trajectory ({scheme})",
        "source": f"learned-advection {__version__}",
        "learned_advection_version": __version__,
        "history": _history(command),
        "periodic": "true",
        **run,
    }
    global_attrs.update(attrs or {})
    ds = xr.Dataset({CONCENTRATION: (("time",) + names, states, conc_attrs)}, coords=coords, attrs=global_attrs)
    return write_dataset_atomic(ds, path, overwrite)


def write_reference(path, data) -> Path:
    """Write :class:`~learned_advection.data.reference.Trajectories` in the layout :func:`read_reference`
    reads (replacing ``path``)."""
    import xarray as xr

    names = AXIS_NAMES[data.grid.ndim]
    coords = _coords(data.grid)
    coords["time"] = ("time", data.dt * np.arange(data.states.shape[1]), {"units": "1", "long_name": "time", "axis": "T"})
    vdims = ("sample", "time") if data.time_dependent_velocity else ("sample",)
    ds = xr.Dataset(
        {CONCENTRATION: (("sample", "time", *names), data.states)}
        | {VELOCITY_NAMES[d]: ((*vdims, *names), data.velocity[a]) for a, d in enumerate(names)},
        coords=coords,
    )
    return write_dataset_atomic(ds, path, overwrite=True)


def read_simulation(path):
    """Open a simulation output written by :func:`write_simulation` (loaded into memory) as a dataset."""
    return open_netcdf(path, "trajectory")
