"""Times and their units: the run's time unit from the velocity's units, ``velocity_time`` as plain numbers,
durations or dates converted to it, the output's ``time`` units, and the span check's tolerance."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from learned_advection.data import netcdf as io
from learned_advection.data.netcdf.times import velocity_time_unit
from learned_advection.errors import UserError
from learned_advection.numerics.grids import Grid
from learned_advection.transport import winds

DATES = np.array(["2000-01-01T00", "2000-01-01T06", "2000-01-01T12", "2000-01-01T18"], "datetime64[ns]")


@pytest.mark.parametrize(
    "units, expected",
    [
        ("m s-1", ("m", "seconds")),
        ("m/s", ("m", "seconds")),
        ("m s^-1", ("m", "seconds")),
        ("m s**-1", ("m", "seconds")),
        ("m.s-1", ("m", "seconds")),
        ("cm s-1", ("cm", "seconds")),
        ("m sec-1", ("m", "seconds")),
        ("m per second", ("m", "seconds")),
        ("m min-1", ("m", "minutes")),
        ("m/minute", ("m", "minutes")),
        ("km h-1", ("km", "hours")),
        ("m/h", ("m", "hours")),
        ("m/hr", ("m", "hours")),
        ("m hour-1", ("m", "hours")),
        ("m day-1", ("m", "days")),
        ("m/d", ("m", "days")),
        ("m2 s-1", ("m2", "seconds")),
        ("1", None),
        ("m", None),
        ("", None),
        ("m s-2", None),
        ("m/s/s", None),
        ("knots", None),
        (None, None),
    ],
)
def test_the_time_unit_of_a_velocity(units, expected):
    assert velocity_time_unit(units) == expected


def _problem(grid=None, n_time=4):
    """A 2-D problem with ``n_time`` velocity fields on ``velocity_time`` (units added by the tests)."""
    grid = grid or Grid((6, 8), (1.5, 2.0))
    rng = np.random.default_rng(0)
    names = ("y", "x")
    data = {"concentration": (names, rng.uniform(0, 1, grid.shape))}
    for name in names:
        data[io.VELOCITY_NAMES[name]] = (("velocity_time",) + names, rng.uniform(-1, 1, (n_time,) + grid.shape))
    return xr.Dataset(data, coords={n: (n, grid.centres(a)) for a, n in enumerate(names)})


def _with_units(ds, units):
    ds = ds.copy()
    for name in ("x_velocity", "y_velocity"):
        ds[name].attrs["units"] = units
    return ds


def _write(ds, path, engine="h5netcdf", encoding=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # xarray's note on float serialisation of dates
        ds.to_netcdf(path, engine=engine, encoding=encoding)
    return path


def _refused(path, match):
    with pytest.raises(UserError, match=match) as info:
        io.read_problem(path)
    assert len(str(info.value).splitlines()) == 1


@pytest.mark.parametrize(
    "how",
    [
        "datetime64, hours",
        "datetime64, days",
        "datetime64, netCDF-3",
        "explicit hours since",
        "explicit minutes since an earlier date",
        "explicit with a time zone",
        "explicit nanoseconds since 1970",
        "timedelta64",
        "explicit minutes",
    ],
)
def test_dates_and_durations_six_hours_apart_are_the_same_times_in_the_run_unit(tmp_path, how):
    """However the file stores them, winds 6 hours apart are at 0, 6, 12, 18 in a run in hours (velocity in
    km h-1); dates start the run at the first of them."""
    ds = _with_units(_problem(), "km h-1")
    hours = np.array([0, 6, 12, 18])
    encoding, engine = None, "h5netcdf"
    if how.startswith("datetime64"):
        ds = ds.assign_coords(velocity_time=DATES)
        if how.endswith("days"):
            encoding = {"velocity_time": {"units": "days since 2000-01-01", "dtype": "float64"}}
        engine = "scipy" if how.endswith("netCDF-3") else engine
    elif how == "explicit hours since":
        ds = ds.assign_coords(velocity_time=("velocity_time", hours.astype(float), {"units": "hours since 2000-01-01"}))
    elif how == "explicit minutes since an earlier date":
        minutes = 60 * (24 + hours)
        units = {"units": "minutes since 1999-12-31 00:00:00", "calendar": "standard"}
        ds = ds.assign_coords(velocity_time=("velocity_time", minutes, units))
    elif how == "explicit with a time zone":
        units = {"units": "hours since 2000-01-01T01:00:00+01:00"}
        ds = ds.assign_coords(velocity_time=("velocity_time", hours, units))
    elif how == "explicit nanoseconds since 1970":
        nanoseconds = DATES.astype(np.int64)  # beyond 2^53: offsets taken in integers
        ds = ds.assign_coords(velocity_time=("velocity_time", nanoseconds, {"units": "nanoseconds since 1970-01-01"}))
    elif how == "timedelta64":
        ds = ds.assign_coords(velocity_time=DATES - DATES[0])
    else:
        ds = ds.assign_coords(velocity_time=("velocity_time", 60.0 * hours, {"units": "minutes"}))
    problem = io.read_problem(_write(ds, tmp_path / "winds.nc", engine, encoding))
    np.testing.assert_array_equal(problem.velocity_times, hours)
    assert problem.time_unit == "hours"
    dates = "since" in how or how.startswith(("datetime64", "explicit with"))
    assert problem.time_reference == ("2000-01-01T00:00:00" if dates else None)
    assert problem.units["time"] == ("hours since 2000-01-01T00:00:00" if dates else "hours")


def test_dates_are_converted_exactly_to_the_unit_of_a_velocity_in_m_s_1(tmp_path):
    ds = _with_units(_problem(), "m s-1").assign_coords(velocity_time=DATES + np.timedelta64(90, "s"))
    problem = io.read_problem(_write(ds, tmp_path / "winds.nc"))
    np.testing.assert_array_equal(problem.velocity_times, [0.0, 21600.0, 43200.0, 64800.0])
    assert problem.time_unit == "seconds" and problem.time_reference == "2000-01-01T00:01:30"
    ds = _with_units(_problem(n_time=2), "m day-1")  # 20 minutes: 1/72 day, one rounding
    ds = ds.assign_coords(velocity_time=("velocity_time", [0, 20], {"units": "minutes since 2000-01-01"}))
    assert io.read_problem(_write(ds, tmp_path / "days.nc")).velocity_times[1] == 20 / 1440


def test_durations_count_from_t_0_not_from_the_first(tmp_path):
    """A velocity from 6 to 24 hours does not cover a run that starts at t = 0."""
    ds = _with_units(_problem(), "km h-1").assign_coords(velocity_time=DATES - DATES[0] + np.timedelta64(6, "h"))
    problem = io.read_problem(_write(ds, tmp_path / "late.nc"))
    np.testing.assert_array_equal(problem.velocity_times, [6, 12, 18, 24])
    with pytest.raises(UserError, match=r"velocity_time 6 to 24 hours but the run needs it from 0\.5"):
        winds.check_velocity_span(problem, 2, 1.0)


def test_plain_numbers_are_in_the_velocity_time_unit_and_name_the_output_unit(tmp_path):
    ds = _with_units(_problem(), "m s-1").assign_coords(velocity_time=("velocity_time", [0.0, 1.0, 2.5, 4.0]))
    problem = io.read_problem(_write(ds, tmp_path / "s.nc"))
    np.testing.assert_array_equal(problem.velocity_times, [0.0, 1.0, 2.5, 4.0])
    assert problem.time_unit == "seconds" and problem.time_reference is None and problem.units["time"] == "seconds"
    plain = _problem().assign_coords(velocity_time=("velocity_time", [0.0, 1.0, 2.5, 4.0], {"units": "1"}))
    problem = io.read_problem(_write(plain, tmp_path / "plain.nc"))  # no time unit anywhere: as before
    np.testing.assert_array_equal(problem.velocity_times, [0.0, 1.0, 2.5, 4.0])
    assert problem.time_unit is None and "time" not in problem.units
    constant = _with_units(_problem().isel(velocity_time=0, drop=True), "m/d")  # a constant velocity too
    assert io.read_problem(_write(constant, tmp_path / "constant.nc")).units["time"] == "days"


@pytest.mark.parametrize(
    "case, match",
    [
        ("dates, velocity in 1", r"holds dates \(units 'hours since .*add a units attribute like 'm s-1' to the"),
        ("dates, velocity without units", "add a units attribute like 'm s-1' to the velocity"),
        ("durations, velocity in m", r"holds durations \(units 'hours'\).*add a units attribute like 'm s-1'"),
        ("noleap calendar", "has calendar 'noleap'; only 'standard', 'gregorian' and 'proleptic_gregorian'"),
        ("360_day calendar", "has calendar '360_day'"),
        ("NaT", r"'velocity_time' contains a missing time \(NaN or NaT\)"),
        ("NaN date", r"contains a missing time \(NaN or NaT\)"),
        ("Inf date", r"contains a missing time \(NaN or NaT\) or an infinite one"),
        ("no unit before since", "has units 'since 2000-01-01'; expected e.g. 'hours since 2000-01-01 00:00:00'"),
        ("months since", "months, years and weeks have no fixed length"),
        ("fortnights since", "the unit 'fortnights' is not one of seconds, minutes, hours or days"),
        ("no date", "cannot read the date ''"),
        ("not a date", "cannot read the date 'yesterday'"),
        ("invalid date", "the date '2000-13-01' is not a valid date"),
        ("Julian dates", "dates before 1582-10-15 in the 'standard' calendar"),
        ("components disagree", "the velocity components disagree on their units: 'y_velocity' has units 'm s-1' but"),
        ("one component without units", "'y_velocity' has units 'm s-1' but 'x_velocity' has none"),
    ],
)
def test_times_that_cannot_be_converted_are_refused_in_one_line(tmp_path, case, match):
    ds = _with_units(_problem(), "m s-1")
    hours = np.array([0.0, 6.0, 12.0, 18.0])

    def explicit(units, values=hours, **attrs):
        return ds.assign_coords(velocity_time=("velocity_time", values, {"units": units, **attrs}))

    bad = {
        "dates, velocity in 1": lambda: _with_units(ds, "1").assign_coords(velocity_time=DATES),
        "dates, velocity without units": lambda: _problem().assign_coords(velocity_time=DATES),
        "durations, velocity in m": lambda: _with_units(ds, "m").assign_coords(
            velocity_time=("velocity_time", hours, {"units": "hours"})
        ),
        "noleap calendar": lambda: explicit("hours since 2000-01-01", calendar="noleap"),
        "360_day calendar": lambda: explicit("hours since 2000-01-01", calendar="360_day"),
        "NaT": lambda: ds.assign_coords(velocity_time=np.where(np.arange(4) == 2, np.datetime64("NaT"), DATES)),
        "NaN date": lambda: explicit("hours since 2000-01-01", np.array([0.0, np.nan, 12.0, 18.0])),
        "Inf date": lambda: explicit("hours since 2000-01-01", np.array([0.0, 6.0, 12.0, np.inf])),
        "no unit before since": lambda: explicit("since 2000-01-01"),
        "months since": lambda: explicit("months since 2000-01-01"),
        "fortnights since": lambda: explicit("fortnights since 2000-01-01"),
        "no date": lambda: explicit("hours since "),
        "not a date": lambda: explicit("hours since yesterday"),
        "invalid date": lambda: explicit("hours since 2000-13-01"),
        "Julian dates": lambda: explicit("days since 1500-01-01"),
        "components disagree": lambda: ds.assign(x_velocity=ds["x_velocity"].assign_attrs(units="km h-1")),
        "one component without units": lambda: ds.assign(x_velocity=ds["x_velocity"].drop_attrs()),
    }[case]()
    _refused(_write(bad, tmp_path / "bad.nc"), match)


def test_julian_dates_pass_in_the_proleptic_gregorian_calendar(tmp_path):
    ds = _with_units(_problem(), "m s-1")
    ds = ds.assign_coords(
        velocity_time=("velocity_time", [0, 1, 2, 3], {"units": "days since 1500-01-01", "calendar": "julian"})
    )
    _refused(_write(ds, tmp_path / "julian.nc"), "has calendar 'julian'")
    ds["velocity_time"].attrs["calendar"] = "proleptic_gregorian"
    problem = io.read_problem(_write(ds, tmp_path / "proleptic.nc"))
    assert problem.time_reference == "1500-01-01T00:00:00" and problem.velocity_times[-1] == 3 * 86400


def _read_time(path, decode=True):
    with xr.open_dataset(path, engine="h5netcdf", decode_times=decode) as ds:
        return ds["time"].load()


def test_the_output_time_carries_the_run_unit_or_no_misleading_units(tmp_path):
    """Dates: ``UNIT since FIRST DATE`` (decoded as dates); a unit: that unit; none known: no ``units`` and a
    comment (never ``"1"``)."""
    grid = Grid((4,), (1.0,))
    states = np.zeros((3, 4), np.float32)
    meta = {"scheme": "upwind", "dt": 0.5, "courant": 0.5}
    io.write_simulation(
        tmp_path / "dates.nc", grid, states, [0, 0.5, 1], units={"time": "hours since 2000-01-01"}, **meta
    )
    time = _read_time(tmp_path / "dates.nc")
    np.testing.assert_array_equal(
        time.values, np.array(["2000-01-01T00:00", "2000-01-01T00:30", "2000-01-01T01:00"], "M8[ns]")
    )
    io.write_simulation(tmp_path / "s.nc", grid, states, [0, 0.5, 1], units={"x": "m", "time": "seconds"}, **meta)
    assert _read_time(tmp_path / "s.nc", decode=False).attrs["units"] == "seconds"
    io.write_simulation(tmp_path / "none.nc", grid, states, [0, 0.5, 1], **meta)
    attrs = _read_time(tmp_path / "none.nc", decode=False).attrs
    assert "units" not in attrs and "time unit of the input's velocity" in attrs["comment"]


def _span(times):
    grid = Grid((4,), (1.0,))
    return io.Problem(grid, np.ones(4), (np.zeros((len(times), 4)),), True, velocity_times=np.asarray(times, float))


def test_the_span_tolerance_scales_with_the_field_spacing_at_that_end():
    """A far-away first time does not widen the tolerance at the end: the last field is never held for long."""
    problem = _span([-1e12, 0.0, 1.0])
    winds.check_velocity_span(problem, 1, 1.0)  # midpoint 0.5
    with pytest.raises(UserError, match=r"velocity_time -1e\+12 to 1 but the run needs it from 0\.5 to 499\.5"):
        winds.check_velocity_span(problem, 500, 1.0)
    with pytest.raises(UserError, match="the run needs it from 0.5 to 1.5"):
        winds.check_velocity_span(problem, 2, 1.0)
    late = _span([0.5 + 1e-6, 1.0, 1e12])  # the start: its own spacing, not the far end's
    with pytest.raises(UserError, match="the run needs it from 0.5 to"):
        winds.check_velocity_span(late, 1, 1.0)


def test_the_span_tolerance_takes_the_round_off_of_the_midpoints():
    """A last midpoint on the last time but for the round-off of (n + 1/2) dt passes, also far from t = 0
    with closely spaced fields; a midpoint past it by more does not."""
    assert 3.5 * 0.1 > 0.35
    winds.check_velocity_span(_span([0.0, 0.35]), 4, 0.1)
    assert (1000002 - 0.5) * 0.1 > 100000.15  # by one unit in the last place
    winds.check_velocity_span(_span([0.0, 100000.15 - 1e-6, 100000.15]), 1000002, 0.1)
    with pytest.raises(UserError):
        winds.check_velocity_span(_span([0.0, 0.35 - 1e-9]), 4, 0.1)
