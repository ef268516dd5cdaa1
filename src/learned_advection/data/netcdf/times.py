"""Times and their units: the time unit of a run, from the velocity's ``units`` attribute, and the
``velocity_time`` coordinate in it (:func:`velocity_time_unit`, :func:`run_times`).

A run's time unit is the time part of the velocity's units (``m s-1``, ``km/h``, ``m day-1``: seconds,
hours, days).  ``velocity_time`` may hold plain numbers (no ``units``, or units that are not a time:
numbers in the run's time unit), durations from t = 0 (CF units such as ``hours``, what xarray writes
for ``timedelta64``) or dates (CF units ``UNIT since REFERENCE``, what xarray writes for
``datetime64``): the run's t = 0 is then the first of them.  Durations and dates are converted to the
run's time unit by exact integer ratios (dates: differences from the first taken in integers when
stored as integers), with float64 round-off only, never read as raw numbers in whatever unit the file
happens to use.
"""

from __future__ import annotations

import datetime
import re
from fractions import Fraction

import numpy as np

from learned_advection.errors import UserError

# The time units of a run, by their udunits names, in seconds.
RUN_TIME_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}

# Spellings of the run's time units in a velocity's units (``m s-1``, ``m/hr``, ``m day-1``).
_VELOCITY_TIME_WORDS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), "seconds"),
    **dict.fromkeys(("min", "mins", "minute", "minutes"), "minutes"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "hours"),
    **dict.fromkeys(("d", "day", "days"), "days"),
}

# Spellings of the units of ``velocity_time`` (CF durations), in nanoseconds (exact integers).
_NS = {
    "nanoseconds": 1,
    "microseconds": 10**3,
    "milliseconds": 10**6,
    **{k: v * 10**9 for k, v in RUN_TIME_UNITS.items()},
}
_DURATION_WORDS = {
    **dict.fromkeys(("ns", "nsec", "nsecs", "nanosecond", "nanoseconds"), "nanoseconds"),
    **dict.fromkeys(("us", "usec", "usecs", "microsecond", "microseconds"), "microseconds"),
    **dict.fromkeys(("ms", "msec", "msecs", "millisecond", "milliseconds"), "milliseconds"),
    **_VELOCITY_TIME_WORDS,
}
# Units CF knows but a run cannot take exactly (their length varies, or differs between calendars).
_UNSUPPORTED_WORDS = ("month", "months", "year", "years", "yr", "common_year", "common_years", "week", "weeks")

CALENDARS = ("standard", "gregorian", "proleptic_gregorian")
# The first day of the Gregorian calendar: the ``standard`` calendar is Julian before it.
_GREGORIAN_START = datetime.datetime(1582, 10, 15)

_SINCE = re.compile(r"\s*(\S+)\s+since(?:\s+(.*?))?\s*", re.IGNORECASE)
_REFERENCE = re.compile(
    r"(?P<year>[+-]?\d{1,4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
    r"(?:[ T](?P<hour>\d{1,2}):(?P<minute>\d{1,2})(?::(?P<second>\d{1,2})(?:\.(?P<fraction>\d*))?)?)?"
    r"\s*(?P<zone>Z|UTC|[+-]\d{1,2}(?::?\d{2})?)?",
    re.IGNORECASE,
)
_INVERSE = re.compile(r"([^\W\d_]+)(?:\^|\*\*)?-1")


def velocity_time_unit(units) -> tuple[str, str] | None:
    """The time part of a velocity's units, and the rest.

    Recognised: ``L T-1`` (also ``T^-1``, ``T**-1``, factors separated by spaces, ``.`` or ``*``),
    ``L/T`` and ``L per T``, with ``T`` one of s, sec, second(s), min, minute(s), h, hr, hour(s), d,
    day(s) (any case).

    Parameters
    ----------
    units : str or None
        The ``units`` attribute of a velocity (``None``: it has none).

    Returns
    -------
    tuple of str or None
        ``(length, time)``: the rest of the units, normalised (``"m"``, ``"km"``), and the time unit
        (``"seconds"``, ``"minutes"``, ``"hours"`` or ``"days"``); ``None`` when the units name no
        time unit (``"1"``, ``"m"``, none).
    """
    if not isinstance(units, str):
        return None
    text = units.strip()
    per = re.fullmatch(r"(.+?)\s*/\s*(\S+)|(.+?)\s+per\s+(\S+)", text, re.IGNORECASE)
    if per:
        length, word = (per.group(1), per.group(2)) if per.group(1) is not None else (per.group(3), per.group(4))
        unit = _VELOCITY_TIME_WORDS.get(word.lower())
        return None if unit is None or "/" in length else (" ".join(length.split()), unit)
    factors = [f for f in re.split(r"\s+|\.|(?<!\*)\*(?!\*)", text) if f]
    found = []
    for i, factor in enumerate(factors):
        inverse = _INVERSE.fullmatch(factor)
        if inverse and inverse.group(1).lower() in _VELOCITY_TIME_WORDS:
            found.append((i, _VELOCITY_TIME_WORDS[inverse.group(1).lower()]))
    if len(found) != 1:
        return None
    (i, unit), *_ = found
    return " ".join(factors[:i] + factors[i + 1 :]), unit


