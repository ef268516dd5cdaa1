"""`simulate --scheme learned --model DIR` runs a checkpoint through the same rollout as the library."""

import jax
import jax.numpy as jnp
import numpy as np

from learned_advection.data import netcdf as io
from learned_advection.learned import checkpoint
from learned_advection.learned.config import ModelConfig
from learned_advection.learned.models import build_model
from learned_advection.numerics import rollout
from learned_advection.numerics.grids import Grid


def test_simulate_with_learned_checkpoint(tmp_path, cli):
    grid = Grid((32,), (32.0,))
    # an untrained network, its output small enough that 8 steps stay within what the blow-up guard allows
    # (at final_init_scale 1 the random stencils oscillate: sum |c| more than doubles, the run is refused)
    cfg = ModelConfig(ndim=1, layers=2, filters=4, final_init_scale=0.1)
    model = build_model(cfg, jax.random.PRNGKey(3))
    checkpoint.save_checkpoint(tmp_path / "model", model, checkpoint.make_config(cfg, grid, 0.5, 0))
    c0 = np.zeros(32, np.float32)
    c0[5:12] = 0.7
    u = np.ones(32, np.float32)
    io.write_problem(tmp_path / "in.nc", grid, c0, (u,))
    args = [
        "simulate",
        str(tmp_path / "in.nc"),
        str(tmp_path / "out.nc"),
        "--scheme",
        "learned",
        "--model",
        str(tmp_path / "model"),
        "--steps",
        "8",
        "--dt",
        "0.5",
        "--save-every",
        "4",
        "--quiet",
    ]
    assert cli(*args)[0] == 0
    states = io.read_simulation(tmp_path / "out.nc")["concentration"].values
    expected = rollout.rollout(model, jnp.asarray(c0), (jnp.asarray(u),), 0.5, (1.0,), 8, 4)
    assert states.shape == (3, 32)
    np.testing.assert_allclose(states, expected, atol=1e-5)
    np.testing.assert_allclose(states.sum(axis=-1), c0.sum(), rtol=1e-6)
    # a time step the model was not trained for is refused in one line
    args_bad = args[:]
    args_bad[args_bad.index("0.5")] = "0.25"
    args_bad[args_bad.index(str(tmp_path / "out.nc"))] = str(tmp_path / "out2.nc")
    code, _, err = cli(*args_bad)
    assert code == 2
    err = err.strip()
    assert err.startswith("error:") and "dt" in err and "\n" not in err
    assert not (tmp_path / "out2.nc").exists()


def test_simulate_a_large_step_learned_model(tmp_path, cli):
    """A model with max_courant 3 (FFSL, trained at Courant 2.5 here) runs at Courant 2.5 through simulate; a step
    beyond its reach is refused in one line, as is a Courant-2.5 run of an ordinary model."""
    grid = Grid((32,), (32.0,))
    for name, max_courant, large in (("large", 3, "ffsl"), ("small", 1, "none")):
        cfg = ModelConfig(  # an untrained network with a small output: in range for the blow-up guard
            ndim=1, layers=2, filters=4, final_init_scale=0.1, stencil=(4,), max_courant=max_courant, large_step=large
        )
        model = build_model(cfg, jax.random.PRNGKey(3))
        checkpoint.save_checkpoint(tmp_path / name, model, checkpoint.make_config(cfg, grid, 2.5, 0))
    c0 = np.zeros(32, np.float32)
    c0[5:12] = 0.7
    io.write_problem(tmp_path / "in.nc", grid, c0, (np.ones(32, np.float32),))

    def run(name, out):
        return cli(
            "simulate",
            tmp_path / "in.nc",
            tmp_path / out,
            "--scheme",
            "learned",
            "--model",
            tmp_path / name,
            "--steps",
            "4",
            "--dt",
            "2.5",
            "--quiet",
        )

    assert run("large", "ok.nc")[0] == 0
    states = io.read_simulation(tmp_path / "ok.nc")["concentration"].values
    expected = rollout.rollout(
        checkpoint.load_stepper(tmp_path / "large", grid),
        jnp.asarray(c0),
        (jnp.ones(32, jnp.float32),),
        2.5,
        (1.0,),
        4,
        1,
    )
    np.testing.assert_allclose(states, expected, atol=1e-5)
    np.testing.assert_allclose(states.sum(axis=-1), c0.sum(), rtol=1e-6)
    code, _, err = run("small", "bad.nc")
    assert code == 2 and "Courant number 2.5 > 1" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "bad.nc").exists()


def test_simulate_a_hybrid_learned_model(tmp_path, cli):
    """A hybrid checkpoint (PPM's large step plus a learned correction, max_courant 3) runs through simulate at
    Courant 2.5 as through the library's rollout, keeping mass; with a zero correction it is PPM's large step."""
    from learned_advection.numerics import schemes

    grid = Grid((32,), (32.0,))
    c0 = np.zeros(32, np.float32)
    c0[5:12] = 0.7
    io.write_problem(tmp_path / "in.nc", grid, c0, (np.ones(32, np.float32),))
    for name, scale in (("hybrid", 0.05), ("zero", 0.0)):  # (at 0.3 the untrained correction oscillates)
        cfg = ModelConfig(
            ndim=1,
            layers=2,
            filters=4,
            final_init_scale=scale,
            stencil=(4,),
            max_courant=3,
            base_scheme="ppm",
            velocity_input="courant",
        )
        model = build_model(cfg, jax.random.PRNGKey(3))
        checkpoint.save_checkpoint(tmp_path / name, model, checkpoint.make_config(cfg, grid, 2.5, 0))
        code, _, err = cli(
            "simulate",
            tmp_path / "in.nc",
            tmp_path / f"{name}.nc",
            "--scheme",
            "learned",
            "--model",
            tmp_path / name,
            "--steps",
            "4",
            "--dt",
            "2.5",
            "--quiet",
        )
        assert code == 0, err
        states = io.read_simulation(tmp_path / f"{name}.nc")["concentration"].values
        np.testing.assert_allclose(states.sum(axis=-1), c0.sum(), rtol=1e-6)
        base = (
            schemes.scheme("ppm", 3, bounded=False) if scale == 0.0 else checkpoint.load_stepper(tmp_path / name, grid)
        )
        expected = rollout.rollout(base, jnp.asarray(c0), (jnp.ones(32, jnp.float32),), 2.5, (1.0,), 4, 1)
        np.testing.assert_allclose(states, expected, atol=1e-5)
        if scale:
            assert (
                np.abs(
                    states[-1]
                    - np.asarray(
                        rollout.rollout(
                            schemes.scheme("ppm", 3, bounded=False),
                            jnp.asarray(c0),
                            (jnp.ones(32, jnp.float32),),
                            2.5,
                            (1.0,),
                            4,
                            1,
                        )
                    )[-1]
                ).max()
                > 1e-3
            )
