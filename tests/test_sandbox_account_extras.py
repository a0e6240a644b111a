"""Account extras over real loopback HTTP: subaccounts CRUD and login, recharge
transactions (paging, reconciliation with the SMS spend), reference data."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from sandbox_openapi import validate

from csframe.sandbox import running

NOW = "2026-11-01T00:00:00Z"
NEW_SUB = {
    "api_username": "csframe_ops",
    "password": "s3cret",
    "email": "ops@acme.example",
    "phone_number": "0412 345 678",
    "first_name": "Olive",
    "last_name": "Ops",
}


@pytest.fixture(scope="module")
def sb():
    with running(scale="small", seed=42, now=NOW) as sandbox:
        yield sandbox


@pytest.fixture
def fresh(sb):
    """The module sandbox, back to its seeded state after the test."""
    yield sb
    sb.reset()


def call(sb, method: str, path: str, who: str | tuple[str, str] = "main", **kw: Any):
    auth = who if isinstance(who, tuple) else tuple(sb.accounts[who].values())
    return requests.request(method, sb.base_url + path, auth=auth, timeout=30, **kw)


def ok(r: requests.Response) -> Any:
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["http_code", "response_code", "response_msg", "data"]
    assert body["response_code"] == "SUCCESS"
    return body["data"]


def all_pages(sb, path: str, **params: Any) -> list[dict[str, Any]]:
    rows, page = [], 1
    while True:
        data = ok(call(sb, "GET", path, params={**params, "page": page, "limit": 15}))
        rows += data["data"]
        if data["next_page_url"] is None:
            assert data["total"] == len(rows)
            return rows
        page += 1


# ---------------------------------------------------------------- subaccounts


def test_list_subaccounts_is_the_accounts_logins(sb):
    data = ok(call(sb, "GET", "/subaccounts"))
    names = [s["api_username"] for s in data["data"]]
    assert names == ["csframe_demo", "csframe_marketing", "csframe_support", "csframe_alerts"]
    assert data["total"] == 4 and data["from"] == 1 and data["to"] == 4
    keys = {s["api_username"]: s["api_key"] for s in data["data"]}
    assert keys["csframe_support"] == sb.accounts["support"]["api_key"]
    validate("GET", "/subaccounts", call(sb, "GET", "/subaccounts").json())


def test_subaccount_search_and_order(sb):
    found = ok(call(sb, "GET", "/subaccounts", params={"q": "api_username:CSFRAME_SUPPORT"}))
    assert [s["subaccount_id"] for s in found["data"]] == [60313]
    desc = ok(call(sb, "GET", "/subaccounts", params={"order_by": "subaccount_id:desc"}))
    assert [s["subaccount_id"] for s in desc["data"]] == [60314, 60313, 60312, 60311]
    either = call(
        sb, "GET", "/subaccounts", params={"q": "first_name:Sam,last_name:Lee", "operator": "OR"}
    )
    assert {s["api_username"] for s in ok(either)["data"]} == {"csframe_support", "csframe_alerts"}
    assert call(sb, "GET", "/subaccounts", params={"q": "nope:1"}).status_code == 400


def test_subaccounts_need_access_users(sb):
    r = call(sb, "GET", "/subaccounts", who="marketing")
    assert r.status_code == 403 and r.json()["response_code"] == "FORBIDDEN"
    assert call(sb, "POST", "/subaccounts", who="support", json=NEW_SUB).status_code == 403


def test_create_login_update_regen_delete(fresh):
    sb = fresh
    created = ok(call(sb, "POST", "/subaccounts", json=NEW_SUB))
    validate(
        "POST", "/subaccounts", call(sb, "GET", f"/subaccounts/{created['subaccount_id']}").json()
    )
    assert created["phone_number"] == "+61412345678" and created["is_main"] == 0
    assert created["access_users"] == 0 and created["access_sms"] == 1
    new = ("csframe_ops", created["api_key"])
    # The new login authenticates at once and belongs to the same account.
    acct = ok(call(sb, "GET", "/account", who=new))
    assert acct["user_id"] == 48213 and acct["_subaccount"]["api_username"] == "csframe_ops"
    assert ok(call(sb, "GET", "/subaccounts"))["total"] == 5

    sid = created["subaccount_id"]
    upd = ok(call(sb, "PUT", f"/subaccounts/{sid}", json={"api_username": "csframe_ops2"}))
    assert upd["api_username"] == "csframe_ops2" and upd["email"] == "ops@acme.example"
    assert call(sb, "GET", "/account", who=new).status_code == 401
    new = ("csframe_ops2", created["api_key"])
    assert call(sb, "GET", "/account", who=new).status_code == 200

    key = ok(call(sb, "PUT", f"/subaccounts/{sid}/regen-api-key"))["api_key"]
    assert key != created["api_key"]
    assert call(sb, "GET", "/account", who=new).status_code == 401
    new = ("csframe_ops2", key)
    assert call(sb, "GET", "/account", who=new).status_code == 200
    assert ok(call(sb, "GET", f"/subaccounts/{sid}"))["api_key"] == key

    gone = call(sb, "DELETE", f"/subaccounts/{sid}")
    assert ok(gone) is True
    assert call(sb, "GET", "/account", who=new).status_code == 401
    assert call(sb, "GET", f"/subaccounts/{sid}").status_code == 404
    assert ok(call(sb, "GET", "/subaccounts"))["total"] == 4
    # Usernames are never reused (history rows keep naming the deleted login).
    again = call(sb, "POST", "/subaccounts", json={**NEW_SUB, "api_username": "csframe_ops2"})
    assert again.status_code == 400 and again.json()["response_code"] == "ALREADY_EXISTS"


def test_create_validation(sb):
    r = call(sb, "POST", "/subaccounts", json={"api_username": "x_y_z"})
    assert r.status_code == 400 and r.json()["response_code"] == "MISSING_REQUIRED_FIELDS"
    dup = call(sb, "POST", "/subaccounts", json={**NEW_SUB, "api_username": "csframe_alerts"})
    assert dup.status_code == 400 and dup.json()["response_code"] == "ALREADY_EXISTS"
    bad = call(sb, "POST", "/subaccounts", json={**NEW_SUB, "email": "not-an-email"})
    assert bad.status_code == 400
    assert ok(call(sb, "GET", "/subaccounts"))["total"] == 4


def test_main_cannot_be_deleted_and_unknown_is_404(sb):
    assert call(sb, "DELETE", "/subaccounts/60311").status_code == 403
    assert call(sb, "GET", "/subaccounts/99999").status_code == 404
    assert call(sb, "PUT", "/subaccounts/99999", json={"first_name": "x"}).status_code == 404


def test_deleted_subaccount_keeps_its_usage_and_history(fresh):
    sb = fresh
    before = ok(call(sb, "GET", "/account/usage/2026/10/subaccount"))["sms"]
    assert 60314 in {line["subaccount_id"] for line in before}
    ok(call(sb, "DELETE", "/subaccounts/60314"))
    assert call(sb, "GET", "/account", who="alerts").status_code == 401
    after = ok(call(sb, "GET", "/account/usage/2026/10/subaccount"))["sms"]
    assert after == before  # usage is still the sum of history, deleted login included
    hist = ok(call(sb, "GET", "/sms/history", params={"q": "subaccount_id:60314"}))
    assert hist["total"] > 0


def test_reset_restores_logins(sb):
    created = ok(call(sb, "POST", "/subaccounts", json={**NEW_SUB, "api_username": "tmp_login"}))
    ok(call(sb, "DELETE", "/subaccounts/60313"))
    assert call(sb, "GET", "/account", who="support").status_code == 401
    seeded_countries = ok(call(sb, "GET", "/user-countries"))
    ok(call(sb, "POST", "/user-countries", json={"country_list_ids": [1]}))
    sb.reset()
    assert ok(call(sb, "GET", "/user-countries")) == seeded_countries
    assert call(sb, "GET", "/account", who="support").status_code == 200
    assert call(sb, "GET", "/account", who=("tmp_login", created["api_key"])).status_code == 401
    assert ok(call(sb, "GET", "/subaccounts"))["total"] == 4


def test_a_login_may_regenerate_its_own_key(fresh):
    sb = fresh
    key = ok(call(sb, "PUT", "/subaccounts/60312/regen-api-key", who="marketing"))["api_key"]
    assert call(sb, "GET", "/account", who=("csframe_marketing", key)).status_code == 200
    assert call(sb, "PUT", "/subaccounts/60313/regen-api-key", who="alerts").status_code == 403


# ---------------------------------------------------------------- recharges


def sms_spend_by_time(sb) -> list[tuple[int, int]]:
    rows = []
    page = 1
    while True:
        data = ok(call(sb, "GET", "/sms/history", params={"page": page, "limit": 100}))
        rows += [(r["date"], round(float(r["message_price"]) * 1e6)) for r in data["data"]]
        if data["next_page_url"] is None:
            return rows
        page += 1


def test_recharge_transactions_paging_and_get(fresh):
    sb = fresh
    for package_id in (1, 2, 1):  # the seed has ~14 at scale "small": make it two pages
        ok(call(sb, "PUT", f"/recharge/purchase/{package_id}"))
    txs = all_pages(sb, "/recharge/transactions")
    assert len(txs) > 15
    assert len({t["invoice_number"] for t in txs}) == len(txs)
    dates = [t["date"] for t in txs]
    assert dates == sorted(dates, reverse=True)  # newest first, as the reference shows
    first = ok(call(sb, "GET", "/recharge/transactions"))
    assert first["per_page"] == 15 and first["last_page"] == -(-len(txs) // 15)
    one = ok(call(sb, "GET", f"/recharge/transactions/{txs[3]['invoice_number']}"))
    assert one == txs[3]
    assert call(sb, "GET", "/recharge/transactions/nope").status_code == 404
    validate("GET", "/recharge/transactions", call(sb, "GET", "/recharge/transactions").json())
    assert call(sb, "GET", "/recharge/transactions", who="alerts").status_code == 403


def test_recharges_fund_the_spend(sb):
    txs = all_pages(sb, "/recharge/transactions")
    spend = requests.get(
        sb.root_url + "/_sandbox/truth/spend", headers=sb.admin_headers, timeout=30
    ).json()
    # The truth's SMS part is what /sms/history shows.
    assert spend["sms_micros"] == sum(p for _, p in sms_spend_by_time(sb))
    balance = round(float(ok(call(sb, "GET", "/account"))["balance"]) * 1e6)
    total_in = sum(round(t["amount"] * 100) * 10_000 for t in txs)
    # Recharges = everything spent + the current balance, to the cent.
    assert 0 <= total_in - spend["total_micros"] - balance < 10_000
    # And the balance they imply never went negative: the recharges dated before a day
    # cover everything spent up to the end of that day.
    dates = sorted(t["date"] for t in txs)
    amounts = {t["date"]: 0 for t in txs}
    for t in txs:
        amounts[t["date"]] += round(t["amount"] * 100) * 10_000
    spent = 0
    for day, micros in spend["by_day"]:
        spent += micros
        funded = sum(amounts[d] for d in dates if d < day * 86400 + 86400)
        assert funded - spent >= 0, day
    assert all(t["currency"] == "AUD" for t in txs)


def test_purchase_adds_a_transaction_and_credits(fresh):
    sb = fresh
    before = float(ok(call(sb, "GET", "/account"))["balance"])
    total = ok(call(sb, "GET", "/recharge/transactions"))["total"]
    bought = ok(call(sb, "PUT", "/recharge/purchase/3"))
    assert bought["amount"] == 100 and bought["currency"] == "AUD"
    after = float(ok(call(sb, "GET", "/account"))["balance"])
    assert after == pytest.approx(before + 100)
    first = ok(call(sb, "GET", "/recharge/transactions"))
    assert first["total"] == total + 1 and first["data"][0]["amount"] == 100
    assert call(sb, "PUT", "/recharge/purchase/999").status_code == 404


def test_packages_and_credit_card(fresh):
    sb = fresh
    pk = ok(call(sb, "GET", "/recharge/packages"))["packages"]
    assert pk[0]["sms_price"] == 0.077 and pk[0]["sms_quantity"] == int(20 / 0.077)
    nz = ok(call(sb, "GET", "/recharge/packages", params={"country": "NZ"}))["packages"]
    assert nz[0]["sms_price"] == 0.105
    validate("GET", "/recharge/packages", call(sb, "GET", "/recharge/packages").json())
    card = {"number": "4111 1111 1111 1234", "expiry_month": 4, "expiry_year": 2031, "name": "A M"}
    token = ok(call(sb, "PUT", "/recharge/credit-card", json=card))["token"]
    assert token.startswith("cus_")
    shown = ok(call(sb, "GET", "/recharge/credit-card"))
    assert shown == {
        "display_number": "XXXX-XXXX-XXXX-1234",
        "expiry_month": 4,
        "expiry_year": 2031,
        "name": "A M",
    }
    assert call(sb, "PUT", "/recharge/credit-card", json={"number": "1"}).status_code == 400


# ---------------------------------------------------------------- reference data


def test_countries_and_timezones(sb):
    countries = ok(call(sb, "GET", "/countries"))
    assert {"code": "AU", "value": "Australia"} in countries and len(countries) > 240
    listed = ok(call(sb, "GET", "/country-list"))
    au = next(c for c in listed if c["code"] == "AU")
    assert au["region"] == "Oceania" and isinstance(au["id"], int)
    tz = ok(call(sb, "GET", "/timezones"))
    assert "Australia/Melbourne" in tz and tz == sorted(tz[:-1]) + ["UTC"]
    for path in ("/countries", "/country-list", "/timezones"):
        validate("GET", path, call(sb, "GET", path).json())


def test_user_countries_cover_the_countries_sent_to(fresh):
    sb = fresh
    selected = {c["code"] for c in ok(call(sb, "GET", "/user-countries"))}
    sent_to = {
        r["country"] for r in ok(call(sb, "GET", "/sms/history", params={"limit": 100}))["data"]
    }
    assert sent_to <= selected
    validate("GET", "/user-countries", call(sb, "GET", "/user-countries").json())
    ids = {c["code"]: c["id"] for c in ok(call(sb, "GET", "/country-list"))}
    chosen = ok(
        call(sb, "POST", "/user-countries", json={"country_list_ids": [ids["AU"], ids["JP"]]})
    )
    assert [c["code"] for c in chosen] == ["AU", "JP"]
    assert chosen[0]["agreed_at"] is not None and chosen[1]["agreed_at"] is None
    agreed = ok(call(sb, "POST", "/user-countries/agree"))
    assert all(isinstance(c["agreed_at"], int) for c in agreed)
    bad = call(sb, "POST", "/user-countries", json={"country_list_ids": [99999]})
    assert bad.status_code == 400


def test_forgot_and_verify(sb):
    r = requests.put(sb.base_url + "/forgot-username", json={"email": "x@y.z"}, timeout=10)
    assert ok(r) == []
    r = requests.put(sb.base_url + "/forgot-password", json={"username": "nobody"}, timeout=10)
    assert ok(r) == []
    assert requests.put(sb.base_url + "/forgot-password", json={}, timeout=10).status_code == 400
    sent = ok(call(sb, "PUT", "/account-verify/send", json={"type": "sms"}))
    assert sent["type"] == "sms" and sent["country"] == "AU"
    acct = ok(call(sb, "PUT", "/account-verify/verify/123456"))
    assert acct["user_id"] == 48213
