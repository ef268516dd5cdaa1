"""netCDF input/output: round trips and every invalid input (one-line UserError, nothing written)."""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr

from learned_advection import files
from learned_advection.data import netcdf as io
from learned_advection.data.netcdf import checks as netcdf_checks
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
    io.write_simulation(
        tmp_path / "t.nc",
        grid,
        states,
        times,
        scheme="vanleer",
        dt=0.1,
        courant=0.4,
        n_steps=10,
        save_every=5,
        command="learned-advection simulate a b",
    )
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
def test_streamed_trajectory_equals_one_write(tmp_path, ndim):
    """States appended chunk by chunk give the file of one write_simulation (same variables, attributes
    and values); the file appears only when the last frame is written."""
    grid = _grid(ndim)
    states = np.random.default_rng(3).uniform(size=(7,) + grid.shape).astype(np.float32)
    times = 0.5 * np.arange(7)
    meta = dict(
        scheme="ppm",
        dt=0.1,
        courant=0.4,
        n_steps=30,
        save_every=5,
        units={"x": "m"},
        attrs={"input_file": "in.nc"},
        command="learned-advection simulate in.nc out.nc",
    )
    io.write_simulation(tmp_path / "one.nc", grid, states, times, **meta)
    with io.simulation_writer(tmp_path / "streamed.nc", grid, 7, np.float32, **meta) as writer:
        for lo, hi in [(0, 1), (1, 1), (1, 4), (4, 7)]:  # an empty chunk too
            writer.append(states[lo:hi], times[lo:hi])
            assert not (tmp_path / "streamed.nc").exists()
    one, streamed = io.read_simulation(tmp_path / "one.nc"), io.read_simulation(tmp_path / "streamed.nc")
    for ds in (one, streamed):
        ds.attrs.pop("history")
    assert streamed.identical(one)
    assert sorted(os.listdir(tmp_path)) == ["one.nc", "streamed.nc"]


@pytest.mark.parametrize("failure", [KeyboardInterrupt, RuntimeError, "too few frames", "too many frames"])
def test_streamed_trajectory_interrupted_leaves_nothing(tmp_path, failure):
    """Ctrl-C, an error or a wrong number of frames: no file, no temporary file, the old output untouched."""
    grid = _grid(1)
    states = np.zeros((3,) + grid.shape, np.float32)
    (tmp_path / "out.nc").write_bytes(b"precious")
    expected = ValueError if isinstance(failure, str) else failure
    with pytest.raises(expected):
        with io.simulation_writer(
            tmp_path / "out.nc", grid, 3, np.float32, scheme="upwind", dt=0.1, courant=0.5, overwrite=True
        ) as writer:
            writer.append(states[:2], [0.0, 0.1])
            if failure == "too many frames":
                writer.append(states, [0.2, 0.3, 0.4])
            elif failure != "too few frames":
                raise failure
    assert (tmp_path / "out.nc").read_bytes() == b"precious"
    assert sorted(os.listdir(tmp_path)) == ["out.nc"]


def test_streamed_output_never_replaces_a_file_that_appeared_meanwhile(tmp_path):
    """Without --overwrite, a file created at the output path while the run was writing is kept."""
    grid = _grid(1)
    with pytest.raises(UserError, match="appeared while running"):
        with io.simulation_writer(tmp_path / "out.nc", grid, 1, np.float32, scheme="upwind", dt=0.1, courant=0.5) as w:
            w.append(np.zeros((1,) + grid.shape, np.float32), [0.0])
            (tmp_path / "out.nc").write_bytes(b"another run's output")
    assert (tmp_path / "out.nc").read_bytes() == b"another run's output"
    assert sorted(os.listdir(tmp_path)) == ["out.nc"]


