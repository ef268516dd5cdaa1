"""Reading a regional problem (docs/netcdf.md, "Regional domains"): the boundary attributes, faces along
non-periodic axes, boundary values and sources, each checked; none of them taken for a tracer."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import example, given, settings
from hypothesis import strategies as st

from learned_advection.data import netcdf as io
from learned_advection.errors import UserError

N, M = 8, 4
X, Y = (np.arange(N) + 0.5) / N, (np.arange(M) + 0.5) / M


def _write(path, attrs=None, coords=None, **variables):
    data = {
        "concentration": (("y", "x"), np.zeros((M, N))),
        "x_velocity": (("y", "x_face"), np.ones((M, N + 1))),
        "y_velocity": (("y_face", "x"), np.zeros((M + 1, N))),
        "concentration_x_low": ((), 1.0),
        "concentration_x_high": ((), 0.0),
    }
    data.update({k: v for k, v in variables.items() if v is not None})
    for k in [k for k, v in variables.items() if v is None]:
        data.pop(k)
    ds = xr.Dataset(data, coords={"x": X, "y": Y, **(coords or {})})
    ds.attrs.update({"x_boundary": "open", "y_boundary": "wall", **(attrs or {})})
    ds.to_netcdf(path, engine="h5netcdf")
    return path


def test_a_channel_reads_with_its_sides_and_values(tmp_path):
    problem = io.read_problem(_write(tmp_path / "c.nc"))
    assert problem.regional and not problem.periodic
    assert problem.boundaries == (("wall", "wall"), ("open", "open"))
    assert sorted(problem.boundary_values) == [(1, 0), (1, 1)]
    assert problem.tracer_names == ["concentration"]  # the boundary values are not tracers
    np.testing.assert_array_equal(problem.boundary_values[(1, 0)].values, np.ones((1, M)))
    assert [u.shape for u in problem.velocity] == [(M + 1, N), (M, N + 1)]


WORDS = st.sampled_from(["wall", "open", "periodic", "closed", "Wall", "", "open,", "inflow"])


@settings(max_examples=40, deadline=None)
@given(st.lists(WORDS, min_size=0, max_size=3).map(" ".join))
@example("wall open")
@example("open")
@example("periodic")
@example("closed")
def test_the_x_boundary_attribute_is_a_side_kind_or_refused_in_one_line(tmp_path_factory, text):
    """Every text is either the grammar (``periodic`` | SIDE | SIDE SIDE, SIDE in wall/open) read as such,
    or refused in one line naming the attribute."""
    path = tmp_path_factory.mktemp("attr") / "c.nc"
    words = text.split()
    valid = words == ["periodic"] or (len(words) in (1, 2) and all(w in ("wall", "open") for w in words))
    sides = dict(zip(("low", "high"), (words[0], words[-1]))) if valid and words != ["periodic"] else {}
    # a value for every open side, so that only the attribute decides
    ds = xr.Dataset(
        {
            "concentration": ("x", np.zeros(N)),
            "x_velocity": ("x_face" if words != ["periodic"] else "x", np.zeros(N + (words != ["periodic"]))),
            **{f"concentration_x_{s}": ((), 0.0) for s, kind in sides.items() if kind == "open"},
        },
        coords={"x": X},
        attrs={"x_boundary": text},
    )
    ds.to_netcdf(path, engine="h5netcdf")
    if not valid:
        with pytest.raises(UserError, match="global attribute 'x_boundary' is") as e:
            io.read_problem(path)
        assert "\n" not in str(e.value)
        return
    problem = io.read_problem(path)
    if words == ["periodic"]:
        assert problem.periodic
    else:
        assert problem.boundaries == ((words[0], words[-1]),)


def test_a_face_coordinate_off_the_faces_is_refused(tmp_path):
    io.read_problem(_write(tmp_path / "ok.nc", coords={"x_face": np.arange(N + 1) / N}))
    with pytest.raises(UserError, match="coordinate 'x_face' is not at the cell faces"):
        io.read_problem(_write(tmp_path / "bad.nc", coords={"x_face": (np.arange(N + 1) + 0.5) / N}))


def test_a_profile_and_times_are_stacked_per_tracer(tmp_path):
    times = [0.0, 1.0, 3.0]
    path = _write(
        tmp_path / "t.nc",
        coords={"boundary_time": times},
        concentration_x_low=(("boundary_time", "y"), np.arange(3 * M, dtype=float).reshape(3, M)),
    )
    problem = io.read_problem(path)
    low, high = problem.boundary_values[(1, 0)], problem.boundary_values[(1, 1)]
    np.testing.assert_array_equal(low.times, times)
    assert low.values.shape == (1, 3, M) and high.values.shape == (1, M) and high.times is None


def test_a_source_reads_with_its_units_and_is_not_a_tracer(tmp_path):
    rate = np.arange(M * N, dtype=float).reshape(M, N)
    path = _write(tmp_path / "s.nc", concentration_source=(("y", "x"), rate, {"units": "kg m-2 s-1"}))
    problem = io.read_problem(path)
    assert problem.tracer_names == ["concentration"]
    np.testing.assert_array_equal(problem.sources.rates, rate[None])
    assert problem.sources.units == ("kg m-2 s-1",)


def test_a_periodic_file_with_a_source_is_regional_but_periodic(tmp_path):
    ds = xr.Dataset(
        {
            "concentration": ("x", np.zeros(N)),
            "x_velocity": ("x", np.ones(N)),
            "concentration_source": ("x", np.ones(N)),
        },
        coords={"x": X},
    )
    ds.to_netcdf(tmp_path / "p.nc", engine="h5netcdf")
    problem = io.read_problem(tmp_path / "p.nc")
    assert problem.periodic and problem.regional and problem.tracer_names == ["concentration"]


@pytest.mark.parametrize(
    "variables, attrs, match",
    [
        (
            {"concentration_y_low": ((), 1.0)},
            {},
            "variable 'concentration_y_low' gives a boundary value, but the low y side is a wall",
        ),
        ({}, {"y_boundary": "periodic"}, "'y_velocity' has dim 'y_face' (n + 1 faces) but the y axis is periodic"),
        ({"concentration_x_high": None}, {}, "missing variable 'concentration_x_high'"),
        ({"concentration_source": (("y",), np.ones(M))}, {}, "variable 'concentration_source' has dims (y)"),
        (
            {"x_velocity": (("y", "x_face"), np.ones((M, N + 2)))},
            {},
            "'x_velocity' has shape (4, 10) along (y, x_face), need (4, 9)",
        ),
        ({"x_velocity": (("y_face", "x_face"), np.ones((M + 1, N + 1)))}, {}, "only the y velocity has faces along y"),
    ],
)
def test_bad_regional_inputs_are_refused_in_one_line(tmp_path, variables, attrs, match):
    with pytest.raises(UserError) as e:
        io.read_problem(_write(tmp_path / "bad.nc", attrs=attrs, **variables))
    assert match in str(e.value) and "\n" not in str(e.value)


def test_boundary_dates_count_from_the_first_velocity_date(tmp_path):
    """Boundary values at dates: t = 0 is the velocity's first date (not the boundary's)."""
    path = tmp_path / "d.nc"
    ds = xr.Dataset(
        {
            "concentration": ("x", np.zeros(N)),
            "x_velocity": (("velocity_time", "x_face"), np.ones((2, N + 1)), {"units": "m s-1"}),
            "concentration_x_low": ("boundary_time", [0.0, 1.0]),
            "concentration_x_high": ((), 0.0),
        },
        coords={"x": X},
        attrs={"x_boundary": "open"},
    )
    ds["velocity_time"] = ("velocity_time", [0, 6], {"units": "hours since 2000-01-01"})
    ds["boundary_time"] = ("boundary_time", [1, 2], {"units": "hours since 2000-01-01"})
    ds.to_netcdf(path, engine="h5netcdf")
    problem = io.read_problem(path)
    np.testing.assert_array_equal(problem.boundary_values[(0, 0)].times, [3600.0, 7200.0])
