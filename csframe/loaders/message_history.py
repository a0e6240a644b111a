"""Message history of every channel: windows, concurrent pages, columnar frames.

The cache policy follows the data: a window that closed more than ``settle`` ago
(delivery receipts keep changing statuses for days) no longer changes, so its parsed
table is kept in the frame cache (:mod:`csframe.framecache`) and read from there by later
loads; its pages skip the HTTP cache. Open windows, and windows closed more recently,
go through the HTTP cache and expire in minutes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from csframe import schema, timeutil
from csframe.frames import POOL, pages_table, table_to_frame
from csframe.loaders.filters import (
    check_columns,
    check_max_rows,
    chunk_pages_for,
    collect,
    filter_params,
    parse_order_by,
)
from csframe.paging import _last_page, check_limit, iter_raw_pages
from csframe.session import NO_CACHE
from csframe.timeutil import parse_instant

LONG_EXPIRE = timedelta(days=30)
SHORT_EXPIRE = timedelta(minutes=5)
# Pages parsed at a time by history(): a parse's transient memory is several times its
# bodies, and the allocator keeps what it once held (25 rather than 100: peak RSS about
# 0.5x the frame less at 100,000 rows, no slower; bench/history_load.py).
CHUNK_PAGES = 25

# channel -> registered history resource
HISTORY = {
    "sms": schema.SMS_HISTORY,
    "mms": schema.MMS_HISTORY,
    "voice": schema.VOICE_HISTORY,
    "email": schema.EMAIL_HISTORY,
    "fax": schema.FAX_HISTORY,
    "letter": schema.LETTER_HISTORY,
    "postcard": schema.POSTCARD_HISTORY,
}


def expire_for(window_end: pd.Timestamp, settle: timedelta, now: pd.Timestamp | None = None):
    """Long expiry for windows that closed more than ``settle`` ago, short otherwise."""
    now = now or timeutil.now_utc()
    return LONG_EXPIRE if window_end < now - settle else SHORT_EXPIRE


def history_params(start, end, *, now: pd.Timestamp | None = None, tz: str | None = None) -> dict:
    """``date_from`` / ``date_to`` for the half-open window ``[start, end)``.

    The API's bounds are inclusive Unix seconds, so ``date_to`` is ``end - 1 s``, and it is
    pinned to "now" at load start so rows arriving during the load cannot shift pages.
    ``tz``: the zone that dates without a time are midnight in (default UTC).
    """
    now = now or timeutil.now_utc()
    params: dict = {}
    t0 = parse_instant(start, "start", tz) if start is not None else None
    t1 = parse_instant(end, "end", tz) if end is not None else None
    if t0 is not None and t1 is not None and t0 >= t1:
        raise ValueError(f"start ({t0}) must be before end ({t1}); the window is [start, end)")
    if t0 is not None:
        params["date_from"] = int(t0.timestamp())
    last = int(now.timestamp())
    if t1 is not None:
        last = min(last, int(t1.timestamp()) - 1)
    params["date_to"] = last
    return params


def account_tz(session) -> str:
    """The account's time zone (``/account`` ``timezone``, cached for an hour), UTC when
    it has none or one this machine does not know."""
    import zoneinfo

    data = session.get("/account", expire_after=timedelta(hours=1)) or {}
    name = data.get("timezone") if isinstance(data, dict) else None
    try:
        return str(zoneinfo.ZoneInfo(str(name)).key) if name else "UTC"
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return "UTC"


def history_resource(channel: object) -> schema.Resource:
    """The registry resource of ``channel``'s history; a ValueError naming the channels."""
    if not isinstance(channel, str) or channel.lower() not in HISTORY:
        raise ValueError(f"channel must be one of {', '.join(sorted(HISTORY))}; got {channel!r}")
    return HISTORY[channel.lower()]


