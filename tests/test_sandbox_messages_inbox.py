"""Sandbox messages area over loopback: delivery receipts (SMS, voice, fax), inbound SMS
with opt-outs, read state, test receipts/inbound, and SMS/voice statistics -- all checked
against the history rows they are computed from.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
import requests
from test_sandbox_messages import ENDPOINTS, all_rows, get, openapi, validate  # noqa: F401

from csframe.sandbox import running
from csframe.sandbox.models_messages import is_opt_out

NOW = "2026-11-01T00:00:00Z"


@pytest.fixture(scope="module")
def sb():
    with running(scale="small", seed=42, now=NOW) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def http(sb):
    with requests.Session() as s:
        s.auth = (sb.credentials["username"], sb.credentials["api_key"])
        yield s


@pytest.fixture
def fresh(sb):
    """Tests that mark things read or add rows start from, and leave, the seeded state."""
    sb.reset()
    yield sb
    sb.reset()


@pytest.fixture(scope="module")
def sms(sb, http) -> dict[str, dict[str, Any]]:
    return {r["message_id"]: r for r in all_rows(sb, http, "/sms/history")}


def truth(sb, what: str, **params: Any) -> list[str]:
    r = requests.get(
        f"{sb.root_url}/_sandbox/truth/{what}", params=params, headers=sb.admin_headers
    )
    assert r.status_code == 200, r.text
    return r.json()["message_ids"]


def login(sb, name: str) -> tuple[str, str]:
    acc = sb.accounts[name]
    return acc["username"], acc["api_key"]


# ---------------------------------------------------------------- receipts


def test_sms_receipts_match_history(sb, http, sms):
    receipts = all_rows(sb, http, "/sms/receipts")
    ids = [r["message_id"] for r in receipts]
    assert ids == truth(sb, "receipts/sms", unread=1)
    final = {m for m, r in sms.items() if r["status"] in ("Completed", "Failed")}
    assert set(ids) == final and len(ids) == len(final)  # one receipt per delivered/failed SMS
    for rec in receipts:
        h = sms[rec["message_id"]]
        assert rec["status_code"] == int(h["status_code"])
        assert rec["status_text"] == h["status_text"]
        assert rec["error_code"] == (int(h["error_code"]) if h["error_code"] else None)
        assert rec["error_text"] == h["error_text"]
        assert rec["custom_string"] == h["custom_string"]
        assert rec["subaccount_id"] == h["subaccount_id"]
        assert rec["timestamp_send"] == h["date"] < rec["timestamp"] <= h["date"] + 180
        assert rec["message_type"] == "sms"
    assert {r["status_code"] for r in receipts} >= {201, 301, 302}


def test_sms_receipt_by_id(sb, http, sms):
    delivered = next(m for m, r in sms.items() if r["status"] == "Completed")
    failed = next(m for m, r in sms.items() if r["status"] == "Failed")
    pending = next(m for m, r in sms.items() if r["status"] in ("Scheduled", "Sent", "Cancelled"))
    for mid, code in ((delivered, 201), (failed.lower(), int(sms[failed]["status_code"]))):
        body = get(sb, http, f"/sms/receipts/{mid}")
        assert body["response_msg"] == "Your receipt."
        assert (
            body["data"]["message_id"].lower() == mid.lower()
            and body["data"]["status_code"] == code
        )
    for mid in (pending, "00000000-0000-0000-0000-000000000000"):
        r = http.get(f"{sb.base_url}/sms/receipts/{mid}")
        assert r.status_code == 404 and r.json()["response_code"] == "NOT_FOUND"


@pytest.mark.parametrize("channel", ["voice", "fax"])
def test_voice_and_fax_receipts_match_history(sb, http, channel):
    history = {r["message_id"]: r for r in all_rows(sb, http, f"/{channel}/history")}
    receipts = all_rows(sb, http, f"/{channel}/receipts")
    assert [r["message_id"] for r in receipts] == truth(sb, f"receipts/{channel}")
    final = {m for m, r in history.items() if r["status"] in ("Completed", "Failed")}
    assert {r["message_id"] for r in receipts} == final and len(receipts) == len(final)
    for rec in receipts:
        h = history[rec["message_id"]]
        assert rec["status_code"] == h["status_code"] and rec["message_type"] == channel
        assert int(rec["timestamp_send"]) == h["date_added"] <= int(rec["timestamp"])
        if channel == "voice":
            assert rec["digits"] == (h["digits"] or "")
    fax_id = next(iter(history)) if channel == "fax" else None
    if fax_id:
        body = get(sb, http, f"/fax/receipts/{fax_id}")
        assert body["data"] == history[fax_id]
        assert http.get(f"{sb.base_url}/fax/receipts/nope").status_code == 404


def test_receipts_read_state(fresh, http, sms):
    sb = fresh
    receipts = all_rows(sb, http, "/sms/receipts")
    cut = receipts[len(receipts) // 2]["timestamp"]
    r = http.put(f"{sb.base_url}/sms/receipts-read", json={"date_before": cut})
    assert r.status_code == 200 and r.json()["response_msg"] == "Receipts has been marked as read."
    unread = all_rows(sb, http, "/sms/receipts")
    assert [x["message_id"] for x in unread] == [
        x["message_id"] for x in receipts if x["timestamp"] >= cut
    ]
    assert [x["message_id"] for x in unread] == truth(sb, "receipts/sms", unread=1)
    # a single receipt stays readable by id after it was marked read
    old = next(x for x in receipts if x["timestamp"] < cut)
    assert get(sb, http, f"/sms/receipts/{old['message_id']}")["data"] == old
    # everything read, then a test receipt: the inbox is exactly that one
    assert http.put(f"{sb.base_url}/sms/receipts-read").status_code == 200
    assert get(sb, http, "/sms/receipts")["data"]["total"] == 0
    added = http.post(f"{sb.base_url}/sms/receipts", json={"url": "https://example.com/hook"})
    assert added.status_code == 200 and added.json()["response_msg"] == "Receipt has been added"
    test_id = added.json()["data"]["message_id"]
    assert test_id not in sms
    page = get(sb, http, "/sms/receipts")["data"]
    assert page["total"] == 1 and page["data"][0]["message_id"] == test_id
    assert get(sb, http, f"/sms/receipts/{test_id}")["data"]["status_code"] == 201
    assert http.post(f"{sb.base_url}/sms/receipts", json={}).status_code == 400
    bad = http.put(f"{sb.base_url}/sms/receipts-read", json={"date_before": "soon"})
    assert bad.status_code == 400
    sb.reset()
    assert get(sb, http, "/sms/receipts")["data"]["total"] == len(receipts)


def test_subaccount_receipts_and_marking(fresh, http, sms):
    sb = fresh
    auth = login(sb, "alerts")
    mine = [
        m
        for m, r in sms.items()
        if r["_api_username"] == auth[0] and r["status"] in ("Completed", "Failed")
    ]
    r = requests.get(f"{sb.base_url}/sms/receipts", params={"limit": 100}, auth=auth)
    assert r.json()["data"]["total"] == len(mine) > 0
    assert requests.put(f"{sb.base_url}/sms/receipts-read", auth=auth).status_code == 200
    assert requests.get(f"{sb.base_url}/sms/receipts", auth=auth).json()["data"]["total"] == 0
    # the main login still has everyone else's unread: a fragmented read state
    rest = all_rows(sb, http, "/sms/receipts")
    assert {x["message_id"] for x in rest} == {
        m for m, r in sms.items() if r["status"] in ("Completed", "Failed")
    } - set(mine)
    assert [x["message_id"] for x in rest] == truth(sb, "receipts/sms", unread=1)


# ---------------------------------------------------------------- inbound


def test_inbound_replies_link_to_originals(sb, http, sms):
    inbound = all_rows(sb, http, "/sms/inbound")
    assert [x["message_id"] for x in inbound] == truth(sb, "inbound", unread=1)
    assert len(inbound) >= 50
    for msg in inbound:
        orig = sms[msg["original_message_id"]]
        assert orig["status"] == "Completed"
        assert msg["from"] == orig["to"] and msg["to"] == orig["from"]
        assert msg["original_body"] == orig["body"]
        assert msg["custom_string"] == (orig["custom_string"] or "")
        assert msg["timestamp"] >= orig["date"]
        assert msg["_keyword"] == "".join(c for c in msg["body"].split()[0].lower() if c.isalnum())
    stamps = [x["timestamp"] for x in inbound]
    assert stamps == sorted(stamps)


def test_inbound_opt_outs_are_truth_and_campaign_recipients(sb, http, sms):
    inbound = all_rows(sb, http, "/sms/inbound")
    stops = [x for x in inbound if is_opt_out(x["body"])]
    bodies = {x["body"] for x in stops}
    assert {"STOP", "Stop.", "stop all", "UNSUBSCRIBE"} & bodies and len(bodies) >= 5
    opt = requests.get(f"{sb.root_url}/_sandbox/truth/opt-outs", headers=sb.admin_headers).json()
    assert opt["numbers"] == sorted({x["from"] for x in stops})
    assert len(opt["numbers"]) == len(stops)  # one opt-out per number
    assert {m["message_id"] for m in opt["messages"]} == {x["message_id"] for x in stops}
    on_lists = [x for x in stops if sms[x["original_message_id"]]["list_id"]]
    assert len(on_lists) >= 0.9 * len(stops)
    for m in opt["messages"]:
        assert m["list_id"] == sms[m["original_message_id"]]["list_id"]
    # and there is ordinary chatter too
    assert len(stops) < len(inbound) / 2


def test_inbound_reply_lookup(sb, http):
    first = get(sb, http, "/sms/inbound")["data"]["data"][0]
    body = get(sb, http, f"/sms/inbound/{first['original_message_id']}")
    assert body["data"]["original_message_id"] == first["original_message_id"]
    assert http.get(f"{sb.base_url}/sms/inbound/NOPE").status_code == 404


def test_inbound_read_state_and_test_inbound(fresh, http):
    sb = fresh
    inbound = all_rows(sb, http, "/sms/inbound")
    one = inbound[3]
    r = http.put(f"{sb.base_url}/sms/inbound-read/{one['message_id']}")
    assert r.status_code == 200 and r.json()["data"] == 1
    left = all_rows(sb, http, "/sms/inbound")
    assert [x["message_id"] for x in left] == [x["message_id"] for x in inbound if x is not one]
    assert [x["message_id"] for x in left] == truth(sb, "inbound", unread=1)
    nope = http.put(f"{sb.base_url}/sms/inbound-read/NOPE")
    assert nope.status_code == 200 and nope.json()["data"] == 0  # nothing of that id
    cut = inbound[len(inbound) // 2]["timestamp"]
    assert http.put(f"{sb.base_url}/sms/inbound-read", json={"date_before": cut}).status_code == 200
    left = all_rows(sb, http, "/sms/inbound")
    assert [x["message_id"] for x in left] == [
        x["message_id"] for x in inbound if x["timestamp"] >= cut and x is not one
    ]
    added = http.post(f"{sb.base_url}/sms/inbound", json={"url": "https://example.com/in"})
    assert added.status_code == 200
    data = added.json()["data"]
    last = all_rows(sb, http, "/sms/inbound")[-1]
    assert last["message_id"] == data["message_id"] and last["body"] == data["body"]
    assert data["original_message_id"] and data["timestamp_send"] == data["timestamp"]
    assert http.post(f"{sb.base_url}/sms/inbound", data="[]").status_code == 400


# ---------------------------------------------------------------- statistics


def test_sms_statistics_are_counts_of_history(sb, http, sms):
    data = get(sb, http, "/statistics/sms")["data"]
    days = data["stats"]
    assert len(days) == 30 and data["stat"] == days
    start, end = days[0]["date"], days[-1]["date"] + 86400
    inbound = all_rows(sb, http, "/sms/inbound")
    expect = {d["date"]: Counter() for d in days}
    for r in sms.values():
        if start <= r["date"] < end:
            day = start + (r["date"] - start) // 86400 * 86400
            expect[day]["out"] += 1
            expect[day]["out_price"] += round(float(r["message_price"]) * 1e6)
            if r["status"] == "Failed":
                expect[day]["bounced"] += 1
                expect[day]["bounced_price"] += round(float(r["message_price"]) * 1e6)
    for x in inbound:
        if start <= x["timestamp"] < end:
            expect[start + (x["timestamp"] - start) // 86400 * 86400]["in"] += 1
    for d in days:
        e = expect[d["date"]]
        assert d["outbound"]["count"] == e["out"], d["date"]
        assert d["outbound"]["price"] == pytest.approx(e["out_price"] / 1e6, abs=1e-6)
        assert d["bounced"]["count"] == e["bounced"]
        assert d["bounced"]["price"] == pytest.approx(e["bounced_price"] / 1e6, abs=1e-6)
        assert d["inbound"]["count"] == e["in"]
    assert data["total"]["outbound"]["count"] == sum(e["out"] for e in expect.values()) > 0
    assert data["total"]["inbound"]["count"] == sum(e["in"] for e in expect.values())
    # What was sent, not what was billed: the window has refunds (which usage leaves out)
    # and the prices above are still the history's, refunded messages included.
    assert sb.refunds(start, end)


def test_voice_statistics_are_counts_of_history(sb, http):
    data = get(sb, http, "/statistics/voice")["data"]
    days = data["stats"]
    start, end = days[0]["date"], days[-1]["date"] + 86400
    voice = [r for r in all_rows(sb, http, "/voice/history") if start <= r["date_added"] < end]
    assert data["total"]["outbound"]["count"] == len(voice) > 0
    assert data["total"]["outbound"]["price"] == pytest.approx(
        sum(float(r["message_price"]) for r in voice), abs=1e-6
    )
    assert data["total"]["bounced"]["count"] == sum(r["status"] == "Failed" for r in voice)
    assert "inbound" not in data["total"]
    per_day = Counter(start + (r["date_added"] - start) // 86400 * 86400 for r in voice)
    assert {d["date"]: d["outbound"]["count"] for d in days if d["outbound"]["count"]} == dict(
        per_day
    )


# ---------------------------------------------------------------- types


def test_openapi_types_of_inbox(openapi, fresh, http):  # noqa: F811 (the imported fixture)
    sb = fresh
    validate(openapi, "view-sms-receipts", get(sb, http, "/sms/receipts", limit=100))
    one = get(sb, http, "/sms/receipts")["data"]["data"][0]["message_id"]
    validate(openapi, "view-specific-sms-receipt", get(sb, http, f"/sms/receipts/{one}"))
    validate(openapi, "view-voice-receipts", get(sb, http, "/voice/receipts", limit=100))
    validate(openapi, "view-inbound-sms", get(sb, http, "/sms/inbound", limit=100))
    orig = get(sb, http, "/sms/inbound")["data"]["data"][0]["original_message_id"]
    validate(openapi, "view-a-specific-inbound-sms-message", get(sb, http, f"/sms/inbound/{orig}"))
    validate(openapi, "view-sms-statistics", get(sb, http, "/statistics/sms"))
    validate(openapi, "view-voice-statistics", get(sb, http, "/statistics/voice"))
    hook = {"url": "https://example.com/x"}
    validate(
        openapi,
        "create-test-sms-receipt",
        http.post(f"{sb.base_url}/sms/receipts", json=hook).json(),
    )
    validate(
        openapi,
        "create-test-inbound-sms",
        http.post(f"{sb.base_url}/sms/inbound", json=hook).json(),
    )
    validate(
        openapi, "mark-sms-receipt-as-read", http.put(f"{sb.base_url}/sms/receipts-read").json()
    )
    validate(
        openapi, "mark-inbound-sms-as-read", http.put(f"{sb.base_url}/sms/inbound-read").json()
    )
    mid = truth(sb, "inbound")[0]
    validate(
        openapi,
        "mark-specific-inbound-sms-message-as-read",
        http.put(f"{sb.base_url}/sms/inbound-read/{mid}").json(),
    )


def test_fax_receipts_carry_the_reference_keys(sb, http):
    if not ENDPOINTS.is_file():
        pytest.skip(f"{ENDPOINTS} not present (a fresh clone has no ../shared)")
    eps = {(e["method"], e["path"]): e for e in json.loads(ENDPOINTS.read_text(encoding="utf-8"))}
    example = eps[("GET", "/fax/receipts")]["example_response"]["data"]["data"][0]
    for rec in get(sb, http, "/fax/receipts", limit=100)["data"]["data"]:
        assert set(example) <= set(rec)
        assert all(type(rec[k]) is type(v) for k, v in example.items() if v is not None)
    sms_example = eps[("GET", "/sms/receipts")]["example_response"]["data"]["data"][0]
    assert set(sms_example) <= set(get(sb, http, "/sms/receipts")["data"]["data"][0])
