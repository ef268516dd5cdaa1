"""Training losses: pure jax functions of a predicted and a reference batch of trajectories."""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Float


def mae(prediction: Float[Array, "..."], reference: Float[Array, "..."]) -> Array:
    """Mean absolute error over all elements."""
    return jnp.mean(jnp.abs(prediction - reference))


def mse(prediction: Float[Array, "..."], reference: Float[Array, "..."]) -> Array:
    """Mean squared error over all elements."""
    return jnp.mean(jnp.square(prediction - reference))


LOSSES = {"mae": mae, "mse": mse}
