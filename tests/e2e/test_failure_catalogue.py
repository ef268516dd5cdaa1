"""The failure catalogue: each CLI command given bad input exits 2 with one line and touches nothing.

Cases (issue "a tool people enjoy using"): a missing file, a wrong variable name, a wrong grid size
for a model, a NaN in the input, a zero or negative step count, an unwritable output folder, an
existing output without --overwrite, a corrupt checkpoint, and Ctrl-C during training (exit 130,
checkpoint intact, resumable).  ``simulate`` has its own, longer table in test_cli.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
import xarray as xr

from learned_advection.data.netcdf import write_reference
from learned_advection.data.reference import Setup1D, make_dataset_1d, rng_for
from learned_advection.files import interrupts_deferred
from learned_advection.learned import checkpoint
from learned_advection.learned.config import ModelConfig
from learned_advection.learned.models import build_model
from learned_advection.numerics.grids import Grid


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("catalogue")
    data = make_dataset_1d(rng_for(0, "train"), Setup1D(), 3, 12, ("square",))
    write_reference(tmp / "ref.nc", data)
    ds = xr.open_dataset(tmp / "ref.nc", engine="h5netcdf").load()
    ds.rename({"concentration": "tracer"}).to_netcdf(tmp / "renamed.nc", engine="h5netcdf")
    nan = ds.copy(deep=True)
    nan["concentration"].values[0, 3, 5] = np.nan
    nan.to_netcdf(tmp / "nan.nc", engine="h5netcdf")
    ds.close()
    cfg = ModelConfig(ndim=1, layers=1, filters=2)
    model = build_model(cfg, jax.random.PRNGKey(0))
    checkpoint.save_checkpoint(tmp / "model16", model, checkpoint.make_config(cfg, Grid((16,), (32.0,)), 0.5, 0))
    checkpoint.save_checkpoint(tmp / "corrupt", model, checkpoint.make_config(cfg, Grid((32,), (32.0,)), 0.5, 0))
    w = tmp / "corrupt" / "weights.eqx"
    w.write_bytes(w.read_bytes()[:20])
    (tmp / "corruptrun").mkdir()  # a training run whose last/ checkpoint is corrupt
    checkpoint.save_checkpoint(
        tmp / "corruptrun" / "last", model, checkpoint.make_config(cfg, Grid((32,), (32.0,)), 0.5, 0)
    )
    w = tmp / "corruptrun" / "last" / "weights.eqx"
    w.write_bytes(w.read_bytes()[:20])
    cfg2 = ModelConfig(ndim=2, layers=1, filters=2, stencil=(2, 3))
    checkpoint.save_checkpoint(
        tmp / "model2d16",
        build_model(cfg2, jax.random.PRNGKey(0)),
        checkpoint.make_config(cfg2, Grid.square(16, 2 * np.pi), 0.024, 0),
    )
    (tmp / "existing").mkdir()
    (tmp / "existing" / "keep.txt").write_text("precious")
    (tmp / "existing" / "last").mkdir()
    (tmp / "readonly").mkdir()
    os.chmod(tmp / "readonly", 0o555)
    return tmp


T = ["train", "--steps", "2", "--batch-size", "2", "--unroll", "2", "--quiet"]
E = ["evaluate", "--steps", "4", "--quiet"]
CASES = {
    # train
    "train missing file": (T + ["--data", "{t}/missing.nc", "--out", "{t}/o1"], "does not exist"),
    "train wrong variable": (T + ["--data", "{t}/renamed.nc", "--out", "{t}/o2"], "concentration"),
    "train NaN input": (T + ["--data", "{t}/nan.nc", "--out", "{t}/o3"], "NaN"),
    "train zero steps": (["train", "--steps", "0", "--data", "{t}/ref.nc", "--out", "{t}/o4", "--quiet"], "steps"),
    "train negative steps": (["train", "--steps", "-5", "--data", "{t}/ref.nc", "--out", "{t}/o5", "--quiet"], "steps"),
    "train unwritable output": (T + ["--data", "{t}/ref.nc", "--out", "{u}/run"], "{u}"),
    "train existing output": (T + ["--data", "{t}/ref.nc", "--out", "{t}/existing"], "--resume"),
    "train resume nothing": (T + ["--data", "{t}/ref.nc", "--out", "{t}/corrupt", "--resume"], "nothing to resume"),
    "train resume corrupt": (T + ["--data", "{t}/ref.nc", "--out", "{t}/corruptrun", "--resume"], "corrupt checkpoint"),
    # evaluate
    "evaluate missing model": (E + ["--model", "{t}/nomodel"], "does not exist"),
    "evaluate corrupt checkpoint": (E + ["--model", "{t}/corrupt"], "corrupt"),
    "evaluate wrong grid size": (E + ["--model", "{t}/model16"], "cell size"),
    "evaluate missing data": (E + ["--model", "{t}/model16", "--data", "{t}/missing.nc"], "does not exist"),
    "evaluate wrong variable": (E + ["--model", "{t}/model16", "--data", "{t}/renamed.nc"], "concentration"),
    "evaluate NaN input": (E + ["--model", "{t}/model16", "--data", "{t}/nan.nc"], "NaN"),
    "evaluate zero steps": (["evaluate", "--model", "{t}/model16", "--steps", "0"], "--steps"),
    "evaluate negative steps": (["evaluate", "--model", "{t}/model16", "--steps", "-1"], "--steps"),
    "evaluate turbulence wrong grid": (
        ["evaluate", "turbulence-2d", "--model", "{t}/model2d16", "--quiet"],
        "cell size",
    ),
    "evaluate turbulence corrupt": (["evaluate", "turbulence-2d", "--model", "{t}/corrupt", "--quiet"], "corrupt"),
    "evaluate turbulence bad variant": (
        ["evaluate", "turbulence-2d", "--model", "pretrained", "--variants", "x"],
        "variant",
    ),
    "evaluate turbulence long < steps": (
        ["evaluate", "turbulence-2d", "--model", "pretrained", "--steps", "8", "--long-steps", "4"],
        "--long-steps",
    ),
    "evaluate turbulence negative long": (
        ["evaluate", "turbulence-2d", "--model", "pretrained", "--long-steps", "-4"],
        "--long-steps",
    ),
    "evaluate turbulence existing out": (
        ["evaluate", "turbulence-2d", "--model", "pretrained", "--out", "{t}/existing", "--quiet"],
        "--overwrite",
    ),
    "evaluate turbulence bad seeds": (
        ["evaluate", "turbulence-2d", "--model", "pretrained", "--test-seeds", "9-3"],
        "seed",
    ),
    # transfer (generalisation test)
    "transfer wrong grid": (["transfer", "turbulence-2d", "--model", "{t}/model2d16", "--quiet"], "cell size"),
    "transfer corrupt": (["transfer", "turbulence-2d", "--model", "{t}/corrupt", "--quiet"], "corrupt"),
    "transfer missing model": (["transfer", "turbulence-2d", "--model", "{t}/nomodel", "--quiet"], "does not exist"),
    "transfer existing out": (
        ["transfer", "turbulence-2d", "--steps", "4", "--out", "{t}/existing", "--quiet"],
        "--overwrite",
    ),
    "transfer unwritable": (["transfer", "turbulence-2d", "--steps", "4", "--out", "{u}/tr", "--quiet"], "{u}"),
    "transfer zero steps": (["transfer", "turbulence-2d", "--steps", "0"], "--steps"),
    "transfer bad flow": (["transfer", "turbulence-2d", "--flows", "x"], "flow"),
    # reproduce
    "reproduce 1-D existing output": (
        ["reproduce", "advection-1d", "--preset", "smoke", "--out", "{t}/existing", "--quiet"],
        "--overwrite",
    ),
    "reproduce 1-D unwritable": (
        ["reproduce", "advection-1d", "--preset", "smoke", "--out", "{u}/r", "--quiet"],
        "{u}",
    ),
    "reproduce 1-D bad seeds": (
        ["reproduce", "advection-1d", "--preset", "smoke", "--out", "{t}/r1", "--test-seeds", "a-b"],
        "seed",
    ),
    "reproduce turbulence existing": (
        ["reproduce", "turbulence-2d", "--preset", "smoke", "--out", "{t}/existing", "--quiet"],
        "--overwrite",
    ),
    "reproduce turbulence unwritable": (
        ["reproduce", "turbulence-2d", "--preset", "smoke", "--out", "{u}/r", "--data-dir", "{t}/d", "--quiet"],
        "{u}",
    ),
    "reproduce turbulence resume nothing": (
        [
            "reproduce",
            "turbulence-2d",
            "--preset",
            "smoke",
            "--out",
            "{t}/fresh",
            "--data-dir",
            "{t}/d",
            "--resume",
            "--quiet",
        ],
        "resume",
    ),
    "reproduce deformation existing": (
        ["reproduce", "deformation-2d", "--preset", "smoke", "--out", "{t}/existing", "--quiet"],
        "--overwrite",
    ),
    "reproduce unknown preset": (["reproduce", "turbulence-2d", "--preset", "huge"], "preset"),
    # demo, report, bench
    "demo existing output": (["demo", "--out", "{t}/existing", "--quiet"], "--overwrite"),
    "demo unwritable": (["demo", "--out", "{u}/demo", "--quiet"], "{u}"),
    "report missing folder": (["report", "{t}/missing"], "missing"),
    "report no metrics": (["report", "{t}/existing"], "metrics.json"),
    "bench unknown option": (["bench", "--sizes", "x"], "No such option '--sizes'"),
}


def _snapshot(folder):
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_one_line_exit_2_nothing_touched(cli, files, case):
    # an unwritable place: a read-only folder, or (root ignores permissions) a path through a file
    u = files / "readonly" if os.geteuid() != 0 else files / "existing" / "keep.txt"
    args, match = CASES[case]
    argv = [a.format(t=files, u=u) for a in args]
    before = _snapshot(files)
    code, _, err = cli(*argv)
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert match.format(t=files, u=u) in lines[0], lines[0]
    assert _snapshot(files) == before  # nothing written, nothing removed, no temporary files


def test_ctrl_c_during_training_exit_130_checkpoint_intact_and_resumable(tmp_path):
    """SIGINT while training: exit 130, one line, last/ intact; --resume finishes the run."""
    data = make_dataset_1d(rng_for(0, "train"), Setup1D(), 3, 12, ("square",))
    write_reference(tmp_path / "ref.nc", data)
    out = tmp_path / "run"
    # Ctrl-C as in a terminal: a test run started in the background of a script ignores SIGINT and
    # its children inherit that (the CLI rightly keeps an inherited "ignore"), so the child restores
    # Python's usual handler before running the CLI.
    interactive = (
        "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "sys.argv[0] = 'learned-advection'; runpy.run_module('learned_advection', run_name='__main__')"
    )
    cmd = [
        sys.executable,
        "-c",
        interactive,
        "train",
        "--data",
        str(tmp_path / "ref.nc"),
        "--out",
        str(out),
        "--steps",
        "100000",
        "--batch-size",
        "2",
        "--unroll",
        "2",
        "--layers",
        "1",
        "--filters",
        "2",
        "--quiet",
    ]
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 240
    while not (out / "last" / "config.json").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert (out / "last" / "config.json").exists(), proc.stderr.read() if proc.poll() is not None else "no checkpoint"
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "interrupted" and "Traceback" not in err
    model, config = checkpoint.load_model(out / "last")  # intact
    done = int(config["step"])
    assert done >= 1 and not [p for p in out.iterdir() if p.name.startswith(".")]
    resumed = subprocess.run(
        cmd[: cmd.index("100000")] + [str(done + 3)] + cmd[cmd.index("100000") + 1 :] + ["--resume"],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert int(checkpoint.load_model(out / "last")[1]["step"]) == done + 3


def test_ctrl_c_inside_the_checkpoint_swap_is_delivered_after_it(tmp_path):
    """SIGINT while the renames of a checkpoint swap run is held back: the block completes, then
    KeyboardInterrupt is raised."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in an interactive shell
    try:
        with pytest.raises(KeyboardInterrupt):
            with interrupts_deferred():
                signal.raise_signal(signal.SIGINT)  # arrives during the block: held back
                (tmp_path / "done").write_text("the block ran to its end")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert (tmp_path / "done").read_text() == "the block ran to its end"


