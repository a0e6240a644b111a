"""Keyset paging for the searched and sorted lists (``q=``, ``order_by=``) of one store.

A filtered page used to cost a ``count(*)`` of every matching row plus an ``OFFSET``
scan of every row before the page: the deeper the page, the dearer. A client pages in
order, so this remembers, per query (everything but ``page``): the total, counted once,
and for each page served the sort key of its last row; page N+1 then starts right after
page N's last row (an index seek, ``LIMIT`` rows read). Both are kept only while the
store has not been written (SQLite's ``total_changes`` is unchanged): after any write --
a send, a delivery, a reset -- the next page is counted and offset again, so the
answers are always exactly what count + OFFSET paging gives. A page asked for out of
order (no cursor for the page before it) is served by OFFSET.

Example::

    pager = Keyset()
    total, rows = pager.page(db, key, "sms", "user_id=?", [48213],
                             [("date", False), ("id", False)], "json", page=2, limit=100)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

# One sort key: (SQL expression, descending?)
OrderKey = tuple[str, bool]


@dataclass
class _Query:
    changes: int
    total: int
    after: dict[int, tuple[Any, ...]] = field(default_factory=dict)  # page -> last row's keys


def after_predicate(order: Sequence[OrderKey], last: Sequence[Any]) -> tuple[str, list[Any]]:
    """SQL that keeps the rows sorting strictly after a row whose sort keys are ``last``
    (NULL-safe: SQLite sorts NULL first ascending, last descending).

    Example::

        >>> after_predicate([("date", False), ("id", False)], [5, 9])
        ('(date, id) > (?, ?)', [5, 9])
        >>> after_predicate([("status", True), ("id", False)], ["Sent", 9])[0]
        '((status < ? OR status IS NULL) OR (status IS ? AND id > ?))'
    """
    if len({desc for _, desc in order}) == 1 and None not in last:
        # One direction, no NULL: a row-value comparison, which SQLite seeks in an index.
        cols = ", ".join(expr for expr, _ in order)
        marks = ", ".join("?" * len(order))
        return f"({cols}) {'<' if order[0][1] else '>'} ({marks})", list(last)
    terms, args = [], []
    for i, (expr, desc) in enumerate(order):
        parts, part_args = [], []
        for (prev, _), value in zip(order[:i], last[:i], strict=True):
            parts.append(f"{prev} IS ?")
            part_args.append(value)
        value = last[i]
        if value is None:
            if desc:
                continue  # nothing sorts after NULL descending
            parts.append(f"{expr} IS NOT NULL")
        elif desc:
            parts.append(f"({expr} < ? OR {expr} IS NULL)")
            part_args.append(value)
        else:
            parts.append(f"{expr} > ?")
            part_args.append(value)
        terms.append(" AND ".join(parts))
        args += part_args
    if not terms:
        return "0", []
    return "(" + " OR ".join(f"({t})" if " AND " in t else t for t in terms) + ")", args


class Keyset:
    """Totals and page cursors of recent queries (at most ``size``, least recent dropped).

    Callers hold the store lock: one connection, one cache.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._queries: OrderedDict[Hashable, _Query] = OrderedDict()
        self.seeks = self.offsets = self.counts = 0  # how pages were served (bench, tests)

    def counters(self) -> dict[str, int]:
        """``counts`` (totals counted), ``seeks`` (pages started after the previous page's
        last row) and ``offsets`` (pages served by OFFSET) since the last reset."""
        return {"counts": self.counts, "seeks": self.seeks, "offsets": self.offsets}

    def reset_counters(self) -> None:
        self.seeks = self.offsets = self.counts = 0

    def page(
        self,
        db: Any,
        key: Hashable,
        table: str,
        where: str,
        args: Sequence[Any],
        order: Sequence[OrderKey],
        select: str,
        page: int,
        limit: int,
    ) -> tuple[int, list[tuple[Any, ...]]]:
        """``(total, rows)`` of page ``page`` (1-based) of ``SELECT select FROM table WHERE
        where ORDER BY order``; rows are tuples of the ``select`` columns."""
        changes = db.total_changes
        q = self._queries.get(key)
        if q is None or q.changes != changes:
            total = db.execute(f"SELECT count(*) FROM {table} WHERE {where}", args).fetchone()[0]
            self.counts += 1
            q = _Query(changes, total)
            self._queries[key] = q
            if len(self._queries) > self.size:
                self._queries.popitem(last=False)
        self._queries.move_to_end(key)
        skip = (page - 1) * limit
        if skip >= q.total:
            return q.total, []
        keys = ", ".join(expr for expr, _ in order)
        order_sql = ", ".join(f"{expr} {'DESC' if desc else 'ASC'}" for expr, desc in order)
        sql = f"SELECT {select}, {keys} FROM {table} WHERE {where}"
        last = q.after.get(page - 1)
        if page == 1:
            rows = db.execute(f"{sql} ORDER BY {order_sql} LIMIT ?", [*args, limit]).fetchall()
        elif last is not None:
            pred, pred_args = after_predicate(order, last)
            rows = db.execute(
                f"{sql} AND {pred} ORDER BY {order_sql} LIMIT ?", [*args, *pred_args, limit]
            ).fetchall()
            self.seeks += 1
        else:
            rows = db.execute(
                f"{sql} ORDER BY {order_sql} LIMIT ? OFFSET ?", [*args, limit, skip]
            ).fetchall()
            self.offsets += 1
        n = len(order)
        if len(rows) == limit:
            q.after[page] = tuple(rows[-1][-n:])
        return q.total, [tuple(r[:-n]) for r in rows]
