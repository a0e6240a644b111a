"""Delivery outcomes of every channel, and the delivery of MMS, voice calls and faxes
sent through the sandbox (``msg_rows``).

SMS outcomes (:data:`OUTCOMES`, :func:`pick_outcome`): see ``lifecycle.py``, which queues
every channel's deliveries. The lifecycle (``lifecycle.py``) calls :func:`deliver` for the other channels: a sent
message moves from ``Sent`` to ``Completed`` or ``Failed`` with the codes its channel's
seeded history uses, and gets a receipt where the reference has one:

======== ======================== ========================================= ================
channel  delivered (share)        failures (share of the rest)              receipt
======== ======================== ========================================= ================
mms      201 (as SMS, by country) 301 / 302 / 303 (as SMS)                  ``/sms/receipts``
voice    201 ``Delivered`` (85 %) 301 No answer 40, 302 Busy 30,            ``/voice/receipts``
                                  303 Invalid number 15, 304 Call rejected 15
fax      201 ``Delivered`` (88 %) 301 No answer 40, 302 Busy 30,            ``/fax/receipts``
                                  303 Not a fax machine 15, 304 Line dropped 15
======== ======================== ========================================= ================

MMS receipts are SMS receipts with ``message_type``/``_message_type`` ``mms``: the
reference has no MMS receipt endpoint and keeps "SMS & MMS" delivery reports together.
A delivered voice call asking for a keypress (``require_input``) gets ``digits`` 1 (80 %)
or 2 in 70 % of calls; answering-machine detection marks 25 % ``machine_detected``.
Every draw depends only on the seed, the channel and the message id.

Example::

    receipts = deliver(store, "voice", [(row_id, message_id)], when=store.clock.now())
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from csframe.sandbox import models_messages as mm
from csframe.sandbox.models import Store

# name -> (history status, status_code, status_text, error_code, error_text)
OUTCOMES: dict[str, tuple[str, str, str, str | None, str | None]] = {
    "Delivered": ("Completed", "201", "Success: Message received on handset.", None, None),
    "Undelivered": (
        "Failed",
        "301",
        "Undeliverable",
        "301",
        "Unknown subscriber: the number is not allocated",
    ),
    "Expired": (
        "Failed",
        "302",
        "Expired",
        "302",
        "Message expired: handset switched off or out of coverage",
    ),
    "Failed": (
        "Failed",
        "303",
        "Rejected by carrier",
        "303",
        "Carrier rejected the message (content filter)",
    ),
}
# Delivered share by destination (the rest split 50/30/20 between Undelivered, Expired, Failed).
DELIVERED_BY_COUNTRY = {"AU": 0.96, "NZ": 0.95, "GB": 0.94, "US": 0.92, "CA": 0.92}
DELIVERED_OTHER = 0.88


def outcome_shares(country: str, sender: str) -> dict[str, float]:
    """The outcome probabilities of one message.

    North American carriers filter alphanumeric senders (half the deliveries fail there).

    Example::

        >>> round(outcome_shares("AU", "+61481070000")["Delivered"], 2)
        0.96
    """
    delivered = DELIVERED_BY_COUNTRY.get(country, DELIVERED_OTHER)
    alpha = any(c.isalpha() for c in sender)
    if alpha and country in ("US", "CA"):
        delivered /= 2
    rest = 1 - delivered
    return {
        "Delivered": delivered,
        "Undelivered": rest * 0.5,
        "Expired": rest * 0.3,
        "Failed": rest * 0.2,
    }


def pick_outcome(seed: int, message_id: str, country: str, sender: str) -> str:
    """The outcome of one message: the same for the same seed and message id."""
    digest = hashlib.blake2b(f"{seed}:{message_id}".encode(), digest_size=8).digest()
    u = int.from_bytes(digest, "big") / 2**64
    acc = 0.0
    shares = outcome_shares(country, sender)
    for name, p in shares.items():
        acc += p
        if u < acc:
            return name
    return "Delivered"


# (status_code, status_text, share of the failures)
VOICE_FAILURES = (
    ("301", "No answer", 0.40),
    ("302", "Busy", 0.30),
    ("303", "Invalid number", 0.15),
    ("304", "Call rejected", 0.15),
)
FAX_FAILURES = (
    ("301", "No answer", 0.40),
    ("302", "Busy", 0.30),
    ("303", "Not a fax machine", 0.15),
    ("304", "Line dropped during transmission", 0.15),
)
DELIVERED = {"voice": 0.85, "fax": 0.88}
CHANNELS = ("mms", "voice", "fax")
# The receipt inbox of each channel (MMS share the SMS one).
RECEIPT_CHANNEL = {"mms": "sms", "voice": "voice", "fax": "fax"}


def draw(seed: int, key: str) -> float:
    """A uniform number in [0, 1) fixed by the seed and ``key``."""
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def voice_or_fax_outcome(channel: str, seed: int, message_id: str) -> tuple[str, str, str]:
    """``(status, status_code, status_text)`` of a voice call or fax.

    Example::

        >>> voice_or_fax_outcome("fax", 42, "X")[0] in ("Completed", "Failed")
        True
    """
    u = draw(seed, f"{channel}:{message_id}")
    delivered = DELIVERED[channel]
    if u < delivered:
        return "Completed", "201", "Delivered"
    u = (u - delivered) / (1 - delivered)
    acc = 0.0
    failures = VOICE_FAILURES if channel == "voice" else FAX_FAILURES
    for code, text, share in failures:
        acc += share
        if u < acc:
            return "Failed", code, text
    return "Failed", failures[-1][0], failures[-1][1]


def mms_receipt_record(rec: dict[str, Any], timestamp: int) -> dict[str, Any]:
    """The receipt of an MMS history record: an SMS receipt (OpenAPI ``sms_receipt``)
    whose message type is ``mms``."""
    out = mm.sms_receipt_record(
        {**rec, "date": rec["date_added"], "custom_string": rec["custom_string"] or None},
        timestamp,
    )
    out["error_text"] = rec["error_text"] or None
    out["message_type"] = out["_message_type"] = "mms"
    return out


def _moved(channel: str, rec: dict[str, Any], seed: int) -> dict[str, Any]:
    """The record after delivery (or failure)."""
    mid = rec["message_id"]
    if channel == "mms":
        status, code, text, err, err_text = OUTCOMES[
            pick_outcome(seed, mid, rec["country"], rec["from"])
        ]
        return {
            **rec,
            "status": status,
            "status_code": code,
            "status_text": text,
            "error_code": err,
            "error_text": err_text or "",
        }
    status, code, text = voice_or_fax_outcome(channel, seed, mid)
    out = {**rec, "status": status, "status_code": code, "status_text": text}
    if channel == "voice" and status == "Completed":
        if rec.get("require_input") and draw(seed, f"digits:{mid}") < 0.7:
            out["digits"] = "1" if draw(seed, f"key:{mid}") < 0.8 else "2"
        if rec.get("machine_detection"):
            out["machine_detected"] = int(draw(seed, f"machine:{mid}") < 0.25)
    return out


def receipt_record(channel: str, rec: dict[str, Any], timestamp: int) -> dict[str, Any]:
    """The receipt a delivered or failed message of ``channel`` gets."""
    if channel == "mms":
        return mms_receipt_record(rec, timestamp)
    if channel == "voice":
        return mm.voice_receipt_record(rec, timestamp)
    return mm.fax_receipt_record(rec, timestamp)


def deliver(
    store: Store, channel: str, items: list[tuple[int, str]], when: int
) -> list[dict[str, Any]]:
    """Move the ``Sent`` rows ``items`` (``(msg_rows.id, message_id)``) of ``channel`` on,
    inside the caller's transaction (under the store lock); returns the receipt rows
    appended (their ``json`` is the receipt record)."""
    st = mm.state(store)
    db = store.db
    wanted = dict(items)
    ids = list(wanted)
    found: list[tuple[int, bytes]] = []
    for a in range(0, len(ids), 900):  # SQLite's bound-parameter limit
        chunk = ids[a : a + 900]
        found += db.execute(
            f"SELECT id, json FROM msg_rows WHERE id IN ({','.join('?' * len(chunk))}) "
            "AND channel=? AND status='Sent' ORDER BY id",
            [*chunk, channel],
        ).fetchall()
    updates, receipts = [], []
    for row_id, js in found:
        rec = orjson.loads(js)
        if rec["message_id"] != wanted[row_id]:  # the row was replaced (after a reset)
            continue
        rec = _moved(channel, rec, store.seed_value)
        updates.append((rec["status"], orjson.dumps(rec), row_id))
        receipts.append(
            {
                "channel": RECEIPT_CHANNEL[channel],
                "user_id": rec["user_id"],
                "subaccount_id": rec["subaccount_id"],
                "date": when,
                "read": 0,
                # MMS receipts live among the SMS ones, which derive from sms.id: no link
                "src_id": None if channel == "mms" else row_id,
                "message_id": rec["message_id"],
                "json": orjson.dumps(receipt_record(channel, rec, when)),
            }
        )
    db.executemany("UPDATE msg_rows SET status=?, json=? WHERE id=?", updates)
    st.receipts.append(receipts)
    return receipts


# what a released row's status_text says, per channel
_RELEASED_TEXT = {
    "sms": "Sent to carrier",
    "mms": "Sent to carrier",
    "voice": "Queued for calling",
    "fax": "Sending",
}


def table_of(channel: str) -> str:
    """The table a channel's sent messages live in: ``sms``, or ``msg_rows`` for the rest."""
    if channel == "sms":
        return "sms"
    if channel in CHANNELS:
        return "msg_rows"
    raise ValueError(f"no delivery for channel {channel!r}")


def release(store: Store, channel: str, items: list[tuple[int, str]]) -> list[int]:
    """Scheduled -> Sent for rows still ``Scheduled`` (a cancelled one stays cancelled), in
    ``sms`` for SMS and ``msg_rows`` for the other channels; returns the ids released."""
    text = _RELEASED_TEXT[channel]
    table = table_of(channel)
    out = []
    with store.transaction() as db:
        for row_id, mid in items:
            got = db.execute(
                f"SELECT json, price_micros FROM {table} "
                "WHERE id=? AND message_id=? AND status='Scheduled'",
                (row_id, mid),
            ).fetchone()
            if got is None:
                continue
            mm.remember_seeded(store, table, row_id, "Scheduled", got[1], got[0])
            rec = orjson.loads(got[0])
            rec.update(status="Sent", status_text=text)
            db.execute(
                f"UPDATE {table} SET status='Sent', json=? WHERE id=?", (orjson.dumps(rec), row_id)
            )
            out.append(row_id)
    return out
