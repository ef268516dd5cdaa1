"""The limits a step declares, checked against a run: its Courant number and its deformation number.

Every :class:`~learned_advection.numerics.steppers.Stepper` declares ``max_courant`` (the largest face Courant
number ``|u_a| dt / dx_a`` it is meant for) and ``max_deformation`` (the largest deformation number
``|u_a[i+1/2] - u_a[i-1/2]| dt / dx_a`` it is sound for, or ``None``: no limit but the Courant one; the
unbounded flux-form semi-Lagrangian large step declares
:data:`~learned_advection.numerics.ffsl.MAX_DEFORMATION`, beyond which its departure regions fold).

:func:`check_limits` refuses a run beyond either with a one-line
:class:`~learned_advection.errors.UserError`; :func:`substeps_needed` gives the fewest equal sub-steps that
bring a step within both.  Both read the arrays' values in numpy float64 (not traceable): call them on
concrete velocities, before a compiled loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from learned_advection.errors import UserError

# A Courant number within this of a limit is at the limit (round-off in dt = cfl * dx / max|u|): a run at
# 1 + 1e-12 takes the ordinary step.
COURANT_SLACK = 1e-9

# Velocities in a narrower float (float32) are rounded at that precision: a Courant number within this many
# of its epsilons (relative) of a limit is at the limit too (a flow scaled to Courant 4 in float64, then cast).
ROUNDING_EPS = 4

# Elements of a velocity array read into float64 at a time (a long series is read block by block).
_BLOCK = 2**22

# What to do, in the Python API's terms (the command line says it in its options').
COURANT_REMEDY = "use a smaller dt or equal sub-steps (Repeated(step, substeps_needed(...)))"
DEFORMATION_REMEDY = (
    "use a smaller dt, equal sub-steps (Repeated(step, substeps_needed(...))), or the bounded step (FCT)"
)


def _field_maxima(velocity: Sequence, spacing: Sequence[float], periodic=None) -> tuple[np.ndarray, np.ndarray]:
    """Per field (every index of the leading axes, flattened): ``max_a max|u_a| / dx_a`` and
    ``max_a max|u_a[i+1/2] - u_a[i-1/2]| / dx_a``, float64 (``periodic[a]`` false: the faces of a non-periodic
    axis, no difference across its ends)."""
    nd = len(spacing)
    speed = deform = None
    for a, (u, d) in enumerate(zip(velocity, spacing)):
        u = np.asarray(u)
        lead = u.shape[: u.ndim - nd]
        flat = u.reshape((-1,) + u.shape[u.ndim - nd :])
        size = max(1, int(np.prod(flat.shape[1:], dtype=np.int64)))
        block = max(1, _BLOCK // size)
        s = np.empty(flat.shape[0])
        g = np.empty(flat.shape[0])
        for start in range(0, flat.shape[0], block):
            part = np.asarray(flat[start : start + block], np.float64)
            axes = tuple(range(1, part.ndim))
            with np.errstate(invalid="ignore", over="ignore"):  # Inf or NaN: found by the callers
                s[start : start + block] = np.max(np.abs(part), axis=axes, initial=0.0) / float(d)
                if periodic is None or periodic[a]:
                    jump = np.abs(part - np.roll(part, 1, axis=1 + a))
                else:
                    jump = np.abs(np.diff(part, axis=1 + a))
                g[start : start + block] = np.max(jump, axis=axes, initial=0.0) / float(d)
        if speed is None:
            speed, deform, shape = s, g, lead
        else:
            if lead != shape:
                raise ValueError(f"velocity components have different leading axes: {shape} and {lead}")
            speed, deform = np.maximum(speed, s), np.maximum(deform, g)
    return speed, deform


def _periodic(stepper):
    """Per axis, whether the stepper's domain is periodic there (``None``: every axis)."""
    domain = getattr(stepper, "domain", None)
    return None if domain is None else tuple(sides is None for sides in domain.axes)


def _numbers(velocity, dt: float, spacing, periodic=None) -> tuple[np.ndarray, np.ndarray]:
    speed, deform = _field_maxima(velocity, spacing, periodic)
    return speed * float(dt), deform * float(dt)


def digits_above(value: float, limit: float, least: int = 3) -> str:
    """``value`` with the fewest significant digits (at least ``least``) that still show it above ``limit``."""
    for digits in range(least, 18):
        text = f"{value:.{digits}g}"
        if float(text) > limit:
            return text
    return repr(value)


