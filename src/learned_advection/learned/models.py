"""Learned face interpolation (Zhuang et al. 2020): a periodic CNN predicts constrained stencil coefficients.

The model's interpolation (:class:`NetworkInterpolation`) is plugged into the same flux-form stepper as
the classical schemes (:class:`~learned_advection.numerics.steppers.FluxFormStepper`), and the model is a
:class:`~learned_advection.numerics.steppers.Stepper` with the same call signature ``model(c, velocity, dt, spacing) -> c_next`` (unbatched; vmap to batch).

Per face (the + face of every cell along every axis) the network outputs ``S - 1`` numbers ``z``;
the stencil coefficients are the affine map ``coeffs = c0 + N z`` where ``c0`` is the centred average
(1/2 on cells ``i`` and ``i+1`` across the face) and ``N`` an orthonormal basis (from an SVD) of the
null space of the constraint "coefficients sum to 1".  Hence the coefficients sum to 1 for any
network output (first-order accuracy), and a zero output gives the centred scheme.

The face value is ``sum(coeffs * stencil values)`` of the *raw* concentration, the flux is
``u_face * face value`` and the update is in flux form (:mod:`learned_advection.numerics.fluxform`):
mass is conserved for any weights.  The network sees the concentration min-max rescaled to [0, 1]
(a constant field maps to 0), so the scheme is semi-linear: ``H(aC + b) = a H(C) + b`` for ``a > 0``
(in a divergence-free flow).  In 2-D the step is unsplit forward Euler (both directions from the
same state), as in the paper's code.

Options (:class:`ModelConfig`, or :func:`with_options` on trained weights): ``limiter="fct"`` passes
the learned fluxes through Zalesak flux-corrected transport against donor-cell upwind
(:class:`learned_advection.numerics.limiters.FCT`): still flux form, and no value leaves the range of its neighbourhood at
the previous step; ``symmetry="d4"`` averages the step over the 8 rotations/reflections of the square
(:class:`learned_advection.numerics.symmetry.D4Average`), which makes it exactly D4-equivariant at 8x the cost.

A hybrid (``base_scheme="vanleer"`` or ``"ppm"``): the classical scheme's own step (Lin & Rood in 2-D, on its
flux-form semi-Lagrangian path up to ``max_courant``) plus a learned correction to its face values
(:class:`NetworkCorrection`: coefficients from the same null-space basis, summing to 0), so a zero network
output is the classical scheme and a small network only has to learn what the scheme gets wrong.

Stencils: ``stencil = (across,)`` in 1-D, ``(across, along)`` in 2-D.  ``across`` (even) cells across
the face: 2 -> cells ``i, i+1``; 4 -> ``i-1 .. i+2``.  ``along`` (odd) cells along each other axis,
centred on the face: 3 -> ``j-1, j, j+1``.  The paper's "3-point stencil" is ``(2,)`` in 1-D and
``(2, 3)`` in 2-D.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from learned_advection.errors import UserError
from learned_advection.numerics.fluxform import courant_numbers, with_previous_face
from learned_advection.numerics.limiters import FCT
from learned_advection.numerics.steppers import VANLEER, FluxFormStepper, Interpolation, Stepper, get_scheme
from learned_advection.numerics.symmetry import D4Average

ACTIVATIONS = {
    "relu": jax.nn.relu,
    "gelu": jax.nn.gelu,
    "tanh": jnp.tanh,
    "silu": jax.nn.silu,
    "softplus": jax.nn.softplus,
}
VELOCITY_INPUTS = ("raw", "courant")
LIMITERS = ("none", "fct")
# none: the face value from the stencil around the face, times the Courant number (the paper's flux);
# ffsl: flux-form semi-Lagrangian -- floor(|C|) whole upwind cells moved exactly plus the fraction from the
# learned stencil centred on the departure cell (NetworkInterpolation's docstring)
LARGE_STEPS = ("none", "ffsl")
# none: the network's stencil gives the whole face value; vanleer/ppm: the classical scheme's step (Lin & Rood,
# on its FFSL path up to max_courant) plus a learned correction to its face values (NetworkCorrection)
BASE_SCHEMES = ("none", "vanleer", "ppm")
# interpolation: constrained face-interpolation coefficients (the paper's method);
# diffusion: Van Leer plus a learned (anti-)diffusion tensor (Eq. 7, in flux form, so mass is kept);
# next-state: the network predicts C(t + dt) - C(t) directly; derivative: it predicts dC/dx per axis
# (advective form).  The last two have no physical constraint, as in the paper's negative results.
KINDS = ("interpolation", "diffusion", "next-state", "derivative")
SYMMETRIES = ("none", "d4")
PRECISIONS = ("float32", "bfloat16")
# Bounds of a model this package builds (checked before anything is allocated): the paper's largest
# network (10 layers x 128 filters, 2-D) has about 1.5 million parameters.
MAX_LAYERS = 64
MAX_FILTERS = 1024
MAX_KERNEL_SIZE = 15
MAX_STENCIL = 16  # cells across (or along) a face
MAX_INIT_SCALE = 100.0
MAX_PARAMETERS = 20_000_000
MAX_COURANT = 8


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters of a learned-interpolation model (JSON-serialisable).

    Typed and bounded on construction (``ValueError`` naming every bad field): integers must be
    integers (not bools, floats or strings), names one of the listed choices, sizes within
    ``MAX_LAYERS``, ``MAX_FILTERS``, ``MAX_KERNEL_SIZE``, ``MAX_STENCIL`` and the network within
    ``MAX_PARAMETERS`` (:func:`parameter_count`), so a hand-edited checkpoint is refused before
    anything is allocated.
    """

    ndim: int = 1
    layers: int = 4
    filters: int = 32
    kernel_size: int = 3
    activation: str = "relu"
    stencil: tuple[int, ...] = (2,)
    velocity_input: str = "raw"
    final_init_scale: float = 0.1
    kind: str = "interpolation"  # the learned term; the others are the paper's ablations (Sec. II E), see KINDS
    limiter: str = "none"  # "fct": Zalesak flux-corrected transport against upwind (no new extrema)
    symmetry: str = "none"  # "d4": exact average over the 8 rotations/reflections (2-D, square cells)
    precision: str = "float32"  # "bfloat16": run the network (not the flux update) in bfloat16
    max_courant: int = 1  # largest face Courant number the model runs at (a large step); the reach of its FCT bounds
    large_step: str = "none"  # "ffsl": whole cells moved exactly, the learned stencil at the departure cell (see LARGE_STEPS)
    base_scheme: str = "none"  # "vanleer"/"ppm": that classical step plus a learned face-value correction (see BASE_SCHEMES)
    output_kernel_size: int = 0  # kernel of the last convolution (0: kernel_size; 1: a per-cell layer, cheap)

    def __post_init__(self):
        errors = _type_errors(self)
        if errors:  # the range checks below assume the types are right
            raise ValueError("; ".join(errors))
        object.__setattr__(self, "stencil", tuple(int(s) for s in self.stencil))
        for name in ("ndim", "layers", "filters", "kernel_size", "max_courant", "output_kernel_size"):
            object.__setattr__(self, name, int(getattr(self, name)))
        if not 1 <= self.max_courant <= MAX_COURANT:
            errors.append(f"max_courant must be an integer from 1 to {MAX_COURANT}, got {self.max_courant}")
        if self.ndim not in (1, 2):
            errors.append(f"ndim must be 1 or 2, got {self.ndim}")
        if not (1 <= self.layers <= MAX_LAYERS and 1 <= self.filters <= MAX_FILTERS):
            errors.append(f"need 1-{MAX_LAYERS} layers and 1-{MAX_FILTERS} filters, got {self.layers} layers x {self.filters}")
        if not 1 <= self.kernel_size <= MAX_KERNEL_SIZE or self.kernel_size % 2 == 0:
            errors.append(f"kernel_size must be odd, from 1 to {MAX_KERNEL_SIZE}, got {self.kernel_size}")
        if self.output_kernel_size != 0 and (not 1 <= self.output_kernel_size <= MAX_KERNEL_SIZE
                                             or self.output_kernel_size % 2 == 0):
            errors.append(f"output_kernel_size must be 0 (kernel_size) or odd, from 1 to {MAX_KERNEL_SIZE}, "
                          f"got {self.output_kernel_size}")
        if not 0 <= self.final_init_scale <= MAX_INIT_SCALE:
            errors.append(f"final_init_scale must be a finite number in [0, {MAX_INIT_SCALE:g}], got {self.final_init_scale!r}")
        else:
            object.__setattr__(self, "final_init_scale", float(self.final_init_scale))
        choices = {"activation": ACTIVATIONS, "velocity_input": VELOCITY_INPUTS, "kind": KINDS,
                   "precision": PRECISIONS, "limiter": LIMITERS, "symmetry": SYMMETRIES, "large_step": LARGE_STEPS,
                   "base_scheme": BASE_SCHEMES}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                errors.append(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if self.kind in KINDS and self.limiter != "none" and self.kind != "interpolation":
            errors.append(f"limiter {self.limiter!r} needs face fluxes: kind 'interpolation' only")
        if self.large_step == "ffsl" and self.kind != "interpolation":
            errors.append("large_step 'ffsl' needs kind 'interpolation'")
        if self.base_scheme != "none" and (self.kind != "interpolation" or self.large_step != "none"):
            errors.append(f"base_scheme {self.base_scheme!r} needs kind 'interpolation' and large_step 'none' "
                          "(the base scheme takes its own large step up to max_courant)")
        if self.symmetry == "d4" and self.ndim != 2:
            errors.append("symmetry 'd4' needs a 2-D model")
        if len(self.stencil) != min(self.ndim, 2) or (self.ndim == 2 and len(self.stencil) != 2):
            want = "(across,)" if self.ndim == 1 else "(across, along)"
            errors.append(f"a {self.ndim}-D stencil is {want}, got {self.stencil}")
        elif self.stencil[0] < 2 or self.stencil[0] % 2 or self.stencil[0] > MAX_STENCIL:
            errors.append(f"cells across the face must be even, from 2 to {MAX_STENCIL}, got {self.stencil[0]}")
        elif self.ndim == 2 and (self.stencil[1] < 1 or self.stencil[1] % 2 == 0 or self.stencil[1] > MAX_STENCIL):
            errors.append(f"cells along the face must be odd, from 1 to {MAX_STENCIL}, got {self.stencil[1]}")
        if not errors and parameter_count(self) > MAX_PARAMETERS:
            errors.append(f"the network would have {parameter_count(self):,} parameters, more than the {MAX_PARAMETERS:,} "
                          "this package builds")
        if errors:
            raise ValueError("; ".join(errors))

    @property
    def kernel_sizes(self) -> tuple[int, ...]:
        """The kernel of every convolution, first to last."""
        return (self.kernel_size,) * (self.layers - 1) + (self.output_kernel_size or self.kernel_size,)

    @property
    def stencil_size(self) -> int:
        return math.prod(self.stencil)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["stencil"] = list(self.stencil)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown model settings: {', '.join(sorted(unknown))}")
        return cls(**d)


def _is_int(value) -> bool:
    """A true integer (Python or numpy), not a bool, a float or a string."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value) -> bool:
    """A finite real number (an integer or a float), not a bool or a string."""
    return _is_int(value) or (isinstance(value, (float, np.floating)) and math.isfinite(float(value)))


def _type_errors(config: ModelConfig) -> list[str]:
    """What is of the wrong type in ``config`` (hand-edited JSON: ``"2"``, ``2.5``, ``true``, ``null``...)."""
    errors = []
    for name in ("ndim", "layers", "filters", "kernel_size", "max_courant", "output_kernel_size"):
        value = getattr(config, name)
        if not _is_int(value):
            errors.append(f"{name} must be an integer, got {value!r}")
    if not _is_real(config.final_init_scale):
        errors.append(f"final_init_scale must be a finite number, got {config.final_init_scale!r}")
    for name in ("activation", "velocity_input", "kind", "limiter", "symmetry", "precision", "large_step", "base_scheme"):
        value = getattr(config, name)
        if not isinstance(value, str):
            errors.append(f"{name} must be a string, got {value!r}")
    stencil = config.stencil
    if not isinstance(stencil, (list, tuple)) or not all(_is_int(s) for s in stencil):
        errors.append(f"stencil must be a list of integers, got {stencil!r}")
    return errors


def parameter_count(config: ModelConfig) -> int:
    """Trainable numbers of the network (weights and biases of every convolution): pure arithmetic."""
    channels = [1 + config.ndim] + [config.filters] * (config.layers - 1) + [output_channels(config)]
    return sum(c_out * (c_in * k**config.ndim + 1) for c_in, c_out, k in zip(channels[:-1], channels[1:], config.kernel_sizes))


# --------------------------------------------------------------------------- stencil & constraint
def stencil_offsets(stencil: Sequence[int], ndim: int, axis: int) -> list[tuple[int, ...]]:
    """Cell offsets (one per array axis) of the stencil for the + face along ``axis``.

    The across offsets (along ``axis``) are ``1 - across/2 .. across/2`` (``0, 1`` for 2 cells); the
    along offsets on every other axis are ``-(along//2) .. along//2``.  Ordered across-major.
    """
    across = stencil[0]
    along = stencil[1] if ndim > 1 else 1
    per_axis = []
    for b in range(ndim):
        if b == axis:
            per_axis.append(range(1 - across // 2, across // 2 + 1))
        else:
            per_axis.append(range(-(along // 2), along // 2 + 1))
    # itertools.product over axes in array order, then reorder so the across axis varies slowest.
    order = [axis] + [b for b in range(ndim) if b != axis]
    offsets = []
    for combo in itertools.product(*(per_axis[b] for b in order)):
        off = [0] * ndim
        for b, o in zip(order, combo):
            off[b] = o
        offsets.append(tuple(off))
    return offsets


@functools.lru_cache(maxsize=None)
def constraint_basis(stencil: tuple[int, ...], ndim: int) -> tuple[np.ndarray, np.ndarray]:
    """``(c0, N)``: centred coefficients ``(S,)`` and an orthonormal null-space basis ``(S, S-1)``.

    Every ``c0 + N z`` sums to 1.  ``N`` comes from the SVD of the constraint matrix ``1^T`` (1 x S).
    The basis is the same for every axis (offsets are listed in the same across/along order).
    """
    offsets = stencil_offsets(stencil, ndim, 0)
    size = len(offsets)
    c0 = np.zeros(size)
    for k, off in enumerate(offsets):
        if all(o == 0 for o in off[1:]) and off[0] in (0, 1):
            c0[k] = 0.5
    constraint = np.ones((1, size))
    _, _, vt = np.linalg.svd(constraint)
    null = vt[1:].T  # (S, S-1), orthonormal columns, each orthogonal to the ones vector
    return c0, null


def constrained_coefficients(z: Float[Array, "m *space"], stencil: tuple[int, ...], ndim: int) -> Float[Array, "s *space"]:
    """Map unconstrained outputs ``z`` (``S-1`` per face) to coefficients ``c0 + N z`` summing to 1."""
    c0, null = constraint_basis(tuple(stencil), ndim)
    c0 = jnp.asarray(c0, z.dtype).reshape((-1,) + (1,) * (z.ndim - 1))
    return c0 + jnp.tensordot(jnp.asarray(null, z.dtype), z, axes=1)


def periodic_windows(x: Array, offsets: Sequence[tuple[int, ...]], lead: int = 0,
                     size: Sequence[int] | None = None) -> list[Array]:
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


def stencil_values(c: Float[Array, "*space"], stencil: tuple[int, ...], axis: int) -> Float[Array, "s *space"]:
    """Stacked stencil values (:func:`stencil_offsets` order) for the + face along ``axis`` of every cell (periodic)."""
    return jnp.stack(periodic_windows(c, stencil_offsets(stencil, c.ndim, axis)))


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

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, ndim: int, *, rng: np.random.Generator, scale: float = 1.0):
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
                    channels[k], channels[k + 1], config.kernel_sizes[k], config.ndim, rng=rng,
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


class NetworkInterpolation(Interpolation):
    """Face values from the network's constrained stencil coefficients (the paper's learned interpolation).

    With ``large_step="ffsl"`` the face value is the mean of the volume swept through the face in one step
    (flux-form semi-Lagrangian, Lin & Rood 1996): ``floor(|C|)`` whole upwind cells, exactly, plus the
    fraction ``|C| - floor(|C|)`` of the next one, whose value is the learned stencil centred on that
    departure cell (its coefficients still sum to 1).  The flux ``C * value`` is then the FFSL flux, so a
    shift by a whole number of cells is exact for any weights; below Courant 1 it is the usual value.
    """

    network: Network

    def coefficients(self, c, velocity, dt, spacing) -> tuple[Float[Array, "s *space"], ...]:
        """Per axis, the stencil coefficients ``(S, *space)`` of every + face (each set sums to 1)."""
        cfg = self.network.config
        z = self.network(c, velocity, dt, spacing)
        m = cfg.stencil_size - 1
        return tuple(constrained_coefficients(z[a * m : (a + 1) * m], cfg.stencil, cfg.ndim) for a in range(cfg.ndim))

    def __call__(self, c, velocity, dt, spacing) -> tuple[Array, ...]:
        coeffs = self.coefficients(c, velocity, dt, spacing)
        cfg = self.network.config
        if cfg.large_step == "ffsl":
            return tuple(self._swept_mean(c, w, velocity[a] * (dt / spacing[a]), a) for a, w in enumerate(coeffs))
        return tuple(jnp.sum(w * stencil_values(c, cfg.stencil, a), axis=0) for a, w in enumerate(coeffs))

    def _swept_mean(self, c, w, courant, axis):
        """The FFSL face value along ``axis`` (see the class docstring)."""
        cfg = self.network.config
        positive = courant >= 0
        size = jnp.abs(courant)
        whole = jnp.minimum(jnp.floor(size), cfg.max_courant)
        frac = size - whole
        offsets = stencil_offsets(cfg.stencil, c.ndim, axis)

        def along(off, m):  # the offset moved m cells along the axis
            return tuple(o + m if b == axis else o for b, o in enumerate(off))

        shifts = range(-cfg.max_courant, cfg.max_courant + 1)
        wanted = sorted({along(off, m) for off in offsets for m in shifts} | {along((0,) * c.ndim, m) for m in shifts})
        at = dict(zip(wanted, periodic_windows(c, wanted)))
        values = []
        for off in offsets:  # the stencil centred m = min(floor|C|, max_courant) cells upwind
            value = at[off]
            for m in range(1, cfg.max_courant + 1):
                value = jnp.where(whole >= m, jnp.where(positive, at[along(off, -m)], at[along(off, m)]), value)
            values.append(value)
        swept = jnp.zeros_like(c)
        for m in range(1, cfg.max_courant + 1):  # the m-th whole cell upwind of the face
            upwind = jnp.where(positive, at[along((0,) * c.ndim, 1 - m)], at[along((0,) * c.ndim, m)])
            swept = swept + jnp.where(whole >= m, upwind, 0)
        partial = jnp.sum(w * jnp.stack(values), axis=0)  # a reduction: the face values are computed once
        return jnp.where(whole >= 1, (swept + frac * partial) / jnp.where(whole >= 1, size, 1), partial)


class NetworkCorrection(Interpolation):
    """Learned corrections to a classical scheme's face values (``ModelConfig.base_scheme``).

    Per face the network's ``S - 1`` outputs ``z`` give coefficients ``N z`` (the null-space basis of
    :func:`constraint_basis`), which sum to 0; the correction is their sum against the stencil values of the
    raw concentration around the face.  So a constant field gets no correction (the base scheme keeps it),
    the scheme stays semi-linear (the network sees the rescaled field), the flux form keeps mass, and a zero
    output is the base scheme itself.
    """

    network: Network

    def coefficients(self, c, velocity, dt, spacing) -> tuple[Float[Array, "s *space"], ...]:
        """Per axis, the correction coefficients ``(S, *space)`` of every + face (each set sums to 0)."""
        cfg = self.network.config
        z = self.network(c, velocity, dt, spacing)
        m = cfg.stencil_size - 1
        _, null = constraint_basis(tuple(cfg.stencil), cfg.ndim)
        null = jnp.asarray(null, z.dtype)
        return tuple(jnp.tensordot(null, z[a * m : (a + 1) * m], axes=1) for a in range(cfg.ndim))

    def __call__(self, c, velocity, dt, spacing) -> tuple[Array, ...]:
        return self._corrections(c, velocity, dt, spacing, extended=False)

    def extended(self, c, velocity, dt, spacing) -> tuple[Array, ...]:
        """:meth:`__call__` on faces ``-1/2 .. n - 1/2`` along each axis, from slices of one padded copy of ``c``."""
        return self._corrections(c, velocity, dt, spacing, extended=True)

    def _corrections(self, c, velocity, dt, spacing, extended: bool) -> tuple[Array, ...]:
        """``sum_s (N z)_s c_s = sum_j z_j (N^T c)_j``: the stencil values projected on the basis with constant
        factors, one fused loop per axis instead of two small matrix products (same numbers to round-off)."""
        cfg = self.network.config
        z = self.network(c, velocity, dt, spacing)
        m = cfg.stencil_size - 1
        _, null = constraint_basis(tuple(cfg.stencil), cfg.ndim)
        out = []
        for a in range(cfg.ndim):
            offsets = stencil_offsets(cfg.stencil, c.ndim, a)
            za = z[a * m : (a + 1) * m]
            if extended:  # cell i + offset of face i + 1/2 for i = -1 .. n - 1 along a
                shifted = [tuple(o - (b == a) for b, o in enumerate(off)) for off in offsets]
                values = periodic_windows(c, shifted, size=tuple(n + (b == a) for b, n in enumerate(c.shape)))
                za = with_previous_face(za, a + 1)
            else:
                values = periodic_windows(c, offsets)
            total = jnp.zeros_like(values[0])
            for j in range(m):
                total = total + za[j] * sum(float(null[s, j]) * v for s, v in enumerate(values))
            out.append(total)
        return tuple(out)


class LearnedInterpolation(Stepper):
    """A learned scheme: the network's interpolation in the shared flux-form stepper (see the module doc).

    ``kind="interpolation"`` steps as ``FluxFormStepper(NetworkInterpolation(network), "unsplit")``
    (with ``base_scheme``: the classical scheme's Lin & Rood stepper with ``NetworkCorrection(network)``),
    wrapped in :class:`~learned_advection.numerics.limiters.FCT` for ``limiter="fct"``; the ablation
    kinds use their own update (``_ablation_step``); ``symmetry="d4"`` wraps either in
    :class:`~learned_advection.numerics.symmetry.D4Average`.  A model loaded from a checkpoint declares
    the time step and cell size it was trained for (``trained_dt``, ``trained_spacing``) and refuses a
    concrete ``dt`` that differs (:class:`~learned_advection.errors.UserError`); a traced ``dt`` is not checked.
    """

    network: Network
    trained_dt: float | None = eqx.field(static=True, default=None)
    trained_spacing: tuple[float, ...] | None = eqx.field(static=True, default=None)
    source: str = eqx.field(static=True, default="")

    def __init__(self, config: ModelConfig | None = None, *, key: PRNGKeyArray | None = None, network: Network | None = None,
                 trained_dt: float | None = None, trained_spacing: Sequence[float] | None = None, source: str = ""):
        if network is None:
            if config is None or key is None:
                raise TypeError("LearnedInterpolation needs a config and a key, or a network")
            network = Network(config, key=key)
        self.network = network
        self.trained_dt = None if trained_dt is None else float(trained_dt)
        self.trained_spacing = None if trained_spacing is None else tuple(float(d) for d in trained_spacing)
        self.source = str(source)

    @property
    def config(self) -> ModelConfig:
        return self.network.config

    @property
    def name(self) -> str:
        return "learned"

    @property
    def convs(self) -> tuple[PeriodicConv, ...]:
        return self.network.convs

    # -- pieces (public for tests and diagnostics)
    def interpolation(self) -> NetworkInterpolation | NetworkCorrection:
        """The network's face values (its corrections to them with a ``base_scheme``)."""
        if self.config.base_scheme != "none":
            return NetworkCorrection(self.network)
        return NetworkInterpolation(self.network)

    def raw_outputs(self, c, velocity, dt, spacing) -> Float[Array, "m *space"]:
        return self.network(c, velocity, dt, spacing)

    def coefficients(self, c, velocity, dt, spacing) -> tuple[Float[Array, "s *space"], ...]:
        return self.interpolation().coefficients(c, velocity, dt, spacing)

    def face_values(self, c, velocity, dt, spacing) -> tuple[Array, ...]:
        return self.interpolation()(c, velocity, dt, spacing)

    def stepper(self) -> Stepper:
        """The composition this model steps with (flux-form machinery and wrappers over the same weights)."""
        cfg = self.config
        if cfg.base_scheme != "none":
            base = get_scheme(cfg.base_scheme, cfg.max_courant)
            step: Stepper = FluxFormStepper("learned", base.interpolation, "lin-rood", max_courant=cfg.max_courant,
                                            correction=self.interpolation())
        elif cfg.kind == "interpolation":
            step = FluxFormStepper("learned", self.interpolation(), "unsplit")
        else:
            step = _Ablation(self.network)
        if cfg.limiter == "fct":  # interpolation kinds only (ModelConfig refuses it for the others)
            step = FCT(step, reach=cfg.max_courant)
        return D4Average(step) if cfg.symmetry == "d4" else step

    def __call__(
        self,
        c: Float[Array, "*space"],
        velocity: Sequence[Float[Array, "*space"]],
        dt,
        spacing: Sequence[float],
    ) -> Float[Array, "*space"]:
        if c.ndim != self.config.ndim:
            raise ValueError(f"this model is {self.config.ndim}-D but the concentration has shape {c.shape}")
        if (self.trained_dt is not None and isinstance(dt, (int, float))
                and not math.isclose(float(dt), self.trained_dt, rel_tol=1e-6)):
            raise UserError(f"model {self.source or 'checkpoint'} was trained with dt = {self.trained_dt:g}; got dt = {float(dt):g}")
        return self.stepper()(c, velocity, dt, spacing)


class _Ablation(Stepper):
    """The paper's alternative learned terms (Sec. II E) as a stepper, see ``_ablation_step``."""

    network: Network

    @property
    def name(self) -> str:
        return self.network.config.kind

    def __call__(self, c, velocity, dt, spacing):
        return _ablation_step(self.network.config.kind, self.network(c, velocity, dt, spacing), c, velocity, dt, spacing)


def output_channels(config: ModelConfig) -> int:
    """Network outputs per cell for each kind of learned term."""
    if config.kind == "interpolation":
        return config.ndim * (config.stencil_size - 1)
    if config.kind == "diffusion":
        return 1 if config.ndim == 1 else 3  # Dxx (1-D); Dyy, Dxy, Dxx (2-D)
    if config.kind == "next-state":
        return 1
    return config.ndim  # derivative


def _ablation_step(kind: str, z, c, velocity, dt, spacing):
    """One step of the paper's alternative learned terms (Sec. II E); ``z`` are the raw network outputs."""
    ndim = c.ndim
    span = jnp.max(c) - jnp.min(c)  # outputs scale with the field's range, as the rescaled input does
    if kind == "next-state":
        return c + span * z[0]
    if kind == "derivative":
        out = c
        for a, (u, h) in enumerate(zip(velocity, spacing)):
            u_centre = 0.5 * (u + jnp.roll(u, 1, axis=a))
            out = out - dt * u_centre * (span / h) * z[a]
        return out
    # diffusion: Van Leer + dt * div(D grad C) in flux form; z is the diffusion number D dt / (dx dy)
    base = VANLEER(c, velocity, dt, spacing)
    if ndim == 1:
        d_face = 0.5 * (z[0] + jnp.roll(z[0], -1))
        flux = d_face * (jnp.roll(c, -1) - c)  # already times dt / dx^2 (spacing absorbed in z)
        return base + (flux - jnp.roll(flux, 1))
    d_yy, d_xy, d_xx = z
    grads = []
    for a in range(2):  # centred gradient of C (times the cell size) at cell centres
        grads.append(0.5 * (jnp.roll(c, -1, axis=a) - jnp.roll(c, 1, axis=a)))
    out = base
    for a, (d_aa, other) in enumerate(((d_yy, 1), (d_xx, 0))):
        face = lambda x: 0.5 * (x + jnp.roll(x, -1, axis=a))  # noqa: E731  cell -> + face along a
        flux = face(d_aa) * (jnp.roll(c, -1, axis=a) - c) + 0.5 * face(d_xy) * face(grads[other])
        out = out + (flux - jnp.roll(flux, 1, axis=a))
    return out


def with_options(model: LearnedInterpolation, **options) -> LearnedInterpolation:
    """The same weights with other inference options (``limiter``, ``symmetry``)."""
    fresh = Network(dataclasses.replace(model.config, **options), key=jax.random.PRNGKey(0))
    network = eqx.tree_at(lambda n: n.convs, fresh, model.network.convs)
    return LearnedInterpolation(network=network, trained_dt=model.trained_dt, trained_spacing=model.trained_spacing,
                                source=model.source)


def build_model(config: ModelConfig, key: PRNGKeyArray) -> LearnedInterpolation:
    """A freshly initialised model (deterministic for a key)."""
    return LearnedInterpolation(config, key=key)
