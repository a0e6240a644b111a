"""The HTTP cache behind :class:`csframe.session.ApiSession`: requests-cache, tuned for
many concurrent page reads.

Three changes to requests-cache's SQLite backend, all through its extension points (a
custom backend and ``key_fn``), measured in ``bench/history_load.py``:

- **Reads do not queue behind writes.** requests-cache's ``SQLiteDict`` shares one
  connection, and one lock, between all threads, and holds that lock for a whole write
  transaction; eight workers saving pages made every lookup wait for the last save. Here
  each thread reads through a connection of its own. In WAL mode a reader never waits for
  the writer and sees only committed rows; writes stay serialised on the shared connection.
  The redirects table, which stays empty, is not queried at all while it is.
- **Writes leave the request path.** A saved response is queued and one writer thread
  stores the queue many responses per transaction. Workers go back to the network at once.
  A lookup of a key still in the queue waits for the writer, so a read always sees the
  writes made before it; ``close()`` (and interpreter exit) drains the queue. The writer
  copies the response into requests-cache's ``CachedResponse`` itself: the response is
  complete by then and nothing changes it afterwards but requests-cache's own attributes.
- **A cheap cache key.** The default key normalises the URL with ``url_normalize`` and
  re-parses the query (about a millisecond a request, on a thread holding the GIL). csframe
  builds every URL itself, so method plus URL with its query sorted is as good a key.
  Headers are never part of it: Authorization is neither stored nor matched.

Not fork-safe: a child process inherits the queue but not the writer thread (nor usable
SQLite connections, as with stock requests-cache); create the Client after forking.

Example::

    http = cached_session(path)          # a requests_cache.CachedSession
    http.get("http://127.0.0.1:8765/v3/sms/history", params={"page": 2})
"""

from __future__ import annotations

import atexit
import logging
import queue
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from hashlib import blake2b
from pathlib import Path
from urllib.parse import urlsplit

import requests_cache
from requests_cache.backends.base import BaseCache
from requests_cache.backends.sqlite import SQLiteCache, SQLiteDict

log = logging.getLogger("csframe")

# Responses waiting for the writer (bounded: a slow disk slows the workers, not memory),
# and how many it stores per transaction.
WRITE_QUEUE = 64
WRITE_BATCH = 32


def cache_key(request, **_ignored) -> str:
    """requests-cache ``key_fn``: a digest of the method, the URL with its query parameters
    in sorted order, and the body (GETs have none).

    Example::

        cache_key(requests.Request("GET", url, params={"b": 1, "a": 2}).prepare())
    """
    parts = urlsplit(request.url or "")
    query = "&".join(sorted(parts.query.split("&"))) if parts.query else ""
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    digest = blake2b(digest_size=16)
    digest.update(f"{request.method} {parts.scheme}://{parts.netloc}{parts.path}?{query}".encode())
    digest.update(b"\0")
    digest.update(body)
    return digest.hexdigest()


class _ThreadReadDict(SQLiteDict):
    """``SQLiteDict`` whose reads use one connection per thread (see the module doc)."""

    def __init__(self, *args, **kwargs) -> None:
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()  # not the write lock: readers never wait on it
        super().__init__(*args, **kwargs)

    @contextmanager
    def _acquire_sqlite_lock(self):
        with super()._acquire_sqlite_lock():
            self._local.writing = True
            try:
                yield
            finally:
                self._local.writing = False

    @contextmanager
    def connection(self, commit: bool = False) -> Iterator[sqlite3.Connection]:
        if commit or getattr(self._local, "writing", False):
            # writes, and reads inside this thread's own write transaction, keep
            # requests-cache's shared connection
            with super().connection(commit=commit) as con:
                yield con
            return
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.db_path, isolation_level=None, check_same_thread=False)
            if self.busy_timeout is not None:
                con.execute(f"PRAGMA busy_timeout={self.busy_timeout}")
            self._local.con = con
            with self._readers_lock:
                self._readers.append(con)
        yield con

    def __getitem__(self, key):
        if getattr(self._local, "writing", False):
            return super().__getitem__(key)
        with self.connection() as con:
            # A bound parameter on this thread's own connection: SQLite reuses the compiled
            # statement (requests-cache pastes the key into the SQL text, for its shared
            # connection's sake, and so compiles every lookup anew).
            row = con.execute(f"SELECT value FROM {self.table_name} WHERE key=?", (key,)).fetchone()
        if not row:
            raise KeyError(key)
        return self.deserialize(key, row[0])

    def close(self) -> None:
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for con in readers:
            con.close()
        self._local = threading.local()
        super().close()


