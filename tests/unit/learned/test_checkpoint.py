"""Checkpoint configs: typed and bounded before anything is allocated, fingerprinted against hand
edits, loadable under ``--x64``."""

import json
import shutil
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from learned_advection.errors import UserError
from learned_advection.learned import checkpoint as ckpt
from learned_advection.learned.config import MAX_PARAMETERS, ModelConfig, parameter_count
from learned_advection.learned.models import LearnedModel, build_model
from learned_advection.numerics.grids import Grid
from learned_advection.numerics.rollout import rollout

TINY = ModelConfig(ndim=1, layers=1, filters=2)
GRID = Grid((16,), (16.0,))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt") / "m"
    ckpt.save_checkpoint(folder, build_model(TINY, jax.random.PRNGKey(0)), ckpt.make_config(TINY, GRID, 0.5, 0))
    return folder


def _copy_with(saved: Path, dest: Path, edit) -> Path:
    """A copy of the checkpoint ``saved`` in ``dest`` whose config.json is ``edit(config)``."""
    shutil.copytree(saved, dest)
    config = json.loads((saved / "config.json").read_text())
    edit(config)
    (dest / "config.json").write_text(json.dumps(config))
    return dest


def _one_line_error(folder: Path) -> str:
    with pytest.raises(UserError) as info:
        ckpt.load_stepper(folder, GRID)
    message = str(info.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- defect 3: --x64
def test_learned_model_under_x64_gives_the_float32_result(x64_mode):
    grid = Grid.square(32, 2 * np.pi)
    y, x = grid.mesh()
    c0 = np.exp(-((x - 3.0) ** 2 + (y - 3.0) ** 2))
    velocity = (0.5 * np.cos(x), 0.5 * np.sin(y))
    x64_mode(False)
    single = ckpt.load_stepper("pretrained", grid)
    expected = np.asarray(
        rollout(
            single,
            jnp.asarray(c0, jnp.float32),
            tuple(jnp.asarray(u, jnp.float32) for u in velocity),
            0.024,
            grid.spacing,
            5,
        )
    )
    x64_mode(True)
    double = ckpt.load_stepper("pretrained", grid)  # float32 weights on disk, cast to the run's float64
    assert {leaf.dtype for leaf in jax.tree_util.tree_leaves(double.network)} == {jnp.dtype("float64")}
    got = np.asarray(rollout(double, jnp.asarray(c0), tuple(jnp.asarray(u) for u in velocity), 0.024, grid.spacing, 5))
    assert got.dtype == np.float64 and expected.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-6)  # float32 round-off over 5 steps
    assert np.abs(got - expected).max() > 0  # really computed in another precision


def test_float64_weights_load_into_a_float32_run(saved, tmp_path, x64_mode):
    x64_mode(True)
    model = build_model(TINY, jax.random.PRNGKey(5))
    ckpt.save_checkpoint(tmp_path / "m64", model, ckpt.make_config(TINY, GRID, 0.5, 0, dtype="float64"))
    x64_mode(False)
    loaded, _ = ckpt.load_model(tmp_path / "m64")
    np.testing.assert_array_equal(np.asarray(loaded.convs[0].weight), np.asarray(model.convs[0].weight, np.float32))
    assert loaded.convs[0].weight.dtype == jnp.float32


