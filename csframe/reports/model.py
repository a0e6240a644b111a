"""The data model of a report, below every renderer: presentation kinds, who a report is
for (:class:`AccountInfo`), what it covers (:class:`ReportMeta`), how its tables and charts
are shown (:class:`TableSpec`, :class:`ChartSpec`, :class:`Highlight`) and how values read
as text. Nothing here imports another report module.

Example::

    meta = ReportMeta("usage-cost", "Usage and cost", pd.Timestamp("2026-01-01", tz="UTC"),
                      pd.Timestamp("2026-10-01", tz="UTC"))
    format_value(1234.5, "money", meta)
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import pandas as pd

from csframe import timeutil

if TYPE_CHECKING:  # for annotations only
    from csframe.timeutil import Instant

#: Amounts the API sends have at most 6 decimals; sums are rounded to that.
MONEY_DECIMALS = 6


def round_money(values):
    """Sums of amounts rounded to :data:`MONEY_DECIMALS`: drops float noise
    (59.33600000000001), so a copied cell or a CSV reads as the API does.

    Example::

        >>> round_money(pd.Series([0.1 + 0.2])).tolist()
        [0.3]
    """
    return values.astype("float64").round(MONEY_DECIMALS)


def ratio(part: pd.Series, base: pd.Series) -> pd.Series:
    """``part / base`` as float64, NaN where ``base`` is 0.

    Example::

        >>> ratio(pd.Series([1, 1]), pd.Series([4, 0])).tolist()
        [0.25, nan]
    """
    base = base.astype("float64")
    return (part.astype("float64") / base.where(base != 0)).astype("float64")


#: How a column (or a summary value) is shown: the Excel number format and the text form.
class OptionError(ValueError):
    """A report option that cannot be used (a negative budget, an unknown ``by``
    dimension, ...). The CLI exits with code 2 on it.

    Example::

        raise OptionError("budget for 'marketing' must be a finite amount >= 0")
    """


#: ``price`` is money per unit (per message), shown with 4 decimals: $0.0929, not $0.09.
Kind = Literal[
    "money", "price", "int", "id", "float", "percent", "month", "date", "datetime", "text"
]

# Symbols for the currencies ClickSend bills in, used when the account does not say.
_SYMBOLS = {
    "AUD": "$",
    "USD": "$",
    "NZD": "$",
    "CAD": "$",
    "SGD": "$",
    "HKD": "$",
    "GBP": "£",
    "EUR": "€",
    "JPY": "¥",
    "INR": "₹",
    "ZAR": "R",
}


@dataclass(frozen=True)
class AccountInfo:
    """Who a report is for. Only display fields: never the account record itself, which
    carries the subaccount's API key.

    Example::

        AccountInfo(name="ACME Pty Ltd", username="acme", currency="AUD", symbol="$")
    """

    name: str = ""
    username: str = ""
    currency: str | None = None
    symbol: str | None = None
    #: The account's time zone (``/account`` ``timezone``), an IANA name.
    timezone: str | None = None

    @property
    def label(self) -> str:
        """``"ACME Pty Ltd (acme)"``, or whichever part is known."""
        if self.name and self.username and self.name != self.username:
            return f"{self.name} ({self.username})"
        return self.name or self.username


def account_info(client) -> AccountInfo:
    """The display fields of ``client.account()`` (name, username, currency, symbol,
    time zone).

    Example::

        info = account_info(cs)
        info.label, info.currency        # ('ACME Pty Ltd (acme)', 'AUD')
    """
    data = client.account() or {}
    cur = data["_currency"] if isinstance(data.get("_currency"), dict) else {}
    currency = cur.get("currency_name_short") or data.get("currency") or None
    return AccountInfo(
        name=str(data.get("account_name") or ""),
        username=str(data.get("username") or getattr(client, "username", "") or ""),
        currency=str(currency) if currency else None,
        symbol=cur.get("currency_prefix_d") or None,
        timezone=str(data.get("timezone")) if data.get("timezone") else None,
    )


@dataclass(frozen=True)
class ReportMeta:
    """What a report covers: period (first and last month, inclusive, local month starts
    in ``tz``), account, currency, generation time (UTC), the time zone its months, days
    and times are in, and ``to_date``: the month of the period still running when the
    report was made (None when every month is complete). ``snapshot``: the report
    describes the state at ``generated_at`` (contacts), not a period.

    Example::

        meta.period          # ('2026-01', '2026-12')
        meta.period_label    # '2026-01 to 2026-12 (12 months, 2026-12 to date)'
    """

    name: str
    title: str
    start: pd.Timestamp
    end: pd.Timestamp
    account: AccountInfo = field(default_factory=AccountInfo)
    currency: str | None = None
    generated_at: dt.datetime = field(
        default_factory=lambda: timeutil.now_utc().floor("us").to_pydatetime()
    )
    tz: str = "UTC"
    to_date: pd.Timestamp | None = None
    snapshot: bool = False
    #: What the Times row of the workbook says (default: the time zone of the cells).
    times_note: str | None = None

    @property
    def period(self) -> tuple[str, str]:
        """First and last month as ``'YYYY-MM'``."""
        return f"{self.start:%Y-%m}", f"{self.end:%Y-%m}"

    @property
    def months(self) -> int:
        """Number of months in the period."""
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1

    @property
    def period_label(self) -> str:
        """``'2026-01 to 2026-10 (10 months)'``; ``'as of 2026-12-06'`` for a snapshot."""
        if self.snapshot:
            when = pd.Timestamp(self.generated_at).tz_convert(self.tz)
            return f"as of {when:%Y-%m-%d}"
        return period_label(self.start, self.end, self.to_date)

    @property
    def times(self) -> str:
        """The Times row: which time zone months, days and times are in."""
        return self.times_note or f"{self.tz} (Excel cells carry no time zone)"

    def month_label(self, month: Instant) -> str:
        """``'2026-11'``, or ``'2026-12 (to date)'`` for the running month."""
        return month_label(month, self.to_date)

    @property
    def currency_symbol(self) -> str | None:
        """The account's symbol, else the usual one for the currency code."""
        if self.account.symbol and self.account.currency in (None, self.currency):
            return self.account.symbol
        return _SYMBOLS.get(self.currency or "")

    def money(self, value: float | None, decimals: int = 2) -> str:
        """``1234.5`` as ``'$1,234.50 AUD'`` (symbol and code when known).

        Example::

            meta.money(1234.5)   # '$1,234.50 AUD'
        """
        if value is None or pd.isna(value):
            return "-"
        sym = self.currency_symbol or ""
        sign = "-" if value < 0 else ""
        text = f"{sign}{sym}{abs(value):,.{decimals}f}"
        return f"{text} {self.currency}" if self.currency else text