def test_output_checks_dangling_link_and_input_file(tmp_path):
    """A dangling symbolic link is an existing output; the input file itself (by name, through a link or a
    hard link) is refused as output even with --overwrite."""
    grid = _grid(1)
    c, velocity = _fields(grid)
    source = io.write_problem(tmp_path / "in.nc", grid, c, velocity)
    before = source.read_bytes()
    (tmp_path / "dangling.nc").symlink_to(tmp_path / "nowhere.nc")
    with pytest.raises(UserError, match=r"output file exists \(a symbolic link\): .*dangling.nc .*--overwrite"):
        files.check_output_path(tmp_path / "dangling.nc")
    assert files.check_output_path(tmp_path / "dangling.nc", overwrite=True) == tmp_path / "dangling.nc"
    (tmp_path / "link.nc").symlink_to(source)
    os.link(source, tmp_path / "hard.nc")
    for out in (source, tmp_path / "link.nc", tmp_path / "hard.nc", tmp_path / "." / "in.nc"):
        with pytest.raises(UserError, match="is the input file"):
            files.check_output_path(out, overwrite=True, inputs=[source])
        with pytest.raises(UserError, match="is the input file"):
            io.write_simulation(
                out, grid, c[None], [0.0], scheme="upwind", dt=0.1, courant=0.5, overwrite=True, inputs=[source]
            )
    assert source.read_bytes() == before and (tmp_path / "dangling.nc").is_symlink()
    assert not (tmp_path / "nowhere.nc").exists()


def test_free_space_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "free_bytes", lambda folder: 3 * 2**20)
    files.check_free_space(tmp_path, 3 * 2**20, "the output")
    with pytest.raises(UserError, match=r"^the output needs 4\.0 MiB of disk but 3\.0 MiB is free in "):
        files.check_free_space(tmp_path, 4 * 2**20, "the output")
    assert files.format_bytes(512) == "512 B" and files.format_bytes(3 * 2**50) == "3.0 PiB"


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
    ds = xr.Dataset(
        {"concentration": (("time",) + names, states)}
        | {io.VELOCITY_NAMES[d]: (names, u) for d, u in zip(names, velocity)},
        coords={"time": [0.0, 0.5, 1.0], **{n: (n, grid.centres(a)) for a, n in enumerate(names)}},
    )
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
    assert "missing variable 'concentration'" in message(
        _write(ds.rename({"concentration": "tracer"}), tmp_path / "a.nc")
    )
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


# --------------------------------------------------------------------------- hostile files
def _declare(path, sizes, variables):
    """A netCDF-4 file declaring ``variables`` (name -> dims) over ``sizes``, chunked, no chunk written."""
    import h5netcdf

    with h5netcdf.File(path, "w") as f:
        f.dimensions = dict(sizes)
        for name, dims in variables.items():
            f.create_variable(name, dims, "f8", chunks=tuple(min(sizes[d], 1024) for d in dims))
    return path


@pytest.mark.parametrize("sizes", [{"x": 10**9}, {"y": 10**5, "x": 10**5}], ids=["1e9", "1e5x1e5"])
def test_declared_size_refused_from_the_header(tmp_path, monkeypatch, sizes):
    """A file of a few KiB declaring 10^9 cells is refused before xarray opens it (nothing allocated)."""
    dims = tuple(sizes)
    names = {d: (d,) for d in dims} | {"concentration": dims} | {io.VELOCITY_NAMES[d]: dims for d in dims}
    path = _declare(tmp_path / "big.nc", sizes, names)
    assert path.stat().st_size < 100_000

    def no_open(*args, **kwargs):
        raise AssertionError("the data were opened")

    monkeypatch.setattr(xr, "open_dataset", no_open)
    message = _one_line_error(path, r"more than the limit of 268,435,456 \(2\^28\) cells per state")
    assert f"{math.prod(sizes.values()):,} cells" in message
    with pytest.raises(UserError, match="2\\^28"):
        io.read_reference(path)


def test_declared_data_beyond_available_memory_refused(tmp_path, monkeypatch):
    grid, ds = _valid(1, n_time=4)
    path = _write(ds, tmp_path / "p.nc")
    declared = 8 * (8 + 8 + 4 * 8)  # x, concentration, x_velocity(time, x) in float64
    monkeypatch.setattr(netcdf_checks, "available_memory", lambda: io.READ_MEMORY_FACTOR * declared - 1)
    message = _one_line_error(path, "memory")
    assert "'x_velocity', (4, 8) of float64" in message and "3x" in message
    monkeypatch.setattr(netcdf_checks, "available_memory", lambda: io.READ_MEMORY_FACTOR * declared)
    assert io.read_problem(path).n_velocity_steps == 4
    monkeypatch.setattr(netcdf_checks, "available_memory", lambda: None)  # unknown: no memory check
    assert io.read_problem(path).n_velocity_steps == 4


def test_available_memory_is_a_positive_number_of_bytes_or_unknown():
    free = files.available_memory()
    assert free is None or (isinstance(free, int) and free > 0)


