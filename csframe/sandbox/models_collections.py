"""Generic collections: small per-account record sets served by one table-driven handler.

Every documented list endpoint that no other area implements (templates, automation
rules, email addresses, return addresses, dedicated numbers, delivery issues, alpha tags,
own numbers, ...) keeps its records here: one SQLite table ``collection_items`` holding
each record as JSON, keyed by the collection name, the owning account (``user_id``; 0 for
global reference data) and the record id. The collections are small (tens to thousands
of rows), so filtering (``q=``) and sorting (``order_by=``) happen in Python on the
decoded records; paging slices the result.

Also here: :func:`track_tables`, which makes :meth:`Store.snapshot`/:meth:`Store.reset`
cover an area's tables (copy at snapshot, restore at reset), and :func:`next_counter`,
a persistent per-name sequence for ids and deterministic keys.

Example::

    add_items(store, "sms_templates", 48213, "template_id", [{"template_name": "Hi", ...}])
    total, rows = list_items(store, "sms_templates", 48213, ItemQuery(page=1, limit=15))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from csframe.sandbox.models import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS collection_items (
    coll TEXT NOT NULL,              -- collection name (see responses/collections.py)
    user_id INTEGER NOT NULL,        -- owning account; 0 = global reference data
    item_id TEXT NOT NULL,           -- the record's id, as text
    seq INTEGER NOT NULL,            -- insertion order (default order)
    json BLOB NOT NULL,              -- the record
    PRIMARY KEY (coll, item_id)
);
CREATE INDEX IF NOT EXISTS collection_items_user ON collection_items(coll, user_id, seq);
CREATE TABLE IF NOT EXISTS area_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def setup(store: Store) -> None:
    """Create the tables; reset restores them to the seeded state."""
    with store._lock:
        store.db.executescript(SCHEMA)
    track_tables(store, "collection_items", "area_counters")


def track_tables(store: Store, *tables: str, on_reset: Any = None) -> None:
    """Make ``store.snapshot()``/``store.reset()`` copy and restore ``tables``.

    The snapshot is a plain copy (``_snap_<table>``); reset empties each table and
    copies it back, then calls ``on_reset(store)`` if given. Tables already tracked are
    ignored, so calling this twice is harmless.

    Example::

        track_tables(store, "sms_campaigns", "email_campaigns")
    """
    tracked: set[str] = store.__dict__.setdefault("_tracked_tables", set())
    new = [t for t in tables if t not in tracked]
    if not new and on_reset is None:
        return
    tracked.update(new)

    def snapshot(s: Store) -> None:
        for t in new:
            s.db.execute(f"DROP TABLE IF EXISTS _snap_{t}")
            s.db.execute(f"CREATE TABLE _snap_{t} AS SELECT * FROM {t}")

    def reset(s: Store) -> None:
        with s.transaction() as db:
            for t in new:
                db.execute(f"DELETE FROM {t}")
                db.execute(f"INSERT INTO {t} SELECT * FROM _snap_{t}")
        if on_reset is not None:
            on_reset(s)

    store.snapshot_hooks.append(snapshot)
    store.reset_hooks.append(reset)


def bulk(store: Store, sql: str, rows: Any) -> None:
    """``executemany`` in one transaction (the Store autocommits each statement otherwise:
    a transaction per row), or inside the caller's if one is open."""
    with store.transaction() as db:
        db.executemany(sql, rows)


def next_counter(store: Store, name: str, start: int = 1) -> int:
    """The next value of a persistent sequence (``start`` the first time).

    Example::

        next_counter(store, "subaccount-keys")   # 1, then 2, ...
    """
    with store._lock:
        row = store.db.execute("SELECT value FROM area_counters WHERE name=?", (name,)).fetchone()
        value = start if row is None else row[0] + 1
        store.db.execute("INSERT OR REPLACE INTO area_counters VALUES (?, ?)", (name, value))
        return value


