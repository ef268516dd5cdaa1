"""The turbulence experiment end to end on the tiny smoke preset (64^2 pyqg / reference -> 16^2)."""

import json

import numpy as np


def test_smoke_preset_end_to_end(tmp_path, cli):
    out, data = tmp_path / "out", tmp_path / "data"
    code, stdout, _ = cli(
        "reproduce", "turbulence-2d", "--preset", "smoke", "--out", out, "--data-dir", data, "--quiet"
    )
    assert code == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["experiment"] == "turbulence-2d" and m["preset"] == "smoke"
    from learned_advection.experiments.turbulence_2d import PRESETS

    smoke = PRESETS["smoke"]
    names = {"learned-16", "vanleer-16", "vanleer-32", "vanleer-64", "ppm-16", "ppm-32", "weno5z-16", "weno5z-32"}
    assert set(m["methods"]) == names
    for name, method in m["methods"].items():
        n = len(method["step"])
        for key in ("mae", "r2", "entropy", "nrmse"):
            assert len(method[key]) == n and np.all(np.isfinite(method[key])), (name, key)
        assert 0.0 <= method["blowup_fraction"] <= 1.0
        assert method["mass_error"] < 1e-5, name
        assert "long" in method and method["long"]["steps"] == smoke.long_steps
    # the 64^2 Van Leer run *is* the reference here: zero error
    assert max(m["methods"]["vanleer-64"]["mae"]) < 1e-6
    for fig in (
        "fig7_sample.png",
        "fig8_errors.png",
        "fig9_error_distribution.png",
        "spectra.png",
        "fig10_coefficients.png",
    ):
        assert (out / "figures" / fig).stat().st_size > 1000
    assert "learned-16" in (out / "report.md").read_text()
    assert (out / "model" / "best" / "config.json").exists()
    assert "learned-16" in stdout
    # cached samples are reused: a second run with --overwrite generates nothing new
    before = sorted(p.stat().st_mtime_ns for p in data.rglob("*.nc"))
    assert (
        cli(
            "reproduce",
            "turbulence-2d",
            "--preset",
            "smoke",
            "--out",
            out,
            "--data-dir",
            data,
            "--quiet",
            "--overwrite",
        )[0]
        == 0
    )
    assert sorted(p.stat().st_mtime_ns for p in data.rglob("*.nc")) == before
    m2 = json.loads((out / "metrics.json").read_text())
    assert m2["methods"] == m["methods"]  # bit-identical metrics of every method (determinism)
    # a second stage starting from the trained weights: its step 0 is the starting model's validation
    tuned = tmp_path / "tuned"
    code, _, err = cli(
        "reproduce",
        "turbulence-2d",
        "--preset",
        "smoke",
        "--out",
        tuned,
        "--data-dir",
        data,
        "--quiet",
        "--init-from",
        out / "model" / "best",
    )
    assert code == 0, err
    t = json.loads((tuned / "metrics.json").read_text())["training"]
    assert t["init_from"] == str(out / "model" / "best")
    first = t["history"][0]
    assert first["step"] == 0 and first["validation"] == m["training"]["best_validation"]
    assert t["best_validation"] <= first["validation"]


def test_a_curriculum_in_k_starts_a_longer_step_from_a_trained_model(tmp_path, cli, monkeypatch):
    """``--init-from`` accepts a model that differs only in its largest Courant number (a curriculum in k: the
    same network trained on at a longer step); other differences are refused in one line."""
    import dataclasses

    from learned_advection.experiments import turbulence_2d as t

    data = tmp_path / "data"
    assert (
        cli("reproduce", "turbulence-2d", "--preset", "smoke", "--out", tmp_path / "k1", "--data-dir", data, "--quiet")[
            0
        ]
        == 0
    )
    smoke = t.PRESETS["smoke"]
    longer = dataclasses.replace(smoke, k=2, model=dataclasses.replace(smoke.model, max_courant=2, large_step="none"))
    monkeypatch.setitem(t.PRESETS, "smoke", longer)
    code, _, err = cli(
        "reproduce",
        "turbulence-2d",
        "--preset",
        "smoke",
        "--out",
        tmp_path / "k2",
        "--data-dir",
        data,
        "--quiet",
        "--init-from",
        tmp_path / "k1" / "model" / "best",
    )
    assert code == 0, err
    metrics = json.loads((tmp_path / "k2" / "metrics.json").read_text())
    assert metrics["training"]["model"]["max_courant"] == 2 and metrics["training"]["history"][0]["step"] == 0
    wider = dataclasses.replace(longer, model=dataclasses.replace(longer.model, filters=smoke.model.filters + 1))
    monkeypatch.setitem(t.PRESETS, "smoke", wider)
    code, _, err = cli(
        "reproduce",
        "turbulence-2d",
        "--preset",
        "smoke",
        "--out",
        tmp_path / "k3",
        "--data-dir",
        data,
        "--quiet",
        "--init-from",
        tmp_path / "k1" / "model" / "best",
    )
    assert code == 2 and "model settings differ" in err and len(err.strip().splitlines()) == 1


