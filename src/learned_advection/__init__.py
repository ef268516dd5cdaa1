"""learned-advection: learned finite-volume interpolation for passive-scalar advection (Zhuang et al. 2020).

The public API, one import away (``import learned_advection as la``):

* grid and time step: :class:`Grid`, :func:`dt_from_cfl`, :func:`coarsen_concentration`;
* flows: :func:`constant`, :func:`deformational`, :func:`random_sinusoidal`,
  :func:`faces_from_streamfunction`, :func:`max_speed`;
* schemes, all of one type :class:`Stepper` (``stepper(c, velocity, dt, spacing) -> c_next``):
  :data:`UPWIND`, :data:`VANLEER`, :data:`PPM`, :data:`WENO5Z`, and :func:`scheme` (a classical scheme by
  name at any Courant number: above 1 its large step, bounded); the time-stepping types
  (:class:`LinRood`, :class:`FFSL`, :class:`Unsplit`, :class:`SSPRK3`, all :class:`FluxForm`) over an
  :class:`Interpolation` (a :class:`Reconstruction`), :class:`Corrected` (a flux-form step plus a
  correction), and the wrappers :class:`FCT`, :class:`Safeguard`, :class:`D4Average`, :class:`Repeated`;
* time loops: :func:`rollout`, :func:`batched_rollout`, :func:`coarse_grained_rollout`;
* regional domains: :func:`boundaries` (per side :class:`Wall` or :class:`Open` with a :class:`BoundaryValue`),
  :class:`Regional` (a stepper between them, with an emission :class:`Source`; its state a :class:`RegionalState`
  with the mass :class:`Budget`);
* a step's declared limits (``max_courant``, ``max_deformation``): :func:`check_limits`, :func:`substeps_needed`,
  :func:`deformation_number`;
* grids larger than one device: :func:`grid_mesh`, :func:`usable_mesh`, :func:`shard_fields`, :func:`sharded` (a
  :class:`Sharded` stepper: the grid split over ``jax.devices()``, same results as on one device);
* learned models: :func:`load_stepper` (a checkpoint folder or ``"pretrained"``; a :class:`LearnedModel`,
  an ordinary stepper), :class:`ModelConfig`, :func:`build_model`, :func:`with_options`, :class:`TrainConfig`, :func:`train`, :class:`Trajectories`;
* evaluation: :mod:`metrics` (MAE, R², entropy, ...), :func:`evaluate_turbulence` (a checkpoint on
  fresh turbulence seeds against the classical schemes);
* :func:`use_x64` (float64), :class:`UserError` (what every refusal raises).

Names are imported on first use, so ``import learned_advection`` stays cheap (the CLI relies on it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from learned_advection._version import __version__

_EXPORTS = {
    # grid
    "Grid": "learned_advection.numerics.grids",
    "dt_from_cfl": "learned_advection.numerics.grids",
    "coarsen_concentration": "learned_advection.numerics.grids",
    # flows
    "constant": "learned_advection.flows.velocity",
    "deformational": "learned_advection.flows.velocity",
    "random_sinusoidal": "learned_advection.flows.velocity",
    "faces_from_streamfunction": "learned_advection.flows.velocity",
    "max_speed": "learned_advection.flows.velocity",
    # schemes
    "Stepper": "learned_advection.numerics.steppers",
    "FluxForm": "learned_advection.numerics.steppers",
    "Interpolation": "learned_advection.numerics.interpolation",
    "Reconstruction": "learned_advection.numerics.interpolation",
    "LinRood": "learned_advection.numerics.time_stepping",
    "FFSL": "learned_advection.numerics.time_stepping",
    "Unsplit": "learned_advection.numerics.time_stepping",
    "SSPRK3": "learned_advection.numerics.time_stepping",
    "Corrected": "learned_advection.numerics.corrected",
    "scheme": "learned_advection.numerics.schemes",
    "UPWIND": "learned_advection.numerics.schemes",
    "VANLEER": "learned_advection.numerics.schemes",
    "PPM": "learned_advection.numerics.schemes",
    "WENO5Z": "learned_advection.numerics.schemes",
    "SCHEMES": "learned_advection.numerics.schemes",
    "FCT": "learned_advection.numerics.limiters",
    "Safeguard": "learned_advection.numerics.limiters",
    "D4Average": "learned_advection.numerics.symmetry",
    "Repeated": "learned_advection.numerics.rollout",
    # regional domains
    "boundaries": "learned_advection.numerics.boundaries",
    "Boundaries": "learned_advection.numerics.boundaries",
    "BoundaryValue": "learned_advection.numerics.boundaries",
    "Open": "learned_advection.numerics.boundaries",
    "Wall": "learned_advection.numerics.boundaries",
    "Regional": "learned_advection.numerics.regional",
    "RegionalState": "learned_advection.numerics.regional",
    "Budget": "learned_advection.numerics.regional",
    "Source": "learned_advection.numerics.regional",
    # time loops
    "rollout": "learned_advection.numerics.rollout",
    "batched_rollout": "learned_advection.numerics.rollout",
    "coarse_grained_rollout": "learned_advection.numerics.rollout",
    # a step's declared limits
    "check_limits": "learned_advection.numerics.limits",
    "substeps_needed": "learned_advection.numerics.limits",
    "deformation_number": "learned_advection.numerics.grids",
    "use_x64": "learned_advection.numerics.precision",
    # grids larger than one device
    "grid_mesh": "learned_advection.numerics.sharding",
    "shard_fields": "learned_advection.numerics.sharding",
    "sharded": "learned_advection.numerics.sharding",
    "usable_mesh": "learned_advection.numerics.sharding",
    "Sharded": "learned_advection.numerics.sharding",
    # learned models
    "LearnedModel": "learned_advection.learned.models",
    "ModelConfig": "learned_advection.learned.config",
    "build_model": "learned_advection.learned.models",
    "with_options": "learned_advection.learned.models",
    "load_stepper": "learned_advection.learned.checkpoint",
    "load_model": "learned_advection.learned.checkpoint",
    "TrainConfig": "learned_advection.learned.training",
    "train": "learned_advection.learned.training",
    "Trajectories": "learned_advection.data.reference",
    # evaluation
    "metrics": ("learned_advection.evaluation.metrics", None),  # the module itself
    "evaluate_turbulence": ("learned_advection.experiments.turbulence_2d", "evaluate_checkpoint"),
    # errors
    "UserError": "learned_advection.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    try:
        target = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'learned_advection' has no attribute {name!r}") from None
    module_name, attribute = target if isinstance(target, tuple) else (target, name)
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load lazily
    from learned_advection.data.reference import Trajectories
    from learned_advection.errors import UserError
    from learned_advection.evaluation import metrics
    from learned_advection.experiments.turbulence_2d import evaluate_checkpoint as evaluate_turbulence
    from learned_advection.flows.velocity import (
        constant,
        deformational,
        faces_from_streamfunction,
        max_speed,
        random_sinusoidal,
    )
    from learned_advection.learned.checkpoint import load_model, load_stepper
    from learned_advection.learned.config import ModelConfig
    from learned_advection.learned.models import LearnedModel, build_model, with_options
    from learned_advection.learned.training import TrainConfig, train
    from learned_advection.numerics.boundaries import Boundaries, BoundaryValue, Open, Wall, boundaries
    from learned_advection.numerics.corrected import Corrected
    from learned_advection.numerics.grids import Grid, coarsen_concentration, deformation_number, dt_from_cfl
    from learned_advection.numerics.interpolation import Interpolation, Reconstruction
    from learned_advection.numerics.limiters import FCT, Safeguard
    from learned_advection.numerics.limits import check_limits, substeps_needed
    from learned_advection.numerics.precision import use_x64
    from learned_advection.numerics.regional import Budget, Regional, RegionalState, Source
    from learned_advection.numerics.rollout import Repeated, batched_rollout, coarse_grained_rollout, rollout
    from learned_advection.numerics.schemes import (
        PPM,
        SCHEMES,
        UPWIND,
        VANLEER,
        WENO5Z,
        scheme,
    )
    from learned_advection.numerics.sharding import Sharded, grid_mesh, shard_fields, sharded, usable_mesh
    from learned_advection.numerics.steppers import FluxForm, Stepper
    from learned_advection.numerics.symmetry import D4Average
    from learned_advection.numerics.time_stepping import FFSL, SSPRK3, LinRood, Unsplit
