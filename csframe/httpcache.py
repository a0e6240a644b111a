"""The HTTP cache behind :class:`csframe.session.ApiSession`: requests-cache, tuned for
many concurrent page reads, namespaced by server, and self-healing.

Changes to requests-cache's SQLite backend, all through its extension points (a custom
backend and ``key_fn``), measured in ``bench/history_load.py``:

- **Reads do not queue behind writes.** requests-cache's ``SQLiteDict`` shares one
  connection, and one lock, between all threads, and holds that lock for a whole write
  transaction; eight workers saving pages made every lookup wait for the last save. Here
  each thread reads through a connection of its own. In WAL mode a reader never waits for
  the writer and sees only committed rows; writes stay serialised on the shared connection.
  The redirects table, which stays empty, is not queried at all while it is.
- **Writes leave the request path.** A saved response is queued and one writer thread
  stores the queue many responses per transaction. Workers go back to the network at once.
  A lookup of a key still in the queue waits (at most ``FLUSH_WAIT``) for the writer, so a
  read sees the writes made before it; ``close()`` (and interpreter exit) drains the queue.
- **Lock waits are bounded.** requests-cache waits for SQLite's write lock forever; here a
  write gives up after ``LOCK_WAIT`` seconds (another process holding the lock costs a
  response its cache entry, never a load its time) and says so at DEBUG. A response that is
  not cached, and was not, takes no write lock at all.
- **A cheap, namespaced cache key.** Method plus URL with its query sorted, prefixed by the
  namespace (the API root and, for a sandbox, its instance token): two servers never share
  an entry. Headers are never part of it: Authorization is neither stored nor matched.
- **A cache that heals.** :func:`open_cache` checks the file first; a corrupted file, or one
  written for another server, is moved aside as ``*.corrupt-<time>`` with a warning naming
  both paths, and a new one is created. Errors reading an entry count as a miss.
- **Invalidation.** ``invalidate(prefixes)`` forgets the short-lived entries under some URL
  paths (read-your-writes, see :meth:`csframe.session.ApiSession.invalidate`).

Not fork-safe: a child process inherits the queue but not the writer thread (nor usable
SQLite connections, as with stock requests-cache); create the Client after forking.

Example::

    http = cached_session(path)          # a requests_cache.CachedSession
    http.get("http://127.0.0.1:8765/v3/sms/history", params={"page": 2})
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import sqlite3
import threading
import time
import warnings
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
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
# Seconds a write waits for SQLite's write lock (held by another process, say) before the
# response goes uncached; and seconds a read waits for a queued write of its own key.
LOCK_WAIT = 2.0
FLUSH_WAIT = 2.0
# Entries cached for longer than this (settled history windows, closed months) are kept by
# invalidate(): a write cannot change them.
SHORT_LIVED = 24 * 3600.0

_INDEX = "csframe_index"  # key -> URL path and time to live, for invalidate()
_META = "csframe_meta"  # root, instance, username: whose file this is


class CacheBusy(Exception):
    """SQLite's write lock was not free within ``LOCK_WAIT`` seconds."""


class CacheClosed(RuntimeError):
    """The cache was used after ``close()``."""


class CacheRepairedWarning(UserWarning):
    """A cache file was unusable (corrupt, or another server's) and was moved aside."""


def make_key_fn(namespace: str = ""):
    """A requests-cache ``key_fn``: a digest of ``namespace``, the method, the URL with its
    query parameters in sorted order, and the body (GETs have none).

    Example::

        key = make_key_fn("http://127.0.0.1:8765/v3")
        key(requests.Request("GET", url, params={"b": 1, "a": 2}).prepare())
    """
    prefix = namespace.encode() + b"\0"

    def cache_key(request, **_ignored) -> str:
        parts = urlsplit(request.url or "")
        query = "&".join(sorted(parts.query.split("&"))) if parts.query else ""
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        digest = blake2b(prefix, digest_size=16)
        digest.update(
            f"{request.method} {parts.scheme}://{parts.netloc}{parts.path}?{query}".encode()
        )
        digest.update(b"\0")
        digest.update(body)
        return digest.hexdigest()

    return cache_key


cache_key = make_key_fn()  # the key without a namespace (tests, ad hoc sessions)


