"""The :class:`Report` every prebuilt report returns, and the pieces it is made of.

A report is data first: ``tables`` (DataFrames), ``figures`` (matplotlib), ``summary``
(key figures as plain Python values) and ``meta`` (what, for whom, when). How a table is
presented in Excel -- which columns are money, the totals row, header labels, charts --
is declared next to the data (:class:`TableSpec`, :class:`ChartSpec`), so one writer
(:mod:`csframe.reports.excel`) serves every report and a new report only declares.

Example::

    rep = csframe.reports.usage_cost(cs, start="2026-01", end="2026-10")
    rep.tables["monthly_by_channel"].head()
    rep.summary["total_spend"]
    rep.to_excel("usage-2026.xlsx")
"""

from __future__ import annotations

import datetime as dt
import html
import io
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


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

    @property
    def label(self) -> str:
        """``"ACME Pty Ltd (acme)"``, or whichever part is known."""
        if self.name and self.username and self.name != self.username:
            return f"{self.name} ({self.username})"
        return self.name or self.username


def account_info(client) -> AccountInfo:
    """The display fields of ``client.account()`` (name, username, currency, symbol).

    Example::

        info = account_info(cs)
        info.label, info.currency        # ('ACME Pty Ltd (acme)', 'AUD')
    """
    data = client.account() or {}
    cur = data.get("_currency") if isinstance(data.get("_currency"), dict) else {}
    currency = cur.get("currency_name_short") or data.get("currency") or None
    return AccountInfo(
        name=str(data.get("account_name") or ""),
        username=str(data.get("username") or getattr(client, "username", "") or ""),
        currency=str(currency) if currency else None,
        symbol=cur.get("currency_prefix_d") or None,
    )


@dataclass(frozen=True)
class ReportMeta:
    """What a report covers: period (first and last month, inclusive), account, currency
    and generation time (UTC).

    Example::

        meta.period          # ('2026-01', '2026-10')
        meta.period_label    # '2026-01 to 2026-10 (10 months)'
    """

    name: str
    title: str
    start: pd.Timestamp
    end: pd.Timestamp
    account: AccountInfo = field(default_factory=AccountInfo)
    currency: str | None = None
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

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
        a, b = self.period
        n = self.months
        return f"{a} to {b} ({n} month{'s' if n != 1 else ''})"

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
    whole row is. Written as a native Excel conditional format (it follows the data when
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

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"op must be one of {', '.join(_OPS)}; got {self.op!r}")

    def mask(self, series: pd.Series) -> pd.Series:
        """Boolean Series: where the rule matches (missing values never match)."""
        compare = _OPS[self.op]
        values = series.astype(object)
        out = [v is not None and not _isna(v) and bool(compare(v, self.threshold)) for v in values]
        return pd.Series(out, index=series.index, dtype=bool)


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
        return f"{pd.Timestamp(value):%Y-%m}"
    return str(value)


