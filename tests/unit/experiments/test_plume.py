"""The regional worked case: a plume in a meandering channel (walls, inflow, outflow, a source)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from learned_advection.experiments import plume
from learned_advection.experiments.reports import report_text

SMALL = dataclasses.replace(
    plume.PlumeConfig(), grids=(8, 16), reference=32, schemes=("upwind", "ppm"), large_schemes=("ppm",), duration=0.5
)


def test_the_channel_flow_is_divergence_free_and_closed_at_the_walls():
    v, u = (np.asarray(x, np.float64) for x in plume.velocity(SMALL, 16, np.float64)(0.3))
    assert v.shape == (17, 16) and u.shape == (16, 17)
    assert np.all(v[0] == 0) and np.all(v[-1] == 0)
    divergence = (u[:, 1:] - u[:, :-1]) + (v[1:] - v[:-1])
    assert np.abs(divergence).max() < 1e-5
    assert max(np.abs(u).max(), np.abs(v).max()) <= plume.largest_speed(SMALL)


def test_the_source_emits_its_total_rate_on_every_grid():
    for n in (8, 16, 32):
        assert plume.source_rate(SMALL, n).sum() / n**2 == pytest.approx(SMALL.source_rate, rel=1e-6)


def test_every_run_closes_its_budget_stays_in_range_and_converges():
    result = plume.run(SMALL)
    runs = result["runs"]
    assert set(runs) == {"upwind-8", "ppm-8", "ppm-8-k4", "upwind-16", "ppm-16", "ppm-16-k4"}
    for label, r in runs.items():
        assert r["budget_residual"] <= 1e-6, label
        assert r["emitted"] == pytest.approx(SMALL.source_rate * SMALL.duration, rel=1e-5), label
        assert r["min"] >= 0.0, label  # every value a mix of clean air, background and emission
        assert r["inflow"] > 0 and r["outflow"] > 0, label
    assert runs["ppm-8-k4"]["courant"] > 1  # the large step
    for name in ("upwind", "ppm"):
        assert runs[f"{name}-16"]["mae"] < runs[f"{name}-8"]["mae"], name
    assert runs["ppm-16"]["mae"] < runs["upwind-16"]["mae"]


def test_the_report_is_built_from_the_saved_metrics_alone(tmp_path):
    m = plume.reproduce(tmp_path, dataclasses.replace(SMALL, grids=(8,), schemes=("upwind",), large_schemes=()))
    assert (tmp_path / "figures" / "plume.png").is_file()
    text = (tmp_path / "report.md").read_text()
    assert report_text(m) == text and "upwind-8" in text
