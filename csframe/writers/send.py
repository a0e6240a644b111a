"""Send a plan in chunks, journaled, resumable: nothing twice, nothing lost.

The protocol, per request of at most 1000 messages:

1. the batch's rows are committed to the journal as ``inflight``;
2. ``POST /sms/send`` (never retried blindly), every message with a ``custom_string`` of
   run id + row key (``csf3a9c01d2.1742``);
3. the answer is committed: per row ``sent`` (message id, price), ``rejected`` (the API's
   per-message code, e.g. INVALID_RECIPIENT: final) or ``retryable`` (a cause that can
   change: INSUFFICIENT_CREDIT, THROTTLED, COUNTRY_NOT_ENABLED, ...).

When the outcome of a request is unknown -- a timeout, a dropped connection, a 5xx, an
answer that does not list every message, a killed process -- its rows are looked up in
the history (:mod:`csframe.writers.lookup`: search verified client-side, or a window
read) before anything is sent again. Rows found are ``sent``. Rows not found are
``in_doubt`` while the lookup was made less than ``doubt_horizon`` seconds after the
request started: a slow server may still commit it, however late its answer was lost.
Only a lookup made after the horizon that still finds nothing makes a row ``pending``
again, to be sent once more. A 429 means the API did not act: retried after
``Retry-After``.

A run sends what is pending and looks up in-doubt rows again as their horizon passes;
with ``wait=True`` it waits for the last horizon instead of returning. A rerun with the
same journal first looks up every row left in flight or in doubt, then tries retryable
rows again. INSUFFICIENT_CREDIT stops the run cleanly (those rows are ``retryable``;
top up and rerun).

The result has one row per plan row (the plan's index): ``row_key``, ``to``,
``custom_string``, ``outcome`` (sent / rejected / retryable / in_doubt / not_sent),
``status`` (the API's code, or NOT_SENT / IN_DOUBT), ``message_id``, ``price``, ``error``,
``via`` (response / lookup), ``attempts``; ``attrs`` has ``status`` ("complete",
"in_doubt" or "stopped"), ``resolvable_after`` (when a rerun can settle in-doubt rows),
the journal path, run id, counts, ``requests`` and ``stopped`` (why the run ended early).

Example::

    plan = csframe.writers.sms_plan(df, "Hi {first_name} ...", to="phone_e164")
    sent = csframe.writers.send(cs, plan, journal="runs/oct-promo.sqlite")
    sent["outcome"].value_counts()
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from csframe.errors import (
    AccountError,
    ApiError,
    AuthenticationError,
    InsufficientCredit,
    NotFound,
    RateLimited,
    ValidationError,
)
from csframe.writers._common import ClientLike, JournalMismatch, check_chunk_size, show_rows
from csframe.writers.channels import Channel, channel_of, fingerprint, row_hashes
from csframe.writers.journal import STATES, Journal, RowOutcome
from csframe.writers.lookup import LookupFailed, find_sent

log = logging.getLogger("csframe.writers")

OUTCOMES = ("sent", "rejected", "retryable", "in_doubt", "not_sent")
UNKNOWN = ("inflight", "in_doubt")  # journal states whose outcome a lookup must settle
_FATAL = (AuthenticationError, AccountError, NotFound, ValidationError)
# journal state code -> outcome code (STATES order: pending, inflight, sent, rejected,
# retryable, in_doubt; OUTCOMES order: sent, rejected, retryable, in_doubt, not_sent).
# A row still in flight when the run returns (its lookup failed) is in doubt.
_OUTCOME_CODES = np.array([4, 3, 0, 1, 2, 3], dtype=np.int8)

# Ten minutes: far beyond the 30 s client timeout, and beyond what load balancers and
# gateways let a request live (typically 60-300 s), so a request still unanswered is
# not going to be committed any more. A lookup after it that finds nothing is final.
DEFAULT_DOUBT_HORIZON = 600.0

# Per-message statuses that are not the message's fault and can change. THROTTLED and
# the server's own errors are tried again within the run (after a back-off); the others
# need the account to change (top up, enable a country, register a sender): next run.
RETRY_NOW = frozenset({"THROTTLED", "INTERNAL_ERROR", "SOMETHING_IS_WRONG"})
RETRY_LATER = frozenset({"INSUFFICIENT_CREDIT", "COUNTRY_NOT_ENABLED", "REGISTRATION_NEEDED"})


class SendStopped(UserWarning):
    """A send ended before every row was settled (no credit, the API kept failing)."""


class SendInDoubt(UserWarning):
    """A send ended with rows whose outcome is unknown; a rerun after the horizon settles them."""


def new_run_id() -> str:
    """A short random run id; custom strings are ``<run_id>.<row_key>``."""
    return "csf" + secrets.token_hex(4)


def default_journal_dir(client: ClientLike | None = None) -> Path:
    """``runs/`` under the client's cache directory (``cache_dir=``, else
    ``CSFRAME_CACHE_DIR``, else the user cache folder), created 0700."""
    from csframe.config import cache_dir

    path = Path(cache_dir(getattr(client, "cache_dir", None))) / "runs"
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def send(
    client: ClientLike,
    plan: pd.DataFrame,
    journal: str | os.PathLike | None = None,
    *,
    chunk_size: int = 1000,
    workers: int = 1,
    max_attempts: int = 8,
    doubt_horizon: float = DEFAULT_DOUBT_HORIZON,
    wait: bool = False,
    settle: float | None = None,
    progress: bool | str | None = None,
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
) -> pd.DataFrame:
    """Send ``plan`` through ``client`` with a journal; see the module docstring.

    Parameters
    ----------
    journal : the journal file; reuse it to resume. None creates one under the client's
        cache directory (its path is in ``result.attrs["journal"]``).
    chunk_size : messages per request (at most 1000).
    workers : concurrent requests (1 keeps the plan's order and stops at the first
        INSUFFICIENT_CREDIT without anything else in flight).
    max_attempts : how often one row may be put in a request that the API did not take
        (5xx, 429, dropped, throttled) before the run stops.
    doubt_horizon : seconds after a request started before its messages' absence from the
        history counts as "not taken" (default 600: see ``DEFAULT_DOUBT_HORIZON``). Until
        then its rows are ``in_doubt`` and are never sent again.
    wait : when rows are in doubt at the end, wait for their horizon and settle them
        (for scheduled jobs) instead of returning with ``attrs["status"] == "in_doubt"``.
    settle : the old name of ``doubt_horizon`` (deprecated).
    on_event : called as ``on_event(kind, info)`` at ``batch_start`` (journal committed,
        request not yet sent), ``batch_response`` (answer read, not yet journaled),
        ``batch_done``, ``batch_unanswered``, ``batch_resolved``, ``stopped``.

    Example::

        res = send(cs, plan, "runs/oct.sqlite")
        if res.attrs["status"] == "in_doubt":
            print("rerun after", res.attrs["resolvable_after"])
    """
    channel = channel_of(plan)
    chunk_size = check_chunk_size(chunk_size)
    if not isinstance(workers, int) or isinstance(workers, bool) or not 1 <= workers <= 32:
        raise ValueError(f"workers must be an integer from 1 to 32, got {workers!r}")
    if not isinstance(max_attempts, int) or isinstance(max_attempts, bool) or max_attempts < 1:
        raise ValueError(f"max_attempts must be a positive integer, got {max_attempts!r}")
    if settle is not None:
        warnings.warn("send(settle=...) is now doubt_horizon=...", DeprecationWarning, stacklevel=2)
        doubt_horizon = settle
    if (
        isinstance(doubt_horizon, bool)
        or not isinstance(doubt_horizon, int | float)
        or not doubt_horizon >= 0
    ):
        raise ValueError(f"doubt_horizon must be a number of seconds >= 0, got {doubt_horizon!r}")
    path = Path(journal) if journal is not None else None
    run_id = None
    if path is None:
        run_id = new_run_id()
        path = default_journal_dir(client) / f"{run_id}.sqlite"
    j = Journal(path, lock=True)  # the lock is held before the journal is read
    try:
        media = plan.attrs.get("media_file")
        hashes = row_hashes(plan, channel, media)
        if j.is_new:
            run_id = run_id or new_run_id()
            keys = plan["row_key"].astype("str").tolist()
            j.initialise(
                {
                    "run_id": run_id,
                    "channel": channel.name,
                    "fingerprint": fingerprint(hashes),
                    "rows": len(plan),
                    "created": time.time(),
                    "media_file": media,
                },
                keys,
                hashes,
            )
        else:
            _check_same_plan(j, plan, channel, hashes)
        run = _Run(
            client,
            plan,
            j,
            channel,
            chunk_size=chunk_size,
            workers=workers,
            max_attempts=max_attempts,
            horizon=float(doubt_horizon),
            wait=bool(wait),
            on_event=on_event,
        )
        run.start(progress)
        try:
            run.resolve_unknown()
            run.send_pending()
        finally:
            run.finish()
        result = run.outcomes()
    finally:
        j.close()
    if result.attrs["stopped"]:
        warnings.warn(
            f"send stopped: {result.attrs['stopped']}; {result.attrs['counts']}. Rerun with "
            f"journal={str(path)!r} to continue.",
            SendStopped,
            stacklevel=2,
        )
    elif result.attrs["status"] == "in_doubt":
        warnings.warn(
            f"{result.attrs['counts'].get('in_doubt', 0)} message(s) are in doubt: their "
            "request's answer was lost and they are not in the history yet. They will not be "
            f"sent again before {result.attrs['resolvable_after']}; rerun then with "
            f"journal={str(path)!r} (or pass wait=True) to settle them.",
            SendInDoubt,
            stacklevel=2,
        )
    return result


def _check_same_plan(j: Journal, plan: pd.DataFrame, channel: Channel, hashes: np.ndarray) -> None:
    meta = j.meta()
    if meta.get("channel") != channel.name:
        raise JournalMismatch(
            f"journal {str(j.path)!r} belongs to a {meta.get('channel')} send, not {channel.name}"
        )
    if meta.get("fingerprint") == fingerprint(hashes):
        return
    old = j.row_hashes()
    if len(old) != len(hashes):
        detail = f"it has {len(old)} rows, the plan has {len(hashes)}"
    else:
        differ = np.flatnonzero(old != hashes)
        detail = (
            f"{len(differ)} row(s) differ (recipient, body, sender, schedule or key), e.g. "
            f"rows {show_rows(plan.index[differ])}"
        )
    raise JournalMismatch(
        f"journal {str(j.path)!r} was written for a different plan: {detail}. Resume with "
        "the same plan, or start a new journal (a new journal sends every row again)."
    )


def _when(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class _Run:
    def __init__(
        self,
        client: ClientLike,
        plan: pd.DataFrame,
        journal: Journal,
        channel: Channel,
        *,
        chunk_size: int,
        workers: int,
        max_attempts: int,
        horizon: float,
        wait: bool,
        on_event: Callable[[str, dict[str, Any]], None] | None,
    ) -> None:
        self.client = client
        self.session = client.session
        self.plan = plan
        self.j = journal
        self.ch = channel
        self.chunk_size = chunk_size
        self.workers = workers
        self.max_attempts = max_attempts
        self.horizon = horizon
        self.wait = wait
        self.on_event = on_event
        self.cols = channel.columns(plan)
        self.meta = journal.meta()
        self.run_id = self.meta["run_id"]
        self.stop = threading.Event()
        self.stopped: str | None = None
        self.fatal: BaseException | None = None
        self.tries: dict[int, int] = {}
        self.lock = threading.Lock()
        self.requests = 0
        self.bar = None
        self.media_url: str | None = None
        self.currency: str | None = plan.attrs.get("currency")

    # -- plumbing ---------------------------------------------------------------------------
    def event(self, kind: str, **info: Any) -> None:
        if self.on_event is not None:
            self.on_event(kind, {"run_id": self.run_id, **info})

    def halt(self, reason: str, fatal: BaseException | None = None) -> None:
        with self.lock:
            if self.stopped is None:
                self.stopped = reason
                self.fatal = fatal
                self.j.note(None, "stopped", reason)
        self.stop.set()
        self.event("stopped", reason=reason)

    def start(self, progress: bool | str | None) -> None:
        self.j.requeue_retryable()
        if self.ch.name == "mms":
            self.media_url = self._media_url()
        from csframe.paging import progress_enabled

        enabled = progress_enabled(self.client.progress if progress is None else progress)
        if enabled:
            from tqdm.auto import tqdm

            counts = self.j.counts()
            done = sum(counts.get(s, 0) for s in ("sent", "rejected"))
            self.bar = tqdm(
                total=len(self.plan), initial=done, desc=f"send {self.ch.name}", unit="msg"
            )

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def _advance(self, outcomes: Sequence[tuple]) -> None:
        if self.bar is not None:
            self.bar.update(sum(1 for o in outcomes if o[1] in ("sent", "rejected")))

    def _media_url(self) -> str | None:
        media = self.plan.attrs.get("media_file")
        known = self.meta.get("media_url")
        if known:
            return known
        if media and not str(media).startswith(("http://", "https://")):
            from csframe.writers.uploads import upload_file

            url = upload_file(self.session, media, convert="mms")
            self.j.note(None, "media_uploaded", {"file": media, "url": url})
            self.j.set_meta(media_url=url)
            return url
        return media

    def _count_tries(self, positions: Sequence[int], why: str) -> None:
        worst = 0
        with self.lock:
            for p in positions:
                self.tries[p] = self.tries.get(p, 0) + 1
                worst = max(worst, self.tries[p])
        if worst >= self.max_attempts:
            self.j.set_error(positions, f"not sent: gave up after {worst} attempts ({why})")
            self.halt(f"the API did not take a request {worst} times in a row (last: {why})")

    def _backoff(self, positions: Sequence[int], retry_after: float | None = None) -> None:
        attempt = max((self.tries.get(p, 0) for p in positions), default=0)
        self.stop.wait(self.session.retry.delay(max(0, attempt - 1), retry_after))

    def _messages(self, positions: Sequence[int]) -> list[dict[str, Any]]:
        custom = self.j.custom_strings(positions)
        return self.ch.messages(self.cols, positions, [custom[p] for p in positions])

    # -- sending ----------------------------------------------------------------------------
    def send_pending(self) -> None:
        if self.workers == 1:
            while not self.stop.is_set():
                self.resolve_due()
                positions = self.j.next_pending(self.chunk_size)
                if positions:
                    batch = self.j.begin(positions)
                    self.batch(batch, positions)
                elif not self._wait_for_doubt():
                    break
        else:
            self._send_concurrently()
        if self.fatal is not None:
            raise self.fatal

    def _send_concurrently(self) -> None:
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            active: dict[Future, list[int]] = {}
            while True:
                if not self.stop.is_set():
                    self.resolve_due()
                while len(active) < self.workers and not self.stop.is_set():
                    positions = self.j.next_pending(self.chunk_size)
                    if not positions:
                        break
                    batch = self.j.begin(positions)  # inflight now: not pending any more
                    active[pool.submit(self.batch, batch, positions)] = positions
                if not active:
                    if self.stop.is_set() or not self._wait_for_doubt():
                        break
                    continue
                done, _ = wait(list(active), return_when=FIRST_COMPLETED, timeout=1.0)
                for fut in done:
                    active.pop(fut)
                    fut.result()

    def _wait_for_doubt(self) -> bool:
        """With ``wait``: sleep until the next in-doubt batch's horizon; True if any."""
        if not self.wait or self.stop.is_set():
            return False
        groups = self.j.inflight(UNKNOWN)
        if not groups:
            return False
        due = min(started for _, started in groups.values()) + self.horizon
        self.stop.wait(max(0.0, due - time.time()) + 0.01)
        return True

    def batch(self, batch: int, positions: list[int]) -> None:
        messages = self._messages(positions)
        payload = self.ch.payload(messages, self.media_url)
        self.event("batch_start", batch=batch, positions=positions)
        with self.lock:
            self.requests += 1
        started = self.j.started[batch]
        try:
            data = self.session.post(self.ch.send_path, payload, idempotent=False)
        except RateLimited as exc:
            # 429: the API refused the request before acting on it
            self.j.release(batch, f"429 {exc.response_code or 'TOO_MANY_REQUESTS'}")
            self._count_tries(positions, "429 Too Many Requests")
            if not self.stop.is_set():
                self._backoff(positions, exc.retry_after)
            return
        except InsufficientCredit as exc:
            self._record_no_credit(batch, positions, str(exc))
            return
        except _FATAL as exc:
            self.j.release(batch, f"refused: {exc}")
            self.halt(f"the API refused the request: {exc}", fatal=exc)
            return
        except (ApiError, OSError, ValueError) as exc:
            # 5xx, dropped connection, timeout, unreadable body: did the API act?
            self.event("batch_unanswered", batch=batch, error=str(exc))
            self.j.note(batch, "unanswered", str(exc))
            self.resolve(batch, positions, started, f"unanswered: {exc}")
            return
        self.event("batch_response", batch=batch, positions=positions)
        if isinstance(data, dict) and self.currency is None:
            self.currency = (data.get("_currency") or {}).get("currency_name_short")
        outcomes = self.parse(positions, self.j.custom_strings(positions), data)
        if outcomes is None:
            self.resolve(batch, positions, started, "the answer did not list every message")
            return
        self.j.record(batch, outcomes, via="response", batch_state="answered")
        self._advance(outcomes)
        self.event("batch_done", batch=batch, positions=positions)
        self._after_refusals(outcomes)

    def _after_refusals(self, outcomes: Sequence[tuple]) -> None:
        """Retryable refusals: stop for credit; throttled ones go again after a back-off."""
        if any(o[3] == "INSUFFICIENT_CREDIT" for o in outcomes):
            self.halt("INSUFFICIENT_CREDIT: the account ran out of credit")
            return
        again = [o for o in outcomes if o[1] == "retryable" and o[3] in RETRY_NOW]
        if again:
            codes = ", ".join(sorted({o[3] for o in again}))
            positions = [o[0] for o in again]
            self._count_tries(positions, f"{len(positions)} message(s) refused: {codes}")
            if not self.stop.is_set():
                self._backoff(positions)
                self.j.requeue(positions)

    def _record_no_credit(self, batch: int, positions: Sequence[int], why: str) -> None:
        self.j.record(
            batch,
            [(p, "retryable", None, "INSUFFICIENT_CREDIT", None, why) for p in positions],
            via="response",
            batch_state="answered",
            outcome="INSUFFICIENT_CREDIT",
        )
        self.halt("INSUFFICIENT_CREDIT: the account ran out of credit")

    def parse(
        self, positions: list[int], custom: dict[int, str], data: Any
    ) -> list[RowOutcome] | None:
        """Per-row outcomes from a send answer, or None when they cannot be matched."""
        msgs = (data or {}).get("messages") if isinstance(data, dict) else None
        if not isinstance(msgs, list):
            return None
        by_pos: dict[int, dict] = {}
        echoed = [str(m.get("custom_string") or "") for m in msgs]
        if len(msgs) == len(positions) and (
            all(e == custom[p] for p, e in zip(positions, echoed, strict=True))
            or not any(echoed)  # an answer without custom strings: in request order
        ):
            by_pos = dict(zip(positions, msgs, strict=True))
        else:  # match on custom_string when the order is not the request's
            index = {str(m.get("custom_string") or ""): m for m in msgs}
            for p in positions:
                m = index.get(custom[p])
                if m is None:
                    return None
                by_pos[p] = m
        out: list[RowOutcome] = []
        for p in positions:
            m = by_pos[p]
            status = str(m.get("status") or "")
            if status == "SUCCESS":
                out.append((p, "sent", m.get("message_id"), status, _money(m), None))
            elif status in RETRY_NOW or status in RETRY_LATER:
                out.append((p, "retryable", None, status, None, status.lower().replace("_", " ")))
            else:
                out.append((p, "rejected", None, status or "UNKNOWN", None, status or "no status"))
        return out

    # -- resolving unknown outcomes -----------------------------------------------------------
    def resolve_unknown(self) -> None:
        """Before sending anything: look up every row a previous run left in flight or in
        doubt (found rows are settled at once; the horizon decides about the others)."""
        for batch, (positions, started) in self.j.inflight(UNKNOWN).items():
            if self.stop.is_set():
                break
            self.resolve(batch, positions, started, "its request's answer is unknown")
        if self.stop.is_set() and self.fatal is not None:
            raise self.fatal

    def resolve_due(self) -> None:
        """Look up again the in-doubt rows whose horizon has passed."""
        now = time.time()
        for batch, (positions, started) in self.j.inflight(("in_doubt",)).items():
            if self.stop.is_set():
                return
            if now >= started + self.horizon:
                self.resolve(batch, positions, started, "its request's answer was lost")

    def resolve(self, batch: int, positions: list[int], started: float, reason: str) -> None:
        """Settle rows of a request whose outcome is unknown, by looking them up."""
        messages = self._messages(positions)
        looked_at = time.time()  # the horizon is judged at the lookup's start
        try:
            found = find_sent(
                self.session, self.ch.name, messages, started, workers=self.client.max_workers
            )
        except LookupFailed as exc:
            # Cannot tell: the rows stay as they are for a later lookup.
            self.j.note(batch, "lookup_failed", str(exc))
            self.halt(f"could not look up an unanswered request in the history: {exc}")
            return
        past_horizon = looked_at >= started + self.horizon
        outcomes: list[RowOutcome] = []
        released: list[int] = []
        for p, m in zip(positions, messages, strict=True):
            recs = found.get(m["custom_string"])
            if recs:
                rec, error = recs[0], None
                if len(recs) > 1:
                    ids = ", ".join(str(r.get("message_id")) for r in recs)
                    error = f"DUPLICATE: {len(recs)} messages in the history ({ids})"
                price = _money(rec, "message_price")
                outcomes.append((p, "sent", rec.get("message_id"), "SUCCESS", price, error))
            elif past_horizon:
                released.append(p)
                why = (
                    f"not taken by the API: not in the history {looked_at - started:.0f} s "
                    f"after the request ({reason})"
                )
                outcomes.append((p, "pending", None, None, None, why))
            else:
                why = (
                    f"in doubt: {reason}; not in the history yet; not sent again before "
                    f"{_when(started + self.horizon)} (the doubt horizon)"
                )
                outcomes.append((p, "in_doubt", None, "IN_DOUBT", None, why))
        self.j.settle(batch, outcomes, reason=reason)
        self._advance(outcomes)
        taken = len(positions) - len(released)
        self.j.note(batch, "looked_up", {"found": len(found), "released": len(released)})
        self.event("batch_resolved", batch=batch, taken=taken > 0, positions=positions)
        if released:
            self._count_tries(released, reason)

    # -- the result -------------------------------------------------------------------------
    def outcomes(self) -> pd.DataFrame:
        snap = self.j.snapshot()
        n = len(self.plan)
        code = snap["state"]
        state = np.asarray(STATES, dtype=object)[code]
        outcome = pd.Categorical.from_codes(_OUTCOME_CODES[code], categories=OUTCOMES)
        status = snap["status"]
        status[state == "pending"] = "NOT_SENT"
        status[(state == "inflight") | (state == "in_doubt")] = "IN_DOUBT"
        error = snap["error"]
        if self.stopped:
            unsettled = (state == "pending") & pd.isna(error)
            error[unsettled] = f"not sent: the run stopped ({self.stopped})"
        error[state == "inflight"] = (
            "request unanswered and not yet looked up: rerun with this journal"
        )
        keys = self.plan["row_key"].astype("str")
        result = pd.DataFrame(
            {
                "row_key": keys.array,
                "to": self.plan["to"].array,
                "custom_string": (f"{self.run_id}." + keys).array,
                "outcome": outcome,
                "status": pd.array(status, dtype="str"),
                "message_id": pd.array(snap["message_id"], dtype="str"),
                "price": snap["price"],
                "error": pd.array(error, dtype="str"),
                "via": pd.Categorical(snap["via"], categories=["response", "lookup"]),
                "attempts": pd.array(snap["attempts"], dtype="Int64"),
            },
            index=self.plan.index,
        )
        if len(result) != n:
            raise RuntimeError("internal error: the result lost rows")  # never silently
        counts = result["outcome"].value_counts().to_dict()
        doubtful = np.flatnonzero((state == "inflight") | (state == "in_doubt"))
        after = None
        if len(doubtful):
            last = max(self.j.started.get(int(b), 0.0) for b in set(snap["batch"][doubtful]))
            after = _when(max(last + self.horizon, time.time()))
        run_status = "stopped" if self.stopped else "in_doubt" if len(doubtful) else "complete"
        result.attrs.update(
            {
                "status": run_status,
                "resolvable_after": after,
                "doubt_horizon": self.horizon,
                "channel": self.ch.name,
                "journal": str(self.j.path),
                "run_id": self.run_id,
                "counts": {k: int(v) for k, v in counts.items() if v},
                "requests": self.requests,
                "stopped": self.stopped,
                "total_price": float(np.nansum(result["price"].to_numpy(dtype=float))),
                "currency": self.currency,
            }
        )
        return result


def _money(rec: dict, field: str = "message_price") -> float | None:
    try:
        return float(rec[field])
    except (KeyError, TypeError, ValueError):
        return None
