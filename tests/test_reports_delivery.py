"""The delivery report: its numbers against independent pandas computations.

Unit tests feed :func:`csframe.reports.delivery.build` a synthetic history frame with the
``Client.history("sms")`` columns; integration tests compare the report with the raw
history loaded from the session sandbox.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from csframe.reports import delivery
from csframe.reports.base import AccountInfo
from csframe.reports.delivery import build
from csframe.reports.periods import resolve_period

ACME = AccountInfo(name="ACME Pty Ltd", username="acme", currency="AUD", symbol="$")
ERRORS = {
    "301": "Unknown subscriber",
    "302": "Message expired",
    "303": "=Carrier rejected (content filter)",  # formula-like: must be neutralised
}
NOW = pd.Timestamp("2026-04-15 12:00", tz="UTC")


def history_frame(seed: int = 11, n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t0, t1 = pd.Timestamp("2026-01-01", tz="UTC"), NOW
    seconds = np.sort(rng.integers(int(t0.timestamp()), int(t1.timestamp()), n))
    country = rng.choice(["AU", "NZ", "US"], n, p=[0.6, 0.3, 0.1])
    carrier = np.where(
        country == "AU",
        rng.choice(["Telstra", "Optus"], n),
        np.where(country == "NZ", "Spark", "Verizon"),
    )
    # US fails a lot: the alert must name it.
    p_fail = np.where(country == "US", 0.3, 0.04)
    r = rng.random(n)
    status = np.where(
        r < p_fail,
        "Failed",
        np.where(r > 0.98, "Cancelled", np.where(r > 0.96, "Sent", "Completed")),
    )
    code = rng.choice(list(ERRORS), n, p=[0.6, 0.3, 0.1])
    failed = status == "Failed"
    parts = rng.integers(1, 3, n)
    df = pd.DataFrame(
        {
            "date": pd.to_datetime(seconds, unit="s", utc=True).astype("datetime64[s, UTC]"),
            "direction": pd.Categorical(["out"] * n),
            "to": [f"+614{i:08d}" for i in range(n)],
            "body": ["=SUM(A1)" if i % 7 == 0 else f"Hello {i}" for i in range(n)],
            "status": pd.Categorical(status),
            "status_code": pd.Categorical(
                np.where(status == "Completed", "201", np.where(failed, code, None))
            ),
            "error_code": pd.Categorical(np.where(failed, code, None)),
            "error_text": pd.array(
                [ERRORS[c] if f else None for c, f in zip(code, failed, strict=True)], dtype="str"
            ),
            "message_id": [f"M{i:06d}" for i in range(n)],
            "message_parts": pd.array(parts, dtype="Int64"),
            "message_price": np.where(status == "Cancelled", 0.0, parts * 0.077).round(6),
            "subaccount_id": pd.array(rng.choice([1, 2], n), dtype="Int64"),
            "_api_username": pd.array(["main"] * n, dtype="str"),
            "country": pd.Categorical(country),
            "carrier": pd.array(carrier, dtype="str"),
        }
    )
    df.loc[df["subaccount_id"] == 2, "_api_username"] = "marketing"
    df.attrs["currency"] = "AUD"
    return df


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return history_frame()


@pytest.fixture(scope="module")
def report(history):
    return build(history, "2026-01", "2026-04", account=ACME, now=NOW)


def _outcome(h: pd.DataFrame) -> pd.Series:
    return (
        h["status"]
        .map(
            {
                "Completed": "delivered",
                "Failed": "failed",
                "Cancelled": "cancelled",
                "Sent": "pending",
            }
        )
        .astype(str)
    )


def test_tables_and_meta(report):
    assert list(report.tables) == [
        "daily",
        "monthly",
        "by_country",
        "by_carrier",
        "by_subaccount",
        "errors",
        "failed_messages",
    ]
    assert report.meta.title == "Delivery (SMS)"
    assert report.meta.currency == "AUD"
    assert list(report.figures) == ["daily_rates", "errors"]
    # Every day from the period's start to today (15 April), no more.
    daily = report.tables["daily"]
    assert daily["date"].iloc[0] == pd.Timestamp("2026-01-01", tz="UTC")
    assert daily["date"].iloc[-1] == pd.Timestamp("2026-04-15", tz="UTC")
    assert daily["date"].diff().dropna().eq(pd.Timedelta(days=1)).all()


@pytest.mark.parametrize("key,table", [("country", "by_country"), ("carrier", "by_carrier")])
def test_groups_equal_pandas(report, history, key, table):
    got = report.tables[table]
    keys = ["country"] if key == "country" else ["country", "carrier"]
    outcome = _outcome(history)
    expected = pd.crosstab([history[k].astype(str) for k in keys], outcome)
    indexed = got.set_index(keys)
    for idx, row in expected.iterrows():
        sent = row.sum() - row.get("cancelled", 0)
        assert indexed.loc[idx, "delivered"] == row["delivered"]
        assert indexed.loc[idx, "failed"] == row["failed"]
        assert indexed.loc[idx, "messages"] == row.sum()
        assert indexed.loc[idx, "failed_rate"] == pytest.approx(row["failed"] / sent)
    failed_spend = (
        history[outcome == "failed"]
        .groupby([history[k].astype(str) for k in keys])["message_price"]
        .sum()
    )
    for idx, value in failed_spend.items():
        assert indexed.loc[idx, "failed_spend"] == pytest.approx(value)
    assert list(got["messages"]) == sorted(got["messages"], reverse=True)
    assert report.totals(table)["messages"] == len(history)


def test_daily_and_monthly_equal_pandas(report, history):
    outcome = _outcome(history)
    day = history["date"].dt.floor("D")
    expected = pd.crosstab(day, outcome)
    daily = report.tables["daily"].set_index("date")
    for d, row in expected.iterrows():
        assert daily.loc[d, "delivered"] == row["delivered"]
        assert daily.loc[d, "failed"] == row["failed"]
    quiet = daily[~daily.index.isin(expected.index)]
    assert (quiet["messages"] == 0).all() and quiet["failed_rate"].isna().all()
    monthly = report.tables["monthly"]
    assert len(monthly) == 4
    assert monthly["messages"].sum() == len(history)
    assert monthly["spend"].sum() == pytest.approx(history["message_price"].sum())


def test_errors_with_texts_and_shares(report, history):
    errs = report.tables["errors"]
    failed = history[history["status"] == "Failed"]
    counts = failed["error_code"].astype(str).value_counts()
    assert list(errs["error_code"]) == list(counts.index)
    assert list(errs["failed"]) == list(counts)
    assert dict(zip(errs["error_code"], errs["error_text"], strict=True)) == ERRORS
    assert errs["share"].sum() == pytest.approx(1.0)
    by_code = failed.groupby(failed["error_code"].astype(str))["message_price"].sum()
    for code, value in by_code.items():
        assert errs.set_index("error_code").loc[code, "failed_spend"] == pytest.approx(value)
    assert errs.set_index("error_code").loc["301", "top_country"] in ("AU", "US")


def test_failed_messages_detail(report, history):
    detail = report.tables["failed_messages"]
    failed = history[history["status"] == "Failed"]
    assert len(detail) == len(failed)
    assert set(detail["message_id"]) == set(failed["message_id"])
    assert "body" in detail and "username" in detail  # _api_username, renamed
    assert detail["date"].is_monotonic_increasing


def test_summary_and_alerts(report, history):
    s = report.summary
    outcome = _outcome(history)
    sent = (outcome != "cancelled").sum()
    assert s["messages"] == len(history)
    assert s["sent"] == sent
    assert s["delivery_rate"] == pytest.approx((outcome == "delivered").sum() / sent)
    assert s["failed_spend"] == pytest.approx(
        history.loc[outcome == "failed", "message_price"].sum()
    )
    assert s["worst_country"].startswith("US")
    assert s["top_error"].startswith("301 Unknown subscriber")
    assert any(a.startswith("Country US:") for a in report.alerts)
    assert not any(a.startswith("Country AU:") for a in report.alerts)


def test_threshold_and_min_messages(history):
    strict = build(history, "2026-01", "2026-04", failure_threshold=0.01, now=NOW)
    assert any(a.startswith("Country AU") for a in strict.alerts)
    assert sum(a.startswith("Country") for a in strict.alerts) <= 5
    lax = build(history, "2026-01", "2026-04", failure_threshold=0.5, now=NOW)
    assert not lax.alerts
    few = build(history, "2026-01", "2026-04", min_messages=10**6, now=NOW)
    assert "worst_country" not in few.summary
    assert not any(a.startswith("Country") for a in few.alerts)


def test_period_cuts_the_history(history):
    rep = build(history, "2026-02", "2026-02", now=NOW)
    inside = history[(history["date"] >= "2026-02-01") & (history["date"] < "2026-03-01")]
    assert rep.summary["messages"] == len(inside)
    assert len(rep.tables["daily"]) == 28


def test_empty_history(tmp_path):
    empty = history_frame().iloc[0:0]
    rep = build(empty, "2026-01", "2026-01", now=NOW)
    assert rep.summary["messages"] == 0 and rep.summary["delivery_rate"] is None
    assert len(rep.tables["daily"]) == 31 and rep.tables["errors"].empty
    wb = load_workbook(rep.to_excel(tmp_path / "d.xlsx"))
    assert "errors" in wb.sheetnames


def test_workbook_highlights_failure_rates_and_neutralises(report, tmp_path):
    wb = load_workbook(report.to_excel(tmp_path / "d.xlsx"))
    assert [c.tagname for c in wb["Summary"]._charts] == ["lineChart", "barChart"]
    ws = wb["by_country"]
    rules = [(str(cf.sqref), r.formula[0]) for cf in ws.conditional_formatting for r in cf.rules]
    header = [c.value for c in ws[1]]
    letter = ws.cell(row=1, column=header.index("Failed %") + 1).column_letter
    sent = ws.cell(row=1, column=header.index("Sent") + 1).column_letter
    # Red only with a minimum volume: a rate on a handful of messages is noise.
    rule = f"AND(NOT(ISBLANK(${letter}2)),${letter}2>0.1,${sent}2>=20)"
    assert (f"{letter}2:{letter}4", rule) in rules
    errs = wb["errors"]
    texts = [r[1] for r in errs.iter_rows(min_row=2, values_only=True)]
    assert "=Carrier rejected (content filter)" in texts  # text cells: as they are
    bodies = {r[-1] for r in wb["failed_messages"].iter_rows(min_row=2, values_only=True)}
    assert "=SUM(A1)" in bodies and "'=SUM(A1)" not in bodies


# --- against the sandbox ---------------------------------------------------------------------


def test_delivery_from_sandbox_equals_raw_history(client, tmp_path):
    # The sandbox account is in Melbourne: the report's months are Melbourne months.
    rep = delivery(client)
    assert rep.meta.tz == "Australia/Melbourne"
    history = client.history("sms", *resolve_period(tz="Australia/Melbourne").window)
    delivered = history["status_code"] == "201"
    failed = history["status"] == "Failed"
    s = rep.summary
    assert s["messages"] == len(history)
    assert s["delivered"] == delivered.sum() and s["failed"] == failed.sum()
    assert s["failed_spend"] == pytest.approx(history.loc[failed, "message_price"].sum())
    by_country = rep.tables["by_country"].set_index("country")
    for country, n in history[delivered].groupby("country", observed=True).size().items():
        assert by_country.loc[country, "delivered"] == n
    carriers = rep.tables["by_carrier"].set_index(["country", "carrier"])
    expected = history[failed].groupby(["country", "carrier"], observed=True).size()
    for key, n in expected.items():
        assert carriers.loc[key, "failed"] == n
    errs = rep.tables["errors"].set_index("error_code")
    texts = history[failed].groupby("error_code", observed=True)["error_text"].first()
    for code, text in texts.items():
        assert errs.loc[code, "error_text"] == text
        assert errs.loc[code, "failed"] == (history["error_code"] == code).sum()
    assert len(rep.tables["failed_messages"]) == failed.sum()
    path = rep.to_excel(tmp_path / "delivery.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames[0] == "Summary" and len(wb.sheetnames) == 8
    assert wb["failed_messages"].max_row == failed.sum() + 1


@pytest.mark.parametrize("tz", ["Australia/Melbourne", "UTC"])
def test_streamed_report_equals_the_report_of_the_whole_history(client, tz):
    # delivery(client) folds each history chunk into day cubes as it streams; every table,
    # the summary and the alerts must be those of the whole history frame, row for row.
    rep = delivery(client, tz=tz, now=NOW)
    per = resolve_period(tz=tz, now=NOW)
    whole = build(
        client.history("sms", *per.window),
        per.first,
        per.last,
        account=rep.meta.account,
        tz=tz,
        now=NOW,
        generated_at=rep.meta.generated_at,
    )
    assert rep.summary["messages"] > 1000 and len(rep.tables["failed_messages"]) > 10
    assert list(rep.tables) == list(whole.tables)
    for name, table in whole.tables.items():
        pd.testing.assert_frame_equal(rep.tables[name], table, obj=name)
    assert rep.summary == whole.summary and rep.alerts == whole.alerts
