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
import io
from collections.abc import Iterable, Sequence

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

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
        unparsed = [
            v for v, n in zip(values, nums, strict=True) if isinstance(v, str) and v and n != n
        ]
        if unparsed:  # ISO date strings rather than Unix seconds
            stamps = pd.to_datetime(pd.Series(values, dtype="object"), utc=True, errors="coerce")
            return pd.DatetimeIndex(stamps).as_unit("s").array
        # 0 and negatives mean "not set" in ClickSend's Unix timestamps (e.g. schedule "0").
        nums = np.where(nums > 0, nums, np.nan)
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


def _text(v: object) -> str:
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


# --- Columnar path: many page bodies at once, parsed and converted in Arrow ----------------

_ARROW_TYPES = {
    "str": pa.string(),
    "category": pa.dictionary(pa.int32(), pa.string()),
    "money": pa.float64(),
    "float": pa.float64(),
    "int": pa.int64(),
    "datetime": pa.timestamp("s", tz="UTC"),
    "bool": pa.bool_(),
}
_TO_PANDAS = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}.get
# The pool the columnar path allocates from: the C library's allocator, not Arrow's default
# (mimalloc in the wheels), which keeps the memory a parse frees mapped for a while, and a
# load parses all the time: a cold 100,000-row history() peaked at 2.8x the frame's size
# with mimalloc, 2.3x with this pool, no slower (bench/history_load.py, fresh process).
POOL = pa.system_memory_pool()


class _Fallback(Exception):
    """The columnar path cannot represent this data; use the record-by-record path."""


def pages_table(bodies: Sequence[bytes], resource: Resource) -> pa.Table:
    """Parse whole paginated response bodies with pyarrow's JSON reader (C++, threaded)
    and return the records as an Arrow table with the registry's Arrow types.

    Falls back to orjson + :func:`to_frame` semantics when a field changes JSON type
    between records (Arrow cannot infer one type for it).
    """
    try:
        return _convert_table(_records_table(bodies), resource)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, _Fallback):
        from csframe.paging import page_block

        records = [
            rec
            for body in bodies
            for rec in ((page_block(orjson.loads(body)) or {}).get("data") or [])
        ]
        frame = to_frame(records, resource)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        # Same Arrow types as the columnar path, so chunks from either path concatenate.
        for name, kind in resource.kinds().items():
            i = table.schema.get_field_index(name)
            table = table.set_column(i, name, table.column(name).cast(_ARROW_TYPES[kind]))
        return table.replace_schema_metadata(None)


