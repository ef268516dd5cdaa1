"""Checkpoints of learned-interpolation models: a folder with ``config.json`` and ``weights.eqx``.

Layout of a training output folder (``train(..., out_dir=DIR)``)::

    DIR/best/config.json, weights.eqx                     best validation error so far (the result)
    DIR/last/config.json, weights.eqx, opt_state.eqx      latest state, for ``--resume``

Each of ``best/`` and ``last/`` is a complete checkpoint.  ``config.json`` holds the model
hyper-parameters, grid (shape, length), dimension, dt/CFL, stencil, package version, training step and
settings, the name of the optimizer-state file and the data-order state (batches are a pure function of
``(seed, step)``, so the step *is* the RNG state).  Weights and optimizer state are written with
``eqx.tree_serialise_leaves``.  ``fingerprint`` is the sha256 of the entries that decide what the model
computes (:data:`FINGERPRINTED`) and of the weights file: a hand-edited ``config.json`` (or weights
file) is refused when loaded; checkpoints written before fingerprints existed load without the check.
Reading validates every entry (types, ranges, the weights file's size against the parameter count)
before any network is built, and loads the weights in the dtype of the run (float32 weights run
under ``--x64``).

Writes are atomic: a checkpoint is written into a temporary sibling folder, the old one is renamed
aside and the new one renamed into place (``os.replace``), then the old one removed.  A reader that
finds only the aside copy (a crash between the two renames) uses it.

:func:`load_stepper` is what the simulator calls; it validates the checkpoint against the grid it will
run on and turns any missing, corrupt or mismatched checkpoint into a one-line :class:`UserError`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from learned_advection._version import __version__
from learned_advection.errors import UserError
from learned_advection.files import replace_dir_atomic
from learned_advection.learned.config import ModelConfig, parameter_count
from learned_advection.learned.models import LearnedModel, compose
from learned_advection.learned.network import Network
from learned_advection.numerics.grids import Grid

FORMAT = "learned-advection-checkpoint"
FORMAT_VERSION = 1
CONFIG = "config.json"
WEIGHTS = "weights.eqx"
OPT_STATE = "opt_state.eqx"
ASIDE = ".old"
_KEY = jax.random.PRNGKey(0)
DTYPES = ("float32", "float64")  # the float type the weights were saved in ("dtype" in config.json)
# The entries of config.json that decide what the model computes and where it may run: hashed with
# the weights file's bytes into "fingerprint" when saving, and checked when loading, so a hand edit
# (say velocity_input courant -> raw) is refused instead of silently running another model.
FINGERPRINTED = ("ndim", "grid", "dt", "stencil", "model", "dtype")
MAX_CONFIG_BYTES = 16 * 2**20  # a config.json larger than this is refused unread
MAX_GRID_CELLS = 2**31 - 1  # per axis
_NPY_HEADER = (10, 4096)  # bytes of one .npy header in a weights file: at least, at most (per array)


# --------------------------------------------------------------------------- writing
def make_config(
    model_config: ModelConfig,
    grid: Grid,
    dt: float,
    step: int,
    training: dict | None = None,
    extra: dict | None = None,
    with_opt_state: bool = False,
    dtype: str = "float32",
) -> dict:
    """The ``config.json`` contents of a checkpoint."""
    max_speed = (extra or {}).get("max_speed")
    cfl = None if max_speed is None else float(max_speed) * dt / min(grid.spacing)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "kind": "learned-interpolation",
        "ndim": model_config.ndim,
        "grid": {"shape": list(grid.shape), "length": list(grid.length), "spacing": list(grid.spacing)},
        "dt": float(dt),
        "cfl": cfl,
        "stencil": list(model_config.stencil),
        "model": model_config.to_dict(),
        "dtype": dtype,
        "step": int(step),
        "weights": WEIGHTS,
        "optimizer_state": OPT_STATE if with_opt_state else None,
        "training": training or {},
        **({"extra": extra} if extra else {}),
    }


def save_checkpoint(directory: Path, model: LearnedModel, config: dict, opt_state: Any = None) -> None:
    """Write a complete checkpoint folder atomically (``opt_state`` too when given); the weights are the
    model's network's array leaves."""
    config = dict(config)
    config["optimizer_state"] = OPT_STATE if opt_state is not None else None
    config["weights"] = WEIGHTS

    def write(tmp: Path) -> None:
        eqx.tree_serialise_leaves(tmp / WEIGHTS, model.network)
        if opt_state is not None:
            eqx.tree_serialise_leaves(tmp / OPT_STATE, opt_state)
        config["fingerprint"] = fingerprint(config, (tmp / WEIGHTS).read_bytes())
        with open(tmp / CONFIG, "w") as fh:
            json.dump(config, fh, indent=2)
            fh.write("\n")

    replace_dir_atomic(Path(directory), write, aside=ASIDE)


def fingerprint(config: dict, weights: bytes) -> str:
    """``sha256:HEX`` of the canonical JSON of the :data:`FINGERPRINTED` entries and the weights file's bytes."""
    settings = json.dumps({k: config.get(k) for k in FINGERPRINTED}, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(settings.encode())
    digest.update(b"\0")
    digest.update(weights)
    return "sha256:" + digest.hexdigest()


# --------------------------------------------------------------------------- reading
PRETRAINED = Path(__file__).resolve().parent.parent / "pretrained"
PRETRAINED_DEFAULT = "turbulence-2d"


def shipped_models() -> list[str]:
    """The names of the models shipped inside the package (the folders of ``pretrained/`` with a ``config.json``)."""
    if not PRETRAINED.is_dir():
        return []
    return sorted(p.name for p in PRETRAINED.iterdir() if p.is_dir() and (p / CONFIG).is_file())


def pretrained_path(name: str = PRETRAINED_DEFAULT) -> Path:
    """The folder of a model shipped inside the package (``pretrained/NAME``).

    Only the names :func:`shipped_models` lists are accepted: a path (``pretrained:/any/folder``,
    ``pretrained:../x``) never reaches outside the package; a checkpoint elsewhere is given by its path.

    Parameters
    ----------
    name : str, default "turbulence-2d"
        The shipped model's name.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    UserError
        No shipped model of that name.
    """
    shipped = shipped_models()
    if name not in shipped:
        raise UserError(
            f"no pretrained model {name!r} in this package (shipped: {', '.join(shipped) or 'none'}); "
            "give a checkpoint elsewhere by its path"
        )
    return PRETRAINED / name


def resolve(path: Path | str) -> Path:
    """The checkpoint folder for ``path``: itself if it holds ``config.json``, else its ``best/`` or ``last/``.

    ``"pretrained"`` (or ``"pretrained:NAME"``) names a model shipped with the package; a local folder
    of that name needs another spelling of its path (absolute, or its ``best/`` subfolder).
    """
    text = str(path)
    if text == "pretrained":
        return pretrained_path()
    if text.startswith("pretrained:"):
        return pretrained_path(text.split(":", 1)[1])
    path = Path(path)
    if not path.exists():
        raise UserError(f"model checkpoint {path} does not exist")
    candidates = [path, path / "best", path / ("best" + ASIDE), path / "last", path / ("last" + ASIDE)]
    if path.name in ("best", "last"):
        candidates.insert(1, path.with_name(path.name + ASIDE))
    for c in candidates:
        if (c / CONFIG).is_file():
            return c
    raise UserError(f"{path} is not a model checkpoint (no {CONFIG} in it or in best/ or last/)")


def read_config(path: Path) -> tuple[Path, dict]:
    """Resolve and read a checkpoint's ``config.json``; refuse anything that is not a valid one.

    Every entry is checked (type, range, consistency with the model settings), the weights file's
    size against the parameter count the settings imply, and the fingerprint (when the checkpoint has
    one: those written before it was introduced load without) against the settings and the weights:
    all before anything is allocated.  Any failure is a one-line :class:`UserError`.
    """
    folder = resolve(path)
    try:
        size = (folder / CONFIG).stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise UserError(
                f"corrupt checkpoint {folder}: {CONFIG} has {size:,} bytes, more than a checkpoint's "
                f"{MAX_CONFIG_BYTES:,}"
            )
        with open(folder / CONFIG, encoding="utf-8") as fh:
            config = json.load(fh)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:  # ValueError: bad JSON, huge integers
        raise UserError(f"corrupt checkpoint {folder}: cannot read {CONFIG} ({_one_line(e)})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise UserError(f"corrupt checkpoint {folder}: {CONFIG} is not a learned-advection checkpoint")
    version = config.get("format_version")
    if not _is_int(version) or version != FORMAT_VERSION:
        raise UserError(
            f"checkpoint {folder} has format version {_short(version)}, this package reads {FORMAT_VERSION}"
        )
    for key in ("ndim", "grid", "dt", "model", "weights"):
        if key not in config:
            raise UserError(f"corrupt checkpoint {folder}: {CONFIG} lacks {key!r}")
    problem = _config_problem(config)
    if problem:
        raise UserError(f"corrupt checkpoint {folder}: {CONFIG}: {problem}")
    mc = model_config_of(config, folder)
    if "stencil" in config and config["stencil"] != list(mc.stencil):
        raise UserError(
            f"corrupt checkpoint {folder}: {CONFIG}: 'stencil' {_short(config['stencil'])} differs from the "
            f"model's {list(mc.stencil)}"
        )
    _check_weights_file(folder, config, mc)
    return folder, config


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _plain_file_name(value) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= 255
        and value not in (".", "..")
        and not any(ch in value for ch in "/\\\0")
    )


def _config_problem(config: dict) -> str | None:
    """What is wrong with the entries of a ``config.json`` (``None``: nothing); the model settings
    themselves are checked by :class:`ModelConfig`."""
    ndim = config["ndim"]
    if not _is_int(ndim) or ndim not in (1, 2):
        return f"'ndim' must be the integer 1 or 2, got {_short(ndim)}"
    grid = config["grid"]
    if not isinstance(grid, dict) or "shape" not in grid or "length" not in grid:
        return f"'grid' must be an object with 'shape' and 'length', got {_short(grid)}"
    shape, length = grid["shape"], grid["length"]
    if (
        not isinstance(shape, list)
        or len(shape) != ndim
        or not all(_is_int(n) and 1 <= n <= MAX_GRID_CELLS for n in shape)
    ):
        return f"'grid.shape' must be {ndim} positive integer(s), got {_short(shape)}"
    if not isinstance(length, list) or len(length) != ndim or not all(_is_real(v) and v > 0 for v in length):
        return f"'grid.length' must be {ndim} positive finite number(s), got {_short(length)}"
    if "spacing" in grid:
        spacing = grid["spacing"]
        if not isinstance(spacing, list) or len(spacing) != ndim or not all(_is_real(v) and v > 0 for v in spacing):
            return f"'grid.spacing' must be {ndim} positive finite number(s), got {_short(spacing)}"
        if not all(math.isclose(d, L / n, rel_tol=1e-6) for d, L, n in zip(spacing, length, shape)):
            return f"'grid.spacing' {_short(spacing)} is not 'grid.length' / 'grid.shape'"
    if "origin" in grid:
        origin = grid["origin"]
        if not isinstance(origin, list) or len(origin) != ndim or not all(_is_real(v) for v in origin):
            return f"'grid.origin' must be {ndim} finite number(s), got {_short(origin)}"
    dt = config["dt"]
    if not _is_real(dt) or dt <= 0:
        return f"'dt' must be a positive finite number, got {_short(dt)}"
    cfl = config.get("cfl")
    if cfl is not None and (not _is_real(cfl) or cfl < 0):
        return f"'cfl' must be null or a finite number >= 0, got {_short(cfl)}"
    if not isinstance(config["model"], dict):
        return f"'model' must be an object of model settings, got {_short(config['model'])}"
    if config.get("kind", "learned-interpolation") != "learned-interpolation":
        return f"'kind' must be 'learned-interpolation', got {_short(config.get('kind'))}"
    if config.get("dtype", "float32") not in DTYPES:
        return f"'dtype' must be one of {', '.join(DTYPES)}, got {_short(config.get('dtype'))}"
    step = config.get("step", 0)
    if not _is_int(step) or step < 0:
        return f"'step' must be an integer >= 0, got {_short(step)}"
    if not _plain_file_name(config["weights"]):
        return f"'weights' must be a file name in the checkpoint folder, got {_short(config['weights'])}"
    opt = config.get("optimizer_state")
    if opt is not None and not _plain_file_name(opt):
        return f"'optimizer_state' must be null or a file name in the checkpoint folder, got {_short(opt)}"
    for key in ("training", "extra"):  # informational (resuming checks "training" itself)
        if config.get(key) is not None and not isinstance(config[key], dict):
            return f"{key!r} must be null or an object, got {_short(config[key])}"
    if "package_version" in config and not isinstance(config["package_version"], str):
        return f"'package_version' must be a string, got {_short(config['package_version'])}"
    mark = config.get("fingerprint")
    if mark is not None and not (isinstance(mark, str) and re.fullmatch(r"sha256:[0-9a-f]{64}", mark)):
        return f"'fingerprint' must be 'sha256:' and 64 hexadecimal digits, got {_short(mark)}"
    return None


def _check_weights_file(folder: Path, config: dict, mc: ModelConfig) -> None:
    """The weights file exists, its size fits the parameter count of ``mc`` (before any network is
    built), and it matches the fingerprint when there is one."""
    file = folder / config["weights"]
    if not file.is_file():
        raise UserError(f"corrupt checkpoint {folder}: weights file {file.name} is missing")
    itemsize = np.dtype(config.get("dtype", "float32")).itemsize
    data, arrays = parameter_count(mc) * itemsize, 2 * mc.layers  # a weight and a bias per convolution
    size = file.stat().st_size
    if not data + arrays * _NPY_HEADER[0] <= size <= data + arrays * _NPY_HEADER[1]:
        raise UserError(
            f"corrupt checkpoint {folder}: weights file {file.name} has {size:,} bytes, but the model in "
            f"{CONFIG} ({mc.layers} layers x {mc.filters} filters, {config.get('dtype', 'float32')}) "
            f"needs {data:,} bytes of weights"
        )
    mark = config.get("fingerprint")
    if mark is not None:
        try:
            weights = file.read_bytes()
        except OSError as e:
            raise UserError(f"corrupt checkpoint {folder}: cannot read {file.name} ({_one_line(e)})") from None
        if fingerprint(config, weights) != mark:
            raise UserError(
                f"checkpoint {folder} was changed after it was saved: its model settings or weights do not "
                f"match the fingerprint in {CONFIG} (restore the saved files, or retrain)"
            )


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return (text[:200] + "...") if len(text) > 200 else (text or type(e).__name__)


def model_config_of(config: dict, folder: Path | str = "checkpoint") -> ModelConfig:
    """The model settings of a checkpoint's config (typed and bounded by :class:`ModelConfig`)."""
    settings = config.get("model")
    if not isinstance(settings, dict):
        raise UserError(f"corrupt checkpoint {folder}: the model settings are not an object")
    try:
        mc = ModelConfig.from_dict(dict(settings))
    except (TypeError, ValueError) as e:
        raise UserError(f"corrupt checkpoint {folder}: bad model settings ({_one_line(e)})") from None
    ndim = config.get("ndim")
    if not _is_int(ndim) or mc.ndim != ndim:
        raise UserError(f"corrupt checkpoint {folder}: the model is {mc.ndim}-D but 'ndim' is {_short(ndim)}")
    return mc


def grid_of(config: dict, folder: Path | str = "checkpoint") -> Grid:
    try:
        return Grid(tuple(config["grid"]["shape"]), tuple(config["grid"]["length"]))
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"corrupt checkpoint {folder}: bad grid ({_one_line(e)})") from None


