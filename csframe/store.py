"""A local Parquet store of one resource, partitioned by month or by snapshot date (hive
layout).

Layout::

    data/sms/
      _csframe_sync.json          state: which months are complete, rows, when synced
      month=2026-01/part.parquet
      month=2026-02/part.parquet
    data/contacts/
      _csframe_sync.json          state: which snapshots exist, rows, when taken
      snapshot=2026-11-30/part.parquet
      snapshot=2026-12-01/part.parquet

Time-based resources (history, receipts, inbound, usage, ...) are stored by month of their
time field; resources that change in place (contacts, lists, campaigns, ...) as dated
snapshots, read as of a date (:func:`read`'s ``as_of``).

Each month (or snapshot) file is replaced atomically (written under a dot-name, then
``os.replace``), and the state file likewise, after its partition files, so a crash
mid-sync leaves the previous store readable. :func:`read` and :func:`duckdb` read only the
partitions the state records, so a file written by a sync killed before it recorded it is
not read until a sync completes it; the temporary files a killed writer leaves are removed
by the next sync. Readers (pyarrow, DuckDB, Dask, Spark) skip dot- and underscore-prefixed
files, so half-written files are never seen.

Example::

    from csframe import store
    df = store.read("data/sms", start="2026-03-01", end="2026-04-01", columns=["date", "to"])
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from csframe import partfile, schema
from csframe.store_files import STATE_FILE, MonthFile, check_columns, month_files, open_state
from csframe.timeutil import parse_instant

if TYPE_CHECKING:  # for annotations only
    from csframe.timeutil import Instant

STATE_VERSION = 1


@dataclass
class StoreState:
    """What the store holds: the registry resource, the store's name when it is not the
    resource's (``sms_statistics`` holds ``statistics``), the layout, and per month
    ('YYYY-MM') or per snapshot ('YYYY-MM-DD') its metadata."""

    resource: str
    months: dict[str, dict] = field(default_factory=dict)
    currency: str | None = None
    name: str | None = None
    layout: str = "month"
    snapshots: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def load(
        cls, root: Path, resource: str, *, name: str | None = None, layout: str = "month"
    ) -> StoreState:
        """The state at ``root``, or a new one; refuses a store of another resource or
        layout (a sync into the wrong folder)."""
        path = root / STATE_FILE
        if not path.exists():
            return cls(resource, name=name if name != resource else None, layout=layout)
        raw = json.loads(path.read_text())
        held = raw.get("name") or raw.get("resource")
        if raw.get("resource") != resource or held != (name or resource):
            raise ValueError(f"{root} holds {held!r}, not {name or resource!r}; use another path")
        if raw.get("layout", "month") != layout:
            raise ValueError(f"{root} is a {raw.get('layout', 'month')} store, not a {layout} one")
        return cls(
            raw["resource"],
            raw.get("months", {}),
            raw.get("currency"),
            raw.get("name"),
            raw.get("layout", "month"),
            raw.get("snapshots", {}),
        )

    def save(self, root: Path) -> None:
        payload: dict = {
            "version": STATE_VERSION,
            "resource": self.resource,
            "currency": self.currency,
        }
        if self.name:
            payload["name"] = self.name
        if self.layout == "snapshot":
            payload["layout"] = self.layout
            payload["snapshots"] = dict(sorted(self.snapshots.items()))
        else:
            payload["months"] = dict(sorted(self.months.items()))
        _atomic_write_bytes(root / STATE_FILE, json.dumps(payload, indent=2).encode())


def month_key(month: pd.Timestamp) -> str:
    return f"{month:%Y-%m}"


def write_month(root: Path, month: pd.Timestamp, frame: pd.DataFrame) -> Path:
    """Replace one month's file atomically with ``frame`` (see :mod:`csframe.partfile`)."""
    target = root / f"month={month_key(month)}" / "part.parquet"
    return partfile.write_table(target, pa.Table.from_pandas(frame, preserve_index=False))


def write_snapshot(root: Path, day: str, frame: pd.DataFrame) -> Path:
    """Replace the snapshot of ``day`` ('YYYY-MM-DD') atomically with ``frame`` (see
    :mod:`csframe.partfile`)."""
    target = root / f"snapshot={day}" / "part.parquet"
    return partfile.write_table(target, pa.Table.from_pandas(frame, preserve_index=False))


def snapshot_for(state: dict, as_of: object = None) -> str | None:
    """The key of the latest snapshot on or before ``as_of`` (a date; None: the latest),
    or None when the store has none; a ValueError when all are later than ``as_of``."""
    keys = sorted(state.get("snapshots") or {})
    if not keys or as_of is None:
        return keys[-1] if keys else None
    day = f"{parse_instant(as_of, 'as_of'):%Y-%m-%d}"
    earlier = [k for k in keys if k <= day]
    if not earlier:
        raise ValueError(f"as_of={day}: no snapshot on or before it; the first is {keys[0]}")
    return earlier[-1]


