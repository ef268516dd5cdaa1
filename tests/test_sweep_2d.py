"""Hyper-parameter sweep: the grids, and the smoke grid end to end with resuming."""

import json

from learned_advection.experiments import sweep_2d


def test_grids():
    assert len(sweep_2d.points(sweep_2d.GRIDS["paper"])) == 4 * 4 * 2 * 3
    cpu = sweep_2d.points(sweep_2d.GRIDS["cpu"])
    assert len(cpu) == 8 and len({sweep_2d.point_name(p) for p in cpu}) == 8


def test_smoke_sweep_and_resume(tmp_path, cli):
    out, data = tmp_path / "out", tmp_path / "d"
    code, _, err = cli("sweep", "turbulence-2d", "--grid", "smoke", "--out", out, "--data-dir", data, "--quiet")
    assert code == 0, err
    m = json.loads((out / "metrics.json").read_text())
    assert m["experiment"] == "sweep-2d" and len(m["points"]) == 2
    for p in m["points"].values():
        assert p["mae"] > 0 and p["ms_per_step"] > 0 and "vanleer-16" in p["baselines"]
    assert (out / "figures" / "fig12_sweep.png").stat().st_size > 1000
    # resuming a finished sweep trains nothing and gives the same table
    stamp = {p: p.stat().st_mtime_ns for p in (out / "points").iterdir()}
    code, _, err = cli("sweep", "turbulence-2d", "--grid", "smoke", "--out", out, "--data-dir", data, "--quiet", "--resume")
    assert code == 0, err
    assert {p: p.stat().st_mtime_ns for p in (out / "points").iterdir()} == stamp
    assert json.loads((out / "metrics.json").read_text())["points"] == m["points"]
