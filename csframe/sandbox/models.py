"""The sandbox's state: accounts and messages in SQLite, plus the queries the API needs.

One :class:`Store` holds one sandbox. It owns a single SQLite connection guarded by a
lock (the server answers from one event-loop thread; seeding and admin calls may come
from others), in memory by default.

Paging without deep OFFSET scans: every message row carries two dense 1-based ordinals
in the API's default order (``date`` then insertion ``id``): ``ord`` within its account
(what the main account sees) and ``sub_ord`` within its subaccount (what a subaccount
sees). Page N of an unfiltered or date-windowed history is then a range lookup on an
index, as cheap on the last page as on the first. Each row also stores its API record
pre-rendered as JSON bytes, so serving a page is a join of byte strings.

Example::

    store = Store()
    seed(store, seed=42, scale="tiny")          # csframe.sandbox.seed
    view = store.principal("csframe_demo").view
    total, rows = store.history(view, HistoryQuery(page=1, limit=15))
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson

from csframe.sandbox.keyset import Keyset, OrderKey

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS users (
    user_id INTEGER PRIMARY KEY,
    username TEXT NOT NULL,
    active INTEGER NOT NULL,
    banned INTEGER NOT NULL,
    balance_micros INTEGER NOT NULL,
    info BLOB NOT NULL               -- the static part of GET /account, as JSON
);
CREATE TABLE IF NOT EXISTS subaccounts (
    subaccount_id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    api_username TEXT NOT NULL UNIQUE,
    api_key TEXT NOT NULL,
    is_main INTEGER NOT NULL,
    sender TEXT NOT NULL,            -- default "from" of this subaccount's seeded traffic
    info BLOB NOT NULL               -- the _subaccount object, as JSON
);
CREATE TABLE IF NOT EXISTS sms (
    id INTEGER PRIMARY KEY,          -- insertion sequence; tie-break on equal dates
    user_id INTEGER NOT NULL,
    subaccount_id INTEGER NOT NULL,
    ord INTEGER NOT NULL,            -- dense position in (date, id) order within user_id
    sub_ord INTEGER NOT NULL,        -- the same within subaccount_id
    date INTEGER NOT NULL,
    to_ TEXT NOT NULL,
    from_ TEXT NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL,
    message_id TEXT NOT NULL,
    message_parts INTEGER NOT NULL,
    price_micros INTEGER NOT NULL,
    username TEXT NOT NULL,
    custom_string TEXT,
    list_id TEXT,
    country TEXT NOT NULL,
    json BLOB NOT NULL               -- the history record, pre-rendered
);
"""

# Built after a bulk load: cheaper than maintaining them row by row.
INDEXES = """
CREATE INDEX IF NOT EXISTS sms_user_ord ON sms(user_id, ord);
CREATE INDEX IF NOT EXISTS sms_sub_ord ON sms(subaccount_id, sub_ord);
CREATE INDEX IF NOT EXISTS sms_user_date ON sms(user_id, date);
CREATE INDEX IF NOT EXISTS sms_sub_date ON sms(subaccount_id, date);
"""
# Built on the first search that needs them (a second or two at 1M rows), not at seed
# time. NOCASE because q= matches case-insensitively; a BINARY index would not be used.
LAZY_INDEXES = {
    "message_id": "CREATE INDEX IF NOT EXISTS sms_message_id ON sms(message_id COLLATE NOCASE)",
    "custom_string": "CREATE INDEX IF NOT EXISTS sms_custom_string ON sms(custom_string COLLATE NOCASE)",
    "to": "CREATE INDEX IF NOT EXISTS sms_to ON sms(to_ COLLATE NOCASE)",
    # (user, status, date): counts a status by index and pages it in date order, no sort.
    "status": "CREATE INDEX IF NOT EXISTS sms_status ON sms(user_id, status COLLATE NOCASE, date)",
}

