"""Pushes: a delivered (or failed) SMS, MMS, voice call or fax is POSTed to the loopback
URL of an enabled "URL" receipt rule of its channel (``/automations/{sms,voice,fax}/
receipts``; MMS use the SMS rules), and an inbound SMS to the matching "URL" inbound rules
(``/automations/sms/inbound``), retried when the receiver fails."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from csframe.sandbox import running
from csframe.sandbox.lifecycle import is_loopback_url


class Receiver:
    """A loopback HTTP server that records pushes (form posts; JSON posts and GET query
    strings too, with ``kinds`` saying which); the first ``fail`` requests get 500."""

    def __init__(self, fail: int = 0) -> None:
        self.posts: list[dict[str, Any]] = []
        self.kinds: list[str] = []
        self.fail = fail
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def record(self, kind: str, data: dict[str, Any]) -> None:
                outer.hits += 1
                if outer.hits <= outer.fail:
                    self.send_response(500)
                else:
                    outer.posts.append(data)
                    outer.kinds.append(kind)
                    self.send_response(200)
                self.end_headers()

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                if self.headers["Content-Type"] == "application/json":
                    self.record("json", json.loads(body))
                else:
                    self.record("form", dict(urllib.parse.parse_qsl(body, keep_blank_values=True)))

            def do_GET(self) -> None:  # noqa: N802
                query = urllib.parse.urlsplit(self.path).query
                self.record("get", dict(urllib.parse.parse_qsl(query, keep_blank_values=True)))

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, n: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.posts) < n and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sb():
    with running(
        scale="tiny", seed=5, behaviour={"delivery_delay_s": 0, "webhook_retry_s": 0.1}
    ) as sandbox:
        yield sandbox


def auth(sb):
    return tuple(sb.credentials.values())


def add_rule(sb, address: str, enabled: int = 1, channel: str = "sms") -> None:
    r = requests.post(
        sb.base_url + f"/automations/{channel}/receipts",
        json={
            "rule_name": "hook",
            "match_type": 0,
            "action": "URL",
            "action_address": address,
            "enabled": enabled,
        },
        auth=auth(sb),
    )
    assert r.status_code == 200, r.text


def add_inbound_rule(sb, address: str, **fields: Any) -> None:
    rule = {
        "dedicated_number": "*",
        "rule_name": "hook",
        "message_search_type": 0,
        "message_search_term": "",
        "action": "URL",
        "action_address": address,
        "enabled": 1,
        **fields,
    }
    r = requests.post(sb.base_url + "/automations/sms/inbound", json=rule, auth=auth(sb))
    assert r.status_code == 200, r.text


def send(sb, n: int) -> list[str]:
    r = requests.post(
        sb.base_url + "/sms/send",
        json={"messages": [{"to": f"+6141100{i:04d}", "body": f"w{i}"} for i in range(n)]},
        auth=auth(sb),
    )
    return [m["message_id"] for m in r.json()["data"]["messages"]]


def test_receipts_are_pushed_to_a_loopback_rule_and_retried(sb):
    rx = Receiver(fail=2)  # the first two posts fail: those receipts must come again
    try:
        add_rule(sb, rx.url)
        add_rule(sb, rx.url + "?disabled=1", enabled=0)
        ids = send(sb, 4)
        rx.wait(4)
        assert sorted(p["message_id"] for p in rx.posts) == sorted(ids)
        for p in rx.posts:
            assert p["message_type"] == "sms" and p["status"] in {"Delivered", "Undelivered"}
            assert (p["status"] == "Delivered") == (p["status_code"] == "201")
            assert p["timestamp"] and p["subaccount_id"] and p["user_id"]
        # The receiver records a post before its answer reaches the sandbox's counters.
        deadline = time.monotonic() + 10
        while sb.behaviour()["webhooks"]["sent"] < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        counts = sb.behaviour()["webhooks"]
        assert counts["sent"] == 4 and counts["attempts"] == 6 and counts["failed"] == 0
    finally:
        rx.close()


def test_a_receiver_that_never_answers_is_given_up_after_the_attempts(sb):
    sb.set_behaviour(delivery_delay_s=0, webhook_retry_s=0.05, webhook_attempts=3)
    rx = Receiver(fail=10**6)
    try:
        add_rule(sb, rx.url)
        send(sb, 1)
        deadline = time.monotonic() + 20
        while sb.behaviour()["webhooks"]["failed"] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sb.behaviour()["webhooks"] == {"sent": 0, "failed": 1, "attempts": 3, "queued": 0}
        assert rx.hits == 3
    finally:
        rx.close()


def test_only_loopback_urls_are_ever_called():
    assert is_loopback_url("http://127.0.0.1:9/x") and is_loopback_url("http://localhost/x")
    assert is_loopback_url("http://[::1]:8080/")
    assert not is_loopback_url("https://hooks.acme.example/clicksend/receipts")
    assert not is_loopback_url("ftp://127.0.0.1/x") and not is_loopback_url("support@acme.example")


def test_voice_fax_and_mms_receipts_go_to_their_channels_rules(sb):
    sms_rx, voice_rx, fax_rx = Receiver(), Receiver(), Receiver()
    try:
        add_rule(sb, sms_rx.url)  # SMS & MMS share the SMS delivery report rules
        add_rule(sb, voice_rx.url, channel="voice")
        add_rule(sb, fax_rx.url, channel="fax")
        to = ["+61411000001", "+61411000002"]
        sent = {}
        for path, payload in (
            ("/mms/send", {"media_file": "https://m.example/a.jpg",
                           "messages": [{"to": t, "subject": "s", "body": "b"} for t in to]}),
            ("/voice/send", {"messages": [{"to": t, "body": "b"} for t in to]}),
            ("/fax/send", {"file_url": "https://f.example/a.pdf",
                           "messages": [{"to": "+61290001111", "from": "+61390001234"}]}),
        ):  # fmt: skip
            r = requests.post(sb.base_url + path, json=payload, auth=auth(sb))
            assert r.status_code == 200, r.text
            sent[path] = {m["message_id"] for m in r.json()["data"]["messages"]}
        sms_rx.wait(2)
        voice_rx.wait(2)
        fax_rx.wait(1)
        assert {p["message_id"] for p in sms_rx.posts} == sent["/mms/send"]
        assert {p["message_type"] for p in sms_rx.posts} == {"mms"}
        assert {p["message_id"] for p in voice_rx.posts} == sent["/voice/send"]
        assert {p["message_type"] for p in voice_rx.posts} == {"voice"}
        assert all("digits" in p for p in voice_rx.posts)
        assert [p["message_id"] for p in fax_rx.posts] == list(sent["/fax/send"])
        for p in [*sms_rx.posts, *voice_rx.posts, *fax_rx.posts]:
            assert (p["status"] == "Delivered") == (p["status_code"] == "201")
    finally:
        for rx in (sms_rx, voice_rx, fax_rx):
            rx.close()


def test_inbound_sms_is_pushed_to_matching_inbound_rules_in_their_format(sb):
    form, js, query, stop_only, other_number = (Receiver(fail=1), Receiver(), Receiver(),
                                                Receiver(), Receiver())  # fmt: skip
    sb.set_behaviour(delivery_delay_s=0, webhook_retry_s=0.1, reply_rate=0)  # injected only
    try:
        add_inbound_rule(sb, form.url)  # webhook_type unset: a form post (retried once)
        add_inbound_rule(sb, js.url, webhook_type="json")
        add_inbound_rule(sb, query.url, webhook_type="get")
        add_inbound_rule(sb, stop_only.url, message_search_type=1, message_search_term="stop")
        add_inbound_rule(sb, other_number.url, dedicated_number="+61499999999")
        add_inbound_rule(sb, js.url + "?off=1", enabled=0)
        (sent,) = send(sb, 1)
        sb.inbound("+61411000000", "+61481070000", "Yes please")
        sb.inbound("+61411000000", "+61481070000", "Stop now")
        for rx in (form, js, query):
            rx.wait(2)
        stop_only.wait(1)
        assert sorted(p["body"] for p in form.posts) == ["Stop now", "Yes please"]  # retry reorders
        assert form.hits == 3  # the first push failed and came again
        assert js.kinds == ["json", "json"] and query.kinds == ["get", "get"]
        assert [p["body"] for p in stop_only.posts] == ["Stop now"]
        time.sleep(0.3)
        assert other_number.posts == []  # a rule for another dedicated number
        push = js.posts[0]
        assert push["from"] == "+61411000000" and push["to"] == "+61481070000"
        assert push["original_message_id"] == sent and push["message_id"]
        assert push["user_id"] == 48213 and push["subaccount_id"] and push["timestamp"]
        assert query.posts[0]["original_message_id"] == sent
    finally:
        for rx in (form, js, query, stop_only, other_number):
            rx.close()
