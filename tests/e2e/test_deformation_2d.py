"""2-D deformational-flow experiment: building blocks and the ``smoke`` preset end to end."""

import dataclasses
import json

import jax.numpy as jnp
import numpy as np
import pytest

from learned_advection.experiments import deformation_2d as exp
from learned_advection.flows.tracers import cosine_bell
from learned_advection.numerics import schemes, symmetry
from learned_advection.numerics.grids import coarsen_concentration


def test_presets_share_test_dx_and_dt():
    for p in exp.PRESETS.values():
        assert p.train_length / p.train_n == pytest.approx(1.0 / p.test_n)
        assert p.dt == pytest.approx(0.5 / p.test_n)
        assert p.steps_per_period * p.dt == pytest.approx(exp.PERIOD)  # whole coarse steps fill a period
    assert exp.PRESETS["cpu"].periods >= 2
    with pytest.raises(ValueError, match="is not an integer"):  # a time step that does not divide T is refused
        dataclasses.replace(exp.PRESETS["cpu"], cfl=0.3)


def test_cosine_bell_cell_averages():
    g = exp.test_grid(exp.PRESETS["cpu"])
    c = cosine_bell(g, exp.CENTRE, exp.RADIUS, sub=4)
    assert c.shape == (64, 64) and 0 <= c.min() and c.max() <= 1
    # integral of the bell: pi r^2 (1/2 - 2/pi^2), r = 1/4
    np.testing.assert_allclose(c.sum() / c.size, np.pi * 0.25**2 * (0.5 - 2 / np.pi**2), rtol=2e-3)


def test_training_data_is_coarse_grained_reference_with_exact_d4():
    p = exp.PRESETS["smoke"]
    data = exp.make_training_data(p, "validation", 1, d4=True)
    assert data.states.shape == (8, p.train_steps + 1, p.train_n, p.train_n)
    assert data.dt == p.dt
    # mass conserved; the D4 image of trajectory 0 is a trajectory of the image flow
    mass = data.states.sum(axis=(-2, -1))
    np.testing.assert_allclose(mass, np.broadcast_to(mass[:, :1], mass.shape), rtol=1e-5)
    speed = max(float(np.abs(u).max()) for u in data.velocity)
    assert p.amplitude[0] * 0.9 <= speed <= p.amplitude[1] + 1e-6
    c, v = symmetry.d4_element(5, jnp.asarray(data.states[0]), tuple(jnp.asarray(u[0]) for u in data.velocity))
    np.testing.assert_allclose(np.asarray(c), data.states[5], atol=1e-6)


def test_deformation_returns_to_start_and_substeps_coarse_grain():
    p = dataclasses.replace(exp.PRESETS["smoke"], periods=1)
    c0 = cosine_bell(exp.test_grid(p, 2), exp.CENTRE, exp.RADIUS, sub=4)
    traj = exp.run_deformation(schemes.scheme("vanleer"), c0, p, 2, p.steps_per_period)
    initial = np.asarray(coarsen_concentration(jnp.asarray(c0), 2, 2))
    np.testing.assert_allclose(traj[0], initial, atol=1e-7)
    assert traj.shape == (p.steps_per_period // p.save_every + 1, p.test_n, p.test_n)
    m = exp.method_metrics(traj, initial, p)
    assert m["mass_error"] < 1e-5 and m["min"] >= -1e-6
    assert m["entropy"][0] == pytest.approx(1.0)
    # Van Leer is monotone: entropy at T/2 is above 1; the state at T is closer to the start than at T/2
    half = len(m["entropy"]) // 2
    assert m["entropy"][half] > 1.0
    assert np.abs(traj[-1] - initial).sum() < np.abs(traj[half] - initial).sum()


def test_smoke_preset_end_to_end(tmp_path):
    out = tmp_path / "run"
    metrics = exp.run("smoke", out, quiet=True, command="test")
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["experiment"] == "deformation-2d" and saved["preset"] == "smoke"
    n = exp.PRESETS["smoke"].test_n
    names = {
        f"upwind-{n}",
        f"vanleer-{n}",
        f"ppm-{n}",
        f"weno5z-{n}",
        f"learned-{n}",
        f"vanleer-{2 * n}",
        f"vanleer-{4 * n}",
    }
    assert set(saved["methods"]) == names
    assert saved["methods"][f"weno5z-{n}"]["finite"] and saved["methods"][f"weno5z-{n}"]["mass_error"] < 1e-5
    for m in saved["methods"].values():
        for key in ("step", "time", "l1_error_vs_initial", "entropy", "mass_error", "min", "max"):
            assert key in m
        assert len(m["l1_error_vs_initial"]["periods"]) == exp.PRESETS["smoke"].periods
        assert len(m["entropy"]) == len(m["time"]) == len(m["step"])
    for name in ("fig5_snapshots.png", "fig6_entropy.png", "period_errors.png"):
        assert (out / "figures" / name).stat().st_size > 0
    assert (out / "report.md").read_text().startswith("# 2-D deformational flow")
    assert (out / "model" / "best").exists()
    assert metrics["training"]["iterations"] == exp.PRESETS["smoke"].train.steps