def test_fifo_and_devices_refused_without_opening(tmp_path, monkeypatch):
    def no_open(*args, **kwargs):
        raise AssertionError("opened")

    monkeypatch.setattr(xr, "open_dataset", no_open)
    fifo = tmp_path / "fifo.nc"
    os.mkfifo(fifo)
    assert _one_line_error(fifo) == f"input is a FIFO (named pipe), not a netCDF file: {fifo}"
    _one_line_error(Path("/dev/null"), "input is a character device, not a netCDF file")
    _one_line_error(tmp_path, "input is a folder")


def test_netcdf3_read_like_netcdf4(tmp_path):
    grid = _grid(2)
    c, velocity = _fields(grid, n_time=3)
    io.write_problem(tmp_path / "p4.nc", grid, c, velocity)
    for fmt, signature in (("NETCDF3_CLASSIC", b"CDF\x01"), ("NETCDF3_64BIT", b"CDF\x02")):
        path = tmp_path / f"{fmt}.nc"
        xr.load_dataset(tmp_path / "p4.nc", engine="h5netcdf").to_netcdf(path, engine="scipy", format=fmt)
        assert path.read_bytes()[:4] == signature
        p = io.read_problem(path)
        np.testing.assert_array_equal(p.concentration, c)
        assert p.grid == io.read_problem(tmp_path / "p4.nc").grid and p.n_velocity_steps == 3
        for got, want in zip(p.velocity, velocity):
            np.testing.assert_array_equal(got, want)


def test_netcdf3_reference_read(tmp_path):
    from learned_advection.data.reference import Trajectories

    grid = _grid(1)
    states = np.random.default_rng(3).uniform(size=(2, 4) + grid.shape).astype(np.float32)
    io.write_reference(tmp_path / "r4.nc", Trajectories(states, (np.ones((2,) + grid.shape, np.float32),), 0.25, grid))
    xr.load_dataset(tmp_path / "r4.nc", engine="h5netcdf").to_netcdf(tmp_path / "r3.nc", engine="scipy")
    back = io.read_reference(tmp_path / "r3.nc")
    np.testing.assert_array_equal(back.states, states)
    assert back.dt == 0.25


def test_unsupported_formats_say_what_is_expected(tmp_path):
    cdf5 = tmp_path / "cdf5.nc"
    cdf5.write_bytes(b"CDF\x05" + bytes(64))
    _one_line_error(cdf5, "CDF5.*not supported.*netCDF-4")
    garbage = tmp_path / "garbage.nc"
    garbage.write_bytes(bytes(range(256)) * 4)
    _one_line_error(garbage, r"not a netCDF-4 \(HDF5\) or netCDF-3 file")
    bad3 = tmp_path / "bad3.nc"
    bad3.write_bytes(b"CDF\x01" + bytes(range(256)))
    _one_line_error(bad3, "cannot read")
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:  # HDF5 without netCDF dimensions
        f["concentration"] = np.ones(8)
    _one_line_error(plain, "cannot read")


def test_external_storage_refused(tmp_path):
    path = tmp_path / "external.nc"
    with h5py.File(path, "w") as f:
        f.create_dataset("concentration", shape=(8,), dtype="f8", external=[("/dev/zero", 0, 64)])
    _one_line_error(path, "stored outside the file")


def test_hostile_attributes_and_shapes(tmp_path):
    _, ds = _valid(1)
    packed = ds.assign(concentration=("x", np.arange(8, dtype="i2"), {"scale_factor": "abc"}))
    _one_line_error(_write(packed, tmp_path / "a.nc"), "cannot read")
    _one_line_error(_write(xr.Dataset({"concentration": 1.0, "x_velocity": 2.0}), tmp_path / "b.nc"), "dims")
    empty = xr.Dataset(
        {"concentration": ("x", np.zeros(0)), "x_velocity": ("x", np.zeros(0))}, coords={"x": np.zeros(0)}
    )
    _one_line_error(_write(empty, tmp_path / "c.nc"), "at least 2 cells")
    extent = ds.assign_coords(x=np.arange(8) * 2.5e307 - 1e308)  # finite, but the domain length 8 dx overflows
    _one_line_error(_write(extent, tmp_path / "d.nc"), "extent")
    odd_units = ds.assign_coords(x=("x", ds["x"].values, {"units": np.array([1, 2])}))
    assert io.read_problem(_write(odd_units, tmp_path / "e.nc")).units == {"x": "[1 2]"}
    extra = ds.assign(notes=("z", np.array(["a", "b"], dtype=object)), flag=np.int8(1))
    assert io.read_problem(_write(extra, tmp_path / "f.nc")).grid.shape == (8,)


