"""Report periods: which months a report covers, in which time zone, and which of them
is still running.

A period is a run of whole months in a time zone (the account's, from ``/account``, or
``tz=``). Without ``start``/``end`` it is the last 12 *complete* months: on 6 December,
December to date is not a month to compare with the others. When a period does include
the current month (``end`` given as that month), that month is "to date": reports label it
so and leave it out of month-over-month and peak comparisons.

Example::

    p = resolve_period(None, None, tz="Australia/Melbourne",
                       now=pd.Timestamp("2026-12-06T10:00Z"))
    p.label                 # '2025-12 to 2026-11 (12 months)'
    p.window                # UTC instants: 2025-11-30 13:00 .. 2026-11-30 13:00
    resolve_period("2026-01", "2026-12", now=pd.Timestamp("2026-12-06T10:00Z")).to_date
    # Timestamp('2026-12-01 00:00:00+0000', tz='UTC')
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass

import pandas as pd

from csframe import timeutil
from csframe.reports.model import OptionError, month_label, period_label

UTC = "UTC"
DEFAULT_MONTHS = 12


def check_tz(tz) -> str:
    """``tz`` as a valid IANA zone name; OptionError naming the argument otherwise.

    Example::

        >>> check_tz("Australia/Melbourne")
        'Australia/Melbourne'
    """
    name = str(tz).strip() if tz is not None else ""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise OptionError(
            f"tz must be an IANA time zone such as 'Australia/Melbourne' or 'UTC'; got {tz!r}"
        ) from None
    return name


def account_tz(account: dict | None) -> str:
    """The time zone of an ``/account`` record (``timezone``), UTC when missing or unknown.

    Example::

        >>> account_tz({"timezone": "Australia/Melbourne"})
        'Australia/Melbourne'
        >>> account_tz({})
        'UTC'
    """
    name = (account or {}).get("timezone")
    try:
        return check_tz(name) if name else UTC
    except OptionError:
        return UTC


def parse_month(value, name: str, tz: str = UTC) -> pd.Timestamp:
    """The first instant of a month ('YYYY-MM', a date or a Timestamp) in ``tz``.
    ValueError naming the argument for anything else.

    Example::

        >>> parse_month("2026-03", "start", "Australia/Melbourne")
        Timestamp('2026-03-01 00:00:00+1100', tz='Australia/Melbourne')
    """
    if isinstance(value, pd.Timestamp) and value.tzinfo is not None:
        local = value.tz_convert(tz)
    else:
        local = timeutil.parse_month(value, name).tz_localize(None)
    return month_start(local.year, local.month, tz)


def month_start(year: int, month: int, tz: str = UTC) -> pd.Timestamp:
    """Local midnight of the 1st of a month in ``tz`` (DST-safe).

    Example::

        >>> month_start(2026, 3, "UTC")
        Timestamp('2026-03-01 00:00:00+0000', tz='UTC')
    """
    naive = pd.Timestamp(year=year, month=month, day=1)
    return naive.tz_localize(tz, ambiguous=False, nonexistent="shift_forward")


@dataclass(frozen=True)
class Period:
    """Months ``first``..``last`` (inclusive, local month starts in ``tz``) as seen at
    ``now`` (UTC).

    Example::

        p = resolve_period("2026-01", "2026-12", now=pd.Timestamp("2026-12-06T10:00Z"))
        p.to_date, p.complete_months[-1]   # the running month, the last complete one
    """

    first: pd.Timestamp
    last: pd.Timestamp
    tz: str
    now: pd.Timestamp

    @property
    def months(self) -> pd.DatetimeIndex:
        """Every month start of the period (tz-aware, in ``tz``)."""
        return month_starts(self.first, self.last, self.tz)

    @property
    def start(self) -> pd.Timestamp:
        """The first instant of the period (UTC)."""
        return self.first.tz_convert(UTC)

    @property
    def end(self) -> pd.Timestamp:
        """The instant after the period (UTC): the start of the month after ``last``."""
        return next_month(self.last, self.tz).tz_convert(UTC)

    @property
    def window(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """``(start, end)``: the half-open instant window of the period, in UTC."""
        return self.start, self.end

    @property
    def current(self) -> pd.Timestamp:
        """The month running at ``now`` (a local month start)."""
        local = self.now.tz_convert(self.tz)
        return month_start(local.year, local.month, self.tz)

    def is_complete(self, month: pd.Timestamp) -> bool:
        """Whether ``month`` had ended at ``now``."""
        return next_month(month, self.tz) <= self.now

    @property
    def to_date(self) -> pd.Timestamp | None:
        """The month of the period still running at ``now`` (None when all are complete)."""
        return None if self.is_complete(self.last) else max(self.current, self.first)

    @property
    def complete_months(self) -> pd.DatetimeIndex:
        """The months of the period that had ended at ``now``."""
        months = self.months
        return months[[self.is_complete(m) for m in months]]

    @property
    def elapsed(self) -> float | None:
        """The share of the to-date month elapsed at ``now`` (for run-rate projections),
        or None when there is no to-date month.

        Example::

            p.elapsed   # 0.177 on 6 December at 10:00 in UTC (5.4 of 31 days)
        """
        month = self.to_date
        if month is None:
            return None
        total = (next_month(month, self.tz) - month).total_seconds()
        done = (self.now - month).total_seconds()
        return min(max(done / total, 0.0), 1.0)

    @property
    def label(self) -> str:
        """``'2026-01 to 2026-12 (12 months, 2026-12 to date)'``."""
        return period_label(self.first, self.last, self.to_date)

    def month_label(self, month) -> str:
        """``'2026-11'``, or ``'2026-12 (to date)'`` for the running month."""
        return month_label(month, self.to_date)


def next_month(month: pd.Timestamp, tz: str = UTC) -> pd.Timestamp:
    """The start of the month after ``month`` (local, in ``tz``)."""
    local = month.tz_convert(tz) if month.tzinfo is not None else month
    y, m = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return month_start(y, m, tz)


def month_starts(first: pd.Timestamp, last: pd.Timestamp, tz: str = UTC) -> pd.DatetimeIndex:
    """Local month starts from ``first`` to ``last`` inclusive (``datetime64[s, tz]``)."""
    n = (last.year - first.year) * 12 + last.month - first.month + 1
    naive = pd.date_range(
        pd.Timestamp(year=first.year, month=first.month, day=1), periods=n, freq="MS"
    )
    return naive.tz_localize(tz, ambiguous=False, nonexistent="shift_forward").as_unit("s")


def resolve_period(start=None, end=None, *, tz: str = UTC, now=None) -> Period:
    """The :class:`Period` for ``start``..``end`` (months, inclusive) in ``tz`` at ``now``
    (default: :func:`csframe.timeutil.now_utc`).

    Defaults: neither = the 12 complete months before the current one; only ``start`` =
    from ``start`` to the last complete month (to the current month if ``start`` is it);
    only ``end`` = the 12 months up to ``end``. ValueError for a bad month or ``start``
    after ``end``.

    Example::

        >>> p = resolve_period(now=pd.Timestamp("2026-12-06T10:00Z"))
        >>> p.label
        '2025-12 to 2026-11 (12 months)'
    """
    tz = check_tz(tz)
    now = pd.Timestamp(now) if now is not None else timeutil.now_utc()
    now = now.tz_localize(UTC) if now.tzinfo is None else now.tz_convert(UTC)
    now = now.floor("us")  # a datetime's precision: reports hand it on as generated_at
    local = now.tz_convert(tz)
    current = month_start(local.year, local.month, tz)
    last_complete = _shift(current, -1, tz)
    last = parse_month(end, "end", tz) if end is not None else None
    first = parse_month(start, "start", tz) if start is not None else None
    if last is None:
        last = last_complete if first is None or first <= last_complete else current
    if first is None:
        first = _shift(last, -(DEFAULT_MONTHS - 1), tz)
    if first > last:
        raise ValueError(
            f"start ({first:%Y-%m}) is after end ({last:%Y-%m}); start must not be after end"
        )
    return Period(first, last, tz, now)


def _shift(month: pd.Timestamp, months: int, tz: str) -> pd.Timestamp:
    k = month.year * 12 + month.month - 1 + months
    return month_start(k // 12, k % 12 + 1, tz)


def floor_local(dates: pd.Series, unit: str, tz: str = UTC) -> pd.Series:
    """Month (``unit="M"``) or day (``"D"``) starts of ``dates`` in ``tz``, tz-aware in
    ``tz`` (``datetime64[s, tz]``). A message at 23:30 UTC on 31 March is in April in
    Melbourne.

    Example::

        >>> s = pd.Series(pd.to_datetime(["2026-03-31T23:30Z"]))
        >>> str(floor_local(s, "M", "Australia/Melbourne")[0])
        '2026-04-01 00:00:00+11:00'
    """
    if isinstance(dates.dtype, pd.DatetimeTZDtype):
        local = dates.dt.tz_convert(tz).dt.tz_localize(None)
    else:
        local = pd.to_datetime(dates, utc=True).dt.tz_convert(tz).dt.tz_localize(None)
    floored = local.to_numpy(dtype="datetime64[s]").astype(f"datetime64[{unit}]")
    # A year of messages has a few hundred distinct days: localise each one once, not
    # every row (tz_localize resolves DST per value).
    codes, uniques = pd.factorize(floored, use_na_sentinel=True)
    index = pd.DatetimeIndex(uniques.astype("datetime64[s]"))
    starts = index.tz_localize(tz, ambiguous=False, nonexistent="shift_forward").as_unit("s")
    out = starts.take(codes, allow_fill=True, fill_value=pd.NaT)
    return pd.Series(out, index=dates.index)


def as_local(values, tz: str = UTC):
    """Timestamps (Series or Index) as ``datetime64[s, tz]``."""
    if isinstance(values, pd.Series):
        return pd.to_datetime(values, utc=True).dt.tz_convert(tz).astype(f"datetime64[s, {tz}]")
    return pd.DatetimeIndex(values).tz_convert(tz).as_unit("s")


__all__ = [
    "Period",
    "account_tz",
    "as_local",
    "check_tz",
    "floor_local",
    "month_label",
    "month_start",
    "month_starts",
    "next_month",
    "parse_month",
    "period",
    "period_label",
    "resolve_period",
]


def period(start=None, end=None, *, tz: str = UTC, now=None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last month of :func:`resolve_period` (local month starts in ``tz``).

    Example::

        >>> period("2026-01", "2026-10")[1]
        Timestamp('2026-10-01 00:00:00+0000', tz='UTC')
    """
    p = resolve_period(start, end, tz=tz, now=now)
    return p.first, p.last
