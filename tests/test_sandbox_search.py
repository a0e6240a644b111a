"""``q`` and ``order_by`` on every collection the reference promises them: a filter that
matches nothing returns nothing, sorting is honoured, an unknown field is a 400 naming it."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from csframe.sandbox import running

NOW = "2026-11-01T00:00:00Z"


@pytest.fixture(scope="module")
def sb():
    with running(scale="small", seed=42, now=NOW) as sandbox:
        yield sandbox


def call(sb, path: str, **params: Any) -> requests.Response:
    return requests.get(sb.base_url + path, params=params, auth=tuple(sb.credentials.values()))


def data(sb, path: str, **params: Any) -> dict[str, Any]:
    r = call(sb, path, **params)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def first_email_campaign(sb) -> int:
    return data(sb, "/email-campaigns", limit=100)["data"][0]["email_campaign_id"]


def first_list(sb) -> int:
    return next(x["list_id"] for x in data(sb, "/lists", limit=100)["data"] if x["_contacts_count"])


# (path factory, a field, a field to sort by)
COLLECTIONS = {
    "lists": (lambda sb: "/lists", "list_name", "list_name"),
    "contacts": (lambda sb: f"/lists/{first_list(sb)}/contacts", "first_name", "last_name"),
    "sms receipts": (lambda sb: "/sms/receipts", "status_code", "message_id"),
    "voice receipts": (lambda sb: "/voice/receipts", "status_code", "message_id"),
    "fax receipts": (lambda sb: "/fax/receipts", "status_code", "message_id"),
    "transactions": (lambda sb: "/recharge/transactions", "currency", "amount"),
    "number offers": (lambda sb: "/numbers/search/AU", "dedicated_number", "dedicated_number"),
    "email history": (
        lambda sb: f"/email-campaigns/{first_email_campaign(sb)}/history",
        "status",
        "to_address",
    ),
    "sms history": (lambda sb: "/sms/history", "status_code", "to"),
    "fax history": (lambda sb: "/fax/history", "status_code", "to"),
}


@pytest.mark.parametrize("name", list(COLLECTIONS))
def test_a_filter_that_matches_nothing_returns_nothing(sb, name):
    make, field, _ = COLLECTIONS[name]
    path = make(sb)
    everything = data(sb, path)
    assert everything["total"] > 0, f"{name}: the seed should give rows to filter"
    none = data(sb, path, q=f"{field}:no-such-value-xyz")
    assert none["total"] == 0 and none["data"] == []


@pytest.mark.parametrize("name", list(COLLECTIONS))
def test_a_filter_keeps_exactly_the_matching_rows(sb, name):
    make, field, _ = COLLECTIONS[name]
    path = make(sb)
    rows = data(sb, path, limit=100)["data"]
    value = next(str(r[field]) for r in rows if r.get(field) not in (None, ""))
    got = data(sb, path, q=f"{field}:{value.upper()}", limit=100)  # case-insensitive
    assert got["total"] >= 1
    assert all(str(r[field]).lower() == value.lower() for r in got["data"])


@pytest.mark.parametrize("name", list(COLLECTIONS))
def test_order_by_is_honoured(sb, name):
    make, _, key = COLLECTIONS[name]
    path = make(sb)
    for direction in ("asc", "desc"):
        rows = data(sb, path, order_by=f"{key}:{direction}", limit=100)["data"]
        values = [
            str(r[key]).lower() if not isinstance(r[key], int | float) else r[key] for r in rows
        ]
        assert values == sorted(values, reverse=direction == "desc"), (name, direction)


@pytest.mark.parametrize("name", list(COLLECTIONS))
def test_unknown_fields_are_a_400_naming_them(sb, name):
    make, _, _ = COLLECTIONS[name]
    path = make(sb)
    r = call(sb, path, q="colour:red")
    assert r.status_code == 400 and "'colour'" in r.json()["response_msg"], r.text
    r = call(sb, path, order_by="colour:asc")
    assert r.status_code == 400 and "colour" in r.json()["response_msg"], r.text
    r = call(sb, path, order_by="date:sideways")
    assert r.status_code == 400, r.text


def test_the_specs_own_example_is_served(sb):
    got = data(sb, "/sms/history", q="status:Completed,status_code:201", limit=100)
    assert got["total"] > 0 and {r["status_code"] for r in got["data"]} == {"201"}


def test_operator_or_on_lists(sb):
    names = [x["list_name"] for x in data(sb, "/lists", limit=100)["data"]][:2]
    got = data(sb, "/lists", q=f"list_name:{names[0]},list_name:{names[1]}", operator="OR")
    assert sorted(x["list_name"] for x in got["data"]) == sorted(names)
    both = data(sb, "/lists", q=f"list_name:{names[0]},list_name:{names[1]}")
    assert both["total"] == 0


@pytest.mark.parametrize("path", ["/lists", "/recharge/transactions", "/sms/receipts"])
def test_search_match_modes_apply_to_these_collections_too(sb, path):
    field = {"/lists": "list_name", "/recharge/transactions": "invoice_number"}.get(
        path, "status_text"
    )
    rows = data(sb, path, limit=100)["data"]
    value = str(rows[0][field])
    part = value[1:-1] if len(value) > 2 else value
    try:
        sb.set_faults(search_match="substring")
        assert data(sb, path, q=f"{field}:{part}")["total"] >= 1
        sb.set_faults(search_match="unsupported")
        assert call(sb, path, q=f"{field}:{value}").status_code == 400
    finally:
        sb.set_faults()
    if part != value:
        assert data(sb, path, q=f"{field}:{part}")["total"] == 0  # exact by default


def test_contacts_pages_are_the_same_on_the_keyset_path_and_after_writes(sb):
    list_id = first_list(sb)
    total = data(sb, f"/lists/{list_id}/contacts")["total"]
    pages = max(1, -(-total // 15))

    def both(page: int) -> tuple[list[int], list[int]]:
        fast = data(sb, f"/lists/{list_id}/contacts", page=page)["data"]  # keyset path
        slow = data(sb, f"/lists/{list_id}/contacts", page=page, order_by="contact_id:asc")
        return [c["contact_id"] for c in fast], [c["contact_id"] for c in slow["data"]]

    seen = []
    for page in range(1, pages + 1):
        fast, slow = both(page)
        assert fast == slow
        seen += fast
    assert len(seen) == len(set(seen)) == total
    # A delete between pages moves later rows up, exactly as OFFSET paging does.
    victim = seen[3]
    r = requests.delete(
        sb.base_url + f"/lists/{list_id}/contacts/{victim}", auth=tuple(sb.credentials.values())
    )
    assert r.status_code == 200, r.text
    try:
        fast, slow = both(1)
        assert fast == slow and victim not in fast
        assert data(sb, f"/lists/{list_id}/contacts")["total"] == total - 1
    finally:
        sb.reset()
