"""The deformation limit of the large step: the measured table's flows and numbers, and its two findings on
one flow (the unbounded large step leaves the range above D = 1, the bounded one does not)."""

import numpy as np

from learned_advection.evaluation.deformation_limit import cellular_flow, deformation_table
from learned_advection.numerics.grids import Grid, deformation_number, max_courant


def test_the_cellular_flows_have_the_courant_number_asked_for_and_their_deformation_number():
    grid = Grid.square(32, 2 * np.pi)
    v, u = cellular_flow(2, 3.0, 0.5, grid)
    assert np.isclose(max_courant((v, u), 0.5, grid.spacing), 3.0, rtol=1e-12, atol=0)
    div = (u - np.roll(u, 1, axis=1)) / grid.spacing[1] + (v - np.roll(v, 1, axis=0)) / grid.spacing[0]
    # divergence-free to float32 round-off (the faces come from the streamfunction in float32)
    assert np.abs(div).max() < 4 * np.finfo(np.float32).eps * np.abs(u).max() / grid.spacing[0]
    # along x: max |u[i] - u[i-1]| dt / dx, by hand
    expected = np.abs(np.diff(u, axis=1, prepend=u[:, -1:])).max() * 0.5 / grid.spacing[1]
    assert np.isclose(deformation_number((v, u), 0.5, grid.spacing), expected, rtol=1e-12, atol=0)
    assert deformation_number((np.full(8, 3.0),), 1.0, (0.1,)) == 0.0


def test_above_deformation_one_the_unbounded_large_step_leaves_the_range_and_the_bounded_one_does_not():
    rows = {r["stepper"]: r for r in deformation_table(wavenumbers=(2,), courants=(4.0,), steps=200)}
    unbounded, bounded = rows["ppm large step, unbounded"], rows["ppm large step, bounded"]
    assert unbounded["deformation"] > 1.5
    assert unbounded["min"] < -1 and unbounded["max"] > 2
    assert bounded["min"] >= 0 and bounded["max"] <= 1
