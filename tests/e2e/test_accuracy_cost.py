"""Accuracy-cost plane: Pareto front logic and a tiny end-to-end run (1 seed, few steps)."""

import json

import jax
import numpy as np
import pytest

from learned_advection.errors import UserError
from learned_advection.experiments import accuracy_cost
from learned_advection.experiments import turbulence_2d as t
from learned_advection.learned.config import ModelConfig
from learned_advection.learned.models import LearnedModel, build_model


def test_pareto_front():
    points = {"a": (1.0, 0.5), "b": (2.0, 0.3), "c": (3.0, 0.4), "d": (0.5, 0.9), "e": (2.0, 0.3)}
    assert accuracy_cost.pareto_front(points) == ["d", "a", "b", "e"]  # c is beaten by b; ties both stay
    # a point beaten in one coordinate and tied in the other is off the front
    assert accuracy_cost.pareto_front({"x": (1.0, 0.5), "y": (1.0, 0.6), "z": (2.0, 0.5)}) == ["x"]


def test_tiny_accuracy_cost_run(tmp_path, monkeypatch):
    """A real run on the smoke configuration (64^2 reference, 16^2 coarse grid; 1 seed, 4 steps): each
    recorded MAE is the MAE of that method's trajectory against the reference, recomputed here, and is not
    zero; a finer Van Leer is closer to the reference; the front is the Pareto front of the recorded points."""
    preset, seeds, n_steps = t.PRESETS["smoke"], (1000,), 4
    monkeypatch.setitem(t.PRESETS, "cpu", preset)  # the experiment runs on the "cpu" preset's data
    n = preset.data.coarse_n
    model = build_model(preset.model, jax.random.PRNGKey(0))
    # Courant 0.5, a larger step below Courant 1, a large step (Courant 4: stride of 2 coarse steps) with and without FCT
    classical = (
        ("vanleer", n),
        ("vanleer", 2 * n),
        ("ppm", 4 * n, 2),
        ("vanleer", 4 * n, 8),
        ("vanleer", 4 * n, 8, False),
    )
    result = accuracy_cost.run(
        {"learned untrained": model},
        tmp_path / "out",
        tmp_path / "data",
        test_seeds=seeds,
        n_steps=n_steps,
        timing_steps=2,
        repeats=1,
        classical=classical,
        batches=(1, 2),
        progress=False,
    )
    saved = json.loads((tmp_path / "out" / "cost.json").read_text())
    assert saved["points"] == json.loads(json.dumps(result["points"])) and saved["step"] == n_steps
    data, psi = t.load_trajectories(preset, tmp_path / "data", "test", seeds, n_steps, False)  # cached by the run
    ref = np.asarray(data.states, np.float64)
    preds = t.baseline_trajectories(preset, seeds, psi, classical[:-1], n_steps)
    preds["vanleer-64-k8-unbounded"] = t.baseline_trajectories(preset, seeds, psi, classical[-1:], n_steps)[
        "vanleer-64-k8"
    ]
    preds["learned untrained"] = t.learned_trajectories(model, data, n_steps)
    second = np.asarray(t.baseline_trajectories(preset, seeds, psi, [("ppm", 4 * n)], n_steps)["ppm-64"], np.float64)
    assert set(saved["points"]) == set(preds)
    for name, pred in preds.items():
        pred = np.asarray(pred, np.float64)
        last = pred.shape[1] - 1  # the state at coarse step n_steps (every 2nd coarse step is stored at k = 8)
        every = n_steps // last
        assert saved["points"][name]["k"] == (8 if "k8" in name else 2 if "k2" in name else 1)
        expected = float(np.abs(pred[:, last] - ref[:, n_steps]).mean())
        assert expected > 1e-6, name  # the reference is not the method itself
        assert saved["points"][name]["mae"] == pytest.approx(expected, rel=1e-5), name
        assert saved["points"][name]["mae_vs_ppm-64"] == pytest.approx(
            float(np.abs(pred[:, last] - second[:, n_steps]).mean()), rel=1e-5
        )
        assert every in (1, 2)
    assert saved["points"]["vanleer-64-k8"]["bounded"] and not saved["points"]["vanleer-64-k8-unbounded"]["bounded"]
    assert preds["vanleer-64-k8"].min() >= data.states[:, 0].min() - 1e-6  # bounded
    assert saved["pareto_front_by_batch"]["2"] == accuracy_cost.pareto_front(
        {k: (p["seconds_per_time_unit_by_batch"]["2"], p["mae"]) for k, p in saved["points"].items()}
    )
    assert saved["points"][f"vanleer-{2 * n}"]["mae"] < saved["points"][f"vanleer-{n}"]["mae"]
    recorded = {k: (p["seconds_per_time_unit"], p["mae"]) for k, p in saved["points"].items()}
    assert all(np.isfinite(v).all() for v in recorded.values())
    assert saved["pareto_front"] == accuracy_cost.pareto_front(recorded)
    assert {k for k, p in saved["points"].items() if p["pareto"]} == set(saved["pareto_front"])
    assert ModelConfig.from_dict(saved["points"]["learned untrained"]["config"]) == preset.model
    assert (tmp_path / "out" / "figures" / "fig11_accuracy_cost.png").stat().st_size > 1000
    text = (tmp_path / "out" / "report.md").read_text()
    assert "Pareto" in text and all(f"| {name} |" in text for name in preds)


def test_fewer_steps_than_the_timing_length_time_a_multi_step_model(tmp_path, monkeypatch):
    """--steps below the 64 timed coarse steps: a model of 2 coarse steps is timed over the steps the data
    holds (it asked for 32 model steps of data holding 1), and the folder appears only with the results."""
    preset, n_steps = t.PRESETS["smoke"], 2
    monkeypatch.setitem(t.PRESETS, "cpu", preset)
    model = build_model(preset.model, jax.random.PRNGKey(0))
    model = LearnedModel(model.stepper, trained_dt=2 * preset.data.coarse_dt)
    assert t.model_step_multiple(model, preset.data.coarse_dt) == 2
    result = accuracy_cost.run(
        {"two-step": model},
        tmp_path / "out",
        tmp_path / "data",
        test_seeds=(1000,),
        n_steps=n_steps,
        repeats=1,
        classical=(("vanleer", preset.data.coarse_n),),
        batches=(1,),
        progress=False,
    )
    assert result["timing_steps"] == 2 and np.isfinite(result["points"]["two-step"]["seconds_per_time_unit"])
    assert (tmp_path / "out" / "cost.json").is_file()


def test_a_refused_run_leaves_no_output_folder(tmp_path, monkeypatch):
    monkeypatch.setitem(t.PRESETS, "cpu", t.PRESETS["smoke"])
    with pytest.raises(UserError, match="need .* GiB of memory"):
        accuracy_cost.run({}, tmp_path / "out", tmp_path / "data", test_seeds=(1000,), n_steps=2**40, progress=False)
    assert not (tmp_path / "out").exists()
