"""Property-based fuzz test of ``simulate``: whatever the input file, the options or the
checkpoint, the command either

* exits 0 and writes a trajectory that is finite, starts from the input, conserves each tracer's mass to the
  run's precision, respects the scheme's (or model's) Courant limit, stays bounded as the blow-up guard
  promises (``sum |c|`` at most twice its initial value; in a divergence-free flow every value within the
  initial range widened by that range, and within the initial range itself on a classical large step),
  carries CF time units where the velocity's units name a time, and (classical schemes) agrees with a
  float64 rerun of the same scheme; or
* exits 2 with exactly one line on stderr starting with ``error: `` and leaves the folder exactly as it
  was (no output, no temporary file, inputs and an existing output untouched);

never anything else: no traceback (an uncaught exception), no other exit status, no hang.  Under
``--quiet`` a successful run prints nothing on stderr but, with ``--shard``, one note of the devices used.
Some recipes must run (an ordinary problem with only valid features: many tracers, winds at their own
times, large steps in a divergence-free flow, ``--shard``, a shipped model) and some must be refused
(hostile tracer names, winds that do not cover the run or dates without a time unit, ``pretrained:`` names
that are not shipped models).

Cases are small recipes (hypothesis prints and shrinks them) built into files in a fresh folder:
netCDF problems varying dimensions, sizes, dtypes, values (NaN, Inf, huge, tiny, zero velocity),
coordinates, divergence-free or converging flows, time-dependent velocities (one field per step, or at
their own times: numbers, dates or durations), several tracers, extra variables and attributes, written
by xarray (engine h5netcdf or, for netCDF3, scipy), raw h5py, h5netcdf or scipy (shapes declared far
larger than the file, names xarray refuses to write), plus the run options; and copies of the shipped
checkpoint with config.json fields and the weights file mutated, the shipped models by name (and names
that try to leave the package), on turbulence-like or steady cellular flows up to the model's Courant
limit.  The default run is derandomised (about 100 cases); ``-m slow`` draws 1,200 random ones
(``FUZZ_SLOW_EXAMPLES`` changes that number).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import shutil
import signal
import stat
import tempfile
import warnings
from datetime import timedelta
from pathlib import Path

import h5netcdf
import h5py
import jax
import numpy as np
import pytest
import scipy.io
import xarray as xr
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

import learned_advection
from learned_advection.numerics.precision import float64
from learned_advection.transport import get_stepper, supported_courant
from learned_advection.transport.schemes import COURANT_SLACK

SHIPPED = Path(learned_advection.__file__).parent / "pretrained"  # the models shipped in the package
PRETRAINED = SHIPPED / "turbulence-2d"  # the default shipped model, copied and mutated by the checkpoint cases
# A case that has not finished after this long hangs (a FIFO input blocks at once: a short limit).
WATCHDOG_S = 90
WATCHDOG_FIFO_S = 10

COMMON = dict(
    deadline=timedelta(seconds=120),
    database=None,  # nothing written into the repository; failures are printed with their recipe
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
DEFAULT = dict(derandomize=True, **COMMON)
SLOW = dict(derandomize=False, **COMMON)
SLOW_EXAMPLES = int(os.environ.get("FUZZ_SLOW_EXAMPLES", "1000"))


# --------------------------------------------------------------------------- recipes
def _rare(draw, tenths: int) -> bool:
    """True with probability about ``tenths``/10; shrinks to False (the ordinary case)."""
    return draw(st.integers(0, 99)) >= 100 - 10 * tenths


class Chooser:
    """Draws each part ("site") of a case: an ordinary choice, or with probability ``tenths``/10 a benign
    one (valid but unusual); the case's *hostile* sites (one or two, so that nothing else masks them)
    take a hostile choice.  With ``only``, the sites not in it take an ordinary choice and those in it a
    benign one half the time (a plain problem trying the features ``only`` names).  Everything shrinks
    towards the first ordinary choice and no hostile site."""

    def __init__(self, draw, hostile_sites=frozenset(), only=None):
        self.draw, self.hostile, self.only = draw, frozenset(hostile_sites), only

    def __call__(self, site: str, common, benign=(), hostile=(), tenths: int = 2):
        draw = self.draw
        if site in self.hostile and hostile:
            return draw(st.sampled_from(hostile))
        if self.only is not None:
            if site not in self.only:
                return draw(st.sampled_from(common))
            tenths = max(tenths, 5)
        if benign and _rare(draw, tenths):
            return draw(st.sampled_from(benign))
        return draw(st.sampled_from(common))


NAN, INF = float("nan"), float("inf")
SPECIALS_BENIGN = [0.0, 65504.0, 7e4, -3.0]
SPECIALS_HOSTILE = [NAN, INF, -INF, 1e38, 3e38, -3e38, 1e39, 1e300, -1e300, 1e-300, 1e-40, 1e-45]
SCALES_BENIGN = [1e-3, 1e3, -1.0, 1e-17, 1e-20, 1e20]
SCALES_HOSTILE = [1e-38, 1e-40, 1e-300, 1e30, 1e38, 3e38, 1e300]
DTYPES_BENIGN = ["float32", "float16", "int32", "int64"]
DTYPES_HOSTILE = ["int8", "uint8", "bool", "complex128", "str"]


@dataclasses.dataclass(frozen=True)
class Field:
    """Values of one variable: a pattern times ``scale``, one ``special`` value at a flat position, stored as ``dtype``."""

    pattern: str = "random"  # random, gauss, constant, zero, alternating, step, converging (velocity)
    scale: float = 1.0
    special: tuple[int, float] | None = None
    dtype: str = "float64"


def _field(pick: Chooser, site: str) -> Field:
    special = pick(site + ".special", [None], SPECIALS_BENIGN, SPECIALS_HOSTILE, 2)
    return Field(
        pattern=pick(
            site + ".pattern", ["random", "gauss"], ["constant", "zero", "alternating", "step", "converging"], (), 3
        ),
        scale=pick(site + ".scale", [1.0], SCALES_BENIGN, SCALES_HOSTILE, 3),
        special=None if special is None else (pick.draw(st.integers(0, 10**6)), special),
        dtype=pick(site + ".dtype", ["float64"], DTYPES_BENIGN, DTYPES_HOSTILE, 2),
    )


@dataclasses.dataclass(frozen=True)
class Coord:
    """A cell-centre coordinate: ``mode`` says how it departs from uniform centres over ``length``."""

    mode: str = (
        "centres"  # centres, int, missing, decreasing, nonuniform, nan, constant, short, long, other_dim, 2d, str
    )
    length: float = 1.0
    origin: float = 0.0
    dtype: str = "float64"


def _coord(pick: Chooser) -> Coord:
    return Coord(
        mode=pick(
            "coord.mode",
            ["centres"],
            ["int"],
            ["missing", "decreasing", "nonuniform", "nan", "constant", "short", "long", "other_dim", "2d", "str"],
            2,
        ),
        length=pick("coord.length", [1.0, 2 * math.pi], [100.0, 1e-6, 1e6], [1e-35, 1e-300, 1e35, 1e300], 2),
        origin=pick("coord.origin", [0.0], [-0.5, 1e3], [1e20, -1e300], 1),
        dtype=pick("coord.dtype", ["float64"], ["float32"], ["float16", "int64"], 1),
    )


SHAPES = {1: [(16,), (7,)], 2: [(8, 8), (5, 7)]}
SHAPES_BENIGN = {1: [(2,), (3,), (64,), (1_000_000,)], 2: [(2, 3), (16, 2), (3, 3)]}
SHAPES_HOSTILE = {1: [(1,), (0,)], 2: [(1, 4), (0, 4), (3, 1)]}
LAYOUTS_BENIGN = ["y_in_1d", "netcdf3"]
LAYOUTS_HOSTILE = [
    "transpose",
    "c_time",
    "c_scalar",
    "c_3d",
    "rename_dims",
    "drop_concentration",
    "drop_x_velocity",
    "drop_y_velocity",
    "v_time_last",
    "v_time_one",
    "v_other_dim",
    "v_1d_in_2d",
    "raw_hdf5",
    "declared_huge",
    "garbage",
    "empty",
    "truncated",
    "directory",
    "fifo",
    "missing_file",
]
# (target variable or None for a global attribute, name, value); variable attributes are set with h5py
# after writing, so CF keys (scale_factor, _FillValue, ...) reach xarray's decoding as a user's file would.
ATTRIBUTES_BENIGN = [
    ("x", "units", "km"),
    ("concentration", "long_name", "dye"),
    (None, "title", "ünïcødé ∂"),
    (None, "history", "x" * 20000),
    (None, "periodic", "false"),
    (None, "answer", 42),
    (None, "vector", [1.0, 2.0, NAN]),
]
ATTRIBUTES_HOSTILE = [
    ("concentration", "scale_factor", 0.0),
    ("concentration", "scale_factor", 1e39),
    ("concentration", "scale_factor", NAN),
    ("x_velocity", "scale_factor", -2.0),
    ("concentration", "add_offset", 1e39),
    ("x_velocity", "add_offset", 1.0),
    ("concentration", "_FillValue", 0.0),
    ("x_velocity", "missing_value", 0.0),
    ("concentration", "units", "days since 2000-01-01"),
    ("x", "calendar", "noleap"),
    ("concentration", "coordinates", "x bogus"),
    ("concentration", "dtype", "bool"),
    ("x_velocity", "_Unsigned", "true"),
    ("concentration", "units", 5),
]
PROBLEM_SITES = [
    "layout",
    "c.scale",
    "c.special",
    "c.dtype",
    "u.scale",
    "u.special",
    "u.dtype",
    "coord.mode",
    "coord.length",
    "coord.origin",
    "coord.dtype",
    "shape",
    "n_time",
    "extras",
    "steps",
    "save_every",
    "time_step",
    "dt",
    "cfl",
    "output",
    "limits",
    "tracers",
    "winds",
    "blowup",
]
EXTRA_VARIABLES = [
    "same_dims",
    "other_dim",
    "strings",
    "scalar",
    "time_coord_nan",
    "time_coord_decreasing",
    "y_velocity_extra",
]


@dataclasses.dataclass(frozen=True)
class Options:
    scheme: str = "upwind"
    steps: int = 2
    save_every: int | str = 1  # or "steps"
    time_step: tuple = ("dt", "safe")  # ("dt", v), ("cfl", v), ("both", dt, cfl), ("neither",)
    x64: bool = False
    quiet: bool = True
    output: str = "new"  # new, existing, existing_overwrite, dangling, dangling_overwrite, input_overwrite
    shard: bool = False
    limits: str = "refuse"  # --limits: refuse, substep, or a bad value


# Time steps by name: "safe" is Courant 0.5 (half the largest stable step of the fields), "safe*k" k times it;
# "limit" the scheme's largest Courant number (supported_courant), "limit+1e-6" just above it.
DT_BENIGN = [0.01, "safe*4", "safe*7", "safe*8", "limit"]
DT_HOSTILE = [0.0, -0.1, NAN, INF, -INF, 1e300, 1e-300, 1e-45, 1e-20, 1e10, "abc", "limit+1e-6"]
# Courant numbers: above 1 the classical Lin & Rood schemes take their large step (up to 4, integers included);
# weno5z and the learned models stop at their own limit.
CFL_BENIGN = [0.1, 1e-3, 1 + 1e-12, 2.0, 3.0, 4.0, 1.5, 2.5, 3.7, "limit"]
CFL_HOSTILE = [0.0, -0.5, NAN, INF, 1e-300, 1e-45, "x", "limit+1e-6", "limit+0.5", 4.000001, 5.0]
SCHEMES = ["upwind", "vanleer", "ppm", "weno5z"]


def _options(pick: Chooser) -> Options:
    steps = pick("steps", [2, 1, 4], [3, 6], [0, -1, 10**11, 2**63, 10**30], 1)
    save_every = pick("save_every", [1, "steps"], [2], [0, -1, 3], 1)
    if steps >= 10**11 and save_every == "steps":
        save_every = 1  # a huge run that saves little is legitimately long: not a case
    mode = pick("time_step", ["dt", "cfl"], (), ["both", "neither"], 1)
    dt = pick("dt", ["safe"], DT_BENIGN, DT_HOSTILE, 3)
    cfl = pick("cfl", [0.5, 1.0, 0.9], CFL_BENIGN, CFL_HOSTILE, 3)
    time_step = {"dt": ("dt", dt), "cfl": ("cfl", cfl), "both": ("both", dt, cfl), "neither": ("neither",)}[mode]
    return Options(
        scheme=pick.draw(st.sampled_from(SCHEMES)),
        steps=steps,
        save_every=save_every,
        time_step=time_step,
        x64=pick("x64", [False], [True], (), 3),
        quiet=pick("quiet", [True], [False], (), 2),
        output=pick(
            "output",
            ["new"],
            ["existing_overwrite"],
            ["existing", "dangling", "dangling_overwrite", "input_overwrite"],
            1,
        ),
        shard=pick("shard", [False], [True], (), 2),
        limits=pick("limits", ["refuse"], ["substep"], ["sideways", ""], 2),
    )


def _courant_value(v, scheme: str):
    """A Courant number by name ("limit", "limit+1e-6", "limit+0.5": relative to ``scheme``'s), or ``v`` itself."""
    if isinstance(v, str) and v.startswith("limit"):
        limit = supported_courant(scheme)
        return {"limit": limit, "limit+1e-6": limit * (1 + 1e-6), "limit+0.5": limit + 0.5}[v]
    return v


def _dt_value(v, safe: float, scheme: str):
    """The ``--dt`` of a named time step (``safe`` is Courant 0.5), or ``v`` itself."""
    if isinstance(v, str) and v.startswith("safe"):
        return safe * (float(v.split("*")[1]) if "*" in v else 1.0)
    if isinstance(v, str) and v.startswith("limit"):
        return safe * 2 * _courant_value(v, scheme)
    return v


# Tracers besides the ordinary single ``concentration``: names of further variables (valid ones, and ones a
# run must refuse: they cannot be written back as variables of the output, or clash with its dims), and the
# scales that set them apart (each tracer is checked against its own).
TRACER_NAMES = ["dye", "smoke", "salinity", "co2_ppm", "ünïcødé"]
TRACER_NAMES_HOSTILE = ["dust/pm10", "a\nb", "a\tb", "", " dye", "dye ", "time", "tracer"]
TRACER_SCALES = [1.0, 1e3, 1e-3, 1e6, 1e-6, -2.0]


@dataclasses.dataclass(frozen=True)
class Tracers:
    """The problem's tracers: ``count`` of them along a leading ``tracer`` dim of ``concentration`` (0: the
    ordinary single field), further variables ``names`` (with ``alone``: no ``concentration`` at all), each
    tracer the concentration's field times its entry of ``scales`` (in file order); ``labels``: a ``tracer``
    coordinate of names."""

    count: int = 0
    names: tuple[str, ...] = ()
    scales: tuple[float, ...] = ()
    alone: bool = False
    labels: bool = False

    @property
    def hostile(self) -> bool:
        return any(n in TRACER_NAMES_HOSTILE for n in self.names)


def _tracers(pick: Chooser) -> Tracers:
    layout = pick("tracers", ["one"], ["dim", "vars", "both", "alone"], ["hostile_name"], 2)
    draw = pick.draw
    if layout == "one":
        return Tracers()
    if layout == "hostile_name":
        return Tracers(names=(draw(st.sampled_from(TRACER_NAMES_HOSTILE)),), scales=(1.0, 1.0))
    count = draw(st.integers(1, 8)) if layout in ("dim", "both") else 0
    names = ()
    if layout != "dim":
        names = tuple(draw(st.lists(st.sampled_from(TRACER_NAMES), min_size=1, max_size=3, unique=True)))
    count = min(count, 8 - len(names))  # 1 to 8 tracers in all
    n = (count or (0 if layout == "alone" else 1)) + len(names)
    scales = tuple(draw(st.lists(st.sampled_from(TRACER_SCALES), min_size=n, max_size=n)))
    return Tracers(count, names, scales, layout == "alone", count > 0 and _rare(draw, 3))


# Velocities at their own times (``velocity_time``): the time part of the velocity's units is the run's time
# unit (its length in seconds here); dates and durations are refused without one.
TIME_UNITS = {"m s-1": 1.0, "m/h": 3600.0, "km day-1": 86400.0}
TIME_UNIT_NAMES = {  # the spellings of the output's CF time units
    1.0: ("s", "sec", "second", "seconds"),
    3600.0: ("h", "hr", "hour", "hours"),
    86400.0: ("d", "day", "days"),
}
VELOCITY_UNITS_BENIGN = ["m s-1", "m/h", "km day-1", None]  # None: no units attribute
NO_TIME_UNIT = ["1", None, "m"]
# The times of the velocity fields in steps of the run (n: its number of steps), all covering the steps'
# midpoints (n + 1/2) dt ("edges": exactly at the first and last midpoint; "before": from before t = 0), or not.
SPANS = {
    "cover": lambda n: (0.0, 0.3 * n, 0.7 * n, 1.1 * n),
    "two": lambda n: (0.0, float(n)),
    "many": lambda n: tuple(np.linspace(0.0, 1.05 * n, 12) ** 1.5 / (1.05 * n) ** 0.5),
    "edges": lambda n: (0.5, n - 0.5) if n > 1 else (0.5, 1.5),
    "before": lambda n: (-2.0 * n, -float(n), 0.0, 0.5 * n, 2.0 * n),
    "late": lambda n: (1.0, n + 1.0),
    "short": lambda n: (0.0, 0.4 * n),
    "far_past": lambda n: (-1e12, 0.0, 1.0),  # one step after t = 0, far from the first time: one step only
    "repeat": lambda n: (0.0, 0.5 * n, 0.5 * n, 1.5 * n),
}
SPANS_BENIGN = {  # dates: t = 0 is the first one; durations: from t = 0 (both start there, unambiguous)
    "numeric": ["cover", "two", "many", "edges", "before"],
    "dates": ["cover", "two", "many", "before"],
    "durations": ["cover", "two", "many"],
}
WINDS_HOSTILE = ["late", "short", "far_past", "repeat", "dates_without_unit", "durations_without_unit"]
ENCODINGS = {  # CF units forced on velocity_time (None: xarray's choice)
    "numeric": [None],
    "dates": [None, "days since 2000-01-01", "hours since 1999-12-31 00:00:00"],
    "durations": [None, "hours", "days"],
}
DATE_STARTS = ["2000-01-01T06:00:00", "1970-01-01T00:00:00", "2024-02-29T23:00:00"]


@dataclasses.dataclass(frozen=True)
class Winds:
    """A velocity at its own times: ``kind`` numeric (in the run's time unit), dates (from ``start``) or
    durations; the times are ``SPANS[span]`` in steps of the run; ``encoding``: forced CF units."""

    kind: str = "numeric"
    span: str = "cover"
    encoding: str | None = None
    start: str = DATE_STARTS[0]

    @property
    def covers(self) -> bool:
        return self.span in SPANS_BENIGN["numeric"]


def _winds(pick: Chooser):
    """``(winds or None, the velocity's units or "draw")``: dates and durations set the units."""
    choice = pick("winds", [None], ["numeric", "dates", "durations"], WINDS_HOSTILE, 2)
    draw = pick.draw
    if choice is None:
        return None, "draw"
    if choice in SPANS_BENIGN:
        kind, span = choice, draw(st.sampled_from(SPANS_BENIGN[choice]))
    elif choice.endswith("_without_unit"):
        kind, span = choice.split("_")[0], "cover"
    else:
        span = choice
        kind = "numeric" if choice in ("late", "far_past") else draw(st.sampled_from(["numeric", "dates", "durations"]))
    winds = Winds(kind, span, draw(st.sampled_from(ENCODINGS[kind])), draw(st.sampled_from(DATE_STARTS)))
    if kind == "numeric":
        return winds, "draw"
    return winds, draw(st.sampled_from(NO_TIME_UNIT if choice.endswith("_without_unit") else list(TIME_UNITS)))


# Runs that may blow up (velocity pattern, Courant number, steps): oscillating faces at large steps, a converging
# flow for many steps.  On exit 0 the output must still be bounded (sum |c| at most doubled, mass to round-off).
BLOWUPS = [("alternating", 3.0, 24), ("alternating", 2.0, 24), ("converging", 1.0, 24), ("converging", 4.0, 24)]


@dataclasses.dataclass(frozen=True)
class ProblemCase:
    shape: tuple[int, ...]
    concentration: Field
    velocity: tuple[Field, ...]  # ordered like the axes: (x,) or (y, x)
    n_time: int | str | None  # None: constant velocity; "steps", "steps-1", "steps+2" or a number
    coords: tuple[Coord, ...]
    layout: str
    extras: tuple
    seed: int
    options: Options
    flow: str = "fields"  # fields (each component from its Field) or solenoidal (a streamfunction's: divergence-free)
    tracers: Tracers = Tracers()
    winds: Winds | None = None
    velocity_units: str | None = "1"  # the velocity's units attribute (None: none)


# The sites a plain problem varies: the features of a run on an ordinary problem.
FEATURE_SITES = frozenset({"tracers", "winds", "v_units", "flow", "shard", "time_step", "dt", "cfl", "x64", "quiet"})


@st.composite
def problem_cases(draw) -> ProblemCase:
    plain = draw(st.integers(0, 9)) < 2  # about 20 % plain problems trying the features: they must run
    hostile = draw(st.lists(st.sampled_from(PROBLEM_SITES), min_size=1, max_size=2)) if _rare(draw, 6) else ()
    pick = Chooser(draw, (), FEATURE_SITES) if plain else Chooser(draw, hostile)  # about 30 % more clean ones
    ndim = draw(st.sampled_from([1, 2]))
    shape = pick("shape", SHAPES[ndim], SHAPES_BENIGN[ndim], SHAPES_HOSTILE[ndim], 2)
    if math.prod(shape) > 10_000 and draw(st.integers(0, 4)) < 4:
        shape = SHAPES[ndim][0]  # the big one rarely
    extras = ()
    if "extras" in pick.hostile:
        extras = (draw(st.sampled_from(ATTRIBUTES_HOSTILE)),)
    if not plain and _rare(draw, 3):
        extras += tuple(draw(st.lists(st.sampled_from(ATTRIBUTES_BENIGN + EXTRA_VARIABLES), min_size=1, max_size=2)))
    velocity = tuple(_field(pick, "u") for _ in range(ndim))
    n_time = pick("n_time", [None], ["steps", "steps+2"], ["steps-1", 0, 1], 3)
    options = _options(pick)
    winds, units = _winds(pick)
    velocity_units = pick("v_units", ["1"], VELOCITY_UNITS_BENIGN, (), 2) if units == "draw" else units
    flow = pick("flow", ["fields"], ["solenoidal"], (), 3)
    blowup = pick("blowup", [None], (), BLOWUPS)
    if winds is not None:
        n_time = None  # the fields' number comes from the span
    if blowup is not None:
        pattern, cfl, steps = blowup
        velocity = tuple(dataclasses.replace(f, pattern=pattern) for f in velocity)
        options = dataclasses.replace(options, steps=steps, time_step=("cfl", cfl))
        flow, winds, n_time = "fields", None, None
    return ProblemCase(
        shape=shape,
        concentration=_field(pick, "c"),
        velocity=velocity,
        n_time=n_time,
        coords=tuple(_coord(pick) for _ in range(ndim)),
        layout=pick("layout", ["ok"], LAYOUTS_BENIGN, LAYOUTS_HOSTILE, 2),
        extras=extras,
        seed=draw(st.integers(0, 2**16)),
        options=options,
        flow=flow,
        tracers=_tracers(pick),
        winds=winds,
        velocity_units=velocity_units,
    )


# --------------------------------------------------------------------------- building the files
AXES = {1: ("x",), 2: ("y", "x")}


def _pattern(pattern: str, shape, rng, velocity: bool) -> np.ndarray:
    idx = np.indices(shape, dtype=np.float64) if len(shape) else np.zeros((0,))
    if pattern == "random":
        return rng.uniform(-1.0, 1.0, shape) if velocity else rng.uniform(0.0, 1.0, shape)
    if pattern == "gauss":
        r2 = sum(((i + 0.5) / max(n, 1) - 0.5) ** 2 for i, n in zip(idx, shape))
        return np.exp(-20.0 * r2) * np.ones(shape)
    if pattern == "constant":
        return np.ones(shape)
    if pattern == "zero":
        return np.zeros(shape)
    if pattern == "alternating":
        return (-1.0) ** sum(idx) * np.ones(shape)
    if pattern == "converging":  # towards the middle along x: + on the left half, - on the right
        return np.where(idx[-1] < shape[-1] / 2, 1.0, -1.0) * np.ones(shape)
    return (idx[-1] < shape[-1] / 2).astype(np.float64) * np.ones(shape)  # step


def _cast(values: np.ndarray, dtype: str) -> np.ndarray:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dtype == "str":
            return values.astype(str)
        if dtype == "bool":
            return values != 0
        if dtype == "complex128":
            return values + 0.5j * values
        return values.astype(dtype)


def _finish(v: np.ndarray, f: Field) -> np.ndarray:
    """A pattern's values times the field's scale, with its special value, stored as its dtype."""
    with np.errstate(all="ignore"):
        v = v * f.scale
    if f.special is not None and v.size:
        v.flat[f.special[0] % v.size] = f.special[1]
    return _cast(v, f.dtype)


def _frames(frame, n_time: int | None) -> np.ndarray:
    """One field from ``frame()``, or ``n_time`` of them, varying in time."""
    if n_time is None:
        return frame()
    return np.stack([frame() * (1 + 0.25 * np.sin(t)) for t in range(n_time)]) if n_time else np.zeros((0,))


def _values(f: Field, shape, rng, velocity: bool = False, n_time: int | None = None) -> np.ndarray:
    v = _frames(lambda: _pattern(f.pattern, shape, rng, velocity), n_time)
    return _finish(v.reshape((n_time or 0,) + tuple(shape)) if n_time is not None else v, f)


def _solenoidal(shape, ratio: float, rng) -> tuple[np.ndarray, ...]:
    """Face velocities (ordered like the axes, max speed 1) that are discretely divergence-free: in 2-D the
    differences of a streamfunction at the cell corners, ``u = D_y psi`` and ``v = -D_x psi dy/dx`` (``ratio``
    is dy/dx); in 1-D a constant."""
    if len(shape) == 1:
        return (np.full(shape, rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.0)),)
    if not all(shape):
        return np.zeros(shape), np.zeros(shape)
    j, i = np.indices(shape, dtype=np.float64)
    psi = sum(
        rng.uniform(-1, 1) * np.sin(2 * np.pi * (ky * (j + 1) / shape[0] + kx * (i + 1) / shape[1]) + rng.uniform(0, 7))
        for ky, kx in ((1, 0), (0, 1), (1, 1), (2, -1))
    )
    u = psi - np.roll(psi, 1, axis=0)
    v = -(psi - np.roll(psi, 1, axis=1)) * ratio
    top = max(float(np.max(np.abs(u))), float(np.max(np.abs(v))))
    return (v / top, u / top) if top > 0 else (v, u)


