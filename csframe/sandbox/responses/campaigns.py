"""Campaigns area: SMS, MMS and email campaigns.

- ``POST /sms-campaigns/send|price``, ``GET /sms-campaigns[/{id}]``, ``PUT /sms-campaigns/{id}``,
  ``PUT /sms-campaigns/{id}/cancel``; the same for ``/mms-campaigns`` (the reference reads
  one at ``GET /mms-campaign/{id}``, the OpenAPI at ``/mms-campaigns/{id}``: both work);
  ``/email-campaigns`` plus ``GET /email-campaigns/{id}/history`` (one row per recipient,
  with opens, clicks, bounces and the status) and ``.../history/export`` (a CSV URL).

Sending a campaign expands its list (the contacts area's ``list_recipients``; a list of
more than 20,000 contacts -> 400 TOO_MANY_RECIPIENTS), personalises the body per contact
(``(First Name)``, ``(Last Name)``, ``(Custom 1..4)``, ``(Organization Name)``;
``StopMsg.me/xxxxx`` becomes a per-contact link), prices every message like ``/sms/send``
does, and -- all or nothing -- either answers 400 INSUFFICIENT_CREDIT or queues every
message and debits the balance in one transaction. SMS messages go to ``/sms/history``
(and so to usage and statistics) with the campaign's ``list_id``, the ``contact_id`` and
names of the contact, and the personalised body; MMS messages to ``/mms/history``.
Contacts that cannot receive the channel (no usable number for SMS/MMS, no email for an
email campaign, a destination outside the price list) are skipped; ``_total_count`` is
the number of messages queued. A scheduled campaign queues its messages as ``Scheduled``
at once; cancelling it cancels those still scheduled and refunds them; updating it
cancels them and queues the campaign again with the new fields.

Example::

    POST /v3/sms-campaigns/send {"list_id": 428, "name": "Spring", "body": "Hi (First Name)!"}
    -> data.status "Queued", data._total_count = messages queued; /sms/history has them
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csframe.sandbox import lifecycle
from csframe.sandbox import models_campaigns as mc
from csframe.sandbox import models_collections as coll
from csframe.sandbox.encoding import sms_parts, truncate_parts
from csframe.sandbox.models import Principal, Store, sms_record, sms_row
from csframe.sandbox.pricing import (
    CURRENCY,
    PRICE_MICROS,
    TEST_NUMBERS,
    carrier_for,
    fmt_money,
)
from csframe.sandbox.responses.common import (
    ApiError,
    authenticate,
    endpoint,
    envelope,
    json_body,
    opt_int,
    ordering,
    pagination,
    paging,
    query_records,
    search,
    store_of,
    wants_query,
)

# What q= and order_by= accept on an email campaign's history (a recipient row's keys).
EMAIL_HISTORY_FIELDS = (
    "email_campaign_id", "from_name", "from_address", "to_name", "to_address", "contact_id",
    "subject", "message_id", "processed_at", "status", "open_count", "click_count",
    "hard_bounce_count", "soft_bounce_count",
)  # fmt: skip
SHARED_NUMBER = "+61481070000"  # the /sms/send default sender (responses/sms.py)
_ALPHA_SENDER = re.compile(r"^[A-Za-z0-9]{1,11}$")
_NUMERIC_SENDER = re.compile(r"^\+?\d{3,16}$")
_MEDIA = re.compile(r"^https?://\S+\.(jpe?g|png|gif)(\?\S*)?$", re.IGNORECASE)
ID_FIELD = {"sms": "sms_campaign_id", "mms": "mms_campaign_id", "email": "email_campaign_id"}
PRIVATE = mc.PRIVATE  # record keys starting with this are the sandbox's own
EXPORT_TTL_SECONDS = 600.0


# ---------------------------------------------------------------------- input


def _text(payload: dict[str, Any], name: str) -> str | None:
    value = payload.get(name)
    return None if value is None else str(value)


def _int(payload: dict[str, Any], name: str) -> int | None:
    value = payload.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ApiError(400, "BAD_REQUEST", f"{name} must be an integer.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ApiError(400, "BAD_REQUEST", f"{name} must be an integer.") from None
    if number != int(number):
        raise ApiError(400, "BAD_REQUEST", f"{name} must be an integer.")
    return int(number)


def campaign_input(
    payload: Any, kind: str, now: int, current: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Validated fields of a send/price/update body (``current``: the fields being updated)."""
    if not isinstance(payload, dict):
        raise ApiError(400, "BAD_REQUEST", "The request body must be a JSON object.")
    fields = dict(current or {})
    for name in ("name", "body", "from", "subject", "media_file", "custom_string", "from_name"):
        if payload.get(name) is not None:
            fields[name] = _text(payload, name)
    for name in ("list_id", "from_email_address_id", "template_id"):
        if name in payload and payload[name] is not None:
            fields[name] = _int(payload, name)
    if "schedule" in payload:
        fields["schedule"] = _schedule(payload.get("schedule"), now)
    fields.setdefault("schedule", 0)
    required = ["list_id", "name", "body"]
    if kind == "mms":
        required += ["subject", "media_file"]
    if kind == "email":
        required += ["subject", "from_email_address_id", "from_name"]
    missing = [n for n in required if fields.get(n) is None or str(fields[n]).strip() == ""]
    if "body" in missing and "body" in payload:
        raise ApiError(400, "EMPTY_MESSAGE", "Message is empty.")
    if kind == "mms" and "subject" in missing:
        raise ApiError(400, "SUBJECT_REQUIRED", "The MMS subject is required.")
    if missing:
        raise ApiError(
            400, "MISSING_REQUIRED_FIELDS", f"Missing required fields: {', '.join(missing)}."
        )
    if kind in ("sms", "mms"):
        sender = (fields.get("from") or "").strip()
        if sender and not (_ALPHA_SENDER.match(sender) or _NUMERIC_SENDER.match(sender)):
            raise ApiError(400, "INVALID_SENDER_ID", "Invalid Sender ID.")
        fields["from"] = sender
    if kind == "mms" and not _MEDIA.match(fields["media_file"].strip()):
        raise ApiError(400, "INVALID_MEDIA_FILE", "media_file must be a URL of a jpg, png or gif.")
    return fields