class _ThreadReadDict(SQLiteDict):
    """``SQLiteDict`` whose reads use one connection per thread and whose write-lock waits
    are bounded (see the module doc)."""

    def __init__(self, *args, **kwargs) -> None:
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()  # not the write lock: readers never wait on it
        self.closed = False
        super().__init__(*args, **kwargs)

    def init_db(self) -> None:
        # requests-cache creates its table with a write transaction on every open; when the
        # table is there already, a read suffices (and another process's lock is no matter).
        with self.connection() as con:
            found = con.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (self.table_name,)
            ).fetchone()
        if not found:  # requests-cache's schema (its init_db would first close us)
            with self.connection(commit=True) as con:
                con.execute(
                    f"CREATE TABLE IF NOT EXISTS {self.table_name} "
                    "(key TEXT PRIMARY KEY, value BLOB, expires INTEGER)"
                )
                con.execute(f"CREATE INDEX IF NOT EXISTS expires_idx ON {self.table_name}(expires)")

    @contextmanager
    def _acquire_sqlite_lock(self):
        with self._lock:
            if self.closed:
                raise CacheClosed("the HTTP cache is closed")
            if self._connection is None:
                with super().connection():
                    pass  # opens the shared connection
            deadline = time.monotonic() + LOCK_WAIT
            while True:
                try:
                    self._connection.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) and "busy" not in str(exc):
                        raise
                    if time.monotonic() > deadline:
                        raise CacheBusy(
                            f"{self.db_path}: write lock busy for {LOCK_WAIT}s"
                        ) from None
                    time.sleep(0.005)
            self._active_transaction = True
            self._local.writing = True
            try:
                yield
                self._connection.commit()
            except BaseException:
                self._connection.rollback()
                raise
            finally:
                self._active_transaction = False
                self._local.writing = False

    @contextmanager
    def connection(self, commit: bool = False) -> Iterator[sqlite3.Connection]:
        if self.closed:
            raise CacheClosed("the HTTP cache is closed")
        if commit or getattr(self._local, "writing", False):
            # writes, and reads inside this thread's own write transaction, keep
            # requests-cache's shared connection
            with super().connection(commit=commit) as shared:
                yield shared
            return
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(
                self.db_path, isolation_level=None, check_same_thread=False, timeout=LOCK_WAIT
            )
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

    def contains(self, key: str) -> bool:
        """Whether ``key`` is stored (a read: no write lock)."""
        with self.connection() as con:
            sql = f"SELECT 1 FROM {self.table_name} WHERE key=?"
            return con.execute(sql, (key,)).fetchone() is not None

    def close(self) -> None:
        with self._lock:
            self.closed = True
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
    """requests-cache's SQLite backend with per-thread read connections, a write-behind
    thread, bounded lock waits and invalidation (see the module doc)."""

    def __init__(self, db_path: str, serializer=None, **kwargs) -> None:
        # BaseCache's constructor, not SQLiteCache's: that one would open requests-cache's
        # own storage (and create the tables) only for it to be replaced here.
        BaseCache.__init__(self, cache_name=str(db_path), **kwargs)
        kwargs.setdefault("timeout", 0.05)  # SQLite's own busy wait; ours is LOCK_WAIT
        skwargs = {"serializer": serializer, **kwargs} if serializer else kwargs
        self.responses = _ThreadReadDict(db_path, table_name="responses", **skwargs)
        self.redirects = _RedirectsDict(
            db_path, table_name="redirects", lock=self.responses._lock, serializer=None, **kwargs
        )
        self._queue: queue.Queue = queue.Queue(maxsize=WRITE_QUEUE)
        self._unsaved: dict[str, int] = {}  # key -> saves queued for it
        self._unsaved_cond = threading.Condition()
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()
        self._closed = False
        # While another process holds the write lock, saves are dropped at once (until this
        # monotonic time) instead of each waiting LOCK_WAIT: one probe per LOCK_WAIT.
        self._busy_until = 0.0
        # URL path prefix -> time: entries under it created before are not served any more
        # (replaced, never mutated, so readers need no lock)
        self._forgotten: dict[str, float] = {}
        with self.responses.connection() as con:
            tables = _tables(con)
        if _INDEX not in tables or _META not in tables:
            with self.responses.connection(commit=True) as con:
                con.execute(
                    f"CREATE TABLE IF NOT EXISTS {_INDEX} "
                    "(key TEXT PRIMARY KEY, path TEXT, ttl REAL)"
                )
                con.execute(f"CREATE INDEX IF NOT EXISTS {_INDEX}_path ON {_INDEX}(path)")
                con.execute(
                    f"CREATE TABLE IF NOT EXISTS {_META} (key TEXT PRIMARY KEY, value TEXT)"
                )
        _OPEN.add(self)

    @property
    def closed(self) -> bool:
        return self._closed

    # -- writes: queued, then stored by one thread, many per transaction -----------------------
    def save_response(self, response, cache_key=None, expires=None) -> None:
        if self._closed:
            return
        if time.monotonic() < self._busy_until:
            log.debug("HTTP cache busy: %s not stored", response.url)
            return
        key = cache_key or self.create_key(response.request)
        with self._unsaved_cond:
            self._unsaved[key] = self._unsaved.get(key, 0) + 1
        self._start_writer()
        try:  # blocks when the writer is far behind, but not for ever
            self._queue.put((response, key, expires), timeout=LOCK_WAIT)
        except queue.Full:
            log.debug("HTTP cache busy: %s not stored", response.url)
            self._saved([key])

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued response is stored (or ``timeout`` seconds); whether it was."""
        with self._unsaved_cond:
            return self._unsaved_cond.wait_for(lambda: not self._unsaved, timeout)

    def _saved(self, keys: Iterable[str]) -> None:
        with self._unsaved_cond:
            for key in keys:
                left = self._unsaved.pop(key) - 1
                if left:
                    self._unsaved[key] = left
            self._unsaved_cond.notify_all()

    def _start_writer(self) -> None:
        if self._writer is None:
            with self._writer_lock:
                if self._writer is None and not self._closed:
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
                if items and time.monotonic() < self._busy_until:
                    log.debug("HTTP cache busy: %d responses not stored", len(items))
                elif items:
                    self._store(items)
            except CacheBusy:
                self._busy_until = time.monotonic() + LOCK_WAIT
                log.debug("HTTP cache busy: %d responses not stored", len(items))
            except Exception:  # a cache is best-effort: the data was already returned
                log.warning(
                    "could not store %d responses in the HTTP cache %s",
                    len(items),
                    self.responses.db_path,
                    exc_info=True,
                )
            finally:
                self._saved(key for _, key, _ in items)
                for _ in batch:
                    self._queue.task_done()
            if stop:
                return

    def _store(self, items: list) -> None:
        now = time.time()
        with self.responses.bulk_commit():
            con = self.responses._connection
            assert con is not None  # bulk_commit() opened it
            for response, key, expires in items:
                super().save_response(response, key, expires)
                ttl = None if expires is None else _ts(expires) - now
                con.execute(
                    f"INSERT OR REPLACE INTO {_INDEX} (key, path, ttl) VALUES (?, ?, ?)",
                    (key, urlsplit(response.url).path, ttl),
                )

    # -- reads see every write made before them ------------------------------------------
    def get_response(self, key: str, default=None):
        if self._closed:
            raise CacheClosed("the HTTP cache is closed")
        if key in self._unsaved:
            with self._unsaved_cond:
                if not self._unsaved_cond.wait_for(lambda: key not in self._unsaved, FLUSH_WAIT):
                    log.debug("HTTP cache busy: a queued entry is not read back; going to the API")
                    return default
        try:
            response = super().get_response(key, default)
        except sqlite3.Error:
            if self._closed:
                raise CacheClosed("the HTTP cache is closed") from None
            log.warning(
                "HTTP cache %s: an entry could not be read; going to the API",
                self.responses.db_path,
                exc_info=True,
            )
            return default
        except Exception:  # an entry that does not deserialize is a miss, not a failure
            log.warning(
                "HTTP cache %s: an entry could not be decoded; going to the API",
                self.responses.db_path,
                exc_info=True,
            )
            return default
        if response is not default and self._forgotten and self._is_forgotten(response):
            return default
        return response

    def _is_forgotten(self, response) -> bool:
        path = urlsplit(response.url).path
        created = _ts(response.created_at)
        ttl = None if response.expires is None else _ts(response.expires) - created
        if ttl is not None and ttl > SHORT_LIVED:
            return False
        return any(_under(path, prefix) and created < at for prefix, at in self._forgotten.items())

    def delete(self, *keys, **kwargs):
        if len(keys) == 1 and not kwargs:
            # requests-cache deletes the key of every response it does not store: no write
            # lock for one that was never there
            key = keys[0]
            if key not in self._unsaved and not self.responses.contains(key):
                return None
        self.flush(FLUSH_WAIT)  # a queued save must not bring back what is deleted
        try:
            return super().delete(*keys, **kwargs)
        except CacheBusy:
            log.debug("HTTP cache busy: %d entries not deleted", len(keys))
            return None

    def invalidate(self, prefixes: Iterable[str]) -> None:
        """Stop serving the short-lived entries under these URL path prefixes, from now on
        (in this process at once; in the file too when its write lock is free).

        Example::

            backend.invalidate(["/v3/lists", "/v3/account"])
        """
        prefixes = list(prefixes)
        now = time.time()
        self._forgotten = {**self._forgotten, **dict.fromkeys(prefixes, now)}
        self.flush(FLUSH_WAIT)
        try:
            with self.responses.connection(commit=True) as con:
                for prefix in prefixes:
                    where = "(path = ? OR substr(path, 1, ?) = ?) AND (ttl IS NULL OR ttl <= ?)"
                    args = (prefix, len(prefix) + 1, prefix + "/", SHORT_LIVED)
                    sub = f"SELECT key FROM {_INDEX} WHERE {where}"
                    con.execute(f"DELETE FROM responses WHERE key IN ({sub})", args)
                    con.execute(f"DELETE FROM {_INDEX} WHERE {where}", args)
        except (CacheBusy, sqlite3.Error) as exc:  # still forgotten in memory
            log.debug("HTTP cache: entries under %s not deleted from the file: %s", prefixes, exc)

    def clear(self) -> None:
        self.flush(FLUSH_WAIT)
        with self.responses.connection(commit=True) as con:
            con.execute("DELETE FROM responses")
            con.execute("DELETE FROM redirects")
            con.execute(f"DELETE FROM {_INDEX}")
        self._forgotten = {}

    def close(self) -> None:
        """Store what is queued (once), stop the writer, close every connection."""
        with self._writer_lock:
            if self._closed:
                return
            self._closed = True
            writer, self._writer = self._writer, None
        if writer is not None:
            self._queue.put(None)
            writer.join()
        super().close()

    # -- whose file this is ---------------------------------------------------------------
    def claim(self, root: str, instance: str | None, username: str) -> None:
        """Record which server this file caches; entries of a previous sandbox instance on
        the same root are dropped (that server is gone for good)."""
        with self.responses.connection() as con:
            meta = dict(con.execute(f"SELECT key, value FROM {_META}"))
        want = {"root": root, "instance": instance or "", "username": username}
        if all(meta.get(k) == v for k, v in want.items()):
            return
        with self.responses.connection(commit=True) as con:
            if meta.get("instance", "") != want["instance"]:
                con.execute("DELETE FROM responses")
                con.execute(f"DELETE FROM {_INDEX}")
            con.executemany(f"INSERT OR REPLACE INTO {_META} VALUES (?, ?)", want.items())


def _ts(moment: datetime) -> float:
    # requests-cache's datetimes are UTC, naive in some versions
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _tables(con: sqlite3.Connection) -> set[str]:
    return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}


# Every open cache, so that interpreter exit can drain their queues (one hook, not one
# registration per cache: a notebook may create many clients).
_OPEN: weakref.WeakSet[ConcurrentSQLiteCache] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for cache in list(_OPEN):
        cache.close()


def cached_session(
    path: Path | ConcurrentSQLiteCache, namespace: str = "", **settings
) -> requests_cache.CachedSession:
    """A ``CachedSession`` on the SQLite file ``path`` (WAL mode) or an open backend, with
    csframe's backend and key. ``settings`` are requests-cache session settings.

    Example::

        http = cached_session(Path("/tmp/c.sqlite"), expire_after=300)
    """
    backend = path if isinstance(path, ConcurrentSQLiteCache) else _backend(path)
    return requests_cache.CachedSession(backend=backend, key_fn=make_key_fn(namespace), **settings)


def _backend(path) -> ConcurrentSQLiteCache:
    return ConcurrentSQLiteCache(str(path), wal=True)


# -- opening, healing, inspecting ---------------------------------------------------------
def open_cache(
    path: Path, *, root: str, instance: str | None = None, username: str = ""
) -> ConcurrentSQLiteCache | None:
    """The cache file ``path`` for API root ``root``, checked first: a corrupted file, or
    one written for another root, is moved aside (``<name>.corrupt-<time>``) with a
    :class:`CacheRepairedWarning` naming it. Returns None (no cache for this client, with a
    warning) only if even a new file cannot be used.

    Example::

        backend = open_cache(Path("~/.cache/csframe/alice-1a2b.sqlite"), root=base_url)
    """
    problem = _problem(path, root)
    if problem:
        _move_aside(path, problem)
    for attempt in range(2):
        try:
            create_private(path)
            backend = _backend(path)
            backend.claim(root, instance, username)
            return backend
        except CacheBusy:
            log.debug("HTTP cache %s: busy; this client works without it", path)
            return None
        except sqlite3.Error as exc:
            if attempt == 0:
                _move_aside(path, f"unusable ({exc})")
                continue
            warnings.warn(
                f"HTTP cache {path} cannot be used ({exc}); this client works without a cache",
                CacheRepairedWarning,
                stacklevel=3,
            )
    return None


def _problem(path: Path, root: str) -> str | None:
    """Why the file at ``path`` cannot serve ``root`` (None: it can, or does not exist)."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    try:
        con = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=LOCK_WAIT)
        try:
            check = con.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                return f"corrupt ({check})"
            tables = _tables(con)
            if not tables:
                return None
            if _META not in tables or "responses" not in tables:
                return "not a csframe cache"
            meta = dict(con.execute(f"SELECT key, value FROM {_META}"))
        finally:
            con.close()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return None  # in use by another process: it is a database, leave it be
        return f"corrupt ({exc})"
    except sqlite3.DatabaseError as exc:
        return f"corrupt ({exc})"
    if meta.get("root") != root:
        return f"written for another API root ({meta.get('root')!r})"
    return None


