"""List campaigns: ``/sms-campaigns``, ``/mms-campaigns``, ``/email-campaigns`` -- priced
first, sent once, cancellable while scheduled.

:func:`send_campaign` validates the arguments (sender, schedule, opt-out text of
marketing messages, MMS subject and media, email sender), prices the campaign
(``/{kind}-campaigns/price``), refuses when the price is above ``max_price`` or the
balance, and only then sends. The send carries a ``custom_string`` token (SMS/MMS) so
that an unanswered request (dropped connection, 5xx, timeout) is resolved by finding
the campaign in ``GET /{kind}-campaigns?q=custom_string:...`` before sending again;
email campaigns, which have no custom string, are found as the one new campaign with
this name, list and subject. With ``journal=`` the token and the outcome are kept in a
file, so a process that dies mid-send is resolved the same way on a rerun.

Bodies use csframe's ``{first_name}`` placeholders or ClickSend's own ``(First Name)``;
the contact fields ``first_name``, ``last_name``, ``organization_name`` and
``custom_1..4`` are filled by ClickSend per recipient.

Example::

    camp = send_campaign(cs, 428, "Hi {first_name}, 20% off. Reply STOP to opt out",
                         name="Spring", sender="ACME", schedule="2026-12-01T09:00Z")
    camp["campaign_id"], camp["quoted_price"], camp["recipients"]
    cancel_campaign(cs, camp["campaign_id"])
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from requests_cache import DO_NOT_CACHE

from csframe.errors import (
    AccountError,
    ApiError,
    AuthenticationError,
    InsufficientCredit,
    NotFound,
    RateLimited,
    ValidationError,
)
from csframe.writers._common import ClientLike, OptOutWarning, PlanError, unix_time
from csframe.writers.plan import OPT_OUT, SENDER_ALPHA, SENDER_NUMBER
from csframe.writers.send import new_run_id

if TYPE_CHECKING:  # for annotations only
    from csframe.writers.journal import Journal

KINDS = ("sms", "mms", "email")
ID_FIELD = {"sms": "sms_campaign_id", "mms": "mms_campaign_id", "email": "email_campaign_id"}
# csframe placeholder -> ClickSend campaign placeholder
PLACEHOLDERS = {
    "first_name": "(First Name)",
    "last_name": "(Last Name)",
    "organization_name": "(Organization Name)",
    "custom_1": "(Custom 1)",
    "custom_2": "(Custom 2)",
    "custom_3": "(Custom 3)",
    "custom_4": "(Custom 4)",
}
_FIELD = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")
_FATAL = (AuthenticationError, AccountError, NotFound, ValidationError)


class CampaignPriceError(PlanError):
    """The campaign costs more than ``max_price`` allows."""


def clicksend_body(body: str) -> str:
    """``{first_name}`` -> ``(First Name)`` (and the other contact fields); other
    ``{...}`` placeholders are an error naming the ones a list campaign can fill.

    Example::

        >>> clicksend_body("Hi {first_name} {{x}}")
        'Hi (First Name) {x}'
    """
    if not isinstance(body, str) or not body.strip():
        raise PlanError("body must be a non-empty string")
    unknown = sorted({m.group(1) for m in _FIELD.finditer(body)} - set(PLACEHOLDERS))
    if unknown:
        raise PlanError(
            f"a list campaign can only fill the contact fields {list(PLACEHOLDERS)}; the "
            f"body uses {unknown}. For other columns, plan a personalised send with "
            "csframe.writers.sms_plan(df, ...) instead."
        )
    out = _FIELD.sub(lambda m: PLACEHOLDERS[m.group(1)], body)
    return out.replace("{{", "{").replace("}}", "}")


def _check_opt_out(kind: str, body: str, marketing: bool | None) -> None:
    if marketing is False:
        return
    pattern = r"(?i)unsubscribe|opt[\s-]?out" if kind == "email" else OPT_OUT
    if re.search(pattern, body):
        return
    what = (
        "the campaign body has no opt-out instruction ("
        + ("an unsubscribe link" if kind == "email" else "'Reply STOP' or StopMsg.me/xxxxx")
        + ")"
    )
    if marketing:
        raise PlanError(what + "; marketing campaigns must have one")
    import warnings

    warnings.warn(
        what + ". If this is marketing add one; marketing=False silences this.",
        OptOutWarning,
        stacklevel=3,
    )


def campaign_payload(
    kind: str,
    list_id: int,
    body: str,
    name: str,
    sender: str | None = None,
    schedule: Any = None,
    *,
    subject: str | None = None,
    media_file: str | None = None,
    from_email_address_id: int | None = None,
    from_name: str | None = None,
    template_id: int | None = None,
    marketing: bool | None = None,
) -> dict[str, Any]:
    """The validated request body of a campaign send/price (see :func:`send_campaign`)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    problems = []
    if isinstance(list_id, bool) or not isinstance(list_id, int) or list_id <= 0:
        problems.append(f"list_id must be a positive integer, got {list_id!r}")
    if not isinstance(name, str) or not name.strip():
        problems.append("name must be a non-empty string")
    text = clicksend_body(body)
    payload: dict[str, Any] = {"list_id": list_id, "name": name, "body": text}
    ts = unix_time(schedule)
    if ts is not None:
        payload["schedule"] = ts
    if kind in ("sms", "mms") and sender not in (None, ""):
        if not (SENDER_ALPHA.match(str(sender)) or SENDER_NUMBER.match(str(sender))):
            problems.append(
                f"sender {sender!r} is not a valid sender id (up to 11 letters and digits, "
                "or a phone number)"
            )
        payload["from"] = str(sender)
    if kind == "mms":
        if not subject or len(subject) > 20:
            problems.append("an MMS campaign needs a subject of 1 to 20 characters")
        payload["subject"] = subject
        if not media_file:
            problems.append("an MMS campaign needs media_file (a URL, or a local file)")
        payload["media_file"] = media_file
    if kind == "email":
        if not subject:
            problems.append("an email campaign needs a subject")
        if isinstance(from_email_address_id, bool) or not isinstance(from_email_address_id, int):
            problems.append("an email campaign needs from_email_address_id (an integer)")
        if not from_name:
            problems.append("an email campaign needs from_name")
        payload.update(
            subject=subject, from_email_address_id=from_email_address_id, from_name=from_name
        )
        if template_id is not None:
            payload["template_id"] = template_id
    if problems:
        raise PlanError("cannot send this campaign:\n  - " + "\n  - ".join(problems))
    _check_opt_out(kind, text, marketing)
    return payload