def _velocities(case: ProblemCase, rng, n_time: int | None) -> list[np.ndarray]:
    """The velocity components (ordered like the axes), each with ``n_time`` fields or constant; the first one
    constant under the layout "v_time_one"."""
    ndim = len(case.shape)
    times = [None if (case.layout == "v_time_one" and a == 0) else n_time for a in range(ndim)]
    if case.flow != "solenoidal":
        return [_values(case.velocity[a], case.shape, rng, True, times[a]) for a in range(ndim)]
    lengths = [1.0 if c.mode == "int" else c.length / max(n, 1) for c, n in zip(case.coords, case.shape)]
    ratio = lengths[0] / lengths[-1] if lengths[-1] else 1.0
    fields = _frames(lambda: np.stack(_solenoidal(case.shape, ratio, rng)), n_time)
    out = []
    for a in range(ndim):
        u = fields[a] if n_time is None else fields[:, a] if n_time else np.zeros((0,) + tuple(case.shape))
        if times[a] is None and n_time is not None:
            u = u[0] if n_time else np.zeros(case.shape)
        out.append(_finish(u, case.velocity[a]))
    return out


def _coordinate(c: Coord, n: int, name: str, rng):
    """``(dims, values)`` of one coordinate, or None when missing."""
    with np.errstate(all="ignore"):
        dx = c.length / max(n, 1)
        x = c.origin + dx * (np.arange(n) + 0.5)
        dims = (name,)
        if c.mode == "missing":
            return None
        if c.mode == "decreasing":
            x = x[::-1].copy()
        elif c.mode == "nonuniform" and n > 2:
            x[1:] += dx * 0.3 * rng.uniform(0.1, 1.0, n - 1)
        elif c.mode == "nan" and n:
            x[rng.integers(n)] = NAN
        elif c.mode == "constant":
            x = np.full(n, c.origin)
        elif c.mode in ("short", "long"):
            m = max(n - 1, 0) if c.mode == "short" else n + 1
            x, dims = c.origin + dx * (np.arange(m) + 0.5), (name + "_c",)
        elif c.mode == "other_dim":
            dims = ("w_" + name,)
            x = np.resize(x, 3)
        elif c.mode == "int":
            x = np.arange(n)
        elif c.mode == "str":
            return dims, x.astype(str)
        if c.mode == "2d":
            return ("w2_" + name, name), np.stack([x, x])
        return dims, _cast(x, c.dtype)