def check_limits(
    stepper,
    velocity: Sequence,
    dt: float,
    spacing: Sequence[float],
    *,
    what: str = "",
    courant_remedy: str | None = None,
    deformation_remedy: str | None = None,
    who: str | None = None,
    field_offset: int = 0,
) -> None:
    """Refuse a run beyond the stepper's declared limits (its Courant number or its deformation number).

    The Courant number ``max |u_a| dt / dx_a`` may exceed ``stepper.max_courant`` by
    :data:`COURANT_SLACK` (round-off; for velocities in a narrower float, :data:`ROUNDING_EPS` of its
    epsilons relative to the limit, if more); the deformation number
    (:func:`~learned_advection.numerics.grids.deformation_number`) may reach ``stepper.max_deformation``
    (no limit when ``None``).  A velocity with leading (e.g. time) axes is checked field by field: every
    step of an unsteady flow must be within the limits, and the message names the first field beyond them.

    Parameters
    ----------
    stepper : Stepper
        The step of the run (its ``name``, ``max_courant`` and ``max_deformation``).
    velocity : sequence of array
        Face velocities ordered like the array axes, the spatial axes last (concrete arrays).
    dt : float
        The time step.
    spacing : sequence of float
        Cell width per axis.
    what : str, optional
        Where the numbers come from, for the message (e.g. ``"with dt = 0.1"``).
    courant_remedy, deformation_remedy : str, optional
        What to do about each, for the message (default: :data:`COURANT_REMEDY`,
        :data:`DEFORMATION_REMEDY`, in the Python API's terms).
    who : str, optional
        The stepper, for the message (default: its ``name``).
    field_offset : int, default 0
        The number of the first field of a series, for the message (the fields are a part of a longer series).

    Raises
    ------
    UserError
        One line: the number found, the limit, the stepper and what to do.
    """
    courant, deformation = _numbers(velocity, dt, spacing, _periodic(stepper))
    if courant.size == 0:
        return
    name = getattr(stepper, "name", "the step") if who is None else who
    series = courant.size > 1 or np.ndim(velocity[0]) > len(spacing)
    limit = int(stepper.max_courant)
    beyond = np.flatnonzero(courant > limit + courant_slack(velocity, limit))
    if beyond.size:
        i = int(beyond[0])
        raise UserError(
            _message("Courant number", float(courant[i]), limit, i + field_offset if series else None, what)
            + f", the limit of {name}'s step: {courant_remedy or COURANT_REMEDY}"
        )
    most = stepper.max_deformation
    if most is None:
        return
    beyond = np.flatnonzero(deformation > most)
    if beyond.size:
        i = int(beyond[0])
        raise UserError(
            _message("deformation number", float(deformation[i]), most, i + field_offset if series else None, what)
            + f", the limit of {name}'s large step (its departure regions fold): {deformation_remedy or DEFORMATION_REMEDY}"
        )


def courant_slack(velocity: Sequence, limit: float) -> float:
    """How far above ``limit`` a Courant number of ``velocity`` is still at it: :data:`COURANT_SLACK`, or
    :data:`ROUNDING_EPS` epsilons of the velocity's float type relative to ``limit`` if more (float32).

    Parameters
    ----------
    velocity : sequence of array
        The face velocities (their dtype).
    limit : float
        The Courant limit.

    Returns
    -------
    float
    """
    dtypes = [np.dtype(u.dtype) if hasattr(u, "dtype") else np.asarray(u).dtype for u in velocity]
    eps = max((float(np.finfo(d).eps) for d in dtypes if np.issubdtype(d, np.floating)), default=0.0)
    return max(COURANT_SLACK, ROUNDING_EPS * eps * float(limit))


def _message(quantity: str, value: float, limit: float, field: int | None, what: str) -> str:
    where = "" if field is None else f" (velocity field {field})"
    return f"{quantity} {digits_above(value, limit)}{where}{' ' + what if what else ''} > {limit:g}"


def substeps_needed(stepper, velocity: Sequence, dt: float, spacing: Sequence[float]) -> int:
    """The fewest equal sub-steps ``n >= 1`` such that steps of ``dt / n`` are within the stepper's limits.

    Within the limits as :func:`check_limits` sees them: the Courant number at ``dt / n`` at most
    ``max_courant`` (plus :func:`courant_slack`), the deformation number at most ``max_deformation``, over
    every field of ``velocity`` (leading axes included).

    Parameters
    ----------
    stepper : Stepper
        The step (its ``max_courant`` and ``max_deformation``).
    velocity : sequence of array
        Face velocities, the spatial axes last (concrete arrays).
    dt : float
        The time step to divide.
    spacing : sequence of float
        Cell width per axis.

    Returns
    -------
    int

    Raises
    ------
    UserError
        The velocity or ``dt`` is not finite (no number of sub-steps brings the run within the limits).
    """
    speed, deform = _field_maxima(velocity, spacing, _periodic(stepper))
    speed = float(np.max(speed, initial=0.0))
    deform = float(np.max(deform, initial=0.0))
    if not (math.isfinite(speed * dt) and math.isfinite(deform * dt)):
        raise UserError(f"the Courant number with dt = {dt:g} is not a finite number: no sub-steps bring it in range")
    limit = int(stepper.max_courant)
    n = _fewest(speed, dt, limit + courant_slack(velocity, limit))
    if stepper.max_deformation is not None:
        n = max(n, _fewest(deform, dt, float(stepper.max_deformation)))
    return n


def _fewest(rate: float, dt: float, limit: float) -> int:
    """The fewest ``n >= 1`` with ``rate * (dt / n) <= limit`` (evaluated as the checks evaluate it)."""
    return fewest_substeps(lambda n: rate * (dt / n) <= limit, math.ceil(rate * dt / limit) if limit > 0 else 1)


def fewest_substeps(within: Callable[[int], bool], guess: int = 1) -> int:
    """The fewest ``n >= 1`` for which ``within(n)`` holds, ``within`` false below some ``n`` and true from it on.

    A bisection from ``guess`` (a good one saves a few evaluations): any size of ``n``, no round-off loop.

    Parameters
    ----------
    within : callable
        ``n -> bool``, monotone (true from some ``n`` on).
    guess : int, default 1
        A first guess of the answer.

    Returns
    -------
    int
    """
    if within(1):
        return 1
    low, high = 1, max(2, int(guess))  # within(low) is false
    while not within(high):
        low, high = high, 2 * high
    while high - low > 1:
        mid = (low + high) // 2
        if within(mid):
            high = mid
        else:
            low = mid
    return high