def price_campaign(client: ClientLike, kind: str = "sms", **payload: Any) -> dict[str, Any]:
    """``POST /{kind}-campaigns/price``: ``{"total_price", "total_count", "currency",
    "body"}`` for a campaign payload (from :func:`campaign_payload`)."""
    data = client.session.post(f"/{kind}-campaigns/price", payload, idempotent=True) or {}
    sample = data["data"] if isinstance(data.get("data"), dict) else {}
    return {
        "total_price": float(data.get("total_price") or 0),
        "total_count": int(data.get("total_count") or 0),
        "currency": (data.get("_currency") or {}).get("currency_name_short"),
        "body": sample.get("body"),
    }


def _find(client: ClientLike, kind: str, q: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        data = client.session.get(
            f"/{kind}-campaigns",
            {"q": q, "limit": 100, "page": page},
            expire_after=DO_NOT_CACHE,
        )
        records = (data or {}).get("data") or []
        out.extend(records)
        if page >= int((data or {}).get("last_page") or 1) or not records:
            return out
        page += 1


def _signature(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def send_campaign(
    client: ClientLike,
    list_id: int,
    body: str,
    name: str,
    sender: str | None = None,
    schedule: Any = None,
    *,
    kind: str = "sms",
    subject: str | None = None,
    media_file: str | os.PathLike | None = None,
    from_email_address_id: int | None = None,
    from_name: str | None = None,
    template_id: int | None = None,
    marketing: bool | None = None,
    max_price: float | None = None,
    journal: str | os.PathLike | None = None,
    doubt_horizon: float = 600.0,
    settle: float | None = None,
    max_attempts: int = 5,
) -> dict[str, Any]:
    """Price, then send one list campaign, exactly once; see the module docstring.

    Returns a dict: ``kind``, ``campaign_id``, ``name``, ``list_id``, ``status``,
    ``schedule``, ``recipients`` (messages queued), ``quoted_price`` and
    ``quoted_count`` (from the price call), ``currency``, ``via`` (``response`` or
    ``lookup``: found after an unanswered request) and ``record`` (the API's record).

    A send whose answer is lost is looked up (custom string token, or for email the
    campaign that was not there before) until it shows up or ``doubt_horizon`` seconds
    (default 600, as for :func:`~csframe.writers.send`) have passed since the request;
    only then is it sent again, so a server that commits late never gets a second
    campaign. ``settle`` is the old name of ``doubt_horizon`` (deprecated).

    Raises :class:`CampaignPriceError` above ``max_price``,
    :class:`~csframe.errors.InsufficientCredit` when the balance cannot pay the quote
    (nothing is sent), :class:`PlanError` for invalid arguments.
    """
    if settle is not None:
        import warnings

        warnings.warn(
            "send_campaign(settle=...) is now doubt_horizon=...", DeprecationWarning, stacklevel=2
        )
        doubt_horizon = settle
    if isinstance(doubt_horizon, bool) or not isinstance(doubt_horizon, int | float):
        raise PlanError(f"doubt_horizon must be a number of seconds, got {doubt_horizon!r}")
    if doubt_horizon < 0:
        raise PlanError(f"doubt_horizon must be >= 0, got {doubt_horizon!r}")
    local = bool(media_file) and not str(media_file).startswith(("http://", "https://"))
    if kind == "mms" and local and not os.path.isfile(str(media_file)):
        raise PlanError(f"media_file {str(media_file)!r} is neither a URL nor a file")
    payload = campaign_payload(
        kind,
        list_id,
        body,
        name,
        sender,
        schedule,
        subject=subject,
        media_file=None if media_file is None else os.fspath(media_file),
        from_email_address_id=from_email_address_id,
        from_name=from_name,
        template_id=template_id,
        marketing=marketing,
    )
    j = None
    if journal is not None:
        from csframe.writers.journal import Journal

        j = Journal(Path(journal), lock=True)
    try:
        return _send_campaign(client, kind, payload, max_price, j, doubt_horizon, max_attempts)
    finally:
        if j is not None:
            j.close()


def _send_campaign(
    client: ClientLike,
    kind: str,
    payload: dict[str, Any],
    max_price: float | None,
    j: Journal | None,
    horizon: float,
    max_attempts: int,
) -> dict[str, Any]:
    signature = _signature(payload)
    meta = j.meta() if j is not None else {}
    if j is not None and meta:
        if meta.get("signature") != signature:
            from csframe.writers._common import JournalMismatch

            raise JournalMismatch(
                f"journal {str(j.path)!r} was written for a different campaign; use a new one"
            )
        if meta.get("state") == "sent":
            return {**meta["result"], "via": "journal"}
    token = meta.get("token") or new_run_id()
    media = payload.get("media_file")
    if kind == "mms" and media and not str(media).startswith(("http://", "https://")):
        from csframe.writers.uploads import upload_file

        payload = {**payload, "media_file": meta.get("media_url") or upload_file(
            client.session, media, convert="mms"
        )}  # fmt: skip
    if kind != "email":
        payload = {**payload, "custom_string": token}
    price = price_campaign(client, kind, **payload)
    if price["total_count"] == 0:
        raise PlanError(
            f"list {payload['list_id']} has no contact that can receive this {kind} campaign"
        )
    if max_price is not None and price["total_price"] > max_price:
        raise CampaignPriceError(
            f"the campaign would cost {price['total_price']:.4f} {price['currency'] or ''} for "
            f"{price['total_count']} messages, more than max_price={max_price}; nothing was sent"
        )
    balance = _balance(client)
    if balance is not None and price["total_price"] > balance:
        raise InsufficientCredit(
            f"the campaign would cost {price['total_price']:.4f} but the balance is "
            f"{balance:.4f}; nothing was sent",
            response_code="INSUFFICIENT_CREDIT",
        )
    before: set[int] | None = None
    if kind == "email":  # no custom_string: the new campaign is the one not there before
        known = meta.get("before")
        before = set(known) if known is not None else {
            r[ID_FIELD[kind]] for r in _find_email(client, payload)
        }  # fmt: skip
    if j is not None and not meta:
        j.set_meta(
            signature=signature,
            token=token,
            kind=kind,
            state="new",
            before=None if before is None else sorted(before),
        )
    # A previous run that died with the request in flight: look before sending again.
    if j is not None and meta.get("state") == "inflight":
        found = _resolve(client, kind, payload, token, before, meta.get("started", 0), horizon)
        if found is not None:
            return _done(j, kind, found, price, "lookup")
    attempt = 0
    while True:
        attempt += 1
        started = time.time()
        if j is not None:
            j.set_meta(state="inflight", started=started)
        try:
            data = client.session.post(f"/{kind}-campaigns/send", payload, idempotent=False)
        except RateLimited as exc:
            if attempt >= max_attempts:
                raise
            time.sleep(client.session.retry.delay(attempt - 1, exc.retry_after))
            continue
        except (InsufficientCredit, *_FATAL):
            if j is not None:
                j.set_meta(state="refused")
            raise
        except (ApiError, OSError, ValueError):
            found = _resolve(client, kind, payload, token, before, started, horizon)
            if found is not None:
                return _done(j, kind, found, price, "lookup")
            if attempt >= max_attempts:
                raise
            time.sleep(client.session.retry.delay(attempt - 1))
            continue
        return _done(j, kind, data or {}, price, "response")


def _find_email(client: ClientLike, payload: dict[str, Any]) -> list[dict[str, Any]]:
    name = str(payload["name"])
    if "," in name:  # the API's search separator: read them all
        records = _find(client, "email", "")
    else:
        records = _find(client, "email", f"name:{name}")
    return [
        r
        for r in records
        if str(r.get("name")) == name
        and int(r.get("list_id") or 0) == payload["list_id"]
        and str(r.get("subject")) == str(payload.get("subject"))
    ]


def _resolve(
    client: ClientLike,
    kind: str,
    payload: dict[str, Any],
    token: str,
    before: set[int] | None,
    started: float,
    horizon: float = 0.0,
) -> dict | None:
    """The campaign an unanswered send created, or None when a look made ``horizon``
    seconds after ``started`` still finds none (polled meanwhile: a late commit shows up)."""
    while True:
        looked_at = time.time()
        if kind == "email":
            known = before or set()  # always set for email (the ids there before the send)
            new = [r for r in _find_email(client, payload) if r[ID_FIELD[kind]] not in known]
        else:  # the search may be loose: only the exact token counts
            found = _find(client, kind, f"custom_string:{token}")
            new = [r for r in found if str(r.get("custom_string") or "") == token]
        if new:
            return new[0]
        wait = started + horizon - looked_at
        if wait <= 0:
            return None
        time.sleep(min(wait, 5.0))


def _done(
    j: Journal | None, kind: str, record: dict[str, Any], price: dict[str, Any], via: str
) -> dict:
    if isinstance(record.get("data"), dict) and ID_FIELD[kind] in record["data"]:
        # the email campaign answer wraps the record: {total_count, queued_count, data}
        outer = record
        record = {**outer["data"], "_total_count": outer.get("queued_count")}
    result = {
        "kind": kind,
        "campaign_id": record.get(ID_FIELD[kind]),
        "name": record.get("name"),
        "list_id": record.get("list_id"),
        "status": record.get("status"),
        "schedule": record.get("schedule"),
        "recipients": record.get("_total_count"),
        "quoted_price": price["total_price"],
        "quoted_count": price["total_count"],
        "currency": price["currency"],
        "via": via,
        "record": record,
    }
    if j is not None:
        j.set_meta(state="sent", result=result)
    return result


def _balance(client: ClientLike) -> float | None:
    try:
        data = client.session.get("/account", expire_after=DO_NOT_CACHE)
        return float(data.get("balance"))
    except (ApiError, TypeError, ValueError, AttributeError):
        return None


def cancel_campaign(client: ClientLike, campaign_id: int, kind: str = "sms") -> dict[str, Any]:
    """Cancel a scheduled campaign (``PUT /{kind}-campaigns/{id}/cancel``); its record.

    An unanswered cancel is checked by reading the campaign back (cancelling twice is an
    error in the API, so it is never simply repeated).

    Example::

        cancel_campaign(cs, 12)["status"]      # 'Cancelled'
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if isinstance(campaign_id, bool) or not isinstance(campaign_id, int) or campaign_id <= 0:
        raise ValueError(f"campaign_id must be a positive integer, got {campaign_id!r}")
    path = f"/{kind}-campaigns/{campaign_id}"
    try:
        data, _ = client.session.request("PUT", path + "/cancel", json={}, idempotent=False)
        return data
    except (ApiError, OSError) as exc:
        if isinstance(exc, _FATAL) and getattr(exc, "status", None) != 400:
            raise
        current = client.session.get(path, expire_after=DO_NOT_CACHE)
        if str((current or {}).get("status")) == "Cancelled":
            return current
        raise