# --------------------------------------------------------------------------- defect 4: typed configs
HAND_EDITS = {
    # (edit, expected words in the one-line error)
    "dt not a number": (lambda c: c.update(dt="abc"), "'dt' must be a positive finite number"),
    "dt NaN": (lambda c: c.update(dt=float("nan")), "'dt' must be a positive finite number"),
    "layers 2.5": (lambda c: c["model"].update(layers=2.5), "layers must be an integer, got 2.5"),
    "ndim a string": (lambda c: c.update(ndim="2"), "'ndim' must be the integer 1 or 2, got '2'"),
    "model ndim a string": (lambda c: c["model"].update(ndim="1"), "ndim must be an integer, got '1'"),
    "ndim a bool": (lambda c: c.update(ndim=True), "'ndim' must be the integer 1 or 2, got True"),
    "kernel_size even": (lambda c: c["model"].update(kernel_size=4), "kernel_size must be odd"),
    "activation unknown": (lambda c: c["model"].update(activation="swish"), "activation must be one of"),
    "activation a list": (lambda c: c["model"].update(activation=["relu"]), "activation must be a string"),
    "stencil entries strings": (lambda c: c["model"].update(stencil=["2"]), "stencil must be a list of integers"),
    "stencil disagrees": (lambda c: c.update(stencil=[4]), "'stencil' [4] differs from the model's [2]"),
    "grid shape float": (lambda c: c["grid"].update(shape=[16.5]), "'grid.shape' must be 1 positive integer"),
    "grid length negative": (lambda c: c["grid"].update(length=[-16.0]), "'grid.length' must be 1 positive"),
    "grid spacing inconsistent": (lambda c: c["grid"].update(spacing=[2.0]), "is not 'grid.length' / 'grid.shape'"),
    "precision unknown": (
        lambda c: c["model"].update(precision="float16"),
        "precision must be one of float32, bfloat16",
    ),
    "dtype unknown": (lambda c: c.update(dtype="int8"), "'dtype' must be one of float32, float64"),
    "weights outside the folder": (lambda c: c.update(weights="../m/weights.eqx"), "'weights' must be a file name"),
    "format_version true": (lambda c: c.update(format_version=True), "format version True"),
    "unknown model setting": (lambda c: c["model"].update(dropout=0.5), "unknown model settings: dropout"),
}


@pytest.mark.parametrize("case", list(HAND_EDITS))
def test_hand_edited_config_is_refused_in_one_line_before_building(saved, tmp_path, monkeypatch, case):
    edit, words = HAND_EDITS[case]
    folder = _copy_with(saved, tmp_path / "m", edit)
    monkeypatch.setattr(ckpt, "Network", lambda *a, **k: pytest.fail("built a network for an invalid config"))
    assert words in _one_line_error(folder)


def test_huge_network_is_refused_against_the_weights_file_before_allocating(saved, tmp_path, monkeypatch):
    monkeypatch.setattr(ckpt, "Network", lambda *a, **k: pytest.fail("built a network for an invalid config"))
    folder = _copy_with(saved, tmp_path / "wide", lambda c: c["model"].update(layers=3, filters=1000))  # within bounds
    message = _one_line_error(folder)
    # channels 2 -> 1000 -> 1000 -> 1, kernel 3: 1000 * 7 + 1000 * 3001 + 1 * 3001 = 3,011,001 float32 parameters
    assert (
        "weights file weights.eqx has" in message
        and "(3 layers x 1000 filters, float32) needs 12,044,004 bytes" in message
    )
    folder = _copy_with(saved, tmp_path / "huge", lambda c: c["model"].update(filters=100000))  # the 671 GiB
    assert "1-1024 filters, got 1 layers x 100000" in _one_line_error(folder)
    with pytest.raises(ValueError, match="more than the 20,000,000 this package builds"):
        ModelConfig(ndim=2, layers=20, filters=1000, stencil=(2, 3))  # each layer within bounds, ~180 million in all
    paper = ModelConfig(ndim=2, layers=10, filters=128, stencil=(4, 5))  # the paper's largest network (Fig. 12)
    assert 1_000_000 < parameter_count(paper) <= MAX_PARAMETERS


def test_ndim_message_names_the_types(saved, tmp_path):
    two_d = {"ndim": 2, "grid": {"shape": [16, 16], "length": [16.0, 16.0]}}  # well typed, but not the model's
    folder = _copy_with(saved, tmp_path / "m", lambda c: c.update(two_d))
    assert "the model is 1-D but 'ndim' is 2" in _one_line_error(folder)


