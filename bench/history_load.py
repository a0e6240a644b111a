"""Benchmark: loading SMS history from the sandbox, naive loops vs csframe.

The sandbox runs in a subprocess (it must not share this process's GIL) with injected
latency per request, like a distant API. In one run:

- naive: the loop a user writes today -- requests, page by page, ``pd.DataFrame(records)``
- official SDK: ``clicksend.SmsApi.view_sms_history(page=..., limit=100)`` in a loop
  (only if the ``bench`` extra is installed)
- csframe cold (empty caches, ``--workers`` concurrent) and warm (same process), then, each
  in a new process (best of ``--repeats``), csframe warm (closed months from the frame
  cache) and the Parquet store (``cs.sync`` then ``csframe.store.read``) of the same rows
- frame building alone (network excluded): ``json.loads`` + ``pd.DataFrame`` + the same
  dtype conversions, vs csframe's columnar parse of the same page bodies
- memory: the frame vs the same rows as a pyarrow Table, and peak RSS of the cold load,
  also in a fresh process (sampled from /proc from just before ``history()`` until the
  frame cache has written the windows the load queued, some of which it writes after
  ``history()`` returns)
- with ``--floors``, where the cold load's time over the physical limit goes: csframe cold
  with the HTTP cache off, and a bare ``http.client`` loop on ``--workers`` threads that
  only reads the bodies (what the sandbox and loopback cost before any client work)

The sandbox's data ends on the 1st of the month that closed more than ``--settle-days``
ago, and every load ends there, so all rows lie in closed months (the frame cache's case).
``--settle-days 400`` makes every month "still settling" instead: the pages then go through
the HTTP cache, as before the frame cache; ``--stock-http-cache`` swaps csframe's SQLite
backend for requests-cache's own (public options only) to measure what the former buys.

One run ends with the issue's targets as ratios (cold vs the physical limit, peak RSS vs
the frame, warm vs ``store.read`` and vs the naive loop) and the load average.

Sequential baselines at 1,000,000 rows take ~10 minutes each; by default they run on the
first ``--baseline-pages`` pages and their time is extrapolated (printed as such).
``--full-baselines`` runs them to the end.

Run:  .venv/bin/python bench/history_load.py                       # 1,000,000 rows, 8 workers
      .venv/bin/python bench/history_load.py --rows 100000 --workers 4 --full-baselines
      .venv/bin/python bench/history_load.py --rows 200000 --baseline-pages 200 --floors
"""

from __future__ import annotations

import argparse
import base64
import gc
import http.client
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow as pa
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Run, measure, report  # noqa: E402

import csframe  # noqa: E402
from csframe import schema  # noqa: E402
from csframe.frames import pages_table, table_to_frame  # noqa: E402
from csframe.sandbox import running  # noqa: E402

NAIVE = "naive loop (requests, 1 page at a time)"


def naive_load(base_url: str, creds: dict, params: dict, max_pages: int | None):
    """What a user would write: one page after another, one DataFrame at the end."""
    s = requests.Session()
    s.auth = (creds["username"], creds["api_key"])
    records, page = [], 1
    while True:
        r = s.get(f"{base_url}/sms/history", params={**params, "page": page, "limit": 100})
        r.raise_for_status()
        block = r.json()["data"]
        records.extend(block["data"])
        if page >= block["last_page"] or (max_pages and page >= max_pages):
            return pd.DataFrame(records), page, block["last_page"]
        page += 1


def sdk_load(root_url: str, creds: dict, params: dict, max_pages: int | None):
    """The official SDK, as its README shows, paging by hand into a DataFrame."""
    import clicksend

    conf = clicksend.Configuration(
        host=root_url, username=creds["username"], password=creds["api_key"]
    )
    api = clicksend.SmsApi(clicksend.ApiClient(conf))
    records, page = [], 1
    while True:
        resp = api.view_sms_history(page=page, limit=100, date_to=params["date_to"])
        records.extend(r.to_dict() for r in resp.data.data)
        if page >= resp.data.last_page or (max_pages and page >= max_pages):
            return pd.DataFrame(records), page, resp.data.last_page
        page += 1


