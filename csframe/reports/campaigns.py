"""Campaigns: what each SMS, MMS and email campaign reached, cost and provoked.

Loads ``client.campaigns(channel)`` for each channel and keeps the campaigns sent or
scheduled in the period (by ``schedule``, else ``date_added``); months are months of the
account's time zone (or ``tz=``), and the workbook shows times in it. For SMS campaigns,
``client.campaign_messages(sms_campaign_id)`` gives the campaign's messages (history
rows: status, price) and ``client.inbound(start)`` the replies, matched on
``original_message_id``; a reply whose text is a stop keyword
(:func:`csframe.clean.keyword_kind`: STOP, UNSUBSCRIBE, "Stop please", ...) is an opt-out.
Email campaigns carry their own counts (sent, opens, clicks, bounces, unsubscribes).

Tables:

``campaigns``
    One row per campaign: channel, id, name, subaccount, list, date, status, recipients,
    sent, delivered, failed, pending, delivery rate, cost, cost per delivered, replies,
    opt-outs and their rates; for email: opens, clicks, bounces, unsubscribes and rates.
``sms``, ``email``
    The same per channel with only the columns that channel has (SMS: replies and
    opt-outs; email: engagement).
``replies``
    Every reply to a campaign message: campaign, time, sender, text, whether an opt-out.

Opt-out rates above ``opt_out_threshold`` (default 2%) and delivery rates below 90% are
highlighted; the rates are shares of *sent* messages (delivered + failed + pending).

Example::

    rep = campaigns(cs, start="2026-01", end="2026-10")
    rep.tables["campaigns"].sort_values("cost", ascending=False).head()
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

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
    OptionError,
    ReportMeta,
    TableSpec,
    account_info,
)
from csframe.reports.periods import UTC, check_tz, resolve_period

if TYPE_CHECKING:  # for annotations only
    from csframe.client import Client
    from csframe.timeutil import Instant

NAME = "campaigns"
TITLE = "Campaigns"
CHANNELS = ("sms", "mms", "email")
OPT_OUT_THRESHOLD = 0.02
DELIVERY_THRESHOLD = 0.90

_ID = {"sms": "sms_campaign_id", "mms": "mms_campaign_id", "email": "email_campaign_id"}
_COMMON = (
    "channel",
    "campaign_id",
    "name",
    "subaccount_id",
    "list_id",
    "date",
    "status",
    "recipients",
)
_SMS = (
    "sent",
    "delivered",
    "failed",
    "pending",
    "delivery_rate",
    "cost",
    "cost_per_delivered",
    "replies",
    "reply_rate",
    "opt_outs",
    "opt_out_rate",
)
_EMAIL = (
    "emails_sent",
    "opens",
    "open_rate",
    "clicks",
    "click_rate",
    "bounces",
    "bounce_rate",
    "unsubscribes",
    "unsubscribe_rate",
    "abuse_reports",
)
_KINDS = {
    "date": "datetime",
    "delivery_rate": "percent",
    "cost": "money",
    "cost_per_delivered": "price",
    "reply_rate": "percent",
    "opt_out_rate": "percent",
    "open_rate": "percent",
    "click_rate": "percent",
    "bounce_rate": "percent",
    "unsubscribe_rate": "percent",
}
_LABELS = {
    "campaign_id": "Campaign",
    "subaccount_id": "Subaccount",
    "list_id": "List",
    "opt_outs": "Opt-outs (STOP)",
    "opt_out_rate": "Opt-out %",
    "delivery_rate": "Delivered %",
    "reply_rate": "Reply %",
}


def campaigns(
    client: Client,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    channels: Sequence[str] = CHANNELS,
    opt_out_threshold: float = OPT_OUT_THRESHOLD,
    tz: str | None = None,
    now: Instant | None = None,
    store: str | os.PathLike | None = None,
    engine: str = "pandas",
) -> Report:
    """The campaigns report for months ``start``..``end`` (inclusive) of ``tz`` (default:
    the account's time zone).

    ``store``: take the SMS campaigns' messages from a synced SMS store (the store, or a
    folder of stores) instead of one history load per campaign; ``engine="dask"`` matches
    them on the Dask cluster (the ``dask`` extra), only per-campaign counts and the
    replied-to messages' ids coming back. Campaigns and replies still come from the API.

    Example::

        rep = campaigns(cs, "2026-01", "2026-10", channels=("sms",))
        rep = campaigns(cs, "2026-01", "2026-10", store="data", engine="dask")
    """
    from csframe.errors import NotFound

    if not callable(getattr(client, "campaigns", None)):
        raise NotImplementedError(
            "the campaigns report needs Client.campaigns(), which this csframe does not have yet"
        )
    stored.check_source(store, engine)
    channels = _channels(channels)
    tz = check_tz(tz) if tz is not None else None
    account = account_info(client)
    tz = tz or account.timezone or UTC
    per = resolve_period(start, end, tz=tz, now=now)
    first, last = per.first, per.last
    t0, t1 = per.window
    frames: dict[str, pd.DataFrame] = {}
    messages: list[pd.DataFrame] = []
    failures: list[tuple[str, Exception]] = []
    for channel in channels:
        try:
            camps = _in_period(client.campaigns(channel), channel, t0, t1)
        except (ValueError, NotFound) as exc:
            # One channel the account (or API) cannot list must not sink the others; it is
            # reported loudly. Authentication and server errors still stop the report.
            failures.append((channel, exc))
            continue
        frames[channel] = camps
        if channel == "sms" and store is not None:
            continue  # matched against the store below, once the replies are known
        if channel == "sms" and callable(getattr(client, "campaign_messages", None)):
            for cid in camps[_ID["sms"]].dropna().unique():
                m = client.campaign_messages(int(cid))
                messages.append(m.assign(sms_campaign_id=int(cid)))
    inbound = None
    from_store = store is not None and "sms" in frames and len(frames["sms"]) > 0
    if (messages or from_store) and callable(getattr(client, "inbound", None)):
        inbound = client.inbound(start=t0)
    if failures and not frames:
        raise failures[0][1]
    msgs = pd.concat(messages, ignore_index=True) if messages else None
    owners = None
    if from_store:
        assert store is not None
        msgs, owners = _from_store(stored.find(store, "sms"), frames["sms"], inbound, engine)
    report = build(
        frames,
        first,
        last,
        messages=msgs,
        inbound=inbound,
        reply_owners=owners,
        account=account,
        opt_out_threshold=opt_out_threshold,
        tz=tz,
        now=per.now,
    )
    for channel, error in failures:
        report.alerts.append(f"{channel.upper()} campaigns could not be loaded: {error}")
    return report


def _channels(channels) -> tuple[str, ...]:
    if isinstance(channels, str):
        channels = channels.split(",")
    out = tuple(str(c).strip().lower() for c in channels if str(c).strip())
    bad = [c for c in out if c not in CHANNELS]
    if bad or not out:
        raise OptionError(f"channels: use any of {', '.join(CHANNELS)}; got {list(channels)!r}")
    return out


def _in_period(camps: pd.DataFrame, channel: str, t0, t1) -> pd.DataFrame:
    date = _campaign_date(camps)
    if not len(camps):
        return camps
    keep = (date >= t0) & (date < t1)
    return camps.loc[keep.fillna(False).to_numpy(dtype=bool)]


def _campaign_date(camps: pd.DataFrame) -> pd.Series:
    """When a campaign went (or goes) out: ``schedule``, else ``date_added``."""
    n = len(camps)
    empty = pd.Series(pd.NaT, index=camps.index, dtype="datetime64[s, UTC]")
    sched = camps.get("schedule", empty)
    added = camps.get("date_added", empty)
    if n and not isinstance(sched.dtype, pd.DatetimeTZDtype):
        sched = pd.to_datetime(sched, utc=True, errors="coerce")
    if n and not isinstance(added.dtype, pd.DatetimeTZDtype):
        added = pd.to_datetime(added, utc=True, errors="coerce")
    return sched.fillna(added) if n else empty


def build(
    frames: Mapping[str, pd.DataFrame],
    start,
    end,
    *,
    messages: pd.DataFrame | None = None,
    inbound: pd.DataFrame | None = None,
    reply_owners: pd.DataFrame | None = None,
    account: AccountInfo | None = None,
    opt_out_threshold: float = OPT_OUT_THRESHOLD,
    generated_at: dt.datetime | None = None,
    tz: str = UTC,
    now=None,
) -> Report:
    """Shape campaign frames (``{channel: client.campaigns(channel)}``), the SMS campaigns'
    messages (history rows with ``sms_campaign_id``, or cubes of them with ``outcome`` and
    ``n``: :mod:`csframe.reports.cube`) and inbound SMS into the report.
    ``reply_owners``: ``message_id`` -> ``sms_campaign_id`` of the messages replied to,
    when ``messages`` are cubes (default: taken from ``messages``).

    Example::

        rep = build({"sms": cs.campaigns("sms")}, "2026-01", "2026-10",
                    messages=msgs, inbound=cs.inbound())
    """
    tz = check_tz(tz)
    if now is None:
        now = pd.Timestamp(generated_at) if generated_at is not None else timeutil.now_utc()
    per = resolve_period(start, end, tz=tz, now=now)
    first, last = per.first, per.last
    account = account or AccountInfo()
    currency = account.currency
    if messages is not None:
        currency = messages.attrs.get("currency") or currency
    meta = ReportMeta(
        name=NAME,
        title=TITLE,
        start=first,
        end=last,
        account=account,
        currency=currency,
        generated_at=generated_at or per.now.to_pydatetime(),
        tz=tz,
        to_date=per.to_date,
    )
    t0, t1 = per.window
    replies = _replies(reply_owners if reply_owners is not None else messages, inbound)
    rows = []
    for channel, camps in frames.items():
        camps = _in_period(camps, channel, t0, t1)
        if not len(camps):
            continue
        rows.append(_rows(channel, camps, messages, replies))
    table = pd.concat(rows, ignore_index=True) if rows else _empty()
    table = _typed(table).sort_values(["date", "channel", "campaign_id"], kind="stable")
    table = table.reset_index(drop=True)

    tables: dict[str, pd.DataFrame] = {"campaigns": table}
    sms = table[table["channel"].isin(["sms", "mms"])]
    if len(sms):
        tables["sms"] = sms[[*_COMMON, *_SMS]].reset_index(drop=True)
    email = table[table["channel"] == "email"]
    if len(email):
        tables["email"] = email[[*_COMMON, *_EMAIL]].reset_index(drop=True)
    tables["replies"] = replies

    highlights = (
        Highlight("opt_out_rate", ">", opt_out_threshold),
        Highlight("delivery_rate", "<", DELIVERY_THRESHOLD),
    )
    sums = (
        "recipients",
        "sent",
        "delivered",
        "failed",
        "pending",
        "cost",
        "replies",
        "opt_outs",
        "emails_sent",
        "opens",
        "clicks",
        "bounces",
        "unsubscribes",
        "abuse_reports",
    )
    spec: dict[str, Any] = {
        "kinds": _KINDS,
        "labels": _LABELS,
        "highlights": highlights,
        "freeze_columns": 3,
    }
    specs = {
        "campaigns": TableSpec(
            f"Every campaign in the period (opt-out rates over {opt_out_threshold:.0%} and "
            f"delivery under {DELIVERY_THRESHOLD:.0%} in red).",
            totals=tuple(c for c in sums if c in table),
            **spec,
        ),
        "sms": TableSpec(
            "SMS and MMS campaigns: delivery, cost, replies and opt-outs.",
            totals=tuple(c for c in sums if c in (*_COMMON, *_SMS)),
            **spec,
        ),
        "email": TableSpec(
            "Email campaigns: opens, clicks, bounces and unsubscribes (rates of emails sent).",
            totals=tuple(c for c in sums if c in (*_COMMON, *_EMAIL)),
            **spec,
        ),
        "replies": TableSpec(
            "Replies to campaign messages (opt-outs flagged).",
            kinds={"date": "datetime"},
            labels={"campaign_id": "Campaign"},
            highlights=(Highlight("opt_out", "==", True, row=True, style="warn"),),
            freeze_columns=2,
        ),
    }
    charts = []
    if "sms" in tables:
        charts.append(
            ChartSpec(
                "sms",
                x="name",
                y=("delivered", "failed"),
                kind="bar",
                title="Delivered and failed per SMS campaign",
                cell="D3",
            )
        )
    report = Report.assemble(
        meta, tables, specs, charts, _summary(table, replies, meta, opt_out_threshold)
    )
    report.figures["campaigns"] = campaigns_figure(table, meta)
    return report


def _campaign_windows(camps: pd.DataFrame) -> pd.DataFrame:
    """Per SMS campaign, the messages that are its own (as ``client.campaign_messages``
    finds them): sent to its list from a minute before its send time to two days after."""
    ids = camps[_ID["sms"]].astype("Int64") if _ID["sms"] in camps else pd.Series(dtype="Int64")
    at = _campaign_date(camps)
    lists = camps["list_id"] if "list_id" in camps else pd.Series(pd.NA, index=camps.index)
    spec = pd.DataFrame(
        {
            "sms_campaign_id": ids.to_numpy(),
            "list_id": pd.array(lists.to_numpy(), dtype="Int64"),
            "t0": (at - pd.Timedelta(minutes=1)).array,
            "t1": (at + pd.Timedelta(days=2)).array,
        }
    )
    spec = spec.dropna(subset=["sms_campaign_id", "t0"])
    return spec.drop_duplicates("sms_campaign_id").reset_index(drop=True)


def _campaign_rows(frame: pd.DataFrame, spec: pd.DataFrame) -> pd.DataFrame:
    """History rows of each campaign of ``spec``, campaign after campaign (a message in two
    campaigns' windows counts for both, as with ``client.campaign_messages``)."""
    parts = []
    for cid, list_id, t0, t1 in spec.itertuples(index=False):
        keep = (frame["date"] >= t0) & (frame["date"] < t1)
        if not pd.isna(list_id):
            keep &= frame["list_id"] == int(list_id)
        rows = frame.loc[keep.fillna(False).to_numpy(dtype=bool)]
        parts.append(rows.assign(sms_campaign_id=int(cid)))
    if not parts:
        return frame.iloc[:0].assign(sms_campaign_id=pd.Series(dtype="int64"))
    return pd.concat(parts, ignore_index=True)


def _campaign_cube(frame: pd.DataFrame, spec: pd.DataFrame) -> pd.DataFrame:
    if "outcome" not in frame:  # raw history rows: first the campaigns' own
        rows = _campaign_rows(frame, spec)
        frame = pd.DataFrame(
            {
                "sms_campaign_id": rows["sms_campaign_id"].astype("int64").to_numpy(),
                "outcome": hist.outcomes(rows),
                "message_price": rows["message_price"].astype("float64").to_numpy(),
            }
        )
    return cube(frame, ["sms_campaign_id", "outcome"], sums=["message_price"])


def _reply_owners(frame: pd.DataFrame, spec: pd.DataFrame, replied: frozenset) -> pd.DataFrame:
    rows = _campaign_rows(frame, spec)
    rows = rows[rows["message_id"].astype("str").isin(replied).fillna(False).to_numpy(bool)]
    return pd.DataFrame(
        {
            "message_id": rows["message_id"].astype("str").to_numpy(),
            "sms_campaign_id": pd.array(rows["sms_campaign_id"].to_numpy(), dtype="Int64"),
        }
    )


def _from_store(path, camps: pd.DataFrame, inbound, engine: str):
    """The SMS campaigns' messages from the store at ``path``: per campaign and outcome
    counts and spend (a cube), and the campaign of each message replied to."""
    spec = _campaign_windows(camps)
    if not len(spec):
        return None, None
    replied: frozenset = frozenset()
    if inbound is not None and "original_message_id" in inbound:
        replied = frozenset(inbound["original_message_id"].dropna().astype("str"))
    agg, owners = stored.aggregate(
        path,
        spec["t0"].min(),
        spec["t1"].max(),
        columns=["date", "list_id", "message_id", "status", "status_code", "error_code"]
        + ["message_price"],
        reduce=functools.partial(_campaign_cube, spec=spec),
        detail=functools.partial(_reply_owners, spec=spec, replied=replied),
        engine=engine,
    )
    agg.attrs["currency"] = stored.store_currency(path)
    return agg, owners


def _replies(messages: pd.DataFrame | None, inbound: pd.DataFrame | None) -> pd.DataFrame:
    cols = ["campaign_id", "date", "from", "body", "opt_out", "original_message_id"]
    empty = pd.DataFrame(
        {
            "campaign_id": pd.Series(dtype="Int64"),
            "date": pd.Series(dtype="datetime64[s, UTC]"),
            "from": pd.Series(dtype="str"),
            "body": pd.Series(dtype="str"),
            "opt_out": pd.Series(dtype=bool),
            "original_message_id": pd.Series(dtype="str"),
        }
    )
    if messages is None or inbound is None or not len(messages) or not len(inbound):
        return empty
    if "original_message_id" not in inbound or "message_id" not in messages:
        return empty
    from csframe.clean import keyword_kind

    m = messages.dropna(subset=["message_id"])
    owner = pd.Series(m["sms_campaign_id"].to_numpy(), index=m["message_id"].astype("str"))
    owner = owner[~owner.index.duplicated()]
    inb = inbound.copy()
    inb["campaign_id"] = inb["original_message_id"].astype("str").map(owner)
    inb = inb.dropna(subset=["campaign_id"])
    if not len(inb):
        return empty
    time = "date" if "date" in inb else "timestamp"
    out = pd.DataFrame(
        {
            "campaign_id": inb["campaign_id"].astype("Int64"),
            "date": pd.to_datetime(inb[time], utc=True) if time in inb else pd.NaT,
            "from": inb["from"].astype("str") if "from" in inb else "",
            "body": inb["body"].astype("str") if "body" in inb else "",
            "opt_out": (keyword_kind(inb["body"]) == "stop").fillna(False).astype(bool)
            if "body" in inb
            else False,
            "original_message_id": inb["original_message_id"].astype("str"),
        }
    )
    return out[cols].sort_values(["campaign_id", "date"], kind="stable").reset_index(drop=True)


def _rows(channel: str, camps: pd.DataFrame, messages, replies: pd.DataFrame) -> pd.DataFrame:
    idcol = _ID[channel]
    ids = camps[idcol].astype("Int64") if idcol in camps else pd.Series(dtype="Int64")
    out = pd.DataFrame(
        {
            "channel": channel,
            "campaign_id": ids.to_numpy(),
            "name": camps["name"].astype("str").to_numpy() if "name" in camps else "",
            "subaccount_id": _col(camps, "subaccount_id"),
            "list_id": _col(camps, "list_id"),
            "date": _campaign_date(camps).to_numpy(),
            "status": camps["status"].astype("str").to_numpy() if "status" in camps else "",
            "recipients": _col(camps, "_total_count"),
        }
    )
    if channel == "email":
        sent = _col(camps, "send_count")
        out["emails_sent"] = sent
        out["recipients"] = out["recipients"].fillna(pd.Series(sent))
        out["opens"] = _col(camps, "open_count")
        out["clicks"] = _col(camps, "click_count")
        hard, soft = _col(camps, "hard_bounce_count"), _col(camps, "soft_bounce_count")
        out["bounces"] = pd.array(hard, dtype="Int64") + pd.array(soft, dtype="Int64")
        out["unsubscribes"] = _col(camps, "unsubscribe_count")
        out["abuse_reports"] = _col(camps, "abuse_count")
        base = out["emails_sent"].astype("float64")
        base = base.where(base > 0)
        for col, rate in (
            ("opens", "open_rate"),
            ("clicks", "click_rate"),
            ("bounces", "bounce_rate"),
            ("unsubscribes", "unsubscribe_rate"),
        ):
            out[rate] = out[col].astype("float64") / base
        return out
    if channel == "sms" and messages is not None and len(messages):
        mine = messages[messages["sms_campaign_id"].isin(set(ids.dropna().astype(int)))]
        outcome = mine["outcome"].array if "outcome" in mine else hist.outcomes(mine)
        price = (
            mine["message_price"].astype("float64")
            if "message_price" in mine
            else pd.Series(0.0, index=mine.index)
        )
        work = pd.DataFrame(
            {
                "campaign_id": mine["sms_campaign_id"].astype("int64").to_numpy(),
                "outcome": outcome,
                "price": price.to_numpy(),
                WEIGHT: weights(mine).to_numpy(),
            }
        )
        counts = (
            count(work, ["campaign_id", "outcome"])
            .unstack("outcome", fill_value=0)
            .reindex(columns=list(hist.OUTCOMES), fill_value=0)
        )
        cost = work.groupby("campaign_id")["price"].sum()
        key = out["campaign_id"].astype("float64")
        for o in ("delivered", "failed", "pending"):
            out[o] = key.map(counts[o]).fillna(0).to_numpy()
        out["sent"] = out["delivered"] + out["failed"] + out["pending"]
        out["cost"] = key.map(cost).fillna(0.0).round(MONEY_DECIMALS).to_numpy()
    if len(replies):
        per = replies.groupby("campaign_id").agg(
            replies=("opt_out", "size"), opt_outs=("opt_out", "sum")
        )
        key = out["campaign_id"].astype("float64")
        per.index = per.index.astype("float64")
        out["replies"] = key.map(per["replies"]).fillna(0).to_numpy()
        out["opt_outs"] = key.map(per["opt_outs"]).fillna(0).to_numpy()
    elif channel == "sms" and messages is not None:
        out["replies"] = 0
        out["opt_outs"] = 0
    if "sent" in out:
        sent = out["sent"].astype("float64").where(out["sent"] > 0)
        out["delivery_rate"] = out["delivered"] / sent
        out["cost_per_delivered"] = (
            out["cost"] / out["delivered"].astype("float64").where(out["delivered"] > 0)
        ).round(MONEY_DECIMALS)
        if "replies" in out:
            out["reply_rate"] = out["replies"] / sent
            out["opt_out_rate"] = out["opt_outs"] / sent
    return out


def _col(frame: pd.DataFrame, name: str):
    if name in frame:
        return pd.array(frame[name], dtype="Int64")
    return pd.array([pd.NA] * len(frame), dtype="Int64")


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: [] for c in (*_COMMON, *_SMS, *_EMAIL)})


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    for col in (*_COMMON, *_SMS, *_EMAIL):
        if col not in table:
            table[col] = np.nan
    ints = (
        "campaign_id",
        "subaccount_id",
        "list_id",
        "recipients",
        "sent",
        "delivered",
        "failed",
        "pending",
        "replies",
        "opt_outs",
        "emails_sent",
        "opens",
        "clicks",
        "bounces",
        "unsubscribes",
        "abuse_reports",
    )
    for col in ints:
        table[col] = pd.to_numeric(table[col], errors="coerce").round().astype("Int64")
    for col in ("channel", "name", "status"):
        table[col] = table[col].astype("str")
    table["date"] = pd.to_datetime(table["date"], utc=True).astype("datetime64[s, UTC]")
    for col, kind in _KINDS.items():
        if kind in ("percent", "money", "price"):
            table[col] = pd.to_numeric(table[col], errors="coerce").astype("float64")
    return table[[*_COMMON, *_SMS, *_EMAIL]]


