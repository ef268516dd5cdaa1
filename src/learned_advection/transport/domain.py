"""The domain a problem's step runs on, for the checks of its limits: the stepper itself on a periodic
problem, and on a regional one the stepper on the problem's boundaries
(:class:`~learned_advection.numerics.regional.Regional`), so that a velocity's differences are taken over
the ``n + 1`` faces of a non-periodic axis and not across its ends."""

from __future__ import annotations

from learned_advection.data.netcdf.problem import Problem
from learned_advection.numerics.boundaries import Boundaries, Open, Wall
from learned_advection.numerics.regional import Regional
from learned_advection.numerics.steppers import Stepper


def problem_boundaries(problem: Problem) -> Boundaries:
    """The problem's boundaries, each side of its kind (open sides without their values).

    Parameters
    ----------
    problem : Problem
        The problem.

    Returns
    -------
    Boundaries
    """
    return Boundaries(
        tuple(
            None if sides is None else tuple(Wall() if kind == "wall" else Open() for kind in sides)
            for sides in problem.axis_boundaries
        )
    )


def on_domain(problem: Problem, step: Stepper) -> Stepper:
    """``step`` on the problem's domain (itself on a periodic one), for the checks of its limits.

    Parameters
    ----------
    problem : Problem
        The problem of the run.
    step : Stepper
        The run's step.

    Returns
    -------
    Stepper
    """
    if problem.periodic:
        return step
    return Regional(step, problem_boundaries(problem))
