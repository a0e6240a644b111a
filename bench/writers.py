"""Benchmark: writers -- plan, quote and send 100,000 personalised SMS; import 50,000 contacts.

The sandbox runs in a subprocess (``running(process=True)``) with injected latency per
request, like a distant API. In one run:

- plan: ``sms_plan`` of 100,000 rows (render + GSM-7/UCS-2 part counts + validation);
  rows/s of render + segment count alone, and of the whole plan (target >= 200,000 rows/s)
- quote: ``/sms/price`` in chunks of 1000 (requests must be ceil(n / 1000))
- send: the journaled send in chunks of 1000 (requests must be ceil(n / 1000)), with the
  time spent in the SQLite journal (target < 10% of the send), vs the naive loop that
  POSTs one message per request (run on a sample and extrapolated -- printed as such)
- import: 50,000 contacts via one CSV upload + ``/lists/{id}/import`` vs per-contact POSTs
  (a sample, extrapolated)

Run:  .venv/bin/python bench/writers.py                       # 100,000 SMS, 50 ms latency
      .venv/bin/python bench/writers.py --rows 20000 --contacts 10000 --latency-ms 20
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Run, measure, report  # noqa: E402

import csframe  # noqa: E402
from csframe import writers  # noqa: E402
from csframe.sandbox import running  # noqa: E402
from csframe.writers import journal as journal_mod  # noqa: E402
from csframe.writers.render import render  # noqa: E402
from csframe.writers.segments import segments  # noqa: E402

BODY = (
    "Hi {first_name}, your {tier} code {code} gets {pct}% off until Sunday. Reply STOP to opt out"
)
FIRST = np.array(["Ann", "Bob", "Chloé", "Dmitri", "Eve", "Zoë", "Łukasz", "Mia", "Noah", "Olivia"])


def recipients(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    return pd.DataFrame(
        {
            "phone": [f"+614{k:08d}" for k in i],
            "first_name": FIRST[rng.integers(0, len(FIRST), n)],
            "tier": np.where(i % 5 == 0, "gold", "silver"),
            "code": [f"S{k:06d}" for k in i],
            "pct": rng.choice([10, 15, 20, 25], n),
        }
    )


class JournalTimer:
    """Adds up the wall time spent inside the journal's methods during a send (summed over
    threads: with several workers an upper bound, as a worker waiting for the GIL while in
    the journal counts too)."""

    METHODS = (
        "initialise",
        "begin",
        "record",
        "release",
        "next_pending",
        "custom_strings",
        "counts",
        "rows",
        "snapshot",
        "inflight",
        "meta",
        "row_hashes",
        "requeue_retryable",
        "requeue",
        "settle",
        "note",
    )

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self._orig = {}

    def __enter__(self):
        for name in self.METHODS:
            orig = getattr(journal_mod.Journal, name)
            self._orig[name] = orig

            def timed(*a, __orig=orig, **kw):
                t = time.perf_counter()
                try:
                    return __orig(*a, **kw)
                finally:
                    self.seconds += time.perf_counter() - t
                    self.calls += 1

            setattr(journal_mod.Journal, name, timed)
        return self

    def __exit__(self, *exc):
        for name, orig in self._orig.items():
            setattr(journal_mod.Journal, name, orig)


def naive_send(base_url: str, creds: dict, plan: pd.DataFrame, count: int) -> float:
    """One POST per message, as a quick script would do it; seconds for ``count``."""
    s = requests.Session()
    s.auth = (creds["username"], creds["api_key"])
    t = time.perf_counter()
    for to, body in zip(plan["to"].iloc[:count], plan["body"].iloc[:count], strict=True):
        r = s.post(f"{base_url}/sms/send", json={"messages": [{"to": to, "body": body}]})
        r.raise_for_status()
    return time.perf_counter() - t


def bench_plan(df: pd.DataFrame, runs: list[Run]) -> None:
    n = len(df)
    for _ in range(2):  # warm-up (regex compilation, imports)
        segments(render(df.head(1000), BODY))
    with measure("render + segment count", runs) as r:
        seg = segments(render(df, BODY))
        r.rows = n
    assert len(seg) == n
    with measure("sms_plan (render, parts, validation)", runs) as r:
        writers.sms_plan(df, BODY, to="phone", sender="ACME", marketing=True)
        r.rows = n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--contacts", type=int, default=50_000)
    ap.add_argument("--latency-ms", type=float, default=50)
    ap.add_argument("--naive-sample", type=int, default=300)
    ap.add_argument("--post-sample", type=int, default=800)
    args = ap.parse_args()
    n = args.rows
    df = recipients(n)
    print(f"writers benchmark: {n:,} SMS, {args.contacts:,} contacts, "
          f"{args.latency_ms:g} ms latency per request (sandbox in a subprocess)\n")  # fmt: skip

    plan_runs: list[Run] = []
    bench_plan(df, plan_runs)
    print(report(plan_runs, "render + segment count", "plan (CPU only, no network)"))
    rate = plan_runs[0].rows_per_s
    print(f"render + segment count: {rate:,.0f} rows/s (target >= 200,000)\n")

    plan = writers.sms_plan(df, BODY, to="phone", sender="ACME", marketing=True)
    want = math.ceil(n / 1000)
    with running(scale="tiny", process=True, latency_ms=args.latency_ms) as sb:
        cs = csframe.Client(**sb.credentials, base_url=sb.base_url, cache=False, progress=False)
        sb.set_balance(sb.credentials["username"], 1_000_000)
        runs: list[Run] = []

        # naive: one request per message, on a sample, extrapolated
        sample = min(args.naive_sample, n)
        secs = naive_send(sb.base_url, sb.credentials, plan, sample)
        naive = Run(f"naive: 1 POST per message (x{n // sample} of {sample})")
        naive.seconds, naive.rows = secs * n / sample, n
        runs.append(naive)

        # the estimate from the account's prices (one /sms/price request), then the quote
        plan = writers.sms_plan(df, BODY, to="phone", sender="ACME", marketing=True, prices=cs)
        sb.reset_stats()
        with measure("csframe quote (/sms/price, 1000/request)", runs) as r:
            q = cs.quote(plan)
            r.rows = n
        quote_requests = sb.stats()["by_path"].get("/v3/sms/price", 0)

        results = {}
        for workers in (1, 4):
            sb.reset_stats()
            with tempfile.TemporaryDirectory() as tmp, JournalTimer() as jt:
                with measure(f"csframe send, journaled, workers={workers}", runs) as r:
                    res = cs.send(plan, journal=Path(tmp) / "run.sqlite", workers=workers)
                    r.rows = n
                r.extra = {"journal_s": jt.seconds, "journal_calls": jt.calls}
            results[workers] = (res, sb.stats()["by_path"].get("/v3/sms/send", 0), r)
        print(report(runs, naive.name, f"send {n:,} personalised SMS"))
        print()
        print(f"quote: {quote_requests} requests (ceil(n/1000) = {want}); total "
              f"{q.attrs['quote']['total']:,.2f} {q.attrs['quote']['currency']} vs estimate "
              f"{q.attrs['quote']['estimate'] or float('nan'):,.2f}")  # fmt: skip
        for workers, (res, sends, r) in results.items():
            share = r.extra["journal_s"] / r.seconds
            print(
                f"send workers={workers}: {sends} requests (ceil(n/1000) = {want}), "
                f"{res.attrs['counts']}, journal {r.extra['journal_s']:.3f} s of "
                f"{r.seconds:.2f} s = {share:.1%} (target < 10%)"
            )
        print(f"naive loop extrapolated from {sample} messages: "
              f"{naive.seconds:,.0f} s for {n:,} ({secs / sample * 1000:.1f} ms per message)\n")  # fmt: skip

        bench_import(sb, cs, args)


def bench_import(sb, cs, args) -> None:
    m = args.contacts
    rng = np.random.default_rng(2)
    i = np.arange(m)
    contacts = pd.DataFrame(
        {
            "phone_number": [f"+6147{k:07d}" for k in i],
            "first_name": FIRST[rng.integers(0, len(FIRST), m)],
            "last_name": np.where(i % 3 == 0, "Ngô", "Smith"),
            "email": [f"user{k}@example.com" for k in i],
        }
    )
    runs: list[Run] = []
    sample = min(args.post_sample, m)
    sb.reset_stats()
    t = time.perf_counter()
    res = cs.import_contacts(
        contacts.iloc[:sample], list_name="bench per-contact", method="per_contact", progress=False
    )
    secs = time.perf_counter() - t
    posts = sb.stats()["by_path"]
    per = Run(f"POST per contact, {cs.max_workers} workers (x{m // sample} of {sample})")
    per.seconds, per.rows = secs * m / sample, m
    runs.append(per)
    assert res.attrs["counts"] == {"imported": sample}, res.attrs["counts"]
    try:
        sb.reset_stats()
        with measure("csframe upload + /lists/{id}/import", runs) as r:
            res = cs.import_contacts(contacts, list_name="bench upload", method="upload")
            r.rows = m
        stats = sb.stats()["by_path"]
    except csframe.errors.NotFound as exc:
        print(f"import via upload: not measured ({exc})")
        return
    print(report(runs, per.name, f"import {m:,} contacts"))
    print(f"upload + import: {res.attrs['counts']}; requests {stats}")
    print(f"per-contact sample: {sample} contacts, {posts}; extrapolated to {m:,}: "
          f"{per.seconds:,.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