def _summary(table: pd.DataFrame, replies: pd.DataFrame, meta: ReportMeta, threshold: float):
    sms = table[table["channel"].isin(["sms", "mms"])]
    email = table[table["channel"] == "email"]
    delivered = int(sms["delivered"].sum())
    sent = int(sms["sent"].sum())
    cost = round(float(sms["cost"].sum()), MONEY_DECIMALS)
    s = {
        "campaigns": len(table),
        "sms_campaigns": int((table["channel"] == "sms").sum()),
        "mms_campaigns": int((table["channel"] == "mms").sum()),
        "email_campaigns": len(email),
        "recipients": int(table["recipients"].sum()),
        "delivered": delivered,
        "delivery_rate": delivered / sent if sent else None,
        "cost": cost,
        "cost_per_delivered": round(cost / delivered, MONEY_DECIMALS) if delivered else None,
        "replies": int(len(replies)),
        "opt_outs": int(replies["opt_out"].sum()) if len(replies) else 0,
    }
    if len(email):
        sent_e = int(email["emails_sent"].sum())
        s["emails_sent"] = sent_e
        s["open_rate"] = int(email["opens"].sum()) / sent_e if sent_e else None
        s["click_rate"] = int(email["clicks"].sum()) / sent_e if sent_e else None
    kinds = {
        k: "int"
        for k in (
            "campaigns",
            "sms_campaigns",
            "mms_campaigns",
            "email_campaigns",
            "recipients",
            "delivered",
            "replies",
            "opt_outs",
            "emails_sent",
        )
    }
    kinds |= {
        "delivery_rate": "percent",
        "cost": "money",
        "cost_per_delivered": "price",
        "open_rate": "percent",
        "click_rate": "percent",
    }
    labels = {
        "sms_campaigns": "SMS campaigns",
        "mms_campaigns": "MMS campaigns",
        "cost": "Cost (SMS/MMS)",
        "cost_per_delivered": "Cost per delivered message",
        "opt_outs": "Opt-outs (STOP replies)",
    }
    alerts = []
    bad = table[table["opt_out_rate"] > threshold]
    for _, row in bad.iterrows():
        alerts.append(
            f"Campaign {row['name']} ({row['channel']} {row['campaign_id']}): "
            f"{int(row['opt_outs'])} STOP replies, {row['opt_out_rate']:.1%} of the messages "
            "sent."
        )
    return s, kinds, labels, alerts


