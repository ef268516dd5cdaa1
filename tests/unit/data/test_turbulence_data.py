"""Turbulence reference data: the per-seed netCDF cache."""


def test_a_longer_cached_sample_is_reused_and_agrees_with_a_shorter_one(tmp_path, monkeypatch):
    """A request for n steps reuses a cached sample of more steps (its first n steps, no regeneration),
    and those are the same numbers a fresh n-step sample would have (the reference is causal)."""
    import numpy as np

    from learned_advection.data import turbulence as td
    from learned_advection.data.turbulence import cache as td_cache
    from learned_advection.flows.turbulence import TurbulenceConfig

    config = td.TurbulenceData(
        fine_n=32, coarse_n=16, store_n=32, coarse_dt=0.048, flow=TurbulenceConfig(n=32, spinup=0.5)
    )
    (long_path,) = td.ensure_samples(config, tmp_path / "a", "test", [3], 6, progress=False)
    assert long_path.name.endswith("steps6.nc")
    (short_fresh,) = td.ensure_samples(config, tmp_path / "b", "test", [3], 4, progress=False)

    def no_generation(*args, **kwargs):
        raise AssertionError("a cached longer sample should have been reused")

    monkeypatch.setattr(td_cache, "generate_sample", no_generation)
    (reused,) = td.ensure_samples(config, tmp_path / "a", "test", [3], 4, progress=False)
    assert reused == long_path
    got, want = td.load_samples([reused], 4), td.load_samples([short_fresh])
    assert got["concentration"].shape == want["concentration"].shape == (1, 5, 16, 16)
    np.testing.assert_array_equal(got["psi"], want["psi"])
    np.testing.assert_allclose(got["concentration"], want["concentration"], rtol=0, atol=1e-6)
    # a cached sample shorter than the request is not used
    monkeypatch.undo()
    (longer,) = td.ensure_samples(config, tmp_path / "b", "test", [3], 5, progress=False)
    assert longer.name.endswith("steps5.nc") and longer.exists()
