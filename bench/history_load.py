"""Benchmark: loading SMS history from the sandbox, naive loops vs csframe.

The sandbox runs in a subprocess (it must not share this process's GIL) with injected
latency per request, like a distant API. In one run:

- naive: the loop a user writes today -- requests, page by page, ``pd.DataFrame(records)``
- official SDK: ``clicksend.SmsApi.view_sms_history(page=..., limit=100)`` in a loop
  (only if the ``bench`` extra is installed)
- csframe cold (empty HTTP cache, ``--workers`` concurrent), warm (HTTP cache), and the
  Parquet store (``cs.sync`` then ``csframe.store.read``)
- frame building alone (network excluded): ``json.loads`` + ``pd.DataFrame`` + the same
  dtype conversions, vs csframe's columnar parse of the same page bodies
- memory: the frame vs the same rows as a pyarrow Table, and peak RSS of the cold load
- with ``--floors``, where the cold load's time over the physical limit goes: csframe cold
  with the HTTP cache off, and a bare ``http.client`` loop on ``--workers`` threads that
  only reads the bodies (what the sandbox and loopback cost before any client work)

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
from csframe import schema, store  # noqa: E402
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--latency-ms", type=float, default=50)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--baseline-pages", type=int, default=1000)
    ap.add_argument("--full-baselines", action="store_true")
    ap.add_argument("--frame-pages", type=int, default=2000, help="pages for the parse-only race")
    ap.add_argument(
        "--floors",
        action="store_true",
        help="also time csframe cold without the HTTP cache, and a bare http.client loop",
    )
    args = ap.parse_args(argv)
    limit_pages = None if args.full_baselines else args.baseline_pages

    runs: list[Run] = []
    t0 = time.perf_counter()
    with running(scale=args.rows, seed=42, latency_ms=args.latency_ms, process=True) as sb:
        print(f"sandbox: {args.rows:,} SMS seeded in {time.perf_counter() - t0:.1f}s (subprocess)")
        end = pd.Timestamp.now(tz="UTC").floor("s")
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
            )
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
            with measure("csframe warm (HTTP cache)", runs) as run:
                df2 = cs.history("sms", end=end)
                run.rows = len(df2)
            assert df["message_id"].equals(df2["message_id"])
            del df2
            cs.sync("sms", Path(tmp) / "store")  # closed months come from the warm cache
            gc.collect()
            with measure("csframe store.read (Parquet)", runs) as run:
                stored = store.read(Path(tmp) / "store", end=end)
                run.rows = len(stored)
            assert len(stored) >= len(df) * 0.99
            del stored

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
        f"(ratio {frame_mb / arrow_mb:.2f}); cold-load peak RSS {cold.peak_rss_mb:.1f} MB = "
        f"{cold.peak_rss_mb / frame_mb:.2f}x the frame"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
