"""Campaigns: SMS, MMS and email campaigns, their messages, and email per-recipient history.

Tables (copied at ``Store.snapshot()``, restored at ``Store.reset()``):

- ``campaigns`` -- one row per campaign (``kind`` = sms | mms | email): the static part
  of its API record as JSON plus what the queries need (account, list, dates, the window
  of its messages, whether it was cancelled). The ``status`` is derived when read:
  ``Cancelled``; ``Scheduled`` while the schedule is in the future; ``Queued`` during
  the first minute after it was sent; ``Sent`` afterwards.
- ``campaign_messages`` -- the message ids of campaigns sent through the API (SMS rows
  in ``sms``, MMS rows in the messages area's ``msg_rows``). Seeded campaigns were
  derived from the seeded bursts instead: their messages are the rows of their list and
  subaccount inside ``[first_date, last_date]`` (:func:`message_ids`).
- ``email_campaign_recipients`` -- one row per recipient of an email campaign: the
  ``/email-campaigns/{id}/history`` record (opens, clicks, bounces, status) as JSON.

Sending expands the list through the contacts area (:func:`models_contacts.list_recipients`)
and personalises the body per contact (:func:`personalise`).

Example::

    recips = sendable_sms(store, 48213, 428)                 # contacts with a usable number
    body = personalise("Hi (First Name)!", recips[0])
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

from csframe.sandbox.models import Store
from csframe.sandbox.models_collections import bulk, track_tables

SCHEMA = """
CREATE TABLE IF NOT EXISTS campaigns (
    kind TEXT NOT NULL,              -- sms | mms | email
    campaign_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    subaccount_id INTEGER NOT NULL,
    list_id INTEGER NOT NULL,
    date_added INTEGER NOT NULL,
    schedule INTEGER NOT NULL,       -- when it goes (= date_added when sent at once)
    cancelled INTEGER NOT NULL DEFAULT 0,
    first_date INTEGER,              -- window of its messages (seeded campaigns)
    last_date INTEGER,
    json BLOB NOT NULL,              -- the static part of the API record
    PRIMARY KEY (kind, campaign_id)
);
CREATE INDEX IF NOT EXISTS campaigns_user ON campaigns(kind, user_id, campaign_id);
CREATE TABLE IF NOT EXISTS campaign_messages (
    kind TEXT NOT NULL,
    campaign_id INTEGER NOT NULL,
    message_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS campaign_messages_id ON campaign_messages(kind, campaign_id);
CREATE TABLE IF NOT EXISTS email_campaign_recipients (
    email_campaign_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,            -- 1-based, in list (contact_id) order
    contact_id INTEGER NOT NULL,
    date INTEGER,                    -- when it was processed (null: not yet)
    status TEXT,
    json BLOB NOT NULL,              -- the history record
    PRIMARY KEY (email_campaign_id, seq)
);
"""
TABLES = ("campaigns", "campaign_messages", "email_campaign_recipients")

MAX_RECIPIENTS = 20_000  # per campaign, as the reference says
QUEUED_SECONDS = 60  # a campaign reads "Queued" this long after it went, then "Sent"
# Per recipient of an email campaign: the transactional email price of the messages area.
EMAIL_PRICE_MICROS = 7_000
PRIVATE = "__"  # record keys starting with this are the sandbox's own (never shown)

# The placeholders of a campaign body, as in the reference's examples ("(First Name)").
PLACEHOLDERS = {
    "(First Name)": "first_name",
    "(Last Name)": "last_name",
    "(Organization Name)": "organization_name",
    "(Custom 1)": "custom_1",
    "(Custom 2)": "custom_2",
    "(Custom 3)": "custom_3",
    "(Custom 4)": "custom_4",
}
_PLACEHOLDER = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS), re.IGNORECASE)
_BY_LOWER = {p.lower(): f for p, f in PLACEHOLDERS.items()}
STOP_LINK = "StopMsg.me/xxxxx"


def setup(store: Store) -> None:
    """Create the tables; reset restores them to the seeded state."""
    with store._lock:
        store.db.executescript(SCHEMA)
    track_tables(store, *TABLES)


# ---------------------------------------------------------------------- recipients


def personalise(body: str, contact: dict[str, Any] | None) -> str:
    """Fill ``(First Name)``-style placeholders (case-insensitive) from a contact.

    Unset fields become empty, as the reference's price example shows
    ("your lastname: ?"). ``StopMsg.me/xxxxx`` becomes a per-contact opt-out link.

    Example::

        >>> personalise("Hi (First Name) (last name)!", {"first_name": "Mia", "contact_id": 7})
        'Hi Mia !'
        >>> personalise("Bye StopMsg.me/xxxxx", {"contact_id": 7})
        'Bye StopMsg.me/fbpbp'
    """
    contact = contact or {}
    out = _PLACEHOLDER.sub(lambda m: str(contact.get(_BY_LOWER[m.group(0).lower()]) or ""), body)
    if STOP_LINK in out:
        out = out.replace(STOP_LINK, "StopMsg.me/" + stop_token(contact.get("contact_id")))
    return out


def stop_token(contact_id: Any) -> str:
    """The 5-character opt-out link token of a contact (deterministic)."""
    n = int(hashlib.sha256(f"stop:{contact_id}".encode()).hexdigest()[:10], 16)
    alphabet = "abcdefghijkmnopqrstuvwxyz23456789"
    return "".join(alphabet[(n // len(alphabet) ** i) % len(alphabet)] for i in range(5))


def list_contacts(store: Store, user_id: int, list_id: int) -> list[dict[str, Any]]:
    """Every contact of one of the account's lists (raises the contacts area's
    NotFound/Forbidden)."""
    from csframe.sandbox import models_contacts

    return models_contacts.list_recipients(store, list_id, user_id)


def list_name(store: Store, user_id: int, list_id: int) -> str:
    """The list's name, or "" (a list deleted since, or no contacts area)."""
    try:
        from csframe.sandbox import models_contacts

        return models_contacts.list_name(store, user_id, list_id)
    except (ImportError, LookupError, PermissionError):
        return ""