def _reference(text: str, units: str, name: str, path) -> datetime.datetime:
    """The reference date of CF time units (``since`` ...), as a naive UTC datetime."""
    match = _REFERENCE.fullmatch(text)
    if not match:
        raise UserError(
            f"{path}: {name!r} has units {units!r}: cannot read the date {text!r} (expected e.g. "
            "'hours since 2000-01-01 00:00:00')"
        )
    parts = {k: int(v) if v and k not in ("fraction", "zone") else v for k, v in match.groupdict().items()}
    micro = int(round(float("0." + parts["fraction"]) * 1e6)) if parts["fraction"] else 0
    try:
        date = datetime.datetime(
            parts["year"], parts["month"], parts["day"], parts["hour"] or 0, parts["minute"] or 0, parts["second"] or 0
        ) + datetime.timedelta(microseconds=micro)
        zone = parts["zone"]
        if zone and zone.upper() not in ("Z", "UTC"):
            sign = -1 if zone[0] == "-" else 1
            hours, _, minutes = zone[1:].partition(":")
            if not minutes and len(hours) > 2:
                hours, minutes = hours[:-2], hours[-2:]
            date -= sign * datetime.timedelta(hours=int(hours), minutes=int(minutes or 0))
    except (ValueError, OverflowError):
        raise UserError(
            f"{path}: {name!r} has units {units!r}: the date {text!r} is not a valid date between years 1 and 9999"
        ) from None
    return date


def _missing(values: np.ndarray) -> np.ndarray:
    """Where ``values`` hold a missing or infinite time: NaN, Inf, or the integer xarray writes for NaT."""
    if np.issubdtype(values.dtype, np.floating):
        return ~np.isfinite(values)
    return values == np.iinfo(np.int64).min if values.dtype == np.int64 else np.zeros(values.shape, bool)


def _scaled(values, num: int, den: int) -> np.ndarray:
    """``values * num / den`` in float64 with one rounding where ``values * num`` is exact."""
    return np.asarray(values, np.float64) * float(num) / float(den)


