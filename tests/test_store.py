"""Incremental Parquet sync and store reads, against a private sandbox."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

import csframe
from csframe import schema, store
from csframe.sandbox import running


@pytest.fixture(scope="module")
def sb():
    with running(scale="small", seed=21) as sb:
        yield sb


def make_client(sb, tmp_path):
    return csframe.Client(**sb.credentials, base_url=sb.base_url, cache=False, progress=False)


def test_sync_then_read_equals_history_with_registry_dtypes(sb, tmp_path):
    cs = make_client(sb, tmp_path)
    result = cs.sync("sms", tmp_path / "sms")
    assert result.months_fetched and result.rows > 0
    df = store.read(tmp_path / "sms")
    h = cs.history("sms", end=pd.Timestamp.now(tz="UTC"))
    assert df["message_id"].tolist() == h["message_id"].tolist()[: len(df)]
    assert {c: str(t) for c, t in df.dtypes.items() if c in schema.SMS_HISTORY.dtypes()} == (
        schema.SMS_HISTORY.dtypes()
    )
    assert df.attrs["currency"] == "AUD"
    part = store.read(
        tmp_path / "sms", start="2026-03-01", end="2026-04-01", columns=["date", "to"]
    )
    assert list(part.columns) == ["date", "to"]
    assert (
        part["date"]
        .between(
            pd.Timestamp("2026-03-01", tz="UTC"),
            pd.Timestamp("2026-04-01", tz="UTC"),
            inclusive="left",
        )
        .all()
    )
    assert len(part) == len(cs.history("sms", start="2026-03-01", end="2026-04-01"))
    with pytest.raises(ValueError, match="unknown column"):
        store.read(tmp_path / "sms", columns=["nope"])


def test_second_sync_fetches_only_the_open_window(sb, tmp_path):
    cs = make_client(sb, tmp_path)
    first = cs.sync("sms", tmp_path / "s")
    second = cs.sync("sms", tmp_path / "s")
    assert second.months_skipped  # closed months are never fetched again
    assert set(second.months_fetched) < set(first.months_fetched)
    assert len(second.months_fetched) <= 2  # the current month (and one still settling)
    # requests of the second sync = pages of the open months only
    open_rows = sum(
        json.loads((tmp_path / "s" / store.STATE_FILE).read_text())["months"][m]["rows"]
        for m in second.months_fetched
    )
    assert second.requests <= sum(1 for _ in second.months_fetched) + open_rows // 100 + 1
    time.sleep(1.1)
    new = sb.insert_sms(25)
    third = cs.sync("sms", tmp_path / "s")
    assert third.months_fetched == second.months_fetched
    assert set(new) <= set(store.read(tmp_path / "s")["message_id"])


def test_the_store_is_readable_by_plain_pyarrow(sb, tmp_path):
    import pyarrow.dataset as ds

    cs = make_client(sb, tmp_path)
    cs.sync("sms", tmp_path / "p", start="2026-05")
    table = ds.dataset(tmp_path / "p", format="parquet", partitioning="hive").to_table()
    assert table.num_rows == len(store.read(tmp_path / "p"))
    assert "month" in table.column_names  # hive partition column, as DuckDB/Spark see it


def test_a_sync_killed_mid_write_leaves_a_readable_store(tmp_path):
    with running(scale="small", seed=22, latency_ms=15) as sb:
        script = textwrap.dedent(
            f"""
            import csframe
            cs = csframe.Client({sb.credentials["username"]!r}, {sb.credentials["api_key"]!r},
                                base_url={sb.base_url!r}, cache=False, progress=False, max_workers=2)
            cs.sync("sms", {str(tmp_path / "k")!r})
            """
        )
        proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ})
        deadline = time.monotonic() + 60
        state = tmp_path / "k" / store.STATE_FILE
        while not state.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # let it get into the next months' pages and writes
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert state.exists()
        partial = store.read(tmp_path / "k")  # readable, whatever the moment of the kill
        done = json.loads(state.read_text())["months"]
        assert len(partial) == sum(m["rows"] for m in done.values())
        cs = csframe.Client(**sb.credentials, base_url=sb.base_url, cache=False, progress=False)
        cs.sync("sms", tmp_path / "k")
        full = store.read(tmp_path / "k")
        assert full["message_id"].is_unique
        assert len(full) == len(cs.history("sms", end=pd.Timestamp.now(tz="UTC")))
        assert not list((tmp_path / "k").rglob(".*.tmp"))


def test_duckdb_views_over_the_stores_answer_like_store_read(sb, tmp_path):
    pytest.importorskip("duckdb", reason="the duckdb extra is not installed")
    cs = make_client(sb, tmp_path)
    cs.sync("sms", tmp_path / "data" / "sms", start="2026-05")
    (tmp_path / "data" / "notes").mkdir()  # a folder that is no store is ignored
    assert set(store.stores(tmp_path / "data")) == {schema.SMS_HISTORY.name}
    con = store.duckdb(tmp_path / "data")
    got = con.sql(
        f"SELECT country, count(*) AS n, sum(message_price) AS spend "
        f"FROM {schema.SMS_HISTORY.name} GROUP BY 1 ORDER BY 1"
    ).df()
    df = store.read(tmp_path / "data" / "sms")
    want = (
        df.groupby("country", observed=True)
        .agg(n=("message_id", "size"), spend=("message_price", "sum"))
        .reset_index()
        .astype({"country": "str"})
        .sort_values("country", ignore_index=True)
    )
    assert got["country"].astype(str).tolist() == want["country"].astype(str).tolist()
    assert got["n"].tolist() == want["n"].tolist()
    assert got["spend"].to_numpy() == pytest.approx(want["spend"].to_numpy())
    months = con.sql(f"SELECT DISTINCT month FROM {schema.SMS_HISTORY.name}").fetchall()
    assert len(months) >= 1  # the hive partition is a column
    with pytest.raises(FileNotFoundError, match="no csframe store"):
        store.duckdb(tmp_path / "data" / "notes")


def test_dir_lists_the_public_submodules():
    names = dir(csframe)
    for name in ("Client", "clean", "reports", "sandbox", "store", "writers", "widgets"):
        assert name in names


def test_a_killed_writers_temp_files_are_removed_by_the_next_sync(sb, tmp_path):
    cs = make_client(sb, tmp_path)
    root = tmp_path / "t"
    cs.sync("sms", root, start="2026-05")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    month = next(root.glob("month=*"))
    stale = month / f".part.parquet.{dead}.tmp"  # what a SIGKILL before the rename leaves
    stale.write_bytes(b"half a file")
    mine = month / f".part.parquet.{os.getpid()}.tmp"  # a live writer's: kept
    mine.write_bytes(b"in progress")
    cs.sync("sms", root, start="2026-05")
    assert not stale.exists() and mine.exists()
    mine.unlink()


def test_a_month_file_the_state_does_not_record_is_not_read(sb, tmp_path):
    # a sync killed between writing a month file and recording it in the state
    cs = make_client(sb, tmp_path)
    root = tmp_path / "u"
    cs.sync("sms", root, start="2026-05")
    before = store.read(root)
    state = json.loads((root / store.STATE_FILE).read_text())
    newest = max(state["months"])
    del state["months"][newest]
    (root / store.STATE_FILE).write_text(json.dumps(state))
    partial = store.read(root)
    assert len(partial) == sum(m["rows"] for m in state["months"].values()) < len(before)
    cs.sync("sms", root, start="2026-05")  # the next sync completes it
    assert len(store.read(root)) >= len(before)


def test_a_snapshot_the_state_does_not_record_is_not_read(sb, tmp_path, clock):
    # a snapshot sync killed between writing its file and recording it in the state
    cs = make_client(sb, tmp_path)
    root = tmp_path / "lists"
    clock("2026-11-30T12:00:00Z")
    cs.sync("lists", root)
    lists = cs.lists()
    store.write_snapshot(root, "2026-12-01", lists.head(1))  # written, never recorded
    got = store.read(root)
    assert got.attrs["snapshot"] == "2026-11-30" and len(got) == len(lists) > 1
    assert store.read(root, as_of="2026-12-05")["list_id"].tolist() == lists["list_id"].tolist()
    if importlib.util.find_spec("duckdb"):
        con = store.duckdb(root)
        assert con.sql("SELECT count(*), count(DISTINCT snapshot) FROM lists").fetchall() == [
            (len(lists), 1)
        ]
    clock("2026-12-01T12:00:00Z")
    cs.sync("lists", root)  # the next sync of that day replaces and records it
    assert len(store.read(root)) == len(lists)
    assert store.read(root).attrs["snapshot"] == "2026-12-01"