@dataclass(frozen=True)
class ChartSpec:
    """A native Excel chart drawn from one table: ``x`` column against ``y`` columns.

    The totals row is never part of the data. ``anchor`` is the sheet the chart sits on
    (``"Summary"`` or a table name) and ``cell`` its top-left corner.

    Example::

        ChartSpec("monthly_spend", x="month", y=("sms", "mms"), title="Monthly spend")
    """

    table: str
    x: str
    y: tuple[str, ...]
    kind: Literal["line", "bar"] = "line"
    title: str = ""
    y_title: str = ""
    x_title: str = ""
    anchor: str = "Summary"
    cell: str = "D3"


#: Comparison operators a :class:`Highlight` understands.
Op = Literal[">", ">=", "<", "<=", "==", "!="]

_OPS = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True)
class Highlight:
    """A conditional format: cells of ``column`` where ``value <op> threshold`` holds are
    shown in ``style`` ("bad": red, "warn": amber, "good": green); with ``row=True`` the
    whole row is. With ``min_column``, only rows where that column is at least
    ``min_value`` (a minimum volume: a failure rate of 20% on 10 messages is noise). Written as a native Excel conditional format (it follows the data when
    someone edits a cell) and applied to the HTML rendering too.

    Example::

        Highlight("failed_rate", ">", 0.05)                 # high failure rates in red
        Highlight("over_budget", "==", True, row=True)      # over-budget rows in red
        >>> Highlight("x", ">", 1).mask(pd.Series([0.5, 2.0, None])).tolist()
        [False, True, False]
    """

    column: str
    op: Op
    threshold: float | int | str | bool
    style: Literal["bad", "warn", "good"] = "bad"
    row: bool = False
    min_column: str | None = None
    min_value: float = 0

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"op must be one of {', '.join(_OPS)}; got {self.op!r}")

    def mask(self, series: pd.Series, volume: pd.Series | None = None) -> pd.Series:
        """Boolean Series: where the rule matches (missing values never match);
        ``volume``: the ``min_column`` values, when the rule has one."""
        compare = _OPS[self.op]
        values = series.astype(object)
        out = [v is not None and not _isna(v) and bool(compare(v, self.threshold)) for v in values]
        mask = pd.Series(out, index=series.index, dtype=bool)
        if self.min_column is not None and volume is not None:
            enough = pd.to_numeric(volume, errors="coerce").astype("float64") >= self.min_value
            mask &= enough.fillna(False).to_numpy(dtype=bool)
        return mask


