"""A foreign, corrupt or oversized reference cache: one line naming the file, nothing generated."""

import numpy as np
import pytest
import xarray as xr

from learned_advection.data import turbulence as td
from learned_advection.data.turbulence import cache as td_cache
from learned_advection.errors import UserError

CONFIG = td.TurbulenceData()  # 32^2 concentration, 128^2 streamfunction


def _sample(path, steps=4, seed=7, c_n=32, psi_n=128, nan=False, drop=None):
    c = np.zeros((steps + 1, c_n, c_n), np.float32)
    if nan:
        c[1, 2, 3] = np.nan
    ds = xr.Dataset(
        {
            "concentration": (("time", "y", "x"), c),
            "psi": (("step", "y_corner", "x_corner"), np.zeros((steps, psi_n, psi_n), np.float32)),
        },
        attrs={"seed": seed},
    )
    if drop:
        ds = ds.drop_vars(drop)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(path, engine="h5netcdf")
    return path


def _cached(tmp_path, steps=4, seed=7):
    return td.sample_path(CONFIG, tmp_path, "test", seed, steps)


@pytest.mark.parametrize(
    "kind, words",
    [
        ("garbage", "as netCDF"),
        ("no psi", "no variable 'psi'"),
        ("other seed", "holds seed 8, not 7"),
        ("other grid", "its grids are 16^2 and 128^2, expected 32^2 and 128^2"),
        ("NaN", "NaN or Inf"),
    ],
)
def test_a_foreign_cached_file_is_named_in_one_line_and_kept(tmp_path, monkeypatch, kind, words):
    path = _cached(tmp_path)
    if kind == "garbage":
        path.parent.mkdir(parents=True)
        path.write_bytes(bytes(range(256)) * 4)
    else:
        _sample(
            path,
            seed=8 if kind == "other seed" else 7,
            c_n=16 if kind == "other grid" else 32,
            nan=kind == "NaN",
            drop="psi" if kind == "no psi" else None,
        )
    before = path.read_bytes()
    monkeypatch.setattr(td_cache, "generate_sample", lambda *a: pytest.fail("generated over a foreign file"))
    with pytest.raises(UserError) as info:
        td.ensure_samples(CONFIG, tmp_path, "test", [7], 4, progress=False)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and words in message and "delete it" in message
    assert path.read_bytes() == before  # not ours to delete


def test_a_longer_foreign_file_is_checked_too(tmp_path, monkeypatch):
    """A foreign `seed0007-steps99999.nc` is picked as a longer cached sample, and holds 2 steps."""
    _sample(td.sample_path(CONFIG, tmp_path, "test", 7, 99999), steps=2)
    monkeypatch.setattr(td_cache, "generate_sample", lambda *a: pytest.fail("generated over a foreign file"))
    with pytest.raises(
        UserError, match=r"seed0007-steps99999\.nc is not usable: it has 2 steps, fewer than the 4 needed"
    ):
        td.ensure_samples(CONFIG, tmp_path, "test", [7], 4, progress=False)


def test_samples_of_different_shapes_are_not_stacked(tmp_path):
    a = _sample(tmp_path / "a.nc", steps=4)
    b = _sample(tmp_path / "b.nc", steps=4, c_n=16, psi_n=64)
    with pytest.raises(UserError, match=r"b\.nc has shapes \(5, 16, 16\) and \(4, 64, 64\), unlike"):
        td.load_samples([a, b], 4)
    stacked = td.load_samples([a, a], 3)
    assert stacked["concentration"].shape == (2, 4, 32, 32) and stacked["psi"].shape == (2, 3, 128, 128)


def test_more_samples_than_fit_in_memory_are_refused_before_generating(tmp_path, monkeypatch):
    monkeypatch.setattr(td_cache, "available_memory", lambda: 2**30)
    monkeypatch.setattr(td_cache, "generate_sample", lambda *a: pytest.fail("generated data that cannot be loaded"))
    # 20 samples x 256 steps x (128^2 + 32^2) float32, twice: 0.7 GiB fit, 200 samples do not
    with pytest.raises(UserError, match=r"200 reference samples of 256 steps need 6\.6 GiB of memory, 1\.0 GiB"):
        td.ensure_samples(CONFIG, tmp_path, "test", list(range(200)), 256, progress=False)
    assert not any(tmp_path.iterdir())
