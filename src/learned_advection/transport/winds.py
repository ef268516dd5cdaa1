"""Velocities in time: which fields a run uses, and a velocity given at its own times
(``velocity_time`` in the input) interpolated linearly to each step's midpoint ``t + dt/2``.

A run gets per step the index of the field at or before the step's midpoint and the weight of the
next one (:func:`interpolation_weights` of :func:`step_midpoints`) and blends the two inside the
compiled loop (:func:`blend`), so no field per step is ever stored.  A linear combination of
discretely divergence-free face velocities is discretely divergence-free.
"""

from __future__ import annotations

import jax
import numpy as np

from learned_advection.data.netcdf.problem import Problem
from learned_advection.errors import UserError

# The slack by which the steps' midpoints may fall outside the times of a velocity given at its own
# times before a run is refused: this fraction of the spacing of the fields at that end (the field
# there is held that little longer), plus SPAN_ULPS units in the last place of the times compared
# (the round-off of the midpoints (n + 1/2) dt and of converting the times to the run's unit).
SPAN_SLACK = 1e-9
SPAN_ULPS = 4


def step_midpoints(first: int, count: int, dt: float) -> np.ndarray:
    """The midpoints ``(n + 1/2) dt`` of steps ``n = first, ..., first + count - 1`` (float64, from t = 0).

    Parameters
    ----------
    first : int
        Index of the first step (0 is the step from t = 0).
    count : int
        Number of steps.
    dt : float
        Time step.

    Returns
    -------
    numpy.ndarray
        ``count`` times, float64.
    """
    return (np.arange(first, first + count, dtype=np.float64) + 0.5) * dt


