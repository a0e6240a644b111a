"""Generic collections over real loopback HTTP: paging, search/order, CRUD, the cursor
style of the newer endpoints, the extra actions, and coherence with the seeded history."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from sandbox_openapi import validate
from starlette.routing import Route

from csframe.sandbox import running
from csframe.sandbox.responses import collections
from csframe.sandbox.responses.collections import otp_for, verification_token

NOW = "2026-11-01T00:00:00Z"


@pytest.fixture(scope="module")
def sb():
    with running(scale="small", seed=42, now=NOW) as sandbox:
        yield sandbox


@pytest.fixture
def fresh(sb):
    yield sb
    sb.reset()


def call(sb, method: str, path: str, who: str = "main", **kw: Any) -> requests.Response:
    auth = tuple(sb.accounts[who].values())
    return requests.request(method, sb.base_url + path, auth=auth, timeout=30, **kw)


def ok(r: requests.Response) -> Any:
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["http_code", "response_code", "response_msg", "data"]
    return body["data"]


def history_rows(sb) -> list[dict[str, Any]]:
    rows, page = [], 1
    while True:
        data = ok(call(sb, "GET", "/sms/history", params={"page": page, "limit": 100}))
        rows += data["data"]
        if data["next_page_url"] is None:
            return rows
        page += 1


# ---------------------------------------------------------------- paging, search, order


def test_paging_of_a_collection(sb):
    first = ok(call(sb, "GET", "/email/templates"))
    assert (first["total"], first["per_page"], first["last_page"]) == (18, 15, 2)
    assert (first["from"], first["to"], first["prev_page_url"]) == (1, 15, None)
    assert first["next_page_url"].endswith("/v3/email/templates?page=2")
    second = ok(call(sb, "GET", "/email/templates", params={"page": 2}))
    assert (second["from"], second["to"], second["next_page_url"]) == (16, 18, None)
    ids = [t["template_id"] for t in first["data"] + second["data"]]
    assert ids == sorted(ids) and len(set(ids)) == 18
    assert set(first["data"][0]) == {"template_id", "template_name"}  # the list's shape
    past = ok(call(sb, "GET", "/email/templates", params={"page": 9}))
    assert past["data"] == [] and past["from"] is None and past["total"] == 18
    one = ok(call(sb, "GET", f"/email/templates/{ids[0]}"))
    assert set(one) == {"template_id", "template_id_master", "template_name", "body"}
    validate("GET", "/email/templates", call(sb, "GET", "/email/templates").json())


def test_search_and_order(sb):
    found = ok(call(sb, "GET", "/email/templates", params={"q": "template_name:WELCOME"}))
    assert found["total"] == 3 and {t["template_name"] for t in found["data"]} == {"Welcome"}
    desc = ok(call(sb, "GET", "/email/templates", params={"order_by": "template_id:desc"}))
    ids = [t["template_id"] for t in desc["data"]]
    assert ids == sorted(ids, reverse=True) and ids[0] == 298
    either = call(
        sb,
        "GET",
        "/email/templates",
        params={"q": "template_name:Welcome,template_name:Winback", "operator": "OR"},
    )
    assert ok(either)["total"] == 5
    assert call(sb, "GET", "/email/templates", params={"q": "bogus:1"}).status_code == 400
    bad_order = call(sb, "GET", "/email/templates", params={"order_by": "bogus:asc"})
    assert bad_order.status_code == 400


def test_collections_belong_to_the_account(sb):
    assert ok(call(sb, "GET", "/email/templates", who="support"))["total"] == 18
    assert ok(call(sb, "GET", "/email/templates", who="nocredit"))["total"] == 0
    assert call(sb, "GET", "/email/templates/281", who="nocredit").status_code == 404
    # Global reference data is the same for everyone.
    assert ok(call(sb, "GET", "/voice/lang", who="nocredit")) == ok(call(sb, "GET", "/voice/lang"))


# ---------------------------------------------------------------- CRUD


def test_crud_stores_and_returns_what_was_posted(fresh):
    sb = fresh
    before = ok(call(sb, "GET", "/sms/templates"))["total"]
    made = ok(call(sb, "POST", "/sms/templates", json={"template_name": "T1", "body": "Hi there"}))
    assert made == {"template_id": made["template_id"], "body": "Hi there", "template_name": "T1"}
    assert made["template_id"] == before + 1
    assert ok(call(sb, "GET", f"/sms/templates/{made['template_id']}")) == made
    listed = ok(call(sb, "GET", "/sms/templates", params={"page": 2}))
    assert listed["total"] == before + 1 and listed["data"][-1] == made
    upd = ok(call(sb, "PUT", f"/sms/templates/{made['template_id']}", json={"template_name": "T2"}))
    assert upd == {**made, "template_name": "T2"}
    assert ok(call(sb, "DELETE", f"/sms/templates/{made['template_id']}")) == []
    assert call(sb, "GET", f"/sms/templates/{made['template_id']}").status_code == 404
    assert call(sb, "DELETE", f"/sms/templates/{made['template_id']}").status_code == 404
    assert ok(call(sb, "GET", "/sms/templates"))["total"] == before


def test_create_fills_server_fields_and_validates(fresh):
    sb = fresh
    addr = {
        "address_name": "Warehouse",
        "address_line_1": "5 Depot Rd",
        "address_city": "Geelong",
        "address_postal_code": 3220,
        "address_country": "AU",
    }
    made = ok(call(sb, "POST", "/post/return-addresses", json={**addr, "user_id": 1}))
    assert made["user_id"] == 48213 and made["address_postal_code"] == "3220"  # coerced
    assert made["address_line_2"] == "" and made["address_state"] == ""
    validate("POST", "/post/return-addresses", call(sb, "GET", "/post/return-addresses").json())
    missing = call(sb, "POST", "/post/return-addresses", json={"address_name": "x"})
    assert (
        missing.status_code == 400 and missing.json()["response_code"] == "MISSING_REQUIRED_FIELDS"
    )
    wrong = call(
        sb,
        "POST",
        "/automations/sms/receipts",
        json={"rule_name": "r", "action": "URL", "action_address": "u", "match_type": "EMAIL"},
    )
    assert wrong.status_code == 400 and wrong.json()["response_code"] == "BAD_REQUEST"
    rule = ok(
        call(
            sb,
            "POST",
            "/automations/sms/receipts",
            json={"rule_name": "r", "action": "URL", "action_address": "u", "match_type": "2"},
        )
    )
    assert rule["match_type"] == 2 and rule["enabled"] == 1
    issue = ok(
        call(
            sb,
            "POST",
            "/delivery-issues",
            json={"type": "SMS", "description": "late", "email-address": "a@b.c"},
        )
    )
    assert issue["email_address"] == "a@b.c" and issue["user_id"] == 48213
    assert set(issue) == {
        "issue_id", "user_id", "message_id", "type", "description", "date_added", "email_address"
    }  # fmt: skip
    assert call(sb, "GET", "/delivery-issues/1").status_code in (404, 405)


def test_email_template_body_comes_from_its_master(fresh):
    sb = fresh
    master = ok(call(sb, "GET", "/email/master-templates-categories/4/master-templates"))[0]
    made = ok(
        call(
            sb,
            "POST",
            "/email/templates",
            json={"template_name": "Bday", "template_id_master": master["template_id_master"]},
        )
    )
    assert made["body"] == master["body"]
    bad = call(sb, "POST", "/email/templates", json={"template_name": "x", "template_id_master": 9})
    assert bad.status_code == 400


def test_reset_restores_collections(sb):
    before = ok(call(sb, "GET", "/sms/templates"))
    ok(call(sb, "DELETE", "/sms/templates/1"))
    ok(call(sb, "POST", "/sms/templates", json={"template_name": "x", "body": "y"}))
    sb.reset()
    assert ok(call(sb, "GET", "/sms/templates")) == before


# ---------------------------------------------------------------- coherence with history


def test_collections_agree_with_the_history(sb):
    rows = history_rows(sb)
    senders = {r["from"] for r in rows}
    tags = {t["alpha_tag"] for t in call(sb, "GET", "/alpha-tags").json()["alpha_tags"]}
    numbers = {n["dedicated_number"] for n in ok(call(sb, "GET", "/numbers"))["data"]}
    assert senders <= tags | numbers  # every seeded sender is the account's own
    templates = {t["body"] for t in ok(call(sb, "GET", "/sms/templates", params={"limit": 100}))["data"]}  # fmt: skip
    plain = {r["body"] for r in rows if r["list_id"] is None} & templates
    assert len(plain) >= 3  # messages without placeholders are their templates verbatim
    by_id = {r["message_id"]: r for r in rows}
    issues = ok(call(sb, "GET", "/delivery-issues"))["data"]
    assert issues and all(by_id[i["message_id"]]["status"] == "Failed" for i in issues)
    assert all(isinstance(i["issue_id"], str) for i in issues)  # as the OpenAPI types it


# ---------------------------------------------------------------- extra actions


def test_email_address_verification(fresh):
    sb = fresh
    made = ok(call(sb, "POST", "/email/addresses", json={"email_address": "new@acme.example"}))
    assert made["verified"] == 0 and isinstance(made["date_added"], str)
    eid = made["email_address_id"]
    assert ok(call(sb, "PUT", f"/email/address-verify/{eid}/send")) is None
    assert call(sb, "PUT", f"/email/address-verify/{eid}/verify/wrong").status_code == 400
    token = verification_token(42, eid)
    done = ok(call(sb, "PUT", f"/email/address-verify/{eid}/verify/{token}"))
    assert done["verified"] == 1
    assert ok(call(sb, "GET", f"/email/addresses/{eid}"))["verified"] == 1


def test_numbers_search_and_buy(fresh):
    sb = fresh
    offer = ok(call(sb, "GET", "/numbers/search/AU"))
    assert offer["total"] == 40 and offer["_currency"]["currency_name_short"] == "AUD"
    number = offer["data"][0]["dedicated_number"]
    balance = float(ok(call(sb, "GET", "/account"))["balance"])
    bought = ok(call(sb, "POST", f"/numbers/buy/{number.lstrip('+')}"))
    assert bought["dedicated_number"] == number
    after = float(ok(call(sb, "GET", "/account"))["balance"])
    assert after == pytest.approx(balance - float(bought["price_total"]))
    owned = {n["dedicated_number"] for n in ok(call(sb, "GET", "/numbers"))["data"]}
    assert number in owned
    assert ok(call(sb, "GET", "/numbers/search/AU"))["total"] == 39
    again = call(sb, "POST", f"/numbers/buy/{number}")
    assert again.status_code == 400 and again.json()["response_code"] == "ALREADY_EXISTS"
    assert call(sb, "POST", "/numbers/buy/+61499999999").status_code == 404
    assert call(sb, "GET", "/numbers/search/ZZ").status_code == 400


def test_cursor_paging_and_crud(fresh):
    sb = fresh
    r = call(sb, "GET", "/alpha-tags", params={"page_size": 2})
    assert r.status_code == 200
    first = r.json()
    assert "http_code" not in first and len(first["alpha_tags"]) == 2
    assert first["_metadata"]["pagination"]["page_size"] == 2
    second = requests.get(first["_metadata"]["pagination"]["next"], auth=tuple(sb.accounts["main"].values()), timeout=10).json()  # fmt: skip
    assert len(second["alpha_tags"]) == 1 and second["_metadata"]["pagination"]["next"] == ""
    seen = [t["alpha_tag"] for t in first["alpha_tags"] + second["alpha_tags"]]
    assert seen == ["ACME", "ACMEDeals", "ACMEAlerts"]
    made = call(sb, "POST", "/alpha-tags", json={"alpha_tag": "ACMEVIP", "reason": "Brand"})
    assert made.status_code == 200 and made.json()["status"] == "PENDING"
    tag_id = made.json()["id"]
    assert call(sb, "GET", f"/alpha-tags/{tag_id}").json()["alpha_tag"] == "ACMEVIP"
    pending = call(sb, "GET", "/alpha-tags", params={"filter[status][]": "PENDING"}).json()
    assert [t["id"] for t in pending["alpha_tags"]] == [tag_id]
    gone = call(sb, "DELETE", f"/alpha-tags/{tag_id}")
    assert gone.status_code == 204 and gone.content == b""
    assert call(sb, "GET", f"/alpha-tags/{tag_id}").status_code == 404
    assert (
        call(sb, "POST", "/alpha-tags", json={"alpha_tag": "WAY TOO LONG TAG"}).status_code == 400
    )


def test_own_number_verification_flow(fresh):
    sb = fresh
    v = call(sb, "POST", "/own-numbers/verifications", json={"phone_number": "0412 000 111"}).json()
    assert v["status"] == "PENDING" and v["remaining_attempts"] == 3
    wrong = call(sb, "POST", f"/own-numbers/verifications/{v['id']}/verify", json={"code": "x"})
    assert wrong.json()["remaining_attempts"] == 2 and wrong.json()["status"] == "PENDING"
    good = call(sb, "POST", f"/own-numbers/verifications/{v['id']}/verify", json={"code": otp_for(v["id"])})  # fmt: skip
    assert good.json()["status"] == "APPROVED"
    numbers = call(sb, "GET", "/own-numbers").json()["own_numbers"]
    assert "+61412000111" in {n["phone_number"] for n in numbers}
    one = call(sb, "PATCH", f"/own-numbers/{good.json()['own_number_id']}", json={"label": "Ops"})
    assert one.json()["label"] == "Ops"
    deleted = call(sb, "DELETE", f"/own-numbers/{good.json()['own_number_id']}")
    assert deleted.status_code == 200 and deleted.json()["label"] == "Ops"


def test_array_style_and_categories(sb):
    masters = ok(call(sb, "GET", "/email/master-templates"))
    assert isinstance(masters, list) and len(masters) == 12 and "body" not in masters[0]
    birthday = ok(call(sb, "GET", "/email/master-templates-categories/4/master-templates"))
    assert birthday and {m["category_id"] for m in birthday} == {4}
    assert (
        call(sb, "GET", "/email/master-templates-categories/999/master-templates").status_code
        == 404
    )
    assert ok(call(sb, "GET", "/email/master-templates-categories/4"))["name"] == "Birthday"
    validate("GET", "/email/master-templates", call(sb, "GET", "/email/master-templates").json())


def test_reseller_transfer_moves_credit(fresh):
    sb = fresh
    client = ok(call(sb, "GET", "/reseller/accounts"))["data"][0]
    before = float(ok(call(sb, "GET", "/account"))["balance"])
    moved = ok(
        call(
            sb,
            "PUT",
            "/reseller/transfer-credit",
            json={"client_user_id": client["user_id"], "balance": 10},
        )  # fmt: skip
    )
    assert float(moved["balance"]) == pytest.approx(float(client["balance"]) + 10)
    assert float(ok(call(sb, "GET", "/account"))["balance"]) == pytest.approx(before - 10)


# ---------------------------------------------------------------- routing


def test_generic_routes_give_way_to_an_area_that_serves_the_path():
    async def other(request):  # pragma: no cover - never called
        raise AssertionError

    theirs = Route("/v3/sms/templates", other, methods=["GET"])
    routed = collections.unshadowed([theirs, *collections.routes])
    paths = [(r.path, tuple(sorted(r.methods))) for r in routed]
    assert ("/v3/sms/templates", ("GET", "HEAD")) in paths
    assert sum(1 for p, _ in paths if p == "/v3/sms/templates") == 1  # our POST went too
    assert any(p == "/v3/sms/templates/{template_id}" for p, _ in paths)
    assert len(routed) == len(collections.routes) - 1
