"""Sandbox contacts area over real loopback HTTP: lists, contacts, bulk operations, search,
the seeded dirty lists and their ground truth (``/_sandbox/truth/contacts``).

Read-only tests share one sandbox; tests that write call ``sb.reset()`` when done (reset
restores the seeded lists and contacts).
"""

from __future__ import annotations

import functools
import json
import re
from collections import defaultdict
from typing import Any

import pytest
import requests
from sandbox_openapi import ENDPOINTS, errors

from csframe.sandbox import models_contacts as mc
from csframe.sandbox import running
from csframe.sandbox.models import Store
from csframe.sandbox.pricing import NumberError, normalise_number
from csframe.sandbox.seed import seed

NOW = "2026-11-01T00:00:00Z"
CAMPAIGN_LISTS = (428, 431, 502, 517, 560, 611, 633, 640)
OPT_OUTS = 623
# Every kind of dirt the seed plants (small scale has them all).
DIRT_KINDS = {
    "fmt:e164", "fmt:intl_spaced", "fmt:national_spaced", "fmt:national", "fmt:dashes",
    "fmt:brackets", "fmt:dots", "fmt:intl_00", "fmt:no_plus", "fmt:no_trunk",
    "phone_invalid", "phone_extension", "phone_two_numbers", "no_phone", "fax_only",
    "email_case", "email_whitespace", "email_invalid", "email_gmail_variant",
    "name_case", "name_whitespace", "name_typo", "name_missing", "name_missing_first",
    "name_missing_last", "name_placeholder", "country_format", "shared_landline",
    "cross_list", "dup_phone", "dup_phone_name", "dup_email", "dup_name_postcode",
}  # fmt: skip


@pytest.fixture(scope="module")
def sb():
    with running(scale="small", seed=42, now=NOW) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def http(sb):
    with requests.Session() as s:
        s.auth = (sb.credentials["username"], sb.credentials["api_key"])
        yield s


@pytest.fixture(scope="module")
def truth(sb) -> dict[str, Any]:
    r = requests.get(
        sb.root_url + "/_sandbox/truth/contacts",
        params={"rows": 1},
        headers=sb.admin_headers,
        timeout=60,
    )
    assert r.status_code == 200
    return r.json()


@pytest.fixture(scope="module")
def lists_truth(truth) -> dict[int, dict[str, Any]]:
    return {x["list_id"]: x for x in truth["lists"]}


@pytest.fixture
def fresh(sb):
    """For tests that write: the seeded state is restored afterwards."""
    yield sb
    sb.reset()


def ok(r: requests.Response) -> Any:
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    assert list(body) == ["http_code", "response_code", "response_msg", "data"]
    return body["data"]


