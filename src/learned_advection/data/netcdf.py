"""netCDF input and output of advection problems, trajectories and reference trajectories (xarray,
engine ``h5netcdf``): every file is opened by :func:`open_netcdf` and checked by the same validators.

File conventions (shared with every tool that reads or writes our files):

* tracers: ``concentration`` and every other data variable with dims ``(x)`` or ``(y, x)`` (the
  grid's), or with a leading ``tracer`` dim (several tracers under one name): cell averages, all
  advected by the same flow;
* ``x_velocity`` (and in 2-D ``y_velocity``) with the grid's dims; or with a leading ``time`` dim
  (one field per step); or with a leading ``velocity_time`` dim and a ``velocity_time`` coordinate
  (fields at those physical times, strictly increasing, at any spacing: interpolated linearly to each
  step's midpoint).  Without a leading dim the velocity is constant.  ``x_velocity[..., i]`` is the
  velocity on the face between cells ``i`` and ``i + 1`` (the + face, Arakawa C-grid), likewise
  ``y_velocity[j, ...]``;
* coordinates ``x`` (and ``y``) hold cell-centre positions with uniform spacing ``dx``; the periodic
  domain spans ``N dx`` starting at ``x[0] - dx/2``;
* trajectories: ``concentration(time, [y,] x)`` (and every other tracer under its own name, with
  its attributes, ``(time, [tracer,] [y,] x)``) with a ``time`` coordinate in physical time, the
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
import math
import os
import stat
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from learned_advection._version import __version__
from learned_advection.errors import UserError
from learned_advection.files import atomic_path, available_memory, check_output_path, format_bytes
from learned_advection.numerics.grids import Grid

ENGINE = "h5netcdf"
CONCENTRATION = "concentration"
AXIS_NAMES = {1: ("x",), 2: ("y", "x")}
VELOCITY_NAMES = {"x": "x_velocity", "y": "y_velocity"}
# The leading dim of a variable holding several tracers, and the time dim of velocities interpolated
# in time (``time`` itself: one velocity field per step).
TRACER_DIM = "tracer"
VELOCITY_TIME = "velocity_time"
# Relative tolerance on the uniformity of coordinate spacing (float32 coordinates pass).
SPACING_RTOL = 1e-5
# Size limits, checked on the file's header before any value is read (a small compressed or sparse
# file can declare far more data than it holds): at most MAX_CELLS cells per state (2^28, e.g.
# 16384 x 16384), and the declared data times READ_MEMORY_FACTOR (the values, a converted copy and
# the checks' temporaries) within the memory available (:func:`available_memory`).
MAX_CELLS = 2**28
READ_MEMORY_FACTOR = 3
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
NETCDF3_SIGNATURES = (b"CDF\x01", b"CDF\x02")  # classic and 64-bit offset, read with scipy


@dataclasses.dataclass(frozen=True)
class TracerVariable:
    """One variable of tracers in a file: its name, its attributes and how many tracers it holds
    (``count``: ``None`` for one tracer with the grid's dims, ``n`` for a leading ``tracer`` dim)."""

    name: str = CONCENTRATION
    count: int | None = None
    attrs: Mapping = dataclasses.field(default_factory=dict)

    @property
    def size(self) -> int:
        """Number of tracers the variable holds."""
        return 1 if self.count is None else int(self.count)

    @property
    def labels(self) -> list[str]:
        """One name per tracer: the variable's name, indexed along ``tracer`` when it has that dim."""
        return [self.name] if self.count is None else [f"{self.name}[{i}]" for i in range(self.count)]


@dataclasses.dataclass(frozen=True)
class Problem:
    """An advection problem read from a file.

    ``concentration`` has the grid's shape (one tracer) or a leading tracer axis (``(n, *grid.shape)``:
    every tracer of the file, stacked in the order of ``tracers``, the variables they come from; empty:
    one variable ``concentration``).  ``velocity`` is ordered like the array axes (``(y_velocity,
    x_velocity)`` in 2-D); each array has the grid's shape, or a leading time axis when
    ``time_dependent``: one field per step, or, with ``velocity_times``, fields at those physical
    times (interpolated linearly to each step's midpoint by the run).  ``tracer_coordinate`` is the
    file's ``tracer`` coordinate (values, attributes), if any.
    """

    grid: Grid
    concentration: np.ndarray
    velocity: tuple[np.ndarray, ...]
    time_dependent: bool = False
    units: Mapping[str, str] = dataclasses.field(default_factory=dict)
    tracers: tuple[TracerVariable, ...] = ()
    velocity_times: np.ndarray | None = None
    tracer_coordinate: tuple[np.ndarray, Mapping] | None = None

    def __post_init__(self):
        shape = np.shape(self.concentration)
        if shape[-self.grid.ndim :] != tuple(self.grid.shape) or len(shape) not in (self.grid.ndim, self.grid.ndim + 1):
            raise ValueError(f"concentration has shape {shape}, expected {self.grid.shape} or (n_tracers, *{self.grid.shape})")
        if self.tracers and sum(t.size for t in self.tracers) != self.n_tracers:
            raise ValueError(f"the tracer variables hold {sum(t.size for t in self.tracers)} tracers, "
                             f"the concentration {self.n_tracers}")
        if self.tracers and (len(self.tracers) == 1 and self.tracers[0].count is None) == self.batched:
            raise ValueError("a leading tracer axis needs several tracer variables or one with a count, and only then")
        if self.velocity_times is not None and not (self.time_dependent and len(self.velocity_times) == self.velocity[0].shape[0]):
            raise ValueError("velocity_times needs one time per velocity field (a time-dependent velocity)")

    @property
    def batched(self) -> bool:
        """Whether ``concentration`` has a leading tracer axis."""
        return np.ndim(self.concentration) == self.grid.ndim + 1

    @property
    def n_tracers(self) -> int:
        """Number of tracers advected."""
        return int(np.shape(self.concentration)[0]) if self.batched else 1

    @property
    def tracer_variables(self) -> tuple[TracerVariable, ...]:
        """The variables the tracers come from and go to (default: ``concentration``)."""
        return self.tracers or (TracerVariable(CONCENTRATION, self.n_tracers if self.batched else None),)

    @property
    def tracer_names(self) -> list[str]:
        """One name per tracer, in the order of the stack (``name[i]`` along a ``tracer`` dim)."""
        return [label for t in self.tracer_variables for label in t.labels]

    @property
    def interpolated(self) -> bool:
        """Whether the velocity is given at its own times (``velocity_time``), interpolated to each step."""
        return self.velocity_times is not None

    @property
    def n_velocity_steps(self) -> int | None:
        """Number of velocity fields in time (``None`` for a constant velocity)."""
        return int(self.velocity[0].shape[0]) if self.time_dependent else None


# Attribute names that netCDF or HDF5 reserve (or that xarray interprets): never copied to an output.
_RESERVED_ATTRS = frozenset({"DIMENSION_LIST", "REFERENCE_LIST", "CLASS", "NAME", "coordinates", "bounds", "dtype",
                             "scale_factor", "add_offset", "missing_value", "valid_range", "valid_min", "valid_max"})


def portable_attrs(attrs: Mapping) -> dict:
    """The attributes of ``attrs`` that can be written to an output file as they are: text, numbers and
    1-D arrays of numbers under names netCDF does not reserve (anything else is left out)."""
    out = {}
    for key, value in attrs.items():
        key = str(key)
        if not key or key.startswith("_") or key in _RESERVED_ATTRS or "/" in key or "\x00" in key:
            continue
        if isinstance(value, (bytes, np.bytes_)):
            value = bytes(value).decode("utf-8", "replace")
        if isinstance(value, (str, np.str_)):
            if "\x00" not in value:
                out[key] = str(value)
        elif isinstance(value, (bool, np.bool_)):
            out[key] = np.int8(value)
        elif isinstance(value, (int, np.integer)):
            if -(2**63) <= int(value) < 2**63:
                out[key] = value if isinstance(value, np.integer) else np.int64(value)
        elif isinstance(value, (float, np.floating)):
            out[key] = value if isinstance(value, np.floating) else np.float64(value)
        elif isinstance(value, (list, tuple, np.ndarray)):
            array = np.asarray(value) if not isinstance(value, np.ndarray) else value
            if array.ndim == 1 and array.size and array.dtype.kind in "iuf":
                out[key] = array
    return out


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


# --------------------------------------------------------------------------- reading
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


# How a missing file is reported, per kind of file (default: "KIND file not found: PATH").
_MISSING = {"reference": "{kind} file {path} does not exist"}
_FILE_TYPES = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _check_regular_file(path: Path, kind: str) -> None:
    """A missing path, a folder and anything but a regular file (a FIFO would block) are refused."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise UserError(_MISSING.get(kind, "{kind} file not found: {path}").format(kind=kind, path=path)) from None
    except OSError as e:
        raise UserError(f"cannot read {kind} file {path}: {e.strerror or e}") from None
    if stat.S_ISDIR(mode):
        raise UserError(f"{kind} is a folder, not a netCDF file: {path}")
    if not stat.S_ISREG(mode):
        what = next((name for test, name in _FILE_TYPES if test(mode)), "not a regular file")
        raise UserError(f"{kind} is {what}, not a netCDF file: {path}")


def _file_format(path: Path) -> str:
    """``"netcdf4"`` (HDF5) or ``"netcdf3"`` (classic or 64-bit offset), from the file's first bytes."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}") from None
    if head[:4] in NETCDF3_SIGNATURES:
        return "netcdf3"
    if head[:4] == b"CDF\x05":
        raise UserError(f"cannot read {path}: netCDF-3 files with 64-bit data (CDF5) are not supported; "
                        "convert it to netCDF-4 (e.g. nccopy -k nc4)")
    return "netcdf4"  # HDF5, the signature possibly after a user block (h5py looks for it)


def _itemsize(dtype, packed: bool) -> int:
    """Bytes per value once loaded (a packed integer variable is unpacked to floats)."""
    try:
        size = np.dtype(dtype).itemsize
    except TypeError:
        size = 0
    return max(size, 8) if packed or size == 0 else size


def _header(path: Path, fmt: str) -> tuple[dict[str, int], dict[str, tuple[tuple[int, ...], str, int]]]:
    """Dimension sizes and ``name -> (shape, dtype, bytes per value)`` of the variables, from the
    file's header only (no values are read)."""
    packing = ("scale_factor", "add_offset")
    if fmt == "netcdf3":
        import scipy.io

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = scipy.io.netcdf_file(path, "r", mmap=True)
            v = None
            try:
                variables = {}
                dims = {}
                for name, v in f.variables.items():
                    packed = any(hasattr(v, a) for a in packing)
                    variables[str(name)] = (tuple(v.shape), str(v.data.dtype), _itemsize(v.data.dtype, packed))
                    for d, n in zip(v.dimensions, v.shape):  # the record dimension's size is its variables'
                        dims[str(d)] = max(dims.get(str(d), 0), int(n))
                dims |= {str(k): n for k, n in f.dimensions.items() if n is not None}
                del v
            finally:
                f.close()
        return dims, variables
    import h5netcdf

    with h5netcdf.File(path, "r") as f:
        dims = {str(k): int(f.dimensions[k].size) for k in f.dimensions}
        variables = {}
        for name, v in f.variables.items():
            h5ds = getattr(v, "_h5ds", None)
            if h5ds is not None and (h5ds.external or h5ds.is_virtual):
                raise UserError(f"{path}: variable {name!r} is stored outside the file (external or virtual "
                                "HDF5 storage), which is not supported")
            packed = any(a in v.attrs for a in packing)
            variables[str(name)] = (tuple(int(n) for n in v.shape), str(v.dtype), _itemsize(v.dtype, packed))
    return dims, variables


def _check_size(path: Path, dims: Mapping[str, int], variables) -> None:
    """Refuse a file whose declared sizes exceed :data:`MAX_CELLS` or the memory available."""
    grid = [(d, dims[d]) for d in AXIS_NAMES[2] if d in dims]
    cells = math.prod(n for _, n in grid)
    if cells > MAX_CELLS:
        sizes = (f"{cells:,} cells along x" if len(grid) == 1
                 else " x ".join(f"{n:,}" for _, n in grid) + f" = {cells:,} cells")
        raise UserError(f"{path}: the grid has {sizes}, more than the limit of {MAX_CELLS:,} (2^28) cells per state")
    sizes = {name: math.prod(shape) * itemsize for name, (shape, _, itemsize) in variables.items()}
    total = sum(sizes.values())
    available = available_memory()
    if total and available is not None and total * READ_MEMORY_FACTOR > available:
        name = max(sizes, key=sizes.get)
        shape, dtype, _ = variables[name]
        raise UserError(
            f"{path}: the file holds {format_bytes(total)} of data (the largest, {name!r}, {shape} of {dtype}); "
            f"reading it needs about {READ_MEMORY_FACTOR}x that and {format_bytes(available)} of memory is available"
        )


def open_netcdf(path, kind: str = "input"):
    """Open a netCDF file and load it into memory (times not decoded).

    netCDF-4 (HDF5, engine ``h5netcdf``) and netCDF-3 classic or 64-bit offset files (engine
    ``scipy``) are read.  Before any value is read the path must be a regular file (not a folder, a
    FIFO or a device) and the sizes declared in the file's header must be within :data:`MAX_CELLS`
    cells per state and the memory available (:data:`READ_MEMORY_FACTOR`).  ``kind`` names the file
    in the messages: every problem is a one-line :class:`UserError`.
    """
    import xarray as xr

    path = Path(path)
    _check_regular_file(path, kind)
    fmt = _file_format(path)
    try:
        dims, variables = _header(path, fmt)
    except UserError:
        raise
    except Exception as e:  # h5py/h5netcdf/scipy raise a variety of types for unreadable files
        reason = _first_line(e)
        if fmt == "netcdf4" and "signature" in reason:
            reason = "not a netCDF-4 (HDF5) or netCDF-3 file"
        raise UserError(f"cannot read {path} as netCDF: {reason}") from None
    _check_size(path, dims, variables)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = xr.open_dataset(path, engine=ENGINE if fmt == "netcdf4" else "scipy", decode_times=False,
                                 decode_timedelta=False, decode_cf=True, cache=False)
    except Exception as e:  # h5py/h5netcdf/xarray raise a variety of types for unreadable files
        raise UserError(f"cannot read {path} as netCDF: {_first_line(e)}") from None
    try:
        with ds, warnings.catch_warnings():
            warnings.simplefilter("ignore")
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


def _problem_axes(ds, path) -> tuple[str, ...]:
    """The grid's dims: those of ``concentration`` (without a leading ``tracer``), or, without it, the
    velocity's (``x_velocity`` without a leading time dim)."""
    def spatial(dims, leading):
        return dims[1:] if dims and dims[0] in leading else dims

    if CONCENTRATION in ds.data_vars:
        dims = ds[CONCENTRATION].dims
        axes = spatial(dims, (TRACER_DIM,))
        if axes not in (AXIS_NAMES[1], AXIS_NAMES[2]):
            raise UserError(f"{path}: {CONCENTRATION!r} must have dims (x) or (y, x), optionally after a leading "
                            f"{TRACER_DIM!r}, got {dims}")
        return axes
    dims = _variable(ds, VELOCITY_NAMES["x"], path).dims
    axes = spatial(dims, ("time", VELOCITY_TIME))
    if axes not in (AXIS_NAMES[1], AXIS_NAMES[2]):
        raise UserError(f"{path}: missing variable {CONCENTRATION!r} (and 'x_velocity' has dims {dims}, not the grid's "
                        "(x) or (y, x) to find other tracers by)")
    return axes


def _tracer_names(ds, axes: tuple[str, ...], path) -> list[str]:
    """The data variables that are tracers (dims ``axes`` or ``(tracer, *axes)``), in file order.

    A variable holding the grid's dims in another order, or a ``tracer`` dim elsewhere than first, is
    refused (it would otherwise be left out silently); variables with other dims are not tracers.
    """
    velocities = set(VELOCITY_NAMES.values())
    names = []
    for name, var in ds.data_vars.items():
        name = str(name)
        if name in velocities:
            continue
        dims = var.dims
        if dims in (axes, (TRACER_DIM,) + axes):
            if name in ("time", TRACER_DIM, VELOCITY_TIME):
                raise UserError(f"{path}: a tracer may not be called {name!r} (a dimension of the output)")
            names.append(name)
        elif (set(dims) == set(axes) or set(dims) == {TRACER_DIM, *axes}) or (TRACER_DIM in dims and set(axes) & set(dims)):
            expected = f"({', '.join(axes)}) or ({TRACER_DIM}, {', '.join(axes)})"
            raise UserError(f"{path}: variable {name!r} has dims ({', '.join(map(str, dims))}); a tracer must have "
                            f"dims {expected}")
    if not names:
        raise UserError(f"{path}: missing variable {CONCENTRATION!r} (no variable with dims ({', '.join(axes)}) or "
                        f"({TRACER_DIM}, {', '.join(axes)}) to advect)")
    return names


def _tracer_coordinate(ds) -> tuple[np.ndarray, dict] | None:
    """The ``tracer`` coordinate (numbers or strings) and its attributes, if the file has one."""
    if TRACER_DIM not in ds.variables or ds[TRACER_DIM].dims != (TRACER_DIM,):
        return None
    values = np.asarray(ds[TRACER_DIM].values)
    if values.dtype.kind in "iuf":
        pass
    elif values.dtype.kind in "USO" and all(isinstance(v, (str, bytes)) for v in values.tolist()):
        values = np.array([v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values.tolist()], dtype=object)
    else:
        return None
    return values, portable_attrs(ds[TRACER_DIM].attrs)


def _velocity_times(ds, n: int, path) -> np.ndarray:
    """The ``velocity_time`` coordinate, checked: real, finite, strictly increasing, at least two."""
    if VELOCITY_TIME not in ds.variables:
        raise UserError(f"{path}: missing coordinate {VELOCITY_TIME!r} (the physical times of the velocity fields)")
    coord = ds[VELOCITY_TIME]
    if coord.dims != (VELOCITY_TIME,):
        raise UserError(f"{path}: coordinate {VELOCITY_TIME!r} must have dims ({VELOCITY_TIME},), got {coord.dims}")
    t = _real(np.asarray(coord.values), f"coordinate {VELOCITY_TIME!r}", path)
    if t.shape != (n,) or n < 2:
        raise UserError(f"{path}: the velocity needs at least two times to interpolate between, got {t.size}")
    if not np.all(np.isfinite(t)):
        raise UserError(f"{path}: coordinate {VELOCITY_TIME!r} contains NaN or Inf")
    with np.errstate(over="ignore", invalid="ignore"):
        steps = np.diff(t)
    if not np.all(steps > 0) or not np.all(np.isfinite(steps)):
        raise UserError(f"{path}: coordinate {VELOCITY_TIME!r} must be strictly increasing (with finite differences)")
    return t


def read_problem(path, dtype=np.float32) -> Problem:
    """Read and validate an advection problem (initial tracers, face velocities, grid).

    Every data variable with the grid's dims, or with a leading ``tracer`` dim, is a tracer (see the
    module's conventions); they are stacked into ``concentration`` (a leading tracer axis unless the
    file holds one tracer).  ``dtype`` is the dtype the run computes in: a value it cannot represent
    (beyond its range, or flushed to zero where that is not negligible next to the tracer's largest
    value) is refused, suggesting ``--x64`` for float32; each tracer is checked on its own.
    """
    path = Path(path)
    hint = "; use --x64 to compute in float64" if np.dtype(dtype) == np.float32 else ""
    ds = open_netcdf(path, "input")
    axes = _problem_axes(ds, path)
    tracers, fields = [], []
    for name in _tracer_names(ds, axes, path):
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
    for name in axes:
        vname = VELOCITY_NAMES[name]
        var = _variable(ds, vname, path)
        if var.dims == axes:
            time_dims.add(None)
        elif var.dims in (("time",) + axes, (VELOCITY_TIME,) + axes):
            time_dims.add((var.dims[0], var.shape[0]))
        else:
            grid_dims = ", ".join(axes)
            expected = f"({grid_dims}), (time, {grid_dims}) or ({VELOCITY_TIME}, {grid_dims})"
            raise UserError(f"{path}: {vname!r} must have dims {expected}, got {var.dims}")
        spatial = tuple(var.sizes[a] for a in axes)
        if spatial != shape:
            raise UserError(f"{path}: {vname!r} has shape {spatial}, concentration has shape {shape}")
        velocity.append(_finite(np.asarray(var.values), vname, path, dtype, hint))
    if len(time_dims) > 1:
        described = sorted("constant" if d is None else f"{d[0]} of length {d[1]}" for d in time_dims)
        raise UserError(f"{path}: velocity components disagree on time dependence ({', '.join(described)})")
    (time_dim,) = time_dims
    if time_dim is not None and time_dim[1] == 0:
        raise UserError(f"{path}: time-dependent velocity has no time steps")
    times = _velocity_times(ds, time_dim[1], path) if time_dim is not None and time_dim[0] == VELOCITY_TIME else None
    units = {k: str(ds[k].attrs["units"]) for k in axes if "units" in ds[k].attrs}
    return Problem(grid, c0, tuple(velocity), time_dim is not None, units, tuple(tracers), times,
                   _tracer_coordinate(ds) if c0.ndim == grid.ndim + 1 else None)


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
    States and velocities are returned as float32 (values float32 cannot represent are refused) and
    checked as strictly as :func:`read_problem` checks its input.
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


# --------------------------------------------------------------------------- writing
def write_dataset_atomic(ds, path, overwrite: bool = False, inputs=()) -> Path:
    """Write an xarray dataset to ``path`` atomically (checked first with :func:`check_output_path`)."""
    path = check_output_path(path, overwrite, inputs)
    encoding = {name: {"_FillValue": None} for name in list(ds.data_vars) + list(ds.coords)}
    with atomic_path(path, overwrite=overwrite) as tmp:
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


def _velocity_vars(grid: Grid, velocity: Sequence, time_dependent: bool, time_dim: str = "time") -> dict:
    names = AXIS_NAMES[grid.ndim]
    if len(velocity) != grid.ndim:
        raise ValueError(f"need {grid.ndim} velocity components ordered like the axes, got {len(velocity)}")
    out = {}
    for a, (name, u) in enumerate(zip(names, velocity)):
        u = np.asarray(u)
        dims = ((time_dim,) if time_dependent else ()) + names
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
    velocity_times=None,
    overwrite: bool = False,
    attrs: Mapping | None = None,
    command: str | None = None,
) -> Path:
    """Write an input file for ``learned-advection simulate``.

    ``concentration`` is one tracer (the grid's shape), several (a leading tracer axis: written as
    ``concentration(tracer, [y,] x)``), or a mapping of variable names to either (each a tracer
    variable of its own).  ``velocity`` is ordered like the array axes (``(y_velocity, x_velocity)``
    in 2-D); each component has the grid's shape, or a leading time axis when ``time_dependent``
    (inferred from the number of dimensions when not given): one field per step, or, with
    ``velocity_times`` (strictly increasing physical times), fields at those times on the dim
    ``velocity_time`` (interpolated linearly to each step's midpoint by ``simulate``).
    """
    import xarray as xr

    names = AXIS_NAMES[grid.ndim]
    tracers = dict(concentration) if isinstance(concentration, Mapping) else {CONCENTRATION: concentration}
    data_vars, n_tracer = {}, set()
    for name, values in tracers.items():
        c = np.asarray(values)
        if c.shape[-grid.ndim :] != grid.shape or c.ndim not in (grid.ndim, grid.ndim + 1):
            raise ValueError(f"{name} has shape {c.shape}, grid has shape {grid.shape}")
        if c.ndim > grid.ndim:
            n_tracer.add(c.shape[0])
        dims = ((TRACER_DIM,) if c.ndim > grid.ndim else ()) + names
        data_vars[str(name)] = (dims, c, {"units": "1", "long_name": "tracer concentration (cell average)"})
    if len(n_tracer) > 1:
        raise ValueError(f"variables with a tracer axis must agree on its length, got {sorted(n_tracer)}")
    if time_dependent is None:
        time_dependent = np.ndim(velocity[0]) == grid.ndim + 1
    coords = _coords(grid)
    if velocity_times is not None:
        times = np.asarray(velocity_times, np.float64)
        if not time_dependent or times.shape != (np.shape(velocity[0])[0],):
            raise ValueError(f"velocity_times needs one time per velocity field, got {times.shape}")
        coords[VELOCITY_TIME] = (VELOCITY_TIME, times, {"units": "1", "long_name": "time of the velocity fields"})
    data_vars.update(_velocity_vars(grid, velocity, time_dependent, "time" if velocity_times is None else VELOCITY_TIME))
    global_attrs = {
        "Conventions": "CF-1.8",
        "title": "learned-advection problem: initial concentration and C-grid face velocities",
        "source": f"learned-advection {__version__}",
        "history": _history(command),
        "periodic": "true",
    }
    global_attrs.update(attrs or {})
    ds = xr.Dataset(data_vars, coords=coords, attrs=global_attrs)
    return write_dataset_atomic(ds, path, overwrite)