@dataclass
class ItemQuery:
    """Paging, search and order of a collection read (already validated)."""

    page: int = 1
    limit: int = 15
    q: list[tuple[str, str]] = field(default_factory=list)
    operator: str = "AND"
    order_field: str | None = None  # None: insertion order
    order_dir: str = "asc"
    match: str = "exact"  # how q= compares text: "exact" or "substring" (a fault mode)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _sort_key(value: Any) -> tuple[int, Any]:
    # Numbers before strings before null, so mixed columns still sort deterministically.
    if value is None:
        return (2, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    return (1, _text(value).lower())


def filter_sort(records: list[dict[str, Any]], q: ItemQuery) -> list[dict[str, Any]]:
    """Apply ``q=`` (exact, case-insensitive per field) and ``order_by`` to records.

    Example::

        >>> rows = [{"a": "X", "n": 2}, {"a": "y", "n": 1}]
        >>> filter_sort(rows, ItemQuery(q=[("a", "x")]))
        [{'a': 'X', 'n': 2}]
        >>> [r["n"] for r in filter_sort(rows, ItemQuery(order_field="n"))]
        [1, 2]
    """
    out = records
    if q.q:
        wanted = [(name, value.lower()) for name, value in q.q]
        test = any if q.operator == "OR" else all
        if q.match == "substring":
            out = [r for r in out if test(v in _text(r.get(n)).lower() for n, v in wanted)]
        else:
            out = [r for r in out if test(_text(r.get(n)).lower() == v for n, v in wanted)]
    if q.order_field:
        name = q.order_field
        out = sorted(out, key=lambda r: _sort_key(r.get(name)), reverse=q.order_dir == "desc")
    return out


def page_of(records: list[Any], q: ItemQuery) -> list[Any]:
    start = (q.page - 1) * q.limit
    return records[start : start + q.limit]


# ---------------------------------------------------------------------- items


def all_items(store: Store, coll: str, user_id: int) -> list[dict[str, Any]]:
    """Every record of a collection for an account, in insertion order."""
    with store._lock:
        rows = store.db.execute(
            "SELECT json FROM collection_items WHERE coll=? AND user_id=? ORDER BY seq",
            (coll, user_id),
        ).fetchall()
    return [orjson.loads(r[0]) for r in rows]


def list_items(
    store: Store, coll: str, user_id: int, q: ItemQuery
) -> tuple[int, list[dict[str, Any]]]:
    """``(total, page of records)`` after search and order."""
    matching = filter_sort(all_items(store, coll, user_id), q)
    return len(matching), page_of(matching, q)


def get_item(store: Store, coll: str, user_id: int, item_id: Any) -> dict[str, Any] | None:
    with store._lock:
        row = store.db.execute(
            "SELECT json FROM collection_items WHERE coll=? AND item_id=? AND user_id=?",
            (coll, str(item_id), user_id),
        ).fetchone()
    return orjson.loads(row[0]) if row else None


def next_int_id(store: Store, coll: str, first: int = 1) -> int:
    """One more than the largest integer id of a collection (or ``first``)."""
    with store._lock:
        row = store.db.execute(
            "SELECT max(CAST(item_id AS INTEGER)) FROM collection_items WHERE coll=?", (coll,)
        ).fetchone()
    return max(first, (row[0] or 0) + 1)


def add_items(
    store: Store, coll: str, user_id: int, id_field: str, records: list[dict[str, Any]]
) -> None:
    """Append records (each must carry its ``id_field``)."""
    with store._lock:
        seq = store.db.execute(
            "SELECT coalesce(max(seq), 0) FROM collection_items WHERE coll=?", (coll,)
        ).fetchone()[0]
        bulk(
            store,
            "INSERT INTO collection_items VALUES (?,?,?,?,?)",
            [
                (coll, user_id, str(r[id_field]), seq + i, orjson.dumps(r))
                for i, r in enumerate(records, 1)
            ],
        )


def put_item(store: Store, coll: str, user_id: int, item_id: Any, record: dict[str, Any]) -> None:
    """Replace a stored record (same id, same position)."""
    with store._lock:
        store.db.execute(
            "UPDATE collection_items SET json=? WHERE coll=? AND item_id=? AND user_id=?",
            (orjson.dumps(record), coll, str(item_id), user_id),
        )


def delete_item(store: Store, coll: str, user_id: int, item_id: Any) -> bool:
    with store._lock:
        cur = store.db.execute(
            "DELETE FROM collection_items WHERE coll=? AND item_id=? AND user_id=?",
            (coll, str(item_id), user_id),
        )
    return cur.rowcount > 0
