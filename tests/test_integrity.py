"""Client and cache integrity (issue 13), each against a real loopback sandbox.

One test per failure the issue lists, each reproducing the bad case (and failing on the
code before the fix), plus the secrets sweep over every loader and collection and a kill -9
during a load with cache writes pending.
"""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from urllib.parse import urlsplit

import pandas as pd
import pytest
import requests

import csframe
from csframe import errors, schema
from csframe.httpcache import CacheRepairedWarning
from csframe.loaders import HISTORY
from csframe.sandbox import running
from csframe.session import StaleDataWarning


def make_client(sb, tmp_path, **kw):
    kw.setdefault("cache_dir", tmp_path / "cache")
    kw.setdefault("progress", False)
    return csframe.Client(**sb.credentials, base_url=sb.base_url, **kw)


def _text(value) -> str:
    """Every value in ``value`` as text (frames in full, not their truncated repr)."""
    if isinstance(value, pd.DataFrame):
        cells = value.to_json(default_handler=str, date_format="iso")
        return cells + " ".join(map(str, value.columns)) + repr(value.attrs)
    if isinstance(value, list | tuple):
        return " ".join(_text(v) for v in value)
    return repr(value)


def _secret_values(doc) -> set[str]:
    found: set[str] = set()
    if isinstance(doc, dict):
        for k, v in doc.items():
            if any(w in k.lower() for w in ("api_key", "password", "token", "secret")) and v:
                found.add(str(v))
            found |= _secret_values(v)
    elif isinstance(doc, list):
        for v in doc:
            found |= _secret_values(v)
    return found


# -- 1. secrets --------------------------------------------------------------------------
def test_no_api_key_in_any_loader_iterator_frame_log_or_cache_entry(sandbox, tmp_path, caplog):
    from csframe.sandbox.urls import routes

    caplog.set_level(logging.DEBUG, logger="csframe")
    paths = [
        r.path[3:]
        for r in routes
        if "GET" in (getattr(r, "methods", None) or ())
        and r.path.startswith("/v3/")
        and "{" not in r.path
    ]
    # every key the sandbox knows: its logins', and any secret-named value it serves
    keys = {a["api_key"] for a in sandbox.accounts.values() if a.get("api_key")}
    auth = (sandbox.credentials["username"], sandbox.credentials["api_key"])
    for path in paths:
        keys |= _secret_values(requests.get(sandbox.base_url + path, auth=auth, timeout=30).json())
    assert sandbox.credentials["api_key"] in keys and len(keys) > len(sandbox.accounts) // 2
    cs = make_client(sandbox, tmp_path)
    seen: list[tuple[str, str]] = []

    def look(name, value):
        seen.append((name, _text(value)))

    # the two leaks the issue found
    look("iter_frames(subaccounts)", next(cs.iter_frames("subaccounts")))
    look("frame(/reseller/accounts)", cs.frame("/reseller/accounts"))
    # every loader
    for channel in HISTORY:
        look(f"history({channel})", cs.history(channel, start="2026-01-01"))
        look(f"iter_history({channel})", list(cs.iter_history(channel, start="2026-09-01")))
    look("usage", cs.usage())
    for channel in ("sms", "voice", "fax"):
        look(f"receipts({channel})", cs.receipts(channel))
    look("inbound", cs.inbound())
    for channel in ("sms", "voice"):
        look(f"statistics({channel})", cs.statistics(channel))
    for kind in ("sms", "mms", "email"):
        look(f"campaigns({kind})", cs.campaigns(kind))
    email = cs.campaigns("email")
    if len(email):
        look("campaign_history", cs.campaign_history(int(email["email_campaign_id"].iloc[0])))
    sms = cs.campaigns("sms")
    if len(sms):
        look("campaign_messages", cs.campaign_messages(int(sms["sms_campaign_id"].iloc[0])))
    look("lists", cs.lists())
    look("contacts", cs.contacts())
    look("subaccounts", cs.subaccounts())
    look("recharge_transactions", cs.recharge_transactions())
    look("history_export", cs.history_export("sms", start="2026-09-01"))
    look("account", cs.account())
    # iter_frames of every plain paginated resource
    for name, res in schema.REGISTRY.items():
        if res.paginated and "{" not in res.path:
            look(f"iter_frames({name})", list(cs.iter_frames(name, chunk_pages=2)))
    # frame() of every collection the sandbox serves, get() of everything else
    framed = 0
    for path in paths:
        try:
            look(f"frame({path})", cs.frame(path))
            framed += 1
        except ValueError:  # not paginated: the plain body then
            look(f"get({path})", cs.get(path))
        except errors.ApiError as exc:  # needs arguments; its error must not leak either
            look(f"error({path})", (str(exc), repr(exc), exc.data))
    assert framed > 20
    cs.close()
    leaks = [name for name, text in seen if any(k in text for k in keys)]
    assert not leaks, f"API keys in {leaks}"
    assert not any(k in caplog.text for k in keys)
    files = [f for f in cs.cache_path.parent.rglob("*") if f.is_file()]
    assert any(f.suffix == ".parquet" for f in files)  # the frame cache's windows too
    for f in files:
        raw = f.read_bytes()
        assert not any(k.encode() in raw for k in keys), f


