"""Periods that tell the truth: complete months by default, the running month "to date"
and out of comparisons, and months cut in the account's time zone.

"Now" is moved with the ``clock`` fixture and the sandbox is started at the same instant
(``running(now=...)``), so the data ends where the client thinks today is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from csframe.reports import delivery, usage_cost
from csframe.reports.delivery import build as build_delivery
from csframe.reports.periods import floor_local, resolve_period

MELBOURNE = "Australia/Melbourne"
SIXTH = "2026-12-06T10:00:00Z"
FIRST = "2026-12-01T00:30:00Z"


@pytest.fixture(params=[SIXTH, FIRST], ids=["on-the-6th", "on-the-1st"])
def december(request, clock, tmp_path):
    """A client on a sandbox whose data (and csframe's clock) ends on 6 or 1 December."""
    from csframe import Client
    from csframe.sandbox import running

    clock(request.param)
    with running(scale="tiny", seed=7, now=request.param) as sb:
        cs = Client(**sb.credentials, base_url=sb.base_url, cache=False, progress=False)
        yield cs
        cs.close()


def test_period_rules():
    six = pd.Timestamp(SIXTH)
    p = resolve_period(now=six)
    assert p.label == "2025-12 to 2026-11 (12 months)" and p.to_date is None
    p = resolve_period("2026-01", "2026-12", now=six)
    assert f"{p.to_date:%Y-%m}" == "2026-12"
    assert p.label == "2026-01 to 2026-12 (12 months, 2026-12 to date)"
    assert [f"{m:%Y-%m}" for m in p.complete_months][-1] == "2026-11"
    assert p.elapsed == pytest.approx((5 * 24 + 10) / (31 * 24))
    assert (
        resolve_period("2026-12", now=six).label == "2026-12 to 2026-12 (1 month, 2026-12 to date)"
    )
    assert resolve_period("2026-03", now=six).label.startswith("2026-03 to 2026-11")
    # 1 December 01:00 in Melbourne is still 30 November in UTC.
    edge = pd.Timestamp("2026-11-30T14:00:00Z")
    assert f"{resolve_period(now=edge, tz=MELBOURNE).last:%Y-%m}" == "2026-11"
    assert f"{resolve_period(now=edge, tz='UTC').last:%Y-%m}" == "2026-10"


def test_default_period_excludes_the_running_month(december):
    rep = usage_cost(december)
    assert rep.meta.period == ("2025-12", "2026-11")
    assert rep.meta.to_date is None and "to date" not in rep.meta.period_label
    assert "month_to_date" not in rep.summary
    assert rep.summary["last_month"] == "2026-11"
    rep = delivery(december)
    assert rep.meta.period == ("2025-12", "2026-11")
    assert rep.tables["monthly"]["month"].iloc[-1].month == 11


def test_a_period_with_the_running_month_labels_it_to_date(december, tmp_path):
    rep = usage_cost(december, "2026-01", "2026-12")
    wide = rep.tables["monthly_spend"].set_index(rep.tables["monthly_spend"]["month"].dt.month)
    s = rep.summary
    # The running month is there, labelled, with its spend, but compared with nothing.
    assert rep.meta.period_label == "2026-01 to 2026-12 (12 months, 2026-12 to date)"
    assert s["month_to_date"] == "2026-12 (to date)"
    assert s["month_to_date_spend"] == pytest.approx(wide.loc[12, "total"])
    assert np.isnan(wide.loc[12, "change"]) and np.isnan(wide.loc[12, "change_pct"])
    # "Last month" is the last complete one, compared with the one before it.
    assert s["last_month"] == "2026-11"
    nov, oct_ = wide.loc[11, "total"], wide.loc[10, "total"]
    assert s["last_month_change"] == pytest.approx((nov - oct_) / oct_)
    assert s["peak_month"] != "2026-12"
    done = wide.loc[1:11, "total"]
    assert s["average_monthly_spend"] == pytest.approx(done.mean())
    # A run-rate projection next to it, clearly marked as one.
    elapsed = s["month_to_date_elapsed"]
    assert 0 < elapsed < 0.25
    assert s["month_to_date_projection"] == pytest.approx(wide.loc[12, "total"] / elapsed, abs=0.01)
    labels = dict(rep.summary_lines())
    assert "Projection at the run rate (estimate, not billed)" in labels
    # Other tables: the running month's rows have no change either.
    by_channel = rep.tables["monthly_by_channel"]
    assert by_channel.loc[by_channel["month"].dt.month == 12, "change_pct"].isna().all()

    wb = load_workbook(rep.to_excel(tmp_path / "u.xlsx"))
    months = [r[0] for r in wb["monthly_spend"].iter_rows(min_row=2, max_row=13, values_only=True)]
    assert months[-1] == "2026-12 (to date)" and months[0] == "2026-01"
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(values_only=True) if r[0]}
    assert summary["Period"] == "2026-01 to 2026-12 (12 months, 2026-12 to date)"
    assert summary["Month to date (not complete)"] == "2026-12 (to date)"
    assert summary["Last complete month"] == "2026-11"
    # The chart's categories are those labelled cells.
    (chart, *_) = wb["Summary"]._charts
    cat = chart.series[0].cat
    assert (cat.numRef or cat.strRef).f == "'monthly_spend'!$A$2:$A$13"
    html = rep.to_html()
    assert "2026-12 (to date)" in html