def test_edited_model_settings_are_detected_by_the_fingerprint(saved, tmp_path):
    config = json.loads((saved / "config.json").read_text())
    assert config["fingerprint"].startswith("sha256:") and config["model"]["velocity_input"] == "raw"
    ckpt.load_stepper(saved, GRID)  # intact
    folder = _copy_with(saved, tmp_path / "edited", lambda c: c["model"].update(velocity_input="courant"))
    assert "was changed after it was saved" in _one_line_error(folder)
    folder = _copy_with(saved, tmp_path / "dt", lambda c: c.update(dt=0.25))
    assert "was changed after it was saved" in _one_line_error(folder)
    folder = _copy_with(saved, tmp_path / "weights", lambda c: None)
    weights = bytearray((folder / "weights.eqx").read_bytes())
    weights[-1] ^= 0x40  # one bit of one weight
    (folder / "weights.eqx").write_bytes(bytes(weights))
    assert "was changed after it was saved" in _one_line_error(folder)
    # a checkpoint saved before fingerprints existed still loads, edits and all
    folder = _copy_with(
        saved, tmp_path / "old", lambda c: (c.pop("fingerprint"), c["model"].update(velocity_input="courant"))
    )
    assert ckpt.load_stepper(folder, GRID).config.velocity_input == "courant"


def test_shipped_model_is_fingerprinted():
    folder, config = ckpt.read_config("pretrained")
    assert config["fingerprint"] == ckpt.fingerprint(config, (folder / config["weights"]).read_bytes())


# --------------------------------------------------------------------------- property test
_scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
# values near the valid ones, so that generated configs also get past the type checks
_plausible = st.sampled_from(
    [
        0,
        1,
        2,
        3,
        4,
        5,
        16,
        32,
        1000,
        10**9,
        -1,
        0.5,
        2.5,
        16.0,
        "2",
        "relu",
        "gelu",
        "courant",
        "raw",
        "fct",
        "d4",
        "none",
        "interpolation",
        "diffusion",
        "bfloat16",
        "float32",
        "float64",
        [2],
        [4],
        [2, 3],
        [16],
        [16.0],
        [16, 16],
        [1.0],
        {"shape": [16], "length": [16.0]},
        "weights.eqx",
        "config.json",
        "learned-interpolation",
        "learned-advection-checkpoint",
    ]
)
_values = _json | _plausible | st.just("<delete>")
_TOP = [
    "format",
    "format_version",
    "package_version",
    "kind",
    "ndim",
    "grid",
    "dt",
    "cfl",
    "stencil",
    "model",
    "dtype",
    "step",
    "weights",
    "optimizer_state",
    "training",
    "extra",
    "fingerprint",
]
_FIELDS = (
    _TOP
    + [f"grid.{k}" for k in ("shape", "length", "spacing", "origin")]
    + [f"model.{k}" for k in TINY.to_dict()]
    + ["model.unknown"]
)


def _apply(config: dict, path: str, value) -> None:
    *parents, key = path.split(".")
    target = config
    for p in parents:
        if not isinstance(target.get(p), dict):
            return
        target = target[p]
    if value == "<delete>":
        target.pop(key, None)
    else:
        target[key] = value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    edits=st.lists(st.tuples(st.sampled_from(_FIELDS), _values), min_size=1, max_size=4), keep_fingerprint=st.booleans()
)
def test_any_config_json_loads_or_is_refused_in_one_line(saved, edits, keep_fingerprint):
    """Random JSON in any field of config.json: a working model or a one-line UserError, nothing else."""
    with tempfile.TemporaryDirectory() as tmp:

        def edit(config):
            if not keep_fingerprint:
                config.pop("fingerprint", None)
            for path, value in edits:
                _apply(config, path, value)

        folder = _copy_with(saved, Path(tmp) / "m", edit)
        try:
            model = ckpt.load_stepper(folder, GRID)
        except UserError as e:
            assert "\n" not in str(e) and str(e)
            event("refused")
            return
        event("loaded")
        assert isinstance(model, LearnedModel) and isinstance(model.config, ModelConfig)
        out = model(jnp.linspace(0.0, 1.0, 16), (jnp.full(16, 0.5),), model.trained_dt, GRID.spacing)
        assert out.shape == (16,)
