"""The ``simulate``, ``demo`` and ``bench`` commands: exit codes, one-line errors, nothing written on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from learned_advection.data import netcdf as io
from learned_advection.numerics.grids import Grid


def _gauss(grid):
    mesh = grid.mesh()
    return np.exp(-40.0 * sum((m - 0.5 * l) ** 2 for m, l in zip(mesh, grid.length)))


@pytest.fixture
def problem_1d(tmp_path):
    grid = Grid((16,), (1.0,))
    return io.write_problem(tmp_path / "in1.nc", grid, _gauss(grid), (np.full(grid.shape, 0.5),))


@pytest.fixture
def problem_2d(tmp_path):
    """2-D, time-dependent (6 fields), divergence-free-ish enough for a smoke run."""
    grid = Grid((8, 8), (1.0, 1.0))
    rng = np.random.default_rng(0)
    vy = rng.uniform(-0.5, 0.5, (6,) + grid.shape)
    vx = rng.uniform(-0.5, 0.5, (6,) + grid.shape)
    vx[:, 0, 0] = 2.0  # max |u| on x faces = 2
    return io.write_problem(tmp_path / "in2.nc", grid, _gauss(grid), (vy, vx))


def test_simulate_1d(cli, problem_1d, tmp_path):
    out = tmp_path / "out.nc"
    code, stdout, err = cli(
        "simulate", problem_1d, out, "--scheme", "vanleer", "--steps", 8, "--dt", 0.05, "--save-every", 4
    )
    assert code == 0, err
    assert "vanleer" in stdout
    ds = io.read_simulation(out)
    assert ds["concentration"].dims == ("time", "x")
    assert ds["concentration"].shape == (3, 16)
    assert ds["concentration"].dtype == np.float32
    np.testing.assert_allclose(ds["time"].values, [0.0, 0.2, 0.4])
    c = ds["concentration"].values
    np.testing.assert_allclose(c[0], io.read_problem(problem_1d).concentration, rtol=1e-6)
    np.testing.assert_allclose(c.sum(axis=1), c[0].sum(), rtol=1e-5)  # mass conserved
    assert ds.attrs["scheme"] == "vanleer" and ds.attrs["dt"] == 0.05
    assert ds.attrs["courant_number"] == pytest.approx(0.05 * 0.5 / (1 / 16))
    assert "simulate" in ds.attrs["history"]
    # one tracer: the layout of before many tracers existed (no tracer dim, the same attributes)
    assert list(ds.data_vars) == ["concentration"] and dict(ds.sizes) == {"time": 3, "x": 16}
    assert list(ds["concentration"].attrs) == [
        "units",
        "long_name",
        "cell_methods",
        "scheme",
        "dt",
        "courant_number",
        "n_steps",
        "save_every",
    ]
    assert "mass change" in stdout and "per tracer" not in stdout


@pytest.mark.parametrize("scheme", ["upwind", "ppm"])
def test_simulate_2d_time_dependent_cfl(cli, problem_2d, tmp_path, scheme):
    out = tmp_path / "out.nc"
    code, _, err = cli("simulate", problem_2d, out, "--scheme", scheme, "--steps", 6, "--cfl", 0.5, "--quiet")
    assert code == 0, err
    ds = io.read_simulation(out)
    assert ds["concentration"].dims == ("time", "y", "x") and ds["concentration"].shape == (7, 8, 8)
    dt = 0.5 * (1 / 8) / 2.0  # dt = cfl dx / max|u| over the whole velocity history
    assert ds.attrs["dt"] == pytest.approx(dt)
    assert ds.attrs["courant_number"] == pytest.approx(0.5)
    np.testing.assert_allclose(ds["time"].values, dt * np.arange(7))


@pytest.mark.parametrize("scheme", ["vanleer", "ppm"])
def test_simulate_2d_at_courant_3_large_steps(cli, tmp_path, scheme):
    """--cfl above 1 in a divergence-free flow: the flux-form semi-Lagrangian path inside FCT; mass kept,
    nothing outside the initial range, and close to the same run at Courant 0.5 (six times the steps)."""
    from learned_advection.flows import velocity

    grid = Grid((32, 32), (1.0, 1.0))
    problem = io.write_problem(tmp_path / "in.nc", grid, _gauss(grid), velocity.random_sinusoidal(grid, seed=4))
    out, small = tmp_path / "large.nc", tmp_path / "small.nc"
    code, _, err = cli("simulate", problem, out, "--scheme", scheme, "--steps", 4, "--cfl", 3, "--quiet")
    assert code == 0, err
    code, _, err = cli("simulate", problem, small, "--scheme", scheme, "--steps", 24, "--cfl", 0.5, "--quiet")
    assert code == 0, err
    ds, ref = io.read_simulation(out), io.read_simulation(small)
    assert ds.attrs["courant_number"] == pytest.approx(3.0)
    c = ds["concentration"].values
    assert abs(c[-1].sum() - c[0].sum()) <= 1e-5 * abs(c[0].sum())
    roundoff = 4 * np.finfo(np.float32).eps * np.abs(c[0]).max()  # float32 flux differences of cells near the max
    assert c[-1].min() >= c[0].min() - roundoff and c[-1].max() <= c[0].max() + roundoff
    assert np.abs(c[-1] - ref["concentration"].values[-1]).mean() < 0.2 * np.abs(c[-1] - c[0]).mean()


def test_simulate_in_chunks_gives_the_same_file_and_shows_progress(cli, problem_2d, tmp_path, monkeypatch):
    """One step per chunk (every saved state streamed on its own) writes the file of a one-chunk run; the
    progress bar over the steps goes to stderr."""
    from learned_advection.transport import streaming

    args = ["--scheme", "vanleer", "--steps", 6, "--cfl", 0.5, "--save-every", 2]
    code, _, err = cli("simulate", problem_2d, tmp_path / "one.nc", *args)
    assert code == 0, err
    monkeypatch.setattr(streaming, "FIRST_CHUNK_CELL_STEPS", 8 * 8)  # 8x8 cells: one step per chunk
    monkeypatch.setattr(streaming, "CHUNK_SECONDS", 1e-9)  # and never longer
    code, stdout, err = cli("simulate", problem_2d, tmp_path / "chunked.nc", *args)
    assert code == 0, err
    assert "100%" in err and "6.00/6.00" in err and "step/s" in err and "wrote" in stdout
    one, chunked = io.read_simulation(tmp_path / "one.nc"), io.read_simulation(tmp_path / "chunked.nc")
    np.testing.assert_allclose(chunked["concentration"].values, one["concentration"].values, rtol=0, atol=1e-6)
    for ds in (one, chunked):
        ds.attrs.pop("history")
        ds["concentration"].values[:] = 0
    assert chunked.identical(one)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chunked.nc", "in2.nc", "one.nc"]


def test_quiet_prints_nothing(cli, problem_1d, tmp_path):
    code, out, err = cli(
        "simulate", problem_1d, tmp_path / "o.nc", "--scheme", "upwind", "--steps", 2, "--cfl", 1, "--quiet"
    )
    assert (code, out, err) == (0, "", "")


def test_overwrite(cli, problem_1d, tmp_path):
    out = tmp_path / "out.nc"
    args = ["simulate", problem_1d, out, "--scheme", "upwind", "--steps", 2, "--dt", 0.05, "--quiet"]
    assert cli(*args)[0] == 0
    before = out.read_bytes()
    code, _, err = cli(*args)
    assert code == 2 and "--overwrite" in err and out.read_bytes() == before
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    code, _, err = cli(*args[:6], 4, "--dt", 0.05, "--quiet", "--overwrite")
    assert code == 0, err
    assert io.read_simulation(out)["concentration"].shape[0] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in1.nc", "out.nc"]


def test_x64_output_is_float64(cli, problem_1d, tmp_path):
    out = tmp_path / "out.nc"
    code, _, err = cli("simulate", problem_1d, out, "--scheme", "ppm", "--steps", 4, "--dt", 0.05, "--x64", "--quiet")
    assert code == 0, err
    assert io.read_simulation(out)["concentration"].dtype == np.float64


def test_simulate_many_tracers_in_one_run(cli, tmp_path):
    """Every variable with the grid's dims (or a tracer dim) is advected in one run; each keeps its name and
    attributes, equals a run of that tracer alone, and its mass change is in the summary."""
    grid = Grid((16, 16), (1.0, 1.0))
    rng = np.random.default_rng(4)
    from learned_advection.flows.velocity import random_sinusoidal

    u = tuple(np.asarray(v, np.float64) for v in random_sinusoidal(grid, 0))
    dust = rng.uniform(0, 5, (2,) + grid.shape)
    io.write_problem(tmp_path / "many.nc", grid, {"concentration": _gauss(grid), "dust": dust}, u)
    ds = xr.load_dataset(tmp_path / "many.nc", engine="h5netcdf")
    ds["dust"].attrs.update(units="kg m-3", long_name="mineral dust")
    ds.assign_coords(tracer=["fine", "coarse"]).to_netcdf(tmp_path / "in.nc", engine="h5netcdf")
    args = ["--scheme", "ppm", "--steps", 12, "--cfl", 0.5, "--save-every", 4]
    code, stdout, err = cli("simulate", tmp_path / "in.nc", tmp_path / "out.nc", *args)
    assert code == 0, err
    assert "on 3 tracers of 16x16 cells" in stdout
    masses = stdout.split("mass change per tracer (relative to its sum |C0|): ")[1].split("; wrote")[0].split(", ")
    assert [m.split()[0] for m in masses] == ["concentration", "dust[0]", "dust[1]"]
    assert all(abs(float(m.split()[1])) < 1e-6 for m in masses)
    out = io.read_simulation(tmp_path / "out.nc")
    assert list(out.data_vars) == ["concentration", "dust"] and list(out["tracer"].values) == ["fine", "coarse"]
    assert out["dust"].dims == ("time", "tracer", "y", "x") and out["dust"].attrs["long_name"] == "mineral dust"
    assert out["dust"].attrs["units"] == "kg m-3" and out["dust"].attrs["scheme"] == "ppm"
    for name, values in (("c", _gauss(grid)), ("d0", dust[0]), ("d1", dust[1])):  # each tracer alone
        io.write_problem(tmp_path / f"{name}.nc", grid, values, u)
        assert cli("simulate", tmp_path / f"{name}.nc", tmp_path / f"{name}_out.nc", *args, "--quiet")[0] == 0
    alone = [io.read_simulation(tmp_path / f"{n}_out.nc")["concentration"].values for n in ("c", "d0", "d1")]
    np.testing.assert_allclose(out["concentration"].values, alone[0], rtol=0, atol=2e-6)
    np.testing.assert_allclose(out["dust"].values, np.stack(alone[1:], axis=1), rtol=0, atol=1e-5)


def test_simulate_winds_interpolated_in_time(cli, tmp_path):
    """Velocities every 6 steps on `velocity_time` equal, to round-off, a velocity per step computed by hand at
    each step's midpoint; a run past the last velocity time is refused in one line."""
    from learned_advection.flows.velocity import random_sinusoidal

    grid, dt = Grid((16, 16), (1.0, 1.0)), 0.01
    frames = [tuple(np.asarray(v, np.float64) for v in random_sinusoidal(grid, seed)) for seed in range(5)]
    times = 6 * dt * np.arange(5)
    winds = tuple(np.stack([f[a] for f in frames]) for a in range(2))
    io.write_problem(tmp_path / "winds.nc", grid, _gauss(grid), winds, velocity_times=times)
    mid = (np.arange(24) + 0.5) * dt
    k = np.minimum((mid // (6 * dt)).astype(int), 3)
    w = ((mid - times[k]) / (6 * dt))[:, None, None]
    per_step = tuple((1 - w) * u[k] + w * u[k + 1] for u in winds)
    io.write_problem(tmp_path / "steps.nc", grid, _gauss(grid), per_step)
    args = ["--scheme", "vanleer", "--steps", 24, "--dt", dt, "--save-every", 6, "--quiet"]
    for name in ("winds", "steps"):
        code, _, err = cli("simulate", tmp_path / f"{name}.nc", tmp_path / f"{name}_out.nc", *args)
        assert code == 0, err
    got, want = (io.read_simulation(tmp_path / f"{n}_out.nc")["concentration"].values for n in ("winds", "steps"))
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)
    code, _, err = cli("simulate", tmp_path / "winds.nc", tmp_path / "late.nc", *args[:2], "--steps", 25, "--dt", dt)
    assert code == 2 and err.strip().splitlines() == [
        "error: the velocity is given from velocity_time 0 to 0.24 but the run needs it from 0.005 to 0.245 (the "
        "midpoints of its 25 steps of dt = 0.01 from t = 0); give fewer --steps or velocities that cover the run"
    ]
    assert not (tmp_path / "late.nc").exists()


def _winds_6_hours_apart(grid):
    """Four divergence-free winds (km h-1) and the datetimes 6 hours apart they are at."""
    from learned_advection.flows.velocity import random_sinusoidal

    frames = [tuple(np.asarray(v, np.float64) / 8 for v in random_sinusoidal(grid, seed)) for seed in range(4)]
    names = io.AXIS_NAMES[grid.ndim]
    data = {"concentration": (names, _gauss(grid))}
    for a, name in enumerate(names):
        u = np.stack([f[a] for f in frames])
        data[io.VELOCITY_NAMES[name]] = (("velocity_time",) + names, u, {"units": "km h-1"})
    dates = np.array(["2000-01-01T00", "2000-01-01T06", "2000-01-01T12", "2000-01-01T18"], "datetime64[ns]")
    coords = {n: (n, grid.centres(a)) for a, n in enumerate(names)} | {"velocity_time": dates}
    return xr.Dataset(data, coords=coords)


def test_winds_at_dates_run_in_the_velocity_time_unit_however_the_dates_are_stored(cli, tmp_path):
    """The same winds 6 hours apart stored as hours, as days (since a date) or as durations give the same run;
    the output's time decodes to the dates of the run (t = 0 at the first wind)."""
    ds = _winds_6_hours_apart(Grid((16, 16), (1.0, 1.0)))
    ds.to_netcdf(tmp_path / "hours.nc", engine="h5netcdf")
    days = {"velocity_time": {"units": "days since 2000-01-01", "dtype": "float64"}}
    ds.to_netcdf(tmp_path / "days.nc", engine="h5netcdf", encoding=days)
    ds.assign_coords(velocity_time=ds["velocity_time"] - ds["velocity_time"][0]).to_netcdf(
        tmp_path / "durations.nc", engine="h5netcdf"
    )
    with xr.open_dataset(tmp_path / "days.nc", engine="h5netcdf", decode_times=False) as raw:
        assert raw["velocity_time"].attrs["units"] == "days since 2000-01-01"
        np.testing.assert_array_equal(raw["velocity_time"].values, [0, 0.25, 0.5, 0.75])
    args = ["--scheme", "vanleer", "--steps", 6, "--dt", 0.1, "--quiet"]  # in hours, the velocity's time unit
    for name in ("hours", "days", "durations"):
        code, _, err = cli("simulate", tmp_path / f"{name}.nc", tmp_path / f"{name}_out.nc", *args)
        assert code == 0, err
    out = {n: xr.load_dataset(tmp_path / f"{n}_out.nc", engine="h5netcdf") for n in ("hours", "days", "durations")}
    np.testing.assert_array_equal(out["days"]["concentration"].values, out["hours"]["concentration"].values)
    np.testing.assert_array_equal(out["durations"]["concentration"].values, out["hours"]["concentration"].values)
    minutes = np.array([0, 6, 12, 18, 24, 30, 36], "timedelta64[m]")
    np.testing.assert_array_equal(out["hours"]["time"].values, np.datetime64("2000-01-01T00:00", "ns") + minutes)
    assert out["hours"]["time"].encoding["units"] == "hours since 2000-01-01T00:00:00"
    with xr.open_dataset(tmp_path / "durations_out.nc", engine="h5netcdf", decode_times=False) as raw:
        assert raw["time"].attrs["units"] == "hours"
        np.testing.assert_allclose(raw["time"].values, 0.1 * np.arange(7), rtol=0, atol=1e-15)


def _bad_time_inputs(tmp_path):
    """Inputs whose velocity times, velocity units or tracer names cannot be run or written."""
    grid = Grid((16, 16), (1.0, 1.0))
    winds = _winds_6_hours_apart(grid)
    plain = winds.copy()
    for name in ("x_velocity", "y_velocity"):
        plain[name].attrs = {}
    plain.to_netcdf(tmp_path / "dates_no_unit.nc", engine="h5netcdf")
    noleap = {"units": "hours since 2000-01-01", "calendar": "noleap"}
    winds.assign_coords(velocity_time=("velocity_time", [0, 6, 12, 18], noleap)).to_netcdf(
        tmp_path / "noleap.nc", engine="h5netcdf"
    )
    nat = winds["velocity_time"].values.copy()
    nat[2] = np.datetime64("NaT")
    winds.assign_coords(velocity_time=nat).to_netcdf(tmp_path / "nat.nc", engine="h5netcdf")
    winds.assign(x_velocity=winds["x_velocity"].assign_attrs(units="m s-1")).to_netcdf(
        tmp_path / "mixed_units.nc", engine="h5netcdf"
    )
    far = winds.isel(velocity_time=slice(0, 3)).assign_coords(velocity_time=[-1e12, 0.0, 1.0])
    far.to_netcdf(tmp_path / "far.nc", engine="h5netcdf")
    line = Grid((16,), (1.0,))
    for name, tracer in (("slash", "dust/pm10"), ("newline", "dust\npm10")):
        ds = xr.Dataset(
            {"concentration": ("x", _gauss(line)), tracer: ("x", _gauss(line)), "x_velocity": ("x", np.ones(16))},
            coords={"x": line.centres(0)},
        )
        ds.to_netcdf(tmp_path / f"{name}.nc", engine="scipy")  # netCDF-3 holds a '/' in a name


BAD = {
    "missing input": (
        ["simulate", "{tmp}/missing.nc", "{out}", "--scheme", "upwind", "--steps", "2", "--dt", "0.01"],
        "not found",
    ),
    "not netcdf": (
        ["simulate", "{tmp}/junk.nc", "{out}", "--scheme", "upwind", "--steps", "2", "--dt", "0.01"],
        "cannot read",
    ),
    "missing variable": (
        ["simulate", "{tmp}/novel.nc", "{out}", "--scheme", "upwind", "--steps", "2", "--dt", "0.01"],
        "x_velocity",
    ),
    "courant > 4": (["simulate", "{in1}", "{out}", "--scheme", "vanleer", "--steps", "2", "--dt", "0.6"], "Courant"),
    "cfl > 4": (["simulate", "{in1}", "{out}", "--scheme", "vanleer", "--steps", "2", "--cfl", "4.5"], "--cfl"),
    "weno above its stable Courant number": (
        ["simulate", "{in1}", "{out}", "--scheme", "weno5z", "--steps", "2", "--cfl", "1.5"],
        "Courant number",
    ),
    "cfl 0": (["simulate", "{in1}", "{out}", "--scheme", "vanleer", "--steps", "2", "--cfl", "0"], "--cfl"),
    "negative dt": (["simulate", "{in1}", "{out}", "--scheme", "vanleer", "--steps", "2", "--dt", "-0.1"], "--dt"),
    "nan dt": (["simulate", "{in1}", "{out}", "--scheme", "vanleer", "--steps", "2", "--dt", "nan"], "--dt"),
    "zero steps": (["simulate", "{in1}", "{out}", "--scheme", "upwind", "--steps", "0", "--dt", "0.01"], "--steps"),
    "negative steps": (
        ["simulate", "{in1}", "{out}", "--scheme", "upwind", "--steps", "-3", "--dt", "0.01"],
        "--steps",
    ),
    "steps not int": (
        ["simulate", "{in1}", "{out}", "--scheme", "upwind", "--steps", "two", "--dt", "0.01"],
        "--steps",
    ),
    "save-every not divisor": (
        ["simulate", "{in1}", "{out}", "--scheme", "upwind", "--steps", "5", "--save-every", "2", "--dt", "0.01"],
        "multiple",
    ),
    "save-every 0": (
        ["simulate", "{in1}", "{out}", "--scheme", "upwind", "--steps", "4", "--save-every", "0", "--dt", "0.01"],
        "--save-every",
    ),
    "unknown scheme": (["simulate", "{in1}", "{out}", "--scheme", "weno9", "--steps", "2", "--dt", "0.01"], "--scheme"),
    "dt and cfl": (
        ["simulate", "{in1}", "{out}", "--scheme", "upwind", "--steps", "2", "--dt", "0.01", "--cfl", "0.5"],
        "exactly one",
    ),
    "neither dt nor cfl": (["simulate", "{in1}", "{out}", "--scheme", "upwind", "--steps", "2"], "exactly one"),
    "too few velocity fields": (
        ["simulate", "{in2}", "{out}", "--scheme", "upwind", "--steps", "7", "--cfl", "0.5"],
        "velocity fields",
    ),
    "zero velocity with cfl": (
        ["simulate", "{tmp}/still.nc", "{out}", "--scheme", "upwind", "--steps", "2", "--cfl", "0.5"],
        "zero",
    ),
    "learned without model": (
        ["simulate", "{in1}", "{out}", "--scheme", "learned", "--steps", "2", "--dt", "0.01"],
        "--model",
    ),
    "learned bad model": (
        [
            "simulate",
            "{in1}",
            "{out}",
            "--scheme",
            "learned",
            "--steps",
            "2",
            "--dt",
            "0.01",
            "--model",
            "{tmp}/nomodel",
        ],
        "does not exist",
    ),
    "model with classical": (
        [
            "simulate",
            "{in1}",
            "{out}",
            "--scheme",
            "upwind",
            "--steps",
            "2",
            "--dt",
            "0.01",
            "--model",
            "{tmp}/nomodel",
        ],
        "--model",
    ),
    "missing output arg": (["simulate", "{in1}"], "OUTPUT"),
    "unknown option": (
        ["simulate", "{in1}", "{out}", "--scheme", "upwind", "--steps", "2", "--dt", "0.01", "--bogus"],
        "bogus",
    ),
    "missing output folder": (
        ["simulate", "{in1}", "{tmp}/no/such/dir/out.nc", "--scheme", "upwind", "--steps", "2", "--dt", "0.01"],
        "does not exist",
    ),
    "output is a folder": (
        ["simulate", "{in1}", "{tmp}", "--scheme", "upwind", "--steps", "2", "--dt", "0.01"],
        "folder",
    ),
    "dates without a time unit on the velocity": (
        ["simulate", "{tmp}/dates_no_unit.nc", "{out}", "--scheme", "upwind", "--steps", "2", "--dt", "0.1"],
        "add a units attribute like 'm s-1' to the velocity",
    ),
    "dates in a noleap calendar": (
        ["simulate", "{tmp}/noleap.nc", "{out}", "--scheme", "upwind", "--steps", "2", "--dt", "0.1"],
        "calendar 'noleap'",
    ),
    "a missing velocity time": (
        ["simulate", "{tmp}/nat.nc", "{out}", "--scheme", "upwind", "--steps", "2", "--dt", "0.1"],
        "missing time (NaN or NaT)",
    ),
    "velocity components in different units": (
        ["simulate", "{tmp}/mixed_units.nc", "{out}", "--scheme", "upwind", "--steps", "2", "--dt", "0.1"],
        "disagree on their units",
    ),
    "a run past the last wind after a far first one": (
        ["simulate", "{tmp}/far.nc", "{out}", "--scheme", "upwind", "--steps", "500", "--dt", "1"],
        "the run needs it from 0.5 to 499.5",
    ),
    "tracer name with a slash": (
        ["simulate", "{tmp}/slash.nc", "{out}", "--scheme", "upwind", "--steps", "2", "--dt", "0.01"],
        "the tracer variable 'dust/pm10' contains '/'",
    ),
    "tracer name with a newline": (
        ["simulate", "{tmp}/newline.nc", "{out}", "--scheme", "upwind", "--steps", "2", "--dt", "0.01"],
        "the tracer variable 'dust\\npm10' contains control or line-break characters",
    ),
}


@pytest.fixture
def bad_inputs(tmp_path, problem_1d, problem_2d):
    (tmp_path / "junk.nc").write_text("not a netCDF file\n")
    grid = Grid((16,), (1.0,))
    xr.Dataset({"concentration": ("x", _gauss(grid))}, coords={"x": grid.centres(0)}).to_netcdf(
        tmp_path / "novel.nc", engine="h5netcdf"
    )
    io.write_problem(tmp_path / "still.nc", grid, _gauss(grid), (np.zeros(16),))
    _bad_time_inputs(tmp_path)
    return {"tmp": tmp_path, "in1": problem_1d, "in2": problem_2d}


@pytest.mark.parametrize("existing", [False, True], ids=["new-output", "existing-output"])
@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_exit_2_one_line_nothing_written(cli, bad_inputs, tmp_path, case, existing):
    args, match = BAD[case]
    out = tmp_path / "out.nc"
    if existing:
        out.write_bytes(b"precious bytes")
    argv = [a.format(out=out, **bad_inputs) for a in args]
    if existing and "--bogus" not in argv:
        argv.append("--overwrite")
    before = sorted(p.name for p in tmp_path.iterdir())
    code, stdout, err = cli(*argv)
    assert code == 2, (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    assert match in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written, no temporary files
    if existing:
        assert out.read_bytes() == b"precious bytes"


def test_subprocess_exit_codes(tmp_path, problem_1d):
    """A real process: exit 2, one line on stderr, no traceback; success exits 0."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    cmd = [
        sys.executable,
        "-m",
        "learned_advection",
        "simulate",
        str(problem_1d),
        str(tmp_path / "o.nc"),
        "--scheme",
        "upwind",
    ]
    bad = subprocess.run(cmd + ["--steps", "0", "--dt", "0.01"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("error: ") and "--steps" in bad.stderr
    assert not (tmp_path / "o.nc").exists()
    ok = subprocess.run(
        cmd + ["--steps", "2", "--dt", "0.01", "--x64", "--quiet"], capture_output=True, text=True, env=env
    )
    assert ok.returncode == 0, ok.stderr
    assert io.read_simulation(tmp_path / "o.nc")["concentration"].dtype == np.float64


def test_version_and_help(cli):
    code, out, _ = cli("--version")
    assert code == 0 and "learned-advection" in out
    code, out, _ = cli("simulate", "--help")
    assert code == 0 and "--scheme" in out
    code, _, err = cli("no-such-command")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("error: ") and "No such command 'no-such-command'" in err


def test_demo_quick_writes_report_and_refuses_to_overwrite(cli, tmp_path, monkeypatch):
    """The demo pipeline end to end (--quick: smoke-sized 1-D part, 8 turbulence steps, 16^2 deformation)."""
    import dataclasses

    from learned_advection.experiments import deformation_demo

    small = dataclasses.replace(deformation_demo.DemoConfig(), n=16)
    monkeypatch.setattr(deformation_demo, "DemoConfig", lambda: small)
    out, data = tmp_path / "demo", tmp_path / "data"
    code, stdout, err = cli("demo", "--quick", "--out", out, "--data-dir", data)
    assert code == 0, err
    for name in ("upwind", "vanleer", "ppm", "learned-32", "vanleer-128", "vanleer-32 / learned-32"):
        assert name in stdout, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["experiment"] == "demo" and set(metrics["parts"]) == {
        "advection-1d",
        "turbulence-2d",
        "deformation",
        "accuracy-cost",
        "plume",
    }
    regional = metrics["parts"]["plume"]["runs"]
    assert {"upwind-32", "ppm-32", "ppm-32-k4"} <= set(regional)
    assert all(r["budget_residual"] <= 1e-6 and r["min"] >= 0 for r in regional.values())
    assert (out / "plume" / "figures" / "plume.png").is_file() and "plume/report.md" in (out / "report.md").read_text()
    plane = metrics["parts"]["accuracy-cost"]
    assert {
        "learned-32 4x32-fct",  # the paper's model as shipped (in FCT)
        "vanleer-32",
        "vanleer-64-k8",
        "ppm-64-k8",
        "vanleer-64-k8-unbounded",
        "weno5z-32",
    } <= set(plane["points"])
    assert plane["points"]["vanleer-64-k8"]["k"] == 8 and plane["pareto_front"]
    turb = metrics["parts"]["turbulence-2d"]["methods"]
    assert plane["points"]["vanleer-32"]["mae"] == pytest.approx(
        turb["vanleer-32"]["mae"], rel=1e-5
    )  # the same seeds and step
    assert {"learned-32-fct", "vanleer-32", "vanleer-64", "vanleer-128"} <= set(turb)
    assert all(np.isfinite(v["mae"]) and abs(v["mass_error"]) < 1e-4 for v in turb.values())
    for m in metrics["parts"]["deformation"]["schemes"].values():
        assert abs(m["mass_change"]) < 1e-5 and m["min"] > -1e-6 and m["l1_error"] > 0
    assert (out / "figures" / "turbulence.gif").read_bytes()[:3] == b"GIF"
    for sub in ("advection-1d", "turbulence-2d", "deformation", "accuracy-cost"):
        assert (out / sub / "report.md").is_file()
    assert "accuracy-cost/figures/fig11_accuracy_cost.png" in (out / "report.md").read_text()
    text = (out / "report.md").read_text()
    assert "figures/turbulence.gif" in text and "turbulence-2d/report.md" in text
    # `report DIR` rebuilds the reports from metrics.json alone, identically
    for folder in (out, out / "advection-1d", out / "turbulence-2d", out / "accuracy-cost", out / "plume"):
        before = (folder / "report.md").read_text()
        (folder / "report.md").unlink()
        code, _, err = cli("report", folder, "--quiet")
        assert code == 0, err
        assert (folder / "report.md").read_text() == before, folder
    # a second run refuses to overwrite and leaves everything as it was
    before = (out / "metrics.json").read_bytes()
    code, _, err = cli("demo", "--quick", "--out", out, "--data-dir", data, "--quiet")
    assert code == 2 and "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert (out / "metrics.json").read_bytes() == before
    assert not [p for p in out.rglob(".*")]


def test_report_errors(cli, tmp_path):
    code, _, err = cli("report", tmp_path / "missing")
    assert code == 2 and err.startswith("error:") and len(err.strip().splitlines()) == 1
    assert "missing is not a folder" in err and "Traceback" not in err
    assert not (tmp_path / "missing").exists()
    (tmp_path / "empty").mkdir()
    code, _, err = cli("report", tmp_path / "empty")
    assert code == 2 and "metrics.json" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert list((tmp_path / "empty").iterdir()) == []
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "metrics.json").write_text("{not json")
    (bad / "report.md").write_text("keep me")
    code, _, err = cli("report", bad)
    assert code == 2 and "cannot read" in err and len(err.strip().splitlines()) == 1
    (bad / "metrics.json").write_text('{"experiment": "turbulence-2d"}')
    code, _, err = cli("report", bad)
    assert code == 2 and "lacks" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert (bad / "report.md").read_text() == "keep me"
    assert sorted(p.name for p in bad.iterdir()) == ["metrics.json", "report.md"]


def test_report_rebuilds_a_cost_folder(cli, tmp_path):
    """The `cost` command's folder keeps its metrics in cost.json; `report DIR` rebuilds it like any other."""
    from learned_advection.experiments import accuracy_cost

    points = {
        "vanleer-32": {"kind": "classical", "grid": 32, "mae": 0.05, "seconds_per_time_unit": 0.01},
        "vanleer-64": {"kind": "classical", "grid": 64, "mae": 0.06, "seconds_per_time_unit": 0.05},
        "learned-32 4x32": {"kind": "learned", "grid": 32, "mae": 0.02, "seconds_per_time_unit": 0.02},
    }
    front = accuracy_cost.pareto_front({k: (v["seconds_per_time_unit"], v["mae"]) for k, v in points.items()})
    assert front == ["vanleer-32", "learned-32 4x32"]  # vanleer-64 is beaten by both
    for name, p in points.items():
        p["pareto"] = name in front
    result = {
        "experiment": "accuracy-cost",
        "command": "learned-advection cost turbulence-2d",
        "version": "0",
        "machine": "m",
        "date": "d",
        "test_seeds": [1000, 1003],
        "step": 256,
        "timing_steps": 64,
        "points": points,
        "pareto_front": front,
    }
    folder = tmp_path / "cost"
    folder.mkdir()
    (folder / "cost.json").write_text(json.dumps(result))
    code, out, err = cli("report", folder)
    assert code == 0 and out.strip() == f"wrote {folder / 'report.md'}", err
    text = (folder / "report.md").read_text()
    assert text == accuracy_cost.report(result)
    # a cost.json of before large steps (no k, one batch): k 1, Courant 0.5, as those runs were
    assert "| learned-32 4x32 | 32² | 1 | 0.5 | 0.0200 | 0.02000 | yes | " in text
    assert "| vanleer-64 | 64² | 1 | 0.5 | 0.0600 | 0.05000 |  | " in text
    assert sorted(p.name for p in folder.iterdir()) == ["cost.json", "report.md"]


def test_demo_metrics_full_size():
    """The real 64² configuration: a cheap check of the set-up, not a run."""
    from learned_advection.experiments import deformation_demo
    from learned_advection.flows.tracers import cosine_bell

    config = deformation_demo.DemoConfig()
    grid = Grid.square(config.n, 1.0)
    dt, n_steps = deformation_demo.time_stepping(grid, config)
    assert n_steps % 2 == 0 and dt * n_steps == pytest.approx(config.period)
    assert dt <= 0.5 * (1 / 64) / 0.99
    bell = cosine_bell(grid, config.centre, config.radius)
    assert bell.max() > 0.95 and bell.min() == 0.0


def test_bench_tracers_quick_json(cli):
    """`bench --tracers N`: one run of N tracers against N runs of one, the ratios derived from the times
    measured (figures only: no timing is asserted)."""
    code, out, err = cli("bench", "--tracers", 3, "--quick", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert (report["n_tracers"], report["cells"], report["scheme"]) == (3, "32x32", "vanleer")
    e, c = report["end_to_end"], report["compiled"]
    assert len(e["separate_each_s"]) == 3 and e["separate_s"] == pytest.approx(sum(e["separate_each_s"]))
    assert e["per_tracer_ratio"] == pytest.approx(e["batched_s"] / e["separate_s"])
    assert c["per_tracer_ratio"] == pytest.approx(c["batched_s"] / (3 * c["single_s"]))
    code, _, err = cli("bench", "--tracers", 0)
    assert (
        code == 2
        and err.strip() == "error: --tracers must be from 1 to 256 (with at least 4 cells and one step), got 0"
    )


def test_bench_quick_json(cli):
    code, out, err = cli("bench", "--quick", "--json")
    assert code == 0, err
    report = json.loads(out)
    schemes = {(r["implementation"], r["scheme"], r["ndim"]) for r in report["results"]}
    for name in ("upwind", "vanleer", "ppm"):
        assert ("learned-advection", name, 1) in schemes and ("learned-advection", name, 2) in schemes
    for r in report["results"]:  # one median per record, million cell updates per second derived from it
        assert r["cells"] == r["n"] ** r["ndim"] and np.isfinite(r["us_per_step"])
        assert r["mcups"] == pytest.approx(r["cells"] / r["us_per_step"])
    assert isinstance(report["jax_cfd"]["available"], bool)
    peak = report["matmul_peak"]
    assert peak["best_gflops"] == max(r["gflops"] for r in peak["records"]) and peak["best"] in peak["records"]
    assert {r["batch"] for r in report["learned"]} == {1, 4}
    assert {r["scheme"].split()[-1] for r in report["learned"]} >= {"bf16", "fct", "d4"}  # the inference variants
    for r in report["learned"]:  # every rate is derived from the one measured time per step
        assert np.isfinite(r["us_per_step"])
        assert r["ms_per_step_per_sample"] == pytest.approx(r["us_per_step"] / 1e3 / r["batch"])
        assert r["mcups"] == pytest.approx(r["n"] ** 2 * r["batch"] / r["us_per_step"])
        assert r["gflops"] == pytest.approx(r["flops_per_step_per_sample"] * r["batch"] / r["us_per_step"] / 1e3)
        assert r["utilization"] == r["gflops"] / peak["best_gflops"]
    # 2-D Van Leer is timed with the velocity as a runtime input and as a folded constant; with 512-bit
    # vectors too where the CPU has AVX-512; every jax-cfd case is compared with ours in the same setting
    vl = [
        r
        for r in report["results"]
        if r["implementation"] == "learned-advection" and r["scheme"] == "vanleer" and r["ndim"] == 2
    ]
    settings = {(r["velocity"], r["vector_width"]) for r in vl}
    assert {("input", None), ("constant", None)} <= settings
    assert (("input", 512) in settings) == report["environment"]["avx512"]
    if report["jax_cfd"]["available"]:
        assert {(c["velocity"], c["vector_width"]) for c in report["vanleer_vs_jax_cfd"]} == settings


def test_bench_learned_times_small_networks_and_large_steps(cli):
    """``bench --learned``: every network size and inference option, per sample, against the same run's peak."""
    code, out, err = cli("bench", "--learned", "--quick", "--json")
    assert code == 0, err
    report = json.loads(out)
    names = {r["scheme"] for r in report["learned"]}
    assert {"learned 1x8", "learned 2x8", "learned 1x8 ffsl k8", "learned 1x8 ffsl k8 fct", "learned 1x8 d4"} <= names
    for r in report["learned"]:
        assert r["k"] == (8 if "k8" in r["scheme"] else 4 if "k4" in r["scheme"] else 1)
        assert (r["large_step"] == "ffsl") == ("ffsl" in r["scheme"]) and (r["limiter"] == "fct") == r[
            "scheme"
        ].endswith("fct")
        assert np.isfinite(r["us_per_step"]) and r["utilization"] == r["gflops"] / report["matmul_peak"]["best_gflops"]
    assert {r["batch"] for r in report["learned"]} == {1, 4}


def test_bench_paper_vs_vanleer_quick(cli):
    """The paper's speed comparison (the GPU check) runs on any device and reports both costs per coarse step."""
    code, out, err = cli("bench", "--paper-vs-vanleer", "--quick", "--json")
    assert code == 0, err
    report = json.loads(out)
    from learned_advection.experiments.turbulence_2d import PRESETS
    from learned_advection.learned.config import ModelConfig

    assert ModelConfig.from_dict(report["model"]) == PRESETS["paper"].model  # the paper's network is the one timed
    assert [r["batch"] for r in report["records"]] == [1, 2]
    for r in report["records"]:
        learned, vl = r["learned_ms_per_coarse_step_per_sample"], r["vanleer128_ms_per_coarse_step_per_sample"]
        assert np.isfinite([learned, vl]).all() and r["learned_speedup"] == pytest.approx(vl / learned)


def test_model_flop_count_matches_xla():
    """The analytic FLOP count used for `utilization` agrees with XLA's cost analysis of one step."""
    import jax

    from learned_advection.evaluation.learned_bench import model_flops_per_step
    from learned_advection.learned.config import ModelConfig
    from learned_advection.learned.models import build_model

    config = ModelConfig(ndim=2, layers=3, filters=16, stencil=(4, 5))
    model = build_model(config, jax.random.PRNGKey(0))
    c = np.ones((32, 32), np.float32)
    v = (np.ones((32, 32), np.float32),) * 2
    cost = jax.jit(lambda c: model(c, v, 0.1, (0.2, 0.2))).lower(c).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    assert 0.8 < cost["flops"] / model_flops_per_step(config, 32) < 1.25


def test_evaluate_turbulence_records_the_command_that_reproduces_it(cli, monkeypatch):
    """The provenance line names the experiment argument and leaves out the options of the 1-D evaluation."""
    from learned_advection.experiments import turbulence_2d

    seen = {}
    monkeypatch.setattr(turbulence_2d, "evaluate_checkpoint", lambda *a, **k: seen.update(k) or {"methods": {}})
    code, _, err = cli("evaluate", "turbulence-2d", "--model", "pretrained", "--steps", 8, "--variants", "plain,fct")
    assert code == 0, err
    assert seen["command"].startswith("learned-advection evaluate turbulence-2d ")
    assert "--steps 8" in seen["command"] and "--variants plain,fct" in seen["command"]
    assert "--data " not in seen["command"] and "--shape" not in seen["command"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--kinds", "interpolation,bogus"], "--kinds: unknown bogus"),
        (["--iterations", "0"], "--iterations must be a positive integer"),
        (["--long-steps", "-1"], "--long-steps must be 0 or positive"),
    ],
)
def test_ablation_rejects_bad_options_before_any_work(cli, tmp_path, args, message):
    code, _, err = cli("reproduce", "ablation-2d", "--preset", "smoke", "--out", tmp_path / "abl", *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "abl").exists()


def test_cost_records_each_repeated_model_option(cli, monkeypatch):
    """An option given several times is spelled once per value in the provenance line (not as a tuple)."""
    from learned_advection.experiments import accuracy_cost

    seen = {}
    monkeypatch.setattr(accuracy_cost, "run", lambda *a, **k: seen.update(command=k["command"]) or {})
    monkeypatch.setattr(accuracy_cost, "report", lambda result: "")
    code, _, err = cli("cost", "turbulence-2d", "--model", "pretrained", "--model", "pretrained", "--steps", 8)
    assert code == 0, err
    assert "--model pretrained --model pretrained" in seen["command"]
    assert "(" not in seen["command"] and "--steps 8" in seen["command"]


def test_reproduce_turbulence_offers_every_preset():
    """The CLI's literal preset list (kept literal so --help does not import JAX) names every preset of the experiment."""
    from learned_advection.cli.turbulence import turbulence_2d
    from learned_advection.experiments.turbulence_2d import PRESETS

    choice = next(p for p in turbulence_2d.params if p.name == "preset").type
    assert set(choice.choices) == set(PRESETS)
