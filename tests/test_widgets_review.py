"""csframe.widgets.cleanup_review: stepping through flagged clusters headlessly, and the
decisions frame going straight into csframe.clean.dedupe."""

from __future__ import annotations

import pandas as pd
import pytest

from csframe import clean
from csframe.widgets import CleanupReview, cleanup_review

ROWS = [
    # contact_id, phone, email, first, last, postcode
    (1, "0412 345 678", "ann@example.com", "Ann", "Lee", "2000"),  # plain duplicate pair
    (2, "+61 412 345 678", None, "Ann", "Lee", None),
    (3, "0400 111 222", "sam@example.com", "Sam", "Green", None),  # chain A~B~C
    (4, "0400 111 222", "sam.green@work.com", "Sam", "Green", None),
    (5, "0400 999 888", "sam.green@work.com", "Samuel", "Green", None),
    (
        6,
        "0411 000 001",
        "jd@example.com",
        "<script>alert(1)</script>",
        "<b>Doe</b>",
        None,
    ),  # chain 2
    (7, "0411 000 001", "jo@example.com", "Jo", "Doe", None),
    (8, "0411 000 002", "jo@example.com", "Jo", "Doe", None),
    (9, "0499 999 999", "solo@example.com", "Solo", "Han", None),  # alone
]


@pytest.fixture(scope="module")
def dups() -> pd.DataFrame:
    df = pd.DataFrame(
        ROWS,
        columns=[
            "contact_id",
            "phone_number",
            "email",
            "first_name",
            "last_name",
            "address_postal_code",
        ],
    )
    df["contact_id"] = df["contact_id"].astype("Int64")
    return clean.duplicates(df, default_region="AU")


def _cluster_of(dups, contact_id) -> int:
    return int(dups.loc[dups["contact_id"] == contact_id, "cluster_id"].iloc[0])


def test_steps_through_flagged_clusters_only(dups):
    rv = CleanupReview(dups)
    assert rv.clusters == [_cluster_of(dups, 3), _cluster_of(dups, 6)]
    assert len(rv) == 2 and rv.current == rv.clusters[0] and not rv.done
    assert set(rv.cluster()["contact_id"]) == {3, 4, 5}


def test_side_by_side_and_links_explain_the_chain(dups):
    rv = CleanupReview(dups)
    table = rv.side_by_side()
    assert list(table.columns) == ["#3", "#4", "#5", "differs"]
    assert table.loc["phone_e164"].tolist()[:3] == ["+61400111222", "+61400111222", "+61400999888"]
    assert table.loc["phone_e164", "differs"] and not table.loc["last_name", "differs"]
    # the fields that agreed on each row's strongest link, and its weight
    assert table.loc["rule"].tolist()[:3] == ["phone+name", "phone+name", "email+name"]
    assert all(w > 0 for w in table.loc["match_weight"].tolist()[:3])
    links = rv.links()
    assert links.to_dict("records") == [
        {"via": "phone", "value": "+61400111222", "contacts": "#3, #4"},
        {"via": "email", "value": "sam.green@work.com", "contacts": "#4, #5"},
    ]
    assert "2 different phone numbers and 2 different email addresses" in rv.reason()
    # why it was not merged silently: Sam and Samuel share an email but not their mobiles
    assert "(different mobiles" in rv.reason()
    assert "different mobiles" in table.loc["review_reason", "#5"]


def test_decisions_feed_dedupe(dups):
    rv = CleanupReview(dups)
    first, second = rv.clusters
    assert rv.accept() == second  # moves on
    assert rv.split() is None and rv.done
    dec = rv.decisions
    assert dec.to_dict("list") == {"cluster_id": [first, second], "decision": ["accept", "split"]}
    assert str(dec["cluster_id"].dtype) == "Int64"
    out = clean.dedupe(dups, decisions=dec)
    merged = out[out["cluster_id"] == first]
    assert len(merged) == 1 and merged["merged_count"].iloc[0] == 3
    assert len(out[out["cluster_id"] == second]) == 3
    # without decisions both chains stay apart
    assert len(clean.dedupe(dups)) == len(out) + 2


