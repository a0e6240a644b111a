"""The pagination engine: page 1 first, then the rest concurrently, yielded in order.

ClickSend paginates with ``page`` / ``limit`` (15-100) and a block of ``total``,
``last_page``, ... around ``data``. Offset pages shift when rows arrive mid-load, so
callers pin ``date_to`` at load start, and the loaders drop repeated primary keys, so a
shift can never duplicate a row (see :mod:`csframe.loaders`).

Memory stays bounded: at most ``PREFETCH * max_workers`` pages are in flight or waiting to be
yielded, whatever the number of pages.

Example::

    for body in iter_raw_pages(session, "/sms/history", {"date_to": 1767225600}):
        ...
"""

from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:  # for annotations only
    from csframe.session import ApiSession

MIN_LIMIT, MAX_LIMIT = 15, 100
# Pages in flight or waiting per worker. The consumer parses a chunk of pages at a time;
# while it does, the workers must have room to keep fetching or the pipeline stalls.
PREFETCH = 8


def progress_enabled(progress: bool | str) -> bool:
    """``"auto"``: on in notebooks and terminals, off under CI and whenever stdout or
    stderr is not a TTY (cron, ``| cat``, ``> log``: bars there are only noise)."""
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
    return sys.stderr.isatty() and sys.stdout.isatty()


def check_limit(limit: int) -> int:
    """Validate a page size against the API's bounds (15 to 100)."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not MIN_LIMIT <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be an integer from {MIN_LIMIT} to {MAX_LIMIT}, got {limit!r}")
    return limit


def iter_raw_pages(
    session: ApiSession,
    path: str,
    params: dict | None = None,
    *,
    windows: list[dict] | None = None,
    limit: int = MAX_LIMIT,
    max_workers: int = 8,
    expire_after: Any = None,
    progress: bool | str = False,
    desc: str | None = None,
    first_body: bytes | None = None,
) -> Iterator[bytes]:
    """Yield every page's whole response body, window by window and page by page, in
    order, with all windows' pages fetched concurrently by one pool.

    ``windows`` is a list of extra query parameters, one dict per window (e.g. one
    ``date_from``/``date_to`` pair per month); ``expire_after`` may be a callable taking
    that dict. The first page of every window goes out at once (it tells that window's
    ``last_page``); the rest follow ``max_workers`` at a time, with at most
    ``PREFETCH * max_workers`` bodies held. ``first_body``, when given, is page 1 of the first
    window, already fetched (e.g. by a count probe). ``session`` is an
    :class:`csframe.session.ApiSession`.
    """
    check_limit(limit)
    base = dict(params or {})
    base["limit"] = limit
    windows = windows or [{}]

    # one expiry per window, worked out once (from dates), not once per page
    expiries = [expire_after(w) if callable(expire_after) else expire_after for w in windows]

    def fetch(w_index: int, page: int) -> bytes:
        params = {**base, **windows[w_index], "page": page}
        return session.get_raw(path, params, expire_after=expiries[w_index])

    bar = None
    workers = max(1, max_workers)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="csframe-page") as pool:
        firsts = [pool.submit(fetch, i, 1) for i in range(1 if first_body else 0, len(windows))]
        if first_body is not None:
            done: Future = Future()
            done.set_result(first_body)
            firsts.insert(0, done)

        def plan() -> Iterator[Future | tuple[int, int]]:
            """Every page in yield order: a window's first page (already submitted), then
            the (window index, page) pairs its ``last_page`` calls for."""
            nonlocal bar
            for w_index in range(len(windows)):
                yield firsts[w_index]
                last_page = _last_page(firsts[w_index].result(), path)
                if (
                    progress_enabled(progress)
                    and bar is None
                    and (last_page > 1 or len(windows) > 1)
                ):
                    from tqdm.auto import tqdm

                    # The total is known before the bar starts: every window's first page
                    # is already in flight (submitted first), and each says its last_page.
                    # A total that grew window by window made % and ETA meaningless.
                    total = sum(_last_page(f.result(), path) for f in firsts[w_index:])
                    bar = tqdm(desc=desc or path, unit="page", leave=False, total=total)
                for page in range(2, last_page + 1):
                    yield w_index, page

        jobs = plan()
        pending: deque[Future] = deque()

        def top_up() -> None:
            # Keep the pool fed across window boundaries: the next window's pages are
            # submitted while this one's are still being fetched, never after a drain.
            while len(pending) < workers * PREFETCH:
                job = next(jobs, None)
                if job is None:
                    return
                pending.append(job if isinstance(job, Future) else pool.submit(fetch, *job))

        try:
            top_up()
            while pending:
                body = pending.popleft().result()
                top_up()  # before yielding, so the workers stay busy while the caller parses
                yield _advance(body, bar)
        finally:
            for fut in [*pending, *firsts]:
                fut.cancel()
            if bar is not None:
                bar.close()


def page_block(payload: dict) -> dict | None:
    """The pagination block of a parsed page: the envelope's ``data``, or the page itself
    for the few endpoints (``GET /mms-campaigns``) that answer without an envelope."""
    if not isinstance(payload, dict):
        return None
    inner = payload.get("data")
    if isinstance(inner, dict) and isinstance(inner.get("data"), list):
        return inner
    if isinstance(inner, list) and "last_page" in payload:
        return payload
    return None


def _last_page(body: bytes, path: str) -> int:
    block = page_block(orjson.loads(body))
    if block is None:
        raise ValueError(f"GET {path}: not a paginated response")
    return max(1, int(block.get("last_page") or 1))


def _advance(body: bytes, bar: Any) -> bytes:
    if bar is not None:
        bar.update(1)
    return body