def json_fragment(value: str | None) -> str:
    """A JSON string (or null) escaped exactly as orjson does, for pre-rendered rows."""
    return "null" if value is None else orjson.dumps(value).decode()


def clean_email(raw: Any) -> str | None:
    """A contact's email as a campaign addresses it (trimmed, domain lower-cased), or None.

    Example::

        >>> clean_email("  Mia.Smith@Example.COM "), clean_email("nope")
        ('Mia.Smith@example.com', None)
    """
    text = str(raw or "").strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or "." not in domain or " " in text:
        return None
    return f"{local}@{domain.lower()}"


# ---------------------------------------------------------------------- campaigns


def next_campaign_id(store: Store, kind: str, first: int = 1) -> int:
    with store._lock:
        got = store.db.execute(
            "SELECT max(campaign_id) FROM campaigns WHERE kind=?", (kind,)
        ).fetchone()[0]
    return max(first, (got or 0) + 1)


def add_campaigns(store: Store, kind: str, rows: list[dict[str, Any]]) -> None:
    """Insert campaigns: dicts with campaign_id, user_id, subaccount_id, list_id,
    date_added, schedule, first_date, last_date, record (the static API record)."""
    with store._lock:
        bulk(
            store,
            "INSERT INTO campaigns (kind, campaign_id, user_id, subaccount_id, list_id, "
            "date_added, schedule, cancelled, first_date, last_date, json) "
            "VALUES (?,?,?,?,?,?,?,0,?,?,?)",
            [
                (
                    kind,
                    r["campaign_id"],
                    r["user_id"],
                    r["subaccount_id"],
                    r["list_id"],
                    r["date_added"],
                    r["schedule"],
                    r.get("first_date"),
                    r.get("last_date"),
                    orjson.dumps(r["record"]),
                )
                for r in rows
            ],
        )


def link_messages(store: Store, kind: str, campaign_id: int, message_ids: list[str]) -> None:
    with store._lock:
        bulk(
            store,
            "INSERT INTO campaign_messages VALUES (?,?,?)",
            [(kind, campaign_id, m) for m in message_ids],
        )