class TrajectoryWriter:
    """Appends saved states to a trajectory file being written (see :func:`simulation_writer`).

    ``n_frames`` states of shape ``frame_shape`` are expected, initial state first; :meth:`append`
    writes the next ones with their times.  ``variables`` is the one variable a state goes to, or a
    sequence of ``(variable, count)``: the state's leading (tracer) axis is split among them in
    order, ``count`` rows each (``None``: one row, written without a tracer dim).
    """

    def __init__(self, variables, time, n_frames: int, frame_shape: tuple[int, ...]):
        self._variables = list(variables) if isinstance(variables, (list, tuple)) else None
        self._concentration = variables
        self._time = time
        self.n_frames = int(n_frames)
        self.frame_shape = tuple(frame_shape)
        self.n_written = 0

    def append(self, states, times) -> None:
        """Write ``states`` (``(k, *frame_shape)``) and their ``times`` (``k`` values) after those written."""
        states = np.asarray(states)
        times = np.asarray(times, dtype=np.float64).reshape(-1)
        k = states.shape[0] if states.ndim else 0
        if states.shape[1:] != self.frame_shape or times.shape != (k,):
            raise ValueError(f"states of shape {states.shape} do not match frames {self.frame_shape} and {times.size} times")
        if self.n_written + k > self.n_frames:
            raise ValueError(f"{self.n_written + k} frames written to a file of {self.n_frames}")
        if k:
            frames = slice(self.n_written, self.n_written + k)
            if self._variables is None:
                self._concentration[frames] = states
            else:
                row = 0
                for variable, count in self._variables:
                    variable[frames] = states[:, row] if count is None else states[:, row : row + count]
                    row += 1 if count is None else count
            self._time[frames] = times
            self.n_written += k