def _resolve_n_time(n_time, steps: int):
    if isinstance(n_time, str):
        base = steps if 0 < steps < 10**6 else 4
        return max(0, base + {"steps": 0, "steps+2": 2, "steps-1": -1}[n_time])
    return n_time


def _span_steps(steps: int) -> int:
    return steps if 0 < steps < 10**6 else 4


def _run_dt(ds, o: Options) -> float:
    """The time step the run will take (as the command line gives it), or 0.01 when there is none."""
    safe = _safe_dt(ds)
    v = o.time_step[1] if o.time_step[0] in ("dt", "cfl") else None
    if o.time_step[0] == "dt":
        v = _dt_value(v, safe, o.scheme)
    elif o.time_step[0] == "cfl":
        v = _courant_value(v, o.scheme)
        v = 2 * v * safe if isinstance(v, float) else None
    return float(v) if isinstance(v, float) and math.isfinite(v) and v > 0 else 0.01


def _wind_times(w: Winds, dt: float, steps: int, unit_s: float):
    """``(velocity_time as written, the times in the run's unit from its t = 0)`` of the winds ``w``."""
    times = dt * np.asarray(SPANS[w.span](_span_steps(steps)), np.float64)
    if w.kind == "numeric":
        return times, times
    with np.errstate(all="ignore"):
        seconds = times * unit_s
    if not (np.all(np.isfinite(seconds)) and np.max(np.abs(seconds)) < 3e9):  # datetime64[ns] reaches 292 years
        seconds = 0.01 * unit_s * np.asarray(SPANS[w.span](_span_steps(steps)), np.float64)
    offsets = np.round(seconds * 1e9).astype(np.int64)
    if w.kind == "durations":  # from t = 0
        return offsets.astype("timedelta64[ns]"), offsets / (1e9 * unit_s)
    return np.datetime64(w.start, "ns") + offsets.astype("timedelta64[ns]"), (offsets - offsets[0]) / (1e9 * unit_s)


C_LAYOUTS = ("transpose", "c_time", "c_scalar", "c_3d", "rename_dims", "drop_concentration")


def _tracer_variables(case: ProblemCase, c, c_dims, rng) -> dict:
    """The tracer variables: ``concentration`` (with a leading ``tracer`` dim, or none) and the others."""
    tr, f = case.tracers, case.concentration
    axes = AXES[len(case.shape)]
    scales = iter(tr.scales)
    data = {}
    if tr.count and case.layout not in C_LAYOUTS:
        stack = [
            _values(dataclasses.replace(f, scale=f.scale * next(scales)), case.shape, rng) for _ in range(tr.count)
        ]
        data["concentration"] = (("tracer",) + axes, np.stack(stack), {"units": "1"})
        if tr.labels:
            data["tracer"] = (("tracer",), np.array([f"tracer {i}" for i in range(tr.count)], dtype=object))
    elif not tr.alone and case.layout != "drop_concentration":
        if tr.scales:
            c = _values(dataclasses.replace(f, scale=f.scale * next(scales)), case.shape, rng)
        data["concentration"] = (c_dims, c, {"units": "1"})
    for name in tr.names:
        values = _values(dataclasses.replace(f, scale=f.scale * next(scales, 1.0)), case.shape, rng)
        data[name] = (axes, values, {"units": "kg m-3", "long_name": f"tracer {name}"})
    return data


