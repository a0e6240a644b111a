"""Messages and channels: MMS, voice, email, fax, letters and postcards, delivery receipts
and inbound SMS -- SQLite tables, the records the API returns, and the queries.

Three tables, all paged like the SMS core pages ``sms`` (see :mod:`csframe.sandbox.models`):
every row carries two dense 1-based ordinals, ``ord`` within (scope, account) and
``sub_ord`` within (scope, subaccount), and its API record pre-rendered as JSON, so any
page of an unfiltered (or date-windowed) list is an index range lookup -- the deepest
page costs what the first does. Filters (``q=``), other orders, and fragmented read
state fall back to plain SQL with OFFSET.

- ``msg_rows``: outbound messages of the other channels (``channel`` = mms, voice,
  email, fax, letter, postcard); ordinals follow ``(date, id)`` like SMS history.
- ``msg_receipts``: delivery receipts (``channel`` = sms, voice, fax), ordinals in
  insertion order = the order the messages were sent. SMS receipts are *derived* from the
  ``sms`` table (one per Completed/Failed row) on first use, not at seed time (a pure-SQL
  pass, a few seconds at 1,000,000 SMS), and rendered from the SMS row when served.
- ``msg_inbound``: inbound SMS (replies), ordinals follow ``(date, id)``.

Receipts and inbound have a ``read`` flag: their GET lists show unread rows only (the
API's "inbox" semantics). When the read rows of a view are a prefix of its order (the
usual result of "mark all read before T"), paging stays a range lookup.

Example::

    msgs = state(store)                       # tables + hooks, created on first use
    total, rows = msgs.rows.page(View(48213), "mms", HistoryQuery(page=1, limit=100))
    usage_lines(store, View(48213), start, end)   # {"mms": [(sid, username, count, micros)], ...}
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from csframe.sandbox.keyset import OrderKey
from csframe.sandbox.models import SEARCH_FIELDS, HistoryQuery, Store, View
from csframe.sandbox.pricing import CURRENCY, fmt_money

CHANNELS = ("mms", "voice", "email", "fax", "letter", "postcard")
# Channel -> the key of GET /account/usage/... (OpenAPI naming).
USAGE_KEYS = {
    "mms": "mms",
    "voice": "voice",
    "fax": "fax",
    "letter": "post",
    "postcard": "postcards",
    "email": "email_transactional",
}
RECEIPT_CHANNELS = ("sms", "voice", "fax")
# Statuses that have a delivery receipt (everything else is still in flight or never went).
RECEIPT_STATUSES = ("Completed", "Failed")
# A receipt arrives this many seconds after the send: 3 + (id * K) % 177 (deterministic).
RECEIPT_DELAY_SQL = "(3 + ((id * 2654435761) % 177))"

SCHEMA = """
CREATE TABLE IF NOT EXISTS msg_rows (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    subaccount_id INTEGER NOT NULL,
    ord INTEGER NOT NULL,
    sub_ord INTEGER NOT NULL,
    date INTEGER NOT NULL,           -- date_added: history order, date_from/date_to, usage month
    status TEXT NOT NULL,
    to_ TEXT NOT NULL,               -- number, first "to" email, or address_name
    from_ TEXT NOT NULL,
    message_id TEXT NOT NULL,
    custom_string TEXT,
    list_id TEXT,
    country TEXT NOT NULL,
    username TEXT NOT NULL,
    units INTEGER NOT NULL,          -- what usage counts: parts, pages, emails, letters, cards
    price_micros INTEGER NOT NULL,
    schedule INTEGER NOT NULL,
    json BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS msg_receipts (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    subaccount_id INTEGER NOT NULL,
    ord INTEGER NOT NULL,
    sub_ord INTEGER NOT NULL,
    date INTEGER NOT NULL,           -- the receipt's timestamp
    read INTEGER NOT NULL DEFAULT 0,
    src_id INTEGER,                  -- sms.id (channel sms) or msg_rows.id; NULL: test receipt
    message_id TEXT,                 -- NULL for receipts derived from sms (looked up there)
    json BLOB                        -- NULL for receipts derived from sms (rendered on serve)
);
CREATE TABLE IF NOT EXISTS msg_inbound (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    subaccount_id INTEGER NOT NULL,
    ord INTEGER NOT NULL,
    sub_ord INTEGER NOT NULL,
    date INTEGER NOT NULL,           -- the reply's timestamp
    read INTEGER NOT NULL DEFAULT 0,
    message_id TEXT NOT NULL,
    original_message_id TEXT,
    from_ TEXT NOT NULL,
    to_ TEXT NOT NULL,
    body TEXT NOT NULL,
    opt_out INTEGER NOT NULL DEFAULT 0,   -- ground truth: the body is an opt-out keyword
    json BLOB NOT NULL
);
"""

# q= fields -> (column, is_integer): the same exact, case-insensitive search as SMS history.
_COMMON_SEARCH: dict[str, tuple[str, bool]] = dict(SEARCH_FIELDS)
_COMMON_ORDER: dict[str, str] = {
    "date": "date",
    "date_added": "date",
    "username": "username",
    "_api_username": "username",
    "from": "from_",
    "to": "to_",
    "status": "status",
    "message_id": "message_id",
    "subaccount_id": "subaccount_id",
    "list_id": "list_id",
    "country": "country",
}
# A receipt's record: stored, or (SMS receipts derived on first use) its SMS row's.
_RECEIPT_JSON = "CAST(coalesce(msg_receipts.json, (SELECT s.json FROM sms s WHERE s.id = msg_receipts.src_id)) AS TEXT)"


def _receipt_field(name: str) -> str:
    return f"CAST(json_extract({_RECEIPT_JSON}, '$.{name}') AS TEXT)"


_RECEIPT_SEARCH: dict[str, tuple[str, bool]] = {
    "subaccount_id": ("subaccount_id", True),
    "message_id": (_receipt_field("message_id"), False),
    **{
        f: (_receipt_field(f), False)
        for f in ("status_code", "status_text", "error_code", "error_text", "custom_string")
    },
}
_RECEIPT_ORDER: dict[str, str] = {
    "date": "date",
    "timestamp": "date",
    "subaccount_id": "subaccount_id",
    **{f: _receipt_field(f) for f in ("message_id", "status_code", "status_text", "error_code")},
}
_INBOUND_SEARCH: dict[str, tuple[str, bool]] = {
    "from": ("from_", False),
    "to": ("to_", False),
    "message_id": ("message_id", False),
    "original_message_id": ("original_message_id", False),
    "subaccount_id": ("subaccount_id", True),
}
_INBOUND_ORDER: dict[str, str] = {"date": "date", "timestamp": "date", "from": "from_"}


@dataclass(frozen=True)
class TableSpec:
    """How one table is paged: columns, search/order fields, read flag, ordinal order."""

    name: str
    columns: tuple[str, ...]  # insert columns besides id, ord, sub_ord
    search: dict[str, tuple[str, bool]]
    order: dict[str, str]
    read: bool  # has a read flag (inbox semantics)
    by_date: bool  # ordinals follow (date, id); else insertion order (id)
    select: str = "json"


ROWS = TableSpec(
    "msg_rows",
    (
        "channel", "user_id", "subaccount_id", "date", "status", "to_", "from_", "message_id",
        "custom_string", "list_id", "country", "username", "units", "price_micros", "schedule",
        "json",
    ),
    _COMMON_SEARCH,
    _COMMON_ORDER,
    read=False,
    by_date=True,
)  # fmt: skip
RECEIPTS = TableSpec(
    "msg_receipts",
    ("channel", "user_id", "subaccount_id", "date", "read", "src_id", "message_id", "json"),
    _RECEIPT_SEARCH,
    _RECEIPT_ORDER,
    read=True,
    by_date=False,
    select="json, src_id, date",
)
INBOUND = TableSpec(
    "msg_inbound",
    (
        "channel", "user_id", "subaccount_id", "date", "read", "message_id",
        "original_message_id", "from_", "to_", "body", "opt_out", "json",
    ),
    _INBOUND_SEARCH,
    _INBOUND_ORDER,
    read=True,
    by_date=True,
)  # fmt: skip


class Paged:
    """Dense-ordinal paging over one table of :data:`ROWS`, :data:`RECEIPTS`, :data:`INBOUND`.

    All methods expect to be called with ``store._lock`` held or take it themselves
    (the lock is re-entrant).
    """

    def __init__(self, store: Store, spec: TableSpec) -> None:
        self.store = store
        self.spec = spec
        t = spec.name
        self.idx_user, self.idx_sub = f"{t}_user_ord", f"{t}_sub_ord"
        self.idx_user_date, self.idx_sub_date = f"{t}_user_date", f"{t}_sub_date"
        read = "read, " if spec.read else ""
        # Built after the bulk load (cheaper than maintaining them row by row).
        self.indexes = [
            f"CREATE INDEX IF NOT EXISTS {self.idx_user} ON {t}(channel, user_id, {read}ord)",
            f"CREATE INDEX IF NOT EXISTS {self.idx_sub} ON {t}(channel, subaccount_id, {read}sub_ord)",
        ]
        # Lookups by id (cancel, receipt by id, mark one read): built on first use.
        self.lookup_indexes = [
            f"CREATE INDEX IF NOT EXISTS {t}_mid ON {t}(message_id COLLATE NOCASE) WHERE message_id IS NOT NULL",
        ]
        if spec.by_date:
            self.indexes += [
                f"CREATE INDEX IF NOT EXISTS {self.idx_user_date} ON {t}(channel, user_id, date)",
                f"CREATE INDEX IF NOT EXISTS {self.idx_sub_date} ON {t}(channel, subaccount_id, date)",
            ]
        if t == "msg_inbound":
            self.lookup_indexes.append(
                f"CREATE INDEX IF NOT EXISTS {t}_orig ON {t}(original_message_id COLLATE NOCASE)"
            )
        self._indexed = self._lookup_indexed = False
        self._insert = (
            f"INSERT INTO {t} (id, ord, sub_ord, {', '.join(spec.columns)}) "
            f"VALUES ({','.join('?' * (len(spec.columns) + 3))})"
        )

    @property
    def db(self) -> Any:
        return self.store.db

    def create_indexes(self) -> None:
        """Create the table's indexes (once; the hot queries name them with INDEXED BY)."""
        if not self._indexed:
            with self.store._lock:
                for ddl in self.indexes:
                    self.db.execute(ddl)
            self._indexed = True

    def create_lookup_indexes(self) -> None:
        """The message-id indexes (once, on the first lookup by id)."""
        self.create_indexes()
        if not self._lookup_indexed:
            with self.store._lock:
                for ddl in self.lookup_indexes:
                    self.db.execute(ddl)
            self._lookup_indexed = True

    # ------------------------------------------------------------------ views

    def _keys(self, view: View) -> tuple[str, str, int, str, str]:
        if view.subaccount_id is None:
            return "user_id", "ord", view.user_id, self.idx_user, self.idx_user_date
        return "subaccount_id", "sub_ord", view.subaccount_id, self.idx_sub, self.idx_sub_date

    def _narrow(self, view: View, q: HistoryQuery) -> tuple[View, list[tuple[str, str]]]:
        # The same rule as SMS history: q=subaccount_id:N alone stays on the fast path.
        return self.store._narrow(view, q)

    # ------------------------------------------------------------------ paging

    def page(
        self, view: View, channel: str, q: HistoryQuery, unread: bool = False
    ) -> tuple[int, list[tuple[Any, ...]]]:
        """``(total, rows)`` of one page; rows are tuples of ``spec.select`` columns."""
        self.create_indexes()
        with self.store._lock:
            view, filters = self._narrow(view, q)
            if not filters and q.order_field in ("date", "date_added", "timestamp"):
                rng = self._fast_range(view, channel, q, unread)
                if rng is not None:
                    return self._page_by_ordinal(view, channel, q, rng, unread)
            return self._page_generic(view, channel, q, filters, unread)

    def _fast_range(
        self, view: View, channel: str, q: HistoryQuery, unread: bool
    ) -> tuple[int, int] | None:
        dated = q.date_from is not None or q.date_to is not None
        if dated and (unread or not self.spec.by_date):
            return None
        key_col, ord_col, key, ord_idx, date_idx = self._keys(view)
        t, db = self.spec.name, self.db
        if self.spec.read:
            hi = 0
            for r in (0, 1):
                got = db.execute(
                    f"SELECT max({ord_col}) FROM {t} INDEXED BY {ord_idx} WHERE channel=? AND {key_col}=? AND read=?",
                    (channel, key, r),
                ).fetchone()[0]
                hi = max(hi, got or 0)
            if not unread:
                return 1, hi
            max_read = db.execute(
                f"SELECT max({ord_col}) FROM {t} INDEXED BY {ord_idx} WHERE channel=? AND {key_col}=? AND read=1",
                (channel, key),
            ).fetchone()[0]
            if max_read is None:
                return 1, hi
            gap = db.execute(
                f"SELECT 1 FROM {t} INDEXED BY {ord_idx} WHERE channel=? AND {key_col}=? AND read=0 AND {ord_col} < ? LIMIT 1",
                (channel, key, max_read),
            ).fetchone()
            return None if gap else (max_read + 1, hi)
        if q.date_from is None:
            lo = 1
        else:
            got = db.execute(
                f"SELECT {ord_col} FROM {t} INDEXED BY {date_idx} WHERE channel=? AND {key_col}=? AND date>=? ORDER BY date, id LIMIT 1",
                (channel, key, q.date_from),
            ).fetchone()
            if got is None:
                return 1, 0
            lo = got[0]
        if q.date_to is None:
            hi = db.execute(
                f"SELECT max({ord_col}) FROM {t} INDEXED BY {ord_idx} WHERE channel=? AND {key_col}=?",
                (channel, key),
            ).fetchone()[0]
            hi = hi or 0
        else:
            got = db.execute(
                f"SELECT {ord_col} FROM {t} INDEXED BY {date_idx} WHERE channel=? AND {key_col}=? AND date<=? ORDER BY date DESC, id DESC LIMIT 1",
                (channel, key, q.date_to),
            ).fetchone()
            hi = got[0] if got else 0
        return lo, hi

    def _page_by_ordinal(
        self, view: View, channel: str, q: HistoryQuery, rng: tuple[int, int], unread: bool
    ) -> tuple[int, list[tuple[Any, ...]]]:
        lo, hi = rng
        total = max(0, hi - lo + 1)
        skip = (q.page - 1) * q.limit
        if skip >= total:
            return total, []
        key_col, ord_col, key, ord_idx, _ = self._keys(view)
        if q.order_dir == "asc":
            a, b, direction = lo + skip, min(hi, lo + skip + q.limit - 1), "ASC"
        else:
            a, b, direction = max(lo, hi - skip - q.limit + 1), hi - skip, "DESC"
        read = " AND read IN (0, 1)" if self.spec.read else ""
        if self.spec.read and unread:
            read = " AND read=0"
        rows = self.db.execute(
            f"SELECT {self.spec.select} FROM {self.spec.name} INDEXED BY {ord_idx} "
            f"WHERE channel=? AND {key_col}=?{read} AND {ord_col} BETWEEN ? AND ? ORDER BY {ord_col} {direction}",
            (channel, key, a, b),
        ).fetchall()
        return total, rows

    def where(
        self,
        view: View,
        channel: str,
        q: HistoryQuery,
        filters: list[tuple[str, str]],
        unread: bool = False,
    ) -> tuple[str, list[Any]]:
        clauses, args = ["channel=?", "user_id=?"], [channel, view.user_id]
        if view.subaccount_id is not None:
            clauses.append("subaccount_id=?")
            args.append(view.subaccount_id)
        if q.date_from is not None:
            clauses.append("date>=?")
            args.append(q.date_from)
        if q.date_to is not None:
            clauses.append("date<=?")
            args.append(q.date_to)
        if unread:
            clauses.append("read=0")
        if filters:
            parts = []
            for name, value in filters:
                col, is_int = self.spec.search[name]
                if is_int:
                    try:
                        args.append(int(value))
                        parts.append(f"{col}=?")
                    except ValueError:
                        parts.append("0")
                else:
                    parts.append(self.store.text_match(col))
                    args.append(self.store.text_value(value))
            joiner = " OR " if q.operator == "OR" else " AND "
            clauses.append("(" + joiner.join(parts) + ")")
        return " AND ".join(clauses), args

    def order_keys(self, q: HistoryQuery) -> list[OrderKey]:
        """Sort keys: the field, then date (when the table is in date order) and id."""
        desc = q.order_dir == "desc"
        col = self.spec.order.get(q.order_field, "date")
        base = ["date", "id"] if self.spec.by_date else ["id"]
        if col == "date":
            return [(c, desc) for c in base]
        return [(col, desc), *((c, False) for c in base)]

    def order_sql(self, q: HistoryQuery) -> str:
        return ", ".join(f"{c} {'DESC' if d else 'ASC'}" for c, d in self.order_keys(q))

    def _page_generic(
        self,
        view: View,
        channel: str,
        q: HistoryQuery,
        filters: list[tuple[str, str]],
        unread: bool,
    ) -> tuple[int, list[tuple[Any, ...]]]:
        """A searched, sorted or unread-with-gaps page: keyset paging (``keyset.py``)."""
        where, args = self.where(view, channel, q, filters, unread)
        key = (
            self.spec.name, channel, view, tuple(filters), q.operator, q.date_from, q.date_to,
            q.order_field, q.order_dir, q.limit, unread, self.store.search_match,
        )  # fmt: skip
        return self.store.keyset.page(
            self.db, key, self.spec.name, where, args, self.order_keys(q), self.spec.select,
            q.page, q.limit,
        )  # fmt: skip

    def select_all(
        self, view: View, channel: str, q: HistoryQuery, columns: str, unread: bool = False
    ) -> list[tuple[Any, ...]]:
        """Every matching row (no paging), in the API's order: ground truth, exports."""
        self.create_indexes()
        with self.store._lock:
            view, filters = self._narrow(view, q)
            where, args = self.where(view, channel, q, filters, unread)
            return self.db.execute(
                f"SELECT {columns} FROM {self.spec.name} WHERE {where} ORDER BY {self.order_sql(q)}",
                args,
            ).fetchall()

    # ------------------------------------------------------------------ writing

    def append(self, rows: list[dict[str, Any]]) -> list[int]:
        """Insert rows (dicts of ``spec.columns``) with their ordinals; returns their ids.

        The caller holds the lock and owns the transaction. Rows dated before the newest
        row of their (channel, account) make that account's ordinals be recomputed.
        """
        if not rows:
            return []
        self.create_indexes()
        db, t = self.db, self.spec.name
        if self.spec.by_date:
            rows = sorted(rows, key=lambda r: r["date"])
        next_id = db.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {t}").fetchone()[0]
        tails: dict[tuple[str, int], list[int]] = {}
        renumber: set[tuple[str, int]] = set()
        tuples, ids = [], []
        for r in rows:
            ords = []
            for col, ord_col in (("user_id", "ord"), ("subaccount_id", "sub_ord")):
                tk = (r["channel"], col, r[col])
                tail = tails.get(tk)
                if tail is None:
                    got = self._tail(r["channel"], col, ord_col, r[col])
                    tail = tails[tk] = list(got) if got else [0, -(2**62)]
                if self.spec.by_date and r["date"] < tail[1]:
                    renumber.add((r["channel"], r["user_id"]))
                tail[0] += 1
                tail[1] = max(tail[1], r["date"])
                ords.append(tail[0])
            tuples.append((next_id, ords[0], ords[1], *(r[c] for c in self.spec.columns)))
            ids.append(next_id)
            next_id += 1
        db.executemany(self._insert, tuples)
        for channel, user_id in renumber:
            self.renumber(channel, user_id)
        return ids

    def _tail(self, channel: str, col: str, ord_col: str, key: int) -> tuple[int, int] | None:
        """``(ord, date)`` of the last row of (channel, key) in ordinal order, or None."""
        idx = self.idx_user if col == "user_id" else self.idx_sub
        sql = f"SELECT {ord_col}, date FROM {self.spec.name} INDEXED BY {idx} WHERE channel=? AND {col}=?"
        if not self.spec.read:
            return self.db.execute(
                sql + f" ORDER BY {ord_col} DESC LIMIT 1", (channel, key)
            ).fetchone()
        best = None
        for r in (0, 1):
            got = self.db.execute(
                sql + f" AND read=? ORDER BY {ord_col} DESC LIMIT 1", (channel, key, r)
            ).fetchone()
            if got and (best is None or got[0] > best[0]):
                best = got
        return best

    def renumber(self, channel: str, user_id: int) -> None:
        t = self.spec.name
        order = "date, id" if self.spec.by_date else "id"
        self.db.execute(
            f"UPDATE {t} SET ord = r.rn FROM (SELECT id, row_number() OVER (ORDER BY {order}) AS rn "
            f"FROM {t} WHERE channel=? AND user_id=?) AS r WHERE {t}.id = r.id",
            (channel, user_id),
        )
        self.db.execute(
            f"UPDATE {t} SET sub_ord = r.rn FROM (SELECT id, row_number() OVER "
            f"(PARTITION BY subaccount_id ORDER BY {order}) AS rn FROM {t} WHERE channel=? AND user_id=?) AS r "
            f"WHERE {t}.id = r.id",
            (channel, user_id),
        )
        self.store_state().renumbered.add((t, channel, user_id))

    def store_state(self) -> MessagesState:
        return state(self.store)

    def bulk_load(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Seed rows as full tuples (id, ord, sub_ord, *columns), ordinals already dense."""
        with self.store._lock:
            db = self.db
            db.execute("BEGIN")
            db.executemany(self._insert, rows)
            db.execute("COMMIT")


# ---------------------------------------------------------------------- state


@dataclass
class Export:
    path: str
    filename: str
    expires: float  # time.monotonic() deadline
    rows: int


@dataclass
class MessagesState:
    """This area's in-memory state of a store (see :func:`state`)."""

    store: Store
    rows: Paged
    receipts: Paged
    inbound: Paged
    snapshot_max: dict[str, int] = field(default_factory=dict)
    sms_synced: int = 0  # sms.id up to which SMS receipts have been derived
    # Seeded rows changed since the snapshot (cancels): (table, id) -> (status, price, json).
    undo: dict[tuple[str, int], tuple[str, int, bytes]] = field(default_factory=dict)
    renumbered: set[tuple[str, str, int]] = field(default_factory=set)
    exports: dict[str, Export] = field(default_factory=dict)
    expired: set[str] = field(default_factory=set)
    export_dir: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_STATES: weakref.WeakKeyDictionary[Store, MessagesState] = weakref.WeakKeyDictionary()
_STATES_LOCK = threading.Lock()


def state(store: Store) -> MessagesState:
    """This area's state of ``store``; creates the tables and hooks on first use."""
    with _STATES_LOCK:
        st = _STATES.get(store)
        if st is None:
            with store._lock:
                store.db.executescript(SCHEMA)
            st = MessagesState(
                store, Paged(store, ROWS), Paged(store, RECEIPTS), Paged(store, INBOUND)
            )
            with store._lock:
                _register_udf(store)
            store.snapshot_hooks.append(_snapshot)
            store.reset_hooks.append(_reset)
            store.usage_hooks.append(usage_lines)
            _STATES[store] = st
            weakref.finalize(store, _drop_dir, st)
    return st


def _drop_dir(st: MessagesState) -> None:
    if st.export_dir:
        shutil.rmtree(st.export_dir, ignore_errors=True)
        st.export_dir = None


def drop_exports(store: Store) -> None:
    """Remove the store's exported files and their folder (when the sandbox stops: the
    interpreter-exit fallback never runs in a child that is killed)."""
    st = _STATES.get(store)
    if st is not None:
        with st.lock:
            st.exports.clear()
            _drop_dir(st)


def _snapshot(store: Store) -> None:
    st = state(store)
    for paged in (st.rows, st.receipts, st.inbound):
        paged.create_indexes()
    with store._lock:
        db = store.db
        st.snapshot_max = {
            t: db.execute(f"SELECT coalesce(max(id), 0) FROM {t}").fetchone()[0]
            for t in ("msg_rows", "msg_receipts", "msg_inbound", "sms")
        }
        for t in ("msg_rows", "msg_receipts", "msg_inbound"):
            db.execute(f"ANALYZE {t}")
    st.undo.clear()
    st.renumbered.clear()


def _reset(store: Store) -> None:
    """Back to the seeded rows: drop new rows, undo cancels, everything unread again."""
    st = state(store)
    with store._lock:
        db = store.db
        db.execute("BEGIN")
        for t in ("msg_rows", "msg_inbound"):
            db.execute(f"DELETE FROM {t} WHERE id > ?", (st.snapshot_max.get(t, 0),))
        # Seeded voice/fax receipts stay; SMS receipts are derived again on next use.
        db.execute(
            "DELETE FROM msg_receipts WHERE channel='sms' OR id > ?",
            (st.snapshot_max.get("msg_receipts", 0),),
        )
        db.execute("UPDATE msg_receipts SET read=0 WHERE read=1")
        db.execute("UPDATE msg_inbound SET read=0 WHERE read=1")
        for (table, row_id), (status, price, js) in st.undo.items():
            db.execute(
                f"UPDATE {table} SET status=?, price_micros=?, json=? WHERE id=?",
                (status, price, js, row_id),
            )
        tables = {"msg_rows": st.rows, "msg_receipts": st.receipts, "msg_inbound": st.inbound}
        for table, channel, user_id in list(st.renumbered):
            tables[table].renumber(channel, user_id)
        db.execute("COMMIT")
    st.undo.clear()
    st.renumbered.clear()
    st.sms_synced = 0
    with st.lock:
        for exp in st.exports.values():
            with contextlib.suppress(OSError):
                os.unlink(exp.path)
        st.exports.clear()


# ---------------------------------------------------------------------- SMS receipts


def _register_udf(store: Store) -> None:
    counters: dict[Any, int] = {}

    def next_ord(kind: str, key: int) -> int:
        k = (kind, key)
        v = counters.get(k, 0) + 1
        counters[k] = v
        return v

    store.db.create_function("_msg_next_ord", 2, next_ord)
    store._msg_ord_counters = counters  # type: ignore[attr-defined]


def sync_sms_receipts(store: Store) -> None:
    """Derive receipts for SMS rows added since the last sync (all of them at first use).

    One receipt per ``Completed``/``Failed`` SMS, in the order the messages were sent
    (per account), dated ``date + 3..179 s``. Pure SQL with a counter function for the
    ordinals: about 2.5 s for 1,000,000 SMS, once.
    """
    st = state(store)
    with store._lock:
        db = store.db
        max_sms = db.execute("SELECT coalesce(max(id), 0) FROM sms").fetchone()[0]
        if max_sms <= st.sms_synced:
            return
        counters: dict[Any, int] = store._msg_ord_counters  # type: ignore[attr-defined]
        counters.clear()
        first = st.sms_synced == 0
        new = db.execute(
            # NOT INDEXED: a rowid range, never a pass over an account's index
            "SELECT DISTINCT user_id, subaccount_id FROM sms NOT INDEXED WHERE id > ?",
            (st.sms_synced,),
        ).fetchall()
        users = sorted({u for u, _ in new})
        if first:
            for col, ord_col, kind in (("user_id", "ord", "u"), ("subaccount_id", "sub_ord", "s")):
                for key, mx in db.execute(
                    f"SELECT {col}, max({ord_col}) FROM msg_receipts WHERE channel='sms' GROUP BY {col}"
                ):
                    counters[(kind, key)] = mx
        else:  # only the accounts that have new rows, each an index lookup (no table pass)
            st.receipts.create_indexes()
            for kind, col, ord_col, keys in (
                ("u", "user_id", "ord", users),
                ("s", "subaccount_id", "sub_ord", sorted({sid for _, sid in new})),
            ):
                for key in keys:
                    tail = st.receipts._tail("sms", col, ord_col, key)
                    counters[(kind, key)] = tail[0] if tail else 0
        if first:  # a bulk derivation: rebuilding the indexes after is cheaper than upkeep
            for name in (st.receipts.idx_user, st.receipts.idx_sub):
                db.execute(f"DROP INDEX IF EXISTS {name}")
        db.execute("BEGIN")
        try:
            insert = (
                "INSERT INTO msg_receipts (channel, user_id, subaccount_id, ord, sub_ord, date, read, src_id) "
                "SELECT 'sms', user_id, subaccount_id, _msg_next_ord('u', user_id), "
                f"_msg_next_ord('s', subaccount_id), date + {RECEIPT_DELAY_SQL}, 0, id "
            )
            for user_id in users:
                if first:  # every row: stream the account's ord index (no sort)
                    db.execute(
                        insert + "FROM sms INDEXED BY sms_user_ord WHERE user_id=? AND ord > 0 "
                        "AND id > ? AND status IN ('Completed', 'Failed') ORDER BY ord",
                        (user_id, st.sms_synced),
                    )
                else:  # the rows added since: a rowid range, sorted into a table first so
                    # the ordinals are numbered in ord order (a full index pass would cost
                    # a quarter of a second per delivery at 1,000,000 rows)
                    db.execute(
                        "WITH new AS MATERIALIZED (SELECT user_id, subaccount_id, date, id "
                        "FROM sms NOT INDEXED WHERE id > ? AND user_id=? "
                        "AND status IN ('Completed', 'Failed') ORDER BY ord) "
                        + insert
                        + "FROM new",
                        (st.sms_synced, user_id),
                    )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            if first:
                for ddl in st.receipts.indexes[:2]:
                    db.execute(ddl)
        st.sms_synced = max_sms


def sms_receipt_record(sms: dict[str, Any], timestamp: int) -> dict[str, Any]:
    """The receipt of an SMS history record (OpenAPI ``sms_receipt`` types)."""
    code = sms.get("status_code")
    err = sms.get("error_code")
    return {
        "timestamp_send": sms["date"],
        "timestamp": timestamp,
        "message_id": sms["message_id"],
        "status_code": int(code) if code else 0,
        "status_text": sms.get("status_text") or "",
        "error_code": int(err) if err else None,
        "error_text": sms.get("error_text"),
        "custom_string": sms.get("custom_string"),
        "subaccount_id": sms["subaccount_id"],
        "message_type": "sms",
        "_message_type": "sms",
        "digits": None,
    }


def render_receipts(store: Store, rows: list[tuple[Any, ...]]) -> list[bytes]:
    """JSON of receipt rows ``(json, src_id, date)``: stored, or derived from the SMS row."""
    need = [r[1] for r in rows if r[0] is None]
    sms: dict[int, bytes] = {}
    if need:
        with store._lock:
            marks = ",".join("?" * len(need))
            sms = dict(store.db.execute(f"SELECT id, json FROM sms WHERE id IN ({marks})", need))
    out = []
    for js, src, ts in rows:
        if js is not None:
            out.append(js)
        else:
            src_js = sms.get(src)
            if src_js is None:  # the SMS is gone (cannot happen after a reset: rebuilt)
                continue
            out.append(orjson.dumps(sms_receipt_record(orjson.loads(src_js), ts)))
    return out


# ---------------------------------------------------------------------- usage + stats


def usage_lines(
    store: Store, view: View, start: int, end: int
) -> dict[str, list[tuple[int, str, int, int]]]:
    """Usage of every channel of ``msg_rows`` in ``[start, end)``, per subaccount.

    ``{usage key: [(subaccount_id, username, units, price_micros), ...]}`` -- computed from
    the same rows as history, like SMS usage: every row counts whatever its status.
    """
    state(store)
    channels = ",".join(f"'{c}'" for c in CHANNELS)
    clauses = [f"m.channel IN ({channels})", "m.user_id=?", "m.date>=?", "m.date<?"]
    args: list[Any] = [view.user_id, start, end]
    if view.subaccount_id is not None:
        clauses.append("m.subaccount_id=?")
        args.append(view.subaccount_id)
    out: dict[str, list[tuple[int, str, int, int]]] = {USAGE_KEYS[c]: [] for c in CHANNELS}
    with store._lock:
        rows = store.db.execute(
            "SELECT m.channel, m.subaccount_id, s.api_username, sum(m.units), sum(m.price_micros) "
            "FROM msg_rows m JOIN subaccounts s USING (subaccount_id) "
            f"WHERE {' AND '.join(clauses)} GROUP BY m.channel, m.subaccount_id ORDER BY m.subaccount_id",
            args,
        ).fetchall()
    for channel, sid, username, units, micros in rows:
        out[USAGE_KEYS[channel]].append((sid, username, units, micros))
    return out


def daily_spend(store: Store, user_id: int) -> list[tuple[int, int]]:
    """``[(unix day, micros)]`` spent on this area's channels (for recharge modelling)."""
    state(store)
    with store._lock:
        return store.db.execute(
            "SELECT date / 86400, sum(price_micros) FROM msg_rows WHERE user_id=? GROUP BY 1 ORDER BY 1",
            (user_id,),
        ).fetchall()


def sms_daily(store: Store, view: View, start: int, days: int) -> dict[int, list[int]]:
    """Per UTC day index from ``start``: [outbound count, outbound micros, failed, failed micros]."""
    end = start + days * 86400
    clauses, args = ["user_id=?", "date>=?", "date<?"], [view.user_id, start, end]
    index = "sms_user_date"
    if view.subaccount_id is not None:
        clauses.append("subaccount_id=?")
        args.append(view.subaccount_id)
        index = "sms_sub_date"
    with store._lock:
        store._index()
        rows = store.db.execute(
            f"SELECT (date - ?) / 86400, count(*), sum(price_micros), sum(status='Failed'), "
            f"sum(CASE WHEN status='Failed' THEN price_micros ELSE 0 END) "
            f"FROM sms INDEXED BY {index} WHERE {' AND '.join(clauses)} GROUP BY 1",
            [start, *args],
        ).fetchall()
    return {d: [c, p, f, fp] for d, c, p, f, fp in rows}


def channel_daily(
    store: Store, table: str, channel: str, view: View, start: int, days: int
) -> dict[int, list[int]]:
    """The same per-day counts for ``msg_rows`` (voice...) or ``msg_inbound`` (sms)."""
    state(store)
    end = start + days * 86400
    clauses, args = (
        ["channel=?", "user_id=?", "date>=?", "date<?"],
        [channel, view.user_id, start, end],
    )
    if view.subaccount_id is not None:
        clauses.append("subaccount_id=?")
        args.append(view.subaccount_id)
    price = "price_micros" if table == "msg_rows" else "0"
    failed = "status='Failed'" if table == "msg_rows" else "0"
    with store._lock:
        rows = store.db.execute(
            f"SELECT (date - ?) / 86400, count(*), sum({price}), sum({failed}), "
            f"sum(CASE WHEN {failed} THEN {price} ELSE 0 END) "
            f"FROM {table} WHERE {' AND '.join(clauses)} GROUP BY 1",
            [start, *args],
        ).fetchall()
    return {d: [c, p, f, fp] for d, c, p, f, fp in rows}


# ---------------------------------------------------------------------- lookups + writes


def find_row(
    store: Store, channel: str, view: View, message_id: str
) -> tuple[int, str, int, bytes] | None:
    """``(id, status, price_micros, json)`` of one message of ``msg_rows`` visible to ``view``."""
    state(store).rows.create_lookup_indexes()
    sql = "SELECT id, status, price_micros, json FROM msg_rows WHERE message_id=? COLLATE NOCASE AND channel=? AND user_id=?"
    args: list[Any] = [message_id, channel, view.user_id]
    if view.subaccount_id is not None:
        sql += " AND subaccount_id=?"
        args.append(view.subaccount_id)
    with store._lock:
        return store.db.execute(sql, args).fetchone()


def find_sms(store: Store, view: View, message_id: str) -> tuple[int, str, int, bytes] | None:
    """``(id, status, price_micros, json)`` of one SMS visible to ``view``."""
    sql = "SELECT id, status, price_micros, json FROM sms WHERE message_id=? COLLATE NOCASE AND user_id=?"
    args: list[Any] = [message_id, view.user_id]
    if view.subaccount_id is not None:
        sql += " AND subaccount_id=?"
        args.append(view.subaccount_id)
    with store._lock:
        store._ensure_index("message_id")  # the SMS core's lazy NOCASE index
        return store.db.execute(sql, args).fetchone()


def cancel_rows(
    store: Store,
    table: str,
    rows: list[tuple[int, str, int, bytes]],
    user_id: int,
    cancel: Callable[[dict[str, Any]], dict[str, Any]],
) -> int:
    """Cancel scheduled rows of ``sms`` or ``msg_rows``: status, price 0, refund; atomically.

    ``cancel`` rewrites a record for its cancelled state. Returns the number cancelled.
    """
    if not rows:
        return 0
    refund = 0
    with store._lock:
        db = store.db
        db.execute("BEGIN")
        try:
            for row_id, status, price, js in rows:
                remember_seeded(store, table, row_id, status, price, js)
                rec = cancel(orjson.loads(js))
                db.execute(
                    f"UPDATE {table} SET status=?, price_micros=0, json=? WHERE id=?",
                    (rec["status"], orjson.dumps(rec), row_id),
                )
                refund += price
            if refund:
                db.execute(
                    "UPDATE users SET balance_micros = balance_micros + ? WHERE user_id=?",
                    (refund, user_id),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return len(rows)


def remember_seeded(
    store: Store, table: str, row_id: int, status: str, price: int, js: bytes
) -> None:
    """Keep a seeded row of ``sms``/``msg_rows`` as it was before its first change (a
    cancel, a scheduled message released), so that a reset restores it."""
    st = state(store)
    if row_id <= st.snapshot_max.get(table, 0):
        st.undo.setdefault((table, row_id), (status, price, js))


def scheduled_rows(
    store: Store, table: str, view: View, channel: str | None, now: int
) -> list[tuple[int, str, int, bytes]]:
    """Every cancellable row (status Scheduled, schedule in the future) of a view."""
    state(store)
    clauses = ["user_id=?", "status='Scheduled' COLLATE NOCASE"]
    args: list[Any] = [view.user_id]
    if channel is not None:
        clauses.append("channel=?")
        args.append(channel)
    if view.subaccount_id is not None:
        clauses.append("subaccount_id=?")
        args.append(view.subaccount_id)
    with store._lock:
        if table == "sms":
            store._ensure_index("status")  # (user_id, status, date): no scan of the big table
        return store.db.execute(
            f"SELECT id, status, price_micros, json FROM {table} WHERE {' AND '.join(clauses)}",
            args,
        ).fetchall()


def insert_rows(
    store: Store, paged: Paged, rows: list[dict[str, Any]], charge: dict[int, int] | None = None
) -> list[int]:
    """Commit rows into one of this area's tables and debit ``charge``, atomically."""
    if not rows and not charge:
        return []
    with store.transaction():
        ids = paged.append(rows)
        store.debit(charge or {})
    return ids


def mark_read(store: Store, paged: Paged, channel: str, view: View, date_before: int | None) -> int:
    """Mark the view's unread rows (dated before ``date_before``, if given) as read."""
    clauses, args = ["channel=?", "user_id=?", "read=0"], [channel, view.user_id]
    if view.subaccount_id is not None:
        clauses.append("subaccount_id=?")
        args.append(view.subaccount_id)
    if date_before is not None:
        clauses.append("date < ?")
        args.append(date_before)
    with store._lock:
        cur = store.db.execute(
            f"UPDATE {paged.spec.name} SET read=1 WHERE {' AND '.join(clauses)}", args
        )
        return cur.rowcount


# ---------------------------------------------------------------------- exports


EXPORT_TTL_SECONDS = 600.0  # the pre-signed URL lives 10 minutes (like uploads)


def add_export(store: Store, filename: str, data_path: str, rows: int) -> str:
    """Register a written CSV; returns its token."""
    st = state(store)
    token = os.path.basename(data_path).rsplit(".", 1)[0]
    with st.lock:
        _expire(st)
        st.exports[token] = Export(data_path, filename, time.monotonic() + EXPORT_TTL_SECONDS, rows)
    return token


def export_dir(store: Store) -> str:
    st = state(store)
    with st.lock:
        if st.export_dir is None or not os.path.isdir(st.export_dir):
            st.export_dir = tempfile.mkdtemp(prefix="csframe-sandbox-exports-")
        return st.export_dir


def get_export(store: Store, token: str) -> Export | None:
    """The export of ``token`` if it exists and has not expired (expired ones are deleted)."""
    st = state(store)
    with st.lock:
        _expire(st)
        return st.exports.get(token)


def _expire(st: MessagesState) -> None:
    now = time.monotonic()
    for token, exp in list(st.exports.items()):
        if exp.expires <= now:
            with contextlib.suppress(OSError):
                os.unlink(exp.path)
            del st.exports[token]
            st.expired.add(token)


# ---------------------------------------------------------------------- records


def money(micros: int) -> str:
    return fmt_money(micros)


def mms_record(
    *,
    date: int,
    to: str,
    body: str,
    subject: str,
    media_url: str,
    status: str,
    sender: str,
    schedule: int,
    status_code: str | None,
    status_text: str | None,
    error_code: str | None,
    error_text: str | None,
    message_id: str,
    price_micros: int,
    list_id: str | None,
    custom_string: str | None,
    contact_id: int | None,
    user_id: int,
    subaccount_id: int,
    country: str,
    carrier: str,
    first_name: str | None,
    last_name: str | None,
    api_username: str,
) -> dict[str, Any]:
    """One MMS history record, keys and types as the OpenAPI ``view-mms-history`` item.

    Non-nullable strings of the schema hold ``""`` when unset, ``contact_id`` 0.
    """
    return {
        "direction": "out",
        "date": str(date),
        "to": to,
        "body": body,
        "subject": subject,
        "priority": 2,
        "_media_file_url": media_url,
        "status": status,
        "from": sender,
        "schedule": str(schedule),
        "date_added": date,
        "status_code": status_code,
        "status_text": status_text,
        "error_code": error_code,
        "error_text": error_text or "",
        "message_id": message_id,
        "message_parts": "1.00",
        "message_price": money(price_micros),
        "from_email": None,
        "list_id": list_id,
        "custom_string": custom_string or "",
        "contact_id": contact_id or 0,
        "user_id": user_id,
        "subaccount_id": subaccount_id,
        "country": country,
        "carrier": carrier,
        "first_name": first_name or "",
        "last_name": last_name or "",
        "_api_username": api_username,
    }


def voice_record(
    *,
    date: int,
    to: str,
    to_type: str,
    body: str,
    sender: str | None,
    lang: str,
    voice: str,
    schedule: int,
    message_id: str,
    parts: int,
    price_micros: int,
    custom_string: str | None,
    list_id: str | None,
    user_id: int,
    subaccount_id: int,
    country: str,
    carrier: str | None,
    require_input: int,
    machine_detection: int,
    machine_detected: int | None,
    digits: str | None,
    status: str,
    status_code: str | None,
    status_text: str | None,
    api_username: str,
) -> dict[str, Any]:
    """One voice history record (OpenAPI ``voice_message`` plus the reference's keys)."""
    return {
        "date": str(date),
        "date_added": date,
        "list_id": list_id,
        "user_id": user_id,
        "subaccount_id": subaccount_id,
        "message_id": message_id,
        "to": to,
        "to_type": to_type,
        "from": sender,
        "voice": voice,
        "lang": lang,
        "body": body,
        "carrier": carrier,
        "country": country,
        "custom_string": custom_string or "",
        "schedule": str(schedule),
        "message_parts": f"{parts}.00",
        "message_price": money(price_micros),
        "status": status,
        "status_code": status_code,
        "status_text": status_text,
        "digits": digits,
        "machine_detection": machine_detection,
        "machine_detected": machine_detected,
        "require_input": require_input,
        "_api_username": api_username,
    }


def email_record(
    *,
    date: int,
    user_id: int,
    subaccount_id: int,
    from_email_address_id: int,
    from_name: str,
    to: list[dict[str, str]],
    cc: list[dict[str, str]],
    bcc: list[dict[str, str]],
    subject: str,
    body: str,
    schedule: int,
    message_id: str,
    status: str,
    status_text: str,
    soft_bounce_count: int,
    hard_bounce_count: int,
    price_micros: int,
    custom_string: str | None,
    attachments: list[dict[str, str]],
    body_plain_text: str | None = None,
) -> dict[str, Any]:
    """One transactional email record (OpenAPI ``transactional_email``).

    ``body_plain_text`` defaults to the body without its tags.
    """
    return {
        "user_id": user_id,
        "subaccount_id": subaccount_id,
        "from_email_address_id": from_email_address_id,
        "from_name": from_name,
        "to": to,
        "cc": cc,
        "bcc": bcc,
        "subject": subject,
        "body": body,
        "body_plain_text": _plain(body) if body_plain_text is None else body_plain_text,
        "schedule": schedule,
        "message_id": message_id,
        "status": status,
        "status_text": status_text,
        "soft_bounce_count": soft_bounce_count,
        "hard_bounce_count": hard_bounce_count,
        "price": fmt_money(price_micros, 4),
        "date_added": date,
        "custom_string": custom_string,
        "_attachments": attachments,
        "_currency": CURRENCY,
    }


_TAG = re.compile(r"<[^>]*>")


def _plain(body: str) -> str:
    return " ".join(_TAG.sub(" ", body).split())


def fax_record(
    *,
    date: int,
    user_id: int,
    subaccount_id: int,
    list_id: str | None,
    message_id: str,
    to: str,
    sender: str,
    country: str,
    custom_string: str | None,
    schedule: int,
    pages: int,
    price_micros: int,
    status: str,
    status_code: str | None,
    status_text: str | None,
    from_email: str | None,
    file_url: str,
    api_username: str,
) -> dict[str, Any]:
    """One fax history record (the reference's example keys and types)."""
    return {
        "user_id": user_id,
        "subaccount_id": subaccount_id,
        "list_id": list_id,
        "message_id": message_id,
        "to": to,
        "from": sender,
        "carrier": "",
        "country": country,
        "custom_string": custom_string,
        "schedule": str(schedule),
        "message_pages": f"{pages}.00",
        "message_price": money(price_micros),
        "status": status,
        "status_code": status_code,
        "status_text": status_text,
        "date_added": date,
        "from_email": from_email,
        "_file_url": file_url,
        "date": None,
        "_api_username": api_username,
    }


RETURN_ADDRESS = {
    "return_address_id": 1,
    "user_id": 48213,
    "address_name": "ACME Pty Ltd",
    "address_line_1": "Level 4, 200 Collins Street",
    "address_line_2": "",
    "address_city": "Melbourne",
    "address_state": "VIC",
    "address_postal_code": "3000",
    "address_country": "AU",
}


def letter_record(
    *,
    date: int,
    user_id: int,
    subaccount_id: int,
    message_id: str,
    address: dict[str, str],
    return_address_id: int,
    custom_string: str | None,
    schedule: int,
    source: str | None,
    colour: int,
    duplex: int,
    priority_post: int,
    pages: int,
    price_micros: int,
    status: str,
    status_code: str,
    status_text: str,
    file_url: str,
    api_username: str,
) -> dict[str, Any]:
    """One letter history record (the reference's example keys, plus file and login)."""
    return {
        "user_id": user_id,
        "subaccount_id": subaccount_id,
        "list_id": None,
        "message_id": message_id,
        "address_name": address["address_name"],
        "address_line_1": address["address_line_1"],
        "address_line_2": address.get("address_line_2") or None,
        "address_city": address["address_city"],
        "address_state": address["address_state"],
        "address_postal_code": address["address_postal_code"],
        "address_country": address["address_country"],
        "return_address_id": return_address_id,
        "custom_string": custom_string,
        "schedule": str(schedule),
        "source": source,
        "colour": colour,
        "duplex": duplex,
        "priority_post": priority_post,
        "post_pages": pages,
        "post_price": money(price_micros),
        "status": status,
        "status_code": status_code,
        "status_text": status_text,
        "date_added": date,
        "_file_url": file_url,
        "_api_username": api_username,
    }


def postcard_record(
    *,
    date: int,
    user_id: int,
    subaccount_id: int,
    message_id: str,
    supplier_id: str,
    address: dict[str, str],
    return_address_id: int,
    custom_string: str | None,
    schedule: int,
    source: str | None,
    price_micros: int,
    status: str,
    file_url: str,
    api_username: str,
) -> dict[str, Any]:
    """One postcard history record (the reference's example keys and types)."""
    file_name = file_url.rsplit("/", 1)[-1]
    return {
        "user_id": user_id,
        "subaccount_id": subaccount_id,
        "list_id": None,
        "message_id": message_id,
        "message_id_supplier": supplier_id,
        "address_name": address["address_name"],
        "address_line_1": address["address_line_1"],
        "address_line_2": address.get("address_line_2") or "",
        "address_city": address["address_city"],
        "address_state": address["address_state"],
        "address_postal_code": address["address_postal_code"],
        "address_country": address["address_country"],
        "return_address_id": return_address_id,
        "letter_file_name": file_name,
        "custom_string": custom_string,
        "schedule": str(schedule),
        "ip_address": "127.0.0.1",
        "source": source,
        "post_price": money(price_micros),
        "post_price_supplier": "0.000000",
        "priority": 32,
        "status": status,
        "date_added": date,
        "_file_url": file_url,
        "_return_address": {**RETURN_ADDRESS, "return_address_id": return_address_id},
        "_api_username": api_username,
    }


def voice_receipt_record(rec: dict[str, Any], timestamp: int) -> dict[str, Any]:
    """The receipt of a voice history record (OpenAPI ``voice_receipt``: all strings)."""
    failed = rec["status"] == "Failed"
    return {
        "timestamp_send": str(rec["date_added"]),
        "timestamp": str(timestamp),
        "message_id": rec["message_id"],
        "status_code": rec["status_code"] or "",
        "status_text": rec["status_text"] or "",
        "error_code": rec["status_code"] if failed else None,
        "error_text": rec["status_text"] if failed else None,
        "custom_string": rec["custom_string"] or None,
        "subaccount_id": rec["subaccount_id"],
        "message_type": "voice",
        "digits": rec["digits"] or "",
    }


def fax_receipt_record(rec: dict[str, Any], timestamp: int) -> dict[str, Any]:
    """The receipt of a fax history record (the reference's example: strings throughout)."""
    failed = rec["status"] == "Failed"
    return {
        "timestamp_send": str(rec["date_added"]),
        "timestamp": str(timestamp),
        "message_id": rec["message_id"],
        "status_code": rec["status_code"] or "",
        "status_text": rec["status_text"] or "",
        "error_code": rec["status_code"] if failed else "",
        "error_text": rec["status_text"] if failed else "",
        "custom_string": rec["custom_string"] or "",
        "subaccount_id": rec["subaccount_id"],
        "message_type": "fax",
    }


def inbound_record(
    *,
    timestamp: int,
    sender: str,
    body: str,
    original_body: str,
    original_message_id: str,
    to: str,
    custom_string: str | None,
    message_id: str,
) -> dict[str, Any]:
    """One inbound SMS (OpenAPI ``inbound_sms``; ``custom_string`` "" when the original had none)."""
    words = body.split()
    keyword = "".join(ch for ch in words[0].lower() if ch.isalnum()) if words else ""
    return {
        "timestamp": timestamp,
        "from": sender,
        "body": body,
        "original_body": original_body,
        "original_message_id": original_message_id,
        "to": to,
        "custom_string": custom_string or "",
        "message_id": message_id,
        "_keyword": keyword,
    }


OPT_OUT_WORDS = frozenset(
    {"stop", "stop all", "stopall", "unsubscribe", "end", "quit", "cancel", "opt out", "optout"}
)


def is_opt_out(body: str) -> bool:
    """Whether an inbound body is an opt-out keyword (trimmed, case and punctuation ignored).

    Example::

        >>> is_opt_out("Stop."), is_opt_out(" STOP ALL "), is_opt_out("stop by tomorrow?")
        (True, True, False)
    """
    text = "".join(ch for ch in body.lower() if ch.isalnum() or ch.isspace())
    return " ".join(text.split()) in OPT_OUT_WORDS
