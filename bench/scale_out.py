"""Benchmark: scale-out on Dask (issue 17).

    .venv/bin/python bench/scale_out.py                          # the issue's sizes (long)
    .venv/bin/python bench/scale_out.py --rows 5000000 --pandas-rows 1000000,2000000 \\
        --contacts 200000 --dedupe-contacts 200000 --dedupe-pandas 200000 \\
        --accounts 8                                             # a quick run
    .venv/bin/python bench/scale_out.py --skip delivery,contacts,accounts   # dedupe only

1. A generator writes a synthetic SMS history store straight to Parquet with the
   registry's schema (no API): ``--rows`` messages over ``--months`` months.
2. The delivery report over the whole store on a ``LocalCluster`` (``--workers`` worker
   processes, 1 thread each, ``--memory-limit`` each): wall time, rows/s and the peak RSS of
   every process (this one, which also runs the scheduler, and each worker). Beside it the
   pandas engine over windows of about ``--pandas-rows`` rows, with this process's peak RSS:
   where one process stops fitting.
3. clean.contacts() of ``--contacts`` generated contacts (bench/clean.py's generator) on
   the cluster, partition by partition, against pandas in this process; then
   clean.duplicates + dedupe of ``--dedupe-contacts`` contacts on the cluster (wall time,
   rows/s, peak RSS per process, pair precision/recall against the truth) beside the
   pandas engine on ``--dedupe-pandas`` contacts in this process.
4. sync_accounts of ``--accounts`` sandbox accounts at ``--latency-ms`` per request on the
   cluster against the same syncs one after another.

Everything is written under ``--out`` (default /tmp/csframe-bench-scale-out), never into the
repository.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import csframe  # noqa: E402
from csframe import schema, store  # noqa: E402
from csframe.frames import empty_frame  # noqa: E402

COUNTRIES = np.array(["AU", "US", "GB", "NZ", "DE", "IN", "SG", "FR", "CA"])
CARRIERS = np.array(["Telstra", "Optus", "Vodafone", "T-Mobile", "Verizon", "Jio", "Singtel"])
ERRORS = [("301", "Delivery failure"), ("302", "Invalid number"), ("303", "Carrier rejected")]
SUBACCOUNTS = [(60311, "csframe_demo"), (60312, "csframe_marketing"), (60313, "csframe_support")]
BODIES = np.array(
    [f"Hi, your code is {i:04d}. Reply STOP to opt out" for i in range(200)]
    + [f"Sale {i}% off this weekend only at ACME" for i in range(5, 60)]
)


# --- 1. the synthetic store -----------------------------------------------------------------


def _month_frame(rng, month: pd.Timestamp, n: int) -> pd.DataFrame:
    """One month of SMS history with the registry's columns and dtypes."""
    res = schema.SMS_HISTORY
    t0 = int(month.timestamp())
    t1 = int((month + pd.DateOffset(months=1)).timestamp())
    date = np.sort(rng.integers(t0, t1, n))
    u = rng.random(n)
    # 88% delivered, 5% failed, 5% sent (pending), 2% cancelled
    status = np.select([u < 0.88, u < 0.93, u < 0.98], ["Completed", "Failed", "Sent"], "Cancelled")
    failed = status == "Failed"
    err = rng.integers(0, len(ERRORS), n)
    sub = rng.integers(0, len(SUBACCOUNTS), n)
    to = pd.Series(rng.integers(400_000_000, 499_999_999, n)).astype("str")
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(date, unit="s", utc=True).astype("datetime64[s, UTC]"),
            "direction": pd.Categorical(np.where(u > 0.995, "in", "out")),
            "to": ("+61" + to).astype("str"),
            "from": pd.Series(["ACME"] * n, dtype="str"),
            "body": pd.Series(BODIES[rng.integers(0, len(BODIES), n)], dtype="str"),
            "status": pd.Categorical(status),
            "status_code": pd.Categorical(np.where(status == "Completed", "201", None)),
            "error_code": pd.Categorical(np.where(failed, [c for c, _ in ERRORS][0], None)),
            "message_id": pd.Series(
                np.char.add(f"{month:%Y%m}-", np.arange(n).astype("U9")), dtype="str"
            ),
            "message_parts": pd.array(rng.integers(1, 3, n), dtype="Int64"),
            "message_price": np.round(rng.choice([0.0773, 0.1546, 0.0612], n), 4),
            "subaccount_id": pd.array(np.array([s for s, _ in SUBACCOUNTS])[sub], dtype="Int64"),
            "country": pd.Categorical(COUNTRIES[rng.integers(0, len(COUNTRIES), n)]),
            "carrier": pd.Categorical(CARRIERS[rng.integers(0, len(CARRIERS), n)]),
            "_api_username": pd.Categorical(np.array([u for _, u in SUBACCOUNTS])[sub]),
        }
    )
    codes = np.array([c for c, _ in ERRORS], dtype=object)[err]
    texts = np.array([t for _, t in ERRORS], dtype=object)[err]
    frame["error_code"] = pd.Categorical(np.where(failed, codes, None))
    frame["error_text"] = pd.Series(np.where(failed, texts, None), dtype="str")
    full = empty_frame(res)
    out = pd.DataFrame(index=frame.index)
    for col in res.column_names:
        out[col] = frame[col] if col in frame else pd.Series([None] * n, dtype=full[col].dtype)
    return out


