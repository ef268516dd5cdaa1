"""The advection problem a run takes: initial tracers, face velocities and the grid
(:func:`~learned_advection.data.netcdf.readers.read_problem` reads one from a file)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from learned_advection.data.netcdf.conventions import CONCENTRATION
from learned_advection.data.netcdf.times import RUN_TIME_UNITS
from learned_advection.numerics.grids import Grid


@dataclasses.dataclass(frozen=True)
class TracerVariable:
    """One variable of tracers in a file: its name, its attributes and how many tracers it holds
    (``count``: ``None`` for one tracer with the grid's dims, ``n`` for a leading ``tracer`` dim)."""

    name: str = CONCENTRATION
    count: int | None = None
    attrs: Mapping = dataclasses.field(default_factory=dict)

    @property
    def size(self) -> int:
        """Number of tracers the variable holds."""
        return 1 if self.count is None else int(self.count)

    @property
    def labels(self) -> list[str]:
        """One name per tracer: the variable's name, indexed along ``tracer`` when it has that dim."""
        return [self.name] if self.count is None else [f"{self.name}[{i}]" for i in range(self.count)]


@dataclasses.dataclass(frozen=True)
class SideValues:
    """The values of every tracer at one open side: ``values`` ``(n_tracers, m)`` (constant; ``m`` cells along
    the side, 1 in 1-D), or ``(n_tracers, k, m)`` at the ``k`` times ``times`` (interpolated linearly)."""

    values: np.ndarray
    times: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class Sources:
    """The emission rate of every tracer (tracer units per time unit; zero for a tracer without one): ``rates``
    ``(n_tracers, *grid)`` constant, or ``(n_tracers, k, *grid)`` at the ``k`` times ``times`` (interpolated
    linearly); ``units``: each tracer's CF units of the rate, if given."""

    rates: np.ndarray
    times: np.ndarray | None = None
    units: tuple[str | None, ...] = ()


@dataclasses.dataclass(frozen=True)
class Problem:
    """An advection problem read from a file.

    ``concentration`` has the grid's shape (one tracer) or a leading tracer axis (``(n, *grid.shape)``:
    every tracer of the file, stacked in the order of ``tracers``, the variables they come from; empty:
    one variable ``concentration``).  ``velocity`` is ordered like the array axes (``(y_velocity,
    x_velocity)`` in 2-D); each array has the grid's shape, or a leading time axis when
    ``time_dependent``: one field per step, or, with ``velocity_times``, fields at those physical
    times (interpolated linearly to each step's midpoint by the run).  ``tracer_coordinate`` is the
    file's ``tracer`` coordinate (values, attributes), if any.  ``units`` holds the units of the
    coordinates by name, and under ``"time"`` the CF units of the output's time when the run's time
    unit is known.  ``time_unit`` is the run's time unit (``"seconds"``, ``"minutes"``, ``"hours"`` or
    ``"days"``: that of ``dt`` and ``velocity_times``; ``None``: not known), ``time_reference`` the date
    of t = 0 (ISO 8601) when the velocity's times are dates.

    A regional domain: ``boundaries`` holds per array axis ``None`` (periodic) or the kinds
    ``(low, high)`` of its sides (``"wall"``, ``"open"``); the velocity component of a non-periodic axis
    has ``n + 1`` faces along it.  ``boundary_values`` maps ``(array axis, side)`` (side 0 low, 1 high) of
    every open side to its :class:`SideValues`; ``sources`` holds the emission rates, if any.
    """

    grid: Grid
    concentration: np.ndarray
    velocity: tuple[np.ndarray, ...]
    time_dependent: bool = False
    units: Mapping[str, str] = dataclasses.field(default_factory=dict)
    tracers: tuple[TracerVariable, ...] = ()
    velocity_times: np.ndarray | None = None
    tracer_coordinate: tuple[np.ndarray, Mapping] | None = None
    time_unit: str | None = None
    time_reference: str | None = None
    boundaries: tuple[tuple[str, str] | None, ...] = ()
    boundary_values: Mapping[tuple[int, int], SideValues] = dataclasses.field(default_factory=dict)
    sources: Sources | None = None

    def __post_init__(self):
        if self.time_unit is not None and self.time_unit not in RUN_TIME_UNITS:
            raise ValueError(f"time_unit must be one of {sorted(RUN_TIME_UNITS)} or None, got {self.time_unit!r}")
        if self.time_reference is not None and self.time_unit is None:
            raise ValueError("time_reference needs a time_unit")
        shape = np.shape(self.concentration)
        if shape[-self.grid.ndim :] != tuple(self.grid.shape) or len(shape) not in (self.grid.ndim, self.grid.ndim + 1):
            raise ValueError(
                f"concentration has shape {shape}, expected {self.grid.shape} or (n_tracers, *{self.grid.shape})"
            )
        if self.tracers and sum(t.size for t in self.tracers) != self.n_tracers:
            raise ValueError(
                f"the tracer variables hold {sum(t.size for t in self.tracers)} tracers, "
                f"the concentration {self.n_tracers}"
            )
        if self.tracers and (len(self.tracers) == 1 and self.tracers[0].count is None) == self.batched:
            raise ValueError("a leading tracer axis needs several tracer variables or one with a count, and only then")
        if self.boundaries and len(self.boundaries) != self.grid.ndim:
            raise ValueError(f"boundaries needs one entry per axis ({self.grid.ndim}), got {len(self.boundaries)}")
        open_sides = {(a, s) for a, sides in enumerate(self.boundaries) if sides for s in (0, 1) if sides[s] == "open"}
        if set(self.boundary_values) != open_sides:
            raise ValueError(
                f"boundary_values must give every open side (axis, side) {sorted(open_sides)}, got "
                f"{sorted(self.boundary_values)}"
            )
        for side in self.boundary_values.values():
            if np.shape(side.values)[0] != self.n_tracers or np.ndim(side.values) != 2 + (side.times is not None):
                raise ValueError(
                    f"boundary values have shape {np.shape(side.values)}, expected (n_tracers, [times,] cells along "
                    "the side)"
                )
        if self.velocity_times is not None and not (
            self.time_dependent and len(self.velocity_times) == self.velocity[0].shape[0]
        ):
            raise ValueError("velocity_times needs one time per velocity field (a time-dependent velocity)")

    @property
    def periodic(self) -> bool:
        """Whether every axis is periodic (the ordinary domain)."""
        return all(sides is None for sides in self.boundaries)

    @property
    def regional(self) -> bool:
        """Whether the run needs the regional step: an axis that is not periodic, or emission sources."""
        return not self.periodic or self.sources is not None

    @property
    def axis_boundaries(self) -> tuple[tuple[str, str] | None, ...]:
        """``boundaries`` with one entry per array axis (``None``: periodic)."""
        return self.boundaries or (None,) * self.grid.ndim

    @property
    def batched(self) -> bool:
        """Whether ``concentration`` has a leading tracer axis."""
        return np.ndim(self.concentration) == self.grid.ndim + 1

    @property
    def n_tracers(self) -> int:
        """Number of tracers advected."""
        return int(np.shape(self.concentration)[0]) if self.batched else 1

    @property
    def tracer_variables(self) -> tuple[TracerVariable, ...]:
        """The variables the tracers come from and go to (default: ``concentration``)."""
        return self.tracers or (TracerVariable(CONCENTRATION, self.n_tracers if self.batched else None),)

    @property
    def tracer_names(self) -> list[str]:
        """One name per tracer, in the order of the stack (``name[i]`` along a ``tracer`` dim)."""
        return [label for t in self.tracer_variables for label in t.labels]

    @property
    def interpolated(self) -> bool:
        """Whether the velocity is given at its own times (``velocity_time``), interpolated to each step."""
        return self.velocity_times is not None

    @property
    def n_velocity_steps(self) -> int | None:
        """Number of velocity fields in time (``None`` for a constant velocity)."""
        return int(self.velocity[0].shape[0]) if self.time_dependent else None
