"""csframe.clean against a contact list whose truth is known row by row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from csframe import clean

NBSP, ZWSP = "\u00a0", "\u200b"

# contact_id, phone, email, first, last, postcode, country, updated (day), expected cluster
ROWS = [
    # AU mobile in four formats + gmail dot/plus variants
    (1, "0412 345 678", "ann.lee@gmail.com", "Ann", "Lee", "2000", "AU", 5, "ann"),
    (2, "+61 412 345 678", None, "Ann", "Lee", None, None, 9, "ann"),
    (3, 61412345678, "Ann.Lee+promo@googlemail.com", "Anne", "Lee", None, "Australia", 1, "ann"),
    (
        4,
        "\u0660\u0664\u0661\u0662 \u0663\u0664\u0665 \u0666\u0667\u0668",
        None,
        None,
        None,
        None,
        None,
        2,
        "ann",
    ),
    # US number written four ways (country by name); first-name typo
    (5, "(650) 253-0000", "john.smith@example.com", "John", "Smith", "94043", "USA", 3, "john"),
    (6, "+1 650.253.0000", None, "Jon", "Smith", None, "US", 4, "john"),
    (7, "1-650-253-0000", None, "John", "Smith", None, "United States", 6, "john"),
    (8, "650 253 0000 ext. 12", "JOHN.SMITH@EXAMPLE.COM", "John", "Smith", None, "us", 2, "john"),
    # GB mobile: national, international, 00-prefixed; typo in first name
    (
        9,
        "07400 123456",
        "oliver@example.co.uk",
        "Oliver",
        "Brown",
        "SW1A 1AA",
        "United Kingdom",
        1,
        "oliver",
    ),
    (10, "+44 7400 123456", None, "Olivr", "Brown", None, "GB", 2, "oliver"),
    (11, "0044 7400 123456", None, "Oliver", "Brown", None, "AU", 3, "oliver"),
    # NZ mobile, '+' lost in a spreadsheet export
    (12, "021 123 4567", None, "Aroha", "Ngata", None, "New Zealand", 1, "aroha"),
    (13, "+64 21 123 4567", "aroha@example.nz", "Aroha", "Ngata", None, None, 2, "aroha"),
    (14, 64211234567, None, "Aroha", "Ngata", None, "NZ", 3, "aroha"),
    # DE mobile with accents, NBSP and a zero-width space
    (15, "0151 23456789", None, "Jürgen", "Müller", None, "DE", 1, "jurgen"),
    (16, f"0151{NBSP}2345{ZWSP}6789", None, "Jurgen", "Muller", "10115", "Germany", 2, "jurgen"),
    (17, "+49 1512 3456789", "jurgen@example.de", None, "Müller", None, None, 3, "jurgen"),
    # IN mobile: national with trunk 0, international, leading country code without '+'
    (18, "+91 98765 43210", "priya@example.in", "Priya", "Sharma", None, None, 1, "priya"),
    (19, "098765 43210", None, "Priya", "Sharma", None, "India", 2, "priya"),
    (20, "919876543210", None, "Priya", "Sharma", None, "IN", 3, "priya"),
    # SG mobile: fullwidth digits, int with country code
    (21, "+65 9123 4567", None, "Wei", "Tan", None, None, 1, "wei"),
    (
        22,
        "\uff19\uff11\uff12\uff13 \uff14\uff15\uff16\uff17",
        None,
        "Wei",
        "Tan",
        None,
        "SG",
        2,
        "wei",
    ),
    (23, 6591234567, "wei.tan@example.sg", "Wei", "Tan", None, "Singapore", 3, "wei"),
    # FR mobile
    (24, "+33 6 12 34 56 78", None, "Camille", "Martin", None, None, 1, "camille"),
    (25, "06 12 34 56 78", "camille@example.fr", "Camille", "Martin", None, "France", 2, "camille"),
    (26, "0033612345678", None, "Camille", "Martin", None, "FR", 3, "camille"),
    # a family on one landline: Mary twice (one a typo-free reformat), Peter once, a blank
    (27, "(02) 9876 5432", "mary.jones@example.com", "Mary", "Jones", "2010", "AU", 1, "mary"),
    (28, "02 9876-5432", None, "Mary", "Jones", "2010", "AU", 2, "mary"),
    (29, "+61 2 9876 5432", "peter.jones@example.com", "Peter", "Jones", "2010", "AU", 3, "peter"),
    (30, "0298765432", None, None, "Jones", "2010", "AU", 4, "jones-blank"),
    # chain A~B~C: two phones and two emails in one cluster → flagged, not merged
    (31, "0400 111 222", "sam@example.com", "Sam", "Green", None, "AU", 1, "chain"),
    (32, "0400 111 222", "sam.green@work.com", "Sam", "Green", None, "AU", 2, "chain"),
    (33, "0400 999 888", "sam.green@work.com", "Samuel", "Green", None, "AU", 3, "chain"),
    # gmail dots and +tags, no phone
    (34, None, "k.a.t.e.brown@gmail.com", "Kate", "Brown", None, None, 1, "kate"),
    (35, np.nan, "KateBrown+news@gmail.com", "Kate", "Brown", None, None, 2, "kate"),
    # same name + postcode, one without phone: linked by name; namesakes with two phones: not
    (36, "0412 000 333", None, "Liam", "O'Neil", "3000", "AU", 1, "liam"),
    (37, None, "liam@example.com", "Liam", "ONeil", "3000", "AU", 2, "liam"),
    (38, "0412 000 444", None, "Chris", "Wood", "3000", "AU", 1, "chris-1"),
    (39, "0412 000 555", None, "Chris", "Wood", "3000", "AU", 2, "chris-2"),
    # junk: 100 characters, too short, unknown country code, nothing usable
    (40, "x" * 100, "not an email", "n/a", "-", None, None, 1, "junk-1"),
    (41, "12", None, "Test", None, None, None, 1, "junk-2"),
    (42, "+999 1234 5678", "bob@@example.com", "Bob", None, None, None, 1, "junk-3"),
    (43, None, None, None, None, None, None, 1, "junk-4"),
]


def truth_frame() -> pd.DataFrame:
    cols = [
        "contact_id", "phone_number", "email", "first_name", "last_name",
        "address_postal_code", "address_country", "day", "truth",
    ]  # fmt: skip
    df = pd.DataFrame(ROWS, columns=cols)
    df["contact_id"] = df["contact_id"].astype("Int64")
    df["phone_number"] = df["phone_number"].astype(object)  # mixed ints, floats, str
    df["date_updated"] = pd.to_datetime("2026-01-01", utc=True) + pd.to_timedelta(
        df.pop("day"), unit="D"
    )
    df["date_updated"] = df["date_updated"].astype("datetime64[s, UTC]")
    df["unsubscribed"] = pd.array([False] * len(df), dtype="boolean")
    return df


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return truth_frame()


@pytest.fixture(scope="module")
def dups(raw) -> pd.DataFrame:
    return clean.duplicates(raw.drop(columns="truth"), default_region="AU")


def _partition(ids, labels) -> set[frozenset]:
    groups: dict = {}
    for i, g in zip(ids, labels, strict=True):
        groups.setdefault(g, set()).add(int(i))
    return {frozenset(v) for v in groups.values()}


def test_phone_e164_for_every_format(raw):
    out = clean.contacts(raw, default_region="AU")
    e164 = dict(zip(out["contact_id"], out["phone_e164"], strict=True))
    expect = {
        "ann": "+61412345678", "john": "+16502530000", "oliver": "+447400123456",
        "aroha": "+64211234567", "jurgen": "+4915123456789", "priya": "+919876543210",
        "wei": "+6591234567", "camille": "+33612345678", "mary": "+61298765432",
    }  # fmt: skip
    for cid, truth in zip(raw["contact_id"], raw["truth"], strict=True):
        if truth in expect:
            assert e164[cid] == expect[truth], (cid, truth)
    assert out.loc[out.contact_id == 8, "phone_extension"].item() == "12"
    reasons = dict(zip(out["contact_id"], out["phone_reason"].astype(object), strict=True))
    assert reasons[40] == "not_a_number"
    assert reasons[41] == "too_short"
    assert reasons[42] == "invalid_country_code"
    assert reasons[43] == "empty" and reasons[34] == "empty" and reasons[35] == "empty"
    types = dict(zip(out["contact_id"], out["phone_type"].astype(object), strict=True))
    assert types[1] == "mobile" and types[27] == "fixed_line"
    assert types[5] == "fixed_line_or_mobile"


def test_contacts_adds_columns_and_issues_without_touching_input(raw):
    before = raw.copy(deep=True)
    out = clean.contacts(raw, default_region="AU")
    pd.testing.assert_frame_equal(raw, before)
    assert list(out.columns[: len(raw.columns)]) == list(raw.columns)
    assert out["phone_e164"].dtype == "str" and out["email_norm"].dtype == "str"
    assert out["phone_valid"].dtype == "boolean" and out["phone_reason"].dtype == "category"
    issues = dict(zip(out["contact_id"], out["issues"], strict=True))
    assert issues[1] == ""
    assert issues[40] == "phone_not_a_number,email_missing_at,no_channel,placeholder_name"
    assert issues[41] == "phone_too_short,no_channel,placeholder_name"
    assert issues[42] == "phone_invalid_country_code,email_multiple,no_channel"
    assert issues[43] == "no_channel"
    assert issues[34] == ""  # email only is fine


def test_exact_clusters(dups, raw):
    got = _partition(dups["contact_id"], dups["cluster_id"])
    # the two Chris Woods (same name and postcode, different mobiles) are linked for review
    want = _partition(raw["contact_id"], raw["truth"].replace({"chris-2": "chris-1"}))
    assert got == want


def test_rules_explain_links(dups):
    rule = dict(zip(dups["contact_id"], dups["rule"].astype(object), strict=True))
    weight = dict(zip(dups["contact_id"], dups["match_weight"], strict=True))
    assert rule[1] == "phone+email+name" and rule[2] == "phone+name"
    assert rule[4] == "phone"  # no name at all: the mobile alone
    assert rule[17] == "phone+last_name"  # no first name
    assert rule[34] == "email+name" and rule[35] == "email+name"
    assert rule[5] == "phone+email+name" and rule[6] == "phone+name"  # Jon ~ John
    assert rule[27] == "phone+name+postcode" and rule[28] == "phone+name+postcode"
    assert rule[36] == "name+postcode" and rule[37] == "name+postcode"  # O'Neil ~ ONeil
    assert pd.isna(rule[29]) and pd.isna(rule[30]) and pd.isna(weight[29])
    assert dups["match_weight"].dtype == "Float64" and weight[1] > weight[4] > 0


def test_family_on_shared_landline_not_merged(dups):
    by = dups.set_index("contact_id")
    assert by.loc[27, "cluster_id"] == by.loc[28, "cluster_id"]
    assert by.loc[29, "cluster_id"] != by.loc[27, "cluster_id"]
    assert by.loc[30, "cluster_id"] not in {by.loc[27, "cluster_id"], by.loc[29, "cluster_id"]}


def test_chain_is_flagged_not_merged(dups, raw):
    by = dups.set_index("contact_id")
    assert by.loc[[31, 32, 33], "needs_review"].all()
    assert by.loc[[31, 32, 33], "survivor"].all()
    # why, with the values: Sam's and Samuel's mobiles
    assert by.loc[31, "review_reason"] == (
        "different mobiles +61400111222 / +61400999888; "
        "two different phones and two different emails in one chain"
    )
    # the Chris Woods: one name and postcode, two mobiles
    assert by.loc[[38, 39], "needs_review"].all()
    assert by.loc[38, "review_reason"] == "different mobiles +61412000444 / +61412000555"
    assert not by.drop(index=[31, 32, 33, 38, 39])["needs_review"].any()
    assert (by.drop(index=[31, 32, 33, 38, 39])["review_reason"] == "").all()
    out = clean.dedupe(dups)
    assert sorted(out.loc[out.cluster_id == by.loc[31, "cluster_id"], "contact_id"]) == [31, 32, 33]
    # a reviewer accepts it: merged like any other cluster
    dec = pd.DataFrame({"cluster_id": [by.loc[31, "cluster_id"]], "decision": ["accept"]})
    merged = clean.dedupe(dups, decisions=dec)
    row = merged[merged.cluster_id == by.loc[31, "cluster_id"]]
    # equally complete rows: the latest update survives
    assert len(row) == 1 and row["merged_from"].item() == "33,32,31"


def test_survivors(dups):
    surv = dups[dups["survivor"] & (dups["cluster_size"] > 1)]
    expected = {
        "ann": 1,  # phone, email, names, postcode, country
        "john": 5,  # most complete
        "oliver": 9,
        "aroha": 13,  # only one with an email
        "jurgen": 16,  # the only one with a postcode
        "priya": 18,
        "wei": 23,
        "camille": 25,
        "mary": 27,
        "kate": 35,  # tie: latest
        "liam": 37,  # tie: latest
    }
    got = set(surv.loc[~surv["needs_review"], "contact_id"].astype(int))
    assert got == set(expected.values())


def test_dedupe_merges_fields(dups, raw):
    out = clean.dedupe(dups)
    assert out["contact_id"].is_unique
    by = out.set_index("contact_id")
    assert len(out) == raw["truth"].nunique() + 2  # the chain stays as three rows
    # Ann: the survivor keeps its own values; merged_from in preference order
    assert by.loc[1, "merged_from"] == "1,3,2,4"
    assert by.loc[1, "merged_count"] == 4
    # Aroha: survivor 13 had no country: the address block comes from the next-ranked row
    # (14 and 12 are equally complete; 14 is the later update)
    assert by.loc[13, "address_country"] == "NZ"
    # Jürgen: the email comes from row 17 (missing email filled from a duplicate)
    assert by.loc[16, "email"] == "jurgen@example.de"
    assert by.loc[16, "email_norm"] == "jurgen@example.de"
    assert by.loc[16, "first_name"] == "Jurgen"
    # Liam: survivor 37 had no phone; the phone fields come from row 36 together
    assert by.loc[37, "phone_number"] == "0412 000 333"
    assert by.loc[37, "phone_e164"] == "+61412000333"
    assert bool(by.loc[37, "phone_valid"])
    assert by.loc[37, "issues"] == ""
    # dates: earliest added is not tracked here; latest update wins
    assert by.loc[1, "date_updated"] == raw.loc[raw.contact_id == 2, "date_updated"].item()
    # singletons pass through
    assert by.loc[29, "merged_from"] == "29" and by.loc[29, "merged_count"] == 1
    assert out["merged_count"].dtype == "Int64" and out["merged_from"].dtype == "str"


def test_dedupe_keep_latest_and_callable(dups):
    latest = clean.dedupe(dups, keep="latest").set_index("contact_id")
    assert 2 in latest.index and latest.loc[2, "merged_from"].startswith("2,")
    assert latest.loc[2, "email"] == "ann.lee@gmail.com"  # filled from the best-ranked donor
    by_id = clean.dedupe(dups, keep=lambda f: -f["contact_id"].astype(float))
    assert 1 in by_id["contact_id"].to_numpy()


def test_dedupe_split_decision_keeps_rows(dups):
    cid = dups.loc[dups.contact_id == 1, "cluster_id"].item()
    out = clean.dedupe(dups, decisions={cid: "split"})
    assert sorted(out.loc[out.cluster_id == cid, "contact_id"]) == [1, 2, 3, 4]


def test_bad_decisions_are_reported(dups):
    with pytest.raises(clean.CleanInputError, match="unknown cluster_id"):
        clean.dedupe(dups, decisions={10_000: "accept"})
    with pytest.raises(clean.CleanInputError, match="accept' or 'split"):
        clean.dedupe(dups, decisions=pd.DataFrame({"cluster_id": [1], "decision": ["maybe"]}))


def test_report(raw):
    inb = pd.DataFrame(
        {
            "from": ["+61298765432", "+447400123456", "+447400123456", "+6591234567"],
            "body": ["STOP ALL", "stop.", "START", "Stop by later?"],
            "date": pd.to_datetime([1, 2, 3, 4], unit="D", utc=True),
        }
    )
    res = clean.run(raw.drop(columns="truth"), inb, default_region="AU")
    r = res.report
    assert r.rows_in == 43
    assert r.invalid_phones == 3 and r.invalid_emails == 2
    assert r.clusters_needing_review == 2  # the chain and the two Chris Woods
    assert r.duplicate_rows == 43 - (raw["truth"].nunique() + 2)
    # Mary's and Peter's landline sent STOP (the blank Jones row shares it too)
    assert r.opt_outs == 3 and r.opt_out_reasons == {"replied_stop": 3}
    assert r.rows_out == 43 - r.duplicate_rows - 3
    text = str(r)
    assert "clusters needing review" in text and "rows out" in text
    assert "<table>" in r._repr_html_()


def test_missing_columns_are_named():
    with pytest.raises(clean.CleanInputError, match="phone_number.*mobile.*email"):
        clean.contacts(pd.DataFrame({"name": ["x"]}))
    with pytest.raises(clean.CleanInputError, match="no column 'Cell'"):
        clean.contacts(pd.DataFrame({"x": [1]}), mapping={"phone_number": "Cell"})
    with pytest.raises(ValueError, match="default_region='Narnia'"):
        clean.contacts(pd.DataFrame({"phone": ["1"]}), default_region="Narnia")


def test_csv_style_frame_with_aliases_and_mapping():
    df = pd.DataFrame(
        {
            "Mobile": [412345678, "0412 345 678", None],
            "E-mail": ["A@B.com", None, "c@d.com"],
            "Surname": ["Lee", "Lee", "Wu"],
        }
    )
    out = clean.contacts(df, default_region="AU")
    assert out["phone_e164"].tolist()[:2] == ["+61412345678", "+61412345678"]
    assert out["last_name_key"].tolist() == ["lee", "lee", "wu"]
    out2 = clean.contacts(
        df.rename(columns={"Mobile": "Cell"}), "AU", mapping={"phone_number": "Cell"}
    )
    assert out2["phone_e164"].tolist()[:2] == ["+61412345678", "+61412345678"]
    assert clean.dedupe(out, default_region="AU")["merged_from"].tolist() == ["0,1", "2"]


def test_bad_dates_are_named():
    df = pd.DataFrame(
        {"phone_number": ["0412 345 678", "+61412345678"], "date_updated": ["2026-01-01", "soon"]}
    )
    with pytest.raises(clean.CleanInputError, match=r"'date_updated'.*rows \[1\].*'soon'"):
        clean.dedupe(df, keep="latest", default_region="AU")