def run_times(values: np.ndarray, attrs, run_unit: str | None, name: str, path) -> tuple[np.ndarray, str | None]:
    """The times of ``velocity_time`` in the run's time unit, from t = 0, and the date of t = 0.

    Parameters
    ----------
    values : numpy.ndarray
        The coordinate's values as stored (not decoded): real numbers.
    attrs : mapping
        Its attributes (``units``, ``calendar``).
    run_unit : str or None
        The run's time unit (:func:`velocity_time_unit` of the velocity), if known.
    name : str
        The coordinate's name, for the messages.
    path : path
        The file, for the messages.

    Returns
    -------
    times : numpy.ndarray
        float64: plain numbers as they are; durations converted to ``run_unit``; dates as durations
        from the first of them, converted to ``run_unit``.
    reference : str or None
        The first date (ISO 8601, UTC) when the times are dates.

    Raises
    ------
    UserError
        Durations or dates without a run time unit, a missing time (NaN or NaT), units or a calendar
        that cannot be converted exactly, in one line.
    """
    units = attrs.get("units")
    if isinstance(units, bytes):
        units = units.decode("utf-8", "replace")
    units = units.strip() if isinstance(units, str) else None
    since = _SINCE.fullmatch(units) if units else None
    if units and not since and re.search(r"\bsince\b", units, re.IGNORECASE):
        raise UserError(f"{path}: {name!r} has units {units!r}; expected e.g. 'hours since 2000-01-01 00:00:00'")
    word = (since.group(1) if since else units or "").lower()
    if word in _UNSUPPORTED_WORDS:
        raise UserError(
            f"{path}: {name!r} has units {units!r}: months, years and weeks have no fixed length; "
            "use seconds, minutes, hours or days"
        )
    if word not in _DURATION_WORDS:
        if since:
            raise UserError(
                f"{path}: {name!r} has units {units!r}: the unit {since.group(1)!r} is not one of seconds, "
                "minutes, hours or days"
            )
        return np.asarray(values, np.float64), None  # plain numbers: in the run's time unit
    what = "dates" if since else "durations"
    if run_unit is None:
        raise UserError(
            f"{path}: {name!r} holds {what} (units {units!r}) but the velocity's units name no time unit to "
            "run in; add a units attribute like 'm s-1' to the velocity"
        )
    if np.any(_missing(values)):
        raise UserError(f"{path}: {name!r} contains a missing time (NaN or NaT) or an infinite one")
    ratio = Fraction(_NS[_DURATION_WORDS[word]], _NS[run_unit])
    if not since:
        return _scaled(values, ratio.numerator, ratio.denominator), None
    calendar = attrs.get("calendar", "standard")
    if isinstance(calendar, bytes):
        calendar = calendar.decode("utf-8", "replace")
    if str(calendar).strip().lower() not in CALENDARS:
        raise UserError(
            f"{path}: {name!r} has calendar {calendar!r}; only 'standard', 'gregorian' and "
            "'proleptic_gregorian' dates are supported"
        )
    reference = _reference(since.group(2) or "", units, name, path)
    first = values[0]
    if np.issubdtype(values.dtype, np.integer):
        offsets = np.array([int(v) - int(first) for v in values.tolist()], dtype=object)
        offsets = np.array([float(v) for v in offsets], np.float64) if max(map(abs, offsets)) < 2**53 else None
    else:
        offsets = values.astype(np.float64) - float(first)
    if offsets is None:
        raise UserError(f"{path}: {name!r} spans more {word} than float64 holds exactly")
    try:
        micro = Fraction(first.item()) * _NS[_DURATION_WORDS[word]] / 1000
        start = reference + datetime.timedelta(microseconds=round(micro))
    except (OverflowError, ValueError):
        raise UserError(f"{path}: {name!r} starts at a date outside years 1 to 9999") from None
    if str(calendar).strip().lower() != "proleptic_gregorian" and min(reference, start) < _GREGORIAN_START:
        raise UserError(
            f"{path}: {name!r} has dates before 1582-10-15 in the {calendar!r} calendar (Julian before then); "
            "give calendar 'proleptic_gregorian' or later dates"
        )
    return _scaled(offsets, ratio.numerator, ratio.denominator), start.isoformat()


def output_time_units(unit: str | None, reference: str | None) -> str | None:
    """The CF ``units`` of a trajectory's ``time``: ``"UNIT since DATE"`` for a run from a date, else ``UNIT``.

    Parameters
    ----------
    unit : str or None
        The run's time unit.
    reference : str or None
        The date of t = 0 (ISO 8601), if the run's times are dates.

    Returns
    -------
    str or None
        ``None`` when no time unit is known.
    """
    if unit is None:
        return None
    return f"{unit} since {reference}" if reference is not None else unit


def coordinate_times(
    ds, dim: str, n: int, run_unit: str | None, path, what: str, who: str
) -> tuple[np.ndarray, str | None]:
    """The coordinate ``dim`` (``velocity_time``, ``boundary_time``, ``source_time``) in the run's time unit
    (plain numbers, durations or dates, :func:`run_times`) and the date of its first value for dates (else
    ``None``), checked: present with dims ``(dim,)``, real, at least two, finite, strictly increasing.
    ``what``: what its values are the times of, ``who``: what needs them, for the messages (``"the velocity
    fields"``, ``"the velocity"``)."""
    if dim not in ds.variables:
        raise UserError(f"{path}: missing coordinate {dim!r} (the physical times of {what})")
    coord = ds[dim]
    if coord.dims != (dim,):
        raise UserError(f"{path}: coordinate {dim!r} must have dims ({dim},), got {coord.dims}")
    values = np.asarray(coord.values)
    if not (np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.floating)):
        raise UserError(f"{path}: coordinate {dim!r} must be real numbers, got dtype {values.dtype}")
    if values.shape != (n,) or n < 2:
        raise UserError(f"{path}: {who} needs at least two times to interpolate between, got {values.size}")
    t, first = run_times(values, coord.attrs, run_unit, dim, path)
    if not np.all(np.isfinite(t)):
        raise UserError(f"{path}: coordinate {dim!r} contains NaN or Inf")
    with np.errstate(over="ignore", invalid="ignore"):
        steps = np.diff(t)
    if not np.all(steps > 0) or not np.all(np.isfinite(steps)):
        raise UserError(f"{path}: coordinate {dim!r} must be strictly increasing (with finite differences)")
    return t, first
