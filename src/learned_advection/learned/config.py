"""The settings of a learned model (:class:`ModelConfig`): typed, bounded and JSON-serialisable.

A checkpoint's ``config.json`` holds them under ``"model"``; every field written by an earlier version stays
readable.  What a model computes from them is built in :mod:`~learned_advection.learned.models`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

# the activation names (the functions are in learned.network)
ACTIVATION_NAMES = ("relu", "gelu", "tanh", "silu", "softplus")
VELOCITY_INPUTS = ("raw", "courant")
LIMITERS = ("none", "fct", "safeguard")
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
    limiter: str = "none"  # "fct": Zalesak flux-corrected transport against upwind (no new extrema);
    # "safeguard" (a base_scheme's correction only): the correction limited against the base step's result
    symmetry: str = "none"  # "d4": exact average over the 8 rotations/reflections (2-D, square cells)
    precision: str = "float32"  # "bfloat16": run the network (not the flux update) in bfloat16
    max_courant: int = 1  # largest face Courant number the model runs at (a large step); the reach of its FCT bounds
    large_step: str = (
        "none"  # "ffsl": whole cells moved exactly, the learned stencil at the departure cell (see LARGE_STEPS)
    )
    base_scheme: str = (
        "none"  # "vanleer"/"ppm": that classical step plus a learned face-value correction (see BASE_SCHEMES)
    )
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
            errors.append(
                f"need 1-{MAX_LAYERS} layers and 1-{MAX_FILTERS} filters, got {self.layers} layers x {self.filters}"
            )
        if not 1 <= self.kernel_size <= MAX_KERNEL_SIZE or self.kernel_size % 2 == 0:
            errors.append(f"kernel_size must be odd, from 1 to {MAX_KERNEL_SIZE}, got {self.kernel_size}")
        if self.output_kernel_size != 0 and (
            not 1 <= self.output_kernel_size <= MAX_KERNEL_SIZE or self.output_kernel_size % 2 == 0
        ):
            errors.append(
                f"output_kernel_size must be 0 (kernel_size) or odd, from 1 to {MAX_KERNEL_SIZE}, "
                f"got {self.output_kernel_size}"
            )
        if not 0 <= self.final_init_scale <= MAX_INIT_SCALE:
            errors.append(
                f"final_init_scale must be a finite number in [0, {MAX_INIT_SCALE:g}], got {self.final_init_scale!r}"
            )
        else:
            object.__setattr__(self, "final_init_scale", float(self.final_init_scale))
        choices = {
            "activation": ACTIVATION_NAMES,
            "velocity_input": VELOCITY_INPUTS,
            "kind": KINDS,
            "precision": PRECISIONS,
            "limiter": LIMITERS,
            "symmetry": SYMMETRIES,
            "large_step": LARGE_STEPS,
            "base_scheme": BASE_SCHEMES,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                errors.append(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if self.kind in KINDS and self.limiter != "none" and self.kind != "interpolation":
            errors.append(f"limiter {self.limiter!r} needs face fluxes: kind 'interpolation' only")
        if self.limiter == "safeguard" and self.base_scheme == "none":
            errors.append("limiter 'safeguard' limits a correction: it needs a base_scheme")
        if self.large_step == "ffsl" and self.kind != "interpolation":
            errors.append("large_step 'ffsl' needs kind 'interpolation'")
        if self.base_scheme != "none" and (self.kind != "interpolation" or self.large_step != "none"):
            errors.append(
                f"base_scheme {self.base_scheme!r} needs kind 'interpolation' and large_step 'none' "
                "(the base scheme takes its own large step up to max_courant)"
            )
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
            errors.append(
                f"the network would have {parameter_count(self):,} parameters, more than the {MAX_PARAMETERS:,} "
                "this package builds"
            )
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
    for name in (
        "activation",
        "velocity_input",
        "kind",
        "limiter",
        "symmetry",
        "precision",
        "large_step",
        "base_scheme",
    ):
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
    return sum(
        c_out * (c_in * k**config.ndim + 1) for c_in, c_out, k in zip(channels[:-1], channels[1:], config.kernel_sizes)
    )


def output_channels(config: ModelConfig) -> int:
    """Network outputs per cell for each kind of learned term."""
    if config.kind == "interpolation":
        return config.ndim * (config.stencil_size - 1)
    if config.kind == "diffusion":
        return 1 if config.ndim == 1 else 3  # Dxx (1-D); Dyy, Dxy, Dxx (2-D)
    if config.kind == "next-state":
        return 1
    return config.ndim  # derivative
