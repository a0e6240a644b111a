"""The other renderings of a report: one self-contained HTML page, or a directory of CSVs.

Both are written atomically, like the workbook: the HTML goes to a hidden temporary file
renamed over the target; a CSV directory is built as a hidden sibling directory and then
swapped in (the old directory is renamed away first and removed after, so a reader sees
the old set or the new set, never a mix; between the two renames -- microseconds -- the
path does not exist, which is the best POSIX offers for directories).

HTML: title, account, period, key figures, alerts and notes, the charts as inline PNGs,
then every table with its totals row, numbers formatted like the workbook (money with the
account's symbol, percentages, months) and the report's highlights as red/amber/green
cells. No external files, scripts or fonts: it can be mailed as is.

CSV: ``summary.csv`` (key, label, value, text) plus ``<table>.csv`` per table, UTF-8,
ISO dates (months and days in the report's time zone, date-times in UTC with a ``Z``),
data rows only (no totals rows: whoever sums a CSV column would count them twice),
formula-like text prefixed with ``'`` (CSV has no cell types: Excel evaluates such fields
when it opens the file; see :mod:`csframe.reports.cells`).

Example::

    rep.to_html("out/usage-cost.html")
    rep.to_csv("out/usage-cost-2026-10")
"""

from __future__ import annotations

import base64
import contextlib
import csv
import html
import io
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from csframe.reports.cells import neutralise, neutralise_series
from csframe.reports.model import (
    Kind,
    ReportLike,
    ReportMeta,
    default_label,
    format_value,
    header_label,
)

_CSS = """
body{font-family:Calibri,Carlito,'Segoe UI',Arial,sans-serif;margin:24px;color:#222}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;color:#1F4E78;margin-top:28px}
table{border-collapse:collapse;margin:8px 0 4px;font-size:13px}
th,td{border:1px solid #d0d7de;padding:3px 8px}
thead th{background:#1F4E78;color:#fff;text-align:left;position:sticky;top:0}
td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.total td{font-weight:bold;border-top:2px solid #555}
.bad{background:#FFC7CE;color:#9C0006} .warn{background:#FFEB9C;color:#9C5700}
.good{background:#C6EFCE;color:#006100}
table.kv th{text-align:left;background:#f3f6f9;color:#222}
.alerts{color:#9C0006;font-weight:bold} .desc{color:#555;margin:0}
img{max-width:100%;height:auto}
"""

_NUMERIC = ("money", "price", "int", "id", "float", "percent")


