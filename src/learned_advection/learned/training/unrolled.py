"""Losses through the unrolled solver, the validation error and the jitted training step."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from learned_advection.data.reference import Trajectories, window_states, window_velocity
from learned_advection.learned.losses import LOSSES
from learned_advection.learned.models import LearnedModel
from learned_advection.numerics.rollout import batched_rollout, rollout


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
