"""Cell safety: text that is safe to put in a workbook cell or a CSV field.

Two rules, because the two formats fail differently:

- **xlsx**: a text cell is never evaluated. Only what would be *stored* as a formula is a
  risk -- openpyxl stores a string starting with ``=`` as one -- and the writer prevents
  that by writing such strings explicitly as text cells. So workbook text is kept as it
  is (``+61412903005`` stays ``+61412903005``); only control characters Excel cannot
  store are removed (:func:`clean_text`).
- **CSV** has no cell types: Excel, LibreOffice and Sheets evaluate a field starting with
  ``=``, ``+``, ``-``, ``@`` (or tab/CR, or their full-width forms) when the file is
  opened. CSV fields get OWASP's leading apostrophe (:func:`neutralise`); strip one
  leading ``'`` to recover the value.

Example::

    >>> clean_text("+61412903005"), neutralise("+61412903005")
    ('+61412903005', "'+61412903005")
"""

from __future__ import annotations

import re

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from csframe.reports.sheetxml import bytes_present

#: Leading characters that make Excel, LibreOffice or Sheets treat CSV text as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_FORMULA_RE = re.compile("^[" + re.escape("".join(FORMULA_PREFIXES)) + "]")
# XML 1.0 forbids these control characters; openpyxl raises IllegalCharacterError on them.
_ILLEGAL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_ILLEGAL_RE2 = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"
_ILLEGAL_BYTES = [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]
_FORMULA_FIRST = pa.array(list(FORMULA_PREFIXES))
#: Excel's limit on the text of one cell.
MAX_TEXT = 32767


def clean_text(text: str) -> str:
    """Text for a workbook cell: characters Excel cannot store removed, cut at Excel's
    limit. Nothing is prefixed (see the module docstring).

    Example::

        >>> clean_text("a\\x00b")
        'ab'
    """
    return _ILLEGAL_RE.sub("", text)[:MAX_TEXT]


def neutralise(text: str) -> str:
    """Text for a CSV field: :func:`clean_text`, and a leading ``'`` when a spreadsheet
    would read it as a formula.

    Example::

        >>> neutralise("=1+1"), neutralise("+61411111111"), neutralise("hello")
        ("'=1+1", "'+61411111111", 'hello')
    """
    text = _ILLEGAL_RE.sub("", text)
    if _FORMULA_RE.match(text):
        text = "'" + text
    return text[:MAX_TEXT]


def _flat(arr) -> pa.Array:
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _present(values: pa.Array, byte_values: list[int]) -> bool:
    """Whether any of ``byte_values`` occurs in the UTF-8 data of ``values`` (one pass)."""
    return bool(bytes_present(values)[byte_values].any())


def clean_array(values: pa.Array) -> pa.Array:
    """:func:`clean_text` over a pyarrow string array (nulls stay null), at C speed.

    Example::

        >>> clean_array(pa.array(["=1", "a\\x01", None])).to_pylist()
        ['=1', 'a', None]
    """
    values = _flat(values)
    if _present(values, _ILLEGAL_BYTES):  # rare: skip the regex otherwise
        values = pc.replace_substring_regex(values, _ILLEGAL_RE2, "")
    if len(values) and (pc.max(pc.utf8_length(values)).as_py() or 0) > MAX_TEXT:
        values = pc.utf8_slice_codeunits(values, 0, MAX_TEXT)
    return values


def neutralise_array(values: pa.Array) -> pa.Array:
    """:func:`neutralise` over a pyarrow string array (nulls stay null), at C speed.

    Example::

        >>> neutralise_array(pa.array(["=1", "ok", None])).to_pylist()
        ["'=1", 'ok', None]
    """
    values = _flat(values)
    if _present(values, _ILLEGAL_BYTES):
        values = pc.replace_substring_regex(values, _ILLEGAL_RE2, "")
    first = pc.utf8_slice_codeunits(values, 0, 1)
    risky = pc.fill_null(pc.is_in(first, value_set=_FORMULA_FIRST), False)
    if pc.any(risky).as_py():
        values = pc.if_else(risky, pc.binary_join_element_wise("'", values, ""), values)
    if len(values) and (pc.max(pc.utf8_length(values)).as_py() or 0) > MAX_TEXT:
        values = pc.utf8_slice_codeunits(values, 0, MAX_TEXT)
    return values


def as_text(series: pd.Series) -> pa.Array:
    """Any column as a pyarrow string array (str() of non-text values; nulls kept).

    Example::

        >>> as_text(pd.Series(["a", None])).to_pylist()
        ['a', None]
    """
    if not pd.api.types.is_string_dtype(series.dtype) or isinstance(
        series.dtype, pd.CategoricalDtype
    ):
        series = series.astype("str")
    arr = _flat(pa.array(series, from_pandas=True))
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    return arr


def neutralise_series(series: pd.Series):
    """:func:`neutralise` over a column, for CSV; an object array with None for missing
    values.

    Example::

        neutralise_series(pd.Series(["=1+1", None, "ok"]))   # ["'=1+1", None, 'ok']
    """
    return neutralise_array(as_text(series)).to_numpy(zero_copy_only=False)
