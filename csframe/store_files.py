"""Which files of a store a read needs: the state file, the recorded month partitions that
overlap a window (with the bounds that cut through them), and the column check.

Shared by both readers, :func:`csframe.store.read` (pandas) and
:func:`csframe.scale.store.read` (Dask), which sit above it.

Example::

    state = open_state(Path("data/sms"))
    [f.month for f in month_files(Path("data/sms"), state, pd.Timestamp("2026-03-15", tz="UTC"))]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from csframe import schema

STATE_FILE = "_csframe_sync.json"


@dataclass(frozen=True)
class MonthFile:
    """One partition file and the bounds that cut through it (``None``: not cut)."""

    path: str
    month: str  # the partition key: 'YYYY-MM' (or a snapshot's 'YYYY-MM-DD')
    t0: pd.Timestamp | None = None
    t1: pd.Timestamp | None = None


def open_state(root: Path) -> dict:
    """The store's state (``_csframe_sync.json``); FileNotFoundError when ``root`` is none."""
    state_path = root / STATE_FILE
    if not state_path.exists():
        raise FileNotFoundError(f"{root} is not a csframe store (no {STATE_FILE}); run sync first")
    return json.loads(state_path.read_text())


def check_columns(res: schema.Resource, columns: list[str] | None) -> None:
    """A ValueError naming the columns ``res`` does not have."""
    unknown = [c for c in columns or () if c not in res.column_names]
    if unknown:
        raise ValueError(
            f"unknown column(s) {unknown} for {res.name}; known: {', '.join(res.column_names)}"
        )


def month_files(
    root: Path, state: dict, t0: pd.Timestamp | None = None, t1: pd.Timestamp | None = None
) -> list[MonthFile]:
    """The recorded month files that overlap ``[t0, t1)``, oldest first, each with the
    bounds that cut through it. Months wholly outside are never opened (partition pruning);
    a month file the state does not record (a sync killed before recording it) is skipped.

    Example::

        [f.month for f in month_files(root, open_state(root), pd.Timestamp("2026-03-15", tz="UTC"))]
    """
    recorded = set(state.get("months") or {})
    out = []
    for f in sorted(root.glob("month=*/part.parquet")):
        key = f.parent.name.split("=", 1)[1]
        if key not in recorded:
            continue
        month = pd.Timestamp(key + "-01", tz="UTC")
        next_month = month + pd.DateOffset(months=1)
        if (t1 is not None and month >= t1) or (t0 is not None and next_month <= t0):
            continue
        cut0 = t0 if t0 is not None and t0 > month else None
        cut1 = t1 if t1 is not None and t1 < next_month else None
        out.append(MonthFile(str(f), key, cut0, cut1))
    return out
