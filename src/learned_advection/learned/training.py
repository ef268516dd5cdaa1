"""Training a learned-interpolation model on windows of coarse reference trajectories.

* A batch is ``batch_size`` windows of ``unroll + 1`` consecutive coarse states, drawn uniformly over
  (trajectory, start) with ``jax.random.fold_in(key, step)``: the data order is a pure function of
  ``(seed, step)``, so resuming from a checkpoint reproduces an uninterrupted run.
* The model is unrolled ``unroll`` steps from the first state; the loss (MAE by default, MSE
  selectable) is taken over *all* unrolled steps against the reference.
* optax Adam with a learning-rate schedule (cosine decay by default), optional gradient clipping.
* Every ``eval_every`` steps the validation error -- MAE over long rollouts (``validation_steps``) of
  held-out samples -- is measured; the model with the best validation error is kept as the result
  (``best/``), because 1-D results jump between checkpoints.
* ``last/`` (weights + optimizer state) is written every ``checkpoint_every`` steps and at the end.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import shutil
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from learned_advection.data.reference import Trajectories, window_states, window_velocity
from learned_advection.errors import UserError
from learned_advection.learned import checkpoint as ckpt
from learned_advection.learned.config import ModelConfig
from learned_advection.learned.losses import LOSSES
from learned_advection.learned.models import LearnedModel, build_model
from learned_advection.numerics.rollout import batched_rollout, rollout

MAX_SEED = 2**32 - 1  # jax.random.PRNGKey wraps larger seeds onto smaller ones


def _finite_number(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    return isinstance(value, (int, np.integer)) or math.isfinite(value)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run (optimizer, schedule, unroll, validation, checkpoints, seed).

    The values are checked on construction; a bad one raises ``ValueError`` naming it.

    Parameters
    ----------
    steps : int, default 3000
        Optimizer steps in total.
    batch_size : int, default 32
        Windows per batch.
    unroll : int, default 8
        Steps the model is unrolled per window; the loss covers all of them.
    long_unroll : int, default 0
        When positive, the unroll used from step ``round(long_unroll_from * steps)`` on (a curriculum).
    long_unroll_from : float, default 0.5
        Fraction of ``steps`` after which ``long_unroll`` applies; in ``[0, 1]``.
    learning_rate : float, default 1e-3
        Peak learning rate (reached after the warm-up).
    final_learning_rate : float, default 1e-5
        Learning rate at the end of the decay.
    warmup_steps : int, default 0
        Steps of linear warm-up from ``learning_rate / 100`` to ``learning_rate``.
    schedule : {"cosine", "exponential", "constant"}, default "cosine"
        Decay from ``learning_rate`` to ``final_learning_rate`` over the steps after the warm-up.
    loss : {"mae", "mse"}, default "mae"
        Training loss over the unrolled steps (a key of ``learned.losses.LOSSES``).
    grad_clip : float or None, default 1.0
        Clip gradients to this global norm; ``0`` or ``None`` does not clip.
    eval_every : int, default 100
        Steps between validation measurements (one is also made at the last step).
    checkpoint_every : int, default 500
        Steps between ``last/`` checkpoints (one is also written at the last step).
    validation_steps : int, default 256
        Length of the validation rollouts (capped at the validation trajectories' length).
    seed : int, default 0
        Seed of the initial weights and of the batch order; in ``0 .. 2**32 - 1``.
    """

    steps: int = 3000
    batch_size: int = 32
    unroll: int = 8
    long_unroll: int = 0  # > 0: unroll this many steps from step ``long_unroll_from * steps`` on (curriculum)
    long_unroll_from: float = 0.5
    learning_rate: float = 1e-3
    final_learning_rate: float = 1e-5
    warmup_steps: int = 0
    schedule: str = "cosine"  # cosine | exponential | constant
    loss: str = "mae"  # mae | mse
    grad_clip: float | None = 1.0
    eval_every: int = 100
    checkpoint_every: int = 500
    validation_steps: int = 256
    seed: int = 0

    def __post_init__(self):
        # types and finiteness first: NaN passes every "<= 0" test, so each float is checked with isfinite
        ints = (
            "steps",
            "batch_size",
            "unroll",
            "long_unroll",
            "warmup_steps",
            "eval_every",
            "checkpoint_every",
            "validation_steps",
            "seed",
        )
        errors = [
            f"{name} must be an integer, got {getattr(self, name)!r}"
            for name in ints
            if not isinstance(getattr(self, name), (int, np.integer)) or isinstance(getattr(self, name), bool)
        ]
        floats = ("learning_rate", "final_learning_rate", "long_unroll_from") + (
            ("grad_clip",) if self.grad_clip is not None else ()
        )
        errors += [
            f"{name} must be a finite number, got {getattr(self, name)!r}"
            for name in floats
            if not _finite_number(getattr(self, name))
        ]
        if errors:
            raise ValueError("; ".join(errors))
        if self.steps < 1 or self.batch_size < 1 or self.unroll < 1:
            errors.append("steps, batch_size and unroll must be positive")
        if self.long_unroll < 0 or not 0 <= self.long_unroll_from <= 1:
            errors.append("long_unroll must be >= 0 and long_unroll_from in [0, 1]")
        if not isinstance(self.schedule, str) or self.schedule not in ("cosine", "exponential", "constant"):
            errors.append(f"schedule must be cosine, exponential or constant, got {self.schedule!r}")
        if not isinstance(self.loss, str) or self.loss not in LOSSES:
            errors.append(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.learning_rate <= 0 or self.final_learning_rate <= 0:
            errors.append("learning rates must be positive")
        if self.eval_every < 1 or self.checkpoint_every < 1 or self.validation_steps < 1:
            errors.append("eval_every, checkpoint_every and validation_steps must be positive")
        if self.warmup_steps < 0:
            errors.append(f"warmup_steps must be >= 0, got {self.warmup_steps}")
        if self.grad_clip is not None and self.grad_clip < 0:
            errors.append(f"grad_clip must be >= 0 (0 or None: no clipping), got {self.grad_clip}")
        if not 0 <= self.seed <= MAX_SEED:
            errors.append(f"seed must be in 0..{MAX_SEED} (32-bit), got {self.seed}")
        if errors:
            raise ValueError("; ".join(errors))

    def to_dict(self) -> dict:
        """The fields as a plain ``dict`` (as saved in a checkpoint)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """A config from a ``dict`` such as :meth:`to_dict` returns; unknown keys are ignored.

        Parameters
        ----------
        d : dict
            Field values; missing fields take their defaults.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


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


def learning_rate_schedule(cfg: TrainConfig) -> optax.Schedule:
    """The learning rate as a function of the step, from ``cfg.schedule`` and ``cfg.warmup_steps``.

    Parameters
    ----------
    cfg : TrainConfig
        Learning rates, schedule, warm-up and number of steps.

    Returns
    -------
    optax.Schedule
        Step -> learning rate: linear warm-up (if any), then the decay over the remaining steps.
    """
    lr, end = cfg.learning_rate, cfg.final_learning_rate
    if cfg.schedule == "constant":
        return optax.constant_schedule(lr)
    if cfg.schedule == "exponential":
        decay = optax.exponential_decay(lr, transition_steps=max(cfg.steps - cfg.warmup_steps, 1), decay_rate=end / lr)
    else:
        decay = optax.cosine_decay_schedule(lr, max(cfg.steps - cfg.warmup_steps, 1), alpha=end / lr)
    if cfg.warmup_steps <= 0:
        return decay
    warm = optax.linear_schedule(lr * 1e-2, lr, cfg.warmup_steps)
    return optax.join_schedules([warm, decay], [cfg.warmup_steps])


@functools.lru_cache(maxsize=16)  # one object per config, so jitted steps are reused across runs
def make_optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    """Adam with :func:`learning_rate_schedule`, after global-norm clipping when ``cfg.grad_clip`` is set.

    Cached: the same config gives the same object, so compiled training steps are reused.

    Parameters
    ----------
    cfg : TrainConfig
        Learning-rate schedule and gradient clipping.

    Returns
    -------
    optax.GradientTransformation
        The optimizer.
    """
    parts = [optax.clip_by_global_norm(cfg.grad_clip)] if cfg.grad_clip else []
    parts.append(optax.adam(learning_rate_schedule(cfg)))
    return optax.chain(*parts)


# --------------------------------------------------------------------------- losses
def unrolled_loss(
    model: LearnedModel,
    windows: jax.Array,
    velocity: tuple[jax.Array, ...],
    dt: float,
    spacing: tuple[float, ...],
    loss: str = "mae",
) -> jax.Array:
    """Loss over all ``unroll`` steps of a batch of windows ``(batch, unroll + 1, *space)``.

    ``velocity[a]`` is ``(batch, *space)`` (constant) or ``(batch, unroll, *space)`` (time series).

    Parameters
    ----------
    model : LearnedModel
        The model to unroll.
    windows : jax.Array
        Reference states, ``(batch, unroll + 1, *space)``; each rollout starts from the first.
    velocity : tuple of jax.Array
        Face velocities ordered like the array axes, shaped as above.
    dt : float
        Time step.
    spacing : tuple of float
        Cell width per axis, ordered like the array axes.
    loss : {"mae", "mse"}, default "mae"
        The loss function.

    Returns
    -------
    jax.Array
        Scalar loss over steps ``1..unroll`` of every window.
    """
    unroll = windows.shape[1] - 1

    def one(c_ref, vel):
        return rollout(model, c_ref[0], vel, dt, spacing, unroll, time_series=vel[0].ndim == c_ref.ndim)

    pred = jax.vmap(one)(windows, velocity)
    return LOSSES[loss](pred[:, 1:], windows[:, 1:])


@eqx.filter_jit
def _validation_mae(model, c0, velocity, reference, dt, spacing, n_steps):
    pred = batched_rollout(model, c0, velocity, dt, spacing, n_steps)
    return LOSSES["mae"](pred[:, 1:], reference[:, 1:])


def validation_error(model, data: Trajectories, n_steps: int) -> float:
    """MAE over steps ``1..n_steps`` of long rollouts from the first state of every sample.

    Parameters
    ----------
    model : LearnedModel
        The model to evaluate.
    data : Trajectories
        Validation trajectories.
    n_steps : int
        Rollout length; capped at ``data.n_steps``.

    Returns
    -------
    float
        Mean absolute error against the reference states.
    """
    n_steps = min(n_steps, data.n_steps)
    vel = tuple(jnp.asarray(u[:, :n_steps] if data.time_dependent_velocity else u) for u in data.velocity)
    ref = jnp.asarray(data.states[:, : n_steps + 1])
    return float(_validation_mae(model, ref[:, 0], vel, ref, data.dt, tuple(data.grid.spacing), n_steps))


def _batch(key, step, n_samples, n_starts, batch_size):
    k = jax.random.fold_in(key, step)
    ks, kt = jax.random.split(k)
    sample = jax.random.randint(ks, (batch_size,), 0, n_samples)
    start = jax.random.randint(kt, (batch_size,), 0, n_starts)
    return sample, start


@eqx.filter_jit
def _train_step(
    model,
    opt_state,
    step,
    data_key,
    states,
    velocity,
    optimizer,
    dt,
    spacing,
    n_samples,
    n_starts,
    batch_size,
    unroll,
    time_dependent,
    loss_name,
    batch_sharding=None,
):
    sample, start = _batch(data_key, step, n_samples, n_starts, batch_size)
    windows = window_states(states, sample, start, unroll)
    vel = window_velocity(velocity, sample, start, unroll, time_dependent)
    if batch_sharding is not None:  # data parallel: the batch axis split over the devices (XLA inserts the all-reduce)
        windows = jax.lax.with_sharding_constraint(windows, batch_sharding)
        vel = tuple(jax.lax.with_sharding_constraint(u, batch_sharding) for u in vel)
    loss, grads = eqx.filter_value_and_grad(unrolled_loss)(model, windows, vel, dt, spacing, loss_name)
    params = eqx.filter(model, eqx.is_inexact_array)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return eqx.apply_updates(model, updates), opt_state, loss


# --------------------------------------------------------------------------- the loop
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
