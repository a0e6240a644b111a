"""``csframe demo`` (what ``make demo`` runs): no credentials, a workbook and a summary."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

REPO = Path(__file__).resolve().parents[1]
SHEETS = [
    "Summary",
    "monthly_spend",
    "subaccounts",
    "monthly_by_channel",
    "monthly_by_subaccount",
    "breakdown",
    "cost_per_delivered",
    "reconciliation",
    "detail",
]


def grand_total(ws) -> float:
    """The totals row's value in the sheet's "Total (...)" column."""
    header = [c.value for c in ws[1]]
    column = next(i for i, h in enumerate(header, 1) if str(h).startswith("Total"))
    assert ws.cell(row=ws.max_row, column=1).value == "Total"
    return ws.cell(row=ws.max_row, column=column).value


def test_make_demo_command(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKSEND_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["CSFRAME_CACHE_DIR"] = str(tmp_path / "cache")
    done = subprocess.run(
        [sys.executable, "-m", "csframe", "demo", "--out", "tmp/demo.xlsx"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    out = done.stdout
    words = ("months", "channels", "total spend", "reconciled", str(Path("tmp") / "demo.xlsx"))
    for word in words:
        assert word in out, out

    wb = load_workbook(tmp_path / "tmp" / "demo.xlsx")
    assert wb.sheetnames == SHEETS
    assert len(wb["Summary"]._charts) == 2
    # The printed total is the workbook's grand total.
    total = grand_total(wb["monthly_spend"])
    printed = re.search(r"total spend\s+\D*([\d,]+\.\d\d)", out)
    assert printed, out
    assert float(printed.group(1).replace(",", "")) == pytest.approx(total, abs=0.006)
    assert not (tmp_path / "cache").exists()  # the demo does not cache sandbox answers


def test_run_demo_returns_the_summary(tmp_path):
    from csframe.demo import format_summary, run_demo

    summary = run_demo(tmp_path / "d.xlsx", "small", start="2026-01", end="2026-03")
    assert summary["workbook"] == str(tmp_path / "d.xlsx")
    assert summary["sheets"] == SHEETS
    assert summary["period"] == ["2026-01", "2026-03"]
    assert summary["months"] == 3
    assert isinstance(summary["channels"], list)
    assert summary["total_spend"] >= 0
    assert summary["currency"]
    text = format_summary(summary)
    assert "total spend" in text and summary["workbook"] in text
    wb = load_workbook(summary["workbook"])
    assert wb.sheetnames == SHEETS
    assert grand_total(wb["monthly_spend"]) == pytest.approx(summary["total_spend"], abs=0.005)
    # The sandbox refunds some undelivered SMS: usage (billed) is below history (sent)
    # in those rows, and only there, as the reconciliation sheet shows.
    rec = wb["reconciliation"]
    header = [c.value for c in rec[1]]
    rows = [dict(zip(header, (c.value for c in r), strict=True)) for r in rec.iter_rows(min_row=2)]
    bad = [r for r in rows if r["Status"] == "difference"]
    assert summary["reconciliation_differences"] == len(bad) > 0
    assert {r["Channel"] for r in bad} == {"sms"}
    assert all(r["Spend diff (AUD)"] < 0 and r["Units diff"] < 0 for r in bad)
    assert summary["cost_per_delivered"] > 0