def read(
    path: str | os.PathLike,
    start: Instant | None = None,
    end: Instant | None = None,
    columns: list[str] | None = None,
    engine: str = "pandas",
    *,
    resource: str | None = None,
    as_of: object = None,
) -> pd.DataFrame:
    """Load the store at ``path`` (rows with ``start <= time < end``) as a typed frame.

    ``columns`` limits what is read; dtypes follow the registry of the stored resource.
    A snapshot store (contacts, lists, campaigns, ...) reads its latest snapshot, or with
    ``as_of`` (a date) the latest one taken on or before that date (``df.attrs["snapshot"]``
    says which).
    ``engine="dask"`` returns a lazy ``dask.dataframe.DataFrame`` of a month store instead,
    one partition per month file, with the same dtypes (the ``dask`` extra;
    :mod:`csframe.scale.store`).

    Example::

        df = store.read("data/sms", start="2026-01-01", columns=["date", "message_price"])
        ct = store.read("data/contacts", as_of="2026-11-30")
        ddf = store.read("data/sms", start="2026-01-01", engine="dask")
    """
    if engine != "pandas":
        from csframe.scale import check_engine
        from csframe.scale.store import read as read_dask

        check_engine(engine)
        return read_dask(path, start, end, columns, resource=resource)
    root = Path(path)
    state = open_state(root)
    res = schema.get(resource or state["resource"])
    time_field = res.time_field
    check_columns(res, columns)
    snapshot = None
    if state.get("layout") == "snapshot":
        if (start is not None or end is not None) and not time_field:
            raise ValueError(f"{res.name} has no time field: start/end do not apply; use as_of")
        snapshot = snapshot_for(state, as_of)
    elif as_of is not None:
        raise ValueError(f"as_of applies to snapshot stores; {root} is stored by month")
    t0 = parse_instant(start, "start") if start is not None else None
    t1 = parse_instant(end, "end") if end is not None else None
    if snapshot is not None:
        # one snapshot, cut by start/end (if given) wherever they fall
        file = root / f"snapshot={snapshot}" / "part.parquet"
        files = [MonthFile(str(file), snapshot, t0, t1)]
    else:
        files = month_files(root, state, t0, t1)
    if not files:
        from csframe.frames import empty_frame

        df = empty_frame(res)
        return df[columns] if columns is not None else df
    paths = [f.path for f in files]
    # one schema for all files: an undeclared field can be all-null (type null) in one month
    # and a struct in another (email history's _attachments)
    unified = pa.unify_schemas([pq.read_schema(p) for p in paths], promote_options="permissive")
    dataset = ds.dataset(paths, format="parquet", schema=unified)
    flt = None
    # Row filters only where a bound cuts through a month (the first and the last).
    cut0, cut1 = files[0].t0, files[-1].t1
    if time_field and cut0 is not None:
        flt = ds.field(time_field) >= pa.scalar(cut0.to_pydatetime(), pa.timestamp("s", "UTC"))
    if time_field and cut1 is not None:
        upper = ds.field(time_field) < pa.scalar(cut1.to_pydatetime(), pa.timestamp("s", "UTC"))
        flt = upper if flt is None else flt & upper
    table = dataset.to_table(columns=columns, filter=flt)  # the filter may name unread columns
    df = table.to_pandas()
    dtypes = {c: t for c, t in res.dtypes().items() if c in df.columns}
    for col, dtype in dtypes.items():
        if str(df[col].dtype) != dtype:
            df[col] = df[col].astype(dtype)
    # a snapshot keeps the API's order; months are put back in time order
    if snapshot is None and time_field in df.columns and not df[time_field].is_monotonic_increasing:
        df = df.sort_values(time_field, kind="stable", ignore_index=True)
    if state.get("currency"):
        df.attrs["currency"] = state["currency"]
    if snapshot is not None:
        df.attrs["snapshot"] = snapshot
    return df


def recorded_files(root: Path) -> list[Path]:
    """The partition files the state at ``root`` records (months or snapshots), in order:
    what :func:`read` may read, never a file a killed sync wrote but did not record."""
    state = json.loads((Path(root) / STATE_FILE).read_text())
    if state.get("layout") == "snapshot":
        keys, part = state.get("snapshots") or {}, "snapshot"
    else:
        keys, part = state.get("months") or {}, "month"
    files = [Path(root) / f"{part}={k}" / "part.parquet" for k in sorted(keys)]
    return [f for f in files if f.is_file()]


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
            raw = json.loads(state_path.read_text())
            name = raw.get("name") or raw.get("resource")
            if name and name not in found:
                found[str(name)] = state_path.parent
    return found


def duckdb(path: str | os.PathLike, connection: Any = None) -> Any:
    """A DuckDB connection with one view per store at or under ``path``, named after the
    store (``sms_history``, ``contacts``, ``sms_statistics``...), reading the partition files
    the store records (hive partitions: ``month`` or ``snapshot`` is a column, except where
    the resource has a column of that name, as usage's ``month``). A snapshot store's view
    holds every snapshot: filter on ``snapshot``. Needs the ``duckdb`` extra.

    Example::

        con = store.duckdb("data")
        con.sql("SELECT country, sum(message_price) FROM sms_history GROUP BY 1").df()
        con.sql("SELECT count(*) FROM contacts WHERE snapshot = (SELECT max(snapshot) FROM contacts)")
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
    for name, root in found.items():
        files = recorded_files(root)
        if not files:
            continue  # a store with nothing recorded yet: no view rather than a failing one
        state = json.loads((root / STATE_FILE).read_text())
        part = "snapshot" if state.get("layout") == "snapshot" else "month"
        # a resource column of the partition's name (usage's month) wins over the folder name
        hive = part not in schema.get(state["resource"]).column_names
        listed = ", ".join("'" + f.as_posix().replace("'", "''") + "'" for f in files)
        con.execute(
            f'CREATE OR REPLACE VIEW "{name}" AS SELECT * FROM read_parquet([{listed}], '
            f"hive_partitioning = {str(hive).lower()}, union_by_name = true)"
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
