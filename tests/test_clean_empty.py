"""contacts()/duplicates()/dedupe()/diff() on lists with an empty, all-missing or absent
phone or email column, and on an empty frame: no crash, the same columns and dtypes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from csframe import clean
from csframe.clean.contacts import CLEAN_COLUMNS

EMAILS = ["ann@example.com", "ann@example.com", "bob@example.org"]
PHONES = ["0412 345 678", "+61412345678", "0400 000 001"]


def _reference() -> pd.Series:
    """Column dtypes of a list where both channels are filled (the contract)."""
    full = pd.DataFrame({"phone_number": PHONES, "email": EMAILS, "first_name": ["A", "A", "B"]})
    return clean.contacts(full, default_region="AU").dtypes


CASES = {
    "phone all None": {"phone_number": [None] * 3, "email": EMAILS},
    "phone all NaN": {"phone_number": [np.nan] * 3, "email": EMAILS},
    "phone all missing str": {"phone_number": pd.array([None] * 3, dtype="str"), "email": EMAILS},
    "phone all blank": {"phone_number": ["", " ", ""], "email": EMAILS},
    "no phone column": {"email": EMAILS},
    "email all None": {"phone_number": PHONES, "email": [None] * 3},
    "email all NaN": {"phone_number": PHONES, "email": [np.nan] * 3},
    "no email column": {"phone_number": PHONES},
}


@pytest.mark.parametrize("case", list(CASES))
def test_empty_channel_columns(case):
    df = pd.DataFrame({**CASES[case], "first_name": ["Ann", "Ann", "Bob"]})
    out = clean.contacts(df, default_region="AU")
    ref = _reference()
    for col in ref.index.intersection(out.columns).drop(df.columns, errors="ignore"):
        assert out[col].dtype == ref[col], (case, col)
    d = clean.duplicates(out)
    # the two Anns share a phone or an email: still one cluster
    assert d["cluster_id"].tolist() == [1, 1, 2], case
    kept = clean.dedupe(d)
    assert kept["merged_from"].tolist() == ["0,1", "2"]
    plan = clean.diff(kept, kept.iloc[:0])
    assert (plan["action"] == "add").all()


@pytest.mark.parametrize(
    "columns", [["phone_number", "email"], ["phone_number"], ["email"], ["email", "first_name"]]
)
def test_empty_frame(columns):
    df = pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    out = clean.contacts(df, default_region="AU")
    ref = _reference()
    assert len(out) == 0
    for col in CLEAN_COLUMNS:
        assert out[col].dtype == ref[col], col
    d = clean.duplicates(out)
    assert len(d) == 0 and d["cluster_id"].dtype == "Int64"
    assert len(clean.dedupe(d)) == 0
