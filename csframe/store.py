"""A local Parquet store of one resource, partitioned by month (hive layout).

Layout::

    data/sms/
      _csframe_sync.json          state: which months are complete, rows, when synced
      month=2026-01/part.parquet
      month=2026-02/part.parquet

Each month file is replaced atomically (written under a dot-name, then ``os.replace``),
and the state file likewise, after its month files, so a crash mid-sync leaves the
previous store readable. :func:`read` reads only the months the state records, so a month
file written by a sync killed before it recorded it is not read until a sync completes
it; the temporary files a killed writer leaves are removed by the next sync. Readers (pyarrow, DuckDB, Dask, Spark) skip dot- and
underscore-prefixed files, so half-written files are never seen.

Example::

    from csframe import store
    df = store.read("data/sms", start="2026-03-01", end="2026-04-01", columns=["date", "to"])
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from csframe import partfile, schema
from csframe.timeutil import parse_instant

STATE_FILE = "_csframe_sync.json"
STATE_VERSION = 1


@dataclass
class StoreState:
    """What the store holds: resource name and, per month ('YYYY-MM'), its metadata."""

    resource: str
    months: dict[str, dict] = field(default_factory=dict)
    currency: str | None = None

    @classmethod
    def load(cls, root: Path, resource: str) -> StoreState:
        path = root / STATE_FILE
        if not path.exists():
            return cls(resource)
        raw = json.loads(path.read_text())
        if raw.get("resource") != resource:
            raise ValueError(
                f"{root} holds {raw.get('resource')!r}, not {resource!r}; use another path"
            )
        return cls(raw["resource"], raw.get("months", {}), raw.get("currency"))

    def save(self, root: Path) -> None:
        payload = {
            "version": STATE_VERSION,
            "resource": self.resource,
            "currency": self.currency,
            "months": dict(sorted(self.months.items())),
        }
        _atomic_write_bytes(root / STATE_FILE, json.dumps(payload, indent=2).encode())


def month_key(month: pd.Timestamp) -> str:
    return f"{month:%Y-%m}"


def write_month(root: Path, month: pd.Timestamp, frame: pd.DataFrame) -> Path:
    """Replace one month's file atomically with ``frame`` (see :mod:`csframe.partfile`)."""
    target = root / f"month={month_key(month)}" / "part.parquet"
    return partfile.write_table(target, pa.Table.from_pandas(frame, preserve_index=False))


def read(
    path: str | os.PathLike,
    start=None,
    end=None,
    columns: list[str] | None = None,
    *,
    resource: str | None = None,
) -> pd.DataFrame:
    """Load the store at ``path`` (rows with ``start <= time < end``) as a typed frame.

    ``columns`` limits what is read; dtypes follow the registry of the stored resource.

    Example::

        df = store.read("data/sms", start="2026-01-01", columns=["date", "message_price"])
    """
    root = Path(path)
    state_path = root / STATE_FILE
    if not state_path.exists():
        raise FileNotFoundError(f"{root} is not a csframe store (no {STATE_FILE}); run sync first")
    state = json.loads(state_path.read_text())
    res = schema.get(resource or state["resource"])
    time_field = res.time_field
    t0 = parse_instant(start, "start") if start is not None else None
    t1 = parse_instant(end, "end") if end is not None else None
    if columns is not None:
        unknown = [c for c in columns if c not in res.column_names]
        if unknown:
            raise ValueError(
                f"unknown column(s) {unknown} for {res.name}; known: {', '.join(res.column_names)}"
            )
    recorded = set(state.get("months") or {})
    files = []
    for f in sorted(root.glob("month=*/part.parquet")):
        key = f.parent.name.split("=", 1)[1]
        if key not in recorded:
            continue  # written by a sync killed before it recorded the month: not yet in
        # Partition pruning: skip months wholly outside [start, end) without opening them.
        month = pd.Timestamp(key + "-01", tz="UTC")
        next_month = month + pd.DateOffset(months=1)
        if (t1 is not None and month >= t1) or (t0 is not None and next_month <= t0):
            continue
        files.append((f, month, next_month))
    if not files:
        from csframe.frames import empty_frame

        df = empty_frame(res)
        return df[columns] if columns is not None else df
    dataset = ds.dataset([str(f) for f, _, _ in files], format="parquet")
    flt = None
    # Row filters only where a bound cuts through a month.
    if time_field and t0 is not None and t0 > files[0][1]:
        flt = ds.field(time_field) >= pa.scalar(t0.to_pydatetime(), pa.timestamp("s", "UTC"))
    if time_field and t1 is not None and t1 < files[-1][2]:
        upper = ds.field(time_field) < pa.scalar(t1.to_pydatetime(), pa.timestamp("s", "UTC"))
        flt = upper if flt is None else flt & upper
    table = dataset.to_table(columns=columns, filter=flt)  # the filter may name unread columns
    df = table.to_pandas()
    dtypes = {c: t for c, t in res.dtypes().items() if c in df.columns}
    for col, dtype in dtypes.items():
        if str(df[col].dtype) != dtype:
            df[col] = df[col].astype(dtype)
    if time_field in df.columns and not df[time_field].is_monotonic_increasing:
        df = df.sort_values(time_field, kind="stable", ignore_index=True)
    if state.get("currency"):
        df.attrs["currency"] = state["currency"]
    return df