# --------------------------------------------------------------------------- values in the run's dtype
def _problem_with(tmp_path, name, **values):
    grid, ds = _valid(1)
    for var, v in values.items():
        ds = ds.assign({var: ("x", np.broadcast_to(np.asarray(v, np.float64), (8,)).copy())})
    return _write(ds, tmp_path / name)


@pytest.mark.parametrize("var", ["concentration", "x_velocity"])
def test_beyond_float32_refused_unless_float64(tmp_path, var):
    path = _problem_with(tmp_path, "p.nc", **{var: 1e300})
    message = _one_line_error(path, f"variable '{var}' has values up to 1e\\+300, beyond the float32 range")
    assert message.endswith("; use --x64 to compute in float64")
    assert (
        float(
            np.max(getattr(io.read_problem(path, dtype=np.float64), var if var == "concentration" else "velocity")[0])
        )
        == 1e300
    )


def test_flushed_to_zero_in_float32_refused(tmp_path):
    path = _problem_with(tmp_path, "u.nc", x_velocity=1e-300)
    _one_line_error(path, "variable 'x_velocity' has nonzero values no larger than 1e-300.*flushed to zero.*--x64")
    assert io.read_problem(path, dtype=np.float64).velocity[0][0] == 1e-300
    # a Gaussian's far tails are below float32's range too, but lost within the rounding of its peak
    x = np.arange(8.0)
    tails = _problem_with(tmp_path, "c.nc", concentration=np.exp(-(((x - 4) / 0.3) ** 2)))
    assert io.read_problem(tails).concentration.min() < np.finfo(np.float32).tiny


def test_reference_values_checked_in_float32(tmp_path):
    _, ds = _valid(1)
    ds = ds.assign(concentration=ds["concentration"].expand_dims(time=[0.0, 0.5]))
    bad = ds.assign(x_velocity=ds["x_velocity"] * 1e300)
    with pytest.raises(UserError, match="'x_velocity' has values up to .*beyond the float32 range"):
        io.read_reference(_write(bad, tmp_path / "a.nc"))


# --------------------------------------------------------------------------- reference time and samples
@pytest.mark.parametrize(
    "case, match",
    [
        ("zero", "time must be strictly increasing"),
        ("decreasing", "time must be strictly increasing"),
        ("repeated", "time must be strictly increasing"),
        ("uneven", "time must be uniformly spaced"),
        ("missing", "missing coordinate 'time'"),
        ("nan", "'time' contains NaN or Inf"),
        ("text", "'time' must be real numbers"),
    ],
)
def test_reference_time_axis(tmp_path, case, match):
    """A checkpoint must never be trained with dt <= 0 or an invented dt = 1."""
    _, ds = _valid(1)
    t = np.array([0.0, 0.5, 1.0, 1.5])
    ds = ds.assign(concentration=ds["concentration"].expand_dims(time=t))
    bad = {
        "zero": lambda: ds.assign_coords(time=0 * t),
        "decreasing": lambda: ds.assign_coords(time=-t),
        "repeated": lambda: ds.assign_coords(time=[0.0, 0.5, 0.5, 1.0]),
        "uneven": lambda: ds.assign_coords(time=t**2),
        "missing": lambda: ds.drop_vars("time"),
        "nan": lambda: ds.assign_coords(time=[0.0, 0.5, np.nan, 1.5]),
        "text": lambda: ds.assign_coords(time=np.array(["a", "b", "c", "d"], dtype=object)),
    }[case]()
    with pytest.raises(UserError, match=match) as info:
        io.read_reference(_write(bad, tmp_path / "r.nc"))
    assert "\n" not in str(info.value)