# -- 2. one consistent snapshot -----------------------------------------------------------
def _delete_contacts(sb, list_id: int, ids) -> None:
    auth = (sb.credentials["username"], sb.credentials["api_key"])
    for cid in ids:
        r = requests.delete(f"{sb.base_url}/lists/{list_id}/contacts/{cid}", auth=auth, timeout=30)
        assert r.status_code == 200, r.text


def _big_list(cs) -> int:
    lists = cs.lists()
    big = lists[lists["_contacts_count"] > 250]
    assert len(big), lists[["list_id", "_contacts_count"]]
    return int(big["list_id"].iloc[0])


def test_expired_pages_are_refetched_with_retries_never_mixed_into_a_load(tmp_path):
    with running(scale="small", seed=11) as sb:
        cs = make_client(sb, tmp_path, max_attempts=10)
        lid = _big_list(cs)
        before = cs.contacts(lid)
        cs.session.http.cache.reset_expiration(0)  # every cached page has expired
        gone = before["contact_id"].iloc[::7].head(30).tolist()
        _delete_contacts(sb, lid, gone)  # behind this client's back
        sb.set_faults(error_rate=0.3, seed=5)  # transient 500/503s on about a third
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            after = cs.contacts(lid)
        sb.set_faults()
        assert sb.stats()["faults"], "no fault was injected"
        truth = make_client(sb, tmp_path, cache=False).contacts(lid)
        assert not set(gone) & set(after["contact_id"]), "deleted contacts came back"
        assert sorted(after["contact_id"]) == sorted(truth["contact_id"])
        assert len(after) == len(before) - 30
        assert "stale" not in after.attrs
        assert not [w for w in caught if issubclass(w.category, StaleDataWarning)]


def test_stale_pages_of_different_ages_are_never_combined(tmp_path, monkeypatch):
    from csframe import session

    with running(scale="small", seed=11) as sb:
        cs = make_client(sb, tmp_path, max_attempts=2)
        lid = _big_list(cs)
        cs.contacts(lid)
        time.sleep(1.1)
        monkeypatch.setattr(session, "STALE_SPREAD", pd.Timedelta(seconds=0.5), raising=False)
        cs.session.http.cache.reset_expiration(0)
        # page 1 is refreshed later than the rest: a snapshot of two moments
        cs.session.get_raw(f"/lists/{lid}/contacts", {"limit": 100, "page": 1})
        sb.set_faults(error_rate=1.0, seed=1)
        with pytest.raises(errors.ServerError):
            cs.contacts(lid)
        sb.set_faults()


