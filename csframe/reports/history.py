"""Message history for reports: outcome classification and a lean, streaming load.

Reports never need message bodies for their numbers, and a year of history can be a
million rows. :func:`load` therefore reads ``client.iter_history`` chunk by chunk and keeps
only the columns a report asks for (codes as categoricals), or folds each chunk into an
aggregate (``reduce=``), so peak memory is one chunk of full records plus the narrow
result -- not a million bodies.

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

Channels differ in their time, price and unit columns; :data:`HISTORY_SOURCES` says, per
usage channel, where its messages are and how they count, and :func:`lean_history` brings
any channel's frame to the same standard columns.

Example::

    from csframe.reports import history
    h = history.load(cs, "sms", "2026-01", "2026-10", columns=("date", "message_price"))
    h["outcome"].value_counts()
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from csframe.reports.periods import resolve_period

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
    """The half-open instant window ``[first month start, month after last)`` (UTC) of a
    report period given as months; months given as tz-aware month starts are months of
    their own time zone.

    Example::

        >>> window("2026-01", "2026-03")[1]
        Timestamp('2026-04-01 00:00:00+0000', tz='UTC')
    """
    tz = "UTC"
    if isinstance(start, pd.Timestamp) and start.tzinfo is not None:
        tz = str(start.tz)
    return resolve_period(start, end, tz=tz).window


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
    columns: Iterable[str] = (),
    detail: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    reduce: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    read: Iterable[str] | None = None,
    chunk_pages: int = 200,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Outbound history of ``channel`` over months ``start``..``end``: a lean frame with an
    ``outcome`` column plus the requested ``columns`` (those the channel has), and
    optionally ``detail(chunk)`` -- full rows picked per chunk (e.g. the failed ones).
    Currency in ``attrs``.

    ``reduce``: fold each raw chunk into a small aggregate instead (a :mod:`cube
    <csframe.reports.cube>`, as for a store in :func:`csframe.reports.stored.aggregate`)
    and combine the partial ones with the same function, which must accept its own output;
    the result is then ``reduce``'s (``columns`` is not used). A year of messages never
    becomes one frame, only its aggregate does.

    ``read``: the only history columns converted from the pages (plus those an outcome
    needs; those the channel lacks are left out), for ``reduce`` and ``detail`` that use
    few of them; None: all.

    Example::

        lean, failed = load(cs, "sms", "2026-01", "2026-03", columns=("date", "country"),
                            detail=lambda c: c[outcomes(c) == "failed"])
    """
    t0, t1 = window(start, end)
    columns = tuple(columns)
    shrink = reduce if reduce is not None else (lambda chunk: _lean(chunk, columns))
    parts, picked = [], []
    currency = None
    only = {} if read is None else {"columns": _readable(channel, read)}
    for chunk in client.iter_history(channel, start=t0, end=t1, chunk_pages=chunk_pages, **only):
        currency = currency or chunk.attrs.get("currency")
        parts.append(shrink(chunk))
        if detail is not None:
            picked.append(detail(chunk))
    frame = concat(parts)
    if not len(frame.columns):  # no chunk at all: the declared empty frame
        frame = shrink(empty_history(channel))
    elif reduce is not None and len(parts) > 1:
        frame = reduce(frame)  # the chunks' partial aggregates, combined
    frame.attrs["currency"] = currency or _currency(client)
    details = None
    if detail is not None:
        details = pd.concat(picked, ignore_index=True) if picked else None
    return frame, details


# what outcomes() and _lean() read besides the columns a report asks for
OUTCOME_COLUMNS = ("status", "status_code", "error_code", "direction")


def _readable(channel: str, read: Iterable[str]) -> list[str]:
    from csframe.loaders import history_resource

    known = history_resource(channel).column_names
    return [c for c in dict.fromkeys((*OUTCOME_COLUMNS, *read)) if c in known]


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


# --- channels: where their messages are and how they count ------------------------------