class _RedirectsDict(_ThreadReadDict):
    """The redirects table. API traffic never fills it, so while it is empty a lookup
    answers "not there" without a query: one SELECT less on every cache miss."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._empty = not self.count()

    def __setitem__(self, key, value) -> None:
        self._empty = False
        super().__setitem__(key, value)

    def __getitem__(self, key):
        if self._empty:
            raise KeyError(key)
        return super().__getitem__(key)


class ConcurrentSQLiteCache(SQLiteCache):
    """requests-cache's SQLite backend with per-thread read connections and a write-behind
    thread (see the module doc)."""

    def __init__(self, db_path: str, serializer=None, **kwargs) -> None:
        # BaseCache's constructor, not SQLiteCache's: that one would open requests-cache's
        # own storage (and create the tables) only for it to be replaced here.
        BaseCache.__init__(self, cache_name=str(db_path), **kwargs)
        skwargs = {"serializer": serializer, **kwargs} if serializer else kwargs
        self.responses = _ThreadReadDict(db_path, table_name="responses", **skwargs)
        self.redirects = _RedirectsDict(
            db_path, table_name="redirects", lock=self.responses._lock, serializer=None, **kwargs
        )
        self._queue: queue.Queue = queue.Queue(maxsize=WRITE_QUEUE)
        self._unsaved: dict[str, int] = {}  # key -> saves queued for it
        self._unsaved_lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()
        _OPEN.add(self)

    # -- writes: queued, then stored by one thread, many per transaction -----------------------
    def save_response(self, response, cache_key=None, expires=None) -> None:
        key = cache_key or self.create_key(response.request)
        with self._unsaved_lock:
            self._unsaved[key] = self._unsaved.get(key, 0) + 1
        self._start_writer()
        self._queue.put((response, key, expires))  # blocks when the writer is far behind

    def flush(self) -> None:
        """Wait until every queued response is stored."""
        if self._writer is not None:
            self._queue.join()

    def _start_writer(self) -> None:
        if self._writer is None:
            with self._writer_lock:
                if self._writer is None:
                    self._writer = threading.Thread(
                        target=self._write_loop, name="csframe-cache-writer", daemon=True
                    )
                    self._writer.start()

    def _write_loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < WRITE_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is None for item in batch)
            items = [item for item in batch if item is not None]
            try:
                if items:
                    with self.responses.bulk_commit():
                        for response, key, expires in items:
                            super().save_response(response, key, expires)
            except Exception:  # a cache is best-effort: the data was already returned
                log.warning(
                    "could not store %d responses in the HTTP cache", len(items), exc_info=True
                )
            finally:
                with self._unsaved_lock:
                    for _, key, _ in items:
                        left = self._unsaved.pop(key) - 1
                        if left:
                            self._unsaved[key] = left
                for _ in batch:
                    self._queue.task_done()
            if stop:
                return

    # -- reads see every write made before them ------------------------------------------
    def get_response(self, key: str, default=None):
        if key in self._unsaved:
            self.flush()
        return super().get_response(key, default)

    def delete(self, *keys, **kwargs):
        self.flush()  # a queued save must not bring back what is deleted
        return super().delete(*keys, **kwargs)

    def clear(self) -> None:
        self.flush()
        super().clear()

    def close(self) -> None:
        with self._writer_lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            self._queue.put(None)
            writer.join()
        super().close()


# Every open cache, so that interpreter exit can drain their queues (one hook, not one
# registration per cache: a notebook may create many clients).
_OPEN: weakref.WeakSet[ConcurrentSQLiteCache] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for cache in list(_OPEN):
        cache.close()


def cached_session(path: Path, **settings) -> requests_cache.CachedSession:
    """A ``CachedSession`` on the SQLite file ``path`` (WAL mode), with csframe's backend
    and key. ``settings`` are requests-cache session settings (expiry, filter, ...).

    Example::

        http = cached_session(Path("/tmp/c.sqlite"), expire_after=300)
    """
    backend = ConcurrentSQLiteCache(str(path), wal=True)
    return requests_cache.CachedSession(backend=backend, key_fn=cache_key, **settings)