def _tmp_sibling(path: Path, suffix: str = ".tmp") -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{suffix}")


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary sibling and ``os.replace``.

    Example::

        write_bytes_atomic("out/x.html", b"<html></html>")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(path)
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def replace_dir_atomic(build, path: str | os.PathLike) -> Path:
    """Call ``build(tmp_dir)`` to fill a fresh hidden sibling directory, then swap it in
    for ``path``. On failure the previous directory is untouched and nothing is left.

    Example::

        replace_dir_atomic(lambda d: (d / "a.csv").write_text("x"), "out/set")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(20, "Not a directory (CSV output is a directory)", str(path))
    tmp = _tmp_sibling(path, ".tmpdir")
    old = _tmp_sibling(path, ".old")
    try:
        tmp.mkdir()
        build(tmp)
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not path.exists():
            os.replace(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return path


# --- CSV -------------------------------------------------------------------------------------


def csv_frame(report: ReportLike, name: str) -> pd.DataFrame:
    """Table ``name`` as written to CSV: months/dates as ISO text, datetimes in UTC,
    formula-like text neutralised, data rows only.

    Example::

        csv_frame(rep, "monthly_spend").to_csv(index=False)
    """
    df = report.tables[name]
    out = {}
    for col, kind in report.kinds(name).items():
        s = df[col]
        if kind == "month":
            out[col] = s.dt.strftime("%Y-%m")
        elif kind == "date":
            out[col] = s.dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_datetime64_any_dtype(s):
            if isinstance(s.dtype, pd.DatetimeTZDtype):
                s = s.dt.tz_convert("UTC")
            out[col] = s.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif kind in _NUMERIC or pd.api.types.is_bool_dtype(s):
            out[col] = s
        else:
            out[col] = pd.Series(neutralise_series(s), index=df.index, dtype=object)
    return pd.DataFrame(out, index=df.index)


def write_csv(report: ReportLike, directory: str | os.PathLike) -> Path:
    """Write ``summary.csv`` and one CSV per table into ``directory`` (atomically).

    Example::

        write_csv(rep, "out/usage-cost-2026-10")
    """

    def build(tmp: Path) -> None:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["key", "label", "value", "text"])
        m = report.meta
        for key, value in [
            ("report", m.name),
            ("account", m.account.label),
            ("period_start", m.period[0]),
            ("period_end", m.period[1]),
            ("currency", m.currency or ""),
            ("generated_at", f"{m.generated_at:%Y-%m-%dT%H:%M:%SZ}"),
            ("time_zone", m.tz),
            ("month_to_date", f"{m.to_date:%Y-%m}" if m.to_date is not None else ""),
        ]:
            w.writerow([key, default_label(key), neutralise(str(value)), neutralise(str(value))])
        labels = dict(zip(report.summary, report.summary_lines(), strict=True))
        for key, value in report.summary.items():
            label, text = labels[key]
            raw = ", ".join(map(str, value)) if isinstance(value, list | tuple) else value
            raw = "" if raw is None else raw
            w.writerow([key, neutralise(label), neutralise(str(raw)), neutralise(text)])
        for alert in report.alerts:
            w.writerow(["alert", "Alert", neutralise(alert), neutralise(alert)])
        (tmp / "summary.csv").write_text(buf.getvalue(), encoding="utf-8")
        for name in report.tables:
            csv_frame(report, name).to_csv(tmp / f"{name}.csv", index=False)

    return replace_dir_atomic(build, directory)


# --- HTML ------------------------------------------------------------------------------------


def _fmt(value: Any, kind: Kind, meta: ReportMeta) -> str:
    if value is None or (not isinstance(value, str | list | tuple) and pd.isna(value)):
        return ""
    if kind == "date":
        return f"{pd.Timestamp(value):%Y-%m-%d}"
    if kind == "datetime":
        ts = pd.Timestamp(value)
        ts = ts.tz_convert(meta.tz) if ts.tzinfo is not None else ts
        return f"{ts:%Y-%m-%d %H:%M:%S}"
    if kind == "month" and isinstance(value, str):
        return value
    if kind == "month":
        return meta.month_label(value)
    if kind in ("money", "price"):
        sym = meta.currency_symbol or ""
        places = 4 if kind == "price" else 2
        return f"{'-' if value < 0 else ''}{sym}{abs(float(value)):,.{places}f}"
    return format_value(value, kind, meta)


def _table_html(report: ReportLike, name: str) -> str:
    df = report.tables[name]
    spec, kinds, meta = report.spec(name), report.kinds(name), report.meta
    columns = list(df.columns)
    cls = pd.DataFrame("", index=df.index, columns=columns)
    # In Excel the first rule has priority where rules overlap: apply it last here.
    for h in reversed(spec.highlights):
        if h.column not in df:
            continue
        volume = df.get(h.min_column) if h.min_column else None
        mask = h.mask(df[h.column], volume).to_numpy()
        targets = columns if h.row else [h.column]
        for col in targets:
            cls.loc[mask, col] = h.style
    head = "".join(f"<th>{html.escape(header_label(report, name, c))}</th>" for c in columns)
    rows = []
    values = {c: df[c].tolist() for c in columns}
    klass = {c: cls[c].tolist() for c in columns}
    for i in range(len(df)):
        cells = []
        for c in columns:
            classes = " ".join(filter(None, ["n" if kinds[c] in _NUMERIC else "", klass[c][i]]))
            attr = f' class="{classes}"' if classes else ""
            cells.append(f"<td{attr}>{html.escape(_fmt(values[c][i], kinds[c], meta))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    totals = report.totals(name)
    if totals is not None:
        cells = []
        for c in columns:
            v = totals.get(c)
            text = str(v) if c == columns[0] else _fmt(v, kinds[c], meta)
            num = ' class="n"' if kinds[c] in _NUMERIC and c != columns[0] else ""
            cells.append(f"<td{num}>{html.escape(text)}</td>")
        rows.append('<tr class="total">' + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _figure_html(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<p><img alt="chart" src="data:image/png;base64,{data}"></p>'


def render_html(report: ReportLike, *, max_rows: int | None = 5000) -> str:
    """The report as one self-contained HTML document. Tables longer than ``max_rows``
    are cut (with a note saying how many rows the workbook has): a browser is no place
    for 100,000 rows.

    Example::

        Path("r.html").write_text(render_html(rep), encoding="utf-8")
    """
    m = report.meta
    info = [
        ("Account", m.account.label or "-"),
        ("Period", m.period_label),
        ("Currency", m.currency or "-"),
        ("Generated", f"{m.generated_at:%Y-%m-%d %H:%M} UTC"),
        ("Times", m.tz),
        *report.summary_lines(),
    ]
    kv = "".join(f"<tr><th>{html.escape(a)}</th><td>{html.escape(b)}</td></tr>" for a, b in info)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(m.title)} {html.escape(m.period_label)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(m.title)}</h1>",
        f'<table class="kv">{kv}</table>',
    ]
    if report.alerts:
        items = "".join(f"<li>{html.escape(a)}</li>" for a in report.alerts)
        parts.append(f'<h2>Alerts</h2><ul class="alerts">{items}</ul>')
    if report.notes:
        items = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
        parts.append(f"<h2>Notes</h2><ul>{items}</ul>")
    for fig in report.figures.values():
        parts.append(_figure_html(fig))
    for name, df in report.tables.items():
        parts.append(f'<h2 id="{html.escape(name)}">{html.escape(name)}</h2>')
        desc = report.spec(name).description
        if desc:
            parts.append(f'<p class="desc">{html.escape(desc)}</p>')
        if max_rows is not None and len(df) > max_rows:
            parts.append(
                f'<p class="desc">First {max_rows:,} of {len(df):,} rows; the workbook and '
                "CSV output have them all.</p>"
            )
            cut = _truncated(report, name, max_rows)
            parts.append(_table_html(cut, name))
        else:
            parts.append(_table_html(report, name))
    parts.append("</body></html>")
    return "\n".join(parts)


def _truncated(report: ReportLike, name: str, n: int) -> ReportLike:
    import dataclasses

    tables = {name: report.tables[name].head(n)}
    specs = {name: dataclasses.replace(report.spec(name), totals=())}
    return dataclasses.replace(report, tables=tables, specs=specs, figures={})


def write_html(report: ReportLike, path: str | os.PathLike) -> Path:
    """Write :func:`render_html` to ``path`` atomically.

    Example::

        write_html(rep, "out/usage-cost.html")
    """
    return write_bytes_atomic(path, render_html(report).encode("utf-8"))
