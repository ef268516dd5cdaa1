"""Opening a netCDF file safely: what the path is, which format its first bytes say, and the sizes its
header declares, all checked before any value is read (:func:`open_netcdf`)."""

from __future__ import annotations

import math
import os
import stat
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from learned_advection.data.netcdf.conventions import AXIS_NAMES, ENGINE
from learned_advection.errors import UserError
from learned_advection.files import available_memory, format_bytes

# Size limits, checked on the file's header before any value is read (a small compressed or sparse
# file can declare far more data than it holds): at most MAX_CELLS cells per state (2^28, e.g.
# 16384 x 16384), and the declared data times READ_MEMORY_FACTOR (the values, a converted copy and
# the checks' temporaries) within the memory available (:func:`available_memory`).
MAX_CELLS = 2**28
READ_MEMORY_FACTOR = 3
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
NETCDF3_SIGNATURES = (b"CDF\x01", b"CDF\x02")  # classic and 64-bit offset, read with scipy


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


# How a missing file is reported, per kind of file (default: "KIND file not found: PATH").
_MISSING = {"reference": "{kind} file {path} does not exist"}


_FILE_TYPES = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


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
        raise UserError(
            f"cannot read {path}: netCDF-3 files with 64-bit data (CDF5) are not supported; "
            "convert it to netCDF-4 (e.g. nccopy -k nc4)"
        )
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
                raise UserError(
                    f"{path}: variable {name!r} is stored outside the file (external or virtual "
                    "HDF5 storage), which is not supported"
                )
            packed = any(a in v.attrs for a in packing)
            variables[str(name)] = (tuple(int(n) for n in v.shape), str(v.dtype), _itemsize(v.dtype, packed))
    return dims, variables


def _check_size(path: Path, dims: Mapping[str, int], variables) -> None:
    """Refuse a file whose declared sizes exceed :data:`MAX_CELLS` or the memory available."""
    grid = [(d, dims[d]) for d in AXIS_NAMES[2] if d in dims]
    cells = math.prod(n for _, n in grid)
    if cells > MAX_CELLS:
        sizes = (
            f"{cells:,} cells along x"
            if len(grid) == 1
            else " x ".join(f"{n:,}" for _, n in grid) + f" = {cells:,} cells"
        )
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
    cells per state and the memory available (:data:`READ_MEMORY_FACTOR`).

    Parameters
    ----------
    path : path
        The file.
    kind : str, default "input"
        What the file is, as the messages name it.

    Returns
    -------
    xarray.Dataset
        The file's contents, loaded.

    Raises
    ------
    UserError
        Any problem with the file, in one line.
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
            ds = xr.open_dataset(
                path,
                engine=ENGINE if fmt == "netcdf4" else "scipy",
                decode_times=False,
                decode_timedelta=False,
                decode_cf=True,
                cache=False,
            )
    except Exception as e:  # h5py/h5netcdf/xarray raise a variety of types for unreadable files
        raise UserError(f"cannot read {path} as netCDF: {_first_line(e)}") from None
    try:
        with ds, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ds.load()
    except Exception as e:  # corrupt data discovered while loading values
        raise UserError(f"cannot read {path}: {_first_line(e)}") from None