def iter_history(
    session,
    channel: str,
    start=None,
    end=None,
    *,
    currency: str | None = None,
    chunk_pages: int = 50,
    **kw,
) -> Iterator[pd.DataFrame]:
    """Lazy twin of :func:`history`: yields typed frames of ``chunk_pages`` pages each,
    for windows larger than memory."""
    resource = history_resource(channel)
    columns = check_columns(resource, kw.pop("columns", None))
    rows = chunk_pages * kw.get("limit", 100)
    for table in _iter_tables(session, channel, start, end, chunk_pages=chunk_pages, **kw):
        # a window from the frame cache is one table: cut it to chunk_pages' worth of rows
        for offset in range(0, max(table.num_rows, 1), rows):
            part = table.slice(offset, rows)
            yield table_to_frame(part, resource, currency=currency, columns=columns)


def history(session, channel: str, start=None, end=None, **kw) -> pd.DataFrame:
    """The whole window ``[start, end)`` as one typed frame (see :func:`iter_history`).

    Pages are parsed in Arrow a chunk at a time (never all pages' bytes at once), the
    chunks concatenated without copying, and the frame built once at the end.
    """
    currency = kw.pop("currency", None)
    resource = history_resource(channel)
    columns = check_columns(resource, kw.pop("columns", None))
    max_rows = check_max_rows(kw.pop("max_rows", None))
    order = kw.get("order_by")
    chunk_pages = chunk_pages_for(max_rows, kw.get("limit", 100), CHUNK_PAGES)
    # The last window's frame-cache write waits until the frame is built: the writer's
    # buffers on top of the table and the frame at once were the load's peak (RSS 0.1-0.3x
    # the frame at 100,000 rows; bench/history_load.py). Then the table is gone.
    built = threading.Event()
    try:
        chunks = _iter_tables(
            session, channel, start, end, chunk_pages=chunk_pages, last_written_after=built, **kw
        )
        table = collect(chunks, columns, max_rows)
        df = table_to_frame(table, resource, currency=currency, columns=columns)
        del table
    finally:
        built.set()
    if order is not None:
        # windows come in time order, each sorted by the API: make the order global
        field, direction = parse_order_by(resource, order)
        if field in df.columns and (field != resource.time_field or direction == "desc"):
            df = df.sort_values(field, ascending=direction == "asc", kind="stable")
            df = df.reset_index(drop=True)
    return df


def plan_windows(
    date_from: int | None,
    date_to: int,
    first: int | None = None,
    *,
    total: int | None = None,
    limit: int = 100,
) -> list[dict]:
    """Split ``[date_from, date_to]`` (inclusive Unix seconds) into calendar-aligned windows.

    Aligned windows give stable request URLs: a month that has closed is requested with the
    same ``date_from``/``date_to`` every time, so it comes from the cache on every later
    load, and only the open window goes back to the API. Ranges spanning two months or more
    are split by month. Shorter ranges are split by day only when ``total`` (a count probe)
    says the days are dense enough (4+ pages a day on average) for the extra first page of
    each window to be worth it; otherwise they stay whole. ``first`` (the oldest record's
    time) bounds an open start.

    Example::

        >>> len(plan_windows(1767225600, 1774915199))   # 2026-01-01 .. 2026-03-30
        3
    """
    lo = date_from if date_from is not None else first
    if lo is None or lo > date_to:
        return [_window(date_from, date_to)]
    t0 = pd.Timestamp(lo, unit="s", tz="UTC")
    t1 = pd.Timestamp(date_to, unit="s", tz="UTC")
    days = (t1.normalize() - t0.normalize()).days + 1
    if (t1.year - t0.year) * 12 + t1.month - t0.month >= 1:
        edges = pd.date_range(t0.normalize().replace(day=1), t1, freq="MS")
    elif days >= 2 and total is not None and total / limit / days >= 4:
        edges = pd.date_range(t0.normalize(), t1, freq="D")
    else:
        return [_window(date_from, date_to)]
    bounds = [int(e.timestamp()) for e in edges[1:]]
    starts = [date_from, *bounds]
    ends = [b - 1 for b in bounds] + [date_to]
    return [_window(a, b) for a, b in zip(starts, ends, strict=True)]


def _spans_one_month(params: dict) -> bool:
    t0 = pd.Timestamp(params["date_from"], unit="s", tz="UTC")
    t1 = pd.Timestamp(params["date_to"], unit="s", tz="UTC")
    return (t1.year - t0.year) * 12 + t1.month - t0.month == 0 and t1 - t0 >= pd.Timedelta(days=1)


