"""Hyper-parameter sweep: the grids, and the smoke grid end to end with resuming."""

import json

import numpy as np

from learned_advection.experiments import sweep_2d


def test_points_are_every_combination_once_with_distinct_names():
    grid = sweep_2d.SweepGrid("t", "smoke", layers=(2, 4), filters=(8,), stencils=(3, 5), seeds=(0, 1))
    points = sweep_2d.points(grid)
    assert sorted((p["layers"], p["filters"], p["stencil"], p["seed"]) for p in points) == [
        (2, 8, 3, 0),
        (2, 8, 3, 1),
        (2, 8, 5, 0),
        (2, 8, 5, 1),
        (4, 8, 3, 0),
        (4, 8, 3, 1),
        (4, 8, 5, 0),
        (4, 8, 5, 1),
    ]
    for g in sweep_2d.GRIDS.values():  # every shipped grid: runnable stencils, one folder per point
        pts = sweep_2d.points(g)
        assert len({sweep_2d.point_name(p) for p in pts}) == len(pts)
        assert all(p["stencil"] in sweep_2d.STENCILS for p in pts)


def test_smoke_sweep_and_resume(tmp_path, cli):
    out, data = tmp_path / "out", tmp_path / "d"
    code, _, err = cli("sweep", "turbulence-2d", "--grid", "smoke", "--out", out, "--data-dir", data, "--quiet")
    assert code == 0, err
    m = json.loads((out / "metrics.json").read_text())
    assert m["experiment"] == "sweep-2d" and len(m["points"]) == 2
    assert set(m["points"]) == {sweep_2d.point_name(p) for p in sweep_2d.points(sweep_2d.GRIDS["smoke"])}
    for name, p in m["points"].items():
        assert sweep_2d.point_name(p) == name and "vanleer-16" in p["baselines"]
        assert np.isfinite([p["mae"], p["r2"], p["ms_per_step"]]).all()
    assert (out / "figures" / "fig12_sweep.png").stat().st_size > 1000
    # resuming a finished sweep trains nothing and gives the same table
    stamp = {p: p.stat().st_mtime_ns for p in (out / "points").iterdir()}
    code, _, err = cli(
        "sweep", "turbulence-2d", "--grid", "smoke", "--out", out, "--data-dir", data, "--quiet", "--resume"
    )
    assert code == 0, err
    assert {p: p.stat().st_mtime_ns for p in (out / "points").iterdir()} == stamp
    assert json.loads((out / "metrics.json").read_text())["points"] == m["points"]