# --------------------------------------------------------------------------- hostile input files
# Every file the readers get (simulate's problem, train/evaluate's reference) is refused with one line
# when it is too large (judged from its header, before anything is allocated), holds values the run's
# dtype cannot represent or would overflow in the scheme's arithmetic, has a bad time axis, is no
# regular file or is in a format that is not read.
@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    import warnings

    import h5netcdf

    tmp = tmp_path_factory.mktemp("inputs")
    x = np.arange(32) + 0.5
    gauss = np.exp(-(((x - 16) / 4) ** 2))

    def problem(name, c, u):
        xr.Dataset({"concentration": ("x", c), "x_velocity": ("x", u)}, coords={"x": x}).to_netcdf(
            tmp / name, engine="h5netcdf"
        )

    problem("u1e38.nc", gauss, np.full(32, 1e38))  # float32 dt / dx = 5e-39: flushed, nothing would move
    problem("u1e-300.nc", gauss, np.full(32, 1e-300))
    problem("c1e300.nc", 1e300 * gauss, np.ones(32))
    problem(
        "c3e38.nc", 3e38 * gauss, np.ones(32)
    )  # fits float32, but leaves no room (1/1024 of the largest float) for the arithmetic
    problem("still.nc", gauss, np.zeros(32))

    def tracers(name, **variables):  # more tracers next to the concentration
        xr.Dataset(
            {"concentration": ("x", gauss), "x_velocity": ("x", np.ones(32)), **variables}, coords={"x": x}
        ).to_netcdf(tmp / name, engine="h5netcdf", invalid_netcdf=True)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # complex numbers are an h5netcdf extension
        tracers("tracer_last.nc", dust=(("x", "tracer"), np.ones((32, 2))))
        tracers("tracer_strings.nc", co2=("x", np.full(32, "ppm")))
        tracers("tracer_complex.nc", co2=("x", gauss * (1 + 1j)))
        tracers("tracer_1e300.nc", co2=("x", 1e300 * gauss))
        tracers("tracer_time.nc", time=("x", gauss))
        tracers("tracer_tiny.nc", dust=(("tracer", "x"), np.stack([gauss, 1e-300 * gauss])))
    winds = xr.Dataset(
        {"concentration": ("x", gauss), "x_velocity": (("velocity_time", "x"), np.ones((3, 32)))},
        coords={"x": x, "velocity_time": [0.0, 0.5, 1.0]},
    )
    winds.to_netcdf(tmp / "winds.nc", engine="h5netcdf")
    winds.drop_vars("velocity_time").to_netcdf(tmp / "winds_no_times.nc", engine="h5netcdf")
    winds.assign_coords(velocity_time=[0.0, 1.0, 0.5]).to_netcdf(tmp / "winds_unsorted.nc", engine="h5netcdf")
    with h5netcdf.File(tmp / "cells1e9.nc", "w") as f:  # a few KiB declaring 10^9 cells (chunks never written)
        f.dimensions = {"x": 10**9}
        for name in ("x", "concentration", "x_velocity"):
            f.create_variable(name, ("x",), "f8", chunks=(2**20,))
    with h5netcdf.File(tmp / "cells1e10.nc", "w") as f:
        f.dimensions = {"y": 10**5, "x": 10**5}
        for name in ("y", "x"):
            f.create_variable(name, (name,), "f8", chunks=(2**16,))
        for name in ("concentration", "x_velocity", "y_velocity"):
            f.create_variable(name, ("y", "x"), "f4", chunks=(1024, 1024))
    (tmp / "cdf5.nc").write_bytes(b"CDF\x05" + bytes(60))
    (tmp / "garbage.nc").write_bytes(bytes(range(256)) * 8)
    data = make_dataset_1d(rng_for(0, "train"), Setup1D(), 3, 12, ("square",))
    write_reference(tmp / "ref.nc", data)
    ds = xr.open_dataset(tmp / "ref.nc", engine="h5netcdf").load()
    t = ds["time"].values
    variants = {
        "time0": ds.assign_coords(time=0 * t),  # dt = 0 would be saved in the checkpoint
        "timedec": ds.assign_coords(time=-t),
        "timeuneven": ds.assign_coords(time=t**1.5),
        "notime": ds.drop_vars("time"),  # a time dim without coordinate: dt unknown, not 1
        "xdec": ds.assign_coords(x=ds["x"].values[::-1]),
        "nox": ds.drop_vars("x"),
        "complex": ds.assign(concentration=ds["concentration"] * (1 + 1j)),
        "string": ds.assign(concentration=ds["concentration"].astype(str)),
        "u1e300": ds.assign(x_velocity=ds["x_velocity"].astype(np.float64) * 1e300),
    }
    for name, variant in variants.items():
        with warnings.catch_warnings():  # complex numbers are an h5netcdf extension ("invalid netCDF")
            warnings.simplefilter("ignore")
            variant.to_netcdf(tmp / f"ref_{name}.nc", engine="h5netcdf", invalid_netcdf=name == "complex")
    ds.close()
    cfg = ModelConfig(ndim=1, layers=1, filters=2)
    checkpoint.save_checkpoint(
        tmp / "model32",
        build_model(cfg, jax.random.PRNGKey(0)),
        checkpoint.make_config(cfg, Grid((32,), (32.0,)), 0.5, 0),
    )
    return tmp


