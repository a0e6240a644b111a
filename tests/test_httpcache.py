"""The HTTP cache backend: key, bounded lock waits, close (real sandbox, real SQLite)."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
import requests

from csframe.httpcache import LOCK_WAIT, CacheClosed, cache_key, cached_session


def _session(sandbox, path):
    http = cached_session(path, allowable_methods=("GET",), expire_after=300)
    http.auth = (sandbox.credentials["username"], sandbox.credentials["api_key"])
    return http


def _key(url, params, method="GET", **headers):
    return cache_key(requests.Request(method, url, params=params, headers=headers).prepare())


def test_cache_key_ignores_parameter_order_and_headers():
    url = "http://127.0.0.1:1/v3/sms/history"
    a = _key(url, {"page": 2, "limit": 100}, Authorization="Basic one")
    assert a == _key(url, {"limit": 100, "page": 2}, Authorization="Basic two")
    assert a != _key(url, {"limit": 100, "page": 3})
    assert a != _key(url, {"page": 2, "limit": 100}, method="DELETE")
    assert a != _key(url.replace("sms", "mms"), {"page": 2, "limit": 100})


def _hold_write_lock(path, held, release):
    """What another process writing the same file looks like: its write lock, held."""
    con = sqlite3.connect(path, timeout=5, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    held.set()
    release.wait(20)
    con.execute("ROLLBACK")
    con.close()


def test_a_save_waits_for_another_writer_a_bounded_time_then_skips(sandbox, tmp_path):
    path = tmp_path / "c.sqlite"
    http = _session(sandbox, path)
    http.get(f"{sandbox.base_url}/sms/history", params={"page": 1, "limit": 15})
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(path, held, release))
    holder.start()
    try:
        assert held.wait(5)
        t0 = time.monotonic()
        for page in range(2, 6):  # requests-cache's own backend would wait here for ever
            r = http.get(f"{sandbox.base_url}/sms/history", params={"page": page, "limit": 15})
            assert r.status_code == 200 and not r.from_cache
        took = time.monotonic() - t0
        assert took < LOCK_WAIT + 1.5, took  # one bounded wait, then saves skip
        assert not http.cache.responses.contains(cache_key(r.request))
        # reads go on: the page stored before the lock was taken is still served
        r = http.get(f"{sandbox.base_url}/sms/history", params={"page": 1, "limit": 15})
        assert r.from_cache
    finally:
        release.set()
        holder.join()
    http.close()


def test_opening_a_cache_whose_write_lock_is_held_does_not_wait(sandbox, tmp_path):
    path = tmp_path / "c.sqlite"
    _session(sandbox, path).close()
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(path, held, release))
    holder.start()
    try:
        assert held.wait(5)
        opened: list = []
        opener = threading.Thread(target=lambda: opened.append(_session(sandbox, path)))
        opener.start()
        opener.join(LOCK_WAIT + 3)
        # requests-cache's own backend creates its table with a write transaction on open
        assert not opener.is_alive(), "opening waited for another process's write lock"
        opened[0].close()
    finally:
        release.set()
        holder.join()


def test_a_closed_cache_refuses_reads_and_drops_saves(sandbox, tmp_path):
    path = tmp_path / "c.sqlite"
    http = _session(sandbox, path)
    r = http.get(f"{sandbox.base_url}/sms/history", params={"page": 1, "limit": 15})
    backend = http.cache
    http.close()
    with pytest.raises(CacheClosed):
        backend.get_response(cache_key(r.request))
    backend.save_response(r, cache_key(r.request))  # no error, and no file reopened
    assert backend.responses._connection is None
