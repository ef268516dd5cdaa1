"""``simulate --scheme weno5z``: the CLI offers every scheme of ``SCHEMES``, and a WENO5-Z run conserves mass."""

import numpy as np

from learned_advection.cli.simulate import SCHEME_CHOICES
from learned_advection.data import netcdf as io
from learned_advection.flows import velocity
from learned_advection.numerics import schemes
from learned_advection.numerics.grids import Grid


def test_simulate_offers_every_scheme():
    assert SCHEME_CHOICES == [*schemes.SCHEMES, "learned"]


def test_simulate_weno5z_2d(cli, tmp_path):
    grid = Grid((16, 16), (1.0, 1.0))
    vel = tuple(np.asarray(u) for u in velocity.random_sinusoidal(grid, seed=1))
    c0 = np.random.default_rng(1).uniform(0.0, 1.0, grid.shape)
    problem = io.write_problem(tmp_path / "in.nc", grid, c0, vel)
    out = tmp_path / "out.nc"
    code, stdout, err = cli(
        "simulate", problem, out, "--scheme", "weno5z", "--steps", 20, "--cfl", 0.5, "--save-every", 10, "--x64"
    )
    assert code == 0, err
    assert "weno5z" in stdout
    ds = io.read_simulation(out)
    assert ds.attrs["scheme"] == "weno5z" and ds["concentration"].shape == (3, 16, 16)
    c = ds["concentration"].values
    np.testing.assert_allclose(c.sum(axis=(1, 2)), c0.sum(), rtol=1e-13)
    assert np.abs(c[-1] - c0).max() > 1e-3  # it moved
