"""The send journal: one SQLite file (WAL) per run that says, for every row of a plan,
whether it was sent, and for every request, whether it was answered.

A batch (one request) is committed as ``inflight`` with its row positions *before* the
request goes out, and its answer -- one outcome per row -- is committed as soon as it is
read. So whatever happens to the process (an exception, a dropped connection, SIGKILL
between two batches or in the middle of one) the journal names exactly the rows whose
fate is unknown, and a rerun looks those up instead of sending them again.

The file is an append-only log: ``batches`` holds one row per request (positions,
state, and the per-row outcomes as one JSON document), so journaling a batch of 1000
costs two small writes, not 2000 row updates. Opening a journal replays the log into
in-memory arrays; ``rows()`` and ``counts()`` read those.

Row states:

- ``pending``: not sent (never tried, or the API certainly did not take it);
- ``inflight``: in a request whose answer has not been read (yet, or ever: a killed
  process); resolved by a lookup before anything is sent again;
- ``sent``: accepted by the API (``message_id`` known);
- ``rejected``: refused by the API for this message for good (``status`` says why); final;
- ``retryable``: refused for a cause that can change (no credit, throttled, country not
  enabled); tried again by the next run;
- ``in_doubt``: its request's outcome is unknown and the lookup did not find it, but the
  lookup was made less than the doubt horizon after the request: the server may still
  commit it. Never sent again until a lookup made after the horizon finds nothing.

A later lookup of ``in_doubt`` rows is appended as a ``lookup`` entry of the log (its
rows keep the batch of the request they were in, whose start time the horizon counts
from).

Files: the journal, its WAL and its lock file are created 0600 (they hold phone numbers
and message bodies), a folder it creates 0700. The lock is taken *before* the journal is
read (``Journal(path, lock=True)``), so no process works from a state another one is
changing.

Durability: WAL with ``synchronous=NORMAL`` survives the death of the process (what the
journal is for); a power cut may lose the last commits, after which a rerun could at
worst resend a batch whose request had already started -- ``synchronous="FULL"`` closes
that too, at the price of an fsync per write. One process at a time: a lock file next to
the journal is held while a send runs.

Example::

    with Journal("runs/oct.sqlite") as j:
        j.counts()          # {'sent': 9800, 'rejected': 12, 'in_doubt': 188}
        j.rows().head()
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from csframe.errors import CsframeError

try:
    import fcntl
except ImportError:  # Windows: no advisory lock; one process per journal is then on you
    fcntl = None  # type: ignore[assignment]

VERSION = 3
STATES = ("pending", "inflight", "sent", "rejected", "retryable", "in_doubt")
PENDING, INFLIGHT, SENT, REJECTED, RETRYABLE, IN_DOUBT = range(6)
# version 2 journals called these no_credit and unconfirmed (same codes)
_CODE = {name: i for i, name in enumerate(STATES)} | {"no_credit": 4, "unconfirmed": 5}
FINAL = ("sent", "rejected")
#: One row's outcome: (position, state, message_id, status, price, error).
RowOutcome = tuple[int, str, str | None, str | None, float | None, str | None]

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS plan (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    row_keys BLOB NOT NULL,           -- zlib(JSON list of row keys)
    row_hashes BLOB NOT NULL          -- int64 per row: what the row sends, hashed
);
CREATE TABLE IF NOT EXISTS batches (
    batch INTEGER PRIMARY KEY,        -- one request
    state TEXT NOT NULL,              -- inflight, answered, resolved, released; or lookup
                                      -- (a later lookup of in-doubt rows: no request)
    n INTEGER NOT NULL,
    positions BLOB NOT NULL,          -- int64 positions in the plan
    started REAL NOT NULL,
    finished REAL,
    outcome TEXT,                     -- why released / how resolved
    results BLOB                      -- JSON [[pos, state, message_id, status, price, error], ...]
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    t REAL NOT NULL,
    batch INTEGER,
    kind TEXT NOT NULL,
    detail TEXT
);
"""


class JournalBusy(CsframeError, RuntimeError):
    """Another process is sending with this journal right now."""


def _private_dir(path: Path) -> None:
    """Create ``path`` (and parents) 0700; an existing folder is left as it is."""
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(OSError):
            os.chmod(path, 0o700)