def _variables(case: ProblemCase, rng, info: dict) -> tuple[dict, dict]:
    """The file's variables ``name: (dims, values[, attributes])`` and global attributes; ``info`` receives
    ``times`` (a velocity at its own times: theirs in the run's unit from its t = 0) and ``encoding``."""
    ndim = len(case.shape)
    axes = AXES[ndim]
    w = case.winds
    n_time = (
        len(SPANS[w.span](_span_steps(case.options.steps))) if w else _resolve_n_time(case.n_time, case.options.steps)
    )
    tdim = "velocity_time" if w else "time"
    layout = case.layout
    c = _values(case.concentration, case.shape, rng)
    c_dims = axes
    if layout == "transpose" and ndim == 2:
        c, c_dims = c.T, axes[::-1]
    elif layout == "c_time":
        c, c_dims = np.broadcast_to(c, (2 if n_time is None else n_time,) + c.shape).copy(), (tdim,) + axes
    elif layout == "c_scalar":
        c, c_dims = np.asarray(c.reshape(-1)[0] if c.size else 1.0), ()
    elif layout == "c_3d":
        c, c_dims = np.stack([c, c, c]), ("z",) + axes
    elif layout == "rename_dims":
        c_dims = tuple({"x": "lon", "y": "lat"}[a] for a in axes)
    data = _tracer_variables(case, c, c_dims, rng)
    units = {} if case.velocity_units is None else {"units": case.velocity_units}
    for name, u in zip(axes, _velocities(case, rng, n_time)):
        vname = f"{name}_velocity"
        dims = (() if u.ndim == ndim else (tdim,)) + axes
        if layout == "v_time_last" and u.ndim > ndim:
            u, dims = np.moveaxis(u, 0, -1), axes + (tdim,)
        elif layout == "v_other_dim":
            dims = dims[:-1] + (dims[-1] + "_v",)
        elif layout == "rename_dims":
            dims = tuple({"x": "lon", "y": "lat"}.get(d, d) for d in dims)
        elif layout == "v_1d_in_2d" and name == "y":
            u, dims = u[..., 0, :], dims[:-2] + ("x",)
        if layout != f"drop_{vname}":
            data[vname] = (dims, u, units)
    if layout == "y_in_1d" and ndim == 1:
        data["y_velocity"] = (("x",), _values(case.velocity[0], case.shape, rng, velocity=True))
        data["y"] = (("y",), np.arange(3.0))
    for a, name in enumerate(axes):
        made = _coordinate(case.coords[a], case.shape[a], name, rng)
        if made is not None and layout != "rename_dims":
            data[name] = made
    for extra in case.extras:
        if extra == "same_dims":
            data["junk"] = (axes, rng.uniform(size=case.shape))
        elif extra == "other_dim":
            data["junk_z"] = (("z",), np.array([1.0, NAN, INF]))
        elif extra == "strings":
            data["junk_str"] = (axes, np.full(case.shape, "text"))
        elif extra == "scalar":
            data["junk_scalar"] = ((), np.int64(7))
        elif extra in ("time_coord_nan", "time_coord_decreasing") and n_time:
            t = np.arange(float(n_time))
            data[tdim] = ((tdim,), t[::-1].copy() if extra.endswith("decreasing") else np.where(t == 0, NAN, t))
        elif extra == "y_velocity_extra" and ndim == 1:
            data["y_velocity"] = (("x",), np.zeros(case.shape))
    attrs = {name: value for target, name, value in (e for e in case.extras if isinstance(e, tuple)) if target is None}
    if w is not None and "velocity_time" not in data:
        unit_s = TIME_UNITS.get(case.velocity_units, 1.0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dt = _run_dt(xr.Dataset(data), case.options)
        except ValueError:  # variables xarray cannot hold together (a name clash)
            dt = 0.01
        written, info["times"] = _wind_times(w, dt, case.options.steps, unit_s)
        data["velocity_time"] = (("velocity_time",), written)
        if w.kind == "dates":
            info["first_date"] = written[0]
        if w.encoding is not None:
            info["encoding"] = {"velocity_time": {"units": w.encoding}}
    return data, attrs


def _dataset(case: ProblemCase, rng, info: dict) -> xr.Dataset:
    data, attrs = _variables(case, rng, info)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas on a float16 coordinate
        return xr.Dataset(data, attrs=attrs)


def _write_netcdf3_raw(data: dict, attrs: dict, path: Path) -> None:
    """Write the variables as netCDF-3 with scipy, their names unchecked (xarray refuses some that other
    tools write); dates and durations as seconds (CF), strings and complex numbers left out, and text attributes
    that are not ASCII (scipy writes netCDF-3 text as ASCII)."""
    f = scipy.io.netcdf_file(path, "w", version=2)
    try:
        for key, value in attrs.items():
            if isinstance(value, str) and value.isascii():
                setattr(f, key, value)
        sizes = {}
        for name, (dims, values, *rest) in data.items():
            values, var_attrs = np.asarray(values), dict(rest[0]) if rest else {}
            if values.dtype.kind in "Mm":
                base = values[0] if values.dtype.kind == "M" and values.size else None
                values = ((values - base) if base is not None else values) / np.timedelta64(1, "s")
                since = "" if base is None else f" since {np.datetime_as_string(base, unit='s').replace('T', ' ')}"
                var_attrs["units"] = "seconds" + since
            mismatched = len(dims) != values.ndim or any(sizes.get(d, n) != n for d, n in zip(dims, values.shape))
            if values.dtype.kind not in "fiub" or mismatched:
                continue
            values = values.astype({"b": np.int8, "i": np.int32, "u": np.int32}.get(values.dtype.kind, np.float64))
            for d, n in zip(dims, values.shape):
                if d not in sizes:
                    f.createDimension(d, n)
                    sizes[d] = n
            var = f.createVariable(name, values.dtype, dims)
            if values.ndim:
                var[:] = values
            else:
                var.assignValue(values)
            for key, value in var_attrs.items():
                if isinstance(value, (int, float)) or (isinstance(value, str) and value.isascii()):
                    setattr(var, key, value)
    finally:
        f.close()


def _hdf5_attributes(path: Path, extras) -> None:
    with h5py.File(path, "r+") as f:
        for target, name, value in (e for e in extras if isinstance(e, tuple)):
            if target is not None and target in f:
                f[target].attrs[name] = value


def _write_problem(case: ProblemCase, folder: Path) -> tuple[Path, str | None, dict]:
    """Write the input file; returns its path, the xarray engine that reads it (None: not netCDF) and what
    :func:`_variables` noted (the times of a velocity at its own times)."""
    rng = np.random.default_rng(case.seed)
    info = {}
    path = folder / "in.nc"
    layout = case.layout
    if layout == "missing_file":
        return path, None, info
    if layout == "directory":
        path.mkdir()
        return path, None, info
    if layout == "fifo":
        os.mkfifo(path)
        return path, None, info
    if layout in ("garbage", "empty"):
        path.write_bytes(rng.bytes(3000) if layout == "garbage" else b"")
        return path, None, info
    if layout == "declared_huge":  # a small file declaring 10^12 cells (chunked, never written)
        axes = AXES[len(case.shape)]
        sizes = {"x": 10**12} if len(axes) == 1 else {"y": 10**6, "x": 10**6}
        with h5netcdf.File(path, "w") as f:
            f.dimensions = sizes
            for name in ("concentration",) + tuple(f"{a}_velocity" for a in axes):
                f.create_variable(name, axes, float, chunks=(1,) * (len(axes) - 1) + (1024,))
            for a in axes:
                f.create_variable(a, (a,), float, chunks=(1024,))
        return path, "h5netcdf", info
    if layout == "raw_hdf5":  # the right names without netCDF dimensions
        ds = _dataset(dataclasses.replace(case, layout="ok", tracers=Tracers()), rng, info)
        with h5py.File(path, "w") as f:
            for name, var in ds.variables.items():
                if var.dtype.kind not in "OUMm":
                    f[name] = var.values
        return path, "h5netcdf", info
    data, attrs = _variables(case, rng, info)
    try:
        if any(name == "" or "/" in name for name in data):
            raise ValueError("names xarray does not write")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas on a float16 coordinate
            ds = xr.Dataset(data, attrs=attrs)
    except ValueError:
        _write_netcdf3_raw(data, attrs, path)
        return path, "scipy", info
    if layout == "netcdf3":
        numeric = {
            k: v.astype(np.float64) if v.dtype.kind in "fiub" else v
            for k, v in ds.variables.items()
            if v.dtype.kind in "fiub"
        }
        ds = xr.Dataset(
            {k: v for k, v in numeric.items()}, attrs={k: v for k, v in ds.attrs.items() if isinstance(v, str)}
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.to_netcdf(path, engine="scipy")
        return path, "scipy", info
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.to_netcdf(path, engine="h5netcdf", encoding=info.get("encoding"))
    _hdf5_attributes(path, case.extras)
    if layout == "truncated":
        path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 2)])
        return path, None, info
    return path, "h5netcdf", info


def _read_back(path: Path, engine: str | None):
    """The input as xarray decodes it (the view the reader has), or None when xarray cannot read it."""
    if engine is None or not path.is_file():
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with xr.open_dataset(path, engine=engine, decode_times=False) as ds:
                return ds.load()
    except (OSError, ValueError, TypeError, KeyError, MemoryError):
        return None


def _grid_axes(ds) -> tuple:
    """The grid's dims: those of ``concentration`` after a leading ``tracer``, or of ``x_velocity`` after a time dim."""
    if "concentration" in ds.data_vars:
        dims = ds["concentration"].dims
        return dims[1:] if dims[:1] == ("tracer",) else dims
    dims = ds["x_velocity"].dims
    return dims[1:] if dims[:1] in (("time",), ("velocity_time",)) else dims


def _problem_arrays(ds):
    """``(tracers, velocity ordered like the axes, spacing)`` as float64 from a readable problem, or None;
    ``tracers`` lists ``(variable, index along its tracer dim or None, initial field)`` in file order."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # complex values cast to float
            axes = _grid_axes(ds)
            tracers = []
            for name, var in ds.data_vars.items():
                if name in ("x_velocity", "y_velocity"):
                    continue
                if var.dims == axes:
                    tracers.append((name, None, np.asarray(var.values, dtype=np.float64)))
                elif var.dims == ("tracer",) + axes:
                    values = np.asarray(var.values, dtype=np.float64)
                    tracers += [(name, i, values[i]) for i in range(len(values))]
            velocity = tuple(np.asarray(ds[f"{a}_velocity"].values, dtype=np.float64) for a in axes)
            coordinates = [np.asarray(ds[a].values, dtype=np.float64) for a in axes]
    except (KeyError, ValueError, TypeError):
        return None
    if not tracers or any(x.ndim != 1 for x in coordinates):
        return None
    with np.errstate(all="ignore"):
        spacing = tuple(float((x[-1] - x[0]) / (len(x) - 1)) if len(x) > 1 else 1.0 for x in coordinates)
    return tracers, velocity, spacing


def _safe_dt(ds) -> float:
    """Half the largest stable time step of a readable problem (0.01 when there is none)."""
    arrays = None if ds is None else _problem_arrays(ds)
    if arrays is None:
        return 0.01
    _, velocity, spacing = arrays
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        speeds = [np.nanmax(np.abs(u)) if u.size else 0.0 for u in velocity]
        dts = [0.5 * d / s for d, s in zip(spacing, speeds) if s > 0 and np.isfinite(s) and np.isfinite(d) and d > 0]
    dt = min(dts) if dts else 0.01
    return float(dt) if math.isfinite(dt) and dt > 0 else 0.01


def _option_args(o: Options, safe_dt: float) -> list[str]:
    def fmt(v, courant: bool) -> str:
        v = _courant_value(v, o.scheme) if courant else _dt_value(v, safe_dt, o.scheme)
        return v if isinstance(v, str) else repr(float(v))

    args = [
        "--scheme",
        o.scheme,
        "--steps",
        str(o.steps),
        "--save-every",
        str(o.steps if o.save_every == "steps" else o.save_every),
    ]
    if o.time_step[0] == "dt":
        args += ["--dt", fmt(o.time_step[1], False)]
    elif o.time_step[0] == "cfl":
        args += ["--cfl", fmt(o.time_step[1], True)]
    elif o.time_step[0] == "both":
        args += ["--dt", fmt(o.time_step[1], False), "--cfl", fmt(o.time_step[2], True)]
    flags = [("--x64", o.x64), ("--quiet", o.quiet), ("--shard", o.shard)]
    limits = ["--limits", o.limits] if o.limits != "refuse" else []
    return args + limits + [flag for flag, on in flags if on]


def _prepare_output(o: Options, folder: Path, input_path: Path) -> tuple[Path, list[str]]:
    if o.output == "input_overwrite":
        return input_path, ["--overwrite"]
    out = folder / "out.nc"
    if o.output.startswith("existing"):
        out.write_bytes(b"precious, not netCDF")
    elif o.output.startswith("dangling"):
        out.symlink_to(folder / "nowhere" / "target.nc")
    return out, (["--overwrite"] if o.output.endswith("overwrite") else [])


# --------------------------------------------------------------------------- running and checking
class Hang(BaseException):
    """Raised by the watchdog: the case ran past its time limit (BaseException: nothing may swallow it)."""


@contextlib.contextmanager
def _watchdog(seconds: int):
    def fire(signum, frame):
        raise Hang(f"no result after {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _snapshot(folder: Path) -> dict:
    """Every entry under ``folder``: kind and content hash (files), target (links)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st_ = os.lstat(p)
        if stat.S_ISLNK(st_.st_mode):
            out[str(p.relative_to(folder))] = ("link", os.readlink(p))
        elif stat.S_ISREG(st_.st_mode):
            out[str(p.relative_to(folder))] = ("file", hashlib.sha256(p.read_bytes()).hexdigest())
        else:
            out[str(p.relative_to(folder))] = ("other", stat.S_IFMT(st_.st_mode))
    return out


_REFERENCE_STEPS: dict = {}


def _power_of_two_scale(c) -> float:
    """The power of two that brings ``max |c|`` into [0.5, 1) (1 for a zero field), as the runs scale a tracer."""
    largest = float(np.max(np.abs(c))) if np.size(c) else 0.0
    return math.ldexp(1.0, math.frexp(largest)[1]) if largest > 0 and math.isfinite(largest) else 1.0


def _reference(scheme: str, c0, velocity_at, dt: float, spacing, n_steps: int, courant: float = 1.0) -> np.ndarray:
    """The final state of the same classical scheme in float64 (at the run's largest Courant number
    ``courant``: above 1 the bounded large step a run takes), on the tracer scaled by a power of two to
    max|c| in [0.5, 1) (as a run scales it: the Lin & Rood schemes are positively homogeneous, WENO-Z's weights
    nearly) and unit cells and time step; ``velocity_at(n)`` is the velocity of step ``n``."""
    key = (scheme, 1 if courant <= 1 + COURANT_SLACK else math.ceil(courant))
    if key not in _REFERENCE_STEPS:
        stepper = get_stepper(scheme, None, courant=courant)
        _REFERENCE_STEPS[key] = jax.jit(lambda c, v: stepper(c, v, 1.0, (1.0,) * c.ndim))
    step = _REFERENCE_STEPS[key]
    scale = _power_of_two_scale(c0)
    with float64():
        c = jax.numpy.asarray(c0 / scale, jax.numpy.float64)
        for n in range(n_steps):
            courant_n = tuple(
                jax.numpy.asarray(u * (dt / d), jax.numpy.float64) for u, d in zip(velocity_at(n), spacing)
            )
            c = step(c, courant_n)
        return np.asarray(c) * scale