def simulation_bytes(grid: Grid, n_frames: int, dtype, n_tracers: int = 1) -> int:
    """Size on disk of a trajectory of ``n_frames`` states of ``n_tracers`` tracers (data and
    coordinates; a few KiB of headers)."""
    state = int(np.prod(grid.shape)) * np.dtype(dtype).itemsize * int(n_tracers)
    return int(n_frames) * (state + 8) + 8 * (sum(grid.shape) + int(n_tracers)) + 65536


def _layout(grid: Grid, tracers) -> tuple[tuple[TracerVariable, ...], tuple[int, ...], int | None]:
    """The tracer variables (default: ``concentration``), the shape of one saved state and the length of
    the ``tracer`` dim (``None``: no variable has one)."""
    tracers = tuple(tracers or (TracerVariable(),))
    counts = {t.count for t in tracers if t.count is not None}
    if len(counts) > 1:
        raise ValueError(f"tracer variables disagree on the length of the {TRACER_DIM} dim: {sorted(counts)}")
    names = [t.name for t in tracers]
    if len(set(names)) != len(names):
        raise ValueError(f"tracer variables need distinct names, got {names}")
    n = sum(t.size for t in tracers)
    batched = not (len(tracers) == 1 and tracers[0].count is None)
    return tracers, ((n,) if batched else ()) + tuple(grid.shape), next(iter(counts), None)


