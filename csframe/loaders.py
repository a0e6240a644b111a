"""Loaders: API resources to typed DataFrames (one function per resource family).

Each loader validates its arguments before any request, fetches through the paging
engine, and builds the frame once with :func:`csframe.frames.to_frame`. The cache policy
follows the data: a window that closed more than ``settle`` ago (delivery receipts keep
changing statuses for days) is cached for a long time; open windows expire in minutes.

Loaders take an :class:`~csframe.session.ApiSession`; users call them through
:class:`csframe.Client` (``cs.history(...)``, ``cs.usage(...)``).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pandas as pd

from csframe import schema
from csframe.frames import to_frame
from csframe.paging import check_limit, iter_pages
from csframe.timeutil import month_range, now_utc, parse_instant

LONG_EXPIRE = timedelta(days=30)
SHORT_EXPIRE = timedelta(minutes=5)

# channel -> registered history resource. Later channels register here.
HISTORY = {"sms": schema.SMS_HISTORY}

USAGE_CHANNELS = (
    "sms",
    "mms",
    "voice",
    "fax",
    "post",
    "email",
    "email_transactional",
    "postcards",
)


def expire_for(window_end: pd.Timestamp, settle: timedelta, now: pd.Timestamp | None = None):
    """Long expiry for windows that closed more than ``settle`` ago, short otherwise."""
    now = now or now_utc()
    return LONG_EXPIRE if window_end < now - settle else SHORT_EXPIRE


def history_params(start, end, *, now: pd.Timestamp | None = None) -> dict:
    """``date_from`` / ``date_to`` for the half-open window ``[start, end)``.

    The API's bounds are inclusive Unix seconds, so ``date_to`` is ``end - 1 s``, and it is
    pinned to "now" at load start so rows arriving during the load cannot shift pages.
    """
    now = now or now_utc()
    params: dict = {}
    t0 = parse_instant(start, "start") if start is not None else None
    t1 = parse_instant(end, "end") if end is not None else None
    if t0 is not None and t1 is not None and t0 >= t1:
        raise ValueError(f"start ({t0}) must be before end ({t1}); the window is [start, end)")
    if t0 is not None:
        params["date_from"] = int(t0.timestamp())
    last = int(now.timestamp())
    if t1 is not None:
        last = min(last, int(t1.timestamp()) - 1)
    params["date_to"] = last
    return params


def _resource_for(channel: str) -> schema.Resource:
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
    resource = _resource_for(channel)
    buffer: list[dict] = []
    pages = 0
    for records in _iter_records(session, channel, start, end, **kw):
        buffer.extend(records)
        pages += 1
        if pages >= chunk_pages:
            yield to_frame(buffer, resource, currency=currency)
            buffer, pages = [], 0
    if pages:
        yield to_frame(buffer, resource, currency=currency)


def history(session, channel: str, start=None, end=None, **kw) -> pd.DataFrame:
    """The whole window ``[start, end)`` as one typed frame (see :func:`iter_history`)."""
    currency = kw.pop("currency", None)
    resource = _resource_for(channel)
    records: list[dict] = []
    # One frame built from all records: cheaper than concatenating per-chunk frames.
    for chunk in _iter_records(session, channel, start, end, **kw):
        records.extend(chunk)
    return to_frame(records, resource, currency=currency)


def _iter_records(
    session,
    channel: str,
    start=None,
    end=None,
    *,
    max_workers: int = 8,
    progress: bool | str = False,
    settle: timedelta = timedelta(days=7),
    limit: int = 100,
) -> Iterator[list[dict]]:
    """Validate, pin the window, and yield each page's records in order."""
    resource = _resource_for(channel)
    check_limit(limit)
    now = now_utc()
    params = history_params(start, end, now=now)
    expire = expire_for(pd.Timestamp(params["date_to"], unit="s", tz="UTC"), settle, now)
    yield from iter_pages(
        session,
        resource.path,
        params,
        limit=limit,
        max_workers=max_workers,
        primary_key=resource.primary_key,
        expire_after=expire,
        progress=progress,
        desc=f"{channel} history",
    )


def usage(
    session,
    start=None,
    end=None,
    *,
    currency: str | None = None,
    max_workers: int = 8,
    settle: timedelta = timedelta(days=7),
) -> pd.DataFrame:
    """Usage per month x channel x subaccount, months ``start``..``end`` inclusive.

    Months are fetched concurrently. ``count`` is what the API bills (SMS parts, emails,
    pages); ``price`` is in the account currency (``df.attrs["currency"]``).
    """
    months = month_range(start, end)
    now = now_utc()

    def fetch(month: pd.Timestamp) -> list[dict]:
        month_end = month + pd.DateOffset(months=1)
        data = session.get(
            f"/account/usage/{month.year}/{month.month}/subaccount",
            expire_after=expire_for(month_end, settle, now),
        )
        rows = []
        for channel in _usage_channels(data):
            for item in data.get(channel) or []:
                rows.append(
                    {
                        "month": int(month.timestamp()),
                        "channel": channel,
                        "subaccount_id": item.get("subaccount_id"),
                        "username": item.get("username"),
                        "count": item.get("total_count"),
                        "price": item.get("total_price"),
                    }
                )
        return rows

    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(months)))) as pool:
        parts = list(pool.map(fetch, months))
    records = [row for part in parts for row in part]
    df = to_frame(records, schema.USAGE, currency=currency)
    # Every channel the API knows is a category, also when a month had no traffic on it.
    channels = list(dict.fromkeys([*USAGE_CHANNELS, *df["channel"].dropna().unique()]))
    df["channel"] = df["channel"].cat.set_categories(channels)
    return df


def _usage_channels(data: dict) -> list[str]:
    # Channel lists are the keys holding lists; *_total and _currency are summaries.
    return [k for k, v in (data or {}).items() if isinstance(v, list) and not k.startswith("_")]
