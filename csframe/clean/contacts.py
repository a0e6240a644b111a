"""contacts(): every clean-up on a contacts frame, plus a per-row ``issues`` column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from csframe.clean._common import (
    as_text,
    missing_column_error,
    resolve_columns,
)
from csframe.clean.emails import EMAIL_REASONS, emails
from csframe.clean.names import names
from csframe.clean.phones import PHONE_REASONS, phones
from csframe.clean.regions import check_region
from csframe.scale import is_dask

CONTACT_COLUMNS = (
    "contact_id",
    "phone_number",
    "email",
    "first_name",
    "last_name",
    "address_postal_code",
    "address_country",
    "date_added",
    "date_updated",
    "unsubscribed",
    "fax_number",
)
CLEAN_COLUMNS = (
    "phone_e164", "phone_valid", "phone_possible", "phone_type", "phone_region",
    "phone_reason", "phone_extension", "email_norm", "email_valid", "email_match_key",
    "email_reason", "first_name_clean", "last_name_clean", "first_name_key", "last_name_key",
    "name_key", "name_placeholder", "postcode_key", "issues",
)  # fmt: skip

#: Added when the frame has a fax number (not part of CLEAN_COLUMNS: most frames have none).
FAX_COLUMNS = ("fax_e164",)


class _Auto:
    """The default of ``region_column``: the frame's country column, if it has one."""

    def __repr__(self) -> str:
        return "auto"


_AUTO = _Auto()


def contacts(
    df: pd.DataFrame,
    default_region: str | None = None,
    *,
    region_column: str | None | _Auto = _AUTO,
    mapping: dict[str, str] | None = None,
    workers: int | None = None,
) -> pd.DataFrame:
    """Clean a contacts frame: phones, emails, names, postcodes and an ``issues`` column.

    Parameters
    ----------
    df : DataFrame
        A ClickSend contacts frame (``cs.contacts(...)``) or any frame from CSV/Excel with at
        least a phone or an email column. Column names are matched case-insensitively with
        common aliases (``mobile``, ``phone``, ``e-mail``, ``surname``, ``postcode``, ...);
        ``mapping={"phone_number": "Cell"}`` names yours explicitly.
    default_region : str, optional
        Region for numbers without a country code (ISO alpha-2 or country name).
    region_column : str or None
        Column with each row's country (codes or names); defaults to ``address_country``
        when present; ``None`` to ignore it.
    workers : int, optional
        Processes for the phonenumbers fallback path (see :func:`phones`).

    Returns
    -------
    A new frame: every input column unchanged, plus the columns of :func:`phones`,
    :func:`emails` and :func:`names`, ``postcode_key`` (str: upper-case, no spaces) and
    ``issues`` (str: comma-separated codes such as ``phone_too_short``, ``email_bad_domain``,
    ``no_channel``, ``placeholder_name``; ``""`` when the row is fine). With a
    ``fax_number`` column, ``fax_e164``: the fax number normalised like phones (national
    ``(03) 9123 4567`` -> ``+61391234567``), or as given (trimmed) when it does not parse,
    so that an import still sends it and reports the API's verdict. Re-running on an
    already cleaned frame recomputes these columns.

    Example
    -------
    >>> import pandas as pd
    >>> from csframe import clean
    >>> df = pd.DataFrame({"phone_number": ["0412 345 678", "123"],
    ...                    "email": [None, "bob@example"], "first_name": ["Ann", "n/a"]})
    >>> clean.contacts(df, default_region="AU")["issues"].tolist()
    ['', 'phone_too_short,email_bad_domain,no_channel,placeholder_name']
    """
    if is_dask(df):  # partition by partition on the cluster (csframe.scale.clean)
        from csframe.scale.clean import partitionwise

        # the _AUTO sentinel is left out: Dask hashes every argument of the graph
        auto = {} if region_column is _AUTO else {"region_column": region_column}
        return partitionwise(contacts, df, default_region, **auto, mapping=mapping, workers=workers)
    cols = resolve_columns(df, CONTACT_COLUMNS, mapping, func="contacts")
    # postal lists have names and addresses but no phone or email column
    if not any(cols[k] for k in ("phone_number", "email", "first_name", "last_name")):
        raise missing_column_error("contacts", ("phone_number", "email", "last_name"), df)
    default = check_region(default_region)
    out = df.drop(columns=[c for c in (*CLEAN_COLUMNS, *FAX_COLUMNS) if c in df.columns]).copy()
    index = out.index
    region: str | None = (
        cols["address_country"] if isinstance(region_column, _Auto) else region_column
    )
    if region is not None and region not in df.columns:
        raise missing_column_error("contacts", ("address_country",), df)
    n = len(out)
    if cols["phone_number"] is not None:
        ph = phones(
            out[cols["phone_number"]],
            default_region=default,
            region_column=out[region] if region is not None else None,
            workers=workers,
        )
    else:
        ph = phones(pd.Series([None] * n, index=index, dtype="str"), default_region=default)
    if cols["email"] is not None:
        em = emails(out[cols["email"]])
    else:
        em = emails(pd.Series([None] * n, index=index, dtype="str"))
    if cols["first_name"] is not None or cols["last_name"] is not None:
        named = {k: c for k in ("first_name", "last_name") if (c := cols[k])}
        nm = names(out, mapping=named)
    else:
        nm = names(pd.Series([None] * n, index=index, dtype="str"))
    ph.index = em.index = nm.index = index
    if cols["address_postal_code"] is not None:
        pc_raw = pa.array(
            as_text(out[cols["address_postal_code"]]).to_numpy(dtype=object, na_value=None),
            type=pa.string(),
        )
        key = pc.utf8_upper(pc.replace_substring_regex(pc_raw, r"[^0-9A-Za-z]+", ""))
        key = key.to_numpy(zero_copy_only=False)
        key[key == ""] = None
        postcode = pd.Series(key, index=index, dtype="str")
    else:
        postcode = pd.Series([None] * n, index=index, dtype="str")
    out = pd.concat([out, ph, em, nm, postcode.rename("postcode_key")], axis=1)
    out["issues"] = issues_for(out)
    if cols["fax_number"] is not None:
        out["fax_e164"] = _fax(out[cols["fax_number"]], default, out, region)
    return out


