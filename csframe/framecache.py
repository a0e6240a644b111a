"""The frame cache: closed history windows kept as parsed Arrow tables, one file each.

A history window that closed more than ``settle_days`` ago no longer changes, so once it
has been fetched its table (registry types, primary keys de-duplicated) is written to
``<cache_dir>/<user>-<hash>.frames/<resource>/<key>.parquet``, and later loads read the
file instead of asking the API for its pages. The key is a digest of the server namespace
(API root and, for a sandbox, its instance token: the HTTP cache's namespace), the
resource, the window's bounds and the filter parameters (``q``/``operator``/``order_by``).

Writes leave the fetch path: :meth:`FrameCache.put` hands the window's tables to one
writer thread, which writes each file once (atomically, 0600, folders 0700, LZ4: cheaper
than the store's zstd to write and to read; see :mod:`csframe.partfile`). Until it is written, the window is served from memory. A file
that cannot be read back whole (truncated, corrupted, another namespace's) is deleted,
logged, and counted as a miss, so the window is fetched again: it is never returned.
``close()`` (and interpreter exit) writes what is queued.

Example::

    frames = FrameCache(Path("~/.cache/csframe/alice-1a2b.frames"), "http://127.0.0.1:8765/v3#")
    frames.get("sms_history", {"date_from": 1767225600, "date_to": 1769903999}, {})
"""

from __future__ import annotations

import atexit
import logging
import queue
import shutil
import threading
import weakref
from hashlib import blake2b
from pathlib import Path

import pyarrow as pa

from csframe import partfile

log = logging.getLogger("csframe")

SUFFIX = ".frames"
# Bump when what a window's file holds changes meaning: older files then read as misses.
FORMAT = "1"
_NAMESPACE_KEY = "csframe.namespace"
_FORMAT_KEY = "csframe.frame_format"
# Seconds a write waits for its ``after`` event at most (the loader sets it in a finally).
AFTER_WAIT = 60.0


def directory_for(cache_file: Path) -> Path:
    """The frame cache folder that goes with an HTTP cache file (same user and API root).

    Example::

        >>> directory_for(Path("/c/alice-1a2b.sqlite")).name
        'alice-1a2b.frames'
    """
    return cache_file.with_suffix(SUFFIX)


