"""Scale-out on Dask (issue 17): the store as a dask DataFrame, store-backed reports on
either engine, cleanup on Dask, and many accounts synced as cluster tasks.

The cluster is a real ``distributed.LocalCluster`` (2 worker processes, 1 thread each),
started once for the module; the data is small so the whole file stays quick.
"""

from __future__ import annotations

import pandas as pd
import pytest

import csframe
import csframe.loaders
import csframe.sync
from csframe import schema, store
from csframe.sandbox import running

dd = pytest.importorskip("dask.dataframe", reason="the 'dask' extra is not installed")
distributed = pytest.importorskip("distributed", reason="the 'dask' extra is not installed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
    ) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def dask_client(cluster):
    with distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def sb():
    with running(scale="small", seed=21) as sb:
        yield sb


@pytest.fixture(scope="module")
def sms_store(sb, tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "sms"
    cs = csframe.Client(**sb.credentials, base_url=sb.base_url, cache=False, progress=False)
    cs.sync("sms", path)
    return path


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


# --- store.read(engine="dask") ------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "columns"),
    [
        (None, None, None),
        # bounds cutting through months, across month edges, with a projection
        ("2026-02-14 10:00", "2026-05-01", ["date", "country", "message_price", "to"]),
        ("2026-03-01", "2026-03-31 23:59:59", ["status", "date"]),
    ],
)
def test_dask_read_equals_the_pandas_read(sms_store, dask_client, start, end, columns):
    pdf = store.read(sms_store, start, end, columns)
    ddf = store.read(sms_store, start, end, columns, engine="dask")
    assert isinstance(ddf, dd.DataFrame)
    # The meta is the registry's dtypes, as is every computed partition.
    dtypes = schema.SMS_HISTORY.dtypes()
    want = {c: dtypes[c] for c in (columns or schema.SMS_HISTORY.column_names)}
    assert {c: str(t) for c, t in ddf.dtypes.items()} == want
    got = ddf.compute()
    assert {c: str(t) for c, t in got.dtypes.items()} == want
    assert len(pdf) > 0
    _same(got, pdf)


def test_dask_read_is_one_partition_per_month_in_the_window(sms_store):
    state_months = sorted(store.StoreState.load(sms_store, "sms_history").months)
    assert store.read(sms_store, engine="dask").npartitions == len(state_months)
    ddf = store.read(sms_store, "2026-02-14", "2026-05-01", engine="dask")
    assert ddf.npartitions == 3  # February, March, April: the others are never opened
    # A later selection is pushed into the month reads.
    projected = ddf[["date", "to"]].optimize().expr
    assert type(projected).__name__ == "FromMapProjectable"  # no projection left above it
    assert sorted(projected.columns) == ["date", "to"]


def test_dask_read_of_an_empty_window_has_the_registry_dtypes(sms_store):
    ddf = store.read(sms_store, "2031-01-01", columns=["date", "country", "to"], engine="dask")
    got = ddf.compute()
    assert len(got) == 0
    assert {c: str(t) for c, t in got.dtypes.items()} == {
        "date": "datetime64[s, UTC]",
        "country": "category",
        "to": "str",
    }
    assert {c: str(t) for c, t in ddf.dtypes.items()} == {
        "date": "datetime64[s, UTC]",
        "country": "category",
        "to": "str",
    }


def test_dask_read_rejects_bad_arguments(sms_store):
    with pytest.raises(ValueError, match="engine must be one of pandas, dask; got 'spark'"):
        store.read(sms_store, engine="spark")
    with pytest.raises(ValueError, match=r"unknown column\(s\) \['nope'\]"):
        store.read(sms_store, columns=["nope"], engine="dask")


# --- reports from a store ------------------------------------------------------------------

NOW = "2026-12-06T12:00Z"


def _same_report(a, b) -> None:
    assert list(a.tables) == list(b.tables)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name], obj=name)
    assert a.summary == b.summary
    assert a.alerts == b.alerts


@pytest.mark.parametrize("tz", ["Australia/Melbourne", "UTC"])
def test_delivery_from_a_store_equals_the_api_report_on_both_engines(
    sb, sms_store, dask_client, tz
):
    cs = csframe.Client(**sb.credentials, base_url=sb.base_url, cache=False, progress=False)
    api = csframe.reports.delivery(cs, "2026-01", "2026-11", tz=tz, now=NOW)
    assert api.summary["messages"] > 1000 and len(api.tables["failed_messages"]) > 0
    on_pandas = csframe.reports.delivery(cs, "2026-01", "2026-11", tz=tz, now=NOW, store=sms_store)
    on_dask = csframe.reports.delivery(
        cs, "2026-01", "2026-11", tz=tz, now=NOW, store=sms_store, engine="dask"
    )
    _same_report(api, on_pandas)
    _same_report(api, on_dask)
    assert on_dask.meta.currency == api.meta.currency == "AUD"


