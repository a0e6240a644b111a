"""Usage and cost: monthly spend and volume per channel and per subaccount.

Built from one ``client.usage(start, end)`` frame (the usage endpoint, month x channel x
subaccount) plus the account's name and currency. Every month of the period appears in
the monthly tables, with zeros where nothing was billed, so charts and month-over-month
comparisons have no gaps.

Tables (sheet order):

``monthly_spend``
    One row per month, one spend column per channel, and ``total``. The chart and the
    ``monthly_spend`` figure are drawn from it.
``monthly_by_channel``
    Long: month, channel, count (units billed: SMS parts, emails, pages), spend.
``monthly_by_subaccount``
    Long: month, subaccount_id, username, count, spend.
``detail``
    The usage frame as loaded (month, channel, subaccount_id, username, count, price).

The first three have a totals row. Extension points for later reports (``by=``,
budgets, reconciliation against history) are the separate steps below:
:func:`usage_cost` loads, :func:`build` shapes, so a new option adds a step without
touching the loading or the workbook writer.

Example::

    rep = usage_cost(cs, start="2026-01", end="2026-10")
    rep.tables["monthly_spend"]
    rep.summary["total_spend"]
    rep.to_excel("usage-cost.xlsx")
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from csframe.reports.base import AccountInfo, ChartSpec, Report, ReportMeta, TableSpec, account_info
from csframe.timeutil import month_range

NAME = "usage-cost"
MONEY_DECIMALS = 6
TITLE = "Usage and cost"

#: Channels in the order the usage endpoint lists them; unknown ones follow, sorted.
CHANNELS = ("sms", "mms", "voice", "fax", "post", "email", "email_transactional", "postcards")
CHANNEL_LABELS = {
    "sms": "SMS",
    "mms": "MMS",
    "voice": "Voice",
    "fax": "Fax",
    "post": "Post",
    "email": "Email",
    "email_transactional": "Email (transactional)",
    "postcards": "Postcards",
    "total": "Total",
}


def period(start=None, end=None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last month (UTC month starts) of the report period, with the client's
    rules: months inclusive; no ``start`` = the 12 months up to ``end``; no ``end`` = up
    to the current month. Raises ValueError for a bad month or ``start`` after ``end``.

    Example::

        >>> period("2026-01", "2026-10")[1]
        Timestamp('2026-10-01 00:00:00+0000', tz='UTC')
    """
    months = month_range(start, end)
    return months[0], months[-1]


def usage_cost(client, start=None, end=None) -> Report:
    """The usage-and-cost report for months ``start``..``end`` (inclusive, 'YYYY-MM').

    Without ``start``/``end``: the 12 months up to the current one. Uses
    ``client.account()`` (name, currency) and ``client.usage()``.

    Example::

        rep = usage_cost(cs, "2026-01", "2026-10")
        rep.summary["total_spend"], rep.figures["monthly_spend"]
    """
    first, last = period(start, end)
    # The account first: a wrong key fails here, before the concurrent month loads.
    account = account_info(client)
    usage = client.usage(start=f"{first:%Y-%m}", end=f"{last:%Y-%m}")
    return build(usage, first, last, account=account)