class FrameCache:
    """Closed windows' tables on disk under ``directory``, for the server ``namespace``."""

    def __init__(self, directory: Path, namespace: str, *, writable: bool = True) -> None:
        self.directory = Path(directory)
        self.namespace = namespace
        self.writable = writable
        self._pending: dict[Path, pa.Table] = {}  # queued for the writer, served from here
        self._lock = threading.Condition()
        self._queue: queue.Queue = queue.Queue()
        self._writer: threading.Thread | None = None
        self._closed = False
        self._io = threading.Lock()  # a write and clear() never interleave
        if writable:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._claim()
            _OPEN.add(self)

    def _claim(self) -> None:
        # A folder is per user and API root; a new sandbox instance on the same root means
        # the previous one is gone for good, and so are its windows (as in the HTTP cache).
        marker = self.directory / "_namespace"
        try:
            if marker.read_text() == self.namespace:
                return
        except (FileNotFoundError, UnicodeDecodeError):
            pass
        self.clear()
        partfile.atomic_write_bytes(marker, self.namespace.encode(), private=True)

    def read_only(self) -> FrameCache:
        """A view of the same files that never writes (stale snapshots read through it)."""
        view = FrameCache(self.directory, self.namespace, writable=False)
        view._pending, view._lock = self._pending, self._lock
        return view

    def path(self, resource: str, window: dict, search: dict) -> Path:
        """The file of one window of ``resource`` fetched with the filters ``search``."""
        parts = [
            self.namespace,
            resource,
            str(window.get("date_from")),
            str(window.get("date_to")),
            *(f"{k}={search[k]}" for k in sorted(search)),
        ]
        digest = blake2b("\0".join(parts).encode(), digest_size=16).hexdigest()
        return self.directory / resource / f"{digest}.parquet"

    def has(self, resource: str, window: dict, search: dict) -> bool:
        """Whether the window is kept (queued or on disk); :meth:`get` still checks the file."""
        path = self.path(resource, window, search)
        with self._lock:
            if path in self._pending:
                return True
        return path.is_file()

    def get(self, resource: str, window: dict, search: dict) -> pa.Table | None:
        """The window's table, or None (never cached, or its file was damaged: deleted)."""
        path = self.path(resource, window, search)
        with self._lock:
            table = self._pending.get(path)
        if table is not None:
            return table
        try:
            return partfile.read_table(path, expect=self._expect())
        except FileNotFoundError:
            return None
        except partfile.DamagedFile as exc:
            log.warning("frame cache: %s; deleted, the window is fetched again", exc)
            path.unlink(missing_ok=True)
            return None

    def put(
        self,
        resource: str,
        window: dict,
        search: dict,
        tables: list[pa.Table],
        *,
        after: threading.Event | None = None,
    ) -> None:
        """Queue one closed window's tables (in order) to be written once, off this thread;
        with ``after``, not before it is set (writes queued later wait too)."""
        if not self.writable:
            return
        path = self.path(resource, window, search)
        table = pa.concat_tables(tables, promote_options="permissive") if tables else None
        if table is None:
            return
        with self._lock:
            if self._closed or path in self._pending:
                return
            self._pending[path] = table
        self._start_writer()
        self._queue.put((path, after))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued window is written (or ``timeout`` seconds); whether it was."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._pending, timeout)

    def clear(self) -> int:
        """Delete every window file (after writing none of the queued ones); how many."""
        with self._io:
            with self._lock:
                self._pending.clear()
                self._lock.notify_all()
            files = [p for p in self.directory.glob("*/*.parquet") if p.is_file()]
            for p in files:
                p.unlink(missing_ok=True)
        return len(files)

    def close(self) -> None:
        """Write what is queued, then stop the writer thread. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            writer = self._writer
        if writer is not None:
            self._queue.put(None)
            writer.join()

    def _expect(self) -> dict[str, str]:
        return {_NAMESPACE_KEY: self.namespace, _FORMAT_KEY: FORMAT}

    def _start_writer(self) -> None:
        with self._lock:
            if self._writer is None and not self._closed:
                self._writer = threading.Thread(
                    target=self._write_loop, name="csframe-frame-writer", daemon=True
                )
                self._writer.start()

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            path, after = item
            if after is not None:
                after.wait(AFTER_WAIT)
            try:
                with self._io:
                    with self._lock:
                        table = self._pending.get(path)  # None: cleared meanwhile
                    if table is not None:
                        partfile.write_table(
                            path, table, metadata=self._expect(), private=True, compression="lz4"
                        )
                        # this thread's heap holds the encoder's buffers: give them back
                        pa.default_memory_pool().release_unused()
            except Exception:  # a cache is best-effort: the data was already returned
                log.warning("frame cache: could not write %s", path, exc_info=True)
            finally:
                with self._lock:
                    self._pending.pop(path, None)
                    self._lock.notify_all()


def cache_dirs(directory: Path) -> list[Path]:
    """The frame cache folders in the cache ``directory``."""
    return sorted(p for p in Path(directory).glob(f"*{SUFFIX}") if p.is_dir())


def describe(folder: Path) -> dict:
    """Windows and bytes held by one frame cache folder.

    Example::

        describe(Path("~/.cache/csframe/alice-1a2b.frames"))["windows"]
    """
    files = [p for p in Path(folder).rglob("*.parquet") if p.is_file()]
    return {
        "path": str(folder),
        "windows": len(files),
        "size": sum(p.stat().st_size for p in files),
    }


def remove_dirs(directory: Path) -> list[Path]:
    """Delete every frame cache folder in the cache ``directory``; the folders removed."""
    removed = cache_dirs(directory)
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    return removed


# Every writable cache, so that interpreter exit writes what is queued.
_OPEN: weakref.WeakSet[FrameCache] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for cache in list(_OPEN):
        cache.close()
