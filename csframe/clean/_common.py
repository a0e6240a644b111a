"""Shared plumbing for csframe.clean: input validation, column aliases, text coercion."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any, cast

import numpy as np
import pandas as pd

from csframe.errors import CsframeError


class CleanInputError(CsframeError, ValueError):
    """The frame or arguments given to a csframe.clean function cannot be used as they are."""


# canonical column → accepted alternatives (matched case- and punctuation-insensitively)
ALIASES: dict[str, tuple[str, ...]] = {
    "contact_id": ("contact_id", "id", "contactid"),
    "phone_number": ("phone_number", "phone", "mobile", "mobile_number", "mobile_phone",
                     "cell", "cell_phone", "msisdn", "number", "telephone", "tel"),
    "email": ("email", "email_address", "e_mail", "mail"),
    "first_name": ("first_name", "firstname", "given_name", "forename", "first"),
    "last_name": ("last_name", "lastname", "surname", "family_name", "last"),
    "address_postal_code": ("address_postal_code", "postal_code", "postcode", "post_code",
                            "zip", "zip_code", "zipcode"),
    "address_country": ("address_country", "country", "country_code", "region"),
    "date_updated": ("date_updated", "updated", "updated_at", "modified"),
    "date_added": ("date_added", "added", "created", "created_at"),
    "unsubscribed": ("unsubscribed", "opted_out", "opt_out"),
}  # fmt: skip


def _norm_name(name: object) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).casefold()).strip("_")


def resolve_columns(
    df: pd.DataFrame,
    wanted: tuple[str, ...],
    mapping: Mapping[str, str] | None,
    *,
    func: str,
) -> dict[str, str | None]:
    """Find each wanted canonical column in df: mapping first, then its aliases.

    Returns {canonical: actual column or None}. A mapping that names a missing column raises.
    """
    if not isinstance(df, pd.DataFrame):
        raise CleanInputError(f"{func}() expects a pandas DataFrame, got {type(df).__name__}")
    mapping = dict(mapping or {})
    unknown = set(mapping) - set(ALIASES) - set(wanted)
    if unknown:
        raise CleanInputError(
            f"{func}(mapping=...): unknown target column(s) {sorted(unknown)}; "
            f"mappable columns are {sorted(set(ALIASES) | set(wanted))}"
        )
    by_norm: dict[str, str] = {}
    for col in df.columns:
        by_norm.setdefault(_norm_name(col), col)
    found: dict[str, str | None] = {}
    for canon in wanted:
        if canon in mapping:
            col = mapping[canon]
            if col not in df.columns:
                raise CleanInputError(
                    f"{func}(mapping={{{canon!r}: {col!r}}}): the frame has no column {col!r}; "
                    f"columns present: {list(df.columns)}"
                )
            found[canon] = col
            continue
        found[canon] = None
        if canon in df.columns:
            found[canon] = canon
            continue
        for alias in ALIASES.get(canon, (canon,)):
            if alias in by_norm:
                found[canon] = by_norm[alias]
                break
    return found


def missing_column_error(func: str, canon: tuple[str, ...], df: pd.DataFrame) -> CleanInputError:
    alts = "; ".join(f"{c!r} (also accepted: {', '.join(ALIASES.get(c, (c,))[1:])})" for c in canon)
    need = "one of " if len(canon) > 1 else ""
    return CleanInputError(
        f"{func}(): the frame needs {need}{alts}. Columns present: {list(df.columns)}. "
        f"Name yours with mapping={{{canon[0]!r}: 'YourColumn'}}."
    )


def _scalar_text(v: object) -> str | None:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool | np.bool_):
        return str(v)
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        if math.isnan(v):
            return None
        if math.isinf(v):
            return str(v)
        return str(int(v)) if float(v).is_integer() and abs(v) < 1e18 else repr(float(v))
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def as_text(values: object, *, func: str = "csframe.clean", name: str = "values") -> pd.Series:
    """Any list-like as a pandas ``str`` Series: numbers without '.0', NaN/None → NA."""
    if isinstance(values, pd.DataFrame):
        raise CleanInputError(f"{func}(): {name} must be a Series (one column), got a DataFrame")
    if not isinstance(values, pd.Series):
        if isinstance(values, str) or not hasattr(values, "__iter__"):
            raise CleanInputError(
                f"{func}(): {name} must be a Series or list-like, got {type(values).__name__}"
            )
        values = pd.Series(list(cast(Iterable[Any], values)), dtype=object)
    series: Any = values  # pandas is untyped: the checker sees Series as Any
    if isinstance(series.dtype, pd.StringDtype):
        return series.astype("str") if series.dtype != "str" else series
    if pd.api.types.is_integer_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("str").where(series.notna())
    if series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) in (
        "string",
        "empty",
    ):
        return series.astype("str")
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:  # unhashable cells (lists, dicts): convert row by row
        text = np.array([_scalar_text(v) for v in series], dtype=object)
        return pd.Series(text, index=series.index, dtype="str", name=series.name)
    text = np.array([_scalar_text(u) for u in uniques] + [None], dtype=object)
    return pd.Series(text[codes], index=series.index, dtype="str", name=series.name)


# invisible characters: zero-width space/joiners, word joiner, BOM, soft hyphen, bidi marks
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f"))


def _fix_unicode(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    out = []
    for ch in text:
        if ch.isascii():
            out.append(ch)
            continue
        d = unicodedata.decimal(ch, None)
        if d is not None:
            out.append(str(d))
        elif ch.isspace():
            out.append(" ")
        elif unicodedata.category(ch) == "Cf":
            continue
        elif ch in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uff0d":
            out.append("-")
        else:
            out.append(ch)
    return "".join(out)


def ascii_fold(s: pd.Series) -> pd.Series:
    """Unicode digits → ASCII, NBSP → space, zero-width characters dropped (non-ASCII rows only)."""
    nonascii = s.str.contains(r"[^\x00-\x7f]", regex=True, na=False)
    if not nonascii.any():
        return s
    s = s.copy()
    s[nonascii] = [_fix_unicode(v) for v in s[nonascii]]
    return s


def joined_codes(parts: list[pd.Series], index: pd.Index) -> pd.Series:
    """Comma-join non-empty code columns row-wise into one ``str`` column ('' when none)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not parts:
        return pd.Series("", index=index, dtype="str")
    arrays = [pa.array(p.fillna("").to_numpy(dtype=object), type=pa.string()) for p in parts]
    joined = pc.binary_join_element_wise(*arrays, ",")
    joined = pc.replace_substring_regex(joined, ",{2,}", ",")
    joined = pc.replace_substring_regex(joined, "^,|,$", "")
    return pd.Series(joined.to_numpy(zero_copy_only=False), index=index, dtype="str")


