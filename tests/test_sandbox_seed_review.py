"""The default seed gives notebook 03 clusters to review: across the seeded lists, planted
cases (a changed mobile, a family mobile, a row without its first name, a chain A~B~C)
that csframe's matcher links but must not merge silently, while every list's own truth
(tests/test_clean_roundtrip.py) stays exact."""

from __future__ import annotations

import requests

from csframe import clean
from csframe.sandbox.seed_contacts import REVIEW_KINDS

MIN_REVIEW_CLUSTERS = 8


def test_default_seed_has_clusters_that_need_review(client, sandbox):
    truth = requests.get(
        sandbox.root_url + "/_sandbox/truth/contacts", headers=sandbox.admin_headers, timeout=30
    ).json()
    cases = truth["review_cases"]
    assert {c["kind"] for c in cases} == set(REVIEW_KINDS)
    for c in cases:
        assert c["same_person"] == REVIEW_KINDS[c["kind"]]
        assert len({lid for lid, _ in c["contacts"]}) == len(c["contacts"])  # one per list
    # What notebook 03 does: every list but the opt-outs, cleaned, matched.
    everyone = client.contacts()
    raw = everyone[~everyone["_list_name"].str.contains("opt.?out", case=False, regex=True)]
    dups = clean.duplicates(clean.contacts(raw, default_region="AU"))
    review = dups[dups["needs_review"].fillna(False)]
    flagged = {
        frozenset(int(x) for x in g["contact_id"])
        for _, g in review.groupby("cluster_id", observed=True)
    }
    assert len(flagged) >= MIN_REVIEW_CLUSTERS
    # Exactly the planted cases, each one cluster, nothing else flagged.
    assert flagged == {frozenset(cid for _, cid in c["contacts"]) for c in cases}
    assert (review["review_reason"] != "").all()
