"""Sandbox fault injection and stats over real loopback TCP (no mocks)."""

from __future__ import annotations

import importlib.util
import socket
import threading
import time

import pytest
import requests

from csframe.sandbox import running
from csframe.sandbox.faults import FaultInjector, TokenBucket


@pytest.fixture(scope="module")
def sb():
    with running(scale="tiny", seed=3, now="2026-11-01T00:00:00Z") as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def clean(sb):
    sb.set_faults()
    sb.reset_stats()
    yield
    sb.set_faults()


def auth(sb) -> tuple[str, str]:
    return sb.credentials["username"], sb.credentials["api_key"]


def test_rate_limit_gives_429_with_retry_after(sb):
    sb.set_faults(rate_limit=2)
    with requests.Session() as s:
        s.auth = auth(sb)
        codes = [s.get(sb.base_url + "/account") for _ in range(8)]
    limited = [r for r in codes if r.status_code == 429]
    assert limited and codes[0].status_code == 200
    r = limited[0]
    assert r.json() == {
        "http_code": 429,
        "response_code": "TOO_MANY_REQUESTS",
        "response_msg": r.json()["response_msg"],
        "data": None,
    }
    assert int(r.headers["Retry-After"]) >= 1
    time.sleep(1.1)  # the bucket refills
    assert requests.get(sb.base_url + "/account", auth=auth(sb)).status_code == 200


def test_token_bucket_unit():
    b = TokenBucket(1.0, now=0.0)
    assert b.take(0.0) == 0.0
    assert b.take(0.25) == pytest.approx(0.75)
    assert b.take(1.0) == 0.0


@pytest.mark.parametrize(
    "kind,status,code",
    [("error", 500, "INTERNAL_SERVER_ERROR"), ("rate_limit", 429, "TOO_MANY_REQUESTS")],
)
def test_forced_http_faults(sb, kind, status, code):
    r = requests.get(sb.base_url + "/sms/history", auth=auth(sb), headers={"X-Sandbox-Fault": kind})
    assert (r.status_code, r.json()["response_code"], r.json()["data"]) == (status, code, None)
    if status == 429:
        assert r.headers["Retry-After"] == "1"
    assert sb.stats()["faults"] == {kind: 1}


def test_forced_drop_closes_the_connection_without_a_response(sb):
    with pytest.raises(requests.ConnectionError):
        requests.get(sb.base_url + "/account", auth=auth(sb), headers={"X-Sandbox-Fault": "drop"})
    # Raw socket view: the server closes without sending a single byte.
    host, port = sb.root_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"GET /v3/account HTTP/1.1\r\nHost: x\r\nX-Sandbox-Fault: drop\r\n\r\n")
        assert s.recv(1024) == b""
    assert sb.stats()["faults"] == {"drop": 2}
    assert requests.get(sb.base_url + "/account", auth=auth(sb)).status_code == 200  # server fine


def test_drop_after_commit_commits_the_send(sb):
    msg = {"messages": [{"to": "+61412345678", "body": "ambiguous", "custom_string": "dac-1"}]}
    with pytest.raises(requests.ConnectionError):
        requests.post(
            sb.base_url + "/sms/send",
            json=msg,
            auth=auth(sb),
            headers={"X-Sandbox-Fault": "drop_after_commit"},
        )
    r = requests.get(
        sb.base_url + "/sms/history", params={"q": "custom_string:dac-1"}, auth=auth(sb)
    )
    assert r.json()["data"]["total"] == 1  # the client saw an error, yet the message went out
    sb.reset()


def test_truncated_body(sb):
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        requests.get(
            sb.base_url + "/sms/history",
            params={"limit": 100},
            auth=auth(sb),
            headers={"X-Sandbox-Fault": "truncate"},
        )


