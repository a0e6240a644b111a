"""Alerts worth reading: a minimum volume before a failure rate counts, and opt-out lists
judged as what they are."""

from __future__ import annotations

import numpy as np
import pandas as pd
from openpyxl import load_workbook

from csframe.reports import contacts_health, delivery
from csframe.reports.delivery import build as build_delivery


def _history(per_day: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """``{day: (delivered, failed)}`` as a history frame."""
    dates, status = [], []
    for day, (ok, bad) in per_day.items():
        dates += [f"{day}T03:00:00Z"] * (ok + bad)
        status += ["Delivered"] * ok + ["Failed"] * bad
    n = len(dates)
    return pd.DataFrame(
        {
            "date": pd.to_datetime(dates, utc=True).astype("datetime64[s, UTC]"),
            "status": pd.Series(status, dtype="str"),
            "message_price": np.full(n, 0.077),
            "country": pd.Series(["AU"] * n, dtype="str"),
        }
    )


def test_a_quiet_day_with_a_few_failures_is_no_alert(tmp_path):
    # Day 1: 10 messages, 3 failed (30%): noise. Day 2: 100 messages, 30 failed: an alert.
    h = _history({"2026-03-02": (7, 3), "2026-03-03": (70, 30), "2026-03-04": (200, 0)})
    rep = build_delivery(
        h, "2026-03", "2026-03", tz="UTC", now=pd.Timestamp("2026-04-02", tz="UTC")
    )
    assert rep.summary["days_over_threshold"] == 1
    daily = rep.tables["daily"].set_index(rep.tables["daily"]["date"].dt.day)
    assert daily.loc[2, "failed_rate"] > 0.1 and daily.loc[2, "sent"] == 10
    # The workbook's red is the same rule: rate over the threshold *and* enough sent.
    ws = load_workbook(rep.to_excel(tmp_path / "d.xlsx"))["daily"]
    rules = [r.formula[0] for cf in ws.conditional_formatting for r in cf.rules]
    assert any(">=20" in f for f in rules), rules


def test_delivery_from_the_sandbox_does_not_flag_quiet_days(client):
    rep = delivery(client)
    daily = rep.tables["daily"]
    noisy = (daily["failed_rate"] > 0.10) & (daily["sent"] < 20)
    assert noisy.any(), "the sandbox has quiet days with a high failure rate"
    busy = (daily["failed_rate"] > 0.10) & (daily["sent"] >= 20)
    assert rep.summary["days_over_threshold"] == int(busy.sum())


def test_opt_out_lists_are_not_scored_or_alerted(client, tmp_path):
    rep = contacts_health(client)
    lists = rep.tables["lists"].set_index("list_name")
    assert lists.loc["Opt-outs", "opt_out_list"]
    assert pd.isna(lists.loc["Opt-outs", "health"]) and lists.loc["Opt-outs", "reachable"] == 0
    assert not lists.drop(index="Opt-outs")["opt_out_list"].any()
    assert not any("Opt-outs" in a for a in rep.alerts)
    assert rep.summary["opt_out_lists"] == ["Opt-outs"]
    assert rep.summary["contacts"] == int(lists.drop(index="Opt-outs")["contacts"].sum())
    # Named differently? Say which lists collect opt-outs.
    lid = int(lists.loc["Opt-outs", "list_id"])
    again = contacts_health(client, opt_out_lists=[])
    assert not again.tables["lists"]["opt_out_list"].any()
    assert any("Opt-outs" in a for a in again.alerts)  # judged as a list to reach people on
    explicit = contacts_health(client, opt_out_lists=[lid])
    assert explicit.summary["opt_out_lists"] == ["Opt-outs"]


def test_per_message_prices_show_four_decimals(client, tmp_path):
    rep = delivery(client)
    ws = load_workbook(rep.to_excel(tmp_path / "d.xlsx"))["failed_messages"]
    header = [c.value for c in ws[1]]
    col = header.index("Price (AUD)") + 1
    cell = ws.cell(row=2, column=col)
    assert cell.number_format == '"$"#,##0.0000' and 0 < cell.value < 1
