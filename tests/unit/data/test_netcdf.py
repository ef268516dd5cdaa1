"""netCDF input/output: round trips and every invalid input (one-line UserError, nothing written)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import xarray as xr

from learned_advection import files
from learned_advection.data import netcdf as io
from learned_advection.errors import UserError
from learned_advection.numerics.grids import Grid


def _grid(ndim):
    return Grid((8,), (2.0,), (-1.0,)) if ndim == 1 else Grid((6, 8), (1.5, 2.0), (0.5, -1.0))


def _fields(grid, n_time=None, seed=0):
    rng = np.random.default_rng(seed)
    c = rng.uniform(0, 1, grid.shape)
    lead = () if n_time is None else (n_time,)
    velocity = tuple(rng.uniform(-1, 1, lead + grid.shape) for _ in range(grid.ndim))
    return c, velocity


def _dataset(grid, c, velocity, time_dependent=False):
    names = io.AXIS_NAMES[grid.ndim]
    dims = (("time",) if time_dependent else ()) + names
    data = {"concentration": (names, c)}
    for name, u in zip(names, velocity):
        data[io.VELOCITY_NAMES[name]] = (dims, u)
    return xr.Dataset(data, coords={n: (n, grid.centres(a)) for a, n in enumerate(names)})


def _write(ds, path):
    ds.to_netcdf(path, engine="h5netcdf")
    return path


def _one_line_error(path, match=None):
    with pytest.raises(UserError, match=match) as info:
        io.read_problem(path)
    assert "\n" not in str(info.value)
    return str(info.value)


@pytest.mark.parametrize("ndim", [1, 2])
@pytest.mark.parametrize("n_time", [None, 5])
def test_problem_round_trip(tmp_path, ndim, n_time):
    grid = _grid(ndim)
    c, velocity = _fields(grid, n_time)
    path = io.write_problem(tmp_path / "p.nc", grid, c, velocity)
    p = io.read_problem(path)
    assert p.grid.shape == grid.shape
    np.testing.assert_allclose(p.grid.length, grid.length, rtol=1e-12)
    np.testing.assert_allclose(p.grid.origin, grid.origin, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(p.concentration, c)
    assert p.time_dependent == (n_time is not None)
    assert p.n_velocity_steps == n_time
    for got, want in zip(p.velocity, velocity):
        np.testing.assert_array_equal(got, want)


def test_file_layout_follows_conventions(tmp_path):
    grid = _grid(2)
    c, (vy, vx) = _fields(grid)
    io.write_problem(tmp_path / "p.nc", grid, c, (vy, vx))
    with xr.open_dataset(tmp_path / "p.nc", engine="h5netcdf") as ds:
        assert ds["concentration"].dims == ("y", "x")
        np.testing.assert_array_equal(ds["x_velocity"].values, vx)
        np.testing.assert_array_equal(ds["y_velocity"].values, vy)
        np.testing.assert_allclose(ds["x"].values, grid.centres(1))
        np.testing.assert_allclose(ds["y"].values, grid.centres(0))
        assert ds["concentration"].attrs["units"]


def test_read_accepts_files_written_by_others(tmp_path):
    """Plain xarray files (float32, no attributes, integer coordinates) are valid input."""
    grid = Grid((5, 4), (5.0, 4.0))
    c, velocity = _fields(grid)
    ds = _dataset(grid, c.astype(np.float32), [u.astype(np.float32) for u in velocity])
    ds = ds.assign_coords(x=np.arange(4), y=np.arange(5) * 1.0)
    p = io.read_problem(_write(ds, tmp_path / "p.nc"))
    assert p.grid.spacing == (1.0, 1.0) and p.grid.origin == (-0.5, -0.5)
    assert p.concentration.dtype == np.float32


@pytest.mark.parametrize("ndim", [1, 2])
@pytest.mark.parametrize("n_time", [None, 4])
def test_trajectory_round_trip(tmp_path, ndim, n_time):
    grid = _grid(ndim)
    states = np.random.default_rng(1).uniform(size=(3,) + grid.shape).astype(np.float32)
    times = np.array([0.0, 0.5, 1.0])
    io.write_simulation(tmp_path / "t.nc", grid, states, times, scheme="vanleer", dt=0.1, courant=0.4,
                        n_steps=10, save_every=5, command="learned-advection simulate a b")
    ds = io.read_simulation(tmp_path / "t.nc")
    assert ds["concentration"].dims == ("time",) + io.AXIS_NAMES[ndim]
    assert ds["concentration"].dtype == np.float32
    np.testing.assert_array_equal(ds["concentration"].values, states)
    np.testing.assert_array_equal(ds["time"].values, times)
    for key in ("scheme", "dt", "courant_number", "history", "learned_advection_version", "Conventions"):
        assert key in ds.attrs
    assert ds.attrs["scheme"] == "vanleer" and "learned-advection simulate" in ds.attrs["history"]
    assert ds["concentration"].attrs["units"] and ds["concentration"].attrs["long_name"]


def test_write_refuses_existing_and_overwrites_on_request(tmp_path):
    grid = _grid(1)
    c, velocity = _fields(grid)
    path = io.write_problem(tmp_path / "p.nc", grid, c, velocity)
    before = path.read_bytes()
    with pytest.raises(UserError, match="exists"):
        io.write_problem(path, grid, c + 1, velocity)
    assert path.read_bytes() == before
    io.write_problem(path, grid, c + 1, velocity, overwrite=True)
    np.testing.assert_array_equal(io.read_problem(path).concentration, c + 1)
    assert sorted(os.listdir(tmp_path)) == ["p.nc"]  # no temporary files left


def test_write_refuses_missing_or_unwritable_folder(tmp_path, monkeypatch):
    grid = _grid(1)
    c, velocity = _fields(grid)
    with pytest.raises(UserError, match="does not exist"):
        io.write_problem(tmp_path / "nope" / "p.nc", grid, c, velocity)
    with pytest.raises(UserError, match="folder"):
        io.write_problem(tmp_path, grid, c, velocity)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root writes anywhere: pretend the permission check says no
            real_access = os.access
            monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(locked) else real_access(p, mode))
        with pytest.raises(UserError, match="not writable"):
            io.write_problem(locked / "p.nc", grid, c, velocity)
        assert os.listdir(locked) == []
    finally:
        locked.chmod(0o700)


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    grid = _grid(1)
    c, velocity = _fields(grid)
    path = io.write_problem(tmp_path / "p.nc", grid, c, velocity)
    before = path.read_bytes()

    def boom(self, *args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):  # the writer's own error, not a wrapped one
        io.write_problem(path, grid, c + 1, velocity, overwrite=True)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["p.nc"]


def test_text_and_json_writers_replace_atomically(tmp_path, monkeypatch):
    """Every output file goes through files.py: complete or untouched, usual permissions, no temporary left."""
    path = files.write_text_atomic(tmp_path / "run" / "report.md", "first")
    assert path.read_text() == "first"
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    files.write_json_atomic(tmp_path / "run" / "metrics.json", {"mae": [0.5, 0.25]})
    assert (tmp_path / "run" / "metrics.json").read_text() == '{\n  "mae": [\n    0.5,\n    0.25\n  ]\n}\n'

    def full_disk(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(type(path), "write_text", full_disk)
    with pytest.raises(UserError, match="cannot write .*report.md: No space left on device"):
        files.write_text_atomic(path, "second")
    monkeypatch.undo()
    assert path.read_text() == "first"
    assert sorted(os.listdir(path.parent)) == ["metrics.json", "report.md"]


@pytest.mark.parametrize("ndim", [1, 2])
@pytest.mark.parametrize("time_dependent", [False, True])
def test_reference_round_trip(tmp_path, ndim, time_dependent):
    from learned_advection.data.reference import Trajectories

    grid = _grid(ndim)
    rng = np.random.default_rng(2)
    states = rng.uniform(size=(2, 4) + grid.shape).astype(np.float32)
    lead = (2, 4) if time_dependent else (2,)  # a velocity series shares the time axis of the states
    velocity = tuple(rng.uniform(-1, 1, lead + grid.shape).astype(np.float32) for _ in range(ndim))
    io.write_reference(tmp_path / "r.nc", Trajectories(states, velocity, 0.25, grid))
    back = io.read_reference(tmp_path / "r.nc")
    np.testing.assert_array_equal(back.states, states)
    for got, want in zip(back.velocity, velocity):  # one field per step is read
        np.testing.assert_array_equal(got, want[:, :3] if time_dependent else want)
    assert back.dt == 0.25 and back.grid.shape == grid.shape and back.time_dependent_velocity == time_dependent
    np.testing.assert_allclose(back.grid.length, grid.length, rtol=1e-12)
    np.testing.assert_allclose(back.grid.origin, grid.origin, atol=1e-12)


def test_reference_single_trajectory_in_any_dim_order(tmp_path):
    """A file without a sample axis, velocity constant in time, dims in another order, is one sample."""
    grid = _grid(2)
    c, velocity = _fields(grid)
    names = io.AXIS_NAMES[2]
    states = np.stack([c, c + 1, c + 2])
    ds = xr.Dataset({"concentration": (("time",) + names, states)}
                    | {io.VELOCITY_NAMES[d]: (names, u) for d, u in zip(names, velocity)},
                    coords={"time": [0.0, 0.5, 1.0], **{n: (n, grid.centres(a)) for a, n in enumerate(names)}})
    ds["concentration"] = ds["concentration"].transpose("x", "time", "y")
    back = io.read_reference(_write(ds, tmp_path / "r.nc"))
    np.testing.assert_allclose(back.states[0], states, rtol=1e-6)
    assert back.states.dtype == np.float32 and back.velocity[0].shape == (1,) + grid.shape and back.dt == 0.5


def test_reference_errors(tmp_path):
    def message(path):
        with pytest.raises(UserError) as info:
            io.read_reference(path)
        assert "\n" not in str(info.value)
        return str(info.value)

    assert "does not exist" in message(tmp_path / "missing.nc")
    grid, ds = _valid(1)
    ds = ds.assign(concentration=ds["concentration"].expand_dims(time=[0.0, 0.5]))
    assert "missing variable 'concentration'" in message(_write(ds.rename({"concentration": "tracer"}), tmp_path / "a.nc"))
    values = ds["concentration"].values.copy()
    values[1, 3] = np.nan
    assert "NaN" in message(_write(ds.assign(concentration=(ds["concentration"].dims, values)), tmp_path / "b.nc"))
    assert "time must be uniform" in message(_write(ds.isel(time=[0]), tmp_path / "c.nc"))
    assert "x_velocity" in message(_write(ds.drop_vars("x_velocity"), tmp_path / "d.nc"))


# --------------------------------------------------------------------------- invalid input
def test_missing_file_and_folder(tmp_path):
    _one_line_error(tmp_path / "missing.nc", "not found")
    _one_line_error(tmp_path, "folder")


def test_not_netcdf(tmp_path):
    path = tmp_path / "bad.nc"
    path.write_text("this is not netCDF\n")
    _one_line_error(path, "cannot read")
    empty = tmp_path / "empty.nc"
    empty.write_bytes(b"")
    _one_line_error(empty, "cannot read")


def test_truncated_file(tmp_path):
    grid = _grid(2)
    c, velocity = _fields(grid)
    path = io.write_problem(tmp_path / "p.nc", grid, c, velocity)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _one_line_error(path)


def _valid(ndim=2, n_time=None):
    grid = _grid(ndim)
    c, velocity = _fields(grid, n_time)
    return grid, _dataset(grid, c, velocity, n_time is not None)


@pytest.mark.parametrize("ndim", [1, 2])
@pytest.mark.parametrize("var", ["concentration", "x_velocity", "y_velocity"])
def test_missing_variable(tmp_path, ndim, var):
    _, ds = _valid(ndim)
    if var not in ds:
        pytest.skip("no y velocity in 1-D")
    _one_line_error(_write(ds.drop_vars(var), tmp_path / "p.nc"), f"missing variable '{var}'")


@pytest.mark.parametrize("coord", ["x", "y"])
def test_missing_coordinate(tmp_path, coord):
    _, ds = _valid(2)
    _one_line_error(_write(ds.drop_vars(coord), tmp_path / "p.nc"), f"missing coordinate '{coord}'")


def test_wrong_dims(tmp_path):
    _, ds = _valid(2)
    bad = ds.rename({"x": "lon", "y": "lat"})
    _one_line_error(_write(bad, tmp_path / "a.nc"), "dims")
    transposed = ds.assign(concentration=ds["concentration"].transpose("x", "y"))
    _one_line_error(_write(transposed, tmp_path / "b.nc"), "dims")
    three = ds.assign(concentration=ds["concentration"].expand_dims(z=2))
    _one_line_error(_write(three, tmp_path / "c.nc"), "dims")
    vel = ds.assign(x_velocity=ds["x_velocity"].transpose("x", "y"))
    _one_line_error(_write(vel, tmp_path / "d.nc"), "x_velocity")
    vel = ds.assign(x_velocity=ds["x_velocity"].expand_dims(step=3))
    _one_line_error(_write(vel, tmp_path / "e.nc"), "x_velocity")


def test_shape_mismatch(tmp_path):
    grid, ds = _valid(2)
    names = ("y", "x2")
    bad = ds.assign(x_velocity=(names, np.zeros((grid.shape[0], grid.shape[1] + 1))))
    bad = bad.assign_coords(x2=np.arange(grid.shape[1] + 1.0))
    _one_line_error(_write(bad, tmp_path / "a.nc"), "x_velocity")


def test_time_dependence_disagrees(tmp_path):
    grid, ds = _valid(2, n_time=3)
    bad = ds.assign(y_velocity=ds["y_velocity"].isel(time=0, drop=True))
    _one_line_error(_write(bad, tmp_path / "a.nc"), "time")


@pytest.mark.parametrize("coord", ["x", "y"])
def test_non_uniform_coordinate(tmp_path, coord):
    _, ds = _valid(2)
    values = ds[coord].values.copy()
    values[-1] += 0.1 * (values[1] - values[0])
    _one_line_error(_write(ds.assign_coords({coord: values}), tmp_path / "p.nc"), "uniform")


def test_non_increasing_coordinate(tmp_path):
    _, ds = _valid(1)
    _one_line_error(_write(ds.assign_coords(x=ds["x"].values[::-1]), tmp_path / "a.nc"), "increasing")
    values = ds["x"].values.copy()
    values[3] = values[2]
    _one_line_error(_write(ds.assign_coords(x=values), tmp_path / "b.nc"), "increasing")


@pytest.mark.parametrize("var", ["concentration", "x_velocity", "y_velocity", "x"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf(tmp_path, var, bad):
    _, ds = _valid(2, n_time=2)
    values = ds[var].values.copy()
    values.flat[1] = bad
    ds = ds.assign_coords(x=values) if var == "x" else ds.assign({var: (ds[var].dims, values)})
    _one_line_error(_write(ds, tmp_path / "p.nc"), "NaN or Inf")


@pytest.mark.parametrize("ndim", [1, 2])
def test_single_cell(tmp_path, ndim):
    grid = Grid((1,), (1.0,)) if ndim == 1 else Grid((1, 4), (1.0, 4.0))
    c, velocity = _fields(grid)
    _one_line_error(_write(_dataset(grid, c, velocity), tmp_path / "p.nc"), "at least 2 cells")


def test_empty_time_series(tmp_path):
    grid = _grid(1)
    c, _ = _fields(grid)
    ds = _dataset(grid, c, [np.zeros((0,) + grid.shape)], time_dependent=True)
    _one_line_error(_write(ds, tmp_path / "p.nc"), "no time steps")


def test_non_numeric(tmp_path):
    _, ds = _valid(1)
    bad = ds.assign(concentration=("x", np.array(["a"] * ds.sizes["x"], dtype=object)))
    _one_line_error(_write(bad, tmp_path / "p.nc"), "concentration")
