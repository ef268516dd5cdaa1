"""Tracer transport on a problem read from a file: the library side of ``learned-advection simulate``.

A run is planned and checked before any computation (:func:`plan`: every option a user can get wrong
is a one-line :class:`~learned_advection.errors.UserError`; :func:`check_resources` refuses a run
whose output or working memory cannot fit), then computed in chunks (:func:`stream`) that
:func:`simulate_to_file` appends to the output file as they come, so memory holds about one state
plus one chunk however many frames are saved.

Many tracers: a problem whose ``concentration`` has a leading tracer axis (every tracer of the input
file) is advected by the same flow in one compiled step, the stepper mapped over the tracers with
``jax.vmap`` (velocity-only work, such as Courant numbers, is done once for all).  That is also the
way in the Python API: steppers are unbatched, so ``jax.vmap(lambda c: rollout(step, c, velocity,
dt, spacing, n))(tracers)`` advects a stack of tracers with one flow.

Velocities at their own times (``velocity_time`` in the input): each step uses the velocity
interpolated linearly in time to its midpoint ``t + dt/2`` (:func:`interpolation_weights` of
:func:`step_midpoints`, :func:`blend`); a chunk gets the few velocity fields its steps use and
per-step indices and weights, and the blend happens inside the compiled loop, so no field per step is
ever stored.

The tunable constants (chunk sizes and times, slacks) live in the module that uses them, where a test
may patch them.  One module per concept: :mod:`~learned_advection.transport.winds` (velocities in time),
:mod:`~learned_advection.transport.arithmetic` (the run's dtype and range),
:mod:`~learned_advection.transport.schemes` (the stepper of a run),
:mod:`~learned_advection.transport.planning`, :mod:`~learned_advection.transport.resources`,
:mod:`~learned_advection.transport.regional` (walls, open sides and emission sources) and
:mod:`~learned_advection.transport.streaming`; their public names are re-exported here.
"""

from __future__ import annotations

from learned_advection.data.netcdf.problem import Problem, TracerVariable
from learned_advection.transport.arithmetic import (
    check_arithmetic,
    concentration_scale,
    max_concentration,
    run_dtype,
    tracer_scales,
)
from learned_advection.transport.planning import LIMITS, Plan, limited_step, plan
from learned_advection.transport.regional import (
    MAX_REGIONAL_STEPS,
    check_regional_run,
    regional_summary,
)
from learned_advection.transport.resources import Resources, check_resources, estimate_resources
from learned_advection.transport.schemes import LARGE_COURANT, get_stepper, is_learned, supported_courant
from learned_advection.transport.streaming import (
    Chunk,
    RunSummary,
    SimulationResult,
    simulate,
    simulate_to_file,
    stream,
)
from learned_advection.transport.winds import (
    axis_speeds,
    blend,
    check_velocity_span,
    interpolation_weights,
    step_midpoints,
    used_velocity,
)

__all__ = [
    "LARGE_COURANT",
    "LIMITS",
    "MAX_REGIONAL_STEPS",
    "Chunk",
    "Plan",
    "Problem",
    "Resources",
    "RunSummary",
    "SimulationResult",
    "TracerVariable",
    "axis_speeds",
    "blend",
    "check_arithmetic",
    "check_regional_run",
    "check_resources",
    "check_velocity_span",
    "concentration_scale",
    "estimate_resources",
    "get_stepper",
    "interpolation_weights",
    "is_learned",
    "limited_step",
    "max_concentration",
    "plan",
    "regional_summary",
    "run_dtype",
    "simulate",
    "simulate_to_file",
    "step_midpoints",
    "stream",
    "supported_courant",
    "tracer_scales",
    "used_velocity",
]
