"""The resumable training loop (``train``), its result and the checks for resuming a saved run."""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from learned_advection.data.reference import Trajectories
from learned_advection.errors import UserError
from learned_advection.learned import checkpoint as ckpt
from learned_advection.learned.config import ModelConfig
from learned_advection.learned.models import LearnedModel, build_model
from learned_advection.learned.training.settings import (
    TrainConfig,
    _finite_number,
    learning_rate_schedule,
    make_optimizer,
)
from learned_advection.learned.training.unrolled import _train_step, validation_error


@dataclasses.dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    model : LearnedModel
        The model with the best validation error.
    best_step : int
        Step at which ``model`` was measured (0: the initial model given as ``init``).
    best_validation : float
        Its validation error (MAE over long rollouts).
    history : list of dict
        One entry per validation: ``{"step", "loss", "validation", "lr"}``; ``loss`` is the mean training
        loss since the previous entry.
    seconds : float
        Wall-clock time of the training loop.
    last_model : LearnedModel
        The model after the last step.
    """

    model: LearnedModel  # the best (validation-selected) model
    best_step: int
    best_validation: float
    history: list[dict]  # {"step", "loss", "validation"} at every evaluation
    seconds: float
    last_model: LearnedModel


def _resumable(out_dir: Path, saved: dict, model_config: ModelConfig, config: TrainConfig) -> dict:
    """The saved ``training`` entry of a ``last/`` checkpoint, if this run can continue it; else a
    one-line :class:`UserError` saying what differs."""
    saved_train = saved.get("training") or {}
    where = f"cannot resume {out_dir}"
    origin = (saved.get("extra") or {}).get("experiment")
    hint = (
        f"; it was saved by `learned-advection reproduce {origin}`, which continues it with --resume"
        if isinstance(origin, str) and origin
        else ""
    )
    saved_model = ckpt.model_config_of(saved, out_dir / "last")
    if saved_model != model_config:
        diff = _differences(saved_model.to_dict(), model_config.to_dict())
        raise UserError(f"{where}: the model settings differ from the saved run ({diff}){hint}")
    saved_config = saved_train.get("config")
    if not isinstance(saved_config, dict):
        raise UserError(f"corrupt checkpoint {out_dir / 'last'}: no training settings to resume with")
    ours = config.to_dict()
    mine = {k: v for k, v in ours.items() if k != "steps"}
    theirs = {k: v for k, v in saved_config.items() if k != "steps"}
    if theirs != mine:
        diff = _differences(theirs, mine)
        raise UserError(
            f"{where}: the training settings differ from the saved run ({diff}; only --steps may change){hint}"
        )
    history, best_step, best = (saved_train.get(k) for k in ("history", "best_step", "best_validation"))
    if (
        not isinstance(history if history is not None else [], list)
        or not isinstance(best_step if best_step is not None else 0, int)
        or isinstance(best_step, bool)
        or not (best is None or (_finite_number(best) and best >= 0))
    ):
        raise UserError(
            f"corrupt checkpoint {out_dir / 'last'}: bad training history (history, best_step, best_validation)"
        )
    return saved_train


def _differences(saved: dict, ours: dict) -> str:
    """``name saved vs this run`` for every entry that differs (a few at most)."""
    names = sorted(set(saved) | set(ours), key=lambda k: (k not in ours, k))
    diffs = [
        f"{k} {saved.get(k, '(none)')!r} saved vs {ours.get(k, '(none)')!r} now"
        for k in names
        if saved.get(k) != ours.get(k)
    ]
    return ", ".join(diffs[:4]) + (f" and {len(diffs) - 4} more" if len(diffs) > 4 else "")


def _remove_own(out_dir: Path, created: Path | None, before: set) -> str:
    """Remove what a (diverged) run wrote under ``out_dir``: the folders it created, or else the
    checkpoints that were not there before it.  Returns what was removed, for the message."""
    if created is not None:
        shutil.rmtree(created, ignore_errors=True)
        return f"{created}/"
    removed = []
    for name in ("best", "last", "best" + ckpt.ASIDE, "last" + ckpt.ASIDE):
        if name not in before and (out_dir / name).exists():
            shutil.rmtree(out_dir / name, ignore_errors=True)
            removed.append(f"{out_dir / name}/")
    return ", ".join(removed)


def train(
    model_config: ModelConfig,
    train_data: Trajectories,
    validation_data: Trajectories,
    config: TrainConfig,
    out_dir: Path | None = None,
    resume: bool = False,
    progress: bool = True,
    extra: dict | None = None,
    description: str = "train",
    stop_after: int | None = None,
    data_parallel: bool = False,
    init=None,
) -> TrainResult:
    """Train (or resume training of) a model; returns the validation-selected best model.

    With ``out_dir``, ``best/`` and ``last/`` checkpoints are written there (see
    :mod:`learned_advection.learned.checkpoint`); ``resume=True`` continues from ``out_dir/last``.
    ``stop_after`` stops the loop after that many iterations without a final checkpoint, as an
    interruption would (used to test resuming).  ``data_parallel`` splits every batch over all
    ``jax.devices()`` (the batch size must be a multiple of their number); the loss trajectory equals a
    one-device run to float round-off.  On several hosts call ``jax.distributed.initialize()`` first.
    ``init`` (a trained model of the same ``model_config``) starts from its weights instead of a fresh
    initialisation (fine-tuning); it is validated first, so the returned best model is never worse on
    the validation set than ``init``.

    Parameters
    ----------
    model_config : ModelConfig
        The model to build and train; its dimension must match the data's.
    train_data : Trajectories
        Training trajectories, at least ``max(unroll, long_unroll)`` steps long.
    validation_data : Trajectories
        Held-out trajectories for the validation error.
    config : TrainConfig
        Training settings.
    out_dir : pathlib.Path, optional
        Folder for the ``best/`` and ``last/`` checkpoints; ``None`` (default) writes nothing.
    resume : bool, default False
        Continue the run in ``out_dir/last`` (same settings except ``steps``).
    progress : bool, default True
        Show a progress bar.
    extra : dict, optional
        Additional entries saved in the checkpoints' configuration.
    description : str, default "train"
        Label of the progress bar.
    stop_after : int, optional
        Stop after this many steps in total, without the final checkpoint.
    data_parallel : bool, default False
        Split every batch over all ``jax.devices()``.
    init : LearnedModel, optional
        Model of the same ``model_config`` to start from instead of fresh weights.

    Returns
    -------
    TrainResult
        The best and the last model, the best step and validation error, the history and the time taken.

    Raises
    ------
    UserError
        If the data, settings, output folder or saved run do not fit, or the validation error is never finite.
    """
    from learned_advection.progress import progress_bar

    max_unroll = max(config.unroll, config.long_unroll)
    if train_data.n_steps < max_unroll:
        raise UserError(f"training trajectories have {train_data.n_steps} steps, fewer than unroll = {max_unroll}")
    if model_config.ndim != train_data.grid.ndim:
        raise UserError(f"a {model_config.ndim}-D model cannot train on {train_data.grid.ndim}-D data")
    grid, dt, spacing = train_data.grid, float(train_data.dt), tuple(train_data.grid.spacing)
    dtype = jnp.result_type(float)
    states = jnp.asarray(train_data.states, dtype)
    velocity = tuple(jnp.asarray(u, dtype) for u in train_data.velocity)
    time_dependent = train_data.time_dependent_velocity
    n_samples = train_data.n_samples
    switch = int(round(config.long_unroll_from * config.steps)) if config.long_unroll else config.steps + 1
    batch_sharding = None
    if data_parallel:
        devices = jax.devices()
        if config.batch_size % len(devices):
            raise UserError(
                f"--data-parallel: the batch size {config.batch_size} is not a multiple of the {len(devices)} devices"
            )
        mesh = jax.sharding.Mesh(np.array(devices), ("batch",))
        batch_sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("batch"))

    def unroll_at(step: int) -> int:
        return config.long_unroll if step >= switch else config.unroll

    key = jax.random.PRNGKey(config.seed)
    init_key, data_key = jax.random.split(key)
    optimizer = make_optimizer(config)
    if init is not None and getattr(init, "config", None) != model_config:
        raise UserError("the initial model's settings differ from the model to train")
    model = build_model(model_config, init_key) if init is None else init
    opt_state = eqx.filter_jit(optimizer.init)(eqx.filter(model, eqx.is_inexact_array))
    start_step, history = 0, []
    best_model, best_step, best_val = model, 0, float("inf")
    out_dir = None if out_dir is None else Path(out_dir)
    created = None  # the outermost folder this call creates (removed again if the run diverges)
    before = set()  # checkpoints that were there before (a diverged run removes only its own)
    if out_dir is not None and not resume:
        created = next((p for p in reversed((out_dir, *out_dir.parents)) if not p.exists()), None)
        before = {p.name for p in out_dir.iterdir()} if out_dir.is_dir() else set()
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"cannot create checkpoint folder {out_dir}: {e.strerror or e}") from None
        if not os.access(out_dir, os.W_OK | os.X_OK):
            raise UserError(f"checkpoint folder {out_dir} is not writable")

    if resume:
        if out_dir is None:
            raise UserError("--resume needs an output folder with a previous run")
        if not (out_dir / "last").exists() and not (out_dir / ("last" + ckpt.ASIDE)).exists():
            runs = [p.parent.name for p in sorted(out_dir.glob("*/last")) if (p / ckpt.CONFIG).is_file()]
            hint = (
                (
                    f" (its {', '.join(r + '/' for r in runs)} {'holds' if len(runs) == 1 else 'hold'} the training of "
                    f"a `reproduce` command: continue that command with --resume)"
                )
                if runs
                else ""
            )
            raise UserError(f"nothing to resume: {out_dir} has no last/ checkpoint{hint}")
        # everything that decides whether the run can continue is checked before the saved state is read
        # (an optimizer state of other shapes would otherwise read as a corrupt file)
        _, saved = ckpt.read_config(out_dir / "last")
        saved_train = _resumable(out_dir, saved, model_config, config)
        ckpt.check_grid(saved, grid, out_dir / "last")
        model, opt_state, saved = ckpt.load_training_state(out_dir / "last", opt_state)
        start_step = int(saved["step"])
        history = list(saved_train.get("history", []))
        best_step = int(saved_train.get("best_step", 0))
        best_val = saved_train.get("best_validation")
        best_val = float("inf") if best_val is None else float(best_val)
        best_model = ckpt.load_model(out_dir / "best")[0] if (out_dir / "best").exists() else model

    schedule = learning_rate_schedule(config)

    def save_config(step, with_opt):
        training = {
            "config": config.to_dict(),
            "history": history,
            "best_step": best_step,
            "best_validation": best_val if np.isfinite(best_val) else None,
            "data_order": "jax.random.fold_in(split(PRNGKey(seed))[1], step): resume needs only seed and step",
            "n_train_samples": n_samples,
            "n_validation_samples": validation_data.n_samples,
        }
        return ckpt.make_config(model_config, grid, dt, step, training, extra, with_opt, str(jnp.dtype(dtype)))

    t0 = time.perf_counter()
    if init is not None and not resume:  # the starting point is a candidate too (step 0)
        best_val = validation_error(model, validation_data, config.validation_steps)
        history.append({"step": 0, "loss": None, "validation": best_val, "lr": float(schedule(0))})
        if out_dir is not None:
            ckpt.save_checkpoint(out_dir / "best", model, save_config(0, False))
    loss_sum, loss_count = jnp.zeros((), dtype), 0
    bar = progress_bar(
        total=config.steps, initial=start_step, desc=description, enabled=progress, unit="it", leave=False
    )
    try:
        for step in range(start_step, config.steps):
            model, opt_state, loss = _train_step(
                model,
                opt_state,
                jnp.asarray(step),
                data_key,
                states,
                velocity,
                optimizer,
                dt,
                spacing,
                n_samples,
                train_data.n_steps - unroll_at(step) + 1,
                config.batch_size,
                unroll_at(step),
                time_dependent,
                config.loss,
                batch_sharding,
            )
            loss_sum, loss_count = loss_sum + loss, loss_count + 1  # no host sync per step
            done = step + 1
            if done % config.eval_every == 0 or done == config.steps:
                val = validation_error(model, validation_data, config.validation_steps)
                mean_loss = float(loss_sum) / loss_count
                history.append({"step": done, "loss": mean_loss, "validation": val, "lr": float(schedule(step))})
                loss_sum, loss_count = jnp.zeros((), dtype), 0
                if val < best_val:
                    best_model, best_step, best_val = model, done, val
                    if out_dir is not None:
                        ckpt.save_checkpoint(out_dir / "best", model, save_config(done, False))
                bar.set_postfix(loss=f"{history[-1]['loss']:.2e}", val=f"{val:.2e}", best=f"{best_val:.2e}")
            elif progress and done % 10 == 0:
                bar.set_postfix(loss=f"{float(loss):.2e}", best=f"{best_val:.2e}")
            if out_dir is not None and (done % config.checkpoint_every == 0 or done == config.steps):
                ckpt.save_checkpoint(out_dir / "last", model, save_config(done, True), opt_state)
            bar.update(1)
            if stop_after is not None and done >= stop_after:
                break
    finally:
        bar.close()
    if not np.isfinite(best_val) and stop_after is None:
        kept = ""
        if out_dir is not None:  # leave no checkpoint of a diverged run behind, only what was there before
            removed = _remove_own(out_dir, created, before)
            kept = f"; removed {removed}" if removed else ""
        raise UserError(f"training diverged: the validation error was never finite (try a smaller learning rate){kept}")
    return TrainResult(best_model, best_step, best_val, history, time.perf_counter() - t0, model)
