"""The frame cache (issue 16): closed history windows kept as tables, against a real sandbox.

Each test compares a load answered (partly) from the frame cache with an uncached load of
the same sandbox (ids, dtypes and values), and counts the requests that left the client.
"""

from __future__ import annotations

import logging
import math
from urllib.parse import urlsplit

import pandas as pd
import pytest

import csframe
from csframe import partfile
from csframe.loaders import HISTORY, plan_windows
from csframe.sandbox import running

NOW = "2026-11-01T00:30:00Z"  # October closed less than settle_days (7) ago: still open


def ts(value: str) -> int:
    return int(pd.Timestamp(value, tz="UTC").timestamp())


def make_client(sb, tmp_path, **kw) -> csframe.Client:
    kw.setdefault("cache_dir", tmp_path / "cache")
    kw.setdefault("progress", False)
    return csframe.Client(**sb.credentials, base_url=sb.base_url, **kw)


def assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Same ids in the same order, same dtypes, same values (categories compared by value:
    their internal order follows how the rows were chunked)."""
    assert got["message_id"].tolist() == want["message_id"].tolist()
    assert got.dtypes.astype(str).to_dict() == want.dtypes.astype(str).to_dict()
    for col in want.columns:
        a, b = got[col], want[col]
        if isinstance(b.dtype, pd.CategoricalDtype):
            a, b = a.astype(object), b.astype(object)
        pd.testing.assert_series_equal(a, b, check_categorical=False, obj=col)


def frame_files(cs: csframe.Client) -> list:
    cs.session.frames.flush()
    return sorted(cs.session.frames.directory.glob("*/*.parquet"))


def closed_pages_skipped(cs, sb, start: str) -> int:
    """Pages a load from ``start`` needs for the windows the frame cache cannot answer
    (closed less than settle_days ago, or open), with an empty HTTP cache."""
    from csframe import timeutil

    now = timeutil.now_utc()
    pages = 0
    for w in plan_windows(ts(start), int(now.timestamp())):
        if pd.Timestamp(w["date_to"] + 1, unit="s", tz="UTC") >= now - cs.settle:
            rows = len(sb.truth_sms_ids(date_from=w["date_from"], date_to=w["date_to"]))
            pages += max(1, math.ceil(rows / 100))
    return pages


@pytest.mark.parametrize("channel", sorted(HISTORY))
def test_frame_cache_returns_what_an_uncached_load_returns(tmp_path, clock, channel):
    clock(NOW)
    with running(scale="small", seed=16, now=NOW) as sb:
        # month edges inside, a cut month at each end; October ends 3 days before "now"
        window = {"start": "2026-01-15", "end": "2026-10-29"}
        truth = make_client(sb, tmp_path, cache=False).history(channel, **window)
        assert len(truth) > 0
        first = make_client(sb, tmp_path)
        assert_same(first.history(channel, **window), truth)
        files = frame_files(first)
        assert len(files) == 9  # Jan 15-31 .. Sep closed; October still settling
        first.close()
        october = make_client(sb, tmp_path, cache=False)
        october.currency()
        sent = october.requests_sent
        october.history(channel, start="2026-10-01", end="2026-10-29")
        october_requests = october.requests_sent - sent
        again = make_client(sb, tmp_path)  # a new client: nothing in memory
        again.currency()
        again.session.cache.clear()  # and nothing in the HTTP cache: only files can answer
        sent = again.requests_sent
        assert_same(again.history(channel, **window), truth)
        assert again.requests_sent - sent == october_requests  # only the open window
        again.close()


def test_rows_on_month_edges_and_new_open_window_messages(tmp_path, clock):
    clock(NOW)
    with running(scale="small", seed=16, now=NOW) as sb:
        on_edge = sb.insert_sms(2, date=ts("2026-03-01"))
        before_edge = sb.insert_sms(2, date=ts("2026-03-01") - 1)
        cs = make_client(sb, tmp_path)
        first = cs.history("sms", start="2026-01-01")
        assert set(on_edge + before_edge) <= set(first["message_id"])
        assert first["message_id"].is_unique
        assert len(frame_files(cs)) == 9  # January .. September
        new_ids = sb.insert_sms(25)  # in the open window (November)
        cs.session.cache.clear()  # the HTTP cache answers nothing: only frames can
        sent = cs.requests_sent
        second = cs.history("sms", start="2026-01-01")
        truth = make_client(sb, tmp_path, cache=False).history("sms", start="2026-01-01")
        assert_same(second, truth)
        assert second["message_id"].tolist()[-25:] == new_ids
        # closed months came from their files: only October and November were requested
        assert cs.requests_sent - sent == closed_pages_skipped(cs, sb, "2026-01-01")
        cs.close()


def test_a_window_closing_past_settle_days_is_fetched_once_then_read_from_its_file(tmp_path, clock):
    clock("2026-11-03T00:00:00Z")
    with running(scale="small", seed=16, now="2026-11-03T00:00:00Z") as sb:
        october = {"start": "2026-10-01", "end": "2026-11-01"}
        cs = make_client(sb, tmp_path)
        before = cs.history("sms", **october)
        assert frame_files(cs) == []  # October ended two days ago: it may still change
        late = sb.insert_sms(3, date=ts("2026-10-31T23:59:59Z"))  # a late arrival
        clock("2026-11-09T00:00:00Z")  # October now closed more than 7 days ago
        sent = cs.requests_sent
        closed = cs.history("sms", **october)
        # fetched from the API, not from the fresh pages of the HTTP cache, which lack it
        assert cs.requests_sent > sent
        assert set(late) <= set(closed["message_id"])
        assert len(closed) == len(before) + 3
        assert len(frame_files(cs)) == 1
        cs.close()
        again = make_client(sb, tmp_path)
        again.currency()  # /account carries secrets: the HTTP cache never holds it
        sent = again.requests_sent
        cached = again.history("sms", **october)
        assert again.requests_sent == sent  # no request at all
        truth = make_client(sb, tmp_path, cache=False).history("sms", **october)
        assert_same(cached, truth)
        assert_same(closed, truth)
        again.close()


def _truncate(path) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


def _flip(path) -> None:
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 64] = bytes(b ^ 0x5A for b in raw[middle : middle + 64])
    path.write_bytes(bytes(raw))


def _foreign(path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"message_id": ["x"]}), path)  # valid Parquet, not ours


def _rows_lost(path) -> None:
    # a whole, readable file written for this window, but holding fewer rows than it says
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    pq.write_table(table.slice(0, table.num_rows // 2), path)


@pytest.mark.parametrize("damage", [_truncate, _flip, _foreign, _rows_lost])
def test_a_damaged_window_file_is_refetched_never_returned(tmp_path, clock, caplog, damage):
    clock(NOW)
    with running(scale="small", seed=16, now=NOW) as sb:
        window = {"start": "2026-03-01", "end": "2026-06-01"}
        cs = make_client(sb, tmp_path)
        truth = cs.history("sms", **window)
        files = frame_files(cs)
        assert len(files) == 3
        cs.close()
        victim = files[1]
        damage(victim)
        with pytest.raises(partfile.DamagedFile):
            partfile.read_table(victim)
        again = make_client(sb, tmp_path)
        sent = again.requests_sent
        with caplog.at_level(logging.WARNING, logger="csframe"):
            got = again.history("sms", **window)
        assert_same(got, truth)
        assert again.requests_sent > sent  # that window went back to the API
        assert any("frame cache" in r.getMessage() for r in caplog.records)
        again.session.frames.flush()
        assert partfile.read_table(victim).num_rows > 0  # written whole again
        again.close()


def test_frame_cache_is_namespaced_by_server(tmp_path, clock):
    clock(NOW)
    window = {"start": "2026-03-01", "end": "2026-06-01"}
    with running(scale="small", seed=42, now=NOW) as first:
        port = urlsplit(first.base_url).port
        cs = make_client(first, tmp_path)
        seen_first = cs.history("sms", **window)
        assert len(frame_files(cs)) == 3
        cs.close()
    with running(scale="small", seed=7, now=NOW, port=port) as second:
        assert second.base_url == first.base_url  # same root, user: another instance
        cs = make_client(second, tmp_path)
        got = cs.history("sms", **window)
        truth = second.truth_sms_ids(date_from=ts(window["start"]), date_to=ts(window["end"]) - 1)
        assert got["message_id"].tolist() == truth
        assert got["message_id"].tolist() != seen_first["message_id"].tolist()
        cs.close()


def test_clear_cache_clears_both_caches_and_the_cli_covers_frames(tmp_path, clock, capsys):
    from csframe.cli import main

    clock(NOW)
    with running(scale="small", seed=16, now=NOW) as sb:
        window = {"start": "2026-03-01", "end": "2026-06-01"}
        cs = make_client(sb, tmp_path)
        cs.history("sms", **window)
        cs.lists()
        assert len(frame_files(cs)) == 3
        cs.clear_cache()
        assert frame_files(cs) == []
        sent = cs.requests_sent
        cs.lists()
        cs.history("sms", **window)
        # every page again: nothing answered from either cache
        pages = sum(
            max(1, math.ceil(len(sb.truth_sms_ids(date_from=a, date_to=b - 1)) / 100))
            for a, b in [
                (ts("2026-03-01"), ts("2026-04-01")),
                (ts("2026-04-01"), ts("2026-05-01")),
                (ts("2026-05-01"), ts("2026-06-01")),
            ]
        )
        assert cs.requests_sent - sent >= 1 + pages
        assert len(frame_files(cs)) == 3
        cs.close()
        directory = str(tmp_path / "cache")
        assert main(["cache", "info", "--cache-dir", directory]) == 0
        out = capsys.readouterr().out
        assert "3 windows" in out
        assert main(["cache", "clear", "--cache-dir", directory]) == 0
        assert not list((tmp_path / "cache").glob("*.frames"))


def test_frame_cache_files_are_private(tmp_path, clock):
    clock(NOW)
    with running(scale="tiny", seed=16, now=NOW) as sb:
        cs = make_client(sb, tmp_path)
        cs.history("sms", start="2026-03-01", end="2026-05-01")
        files = frame_files(cs)
        assert files
        for f in files:
            assert f.stat().st_mode & 0o777 == 0o600
        for d in {f.parent for f in files} | {cs.session.frames.directory}:
            assert d.stat().st_mode & 0o777 == 0o700
        cs.close()


def test_a_write_queued_with_an_event_waits_for_it_and_history_sets_it(tmp_path, clock):
    """history() holds its last window's write until the frame is built (the writer's
    buffers on top of the table and the frame were the load's peak): the window is served
    from memory meanwhile, written once the event is set, and history() always sets it."""
    import threading

    import pyarrow as pa

    from csframe.framecache import FrameCache

    frames = FrameCache(tmp_path / "f.frames", "ns")
    table = pa.table({"message_id": ["1", "2"], "body": ["a", "b"]})
    window, built = {"date_from": 0, "date_to": 99}, threading.Event()
    frames.put("sms_history", window, {}, [table], after=built)
    assert not frames.flush(timeout=0.3)  # held: not written while the event is unset
    assert not frames.path("sms_history", window, {}).exists()
    got = frames.get("sms_history", window, {})
    assert got is not None and got.equals(table)  # served from memory meanwhile
    built.set()
    assert frames.flush(timeout=10)
    assert frames.path("sms_history", window, {}).exists()
    frames.close()

    clock(NOW)
    with running(scale="tiny", seed=16, now=NOW) as sb:
        cs = make_client(sb, tmp_path)
        want = cs.history("sms", start="2026-03-01", end="2026-05-01")
        assert cs.session.frames.flush(timeout=10)  # the last window's event was set
        assert len(frame_files(cs)) == 2  # March and April, each written once
        assert_same(cs.history("sms", start="2026-03-01", end="2026-05-01"), want)
        cs.close()


def test_a_stream_reads_kept_windows_one_at_a_time_in_chunk_pages_pieces(tmp_path, clock):
    """iter_history over closed months from the frame cache: chunks of chunk_pages pages
    (not one chunk per month), and each month's file is read when its turn comes, not all
    before the first chunk (a stream held every cached month at once: ~560 MB at 1M rows).
    Files removed after the first chunk are therefore fetched again, and the stream is
    still exactly an uncached load."""
    clock(NOW)
    with running(scale="small", seed=16, now=NOW) as sb:
        window = {"start": "2026-03-01", "end": "2026-06-01"}
        truth = make_client(sb, tmp_path, cache=False).history("sms", **window)
        cs = make_client(sb, tmp_path)
        cs.history("sms", **window)
        files = frame_files(cs)
        assert len(files) == 3
        cs.close()
        monthly = truth["date"].dt.month.value_counts()
        assert monthly.min() > 100  # so a month is more than one chunk of one page

        again = make_client(sb, tmp_path)
        again.currency()
        sent = again.requests_sent
        stream = again.iter_history("sms", **window, chunk_pages=1)
        chunks = [next(stream)]
        assert again.requests_sent == sent  # the first chunk came from March's file
        for path in files:
            path.unlink()  # April's and May's files are gone before their turn
        chunks += list(stream)
        assert again.requests_sent > sent  # ...so they went back to the API
        assert max(len(c) for c in chunks) <= 100
        got = pd.concat(chunks, ignore_index=True)
        assert got["message_id"].tolist() == truth["message_id"].tolist()
        again.session.frames.flush()
        assert len(frame_files(again)) == 2  # the refetched months are kept again
        again.close()