def _schedule(value: Any, now: int) -> int:
    """0 for now, or a future unix time; 400 INVALID_SCHEDULE otherwise."""
    if value in (None, "", 0, "0"):
        return 0
    if isinstance(value, bool):
        raise ApiError(400, "INVALID_SCHEDULE", "The schedule specified is invalid.")
    try:
        ts = int(value)
    except (TypeError, ValueError):
        raise ApiError(400, "INVALID_SCHEDULE", "The schedule specified is invalid.") from None
    if ts < 0:
        raise ApiError(400, "INVALID_SCHEDULE", "The schedule specified is invalid.")
    return ts if ts > now else 0


def _list(store: Store, who: Principal, list_id: int) -> list[dict[str, Any]]:
    from csframe.sandbox import models_contacts

    try:
        contacts = mc.list_contacts(store, who.user_id, list_id)
    except models_contacts.Forbidden:
        raise ApiError(
            403,
            "NOT_ENOUGH_PERMISSION_TO_LIST_ID",
            "Don't have enough privilege to access or send to a list_id.",  # fmt: skip
        ) from None
    except models_contacts.NotFound:  # a body naming a list: the request is wrong, not the URL
        raise ApiError(400, "BAD_REQUEST", f"List #{list_id} not found.") from None
    if len(contacts) > mc.MAX_RECIPIENTS:
        raise ApiError(
            400,
            "TOO_MANY_RECIPIENTS",
            f"Too many recipients. A campaign list can have up to {mc.MAX_RECIPIENTS:,} contacts.",
        )
    return contacts


# ---------------------------------------------------------------------- SMS / MMS messages


def mms_prices() -> dict[str, int]:
    from csframe.sandbox.seed_messages import MMS_PRICE

    return MMS_PRICE


def plan_messages(kind: str, fields: dict[str, Any], contacts: list[dict[str, Any]]) -> list[dict]:
    """One planned message per contact that can receive it: to, body, price, contact."""
    prices = PRICE_MICROS if kind == "sms" else mms_prices()
    out = []
    for c in contacts:
        phone, iso = c.get("phone"), c.get("country")
        if not phone or iso not in prices:
            continue
        body = mc.personalise(fields["body"], c)
        if kind == "sms":
            body = truncate_parts(body)  # cut after MAX_SMS_PARTS, as /sms/send does
        parts = sms_parts(body)[2] if kind == "sms" else 1
        test = phone in TEST_NUMBERS
        out.append(
            {
                "to": phone,
                "country": iso,
                "body": body,
                "parts": parts,
                "price": 0 if test else parts * prices[iso],
                "test": test,
                "contact": c,
            }
        )
    return out


def _sms_rows(
    who: Principal, store: Store, fields: dict[str, Any], plan: list[dict], now: int
) -> list[dict[str, Any]]:
    scheduled = fields["schedule"] > now
    sender = fields["from"] or SHARED_NUMBER
    rows = []
    for m in plan:
        if m["test"]:
            continue
        c = m["contact"]
        rec = sms_record(
            date=now,
            to=m["to"],
            body=m["body"],
            status="Scheduled" if scheduled else "Sent",
            sender=sender,
            schedule=fields["schedule"] or now,
            status_code=None,
            status_text="Scheduled" if scheduled else "Sent to carrier",
            error_code=None,
            error_text=None,
            message_id=store.new_message_id(),
            message_parts=m["parts"],
            message_price=fmt_money(m["price"]),
            list_id=str(fields["list_id"]),
            custom_string=fields.get("custom_string") or None,
            contact_id=str(c["contact_id"]),
            user_id=who.user_id,
            subaccount_id=who.subaccount_id,
            country=m["country"],
            carrier=carrier_for(m["to"], m["country"]),
            first_name=c.get("first_name") or None,
            last_name=c.get("last_name") or None,
            api_username=who.username,
        )
        rows.append(sms_row(rec, m["price"]))
    return rows


def _mms_rows(
    who: Principal, store: Store, fields: dict[str, Any], plan: list[dict], now: int
) -> list[dict[str, Any]]:
    from csframe.sandbox import models_messages as mm

    scheduled = fields["schedule"] > now
    sender = fields["from"] or SHARED_NUMBER
    schedule = fields["schedule"] or now
    rows = []
    for m in plan:
        if m["test"]:
            continue
        c = m["contact"]
        status = "Scheduled" if scheduled else "Sent"
        message_id = store.new_message_id()
        rec = mm.mms_record(
            date=now, to=m["to"], body=m["body"], subject=fields["subject"],
            media_url=fields["media_file"].strip(), status=status, sender=sender,
            schedule=schedule, status_code=None,
            status_text="Scheduled" if scheduled else "Sent to carrier", error_code=None,
            error_text=None, message_id=message_id, price_micros=m["price"],
            list_id=str(fields["list_id"]), custom_string=fields.get("custom_string") or None,
            contact_id=int(c["contact_id"]), user_id=who.user_id,
            subaccount_id=who.subaccount_id, country=m["country"],
            carrier=carrier_for(m["to"], m["country"]), first_name=c.get("first_name") or None,
            last_name=c.get("last_name") or None, api_username=who.username,
        )  # fmt: skip
        rows.append(
            {
                "channel": "mms",
                "user_id": who.user_id,
                "subaccount_id": who.subaccount_id,
                "date": now,
                "status": status,
                "to_": m["to"],
                "from_": sender,
                "message_id": message_id,
                "custom_string": fields.get("custom_string") or None,
                "list_id": str(fields["list_id"]),
                "country": m["country"],
                "username": who.username,
                "units": 1,
                "price_micros": m["price"],
                "schedule": schedule,
                "json": orjson.dumps(rec),
            }
        )
    return rows


