"""The workbook writer shared by every report (openpyxl, write-only mode).

Layout: a ``Summary`` sheet first (title, account, period, currency, generation time,
key figures, alerts and notes, an index of the sheets, and the report's native Excel
charts), then one sheet per table: styled header, frozen header row and key column, the
data as a native Excel table (sort and filter buttons, banded rows), widths fitted to the
content, number formats by column kind (money in the account's currency), conditional
formats (over budget, high failure rates, reconciliation differences), and a bold totals
row *below* the table, so sorting or filtering never moves it.

Decisions, and why:

- **Write-only mode everywhere.** Rows stream to disk, so a 100,000-row detail sheet
  costs little memory, and there is one code path for small and large tables. What
  write-only sheets cannot do was checked item by item: column widths, frozen panes and
  charts must be set before the first row (they are); auto-filters, conditional formats
  and tables are written after the rows, so they work -- except that openpyxl names a
  table's columns by reading the header cells back, which a write-only sheet has already
  streamed away (it then warns and writes ``Column1..n``, which Excel "repairs" by
  dropping the table). So the table columns are named explicitly from the headers.
- **Excel tables on every sheet with data** (of any size: Excel handles a 1,000,000-row
  table fine, and "Format as table" is what finance does by hand anyway). A table carries
  its own filter, so such a sheet has no sheet-level auto-filter (Excel rejects both on one
  range). A sheet without data rows (a table needs one) gets a plain auto-filter on the
  header. Header labels are made unique, as tables require.
- **Totals are values, not formulas.** openpyxl cannot store a formula's cached result, so
  ``=SUM(...)`` would show blank in previews, in pandas and in openpyxl itself until Excel
  recalculates. Values computed by pandas read the same everywhere.
- **Text stays text, and is never a formula.** Data cells are inline strings (never
  evaluated), so a phone number ``+61412903005`` or a body ``=cmd`` is written exactly as
  it is; cells written through openpyxl whose text starts with ``=`` (which openpyxl would
  store as a formula) are typed explicitly as text. No apostrophe is added: that is the
  CSV defence (:mod:`csframe.reports.cells`), and in a workbook it would show up as a
  literal ``'``. Control characters Excel cannot store are removed.
- **Atomic write.** The workbook goes to a hidden temporary file in the target's
  directory, is flushed to disk, then ``os.replace``-d over the target: a reader (or the
  mail job picking the file up) sees the previous workbook or the new one, never half of
  one, and a failure leaves the previous file untouched.
- **Datetimes** are written as wall times in the report's time zone (``meta.tz``: the
  account's, unless ``tz=`` said otherwise), without a zone (Excel has none); the Summary
  sheet's Times row says which zone. When the period includes the running month, month
  cells are text (``2026-12 (to date)``) so that the label shows in the sheet and on the
  chart's axis.

Example::

    from csframe.reports.excel import write_excel
    write_excel(report, "out/usage-cost.xlsx")
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import io
import math
import os
import re
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo

from csframe.reports.cells import as_text, clean_array, clean_text
from csframe.reports.model import (
    ChartSpec,
    Highlight,
    Kind,
    ReportLike,
    ReportMeta,
    default_label,
    format_value,
    header_label,
)
from csframe.reports.sheetxml import column_cells, render_rows, series_values, splice

SUMMARY_SHEET = "Summary"
#: Workbook attribute holding ``{worksheet: render()}`` of rows to splice in on save.
PENDING_ROWS = "_csframe_pending_rows"

# Excel limits.
_MAX_SHEET_NAME = 31

# Fonts name the workbook default (Calibri 11): a font without a name renders in a
# different (serif) face in LibreOffice.
_FONT = {"name": "Calibri", "size": 11}
HEADER_FONT = Font(**_FONT, bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", start_color="1F4E78", end_color="1F4E78")
HEADER_ALIGN = Alignment(vertical="center", wrap_text=False)
TOTAL_FONT = Font(**_FONT, bold=True)
TOTAL_BORDER = Border(top=Side(style="thin"), bottom=Side(style="double"))
TITLE_FONT = Font(name="Calibri", size=14, bold=True)
SECTION_FONT = Font(name="Calibri", size=12, bold=True, color="1F4E78")
LABEL_FONT = Font(**_FONT, bold=True)

SUMMARY_TEXT_WIDTH = 60
WRAP_ALIGN = Alignment(wrap_text=True, vertical="top")
TOP_ALIGN = Alignment(vertical="top")
ALERT_FONT = Font(**_FONT, bold=True, color="9C0006")
TABLE_STYLE = "TableStyleLight9"

#: Conditional-format styles (Excel's own "light red fill with dark red text", ...).
HIGHLIGHT_STYLES = {
    "bad": (Font(color="9C0006"), PatternFill("solid", start_color="FFC7CE", end_color="FFC7CE")),
    "warn": (Font(color="9C5700"), PatternFill("solid", start_color="FFEB9C", end_color="FFEB9C")),
    "good": (Font(color="006100"), PatternFill("solid", start_color="C6EFCE", end_color="C6EFCE")),
}

_NUMERIC_KINDS = ("money", "price", "int", "id", "float", "percent")

NUMBER_FORMATS: dict[str, str] = {
    "int": "#,##0",
    "id": "0",
    "float": "#,##0.00",
    "percent": "0.0%",
    "month": "yyyy-mm",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm:ss",
}


def money_format(currency: str | None, symbol: str | None = None, decimals: int = 2) -> str:
    """The Excel number format for amounts in ``currency``.

    The symbol goes in front when known (account's ``currency_prefix_d``, else the usual
    one for the code); otherwise the ISO code goes after the number. Header labels of
    money columns carry the ISO code, so ``$`` is never ambiguous.

    Example::

        >>> money_format("AUD", "$")
        '"$"#,##0.00'
        >>> money_format("XYZ")
        '#,##0.00 "XYZ"'
    """
    number = "#,##0." + "0" * decimals
    sym = (symbol or "").replace('"', "")
    if sym:
        return f'"{sym}"{number}'
    if currency:
        return '{} "{}"'.format(number, currency.replace('"', ""))
    return number


def write_excel(report: ReportLike, path: str | os.PathLike) -> Path:
    """Write ``report`` as an .xlsx workbook at ``path`` (atomically); returns the path.

    Parent directories are created. On any failure the previous file at ``path``, if any,
    is left as it was and no temporary file remains.

    Example::

        write_excel(report, "out/usage-cost.xlsx")
    """
    wb = build_workbook(report)
    try:
        return save_atomic(wb, path)
    except BaseException:
        discard_workbook(wb)
        raise


def discard_workbook(wb: Workbook) -> None:
    """Release an unsaved write-only workbook: a half-written sheet holds a suspended
    generator and a temporary file; left to the garbage collector, they are closed late
    and noisily (and the file stays until exit).

    Example::

        wb = build_workbook(report); discard_workbook(wb)
    """
    for ws in wb.worksheets:
        writer = getattr(ws, "_writer", None)
        if writer is None:
            continue
        with contextlib.suppress(Exception):
            if not ws.closed:
                ws.close()
        with contextlib.suppress(Exception):
            writer.cleanup()


def save_atomic(wb: Workbook, path: str | os.PathLike) -> Path:
    """Save ``wb`` to a temporary file next to ``path``, fsync it, then rename it over
    ``path``. The rename is atomic on POSIX and Windows (same directory, same volume).

    Example::

        save_atomic(Workbook(), "out/empty.xlsx")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same directory as the target (a rename across file systems is not atomic); hidden
    # and not ending in .xlsx so globbing jobs do not pick it up; created with open(),
    # so it gets the normal umask permissions rather than mkstemp's 0600.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as fh:
            pending = getattr(wb, PENDING_ROWS, None)
            if pending:
                # The sheets' data rows were rendered column-wise (csframe.reports.sheetxml):
                # openpyxl writes the structure, the rows are spliced in on the way to disk.
                buf = io.BytesIO()
                wb.save(buf)
                rows = {ws.path.lstrip("/"): render() for ws, render in pending.items()}
                splice(buf, fh, rows)
            else:
                wb.save(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not possible (nor needed) on every platform.
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --- building --------------------------------------------------------------------------


@dataclass
class _Layout:
    """Where a table lands on its sheet (needed by charts on other sheets)."""

    sheet: Any  # the (write-only) worksheet the table is streamed to
    columns: list[str]
    kinds: dict[str, Kind]
    rows: int  # data rows, header excluded

    def col(self, name: str) -> int:
        return self.columns.index(name) + 1


def build_workbook(report: ReportLike) -> Workbook:
    """The openpyxl (write-only) Workbook for ``report``, not yet saved.

    Example::

        wb = build_workbook(report); wb.save("x.xlsx")
    """
    wb = Workbook(write_only=True)
    try:
        _build(wb, report)
    except BaseException:
        discard_workbook(wb)
        raise
    return wb


def _build(wb: Workbook, report: ReportLike) -> None:
    meta = report.meta
    wb.properties.title = meta.title
    wb.properties.creator = "csframe"
    created = meta.generated_at.astimezone(dt.UTC).replace(tzinfo=None)
    wb.properties.created = wb.properties.modified = created
    formats = dict(
        NUMBER_FORMATS,
        money=money_format(meta.currency, meta.currency_symbol),
        price=money_format(meta.currency, meta.currency_symbol, 4),
    )

    names = sheet_names(report.tables)
    # Every sheet is created first so that charts may refer to any of them.
    summary_ws = wb.create_sheet(SUMMARY_SHEET)
    sheets = {key: wb.create_sheet(names[key]) for key in report.tables}
    layouts = {
        key: _Layout(sheets[key], list(df.columns), report.kinds(key), len(df))
        for key, df in report.tables.items()
    }
    charts: dict[str, list] = {}
    for spec in report.charts:
        chart = _chart(spec, layouts, meta, formats)
        if chart is not None:
            charts.setdefault(spec.anchor, []).append((chart, spec.cell))

    _write_summary(summary_ws, report, names, formats, charts.get(SUMMARY_SHEET, []))
    pending: dict[str, Any] = {}
    setattr(wb, PENDING_ROWS, pending)
    for key, df in report.tables.items():
        _write_table(sheets[key], report, key, df, formats, charts.get(key, []), pending)


def sheet_names(tables) -> dict[str, str]:
    """Valid, unique Excel sheet names for the table keys (31 characters, no ``[]:*?/\\``).

    Example::

        >>> sheet_names({"monthly_by_channel": None})
        {'monthly_by_channel': 'monthly_by_channel'}
    """
    used = {SUMMARY_SHEET.lower()}
    out = {}
    for key in tables:
        base = re.sub(r"[\[\]:*?/\\]", "_", str(key)).strip("'") or "Sheet"
        name = base[:_MAX_SHEET_NAME]
        n = 2
        while name.lower() in used:
            suffix = f" ({n})"
            name = base[: _MAX_SHEET_NAME - len(suffix)] + suffix
            n += 1
        used.add(name.lower())
        out[key] = name
    return out


def _page_setup(ws, *, header_row: bool) -> None:
    # Printed (or saved as PDF) by finance: landscape, one page wide, header on every page.
    ws.page_setup.orientation = "landscape"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    if header_row:
        ws.print_title_rows = "1:1"


def _cell(ws, value, *, font=None, fill=None, border=None, fmt=None, align=None):
    cell = WriteOnlyCell(ws, value=value)
    if font is not None:
        cell.font = font
    if fill is not None:
        cell.fill = fill
    if border is not None:
        cell.border = border
    if fmt is not None:
        cell.number_format = fmt
    if align is not None:
        cell.alignment = align
    if cell.data_type == "f":  # text starting with "=": stored as text, never a formula
        cell.data_type = "s"
    return cell


def _text(value: Any) -> str:
    return clean_text(str(value))


def _write_summary(ws, report: ReportLike, names, formats, charts) -> None:
    meta = report.meta
    labels = [label for label, _ in report.summary_lines()] + list(names.values())
    ws.column_dimensions["A"].width = min(max([26, *(len(x) + 2 for x in labels)]), 45)
    ws.column_dimensions["B"].width = SUMMARY_TEXT_WIDTH
    ws.sheet_view.showGridLines = False
    _page_setup(ws, header_row=False)
    for chart, cell in charts:
        ws.add_chart(chart, cell)
    rows = [0]

    def append(cells) -> None:
        rows[0] += 1
        ws.append(cells)

    def wrapped(cells, text: str) -> None:
        # Neither Excel (for files it did not write) nor LibreOffice grows a row for
        # wrapped text on its own; a write-only row's height must be set before it is.
        per_line = SUMMARY_TEXT_WIDTH * 1.25  # proportional text: more than width chars
        lines = sum(max(1, math.ceil(len(part) / per_line)) for part in text.split("\n"))
        if lines > 1:
            ws.row_dimensions[rows[0] + 1].height = 15 * lines
        append(cells)

    append([_cell(ws, _text(meta.title), font=TITLE_FONT)])
    append([])
    info = [
        ("Account", meta.account.label or "-"),
        ("Period", meta.period_label),
        ("Currency", meta.currency or "-"),
        ("Generated", f"{meta.generated_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"),
        ("Times", meta.times),
    ]
    for label, value in info:
        append([_cell(ws, label, font=LABEL_FONT), _cell(ws, _text(value))])
    append([])
    append([_cell(ws, "Key figures", font=SECTION_FONT)])
    for key, value in report.summary.items():
        kind = report.summary_kinds.get(key, "text")
        label = report.summary_labels.get(key) or default_label(key)
        append(
            [
                _cell(ws, _text(label), font=LABEL_FONT),
                _summary_cell(ws, value, kind, meta, formats),
            ]
        )
    if report.alerts:
        append([])
        append([_cell(ws, "Alerts", font=SECTION_FONT)])
        for alert in report.alerts:
            wrapped(
                [
                    _cell(ws, "!", font=ALERT_FONT),
                    _cell(ws, _text(alert), font=ALERT_FONT, align=WRAP_ALIGN),
                ],
                alert,
            )
    if report.notes:
        append([])
        append([_cell(ws, "Notes", font=SECTION_FONT)])
        for note in report.notes:
            wrapped([_cell(ws, "-"), _cell(ws, _text(note), align=WRAP_ALIGN)], note)
    append([])
    append([_cell(ws, "Sheets", font=SECTION_FONT)])
    for key in report.tables:
        desc = report.spec(key).description
        wrapped(
            [
                _cell(ws, _text(names[key]), font=LABEL_FONT, align=TOP_ALIGN),
                _cell(ws, _text(desc), align=WRAP_ALIGN),
            ],
            desc,
        )


def _summary_cell(ws, value, kind: Kind, meta: ReportMeta, formats):
    # Numbers stay numbers (finance copies them); lists and the rest become text.
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if kind in ("money", "price", "int", "float", "percent") and numeric and not pd.isna(value):
        return _cell(ws, value, fmt=formats[kind], align=Alignment(horizontal="left"))
    return _cell(ws, _text(format_value(value, kind, meta)))


def _column_text(values: pa.Array, ctype: str, series: pd.Series, kind: Kind, meta) -> int:
    """The widest rendering of a column, in characters (roughly)."""
    if ctype == "s":
        lengths = pc.utf8_length(values)
        widest = pc.max(lengths).as_py()
        return int(widest or 0)
    if ctype == "b":
        return 5
    if kind in _NUMERIC_KINDS and pd.api.types.is_numeric_dtype(series.dtype):
        numbers = series.to_numpy(dtype="float64", na_value=np.nan)
        numbers = numbers[np.isfinite(numbers)]
        if not len(numbers):
            return 0
        big = float(np.abs(numbers).max())
        text = {"int": f"{big:,.0f}", "id": f"{big:.0f}", "price": f"{big:,.4f}"}.get(
            kind, f"{big:,.2f}"
        )
        return len(text) + len(meta.currency_symbol or "") + 2
    if series.notna().any():
        return len(NUMBER_FORMATS.get(kind, "yyyy-mm-dd hh:mm:ss"))
    return 0


def _width(header: str, content: int) -> float:
    return float(min(max(len(header) + 3, content) + 1, 60) if content or header else 8)


def _fitted_width(header: str, values: np.ndarray, kind: Kind, meta: ReportMeta) -> float:
    """A column width from the longest rendered value (characters, roughly)."""
    series = pd.Series(values)
    if kind in _NUMERIC_KINDS:
        series = pd.to_numeric(series, errors="coerce")
        arr, ctype = series_values(series, kind)
    else:
        arr, ctype = as_text(series), "s"
    return max(_width(header, _column_text(arr, ctype, series, kind, meta)), 8.0)


def _write_table(
    ws, report: ReportLike, key: str, df: pd.DataFrame, formats, charts, pending
) -> None:
    meta, spec = report.meta, report.spec(key)
    kinds = report.kinds(key)
    columns = list(df.columns)
    headers = unique_headers([clean_text(header_label(report, key, c)) for c in columns])
    values = [_column_values(df[col], kinds[col], meta) for col in columns]
    totals = report.totals(key)

    # Column widths, frozen panes and charts must be set before the first row streams out.
    for i, (col, header) in enumerate(zip(columns, headers, strict=True), 1):
        arr, ctype = values[i - 1]
        width = _width(header, _column_text(arr, ctype, df[col], kinds[col], meta))
        if totals is not None and col in totals and i > 1:
            width = max(width, _fitted_width(header, np.array([totals[col]]), kinds[col], meta))
        ws.column_dimensions[get_column_letter(i)].width = max(width, 8.0)
    if columns:
        freeze = min(max(spec.freeze_columns, 0), len(columns) - 1)
        ws.freeze_panes = f"{get_column_letter(freeze + 1)}2"
        ref = f"A1:{get_column_letter(len(columns))}{len(df) + 1}"
        if spec.excel_table and len(df):
            with warnings.catch_warnings():
                # openpyxl warns on every write-only add_table; the columns are named below.
                warnings.filterwarnings("ignore", "In write-only mode", UserWarning)
                ws.add_table(_table(ws.title, ref, headers))
        else:
            ws.auto_filter.ref = ref
        for rule_range, rule in _highlight_rules(spec.highlights, columns, kinds, len(df)):
            ws.conditional_formatting.add(rule_range, rule)
    _page_setup(ws, header_row=bool(columns))
    for chart, cell in charts:
        ws.add_chart(chart, cell)

    ws.append(
        [_cell(ws, h, font=HEADER_FONT, fill=HEADER_FILL, align=HEADER_ALIGN) for h in headers]
    )
    # Data rows: rendered column-wise (csframe.reports.sheetxml) and spliced in on save.
    # Style ids are registered here, through openpyxl, so styles.xml has them.
    cells = []
    for i, col in enumerate(columns):
        fmt = formats.get(kinds[col])
        style_id = _cell(ws, None, fmt=fmt).style_id if fmt else None
        arr, ctype = values[i]
        cells.append(column_cells(get_column_letter(i + 1), arr, ctype, style_id))
    tail = _totals_xml(ws, columns, kinds, totals, formats, row=len(df) + 2)
    n = len(df)

    def render():
        yield from render_rows(cells, first_row=2, n=n)
        if tail:
            yield tail

    pending[ws] = render


def _column_values(series: pd.Series, kind: Kind, meta: ReportMeta) -> tuple[pa.Array, str]:
    """A column's cell texts and type: months as text labels when the period has a month
    to date (so "2026-12 (to date)" shows in the sheet and on the chart axis), datetimes
    as wall times in the report's time zone, text cleaned (never prefixed)."""
    if kind == "month" and meta.to_date is not None and len(series):
        labels = [None if pd.isna(m) else meta.month_label(m) for m in series]
        return pa.array(labels, type=pa.string()), "s"
    arr, ctype = series_values(series, kind, tz=meta.tz)
    if ctype == "s":
        arr = clean_array(as_text(series))
    return arr, ctype


def _totals_xml(ws, columns, kinds, totals, formats, *, row: int) -> bytes:
    """The bold totals row below the data, as XML (values, not formulas)."""
    if totals is None:
        return b""
    parts = [f'<row r="{row}">']
    for i, col in enumerate(columns):
        value = totals.get(col)
        fmt = formats.get(kinds[col]) if i > 0 else None
        sid = _cell(ws, None, font=TOTAL_FONT, border=TOTAL_BORDER, fmt=fmt).style_id
        ref = f"{get_column_letter(i + 1)}{row}"
        if value is None or (isinstance(value, float) and not np.isfinite(value)):
            parts.append(f'<c r="{ref}" s="{sid}"/>')
        elif isinstance(value, int | float | np.integer | np.floating) and not isinstance(
            value, bool
        ):
            parts.append(f'<c r="{ref}" s="{sid}"><v>{_number_text(value)}</v></c>')
        else:
            text = html.escape(_text(value), quote=False).replace("\r", "&#13;")
            parts.append(f'<c r="{ref}" s="{sid}" t="inlineStr"><is><t>{text}</t></is></c>')
    parts.append("</row>")
    return "".join(parts).encode("utf-8")


def _number_text(value) -> str:
    if isinstance(value, int | np.integer):
        return str(int(value))
    return repr(float(value))


def unique_headers(headers: list[str]) -> list[str]:
    """Header labels made unique (case-insensitively, as Excel tables require) and
    non-empty.

    Example::

        >>> unique_headers(["Spend", "spend", ""])
        ['Spend', 'spend (2)', 'Column 3']
    """
    seen: set[str] = set()
    out = []
    for i, header in enumerate(headers, 1):
        base = header.strip() or f"Column {i}"
        name, n = base, 2
        while name.lower() in seen:
            name, n = f"{base} ({n})", n + 1
        seen.add(name.lower())
        out.append(name)
    return out


def table_name(sheet_title: str) -> str:
    """A valid, workbook-unique Excel table name for a sheet (letters, digits, ``_``; not
    a cell reference).

    Example::

        >>> table_name("monthly spend (2)")
        'T_monthly_spend__2_'
    """
    return "T_" + re.sub(r"[^A-Za-z0-9_]", "_", sheet_title)


def _table(sheet_title: str, ref: str, headers: list[str]) -> Table:
    # Columns named explicitly: a write-only sheet cannot be read back (module docstring).
    table = Table(displayName=table_name(sheet_title), ref=ref)
    table.tableColumns = [TableColumn(id=i, name=h) for i, h in enumerate(headers, 1)]
    table.autoFilter = AutoFilter(ref=ref)
    table.tableStyleInfo = TableStyleInfo(
        name=TABLE_STYLE, showRowStripes=True, showColumnStripes=False
    )
    return table


def _excel_literal(value) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(float(value)) if isinstance(value, float) else str(value)
    return '"' + str(value).replace('"', '""') + '"'


def _highlight_rules(highlights: tuple[Highlight, ...], columns, kinds, rows: int):
    """``(range, FormulaRule)`` per highlight whose column is on the sheet. Formula rules
    (not "cell is" rules) so that a rule can colour the whole row; blanks never match."""
    if not rows or not columns:
        return
    last = get_column_letter(len(columns))
    for h in highlights:
        if h.column not in columns:
            continue
        letter = get_column_letter(columns.index(h.column) + 1)
        cell = f"${letter}2"
        op = "=" if h.op == "==" else ("<>" if h.op == "!=" else h.op)
        threshold = h.threshold
        if kinds.get(h.column) == "text" and not isinstance(threshold, bool):
            threshold = clean_text(str(threshold))
        formula = f"AND(NOT(ISBLANK({cell})),{cell}{op}{_excel_literal(threshold)}"
        if h.min_column is not None and h.min_column in columns:
            m = f"${get_column_letter(columns.index(h.min_column) + 1)}2"
            formula += f",{m}>={_excel_literal(h.min_value)}"
        formula += ")"
        font, fill = HIGHLIGHT_STYLES[h.style]
        target = f"A2:{last}{rows + 1}" if h.row else f"{letter}2:{letter}{rows + 1}"
        yield target, FormulaRule(formula=[formula], font=font, fill=fill, stopIfTrue=False)


def _chart(spec: ChartSpec, layouts: dict[str, _Layout], meta: ReportMeta, formats):
    layout = layouts.get(spec.table)
    y = [c for c in spec.y if layout is not None and c in layout.columns]
    if layout is None or not y or layout.rows == 0:
        return None
    chart = LineChart() if spec.kind == "line" else BarChart()
    chart.title = spec.title or None
    chart.y_axis.title = spec.y_title or None
    chart.x_axis.title = spec.x_title or None
    chart.height, chart.width = 9, 18
    chart.legend.position = "b"
    y_fmt = formats.get(layout.kinds[y[0]])
    if y_fmt:
        chart.y_axis.number_format = y_fmt
        chart.y_axis.numFmt.sourceLinked = False
    x_fmt = formats.get(layout.kinds[spec.x])
    if x_fmt and not (layout.kinds[spec.x] == "month" and meta.to_date is not None):
        chart.x_axis.number_format = x_fmt
    # openpyxl >= 3.1 marks axes as deleted unless told otherwise; Excel then hides them.
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    ref_ws = layout.sheet
    for col in y:
        c = layout.col(col)
        data = Reference(ref_ws, min_col=c, min_row=1, max_row=layout.rows + 1)
        chart.add_data(data, titles_from_data=True)
    x = layout.col(spec.x)
    chart.set_categories(Reference(ref_ws, min_col=x, min_row=2, max_row=layout.rows + 1))
    if layout.kinds[y[0]] == "percent":
        chart.y_axis.scaling.min = 0
        chart.y_axis.scaling.max = 1
    if layout.rows > 24:  # about a dozen category labels, whatever the length
        chart.x_axis.tickLblSkip = math.ceil(layout.rows / 12)
        chart.x_axis.tickMarkSkip = chart.x_axis.tickLblSkip
    if isinstance(chart, LineChart):
        for series in chart.series:
            series.smooth = False
            series.marker.symbol = "circle" if layout.rows <= 40 else "none"
    else:
        chart.gapWidth = 60
    if len(y) == 1:
        chart.legend = None  # the title says what the one series is
    return chart