# -- 3. entries never shared between servers ------------------------------------------------
def test_two_sandboxes_on_one_port_never_share_a_cache_entry(tmp_path):
    window = {"start": "2026-03-01", "end": "2026-06-01"}
    now = "2026-11-01T00:00:00Z"
    with running(scale="tiny", seed=42, now=now) as first:
        port = urlsplit(first.base_url).port
        cs = make_client(first, tmp_path)
        seen_first = cs.history("sms", **window)
        cs.close()
    with running(scale="tiny", seed=7, now=now, port=port) as second:
        assert second.base_url == first.base_url
        assert second.credentials["username"] == first.credentials["username"]
        cs = make_client(second, tmp_path)
        assert cs.cache_path is not None
        got = cs.history("sms", **window)
        truth = second.truth_sms_ids(
            date_from=pd.Timestamp(window["start"], tz="UTC"),
            date_to=pd.Timestamp(window["end"], tz="UTC") - pd.Timedelta(seconds=1),
        )
        assert sorted(got["message_id"]) == sorted(truth)
        assert sorted(got["message_id"]) != sorted(seen_first["message_id"])
        cs.close()


def test_each_api_root_has_its_own_cache_file(tmp_path):
    from csframe.config import cache_file

    a = cache_file("alice", tmp_path, "http://127.0.0.1:8765/v3")
    assert a == cache_file("alice", tmp_path, "http://127.0.0.1:8765/v3/")
    others = {
        cache_file("alice", tmp_path, url)
        for url in (
            "http://127.0.0.1:8766/v3",
            "https://127.0.0.1:8765/v3",
            "http://localhost:8765/v3",
            "http://127.0.0.1:8765/v4",
            "https://rest.clicksend.com/v3",
        )
    }
    assert a not in others and len(others) == 5


# -- 4. a cache that heals -------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["garbage", "torn", "foreign"])
def test_an_unusable_cache_file_is_moved_aside_and_rebuilt(sandbox, tmp_path, damage):
    cs = make_client(sandbox, tmp_path)
    lists = cs.lists()
    path = cs.cache_path
    cs.close()
    if damage == "garbage":
        path.write_bytes(b"not a database " * 1000)
    elif damage == "torn":  # pages overwritten in the middle of a real database
        raw = bytearray(path.read_bytes())
        assert len(raw) > 8192
        raw[4096:8192] = b"\xff" * 4096
        path.write_bytes(bytes(raw))
    else:  # a valid SQLite file that is not a csframe cache
        path.unlink()
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE notes (x)")
        con.commit()
        con.close()
    for sibling in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        sibling.unlink(missing_ok=True)
    with pytest.warns(CacheRepairedWarning, match="moved aside") as caught:
        again = make_client(sandbox, tmp_path)
    assert str(path) in str(caught[0].message)
    assert list(path.parent.glob(path.name + ".corrupt-*"))
    pd.testing.assert_frame_equal(again.lists(), lists)
    again.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheRepairedWarning)
        make_client(sandbox, tmp_path).close()  # healed for good


# -- 5. bounded lock waits -----------------------------------------------------------------
def test_a_write_lock_held_by_another_process_stalls_no_load(sandbox, tmp_path):
    first = make_client(sandbox, tmp_path)
    first.lists()
    path = first.cache_path
    first.close()
    held, release = threading.Event(), threading.Event()
    failed: list[Exception] = []

    def hold() -> None:  # what another process writing the same file looks like
        try:
            con = sqlite3.connect(path, timeout=5, isolation_level=None)
            con.execute("BEGIN IMMEDIATE")
            con.execute("DELETE FROM responses WHERE key = 'nothing'")
        except Exception as exc:  # noqa: BLE001 - reported below
            failed.append(exc)
            return
        finally:
            held.set()
        release.wait(25)
        con.execute("ROLLBACK")
        con.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10) and not failed, failed
    try:
        cs = make_client(sandbox, tmp_path)  # opening needs no write lock
        cs.account()  # never cached: must not touch the lock at all
        cs.history("sms", start="2026-01-01", limit=15)  # its saves wait a bounded time
        cs.lists()
        finished_while_held = holder.is_alive() and not release.is_set()
    finally:
        release.set()
        holder.join()
    assert finished_while_held, "a load waited for another process's write lock"
    cs.close()


# -- 6. close during a load ------------------------------------------------------------------
def _csframe_threads() -> set[threading.Thread]:
    return {
        t
        for t in threading.enumerate()
        if t.name.startswith("csframe-") and t.name != "csframe-sandbox"
    }


