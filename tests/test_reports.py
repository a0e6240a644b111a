"""The usage-cost report: its numbers against independent pandas computations.

Unit tests feed :func:`csframe.reports.usage_cost.build` synthetic usage frames that follow
the ``Client.usage`` contract exactly; integration tests load from the session sandbox.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from csframe.reports import Report, usage_cost
from csframe.reports.base import AccountInfo
from csframe.reports.periods import period
from csframe.reports.usage_cost import build

CHANNEL_CATEGORIES = ["sms", "mms", "voice", "fax", "post", "email", "email_transactional"]
CHANNEL_CATEGORIES.append("postcards")
ACME = AccountInfo(name="ACME Pty Ltd", username="acme", currency="AUD", symbol="$")


def synthetic_usage(rows: list[dict], currency: str | None = "AUD") -> pd.DataFrame:
    """A frame exactly like ``Client.usage()``: month datetime64[s, UTC], channel category
    (every known channel a category), subaccount_id Int64, username str, count Int64,
    price float64, currency in attrs."""
    df = pd.DataFrame(
        rows, columns=["month", "channel", "subaccount_id", "username", "count", "price"]
    )
    df["month"] = pd.to_datetime(df["month"], utc=True).astype("datetime64[s, UTC]")
    df["channel"] = pd.Categorical(df["channel"], categories=CHANNEL_CATEGORIES)
    df["subaccount_id"] = df["subaccount_id"].astype("Int64")
    df["username"] = df["username"].astype("str")
    df["count"] = df["count"].astype("Int64")
    df["price"] = df["price"].astype("float64")
    if currency:
        df.attrs["currency"] = currency
    return df


def random_usage(seed: int = 7, months=("2026-01", "2026-10")) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for month in pd.date_range(f"{months[0]}-01", f"{months[1]}-01", freq="MS", tz="UTC"):
        if month.month == 4:
            continue  # a month with no traffic at all: the report must still show it
        for channel in ("sms", "voice", "email"):
            for sub, user in ((101, "main"), (102, "marketing"), (103, "support")):
                if rng.random() < 0.25:
                    continue  # sparse, like the real endpoint
                rows.append(
                    {
                        "month": month,
                        "channel": channel,
                        "subaccount_id": sub,
                        "username": user,
                        "count": int(rng.integers(1, 500)),
                        "price": round(float(rng.random() * 80), 4),
                    }
                )
    return synthetic_usage(rows)


@pytest.fixture
def usage() -> pd.DataFrame:
    return random_usage()


@pytest.fixture
def report(usage) -> Report:
    return build(usage, "2026-01", "2026-10", account=ACME)


def test_report_shape_and_meta(report):
    assert isinstance(report, Report)
    # Without history or budget: no cost_per_delivered / reconciliation / budget sheets.
    assert list(report.tables) == [
        "monthly_spend",
        "subaccounts",
        "monthly_by_channel",
        "monthly_by_subaccount",
        "breakdown",
        "detail",
    ]
    assert list(report.figures) == ["monthly_spend", "subaccount_spend"]
    assert not report.budget_exceeded and not report.alerts
    assert report.meta.period == ("2026-01", "2026-10")
    assert report.meta.months == 10
    assert report.meta.currency == "AUD"
    assert report.meta.account.label == "ACME Pty Ltd (acme)"
    assert report.meta.generated_at.tzinfo is not None


def test_monthly_by_channel_equals_pandas(report, usage):
    got = report.tables["monthly_by_channel"]
    expected = (
        usage.groupby(["month", "channel"], observed=True)[["count", "price"]]
        .sum()
        .rename(columns={"price": "spend"})
    )
    # Every month x channel pair is present; pairs without usage are zero.
    assert len(got) == 10 * 3
    assert got["month"].nunique() == 10
    assert list(got["channel"].cat.categories) == ["sms", "voice", "email"]
    keyed = got.set_index(["month", "channel"])
    for key, row in expected.iterrows():
        assert keyed.loc[key, "count"] == row["count"]
        assert keyed.loc[key, "spend"] == pytest.approx(row["spend"])
    april = got[got["month"] == pd.Timestamp("2026-04-01", tz="UTC")]
    assert (april["spend"] == 0).all() and (april["count"] == 0).all()
    assert str(got["month"].dtype) == "datetime64[s, UTC]"
    assert str(got["count"].dtype) == "Int64"
    assert got["spend"].dtype == "float64"


def test_monthly_by_subaccount_equals_pandas(report, usage):
    got = report.tables["monthly_by_subaccount"]
    expected = usage.groupby(["month", "subaccount_id"])["price"].sum()
    assert len(got) == 10 * 3
    keyed = got.set_index(["month", "subaccount_id"])
    for key, value in expected.items():
        assert keyed.loc[key, "spend"] == pytest.approx(value)
    assert dict(zip(got["subaccount_id"], got["username"], strict=True)) == {
        101: "main",
        102: "marketing",
        103: "support",
    }
    assert got["spend"].sum() == pytest.approx(usage["price"].sum())


def test_monthly_spend_is_the_channel_pivot(report, usage):
    wide = report.tables["monthly_spend"]
    expected = usage.pivot_table(
        index="month", columns="channel", values="price", aggfunc="sum", observed=True
    )
    assert list(wide.columns) == ["month", "sms", "voice", "email", "total", "change", "change_pct"]
    assert len(wide) == 10
    by_month = wide.set_index("month")
    for channel in ("sms", "voice", "email"):
        for month, value in expected[channel].dropna().items():
            assert by_month.loc[month, channel] == pytest.approx(value)
    assert np.allclose(wide["total"], wide[["sms", "voice", "email"]].sum(axis=1))
    assert wide["total"].sum() == pytest.approx(usage["price"].sum())


def test_totals_rows(report, usage):
    assert report.totals("detail") is None
    by_channel = report.totals("monthly_by_channel")
    assert by_channel["month"] == "Total"
    assert by_channel["count"] == int(usage["count"].sum())
    assert by_channel["spend"] == pytest.approx(usage["price"].sum())
    wide = report.totals("monthly_spend")
    assert wide["total"] == pytest.approx(usage["price"].sum())
    assert wide["sms"] == pytest.approx(usage.loc[usage["channel"] == "sms", "price"].sum())
    shown = report.with_totals("monthly_by_channel")
    assert len(shown) == len(report.tables["monthly_by_channel"]) + 1
    assert shown.iloc[-1]["month"] == "Total"
    assert shown.iloc[0]["month"] == "2026-01"


def test_summary_key_figures(report, usage):
    s = report.summary
    assert s["months"] == 10
    assert s["channels"] == ["sms", "voice", "email"]
    assert s["subaccounts"] == 3
    assert s["total_units"] == int(usage["count"].sum())
    assert s["total_spend"] == pytest.approx(usage["price"].sum())
    assert s["average_monthly_spend"] == pytest.approx(usage["price"].sum() / 10)
    per_month = usage.groupby("month")["price"].sum()
    assert s["peak_month"] == f"{per_month.idxmax():%Y-%m}"
    assert s["peak_month_spend"] == pytest.approx(per_month.max())
    per_channel = usage.groupby("channel", observed=True)["price"].sum()
    assert s["top_channel"] == per_channel.idxmax()
    assert s["top_subaccount"] == usage.groupby("username")["price"].sum().idxmax()
    lines = dict(report.summary_lines())
    assert lines["Total spend"].startswith("$") and lines["Total spend"].endswith(" AUD")


def test_figure_has_one_line_per_channel(report):
    from matplotlib.figure import Figure

    fig = report.figures["monthly_spend"]
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["SMS", "Voice", "Email"]
    assert "AUD" in ax.get_ylabel()


def test_empty_usage_still_gives_every_month_with_zeros(tmp_path):
    report = build(synthetic_usage([]), "2026-01", "2026-03", account=ACME)
    assert len(report.tables["monthly_spend"]) == 3
    assert list(report.tables["monthly_spend"].columns) == [
        "month",
        "total",
        "change",
        "change_pct",
    ]
    assert (report.tables["monthly_spend"]["total"] == 0).all()
    assert report.tables["monthly_by_channel"].empty
    assert report.tables["detail"].empty
    assert report.summary["total_spend"] == 0
    assert report.summary["peak_month"] is None
    path = report.to_excel(tmp_path / "empty.xlsx")
    from openpyxl import load_workbook

    wb = load_workbook(path)
    assert wb.sheetnames[0] == "Summary"
    assert not wb["Summary"]._charts  # nothing to draw


def test_rows_outside_the_period_are_left_out(usage):
    report = build(usage, "2026-02", "2026-03", account=ACME)
    inside = usage[usage["month"].between("2026-02-01", "2026-03-01")]
    assert report.summary["total_spend"] == pytest.approx(inside["price"].sum())
    assert len(report.tables["detail"]) == len(inside)


def test_missing_subaccount_id_is_its_own_row():
    rows = [
        {"month": "2026-01-01", "channel": "sms", "subaccount_id": 1, "username": "a"}
        | {"count": 2, "price": 1.5},
        {"month": "2026-01-01", "channel": "sms", "subaccount_id": None, "username": None}
        | {"count": 1, "price": 0.5},
    ]
    report = build(synthetic_usage(rows), "2026-01", "2026-01")
    subs = report.tables["monthly_by_subaccount"]
    assert len(subs) == 2
    assert subs["spend"].sum() == pytest.approx(2.0)


@pytest.mark.parametrize("now", ["2026-12-06T10:00:00Z", "2026-12-01T00:30:00Z"])
def test_period_defaults_to_the_last_twelve_complete_months(clock, now):
    clock(now)
    first, last = period()
    assert (f"{first:%Y-%m}", f"{last:%Y-%m}") == ("2025-12", "2026-11")
    with pytest.raises(ValueError):
        period("2026-05", "2026-01")


def test_reports_do_not_import_the_sandbox():
    code = (
        "import sys, csframe.reports, csframe.reports.cli, csframe.reports.excel, csframe.demo;"
        "bad = sorted(m for m in sys.modules if m.startswith('csframe.sandbox'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


# --- against the sandbox ------------------------------------------------------------------


def test_usage_cost_from_sandbox_matches_client_usage(client):
    first, last = period()
    rep = usage_cost(client)
    usage = client.usage(start=f"{first:%Y-%m}", end=f"{last:%Y-%m}")
    assert rep.meta.months == 12
    assert rep.meta.currency == usage.attrs["currency"]
    assert rep.summary["total_spend"] == pytest.approx(usage["price"].sum())
    assert rep.summary["total_units"] == int(usage["count"].sum())
    assert rep.summary["total_spend"] > 0, "the seeded sandbox should have billed something"

    by_channel = usage.groupby("channel", observed=True)["price"].sum()
    wide = rep.tables["monthly_spend"]
    for channel, value in by_channel.items():
        assert wide[str(channel)].sum() == pytest.approx(value)
    per_month = usage.groupby("month")["price"].sum()
    got = rep.tables["monthly_spend"].set_index("month")["total"]
    for month, value in per_month.items():
        assert got.loc[month] == pytest.approx(value)
    subs = rep.tables["monthly_by_subaccount"].groupby("subaccount_id")["spend"].sum()
    for sub, value in usage.groupby("subaccount_id")["price"].sum().items():
        assert subs.loc[sub] == pytest.approx(value)
    assert rep.meta.account.label  # the account's name or username


def test_show_outside_a_notebook_prints_text(report, capsys):
    report.show()
    out = capsys.readouterr().out
    assert out.startswith("Usage and cost")
    assert "2026-01 to 2026-10 (10 months)" in out
    assert "[monthly_by_channel]" in out and "Total" in out
    html = report._repr_html_()
    assert "<table>" in html and "monthly_spend" in html
    assert "monthly_spend" in repr(report)


@pytest.mark.parametrize(
    "module",
    [
        "csframe.reports.base",
        "csframe.reports.excel",
        "csframe.reports.usage_cost",
        "csframe.reports.cli",
        "csframe.reports.history",
        "csframe.reports.sheetxml",
        "csframe.reports.output",
        "csframe.reports.delivery",
        "csframe.reports.campaigns",
        "csframe.reports.contacts_health",
        "csframe.reports.model",
        "csframe.reports.cells",
        "csframe.reports.periods",
        "csframe.reports.budgets",
    ],
)
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_show_in_a_notebook_displays_html_tables_and_charts(report, monkeypatch):
    import IPython
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython, "get_ipython", lambda: object())
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    report.show()
    kinds = [type(obj).__name__ for obj in shown]
    assert kinds[0] == "HTML" and "Total spend" in shown[0].data
    frames = [obj for obj in shown if isinstance(obj, pd.DataFrame)]
    assert len(frames) == len(report.tables)
    assert frames[0].iloc[-1]["month"] == "Total"
    pngs = [obj for obj in shown if type(obj).__name__ == "Image"]
    assert len(pngs) == len(report.figures) == 2 and pngs[0].data[:4] == b"\x89PNG"


# --- history, month-over-month, shares, by=, budgets -------------------------------------------


def synthetic_history(seed: int = 3, start="2026-01-01", end="2026-04-01", n=600) -> pd.DataFrame:
    """A frame like ``Client.history("sms")`` (the columns the report reads, their dtypes):
    statuses with their codes, 1-3 parts at 0.077 a part, cancelled messages at 0."""
    rng = np.random.default_rng(seed)
    t0, t1 = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")
    seconds = rng.integers(int(t0.timestamp()), int(t1.timestamp()), n)
    status = rng.choice(
        ["Completed", "Failed", "Sent", "Scheduled", "Cancelled"], n, p=[0.8, 0.1, 0.04, 0.02, 0.04]
    )
    parts = rng.integers(1, 4, n)
    code = np.where(status == "Completed", "201", np.where(status == "Failed", "301", None))
    df = pd.DataFrame(
        {
            "date": pd.to_datetime(np.sort(seconds), unit="s", utc=True).astype(
                "datetime64[s, UTC]"
            ),
            "direction": pd.Categorical(["out"] * n),
            "status": pd.Categorical(status),
            "status_code": pd.Categorical(code),
            "error_code": pd.Categorical(np.where(status == "Failed", "301", None)),
            "message_parts": pd.array(parts, dtype="Int64"),
            "message_price": np.where(status == "Cancelled", 0.0, parts * 0.077).round(6),
            "subaccount_id": pd.array(rng.choice([101, 102, 103], n), dtype="Int64"),
        }
    )
    df.attrs["currency"] = "AUD"
    return df


USERS = {101: "main", 102: "marketing", 103: "support"}


def usage_from(history: pd.DataFrame) -> pd.DataFrame:
    """What the usage endpoint bills for ``history``: per UTC month and subaccount."""
    month = history["date"].dt.tz_localize(None).dt.to_period("M").dt.to_timestamp()
    g = history.groupby([month.rename("month"), "subaccount_id"])
    rows = [
        {
            "month": m,
            "channel": "sms",
            "subaccount_id": sub,
            "username": USERS[sub],
            "count": int(parts),
            "price": round(float(price), 6),
        }
        for (m, sub), parts, price in zip(
            g.groups, g["message_parts"].sum(), g["message_price"].sum(), strict=True
        )
    ]
    return synthetic_usage(rows)


@pytest.fixture
def coherent():
    history = synthetic_history()
    return usage_from(history), history


def test_cost_per_delivered_equals_pandas(coherent):
    usage, history = coherent
    rep = build(usage, "2026-01", "2026-03", account=ACME, history=history)
    cpd = rep.tables["cost_per_delivered"].set_index("month")
    month = history["date"].dt.tz_localize(None).dt.to_period("M").dt.to_timestamp()
    month = month.dt.tz_localize("UTC")
    delivered = history[history["status"] == "Completed"].groupby(month).size()
    failed = history[history["status"] == "Failed"].groupby(month).size()
    cancelled = history[history["status"] == "Cancelled"].groupby(month).size()
    spend = usage.groupby("month")["price"].sum()
    for m in delivered.index:
        assert cpd.loc[m, "delivered"] == delivered[m]
        assert cpd.loc[m, "failed"] == failed[m]
        assert cpd.loc[m, "messages"] == (month == m).sum()
        sent = (month == m).sum() - cancelled.get(m, 0)
        assert cpd.loc[m, "delivery_rate"] == pytest.approx(delivered[m] / sent)
        assert cpd.loc[m, "spend"] == pytest.approx(spend[m])
        assert cpd.loc[m, "cost_per_delivered"] == pytest.approx(spend[m] / delivered[m], abs=1e-6)
        failed_spend = history.loc[(month == m) & (history["status"] == "Failed"), "message_price"]
        assert cpd.loc[m, "failed_spend"] == pytest.approx(failed_spend.sum())
    s = rep.summary
    assert s["delivered"] == (history["status"] == "Completed").sum()
    assert s["cost_per_delivered"] == pytest.approx(usage["price"].sum() / s["delivered"], abs=1e-6)
    subs = rep.tables["subaccounts"].set_index("subaccount_id")
    per_sub = history[history["status"] == "Completed"].groupby("subaccount_id").size()
    for sub, n in per_sub.items():
        assert subs.loc[sub, "delivered"] == n


def test_reconciliation_is_zero_on_coherent_data(coherent):
    usage, history = coherent
    rep = build(usage, "2026-01", "2026-03", account=ACME, history=history)
    rec = rep.tables["reconciliation"]
    assert len(rec) == len(usage)  # one row per month x subaccount billed
    assert (rec["status"] == "match").all()
    assert (rec["spend_diff"] == 0).all() and (rec["units_diff"] == 0).all()
    assert rec["usage_spend"].sum() == pytest.approx(history["message_price"].sum())
    assert rep.summary["reconciliation_differences"] == 0
    assert not rep.alerts


def test_reconciliation_flags_an_injected_difference(coherent):
    usage, history = coherent
    doctored = history.copy()
    row = doctored.index[doctored["subaccount_id"] == 102][5]
    doctored.loc[row, "message_price"] += 0.5  # one message priced differently
    extra = doctored.iloc[[0]].assign(subaccount_id=pd.array([104], dtype="Int64"))
    doctored = pd.concat([doctored, extra], ignore_index=True)  # a message usage never billed
    rep = build(usage, "2026-01", "2026-03", account=ACME, history=doctored)
    rec = rep.tables["reconciliation"]
    bad = rec[rec["status"] == "difference"]
    month = pd.Timestamp(history.loc[row, "date"]).tz_convert("UTC")
    month = pd.Timestamp(year=month.year, month=month.month, day=1, tz="UTC")
    assert set(zip(bad["month"], bad["subaccount_id"], strict=True)) == {
        (month, 102),
        (pd.Timestamp("2026-01-01", tz="UTC"), 104),
    }
    priced = bad.set_index("subaccount_id").loc[102]
    assert priced["spend_diff"] == pytest.approx(-0.5) and priced["units_diff"] == 0
    unbilled = bad.set_index("subaccount_id").loc[104]
    assert unbilled["usage_spend"] == 0 and unbilled["units_diff"] < 0
    assert rep.summary["reconciliation_differences"] == 2
    assert any("reconciliation" in a for a in rep.alerts)
    # Within the tolerance, a difference is rounding.
    tiny = history.copy()
    tiny.loc[row, "message_price"] += 0.004
    assert (
        build(usage, "2026-01", "2026-03", history=tiny).summary["reconciliation_differences"] == 0
    )


def test_month_over_month_change(usage):
    rep = build(usage, "2026-02", "2026-10", account=ACME)
    wide = rep.tables["monthly_spend"]
    # usage has January: it is the baseline of February's change.
    jan = usage.loc[usage["month"] == pd.Timestamp("2026-01-01", tz="UTC"), "price"].sum()
    assert wide["change"].iloc[0] == pytest.approx(wide["total"].iloc[0] - jan)
    assert wide["change_pct"].iloc[0] == pytest.approx(wide["total"].iloc[0] / jan - 1)
    diffs = wide["total"].diff().iloc[1:].to_numpy()
    assert np.allclose(wide["change"].iloc[1:].to_numpy(), diffs)
    # April has no usage: May's change is its whole spend, and its % is undefined.
    may = wide.set_index("month").loc[pd.Timestamp("2026-05-01", tz="UTC")]
    assert may["change"] == pytest.approx(may["total"]) and pd.isna(may["change_pct"])
    # Without the month before the period, the first change is unknown.
    first = build(usage, "2026-01", "2026-10").tables["monthly_spend"]
    assert pd.isna(first["change"].iloc[0])
    by_ch = rep.tables["monthly_by_channel"]
    sms = by_ch[by_ch["channel"] == "sms"].reset_index(drop=True)
    assert np.allclose(sms["change"].iloc[1:], sms["spend"].diff().iloc[1:])


def test_shares(report, usage):
    subs = report.tables["subaccounts"]
    assert subs["share"].sum() == pytest.approx(1.0)
    expected = usage.groupby("username")["price"].sum() / usage["price"].sum()
    for name, share in expected.items():
        assert subs.set_index("username").loc[name, "share"] == pytest.approx(share)
    assert list(subs["spend"]) == sorted(subs["spend"], reverse=True)
    by_sub = report.tables["monthly_by_subaccount"]
    per_month = by_sub.groupby("month")["share"].sum()
    billed = by_sub.groupby("month")["spend"].sum() > 0
    assert np.allclose(per_month[billed], 1.0)
    assert by_sub.loc[~by_sub["month"].isin(billed[billed].index), "share"].isna().all()


@pytest.mark.parametrize(
    "by",
    [("channel",), ("subaccount",), ("month",), ("channel", "subaccount"), ("month", "channel")],
)
def test_breakdown_by(usage, by):
    rep = build(usage, "2026-01", "2026-10", by=by)
    got = rep.tables["breakdown"]
    keys = []
    for dim in by:
        keys += ["subaccount_id"] if dim == "subaccount" else [dim]
    expected = usage.groupby(keys, observed=True)["price"].sum()
    expected = expected[expected != 0] if "month" in by else expected
    keyed = got.groupby(keys, observed=True)["spend"].sum()
    for key, value in expected.items():
        assert keyed.loc[key] == pytest.approx(value)
    assert got["spend"].sum() == pytest.approx(usage["price"].sum())
    assert ("change" in got) == ("month" in by)
    if "month" not in by:
        assert got["share"].sum() == pytest.approx(1.0)
    assert rep.spec("breakdown").description.startswith("Units and spend by " + by[0])


def test_breakdown_default_is_every_usage_row(report, usage):
    got = report.tables["breakdown"]
    assert len(got) >= len(usage)
    merged = got.merge(usage, on=["month", "channel", "subaccount_id"])
    assert np.allclose(merged["spend"], merged["price"])


def test_bad_options_are_option_errors(usage):
    from csframe.reports import OptionError

    for by in [(), ("week",), ("month", "month")]:
        with pytest.raises(OptionError):
            build(usage, "2026-01", "2026-10", by=by)
    for budget in [-1, float("nan"), "lots", {"marketing": "x"}]:
        with pytest.raises(OptionError):
            build(usage, "2026-01", "2026-10", budget=budget)


def test_account_budget_flags_months_over_it(usage):
    rep = build(usage, "2026-01", "2026-10", account=ACME, budget=150)
    wide = rep.tables["monthly_spend"]
    over = [f"{m:%Y-%m}" for m in wide.loc[wide["total"] > 150, "month"]]
    assert over, "the fixture should have months over 150"
    assert rep.summary["over_budget_months"] == over
    assert rep.summary["budget_exceeded"] and rep.budget_exceeded
    lines = rep.tables["budget"]
    assert list(lines["scope"].unique()) == ["account"]
    assert lines["over_budget"].sum() == len(over)
    assert np.allclose(lines["remaining"], 150 - lines["spend"])
    assert np.allclose(lines["used"], lines["spend"] / 150)
    assert sum("over budget" in a for a in rep.alerts) == len(over)
    (hl,) = rep.spec("monthly_spend").highlights
    assert (hl.column, hl.op, hl.threshold) == ("total", ">", 150)
    assert not build(usage, "2026-01", "2026-10", budget=10_000).budget_exceeded


def test_subaccount_budgets_by_name_and_id(usage):
    # "ghost" is a real subaccount of the account that billed nothing in the period.
    subaccounts = pd.DataFrame(
        {
            "subaccount_id": [101, 102, 103, 104],
            "api_username": ["main", "marketing", "support", "ghost"],
        }
    )
    rep = build(
        usage,
        "2026-01",
        "2026-10",
        budget={"marketing": 30, "103": 1e6, "ghost": 5},
        subaccounts=subaccounts,
    )
    lines = rep.tables["budget"]
    marketing = lines[lines["username"] == "marketing"]
    spend = usage[usage["username"] == "marketing"].groupby("month")["price"].sum()
    assert set(marketing.loc[marketing["over_budget"], "month"]) == set(spend[spend > 30].index)
    assert rep.summary["over_budget_subaccounts"] == ["marketing"]
    assert not lines.loc[lines["subaccount_id"] == 103, "over_budget"].any()
    assert rep.summary["budget_without_usage"] == ["ghost"]
    by_sub = rep.tables["monthly_by_subaccount"]
    assert by_sub.loc[by_sub["username"] == "marketing", "budget"].eq(30).all()
    flagged = by_sub[by_sub["over_budget"]]
    assert set(flagged["username"]) == {"marketing"}
    subs = rep.tables["subaccounts"].set_index("username")
    assert subs.loc["marketing", "months_over"] == (spend > 30).sum()


def test_budget_for_an_unknown_subaccount_is_an_option_error(usage):
    from csframe.reports import OptionError

    with pytest.raises(
        OptionError,
        match=r"unknown subaccount 'nosuch'.*known subaccounts:.*"
        r"marketing \(102\)",
    ):
        build(usage, "2026-01", "2026-10", budget={"total": 100, "nosuch": 10})


# --- against the sandbox: independent pandas from the raw frames ----------------------------------


def refund_totals(sandbox, first, last) -> pd.DataFrame:
    """The sandbox's SMS refunds (``sb.refunds()``) in months ``first..last`` per (month,
    subaccount_id): the parts and price usage leaves out of what history shows."""
    end = last + pd.offsets.MonthBegin(1)
    found = pd.DataFrame(
        sandbox.refunds(first, end),
        columns=["date", "subaccount_id", "message_parts", "message_price"],
    )
    month = pd.to_datetime(found["date"], unit="s").dt.to_period("M").dt.to_timestamp()
    found["month"] = month.dt.tz_localize("UTC").astype("datetime64[s, UTC]")
    found["message_price"] = found["message_price"].astype("float64")
    found["subaccount_id"] = found["subaccount_id"].astype("Int64")
    return found.groupby(["month", "subaccount_id"])[["message_parts", "message_price"]].sum()


def test_usage_cost_history_tables_match_raw_frames(client, sandbox):
    first, last = period()
    rep = usage_cost(client)
    usage = client.usage(start=f"{first:%Y-%m}", end=f"{last:%Y-%m}")
    history = client.history("sms", first, last + pd.offsets.MonthBegin(1))
    month = history["date"].dt.tz_localize(None).dt.to_period("M").dt.to_timestamp()
    month = month.dt.tz_localize("UTC")
    rec = rep.tables["reconciliation"]
    # Every billed channel with a history is reconciled; the only differences are the
    # sandbox's SMS refunds (usage is what was billed, history what was sent).
    refunded = refund_totals(sandbox, first, last)
    bad = rec[rec["status"] != "match"]
    assert set(bad["channel"]) <= {"sms"}
    assert set(zip(bad["month"], bad["subaccount_id"], strict=True)) == set(refunded.index)
    billed = usage.groupby("channel", observed=True)["price"].sum()
    assert set(rec["channel"]) == {str(c) for c in billed[billed > 0].index}
    assert rec["usage_spend"].sum() == pytest.approx(usage["price"].sum())
    sms = rec[rec["channel"] == "sms"]
    assert sms["history_spend"].sum() == pytest.approx(history["message_price"].sum())
    assert sms["usage_spend"].sum() == pytest.approx(
        history["message_price"].sum() - refunded["message_price"].sum()
    )
    assert sms["history_units"].sum() == history["message_parts"].sum()
    assert sms["messages"].sum() == len(history)
    cpd = rep.tables["cost_per_delivered"]
    assert "post" not in set(cpd["channel"])  # letters have no delivery receipts
    cpd = cpd[cpd["channel"] == "sms"].set_index("month")
    delivered = history[history["status_code"] == "201"].groupby(month).size()
    sms_spend = usage[usage["channel"] == "sms"].groupby("month")["price"].sum()
    for m, n in delivered.items():
        assert cpd.loc[m, "delivered"] == n
        assert cpd.loc[m, "cost_per_delivered"] == pytest.approx(sms_spend[m] / n, abs=1e-6)
    failed = history[history["status"] == "Failed"]
    assert cpd["failed_spend"].sum() == pytest.approx(failed["message_price"].sum())
    all_failed = rep.tables["cost_per_delivered"]["failed_spend"].sum()  # every channel
    assert rep.summary["failed_spend"] == pytest.approx(all_failed)
    assert rep.summary["reconciliation_differences"] == len(refunded)


def test_streamed_usage_cost_equals_the_report_of_the_whole_histories(client):
    # usage_cost(client) reads each channel's history as lean chunks; every table, the
    # summary and the alerts must be those of the channels' whole history frames.
    from csframe.reports.history import HISTORY_SOURCES, window

    rep = usage_cost(client)
    first, last = period()
    channels = rep.summary["reconciled_channels"]
    assert len(channels) >= 5
    histories = {
        c: client.history(HISTORY_SOURCES[c].channel, *window(first, last)) for c in channels
    }
    usage = client.usage(start=f"{first - pd.offsets.MonthBegin(1):%Y-%m}", end=f"{last:%Y-%m}")
    whole = build(
        usage,
        first,
        last,
        account=rep.meta.account,
        history=histories,
        baseline=True,
        generated_at=rep.meta.generated_at,
    )
    assert list(rep.tables) == list(whole.tables)
    for name, table in whole.tables.items():
        pd.testing.assert_frame_equal(rep.tables[name], table, obj=name)
    assert rep.summary == whole.summary and rep.alerts == whole.alerts


def test_reconciliation_shows_the_sandbox_refunds(client, sandbox):
    """Usage is what was billed, history what was sent: the sandbox refunds some SMS that
    failed for a number not in service, and the reconciliation sheet must show exactly
    those refunds, row by row (on a sandbox whose usage was the sum of history, it showed
    nothing)."""
    first, last = period()
    refunded = refund_totals(sandbox, first, last)
    assert len(refunded) >= 3  # the default seed has refunds in several months
    rec = usage_cost(client, history_channels=["sms"]).tables["reconciliation"]
    rec = rec.set_index(["month", "subaccount_id"])
    diff = rec.loc[refunded.index]
    assert (diff["status"] == "difference").all()
    np.testing.assert_allclose(diff["spend_diff"], -refunded["message_price"], atol=1e-6)
    assert (diff["units_diff"] == -refunded["message_parts"]).all()
    others = rec.drop(index=refunded.index)
    assert len(others) and (others["status"] == "match").all()


def test_reconciliation_matches_when_refunds_are_off():
    from csframe import Client
    from csframe.sandbox import running

    with running(scale="tiny", seed=42, behaviour={"refund_share": 0}) as sb:
        assert sb.refunds() == []
        cs = Client(**sb.credentials, base_url=sb.base_url, cache=False, progress=False)
        rep = usage_cost(cs, history_channels=["sms"])
        cs.close()
    rec = rep.tables["reconciliation"]
    assert len(rec) and (rec["status"] == "match").all()


def test_usage_cost_flags_messages_inserted_after_the_usage_load(tmp_path):
    """Usage loaded, then messages arrive, then the history is read: a real-life race that
    the reconciliation must show, not hide."""
    from csframe import Client
    from csframe.reports import history as hist
    from csframe.sandbox import running

    # Refunds off: the only difference is then the race (refunds have their own test).
    with running(scale="tiny", seed=5, behaviour={"refund_share": 0}) as sb:
        cs = Client(**sb.credentials, base_url=sb.base_url, cache=False, progress=False)
        # The new messages land in the running month: the period must include it.
        first, last = period(end=f"{pd.Timestamp.now(tz='UTC'):%Y-%m}")
        usage = cs.usage(start=f"{first:%Y-%m}", end=f"{last:%Y-%m}")
        sb.insert_sms(3)
        lean, _ = hist.load(
            cs,
            "sms",
            first,
            last,
            columns=("date", "subaccount_id", "message_parts", "message_price"),
        )
        rep = build(usage, first, last, history=lean)
        cs.close()
    rec = rep.tables["reconciliation"]
    bad = rec[rec["status"] == "difference"]
    assert len(bad) >= 1 and set(bad["month"]) == {last}
    assert bad["spend_diff"].sum() < 0  # history has more than was billed
    assert (bad["units_diff"] < 0).all()
    assert rep.summary["reconciliation_differences"] == len(bad)