def interpolation_weights(times, t) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation in time: for each ``t``, the index of the field at or before it and the weight of the next one.

    The velocity at ``t`` is ``(1 - w) u[k] + w u[k + 1]`` (:func:`blend`).  ``k`` is clipped so that
    ``k + 1`` exists and ``w`` to [0, 1] (a ``t`` outside the times takes the nearest field).

    Parameters
    ----------
    times : array_like
        Times of the velocity fields, strictly increasing (at least two).
    t : array_like
        Times to interpolate to (e.g. :func:`step_midpoints`).

    Returns
    -------
    k : numpy.ndarray
        Index of the field at or before each ``t``.
    w : numpy.ndarray
        Weight of the field ``k + 1`` at each ``t``.
    """
    times = np.asarray(times, np.float64)
    t = np.asarray(t, np.float64)
    k = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    w = np.clip((t - times[k]) / (times[k + 1] - times[k]), 0.0, 1.0)
    return k, w


def blend(frames, index, weight) -> tuple:
    """``(1 - weight) frames[index] + weight frames[index + 1]`` for each velocity component.

    Traceable by jax: ``index`` and ``weight`` may be traced scalars (inside a compiled loop).  Linear in
    the fields, so discretely divergence-free C-grid face velocities blend into a discretely
    divergence-free one.

    Parameters
    ----------
    frames : tuple of arrays
        The velocity components, each with a leading time axis.
    index : int or jax scalar
        The field at or before the time (:func:`interpolation_weights`).
    weight : float or jax scalar
        The weight of the next field.

    Returns
    -------
    tuple
        The blended components, without the time axis.
    """

    def at(u, i):
        return jax.lax.dynamic_index_in_dim(u, i, keepdims=False)

    return tuple((1 - weight) * at(u, index) + weight * at(u, index + 1) for u in frames)


def used_velocity(problem: Problem, n_steps: int, dt: float | None = None) -> tuple[np.ndarray, ...]:
    """The velocity fields a run of ``n_steps`` uses (the first ``n_steps`` of a series of one per step).

    A velocity at its own times (``problem.interpolated``): the fields around the midpoints of the
    steps of ``dt`` (every field when ``dt`` is not known yet); the run is checked to lie within them
    by :func:`check_velocity_span`.

    Parameters
    ----------
    problem : Problem
        The problem of the run.
    n_steps : int
        Number of steps of the run.
    dt : float, optional
        Time step of the run, for a velocity at its own times.

    Returns
    -------
    tuple of numpy.ndarray
        The fields, ordered like the array axes.
    """
    if problem.interpolated:
        if dt is None:
            return problem.velocity
        k, _ = interpolation_weights(problem.velocity_times, [0.5 * dt, (n_steps - 0.5) * dt])  # first, last
        return tuple(u[k[0] : k[1] + 2] for u in problem.velocity)
    if problem.time_dependent:
        return tuple(u[:n_steps] for u in problem.velocity)
    return problem.velocity


def check_velocity_span(problem: Problem, n_steps: int, dt: float) -> None:
    """Refuse (one line) a run whose steps' midpoints fall outside the times of a velocity given at its own times.

    Parameters
    ----------
    problem : Problem
        The problem of the run (nothing is checked unless its velocity is at its own times).
    n_steps : int
        Number of steps of the run.
    dt : float
        Time step of the run.

    Raises
    ------
    UserError
        The first or last midpoint is outside the velocity's times by more than :data:`SPAN_SLACK` of the
        spacing of the fields at that end (plus :data:`SPAN_ULPS` units of round-off).
    """
    if not problem.interpolated:
        return
    first, last = 0.5 * dt, (n_steps - 0.5) * dt
    unit = f" {problem.time_unit}" if problem.time_unit else ""
    check_span(
        problem,
        problem.velocity_times,
        first,
        last,
        "velocity_time",
        ("the velocity is", "it"),
        f"the midpoints of its {n_steps} steps of dt = {dt:.6g}{unit} from t = 0",
        "velocities that cover the run",
    )


def check_span(
    problem: Problem, times, first: float, last: float, coordinate: str, what: tuple[str, str], needed: str, remedy: str
) -> None:
    """Refuse (one line) a run that needs values at times ``first .. last`` outside ``times`` (values given at
    their own times: velocities, boundary values, sources), beyond :data:`SPAN_SLACK` of the spacing of the
    times at that end plus :data:`SPAN_ULPS` units of round-off.

    Parameters
    ----------
    problem : Problem
        The problem of the run (its time unit and reference, for the message).
    times : array_like
        The times of the values, strictly increasing (at least two).
    first, last : float
        The first and last time the run needs.
    coordinate : str
        The coordinate of the times (``velocity_time``), for the message.
    what : tuple of str
        What is given at them and the pronoun for it (``("the velocity is", "it")``), for the message.
    needed : str
        Which times the run needs, for the message.
    remedy : str
        What to give instead of fewer steps, for the message.

    Raises
    ------
    UserError
    """
    times = np.asarray(times, np.float64)

    def slack(end: float, spacing: float, t: float) -> float:  # a sliver of the last interval, plus round-off
        return SPAN_SLACK * float(spacing) + SPAN_ULPS * float(np.spacing(max(abs(end), abs(t))))

    start, stop = float(times[0]), float(times[-1])
    early = first < start - slack(start, times[1] - times[0], first)
    late = last > stop + slack(stop, times[-1] - times[-2], last)
    if early or late:
        unit = f" {problem.time_unit}" if problem.time_unit else ""
        since = f" after {problem.time_reference}" if problem.time_reference else ""
        raise UserError(
            f"{what[0]} given from {coordinate} {start:.6g} to {stop:.6g}{unit}{since} but the run needs {what[1]} "
            f"from {first:.6g} to {last:.6g} ({needed}); give fewer --steps or {remedy}"
        )


def axis_speeds(velocity) -> list[float]:
    """Largest ``|u|`` per axis over all fields (and times) given.

    Parameters
    ----------
    velocity : tuple of arrays
        The velocity components, ordered like the array axes.

    Returns
    -------
    list of float
        One speed per axis.
    """
    return [float(np.max(np.abs(u))) for u in velocity]
