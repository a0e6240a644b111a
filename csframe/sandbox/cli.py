"""``csframe sandbox serve``: run a seeded sandbox in the foreground until Ctrl-C or SIGTERM.

Example::

    $ csframe sandbox serve --port 8765 --seed 42 --scale small
    csframe sandbox: http://127.0.0.1:8765/v3
      username: csframe_demo
      api key:  3F2A…  (a fake key of this local sandbox)
      admin token: …  (X-Sandbox-Admin-Token for /_sandbox/*)

A non-loopback ``--host`` is refused unless ``--allow-remote`` is given (then with a warning).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from csframe.sandbox.faults import FaultSettings
from csframe.sandbox.lifecycle import Behaviour


def register(subparsers: Any) -> None:
    """Add ``sandbox serve`` to the top-level ``csframe`` parser."""
    sandbox = subparsers.add_parser(
        "sandbox", help="the embedded ClickSend-compatible sandbox server"
    )
    sub = sandbox.add_subparsers(dest="sandbox_command", metavar="SUBCOMMAND")
    sandbox.set_defaults(func=lambda args: (sandbox.print_help(sys.stderr), 2)[1])

    serve = sub.add_parser("serve", help="serve a seeded sandbox until Ctrl-C")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (other machines can then reach the sandbox)",
    )
    serve.add_argument("--port", type=int, default=8765, help="0 picks a free port (default 8765)")
    serve.add_argument("--seed", type=int, default=42, help="data seed (default 42)")
    serve.add_argument(
        "--scale", default="small", help="tiny|small|medium|large or a row count (default small)"
    )
    serve.add_argument("--now", default=None, help="ISO time the data ends at (default: now)")
    serve.add_argument("--latency-ms", type=float, default=0.0)
    serve.add_argument("--jitter-ms", type=float, default=0.0)
    serve.add_argument(
        "--rate-limit", type=float, default=None, help="requests per second before 429"
    )
    serve.add_argument("--error-rate", type=float, default=0.0)
    serve.add_argument("--rate-limit-rate", type=float, default=0.0)
    serve.add_argument("--drop-rate", type=float, default=0.0)
    serve.add_argument("--drop-after-commit-rate", type=float, default=0.0)
    serve.add_argument("--truncate-rate", type=float, default=0.0)
    serve.add_argument(
        "--lost-answer-rate", type=float, default=0.0, help="writes done, answer lost"
    )
    serve.add_argument(
        "--slow-commit-s", type=float, default=0.0, help="writes held this long, then done"
    )
    serve.add_argument("--write-paths", default=None, help="regex: which writes the two above hit")
    serve.add_argument(
        "--search-match", choices=["exact", "substring", "unsupported"], default="exact"
    )
    serve.add_argument(
        "--ignore-order-by", action="store_true", help="check order_by= but answer unsorted"
    )
    serve.add_argument("--fault-seed", type=int, default=0)
    serve.add_argument(
        "--delivery-delay-s",
        type=float,
        default=None,
        help="seconds until a sent SMS is delivered or fails (default 5; 0 = at once)",
    )
    serve.add_argument(
        "--throttle-rate",
        type=float,
        default=None,
        help="messages per second one account may queue before THROTTLED (default: no limit)",
    )
    serve.add_argument(
        "--throttle-duplicates-s",
        type=float,
        default=None,
        help="same body to the same number within this many seconds is THROTTLED (default off)",
    )
    serve.add_argument(
        "--refund-share",
        type=float,
        default=None,
        help="share of SMS failed for a number not in service that usage refunds (default 0.5)",
    )
    serve.add_argument("--db", default=None, help="SQLite file to use instead of memory")
    serve.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    """Seed, print where to connect, serve until interrupted; returns the exit code."""
    from csframe.sandbox.server import (
        _url,
        bind,
        build,
        check_host,
        close_store,
        is_loopback,
        serve,
    )

    settings = {
        "latency_ms": args.latency_ms,
        "jitter_ms": args.jitter_ms,
        "rate_limit": args.rate_limit,
        "error_rate": args.error_rate,
        "rate_limit_rate": args.rate_limit_rate,
        "drop_rate": args.drop_rate,
        "drop_after_commit_rate": args.drop_after_commit_rate,
        "truncate_rate": args.truncate_rate,
        "lost_answer_rate": args.lost_answer_rate,
        "slow_commit_s": args.slow_commit_s,
        "write_paths": args.write_paths,
        "search_match": args.search_match,
        "ignore_order_by": args.ignore_order_by,
        "seed": args.fault_seed,
    }
    try:
        if not 0 <= args.port <= 65535:
            raise ValueError(
                f"--port must be from 0 to 65535 (0 picks a free port); got {args.port}"
            )
        check_host(args.host, args.allow_remote)
        FaultSettings.from_dict(settings)
        sock = bind(args.host, args.port)
    except (ValueError, OSError, OverflowError) as exc:
        print(f"csframe sandbox: error: {exc}", file=sys.stderr)
        return 2
    if not is_loopback(args.host):
        print(
            f"csframe sandbox: WARNING: listening on {args.host}, not loopback: other machines "
            "can reach this sandbox's fake API (and its admin API with the token)",
            file=sys.stderr,
            flush=True,
        )
    started = time.perf_counter()
    scale: str | int = int(args.scale) if str(args.scale).isdigit() else args.scale
    behaviour = {
        "delivery_delay_s": args.delivery_delay_s,
        "throttle_rate": args.throttle_rate,
        "throttle_duplicates_s": args.throttle_duplicates_s,
        "refund_share": args.refund_share,
    }
    try:
        Behaviour.from_dict(behaviour)
    except ValueError as exc:
        print(f"csframe sandbox: {exc}", file=sys.stderr)
        return 2
    store, app = build(scale, args.seed, args.now, settings, db_path=args.db, behaviour=behaviour)
    main = store.principal(store.get_meta("accounts")["main"])
    assert main is not None
    root = _url(args.host, sock.getsockname()[1])

    def ready() -> None:
        # Printing the key is fine: it is a fake key of a local, synthetic sandbox.
        print(
            f"csframe sandbox: {root}/v3  ({store.sms_count():,} SMS, seeded in {time.perf_counter() - started:.1f}s)"
        )
        print(f"  username: {main.username}")
        print(f"  api key:  {main.api_key}")
        print(f"  test-only API: {root}/_sandbox/  (stats, faults, behaviour, truth, reset)")
        print(f"  admin token:   {app.admin_token}  (send it as X-Sandbox-Admin-Token)")
        print("  Ctrl-C to stop", flush=True)

    # Ctrl-C and SIGTERM (a service manager, `kill`) are the normal ways to stop this
    # command: serve() returns after either, and the store is closed cleanly.
    try:
        serve(app, sock, ready)
    finally:
        close_store(store)  # checkpoints an on-disk store; removes a temporary one
    print("csframe sandbox: stopped", flush=True)
    return 0
