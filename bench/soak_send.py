"""Soak: journaled sends killed at random under every fault kind, then rerun -- counts
duplicates and losses (both must be 0). Not part of CI (it takes minutes).

Each trial, against one sandbox (its data reset between trials):

1. picks a fault mix: 5xx, 429 with Retry-After, drops before and after the commit,
   writes whose answer is lost, slow commits past the client's timeout, a substring
   (loose) history search, and in some trials too little credit;
2. starts a sender process (20 messages a request, 20-50 ms a request) on a new plan (100-600 recipients, row keys that prefix each
   other: ``1``, ``10``, ``100``...) and SIGKILLs it after a random delay (or lets it end);
3. tops the credit up and reruns the same plan and journal, under the same faults, with
   ``wait=True`` until the run is complete;
4. counts the messages per custom string in the sandbox's own history: a recipient with
   two is a duplicate, a row with none is a loss.

Run:  .venv/bin/python bench/soak_send.py                 # 50 trials
      .venv/bin/python bench/soak_send.py --trials 10 --seed 3
      make soak
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import csframe  # noqa: E402
from csframe import writers  # noqa: E402
from csframe.sandbox import running  # noqa: E402

TIMEOUT = 1.0  # the sender's HTTP timeout (s)
HORIZON = 3.0  # the doubt horizon: longer than any slow commit below

SENDER = textwrap.dedent(
    """
    import sys, warnings
    sys.path.insert(0, sys.argv[1])
    from bench.soak_send import plan_for
    import csframe
    from csframe import writers
    base_url, username, api_key, journal, n, horizon, timeout = sys.argv[2:9]
    cs = csframe.Client(username, api_key, base_url, cache=False, progress=False,
                        timeout=float(timeout))
    print("START", flush=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        writers.send(cs, plan_for(int(n)), journal, chunk_size=20,
                     doubt_horizon=float(horizon))
    print("FINISHED", flush=True)
    """
)


def plan_for(n: int) -> pd.DataFrame:
    """The trial's plan: keys 1..n as text, so ``run.1`` prefixes ``run.10``, ``run.100``."""
    i = np.arange(1, n + 1)
    df = pd.DataFrame(
        {
            "phone": [f"+6142{k:07d}" for k in i],
            "name": np.where(i % 5 == 0, "Zoë", "Ann"),
            "code": i,
            "key": i.astype(str),
        }
    )
    return writers.sms_plan(
        df, "Hi {name}, your code is {code}. Reply STOP to opt out", to="phone", key="key"
    )


def fault_mix(rng: random.Random) -> dict:
    mix = {
        "error_rate": rng.choice([0, 0.05, 0.15]),
        "rate_limit_rate": rng.choice([0, 0.05, 0.1]),
        "drop_rate": rng.choice([0, 0.03, 0.08]),
        "drop_after_commit_rate": rng.choice([0, 0.05, 0.1]),
        "lost_answer_rate": rng.choice([0, 0.05, 0.1]),
        "slow_commit_s": rng.choice([0, 0, TIMEOUT * 1.5]),
        "search_match": rng.choice(["exact", "substring"]),
        "latency_ms": 20,
        "jitter_ms": 30,
        "seed": rng.randrange(10**6),
    }
    return mix


def history_counts(cs, run_id: str) -> Counter:
    counts: Counter = Counter()
    page = 1
    while True:
        data = cs.session.get("/sms/history", {"page": page, "limit": 100}, expire_after=0)
        for r in data["data"]:
            c = str(r.get("custom_string") or "")
            if c.startswith(run_id + "."):
                counts[c] += 1
        if page >= data["last_page"]:
            return counts
        page += 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    totals = Counter()
    faults_seen: Counter = Counter()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, running(scale="tiny", seed=5) as sb:
        script = Path(tmp) / "sender.py"
        script.write_text(SENDER)
        user = sb.credentials["username"]
        cs = csframe.Client(
            **sb.credentials, base_url=sb.base_url, cache=False, progress=False, timeout=TIMEOUT
        )
        for trial in range(args.trials):
            sb.reset()
            sb.reset_stats()
            n = rng.randrange(100, 601)
            mix = fault_mix(rng)
            credit = rng.random() < 0.25
            if credit:
                sb.set_balance(user, 0.077 * rng.randrange(10, n))
            sb.set_faults(**mix)
            journal = Path(tmp) / f"t{trial}.sqlite"
            proc = subprocess.Popen(
                [sys.executable, str(script), str(REPO), sb.base_url, user,
                 sb.credentials["api_key"], str(journal), str(n), str(HORIZON), str(TIMEOUT)],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
            )  # fmt: skip
            assert proc.stdout is not None
            proc.stdout.readline()  # START
            delay = rng.uniform(0.1, 2.5)
            try:
                proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                totals["kills"] += 1
            # the server may still commit slow requests of the killed sender: the rerun's
            # lookups happen with the horizon counted from each request's start
            injected = dict(sb.stats()["faults"])
            faults_seen.update(injected)
            sb.set_balance(user, 10_000)  # the rerun meets the same fault mix, topped up
            plan = plan_for(n)
            for _ in range(5):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res = writers.send(
                        cs, plan, journal, chunk_size=20, doubt_horizon=HORIZON, wait=True
                    )
                if res.attrs["status"] == "complete":
                    break
            for kind, k in sb.stats()["faults"].items():  # the reruns' own faults
                faults_seen[kind] += k - injected.get(kind, 0)
            sb.set_faults()
            counts = history_counts(cs, res.attrs["run_id"])
            dup = sum(1 for c in counts.values() if c > 1)
            lost = sum(1 for c in res["custom_string"] if counts.get(c, 0) == 0)
            totals["trials"] += 1
            totals["recipients"] += n
            totals["duplicates"] += dup
            totals["losses"] += lost
            totals["incomplete"] += res.attrs["status"] != "complete"
            print(
                f"trial {trial + 1:3d}: {n:4d} recipients, killed={proc.returncode != 0}, "
                f"credit={credit}, faults={injected or '-'}, "
                f"duplicates={dup}, losses={lost}",
                flush=True,
            )
    wall = time.perf_counter() - started
    print()
    print(f"trials             {totals['trials']}")
    print(f"recipients         {totals['recipients']}")
    print(f"kills              {totals['kills']}")
    print(f"faults injected    {sum(faults_seen.values())} {dict(faults_seen)}")
    print(f"incomplete runs    {totals['incomplete']}")
    print(f"duplicates         {totals['duplicates']}")
    print(f"losses             {totals['losses']}")
    print(f"wall               {wall:.0f} s")
    return 0 if totals["duplicates"] == 0 and totals["losses"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