def take_str(values: np.ndarray, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """Per-unique object values (None = NA) → a per-row ``str`` Series (code -1 → NA)."""
    import pyarrow as pa

    idx = pa.array(codes, mask=codes < 0, type=pa.int64())
    arr = pa.array(values, type=pa.string()).take(idx)
    return pd.Series(arr, index=index, dtype="str")


def take_category(
    values: np.ndarray, codes: np.ndarray, categories: tuple[str, ...], missing=None
) -> pd.Categorical:
    """Per-unique object values (None = NA) → a per-row Categorical (code -1 → ``missing``)."""
    cat_codes = np.full(len(values), -1, dtype=np.int16)
    present = ~np.equal(values, None)
    if present.any():
        cat_codes[present] = pd.Index(categories).get_indexer(values[present])
    row = np.where(codes >= 0, cat_codes[np.maximum(codes, 0)] if len(values) else -1, -1)
    if missing is not None:
        row = np.where(codes < 0, categories.index(missing), row)
    return pd.Categorical.from_codes(row.astype(np.int16), categories=categories)


def pick(values: np.ndarray, codes: np.ndarray, fill) -> np.ndarray:
    """values[codes] with ``fill`` where code is -1 (values may be empty)."""
    if not len(values):
        return np.full(len(codes), fill)
    return np.where(codes >= 0, values[np.maximum(codes, 0)], fill)
