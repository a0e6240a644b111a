"""Benchmark: the usage-cost and delivery reports over 12 months and 1,000,000 messages
against the loads they need, the usage-cost report against a naive one, and the workbook
writer on a 100,000-row detail sheet.

The sandbox runs in a subprocess (``running(scale=..., process=True)``: it does not share
this process's GIL or memory), seeded with 1,000,000 SMS over 13 months plus the other
channels. First, the reports on top of their load (target: a report takes <= 1.2x the
load it needs):

0. For usage-cost and for delivery (default period: the last 12 complete months), each in a
   fresh process, with the HTTP cache off and then warm (filled by a first report run):
   - load: the account, ``Client.history`` of the report's channels over the same instants
     (usage-cost: every billed channel with a history, UTC months; delivery: SMS, months in
     the account's time zone) and, for usage-cost, ``Client.usage`` of the same months;
   - stream: the same pages read as ``Client.iter_history`` chunks that are dropped (what
     the report reads before it computes anything; report / stream is its own cost);
   - report: ``usage_cost(cs)`` / ``delivery(cs)`` -- the same loads plus every table, the
     figures and the summary.
   Each is run ``--repeat`` times (default 2; warm: ``--warm-repeat``, default 5: a
   few seconds each, and the 2 shared cores made best-of-2 swing by 2x), interleaved, and
   the fastest run counts. The warm runs come right after the fill, while the open
   window's pages (5 minutes in the HTTP cache) are still fresh.
   Printed: wall time, rows, peak RSS, HTTP requests, report / load (the target) and
   report / stream.
   ``--ratios-only`` stops after this table.

Then two races, each against a baseline in the same run:

1. The report (12 months, usage + the history of every billed channel, reconciliation,
   cost per delivered):
   - naive: ``cs.history("sms")`` as one full frame (bodies and all) + ``cs.usage()`` and
     the same numbers with plain pandas groupbys -- what one writes by hand, SMS only;
   - csframe, no HTTP cache (like the naive run): ``usage_cost(cs)`` -- history of every
     billed channel streamed in chunks, only the columns the report needs, all the tables,
     the reconciliation and the figures;
   - csframe cold: the same with an empty HTTP cache (which it fills);
   - csframe warm: the same again, served from the cache.
   Each run is a fresh subprocess, so its peak RSS is its own (no memory freed by an earlier
   run and reused) and imports (matplotlib) are paid before the clock starts.
2. The workbook: a report whose detail sheet has 100,000 failed-messages rows (the 17
   columns of ``delivery``'s detail sheet, real sandbox rows):
   - naive: ``DataFrame.to_excel(engine="openpyxl")`` -- no formats, no table, no
     neutralising;
   - csframe: ``Report.to_excel`` -- Summary, header styles, number formats, Excel table,
     frozen panes, formula-safe text, written atomically. Target: under 10 s.

Prints wall time, rows/s, peak RSS (of the run's own process, above its RSS after imports)
and speed-ups against the baseline.

Run:  .venv/bin/python bench/reports.py [--rows 1000000] [--detail-rows 100000] [--latency-ms 0]
      .venv/bin/python bench/reports.py --rows 100000 --ratios-only   # quick
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
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
from csframe.reports.history import HISTORY_SOURCES  # noqa: E402
from csframe.reports.periods import period  # noqa: E402
from csframe.sandbox import running  # noqa: E402

NAIVE_REPORT = "naive: full SMS history frame + pandas"
NAIVE_WORKBOOK = "naive: DataFrame.to_excel (openpyxl)"
CSFRAME_WORKBOOK = "csframe Report.to_excel (formatted table)"


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


def _child(job: str, base_url: str, creds: dict, cache_dir: str, workers: int) -> dict:
    """One report run in a fresh process: wall time, rows, peak RSS (sampled) and facts."""
    import matplotlib.figure  # noqa: F401  -- imports before the clock

    first, last = period()
    cache = job not in ("csframe, no HTTP cache", NAIVE_REPORT)
    runs: list[Run] = []
    with csframe.Client(
        **creds,
        base_url=base_url,
        cache=cache,
        cache_dir=cache_dir,
        max_workers=workers,
        progress=False,
    ) as cs:
        with measure(job, runs) as run:
            if job == NAIVE_REPORT:
                history, naive = naive_report(cs, first, last)
                run.rows = len(history)
                run.extra = {"sms_history_spend": float(naive["recon"]["history"].sum())}
            else:
                rep = usage_cost(cs)
                rec = rep.tables["reconciliation"]
                run.rows = int(rec["messages"].sum())
                sms = rec.loc[rec["channel"] == "sms", "history_spend"].sum()
                run.extra = {
                    "sms_history_spend": float(sms),
                    "channels": rep.summary["reconciled_channels"],
                    "differences": rep.summary["reconciliation_differences"],
                    "total_spend": rep.meta.money(rep.summary["total_spend"]),
                    "period": rep.meta.period_label,
                }
        run.extra["requests"] = cs.requests_sent
    return vars(run)


def _workbook_child(job: str, detail: pd.DataFrame, path: str) -> dict:
    """One workbook write in a fresh process."""
    import openpyxl  # noqa: F401  -- imports before the clock

    frame = detail.copy()
    if job == NAIVE_WORKBOOK:
        frame["date"] = frame["date"].dt.tz_localize(None)  # to_excel refuses tz-aware
    runs: list[Run] = []
    with measure(job, runs) as run:
        if job == NAIVE_WORKBOOK:
            frame.to_excel(path, sheet_name="failed_messages", index=False, engine="openpyxl")
        else:
            detail_report(frame).to_excel(path)
        run.rows = len(frame)
    return vars(run)


def _ratio_child(
    job: str,
    name: str,
    side: str,
    cache: bool,
    base_url: str,
    creds: dict,
    cache_dir: str,
    workers: int,
    channels: tuple[str, ...] = (),
) -> dict:
    """One side of a report-over-its-load race, in a fresh process: ``side="report"`` runs
    the ``name`` report (``usage_cost`` or ``delivery``, defaults: the last 12 complete
    months); ``side="load"`` loads what that report needs and nothing else: the account,
    ``Client.history`` of the same channels over the same instants (``channels``: history
    channels) and, for usage-cost, ``Client.usage`` of the same months; ``side="stream"``
    the same with ``Client.iter_history`` chunks dropped as they come (what the report
    itself reads, before it computes anything)."""
    import matplotlib.figure  # noqa: F401  -- imports before the clock

    from csframe.reports import delivery
    from csframe.reports.history import window
    from csframe.reports.model import account_info
    from csframe.reports.periods import resolve_period
    from csframe.reports.usage_cost import BILLING_TZ

    runs: list[Run] = []
    with csframe.Client(
        **creds,
        base_url=base_url,
        cache=cache,
        cache_dir=cache_dir,
        max_workers=workers,
        progress=False,
    ) as cs:
        with measure(job, runs) as run:
            if side == "report":
                rep = usage_cost(cs) if name == "usage_cost" else delivery(cs)
                if name == "usage_cost":
                    rec = rep.tables["reconciliation"]
                    run.rows = int(rec["messages"].sum())
                    run.extra["channels"] = tuple(
                        HISTORY_SOURCES[c].channel for c in rep.summary["reconciled_channels"]
                    )
                else:
                    run.rows = int(rep.summary["messages"])
                    run.extra["channels"] = ("sms",)
            else:
                account = account_info(cs)
                tz = BILLING_TZ if name == "usage_cost" else account.timezone or "UTC"
                per = resolve_period(tz=tz)
                if name == "usage_cost":
                    baseline = per.first - pd.offsets.MonthBegin(1)
                    cs.usage(start=f"{baseline:%Y-%m}", end=f"{per.last:%Y-%m}")
                t0, t1 = window(per.first, per.last)
                if side == "load":
                    run.rows = sum(len(cs.history(ch, t0, t1)) for ch in channels)
                else:  # "stream": the same pages as frames of 200 pages, each dropped
                    run.rows = sum(
                        len(chunk)
                        for ch in channels
                        for chunk in cs.iter_history(ch, start=t0, end=t1, chunk_pages=200)
                    )
                run.extra["channels"] = channels
        run.extra["requests"] = cs.requests_sent
    return vars(run)


def report_ratios(
    base_url: str, creds: dict, cache_dir: str, workers: int, repeat: int, warm_repeat: int
) -> str:
    """Usage-cost and delivery reports against the loads they need, with the HTTP cache warm
    and off: wall time, peak RSS and report/load (target: <= 1.2x), best of ``warm_repeat``
    and ``repeat``."""
    lines = [
        f"reports on top of their load (each run a fresh process, best of {warm_repeat} warm, "
        f"{repeat} without cache; "
        "load = account + "
        "Client.history of the report's channels and window [+ Client.usage]; stream = the "
        "same pages as iter_history chunks, dropped)",
        f"{'run':<44}{'wall s':>9}{'rows':>11}{'peak MB':>10}{'requests':>10}"
        f"{'report/load':>13}{'report/stream':>15}",
    ]
    worst = 0.0
    for name in ("usage_cost", "delivery"):
        # fills the HTTP cache (and warms the sandbox's SQLite pages) for the runs below
        fill = run_isolated(
            _ratio_child, f"{name} (fills cache)", name, "report", True, base_url, creds,
            cache_dir, workers,
        )  # fmt: skip
        channels = tuple(fill.extra["channels"])
        for cache, regime, runs in ((True, "warm cache", warm_repeat), (False, "no cache", repeat)):
            # each side `runs` times, interleaved; the fastest run of each counts (the
            # machine's other load only ever adds time)
            best: dict[str, Run] = {}
            for _ in range(runs):
                for side in ("load", "stream", "report"):
                    r = run_isolated(
                        _ratio_child, f"{name} {side}, {regime}", name, side, cache, base_url,
                        creds, cache_dir, workers, channels,
                    )  # fmt: skip
                    if side not in best or r.seconds < best[side].seconds:
                        best[side] = r
            load, stream, rep = best["load"], best["stream"], best["report"]
            ratio = rep.seconds / load.seconds
            worst = max(worst, ratio)
            shown = f"{ratio:.2f}x", f"{rep.seconds / stream.seconds:.2f}x"
            for r, (vs_load, vs_stream) in ((load, ("", "")), (stream, ("", "")), (rep, shown)):
                lines.append(
                    f"{r.name:<44}{r.seconds:>9.2f}{r.rows:>11,}{r.peak_rss_mb:>10.1f}"
                    f"{r.extra['requests']:>10,}{vs_load:>13}{vs_stream:>15}"
                )
    lines.append(
        f"  target: each report <= 1.2x its load -> worst {worst:.2f}x "
        f"({'met' if worst <= 1.2 else 'MISSED'}); load average {os.getloadavg()[0]:.2f}"
    )
    return "\n".join(lines)


def run_isolated(fn, job: str, *args) -> Run:
    """``fn(job, *args)`` in a fresh (spawned) process; its result as a :class:`Run`."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        got = pool.submit(fn, job, *args).result()
    return Run(**got)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="SMS seeded in the sandbox")
    ap.add_argument("--detail-rows", type=int, default=100_000)
    ap.add_argument("--latency-ms", type=float, default=0)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument(
        "--repeat", type=int, default=2, help="runs of each side of a report/load race (best)"
    )
    ap.add_argument("--warm-repeat", type=int, default=5, help="the same, for the warm-cache races")
    ap.add_argument(
        "--ratios-only",
        action="store_true",
        help="only the reports-over-their-load table (skips the naive race and the workbook)",
    )
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
        ratio_cache = str(tmp / "ratio-cache")
        ratios = report_ratios(
            sb.base_url, sb.credentials, ratio_cache, args.workers, args.repeat, args.warm_repeat
        )
        print(ratios)
        shutil.rmtree(ratio_cache, ignore_errors=True)  # ~1 GB at 1,000,000 messages
        if args.ratios_only:
            return 0
        print()

        # 1. the report (each run in its own process) -----------------------------------
        cache_dir = str(tmp / "cache")
        args_ = (sb.base_url, sb.credentials, cache_dir, args.workers)
        for job in (
            NAIVE_REPORT,
            "csframe, no HTTP cache",
            "csframe usage_cost, cold (empty cache)",
            "csframe usage_cost, warm (cache filled)",
        ):
            runs.append(run_isolated(_child, job, *args_))
        info = runs[-1].extra
        spends = {round(r.extra["sms_history_spend"], 6) for r in runs}
        assert len(spends) == 1, f"runs disagree on the SMS history spend: {spends}"
        print(report(runs, NAIVE_REPORT, f"usage-cost report, {info['period']}"))
        print(
            f"  reconciled channels {', '.join(info['channels'])}: {info['differences']} "
            f"differences; total spend {info['total_spend']}; HTTP requests: "
            + ", ".join(
                f"{short} {r.extra['requests']:,}"
                for short, r in zip(("naive", "no cache", "cold", "warm"), runs, strict=True)
            )
        )
        # The detail rows for the workbook race: real failed/pending/cancelled sandbox rows.
        with csframe.Client(
            **sb.credentials,
            base_url=sb.base_url,
            cache=False,
            max_workers=args.workers,
            progress=False,
        ) as cs:
            history = cs.history("sms", first, last + pd.offsets.MonthBegin(1))
        detail = history.loc[
            history["status"] != "Completed", [c for c in FAILED_COLUMNS if c in history]
        ]
        detail = pd.concat([detail] * (args.detail_rows // max(len(detail), 1) + 1))
        detail = detail.head(args.detail_rows).reset_index(drop=True)
        del history
        gc.collect()

    # 2. the workbook (each write in its own process) ------------------------------------
    naive_path, csframe_path = tmp / "naive.xlsx", tmp / "csframe.xlsx"
    wruns = [
        run_isolated(_workbook_child, NAIVE_WORKBOOK, detail, str(naive_path)),
        run_isolated(_workbook_child, CSFRAME_WORKBOOK, detail, str(csframe_path)),
    ]
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
