"""netCDF input and output of advection problems and trajectories (xarray, engine ``h5netcdf``).

File conventions (shared with every tool that reads or writes our files):

* ``concentration`` with dims ``(x)`` or ``(y, x)``: cell averages;
* ``x_velocity`` (and in 2-D ``y_velocity``) with the same dims, or with a leading ``time`` dim (one
  field per step; without it the velocity is constant).  ``x_velocity[..., i]`` is the velocity on the
  face between cells ``i`` and ``i + 1`` (the + face, Arakawa C-grid), likewise ``y_velocity[j, ...]``;
* coordinates ``x`` (and ``y``) hold cell-centre positions with uniform spacing ``dx``; the periodic
  domain spans ``N dx`` starting at ``x[0] - dx/2``;
* trajectories: ``concentration(time, [y,] x)`` with a ``time`` coordinate in physical time, the
  initial state first, and CF-style attributes describing the run.

In memory, velocities are tuples ordered like the array axes: ``(x_velocity,)`` in 1-D and
``(y_velocity, x_velocity)`` in 2-D (see :mod:`learned_advection.numerics.grids`).

Every problem with the input is reported as :class:`~learned_advection.errors.UserError` with a
one-line message.  Writes are atomic: a temporary file in the destination folder is renamed over the
destination only once it is complete, so a failed or interrupted write leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from learned_advection import __version__
from learned_advection.errors import UserError
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


def read_problem(path) -> Problem:
    """Read and validate an advection problem (initial concentration, face velocities, grid)."""
    import xarray as xr

    path = Path(path)
    if not path.exists():
        raise UserError(f"input file not found: {path}")
    if path.is_dir():
        raise UserError(f"input is a folder, not a netCDF file: {path}")
    try:
        ds = xr.open_dataset(path, engine=ENGINE, decode_times=False, decode_cf=True, cache=False)
    except Exception as e:  # h5py/h5netcdf/xarray raise a variety of types for unreadable files
        raise UserError(f"cannot read {path} as netCDF: {_first_line(e)}") from None
    try:
        with ds:
            return _problem_from_dataset(ds, path)
    except UserError:
        raise
    except Exception as e:  # corrupt data discovered while loading values
        raise UserError(f"cannot read {path}: {_first_line(e)}") from None


def _problem_from_dataset(ds, path) -> Problem:
    if CONCENTRATION not in ds.data_vars:
        raise UserError(f"{path}: missing variable {CONCENTRATION!r}")
    conc = ds[CONCENTRATION]
    if conc.dims not in (AXIS_NAMES[1], AXIS_NAMES[2]):
        raise UserError(f"{path}: {CONCENTRATION!r} must have dims (x) or (y, x), got {conc.dims}")
    axes = conc.dims
    c0 = _finite(np.asarray(conc.values), CONCENTRATION, path)
    shape = c0.shape
    spacing, origin = zip(*(_coordinate(ds, name, n, path) for name, n in zip(axes, shape)))
    grid = Grid(shape, tuple(d * n for d, n in zip(spacing, shape)), origin)

    velocity = []
    time_lengths = set()
    for name in axes:
        vname = VELOCITY_NAMES[name]
        if vname not in ds.data_vars:
            raise UserError(f"{path}: missing variable {vname!r}")
        var = ds[vname]
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


# --------------------------------------------------------------------------- writing
def check_output_path(path, overwrite: bool = False) -> Path:
    """Validate an output path before any work: its folder exists and is writable, and it does not
    exist yet (unless ``overwrite``).  Returns the path."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UserError(f"output is a folder: {path}")
    if not folder.is_dir():
        raise UserError(f"output folder does not exist: {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"output folder is not writable: {folder}")
    if path.exists() and not overwrite:
        raise UserError(f"output file exists: {path} (use --overwrite to replace it)")
    return path


def write_dataset_atomic(ds, path, overwrite: bool = False) -> Path:
    """Write an xarray dataset to ``path`` atomically (temporary file in the same folder, then rename)."""
    path = check_output_path(path, overwrite)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise UserError(f"cannot write to {folder}: {e.strerror or _first_line(e)}") from None
    os.close(fd)
    try:
        encoding = {name: {"_FillValue": None} for name in list(ds.data_vars) + list(ds.coords)}
        ds.to_netcdf(tmp, engine=ENGINE, encoding=encoding)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise UserError(f"cannot write {path}: {e.strerror or _first_line(e)}") from None
        raise
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


def write_trajectory(
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


def read_trajectory(path):
    """Open a trajectory file written by :func:`write_trajectory` (loaded into memory) as a dataset."""
    import xarray as xr

    path = Path(path)
    if not path.is_file():
        raise UserError(f"trajectory file not found: {path}")
    try:
        with xr.open_dataset(path, engine=ENGINE, decode_times=False) as ds:
            return ds.load()
    except Exception as e:
        raise UserError(f"cannot read {path} as netCDF: {_first_line(e)}") from None
