"""The stress suite: flows scaled to a stepper's declared limits, tracers in [0, 1], blow-ups flagged."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learned_advection.errors import UserError, parse_names
from learned_advection.evaluation import stress
from learned_advection.numerics.grids import Grid, coarsen_concentration, deformation_number, max_courant
from learned_advection.numerics.limits import check_limits
from learned_advection.numerics.schemes import scheme

GRID = Grid.square(16, 2 * np.pi)
STEPS = 16


def _divergence(velocity, spacing):
    vy, vx = (np.asarray(u) for u in velocity)
    return (vy - np.roll(vy, 1, axis=-2)) / spacing[0] + (vx - np.roll(vx, 1, axis=-1)) / spacing[1]


@pytest.mark.parametrize("flow", stress.FLOWS)
def test_each_flow_is_scaled_to_the_declared_limits_exactly(flow):
    """Unbounded large step (Courant 4, deformation 0.9): the Courant number is 4 unless that puts the deformation
    number above 0.9, then the deformation number is 0.9; the bounded step (no deformation limit): Courant 4.
    Both are accepted by ``check_limits``; 1.5 times the flow is refused."""
    f = stress.make_flow(flow, GRID, STEPS)
    numbers = []
    for stepper in (scheme("ppm", 4, bounded=False), scheme("ppm", 4)):
        amplitude = stress.amplitude_at(f, GRID, 1.0, STEPS, stress.target_courant(stepper), stepper.max_deformation)
        velocity = f.velocity(GRID, STEPS, amplitude)
        courant = max_courant(velocity, 1.0, GRID.spacing)
        deformation = deformation_number(velocity, 1.0, GRID.spacing)
        limit = stepper.max_deformation
        if limit is None or math.isclose(courant, 4, rel_tol=1e-9):
            assert courant == pytest.approx(4, rel=1e-9) and (limit is None or deformation <= limit)
        else:
            assert deformation == pytest.approx(limit, rel=1e-9) and courant < 4
        check_limits(stepper, velocity, 1.0, GRID.spacing)  # at the limits: accepted
        assert np.abs(_divergence(velocity, GRID.spacing)).max() * 1.0 < 1e-5 * max(1.0, courant)
        beyond = stress.beyond_limits(stepper, f, GRID, 1.0, STEPS)
        assert beyond["refused"] and len(beyond["message"].splitlines()) == 1 and beyond["substeps"] == 2
        assert max(beyond["courant"] / 4, beyond["deformation"] / (limit or math.inf)) == pytest.approx(1.5, rel=1e-9)
        numbers.append((courant, deformation))
    (courant, deformation), bounded = numbers
    if flow == "shear":  # no deformation along the flow: the Courant limit binds even for the unbounded step
        assert deformation == 0 and courant == pytest.approx(4, rel=1e-9)
    if flow == "cellular":  # sin(2x) sin(2y) on 16^2 at Courant 4: D = 2.8, so the deformation limit binds
        assert deformation == pytest.approx(0.9, rel=1e-9) and bounded[1] == pytest.approx(2 * math.sqrt(2), rel=1e-6)


def test_unsteady_flows_change_and_the_deformation_flow_reverses_at_half_time():
    n = 64
    swirl = stress.make_flow("deformation", GRID, n)
    vy, vx = swirl.velocity(GRID, n)
    np.testing.assert_allclose(vx[: n // 2], -vx[n // 2 :][::-1], atol=1e-12)  # step s and n - 1 - s
    unsteady = stress.make_flow("unsteady", GRID, n)
    vy, vx = unsteady.velocity(GRID, n)
    assert not unsteady.steady and np.abs(vx[0] - vx[20]).max() > 0.3 * np.abs(vx).max()


def test_target_courant_of_ordinary_large_and_learned_like_steps():
    assert stress.target_courant(scheme("ppm", 4, bounded=False)) == 4
    assert stress.target_courant(scheme("vanleer", 8), 0.5) == 4
    assert stress.target_courant(scheme("weno5z")) == pytest.approx(0.7)  # its stable_courant
    assert stress.target_courant(scheme("ppm"), 0.6) == pytest.approx(0.6)


def test_tracers_are_cell_means_in_the_unit_range():
    coarse, fine = stress.initial_tracers(stress.TRACERS, GRID, 2)
    assert coarse.shape == (len(stress.TRACERS), 16, 16) and fine.shape == (len(stress.TRACERS), 32, 32)
    assert coarse.min() >= 0 and coarse.max() <= 1 and fine.min() >= 0 and fine.max() <= 1
    assert (coarse.max(axis=(1, 2)) > 0.8).all()
    np.testing.assert_allclose(coarse, np.asarray(coarsen_concentration(fine, 2, 2)), atol=1e-6)
    block = coarse[stress.TRACERS.index("block")]
    assert set(np.unique(block)) == {0.0, 1.0} and block.sum() == 16  # 4 x 4 cells on 16^2
    filaments = coarse[stress.TRACERS.index("filaments")]
    rows = np.flatnonzero(filaments.min(axis=1) == 1)  # the horizontal strips: 1 and 2 cells wide
    assert len(rows) == 3 and np.diff(rows).tolist().count(1) == 1


def test_an_unbounded_step_beyond_its_deformation_limit_blows_up_and_at_the_limit_does_not():
    """PPM's unbounded large step in cellular vortices at Courant 4 (deformation number 2.8, over three times its
    limit): refused by the checks; run anyway it is flagged.  At its limits (deformation 0.9) it is not."""
    step, flow = scheme("ppm", 4, bounded=False), stress.make_flow("cellular", GRID, STEPS)
    far = stress.amplitude_at(flow, GRID, 1.0, STEPS, 4.0)
    with pytest.raises(UserError, match="deformation number 2.83 in the cellular flow > 0.9"):
        stress.run_flow(step, flow, ["block"], GRID, 1.0, STEPS, far, factor=None)
    (bad,) = stress.run_flow(step, flow, ["block"], GRID, 1.0, STEPS, far, factor=None, check=False)
    assert bad["blew_up_at"] is not None and bad["blew_up_at"] <= STEPS and bad["reason"]
    assert bad["deformation"] == pytest.approx(2 * math.sqrt(2), rel=1e-3)
    at = stress.amplitude_at(flow, GRID, 1.0, STEPS, 4.0, step.max_deformation)
    (good,) = stress.run_flow(step, flow, ["block"], GRID, 1.0, STEPS, at, factor=None)
    assert good["blew_up_at"] is None and good["mae"] is None
    assert -0.5 < good["min"] <= 0 and 1 <= good["max"] < 1.5 and abs(good["mass_change"]) < 1e-5


def test_blow_up_names_the_first_bad_saved_state():
    frames = np.zeros((5, 4, 4), np.float32)
    frames[:, 0, 0] = 1.0
    assert stress.blow_up(frames, 2, "x") == (None, "")
    frames[3, 1, 1] = np.nan
    step, reason = stress.blow_up(frames, 2, "x")
    assert step == 6 and "NaN" in reason


def test_a_small_suite_reports_every_case_and_refusal(tmp_path):
    target = stress.load_target("vanleer-16")
    result = stress.stress_suite(
        target.steppers,
        target.grid,
        target.dt,
        flows=("deformation",),
        tracers=("smooth", "block"),
        n_steps=512,
        progress=False,
    )
    assert [(r["flow"], r["tracer"]) for r in result["cases"]] == [("deformation", "smooth"), ("deformation", "block")]
    for r in result["cases"]:
        assert r["blew_up_at"] is None and r["courant"] == pytest.approx(1, rel=1e-9)
        assert 0 <= r["mae"] < 0.2 and 0 <= r["ppm_mae"] < 0.2 and abs(r["mass_change"]) < 1e-5
        assert 0 < r["early_mae"] < 0.2 and 0 < r["ppm_early_mae"] < 0.2  # at step 256, half way
        assert r["early_mae"] != r["mae"]
    assert all(b["refused"] for b in result["beyond"])
    table = stress.format_table(result)
    assert "| vanleer-16 | deformation | block | 1.000 | " in table and "| MAE@256 | MAE@512 | PPM MAE@256 |" in table
    assert table.strip().endswith("2 cases, 0 blow-ups, 1 refusals beyond limits (of 1 checks)")
    paths = stress.write_outputs(tmp_path / "out", result)
    assert [p.name for p in paths] == list(stress.OUTPUTS)
    assert stress.to_csv(result).splitlines()[0].startswith("stepper,flow,tracer,courant,deformation,early_mae,mae,")


@pytest.mark.parametrize(
    "text, courant, deformation, bounded",
    [("ppm-k8-unbounded", 4, 0.9, False), ("ppm-k8", 4, None, True), ("vanleer-64-k4", 2, None, True)],
)
def test_classical_targets_are_spelled_as_in_cost(text, courant, deformation, bounded):
    target = stress.load_target(text)
    (step,) = target.steppers.values()
    assert step.max_courant == courant and step.max_deformation == deformation
    assert ("fct" in step.name) == bounded
    assert target.grid.shape == ((64, 64) if "-64-" in text else (32, 32)) and target.dt == 1.0


@pytest.mark.parametrize(
    "text, variants, message",
    [
        ("nonsense", None, "unknown target 'nonsense'"),
        ("ppm-k0", None, "step multiple k"),
        ("weno5z-k8", None, "large steps"),
        ("ppm-unbounded", None, "-unbounded names a large step"),
        ("ppm-k8", "fct", "--variants applies to learned models"),
        ("pretrained:turbulence-2d", "plain,sharp", r"unknown variant\(s\) 'sharp'"),
        ("pretrained:nothing", None, "no pretrained model 'nothing'"),
    ],
)
def test_bad_targets_are_refused_in_one_line(text, variants, message):
    with pytest.raises(UserError, match=message) as e:
        stress.load_target(text, variants)
    assert len(str(e.value).splitlines()) == 1


@settings(deadline=None, max_examples=50)
@given(st.text(max_size=40))
def test_any_target_text_loads_or_is_refused_in_one_line(text):
    try:
        target = stress.load_target(text)
    except UserError as e:
        assert str(e) and len(str(e).splitlines()) == 1
    else:
        assert target.steppers and target.dt > 0


@settings(deadline=None, max_examples=50)
@given(st.text(max_size=30))
def test_any_flow_list_parses_or_is_refused_in_one_line(text):
    try:
        names = parse_names(text, stress.FLOWS, "flow")
    except UserError as e:
        assert len(str(e).splitlines()) == 1
    else:
        assert names and set(names) <= set(stress.FLOWS)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"n_steps": 0}, "--steps must be"),
        ({"factor": 1}, "reference factor"),
        ({"courant_fraction": 1.5}, "--courant-fraction"),
        ({"flows": ["swirl"]}, "unknown flow 'swirl'"),
    ],
)
def test_bad_suite_options_are_refused_before_any_run(options, message):
    with pytest.raises(UserError, match=message):
        stress.stress_suite({"ppm": scheme("ppm")}, GRID, 1.0, progress=False, **options)