@contextmanager
def simulation_writer(
    path,
    grid: Grid,
    n_frames: int,
    dtype,
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
    inputs=(),
    tracers: Sequence[TracerVariable] | None = None,
    tracer_coordinate: tuple[np.ndarray, Mapping] | None = None,
) -> Iterator[TrajectoryWriter]:
    """Stream a trajectory ``concentration(time, [y,] x)`` of ``n_frames`` states to ``path``.

    ``tracers`` (default: one ``concentration``) are the variables written, each under its own name
    with its attributes (and the run's settings): ``(time, [y,] x)``, or ``(time, tracer, [y,] x)``
    for a variable with a ``count``; a saved state then has a leading tracer axis, the variables' rows
    in order.  ``tracer_coordinate`` (values, attributes) becomes the ``tracer`` coordinate.  The block
    appends the states (initial state first) with :meth:`TrajectoryWriter.append`, as they are
    computed; the file (the layout and metadata of :func:`write_simulation`) is written into a
    temporary file in the output folder and renamed into place when the block ends with all
    ``n_frames`` written.  An error or Ctrl-C in the block removes it: nothing partial is ever left and
    an existing ``path`` is untouched.  ``path`` is checked first (:func:`check_output_path`).
    """
    import h5netcdf

    n_frames = int(n_frames)
    dtype = np.dtype(dtype)
    tracers, frame_shape, n_tracer_dim = _layout(grid, tracers)
    path = check_output_path(path, overwrite, inputs)
    names = AXIS_NAMES[grid.ndim]
    conc_attrs, global_attrs = _simulation_attrs(grid, scheme, dt, courant, n_steps, save_every, attrs, command)
    with atomic_path(path, overwrite=overwrite) as tmp:
        f = h5netcdf.File(tmp, "w")
        try:
            tracer_dim = {} if n_tracer_dim is None else {TRACER_DIM: n_tracer_dim}
            f.dimensions = {"time": n_frames, **tracer_dim, **dict(zip(names, grid.shape))}
            for name, (dim, values, var_attrs) in _coords(grid, units).items():
                f.create_variable(name, (dim,), data=values).attrs.update(var_attrs)
            if n_tracer_dim is not None and tracer_coordinate is not None:
                values, label_attrs = tracer_coordinate
                values = np.asarray(values)
                if values.shape == (n_tracer_dim,):
                    if values.dtype.kind in "USO":
                        import h5py

                        label = f.create_variable(TRACER_DIM, (TRACER_DIM,), dtype=h5py.string_dtype())
                        label[:] = np.array([str(v) for v in values.tolist()], dtype=object)
                    else:
                        label = f.create_variable(TRACER_DIM, (TRACER_DIM,), data=values)
                    label.attrs.update(portable_attrs(label_attrs))
            time = f.create_variable("time", ("time",), dtype=np.float64)
            time.attrs.update({"units": "1", "long_name": "time", "axis": "T"})
            variables = []
            for tracer in tracers:
                dims = ("time",) + (() if tracer.count is None else (TRACER_DIM,)) + names
                variable = f.create_variable(tracer.name, dims, dtype=dtype)
                variable.attrs.update(_tracer_attrs(conc_attrs, tracer.attrs))
                variables.append((variable, tracer.count))
            f.attrs.update(global_attrs)
            target = variables if len(frame_shape) > grid.ndim else variables[0][0]
            writer = TrajectoryWriter(target, time, n_frames, frame_shape)
            yield writer
            if writer.n_written != n_frames:
                raise ValueError(f"{writer.n_written} of {n_frames} frames written to {path}")
        finally:
            f.close()


