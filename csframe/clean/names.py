"""Names: trimmed display values, case- and accent-folded match keys, placeholder flags."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from csframe.clean._common import (
    CleanInputError,
    as_text,
    ascii_fold,
    pick,
    resolve_columns,
    take_str,
)

PLACEHOLDERS = frozenset(
    [
        "n a", "na", "none", "null", "nil", "nan", "unknown", "unk", "test", "testing", "tester",
        "test test", "asdf", "asd", "qwerty", "x", "xx", "xxx", "xyz", "abc", "tbc", "tba", "tbd",
        "no name", "noname", "name", "first", "last", "firstname", "lastname", "first name",
        "last name", "customer", "client", "contact", "user", "dummy", "sample", "example",
        "fake", "blank", "empty", "not provided", "not applicable", "nobody", "anonymous",
        "anon", "nn", "zz", "zzz", "mr", "mrs", "ms", "miss", "dr",
    ]
)  # fmt: skip


def _np(arr) -> np.ndarray:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.to_numpy(zero_copy_only=False)


def _one(values: pd.Series):
    """(clean, key) per unique value, placeholder per row and the row → unique codes."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    u = pd.Series(uniques, dtype="str")
    s = pa.array(ascii_fold(u).to_numpy(dtype=object), type=pa.string())
    s = pc.utf8_trim_whitespace(pc.replace_substring_regex(s, r"\s+", " "))
    key = pc.utf8_normalize(s, "NFKD")
    key = pc.replace_substring_regex(key, r"\p{Mn}+", "")
    key = pc.utf8_lower(key)
    key = pc.utf8_trim_whitespace(pc.replace_substring_regex(key, r"[^\p{L}\p{N}]+", " "))
    clean, k = _np(s), _np(key)
    nonempty = _np(pc.fill_null(pc.not_equal(s, ""), False))
    digits_only = _np(pc.fill_null(pc.match_substring_regex(key, r"^[\d ]*$"), False))
    placeholder = nonempty & (
        _np(pc.is_in(key, value_set=pa.array(sorted(PLACEHOLDERS)))) | digits_only
    )
    drop = ~nonempty | placeholder
    clean[drop] = None
    k[drop] = None
    return clean, k, pick(placeholder, codes, False), codes


def names(
    first: pd.Series | pd.DataFrame,
    last: pd.Series | None = None,
    *,
    mapping: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Clean names for display and build keys for matching.

    Parameters
    ----------
    first : Series, or a DataFrame with ``first_name``/``last_name`` columns (aliases such as
        ``firstname``, ``surname`` are accepted; or name yours with ``mapping=``)
    last : Series, optional (when ``first`` is a Series)

    Returns
    -------
    DataFrame with ``first_name_clean``/``last_name_clean`` (str: trimmed, inner whitespace
    collapsed, NA for empty or placeholder values, case kept), ``first_name_key``/
    ``last_name_key``/``name_key`` (str: lower-case, accents and punctuation removed) and
    ``name_placeholder`` (boolean: a non-empty placeholder such as "n/a", "-", "test",
    "unknown" or digits only).

    Example
    -------
    >>> import pandas as pd
    >>> from csframe import clean
    >>> out = clean.names(pd.Series(["  José ", "n/a", None]), pd.Series(["O'Brien", "Smith", "-"]))
    >>> out["name_key"].tolist()
    ['jose o brien', 'smith', nan]
    >>> out["name_placeholder"].tolist()
    [False, True, True]
    """
    if isinstance(first, pd.DataFrame):
        if last is not None:
            raise CleanInputError("names(): pass either a DataFrame or first/last Series, not both")
        df = first
        cols = resolve_columns(df, ("first_name", "last_name"), mapping, func="names")
        if cols["first_name"] is None and cols["last_name"] is None:
            from csframe.clean._common import missing_column_error

            raise missing_column_error("names", ("first_name", "last_name"), df)
        index = df.index
        first = df[cols["first_name"]] if cols["first_name"] else pd.Series(None, index=index)
        last = df[cols["last_name"]] if cols["last_name"] else None
    first_t = as_text(first, func="names", name="first")
    index = first_t.index
    if last is None:
        last_t = pd.Series(pd.NA, index=index, dtype="str")
    else:
        last_t = as_text(last, func="names", name="last")
        if len(last_t) != len(first_t):
            raise CleanInputError(
                f"names(): first has {len(first_t)} rows but last has {len(last_t)}"
            )
    fc, fk, fp, fcodes = _one(first_t)
    lc, lk, lp, lcodes = _one(last_t)
    first_key = pa.array(fk, type=pa.string()).take(pa.array(fcodes, mask=fcodes < 0))
    last_key = pa.array(lk, type=pa.string()).take(pa.array(lcodes, mask=lcodes < 0))
    full = pc.utf8_trim_whitespace(
        pc.binary_join_element_wise(
            first_key, last_key, " ", null_handling="replace", null_replacement=""
        )
    )
    full = pc.if_else(pc.equal(full, ""), pa.scalar(None, pa.string()), full)
    return pd.DataFrame(
        {
            "first_name_clean": take_str(fc, fcodes, index),
            "last_name_clean": take_str(lc, lcodes, index),
            "first_name_key": pd.Series(first_key, index=index, dtype="str"),
            "last_name_key": pd.Series(last_key, index=index, dtype="str"),
            "name_key": pd.Series(full, index=index, dtype="str"),
            "name_placeholder": pd.Series(fp | lp, index=index, dtype="boolean"),
        },
        index=index,
    )