def test_close_during_a_load_ends_it_cleanly_and_leaves_no_thread(tmp_path):
    before = _csframe_threads()
    with running(scale="small", seed=5, latency_ms=3) as sb:
        for trial in range(12):
            cs = make_client(sb, tmp_path / str(trial), max_workers=4)
            outcome: list = []

            def load(cs=cs, outcome=outcome) -> None:
                try:
                    outcome.append(cs.history("sms", limit=15))
                except Exception as exc:  # noqa: BLE001 - the test inspects it
                    outcome.append(exc)

            loader = threading.Thread(target=load)
            loader.start()
            time.sleep(0.05 + 0.05 * trial)
            cs.close()
            loader.join(60)
            assert not loader.is_alive()
            assert isinstance(outcome[0], pd.DataFrame | errors.ClientClosed), repr(outcome[0])
            with pytest.raises(errors.ClientClosed):
                cs.lists()
    time.sleep(0.2)
    assert _csframe_threads() <= before, _csframe_threads() - before


# -- 7. bodies validated by parsing ----------------------------------------------------------
def test_a_body_cut_at_a_record_boundary_is_retried_and_never_cached(tmp_path):
    with running(scale="tiny", seed=9) as sb:
        truth = make_client(sb, tmp_path, cache=False).inbound()
        assert len(truth) > 2
        cs = make_client(sb, tmp_path)
        assert sb.cut_bodies(2, "/v3/sms/inbound")["count"] == 2
        got = cs.inbound()
        assert (
            requests.get(sb.root_url + "/_sandbox/cut", headers=sb.admin_headers, timeout=5).json()[
                "count"
            ]
            == 0
        )
        pd.testing.assert_frame_equal(got, truth)
        cs.close()
        again = make_client(sb, tmp_path)
        sent = sb.stats()["requests"]
        pd.testing.assert_frame_equal(again.inbound(), truth)  # from the cache, whole
        assert sb.stats()["requests"] == sent
        again.close()


# -- 8. read-your-writes -------------------------------------------------------------------
def test_a_write_through_the_client_is_read_back_at_once(tmp_path):
    with running(scale="tiny", seed=21) as sb:
        sb.contacts_settings(import_rows_per_second=200_000)
        cs = make_client(sb, tmp_path)
        lists = cs.lists()
        lid = int(lists["list_id"].iloc[0])
        count = int(lists["_contacts_count"].iloc[0])
        contacts = cs.contacts(lid)
        cs.session.post("/lists", {"list_name": "Issue 13"})
        assert "Issue 13" in cs.lists()["list_name"].tolist()
        new = pd.DataFrame(
            {"phone_number": ["+61412013001", "+61412013002"], "first_name": ["Ada", "Bo"]}
        )
        res = cs.import_contacts(new, list_id=lid)
        assert (res["outcome"].astype(str) == "imported").all(), res
        after = cs.contacts(lid)
        assert len(after) == len(contacts) + 2
        assert {"+61412013001", "+61412013002"} <= set(after["phone_number"])
        row = cs.lists().set_index("list_id").loc[lid]
        assert int(row["_contacts_count"]) == count + 2
        cs.close()


def test_a_price_quote_invalidates_nothing(sandbox, tmp_path):
    cs = make_client(sandbox, tmp_path)
    cs.lists()
    sent = sandbox.stats()["requests"]
    cs.price_sms([{"to": "+61411111111", "body": "Hi"}])
    cs.lists()
    assert sandbox.stats()["requests"] == sent + 1  # the quote only
    cs.close()


# -- 9. argument validation ------------------------------------------------------------------
@pytest.mark.parametrize(
    "kw, name",
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": 2.5}, "max_attempts"),
        ({"settle_days": -1}, "settle_days"),
        ({"settle_days": "7"}, "settle_days"),
        ({"rate_limit": 0}, "rate_limit"),
        ({"max_workers": True}, "max_workers"),
        ({"cache": 3}, "cache"),
    ],
)
def test_bad_client_arguments_are_named(sandbox, tmp_path, kw, name):
    with pytest.raises(ValueError, match=name):
        make_client(sandbox, tmp_path, **kw)


