"""Account usage per month, channel and subaccount, months fetched concurrently."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pandas as pd

from csframe import schema, timeutil
from csframe.frames import to_frame
from csframe.loaders.filters import check_columns, check_max_rows, head
from csframe.loaders.message_history import expire_for
from csframe.timeutil import month_range

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


def usage(
    session,
    start=None,
    end=None,
    *,
    currency: str | None = None,
    max_workers: int = 8,
    settle: timedelta = timedelta(days=7),
    columns: list[str] | None = None,
    max_rows: int | None = None,
) -> pd.DataFrame:
    """Usage per month x channel x subaccount, months ``start``..``end`` inclusive.

    Months are fetched concurrently. ``count`` is what the API bills (SMS parts, emails,
    pages); ``price`` is in the account currency (``df.attrs["currency"]``). ``columns``:
    only those; ``max_rows``: the first rows in month order, months fetched ``max_workers``
    at a time until that many are in. The endpoint cannot search or sort (no ``q``,
    ``operator``, ``order_by``).

    Example::

        usage(session, "2026-01", "2026-03", columns=["month", "channel", "price"])
    """
    columns = check_columns(schema.USAGE, columns)
    max_rows = check_max_rows(max_rows)
    months = month_range(start, end)
    now = timeutil.now_utc()

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

    # all months at once, or with max_rows a batch of months at a time, in month order
    batch = len(months) if max_rows is None else max(1, max_workers)
    records: list[dict] = []
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(months)))) as pool:
        for i in range(0, len(months), batch):
            for part in pool.map(fetch, months[i : i + batch]):
                records.extend(part)
            if max_rows is not None and len(records) >= max_rows:
                break
    df = to_frame(records[:max_rows], schema.USAGE, currency=currency)
    # Every channel the API knows is a category, also when a month had no traffic on it.
    channels = list(dict.fromkeys([*USAGE_CHANNELS, *df["channel"].dropna().unique()]))
    df["channel"] = df["channel"].cat.set_categories(channels)
    return head(df, columns, None)


def _usage_channels(data: dict) -> list[str]:
    # Channel lists are the keys holding lists; *_total and _currency are summaries.
    return [k for k, v in (data or {}).items() if isinstance(v, list) and not k.startswith("_")]