def build(
    usage: pd.DataFrame,
    start,
    end,
    *,
    account: AccountInfo | None = None,
    generated_at: dt.datetime | None = None,
) -> Report:
    """Shape a usage frame (the contract of ``Client.usage``) into the report.

    Separate from loading so that tests, notebooks and later reports can feed it any
    usage frame.

    Example::

        rep = build(cs.usage("2026-01", "2026-03"), "2026-01", "2026-03")
    """
    first, last = period(start, end)
    account = account or AccountInfo()
    currency = usage.attrs.get("currency") or account.currency
    meta = ReportMeta(
        name=NAME,
        title=TITLE,
        start=first,
        end=last,
        account=account,
        currency=currency,
        generated_at=generated_at or dt.datetime.now(dt.UTC),
    )
    months = pd.date_range(first, last, freq="MS").as_unit("s")
    detail = _detail(usage, months)
    channels = _channels(detail["channel"])
    by_channel = monthly_by_channel(detail, months, channels)
    by_subaccount = monthly_by_subaccount(detail, months)
    wide = monthly_spend(by_channel, months, channels)

    tables = {
        "monthly_spend": wide,
        "monthly_by_channel": by_channel,
        "monthly_by_subaccount": by_subaccount,
        "detail": detail,
    }
    specs = {
        "monthly_spend": TableSpec(
            "Spend per month and channel, with the month's total.",
            kinds={"month": "month", **{c: "money" for c in (*channels, "total")}},
            labels={c: CHANNEL_LABELS.get(c, c) for c in (*channels, "total")},
            totals=(*channels, "total"),
        ),
        "monthly_by_channel": TableSpec(
            "Units billed and spend per month and channel.",
            kinds={"month": "month", "spend": "money"},
            labels={"count": "Units"},
            totals=("count", "spend"),
            freeze_columns=2,
        ),
        "monthly_by_subaccount": TableSpec(
            "Units billed and spend per month and subaccount.",
            kinds={"month": "month", "spend": "money"},
            labels={"subaccount_id": "Subaccount", "count": "Units"},
            totals=("count", "spend"),
            freeze_columns=3,
        ),
        "detail": TableSpec(
            "The usage endpoint's rows: month x channel x subaccount.",
            kinds={"month": "month", "price": "money"},
            labels={"subaccount_id": "Subaccount", "count": "Units"},
            freeze_columns=2,
        ),
    }
    charts = [
        ChartSpec(
            "monthly_spend",
            x="month",
            y=tuple(channels),
            kind="line",
            title="Monthly spend per channel",
            y_title=f"Spend ({currency})" if currency else "Spend",
        )
    ]
    report = Report(
        meta=meta,
        tables=tables,
        specs=specs,
        charts=charts,
        summary=_summary(detail, by_channel, by_subaccount, wide, channels, meta),
        summary_kinds={
            "total_spend": "money",
            "average_monthly_spend": "money",
            "peak_month_spend": "money",
            "total_units": "int",
            "months": "int",
            "subaccounts": "int",
        },
        summary_labels={"total_units": "Units billed"},
    )
    report.figures["monthly_spend"] = spend_figure(wide, channels, meta)
    return report


# --- tables ------------------------------------------------------------------------------


def _detail(usage: pd.DataFrame, months: pd.DatetimeIndex) -> pd.DataFrame:
    # Rows outside the period (should the endpoint return any) would make the monthly
    # tables and the detail sheet disagree; keep exactly the period.
    month = usage["month"]
    inside = month.between(months[0], months[-1]) if len(usage) else month.notna()
    sort = [c for c in ("month", "channel", "subaccount_id") if c in usage]
    detail = usage.loc[inside].sort_values(sort, kind="stable").reset_index(drop=True)
    detail.attrs = dict(usage.attrs)
    return detail


def _channels(channel: pd.Series) -> list[str]:
    seen = {str(c) for c in channel.dropna().unique()}
    known = [c for c in CHANNELS if c in seen]
    return known + sorted(seen - set(known))


def monthly_by_channel(detail: pd.DataFrame, months, channels: list[str]) -> pd.DataFrame:
    """Units and spend per month x channel; every month x channel pair present (zeros).

    Example::

        monthly_by_channel(usage, pd.date_range("2026-01-01", periods=3, freq="MS", tz="UTC"),
                           ["sms"])
    """
    grid = pd.MultiIndex.from_product(
        [months, pd.CategoricalIndex(channels, categories=channels)], names=["month", "channel"]
    )
    keyed = detail.assign(channel=pd.Categorical(detail["channel"].astype("str"), channels))
    sums = keyed.groupby(["month", "channel"], observed=True)[["count", "price"]].sum()
    out = sums.reindex(grid, fill_value=0).reset_index()
    return _typed(out.rename(columns={"price": "spend"}))


def monthly_by_subaccount(detail: pd.DataFrame, months) -> pd.DataFrame:
    """Units and spend per month x subaccount (id and username); zeros where none.

    Example::

        monthly_by_subaccount(usage, months)
    """
    ids = pd.array(sorted(detail["subaccount_id"].dropna().unique()), dtype="Int64")
    if detail["subaccount_id"].isna().any():
        ids = pd.array([*ids, pd.NA], dtype="Int64")
    grid = pd.MultiIndex.from_product(
        [months, pd.Index(ids, dtype="Int64")], names=["month", "subaccount_id"]
    )
    sums = detail.groupby(["month", "subaccount_id"], dropna=False)[["count", "price"]].sum()
    out = sums.reindex(grid, fill_value=0).reset_index()
    # A subaccount's username as last reported (it can be renamed within the period).
    names = (
        detail.dropna(subset=["username"]).groupby("subaccount_id", dropna=False)["username"].last()
    )
    out.insert(2, "username", out["subaccount_id"].map(names).astype("str"))
    return _typed(out.rename(columns={"price": "spend"}))


