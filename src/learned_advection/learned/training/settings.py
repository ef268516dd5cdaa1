"""Training settings (``TrainConfig``), the learning-rate schedule and the optimizer."""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import optax

from learned_advection.learned.losses import LOSSES

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
