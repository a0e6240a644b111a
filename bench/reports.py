"""Benchmark: the usage-cost report over 12 months and 1,000,000 messages, and the workbook
writer on a 100,000-row detail sheet.

The sandbox runs in a subprocess (``running(scale=..., process=True)``: it does not share
this process's GIL or memory), seeded with 1,000,000 SMS over 13 months plus the other
channels. Two races, each against a baseline in the same run:

1. The report (12 months, usage + the history of every billed channel, reconciliation,
   cost per delivered):
   - naive: ``cs.history("sms")`` as one full frame (bodies and all) + ``cs.usage()`` and
     the same numbers with plain pandas groupbys -- what one writes by hand, SMS only;
   - csframe cold: ``usage_cost(cs)`` with an empty HTTP cache (history streamed in
     chunks, only the columns the report needs);
   - csframe warm: the same call again, served from the cache.
2. The workbook: a report whose detail sheet has 100,000 failed-messages rows (the 17
   columns of ``delivery``'s detail sheet, real sandbox rows):
   - naive: ``DataFrame.to_excel(engine="openpyxl")`` -- no formats, no table, no
     neutralising;
   - csframe: ``Report.to_excel`` -- Summary, header styles, number formats, Excel table,
     frozen panes, formula-safe text, written atomically. Target: under 10 s.

Prints wall time, rows/s, peak RSS of this process and speed-ups against the baseline.

Run:  .venv/bin/python bench/reports.py [--rows 1000000] [--detail-rows 100000] [--latency-ms 0]
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Run, measure, report  # noqa: E402

import csframe  # noqa: E402
from csframe.reports import ReportMeta, TableSpec, usage_cost  # noqa: E402
from csframe.reports.base import AccountInfo, Report  # noqa: E402
from csframe.reports.delivery import FAILED_COLUMNS  # noqa: E402
from csframe.reports.usage_cost import period  # noqa: E402
from csframe.sandbox import running  # noqa: E402

NAIVE_REPORT = "naive: full SMS history frame + pandas"
NAIVE_WORKBOOK = "naive: DataFrame.to_excel (openpyxl)"


def naive_report(cs, first, last) -> tuple[pd.DataFrame, dict]:
    """The numbers by hand: monthly spend, delivered per month, usage vs history (SMS)."""
    end = last + pd.offsets.MonthBegin(1)
    h = cs.history("sms", first, end)
    u = cs.usage(start=f"{first:%Y-%m}", end=f"{last:%Y-%m}")
    month = h["date"].dt.tz_localize(None).dt.to_period("M").dt.to_timestamp().dt.tz_localize("UTC")
    spend = u.pivot_table(
        index="month", columns="channel", values="price", aggfunc="sum", observed=True
    )
    delivered = h[h["status_code"] == "201"].groupby(month).size()
    hist = h.groupby([month.rename("month"), "subaccount_id"])["message_price"].sum()
    sms = u[u["channel"] == "sms"].set_index(["month", "subaccount_id"])["price"]
    recon = pd.DataFrame({"usage": sms, "history": hist}).fillna(0)
    recon["diff"] = recon["usage"] - recon["history"]
    return h, {"spend": spend, "delivered": delivered, "recon": recon}


def detail_report(detail: pd.DataFrame) -> Report:
    """A report with the failed-messages detail sheet only (plus the Summary)."""
    meta = ReportMeta(
        name="bench",
        title="Detail sheet benchmark",
        start=pd.Timestamp("2026-01-01", tz="UTC"),
        end=pd.Timestamp("2026-01-01", tz="UTC"),
        account=AccountInfo("ACME Pty Ltd", "acme", "AUD", "$"),
        currency="AUD",
    )
    spec = TableSpec(
        "Failed messages.",
        kinds={"message_price": "money", "date": "datetime"},
        freeze_columns=2,
    )
    return Report(
        meta=meta,
        tables={"failed_messages": detail},
        specs={"failed_messages": spec},
        summary={"rows": len(detail)},
        summary_kinds={"rows": "int"},
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="SMS seeded in the sandbox")
    ap.add_argument("--detail-rows", type=int, default=100_000)
    ap.add_argument("--latency-ms", type=float, default=0)
    ap.add_argument("--workers", type=int, default=8)
    args = ap.parse_args(argv)

    try:
        import lxml  # noqa: F401

        xml = "lxml"
    except ImportError:
        xml = "et_xmlfile (no lxml)"
    print(f"pandas {pd.__version__}, openpyxl XML writer: {xml}")

    tmp = Path(tempfile.mkdtemp(prefix="csframe-bench-reports-"))
    first, last = period()
    runs: list[Run] = []
    t0 = time.perf_counter()
    with running(scale=args.rows, seed=42, latency_ms=args.latency_ms, process=True) as sb:
        print(f"sandbox: {args.rows:,} SMS seeded in {time.perf_counter() - t0:.1f}s (subprocess)")

        def client(cache):
            return csframe.Client(
                **sb.credentials,
                base_url=sb.base_url,
                cache=cache,
                cache_dir=tmp / "cache",
                max_workers=args.workers,
                progress=False,
            )

        # 1. the report ------------------------------------------------------------------
        with client(False) as cs, measure(NAIVE_REPORT, runs) as run:
            history, naive = naive_report(cs, first, last)
            run.rows = len(history)
        detail = history.loc[
            history["status"] != "Completed", [c for c in FAILED_COLUMNS if c in history]
        ]
        detail = pd.concat([detail] * (args.detail_rows // max(len(detail), 1) + 1))
        detail = detail.head(args.detail_rows).reset_index(drop=True)
        del history
        gc.collect()

        with client(True) as cs:
            with measure("csframe usage_cost, cold (empty cache)", runs) as run:
                rep = usage_cost(cs)
                run.rows = int(rep.tables["reconciliation"]["messages"].sum())
            cold_requests = cs.requests_sent
            with measure("csframe usage_cost, warm (cache filled)", runs) as run:
                rep = usage_cost(cs)
                run.rows = int(rep.tables["reconciliation"]["messages"].sum())
            warm_requests = cs.requests_sent - cold_requests
        s = rep.summary
        sms_recon = rep.tables["reconciliation"]
        sms_recon = sms_recon[sms_recon["channel"] == "sms"]
        assert abs(sms_recon["history_spend"].sum() - naive["recon"]["history"].sum()) < 1e-6
        print(report(runs, NAIVE_REPORT, f"usage-cost report, {rep.meta.period_label}"))
        print(
            f"  reconciled channels {', '.join(s['reconciled_channels'])}: "
            f"{s['reconciliation_differences']} differences; total spend "
            f"{rep.meta.money(s['total_spend'])}; requests cold {cold_requests:,}, "
            f"warm {warm_requests:,}"
        )

    # 2. the workbook ----------------------------------------------------------------------
    wruns: list[Run] = []
    naive_path, csframe_path = tmp / "naive.xlsx", tmp / "csframe.xlsx"
    gc.collect()
    with measure(NAIVE_WORKBOOK, wruns) as run:
        frame = detail.copy()
        frame["date"] = frame["date"].dt.tz_localize(None)  # to_excel refuses tz-aware
        frame.to_excel(naive_path, sheet_name="failed_messages", index=False, engine="openpyxl")
        run.rows = len(frame)
    del frame
    gc.collect()
    with measure("csframe Report.to_excel (formatted table)", wruns) as run:
        detail_report(detail).to_excel(csframe_path)
        run.rows = len(detail)
    cells = len(detail) * len(detail.columns)
    print()
    print(
        report(
            wruns,
            NAIVE_WORKBOOK,
            f"workbook: {len(detail):,} rows x {len(detail.columns)} columns ({cells:,} cells)",
        )
    )
    for label, path in (("naive", naive_path), ("csframe", csframe_path)):
        print(f"  {label:<8} file size {path.stat().st_size / 2**20:6.1f} MB  ({path})")
    target = next(r for r in wruns if r.name.startswith("csframe")).seconds
    print(
        f"  target: under 10 s for the 100,000-row sheet -> {target:.2f} s "
        f"({'met' if target < 10 else 'MISSED'})"
    )
    # The usage-cost workbook itself, for scale.
    with measure("csframe usage-cost workbook", wruns) as run:
        path = rep.to_excel(tmp / "usage-cost.xlsx")
        run.rows = sum(len(t) for t in rep.tables.values())
    print(
        f"  usage-cost workbook ({len(rep.tables)} sheets, {run.rows:,} rows): "
        f"{run.seconds:.2f} s, {path.stat().st_size / 2**10:.0f} KB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
