"""The boundary-band measurement: its problem is consistent across resolutions, its regions partition the grid."""

from __future__ import annotations

import numpy as np
import pytest

from learned_advection.evaluation import boundary_band as bb
from learned_advection.numerics.boundaries import check_velocity


def test_the_regions_partition_the_grid_and_the_bands_touch_their_sides():
    masks = bb.region_masks(12, 3)
    total = sum(m.astype(int) for m in masks.values())
    np.testing.assert_array_equal(total, 1)
    assert masks["inflow"][:, :3].all() and not masks["inflow"][:, 3:].any()
    assert masks["outflow"][:, -3:].all() and not masks["outflow"][:, :-3].any()
    assert masks["walls"][0, 3:-3].all() and masks["walls"][-1, 3:-3].all() and not masks["walls"][3:-3].any()
    assert masks["interior"].sum() == 6 * 6


@pytest.mark.parametrize("seed", [0, 5])
def test_the_flow_is_divergence_free_closed_on_the_walls_and_the_fine_flow_coarse_grained(seed):
    v, u = bb.face_velocity(bb.N, seed)
    h = bb.LENGTH / bb.N
    divergence = (u[:, 1:] - u[:, :-1]) / h + (v[1:, :] - v[:-1, :]) / h
    assert np.abs(divergence).max() <= 1e-12 * bb.MAX_SPEED / h
    assert np.abs(v[[0, -1]]).max() == 0.0
    bounds, c0, velocity = bb.problem(bb.N, seed)
    check_velocity(bounds, c0.shape, velocity)  # the shapes of a channel, zero on the walls
    assert 0.9 * bb.MAX_SPEED <= max(np.abs(u).max(), np.abs(v).max()) <= bb.MAX_SPEED * (1 + 1e-9)
    # the coarse x faces carry the mean of the fine ones along them
    vf, uf = bb.face_velocity(bb.FACTOR * bb.N, seed)
    np.testing.assert_allclose(uf[:, :: bb.FACTOR].reshape(bb.N, bb.FACTOR, bb.N + 1).mean(axis=1), u, atol=1e-9)


def test_the_coarse_inflow_and_initial_field_are_the_fine_ones_block_means():
    times, fine = bb.inflow_values(bb.FACTOR * bb.N, 1)
    _, coarse = bb.inflow_values(bb.N, 1)
    np.testing.assert_allclose(fine.reshape(len(times), bb.N, bb.FACTOR).mean(axis=2), coarse, atol=1e-12)
    c_fine, c_coarse = bb.initial_tracer(bb.FACTOR * bb.N, 1), bb.initial_tracer(bb.N, 1)
    block = c_fine.reshape(bb.N, bb.FACTOR, bb.N, bb.FACTOR).mean(axis=(1, 3))
    np.testing.assert_allclose(block, c_coarse, atol=1e-12)
    assert 0.0 <= c_coarse.min() and c_coarse.max() <= 1.0 and 0.0 <= coarse.min() and coarse.max() <= 1.0


def test_band_errors_are_the_mean_absolute_error_per_region():
    truth = np.zeros((3, 12, 12))
    solution = truth.copy()
    solution[1:, :, 0] = 1.0  # an error in the inflow column only, at every saved time after the first
    solution[0] = 5.0  # the initial state is left out
    errors = bb.band_errors(solution, truth)
    assert errors["inflow"] == pytest.approx(1.0 / bb.BAND)
    assert errors["outflow"] == errors["walls"] == errors["interior"] == 0.0


def test_an_unknown_method_is_refused_in_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        bb.main(["--methods", "ppm,magic"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "unknown method(s) magic" in err[-1]


def test_the_table_of_one_classical_scheme_on_one_flow(capsys):
    bb.main(["--methods", "upwind,ppm", "--seeds", "1"])
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[2:4]}
    upwind, ppm = (float(rows[m][5]) for m in ("upwind", "ppm"))  # interior MAE
    assert 0 < ppm < upwind  # third order beats first order in the interior