def test_finetune_preset_needs_a_matching_starting_model(tmp_path, cli):
    out = tmp_path / "ft"
    code, _, err = cli("reproduce", "turbulence-2d", "--preset", "cpu-finetune", "--out", out, "--quiet")
    assert code == 2 and "--init-from" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()
    code, _, err = cli(
        "reproduce",
        "turbulence-2d",
        "--preset",
        "cpu-finetune",
        "--out",
        out,
        "--quiet",
        "--init-from",
        tmp_path / "missing",
    )
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("error: ") and "missing does not exist" in err
    assert not out.exists()


def test_existing_output_not_overwritten(tmp_path, cli):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    code, _, err = cli(
        "reproduce", "turbulence-2d", "--preset", "smoke", "--out", out, "--data-dir", tmp_path / "d", "--quiet"
    )
    assert code == 2
    err = err.strip()
    assert err.startswith("error:") and "--overwrite" in err and "\n" not in err
    assert (out / "keep.txt").read_text() == "precious"


def test_evaluate_refuses_missing_pretrained_and_mismatched_model(tmp_path, cli):
    import jax

    from learned_advection.learned import checkpoint
    from learned_advection.learned.config import ModelConfig
    from learned_advection.learned.models import build_model
    from learned_advection.numerics.grids import Grid

    code, _, err1 = cli("evaluate", "turbulence-2d", "--model", "pretrained:no-such-model", "--quiet")
    assert code == 2
    cfg = ModelConfig(ndim=2, layers=1, filters=2, stencil=(2, 3))
    small = Grid.square(16, 2 * np.pi)  # trained on 16^2: the turbulence test grid is 32^2
    checkpoint.save_checkpoint(
        tmp_path / "m", build_model(cfg, jax.random.PRNGKey(0)), checkpoint.make_config(cfg, small, 0.024, 0)
    )
    code, _, err2 = cli("evaluate", "turbulence-2d", "--model", tmp_path / "m", "--quiet")
    assert code == 2
    lines = [line for line in (err1 + err2).splitlines() if line.strip()]
    assert len(lines) == 2 and all(l.startswith("error:") for l in lines)
    assert "pretrained" in lines[0] and "cell size" in lines[1]


def test_shipped_pretrained_model_loads_for_the_turbulence_grid():
    from learned_advection.experiments import turbulence_2d as exp
    from learned_advection.learned import checkpoint
    from learned_advection.numerics.grids import Grid

    stepper = checkpoint.load_stepper("pretrained", exp.grid(exp.PRESETS["cpu"]))
    config = checkpoint.read_config("pretrained")[1]
    assert config["extra"]["experiment"] == "turbulence-2d"
    assert abs(config["dt"] - exp.PRESETS["cpu"].data.coarse_dt) < 1e-12
    assert stepper.trained_dt == config["dt"] and stepper.trained_spacing == exp.grid(exp.PRESETS["cpu"]).spacing
    c = np.zeros((32, 32), np.float32)
    c[10:14, 5:9] = 1.0
    u = np.full((32, 32), 1.5, np.float32)
    out = np.asarray(stepper(c, (u, u), config["dt"], (2 * np.pi / 32,) * 2))
    assert np.isfinite(out).all() and abs(out.sum() - c.sum()) < 1e-4
    import pytest

    from learned_advection.errors import UserError

    with pytest.raises(UserError, match="cell size"):
        checkpoint.load_stepper("pretrained", Grid.square(64, 2 * np.pi))


