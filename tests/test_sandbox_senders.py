"""The operations that had no route: default senders, compliant sender types, short-URL
statistics and tracking, number registrations, account sign-up -- read back through the
official SDK's models where it has them."""

from __future__ import annotations

import pytest
import requests

from csframe.sandbox import running

clicksend = pytest.importorskip("clicksend", reason="clicksend-client is in the dev extra")


@pytest.fixture(scope="module")
def sb():
    with running(scale="tiny", seed=9) as sandbox:
        yield sandbox


@pytest.fixture
def api(sb):
    conf = clicksend.Configuration(
        host=sb.root_url, username=sb.credentials["username"], password=sb.credentials["api_key"]
    )
    return clicksend.ApiClient(conf)


def call(sb, method: str, path: str, **kw) -> requests.Response:
    return requests.request(
        method, sb.base_url + path, auth=tuple(sb.credentials.values()), timeout=30, **kw
    )


def test_default_senders_lifecycle_through_the_sdk(sb, api):
    sb.reset()
    senders = clicksend.DefaultSendersApi(api)
    req = clicksend.CreateDefaultSenderRequest.from_dict(
        {
            "country_code": "AU",
            "product_type": "SMS",
            "default_sender_strategies": [{"sender_id": "ACME", "sender_type": "alpha_tag"}],
        }
    )
    made = senders.create_default_sender(create_default_sender_request=req)
    sid = made.data.id
    got = senders.get_default_sender_details(sid)
    assert got.data.country_code == "AU"
    listed = senders.get_default_senders_list()
    assert [d.id for d in listed.data.data] == [sid]
    upd = clicksend.UpdateDefaultSenderRequest.from_dict(
        {
            "default_sender_strategies": [
                {
                    "sender_id": "+61411000000",
                    "sender_type": "own_number",
                    "sender_country_code": "AU",
                }
            ]
        }
    )
    assert senders.update_default_sender(sid, update_default_sender_request=upd).data
    assert (
        call(sb, "GET", f"/senders/default-senders/{sid}").json()["data"][
            "default_sender_strategies"
        ][0]["sender_id"]
        == "+61411000000"
    )
    senders.delete_default_sender(sid)
    assert call(sb, "GET", f"/senders/default-senders/{sid}").status_code == 404


def test_default_senders_validate_and_page(sb):
    sb.reset()
    bad = call(
        sb,
        "POST",
        "/senders/default-senders",
        json={
            "country_code": "AU",
            "product_type": "SMS",
            "default_sender_strategies": [{"sender_id": "a b", "sender_type": "alpha_tag"}],
        },
    )
    assert bad.status_code == 400
    assert bad.json()["details"] == [
        {"field": "default_sender_strategies[0].sender_id", "reason": "Invalid sender ID format"}
    ]
    for code in ("AU", "NZ", "GB"):
        r = call(
            sb,
            "POST",
            "/senders/default-senders",
            json={
                "country_code": code,
                "product_type": "SMS",
                "default_sender_strategies": [{"sender_id": "ACME", "sender_type": "alpha_tag"}],
            },
        )
        assert r.status_code == 200, r.text
    dup = call(
        sb,
        "POST",
        "/senders/default-senders",
        json={
            "country_code": "AU",
            "product_type": "SMS",
            "default_sender_strategies": [{"sender_id": "ACME", "sender_type": "alpha_tag"}],
        },
    )
    assert dup.status_code == 400
    first = call(
        sb, "GET", "/senders/default-senders", params={"per_page": 2, "sort_by": "country_code"}
    ).json()["data"]
    assert [d["country_code"] for d in first["data"]] == ["AU", "GB"]
    rest = requests.get(first["next_page_url"], auth=tuple(sb.credentials.values())).json()["data"]
    assert [d["country_code"] for d in rest["data"]] == ["NZ"] and rest["next_page_url"] is None
    assert (
        call(sb, "GET", "/senders/default-senders", params={"sort_by": "colour"}).status_code == 400
    )


def test_compliant_types_short_urls_and_registrations_parse(sb, api):
    senders = clicksend.DefaultSendersApi(api)
    types = senders.list_compliant_sender_types("SMS", ["AU", "US"])
    assert [t.recipient_country_code for t in types.data.data] == ["AU", "US"]
    every = call(sb, "GET", "/senders/compliant-sender-types").json()["data"]["data"]
    assert len(every) > 2
    urls = clicksend.UrlShorteningApi(api)
    stats = urls.short_url_get_statistics("sms_campaign", "123")
    assert stats.data[0].links.total >= stats.data[0].links.opened_unique
    assert urls.short_url_get_tracking("quick_sms-abc").data is not None
    numbers = clicksend.NumbersApi(api)
    example = {
        "full_name": "John Doe", "company_name": "ClickSend", "email": "john.doe@clicksend.com",
        "website_url": "https://clicksend.com", "sample_message": "Get 20% off",
        "primary_use_case": "Marketing", "company_number": "+1-800-555-0199", "area_code": "416, 647, 905",
    }  # fmt: skip
    req = clicksend.RegisterNumbersRequest.from_dict(example)
    assert numbers.register_numbers("tollfree", "US", register_numbers_request=req)
    r = call(
        sb,
        "POST",
        "/numbers/registrations/number-types/tollfree/country/US",
        json={"full_name": "x"},
    )
    assert r.status_code == 400 and "company_name" in r.json()["response_msg"]


def test_account_sign_up_as_the_reference_shows(sb):
    body = {
        "username": "johndoe1", "user_email": "johndoe1@awesome.com", "user_phone": "518-481-1001",
        "user_first_name": "John", "user_last_name": "Doe", "country": "US", "password": "pass",
        "account_name": "The Awesome Company",
    }  # fmt: skip
    r = requests.post(sb.base_url + "/account", json=body, timeout=30)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["username"] == "johndoe1" and data["active"] == 0
    taken = dict(body, username=sb.credentials["username"])
    assert (
        requests.post(sb.base_url + "/account", json=taken).json()["response_code"]
        == "ALREADY_EXISTS"
    )
    assert requests.post(sb.base_url + "/account", json={"username": "x"}).status_code == 400
    # GET /account still needs credentials
    assert requests.get(sb.base_url + "/account").status_code == 401
