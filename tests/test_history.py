"""SMS history loader against the sandbox: exact rows, order, dtypes, windows."""

from __future__ import annotations

import threading
import time
from urllib.parse import parse_qsl, urlsplit

import pandas as pd
import pytest

import csframe
from csframe import schema
from csframe.sandbox import running


def ts(value: str) -> int:
    return int(pd.Timestamp(value, tz="UTC").timestamp())


def test_history_returns_exactly_the_sandbox_rows_in_order(client, sandbox):
    df = client.history("sms", limit=15, max_workers=4)
    truth = sandbox.truth_sms_ids(date_to=int(time.time()))
    assert len(df) > 1000  # many pages at limit=15
    assert list(df["message_id"]) == truth
    assert df["message_id"].is_unique
    assert df["date"].is_monotonic_increasing


def test_window_is_half_open_and_matches_truth(client, sandbox):
    start, end = "2026-03-01", "2026-05-01"
    df = client.history("sms", start=start, end=end)
    truth = sandbox.truth_sms_ids(date_from=ts(start), date_to=ts(end) - 1)
    assert list(df["message_id"]) == truth
    assert (df["date"] >= pd.Timestamp(start, tz="UTC")).all()
    assert (df["date"] < pd.Timestamp(end, tz="UTC")).all()


def test_history_dtypes_follow_the_registry(client):
    df = client.history("sms", start="2026-01-01", end="2026-02-01")
    declared = schema.SMS_HISTORY.dtypes()
    assert {c: str(df[c].dtype) for c in declared} == declared
    assert list(df.columns[: len(declared)]) == list(declared)
    assert df.attrs["currency"] == "AUD"
    assert str(df["date"].dt.tz) == "UTC"
    assert df["message_price"].notna().all() and (df["message_price"] >= 0).all()


def test_empty_range_has_the_same_columns_and_dtypes(client):
    df = client.history("sms", start="2001-01-01", end="2001-02-01")
    assert len(df) == 0
    assert {c: str(t) for c, t in df.dtypes.items()} == schema.SMS_HISTORY.dtypes()
    assert df.attrs["currency"] == "AUD"


def test_timezone_aware_bounds_are_converted_to_utc(client):
    a = client.history("sms", start="2026-02-01T10:00:00+10:00", end="2026-02-02")
    b = client.history("sms", start="2026-02-01T00:00:00", end="2026-02-02")
    assert a["message_id"].tolist() == b["message_id"].tolist()


def test_iter_history_yields_typed_chunks_that_add_up(client):
    full = client.history("sms", start="2026-01-01", end="2026-04-01")
    parts = list(client.iter_history("sms", start="2026-01-01", end="2026-04-01", chunk_pages=2))
    assert len(parts) > 1
    joined = pd.concat(parts, ignore_index=True)
    assert joined["message_id"].tolist() == full["message_id"].tolist()
    for part in parts:
        assert {c: str(t) for c, t in part.dtypes.items()} == schema.SMS_HISTORY.dtypes()


def test_rows_inserted_mid_load_neither_duplicate_nor_shift(tmp_path):
    with running(scale="tiny", seed=5, latency_ms=20) as sb:
        cs = csframe.Client(
            **sb.credentials, base_url=sb.base_url, cache=False, progress=False, max_workers=2
        )
        truth = sb.truth_sms_ids(date_to=int(time.time()))
        chunks = []
        inserted = []
        for i, part in enumerate(cs.iter_history("sms", limit=15, chunk_pages=1)):
            chunks.append(part)
            if i in (1, 3):
                # New messages arrive while the load runs, a second or more after it
                # pinned date_to (timestamps are whole seconds).
                time.sleep(1.1)
                inserted += sb.insert_sms(40)
        df = pd.concat(chunks, ignore_index=True)
        assert inserted
        assert df["message_id"].tolist() == truth
        assert not set(inserted) & set(df["message_id"])
        # a new load sees them
        assert set(inserted) <= set(cs.history("sms")["message_id"])


