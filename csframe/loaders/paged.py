"""Paginated resources other than history: receipts, inbound, campaigns, contacts, ...

All go through one function, :func:`load`, which fetches every page concurrently and
builds the typed frame in Arrow; resources that cannot be filtered by time on the server
(receipts, inbound) are filtered on the client after loading.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa

from csframe import schema
from csframe.frames import table_to_frame, to_frame
from csframe.loaders.filters import (
    check_columns,
    check_max_rows,
    chunk_pages_for,
    collect,
    head,
)
from csframe.loaders.message_history import SHORT_EXPIRE, chunked_tables
from csframe.paging import check_limit, iter_raw_pages, page_block
from csframe.timeutil import parse_instant

log = logging.getLogger(__name__)

RECEIPTS = {
    "sms": schema.SMS_RECEIPTS,
    "voice": schema.VOICE_RECEIPTS,
    "fax": schema.FAX_RECEIPTS,
}
CAMPAIGNS = {
    "sms": schema.SMS_CAMPAIGNS,
    "mms": schema.MMS_CAMPAIGNS,
    "email": schema.EMAIL_CAMPAIGNS,
}
STATISTICS_CHANNELS = ("sms", "voice")


def choose(mapping: dict, value: str, name: str):
    """``mapping[value]`` or a ValueError listing the allowed values of argument ``name``."""
    key = value.lower() if isinstance(value, str) else value
    if key not in mapping:
        raise ValueError(f"{name} must be one of {', '.join(sorted(mapping))}; got {value!r}")
    return mapping[key]


def iter_tables(
    session,
    resource: schema.Resource,
    *,
    path: str | None = None,
    params: dict | None = None,
    max_workers: int = 8,
    progress: bool | str = False,
    limit: int = 100,
    expire_after=SHORT_EXPIRE,
    chunk_pages: int = 100,
) -> Generator[pa.Table, None, None]:
    """Arrow tables of ``chunk_pages`` pages each, in page order, keys de-duplicated."""
    check_limit(limit)
    pages = iter_raw_pages(
        session,
        path or resource.path,
        params,
        limit=limit,
        max_workers=max_workers,
        expire_after=expire_after,
        progress=progress,
        desc=resource.name,
    )
    yield from chunked_tables(pages, resource, chunk_pages)


def load(
    session,
    resource: schema.Resource,
    *,
    currency: str | None = None,
    search: dict | None = None,
    columns: list[str] | None = None,
    max_rows: int | None = None,
    **kw,
) -> pd.DataFrame:
    """Every page of ``resource`` as one typed frame (the session has removed secrets).

    ``search``: validated ``q``/``operator``/``order_by`` parameters
    (:func:`csframe.loaders.filters.filter_params`); ``columns``: keep only those, as each
    chunk is parsed; ``max_rows``: stop fetching once that many rows are in (API order).
    """
    params = {**(kw.pop("params", None) or {}), **(search or {})}
    chunk_pages = chunk_pages_for(max_rows, kw.get("limit", 100), kw.pop("chunk_pages", 100))
    chunks = iter_tables(session, resource, params=params or None, chunk_pages=chunk_pages, **kw)
    table = collect(chunks, columns, max_rows)
    return table_to_frame(table, resource, currency=currency, columns=columns)


def load_since(
    session,
    resource: schema.Resource,
    since: pd.Timestamp | None = None,
    *,
    currency: str | None = None,
    max_workers: int = 8,
    progress: bool | str = False,
    limit: int = 100,
) -> pd.DataFrame:
    """The rows of ``resource`` whose time field is at or after ``since`` (all rows when
    None), oldest first, for resources the API cannot window by time (receipts, inbound,
    recharge transactions): pages are read newest first (``order_by=<time>:desc``) and the
    fetch stops at the first page wholly older than ``since`` (every page, when the API
    answers oldest first: it ignored the sort).

    Example::

        recent = load_since(session, schema.SMS_RECEIPTS, pd.Timestamp("2026-11-01", tz="UTC"))
    """
    field = resource.time_field
    if field is None:
        raise ValueError(f"{resource.name} has no time field to load since")
    if since is None:
        df = load(
            session,
            resource,
            currency=currency,
            max_workers=max_workers,
            progress=progress,
            limit=limit,
        )
        return df.sort_values(field, kind="stable", ignore_index=True)
    pages = _newest_first(session, resource, limit, max_workers)
    tables = []
    for table in chunked_tables(pages, resource, chunk_pages=1):
        times = table.column(field).to_pandas().dropna()
        if len(times) > 1 and times.iloc[0] < times.iloc[-1]:
            # oldest first: the API ignored the sort, and stopping early would miss rows
            pages.close()
            log.warning(
                "%s: order_by=%s:desc not applied; reading every page", resource.name, field
            )
            df = load_since(
                session, resource, None, currency=currency, max_workers=max_workers, limit=limit
            )
            return df[(df[field] >= since).fillna(False)].reset_index(drop=True)
        tables.append(table)
        # Stop at the first page wholly older than ``since``: the API may sort on a field
        # close to, not equal to, the time field (receipts by send time), so a page that
        # only reaches back past it can be followed by rows still inside.
        if len(times) and times.max() < since:
            pages.close()  # the pages already asked for are done; no more are asked
            break
    table = pa.concat_tables(tables, promote_options="permissive") if tables else pa.table({})
    df = table_to_frame(table, resource, currency=currency)
    df = df[(df[field] >= since).fillna(False)]
    # newest first reversed: the API's ascending order (ties keep their relative order)
    return df.iloc[::-1].sort_values(field, kind="stable", ignore_index=True)


def _newest_first(
    session, resource: schema.Resource, limit: int, max_workers: int
) -> Generator[bytes, None, None]:
    """Page bodies of ``resource`` newest first, ``max_workers`` pages at a time, so a
    consumer that stops early has caused at most ``max_workers - 1`` extra requests (the
    paging engine's prefetch would ask for many more)."""
    params = {"order_by": f"{resource.time_field}:desc", "limit": limit}

    def fetch(page: int) -> bytes:
        return session.get_raw(resource.path, {**params, "page": page}, expire_after=SHORT_EXPIRE)

    first = fetch(1)
    yield first
    last = int((page_block(orjson.loads(first)) or {}).get("last_page") or 1)
    workers = max(1, max_workers)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="csframe-page") as pool:
        for low in range(2, last + 1, workers):
            yield from pool.map(fetch, range(low, min(low + workers, last + 1)))