def test_reference_without_samples_or_x(tmp_path):
    _, ds = _valid(1)
    ds = ds.assign(concentration=ds["concentration"].expand_dims(sample=2, time=[0.0, 0.5]))
    with pytest.raises(UserError, match="no samples"):
        io.read_reference(_write(ds.isel(sample=slice(0, 0)), tmp_path / "a.nc"))
    with pytest.raises(UserError, match="missing coordinate 'x'"):
        io.read_reference(_write(ds.drop_vars("x"), tmp_path / "b.nc"))
    with pytest.raises(UserError, match="'x' must be strictly increasing"):
        io.read_reference(_write(ds.assign_coords(x=ds["x"].values[::-1]), tmp_path / "c.nc"))
    for dtype in ("complex", "str"):
        values = ds["concentration"].astype(dtype)
        with pytest.warns(UserWarning) if dtype == "complex" else contextlib.nullcontext():
            ds.assign(concentration=values).to_netcdf(
                tmp_path / f"{dtype}.nc", engine="h5netcdf", invalid_netcdf=dtype == "complex"
            )
        with pytest.raises(UserError, match="'concentration' must be real numbers"):
            io.read_reference(tmp_path / f"{dtype}.nc")


# --------------------------------------------------------------------------- many tracers, velocity at its own times
def _tracer_file(tmp_path, name="t.nc", **changes):
    """A 2-D problem with ``concentration``, ``co2`` (with attributes) and ``dust(tracer, y, x)`` (3 tracers)."""
    grid, ds = _valid(2)
    rng = np.random.default_rng(3)
    ds = ds.assign(
        co2=(("y", "x"), rng.uniform(size=grid.shape), {"units": "ppm", "long_name": "CO2"}),
        dust=(("tracer", "y", "x"), rng.uniform(size=(3,) + grid.shape), {"units": "kg m-3"}),
    )
    ds = ds.assign_coords(tracer=("tracer", ["fine", "medium", "coarse"], {"long_name": "size class"}))
    for key, value in changes.items():
        ds = ds.assign({key: value}) if value is not None else ds.drop_vars(key)
    return _write(ds, tmp_path / name), ds


def test_every_variable_with_the_grid_dims_is_a_tracer(tmp_path):
    path, ds = _tracer_file(tmp_path)
    p = io.read_problem(path)
    assert p.batched and p.n_tracers == 5
    assert [t.name for t in p.tracers] == ["concentration", "co2", "dust"] and [t.count for t in p.tracers] == [
        None,
        None,
        3,
    ]
    assert p.tracer_names == ["concentration", "co2", "dust[0]", "dust[1]", "dust[2]"]
    assert p.tracers[1].attrs == {"units": "ppm", "long_name": "CO2"}
    np.testing.assert_array_equal(p.concentration[0], ds["concentration"].values)
    np.testing.assert_array_equal(p.concentration[1], ds["co2"].values)
    np.testing.assert_array_equal(p.concentration[2:], ds["dust"].values)
    labels, attrs = p.tracer_coordinate
    assert list(labels) == ["fine", "medium", "coarse"] and attrs == {"long_name": "size class"}
    # without `concentration`, the grid's dims come from the velocity
    alone = io.read_problem(_tracer_file(tmp_path, "b.nc", concentration=None)[0])
    assert alone.tracer_names == ["co2", "dust[0]", "dust[1]", "dust[2]"]
    one = io.read_problem(_write(_valid(1)[1].rename({"concentration": "soot"}), tmp_path / "c.nc"))
    assert not one.batched and one.tracer_names == ["soot"]
    # an auxiliary coordinate with the grid's dims (named in `coordinates`) is not a tracer; a plain variable is
    aux = ds.assign_coords(lat=(("y", "x"), ds["co2"].values))
    assert io.read_problem(_write(aux, tmp_path / "d.nc")).n_tracers == 5
    plain = ds.assign(lat=(("y", "x"), ds["co2"].values))
    assert io.read_problem(_write(plain, tmp_path / "e.nc")).tracer_names[-1] == "lat"


def test_write_problem_with_many_tracers_and_velocity_times(tmp_path):
    grid = _grid(2)
    c, velocity = _fields(grid, n_time=4)
    dust = np.random.default_rng(1).uniform(size=(2,) + grid.shape)
    times = np.array([0.0, 0.5, 0.75, 2.0])
    io.write_problem(tmp_path / "p.nc", grid, {"co2": c, "dust": dust}, velocity, velocity_times=times)
    p = io.read_problem(tmp_path / "p.nc")
    assert p.tracer_names == ["co2", "dust[0]", "dust[1]"] and p.interpolated and p.time_dependent
    np.testing.assert_array_equal(p.velocity_times, times)
    np.testing.assert_array_equal(p.concentration[1:], dust)
    for got, want in zip(p.velocity, velocity):
        np.testing.assert_array_equal(got, want)
    with xr.open_dataset(tmp_path / "p.nc", engine="h5netcdf") as ds:
        assert ds["x_velocity"].dims == ("velocity_time", "y", "x") and ds["dust"].dims == ("tracer", "y", "x")
    stacked = io.write_problem(tmp_path / "s.nc", grid, dust, velocity)  # a leading axis: concentration(tracer, ...)
    q = io.read_problem(stacked)
    assert q.tracer_names == ["concentration[0]", "concentration[1]"] and q.n_velocity_steps == 4 and not q.interpolated