def test_drop_rate_one_drops_everything_but_not_sandbox_api(sb):
    sb.set_faults(drop_rate=1.0, error_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        requests.get(sb.base_url + "/account", auth=auth(sb))
    assert sb.stats()["requests"] == 1  # the /_sandbox call itself is neither faulted nor counted


def test_latency_and_override_header(sb):
    sb.set_faults(latency_ms=150)
    t = time.perf_counter()
    requests.get(sb.base_url + "/account", auth=auth(sb))
    assert time.perf_counter() - t >= 0.15
    t = time.perf_counter()
    requests.get(sb.base_url + "/account", auth=auth(sb), headers={"X-Sandbox-Latency-Ms": "0"})
    assert time.perf_counter() - t < 0.15
    t = time.perf_counter()
    requests.get(sb.root_url + "/_sandbox/stats", headers=sb.admin_headers)
    assert time.perf_counter() - t < 0.15  # /_sandbox has no latency


def outcomes(sb, n: int = 40) -> list[str]:
    out = []
    with requests.Session() as s:
        s.auth = auth(sb)
        for _ in range(n):
            try:
                out.append(str(s.get(sb.base_url + "/account").status_code))
            except requests.ConnectionError:
                out.append("drop")
            except requests.exceptions.ChunkedEncodingError:
                out.append("truncated")
    return out


def test_seeded_faults_replay_identically(sb):
    settings = {
        "error_rate": 0.2,
        "rate_limit_rate": 0.1,
        "drop_rate": 0.1,
        "truncate_rate": 0.1,
        "seed": 7,
    }
    sb.set_faults(**settings)
    first = outcomes(sb)
    sb.set_faults(**settings)
    assert outcomes(sb) == first
    assert {"200", "500", "429", "drop"} <= set(first) or len(set(first)) >= 3
    sb.set_faults(**{**settings, "seed": 8})
    assert outcomes(sb) != first


def test_injector_draws_are_independent_of_settings():
    # Turning a fault on must not reshuffle where another one lands.
    a = FaultInjector({"error_rate": 0.3, "seed": 1})
    b = FaultInjector({"error_rate": 0.3, "truncate_rate": 0.0001, "latency_ms": 5, "seed": 1})
    pa = [a.plan().fault for _ in range(200)]
    pb = [b.plan().fault for _ in range(200)]
    assert [f == "error" for f in pa] == [f == "error" for f in pb]


def test_invalid_fault_settings_rejected(sb):
    for bad in ({"error_rate": 2}, {"bogus": 1}, {"latency_ms": -1}):
        with pytest.raises(ValueError, match="400"):
            sb.set_faults(**bad)
    assert sb.faults()["error_rate"] == 0.0


def test_stats_count_only_v3(sb):
    with requests.Session() as s:
        s.auth = auth(sb)
        s.get(sb.base_url + "/account")
        s.get(sb.base_url + "/sms/history", params={"page": 2})
        s.get(sb.base_url + "/sms/history")
        s.get(sb.base_url + "/nope")
    sb.truth_sms_ids()
    sb.faults()
    st = sb.stats()
    assert st["requests"] == 4
    assert st["by_path"] == {"/v3/account": 1, "/v3/sms/history": 2, "/v3/nope": 1}
    assert st["by_status"] == {"200": 3, "404": 1}
    assert st["in_flight"] == 0 and st["max_in_flight"] >= 1
    sb.reset_stats()
    assert sb.stats()["requests"] == 0


IMPLEMENTATIONS = ["h11"] + (["httptools"] if importlib.util.find_spec("httptools") else [])


@pytest.mark.parametrize("http_impl", IMPLEMENTATIONS)
def test_connection_faults_with_each_uvicorn_protocol(http_impl):
    # close_connection() reaches into the server's transport; check every HTTP
    # implementation uvicorn may pick (h11 always, httptools when installed).
    import uvicorn

    from csframe.sandbox.server import _Server, bind, build

    store, app = build("tiny", 1, "2026-11-01T00:00:00Z")
    sock = bind()
    server = _Server(
        uvicorn.Config(app, http=http_impl, loop="asyncio", log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.01)
        base = f"http://127.0.0.1:{sock.getsockname()[1]}/v3"
        creds = store.principal("csframe_demo")
        a = (creds.username, creds.api_key)
        for kind in ("drop", "drop_after_commit"):
            with pytest.raises(requests.ConnectionError):
                requests.get(base + "/account", auth=a, headers={"X-Sandbox-Fault": kind})
        with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
            requests.get(base + "/sms/history", auth=a, headers={"X-Sandbox-Fault": "truncate"})
        with requests.Session() as s:  # the server keeps serving other connections
            assert s.get(base + "/account", auth=a).status_code == 200
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        store.close()


# ------------------------------------------------------------- hostile modes for writers


def _send(sb, to: str, timeout: float = 5.0, custom: str | None = None) -> requests.Response:
    msg = {"to": to, "body": "hello", "source": "test"}
    if custom:
        msg["custom_string"] = custom
    return requests.post(
        sb.base_url + "/sms/send", json={"messages": [msg]}, auth=auth(sb), timeout=timeout
    )


def test_slow_commit_happens_after_the_client_gave_up(sb):
    sb.reset()
    before = len(sb.truth_sms_ids())
    sb.set_faults(slow_commit_s=0.8)
    with pytest.raises(requests.exceptions.ReadTimeout):
        _send(sb, "+61423000001", timeout=0.3)
    assert len(sb.truth_sms_ids()) == before  # not yet
    time.sleep(1.0)
    assert len(sb.truth_sms_ids()) == before + 1  # committed, though nobody waited
    r = requests.get(sb.base_url + "/account", auth=auth(sb), timeout=0.5)
    assert r.status_code == 200  # reads are not held


def test_lost_answers_hit_writes_only_and_write_paths_narrows_them(sb):
    sb.reset()
    before = len(sb.truth_sms_ids())
    sb.set_faults(lost_answer_rate=1.0)
    assert requests.get(sb.base_url + "/account", auth=auth(sb)).status_code == 200
    with pytest.raises(requests.exceptions.ConnectionError):
        _send(sb, "+61423000002")
    assert len(sb.truth_sms_ids()) == before + 1  # done, answer lost
    sb.set_faults(lost_answer_rate=1.0, write_paths="/import$")
    assert _send(sb, "+61423000003").status_code == 200
    assert sb.stats()["faults"] == {"lost_answer": 1}


def test_search_match_modes(sb):
    sb.reset()
    for key in ("soak1.1", "soak1.10", "SOAK1.11"):
        assert _send(sb, "+61423000004", custom=key).status_code == 200

    def search(value: str) -> requests.Response:
        return requests.get(
            sb.base_url + "/sms/history", params={"q": f"custom_string:{value}"}, auth=auth(sb)
        )

    assert search("soak1.1").json()["data"]["total"] == 1  # exact, case-insensitive
    assert search("soak1.11").json()["data"]["total"] == 1
    sb.set_faults(search_match="substring")
    got = {r["custom_string"] for r in search("soak1.1").json()["data"]["data"]}
    assert got == {"soak1.1", "soak1.10", "SOAK1.11"}
    sb.set_faults(search_match="unsupported")
    assert search("soak1.1").status_code == 400


def test_hostile_mode_settings_are_validated(sb):
    with pytest.raises(ValueError, match="search_match"):
        sb.set_faults(search_match="fuzzy")
    with pytest.raises(ValueError, match="write_paths"):
        sb.set_faults(write_paths="(")
    with pytest.raises(ValueError, match="slow_commit_s"):
        sb.set_faults(slow_commit_s=-1)