def _private_file(path: Path) -> None:
    """Create ``path`` 0600 if it does not exist, and make sure it is 0600."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o600)


class Journal:
    """A send journal at ``path`` (created on first use). Thread-safe.

    ``lock=True`` takes the one-process lock before the journal is read (what a send
    does); ``JournalBusy`` if another process holds it.
    """

    def __init__(
        self, path: str | os.PathLike, *, synchronous: str = "NORMAL", lock: bool = False
    ) -> None:
        if synchronous.upper() not in ("NORMAL", "FULL"):
            raise ValueError("synchronous must be 'NORMAL' or 'FULL'")
        try:
            self.path = Path(path)
        except TypeError:
            raise TypeError(f"journal must be a path, got {type(path).__name__}") from None
        if self.path.is_dir():
            raise ValueError(f"journal {str(self.path)!r} is a folder; give a file path")
        self._lock = threading.RLock()
        self._lockfile: Any = None
        try:
            _private_dir(self.path.parent)
            if lock:
                self.acquire_lock()
            _private_file(self.path)
            self.db = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False, timeout=30
            )
        except OSError as exc:
            self.release_lock()
            raise OSError(f"cannot open the journal {str(self.path)!r}: {exc}") from exc
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self.db.executescript(SCHEMA)
        self._load()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r}, {self.counts()})"

    def close(self) -> None:
        self.release_lock()
        with self._lock:
            self.db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one writer at a time --------------------------------------------------------------
    def acquire_lock(self) -> None:
        """Hold the journal's lock file (released by :meth:`release_lock` or process death)."""
        if fcntl is None or self._lockfile is not None:
            return
        lock_path = Path(str(self.path) + ".lock")
        _private_file(lock_path)
        handle = open(lock_path, "a+")  # noqa: SIM115 - held for the run
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise JournalBusy(
                f"journal {str(self.path)!r} is in use by another send (one process at a time)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lockfile = handle

    def release_lock(self) -> None:
        if self._lockfile is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lockfile, fcntl.LOCK_UN)
            self._lockfile.close()
            self._lockfile = None

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    # -- in-memory state, replayed from the log ----------------------------------------------
    def _alloc(self, n: int) -> None:
        self.n = n
        self.state = np.zeros(n, dtype=np.int8)
        self.batch_of = np.zeros(n, dtype=np.int64)
        self.attempts = np.zeros(n, dtype=np.int64)
        self.message_id = np.full(n, None, dtype=object)
        self.status = np.full(n, None, dtype=object)
        self.price = np.full(n, np.nan)
        self.error = np.full(n, None, dtype=object)
        self.via = np.full(n, None, dtype=object)
        self.started: dict[int, float] = {}

    def _load(self) -> None:
        row = self.db.execute("SELECT row_keys, row_hashes FROM plan WHERE id=1").fetchone()
        if row is None:
            self.row_keys: list[str] = []
            self._hashes = np.zeros(0, dtype=np.int64)
            self._alloc(0)
            return
        self.row_keys = json.loads(zlib.decompress(row[0]))
        self._hashes = np.frombuffer(row[1], dtype=np.int64)
        self._alloc(len(self.row_keys))
        self._run_id = self.meta().get("run_id", "")
        for batch, state, positions, started, outcome, results in self.db.execute(
            "SELECT batch, state, positions, started, outcome, results FROM batches ORDER BY batch"
        ):
            pos = np.frombuffer(positions, dtype=np.int64)
            self._apply_begin(batch, pos, started)
            if state == "lookup":  # a later lookup: no request, rows keep their batch
                self._apply_results(orjson.loads(results), "lookup")
                continue
            if state == "released":
                self._apply_release(pos, outcome)
            elif state in ("answered", "resolved"):
                self._apply_results(
                    orjson.loads(results), "response" if state == "answered" else "lookup"
                )
        for detail in self.db.execute("SELECT detail FROM events WHERE kind='row_error'"):
            d = json.loads(detail[0])
            pos = np.asarray(d["positions"], dtype=np.int64)
            self.error[pos[self.state[pos] == PENDING]] = d["error"]

    def _apply_begin(self, batch: int, pos: np.ndarray, started: float) -> None:
        self.state[pos] = INFLIGHT
        self.batch_of[pos] = batch
        self.attempts[pos] += 1
        self.started[batch] = started

    def _apply_release(self, pos: np.ndarray, reason: str | None) -> None:
        self.state[pos] = PENDING
        self.error[pos] = reason

    def _apply_results(self, results: list, via: str) -> None:
        if not results:
            return
        pos, state, mid, status, price, error = zip(*results, strict=True)
        at = np.fromiter(pos, dtype=np.int64, count=len(pos))

        def objects(values: tuple) -> np.ndarray:
            out = np.empty(len(values), dtype=object)
            out[:] = values
            return out

        self.state[at] = np.fromiter((_CODE[s] for s in state), dtype=np.int8, count=len(at))
        self.message_id[at] = objects(mid)
        self.status[at] = objects(status)
        self.price[at] = np.array([np.nan if v is None else v for v in price], dtype=float)
        self.error[at] = objects(error)
        self.via[at] = via

    # -- meta ------------------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        with self._lock:
            rows = self.db.execute("SELECT key, value FROM meta").fetchall()
        return {k: json.loads(v) for k, v in rows}

    def set_meta(self, **values: Any) -> None:
        """Add or replace metadata (JSON values), in one commit."""
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in values.items()],
            )

    @property
    def is_new(self) -> bool:
        with self._lock:
            return self.db.execute("SELECT COUNT(*) FROM meta").fetchone()[0] == 0

    def initialise(
        self, meta: dict[str, Any], row_keys: Sequence[str], row_hashes: np.ndarray
    ) -> None:
        """Write the run's metadata and the plan's row keys and hashes, in one commit."""
        keys = [str(k) for k in row_keys]
        hashes = np.ascontiguousarray(row_hashes, dtype=np.int64)
        with self._tx() as db:
            db.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in {**meta, "version": VERSION}.items()],
            )
            db.execute(
                "INSERT INTO plan(id, row_keys, row_hashes) VALUES (1, ?, ?)",
                (zlib.compress(orjson.dumps(keys), 1), hashes.tobytes()),
            )
            db.execute(
                "INSERT INTO events(t, kind, detail) VALUES (?, 'created', ?)",
                (time.time(), json.dumps({"rows": len(keys)})),
            )
        with self._lock:
            self.row_keys = keys
            self._hashes = hashes
            self._alloc(len(keys))
            self._run_id = meta.get("run_id", "")

    def row_hashes(self) -> np.ndarray:
        return self._hashes

    def custom_string(self, pos: int) -> str:
        """``<run_id>.<row_key>``: what the message of row ``pos`` carries."""
        return f"{self._run_id}.{self.row_keys[pos]}"

    def custom_strings(self, positions: Sequence[int]) -> dict[int, str]:
        run, keys = self._run_id, self.row_keys
        return {p: f"{run}.{keys[p]}" for p in positions}

    # -- the send protocol -----------------------------------------------------------------
    def requeue_retryable(self) -> int:
        """A new run tries again the rows refused for a cause that can change (in memory;
        the log already says they were not sent)."""
        with self._lock:
            mask = self.state == RETRYABLE
            self.state[mask] = PENDING
            return int(mask.sum())

    def requeue(self, positions: Sequence[int]) -> None:
        """Retryable ``positions`` go back to pending within this run (e.g. THROTTLED)."""
        with self._lock:
            pos = np.asarray(positions, dtype=np.int64)
            pos = pos[self.state[pos] == RETRYABLE]
            self.state[pos] = PENDING

    def next_pending(self, limit: int) -> list[int]:
        """Up to ``limit`` pending positions in plan order."""
        with self._lock:
            return np.flatnonzero(self.state == PENDING)[:limit].tolist()

    def begin(self, positions: Sequence[int]) -> int:
        """Put pending ``positions`` in flight in a new batch, committed before the request."""
        pos = np.asarray(positions, dtype=np.int64)
        now = time.time()
        with self._lock:
            if (self.state[pos] != PENDING).any():
                raise ValueError("begin(): every position must be pending")
            with self._tx() as db:
                batch = db.execute(
                    "INSERT INTO batches(state, n, positions, started) VALUES ('inflight', ?, ?, ?)",
                    (len(pos), pos.tobytes(), now),
                ).lastrowid
            assert batch is not None  # an INSERT always sets lastrowid
            self._apply_begin(batch, pos, now)
        return batch

    def record(
        self,
        batch: int,
        outcomes: Sequence[RowOutcome],
        *,
        via: str,
        batch_state: str,
        outcome: str | None = None,
    ) -> None:
        """Commit per-row outcomes ``(pos, state, message_id, status, price, error)`` and
        close the batch (``answered``: from its response; ``resolved``: by lookup)."""
        if batch_state not in ("answered", "resolved"):
            raise ValueError("batch_state must be 'answered' or 'resolved'")
        results = outcomes if isinstance(outcomes, list) else list(outcomes)
        blob = orjson.dumps(results)  # positions are ints; tuples serialise as arrays
        with self._lock:
            with self._tx() as db:
                db.execute(
                    "UPDATE batches SET state=?, finished=?, outcome=?, results=? WHERE batch=?",
                    (batch_state, time.time(), outcome, blob, batch),
                )
            self._apply_results(results, via)

    def settle(
        self,
        batch: int,
        outcomes: Sequence[RowOutcome],
        *,
        reason: str | None = None,
    ) -> None:
        """Commit what a lookup found for rows of ``batch``: closes the batch when it is
        still in flight, else (in-doubt rows looked up again) appends a ``lookup`` entry."""
        results = outcomes if isinstance(outcomes, list) else list(outcomes)
        if not results:
            return
        with self._lock:
            row = self.db.execute("SELECT state FROM batches WHERE batch=?", (batch,)).fetchone()
        if row is not None and row[0] == "inflight":
            self.record(batch, results, via="lookup", batch_state="resolved", outcome=reason)
            return
        pos = np.asarray([r[0] for r in results], dtype=np.int64)
        blob = orjson.dumps(results)
        now = time.time()
        with self._lock:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO batches(state, n, positions, started, finished, outcome, results)"
                    " VALUES ('lookup', ?, ?, ?, ?, ?, ?)",
                    (len(pos), pos.tobytes(), now, now, reason, blob),
                )
            self._apply_results(results, "lookup")

    def release(self, batch: int, reason: str) -> None:
        """The API certainly did not take this batch: its rows are pending again."""
        with self._lock:
            with self._tx() as db:
                row = db.execute(
                    "SELECT positions FROM batches WHERE batch=? AND state='inflight'", (batch,)
                ).fetchone()
                if row is None:
                    raise ValueError(f"batch {batch} is not in flight")
                db.execute(
                    "UPDATE batches SET state='released', finished=?, outcome=? WHERE batch=?",
                    (time.time(), reason, batch),
                )
            self._apply_release(np.frombuffer(row[0], dtype=np.int64), reason)

    def note(self, batch: int | None, kind: str, detail: Any = None) -> None:
        with self._lock:
            self.db.execute(
                "INSERT INTO events(t, batch, kind, detail) VALUES (?, ?, ?, ?)",
                (time.time(), batch, kind, None if detail is None else json.dumps(detail)),
            )

    def set_error(self, positions: Sequence[int], error: str) -> None:
        """An explanation for pending rows (e.g. why the run gave up on them)."""
        pos = [int(p) for p in positions]
        self.note(None, "row_error", {"positions": pos, "error": error})
        with self._lock:
            arr = np.asarray(pos, dtype=np.int64)
            self.error[arr[self.state[arr] == PENDING]] = error

    def inflight(self, states: Sequence[str] = ("inflight",)) -> dict[int, tuple[list[int], float]]:
        """``{batch: (positions, started)}`` of the rows in ``states`` (default: requests
        whose answer is unknown; add ``"in_doubt"`` for rows a lookup left in doubt),
        grouped by the request they were in."""
        with self._lock:
            out: dict[int, tuple[list[int], float]] = {}
            mask = np.isin(self.state, [_CODE[s] for s in states])
            for pos in np.flatnonzero(mask).tolist():
                b = int(self.batch_of[pos])
                out.setdefault(b, ([], self.started.get(b, 0.0)))[0].append(pos)
            return out

    # -- reading ---------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        with self._lock:
            codes, counts = np.unique(self.state, return_counts=True)
        return {STATES[c]: int(k) for c, k in zip(codes.tolist(), counts.tolist(), strict=True)}

    def snapshot(self) -> dict[str, np.ndarray]:
        """Copies of the per-row arrays: ``state`` (codes into :data:`STATES`),
        ``batch``, ``attempts``, ``message_id``, ``status``, ``price``, ``error``, ``via``."""
        with self._lock:
            return {
                "state": self.state.copy(),
                "batch": self.batch_of.copy(),
                "attempts": self.attempts.copy(),
                "message_id": self.message_id.copy(),
                "status": self.status.copy(),
                "price": self.price.copy(),
                "error": self.error.copy(),
                "via": self.via.copy(),
            }

    def rows(self) -> pd.DataFrame:
        """Every row's state, in plan order."""
        with self._lock:
            return pd.DataFrame(
                {
                    "pos": np.arange(self.n),
                    "row_key": pd.array(self.row_keys, dtype="str"),
                    "custom_string": (
                        f"{self._run_id}." + pd.Series(self.row_keys, dtype="str")
                    ).array,
                    "state": pd.Categorical.from_codes(self.state, categories=list(STATES)),
                    "batch": pd.Series(self.batch_of, dtype="Int64").where(self.batch_of > 0),
                    "attempts": self.attempts.copy(),
                    "message_id": pd.array(self.message_id, dtype="str"),
                    "status": pd.array(self.status, dtype="str"),
                    "price": self.price.copy(),
                    "error": pd.array(self.error, dtype="str"),
                    "via": pd.array(self.via, dtype="str"),
                }
            )

    def batches(self) -> pd.DataFrame:
        with self._lock:
            return pd.read_sql_query(
                "SELECT batch, state, n, started, finished, outcome FROM batches ORDER BY batch",
                self.db,
            )

    def events(self) -> pd.DataFrame:
        with self._lock:
            return pd.read_sql_query("SELECT * FROM events ORDER BY id", self.db)