def test_bad_loader_arguments_are_named_before_any_request(sandbox, tmp_path):
    cs = make_client(sandbox, tmp_path, timeout=5)
    sent = cs.requests_sent
    with pytest.raises(ValueError, match="max_workers"):
        cs.history("sms", start="2026-01-01", max_workers=0)
    with pytest.raises(ValueError, match="progress"):
        cs.history("sms", start="2026-01-01", progress="yes")
    with pytest.raises(ValueError, match="chunk_pages"):
        next(cs.iter_frames("lists", chunk_pages=0))
    with pytest.raises(ValueError, match="chunk_pages"):
        cs.iter_history("sms", chunk_pages=-1)
    with pytest.raises(ValueError, match="timeout"):
        make_client(sandbox, tmp_path, timeout=True)
    assert cs.requests_sent == sent
    cs.close()


def test_a_bad_cache_dir_is_a_configuration_error_naming_it(sandbox, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(errors.ConfigurationError, match="cache_dir.*a-file"):
        make_client(sandbox, tmp_path, cache_dir=blocker / "cache")
    with pytest.raises(errors.ConfigurationError, match="cache_dir.*a-file"):
        make_client(sandbox, tmp_path, cache_dir=blocker)


# -- kill -9 while the cache is being written ----------------------------------------------
_CHILD = textwrap.dedent(
    """
    import sys, csframe
    user, key, url, cache_dir = sys.argv[1:5]
    cs = csframe.Client(user, key, base_url=url, cache_dir=cache_dir, progress=False)
    for i, part in enumerate(cs.iter_history("sms", limit=15, chunk_pages=1)):
        print(i, len(cs.session.cache.responses), flush=True)  # page, responses stored
    print("done", flush=True)
    """
)


def test_kill_9_during_a_load_leaves_a_sound_cache_and_the_next_load_is_true(tmp_path):
    with running(scale="small", seed=13, latency_ms=2) as sb:
        cache_dir = tmp_path / "cache"
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, *sb.credentials.values(), sb.base_url, str(cache_dir)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            stored_at = None
            while True:  # pages streaming in; kill a few pages after the cache writes start
                line = child.stdout.readline()
                assert line and line.strip() != "done", "the load ended before the kill"
                page, stored = map(int, line.split())
                if stored and stored_at is None:
                    stored_at = page
                if stored_at is not None and page >= stored_at + 3:
                    break
            child.kill()  # SIGKILL: no atexit, no flush of the queued writes
        finally:
            child.wait(30)
            child.stdout.close()
        assert child.returncode == -9
        files = list(cache_dir.glob("*.sqlite"))
        assert len(files) == 1
        con = sqlite3.connect(files[0])
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("SELECT count(*) FROM responses").fetchone()[0] > 0
        con.close()
        with warnings.catch_warnings():
            warnings.simplefilter("error", CacheRepairedWarning)
            cs = make_client(sb, tmp_path)
        got = cs.history("sms")
        truth = sb.truth_sms_ids()
        assert len(got) == len(truth) and sorted(got["message_id"]) == sorted(truth)
        cs.close()


# -- the cache command -----------------------------------------------------------------------
def test_cache_info_and_clear(sandbox, tmp_path, capsys):
    from csframe.cli import main

    cs = make_client(sandbox, tmp_path)
    cs.lists()
    cs.close()
    assert main(["cache", "info", "--cache-dir", str(tmp_path / "cache")]) == 0
    out = capsys.readouterr().out
    assert str(cs.cache_path) in out and sandbox.base_url.split("//")[1] in out
    assert "entries" in out
    again = make_client(sandbox, tmp_path)
    again.lists()
    again.clear_cache()
    sent = sandbox.stats()["requests"]
    again.lists()
    assert sandbox.stats()["requests"] > sent  # nothing left to answer from
    again.close()
    assert main(["cache", "clear", "--cache-dir", str(tmp_path / "cache")]) == 0
    assert not list((tmp_path / "cache").glob("*.sqlite*"))