def test_delivery_from_a_store_needs_no_client(sms_store):
    rep = csframe.reports.delivery(
        start="2026-03", end="2026-03", store=sms_store, engine="dask", now=NOW
    )
    assert rep.meta.tz == "UTC" and rep.summary["messages"] > 0
    with pytest.raises(csframe.reports.OptionError, match="needs a client or store=PATH"):
        csframe.reports.delivery(start="2026-03", end="2026-03")
    with pytest.raises(csframe.reports.OptionError, match="no sms_history store there"):
        csframe.reports.delivery(start="2026-03", end="2026-03", store=sms_store / "month=2026-03")
    # A folder of stores serves its channel's store; another channel is named as missing.
    rep2 = csframe.reports.delivery(start="2026-03", end="2026-03", store=sms_store.parent, now=NOW)
    pd.testing.assert_frame_equal(rep2.tables["daily"], rep.tables["daily"])
    with pytest.raises(
        csframe.reports.OptionError, match=r"no mms_history store there \(sms_history\)"
    ):
        csframe.reports.delivery(start="2026-03", store=sms_store.parent, channel="mms")


@pytest.fixture(scope="module")
def stores(sb, tmp_path_factory):
    """Every history channel synced into one folder of stores (``data/sms``, ...)."""
    root = tmp_path_factory.mktemp("stores")
    cs = csframe.Client(**sb.credentials, base_url=sb.base_url, cache=False, progress=False)
    for channel in csframe.loaders.HISTORY:
        cs.sync(channel, root / channel, start="2025-12")
    return root


def test_usage_cost_history_sheets_from_stores_equal_the_api_report_on_both_engines(
    sb, stores, dask_client
):
    cs = csframe.Client(**sb.credentials, base_url=sb.base_url, cache=False, progress=False)
    api = csframe.reports.usage_cost(cs, "2026-01", "2026-11", now=NOW)
    assert {"cost_per_delivered", "reconciliation"} <= set(api.tables)
    assert len(api.summary["reconciled_channels"]) >= 5  # sms, mms, voice, fax, post...
    on_pandas = csframe.reports.usage_cost(cs, "2026-01", "2026-11", now=NOW, store=stores)
    on_dask = csframe.reports.usage_cost(
        cs, "2026-01", "2026-11", now=NOW, store=stores, engine="dask"
    )
    _same_report(api, on_pandas)
    _same_report(api, on_dask)
    assert not on_dask.notes
    # A channel without a store is a note, as a channel without history is.
    only_sms = csframe.reports.usage_cost(
        cs, "2026-01", "2026-11", now=NOW, store=stores / "sms", history_channels=["sms", "mms"]
    )
    assert any("mms: no history" in n and "no mms_history store" in n for n in only_sms.notes)


def test_campaigns_per_message_parts_from_a_store_equal_the_api_report_on_both_engines(
    sb, sms_store, dask_client
):
    cs = csframe.Client(**sb.credentials, base_url=sb.base_url, cache=False, progress=False)
    api = csframe.reports.campaigns(cs, "2026-01", "2026-11", now=NOW)
    sms = api.tables["sms"]
    assert int(sms["sent"].sum()) > 500 and int(sms["replies"].sum()) > 0  # something to match
    on_pandas = csframe.reports.campaigns(cs, "2026-01", "2026-11", now=NOW, store=sms_store)
    on_dask = csframe.reports.campaigns(
        cs, "2026-01", "2026-11", now=NOW, store=sms_store.parent, engine="dask"
    )
    _same_report(api, on_pandas)
    _same_report(api, on_dask)


# --- cleanup on Dask ------------------------------------------------------------------------


def _contacts_raw() -> pd.DataFrame:
    from test_clean import truth_frame

    return truth_frame().drop(columns="truth")