def write_simulation(path, grid: Grid, states, times, **options) -> Path:
    """Write ``concentration(time, [y,] x)`` (initial state first) with CF-style metadata, all states at
    once; ``options`` (``scheme``, ``dt``, ``courant``, ``tracers``, ...) are those of
    :func:`simulation_writer`, which streams them (with ``tracers``, a state has their leading axis)."""
    states = np.asarray(states)
    times = np.asarray(times, dtype=np.float64)
    _, frame_shape, _ = _layout(grid, options.get("tracers"))
    if states.shape[1:] != frame_shape or states.shape[0] != times.shape[0]:
        raise ValueError(f"states of shape {states.shape} do not match states {frame_shape} and {times.size} times")
    with simulation_writer(path, grid, states.shape[0], states.dtype, **options) as writer:
        writer.append(states, times)
    return Path(path)


def _tracer_attrs(defaults: Mapping, own: Mapping) -> dict:
    """A tracer variable's attributes in the output: the defaults, its own from the input (which win),
    then the run's settings (which win over both)."""
    run = {k: defaults[k] for k in ("scheme", "dt", "courant_number", "n_steps", "save_every") if k in defaults}
    return {**defaults, **portable_attrs(own), **run}


def _simulation_attrs(grid: Grid, scheme, dt, courant, n_steps, save_every, attrs, command) -> tuple[dict, dict]:
    """The attributes of ``concentration`` and the global attributes of a trajectory file."""
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
    return conc_attrs, global_attrs


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
