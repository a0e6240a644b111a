"""diff(): what importing a clean frame into an existing ClickSend list would change."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from csframe.clean._common import CleanInputError, as_text, resolve_columns
from csframe.clean.contacts import CONTACT_COLUMNS, ensure_clean

ACTIONS = ("add", "update", "unchanged", "remove")
MATCH_ON = ("phone", "email")
# writable contact fields compared for updates (when present in both frames)
FIELDS = (
    "phone_number", "email", "fax_number", "first_name", "last_name", "organization_name",
    "custom_1", "custom_2", "custom_3", "custom_4", "address_line_1", "address_line_2",
    "address_city", "address_state", "address_postal_code", "address_country",
)  # fmt: skip


def _first_index(keys: np.ndarray) -> dict:
    out: dict = {}
    for i, k in enumerate(keys.tolist()):
        if k is not None and k not in out:
            out[k] = i
    return out


def diff(
    clean: pd.DataFrame,
    current: pd.DataFrame,
    *,
    default_region: str | None = None,
    fields: Sequence[str] | None = None,
    mapping: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Compare a cleaned frame with the contacts already in a list (the writers' upsert plan).

    Each ``clean`` row is matched to a ``current`` contact on valid E.164 phone first, then on
    email match key. Matched rows are ``update`` when a compared field differs (the phone is
    compared as E.164 and the email as its normalised form, ignoring case; an empty value in ``clean``
    never counts as a change, so an upsert never blanks a field) and ``unchanged``
    otherwise; unmatched rows are ``add``. ``current`` contacts matched by no ``clean`` row
    are returned as ``remove`` candidates (for a replace-mode import). When several clean
    rows match one contact, the first is the update and the others are compared too (dedupe
    first to avoid that).

    Parameters
    ----------
    clean, current : contacts frames (cleaned with :func:`contacts` if they are not yet).
    fields : columns to compare (default: the writable contact fields present in both).

    Returns
    -------
    A frame with a fresh RangeIndex: the ``clean`` rows (in order) then the ``remove`` rows
    (with ``current``'s values), and ``action`` (category: add/update/unchanged/remove),
    ``match_on`` (category: phone/email), ``current_contact_id`` (Int64) and
    ``changed_columns`` (str, comma-joined; ``""`` when nothing changed).

    Example
    -------
    >>> import pandas as pd
    >>> from csframe import clean
    >>> cur = pd.DataFrame({"contact_id": [7, 8], "phone_number": ["+61412345678", "+61400000001"],
    ...                     "first_name": ["Ann", "Bob"]})
    >>> new = pd.DataFrame({"phone_number": ["0412 345 678", "0400 000 002"],
    ...                     "first_name": ["Anne", "Cy"]})
    >>> d = clean.diff(new, cur, default_region="AU")
    >>> d[["action", "current_contact_id", "changed_columns"]].values.tolist()
    [['update', 7, 'first_name'], ['add', <NA>, ''], ['remove', 8, '']]
    """
    a = ensure_clean(clean, default_region, mapping=mapping, func="diff")
    b = ensure_clean(current, default_region, mapping=mapping, func="diff")
    bcols = resolve_columns(b, CONTACT_COLUMNS, mapping, func="diff")
    acols = resolve_columns(a, CONTACT_COLUMNS, mapping, func="diff")
    if fields is None:
        fields = [
            f
            for f in FIELDS
            if (acols.get(f) or f) in a.columns and (bcols.get(f) or f) in b.columns
        ]
    else:
        missing = [f for f in fields if f not in a.columns or f not in b.columns]
        if missing:
            raise CleanInputError(
                f"diff(fields=...): {missing} not in both frames; clean has "
                f"{list(a.columns)}, current has {list(b.columns)}"
            )

    def keys(f: pd.DataFrame):
        p = f["phone_e164"].to_numpy(dtype=object, na_value=None)
        p = np.where(f["phone_valid"].fillna(False).to_numpy(bool), p, None)
        e = f["email_match_key"].to_numpy(dtype=object, na_value=None)
        return p, e

    ap, ae = keys(a)
    bp, be = keys(b)
    by_phone, by_email = _first_index(bp), _first_index(be)
    na = len(a)
    match = np.full(na, -1, dtype=np.int64)
    how = np.full(na, None, dtype=object)
    for i in range(na):
        j = by_phone.get(ap[i], -1) if ap[i] is not None else -1
        if j >= 0:
            match[i], how[i] = j, "phone"
            continue
        j = by_email.get(ae[i], -1) if ae[i] is not None else -1
        if j >= 0:
            match[i], how[i] = j, "email"
    matched = match >= 0
    changed = np.full(na, "", dtype=object)
    mi = np.flatnonzero(matched)
    if len(mi):
        parts = []
        for f in fields:
            fa, fb = acols.get(f) or f, bcols.get(f) or f
            if f == "phone_number":
                va, vb = ap[mi], bp[match[mi]]
            elif f == "email":  # a change of letter case alone is no change
                va = a["email_norm"].str.lower().to_numpy(dtype=object, na_value=None)[mi]
                vb = b["email_norm"].str.lower().to_numpy(dtype=object, na_value=None)[match[mi]]
            else:
                va = as_text(a[fa]).str.strip().to_numpy(dtype=object, na_value=None)[mi]
                vb = as_text(b[fb]).str.strip().to_numpy(dtype=object, na_value=None)[match[mi]]
            va = np.where(va == "", None, va)
            diff_ = ~np.equal(va, None) & (va != vb)
            parts.append(np.where(diff_, f, ""))
        joined = (
            [",".join(x for x in row if x) for row in zip(*parts, strict=True)] if parts else []
        )
        changed[mi] = joined
    action = np.where(~matched, "add", np.where(changed != "", "update", "unchanged"))
    out = a.reset_index(drop=True)
    bid = bcols["contact_id"]
    cur_ids = (
        pd.to_numeric(b[bid], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        if bid
        else np.arange(len(b), dtype=float)
    )
    out["action"] = pd.Categorical(action, categories=ACTIONS)
    out["match_on"] = pd.Categorical(how, categories=MATCH_ON)
    out["current_contact_id"] = pd.array(
        np.where(matched, cur_ids[np.maximum(match, 0)] if len(b) else np.nan, np.nan),
        dtype="Float64",
    ).astype("Int64")
    out["changed_columns"] = pd.Series(changed, dtype="str")
    removed = np.setdiff1d(np.arange(len(b)), match[matched])
    if len(removed):
        r = b.iloc[removed].reset_index(drop=True)
        r["action"] = pd.Categorical(["remove"] * len(r), categories=ACTIONS)
        r["match_on"] = pd.Categorical([None] * len(r), categories=MATCH_ON)
        r["current_contact_id"] = pd.array(cur_ids[removed], dtype="Float64").astype("Int64")
        r["changed_columns"] = pd.Series([""] * len(r), dtype="str")
        out = pd.concat([out, r], ignore_index=True)
    return out
