"""Incremental sync of any resource into a Parquet store (see :mod:`csframe.store`).

Time-based resources (history, receipts, inbound, recharges, usage, statistics) are kept
by month of their time field: closed months (ended more than the client's settle period
ago) are fetched once; later runs fetch only open months -- the current one and those
still settling -- and replace them atomically. Resources that change in place (contacts,
lists, campaigns, subaccounts, the account) are kept as dated snapshots, one per UTC day.
What each store fetches: :mod:`csframe.sync_targets`. ``csframe sync`` runs the same from
cron; ``csframe sync all PATH`` keeps every resource, one folder each.

Example::

    from csframe.sync import sync, sync_all
    result = sync(cs, "sms", "data/sms", start="2026-01-01")
    result.months_fetched, result.rows
    sync(cs, "contacts", "data/contacts").snapshot      # '2026-12-06'
    sync_all(cs, "data")                                # every store, data/<store name>
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from csframe import store, timeutil
from csframe.errors import AccountError, NotFound
from csframe.sync_targets import TARGETS, Source, Target, target
from csframe.timeutil import month_range, parse_month


@dataclass
class SyncResult:
    """What one sync did (``snapshot``: the day of the snapshot taken, for snapshot
    stores)."""

    path: Path
    months_fetched: list[str] = field(default_factory=list)
    months_skipped: list[str] = field(default_factory=list)
    rows: int = 0
    requests: int = 0
    snapshot: str | None = None

    def __str__(self) -> str:
        if self.snapshot is not None:
            return (
                f"synced {self.path}: snapshot {self.snapshot} "
                f"({self.rows:,} rows, {self.requests} requests)"
            )
        return (
            f"synced {self.path}: fetched {len(self.months_fetched)} month(s) "
            f"({self.rows:,} rows, {self.requests} requests), "
            f"{len(self.months_skipped)} closed month(s) already complete"
        )


def sync(
    client: Source, resource: str, path: str | os.PathLike, start: object = None
) -> SyncResult:
    """Bring the store at ``path`` up to date with ``resource``: a store name of
    :data:`csframe.sync_targets.TARGETS` (``"sms_receipts"``, ``"contacts"``, ``"usage"``...)
    or a history channel (``"sms"``).

    ``start``: for month stores, the first month (a month or date; default: the month of
    the oldest row, or for usage the last 12 months); snapshot stores take no ``start``.
    """
    tgt = target(resource)
    if tgt.layout == "snapshot" and start is not None:
        raise ValueError(f"start does not apply to {tgt.name}: it is kept as dated snapshots")
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    store.remove_stale_temp_files(root)  # a killed sync's half-written files
    state = store.StoreState.load(root, tgt.resource.name, name=tgt.name, layout=tgt.layout)
    result = SyncResult(root)
    sent_before = client.requests_sent
    if tgt.layout == "snapshot":
        _snapshot(client, tgt, root, state, result)
    elif tgt.per_month:
        _by_month(client, tgt, root, state, result, start)
    else:
        _split_by_month(client, tgt, root, state, result, start)
    result.requests = client.requests_sent - sent_before
    return result


def _record(
    root: Path,
    state: store.StoreState,
    result: SyncResult,
    key: str,
    frame: pd.DataFrame,
    closed: bool,
) -> None:
    """Write one month and then record it (the state after its file: kill-safe)."""
    now = timeutil.now_utc()
    store.write_month(root, pd.Timestamp(key + "-01", tz="UTC"), frame)
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


def _open_months(
    state: store.StoreState, first: pd.Timestamp, now: pd.Timestamp, result: SyncResult
) -> list[pd.Timestamp]:
    """The months from ``first`` to now that are not closed in ``state``."""
    out = []
    for month in month_range(first, now):
        key = store.month_key(month)
        if (state.months.get(key) or {}).get("closed"):
            result.months_skipped.append(key)
        else:
            out.append(month)
    return out


def _closed(client: Source, month: pd.Timestamp, now: pd.Timestamp) -> bool:
    return month + pd.DateOffset(months=1) < now - client.settle


def _by_month(
    client: Source,
    tgt: Target,
    root: Path,
    state: store.StoreState,
    result: SyncResult,
    start: object,
) -> None:
    """History: one request window per open month, each written as it arrives."""
    now = timeutil.now_utc()
    if start is not None:
        first = parse_month(start, "start")
    else:
        assert tgt.first_month is not None  # every per-month target declares it
        first = tgt.first_month(client)
    for month in _open_months(state, first, now, result):
        month_end = month + pd.DateOffset(months=1)
        # The current month runs to "now" (the loader pins it); an explicit end would drop
        # the rows of the last second.
        frame = tgt.load(client, month, month_end if month_end <= now else None)
        _record(root, state, result, store.month_key(month), frame, _closed(client, month, now))


def _split_by_month(
    client: Source,
    tgt: Target,
    root: Path,
    state: store.StoreState,
    result: SyncResult,
    start: object,
) -> None:
    """One load from the oldest open month on, split into months by the time field."""
    now = timeutil.now_utc()
    if start is not None:
        first = parse_month(start, "start")
    elif state.months:
        first = pd.Timestamp(min(state.months) + "-01", tz="UTC")
    else:
        first = tgt.first_month(client) if tgt.first_month else None
    months = _open_months(state, first, now, result) if first is not None else None
    if months == []:
        return
    frame = tgt.load(client, months[0] if months else None, now)
    times = frame[tgt.time_field]
    if months is None:  # a new store: from the month of the oldest row
        oldest = times.min()
        first = parse_month(oldest if pd.notna(oldest) else now, "start")
        months = _open_months(state, first, now, result)
    for month in months:
        key = store.month_key(month)
        month_end = month + pd.DateOffset(months=1)
        part = frame[((times >= month) & (times < month_end)).fillna(False)]
        if tgt.merge_key and key in state.months:
            # the API's window covers only recent days: keep the stored days it no longer has
            kept = store.read(root, month, month_end)
            kept = kept[~kept[tgt.merge_key].isin(part[tgt.merge_key])]
            part = pd.concat([kept, part]).sort_values(tgt.merge_key, kind="stable")
        part = part.reset_index(drop=True)
        part.attrs = dict(frame.attrs)
        _record(root, state, result, key, part, _closed(client, month, now))


def _snapshot(
    client: Source, tgt: Target, root: Path, state: store.StoreState, result: SyncResult
) -> None:
    """The whole resource as the snapshot of today (UTC); a second sync the same day
    replaces it."""
    now = timeutil.now_utc()
    day = f"{now:%Y-%m-%d}"
    frame = tgt.load(client)
    store.write_snapshot(root, day, frame)
    state.snapshots[day] = {
        "rows": len(frame),
        "synced_at": now.isoformat(),
        **({"stale": True} if frame.attrs.get("stale") else {}),
    }
    state.currency = frame.attrs.get("currency", state.currency)
    state.save(root)  # after the snapshot's file
    result.snapshot = day
    result.rows = len(frame)


@dataclass
class SyncAllResult:
    """What ``sync_all`` did: a result per store synced, and the stores the account does
    not have (the API answered 403 or 404), with the reason."""

    path: Path
    results: dict[str, SyncResult] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"{name}: {res}" for name, res in self.results.items()]
        lines += [f"{name}: skipped ({why})" for name, why in self.skipped.items()]
        return "\n".join(lines)


def sync_all(client: Source, path: str | os.PathLike, start: object = None) -> SyncAllResult:
    """Sync every resource the account has into ``path/<store name>`` (``start`` goes to
    the month stores). A resource the API refuses (403: not enabled for the account,
    404: not available) is skipped and listed; any other error stops the sync.

    Example::

        done = csframe.sync.sync_all(cs, "data")
        csframe.store.duckdb("data")        # one view per store
    """
    root = Path(path)
    out = SyncAllResult(root)
    for name, tgt in TARGETS.items():
        try:
            out.results[name] = sync(
                client, name, root / name, start=start if tgt.layout == "month" else None
            )
        except (AccountError, NotFound) as exc:
            out.skipped[name] = str(exc)
            if (root / name).is_dir() and not any((root / name).iterdir()):
                (root / name).rmdir()  # no empty folder for a resource the account lacks
    return out


#: Exit codes of ``csframe sync`` (the same meanings as ``csframe report``'s).
EXIT_OK, EXIT_USAGE, EXIT_API, EXIT_OUTPUT = 0, 2, 3, 4


def register(subparsers: argparse._SubParsersAction) -> None:
    """``csframe sync RESOURCE PATH [--start YYYY-MM] [--sandbox] [--quiet]``; RESOURCE is a
    store name (``sms_receipts``, ``contacts``...), a history channel (``sms``), or ``all``
    (every resource the account has, into ``PATH/<store name>``).

    Exit codes: 0 synced; 2 usage or configuration error; 3 API or authentication error;
    4 the store cannot be written. Errors are one line on stderr. Progress bars only on a
    terminal (or in a notebook): from cron, or piped, nothing but the result line(s).
    """
    from csframe.sync_targets import ALIASES

    p = subparsers.add_parser("sync", help="incrementally sync resources to Parquet stores")
    p.add_argument(
        "resource",
        choices=["all", *sorted([*TARGETS, *ALIASES])],
        metavar="RESOURCE",
        help="a store name (sms_history, sms_receipts, contacts, usage, ...), a history "
        "channel (sms, mms, ...), or 'all'",
    )
    p.add_argument("path", help="store directory (created if missing); for 'all' the parent")
    p.add_argument("--start", help="first month, YYYY-MM (default: the oldest row)")
    p.add_argument("--sandbox", action="store_true", help="sync from an embedded sandbox")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import csframe
    from csframe.errors import ApiError, ConfigurationError

    # "auto": bars on a terminal only, never into a pipe or cron's mail.
    progress = False if args.quiet else "auto"

    def run(cs: Source) -> SyncResult | SyncAllResult:
        if args.resource == "all":
            return sync_all(cs, args.path, start=args.start)
        return sync(cs, args.resource, args.path, start=args.start)

    try:
        if args.sandbox:
            from csframe.sandbox import running

            with running(scale="small") as sb:
                cs = csframe.Client(**sb.credentials, base_url=sb.base_url, progress=progress)
                result = run(cs)
        else:
            result = run(csframe.Client(progress=progress))
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