def test_inference_variants_on_the_smoke_preset(tmp_path):
    import jax
    import pytest

    from learned_advection.errors import UserError
    from learned_advection.experiments import turbulence_2d as exp
    from learned_advection.learned.models import build_model

    assert exp.parse_variants("plain, fct,plain") == ["plain", "fct"]
    with pytest.raises(UserError, match="unknown variant"):
        exp.parse_variants("plain,clip")
    preset = exp.PRESETS["smoke"]
    model = build_model(preset.model, jax.random.PRNGKey(1))
    models = exp.variant_models(model, ["plain", "fct", "d4+fct"])
    assert set(models) == {"", "-fct", "-d4-fct"}
    result = exp.evaluate(models, preset, tmp_path / "data", progress=False)
    methods = result["methods"]
    assert {"learned-16", "learned-16-fct", "learned-16-d4-fct"} <= set(methods)
    ref = result["_reference"]
    lo, hi = ref[:, 0].min(), ref[:, 0].max()
    for name in ("learned-16-fct", "learned-16-d4-fct"):
        traj = result["_trajectories"][name]
        assert traj.max() <= hi + 1e-5 and traj.min() >= lo - 1e-5, name  # bounded (float32 round-off)
        assert methods[name]["long"]["max_overshoot"] <= 1e-5


def test_a_model_at_twice_the_step_is_evaluated_at_its_own_steps(tmp_path):
    """A model trained at 2 coarse steps per step runs on the flow averaged over its step and is compared with
    the reference at every other coarse step; the FFSL variant with FCT stays in range and keeps mass."""
    import dataclasses

    import jax
    import numpy as np

    from learned_advection.experiments import turbulence_2d as exp
    from learned_advection.learned.models import LearnedModel, build_model, compose

    preset = exp.PRESETS["smoke"]
    cfg = dataclasses.replace(preset.model, max_courant=1, large_step="ffsl", limiter="fct")
    net = build_model(cfg, jax.random.PRNGKey(2)).network
    model = LearnedModel(compose(net.config, net), trained_dt=2 * preset.data.coarse_dt)
    assert exp.model_step_multiple(model, preset.data.coarse_dt) == 2
    result = exp.evaluate(model, preset, tmp_path / "data", progress=False)
    m = result["methods"]["learned-16"]
    assert m["step"] == list(range(0, preset.test_steps + 1, 2))
    traj, ref = result["_trajectories"]["learned-16"], result["_reference"]
    assert traj.shape[1] == preset.long_steps // 2 + 1
    data, _ = exp.load_trajectories(preset, tmp_path / "data", "test", preset.test_seeds, preset.long_steps, False, k=2)
    expected = exp.learned_trajectories(model, data, preset.long_steps // 2)
    np.testing.assert_array_equal(traj, expected)
    # the metrics are computed in float64 (evaluation.metrics): the same arithmetic here, so exactly equal
    error = np.abs(traj[:, preset.test_steps // 2].astype(np.float64) - ref[:, preset.test_steps].astype(np.float64))
    assert m["mae"][-1] == error.mean(axis=(-2, -1)).mean()
    assert traj.min() >= ref[:, 0].min() - 1e-5 and traj.max() <= ref[:, 0].max() + 1e-5
    np.testing.assert_allclose(
        traj.sum(axis=(-2, -1)), np.broadcast_to(ref[:, :1].sum(axis=(-2, -1)), traj.shape[:2]), rtol=1e-5
    )
    assert exp.summary(result, preset.test_steps)[0]["mae"] == m["mae"][-1]


def test_evaluate_refuses_a_step_that_is_not_whole_coarse_steps(tmp_path, cli):
    import jax

    from learned_advection.learned import checkpoint
    from learned_advection.learned.config import ModelConfig
    from learned_advection.learned.models import build_model
    from learned_advection.numerics.grids import Grid

    cfg = ModelConfig(ndim=2, layers=1, filters=2, stencil=(2, 3))
    grid = Grid.square(32, 2 * np.pi)
    for name, dt in (("m15", 0.036), ("m4", 0.096)):
        checkpoint.save_checkpoint(
            tmp_path / name, build_model(cfg, jax.random.PRNGKey(0)), checkpoint.make_config(cfg, grid, dt, 0)
        )
    code, _, err = cli("evaluate", "turbulence-2d", "--model", tmp_path / "m15", "--quiet")
    assert code == 2 and "not a whole number" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("evaluate", "turbulence-2d", "--model", tmp_path / "m4", "--steps", "6", "--quiet")
    assert code == 2 and "multiples of 4" in err and len(err.strip().splitlines()) == 1
