"""Writing problems and reference trajectories (trajectories of a run:
:mod:`~learned_advection.data.netcdf.trajectories`).  Writes are atomic: a temporary file in the
destination folder is renamed over the destination only once it is complete, so a failed or
interrupted write leaves nothing behind."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from learned_advection._version import __version__
from learned_advection.data.netcdf.conventions import (
    AXIS_NAMES,
    CONCENTRATION,
    ENGINE,
    TRACER_DIM,
    VELOCITY_NAMES,
    VELOCITY_TIME,
    coordinate_variables,
    history,
)
from learned_advection.files import atomic_path, check_output_path
from learned_advection.numerics.grids import Grid


def write_dataset_atomic(ds, path, overwrite: bool = False, inputs=()) -> Path:
    """Write an xarray dataset to ``path`` atomically (checked first with :func:`check_output_path`).

    Parameters
    ----------
    ds : xarray.Dataset
        The dataset (written without fill values).
    path : path
        The output file.
    overwrite : bool, default False
        Replace an existing ``path``.
    inputs : sequence of paths, default ()
        Input files the output may not replace.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = check_output_path(path, overwrite, inputs)
    encoding = {name: {"_FillValue": None} for name in list(ds.data_vars) + list(ds.coords)}
    with atomic_path(path, overwrite=overwrite) as tmp:
        ds.to_netcdf(tmp, engine=ENGINE, encoding=encoding)
    return path


def _velocity_vars(grid: Grid, velocity: Sequence, time_dependent: bool, time_dim: str = "time") -> dict:
    names = AXIS_NAMES[grid.ndim]
    if len(velocity) != grid.ndim:
        raise ValueError(f"need {grid.ndim} velocity components ordered like the axes, got {len(velocity)}")
    out = {}
    for name, u in zip(names, velocity):
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

    Parameters
    ----------
    path : path
        The output file.
    grid : Grid
        The grid.
    concentration : array or mapping
        One tracer (the grid's shape), several (a leading tracer axis: written as
        ``concentration(tracer, [y,] x)``), or a mapping of variable names to either (each a tracer
        variable of its own).
    velocity : sequence of arrays
        Ordered like the array axes (``(y_velocity, x_velocity)`` in 2-D); each component has the
        grid's shape, or a leading time axis when ``time_dependent``.
    time_dependent : bool, optional
        Whether the velocity has a leading time axis (inferred from the number of dimensions when not
        given): one field per step, or fields at ``velocity_times``.
    velocity_times : array_like, optional
        Strictly increasing physical times of the velocity fields, on the dim ``velocity_time``
        (interpolated linearly to each step's midpoint by ``simulate``).
    overwrite : bool, default False
        Replace an existing ``path``.
    attrs : mapping, optional
        More global attributes.
    command : str, optional
        The command line, for the ``history`` attribute.

    Returns
    -------
    pathlib.Path
        The path written.
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
    coords = coordinate_variables(grid)
    if velocity_times is not None:
        times = np.asarray(velocity_times, np.float64)
        if not time_dependent or times.shape != (np.shape(velocity[0])[0],):
            raise ValueError(f"velocity_times needs one time per velocity field, got {times.shape}")
        coords[VELOCITY_TIME] = (VELOCITY_TIME, times, {"units": "1", "long_name": "time of the velocity fields"})
    data_vars.update(
        _velocity_vars(grid, velocity, time_dependent, "time" if velocity_times is None else VELOCITY_TIME)
    )
    global_attrs = {
        "Conventions": "CF-1.8",
        "title": "learned-advection problem: initial concentration and C-grid face velocities",
        "source": f"learned-advection {__version__}",
        "history": history(command),
        "periodic": "true",
    }
    global_attrs.update(attrs or {})
    ds = xr.Dataset(data_vars, coords=coords, attrs=global_attrs)
    return write_dataset_atomic(ds, path, overwrite)


def write_reference(path, data) -> Path:
    """Write :class:`~learned_advection.data.reference.Trajectories` in the layout
    :func:`~learned_advection.data.netcdf.readers.read_reference` reads (replacing ``path``).

    Parameters
    ----------
    path : path
        The output file.
    data : Trajectories
        The reference trajectories.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    import xarray as xr

    names = AXIS_NAMES[data.grid.ndim]
    coords = coordinate_variables(data.grid)
    coords["time"] = (
        "time",
        data.dt * np.arange(data.states.shape[1]),
        {"units": "1", "long_name": "time", "axis": "T"},
    )
    vdims = ("sample", "time") if data.time_dependent_velocity else ("sample",)
    ds = xr.Dataset(
        {CONCENTRATION: (("sample", "time", *names), data.states)}
        | {VELOCITY_NAMES[d]: ((*vdims, *names), data.velocity[a]) for a, d in enumerate(names)},
        coords=coords,
    )
    return write_dataset_atomic(ds, path, overwrite=True)