S = ["simulate", "--steps", "4"]
INPUT_CASES = {
    # defect 1: sizes from the header, before any allocation
    "simulate 10^9 cells declared": (S + ["{t}/cells1e9.nc", "{o}/o.nc", "--scheme", "upwind", "--dt", "0.1"], "2^28"),
    "simulate 10^5 x 10^5 declared": (
        S + ["{t}/cells1e10.nc", "{o}/o.nc", "--scheme", "upwind", "--dt", "0.1"],
        "2^28",
    ),
    # defect 2: validated in the run's dtype (float32 without --x64)
    "simulate velocity 1e38 with --cfl": (
        S + ["{t}/u1e38.nc", "{o}/o.nc", "--scheme", "vanleer", "--cfl", "0.5"],
        "--x64",
    ),
    "simulate velocity 1e-300": (
        S + ["{t}/u1e-300.nc", "{o}/o.nc", "--scheme", "vanleer", "--cfl", "0.5"],
        "flushed to zero",
    ),
    "simulate concentration 1e300": (
        S + ["{t}/c1e300.nc", "{o}/o.nc", "--scheme", "upwind", "--cfl", "0.5"],
        "float32 range",
    ),
    "simulate PPM concentration 3e38": (
        S + ["{t}/c3e38.nc", "{o}/o.nc", "--scheme", "ppm", "--cfl", "0.5"],
        "overflow",
    ),
    "simulate dt / dx beyond float32": (
        S + ["{t}/still.nc", "{o}/o.nc", "--scheme", "upwind", "--dt", "1e300"],
        "dt / dx = 1e+300 is beyond the float32 range",
    ),  # 0 * Inf = NaN
    "simulate dt below float32 normal": (
        S + ["{t}/u1e38.nc", "{o}/o.nc", "--scheme", "upwind", "--dt", "1e-39"],
        "dt = 1e-39 is below the float32 range",
    ),  # a subnormal dt is flushed to zero in the step
    "simulate end time overflows": (
        ["simulate", "--steps", "1000", "{t}/still.nc", "{o}/o.nc", "--scheme", "upwind", "--dt", "1e306", "--x64"],
        "end time",
    ),
    # every tracer is checked like the concentration; winds at their own times must cover the run
    "simulate tracer dim not first": (
        S + ["{t}/tracer_last.nc", "{o}/o.nc", "--scheme", "upwind", "--dt", "0.1"],
        "variable 'dust' has dims (x, tracer); a tracer must have dims (x) or (tracer, x)",
    ),
    "simulate tracer of strings": (
        S + ["{t}/tracer_strings.nc", "{o}/o.nc", "--scheme", "upwind", "--dt", "0.1"],
        "variable 'co2' must be real numbers",
    ),
    "simulate complex tracer": (
        S + ["{t}/tracer_complex.nc", "{o}/o.nc", "--scheme", "upwind", "--dt", "0.1"],
        "variable 'co2' must be real numbers",
    ),
    "simulate tracer beyond float32": (
        S + ["{t}/tracer_1e300.nc", "{o}/o.nc", "--scheme", "upwind", "--dt", "0.1"],
        "variable 'co2' has values up to 9.84e+299, beyond the float32 range",
    ),
    "simulate tracer flushed to zero": (
        S + ["{t}/tracer_tiny.nc", "{o}/o.nc", "--scheme", "upwind", "--dt", "0.1"],
        "variable 'dust[1]' has nonzero values",
    ),
    "simulate tracer called time": (
        S + ["{t}/tracer_time.nc", "{o}/o.nc", "--scheme", "upwind", "--dt", "0.1"],
        "a tracer may not be called 'time'",
    ),
    "simulate winds do not cover the run": (
        S + ["{t}/winds.nc", "{o}/o.nc", "--scheme", "upwind", "--dt", "0.3"],
        "the velocity is given from velocity_time 0 to 1 but the run needs it from 0.15 to 1.05",
    ),
    "simulate winds without times": (
        S + ["{t}/winds_no_times.nc", "{o}/o.nc", "--scheme", "upwind", "--dt", "0.1"],
        "missing coordinate 'velocity_time'",
    ),
    "simulate winds times unsorted": (
        S + ["{t}/winds_unsorted.nc", "{o}/o.nc", "--scheme", "upwind", "--dt", "0.1"],
        "'velocity_time' must be strictly increasing",
    ),
    # defects 11 and 13: no regular file, a format that is not read
    "simulate device input": (S + ["/dev/null", "{o}/o.nc", "--scheme", "upwind", "--dt", "0.1"], "character device"),
    "simulate CDF5 input": (S + ["{t}/cdf5.nc", "{o}/o.nc", "--scheme", "upwind", "--dt", "0.1"], "netCDF-4"),
    "simulate garbage input": (
        S + ["{t}/garbage.nc", "{o}/o.nc", "--scheme", "upwind", "--dt", "0.1"],
        "not a netCDF-4 (HDF5) or netCDF-3 file",
    ),
    # defect 6: the reference loader checks as strictly as simulate's reader
    **{
        f"train reference {name}": (T + ["--data", f"{{t}}/ref_{name}.nc", "--out", "{o}/run"], match)
        for name, match in (
            ("time0", "strictly increasing"),
            ("timedec", "strictly increasing"),
            ("timeuneven", "uniformly spaced"),
            ("notime", "missing coordinate 'time'"),
            ("xdec", "strictly increasing"),
            ("nox", "missing coordinate 'x'"),
            ("complex", "real numbers"),
            ("string", "real numbers"),
            ("u1e300", "float32 range"),
        )
    },
    "evaluate reference time0": (E + ["--model", "{t}/model32", "--data", "{t}/ref_time0.nc"], "strictly increasing"),
    "evaluate reference notime": (
        E + ["--model", "{t}/model32", "--data", "{t}/ref_notime.nc"],
        "missing coordinate 'time'",
    ),
}


