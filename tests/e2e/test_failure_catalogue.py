"""The failure catalogue: each CLI command given bad input exits 2 with one line and touches nothing.

Cases (issue "a tool people enjoy using"): a missing file, a wrong variable name, a wrong grid size
for a model, a NaN in the input, a zero or negative step count, an unwritable output folder, an
existing output without --overwrite, a corrupt checkpoint, and Ctrl-C during training (exit 130,
checkpoint intact, resumable).  ``simulate`` has its own, longer table in test_cli.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
import xarray as xr

from learned_advection.files import interrupts_deferred
from learned_advection.learned import checkpoint
from learned_advection.data.netcdf import write_reference
from learned_advection.data.reference import Setup1D, make_dataset_1d, rng_for
from learned_advection.numerics.grids import Grid
from learned_advection.learned.models import ModelConfig, build_model


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
    checkpoint.save_checkpoint(tmp / "corruptrun" / "last", model, checkpoint.make_config(cfg, Grid((32,), (32.0,)), 0.5, 0))
    w = tmp / "corruptrun" / "last" / "weights.eqx"
    w.write_bytes(w.read_bytes()[:20])
    cfg2 = ModelConfig(ndim=2, layers=1, filters=2, stencil=(2, 3))
    checkpoint.save_checkpoint(tmp / "model2d16", build_model(cfg2, jax.random.PRNGKey(0)),
                               checkpoint.make_config(cfg2, Grid.square(16, 2 * np.pi), 0.024, 0))
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
    "evaluate turbulence wrong grid": (["evaluate", "turbulence-2d", "--model", "{t}/model2d16", "--quiet"], "cell size"),
    "evaluate turbulence corrupt": (["evaluate", "turbulence-2d", "--model", "{t}/corrupt", "--quiet"], "corrupt"),
    "evaluate turbulence bad variant": (["evaluate", "turbulence-2d", "--model", "pretrained", "--variants", "x"], "variant"),
    "evaluate turbulence long < steps": (["evaluate", "turbulence-2d", "--model", "pretrained", "--steps", "8",
                                         "--long-steps", "4"], "--long-steps"),
    "evaluate turbulence negative long": (["evaluate", "turbulence-2d", "--model", "pretrained", "--long-steps", "-4"],
                                          "--long-steps"),
    "evaluate turbulence existing out": (["evaluate", "turbulence-2d", "--model", "pretrained", "--out", "{t}/existing",
                                          "--quiet"], "--overwrite"),
    "evaluate turbulence bad seeds": (["evaluate", "turbulence-2d", "--model", "pretrained", "--test-seeds", "9-3"], "seed"),
    # reproduce
    "reproduce 1-D existing output": (["reproduce", "advection-1d", "--preset", "smoke", "--out", "{t}/existing", "--quiet"], "--overwrite"),
    "reproduce 1-D unwritable": (["reproduce", "advection-1d", "--preset", "smoke", "--out", "{u}/r", "--quiet"], "{u}"),
    "reproduce 1-D bad seeds": (["reproduce", "advection-1d", "--preset", "smoke", "--out", "{t}/r1", "--test-seeds", "a-b"], "seed"),
    "reproduce turbulence existing": (["reproduce", "turbulence-2d", "--preset", "smoke", "--out", "{t}/existing", "--quiet"], "--overwrite"),
    "reproduce turbulence unwritable": (["reproduce", "turbulence-2d", "--preset", "smoke", "--out", "{u}/r",
                                         "--data-dir", "{t}/d", "--quiet"], "{u}"),
    "reproduce turbulence resume nothing": (["reproduce", "turbulence-2d", "--preset", "smoke", "--out", "{t}/fresh",
                                             "--data-dir", "{t}/d", "--resume", "--quiet"], "resume"),
    "reproduce deformation existing": (["reproduce", "deformation-2d", "--preset", "smoke", "--out", "{t}/existing", "--quiet"], "--overwrite"),
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
    interactive = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
                   "sys.argv[0] = 'learned-advection'; runpy.run_module('learned_advection', run_name='__main__')")
    cmd = [sys.executable, "-c", interactive, "train", "--data", str(tmp_path / "ref.nc"), "--out", str(out),
           "--steps", "100000", "--batch-size", "2", "--unroll", "2", "--layers", "1", "--filters", "2", "--quiet"]
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
    resumed = subprocess.run(cmd[:cmd.index("100000")] + [str(done + 3)] + cmd[cmd.index("100000") + 1:] + ["--resume"],
                             capture_output=True, text=True, env=env, timeout=240)
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