def _check_credit(store: Store, who: Principal, total: int, refundable: int = 0) -> None:
    balance = store.balance(who.user_id) + refundable
    if balance <= 0 or total > balance:
        raise ApiError(
            400,
            "INSUFFICIENT_CREDIT",
            "You have reached the end of your message credits. You will need to purchase more message credits.",  # fmt: skip
        )


def queue_messages(
    store: Store, who: Principal, kind: str, campaign_id: int, fields: dict[str, Any], now: int
) -> tuple[int, int]:
    """Expand, price, check credit, and queue the messages of a campaign.

    Returns ``(messages queued, micros charged)``; links the message ids to the campaign.
    """
    plan = plan_messages(kind, fields, _list(store, who, fields["list_id"]))
    # Opted-out numbers are skipped: never queued, never charged.
    opted_out = lifecycle.opted_out(store, who.user_id)
    plan = [m for m in plan if m["to"] not in opted_out]
    total = sum(m["price"] for m in plan)
    _check_credit(store, who, total)
    charge = {who.user_id: total} if total else None
    if kind == "sms":
        rows = _sms_rows(who, store, fields, plan, now)
        ids = store.insert_sms(rows, charge=charge)
        lc = lifecycle.of(store)
        lc.sent([ids[r["message_id"]] for r in rows if r["status"] == "Sent"])
        lc.scheduled([ids[r["message_id"]] for r in rows if r["status"] == "Scheduled"])
    else:
        from csframe.sandbox import models_messages as mm

        rows = _mms_rows(who, store, fields, plan, now)
        mms_ids = mm.insert_rows(store, mm.state(store).rows, rows, charge)
        lc = lifecycle.of(store)
        lc.sent(mms_ids, "mms")
        lc.scheduled(mms_ids, "mms")
    mc.link_messages(store, kind, campaign_id, [r["message_id"] for r in rows])
    return len(plan), total


def _cancelled(rec: dict[str, Any]) -> dict[str, Any]:
    rec.update(status="Cancelled", status_text="Cancelled by user", message_price=fmt_money(0))
    return rec


def scheduled_rows(store: Store, kind: str, ids: list[str], user_id: int) -> list[tuple]:
    """``(id, status, price_micros, json)`` of a campaign's messages still scheduled."""
    table = "sms" if kind == "sms" else "msg_rows"
    out: list[tuple] = []
    with store._lock:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            out += store.db.execute(
                f"SELECT id, status, price_micros, json FROM {table} WHERE user_id=? "
                f"AND status='Scheduled' AND message_id IN ({','.join('?' * len(chunk))})",
                [user_id, *chunk],
            ).fetchall()
    return out