def _isna(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class TableSpec:
    """How one table is presented.

    ``kinds`` overrides the kind inferred from the dtype (money must be declared: not
    every float is money); ``labels`` overrides header texts; ``totals`` lists the
    columns summed into a totals row (empty: no totals row), labelled ``total_label`` in
    the first column; ``freeze_columns`` columns stay visible when scrolling right;
    ``highlights`` are conditional formats; ``excel_table`` makes the sheet's data a
    native Excel table (sortable, filterable, banded; on by default).

    Example::

        TableSpec("Spend per month", kinds={"spend": "money"}, totals=("count", "spend"))
    """

    description: str = ""
    kinds: Mapping[str, Kind] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    totals: tuple[str, ...] = ()
    total_label: str = "Total"
    freeze_columns: int = 1
    highlights: tuple[Highlight, ...] = ()
    excel_table: bool = True


def infer_kind(series: pd.Series) -> Kind:
    """The presentation kind of a column from its dtype and name (money is never
    inferred; integer ``*_id`` columns are ids, shown without thousands separators).

    Example::

        >>> infer_kind(pd.Series([1, 2], dtype="Int64"))
        'int'
        >>> infer_kind(pd.Series([60311], dtype="Int64", name="subaccount_id"))
        'id'
    """
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_bool_dtype(dtype):
        return "text"
    if pd.api.types.is_integer_dtype(dtype):
        name = str(series.name or "")
        return "id" if name == "id" or name.endswith("_id") else "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    return "text"


def default_label(column: str) -> str:
    """``'subaccount_id'`` -> ``'Subaccount id'``.

    Example::

        >>> default_label("subaccount_id")
        'Subaccount id'
    """
    text = str(column).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def format_value(value: Any, kind: Kind, meta: ReportMeta) -> str:
    """A summary value as text (money with symbol and code, months as YYYY-MM, lists
    joined).

    Example::

        format_value(1234.5, "money", meta)   # '$1,234.50 AUD'
    """
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "-"
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "-"
    if kind == "money":
        return meta.money(float(value))
    if kind == "price":
        return meta.money(float(value), 4)
    if kind == "int":
        return f"{int(value):,}"
    if kind == "id":
        return str(int(value))
    if kind == "float":
        return f"{float(value):,.2f}"
    if kind == "percent":
        return f"{float(value):.1%}"
    if kind == "month":
        return month_label(value, meta.to_date)
    return str(value)


def period_label(first, last, to_date=None) -> str:
    """The text of a period: months, count, and the month to date if any.

    Example::

        >>> period_label(pd.Timestamp("2026-01-01"), pd.Timestamp("2026-03-01"))
        '2026-01 to 2026-03 (3 months)'
    """
    n = (last.year - first.year) * 12 + last.month - first.month + 1
    text = f"{first:%Y-%m} to {last:%Y-%m} ({n} month{'s' if n != 1 else ''}"
    if to_date is not None:
        text += f", {to_date:%Y-%m} to date"
    return text + ")"


def month_label(month: Instant, to_date: Instant | None = None) -> str:
    """``'YYYY-MM'``, suffixed ``' (to date)'`` when ``month`` is the running month.

    Example::

        >>> month_label(pd.Timestamp("2026-12-01"), pd.Timestamp("2026-12-01"))
        '2026-12 (to date)'
    """
    text = f"{pd.Timestamp(month):%Y-%m}"
    if to_date is not None and text == f"{pd.Timestamp(to_date):%Y-%m}":
        text += " (to date)"
    return text


def header_label(report, key: str, column: str) -> str:
    """The header text of ``column`` in table ``key`` of ``report``: the spec's label or a
    readable form of the column name, money columns suffixed with the currency code.

    Example::

        header_label(report, "monthly_by_channel", "spend")   # 'Spend (AUD)'
    """
    spec = report.spec(key)
    label = spec.labels.get(column) or default_label(column)
    if report.kinds(key)[column] in ("money", "price") and report.meta.currency:
        label = f"{label} ({report.meta.currency})"
    return label


class ReportLike(Protocol):
    """What the writers (``excel``, ``output``) read of a report.

    :class:`csframe.reports.base.Report` is one. Typing the writers against this, not
    against ``Report``, keeps them below ``base`` (which calls them) without a circle.
    """

    # a dataclass: the writers derive trimmed copies with dataclasses.replace()
    __dataclass_fields__: ClassVar[dict[str, Any]]
    meta: ReportMeta
    tables: dict[str, pd.DataFrame]
    figures: dict[str, Any]
    summary: dict[str, Any]
    charts: list[ChartSpec]
    summary_kinds: dict[str, Kind]
    summary_labels: dict[str, str]
    alerts: list[str]
    notes: list[str]

    def spec(self, name: str) -> TableSpec: ...

    def kinds(self, name: str) -> dict[str, Kind]: ...

    def totals(self, name: str) -> dict[str, Any] | None: ...

    def summary_lines(self) -> list[tuple[str, str]]: ...
