"""SMS area: ``GET /sms/history``, ``POST /sms/send``, ``POST /sms/price``.

Send and price validate each message on its own and report a per-message ``status``
("SUCCESS" or an application code); the request itself is 200 unless the payload is
unusable (400) or has more than 1000 messages (400 TOO_MANY_RECIPIENTS). Checks, in
order: EMPTY_MESSAGE, INVALID_RECIPIENT / COUNTRY_NOT_ENABLED, INVALID_SENDER_ID,
INVALID_SCHEDULE, then (send only) INSUFFICIENT_CREDIT. An account whose balance is zero
(``nocredit``) can send nothing, test numbers included; otherwise a message whose price
exceeds what is left of the balance is INSUFFICIENT_CREDIT. The reference's test numbers
succeed at price 0 and are neither stored nor charged. Queued messages are committed to
history (status "Sent", or "Scheduled" when ``schedule`` is in the future) together with
the balance debit, in one transaction.

Example::

    POST /v3/sms/send {"messages": [{"to": "+61411111111", "body": "hi"}]}
    -> data.messages[0].status == "SUCCESS", data.queued_count == 1, total_price == 0
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csframe.sandbox import lifecycle
from csframe.sandbox.encoding import sms_parts, truncate_parts
from csframe.sandbox.models import HistoryQuery, Principal, sms_record, sms_row
from csframe.sandbox.pricing import (
    CURRENCY,
    PRICE_MICROS,
    TEST_NUMBERS,
    NumberError,
    carrier_for,
    fmt_money,
    normalise_number,
)
from csframe.sandbox.responses.campaigns import expand_list_messages
from csframe.sandbox.responses.common import (
    ApiError,
    authenticate,
    endpoint,
    envelope,
    json_body,
    opt_int,
    ordering,
    paged_response,
    pagination,
    paging,
    search,
    store_of,
)

MAX_MESSAGES = 1000
# Used as "from" when a message names no sender (ClickSend picks a shared number).
SHARED_NUMBER = "+61481070000"
_ALPHA_SENDER = re.compile(r"^[A-Za-z0-9]{1,11}$")
_NUMERIC_SENDER = re.compile(r"^\+?\d{3,16}$")


@endpoint
async def history(request: Request) -> Response:
    """``GET /sms/history``: the caller's outbound SMS, paginated.

    Params: date_from/date_to (unix, inclusive), page, limit (15..100), q, operator, order_by.
    """
    who = authenticate(request)
    page, limit = paging(request)
    filters, operator = search(request)
    order_field, order_dir = ordering(request)
    q = HistoryQuery(
        date_from=opt_int(request, "date_from"),
        date_to=opt_int(request, "date_to"),
        page=page,
        limit=limit,
        q=filters,
        operator=operator,
        order_field=order_field,
        order_dir=order_dir,
    )
    total, rows = store_of(request).history(who.view, q)
    return paged_response(pagination(request, total, page, limit, len(rows)), rows)


def _check_sender(sender: object) -> str | None:
    """The sender to use ("" = shared number), or None when it is not a valid sender id."""
    if sender is None or sender == "":
        return ""
    if not isinstance(sender, str):
        sender = str(sender)
    if _ALPHA_SENDER.match(sender) or _NUMERIC_SENDER.match(sender):
        return sender
    return None


def _check_schedule(value: object, now: int) -> int | None:
    """0 for immediate, a future unix time, or None when invalid."""
    if value is None or value == "" or value == 0:
        return 0
    if isinstance(value, bool):
        return None
    try:
        ts = int(value)  # ints and numeric strings
    except (TypeError, ValueError):
        return None
    if ts < 0 or ts > 2**62:  # beyond any timestamp (and what SQLite stores)
        return None
    return ts if ts > now else 0  # a past schedule means "now"


def _evaluate(message: object, now: int) -> dict[str, Any]:
    """Validate and price one message; returns a dict with ``status`` and the derived fields."""
    m = message if isinstance(message, dict) else {}
    body = m.get("body")
    # Cut after MAX_SMS_PARTS parts, as the reference says; priced as what is sent.
    body = "" if body is None else truncate_parts(str(body))
    raw_to = m.get("to")
    country_hint = m.get("country")
    custom = m.get("custom_string")
    out: dict[str, Any] = {
        "to": "" if raw_to is None else str(raw_to),
        "body": body,
        "sender": "" if m.get("from") is None else str(m.get("from")),
        "schedule": 0,
        "parts": sms_parts(body)[2] if body else 0,
        "price": 0,
        "country": str(country_hint or "").upper(),
        "carrier": "",
        "custom_string": None if custom is None else str(custom),
        "list_id": None if m.get("list_id") in (None, "") else str(m.get("list_id")),
        "contact": m.get("_contact") or {},  # set when a list_id was expanded (campaigns.py)
        "test": False,
        "status": "SUCCESS",
    }
    if not body.strip():
        out["status"] = "EMPTY_MESSAGE"
        return out
    if raw_to in (None, ""):
        out["status"] = "INVALID_RECIPIENT"  # (a known list_id was expanded before this)
        return out
    try:
        e164, iso = normalise_number(raw_to, country_hint)
    except NumberError as exc:
        out["status"] = exc.code
        return out
    out.update(to=e164, country=iso, carrier=carrier_for(e164, iso))
    sender = _check_sender(m.get("from"))
    if sender is None:
        out["status"] = "INVALID_SENDER_ID"
        return out
    out["sender"] = sender
    schedule = _check_schedule(m.get("schedule"), now)
    if schedule is None:
        out["status"] = "INVALID_SCHEDULE"
        return out
    out["schedule"] = schedule
    out["test"] = e164 in TEST_NUMBERS
    out["price"] = 0 if out["test"] else out["parts"] * PRICE_MICROS[iso]
    return out


def _messages(payload: Any) -> list[Any]:
    if not isinstance(payload, dict) or not isinstance(payload.get("messages"), list):
        raise ApiError(400, "BAD_REQUEST", "messages is required and must be a list.")
    messages = payload["messages"]
    if not messages:
        raise ApiError(400, "BAD_REQUEST", "messages must not be empty.")
    if len(messages) > MAX_MESSAGES:
        raise ApiError(
            400,
            "TOO_MANY_RECIPIENTS",
            f"Too many recipients. You can send up to {MAX_MESSAGES} messages per call.",
        )
    return messages


@endpoint
async def send(request: Request) -> Response:
    """``POST /sms/send``: queue up to 1000 messages (see the module docstring)."""
    who = authenticate(request)
    messages = _messages(await json_body(request))
    store = store_of(request)
    messages = expand_list_messages(store, who, messages)
    now = store.clock.now()
    balance = store.balance(who.user_id)
    opted_out = lifecycle.opted_out(store, who.user_id)
    lc = lifecycle.of(store)
    rows: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    spent = 0
    blocked = 0
    for message in messages:
        ev = _evaluate(message, now)
        if ev["status"] == "SUCCESS" and ev["to"] in opted_out:
            ev["status"] = lifecycle.BLOCKED
        elif ev["status"] == "SUCCESS" and lc.throttled(who.user_id, ev["to"], ev["body"]):
            ev["status"] = "THROTTLED"  # not queued, not charged: the client retries later
        elif ev["status"] == "SUCCESS" and (balance <= 0 or ev["price"] > balance - spent):
            ev["status"] = "INSUFFICIENT_CREDIT"
        ok = ev["status"] == "SUCCESS"
        message_id = store.new_message_id()
        shared = ev["status"] in ("SUCCESS", lifecycle.BLOCKED) and ev["sender"] == ""
        sender = SHARED_NUMBER if shared else ev["sender"]
        price = ev["price"] if ok else 0
        if ok and not ev["test"]:
            spent += price
            rows.append(_history_row(who, ev, message_id, sender, now))
        elif ev["status"] == lifecycle.BLOCKED:
            # Recorded as the seeded opt-out failures are (a free Failed/304 row with its
            # receipt), so history, receipts and blocked_count agree.
            blocked += 1
            if not ev["test"]:
                rows.append(
                    _history_row(who, ev, message_id, sender, now, lifecycle.BLOCKED_OUTCOME)
                )
        out.append(
            {
                "direction": "out",
                "date": now,
                "to": ev["to"],
                "body": ev["body"],
                "from": sender,
                "schedule": ev["schedule"] or now,
                "message_id": message_id,
                "message_parts": ev["parts"],
                "message_price": fmt_money(price, 4),
                "from_email": None,
                "list_id": ev["list_id"],
                "custom_string": ev["custom_string"],
                "contact_id": _contact_id(ev),
                "user_id": who.user_id,
                "subaccount_id": who.subaccount_id,
                "is_shared_system_number": shared,
                "country": ev["country"],
                "carrier": ev["carrier"],
                "status": ev["status"],
            }
        )
    # One transaction: the rows and the debit are committed together or not at all.
    ids = store.insert_sms(rows, charge={who.user_id: spent} if spent else None)
    lc.sent([ids[r["message_id"]] for r in rows if r["status"] == "Sent"])
    lc.scheduled([ids[r["message_id"]] for r in rows if r["status"] == "Scheduled"])
    queued = sum(1 for m in out if m["status"] == "SUCCESS")
    data = {
        "total_price": round(spent / 1_000_000, 6),
        "total_count": len(out),
        "queued_count": queued,
        "messages": out,
        "_currency": CURRENCY,
        "blocked_count": blocked,
    }
    return envelope(data, "Messages queued for delivery." if queued else "No messages were queued.")


def _contact_id(ev: dict[str, Any]) -> str | None:
    cid = ev["contact"].get("contact_id")
    return None if cid is None else str(cid)


def _history_row(
    who: Principal,
    ev: dict[str, Any],
    message_id: str,
    sender: str,
    now: int,
    outcome: tuple[str, str | None, str, str | None, str | None] | None = None,
) -> dict[str, Any]:
    """The history row of a queued message, or of one that ended at once (``outcome`` =
    (status, status_code, status_text, error_code, error_text), free of charge)."""
    scheduled = ev["schedule"] > now
    if outcome is None:
        outcome = (
            ("Scheduled", None, "Scheduled", None, None)
            if scheduled
            else ("Sent", None, "Sent to carrier", None, None)
        )
    price = ev["price"] if outcome[0] in ("Sent", "Scheduled") else 0
    rec = sms_record(
        date=now,
        to=ev["to"],
        body=ev["body"],
        status=outcome[0],
        sender=sender,
        schedule=ev["schedule"] or now,
        status_code=outcome[1],
        status_text=outcome[2],
        error_code=outcome[3],
        error_text=outcome[4],
        message_id=message_id,
        message_parts=ev["parts"],
        message_price=fmt_money(price),
        list_id=ev["list_id"],
        custom_string=ev["custom_string"],
        contact_id=_contact_id(ev),
        user_id=who.user_id,
        subaccount_id=who.subaccount_id,
        country=ev["country"],
        carrier=ev["carrier"],
        first_name=ev["contact"].get("first_name") or None,
        last_name=ev["contact"].get("last_name") or None,
        api_username=who.username,
    )
    return sms_row(rec, price)


@endpoint
async def price(request: Request) -> Response:
    """``POST /sms/price``: what a send would cost; nothing is stored or charged."""
    who = authenticate(request)
    messages = expand_list_messages(store_of(request), who, _messages(await json_body(request)))
    now = store_of(request).clock.now()
    out = []
    total = 0
    for message in messages:
        ev = _evaluate(message, now)
        ok = ev["status"] == "SUCCESS"
        shared = ok and ev["sender"] == ""
        total += ev["price"] if ok else 0
        out.append(
            {
                "to": ev["to"],
                "body": ev["body"],
                "from": SHARED_NUMBER if shared else ev["sender"],
                "schedule": str(ev["schedule"]) if ev["schedule"] else "",
                "message_parts": ev["parts"],
                "message_price": fmt_money(ev["price"] if ok else 0, 4),
                "custom_string": ev["custom_string"] or "",
                "is_shared_system_number": shared,
                "country": ev["country"],
                "status": ev["status"],
            }
        )
    data = {
        "total_price": round(total / 1_000_000, 6),
        "total_count": len(out),
        "queued_count": sum(1 for m in out if m["status"] == "SUCCESS"),
        "messages": out,
        "_currency": CURRENCY,
        "blocked_count": 0,
    }
    return envelope(data, "Here is some pricing.")


routes = [
    Route("/v3/sms/history", history, methods=["GET"]),
    Route("/v3/sms/send", send, methods=["POST"]),
    Route("/v3/sms/price", price, methods=["POST"]),
]
