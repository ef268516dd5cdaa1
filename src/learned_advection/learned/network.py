"""The CNN of a learned model: per-cell features -> raw outputs, through periodic convolutions.

:class:`Network` holds the weights (the array leaves a checkpoint stores, in this order: every
convolution's weight and bias, first to last) and its :class:`~learned_advection.learned.config.ModelConfig`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from learned_advection.learned.config import ModelConfig, output_channels
from learned_advection.numerics.fluxform import courant_numbers

ACTIVATIONS = {
    "relu": jax.nn.relu,
    "gelu": jax.nn.gelu,
    "tanh": jnp.tanh,
    "silu": jax.nn.silu,
    "softplus": jax.nn.softplus,
}


def periodic_windows(
    x: Array, offsets: Sequence[tuple[int, ...]], lead: int = 0, size: Sequence[int] | None = None
) -> list[Array]:
    """``x[..., i + offset]`` for every offset (periodic on the trailing axes; ``lead`` leading axes kept), for
    ``i`` from 0 over ``size`` cells per trailing axis (default: the trailing shape itself).

    Slices of one periodically padded copy: under ``vmap`` (a batch of samples) this stays a few fused
    loops, where stacking ``jnp.roll`` over several axes became a slow gather (about 15x slower at 32^2).
    """
    space = x.shape[lead:]
    size = tuple(space if size is None else size)
    extra = [s - n for s, n in zip(size, space)]  # window cells beyond the array, each axis
    halo = max((max(-o, o + e) for off in offsets for o, e in zip(off, extra)), default=0)
    padded = jnp.pad(x, [(0, 0)] * lead + [(halo, halo)] * len(space), mode="wrap") if halo else x
    out = []
    for off in offsets:
        start = (0,) * lead + tuple(halo + o for o in off)
        out.append(jax.lax.slice(padded, start, tuple(b + s for b, s in zip(start, x.shape[:lead] + size))))
    return out


def rescale_unit(c: Float[Array, "*space"]) -> Float[Array, "*space"]:
    """Min-max rescale to [0, 1]; a constant field maps to 0 (no division by zero, finite gradients)."""
    lo, hi = jnp.min(c), jnp.max(c)
    span = hi - lo
    tiny = jnp.finfo(c.dtype).tiny * 1e3
    safe = jnp.where(span > tiny, span, jnp.ones_like(span))
    return jnp.where(span > tiny, (c - lo) / safe, jnp.zeros_like(c))


# --------------------------------------------------------------------------- network
class PeriodicConv(eqx.Module):
    """Convolution with periodic ("wrap") boundaries on the trailing ``ndim`` axes; output = input size.

    Implemented as a gather of the ``k**ndim`` periodic shifts followed by one matrix product, which is
    the same as wrap-padding and a valid convolution (and fast on CPU for small grids).
    """

    weight: Array  # (out, in * k**ndim)
    bias: Array  # (out,)
    ndim: int = eqx.field(static=True)
    kernel_size: int = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        ndim: int,
        *,
        rng: np.random.Generator,
        scale: float = 1.0,
    ):
        fan_in = in_channels * kernel_size**ndim
        lim = 1.0 / math.sqrt(fan_in)  # as torch / equinox: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        dtype = jnp.result_type(float)
        self.weight = jnp.asarray(scale * rng.uniform(-lim, lim, (out_channels, fan_in)), dtype)
        self.bias = jnp.asarray(scale * rng.uniform(-lim, lim, (out_channels,)), dtype)
        self.ndim = ndim
        self.kernel_size = kernel_size

    def __call__(self, x: Float[Array, "cin *space"]) -> Float[Array, "cout *space"]:
        h = self.kernel_size // 2
        # the k**ndim periodic shifts (a shift by +1 is the value at offset -1), in the weights' order
        offsets = [tuple(-o for o in off) for off in itertools.product(range(h, -h - 1, -1), repeat=self.ndim)]
        patches = jnp.stack(periodic_windows(x, offsets, lead=1), axis=1)  # (cin, k**ndim, *space)
        flat = patches.reshape((-1,) + x.shape[1:])
        out = jnp.tensordot(self.weight.astype(x.dtype), flat, axes=1)
        return out + self.bias.astype(x.dtype).reshape((-1,) + (1,) * self.ndim)


class Network(eqx.Module):
    """The CNN: per-cell features (rescaled concentration, velocity) -> raw outputs (periodic convolutions)."""

    convs: tuple[PeriodicConv, ...]
    config: ModelConfig = eqx.field(static=True)

    def __init__(self, config: ModelConfig, *, key: PRNGKeyArray):
        # Initialisation draws from a numpy generator seeded by the key's bits: deterministic, and no
        # XLA compilation (eager jax.random ops each compile, which is slow on a busy 2-core machine).
        rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
        n_out = output_channels(config)
        channels = [1 + config.ndim] + [config.filters] * (config.layers - 1) + [n_out]
        convs = []
        for k in range(config.layers):
            last = k == config.layers - 1
            convs.append(
                PeriodicConv(
                    channels[k],
                    channels[k + 1],
                    config.kernel_sizes[k],
                    config.ndim,
                    rng=rng,
                    scale=config.final_init_scale if last else 1.0,
                )
            )
        self.convs = tuple(convs)
        self.config = config

    def features(self, c, velocity, dt, spacing) -> Array:
        """Network input ``(1 + ndim, *space)``: ``c`` rescaled to [0, 1] and the face velocities (or Courant numbers)."""
        cfg = self.config
        if cfg.velocity_input == "courant":
            vel = courant_numbers(velocity, dt, spacing)
        else:
            vel = tuple(velocity)
        return jnp.stack([rescale_unit(c)] + [jnp.broadcast_to(v, c.shape).astype(c.dtype) for v in vel])

    def __call__(self, c, velocity, dt, spacing) -> Float[Array, "m *space"]:
        """Raw outputs (unconstrained) of every cell."""
        act = ACTIVATIONS[self.config.activation]
        x = self.features(c, velocity, dt, spacing)
        if self.config.precision == "bfloat16":  # the network only; the flux update stays in c's precision
            x = x.astype(jnp.bfloat16)
        for conv in self.convs[:-1]:
            x = act(conv(x))
        return self.convs[-1](x).astype(c.dtype)
