"""Records (JSON objects) to typed DataFrames, column by column, against the registry.

Each column is built once from all records (never a concat per page) and converted with
one vectorised call per kind. Fields the registry does not declare are kept, after the
declared ones, with a dtype inferred from their values, so an API addition never loses
data.

Example::

    >>> from csframe import schema
    >>> df = to_frame([{"date": "1436932432", "message_price": "0.070000"}],
    ...               schema.get("sms_history"))
    >>> str(df["date"].dtype), float(df["message_price"].iloc[0])
    ('datetime64[s, UTC]', 0.07)
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from csframe.schema import DTYPES, Resource

_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f", ""}


def convert(values: Sequence, kind: str) -> pd.Series | pd.api.extensions.ExtensionArray:
    """Convert raw JSON values to the pandas dtype of ``kind`` (see :data:`DTYPES`)."""
    if kind == "str":
        return pd.array(
            [v if isinstance(v, str) or v is None else _text(v) for v in values], dtype="str"
        )
    if kind == "category":
        arr = pd.array(
            [v if isinstance(v, str) or v is None else _text(v) for v in values], dtype="str"
        )
        return pd.Categorical(arr)
    if kind in ("money", "float"):
        return _numeric(values)
    if kind == "int":
        nums = _numeric(values)
        mask = np.isnan(nums)
        out = np.zeros(len(nums), dtype="int64")
        out[~mask] = np.rint(nums[~mask]).astype("int64")
        return pd.arrays.IntegerArray(out, mask)
    if kind == "datetime":
        nums = _numeric(values)
        # 0 and negatives mean "not set" in ClickSend's Unix timestamps (e.g. schedule "0").
        nums[nums <= 0] = np.nan
        return pd.to_datetime(nums, unit="s", utc=True).as_unit("s")
    if kind == "bool":
        out = []
        for v in values:
            if v is None:
                out.append(None)
            elif isinstance(v, bool):
                out.append(v)
            else:
                s = str(v).strip().lower()
                out.append(True if s in _TRUE else False if s in _FALSE else None)
        return pd.array(out, dtype="boolean")
    raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(DTYPES)}")


def _text(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _numeric(values: Sequence) -> np.ndarray:
    """float64 array; None, '' and unparseable values become NaN."""
    try:
        return np.array([np.nan if v is None or v == "" else v for v in values], dtype="float64")
    except (TypeError, ValueError):
        return pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan
        )


def _infer(values: list) -> pd.Series:
    """dtype for an undeclared field: str for text, Int64/float64 for numbers, else object."""
    present = [v for v in values if v is not None]
    if not present:
        return pd.Series(values, dtype="str")
    if all(isinstance(v, str) for v in present):
        return pd.Series(values, dtype="str")
    if all(isinstance(v, bool) for v in present):
        return pd.Series(values, dtype="boolean")
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pd.Series(values, dtype="Int64")
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pd.Series(values, dtype="float64")
    return pd.Series(values, dtype="object")


def empty_frame(resource: Resource) -> pd.DataFrame:
    """A zero-row frame with every declared column and dtype."""
    return to_frame([], resource)


def to_frame(
    records: Iterable[dict], resource: Resource, *, currency: str | None = None
) -> pd.DataFrame:
    """Build the typed frame of ``resource`` from JSON records.

    Declared columns come first in registry order, then any undeclared fields.
    ``currency`` is stored in ``df.attrs["currency"]``.
    """
    records = records if isinstance(records, list) else list(records)
    kinds = resource.kinds()
    extra: dict[str, None] = {}
    for rec in records:
        if len(rec) != len(kinds) or rec.keys() - kinds.keys():
            for k in rec:
                if k not in kinds:
                    extra[k] = None
    gc_was_enabled = gc.isenabled()
    gc.disable()  # building many objects; the cyclic collector only slows this down
    try:
        data = {}
        for name, kind in kinds.items():
            data[name] = convert([rec.get(name) for rec in records], kind)
        for name in extra:
            data[name] = _infer([rec.get(name) for rec in records]).array
    finally:
        if gc_was_enabled:
            gc.enable()
    df = pd.DataFrame(data, index=pd.RangeIndex(len(records)), copy=False)
    if currency:
        df.attrs["currency"] = currency
    return df
