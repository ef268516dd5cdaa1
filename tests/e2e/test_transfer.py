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


HYBRID = "learned-32 2x16-k8-ppm+-o1-s2x3-safeguard"  # as shipped: the correction safeguarded


def test_transfer_runs_models_and_baselines_and_writes_its_report(cli, tmp_path):
    """The shipped hybrid (k = 8, max_courant 4, max_deformation 0.9) at the default strength and at its
    declared limits: PPM's and Van Leer's bounded and unbounded large steps at its step, each named and
    labelled; at the limits the flow's Courant number is max_courant and its deformation within the limit."""
    out = tmp_path / "transfer"
    code, stdout, err = cli(
        "transfer",
        "turbulence-2d",
        "--model",
        "pretrained:turbulence-2d-k8-hybrid",
        "--steps",
        8,
        "--flows",
        "cells",
        "--tracers",
        "block",
        "--out",
        out,
        "--quiet",
    )
    assert code == 0, err
    result = json.loads((out / "transfer.json").read_text())
    assert result["strengths"] == ["default", "limits"]
    (group,) = result["limits"]
    assert group["models"] == [HYBRID]
    assert group["declared"][HYBRID] == {"k": 8, "max_courant": 4, "max_deformation": 0.9}
    flow = group["flows"]["cells"]
    assert 4 - 1e-6 <= flow["courant"]["8"] <= 4 and flow["deformation"]["8"] <= 0.9
    assert flow["max_speed"] > 2 * transfer.MAX_SPEED  # twice the default strength's Courant number, and more
    assert result["flows"]["cells"]["courant"]["8"] == pytest.approx(1.943, abs=1e-3)  # the default strength
    for cases, courant in ((result["cases"], result["flows"]["cells"]["courant"]["8"]), (group["cases"], 4.0)):
        case = cases["cells/block"]
        assert set(case) == {
            HYBRID,
            "vanleer-32",
            "vanleer-32-k8",
            "vanleer-32-k8-unbounded",
            "ppm-32",
            "ppm-32-k8",
            "ppm-32-k8-unbounded",
            "vanleer-64",
        }
        for r in case.values():
            assert r["finite"] and 0 < r["mae"] < 0.1
        for scheme in ("ppm", "vanleer"):
            bounded, unbounded = case[f"{scheme}-32-k8"], case[f"{scheme}-32-k8-unbounded"]
            assert bounded["k"] == unbounded["k"] == 8 and bounded["courant"] == unbounded["courant"]
            assert bounded["courant"] == pytest.approx(courant, abs=1e-6)
            assert bounded["large_step"] and bounded["fct"] and unbounded["large_step"] and not unbounded["fct"]
            # FCT keeps the large step inside the initial range [0, 1]; the two differ
            assert bounded["min"] >= -1e-6 and bounded["max"] <= 1 + 1e-6
            assert bounded["mae"] != unbounded["mae"]
        assert not case["ppm-32"]["large_step"] and case["ppm-32"]["courant"] < 1
        assert case[HYBRID]["base"] == "ppm" and case[HYBRID]["courant"] == pytest.approx(courant, abs=1e-6)
    report = (out / "report.md").read_text()
    for against, step in (
        ("ppm-32-k8", "large step in FCT: bounded"),
        ("ppm-32-k8-unbounded", "large step without FCT: unbounded"),
        ("vanleer-32-k8", "large step in FCT: bounded"),
    ):
        assert report.count(f"| {HYBRID} | {against} | {step} | ") == 2  # both strengths
        assert f"`{against}` ({step})" in report  # the summary
    assert "## At the declared limits of" in report and "| cells | 4.117 | 0.500 | 0.098 | 4.000 | 0.780 |" in report
    assert "transfer turbulence-2d" in result["command"]
    # `report DIR` rebuilds the same report from transfer.json
    (out / "report.md").unlink()
    code, _, err = cli("report", out)
    assert code == 0, err
    assert (out / "report.md").read_text() == report


def test_transfer_of_the_default_model_with_fct_at_both_strengths(cli, tmp_path):
    """The default model (k = 1, max_courant 1, no deformation limit) and its FCT variant share one flow
    per case at their limits: Courant number 1 at the coarse step; every baseline there takes its own step."""
    out = tmp_path / "transfer"
    code, _, err = cli(
        "transfer",
        "turbulence-2d",
        "--steps",
        8,
        "--flows",
        "cells,deformation",
        "--tracers",
        "block",
        "--variants",
        "plain",
        "--out",
        out,
        "--quiet",
    )
    assert code == 0, err
    result = json.loads((out / "transfer.json").read_text())
    (group,) = result["limits"]
    assert group["models"] == ["learned-32 4x32-fct"]  # as shipped: in FCT
    for cases in (result["cases"], group["cases"]):
        assert list(cases) == ["cells/block", "deformation/block"]
        for case in cases.values():
            assert set(case) == {"learned-32 4x32-fct", "vanleer-32", "ppm-32", "vanleer-64"}
            for r in case.values():
                assert r["finite"] and 0 < r["mae"] < 0.2 and r["k"] == 1
            # twice the resolution is closer to the 256^2 reference than Van Leer at 32^2
            assert case["vanleer-64"]["mae"] < case["vanleer-32"]["mae"]
    for case in [*result["cases"].values(), *group["cases"].values()]:  # the bounded model stays inside [0, 1]
        assert case["learned-32 4x32-fct"]["min"] >= -1e-6 and case["learned-32 4x32-fct"]["max"] <= 1 + 1e-6
    for flow in group["flows"].values():
        assert 1 - 1e-6 <= flow["courant"]["1"] <= 1
        assert flow["reference_substeps"] == 3 * transfer.FACTOR  # the reference's Courant number stays <= 0.5
    for case in group["cases"].values():
        for scheme in ("ppm-32", "vanleer-32"):
            assert case[scheme]["courant"] == pytest.approx(1, abs=1e-6) and not case[scheme]["large_step"]
        # Van Leer at 64^2 and half the step: a Courant number just above 1 (the finer grid resolves the
        # largest speed better), so its large step in FCT, under its one name
        assert 1 < case["vanleer-64"]["courant"] < 1.01 and case["vanleer-64"]["fct"]
    report = (out / "report.md").read_text()
    assert (
        "| learned-32 4x32-fct | ppm-32 | own step | " in report
        and "| learned-32 4x32-fct | vanleer-32 | own step | " in report
    )
    assert "unbounded |" not in report  # no unbounded large step anywhere


@pytest.mark.parametrize(
    "args, message",
    [
        (("--flows", "cells,vortex"), "unknown flow(s) 'vortex'"),
        (("--tracers", ""), "unknown tracer(s)"),
        (("--steps", "0"), "--steps must be an integer from 1 to 4096"),
        (("--steps", "5000"), "--steps must be an integer from 1 to 4096"),
        (("--variants", "sharp"), "unknown variant(s) 'sharp'"),
        (("--strengths", "default,max"), "unknown strength(s) 'max'"),
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
