"""Contact list health: per list, how many contacts can actually be reached.

Loads ``client.lists()``, every list's contacts (``client.contacts()``) and the inbound SMS
(``client.inbound()``, for STOP replies), and runs them through :mod:`csframe.clean`:
``clean.contacts`` (phone validity and reasons, email checks, issues),
``clean.duplicates`` (once over all lists, so a person in two lists is one cluster) and
``clean.suppress_opt_outs`` (STOP replies, ``unsubscribed``).

Counts per list:

- ``contacts``: rows in the list; ``valid_phones`` / ``invalid_phones`` /
  ``missing_phones`` (no number at all); ``valid_emails``;
- ``duplicates``: rows that duplicate an earlier row *of the same list* (cluster size in the
  list minus one); ``in_other_lists``: contacts whose cluster also has rows in other lists;
- ``opt_outs``: contacts who replied STOP (or are unsubscribed);
- ``reachable``: valid phone, not opted out, first of its duplicates in the list;
  ``health`` = reachable / contacts.

The report is a snapshot (contacts have no period): its period reads "as of" the day it is
run, in the account's time zone; inbound messages of all time count for opt-outs.

Opt-out lists (lists whose name says they collect opt-outs -- "Opt-out", "Unsubscribed",
"STOP list", "Do not contact", ... -- or that ClickSend marks as the account's opt-out
list) are what they are: their contacts *should* be opted out, so such a list has no
health score, raises no alert, and its contacts do not count as reachable.

Tables: ``lists``, ``issues`` (list x issue code), ``invalid_numbers``, ``duplicates``
and ``opt_outs`` (details; names and numbers neutralised in the workbook).

Example::

    rep = contacts_health(cs)
    rep.tables["lists"][["list_name", "contacts", "reachable", "health"]]
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from csframe import timeutil
from csframe.reports.base import Report
from csframe.reports.model import (
    AccountInfo,
    ChartSpec,
    Highlight,
    Kind,
    ReportMeta,
    TableSpec,
    account_info,
)
from csframe.reports.periods import UTC, check_tz, month_start

if TYPE_CHECKING:  # for annotations only
    from csframe.client import Client

NAME = "contacts-health"
TITLE = "Contact list health"
#: Lists where fewer than this share of contacts is reachable are flagged.
HEALTH_THRESHOLD = 0.8

#: List names that say "this list collects opt-outs".
OPT_OUT_NAME = re.compile(
    r"opt[\s_-]*outs?\b|opted[\s_-]*out|unsubscri|\bstop\b|suppress|"
    r"do[\s_-]*not[\s_-]*(?:contact|call|message|text|sms|email)",
    re.IGNORECASE,
)

_LIST_COLUMNS = (
    "list_id",
    "list_name",
    "opt_out_list",
    "contacts",
    "valid_phones",
    "invalid_phones",
    "missing_phones",
    "valid_emails",
    "duplicates",
    "in_other_lists",
    "opt_outs",
    "reachable",
    "health",
)


def contacts_health(
    client: Client,
    *,
    region: str | None = None,
    opt_out_lists: Sequence[int] | None = None,
    tz: str | None = None,
) -> Report:
    """The contact-list health report of the account.

    ``region``: region for national numbers (default: the account's
    ``default_country_sms``, else its ``country``). ``opt_out_lists``: ids of the lists
    that collect opt-outs (default: lists named so, see :data:`OPT_OUT_NAME`). ``tz``: the
    zone of the "as of" date and of the times shown (default: the account's).

    Example::

        rep = contacts_health(cs, region="AU")
        rep.summary["reachable"]
    """
    for method in ("lists", "contacts"):
        if not callable(getattr(client, method, None)):
            raise NotImplementedError(
                f"contacts-health needs Client.{method}(), which this csframe does not have yet"
            )
    tz = check_tz(tz) if tz is not None else None
    data = client.account() or {}
    account = account_info(client)
    region = region or data.get("default_country_sms") or data.get("country") or None
    lists = client.lists()
    contacts = client.contacts()
    inbound = client.inbound() if callable(getattr(client, "inbound", None)) else None
    return build(
        lists,
        contacts,
        inbound,
        account=account,
        region=region,
        opt_out_lists=opt_out_lists,
        tz=tz or account.timezone or UTC,
    )


def build(
    lists: pd.DataFrame,
    contacts: pd.DataFrame,
    inbound: pd.DataFrame | None = None,
    *,
    account: AccountInfo | None = None,
    region: str | None = None,
    health_threshold: float = HEALTH_THRESHOLD,
    generated_at: dt.datetime | None = None,
    opt_out_lists: Sequence[int] | None = None,
    tz: str = UTC,
) -> Report:
    """Shape lists, contacts (all lists, with ``list_id``) and inbound SMS into the report.

    Example::

        rep = build(cs.lists(), cs.contacts(), cs.inbound(), region="AU")
    """
    from csframe import clean

    tz = check_tz(tz)
    when = pd.Timestamp(generated_at) if generated_at is not None else timeutil.now_utc()
    when = (when.tz_localize("UTC") if when.tzinfo is None else when).floor("us")
    local = when.tz_convert(tz)
    month = month_start(local.year, local.month, tz)
    account = account or AccountInfo()
    meta = ReportMeta(
        name=NAME,
        title=TITLE,
        start=month,
        end=month,
        account=account,
        currency=account.currency,
        generated_at=when.to_pydatetime(),
        tz=tz,
        snapshot=True,
    )
    optout_ids = _opt_out_lists(lists, opt_out_lists)
    ct = contacts.reset_index(drop=True)
    if len(ct):
        cleaned = clean.contacts(ct, default_region=region)
        dups = clean.duplicates(cleaned)
        if inbound is not None and len(inbound):
            _, dropped = clean.suppress_opt_outs(cleaned, _inbound(inbound), default_region=region)
        else:
            _, dropped = clean.suppress_opt_outs(cleaned, None, default_region=region)
    else:
        cleaned, dups, dropped = ct, ct, ct.iloc[0:0]

    frame = _flags(ct, cleaned, dups, dropped)
    tables = {
        "lists": list_table(lists, frame, optout_ids),
        "issues": issue_table(frame),
        "invalid_numbers": _detail(
            frame[frame["has_phone"] & ~frame["phone_ok"]],
            ["phone_number", "phone_reason", "email"],
        ),
        "duplicates": _detail(
            frame[frame["dup_in_list"] | frame["dup_kept_in_list"]],
            ["cluster_id", "rule", "phone_number", "email", "kept"],
        ),
        "opt_outs": _detail(
            frame[frame["opted_out"]],
            ["phone_number", "email", "opt_out_reason", "opt_out_detail", "opt_out_date"],
        ),
    }
    pct: dict[str, Kind] = {"health": "percent"}
    totals = tuple(c for c in _LIST_COLUMNS[3:] if c != "health")
    specs = {
        "lists": TableSpec(
            f"Per list: contacts, valid and invalid numbers, duplicates, opt-outs and how many "
            f"can be reached (health under {health_threshold:.0%} in red). Opt-out lists "
            "collect opted-out people: no health score, no alert.",
            kinds=pct,
            labels={
                "list_id": "List",
                "in_other_lists": "Also in other lists",
                "opt_out_list": "Opt-out list",
            },
            totals=totals,
            highlights=(Highlight("health", "<", health_threshold, row=True),),
            freeze_columns=2,
        ),
        "issues": TableSpec(
            "Data-quality issue codes per list (a contact can have several).",
            labels={"list_id": "List"},
            totals=("contacts",),
            freeze_columns=2,
        ),
        "invalid_numbers": TableSpec(
            "Contacts whose phone number is not a valid number, with the reason.",
            labels={"list_id": "List", "contact_id": "Contact"},
            freeze_columns=3,
        ),
        "duplicates": TableSpec(
            "Contacts that appear more than once in a list (grouped by cluster; the kept "
            "row is the one a de-duplication would keep).",
            labels={"list_id": "List", "contact_id": "Contact", "cluster_id": "Cluster"},
            freeze_columns=3,
        ),
        "opt_outs": TableSpec(
            "Contacts who opted out (STOP replies, unsubscribed).",
            kinds={"opt_out_date": "datetime"},
            labels={"list_id": "List", "contact_id": "Contact"},
            freeze_columns=3,
        ),
    }
    charts = [
        ChartSpec(
            "lists",
            x="list_name",
            y=("contacts", "reachable"),
            kind="bar",
            title="Contacts and reachable contacts per list",
            cell="D3",
        )
    ]
    report = Report.assemble(
        meta, tables, specs, charts, _summary(tables, frame, health_threshold, region)
    )
    report.figures["lists"] = lists_figure(tables["lists"], frame)
    return report


def _opt_out_lists(lists: pd.DataFrame, given: Sequence[int] | None) -> set[int]:
    """Ids of the lists that collect opt-outs: ``given``, else those named so."""
    if given is not None:
        return {int(i) for i in given}
    if "list_id" not in lists or "list_name" not in lists:
        return set()
    names = lists["list_name"].astype("str").fillna("")
    hit = names.str.contains(OPT_OUT_NAME, na=False).to_numpy(dtype=bool)
    return {int(i) for i in lists.loc[hit, "list_id"].dropna()}


def _inbound(inbound: pd.DataFrame) -> pd.DataFrame:
    # clean.suppress_opt_outs reads ``date``; the inbound loader's time column is
    # ``timestamp``.
    if "date" not in inbound and "timestamp" in inbound:
        return inbound.rename(columns={"timestamp": "date"})
    return inbound


def _flags(ct, cleaned, dups, dropped) -> pd.DataFrame:
    """One row per contact with the booleans the counts are made of."""
    n = len(ct)
    f = pd.DataFrame(index=ct.index)
    for col in ("contact_id", "list_id", "_list_name", "first_name", "last_name"):
        f[col] = ct[col] if col in ct else pd.Series([pd.NA] * n, index=ct.index)
    f["phone_number"] = ct.get("phone_number", pd.NA)
    f["email"] = ct.get("email", pd.NA)
    if not n:
        for col in (
            "has_phone",
            "phone_ok",
            "email_ok",
            "dup_in_list",
            "dup_kept_in_list",
            "in_other_lists",
            "opted_out",
        ):
            f[col] = pd.Series(dtype=bool)
        for col in ("phone_reason", "issues", "cluster_id", "rule", "kept"):
            f[col] = pd.Series(dtype=object)
        for col in ("opt_out_reason", "opt_out_detail", "opt_out_date"):
            f[col] = pd.Series(dtype=object)
        return f
    raw = f["phone_number"].astype("str").str.strip()
    f["has_phone"] = (raw.notna() & (raw != "")).fillna(False).astype(bool)
    f["phone_ok"] = cleaned["phone_valid"].fillna(False).astype(bool)
    f["email_ok"] = (
        cleaned["email_valid"].fillna(False).astype(bool) if "email_valid" in cleaned else False
    )
    f["phone_reason"] = cleaned["phone_reason"].astype("str") if "phone_reason" in cleaned else ""
    f["issues"] = cleaned["issues"].astype("str").fillna("")
    f["cluster_id"] = dups["cluster_id"].astype("Int64")
    f["rule"] = dups["rule"].astype("str")
    # Duplicates within a list: rows of a cluster in the same list beyond the first kept.
    key = [f["cluster_id"], f["list_id"]]
    in_list = f.groupby(key, dropna=False)["cluster_id"].transform("size")
    survivor = dups["survivor"].fillna(False).astype(bool)
    # The kept row in each (cluster, list): the cluster's survivor if it is in the list,
    # else the first row of the cluster in that list.
    has_survivor = survivor.groupby(key, dropna=False).transform("any")
    first_in_list = ~f.duplicated(subset=["cluster_id", "list_id"], keep="first")
    kept = (survivor | (~has_survivor & first_in_list)).astype(bool)
    f["kept"] = np.where(kept, "kept", "duplicate")
    f["dup_in_list"] = ((in_list > 1) & ~kept).astype(bool)
    f["dup_kept_in_list"] = ((in_list > 1) & kept).astype(bool)
    lists_per_cluster = f.groupby("cluster_id", dropna=False)["list_id"].transform("nunique")
    f["in_other_lists"] = (lists_per_cluster > 1).astype(bool)
    opted = pd.Series(False, index=f.index)
    opted.loc[opted.index.intersection(dropped.index)] = True
    f["opted_out"] = opted
    for col in ("opt_out_reason", "opt_out_detail", "opt_out_date"):
        f[col] = dropped[col].reindex(f.index) if col in dropped else pd.NA
    f["opt_out_reason"] = f["opt_out_reason"].astype("str")
    return f


def list_table(
    lists: pd.DataFrame, frame: pd.DataFrame, opt_out_lists: set[int] | None = None
) -> pd.DataFrame:
    """The per-list counts (see the module docstring); lists without contacts included;
    ``opt_out_lists``: ids of the lists that collect opt-outs.

    Example::

        list_table(cs.lists(), flags, {623})
    """
    opt_out_lists = set(opt_out_lists or ())
    has, ok = frame["has_phone"].astype(bool), frame["phone_ok"].astype(bool)
    opted, dup = frame["opted_out"].astype(bool), frame["dup_in_list"].astype(bool)
    in_optout = frame["list_id"].isin(opt_out_lists).astype(bool)
    work = pd.DataFrame(
        {
            "list_id": frame["list_id"],
            "contacts": np.ones(len(frame), dtype="int64"),
            "valid_phones": ok,
            "invalid_phones": has & ~ok,
            "missing_phones": ~has,
            "valid_emails": frame["email_ok"].astype(bool),
            "duplicates": dup,
            "in_other_lists": frame["in_other_lists"].astype(bool),
            "opt_outs": opted | in_optout,
            # Nobody on an opt-out list is someone to message.
            "reachable": ok & ~opted & ~dup & ~in_optout,
        }
    )
    counts = work.groupby("list_id", dropna=False).sum().astype("int64")
    ids = lists["list_id"] if "list_id" in lists else pd.Series(dtype="Int64")
    names = (
        lists.set_index("list_id")["list_name"] if "list_name" in lists else pd.Series(dtype="str")
    )
    extra = [i for i in counts.index if pd.notna(i) and i not in set(ids)]
    index = pd.Index([*ids, *extra], name="list_id")
    out = counts.reindex(index, fill_value=0).reset_index()
    if "_list_name" in frame:
        seen = frame.dropna(subset=["_list_name"]).groupby("list_id")["_list_name"].first()
        names = names.combine_first(seen) if len(names) else seen
    out.insert(1, "list_name", out["list_id"].map(names).astype("str"))
    out["list_id"] = out["list_id"].astype("Int64")
    out.insert(2, "opt_out_list", out["list_id"].isin(opt_out_lists).to_numpy(dtype=bool))
    for col in _LIST_COLUMNS[3:-1]:
        out[col] = out[col].astype("Int64")
    out["health"] = (
        out["reachable"].astype("float64")
        / out["contacts"].astype("float64").where(out["contacts"] > 0)
    ).astype("float64")
    out.loc[out["opt_out_list"], "health"] = np.nan  # not a list to reach anyone on
    return out[list(_LIST_COLUMNS)]


def issue_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Contacts per list and issue code (``clean.contacts``' ``issues``), most first.

    Example::

        issue_table(flags)
    """
    cols = ["list_id", "list_name", "issue", "contacts"]
    if not len(frame):
        return pd.DataFrame(
            {
                "list_id": pd.Series(dtype="Int64"),
                "list_name": pd.Series(dtype="str"),
                "issue": pd.Series(dtype="str"),
                "contacts": pd.Series(dtype="Int64"),
            }
        )
    issues = frame[["list_id", "_list_name", "issues"]].copy()
    issues["issue"] = issues["issues"].fillna("").str.split(",")
    long = issues.explode("issue")
    long = long[long["issue"].notna() & (long["issue"] != "")]
    out = long.groupby(["list_id", "issue"], dropna=False).size().rename("contacts").reset_index()
    names = frame.dropna(subset=["_list_name"]).groupby("list_id")["_list_name"].first()
    out.insert(1, "list_name", out["list_id"].map(names).astype("str"))
    out["list_id"] = out["list_id"].astype("Int64")
    out["contacts"] = out["contacts"].astype("Int64")
    out["issue"] = out["issue"].astype("str")
    out = out.sort_values(["list_id", "contacts", "issue"], ascending=[True, False, True])
    return out[cols].reset_index(drop=True)


def _detail(rows: pd.DataFrame, extra: list[str]) -> pd.DataFrame:
    base = ["list_id", "contact_id", "first_name", "last_name"]
    out = rows[[c for c in base + extra if c in rows]].copy()
    for col in ("list_id", "contact_id", "cluster_id"):
        if col in out:
            out[col] = out[col].astype("Int64")
    for col in out.columns:
        if col not in ("list_id", "contact_id", "cluster_id", "opt_out_date"):
            out[col] = out[col].astype("str")
    if "opt_out_date" in out:
        out["opt_out_date"] = pd.to_datetime(out["opt_out_date"], utc=True)
    sort = [c for c in ("list_id", "cluster_id", "contact_id") if c in out]
    return out.sort_values(sort, kind="stable").reset_index(drop=True)


def _summary(tables, frame, threshold: float, region):
    every = tables["lists"]
    optout = every[every["opt_out_list"]]
    lists = every[~every["opt_out_list"]]  # the key figures are about lists to reach people on
    n = int(lists["contacts"].sum())
    reachable = int(lists["reachable"].sum())
    s = {
        "lists": len(lists),
        "opt_out_lists": [str(x) for x in optout["list_name"]],
        "opt_out_list_contacts": int(optout["contacts"].sum()),
        "contacts": n,
        "unique_people": int(
            frame.loc[
                ~frame["list_id"].isin(set(optout["list_id"].dropna())), "cluster_id"
            ].nunique()
        )
        if n
        else 0,
        "valid_phones": int(lists["valid_phones"].sum()),
        "invalid_phones": int(lists["invalid_phones"].sum()),
        "missing_phones": int(lists["missing_phones"].sum()),
        "duplicates": int(lists["duplicates"].sum()),
        "opt_outs": int(lists["opt_outs"].sum()),
        "reachable": reachable,
        "health": reachable / n if n else None,
        "region": region or "-",
    }
    issues = tables["issues"]
    if len(issues):
        top = issues.groupby("issue")["contacts"].sum().sort_values(ascending=False)
        s["top_issue"] = f"{top.index[0]} ({int(top.iloc[0]):,} contacts)"
    kinds = {k: "int" for k in s if k not in ("health", "region", "top_issue", "opt_out_lists")}
    kinds["health"] = "percent"
    labels = {
        "lists": "Lists (not counting opt-out lists)",
        "opt_out_lists": "Opt-out lists (not scored)",
        "opt_out_list_contacts": "Contacts on opt-out lists",
        "unique_people": "Unique people (after de-duplication)",
        "health": "Reachable share",
        "region": "Region for national numbers",
    }
    alerts = []
    for _, row in lists[lists["health"] < threshold].iterrows():
        alerts.append(
            f"List {row['list_name']} ({row['list_id']}): only {row['health']:.0%} of "
            f"{int(row['contacts']):,} contacts reachable ({int(row['invalid_phones'])} invalid, "
            f"{int(row['duplicates'])} duplicates, {int(row['opt_outs'])} opted out)."
        )
    return s, kinds, labels, alerts


STATUSES = (
    ("reachable", "Reachable", "#2E7D32"),
    ("opted_out", "Opted out", "#6A1B9A"),
    ("no_number", "No number", "#9E9E9E"),
    ("invalid", "Invalid number", "#C62828"),
    ("duplicate", "Duplicate", "#F9A825"),
)


def statuses(frame: pd.DataFrame) -> pd.Series:
    """One exclusive status per contact, the first that applies: opted_out, no_number,
    invalid, duplicate, else reachable (the per-list counts overlap; these add up).

    Example::

        statuses(flags).value_counts()
    """
    out = pd.Series("reachable", index=frame.index, dtype=object)
    out[frame["dup_in_list"]] = "duplicate"
    out[frame["has_phone"] & ~frame["phone_ok"]] = "invalid"
    out[~frame["has_phone"]] = "no_number"
    out[frame["opted_out"]] = "opted_out"
    return out


def lists_figure(lists: pd.DataFrame, frame: pd.DataFrame):
    """Stacked horizontal bars per list: each contact once, as reachable, opted out, no
    number, invalid number or duplicate (:func:`statuses`).

    Example::

        lists_figure(rep.tables["lists"], flags).savefig("lists.png")
    """
    from matplotlib.figure import Figure

    data = lists.iloc[::-1]
    fig = Figure(figsize=(9, 0.5 * max(len(data), 3) + 1.4), layout="constrained")
    ax = fig.add_subplot()
    if len(data):
        counts = pd.crosstab(frame["list_id"], statuses(frame)) if len(frame) else pd.DataFrame()
        counts = counts.reindex(index=data["list_id"], columns=[k for k, _, _ in STATUSES])
        counts = counts.fillna(0)
        labels = [str(x) for x in data["list_name"]]
        left = np.zeros(len(data))
        for key, label, color in STATUSES:
            v = counts[key].astype("float64").to_numpy()
            ax.barh(labels, v, left=left, label=label, color=color)
            left += v
        ax.legend(loc="lower right", frameon=False, fontsize=8)
    else:
        ax.text(0.5, 0.5, "No contact lists", ha="center", transform=ax.transAxes)
    ax.set_title("Contacts per list by reachability")
    ax.set_xlabel("Contacts")
    ax.grid(alpha=0.3, axis="x")
    return fig
