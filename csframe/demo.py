"""``csframe demo`` (what ``make demo`` runs): the whole path once, with no credentials.

Starts the embedded sandbox in-process (seeded, on 127.0.0.1), loads the account's usage
through :class:`csframe.Client`, builds the usage-cost report, writes its workbook and
prints a short summary: months, channels, total spend and the workbook's path.

Example::

    $ python -m csframe demo --out out/usage-cost.xlsx

    from csframe.demo import run_demo
    summary = run_demo("out/usage-cost.xlsx")
    summary["total_spend"], summary["workbook"]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

DEFAULT_OUT = "out/usage-cost.xlsx"


def run_demo(
    out: str | Path = DEFAULT_OUT,
    scale: str = "small",
    *,
    seed: int = 42,
    start: str | None = None,
    end: str | None = None,
) -> dict[str, Any]:
    """Run the demo; returns its summary (plain values, JSON-friendly).

    Keys: ``workbook`` (path), ``sheets``, ``period`` (first and last month), ``months``,
    ``channels``, ``subaccounts``, ``total_units``, ``total_spend`` (and as text,
    ``total_spend_text``), ``currency``, ``account``, ``delivered``,
    ``cost_per_delivered`` (and ``cost_per_delivered_text``), ``reconciliation_differences``
    (usage vs the sum of history prices), ``month_to_date`` (the running month when the
    period includes it, else None). Without ``start``/``end``: the last 12 complete months
    (the sandbox's data always ends today; the running month is no complete month).

    Example::

        run_demo("out/usage-cost.xlsx")["months"]   # 12
    """
    # Imported here: `csframe --help` must not start servers or load matplotlib.
    from csframe.client import Client
    from csframe.reports import usage_cost
    from csframe.sandbox import running

    with (
        running(scale=scale, seed=seed) as sb,
        # The sandbox is new on every run; its answers are not worth caching.
        Client(**sb.credentials, base_url=sb.base_url, cache=False, progress=False) as cs,
    ):
        report = usage_cost(cs, start=start, end=end)
    path = report.to_excel(out)
    s, m = report.summary, report.meta
    return {
        "workbook": str(path),
        "sheets": ["Summary", *report.tables],
        "period": list(m.period),
        "months": m.months,
        "channels": list(s["channels"]),
        "subaccounts": s["subaccounts"],
        "total_units": s["total_units"],
        "total_spend": round(float(s["total_spend"]), 2),
        "total_spend_text": m.money(s["total_spend"]),
        "currency": m.currency,
        "account": m.account.label,
        "delivered": s.get("delivered"),
        "cost_per_delivered": s.get("cost_per_delivered"),
        "cost_per_delivered_text": m.money(s.get("cost_per_delivered"), 4),
        "reconciliation_differences": s.get("reconciliation_differences"),
        "month_to_date": f"{m.to_date:%Y-%m}" if m.to_date is not None else None,
    }


def format_summary(summary: dict[str, Any]) -> str:
    """The lines ``csframe demo`` prints.

    Example::

        print(format_summary(run_demo()))
    """
    return "\n".join(
        [
            "csframe demo: embedded ClickSend sandbox, loaded through csframe.Client",
            f"  account      {summary['account'] or '-'}",
            f"  months       {summary['months']} ({summary['period'][0]} to {summary['period'][1]})",
            f"  channels     {', '.join(summary['channels']) or 'none'}",
            f"  subaccounts  {summary['subaccounts']}",
            f"  total spend  {summary['total_spend_text']}",
            *(
                [
                    f"  delivered    {summary['delivered']:,} SMS, "
                    f"{summary['cost_per_delivered_text']} each",
                    f"  reconciled   usage vs history: "
                    f"{summary['reconciliation_differences']} difference(s)",
                ]
                if summary.get("reconciliation_differences") is not None
                else []
            ),
            f"  workbook     {summary['workbook']}",
        ]
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``csframe demo --out PATH [--scale small] [--seed 42]``.

    Example::

        parser = argparse.ArgumentParser(); register(parser.add_subparsers())
    """
    p = subparsers.add_parser(
        "demo",
        help="run the usage-cost report against an embedded sandbox (no credentials)",
        description="Start the embedded sandbox, load usage through the client, write the "
        "usage-cost workbook and print a summary.",
    )
    p.add_argument("--out", default=DEFAULT_OUT, metavar="PATH", help=f"default: {DEFAULT_OUT}")
    p.add_argument("--scale", default="small", help="sandbox data size (default: small)")
    p.add_argument("--seed", type=int, default=42, help="sandbox seed (default: 42)")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    from csframe.errors import CsframeError
    from csframe.reports.cli import EXIT_API, EXIT_OUTPUT, EXIT_USAGE

    try:
        summary = run_demo(args.out, args.scale, seed=args.seed)
    except CsframeError as exc:
        return _fail(exc, EXIT_API)
    except ValueError as exc:  # e.g. an unknown --scale
        return _fail(exc, EXIT_USAGE)
    except OSError as exc:  # the workbook (or the sandbox's port) was refused
        return _fail(exc, EXIT_OUTPUT)
    print(format_summary(summary))
    return 0


def _fail(error: object, code: int) -> int:
    print(f"csframe demo: error: {error}", file=sys.stderr)
    return code
