"""The :class:`Report` every prebuilt report returns, and the pieces it is made of.

A report is data first: ``tables`` (DataFrames), ``figures`` (matplotlib), ``summary``
(key figures as plain Python values) and ``meta`` (what, for whom, when). How a table is
presented in Excel -- which columns are money, the totals row, header labels, charts --
is declared next to the data (:class:`TableSpec`, :class:`ChartSpec`, in
:mod:`csframe.reports.model`), so one writer (:mod:`csframe.reports.excel`) serves every
report and a new report only declares.

Layers, bottom up (each imports only those below it; no report imports another):
``model`` (kinds, meta, specs) and ``cells`` (cell safety); ``periods`` (months, time
zones, the month to date); ``sheetxml``, ``excel``, ``output`` (renderers); ``base`` (this
module: :class:`Report`); ``history`` (message outcomes and history loading); the reports
(``usage_cost``, ``budgets``, ``delivery``, ``campaigns``, ``contacts_health``); ``cli``.

Example::

    rep = csframe.reports.usage_cost(cs, start="2026-01", end="2026-10")
    rep.tables["monthly_by_channel"].head()
    rep.summary["total_spend"]
    rep.to_excel("usage-2026.xlsx")
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from csframe.reports.excel import write_excel
from csframe.reports.model import (  # noqa: F401  (re-exported: the public names of reports)
    MONEY_DECIMALS,
    AccountInfo,
    ChartSpec,
    Highlight,
    Kind,
    OptionError,
    ReportMeta,
    TableSpec,
    account_info,
    default_label,
    format_value,
    infer_kind,
)
from csframe.reports.output import render_html, write_csv, write_html

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


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
            if kind == "month":
                df[col] = pd.Series(
                    [None if pd.isna(m) else self.meta.month_label(m) for m in df[col]],
                    index=df.index,
                    dtype="str",
                )
            elif kind == "date":
                df[col] = df[col].dt.strftime("%Y-%m-%d")
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
        return write_excel(self, path)

    def to_html(self, path: str | Path | None = None) -> str | Path:
        """A self-contained HTML page (key figures, tables with totals and highlights,
        charts as inline PNG). Without ``path`` returns the HTML text; with it, writes the
        file atomically and returns the path.

        Example::

            rep.to_html("out/usage-cost.html")
        """
        return render_html(self) if path is None else write_html(self, path)

    def to_csv(self, directory: str | Path) -> Path:
        """One CSV per table plus ``summary.csv`` in ``directory`` (replaced atomically as
        a whole). Data rows only: totals rows would be double-counted by whoever sums the
        file; they are in ``summary.csv``. Formula-like text is neutralised as in Excel.

        Example::

            rep.to_csv("out/usage-cost-2026-10")
        """
        return write_csv(self, directory)

    def write(self, path: str | Path, format: str = "xlsx") -> Path:
        """Write the report as ``xlsx``, ``html`` or ``csv`` (a directory).

        Example::

            rep.write("out/u.html", "html")
        """
        if format == "xlsx":
            return self.to_excel(path)
        if format == "html":
            return Path(self.to_html(path))
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
        lines += [f"Period     {m.period_label}", f"Currency   {m.currency or '-'}"]
        lines += [f"Times      {m.tz}", ""]
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
        rows += [("Generated", f"{m.generated_at:%Y-%m-%d %H:%M} UTC"), ("Times", m.tz)]
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