@dataclass
class Report:
    """The result of a prebuilt report.

    Attributes
    ----------
    meta:
        Period, account, currency, generation time (:class:`ReportMeta`).
    tables:
        Named DataFrames, data rows only (totals are computed by :meth:`totals` and
        written as a totals row), in sheet order.
    figures:
        Named matplotlib Figures (created without pyplot, so no GUI backend is needed).
    summary:
        Key figures as plain Python values (str, int, float, list), JSON-friendly.
    specs, charts, summary_kinds:
        Presentation: per-table :class:`TableSpec`, Excel :class:`ChartSpec` list, and the
        kind of each summary value.

    Example::

        rep = usage_cost(cs, "2026-01", "2026-10")
        rep.show()                      # in a notebook
        rep.to_excel("usage.xlsx")      # atomic: readers never see half a workbook
    """

    meta: ReportMeta
    tables: dict[str, pd.DataFrame]
    figures: dict[str, Figure] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    specs: dict[str, TableSpec] = field(default_factory=dict)
    charts: list[ChartSpec] = field(default_factory=list)
    summary_kinds: dict[str, Kind] = field(default_factory=dict)
    summary_labels: dict[str, str] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def assemble(
        cls,
        meta: ReportMeta,
        tables: dict[str, pd.DataFrame],
        specs: dict[str, TableSpec],
        charts: list[ChartSpec],
        summary: tuple[dict[str, Any], dict[str, Kind], dict[str, str], list[str]],
    ) -> Report:
        """A report from its tables and presentation, and ``summary``: the ``(values,
        kinds, labels, alerts)`` that each report's summary step returns.

        Example::

            rep = Report.assemble(meta, tables, specs, charts, _summary(tables, meta))
        """
        values, kinds, labels, alerts = summary
        return cls(
            meta=meta,
            tables=tables,
            specs=specs,
            charts=charts,
            summary=values,
            summary_kinds=kinds,
            summary_labels=labels,
            alerts=alerts,
        )

    @property
    def budget_exceeded(self) -> bool:
        """True when a budget given to the report was exceeded (the CLI then exits 5).

        Example::

            if rep.budget_exceeded: notify(rep.alerts)
        """
        return bool(self.summary.get("budget_exceeded"))

    def spec(self, name: str) -> TableSpec:
        """The presentation spec of table ``name`` (a default one when none was given)."""
        return self.specs.get(name) or TableSpec()

    def kinds(self, name: str) -> dict[str, Kind]:
        """``{column: kind}`` of table ``name``: declared kinds over inferred ones."""
        df, spec = self.tables[name], self.spec(name)
        return {c: spec.kinds.get(c) or infer_kind(df[c]) for c in df.columns}

    def totals(self, name: str) -> dict[str, Any] | None:
        """The totals row of table ``name`` as ``{column: value}`` (label in the first
        column), or None when the table has none. Sums are computed here, by pandas, so
        the workbook shows values every viewer can read (no formulas to recalculate).

        Example::

            rep.totals("monthly_by_channel")   # {'month': 'Total', 'count': 812, 'spend': 61.2}
        """
        df, spec = self.tables[name], self.spec(name)
        if not spec.totals:
            return None
        row: dict[str, Any] = {df.columns[0]: spec.total_label}
        for col in spec.totals:
            if col not in df:  # a spec may declare optional columns (history, budgets)
                continue
            total = df[col].sum()
            # Rounded like the amounts the API sends (6 decimals), which drops float noise.
            row[col] = int(total) if self.kinds(name)[col] == "int" else round(float(total), 6)
        return row

    def with_totals(self, name: str) -> pd.DataFrame:
        """Table ``name`` with its totals row appended, for display and CSV. Month and
        datetime columns become text so that the ``Total`` label fits.

        Example::

            rep.with_totals("monthly_spend").tail(2)
        """
        df = self.tables[name].copy()
        for col, kind in self.kinds(name).items():
            fmt = {"month": "%Y-%m", "date": "%Y-%m-%d"}.get(kind)
            if fmt:
                df[col] = df[col].dt.strftime(fmt)
        totals = self.totals(name)
        if totals is None:
            return df
        first = df.columns[0]
        if not pd.api.types.is_string_dtype(df[first].dtype):
            df[first] = df[first].astype("str")
        total_row = pd.DataFrame(
            {c: pd.array([totals.get(c)], dtype=df[c].dtype) for c in df.columns}
        )
        return pd.concat([df, total_row], ignore_index=True)

    def to_excel(self, path: str | Path) -> Path:
        """Write the workbook (Summary sheet, one sheet per table, native chart) to
        ``path`` atomically; returns the path written.

        Example::

            rep.to_excel("out/usage-cost.xlsx")
        """
        from csframe.reports.excel import write_excel

        return write_excel(self, path)

    def to_html(self, path: str | Path | None = None) -> str | Path:
        """A self-contained HTML page (key figures, tables with totals and highlights,
        charts as inline PNG). Without ``path`` returns the HTML text; with it, writes the
        file atomically and returns the path.

        Example::

            rep.to_html("out/usage-cost.html")
        """
        from csframe.reports.output import render_html, write_html

        return render_html(self) if path is None else write_html(self, path)

    def to_csv(self, directory: str | Path) -> Path:
        """One CSV per table plus ``summary.csv`` in ``directory`` (replaced atomically as
        a whole). Data rows only: totals rows would be double-counted by whoever sums the
        file; they are in ``summary.csv``. Formula-like text is neutralised as in Excel.

        Example::

            rep.to_csv("out/usage-cost-2026-10")
        """
        from csframe.reports.output import write_csv

        return write_csv(self, directory)

    def write(self, path: str | Path, format: str = "xlsx") -> Path:
        """Write the report as ``xlsx``, ``html`` or ``csv`` (a directory).

        Example::

            rep.write("out/u.html", "html")
        """
        if format == "xlsx":
            return self.to_excel(path)
        if format == "html":
            return self.to_html(path)
        if format == "csv":
            return self.to_csv(path)
        raise ValueError(f"format must be xlsx, html or csv; got {format!r}")

    def summary_lines(self) -> list[tuple[str, str]]:
        """``[(label, text), ...]`` of the key figures, formatted for people.

        Example::

            for label, text in rep.summary_lines(): print(f"{label:<22}{text}")
        """
        return [
            (
                self.summary_labels.get(key) or default_label(key),
                format_value(value, self.summary_kinds.get(key, "text"), self.meta),
            )
            for key, value in self.summary.items()
        ]

    def to_text(self) -> str:
        """A plain-text rendering: title, period, key figures and tables with totals."""
        m = self.meta
        lines = [m.title, "=" * len(m.title), f"Account    {m.account.label or '-'}"]
        lines += [f"Period     {m.period_label}", f"Currency   {m.currency or '-'}", ""]
        pairs = self.summary_lines()
        width = max([24, *(len(label) + 2 for label, _ in pairs)])
        lines += [f"{label:<{width}}{text}" for label, text in pairs]
        if self.alerts:
            lines += ["", "Alerts", *(f"  ! {a}" for a in self.alerts)]
        if self.notes:
            lines += ["", "Notes", *(f"  - {n}" for n in self.notes)]
        for name in self.tables:
            lines += ["", f"[{name}]", self.with_totals(name).to_string(index=False)]
        return "\n".join(lines)

    def show(self) -> None:
        """Display the report: rich HTML and charts in a notebook, text elsewhere.

        Example::

            rep.show()
        """
        try:
            from IPython import get_ipython
            from IPython.display import HTML, Image, display
        except ImportError:  # pragma: no cover - IPython comes with ipywidgets
            get_ipython = None
        if get_ipython is None or get_ipython() is None:
            print(self.to_text())
            return
        display(HTML(self._summary_html()))
        for name in self.tables:
            display(HTML(f"<h4>{html.escape(name)}</h4>"))
            display(self.with_totals(name))
        for fig in self.figures.values():
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=100)
            display(Image(data=buf.getvalue(), format="png"))

    def _summary_html(self) -> str:
        m = self.meta
        rows = [("Account", m.account.label or "-"), ("Period", m.period_label)]
        rows += [("Currency", m.currency or "-")]
        rows += [("Generated", f"{m.generated_at:%Y-%m-%d %H:%M} UTC")]
        rows += self.summary_lines()
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(a)}</th><td>{html.escape(b)}</td></tr>"
            for a, b in rows
        )
        out = f"<h3>{html.escape(m.title)}</h3><table>{body}</table>"
        if self.alerts:
            items = "".join(f"<li>{html.escape(a)}</li>" for a in self.alerts)
            out += (
                f"<p style='color:#9C0006'><b>Alerts</b></p><ul style='color:#9C0006'>{items}</ul>"
            )
        if self.notes:
            items = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
            out += f"<p><b>Notes</b></p><ul>{items}</ul>"
        return out

    def _repr_html_(self) -> str:
        sheets = ", ".join(html.escape(n) for n in self.tables)
        return self._summary_html() + f"<p>Tables: {sheets}</p>"

    def __repr__(self) -> str:
        m = self.meta
        return (
            f"<Report {m.name} {m.period[0]}..{m.period[1]} account={m.account.label!r} "
            f"tables={list(self.tables)} figures={list(self.figures)}>"
        )
