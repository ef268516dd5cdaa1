"""Error metrics (pure functions on numpy/jax arrays)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float


def mae(prediction: Float[Array, "..."], reference: Float[Array, "..."]) -> Array:
    """Mean absolute error over all elements."""
    return jnp.mean(jnp.abs(prediction - reference))


def mse(prediction: Float[Array, "..."], reference: Float[Array, "..."]) -> Array:
    """Mean squared error over all elements."""
    return jnp.mean(jnp.square(prediction - reference))


LOSSES = {"mae": mae, "mse": mse}


def mae_per_step(prediction: Float[Array, "sample time *space"], reference: Float[Array, "sample time *space"], ndim: int) -> np.ndarray:
    """MAE at each time step, averaged over samples and space: ``(time,)``."""
    err = np.abs(np.asarray(prediction, dtype=np.float64) - np.asarray(reference, dtype=np.float64))
    axes = (0,) + tuple(range(err.ndim - ndim, err.ndim))
    return err.mean(axis=axes)


def mean_over_steps(per_step, first: int = 1, last: int | None = None) -> float:
    """Mean of a per-step curve over steps ``first..last`` (inclusive; default: to the end)."""
    per_step = np.asarray(per_step, dtype=np.float64)
    stop = len(per_step) if last is None else last + 1
    if not 0 <= first < stop <= len(per_step):
        raise ValueError(f"steps {first}..{last} are outside a curve of {len(per_step)} points")
    return float(per_step[first:stop].mean())


def mass(c: Float[Array, "*batch *space"], ndim: int, cell_volume: float = 1.0) -> Array:
    """Total mass over the trailing ``ndim`` axes."""
    return jnp.sum(c, axis=tuple(range(c.ndim - ndim, c.ndim))) * cell_volume


def total_variation(c: Float[Array, "*batch x"]) -> Array:
    """Periodic 1-D total variation along the last axis."""
    return jnp.sum(jnp.abs(c - jnp.roll(c, 1, axis=-1)), axis=-1)