def _step_velocity(velocity, ndim: int, steps: int, dt: float, times):
    """``(velocity_at, used)``: the velocity of each step (a velocity at its own ``times`` interpolated linearly
    to the step's midpoint) and the fields the run's Courant number is taken over (those around its steps)."""
    if velocity[0].ndim == ndim:
        return (lambda n: velocity), velocity
    if times is None:
        return (lambda n: tuple(u[n] for u in velocity)), tuple(u[:steps] for u in velocity)
    mid = (np.arange(steps, dtype=np.float64) + 0.5) * dt
    k = np.clip(np.searchsorted(times, mid, side="right") - 1, 0, len(times) - 2)
    w = np.clip((mid - times[k]) / (times[k + 1] - times[k]), 0.0, 1.0)
    used = tuple(u[k[0] : k[-1] + 2] for u in velocity)
    return (lambda n: tuple((1 - w[n]) * u[k[n]] + w[n] * u[k[n] + 1] for u in velocity)), used


def _divergence(velocity, spacing, dt: float) -> float:
    """The largest ``|div u| dt`` over the fields (each ``(*space)`` or with a leading time axis), in float64."""
    ndim = len(spacing)
    fields = np.shape(velocity[0])[: np.ndim(velocity[0]) - ndim]
    worst = 0.0
    for index in np.ndindex(*fields):
        with np.errstate(all="ignore"):
            total = sum(
                (u[index] - np.roll(u[index], 1, axis=a)) / d for a, (u, d) in enumerate(zip(velocity, spacing))
            )
            worst = max(worst, float(np.max(np.abs(total))) * dt if np.size(total) else 0.0)
    return worst if math.isfinite(worst) else INF


# A flow is divergence-free for the checks where max |div u| dt is below these: the blow-up guard's range
# (it calls a flow divergence-free below 1e-6: a tenth of that here), and the strict range of a classical large
# step (FCT against a large-step upwind flux keeps every value in the initial range in an exactly
# divergence-free flow; a compressive flow raises values above it legitimately).
DIVERGENCE_FREE_GUARD = 1e-7
DIVERGENCE_FREE_EXACT = 1e-12


def _run(cli, argv, seconds: int):
    with _watchdog(seconds):
        try:
            return cli(*argv)
        except Exception as e:  # noqa: BLE001 -- re-raised: for a user this is a traceback and exit 1
            e.add_note(
                f"contract violated: uncaught {type(e).__name__} (a traceback and exit 1 for a user); argv={argv}"
            )
            raise


def _check_refusal(code, err, before, after, quiet: bool):
    lines = err.strip().splitlines()
    assert "Traceback" not in err, f"traceback on stderr with exit {code}:\n{err}"
    errors = [line for line in lines if line.startswith("error: ")]
    if quiet:
        assert len(lines) == 1 and lines[0].startswith("error: "), (
            f"exit 2 but stderr is not one 'error: ' line:\n{err}"
        )
    else:  # a progress bar may precede a late refusal; the refusal is still one line, the last
        assert len(errors) == 1 and lines[-1] == errors[0], f"exit 2 but stderr is not one 'error: ' line:\n{err}"
    assert after == before, f"refused (exit 2: {lines[-1]}) but the folder changed: {_changes(before, after)}"


def _changes(before: dict, after: dict) -> str:
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    return f"added {added}, removed {removed}, changed {changed}"


def _check_output(
    out: Path,
    *,
    before: dict,
    after: dict,
    folder: Path,
    steps: int,
    save_every: int,
    x64: bool,
    dt_given: float | None,
    source,
    scheme: str,
    conservative: bool = True,
    times=None,
    time_unit: float | None = None,
    first_date=None,
    limit: float | None = None,
):
    """Everything a successful run promises about its output (the input read back as ``source``; ``times``:
    those of a velocity at its own times in the run's unit, ``time_unit``: the run's in seconds when the
    velocity's units name one, ``first_date``: the first of the velocity's dates; ``limit``: the stepper's
    largest Courant number, by default the scheme's)."""
    rel = str(out.relative_to(folder))
    assert set(after) - {rel} == set(before) - {rel}, f"exit 0 but other files changed: {_changes(before, after)}"
    assert all(after[k] == before[k] for k in before if k != rel), (
        f"exit 0 but inputs changed: {_changes(before, after)}"
    )
    assert out.is_file(), f"exit 0 but no output file at {out}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with xr.open_dataset(out, engine="h5netcdf", decode_times=False) as ds:
            ds = ds.load()
    run_dtype = np.dtype(np.float64 if x64 else np.float32)
    eps = float(np.finfo(run_dtype).eps)
    n_frames = steps // save_every + 1
    times_out = np.asarray(ds["time"].values, dtype=np.float64)
    dt = times_out[1] / save_every
    assert times_out[0] == 0 and math.isfinite(dt) and dt > 0, f"time coordinate {times_out[:3]}"
    np.testing.assert_allclose(
        times_out, dt * save_every * np.arange(len(times_out)), rtol=1e-9, err_msg="time not uniform"
    )
    if dt_given is not None:
        assert dt == pytest.approx(dt_given, rel=1e-9), f"ran with dt {dt}, asked for {dt_given}"
    _check_time_units(ds["time"], dt * save_every, time_unit, first_date)
    arrays = _problem_arrays(source) if source is not None else None
    if arrays is None:  # nothing to compare with: every saved variable is sound
        for name, var in ds.data_vars.items():
            if var.dims[:1] == ("time",):
                _check_frames(name, np.asarray(var.values), n_frames, run_dtype)
        return
    tracers, velocity, spacing = arrays
    ndim = len(spacing)
    velocity_at, used = _step_velocity(velocity, ndim, steps, dt, times)
    courant = max(float(np.max(np.abs(u))) * dt / d for u, d in zip(used, spacing))
    limit = supported_courant(scheme) if limit is None else limit  # 1 for a learned model unless it says
    assert courant <= limit * (1 + 1e-9) + COURANT_SLACK, (
        f"exit 0 with Courant number {courant:.9g} > {limit:g} (dt = {dt:g})"
    )
    divergence = _divergence(used, spacing, dt)
    large_step = scheme in SCHEMES and courant > 1 + COURANT_SLACK
    for name, index, c0 in tracers:
        what = name if index is None else f"{name}[{index}]"
        assert name in ds.data_vars, f"exit 0 but tracer {name!r} is not in the output ({list(ds.data_vars)})"
        var = ds[name]
        expected = ("time",) + (() if index is None else ("tracer",)) + AXES[ndim]
        assert var.dims == expected, f"tracer {name!r} has dims {var.dims} in the output, expected {expected}"
        states = np.asarray(var.values if index is None else var.values[:, index])
        _check_frames(what, states, n_frames, run_dtype)
        s64 = states.astype(np.float64)
        scale = float(np.max(np.abs(c0))) if c0.size else 0.0
        # the initial state is the input, to the run's precision
        bad = np.abs(s64[0] - c0) > 2 * eps * (np.abs(c0) + scale)
        assert not bad.any(), (
            f"initial state of {what} is not the input in {run_dtype}: "
            f"e.g. input {c0[bad][:3]} became {s64[0][bad][:3]}"
        )
        flat = s64.reshape(len(s64), -1)
        mass, size = flat.sum(axis=1), np.abs(flat).sum(axis=1)
        # conservative steppers to round-off; others to the blow-up guard's 1000 eps + 64 eps sqrt(steps)
        tol = 16 * eps * steps * size.max() if conservative else (1000 + 64 * math.sqrt(steps)) * eps * size[0]
        assert np.all(np.abs(mass - mass[0]) <= tol), (
            f"mass of {what} not conserved in {run_dtype}: {mass[0]!r} -> {mass[-1]!r} (sum |c| = {size.max():g})"
        )
        assert np.all(size <= 2 * size[0] * (1 + 16 * eps)), (
            f"sum |c| of {what} grew {size.max() / size[0]:.3g}-fold: a blow-up the run should have refused"
        )
        low, high = s64.min(axis=tuple(range(1, s64.ndim))), s64.max(axis=tuple(range(1, s64.ndim)))
        low0, high0 = float(s64[0].min()), float(s64[0].max())
        if divergence <= DIVERGENCE_FREE_GUARD:
            margin = max(high0 - low0, 1e-3 * max(abs(low0), abs(high0)))
            assert np.all(low >= low0 - margin) and np.all(high <= high0 + margin), (
                f"{what} left [{low0:g}, {high0:g}] by more than its range in a divergence-free flow: "
                f"[{low.min():g}, {high.max():g}] (a blow-up the run should have refused)"
            )
        if large_step and divergence <= DIVERGENCE_FREE_EXACT:
            # the bounded large step: within the initial range exactly, in the run's dtype
            bad = (states < states[0].min()) | (states > states[0].max())
            assert not bad.any(), (
                f"{what} left its initial range [{states[0].min()!r}, {states[0].max()!r}] at Courant {courant:.4g} "
                f"({scheme}, divergence-free flow): {states[bad][:3]} in {run_dtype}"
            )
        if scheme in SCHEMES:
            ref = _reference(scheme, c0, velocity_at, dt, spacing, steps, courant)
            tol = (1e-3 if not x64 else 1e-9) * max(scale, np.finfo(np.float64).tiny)
            err = float(np.max(np.abs(s64[-1] - ref)))
            assert err <= tol, (
                f"final state of {what} differs from the same scheme in float64 by {err:.3g} "
                f"(max |c0| = {scale:g}, dt = {dt:g}, Courant {courant:.4g}): a silently wrong result"
            )


def _check_frames(what: str, states: np.ndarray, n_frames: int, run_dtype) -> None:
    assert states.shape[0] == n_frames, f"{what}: {states.shape[0]} frames, expected {n_frames}"
    assert states.dtype == run_dtype, f"{what}: output dtype {states.dtype}, the run computes in {run_dtype}"
    assert np.all(np.isfinite(states)), f"exit 0 with NaN or Inf in {what}"


def _check_time_units(time, step: float, unit: float | None, first_date) -> None:
    """The output's ``time`` has CF units when the velocity's units name a time: ``UNIT since`` the first
    velocity date (the run's t = 0) for dates, the unit itself otherwise."""
    if unit is None:
        return
    units = str(time.attrs.get("units", ""))
    if first_date is None:
        assert units in TIME_UNIT_NAMES[unit], f"output time units {units!r}, expected one of {TIME_UNIT_NAMES[unit]}"
        return
    assert " since " in units, f"output time units {units!r}: the run's times are dates, so 'UNIT since DATE'"
    assert units.split(" since ")[0] in TIME_UNIT_NAMES[unit], f"output time units {units!r} not in the velocity's unit"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        decoded = xr.decode_cf(xr.Dataset({"time": time.variable})).indexes["time"]
    got = np.asarray(decoded.values, "datetime64[ns]")
    expected = first_date + np.round(np.arange(len(got)) * step * unit * 1e9).astype("timedelta64[ns]")
    error = np.abs((got - expected).astype(np.int64))
    assert np.all(error <= 1000 + 1e-9 * np.abs((expected - first_date).astype(np.float64))), (
        f"output times {got[:3]} as dates, expected {expected[:3]} (t = 0 is the first velocity time)"
    )


def _folder(tmp_path: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=tmp_path))


