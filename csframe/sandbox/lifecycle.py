"""What happens to a message after it was queued: delivery (or not), receipts, webhooks,
opt-outs, replies.

A message sent through the API (``POST /sms/send``, an SMS campaign) is stored ``Sent``
and moves on ``delivery_delay_s`` seconds later (wall clock; 0 = in the same request):
to ``Completed`` (delivered) or ``Failed`` (undelivered, expired, rejected), with the
``status_code``/``status_text``/``error_code``/``error_text`` of :data:`OUTCOMES`, and a
delivery receipt in ``GET /sms/receipts`` dated when it moved. Which outcome a message
gets is drawn from its message id and the seed (reruns agree), with shares that depend
on the destination country and the sender type (:func:`outcome_shares`).

MMS, voice calls and faxes go through the same queue and are moved on by ``delivery.py``
(their channels' codes and receipts). Messages with a future ``schedule`` -- sent, or
seeded (:meth:`Lifecycle.watch_scheduled`) -- are released when sandbox time reaches it.
Receipts and inbound SMS are pushed to the account's loopback ``URL`` automation rules
(:class:`Pusher`, retried).

Deliveries are made by a daemon thread that sleeps until the next one is due, and also
at the start of every /v3 request (:meth:`Lifecycle.flush_due`), so a client that polls
right after the delay sees the new status without racing the thread.

Opt-outs: a number is opted out of an account when it is on the account's opt-out list
(the contact list named "Opt-outs") or sent the account an opt-out reply (``STOP``...).
Sends to it are ``BLOCKED`` (see ``responses/sms.py``). :meth:`Lifecycle.inbound` stores a
reply as ClickSend would receive it (``sb.inbound(from_, to, body)``).

Example::

    lc = of(store)
    lc.configure({"delivery_delay_s": 0.5})
    lc.sent([sms_row_id, ...])        # after the send committed (Store.insert_sms's ids)
    lc.flush_due()                    # deliver what is due now
"""

from __future__ import annotations

import hashlib
import heapq
import ipaddress
import sqlite3
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import weakref
from dataclasses import asdict, dataclass, fields
from typing import Any

import orjson

from csframe.sandbox import billing, delivery
from csframe.sandbox import models_collections as coll
from csframe.sandbox import models_messages as mm
from csframe.sandbox.delivery import OUTCOMES, outcome_shares, pick_outcome
from csframe.sandbox.models import Store
from csframe.sandbox.pricing import NumberError, normalise_number

__all__ = ["OUTCOMES", "Behaviour", "Lifecycle", "inbound", "of", "opted_out", "outcome_shares"]

DEFAULT_DELIVERY_DELAY_S = 5.0
DEFAULT_REPLY_RATE = 0.02
# Spontaneous replies: one in five is an opt-out (it then blocks later sends).
REPLY_BODIES = ("Thanks!", "Yes please", "STOP", "Who is this?", "ok")


