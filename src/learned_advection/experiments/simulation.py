"""Run a scheme on a :class:`~learned_advection.data.netcdf.Problem` (the library side of ``simulate``).

Everything a user can get wrong is checked by :func:`plan` before any computation, and reported as
:class:`~learned_advection.errors.UserError`.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from learned_advection.errors import UserError
from learned_advection.numerics.grids import dt_from_cfl, max_courant
from learned_advection.data.netcdf import Problem
from learned_advection.numerics.rollout import rollout
from learned_advection.numerics.steppers import SCHEMES, Stepper, get_scheme

# A Courant number this close above 1 (round-off from dt = dx / max|u|) is accepted.
COURANT_SLACK = 1e-9


@dataclasses.dataclass(frozen=True)
class Plan:
    """A validated run: time step, step counts and the resulting Courant number."""

    dt: float
    n_steps: int
    save_every: int
    courant: float

    @property
    def times(self) -> np.ndarray:
        """Physical times of the saved states (initial state first)."""
        return self.dt * np.arange(0, self.n_steps + 1, self.save_every, dtype=np.float64)


@dataclasses.dataclass(frozen=True)
class SimulationResult:
    """What ``simulate`` computed: the saved states of one run (its trajectory), their times and the plan."""

    states: np.ndarray  # (n_saved, *grid.shape), initial state first
    times: np.ndarray
    plan: Plan


def used_velocity(problem: Problem, n_steps: int) -> tuple[np.ndarray, ...]:
    """The velocity fields a run of ``n_steps`` uses (the first ``n_steps`` of a time series)."""
    if problem.time_dependent:
        return tuple(u[:n_steps] for u in problem.velocity)
    return problem.velocity


def axis_speeds(velocity) -> list[float]:
    """Largest ``|u|`` per axis over all fields (and times) given."""
    return [float(np.max(np.abs(u))) for u in velocity]


def plan(
    problem: Problem, n_steps: int, *, dt: float | None = None, cfl: float | None = None, save_every: int = 1
) -> Plan:
    """Validate the run options against the problem; ``dt`` comes from ``dt`` or from ``cfl``.

    With ``cfl``, ``dt = cfl * min_a(dx_a / max|u_a|)`` over every velocity field the run uses.
    """
    if isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps <= 0:
        raise UserError(f"--steps must be a positive integer, got {n_steps}")
    if isinstance(save_every, bool) or int(save_every) != save_every or save_every <= 0:
        raise UserError(f"--save-every must be a positive integer, got {save_every}")
    n_steps, save_every = int(n_steps), int(save_every)
    if n_steps % save_every:
        raise UserError(f"--steps ({n_steps}) must be a multiple of --save-every ({save_every})")
    if (dt is None) == (cfl is None):
        raise UserError("give exactly one of --dt and --cfl")
    if problem.time_dependent and problem.n_velocity_steps < n_steps:
        raise UserError(
            f"the input has {problem.n_velocity_steps} velocity fields in time, need one per step ({n_steps})"
        )
    velocity = used_velocity(problem, n_steps)
    spacing = problem.grid.spacing
    if cfl is not None:
        if not math.isfinite(cfl) or not 0 < cfl <= 1:
            raise UserError(f"--cfl must be in (0, 1], got {cfl:g}")
        speeds = axis_speeds(velocity)
        if all(s == 0 for s in speeds):
            raise UserError("the velocity is zero everywhere: give --dt instead of --cfl")
        dt = dt_from_cfl(speeds, spacing, cfl)
    if not math.isfinite(dt) or dt <= 0:
        raise UserError(f"--dt must be a positive number, got {dt:g}")
    courant = max_courant(velocity, dt, spacing)
    if courant > 1 + COURANT_SLACK:
        raise UserError(f"Courant number {courant:.4g} > 1 with dt = {dt:g}; use a smaller --dt or --cfl <= 1")
    return Plan(float(dt), n_steps, save_every, float(courant))


def get_stepper(scheme: str, problem: Problem, model=None) -> Stepper:
    """The stepper of a classical scheme by name, or ``"learned"`` from the checkpoint ``model``."""
    if scheme == "learned":
        if model is None:
            raise UserError("--scheme learned needs --model PATH (a checkpoint)")
        try:
            from learned_advection.learned.checkpoint import load_stepper
        except ImportError as e:
            raise UserError(f"the learned scheme is not available in this installation ({e})") from None
        return load_stepper(model, problem.grid)
    if model is not None:
        raise UserError(f"--model is only used with --scheme learned, not {scheme}")
    try:
        return get_scheme(scheme)
    except ValueError:
        raise UserError(f"unknown scheme {scheme!r}; choose one of {', '.join([*SCHEMES, 'learned'])}") from None


def simulate(problem: Problem, step: Stepper, run: Plan) -> SimulationResult:
    """Integrate the problem with one jitted ``lax.scan`` rollout; returns numpy states."""
    dtype = jnp.result_type(float)  # float64 only under --x64 / use_x64()
    c0 = jnp.asarray(problem.concentration, dtype)
    velocity = tuple(jnp.asarray(u, dtype) for u in used_velocity(problem, run.n_steps))
    spacing = problem.grid.spacing

    @jax.jit
    def run_all(c0, velocity):
        return rollout(
            step, c0, velocity, run.dt, spacing, run.n_steps, run.save_every, time_series=problem.time_dependent
        )

    states = np.asarray(jax.block_until_ready(run_all(c0, velocity)))
    return SimulationResult(states, run.times, run)
