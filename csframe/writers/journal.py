"""The send journal: one SQLite file (WAL) per run that says, for every row of a plan,
whether it was sent, and for every request, whether it was answered.

A batch is written as ``inflight`` (with its rows) and committed *before* its request
goes out, and its outcome is committed as soon as the answer is read. So whatever
happens to the process -- an exception, a dropped connection, SIGKILL between two
batches or in the middle of one -- the journal names exactly the rows whose fate is
unknown, and a rerun looks those up instead of sending them again.

Row states:

- ``pending``: not sent (never tried, or the API certainly did not take it);
- ``inflight``: in a request whose answer was lost; resolved by a lookup on rerun;
- ``sent``: accepted by the API (``message_id`` known);
- ``rejected``: refused by the API for this message (``status`` says why); final;
- ``no_credit``: refused for INSUFFICIENT_CREDIT; tried again on the next run;
- ``unconfirmed``: its request was committed but the message is not in the history
  (a free test number, say); final, never sent again.

Durability: WAL with ``synchronous=NORMAL`` survives the death of the process (what the
journal is for); a power cut may lose the last commits, after which a rerun can at worst
send a batch whose request had already started -- ``synchronous="FULL"`` closes that too.
One process at a time: a lock file next to the journal is held while a send runs.

Example::

    j = Journal("runs/oct.sqlite")
    j.counts()          # {'sent': 9800, 'rejected': 12, 'pending': 188}
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from csframe.errors import CsframeError

try:
    import fcntl
except ImportError:  # Windows: no advisory lock; one process per journal is then on you
    fcntl = None  # type: ignore[assignment]

VERSION = 1
STATES = ("pending", "inflight", "sent", "rejected", "no_credit", "unconfirmed")
FINAL = ("sent", "rejected", "unconfirmed")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    pos INTEGER PRIMARY KEY,          -- position in the plan
    row_key TEXT NOT NULL,
    custom_string TEXT NOT NULL,
    row_hash INTEGER NOT NULL,        -- what this row sends (to, body, ...), hashed
    state TEXT NOT NULL DEFAULT 'pending',
    batch INTEGER,                    -- the last request this row was in
    attempts INTEGER NOT NULL DEFAULT 0,
    message_id TEXT,
    status TEXT,                      -- the API's per-message status (SUCCESS, INVALID_RECIPIENT, ...)
    price REAL,
    error TEXT,
    via TEXT,                         -- 'response' or 'lookup'
    updated REAL
);
CREATE INDEX IF NOT EXISTS rows_state ON rows(state, pos);
CREATE INDEX IF NOT EXISTS rows_batch ON rows(batch);
CREATE TABLE IF NOT EXISTS batches (
    batch INTEGER PRIMARY KEY,
    state TEXT NOT NULL,              -- inflight, answered, resolved, released, failed
    n INTEGER NOT NULL,
    first_pos INTEGER NOT NULL,
    started REAL NOT NULL,
    finished REAL,
    outcome TEXT
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


class Journal:
    """A send journal at ``path`` (created on first use). Thread-safe."""

    def __init__(self, path: str | os.PathLike, *, synchronous: str = "NORMAL") -> None:
        if synchronous.upper() not in ("NORMAL", "FULL"):
            raise ValueError("synchronous must be 'NORMAL' or 'FULL'")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._lockfile: Any = None
        self.db = sqlite3.connect(
            str(self.path), isolation_level=None, check_same_thread=False, timeout=30
        )
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self.db.executescript(SCHEMA)

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r}, {self.counts()})"

    def close(self) -> None:
        self.release_lock()
        with self._lock:
            self.db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- one writer at a time --------------------------------------------------------------
    def acquire_lock(self) -> None:
        """Hold the journal's lock file (released by :meth:`release_lock` or process death)."""
        if fcntl is None or self._lockfile is not None:
            return
        handle = open(str(self.path) + ".lock", "a+")  # noqa: SIM115 - held for the run
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

    # -- transactions ----------------------------------------------------------------------
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
        self,
        meta: dict[str, Any],
        row_keys: Sequence[str],
        custom_strings: Sequence[str],
        row_hashes: Sequence[int],
    ) -> None:
        """Write the run's metadata and one ``pending`` row per plan row, in one commit."""
        now = time.time()
        with self._tx() as db:
            db.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in {**meta, "version": VERSION}.items()],
            )
            db.executemany(
                "INSERT INTO rows(pos, row_key, custom_string, row_hash, updated) "
                "VALUES (?, ?, ?, ?, ?)",
                zip(
                    range(len(row_keys)),
                    row_keys,
                    custom_strings,
                    row_hashes,
                    [now] * len(row_keys),
                    strict=True,
                ),
            )
            db.execute(
                "INSERT INTO events(t, kind, detail) VALUES (?, 'created', ?)",
                (now, json.dumps({"rows": len(row_keys)})),
            )

    def row_hashes(self) -> list[int]:
        with self._lock:
            return [h for (h,) in self.db.execute("SELECT row_hash FROM rows ORDER BY pos")]

    def custom_strings(self, positions: Iterable[int]) -> dict[int, str]:
        positions = list(positions)
        with self._lock:
            out: dict[int, str] = {}
            for start in range(0, len(positions), 900):
                part = positions[start : start + 900]
                q = f"SELECT pos, custom_string FROM rows WHERE pos IN ({','.join('?' * len(part))})"
                out.update(self.db.execute(q, part).fetchall())
        return out

    # -- the send protocol -----------------------------------------------------------------
    def requeue_no_credit(self) -> int:
        """A new run tries again the rows that had no credit last time."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE rows SET state='pending', error=NULL, status=NULL, updated=? "
                "WHERE state='no_credit'",
                (time.time(),),
            )
            return cur.rowcount

    def next_pending(self, limit: int, exclude: set[int] | None = None) -> list[int]:
        """Up to ``limit`` pending positions in plan order."""
        with self._lock:
            if not exclude:
                q = "SELECT pos FROM rows WHERE state='pending' ORDER BY pos LIMIT ?"
                return [p for (p,) in self.db.execute(q, (limit,))]
            out = []
            for (p,) in self.db.execute("SELECT pos FROM rows WHERE state='pending' ORDER BY pos"):
                if p not in exclude:
                    out.append(p)
                    if len(out) == limit:
                        break
            return out

    def begin(self, positions: Sequence[int]) -> int:
        """Mark ``positions`` in flight in a new batch, committed before the request."""
        now = time.time()
        with self._tx() as db:
            batch = db.execute(
                "INSERT INTO batches(state, n, first_pos, started) VALUES ('inflight', ?, ?, ?)",
                (len(positions), positions[0], now),
            ).lastrowid
            _update_positions(
                db,
                "UPDATE rows SET state='inflight', batch=?, attempts=attempts+1, updated=? "
                "WHERE state='pending' AND pos IN ({})",
                (batch, now),
                positions,
            )
        return int(batch)

    def record(
        self,
        batch: int,
        outcomes: Sequence[tuple[int, str, str | None, str | None, float | None, str | None]],
        *,
        via: str,
        batch_state: str,
        outcome: str | None = None,
    ) -> None:
        """Commit per-row outcomes ``(pos, state, message_id, status, price, error)`` and
        close the batch."""
        now = time.time()
        with self._tx() as db:
            db.executemany(
                "UPDATE rows SET state=?, message_id=?, status=?, price=?, error=?, via=?, "
                "updated=? WHERE pos=?",
                [(s, m, st, p, e, via, now, pos) for pos, s, m, st, p, e in outcomes],
            )
            db.execute(
                "UPDATE batches SET state=?, finished=?, outcome=? WHERE batch=?",
                (batch_state, now, outcome, batch),
            )

    def release(self, batch: int, reason: str) -> None:
        """The API certainly did not take this batch: its rows are pending again."""
        now = time.time()
        with self._tx() as db:
            db.execute(
                "UPDATE rows SET state='pending', error=?, updated=? "
                "WHERE batch=? AND state='inflight'",
                (reason, now, batch),
            )
            db.execute(
                "UPDATE batches SET state='released', finished=?, outcome=? WHERE batch=?",
                (now, reason, batch),
            )

    def note(self, batch: int | None, kind: str, detail: Any = None) -> None:
        with self._lock:
            self.db.execute(
                "INSERT INTO events(t, batch, kind, detail) VALUES (?, ?, ?, ?)",
                (time.time(), batch, kind, None if detail is None else json.dumps(detail)),
            )

    def set_error(self, positions: Sequence[int], error: str) -> None:
        with self._tx() as db:
            _update_positions(db, "UPDATE rows SET error=? WHERE pos IN ({})", (error,), positions)

    def inflight(self) -> dict[int, list[int]]:
        """``{batch: [positions]}`` of rows whose request's answer is unknown."""
        with self._lock:
            out: dict[int, list[int]] = {}
            for batch, pos in self.db.execute(
                "SELECT batch, pos FROM rows WHERE state='inflight' ORDER BY batch, pos"
            ):
                out.setdefault(batch, []).append(pos)
            return out

    # -- reading ---------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self.db.execute("SELECT state, COUNT(*) FROM rows GROUP BY state"))

    def rows(self) -> pd.DataFrame:
        """Every row's state, in plan order."""
        with self._lock:
            cur = self.db.execute(
                "SELECT pos, row_key, custom_string, state, batch, attempts, message_id, "
                "status, price, error, via FROM rows ORDER BY pos"
            )
            names = [d[0] for d in cur.description]
            data = cur.fetchall()
        return pd.DataFrame.from_records(data, columns=names)

    def batches(self) -> pd.DataFrame:
        with self._lock:
            return pd.read_sql_query("SELECT * FROM batches ORDER BY batch", self.db)

    def events(self) -> pd.DataFrame:
        with self._lock:
            return pd.read_sql_query("SELECT * FROM events ORDER BY id", self.db)


def _update_positions(
    db: sqlite3.Connection, sql: str, head: tuple, positions: Sequence[int]
) -> None:
    positions = list(positions)
    for start in range(0, len(positions), 900):  # SQLite's host parameter limit
        part = positions[start : start + 900]
        db.execute(sql.format(",".join("?" * len(part))), (*head, *part))
