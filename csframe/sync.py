"""Incremental sync of message history into a month-partitioned Parquet store.

Closed months (ended more than the client's settle period ago) are fetched once; later
runs fetch only open months -- the current one and those still settling -- and replace
them atomically. ``csframe sync`` runs the same from cron.

Example::

    result = csframe.sync.sync(cs, "sms", "data/sms", start="2026-01-01")
    result.months_fetched, result.rows
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from csframe import loaders, store, timeutil
from csframe.timeutil import month_range, parse_month


@dataclass
class SyncResult:
    """What one sync did."""

    path: Path
    months_fetched: list[str] = field(default_factory=list)
    months_skipped: list[str] = field(default_factory=list)
    rows: int = 0
    requests: int = 0

    def __str__(self) -> str:
        return (
            f"synced {self.path}: fetched {len(self.months_fetched)} month(s) "
            f"({self.rows:,} rows, {self.requests} requests), "
            f"{len(self.months_skipped)} closed month(s) already complete"
        )


def first_month(client, channel: str) -> pd.Timestamp:
    """The month of the oldest message (one small request)."""
    resource = loaders.HISTORY[channel]
    block = client.get(resource.path, page=1, limit=15, order_by="date:asc")
    rows = (block or {}).get("data") or []
    if not rows:
        return parse_month(timeutil.now_utc(), "start")
    return parse_month(pd.Timestamp(int(rows[0]["date"]), unit="s", tz="UTC"), "start")


def sync(client, channel: str, path: str | os.PathLike, start=None) -> SyncResult:
    """Bring the store at ``path`` up to date with ``channel`` history from ``start``.

    ``start``: a month or date (default: the month of the oldest message).
    """
    if channel not in loaders.HISTORY:
        raise ValueError(
            f"channel must be one of {', '.join(sorted(loaders.HISTORY))}; got {channel!r}"
        )
    resource = loaders.HISTORY[channel]
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    store.remove_stale_temp_files(root)  # a killed sync's half-written files
    state = store.StoreState.load(root, resource.name)
    now = timeutil.now_utc()
    first = parse_month(start, "start") if start is not None else first_month(client, channel)
    result = SyncResult(root)
    sent_before = client.requests_sent
    for month in month_range(first, now):
        key = store.month_key(month)
        month_end = month + pd.DateOffset(months=1)
        closed = month_end < now - client.settle
        info = state.months.get(key)
        if info and info.get("closed"):
            result.months_skipped.append(key)
            continue
        # The current month runs to "now" (the loader pins it); an explicit end would drop
        # the rows of the last second.
        frame = client.history(channel, start=month, end=month_end if month_end <= now else None)
        store.write_month(root, month, frame)
        state.months[key] = {
            "rows": len(frame),
            # a stale snapshot (the API was down) is refetched by the next sync (issue 13)
            "closed": bool(closed) and not frame.attrs.get("stale"),
            "synced_at": now.isoformat(),
        }
        state.currency = frame.attrs.get("currency", state.currency)
        # Save after each month: a crash later keeps what is already complete.
        state.save(root)
        result.months_fetched.append(key)
        result.rows += len(frame)
    result.requests = client.requests_sent - sent_before
    return result


#: Exit codes of ``csframe sync`` (the same meanings as ``csframe report``'s).
EXIT_OK, EXIT_USAGE, EXIT_API, EXIT_OUTPUT = 0, 2, 3, 4


def register(subparsers: argparse._SubParsersAction) -> None:
    """``csframe sync CHANNEL PATH [--start YYYY-MM] [--sandbox] [--quiet]``.

    Exit codes: 0 synced; 2 usage or configuration error; 3 API or authentication error;
    4 the store cannot be written. Errors are one line on stderr. Progress bars only on a
    terminal (or in a notebook): from cron, or piped, nothing but the result line.
    """
    p = subparsers.add_parser("sync", help="incrementally sync message history to Parquet")
    p.add_argument("channel", choices=sorted(loaders.HISTORY))
    p.add_argument("path", help="store directory (created if missing)")
    p.add_argument("--start", help="first month, YYYY-MM (default: the oldest message)")
    p.add_argument("--sandbox", action="store_true", help="sync from an embedded sandbox")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=_run)


def _run(args) -> int:
    import csframe
    from csframe.errors import ApiError, ConfigurationError

    # "auto": bars on a terminal only, never into a pipe or cron's mail.
    progress = False if args.quiet else "auto"
    try:
        if args.sandbox:
            from csframe.sandbox import running

            with running(scale="small") as sb:
                cs = csframe.Client(**sb.credentials, base_url=sb.base_url, progress=progress)
                result = sync(cs, args.channel, args.path, start=args.start)
        else:
            cs = csframe.Client(progress=progress)
            result = sync(cs, args.channel, args.path, start=args.start)
    except (ConfigurationError, ValueError) as exc:
        return _fail(exc, EXIT_USAGE)
    except ApiError as exc:
        return _fail(exc, EXIT_API)
    except OSError as exc:  # the store's directory or files cannot be written
        where = exc.filename or args.path
        return _fail(f"cannot write {where}: {exc.strerror or exc}", EXIT_OUTPUT)
    if not args.quiet:
        print(result)
    return EXIT_OK


def _fail(error, code: int) -> int:
    print(f"csframe sync: error: {error}", file=sys.stderr)
    return code