def test_concurrent_loads_from_threads_share_one_client(client):
    results = {}

    def load(key, start, end):
        results[key] = client.history("sms", start=start, end=end)

    threads = [
        threading.Thread(target=load, args=(i, f"2026-0{i}-01", f"2026-0{i + 1}-01"))
        for i in range(1, 5)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    whole = client.history("sms", start="2026-01-01", end="2026-05-01")
    joined = pd.concat([results[i] for i in range(1, 5)], ignore_index=True)
    assert joined["message_id"].tolist() == whole["message_id"].tolist()


# "now" on the 1st, inside the settle period (7th), just past it (8th), the last day of a
# month and New Year's Day: the expectation must hold on every day of the month.
@pytest.mark.parametrize(
    "now",
    [
        "2026-11-01T00:30:00Z",
        "2026-11-07T12:00:00Z",
        "2026-11-08T00:00:30Z",
        "2026-11-30T23:59:00Z",
        "2027-01-01T00:00:30Z",
    ],
)
def test_closed_months_come_from_cache_and_only_the_open_window_is_refetched(tmp_path, clock, now):
    from csframe import timeutil
    from csframe.loaders import plan_windows
    from csframe.loaders.message_history import SHORT_EXPIRE

    clock(now)
    with running(scale="small", seed=9, now=now) as sb:
        cs = csframe.Client(
            **sb.credentials, base_url=sb.base_url, cache_dir=tmp_path, progress=False
        )
        first = cs.history("sms", start="2025-12-01")
        time.sleep(1.1)
        new_ids = sb.insert_sms(30)
        sent = cs.requests_sent
        second = cs.history("sms", start="2025-12-01")
        refetched = cs.requests_sent - sent
        pinned = int(timeutil.now_utc().timestamp())
        windows = plan_windows(ts("2025-12-01"), pinned)
        # Every window but the open one ends at a fixed instant, so its URL is the same
        # on the second load and it comes from the cache: long-lived once it closed more
        # than settle_days ago, and still fresh (5 minutes) if it closed more recently.
        # Only the open window, whose date_to is pinned to "now", goes back to the API.
        open_window = windows[-1]
        rows = len(sb.truth_sms_ids(date_from=open_window["date_from"], date_to=pinned))
        assert refetched == max(1, -(-rows // 100))
        assert len(second) == len(first) + len(new_ids)
        assert second["message_id"].tolist()[-30:] == new_ids
        # Where each window's data was kept, on this day: a window that closed more than
        # settle_days (7) ago as a table in the frame cache (its pages skip the HTTP
        # cache); one that may still change as pages with the short expiry.
        cs.session.frames.flush()
        stored = {}
        for response in cs.session.http.cache.responses.values():
            query = dict(parse_qsl(urlsplit(response.url).query))
            if "date_from" in query and response.expires is not None:
                lifetime = response.expires - response.created_at
                stored[int(query["date_to"])] = lifetime
        now_ts = timeutil.now_utc()
        search: dict = {}
        for w in windows[:-1]:
            end = pd.Timestamp(w["date_to"] + 1, unit="s", tz="UTC")
            framed = cs.session.frames.path("sms_history", w, search).is_file()
            if end < now_ts - cs.settle:
                assert framed and w["date_to"] not in stored, w
            else:
                assert not framed, w
                assert abs(stored[w["date_to"]] - SHORT_EXPIRE) < pd.Timedelta(minutes=1), w
        open_pages = [v for k, v in stored.items() if k > windows[-2]["date_to"]]
        assert open_pages and all(
            abs(v - SHORT_EXPIRE) < pd.Timedelta(minutes=1) for v in open_pages
        )


def test_month_windows_lose_and_duplicate_nothing_at_boundaries():
    with running(scale="tiny", seed=3) as sb:
        on_edge = sb.insert_sms(2, date=ts("2026-03-01"))
        before_edge = sb.insert_sms(2, date=ts("2026-03-01") - 1)
        cs = csframe.Client(**sb.credentials, base_url=sb.base_url, cache=False, progress=False)
        df = cs.history("sms", start="2026-01-15", end="2026-04-15")
        truth = sb.truth_sms_ids(date_from=ts("2026-01-15"), date_to=ts("2026-04-15") - 1)
        assert df["message_id"].tolist() == truth
        assert df["message_id"].is_unique
        assert set(on_edge + before_edge) <= set(df["message_id"])
        march = cs.history("sms", start="2026-03-01", end="2026-04-01")
        assert set(on_edge) <= set(march["message_id"])
        assert not set(before_edge) & set(march["message_id"])


def test_history_parses_in_the_system_allocator_not_arrows_default(sandbox):
    """The columnar path allocates from ``pa.system_memory_pool()``: Arrow's default pool
    (mimalloc in the wheels) keeps the memory parses free mapped, which made a cold load's
    peak RSS 2.8x its frame at 100,000 rows, 2.3x with the system pool
    (bench/history_load.py)."""
    import pyarrow as pa

    default, system = pa.default_memory_pool(), pa.system_memory_pool()
    if default.backend_name == system.backend_name:
        pytest.skip("Arrow's default pool is the system allocator here: nothing to tell apart")
    with csframe.Client(
        **sandbox.credentials, base_url=sandbox.base_url, cache=False, progress=False
    ) as cs:
        cs.currency()
        d0, s0 = default.total_bytes_allocated(), system.total_bytes_allocated()
        df = cs.history("sms")  # all of it: a fixed window would depend on today's date
        d1, s1 = default.total_bytes_allocated(), system.total_bytes_allocated()
    assert len(df) > 1000
    frame = int(df.memory_usage(deep=True).sum())
    assert s1 - s0 > 2 * frame  # the parses and the conversion, transients included
    # all that is left in the default pool: pandas' cast of text columns to large_string
    # (new offsets, the text itself shared), a part of the frame
    assert d1 - d0 < frame