@pytest.mark.parametrize("case", list(INPUT_CASES))
def test_hostile_input_file_one_line_exit_2_nothing_touched(cli, inputs, tmp_path, case):
    args, match = INPUT_CASES[case]
    argv = [a.format(t=inputs, o=tmp_path) for a in args]  # outputs (which must not appear) in a folder of their own
    before = _snapshot(inputs)
    code, _, err = cli(*argv)
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert match in lines[0], lines[0]
    assert _snapshot(inputs) == before and not list(tmp_path.iterdir())


def test_fifo_input_is_refused_at_once(cli, tmp_path):
    """A FIFO as input is refused without opening it (opening blocks until a writer comes).  A guard
    process unblocks a reader that did open it (by opening and closing the writing end), so that a
    regression fails on the message instead of hanging the suite (h5py's open holds the GIL, hence
    a process, not a thread)."""
    fifo = tmp_path / "in.nc"
    os.mkfifo(fifo)
    unblock = (
        "import os, sys, time\ntime.sleep(20)\ntry:\n    os.close(os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK))\n"
        "except OSError:\n    pass  # no reader waiting: nothing to unblock"
    )
    guard = subprocess.Popen([sys.executable, "-c", unblock, str(fifo)])
    try:
        code, _, err = cli("simulate", fifo, tmp_path / "o.nc", "--scheme", "upwind", "--steps", "2", "--dt", "0.1")
    finally:
        guard.kill()
        guard.wait()
    assert code == 2 and err.strip().splitlines() == [
        f"error: input is a FIFO (named pipe), not a netCDF file: {fifo}"
    ], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.nc"]


def test_netcdf3_input_is_read(cli, tmp_path):
    """A netCDF-3 classic file (written by scipy) is a valid input, with the same result as netCDF-4."""
    from learned_advection.data import netcdf as io

    grid = Grid((16,), (1.0,))
    c = np.exp(-40 * (grid.centres(0) - 0.5) ** 2)
    io.write_problem(tmp_path / "in4.nc", grid, c, (np.full(16, 0.5),))
    xr.load_dataset(tmp_path / "in4.nc", engine="h5netcdf").to_netcdf(
        tmp_path / "in3.nc", engine="scipy", format="NETCDF3_CLASSIC"
    )
    assert (tmp_path / "in3.nc").read_bytes()[:4] == b"CDF\x01"
    for name in ("in3", "in4"):
        code, _, err = cli(
            "simulate",
            tmp_path / f"{name}.nc",
            tmp_path / f"out_{name}.nc",
            "--scheme",
            "vanleer",
            "--steps",
            "4",
            "--cfl",
            "0.5",
            "--quiet",
        )
        assert code == 0, err
    np.testing.assert_array_equal(
        io.read_simulation(tmp_path / "out_in3.nc")["concentration"].values,
        io.read_simulation(tmp_path / "out_in4.nc")["concentration"].values,
    )


# --------------------------------------------------------------------------- checkpoints, options, caches
# Hand-edited checkpoint configs (defect 4), the resume promise of `reproduce advection-1d` (5), non-finite
# learning rates (7), malformed metrics (8), foreign files in the reference cache (9), huge seed ranges (10).
@pytest.fixture(scope="module")
def hardening(tmp_path_factory):
    import json
    import shutil

    import equinox as eqx

    from learned_advection.learned.training import TrainConfig, make_optimizer

    tmp = tmp_path_factory.mktemp("hardening")
    write_reference(tmp / "ref.nc", make_dataset_1d(rng_for(0, "train"), Setup1D(), 3, 12, ("square",)))
    cfg = ModelConfig(ndim=1, layers=2, filters=4)
    model = build_model(cfg, jax.random.PRNGKey(0))
    checkpoint.save_checkpoint(tmp / "model", model, checkpoint.make_config(cfg, Grid((32,), (32.0,)), 0.5, 0))
    edits = {
        "dt_abc": lambda c: c.update(dt="abc"),
        "layers_2.5": lambda c: c["model"].update(layers=2.5),
        "filters_100000": lambda c: c["model"].update(filters=100000),
        "ndim_str": lambda c: c.update(ndim="2"),
        "velocity_raw_to_courant": lambda c: c["model"].update(velocity_input="courant"),
    }
    for name, edit in edits.items():
        shutil.copytree(tmp / "model", tmp / name)
        config = json.loads((tmp / name / "config.json").read_text())
        edit(config)
        (tmp / name / "config.json").write_text(json.dumps(config, indent=2))
    # a `reproduce advection-1d --preset smoke` run interrupted in its first training stage: OUT/model/last
    # holds the smoke model (2 x 8) with its optimizer state; `train` builds another model (4 x 32)
    smoke = ModelConfig(ndim=1, layers=2, filters=8)
    smoke_model = build_model(smoke, jax.random.PRNGKey(1))
    opt_state = make_optimizer(TrainConfig(steps=20)).init(eqx.filter(smoke_model, eqx.is_inexact_array))
    checkpoint.save_checkpoint(
        tmp / "a1run" / "model" / "last",
        smoke_model,
        checkpoint.make_config(
            smoke,
            Grid((32,), (32.0,)),
            0.5,
            10,
            training={"config": TrainConfig(steps=20).to_dict()},
            extra={"experiment": "advection-1d"},
            with_opt_state=True,
        ),
        opt_state,
    )
    (tmp / "metrics_list").mkdir()
    (tmp / "metrics_list" / "metrics.json").write_text('{"experiment": "demo", "seconds": [1, 2], "parts": {}}')
    (tmp / "metrics_deep").mkdir()
    (tmp / "metrics_deep" / "metrics.json").write_text("[" * 100_000 + "]" * 100_000)
    for name in ("cache_garbage", "cache_foreign"):
        folder = tmp / name / "turbulence" / "256to32-dt0.024" / "test"
        folder.mkdir(parents=True)
    (tmp / "cache_garbage" / "turbulence" / "256to32-dt0.024" / "test" / "seed1000-steps99999.nc").write_bytes(
        bytes(range(256)) * 20
    )
    xr.Dataset({"concentration": (("y", "x"), np.zeros((32, 32)))}).to_netcdf(  # a netCDF file, but no sample
        tmp / "cache_foreign" / "turbulence" / "256to32-dt0.024" / "test" / "seed1000-steps99999.nc", engine="h5netcdf"
    )
    return tmp


