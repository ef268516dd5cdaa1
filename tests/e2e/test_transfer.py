"""``transfer turbulence-2d``: learned models and classical baselines on flows and tracers not in the training data."""

import json

import jax.numpy as jnp
import numpy as np
import pytest

from learned_advection.experiments import transfer
from learned_advection.experiments import turbulence_2d as t
from learned_advection.numerics.grids import coarsen_concentration


def _divergence(velocity, spacing):
    vy, vx = velocity
    return (vy - jnp.roll(vy, 1, axis=0)) / spacing[0] + (vx - jnp.roll(vx, 1, axis=1)) / spacing[1]


@pytest.mark.parametrize("flow", transfer.FLOWS)
def test_flows_are_divergence_free_with_the_set_largest_speed(flow):
    """Every grid samples one streamfunction: zero discrete divergence, the largest speed MAX_SPEED on the
    256^2 reference grid (at t = 0), and the coarse face velocities are the means of the fine ones."""
    coarse = t.grid(t.PRESETS["cpu"])
    fine = coarse.refine(transfer.FACTOR)
    fields = []
    for grid in (coarse, fine):
        vel = transfer.velocity(flow, grid, duration=6.0)
        vel = vel(0.0) if callable(vel) else vel
        scale = max(float(jnp.max(jnp.abs(u))) for u in vel)
        np.testing.assert_allclose(np.asarray(_divergence(vel, grid.spacing)), 0.0, atol=1e-4 * scale / grid.spacing[0])
        fields.append(vel)
    assert max(float(jnp.max(jnp.abs(u))) for u in fields[1]) == pytest.approx(transfer.MAX_SPEED, rel=1e-5)
    f = transfer.FACTOR
    # the y velocity on a coarse + face along y is the mean of the fine ones along that face
    fine_vy = np.asarray(fields[1][0])[f - 1 :: f].reshape(coarse.shape[0], coarse.shape[1], f).mean(axis=2)
    np.testing.assert_allclose(np.asarray(fields[0][0]), fine_vy, rtol=1e-4, atol=1e-5)


def test_the_deformation_flow_reverses_at_half_time():
    grid = t.grid(t.PRESETS["cpu"])
    vel = transfer.velocity("deformation", grid, duration=4.0)
    assert max(float(jnp.max(jnp.abs(u))) for u in vel(2.0)) < 1e-6
    np.testing.assert_allclose(np.asarray(vel(1.0)[1]), -np.asarray(vel(3.0)[1]), atol=1e-6)


@pytest.mark.parametrize("shape", transfer.TRACERS)
def test_tracers_are_cell_means_in_the_unit_range(shape):
    coarse = t.grid(t.PRESETS["cpu"])
    fine = transfer.tracer(shape, coarse.refine(2))
    c = transfer.tracer(shape, coarse)
    assert 0.0 <= c.min() and c.max() <= 1.0 and c.max() > 0.5
    # cell means: the coarse tracer is (close to) the mean of the finer one (4 x 4 sample points per cell)
    np.testing.assert_allclose(c, np.asarray(coarsen_concentration(jnp.asarray(fine), 2, 2)), atol=0.05)


def test_transfer_runs_models_and_baselines_and_writes_its_report(cli, tmp_path):
    out = tmp_path / "transfer"
    code, stdout, err = cli(
        "transfer",
        "turbulence-2d",
        "--steps",
        8,
        "--flows",
        "cells,deformation",
        "--tracers",
        "block",
        "--variants",
        "plain,fct",
        "--out",
        out,
        "--quiet",
    )
    assert code == 0, err
    result = json.loads((out / "transfer.json").read_text())
    assert list(result["cases"]) == ["cells/block", "deformation/block"]
    for case in result["cases"].values():
        assert set(case) == {"learned-32 4x32", "learned-32 4x32-fct", "vanleer-32", "ppm-32", "vanleer-64"}
        for r in case.values():
            assert r["finite"] and 0 < r["mae"] < 0.1 and r["k"] == 1
        # the bounded model stays inside the initial range [0, 1]
        assert case["learned-32 4x32-fct"]["min"] >= -1e-6 and case["learned-32 4x32-fct"]["max"] <= 1 + 1e-6
        # twice the resolution is closer to the 256^2 reference than Van Leer at 32^2
        assert case["vanleer-64"]["mae"] < case["vanleer-32"]["mae"]
    report = (out / "report.md").read_text()
    assert (
        "| learned-32 4x32 | " in report and "Learned MAE / Van Leer MAE" in report and "Smallest / largest" in report
    )
    assert "transfer turbulence-2d" in result["command"]
    # `report DIR` rebuilds the same report from transfer.json
    (out / "report.md").unlink()
    code, _, err = cli("report", out)
    assert code == 0, err
    assert (out / "report.md").read_text() == report


@pytest.mark.parametrize(
    "args, message",
    [
        (("--flows", "cells,vortex"), "unknown flow(s) vortex"),
        (("--tracers", ""), "unknown tracer(s)"),
        (("--steps", "0"), "--steps must be an integer from 1 to 4096"),
        (("--steps", "5000"), "--steps must be an integer from 1 to 4096"),
        (("--variants", "sharp"), "unknown variant(s) sharp"),
    ],
)
def test_transfer_refuses_bad_options_in_one_line(cli, tmp_path, args, message):
    code, _, err = cli("transfer", "turbulence-2d", "--out", tmp_path / "x", *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x").exists()


def test_transfer_refuses_a_non_empty_output_folder(cli, tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    code, _, err = cli(
        "transfer", "turbulence-2d", "--steps", 4, "--flows", "cells", "--tracers", "bell", "--out", tmp_path
    )
    assert code == 2 and "not empty" in err
    assert (tmp_path / "keep.txt").read_text() == "mine"
