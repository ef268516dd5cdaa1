"""Accuracy-cost plane: Pareto front logic and a tiny end-to-end run (1 seed, few steps)."""

import json

import jax
import numpy as np

from learned_advection.experiments import accuracy_cost
from learned_advection.experiments import turbulence_2d as t
from learned_advection.learned.models import build_model


def test_pareto_front():
    points = {"a": (1.0, 0.5), "b": (2.0, 0.3), "c": (3.0, 0.4), "d": (0.5, 0.9), "e": (2.0, 0.3)}
    assert accuracy_cost.pareto_front(points) == ["d", "a", "b", "e"]  # c is beaten by b; ties both stay


def test_tiny_accuracy_cost_run(tmp_path):
    model = build_model(t.PRESETS["cpu"].model, jax.random.PRNGKey(0))
    result = accuracy_cost.run({"learned-32 untrained": model}, tmp_path / "out", tmp_path / "data", test_seeds=(1000,),
                               n_steps=4, timing_steps=2, repeats=1, classical=(("vanleer", 32), ("vanleer", 64), ("vanleer", 256)),
                               progress=False)
    saved = json.loads((tmp_path / "out" / "cost.json").read_text())
    assert set(saved["points"]) == {"vanleer-32", "vanleer-64", "vanleer-256", "learned-32 untrained"}
    assert saved["points"]["vanleer-256"]["mae"] == 0.0 and "vanleer-256" in saved["pareto_front"]
    for p in saved["points"].values():
        assert p["seconds_per_time_unit"] > 0 and np.isfinite(p["mae"])
    assert saved["points"]["vanleer-256"]["seconds_per_time_unit"] > saved["points"]["vanleer-32"]["seconds_per_time_unit"]
    assert (tmp_path / "out" / "figures" / "fig11_accuracy_cost.png").stat().st_size > 1000
    assert "Pareto" in (tmp_path / "out" / "report.md").read_text() and result["step"] == 4
