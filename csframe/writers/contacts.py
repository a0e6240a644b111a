"""Contact fields, column mapping and per-row validation for imports and list syncs.

A mapping is ``{contact_field: df_column}`` (the direction ``csframe.clean`` uses).
Without one, each contact field is taken from the column of the same name, except that
the cleaned columns of :func:`csframe.clean.contacts` win: ``phone_e164`` for
``phone_number`` and ``email_norm`` for ``email``.

Validation (per row, nothing is sent for a row that fails): at least one of phone
number, email, fax number; phone and fax numbers in E.164; emails that look like
emails. Duplicates inside the frame (same phone or same email as an earlier row) are
skipped and name the row they repeat.

Example::

    mapping = resolve_mapping(df, {"phone_number": "mobile", "first_name": "given"})
    prepared = prepare(df, mapping)     # contact-field frame + outcome/reason per row
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from requests_cache import DO_NOT_CACHE

from csframe.writers._common import PlanError, show_rows
from csframe.writers.plan import E164, EMAIL, _as_str, _matches

if TYPE_CHECKING:  # for annotations only
    from csframe.session import ApiSession

CONTACT_FIELDS = (
    "phone_number",
    "email",
    "fax_number",
    "first_name",
    "last_name",
    "organization_name",
    "custom_1",
    "custom_2",
    "custom_3",
    "custom_4",
    "address_line_1",
    "address_line_2",
    "address_city",
    "address_state",
    "address_postal_code",
    "address_country",
)
CHANNELS = ("phone_number", "email", "fax_number")
# what became of each row of an import (see csframe.writers.imports)
OUTCOMES = ("imported", "already_present", "updated", "rejected")
#: Columns of a ``clean.contacts`` frame preferred over the raw ones: numbers in E.164
#: (ClickSend rejects national fax numbers), emails normalised, names trimmed.
PREFERRED = {
    "phone_number": ("phone_e164", "phone_number"),
    "email": ("email_norm", "email"),
    "fax_number": ("fax_e164", "fax_number"),
    "first_name": ("first_name_clean", "first_name"),
    "last_name": ("last_name_clean", "last_name"),
}


def resolve_mapping(df: pd.DataFrame, mapping: Mapping[str, str] | None) -> dict[str, str]:
    """``{contact_field: column}`` for the frame; raises :class:`PlanError` for unknown
    fields (listing the valid ones), columns the frame lacks (listing its columns), a
    column used twice, and a mapping without any channel field."""
    if not isinstance(df, pd.DataFrame):
        raise PlanError(f"expected a DataFrame of contacts, got {type(df).__name__}")
    cols = [str(c) for c in df.columns]
    problems = []
    if mapping is None:
        out = {}
        for f in CONTACT_FIELDS:
            for candidate in PREFERRED.get(f, (f,)):
                if candidate in df.columns:
                    out[f] = candidate
                    break
    else:
        if not isinstance(mapping, Mapping):
            raise PlanError("mapping must be a dict {contact_field: column}")
        out = dict(mapping)
        unknown = [f for f in out if f not in CONTACT_FIELDS]
        if unknown:
            hint = ""
            if any(v in CONTACT_FIELDS for v in out.values()):
                hint = " (the mapping goes {contact_field: column}; did you reverse it?)"
            problems.append(
                f"unknown contact field(s) {unknown}{hint}; the fields are {list(CONTACT_FIELDS)}"
            )
        missing = [c for c in out.values() if c not in df.columns]
        if missing:
            problems.append(f"column(s) {missing} are not in the frame; it has {cols}")
        used = pd.Series(list(out.values()))
        twice = sorted(set(used[used.duplicated()]))
        if twice:
            problems.append(f"column(s) {twice} are mapped to more than one field")
    if not any(f in out for f in CHANNELS):
        problems.append(
            "no channel: map at least one of phone_number, email or fax_number to a column "
            f"(e.g. mapping={{'phone_number': 'mobile'}}); the frame has {cols}"
        )
    if problems:
        raise PlanError("cannot import these contacts:\n  - " + "\n  - ".join(problems))
    return {f: out[f] for f in CONTACT_FIELDS if f in out}


@dataclass
class Prepared:
    """The contact-field frame (``str``, NA for blanks) of a DataFrame, with a verdict per
    row: ``outcome`` is None (to import), ``"rejected"`` or ``"already_present"`` (repeats an earlier row)."""

    fields: pd.DataFrame
    outcome: np.ndarray
    reason: np.ndarray
    mapping: dict[str, str]

    @property
    def ok(self) -> np.ndarray:
        return pd.isna(self.outcome)


def prepare(df: pd.DataFrame, mapping: dict[str, str]) -> Prepared:
    """Map, trim and validate every row (see the module docstring)."""
    n = len(df)
    data = {}
    for f, col in mapping.items():
        text = _as_str(df[col]).str.strip()
        data[f] = text.where(text != "", None)
    fields = pd.DataFrame(data, index=df.index)
    reasons: list[list[str]] = [[] for _ in range(n)]

    def flag(mask: np.ndarray, text: str) -> None:
        for i in np.flatnonzero(mask):
            reasons[i].append(text)

    has_channel = np.zeros(n, dtype=bool)
    for f in CHANNELS:
        if f in fields:
            has_channel |= fields[f].notna().to_numpy(bool)
    flag(~has_channel, "no phone_number, email or fax_number")
    for f in ("phone_number", "fax_number"):
        if f in fields:
            present = fields[f].notna().to_numpy(bool)
            flag(present & ~_matches(fields[f], E164), f"{f} is not an E.164 number")
    if "email" in fields:
        present = fields["email"].notna().to_numpy(bool)
        flag(present & ~_matches(fields["email"], EMAIL), "email is not an email address")
    outcome = np.array([None] * n, dtype=object)
    reason = np.array([None] * n, dtype=object)
    for i, r in enumerate(reasons):
        if r:
            outcome[i], reason[i] = "rejected", "; ".join(r)
    labels = df.index
    for f in ("phone_number", "email"):
        if f not in fields:
            continue
        key = fields[f].str.lower() if f == "email" else fields[f]
        key = key.where(pd.isna(outcome), None)
        first: dict[object, int] = {}
        for i, k in enumerate(key.tolist()):
            if k is None or (isinstance(k, float) and np.isnan(k)) or outcome[i] is not None:
                continue
            if k in first:
                outcome[i] = "already_present"
                label = labels[first[k]]
                label = label.item() if hasattr(label, "item") else label  # numpy -> Python
                reason[i] = f"same {f} as row {label!r}"
            else:
                first[k] = i
    return Prepared(fields, outcome, reason, mapping)


def match_keys(fields: pd.DataFrame) -> pd.DataFrame:
    """Per row the keys contacts are matched on: ``p`` (E.164 phone), ``e`` (lower-cased
    email), ``f`` (fax); None where absent."""
    out = pd.DataFrame(index=fields.index)
    for f, k in (("phone_number", "p"), ("email", "e"), ("fax_number", "f")):
        if f in fields:
            v = fields[f].astype("str").str.strip()
            if f == "email":
                v = v.str.lower()
            out[k] = v.where(v.notna() & (v != ""), None).astype(object)
        else:
            out[k] = None
    return out


def read_list(session: ApiSession, list_id: int, workers: int = 8) -> pd.DataFrame:
    """Every contact of ``list_id`` as raw strings, never from the HTTP cache (a read-back
    must see the list as it is now)."""
    path = f"/lists/{list_id}/contacts"

    def page(p: int) -> dict:
        return session.get(path, {"page": p, "limit": 100}, expire_after=DO_NOT_CACHE) or {}

    first = page(1)
    records = list(first.get("data") or [])
    last = int(first.get("last_page") or 1)
    if last > 1:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for data in pool.map(page, range(2, last + 1)):
                records.extend(data.get("data") or [])
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    if "contact_id" in frame:
        frame = frame.drop_duplicates("contact_id").reset_index(drop=True)
        frame["contact_id"] = frame["contact_id"].astype("int64")
    else:
        frame = pd.DataFrame({"contact_id": pd.Series([], dtype="int64")})
    for f in CONTACT_FIELDS:
        if f not in frame:
            frame[f] = None
    return frame


def problems_summary(prepared: Prepared, only: str | None = None) -> str:
    """One line per kind of verdict (of outcome ``only``, if given), for warnings."""
    mask = ~prepared.ok if only is None else prepared.outcome == only
    s = pd.Series(prepared.reason[mask], index=prepared.fields.index[mask])
    lines = []
    for reason, rows in s.groupby(s.values).groups.items():
        lines.append(f"{reason}: {len(rows)} row(s) {show_rows(rows)}")
    return "; ".join(lines)
