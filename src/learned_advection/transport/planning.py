"""A run validated before any computation: everything a user can get wrong in the options is checked
against the problem by :func:`plan` and reported as one-line :class:`~learned_advection.errors.UserError`."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from learned_advection.data.netcdf.problem import Problem
from learned_advection.errors import UserError
from learned_advection.numerics.grids import dt_from_cfl, max_courant
from learned_advection.transport.arithmetic import check_arithmetic
from learned_advection.transport.schemes import COURANT_SLACK, LARGE_COURANT, supported_courant
from learned_advection.transport.winds import axis_speeds, check_velocity_span, used_velocity

# The largest --steps: step indices and times stay exact integers in float64.
MAX_STEPS = 2**53


@dataclasses.dataclass(frozen=True)
class Plan:
    """A validated run: time step, step counts and the resulting Courant number."""

    dt: float
    n_steps: int
    save_every: int
    courant: float

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
) -> Plan:
    """Validate the run options against the problem; ``dt`` comes from ``dt`` or from ``cfl``.

    With ``cfl``, ``dt = cfl * min_a(dx_a / max|u_a|)`` over every velocity field the run uses (a
    velocity at its own times: over all of them).  The run's arithmetic is checked with
    :func:`~learned_advection.transport.arithmetic.check_arithmetic`.

    Parameters
    ----------
    problem : Problem
        The problem to run.
    n_steps : int
        Number of steps (``--steps``), positive, at most :data:`MAX_STEPS`.
    dt : float, optional
        Time step (``--dt``); exactly one of ``dt`` and ``cfl``.
    cfl : float, optional
        Courant number the time step is chosen for (``--cfl``), in (0, ``LARGE_COURANT``].
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
    if (dt is None) == (cfl is None):
        raise UserError("give exactly one of --dt and --cfl")
    if problem.time_dependent and not problem.interpolated and problem.n_velocity_steps < n_steps:
        raise UserError(
            f"the input has {problem.n_velocity_steps} velocity fields in time, need one per step ({n_steps})"
        )
    velocity = used_velocity(problem, n_steps)
    spacing = problem.grid.spacing
    if cfl is not None:
        if not math.isfinite(cfl) or not 0 < cfl <= LARGE_COURANT:
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
    if courant > supported + COURANT_SLACK:
        which = f"{scheme} supports" if scheme else "the schemes support"
        raise UserError(
            f"Courant number {_above(courant, supported)} > {supported:g} with dt = {dt:g} ({which} at most "
            f"{supported:g}); use a smaller --dt or --cfl <= {supported:g}"
        )
    check_arithmetic(problem, velocity, dt, scheme, dtype)
    return Plan(float(dt), n_steps, save_every, float(courant))


def _above(value: float, limit: float) -> str:
    """``value`` with the fewest significant digits (at least 4) that still show it above ``limit``."""
    for digits in range(4, 18):
        text = f"{value:.{digits}g}"
        if float(text) > limit:
            return text
    return repr(value)
