"""netCDF input and output of advection problems, trajectories and reference trajectories.

One module per concept: :mod:`~learned_advection.data.netcdf.conventions` (the names and layout every
file follows), :mod:`~learned_advection.data.netcdf.problem` (the :class:`Problem` a file holds),
:mod:`~learned_advection.data.netcdf.regional` (walls, open sides and sources of a regional problem),
:mod:`~learned_advection.data.netcdf.checks` (opening a file: path, format and declared sizes checked
before any value is read), ``learned_advection.data.netcdf.times`` (the run's time unit and the
velocity's times in it), :mod:`~learned_advection.data.netcdf.readers`,
:mod:`~learned_advection.data.netcdf.writers` (problems, references) and
:mod:`~learned_advection.data.netcdf.trajectories` (the trajectory of a run, streamed).  Their public names are re-exported here, so
``from learned_advection.data import netcdf as io`` gives ``io.read_problem``, ``io.write_simulation``, ...

Every problem with the input is reported as :class:`~learned_advection.errors.UserError` with a
one-line message; every write is atomic.
"""

from __future__ import annotations

from learned_advection.data.netcdf.checks import MAX_CELLS, READ_MEMORY_FACTOR, open_netcdf
from learned_advection.data.netcdf.conventions import (
    AXIS_NAMES,
    BOUNDARY_ATTRS,
    BOUNDARY_TIME,
    CONCENTRATION,
    ENGINE,
    FACE_DIMS,
    SOURCE_TIME,
    SPACING_RTOL,
    TRACER_DIM,
    VELOCITY_NAMES,
    VELOCITY_TIME,
    boundary_variable,
    portable_attrs,
    source_variable,
)
from learned_advection.data.netcdf.problem import Problem, SideValues, Sources, TracerVariable
from learned_advection.data.netcdf.readers import read_problem, read_reference, read_simulation
from learned_advection.data.netcdf.trajectories import (
    TrajectoryWriter,
    simulation_bytes,
    simulation_writer,
    write_simulation,
)
from learned_advection.data.netcdf.writers import write_dataset_atomic, write_problem, write_reference

__all__ = [
    "AXIS_NAMES",
    "BOUNDARY_ATTRS",
    "BOUNDARY_TIME",
    "CONCENTRATION",
    "ENGINE",
    "FACE_DIMS",
    "MAX_CELLS",
    "READ_MEMORY_FACTOR",
    "SOURCE_TIME",
    "SPACING_RTOL",
    "TRACER_DIM",
    "VELOCITY_NAMES",
    "VELOCITY_TIME",
    "Problem",
    "SideValues",
    "Sources",
    "TracerVariable",
    "TrajectoryWriter",
    "boundary_variable",
    "open_netcdf",
    "portable_attrs",
    "read_problem",
    "read_reference",
    "read_simulation",
    "simulation_bytes",
    "simulation_writer",
    "source_variable",
    "write_dataset_atomic",
    "write_problem",
    "write_reference",
    "write_simulation",
]
