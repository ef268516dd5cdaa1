"""Time integration with ``jax.lax.scan`` for any stepper ``step(c, velocity, dt, spacing)``.

Velocity may be

* constant: a tuple of face-velocity arrays (one per axis);
* a time series: a tuple of arrays with a leading time axis of length ``n_steps``
  (``velocity[a][n]`` is used for step ``n``, i.e. for the update from ``t_n`` to ``t_{n+1}``);
* a function ``t -> tuple`` (jax-traceable), evaluated at the midpoint ``t_n + dt/2`` of every step.

Nothing here is jitted: wrap the call in ``jax.jit`` (with ``n_steps``/``save_every`` static), and
batch with ``jax.vmap``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

Stepper = Callable[..., Array]


def _check_counts(n_steps: int, save_every: int) -> int:
    if n_steps < 0 or save_every < 1:
        raise ValueError(f"need n_steps >= 0 and save_every >= 1, got {n_steps} and {save_every}")
    if n_steps % save_every:
        raise ValueError(f"n_steps ({n_steps}) must be a multiple of save_every ({save_every})")
    return n_steps // save_every


def rollout(
    step: Stepper,
    c0: Float[Array, "*space"],
    velocity,
    dt: float,
    spacing: Sequence[float],
    n_steps: int,
    save_every: int = 1,
    t0: float = 0.0,
    time_series: bool | None = None,
) -> Float[Array, "n_saved *space"]:
    """Integrate ``n_steps`` steps; return the states at steps ``0, k, 2k, ..., n_steps`` (initial first)."""
    n_saved = _check_counts(n_steps, save_every)
    spacing = tuple(spacing)
    if callable(velocity):
        velocity_fn = velocity

        def advance(carry, _):
            c, t = carry
            c = step(c, velocity_fn(t + 0.5 * dt), dt, spacing)
            return (c, t + dt), None

        def chunk(carry, _):
            carry, _ = jax.lax.scan(advance, carry, None, length=save_every)
            return carry, carry[0]

        _, saved = jax.lax.scan(chunk, (c0, jnp.asarray(t0, c0.dtype)), None, length=n_saved)
    else:
        velocity = tuple(velocity)
        if time_series is None:
            time_series = velocity[0].ndim == c0.ndim + 1
        if time_series:
            if velocity[0].shape[0] < n_steps:
                raise ValueError(f"velocity time series has {velocity[0].shape[0]} steps, need {n_steps}")
            xs = tuple(u[:n_steps].reshape((n_saved, save_every) + u.shape[1:]) for u in velocity)

            def chunk(c, vel_chunk):
                c, _ = jax.lax.scan(lambda c, v: (step(c, v, dt, spacing), None), c, vel_chunk)
                return c, c

            _, saved = jax.lax.scan(chunk, c0, xs)
        else:

            def chunk(c, _):
                c, _ = jax.lax.scan(lambda c, _: (step(c, velocity, dt, spacing), None), c, None, length=save_every)
                return c, c

            _, saved = jax.lax.scan(chunk, c0, None, length=n_saved)
    return jnp.concatenate([c0[None], saved], axis=0)
