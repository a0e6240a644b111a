"""Writers: contact imports (upload + import, per-contact POSTs) and list syncs against the
sandbox. The outcome frame is checked against the list as the sandbox holds it."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import csframe
from csframe import writers
from csframe.sandbox import running
from csframe.writers import ImportTimeout, PlanError, PlanWarning
from csframe.writers.contacts import read_list


@pytest.fixture(scope="module")
def sb():
    with running(scale="tiny", seed=21) as sandbox:
        sandbox.contacts_settings(import_rows_per_second=200_000)
        yield sandbox


@pytest.fixture
def cs(sb):
    sb.reset()
    sb.set_faults()
    return csframe.Client(**sb.credentials, base_url=sb.base_url, cache=False, progress=False)


def dirty_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "mobile": [
                "+61412000001",
                "+61412000002",
                "0412 000 003",  # not E.164: rejected locally
                None,  # no channel at all: rejected
                "+61412000001",  # same phone as row 0: skipped
                "+61412000006",
                None,
                "+64211234567",
            ],
            "mail": [None, "b@x.com", None, None, None, "not-an-email", "g@x.com", "h@x.com"],
            "given": ["Ann", "Bøb", "Cy", "Dee", "Ann again", "Eve", "Γιώργος", "Zoë 😀"],
            "family": ["Ng", "Ngô", "", None, "Ng", "Ó Súilleabháin", "Παπαδόπουλος", "Müller"],
        },
        index=[f"r{i}" for i in range(8)],
    )


MAPPING = {"phone_number": "mobile", "email": "mail", "first_name": "given", "last_name": "family"}
EXPECTED = {
    "r0": "imported",
    "r1": "imported",
    "r2": "rejected",
    "r3": "rejected",
    "r4": "already_present",
    "r5": "rejected",
    "r6": "imported",
    "r7": "imported",
}


def assert_matches_list(sb, cs, res: pd.DataFrame, df: pd.DataFrame, mapping: dict) -> None:
    """Every imported row is exactly one contact of the list with the row's values; the
    list holds nothing else (it was new)."""
    lst = read_list(cs.session, res.attrs["list_id"])
    imported = res[res["outcome"] == "imported"]
    assert sorted(lst["contact_id"]) == sorted(imported["contact_id"].astype(int))
    by_id = lst.set_index("contact_id")
    for label, row in imported.iterrows():
        contact = by_id.loc[int(row["contact_id"])]
        for field, col in mapping.items():
            want = df.loc[label, col]
            got = contact[field]
            if want is None or pd.isna(want) or str(want).strip() == "":
                assert got in (None, "") or pd.isna(got)
            else:
                assert got == str(want).strip(), (label, field)
    others = res[res["outcome"] != "imported"]
    assert others["contact_id"].isna().all() | (others["outcome"] == "already_present").all()


@pytest.mark.parametrize("method", ["upload", "per_contact"])
def test_import_outcomes_match_the_list(sb, cs, method):
    df = dirty_frame()
    sb.reset_stats()
    with pytest.warns(PlanWarning, match=r"3 row\(s\) rejected"):
        res = cs.import_contacts(df, list_name=f"Import {method}", mapping=MAPPING, method=method)
    assert res.attrs["list_created"] and res.attrs["method"] == method
    assert list(res.index) == list(df.index)
    assert res["outcome"].astype(str).to_dict() == EXPECTED
    assert "not an E.164" in res.loc["r2", "reason"]
    assert "no phone_number, email or fax_number" in res.loc["r3", "reason"]
    assert res.loc["r4", "reason"] == "same phone_number as row 'r0'"
    assert "not an email address" in res.loc["r5", "reason"]
    assert_matches_list(sb, cs, res, df, MAPPING)
    paths = sb.stats()["by_path"]
    if method == "upload":
        assert paths["/v3/uploads"] == 1
        assert paths[f"/v3/lists/{res.attrs['list_id']}/import"] == 1
        truth = sb.truth_import(res.attrs["import_id"])
        assert sorted(truth["contact_ids"]) == sorted(res["contact_id"].dropna().astype(int))
    else:
        assert paths[f"/v3/lists/{res.attrs['list_id']}/contacts"] >= 4  # 4 POSTs + read-back


def test_both_methods_give_the_same_outcome_frame(cs):
    df = dirty_frame()
    with pytest.warns(PlanWarning):
        a = cs.import_contacts(df, list_name="A", mapping=MAPPING, method="upload")
        b = cs.import_contacts(df, list_name="B", mapping=MAPPING, method="per_contact")
    cols = ["outcome", "reason", "phone_number", "email", "first_name", "last_name"]
    pd.testing.assert_frame_equal(a[cols], b[cols])


def test_mapping_errors_are_clear():
    df = dirty_frame()
    with pytest.raises(PlanError, match=r"no channel: map at least one of phone_number"):
        writers.contacts.resolve_mapping(df, None)  # no column is named like a field
    with pytest.raises(PlanError, match=r"unknown contact field\(s\) \['mobile'\].*reverse"):
        writers.contacts.resolve_mapping(df, {"mobile": "phone_number"})
    with pytest.raises(PlanError, match=r"\['phone'\] are not in the frame; it has \['mobile'"):
        writers.contacts.resolve_mapping(df, {"phone_number": "phone"})
    with pytest.raises(PlanError, match="more than one field"):
        writers.contacts.resolve_mapping(df, {"phone_number": "mobile", "fax_number": "mobile"})
    clean = pd.DataFrame({"phone_number": ["0412"], "phone_e164": ["+61412000001"], "x": [1]})
    assert writers.contacts.resolve_mapping(clean, None) == {"phone_number": "phone_e164"}


def test_missing_mapping_sends_nothing(sb, cs):
    sb.reset_stats()
    with pytest.raises(PlanError):
        cs.import_contacts(dirty_frame(), list_name="never")
    assert sb.stats()["requests"] == 0


def test_existing_contacts_are_skipped_and_the_list_reused(cs):
    df = dirty_frame()
    with pytest.warns(PlanWarning):
        first = cs.import_contacts(df, list_name="Reuse", mapping=MAPPING)
    more = pd.concat(
        [
            df.loc[["r0", "r1"]],
            pd.DataFrame({"mobile": ["+61412000099"], "given": ["New"]}, index=["n"]),
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rows already in the list are no problem
        second = cs.import_contacts(more, list_name="Reuse", mapping=MAPPING)
    assert second.attrs["list_id"] == first.attrs["list_id"] and not second.attrs["list_created"]
    assert second["outcome"].astype(str).tolist() == [
        "already_present",
        "already_present",
        "imported",
    ]
    assert second.loc["r0", "contact_id"] == first.loc["r0", "contact_id"]
    assert "already in list" in second.loc["r1", "reason"]


@pytest.fixture
def big():
    # its own server process: reading 50,000 contacts back is server-bound
    with running(scale="tiny", seed=22, process=True) as sandbox:
        sandbox.contacts_settings(import_rows_per_second=200_000)
        yield csframe.Client(
            **sandbox.credentials, base_url=sandbox.base_url, cache=False, progress=False
        )


def test_fifty_thousand_rows_with_non_ascii_names(big):
    cs = big
    n = 50_000
    i = np.arange(n)
    names = np.array(["Zoë", "Łukasz", "Chloé", "Γιώργος", "李雷", "José", "Ann", "Дмитрий"])
    df = pd.DataFrame(
        {
            "phone_number": [f"+6148{k:07d}" for k in i],
            "first_name": names[i % len(names)],
            "last_name": np.where(i % 2 == 0, "Ngô", "O'Brien, Jr."),  # quoting in the CSV
            "custom_1": np.where(i % 1000 == 0, None, 'tier "gold"'),
        }
    )
    df.loc[[17, 4242], "phone_number"] = ["12345", "+61 4 1234"]  # invalid: rejected
    df.loc[[99, 30000], "phone_number"] = df.loc[[98, 29999], "phone_number"].to_numpy()
    with pytest.warns(PlanWarning, match=r"2 row\(s\) rejected"):
        res = cs.import_contacts(df, list_name="Big one", timeout=120)
    assert res.attrs["method"] == "upload"
    counts = res["outcome"].value_counts()
    assert counts["imported"] == n - 4 and counts["rejected"] == 2
    assert counts["already_present"] == 2
    lst = read_list(cs.session, res.attrs["list_id"])
    assert len(lst) == n - 4
    merged = res[res["outcome"] == "imported"].merge(
        lst, on="contact_id", suffixes=("", "_list"), how="left", validate="one_to_one"
    )
    for f in ("phone_number", "first_name", "last_name"):
        assert (merged[f] == merged[f + "_list"]).all(), f
    assert (merged["custom_1"].fillna("") == merged["custom_1_list"].fillna("")).all()


def test_per_contact_posts_with_dropped_answers_import_each_row_once(cs, sb):
    df = pd.DataFrame({"phone_number": [f"+6149{k:07d}" for k in range(60)], "first_name": "Ann"})
    sb.set_faults(drop_after_commit_rate=0.3, error_rate=0.1, seed=4)
    res = cs.import_contacts(df, list_name="Flaky", method="per_contact")
    sb.set_faults()
    assert (res["outcome"] == "imported").all()
    lst = read_list(cs.session, res.attrs["list_id"])
    assert len(lst) == 60 and lst["phone_number"].is_unique
    assert sb.stats()["faults"].get("drop_after_commit", 0) > 0


def test_import_timeout(cs, sb):
    sb.contacts_settings(import_rows_per_second=20)
    try:
        df = pd.DataFrame({"phone_number": [f"+6141{k:07d}" for k in range(500)]})
        with pytest.raises(ImportTimeout, match="continues on the server"):
            cs.import_contacts(df, list_name="Slow", method="upload", timeout=0.3, poll=0.1)
    finally:
        sb.contacts_settings(import_rows_per_second=200_000)


# --------------------------------------------------------------------------------- sync


def test_sync_list_dry_run_upsert_and_replace(sb, cs):
    base = pd.DataFrame(
        {
            "phone_number": ["+61412000001", "+61412000002", "+61412000003"],
            "first_name": ["Ann", "Bob", "Cy"],
        }
    )
    res = cs.import_contacts(base, list_name="Sync")
    lid = res.attrs["list_id"]
    ids = dict(zip(base["phone_number"], res["contact_id"].astype(int), strict=True))
    new = pd.DataFrame(
        {
            "phone_number": ["+61412000001", "+61412000002", "+61412000004", "bad"],
            "first_name": ["Anne", "Bob", "Dee", "X"],
        }
    )
    sb.reset_stats()
    plan = cs.sync_list(new, lid, mode="replace", dry_run=True)
    assert set(sb.stats()["by_path"]) == {f"/v3/lists/{lid}/contacts", "/v3/account"}  # reads
    got = plan.set_index("action")
    assert got.loc["update", "contact_id"] == ids["+61412000001"]
    assert got.loc["update", "changed_columns"] == "first_name"
    assert got.loc["unchanged", "contact_id"] == ids["+61412000002"]
    assert got.loc["remove", "contact_id"] == ids["+61412000003"]
    assert got.loc["rejected", "row"] == 3
    assert set(plan["outcome"].astype(str)) == {"planned", "skipped"}

    up = cs.sync_list(new, lid, mode="upsert")
    assert "remove" not in set(up["action"].astype(str))
    lst = read_list(cs.session, lid).set_index("phone_number")
    assert lst.loc["+61412000001", "first_name"] == "Anne"
    assert "+61412000004" in lst.index and "+61412000003" in lst.index

    rep = cs.sync_list(new, lid, mode="replace")
    done = rep[rep["action"] == "remove"]
    assert done["outcome"].astype(str).tolist() == ["done"]
    lst = read_list(cs.session, lid)
    assert sorted(lst["phone_number"]) == ["+61412000001", "+61412000002", "+61412000004"]
    again = cs.sync_list(new, lid, mode="replace", dry_run=True)
    assert set(again["action"].astype(str)) == {"unchanged", "rejected"}