def _total(body: bytes) -> int:
    return int((orjson.loads(body).get("data") or {}).get("total") or 0)


def _window(date_from: int | None, date_to: int) -> dict:
    return (
        {"date_to": date_to} if date_from is None else {"date_from": date_from, "date_to": date_to}
    )


def _first_time(
    session, resource: schema.Resource, date_to: int, search: dict | None = None
) -> int | None:
    """The time of the oldest record up to ``date_to`` (one small request), or None."""
    block = session.get(
        resource.path,
        {
            **(search or {}),
            "page": 1,
            "limit": 15,
            "date_to": date_to,
            "order_by": f"{resource.time_field}:asc",
        },
        expire_after=SHORT_EXPIRE,
    )
    rows = (block or {}).get("data") or []
    if not rows:
        return None
    try:
        return int(float(rows[0][resource.time_field]))
    except (KeyError, TypeError, ValueError):
        return None


def _iter_tables(
    session,
    channel: str,
    start=None,
    end=None,
    *,
    chunk_pages: int = 50,
    max_workers: int = 8,
    progress: bool | str = False,
    settle: timedelta = timedelta(days=7),
    limit: int = 100,
    tz: str | None = None,
    q=None,
    operator: str | None = None,
    order_by=None,
    last_written_after: threading.Event | None = None,
) -> Iterator[pa.Table]:
    """Validate, pin the window, split it into calendar windows, fetch every window's pages
    concurrently under one pool, and yield one Arrow table per ``chunk_pages`` pages, in
    time order, without repeated primary keys. Dates without a time (``"2026-03-01"``)
    are midnight in ``tz``: UTC by default, ``"account"`` for the account's time zone
    (``/account`` ``timezone``), or an IANA name. ``last_written_after``: the last window's
    frame-cache write waits for it (see :meth:`~csframe.framecache.FrameCache.put`)."""
    resource = history_resource(channel)
    check_limit(limit)
    if not isinstance(chunk_pages, int) or chunk_pages < 1:
        raise ValueError(f"chunk_pages must be a positive integer, got {chunk_pages!r}")
    search = filter_params(resource, q, operator, order_by)  # before any request
    now = timeutil.now_utc()
    local = tz if tz != "account" else None
    params = history_params(start, end, now=now, tz=local)  # bad bounds fail before a request
    if tz == "account" and (timeutil.is_date_only(start) or timeutil.is_date_only(end)):
        params = history_params(start, end, now=now, tz=account_tz(session))
    first = probe = None
    if "date_from" not in params:
        where = {k: v for k, v in search.items() if k != "order_by"}
        first = _first_time(session, resource, params["date_to"], where)
    elif _spans_one_month(params):
        # Count probe: page 1 of the whole range tells whether days are worth splitting;
        # when they are not, it is the first page of the single window and is not wasted.
        probe = session.get_raw(resource.path, {**params, **search, "page": 1, "limit": limit})
    total = _total(probe) if probe is not None else None
    windows = plan_windows(
        params.get("date_from"), params["date_to"], first, total=total, limit=limit
    )

    def closed(window: dict) -> bool:
        return pd.Timestamp(window["date_to"] + 1, unit="s", tz="UTC") < now - settle

    # Closed windows come from the frame cache when it has them; the others are fetched,
    # and those that are closed are written to it (their pages skip the HTTP cache).
    # A kept window is read only when its turn comes, so a stream holds one month at a
    # time, not every cached month at once.
    frames = getattr(session, "frames", None)
    cached = set()
    if frames is not None:
        cached = {
            i for i, w in enumerate(windows) if closed(w) and frames.has(resource.name, w, search)
        }
    fetch = [w for i, w in enumerate(windows) if i not in cached]

    def expire(window: dict):
        if frames is not None and closed(window):
            return NO_CACHE
        return expire_for(pd.Timestamp(window["date_to"] + 1, unit="s", tz="UTC"), settle, now)

    def pages_of(windows: list[dict], first_body: bytes | None = None) -> Iterator[bytes]:
        return iter_raw_pages(
            session,
            resource.path,
            params=search,
            windows=windows,
            limit=limit,
            max_workers=max_workers,
            expire_after=expire,
            progress=progress,
            desc=f"{channel} history",
            first_body=first_body,
        )

    def kept(window: dict) -> list[pa.Table]:
        table = frames.get(resource.name, window, search) if frames is not None else None
        if table is not None:
            return [table]
        # its file went bad (or away) since the plan: fetch that window now, keep it again
        tables = [t for _, t in window_tables(pages_of([window]), resource, chunk_pages)]
        if frames is not None:
            frames.put(resource.name, window, search, tables)
        return tables

    first_body = probe if len(windows) == 1 and not cached else None
    fetched = window_tables(pages_of(fetch, first_body), resource, chunk_pages)
    current = next(fetched, None) if fetch else None
    position = 0  # index in ``fetch`` of the window being fetched
    empty: pa.Table | None = None  # tables without rows (empty windows) are not yielded...
    yielded = False
    for i, window in enumerate(windows):
        if i in cached:
            for table in kept(window):
                if table.num_rows:
                    yielded = True
                    yield table
                else:
                    empty = table
            continue
        keep = frames is not None and closed(window)
        parts = []
        while current is not None and current[0] == position:
            table = current[1]
            if table.num_rows:
                yielded = True
                yield table
            else:
                empty = table
            if keep:
                parts.append(table)
            current = next(fetched, None)
        # the whole window went by: cache it (not when the caller stopped early)
        if keep and frames is not None:
            last = i == len(windows) - 1
            frames.put(
                resource.name, window, search, parts, after=last_written_after if last else None
            )
        position += 1
    if not yielded and empty is not None:
        yield empty  # ...unless there is nothing else: an empty load has one empty table