def _leaf_reader(saved_float: np.dtype):
    """An equinox deserialisation filter: every array leaf is read as saved (its header checked
    against the template's shape, floats against ``saved_float``, before any data is read) and cast to
    the template's dtype, so float32 weights load into a float64 (``--x64``) model and back."""
    fmt = np.lib.format

    def read(f, like):
        if not isinstance(like, (jax.Array, np.ndarray)):
            return eqx.default_deserialise_filter_spec(f, like)
        version = fmt.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"unsupported array format version {version}")
        header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = header(f)
        want = saved_float if jnp.issubdtype(like.dtype, jnp.floating) else np.dtype(like.dtype)
        if tuple(shape) != tuple(like.shape) or fortran or dtype.kind != want.kind or dtype.itemsize != want.itemsize:
            raise ValueError(
                f"array of shape {tuple(shape)} and dtype {dtype}, expected {tuple(like.shape)} and {want}"
            )
        nbytes = math.prod(shape) * dtype.itemsize
        data = f.read(nbytes)
        if len(data) != nbytes:
            raise ValueError("the file is truncated")
        value = np.frombuffer(data, dtype).reshape(shape)
        if isinstance(like, np.ndarray):
            return value.astype(like.dtype)
        return jnp.asarray(value, dtype=like.dtype)

    return read


