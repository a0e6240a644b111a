"""Benchmark: loading SMS history from the sandbox, naive loop vs csframe cold and warm.

The sandbox runs in a subprocess (so it does not share this process's GIL) with injected
latency per request, like a distant API. Three ways, in one run:

- naive: the loop a user writes today -- requests, page by page, ``pd.DataFrame(records)``
- csframe cold: empty cache, pages fetched concurrently (``--workers``)
- csframe warm: the same call again, served from the HTTP cache

Run:  .venv/bin/python bench/history_load.py --rows 100000 --latency-ms 50 --workers 4
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Run, measure, report  # noqa: E402

import csframe  # noqa: E402
from csframe.sandbox import running  # noqa: E402


def naive_load(base_url: str, creds: dict, params: dict) -> pd.DataFrame:
    """What a user would write: one page after another, one DataFrame at the end."""
    s = requests.Session()
    s.auth = (creds["username"], creds["api_key"])
    records, page = [], 1
    while True:
        r = s.get(f"{base_url}/sms/history", params={**params, "page": page, "limit": 100})
        r.raise_for_status()
        block = r.json()["data"]
        records.extend(block["data"])
        if page >= block["last_page"]:
            break
        page += 1
    return pd.DataFrame(records)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--latency-ms", type=float, default=50)
    ap.add_argument("--workers", type=int, default=4)
    args = ap.parse_args(argv)

    runs: list[Run] = []
    t0 = time.perf_counter()
    with running(scale=args.rows, seed=42, latency_ms=args.latency_ms, process=True) as sb:
        print(f"sandbox: {args.rows:,} SMS seeded in {time.perf_counter() - t0:.1f}s")
        end = pd.Timestamp.now(tz="UTC").floor("s")
        params = {"date_to": int(end.timestamp()) - 1}
        with tempfile.TemporaryDirectory() as cache_dir:
            with measure("naive loop (requests, 1 page at a time)", runs) as run:
                df = naive_load(sb.base_url, sb.credentials, params)
                run.rows = len(df)
            pages = math.ceil(run.rows / 100)
            cs = csframe.Client(
                **sb.credentials,
                base_url=sb.base_url,
                cache_dir=cache_dir,
                max_workers=args.workers,
                progress=False,
            )
            cs.currency()  # the one /account read, outside the timed load
            with measure(f"csframe cold ({args.workers} workers)", runs) as run:
                df = cs.history("sms", end=end)
                run.rows = len(df)
            with measure("csframe warm (HTTP cache)", runs) as run:
                df2 = cs.history("sms", end=end)
                run.rows = len(df2)
            assert df["message_id"].tolist() == df2["message_id"].tolist()
            cs.close()
    print()
    print(
        report(
            runs,
            "naive loop (requests, 1 page at a time)",
            f"SMS history: {runs[0].rows:,} rows, {pages} pages of 100, "
            f"{args.latency_ms:g} ms latency",
        )
    )
    limit = math.ceil((pages - 1) / args.workers) * args.latency_ms / 1000 + args.latency_ms / 1000
    print(
        f"physical limit for cold: (1 + ceil({pages - 1}/{args.workers})) x {args.latency_ms:g} ms"
        f" = {limit:.2f} s; cold took {runs[1].seconds / limit:.2f}x that"
    )
    print(f"frame memory: {df.memory_usage(deep=True).sum() / 2**20:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
