"""Writing the trajectory of a run: streamed to the file as it is computed (:func:`simulation_writer`,
:class:`TrajectoryWriter`) or all at once (:func:`write_simulation`), with CF-style metadata.  Written
into a temporary file in the destination folder, renamed over the destination only once complete."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from learned_advection._version import __version__
from learned_advection.data.netcdf.conventions import (
    AXIS_NAMES,
    TRACER_DIM,
    coordinate_variables,
    history,
    portable_attrs,
)
from learned_advection.data.netcdf.problem import TracerVariable
from learned_advection.files import atomic_path, check_output_path
from learned_advection.numerics.grids import Grid


class TrajectoryWriter:
    """Appends saved states to a trajectory file being written (see :func:`simulation_writer`).

    ``n_frames`` states of shape ``frame_shape`` are expected, initial state first; :meth:`append`
    writes the next ones with their times.  ``variables`` is the one variable a state goes to, or a
    sequence of ``(variable, count)``: the state's leading (tracer) axis is split among them in
    order, ``count`` rows each (``None``: one row, written without a tracer dim).
    """

    def __init__(self, variables, time, n_frames: int, frame_shape: tuple[int, ...]):
        self._variables = list(variables) if isinstance(variables, (list, tuple)) else None
        self._concentration = variables
        self._time = time
        self.n_frames = int(n_frames)
        self.frame_shape = tuple(frame_shape)
        self.n_written = 0

    def append(self, states, times) -> None:
        """Write ``states`` and their ``times`` after those written.

        Parameters
        ----------
        states : array_like
            ``(k, *frame_shape)`` states.
        times : array_like
            Their ``k`` times.
        """
        states = np.asarray(states)
        times = np.asarray(times, dtype=np.float64).reshape(-1)
        k = states.shape[0] if states.ndim else 0
        if states.shape[1:] != self.frame_shape or times.shape != (k,):
            raise ValueError(
                f"states of shape {states.shape} do not match frames {self.frame_shape} and {times.size} times"
            )
        if self.n_written + k > self.n_frames:
            raise ValueError(f"{self.n_written + k} frames written to a file of {self.n_frames}")
        if k:
            frames = slice(self.n_written, self.n_written + k)
            if self._variables is None:
                self._concentration[frames] = states
            else:
                row = 0
                for variable, count in self._variables:
                    variable[frames] = states[:, row] if count is None else states[:, row : row + count]
                    row += 1 if count is None else count
            self._time[frames] = times
            self.n_written += k

    def update_attrs(self, attrs: Sequence[Mapping]) -> None:
        """Add attributes to the tracer variables, one mapping per variable in order (a value of a variable
        with a ``tracer`` dim: one number per tracer).

        Parameters
        ----------
        attrs : sequence of mapping
            The attributes of each variable.
        """
        variables = [self._concentration] if self._variables is None else [v for v, _ in self._variables]
        if len(attrs) != len(variables):
            raise ValueError(f"attributes for {len(attrs)} variables, the file has {len(variables)}")
        for variable, more in zip(variables, attrs):
            variable.attrs.update(dict(more))


def simulation_bytes(grid: Grid, n_frames: int, dtype, n_tracers: int = 1) -> int:
    """Size on disk of a trajectory (data and coordinates; a few KiB of headers).

    Parameters
    ----------
    grid : Grid
        The grid.
    n_frames : int
        Number of saved states.
    dtype : numpy dtype
        The dtype of the states.
    n_tracers : int, default 1
        Number of tracers per state.

    Returns
    -------
    int
        Bytes.
    """
    state = int(np.prod(grid.shape)) * np.dtype(dtype).itemsize * int(n_tracers)
    return int(n_frames) * (state + 8) + 8 * (sum(grid.shape) + int(n_tracers)) + 65536


def _layout(grid: Grid, tracers) -> tuple[tuple[TracerVariable, ...], tuple[int, ...], int | None]:
    """The tracer variables (default: ``concentration``), the shape of one saved state and the length of
    the ``tracer`` dim (``None``: no variable has one)."""
    tracers = tuple(tracers or (TracerVariable(),))
    counts = {t.count for t in tracers if t.count is not None}
    if len(counts) > 1:
        raise ValueError(f"tracer variables disagree on the length of the {TRACER_DIM} dim: {sorted(counts)}")
    names = [t.name for t in tracers]
    if len(set(names)) != len(names):
        raise ValueError(f"tracer variables need distinct names, got {names}")
    n = sum(t.size for t in tracers)
    batched = not (len(tracers) == 1 and tracers[0].count is None)
    return tracers, ((n,) if batched else ()) + tuple(grid.shape), next(iter(counts), None)


@contextmanager
def simulation_writer(
    path,
    grid: Grid,
    n_frames: int,
    dtype,
    *,
    scheme: str,
    dt: float,
    courant: float,
    n_steps: int | None = None,
    save_every: int | None = None,
    overwrite: bool = False,
    units: Mapping[str, str] | None = None,
    attrs: Mapping | None = None,
    command: str | None = None,
    inputs=(),
    tracers: Sequence[TracerVariable] | None = None,
    tracer_coordinate: tuple[np.ndarray, Mapping] | None = None,
) -> Iterator[TrajectoryWriter]:
    """Stream a trajectory ``concentration(time, [y,] x)`` of ``n_frames`` states to ``path``.

    The block appends the states (initial state first) with :meth:`TrajectoryWriter.append`, as they
    are computed; the file (the layout and metadata of :func:`write_simulation`) is written into a
    temporary file in the output folder and renamed into place when the block ends with all
    ``n_frames`` written.  An error or Ctrl-C in the block removes it: nothing partial is ever left and
    an existing ``path`` is untouched.  ``path`` is checked first (:func:`check_output_path`).

    Parameters
    ----------
    path : path
        The output file.
    grid : Grid
        The grid.
    n_frames : int
        Number of states to be written.
    dtype : numpy dtype
        The dtype of the states.
    scheme, dt, courant, n_steps, save_every
        The run's settings, written as attributes.
    overwrite : bool, default False
        Replace an existing ``path``.
    units : mapping, optional
        Units of the coordinates by name; under ``"time"`` the CF units of ``time`` (a time unit, or
        ``"UNIT since DATE"``), see :func:`time_attrs`.
    attrs : mapping, optional
        More global attributes.
    command : str, optional
        The command line, for the ``history`` attribute.
    inputs : sequence of paths, default ()
        Input files the output may not replace.
    tracers : sequence of TracerVariable, optional
        The variables written (default: one ``concentration``), each under its own name with its
        attributes (and the run's settings): ``(time, [y,] x)``, or ``(time, tracer, [y,] x)`` for a
        variable with a ``count``; a saved state then has a leading tracer axis, the variables' rows in
        order.
    tracer_coordinate : tuple, optional
        Values and attributes of the ``tracer`` coordinate.

    Yields
    ------
    TrajectoryWriter
    """
    import h5netcdf

    n_frames = int(n_frames)
    dtype = np.dtype(dtype)
    tracers, frame_shape, n_tracer_dim = _layout(grid, tracers)
    path = check_output_path(path, overwrite, inputs)
    names = AXIS_NAMES[grid.ndim]
    conc_attrs, global_attrs = _simulation_attrs(grid, scheme, dt, courant, n_steps, save_every, attrs, command)
    with atomic_path(path, overwrite=overwrite) as tmp:
        f = h5netcdf.File(tmp, "w")
        try:
            tracer_dim = {} if n_tracer_dim is None else {TRACER_DIM: n_tracer_dim}
            f.dimensions = {"time": n_frames, **tracer_dim, **dict(zip(names, grid.shape))}
            for name, (dim, values, var_attrs) in coordinate_variables(grid, units).items():
                f.create_variable(name, (dim,), data=values).attrs.update(var_attrs)
            if n_tracer_dim is not None and tracer_coordinate is not None:
                values, label_attrs = tracer_coordinate
                values = np.asarray(values)
                if values.shape == (n_tracer_dim,):
                    if values.dtype.kind in "USO":
                        import h5py

                        label = f.create_variable(TRACER_DIM, (TRACER_DIM,), dtype=h5py.string_dtype())
                        label[:] = np.array([str(v) for v in values.tolist()], dtype=object)
                    else:
                        label = f.create_variable(TRACER_DIM, (TRACER_DIM,), data=values)
                    label.attrs.update(portable_attrs(label_attrs))
            time = f.create_variable("time", ("time",), dtype=np.float64)
            time.attrs.update(time_attrs((units or {}).get("time")))
            variables = []
            for tracer in tracers:
                dims = ("time",) + (() if tracer.count is None else (TRACER_DIM,)) + names
                variable = f.create_variable(tracer.name, dims, dtype=dtype)
                variable.attrs.update(_tracer_attrs(conc_attrs, tracer.attrs))
                variables.append((variable, tracer.count))
            f.attrs.update(global_attrs)
            target = variables if len(frame_shape) > grid.ndim else variables[0][0]
            writer = TrajectoryWriter(target, time, n_frames, frame_shape)
            yield writer
            if writer.n_written != n_frames:
                raise ValueError(f"{writer.n_written} of {n_frames} frames written to {path}")
        finally:
            f.close()


def time_attrs(units: str | None) -> dict:
    """The attributes of a trajectory's ``time``: CF ``units`` when the run's time unit is known.

    Parameters
    ----------
    units : str or None
        A time unit (``"seconds"``, ``"hours"``, ...) or ``"UNIT since DATE"`` (then with the calendar
        the date is in, ``proleptic_gregorian``, so that readers decode the times as dates).  ``None``:
        no ``units`` (no misleading ``"1"``) but a ``comment`` that the times are in the time unit of
        the input's velocity.

    Returns
    -------
    dict
    """
    attrs = {"long_name": "time", "axis": "T"}
    if units is None:
        return attrs | {"comment": "in the time unit of the input's velocity (that of dt)"}
    attrs = {"units": str(units)} | attrs
    return attrs | ({"calendar": "proleptic_gregorian"} if " since " in str(units) else {})


def write_simulation(path, grid: Grid, states, times, **options) -> Path:
    """Write ``concentration(time, [y,] x)`` (initial state first) with CF-style metadata, all states at once.

    Parameters
    ----------
    path : path
        The output file.
    grid : Grid
        The grid.
    states : array_like
        ``(n_frames, *grid.shape)``, or with a leading tracer axis after the first with ``tracers``.
    times : array_like
        The states' times.
    **options
        Those of :func:`simulation_writer` (``scheme``, ``dt``, ``courant``, ``tracers``, ...), which
        streams them.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    states = np.asarray(states)
    times = np.asarray(times, dtype=np.float64)
    _, frame_shape, _ = _layout(grid, options.get("tracers"))
    if states.shape[1:] != frame_shape or states.shape[0] != times.shape[0]:
        raise ValueError(f"states of shape {states.shape} do not match states {frame_shape} and {times.size} times")
    with simulation_writer(path, grid, states.shape[0], states.dtype, **options) as writer:
        writer.append(states, times)
    return Path(path)


def _tracer_attrs(defaults: Mapping, own: Mapping) -> dict:
    """A tracer variable's attributes in the output: the defaults, its own from the input (which win),
    then the run's settings (which win over both)."""
    run = {k: defaults[k] for k in ("scheme", "dt", "courant_number", "n_steps", "save_every") if k in defaults}
    return {**defaults, **portable_attrs(own), **run}


def _simulation_attrs(grid: Grid, scheme, dt, courant, n_steps, save_every, attrs, command) -> tuple[dict, dict]:
    """The attributes of ``concentration`` and the global attributes of a trajectory file."""
    run = {
        "scheme": scheme,
        "dt": float(dt),
        "courant_number": float(courant),
    }
    if n_steps is not None:
        run["n_steps"] = int(n_steps)
    if save_every is not None:
        run["save_every"] = int(save_every)
    conc_attrs = {
        "units": "1",
        "long_name": "tracer concentration (cell average)",
        "cell_methods": "area: mean" if grid.ndim == 2 else "x: mean",
        **run,
    }
    global_attrs = {
        "Conventions": "CF-1.8",
        "title": f"learned-advection trajectory ({scheme})",
        "source": f"learned-advection {__version__}",
        "learned_advection_version": __version__,
        "history": history(command),
        "periodic": "true",
        **run,
    }
    global_attrs.update(attrs or {})
    return conc_attrs, global_attrs