def window_tables(
    pages: Iterator[bytes], resource: schema.Resource, chunk_pages: int
) -> Iterator[tuple[int, pa.Table]]:
    """``(window index, table)`` for the pages of consecutive windows (as
    :func:`~csframe.paging.iter_raw_pages` yields them: each window's page 1 says how many
    pages it has), ``chunk_pages`` pages per table at most, no table spanning two windows,
    repeated primary keys dropped (see :class:`_Deduper`)."""
    dedupe = _Deduper(resource.primary_key)

    def parse(bodies: list[bytes]) -> pa.Table:
        return dedupe(pages_table(bodies, resource))

    bodies: list[bytes] = []
    window, left = -1, 0
    for body in pages:
        if left == 0:  # page 1 of the next window
            if bodies:
                yield window, parse(bodies)
                bodies = []
            window, left = window + 1, _last_page(body, resource.path)  # as paging counts
        bodies.append(body)
        left -= 1
        if len(bodies) >= chunk_pages:
            yield window, parse(bodies)
            bodies = []
    if bodies:
        yield window, parse(bodies)


def chunked_tables(
    pages: Iterator[bytes], resource: schema.Resource, chunk_pages: int
) -> Iterator[pa.Table]:
    """Parse page bodies ``chunk_pages`` at a time into Arrow tables, in order, dropping
    repeated primary keys (see :class:`_Deduper`)."""
    dedupe = _Deduper(resource.primary_key)
    bodies: list[bytes] = []
    for body in pages:
        bodies.append(body)
        if len(bodies) >= chunk_pages:
            yield dedupe(pages_table(bodies, resource))
            bodies = []
    if bodies:
        yield dedupe(pages_table(bodies, resource))


class _Deduper:
    """Drops rows whose primary key was already seen in this chunk or the previous one.

    With ``date_to`` pinned, offset pages only shift when rows appear or vanish inside the
    window (late-arriving or deleted messages); a shifted row then shows up again on the
    next page, so comparing with the previous chunk suffices, at 8 bytes per row.
    """

    def __init__(self, key: str | None) -> None:
        self.key = key
        self.previous = np.empty(0, dtype="uint64")

    def __call__(self, table: pa.Table) -> pa.Table:
        if self.key is None or self.key not in table.column_names or table.num_rows == 0:
            return table
        ids = table.column(self.key).to_numpy(zero_copy_only=False)
        hashes = pd.util.hash_array(ids.astype(object), categorize=False)
        dup = pd.Series(hashes).duplicated().to_numpy() | np.isin(hashes, self.previous)
        self.previous = hashes
        return pc.filter(table, pa.array(~dup), memory_pool=POOL) if dup.any() else table
