"""MMS, voice calls and faxes sent through the sandbox move on like SMS: ``Sent`` for
``delivery_delay_s``, then ``Completed``/``Failed`` with their channel's codes, a receipt
on the channel's receipt endpoint (MMS: the SMS inbox) and a push to the channel's
loopback receipt rules."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from csframe.sandbox import running
from csframe.sandbox.delivery import FAX_FAILURES, VOICE_FAILURES

NOW = "2026-11-01T00:00:00Z"
JPG = "https://media.example/x.jpg"
PDF = "https://files.example/invoice.pdf"


@pytest.fixture(scope="module")
def sb():
    with running(scale="tiny", seed=5, now=NOW, behaviour={"delivery_delay_s": 1}) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def fresh(sb):
    sb.reset()
    sb.set_behaviour(delivery_delay_s=1, reply_rate=0)


def auth(sb) -> tuple[str, str]:
    return sb.credentials["username"], sb.credentials["api_key"]


def post(sb, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    r = requests.post(sb.base_url + path, json=payload, auth=auth(sb), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def get(sb, path: str, **params: Any) -> dict[str, Any]:
    r = requests.get(sb.base_url + path, params=params, auth=auth(sb), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def pages(sb, path: str, **params: Any) -> list[dict[str, Any]]:
    out, page = [], 1
    while True:
        data = get(sb, path, page=page, limit=100, **params)
        out += data["data"]
        if data["next_page_url"] is None:
            return out
        page += 1


def numbers(n: int) -> list[str]:
    return [f"+614{10_000_000 + 7919 * i}" for i in range(n)]


def wait_delivered(sb, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while sb.behaviour()["pending"] and time.monotonic() < deadline:
        time.sleep(0.05)


def send_all(sb, n: int) -> dict[str, set[str]]:
    """n MMS, n voice calls and n faxes; their message ids per channel."""
    mms = post(
        sb,
        "/mms/send",
        {
            "media_file": JPG,
            "messages": [
                {"to": to, "subject": "Hi", "body": f"m{i}"} for i, to in enumerate(numbers(n))
            ],
        },
    )
    voice = post(
        sb,
        "/voice/send",
        {
            "messages": [
                {"to": to, "body": f"v{i}", "require_input": 1} for i, to in enumerate(numbers(n))
            ]
        },
    )
    fax = post(
        sb,
        "/fax/send",
        {
            "file_url": PDF,
            "messages": [
                {"to": f"+6129{1_000_000 + i:07d}", "from": "+61390001234"} for i in range(n)
            ],
        },
    )
    out = {}
    for name, data in (("mms", mms), ("voice", voice), ("fax", fax)):
        assert data["queued_count"] == n, data
        out[name] = {m["message_id"] for m in data["messages"]}
    return out


def history(sb, channel: str, ids: set[str]) -> dict[str, dict[str, Any]]:
    return {r["message_id"]: r for r in pages(sb, f"/{channel}/history") if r["message_id"] in ids}


def test_mms_voice_and_fax_move_on_after_the_delay_with_receipts(sb):
    receipts_before = {
        "sms": len(pages(sb, "/sms/receipts")),
        "voice": len(pages(sb, "/voice/receipts")),
        "fax": len(pages(sb, "/fax/receipts")),
    }
    ids = send_all(sb, 40)
    # Right after the send: every one still in flight, no receipt.
    for channel in ("mms", "voice", "fax"):
        assert {r["status"] for r in history(sb, channel, ids[channel]).values()} == {"Sent"}
    assert len(pages(sb, "/voice/receipts")) == receipts_before["voice"]
    wait_delivered(sb)
    mms = history(sb, "mms", ids["mms"])
    voice = history(sb, "voice", ids["voice"])
    fax = history(sb, "fax", ids["fax"])
    for rows in (mms, voice, fax):
        assert len(rows) == 40
        assert {r["status"] for r in rows.values()} <= {"Completed", "Failed"}
        assert "Completed" in {r["status"] for r in rows.values()}
    for r in mms.values():
        if r["status"] == "Completed":
            assert (r["status_code"], r["status_text"]) == (
                "201",
                "Success: Message received on handset.",
            )
        else:
            assert r["status_code"] in {"301", "302", "303"} and r["error_text"]
    voice_codes = {c for c, _, _ in VOICE_FAILURES}
    for r in voice.values():
        assert (r["status_code"], r["status_text"]) == ("201", "Delivered") or (
            r["status"] == "Failed" and r["status_code"] in voice_codes
        )
    assert any(r["digits"] in ("1", "2") for r in voice.values())  # keypresses asked for
    fax_codes = {c for c, _, _ in FAX_FAILURES}
    for r in fax.values():
        assert r["status_code"] == "201" or r["status_code"] in fax_codes
    # One receipt each, on the channel's endpoint; MMS ones in the SMS inbox.
    sms_receipts = [x for x in pages(sb, "/sms/receipts") if x["message_id"] in ids["mms"]]
    assert len(sms_receipts) == 40
    for x in sms_receipts:
        assert x["message_type"] == x["_message_type"] == "mms"
        assert x["status_code"] == int(mms[x["message_id"]]["status_code"])
    one = get(sb, f"/sms/receipts/{next(iter(ids['mms']))}")
    assert one["message_type"] == "mms"
    voice_receipts = [x for x in pages(sb, "/voice/receipts") if x["message_id"] in ids["voice"]]
    assert len(voice_receipts) == 40
    for x in voice_receipts:
        row = voice[x["message_id"]]
        assert (x["status_code"], x["status_text"]) == (row["status_code"], row["status_text"])
        assert x["digits"] == (row["digits"] or "")
    fax_receipts = [x for x in pages(sb, "/fax/receipts") if x["message_id"] in ids["fax"]]
    assert len(fax_receipts) == 40
    assert {x["message_type"] for x in fax_receipts} == {"fax"}
    some = next(iter(ids["fax"]))
    assert get(sb, f"/fax/receipts/{some}")["status"] == fax[some]["status"]
    assert sb.behaviour()["delivered"] == 120


def sandbox_now(sb) -> int:
    """Sandbox time (``NOW`` plus the time elapsed since start): a sent call's date."""
    data = post(sb, "/voice/send", {"messages": [{"to": numbers(1)[0], "body": "clock"}]})
    mid = data["messages"][0]["message_id"]
    return int(history(sb, "voice", {mid})[mid]["date_added"])


