"""Usage and cost: spend and volume per month, channel and subaccount, checked against the
message history and against budgets.

Loads (in this order, so a wrong key fails before the concurrent loads): the account's
name and currency; ``client.usage`` for the period plus the month before it (the baseline
of the first month's month-over-month change); and, unless ``history=False``, the outbound
message history of the period for every billed channel that has one (:data:`HISTORY_SOURCES`;
``client.iter_history``, streamed, only the columns needed). Every month of the period
appears in the monthly tables, with zeros where nothing was billed, so charts and
month-over-month comparisons have no gaps.

Months are billing months as ``/account/usage`` reports them (UTC calendar months in the
sandbox); the history is cut at the same instants so that the two reconcile. Without
``start``/``end`` the period is the last 12 complete months. When it includes the running
month, that month is "to date": its rows have no change against the month before, it is
out of the average, peak and "last month" figures, and the summary adds the spend to date
with a run-rate projection (spend so far / share of the month elapsed), labelled as an
estimate.

Tables (sheet order):

``monthly_spend``
    One row per month: spend per channel, ``total``, ``change`` and ``change_pct`` against
    the previous month. The line chart is drawn from it.
``subaccounts``
    One row per subaccount over the period: units, spend, ``share`` of the total, SMS
    delivered and cost per delivered (with history), monthly budget and months over it
    (with subaccount budgets). Sorted by spend; the bar chart is drawn from it.
``monthly_by_channel``, ``monthly_by_subaccount``
    Long: month x channel (x subaccount), units, spend, share of the month, change.
``breakdown``
    Spend and units grouped by ``by`` (default month x channel x subaccount), with the
    share of the month (or of the period when ``by`` has no month) and, when ``by`` has
    month, the change against the previous month. Rows where nothing was billed in the
    month nor in the one before are left out.
``cost_per_delivered`` (with history)
    Per month and channel with delivery receipts (not post): messages by outcome (see
    :mod:`csframe.reports.history`), delivery rate, billed spend (usage), spend on failed
    messages and spend per delivered message. The headline figures are SMS.
``reconciliation`` (with history)
    Per month x channel x subaccount: units and spend from usage against the history's
    units (SMS/MMS/voice parts, fax pages, one per letter or postcard; email: spend only)
    and prices; ``status`` is ``difference`` when spend differs by more than ``tolerance``
    or units differ at all. Months are UTC calendar months, as the usage endpoint's.
``budget`` (with ``budget=``)
    Per month and budget line (the account, each budgeted subaccount): budget, spend,
    remaining, share used, ``over_budget``.
``detail``
    The usage frame as loaded (month, channel, subaccount_id, username, count, price).

Budgets are monthly amounts in the account's currency: a number is the account's
monthly budget; a mapping budgets subaccounts by username or id, with the key ``total``
(or ``account``, ``*``) for the whole account. A subaccount key that names no subaccount
of the account (``client.subaccounts()``) is an :class:`OptionError` listing the real ones.

Example::

    rep = usage_cost(cs, "2026-01", "2026-10", budget={"total": 500, "csframe_marketing": 150})
    rep.tables["monthly_spend"]
    rep.summary["total_spend"], rep.budget_exceeded
    rep.to_excel("usage-cost.xlsx")
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from csframe import timeutil
from csframe.reports import history as hist
from csframe.reports import stored
from csframe.reports.base import Report
from csframe.reports.budgets import (
    Budget,
    budget_lines,
    check_subaccounts,
    known_subaccounts,
    mark_subaccount_budgets,
    parse_budget,
    subaccount_budget_columns,
)
from csframe.reports.cube import count, cube
from csframe.reports.history import HISTORY_SOURCES, HistorySource, history_fields, lean_history
from csframe.reports.model import (
    MONEY_DECIMALS,
    AccountInfo,
    ChartSpec,
    Highlight,
    OptionError,
    ReportMeta,
    TableSpec,
    account_info,
    ratio,
    round_money,
)
from csframe.reports.periods import Period, resolve_period

if TYPE_CHECKING:  # for annotations only
    from csframe.client import Client
    from csframe.timeutil import Instant

NAME = "usage-cost"
#: Usage is billed per calendar month as ``/account/usage`` reports it (UTC months in the
#: sandbox); the history is cut at the same instants so that the two reconcile.
BILLING_TZ = "UTC"
TITLE = "Usage and cost"
DEFAULT_BY = ("month", "channel", "subaccount")
#: Spend differences up to half a cent are rounding, not a discrepancy.
DEFAULT_TOLERANCE = 0.005


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
_BY_ALIASES = {
    "month": "month",
    "channel": "channel",
    "subaccount": "subaccount",
    "subaccount_id": "subaccount",
    "username": "subaccount",
}
__all__ = [
    "HISTORY_SOURCES",
    "Budget",
    "HistorySource",
    "build",
    "history_fields",
    "lean_history",
    "parse_budget",
    "parse_by",
    "usage_cost",
]


def parse_by(by) -> tuple[str, ...]:
    """The ``by`` dimensions, validated: any of month, channel, subaccount (aliases
    subaccount_id, username), each once, at least one.

    Example::

        >>> parse_by(("month", "username"))
        ('month', 'subaccount')
    """
    if isinstance(by, str):
        by = (by,)
    out = []
    for item in by or ():
        dim = _BY_ALIASES.get(str(item).strip().lower())
        if dim is None:
            raise OptionError(f"by: unknown dimension {item!r}; use month, channel, subaccount")
        if dim in out:
            raise OptionError(f"by: {item!r} given twice")
        out.append(dim)
    if not out:
        raise OptionError("by: give at least one of month, channel, subaccount")
    return tuple(out)


# --- loading -------------------------------------------------------------------------------


def usage_cost(
    client: Client,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    by: Sequence[str] = DEFAULT_BY,
    budget: float | Mapping[str | int, float] | Budget | None = None,
    history: bool = True,
    history_channels: Sequence[str] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    now: Instant | None = None,
    store: str | os.PathLike | None = None,
    engine: str = "pandas",
) -> Report:
    """The usage-and-cost report for months ``start``..``end`` (inclusive, 'YYYY-MM').

    Without ``start``/``end``: the last 12 complete months. A period that includes the
    current month shows it "to date", out of month-over-month and peak comparisons, with
    a run-rate projection. Months are billing months (:data:`BILLING_TZ`).
    ``history=False`` skips the history (no cost per delivered, no reconciliation): one
    request per month. ``history_channels``: the usage channels reconciled (default: every
    channel billed in the period that has a history, see :data:`HISTORY_SOURCES`).
    ``budget`` subaccounts are checked against ``client.subaccounts()``: an unknown name
    is an :class:`OptionError` listing the known ones.
    ``store``: take the history from synced stores (a channel's store, or a folder of
    them such as ``data/``) instead of the API; ``engine="dask"`` aggregates them on the
    Dask cluster, only aggregates coming back (the ``dask`` extra). Usage still comes from
    the API.

    Example::

        rep = usage_cost(cs, "2026-01", "2026-10", budget=500)
        rep = usage_cost(cs, "2026-01", "2026-10", store="data", engine="dask")
        rep.summary["total_spend"], rep.figures["monthly_spend"], rep.budget_exceeded
    """
    stored.check_source(store, engine)
    per = resolve_period(start, end, tz=BILLING_TZ, now=now)
    first, last = per.first, per.last
    by = parse_by(by)
    budget = parse_budget(budget)
    # The account first: a wrong key fails here, before the concurrent month loads.
    account = account_info(client)
    subaccounts = None
    if budget and budget.subaccounts:
        subaccounts = client.subaccounts()
        check_subaccounts(budget, known_subaccounts(subaccounts))
    baseline = first - pd.offsets.MonthBegin(1)
    usage = client.usage(start=f"{baseline:%Y-%m}", end=f"{last:%Y-%m}")
    histories: dict[str, pd.DataFrame] = {}
    notes: list[str] = []
    if history:
        if history_channels is None:
            inside = usage[usage["month"].between(first, last)]
            billed = inside.groupby("channel", observed=True)[["count", "price"]].sum()
            billed = billed[(billed["count"] != 0) | (billed["price"] != 0)]
            history_channels = [
                c for c in _channels(pd.Series(billed.index)) if c in HISTORY_SOURCES
            ]
            if not history_channels:
                history_channels = ["sms"]
        for channel in history_channels:
            source = HISTORY_SOURCES.get(channel)
            if source is None:
                notes.append(f"{channel}: no message history to reconcile usage with.")
                continue
            fields = history_fields(source)
            columns = (*fields.values(), "subaccount_id")
            if store is not None:
                try:
                    histories[channel] = _from_store(store, source, first, last, engine)
                except OptionError as exc:  # no store for this channel
                    notes.append(f"{channel}: no history ({exc}).")
                continue
            try:
                frame, _ = hist.load(client, source.channel, first, last, columns=columns)
            except ValueError as exc:  # a channel this client cannot load history for
                notes.append(f"{channel}: no history ({exc}).")
                continue
            histories[channel] = lean_history(frame, source)
    report = build(
        usage,
        first,
        last,
        account=account,
        history=histories or None,
        by=by,
        budget=budget,
        tolerance=tolerance,
        baseline=True,
        subaccounts=subaccounts,
        now=per.now,
    )
    report.notes.extend(notes)
    return report


def _history_cube(frame: pd.DataFrame, source: HistorySource) -> pd.DataFrame:
    """Raw history rows of ``source`` (or cubes of them) as one row per UTC month,
    outcome and subaccount: what the history-based sheets need
    (:mod:`csframe.reports.cube`)."""
    if "_month" not in frame:
        frame = lean_history(frame, source)
        frame["_month"] = _history_months(frame["date"]).array  # not to_numpy: objects
    keys = ["_month", "outcome", "subaccount_id"]
    return cube(frame, keys, sums=["message_parts", "message_price"], maxes=["date"])


def _from_store(path, source: HistorySource, first, last, engine: str) -> pd.DataFrame:
    """The standard history of ``source`` over months ``first``..``last`` from its store
    under ``path``, as month cubes."""
    root = stored.find(path, source.channel)
    fields = history_fields(source)
    columns = {*fields.values(), "subaccount_id", "status", "status_code", "error_code"}
    t0, t1 = hist.window(first, last)
    agg, _ = stored.aggregate(
        root,
        t0,
        t1,
        columns=columns | {"direction"},
        reduce=functools.partial(_history_cube, source=source),
        engine=engine,
    )
    agg = agg.drop(columns="_month").sort_values("date", kind="stable", ignore_index=True)
    agg.attrs["currency"] = stored.store_currency(root)
    return agg


# --- building ------------------------------------------------------------------------------


def build(
    usage: pd.DataFrame,
    start,
    end,
    *,
    account: AccountInfo | None = None,
    history: pd.DataFrame | Mapping[str, pd.DataFrame] | None = None,
    by: Sequence[str] = DEFAULT_BY,
    budget=None,
    tolerance: float = DEFAULT_TOLERANCE,
    baseline: bool | None = None,
    generated_at: dt.datetime | None = None,
    subaccounts: pd.DataFrame | None = None,
    now=None,
) -> Report:
    """Shape a usage frame (the contract of ``Client.usage``) and optionally history
    frames (``Client.history`` frames, or lean ones from :func:`csframe.reports.history.load`;
    one frame means SMS) into the report.

    ``baseline``: whether ``usage`` covers the month before ``start`` (then the first
    month's change is against it); None infers it from rows before ``start``.
    ``subaccounts``: the account's subaccounts (``client.subaccounts()``), against which
    budget keys are checked; without it, the subaccounts seen in ``usage``. ``now``: the
    instant that decides which month is still running (default: ``generated_at``, else
    :func:`csframe.timeutil.now_utc`).

    Example::

        rep = build(cs.usage("2026-01", "2026-03"), "2026-01", "2026-03",
                    history=cs.history("sms", "2026-01-01", "2026-04-01"))
    """
    if now is None:
        now = pd.Timestamp(generated_at) if generated_at is not None else timeutil.now_utc()
    per = resolve_period(start, end, tz=BILLING_TZ, now=now)
    first, last = per.first, per.last
    by = parse_by(by)
    budget = parse_budget(budget)
    known = known_subaccounts(subaccounts if subaccounts is not None else usage)
    check_subaccounts(budget, known)
    account = account or AccountInfo()
    currency = usage.attrs.get("currency") or account.currency
    meta = ReportMeta(
        name=NAME,
        title=TITLE,
        start=first,
        end=last,
        account=account,
        currency=currency,
        generated_at=generated_at or per.now.to_pydatetime(),
        tz=BILLING_TZ,
        to_date=per.to_date,
        times_note=f"{BILLING_TZ}: months are billing months, as /account/usage reports them "
        "(the history is cut at the same instants); Excel cells carry no time zone",
    )
    months = per.months
    prior = first - pd.offsets.MonthBegin(1)
    if baseline is None:
        baseline = bool(len(usage)) and bool((usage["month"] < first).any())
    # Months used for changes: the period, plus the month before it when it was loaded.
    ext_months = months.insert(0, prior) if baseline else months
    ext = _detail(usage, ext_months)
    detail = _detail(usage, months)
    channels = _channels(detail["channel"])
    histories = _histories(history)

    by_channel = monthly_by_channel(ext, ext_months, channels)
    by_channel = _change(by_channel, ["channel"], months)
    by_subaccount = monthly_by_subaccount(ext, ext_months)
    by_subaccount = _change(by_subaccount, ["subaccount_id"], months)
    wide = monthly_spend(by_channel, months, channels)
    wide = _wide_change(wide, ext, prior if baseline else None)
    by_channel = _share_of_month(by_channel)
    by_subaccount = _share_of_month(by_subaccount)
    breakdown = spend_breakdown(ext, ext_months, months, by)
    # The running month is not a month to compare: no change against the one before.
    wide, by_channel, by_subaccount, breakdown = (
        _no_change_to_date(t, per.to_date) for t in (wide, by_channel, by_subaccount, breakdown)
    )

    cpd = cost_per_delivered(detail, histories, months) if histories else None  # None: no receipts
    recon = reconcile(detail, histories, months, tolerance) if histories else None
    subs = subaccount_totals(detail, histories)
    budget_table = budget_lines(wide, by_subaccount, budget) if budget else None
    if budget and budget.subaccounts:
        by_subaccount = mark_subaccount_budgets(by_subaccount, budget_table)
        subs = subaccount_budget_columns(subs, budget_table)

    tables = {"monthly_spend": wide, "subaccounts": subs}
    tables["monthly_by_channel"] = by_channel
    tables["monthly_by_subaccount"] = by_subaccount
    tables["breakdown"] = breakdown
    if cpd is not None:
        tables["cost_per_delivered"] = cpd
    if recon is not None:
        tables["reconciliation"] = recon
    if budget_table is not None:
        tables["budget"] = budget_table
    tables["detail"] = detail

    specs = _specs(channels, by, budget, tolerance)
    charts = [
        ChartSpec(
            "monthly_spend",
            x="month",
            y=tuple(channels),
            kind="line",
            title="Monthly spend per channel",
            y_title=f"Spend ({currency})" if currency else "Spend",
            cell="D3",
        ),
        ChartSpec(
            "subaccounts",
            x="username",
            y=("spend",),
            kind="bar",
            title="Spend per subaccount",
            y_title=f"Spend ({currency})" if currency else "Spend",
            cell="D22",
        ),
    ]
    report = Report.assemble(
        meta, tables, specs, charts, _summary(tables, channels, meta, budget, histories, per)
    )
    report.figures["monthly_spend"] = spend_figure(wide, channels, meta)
    report.figures["subaccount_spend"] = subaccount_figure(subs, meta)
    return report


def _specs(channels, by, budget: Budget | None, tolerance: float) -> dict[str, TableSpec]:
    over = (Highlight("over_budget", "==", True, row=True),)
    total_hl: tuple[Highlight, ...] = ()
    if budget and budget.account is not None:
        total_hl = (Highlight("total", ">", budget.account),)
    by_text = " x ".join(by)
    return {
        "monthly_spend": TableSpec(
            "Spend per month and channel, the month's total and its change on the month "
            "before" + (" (totals over the account budget in red)." if total_hl else "."),
            kinds={
                "month": "month",
                **{c: "money" for c in (*channels, "total", "change")},
                "change_pct": "percent",
            },
            labels={
                **{c: CHANNEL_LABELS.get(c, c) for c in (*channels, "total")},
                "change_pct": "Change %",
            },
            totals=(*channels, "total"),
            highlights=total_hl,
        ),
        "subaccounts": TableSpec(
            "Spend per subaccount over the period and its share of the total; with history, "
            "messages delivered and spend per delivered message; with budgets, months over.",
            kinds={
                "spend": "money",
                "share": "percent",
                "history_spend": "money",
                "cost_per_delivered": "price",
                "budget": "money",
            },
            labels={
                "subaccount_id": "Subaccount",
                "count": "Units",
                "delivered": "SMS delivered",
                "history_spend": "SMS spend",
                "cost_per_delivered": "Cost per delivered SMS",
                "months_over": "Months over budget",
            },
            totals=("count", "spend", "share", "delivered", "history_spend"),
            highlights=(Highlight("months_over", ">", 0, row=True),),
            freeze_columns=2,
        ),
        "monthly_by_channel": TableSpec(
            "Units billed and spend per month and channel, share of the month, change.",
            kinds={
                "month": "month",
                "spend": "money",
                "change": "money",
                "share": "percent",
                "change_pct": "percent",
            },
            labels={"count": "Units", "change_pct": "Change %"},
            totals=("count", "spend"),
            freeze_columns=2,
        ),
        "monthly_by_subaccount": TableSpec(
            "Units billed and spend per month and subaccount, share of the month, change.",
            kinds={
                "month": "month",
                "spend": "money",
                "change": "money",
                "share": "percent",
                "change_pct": "percent",
                "budget": "money",
            },
            labels={"subaccount_id": "Subaccount", "count": "Units", "change_pct": "Change %"},
            totals=("count", "spend"),
            highlights=over,
            freeze_columns=3,
        ),
        "breakdown": TableSpec(
            f"Units and spend by {by_text}"
            + (
                ", with the share of the month and the change on the month before."
                if "month" in by
                else ", with the share of the period."
            ),
            kinds={
                "month": "month",
                "spend": "money",
                "change": "money",
                "share": "percent",
                "change_pct": "percent",
            },
            labels={"subaccount_id": "Subaccount", "count": "Units", "change_pct": "Change %"},
            totals=("count", "spend"),
            freeze_columns=len(by) + (1 if "subaccount" in by else 0),
        ),
        "cost_per_delivered": TableSpec(
            "Messages by outcome (from the history), delivery rate, billed spend (usage) and "
            "spend per delivered message, per month and channel.",
            kinds={
                "month": "month",
                "delivery_rate": "percent",
                "spend": "money",
                "failed_spend": "money",
                "cost_per_delivered": "price",
            },
            totals=(
                "messages",
                "delivered",
                "failed",
                "pending",
                "cancelled",
                "spend",
                "failed_spend",
            ),
            freeze_columns=2,
        ),
        "reconciliation": TableSpec(
            "Usage (what was billed) against the sum of the history's message parts and "
            f"prices; differences over {tolerance:g} in spend, or in units, in red.",
            kinds={
                "month": "month",
                "usage_spend": "money",
                "history_spend": "money",
                "spend_diff": "money",
            },
            labels={"subaccount_id": "Subaccount"},
            totals=(
                "usage_units",
                "history_units",
                "units_diff",
                "usage_spend",
                "history_spend",
                "spend_diff",
                "messages",
            ),
            highlights=(Highlight("status", "==", "difference", row=True),),
            freeze_columns=4,
        ),
        "budget": TableSpec(
            "Monthly budgets: spend against budget per month for the account and each "
            "budgeted subaccount (over budget in red).",
            kinds={
                "month": "month",
                "budget": "money",
                "spend": "money",
                "remaining": "money",
                "used": "percent",
            },
            labels={"subaccount_id": "Subaccount", "used": "Used %"},
            highlights=over + (Highlight("used", ">=", 0.9, style="warn"),),
            freeze_columns=2,
        ),
        "detail": TableSpec(
            "The usage endpoint's rows: month x channel x subaccount.",
            kinds={"month": "month", "price": "money"},
            labels={"subaccount_id": "Subaccount", "count": "Units"},
            freeze_columns=2,
        ),
    }


# --- tables ------------------------------------------------------------------------------


def _detail(usage: pd.DataFrame, months: pd.DatetimeIndex) -> pd.DataFrame:
    # Rows outside the months (should the endpoint return any) would make the monthly
    # tables and the detail sheet disagree; keep exactly those months.
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


def _histories(history) -> dict[str, pd.DataFrame]:
    if history is None:
        return {}
    if isinstance(history, pd.DataFrame):
        history = {"sms": history}
    out = {}
    for channel, frame in history.items():
        source = HISTORY_SOURCES.get(str(channel), HistorySource(str(channel), "message_parts"))
        standard = {"outcome", "date", "subaccount_id", "message_parts", "message_price"}
        if not standard <= set(frame.columns):
            frame = lean_history(frame, source)
        # The UTC month of each message, once: cost per delivered and reconcile use it.
        out[str(channel)] = frame.assign(month=_history_months(frame["date"]))
    return out


def monthly_by_channel(detail: pd.DataFrame, months, channels: list[str]) -> pd.DataFrame:
    """Units and spend per month x channel; every month x channel pair present (zeros).

    Example::

        monthly_by_channel(usage, pd.date_range("2026-01-01", periods=3, freq="MS", tz="UTC"),
                           ["sms"])
    """
    grid = pd.MultiIndex.from_product(
        [months, pd.CategoricalIndex(channels, categories=channels)], names=["month", "channel"]
    )
    # (A channel billed only in the baseline month is not one of the period's channels.)
    names = detail["channel"].astype("str")
    keyed = detail[names.isin(channels)]
    keyed = keyed.assign(channel=pd.Categorical(names[names.isin(channels)], channels))
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
    out.insert(2, "username", out["subaccount_id"].map(_usernames(detail)).astype("str"))
    return _typed(out.rename(columns={"price": "spend"}))


def _usernames(detail: pd.DataFrame) -> pd.Series:
    # A subaccount's username as last reported (it can be renamed within the period).
    return (
        detail.dropna(subset=["username"]).groupby("subaccount_id", dropna=False)["username"].last()
    )


def monthly_spend(by_channel: pd.DataFrame, months, channels: list[str]) -> pd.DataFrame:
    """Spend wide: one row per month, one column per channel, and ``total``.

    Example::

        monthly_spend(monthly_by_channel(usage, months, ["sms"]), months, ["sms"])
    """
    wide = by_channel.pivot_table(
        index="month", columns="channel", values="spend", aggfunc="sum", observed=False
    )
    wide = round_money(wide.reindex(index=months, columns=channels, fill_value=0.0))
    wide.columns = [str(c) for c in wide.columns]
    wide["total"] = round_money(wide.sum(axis=1))
    wide.index.name = "month"
    return wide.reset_index()


def _change(df: pd.DataFrame, keys: list[str], months) -> pd.DataFrame:
    """Add ``change``/``change_pct`` (spend against the same keys' previous month) and
    keep only ``months`` (the baseline month, if present, only serves as the base)."""
    df = df.sort_values([*keys, "month"], kind="stable")
    prev = df.groupby(keys, dropna=False, observed=True)["spend"].shift(1)
    # The first month has no base unless the month before it was loaded.
    first = df["month"] == df["month"].min()
    prev = prev.where(~first)
    df["change"] = round_money(df["spend"] - prev)
    df["change_pct"] = ratio(df["spend"] - prev, prev)
    df = df[df["month"].isin(months)]
    return df.sort_values(["month", *keys], kind="stable").reset_index(drop=True)


def _wide_change(wide: pd.DataFrame, ext: pd.DataFrame, prior) -> pd.DataFrame:
    totals = wide["total"].astype("float64")
    prev = totals.shift(1)
    if prior is not None:
        base = float(ext.loc[ext["month"] == prior, "price"].sum())
        prev.iloc[0] = round(base, MONEY_DECIMALS)
    wide["change"] = round_money(totals - prev)
    wide["change_pct"] = ratio(totals - prev, prev)
    return wide


def _share_of_month(df: pd.DataFrame) -> pd.DataFrame:
    month_total = df.groupby("month")["spend"].transform("sum")
    df["share"] = ratio(df["spend"], month_total)
    cols = [c for c in df.columns if c not in ("share", "change", "change_pct")]
    return df[[*cols, "share", "change", "change_pct"]]


def spend_breakdown(ext: pd.DataFrame, ext_months, months, by: tuple[str, ...]) -> pd.DataFrame:
    """Units and spend grouped by ``by`` (see the module docstring).

    Example::

        spend_breakdown(usage, months, months, ("channel", "subaccount"))
    """
    keys = []
    for dim in by:
        keys += ["subaccount_id", "username"] if dim == "subaccount" else [dim]
    frame = ext.copy()
    if "username" in keys:
        frame["username"] = frame["subaccount_id"].map(_usernames(ext)).astype("str")
    if "channel" in keys:
        chans = _channels(frame["channel"])
        frame["channel"] = pd.Categorical(frame["channel"].astype("str"), chans)
    if "month" not in by:
        frame = frame[frame["month"].isin(months)]
    sums = (
        frame.groupby(keys, dropna=False, observed=True)[["count", "price"]]
        .sum()
        .rename(columns={"price": "spend"})
    )
    if "month" in by:
        others = [k for k in keys if k != "month"]
        if others:
            combos = sums.reset_index()[others].drop_duplicates()
            grid = pd.MultiIndex.from_frame(
                pd.merge(pd.DataFrame({"month": ext_months}), combos, how="cross")[keys]
            )
        else:
            grid = pd.Index(ext_months, name="month")
        sums = sums.reindex(grid, fill_value=0)
    out = sums.reset_index()
    out = _typed(out) if "month" in out else _typed_nomonth(out)
    if "month" in by:
        others = [k for k in keys if k not in ("month", "username")]
        if others:
            out = _change(out, others, months)
        else:
            out = out.sort_values("month").reset_index(drop=True)
            prev = out["spend"].shift(1).where(out["month"] != out["month"].min())
            out["change"] = round_money(out["spend"] - prev)
            out["change_pct"] = ratio(out["spend"] - prev, prev)
            out = out[out["month"].isin(months)].reset_index(drop=True)
        # Nothing billed this month nor the one before: not a row worth reading.
        prev_spend = out["spend"] - out["change"].fillna(out["spend"])
        out = out[(out["spend"] != 0) | (out["count"] != 0) | (prev_spend != 0)]
        out = out.sort_values(keys, kind="stable").reset_index(drop=True)
        month_total = out.groupby("month")["spend"].transform("sum")
        out.insert(len(keys) + 2, "share", ratio(out["spend"], month_total))
    else:
        out = out.sort_values("spend", ascending=False, kind="stable").reset_index(drop=True)
        out["share"] = ratio(out["spend"], pd.Series(out["spend"].sum(), index=out.index))
    return out


def _typed_nomonth(df: pd.DataFrame) -> pd.DataFrame:
    df["count"] = df["count"].astype("Int64")
    df["spend"] = round_money(df["spend"])
    if "subaccount_id" in df:
        df["subaccount_id"] = df["subaccount_id"].astype("Int64")
    return df


def _history_months(dates: pd.Series) -> pd.Series:
    """UTC calendar month starts of ``dates`` (datetime64[s, UTC])."""
    if isinstance(dates.dtype, pd.DatetimeTZDtype):
        dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
    m = dates.to_numpy(dtype="datetime64[s]").astype("datetime64[M]").astype("datetime64[s]")
    return pd.Series(pd.DatetimeIndex(m).tz_localize("UTC"), index=dates.index)


def _outcome_counts(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    counts = pd.crosstab([frame[k] for k in keys], frame["outcome"], dropna=False).reindex(
        columns=list(hist.OUTCOMES), fill_value=0
    )
    counts.columns = list(hist.OUTCOMES)
    return counts


def cost_per_delivered(detail: pd.DataFrame, histories: dict, months) -> pd.DataFrame | None:
    """Per month x channel with delivery receipts: messages, delivered, failed, pending,
    cancelled, delivery rate (delivered / sent, sent = all but cancelled), billed spend
    (usage), failed spend (history) and spend per delivered message. None when no channel
    has receipts.

    Example::

        cost_per_delivered(usage, {"sms": cs.history("sms", ...)}, months)
    """
    rows = []
    for channel, frame in histories.items():
        source = HISTORY_SOURCES.get(channel)
        if source is not None and not source.receipts:
            continue  # post: no delivery receipts, nothing is ever "delivered"
        f = frame[frame["month"].isin(months)]
        counts = pd.DataFrame(0, index=pd.Index(months, name="month"), columns=list(hist.OUTCOMES))
        if len(f):
            got = count(f, ["month", "outcome"]).unstack(fill_value=0)
            got = got.reindex(columns=list(hist.OUTCOMES), fill_value=0)
            counts = counts.add(got.reindex(months, fill_value=0), fill_value=0)
        failed_spend = (
            f.loc[f["outcome"] == "failed"].groupby("month")["message_price"].sum()
            if len(f)
            else pd.Series(dtype="float64")
        )
        used = detail[detail["channel"].astype("str") == channel]
        spend = used.groupby("month")["price"].sum()
        part = counts.reset_index()
        part.insert(1, "channel", channel)
        part.insert(2, "messages", counts.sum(axis=1).to_numpy())
        rows.append(
            part.assign(
                spend=part["month"].map(spend).fillna(0.0).to_numpy(),
                failed_spend=part["month"].map(failed_spend).fillna(0.0).to_numpy(),
            )
        )
    if not rows:
        return None
    out = pd.concat(rows, ignore_index=True)
    sent = out["messages"] - out["cancelled"]
    out.insert(7, "delivery_rate", ratio(out["delivered"], sent))
    for col in ("messages", *hist.OUTCOMES):
        out[col] = out[col].astype("Int64")
    out["month"] = pd.to_datetime(out["month"], utc=True).astype("datetime64[s, UTC]")
    out["spend"] = round_money(out["spend"])
    out["failed_spend"] = round_money(out["failed_spend"])
    out["cost_per_delivered"] = round_money(ratio(out["spend"], out["delivered"]))
    return out


def reconcile(detail: pd.DataFrame, histories: dict, months, tolerance: float) -> pd.DataFrame:
    """Usage against history per month x channel x subaccount (see the module docstring).
    ``*_diff`` = usage - history.

    Example::

        reconcile(usage, {"sms": cs.history("sms", ...)}, months, 0.005)
    """
    keys = ["month", "channel", "subaccount_id"]
    names = _usernames(detail)
    parts = []
    for channel, frame in histories.items():
        used = detail[detail["channel"].astype("str") == channel]
        u = used.groupby(["month", "subaccount_id"], dropna=False)[["count", "price"]].sum()
        u.columns = ["usage_units", "usage_spend"]
        f = frame[frame["month"].isin(months)]
        g = f.groupby(["month", "subaccount_id"], dropna=False)
        h = g[["message_parts", "message_price"]].sum()
        h.columns = ["history_units", "history_spend"]
        h["messages"] = count(f, ["month", "subaccount_id"])
        both = u.join(h, how="outer").fillna(0).reset_index()
        source = HISTORY_SOURCES.get(channel)
        if source is not None and source.units is None:
            both["history_units"] = np.nan  # not comparable: spend only
        both.insert(1, "channel", channel)
        parts.append(both)
    columns = [
        *keys,
        "usage_units",
        "history_units",
        "usage_spend",
        "history_spend",
        "messages",
    ]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    out["month"] = pd.to_datetime(out["month"], utc=True).astype("datetime64[s, UTC]")
    out["subaccount_id"] = out["subaccount_id"].astype("Int64")
    out.insert(3, "username", out["subaccount_id"].map(names).astype("str"))
    for col in ("usage_units", "history_units", "messages"):
        out[col] = pd.to_numeric(out[col]).astype("float64").round().astype("Int64")
    for col in ("usage_spend", "history_spend"):
        out[col] = round_money(out[col])
    out["units_diff"] = (out["usage_units"] - out["history_units"]).astype("Int64")
    out["spend_diff"] = round_money(out["usage_spend"] - out["history_spend"])
    spend_off = out["spend_diff"].abs() > tolerance
    units_off = out["units_diff"].fillna(0) != 0  # NA: units not comparable (email)
    out["status"] = np.where(spend_off | units_off, "difference", "match")
    out["status"] = out["status"].astype("str")
    order = [
        *keys[:3],
        "username",
        "messages",
        "usage_units",
        "history_units",
        "units_diff",
        "usage_spend",
        "history_spend",
        "spend_diff",
        "status",
    ]
    return out[order].sort_values(keys, kind="stable").reset_index(drop=True)


def subaccount_totals(detail: pd.DataFrame, histories: dict) -> pd.DataFrame:
    """Per subaccount over the period: units, spend, share of the total; with SMS history,
    SMS delivered, SMS spend and spend per delivered SMS. Sorted by spend, largest first.

    Example::

        subaccount_totals(usage, {})
    """
    g = detail.groupby("subaccount_id", dropna=False)[["count", "price"]].sum()
    out = g.rename(columns={"price": "spend"}).reset_index()
    out.insert(1, "username", out["subaccount_id"].map(_usernames(detail)).astype("str"))
    out["subaccount_id"] = out["subaccount_id"].astype("Int64")
    out["count"] = out["count"].astype("Int64")
    out["spend"] = round_money(out["spend"])
    total = out["spend"].sum()
    out["share"] = ratio(out["spend"], pd.Series(total, index=out.index))
    sms = histories.get("sms")
    if sms is not None:
        # SMS only: a delivered SMS and a delivered email do not cost the same kind of thing.
        delivered = count(sms.loc[sms["outcome"] == "delivered"], "subaccount_id")
        delivered = delivered[delivered.index.notna()]
        used = detail[detail["channel"].astype("str") == "sms"]
        sms_spend = used.groupby("subaccount_id")["price"].sum()
        out["delivered"] = out["subaccount_id"].map(delivered).fillna(0).astype("Int64")
        out["history_spend"] = round_money(out["subaccount_id"].map(sms_spend).fillna(0.0))
        out["cost_per_delivered"] = round_money(ratio(out["history_spend"], out["delivered"]))
    return out.sort_values("spend", ascending=False, kind="stable").reset_index(drop=True)


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    # reindex(fill_value=0) and empty groupbys can loosen dtypes; restore the contract's.
    df["month"] = pd.to_datetime(df["month"], utc=True).astype("datetime64[s, UTC]")
    return _typed_nomonth(df)


def _no_change_to_date(df: pd.DataFrame, to_date) -> pd.DataFrame:
    """Blank ``change``/``change_pct`` of the running month's rows: a month to date
    against a whole month is not a change (-76% on the 6th means nothing)."""
    if to_date is None or "month" not in df or "change" not in df:
        return df
    running = (df["month"] == to_date).to_numpy()
    if running.any():
        df = df.copy()
        df.loc[running, ["change", "change_pct"]] = np.nan
    return df


# --- summary and figures -----------------------------------------------------------------


def _summary(tables, channels, meta: ReportMeta, budget: Budget | None, histories, per: Period):
    detail, wide = tables["detail"], tables["monthly_spend"]
    by_channel, subs = tables["monthly_by_channel"], tables["subaccounts"]
    total = round(float(detail["price"].sum()), MONEY_DECIMALS)
    # Comparisons (average, peak, last month and its change) use complete months only.
    running = wide["month"] == per.to_date if per.to_date is not None else wide["month"].isna()
    done = wide.loc[~running.to_numpy()]
    n = len(done)
    done_total = round(float(done["total"].sum()), MONEY_DECIMALS)
    peak = done.loc[done["total"].idxmax()] if n and done_total > 0 else None
    per_channel = by_channel.groupby("channel", observed=True)["spend"].sum()
    top_sub = subs.iloc[0] if len(subs) and subs["spend"].iloc[0] > 0 else None
    last = done.iloc[-1] if n else None
    s = {
        "months": meta.months,
        "channels": list(channels),
        "subaccounts": int(detail["subaccount_id"].nunique(dropna=False)) if len(detail) else 0,
        "total_units": int(detail["count"].sum()),
        "total_spend": total,
        "average_monthly_spend": round(done_total / n, MONEY_DECIMALS) if n else None,
        "peak_month": f"{peak['month']:%Y-%m}" if peak is not None else None,
        "peak_month_spend": float(peak["total"]) if peak is not None else None,
        "top_channel": str(per_channel.idxmax()) if len(per_channel) and total > 0 else None,
        "top_subaccount": str(top_sub["username"]) if top_sub is not None else None,
        "top_subaccount_share": float(top_sub["share"]) if top_sub is not None else None,
        "last_month": f"{last['month']:%Y-%m}" if last is not None else None,
        "last_month_spend": float(last["total"]) if last is not None else None,
        "last_month_change": _num(last["change_pct"]) if last is not None else None,
    }
    if per.to_date is not None:
        spend = float(wide.loc[running.to_numpy(), "total"].sum())
        share = per.elapsed or 0.0
        s["month_to_date"] = meta.month_label(per.to_date)
        s["month_to_date_spend"] = round(spend, MONEY_DECIMALS)
        s["month_to_date_elapsed"] = share
        s["month_to_date_projection"] = round(spend / share, 2) if share > 0 else None
    kinds = {
        "total_spend": "money",
        "month_to_date_spend": "money",
        "month_to_date_elapsed": "percent",
        "month_to_date_projection": "money",
        "average_monthly_spend": "money",
        "peak_month_spend": "money",
        "last_month_spend": "money",
        "last_month_change": "percent",
        "top_subaccount_share": "percent",
        "total_units": "int",
        "months": "int",
        "subaccounts": "int",
    }
    labels = {
        "total_units": "Units billed",
        "average_monthly_spend": "Average monthly spend (complete months)",
        "peak_month": "Peak month (complete months)",
        "last_month": "Last complete month",
        "last_month_spend": "Last complete month's spend",
        "last_month_change": "Last complete month vs the one before",
        "top_subaccount_share": "Top subaccount's share",
        "month_to_date": "Month to date (not complete)",
        "month_to_date_spend": "Spend to date",
        "month_to_date_elapsed": "Share of the month elapsed",
        "month_to_date_projection": "Projection at the run rate (estimate, not billed)",
    }
    alerts: list[str] = []
    cpd = tables.get("cost_per_delivered")
    if cpd is not None and (cpd["channel"] == "sms").any():
        # Headline figures are SMS: a delivered SMS and a delivered email are not one unit.
        sms = cpd[cpd["channel"] == "sms"]
        delivered = int(sms["delivered"].sum())
        sent = int(sms["messages"].sum() - sms["cancelled"].sum())
        spend = float(sms["spend"].sum())
        s["delivered"] = delivered
        s["delivery_rate"] = delivered / sent if sent else None
        s["cost_per_delivered"] = round(spend / delivered, MONEY_DECIMALS) if delivered else None
        s["failed_spend"] = round(float(cpd["failed_spend"].sum()), MONEY_DECIMALS)
        kinds |= {
            "delivered": "int",
            "delivery_rate": "percent",
            "cost_per_delivered": "price",
            "failed_spend": "money",
        }
        labels |= {
            "delivered": "SMS delivered",
            "delivery_rate": "SMS delivery rate",
            "cost_per_delivered": "Spend per delivered SMS",
            "failed_spend": "Spend on failed messages",
        }
    if "reconciliation" in tables:
        rec = tables["reconciliation"]
        bad = rec[rec["status"] == "difference"]
        s["reconciled_channels"] = [str(c) for c in histories]
        s["reconciliation_differences"] = len(bad)
        s["reconciliation_spend_diff"] = round(float(rec["spend_diff"].sum()), MONEY_DECIMALS)
        kinds |= {"reconciliation_differences": "int", "reconciliation_spend_diff": "money"}
        labels |= {
            "reconciliation_differences": "Usage vs history: rows differing",
            "reconciliation_spend_diff": "Usage minus history spend",
        }
        if len(bad):
            months = sorted({f"{m:%Y-%m}" for m in bad["month"]})
            alerts.append(
                f"Usage and history differ in {len(bad)} row(s) ({', '.join(months)}): "
                f"usage minus history spend {meta.money(float(bad['spend_diff'].sum()))}, "
                f"units {int(bad['units_diff'].sum())}; see the reconciliation sheet."
            )
    if budget:
        lines = tables["budget"]
        over = lines[lines["over_budget"]]
        acc = over[over["scope"] == "account"]
        sub = over[over["scope"] == "subaccount"]
        s["budget_exceeded"] = bool(len(over))
        s["over_budget_months"] = [f"{m:%Y-%m}" for m in acc["month"]]
        s["over_budget_subaccounts"] = sorted(
            {str(u or i) for u, i in zip(sub["username"], sub["subaccount_id"], strict=True)}
        )
        if budget.account is not None:
            s["monthly_budget"] = budget.account
            kinds["monthly_budget"] = "money"
        for _, row in over.iterrows():
            who = "Account" if row["scope"] == "account" else f"Subaccount {row['username']}"
            alerts.append(
                f"{who} over budget in {row['month']:%Y-%m}: spent {meta.money(row['spend'])} "
                f"of {meta.money(row['budget'])} ({row['used']:.0%})."
            )
        silent = lines.attrs.get("unmatched", [])
        labels["budget_exceeded"] = "Budget exceeded"
        if silent:
            s["budget_without_usage"] = sorted(silent)
            labels["budget_without_usage"] = "Budgeted, no usage"
    return s, kinds, labels, alerts


def _num(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def spend_figure(wide: pd.DataFrame, channels: list[str], meta: ReportMeta):
    """Line chart of monthly spend per channel (a matplotlib Figure, no pyplot: it needs
    no display and leaves no global state behind in long-running processes).

    Example::

        fig = spend_figure(rep.tables["monthly_spend"], ["sms"], rep.meta)
        fig.savefig("spend.png")
    """
    from matplotlib.dates import DateFormatter
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4.5), layout="constrained")
    ax = fig.add_subplot()
    x = wide["month"].dt.tz_localize(None)
    running = (wide["month"] == meta.to_date).to_numpy() if meta.to_date is not None else None
    for ch in channels:
        (line,) = ax.plot(x, wide[ch], marker="o", label=CHANNEL_LABELS.get(ch, ch))
        if running is not None and running.any():
            # The running month: a hollow marker, labelled, so no one reads a cliff.
            ax.plot(
                x[running],
                wide.loc[running, ch],
                marker="o",
                ls="",
                mfc="white",
                color=line.get_color(),
            )
    if running is not None and running.any():
        top = float(wide.loc[running, "total"].max()) if len(wide) else 0.0
        ax.annotate(
            "to date",
            (x[running].iloc[0], top),
            textcoords="offset points",
            xytext=(0, 8),
            ha="center",
            fontsize=8,
            color="#555555",
        )
    _money_axis(ax.yaxis, meta, wide["total"].max() if len(wide) else 0)
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


def _money_axis(axis, meta: ReportMeta, largest: float) -> None:
    from matplotlib.ticker import FuncFormatter

    sym = meta.currency_symbol or ""
    # Whole units read best, unless the amounts are small enough for ticks at cents.
    decimals = 0 if largest >= 20 else 2
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{sym}{v:,.{decimals}f}"))


def subaccount_figure(subs: pd.DataFrame, meta: ReportMeta):
    """Horizontal bar chart of spend per subaccount over the period, largest on top.

    Example::

        subaccount_figure(rep.tables["subaccounts"], rep.meta).savefig("subs.png")
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 0.5 * max(len(subs), 3) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    data = subs.iloc[::-1]
    labels = [
        str(u) if u and str(u) != "nan" else str(i)
        for u, i in zip(data["username"], data["subaccount_id"], strict=True)
    ]
    bars = ax.barh(labels, data["spend"], color="#1F4E78")
    shares = [f"{s:.0%}" if pd.notna(s) else "" for s in data["share"]]
    if len(data):
        ax.bar_label(bars, labels=shares, padding=3, fontsize=9)
    else:
        ax.text(0.5, 0.5, "No usage in this period", ha="center", transform=ax.transAxes)
    _money_axis(ax.xaxis, meta, data["spend"].max() if len(data) else 0)
    ax.set_title(f"Spend per subaccount, {meta.period[0]} to {meta.period[1]}")
    ax.set_xlabel(f"Spend ({meta.currency})" if meta.currency else "Spend")
    ax.grid(alpha=0.3, axis="x")
    return fig
