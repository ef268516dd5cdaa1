"""Checkpoints of learned-interpolation models: a folder with ``config.json`` and ``weights.eqx``.

Layout of a training output folder (``train(..., out_dir=DIR)``)::

    DIR/best/config.json, weights.eqx                     best validation error so far (the result)
    DIR/last/config.json, weights.eqx, opt_state.eqx      latest state, for ``--resume``

Each of ``best/`` and ``last/`` is a complete checkpoint.  ``config.json`` holds the model
hyper-parameters, grid (shape, length), dimension, dt/CFL, stencil, package version, training step and
settings, the name of the optimizer-state file and the data-order state (batches are a pure function of
``(seed, step)``, so the step *is* the RNG state).  Weights and optimizer state are written with
``eqx.tree_serialise_leaves``.

Writes are atomic: a checkpoint is written into a temporary sibling folder, the old one is renamed
aside and the new one renamed into place (``os.replace``), then the old one removed.  A reader that
finds only the aside copy (a crash between the two renames) uses it.

:func:`load_stepper` is what the simulator calls; it validates the checkpoint against the grid it will
run on and turns any missing, corrupt or mismatched checkpoint into a one-line :class:`UserError`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import numpy as np

from learned_advection._version import __version__
from learned_advection.errors import UserError
from learned_advection.files import replace_dir_atomic
from learned_advection.numerics.grids import Grid
from learned_advection.learned.models import LearnedInterpolation, ModelConfig, build_model

FORMAT = "learned-advection-checkpoint"
FORMAT_VERSION = 1
CONFIG = "config.json"
WEIGHTS = "weights.eqx"
OPT_STATE = "opt_state.eqx"
ASIDE = ".old"
_KEY = jax.random.PRNGKey(0)


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


def save_checkpoint(directory: Path, model: LearnedInterpolation, config: dict, opt_state: Any = None) -> None:
    """Write a complete checkpoint folder atomically (``opt_state`` too when given)."""
    config = dict(config)
    config["optimizer_state"] = OPT_STATE if opt_state is not None else None

    def write(tmp: Path) -> None:
        eqx.tree_serialise_leaves(tmp / WEIGHTS, model)
        if opt_state is not None:
            eqx.tree_serialise_leaves(tmp / OPT_STATE, opt_state)
        with open(tmp / CONFIG, "w") as fh:
            json.dump(config, fh, indent=2)
            fh.write("\n")

    replace_dir_atomic(Path(directory), write, aside=ASIDE)


# --------------------------------------------------------------------------- reading
PRETRAINED = Path(__file__).resolve().parent.parent / "pretrained"
PRETRAINED_DEFAULT = "turbulence-2d"


def pretrained_path(name: str = PRETRAINED_DEFAULT) -> Path:
    """The folder of a model shipped inside the package (``pretrained/NAME``)."""
    folder = PRETRAINED / name
    if not (folder / CONFIG).is_file():
        shipped = sorted(p.name for p in PRETRAINED.glob("*") if (p / CONFIG).is_file()) if PRETRAINED.is_dir() else []
        raise UserError(f"no pretrained model {name!r} in this package (shipped: {', '.join(shipped) or 'none'})")
    return folder


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
    """Resolve and read a checkpoint's ``config.json``; refuse anything that is not a valid one."""
    folder = resolve(path)
    try:
        with open(folder / CONFIG) as fh:
            config = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"corrupt checkpoint {folder}: cannot read {CONFIG} ({_one_line(e)})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise UserError(f"corrupt checkpoint {folder}: {CONFIG} is not a learned-advection checkpoint")
    if config.get("format_version") != FORMAT_VERSION:
        raise UserError(
            f"checkpoint {folder} has format version {config.get('format_version')}, this package reads {FORMAT_VERSION}"
        )
    for key in ("ndim", "grid", "dt", "model", "weights"):
        if key not in config:
            raise UserError(f"corrupt checkpoint {folder}: {CONFIG} lacks {key!r}")
    return folder, config


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return (text[:200] + "...") if len(text) > 200 else (text or type(e).__name__)


def model_config_of(config: dict, folder: Path | str = "checkpoint") -> ModelConfig:
    try:
        mc = ModelConfig.from_dict(dict(config["model"]))
    except (TypeError, ValueError) as e:
        raise UserError(f"corrupt checkpoint {folder}: bad model settings ({_one_line(e)})") from None
    if mc.ndim != config["ndim"]:
        raise UserError(f"corrupt checkpoint {folder}: model is {mc.ndim}-D but config says {config['ndim']}-D")
    return mc


def grid_of(config: dict, folder: Path | str = "checkpoint") -> Grid:
    try:
        return Grid(tuple(config["grid"]["shape"]), tuple(config["grid"]["length"]))
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"corrupt checkpoint {folder}: bad grid ({_one_line(e)})") from None


def _deserialise(file: Path, like: Any, folder: Path, what: str) -> Any:
    if not file.is_file():
        raise UserError(f"corrupt checkpoint {folder}: {what} file {file.name} is missing")
    try:
        return eqx.tree_deserialise_leaves(file, like)
    except Exception as e:  # truncated file, wrong shapes, wrong structure
        raise UserError(f"corrupt checkpoint {folder}: cannot read {what} ({_one_line(e)})") from None


def load_model(path: Path) -> tuple[LearnedInterpolation, dict]:
    """Load a model and its config from a checkpoint folder (or a training folder: uses ``best/``)."""
    folder, config = read_config(path)
    mc = model_config_of(config, folder)
    like = build_model(mc, _KEY)
    model = _deserialise(folder / str(config["weights"]), like, folder, "weights")
    bad = [x for x in jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_inexact_array)) if not np.all(np.isfinite(np.asarray(x)))]
    if bad:
        raise UserError(f"corrupt checkpoint {folder}: weights contain NaN or infinity")
    return model, config


def load_training_state(path: Path, opt_state_like: Any) -> tuple[LearnedInterpolation, Any, dict]:
    """Model, optimizer state and config of a ``last/`` checkpoint (for resuming)."""
    model, config = load_model(path)
    folder = resolve(path)
    name = config.get("optimizer_state")
    if not name:
        raise UserError(f"checkpoint {folder} has no optimizer state; cannot resume from it")
    opt_state = _deserialise(folder / name, opt_state_like, folder, "optimizer state")
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


def load_stepper(path, grid: Grid) -> LearnedInterpolation:
    """The model of a checkpoint as a stepper, checked against ``grid``, declaring its trained dt and cell size.

    Raises :class:`UserError` (one line) for a missing, corrupt or mismatched checkpoint.  The model was
    trained at one time step; a concrete ``dt`` that differs from it raises :class:`UserError` when the
    stepper is called (a traced ``dt`` is not checked).  :func:`read_config` gives the rest of the checkpoint.
    """
    model, config = load_model(path)
    folder = resolve(path)
    check_grid(config, grid, folder)
    return LearnedInterpolation(network=model.network, trained_dt=float(config["dt"]),
                                trained_spacing=grid_of(config, folder).spacing, source=str(folder))