def cancel_messages(store: Store, kind: str, row: dict[str, Any], user_id: int) -> int:
    """Cancel a campaign's still-scheduled messages and refund them; returns the refund.

    Through the messages area's ``cancel_rows`` when it is there (it remembers seeded
    rows it changes, so a reset restores them); otherwise directly.
    """
    rows = scheduled_rows(store, kind, mc.message_ids(store, kind, row), user_id)
    refund = sum(r[2] for r in rows)
    table = "sms" if kind == "sms" else "msg_rows"
    try:
        from csframe.sandbox import models_messages as mm
    except ImportError:
        mm = None
    if mm is not None:
        mm.cancel_rows(store, table, rows, user_id, _cancelled)
        return refund
    with store._lock:
        db = store.db
        db.execute("BEGIN")
        try:
            for row_id, _, _, js in rows:
                rec = _cancelled(orjson.loads(js))
                db.execute(
                    f"UPDATE {table} SET status='Cancelled', price_micros=0, json=? WHERE id=?",
                    (orjson.dumps(rec), row_id),
                )
            if refund:
                db.execute(
                    "UPDATE users SET balance_micros = balance_micros + ? WHERE user_id=?",
                    (refund, user_id),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return refund


# ---------------------------------------------------------------------- records


def sms_record_of(row: dict[str, Any], now: int) -> dict[str, Any]:
    rec = {k: v for k, v in row["record"].items() if not k.startswith(PRIVATE)}
    rec["status"] = mc.status_of(row["schedule"], row["date_added"], row["cancelled"], now)
    rec["schedule"] = row["schedule"]
    rec["list_id"] = row["list_id"]
    return rec


def new_sms_record(
    kind: str, cid: int, who: Principal, fields: dict[str, Any], now: int, ip: str, lname: str
) -> dict[str, Any]:
    sender = fields["from"] or SHARED_NUMBER
    if kind == "sms":
        return {
            "sms_campaign_id": cid,
            "name": fields["name"],
            "user_id": who.user_id,
            "subaccount_id": who.subaccount_id,
            "list_id": fields["list_id"],
            "from": sender,
            "body": fields["body"],
            "schedule": fields["schedule"] or now,
            "status": "Queued",
            "date_added": now,
            "ip_address": ip,
            "custom_string": fields.get("custom_string") or None,
            "url_to_shorten": "",
            "unsubscribe_link": int(mc.STOP_LINK in fields["body"]),
            "source": None,
            "senders": [],
            "_total_count": 0,
            "_list_name": lname,
        }
    media = fields["media_file"].strip()
    return {
        "mms_campaign_id": cid,
        "name": fields["name"],
        "user_id": who.user_id,
        "subaccount_id": who.subaccount_id,
        "list_id": fields["list_id"],
        "from": sender,
        "subject": fields["subject"],
        "file_name": media.rsplit("/", 1)[-1].split("?", 1)[0],
        "body": fields["body"],
        "schedule": fields["schedule"] or now,
        "status": "Queued",
        "date_added": now,
        "custom_string": fields.get("custom_string") or None,
        "country": None,
        "unsubscribe_link": int(mc.STOP_LINK in fields["body"]),
        "_total_count": 0,
        "_list_name": lname,
        "_media_file_url": media,
    }


def fields_of(kind: str, row: dict[str, Any]) -> dict[str, Any]:
    """The editable fields of a stored campaign (for an update)."""
    rec = row["record"]
    keys = {
        "sms": ("name", "body", "from", "custom_string"),
        "mms": ("name", "body", "from", "subject", "custom_string"),
        "email": ("name", "subject", "body", "from_email_address_id", "from_name", "template_id"),
    }[kind]
    out = {k: rec.get(k) for k in keys}
    if kind == "mms":
        out["media_file"] = rec["_media_file_url"]
    out["list_id"] = row["list_id"]
    out["schedule"] = row["schedule"] if row["schedule"] > row["date_added"] else 0
    return out


def visible(store: Store, who: Principal) -> int | None:
    """The subaccount filter of a caller: None (the whole account) for the main login and
    logins with ``share_campaigns``, else the caller's own subaccount."""
    if who.is_main or store.subaccount_info(who.subaccount_id).get("share_campaigns"):
        return None
    return who.subaccount_id


def get_row(request: Request, kind: str, who: Principal) -> dict[str, Any]:
    store = store_of(request)
    name = ID_FIELD[kind]
    try:
        cid = int(request.path_params[name])
    except ValueError:
        raise ApiError(404, "NOT_FOUND", f"{name} must be an integer.") from None
    row = mc.campaign(store, kind, who.user_id, cid)
    sub = visible(store, who)
    if row is None or (sub is not None and row["subaccount_id"] != sub):
        raise ApiError(404, "NOT_FOUND", "Campaign not found.")
    return row


def list_block(
    request: Request, who: Principal, kind: str, render: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Paged, searched, ordered records of a campaign list (date_from/date_to on date_added)."""
    store = store_of(request)
    now = store.clock.now()
    rows = mc.campaigns(store, kind, who.user_id, visible(store, who))
    date_from, date_to = opt_int(request, "date_from"), opt_int(request, "date_to")
    rows = [
        r
        for r in rows
        if (date_from is None or r["date_added"] >= date_from)
        and (date_to is None or r["date_added"] <= date_to)
    ]
    records = render(store, rows, now)
    fields = {k: k for k in (records[0] if records else {ID_FIELD[kind]: 0, "name": ""})}
    page, limit = paging(request)
    filters, operator = search(request, fields)
    order = None, "asc"
    if request.query_params.get("order_by"):
        order = ordering(request, fields, default="")
    q = coll.ItemQuery(page, limit, filters, operator, order[0], order[1])
    matching = coll.filter_sort(records, q)
    shown = coll.page_of(matching, q)
    block = pagination(request, len(matching), page, limit, len(shown))
    return block, shown


def _render_sms(store: Store, rows: list[dict[str, Any]], now: int) -> list[dict[str, Any]]:
    return [sms_record_of(r, now) for r in rows]


# ---------------------------------------------------------------------- SMS + MMS handlers


def _ip(request: Request) -> str:
    return request.client.host if request.client else "127.0.0.1"


async def _send(request: Request, kind: str) -> Response:
    who = authenticate(request)
    store = store_of(request)
    now = store.clock.now()
    fields = campaign_input(await json_body(request), kind, now)
    with store._lock:
        cid = mc.next_campaign_id(store, kind)
        lname = mc.list_name(store, who.user_id, fields["list_id"])
        count, _ = queue_messages(store, who, kind, cid, fields, now)
        record = new_sms_record(kind, cid, who, fields, now, _ip(request), lname)
        record["_total_count"] = count
        mc.add_campaigns(
            store,
            kind,
            [
                {
                    "campaign_id": cid,
                    "user_id": who.user_id,
                    "subaccount_id": who.subaccount_id,
                    "list_id": fields["list_id"],
                    "date_added": now,
                    "schedule": fields["schedule"] or now,
                    "record": record,
                }
            ],
        )
        row = mc.campaign(store, kind, who.user_id, cid)
    msg = "Your new campaign has been added." if kind == "sms" else "MMS campaign has been created."
    return envelope(sms_record_of(row, now), msg)


async def _price(request: Request, kind: str) -> Response:
    who = authenticate(request)
    store = store_of(request)
    now = store.clock.now()
    fields = campaign_input(await json_body(request), kind, now)
    plan = plan_messages(kind, fields, _list(store, who, fields["list_id"]))
    # Opted-out numbers are skipped: never queued, never charged.
    opted_out = lifecycle.opted_out(store, who.user_id)
    plan = [m for m in plan if m["to"] not in opted_out]
    total = sum(m["price"] for m in plan)
    schedule = fields["schedule"] or now
    data = {
        "total_count": len(plan),
        "total_price": fmt_money(total, 4),
        "data": {
            "from": fields["from"] or SHARED_NUMBER,
            # The body as the first recipient gets it, as the reference's example shows.
            "body": plan[0]["body"] if plan else mc.personalise(fields["body"], None),
            "schedule": schedule if kind == "sms" else str(schedule),
        },
        "_currency": CURRENCY,
    }
    msg = "Here is your price for your SMS Campaign." if kind == "sms" else "Here is your result."
    return envelope(data, msg)


def _require_scheduled(row: dict[str, Any], now: int, action: str) -> None:
    status = mc.status_of(row["schedule"], row["date_added"], row["cancelled"], now)
    if status != "Scheduled":
        raise ApiError(
            400, "BAD_REQUEST", f"Only scheduled campaigns can be {action} (this one is {status})."
        )


async def _update(request: Request, kind: str) -> Response:
    who = authenticate(request)
    store = store_of(request)
    now = store.clock.now()
    payload = await json_body(request)
    with store._lock:
        row = get_row(request, kind, who)
        _require_scheduled(row, now, "updated")
        fields = campaign_input(payload, kind, now, fields_of(kind, row))
        plan = plan_messages(kind, fields, _list(store, who, fields["list_id"]))
        ids = mc.message_ids(store, kind, row)
        refundable = sum(r[2] for r in scheduled_rows(store, kind, ids, who.user_id))
        _check_credit(store, who, sum(m["price"] for m in plan), refundable)
        cancel_messages(store, kind, row, who.user_id)
        with store._lock:
            store.db.execute(
                "DELETE FROM campaign_messages WHERE kind=? AND campaign_id=?",
                (kind, row["campaign_id"]),
            )
        count, _ = queue_messages(store, who, kind, row["campaign_id"], fields, now)
        record = new_sms_record(
            kind,
            row["campaign_id"],
            who,
            fields,
            row["date_added"],
            row["record"].get("ip_address", _ip(request)),  # fmt: skip
            mc.list_name(store, who.user_id, fields["list_id"]),
        )
        record.update(
            _total_count=count,
            user_id=row["user_id"],
            subaccount_id=row["subaccount_id"],
        )
        row.update(record=record, list_id=fields["list_id"], schedule=fields["schedule"] or now)
        mc.save_campaign(store, kind, row)
        row = mc.campaign(store, kind, who.user_id, row["campaign_id"])
    msg = "Your SMS Campaign has been updated." if kind == "sms" else "MMS campaign has been updated."  # fmt: skip
    return envelope(sms_record_of(row, now), msg)


async def _cancel(request: Request, kind: str) -> Response:
    who = authenticate(request)
    store = store_of(request)
    now = store.clock.now()
    with store._lock:
        row = get_row(request, kind, who)
        _require_scheduled(row, now, "cancelled")
        cancel_messages(store, kind, row, who.user_id)
        row["cancelled"] = True
        mc.save_campaign(store, kind, row)
    msg = "Your SMS Campaign has been cancelled." if kind == "sms" else "Scheduled MMS campaign has been cancelled."  # fmt: skip
    return envelope(sms_record_of(row, now), msg)


async def _get(request: Request, kind: str) -> Response:
    who = authenticate(request)
    row = get_row(request, kind, who)
    msg = "Your SMS Campaign." if kind == "sms" else "Here is your result."
    return envelope(sms_record_of(row, store_of(request).clock.now()), msg)


def _for_kind(handler: Callable[[Request, str], Awaitable[Response]], kind: str):
    """The endpoint that answers ``handler(request, kind)``: one per campaign kind."""

    async def route(request: Request) -> Response:
        return await handler(request, kind)

    route.__name__ = route.__qualname__ = f"{kind}{handler.__name__}"  # e.g. sms_send
    return endpoint(route)


@endpoint
async def sms_list(request: Request) -> Response:
    who = authenticate(request)
    block, shown = list_block(request, who, "sms", _render_sms)
    block["data"] = shown
    return envelope(block, "Here are your SMS campaigns.")


@endpoint
async def mms_list(request: Request) -> Response:
    """``GET /mms-campaigns``: the pagination block without the envelope, as both the
    reference's example and the OpenAPI schema show it."""
    who = authenticate(request)
    block, shown = list_block(request, who, "mms", _render_sms)
    block["data"] = shown
    return Response(orjson.dumps(block), media_type="application/json")


# ---------------------------------------------------------------------- email campaigns


def _sender_address(store: Store, user_id: int, address_id: int) -> str:
    rec = coll.get_item(store, "email_addresses", user_id, address_id)
    if rec is None or not rec.get("verified"):
        raise ApiError(
            400, "BAD_REQUEST", "from_email_address_id is not a verified email address of yours."
        )
    return rec["email_address"]


def email_plan(contacts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The contacts an email campaign goes to: those with a usable email address."""
    out = []
    for c in contacts:
        email = mc.clean_email(c.get("email"))
        if email:
            out.append({"email": email, "contact": c})
    return out


def email_history_row(
    cid: int, seq: int, fields: dict[str, Any], sender: str, target: dict[str, Any],
    message_id: str, outcome: dict[str, Any],
) -> tuple[int, int, int, int | None, str | None, bytes]:  # fmt: skip
    """One ``email_campaign_recipients`` row: the history record and its columns."""
    c = target["contact"]
    name = " ".join(x for x in (c.get("first_name"), c.get("last_name")) if x) or target["email"]
    rec = {
        "email_campaign_id": cid,
        "from_name": fields["from_name"],
        "from_address": sender,
        "to_name": name,
        "to_address": target["email"],
        "contact_id": int(c["contact_id"]),
        "subject": mc.personalise(fields["subject"], c),
        "message_id": message_id,
        "processed_at": None if outcome["date"] is None else mc.processed_at(outcome["date"]),
        "status": outcome["status"],
        "open_count": outcome.get("open_count", 0),
        "click_count": outcome.get("click_count", 0),
        "hard_bounce_count": outcome.get("hard_bounce_count", 0),
        "soft_bounce_count": outcome.get("soft_bounce_count", 0),
    }
    return (cid, seq, int(c["contact_id"]), outcome["date"], outcome["status"], orjson.dumps(rec))


def queue_email(
    store: Store, who: Principal, cid: int, fields: dict[str, Any], now: int
) -> tuple[int, int]:
    """Expand, price, charge and store the recipients of an email campaign."""
    sender = _sender_address(store, who.user_id, fields["from_email_address_id"])
    plan = email_plan(_list(store, who, fields["list_id"]))
    total = len(plan) * mc.EMAIL_PRICE_MICROS
    _check_credit(store, who, total)
    scheduled = fields["schedule"] > now
    outcome = {"date": None, "status": None} if scheduled else {"date": now, "status": "Sent"}
    rows = [
        email_history_row(cid, i, fields, sender, t, store.new_message_id(), outcome)
        for i, t in enumerate(plan, 1)
    ]
    with store.transaction():  # the recipients and their cost, together or not at all
        mc.add_email_recipients(store, rows)
        if total:
            store.debit({who.user_id: total})
    return len(plan), total


def email_record_of(row: dict[str, Any], counts: dict[str, int], now: int) -> dict[str, Any]:
    rec = {k: v for k, v in row["record"].items() if not k.startswith(PRIVATE)}
    rec["list_id"] = row["list_id"]
    rec["status"] = mc.status_of(row["schedule"], row["date_added"], row["cancelled"], now)
    rec["schedule"] = str(row["schedule"]) if row["schedule"] > row["date_added"] else ""
    rec.update(counts)
    return rec


def _render_email(store: Store, rows: list[dict[str, Any]], now: int) -> list[dict[str, Any]]:
    counts = mc.email_counts(store, [r["campaign_id"] for r in rows])
    return [email_record_of(r, counts[r["campaign_id"]], now) for r in rows]


def new_email_record(
    cid: int, who: Principal, fields: dict[str, Any], now: int, charged: int
) -> dict[str, Any]:
    return {
        "email_campaign_id": cid,
        "name": fields["name"],
        "user_id": who.user_id,
        "subaccount_id": who.subaccount_id,
        "subject": fields["subject"],
        "list_id": fields["list_id"],
        "from_email_address_id": fields["from_email_address_id"],
        "from_name": fields["from_name"],
        "template_id": fields.get("template_id") or 0,
        "schedule": "",
        "status": "Queued",
        "date_added": str(now),
        "custom_string": fields.get("custom_string") or "",
        "body": fields["body"],
        "body_plain_text": mc.plain_text(fields["body"]),
        PRIVATE + "charged": charged,
    }


def _email_fields(store: Store, who: Principal, payload: Any, now: int, current=None) -> dict:  # noqa: ANN001
    fields = campaign_input(payload, "email", now, current)
    template_id = fields.get("template_id")
    if template_id and coll.get_item(store, "email_templates", who.user_id, template_id) is None:
        raise ApiError(400, "BAD_REQUEST", "template_id is not one of your email templates.")
    return fields


@endpoint
async def email_send(request: Request) -> Response:
    who = authenticate(request)
    store = store_of(request)
    now = store.clock.now()
    fields = _email_fields(store, who, await json_body(request), now)
    with store._lock:
        cid = mc.next_campaign_id(store, "email")
        count, total = queue_email(store, who, cid, fields, now)
        mc.add_campaigns(
            store,
            "email",
            [
                {
                    "campaign_id": cid,
                    "user_id": who.user_id,
                    "subaccount_id": who.subaccount_id,
                    "list_id": fields["list_id"],
                    "date_added": now,
                    "schedule": fields["schedule"] or now,
                    "record": new_email_record(cid, who, fields, now, total),
                }
            ],
        )
        row = mc.campaign(store, "email", who.user_id, cid)
        record = _render_email(store, [row], now)[0]
    data = {
        "total_count": count,
        "total_price": fmt_money(total, 4),
        "queued_count": count,
        "data": record,
        "_currency": CURRENCY,
    }
    return envelope(data, "Email campaign has been created.")


@endpoint
async def email_price(request: Request) -> Response:
    who = authenticate(request)
    store = store_of(request)
    now = store.clock.now()
    fields = _email_fields(store, who, await json_body(request), now)
    _sender_address(store, who.user_id, fields["from_email_address_id"])
    plan = email_plan(_list(store, who, fields["list_id"]))
    data = {
        "total_count": len(plan),
        "total_price": fmt_money(len(plan) * mc.EMAIL_PRICE_MICROS, 4),
        "queued_count": len(plan),
        "data": {
            "name": fields["name"],
            "subject": fields["subject"],
            "from_email_address_id": fields["from_email_address_id"],
            "from_name": fields["from_name"],
            "body": fields["body"],
            "list_id": fields["list_id"],
        },
        "_currency": CURRENCY,
    }
    return envelope(data, "Total price for email campaign.")


@endpoint
async def email_list(request: Request) -> Response:
    who = authenticate(request)
    block, shown = list_block(request, who, "email", _render_email)
    block["data"] = shown
    return envelope(block, "Here are your email campaigns")


@endpoint
async def email_get(request: Request) -> Response:
    who = authenticate(request)
    store = store_of(request)
    row = get_row(request, "email", who)
    return envelope(_render_email(store, [row], store.clock.now())[0], "Here is your email campaign.")  # fmt: skip


def _refund_email(store: Store, row: dict[str, Any], user_id: int) -> int:
    """Refund the recipients not processed yet; returns the refund."""
    with store._lock:
        pending = store.db.execute(
            "SELECT count(*) FROM email_campaign_recipients WHERE email_campaign_id=? "
            "AND date IS NULL",
            (row["campaign_id"],),
        ).fetchone()[0]
        refund = min(pending * mc.EMAIL_PRICE_MICROS, row["record"].get(PRIVATE + "charged", 0))
        if refund:
            store.db.execute(
                "UPDATE users SET balance_micros = balance_micros + ? WHERE user_id=?",
                (refund, user_id),
            )
    return refund


@endpoint
async def email_update(request: Request) -> Response:
    who = authenticate(request)
    store = store_of(request)
    now = store.clock.now()
    payload = await json_body(request)
    with store._lock:
        row = get_row(request, "email", who)
        _require_scheduled(row, now, "updated")
        fields = _email_fields(store, who, payload, now, fields_of("email", row))
        plan = email_plan(_list(store, who, fields["list_id"]))
        refundable = row["record"].get(PRIVATE + "charged", 0)
        _check_credit(store, who, len(plan) * mc.EMAIL_PRICE_MICROS, refundable)
        _refund_email(store, row, who.user_id)
        mc.delete_email_recipients(store, row["campaign_id"])
        _, total = queue_email(store, who, row["campaign_id"], fields, now)
        record = new_email_record(row["campaign_id"], who, fields, row["date_added"], total)
        record.update(user_id=row["user_id"], subaccount_id=row["subaccount_id"])
        row.update(record=record, list_id=fields["list_id"], schedule=fields["schedule"] or now)
        mc.save_campaign(store, "email", row)
        row = mc.campaign(store, "email", who.user_id, row["campaign_id"])
        out = _render_email(store, [row], now)[0]
    return envelope(out, "Email campaign has been updated.")


@endpoint
async def email_cancel(request: Request) -> Response:
    who = authenticate(request)
    store = store_of(request)
    now = store.clock.now()
    with store._lock:
        row = get_row(request, "email", who)
        _require_scheduled(row, now, "cancelled")
        _refund_email(store, row, who.user_id)
        mc.set_email_recipients_status(store, row["campaign_id"], "Cancelled", None)
        row["cancelled"] = True
        mc.save_campaign(store, "email", row)
        out = _render_email(store, [row], now)[0]
    return envelope(out, "Email campaign has been cancelled.")


@endpoint
async def email_history(request: Request) -> Response:
    who = authenticate(request)
    store = store_of(request)
    row = get_row(request, "email", who)
    page, limit = paging(request)
    if wants_query(request):
        _, every = mc.email_recipients(
            store,
            row["campaign_id"],
            opt_int(request, "date_from"),
            opt_int(request, "date_to"),
            1,
            2**31,
        )
        records = [orjson.loads(r) for r in every]
        fields = records[0].keys() if records else EMAIL_HISTORY_FIELDS
        matching = query_records(request, records, fields)
        rows = [orjson.dumps(r) for r in matching[(page - 1) * limit : page * limit]]
        total = len(matching)
    else:
        total, rows = mc.email_recipients(
            store,
            row["campaign_id"],
            opt_int(request, "date_from"),
            opt_int(request, "date_to"),
            page,
            limit,
        )
    block = pagination(request, total, page, limit, len(rows))
    head = orjson.dumps(
        {"http_code": 200, "response_code": "SUCCESS", "response_msg": "Here is your result."}
    )[:-1]
    body = b"".join(
        (head, b',"data":', orjson.dumps(block)[:-1], b',"data":[', b",".join(rows), b"]}}")
    )
    return Response(body, media_type="application/json")


# Email campaign history exports: token -> (csv bytes, filename, deadline).
_EXPORTS: dict[str, tuple[bytes, str, float]] = {}
EXPORT_COLUMNS = (
    "email_campaign_id", "from_name", "from_address", "to_name", "to_address", "contact_id",
    "subject", "message_id", "processed_at", "status", "open_count", "click_count",
    "hard_bounce_count", "soft_bounce_count",
)  # fmt: skip


@endpoint
async def email_history_export(request: Request) -> Response:
    """A CSV of the campaign's history (date_from/date_to honoured) at a URL the sandbox
    serves for 10 minutes without auth, like the API's pre-signed download links."""
    who = authenticate(request)
    store = store_of(request)
    row = get_row(request, "email", who)
    _, rows = mc.email_recipients(
        store, row["campaign_id"], opt_int(request, "date_from"), opt_int(request, "date_to")
    )
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for js in rows:
        rec = orjson.loads(js)
        writer.writerow(["" if rec[k] is None else rec[k] for k in EXPORT_COLUMNS])
    filename = request.query_params.get("filename") or f"email-campaign-{row['campaign_id']}.csv"
    token = secrets.token_hex(16).upper()
    deadline = time.monotonic() + EXPORT_TTL_SECONDS
    for t, (_, _, dl) in list(_EXPORTS.items()):
        if dl <= time.monotonic():
            del _EXPORTS[t]
    _EXPORTS[token] = (buf.getvalue().encode("utf-8"), filename, deadline)
    root = str(request.base_url).rstrip("/")
    url = f"{root}/files/email-campaigns/{token}?filename={filename}"
    return envelope({"url": url}, "Download your file here.")


async def export_file(request: Request) -> Response:
    got = _EXPORTS.get(request.path_params["token"])
    if got is None or got[2] <= time.monotonic():
        return Response(b"Not found", status_code=404, media_type="text/plain")
    data, filename, _ = got
    return Response(
        data,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# ---------------------------------------------------------------------- ground truth


@endpoint
async def truth(request: Request) -> Response:
    """``/_sandbox/truth/campaigns/{kind}/{id}``: a campaign's messages (or recipients)."""
    store = store_of(request)
    kind = request.path_params["kind"]
    if kind not in ID_FIELD:
        raise ApiError(404, "NOT_FOUND", "kind must be sms, mms or email")
    with store._lock:
        got = store.db.execute(
            "SELECT user_id FROM campaigns WHERE kind=? AND campaign_id=?",
            (kind, int(request.path_params["campaign_id"])),
        ).fetchone()
        if got is None:
            raise ApiError(404, "NOT_FOUND", "no such campaign")
        row = mc.campaign(store, kind, got[0], int(request.path_params["campaign_id"]))
    out: dict[str, Any] = {"list_id": row["list_id"], "subaccount_id": row["subaccount_id"]}
    if kind == "email":
        _, recs = mc.email_recipients(store, row["campaign_id"])
        out["contact_ids"] = [orjson.loads(r)["contact_id"] for r in recs]
    else:
        out["message_ids"] = mc.message_ids(store, kind, row)
    return Response(orjson.dumps(out), media_type="application/json")


@endpoint
async def truth_spend(request: Request) -> Response:
    """``/_sandbox/truth/spend``: what the main account spent per day (SMS, the other
    channels, email campaigns): the recharge transactions fund exactly this."""
    from csframe.sandbox import seed_campaigns as sc

    store = store_of(request)
    by_day = sc.daily_spend(store, sc.email_campaign_spend(store))
    with store._lock:
        sms = store.db.execute(
            "SELECT coalesce(sum(price_micros), 0) FROM sms WHERE user_id=?", (sc.MAIN_USER_ID,)
        ).fetchone()[0]
    data = {
        "total_micros": sum(m for _, m in by_day),
        "sms_micros": sms,
        "email_campaign_micros": sum(m for _, m in sc.email_campaign_spend(store)),
        "by_day": by_day,
    }
    return Response(orjson.dumps(data), media_type="application/json")


routes = [
    Route("/_sandbox/truth/spend", truth_spend, methods=["GET"]),
    Route("/v3/sms-campaigns/send", _for_kind(_send, "sms"), methods=["POST"]),
    Route("/v3/sms-campaigns/price", _for_kind(_price, "sms"), methods=["POST"]),
    Route("/v3/sms-campaigns", sms_list, methods=["GET"]),
    Route("/v3/sms-campaigns/{sms_campaign_id}", _for_kind(_get, "sms"), methods=["GET"]),
    Route("/v3/sms-campaigns/{sms_campaign_id}", _for_kind(_update, "sms"), methods=["PUT"]),
    Route("/v3/sms-campaigns/{sms_campaign_id}/cancel", _for_kind(_cancel, "sms"), methods=["PUT"]),
    Route("/v3/mms-campaigns/send", _for_kind(_send, "mms"), methods=["POST"]),
    Route("/v3/mms-campaigns/price", _for_kind(_price, "mms"), methods=["POST"]),
    Route("/v3/mms-campaigns", mms_list, methods=["GET"]),
    Route("/v3/mms-campaign/{mms_campaign_id}", _for_kind(_get, "mms"), methods=["GET"]),
    Route("/v3/mms-campaigns/{mms_campaign_id}", _for_kind(_get, "mms"), methods=["GET"]),
    Route("/v3/mms-campaigns/{mms_campaign_id}", _for_kind(_update, "mms"), methods=["PUT"]),
    Route("/v3/mms-campaigns/{mms_campaign_id}/cancel", _for_kind(_cancel, "mms"), methods=["PUT"]),
    Route("/v3/email-campaigns/send", email_send, methods=["POST"]),
    Route("/v3/email-campaigns/price", email_price, methods=["POST"]),
    Route("/v3/email-campaigns", email_list, methods=["GET"]),
    Route("/v3/email-campaigns/{email_campaign_id}", email_get, methods=["GET"]),
    Route("/v3/email-campaigns/{email_campaign_id}", email_update, methods=["PUT"]),
    Route("/v3/email-campaigns/{email_campaign_id}/cancel", email_cancel, methods=["PUT"]),
    Route("/v3/email-campaigns/{email_campaign_id}/history", email_history, methods=["GET"]),
    Route(
        "/v3/email-campaigns/{email_campaign_id}/history/export",
        email_history_export,
        methods=["GET"],
    ),  # fmt: skip
    Route("/files/email-campaigns/{token}", export_file, methods=["GET"]),
    Route("/_sandbox/truth/campaigns/{kind}/{campaign_id:int}", truth, methods=["GET"]),
]


# ---------------------------------------------------------------------- /sms/send hook


def expand_list_messages(store: Store, who: Principal, messages: list[Any]) -> list[Any]:
    """``/sms/send`` and ``/sms/price`` with ``list_id`` instead of ``to``: one message per
    contact of the list that has a phone number, personalised like a campaign.

    The contact rides along as ``_contact`` (its id and names go to history). A list of
    another account -> 403 NOT_ENOUGH_PERMISSION_TO_LIST_ID; an unknown list is left as
    is (its message is INVALID_RECIPIENT); more than 1000 messages after expanding ->
    400 TOO_MANY_RECIPIENTS.
    """
    from csframe.sandbox import models_contacts

    out: list[Any] = []
    for m in messages:
        if (
            not isinstance(m, dict)
            or m.get("to") not in (None, "")
            or m.get("list_id") in (None, "")
        ):
            out.append(m)
            continue
        try:
            contacts = mc.list_contacts(store, who.user_id, int(m["list_id"]))
        except models_contacts.Forbidden:
            raise ApiError(
                403,
                "NOT_ENOUGH_PERMISSION_TO_LIST_ID",
                "Don't have enough privilege to access or send to a list_id.",  # fmt: skip
            ) from None
        except (models_contacts.NotFound, TypeError, ValueError):
            out.append(m)
            continue
        body = "" if m.get("body") is None else str(m["body"])
        for c in contacts:
            if not (c.get("phone") or str(c.get("phone_number") or "").strip()):
                continue  # email- or fax-only contacts are not SMS recipients
            out.append(
                {
                    **m,
                    "to": c.get("phone") or c["phone_number"],
                    "body": mc.personalise(body, c),
                    "list_id": str(m["list_id"]),
                    "_contact": c,
                }
            )
        if len(out) > 1000:
            raise ApiError(
                400,
                "TOO_MANY_RECIPIENTS",
                "Too many recipients. You can send up to 1000 messages per call.",
            )
    return out
