"""Which columns of a contact list carry which matching field, and their match keys.

``duplicates(df, fields={"dob": "custom_1"})`` names a column per field; the others are
detected: the usual column names (``dob``, ``date_of_birth``, ``address_line_1``, ``suburb``,
``city``, ...) and, for the date of birth, a ``custom_1``..``custom_4`` column whose values
read as past dates (ClickSend lists have no date-of-birth field, so lists keep it there).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from csframe.clean._common import CleanInputError, as_text, ascii_fold, take_str

#: fields ``duplicates(fields=...)`` takes a column for (names, phones and emails are the
#: ones contacts() cleans: name those with ``mapping=``)
FIELDS = ("dob", "address", "suburb", "postcode")
_CLEANED = ("first_name", "last_name", "phone_number", "phone", "email")
# candidate source columns per field (matched case- and punctuation-insensitively)
COLUMN_NAMES = {
    "dob": ("dob", "date_of_birth", "birth_date", "birthdate", "birthday", "born", "d_o_b"),
    "address": ("address_line_1", "address", "street", "street_address", "address1", "addr"),
    "suburb": ("address_city", "suburb", "city", "town", "locality"),
}
CUSTOM = ("custom_1", "custom_2", "custom_3", "custom_4")
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}
# street-type words folded to one spelling, so "12 King Street" equals "12 King St"
_STREET_WORDS = {
    "street": "st", "road": "rd", "avenue": "ave", "av": "ave", "place": "pl",
    "crescent": "cres", "cr": "cres", "drive": "dr", "court": "ct", "lane": "ln",
    "parade": "pde", "close": "cl", "terrace": "tce", "highway": "hwy", "boulevard": "bvd",
    "circuit": "cct", "grove": "gr", "square": "sq", "way": "wy", "unit": "u", "apartment": "u",
    "apt": "u", "flat": "u", "north": "n", "south": "s", "east": "e", "west": "w",
}  # fmt: skip


def _norm(name: object) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).casefold()).strip("_")


def resolve(df: pd.DataFrame, fields: Mapping[str, str | None] | None) -> dict[str, str | None]:
    """{field: source column or None} for dob, address, suburb (the fields contacts() does
    not clean) and postcode when ``fields`` names one; ``fields`` names columns explicitly
    (None: unused)."""
    fields = dict(fields or {})
    unknown = set(fields) - set(FIELDS)
    cleaned = sorted(unknown & set(_CLEANED))
    if cleaned:
        raise CleanInputError(
            f"duplicates(fields=...): {cleaned} come from the cleaned columns; name their "
            f"source columns with mapping={{'first_name': 'Given', ...}} instead"
        )
    if unknown:
        raise CleanInputError(
            f"duplicates(fields=...): unknown field(s) {sorted(unknown)}; fields are {FIELDS}"
        )
    for field, col in fields.items():
        if col is not None and col not in df.columns:
            raise CleanInputError(
                f"duplicates(fields={{{field!r}: {col!r}}}): the frame has no column {col!r}; "
                f"columns present: {list(df.columns)}"
            )
    by_norm: dict[str, str] = {}
    for col in df.columns:
        by_norm.setdefault(_norm(col), col)
    out: dict[str, str | None] = {}
    for field, names in COLUMN_NAMES.items():
        if field in fields:
            out[field] = fields[field]
            continue
        out[field] = next((by_norm[n] for n in names if n in by_norm), None)
    if out["dob"] is None and "dob" not in fields:
        out["dob"] = _detect_dob(df, by_norm)
    if "postcode" in fields:
        out["postcode"] = fields["postcode"]
    return out


def postcode_key(values) -> pd.Series:
    """Postcodes as contacts() keys them: upper case, letters and digits only."""
    text = as_text(values, func="duplicates", name="postcode")
    s = pa.array(text.to_numpy(dtype=object, na_value=None), pa.string())
    s = pc.utf8_upper(pc.replace_substring_regex(s, r"[^0-9A-Za-z]+", ""))
    s = pc.if_else(pc.equal(s, ""), pa.scalar(None, pa.string()), s)
    return pd.Series(s.to_numpy(zero_copy_only=False), index=text.index, dtype="str")


def _detect_dob(df: pd.DataFrame, by_norm: dict[str, str]) -> str | None:
    """The first custom_N column whose filled values mostly (≥ 80%) read as dates, most of
    them over ten years ago."""
    for name in CUSTOM:
        col = by_norm.get(name)
        if col is None:
            continue
        sample = as_text(df[col]).dropna()
        sample = sample[sample.str.strip() != ""].head(500)
        if not len(sample):
            continue
        dates = parse_dates(sample)
        years = pd.to_numeric(dates.str.slice(0, 4), errors="coerce")
        # birthdays, not sign-up or order dates: mostly over ten years ago
        if dates.notna().mean() >= 0.8 and years.median() <= pd.Timestamp.now().year - 10:
            return col
    return None


def parse_dates(values) -> pd.Series:
    """Dates of birth in any common layout → ``YYYYMMDD`` text (NA when not a plausible date).

    ISO (``1987-03-14``), compact (``19870314``), day-first with ``/ - .`` or spaces
    (``14/03/1987``), month names (``14 Mar 1987``, ``March 14, 1987``), and datetime columns.
    ``03/14/1987`` (month first) is read as such only when the first number cannot be a month.

    >>> parse_dates(pd.Series(["1987-03-14", "14/03/1987", "14 Mar 1987", "19870314", "x"])).tolist()
    ['19870314', '19870314', '19870314', '19870314', nan]
    """
    if isinstance(values, pd.Series) and pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.dt.strftime("%Y%m%d").astype("str")
    text = as_text(values, func="duplicates", name="dob")
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    u = ascii_fold(pd.Series(uniques, dtype="str"))
    arr = pc.utf8_lower(pc.utf8_trim_whitespace(pa.array(u.to_numpy(dtype=object), pa.string())))
    n = len(arr)
    y, m, d = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, np.int64)
    done = np.zeros(n, bool)
    months = pa.array(list(_MONTHS))
    for pattern in _DATE_PATTERNS:
        todo = np.flatnonzero(~done & ~_np(pc.is_null(arr))) if n else np.zeros(0, np.int64)
        if not len(todo):
            break
        got = pc.extract_regex(arr.take(pa.array(todo)), pattern)  # only the unread values
        ok = _np(pc.is_valid(got))
        if not ok.any():
            continue
        hit = todo[ok]
        for part, target in (("y", y), ("m", m), ("d", d)):
            field = pc.struct_field(got, part)
            if part == "m" and pattern.find("[a-z]") >= 0:
                num = pc.add(pc.index_in(pc.utf8_slice_codeunits(field, 0, 3), months), 1)
            else:
                num = pc.cast(pc.if_else(pc.equal(field, ""), None, field), pa.int64())
            target[hit] = _np(pc.fill_null(num, 0))[ok]
        done[hit] = True
    # day-first unless the "month" cannot be one
    swap = (m > 12) & (d <= 12)
    m[swap], d[swap] = d[swap], m[swap]
    year_now = pd.Timestamp.now().year
    ok = done & (y >= 1880) & (y <= year_now) & (m >= 1) & (m <= 12) & (d >= 1) & (d <= 31)
    key = np.where(ok, (y * 10000 + m * 100 + d).astype(str).astype(object), None)
    return take_str(key, codes, text.index)


_DATE_PATTERNS = (
    r"^(?P<y>\d{4})[-/. ](?P<m>\d{1,2})[-/. ](?P<d>\d{1,2})(?:[ t].*)?$",
    r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$",
    r"^(?P<d>\d{1,2})[-/. ]+(?P<m>\d{1,2})[-/. ]+(?P<y>\d{4})(?:[ t].*)?$",
    r"^(?P<d>\d{1,2})[-/. ]+(?P<m>[a-z]{3,9})\.?[-/., ]+(?P<y>\d{4})$",
    r"^(?P<m>[a-z]{3,9})\.?[-/. ]+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?[-/. ]+(?P<y>\d{4})$",
)


def _np(arr) -> np.ndarray:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return np.asarray(arr.to_numpy(zero_copy_only=False))


def address_key(values) -> pd.Series:
    """Street address → lower-case tokens, street types abbreviated one way.

    >>> address_key(pd.Series(["12 King Street", "12 king st.", "Unit 3/4 Smith Road"])).tolist()
    ['12 king st', '12 king st', 'u 3 4 smith rd']
    """
    text = as_text(values, func="duplicates", name="address")
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    s = pa.array(ascii_fold(pd.Series(uniques, dtype="str")).to_numpy(dtype=object), pa.string())
    s = pc.utf8_lower(pc.utf8_normalize(s, "NFKD"))
    s = pc.replace_substring_regex(s, r"\p{Mn}+", "")
    s = pc.utf8_trim_whitespace(pc.replace_substring_regex(s, r"[^a-z0-9]+", " "))
    s = pc.if_else(pc.equal(s, ""), pa.scalar(None, pa.string()), s)
    # word by word through the street-word table, all in arrow
    words = pc.split_pattern(pc.fill_null(s, ""), " ")
    flat = pc.list_flatten(words)
    idx = pc.index_in(flat, value_set=pa.array(list(_STREET_WORDS)))
    short = pa.array(list(_STREET_WORDS.values())).take(idx)
    flat = pc.if_else(pc.is_valid(idx), short, flat)
    joined = pc.binary_join(pa.ListArray.from_arrays(words.offsets, flat), " ")
    key = _np(pc.if_else(pc.is_valid(s), joined, pa.scalar(None, pa.string())))
    return take_str(key.astype(object), codes, text.index)


def text_key(values) -> pd.Series:
    """Suburbs and the like: lower-case, accents and punctuation removed."""
    text = as_text(values, func="duplicates", name="suburb")
    s = pa.array(ascii_fold(text).to_numpy(dtype=object, na_value=None), pa.string())
    s = pc.replace_substring_regex(pc.utf8_normalize(s, "NFKD"), r"\p{Mn}+", "")
    s = pc.utf8_trim_whitespace(pc.replace_substring_regex(pc.utf8_lower(s), r"[^a-z0-9]+", " "))
    s = pc.if_else(pc.equal(s, ""), pa.scalar(None, pa.string()), s)
    return pd.Series(s.to_numpy(zero_copy_only=False), index=text.index, dtype="str")
