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
from learned_advection.numerics.fluxform import courant_numbers, extended_courant

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


def rescale_by(x: Float[Array, "*space"], c: Float[Array, "*space"]) -> Float[Array, "*space"]:
    """``x`` rescaled by the min-max map of ``c`` (:func:`rescale_unit` of ``c`` is ``rescale_by(c, c)``): the
    ghost cells of a regional domain with the interior's map, so they may fall outside [0, 1]."""
    lo, hi = jnp.min(c), jnp.max(c)
    span = hi - lo
    tiny = jnp.finfo(c.dtype).tiny * 1e3
    safe = jnp.where(span > tiny, span, jnp.ones_like(span))
    return jnp.where(span > tiny, (x - lo) / safe, jnp.zeros_like(x))


def pad_cells(field: Array, widths: Sequence[tuple[int, int]], periodic: Sequence[bool]) -> Array:
    """``field`` padded by ``widths[a]`` cells along every axis ``a``: wrapped along a periodic axis, the edge
    value repeated along another."""
    for a, (w, p) in enumerate(zip(widths, periodic)):
        if w != (0, 0):
            pad = [(0, 0)] * field.ndim
            pad[a] = w
            field = jnp.pad(field, pad, mode="wrap" if p else "edge")
    return field


def pad_concentration(c: Array, halo: int, conditions, courant: Sequence[Array], outflow: str = "edge") -> Array:
    """``c`` with ``halo`` ghost cells on both sides of every axis of a domain with the boundaries
    ``conditions`` (:meth:`~learned_advection.numerics.boundaries.BoundaryConditions.pad`; ``courant`` on faces
    ``-1/2 .. n - 1/2``, :func:`~learned_advection.numerics.fluxform.extended_courant`), ``y`` first, then ``x``
    over the padded rows (the corners from them), as the classical schemes' regional steps pad.

    ``outflow``: ``"edge"`` -- an outflow side's ghost cells repeat its edge cell (a learned stencil weighs
    downwind cells, and the polynomial extrapolation of :meth:`~learned_advection.numerics.boundaries.BoundaryConditions.pad`
    amplifies what it reads there: the bare paper model blows up at an outflow side with it); ``"extrapolated"``
    -- the classical ghost cells.  Inflow and wall ghost cells are the classical ones either way.
    """
    if outflow not in ("edge", "extrapolated"):
        raise ValueError(f"outflow ghost cells are 'edge' or 'extrapolated', got {outflow!r}")
    padded = _pad_axis(c, halo, 0, conditions, courant[0], 0, outflow)
    if c.ndim == 2:
        rows = pad_cells(courant[1], [(halo, halo), (0, 0)], [conditions.periodic_axis(0), True])
        padded = _pad_axis(padded, halo, 1, conditions, rows, halo, outflow)
    return padded


def _pad_axis(field: Array, halo: int, axis: int, conditions, courant: Array, other: int, outflow: str) -> Array:
    """:meth:`~learned_advection.numerics.boundaries.BoundaryConditions.pad` along ``axis``, an open side's
    outflow ghost cells the edge cell repeated (``outflow="edge"``)."""
    padded = conditions.pad(field, halo, axis, courant, other=other)
    sides = conditions.bounds.axes[axis]
    if outflow == "extrapolated" or sides is None or all(s.kind == "wall" for s in sides):
        return padded
    marked = conditions.pad(field, halo, axis, courant, other=other, fill=jnp.nan)  # NaN: wall or outflow ghost
    widths = [(0, 0)] * field.ndim
    widths[axis] = (halo, halo)
    edge = jnp.pad(field, widths, mode="edge")
    index = jnp.arange(field.shape[axis] + 2 * halo).reshape((-1,) + (1,) * (field.ndim - 1 - axis))
    opened = jnp.zeros(padded.shape, dtype=bool)
    if sides[0].kind == "open":
        opened = opened | (index < halo)
    if sides[1].kind == "open":
        opened = opened | (index >= field.shape[axis] + halo)
    return jnp.where(opened & jnp.isnan(marked), edge, padded)


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

    @property
    def receptive_field(self) -> int:
        """Cells per side of a cell that its outputs read (``k // 2`` per convolution of kernel ``k``)."""
        return sum(k // 2 for k in self.config.kernel_sizes)

    def __call__(self, c, velocity, dt, spacing) -> Float[Array, "m *space"]:
        """Raw outputs (unconstrained) of every cell."""
        return self.apply(self.features(c, velocity, dt, spacing), c.dtype)

    def apply(self, x: Float[Array, "f *space"], dtype) -> Float[Array, "m *space"]:
        """The convolutions over features ``x`` (:meth:`features`), outputs in ``dtype``."""
        act = ACTIVATIONS[self.config.activation]
        if self.config.precision == "bfloat16":  # the network only; the flux update stays in c's precision
            x = x.astype(jnp.bfloat16)
        for conv in self.convs[:-1]:
            x = act(conv(x))
        return self.convs[-1](x).astype(dtype)

    def regional(self, c, velocity, dt, spacing, conditions, halo: int, outflow: str = "edge") -> tuple[Array, Array]:
        """``(outputs, padded)`` on a domain with the boundaries ``conditions``: the raw outputs of the cells
        ``-halo .. n - 1 + halo`` along every axis and ``c`` with ``halo`` ghost cells
        (:func:`pad_concentration`, the raw values the stencils read).

        The network reads the ghost cells a classical stencil gets (inflow values, a wall's mirror image; an
        outflow side's the edge cell repeated, :func:`pad_concentration`): ``c`` padded by ``halo`` plus the
        receptive field, rescaled with the interior's min-max map (:func:`rescale_by`; a constant interior maps
        every cell to 0, as :func:`rescale_unit` does), beside the face velocities (or Courant numbers) of every
        cell's + face, the edge values repeated beyond a non-periodic side.  Its periodic convolutions wrap
        only inside the outer receptive field, which is dropped.  ``velocity`` has ``n + 1`` faces along a
        non-periodic axis; ``outflow``: the outflow ghost cells (:func:`pad_concentration`).
        """
        cfg = self.config
        field = self.receptive_field
        pad = halo + field
        courant = extended_courant(courant_numbers(velocity, dt, spacing), conditions)
        padded = pad_concentration(c, pad, conditions, courant, outflow)
        vel = courant if cfg.velocity_input == "courant" else extended_courant(tuple(velocity), conditions)
        periodic = [conditions.periodic_axis(a) for a in range(c.ndim)]
        planes = []
        for a, v in enumerate(vel):  # faces -1/2 .. n - 1/2: the + faces of cells -1 .. n - 1 along a
            if periodic[a]:
                v = jax.lax.slice_in_dim(v, 1, c.shape[a] + 1, axis=a)
                widths = [(pad, pad)] * c.ndim
            else:
                widths = [(pad - 1, pad) if b == a else (pad, pad) for b in range(c.ndim)]
            planes.append(pad_cells(v.astype(c.dtype), widths, periodic))
        x = jnp.stack([rescale_by(padded, c)] + planes)
        z = self.apply(x, c.dtype)
        inner = tuple(slice(field, field + n + 2 * halo) for n in c.shape)
        core = tuple(slice(pad - halo, pad + n + halo) for n in c.shape)
        return z[(slice(None),) + inner], padded[core]
