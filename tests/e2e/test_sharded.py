"""``simulate --shard`` on 4 forced host devices (a subprocess: XLA reads the device count only at start-up):
the same file as the one-device run, and a grid the 2 x 2 mesh does not divide refused in one line;
``bench --shard`` (its figures are measured, not asserted)."""

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


def test_a_grid_the_mesh_does_not_divide_is_refused_in_one_line(tmp_path):
    grid = Grid((30, 31), (1.0, 1.0))
    io.write_problem(tmp_path / "odd.nc", grid, _gauss(grid), (np.full(grid.shape, 0.5),) * 2)
    done = _on_four_devices(
        "simulate",
        tmp_path / "odd.nc",
        tmp_path / "out.nc",
        "--scheme",
        "vanleer",
        "--steps",
        2,
        "--dt",
        0.01,
        "--shard",
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: the 30x31 grid cannot be split over 4 devices as 2 (y) x 2 (x) blocks: 31 cells along x are not a "
        "multiple of 2; use a grid divisible by the mesh or fewer devices"
    ]
    assert not (tmp_path / "out.nc").exists()


def test_bench_shard_reports_time_per_step_and_the_difference(cli):
    code, out, err = cli("bench", "--shard", "--quick", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["n"] == 256 and [r["case"] for r in report["records"]] == [
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