@pytest.mark.parametrize(
    "case, match",
    [
        ("transposed", r"variable 'co2' has dims \(x, y\); a tracer must have dims \(y, x\) or \(tracer, y, x\)"),
        ("tracer last", r"variable 'dust' has dims \(y, x, tracer\); a tracer must have dims"),
        ("tracer only on x", r"variable 'dust' has dims \(tracer, x\); a tracer must have dims"),
        ("named time", r"a tracer may not be called 'time'"),
        ("no tracers", r"variable 'dust' holds no tracers"),
        ("strings", r"variable 'co2' must be real numbers"),
        ("complex", r"variable 'dust\[0\]' must be real numbers"),
        ("tiny tracer", r"variable 'dust\[1\]' has nonzero values no larger than \d\.\d+e-301.*flushed to zero.*--x64"),
        ("huge tracer", r"variable 'co2' has values up to 1e\+300, beyond the float32 range"),
        ("nan", r"variable 'dust\[2\]' contains NaN or Inf"),
        (
            "concentration with time",
            r"'concentration' must have dims \(x\) or \(y, x\), optionally after a leading 'tracer'",
        ),
    ],
)
def test_bad_tracers_refused_in_one_line(tmp_path, case, match):
    import warnings

    path, ds = _tracer_file(tmp_path)
    co2, dust = ds["co2"], ds["dust"]
    bad = {
        "transposed": lambda: ds.assign(co2=co2.transpose("x", "y")),
        "tracer last": lambda: ds.assign(dust=dust.transpose("y", "x", "tracer")),
        "tracer only on x": lambda: ds.assign(dust=dust.isel(y=0)),
        "named time": lambda: ds.rename({"co2": "time"}),
        "no tracers": lambda: ds.isel(tracer=slice(0, 0)),
        "strings": lambda: ds.assign(co2=co2.astype(str)),
        "complex": lambda: ds.assign(dust=dust * (1 + 1j)),
        "tiny tracer": lambda: ds.assign(dust=dust * np.array([1.0, 1e-300, 1.0])[:, None, None]),
        "huge tracer": lambda: ds.assign(co2=co2 * 0 + 1e300),
        "nan": lambda: ds.assign(dust=dust.where(dust.tracer != "coarse", np.nan)),
        "concentration with time": lambda: ds.assign(concentration=ds["concentration"].expand_dims(time=2)),
    }[case]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # complex numbers are an h5netcdf extension
        bad.to_netcdf(tmp_path / "bad.nc", engine="h5netcdf", invalid_netcdf=case == "complex")
    _one_line_error(tmp_path / "bad.nc", match)
    if case == "tiny tracer":  # checked tracer by tracer: the variable's largest value (~1) would hide it
        assert io.read_problem(tmp_path / "bad.nc", dtype=np.float64).concentration[3].max() < 1e-299


@pytest.mark.parametrize(
    "case, match",
    [
        ("missing coordinate", "missing coordinate 'velocity_time'"),
        ("decreasing", "'velocity_time' must be strictly increasing"),
        ("repeated", "'velocity_time' must be strictly increasing"),
        ("nan", "'velocity_time' contains NaN or Inf"),
        ("one time", "at least two times to interpolate between, got 1"),
        ("strings", "coordinate 'velocity_time' must be real numbers"),
        (
            "mixed with time",
            r"velocity components disagree on time dependence \(time of length 3, velocity_time of length 3\)",
        ),
        ("mixed with constant", r"disagree on time dependence \(constant, velocity_time of length 3\)"),
    ],
)
def test_bad_velocity_times_refused_in_one_line(tmp_path, case, match):
    grid, ds = _valid(2, n_time=3)
    ds = ds.rename({"time": "velocity_time"}).assign_coords(velocity_time=[0.0, 1.0, 2.5])
    assert io.read_problem(_write(ds, tmp_path / "ok.nc")).interpolated
    t = ds["velocity_time"].values
    bad = {
        "missing coordinate": lambda: ds.drop_vars("velocity_time"),
        "decreasing": lambda: ds.assign_coords(velocity_time=t[::-1].copy()),
        "repeated": lambda: ds.assign_coords(velocity_time=[0.0, 1.0, 1.0]),
        "nan": lambda: ds.assign_coords(velocity_time=[0.0, np.nan, 2.0]),
        "one time": lambda: ds.isel(velocity_time=slice(0, 1)),
        "strings": lambda: ds.assign_coords(velocity_time=["a", "b", "c"]),
        "mixed with time": lambda: ds.assign(y_velocity=ds["y_velocity"].rename({"velocity_time": "time"})),
        "mixed with constant": lambda: ds.assign(y_velocity=ds["y_velocity"].isel(velocity_time=0, drop=True)),
    }[case]()
    _one_line_error(_write(bad, tmp_path / "bad.nc"), match)


