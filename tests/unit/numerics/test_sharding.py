"""Grids split over devices (numerics/sharding.py): layouts, refusals, the reach every halo exchange relies on,
and (in a subprocess with 4 forced host devices) sharded runs equal to the one-device run."""

import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.sharding import AbstractMesh

from learned_advection.errors import UserError
from learned_advection.flows.velocity import max_speed, random_sinusoidal
from learned_advection.learned.config import ModelConfig
from learned_advection.learned.models import build_model
from learned_advection.numerics import schemes, sharding
from learned_advection.numerics.grids import Grid, dt_from_cfl
from learned_advection.numerics.limiters import FCT
from learned_advection.numerics.rollout import Repeated, rollout
from learned_advection.numerics.symmetry import D4Average
from learned_advection.numerics.time_stepping import SSPRK3

N = 24  # cells per axis of the periodic grid the windows are cut from


def test_mesh_shape_is_the_squarest_layout():
    assert sharding.mesh_shape(1) == (1, 1)
    assert sharding.mesh_shape(2) == (2, 1)
    assert sharding.mesh_shape(4) == (2, 2)
    assert sharding.mesh_shape(6) == (3, 2)
    assert sharding.mesh_shape(8) == (4, 2)
    assert sharding.mesh_shape(7) == (7, 1)
    assert sharding.mesh_shape(8, ndim=1) == (8,)
    for n in range(1, 33):
        ny, nx = sharding.mesh_shape(n)
        assert ny * nx == n and nx <= ny


def test_indivisible_grid_and_too_narrow_blocks_are_refused_in_one_line():
    mesh = AbstractMesh((2, 2), ("y", "x"))
    sharding.check_blocks((32, 64), mesh)  # divisible: accepted
    with pytest.raises(UserError, match=r"31x32 grid cannot be split over 4 devices as 2 \(y\) x 2 \(x\)") as e:
        sharding.check_blocks((31, 32), mesh)
    assert "\n" not in str(e.value)
    with pytest.raises(UserError, match="blocks of 2 cells along y, fewer than the 3 halo cells"):
        sharding.check_blocks((4, 8), mesh, halo=3)
    with pytest.raises(UserError, match="1-D grid"):
        sharding.check_blocks((32,), mesh)


def test_an_axis_over_one_device_needs_no_halo():
    """Only the split axes exchange halos: a block spanning a whole periodic axis is as narrow as it likes."""
    sharding.check_blocks((8, 4), AbstractMesh((2, 1), ("y", "x")), halo=3)  # x unsplit: 4 < 3 cells is fine
    sharding.check_blocks((16, 16), AbstractMesh((1, 1), ("y", "x")), halo=21)
    with pytest.raises(UserError, match="blocks of 2 cells along y, fewer than the 3 halo cells"):
        sharding.check_blocks((4, 4), AbstractMesh((2, 1), ("y", "x")), halo=3)


PPM_AT_3_5 = "ppm at Courant 3.5"


@pytest.mark.parametrize(
    ("shape", "devices", "halo", "layout", "reason"),
    [
        ((16, 16), 1, 21, (1, 1), None),  # one device: all there is
        ((64, 64), 4, 21, (2, 2), None),
        ((60, 7), 4, 2, (4, 1), None),  # all four devices, along y only
        (
            (32, 32),
            4,
            21,
            (1, 1),
            "over 4 devices as 2 (y) x 2 (x), blocks of 16x16 cells are narrower than the 21-cell halo of "
            "ppm at Courant 3.5; running on 1 device",
        ),
        (
            (64, 32),
            4,
            21,
            (2, 1),
            "over 4 devices as 2 (y) x 2 (x), blocks of 32x16 cells are narrower than the 21-cell halo of "
            "ppm at Courant 3.5; running on 2 devices as 2 (y) x 1 (x)",
        ),
        (
            (30, 31),
            4,
            2,
            (3, 1),
            "the 30x31 grid cannot be split over 4 devices as 2 (y) x 2 (x): 31 cells along x do not split into "
            "2 equal blocks; running on 3 devices as 3 (y) x 1 (x)",
        ),
        (
            (1024, 1024),
            7,
            2,
            (2, 2),
            "the 1024x1024 grid cannot be split over 7 devices as 7 (y) x 1 (x): 1024 cells along y do not "
            "split into 7 equal blocks; running on 4 devices as 2 (y) x 2 (x)",
        ),
        (
            (64,),
            4,
            21,
            (2,),
            "over 4 devices as 4 (x), blocks of 16 cells are narrower than the 21-cell halo of ppm at Courant 3.5; "
            "running on 2 devices as 2 (x)",
        ),
        (
            (30, 31),
            4,
            0,  # halo unknown (SPMD placement): divisibility alone
            (3, 1),
            "the 30x31 grid cannot be split over 4 devices as 2 (y) x 2 (x): 31 cells along x do not split into "
            "2 equal blocks; running on 3 devices as 3 (y) x 1 (x)",
        ),
    ],
)
def test_usable_layout_is_the_largest_mesh_the_grid_and_halo_allow_and_says_why(shape, devices, halo, layout, reason):
    assert sharding.usable_layout(shape, devices, halo, PPM_AT_3_5) == (layout, reason)