TT = ["train", "--data", "{t}/ref.nc", "--steps", "2", "--batch-size", "2", "--unroll", "2", "--quiet"]
EV = ["evaluate", "--steps", "4", "--quiet", "--model"]
EVT = [
    "evaluate",
    "turbulence-2d",
    "--model",
    "pretrained",
    "--steps",
    "4",
    "--quiet",
    "--test-seeds",
    "1000-1000",
    "--data-dir",
]
HARDENING_CASES = {
    # defect 4: hand-edited config.json, refused before the network is built
    "config dt not a number": (EV + ["{t}/dt_abc"], "'dt' must be a positive finite number, got 'abc'"),
    "config layers 2.5": (EV + ["{t}/layers_2.5"], "layers must be an integer, got 2.5"),
    "config filters 100000": (EV + ["{t}/filters_100000"], "1-1024 filters, got 2 layers x 100000"),
    "config ndim a string": (EV + ["{t}/ndim_str"], "'ndim' must be the integer 1 or 2, got '2'"),
    "config velocity_input edited": (EV + ["{t}/velocity_raw_to_courant"], "was changed after it was saved"),
    # defect 5: the resume promise of `reproduce advection-1d`
    "reproduce 1-D resume nothing": (
        ["reproduce", "advection-1d", "--preset", "smoke", "--out", "{t}/fresh1d", "--resume", "--quiet"],
        "nothing to resume",
    ),
    "train resume a reproduce run": (
        TT + ["--out", "{t}/a1run/model", "--resume"],
        "the model settings differ from the saved run (filters 8 saved vs 32 now",
    ),
    "train resume its parent folder": (TT + ["--out", "{t}/a1run", "--resume"], "continue that command with --resume"),
    # defect 7: every float option finite; nothing left behind
    "train lr nan": (TT + ["--out", "{t}/lrnan", "--lr", "nan"], "learning_rate must be a finite number, got nan"),
    "train lr inf": (TT + ["--out", "{t}/lrinf", "--lr", "inf"], "learning_rate must be a finite number, got inf"),
    "train lr diverges": (TT + ["--out", "{t}/lrhuge/run", "--lr", "1e30"], "training diverged"),
    # defect 8: malformed metrics
    "report metrics of the wrong shape": (
        ["report", "{t}/metrics_list"],
        "metrics_list/metrics.json lacks what the demo",
    ),
    "report metrics nested too deep": (["report", "{t}/metrics_deep"], "cannot read {t}/metrics_deep/metrics.json"),
    # defect 9: foreign or corrupt files in the reference cache, named
    "evaluate turbulence corrupt cache": (EVT + ["{t}/cache_garbage"], "seed1000-steps99999.nc"),
    "evaluate turbulence foreign cache": (EVT + ["{t}/cache_foreign"], "seed1000-steps99999.nc is not usable"),
    # defect 10: seed ranges bounded
    "evaluate a trillion seeds": (EV + ["{t}/model", "--test-seeds", "0-999999999999"], "at most 4294967295"),
    "evaluate 100000 seeds": (EV + ["{t}/model", "--test-seeds", "1-100000"], "are 100,000 seeds; at most 10,000"),
    "evaluate turbulence seed beyond 32 bits": (EVT[:-3] + ["--test-seeds", "4294967296"], "at most 4294967295"),
    "train seed beyond 32 bits": (TT + ["--out", "{t}/seed", "--seed", "4294967296"], "not in the range"),
}


@pytest.mark.parametrize("case", list(HARDENING_CASES))
def test_hardening_one_line_exit_2_nothing_touched(cli, hardening, case):
    args, match = HARDENING_CASES[case]
    argv = [a.format(t=hardening) for a in args]
    before = _snapshot(hardening)
    code, _, err = cli(*argv)
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert match.format(t=hardening) in lines[0], lines[0]
    assert _snapshot(hardening) == before  # nothing written (a diverged run removed its folder), nothing removed


def test_learned_scheme_runs_under_x64(cli, tmp_path):
    """Defect 3: the shipped (float32) checkpoint runs under --x64 and gives the float32 result to round-off."""
    from learned_advection.data import netcdf as io

    grid = Grid.square(32, 2 * np.pi)
    y, x = grid.mesh()
    io.write_problem(
        tmp_path / "turb32.nc",
        grid,
        np.exp(-((x - 3) ** 2 + (y - 3) ** 2)).astype(np.float32),
        (0.5 * np.cos(x).astype(np.float32), 0.5 * np.sin(y).astype(np.float32)),
    )
    runs = {}
    for name, flags in (("o32.nc", []), ("o64.nc", ["--x64"])):
        code, _, err = cli(
            "simulate",
            tmp_path / "turb32.nc",
            tmp_path / name,
            "--scheme",
            "learned",
            "--model",
            "pretrained",
            "--steps",
            "5",
            "--dt",
            "0.024",
            "--quiet",
            *flags,
        )
        assert code == 0, err
        runs[name] = io.read_simulation(tmp_path / name)["concentration"].values
    assert runs["o64.nc"].dtype == np.float64 and runs["o32.nc"].dtype == np.float32
    np.testing.assert_allclose(runs["o64.nc"], runs["o32.nc"], rtol=0, atol=2e-6)


# --------------------------------------------------------------------------- simulate: sizes, clobbering, Ctrl-C
@pytest.fixture
def sim_files(tmp_path):
    """A 1-D problem, a dangling link, and a symbolic and a hard link to the problem."""
    from learned_advection.data import netcdf as io

    grid = Grid((16,), (1.0,))
    io.write_problem(tmp_path / "in1d.nc", grid, np.exp(-40 * (grid.centres(0) - 0.5) ** 2), (np.full(16, 0.5),))
    (tmp_path / "dangling.nc").symlink_to(tmp_path / "nowhere.nc")
    (tmp_path / "link.nc").symlink_to(tmp_path / "in1d.nc")
    os.link(tmp_path / "in1d.nc", tmp_path / "hard.nc")
    return tmp_path