SMS_COLUMNS = (
    "id, user_id, subaccount_id, ord, sub_ord, date, to_, from_, status, body, message_id, "
    "message_parts, price_micros, username, custom_string, list_id, country, json"
)
_SMS_INSERT = f"INSERT INTO sms ({SMS_COLUMNS}) VALUES ({','.join('?' * 18)})"

# q= fields -> (column, is_integer). Searches are case-insensitive, exact per field.
SEARCH_FIELDS: dict[str, tuple[str, bool]] = {
    "status": ("status", False),
    "to": ("to_", False),
    "from": ("from_", False),
    "subaccount_id": ("subaccount_id", True),
    "message_id": ("message_id", False),
    "custom_string": ("custom_string", False),
    "list_id": ("list_id", False),
    "country": ("country", False),
    "username": ("username", False),
    "_api_username": ("username", False),
    # Read from the stored record (a scan: these are rare filters, e.g. q=status_code:201).
    "status_code": ("CAST(json_extract(CAST(json AS TEXT), '$.status_code') AS TEXT)", False),
    "error_code": ("CAST(json_extract(CAST(json AS TEXT), '$.error_code') AS TEXT)", False),
}
# order_by= fields -> column.
ORDER_FIELDS: dict[str, str] = {
    "date": "date",
    "username": "username",
    "_api_username": "username",
    "from": "from_",
    "to": "to_",
    "status": "status",
    "body": "body",
    "message_id": "message_id",
    "subaccount_id": "subaccount_id",
}


@dataclass(frozen=True)
class View:
    """Whose messages a caller sees: a whole account, or one subaccount of it."""

    user_id: int
    subaccount_id: int | None = None


@dataclass(frozen=True)
class Principal:
    """An authenticated API user (a subaccount login) and the account it belongs to."""

    username: str
    api_key: str
    user_id: int
    subaccount_id: int
    is_main: bool
    active: bool
    banned: bool

    @property
    def view(self) -> View:
        # The main login sees the whole account; any other subaccount only itself.
        return View(self.user_id, None if self.is_main else self.subaccount_id)


@dataclass
class HistoryQuery:
    """Parsed parameters of a history request (already validated)."""

    date_from: int | None = None
    date_to: int | None = None
    page: int = 1
    limit: int = 15
    q: list[tuple[str, str]] = field(default_factory=list)  # (field, value)
    operator: str = "AND"
    order_field: str = "date"
    order_dir: str = "asc"


def sms_record(
    *,
    date: int,
    to: str,
    body: str,
    status: str,
    sender: str,
    schedule: int,
    status_code: str | None,
    status_text: str,
    error_code: str | None,
    error_text: str | None,
    message_id: str,
    message_parts: int,
    message_price: str,
    list_id: str | None,
    custom_string: str | None,
    contact_id: str | None,
    user_id: int,
    subaccount_id: int,
    country: str,
    carrier: str,
    first_name: str | None,
    last_name: str | None,
    api_username: str,
) -> dict[str, Any]:
    """One SMS history record with the keys, order and JSON types of the OpenAPI item.

    Example::

        >>> rec = sms_record(date=1, to="+61411111111", body="hi", status="Sent", sender="ACME",
        ...     schedule=1, status_code=None, status_text="Sent", error_code=None, error_text=None,
        ...     message_id="X", message_parts=1, message_price="0.077000", list_id=None,
        ...     custom_string=None, contact_id=None, user_id=1, subaccount_id=2, country="AU",
        ...     carrier="Telstra", first_name=None, last_name=None, api_username="u")
        >>> rec["schedule"], rec["message_parts"]
        ('1', 1)
    """
    return {
        "direction": "out",
        "date": date,
        "to": to,
        "body": body,
        "status": status,
        "from": sender,
        "schedule": str(schedule),
        "status_code": status_code,
        "status_text": status_text,
        "error_code": error_code,
        "error_text": error_text,
        "message_id": message_id,
        "message_parts": message_parts,
        "message_price": message_price,
        "from_email": None,
        "list_id": list_id,
        "custom_string": custom_string,
        "contact_id": contact_id,
        "user_id": user_id,
        "subaccount_id": subaccount_id,
        "country": country,
        "carrier": carrier,
        "first_name": first_name,
        "last_name": last_name,
        "_api_username": api_username,
    }