def monthly_spend(by_channel: pd.DataFrame, months, channels: list[str]) -> pd.DataFrame:
    """Spend wide: one row per month, one column per channel, and ``total``.

    Example::

        monthly_spend(monthly_by_channel(usage, months, ["sms"]), months, ["sms"])
    """
    wide = by_channel.pivot_table(
        index="month", columns="channel", values="spend", aggfunc="sum", observed=False
    )
    wide = _money(wide.reindex(index=months, columns=channels, fill_value=0.0))
    wide.columns = [str(c) for c in wide.columns]
    wide["total"] = _money(wide.sum(axis=1))
    wide.index.name = "month"
    return wide.reset_index()


def _money(values):
    # Sums of amounts with at most 6 decimals (what the API sends): rounding to 6 drops
    # float noise (59.33600000000001), so a copied cell or a CSV reads as the API does.
    return values.astype("float64").round(MONEY_DECIMALS)


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    # reindex(fill_value=0) and empty groupbys can loosen dtypes; restore the contract's.
    df["month"] = pd.to_datetime(df["month"], utc=True).astype("datetime64[s, UTC]")
    df["count"] = df["count"].astype("Int64")
    df["spend"] = _money(df["spend"])
    if "subaccount_id" in df:
        df["subaccount_id"] = df["subaccount_id"].astype("Int64")
    return df


# --- summary and figure ------------------------------------------------------------------


def _summary(detail, by_channel, by_subaccount, wide, channels, meta: ReportMeta) -> dict:
    total = round(float(detail["price"].sum()), MONEY_DECIMALS)
    n = meta.months
    peak = wide.loc[wide["total"].idxmax()] if len(wide) and total > 0 else None
    per_channel = by_channel.groupby("channel", observed=True)["spend"].sum()
    per_sub = by_subaccount.groupby(["subaccount_id", "username"], dropna=False)["spend"].sum()
    top_sub = per_sub.idxmax() if len(per_sub) and per_sub.max() > 0 else None
    return {
        "months": n,
        "channels": list(channels),
        "subaccounts": int(detail["subaccount_id"].nunique(dropna=False)) if len(detail) else 0,
        "total_units": int(detail["count"].sum()),
        "total_spend": total,
        "average_monthly_spend": round(total / n, MONEY_DECIMALS),
        "peak_month": f"{peak['month']:%Y-%m}" if peak is not None else None,
        "peak_month_spend": float(peak["total"]) if peak is not None else None,
        "top_channel": str(per_channel.idxmax()) if len(per_channel) and total > 0 else None,
        "top_subaccount": str(top_sub[1]) if top_sub is not None else None,
    }


def spend_figure(wide: pd.DataFrame, channels: list[str], meta: ReportMeta):
    """Line chart of monthly spend per channel (a matplotlib Figure, no pyplot: it needs
    no display and leaves no global state behind in long-running processes).

    Example::

        fig = spend_figure(rep.tables["monthly_spend"], ["sms"], rep.meta)
        fig.savefig("spend.png")
    """
    from matplotlib.dates import DateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(9, 4.5), layout="constrained")
    ax = fig.add_subplot()
    x = wide["month"].dt.tz_localize(None)
    for ch in channels:
        ax.plot(x, wide[ch], marker="o", label=CHANNEL_LABELS.get(ch, ch))
    sym = meta.currency_symbol or ""
    # Whole units read best, unless the amounts are small enough for ticks at cents.
    decimals = 0 if len(wide) and wide["total"].max() >= 20 else 2
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{sym}{v:,.{decimals}f}"))
    ax.xaxis.set_major_formatter(DateFormatter("%Y-%m"))
    ax.set_title(f"Monthly spend per channel, {meta.period[0]} to {meta.period[1]}")
    ax.set_ylabel(f"Spend ({meta.currency})" if meta.currency else "Spend")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    if channels:
        ax.legend(loc="upper left", frameon=False)
    else:
        ax.text(0.5, 0.5, "No usage in this period", ha="center", transform=ax.transAxes)
    fig.autofmt_xdate()
    return fig
