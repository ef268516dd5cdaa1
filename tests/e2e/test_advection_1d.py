"""End to end: ``reproduce advection-1d --preset smoke``, ``train`` and ``evaluate`` through the CLI."""

import json

import numpy as np
import pytest

from learned_advection.cli import main
from learned_advection.data.netcdf import write_reference as save_reference_netcdf
from learned_advection.data.reference import Setup1D, make_dataset_1d, rng_for
from learned_advection.errors import UserError
from learned_advection.experiments.common import parse_seed_range


def _exit_code(argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    return info.value.code


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("adv1d") / "run"
    main(["reproduce", "advection-1d", "--preset", "smoke", "--out", str(out), "--test-seeds", "500-503", "--quiet"])
    return out, None


def test_smoke_preset_end_to_end(smoke_run, capsys):
    out, _ = smoke_run
    m = json.loads((out / "metrics.json").read_text())
    assert m["experiment"] == "advection-1d" and m["preset"] == "smoke"
    assert set(m["methods"]) == {"upwind-32", "vanleer-32", "weno5z-32", "learned-32"}
    for curve in m["methods"].values():
        assert curve["step"] == list(range(257)) and len(curve["mae"]) == 257
        assert curve["mae"][0] == pytest.approx(0.0, abs=1e-7)  # all methods start from the reference state
        assert all(np.isfinite(curve["mae"]))
    s = m["summary"]
    assert set(s["mean_mae_steps_1_256"]) == set(m["methods"])
    means = s["mean_mae_steps_1_256"]
    assert s["ratio_vanleer_over_learned"] == pytest.approx(means["vanleer-32"] / means["learned-32"])
    assert means["learned-32"] == pytest.approx(np.mean(m["methods"]["learned-32"]["mae"][1:]))
    assert s["mean_mae_steps_1_256"]["upwind-32"] > s["mean_mae_steps_1_256"]["vanleer-32"]
    assert m["config"]["test_seeds"] == [500, 503] and "reproduce advection-1d" in m["command"]
    assert "learned-32 (squares+gaussians)" in m["gaussian_test"]["methods"]
    for f in ("fig2_sample.png", "fig3_mae.png", "fig4_gaussian.png"):
        assert (out / "figures" / f).stat().st_size > 1000
    report = (out / "report.md").read_text()
    assert "| vanleer-32 |" in report and "figures/fig3_mae.png" in report
    assert (out / "model" / "best" / "config.json").is_file() and (out / "model-gaussians" / "best").is_dir()

    # a non-empty output folder is not overwritten without --overwrite
    assert _exit_code(["reproduce", "advection-1d", "--preset", "smoke", "--out", str(out), "--quiet"]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_evaluate_and_train_commands(smoke_run, tmp_path, capsys):
    out, _ = smoke_run
    # same seeds and length as the smoke run: its compiled rollouts are reused
    main(["evaluate", "--model", str(out / "model"), "--test-seeds", "500-503", "--steps", "256"])
    text = capsys.readouterr().out
    assert "learned-32" in text and "vanleer-32" in text and "weno5z-32" in text and "mean 1-256" in text

    setup = Setup1D()
    ref = make_dataset_1d(rng_for(9, "train"), setup, 5, 32)  # 4 training + 1 validation sample
    save_reference_netcdf(tmp_path / "ref.nc", ref)
    argv = [
        "train",
        "--data",
        str(tmp_path / "ref.nc"),
        "--out",
        str(tmp_path / "m"),
        "--steps",
        "2",
        "--unroll",
        "4",
        "--batch-size",
        "8",
        "--layers",
        "2",
        "--filters",
        "8",
        "--quiet",
    ]
    main(argv)
    assert "best step" in capsys.readouterr().out
    assert _exit_code(argv) == 2  # refuses to overwrite a run without --resume
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--resume" in err and "Traceback" not in err
    main(argv[:6] + ["4"] + argv[7:] + ["--resume"])
    assert json.loads((tmp_path / "m" / "last" / "config.json").read_text())["step"] == 4

    assert _exit_code(["evaluate", "--model", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_seed_ranges():
    assert parse_seed_range("3-5") == [3, 4, 5]
    assert parse_seed_range("7") == [7]
    for bad in ("5-3", "a-b", "-1", "1-2-3"):
        with pytest.raises(UserError, match="test seeds must look like A-B"):
            parse_seed_range(bad)
