"""What :func:`csframe.sync.sync` can keep in a store: one :class:`Target` per store name.

==========================  ========  ===================================================
store (``cs.sync`` name)    layout    how a sync fetches it
==========================  ========  ===================================================
``<channel>_history``       month     one request window per open month (``date_from``/
                                      ``date_to``), written as each month arrives
``<channel>_receipts``,     month     newest first (``order_by=timestamp:desc``), stopping
``sms_inbound``,                      at the first page older than the oldest open month;
``recharge_transactions``             everything on the first sync
``usage``                   month     the open months' usage (one request per month)
``sms_statistics``,         month     the API's last 30 days, merged by day into the months
``voice_statistics``                  they cover
``lists``, ``contacts``,    snapshot  the whole resource, as the snapshot of today (UTC)
``subaccounts``,
``<kind>_campaigns``,
``email_campaign_history``,
``account``
==========================  ========  ===================================================

Example::

    from csframe.sync_targets import target
    target("sms").name, target("contacts").layout       # ('sms_history', 'snapshot')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from csframe import loaders, schema, timeutil
from csframe.loaders import paged
from csframe.session import SessionOwner

if TYPE_CHECKING:  # for annotations only
    from csframe.timeutil import Instant


class Source(SessionOwner, Protocol):
    """What a sync uses of a :class:`csframe.Client` (``cs.sync(...)`` calls into this
    layer, so it is typed against this, not against ``Client``)."""

    @property
    def settle(self) -> timedelta: ...
    @property
    def requests_sent(self) -> int: ...
    def currency(self) -> str | None: ...
    def get(self, path: str, **params: Any) -> Any: ...
    def history(
        self,
        channel: str = ...,
        start: Instant | None = ...,
        end: Instant | None = ...,
        **kw: Any,
    ) -> pd.DataFrame: ...
    def usage(
        self, start: Instant | None = ..., end: Instant | None = ..., **filters: Any
    ) -> pd.DataFrame: ...
    def statistics(self, channel: str = ..., **filters: Any) -> pd.DataFrame: ...
    def campaigns(self, kind: str = ..., **filters: Any) -> pd.DataFrame: ...
    def campaign_history(self, email_campaign_id: int, **filters: Any) -> pd.DataFrame: ...
    def lists(self, **filters: Any) -> pd.DataFrame: ...
    def contacts(
        self, list_id: int | None = ..., updated_after: Instant | None = ..., **filters: Any
    ) -> pd.DataFrame: ...
    def subaccounts(self, **filters: Any) -> pd.DataFrame: ...


#: A month target's loader: ``load(client, since, until)`` -> rows with a time at or after
#: ``since`` (every row when None) up to ``until``.
MonthLoad = Callable[[Source, "pd.Timestamp | None", "pd.Timestamp | None"], pd.DataFrame]
#: A snapshot target's loader: ``load(client)`` -> the whole resource now.
SnapshotLoad = Callable[[Source], pd.DataFrame]


@dataclass(frozen=True)
class Target:
    """One syncable store: its name, the registry resource it holds, its layout, and how
    to fetch it.

    ``per_month``: ``load`` is called once per open month (history); otherwise once per
    sync from the oldest open month on, and the rows are split by month. ``first_month``:
    the first month of a new store (None: the month of the oldest row loaded). ``merge``:
    the loader sees only recent rows (statistics), so a month's new rows are merged by
    primary key with the rows already stored.
    """

    name: str
    resource: schema.Resource
    layout: str
    load: Any  # MonthLoad or SnapshotLoad, per layout
    per_month: bool = False
    first_month: Callable[[Source], pd.Timestamp | None] | None = None
    merge_key: str | None = None

    @property
    def time_field(self) -> str | None:
        return self.resource.time_field


def oldest_month(client: Source, resource: schema.Resource) -> pd.Timestamp:
    """The month of the oldest row of a history resource (one small request)."""
    field = resource.time_field
    block = client.get(resource.path, page=1, limit=15, order_by=f"{field}:asc")
    rows = (block or {}).get("data") or []
    if not rows or rows[0].get(field) in (None, ""):
        return timeutil.parse_month(timeutil.now_utc(), "start")
    first = pd.Timestamp(int(float(rows[0][field])), unit="s", tz="UTC")
    return timeutil.parse_month(first, "start")


def _history(channel: str) -> Target:
    resource = loaders.HISTORY[channel]

    def load(client: Source, since: pd.Timestamp | None, until: pd.Timestamp | None):
        return client.history(channel, start=since, end=until)

    return Target(
        resource.name,
        resource,
        "month",
        load,
        per_month=True,
        first_month=lambda client: oldest_month(client, resource),
    )


def _since(resource: schema.Resource) -> Target:
    def load(client: Source, since: pd.Timestamp | None, until: pd.Timestamp | None):
        df = paged.load_since(
            client.session,
            resource,
            since,
            currency=client.currency(),
            max_workers=client.max_workers,
            progress=client.progress,
        )
        return df

    return Target(resource.name, resource, "month", load)


def _usage() -> Target:
    def load(client: Source, since: pd.Timestamp | None, until: pd.Timestamp | None):
        return client.usage(since, until)

    def first(client: Source) -> pd.Timestamp:
        # usage has no "oldest" query: a new store starts with the loader's default year
        return timeutil.month_range(None, None)[0]

    return Target("usage", schema.USAGE, "month", load, first_month=first)


def _statistics(channel: str) -> Target:
    def load(client: Source, since: pd.Timestamp | None, until: pd.Timestamp | None):
        return client.statistics(channel)

    return Target(f"{channel}_statistics", schema.STATISTICS, "month", load, merge_key="date")


def _snapshot(resource: schema.Resource, load: SnapshotLoad) -> Target:
    return Target(resource.name, resource, "snapshot", load)


def _campaigns(kind: str) -> Target:
    def load(client: Source) -> pd.DataFrame:
        return client.campaigns(kind)

    return _snapshot(paged.CAMPAIGNS[kind], load)


def email_campaign_history(client: Source) -> pd.DataFrame:
    """The per-recipient history of every email campaign, one frame."""
    ids = client.campaigns("email", columns=["email_campaign_id"])["email_campaign_id"]
    parts = []
    for cid in ids.dropna().astype(int):
        part = client.campaign_history(int(cid))
        part["email_campaign_id"] = pd.array([int(cid)] * len(part), dtype="Int64")
        parts.append(part)
    return typed_concat(parts, schema.EMAIL_CAMPAIGN_HISTORY)


def typed_concat(parts: list[pd.DataFrame], resource: schema.Resource) -> pd.DataFrame:
    """Frames of one resource as one, with the registry's dtypes (``pd.concat`` turns
    categoricals with different categories into objects)."""
    from csframe.frames import empty_frame

    if not parts:
        return empty_frame(resource)
    df = pd.concat(parts, ignore_index=True)
    return df.astype({c: t for c, t in resource.dtypes().items() if c in df.columns})


def _all() -> dict[str, Target]:
    out = [_history(channel) for channel in loaders.HISTORY]
    out += [_since(r) for r in paged.RECEIPTS.values()]
    out += [_since(schema.SMS_INBOUND), _since(schema.RECHARGE_TRANSACTIONS), _usage()]
    out += [_statistics(channel) for channel in paged.STATISTICS_CHANNELS]
    out += [_campaigns(kind) for kind in paged.CAMPAIGNS]
    out += [
        _snapshot(schema.EMAIL_CAMPAIGN_HISTORY, email_campaign_history),
        _snapshot(schema.LISTS, lambda client: client.lists()),
        _snapshot(schema.CONTACTS, lambda client: client.contacts()),
        _snapshot(schema.SUBACCOUNTS, lambda client: client.subaccounts()),
        _snapshot(
            schema.ACCOUNT,
            lambda client: paged.account_frame(client.session, currency=client.currency()),
        ),
    ]
    return {t.name: t for t in out}


#: Every syncable store, by name; ``csframe sync all`` syncs them all.
TARGETS: dict[str, Target] = _all()
#: Short names: a history channel (``"sms"``) means its history, as ``cs.history`` has it.
ALIASES: dict[str, str] = {channel: r.name for channel, r in loaders.HISTORY.items()}


def target(name: str) -> Target:
    """The target called ``name`` (a store name or a history channel); a ValueError
    lists the names.

    Example::

        target("voice_receipts").layout    # 'month'
    """
    key = name.strip().lower() if isinstance(name, str) else name
    key = ALIASES.get(key, key)
    if key not in TARGETS:
        hint = " (statistics are per channel)" if key == "statistics" else ""
        raise ValueError(
            f"resource must be one of {', '.join(sorted([*TARGETS, *ALIASES]))}{hint}; got {name!r}"
        )
    return TARGETS[key]