def generate_store(path: Path, rows: int, months: int, seed: int = 17) -> int:
    """Write ``rows`` messages over ``months`` months (ending last month) as a store."""
    rng = np.random.default_rng(seed)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    last = pd.Timestamp.now(tz="UTC").normalize().replace(day=1) - pd.DateOffset(months=1)
    first = last - pd.DateOffset(months=months - 1)
    state = store.StoreState("sms_history", currency="AUD")
    per = np.full(months, rows // months)
    per[: rows % months] += 1
    for i in range(months):
        month = first + pd.DateOffset(months=i)
        frame = _month_frame(rng, month, int(per[i]))
        store.write_month(path, month, frame)
        state.months[store.month_key(month)] = {"rows": len(frame), "closed": True}
        del frame
    state.save(path)
    return int(per.sum())


# --- RSS of this process and of the cluster's processes --------------------------------------


class ProcessPeaks:
    """Peak RSS (MB) of this process and of each child process, sampled every 50 ms."""

    def __init__(self) -> None:
        import psutil

        self.me = psutil.Process()
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        import psutil

        procs = [("driver", self.me)]
        for child in self.me.children(recursive=True):
            try:
                procs.append((f"{child.name()}[{child.pid}]", child))
            except psutil.Error:
                continue
        for name, p in procs:
            try:
                mb = p.memory_info().rss / 2**20
            except psutil.Error:
                continue
            self.peaks[name] = max(self.peaks.get(name, 0.0), mb)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(0.05)

    def __enter__(self) -> ProcessPeaks:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def _peaks_text(peaks: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:,.0f} MB" for k, v in sorted(peaks.items()))


# --- 2. delivery --------------------------------------------------------------------------------


def _report_months(path: Path) -> list[str]:
    state = store.StoreState.load(path, "sms_history")
    return sorted(state.months)


def bench_delivery(path: Path, rows: int, cluster_client, pandas_rows: list[int]) -> None:
    months = _report_months(path)
    per_month = rows / len(months)
    # Warm up: the workers import pandas and csframe on their first task, not timed.
    csframe.reports.delivery(start=months[-1], end=months[-1], store=path, engine="dask")
    with ProcessPeaks() as peaks:
        t = time.perf_counter()
        rep = csframe.reports.delivery(
            start=months[0], end=months[-1], store=path, engine="dask", now=pd.Timestamp.now()
        )
        wall = time.perf_counter() - t
    n = rep.summary["messages"]
    print(
        f"delivery, dask engine, {len(months)} months, {n:,} outbound of {rows:,} rows: "
        f"{wall:.1f} s, {rows / wall:,.0f} rows/s; peak RSS {_peaks_text(peaks.peaks)}"
    )
    for target in pandas_rows:
        k = max(1, min(len(months), round(target / per_month)))
        window = months[-k:]
        with ProcessPeaks() as peaks:
            t = time.perf_counter()
            rep_pd = csframe.reports.delivery(
                start=window[0], end=window[-1], store=path, now=pd.Timestamp.now()
            )
            wall = time.perf_counter() - t
        got = int(round(k * per_month))
        print(
            f"delivery, pandas engine, {k} months (~{got:,} rows, "
            f"{rep_pd.summary['messages']:,} outbound): {wall:.1f} s, {got / wall:,.0f} rows/s; "
            f"peak RSS driver {peaks.peaks['driver']:,.0f} MB"
        )


# --- 3. cleanup -----------------------------------------------------------------------------


def bench_contacts(n: int, cluster_client, npartitions: int) -> None:
    import dask
    import dask.dataframe as dd

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from clean import generate  # bench/clean.py

    df = generate(n).drop(columns="_person")
    # The same question both ways: valid phones per region, on the whole cleaned list.
    t = time.perf_counter()
    want = csframe.clean.contacts(df, default_region="AU")  # its process pool, both cores
    want_counts = want.groupby("phone_region", observed=True)["phone_valid"].sum()
    pd_s = time.perf_counter() - t
    with dask.config.set({"dataframe.convert-string": False}):
        ddf = dd.from_pandas(df, npartitions=npartitions, sort=False)
    ddf = cluster_client.persist(ddf)  # the list lives on the workers, as it would
    distributed_wait(ddf)
    with ProcessPeaks() as peaks:
        t = time.perf_counter()
        lazy = csframe.clean.contacts(ddf, default_region="AU")
        got_counts = lazy.groupby("phone_region", observed=True)["phone_valid"].sum().compute()
        dk_s = time.perf_counter() - t
    same = lazy.compute().reset_index(drop=True).equals(want.reset_index(drop=True))
    same_counts = got_counts.sort_index().equals(want_counts.sort_index())
    print(
        f"clean.contacts of {n:,} contacts, valid phones per region: pandas {pd_s:.1f} s, "
        f"dask ({npartitions} partitions on the workers) {dk_s:.1f} s ({pd_s / dk_s:.2f}x); "
        f"same counts: {same_counts}, same cleaned frame: {same}; "
        f"peak RSS {_peaks_text(peaks.peaks)}"
    )


def bench_dedupe(n: int, pandas_n: int, cluster_client, out: Path) -> None:
    """clean.duplicates + dedupe of ``n`` generated contacts (bench/clean.py's generator,
    written to Parquet and read by the workers) on the cluster; the pandas engine on
    ``pandas_n`` contacts in this process beside it. Precision/recall of same-cluster pairs
    against the generator's truth."""
    import dask
    import dask.dataframe as dd

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from clean import generate, pair_scores  # bench/clean.py

    if pandas_n:
        df = generate(pandas_n)
        person = df.pop("_person").to_numpy()
        with ProcessPeaks() as peaks:
            t = time.perf_counter()
            d = csframe.clean.duplicates(csframe.clean.contacts(df, default_region="AU"))
            one = csframe.clean.dedupe(d)
            wall = time.perf_counter() - t
        prec, rec, _, _ = pair_scores(d["cluster_id"].to_numpy(), person)
        print(
            f"duplicates+dedupe, pandas engine, {pandas_n:,} contacts -> {len(one):,}: "
            f"{wall:.1f} s, {pandas_n / wall:,.0f} rows/s; pair precision {prec:.4f}, "
            f"recall {rec:.4f}; peak RSS driver {peaks.peaks['driver']:,.0f} MB"
        )
        del df, d, one
    # the list as it would be: Parquet files that the workers read
    src = out / "contacts"
    shutil.rmtree(src, ignore_errors=True)
    t = time.perf_counter()
    df = generate(n)
    person = df.pop("_person").to_numpy()
    files = max(2, n // 100_000)  # partitions of 100,000 rows: each task stays small
    bounds = np.linspace(0, n, files + 1).astype(int)
    src.mkdir(parents=True)
    for k in range(files):
        df.iloc[bounds[k] : bounds[k + 1]].to_parquet(src / f"part.{k:04d}.parquet", index=False)
    del df
    print(
        f"contacts: {n:,} generated and written in {time.perf_counter() - t:.1f} s ({files} files)"
    )
    with dask.config.set({"dataframe.convert-string": False}):
        ddf = dd.read_parquet(str(src), split_row_groups=False)
    with ProcessPeaks() as peaks:
        t = time.perf_counter()
        d = csframe.clean.duplicates(ddf, default_region="AU")  # the matching runs here
        cluster = d["cluster_id"].compute().to_numpy()
        found = time.perf_counter() - t
        rows_out = len(csframe.clean.dedupe(d))
        wall = time.perf_counter() - t
    prec, rec, _, _ = pair_scores(cluster, person)
    print(
        f"duplicates+dedupe, dask engine, {n:,} contacts ({ddf.npartitions} partitions) -> "
        f"{rows_out:,}: {wall:.1f} s (duplicates {found:.1f} s), {n / wall:,.0f} rows/s; "
        f"pair precision {prec:.4f}, recall {rec:.4f}; peak RSS {_peaks_text(peaks.peaks)}"
    )


def distributed_wait(collection) -> None:
    import distributed

    distributed.wait(collection)


# --- 4. sync_accounts ---------------------------------------------------------------------------


def bench_accounts(n: int, latency_ms: float, out: Path, threads: int) -> None:
    import distributed

    from csframe.accounts import Account
    from csframe.sandbox import running

    per_sandbox = ("main", "marketing", "support", "alerts", "nocredit")
    sandboxes = (n + len(per_sandbox) - 1) // len(per_sandbox)
    opened = []
    try:
        accounts = []
        for i in range(sandboxes):
            cm = running(scale="tiny", seed=100 + i, latency_ms=latency_ms, process=True)
            sb = cm.__enter__()
            opened.append(cm)
            for name in per_sandbox:
                if len(accounts) < n:
                    cred = sb.accounts[name]
                    accounts.append(
                        Account(**cred, base_url=sb.base_url, name=f"{cred['username']}-{i}")
                    )
        t = time.perf_counter()
        seq = csframe.sync_accounts(accounts, out / "sequential", start="2025-10")
        seq_s = time.perf_counter() - t
        assert all(a.ok for a in seq.values())
        with (
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=threads, dashboard_address=None, processes=True
            ) as cluster,
            distributed.Client(cluster) as dc,
        ):
            t = time.perf_counter()
            par = csframe.sync_accounts(accounts, out / "cluster", start="2025-10", client=dc)
            par_s = time.perf_counter() - t
        assert all(a.ok for a in par.values())
        requests = sum(r.requests for a in seq.values() for r in a.results.values())
        print(
            f"sync_accounts of {n} accounts ({requests:,} requests at {latency_ms:.0f} ms): "
            f"one after another {seq_s:.1f} s, on a 2-worker cluster ({threads} threads each) "
            f"{par_s:.1f} s ({seq_s / par_s:.1f}x)"
        )
    finally:
        for cm in reversed(opened):
            cm.__exit__(None, None, None)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=50_000_000)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--pandas-rows", default="5000000,10000000")
    ap.add_argument("--contacts", type=int, default=1_000_000)
    ap.add_argument("--dedupe-contacts", type=int, default=10_000_000)
    ap.add_argument("--dedupe-pandas", type=int, default=1_000_000, help="0: no pandas run")
    ap.add_argument("--accounts", type=int, default=20)
    ap.add_argument("--latency-ms", type=float, default=50)
    ap.add_argument("--sync-threads", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory-limit", default="3GB")
    ap.add_argument("--out", type=Path, default=Path("/tmp/csframe-bench-scale-out"))
    ap.add_argument("--reuse", action="store_true", help="keep an existing generated store")
    ap.add_argument("--skip", default="", help="comma list of: delivery,contacts,dedupe,accounts")
    args = ap.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))

    import distributed

    print(
        f"csframe scale-out benchmark: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, "
        f"pandas {pd.__version__}, dask {distributed.__version__}"
    )
    path = args.out / "sms"
    if "delivery" not in skip:
        if args.reuse and (path / store.STATE_FILE).exists():
            rows = sum(
                m["rows"] for m in store.StoreState.load(path, "sms_history").months.values()
            )
            print(f"store: reusing {rows:,} rows at {path}")
        else:
            t = time.perf_counter()
            rows = generate_store(path, args.rows, args.months)
            gen_s = time.perf_counter() - t
            size = sum(f.stat().st_size for f in path.rglob("*.parquet")) / 2**20
            print(
                f"store: {rows:,} messages over {args.months} months written in {gen_s:.1f} s "
                f"({rows / gen_s:,.0f} rows/s, {size:,.0f} MB of Parquet)"
            )
    with (
        distributed.LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=args.memory_limit,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as dc,
    ):
        if "delivery" not in skip:
            targets = [int(x) for x in args.pandas_rows.split(",") if x]
            bench_delivery(path, rows, dc, targets)
        if "contacts" not in skip:
            bench_contacts(args.contacts, dc, npartitions=args.workers * 4)
        if "dedupe" not in skip:
            bench_dedupe(args.dedupe_contacts, args.dedupe_pandas, dc, args.out)
    if "accounts" not in skip:
        bench_accounts(args.accounts, args.latency_ms, args.out / "accounts", args.sync_threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
