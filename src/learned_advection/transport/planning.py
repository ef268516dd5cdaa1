"""A run validated before any computation: everything a user can get wrong in the options is checked
against the problem by :func:`plan` and reported as one-line :class:`~learned_advection.errors.UserError`.

Limits (``limits``, ``--limits``): a step is sound only within its declared Courant and deformation numbers
(:mod:`~learned_advection.numerics.limits`).  ``"refuse"`` (the default) runs what was asked exactly or not
at all; ``"substep"`` runs each step of a classical scheme as the fewest equal sub-steps within both limits
(:class:`~learned_advection.numerics.rollout.Repeated`; the saved times do not change).  A learned model
is trained at one time step and takes no sub-steps.  :func:`plan` checks what the options and the scheme
decide; :func:`limited_step` checks the stepper itself before a run starts.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from learned_advection.data.netcdf.problem import Problem
from learned_advection.errors import UserError
from learned_advection.numerics.grids import dt_from_cfl, max_courant
from learned_advection.numerics.limits import (
    COURANT_SLACK,
    check_limits,
    digits_above,
    fewest_substeps,
    substeps_needed,
)
from learned_advection.numerics.rollout import Repeated
from learned_advection.numerics.steppers import Stepper
from learned_advection.transport.arithmetic import check_arithmetic
from learned_advection.transport.domain import on_domain
from learned_advection.transport.schemes import LARGE_COURANT, is_learned, supported_courant
from learned_advection.transport.winds import (
    axis_speeds,
    check_velocity_span,
    interpolation_weights,
    used_velocity,
)

# The largest --steps: step indices and times stay exact integers in float64.
MAX_STEPS = 2**53
# What a run beyond a step's limits does (--limits): refuse it, or split each step into equal sub-steps.
LIMITS = ("refuse", "substep")
# The most sub-steps of one step under --limits substep (more is a time step far too large for the flow).
MAX_SUBSTEPS = 1024
# What to do about a run beyond a step's limits, on the command line.
COURANT_REMEDY = "use a smaller --dt or --cfl, or --limits substep"
DEFORMATION_REMEDY = "use a smaller --dt or --cfl, --limits substep, or the bounded step"
LEARNED_SUBSTEPS = (
    "--limits substep applies to the classical schemes only: a learned model is trained at one dt and takes no "
    "sub-steps; use --limits refuse"
)
LEARNED_REMEDY = "use a slower flow or a classical scheme (a learned model runs only at the dt it was trained at)"


@dataclasses.dataclass(frozen=True)
class Plan:
    """A validated run: time step, step counts, the resulting Courant number, and how a step is taken.

    ``substeps`` equal sub-steps of ``dt / substeps`` make one step (1 but under ``limits="substep"``);
    ``courant`` is the Courant number of a whole step of ``dt``.
    """

    dt: float
    n_steps: int
    save_every: int
    courant: float
    substeps: int = 1
    limits: str = "refuse"

    @property
    def n_frames(self) -> int:
        """Number of saved states, the initial state included."""
        return self.n_steps // self.save_every + 1

    @property
    def times(self) -> np.ndarray:
        """Physical times of the saved states (initial state first)."""
        return self.frame_times(0, self.n_frames)

    def frame_times(self, first: int, count: int) -> np.ndarray:
        """Physical times of the saved states ``first, ..., first + count - 1`` (0 is the initial state).

        Parameters
        ----------
        first : int
            Index of the first saved state.
        count : int
            Number of saved states.

        Returns
        -------
        numpy.ndarray
        """
        return self.dt * (np.arange(first, first + count, dtype=np.float64) * float(self.save_every))


def plan(
    problem: Problem,
    n_steps: int,
    *,
    dt: float | None = None,
    cfl: float | None = None,
    save_every: int = 1,
    scheme: str | None = None,
    dtype=None,
    supported: float | None = None,
    limits: str = "refuse",
    stepper: Stepper | None = None,
) -> Plan:
    """Validate the run options against the problem; ``dt`` comes from ``dt`` or from ``cfl``.

    With ``cfl``, ``dt = cfl * min_a(dx_a / max|u_a|)`` over every velocity field the run uses (a
    velocity at its own times: over all of them).  The run's arithmetic is checked with
    :func:`~learned_advection.transport.arithmetic.check_arithmetic` (at the sub-step's ``dt``).

    A Courant number above the scheme's largest (``supported``) is refused under ``limits="refuse"``
    and sub-stepped under ``"substep"``; with ``stepper``, its own declared limits are applied the same
    way (:func:`~learned_advection.numerics.limits.check_limits`,
    :func:`~learned_advection.numerics.limits.substeps_needed`) over every velocity field the run uses.

    Parameters
    ----------
    problem : Problem
        The problem to run.
    n_steps : int
        Number of steps (``--steps``), positive, at most :data:`MAX_STEPS`.
    dt : float, optional
        Time step (``--dt``); exactly one of ``dt`` and ``cfl``.
    cfl : float, optional
        Courant number the time step is chosen for (``--cfl``), in (0, ``LARGE_COURANT``] (any positive
        number under ``limits="substep"``).
    save_every : int, default 1
        Save every ``save_every``-th state; ``n_steps`` must be a multiple of it.
    scheme : str, optional
        The run's scheme (its arithmetic and largest Courant number are checked).
    dtype : numpy dtype, optional
        The run's dtype (default: the dtype :func:`~learned_advection.transport.streaming.simulate`
        computes in).
    supported : float, optional
        The largest Courant number the run's stepper takes (default:
        :func:`~learned_advection.transport.schemes.supported_courant` of ``scheme``; a learned model's
        is its ``max_courant``).
    limits : {"refuse", "substep"}, default "refuse"
        A run beyond the limits (``--limits``): refused, or each step taken as the fewest equal sub-steps
        within them (a classical scheme only; a learned model is refused under ``"substep"``).
    stepper : Stepper, optional
        The run's stepper, when known before planning (a learned model): its declared limits are checked.

    Returns
    -------
    Plan

    Raises
    ------
    UserError
        Any option out of range for the problem, with a one-line message.
    """
    if isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps <= 0:
        raise UserError(f"--steps must be a positive integer, got {n_steps}")
    if isinstance(save_every, bool) or int(save_every) != save_every or save_every <= 0:
        raise UserError(f"--save-every must be a positive integer, got {save_every}")
    n_steps, save_every = int(n_steps), int(save_every)
    if n_steps > MAX_STEPS:
        raise UserError(f"--steps must be at most 2^53 = {MAX_STEPS}, got {n_steps}")
    if n_steps % save_every:
        raise UserError(f"--steps ({n_steps}) must be a multiple of --save-every ({save_every})")
    if limits not in LIMITS:
        raise UserError(f"--limits must be one of {', '.join(LIMITS)}, got {limits!r}")
    learned = scheme == "learned" or (stepper is not None and is_learned(stepper))
    if limits == "substep" and learned:
        raise UserError(LEARNED_SUBSTEPS)
    if (dt is None) == (cfl is None):
        raise UserError("give exactly one of --dt and --cfl")
    if problem.time_dependent and not problem.interpolated and problem.n_velocity_steps < n_steps:
        raise UserError(
            f"the input has {problem.n_velocity_steps} velocity fields in time, need one per step ({n_steps})"
        )
    velocity = used_velocity(problem, n_steps)
    spacing = problem.grid.spacing
    if cfl is not None:
        if limits == "substep" and not (math.isfinite(cfl) and cfl > 0):
            raise UserError(f"--cfl must be a positive number, got {cfl:g}")
        if limits == "refuse" and (not math.isfinite(cfl) or not 0 < cfl <= LARGE_COURANT):
            raise UserError(f"--cfl must be in (0, {LARGE_COURANT}], got {cfl:g}")
        speeds = axis_speeds(velocity)
        if all(s == 0 for s in speeds):
            raise UserError("the velocity is zero everywhere: give --dt instead of --cfl")
        dt = dt_from_cfl(speeds, spacing, cfl)
        if not math.isfinite(dt) or dt <= 0:
            raise UserError(
                f"the time step from --cfl {cfl:g} is {dt:g}: the cell sizes and velocities are out of range"
            )
    if not math.isfinite(dt) or dt <= 0:
        raise UserError(f"--dt must be a positive number, got {dt:g}")
    if not math.isfinite(dt * n_steps):
        raise UserError(f"the run's end time ({n_steps} steps of dt = {dt:g}) is not a finite number")
    check_velocity_span(problem, n_steps, dt)  # a velocity at its own times: the run within them
    velocity = used_velocity(problem, n_steps, dt)
    courant = max_courant(velocity, dt, spacing)
    supported = supported_courant(scheme) if supported is None else supported
    substeps = 1
    if limits == "refuse":
        if courant > supported + COURANT_SLACK:
            which = f"{scheme} supports" if scheme else "the schemes support"
            raise UserError(
                f"Courant number {digits_above(courant, supported, least=4)} > {supported:g} with dt = {dt:g} ({which} at most "
                f"{supported:g}); use a smaller --dt or --cfl <= {supported:g}"
            )
        if stepper is not None:
            _check_stepper(problem, stepper, velocity, dt, _first_field(problem, n_steps, dt))
    else:
        substeps = _fewest_within(courant, supported + COURANT_SLACK)
        if stepper is not None:
            substeps = max(substeps, substeps_needed(on_domain(problem, stepper), velocity, dt, spacing))
        _check_substeps(substeps, dt)
    check_arithmetic(problem, velocity, dt / substeps, scheme, dtype)
    return Plan(float(dt), n_steps, save_every, float(courant), substeps, limits)


def limited_step(problem: Problem, step: Stepper, run: Plan) -> tuple[Stepper, Plan]:
    """The step a run takes, within ``step``'s declared limits, and the plan with its sub-steps.

    Under ``run.limits == "refuse"``: ``step`` itself (``run.substeps`` of them when the plan asked for
    more than one), refused when a velocity field the run uses takes it beyond its Courant or deformation
    limit.  Under ``"substep"``: ``step`` repeated (:class:`~learned_advection.numerics.rollout.Repeated`)
    the fewest equal times that keep every sub-step within both limits, at least ``run.substeps``; a
    learned model is refused.

    Parameters
    ----------
    problem : Problem
        The problem of the run.
    step : Stepper
        The stepper of one (sub-)step.
    run : Plan
        The validated run (:func:`plan`).

    Returns
    -------
    tuple of (Stepper, Plan)
        The step of ``run.dt`` and the plan with its ``substeps``.

    Raises
    ------
    UserError
        The run beyond the step's limits (``"refuse"``), a learned model under ``"substep"``, or more
        than :data:`MAX_SUBSTEPS` sub-steps needed.
    """
    velocity = used_velocity(problem, run.n_steps, run.dt)
    n = run.substeps
    if run.limits == "substep":
        if is_learned(step):
            raise UserError(LEARNED_SUBSTEPS)
        n = max(n, substeps_needed(on_domain(problem, step), velocity, run.dt, problem.grid.spacing))
        _check_substeps(n, run.dt)
        run = dataclasses.replace(run, substeps=n)
    _check_stepper(problem, step, velocity, run.dt / n, _first_field(problem, run.n_steps, run.dt))
    return (step if n == 1 else Repeated(step, n)), run


def _check_stepper(problem: Problem, step: Stepper, velocity, dt: float, offset: int) -> None:
    """:func:`~learned_advection.numerics.limits.check_limits` of the run's step (of ``dt``) over the fields
    ``velocity`` (the problem's from ``offset`` on), with the command line's remedies."""
    learned = is_learned(step)
    check_limits(
        on_domain(problem, step),
        velocity,
        dt,
        problem.grid.spacing,
        what=f"with dt = {dt:g}",
        courant_remedy=LEARNED_REMEDY if learned else COURANT_REMEDY,
        deformation_remedy=LEARNED_REMEDY if learned else DEFORMATION_REMEDY,
        who="the learned model" if learned else None,
        field_offset=offset,
    )


def _first_field(problem: Problem, n_steps: int, dt: float) -> int:
    """The index in the problem's velocity of the first field a run uses (:func:`~learned_advection.transport.winds.used_velocity`)."""
    if not problem.interpolated:
        return 0
    k, _ = interpolation_weights(problem.velocity_times, [0.5 * dt, (n_steps - 0.5) * dt])
    return int(k[0])


def _fewest_within(courant: float, most: float) -> int:
    """The fewest ``n >= 1`` with ``courant / n <= most``."""
    if not math.isfinite(courant):
        raise UserError(f"the Courant number is {courant:g}: no sub-steps bring it within {most:g}")
    return fewest_substeps(lambda n: courant / n <= most, math.ceil(courant / most))


def _check_substeps(n: int, dt: float) -> None:
    if n > MAX_SUBSTEPS:
        raise UserError(
            f"--limits substep: dt = {dt:g} needs {n if n < 10**6 else f'{float(n):.3g}'} sub-steps per step, "
            f"more than {MAX_SUBSTEPS}; use a smaller --dt"
        )