def campaigns_figure(table: pd.DataFrame, meta: ReportMeta, top: int = 15):
    """Horizontal bars per campaign (the ``top`` largest by recipients): delivered,
    failed and pending, with opt-outs marked.

    Example::

        campaigns_figure(rep.tables["campaigns"], rep.meta).savefig("campaigns.png")
    """
    from matplotlib.figure import Figure

    data = table[table["channel"].isin(["sms", "mms"])]
    data = data.sort_values("recipients", ascending=False, kind="stable").head(top).iloc[::-1]
    fig = Figure(figsize=(9, 0.45 * max(len(data), 3) + 1.4), layout="constrained")
    ax = fig.add_subplot()
    if len(data):
        labels = [str(n)[:40] for n in data["name"]]
        left = np.zeros(len(data))
        for col, color in (("delivered", "#2E7D32"), ("failed", "#C62828"), ("pending", "#9E9E9E")):
            v = data[col].astype("float64").fillna(0).to_numpy()
            ax.barh(labels, v, left=left, label=col.capitalize(), color=color)
            left += v
        outs = data["opt_outs"].astype("float64").fillna(0).to_numpy()
        for y, (x, n) in enumerate(zip(left, outs, strict=True)):
            if n:
                ax.text(x, y, f"  {int(n)} STOP", va="center", fontsize=8, color="#6A1B9A")
        ax.legend(loc="lower right", frameon=False, fontsize=8)
    else:
        ax.text(0.5, 0.5, "No SMS campaigns in this period", ha="center", transform=ax.transAxes)
    ax.set_title(f"SMS campaigns, {meta.period[0]} to {meta.period[1]}")
    ax.set_xlabel("Messages")
    ax.grid(alpha=0.3, axis="x")
    return fig