def _history(dates: list[str]) -> pd.DataFrame:
    n = len(dates)
    return pd.DataFrame(
        {
            "date": pd.to_datetime(dates, utc=True).astype("datetime64[s, UTC]"),
            "status": pd.Series(["Delivered"] * n, dtype="str"),
            "status_code": pd.Series(["201"] * n, dtype="str"),
            "message_price": np.full(n, 0.077),
            "country": pd.Series(["AU"] * n, dtype="str"),
        }
    )


def test_months_and_days_follow_the_time_zone():
    # 23:30 UTC on 31 March is 10:30 on 1 April in Melbourne.
    h = _history(["2026-03-31T23:30:00Z", "2026-03-15T12:00:00Z"])
    now = pd.Timestamp("2026-05-02T00:00:00Z")
    mel = build_delivery(h, "2026-03", "2026-04", tz=MELBOURNE, now=now)
    utc = build_delivery(h, "2026-03", "2026-04", tz="UTC", now=now)
    monthly = {
        f"{m:%Y-%m}": n
        for m, n in zip(
            mel.tables["monthly"]["month"], mel.tables["monthly"]["messages"], strict=True
        )
    }
    assert monthly == {"2026-03": 1, "2026-04": 1}
    monthly = {
        f"{m:%Y-%m}": n
        for m, n in zip(
            utc.tables["monthly"]["month"], utc.tables["monthly"]["messages"], strict=True
        )
    }
    assert monthly == {"2026-03": 2, "2026-04": 0}
    daily = mel.tables["daily"].set_index(mel.tables["daily"]["date"].dt.strftime("%Y-%m-%d"))
    assert daily.loc["2026-04-01", "messages"] == 1 and daily.loc["2026-03-31", "messages"] == 0
    assert str(mel.tables["monthly"]["month"].dtype) == f"datetime64[s, {MELBOURNE}]"
    assert mel.meta.tz == MELBOURNE and "Australia/Melbourne" in mel.meta.times
    s = pd.Series(pd.to_datetime(["2026-03-31T23:30:00Z"], utc=True))
    assert f"{floor_local(s, 'M', MELBOURNE)[0]:%Y-%m}" == "2026-04"
    assert f"{floor_local(s, 'M', 'UTC')[0]:%Y-%m}" == "2026-03"