@settings(max_examples=60, deadline=None)
@given(
    shape=st.one_of(st.tuples(st.integers(1, 96)), st.tuples(st.integers(1, 96), st.integers(1, 96))),
    devices=st.integers(1, 24),
    halo=st.integers(0, 24),
)
def test_no_layout_of_more_devices_fits_than_the_usable_one(shape, devices, halo):
    """Against every layout of at most ``devices``: the chosen one fits, and none of more devices does."""
    layout, why = sharding.usable_layout(shape, devices, halo)
    fits = [
        lay
        for lay in itertools.product(range(1, devices + 1), repeat=len(shape))
        if math.prod(lay) <= devices and all(n % k == 0 and (k == 1 or n // k >= halo) for n, k in zip(shape, lay))
    ]
    assert layout in fits
    assert math.prod(layout) == max(math.prod(lay) for lay in fits)
    assert (why is None) == (math.prod(layout) == devices or devices == 1)


def test_a_halo_wider_than_the_grid_runs_on_this_process_devices():
    """ppm at Courant 3.5 reads 21 cells per side: :func:`usable_mesh` gives a 16^2 grid one device, where the
    halo exchange (here Van Leer with as wide a halo) exchanges nothing and gives the unsharded rollout."""
    mesh, why = sharding.usable_mesh((16, 16), schemes.scheme("ppm", 3.5).reach, who=PPM_AT_3_5)
    assert mesh.size == 1 and (why is None) == (len(jax.devices()) == 1)
    c, velocity = _random_problem(5, 0.9)
    c, velocity = c[:16, :16], tuple(u[:16, :16] for u in velocity)
    run = jax.jit(lambda s, c, v: rollout(s, c, v, 1.0, (1.0, 1.0), 2))
    np.testing.assert_array_equal(
        np.asarray(run(sharding.Sharded(schemes.VANLEER, mesh, 21), c, velocity)),
        np.asarray(run(schemes.VANLEER, c, velocity)),
    )


BLOCK = 3  # cells per axis of the blocks checked
POSITIONS = 8  # blocks checked per field


def _window_error(stepper, halo: int):
    """A jitted ``(c, velocity, starts) -> (max |difference|, max |c_next|)`` between the whole grid's step and
    what one device of a halo exchange computes for its block: the stepper on the block extended by ``halo``
    cells of the periodic field on every side (garbage wraps in at the extended block's edges), cropped back --
    for the ``BLOCK x BLOCK`` blocks whose first cells are ``starts`` ``(POSITIONS, 2)``."""
    offsets = jnp.arange(BLOCK + 2 * halo) - halo

    def one(c, velocity, start):
        iy, ix = ((start[a] + offsets) % N for a in range(2))
        window = (iy[:, None], ix[None, :])
        out = stepper(c[window], tuple(u[window] for u in velocity), 1.0, (1.0, 1.0))
        return out[halo : halo + BLOCK, halo : halo + BLOCK]

    @jax.jit
    def error(c, velocity, starts):
        whole = stepper(c, velocity, 1.0, (1.0, 1.0))
        blocks = jax.vmap(lambda s: one(c, velocity, s))(starts)
        inner = (starts[:, :, None] + jnp.arange(BLOCK)) % N  # (position, axis, cell)
        expected = whole[inner[:, 0, :, None], inner[:, 1, None, :]]
        return jnp.max(jnp.abs(blocks - expected)), jnp.max(jnp.abs(whole))

    return error


def _random_problem(seed, courant):
    """A random field and face Courant numbers of both signs up to ``courant`` on unit cells, dt = 1 (no flow
    structure is needed for locality)."""
    rng = np.random.default_rng(seed)
    c = jnp.asarray(rng.uniform(0.0, 1.0, (N, N)), jnp.float32)
    velocity = tuple(jnp.asarray(rng.uniform(-courant, courant, (N, N)), jnp.float32) for _ in range(2))
    return c, velocity


# Every stepper whose reach is known (the schemes, each wrapper, the large-step path), with the largest
# Courant number it takes; those that take long to compile (8-18 s each on 2 cores) run under -m slow.
SLOW = (pytest.mark.slow,)
CASES = [
    pytest.param(s, 0.95, marks=SLOW if isinstance(s, SSPRK3) else (), id=s.name) for s in schemes.SCHEMES.values()
] + [
    pytest.param(FCT(schemes.VANLEER), 0.95, id="fct"),
    pytest.param(Repeated(schemes.VANLEER, 2), 0.95, id="repeated"),
    pytest.param(D4Average(schemes.VANLEER), 0.95, marks=SLOW, id="d4"),
    pytest.param(schemes.scheme("ppm", 2, bounded=False), 1.9, marks=SLOW, id="ppm-large-step"),
    pytest.param(FCT(schemes.scheme("vanleer", 2, bounded=False)), 1.9, marks=SLOW, id="fct-large-step"),
]
# round-off: the same arithmetic on arrays of another shape may be vectorised (and fused) differently
ROUND_OFF = 4 * np.finfo(np.float32).eps


@pytest.mark.parametrize(("stepper", "courant"), CASES)
def test_a_block_extended_by_the_step_reach_updates_like_the_whole_grid(stepper, courant):
    """The halo exchange's premise, for random block positions, fields and flows."""
    reach = stepper.reach
    assert isinstance(reach, int) and reach >= 1 and sharding.step_reach(stepper) == reach
    error = _window_error(stepper, reach)

    @settings(max_examples=5, deadline=None)
    @given(
        seed=st.integers(0, 2**32 - 1),
        starts=st.lists(
            st.tuples(st.integers(0, N - 1), st.integers(0, N - 1)), min_size=POSITIONS, max_size=POSITIONS
        ),
    )
    def check(seed, starts):
        diff, size = error(*_random_problem(seed, courant), jnp.asarray(starts))
        assert float(diff) <= ROUND_OFF * max(1.0, float(size))

    check()


def test_a_halo_below_the_reach_is_caught_by_the_window_check():
    """The check above can fail: with one cell fewer than Van Leer's reach the blocks' edge cells differ."""
    starts = jnp.asarray([(3 * k, 5 * k) for k in range(POSITIONS)]) % N
    diff, _ = _window_error(schemes.VANLEER, sharding.step_reach(schemes.VANLEER) - 1)(
        *_random_problem(0, 0.95), starts
    )
    assert float(diff) > 1e-2


def test_step_reach_of_a_learned_stepper_is_unknown_so_sharded_leaves_the_halos_to_xla():
    model = build_model(ModelConfig(ndim=2, layers=2, filters=4, stencil=(2, 1)), jax.random.PRNGKey(0))
    assert model.reach is None and sharding.step_reach(model) is None
    mesh = sharding.grid_mesh((N, N))
    assert sharding.sharded(model, mesh).halo is None
    assert sharding.sharded(schemes.VANLEER, mesh).halo == sharding.step_reach(schemes.VANLEER) == 2
    assert sharding.sharded(schemes.VANLEER, mesh).name == "vanleer"
    with pytest.raises(ValueError, match="halo"):
        sharding.Sharded(schemes.VANLEER, mesh, 0)


@pytest.mark.parametrize("ndim", [1, 2])
@pytest.mark.parametrize("halo", [None, 2])
def test_sharded_on_this_process_devices_is_the_same_rollout(ndim, halo):
    """On whatever devices this process has (one, usually: every mesh axis of size 1, nothing exchanged)."""
    c, velocity = _random_problem(3, 0.9)
    if ndim == 1:
        c, velocity = c[0], (velocity[1][0],)
    spacing = (1.0,) * ndim
    mesh = sharding.grid_mesh(c.shape)
    step = sharding.Sharded(schemes.VANLEER, mesh, halo)
    placed_c, placed_v = sharding.shard_fields((c, velocity), mesh)
    run = jax.jit(lambda s, c, v: rollout(s, c, v, 1.0, spacing, 5))
    np.testing.assert_array_equal(
        np.asarray(run(step, placed_c, placed_v)), np.asarray(run(schemes.VANLEER, c, velocity))
    )


# --------------------------------------------------------------------------- several devices (a subprocess)
MULTI_DEVICE = r"""
import json, sys
import jax, jax.numpy as jnp, numpy as np
import learned_advection as la
from learned_advection.numerics import sharding

out = {"devices": len(jax.devices())}
grid = la.Grid.square(32, 1.0)
velocity = la.random_sinusoidal(grid, seed=1)
c0 = jnp.asarray(np.random.default_rng(0).uniform(0.0, 1.0, grid.shape), jnp.float32)
dt = la.dt_from_cfl(la.max_speed(velocity), grid.spacing, 0.9)
run = jax.jit(lambda s, c, v: la.rollout(s, c, v, dt, grid.spacing, 6, save_every=2))
reference = np.asarray(run(la.VANLEER, c0, velocity))
mesh = la.grid_mesh(grid.shape)
out["mesh"] = dict(mesh.shape)
c_s, v_s = la.shard_fields((c0, velocity), mesh)
out["placed_devices"] = len(c_s.sharding.device_set)
for name, step in (("halo", la.sharded(la.VANLEER, mesh)), ("spmd", la.Sharded(la.VANLEER, mesh)),
                   ("placement", la.VANLEER)):
    states = run(step, c_s, v_s)
    out[name] = {"max_diff": float(np.max(np.abs(np.asarray(states) - reference))),
                 "devices": len(states.sharding.device_set), "spec": str(states.sharding.spec),
                 "shards": sorted({tuple(s.data.shape) for s in states.addressable_shards})}
tracers = jnp.stack([c0, 1.0 - c0, c0 ** 2])
many = jax.jit(jax.vmap(lambda c, v: la.rollout(la.sharded(la.VANLEER, mesh), c, v, dt, grid.spacing, 4), in_axes=(0, None)))
ref_many = jax.vmap(lambda c: la.rollout(la.VANLEER, c, velocity, dt, grid.spacing, 4))(tracers)
states = many(la.shard_fields(tracers, mesh), v_s)
out["tracers"] = {"max_diff": float(np.max(np.abs(np.asarray(states) - np.asarray(ref_many)))),
                  "devices": len(states.sharding.device_set)}
line = lambda a: np.linspace(0.0, 1.0, a)
c1 = jnp.asarray(np.sin(2 * np.pi * line(64)) ** 2, jnp.float32)
v1 = (jnp.full((64,), 0.7, jnp.float32),)
ref1 = np.asarray(jax.jit(lambda c, v: la.rollout(la.PPM, c, v, 1.0, (1.0,), 5))(c1, v1))
mesh1 = la.grid_mesh((64,))
got1 = jax.jit(lambda c, v: la.rollout(la.sharded(la.PPM, mesh1), c, v, 1.0, (1.0,), 5))(*la.shard_fields((c1, v1), mesh1))
out["one_d"] = {"max_diff": float(np.max(np.abs(np.asarray(got1) - ref1))), "mesh": dict(mesh1.shape),
                "devices": len(got1.sharding.device_set)}
# the shipped models (their trained grid and dt): their reach is unknown, so the halos are XLA's (SPMD)
mgrid = la.Grid.square(32, 2 * np.pi)
mvel = tuple(jnp.asarray(u, jnp.float32) for u in la.random_sinusoidal(mgrid, seed=0, max_speed=3.0))
mc0 = jnp.asarray(np.random.default_rng(1).uniform(0.0, 1.0, mgrid.shape), jnp.float32)
mmesh = la.grid_mesh(mgrid.shape)
mc_s, mv_s = la.shard_fields((mc0, mvel), mmesh)
out["models"] = {}
for tag, name in (("paper", "pretrained"), ("hybrid", "pretrained:turbulence-2d-k8-hybrid")):
    model = la.load_stepper(name, mgrid)
    for label, step in ((tag, model), (tag + "+fct", la.FCT(model))):
        mrun = jax.jit(lambda s, c, v: la.rollout(s, c, v, model.trained_dt, mgrid.spacing, 3))
        want = np.asarray(mrun(step, mc0, mvel))
        got = mrun(la.sharded(step, mmesh), mc_s, mv_s)
        out["models"][label] = {"max_diff": float(np.max(np.abs(np.asarray(got) - want))),
                                "size": float(np.max(np.abs(want))), "devices": len(got.sharding.device_set)}
# a regional domain (walls in y, inflow and outflow in x, a source): SPMD placement, the one-device result
n = 32
bounds = la.boundaries(x=(la.Open(0.5), la.Open()), y=la.Wall())
ru = jnp.asarray(np.ones((n, n + 1)) * (1 + 0.5 * np.sin(np.pi * (np.arange(n) + 0.5) / n))[:, None], jnp.float32)
rv = jnp.zeros((n + 1, n), jnp.float32)
rate = np.zeros((n, n), np.float32)
rate[16, 4] = 20.0
out["regional"] = {}
for label, base in (("ppm", la.PPM), ("ppm-k3-fct", la.scheme("ppm", 2.5))):
    one = la.Regional(base, bounds, la.Source(jnp.asarray(rate)))
    split = la.Regional(la.sharded(base, mesh), bounds, la.Source(jnp.asarray(rate)))
    rrun = jax.jit(lambda r, s: la.rollout(r, s, (rv, ru), 0.4 / n * (2.5 if "k3" in label else 1), (1 / n, 1 / n), 8, 4))
    want = rrun(one, one.initial(c0))
    got = rrun(split, split.initial(la.shard_fields(c0, mesh)))
    out["regional"][label] = {"max_diff": float(np.max(np.abs(np.asarray(got.c) - np.asarray(want.c)))),
                              "budget_diff": float(np.max(np.abs(np.asarray(got.budget.net()) - np.asarray(want.budget.net())))),
                              "devices": len(got.c.sharding.device_set)}
try:
    la.grid_mesh((30, 31))
except la.UserError as e:
    out["refusal"] = str(e)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def four_devices():
    """The checks above run in a fresh interpreter with 4 host devices (XLA reads the flag only at start-up)."""
    env = {
        **os.environ,
        "XLA_FLAGS": (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip(),
        "JAX_PLATFORMS": "cpu",
    }
    result = subprocess.run(
        [sys.executable, "-c", MULTI_DEVICE],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_four_devices_lay_out_as_two_by_two_and_hold_a_quarter_each(four_devices):
    assert four_devices["devices"] == 4
    assert four_devices["mesh"] == {"y": 2, "x": 2}
    assert four_devices["placed_devices"] == 4
    for name in ("halo", "spmd", "placement"):
        assert four_devices[name]["devices"] == 4
        assert four_devices[name]["spec"] == "P(None, 'y', 'x')"
        assert four_devices[name]["shards"] == [[4, 16, 16]]  # 4 saved states of a 16 x 16 block on each device


def test_sharded_van_leer_equals_the_one_device_run(four_devices):
    # halo exchange: the same arithmetic on every cell (bitwise); SPMD placement: XLA may fuse differently (~1 ulp)
    assert four_devices["halo"]["max_diff"] == 0.0
    assert four_devices["tracers"]["max_diff"] == 0.0 and four_devices["tracers"]["devices"] == 4
    assert four_devices["one_d"]["max_diff"] == 0.0 and four_devices["one_d"]["mesh"] == {"x": 4}
    for name in ("spmd", "placement"):
        assert four_devices[name]["max_diff"] <= 4 * np.finfo(np.float32).eps  # values in [0, 1]: a few ulp


def test_sharded_shipped_models_equal_the_one_device_run(four_devices):
    """Both shipped models, plain and inside FCT: ``la.sharded`` leaves their halos to XLA (reach unknown)."""
    assert set(four_devices["models"]) == {"paper", "paper+fct", "hybrid", "hybrid+fct"}
    for result in four_devices["models"].values():
        assert result["devices"] == 4
        assert result["max_diff"] <= 8 * np.finfo(np.float32).eps * max(1.0, result["size"])


def test_a_sharded_step_on_a_regional_domain_equals_the_one_device_run(four_devices):
    """Walls, inflow, outflow and a source, split over 2 x 2 devices (SPMD placement): the one-device states and
    budget to a few ulp, for PPM and its bounded large step."""
    assert set(four_devices["regional"]) == {"ppm", "ppm-k3-fct"}
    for result in four_devices["regional"].values():
        assert result["devices"] == 4
        assert result["max_diff"] <= 8 * np.finfo(np.float32).eps  # values in [0, 1]
        assert result["budget_diff"] <= 1e-6


def test_a_grid_the_mesh_does_not_divide_is_refused_in_one_line(four_devices):
    message = four_devices["refusal"]
    assert "30x31 grid cannot be split over 4 devices as 2 (y) x 2 (x) blocks" in message and "\n" not in message


MULTI_PROCESS = r"""
import json
import sys
import jax
jax.config.update("jax_cpu_collectives_implementation", "gloo")
jax.config.update("jax_num_cpu_devices", 2)
jax.distributed.initialize(sys.argv[1], num_processes=2, process_id=int(sys.argv[2]))
import numpy as np
from jax.experimental import multihost_utils
import learned_advection as la

grid = la.Grid.square(32, 1.0)
velocity = tuple(np.asarray(u) for u in la.random_sinusoidal(grid, seed=2))
c0 = np.random.default_rng(0).uniform(0.0, 1.0, grid.shape).astype(np.float32)
dt = la.dt_from_cfl(la.max_speed(velocity), grid.spacing, 0.9)
mesh = la.grid_mesh(grid.shape)  # every process's devices
c, v = la.shard_fields((c0, velocity), mesh)  # each process places its own blocks
states = jax.jit(lambda c, v: la.rollout(la.sharded(la.VANLEER, mesh), c, v, dt, grid.spacing, 6, save_every=3))(c, v)
np.save(sys.argv[3], multihost_utils.process_allgather(states, tiled=True))
layout = [jax.process_count(), len(jax.devices()), len(jax.local_devices()), dict(mesh.shape)]
open(sys.argv[3] + ".json", "w").write(json.dumps(layout))  # (gloo logs to stdout, mid-line at times)
"""


@pytest.mark.slow
def test_two_processes_of_two_devices_each_give_the_one_device_run(tmp_path):
    """The multi-host recipe (jax.distributed.initialize, the same program in every process), on two local CPU
    processes talking through gloo."""
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        address = f"localhost:{s.getsockname()[1]}"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MULTI_PROCESS, address, str(i), str(tmp_path / f"{i}.npy")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    for i in range(2):
        assert json.loads((tmp_path / f"{i}.npy.json").read_text()) == [2, 4, 2, {"y": 2, "x": 2}]
    grid = Grid.square(32, 1.0)
    velocity = random_sinusoidal(grid, seed=2)
    c0 = jnp.asarray(np.random.default_rng(0).uniform(0.0, 1.0, grid.shape), jnp.float32)
    dt = dt_from_cfl(max_speed(velocity), grid.spacing, 0.9)
    reference = np.asarray(
        jax.jit(lambda c, v: rollout(schemes.VANLEER, c, v, dt, grid.spacing, 6, save_every=3))(c0, velocity)
    )
    for i in range(2):
        np.testing.assert_array_equal(np.load(tmp_path / f"{i}.npy"), reference)
