"""Message history for reports: outcome classification and a lean, streaming load.

Reports never need message bodies for their numbers, and a year of history can be a
million rows. :func:`load` therefore reads ``client.iter_history`` chunk by chunk and keeps
only the columns a report asks for (codes as categoricals), so peak memory is one chunk of
full records plus the narrow result -- not a million bodies.

Outcomes (one per message, from the history's status fields):

===========  =============================================================================
delivered    a delivery receipt says delivered: status ``Completed``/``Delivered`` or
             status_code ``201``
failed       status ``Failed``/``Undelivered``/``Rejected``/``Expired``/``Bounced``, or an
             error_code on a message not delivered
cancelled    status ``Cancelled`` (never sent; ClickSend refunds it)
pending      anything else: ``Sent`` (no receipt yet), ``Queued``, ``Scheduled``, ...
===========  =============================================================================

Rates in reports are shares of *sent* messages, i.e. all minus cancelled.

Example::

    from csframe.reports import history
    h = history.load(cs, "sms", "2026-01", "2026-10", columns=("date", "message_price"))
    h["outcome"].value_counts()
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

OUTCOMES = ("delivered", "failed", "pending", "cancelled")
OUTCOME_DTYPE = pd.CategoricalDtype(list(OUTCOMES))

_DELIVERED = {"completed", "delivered"}
_FAILED = {"failed", "undelivered", "rejected", "expired", "bounced"}
_CANCELLED = {"cancelled", "canceled"}
_DELIVERED_CODES = {"201"}

#: Columns turned into categoricals while loading (low cardinality, repeated a lot).
CATEGORY_COLUMNS = (
    "status",
    "status_code",
    "error_code",
    "error_text",
    "country",
    "carrier",
    "_api_username",
    "direction",
)


def _lower_map(series: pd.Series, values: set[str]) -> np.ndarray:
    """``series`` (any dtype) in ``values``, compared case-insensitively; per category
    when categorical, so a million rows cost a few comparisons."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        cats = series.cat.categories
        hit = np.array([str(c).strip().lower() in values for c in cats], dtype=bool)
        # A trailing False: missing values (code -1) index it. Fancy indexing copies, so
        # the result is writable.
        return np.append(hit, False)[series.cat.codes.to_numpy()]
    text = series.astype("str").str.strip().str.lower()
    return text.isin(values).fillna(False).to_numpy(dtype=bool, copy=True)


def outcomes(df: pd.DataFrame) -> pd.Categorical:
    """The outcome of each message (see the module docstring) as a categorical with the
    categories :data:`OUTCOMES`.

    Example::

        >>> df = pd.DataFrame({"status": ["Completed", "Failed", "Sent", "Cancelled"],
        ...                    "status_code": ["201", "301", None, None]})
        >>> list(outcomes(df))
        ['delivered', 'failed', 'pending', 'cancelled']
    """
    n = len(df)
    status = df["status"] if "status" in df else pd.Series([None] * n, dtype="str")
    delivered = _lower_map(status, _DELIVERED)
    if "status_code" in df:
        delivered = delivered | _lower_map(df["status_code"], _DELIVERED_CODES)
    failed = _lower_map(status, _FAILED)
    if "error_code" in df:
        failed = failed | df["error_code"].notna().to_numpy(dtype=bool)
    cancelled = _lower_map(status, _CANCELLED)
    codes = np.full(n, 2, dtype=np.int8)  # pending
    codes[cancelled] = 3
    codes[failed & ~delivered] = 1
    codes[delivered] = 0
    return pd.Categorical.from_codes(codes, dtype=OUTCOME_DTYPE)


def window(start, end) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The half-open instant window ``[first month start, month after last)`` of a report
    period given as months.

    Example::

        >>> window("2026-01", "2026-03")[1]
        Timestamp('2026-04-01 00:00:00+0000', tz='UTC')
    """
    from csframe.reports.usage_cost import period

    first, last = period(start, end)
    return first, last + pd.offsets.MonthBegin(1)


def _lean(chunk: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    if "direction" in chunk:
        d = chunk["direction"]
        keep = ~_lower_map(d, {"in", "inbound"})
        if not keep.all():
            chunk = chunk.loc[keep]
    out = {"outcome": outcomes(chunk)}
    for col in columns:
        if col == "outcome" or col not in chunk:
            continue
        s = chunk[col]
        if col in CATEGORY_COLUMNS and not isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype("category")
        # .array, not .to_numpy(): tz-aware datetimes would become an object array of
        # Timestamps (a Python loop over every row).
        out[col] = s.array
    return pd.DataFrame(out, index=pd.RangeIndex(len(chunk)))


def concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate chunk frames, unifying categoricals (plain ``pd.concat`` would turn
    categoricals whose categories differ between chunks into objects).

    Example::

        concat([a, b])
    """
    frames = [f for f in frames if len(f.columns)]
    if not frames:
        return pd.DataFrame()
    if len(frames) == 1:
        return frames[0].reset_index(drop=True)
    out = {}
    for col in frames[0].columns:
        parts = [f[col] for f in frames]
        if all(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
            out[col] = union_categoricals([p.array for p in parts], ignore_order=True)
        else:
            out[col] = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(out)


def load(
    client,
    channel: str,
    start,
    end,
    *,
    columns: Iterable[str],
    detail: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    chunk_pages: int = 200,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Outbound history of ``channel`` over months ``start``..``end``: a lean frame with an
    ``outcome`` column plus the requested ``columns`` (those the channel has), and
    optionally ``detail(chunk)`` -- full rows picked per chunk (e.g. the failed ones).
    Currency in ``attrs``.

    Example::

        lean, failed = load(cs, "sms", "2026-01", "2026-03", columns=("date", "country"),
                            detail=lambda c: c[outcomes(c) == "failed"])
    """
    t0, t1 = window(start, end)
    columns = tuple(columns)
    lean, picked = [], []
    currency = None
    for chunk in client.iter_history(channel, start=t0, end=t1, chunk_pages=chunk_pages):
        currency = currency or chunk.attrs.get("currency")
        lean.append(_lean(chunk, columns))
        if detail is not None:
            picked.append(detail(chunk))
    frame = concat(lean)
    if not len(frame.columns):  # no chunk at all: the declared empty frame
        frame = _lean(empty_history(channel), columns)
    frame.attrs["currency"] = currency or _currency(client)
    details = None
    if detail is not None:
        details = pd.concat(picked, ignore_index=True) if picked else None
    return frame, details


def empty_history(channel: str) -> pd.DataFrame:
    """An empty history frame with the declared columns and dtypes of ``channel``.

    Example::

        >>> str(empty_history("sms")["date"].dtype)
        'datetime64[s, UTC]'
    """
    from csframe import schema

    resource = schema.REGISTRY.get(f"{channel}_history") or schema.SMS_HISTORY
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in resource.dtypes().items()})


def _currency(client) -> str | None:
    try:
        return client.currency()
    except Exception:  # pragma: no cover - only used to label an empty result
        return None