SIM = ["simulate", "{t}/in1d.nc"]
RUN = ["--scheme", "upwind", "--steps", "4", "--cfl", "0.5"]
SIMULATE_CASES = {
    # defect 1: sizes are bounded before anything is allocated or written
    "simulate output larger than any disk": (
        SIM + ["{t}/o.nc", "--scheme", "vanleer", "--steps", "1000000000000000", "--cfl", "0.5"],
        "of disk but",
    ),
    "simulate steps above 2^53": (
        SIM
        + [
            "{t}/o.nc",
            "--scheme",
            "vanleer",
            "--steps",
            "9007199254740994",
            "--save-every",
            "9007199254740994",
            "--cfl",
            "0.5",
        ],
        "--steps must be at most 2^53",
    ),
    # defect 12: a dangling link is an existing output; the input is never the output
    "simulate dangling link at output": (SIM + ["{t}/dangling.nc"] + RUN, "output file exists (a symbolic link)"),
    "simulate output is the input": (SIM + ["{t}/in1d.nc", "--overwrite"] + RUN, "is the input file"),
    "simulate output links to the input": (SIM + ["{t}/link.nc", "--overwrite"] + RUN, "is the input file"),
    "simulate output is a hard link of the input": (SIM + ["{t}/hard.nc", "--overwrite"] + RUN, "is the input file"),
}


@pytest.mark.parametrize("case", list(SIMULATE_CASES))
def test_simulate_one_line_exit_2_nothing_touched(cli, sim_files, case):
    args, match = SIMULATE_CASES[case]
    before = _snapshot(sim_files)
    code, _, err = cli(*[a.format(t=sim_files) for a in args])
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert match in lines[0], lines[0]
    assert _snapshot(sim_files) == before and (sim_files / "dangling.nc").is_symlink()


def test_simulate_refuses_a_run_that_cannot_fit(cli, sim_files, monkeypatch):
    """Defect 1 as reported (10^9 saved states, here of 16 cells: 67 GiB): refused for the disk it would need,
    and a run that would not fit in memory is refused for that, before anything is computed or written."""
    from learned_advection import files
    from learned_advection.transport import resources

    monkeypatch.setattr(files, "free_bytes", lambda folder: 50 * 2**30)
    args = ["simulate", sim_files / "in1d.nc", sim_files / "o.nc", "--scheme", "vanleer", "--cfl", "0.5"]
    code, _, err = cli(*args, "--steps", 1000000000)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert (
        "the output (1000000001 saved states of 16 float32 cells" in err
        and "needs 67.1 GiB of disk but 50.0 GiB is free" in err
    )
    monkeypatch.setattr(resources, "available_memory", lambda: 2**10)
    code, _, err = cli(*args, "--steps", 100)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "the run needs about" in err and "of memory" in err and "but 1.0 KiB is available" in err
    assert not (sim_files / "o.nc").exists()


def test_ctrl_c_during_simulate_exit_130_nothing_written(sim_files):
    """Defects 14 and 1: SIGINT during a run of 2^31 + 2 steps (an OverflowError before) exits 130 with one
    line and leaves the folder as it was: no output, no temporary file, the existing output untouched."""
    out = sim_files / "out.nc"
    out.write_bytes(b"precious")
    before = sorted(p.name for p in sim_files.iterdir())
    interactive = (
        "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "sys.argv[0] = 'learned-advection'; runpy.run_module('learned_advection', run_name='__main__')"
    )
    cmd = [
        sys.executable,
        "-c",
        interactive,
        "simulate",
        str(sim_files / "in1d.nc"),
        str(out),
        "--scheme",
        "vanleer",
        "--steps",
        "2147483650",
        "--save-every",
        "2147483650",
        "--cfl",
        "0.5",
        "--overwrite",
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "JAX_PLATFORMS": "cpu"}
    )
    first = proc.stderr.read(1)  # the progress bar appears once the run has started
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    err = (first + rest).decode()
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "interrupted" and "Traceback" not in err and "step" in err, err
    assert sorted(p.name for p in sim_files.iterdir()) == before
    assert out.read_bytes() == b"precious"


@pytest.mark.slow  # three smoke runs, about 30 s on 2 cores
def test_reproduce_advection_1d_resumes_after_ctrl_c(cli, tmp_path, monkeypatch):
    """Defect 5: Ctrl-C in `reproduce advection-1d` (exit 130), the rerun suggests --resume, and --resume
    finishes the run with the result of an uninterrupted one."""
    import json

    from learned_advection.experiments.advection_1d import pipeline as advection_1d

    base = ["reproduce", "advection-1d", "--preset", "smoke", "--test-seeds", "1000-1001", "--quiet", "--out"]
    real_train = advection_1d.train

    def interrupted(*args, **kwargs):  # the first training stage stops after its step-10 checkpoint, as on Ctrl-C
        real_train(*args, **kwargs, stop_after=10)
        raise KeyboardInterrupt

    monkeypatch.setattr(advection_1d, "train", interrupted)
    code, _, err = cli(*base, tmp_path / "run")
    assert code == 130 and err.strip() == "interrupted"
    monkeypatch.setattr(advection_1d, "train", real_train)
    assert json.loads((tmp_path / "run" / "model" / "last" / "config.json").read_text())["step"] == 10
    code, _, err = cli(*base, tmp_path / "run")
    assert code == 2 and "--resume" in err
    code, _, err = cli(*base, tmp_path / "run", "--resume")
    assert code == 0, err
    code, _, err = cli(*base, tmp_path / "whole")
    assert code == 0, err
    resumed, whole = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("run", "whole"))
    assert resumed["methods"] == whole["methods"] and resumed["gaussian_test"] == whole["gaussian_test"]
    for stage in ("model", "model-gaussians"):
        assert (tmp_path / "run" / stage / "best" / "weights.eqx").read_bytes() == (
            tmp_path / "whole" / stage / "best" / "weights.eqx"
        ).read_bytes()


def test_ctrl_c_in_a_loop_of_compiled_chunks_takes_effect_at_the_next_check():
    """SIGINT during a chunk (inside JAX, where an exception can crash the runtime at exit) is recorded and
    raised by the loop's next check(); a second Ctrl-C raises at once; the handler is restored after."""
    from learned_advection.files import interrupts_at_checkpoints

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in an interactive shell
    try:
        reached = []
        with pytest.raises(KeyboardInterrupt):
            with interrupts_at_checkpoints() as check:
                check()  # nothing pending
                signal.raise_signal(signal.SIGINT)  # arrives during a chunk: recorded
                reached.append("rest of the chunk")
                check()
                reached.append("next chunk")
        assert reached == ["rest of the chunk"]
        with pytest.raises(KeyboardInterrupt):
            with interrupts_at_checkpoints():
                signal.raise_signal(signal.SIGINT)
                signal.raise_signal(signal.SIGINT)  # pressed twice: raised here
                reached.append("not reached")
        assert reached == ["rest of the chunk"]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)


# --------------------------------------------------------------------------- simulate: blow-ups, shipped models
def _cellular(path, k: int, courant: float, dt: float) -> None:
    """32² on [0, 2 pi]²: steady cellular vortices from the corner streamfunction sin(kx) sin(ky), scaled to
    ``courant`` at ``dt`` (the deformation-limit table's flows), and a block tracer in [0, 1]."""
    from learned_advection.data import netcdf as io
    from learned_advection.evaluation.deformation_limit import cellular_flow

    grid = Grid.square(32, 2 * np.pi)
    c = np.zeros(grid.shape)
    c[8:20, 6:18] = 1.0
    io.write_problem(path, grid, c, cellular_flow(k, courant, dt, grid))


