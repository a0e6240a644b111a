"""Benchmark: history with columns= (projection as each chunk is parsed) against the whole
frame then a column selection, and max_rows= against the whole load.

The sandbox runs in a subprocess, and each variant in a fresh process of its own (so one
variant's freed memory cannot hide the next one's peak); cache off.

Run:  .venv/bin/python bench/columns.py                 # 200,000 SMS
      .venv/bin/python bench/columns.py --rows 50000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pandas as pd  # noqa: E402
from _common import Run, measure, report  # noqa: E402

import csframe  # noqa: E402
from csframe.sandbox import running  # noqa: E402

COLUMNS = ["date", "to", "status", "message_price"]
VARIANTS = {
    "whole": "whole frame, then df[columns]",
    "columns": f"columns={COLUMNS}",
    "max_rows": "max_rows=1,000",
}


def child(variant: str, base_url: str, username: str, api_key: str) -> None:
    cs = csframe.Client(username, api_key, base_url, cache=False, progress=False)
    runs: list[Run] = []
    with measure(VARIANTS[variant], runs) as run:
        if variant == "whole":
            df = cs.history("sms")[COLUMNS]
        elif variant == "columns":
            df = cs.history("sms", columns=COLUMNS)
        else:
            df = cs.history("sms", max_rows=1000)
        run.rows = len(df)
    # a fingerprint of every value, to compare the two ways across processes
    digest = int(pd.util.hash_pandas_object(df, index=False).sum()) if len(df) else 0
    r = runs[0]
    print(json.dumps({"seconds": r.seconds, "rows": r.rows, "peak": r.peak_rss_mb,
                      "requests": cs.requests_sent, "digest": digest}))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    runs: list[Run] = []
    got = {}
    with running(scale=args.rows, seed=5, process=True) as sb:
        creds = [sb.base_url, sb.credentials["username"], sb.credentials["api_key"]]
        for variant, name in VARIANTS.items():
            out = subprocess.run(
                [sys.executable, __file__, "--child", variant, *creds],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            got[variant] = json.loads(out.stdout.strip().splitlines()[-1])
            g = got[variant]
            runs.append(Run(name, g["seconds"], g["rows"], g["peak"]))
    title = f"history columns / max_rows: {args.rows:,} SMS, cache off, one process each"
    print(report(runs, runs[0].name, title))
    whole, cols, capped = got["whole"], got["columns"], got["max_rows"]
    print(f"columns= same values as whole-then-select: {whole['digest'] == cols['digest']}")
    print(
        f"columns= peak RSS {cols['peak']:.1f} MB vs {whole['peak']:.1f} MB "
        f"({cols['peak'] / whole['peak']:.2f}x)"
    )
    print(
        f"max_rows=1,000: {capped['requests']} requests vs {whole['requests']} for the whole load"
    )


if __name__ == "__main__":
    main()
