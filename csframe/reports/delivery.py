"""Delivery: how many messages arrived, where they failed and what the failures cost.

Built from the outbound message history of one channel (``client.iter_history``,
streamed, each chunk folded into per-day aggregates and its failed rows as it comes, as a
store's months are; see :mod:`csframe.reports.history` for the outcome of a message:
delivered, failed, pending, cancelled). Rates are shares of *sent* messages (all but cancelled).
Days and months are calendar days and months in the account's time zone (``/account``
``timezone``), or in ``tz=``: a message sent at 09:00 on 1 March in Melbourne is a March
message. The workbook shows times in the same zone. Without ``start``/``end`` the period
is the last 12 complete months; a period that includes the running month labels it "to
date".

Tables (sheet order):

``daily``, ``monthly``
    Every day (up to today) / month of the period: messages, delivered, failed, pending,
    cancelled, delivered/failed/pending rates, spend, failed spend.
``by_country``, ``by_carrier``, ``by_subaccount``
    The same measures per destination country, per country x carrier, per subaccount;
    largest first.
``errors``
    Error codes by number of failed messages, with their (most common) text, share of the
    failures, failed spend, and the country and carrier where each is most frequent.
``failed_messages``
    Every failed message (date, ids, recipient, country, carrier, error, price, body):
    the detail sheet, written in write-only mode whatever its size; bodies and names are
    neutralised against formula injection.

Failure rates above ``failure_threshold`` (default 10%) are highlighted in every table and
listed as alerts -- for rows with at least ``min_messages`` sent only (days, countries,
carriers, subaccounts), so one failed message to a rare destination, or 2 failures on a
day of 10 messages, is no alert.

Example::

    rep = delivery(cs, start="2026-01", end="2026-10")
    rep.tables["errors"].head()
    rep.summary["failure_rate"]
    rep.to_excel("delivery.xlsx")
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from csframe import timeutil
from csframe.reports import history as hist
from csframe.reports import stored
from csframe.reports.base import Report
from csframe.reports.cube import WEIGHT, count, cube, weights
from csframe.reports.model import (
    MONEY_DECIMALS,
    AccountInfo,
    ChartSpec,
    Highlight,
    Kind,
    OptionError,
    ReportMeta,
    TableSpec,
    account_info,
)
from csframe.reports.periods import UTC, as_local, check_tz, floor_local, resolve_period

if TYPE_CHECKING:  # for annotations only
    from csframe.client import Client
    from csframe.timeutil import Instant

NAME = "delivery"
TITLE = "Delivery"
DEFAULT_THRESHOLD = 0.10
#: At most this many country / carrier alerts each (the worst first).
MAX_ALERTS = 5
MIN_MESSAGES = 20

_LEAN = (
    "date",
    "country",
    "carrier",
    "error_code",
    "error_text",
    "message_price",
    "message_parts",
    "subaccount_id",
    "_api_username",
)
#: Columns of the failed-messages sheet, in order (those the channel has).
FAILED_COLUMNS = (
    "date",
    "message_id",
    "subaccount_id",
    "_api_username",
    "to",
    "country",
    "carrier",
    "status",
    "error_code",
    "error_text",
    "message_parts",
    "message_price",
    "list_id",
    "custom_string",
    "first_name",
    "last_name",
    "body",
)
MEASURES = (
    "messages",
    "sent",
    "delivered",
    "failed",
    "pending",
    "cancelled",
    "delivered_rate",
    "failed_rate",
    "pending_rate",
    "spend",
    "failed_spend",
)


def delivery(
    client: Client | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    channel: str = "sms",
    failure_threshold: float = DEFAULT_THRESHOLD,
    min_messages: int = MIN_MESSAGES,
    tz: str | None = None,
    now: Instant | None = None,
    store: str | os.PathLike | None = None,
    engine: str = "pandas",
) -> Report:
    """The delivery report of ``channel`` for months ``start``..``end`` (inclusive), days
    and months in ``tz`` (default: the account's time zone).

    ``store``: read the history from a synced store (:mod:`csframe.store`; the channel's
    store, or a folder of stores) instead of the API; ``client`` is then optional (it
    gives the account's name and time zone). ``engine="dask"`` aggregates the store's
    months on the Dask cluster (the ``dask`` extra): only aggregates and the failed
    messages come back.

    Example::

        rep = delivery(cs, "2026-01", "2026-10", tz="Australia/Melbourne")
        rep.tables["by_country"], rep.summary["failed_spend"]
        rep = delivery(start="2026-01", end="2026-10", store="data/sms", engine="dask")
    """
    stored.check_source(store, engine)
    tz = check_tz(tz) if tz is not None else None
    _check_threshold(failure_threshold)
    if client is None and store is None:
        raise OptionError("delivery needs a client or store=PATH (a synced history store)")
    account = account_info(client) if client is not None else AccountInfo()
    tz = tz or account.timezone or UTC
    per = resolve_period(start, end, tz=tz, now=now)
    first, last = per.first, per.last

    if store is not None:
        lean, failed = _from_store(stored.find(store, channel), per.window, tz, engine)
    else:
        try:
            # day cubes, chunk by chunk: a year of messages never becomes one frame
            days, failed = hist.load(
                client,
                channel,
                first,
                last,
                detail=_failed_rows,
                reduce=functools.partial(_cube, tz=tz),
                read=_READ,  # the other columns are never converted from the pages
            )
        except ValueError as exc:  # an unknown channel, or one without history
            raise OptionError(f"channel {channel!r}: {exc}") from None
        lean = _undayed(days)
        if failed is None:  # no chunk at all
            failed = _failed_rows(hist.empty_history(channel))
    return build(
        lean,
        first,
        last,
        account=account,
        channel=channel,
        failed=failed,
        failure_threshold=failure_threshold,
        min_messages=min_messages,
        tz=tz,
        now=per.now,
    )


# every history column the report reads (its day cubes, failed rows and outcomes)
_READ = tuple(dict.fromkeys((*_LEAN, *FAILED_COLUMNS, *hist.OUTCOME_COLUMNS)))


def _failed_rows(chunk: pd.DataFrame) -> pd.DataFrame:
    keep = np.asarray(hist.outcomes(chunk) == "failed")
    # columns first: a boolean .loc over every column of the chunk costs ~5x more
    return chunk[[c for c in FAILED_COLUMNS if c in chunk]].loc[keep]


def _cube(frame: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Raw history rows (or cubes of them) as one row per local day and key: all the
    tables need (:mod:`csframe.reports.cube`)."""
    if "outcome" not in frame:
        frame = hist._lean(frame, _LEAN)
        frame["_day"] = floor_local(frame["date"], "D", tz).array  # not to_numpy: objects
    keys = ["_day", "outcome", "country", "carrier", "subaccount_id", "_api_username"]
    keys += ["error_code", "error_text"]
    return cube(frame, keys, sums=["message_price"], maxes=["date"])


def _from_store(path, window, tz: str, engine: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The history of ``window`` from the store at ``path`` as day cubes (latest last,
    as in a history frame) and the failed messages' rows."""
    t0, t1 = window
    agg, failed = stored.aggregate(
        path,
        t0,
        t1,
        columns=_READ,
        reduce=functools.partial(_cube, tz=tz),
        detail=_failed_rows,
        engine=engine,
    )
    agg = _undayed(agg)
    agg.attrs["currency"] = stored.store_currency(path)
    return agg, failed if failed is not None else pd.DataFrame()


def _undayed(days: pd.DataFrame) -> pd.DataFrame:
    """Day cubes (:func:`_cube`) as :func:`build` takes them: latest last, as in a history
    frame (``build`` finds each row's day again from its latest ``date``)."""
    out = days.drop(columns="_day").sort_values("date", kind="stable", ignore_index=True)
    out.attrs = dict(days.attrs)
    return out


def _check_threshold(value) -> None:
    try:
        ok = 0 <= float(value) <= 1
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise OptionError(f"failure_threshold must be a rate between 0 and 1; got {value!r}")


def build(
    history: pd.DataFrame,
    start,
    end,
    *,
    account: AccountInfo | None = None,
    channel: str = "sms",
    failed: pd.DataFrame | None = None,
    failure_threshold: float = DEFAULT_THRESHOLD,
    min_messages: int = MIN_MESSAGES,
    now: pd.Timestamp | None = None,
    generated_at: dt.datetime | None = None,
    tz: str = UTC,
) -> Report:
    """Shape a history frame (``Client.history`` or a lean one from
    :func:`csframe.reports.history.load`, or day cubes of it with a message count ``n``:
    :mod:`csframe.reports.cube`) into the report, days and months in ``tz``.
    ``failed``: the failed messages' full rows; taken from ``history`` when omitted and it
    has them. ``now``: the instant that decides which month and day are still running.

    Example::

        rep = build(cs.history("sms", "2026-01-01", "2026-04-01"), "2026-01", "2026-03")
    """
    tz = check_tz(tz)
    if now is None:
        now = pd.Timestamp(generated_at) if generated_at is not None else timeutil.now_utc()
    per = resolve_period(start, end, tz=tz, now=now)
    first, last = per.first, per.last
    account = account or AccountInfo()
    currency = history.attrs.get("currency") or account.currency
    meta = ReportMeta(
        name=NAME,
        title=f"{TITLE} ({channel.upper()})",
        start=first,
        end=last,
        account=account,
        currency=currency,
        generated_at=generated_at or per.now.to_pydatetime(),
        tz=tz,
        to_date=per.to_date,
    )
    t0, t1 = per.window
    frame = _prepare(history, t0, t1)
    if failed is None:
        # A full history frame has the detail columns; a lean one only what it kept.
        if "outcome" in history:
            failed = history.loc[history["outcome"] == "failed"]
        else:
            outbound = history
            if "direction" in history:
                outbound = history.loc[~hist._lower_map(history["direction"], {"in", "inbound"})]
            failed = outbound.loc[np.asarray(hist.outcomes(outbound) == "failed")]
    failed = _failed_detail(failed, t0, t1)

    # Every local day from the period's first to today (or the latest message), no more.
    local = lambda ts: ts.tz_convert(tz).tz_localize(None)  # noqa: E731
    today = local(per.now).floor("D")
    latest = frame["date"].max() if len(frame) else pd.NaT
    upto = min(
        local(t1 - pd.Timedelta(seconds=1)).floor("D"),
        max(today, local(latest).floor("D") if pd.notna(latest) else today),
    )
    start_day = local(first).floor("D")
    days = pd.date_range(start_day, max(upto, start_day), freq="D")
    days = days.tz_localize(tz, ambiguous=False, nonexistent="shift_forward").as_unit("s")
    months = per.months

    frame["day"] = floor_local(frame["date"], "D", tz)
    frame["month"] = floor_local(frame["date"], "M", tz)
    tables = {
        "daily": measures(frame, ["day"], grid=days, tz=tz).rename(columns={"day": "date"}),
        "monthly": measures(frame, ["month"], grid=months, tz=tz),
    }
    if "country" in frame:
        tables["by_country"] = _largest(measures(frame, ["country"]))
    if "country" in frame and "carrier" in frame:
        tables["by_carrier"] = _largest(measures(frame, ["country", "carrier"]))
    if "subaccount_id" in frame:
        subs = _largest(measures(frame, ["subaccount_id"]))
        if "_api_username" in frame:
            names = (
                frame.dropna(subset=["_api_username"])
                .groupby("subaccount_id", observed=True)["_api_username"]
                .last()
                .astype("str")
            )
            subs.insert(1, "username", subs["subaccount_id"].map(names).astype("str"))
        tables["by_subaccount"] = subs
    tables["errors"] = errors(frame)
    tables["failed_messages"] = failed

    # Rates of rows with too few messages are noise: neither red nor counted.
    rate_hl = (
        Highlight("failed_rate", ">", failure_threshold, min_column="sent", min_value=min_messages),
    )
    specs = _specs(rate_hl, failure_threshold, min_messages, tz)
    charts = [
        ChartSpec(
            "daily",
            x="date",
            y=("delivered_rate", "failed_rate"),
            kind="line",
            title="Delivered and failed, share of sent per day",
            cell="D3",
        ),
        ChartSpec(
            "errors",
            x="error_code",
            y=("failed",),
            kind="bar",
            title="Failed messages per error code",
            cell="D22",
        ),
    ]
    report = Report.assemble(
        meta, tables, specs, charts, _summary(frame, tables, meta, failure_threshold, min_messages)
    )
    report.figures["daily_rates"] = rates_figure(tables["daily"], meta, failure_threshold)
    report.figures["errors"] = errors_figure(tables["errors"], meta)
    return report


# --- tables ----------------------------------------------------------------------------------


def _prepare(history: pd.DataFrame, t0, t1) -> pd.DataFrame:
    if "outcome" in history:
        frame = history
    else:
        frame = hist.concat([hist._lean(history, _LEAN)])
    if len(frame):
        inside = (frame["date"] >= t0) & (frame["date"] < t1)
        if not inside.all():
            frame = frame.loc[inside]
    return frame.reset_index(drop=True).copy()


def measures(frame: pd.DataFrame, keys: list[str], grid=None, tz: str = UTC) -> pd.DataFrame:
    """Messages by outcome, rates of sent, spend and failed spend per ``keys``; with
    ``grid`` (values of the single key), every grid value is a row (zeros).

    Example::

        measures(lean, ["country"])
    """
    price = (
        frame["message_price"] if "message_price" in frame else pd.Series(0.0, index=frame.index)
    )
    money = pd.DataFrame(
        {
            "spend": price.astype("float64"),
            "failed_spend": price.where(frame["outcome"] == "failed", 0.0).astype("float64"),
        }
    )
    # Outcome counts as sums of weighted 0/1 columns (a cube row counts as its n messages):
    # one groupby over the keys does counts and money (a groupby on keys + outcome and an
    # unstack would factorize the keys again).
    codes = pd.Categorical(frame["outcome"], dtype=hist.OUTCOME_DTYPE).codes
    n_rows = weights(frame).to_numpy()
    for i, o in enumerate(hist.OUTCOMES):
        money[o] = np.where(codes == i, n_rows, 0)
    for k in keys:
        money[k] = frame[k]
    columns = [*hist.OUTCOMES, "spend", "failed_spend"]
    out = money.groupby(keys, observed=True, dropna=False)[columns].sum()
    if grid is not None:
        out = out.reindex(pd.Index(grid, name=keys[0]), fill_value=0)
    out = out.fillna(0)
    out.columns.name = None
    out = out.reset_index()
    n = out[list(hist.OUTCOMES)].sum(axis=1)
    sent = n - out["cancelled"]
    out.insert(len(keys), "messages", n)
    out.insert(len(keys) + 1, "sent", sent)
    for o in ("delivered", "failed", "pending"):
        out[f"{o}_rate"] = (out[o] / sent.where(sent > 0)).astype("float64")
    for col in ("messages", "sent", *hist.OUTCOMES):
        out[col] = out[col].astype("Int64")
    for col in ("spend", "failed_spend"):
        out[col] = out[col].astype("float64").round(MONEY_DECIMALS)
    for k in keys:
        if k in ("day", "month"):
            out[k] = as_local(out[k], tz)
        elif k == "subaccount_id":
            out[k] = out[k].astype("Int64")
        elif isinstance(out[k].dtype, pd.CategoricalDtype):
            out[k] = out[k].astype("str")
    return out[[*keys, *MEASURES]]


def _largest(df: pd.DataFrame) -> pd.DataFrame:
    # Ties by key: the order of categories differs between loads (API chunks, store months).
    keys = list(df.columns[: df.columns.get_loc("messages")])
    order = df.sort_values(
        ["messages", *keys], ascending=[False] + [True] * len(keys), kind="stable"
    )
    return order.reset_index(drop=True)


def errors(frame: pd.DataFrame) -> pd.DataFrame:
    """Failed messages per error code: the code's most common text, failures, share of all
    failures, failed spend, and where the code is most frequent (country, carrier).
    Failures without a code are one row with an empty code. Most frequent first.

    Example::

        errors(lean).head(5)
    """
    f = frame.loc[frame["outcome"] == "failed"]
    cols = ["error_code", "error_text", "failed", "share", "failed_spend"]
    cols += [c for c in ("top_country", "top_carrier") if c[4:] in frame]
    cols += ["last_seen"]
    if not len(f):
        empty = pd.DataFrame({c: pd.Series(dtype="str") for c in cols})
        empty["failed"] = empty["failed"].astype("Int64")
        empty["share"] = empty["share"].astype("float64")
        empty["failed_spend"] = empty["failed_spend"].astype("float64")
        empty["last_seen"] = pd.Series(dtype="datetime64[s, UTC]")
        return empty
    code = (
        f["error_code"].astype("str").fillna("")
        if "error_code" in f
        else pd.Series("", index=f.index)
    )
    # .array: .to_numpy() of tz-aware datetimes is an object array of Timestamps
    work = pd.DataFrame({"error_code": code.to_numpy(), "date": f["date"].array})
    work[WEIGHT] = weights(f).to_numpy()
    work["price"] = f["message_price"].to_numpy(dtype="float64") if "message_price" in f else 0.0
    for c in ("error_text", "country", "carrier"):
        if c in f:
            work[c] = f[c].astype("str").to_numpy()
    g = work.groupby("error_code", dropna=False)
    out = pd.DataFrame(
        {
            "failed": g[WEIGHT].sum(),
            "failed_spend": g["price"].sum().round(MONEY_DECIMALS),
            "last_seen": g["date"].max(),
        }
    )

    def mode(col: str) -> pd.Series:
        if col not in work:
            return pd.Series("", index=out.index)
        counts = work.dropna(subset=[col]).groupby(["error_code", col])[WEIGHT].sum()
        if not len(counts):
            return pd.Series("", index=out.index)
        top = counts.sort_values(ascending=False, kind="stable").reset_index()
        return top.drop_duplicates("error_code").set_index("error_code")[col]

    out["error_text"] = mode("error_text").reindex(out.index).fillna("")
    if "country" in work:
        out["top_country"] = mode("country").reindex(out.index).fillna("")
    if "carrier" in work:
        out["top_carrier"] = mode("carrier").reindex(out.index).fillna("")
    out["share"] = out["failed"] / out["failed"].sum()
    out = out.reset_index().sort_values(["failed", "error_code"], ascending=[False, True])
    out["failed"] = out["failed"].astype("Int64")
    out["last_seen"] = pd.to_datetime(out["last_seen"], utc=True).astype("datetime64[s, UTC]")
    for c in ("error_code", "error_text", "top_country", "top_carrier"):
        if c in out:
            out[c] = out[c].astype("str")
    return out[cols].reset_index(drop=True)


def _failed_detail(failed: pd.DataFrame, t0, t1) -> pd.DataFrame:
    cols = [c for c in FAILED_COLUMNS if c in failed]
    out = failed[cols]
    if len(out) and "date" in out:
        out = out[(out["date"] >= t0) & (out["date"] < t1)]
        out = out.sort_values("date", kind="stable")
    out = out.reset_index(drop=True).rename(columns={"_api_username": "username"})
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype("str")
    return out


def _specs(rate_hl, threshold: float, min_messages: int, tz: str) -> dict[str, TableSpec]:
    rates: dict[str, Kind] = {
        "delivered_rate": "percent",
        "failed_rate": "percent",
        "pending_rate": "percent",
        "spend": "money",
        "failed_spend": "money",
    }
    labels = {
        "delivered_rate": "Delivered %",
        "failed_rate": "Failed %",
        "pending_rate": "Pending %",
        "subaccount_id": "Subaccount",
    }
    totals = (
        "messages",
        "sent",
        "delivered",
        "failed",
        "pending",
        "cancelled",
        "spend",
        "failed_spend",
    )
    over = f"failure rates over {threshold:.0%} in red (rows with {min_messages}+ sent)"
    return {
        "daily": TableSpec(
            f"Messages by outcome per day ({tz}), rates of sent messages; {over}.",
            kinds={"date": "date", **rates},
            labels=labels,
            totals=totals,
            highlights=rate_hl,
        ),
        "monthly": TableSpec(
            f"Messages by outcome per month; {over}.",
            kinds={"month": "month", **rates},
            labels=labels,
            totals=totals,
            highlights=rate_hl,
        ),
        "by_country": TableSpec(
            f"Per destination country, most messages first; {over}.",
            kinds=rates,
            labels=labels,
            totals=totals,
            highlights=rate_hl,
        ),
        "by_carrier": TableSpec(
            f"Per country and carrier, most messages first; {over}.",
            kinds=rates,
            labels=labels,
            totals=totals,
            highlights=rate_hl,
            freeze_columns=2,
        ),
        "by_subaccount": TableSpec(
            f"Per subaccount, most messages first; {over}.",
            kinds=rates,
            labels=labels,
            totals=totals,
            highlights=rate_hl,
            freeze_columns=2,
        ),
        "errors": TableSpec(
            "Error codes by number of failed messages, with their text, share of all "
            "failures, spend on them and where they occur most.",
            kinds={"share": "percent", "failed_spend": "money", "last_seen": "datetime"},
            labels={"share": "Share of failed", "failed": "Failed messages"},
            totals=("failed", "share", "failed_spend"),
        ),
        "failed_messages": TableSpec(
            f"Every failed message in the period ({tz} times).",
            kinds={"message_price": "price", "date": "datetime"},
            labels={"subaccount_id": "Subaccount", "message_price": "Price"},
            freeze_columns=2,
        ),
    }


# --- summary and figures ---------------------------------------------------------------------


def _summary(frame, tables, meta: ReportMeta, threshold: float, min_messages: int):
    counts = count(frame, "outcome").reindex(list(hist.OUTCOMES), fill_value=0)
    n = int(counts.sum())
    sent = n - int(counts["cancelled"])
    price = frame["message_price"] if "message_price" in frame else pd.Series(dtype="float64")
    spend = round(float(price.sum()), MONEY_DECIMALS)
    failed_spend = round(float(price[frame["outcome"] == "failed"].sum()), MONEY_DECIMALS)
    s = {
        "messages": n,
        "sent": sent,
        "delivered": int(counts["delivered"]),
        "failed": int(counts["failed"]),
        "pending": int(counts["pending"]),
        "cancelled": int(counts["cancelled"]),
        "delivery_rate": counts["delivered"] / sent if sent else None,
        "failure_rate": counts["failed"] / sent if sent else None,
        "spend": spend,
        "failed_spend": failed_spend,
        "failure_threshold": threshold,
    }
    kinds = {k: "int" for k in ("messages", "sent", "delivered", "failed", "pending", "cancelled")}
    kinds |= {
        "delivery_rate": "percent",
        "failure_rate": "percent",
        "failure_threshold": "percent",
        "spend": "money",
        "failed_spend": "money",
        "days_over_threshold": "int",
    }
    labels = {
        "sent": "Sent (not cancelled)",
        "failed_spend": "Spend on failed messages",
        "failure_threshold": "Failure-rate alert above",
        "days_over_threshold": f"Days over it (with {min_messages}+ sent)",
    }
    daily = tables["daily"]
    # Days with too few messages are no alert: 2 failures on a day of 10 is not a collapse.
    busy = daily["sent"].astype("float64") >= min_messages
    s["days_over_threshold"] = int(((daily["failed_rate"] > threshold) & busy).sum())
    alerts = []
    if s["failure_rate"] is not None and s["failure_rate"] > threshold:
        alerts.append(
            f"Failure rate {s['failure_rate']:.1%} over the period is above {threshold:.0%} "
            f"({s['failed']:,} failed, {meta.money(failed_spend)} spent on them)."
        )
    for key, label in (("by_country", "country"), ("by_carrier", "carrier")):
        if key not in tables:
            continue
        t = tables[key]
        sent_k = t["sent"]
        eligible = t[(sent_k >= min_messages) & t["failed_rate"].notna()]
        if len(eligible):
            worst = eligible.sort_values("failed_rate", ascending=False, kind="stable").iloc[0]
            name = " / ".join(str(worst[c]) for c in t.columns[: t.columns.get_loc("messages")])
            s[f"worst_{label}"] = f"{name} ({worst['failed_rate']:.1%} failed)"
        bad = eligible[eligible["failed_rate"] > threshold]
        bad = bad.sort_values("failed_rate", ascending=False, kind="stable")
        for _, row in bad.head(MAX_ALERTS).iterrows():
            name = " / ".join(str(row[c]) for c in t.columns[: t.columns.get_loc("messages")])
            alerts.append(
                f"{label.capitalize()} {name}: {row['failed_rate']:.1%} of "
                f"{int(row['messages'] - row['cancelled']):,} sent failed."
            )
        if len(bad) > MAX_ALERTS:
            more = len(bad) - MAX_ALERTS
            alerts.append(f"... and {more} more {label} rows over {threshold:.0%} (see {key}).")
    errs = tables["errors"]
    if len(errs):
        top = errs.iloc[0]
        text = f"{top['error_code']} {top['error_text']}".strip()
        s["top_error"] = f"{text} ({int(top['failed']):,}, {top['share']:.0%} of failures)"
    return s, kinds, labels, alerts


def rates_figure(daily: pd.DataFrame, meta: ReportMeta, threshold: float):
    """Daily delivered and failed rates (shares of sent), with the alert threshold.

    Example::

        rates_figure(rep.tables["daily"], rep.meta, 0.05).savefig("rates.png")
    """
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    fig = Figure(figsize=(9, 5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(1, 1))
    x = daily["date"].dt.tz_localize(None)  # local days: plotted as their wall dates
    top.plot(x, daily["delivered_rate"], color="#2E7D32", lw=1.2, label="Delivered")
    top.set_ylabel("Delivered")
    top.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    top.grid(alpha=0.3)
    bottom.plot(x, daily["failed_rate"], color="#C62828", lw=1.2, label="Failed")
    bottom.axhline(threshold, color="#C62828", ls="--", lw=0.8, label=f"Alert {threshold:.0%}")
    bottom.set_ylabel("Failed")
    bottom.set_ylim(bottom=0)
    bottom.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    bottom.grid(alpha=0.3)
    bottom.legend(loc="upper left", frameon=False)
    locator = AutoDateLocator()
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    top.set_title(f"Share of sent messages per day, {meta.period[0]} to {meta.period[1]}")
    return fig


def errors_figure(errs: pd.DataFrame, meta: ReportMeta, top: int = 10):
    """Horizontal bars: failed messages per error code (the ``top`` most frequent).

    Example::

        errors_figure(rep.tables["errors"], rep.meta).savefig("errors.png")
    """
    from matplotlib.figure import Figure

    data = errs.head(top).iloc[::-1]
    fig = Figure(figsize=(9, 0.45 * max(len(data), 3) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    if len(data):
        labels = [
            f"{c} {t}"[:60].strip()
            for c, t in zip(data["error_code"], data["error_text"], strict=True)
        ]
        bars = ax.barh(labels, data["failed"].astype("int64"), color="#C62828")
        ax.bar_label(bars, labels=[f"{s:.0%}" for s in data["share"]], padding=3, fontsize=9)
    else:
        ax.text(0.5, 0.5, "No failed messages in this period", ha="center", transform=ax.transAxes)
    ax.set_title(f"Failed messages per error code, {meta.period[0]} to {meta.period[1]}")
    ax.set_xlabel("Failed messages")
    ax.grid(alpha=0.3, axis="x")
    return fig