@pytest.fixture(scope="module")
def unstable(tmp_path_factory):
    """Flows on which the shipped models blow up to huge finite values inside their Courant range, and a valid
    checkpoint outside the package."""
    import shutil

    from learned_advection.data import netcdf as io
    from learned_advection.flows.velocity import random_sinusoidal

    tmp = tmp_path_factory.mktemp("unstable")
    _cellular(tmp / "cells2.nc", 2, 3.9, 0.192)
    _cellular(tmp / "cells4.nc", 4, 3.5, 0.192)
    grid = Grid.square(32, 2 * np.pi)
    y, x = grid.mesh()
    flow = random_sinusoidal(grid, 1, max_speed=0.98 * grid.spacing[0] / 0.024)
    io.write_problem(tmp / "random.nc", grid, np.exp(-((x - 2) ** 2 + (y - 3) ** 2) / 0.5), flow)
    shutil.copytree(checkpoint.pretrained_path(), tmp / "models" / "copy")
    # the paper model as trained, without the limiter it ships with (a user's own checkpoint saved so)
    unguarded = tmp / "models" / "unguarded"
    shutil.copytree(checkpoint.pretrained_path(), unguarded)
    config = json.loads((unguarded / "config.json").read_text())
    config["model"]["limiter"] = "none"
    config["fingerprint"] = checkpoint.fingerprint(config, (unguarded / "weights.eqx").read_bytes())
    (unguarded / "config.json").write_text(json.dumps(config))
    return tmp


HYBRID = ["--scheme", "learned", "--model", "pretrained:turbulence-2d-k8-hybrid", "--dt", "0.192"]
UNSTABLE_CASES = {
    "hybrid on cellular vortices at Courant 3.9": (
        ["{t}/cells2.nc", "{t}/o.nc", *HYBRID, "--steps", "80", "--save-every", "20"],
        "deformation number 1.49 with dt = 0.192 > 0.9, the limit of the learned model's large step",
    ),
    "hybrid on small cellular vortices at Courant 3.5": (
        ["{t}/cells4.nc", "{t}/o.nc", *HYBRID, "--steps", "80", "--save-every", "20"],
        "deformation number 2.47 with dt = 0.192 > 0.9, the limit of the learned model's large step",
    ),
    "the paper model without its limiter on a steady random flow at Courant 0.98": (
        ["{t}/random.nc", "{t}/o.nc", "--scheme", "learned", "--model", "{t}/models/unguarded", "--dt", "0.024"]
        + ["--steps", "200", "--save-every", "20"],
        "the run blew up: values in",
    ),
    "pretrained: an absolute folder": (
        ["{t}/random.nc", "{t}/o.nc", "--scheme", "learned", "--model", "pretrained:{t}/models/copy", "--dt", "0.024"]
        + ["--steps", "2"],
        "no pretrained model '{t}/models/copy' in this package",
    ),
    "pretrained: a relative path out of the package": (
        ["{t}/random.nc", "{t}/o.nc", "--scheme", "learned", "--model", "pretrained:../../../../{t}/models/copy"]
        + ["--dt", "0.024", "--steps", "2"],
        "no pretrained model '../../../../",
    ),
    "pretrained: the package folder itself": (
        ["{t}/random.nc", "{t}/o.nc", "--scheme", "learned", "--model", "pretrained:.", "--dt", "0.024"]
        + ["--steps", "2"],
        "no pretrained model '.'",
    ),
}


@pytest.mark.parametrize("case", list(UNSTABLE_CASES))
def test_blow_ups_and_foreign_models_one_line_exit_2_nothing_written(cli, unstable, case):
    args, match = UNSTABLE_CASES[case]
    before = _snapshot(unstable)
    code, _, err = cli("simulate", *[a.format(t=unstable) for a in args], "--quiet")  # (no progress bar)
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert match.format(t=unstable) in lines[0], lines[0]
    assert _snapshot(unstable) == before


def test_the_shipped_paper_model_runs_in_range_where_it_blows_up_without_its_limiter(cli, unstable):
    """Its shipped default (FCT, two donor-cell half steps) on the steady random flow at Courant 0.98."""
    from learned_advection.data import netcdf as io

    out = unstable.parent / "paper-random.nc"
    args = ["--scheme", "learned", "--model", "pretrained", "--dt", "0.024", "--steps", "200", "--save-every", "20"]
    code, _, err = cli("simulate", unstable / "random.nc", out, *args, "--quiet")
    assert code == 0, err
    c = io.read_simulation(out)["concentration"].values
    c0 = c[0]
    assert c.min() >= c0.min() and c.max() <= c0.max()


def test_the_blown_up_flows_run_in_range_with_the_bounded_large_step(cli, unstable):
    """The same cellular flows with PPM's bounded large step: exit 0, every value in [0, 1]."""
    from learned_advection.data import netcdf as io

    for name in ("cells2.nc", "cells4.nc"):
        out = unstable.parent / f"ppm-{name}"
        code, _, err = cli(
            "simulate", unstable / name, out, "--scheme", "ppm", "--dt", "0.192", "--steps", "80", "--quiet"
        )
        assert code == 0, err
        c = io.read_simulation(out)["concentration"].values
        assert c.min() >= 0 and c.max() <= 1


# --------------------------------------------------------------------------- simulate: a step's declared limits
def test_a_step_beyond_its_limits_is_refused_in_one_line_or_sub_stepped(cli, tmp_path):
    """Cellular vortices sin(2x) sin(2y) at Courant 3.5 (deformation number 1.34): the hybrid's large step is
    declared sound to 0.9, so the run is refused before it starts, and a learned model takes no sub-steps;
    PPM at Courant 7 (beyond its 4) is refused, and under ``--limits substep`` runs as 2 sub-steps in range."""
    from learned_advection.data import netcdf as io

    _cellular(tmp_path / "cells.nc", 2, 3.5, 0.192)
    out = tmp_path / "o.nc"
    refusals = [
        (HYBRID, "deformation number 1.34 with dt = 0.192 > 0.9, the limit of the learned model's large step"),
        ([*HYBRID, "--limits", "substep"], "--limits substep applies to the classical schemes only"),
        (["--scheme", "ppm", "--dt", "0.384"], "Courant number 7 > 4 with dt = 0.384 (ppm supports at most 4)"),
    ]
    for options, match in refusals:
        code, _, err = cli("simulate", tmp_path / "cells.nc", out, *options, "--steps", "10", "--quiet")
        lines = err.strip().splitlines()
        assert code == 2, (code, err)
        assert len(lines) == 1 and lines[0].startswith("error: ") and match in lines[0], err
        assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["cells.nc"]
    options = ["--scheme", "ppm", "--dt", "0.384", "--steps", "10", "--limits", "substep"]
    code, summary, err = cli("simulate", tmp_path / "cells.nc", out, *options)
    assert code == 0, err
    assert "(Courant 7, 2 sub-steps each)" in summary, summary
    written = io.read_simulation(out)
    c = written["concentration"].values
    assert c.min() >= 0 and c.max() <= 1
    np.testing.assert_allclose(written["time"].values, 0.384 * np.arange(11), rtol=1e-12)


