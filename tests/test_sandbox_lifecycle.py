"""Sandbox message lifecycle over loopback: sent SMS are delivered (or fail) after
``delivery_delay_s`` and get receipts; the delay is a public, settable option."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from csframe.sandbox import running
from csframe.sandbox.lifecycle import OUTCOMES, outcome_shares

NOW = "2026-11-01T00:00:00Z"
DELIVERED_TEXT = "Success: Message received on handset."


@pytest.fixture(scope="module")
def sb():
    with running(scale="tiny", seed=5, now=NOW, delivery_delay_s=0.4) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def fresh(sb):
    sb.reset()
    sb.set_behaviour(delivery_delay_s=0.4)
    yield


def auth(sb, who: str = "main") -> tuple[str, str]:
    acc = sb.accounts[who]
    return acc["username"], acc["api_key"]


def send(sb, messages: list[dict[str, Any]]) -> dict[str, Any]:
    r = requests.post(sb.base_url + "/sms/send", json={"messages": messages}, auth=auth(sb))
    assert r.status_code == 200, r.text
    return r.json()["data"]


def get(sb, path: str, **params: Any) -> dict[str, Any]:
    r = requests.get(sb.base_url + path, params=params, auth=auth(sb))
    assert r.status_code == 200, r.text
    return r.json()["data"]


def numbers(n: int, prefix: str = "+614", digits: int = 8) -> list[str]:
    return [f"{prefix}{10 ** (digits - 1) + 7919 * i}" for i in range(n)]


def history_of(sb, ids: set[str]) -> dict[str, dict[str, Any]]:
    rows = get(sb, "/sms/history", q="status:Sent", limit=100)["data"]
    rows += get(sb, "/sms/history", order_by="date:desc", limit=100)["data"]
    return {r["message_id"]: r for r in rows if r["message_id"] in ids}


def all_receipts(sb) -> list[dict[str, Any]]:
    out, page = [], 1
    while True:
        data = get(sb, "/sms/receipts", page=page, limit=100)
        out += data["data"]
        if data["next_page_url"] is None:
            return out
        page += 1


def wait_delivered(sb, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while sb.behaviour()["pending"] and time.monotonic() < deadline:
        time.sleep(0.05)


def test_sent_messages_are_delivered_after_the_delay_with_receipts(sb):
    sb.set_behaviour(delivery_delay_s=2)  # ample time to look before the delay runs out
    receipts_before = len(all_receipts(sb))
    out = send(sb, [{"to": to, "body": f"hello {i}"} for i, to in enumerate(numbers(60))])
    ids = {m["message_id"] for m in out["messages"]}
    assert out["queued_count"] == 60
    # Right after the send: still Sent, no receipt.
    now = history_of(sb, ids)
    assert {r["status"] for r in now.values()} == {"Sent"}
    assert len(all_receipts(sb)) == receipts_before
    time.sleep(2.2)  # past the delay: the next request sees every delivery
    later = history_of(sb, ids)
    assert len(later) == 60
    statuses = {r["status"] for r in later.values()}
    assert statuses <= {"Completed", "Failed"} and "Completed" in statuses
    for r in later.values():
        if r["status"] == "Completed":
            assert (r["status_code"], r["status_text"]) == ("201", DELIVERED_TEXT)
            assert r["error_code"] is None
        else:
            assert r["status_code"] in {"301", "302", "303"} and r["error_text"]
    receipts = [x for x in all_receipts(sb) if x["message_id"] in ids]
    assert len(receipts) == 60
    by_id = {x["message_id"]: x for x in receipts}
    for mid, r in later.items():
        rec = by_id[mid]
        assert rec["status_code"] == int(r["status_code"])  # OpenAPI: integer in receipts
        assert rec["status_text"] == r["status_text"]
        assert rec["timestamp"] >= rec["timestamp_send"]
    one = get(sb, f"/sms/receipts/{next(iter(ids))}")
    assert one["message_id"] in ids


def test_outcomes_follow_realistic_shares(sb):
    sb.set_behaviour(delivery_delay_s=0)
    au = send(sb, [{"to": to, "body": "au"} for to in numbers(400)])
    us = send(
        sb,
        [{"to": to, "body": "us", "from": "ACME"} for to in numbers(400, prefix="+1405", digits=7)],
    )
    assert au["queued_count"] == us["queued_count"] == 400
    ids_au = {m["message_id"] for m in au["messages"]}
    ids_us = {m["message_id"] for m in us["messages"]}
    rows = []
    for page in range(1, 10):
        rows += get(sb, "/sms/history", order_by="date:desc", limit=100, page=page)["data"]
    got = {r["message_id"]: r["status"] for r in rows}
    delivered_au = sum(got[m] == "Completed" for m in ids_au) / 400
    delivered_us = sum(got[m] == "Completed" for m in ids_us) / 400
    assert abs(delivered_au - outcome_shares("AU", "+61481070000")["Delivered"]) < 0.05
    # Alphanumeric senders fare badly on North American carriers.
    assert abs(delivered_us - outcome_shares("US", "ACME")["Delivered"]) < 0.08
    assert delivered_us < delivered_au - 0.2


def test_zero_delay_delivers_in_the_send_request(sb):
    sb.set_behaviour(delivery_delay_s=0)
    out = send(sb, [{"to": "+61411000001", "body": "instant"}])
    mid = out["messages"][0]["message_id"]
    assert out["messages"][0]["status"] == "SUCCESS"  # the send answer is unchanged
    rec = get(sb, f"/sms/receipts/{mid}")
    assert rec["status_text"] in {o[2] for o in OUTCOMES.values()}


def test_delivery_happens_without_requests_and_reset_drops_pending(sb):
    sb.set_behaviour(delivery_delay_s=1)
    out = send(sb, [{"to": to, "body": "x"} for to in numbers(5)])
    assert sb.behaviour()["pending"] == 5
    wait_delivered(sb)
    assert sb.behaviour()["pending"] == 0  # the thread delivered them, nobody polled
    assert all(get(sb, f"/sms/receipts/{m['message_id']}") for m in out["messages"])
    sb.set_behaviour(delivery_delay_s=30)
    send(sb, [{"to": "+61411000002", "body": "later"}])
    assert sb.behaviour()["pending"] == 1
    sb.reset()
    assert sb.behaviour()["pending"] == 0


def test_campaign_messages_are_delivered_too(sb):
    sb.set_behaviour(delivery_delay_s=0)
    lists = get(sb, "/lists", limit=100)["data"]
    target = next(x for x in lists if 0 < x["_contacts_count"] <= 300)
    r = requests.post(
        sb.base_url + "/sms-campaigns/send",
        json={"list_id": target["list_id"], "name": "lc", "body": "Hi", "from": "ACME"},
        auth=auth(sb),
    )
    assert r.status_code == 200, r.text
    rows = get(sb, "/sms/history", q=f"list_id:{target['list_id']}", order_by="date:desc")
    newest = rows["data"][0]
    assert newest["body"] == "Hi" and newest["status"] in {"Completed", "Failed"}


def test_behaviour_is_validated(sb):
    with pytest.raises(ValueError, match="delivery_delay_s"):
        sb.set_behaviour(delivery_delay_s=-1)
    with pytest.raises(ValueError, match="unknown behaviour"):
        sb.set_behaviour(delivery_delay=1)
    with (
        pytest.raises(ValueError, match="delivery_delay_s"),
        running(scale=10, delivery_delay_s=-2),
    ):
        pass


def test_recipients_reply_by_themselves_and_their_stops_block(sb):
    sb.set_behaviour(delivery_delay_s=0, reply_rate=1)  # everyone answers
    out = send(sb, [{"to": to, "body": "survey"} for to in numbers(20, prefix="+6142", digits=7)])
    assert out["queued_count"] == 20
    ids = {m["message_id"] for m in out["messages"]}
    inbox = []
    for page in (1, 2, 3):
        inbox += get(sb, "/sms/inbound", order_by="date:desc", limit=100, page=page)["data"]
    replies = [m for m in inbox if m["original_message_id"] in ids]
    assert len(replies) == 20
    stops = {m["from"] for m in replies if m["body"] == "STOP"}
    assert stops and len(stops) < 20  # some, not all, opt out
    again = send(sb, [{"to": to, "body": "follow-up"} for to in sorted(stops)])
    assert again["blocked_count"] == len(stops)


def test_replies_arrive_at_a_low_rate_by_default(sb):
    assert sb.behaviour()["reply_rate"] == pytest.approx(0.02)
    sb.set_behaviour(delivery_delay_s=0, reply_rate=0)
    out = send(sb, [{"to": to, "body": "quiet"} for to in numbers(30, prefix="+6143", digits=7)])
    assert out["queued_count"] == 30
    ids = {m["message_id"] for m in out["messages"]}
    inbox = get(sb, "/sms/inbound", order_by="date:desc", limit=100)["data"]
    assert not [m for m in inbox if m["original_message_id"] in ids]


def test_scheduled_messages_go_when_due_unless_cancelled(sb):
    sb.set_behaviour(delivery_delay_s=0, reply_rate=0)
    now = send(sb, [{"to": "+61411000101", "body": "clock"}])["messages"][0]["date"]
    out = send(
        sb,
        [
            {"to": "+61411000102", "body": "later", "schedule": now + 1},
            {"to": "+61411000103", "body": "cancelled", "schedule": now + 1},
        ],
    )
    keep, drop = (m["message_id"] for m in out["messages"])
    r = requests.put(sb.base_url + f"/sms/{drop}/cancel", auth=auth(sb))
    assert r.status_code == 200, r.text
    rows = history_of(sb, {keep})
    assert rows[keep]["status"] == "Scheduled"
    deadline = time.monotonic() + 10
    while sb.behaviour()["pending"] and time.monotonic() < deadline:
        time.sleep(0.05)
    rows = get(sb, "/sms/history", order_by="date:desc", limit=100)["data"]
    status = {r["message_id"]: r["status"] for r in rows}
    assert status[keep] in {"Completed", "Failed"}  # released, then delivered
    assert status[drop] == "Cancelled"
    assert get(sb, f"/sms/receipts/{keep}")["message_id"] == keep


def test_undelivered_sends_are_refunded_to_the_balance_and_usage(sb):
    """A share (``refund_share``) of the sends that fail for a number not in service are
    refunded: the balance gets their price back and usage leaves them out, while history
    keeps them at the price charged."""
    sb.set_behaviour(delivery_delay_s=0, refund_share=1, reply_rate=0)
    before = float(get(sb, "/account")["balance"])
    # An alphanumeric sender to US numbers: about half fail, a half of those Undelivered.
    out = send(sb, [{"to": to, "from": "ACME", "body": "us"} for to in numbers(80, "+1212", 7)])
    ids = {m["message_id"] for m in out["messages"]}
    rows = history_of(sb, ids)
    assert len(rows) == 80
    undelivered = {mid for mid, r in rows.items() if r["status_code"] == "301"}
    assert len(undelivered) >= 5
    refunded = {r["message_id"] for r in sb.refunds() if r["message_id"] in ids}
    assert refunded == undelivered
    credit = sum(float(rows[mid]["message_price"]) for mid in refunded)
    balance = float(get(sb, "/account")["balance"])
    assert balance == pytest.approx(before - out["total_price"] + credit, abs=1e-6)
    # Usage of the running month: the history's sum less the refunds.
    now = time.gmtime(sb.refunds()[-1]["date"])
    usage = get(sb, f"/account/usage/{now.tm_year}/{now.tm_mon}/subaccount")["sms_total"]
    month = [r for r in sb.refunds() if time.gmtime(r["date"])[:2] == now[:2]]
    sb.set_behaviour(delivery_delay_s=0, refund_share=0)  # refunds off: usage is history
    assert sb.refunds() == []
    plain = get(sb, f"/account/usage/{now.tm_year}/{now.tm_mon}/subaccount")["sms_total"]
    assert plain["price"] - usage["price"] == pytest.approx(
        sum(float(r["message_price"]) for r in month), abs=1e-6
    )
    assert plain["count"] - usage["count"] == sum(r["message_parts"] for r in month)
