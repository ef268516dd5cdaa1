"""``simulate`` on regional domains read from netCDF (walls, open sides, emission sources; docs/netcdf.md):
what enters, leaves and is emitted is the tracer's, and the output's budget closes to round-off."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from learned_advection.data import netcdf as io


def _channel(path, n: int = 16, m: int = 8, inflow=1.0, **more) -> None:
    """A channel of ``m x n`` cells on [0, 1] x [0, 1]: uniform flow 1 along x, open sides in x (``inflow`` on
    the left, clean air on the right), walls in y; empty at first."""
    x, y = (np.arange(n) + 0.5) / n, (np.arange(m) + 0.5) / m
    ds = xr.Dataset(
        {
            "concentration": (("y", "x"), np.zeros((m, n))),
            "x_velocity": (("y", "x_face"), np.ones((m, n + 1))),
            "y_velocity": (("y_face", "x"), np.zeros((m + 1, n))),
            "concentration_x_low": ((), inflow),
            "concentration_x_high": ((), 0.0),
            **more,
        },
        coords={"x": x, "y": y, "x_face": np.arange(n + 1) / n},
        attrs={"x_boundary": "open", "y_boundary": "wall"},
    )
    ds.to_netcdf(path, engine="h5netcdf")


@pytest.mark.parametrize("scheme, cfl, x64", [("ppm", 0.5, False), ("ppm", 0.5, True), ("vanleer", 2.0, False)])
def test_a_channel_fills_with_its_inflow_and_its_budget_closes(cli, tmp_path, scheme, cfl, x64):
    """Inflow 1 on the left of an empty channel: after three transits the channel holds 1 everywhere, and
    the output's budget (mass_inflow - mass_outflow = mass_change) closes to 1e-6 of the mass moved in
    float32, 1e-12 in float64 (also on the bounded large step, Courant 2)."""
    _channel(tmp_path / "channel.nc")
    out = tmp_path / "out.nc"
    steps = round(3 * 16 / cfl)
    options = ["--scheme", scheme, "--cfl", str(cfl), "--steps", str(steps), "--save-every", str(steps // 3)]
    options += ["--x64"] if x64 else []
    code, summary, err = cli("simulate", tmp_path / "channel.nc", out, *options)
    assert code == 0, err
    ds = io.read_simulation(out)
    c = ds["concentration"].values
    assert np.abs(c[-1] - 1).max() < (1e-6 if x64 else 1e-5)
    attrs = ds["concentration"].attrs
    inflow, outflow, emitted, change = (float(attrs[f"mass_{k}"]) for k in ("inflow", "outflow", "emitted", "change"))
    np.testing.assert_allclose(change, c[-1].sum() / c[-1].size - 0.0, rtol=1e-6)  # the domain's area is 1
    assert emitted == 0 and inflow == pytest.approx(3.0, rel=1e-3) and outflow == pytest.approx(2.0, rel=2e-3)
    assert abs(change - (inflow - outflow)) <= (1e-12 if x64 else 1e-6) * inflow
    assert ds.attrs["x_boundary"] == "open" and ds.attrs["y_boundary"] == "wall" and ds.attrs["periodic"] == "false"
    assert "inflow 3" in summary and "residual" in summary and "outflow 2" in summary, summary


def test_a_source_in_a_closed_box_adds_exactly_its_mass(cli, tmp_path):
    """Walls all round, a rotating flow and a constant source of 2 in one cell: the mass grows by exactly
    rate x time x cell area, nothing crosses the walls, and the source's units reach the output."""
    n = 16
    x = (np.arange(n) + 0.5) / n
    xf = np.arange(n + 1) / n

    def psi(x, y):
        return np.sin(np.pi * x) * np.sin(np.pi * y) / np.pi

    u = (psi(xf[None, :], xf[1:, None]) - psi(xf[None, :], xf[:-1, None])) * n  # (y, x_face), zero on walls
    v = -(psi(xf[None, 1:], xf[:, None]) - psi(xf[None, :-1], xf[:, None])) * n  # (y_face, x)
    u[:, [0, -1]] = 0
    v[[0, -1]] = 0
    rate = np.zeros((n, n))
    rate[5, 3] = 2.0
    ds = xr.Dataset(
        {
            "concentration": (("y", "x"), np.exp(-((x[None] - 0.5) ** 2 + (x[:, None] - 0.5) ** 2) / 0.02)),
            "x_velocity": (("y", "x_face"), u),
            "y_velocity": (("y_face", "x"), v),
            "concentration_source": (("y", "x"), rate, {"units": "kg m-2 s-1"}),
        },
        coords={"x": x, "y": x},
        attrs={"x_boundary": "wall", "y_boundary": "wall"},
    )
    ds.to_netcdf(tmp_path / "box.nc", engine="h5netcdf")
    out = tmp_path / "out.nc"
    code, _, err = cli(
        "simulate", tmp_path / "box.nc", out, "--scheme", "vanleer", "--dt", "0.01", "--steps", "50", "--x64", "--quiet"
    )
    assert code == 0, err
    written = io.read_simulation(out)
    attrs = written["concentration"].attrs
    added = 2.0 * 0.5 / n**2  # rate x time x cell area
    assert float(attrs["mass_emitted"]) == pytest.approx(added, rel=1e-14)
    assert float(attrs["mass_inflow"]) == 0 and float(attrs["mass_outflow"]) == 0
    c = written["concentration"].values
    assert (c[-1].sum() - c[0].sum()) / n**2 == pytest.approx(added, rel=1e-10)
    assert float(attrs["mass_change"]) == pytest.approx(added, rel=1e-10)
    assert attrs["source_units"] == "kg m-2 s-1"