@dataclass
class Behaviour:
    """The lifecycle settings (``running(delivery_delay_s=...)``, ``sb.set_behaviour``)."""

    delivery_delay_s: float = DEFAULT_DELIVERY_DELAY_S
    # Messages per second one account may queue (a token bucket, burst = one second's
    # worth, at least 1); beyond it a message is THROTTLED. 0 = no limit.
    throttle_rate: float = 0.0
    # An identical body to the same recipient within this many seconds is THROTTLED (the
    # reference's definition of THROTTLED). 0 = off.
    throttle_duplicates_s: float = 0.0
    # Receipt pushes to loopback URL rules: attempts per receipt, and the first retry's
    # delay (doubling after each failure).
    webhook_attempts: float = 5
    webhook_retry_s: float = 0.5
    # Share of delivered messages answered by their recipient at delivery time (drawn per
    # message id); REPLY_BODIES decides which replies are opt-outs (1 in 5).
    reply_rate: float = DEFAULT_REPLY_RATE
    # Share of SMS failed for a number not in service (billing.REFUND_CODES) that are
    # refunded: usage bills them at 0, history keeps their price (see billing.py).
    refund_share: float = billing.DEFAULT_REFUND_SHARE

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Behaviour:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown behaviour setting(s) {unknown}; known: {sorted(known)}")
        out = cls()
        for name, value in values.items():
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number, got {value!r}")
            if value < 0 or value != value:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
            setattr(out, name, float(value))
        for share in ("reply_rate", "refund_share"):
            if getattr(out, share) > 1:
                raise ValueError(f"{share} must be between 0 and 1")
        if out.webhook_attempts < 1:
            raise ValueError("webhook_attempts must be >= 1")
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Lifecycle:
    """Pending deliveries of one store, and the thread that makes them."""

    def __init__(self, store: Store, behaviour: Behaviour | None = None) -> None:
        self.store = store
        self.behaviour = behaviour or Behaviour()
        # (due monotonic, channel, row id: sms.id or msg_rows.id, message_id)
        self._pending: list[tuple[float, str, int, str]] = []
        self._scheduled: list[tuple[float, str, int, str]] = []  # the same, scheduled sends
        self._inflight = 0  # taken off the queues, not committed yet
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.delivered = 0  # count, for stats and tests
        self._buckets: dict[int, tuple[float, float]] = {}  # user_id -> (tokens, monotonic)
        self._recent: dict[tuple[int, str, str], float] = {}  # (user, to, body) -> monotonic
        self._throttle_lock = threading.Lock()
        self.webhooks = Pusher(lambda: self.behaviour)
        self.opt_out_cache: dict[Any, tuple[Any, set[str]]] = {}  # see opted_out()
        self._watch_since: int | None = None  # see watch_scheduled()
        store.reset_hooks.append(lambda _store: self._clear())

    # ------------------------------------------------------------------ settings

    def configure(self, values: dict[str, Any]) -> Behaviour:
        """Replace the settings (missing keys take their defaults)."""
        self.behaviour = Behaviour.from_dict(values)
        with self._throttle_lock:
            self._buckets.clear()
        with self._cond:
            self._cond.notify_all()
        return self.behaviour

    # ------------------------------------------------------------------ throttling

    def throttled(self, user_id: int, to: str, body: str) -> bool:
        """Whether queueing this message now is THROTTLED (and if not, count it)."""
        b = self.behaviour
        if not b.throttle_rate and not b.throttle_duplicates_s:
            return False
        now = time.monotonic()
        with self._throttle_lock:
            key = (user_id, to, body)
            if b.throttle_duplicates_s:
                last = self._recent.get(key)
                if last is not None and now - last < b.throttle_duplicates_s:
                    return True
            if b.throttle_rate:
                burst = max(1.0, b.throttle_rate)
                tokens, then = self._buckets.get(user_id, (burst, now))
                tokens = min(burst, tokens + (now - then) * b.throttle_rate)
                if tokens < 1:
                    self._buckets[user_id] = (tokens, now)
                    return True
                self._buckets[user_id] = (tokens - 1, now)
            if b.throttle_duplicates_s:
                if len(self._recent) > 100_000:  # forget the old ones now and then
                    horizon = now - b.throttle_duplicates_s
                    self._recent = {k: t for k, t in self._recent.items() if t >= horizon}
                self._recent[key] = now
        return False

    # ------------------------------------------------------------------ deliveries

    def sent(self, row_ids: list[int], channel: str = "sms") -> None:
        """Schedule the delivery of messages just committed as ``Sent``: SMS (their
        ``sms.id``, as :meth:`Store.insert_sms` returns them) or MMS/voice/fax (their
        ``msg_rows.id``, ``channel`` naming it); a primary-key lookup at any scale."""
        if not row_ids:
            return
        table = delivery.table_of(channel)
        with self.store._lock:
            marks = ",".join("?" * len(row_ids))
            rows = self.store.db.execute(
                f"SELECT id, message_id FROM {table} WHERE id IN ({marks}) AND status='Sent'",
                row_ids,
            ).fetchall()
        due = time.monotonic() + self.behaviour.delivery_delay_s
        with self._cond:
            for row_id, mid in rows:
                heapq.heappush(self._pending, (due, channel, row_id, mid))
            self._ensure_thread()
            self._cond.notify_all()
        if self.behaviour.delivery_delay_s == 0:
            self.flush_due()

    def scheduled(self, row_ids: list[int], channel: str = "sms") -> None:
        """Schedule the release of messages just committed as ``Scheduled`` (ids as in
        :meth:`sent`): when sandbox time reaches their ``schedule`` they become ``Sent``
        and are delivered like any other (unless cancelled first)."""
        if not row_ids:
            return
        table = delivery.table_of(channel)
        with self.store._lock:
            marks = ",".join("?" * len(row_ids))
            rows = self.store.db.execute(
                f"SELECT id, message_id, json FROM {table} "
                f"WHERE id IN ({marks}) AND status='Scheduled'",
                row_ids,
            ).fetchall()
            now_sandbox = self.store.clock.now()
        now = time.monotonic()
        with self._cond:
            for row_id, mid, js in rows:
                wait = max(0, int(orjson.loads(js)["schedule"]) - now_sandbox)
                heapq.heappush(self._scheduled, (now + wait, channel, row_id, mid))
            self._ensure_thread()
            self._cond.notify_all()

    def pending(self) -> int:
        """Messages sent through the API and not delivered yet: waiting for the delay, for
        their schedule, or being delivered right now (seeded ``Scheduled`` rows, which may
        wait for days, are not counted: see :meth:`scheduled_count`)."""
        seeded = mm.state(self.store).snapshot_max
        with self._cond:
            sent_later = sum(
                1
                for _, ch, row_id, _ in self._scheduled
                if row_id > seeded.get(delivery.table_of(ch), 0)
            )
            return len(self._pending) + sent_later + self._inflight

    def scheduled_count(self) -> int:
        """Messages waiting for their schedule, seeded ones included."""
        with self._cond:
            return len(self._scheduled)

    def flush_due(self) -> int:
        """Release the scheduled sends that are due, then deliver every message that is
        due now; returns how many were delivered."""
        now = time.monotonic()
        with self._cond:
            released = []
            while self._scheduled and self._scheduled[0][0] <= now:
                released.append(heapq.heappop(self._scheduled))
            self._inflight += len(released)
        if released:
            try:
                for channel, items in _by_channel(released).items():
                    self._release(channel, items)
            finally:
                with self._cond:
                    self._inflight -= len(released)
        with self._cond:
            if not self._pending or self._pending[0][0] > now:
                return 0
            due = []
            while self._pending and self._pending[0][0] <= now:
                due.append(heapq.heappop(self._pending))
            self._inflight += len(due)
        try:
            moved = 0
            for channel, items in _by_channel(due).items():
                if channel == "sms":
                    moved += self._deliver(items)
                else:
                    moved += self._deliver_other(channel, items)
            return moved
        finally:
            with self._cond:
                self._inflight -= len(due)

    def _release(self, channel: str, items: list[tuple[int, str]]) -> None:
        """Scheduled -> Sent (still Scheduled only: a cancelled one stays cancelled)."""
        self.sent(delivery.release(self.store, channel, items), channel)

    def _deliver_other(self, channel: str, items: list[tuple[int, str]]) -> int:
        """MMS, voice and fax (see ``delivery.py``): status, receipt, pushes."""
        store = self.store
        with store._lock:
            if channel == "mms":  # MMS receipts join the SMS inbox: derive SMS ones first
                mm.sync_sms_receipts(store)
            with store.transaction():
                receipts = delivery.deliver(store, channel, items, store.clock.now())
            pushes = self._pushes(receipts)
        self.delivered += len(receipts)
        for url, payload in pushes:
            self.webhooks.push(url, payload)
        return len(receipts)

    def _deliver(self, items: list[tuple[int, str]]) -> int:
        store = self.store
        st = mm.state(store)
        moved = 0
        with store._lock:
            # Receipts of seeded rows are derived lazily; derive them first so this
            # delivery's receipt is not derived a second time later.
            mm.sync_sms_receipts(store)
            when = store.clock.now()
            with store.transaction() as db:
                receipts = []
                replies: list[tuple[dict[str, Any], str]] = []
                updates = []
                refunds: dict[int, int] = {}  # user_id -> micros credited back
                wanted = dict(items)  # sms.id -> message_id
                found: list[tuple[int, bytes, int]] = []
                ids = list(wanted)
                for a in range(0, len(ids), 900):  # SQLite's bound-parameter limit
                    chunk = ids[a : a + 900]
                    found += db.execute(
                        f"SELECT id, json, price_micros FROM sms WHERE id IN ({','.join('?' * len(chunk))}) "
                        "AND status='Sent' ORDER BY id",
                        chunk,
                    ).fetchall()
                for row_id, js, price in found:
                    rec = orjson.loads(js)
                    mid = rec["message_id"]
                    if mid != wanted[row_id]:  # the row was replaced (after a reset)
                        continue
                    name = pick_outcome(store.seed_value, mid, rec["country"], rec["from"])
                    status, code, text, err, err_text = OUTCOMES[name]
                    rec.update(
                        status=status,
                        status_code=code,
                        status_text=text,
                        error_code=err,
                        error_text=err_text,
                    )
                    updates.append((status, orjson.dumps(rec), row_id))
                    if billing.is_refunded(store.seed_value, mid, err, self.behaviour.refund_share):
                        refunds[rec["user_id"]] = refunds.get(rec["user_id"], 0) + price
                    receipts.append(
                        {
                            "channel": "sms",
                            "user_id": rec["user_id"],
                            "subaccount_id": rec["subaccount_id"],
                            "date": when,
                            "read": 0,
                            "src_id": row_id,
                            "message_id": mid,
                            "json": orjson.dumps(mm.sms_receipt_record(rec, when)),
                        }
                    )
                    moved += 1
                    reply = self._reply(mid)
                    if reply is not None:
                        replies.append((rec, reply))
                db.executemany("UPDATE sms SET status=?, json=? WHERE id=?", updates)
                store.debit({uid: -micros for uid, micros in refunds.items()})
                st.receipts.append(receipts)
                for rec, body in replies:
                    inbound(store, rec["to"], rec["from"], body, rec["user_id"])
            pushes = self._pushes(receipts)
        self.delivered += moved
        for url, payload in pushes:
            self.webhooks.push(url, payload)
        return moved

    def _reply(self, message_id: str) -> str | None:
        """The body of the recipient's spontaneous reply to a delivered message, if any."""
        rate = self.behaviour.reply_rate
        if not rate:
            return None
        key = f"reply:{self.store.seed_value}:{message_id}".encode()
        u = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") / 2**64
        if u >= rate:
            return None
        return REPLY_BODIES[int(u / rate * len(REPLY_BODIES)) % len(REPLY_BODIES)]

    def _pushes(self, receipts: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
        """(url, payload) of every receipt for every enabled loopback URL receipt rule of
        its account and channel (SMS and MMS: the SMS rules; voice; fax); other addresses
        are never contacted: the sandbox stays local."""
        out = []
        rules: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for r in receipts:
            rec = orjson.loads(r["json"])
            kind = rec["message_type"]
            key = (RECEIPT_RULES[kind], r["user_id"])
            if key not in rules:
                rules[key] = url_rules(self.store, *key)
            urls = rules[key]
            if not urls:
                continue
            payload = {
                "timestamp_send": rec["timestamp_send"],
                "timestamp": rec["timestamp"],
                "message_id": rec["message_id"],
                "status": "Delivered" if str(rec["status_code"]) == "201" else "Undelivered",
                "status_code": rec["status_code"],
                "status_text": rec["status_text"],
                "error_code": rec["error_code"],
                "error_text": rec["error_text"],
                "custom_string": rec["custom_string"],
                "user_id": r["user_id"],
                "subaccount_id": rec["subaccount_id"],
                "message_type": kind,
            }
            if kind == "voice":
                payload["digits"] = rec["digits"]
            out += [(rule["action_address"], payload) for rule in urls]
        return out

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name="csframe-sandbox-delivery", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                wait = None
                heads = [q[0][0] for q in (self._pending, self._scheduled) if q]
                if heads:
                    wait = max(0.0, min(heads) - time.monotonic())
                if wait is None or wait > 0:
                    self._cond.wait(timeout=wait)
                    continue
            try:
                self.flush_due()
            except sqlite3.ProgrammingError:  # the store was closed under us
                return

    def watch_scheduled(self) -> int:
        """Queue the release of every ``Scheduled`` SMS, MMS and voice call in the store
        (the seeded ones: queued during the last week for later), so they move on when
        sandbox time reaches their ``schedule`` like sends do; returns how many."""
        store = self.store
        if self._watch_since is None:  # the seed queues them during the week before now
            self._watch_since = store.clock.now() - 8 * 86400
        since = self._watch_since
        with store._lock:
            db = store.db
            store._index()
            users = [u for (u,) in db.execute("SELECT user_id FROM users")]
            sms = [
                r
                for u in users
                for (r,) in db.execute(
                    "SELECT id FROM sms INDEXED BY sms_user_date "
                    "WHERE user_id=? AND date>=? AND status='Scheduled'",
                    (u, since),
                )
            ]
            other: dict[str, list[int]] = {}
            if _table_exists(db, "msg_rows"):
                marks = ",".join("?" * len(delivery.CHANNELS))
                for row_id, channel in db.execute(
                    f"SELECT id, channel FROM msg_rows WHERE status='Scheduled' "
                    f"AND channel IN ({marks})",
                    delivery.CHANNELS,
                ):
                    other.setdefault(channel, []).append(row_id)
        self.scheduled(sms)
        for channel, ids in other.items():
            self.scheduled(ids, channel)
        return len(sms) + sum(map(len, other.values()))

    def clock_moved(self) -> None:
        """Sandbox time jumped (``sb.advance_clock``): scheduled releases are timed again,
        those now due at once."""
        with self._cond:
            self._scheduled.clear()
        self.watch_scheduled()
        self.flush_due()

    def _clear(self) -> None:
        with self._cond:
            self._pending.clear()
            self._scheduled.clear()
        with self._throttle_lock:
            self._buckets.clear()
            self._recent.clear()
        self.watch_scheduled()  # the seeded ones are Scheduled again

    def close(self) -> None:
        """Stop the delivery and push threads (pending work is dropped)."""
        with self._cond:
            self._closed = True
            self._pending.clear()
            self._scheduled.clear()
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.webhooks.close()


def _by_channel(entries: list[tuple[float, str, int, str]]) -> dict[str, list[tuple[int, str]]]:
    """Queue entries ``(due, channel, row id, message id)`` grouped by channel."""
    out: dict[str, list[tuple[int, str]]] = {}
    for _, channel, row_id, mid in entries:
        out.setdefault(channel, []).append((row_id, mid))
    return out


# ---------------------------------------------------------------------- webhooks

# The automation collection whose URL rules get a channel's receipts (SMS & MMS share one).
RECEIPT_RULES = {
    "sms": "sms_receipt_rules",
    "mms": "sms_receipt_rules",
    "voice": "voice_receipt_rules",
    "fax": "fax_receipt_rules",
}


def url_rules(store: Store, collection: str, user_id: int) -> list[dict[str, Any]]:
    """The enabled ``URL`` rules of an automation collection whose address is loopback."""
    with store._lock:
        if not _table_exists(store.db, "collection_items"):
            return []
    return [
        rule
        for rule in coll.all_items(store, collection, user_id)
        if rule.get("action") == "URL"
        and str(rule.get("enabled")) == "1"
        and is_loopback_url(str(rule.get("action_address") or ""))
    ]


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` is http(s) to a loopback host (the only webhooks the sandbox calls).

    Example::

        >>> is_loopback_url("http://127.0.0.1:8080/hook"), is_loopback_url("https://acme.example/")
        (True, False)
    """
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Pusher:
    """POSTs receipts (form-encoded, as ClickSend's "URL" rules do) to loopback URLs from a
    daemon thread; a failure (no connection, timeout, non-2xx) is retried after
    ``webhook_retry_s`` seconds, doubling, up to ``webhook_attempts`` attempts in all."""

    def __init__(self, behaviour: Any) -> None:
        self._behaviour = behaviour
        # (due, seq, url, payload, attempt, format)
        self._queue: list[tuple[float, int, str, dict[str, Any], int, str]] = []
        self._seq = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.sent = 0
        self.failed = 0  # receipts given up on
        self.attempts = 0

    def push(self, url: str, payload: dict[str, Any], fmt: str = "post") -> None:
        """Queue one push; ``fmt`` is the rule's ``webhook_type``: ``post`` (form-encoded,
        the default), ``json`` (a JSON body) or ``get`` (a query string)."""
        with self._cond:
            self._seq += 1
            heapq.heappush(self._queue, (time.monotonic(), self._seq, url, payload, 1, fmt))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="csframe-sandbox-webhooks", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def counts(self) -> dict[str, int]:
        with self._cond:
            return {
                "sent": self.sent,
                "failed": self.failed,
                "attempts": self.attempts,
                "queued": len(self._queue),
            }

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (
                    not self._queue or self._queue[0][0] > time.monotonic()
                ):
                    wait = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._cond.wait(timeout=wait)
                if self._closed:
                    return
                _, _, url, payload, attempt, fmt = heapq.heappop(self._queue)
            ok = self._post(url, payload, fmt)
            b = self._behaviour()
            with self._cond:
                self.attempts += 1
                if ok:
                    self.sent += 1
                elif attempt < int(b.webhook_attempts):
                    self._seq += 1
                    due = time.monotonic() + b.webhook_retry_s * 2 ** (attempt - 1)
                    heapq.heappush(self._queue, (due, self._seq, url, payload, attempt + 1, fmt))
                else:
                    self.failed += 1

    @staticmethod
    def _post(url: str, payload: dict[str, Any], fmt: str = "post") -> bool:
        form = urllib.parse.urlencode({k: "" if v is None else v for k, v in payload.items()})
        if fmt == "get":
            sep = "&" if urllib.parse.urlsplit(url).query else "?"
            req = urllib.request.Request(url + sep + form, method="GET")
        elif fmt == "json":
            req = urllib.request.Request(
                url,
                data=orjson.dumps(payload),
                method="POST",
                headers={"Content-Type": "application/json"},
            )
        else:
            req = urllib.request.Request(
                url,
                data=form.encode(),
                method="POST",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return 200 <= resp.status < 300
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)


# ---------------------------------------------------------------------- opt-outs

OPT_OUT_LIST_NAME = "Opt-outs"
# The per-message send status of an opted-out recipient (the reference lists none; see README).
BLOCKED = "BLOCKED"
# How a blocked message reads in history and its receipt (as the seeded ones do).
BLOCKED_OUTCOME = (
    "Failed",
    "304",
    "Blocked",
    "304",
    "Recipient has opted out of messages from this sender",
)


def _table_exists(db: Any, name: str) -> bool:
    return (
        db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone()
        is not None
    )


def opted_out(store: Store, user_id: int) -> set[str]:
    """The E.164 numbers opted out of an account: on its "Opt-outs" contact list, or that
    sent it an opt-out reply (STOP, UNSUBSCRIBE...). Read once per send request.

    Example::

        "+61411000001" in opted_out(store, 48213)
    """
    # Normalising every number of the list costs more than the send itself at scale, so
    # each part is kept while a cheap fingerprint of its rows is unchanged.
    cache = of(store).opt_out_cache
    out: set[str] = set()
    with store._lock:
        db = store.db
        if _table_exists(db, "contacts"):
            lists = (
                "SELECT list_id FROM contact_lists WHERE user_id=? AND list_name=? COLLATE NOCASE"
            )
            args = (user_id, OPT_OUT_LIST_NAME)
            # The rows' numbers and countries themselves (cheap next to normalising them).
            mark = db.execute(
                "SELECT group_concat(contact_id || ':' || coalesce(phone_number, '') || ':' "
                f"|| coalesce(address_country, ''), ',') FROM contacts WHERE list_id IN ({lists})",
                args,
            ).fetchone()
            key = ("contacts", user_id)
            if cache.get(key, (None,))[0] != mark:
                numbers = set()
                for phone, country in db.execute(
                    f"SELECT phone_number, address_country FROM contacts WHERE list_id IN ({lists})",
                    args,
                ):
                    hint = country if country and len(country) == 2 else "AU"
                    try:
                        numbers.add(normalise_number(phone, hint)[0])
                    except NumberError:
                        continue
                cache[key] = (mark, numbers)
            out |= cache[key][1]
        if _table_exists(db, "msg_inbound"):
            mark = db.execute("SELECT count(*), max(id) FROM msg_inbound").fetchone()
            key = ("inbound", user_id)
            if cache.get(key, (None,))[0] != mark:
                stops = {
                    r[0]
                    for r in db.execute(
                        "SELECT DISTINCT from_ FROM msg_inbound WHERE user_id=? AND opt_out=1",
                        (user_id,),
                    )
                }
                cache[key] = (mark, stops)
            out |= cache[key][1]
    return out


def inbound(
    store: Store, from_: str, to: str, body: str, user_id: int | None = None
) -> dict[str, Any]:
    """Store an inbound SMS (a reply, or an opt-out) as if it had just arrived.

    It belongs to the account that last sent an SMS to ``from_`` from ``to`` (or to
    ``from_`` at all), else to ``user_id`` (default: the main account); it replies to that
    message. Returns the inbound record (``GET /sms/inbound`` shows it).

    Example::

        inbound(store, "+61411000001", "+61481070000", "STOP")
    """
    try:
        sender = normalise_number(from_, "AU")[0]
    except NumberError:
        raise ValueError(f"from_ is not a phone number: {from_!r}") from None
    if not isinstance(body, str) or not body.strip():
        raise ValueError("body must be a non-empty string")
    st = mm.state(store)
    with store._lock:
        db = store.db
        store._ensure_index("to")
        last = (
            "SELECT user_id, subaccount_id, message_id, body, custom_string FROM sms "
            "WHERE to_=? COLLATE NOCASE {} ORDER BY date DESC, id DESC LIMIT 1"
        )
        original = (
            db.execute(last.format("AND from_=?"), (sender, str(to))).fetchone()
            or db.execute(last.format(""), (sender,)).fetchone()
        )
        if original is not None and (user_id is None or original[0] == user_id):
            uid, sid, orig_id, orig_body, custom = original
        else:
            uid = user_id if user_id is not None else _main_user(store)
            sid = db.execute(
                "SELECT subaccount_id FROM subaccounts WHERE user_id=? AND is_main=1", (uid,)
            ).fetchone()
            if sid is None:
                raise ValueError(f"no account with user_id {uid}")
            sid, orig_id, orig_body, custom = sid[0], "", "", None
        now = store.clock.now()
        rec = mm.inbound_record(
            timestamp=now,
            sender=sender,
            body=body,
            original_body=orig_body,
            original_message_id=orig_id,
            to=str(to),
            custom_string=custom,
            message_id=store.new_message_id(),
        )
        row = {
            "channel": "sms",
            "user_id": uid,
            "subaccount_id": sid,
            "date": now,
            "read": 0,
            "message_id": rec["message_id"],
            "original_message_id": orig_id,
            "from_": sender,
            "to_": str(to),
            "body": body,
            "opt_out": int(mm.is_opt_out(body)),
            "json": orjson.dumps(rec),
        }
        mm.insert_rows(store, st.inbound, [row])
    pusher = of(store).webhooks
    for rule in inbound_rules(store, uid, str(to), body):
        payload = {
            "timestamp": now,
            "to": str(to),
            "from": sender,
            "body": body,
            "original_body": orig_body,
            "original_message_id": orig_id,
            "custom_string": custom or "",
            "user_id": uid,
            "subaccount_id": sid,
            "message_id": rec["message_id"],
        }
        pusher.push(rule["action_address"], payload, str(rule.get("webhook_type") or "post"))
    return {**rec, "opt_out": bool(row["opt_out"]), "user_id": uid}


def inbound_rules(store: Store, user_id: int, to: str, body: str) -> list[dict[str, Any]]:
    """The account's enabled loopback ``URL`` inbound rules that an SMS to ``to`` with
    ``body`` matches: ``dedicated_number`` is ``*`` or ``to`` (as E.164, else as given),
    and ``message_search_type`` 0 any message, 1 starts with, 2 contains, 3 does not
    contain ``message_search_term`` (case-insensitive).

    Example::

        inbound_rules(store, 48213, "+61480000123", "STOP")
    """
    text = body.strip().casefold()
    out = []
    for rule in url_rules(store, "sms_inbound_rules", user_id):
        number = str(rule.get("dedicated_number") or "*").strip()
        if number != "*" and _e164_or_text(number) != _e164_or_text(to):
            continue
        term = str(rule.get("message_search_term") or "").strip().casefold()
        kind = str(rule.get("message_search_type") or "0")
        matched = {
            "1": text.startswith(term),
            "2": term in text,
            "3": term not in text,
        }.get(kind, True)
        if matched:
            out.append(rule)
    return out


def _e164_or_text(number: str) -> str:
    try:
        return normalise_number(number, "AU")[0]
    except NumberError:
        return number.strip()


def _main_user(store: Store) -> int:
    main = store.principal(store.get_meta("accounts")["main"])
    assert main is not None
    return main.user_id


_LIFECYCLES: weakref.WeakKeyDictionary[Store, Lifecycle] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def of(store: Store) -> Lifecycle:
    """The lifecycle of ``store`` (created with default settings on first use)."""
    with _LOCK:
        lc = _LIFECYCLES.get(store)
        if lc is None:
            lc = _LIFECYCLES[store] = Lifecycle(store)
        return lc
