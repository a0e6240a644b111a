"""``accounts.reseller_clients``: the reseller listing is read with a plain request of its
own (csframe.Client redacts the keys it carries), so it must bring what a client request
has itself -- retries, timeouts, the rate limit -- and keep the keys out of every cache,
log, repr and error."""

from __future__ import annotations

import logging

import pytest

import csframe
from csframe import errors
from csframe.accounts import Account, reseller_clients
from csframe.sandbox import running
from csframe.sandbox.faults import FaultInjector


@pytest.fixture(scope="module")
def sb():
    with running(scale="tiny", seed=8, now="2026-11-01T00:00:00Z") as sandbox:
        yield sandbox


@pytest.fixture
def fresh(sb):
    sb.reset_stats()
    yield sb
    sb.set_faults()
    sb.reset()


def reseller(sb, key: str | None = None) -> Account:
    key = key or sb.credentials["api_key"]
    return Account(sb.credentials["username"], key, sb.base_url, reseller=True)


def test_the_listing_is_retried_after_a_server_error(fresh):
    sb = fresh

    def fates(seed: int) -> list[str | None]:
        injector = FaultInjector({"error_rate": 0.5, "seed": seed})
        return [injector.plan().fault for _ in range(2)]

    # A fault seed whose first request fails with a 5xx and whose second does not.
    seed = next(s for s in range(200) if fates(s) == ["error", None])
    sb.set_faults(error_rate=0.5, seed=seed)
    clients = reseller_clients(reseller(sb))
    assert [a.username for a in clients] == ["acme_retail_nz", "acme_events_au"]
    assert sb.stats()["faults"] == {"error": 1}  # was: PermissionError on the first 5xx


def test_errors_name_the_account_and_never_its_key(fresh):
    sb = fresh
    with pytest.raises(errors.AuthenticationError) as bad:
        reseller_clients(reseller(sb, "WRONG-RESELLER-KEY-123"))
    assert "csframe_demo" in str(bad.value) and "/reseller/accounts" in str(bad.value)
    shown = str(bad.value) + repr(bad.value)
    assert "WRONG-RESELLER-KEY-123" not in shown
    # Nothing chained: a requests exception would carry the request's Authorization header.
    assert bad.value.__cause__ is None and bad.value.__context__ is None
    # 429 after 429: retried (after Retry-After), then a RateLimited naming the account.
    sb.set_faults(rate_limit_rate=1.0)
    with pytest.raises(errors.RateLimited, match="csframe_demo"):
        reseller_clients(reseller(sb), max_attempts=2)
    assert sb.stats()["faults"] == {"rate_limit": 2}


def test_keys_reach_no_cache_even_when_requests_cache_is_installed(fresh, tmp_path):
    requests_cache = pytest.importorskip("requests_cache")
    requests_cache.install_cache(str(tmp_path / "everything"), backend="sqlite")
    try:
        clients = reseller_clients(reseller(fresh))
    finally:
        requests_cache.uninstall_cache()
    stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert stored  # the globally installed cache exists (and caches other requests)
    assert clients and not [a for a in clients if a.api_key.encode() in stored]


def test_the_listing_keeps_the_rate_limit_over_its_pages(fresh):
    sb = fresh
    import requests

    auth = (sb.credentials["username"], sb.credentials["api_key"])
    for i in range(100):  # 102 clients: two pages of 100
        made = requests.post(
            sb.base_url + "/reseller/accounts",
            auth=auth,
            json={
                "username": f"client_{i:03d}",
                "password": "pw",
                "user_email": f"c{i}@clients.example",
                "user_phone": "+61411000000",
                "user_first_name": "C",
                "user_last_name": f"{i}",
                "account_name": f"Client {i}",
                "country": "AU",
            },
        )
        assert made.status_code == 200, made.text
    sb.set_faults(rate_limit=1)  # the server allows one request per second per account
    sb.reset_stats()
    clients = reseller_clients(reseller(sb), rate_limit=0.8)
    assert len(clients) == 102 and len({a.api_key for a in clients}) == 102
    assert sb.stats()["faults"] == {}  # paced below the server's limit: never a 429


def test_no_key_in_logs_or_reprs_of_a_reseller_sync(fresh, tmp_path, caplog):
    sb = fresh
    caplog.set_level(logging.DEBUG)
    done = csframe.sync_accounts([reseller(sb)], tmp_path, start="2026-09")
    assert set(done) == {"csframe_demo", "acme_retail_nz", "acme_events_au"}
    assert all(d.ok for d in done.values()), [d.error for d in done.values()]
    keys = [a.api_key for a in reseller_clients(reseller(sb))] + [sb.credentials["api_key"]]
    assert caplog.text and not [k for k in keys if k in caplog.text + repr(done)]