def status_of(schedule: int, date_added: int, cancelled: bool, now: int) -> str:
    if cancelled:
        return "Cancelled"
    if schedule > now:
        return "Scheduled"
    return "Queued" if now - max(schedule, date_added) < QUEUED_SECONDS else "Sent"


def campaigns(
    store: Store, kind: str, user_id: int, subaccount_id: int | None = None
) -> list[dict[str, Any]]:
    """Every campaign of an account (or one subaccount), in id order, as stored rows:
    ``{"campaign_id", "schedule", "date_added", "cancelled", "list_id", "record", ...}``."""
    sql = (
        "SELECT campaign_id, user_id, subaccount_id, list_id, date_added, schedule, cancelled, "
        "first_date, last_date, json FROM campaigns WHERE kind=? AND user_id=?"
    )
    args: list[Any] = [kind, user_id]
    if subaccount_id is not None:
        sql += " AND subaccount_id=?"
        args.append(subaccount_id)
    with store._lock:
        rows = store.db.execute(sql + " ORDER BY campaign_id", args).fetchall()
    return [_row(r) for r in rows]


def campaign(store: Store, kind: str, user_id: int, campaign_id: int) -> dict[str, Any] | None:
    with store._lock:
        r = store.db.execute(
            "SELECT campaign_id, user_id, subaccount_id, list_id, date_added, schedule, "
            "cancelled, first_date, last_date, json FROM campaigns "
            "WHERE kind=? AND user_id=? AND campaign_id=?",
            (kind, user_id, campaign_id),
        ).fetchone()
    return _row(r) if r else None


def _row(r: tuple[Any, ...]) -> dict[str, Any]:
    keys = ("campaign_id", "user_id", "subaccount_id", "list_id", "date_added", "schedule")
    out = dict(zip(keys, r[:6], strict=True))
    out.update(cancelled=bool(r[6]), first_date=r[7], last_date=r[8], record=orjson.loads(r[9]))
    return out


def save_campaign(store: Store, kind: str, row: dict[str, Any]) -> None:
    """Write back a campaign's mutable parts (record, schedule, list, cancelled)."""
    with store._lock:
        store.db.execute(
            "UPDATE campaigns SET json=?, schedule=?, list_id=?, cancelled=? "
            "WHERE kind=? AND campaign_id=?",
            (
                orjson.dumps(row["record"]),
                row["schedule"],
                row["list_id"],
                int(row["cancelled"]),
                kind,
                row["campaign_id"],
            ),
        )


def message_ids(store: Store, kind: str, row: dict[str, Any]) -> list[str]:
    """The message ids of a campaign (linked ones, or its seeded window), in date order."""
    with store._lock:
        linked = [
            m
            for (m,) in store.db.execute(
                "SELECT message_id FROM campaign_messages WHERE kind=? AND campaign_id=? "
                "ORDER BY rowid",
                (kind, row["campaign_id"]),
            )
        ]
        if linked or row["first_date"] is None:
            return linked
        window = (row["subaccount_id"], row["first_date"], row["last_date"], str(row["list_id"]))
        if kind == "sms":
            return [
                m
                for (m,) in store.db.execute(
                    "SELECT message_id FROM sms INDEXED BY sms_sub_date WHERE subaccount_id=? "
                    "AND date BETWEEN ? AND ? AND list_id=? ORDER BY date, id",
                    window,
                )
            ]
        # MMS bursts of one list are told apart by their subject.
        subject = row["record"].get("subject")
        return [
            m
            for m, js in store.db.execute(
                "SELECT message_id, json FROM msg_rows WHERE channel='mms' AND subaccount_id=? "
                "AND date BETWEEN ? AND ? AND list_id=? ORDER BY date, id",
                window,
            )
            if orjson.loads(js).get("subject") == subject
        ]


# ---------------------------------------------------------------------- email recipients


