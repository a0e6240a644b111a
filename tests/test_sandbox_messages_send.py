"""Sandbox messages area over loopback: sending and pricing MMS, voice, email, fax, letters
and postcards; cancelling scheduled SMS, voice, letters and postcards. Every accepted send
must show up in history, usage, statistics and the balance; every documented application
code must come back where it applies; test recipients must be free and unstored.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
import requests
from test_sandbox_messages import ENDPOINTS, get, openapi, validate  # noqa: F401

from csframe.sandbox import running

NOW = "2026-11-01T00:00:00Z"
JPG = "https://media.example.com/pic.jpg"
PDF = "https://files.example.com/doc.pdf"
FUTURE = 1_900_000_000


@pytest.fixture(scope="module")
def sb():
    with running(scale="small", seed=42, now=NOW) as sandbox:
        yield sandbox


@pytest.fixture
def http(sb):
    sb.reset()
    with requests.Session() as s:
        s.auth = (sb.credentials["username"], sb.credentials["api_key"])
        yield s
    sb.reset()


def balance(sb, http) -> float:
    return float(get(sb, http, "/account")["data"]["balance"])


def total(sb, http, path: str, **params: Any) -> int:
    return get(sb, http, path, **params)["data"]["total"]


def usage_total(sb, http, key: str) -> dict[str, float]:
    d = datetime.fromisoformat(NOW.replace("Z", "+00:00"))
    return get(sb, http, f"/account/usage/{d.year}/{d.month}/subaccount")["data"][f"{key}_total"]


def statuses(body: dict[str, Any], key: str = "messages") -> list[str]:
    return [m["status"] for m in body["data"][key]]


def post(sb, http, path: str, payload: Any, method: str = "POST") -> dict[str, Any]:
    r = http.request(method, sb.base_url + path, json=payload)
    assert r.status_code == 200, r.text
    return r.json()


# ---------------------------------------------------------------- MMS


def test_mms_send_stores_charges_and_reports_codes(sb, http):
    before_rows, before_balance = total(sb, http, "/mms/history"), balance(sb, http)
    before_usage = usage_total(sb, http, "mms")
    ok = {"to": "+61412345678", "body": "Hi there", "subject": "Hello", "from": "ACME"}
    msgs = [
        ok,
        {**ok, "to": "+61411111111"},  # a test number: free, not stored
        {**ok, "body": "  "},
        {**ok, "subject": ""},
        {**ok, "to": "12"},
        {**ok, "to": "+6591234567"},  # Singapore: MMS not enabled
        {**ok, "from": "Far Too Long Sender"},
        {**ok, "schedule": "tomorrow"},
        {**ok, "schedule": FUTURE, "custom_string": "later"},
    ]
    body = post(sb, http, "/mms/send", {"media_file": JPG, "messages": msgs})
    assert statuses(body) == [
        "SUCCESS", "SUCCESS", "EMPTY_MESSAGE", "SUBJECT_REQUIRED", "INVALID_RECIPIENT",
        "COUNTRY_NOT_ENABLED", "INVALID_SENDER_ID", "INVALID_SCHEDULE", "SUCCESS",
    ]  # fmt: skip
    assert body["data"]["queued_count"] == 3 and body["data"]["total_count"] == 9
    assert body["data"]["total_price"] == pytest.approx(0.66)
    assert body["data"]["messages"][1]["message_price"] == "0.0000"
    assert total(sb, http, "/mms/history") == before_rows + 2
    assert balance(sb, http) == pytest.approx(before_balance - 0.66)
    after = usage_total(sb, http, "mms")
    assert after["count"] == before_usage["count"] + 2
    assert after["price"] == pytest.approx(before_usage["price"] + 0.66)
    sent = get(sb, http, "/mms/history", order_by="date:desc", limit=15)["data"]["data"][:2]
    ids = {m["message_id"] for m in body["data"]["messages"]}
    assert {r["message_id"] for r in sent} <= ids
    assert {r["status"] for r in sent} == {"Sent", "Scheduled"}
    assert all(r["_media_file_url"] == JPG and r["_api_username"] == "csframe_demo" for r in sent)
    # A png (needs converting first) or no media at all: INVALID_MEDIA_FILE for every message
    for media in ("https://media.example.com/pic.png", None):
        bad = post(sb, http, "/mms/send", {"media_file": media, "messages": [ok]})
        assert statuses(bad) == ["INVALID_MEDIA_FILE"] and bad["data"]["total_price"] == 0


def test_mms_price_stores_nothing_and_limits(sb, http):
    before, money = total(sb, http, "/mms/history"), balance(sb, http)
    msgs = [
        {"to": "+61412345678", "body": "x", "subject": "s"},
        {"to": "+14155550123", "body": "x", "subject": "s"},
    ]
    body = post(sb, http, "/mms/price", {"media_file": JPG, "messages": msgs})
    assert statuses(body) == ["SUCCESS", "SUCCESS"]
    assert body["data"]["total_price"] == pytest.approx(0.33 + 0.11)
    assert total(sb, http, "/mms/history") == before and balance(sb, http) == money
    too_many = {"media_file": JPG, "messages": [msgs[0]] * 1001}
    r = http.post(sb.base_url + "/mms/send", json=too_many)
    assert r.status_code == 400 and r.json()["response_code"] == "TOO_MANY_RECIPIENTS"
    assert total(sb, http, "/mms/history") == before
    r = http.post(sb.base_url + "/mms/send", json={"media_file": JPG})
    assert r.status_code == 400 and r.json()["response_code"] == "BAD_REQUEST"


def test_insufficient_credit(sb, http):
    nocredit = sb.accounts["nocredit"]
    auth = (nocredit["username"], nocredit["api_key"])
    msg = {"to": "+61411111111", "body": "x", "subject": "s"}
    r = requests.post(
        sb.base_url + "/mms/send", json={"media_file": JPG, "messages": [msg]}, auth=auth
    )
    assert statuses(r.json()) == ["INSUFFICIENT_CREDIT"]  # even a test number
    r = requests.post(
        sb.base_url + "/voice/send",
        json={"messages": [{"to": "+61412345678", "body": "x"}]},
        auth=auth,
    )
    assert statuses(r.json()) == ["INSUFFICIENT_CREDIT"]
    # A small balance: the first message fits, the second does not
    sb.set_balance("csframe_demo", 0.40)
    two = [{"to": "+61412345678", "body": "x", "subject": "s"}] * 2
    body = post(sb, http, "/mms/send", {"media_file": JPG, "messages": two})
    assert statuses(body) == ["SUCCESS", "INSUFFICIENT_CREDIT"]
    assert balance(sb, http) == pytest.approx(0.07)
    five = {
        "to": [{"email": "a@b.co"}] * 5,
        "from": {"email_address_id": 1},
        "subject": "s",
        "body": "b",
    }
    assert http.post(sb.base_url + "/email/send", json=five).status_code == 200  # 0.035 fits
    r = http.post(sb.base_url + "/email/send", json=five)  # 0.035 > the 0.035 left? no: equal
    assert r.status_code == 200 and balance(sb, http) == pytest.approx(0.0)
    r = http.post(sb.base_url + "/email/send", json=five)
    assert r.status_code == 400 and r.json()["response_code"] == "INSUFFICIENT_CREDIT"


# ---------------------------------------------------------------- voice


def test_voice_send_codes_history_statistics_and_cancel(sb, http):
    stats0 = get(sb, http, "/statistics/voice")["data"]["total"]["outbound"]
    money0 = balance(sb, http)
    ok = {"to": "+61412345678", "body": "Your code is 1, 2, 3.", "voice": "male", "lang": "en-gb"}
    msgs = [
        ok,
        {**ok, "lang": "xx-yy"},
        {**ok, "voice": "robot"},
        {**ok, "lang": "pt-pt", "voice": "female"},  # pt-pt only has a male voice
        {**ok, "body": ""},
        {**ok, "to": "not a number"},
        {**ok, "to": "+61299998888"},  # a landline
        {**ok, "schedule": FUTURE, "body": "x" * 700},  # 3 parts
        {**ok, "to": "+61422222222"},  # test number
    ]
    body = post(sb, http, "/voice/send", {"messages": msgs})
    assert statuses(body) == [
        "SUCCESS", "INVALID_LANG", "INVALID_VOICE", "INVALID_VOICE", "EMPTY_MESSAGE",
        "INVALID_RECIPIENT", "SUCCESS", "SUCCESS", "SUCCESS",
    ]  # fmt: skip
    out = body["data"]["messages"]
    assert out[6]["to_type"] == "landline" and out[6]["message_price"] == "0.0700"
    assert out[7]["message_parts"] == 3 and out[7]["message_price"] == "0.3600"
    assert body["data"]["total_price"] == pytest.approx(0.12 + 0.07 + 0.36)
    assert balance(sb, http) == pytest.approx(money0 - 0.55)
    stats = get(sb, http, "/statistics/voice")["data"]["total"]["outbound"]
    assert stats["count"] == stats0["count"] + 3
    assert stats["price"] == pytest.approx(stats0["price"] + 0.55)
    # cancel the scheduled call: refunded, history says Cancelled at price 0
    later = out[7]["message_id"]
    r = http.put(f"{sb.base_url}/voice/{later}/cancel")
    assert r.status_code == 200 and r.json()["data"] == []
    assert balance(sb, http) == pytest.approx(money0 - 0.19)
    row = get(sb, http, "/voice/history", q=f"message_id:{later}")["data"]["data"][0]
    assert row["status"] == "Cancelled" and row["message_price"] == "0.000000"
    assert http.put(f"{sb.base_url}/voice/{later}/cancel").status_code == 400  # already
    assert http.put(f"{sb.base_url}/voice/{out[0]['message_id']}/cancel").status_code == 400  # sent
    assert http.put(f"{sb.base_url}/voice/NOPE/cancel").status_code == 404
    seeded = total(sb, http, "/voice/history", q="status:Scheduled")
    r = http.put(f"{sb.base_url}/voice/cancel-all")
    assert r.json()["data"] == {"count": seeded} and seeded >= 1
    assert total(sb, http, "/voice/history", q="status:Scheduled") == 0
    sb.reset()  # the seeded scheduled calls come back
    assert total(sb, http, "/voice/history", q="status:Scheduled") == seeded


# ---------------------------------------------------------------- SMS cancel


def test_sms_cancel_and_cancel_all(sb, http):
    money0 = balance(sb, http)
    msgs = [
        {"to": "+61412345678", "body": "later A", "schedule": FUTURE, "custom_string": "batch-a"},
        {"to": "+61412345679", "body": "later B", "schedule": FUTURE, "custom_string": "batch-b"},
        {"to": "+61412345670", "body": "later C", "schedule": FUTURE, "custom_string": "batch-b"},
    ]
    sent = post(sb, http, "/sms/send", {"messages": msgs})["data"]
    ids = [m["message_id"] for m in sent["messages"]]
    assert balance(sb, http) == pytest.approx(money0 - 3 * 0.077)
    r = http.put(f"{sb.base_url}/sms/{ids[0]}/cancel")
    assert (
        r.status_code == 200 and r.json()["response_msg"] == f"Message {ids[0]} has been cancelled."
    )
    row = get(sb, http, "/sms/history", q=f"message_id:{ids[0]}")["data"]["data"][0]
    assert row["status"] == "Cancelled" and row["message_price"] == "0.000000"
    assert balance(sb, http) == pytest.approx(money0 - 2 * 0.077)
    assert http.put(f"{sb.base_url}/sms/{ids[0]}/cancel").status_code == 400
    r = http.put(f"{sb.base_url}/sms/cancel-all", json={"custom_string": "batch-b"})
    assert r.json()["data"] == {"count": 2}
    assert balance(sb, http) == pytest.approx(money0)
    seeded = total(sb, http, "/sms/history", q="status:Scheduled")
    assert seeded > 0
    marketing = sb.accounts["marketing"]
    auth = (marketing["username"], marketing["api_key"])
    own = requests.get(f"{sb.base_url}/sms/history", params={"q": "status:Scheduled"}, auth=auth)
    r = requests.put(f"{sb.base_url}/sms/cancel-all", auth=auth)  # only its own
    assert r.json()["data"]["count"] == own.json()["data"]["total"]
    assert (
        total(sb, http, "/sms/history", q="status:Scheduled") == seeded - r.json()["data"]["count"]
    )
    assert http.put(f"{sb.base_url}/sms/NOPE/cancel").status_code == 404


# ---------------------------------------------------------------- email


EMAIL = {
    "to": [{"email": "jo@example.com", "name": "Jo"}],
    "cc": [{"email": "accounts@example.com", "name": "Accounts"}],
    "from": {"email_address_id": 7, "name": "ACME"},
    "subject": "Your invoice",
    "body": "<p>Thanks!</p>",
}


def test_email_send_price_and_codes(sb, http):
    rows0, money0 = total(sb, http, "/email/history"), balance(sb, http)
    usage0 = usage_total(sb, http, "email_transactional")
    body = post(sb, http, "/email/send", EMAIL)
    data = body["data"]
    assert data["price"] == "0.0140" and data["body_plain_text"] == "Thanks!"
    assert data["to"] == EMAIL["to"] and data["from_email_address_id"] == 7
    assert total(sb, http, "/email/history") == rows0 + 1
    assert balance(sb, http) == pytest.approx(money0 - 0.014)
    usage = usage_total(sb, http, "email_transactional")
    assert usage["count"] == usage0["count"] + 2  # recipients charged
    last = get(sb, http, "/email/history", order_by="date:desc")["data"]["data"][0]
    assert last == data
    # test addresses: free, not stored
    free = post(sb, http, "/email/send", {**EMAIL, "to": [{"email": "test1@test.com"}], "cc": []})
    assert free["data"]["price"] == "0.0000" and total(sb, http, "/email/history") == rows0 + 1
    # price: GET (the reference) and POST (the OpenAPI), nothing stored
    for method in ("GET", "POST"):
        page = post(sb, http, "/email/price", EMAIL, method=method)["data"]
        assert page["total"] == 1 and page["data"][0]["price"] == "0.0140"
    assert total(sb, http, "/email/history") == rows0 + 1
    cases = [
        ({**EMAIL, "to": []}, "INVALID_RECIPIENT"),
        ({**EMAIL, "to": [{"email": "not-an-email"}]}, "INVALID_RECIPIENT"),
        ({**EMAIL, "to": [{"email": "a@b.co"}] * 1001}, "TOO_MANY_RECIPIENTS"),
        ({**EMAIL, "from": {"name": "x"}}, "MISSING_REQUIRED_FIELDS"),
        ({**EMAIL, "subject": " "}, "SUBJECT_REQUIRED"),
        ({**EMAIL, "body": ""}, "EMPTY_MESSAGE"),
        ({**EMAIL, "schedule": "soon"}, "INVALID_SCHEDULE"),
    ]
    for payload, code in cases:
        r = http.post(sb.base_url + "/email/send", json=payload)
        assert r.status_code == 400 and r.json()["response_code"] == code, (code, r.text)
    assert total(sb, http, "/email/history") == rows0 + 1


# ---------------------------------------------------------------- fax, letters, postcards


def test_fax_send(sb, http):
    rows0, money0 = total(sb, http, "/fax/history"), balance(sb, http)
    ok = {"to": "+61290001111", "from": "+61390001234", "custom_string": "inv-1"}
    msgs = [ok, {**ok, "to": "+61261111111"}, {**ok, "from": "ACME"}, {**ok, "to": "123"}]
    body = post(sb, http, "/fax/send", {"file_url": PDF, "messages": msgs})
    assert statuses(body) == ["SUCCESS", "SUCCESS", "INVALID_SENDER_ID", "INVALID_RECIPIENT"]
    pages = body["data"]["messages"][0]["message_pages"]
    assert 1 <= pages <= 6 and body["data"]["total_price"] == pytest.approx(0.22 * pages)
    assert total(sb, http, "/fax/history") == rows0 + 1
    assert balance(sb, http) == pytest.approx(money0 - 0.22 * pages)
    row = get(sb, http, "/fax/history", q="custom_string:inv-1")["data"]["data"][0]
    assert row["message_pages"] == f"{pages}.00" and row["_file_url"] == PDF
    assert get(sb, http, f"/fax/receipts/{row['message_id']}")["data"]["status"] == "Sent"
    bad = post(sb, http, "/fax/send", {"file_url": "https://x.example/doc.docx", "messages": [ok]})
    assert statuses(bad) == ["INVALID_MEDIA_FILE"]
    priced = post(sb, http, "/fax/price", {"file_url": PDF, "messages": [ok]})
    assert priced["data"]["total_price"] == pytest.approx(0.22 * pages)
    assert total(sb, http, "/fax/history") == rows0 + 1


ADDRESS = {
    "address_name": "Jo Citizen",
    "address_line_1": "1 Main St",
    "address_line_2": "",
    "address_city": "Melbourne",
    "address_state": "VIC",
    "address_postal_code": "3000",
    "address_country": "AU",
    "return_address_id": 1,
}


def test_letters_and_postcards_send_price_and_cancel(sb, http):
    letters0, cards0, money0 = (
        total(sb, http, "/post/letters/history"),
        total(sb, http, "/post/postcards/history"),
        balance(sb, http),
    )
    recipients = [
        {**ADDRESS, "schedule": FUTURE},
        {**ADDRESS, "address_postal_code": "11111"},  # a test postcode
        {**ADDRESS, "address_city": ""},
        {**ADDRESS, "address_country": "Australia"},
        {**ADDRESS, "schedule": "x"},
    ]
    body = post(
        sb, http, "/post/letters/send", {"file_url": PDF, "colour": 1, "recipients": recipients}
    )
    assert statuses(body, "recipients") == [
        "SUCCESS", "SUCCESS", "MISSING_REQUIRED_FIELDS", "INVALID_RECIPIENT", "INVALID_SCHEDULE",
    ]  # fmt: skip
    letter = body["data"]["recipients"][0]
    price = float(letter["post_price"])
    assert price > 1.1 and body["data"]["total_price"] == pytest.approx(price)
    assert total(sb, http, "/post/letters/history") == letters0 + 1
    post_usage = usage_total(sb, http, "post")
    r = http.get(f"{sb.base_url}/post/letters/{letter['message_id']}/cancel")
    assert r.status_code == 200 and r.json()["data"] is True
    assert balance(sb, http) == pytest.approx(money0)
    assert usage_total(sb, http, "post")["price"] == pytest.approx(post_usage["price"] - price)
    cards = post(
        sb,
        http,
        "/post/postcards/send",
        {"file_urls": [PDF], "recipients": [ADDRESS, {**ADDRESS, "schedule": FUTURE}]},
    )
    assert statuses(cards, "recipients") == ["SUCCESS", "SUCCESS"]
    assert cards["data"]["total_price"] == pytest.approx(2 * 1.71)
    assert total(sb, http, "/post/postcards/history") == cards0 + 2
    later = cards["data"]["recipients"][1]["message_id"]
    assert http.put(f"{sb.base_url}/post/postcards/{later}/cancel").json()["data"] is True
    now_id = cards["data"]["recipients"][0]["message_id"]
    assert http.put(f"{sb.base_url}/post/postcards/{now_id}/cancel").status_code == 400
    assert balance(sb, http) == pytest.approx(money0 - 1.71)
    three = {"file_urls": [PDF, PDF, PDF], "recipients": [ADDRESS]}
    assert statuses(post(sb, http, "/post/postcards/price", three), "recipients") == [
        "INVALID_MEDIA_FILE"
    ]
    priced = post(sb, http, "/post/letters/price", {"file_url": PDF, "recipients": [ADDRESS]})
    assert priced["data"]["total_price"] > 0
    assert total(sb, http, "/post/letters/history") == letters0 + 1


def test_subaccount_send_belongs_to_it(sb, http):
    support = sb.accounts["support"]
    auth = (support["username"], support["api_key"])
    msg = {"to": "+61412345678", "body": "Ticket update", "lang": "en-au"}
    r = requests.post(sb.base_url + "/voice/send", json={"messages": [msg]}, auth=auth)
    mid = r.json()["data"]["messages"][0]["message_id"]
    own = requests.get(sb.base_url + "/voice/history", params={"q": f"message_id:{mid}"}, auth=auth)
    assert own.json()["data"]["data"][0]["_api_username"] == support["username"]


def test_reset_restores_seeded_state(sb, http):
    rows0 = {p: total(sb, http, p) for p in ("/mms/history", "/sms/history", "/email/history")}
    money0 = balance(sb, http)
    post(
        sb,
        http,
        "/mms/send",
        {"media_file": JPG, "messages": [{"to": "+61412345678", "body": "x", "subject": "s"}]},
    )
    post(sb, http, "/email/send", EMAIL)
    http.put(f"{sb.base_url}/sms/cancel-all")
    assert total(sb, http, "/sms/history", q="status:Scheduled") == 0
    sb.reset()
    assert {p: total(sb, http, p) for p in rows0} == rows0
    assert balance(sb, http) == money0
    assert total(sb, http, "/sms/history", q="status:Scheduled") > 0


# ---------------------------------------------------------------- types


def test_openapi_types_of_sends(openapi, sb, http):  # noqa: F811 (the imported fixture)
    mms = {
        "media_file": JPG,
        "messages": [
            {"to": "+61411111111", "body": "x", "subject": "s"},
            {"to": "1", "body": "x", "subject": "s"},
        ],
    }
    validate(openapi, "send-mms", post(sb, http, "/mms/send", mms))
    validate(openapi, "calculate-mms-price", post(sb, http, "/mms/price", mms))
    voice = {
        "messages": [
            {"to": "+61411111111", "body": "x"},
            {"to": "+61412345678", "body": "x", "lang": "zz"},
        ]
    }
    validate(openapi, "send-voice-message", post(sb, http, "/voice/send", voice))
    validate(openapi, "calculate-voice-price", post(sb, http, "/voice/price", voice))
    validate(openapi, "send-email", post(sb, http, "/email/send", EMAIL))
    sms = post(
        sb,
        http,
        "/sms/send",
        {"messages": [{"to": "+61412345678", "body": "x", "schedule": FUTURE}]},
    )
    mid = sms["data"]["messages"][0]["message_id"]
    validate(openapi, "cancel-sms", http.put(f"{sb.base_url}/sms/{mid}/cancel").json())
    validate(openapi, "cancel-all-sms", http.put(f"{sb.base_url}/sms/cancel-all").json())
    v = post(
        sb,
        http,
        "/voice/send",
        {"messages": [{"to": "+61412345678", "body": "x", "schedule": FUTURE}]},
    )
    vid = v["data"]["messages"][0]["message_id"]
    validate(openapi, "cancel-voice-message", http.put(f"{sb.base_url}/voice/{vid}/cancel").json())
    validate(
        openapi, "cancel-all-voice-messages", http.put(f"{sb.base_url}/voice/cancel-all").json()
    )


def test_reference_keys_of_fax_and_post_sends(sb, http):
    if not ENDPOINTS.is_file():
        pytest.skip(f"{ENDPOINTS} not present (a fresh clone has no ../shared)")
    eps = {(e["method"], e["path"]): e for e in json.loads(ENDPOINTS.read_text(encoding="utf-8"))}
    cases = [
        (
            "/fax/send",
            {"file_url": PDF, "messages": [{"to": "+61261111111", "from": "+61390001234"}]},
            "messages",
        ),
        (
            "/fax/price",
            {"file_url": PDF, "messages": [{"to": "+61261111111", "from": "+61390001234"}]},
            "messages",
        ),
        (
            "/post/letters/send",
            {"file_url": PDF, "recipients": [{**ADDRESS, "address_postal_code": "22222"}]},
            "recipients",
        ),
        ("/post/letters/price", {"file_url": PDF, "recipients": [ADDRESS]}, "recipients"),
        (
            "/post/postcards/send",
            {"file_urls": [PDF], "recipients": [{**ADDRESS, "address_postal_code": "33333"}]},
            "recipients",
        ),
        ("/post/postcards/price", {"file_urls": [PDF], "recipients": [ADDRESS]}, "recipients"),
    ]
    for path, payload, key in cases:
        example = eps[("POST", path)]["example_response"]["data"]
        data = post(sb, http, path, payload)["data"]
        assert set(example) <= set(data), (path, set(example) - set(data))
        want, got = example[key][0], data[key][0]
        assert set(want) <= set(got), (path, set(want) - set(got))
        for k, v in want.items():
            if v is not None and got[k] is not None:
                assert type(got[k]) is type(v) or {type(got[k]), type(v)} <= {int, float}, (path, k)