def _run_case(cli, argv, folder: Path, quiet: bool, watchdog: float, shard: bool = False):
    """Run one case under the contract every case shares: exit 0 or 2, never a traceback; a refusal (2)
    is one ``error:`` line with the folder byte-for-byte unchanged; a quiet success prints nothing on
    stderr but, with ``--shard``, one note of the devices used.  Returns the exit code, stderr and the
    folder's snapshots before and after."""
    before = _snapshot(folder)
    code, _, err = _run(cli, argv, watchdog)
    after = _snapshot(folder)
    event(f"exit {code}")
    assert code in (0, 2), f"exit {code} (only 0 and 2 are allowed); stderr:\n{err}"
    assert "Traceback" not in err, f"traceback on stderr with exit {code}:\n{err}"
    if code == 2:
        _check_refusal(code, err, before, after, quiet)
    elif quiet:
        lines = err.strip().splitlines()
        notes = [line for line in lines if shard and line.startswith("--shard")]
        assert lines == notes[:1], f"exit 0 under --quiet but stderr is not empty (one --shard note at most):\n{err}"
    return code, err, before, after


def _must_refuse(case: ProblemCase) -> str | None:
    """Why the case must be refused whatever else it holds, or None."""
    if case.tracers.hostile:
        return f"a tracer variable named {case.tracers.names[0]!r}"
    w = case.winds
    if w is None:
        return None
    if w.kind != "numeric" and case.velocity_units not in TIME_UNITS:
        return f"velocity_time holds {w.kind} but the velocity's units {case.velocity_units!r} name no time unit"
    if w.span in ("late", "short", "repeat") or (w.span == "far_past" and _span_steps(case.options.steps) > 1):
        return f"velocity_time ({w.span}) does not cover the midpoints of the run's steps"
    return None


def _valid_field(f: Field, velocity: bool) -> bool:
    """Whether the field's values are valid ones every run takes (benign draws included)."""
    patterns = ("random", "gauss", "constant") if velocity else ("random", "gauss", "constant", "alternating", "step")
    special = f.special is None or f.special[1] in SPECIALS_BENIGN
    return f.pattern in patterns and f.scale in (1.0, 1e-3, 1e3, -1.0) and special and f.dtype in ("float64", "float32")


VALID_ATTRIBUTES = [a for a in ATTRIBUTES_BENIGN if a[1] != "periodic"] + ["same_dims", "other_dim", "scalar"]


def _must_run(case: ProblemCase) -> bool:
    """Whether the case is a valid problem with only valid features (several tracers, winds at their own times
    covering the run, velocity units, --shard, a large step in a divergence-free flow, benign values and
    coordinates, a time series of velocities): it must run."""
    o = case.options
    save_every = o.steps if o.save_every == "steps" else o.save_every
    if (
        case.layout not in ("ok", "netcdf3")
        or (case.layout == "netcdf3" and (case.winds is not None or case.tracers != Tracers()))
        or any(e not in VALID_ATTRIBUTES for e in case.extras)
        or case.n_time not in (None, "steps", "steps+2")
        or min(case.shape) < 5
        or any(
            c.mode not in ("centres", "int")
            or c.length not in (1.0, 2 * math.pi, 100.0, 1e-6, 1e6)
            or c.origin not in (0.0, -0.5)
            or c.dtype != "float64"
            for c in case.coords
        )
        or not _valid_field(case.concentration, False)
        or not all(_valid_field(f, True) for f in case.velocity)
        or not 0 < o.steps < 10
        or not isinstance(save_every, int)
        or save_every <= 0
        or o.steps % save_every
        or o.output not in ("new", "existing_overwrite")
        or o.limits not in ("refuse", "substep")
        or _must_refuse(case) is not None
        or (case.winds is not None and not case.winds.covers)
    ):
        return False
    if o.time_step == ("dt", "safe"):
        courant = 0.5
    elif o.time_step[0] == "cfl" and isinstance(_courant_value(o.time_step[1], o.scheme), float):
        courant = _courant_value(o.time_step[1], o.scheme)
    else:
        return False
    if not 0 < courant <= supported_courant(o.scheme):
        return False
    return courant <= 0.5 or case.flow == "solenoidal"  # a large step in a compressive flow may blow up


SECONDS = {"nanoseconds": 1e-9, "microseconds": 1e-6, "milliseconds": 1e-3, "seconds": 1.0, "minutes": 60.0}
SECONDS |= {"hours": 3600.0, "days": 86400.0}


def _velocity_times(source, case: ProblemCase, info: dict):
    """The times of a velocity at its own times in the run's unit from its t = 0, from the values the file holds
    (dates and durations in their CF units, which may round them: the run takes them as written)."""
    w = case.winds
    if w is None or w.kind == "numeric" or source is None or "velocity_time" not in source.variables:
        return info.get("times")
    var = source["velocity_time"]
    units = str(var.attrs.get("units", ""))
    word = units.split(" since ")[0].strip()
    if word not in SECONDS or (" since " in units) != (w.kind == "dates"):
        return info.get("times")
    values = np.asarray(var.values)
    if w.kind == "dates":
        values = values - values[0]  # exact for the integers and close floats xarray writes
    return values.astype(np.float64) * (SECONDS[word] / TIME_UNITS.get(case.velocity_units, 1.0))


def check_problem_case(cli, tmp_path: Path, case: ProblemCase) -> None:
    folder = _folder(tmp_path)
    try:
        input_path, engine, info = _write_problem(case, folder)
        source = _read_back(input_path, engine)
        o = case.options
        out, extra = _prepare_output(o, folder, input_path)
        safe = _safe_dt(source)
        argv = ["simulate", input_path, out] + _option_args(o, safe) + extra
        code, err, before, after = _run_case(
            cli, argv, folder, o.quiet, WATCHDOG_FIFO_S if case.layout == "fifo" else WATCHDOG_S, o.shard
        )
        must_refuse = _must_refuse(case)
        if code == 2:
            if o.shard:  # --shard on one device is the same run: refused only if the run is
                plain = [a for a in argv if a != "--shard"]
                again, _, _ = _run(cli, plain, WATCHDOG_S)
                assert again == 2, f"refused with --shard ({err.strip()}) but runs without it"
            assert must_refuse is not None or not _must_run(case), f"an ordinary case was refused: {err.strip()}"
            return
        assert must_refuse is None, f"exit 0 but the case must be refused: {must_refuse}"
        dt_given = None
        if o.time_step[0] == "dt":
            dt_given = float(_dt_value(o.time_step[1], safe, o.scheme))
        assert o.output in ("new", "existing_overwrite", "dangling_overwrite"), f"exit 0 with output mode {o.output}"
        unit = TIME_UNITS.get(case.velocity_units)
        # --limits substep ran each step as sub-steps (the `substeps` attribute): the step's Courant number may
        # exceed the scheme's and the float64 reference takes whole steps, so only the output's soundness is
        # checked here (tests/unit/transport/test_limits_option.py: bitwise the hand-made sub-stepped run)
        with xr.open_dataset(out) as written:
            substepped = int(written.attrs.get("substeps", 1)) > 1
        _check_output(
            out,
            before=before,
            after=after,
            folder=folder,
            steps=o.steps,
            save_every=o.steps if o.save_every == "steps" else o.save_every,
            x64=o.x64,
            dt_given=dt_given,
            source=None if substepped else source,
            scheme=o.scheme,
            times=_velocity_times(source, case, info),
            time_unit=unit,
            first_date=info.get("first_date"),
        )
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(folder)


# --------------------------------------------------------------------------- checkpoint configs
TOP_KEYS = [
    "ndim",
    "dt",
    "grid",
    "grid.shape",
    "grid.length",
    "grid.spacing",
    "stencil",
    "dtype",
    "weights",
    "format",
    "format_version",
    "kind",
    "junk",
]
MODEL_KEYS = [
    "model",
    "model.ndim",
    "model.layers",
    "model.filters",
    "model.kernel_size",
    "model.activation",
    "model.stencil",
    "model.velocity_input",
    "model.final_init_scale",
    "model.kind",
    "model.limiter",
    "model.symmetry",
    "model.precision",
    "model.junk",
]
DEEP = "<deeply nested>"
GENERIC = [
    None,
    True,
    0,
    -1,
    1,
    2,
    2.5,
    1e308,
    NAN,
    INF,
    -INF,
    "abc",
    "",
    "2",
    [],
    [2],
    [32, 32],
    [4, 5],
    {},
    {"a": 1},
    10**12,
    -(10**12),
    DEEP,
]
PLAUSIBLE = {
    "ndim": [1, 3, "2", 2.0],
    "dt": [0.03, 1e-300, 0.0, -0.024, "0.024", 1e-45],
    "grid.shape": [[16, 16], [32], [32, 32, 32], [0, 0], [-32, 32], [32.5, 32], ["32", "32"], [10**12, 10**12]],
    "grid.length": [
        [1.0, 1.0],
        [0.0, 0.0],
        [-6.283185307179586, 6.283185307179586],
        [1e308, 1e308],
        ["a", "b"],
        [6.283185307179586],
    ],
    "weights": ["missing.eqx", "config.json", "../weights.eqx", "/dev/null", "/dev/zero", "", ".", 5],
    "format_version": [2, 0, "1", 1.0],
    "format": ["other"],
    "model.ndim": [1, 3, "2", 2.0],
    "model.layers": [3, 5, 0, 64, 65, 2.5, "4", 10**12],
    "model.filters": [16, 64, 1024, 1025, 100000, 0, 31.5],
    "model.kernel_size": [1, 5, 2, 15, 17, 0],
    "model.activation": ["tanh", "gelu", "junk"],
    "model.stencil": [[2, 3], [6, 5], [4], [4, 5, 6], [0, 0], [-4, 5], [4.5, 5], [16, 16], [18, 5]],
    "model.velocity_input": ["raw", "junk"],
    "model.final_init_scale": [0.0, 100.0, 1e308, NAN, -1.0],
    "model.kind": ["diffusion", "next-state", "derivative", "junk"],
    "model.limiter": ["fct", "junk"],
    "model.symmetry": ["d4", "junk"],
    "model.precision": ["bfloat16", "float64", "float16"],
    "dtype": ["float64", "float16", "int32", "junk"],
}
CONFIG_FILES = ["truncated", "garbage", "empty", "list", "deep", "utf16", "bom"]
WEIGHTS = ["truncated", "garbage", "missing", "folder", "bitflip", "appended", "empty", "header_only"]


# --model names of the shipped models, and names that try to reach a checkpoint outside the package (a valid
# copy of the shipped one: "{copy}" is its absolute path, "{relative}" its path from the shipped models' folder).
SHIPPED_NAMES = [
    "pretrained",
    "pretrained:turbulence-2d",
    "pretrained:turbulence-2d-k8-hybrid",
    "pretrained:turbulence-2d/",  # the same name: the command line's path option drops a trailing slash
]
HOSTILE_NAMES = [
    "pretrained:{copy}",
    "pretrained:{relative}",
    "pretrained:/tmp/x",
    "pretrained:../../x",
    "pretrained:..",
    "pretrained:",
    "pretrained:turbulence-2d/../turbulence-2d",
    "pretrained:./turbulence-2d",
    "pretrained:TURBULENCE-2D",
]
# Courant numbers of a steady cellular flow, as fractions of the model's largest (1 for a model without one).
CELLULAR_COURANT = [0.975, 0.5, 1.0]


@dataclasses.dataclass(frozen=True)
class CheckpointCase:
    edits: tuple  # (("set", "model.layers", 2.5), ("delete", "dt"), ...)
    config_file: str | None  # a whole-file corruption of config.json
    weights: tuple  # ("ok",) or (kind, position fraction, bit)
    steps: int
    x64: bool
    quiet: bool
    seed: int
    model: str = "copy"  # the (edited) copy of the shipped model, or a --model name
    courant: float | None = (
        None  # a steady cellular flow at this fraction of the model's Courant limit (None: turbulence)
    )

    @property
    def hostile_name(self) -> bool:
        return self.model in HOSTILE_NAMES

    @property
    def damaged(self) -> bool:
        return (
            self.config_file is not None
            or self.weights != ("ok",)
            or any(e not in BENIGN_EDITS for e in self.edits)
            or self.hostile_name
            or (self.courant is not None and self.courant > 1)
        )


