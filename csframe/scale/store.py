"""The month-partitioned Parquet store as a ``dask.dataframe``: one partition per month
file, months outside the window never opened, only the asked columns read.

The partitions have exactly the registry's dtypes (the same as
:func:`csframe.store.read`), and so does the meta, also when no month matches. Reached
through ``store.read(path, ..., engine="dask")``.

Example::

    sms = store.read("data/sms", start="2026-01-01", columns=["date", "country"], engine="dask")
    sms.npartitions            # the months from January on
    sms.country.value_counts().compute()
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from csframe import schema
from csframe.scale import dask_dataframe
from csframe.store_files import MonthFile, check_columns, month_files, open_state
from csframe.timeutil import parse_instant


def read(
    path: str | os.PathLike,
    start: Any = None,
    end: Any = None,
    columns: list[str] | None = None,
    *,
    resource: str | None = None,
) -> Any:
    """The store at ``path`` (rows with ``start <= time < end``) as a lazy dask DataFrame
    with the registry's dtypes, one partition per month file in the window.

    Example::

        ddf = read("data/sms", "2026-01-01", "2026-07-01", ["date", "message_price"])
        ddf.message_price.sum().compute()
    """
    dd = dask_dataframe()
    import dask

    root = Path(path)
    state = open_state(root)
    res = schema.get(resource or state["resource"])
    if state.get("layout") == "snapshot":
        raise ValueError(f"{root} holds dated snapshots: read it with engine='pandas' (as_of=)")
    check_columns(res, columns)
    cols = list(columns) if columns is not None else res.column_names
    meta = _meta(res, cols)
    t0 = parse_instant(start, "start") if start is not None else None
    t1 = parse_instant(end, "end") if end is not None else None
    files = month_files(root, state, t0, t1)
    # Dask would turn pandas' "str" columns into NA-valued strings: keep the registry's.
    with dask.config.set({"dataframe.convert-string": False}):
        if not files:
            return dd.from_pandas(meta, npartitions=1)
        return dd.from_map(
            _MonthReader(res.name),
            files,
            columns=cols,
            meta=dd.utils.clear_known_categories(meta),  # each month has its own categories
            label=f"csframe-{res.name}",
            enforce_metadata=False,
        )


def _meta(res: schema.Resource, cols: list[str]) -> pd.DataFrame:
    from csframe.frames import empty_frame

    return empty_frame(res)[cols]


class _MonthReader:
    """Reads one month file as a typed partition. Its ``columns=`` keyword lets Dask push a
    later column selection (``ddf[["date"]]``) down into the read."""

    def __init__(self, resource: str) -> None:
        self.resource = resource

    def __call__(self, part: MonthFile, columns: list[str] | None = None) -> pd.DataFrame:
        res = schema.get(self.resource)
        cols = list(columns) if columns is not None else res.column_names
        time_field = res.time_field
        filters = []
        unit = pa.timestamp("s", "UTC")
        if time_field and part.t0 is not None:
            filters.append((time_field, ">=", pa.scalar(part.t0.to_pydatetime(), unit)))
        if time_field and part.t1 is not None:
            filters.append((time_field, "<", pa.scalar(part.t1.to_pydatetime(), unit)))
        table = pq.read_table(part.path, columns=cols, filters=filters or None)
        df = table.to_pandas()
        for col, dtype in res.dtypes().items():
            if col in df.columns and str(df[col].dtype) != dtype:
                df[col] = df[col].astype(dtype)
        if time_field in df.columns and not df[time_field].is_monotonic_increasing:
            df = df.sort_values(time_field, kind="stable", ignore_index=True)
        return df[cols]