def bare_load(base_url: str, creds: dict, params: dict, workers: int) -> tuple[int, int]:
    """The floor: page 1, then every other page on ``workers`` threads with one
    ``http.client`` connection each, bodies read and dropped. Returns (pages, bytes)."""
    host_port, _, prefix = base_url.split("//", 1)[1].partition("/")
    host, _, port = host_port.partition(":")
    token = base64.b64encode(f"{creds['username']}:{creds['api_key']}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    local = threading.local()

    def get(page: int) -> bytes:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(host, int(port or 80))
        query = "&".join(f"{k}={v}" for k, v in {**params, "limit": 100, "page": page}.items())
        conn.request("GET", f"/{prefix}/sms/history?{query}", headers=headers)
        return conn.getresponse().read()

    last_page = json.loads(get(1))["data"]["last_page"]
    with ThreadPoolExecutor(workers) as pool:
        size = sum(len(b) for b in pool.map(get, range(2, last_page + 1)))
    return last_page, size


def naive_frame(bodies: list[bytes]) -> pd.DataFrame:
    """json.loads per page, one DataFrame, then the registry's dtypes the obvious way."""
    records = []
    for b in bodies:
        records.extend(json.loads(b)["data"]["data"])
    df = pd.DataFrame(records)
    for col, kind in schema.SMS_HISTORY.kinds().items():
        if kind == "datetime":
            num = pd.to_numeric(df[col], errors="coerce")
            df[col] = pd.to_datetime(num.where(num > 0), unit="s", utc=True)
        elif kind in ("money", "float"):
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
        elif kind == "int":
            df[col] = pd.to_numeric(df[col], errors="coerce").round().astype("Int64")
        elif kind == "category":
            df[col] = df[col].astype("str").astype("category")
        else:
            df[col] = df[col].astype("str")
    return df


def baseline(name, fn, runs, limit_pages):
    with measure(name, runs) as run:
        df, pages, last = fn(limit_pages)
        run.rows = len(df)
    if pages < last:  # extrapolate the sequential loop linearly to every page
        run.extra["measured"] = f"{pages} of {last} pages, extrapolated"
        run.seconds *= last / pages
        run.rows = int(run.rows * last / pages)
    return run


# Each warm measure runs in a fresh interpreter: nothing in memory, imports done first.
_CHILD = """
import json, os, sys, threading, time
from pathlib import Path
import csframe
from csframe import store
import pandas as pd
what, args = sys.argv[1], json.loads(sys.argv[2])
end = pd.Timestamp(args["end"])
peak_mb = None
if what == "cold":  # a cold load's peak RSS growth, in a process that did nothing else
    cs = csframe.Client(**args["credentials"], base_url=args["base_url"],
                        cache_dir=args["cold_cache_dir"], max_workers=args["workers"],
                        progress=False, settle_days=args["settle_days"])
    cs.currency()
    sent = cs.requests_sent
    # sampled from /proc (ru_maxrss would carry the parent's peak over fork + exec)
    page = os.sysconf("SC_PAGE_SIZE")
    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * page
    before, peak, done = rss(), [0], threading.Event()
    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss())
            done.wait(0.005)
    sampler = threading.Thread(target=sample)
    sampler.start()
    t0 = time.perf_counter()
    rows = len(cs.history("sms", end=end))
    seconds = time.perf_counter() - t0
    if cs.session.frames is not None:  # the frame-cache writes the load queued count too
        cs.session.frames.flush()
    done.set()
    sampler.join()
    peak_mb = (max(peak[0], rss()) - before) / 2**20
    requests = cs.requests_sent - sent
    cs.close()
elif what == "history":
    cs = csframe.Client(**args["credentials"], base_url=args["base_url"],
                        cache_dir=args["cache_dir"], max_workers=args["workers"],
                        progress=False, settle_days=args["settle_days"])
    cs.currency()  # the one /account read (never cached: it carries secrets), not timed
    sent = cs.requests_sent
    t0 = time.perf_counter()
    rows = len(cs.history("sms", end=end))
    seconds = time.perf_counter() - t0
    requests = cs.requests_sent - sent
else:
    t0 = time.perf_counter()
    rows = len(store.read(args["store"], end=end))
    seconds = time.perf_counter() - t0
    requests = 0
print(json.dumps({"seconds": seconds, "rows": rows, "requests": requests, "peak_mb": peak_mb}))
"""


def in_new_process(what: str, **args) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, what, json.dumps(args, default=str)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def use_stock_http_cache(cs) -> None:
    """Answer ``cs``'s GETs through requests-cache's own SQLite backend (public options:
    WAL, the same key, expiry and filter), keeping csframe's adapter and settings."""
    import requests_cache

    from csframe.httpcache import make_key_fn
    from csframe.session import DEFAULT_EXPIRE, _cacheable

    old = cs.session.http
    path = str(cs.cache_path) + ".stock"
    http = requests_cache.CachedSession(
        backend=requests_cache.SQLiteCache(path, wal=True),
        key_fn=make_key_fn("stock"),
        allowable_methods=("GET",),
        allowable_codes=(200,),
        expire_after=DEFAULT_EXPIRE,
        filter_fn=_cacheable,
        match_headers=False,
    )
    for prefix in ("http://", "https://"):
        http.mount(prefix, cs.session.adapter)
    http.auth, http.headers, http.trust_env = old.auth, old.headers, False
    cs.session.http = http


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--latency-ms", type=float, default=50)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--baseline-pages", type=int, default=1000)
    ap.add_argument("--full-baselines", action="store_true")
    ap.add_argument("--frame-pages", type=int, default=2000, help="pages for the parse-only race")
    ap.add_argument("--settle-days", type=float, default=7)
    ap.add_argument("--repeats", type=int, default=5, help="fresh processes per warm measure")
    ap.add_argument(
        "--stock-http-cache",
        action="store_true",
        help="requests-cache's own SQLite backend in place of csframe's (see above)",
    )
    ap.add_argument(
        "--floors",
        action="store_true",
        help="also time csframe cold without the HTTP cache, and a bare http.client loop",
    )
    args = ap.parse_args(argv)
    limit_pages = None if args.full_baselines else args.baseline_pages

    runs: list[Run] = []
    t0 = time.perf_counter()
    # the 1st of the month that closed more than settle_days ago: every row is in a
    # closed month (with the default settle days)
    settle = pd.Timedelta(days=min(args.settle_days, 7))
    end = (pd.Timestamp.now(tz="UTC") - settle - pd.Timedelta(days=1)).normalize()
    end = end.replace(day=1)
    with running(scale=args.rows, seed=42, now=end, latency_ms=args.latency_ms, process=True) as sb:
        print(f"sandbox: {args.rows:,} SMS seeded in {time.perf_counter() - t0:.1f}s (subprocess)")
        params = {"date_to": int(end.timestamp()) - 1}
        baseline(
            NAIVE, lambda n: naive_load(sb.base_url, sb.credentials, params, n), runs, limit_pages
        )
        try:
            import clicksend  # noqa: F401

            baseline(
                "official SDK (clicksend, 1 page at a time)",
                lambda n: sdk_load(sb.root_url, sb.credentials, params, n),
                runs,
                limit_pages,
            )
        except ImportError:
            print("(official SDK not installed: pip install -e '.[bench]' to include it)")
        with tempfile.TemporaryDirectory() as tmp:
            cs = csframe.Client(
                **sb.credentials,
                base_url=sb.base_url,
                cache_dir=Path(tmp) / "cache",
                max_workers=args.workers,
                progress=False,
                settle_days=args.settle_days,
            )
            if args.stock_http_cache:
                use_stock_http_cache(cs)
            cs.currency()  # the one /account read, outside the timed load
            sent = cs.requests_sent
            gc.collect()
            with measure(f"csframe cold ({args.workers} workers)", runs) as cold:
                df = cs.history("sms", end=end)
                cold.rows = len(df)
            requests_cold = cs.requests_sent - sent
            floors: list[Run] = []
            if args.floors:
                del df
                gc.collect()
                with csframe.Client(
                    **sb.credentials,
                    base_url=sb.base_url,
                    cache=False,
                    max_workers=args.workers,
                    progress=False,
                ) as plain:
                    plain.currency()
                    with measure(
                        f"csframe cold, HTTP cache off ({args.workers} workers)", floors
                    ) as run:
                        run.rows = len(plain.history("sms", end=end))
                gc.collect()
                with measure(
                    f"bare http.client, {args.workers} threads, no parsing", floors
                ) as run:
                    pages_read, _ = bare_load(sb.base_url, sb.credentials, params, args.workers)
                    run.rows = pages_read * 100
                runs.extend(floors)
                df = cs.history("sms", end=end)  # from the cache, for the checks below
            with measure("csframe warm (same process)", runs) as run:
                df2 = cs.history("sms", end=end)
                run.rows = len(df2)
            assert df["message_id"].equals(df2["message_id"])
            del df2
            cs.sync("sms", Path(tmp) / "store")  # closed months come from the warm cache
            if cs.session.frames is not None:
                cs.session.frames.flush()  # the new process reads what this one wrote
            child = {
                "credentials": sb.credentials,
                "base_url": sb.base_url,
                "cache_dir": str(Path(tmp) / "cache"),
                "workers": args.workers,
                "settle_days": args.settle_days,
                "end": end.isoformat(),
                "store": str(Path(tmp) / "store"),
            }
            # best of --repeats fresh processes each, alternating (the machine is shared)
            warm = None
            stored = Run("csframe store.read (Parquet), new process", math.inf)
            if not args.stock_http_cache:  # (the child would use csframe's own backend)
                warm = Run("csframe warm, new process", math.inf)
            for _ in range(args.repeats):
                for run, what in ((warm, "history"), (stored, "store")):
                    if run is not None:
                        got = in_new_process(what, **child)
                        if got["seconds"] < run.seconds:
                            run.seconds, run.rows = got["seconds"], got["rows"]
                            run.extra["requests"] = got["requests"]
            runs.extend(r for r in (warm, stored) if r is not None)
            assert stored.rows == len(df), (stored.rows, len(df))
            # Memory in a process that did nothing else: this one's heap has already grown
            # through the baselines, which would flatter the cold load's own peak.
            fresh = in_new_process("cold", **child, cold_cache_dir=str(Path(tmp) / "cold"))

            # Frame building alone, on the same page bodies (network excluded).
            from csframe.paging import iter_raw_pages

            bodies = []
            for body in iter_raw_pages(
                cs.session, "/sms/history", params, max_workers=args.workers
            ):
                bodies.append(body)
                if len(bodies) >= args.frame_pages:
                    break
            parse_runs: list[Run] = []
            with measure("naive parse (json.loads + DataFrame + astype)", parse_runs) as run:
                run.rows = len(naive_frame(bodies))
            with measure("csframe columnar parse (pyarrow JSON)", parse_runs) as run:
                tables = [
                    pages_table(bodies[i : i + 100], schema.SMS_HISTORY)
                    for i in range(0, len(bodies), 100)
                ]
                run.rows = len(table_to_frame(pa.concat_tables(tables), schema.SMS_HISTORY))
            cs.close()

        frame_mb = df.memory_usage(deep=True).sum() / 2**20
        # "The same rows as a pyarrow Table": values as values (dictionary-encoded columns
        # decoded), i.e. what reading the rows into Arrow gives before any pandas encoding.
        table = pa.Table.from_pandas(df, preserve_index=False)
        for i, field in enumerate(table.schema):
            if pa.types.is_dictionary(field.type):
                table = table.set_column(i, field.name, table.column(i).cast(field.type.value_type))
        arrow_mb = table.nbytes / 2**20
        del table
        pages = math.ceil(len(df) / 100)
    print()
    print(
        report(
            runs,
            NAIVE,
            f"SMS history: {len(df):,} rows, {pages:,} pages of 100, {args.latency_ms:g} ms latency",
        )
    )
    for r in runs:
        if "measured" in r.extra:
            print(f"  {r.name}: {r.extra['measured']}")
    limit = (1 + math.ceil((pages - 1) / args.workers)) * args.latency_ms / 1000
    print(
        f"physical limit for cold: (1 + ceil({pages - 1}/{args.workers})) x {args.latency_ms:g} ms = "
        f"{limit:.2f} s; cold took {cold.seconds:.2f} s = {cold.seconds / limit:.2f}x the limit "
        f"({requests_cold:,} requests)"
    )
    for r in floors:
        print(f"  {r.name}: {r.seconds:.2f} s = {r.seconds / limit:.2f}x the limit")
    print()
    print(
        report(
            parse_runs,
            parse_runs[0].name,
            f"frame building only, {parse_runs[0].rows:,} rows (no network)",
        )
    )
    print()
    print(
        f"memory: frame {frame_mb:.1f} MB vs the same rows as a pyarrow Table {arrow_mb:.1f} MB "
        f"(ratio {frame_mb / arrow_mb:.2f}); cold-load peak RSS growth {cold.peak_rss_mb:.1f} MB "
        f"= {cold.peak_rss_mb / frame_mb:.2f}x the frame in this process, "
        f"{fresh['peak_mb']:.1f} MB = {fresh['peak_mb'] / frame_mb:.2f}x in a fresh process"
    )
    naive = next(r for r in runs if r.name == NAIVE)
    rss_target = 2.0 if len(df) >= 1_000_000 else 2.5
    checks = [
        ("cold / physical limit", cold.seconds / limit, "<=", 1.15),
        ("cold peak RSS / frame, fresh process", fresh["peak_mb"] / frame_mb, "<=", rss_target),
    ]
    if warm is not None:
        checks += [
            ("warm, new process / store.read", warm.seconds / stored.seconds, "<=", 2.0),
            ("naive loop / warm, new process", naive.seconds / warm.seconds, ">=", 300.0),
        ]
    print()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"targets at {len(df):,} rows (load average {load}, {os.cpu_count()} cores):")
    for name, value, op, target in checks:
        ok = value <= target if op == "<=" else value >= target
        print(f"  {name:<34}{value:>9.2f}x   target {op} {target:g}x   {'met' if ok else 'MISSED'}")
    if warm is not None:
        print(f"  (warm, new process: {warm.extra['requests']} requests to the API)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
