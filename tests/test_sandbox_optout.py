"""Sandbox opt-outs over loopback: a STOP injected with ``sb.inbound`` (or a number on the
account's "Opt-outs" list) blocks later sends to that number, free of charge."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from csframe.sandbox import running
from csframe.sandbox.pricing import normalise_number

NOW = "2026-11-01T00:00:00Z"
SENDER = "+61481070000"


@pytest.fixture(scope="module")
def sb():
    # No spontaneous replies: these tests count the replies they inject.
    with running(
        scale="tiny", seed=5, now=NOW, behaviour={"delivery_delay_s": 0, "reply_rate": 0}
    ) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def fresh(sb):
    sb.reset()
    yield


def auth(sb) -> tuple[str, str]:
    return sb.credentials["username"], sb.credentials["api_key"]


def send(sb, messages: list[dict[str, Any]]) -> dict[str, Any]:
    r = requests.post(sb.base_url + "/sms/send", json={"messages": messages}, auth=auth(sb))
    assert r.status_code == 200, r.text
    return r.json()["data"]


def get(sb, path: str, **params: Any) -> dict[str, Any]:
    r = requests.get(sb.base_url + path, params=params, auth=auth(sb))
    assert r.status_code == 200, r.text
    return r.json()["data"]


def balance(sb) -> float:
    return float(get(sb, "/account")["balance"])


def test_stop_blocks_the_next_send_free_of_charge(sb):
    number = "+61411000111"
    first = send(sb, [{"to": number, "body": "Sale today", "from": "ACME"}])
    assert first["messages"][0]["status"] == "SUCCESS" and first["blocked_count"] == 0
    got = sb.inbound(number, "ACME", "Stop")
    assert got["opt_out"] is True
    assert got["original_message_id"] == first["messages"][0]["message_id"]
    inbox = get(sb, "/sms/inbound", q=f"from:{number}")["data"]
    assert [m["body"] for m in inbox] == ["Stop"]

    before = balance(sb)
    out = send(
        sb,
        [
            {"to": number, "body": "Another sale", "from": "ACME"},
            {"to": "+61411000222", "body": "Another sale", "from": "ACME"},
        ],
    )
    assert [m["status"] for m in out["messages"]] == ["BLOCKED", "SUCCESS"]
    assert out["blocked_count"] == 1 and out["queued_count"] == 1
    assert out["messages"][0]["message_price"] == "0.0000"
    au_part = out["messages"][1]["message_price"]
    assert out["total_price"] == pytest.approx(float(au_part))
    assert balance(sb) == pytest.approx(before - float(au_part))  # the blocked one is free
    blocked_id = out["messages"][0]["message_id"]
    row = next(
        r for r in get(sb, "/sms/history", q=f"to:{number}", limit=100)["data"]
        if r["message_id"] == blocked_id
    )  # fmt: skip
    assert (row["status"], row["status_code"], row["message_price"]) == (
        "Failed",
        "304",
        "0.000000",
    )
    # Its receipt is derived like the seeded failures' (incrementally, after the first
    # sync): listed once, in order, and by id.
    assert get(sb, f"/sms/receipts/{blocked_id}")["status_code"] == 304
    listed, page = [], 1
    while True:
        block = get(sb, "/sms/receipts", page=page, limit=100)
        listed += [r["message_id"] for r in block["data"]]
        if block["next_page_url"] is None:
            break
        page += 1
    assert len(listed) == len(set(listed)) == block["total"] and blocked_id in listed


def test_a_reply_that_is_not_an_opt_out_does_not_block(sb):
    number = "+61411000333"
    send(sb, [{"to": number, "body": "Your order shipped"}])
    assert sb.inbound(number, SENDER, "thanks, stop by later?")["opt_out"] is False
    out = send(sb, [{"to": number, "body": "Delivered today"}])
    assert out["messages"][0]["status"] == "SUCCESS" and out["blocked_count"] == 0


def test_numbers_on_the_opt_out_list_are_blocked(sb):
    lists = get(sb, "/lists", limit=100)["data"]
    opt = next(x for x in lists if x["list_name"] == "Opt-outs")
    contacts = get(sb, f"/lists/{opt['list_id']}/contacts", limit=100)["data"]
    numbers = []
    for c in contacts:
        try:
            numbers.append(normalise_number(c["phone_number"], c.get("address_country") or "AU")[0])
        except Exception:
            continue
    assert numbers, "the seeded opt-out list has phone numbers"
    out = send(sb, [{"to": n, "body": "promo"} for n in numbers[:20]])
    assert out["blocked_count"] == len(numbers[:20]) and out["queued_count"] == 0
    assert out["total_price"] == 0


def test_changes_to_the_opt_out_list_apply_to_the_next_send(sb):
    opt = next(x for x in get(sb, "/lists", limit=100)["data"] if x["list_name"] == "Opt-outs")
    path = f"/lists/{opt['list_id']}/contacts"
    send(sb, [{"to": "+61411000666", "body": "before"}])  # fills the cache
    r = requests.post(sb.base_url + path, json={"phone_number": "+61411000666"}, auth=auth(sb))
    assert r.status_code == 200, r.text
    contact_id = r.json()["data"]["contact_id"]
    assert send(sb, [{"to": "+61411000666", "body": "added"}])["blocked_count"] == 1
    r = requests.put(
        sb.base_url + f"{path}/{contact_id}", json={"phone_number": "+61411000777"}, auth=auth(sb)
    )
    assert r.status_code == 200, r.text
    out = send(sb, [{"to": "+61411000666", "body": "a"}, {"to": "+61411000777", "body": "b"}])
    assert [m["status"] for m in out["messages"]] == ["SUCCESS", "BLOCKED"]
    requests.delete(sb.base_url + f"{path}/{contact_id}", auth=auth(sb))
    assert send(sb, [{"to": "+61411000777", "body": "removed"}])["blocked_count"] == 0


def test_sms_campaigns_skip_opted_out_members(sb):
    number = "+61411000444"
    lists = get(sb, "/lists", limit=100)["data"]
    target = next(
        x for x in lists if 0 < x["_contacts_count"] <= 300 and x["list_name"] != "Opt-outs"
    )
    r = requests.post(
        sb.base_url + f"/lists/{target['list_id']}/contacts",
        json={"phone_number": number, "first_name": "Stop"},
        auth=auth(sb),
    )
    assert r.status_code == 200, r.text
    sb.inbound(number, SENDER, "UNSUBSCRIBE")
    r = requests.post(
        sb.base_url + "/sms-campaigns/send",
        json={"list_id": target["list_id"], "name": "opt", "body": "Hi all", "from": "ACME"},
        auth=auth(sb),
    )
    assert r.status_code == 200, r.text
    sent_to = {
        m["to"]
        for m in get(sb, "/sms/history", order_by="date:desc", limit=100)["data"]
        if m["body"] == "Hi all"
    }
    assert sent_to and number not in sent_to


def test_inbound_is_validated(sb):
    with pytest.raises(ValueError, match="from_"):
        sb.inbound("not a number", SENDER, "STOP")
    with pytest.raises(ValueError, match="body"):
        sb.inbound("+61411000555", SENDER, "  ")
