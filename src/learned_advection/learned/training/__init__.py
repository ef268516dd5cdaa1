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

from learned_advection.learned.training.loop import TrainResult, train
from learned_advection.learned.training.settings import MAX_SEED, TrainConfig, learning_rate_schedule, make_optimizer
from learned_advection.learned.training.unrolled import unrolled_loss, validation_error