def test_boundary_values_at_their_own_times_enter_when_they_hold(cli, tmp_path):
    """1-D, flow 1, inflow ``g(t) = t`` given at its own (uneven) times: the solution is ``c = t - x``, a linear
    field every reconstruction keeps exactly, so after t = 1 the cells hold ``1 - x`` to round-off; values
    given at times that end before the run are refused."""
    n = 32
    x = (np.arange(n) + 0.5) / n
    times = np.array([-1.0, 0.25, 2.0])
    ds = xr.Dataset(
        {
            "concentration": ("x", -x),
            "x_velocity": ("x_face", np.ones(n + 1)),
            "concentration_x_low": ("boundary_time", times),  # g(t) = t, linear between the times given
            "concentration_x_high": ((), 0.0),
        },
        coords={"x": x, "boundary_time": times},
        attrs={"x_boundary": "open"},
    )
    ds.to_netcdf(tmp_path / "ramp.nc", engine="h5netcdf")
    out = tmp_path / "out.nc"
    code, _, err = cli(
        "simulate",
        tmp_path / "ramp.nc",
        out,
        "--scheme",
        "vanleer",
        "--cfl",
        "0.5",
        "--steps",
        "64",
        "--x64",
        "--quiet",
    )
    assert code == 0, err
    c = io.read_simulation(out)["concentration"].values
    np.testing.assert_allclose(c[-1], 1 - x, atol=1e-12)
    code, _, err = cli(
        "simulate", tmp_path / "ramp.nc", tmp_path / "o2.nc", "--scheme", "vanleer", "--cfl", "0.5", "--steps", "160"
    )
    assert code == 2 and "the boundary values are given from boundary_time -1 to 2" in err, err
    assert not (tmp_path / "o2.nc").exists()


def test_several_tracers_each_get_their_own_boundary_values_and_budget(cli, tmp_path):
    """A ``(tracer, y, x)`` variable with per-tracer profiles at the inflow (one of 1e-20: the tracers are
    scaled by powers of two each, and so are their boundary values) next to a tracer of its own: each fills
    with its own value, and the budget attributes hold one number per tracer."""
    n, m = 16, 4
    y = (np.arange(m) + 0.5) / m
    profile = np.stack([np.ones(m), 1e-20 * (1 + y)])
    _channel(
        tmp_path / "two.nc",
        n=n,
        m=m,
        dust=(("tracer", "y", "x"), np.zeros((2, m, n))),
        dust_x_low=(("tracer", "y"), profile),
        dust_x_high=(("tracer",), [0.0, 0.0]),
    )
    out = tmp_path / "out.nc"
    code, _, err = cli(
        "simulate",
        tmp_path / "two.nc",
        out,
        "--scheme",
        "weno5z",
        "--cfl",
        "0.5",
        "--steps",
        "96",
        "--save-every",
        "96",
        "--quiet",
    )
    assert code == 0, err
    ds = io.read_simulation(out)
    dust = ds["dust"].values[-1]
    np.testing.assert_allclose(dust, np.broadcast_to(profile[:, :, None], dust.shape), rtol=2e-5)
    attrs = ds["dust"].attrs
    assert np.shape(attrs["mass_inflow"]) == (2,)
    for i in range(2):
        moved = float(attrs["mass_inflow"][i])
        assert abs(float(attrs["mass_change"][i]) - (moved - float(attrs["mass_outflow"][i]))) <= 1e-6 * moved
    assert float(attrs["mass_inflow"][1]) == pytest.approx(3 * 1e-20 * 1.5, rel=1e-3)