def table_to_frame(
    table: pa.Table,
    resource: Resource,
    *,
    currency: str | None = None,
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """The pandas frame of an Arrow table built by :func:`pages_table` (``columns``: only
    those, in that order; the table may already be projected to them)."""
    if columns is not None:
        table = table.select([c for c in columns if c in table.column_names])
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        df = table.to_pandas(types_mapper=_TO_PANDAS, split_blocks=True, memory_pool=POOL)
    finally:
        if gc_was_enabled:
            gc.enable()
    if df.empty and not len(df.columns):
        df = empty_frame(resource)
    if columns is not None:
        df = df.reindex(columns=columns)
    # Arrow may hand back float64 for an all-null int column, or object for all-null text,
    # and an all-null category column with object categories (chunks of one load must
    # share the categories' dtype, or they do not concatenate as categoricals).
    for name, dtype in resource.dtypes().items():
        if name not in df.columns:
            continue
        if str(df[name].dtype) != dtype:
            df[name] = df[name].astype(dtype)
        elif dtype == "category" and not len(df[name].cat.categories):
            df[name] = df[name].cat.set_categories(pd.Index([], dtype="str"))
    if currency:
        df.attrs["currency"] = currency
    return df


def _records_table(bodies: Sequence[bytes]) -> pa.Table:
    # A raw newline can only be whitespace in JSON (strings escape it), so folding newlines
    # into spaces turns N bodies into N lines of newline-delimited JSON without changing them.
    lines = [b.replace(b"\n", b" ").replace(b"\r", b" ") for b in bodies]
    biggest = max(len(line) for line in lines)
    # One thread: loaders parse a chunk at a time while their workers fetch the next pages,
    # so the reader's own threads gained little, and each kept a heap of its own (peak RSS
    # at 100,000 rows: about 1.4x the frame more; bench/history_load.py).
    parsed = pa_json.read_json(
        io.BytesIO(b"\n".join(lines)),
        read_options=pa_json.ReadOptions(
            block_size=max(1 << 20, 2 * biggest + 16), use_threads=False
        ),
        memory_pool=POOL,
    )
    data = parsed.column("data")
    if pa.types.is_list(data.type) and "last_page" in parsed.column_names:
        inner = data  # a pagination block without the envelope (GET /mms-campaigns)
    elif pa.types.is_struct(data.type) and data.type.get_field_index("data") >= 0:
        inner = pc.struct_field(data, "data", memory_pool=POOL)
    else:
        raise _Fallback("not a paginated body")
    if not pa.types.is_list(inner.type) and not pa.types.is_large_list(inner.type):
        raise _Fallback("data.data is not a list")
    records = pc.list_flatten(inner, memory_pool=POOL)
    if not pa.types.is_struct(records.type):
        return pa.table({})  # no rows on any page
    chunks = records.chunks if isinstance(records, pa.ChunkedArray) else [records]
    batches = [pa.RecordBatch.from_struct_array(c) for c in chunks if len(c)]
    if not batches:
        return pa.table({})
    return pa.Table.from_batches(batches)


def _convert_table(table: pa.Table, resource: Resource) -> pa.Table:
    n = table.num_rows
    kinds = resource.kinds()
    arrays, names = [], []
    for name, kind in kinds.items():
        target = _ARROW_TYPES[kind]
        if name in table.column_names:
            arrays.append(_convert_column(table.column(name), kind, target))
        else:
            arrays.append(pa.nulls(n, target, memory_pool=POOL))
        names.append(name)
    for name in table.column_names:
        if name not in kinds:
            col = table.column(name)
            if pa.types.is_struct(col.type) or pa.types.is_list(col.type):
                raise _Fallback(f"nested undeclared field {name}")
            arrays.append(col)
            names.append(name)
    return pa.table(arrays, names=names)


def _convert_column(
    col: pa.ChunkedArray, kind: str, target: pa.DataType
) -> pa.Array | pa.ChunkedArray:
    t = col.type
    if pa.types.is_null(t):
        return pa.nulls(len(col), target, memory_pool=POOL)
    if pa.types.is_struct(t) or pa.types.is_list(t):
        raise _Fallback("nested value in a declared column")
    if kind == "str":
        return col if t == target else pc.cast(col, target, memory_pool=POOL)
    if kind == "category":
        text = col if pa.types.is_string(t) else pc.cast(col, pa.string(), memory_pool=POOL)
        return pc.dictionary_encode(text, memory_pool=POOL)
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        # pyarrow's JSON reader turns ISO date strings into timestamps by itself
        if kind == "datetime":
            stamps = (
                col
                if pa.types.is_timestamp(t)
                else pc.cast(col, pa.timestamp("s"), memory_pool=POOL)
            )
            if stamps.type.tz is None:
                stamps = pc.assume_timezone(stamps, "UTC", memory_pool=POOL)
            return pc.cast(stamps, target, memory_pool=POOL)
        if kind in ("str", "category"):
            text = pc.strftime(col, format="%Y-%m-%dT%H:%M:%S", memory_pool=POOL)
            return text if kind == "str" else pc.dictionary_encode(text, memory_pool=POOL)
        raise _Fallback(f"a date where a {kind} was declared")
    if kind == "bool":
        if pa.types.is_boolean(t):
            return col
        if pa.types.is_integer(t) or pa.types.is_floating(t):
            return pc.not_equal(col, 0, memory_pool=POOL)
        raise _Fallback("boolean sent as text")
    nums = _arrow_numeric(col)
    if kind in ("money", "float"):
        return nums
    if kind == "int":
        return pc.cast(pc.round(nums, memory_pool=POOL), pa.int64(), memory_pool=POOL)
    # datetime: 0 and negatives mean "not set"
    valid = pc.if_else(
        pc.greater(nums, 0, memory_pool=POOL),
        nums,
        pa.scalar(None, pa.float64()),
        memory_pool=POOL,
    )
    return pc.cast(pc.cast(valid, pa.int64(), memory_pool=POOL), target, memory_pool=POOL)


def _arrow_numeric(col: pa.ChunkedArray) -> pa.ChunkedArray:
    t = col.type
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return pc.cast(col, pa.float64(), memory_pool=POOL)
    if pa.types.is_boolean(t):
        return pc.cast(pc.cast(col, pa.int8(), memory_pool=POOL), pa.float64(), memory_pool=POOL)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        blank = pc.equal(pc.utf8_trim_whitespace(col, memory_pool=POOL), "", memory_pool=POOL)
        text = pc.if_else(blank, pa.scalar(None, t), col, memory_pool=POOL)
        try:
            return pc.cast(text, pa.float64(), memory_pool=POOL)
        except pa.ArrowInvalid:
            raise _Fallback("unparseable number") from None
    raise _Fallback(f"cannot read {t} as a number")


def for_excel(df: pd.DataFrame, tz: str | None = None) -> pd.DataFrame:
    """A copy of ``df`` that ``df.to_excel(...)`` accepts: tz-aware datetime columns as
    naive wall times in ``tz`` (default: UTC). Excel cells have no time zone, and pandas
    refuses to write tz-aware ones; say which zone the times are in next to the data.

    Example::

        >>> df = pd.DataFrame({"date": pd.to_datetime(["2026-03-31T23:30Z"])})
        >>> for_excel(df, tz="Australia/Melbourne")["date"].iloc[0]
        Timestamp('2026-04-01 10:30:00')

        sms = cs.history("sms", "2026-03-01", "2026-04-01")
        for_excel(sms, tz="Australia/Melbourne").to_excel("sms-march.xlsx", index=False)
    """
    out = df.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_convert(tz or "UTC").dt.tz_localize(None)
    return out
