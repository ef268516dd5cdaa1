"""Training: gradients, determinism, checkpoints (round trip, resume, corruption), netCDF input."""

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from learned_advection.data.netcdf import read_reference as load_reference_netcdf
from learned_advection.data.netcdf import write_reference as save_reference_netcdf
from learned_advection.data.reference import Setup1D, make_dataset_1d, rng_for
from learned_advection.errors import UserError
from learned_advection.learned import checkpoint as ckpt
from learned_advection.learned.config import ModelConfig
from learned_advection.learned.models import build_model
from learned_advection.learned.training import TrainConfig, train, unrolled_loss
from learned_advection.numerics.grids import Grid

TINY = ModelConfig(ndim=1, layers=2, filters=4, final_init_scale=1.0)


def _windows(dtype, n=16, batch=2, unroll=3):
    x = np.arange(n)
    base = np.stack([0.2 + 0.5 * np.exp(-0.5 * ((x - 5 - 3 * b) / 2.0) ** 2) for b in range(batch)])
    states = np.stack([np.roll(base, k, axis=-1) for k in range(unroll + 1)], axis=1)  # a pure shift by 1 per step
    velocity = (jnp.full((batch, n), 1.0, dtype),)
    return jnp.asarray(states, dtype), velocity


def test_unrolled_loss_gradient_matches_finite_differences(x64_mode):
    x64_mode(True)
    model = build_model(TINY, jax.random.PRNGKey(1))
    assert model.convs[0].weight.dtype == jnp.float64
    windows, velocity = _windows(jnp.float64)
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def loss_of(p, loss):
        return unrolled_loss(eqx.combine(p, static), windows, velocity, 0.5, (1.0,), loss)

    value, grad = jax.jit(jax.value_and_grad(loss_of), static_argnums=1)(params, "mae")  # default loss: finite
    assert np.isfinite(float(value))
    assert all(np.all(np.isfinite(np.asarray(g))) for g in jax.tree_util.tree_leaves(grad))

    # MSE (smooth away from ReLU kinks): gradient vs central differences along random directions
    value, grad = jax.jit(jax.value_and_grad(loss_of), static_argnums=1)(params, "mse")
    leaves, treedef = jax.tree_util.tree_flatten(grad)
    assert any(np.any(np.asarray(g) != 0) for g in leaves)

    @jax.jit
    def central_difference(p, d, eps):
        plus = jax.tree_util.tree_map(lambda a, b: a + eps * b, p, d)
        minus = jax.tree_util.tree_map(lambda a, b: a - eps * b, p, d)
        return (loss_of(plus, "mse") - loss_of(minus, "mse")) / (2 * eps)

    rng = np.random.default_rng(0)
    for _ in range(3):
        direction = jax.tree_util.tree_unflatten(
            treedef, [jnp.asarray(rng.normal(size=p.shape)) for p in jax.tree_util.tree_leaves(params)]
        )
        fd = float(central_difference(params, direction, 1e-6))
        ad = sum(
            float(np.sum(np.asarray(g) * np.asarray(d))) for g, d in zip(leaves, jax.tree_util.tree_leaves(direction))
        )
        np.testing.assert_allclose(ad, fd, rtol=1e-5, atol=1e-10)


def test_no_nan_gradient_on_constant_field():
    model = build_model(TINY, jax.random.PRNGKey(0))
    windows = jnp.full((2, 4, 16), 0.3)
    velocity = (jnp.ones((2, 16)),)
    grad = jax.jit(jax.grad(lambda m: unrolled_loss(m, windows, velocity, 0.5, (1.0,))))(model)
    leaves = jax.tree_util.tree_leaves(eqx.filter(grad, eqx.is_inexact_array))
    assert all(np.all(np.isfinite(np.asarray(g))) for g in leaves)


@pytest.fixture(scope="module")
def tiny_data():
    setup = Setup1D()
    train_data = make_dataset_1d(rng_for(0, "train"), setup, 4, 16)
    val_data = make_dataset_1d(rng_for(0, "validation"), setup, 2, 16)
    return train_data, val_data


