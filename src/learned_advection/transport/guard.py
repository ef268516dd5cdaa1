"""The blow-up guard of a run: every saved state is checked against what the equation allows, so a run that
goes wrong stops with one line instead of writing garbage.

Advection in flux form keeps three things a solution may not lose, whatever the scheme:

* the **mass** ``sum c`` (the fluxes telescope on a periodic domain): it may change by round-off only;
* the **absolute mass** ``sum |c|`` (``|c|`` obeys the same conservation law, in any flow): a scheme's
  diffusion lowers it, an oscillation raises it a little, a blow-up by orders of magnitude;
* in a **divergence-free flow**, the **range** of the initial field (no new extrema): a scheme that is not
  bounded over- or undershoots by a fraction of the range, a blow-up by far more.

:class:`BlowUpGuard` stops a run (a one-line :class:`~learned_advection.errors.UserError`) at the first saved
state with a NaN or Inf, with a relative mass change beyond :func:`mass_tolerance`, with ``sum |c|`` above
:data:`ABSOLUTE_MASS_GROWTH` times its initial value, or, in a divergence-free flow, with a value more than
the initial range (:data:`RANGE_MARGIN` times it) outside that range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from learned_advection.errors import UserError

# A saved state may leave the initial range [min, max] by at most this times (max - min) in a
# divergence-free flow (for a constant field: this times RANGE_FLOOR of its magnitude).
RANGE_MARGIN = 1.0
RANGE_FLOOR = 1e-3
# sum |c| may grow to at most this times its initial value (it stays equal in the exact solution).
ABSOLUTE_MASS_GROWTH = 2.0
# A flow is divergence-free (no new extrema in the exact solution) where max |div u| dt is below this.
DIVERGENCE_FREE = 1e-6


def mass_tolerance(dtype, steps: int) -> float:
    """The largest relative mass change (``|sum c - sum c0| / sum |c0|``) round-off explains after ``steps`` steps.

    Each step rounds every cell's update once (an error of about one unit in the last place of the
    values, of either sign), so the mass error grows like a random walk: ``64 eps sqrt(steps)``, plus
    ``1000 eps`` for the sums themselves; ``eps`` is the run dtype's machine epsilon (1.2e-7 in float32:
    1.3e-4 after one step, 7.6e-3 after a million).

    Parameters
    ----------
    dtype : numpy dtype
        The run's dtype.
    steps : int
        Steps taken.

    Returns
    -------
    float
    """
    eps = float(np.finfo(dtype).eps)
    return 1000 * eps + 64 * eps * math.sqrt(max(int(steps), 1))


def divergence_free(velocity: Sequence[np.ndarray], spacing: Sequence[float], dt: float) -> bool:
    """Whether face velocities (any leading time axis) are discretely divergence-free: ``max |div u| dt`` below
    :data:`DIVERGENCE_FREE` in every field, computed in float64 one field at a time.

    Parameters
    ----------
    velocity : sequence of numpy.ndarray
        Face velocities ordered like the array axes, each ``(*space)`` or ``(time, *space)``; ``n + 1`` faces
        along a non-periodic axis (the + face of every cell along a periodic one).
    spacing : sequence of float
        Cell width per axis.
    dt : float
        Time step of the run.

    Returns
    -------
    bool
    """
    ndim = len(spacing)
    fields = np.asarray(velocity[0]).shape[: np.ndim(velocity[0]) - ndim]
    cells = tuple(min(np.shape(u)[np.ndim(u) - ndim + a] for u in velocity) for a in range(ndim))
    for index in np.ndindex(*fields):
        total = np.zeros(cells)
        for a, (u, d) in enumerate(zip(velocity, spacing)):
            u = np.asarray(u[index], np.float64)
            if u.shape[a] == cells[a] + 1:  # n + 1 faces along a non-periodic axis
                total += np.diff(u, axis=a) / d
            else:
                total += (u - np.roll(u, 1, axis=a)) / d
        if not np.max(np.abs(total)) * dt < DIVERGENCE_FREE:
            return False
    return True


class BlowUpGuard:
    """Checks saved states against the initial one (see the module's docstring); one per run.

    Parameters
    ----------
    initial : numpy.ndarray
        The initial state, ``(*space)`` or ``(n_tracers, *space)``.
    ndim : int
        Number of space axes.
    dtype : numpy dtype
        The run's dtype.
    bounded : bool
        Whether the flow is divergence-free (:func:`divergence_free`): then the range is checked too.
    describe : str
        The run, for the message (e.g. ``"ppm, Courant 3.5"``).
    tracer_names : sequence of str, optional
        The tracers' names (a leading tracer axis), for the message.
    inflow_range : tuple of numpy.ndarray, optional
        A regional run: the least and largest value entering at open sides, per tracer (the range may widen to
        them).
    volume : float, default 1.0
        A regional run: the cell volume (the budget is a mass, ``sum(c) * volume``).
    source_rate : numpy.ndarray, optional
        A regional run with emission sources: the largest ``sum |S|`` over the source's times, per tracer (the
        range is then not checked).
    """

    def __init__(
        self,
        initial,
        ndim: int,
        dtype,
        bounded: bool,
        describe: str,
        tracer_names=None,
        inflow_range=None,
        volume: float = 1.0,
        source_rate=None,
    ):
        self.volume = float(volume)
        self.source_rate = None if source_rate is None else np.asarray(source_rate, np.float64)
        c0 = np.asarray(initial, np.float64)
        self.axes = tuple(range(-ndim, 0))
        self.dtype, self.bounded, self.describe = np.dtype(dtype), bool(bounded), describe
        self.tracer_names = None if tracer_names is None else list(tracer_names)
        self.mass = c0.sum(axis=self.axes)
        self.absolute = np.abs(c0).sum(axis=self.axes)
        low, high = c0.min(axis=self.axes), c0.max(axis=self.axes)
        size = np.maximum(np.abs(low), np.abs(high))
        if inflow_range is not None:
            low, high = np.minimum(low, inflow_range[0]), np.maximum(high, inflow_range[1])
            size = np.maximum(np.abs(low), np.abs(high))
        if self.source_rate is not None:
            self.bounded = False  # emissions make new extrema
        margin = RANGE_MARGIN * np.maximum(high - low, RANGE_FLOOR * size)
        self.low, self.high = low - margin, high + margin

    def check(self, frames: np.ndarray, first: int, save_every: int, budget=None, dt: float = 0.0) -> None:
        """Raise a one-line :class:`UserError` at the first of ``frames`` that fails a check.

        Parameters
        ----------
        frames : numpy.ndarray
            Saved states ``(k, *initial.shape)``, numbered from ``first`` (the initial state is 0).
        first : int
            Number of the first of them.
        save_every : int
            Steps between two saved states.
        budget : dict, optional
            A regional run: the mass budget at each of ``frames``
            (:func:`~learned_advection.transport.regional.budget_totals`); the mass must then change by what
            it accounts for, and ``sum |c|`` may grow by what crossed the sides or was emitted.
        dt : float, default 0.0
            The run's time step (with ``budget``: bounds the emissions).
        """
        for i, frame in enumerate(frames):
            step = (first + i) * save_every
            with np.errstate(over="ignore", invalid="ignore"):
                c = np.asarray(frame, np.float64)
                finite = np.isfinite(c).all(axis=self.axes)
                mass = c.sum(axis=self.axes)
                absolute = np.abs(c).sum(axis=self.axes)
                low, high = c.min(axis=self.axes), c.max(axis=self.axes)
            expected, allowance = self.mass, self.absolute
            if budget is not None:
                inflow = np.sum(budget["inflow"][i], axis=(-2, -1)) / self.volume
                outflow = np.sum(budget["outflow"][i], axis=(-2, -1)) / self.volume
                emitted = budget["emitted"][i] / self.volume
                expected = self.mass + emitted + inflow - outflow
                allowance = self.absolute + inflow + outflow + np.abs(emitted)
                if self.source_rate is not None:
                    allowance = allowance + self.source_rate * step * dt
            scale = np.where(allowance > 0, allowance, 1.0)
            change = np.abs(mass - expected) / scale
            tolerance = mass_tolerance(self.dtype, step)
            problems = [(~finite, "NaN or Inf")]
            if self.bounded:
                outside = (low < self.low) | (high > self.high)
                problems.append((outside, "values in [{low:.3g}, {high:.3g}], far outside the initial range"))
            problems += [
                (absolute > ABSOLUTE_MASS_GROWTH * allowance, "sum |c| grew {growth:.3g}-fold (oscillations)"),
                (
                    change > tolerance,
                    "the mass changed by {change:.2g} of sum |c0| (round-off allows {tol:.2g})"
                    if budget is None
                    else "the mass is off its budget (inflow, outflow and emissions) by {change:.2g} of the mass "
                    "moved (round-off allows {tol:.2g})",
                ),
            ]
            for bad, what in problems:
                bad = np.atleast_1d(bad)
                if bad.any():
                    t = int(np.argmax(bad))
                    values = dict(
                        change=np.atleast_1d(change)[t],
                        tol=tolerance,
                        growth=np.atleast_1d(absolute)[t] / np.atleast_1d(scale)[t],
                        low=np.atleast_1d(low)[t],
                        high=np.atleast_1d(high)[t],
                    )
                    which = "" if self.tracer_names is None else f" in tracer {self.tracer_names[t]!r}"
                    raise UserError(
                        f"the run blew up: {what.format(**values)} by step {step}{which} ({self.describe}); "
                        "nothing written (a smaller --dt or --cfl may help)"
                    )