def test_declared_tracers_count_towards_the_memory_bound(tmp_path, monkeypatch):
    """16 tracers declared in the header are counted before any value is read."""
    sizes = {"tracer": 16, "y": 64, "x": 64}
    variables = {
        "x": ("x",),
        "y": ("y",),
        "x_velocity": ("y", "x"),
        "y_velocity": ("y", "x"),
        "concentration": ("tracer", "y", "x"),
    }
    path = _declare(tmp_path / "many.nc", sizes, variables)
    declared = 8 * (64 + 64 + 2 * 64 * 64 + 16 * 64 * 64)
    monkeypatch.setattr(netcdf_checks, "available_memory", lambda: io.READ_MEMORY_FACTOR * declared - 1)

    def no_open(*args, **kwargs):
        raise AssertionError("the data were opened")

    monkeypatch.setattr(xr, "open_dataset", no_open)
    _one_line_error(path, r"'concentration', \(16, 64, 64\) of float64\); reading it needs about 3x")


def test_trajectory_with_tracers_keeps_names_attributes_and_one_tracer_layout(tmp_path):
    grid = _grid(2)
    rng = np.random.default_rng(2)
    tracers = (
        io.TracerVariable(
            "co2",
            None,
            {
                "units": "ppm",
                "scheme": "not this",
                "_FillValue": 0.0,
                "dtype": "bool",
                "weights": [1.0, 2.0],
                "nested": {"a": 1},
            },
        ),
        io.TracerVariable("dust", 2, {"long_name": "dust"}),
    )
    states = rng.uniform(size=(3, 3) + grid.shape).astype(np.float32)
    io.write_simulation(
        tmp_path / "t.nc",
        grid,
        states,
        [0.0, 0.5, 1.0],
        scheme="ppm",
        dt=0.1,
        courant=0.4,
        tracers=tracers,
        tracer_coordinate=(np.array([10, 20]), {"units": "um"}),
    )
    ds = io.read_simulation(tmp_path / "t.nc")
    assert list(ds.data_vars) == ["co2", "dust"] and list(ds["tracer"].values) == [10, 20]
    np.testing.assert_array_equal(ds["co2"].values, states[:, 0])
    np.testing.assert_array_equal(ds["dust"].values, states[:, 1:])
    co2 = ds["co2"].attrs
    assert co2["units"] == "ppm" and co2["scheme"] == "ppm" and list(co2["weights"]) == [1.0, 2.0]
    assert "nested" not in co2 and "dtype" not in co2 and ds["co2"].dtype == np.float32  # not re-read as bool
    assert ds["dust"].attrs["long_name"] == "dust" and ds["dust"].attrs["units"] == "1"
    # one tracer: the layout of before (no tracer dim, the default attributes)
    io.write_simulation(tmp_path / "one.nc", grid, states[:, 0], [0.0, 0.5, 1.0], scheme="ppm", dt=0.1, courant=0.4)
    one = io.read_simulation(tmp_path / "one.nc")
    assert list(one.data_vars) == ["concentration"] and dict(one.sizes) == {"time": 3, "y": 6, "x": 8}
    assert list(one["concentration"].attrs) == ["units", "long_name", "cell_methods", "scheme", "dt", "courant_number"]
    with pytest.raises(ValueError, match="do not match"):
        io.write_simulation(
            tmp_path / "bad.nc", grid, states[:, 0], [0.0, 0.5, 1.0], scheme="ppm", dt=0.1, courant=0.4, tracers=tracers
        )
