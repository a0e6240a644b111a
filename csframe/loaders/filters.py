"""Server-side filters for loaders: ``q`` (search), ``operator`` and ``order_by``, checked
against the columns a resource declares before any request.

The API's generic search is ``q=field:value,field2:value2`` with ``operator=AND|OR``
(case-insensitive, per the reference) and its sort is ``order_by=field:asc|desc``.

Example::

    >>> from csframe import schema
    >>> filter_params(schema.SMS_HISTORY, {"status": "Failed"}, "AND", ("date", "desc"))
    {'q': 'status:Failed', 'operator': 'AND', 'order_by': 'date:desc'}
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pandas as pd
import pyarrow as pa

from csframe import schema


def _field(resource: schema.Resource, name: Any, what: str) -> str:
    if not isinstance(name, str) or name.strip().lower() not in resource.column_names:
        allowed = ", ".join(resource.column_names)
        raise ValueError(f"{what}: {resource.name} has no field {name!r}; allowed: {allowed}")
    return name.strip().lower()


def parse_q(resource: schema.Resource, q: Mapping[str, Any] | str) -> list[tuple[str, str]]:
    """``[(field, value), ...]`` from a dict or a raw ``"field:value,..."`` string."""
    if isinstance(q, Mapping):
        pairs = list(q.items())
    elif isinstance(q, str):
        pairs = []
        for part in filter(None, (p.strip() for p in q.split(","))):
            name, sep, value = part.partition(":")
            if not sep:
                raise ValueError(f"q: {part!r} is not field:value")
            pairs.append((name, value))
    else:
        raise ValueError(f"q must be a dict {{field: value}} or 'field:value,...'; got {q!r}")
    if not pairs:
        raise ValueError("q is empty; leave it out to load everything")
    out = []
    for name, value in pairs:
        field = _field(resource, name, "q")
        text = str(value).strip()
        if "," in text or not text:
            raise ValueError(f"q: the value for {field!r} must be non-empty and without commas")
        out.append((field, text))
    return out


def parse_order_by(resource: schema.Resource, order_by: Any) -> tuple[str, str]:
    """``(field, "asc"|"desc")`` from ``("date", "desc")``, ``"date:desc"`` or ``"date"``."""
    if isinstance(order_by, str):
        name, _, direction = order_by.partition(":")
    elif isinstance(order_by, tuple | list) and len(order_by) == 2:
        name, direction = order_by
    else:
        raise ValueError(
            f"order_by must be ('field', 'asc'|'desc') or 'field:dir'; got {order_by!r}"
        )
    direction = (str(direction) or "asc").strip().lower()
    if direction not in ("asc", "desc"):
        raise ValueError(f"order_by: the direction must be 'asc' or 'desc', got {direction!r}")
    return _field(resource, name, "order_by"), direction


def filter_params(
    resource: schema.Resource,
    q: Mapping[str, Any] | str | None = None,
    operator: str | None = None,
    order_by: str | tuple[str, str] | None = None,
) -> dict[str, str]:
    """The query parameters for ``q``/``operator``/``order_by`` (validated; {} for none)."""
    params: dict[str, str] = {}
    if q is not None:
        params["q"] = ",".join(f"{f}:{v}" for f, v in parse_q(resource, q))
        op = (operator or "AND").strip().upper() if isinstance(operator, str | None) else operator
        if op not in ("AND", "OR"):
            raise ValueError(f"operator must be 'AND' or 'OR', got {operator!r}")
        params["operator"] = op
    elif operator is not None:
        raise ValueError("operator goes with q")
    if order_by is not None:
        field, direction = parse_order_by(resource, order_by)
        params["order_by"] = f"{field}:{direction}"
    return params


def check_columns(resource: schema.Resource, columns: object) -> list[str] | None:
    """``columns`` as a list of declared column names (None: all)."""
    if columns is None:
        return None
    names = [] if isinstance(columns, str) or not isinstance(columns, Iterable) else list(columns)
    if not names or not all(isinstance(c, str) for c in names):
        raise ValueError(f"columns must be a list of column names, got {columns!r}")
    cols: list[str] = list(dict.fromkeys(names))
    unknown = [c for c in cols if c not in resource.column_names]
    if unknown or not cols:
        raise ValueError(
            f"columns: {resource.name} has no column(s) {unknown}; known: "
            f"{', '.join(resource.column_names)}"
        )
    return cols


def check_max_rows(max_rows: object) -> int | None:
    if max_rows is None:
        return None
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
        raise ValueError(f"max_rows must be a positive integer, got {max_rows!r}")
    return max_rows


def chunk_pages_for(max_rows: int | None, limit: int, default: int = 100) -> int:
    """Pages per parsed chunk: ``default``, or few enough to stop soon after ``max_rows``."""
    if max_rows is None:
        return default
    limit = limit if isinstance(limit, int) and limit > 0 else 100
    return min(default, max(1, -(-max_rows // limit)))


def collect(
    chunks: Iterator[pa.Table], columns: list[str] | None, max_rows: int | None
) -> pa.Table:
    """One table from parsed chunks: each projected to ``columns`` as it comes (memory
    follows), and the fetch stopped (pending pages cancelled) once ``max_rows`` are in."""
    tables, rows = [], 0
    for table in chunks:
        if columns is not None:
            table = table.select([c for c in columns if c in table.column_names])
        tables.append(table)
        rows += table.num_rows
        if max_rows is not None and rows >= max_rows:
            chunks.close()  # type: ignore[attr-defined]  # a generator: stops its pool
            break
    table = pa.concat_tables(tables, promote_options="permissive") if tables else pa.table({})
    return table.slice(0, max_rows) if max_rows is not None else table


def refuse_search(
    what: str, q: object = None, operator: object = None, order_by: object = None
) -> None:
    """A ValueError when ``q``/``operator``/``order_by`` are given to a loader whose API
    endpoint cannot search or sort (``what`` names it), rather than ignoring them."""
    pairs = (("q", q), ("operator", operator), ("order_by", order_by))
    given = [n for n, v in pairs if v is not None]
    if given:
        raise ValueError(
            f"{what} cannot search or sort ({', '.join(given)} given): the API endpoint takes "
            "no q/operator/order_by; filter and sort the frame in pandas"
        )


def head(df: pd.DataFrame, columns: list[str] | None, max_rows: int | None) -> pd.DataFrame:
    """``df`` cut to ``columns`` and its first ``max_rows`` rows (attrs kept)."""
    out = df if columns is None else df[columns]
    out = out if max_rows is None else out.head(max_rows)
    out.attrs = dict(df.attrs)
    return out