def _deserialise(file: Path, like: Any, folder: Path, what: str, saved_float: str = "float32") -> Any:
    if not file.is_file():
        raise UserError(f"corrupt checkpoint {folder}: {what} file {file.name} is missing")
    try:
        with open(file, "rb") as fh:
            out = eqx.tree_deserialise_leaves(fh, like, filter_spec=_leaf_reader(np.dtype(saved_float)))
            if fh.read(1):
                raise ValueError("unexpected data after the last array")
        return out
    except Exception as e:  # truncated file, wrong shapes, wrong structure
        raise UserError(f"corrupt checkpoint {folder}: cannot read {what} ({_one_line(e)})") from None


def load_model(path: Path) -> tuple[LearnedModel, dict]:
    """Load a model and its config from a checkpoint folder (or a training folder: uses ``best/``).

    The weights are read into a freshly built :class:`~learned_advection.learned.network.Network` of the
    saved settings and take the dtype the run uses (float64 under ``--x64``), whatever they were saved in;
    the model is :func:`~learned_advection.learned.models.compose` of the settings over it.
    """
    folder, config = read_config(path)
    mc = model_config_of(config, folder)
    like = Network(mc, key=_KEY)  # bounded: read_config checked the parameter count against the file
    network = _deserialise(folder / config["weights"], like, folder, "weights", config.get("dtype", "float32"))
    bad = [
        x
        for x in jax.tree_util.tree_leaves(eqx.filter(network, eqx.is_inexact_array))
        if not np.all(np.isfinite(np.asarray(x)))
    ]
    if bad:
        raise UserError(f"corrupt checkpoint {folder}: weights contain NaN or infinity")
    return LearnedModel(compose(mc, network)), config