@dataclass(frozen=True)
class HistorySource:
    """Where a usage channel's messages are in the history, and how they count: the
    history channel (``client.history``), the column summed as billed units (``ROWS``: one
    unit per message; None: units are not comparable, only spend is reconciled) and
    whether delivery receipts exist (then: cost per delivered message).

    Example::

        HISTORY_SOURCES["fax"]   # HistorySource(channel='fax', units='message_pages', ...)
    """

    channel: str
    units: str | None
    receipts: bool = True


#: One unit per message (letters, postcards).
ROWS = "__rows__"
#: Usage channel -> its history. Checked against the sandbox, which computes usage from the
#: same rows: every channel reconciles to the cent; email usage counts are not one per
#: message, so email reconciles on spend only.
HISTORY_SOURCES = {
    "sms": HistorySource("sms", "message_parts"),
    "mms": HistorySource("mms", "message_parts"),
    "voice": HistorySource("voice", "message_parts"),
    "fax": HistorySource("fax", "message_pages"),
    "email_transactional": HistorySource("email", None),
    "post": HistorySource("letter", ROWS, receipts=False),
    "postcards": HistorySource("postcard", ROWS, receipts=False),
}
#: The standard columns of :func:`lean_history`.
STANDARD = ("outcome", "date", "subaccount_id", "message_parts", "message_price")


def history_fields(source: HistorySource) -> dict[str, str]:
    """``{standard name: column}`` of a history channel: ``date`` (its time field),
    ``message_price`` (its price) and, when units are a column, ``message_parts``.

    Example::

        >>> history_fields(HISTORY_SOURCES["post"])
        {'date': 'date_added', 'message_price': 'post_price'}
    """
    from csframe import schema

    try:
        resource = schema.get(f"{source.channel}_history")
    except KeyError:
        resource = schema.SMS_HISTORY
    kinds = resource.kinds()
    prices = [c for c, k in kinds.items() if k == "money" and "price" in c and "supplier" not in c]
    fields = {
        "date": resource.time_field or "date",
        "message_price": prices[0] if prices else "message_price",
    }
    if source.units not in (None, ROWS):
        fields["message_parts"] = source.units
    return fields


def lean_history(frame: pd.DataFrame, source: HistorySource) -> pd.DataFrame:
    """A history frame of ``source`` (raw, or lean from :func:`load`) in the standard
    columns: outcome, date, subaccount_id, message_parts (units; NA when not comparable),
    message_price.

    Example::

        lean_history(cs.history("fax", "2026-01-01", "2026-02-01"), HISTORY_SOURCES["fax"])
    """
    fields = history_fields(source)
    if "outcome" not in frame:
        frame = concat([_lean(frame, (*fields.values(), "subaccount_id"))])
    n = len(frame)
    out = pd.DataFrame(
        {
            "outcome": frame["outcome"],
            "date": frame.get(fields["date"], pd.NaT),
            "subaccount_id": frame.get("subaccount_id", pd.NA),
        },
        index=frame.index,
    )
    price = fields["message_price"]
    out["message_price"] = (
        pd.to_numeric(frame[price], errors="coerce").astype("float64") if price in frame else 0.0
    )
    if source.units == ROWS:
        out["message_parts"] = pd.array(np.ones(n, dtype="int64"), dtype="Int64")
    elif source.units is None or fields.get("message_parts") not in frame:
        out["message_parts"] = pd.array([pd.NA] * n, dtype="Int64")
    else:
        out["message_parts"] = pd.to_numeric(frame[fields["message_parts"]]).astype("Int64")
    out["subaccount_id"] = out["subaccount_id"].astype("Int64")
    out["date"] = pd.to_datetime(out["date"], utc=True)
    out.attrs = dict(frame.attrs)
    return out


def outbound(frame: pd.DataFrame) -> pd.DataFrame:
    """The outbound rows of a history frame (all of them when it has no ``direction``).

    Example::

        outbound(cs.history("sms", "2026-01-01", "2026-02-01"))
    """
    if "direction" not in frame:
        return frame
    return frame.loc[~_lower_map(frame["direction"], {"in", "inbound"})]
