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
from csframe.reports.usage_cost import build, period

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


def test_period_defaults_to_the_twelve_months_up_to_now():
    first, last = period()
    now = pd.Timestamp.now(tz="UTC")
    assert (last.year, last.month) == (now.year, now.month)
    assert (last.year - first.year) * 12 + last.month - first.month == 11
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
