"""Sandbox /sms/send and /sms/price over loopback: parts, validation, pricing, commits, credit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from csframe.sandbox import running
from csframe.sandbox.encoding import sms_parts
from csframe.sandbox.pricing import normalise_number

NOW = "2026-11-01T00:00:00Z"


@pytest.fixture(scope="module")
def sb():
    with running(scale="tiny", seed=5, now=NOW) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def fresh(sb):
    sb.reset()  # every test starts from the seeded data and balance
    yield


def post(sb, path: str, messages: list[dict[str, Any]], who: str = "main") -> requests.Response:
    acc = sb.accounts[who]
    return requests.post(
        sb.base_url + path, json={"messages": messages}, auth=(acc["username"], acc["api_key"])
    )


def get(sb, path: str, who: str = "main", **params: Any) -> dict[str, Any]:
    acc = sb.accounts[who]
    r = requests.get(sb.base_url + path, params=params, auth=(acc["username"], acc["api_key"]))
    assert r.status_code == 200, r.text
    return r.json()["data"]


def balance(sb, who: str = "main") -> float:
    return float(get(sb, "/account", who)["balance"])


# ---------------------------------------------------------------- parts


@pytest.mark.parametrize(
    "body,encoding,parts",
    [
        ("a" * 160, "gsm", 1),
        ("a" * 161, "gsm", 2),
        ("a" * 306, "gsm", 2),
        ("a" * 307, "gsm", 3),
        ("a" * 159 + "€", "gsm", 2),  # € is an extension char: 2 septets -> 161
        ("a" * 158 + "[", "gsm", 1),  # 160 septets
        ("é" * 160, "gsm", 1),  # é is in the GSM basic set
        ("ê" * 70, "ucs2", 1),
        ("ê" * 71, "ucs2", 2),
        ("你" * 134, "ucs2", 2),
        ("你" * 135, "ucs2", 3),
        ("🎉" * 35, "ucs2", 1),  # surrogate pairs: 70 UTF-16 units
        ("🎉" * 36, "ucs2", 2),
    ],
)
def test_parts_over_http(sb, body, encoding, parts):
    assert sms_parts(body)[0] == encoding
    data = post(sb, "/sms/price", [{"to": "+61412345678", "body": body}]).json()["data"]
    assert data["messages"][0]["message_parts"] == parts
    assert data["messages"][0]["message_price"] == f"{parts * 0.077:.4f}"


def test_normalise_number():
    assert normalise_number("0412 345 678", "AU") == ("+61412345678", "AU")
    assert normalise_number("+1 (604) 555-1234", None) == ("+16045551234", "CA")
    assert normalise_number("0044 7777 777777", None) == ("+447777777777", "GB")
    for bad, country in (
        ("0412345678", None),
        ("+6141234", None),
        ("hello", "AU"),
        ("+61412345678999", None),
    ):
        with pytest.raises(ValueError):
            normalise_number(bad, country)


# ---------------------------------------------------------------- per-message statuses


def test_per_message_statuses_and_totals(sb):
    msgs = [
        {"to": "+61412345678", "body": "ok one", "custom_string": "run1:a"},
        {"to": "12345", "body": "bad number"},
        {"to": "0412345679", "body": "national without country"},
        {"to": "0412345679", "country": "AU", "body": "national with country"},
        {"to": "+61412345680", "body": "   "},
        {"to": "+99912345678", "body": "nowhere"},
        {"to": "+61412345681", "body": "bad sender", "from": "THIS IS WAY TOO LONG"},
        {"to": "+61412345682", "body": "bad schedule", "schedule": "tomorrow"},
    ]
    r = post(sb, "/sms/send", msgs)
    assert r.status_code == 200
    data = r.json()["data"]
    statuses = [m["status"] for m in data["messages"]]
    assert statuses == [
        "SUCCESS",
        "INVALID_RECIPIENT",
        "INVALID_RECIPIENT",
        "SUCCESS",
        "EMPTY_MESSAGE",
        "COUNTRY_NOT_ENABLED",
        "INVALID_SENDER_ID",
        "INVALID_SCHEDULE",
    ]
    assert data["total_count"] == 8 and data["queued_count"] == 2
    assert data["total_price"] == pytest.approx(0.154)
    assert data["messages"][3]["to"] == "+61412345679"
    assert data["messages"][1]["message_price"] == "0.0000"
    assert data["_currency"]["currency_name_short"] == "AUD"


def test_too_many_recipients_commits_nothing(sb):
    before = get(sb, "/sms/history")["total"]
    r = post(sb, "/sms/send", [{"to": "+61412345678", "body": "x"}] * 1001)
    assert (r.status_code, r.json()["response_code"], r.json()["data"]) == (
        400,
        "TOO_MANY_RECIPIENTS",
        None,
    )
    assert get(sb, "/sms/history")["total"] == before
    assert (
        post(sb, "/sms/send", [{"to": "+61412345678", "body": "x"}] * 1000).json()["data"][
            "queued_count"
        ]
        == 1000
    )


@pytest.mark.parametrize(
    "payload", [b"", b"not json", b'{"messages": "x"}', b'{"messages": []}', b"[]"]
)
def test_unusable_payload_is_400(sb, payload):
    acc = sb.credentials
    r = requests.post(
        sb.base_url + "/sms/send",
        data=payload,
        auth=(acc["username"], acc["api_key"]),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["response_code"] == "BAD_REQUEST"


# ---------------------------------------------------------------- commits, money


def test_test_numbers_are_free_and_not_stored(sb):
    before_total, before_balance = get(sb, "/sms/history")["total"], balance(sb)
    numbers = [
        "+61411111111",
        "+61422222222",
        "+61433333333",
        "+61444444444",
        "+14055555555",
        "+14055555666",
        "+447777777777",
        "+8615555555555",
    ]
    data = post(sb, "/sms/send", [{"to": n, "body": "test"} for n in numbers]).json()["data"]
    assert [m["status"] for m in data["messages"]] == ["SUCCESS"] * 8
    assert data["total_price"] == 0 and all(
        m["message_price"] == "0.0000" for m in data["messages"]
    )
    assert get(sb, "/sms/history")["total"] == before_total
    assert balance(sb) == before_balance


def test_send_commits_to_history_usage_and_balance(sb):
    now = datetime.fromisoformat(NOW)
    before = balance(sb)
    usage_before = get(sb, f"/account/usage/{now.year}/{now.month}/subaccount")["sms_total"]
    msgs = [
        {"to": "+61412345678", "body": "Order shipped 📦", "custom_string": "t-send-1"},
        {"to": "+6421555123", "body": "a" * 200, "custom_string": "t-send-2", "from": "ACME"},
    ]
    data = post(sb, "/sms/send", msgs).json()["data"]
    assert data["queued_count"] == 2
    expected = 1 * 0.077 + 2 * 0.105  # AU 1 part + NZ 2 parts
    assert data["total_price"] == pytest.approx(expected)
    assert balance(sb) == pytest.approx(before - expected, abs=1e-6)
    rows = get(
        sb, "/sms/history", q="custom_string:t-send-1,custom_string:t-send-2", operator="OR"
    )["data"]
    assert [r["message_id"] for r in rows] == [m["message_id"] for m in data["messages"]]
    assert [r["status"] for r in rows] == ["Sent", "Sent"] and rows[1]["from"] == "ACME"
    assert (
        rows[1]["message_parts"] == 2
        and rows[1]["message_price"] == "0.210000"
        and rows[1]["country"] == "NZ"
    )
    assert rows[0]["_api_username"] == sb.credentials["username"]
    last = get(sb, "/sms/history", order_by="date:desc")["data"][:2]
    assert {r["message_id"] for r in last} == {
        r["message_id"] for r in rows
    }  # dated sandbox-now: newest
    usage = get(sb, f"/account/usage/{now.year}/{now.month}/subaccount")["sms_total"]
    assert usage["count"] == usage_before["count"] + 3
    assert usage["price"] == pytest.approx(usage_before["price"] + expected, abs=1e-6)


def test_scheduled_send(sb):
    later = int(datetime.fromisoformat(NOW).timestamp()) + 86400
    data = post(
        sb,
        "/sms/send",
        [{"to": "+61412345678", "body": "later", "schedule": later, "custom_string": "t-sched"}],
    ).json()["data"]
    assert data["messages"][0]["schedule"] == later
    row = get(sb, "/sms/history", q="custom_string:t-sched")["data"][0]
    assert row["status"] == "Scheduled" and row["schedule"] == str(later)


def test_subaccount_send_is_its_own(sb):
    data = post(
        sb,
        "/sms/send",
        [{"to": "+61412345678", "body": "from support", "custom_string": "t-sub"}],
        who="support",
    ).json()["data"]
    sid = data["messages"][0]["subaccount_id"]
    assert get(sb, "/sms/history", who="support", q="custom_string:t-sub")["total"] == 1
    assert get(sb, "/sms/history", who="alerts", q="custom_string:t-sub")["total"] == 0
    assert get(sb, "/sms/history", q="custom_string:t-sub")["data"][0]["subaccount_id"] == sid


def test_nocredit_sends_nothing(sb):
    msgs = [
        {"to": "+61412345678", "body": "hi"},
        {"to": "+61411111111", "body": "test number"},
        {"to": "bad", "body": "x"},
    ]
    data = post(sb, "/sms/send", msgs, who="nocredit").json()["data"]
    assert [m["status"] for m in data["messages"]] == [
        "INSUFFICIENT_CREDIT",
        "INSUFFICIENT_CREDIT",
        "INVALID_RECIPIENT",
    ]
    assert data["queued_count"] == 0 and data["total_price"] == 0
    assert get(sb, "/sms/history", who="nocredit")["total"] == 0
    assert get(sb, "/account", who="nocredit")["balance"] == "0.000000"
    # A quote is still possible without credit.
    assert (
        post(sb, "/sms/price", msgs[:1], who="nocredit").json()["data"]["messages"][0]["status"]
        == "SUCCESS"
    )


def test_balance_runs_out_mid_batch(sb):
    sb.set_balance(sb.credentials["username"], 0.2)
    data = post(sb, "/sms/send", [{"to": "+61412345678", "body": "x"}] * 3).json()["data"]
    assert [m["status"] for m in data["messages"]] == ["SUCCESS", "SUCCESS", "INSUFFICIENT_CREDIT"]
    assert balance(sb) == pytest.approx(0.2 - 0.154)


def test_price_changes_nothing(sb):
    before = (balance(sb), get(sb, "/sms/history")["total"])
    data = post(
        sb,
        "/sms/price",
        [{"to": "+447700900123", "body": "quote me"}, {"to": "+61411111111", "body": "free"}],
    ).json()["data"]
    assert [m["message_price"] for m in data["messages"]] == ["0.0660", "0.0000"]
    assert data["total_price"] == pytest.approx(0.066) and data["messages"][0]["country"] == "GB"
    assert (balance(sb), get(sb, "/sms/history")["total"]) == before


def test_reset_undoes_sends(sb):
    seeded = get(sb, "/sms/history")["total"]
    post(sb, "/sms/send", [{"to": "+61412345678", "body": "x"}])
    assert get(sb, "/sms/history")["total"] == seeded + 1
    sb.reset()
    assert get(sb, "/sms/history")["total"] == seeded


def test_insert_sms_helper(sb):
    truth_before = sb.truth_sms_ids()
    ids = sb.insert_sms(3)
    assert sb.truth_sms_ids() == truth_before + ids
    # A row dated in the middle of the history lands in its place in default order.
    mid = get(sb, "/sms/history", page=10)["data"][0]["date"]
    (one,) = sb.insert_sms(1, date=mid, subaccount_id=60313)
    truth = sb.truth_sms_ids()
    rows = []
    page = 1
    while True:
        d = get(sb, "/sms/history", page=page, limit=100)
        rows += [r["message_id"] for r in d["data"]]
        if not d["next_page_url"]:
            break
        page += 1
    assert rows == truth and one in truth and truth.index(one) < len(truth) - 3
    assert one in sb.truth_sms_ids(username="csframe_support")
    assert datetime.fromtimestamp(mid, UTC).year >= 2025