def account_frame(session, *, currency: str | None = None) -> pd.DataFrame:
    """``/account`` as a one-row frame of :data:`csframe.schema.ACCOUNT` (``currency`` is
    the account's currency code).

    Example::

        account_frame(session)["balance"].iloc[0]
    """
    data = dict(session.get("/account", expire_after=SHORT_EXPIRE) or {})
    cur = data.get("_currency")
    data["currency"] = cur.get("currency_name_short") if isinstance(cur, dict) else None
    record = {c: data.get(c) for c in schema.ACCOUNT.column_names}
    return to_frame([record], schema.ACCOUNT, currency=currency or data["currency"])


def check_window(start=None, end=None) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """``(start, end)`` parsed as UTC instants; raises ValueError naming a bad one, or
    when ``start`` is not before ``end``."""
    t0 = parse_instant(start, "start") if start is not None else None
    t1 = parse_instant(end, "end") if end is not None else None
    if t0 is not None and t1 is not None and t0 >= t1:
        raise ValueError(f"start ({t0}) must be before end ({t1}); the window is [start, end)")
    return t0, t1


def between(df: pd.DataFrame, column: str, start=None, end=None) -> pd.DataFrame:
    """Rows with ``start <= df[column] < end`` (client-side window), index reset."""
    t0, t1 = check_window(start, end)
    mask = pd.Series(True, index=df.index)
    if t0 is not None:
        mask &= df[column] >= t0
    if t1 is not None:
        mask &= df[column] < t1
    out = df[mask.fillna(False)].reset_index(drop=True)
    out.attrs = dict(df.attrs)
    return out


def statistics(
    session,
    channel: str,
    *,
    currency: str | None = None,
    columns: list[str] | None = None,
    max_rows: int | None = None,
) -> pd.DataFrame:
    """``/statistics/{channel}`` as one row per day (counts and prices per direction),
    oldest first; ``columns``: only those; ``max_rows``: the first days. One request: the
    endpoint has no paging, search or sort (no ``q``, ``operator``, ``order_by``).

    Example::

        statistics(session, "sms", columns=["date", "outbound_count"])
    """
    choose(dict.fromkeys(STATISTICS_CHANNELS), channel, "channel")
    columns = check_columns(schema.STATISTICS, columns)
    max_rows = check_max_rows(max_rows)
    data = session.get(f"/statistics/{channel.lower()}", expire_after=timedelta(minutes=5))
    days = (data or {}).get("stats") or (data or {}).get("stat") or []
    rows = []
    for day in days:
        row = {"date": day.get("date")}
        for direction in ("outbound", "inbound", "bounced"):
            part = day.get(direction) or {}
            row[f"{direction}_count"] = part.get("count")
            row[f"{direction}_price"] = part.get("price")
        rows.append(row)
    cur = ((data or {}).get("_currency") or {}).get("currency_name_short") or currency
    df = to_frame(rows, schema.STATISTICS, currency=cur)
    return head(df.sort_values("date", ignore_index=True), columns, max_rows)