def sms_row(record: dict[str, Any], price_micros: int) -> dict[str, Any]:
    """The :meth:`Store.insert_sms` row for a history record made by :func:`sms_record`.

    ``price_micros`` is passed separately: the record's price string is display only.
    """
    return {
        "user_id": record["user_id"],
        "subaccount_id": record["subaccount_id"],
        "date": record["date"],
        "to": record["to"],
        "from": record["from"],
        "status": record["status"],
        "body": record["body"],
        "message_id": record["message_id"],
        "message_parts": record["message_parts"],
        "price_micros": price_micros,
        "username": record["_api_username"],
        "custom_string": record["custom_string"],
        "list_id": record["list_id"],
        "country": record["country"],
        "json": orjson.dumps(record),
    }


def format_uuid(n: int) -> str:
    """An upper-case UUID-style string from a 128-bit integer (ClickSend's id style).

    Example::

        >>> format_uuid(0)
        '00000000-0000-0000-0000-000000000000'
    """
    h = f"{n:032X}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Clock:
    """Sandbox time: the seeded ``now``, advancing with the wall clock from start.

    Seeded data ends at ``now``; messages sent later are dated ``now`` plus the elapsed
    time, so they always land after the seeded rows (and at the end of default order).
    """

    def __init__(self, now: int | None = None) -> None:
        self.set(now if now is not None else int(time.time()))

    def set(self, now: int) -> None:
        self.start = int(now)
        self._t0 = time.monotonic()

    def now(self) -> int:
        return self.start + int(time.monotonic() - self._t0)