def stores(path: str | os.PathLike) -> dict[str, Path]:
    """``{resource: store root}`` for the store at ``path`` and the stores in its
    sub-folders (``data/`` holding ``data/sms``, ``data/mms``...).

    Example::

        store.stores("data")      # {'sms_history': PosixPath('data/sms'), ...}
    """
    root = Path(path)
    found: dict[str, Path] = {}
    for state_path in [root / STATE_FILE, *sorted(root.glob(f"*/{STATE_FILE}"))]:
        if state_path.is_file():
            resource = json.loads(state_path.read_text()).get("resource")
            if resource and resource not in found:
                found[str(resource)] = state_path.parent
    return found


def duckdb(path: str | os.PathLike, connection=None):
    """A DuckDB connection with one view per store at or under ``path``, named after its
    resource (``sms_history``, ``mms_history``...), reading the month files as they are
    (hive partitions; ``month`` is a column). Needs the ``duckdb`` extra.

    Example::

        con = store.duckdb("data")
        con.sql("SELECT country, sum(message_price) FROM sms_history GROUP BY 1").df()
    """
    try:
        import duckdb as _duckdb
    except ImportError:
        raise ImportError(
            "csframe.store.duckdb needs DuckDB: pip install 'csframe[duckdb]'"
        ) from None
    found = stores(path)
    if not found:
        raise FileNotFoundError(
            f"no csframe store at or under {str(path)!r} (no {STATE_FILE}); run sync first"
        )
    con = connection if connection is not None else _duckdb.connect()
    for resource, root in found.items():
        pattern = (root / "month=*" / "part.parquet").as_posix().replace("'", "''")
        if not any(root.glob("month=*/part.parquet")):
            continue  # a store with no month yet: no view rather than a failing one
        con.execute(
            f'CREATE OR REPLACE VIEW "{resource}" AS SELECT * FROM '
            f"read_parquet('{pattern}', hive_partitioning = true)"
        )
    return con


def remove_stale_temp_files(root: Path) -> int:
    """Delete the temporary files (``.<name>.<pid>.tmp``) that a writer killed between
    writing and renaming left behind, when that process is gone; returns how many.
    Readers never see them (dot files), but they would pile up."""
    removed = 0
    for tmp in Path(root).rglob(".*.tmp"):
        try:
            pid = int(tmp.name.rsplit(".", 2)[-2])
        except (ValueError, IndexError):
            continue
        if pid == os.getpid() or _alive(pid):
            continue
        try:
            tmp.unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    partfile.atomic_write_bytes(path, data)
