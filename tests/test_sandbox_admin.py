"""The admin surface (``/_sandbox/*``) needs the instance's admin token; a non-loopback
bind needs an explicit ``allow_remote`` / ``--allow-remote``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from csframe.sandbox import running
from csframe.sandbox.server import ADMIN_HEADER, is_loopback

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sb():
    with running(scale="tiny", seed=3) as sandbox:
        yield sandbox


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/_sandbox/accounts"),
        ("GET", "/_sandbox/faults"),
        ("PUT", "/_sandbox/faults"),
        ("POST", "/_sandbox/reset"),
        ("GET", "/_sandbox/truth/contacts"),
        ("PUT", "/_sandbox/behaviour"),
        ("POST", "/_sandbox/inbound"),
        ("GET", "/_sandbox/no-such-thing"),
    ],
)
def test_admin_calls_without_the_token_are_refused(sb, method, path):
    for headers in ({}, {ADMIN_HEADER: "wrong"}, {ADMIN_HEADER: ""}):
        r = requests.request(method, sb.root_url + path, json={}, headers=headers, timeout=10)
        assert r.status_code == 401, (path, headers, r.text)
        assert ADMIN_HEADER in r.json()["error"]
        assert "api_key" not in r.text


def test_the_handle_sends_the_token_and_health_stays_open(sb):
    assert sb.accounts["main"]["api_key"]  # read through the guarded /_sandbox/accounts
    assert sb.faults()["error_rate"] == 0
    assert requests.get(sb.root_url + "/_sandbox/health", timeout=10).json()["ok"] is True
    r = requests.get(sb.root_url + "/_sandbox/accounts", headers=sb.admin_headers, timeout=10)
    assert r.status_code == 200
    assert sb.admin_headers[ADMIN_HEADER] not in repr(sb)


def test_each_instance_has_its_own_token(sb):
    with running(scale=20, seed=3) as other:
        assert other.admin_headers != sb.admin_headers
        r = requests.get(other.root_url + "/_sandbox/accounts", headers=sb.admin_headers)
        assert r.status_code == 401


def test_the_v3_api_does_not_take_the_admin_token(sb):
    r = requests.get(sb.base_url + "/account", headers=sb.admin_headers, timeout=10)
    assert r.status_code == 401  # still Basic auth only


def test_process_mode_gets_its_token_from_the_child():
    with running(scale=20, seed=3, process=True) as sb:
        assert sb.stats()["requests"] == 0
        assert requests.get(sb.root_url + "/_sandbox/stats", timeout=10).status_code == 401


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::"])
def test_a_non_loopback_host_needs_allow_remote(host):
    assert not is_loopback(host)
    with pytest.raises(ValueError, match="allow_remote"), running(scale=10, host=host):
        pass


def test_loopback_names():
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "localhost"))


def _serve(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "csframe", "sandbox", "serve", "--scale", "20", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        cwd=REPO,
    )


def test_cli_refuses_a_non_loopback_host_without_allow_remote():
    proc = _serve("--host", "0.0.0.0", "--port", "0")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "--allow-remote" in err and "0.0.0.0" in err


def test_cli_prints_the_admin_token_and_takes_behaviour_options():
    proc = _serve("--port", "0", "--delivery-delay-s", "0", "--throttle-rate", "5")
    try:
        lines = []
        while not any("admin token" in x for x in lines):
            line = proc.stdout.readline()
            assert line, "serve ended before printing its admin token"
            lines.append(line)
        url = re.search(r"(http://\S+)/v3", lines[0]).group(1)
        token = lines[-1].split(":", 1)[1].split()[0]
        assert requests.get(url + "/_sandbox/stats", timeout=10).status_code == 401
        r = requests.get(url + "/_sandbox/stats", headers={ADMIN_HEADER: token}, timeout=10)
        assert r.status_code == 200
        got = requests.get(url + "/_sandbox/behaviour", headers={ADMIN_HEADER: token}).json()
        assert (got["delivery_delay_s"], got["throttle_rate"]) == (0, 5)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=15)