@st.composite
def edits(draw):
    key = draw(st.sampled_from(TOP_KEYS + MODEL_KEYS))
    if _rare(draw, 2):
        return ("delete", key)
    plausible = PLAUSIBLE.get(key, [])
    value = draw(st.sampled_from(plausible)) if plausible and not _rare(draw, 4) else draw(st.sampled_from(GENERIC))
    return ("set", key, value)


# Edits that keep the checkpoint valid: keys simulate does not use (a clean case has only these).
BENIGN_EDITS = [
    ("set", "junk", 1),
    ("set", "extra", {"note": "hand-edited"}),
    ("delete", "extra"),
    ("delete", "training"),
    ("set", "training", None),
    ("set", "package_version", "9.9.9"),
    ("set", "first_stage", [1, 2]),
    ("set", "exported_from", ""),
]


@st.composite
def checkpoint_cases(draw) -> CheckpointCase:
    hostile = _rare(draw, 6)  # about 40 % clean cases: they must run
    benign = tuple(draw(st.lists(st.sampled_from(BENIGN_EDITS), max_size=2))) if _rare(draw, 4) else ()
    if not hostile:
        corrupt = ()
    else:  # one kind of damage at a time, so that none masks another
        corrupt = draw(st.sampled_from(["edits", "edits", "edits", "config_file", "weights", "model", "courant"]))
    model = "copy"
    if corrupt == "model":
        model = draw(st.sampled_from(HOSTILE_NAMES))
    elif not corrupt and _rare(draw, 4):
        model = draw(st.sampled_from(SHIPPED_NAMES))
    courant = None
    if corrupt == "courant":
        courant = draw(st.sampled_from([1 + 1e-6, 1.1]))  # just above the model's limit
    elif _rare(draw, 3):
        courant = draw(st.sampled_from(CELLULAR_COURANT))
    return CheckpointCase(
        edits=benign + (tuple(draw(st.lists(edits(), min_size=1, max_size=2))) if corrupt == "edits" else ()),
        config_file=draw(st.sampled_from(CONFIG_FILES)) if corrupt == "config_file" else None,
        weights=(
            (draw(st.sampled_from(WEIGHTS)), draw(st.floats(0, 1)), draw(st.integers(0, 7)))
            if corrupt == "weights"
            else ("ok",)
        ),
        steps=draw(st.sampled_from([1, 2] if courant is None else [8, 2])),
        x64=_rare(draw, 3),
        quiet=not _rare(draw, 2),
        seed=draw(st.integers(0, 2**16)),
        model=model,
        courant=courant,
    )


def _apply(config: dict, edit) -> None:
    *parents, leaf = edit[1].split(".")
    node = config
    for p in parents:
        if not isinstance(node.get(p), dict):
            return  # an earlier edit replaced the parent
        node = node[p]
    if edit[0] == "delete":
        node.pop(leaf, None)
    else:
        node[leaf] = edit[2]


