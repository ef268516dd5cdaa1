"""``limits="refuse"|"substep"`` (``--limits``): a run beyond its step's declared limits is refused with one
line, or each step is taken as the fewest equal sub-steps within them; a learned model takes no sub-steps."""

import jax
import numpy as np
import pytest
import xarray as xr

from learned_advection import transport as sim
from learned_advection.data.netcdf import Problem
from learned_advection.errors import UserError
from learned_advection.learned.config import ModelConfig
from learned_advection.learned.models import build_model
from learned_advection.numerics.grids import Grid
from learned_advection.numerics.rollout import Repeated
from learned_advection.numerics.schemes import PPM, WENO5Z, scheme

DT = 1.0
# 32 cells of 1, a block in [0, 1], a steady flow of 3.5 then 2.4 (1-D, compressive): at dt = 1, Courant
# number 3.5 and deformation number 1.1
CELLS = Problem(
    Grid((32,), (32.0,)),
    np.where((np.arange(32) >= 4) & (np.arange(32) < 12), 1.0, 0.0),
    (np.where(np.arange(32) < 16, 3.5, 2.4),),
)
ONE_D = Problem(Grid((8,), (8.0,)), np.linspace(0, 1, 8), (np.full(8, 1.0),))


def test_a_courant_number_beyond_the_scheme_is_refused_or_sub_stepped():
    with pytest.raises(UserError, match=r"^Courant number 6 > 4 with dt = 6 \(ppm supports at most 4\)"):
        sim.plan(ONE_D, 2, dt=6.0, scheme="ppm")
    assert sim.plan(ONE_D, 2, dt=6.0, scheme="ppm", limits="substep").substeps == 2
    assert sim.plan(ONE_D, 2, dt=4.0, scheme="ppm", limits="substep").substeps == 1  # at the limit
    assert sim.plan(ONE_D, 2, dt=1.4, scheme="weno5z", limits="substep").substeps == 2  # 0.7 each
    assert sim.plan(ONE_D, 2, dt=1.41, scheme="weno5z", limits="substep").substeps == 3
    run = sim.plan(ONE_D, 2, cfl=9, scheme="ppm", limits="substep")  # any --cfl under substep
    assert (run.courant, run.substeps, run.dt) == (9.0, 3, 9.0)
    with pytest.raises(UserError, match=r"^--cfl must be in \(0, 4\], got 9$"):
        sim.plan(ONE_D, 2, cfl=9, scheme="ppm")


def test_the_options_are_checked():
    with pytest.raises(UserError, match="^--limits must be one of refuse, substep, got 'always'$"):
        sim.plan(ONE_D, 2, dt=0.5, scheme="ppm", limits="always")
    with pytest.raises(
        UserError, match=r"^--limits substep: dt = 1e\+30 needs 2\.5e\+29 sub-steps per step, more than"
    ):
        sim.plan(ONE_D, 2, dt=1e30, scheme="ppm", limits="substep")


def test_a_deformation_beyond_the_unbounded_large_step_is_refused_with_nothing_written(tmp_path):
    unbounded = scheme("upwind", 3.5, bounded=False)
    run = sim.plan(CELLS, 4, dt=DT, scheme="ppm")
    for call in (
        lambda: sim.simulate(CELLS, unbounded, run),
        lambda: sim.simulate_to_file(CELLS, unbounded, run, tmp_path / "o.nc", scheme="ppm", progress=False),
        lambda: sim.plan(CELLS, 4, dt=DT, scheme="ppm", stepper=unbounded),
    ):
        with pytest.raises(UserError) as refused:
            call()
        assert str(refused.value) == (
            "deformation number 1.1 with dt = 1 > 0.9, the limit of upwind's large step (its departure regions "
            "fold): use a smaller --dt or --cfl, --limits substep, or the bounded step"
        )
    assert list(tmp_path.iterdir()) == []
    assert sim.limited_step(CELLS, scheme("ppm", 3.5), run)[0] == scheme("ppm", 3.5)  # bounded: no such limit


def test_substep_is_the_hand_made_repeated_run_bitwise(tmp_path):
    unbounded = scheme("upwind", 3.5, bounded=False)
    run = sim.plan(CELLS, 4, dt=DT, scheme="ppm", limits="substep")
    assert run.substeps == 1  # Courant 3.5: the scheme takes it; the step's deformation limit asks for 2
    done = sim.simulate(CELLS, unbounded, run)
    by_hand = sim.simulate(CELLS, Repeated(unbounded, 2), sim.plan(CELLS, 4, dt=DT, scheme="ppm"))
    assert done.plan.substeps == 2
    np.testing.assert_array_equal(done.states, by_hand.states)
    np.testing.assert_array_equal(done.times, DT * np.arange(5))  # saved times unchanged
    assert np.all(np.isfinite(done.states))
    summary = sim.simulate_to_file(CELLS, unbounded, run, tmp_path / "o.nc", scheme="ppm", progress=False)
    assert summary.substeps == 2
    with xr.open_dataset(tmp_path / "o.nc") as written:
        assert int(written.attrs["substeps"]) == 2
        np.testing.assert_array_equal(written["concentration"].values, done.states)


def test_a_planned_substep_of_the_scheme_is_taken():
    """Courant 7 for PPM: 2 sub-steps of its bounded large step at 3.5."""
    run = sim.plan(CELLS, 2, dt=2 * DT, scheme="ppm", limits="substep")
    assert (run.substeps, round(run.courant, 9)) == (2, 7.0)
    step = sim.get_stepper("ppm", CELLS, None, run.courant / run.substeps)
    assert sim.limited_step(CELLS, step, run) == (Repeated(scheme("ppm", 3.5), 2), run)
    weno = sim.plan(ONE_D, 2, dt=1.4, scheme="weno5z", limits="substep")
    assert sim.limited_step(ONE_D, WENO5Z, weno)[0] == Repeated(WENO5Z, 2)
    assert sim.limited_step(ONE_D, PPM, sim.plan(ONE_D, 2, dt=0.5, scheme="ppm", limits="substep"))[0] is PPM


def test_a_learned_model_takes_no_substeps():
    model = build_model(ModelConfig(ndim=1, layers=1, filters=2, stencil=(2,)), jax.random.PRNGKey(0))
    message = "^--limits substep applies to the classical schemes only: a learned model is trained at one dt"
    with pytest.raises(UserError, match=message):
        sim.plan(ONE_D, 2, dt=0.5, scheme="learned", limits="substep")
    with pytest.raises(UserError, match=message):
        sim.plan(ONE_D, 2, dt=0.5, scheme="learned", limits="substep", stepper=model)
    with pytest.raises(UserError, match=message):  # within its limits too: the run would not be what was asked
        sim.limited_step(ONE_D, model, sim.plan(ONE_D, 2, dt=0.5, scheme="ppm", limits="substep"))
    assert sim.is_learned(model) and not sim.is_learned(PPM)
    run = sim.plan(ONE_D, 2, dt=0.5, scheme="learned", stepper=model)
    assert sim.limited_step(ONE_D, model, run) == (model, run)
