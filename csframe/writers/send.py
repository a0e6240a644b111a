"""Send a plan in chunks, journaled, resumable: nothing twice, nothing lost.

The protocol, per request of at most 1000 messages:

1. the batch's rows are committed to the journal as ``inflight``;
2. ``POST /sms/send`` (never retried blindly), every message with a ``custom_string`` of
   run id + row key (``csf3a9c01d2.1742``);
3. the answer is committed: per row ``sent`` (message id, price), ``rejected`` (the API's
   per-message code, e.g. INVALID_RECIPIENT) or ``no_credit``.

When the answer is lost -- a dropped connection, a timeout, a 5xx, a killed process --
the batch is resolved by looking its custom strings up in the history (never from the
HTTP cache) before anything is sent again: rows found are ``sent``; when none is found,
even ``settle`` seconds after the request started, the API did not take the request and
its rows are sent again; when some are found the request was taken, and the missing rows
are priced to learn why the API refused them (``rejected``), or are left ``unconfirmed``
(never sent again). A 429 means the API did not act: the batch is retried after
``Retry-After``. A rerun with the same journal resolves in-flight batches first, skips
settled rows, and tries ``no_credit`` rows again.

INSUFFICIENT_CREDIT stops the run cleanly: what was sent is recorded, the rest is
``not_sent``, and a rerun after a top-up continues from there.

The result has one row per plan row (the plan's index): ``row_key``, ``to``,
``custom_string``, ``outcome`` (sent / rejected / not_sent / unconfirmed), ``status`` (the
API's code, or NOT_SENT / UNCONFIRMED), ``message_id``, ``price``, ``error``, ``via``
(response / lookup), ``attempts``; ``attrs`` has the journal path, run id, counts,
``requests`` and ``stopped`` (why the run ended early, or None).

Example::

    plan = csframe.writers.sms_plan(df, "Hi {first_name} ...", to="phone_e164")
    sent = csframe.writers.send(cs, plan, journal="runs/oct-promo.sqlite")
    sent["outcome"].value_counts()
"""

from __future__ import annotations

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
from csframe.writers._common import JournalMismatch, check_chunk_size, show_rows
from csframe.writers.channels import Channel, channel_of, fingerprint, row_hashes
from csframe.writers.journal import STATES, Journal
from csframe.writers.lookup import find_by_custom_string

log = logging.getLogger("csframe.writers")

OUTCOMES = ("sent", "rejected", "not_sent", "unconfirmed")
_FATAL = (AuthenticationError, AccountError, NotFound, ValidationError)
# journal state code -> outcome code (STATES order: pending, inflight, sent, rejected,
# no_credit, unconfirmed; OUTCOMES order: sent, rejected, not_sent, unconfirmed)
_OUTCOME_CODES = np.array([2, 3, 0, 1, 2, 3], dtype=np.int8)


class SendStopped(UserWarning):
    """A send ended before every row was settled (no credit, the API kept failing)."""


def new_run_id() -> str:
    """A short random run id; custom strings are ``<run_id>.<row_key>``."""
    return "csf" + secrets.token_hex(4)


def default_journal_dir() -> Path:
    from csframe.config import cache_dir

    return Path(cache_dir(None)) / "runs"


def send(
    client,
    plan: pd.DataFrame,
    journal: str | os.PathLike | None = None,
    *,
    chunk_size: int = 1000,
    workers: int = 1,
    max_attempts: int = 8,
    settle: float = 5.0,
    progress: bool | str | None = None,
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
) -> pd.DataFrame:
    """Send ``plan`` through ``client`` with a journal; see the module docstring.

    Parameters
    ----------
    journal : the journal file; reuse it to resume. None creates one under the cache
        directory (its path is in ``result.attrs["journal"]``).
    chunk_size : messages per request (at most 1000).
    workers : concurrent requests (1 keeps the plan's order and stops at the first
        INSUFFICIENT_CREDIT without anything else in flight).
    max_attempts : how often one row may be put in a request that the API did not take
        (5xx, 429, dropped) before the run stops.
    settle : seconds after an unanswered request started before its messages' absence
        from the history counts as "not taken" (covers a server still processing it).
    on_event : called as ``on_event(kind, info)`` at ``batch_start`` (journal committed,
        request not yet sent), ``batch_response`` (answer read, not yet journaled),
        ``batch_done``, ``batch_unanswered``, ``batch_resolved``, ``stopped``.
    """
    channel = channel_of(plan)
    chunk_size = check_chunk_size(chunk_size)
    if not isinstance(workers, int) or not 1 <= workers <= 32:
        raise ValueError(f"workers must be an integer from 1 to 32, got {workers!r}")
    path = Path(journal) if journal is not None else None
    run_id = None
    if path is None:
        run_id = new_run_id()
        path = default_journal_dir() / f"{run_id}.sqlite"
    j = Journal(path)
    try:
        j.acquire_lock()
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
        run = _Run(client, plan, j, channel, chunk_size, workers, max_attempts, settle, on_event)
        run.start(progress)
        try:
            run.resolve_inflight()
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
    return result


def _check_same_plan(j: Journal, plan: pd.DataFrame, channel: Channel, hashes) -> None:
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