def contacts(
    session,
    list_id: int | None = None,
    *,
    updated_after=None,
    max_workers: int = 8,
    progress: bool | str = False,
    search: dict | None = None,
    columns: list[str] | None = None,
    max_rows: int | None = None,
) -> pd.DataFrame:
    """Contacts of one list, or of every list (lists fetched concurrently); ``search``
    (validated ``q``/``operator``/``order_by``) goes to every list's request, ``columns``
    projects each list's chunks as they are parsed. ``max_rows``: the first rows in API
    order (lists in their order, then contacts in theirs); the lists are then read one
    after another (each list's pages concurrently) and the fetch stops once enough are in.

    Example::

        contacts(session, columns=["contact_id", "phone_number"], max_rows=100)
    """
    params: dict = dict(search or {})
    if updated_after is not None:
        params["updated_after"] = int(parse_instant(updated_after, "updated_after").timestamp())
    if list_id is not None:
        ids = [int(_check_id(list_id, "list_id"))]
        names = {}
    else:
        lists = load(session, schema.LISTS, max_workers=max_workers)
        ids = [int(i) for i in lists["list_id"].dropna()]
        names = dict(zip(lists["list_id"].astype("int64"), lists["list_name"], strict=True))

    # list_id and _list_name are kept while loading: they say which list a row is from
    keep = None if columns is None else list(dict.fromkeys([*columns, "list_id", "_list_name"]))

    def one(lid: int, workers: int, cap: int | None = None) -> pa.Table:
        chunks = iter_tables(
            session,
            schema.CONTACTS,
            path=f"/lists/{lid}/contacts",
            params=params,
            max_workers=workers,
            chunk_pages=chunk_pages_for(cap, 100),
        )
        return collect(chunks, keep, cap)

    if max_rows is None:
        with ThreadPoolExecutor(max_workers=max(1, min(len(ids), max_workers // 2 or 1))) as pool:
            parts = list(pool.map(lambda lid: one(lid, max(1, max_workers // 2)), ids))
    else:
        parts, rows = [], 0
        for lid in ids:  # in order, each list's pages concurrently, until enough rows
            parts.append(one(lid, max_workers, max_rows - rows))
            rows += parts[-1].num_rows
            if rows >= max_rows:
                break
    parts = [p for p in parts if p.num_rows]
    table = pa.concat_tables(parts, promote_options="permissive") if parts else pa.table({})
    df = table_to_frame(table, schema.CONTACTS, columns=keep)
    if names and df["_list_name"].isna().any():
        df["_list_name"] = df["_list_name"].fillna(df["list_id"].map(names).astype("str"))
    return df if columns is None else df[columns]


def _check_id(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def campaign_messages(session, sms_campaign_id: int, *, currency=None, **kw) -> pd.DataFrame:
    """The history rows of one SMS campaign, with their receipt and replies.

    A campaign's messages are the SMS sent to its list from its send time on (the
    campaign's ``schedule``, else ``date_added``) within two days; each row gets
    ``receipt_status_code``/``receipt_timestamp`` from the delivery receipts and
    ``replies`` / ``opted_out`` from inbound SMS answering it.
    """
    from csframe.loaders.message_history import history

    cid = _check_id(sms_campaign_id, "sms_campaign_id")
    camp = session.get(f"/sms-campaigns/{cid}", expire_after=SHORT_EXPIRE) or {}
    list_id = camp.get("list_id")
    sent_at: Any = camp.get("schedule") or camp.get("date_added")
    try:
        t0 = pd.Timestamp(int(float(sent_at)), unit="s", tz="UTC")
    except (TypeError, ValueError):
        raise ValueError(f"campaign {cid} has no send time (schedule/date_added)") from None
    rows = history(session, "sms", t0 - pd.Timedelta(minutes=1), t0 + pd.Timedelta(days=2), **kw)
    if list_id is not None:
        rows = rows[rows["list_id"] == int(list_id)].reset_index(drop=True)
    receipts = load(session, RECEIPTS["sms"], max_workers=kw.get("max_workers", 8))
    rec = receipts.drop_duplicates("message_id", keep="last").set_index("message_id")
    rows["receipt_status_code"] = rows["message_id"].map(rec["status_code"]).astype("category")
    rows["receipt_timestamp"] = rows["message_id"].map(rec["timestamp"])
    replies = load(session, schema.SMS_INBOUND, max_workers=kw.get("max_workers", 8))
    by_original = replies.groupby("original_message_id", observed=True)
    rows["replies"] = rows["message_id"].map(by_original.size()).fillna(0).astype("Int64")
    stops = replies[replies["body"].str.strip().str.upper().str.rstrip(".!").isin(_STOP_WORDS)]
    rows["opted_out"] = rows["message_id"].isin(stops["original_message_id"]).astype("boolean")
    rows["sms_campaign_id"] = pd.array([cid] * len(rows), dtype="Int64")
    if currency:
        rows.attrs["currency"] = currency
    return rows


_STOP_WORDS = {"STOP", "STOP ALL", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPT OUT"}
