"""Every resource syncable: month stores and dated snapshots, ``sync all``, DuckDB over them.

Each store is synced twice (the second run fetches only what is open: requests counted)
and read back equal to a direct load of the same resource, values and dtypes.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

import csframe
from csframe import schema, store, sync_targets
from csframe.cli import main
from csframe.loaders import HISTORY, paged
from csframe.sandbox import running
from csframe.sync import sync, sync_all

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def sb():
    with running(scale="small", seed=31) as sandbox:
        yield sandbox


def make_client(sb) -> csframe.Client:
    # one worker: request counts do not depend on how many pages were in flight
    return csframe.Client(
        **sb.credentials, base_url=sb.base_url, cache=False, progress=False, max_workers=1
    )


@pytest.fixture(scope="module")
def synced(sb, tmp_path_factory):
    """``(client, root, first run, second run)`` of ``sync_all`` into one folder."""
    cs = make_client(sb)
    root = tmp_path_factory.mktemp("stores")
    first = sync_all(cs, root)
    second = sync_all(cs, root)
    return cs, root, first, second


def direct(cs: csframe.Client, name: str, root) -> pd.DataFrame:
    """The same resource loaded directly (not through a store)."""
    tgt = sync_targets.TARGETS[name]
    r = tgt.resource
    if r in HISTORY.values():
        channel = next(c for c, h in HISTORY.items() if h is r)
        return cs.history(channel, end=pd.Timestamp.now(tz="UTC"))
    if r in paged.RECEIPTS.values():
        return cs.receipts(r.name.split("_")[0])
    if name in ("sms_statistics", "voice_statistics"):
        return cs.statistics(name.split("_")[0])
    if r in paged.CAMPAIGNS.values():
        return cs.campaigns(r.name.split("_")[0])
    if name == "usage":
        months = json.loads((root / name / store.STATE_FILE).read_text())["months"]
        return cs.usage(min(months))
    if name == "email_campaign_history":
        ids = cs.campaigns("email")["email_campaign_id"]
        parts = [cs.campaign_history(int(i)) for i in ids]
        assert all((p["email_campaign_id"] == i).all() for p, i in zip(parts, ids, strict=True))
        return pd.concat(parts, ignore_index=True).astype(r.dtypes())
    if name == "account":
        return paged.account_frame(cs.session)
    loaders = {
        "sms_inbound": cs.inbound,
        "recharge_transactions": cs.recharge_transactions,
        "lists": cs.lists,
        "contacts": cs.contacts,
        "subaccounts": cs.subaccounts,
    }
    return loaders[name]()


def comparable(df: pd.DataFrame, resource: schema.Resource, layout: str) -> pd.DataFrame:
    """The declared columns, in a stable order for month stores (a store holds its rows by
    month of the time field; API order within a time may differ)."""
    df = df[resource.column_names]
    if layout == "month":
        keys = [k for k in (resource.time_field, resource.primary_key) if k]
        df = df.sort_values(keys, kind="stable")
    return df.reset_index(drop=True)


def test_sync_all_covers_every_registry_resource(synced):
    _, root, first, second = synced
    assert not first.skipped and not second.skipped
    held = {t.resource.name for t in sync_targets.TARGETS.values()}
    assert held == set(schema.REGISTRY)  # every registry resource has a store
    assert set(store.stores(root)) == set(sync_targets.TARGETS)
    for name in sync_targets.TARGETS:
        assert (root / name / store.STATE_FILE).is_file()


@pytest.mark.parametrize("name", sorted(sync_targets.TARGETS))
def test_each_store_reads_back_like_a_direct_load(synced, name):
    cs, root, _, _ = synced
    tgt = sync_targets.TARGETS[name]
    got = store.read(root / name)
    want = direct(cs, name, root)
    assert len(want) > 0, f"the sandbox has no {name}: the test would prove nothing"
    dtypes = tgt.resource.dtypes()
    assert {c: str(got[c].dtype) for c in dtypes} == dtypes
    pd.testing.assert_frame_equal(
        comparable(got, tgt.resource, tgt.layout),
        comparable(want, tgt.resource, tgt.layout),
        check_categorical=False,  # the categories' order follows which rows came first
    )


@pytest.mark.parametrize("name", sorted(sync_targets.TARGETS))
def test_the_second_sync_fetches_only_what_is_open(synced, name):
    _, root, first, second = synced
    tgt = sync_targets.TARGETS[name]
    a, b = first.results[name], second.results[name]
    if tgt.layout == "snapshot":
        today = f"{pd.Timestamp.now(tz='UTC'):%Y-%m-%d}"
        assert a.snapshot == b.snapshot == today
        state = json.loads((root / name / store.STATE_FILE).read_text())
        assert list(state["snapshots"]) == [today]  # the same day's snapshot is replaced
        return
    if tgt.merge_key:  # statistics: the API's last 30 days, one request each time
        assert a.requests == b.requests == 1
        return
    assert b.months_skipped, "closed months must not be fetched again"
    assert set(b.months_fetched) <= set(a.months_fetched)
    assert len(b.months_fetched) <= 2  # the current month and one still settling
    assert set(b.months_fetched) | set(b.months_skipped) == set(a.months_fetched)
    if a.requests > 3:
        assert b.requests < a.requests * 0.6


def test_receipts_are_fetched_newest_first_and_stop_at_the_oldest_open_month(synced):
    _, root, first, second = synced
    a, b = first.results["sms_receipts"], second.results["sms_receipts"]
    state = json.loads((root / "sms_receipts" / store.STATE_FILE).read_text())
    open_rows = sum(state["months"][m]["rows"] for m in b.months_fetched)
    assert b.rows == open_rows < a.rows
    # the open months' pages, plus the page reaching back past them and one in flight
    assert b.requests <= open_rows // 100 + 3
    assert a.requests >= a.rows // 100


def test_receipts_sync_is_whole_when_the_api_ignores_order_by(tmp_path, caplog):
    # The incremental receipts sync asks for newest first and stops early. An API that
    # checks order_by but does not apply it answers oldest first: stopping there would
    # keep only the oldest page of the open months.
    with running(scale="tiny", seed=33, faults={"ignore_order_by": True}) as sb:
        cs = make_client(sb)
        cs.sync("sms_receipts", tmp_path / "r")
        sb.set_faults(ignore_order_by=False)
        sent = cs.session.post(  # new receipts in the open month
            "/sms/send", {"messages": [{"to": "+61411111111", "body": "x", "source": "t"}]}
        )
        assert sent["messages"][0]["status"] == "SUCCESS"
        sb.set_faults(ignore_order_by=True)
        with caplog.at_level("WARNING", logger="csframe"):
            second = cs.sync("sms_receipts", tmp_path / "r")
        expected = cs.receipts("sms")
    assert second.months_fetched, "the open month is fetched again"
    got = store.read(tmp_path / "r")
    assert len(got) == len(expected) > 0
    key = ["message_id", "timestamp"]  # the store keeps time order, the API its own
    pd.testing.assert_frame_equal(
        got.sort_values(key, ignore_index=True),
        expected.sort_values(key, ignore_index=True),
        check_like=True,
    )
    assert "order_by=timestamp:desc not applied" in caplog.text


def test_snapshots_are_read_as_of_a_date(tmp_path, clock):
    with running(scale="tiny", seed=32) as sb:
        cs = make_client(sb)
        clock("2026-11-30T12:00:00Z")
        one = cs.sync("lists", tmp_path / "lists")
        before = cs.lists()
        cs.session.post("/lists", {"list_name": "Added in December"})
        clock("2026-12-02T08:00:00Z")
        two = cs.sync("lists", tmp_path / "lists")
        after = cs.lists()
    assert (one.snapshot, two.snapshot) == ("2026-11-30", "2026-12-02")
    assert len(after) == len(before) + 1
    old = store.read(tmp_path / "lists", as_of="2026-12-01")
    assert old.attrs["snapshot"] == "2026-11-30"
    pd.testing.assert_frame_equal(old, before, check_categorical=False)
    assert store.read(tmp_path / "lists", as_of="2026-11-30")["list_id"].tolist() == (
        before["list_id"].tolist()
    )
    new = store.read(tmp_path / "lists", as_of=pd.Timestamp("2026-12-02T00:00", tz="UTC"))
    assert new.attrs["snapshot"] == "2026-12-02"
    pd.testing.assert_frame_equal(new, after, check_categorical=False)
    latest = store.read(tmp_path / "lists", columns=["list_id", "list_name"])
    assert list(latest.columns) == ["list_id", "list_name"] and len(latest) == len(after)
    with pytest.raises(ValueError, match="2026-11-29: no snapshot on or before it; the first is"):
        store.read(tmp_path / "lists", as_of="2026-11-29")
    with pytest.raises(ValueError, match="no time field"):
        store.read(tmp_path / "lists", start="2026-01-01")


def test_bad_sync_arguments_are_refused_before_any_request(sb, tmp_path):
    cs = make_client(sb)
    sent = cs.requests_sent
    with pytest.raises(ValueError, match="resource must be one of .*sms_receipts"):
        cs.sync("receipts", tmp_path / "x")
    with pytest.raises(ValueError, match="statistics are per channel"):
        cs.sync("statistics", tmp_path / "x")
    with pytest.raises(ValueError, match="start does not apply to contacts"):
        cs.sync("contacts", tmp_path / "x", start="2026-01")
    assert cs.requests_sent == sent
    cs.sync("sms_inbound", tmp_path / "in")
    with pytest.raises(ValueError, match="holds 'sms_inbound', not 'sms_receipts'"):
        cs.sync("sms_receipts", tmp_path / "in")
    with pytest.raises(ValueError, match="as_of applies to snapshot stores"):
        store.read(tmp_path / "in", as_of="2026-01-01")


def test_sync_all_cli_then_duckdb_answers_like_pandas(tmp_path, capsys):
    duckdb = pytest.importorskip("duckdb", reason="the duckdb extra is not installed")
    assert main(["sync", "all", str(tmp_path / "data"), "--sandbox"]) == 0
    out = capsys.readouterr().out
    assert out.count("synced ") == len(sync_targets.TARGETS)
    assert set(store.stores(tmp_path / "data")) == set(sync_targets.TARGETS)
    con = store.duckdb(tmp_path / "data")
    assert isinstance(con, duckdb.DuckDBPyConnection)
    views = {row[0] for row in con.sql("SHOW TABLES").fetchall()}
    assert views == set(sync_targets.TARGETS)
    # delivery rate per country: history joined with receipts, in SQL and in pandas
    got = con.sql(
        "SELECT h.country, count(*) AS sent, count(r.message_id) AS receipted "
        "FROM sms_history h LEFT JOIN sms_receipts r USING (message_id) "
        "GROUP BY 1 ORDER BY 1"
    ).df()
    h = store.read(tmp_path / "data" / "sms_history")
    r = store.read(tmp_path / "data" / "sms_receipts")
    h["receipted"] = h["message_id"].isin(r["message_id"])
    want = (
        h.groupby(h["country"].astype(str))
        .agg(sent=("message_id", "size"), receipted=("receipted", "sum"))
        .reset_index()
    )
    assert got["country"].tolist() == want["country"].tolist()
    assert got["sent"].tolist() == want["sent"].tolist()
    assert got["receipted"].tolist() == want["receipted"].tolist()
    # usage keeps its own month column; a snapshot store has its snapshot date as a column
    (spend,) = con.sql("SELECT sum(price) FROM usage").fetchall()[0]
    assert spend == pytest.approx(store.read(tmp_path / "data" / "usage")["price"].sum())
    (n, days) = con.sql("SELECT count(*), count(DISTINCT snapshot) FROM contacts").fetchall()[0]
    assert (n, days) == (len(store.read(tmp_path / "data" / "contacts")), 1)
    with pytest.raises(SystemExit):  # argparse: not a resource, the names listed
        main(["sync", "nope", str(tmp_path / "x"), "--sandbox"])
    assert "sms_receipts" in capsys.readouterr().err


def test_statistics_keep_the_days_the_api_no_longer_serves(tmp_path, clock):
    # the API serves the last 30 days; a sync 15 days later keeps the older days it stored
    clock("2026-11-10T12:00:00Z")
    with running(scale="tiny", seed=33, now="2026-11-10T12:00:00Z") as sb:
        first = make_client(sb).statistics("sms")
        one = sync(make_client(sb), "sms_statistics", tmp_path / "st")
    clock("2026-11-25T12:00:00Z")
    with running(scale="tiny", seed=33, now="2026-11-25T12:00:00Z") as sb:
        second = make_client(sb).statistics("sms")
        two = sync(make_client(sb), "sms_statistics", tmp_path / "st")
    assert one.months_fetched == ["2026-10", "2026-11"]
    # October had closed (settled) by the first sync: kept as it was, not fetched again
    assert (two.months_fetched, two.months_skipped) == (["2026-11"], ["2026-10"])
    got = store.read(tmp_path / "st")
    assert got["date"].is_unique and got["date"].is_monotonic_increasing
    november = pd.Timestamp("2026-11-01", tz="UTC")
    assert len(got) == 20 + 25  # Oct 12..31 from the first sync, Nov 1..25 from both
    old = got[got["date"] < november].reset_index(drop=True)
    pd.testing.assert_frame_equal(old, first[first["date"] < november])
    new = got[got["date"] >= november].reset_index(drop=True)
    pd.testing.assert_frame_equal(new, second[second["date"] >= november].reset_index(drop=True))
    # Nov 1..10 were served by both: the second sync's values win
    assert len(first[first["date"] >= november]) == 10


def test_sync_all_skips_what_the_login_may_not_read(sb, tmp_path):
    # a subaccount without billing and user rights: the API answers 403 for those
    cs = csframe.Client(
        **sb.accounts["marketing"], base_url=sb.base_url, cache=False, progress=False
    )
    done = sync_all(cs, tmp_path)
    assert set(done.skipped) == {"recharge_transactions", "subaccounts"}
    assert "403" in done.skipped["subaccounts"] and "skipped" in str(done)
    assert set(done.results) == set(sync_targets.TARGETS) - set(done.skipped)
    assert set(store.stores(tmp_path)) == set(done.results)
    assert not (tmp_path / "subaccounts").exists()
