"""Client: configuration, auth errors, secrets, cache behaviour, retries (real sandbox)."""

from __future__ import annotations

import base64
import stat

import pandas as pd
import pytest

import csframe
from csframe import errors
from csframe.sandbox import running

TEST_KEY = "D83DED51-9E35-4D42-9BB9-0E34B7CA85AE"  # the reference's test accounts' key


def make_client(sb, tmp_path, **kw):
    kw.setdefault("progress", False)
    kw.setdefault("cache_dir", tmp_path / "cache")
    creds = kw.pop("credentials", sb.credentials)
    return csframe.Client(**creds, base_url=sb.base_url, **kw)


def test_missing_credentials_say_which_variable_and_how_to_use_the_sandbox():
    with pytest.raises(errors.ConfigurationError) as info:
        csframe.Client()
    text = str(info.value)
    assert "CLICKSEND_USERNAME" in text and "CLICKSEND_API_KEY" in text
    assert "sandbox" in text


def test_credentials_from_environment(sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("CLICKSEND_USERNAME", sandbox.credentials["username"])
    monkeypatch.setenv("CLICKSEND_API_KEY", sandbox.credentials["api_key"])
    monkeypatch.setenv("CLICKSEND_BASE_URL", sandbox.base_url)
    cs = csframe.Client(cache_dir=tmp_path, progress=False)
    assert cs.account()["username"] == sandbox.credentials["username"]


def test_invalid_arguments_are_rejected_before_any_request(client):
    with pytest.raises(ValueError, match="channel must be one of"):
        client.history("pigeon")
    with pytest.raises(ValueError, match="start .* must be before end"):
        client.history("sms", start="2026-05-01", end="2026-04-01")
    with pytest.raises(ValueError, match="start must be"):
        client.history("sms", start="not a date")
    with pytest.raises(ValueError, match="limit must be an integer from 15 to 100"):
        client.history("sms", start="2026-01-01", limit=500)
    with pytest.raises(ValueError, match="start must not be after end"):
        client.usage("2026-10", "2026-01")
    with pytest.raises(ValueError, match="max_workers"):
        csframe.Client("u", "k", max_workers=0)
    # currency() may have been read once; nothing else went out
    assert client.requests_sent <= 1


def test_wrong_key_raises_authentication_error_without_leaking_it(sandbox, tmp_path):
    bad = {"username": sandbox.credentials["username"], "api_key": "WRONG-KEY-123456"}
    cs = make_client(sandbox, tmp_path, credentials=bad)
    with pytest.raises(errors.AuthenticationError) as info:
        cs.account()
    exc = info.value
    assert exc.status == 401
    assert exc.response_code == "INVALID_CREDENTIALS"
    for text in (str(exc), repr(exc), repr(cs), str(cs.session)):
        assert "WRONG-KEY-123456" not in text


@pytest.mark.parametrize(
    ("username", "error", "code"),
    [
        ("notactive", errors.AccountError, "ACCOUNT_NOT_ACTIVATED"),
        ("banned", errors.AccountError, None),
    ],
)
def test_documented_test_accounts_fail_as_documented(sandbox, tmp_path, username, error, code):
    cs = make_client(sandbox, tmp_path, credentials={"username": username, "api_key": TEST_KEY})
    with pytest.raises(error) as info:
        cs.history("sms", start="2026-01-01", end="2026-02-01")
    assert info.value.status == 403
    if code:
        assert info.value.response_code == code
    else:
        assert "banned" in (info.value.response_msg or "").lower()


def test_nocredit_account_reads_but_cannot_send(sandbox, tmp_path):
    cs = make_client(sandbox, tmp_path, credentials={"username": "nocredit", "api_key": TEST_KEY})
    assert float(cs.account()["balance"]) == 0.0
    with pytest.raises(errors.InsufficientCredit) as info:
        cs.send_sms([{"to": "+61400000001", "body": "hello", "from": "ACME"}])
    assert info.value.response_code == "INSUFFICIENT_CREDIT"


def test_cache_file_is_private_and_holds_no_secret(sandbox, tmp_path):
    cs = make_client(sandbox, tmp_path)
    cs.history("sms", start="2026-01-01", end="2026-03-01")
    path = cs.cache_path
    assert path is not None and path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = sandbox.credentials["api_key"]
    basic = base64.b64encode(f"{sandbox.credentials['username']}:{key}".encode())
    cs.close()
    for f in path.parent.glob(path.name + "*"):  # the database and its WAL/SHM files
        assert stat.S_IMODE(f.stat().st_mode) & 0o077 == 0, f
        raw = f.read_bytes()
        assert key.encode() not in raw and basic not in raw, f


def test_second_identical_load_is_served_from_cache(sandbox, tmp_path):
    cs = make_client(sandbox, tmp_path)
    first = cs.history("sms", start="2025-12-01", end="2026-06-01", limit=50)
    before = sandbox.stats()["requests"]
    sent = cs.requests_sent
    second = cs.history("sms", start="2025-12-01", end="2026-06-01", limit=50)
    assert sandbox.stats()["requests"] == before
    assert cs.requests_sent == sent
    pd.testing.assert_frame_equal(first, second)


def test_cache_off_goes_to_the_server_every_time(sandbox, tmp_path):
    cs = make_client(sandbox, tmp_path, cache=False)
    assert cs.cache_path is None
    cs.account()
    before = sandbox.stats()["requests"]
    cs.account()
    assert sandbox.stats()["requests"] == before + 1


@pytest.fixture(scope="module")
def faulty():
    """A private sandbox whose faults tests may change freely."""
    with running(scale="tiny", seed=7) as sb:
        yield sb


def test_429_then_success_honours_retry_after(faulty, tmp_path):
    cs = make_client(faulty, tmp_path, cache=False, max_workers=4)
    truth = faulty.truth_sms_ids()
    faulty.set_faults(rate_limit=4)
    try:
        faulty.reset_stats()
        df = cs.history("sms", limit=15)
    finally:
        faulty.set_faults(rate_limit=None)
    assert list(df["message_id"]) == truth
    stats = faulty.stats()
    pages = -(-len(truth) // 15)
    # Every page arrived exactly once in the result, and some requests were 429s
    assert stats["requests"] > pages


def test_server_errors_and_dropped_connections_are_retried(faulty, tmp_path):
    cs = make_client(faulty, tmp_path, cache=False, max_workers=4)
    truth = faulty.truth_sms_ids()
    faulty.set_faults(error_rate=0.2, drop_rate=0.1, truncate_rate=0.1, seed=3)
    try:
        df = cs.history("sms", limit=15)
    finally:
        faulty.set_faults(error_rate=0.0, drop_rate=0.0, truncate_rate=0.0)
    assert list(df["message_id"]) == truth
    assert df["message_id"].is_unique


def test_truncated_body_is_never_cached(faulty, tmp_path):
    cs = make_client(faulty, tmp_path)
    faulty.set_faults(truncate_rate=0.5, seed=11)
    try:
        df = cs.history("sms", start="2026-01-01", limit=15)
    finally:
        faulty.set_faults(truncate_rate=0.0)
    again = cs.history("sms", start="2026-01-01", limit=15)  # served from cache, all valid
    pd.testing.assert_frame_equal(df, again)


def test_persistent_server_error_surfaces_as_server_error(faulty, tmp_path):
    cs = make_client(faulty, tmp_path, cache=False, max_attempts=2)
    faulty.set_faults(error_rate=1.0, seed=1)
    try:
        with pytest.raises(errors.ServerError) as info:
            cs.account()
    finally:
        faulty.set_faults(error_rate=0.0)
    assert info.value.status in (500, 503)


def test_client_side_rate_limit_spends_no_token_on_cache_hits(sandbox, tmp_path):
    cs = make_client(sandbox, tmp_path, rate_limit=1000)
    for _ in range(6):
        cs.get("/sms/history", page=1, limit=15)
    # The token bucket sits in the transport adapter: only the first call reached it.
    assert cs.requests_sent == 1


def test_token_bucket_spaces_requests():
    from csframe.ratelimit import TokenBucket

    bucket = TokenBucket(rate=50, burst=1)
    waited = sum(bucket.acquire() for _ in range(6))
    assert waited >= 5 / 50 * 0.9  # five tokens had to be waited for at 50/s
    with pytest.raises(ValueError, match="rate_limit"):
        TokenBucket(rate=0)


def test_python_dash_m_is_the_cli():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "csframe", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("csframe ")


def test_reads_never_return_or_cache_api_keys(sandbox, tmp_path):
    cs = make_client(sandbox, tmp_path)
    acct = cs.account()
    key = sandbox.credentials["api_key"]
    assert key not in repr(acct)
    assert acct.get("_subaccount", {}).get("api_key") in (None, "********")
    before = sandbox.stats()["requests"]
    cs.account()  # a response carrying a key is never cached, so this goes out again
    assert sandbox.stats()["requests"] == before + 1