def _move_aside(path: Path, reason: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(path) + suffix)
        if src.exists():
            os.replace(src, str(target) + suffix)
    message = f"HTTP cache {path} is {reason}; moved aside to {target}, starting a new one"
    log.warning(message)
    warnings.warn(message, CacheRepairedWarning, stacklevel=4)


def create_private(path: Path) -> None:
    """Create the cache file (and its WAL/SHM siblings, which SQLite creates with the same
    mode) readable by the owner only, before SQLite opens it with the default umask."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def cache_files(directory: Path) -> list[Path]:
    """The csframe cache databases in ``directory``."""
    return sorted(p for p in Path(directory).glob("*.sqlite") if p.is_file())


def describe(path: Path) -> dict:
    """Size, entries and server of one cache file (read-only; unreadable files say so).

    Example::

        describe(cs.cache_path)["entries"]
    """
    size = sum(
        Path(str(path) + s).stat().st_size for s in ("", "-wal") if Path(str(path) + s).exists()
    )
    info = {"path": str(path), "size": size, "entries": None, "root": None, "username": None}
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=LOCK_WAIT)
        try:
            tables = _tables(con)
            if "responses" in tables:
                info["entries"] = con.execute("SELECT count(*) FROM responses").fetchone()[0]
            if _META in tables:
                meta = dict(con.execute(f"SELECT key, value FROM {_META}"))
                info["root"], info["username"] = meta.get("root"), meta.get("username")
        finally:
            con.close()
    except sqlite3.Error as exc:
        info["error"] = str(exc)
    return info


def remove_files(directory: Path) -> list[Path]:
    """Delete every csframe cache file in ``directory`` (databases, their WAL/SHM files and
    files moved aside); the paths removed."""
    removed = []
    for p in sorted(Path(directory).glob("*.sqlite*")):
        if p.is_file():
            p.unlink()
            removed.append(p)
    return removed
