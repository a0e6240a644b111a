"""Receipt pushes: a delivered (or failed) SMS is POSTed to the loopback URL of an enabled
"URL" receipt rule (``/automations/sms/receipts``), retried when the receiver fails."""

from __future__ import annotations

import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from csframe.sandbox import running
from csframe.sandbox.lifecycle import is_loopback_url


class Receiver:
    """A loopback HTTP server that records form posts; the first ``fail`` requests get 500."""

    def __init__(self, fail: int = 0) -> None:
        self.posts: list[dict[str, str]] = []
        self.fail = fail
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                outer.hits += 1
                if outer.hits <= outer.fail:
                    self.send_response(500)
                else:
                    outer.posts.append(dict(urllib.parse.parse_qsl(body, keep_blank_values=True)))
                    self.send_response(200)
                self.end_headers()

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


def add_rule(sb, address: str, enabled: int = 1) -> None:
    r = requests.post(
        sb.base_url + "/automations/sms/receipts",
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