CFG = TrainConfig(steps=6, batch_size=4, unroll=2, eval_every=2, checkpoint_every=3, validation_steps=8, seed=3)


def _leaves(model):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_inexact_array))]


def test_checkpoint_roundtrip_and_resume_equals_uninterrupted(tiny_data, tmp_path):
    train_data, val_data = tiny_data
    full = train(TINY, train_data, val_data, CFG, tmp_path / "full", progress=False)
    assert (tmp_path / "full" / "best" / "config.json").is_file()
    assert (tmp_path / "full" / "last" / "opt_state.eqx").is_file()

    # round trip: the saved best model is the returned one
    loaded, config = ckpt.load_model(tmp_path / "full")
    for a, b in zip(_leaves(loaded), _leaves(full.model)):
        np.testing.assert_array_equal(a, b)
    assert config["ndim"] == 1 and config["grid"]["shape"] == [32] and config["dt"] == 0.5
    assert config["stencil"] == [2] and config["step"] == full.best_step and config["package_version"]

    # interrupted after 4 iterations (last checkpoint at 3), then resumed
    train(TINY, train_data, val_data, CFG, tmp_path / "resumed", progress=False, stop_after=4)
    assert json.loads((tmp_path / "resumed" / "last" / "config.json").read_text())["step"] == 3
    resumed = train(TINY, train_data, val_data, CFG, tmp_path / "resumed", resume=True, progress=False)
    for a, b in zip(_leaves(resumed.last_model), _leaves(full.last_model)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    for a, b in zip(_leaves(resumed.model), _leaves(full.model)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert resumed.best_step == full.best_step
    assert [h["step"] for h in resumed.history] == [h["step"] for h in full.history]

    # a different training setting cannot resume the run
    with pytest.raises(UserError, match="training settings differ"):
        train(
            TINY,
            train_data,
            val_data,
            TrainConfig(**{**CFG.to_dict(), "unroll": 3}),
            tmp_path / "full",
            resume=True,
            progress=False,
        )

    # the stepper the simulator uses
    step = ckpt.load_stepper(tmp_path / "full", Grid((32,), (32.0,)))
    c = jnp.asarray(train_data.states[0, 0])
    out = step(c, (jnp.ones(32),), 0.5, (1.0,))
    np.testing.assert_allclose(float(out.sum()), float(c.sum()), rtol=1e-5)
    with pytest.raises(UserError, match="dt"):
        step(c, (jnp.ones(32),), 0.25, (1.0,))


def test_corrupt_or_mismatched_checkpoint_rejected(tiny_data, tmp_path):
    train_data, val_data = tiny_data
    train(TINY, train_data, val_data, TrainConfig(**{**CFG.to_dict(), "steps": 2}), tmp_path / "m", progress=False)
    grid1, grid2 = Grid((32,), (32.0,)), Grid((32, 32), (32.0, 32.0))

    def one_line_error(path, grid):
        with pytest.raises(UserError) as info:
            ckpt.load_stepper(path, grid)
        assert "\n" not in str(info.value)
        return str(info.value)

    assert "2-D" in one_line_error(tmp_path / "m", grid2)  # wrong dimension
    assert "cell size" in one_line_error(tmp_path / "m", Grid((64,), (32.0,)))  # wrong resolution
    assert "does not exist" in one_line_error(tmp_path / "nope", grid1)
    (tmp_path / "empty").mkdir()
    assert "not a model checkpoint" in one_line_error(tmp_path / "empty", grid1)

    best = tmp_path / "m" / "best"
    weights = (best / "weights.eqx").read_bytes()
    (best / "weights.eqx").write_bytes(weights[: len(weights) // 2])  # truncated weights
    assert "corrupt" in one_line_error(tmp_path / "m", grid1)
    (best / "weights.eqx").write_bytes(weights)
    ckpt.load_stepper(tmp_path / "m", grid1)  # intact again

    config = (best / "config.json").read_text()
    (best / "config.json").write_text(config[:40])  # broken JSON
    assert "corrupt" in one_line_error(best, grid1)
    bad = json.loads(config)
    bad["model"]["filters"] = 5  # weights no longer fit the model
    (best / "config.json").write_text(json.dumps(bad))
    assert "corrupt" in one_line_error(best, grid1)


def test_atomic_write_leaves_no_temporaries(tmp_path):
    model = build_model(TINY, jax.random.PRNGKey(0))
    config = ckpt.make_config(TINY, Grid((32,), (32.0,)), 0.5, 1)
    for _ in range(2):
        ckpt.save_checkpoint(tmp_path / "best", model, config)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best"]
    # a crash between the two renames leaves only the aside copy: it is still found
    (tmp_path / "best").rename(tmp_path / "best.old")
    assert ckpt.resolve(tmp_path) == tmp_path / "best.old"


def test_netcdf_reference_roundtrip(tiny_data, tmp_path):
    train_data, _ = tiny_data
    path = tmp_path / "ref.nc"
    save_reference_netcdf(path, train_data)
    back = load_reference_netcdf(path)
    np.testing.assert_allclose(back.states, train_data.states)
    np.testing.assert_allclose(back.velocity[0], train_data.velocity[0])
    assert back.dt == pytest.approx(0.5) and back.grid.spacing == pytest.approx((1.0,)) and back.grid.shape == (32,)
    with pytest.raises(UserError, match="missing.nc does not exist"):
        load_reference_netcdf(tmp_path / "missing.nc")


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("learning_rate", float("nan"), "learning_rate must be a finite number, got nan"),  # NaN passes "<= 0"
        ("final_learning_rate", float("inf"), "final_learning_rate must be a finite number, got inf"),
        ("long_unroll_from", float("nan"), "long_unroll_from must be a finite number"),
        ("grad_clip", float("nan"), "grad_clip must be a finite number"),
        ("steps", 2.5, "steps must be an integer, got 2.5"),
        ("seed", 2**32, "seed must be in 0..4294967295"),
        ("warmup_steps", -1, "warmup_steps must be >= 0"),
    ],
)
def test_train_config_refuses_non_finite_and_mistyped_options(field, value, words):
    with pytest.raises(ValueError, match=words.replace(".", r"\.")):
        TrainConfig(**{**CFG.to_dict(), field: value})


def test_diverged_run_leaves_only_what_was_there(tiny_data, tmp_path):
    """A run whose validation error is never finite removes the checkpoints it wrote."""
    train_data, val_data = tiny_data
    diverging = TrainConfig(**{**CFG.to_dict(), "learning_rate": 1e30, "steps": 4})
    folder = tmp_path / "kept"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="training diverged.*removed .*last/"):
        train(TINY, train_data, val_data, diverging, folder, progress=False)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    with pytest.raises(UserError, match="training diverged"):
        train(TINY, train_data, val_data, diverging, tmp_path / "new" / "run", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]


def test_resume_checks_settings_before_reading_the_optimizer_state(tiny_data, tmp_path):
    """`train --resume` on a run of another model says what differs, not "corrupt optimizer state" (defect 5)."""
    train_data, val_data = tiny_data
    train(
        TINY,
        train_data,
        val_data,
        TrainConfig(**{**CFG.to_dict(), "steps": 3}),
        tmp_path / "m",
        progress=False,
        extra={"experiment": "advection-1d"},
    )
    other = ModelConfig(ndim=1, layers=3, filters=4, final_init_scale=1.0)
    with pytest.raises(
        UserError,
        match=r"model settings differ from the saved run \(layers 2 saved vs 3 now\); it was "
        r"saved by `learned-advection reproduce advection-1d`",
    ):
        train(other, train_data, val_data, CFG, tmp_path / "m", resume=True, progress=False)
    with pytest.raises(UserError, match=r"training settings differ from the saved run \(batch_size 4 saved vs 2 now"):
        train(
            TINY,
            train_data,
            val_data,
            TrainConfig(**{**CFG.to_dict(), "batch_size": 2}),
            tmp_path / "m",
            resume=True,
            progress=False,
        )
