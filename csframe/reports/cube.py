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
    """One row per distinct ``keys`` (those ``frame`` has; missing values are keys too)
    with ``n`` messages, the sums of ``sums`` and the maxima of ``maxes``. Idempotent:
    the cube of concatenated cubes is the cube of their rows.

    Example::

        cube(lean, ["outcome", "country"], sums=["message_price"], maxes=["date"])
    """
    keys = [k for k in keys if k in frame]
    sums = [c for c in sums if c in frame]
    maxes = [c for c in maxes if c in frame]
    work = frame[[*keys, *sums, *maxes]].copy()
    work[WEIGHT] = weights(frame).to_numpy()
    agg = {WEIGHT: "sum", **{c: "sum" for c in sums}, **{c: "max" for c in maxes}}
    if not keys:
        row = {c: [getattr(work[c], how)()] for c, how in agg.items()}
        return pd.DataFrame(row).astype(work[list(agg)].dtypes.to_dict())
    out = work.groupby(keys, observed=True, dropna=False, sort=False).agg(agg).reset_index()
    for col in (*keys, *agg):
        if out[col].dtype != work[col].dtype and not isinstance(
            work[col].dtype, pd.CategoricalDtype
        ):
            out[col] = out[col].astype(work[col].dtype)
    return out