def test_clean_contacts_phones_emails_on_dask_equal_pandas(dask_client):
    import dask

    raw = _contacts_raw()
    with dask.config.set({"dataframe.convert-string": False}):  # keep the mixed phone column
        ddf = dd.from_pandas(raw, npartitions=3, sort=False)
    got = csframe.clean.contacts(ddf, default_region="AU")
    assert isinstance(got, dd.DataFrame)  # lazy: cleaned where the partitions are
    want = csframe.clean.contacts(raw, default_region="AU")
    assert {c: str(t) for c, t in got.dtypes.items()} == {c: str(t) for c, t in want.dtypes.items()}
    pd.testing.assert_frame_equal(got.compute(), want)
    ph = csframe.clean.phones(ddf["phone_number"], "AU", ddf["address_country"], prefix="mobile")
    pd.testing.assert_frame_equal(
        ph.compute(),
        csframe.clean.phones(raw["phone_number"], "AU", raw["address_country"], prefix="mobile"),
    )
    pd.testing.assert_frame_equal(
        csframe.clean.emails(ddf["email"]).compute(), csframe.clean.emails(raw["email"])
    )


def _dask_frame(df: pd.DataFrame, npartitions: int, client=None):
    import dask

    with dask.config.set({"dataframe.convert-string": False}):  # keep pandas' own dtypes
        ddf = dd.from_pandas(df, npartitions=npartitions, sort=False)
    return client.persist(ddf) if client is not None else ddf