def load_training_state(path: Path, opt_state_like: Any) -> tuple[LearnedModel, Any, dict]:
    """Model, optimizer state and config of a ``last/`` checkpoint (for resuming)."""
    model, config = load_model(path)
    folder = resolve(path)
    name = config.get("optimizer_state")
    if not name:
        raise UserError(f"checkpoint {folder} has no optimizer state; cannot resume from it")
    opt_state = _deserialise(folder / name, opt_state_like, folder, "optimizer state", config.get("dtype", "float32"))
    return model, opt_state, config


def check_grid(config: dict, grid: Grid, folder: Path | str = "checkpoint") -> None:
    """Refuse a grid the model was not trained for (dimension or cell size)."""
    if grid.ndim != config["ndim"]:
        raise UserError(f"model {folder} is for {config['ndim']}-D grids, but the grid is {grid.ndim}-D")
    trained = grid_of(config, folder)
    if not all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(trained.spacing, grid.spacing)):
        raise UserError(
            f"model {folder} was trained with cell size {list(trained.spacing)}, the grid has {list(grid.spacing)}"
        )


def load_stepper(path, grid: Grid) -> LearnedModel:
    """The model of a checkpoint as a stepper, checked against ``grid``, declaring its trained dt and cell size.

    Raises :class:`UserError` (one line) for a missing, corrupt or mismatched checkpoint.  The model was
    trained at one time step; a concrete ``dt`` that differs from it raises :class:`UserError` when the
    stepper is called (a traced ``dt`` is not checked).  :func:`read_config` gives the rest of the checkpoint.
    """
    model, config = load_model(path)
    folder = resolve(path)
    check_grid(config, grid, folder)
    return LearnedModel(model.stepper, float(config["dt"]), grid_of(config, folder).spacing, str(folder))