def _fax(raw: pd.Series, default, frame: pd.DataFrame, region_column) -> pd.Series:
    """Fax numbers normalised like phones; unparseable ones kept as given (trimmed)."""
    given = as_text(raw).str.strip()
    given = given.where(given != "")
    if given.isna().all():  # nothing to parse (most lists have no fax numbers)
        return given.astype("str")
    fx = phones(
        raw,
        default_region=default,
        region_column=frame[region_column] if region_column is not None else None,
        prefix="fax",
    )
    return fx["fax_e164"].where(fx["fax_valid"].fillna(False), given).astype("str")


def issues_for(df: pd.DataFrame) -> pd.Series:
    """The ``issues`` codes of a cleaned frame (used by contacts() and after merges)."""
    phone = df["phone_reason"].astype(pd.CategoricalDtype(PHONE_REASONS))
    email = df["email_reason"].astype(pd.CategoricalDtype(EMAIL_REASONS))
    pcode = phone.cat.codes.to_numpy(np.int64)  # -1: valid
    ecode = email.cat.codes.to_numpy(np.int64)
    no_channel = ~(df["phone_valid"].fillna(False) | df["email_valid"].fillna(False))
    placeholder = df["name_placeholder"].fillna(False)
    # every row is one of few combinations: build each combination's text once
    ne = len(EMAIL_REASONS) + 1
    combo = (
        ((pcode + 1) * ne + (ecode + 1)) * 4
        + no_channel.to_numpy(bool) * 2
        + placeholder.to_numpy(bool)
    )
    uniq, inverse = np.unique(combo, return_inverse=True)
    texts = []
    for u in uniq.tolist():
        ph, rest = divmod(u, ne * 4)
        em, flags = divmod(rest, 4)
        parts = []
        if ph and PHONE_REASONS[ph - 1] != "empty":
            parts.append("phone_" + PHONE_REASONS[ph - 1])
        if em and EMAIL_REASONS[em - 1] != "empty":
            parts.append("email_" + EMAIL_REASONS[em - 1])
        if flags & 2:
            parts.append("no_channel")
        if flags & 1:
            parts.append("placeholder_name")
        texts.append(",".join(parts))
    arr = pa.array(texts, type=pa.string()).take(pa.array(inverse.astype(np.int64)))
    return pd.Series(arr, index=df.index, dtype="str")


def ensure_clean(df: pd.DataFrame, default_region=None, *, mapping=None, func: str) -> pd.DataFrame:
    """df itself when it already has the contacts() columns, else contacts(df)."""
    if all(c in df.columns for c in CLEAN_COLUMNS):
        return df
    return contacts(df, default_region, mapping=mapping)