def test_skip_is_left_out_and_back_changes_a_decision(dups):
    rv = CleanupReview(dups)
    first, second = rv.clusters
    rv.skip()
    rv.accept()
    assert rv.skipped == [first]
    assert rv.decisions["cluster_id"].tolist() == [second]
    assert rv.counts() == {"accept": 1, "split": 0, "skip": 1, "pending": 0, "total": 2}
    rv.back()
    assert rv.current == second and rv.decision() == "accept"
    rv.back()
    assert rv.current == first
    rv.accept()
    assert rv.decisions["decision"].tolist() == ["accept", "accept"]
    assert len(clean.dedupe(dups, decisions=rv.decisions)) == len(clean.dedupe(dups)) - 4
    assert rv.decide("split", second) is None  # an explicit cluster
    assert rv.decisions["decision"].tolist() == ["accept", "split"]


def test_review_every_cluster(dups):
    rv = CleanupReview(dups, review_only=False)
    assert _cluster_of(dups, 1) in rv.clusters
    assert _cluster_of(dups, 9) not in rv.clusters  # single rows are no cluster
    rv.go(rv.clusters.index(_cluster_of(dups, 1)))
    assert rv.reason().startswith("2 rows linked by phone")


def test_html_is_escaped(dups):
    rv = CleanupReview(dups)
    rv.go(1)
    html = rv.html()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;Doe&lt;/b&gt;" in html
    assert 'style="background:#fff3c4"' in html  # rows that differ are marked


def test_bad_input_is_a_clear_error(dups):
    with pytest.raises(ValueError, match="clean.duplicates"):
        CleanupReview(dups.drop(columns=["cluster_id"]))
    with pytest.raises(TypeError, match="DataFrame"):
        CleanupReview([1, 2, 3])
    rv = CleanupReview(dups)
    with pytest.raises(ValueError, match="accept, split, skip"):
        rv.decide("merge")
    with pytest.raises(KeyError):
        rv.decide("accept", cluster_id=_cluster_of(dups, 1))  # not flagged
    rv.accept(), rv.accept()
    with pytest.raises(LookupError):
        rv.accept()


def test_nothing_to_review():
    df = pd.DataFrame({"contact_id": [1, 2], "phone_number": ["0412 345 678", "0412 999 999"]})
    rv = CleanupReview(clean.duplicates(df, default_region="AU"))
    assert len(rv) == 0 and rv.done and rv.current is None
    assert rv.decisions.empty and list(rv.decisions.columns) == ["cluster_id", "decision"]
    assert rv.status() == "No clusters need review."
    view = cleanup_review(clean.duplicates(df, default_region="AU"))
    assert "No clusters need review" in view.body.value
    assert view.accept_button.disabled and view.split_button.disabled


# -- the view -------------------------------------------------------------------------------
def test_view_buttons(dups):
    view = cleanup_review(dups)
    first, second = view.model.clusters
    assert "Cluster 1 of 2" in view.status.value
    assert "#3" in view.body.value and "+61400111222" in view.body.value
    assert view.back_button.disabled
    view.split_button.click()
    assert view.model.current == second and "Cluster 2 of 2" in view.status.value
    view.back_button.click()
    assert view.model.current == first and "this cluster: split" in view.status.value
    view.accept_button.click()
    view.skip_button.click()
    assert view.model.done and "All 2 clusters stepped through" in view.status.value
    assert view.accept_button.disabled and not view.back_button.disabled
    assert "dedupe" in view.body.value
    assert view.decisions.to_dict("list") == {"cluster_id": [first], "decision": ["accept"]}
    view.back_button.click()
    assert view.model.current == second and not view.accept_button.disabled


def test_package_names_are_the_factories():
    import csframe.widgets as w
    from csframe.widgets import CleanupReview, Composer, Explorer  # noqa: F401  (imports modules)

    assert callable(w.explorer) and callable(w.composer) and callable(w.cleanup_review)
    assert w.Explorer.__module__ == "csframe.widgets.explore"