@pytest.mark.parametrize("tz", [MELBOURNE, "America/New_York", "Australia/Lord_Howe", "UTC"])
def test_floor_local_matches_each_timestamp_floored_on_its_own(tz):
    # floor_local localises each distinct day once; every row must still get the start of
    # its own local day and month, across DST changes (Lord Howe shifts by 30 minutes)
    hours = pd.date_range("2025-09-25", "2026-04-10", freq="37min", tz="UTC").as_unit("s")
    s = pd.Series(hours).sample(frac=1, random_state=3)
    s.iloc[::50] = pd.NaT
    for unit, floor in (
        ("D", lambda t: t.floor("D")),
        ("M", lambda t: t.replace(day=1).floor("D")),
    ):
        want = [
            pd.NaT
            if pd.isna(t)
            else floor(t.tz_convert(tz).tz_localize(None)).tz_localize(tz, ambiguous=False)
            for t in s
        ]
        got = floor_local(s, unit, tz)
        assert list(got.index) == list(s.index)
        assert str(got.dtype) == f"datetime64[s, {tz}]"
        assert got.tolist() == want


def test_workbook_times_are_in_the_report_time_zone(tmp_path):
    h = _history(["2026-03-31T23:30:00Z"])
    h.loc[0, "status"] = "Failed"
    h.loc[0, "status_code"] = "301"
    rep = build_delivery(
        h, "2026-04", "2026-04", tz=MELBOURNE, now=pd.Timestamp("2026-05-02", tz="UTC")
    )
    wb = load_workbook(rep.to_excel(tmp_path / "d.xlsx"))
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(values_only=True) if r[0]}
    assert summary["Times"].startswith("Australia/Melbourne")
    first = wb["failed_messages"]["A2"].value
    assert f"{first:%Y-%m-%d %H:%M}" == "2026-04-01 10:30"  # local wall time, not 23:30


def test_tz_is_validated():
    from csframe.reports import OptionError

    with pytest.raises(OptionError, match="tz must be an IANA time zone"):
        build_delivery(_history([]), "2026-03", "2026-03", tz="Mars/Olympus")


def test_delivery_from_the_sandbox_uses_the_account_time_zone(client):
    rep = delivery(client, "2026-03", "2026-03")
    assert rep.meta.tz == MELBOURNE
    t0, t1 = resolve_period("2026-03", "2026-03", tz=MELBOURNE).window
    assert (t0, t1) == (pd.Timestamp("2026-02-28T13:00Z"), pd.Timestamp("2026-03-31T13:00Z"))
    history = client.history("sms", t0, t1)
    assert rep.summary["messages"] == len(history)
    assert delivery(client, "2026-03", "2026-03", tz="UTC").meta.tz == "UTC"


def test_history_dates_without_a_time_in_the_account_time_zone():
    from csframe import Client
    from csframe.sandbox import running

    with running(scale="tiny", seed=11) as sb:
        late = sb.insert_sms(2, date="2026-03-31T23:30:00Z")  # 1 April 10:30 in Melbourne
        cs = Client(**sb.credentials, base_url=sb.base_url, cache=False, progress=False)
        local = cs.history("sms", "2026-03-01", "2026-04-01", tz="account")
        utc = cs.history("sms", "2026-03-01", "2026-04-01")  # naive dates: UTC, as before
        april = cs.history("sms", "2026-04-01", "2026-05-01", tz="account")
        t0, t1 = resolve_period("2026-03", "2026-03", tz=MELBOURNE).window
        truth = sb.truth_sms_ids(date_from=int(t0.timestamp()), date_to=int(t1.timestamp()) - 1)
        explicit = cs.history("sms", "2026-03-01", "2026-04-01", tz=MELBOURNE)
        cs.close()
    assert local["message_id"].tolist() == truth
    assert explicit["message_id"].tolist() == truth
    assert not set(late) & set(local["message_id"]) and set(late) <= set(april["message_id"])
    assert set(late) <= set(utc["message_id"])
    assert local["date"].min() >= t0 and local["date"].max() < t1
