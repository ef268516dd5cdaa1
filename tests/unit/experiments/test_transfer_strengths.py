"""``transfer``: the flows scaled to a model's declared limits, the baselines' names, and the report's labels."""

from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learned_advection.experiments import transfer
from learned_advection.experiments import turbulence_2d as t
from learned_advection.numerics import schemes
from learned_advection.numerics.limiters import FCT
from learned_advection.numerics.time_stepping import FFSL

GRID = t.grid(t.PRESETS["cpu"])
DT = t.PRESETS["cpu"].data.coarse_dt
DURATION = 256 * DT


@settings(max_examples=25, deadline=None)
@given(
    flow=st.sampled_from(transfer.FLOWS),
    most=st.integers(1, 4),
    limit=st.none() | st.floats(0.05, 2.0),
    k=st.sampled_from([1, 2, 4, 8]),
)
def test_a_flow_at_the_declared_limits_reaches_one_and_passes_none(flow, most, limit, k):
    """The Courant number is max_courant (to 1e-6 relative: float32 velocities; never above) unless the
    deformation limit is met first; then the deformation number is DEFORMATION_MARGIN of it."""
    model = SimpleNamespace(max_courant=most, max_deformation=limit)
    speed = transfer.declared_speed(flow, model, GRID, k * DT, DURATION)
    courant, deformation = transfer.flow_numbers(transfer.velocity(flow, GRID, DURATION, speed), GRID, k * DT)
    assert courant <= most
    if limit is not None:
        assert deformation <= limit
    capped = limit is not None and deformation >= transfer.DEFORMATION_MARGIN * limit * (1 - 1e-5)
    assert capped or most - courant <= 1e-6 * most


def test_the_default_strength_is_inside_the_shipped_limits_and_the_hybrid_limit_is_courant_four():
    hybrid = SimpleNamespace(max_courant=4, max_deformation=0.9)
    for flow in transfer.FLOWS:
        courant, deformation = transfer.flow_numbers(transfer.velocity(flow, GRID, DURATION), GRID, 8 * DT)
        assert 1.9 < courant < 2 and deformation < 0.9
        speed = transfer.declared_speed(flow, hybrid, GRID, 8 * DT, DURATION)
        assert speed == pytest.approx(transfer.MAX_SPEED * 4 / courant, rel=1e-5)  # the deformation cap does not bind


def test_classical_steps_are_bounded_or_unbounded_only_above_courant_one():
    vel = transfer.velocity("cells", GRID, DURATION)
    bounded, courant = transfer.classical_step("ppm", vel, GRID, 8 * DT)
    unbounded, same = transfer.classical_step("ppm", vel, GRID, 8 * DT, bounded=False)
    assert courant == same and 1 < courant < 2
    assert isinstance(bounded, FCT) and isinstance(bounded.stepper, FFSL) and bounded.max_courant == 2
    assert isinstance(unbounded, FFSL) and unbounded.max_courant == 2 and unbounded.max_deformation == 0.9
    for flag in (True, False):  # at Courant number <= 1 (up to round-off) the scheme's own step either way
        assert transfer.classical_step("ppm", vel, GRID, DT, bounded=flag)[0] is schemes.PPM
    exactly_one = transfer.velocity("cells", GRID, DURATION, transfer.MAX_SPEED / courant * 2)
    assert transfer.classical_step("ppm", exactly_one, GRID, 4 * DT, bounded=False)[0].max_courant <= 2


def test_baselines_are_named_as_on_the_accuracy_cost_plane():
    assert transfer.baseline_label("ppm", 32, 8) == "ppm-32-k8"
    assert transfer.baseline_label("ppm", 32, 8, bounded=False) == "ppm-32-k8-unbounded"
    assert transfer.baseline_label("vanleer", 64) == "vanleer-64"
    assert transfer.base_scheme(SimpleNamespace(config=SimpleNamespace(base_scheme="vanleer"))) == "vanleer"
    assert transfer.base_scheme(SimpleNamespace(config=SimpleNamespace(base_scheme="none"))) == "ppm"
    assert transfer.base_scheme(schemes.PPM) == "ppm"


