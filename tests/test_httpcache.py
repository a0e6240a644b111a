"""The HTTP cache backend: key, per-thread reads, write-behind (real sandbox, real SQLite)."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import requests

from csframe.httpcache import cache_key, cached_session


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


@contextmanager
def _writes_blocked(backend):
    """Another thread holds the write lock (an open write transaction, the writer kept
    out) until the block ends, or until the ``release_after(seconds)`` it yields fires."""
    release, held = threading.Event(), threading.Event()

    def hold():
        with backend.responses.bulk_commit():
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(5)
    try:
        yield lambda seconds: threading.Timer(seconds, release.set).start()
    finally:
        release.set()
        holder.join()


def test_a_queued_response_is_read_back_before_it_reaches_the_disk(sandbox, tmp_path):
    http = _session(sandbox, tmp_path / "c.sqlite")
    backend = http.cache
    with _writes_blocked(backend) as release_after:
        r = http.get(f"{sandbox.base_url}/sms/history", params={"page": 1, "limit": 15})
        key = cache_key(r.request)
        assert key in backend._unsaved  # queued: the writer cannot store it yet
        release_after(0.3)
        cached = backend.get_response(key)  # waits for the writer rather than missing
        assert cached is not None and cached.content == r.content
        assert key not in backend._unsaved
    http.close()


def test_reads_do_not_wait_for_a_write_transaction(sandbox, tmp_path):
    http = _session(sandbox, tmp_path / "c.sqlite")
    backend = http.cache
    r = http.get(f"{sandbox.base_url}/sms/history", params={"page": 1, "limit": 15})
    key = cache_key(r.request)
    backend.flush()
    found = []
    with _writes_blocked(backend):
        reader = threading.Thread(target=lambda: found.append(backend.get_response(key)))
        reader.start()
        reader.join(5)
        # requests-cache's stock backend would block here until the transaction ends
        assert not reader.is_alive(), "a read waited for the writer"
    assert found and found[0].content == r.content
    http.close()


def test_close_stores_every_queued_response(sandbox, tmp_path):
    path = tmp_path / "c.sqlite"
    http = _session(sandbox, path)
    keys = []
    with _writes_blocked(http.cache) as release_after:
        for page in range(1, 6):
            r = http.get(f"{sandbox.base_url}/sms/history", params={"page": page, "limit": 15})
            keys.append(cache_key(r.request))
        assert set(keys) <= set(http.cache._unsaved)  # all five still queued
        release_after(0.3)
        http.close()  # waits for the writer to store them
    again = _session(sandbox, path)
    try:
        assert all(again.cache.get_response(k) is not None for k in keys)
        before = sandbox.stats()["requests"]
        r = again.get(f"{sandbox.base_url}/sms/history", params={"limit": 15, "page": 3})
        assert r.from_cache and sandbox.stats()["requests"] == before
    finally:
        again.close()


def test_delete_is_not_undone_by_a_queued_save(sandbox, tmp_path):
    http = _session(sandbox, tmp_path / "c.sqlite")
    backend = http.cache
    for page in range(1, 9):
        r = http.get(f"{sandbox.base_url}/sms/history", params={"page": page, "limit": 15})
        backend.delete(cache_key(r.request))  # right behind its save in the queue
    backend.flush()
    assert backend.responses.count() == 0
    http.close()
