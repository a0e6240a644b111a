"""THROTTLED (a per-account rate, identical messages) and SMS truncation after the
reference's 6-part limit, priced as truncated."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from csframe.sandbox import running
from csframe.sandbox.encoding import MAX_SMS_PARTS, sms_parts
from csframe.sandbox.pricing import PRICE_MICROS

NOW = "2026-11-01T00:00:00Z"


@pytest.fixture(scope="module")
def sb():
    with running(scale="tiny", seed=5, now=NOW) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def fresh(sb):
    sb.reset()
    sb.set_behaviour()
    yield
    sb.set_behaviour()


def send(sb, messages: list[dict[str, Any]], path: str = "/sms/send") -> dict[str, Any]:
    r = requests.post(
        sb.base_url + path, json={"messages": messages}, auth=tuple(sb.credentials.values())
    )
    assert r.status_code == 200, r.text
    return r.json()["data"]


def history_total(sb) -> int:
    r = requests.get(sb.base_url + "/sms/history", auth=tuple(sb.credentials.values()))
    return r.json()["data"]["total"]


def test_messages_beyond_the_account_rate_are_throttled_and_free(sb):
    sb.set_behaviour(throttle_rate=5)
    before = history_total(sb)
    out = send(sb, [{"to": f"+6141100{i:04d}", "body": f"m{i}"} for i in range(12)])
    statuses = [m["status"] for m in out["messages"]]
    assert statuses[:5] == ["SUCCESS"] * 5 and set(statuses[5:]) == {"THROTTLED"}
    assert out["queued_count"] == 5
    assert out["total_price"] == pytest.approx(5 * PRICE_MICROS["AU"] / 1e6)
    assert history_total(sb) == before + 5  # throttled ones are not stored
    time.sleep(0.5)  # the bucket refills at 5/s
    again = send(sb, [{"to": "+61411009999", "body": "later"}])
    assert again["messages"][0]["status"] == "SUCCESS"


def test_an_identical_message_to_the_same_number_is_throttled(sb):
    sb.set_behaviour(throttle_duplicates_s=30)
    first = send(sb, [{"to": "+61411000001", "body": "same"}])
    dup = send(
        sb,
        [
            {"to": "+61411000001", "body": "same"},
            {"to": "+61411000001", "body": "different"},
            {"to": "+61411000002", "body": "same"},
        ],
    )
    assert first["messages"][0]["status"] == "SUCCESS"
    assert [m["status"] for m in dup["messages"]] == ["THROTTLED", "SUCCESS", "SUCCESS"]


def test_no_throttling_by_default(sb):
    out = send(sb, [{"to": "+61411000001", "body": "same"}] * 50)
    assert out["queued_count"] == 50


@pytest.mark.parametrize("body", ["x" * 2000, "é" * 1500 + "😀" * 10])
@pytest.mark.parametrize("path", ["/sms/send", "/sms/price"])
def test_long_messages_are_truncated_after_six_parts_and_priced_so(sb, body, path):
    out = send(sb, [{"to": "+61411000003", "body": body}], path)
    m = out["messages"][0]
    assert m["message_parts"] == MAX_SMS_PARTS
    assert body.startswith(m["body"]) and len(m["body"]) < len(body)
    assert sms_parts(m["body"])[2] == MAX_SMS_PARTS
    assert float(m["message_price"]) == pytest.approx(MAX_SMS_PARTS * PRICE_MICROS["AU"] / 1e6)


def test_six_parts_are_not_truncated(sb):
    body = "y" * (153 * 6)
    m = send(sb, [{"to": "+61411000004", "body": body}])["messages"][0]
    assert m["body"] == body and m["message_parts"] == 6
