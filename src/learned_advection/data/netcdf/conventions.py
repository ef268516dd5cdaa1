"""The conventions of every netCDF file the package reads or writes (xarray, engine ``h5netcdf``).

File conventions (shared with every tool that reads or writes our files):

* tracers: ``concentration`` and every other data variable with dims ``(x)`` or ``(y, x)`` (the
  grid's), or with a leading ``tracer`` dim (several tracers under one name): cell averages, all
  advected by the same flow;
* ``x_velocity`` (and in 2-D ``y_velocity``) with the grid's dims; or with a leading ``time`` dim
  (one field per step); or with a leading ``velocity_time`` dim and a ``velocity_time`` coordinate
  (fields at those physical times, strictly increasing, at any spacing: interpolated linearly to each
  step's midpoint; plain numbers, durations or dates, in the time unit of the velocity's ``units``:
  ``learned_advection.data.netcdf.times``).  Without a leading dim the velocity is constant.
  ``x_velocity[..., i]`` is the velocity on the face between cells ``i`` and ``i + 1`` (the + face,
  Arakawa C-grid), likewise ``y_velocity[j, ...]``;
* coordinates ``x`` (and ``y``) hold cell-centre positions with uniform spacing ``dx``; the periodic
  domain spans ``N dx`` starting at ``x[0] - dx/2``;
* regional domains: the global attribute ``x_boundary`` (``y_boundary``) is ``periodic`` (the default),
  ``wall``, ``open`` or two words ``LOW HIGH`` (``open wall``).  Along a non-periodic axis the velocity
  component of that axis has the dim ``x_face`` (``y_face``) of ``n + 1`` faces (``-1/2 .. n - 1/2``)
  instead of ``x`` (``y``), zero on a wall.  An open side needs each tracer's value there,
  ``<tracer>_<axis>_<low|high>`` (``concentration_x_low``): dims ``()``, a profile along the side
  (``(y,)`` on an x side), optionally after a ``boundary_time`` dim and coordinate (values at those times,
  interpolated linearly), after a ``tracer`` dim for a variable of several tracers.  ``<tracer>_source``
  (the tracer's dims, optionally after a ``source_time`` dim and coordinate) is an emission rate in tracer
  units per time unit.  These variables are not tracers;
* trajectories: ``concentration(time, [y,] x)`` (and every other tracer under its own name, with
  its attributes, ``(time, [tracer,] [y,] x)``) with a ``time`` coordinate in physical time (CF
  ``units`` when the run's time unit is known), the initial state first, and CF-style attributes
  describing the run;
* reference trajectories (training and evaluation data): ``concentration([sample,] time, [y,] x)``
  and face velocities with optional ``sample`` and ``time`` dims
  (:func:`~learned_advection.data.netcdf.readers.read_reference`).

In memory, velocities are tuples ordered like the array axes: ``(x_velocity,)`` in 1-D and
``(y_velocity, x_velocity)`` in 2-D (see :mod:`learned_advection.numerics.grids`).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping

import numpy as np

from learned_advection._version import __version__
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
# Regional domains: the global attribute giving an axis's boundaries, the dim of a velocity's n + 1 faces
# along a non-periodic axis, the sides' names, the kinds of a side, and the time dims of boundary values
# and emission sources at their own times.
BOUNDARY_ATTRS = {"x": "x_boundary", "y": "y_boundary"}
FACE_DIMS = {"x": "x_face", "y": "y_face"}
SIDES = ("low", "high")
SIDE_KINDS = ("wall", "open")
PERIODIC = "periodic"
BOUNDARY_TIME = "boundary_time"
SOURCE_TIME = "source_time"


def boundary_variable(tracer: str, axis: str, side: str) -> str:
    """The name of a tracer's boundary value at one side: ``concentration_x_low``.

    Parameters
    ----------
    tracer : str
        The tracer variable's name.
    axis : str
        ``"x"`` or ``"y"``.
    side : str
        ``"low"`` or ``"high"``.

    Returns
    -------
    str
    """
    return f"{tracer}_{axis}_{side}"


def source_variable(tracer: str) -> str:
    """The name of a tracer's emission source: ``concentration_source``.

    Parameters
    ----------
    tracer : str
        The tracer variable's name.

    Returns
    -------
    str
    """
    return f"{tracer}_source"


# Attribute names that netCDF or HDF5 reserve (or that xarray interprets): never copied to an output.
_RESERVED_ATTRS = frozenset(
    {
        "DIMENSION_LIST",
        "REFERENCE_LIST",
        "CLASS",
        "NAME",
        "coordinates",
        "bounds",
        "dtype",
        "scale_factor",
        "add_offset",
        "missing_value",
        "valid_range",
        "valid_min",
        "valid_max",
    }
)


def portable_attrs(attrs: Mapping) -> dict:
    """The attributes of ``attrs`` that can be written to an output file as they are.

    Parameters
    ----------
    attrs : mapping
        Attributes, e.g. of an input variable.

    Returns
    -------
    dict
        Text, numbers and 1-D arrays of numbers under names netCDF does not reserve (anything else is
        left out).
    """
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


def coordinate_variables(grid: Grid, units: Mapping[str, str] | None = None) -> dict:
    """The coordinate variables of a grid: cell-centre positions, ``(dim, values, attributes)`` by name.

    Parameters
    ----------
    grid : Grid
        The grid.
    units : mapping, optional
        Units by coordinate name (default ``"1"``).

    Returns
    -------
    dict
    """
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


def history(command: str | None) -> str:
    """The ``history`` attribute of a file written now: a UTC time stamp and the command line.

    Parameters
    ----------
    command : str or None
        The command line (default: the package and its version).

    Returns
    -------
    str
    """
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{stamp}: {command or 'learned-advection ' + __version__}"