def test_the_reference_takes_more_sub_steps_only_in_faster_flows():
    assert transfer.reference_substeps("cells", GRID, DT, DURATION, transfer.MAX_SPEED) == transfer.FACTOR
    fast = transfer.reference_substeps("cells", GRID, DT, DURATION, 4 * transfer.MAX_SPEED)
    fine = GRID.refine(transfer.FACTOR)
    vel = transfer.velocity("cells", fine, DURATION, 4 * transfer.MAX_SPEED)
    assert fast > transfer.FACTOR and fast % transfer.FACTOR == 0
    assert transfer.flow_numbers(vel, fine, DT / fast)[0] <= transfer.REFERENCE_COURANT


def _record(mae, k=8, courant=1.94, **extra):
    return {"mae": mae, "k": k, "courant": courant, "deformation": 0.4, "finite": True, "min": 0.0, "max": 1.0, **extra}


def _case(model_mae, bounded_mae):
    model = _record(model_mae, max_courant=4, max_deformation=0.9, base="ppm")
    return {
        "learned-32 hybrid": model,
        "vanleer-32-k8": _record(0.04, large_step=True, fct=True),
        "vanleer-32-k8-unbounded": _record(0.05, large_step=True, fct=False),
        "ppm-32": _record(0.02, k=1, courant=0.24, large_step=False, fct=False),
        "ppm-32-k8": _record(bounded_mae, large_step=True, fct=True),
        "ppm-32-k8-unbounded": _record(0.04, large_step=True, fct=False),
    }


def test_the_report_names_each_ratio_s_baseline_and_its_step():
    result = {
        "steps": 8,
        "reference": "ppm at 256^2",
        "max_speed": 2.0,
        "cases": {"cells/bell": _case(0.02, 0.04), "cells/block": _case(0.03, 0.02)},
        "limits": [],
    }
    text = transfer.report(result)
    assert "| learned-32 hybrid | ppm-32-k8 | large step in FCT: bounded | 0.50 | 1.50 |" in text
    assert "| learned-32 hybrid | ppm-32-k8-unbounded | large step without FCT: unbounded | 0.50 | 0.75 |" in text
    assert "| learned-32 hybrid | vanleer-32-k8 | large step in FCT: bounded | 0.50 | 0.75 |" in text
    assert "| ppm-32 | 1 | 0.24 | own step | 0.0200 | 0.0200 |" in text
    assert "`ppm-32-k8` (large step in FCT: bounded) 0.50–1.50×, better in 1 of 2" in text
    assert "`ppm-32-k8-unbounded` (large step without FCT: unbounded) 0.50–0.75×, better in 2 of 2" in text
    # a model that blows up has no ratio there, and the summary counts it
    result["cases"]["cells/spike"] = _case(3.0e9, 0.04)
    result["cases"]["cells/spike"]["learned-32 hybrid"].update(min=-2.0e9, max=2.5e9)
    text = transfer.report(result)
    assert "| learned-32 hybrid | 8 | 1.94 | learned | 0.0200 | 0.0300 | 3e+09 (blew up) |" in text
    assert "| learned-32 hybrid | ppm-32-k8 | large step in FCT: bounded | 0.50 | 1.50 | blew up |" in text
    assert "| learned-32 hybrid | 0.000 / 1.000 | 0.000 / 1.000 | -2e+09 / 2.5e+09 |" in text
    assert "blew up in 1 of 3; `ppm-32-k8` (large step in FCT: bounded) 0.50–1.50×, better in 1 of 2" in text
    del result["cases"]["cells/spike"]
    # a baseline missing from a case shows as a dash
    del result["cases"]["cells/block"]["ppm-32-k8-unbounded"]
    assert "| learned-32 hybrid | ppm-32-k8-unbounded | large step without FCT: unbounded | 0.50 | – |" in (
        transfer.report(result)
    )


def test_a_result_written_before_the_strengths_still_gives_a_report():
    old = {"mae": 0.01, "k": 1, "courant": 0.243, "finite": True, "min": 0.0, "max": 1.0}
    result = {
        "steps": 256,
        "reference": "ppm at 256^2",
        "max_speed": 2.0,
        "cases": {"cells/bell": {"learned-32 4x32": old, "vanleer-32": {**old, "mae": 0.02}, "ppm-32": old}},
    }
    text = transfer.report(result)
    assert "| learned-32 4x32 | vanleer-32 |  | 0.50 |" in text and "| learned-32 4x32 | ppm-32 |  | 1.00 |" in text
