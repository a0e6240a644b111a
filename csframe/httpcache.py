"""The HTTP cache behind :class:`csframe.session.ApiSession`: requests-cache's SQLite
backend (WAL), namespaced by server, with bounded lock waits, and self-healing.

History pages of closed windows no longer pass through here (they go to the frame cache,
:mod:`csframe.framecache`), and the write-behind thread that used to store pages went with
them: with one month of thirteen through this cache (``bench/history_load.py --rows 100000
--settle-days 40``) cold loads took the same time with and without it. What is left:

- **Reads through a connection per thread.** requests-cache's ``SQLiteDict`` shares one
  connection between threads and pastes each key into the SQL text; here each thread reads
  on its own connection with a bound parameter (WAL: a reader never waits for a writer).
  Warm reads of cached pages on 8 threads took half the time.

- **Lock waits are bounded.** requests-cache waits for SQLite's write lock forever (on
  every save, and on every open, where it creates its table); here a write gives up after
  ``LOCK_WAIT`` seconds (another process holding the lock costs a response its cache
  entry, never a load its time), later saves skip for ``LOCK_WAIT`` seconds, and it says
  so at DEBUG. A response that is not cached, and was not, takes no write lock at all.
- **A cheap, namespaced cache key.** Method plus URL with its query sorted, prefixed by the
  namespace (the API root and, for a sandbox, its instance token): two servers never share
  an entry. Headers are never part of it: Authorization is neither stored nor matched.
- **A cache that heals.** :func:`open_cache` checks the file first; a corrupted file, or one
  written for another server, is moved aside as ``*.corrupt-<time>`` with a warning naming
  both paths, and a new one is created. Errors reading an entry count as a miss.
- **Invalidation.** ``invalidate(prefixes)`` forgets the short-lived entries under some URL
  paths (read-your-writes, see :meth:`csframe.session.ApiSession.invalidate`).
- **Closing.** After ``close()`` the cache refuses reads (:class:`CacheClosed`) and drops
  saves, rather than reopening the file.

These override non-public parts of requests-cache's ``SQLiteDict`` (its lock loop, table
creation and reads), hence the ``requests-cache<2`` pin.

Example::

    http = cached_session(path)          # a requests_cache.CachedSession
    http.get("http://127.0.0.1:8765/v3/sms/history", params={"page": 2})
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from hashlib import blake2b
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests_cache
from requests_cache.backends.base import BaseCache
from requests_cache.backends.sqlite import SQLiteCache, SQLiteDict

log = logging.getLogger("csframe")

# Seconds a write waits for SQLite's write lock (held by another process, say) before the
# response goes uncached (and saves skip for as long).
LOCK_WAIT = 2.0
# Entries cached for longer than this are kept by invalidate(): a write cannot change them.
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


class _BoundedDict(SQLiteDict):
    """``SQLiteDict`` whose write-lock waits are bounded and whose reads use a connection
    per thread (see the module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()  # not the write lock: readers never wait on it
        super().__init__(*args, **kwargs)

    def _reader(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(
                self.db_path, isolation_level=None, check_same_thread=False, timeout=LOCK_WAIT
            )
            self._local.con = con
            with self._readers_lock:
                self._readers.append(con)
        return con

    def __getitem__(self, key: Any) -> Any:
        if self._active_transaction:  # inside a write: that transaction's own view
            return super().__getitem__(key)
        # A bound parameter on this thread's own connection: SQLite reuses the compiled
        # statement (requests-cache pastes the key into the SQL text of a connection all
        # threads share, and so compiles every lookup anew).
        sql = f"SELECT value FROM {self.table_name} WHERE key=?"
        row = self._reader().execute(sql, (key,)).fetchone()
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

    def init_db(self) -> None:
        # requests-cache creates its table with a write transaction on every open; when the
        # table is there already, a read suffices (and another process's lock is no matter).
        with self.connection() as con:
            found = con.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (self.table_name,)
            ).fetchone()
        if not found:
            super().init_db()

    @contextmanager
    def _acquire_sqlite_lock(self) -> Iterator[None]:
        with self._lock:
            if self._connection is None:
                with self.connection():
                    pass  # opens the shared connection
            assert self._connection is not None
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
            try:
                yield
                self._connection.commit()
            except BaseException:
                self._connection.rollback()
                raise
            finally:
                self._active_transaction = False

    def contains(self, key: str) -> bool:
        """Whether ``key`` is stored (a read: no write lock)."""
        sql = f"SELECT 1 FROM {self.table_name} WHERE key=?"
        return self._reader().execute(sql, (key,)).fetchone() is not None


class BoundedSQLiteCache(SQLiteCache):
    """requests-cache's SQLite backend with bounded lock waits, invalidation, a record of
    whose file it is, and reads refused after ``close()`` (see the module doc)."""

    responses: _BoundedDict
    redirects: _BoundedDict

    def __init__(self, db_path: str, **kwargs: Any) -> None:
        # BaseCache's constructor, not SQLiteCache's: that one would open its tables on
        # requests-cache's own storage (waiting for the write lock without end)
        BaseCache.__init__(self, cache_name=str(db_path))
        kwargs.setdefault("timeout", 0.05)  # SQLite's own busy wait; ours is LOCK_WAIT
        self.responses = _BoundedDict(db_path, table_name="responses", **kwargs)
        self.redirects = _BoundedDict(
            db_path, table_name="redirects", lock=self.responses._lock, serializer=None, **kwargs
        )
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

    @property
    def closed(self) -> bool:
        return self._closed

    def save_response(
        self, response: Any, cache_key: str | None = None, expires: Any = None
    ) -> None:
        if self._closed:
            return
        if time.monotonic() < self._busy_until:
            log.debug("HTTP cache busy: %s not stored", response.url)
            return
        key = cache_key or self.create_key(response.request)
        ttl = None if expires is None else _ts(expires) - time.time()
        try:
            with self.responses.bulk_commit():  # the entry and its index row together
                super().save_response(response, key, expires)
                with self.responses.connection() as con:
                    con.execute(
                        f"INSERT OR REPLACE INTO {_INDEX} (key, path, ttl) VALUES (?, ?, ?)",
                        (key, urlsplit(response.url).path, ttl),
                    )
        except CacheBusy:
            self._busy_until = time.monotonic() + LOCK_WAIT
            log.debug("HTTP cache busy: %s not stored", response.url)
        except sqlite3.Error:  # a cache is best-effort: the data is returned all the same
            if not self._closed:
                log.warning(
                    "could not store %s in the HTTP cache %s",
                    response.url,
                    self.responses.db_path,
                    exc_info=True,
                )

    def get_response(self, key: str, default: Any = None) -> Any:
        if self._closed:
            raise CacheClosed("the HTTP cache is closed")
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

    def _is_forgotten(self, response: Any) -> bool:
        path = urlsplit(response.url).path
        created = _ts(response.created_at)
        ttl = None if response.expires is None else _ts(response.expires) - created
        if ttl is not None and ttl > SHORT_LIVED:
            return False
        return any(_under(path, prefix) and created < at for prefix, at in self._forgotten.items())

    def delete(self, *keys: str, **kwargs: Any) -> Any:
        if len(keys) == 1 and not kwargs and not self.responses.contains(keys[0]):
            # requests-cache deletes the key of every response it does not store: no write
            # lock for one that was never there
            return None
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
        with self.responses.connection(commit=True) as con:
            con.execute("DELETE FROM responses")
            con.execute("DELETE FROM redirects")
            con.execute(f"DELETE FROM {_INDEX}")
        self._forgotten = {}

    def close(self) -> None:
        """Close the file; later reads raise :class:`CacheClosed`, later saves are dropped."""
        with self.responses._lock:
            self._closed = True
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


def cached_session(
    path: Path | BoundedSQLiteCache, namespace: str = "", **settings: Any
) -> requests_cache.CachedSession:
    """A ``CachedSession`` on the SQLite file ``path`` (WAL mode) or an open backend, with
    csframe's backend and key. ``settings`` are requests-cache session settings.

    Example::

        http = cached_session(Path("/tmp/c.sqlite"), expire_after=300)
    """
    backend = path if isinstance(path, BoundedSQLiteCache) else _backend(path)
    return requests_cache.CachedSession(backend=backend, key_fn=make_key_fn(namespace), **settings)


def _backend(path: Path) -> BoundedSQLiteCache:
    return BoundedSQLiteCache(str(path), wal=True)


# -- opening, healing, inspecting ---------------------------------------------------------
def open_cache(
    path: Path, *, root: str, instance: str | None = None, username: str = ""
) -> BoundedSQLiteCache | None:
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
