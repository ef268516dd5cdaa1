"""``simulate --shard`` on 4 forced host devices (a subprocess: XLA reads the device count only at start-up):
the same file as the one-device run, and a grid or a halo the 2 x 2 mesh cannot take run on the largest mesh
that fits, with a one-line note; ``bench --shard`` (its figures are measured, not asserted) on any number of
devices and over a batch of tracers; ``--dt``'s help against the schemes' Courant limits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from learned_advection.data import netcdf as io
from learned_advection.flows.velocity import random_sinusoidal
from learned_advection.numerics.grids import Grid

ROOT = Path(__file__).resolve().parents[2]


def _on_four_devices(*args) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip(),
    }
    return subprocess.run(
        [sys.executable, "-m", "learned_advection", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )


def _gauss(grid):
    return np.exp(-40.0 * sum((m - 0.5 * l) ** 2 for m, l in zip(grid.mesh(), grid.length)))


@pytest.mark.parametrize("scheme", ["vanleer", "learned"])
def test_sharded_simulate_writes_the_one_device_trajectory(cli, tmp_path, scheme):
    """Two tracers in winds interpolated in time: Van Leer by halo exchange; the shipped learned model (32^2) by
    SPMD placement (its reach is not known)."""
    grid = Grid.square(32, 2 * np.pi if scheme == "learned" else 1.0)
    dt = 0.024 if scheme == "learned" else 0.01  # the shipped model's own time step
    frames = [tuple(np.asarray(v, np.float64) for v in random_sinusoidal(grid, seed)) for seed in range(3)]
    winds = tuple(np.stack([f[a] for f in frames]) for a in range(2))
    dust = np.random.default_rng(1).uniform(0.0, 2.0, grid.shape)
    io.write_problem(
        tmp_path / "in.nc",
        grid,
        {"concentration": _gauss(grid), "dust": dust},
        winds,
        velocity_times=[0.0, 5 * dt, 10 * dt],
    )
    args = ["--scheme", scheme, "--steps", 8, "--dt", dt, "--save-every", 4, "--quiet"]
    args += ["--model", "pretrained"] if scheme == "learned" else []
    code, _, err = cli("simulate", tmp_path / "in.nc", tmp_path / "one.nc", *args)
    assert code == 0, err
    done = _on_four_devices("simulate", tmp_path / "in.nc", tmp_path / "four.nc", *args, "--shard")
    assert done.returncode == 0, done.stderr[-3000:]
    one, four = io.read_simulation(tmp_path / "one.nc"), io.read_simulation(tmp_path / "four.nc")
    for name in ("concentration", "dust"):
        a, b = one[name].values, four[name].values
        assert a.shape == b.shape == (3, 32, 32)
        # a few float32 ulp of the largest value: the sharded program may fuse (and so round) differently
        np.testing.assert_allclose(b, a, rtol=0, atol=4 * np.finfo(np.float32).eps * np.max(np.abs(a)))
        assert not np.array_equal(a[0], a[-1])  # it moved


FALLBACKS = {
    "indivisible": (
        (30, 31),
        ["--scheme", "vanleer", "--dt", 0.01],
        "--shard: the 30x31 grid cannot be split over 4 devices as 2 (y) x 2 (x): 31 cells along x do not split "
        "into 2 equal blocks; running on 3 devices as 3 (y) x 1 (x)",
    ),
    "halo": (
        (32, 32),
        ["--scheme", "ppm", "--cfl", 3.5],
        "--shard: over 4 devices as 2 (y) x 2 (x), blocks of 16x16 cells are narrower than the 21-cell halo of "
        "ppm at Courant 3.5; running on 1 device",
    ),
}


@pytest.mark.parametrize("case", FALLBACKS)
def test_a_mesh_the_grid_cannot_use_falls_back_with_a_one_line_note(cli, tmp_path, case):
    """A grid the 2 x 2 mesh does not divide, or blocks narrower than the large step's halo: the largest mesh
    that fits (fewer devices, one axis, or one device), said on stderr even under --quiet, and the one-device
    result."""
    shape, args, note = FALLBACKS[case]
    grid = Grid(shape, (1.0, 1.0))
    io.write_problem(tmp_path / "in.nc", grid, _gauss(grid), (np.full(shape, 0.5), np.full(shape, -0.3)))
    args = [*args, "--steps", 4, "--quiet"]
    code, _, err = cli("simulate", tmp_path / "in.nc", tmp_path / "one.nc", *args)
    assert code == 0, err
    done = _on_four_devices("simulate", tmp_path / "in.nc", tmp_path / "four.nc", *args, "--shard")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.strip().splitlines() == [note]
    a = io.read_simulation(tmp_path / "one.nc")["concentration"].values
    b = io.read_simulation(tmp_path / "four.nc")["concentration"].values
    np.testing.assert_allclose(b, a, rtol=0, atol=4 * np.finfo(np.float32).eps * np.max(np.abs(a)))
    assert not np.array_equal(a[0], a[-1])


def test_shard_on_one_device_runs_unsharded_and_says_so_unless_quiet(cli, tmp_path):
    """One device (this process): the large step's 21-cell halo on a 16^2 grid is no reason to refuse; the
    note that there is only one device is left out under --quiet (the run is then all that was asked)."""
    import jax

    if len(jax.devices()) != 1:
        pytest.skip("this process has several devices")
    grid = Grid.square(16, 1.0)
    io.write_problem(tmp_path / "in.nc", grid, _gauss(grid), (np.full(grid.shape, 0.5),) * 2)
    args = ["--scheme", "ppm", "--cfl", 3.5, "--steps", 4, "--quiet"]
    code, _, err = cli("simulate", tmp_path / "in.nc", tmp_path / "one.nc", *args)
    assert code == 0 and err == "", err
    code, _, err = cli("simulate", tmp_path / "in.nc", tmp_path / "shard.nc", *args, "--shard")
    assert code == 0 and err == "", err
    np.testing.assert_array_equal(
        io.read_simulation(tmp_path / "shard.nc")["concentration"].values,
        io.read_simulation(tmp_path / "one.nc")["concentration"].values,
    )
    code, out, err = cli(
        "simulate",
        tmp_path / "in.nc",
        tmp_path / "loud.nc",
        "--scheme",
        "upwind",
        "--steps",
        2,
        "--dt",
        0.01,
        "--shard",
    )
    assert code == 0 and "wrote" in out, err
    note = f"--shard: JAX has only 1 device ({jax.devices()[0].platform}); running unsharded"
    assert err.splitlines()[0] == note  # the progress bar follows


def test_bench_shard_reports_time_per_step_and_the_difference(cli):
    code, out, err = cli("bench", "--shard", "--quick", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["n"] == report["n_wanted"] == 256 and [r["case"] for r in report["records"]] == [
        "one device",
        "halo exchange",
        "SPMD placement",
    ]
    for r in report["records"]:
        assert r["ms_per_step"] > 0 and r["max_abs_diff"] <= 4 * np.finfo(np.float32).eps * report["max_abs_state"]


def test_bench_cpu_devices_after_jax_started_is_refused_in_one_line(cli):
    import jax

    jax.devices()  # JAX has started in this process
    code, _, err = cli("bench", "--shard", "--cpu-devices", 4)
    assert code == 2 and err.strip().splitlines() == [
        "error: the number of CPU devices can only be set before JAX starts"
    ]


def test_bench_shard_on_three_devices_picks_a_grid_they_divide_and_runs_a_batch_of_tracers():
    """3 devices do not divide 256^2: the nearest grid that they do (255^2), said on stderr; --tracers 2 is the
    sharded run over a batch of two tracers."""
    done = subprocess.run(
        [sys.executable, "-m", "learned_advection", "bench", "--shard", "--quick", "--json"]
        + ["--cpu-devices", "3", "--tracers", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.strip().splitlines() == [
        "bench --shard: 255^2 cells instead of 256^2, so that the mesh 3 (y) x 1 (x) divides the grid"
    ]
    report = json.loads(done.stdout)
    assert (report["n"], report["n_wanted"], report["tracers"]) == (255, 256, 2)
    assert report["mesh"] == {"y": 3, "x": 1} and report["mesh_note"] is None
    assert [r["devices"] for r in report["records"]] == [1, 3, 3]
    for r in report["records"]:
        assert r["max_abs_diff"] <= 4 * np.finfo(np.float32).eps * report["max_abs_state"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--cpu-devices", 1024],
            "error: learned-advection bench: Invalid value for '--cpu-devices': 1024 is not in the range 1<=x<=64. "
            "(see 'learned-advection bench --help')",
        ),
        (["--tracers", 17], "error: --tracers with --shard must be from 1 to 16, got 17"),
        (["--tracers", 0], "error: --tracers with --shard must be from 1 to 16, got 0"),
    ],
    ids=["devices", "tracers", "no-tracers"],
)
def test_bench_shard_refuses_too_many_devices_or_tracers_in_one_line(cli, args, message):
    """Checked before any device starts: JAX has already started in this process, so the bound on the device
    count is checked before it is set."""
    import jax

    jax.devices()
    code, out, err = cli("bench", "--shard", "--quick", *args)
    assert (code, out, err.strip().splitlines()) == (2, "", [message])


def test_simulate_help_gives_each_scheme_its_courant_limit(cli):
    """``--dt``'s help names the limits that ``simulate`` applies (it is written out: --help imports no JAX)."""
    from learned_advection.cli.simulate import SCHEME_CHOICES
    from learned_advection.transport.schemes import supported_courant

    code, out, _ = cli("simulate", "--help")
    assert code == 0
    text = " ".join(out.split())
    classical = [s for s in SCHEME_CHOICES if s != "learned"]
    limits: dict[float, list[str]] = {}
    for scheme in classical:
        limits.setdefault(supported_courant(scheme), []).append(scheme)
    for limit, names in limits.items():
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        assert f"{limit:g} for {listed}" in text, (limit, listed)
    assert "a learned model's own max_courant" in text and "<= 1" not in text
