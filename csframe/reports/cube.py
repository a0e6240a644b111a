"""Weighted aggregate rows ("cubes"): many messages folded into one row per key, with a
message count ``n``, sums and maxima.

A cube of a cube is the same cube, so the one function :func:`cube` both reduces a month
of raw rows (on a Dask worker, or the whole frame in pandas) and combines the partial
cubes on the driver. Report code that counts with :func:`count` (instead of
``groupby().size()``) gives the same tables from per-message rows and from cubes.

Example::

    part = cube(lean, ["country", "outcome"], sums=["message_price"], maxes=["date"])
    whole = cube(pd.concat([part, other_part]), ["country", "outcome"],
                 sums=["message_price"], maxes=["date"])
    count(whole, ["country"])      # messages per country, as groupby("country").size()
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: The message-count column of a cube row; a frame without it has one message per row.
WEIGHT = "n"


def weights(frame: pd.DataFrame) -> pd.Series:
    """Messages per row of ``frame``: its ``n`` column, or 1 per row.

    Example::

        weights(lean).sum()      # the number of messages
    """
    if WEIGHT in frame:
        return frame[WEIGHT].astype("int64")
    return pd.Series(np.ones(len(frame), dtype="int64"), index=frame.index)


def count(frame: pd.DataFrame, by: str | Sequence[str]) -> pd.Series:
    """Messages per ``by`` (as ``groupby(by, observed=True, dropna=False).size()``,
    counting a cube row as its ``n`` messages).

    Example::

        count(lean, ["day", "outcome"]).unstack("outcome", fill_value=0)
    """
    keys = [by] if isinstance(by, str) else list(by)
    work = frame[keys].assign(**{WEIGHT: weights(frame).to_numpy()})
    return work.groupby(keys, observed=True, dropna=False)[WEIGHT].sum()


def cube(
    frame: pd.DataFrame,
    keys: Sequence[str],
    *,
    sums: Sequence[str] = (),
    maxes: Sequence[str] = (),
) -> pd.DataFrame:
    """One row per distinct ``keys`` (those ``frame`` has; missing values are keys too),
    in order of first appearance, with ``n`` messages, the sums of ``sums`` and the maxima
    of ``maxes``; the keys keep their dtypes. Idempotent: the cube of concatenated cubes
    is the cube of their rows.

    Example::

        cube(lean, ["outcome", "country"], sums=["message_price"], maxes=["date"])
    """
    keys = [k for k in keys if k in frame]
    sums = [c for c in sums if c in frame]
    maxes = [c for c in maxes if c in frame]
    work = frame[[*sums, *maxes]].copy()
    work[WEIGHT] = weights(frame).to_numpy()
    agg = {WEIGHT: "sum", **{c: "sum" for c in sums}, **{c: "max" for c in maxes}}
    if not keys:
        row = {c: [getattr(work[c], how)()] for c, how in agg.items()}
        return pd.DataFrame(row).astype(work[list(agg)].dtypes.to_dict())
    ids, first = group_ids(frame, keys)
    out = frame[keys].take(first).reset_index(drop=True)
    # One integer key: a groupby over the 8 keys of a day cube spends most of its time
    # building its grouper, ~3x the whole aggregation (bench/reports.py).
    sums_maxes = work.groupby(ids, sort=False).agg(agg).reset_index(drop=True)
    for col in agg:
        values = sums_maxes[col]
        out[col] = values if values.dtype == work[col].dtype else values.astype(work[col].dtype)
    return out


def group_ids(frame: pd.DataFrame, keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The group of each row by ``keys`` (missing values are a key too) as ``0..g-1`` in
    order of first appearance, and the position of each group's first row.

    Example::

        >>> ids, first = group_ids(pd.DataFrame({"a": [1, 2, 1], "b": ["x", "y", "x"]}), ["a", "b"])
        >>> ids.tolist(), first.tolist()
        ([0, 1, 0], [0, 1])
    """
    combined = np.zeros(len(frame), dtype=np.int64)
    span = 1
    for key in keys:
        column = frame[key]
        if isinstance(column.dtype, pd.CategoricalDtype):  # codes already
            codes, size = column.cat.codes.to_numpy(), len(column.cat.categories) + 1
        else:
            codes, uniques = pd.factorize(column, use_na_sentinel=True)
            size = len(uniques) + 1  # and one for missing (code -1)
        if span * size >= 2**62:  # the mixed-radix number would overflow: renumber first
            combined, seen = pd.factorize(combined)
            span = len(seen)
        combined = combined * size + (codes + 1)
        span *= size
    ids, _ = pd.factorize(combined)  # numbered in order of first appearance
    # so a group's first row is where the running maximum of the ids first reaches it
    top = np.maximum.accumulate(ids) if len(ids) else ids
    new = np.ones(len(ids), dtype=bool)
    new[1:] = top[1:] > top[:-1]
    return ids.astype(np.int64, copy=False), np.flatnonzero(new)