def _bench_module(name: str):
    """A generator of bench/ (loaded by path, so that bench/ shadows nothing on sys.path)."""
    import importlib.util
    import sys
    from pathlib import Path

    key = f"csframe_bench_{name}"
    if key not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "bench" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(key, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


def test_duplicates_and_dedupe_on_dask_equal_pandas_on_the_cleanup_test_data(dask_client):
    raw = _contacts_raw()
    ddf = _dask_frame(raw, 3)
    got = csframe.clean.duplicates(ddf, default_region="AU")
    assert isinstance(got, dd.DataFrame)
    want = csframe.clean.duplicates(raw, default_region="AU")
    assert want["cluster_size"].max() > 1 and want["needs_review"].any()  # something to find
    # every column: the clusters (here even their ids), rules, weights, review, survivors
    pd.testing.assert_frame_equal(got.compute(), want)
    pd.testing.assert_frame_equal(
        csframe.clean.dedupe(ddf, default_region="AU").compute(),
        csframe.clean.dedupe(raw, default_region="AU"),
    )
    # a review cluster accepted, from the Dask duplicates() result
    flagged = int(want.loc[want["needs_review"].to_numpy(bool), "cluster_id"].iloc[0])
    pd.testing.assert_frame_equal(
        csframe.clean.dedupe(got, decisions={flagged: "accept"}).compute(),
        csframe.clean.dedupe(want, decisions={flagged: "accept"}),
    )
    with pytest.raises(csframe.clean.CleanInputError, match="unknown cluster_id"):
        csframe.clean.dedupe(got, decisions={10**6: "accept"})


def test_duplicates_and_dedupe_on_dask_survive_a_worker_killed_after_they_return(dask_client):
    # What duplicates() and dedupe() leave on the workers (the cluster columns, the merged
    # rows) must be recomputable when a worker dies before the result is computed: a
    # scattered piece is gone with its worker and the result could never be computed.
    import os
    import signal

    raw = _contacts_raw()
    got = csframe.clean.duplicates(_dask_frame(raw, 4), default_region="AU")
    merged = csframe.clean.dedupe(got)
    pids = dask_client.run(os.getpid)
    os.kill(next(iter(pids.values())), signal.SIGKILL)  # one worker process
    dask_client.wait_for_workers(2, timeout=60)  # the nanny starts a new one
    pd.testing.assert_frame_equal(got.compute(), csframe.clean.duplicates(raw, default_region="AU"))
    pd.testing.assert_frame_equal(merged.compute(), csframe.clean.dedupe(raw, default_region="AU"))


def test_duplicates_on_dask_use_every_field_and_rule_as_pandas(dask_client):
    # a postal list: date of birth in custom_1 (found by reading its values), street
    # address and suburb, swapped names, households that must stay apart
    listgen = _bench_module("listgen")
    df, _ = listgen.generate("postal", people=1000, seed=4)
    ddf = _dask_frame(df, 4, dask_client)
    want = csframe.clean.duplicates(df, default_region="AU")
    assert want["rule"].astype("str").str.contains("dob").any()
    pd.testing.assert_frame_equal(
        csframe.clean.duplicates(ddf, default_region="AU").compute(), want
    )
    mixed, _ = listgen.generate("mixed", people=1000, seed=5)
    ddf = _dask_frame(mixed, 4, dask_client)
    pd.testing.assert_frame_equal(
        csframe.clean.duplicates(ddf, ("phone", "email"), default_region="AU").compute(),
        csframe.clean.duplicates(mixed, ("phone", "email"), default_region="AU"),
    )


def test_duplicates_and_dedupe_on_dask_equal_pandas_on_200k_contacts_with_known_truth(
    dask_client,
):
    bench_clean = _bench_module("clean")
    df = bench_clean.generate(200_000)
    person = df.pop("_person").to_numpy()
    ddf = _dask_frame(df, 4, dask_client)
    got = csframe.clean.duplicates(ddf, default_region="AU")
    d = got.compute()
    want = csframe.clean.duplicates(df, default_region="AU")
    pd.testing.assert_frame_equal(d, want)
    precision, recall, _, _ = bench_clean.pair_scores(d["cluster_id"].to_numpy(), person)
    assert precision >= 0.99 and recall >= 0.99
    pd.testing.assert_frame_equal(csframe.clean.dedupe(got).compute(), csframe.clean.dedupe(want))


# --- many accounts -----------------------------------------------------------------------------

ACCOUNTS = ("main", "marketing", "support", "alerts", "nocredit")


@pytest.fixture(scope="module")
def slow_sb():
    # 5 accounts of one sandbox (4 logins of an account with their own messages, and an
    # account without any); 20 ms per request so that a sync takes long enough to kill.
    with running(scale="tiny", seed=5, latency_ms=20) as sb:
        yield sb


def _accounts(sb) -> list:
    from csframe.accounts import Account

    return [Account(**sb.accounts[name], base_url=sb.base_url) for name in ACCOUNTS]


@pytest.fixture(scope="module")
def separate(slow_sb, tmp_path_factory) -> dict:
    """Each account synced on its own with sync(): what sync_accounts must equal."""
    return _separate_syncs(slow_sb, tmp_path_factory.mktemp("one-by-one"))


def _separate_syncs(sb, root) -> dict:
    out = {}
    for name in ACCOUNTS:
        cs = csframe.Client(**sb.accounts[name], base_url=sb.base_url, cache=False, progress=False)
        csframe.sync.sync(cs, "sms", root / name, start="2025-10")
        out[sb.accounts[name]["username"]] = store.read(root / name)
    return out


def test_sync_accounts_on_the_cluster_equals_separate_syncs(
    slow_sb, dask_client, separate, tmp_path
):
    from csframe import accounts

    keys = {slow_sb.accounts[n]["api_key"] for n in ACCOUNTS}
    with distributed.get_task_stream(dask_client) as stream:
        done = csframe.sync_accounts(
            _accounts(slow_sb), tmp_path / "data", client=dask_client, start="2025-10"
        )
    assert all(d.ok for d in done.values()), [d.error for d in done.values()]
    want = separate
    assert set(done) == set(want)
    assert sum(len(f) for f in want.values()) > 250
    for username, frame in want.items():
        _same(store.read(tmp_path / "data" / f"account={username}" / "sms"), frame)
        assert done[username].results["sms"].rows == len(frame)
    # One channel across accounts, on either engine.
    both = accounts.read(tmp_path / "data", "sms", columns=["date", "message_id"])
    assert both["account"].value_counts().to_dict() == {u: len(f) for u, f in want.items()}
    lazy = accounts.read(tmp_path / "data", "sms", columns=["date", "message_id"], engine="dask")
    _same(lazy.compute(), both)
    # Credentials: in no task key, no scheduler or worker log, no repr.
    names = " ".join(str(t.get("key")) for t in stream.data)
    assert "csframe-sync-account-" in names
    logs = str(dask_client.get_scheduler_logs()) + str(dask_client.get_worker_logs())
    shown = names + logs + repr(_accounts(slow_sb)) + repr(done)
    assert not [k for k in keys if k in shown]


def test_a_failing_account_is_reported_without_its_key(slow_sb, dask_client, tmp_path):
    from csframe.accounts import Account

    good = Account(**slow_sb.accounts["alerts"], base_url=slow_sb.base_url)
    bad = Account("alerts2", "WRONG-SECRET-KEY-123", slow_sb.base_url)
    banned = Account(**slow_sb.accounts["banned"], base_url=slow_sb.base_url)
    done = csframe.sync_accounts([good, bad, banned], tmp_path, client=dask_client, start="2026-06")
    assert done[good.folder].ok
    assert "401" in done["alerts2"].error or "INVALID" in done["alerts2"].error
    assert "banned" in done["banned"].error.lower()
    assert "WRONG-SECRET-KEY-123" not in repr(done) + str(dask_client.get_worker_logs())
    with pytest.raises(ValueError, match=r"the same name twice \['csframe_alerts'\]"):
        csframe.sync_accounts([good, good], tmp_path)


def test_a_worker_killed_mid_sync_leaves_the_store_readable_and_a_rerun_completes_it(
    slow_sb, cluster, dask_client, separate, tmp_path
):
    import os
    import signal
    import threading
    import time

    root = tmp_path / "data"
    box: dict = {}

    def run() -> None:
        try:
            box["done"] = csframe.sync_accounts(
                _accounts(slow_sb), root, client=dask_client, start="2025-10"
            )
        except Exception as exc:  # the killed task may be lost: the rerun completes it
            box["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 30
    while not list(root.glob("account=*/sms/month=*/part.parquet")):
        assert time.monotonic() < deadline, "no month written"
        time.sleep(0.02)
    pids = dask_client.run(os.getpid)
    assert thread.is_alive()  # the syncs are still running
    os.kill(next(iter(pids.values())), signal.SIGKILL)  # one worker process, mid-sync
    thread.join(60)
    assert not thread.is_alive()
    # Whatever got written is readable: each account's store holds complete months only.
    for state in root.glob(f"account=*/sms/{store.STATE_FILE}"):
        store.read(state.parent)
    dask_client.wait_for_workers(2, timeout=30)
    again = csframe.sync_accounts(_accounts(slow_sb), root, client=dask_client, start="2025-10")
    assert all(d.ok for d in again.values())
    for username, frame in separate.items():
        _same(store.read(root / f"account={username}" / "sms"), frame)


def test_a_reseller_login_syncs_every_client_account_on_the_cluster(
    slow_sb, dask_client, separate, tmp_path
):
    from csframe.accounts import Account, reseller_clients

    reseller = Account(**slow_sb.credentials, base_url=slow_sb.base_url, reseller=True)
    clients = reseller_clients(reseller)
    assert [a.username for a in clients] == ["acme_retail_nz", "acme_events_au"]
    keys = {reseller.api_key} | {a.api_key for a in clients}
    assert len(keys) == 3 and not [k for k in keys if k in repr(clients)]
    # What each client account's own sync() gives: sync_accounts must equal it.
    want = {"csframe_demo": separate["csframe_demo"]}
    for a in clients:
        cs = csframe.Client(a.username, a.api_key, a.base_url, cache=False, progress=False)
        csframe.sync.sync(cs, "sms", tmp_path / "one" / a.username, start="2025-10")
        want[a.username] = store.read(tmp_path / "one" / a.username)
        assert len(want[a.username]) > 0  # each client has a history of its own
    with distributed.get_task_stream(dask_client) as stream:
        done = csframe.sync_accounts(
            [reseller], tmp_path / "data", client=dask_client, start="2025-10"
        )
    assert all(d.ok for d in done.values()), [d.error for d in done.values()]
    assert set(done) == set(want)
    for username, frame in want.items():
        _same(store.read(tmp_path / "data" / f"account={username}" / "sms"), frame)
        assert done[username].results["sms"].rows == len(frame)
    # The clients' messages are theirs only: no message is in two accounts' stores.
    ids = [set(f["message_id"]) for f in want.values()]
    assert sum(map(len, ids)) == len(set().union(*ids))
    # No key in a task key, a scheduler or worker log, or a repr.
    names = " ".join(str(t.get("key")) for t in stream.data)
    assert names.count("csframe-sync-account-") >= 3
    logs = str(dask_client.get_scheduler_logs()) + str(dask_client.get_worker_logs())
    assert not [k for k in keys if k in names + logs + repr(done) + repr(reseller)]


def test_reports_name_a_bad_engine_and_dask_without_a_store(sb, sms_store):
    cs = csframe.Client(**sb.credentials, base_url=sb.base_url, cache=False, progress=False)
    for report in (
        csframe.reports.delivery,
        csframe.reports.usage_cost,
        csframe.reports.campaigns,
    ):
        with pytest.raises(csframe.reports.OptionError, match="give store=PATH"):
            report(cs, "2026-03", "2026-03", engine="dask")
        with pytest.raises(csframe.reports.OptionError, match="engine must be one of"):
            report(cs, "2026-03", "2026-03", store=sms_store, engine="spark")
