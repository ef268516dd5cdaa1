"""Tracer names the output (netCDF-4) cannot hold, or that would break a one-line summary, are refused when
the input is read; every other name goes through a run's output unchanged."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.io
import xarray as xr

from learned_advection.data import netcdf as io
from learned_advection.errors import UserError
from learned_advection.numerics.grids import Grid

GRID = Grid((8,), (1.0,))


def _netcdf4(path, names):
    """A netCDF-4 file with ``concentration``, the tracers ``names`` and a constant velocity."""
    data = {name: ("x", np.ones(8)) for name in ("concentration", *names, "x_velocity")}
    xr.Dataset(data, coords={"x": GRID.centres(0)}).to_netcdf(path, engine="h5netcdf")
    return path


def _netcdf3(path, names, tracer_labels=None):
    """A netCDF-3 file (any variable name scipy writes) with ``concentration``, the tracers ``names`` and a
    constant velocity; ``tracer_labels``: one more tracer variable along a ``tracer`` coordinate of those labels."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = scipy.io.netcdf_file(path, "w")
        try:
            f.createDimension("x", 8)
            f.createVariable("x", "f8", ("x",))[:] = GRID.centres(0)
            for name in ("concentration", *names, "x_velocity"):
                f.createVariable(name, "f8", ("x",))[:] = 1.0
            if tracer_labels is not None:
                f.createDimension("tracer", len(tracer_labels))
                f.createVariable("dust", "f8", ("tracer", "x"))[:] = 1.0
                width = max(len(label) for label in tracer_labels)
                f.createDimension("label", width)
                labels = f.createVariable("tracer", "c", ("tracer", "label"))
                labels[:] = np.array([list(label.ljust(width, "\0")) for label in tracer_labels], "S1")
        finally:
            f.close()
    return path


@pytest.mark.parametrize(
    "name, match",
    [
        ("dust/pm10", "contains '/', which a netCDF-4 variable name cannot hold"),
        ("/dust", "contains '/'"),
        ("dust\npm10", "contains control or line-break characters"),
        ("dust\tpm10", "contains control or line-break characters"),
        ("dust\rpm10", "contains control or line-break characters"),
        ("dust\x1bpm10", "contains control or line-break characters"),
        ("dust\u2028pm10", "contains control or line-break characters"),
        ("", "is not a name a netCDF-4 variable can have"),
        (".", "is not a name a netCDF-4 variable can have"),
        (" dust", "starts or ends with whitespace"),
        ("dust ", "starts or ends with whitespace"),
    ],
)
def test_names_the_output_cannot_hold_are_refused_in_one_line(tmp_path, name, match):
    write = _netcdf3 if name.isascii() else _netcdf4  # scipy writes latin-1 names only
    path = write(tmp_path / "in.nc", [name])
    with pytest.raises(UserError, match=match) as info:
        io.read_problem(path)
    message = str(info.value)
    assert len(message.splitlines()) == 1 and f"the tracer variable {name!r} " in message


@pytest.mark.parametrize("name", ["dust.pm10", "dust pm10", "poussière", "_dust", "..", "#1", "PM2.5 (µg)"])
def test_other_names_go_through_a_run_unchanged(tmp_path, name):
    problem = io.read_problem(_netcdf3(tmp_path / "in.nc", [name]))
    assert problem.tracer_names == ["concentration", name]
    states = np.ones((2,) + problem.concentration.shape, np.float32)
    io.write_simulation(
        tmp_path / "out.nc", GRID, states, [0.0, 1.0], scheme="upwind", dt=1.0, courant=0.5, tracers=problem.tracers
    )
    assert list(io.read_simulation(tmp_path / "out.nc").data_vars) == ["concentration", name]


def test_a_tracer_label_with_a_nul_is_refused_others_are_kept(tmp_path):
    """A netCDF-4 string ends at a NUL: such a label could not be written after the run."""
    problem = io.read_problem(_netcdf3(tmp_path / "ok.nc", [], ["fine/PM2.5", "coarse"]))
    assert list(problem.tracer_coordinate[0]) == ["fine/PM2.5", "coarse"]
    path = _netcdf3(tmp_path / "bad.nc", [], ["fi\0ne", "coarse"])
    with pytest.raises(UserError, match=r"coordinate 'tracer' holds the label 'fi\\x00ne', with a NUL character"):
        io.read_problem(path)