class Store:
    """SQLite-backed state of one sandbox (thread-safe through one lock).

    Example::

        store = Store()                    # in memory
        store = Store("/tmp/sb.sqlite")    # on disk, e.g. to inspect with the sqlite3 shell
    """

    def __init__(self, path: str | None = None) -> None:
        self._lock = threading.RLock()
        # how q= compares text: "exact" or "substring" (a fault setting; see faults.py)
        self.search_match = "exact"
        self.ignore_order_by = False  # a fault (faults.py): order_by checked, not applied
        self.keyset = Keyset()  # totals and page cursors of searched/sorted lists
        # isolation_level=None: explicit BEGIN/COMMIT, no implicit transactions.
        self.db = sqlite3.connect(path or ":memory:", check_same_thread=False, isolation_level=None)
        # 16 KiB pages: measurably faster bulk loads and index builds for ~1 KB rows.
        self.db.execute("PRAGMA page_size=16384")
        self.db.execute("PRAGMA journal_mode=WAL")  # a no-op ("memory") for :memory:
        self.db.execute("PRAGMA synchronous=OFF")  # a sandbox need not survive power loss
        self.db.execute("PRAGMA temp_store=MEMORY")
        self.db.execute("PRAGMA cache_size=-262144")  # 256 MiB page cache for file DBs
        self.db.executescript(SCHEMA)
        self.clock = Clock()
        self.seed_value = 0
        self._principals: dict[str, Principal] = {}
        self._ids = random.Random(0)
        self._snapshot: dict[str, Any] = {"max_id": 0, "balances": {}}
        self._renumbered = False
        self._lazy_indexes: set[str] = set()
        self._indexed = False  # core INDEXES exist (built after a bulk load, or on demand)
        # Areas with their own tables (models_<area>.py) append callables taking the store:
        # snapshot hooks run at the end of snapshot(), reset hooks at the end of reset().
        self.snapshot_hooks: list[Any] = []
        self.reset_hooks: list[Any] = []
        # Usage of other channels: fn(store, view, start, end) -> {usage key: [(subaccount_id,
        # username, count, micros)]}, merged into GET /account/usage/... (responses/account.py).
        self.usage_hooks: list[Any] = []

    # ------------------------------------------------------------------ meta

    def set_meta(self, key: str, value: Any) -> None:
        """Store a small JSON-able value (seed parameters, account names...)."""
        with self._lock:
            self.db.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, orjson.dumps(value).decode())
            )

    def get_meta(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return orjson.loads(row[0]) if row else default

    # ------------------------------------------------------------------ accounts

    def add_user(
        self,
        user_id: int,
        username: str,
        *,
        active: bool,
        banned: bool,
        balance_micros: int,
        info: dict[str, Any],
    ) -> None:
        """Create an account (``users`` row). ``info`` is the static part of GET /account."""
        with self._lock:
            self.db.execute(
                "INSERT INTO users VALUES (?,?,?,?,?,?)",
                (user_id, username, int(active), int(banned), balance_micros, orjson.dumps(info)),
            )

    def add_subaccount(
        self,
        subaccount_id: int,
        user_id: int,
        api_username: str,
        api_key: str,
        *,
        is_main: bool,
        sender: str,
        info: dict[str, Any],
    ) -> None:
        """Create a login of an account (every account has one ``is_main`` subaccount)."""
        with self._lock:
            self.db.execute(
                "INSERT INTO subaccounts VALUES (?,?,?,?,?,?,?)",
                (
                    subaccount_id,
                    user_id,
                    api_username,
                    api_key,
                    int(is_main),
                    sender,
                    orjson.dumps(info),
                ),
            )
            self._principals.clear()

    def principal(self, username: str) -> Principal | None:
        """The login ``username`` (cached; accounts do not change while serving)."""
        p = self._principals.get(username)
        if p is not None:
            return p
        with self._lock:
            row = self.db.execute(
                "SELECT s.api_username, s.api_key, s.user_id, s.subaccount_id, s.is_main, u.active, u.banned "
                "FROM subaccounts s JOIN users u USING (user_id) WHERE s.api_username = ?",
                (username,),
            ).fetchone()
        if row is None:
            return None
        p = Principal(row[0], row[1], row[2], row[3], bool(row[4]), bool(row[5]), bool(row[6]))
        self._principals[username] = p
        return p

    def forget_principals(self) -> None:
        """Drop cached logins (after a login is changed or deleted)."""
        self._principals.clear()

    def logins(self) -> list[dict[str, Any]]:
        """Every login with its account: for /_sandbox/accounts."""
        with self._lock:
            rows = self.db.execute(
                "SELECT s.api_username, s.api_key, s.user_id, s.subaccount_id, s.is_main, u.username, "
                "u.active, u.banned, u.balance_micros FROM subaccounts s JOIN users u USING (user_id) "
                "ORDER BY s.user_id, s.subaccount_id"
            ).fetchall()
        keys = (
            "username",
            "api_key",
            "user_id",
            "subaccount_id",
            "is_main",
            "account_username",
            "active",
            "banned",
            "balance_micros",
        )
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def account_info(self, user_id: int) -> tuple[dict[str, Any], int]:
        """``(static info, balance_micros)`` of an account."""
        with self._lock:
            info, balance = self.db.execute(
                "SELECT info, balance_micros FROM users WHERE user_id=?", (user_id,)
            ).fetchone()
        return orjson.loads(info), balance

    def subaccount_info(self, subaccount_id: int) -> dict[str, Any]:
        """The ``_subaccount`` object of a login."""
        with self._lock:
            (info,) = self.db.execute(
                "SELECT info FROM subaccounts WHERE subaccount_id=?", (subaccount_id,)
            ).fetchone()
        return orjson.loads(info)

    def subaccount_sender(self, subaccount_id: int) -> str:
        with self._lock:
            (sender,) = self.db.execute(
                "SELECT sender FROM subaccounts WHERE subaccount_id=?", (subaccount_id,)
            ).fetchone()
        return sender

    def balance(self, user_id: int) -> int:
        """Current balance of an account in micros."""
        with self._lock:
            return self.db.execute(
                "SELECT balance_micros FROM users WHERE user_id=?", (user_id,)
            ).fetchone()[0]

    def set_balance(self, user_id: int, micros: int) -> None:
        with self._lock:
            self.db.execute("UPDATE users SET balance_micros=? WHERE user_id=?", (micros, user_id))

    def new_message_id(self) -> str:
        """A fresh message id; deterministic for a given seed and sequence of sends."""
        with self._lock:
            return format_uuid(self._ids.getrandbits(128))

    # ------------------------------------------------------------------ loading

    def bulk_load_sms(self, rows: Iterable[Sequence[Any]]) -> int:
        """Insert seeded rows (tuples in SMS_COLUMNS order, ords already dense) and index.

        Used once by the seeder on an empty table; returns the number of rows.
        """
        with self._lock:
            cur = self.db.cursor()
            cur.execute("BEGIN")
            cur.executemany(_SMS_INSERT, rows)
            cur.execute("COMMIT")
            self._index()
            self.db.execute("ANALYZE")
            return self.db.execute("SELECT count(*) FROM sms").fetchone()[0]

    def snapshot(self, seed_value: int) -> None:
        """Remember the seeded state so :meth:`reset` can return to it."""
        with self._lock:
            self._index()  # also covers an empty seed
            max_id = self.db.execute("SELECT coalesce(max(id), 0) FROM sms").fetchone()[0]
            balances = dict(self.db.execute("SELECT user_id, balance_micros FROM users").fetchall())
            self._snapshot = {"max_id": max_id, "balances": balances}
            self.seed_value = seed_value
            self._ids = random.Random(f"message-ids:{seed_value}")
            self._renumbered = False
            for hook in self.snapshot_hooks:
                hook(self)

    def reset(self) -> None:
        """Drop everything written since the seed (messages, charges)."""
        with self._lock:
            self.db.execute("BEGIN")
            self.db.execute("DELETE FROM sms WHERE id > ?", (self._snapshot["max_id"],))
            for user_id, bal in self._snapshot["balances"].items():
                self.db.execute("UPDATE users SET balance_micros=? WHERE user_id=?", (bal, user_id))
            if self._renumbered:
                for (user_id,) in self.db.execute("SELECT user_id FROM users").fetchall():
                    self._renumber(user_id)
            self.db.execute("COMMIT")
            self._ids = random.Random(f"message-ids:{self.seed_value}")
            self._renumbered = False
            for hook in self.reset_hooks:
                hook(self)

    def insert_sms(
        self, rows: list[dict[str, Any]], charge: dict[int, int] | None = None
    ) -> dict[str, int]:
        """Commit new message rows (and debit ``charge`` {user_id: micros}) atomically.

        Each row: user_id, subaccount_id, date, to, from, status, body, message_id,
        message_parts, price_micros, username, custom_string, list_id, country, json.
        Rows dated at or after the newest row of their account and subaccount are appended
        (the normal case: sandbox time only moves forward). A row dated in the middle makes
        the account's ordinals be recomputed (a full pass; only test helpers do that).
        Returns ``{message_id: row id}`` of the new rows.
        """
        if not rows and not charge:
            return {}
        rows = sorted(rows, key=lambda r: r["date"])
        with self._lock:
            self._index()
            db = self.db
            db.execute("BEGIN")
            try:
                next_id = db.execute("SELECT coalesce(max(id), 0) + 1 FROM sms").fetchone()[0]
                tails: dict[tuple[str, int], list[int]] = {}  # (kind, key) -> [last ord, last date]
                renumber: set[int] = set()
                tuples = []
                for r in rows:
                    ords = []
                    for kind, key in (
                        ("user_id", r["user_id"]),
                        ("subaccount_id", r["subaccount_id"]),
                    ):
                        tail = tails.get((kind, key))
                        if tail is None:
                            col, idx = (
                                ("ord", "sms_user_ord")
                                if kind == "user_id"
                                else ("sub_ord", "sms_sub_ord")
                            )
                            got = db.execute(
                                f"SELECT {col}, date FROM sms INDEXED BY {idx} WHERE {kind}=? ORDER BY {col} DESC LIMIT 1",
                                (key,),
                            ).fetchone()
                            tail = tails[(kind, key)] = list(got) if got else [0, -(2**62)]
                        if r["date"] < tail[1]:
                            renumber.add(r["user_id"])
                        tail[0] += 1
                        tail[1] = max(tail[1], r["date"])
                        ords.append(tail[0])
                    tuples.append(
                        (next_id, r["user_id"], r["subaccount_id"], ords[0], ords[1], r["date"], r["to"], r["from"], r["status"], r["body"], r["message_id"],
                         r["message_parts"], r["price_micros"], r["username"], r["custom_string"], r["list_id"], r["country"], r["json"])
                    )  # fmt: skip
                    next_id += 1
                db.executemany(_SMS_INSERT, tuples)
                for user_id in renumber:
                    self._renumber(user_id)
                    self._renumbered = True
                self.debit(charge or {})
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return {t[10]: t[0] for t in tuples}  # (id, ..., message_id at 10, ...)

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """One transaction under the store lock, or the caller's if one is already open (the
        connection autocommits each statement otherwise)."""
        with self._lock:
            db = self.db
            if db.in_transaction:
                yield db
                return
            db.execute("BEGIN")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def debit(self, charge: dict[int, int]) -> None:
        """Take ``{user_id: micros}`` off the balances, inside the caller's transaction
        (under ``self._lock``), so that what was sent and what it cost commit together."""
        self.db.executemany(
            "UPDATE users SET balance_micros = balance_micros - ? WHERE user_id=?",
            [(micros, user_id) for user_id, micros in charge.items()],
        )

    def _renumber(self, user_id: int) -> None:
        # Window functions recompute both dense ordinals in one pass each.
        self.db.execute(
            "UPDATE sms SET ord = r.rn FROM (SELECT id, row_number() OVER (ORDER BY date, id) AS rn "
            "FROM sms WHERE user_id=?) AS r WHERE sms.id = r.id",
            (user_id,),
        )
        self.db.execute(
            "UPDATE sms SET sub_ord = r.rn FROM (SELECT id, row_number() OVER "
            "(PARTITION BY subaccount_id ORDER BY date, id) AS rn FROM sms WHERE user_id=?) AS r "
            "WHERE sms.id = r.id",
            (user_id,),
        )

    # ------------------------------------------------------------------ reading

    def history(self, view: View, q: HistoryQuery) -> tuple[int, list[bytes]]:
        """``(total, page rows as JSON bytes)`` for a history request.

        Example::

            total, rows = store.history(View(48213), HistoryQuery(page=2, limit=100))
        """
        view, filters = self._narrow(view, q)
        with self._lock:
            self._index()
            if not filters and q.order_field == "date":
                return self._history_by_ordinal(view, q)
            return self._history_generic(view, q, filters)

    def _narrow(self, view: View, q: HistoryQuery) -> tuple[View, list[tuple[str, str]]]:
        # q=subaccount_id:N alone is common (per-subaccount loads): serve it from the
        # subaccount's own ordinal, which keeps it on the fast path.
        if view.subaccount_id is None and len(q.q) == 1 and q.q[0][0] == "subaccount_id":
            try:
                sid = int(q.q[0][1])
            except ValueError:
                return view, q.q
            owner = self.db.execute(
                "SELECT user_id FROM subaccounts WHERE subaccount_id=?", (sid,)
            ).fetchone()
            if owner is None or owner[0] != view.user_id:
                return View(view.user_id, -1), []  # someone else's subaccount: nothing
            return View(view.user_id, sid), []
        return view, q.q

    @staticmethod
    def _ordinal(view: View) -> tuple[str, str, int, str, str]:
        """(key column, ordinal column, key, ordinal index, date index) of a view.

        The hot queries name their index (INDEXED BY): a lazily created search index has
        no statistics yet, and the planner would otherwise happily pick it and sort.
        """
        if view.subaccount_id is None:
            return "user_id", "ord", view.user_id, "sms_user_ord", "sms_user_date"
        return "subaccount_id", "sub_ord", view.subaccount_id, "sms_sub_ord", "sms_sub_date"

    def _ord_range(self, view: View, date_from: int | None, date_to: int | None) -> tuple[int, int]:
        """Inclusive ordinal range of the rows inside the date window (hi < lo: empty)."""
        key_col, ord_col, key, ord_idx, date_idx = self._ordinal(view)
        db = self.db
        if date_from is None:
            lo = 1
        else:
            got = db.execute(
                f"SELECT {ord_col} FROM sms INDEXED BY {date_idx} WHERE {key_col}=? AND date>=? ORDER BY date, id LIMIT 1",
                (key, date_from),
            ).fetchone()
            if got is None:
                return 1, 0
            lo = got[0]
        if date_to is None:
            sql = f"SELECT max({ord_col}) FROM sms INDEXED BY {ord_idx} WHERE {key_col}=?"
            hi = db.execute(sql, (key,)).fetchone()[0] or 0
        else:
            got = db.execute(
                f"SELECT {ord_col} FROM sms INDEXED BY {date_idx} WHERE {key_col}=? AND date<=? ORDER BY date DESC, id DESC LIMIT 1",
                (key, date_to),
            ).fetchone()
            hi = got[0] if got else 0
        return lo, hi

    def _history_by_ordinal(self, view: View, q: HistoryQuery) -> tuple[int, list[bytes]]:
        lo, hi = self._ord_range(view, q.date_from, q.date_to)
        total = max(0, hi - lo + 1)
        skip = (q.page - 1) * q.limit
        if skip >= total:
            return total, []
        key_col, ord_col, key, ord_idx, _ = self._ordinal(view)
        if q.order_dir == "asc":
            a, b, direction = lo + skip, min(hi, lo + skip + q.limit - 1), "ASC"
        else:
            a, b, direction = max(lo, hi - skip - q.limit + 1), hi - skip, "DESC"
        rows = self.db.execute(
            f"SELECT json FROM sms INDEXED BY {ord_idx} WHERE {key_col}=? AND {ord_col} BETWEEN ? AND ? ORDER BY {ord_col} {direction}",
            (key, a, b),
        ).fetchall()
        return total, [r[0] for r in rows]

    def _where(
        self, view: View, q: HistoryQuery, filters: list[tuple[str, str]]
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = ["user_id=?"]
        args: list[Any] = [view.user_id]
        if view.subaccount_id is not None:
            clauses.append("subaccount_id=?")
            args.append(view.subaccount_id)
        if q.date_from is not None:
            clauses.append("date>=?")
            args.append(q.date_from)
        if q.date_to is not None:
            clauses.append("date<=?")
            args.append(q.date_to)
        if filters:
            parts = []
            for name, value in filters:
                self._ensure_index(name)
                col, is_int = SEARCH_FIELDS[name]
                if is_int:
                    try:
                        parts.append(f"{col}=?")
                        args.append(int(value))
                    except ValueError:
                        parts.append("0")  # a non-number never matches an integer field
                else:
                    parts.append(self.text_match(col))
                    args.append(self.text_value(value))
            joiner = " OR " if q.operator == "OR" else " AND "
            clauses.append("(" + joiner.join(parts) + ")")
        return " AND ".join(clauses), args

    def text_match(self, col: str) -> str:
        """The SQL test of a text search field (one ``?``), per ``search_match``:
        case-insensitive equality, or -- the hostile mode -- case-insensitive containment."""
        if self.search_match == "substring":
            return f"{col} LIKE ? ESCAPE '\\'"
        return f"{col}=? COLLATE NOCASE"

    def text_value(self, value: str) -> str:
        if self.search_match == "substring":
            escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            return f"%{escaped}%"
        return value

    def _index(self) -> None:
        """Create the core indexes (the hot queries name them with INDEXED BY)."""
        if not self._indexed:
            self.db.executescript(INDEXES)
            self._indexed = True

    def _ensure_index(self, search_field: str) -> None:
        ddl = LAZY_INDEXES.get(search_field)
        if ddl and search_field not in self._lazy_indexes:
            self.db.execute(ddl)
            self.db.execute(f"ANALYZE {ddl.split()[5]}")  # give the planner its statistics
            self._lazy_indexes.add(search_field)

    @staticmethod
    def _order_keys(q: HistoryQuery) -> list[OrderKey]:
        """The sort keys of a history query: its field, then date and insertion order."""
        col = ORDER_FIELDS[q.order_field]
        desc = q.order_dir == "desc"
        if col == "date":
            return [("date", desc), ("id", desc)]
        return [(col, desc), ("date", False), ("id", False)]

    def _order(self, q: HistoryQuery) -> str:
        return ", ".join(f"{c} {'DESC' if d else 'ASC'}" for c, d in self._order_keys(q))

    def _history_generic(
        self, view: View, q: HistoryQuery, filters: list[tuple[str, str]]
    ) -> tuple[int, list[bytes]]:
        """A searched or sorted page: keyset paging (``keyset.py``), the total counted once."""
        where, args = self._where(view, q, filters)
        key = (
            "sms", view, tuple(filters), q.operator, q.date_from, q.date_to,
            q.order_field, q.order_dir, q.limit, self.search_match,
        )  # fmt: skip
        total, rows = self.keyset.page(
            self.db, key, "sms", where, args, self._order_keys(q), "json", q.page, q.limit
        )
        return total, [r[0] for r in rows]

    def history_ids(self, view: View, q: HistoryQuery) -> list[str]:
        """Every matching message_id in the order the API pages them (ground truth)."""
        view, filters = self._narrow(view, q)
        with self._lock:
            where, args = self._where(view, q, filters)
            return [
                r[0]
                for r in self.db.execute(
                    f"SELECT message_id FROM sms WHERE {where} ORDER BY {self._order(q)}", args
                )
            ]

    def usage(self, view: View, start: int, end: int) -> list[tuple[int, str, int, int]]:
        """SMS usage in ``[start, end)`` per subaccount: ``(subaccount_id, username, parts, micros)``.

        Computed from the same rows as history, so the two always agree.
        """
        clauses, args = ["m.user_id=?", "m.date>=?", "m.date<?"], [view.user_id, start, end]
        index = "sms_user_date"
        if view.subaccount_id is not None:
            clauses.append("m.subaccount_id=?")
            args.append(view.subaccount_id)
            index = "sms_sub_date"
        with self._lock:
            self._index()
            return self.db.execute(
                "SELECT m.subaccount_id, s.api_username, sum(m.message_parts), sum(m.price_micros) "
                f"FROM sms m INDEXED BY {index} JOIN subaccounts s USING (subaccount_id) "
                f"WHERE {' AND '.join(clauses)} GROUP BY m.subaccount_id ORDER BY m.subaccount_id",
                args,
            ).fetchall()

    def sms_count(self) -> int:
        with self._lock:
            return self.db.execute("SELECT count(*) FROM sms").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self.db.close()