def add_email_recipients(store: Store, rows: list[tuple[int, int, int, int | None, str | None, bytes]]) -> None:  # fmt: skip
    """Insert ``(email_campaign_id, seq, contact_id, date, status, json)`` rows."""
    with store._lock:
        bulk(store, "INSERT INTO email_campaign_recipients VALUES (?,?,?,?,?,?)", rows)


def email_recipients(
    store: Store,
    campaign_id: int,
    date_from: int | None = None,
    date_to: int | None = None,
    page: int = 1,
    limit: int | None = None,
) -> tuple[int, list[bytes]]:
    """``(total, page of history records as JSON)`` of an email campaign, in list order."""
    clauses, args = ["email_campaign_id=?"], [campaign_id]
    if date_from is not None:
        clauses.append("date>=?")
        args.append(date_from)
    if date_to is not None:
        clauses.append("date<=?")
        args.append(date_to)
    where = " AND ".join(clauses)
    with store._lock:
        total = store.db.execute(
            f"SELECT count(*) FROM email_campaign_recipients WHERE {where}", args
        ).fetchone()[0]
        sql = f"SELECT json FROM email_campaign_recipients WHERE {where} ORDER BY seq"
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int((page - 1) * limit)}"
        rows = [r[0] for r in store.db.execute(sql, args)]
    return total, rows


def email_counts(store: Store, campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per campaign: the counters of its record, summed over its recipients."""
    if not campaign_ids:
        return {}
    marks = ",".join("?" * len(campaign_ids))
    with store._lock:
        rows = store.db.execute(
            "SELECT email_campaign_id, "
            "sum(date IS NOT NULL AND status NOT IN ('HardBounce', 'Cancelled')), "
            "sum(json_extract(json, '$.open_count')), sum(json_extract(json, '$.click_count')), "
            "sum(json_extract(json, '$.hard_bounce_count')), "
            "sum(json_extract(json, '$.soft_bounce_count')), "
            "sum(status = 'SpamReport'), sum(status = 'Unsubscribed') "
            f"FROM email_campaign_recipients WHERE email_campaign_id IN ({marks}) "
            "GROUP BY email_campaign_id",
            campaign_ids,
        ).fetchall()
    keys = (
        "send_count",
        "open_count",
        "click_count",
        "hard_bounce_count",
        "soft_bounce_count",
        "abuse_count",
        "unsubscribe_count",
    )
    out = {cid: dict.fromkeys(keys, 0) for cid in campaign_ids}
    for cid, *values in rows:
        out[cid] = {k: int(v or 0) for k, v in zip(keys, values, strict=True)}
    return out


def set_email_recipients_status(
    store: Store, campaign_id: int, status: str | None, processed: int | None
) -> None:
    """Rewrite the status of every recipient not processed yet (cancel, send now)."""
    with store._lock:
        rows = store.db.execute(
            "SELECT seq, json FROM email_campaign_recipients WHERE email_campaign_id=? "
            "AND date IS NULL",
            (campaign_id,),
        ).fetchall()
        updates = []
        for seq, js in rows:
            rec = orjson.loads(js)
            rec["status"] = status
            if processed is not None:
                rec["processed_at"] = processed_at(processed)
            updates.append((processed, status, orjson.dumps(rec), campaign_id, seq))
        bulk(
            store,
            "UPDATE email_campaign_recipients SET date=?, status=?, json=? "
            "WHERE email_campaign_id=? AND seq=?",
            updates,
        )


def delete_email_recipients(store: Store, campaign_id: int) -> None:
    with store._lock:
        store.db.execute(
            "DELETE FROM email_campaign_recipients WHERE email_campaign_id=?", (campaign_id,)
        )


def processed_at(ts: int) -> str:
    """``processed_at`` of a history record: a UTC datetime string, as Laravel renders them.

    Example::

        >>> processed_at(0)
        '1970-01-01 00:00:00'
    """
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def plain_text(html: str) -> str:
    """The plain-text part of an email campaign's HTML body.

    Example::

        >>> plain_text("<p>Hi <b>there</b></p>")
        'Hi there'
    """
    text = re.sub(r"<(br|/p|/div|/h\d)[^>]*>", "\n", html, flags=re.IGNORECASE)
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
