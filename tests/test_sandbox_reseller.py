"""Reseller client accounts are real accounts of the sandbox (issue 17): they log in with
the credentials ``GET /reseller/accounts`` returns, see only their own seeded history,
have their own balance and their own rate limit; a client made with ``POST
/reseller/accounts`` logs in at once."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from sandbox_openapi import validate

from csframe.sandbox import running
from csframe.sandbox.seed_resellers import history_size

NOW = "2026-11-01T00:00:00Z"
NEW_CLIENT = {
    "username": "newco_client",
    "password": "not-stored",
    "user_email": "owner@newco.example",
    "user_phone": "+61411222333",
    "user_first_name": "Nia",
    "user_last_name": "Ko",
    "account_name": "NewCo",
    "country": "AU",
}


@pytest.fixture(scope="module")
def sb():
    with running(scale="tiny", seed=42, now=NOW) as sandbox:
        yield sandbox


@pytest.fixture
def fresh(sb):
    yield sb
    sb.set_faults()
    sb.reset()


def get(sb, path: str, auth: tuple[str, str], **params: Any) -> requests.Response:
    return requests.get(sb.base_url + path, auth=auth, params=params, timeout=30)


def main_auth(sb) -> tuple[str, str]:
    return sb.credentials["username"], sb.credentials["api_key"]


def clients(sb) -> list[dict[str, Any]]:
    r = get(sb, "/reseller/accounts", main_auth(sb))
    assert r.status_code == 200, r.text
    return r.json()["data"]["data"]


def login(client: dict[str, Any]) -> tuple[str, str]:
    return client["_subaccount"]["api_username"], client["_subaccount"]["api_key"]


def history(sb, auth: tuple[str, str]) -> list[dict[str, Any]]:
    rows, page = [], 1
    while True:
        data = get(sb, "/sms/history", auth, page=page, limit=100).json()["data"]
        rows += data["data"]
        if data["next_page_url"] is None:
            return rows
        page += 1


def test_listed_clients_log_in_and_see_only_their_own_history(sb):
    listed = clients(sb)
    assert [c["username"] for c in listed] == ["acme_retail_nz", "acme_events_au"]
    main_ids = {r["message_id"] for r in history(sb, main_auth(sb))}
    assert len(main_ids) == 300  # the main account's history is what it was
    seen: set[str] = set()
    for i, client in enumerate(listed):
        account = get(sb, "/account", login(client))
        assert account.status_code == 200, account.text  # was 401: clients could not log in
        data = account.json()["data"]
        assert (data["user_id"], data["balance"]) == (client["user_id"], client["balance"])
        assert data["_subaccount"]["api_key"] == client["_subaccount"]["api_key"]
        rows = history(sb, login(client))
        assert len(rows) == history_size(300, i)
        assert {r["user_id"] for r in rows} == {client["user_id"]}
        assert {r["country"] for r in rows} == {client["country"]}
        ids = {r["message_id"] for r in rows}
        assert not ids & (main_ids | seen)  # nobody else's messages
        seen |= ids
    # Keys come from the seed, like every seeded key; a wrong one is refused.
    assert len({c["_subaccount"]["api_key"] for c in listed}) == 2
    user, key = login(listed[0])
    assert get(sb, "/account", (user, key[::-1])).status_code == 401


def test_listing_and_creation_have_the_openapi_types(fresh):
    sb = fresh
    validate("GET", "/reseller/accounts", get(sb, "/reseller/accounts", main_auth(sb)).json())
    made = requests.post(sb.base_url + "/reseller/accounts", auth=main_auth(sb), json=NEW_CLIENT)
    validate("POST", "/reseller/accounts", made.json())


def test_a_created_client_logs_in_at_once_and_follows_its_record(fresh):
    sb = fresh
    made = requests.post(sb.base_url + "/reseller/accounts", auth=main_auth(sb), json=NEW_CLIENT)
    assert made.status_code == 200, made.text
    client = made.json()["data"]
    assert "password" not in client and client["active"] == 1
    assert client["_subaccount"]["api_username"] == "newco_client"
    assert get(sb, "/account", login(client)).json()["data"]["user_id"] == client["user_id"]
    assert history(sb, login(client)) == []  # a new account has no history
    assert client["user_id"] in [c["user_id"] for c in clients(sb)]
    # The same username again is refused (it would be a second login of that name).
    again = requests.post(sb.base_url + "/reseller/accounts", auth=main_auth(sb), json=NEW_CLIENT)
    assert (again.status_code, again.json()["response_code"]) == (400, "ALREADY_EXISTS")
    # Credit moved to the client is on its own account's balance.
    moved = requests.put(
        sb.base_url + "/reseller/transfer-credit",
        auth=main_auth(sb),
        json={"client_user_id": client["user_id"], "balance": 12.5},
    )
    assert moved.status_code == 200, moved.text
    assert get(sb, "/account", login(client)).json()["data"]["balance"] == "12.500000"
    assert (
        get(sb, f"/reseller/accounts/{client['user_id']}", main_auth(sb)).json()["data"]["balance"]
        == "12.500000"
    )
    # A renamed client logs in with its new username only.
    renamed = requests.put(
        sb.base_url + f"/reseller/accounts/{client['user_id']}",
        auth=main_auth(sb),
        json={"username": "newco_renamed"},
    )
    assert renamed.status_code == 200, renamed.text
    key = client["_subaccount"]["api_key"]
    assert get(sb, "/account", ("newco_renamed", key)).status_code == 200
    assert get(sb, "/account", ("newco_client", key)).status_code == 401
    # reset() forgets the client and its login.
    sb.reset()
    assert get(sb, "/account", ("newco_renamed", key)).status_code == 401
    assert [c["username"] for c in clients(sb)] == ["acme_retail_nz", "acme_events_au"]


def test_each_account_has_its_own_rate_limit(fresh):
    sb = fresh
    nz = login(clients(sb)[0])
    sb.set_faults(rate_limit=0.5)  # one request per 2 s, per account
    with requests.Session() as main:
        main.auth = main_auth(sb)
        codes = [main.get(sb.base_url + "/account").status_code for _ in range(3)]
    assert codes[0] == 200 and 429 in codes
    # The main account's limit is spent; its client's (another account) is not.
    assert get(sb, "/account", nz).status_code == 200
    # Another login of the main account spends the main account's bucket.
    marketing = sb.accounts["marketing"]
    assert get(sb, "/account", (marketing["username"], marketing["api_key"])).status_code == 429
