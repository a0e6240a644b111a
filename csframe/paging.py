"""The pagination engine: page 1 first, then the rest concurrently, yielded in order.

ClickSend paginates with ``page`` / ``limit`` (15-100) and a block of ``total``,
``last_page``, ... around ``data``. Offset pages shift when rows arrive mid-load, so
callers pin ``date_to`` at load start (see :mod:`csframe.loaders`); this module also drops
repeated primary keys, so a shift can never duplicate a row.

Memory stays bounded: at most ``2 * max_workers`` pages are in flight or waiting to be
yielded, whatever the number of pages.

Example::

    for records in iter_pages(session, "/sms/history", {"date_to": 1767225600}):
        ...
"""

from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

MIN_LIMIT, MAX_LIMIT = 15, 100


def progress_enabled(progress: bool | str) -> bool:
    """``"auto"``: on in notebooks and terminals, off when not a TTY or under CI."""
    if progress in (True, False):
        return bool(progress)
    if os.environ.get("CI"):
        return False
    try:  # a Jupyter kernel has no TTY but still wants bars
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell":
            return True
    except Exception:
        pass
    return sys.stderr.isatty()


def check_limit(limit: int) -> int:
    """Validate a page size against the API's bounds (15 to 100)."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not MIN_LIMIT <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be an integer from {MIN_LIMIT} to {MAX_LIMIT}, got {limit!r}")
    return limit


def iter_raw_pages(
    session,
    path: str,
    params: dict | None = None,
    *,
    limit: int = MAX_LIMIT,
    max_workers: int = 8,
    expire_after: Any = None,
    progress: bool | str = False,
    desc: str | None = None,
) -> Iterator[bytes]:
    """Yield each page's whole response body, in page order, fetching pages concurrently.

    Page 1 is read first for ``last_page``; the rest go out ``max_workers`` at a time,
    with at most ``2 * max_workers`` bodies held. ``session`` is an
    :class:`csframe.session.ApiSession`.
    """
    check_limit(limit)
    base = dict(params or {})
    base["limit"] = limit

    def fetch(page: int) -> bytes:
        return session.get_raw(path, {**base, "page": page}, expire_after=expire_after)

    first = fetch(1)
    block = (orjson.loads(first) or {}).get("data")
    if not isinstance(block, dict) or "data" not in block:
        raise ValueError(f"GET {path}: not a paginated response")
    last_page = max(1, int(block.get("last_page") or 1))
    bar = None
    if progress_enabled(progress) and last_page > 1:
        from tqdm.auto import tqdm

        bar = tqdm(total=last_page, desc=desc or path, unit="page", leave=False)
    try:
        yield first
        if bar is not None:
            bar.update(1)
        if last_page == 1:
            return
        workers = max(1, min(max_workers, last_page - 1))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="csframe-page") as pool:
            pending: deque = deque()
            next_page = 2
            try:
                while next_page <= last_page or pending:
                    while next_page <= last_page and len(pending) < workers * 2:
                        pending.append(pool.submit(fetch, next_page))
                        next_page += 1
                    yield pending.popleft().result()
                    if bar is not None:
                        bar.update(1)
            finally:
                for fut in pending:
                    fut.cancel()
    finally:
        if bar is not None:
            bar.close()


def iter_pages(
    session,
    path: str,
    params: dict | None = None,
    *,
    primary_key: str | None = None,
    **kw,
) -> Iterator[list[dict]]:
    """Yield each page's records (parsed), in page order; see :func:`iter_raw_pages`.

    Repeated ``primary_key`` values (a row seen on an earlier page) are dropped.
    """
    seen: set = set()
    for body in iter_raw_pages(session, path, params, **kw):
        records = orjson.loads(body)["data"]["data"] or []
        if primary_key is None:
            yield records
            continue
        out = []
        for rec in records:
            key = rec.get(primary_key)
            if key is None or key not in seen:
                if key is not None:
                    seen.add(key)
                out.append(rec)
        yield out
