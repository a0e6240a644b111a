"""Issue 5 round trip: the sandbox's seeded dirty lists -> clean -> duplicates -> dedupe
reproduce exactly the duplicates the seed planted (its ground truth)."""

from __future__ import annotations

import pandas as pd
import pytest
import requests

from csframe import clean


@pytest.fixture(scope="module")
def truth(sandbox):
    r = requests.get(
        sandbox.root_url + "/_sandbox/truth/contacts", headers=sandbox.admin_headers, timeout=30
    )
    r.raise_for_status()
    return {item["list_id"]: item for item in r.json()["lists"]}


def clusters(dups):
    multi = dups[dups["cluster_size"] > 1]
    return {
        frozenset(int(c) for c in g["contact_id"])
        for _, g in multi.groupby("cluster_id", observed=True)
    }


def test_every_seeded_list_round_trips_to_the_planted_duplicates(client, truth):
    lists = client.lists()
    checked = 0
    for list_id in lists.loc[lists["_contacts_count"] > 0, "list_id"].astype(int):
        t = truth[list_id]
        raw = client.contacts(list_id)
        assert sorted(raw["contact_id"].astype(int)) == sorted(t["contact_ids"])
        cleaned = clean.contacts(raw, default_region="AU")
        dups = clean.duplicates(cleaned)
        planted = {
            frozenset(g["contact_ids"]) for g in t["duplicate_groups"] if len(g["contact_ids"]) > 1
        }
        assert clusters(dups) == planted, f"list {list_id}"
        # households sharing a landline are never merged
        for household in t["not_duplicates"]:
            ids = set(household["contact_ids"])
            linked = dups[dups["contact_id"].isin(ids)]["cluster_id"]
            assert linked.nunique() == len(ids)
        kept = clean.dedupe(dups)
        assert len(kept) == len(raw) - t["duplicate_rows"]
        checked += 1
    assert checked >= 5


def test_every_format_normalises_to_the_true_number_and_junk_is_flagged(client, sandbox):
    r = requests.get(
        sandbox.root_url + "/_sandbox/truth/contacts?rows=1",
        headers=sandbox.admin_headers,
        timeout=30,
    )
    rows = [row for item in r.json()["lists"] for row in item["rows"]]
    truth = {row["contact_id"]: row for row in rows}
    cleaned = clean.contacts(client.contacts(), default_region="AU")
    formats = invalid = recovered_formats = 0
    for rec in cleaned[["contact_id", "phone_e164", "phone_valid"]].itertuples(index=False):
        t = truth[int(rec.contact_id)]
        kinds = t["dirt"]
        if any(k.startswith("fmt:") for k in kinds) and t["phone_valid"]:
            formats += 1
            # Never a wrong number passed as valid; almost always the right one. (A foreign
            # number that lost its "+" and has no country may only be flagged.)
            right = rec.phone_e164 == t["phone_e164"]
            recovered_formats += right
            assert right or not rec.phone_valid, (rec, kinds)
        if any(k.startswith("phone_invalid") for k in kinds):
            invalid += 1
            # flagged, or (better than the API, e.g. "+61 (0)4..") recovered exactly
            recovered = rec.phone_e164 == t["phone_e164"]
            assert recovered or not rec.phone_valid or pd.isna(rec.phone_valid), (rec, kinds)
    assert formats > 100 and invalid > 3
    assert recovered_formats / formats > 0.97