def _write_checkpoint(case: CheckpointCase, folder: Path, rng) -> dict:
    """Copy the shipped checkpoint into ``folder``, corrupted as the case says; returns the edited config."""
    folder.mkdir()
    shutil.copy(PRETRAINED / "config.json", folder / "config.json")
    shutil.copy(PRETRAINED / "weights.eqx", folder / "weights.eqx")
    config = json.loads((PRETRAINED / "config.json").read_text())
    for edit in case.edits:
        _apply(config, edit)
    text = json.dumps(config, indent=1).replace(json.dumps(DEEP), "[" * 100_000 + "]" * 100_000)
    kind = case.config_file
    raw = text.encode()
    if kind == "truncated":
        raw = raw[: len(raw) // 3]
    elif kind == "garbage":
        raw = rng.bytes(500)
    elif kind == "empty":
        raw = b""
    elif kind == "list":
        raw = b"[1, 2, 3]"
    elif kind == "deep":
        raw = b'{"format": "learned-advection-checkpoint", "x": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_000 + b"}"
    elif kind == "utf16":
        raw = text.encode("utf-16")
    elif kind == "bom":
        raw = b"\xef\xbb\xbf" + raw
    (folder / "config.json").write_bytes(raw)
    w = folder / "weights.eqx"
    kind, where, bit = case.weights if len(case.weights) == 3 else (case.weights[0], 0.0, 0)
    data = w.read_bytes()
    at = min(int(where * len(data)), len(data) - 1)
    if kind == "truncated":
        w.write_bytes(data[:at])
    elif kind == "garbage":
        w.write_bytes(rng.bytes(len(data)))
    elif kind == "missing":
        w.unlink()
    elif kind == "folder":
        w.unlink()
        w.mkdir()
    elif kind == "bitflip":
        w.write_bytes(data[:at] + bytes([data[at] ^ (1 << bit)]) + data[at + 1 :])
    elif kind == "appended":
        w.write_bytes(data + rng.bytes(100))
    elif kind == "empty":
        w.write_bytes(b"")
    elif kind == "header_only":
        w.write_bytes(data[:128])
    return config


def _turbulence_problem(path: Path, rng) -> None:
    """A valid 32^2 problem on [0, 2 pi]^2 like the shipped model's data (smooth, max |u| about 1)."""
    n, length = 32, 2 * math.pi
    x = (np.arange(n) + 0.5) * length / n
    yy, xx = np.meshgrid(x, x, indexing="ij")
    phase = rng.uniform(0, 2 * math.pi, 4)
    c = 1 + 0.5 * np.sin(xx + phase[0]) * np.cos(2 * yy + phase[1])
    vx = np.sin(yy + length / (2 * n) + phase[2])  # x faces, divergence-free with vy below
    vy = np.cos(xx + length / (2 * n) + phase[3])
    ds = xr.Dataset(
        {"concentration": (("y", "x"), c), "x_velocity": (("y", "x"), vx), "y_velocity": (("y", "x"), vy)},
        coords={"x": ("x", x), "y": ("y", x)},
    )
    ds.to_netcdf(path, engine="h5netcdf")


def _cellular_problem(path: Path, courant: float, dt: float) -> None:
    """A steady cellular flow (streamfunction sin(2x) sin(2y) at the cell corners: discretely divergence-free)
    on 32^2 cells of [0, 2 pi]^2, scaled to the Courant number ``courant`` at time step ``dt``, carrying a block."""
    n, length = 32, 2 * math.pi
    d = length / n
    x = (np.arange(n) + 0.5) * d
    corners = x + d / 2
    psi = np.sin(2 * corners)[:, None] * np.sin(2 * corners)[None, :]  # [j, i] at (y_j+1/2, x_i+1/2)
    vx = (psi - np.roll(psi, 1, axis=0)) / d  # x faces: d psi / dy
    vy = -(psi - np.roll(psi, 1, axis=1)) / d  # y faces: -d psi / dx
    speed = max(np.max(np.abs(vx)), np.max(np.abs(vy)))
    vx, vy = vx * (courant * d / dt / speed), vy * (courant * d / dt / speed)
    block = ((x > length / 4) & (x < 3 * length / 4)).astype(np.float64)
    ds = xr.Dataset(
        {
            "concentration": (("y", "x"), block[:, None] * block[None, :]),
            "x_velocity": (("y", "x"), vx),
            "y_velocity": (("y", "x"), vy),
        },
        coords={"x": ("x", x), "y": ("y", x)},
    )
    ds.to_netcdf(path, engine="h5netcdf")


def _named_config(model: str) -> dict | None:
    """The config of the shipped model ``--model`` names, or None (the copy, or a name that is not shipped)."""
    if model not in SHIPPED_NAMES:
        return None
    name = "turbulence-2d" if model == "pretrained" else model.split(":", 1)[1]
    return json.loads((SHIPPED / name / "config.json").read_text())


def _largest_courant(config) -> float:
    """A checkpoint's largest Courant number (1 unless its model says)."""
    model = config.get("model") if isinstance(config, dict) else None
    value = model.get("max_courant") if isinstance(model, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 1 else 1.0


def check_checkpoint_case(cli, tmp_path: Path, case: CheckpointCase) -> None:
    folder = _folder(tmp_path)
    try:
        rng = np.random.default_rng(case.seed)
        config = _write_checkpoint(case, folder / "model", rng)
        named = _named_config(case.model)
        if named is not None:
            config = named
        model = str(folder / "model")
        if case.model != "copy":
            model = case.model.format(copy=model, relative=os.path.relpath(model, SHIPPED))
        dt = config.get("dt") if isinstance(config, dict) else None
        if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not (math.isfinite(dt) and dt > 0):
            dt = 0.024
        input_path = folder / "flow32.nc"
        if case.courant is None:
            _turbulence_problem(input_path, rng)
        else:
            _cellular_problem(input_path, case.courant * _largest_courant(config), dt)
        out = folder / "out.nc"
        argv = (
            ["simulate", input_path, out, "--scheme", "learned", "--model", model]
            + ["--steps", case.steps, "--dt", repr(float(dt))]
            + (["--x64"] if case.x64 else [])
            + (["--quiet"] if case.quiet else [])
        )
        code, err, before, after = _run_case(cli, argv, folder, case.quiet, WATCHDOG_S)
        if code == 2:
            if case.damaged or case.courant is not None:  # a steady flow at a large step may blow up: refused
                return
            # an undamaged checkpoint must run; under --x64 it may be refused, saying so
            assert case.x64 and "x64" in err, (
                f"the valid checkpoint {case.model} (edits {case.edits}) was refused: {err.strip()}"
            )
            return
        assert not case.hostile_name, f"exit 0 with --model {model}: only the shipped models are pretrained:NAME"
        kind = config.get("model", {}).get("kind", "interpolation") if isinstance(config.get("model"), dict) else None
        _check_output(
            out,
            before=before,
            after=after,
            folder=folder,
            steps=case.steps,
            save_every=1,
            x64=case.x64,
            dt_given=float(dt),
            source=_read_back(input_path, "h5netcdf"),
            scheme="learned",
            conservative=kind in (None, "interpolation"),
            limit=_largest_courant(config),
        )
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(folder)


# --------------------------------------------------------------------------- the tests
# Violations the fuzz found, kept as explicit cases: PPM's limiter multiplies differences of
# concentrations, which underflow in float32 (and are flushed to zero) when |c| is below about 1e-16.
KNOWN = [
    ProblemCase(
        shape=(16,),
        concentration=Field(pattern="gauss", scale=1e-18),
        velocity=(Field(pattern="constant"),),
        n_time=None,
        coords=(Coord(),),
        layout="ok",
        extras=(),
        seed=0,
        options=Options(scheme="ppm", steps=2, time_step=("cfl", 0.5)),
    ),
]


# Cases the contract names: winds at velocity_time [-1e12, 0, 1] cover 500 steps of dt 1 only within a slack
# scaled by their first time, which a slack scaled by the spacing at the end refuses; the hybrid shipped model on
# a steady cellular flow at Courant 3.9 (exit 0 within the guard's bounds, or refused).
FAR_PAST = ProblemCase(
    shape=(16,),
    concentration=Field(),
    velocity=(Field(scale=1e-3),),
    n_time=None,
    coords=(Coord(),),
    layout="ok",
    extras=(),
    seed=0,
    options=Options(steps=500, time_step=("dt", 1.0)),
    winds=Winds(span="far_past"),
)
HYBRID_CELLULAR = CheckpointCase(
    edits=(),
    config_file=None,
    weights=("ok",),
    steps=8,
    x64=False,
    quiet=True,
    seed=0,
    model="pretrained:turbulence-2d-k8-hybrid",
    courant=0.975,
)


@settings(max_examples=80, **DEFAULT)
@given(case=problem_cases())
@example(case=KNOWN[0])
@example(case=FAR_PAST)
def test_simulate_any_problem_runs_cleanly_or_is_refused_in_one_line(cli, tmp_path, case):
    check_problem_case(cli, tmp_path, case)


@settings(max_examples=25, **DEFAULT)
@given(case=checkpoint_cases())
@example(case=CheckpointCase(edits=(), config_file=None, weights=("ok",), steps=1, x64=True, quiet=True, seed=0))
@example(case=HYBRID_CELLULAR)
def test_simulate_any_checkpoint_runs_cleanly_or_is_refused_in_one_line(cli, tmp_path, case):
    check_checkpoint_case(cli, tmp_path, case)


@pytest.mark.slow
@settings(max_examples=SLOW_EXAMPLES, **SLOW)
@given(case=problem_cases())
def test_simulate_any_problem_many(cli, tmp_path, case):
    check_problem_case(cli, tmp_path, case)


@pytest.mark.slow
@settings(max_examples=max(1, SLOW_EXAMPLES // 5), **SLOW)
@given(case=checkpoint_cases())
def test_simulate_any_checkpoint_many(cli, tmp_path, case):
    check_checkpoint_case(cli, tmp_path, case)


# --------------------------------------------------------------------------- regional domains
# Regional problems (docs/netcdf.md): each axis periodic, walled or open at either end; faces along the
# non-periodic axes; each open side's value (constant, profile, at its own times) for every tracer; emission
# sources.  Hostile sites: a word the attribute does not take, n faces on a non-periodic axis (n + 1 on a
# periodic one), flow through a wall, a missing / misshapen / NaN side value, side times that end before the
# run, a misshapen or infinite source, a learned model on a grid or step it was not trained for.  A run that
# exits 0 must close each tracer's budget (mass_change = mass_emitted + mass_inflow - mass_outflow) to
# round-off.
SIDE_KINDS_FUZZ = ["open", "wall"]
REGIONAL_HOSTILE = {
    "attribute": ["closed", "open wall open", "periodic wall", "Open"],
    "faces": ["cells_on_open", "faces_on_periodic"],
    "wall": ["flow_through"],
    "side": ["missing", "wrong_dims", "nan", "times_short"],
    "source": ["wrong_dims", "inf"],
    "scheme": ["learned"],
}


@dataclasses.dataclass(frozen=True)
class RegionalCase:
    """One regional problem and run: sides per axis (``None``: periodic), grid, what each open side holds,
    the source, the scheme, and the hostile choice per site (``None``: none)."""

    axes: tuple  # per array axis: None or (low, high) kinds
    shape: tuple[int, ...]
    side_value: str  # constant, profile, timed
    source: str  # none, constant, timed
    tracers: int  # 1, or a (tracer, ...) variable of this many next to concentration
    scheme: str
    cfl: float
    x64: bool
    steps: int
    hostile: tuple[tuple[str, str], ...] = ()
    seed: int = 0


@st.composite
def regional_cases(draw) -> RegionalCase:
    ndim = draw(st.sampled_from([2, 1]))
    sites = draw(
        st.sampled_from([()] * 6 + [("attribute",), ("faces",), ("wall",), ("side",), ("source",), ("scheme",)])
    )
    pick = Chooser(draw, sites)
    axes = []
    for _ in range(ndim):
        kind = draw(st.sampled_from(["open", "wall", "periodic", "two"]))
        if kind == "periodic":
            axes.append(None)
        elif kind == "two":
            axes.append((draw(st.sampled_from(SIDE_KINDS_FUZZ)), draw(st.sampled_from(SIDE_KINDS_FUZZ))))
        else:
            axes.append((kind, kind))
    hostile = tuple((site, pick(site, [None], (), REGIONAL_HOSTILE[site])) for site in sites)
    hostile = tuple((s, h) for s, h in hostile if h is not None)
    shape = tuple(draw(st.integers(4, 12)) for _ in range(ndim))
    return RegionalCase(
        axes=tuple(axes),
        shape=shape,
        side_value=draw(st.sampled_from(["constant", "profile", "timed"])),
        source=draw(st.sampled_from(["none", "constant", "timed"])),
        tracers=draw(st.sampled_from([1, 2])),
        scheme=draw(st.sampled_from(["upwind", "vanleer", "ppm", "weno5z"])),
        cfl=draw(st.sampled_from([0.5, 0.3, 0.6, 2.5])),  # 2.5: the bounded large step (not weno5z's)
        x64=draw(st.booleans()),
        steps=draw(st.sampled_from([8, 3])),
        hostile=hostile,
        seed=draw(st.integers(0, 2**16)),
    )


def _regional_problem(case: RegionalCase, path: Path) -> None:
    """Write the case's problem: random tracers, a random flow on the faces (zero normal velocity on walls),
    side values and sources as the case says, spoiled at its hostile site."""
    rng = np.random.default_rng(case.seed)
    hostile = dict(case.hostile)
    names = ("x",) if len(case.shape) == 1 else ("y", "x")
    shape = case.shape
    data, coords = {}, {n: (np.arange(k) + 0.5) / k for n, k in zip(names, shape)}
    data["concentration"] = (names, rng.random(shape))
    tracers = [("concentration", None)]
    if case.tracers > 1:
        data["dust"] = (("tracer",) + names, rng.random((case.tracers,) + shape))
        tracers.append(("dust", case.tracers))
    for a, name in enumerate(names):
        sides = case.axes[a]
        faces = sides is not None
        if hostile.get("faces") == "cells_on_open":
            faces = False
        elif hostile.get("faces") == "faces_on_periodic":
            faces = True
        dims, sizes = list(names), list(shape)
        if faces:
            dims[a], sizes[a] = name + "_face", sizes[a] + 1
        u = rng.uniform(0.2, 1.0, sizes) * rng.choice([-1.0, 1.0])
        if sides is not None and faces:
            for s, kind in enumerate(sides):
                if kind == "wall":
                    index = [slice(None)] * len(sizes)
                    index[a] = 0 if s == 0 else sizes[a] - 1
                    u[tuple(index)] = 0.5 if hostile.get("wall") == "flow_through" else 0.0
        data[f"{name}_velocity"] = (tuple(dims), u)
    timed = case.side_value == "timed"
    for a, name in enumerate(names):
        if case.axes[a] is None:
            continue
        other = [(n, k) for b, (n, k) in enumerate(zip(names, shape)) if b != a]
        for s, side in enumerate(("low", "high")):
            if case.axes[a][s] != "open":
                continue
            for tracer, count in tracers:
                dims, size = (("tracer",), (count,)) if count else ((), ())
                if timed:
                    dims, size = dims + ("boundary_time",), size + (3,)
                if case.side_value == "profile" and other:
                    dims, size = dims + (other[0][0],), size + (other[0][1],)
                values = rng.random(size)
                if hostile.get("side") == "nan":
                    values = np.full(size, np.nan)
                if hostile.get("side") == "wrong_dims":
                    dims, values = names, rng.random(shape)
                if hostile.get("side") == "missing" and tracer == "concentration":
                    continue
                data[f"{tracer}_{name}_{side}"] = (dims, values)
    if timed:  # ends long after the run (its end is below case.steps), or before it
        stop = 1e-4 if hostile.get("side") == "times_short" else 2.0 * case.steps
        coords["boundary_time"] = [-1.0, 0.3 * stop, stop]
    if case.source != "none":
        for tracer, count in tracers:
            lead = (("tracer",), (count,)) if count else ((), ())
            dims, size = lead[0] + names, lead[1] + shape
            if case.source == "timed":
                dims, size = lead[0] + ("source_time",) + names, lead[1] + (2,) + shape
                coords["source_time"] = [0.0, 2.0 * case.steps]
            rate = rng.normal(size=size)
            if hostile.get("source") == "wrong_dims":
                dims, rate = dims[::-1] if len(dims) > 1 else ("bogus",), rate.T
            if hostile.get("source") == "inf":
                rate = np.full(size, np.inf)
            data[f"{tracer}_source"] = (dims, rate)
    attrs = {}
    for name, sides in zip(names, case.axes):
        if sides is not None:
            attrs[f"{name}_boundary"] = sides[0] if sides[0] == sides[1] else " ".join(sides)
    if "attribute" in hostile:
        attrs[f"{names[-1]}_boundary"] = hostile["attribute"]
    xr.Dataset(data, coords=coords, attrs=attrs).to_netcdf(path, engine="h5netcdf")


def _regional_refusal(case: RegionalCase) -> str | None:
    """Why the case must be refused (its hostile choice applies to its problem), or None."""
    hostile = dict(case.hostile)
    applies = {
        "attribute": True,
        "faces": (hostile.get("faces") == "cells_on_open" and any(a is not None for a in case.axes))
        or (hostile.get("faces") == "faces_on_periodic" and any(a is None for a in case.axes)),
        "wall": _has_wall(case),
        "side": _has_open(case) and (hostile.get("side") != "times_short" or case.side_value == "timed"),
        "source": case.source != "none",
        "scheme": True,  # the shipped learned model is for 32 x 32 cells at its own dt, not these grids and --cfl
    }
    for site, choice in case.hostile:
        if applies[site]:
            return f"{site}: {choice}"
    return None


def check_regional_case(cli, tmp_path: Path, case: RegionalCase) -> None:
    folder = _folder(tmp_path)
    try:
        path = folder / "in.nc"
        _regional_problem(case, path)
        out = folder / "out.nc"
        hostile = dict(case.hostile)
        scheme = "learned" if hostile.get("scheme") == "learned" else case.scheme
        cfl = min(case.cfl, 0.6) if scheme == "weno5z" else case.cfl
        argv = ["simulate", path, out, "--scheme", scheme, "--cfl", str(cfl), "--steps", str(case.steps), "--quiet"]
        argv += (["--model", "pretrained"] if scheme == "learned" else []) + (["--x64"] if case.x64 else [])
        code, err, _, _ = _run_case(cli, argv, folder, True, WATCHDOG_S)
        refusal = _regional_refusal(case)
        if code == 2:
            assert refusal is not None, f"an ordinary regional case was refused: {err.strip()}"
            return
        assert refusal is None, f"exit 0 but the case must be refused ({refusal})"
        regional = any(a is not None for a in case.axes) or case.source != "none"
        with xr.open_dataset(out) as written:
            for name in ["concentration"] + (["dust"] if case.tracers > 1 else []):
                c = written[name].values.astype(np.float64)
                assert np.all(np.isfinite(c)), f"{name}: NaN or Inf written"
                if not regional:
                    assert "mass_inflow" not in written[name].attrs
                    continue
                attrs = written[name].attrs
                inflow, outflow, emitted, change = (
                    np.atleast_1d(attrs[f"mass_{k}"]).astype(np.float64)
                    for k in ("inflow", "outflow", "emitted", "change")
                )
                volume = float(np.prod([1.0 / k for k in case.shape]))
                axes = tuple(range(-len(case.shape), 0))
                mass = np.atleast_1d(c.sum(axis=axes)) if c.ndim == len(case.shape) + 1 else c.sum(axis=axes)
                np.testing.assert_allclose((mass[-1] - mass[0]) * volume, change, rtol=1e-9, atol=1e-300)
                scale = np.abs(c).max(axis=0).sum(axis=axes) * volume
                moved = inflow + outflow + np.abs(emitted) + np.atleast_1d(scale)
                tol = (1e-11 if case.x64 else 1e-5) * moved
                residual = np.abs(change - (emitted + inflow - outflow))
                assert np.all(residual <= tol), f"{name}: budget residual {residual} > {tol}"
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(folder)


def _has_open(case: RegionalCase) -> bool:
    return any(a is not None and "open" in a for a in case.axes)


def _has_wall(case: RegionalCase) -> bool:
    return any(a is not None and "wall" in a for a in case.axes)


@settings(max_examples=30, **DEFAULT)
@given(case=regional_cases())
@example(
    case=RegionalCase(
        axes=((("wall", "wall")), ("open", "open")),
        shape=(6, 8),
        side_value="profile",
        source="timed",
        tracers=2,
        scheme="ppm",
        cfl=0.5,
        x64=False,
        steps=8,
    )
)
def test_simulate_any_regional_problem_runs_cleanly_or_is_refused_in_one_line(cli, tmp_path, case):
    check_regional_case(cli, tmp_path, case)