def test_scheduled_voice_is_released_when_due_and_a_cancelled_one_is_not(sb):
    sb.set_behaviour(delivery_delay_s=0, reply_rate=0)
    at = sandbox_now(sb) + 2
    msgs = [{"to": to, "body": "later", "schedule": at} for to in numbers(2)]
    data = post(sb, "/voice/send", {"messages": msgs})
    due, cancelled = (m["message_id"] for m in data["messages"])
    r = requests.put(sb.base_url + f"/voice/{cancelled}/cancel", auth=auth(sb), timeout=30)
    assert r.status_code == 200, r.text
    assert history(sb, "voice", {due})[due]["status"] == "Scheduled"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and sb.behaviour()["pending"]:
        time.sleep(0.1)
    rows = history(sb, "voice", {due, cancelled})
    assert rows[due]["status"] in ("Completed", "Failed")
    assert rows[cancelled]["status"] == "Cancelled"
    receipts = {x["message_id"] for x in pages(sb, "/voice/receipts")}
    assert due in receipts and cancelled not in receipts


def test_seeded_scheduled_messages_move_on_when_their_time_comes(sb):
    sb.set_behaviour(delivery_delay_s=0, reply_rate=0)
    seeded = {
        ch: {r["message_id"]: r for r in pages(sb, f"/{ch}/history", q="status:Scheduled")}
        for ch in ("sms", "mms", "voice")
    }
    assert all(seeded.values()), {ch: len(v) for ch, v in seeded.items()}
    # Seeded ones are watched (scheduled) but owed by no send (pending).
    assert sb.behaviour()["scheduled"] == sum(map(len, seeded.values()))
    assert sb.behaviour()["pending"] == 0
    # Nothing moves before its time ...
    latest = max(int(r["schedule"]) for rows in seeded.values() for r in rows.values())
    first = min(int(r["schedule"]) for rows in seeded.values() for r in rows.values())
    sb.advance_clock(first - sb.now() - 60)
    for ch, rows in seeded.items():
        assert {r["status"] for r in history(sb, ch, set(rows)).values()} == {"Scheduled"}
    # ... and everything once sandbox time has passed the last schedule.
    sb.advance_clock(latest - sb.now() + 1)
    wait_delivered(sb)
    assert sb.behaviour()["scheduled"] == 0
    for ch, rows in seeded.items():
        now = history(sb, ch, set(rows))
        assert {r["status"] for r in now.values()} <= {"Completed", "Failed"}, ch
    receipts = {x["message_id"] for x in pages(sb, "/sms/receipts")}
    assert set(seeded["sms"]) | set(seeded["mms"]) <= receipts
    assert set(seeded["voice"]) <= {x["message_id"] for x in pages(sb, "/voice/receipts")}
    moved = {ch: history(sb, ch, set(rows)) for ch, rows in seeded.items()}
    # A reset restores them; time does not go back, so they move again, the same way.
    sb.reset()
    deadline = time.monotonic() + 20
    while sb.behaviour()["scheduled"] and time.monotonic() < deadline:
        time.sleep(0.05)
    wait_delivered(sb)
    for ch, rows in seeded.items():
        again = history(sb, ch, set(rows))
        assert {k: r["status_code"] for k, r in again.items()} == {
            k: r["status_code"] for k, r in moved[ch].items()
        }