def test_a_periodic_output_has_no_budget(cli, tmp_path):
    """A periodic problem runs as before: no boundary or budget attributes."""
    x = (np.arange(16) + 0.5) / 16
    xr.Dataset(
        {"concentration": ("x", np.sin(2 * np.pi * x)), "x_velocity": ("x", np.ones(16))}, coords={"x": x}
    ).to_netcdf(tmp_path / "p.nc", engine="h5netcdf")
    code, _, err = cli(
        "simulate", tmp_path / "p.nc", tmp_path / "o.nc", "--scheme", "ppm", "--cfl", "0.5", "--steps", "4", "--quiet"
    )
    assert code == 0, err
    ds = io.read_simulation(tmp_path / "o.nc")
    assert ds.attrs["periodic"] == "true" and "x_boundary" not in ds.attrs
    assert not any(k.startswith("mass_") for k in ds["concentration"].attrs)


def test_a_shipped_learned_model_fills_a_channel_with_its_inflow(cli, tmp_path):
    """The default learned model (the paper's, in FCT) at its grid and time step on a 32² channel of [0, 2π]²
    with a sheared jet and a block: it stays within the block and inflow values and fills with the inflow."""
    n, length = 32, 2 * np.pi
    x = (np.arange(n) + 0.5) * length / n
    c0 = np.zeros((n, n))
    c0[10:20, 4:12] = 1.0
    xr.Dataset(
        {
            "concentration": (("y", "x"), c0),
            "x_velocity": (("y", "x_face"), np.ones((n, n + 1)) * (1.5 + 0.5 * np.sin(x))[:, None]),
            "y_velocity": (("y_face", "x"), np.zeros((n + 1, n))),
            "concentration_x_low": ((), 0.5),
            "concentration_x_high": ((), 0.0),
        },
        coords={"x": x, "y": x},
        attrs={"x_boundary": "open", "y_boundary": "wall"},
    ).to_netcdf(tmp_path / "channel.nc", engine="h5netcdf")
    out = tmp_path / "out.nc"
    code, summary, err = cli(
        "simulate",
        tmp_path / "channel.nc",
        out,
        "--scheme",
        "learned",
        "--model",
        "pretrained",
        "--steps",
        "400",
        "--dt",
        "0.024",
        "--quiet",
    )
    assert code == 0, err
    ds = io.read_simulation(out)
    c = ds["concentration"].values
    assert c.min() >= 0.0 and c.max() <= 1.0
    assert np.abs(c[-1] - 0.5).max() < 1e-5  # 4 transits of the slowest row
    attrs = ds["concentration"].attrs
    inflow, outflow, change = (float(attrs[f"mass_{k}"]) for k in ("inflow", "outflow", "change"))
    assert abs(change - (inflow - outflow)) <= 1e-6 * inflow


def test_shard_runs_a_regional_problem_as_one_device_does(cli, tmp_path):
    _channel(tmp_path / "channel.nc")
    options = ["--scheme", "ppm", "--cfl", "0.5", "--steps", "40", "--quiet"]
    code, _, err = cli("simulate", tmp_path / "channel.nc", tmp_path / "one.nc", *options)
    assert code == 0, err
    code, _, err = cli("simulate", tmp_path / "channel.nc", tmp_path / "split.nc", *options, "--shard")
    assert code == 0, err
    one, split = (io.read_simulation(tmp_path / f) for f in ("one.nc", "split.nc"))
    np.testing.assert_allclose(split["concentration"].values, one["concentration"].values, rtol=0, atol=1e-6)
