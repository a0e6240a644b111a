"""Parsing the dates, datetimes and months that loaders accept.

Naive datetimes and date strings mean UTC, unless a time zone is given for dates
without a time (``parse_instant(..., tz=...)``; ``cs.history(..., tz="account")`` passes
the account's); aware ones are converted to UTC.

Example::

    >>> parse_instant("2026-01-01", "start")
    Timestamp('2026-01-01 00:00:00+0000', tz='UTC')
    >>> parse_month("2026-10", "end")
    Timestamp('2026-10-01 00:00:00+0000', tz='UTC')
"""

from __future__ import annotations

import datetime as dt
from typing import TypeAlias

import pandas as pd

#: What a ``start``/``end`` argument accepts: a date or datetime (naive means UTC), a pandas
#: Timestamp, or an ISO string such as ``"2026-01-31"``.
Instant: TypeAlias = "str | dt.date | dt.datetime | pd.Timestamp"

_ACCEPTED = "a date or datetime, a pandas Timestamp, or an ISO string such as '2026-01-31'"


def is_date_only(value: object) -> bool:
    """Whether ``value`` is a date without a time of day: a ``datetime.date`` (not a
    datetime) or a string ``'YYYY-MM-DD'`` / ``'YYYY-MM'``.

    Example::

        >>> is_date_only("2026-03-01"), is_date_only("2026-03-01T00:00"), is_date_only(dt.date(2026, 3, 1))
        (True, False, True)
    """
    if isinstance(value, dt.datetime | pd.Timestamp):
        return False
    if isinstance(value, dt.date):
        return True
    if isinstance(value, str):
        text = value.strip()
        return len(text) in (7, 10) and text[:4].isdigit() and text[4:5] == "-"
    return False


def parse_instant(value: object, name: str, tz: str | None = None) -> pd.Timestamp:
    """A UTC Timestamp from ``value``; raises ValueError naming the argument ``name``.
    ``tz``: the zone a date without a time is midnight in (default: UTC).

    Example::

        >>> parse_instant("2026-03-01", "start", tz="Australia/Melbourne")
        Timestamp('2026-02-28 13:00:00+0000', tz='UTC')
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{name} must be {_ACCEPTED}, got {value!r}")
    if isinstance(value, int | float):
        raise ValueError(
            f"{name} must be {_ACCEPTED}, got the number {value!r} "
            "(pass pd.Timestamp(value, unit='s', tz='UTC') for Unix seconds)"
        )
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} must be {_ACCEPTED}, got {value!r} ({exc})") from None
    if ts is pd.NaT:
        raise ValueError(f"{name} must be {_ACCEPTED}, got {value!r}")
    if tz is not None and ts.tzinfo is None and is_date_only(value):
        return ts.tz_localize(tz, ambiguous=False, nonexistent="shift_forward").tz_convert("UTC")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def parse_month(value: object, name: str) -> pd.Timestamp:
    """The first instant (UTC) of the month given as 'YYYY-MM', a date or a Timestamp."""
    if isinstance(value, str) and len(value.strip()) == 7:
        value = value.strip() + "-01"
    ts = parse_instant(value, name)
    return pd.Timestamp(year=ts.year, month=ts.month, day=1, tz="UTC")


def month_range(
    start: Instant | None, end: Instant | None, *, default_months: int = 12
) -> list[pd.Timestamp]:
    """Months from ``start`` to ``end`` inclusive; defaults to the ``default_months`` months
    up to and including the current one."""
    now = now_utc()
    end_m = parse_month(end, "end") if end is not None else parse_month(now, "end")
    if start is not None:
        start_m = parse_month(start, "start")
    else:
        start_m = end_m - pd.DateOffset(months=default_months - 1)
    if start_m > end_m:
        raise ValueError(
            f"start ({start_m:%Y-%m}) is after end ({end_m:%Y-%m}); start must not be after end"
        )
    return list(pd.date_range(start_m, end_m, freq="MS"))


def now_utc() -> pd.Timestamp:
    """The current instant in UTC.

    Every "now" in csframe's loaders, windows and syncs comes from here (called as
    ``timeutil.now_utc()``), so a test can move the whole client to another day with one
    ``monkeypatch.setattr(timeutil, "now_utc", ...)``.
    """
    return pd.Timestamp(dt.datetime.now(dt.UTC))