def err(r: requests.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text[:300]
    body = r.json()
    assert (body["http_code"], body["response_code"], body["data"]) == (status, code, None)


@functools.cache
def examples() -> dict[tuple[str, str], Any]:
    if not ENDPOINTS.is_file():
        return {}
    eps = json.loads(ENDPOINTS.read_text())
    return {(e["method"], e["path"].rstrip("/")): e.get("example_response") for e in eps}


def check_types(method: str, path: str, body: Any) -> None:
    """OpenAPI types (nulls allowed where the reference's own example shows null)."""
    example = examples().get((method, path.rstrip("/")))
    problems = errors(method, path, body, example)
    assert not problems, problems[:5]


def all_contacts(sb, http, list_id: int, **params: Any) -> list[dict[str, Any]]:
    rows, page = [], 1
    while True:
        data = ok(
            http.get(
                f"{sb.base_url}/lists/{list_id}/contacts",
                params={"page": page, "limit": 100, **params},
            )
        )
        rows += data["data"]
        if data["next_page_url"] is None:
            return rows
        page += 1


def e164(raw: str) -> str | None:
    try:
        return normalise_number(raw, "AU")[0]
    except NumberError:
        return None


def key(field: str, value: Any) -> str:
    """The API's match key, written independently of the sandbox's code."""
    text = (value or "").strip()
    if field in ("phone_number", "fax_number") and text:
        return e164(text) or text.casefold()
    return text.casefold()


# ---------------------------------------------------------------- lists


def test_lists_page(sb, http, lists_truth):
    r = http.get(sb.base_url + "/lists")
    data = ok(r)
    check_types("GET", "/lists", r.json())
    assert data["total"] == 10 and data["last_page"] == 1 and data["prev_page_url"] is None
    assert data["first_page_url"].endswith("/v3/lists?page=1")
    assert [lk["label"] for lk in data["links"]] == ["&laquo; Previous", "1", "Next &raquo;"]
    by_id = {x["list_id"]: x for x in data["data"]}
    assert [x["list_id"] for x in data["data"]] == sorted(by_id)
    assert by_id[428]["list_name"] == "Customers AU" and by_id[OPT_OUTS]["list_name"] == "Opt-outs"
    assert by_id[645]["_contacts_count"] == 0  # the empty staging list
    for list_id, rec in by_id.items():
        assert set(rec) == {
            "list_id", "list_name", "list_email_id", "_contacts_count",
            "_import_in_progress", "_optout_in_progress",
        }  # fmt: skip
        assert re.fullmatch(r"[A-Z0-9]{16}", rec["list_email_id"])
        assert rec["_contacts_count"] == lists_truth[list_id]["contacts"]
    # Paging with a small limit: 15 is the minimum, so one page; page 2 is empty.
    data = ok(http.get(sb.base_url + "/lists", params={"page": 2}))
    assert data["data"] == [] and data["from"] is None and data["current_page"] == 2


def test_list_crud(fresh, http):
    sb = fresh
    r = http.post(sb.base_url + "/lists", json={"list_name": "  Spring 2027 "})
    rec = ok(r)
    check_types("POST", "/lists", r.json())
    assert r.json()["response_msg"] == "New list has been created."
    assert rec["list_name"] == "Spring 2027" and rec["_contacts_count"] == 0
    list_id = rec["list_id"]
    assert list_id == 646  # the next id after the seeded lists
    assert ok(http.get(f"{sb.base_url}/lists/{list_id}")) == rec
    r = http.put(f"{sb.base_url}/lists/{list_id}", json={"list_name": "Spring 2027 (final)"})
    assert ok(r)["list_name"] == "Spring 2027 (final)"
    assert r.json()["response_msg"] == f"List #{list_id} has been updated."
    check_types("PUT", "/lists/{list_id}", r.json())
    ok(http.post(f"{sb.base_url}/lists/{list_id}/contacts", json={"email": "a@b.example"}))
    r = http.delete(f"{sb.base_url}/lists/{list_id}")
    assert ok(r) == [] and r.json()["response_msg"] == f"List #{list_id} has been deleted."
    err(http.get(f"{sb.base_url}/lists/{list_id}"), 404, "NOT_FOUND")
    err(http.get(f"{sb.base_url}/lists/{list_id}/contacts"), 404, "NOT_FOUND")
    err(http.post(sb.base_url + "/lists", json={"list_name": " "}), 400, "MISSING_REQUIRED_FIELDS")
    err(http.post(sb.base_url + "/lists", json=["x"]), 400, "BAD_REQUEST")
    err(http.get(sb.base_url + "/lists/abc"), 404, "NOT_FOUND")


def test_other_accounts_lists_are_forbidden(sb):
    other = tuple(sb.accounts["nocredit"].values())
    r = requests.get(sb.base_url + "/lists/428", auth=other, timeout=30)
    err(r, 403, "NOT_ENOUGH_PERMISSION_TO_LIST_ID")
    data = ok(requests.get(sb.base_url + "/lists", auth=other, timeout=30))
    assert data["total"] == 0 and data["data"] == []
    # Subaccount logins share the account's lists.
    marketing = tuple(sb.accounts["marketing"].values())
    assert ok(requests.get(sb.base_url + "/lists", auth=marketing, timeout=30))["total"] == 10
    err(requests.get(sb.base_url + "/lists", timeout=30), 401, "MISSING_CREDENTIALS")


# ---------------------------------------------------------------- contacts


def test_contact_crud_round_trip(fresh, http):
    sb = fresh
    body = {
        "phone_number": "0411 222 333",
        "first_name": " Ann ",
        "last_name": "Lee",
        "email": "  Ann.Lee@Example.com ",
        "custom_1": 42,
        "fax_number": "(03) 9123 4567",
        "address_country": "",
        "unknown_field": "ignored",
    }
    r = http.post(f"{sb.base_url}/lists/517/contacts", json=body)
    rec = ok(r)
    check_types("POST", "/lists/{list_id}/contacts", r.json())
    assert r.json()["response_msg"] == "New contact has been created."
    assert list(rec) == [*mc.CONTACT_COLUMNS, "_list_name"]
    assert rec["phone_number"] == "+61411222333" and rec["fax_number"] == "+61391234567"
    assert (rec["first_name"], rec["last_name"], rec["email"]) == (
        "Ann",
        "Lee",
        "Ann.Lee@Example.com",
    )
    assert rec["custom_1"] == "42" and rec["custom_2"] == "" and rec["address_country"] is None
    assert rec["_list_name"] == "Event signups 2026" and rec["list_id"] == 517
    assert rec["date_added"] == rec["date_updated"] >= 1793491200
    cid = rec["contact_id"]
    got = http.get(f"{sb.base_url}/lists/517/contacts/{cid}")
    assert ok(got) == rec
    check_types("GET", "/lists/{list_id}/contacts/{contact_id}", got.json())
    # PUT changes only the fields given; a number that cannot be read is kept as written.
    r = http.put(
        f"{sb.base_url}/lists/517/contacts/{cid}",
        json={"phone_number": "ask reception", "last_name": "Li"},
    )
    upd = ok(r)
    check_types("PUT", "/lists/{list_id}/contacts/{contact_id}", r.json())
    assert r.json()["response_msg"] == f"Contact #{cid} has been updated."
    assert (upd["phone_number"], upd["last_name"], upd["email"]) == (
        "ask reception",
        "Li",
        "Ann.Lee@Example.com",
    )
    assert upd["date_added"] == rec["date_added"] and upd["date_updated"] >= rec["date_updated"]
    # Every channel blank: refused, nothing changed.
    r = http.put(
        f"{sb.base_url}/lists/517/contacts/{cid}",
        json={"phone_number": "", "email": None, "fax_number": " "},
    )
    err(r, 400, "MISSING_REQUIRED_FIELDS")
    assert ok(http.get(f"{sb.base_url}/lists/517/contacts/{cid}"))["email"] == "Ann.Lee@Example.com"
    err(http.get(f"{sb.base_url}/lists/428/contacts/{cid}"), 404, "NOT_FOUND")  # other list
    r = http.delete(f"{sb.base_url}/lists/517/contacts/{cid}")
    assert ok(r) == [] and r.json()["response_msg"] == f"Contact #{cid} has been deleted."
    err(http.get(f"{sb.base_url}/lists/517/contacts/{cid}"), 404, "NOT_FOUND")
    err(http.delete(f"{sb.base_url}/lists/517/contacts/{cid}"), 404, "NOT_FOUND")
    # No channel at all: refused.
    r = http.post(
        f"{sb.base_url}/lists/517/contacts", json={"first_name": "Nobody", "phone_number": "  "}
    )
    err(r, 400, "MISSING_REQUIRED_FIELDS")
    err(
        http.post(f"{sb.base_url}/lists/999999/contacts", json={"email": "x@y.z"}), 404, "NOT_FOUND"
    )


@pytest.mark.parametrize(
    "raw,stored",
    [
        ("0412 345 678", "+61412345678"),
        ("+61 (0)412 345 678", "+61 (0)412 345 678"),  # not a number the API can read
        ("0061 412-345-678", "+61412345678"),
        ("412345678", "+61412345678"),
        ("61412345678", "+61412345678"),
        ("+64 21 123 4567", "+64211234567"),
        ("021 123 4567", "+61211234567"),  # national numbers are read as AU, the default
        ("n/a", "n/a"),
        ("12", "12"),
    ],
)
def test_phone_numbers_are_normalised_with_the_default_country(fresh, http, raw, stored):
    rec = ok(http.post(f"{fresh.base_url}/lists/645/contacts", json={"phone_number": raw}))
    assert rec["phone_number"] == stored


def test_contacts_paging_matches_truth(sb, http, lists_truth):
    rows = all_contacts(sb, http, 428)
    ids = [r["contact_id"] for r in rows]
    assert ids == sorted(ids) == lists_truth[428]["contact_ids"]
    assert {r["_list_name"] for r in rows} == {"Customers AU"}
    big = biggest(lists_truth)
    r = http.get(f"{sb.base_url}/lists/{big}/contacts", params={"page": 2, "limit": 100})
    check_types("GET", "/lists/{list_id}/contacts", r.json())
    data = ok(r)
    assert (data["from"], data["to"], data["per_page"]) == (101, 100 + len(data["data"]), 100)
    assert data["total"] == lists_truth[big]["contacts"] > 200


def test_updated_after(sb, http):
    rows = all_contacts(sb, http, 428)
    stamps = sorted({r["date_updated"] for r in rows})
    cut = stamps[len(stamps) // 2]
    want = [r["contact_id"] for r in rows if r["date_updated"] > cut]  # strictly after
    got = [r["contact_id"] for r in all_contacts(sb, http, 428, updated_after=cut)]
    assert got == want and 0 < len(got) < len(rows)
    assert all_contacts(sb, http, 428, updated_after=2_000_000_000) == []
    assert (
        http.get(f"{sb.base_url}/lists/428/contacts", params={"updated_after": "x"}).status_code
        == 400
    )


def test_updated_after_sees_writes(fresh, http):
    sb = fresh
    rows = all_contacts(sb, http, 611)
    newest = max(r["date_updated"] for r in rows)
    target = rows[0]["contact_id"]
    ok(http.put(f"{sb.base_url}/lists/611/contacts/{target}", json={"custom_4": "touched"}))
    got = all_contacts(sb, http, 611, updated_after=newest)
    assert [r["contact_id"] for r in got] == [target] and got[0]["custom_4"] == "touched"


def test_copy_and_transfer(fresh, http):
    sb = fresh
    src = all_contacts(sb, http, 560)[0]
    before_428 = ok(http.get(f"{sb.base_url}/lists/428"))["_contacts_count"]
    r = http.put(f"{sb.base_url}/lists/560/contacts/{src['contact_id']}/copy/428")
    copy = ok(r)
    check_types("PUT", "/lists/{from_list_id}/contacts/{contact_id}/copy/{to_list_id}", r.json())
    assert r.json()["response_msg"] == f"Contact #{src['contact_id']} has been copied to List #428"
    assert copy["contact_id"] != src["contact_id"] and copy["list_id"] == 428
    assert copy["_list_name"] == "Customers AU"
    fields = [c for c in mc.WRITABLE]
    assert [copy[c] for c in fields] == [src[c] for c in fields]
    assert ok(http.get(f"{sb.base_url}/lists/560/contacts/{src['contact_id']}")) == src  # untouched
    assert ok(http.get(f"{sb.base_url}/lists/428"))["_contacts_count"] == before_428 + 1

    r = http.put(f"{sb.base_url}/lists/560/contacts/{src['contact_id']}/transfer/611")
    moved = ok(r)
    check_types(
        "PUT", "/lists/{from_list_id}/contacts/{contact_id}/transfer/{to_list_id}", r.json()
    )
    assert (
        r.json()["response_msg"]
        == f"Contact #{src['contact_id']} has been transferred to List #611"
    )
    assert moved["contact_id"] == src["contact_id"] and moved["list_id"] == 611
    assert moved["_list_name"] == "Spring sale leads" and moved["date_added"] == src["date_added"]
    assert [moved[c] for c in fields] == [src[c] for c in fields]
    err(http.get(f"{sb.base_url}/lists/560/contacts/{src['contact_id']}"), 404, "NOT_FOUND")
    assert ok(http.get(f"{sb.base_url}/lists/611/contacts/{src['contact_id']}")) == moved
    err(
        http.put(f"{sb.base_url}/lists/611/contacts/{src['contact_id']}/transfer/611"),
        400,
        "BAD_REQUEST",
    )
    err(
        http.put(f"{sb.base_url}/lists/611/contacts/{src['contact_id']}/copy/99999"),
        404,
        "NOT_FOUND",
    )


# ---------------------------------------------------------------- bulk operations


def biggest(lists_truth: dict[int, dict[str, Any]]) -> int:
    return max(CAMPAIGN_LISTS, key=lambda x: lists_truth[x]["contacts"])


def expected_survivors(rows: list[dict[str, Any]], fields: list[str]) -> list[int]:
    seen, keep = set(), []
    for r in sorted(rows, key=lambda r: r["contact_id"]):
        k = tuple(key(f, r[f]) for f in fields)
        if any(k) and k in seen:
            continue
        seen.add(k)
        keep.append(r["contact_id"])
    return keep


def test_remove_duplicates_on_a_new_list(fresh, http):
    sb = fresh
    list_id = ok(http.post(sb.base_url + "/lists", json={"list_name": "dups"}))["list_id"]
    people = [
        {"phone_number": "0411 111 111", "email": "ann@example.com", "first_name": "Ann"},
        {"phone_number": "+61 411 111 111", "first_name": "Ann"},  # same number
        {"phone_number": "0061411111111", "email": " ANN@example.com "},  # same number and email
        {"email": "ann@example.com", "first_name": "Ann"},  # same email, no phone
        {"phone_number": "0422 222 222", "first_name": "Bob"},
        {"fax_number": "03 9000 0000"},  # no phone, no email: never a duplicate of "" keys
        {"fax_number": "+61390000000"},
    ]
    ids = [
        ok(http.post(f"{sb.base_url}/lists/{list_id}/contacts", json=p))["contact_id"]
        for p in people
    ]
    r = http.put(
        f"{sb.base_url}/lists/{list_id}/remove-duplicates", json={"fields": ["phone_number"]}
    )
    assert ok(r) == {"deleted": 2}
    assert r.json()["response_msg"] == "Your list duplicate contacts has been deleted."
    check_types("PUT", "/lists/{list_id}/remove-duplicates/", r.json())
    left = [c["contact_id"] for c in all_contacts(sb, http, list_id)]
    assert left == [ids[0], ids[3], ids[4], ids[5], ids[6]]
    # The object form of the OpenAPI/SDKs; email compares case-insensitively, trimmed.
    r = http.put(
        f"{sb.base_url}/lists/{list_id}/remove-duplicates/", json={"fields": {"email": "email"}}
    )
    assert ok(r) == {"deleted": 1}
    r = http.put(
        f"{sb.base_url}/lists/{list_id}/remove-duplicates", json={"fields": ["fax_number"]}
    )
    assert ok(r) == {"deleted": 1}
    assert [c["contact_id"] for c in all_contacts(sb, http, list_id)] == [ids[0], ids[4], ids[5]]
    err(
        http.put(
            f"{sb.base_url}/lists/{list_id}/remove-duplicates", json={"fields": ["shoe_size"]}
        ),
        400,
        "BAD_REQUEST",
    )
    err(
        http.put(f"{sb.base_url}/lists/{list_id}/remove-duplicates", data=b"{nope"),
        400,
        "BAD_REQUEST",
    )


@pytest.mark.parametrize("fields", [["phone_number"], ["email"], ["first_name", "last_name"]])
def test_remove_duplicates_on_the_seeded_list(fresh, http, lists_truth, fields):
    sb = fresh
    big = biggest(lists_truth)
    rows = all_contacts(sb, http, big)
    want = expected_survivors(rows, fields)
    body = None if fields == ["phone_number"] else {"fields": fields}  # no body: phone_number
    deleted = ok(http.put(f"{sb.base_url}/lists/{big}/remove-duplicates", json=body))["deleted"]
    left = [c["contact_id"] for c in all_contacts(sb, http, big)]
    assert left == want and deleted == len(rows) - len(want) > 0
    if fields == ["phone_number"]:
        # Planted phone groups collapse to their first row; households lose a member
        # (the API cannot tell two people on one landline apart).
        truth = lists_truth[big]
        assert truth["duplicate_groups"]
        for g in truth["duplicate_groups"]:
            if g["rule"] in ("phone", "phone+name"):
                assert len(set(g["contact_ids"]) & set(left)) == 1
        for h in truth["not_duplicates"]:
            assert len(set(h["contact_ids"]) & set(left)) == 1


def test_remove_opted_out(fresh, http, lists_truth, truth):
    sb = fresh
    target = max(
        CAMPAIGN_LISTS, key=lambda x: len(lists_truth[x]["opted_out"].get(str(OPT_OUTS), []))
    )
    want = lists_truth[target]["opted_out"][str(OPT_OUTS)]
    assert want
    before = [c["contact_id"] for c in all_contacts(sb, http, target)]
    r = http.put(f"{sb.base_url}/lists/{target}/remove-opted-out-contacts/{OPT_OUTS}")
    assert ok(r) == {"deleted": len(want)}
    assert r.json()["response_msg"] == "Optout contacts has been deleted."
    check_types("PUT", "/lists/{list_id}/remove-opted-out-contacts/{opt_out_list_id}", r.json())
    after = [c["contact_id"] for c in all_contacts(sb, http, target)]
    assert after == [c for c in before if c not in set(want)]
    # Everyone removed is a person on the opt-out list (per the truth's person ids).
    person = {row["contact_id"]: row["person_id"] for lt in truth["lists"] for row in lt["rows"]}
    opted = {person[c] for c in lists_truth[OPT_OUTS]["contact_ids"]}
    assert {person[c] for c in want} <= opted
    again = http.put(f"{sb.base_url}/lists/{target}/remove-opted-out-contacts/{OPT_OUTS}")
    assert ok(again) == {"deleted": 0}
    err(http.put(f"{sb.base_url}/lists/428/remove-opted-out-contacts/428"), 400, "BAD_REQUEST")
    err(http.put(f"{sb.base_url}/lists/428/remove-opted-out-contacts/99999"), 404, "NOT_FOUND")


def test_search(sb, http):
    r = http.get(sb.base_url + "/search/contacts-lists", params={"q": "letter"})
    data = ok(r)
    assert r.json()["response_msg"] == "Here are some search result."
    lists = [x for x in data["data"] if x["type"] == "list"]
    assert lists == [
        {"id": 431, "name": "Newsletter", "contact": lists[0]["contact"], "type": "list", "contacts_count": lists[0]["contacts_count"]}
    ]  # fmt: skip
    assert lists[0]["contacts_count"] == ok(http.get(sb.base_url + "/lists/431"))["_contacts_count"]
    row = all_contacts(sb, http, 611)[0]
    digits = row["phone_number"][-6:] if row["phone_number"] else row["email"][:6]
    data = ok(http.get(sb.base_url + "/search/contacts-lists", params={"q": digits, "limit": 100}))
    hit = [x for x in data["data"] if x["id"] == row["contact_id"]]
    assert hit and hit[0]["type"] == "contact" and hit[0]["contacts_count"] is None
    assert set(hit[0]) == {"id", "name", "contact", "type", "contacts_count"}
    # Contacts come first, then lists; paging spans both.
    data = ok(http.get(sb.base_url + "/search/contacts-lists", params={"q": "s", "limit": 100}))
    types = [x["type"] for x in data["data"]]
    assert types == sorted(types) and data["total"] > 100
    last = ok(
        http.get(
            sb.base_url + "/search/contacts-lists",
            params={"q": "s", "limit": 100, "page": data["last_page"]},
        )
    )
    assert last["data"][-1]["type"] == "list"
    err(http.get(sb.base_url + "/search/contacts-lists"), 400, "MISSING_REQUIRED_FIELDS")
    assert (
        ok(http.get(sb.base_url + "/search/contacts-lists", params={"q": "100%_x"}))["total"] == 0
    )


# ---------------------------------------------------------------- the seeded lists and truth


def test_truth_matches_the_lists(sb, http, lists_truth, truth):
    for list_id in (*CAMPAIGN_LISTS, OPT_OUTS):
        rows = all_contacts(sb, http, list_id)
        assert [r["contact_id"] for r in rows] == lists_truth[list_id]["contact_ids"]
    total = sum(x["contacts"] for x in truth["lists"])
    assert 1000 <= total <= 3000  # small: n_sms / 5, lists holding their latest campaign
    for c in truth["cross_list"]:
        assert len({lid for lid, _ in c["contacts"]}) > 1


def test_seeded_dirt_is_what_the_truth_says(sb, http, lists_truth):
    rows = {}
    for list_id in (*CAMPAIGN_LISTS, OPT_OUTS):
        rows.update({r["contact_id"]: r for r in all_contacts(sb, http, list_id)})
    seen_kinds: set[str] = set()
    for lt in lists_truth.values():
        for t in lt.get("rows", []):
            row = rows[t["contact_id"]]
            phone, email = row["phone_number"], row["email"]
            assert phone or email or row["fax_number"]  # the API never holds a contact without
            for kind in t["dirt"]:
                seen_kinds.add(
                    kind.split(":phone")[0] if kind.startswith("phone_invalid") else kind
                )
                if kind.startswith("fmt:"):
                    assert e164(phone) == t["phone_e164"] or kind == "fmt:no_plus"
                if kind == "fmt:e164":
                    assert phone == t["phone_e164"]
                if kind == "fmt:national":
                    assert re.fullmatch(r"0\d{9}", phone)
                if kind in ("fmt:national_spaced", "fmt:dashes", "fmt:dots", "fmt:brackets"):
                    assert phone.startswith(("0", "(0")) and re.search(r"[ .\-()]", phone)
                if kind == "fmt:intl_00":
                    assert phone.startswith("00")
                if kind.startswith("phone_invalid"):
                    assert e164(phone) is None
                    seen_kinds.add("phone_invalid")
                if kind == "email_whitespace":
                    assert email != email.strip()
                if kind == "email_case":
                    assert email != email.lower()
                if kind == "email_invalid":
                    assert email.count("@") != 1 or " " in email or "." not in email.split("@")[-1]
                if kind == "name_placeholder":
                    assert row["first_name"] in (
                        "n/a",
                        "N/A",
                        "test",
                        "Test",
                        "-",
                        "x",
                        "Customer",
                        "unknown",
                        "TBC",
                        ".",
                    )
                if kind == "name_missing":
                    assert row["first_name"] == row["last_name"] == ""
                if kind == "no_phone":
                    assert phone == ""
                if kind == "fax_only":
                    assert not phone and not email and row["fax_number"]
                if kind == "shared_landline":
                    assert e164(phone) == t["phone_e164"]
    assert seen_kinds >= DIRT_KINDS, DIRT_KINDS - seen_kinds


def test_planted_duplicate_groups_are_linked_by_their_rule(sb, http, lists_truth):
    rules_seen = set()
    for list_id in CAMPAIGN_LISTS:
        rows = {r["contact_id"]: r for r in all_contacts(sb, http, list_id)}
        lt = lists_truth[list_id]
        person = {t["contact_id"]: t["person_id"] for t in lt["rows"]}
        planted = 0
        for g in lt["duplicate_groups"]:
            members = [rows[c] for c in g["contact_ids"]]
            assert len(members) >= 2 and {person[c] for c in g["contact_ids"]} == {g["person_id"]}
            first, rest = members[0], members[1:]
            rules_seen.add(g["rule"])
            for m in rest:
                if g["rule"] in ("phone", "phone+name"):
                    assert e164(m["phone_number"]) == e164(first["phone_number"]) is not None
                    assert m["phone_number"] != first["phone_number"]  # another format
                if g["rule"] == "phone+name":
                    assert (m["first_name"].casefold(), m["last_name"].casefold()) == (
                        first["first_name"].casefold(), first["last_name"].casefold())  # fmt: skip
                if g["rule"] == "email":
                    assert m["phone_number"] == "" and email_key(m["email"]) == email_key(
                        first["email"]
                    )
                if g["rule"] == "name+postcode":
                    assert m["phone_number"] == "" and first["email"] is None and m["email"]
                    assert m["address_postal_code"] == first["address_postal_code"] is not None
                    assert m["last_name"].casefold() == first["last_name"].casefold()
            planted += len(members) - 1
        assert planted == lt["duplicate_rows"]
        # Households: one landline, different people.
        for h in lt["not_duplicates"]:
            a, b = (rows[c] for c in h["contact_ids"])
            assert e164(a["phone_number"]) == e164(b["phone_number"])
            assert person[a["contact_id"]] != person[b["contact_id"]]
    assert rules_seen == {"phone", "phone+name", "email", "name+postcode"}


def email_key(email: str) -> str:
    local, _, domain = email.strip().lower().partition("@")
    local = local.split("+", 1)[0]
    if domain == "gmail.com":
        local = local.replace(".", "")
    return f"{local}@{domain}"


def test_people_are_never_accidentally_duplicated(lists_truth):
    """Distinct people never share a number (households aside) or an email key."""
    for lt in lists_truth.values():
        phones = defaultdict(set)
        for t in lt.get("rows", []):
            if t["phone_e164"] and "shared_landline" not in t["dirt"]:
                phones[t["phone_e164"]].add(t["person_id"])
        assert all(len(p) == 1 for p in phones.values())


def test_campaign_history_points_into_the_lists(sb, http, lists_truth):
    """History's campaign rows name (list_id, contact_id) pairs of the seeded lists; the
    latest campaign of each list reached contacts that are all still in it."""
    rows, page = [], 1
    while True:
        data = ok(http.get(sb.base_url + "/sms/history", params={"page": page, "limit": 100}))
        rows += [r for r in data["data"] if r["list_id"]]
        if data["next_page_url"] is None:
            break
        page += 1
    assert rows
    contacts = {}
    for list_id in CAMPAIGN_LISTS:
        for c in all_contacts(sb, http, list_id):
            contacts[(list_id, c["contact_id"])] = c
    newest: dict[str, int] = defaultdict(int)
    for r in rows:
        newest[r["list_id"]] = max(newest[r["list_id"]], r["date"])
    latest = [r for r in rows if r["date"] >= newest[r["list_id"]] - 1300]
    for r in latest:
        c = contacts[(int(r["list_id"]), int(r["contact_id"]))]
        assert (c["first_name"], c["last_name"]) == (r["first_name"], r["last_name"])
        assert e164(c["phone_number"]) == r["to"]
    found = sum((int(r["list_id"]), int(r["contact_id"])) in contacts for r in rows)
    assert found >= len(latest)


def test_reset_restores_the_seeded_lists(fresh, http, lists_truth):
    sb = fresh
    ok(http.delete(f"{sb.base_url}/lists/428"))
    ok(http.post(f"{sb.base_url}/lists/431/contacts", json={"email": "new@example.com"}))
    sb.reset()
    assert [c["contact_id"] for c in all_contacts(sb, http, 428)] == lists_truth[428]["contact_ids"]
    assert [c["contact_id"] for c in all_contacts(sb, http, 431)] == lists_truth[431]["contact_ids"]
    assert ok(http.post(sb.base_url + "/lists", json={"list_name": "again"}))["list_id"] == 646


# ---------------------------------------------------------------- in-process


def test_seed_is_deterministic_and_list_recipients():
    def dump(seed_value: int) -> tuple[list[tuple[Any, ...]], Store]:
        store = Store()
        seed(store, seed=seed_value, scale="tiny", now=NOW)
        return store.db.execute("SELECT * FROM contacts ORDER BY contact_id").fetchall(), store

    a, store = dump(5)
    b, other = dump(5)
    c, third = dump(6)
    try:
        assert a == b and a != c and len(a) >= 60
        rec = mc.list_recipients(store, 428, user_id=48213)
        assert [r["contact_id"] for r in rec] == [r[0] for r in a if r[1] == 428]
        for r in rec:
            assert r["phone"] is None or re.fullmatch(r"\+\d{8,15}", r["phone"])
            assert r["phone"] == e164(r["phone_number"]) and r["list_name"] == "Customers AU"
            assert (r["country"] is None) == (r["phone"] is None)
        with pytest.raises(mc.Forbidden):
            mc.list_recipients(store, 428, user_id=90001)
        with pytest.raises(mc.NotFound):
            mc.list_recipients(store, 1)
    finally:
        for s in (store, other, third):
            s.close()


@pytest.mark.parametrize("module", ["models_contacts", "seed_contacts", "models_imports"])
def test_docstring_examples(module):
    import doctest
    import importlib

    mod = importlib.import_module(f"csframe.sandbox.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
