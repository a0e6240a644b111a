"""Messages area (writes): send and price MMS, voice, email, fax, letters and postcards;
cancel scheduled SMS, voice, letters and postcards.

Like ``/sms/send``: up to 1000 messages (recipients) per call, else 400
TOO_MANY_RECIPIENTS and nothing stored; a payload without its list is 400 BAD_REQUEST;
every message gets its own ``status`` ("SUCCESS" or an application code) and a
``message_id`` even when rejected. Queued messages are stored (status ``Sent``/``Queued``,
or ``Scheduled`` when ``schedule`` is in the future) and the balance debited in one
transaction; they appear in history, usage and statistics at once. An account with a zero
balance sends nothing (INSUFFICIENT_CREDIT, test recipients included); otherwise a
message costing more than what is left is INSUFFICIENT_CREDIT. The reference's test
numbers, fax numbers, email addresses and postcodes succeed at price 0 and are neither
stored nor charged. ``.../price`` validates and prices the same way, storing nothing.

Checks, in order (the first failing one is the status):

- MMS: EMPTY_MESSAGE, SUBJECT_REQUIRED, INVALID_MEDIA_FILE (``media_file`` must be an
  http(s) URL of a .jpg or .gif -- other images go through ``/uploads?convert=mms``),
  INVALID_RECIPIENT / COUNTRY_NOT_ENABLED (MMS reaches AU, NZ, US, CA, GB),
  INVALID_SENDER_ID, INVALID_SCHEDULE, INSUFFICIENT_CREDIT. Bodies beyond 1500 GSM / 500
  unicode characters and subjects beyond 20 are truncated; one part per MMS.
- Voice: EMPTY_MESSAGE, INVALID_LANG (the reference's language list; default en-au),
  INVALID_VOICE (female/male as the language allows), INVALID_RECIPIENT /
  COUNTRY_NOT_ENABLED, INVALID_SCHEDULE, INSUFFICIENT_CREDIT. Parts: 300 GSM / 150 unicode
  characters each, at most 4 (then truncated).
- Email (one email per call, so errors are the request's: HTTP 400 with the code):
  INVALID_RECIPIENT (no ``to`` or a malformed address), TOO_MANY_RECIPIENTS,
  MISSING_REQUIRED_FIELDS (``from.email_address_id``), SUBJECT_REQUIRED, EMPTY_MESSAGE,
  INVALID_SCHEDULE, INSUFFICIENT_CREDIT. Priced per charged recipient (to + cc + bcc).
- Fax: INVALID_MEDIA_FILE (``file_url``: an http(s) URL of a .pdf), INVALID_RECIPIENT /
  COUNTRY_NOT_ENABLED, INVALID_SENDER_ID (``from`` must be a number), INVALID_SCHEDULE,
  INSUFFICIENT_CREDIT. Pages (1..6) are derived from the file URL.
- Letters / postcards: INVALID_MEDIA_FILE (``file_url`` .pdf / ``file_urls`` 1-2 .pdf),
  MISSING_REQUIRED_FIELDS (name, line 1, city, postcode, country, return_address_id),
  INVALID_RECIPIENT (country not ISO alpha-2), INVALID_SCHEDULE, INSUFFICIENT_CREDIT.

Example::

    POST /v3/voice/send {"messages": [{"to": "+61411111111", "body": "hi", "voice": "male"}]}
    -> data.messages[0].status == "SUCCESS", total_price == 0 (a test number)
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csframe.sandbox import delivery, lifecycle
from csframe.sandbox import models_messages as mm
from csframe.sandbox import seed_messages as sm
from csframe.sandbox.encoding import sms_parts
from csframe.sandbox.models import Principal, Store
from csframe.sandbox.pricing import (
    COUNTRIES,
    CURRENCY,
    TEST_NUMBERS,
    NumberError,
    carrier_for,
    fmt_money,
    normalise_number,
)
from csframe.sandbox.responses.common import (
    ApiError,
    authenticate,
    endpoint,
    envelope,
    json_body,
    store_of,
)

MAX_RECIPIENTS = 1000
TEST_FAX_NUMBERS = frozenset({"+61261111111", "+61262222222", "+61263333333"})
TEST_EMAILS = frozenset({"test1@test.com", "test2@test.com", "test3@test.com"})
TEST_POSTCODES = frozenset({"11111", "22222", "33333"})
# lang -> voices, from the reference's "Allowed Languages" (the first is the default).
VOICE_LANGS: dict[str, tuple[str, ...]] = {
    "en-us": ("female", "male"), "en-au": ("female", "male"), "en-gb": ("female", "male"),
    "en-in": ("female",), "en-gb-wls": ("female", "male"), "cy-gb-wls": ("female", "male"),
    "de-de": ("female", "male"), "es-es": ("female", "male"), "es-us": ("female", "male"),
    "fr-ca": ("female",), "fr-fr": ("female", "male"), "is-is": ("female", "male"),
    "it-it": ("female", "male"), "da-dk": ("female", "male"), "nl-nl": ("female", "male"),
    "nb-no": ("female",), "pl-pl": ("female", "male"), "pt-pt": ("male",),
    "pt-br": ("female", "male"), "ro-ro": ("female",), "ru-ru": ("female", "male"),
    "sv-se": ("female",), "tr-tr": ("female",),
}  # fmt: skip
_ALPHA_SENDER = re.compile(r"^[A-Za-z0-9]{1,11}$")
_NUMERIC_SENDER = re.compile(r"^\+?\d{3,16}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SHARED_NUMBER = "+61481070000"


# ---------------------------------------------------------------------- helpers


def _list(payload: Any, key: str) -> list[Any]:
    """``payload[key]`` as a non-empty list of at most 1000 items, else 400."""
    if not isinstance(payload, dict) or not isinstance(payload.get(key), list):
        raise ApiError(400, "BAD_REQUEST", f"{key} is required and must be a list.")
    items = payload[key]
    if not items:
        raise ApiError(400, "BAD_REQUEST", f"{key} must not be empty.")
    if len(items) > MAX_RECIPIENTS:
        raise ApiError(
            400,
            "TOO_MANY_RECIPIENTS",
            f"Too many recipients. You can send up to {MAX_RECIPIENTS} messages per call.",
        )
    return items


def _expand_lists(store: Store, who: Principal, messages: list[Any]) -> list[Any]:
    """Messages to a ``list_id`` become one per contact (the campaigns area does that for
    SMS); without it such a message stays as is and is INVALID_RECIPIENT."""
    try:
        from csframe.sandbox.responses.campaigns import expand_list_messages
    except ImportError:  # pragma: no cover - the campaigns area is part of the sandbox
        return messages
    return expand_list_messages(store, who, messages)


def _schedule(value: Any, now: int) -> int | None:
    """0 for now, a future unix time, or None when invalid (a past time means now)."""
    if value is None or value == "" or value == 0:
        return 0
    if isinstance(value, bool):
        return None
    try:
        ts = int(value)
    except (TypeError, ValueError):
        return None
    if ts < 0 or ts > 2**62:  # beyond any timestamp (and what SQLite stores)
        return None
    return ts if ts > now else 0


def _sender(value: Any) -> str | None:
    """The sender id to use ("" = none given), or None when it is not a valid one."""
    if value is None or value == "":
        return ""
    text = str(value)
    return text if _ALPHA_SENDER.match(text) or _NUMERIC_SENDER.match(text) else None


def _url_ok(url: Any, extensions: tuple[str, ...]) -> bool:
    if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+/\S+$", url.strip()):
        return False
    path = url.strip().split("?", 1)[0].split("#", 1)[0].lower()
    return path.endswith(extensions)


def _pages(url: str, most: int = 6) -> int:
    """A stable page count for a document URL (the sandbox does not fetch files)."""
    return 1 + zlib.crc32(url.encode()) % most


def _truncate(body: str, gsm_max: int, ucs2_max: int) -> str:
    encoding, _, _ = sms_parts(body)
    return body[: gsm_max if encoding == "gsm" else ucs2_max]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


class _Credit:
    """Balance bookkeeping across one send: zero balance blocks everything."""

    def __init__(self, store: Store, who: Principal) -> None:
        self.balance = store.balance(who.user_id)
        self.spent = 0

    def take(self, price: int) -> bool:
        if self.balance <= 0 or price > self.balance - self.spent:
            return False
        self.spent += price
        return True


def _commit(store: Store, who: Principal, rows: list[dict[str, Any]], credit: _Credit) -> None:
    st = mm.state(store)
    ids = mm.insert_rows(
        store, st.rows, rows, {who.user_id: credit.spent} if credit.spent else None
    )
    # MMS, voice and fax move on like SMS (lifecycle, delivery.py); email and post do not.
    # One request sends one channel; sent()/scheduled() pick the rows of their status.
    channel = rows[0]["channel"] if rows else None
    if channel in delivery.CHANNELS:
        lc = lifecycle.of(store)
        lc.sent(ids, channel)
        lc.scheduled(ids, channel)


def _row(
    who: Principal,
    channel: str,
    rec: dict[str, Any],
    *,
    date: int,
    status: str,
    to: str,
    sender: str,
    message_id: str,
    custom: str | None,
    list_id: str | None,
    country: str,
    units: int,
    price: int,
    schedule: int,
) -> dict[str, Any]:
    return {
        "channel": channel,
        "user_id": who.user_id,
        "subaccount_id": who.subaccount_id,
        "date": date,
        "status": status,
        "to_": to,
        "from_": sender,
        "message_id": message_id,
        "custom_string": custom,
        "list_id": list_id,
        "country": country,
        "username": who.username,
        "units": units,
        "price_micros": price,
        "schedule": schedule,
        "json": orjson.dumps(rec),
    }


def _recipient(m: dict[str, Any], allowed: dict[str, int] | None) -> tuple[str, str, str]:
    """``(e164, iso, status)``: status "" when the number is usable."""
    raw = m.get("to")
    if raw in (None, ""):
        return _text(raw), str(m.get("country") or "").upper(), "INVALID_RECIPIENT"
    try:
        e164, iso = normalise_number(raw, m.get("country"))
    except NumberError as exc:
        return _text(raw), str(m.get("country") or "").upper(), exc.code
    if allowed is not None and iso not in allowed:
        return e164, iso, "COUNTRY_NOT_ENABLED"
    return e164, iso, ""


def _totals(items: list[dict[str, Any]], spent_or_total: int) -> dict[str, Any]:
    return {
        "total_price": round(spent_or_total / 1_000_000, 6),
        "total_count": len(items),
        "queued_count": sum(1 for x in items if x["status"] == "SUCCESS"),
    }


# ---------------------------------------------------------------------- MMS


def _mms(request: Request, payload: Any, who: Principal, send: bool) -> Response:
    store = store_of(request)
    messages = _expand_lists(store, who, _list(payload, "messages"))
    media = payload.get("media_file")
    media_ok = _url_ok(media, (".jpg", ".gif"))
    now = store.clock.now()
    credit = _Credit(store, who)
    rows, out, total = [], [], 0
    for message in messages:
        m = message if isinstance(message, dict) else {}
        body = _truncate(_text(m.get("body")), 1500, 500)
        subject = _text(m.get("subject"))[:20]
        to, iso, status = _recipient(m, sm.MMS_PRICE)
        sender = _sender(m.get("from"))
        schedule = _schedule(m.get("schedule"), now)
        if not body.strip():
            status = "EMPTY_MESSAGE"
        elif not subject.strip():
            status = "SUBJECT_REQUIRED"
        elif not media_ok:
            status = "INVALID_MEDIA_FILE"
        elif status:
            pass
        elif sender is None:
            status = "INVALID_SENDER_ID"
        elif schedule is None:
            status = "INVALID_SCHEDULE"
        test = to in TEST_NUMBERS
        price = 0 if status or test else sm.MMS_PRICE[iso]
        if not status and send and not credit.take(price):
            status = "INSUFFICIENT_CREDIT"
        status = status or "SUCCESS"
        ok = status == "SUCCESS"
        total += price if ok else 0
        message_id = store.new_message_id()
        from_ = (sender or SHARED_NUMBER) if ok else _text(m.get("from"))
        custom = None if m.get("custom_string") is None else str(m["custom_string"])
        contact = m.get("_contact") or {}
        list_id = None if m.get("list_id") in (None, "") else str(m["list_id"])
        if send and ok and not test:
            scheduled = bool(schedule)
            rec = mm.mms_record(
                date=now, to=to, body=body, subject=subject, media_url=str(media),
                status="Scheduled" if scheduled else "Sent", sender=from_,
                schedule=schedule or now, status_code=None,
                status_text="Scheduled" if scheduled else "Sent to carrier", error_code=None,
                error_text=None, message_id=message_id, price_micros=price, list_id=list_id,
                custom_string=custom, contact_id=_int(contact.get("contact_id")),
                user_id=who.user_id, subaccount_id=who.subaccount_id, country=iso,
                carrier=carrier_for(to, iso), first_name=contact.get("first_name"),
                last_name=contact.get("last_name"), api_username=who.username,
            )  # fmt: skip
            rows.append(
                _row(who, "mms", rec, date=now, status=rec["status"], to=to, sender=from_,
                     message_id=message_id, custom=custom, list_id=list_id, country=iso,
                     units=1, price=price, schedule=schedule or now)
            )  # fmt: skip
        out.append(
            {
                "list_id": list_id,
                "contact_id": _int(contact.get("contact_id")) or 0,
                "message_id": message_id,
                "to": to,
                "subject": subject,
                "from": from_,
                "body": body,
                "country": iso,
                "custom_string": custom or "",
                "schedule": str(schedule) if schedule else "",
                "message_parts": 1,
                "message_price": fmt_money(price if ok else 0, 4),
                "_media_file_url": _text(media),
                "status": status,
            }
        )
    if send:
        _commit(store, who, rows, credit)
    data = {**_totals(out, credit.spent if send else total), "messages": out, "_currency": CURRENCY}
    queued = data["queued_count"]
    if not send:
        return envelope(data, "Here are some prices.")
    return envelope(data, "Messages queued for delivery." if queued else "No messages were queued.")


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _posted(handler: Callable[[Request, Any, Any, bool], Response], send: bool):
    """The ``POST`` endpoint that answers ``handler(request, body, who, send)``: a channel's
    ``/send`` when ``send``, its ``/price`` otherwise."""

    async def route(request: Request) -> Response:
        who = authenticate(request)
        return handler(request, await json_body(request), who, send)

    op = "send" if send else "price"
    route.__name__ = route.__qualname__ = f"{handler.__name__.lstrip('_')}_{op}"  # e.g. mms_send
    return endpoint(route)


# ---------------------------------------------------------------------- voice


def _flag(value: Any) -> int:
    try:
        return 1 if int(value) else 0
    except (TypeError, ValueError):
        return 1 if value else 0


def _voice(request: Request, payload: Any, who: Principal, send: bool) -> Response:
    store = store_of(request)
    messages = _expand_lists(store, who, _list(payload, "messages"))
    now = store.clock.now()
    credit = _Credit(store, who)
    rows, out, total = [], [], 0
    for message in messages:
        m = message if isinstance(message, dict) else {}
        body = _truncate(_text(m.get("body")), 1200, 600)
        lang = _text(m.get("lang") or "en-au").strip().lower()
        voices = VOICE_LANGS.get(lang)
        voice = _text(m.get("voice")).strip().lower() or (voices[0] if voices else "female")
        to, iso, status = _recipient(m, None)
        schedule = _schedule(m.get("schedule"), now)
        if not body.strip():
            status = "EMPTY_MESSAGE"
        elif voices is None:
            status = "INVALID_LANG"
        elif voice not in voices:
            status = "INVALID_VOICE"
        elif status:
            pass
        elif schedule is None:
            status = "INVALID_SCHEDULE"
        ttype = sm.to_type(to, iso) if iso in COUNTRIES and to.startswith("+") else "mobile"
        parts = sm.voice_parts(body) if body else 0
        test = to in TEST_NUMBERS
        price = 0 if status or test else parts * sm.voice_price(iso, ttype)
        if not status and send and not credit.take(price):
            status = "INSUFFICIENT_CREDIT"
        status = status or "SUCCESS"
        ok = status == "SUCCESS"
        total += price if ok else 0
        message_id = store.new_message_id()
        custom = "" if m.get("custom_string") is None else str(m["custom_string"])
        list_id = None if m.get("list_id") in (None, "") else str(m["list_id"])
        require_input, detection = _flag(m.get("require_input")), _flag(m.get("machine_detection"))
        carrier = carrier_for(to, iso) if ok else None
        rec = mm.voice_record(
            date=now, to=to, to_type=ttype, body=body, sender=None, lang=lang, voice=voice,
            schedule=schedule or now, message_id=message_id, parts=parts,
            price_micros=price if ok else 0, custom_string=custom, list_id=list_id,
            user_id=who.user_id, subaccount_id=who.subaccount_id, country=iso, carrier=carrier,
            require_input=require_input, machine_detection=detection, machine_detected=None,
            digits=None, status="Scheduled" if schedule else "Sent",
            status_code=None, status_text="Scheduled" if schedule else "Queued for calling",
            api_username=who.username,
        )  # fmt: skip
        if send and ok and not test:
            rows.append(
                _row(who, "voice", rec, date=now, status=rec["status"], to=to, sender="",
                     message_id=message_id, custom=custom or None, list_id=list_id, country=iso,
                     units=parts, price=price, schedule=schedule or now)
            )  # fmt: skip
        item = {
            **rec,
            "date": None,
            "schedule": schedule or now,
            "message_parts": parts,
            "message_price": fmt_money(price if ok else 0, 4),
            "status_text": None,
            "status": status,
        }
        out.append(item)
    if send:
        _commit(store, who, rows, credit)
    data = {**_totals(out, credit.spent if send else total), "messages": out, "_currency": CURRENCY}
    return envelope(data, "Here are your data.")


# ---------------------------------------------------------------------- email


def _people(value: Any, field: str) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ApiError(400, "INVALID_RECIPIENT", f"{field} must be a list of recipients.")
    out = []
    for item in value:
        email = _text(item.get("email") if isinstance(item, dict) else item).strip()
        if not _EMAIL.match(email):
            raise ApiError(400, "INVALID_RECIPIENT", f"The email address {email!r} is invalid.")
        name = _text(item.get("name")) if isinstance(item, dict) else ""
        out.append({"email": email, "name": name})
    return out


def _email(request: Request, payload: Any, who: Principal, send: bool) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise ApiError(400, "BAD_REQUEST", "The request body must be a JSON object.")
    store = store_of(request)
    to = _people(payload.get("to"), "to")
    if not to:
        raise ApiError(400, "INVALID_RECIPIENT", "to must list at least one recipient.")
    cc, bcc = _people(payload.get("cc"), "cc"), _people(payload.get("bcc"), "bcc")
    everyone = to + cc + bcc
    if len(everyone) > MAX_RECIPIENTS:
        raise ApiError(400, "TOO_MANY_RECIPIENTS", "Too many recipients.")
    sender = payload.get("from")
    address_id = _int(sender.get("email_address_id")) if isinstance(sender, dict) else None
    if address_id is None:
        raise ApiError(
            400,
            "MISSING_REQUIRED_FIELDS",
            "from.email_address_id is required (an allowed address).",
        )
    subject, body = _text(payload.get("subject")), _text(payload.get("body"))
    if not subject.strip():
        raise ApiError(400, "SUBJECT_REQUIRED", "subject is required.")
    if not body.strip():
        raise ApiError(400, "EMPTY_MESSAGE", "Message is empty.")
    now = store.clock.now()
    schedule = _schedule(payload.get("schedule"), now)
    if schedule is None:
        raise ApiError(400, "INVALID_SCHEDULE", "The schedule specified is invalid.")
    charged = [p for p in everyone if p["email"].lower() not in TEST_EMAILS]
    price = len(charged) * sm.EMAIL_PRICE
    credit = _Credit(store, who)
    if send and not credit.take(price):
        raise ApiError(
            400, "INSUFFICIENT_CREDIT", "You have reached the end of your message credits."
        )
    attachments = []
    for a in payload.get("attachments") or []:
        if isinstance(a, dict):
            name = _text(a.get("filename")) or "attachment"
            attachments.append(
                {
                    "file_name": name,
                    "content_type": _text(a.get("type")) or "application/octet-stream",
                    "content_disposition": _text(a.get("disposition")) or "attachment",
                    "content_id": _text(a.get("content_id")),
                    "_attachment_file_url": f"https://files.acme.example/attachments/{zlib.crc32(name.encode()):08X}-{name}",
                }
            )
    message_id = store.new_message_id()
    scheduled = bool(schedule)
    rec = mm.email_record(
        date=now, user_id=who.user_id, subaccount_id=who.subaccount_id,
        from_email_address_id=address_id, from_name=_text(sender.get("name")), to=to, cc=cc,
        bcc=bcc, subject=subject, body=body, schedule=schedule or now, message_id=message_id,
        status="Scheduled" if scheduled else "Queued:WaitSend",
        status_text="Scheduled" if scheduled else "Accepted for delivery", soft_bounce_count=0,
        hard_bounce_count=0, price_micros=price, custom_string=None, attachments=attachments,
    )  # fmt: skip
    if send and charged:
        row = _row(who, "email", rec, date=now, status=rec["status"], to=to[0]["email"],
                   sender=rec["from_name"], message_id=message_id, custom=None, list_id=None,
                   country="", units=len(charged), price=price, schedule=schedule or now)  # fmt: skip
        _commit(store, who, [row], credit)
    return rec


@endpoint
async def email_send(request: Request) -> Response:
    """``POST /email/send``: one transactional email (errors are the request's, 400)."""
    who = authenticate(request)
    rec = _email(request, await json_body(request), who, True)
    return envelope(rec, "Transactional email queued for delivery.")


@endpoint
async def email_price(request: Request) -> Response:
    """``GET|POST /email/price`` (GET in the reference, POST in the OpenAPI; a JSON body
    either way): the email that would be sent, priced, in a one-row page."""
    who = authenticate(request)
    rec = _email(request, await json_body(request), who, False)
    block = {
        "total": 1,
        "per_page": 15,
        "current_page": 1,
        "last_page": 1,
        "next_page_url": None,
        "prev_page_url": None,
        "from": 1,
        "to": 1,
        "data": [rec],
    }
    return envelope(block, "Here is your result.")


# ---------------------------------------------------------------------- fax


def _fax(request: Request, payload: Any, who: Principal, send: bool) -> Response:
    store = store_of(request)
    messages = _list(payload, "messages")
    file_url = payload.get("file_url")
    file_ok = _url_ok(file_url, (".pdf",))
    pages = _pages(str(file_url)) if file_ok else 0
    now = store.clock.now()
    credit = _Credit(store, who)
    rows, out, total = [], [], 0
    for message in messages:
        m = message if isinstance(message, dict) else {}
        to, iso, status = _recipient(m, None)
        sender = _text(m.get("from")).strip()
        schedule = _schedule(m.get("schedule"), now)
        if not file_ok:
            status = "INVALID_MEDIA_FILE"
        elif status:
            pass
        elif not _NUMERIC_SENDER.match(sender):
            status = "INVALID_SENDER_ID"
        elif schedule is None:
            status = "INVALID_SCHEDULE"
        test = to in TEST_FAX_NUMBERS
        price = 0 if status or test else pages * sm.fax_price(iso)
        if not status and send and not credit.take(price):
            status = "INSUFFICIENT_CREDIT"
        status = status or "SUCCESS"
        ok = status == "SUCCESS"
        total += price if ok else 0
        message_id = store.new_message_id()
        custom = None if m.get("custom_string") is None else str(m["custom_string"])
        from_email = None if m.get("from_email") in (None, "") else str(m["from_email"])
        rec = mm.fax_record(
            date=now, user_id=who.user_id, subaccount_id=who.subaccount_id, list_id=None,
            message_id=message_id, to=to, sender=sender, country=iso, custom_string=custom,
            schedule=schedule or now, pages=pages, price_micros=price if ok else 0,
            status="Scheduled" if schedule else "Sent", status_code=None,
            status_text="Scheduled" if schedule else "Sending", from_email=from_email,
            file_url=_text(file_url), api_username=who.username,
        )  # fmt: skip
        if send and ok and not test:
            rows.append(
                _row(who, "fax", rec, date=now, status=rec["status"], to=to, sender=sender,
                     message_id=message_id, custom=custom, list_id=None, country=iso,
                     units=pages, price=price, schedule=schedule or now)
            )  # fmt: skip
        out.append(
            {
                **{k: rec[k] for k in ("user_id", "subaccount_id", "list_id", "message_id", "to")},
                "from": sender,
                "carrier": "",
                "country": iso,
                "custom_string": custom,
                "schedule": rec["schedule"],
                "message_pages": pages,
                "message_price": fmt_money(price if ok else 0, 4),
                "status_code": None,
                "status_text": None,
                "date_added": now,
                "from_email": from_email,
                "_file_url": _text(file_url),
                "status": status,
            }
        )
    if send:
        _commit(store, who, rows, credit)
    data = {**_totals(out, credit.spent if send else total), "messages": out, "_currency": CURRENCY}
    return envelope(data, "Fax queued for delivery." if send else "Here are some prices.")


# ---------------------------------------------------------------------- letters, postcards

ADDRESS_FIELDS = (
    "address_name",
    "address_line_1",
    "address_line_2",
    "address_city",
    "address_state",
    "address_postal_code",
    "address_country",
)
REQUIRED_ADDRESS = (
    "address_name",
    "address_line_1",
    "address_city",
    "address_postal_code",
    "address_country",
)


def _post(request: Request, payload: Any, who: Principal, send: bool, kind: str) -> Response:
    store = store_of(request)
    recipients = _list(payload, "recipients")
    if kind == "letter":
        files = [payload.get("file_url")]
        files_ok = _url_ok(files[0], (".pdf",))
    else:
        files = payload.get("file_urls") if isinstance(payload.get("file_urls"), list) else []
        files_ok = 1 <= len(files) <= 2 and all(_url_ok(f, (".pdf",)) for f in files)
    file_url = _text(files[0]) if files else ""
    pages = _pages(file_url, 5) if files_ok and kind == "letter" else 1
    colour, duplex, priority = (
        _flag(payload.get(k)) for k in ("colour", "duplex", "priority_post")
    )
    source = _text(payload.get("source")) or ".rest.v3"
    now = store.clock.now()
    credit = _Credit(store, who)
    rows, out, total = [], [], 0
    for item in recipients:
        r = item if isinstance(item, dict) else {}
        address = {k: _text(r.get(k)).strip() for k in ADDRESS_FIELDS}
        address["address_country"] = address["address_country"].upper()
        return_id = _int(r.get("return_address_id"))
        schedule = _schedule(r.get("schedule"), now)
        status = ""
        if not files_ok:
            status = "INVALID_MEDIA_FILE"
        elif any(not address[k] for k in REQUIRED_ADDRESS) or return_id is None:
            status = "MISSING_REQUIRED_FIELDS"
        elif not re.fullmatch(r"[A-Z]{2}", address["address_country"]):
            status = "INVALID_RECIPIENT"
        elif schedule is None:
            status = "INVALID_SCHEDULE"
        country = address["address_country"]
        test = address["address_postal_code"] in TEST_POSTCODES
        if status or test:
            price = 0
        elif kind == "letter":
            price = sm.letter_price(country, pages, colour, priority)
        else:
            price = sm.postcard_price(country)
        if not status and send and not credit.take(price):
            status = "INSUFFICIENT_CREDIT"
        status = status or "SUCCESS"
        ok = status == "SUCCESS"
        total += price if ok else 0
        message_id = store.new_message_id()
        custom = None if r.get("custom_string") in (None, "") else str(r["custom_string"])
        hist_status = "Scheduled" if schedule else "Queued"
        text = "Scheduled" if schedule else "Queued for printing"
        if kind == "letter":
            rec = mm.letter_record(
                date=now, user_id=who.user_id, subaccount_id=who.subaccount_id,
                message_id=message_id, address=address, return_address_id=return_id or 0,
                custom_string=custom, schedule=schedule or now, source=source, colour=colour,
                duplex=duplex, priority_post=priority, pages=pages, price_micros=price,
                status=hist_status, status_code="", status_text=text, file_url=file_url,
                api_username=who.username,
            )  # fmt: skip
        else:
            rec = mm.postcard_record(
                date=now, user_id=who.user_id, subaccount_id=who.subaccount_id,
                message_id=message_id, supplier_id="", address=address,
                return_address_id=return_id or 0, custom_string=custom, schedule=schedule or now,
                source=source, price_micros=price, status=hist_status, file_url=file_url,
                api_username=who.username,
            )  # fmt: skip
        if send and ok and not test:
            rows.append(
                _row(who, kind, rec, date=now, status=hist_status, to=address["address_name"],
                     sender="", message_id=message_id, custom=custom, list_id=None,
                     country=country, units=1, price=price, schedule=schedule or now)
            )  # fmt: skip
        item = {**rec, "schedule": schedule or now, "status": status}
        # The reference's send examples: a 4-decimal string for letters, a number for cards.
        shown = price if ok else 0
        item["post_price"] = fmt_money(shown, 4) if kind == "letter" else round(shown / 1e6, 6)
        item["_return_address"] = {**mm.RETURN_ADDRESS, "return_address_id": return_id or 0}
        item["_api_username"] = who.username
        for k in (
            "list_id",
            "status_code",
            "status_text",
            "message_id_supplier",
            "post_price_supplier",
        ):
            item.pop(k, None)
        out.append(item)
    if send:
        _commit(store, who, rows, credit)
    data = {
        **_totals(out, credit.spent if send else total),
        "recipients": out,
        "_currency": CURRENCY,
    }
    if not send:
        data["total_cost"] = data["total_count"]  # the letter price example names it so
        return envelope(
            data, "Here are some results." if kind == "letter" else "Here is some pricing."
        )
    noun = "Letters" if kind == "letter" else "Postcard"
    return envelope(data, f"{noun} queued for delivery.")


@endpoint
async def letter_send(request: Request) -> Response:
    """``POST /post/letters/send``."""
    who = authenticate(request)
    return _post(request, await json_body(request), who, True, "letter")


@endpoint
async def letter_price(request: Request) -> Response:
    """``POST /post/letters/price``."""
    who = authenticate(request)
    return _post(request, await json_body(request), who, False, "letter")


@endpoint
async def postcard_send(request: Request) -> Response:
    """``POST /post/postcards/send``."""
    who = authenticate(request)
    return _post(request, await json_body(request), who, True, "postcard")


@endpoint
async def postcard_price(request: Request) -> Response:
    """``POST /post/postcards/price``."""
    who = authenticate(request)
    return _post(request, await json_body(request), who, False, "postcard")


# ---------------------------------------------------------------------- cancel


def _cancelled(price_key: str) -> Any:
    def cancel(rec: dict[str, Any]) -> dict[str, Any]:
        rec["status"] = "Cancelled"
        if "status_code" in rec and price_key != "post_price":
            rec["status_code"] = None
        if "status_text" in rec:
            rec["status_text"] = "Cancelled by user"
        rec[price_key] = fmt_money(0)
        return rec

    return cancel


def _cancel_one(
    store: Store, who: Principal, table: str, channel: str | None, message_id: str
) -> None:
    if table == "sms":
        row = mm.find_sms(store, who.view, message_id)
    else:
        row = mm.find_row(store, channel or "", who.view, message_id)
    if row is None:
        raise ApiError(404, "NOT_FOUND", f"Message {message_id} not found.")
    if row[1] != "Scheduled":
        raise ApiError(
            400,
            "BAD_REQUEST",
            f"Message {message_id} is {row[1]}: only scheduled messages can be cancelled.",
        )
    key = {"letter": "post_price", "postcard": "post_price"}.get(channel or "", "message_price")
    mm.cancel_rows(store, table, [row], who.user_id, _cancelled(key))


@endpoint
async def sms_cancel(request: Request) -> Response:
    """``PUT /sms/{message_id}/cancel``: cancel one scheduled SMS (refunded)."""
    who = authenticate(request)
    message_id = request.path_params["message_id"]
    _cancel_one(store_of(request), who, "sms", None, message_id)
    return envelope({}, f"Message {message_id} has been cancelled.")


async def _cancel_all(request: Request, table: str, channel: str | None) -> int:
    who = authenticate(request)
    store = store_of(request)
    raw = await request.body()
    custom = None
    if raw.strip():
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ApiError(400, "BAD_REQUEST", "The request body is not valid JSON.") from None
        if isinstance(body, dict) and body.get("custom_string") not in (None, ""):
            custom = str(body["custom_string"])
    rows = mm.scheduled_rows(store, table, who.view, channel, store.clock.now())
    if custom is not None:
        rows = [r for r in rows if orjson.loads(r[3]).get("custom_string") == custom]
    return mm.cancel_rows(store, table, rows, who.user_id, _cancelled("message_price"))


@endpoint
async def sms_cancel_all(request: Request) -> Response:
    """``PUT /sms/cancel-all``: cancel every scheduled SMS of the caller (optionally only
    those with ``custom_string``)."""
    n = await _cancel_all(request, "sms", None)
    return envelope({"count": n}, f"{n} messages has been cancelled.")


@endpoint
async def voice_cancel(request: Request) -> Response:
    """``PUT /voice/{message_id}/cancel``."""
    who = authenticate(request)
    _cancel_one(store_of(request), who, "msg_rows", "voice", request.path_params["message_id"])
    return envelope([], "Voice have been cancelled.")


@endpoint
async def voice_cancel_all(request: Request) -> Response:
    """``PUT /voice/cancel-all``."""
    n = await _cancel_all(request, "msg_rows", "voice")
    return envelope({"count": n}, f"{n} messages have been cancelled.")


@endpoint
async def letter_cancel(request: Request) -> Response:
    """``GET /post/letters/{message_id}/cancel`` (GET, as the reference has it)."""
    who = authenticate(request)
    _cancel_one(store_of(request), who, "msg_rows", "letter", request.path_params["message_id"])
    return envelope(True, "Scheduled letter has been cancelled.")


@endpoint
async def postcard_cancel(request: Request) -> Response:
    """``PUT /post/postcards/{message_id}/cancel``."""
    who = authenticate(request)
    _cancel_one(store_of(request), who, "msg_rows", "postcard", request.path_params["message_id"])
    return envelope(True, "Scheduled postcard has been cancelled.")


routes = [
    Route("/v3/mms/send", _posted(_mms, send=True), methods=["POST"]),
    Route("/v3/mms/price", _posted(_mms, send=False), methods=["POST"]),
    Route("/v3/voice/send", _posted(_voice, send=True), methods=["POST"]),
    Route("/v3/voice/price", _posted(_voice, send=False), methods=["POST"]),
    Route("/v3/email/send", email_send, methods=["POST"]),
    Route("/v3/email/price", email_price, methods=["GET", "POST"]),
    Route("/v3/fax/send", _posted(_fax, send=True), methods=["POST"]),
    Route("/v3/fax/price", _posted(_fax, send=False), methods=["POST"]),
    Route("/v3/post/letters/send", letter_send, methods=["POST"]),
    Route("/v3/post/letters/price", letter_price, methods=["POST"]),
    Route("/v3/post/postcards/send", postcard_send, methods=["POST"]),
    Route("/v3/post/postcards/price", postcard_price, methods=["POST"]),
    Route("/v3/sms/cancel-all", sms_cancel_all, methods=["PUT"]),
    Route("/v3/sms/{message_id}/cancel", sms_cancel, methods=["PUT"]),
    Route("/v3/voice/cancel-all", voice_cancel_all, methods=["PUT"]),
    Route("/v3/voice/{message_id}/cancel", voice_cancel, methods=["PUT"]),
    Route("/v3/post/letters/{message_id}/cancel", letter_cancel, methods=["GET"]),
    Route("/v3/post/postcards/{message_id}/cancel", postcard_cancel, methods=["PUT"]),
]