class _Run:
    def __init__(
        self,
        client,
        plan: pd.DataFrame,
        journal: Journal,
        channel: Channel,
        chunk_size: int,
        workers: int,
        max_attempts: int,
        settle: float,
        on_event,
    ) -> None:
        self.client = client
        self.session = client.session
        self.plan = plan
        self.j = journal
        self.ch = channel
        self.chunk_size = chunk_size
        self.workers = workers
        self.max_attempts = max_attempts
        self.settle = settle
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

    def start(self, progress) -> None:
        self.j.requeue_no_credit()
        if self.ch.name == "mms":
            self.media_url = self._media_url()
        from csframe.paging import progress_enabled

        enabled = progress_enabled(self.client.progress if progress is None else progress)
        if enabled:
            from tqdm.auto import tqdm

            counts = self.j.counts()
            done = sum(counts.get(s, 0) for s in ("sent", "rejected", "unconfirmed"))
            self.bar = tqdm(
                total=len(self.plan), initial=done, desc=f"send {self.ch.name}", unit="msg"
            )

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def _advance(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

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
        time.sleep(self.session.retry.delay(max(0, attempt - 1), retry_after))

    # -- sending ----------------------------------------------------------------------------
    def send_pending(self) -> None:
        if self.workers == 1:
            while not self.stop.is_set():
                positions = self.j.next_pending(self.chunk_size)
                if not positions:
                    break
                batch = self.j.begin(positions)
                self.batch(batch, positions)
        else:
            self._send_concurrently()
        if self.fatal is not None:
            raise self.fatal

    def _send_concurrently(self) -> None:
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            active: dict[Future, list[int]] = {}
            while True:
                while len(active) < self.workers and not self.stop.is_set():
                    positions = self.j.next_pending(self.chunk_size)
                    if not positions:
                        break
                    batch = self.j.begin(positions)  # inflight now: not pending any more
                    active[pool.submit(self.batch, batch, positions)] = positions
                if not active:
                    break
                done, _ = wait(list(active), return_when=FIRST_COMPLETED)
                for fut in done:
                    active.pop(fut)
                    fut.result()

    def batch(self, batch: int, positions: list[int]) -> None:
        custom = self.j.custom_strings(positions)
        messages = self.ch.messages(self.cols, positions, [custom[p] for p in positions])
        payload = self.ch.payload(messages, self.media_url)
        self.event("batch_start", batch=batch, positions=positions)
        with self.lock:
            self.requests += 1
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
            self.resolve(batch, positions, f"unanswered: {exc}", started=time.time())
            return
        self.event("batch_response", batch=batch, positions=positions)
        if isinstance(data, dict) and self.currency is None:
            self.currency = (data.get("_currency") or {}).get("currency_name_short")
        outcomes = self.parse(positions, custom, data)
        if outcomes is None:
            self.resolve(batch, positions, "the answer did not list every message", time.time())
            return
        self.j.record(batch, outcomes, via="response", batch_state="answered")
        self._advance(sum(1 for o in outcomes if o[1] in ("sent", "rejected", "unconfirmed")))
        self.event("batch_done", batch=batch, positions=positions)
        if any(o[1] == "no_credit" for o in outcomes):
            self.halt("INSUFFICIENT_CREDIT: the account ran out of credit")

    def _record_no_credit(self, batch: int, positions: Sequence[int], why: str) -> None:
        self.j.record(
            batch,
            [(p, "no_credit", None, "INSUFFICIENT_CREDIT", None, why) for p in positions],
            via="response",
            batch_state="answered",
            outcome="INSUFFICIENT_CREDIT",
        )
        self.halt("INSUFFICIENT_CREDIT: the account ran out of credit")

    def parse(self, positions: list[int], custom: dict[int, str], data: Any):
        """Per-row outcomes from a send answer, or None when they cannot be matched."""
        msgs = (data or {}).get("messages") if isinstance(data, dict) else None
        if not isinstance(msgs, list):
            return None
        by_pos: dict[int, dict] = {}
        echoed = [str(m.get("custom_string") or "").lower() for m in msgs]
        if len(msgs) == len(positions) and (
            all(e == custom[p].lower() for p, e in zip(positions, echoed, strict=True))
            or not any(echoed)  # an answer without custom strings: in request order
        ):
            by_pos = dict(zip(positions, msgs, strict=True))
        else:  # match on custom_string when the order is not the request's
            index = {str(m.get("custom_string") or "").lower(): m for m in msgs}
            for p in positions:
                m = index.get(custom[p].lower())
                if m is None:
                    return None
                by_pos[p] = m
        out = []
        for p in positions:
            m = by_pos[p]
            status = str(m.get("status") or "")
            if status == "SUCCESS":
                out.append((p, "sent", m.get("message_id"), status, _money(m), None))
            elif status == "INSUFFICIENT_CREDIT":
                out.append((p, "no_credit", None, status, None, "insufficient credit"))
            else:
                out.append((p, "rejected", None, status or "UNKNOWN", None, status or "no status"))
        return out

    # -- resolving unanswered requests -------------------------------------------------------
    def resolve_inflight(self) -> None:
        """Before sending anything: settle every batch a previous run left in flight."""
        for batch, (positions, started) in self.j.inflight().items():
            if self.stop.is_set():
                break
            self.resolve(
                batch,
                positions,
                "the previous run ended while this request was in flight",
                started=started,
            )
        if self.stop.is_set() and self.fatal is not None:
            raise self.fatal

    def resolve(self, batch: int, positions: list[int], reason: str, started: float) -> None:
        custom = self.j.custom_strings(positions)
        found: dict[str, list[dict]] = {}
        while True:
            try:
                found = find_by_custom_string(
                    self.session,
                    self.ch.name,
                    [custom[p] for p in positions],
                    workers=self.client.max_workers,
                )
            except ApiError as exc:
                # Cannot tell: the rows stay in flight for the next run to resolve.
                self.j.note(batch, "lookup_failed", str(exc))
                self.halt(f"could not look up an unanswered request in the history: {exc}")
                return
            wait_more = started + self.settle - time.time()
            if found or wait_more <= 0:
                break
            time.sleep(wait_more)
        if not found:
            self.j.release(batch, f"not taken by the API ({reason})")
            self.j.note(batch, "resolved_not_taken", reason)
            self.event("batch_resolved", batch=batch, taken=False, positions=positions)
            self._count_tries(positions, reason)
            if not self.stop.is_set():
                self._backoff(positions)
            return
        outcomes = []
        missing = []
        for p in positions:
            recs = found.get(custom[p].lower())
            if not recs:
                missing.append(p)
                continue
            rec = recs[0]
            error = None
            if len(recs) > 1:
                ids = ", ".join(str(r.get("message_id")) for r in recs)
                error = f"DUPLICATE: {len(recs)} messages in the history ({ids})"
            outcomes.append(
                (p, "sent", rec.get("message_id"), "SUCCESS", _money(rec, "message_price"), error)
            )
        if missing:
            outcomes.extend(self.explain_missing(missing, custom))
        self.j.record(batch, outcomes, via="lookup", batch_state="resolved", outcome=reason)
        self.j.note(batch, "resolved_taken", {"found": len(positions) - len(missing)})
        self._advance(sum(1 for o in outcomes if o[1] in ("sent", "rejected", "unconfirmed")))
        self.event("batch_resolved", batch=batch, taken=True, positions=positions)
        if any(o[1] == "no_credit" for o in outcomes):
            self.halt("INSUFFICIENT_CREDIT: the account ran out of credit")

    def explain_missing(self, positions: list[int], custom: dict[int, str]) -> list[tuple]:
        """Rows of a request the API took but that are not in the history: price them to
        learn whether the API refuses them (then the send refused them too)."""
        messages = self.ch.messages(self.cols, positions, [custom[p] for p in positions])
        try:
            data = self.session.post(
                self.ch.price_path, self.ch.payload(messages, self.media_url), idempotent=True
            )
            priced = (data or {}).get("messages") or []
        except ApiError:
            priced = []
        balance = None
        out = []
        for i, p in enumerate(positions):
            status = str(priced[i].get("status") or "") if i < len(priced) else ""
            if status and status != "SUCCESS":
                out.append((p, "rejected", None, status, None, f"{status} (found by pricing)"))
                continue
            if status == "SUCCESS":
                if balance is None:
                    balance = self._balance()
                price = _money(priced[i]) or 0.0
                if balance is not None and price > balance:
                    out.append((p, "no_credit", None, "INSUFFICIENT_CREDIT", None, "no credit"))
                    continue
            out.append(
                (
                    p,
                    "unconfirmed",
                    None,
                    "UNCONFIRMED",
                    None,
                    "the API took the request but this message is not in the history (a "
                    "test number?); not sent again",
                )
            )
        return out

    def _balance(self) -> float | None:
        try:
            from requests_cache import DO_NOT_CACHE

            data = self.session.get("/account", expire_after=DO_NOT_CACHE)
            return float(data.get("balance"))
        except (ApiError, TypeError, ValueError, AttributeError):
            return None

    # -- the result -------------------------------------------------------------------------
    def outcomes(self) -> pd.DataFrame:
        snap = self.j.snapshot()
        n = len(self.plan)
        code = snap["state"]
        state = np.asarray(STATES, dtype=object)[code]
        outcome = pd.Categorical.from_codes(_OUTCOME_CODES[code], categories=OUTCOMES)
        status = snap["status"]
        status[state == "pending"] = "NOT_SENT"
        unconfirmed = (state == "unconfirmed") & pd.isna(status)
        status[(state == "inflight") | unconfirmed] = "UNCONFIRMED"
        error = snap["error"]
        if self.stopped:
            unsettled = (state == "pending") & pd.isna(error)
            error[unsettled] = f"not sent: the run stopped ({self.stopped})"
        error[state == "inflight"] = (
            "request unanswered and not yet resolved: rerun with this journal"
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
        assert len(result) == n
        counts = result["outcome"].value_counts().to_dict()
        result.attrs.update(
            {
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
        return float(rec.get(field))
    except (TypeError, ValueError):
        return None