# --------------------------------------------------------------------------- simulate: regional domains
# Every bad boundary input of a regional problem (walls, open sides, emission sources) is one line, exit 2,
# nothing written: the file's conventions (docs/netcdf.md) are checked before anything runs.
@pytest.fixture(scope="module")
def regional(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("regional")
    n, m = 8, 6
    x, y = (np.arange(n) + 0.5) / n, (np.arange(m) + 0.5) / m

    def channel(name, drop=(), attrs=None, **variables):
        """A channel: open along x (inflow 1 on the left), walls in y; ``variables`` replace or add."""
        data = {
            "concentration": (("y", "x"), np.zeros((m, n))),
            "x_velocity": (("y", "x_face"), np.ones((m, n + 1))),
            "y_velocity": (("y_face", "x"), np.zeros((m + 1, n))),
            "concentration_x_low": ((), 1.0),
            "concentration_x_high": ((), 0.0),
        }
        data.update(variables)
        for key in drop:
            data.pop(key)
        ds = xr.Dataset(data, coords={"x": x, "y": y}, attrs={"x_boundary": "open", "y_boundary": "wall"})
        ds.attrs.update(attrs or {})
        ds.to_netcdf(tmp / name, engine="h5netcdf")

    channel("good.nc")
    channel("word.nc", attrs={"x_boundary": "closed"})
    channel("n_faces.nc", x_velocity=(("y", "x"), np.ones((m, n))))
    channel("faces_periodic.nc", attrs={"y_boundary": "periodic"})
    wall = np.zeros((m + 1, n))
    wall[-1, 3] = 0.25
    channel("wall_flow.nc", y_velocity=(("y_face", "x"), wall))
    channel("no_inflow.nc", drop=["concentration_x_low"])
    channel("side_shape.nc", concentration_x_low=(("x",), np.ones(n)))
    channel("side_length.nc", concentration_x_low=(("y_face",), np.ones(m + 1)))
    channel("side_nan.nc", concentration_x_low=(("y",), np.where(np.arange(m) == 2, np.nan, 1.0)))
    channel("source_shape.nc", concentration_source=(("x", "y"), np.ones((n, m))))
    channel("source_nan.nc", concentration_source=(("y", "x"), np.full((m, n), np.inf)))
    channel("side_1e300.nc", concentration_x_low=((), 1e300))
    ds = xr.open_dataset(tmp / "good.nc", engine="h5netcdf").load()
    ds["concentration_x_low"] = (("boundary_time",), [0.0, 1.0])
    ds.to_netcdf(tmp / "side_no_times.nc", engine="h5netcdf")
    ds.assign_coords(boundary_time=[0.0, 0.25]).to_netcdf(tmp / "side_times.nc", engine="h5netcdf")
    ds.close()
    return tmp


R = ["simulate", "--steps", "8", "--quiet"]
REGIONAL_CASES = {
    "bad x_boundary word": (
        R + ["{t}/word.nc", "{o}/o.nc", "--scheme", "upwind", "--cfl", "0.5"],
        "global attribute 'x_boundary' is 'closed'; it must be periodic, wall, open or two of wall and open",
    ),
    "n faces on a non-periodic axis": (
        R + ["{t}/n_faces.nc", "{o}/o.nc", "--scheme", "upwind", "--cfl", "0.5"],
        "'x_velocity' has dims (y, x), but the x axis is not periodic (x_boundary = 'open open'): it needs dim 'x_face'",
    ),
    "n + 1 faces on a periodic axis": (
        R + ["{t}/faces_periodic.nc", "{o}/o.nc", "--scheme", "upwind", "--cfl", "0.5"],
        "'y_velocity' has dim 'y_face' (n + 1 faces) but the y axis is periodic",
    ),
    "flow through a wall": (
        R + ["{t}/wall_flow.nc", "{o}/o.nc", "--scheme", "upwind", "--cfl", "0.5"],
        "'y_velocity' is not zero on the high y wall (up to 0.25)",
    ),
    "missing inflow value": (
        R + ["{t}/no_inflow.nc", "{o}/o.nc", "--scheme", "upwind", "--cfl", "0.5"],
        "missing variable 'concentration_x_low': the value of 'concentration' at the open low x side",
    ),
    "boundary value along the wrong axis": (
        R + ["{t}/side_shape.nc", "{o}/o.nc", "--scheme", "upwind", "--cfl", "0.5"],
        "variable 'concentration_x_low' has dims (x); it must have dims ([boundary_time,] y) or without (y)",
    ),
    "boundary value of the wrong length": (
        R + ["{t}/side_length.nc", "{o}/o.nc", "--scheme", "upwind", "--cfl", "0.5"],
        "variable 'concentration_x_low' has dims (y_face)",
    ),
    "boundary value NaN": (
        R + ["{t}/side_nan.nc", "{o}/o.nc", "--scheme", "upwind", "--cfl", "0.5"],
        "variable 'concentration_x_low' contains NaN or Inf",
    ),
    "boundary value beyond float32": (
        R + ["{t}/side_1e300.nc", "{o}/o.nc", "--scheme", "upwind", "--cfl", "0.5"],
        "variable 'concentration_x_low' has values up to 1e+300, beyond the float32 range",
    ),
    "source of the wrong shape": (
        R + ["{t}/source_shape.nc", "{o}/o.nc", "--scheme", "upwind", "--cfl", "0.5"],
        "variable 'concentration_source' has dims (x, y); it must have dims ([source_time,] y, x)",
    ),
    "source Inf": (
        R + ["{t}/source_nan.nc", "{o}/o.nc", "--scheme", "upwind", "--cfl", "0.5"],
        "variable 'concentration_source' contains NaN or Inf",
    ),
    "boundary_time does not cover the run": (
        R + ["{t}/side_times.nc", "{o}/o.nc", "--scheme", "upwind", "--cfl", "0.5"],
        "the boundary values are given from boundary_time 0 to 0.25 but the run needs them from 0 to 0.5",
    ),
    "boundary values without boundary_time": (
        R + ["{t}/side_no_times.nc", "{o}/o.nc", "--scheme", "upwind", "--cfl", "0.5"],
        "missing coordinate 'boundary_time'",
    ),
}


@pytest.mark.parametrize("case", list(REGIONAL_CASES))
def test_bad_regional_input_one_line_exit_2_nothing_touched(cli, regional, tmp_path, case):
    args, match = REGIONAL_CASES[case]
    argv = [a.format(t=regional, o=tmp_path) for a in args]
    before = _snapshot(regional)
    code, _, err = cli(*argv)
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert match in lines[0], lines[0]
    assert _snapshot(regional) == before and not list(tmp_path.iterdir())


def test_the_regional_catalogue_input_itself_runs(cli, regional, tmp_path):
    """The file every bad case above is made from runs (so each refusal is the defect it names)."""
    code, _, err = cli(
        "simulate",
        regional / "good.nc",
        tmp_path / "o.nc",
        "--scheme",
        "upwind",
        "--cfl",
        "0.5",
        "--steps",
        "8",
        "--quiet",
    )
    assert code == 0, err
