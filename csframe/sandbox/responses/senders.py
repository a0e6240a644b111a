"""Senders, short-URL statistics, number registrations and account sign-up: the operations
of the OpenAPI description that had no route.

- ``GET|POST /senders/default-senders``, ``GET|PATCH|DELETE /senders/default-senders/{id}``:
  one default sender per (recipient country, product), cursor paging (``offset`` = the
  last id seen, ``per_page`` 1..100, ``sort_by``, ``sort_direction``), validated as the
  ``create_default_sender_request`` schema says (400 with ``details`` per field);
- ``GET /senders/compliant-sender-types``: a fixed table per recipient country;
- ``GET /short-url/statistics/{source}/{source_id}``, ``GET /short-url/tracking/{long_url_id}``:
  deterministic link statistics derived from the ids (the sandbox shortens no URLs), without
  the envelope (their schemas and the SDK's models have none);
- ``POST /numbers/registrations/number-types/{number_type}/country/{country_code}``: the
  eight fields of ``register_numbers_request`` are required; nothing else happens;
- ``POST /account``: the reference's sign-up; the new account exists only in the answer
  (``active: 0`` until verified, as the reference says), no login is created.

Example::

    POST /v3/senders/default-senders
    {"country_code": "AU", "product_type": "SMS",
     "default_sender_strategies": [{"sender_id": "ACME", "sender_type": "alpha_tag"}]}
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csframe.sandbox import models_collections as coll
from csframe.sandbox.models import format_uuid
from csframe.sandbox.pricing import COUNTRIES, CURRENCY
from csframe.sandbox.responses.common import (
    ApiError,
    authenticate,
    endpoint,
    envelope,
    object_body,
    store_of,
)
from csframe.sandbox.seed import ACCOUNT_SETTINGS

DEFAULT_SENDERS = "default_senders"
SENDER_TYPES = (
    "alpha_tag",
    "10DLC",
    "tollfree",
    "own_number",
    "shortcode",
    "longcode",
    "shared_longcode",
)
_ALPHA = re.compile(r"^(?=.*[A-Za-z+])[A-Za-z0-9+]{3,11}$")
_SHORTCODE = re.compile(r"^\d{3,8}$")
_NUMBER = re.compile(r"^\+?\d{2,15}$")
OK = "Operation completed successfully"


def _ts(store: Any) -> str:
    return datetime.fromtimestamp(store.clock.now(), UTC).strftime("%Y-%m-%d %H:%M:%S+00:00")


def _sender_error(details: list[dict[str, str]]) -> Response:
    body = {
        "http_code": 400,
        "response_code": "BAD_REQUEST",
        "response_msg": "Failed to process default sender",
        "data": None,
        "details": details,
    }
    return Response(orjson.dumps(body), status_code=400, media_type="application/json")


def _strategies(payload: dict[str, Any], details: list[dict[str, str]]) -> list[dict[str, Any]]:
    items = payload.get("default_sender_strategies")
    if not isinstance(items, list) or len(items) != 1:
        details.append(
            {"field": "default_sender_strategies", "reason": "Must contain exactly 1 element"}
        )
        return []
    item = items[0] if isinstance(items[0], dict) else {}
    name = "default_sender_strategies[0]"
    kind, sender = item.get("sender_type"), item.get("sender_id")
    if kind not in SENDER_TYPES:
        details.append({"field": f"{name}.sender_type", "reason": "Sender type is required"})
    sender = "" if sender is None else str(sender)
    valid = {
        "alpha_tag": _ALPHA.match(sender),
        "shortcode": _SHORTCODE.match(sender),
        "shared_longcode": True,
    }.get(kind, _NUMBER.match(sender))
    if kind in SENDER_TYPES and not valid:
        details.append({"field": f"{name}.sender_id", "reason": "Invalid sender ID format"})
    note = item.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > 200):
        details.append({"field": f"{name}.note", "reason": "At most 200 characters"})
    out = {
        "sender_type": kind,
        "sender_id": sender,
        "priority": 1,
        "status": "ENABLED",
        "note": note,
    }
    if item.get("sender_country_code") is not None:
        out["sender_country_code"] = str(item["sender_country_code"]).upper()
    return [out]


@endpoint
async def default_senders(request: Request) -> Response:
    """``GET`` (cursor paging) and ``POST`` (create) ``/senders/default-senders``."""
    who = authenticate(request)
    store = store_of(request)
    if request.method == "POST":
        payload = await object_body(request)
        details: list[dict[str, str]] = []
        country = str(payload.get("country_code") or "").upper()
        if len(country) != 2 or not country.isalpha():
            details.append(
                {"field": "country_code", "reason": "Must be an ISO 3166-1 alpha-2 code"}
            )
        if payload.get("product_type") != "SMS":
            details.append({"field": "product_type", "reason": "Must be SMS"})
        strategies = _strategies(payload, details)
        if details:
            return _sender_error(details)
        if any(
            r["country_code"] == country and r["product_type"] == "SMS"
            for r in coll.all_items(store, DEFAULT_SENDERS, who.user_id)
        ):
            return _sender_error(
                [{"field": "country_code", "reason": "A default sender exists for this country"}]
            )
        n = coll.next_counter(store, "default_sender_ids")
        now = _ts(store)
        rec = {
            "id": format_uuid(
                int(hashlib.sha256(f"ds:{who.user_id}:{n}".encode()).hexdigest()[:32], 16)
            ).lower(),
            "user_id": who.user_id,
            "subaccount_id": who.subaccount_id,
            "country_code": country,
            "product_type": "SMS",
            "default_sender_strategies": strategies,
            "status": "ENABLED",
            "created_timestamp": now,
            "updated_timestamp": now,
        }
        coll.add_items(store, DEFAULT_SENDERS, who.user_id, "id", [rec])
        return envelope(rec, OK)
    params = request.query_params
    try:
        per_page = int(params.get("per_page") or 10)
    except ValueError:
        raise ApiError(400, "BAD_REQUEST", "per_page must be an integer.") from None
    if not 1 <= per_page <= 100:
        raise ApiError(400, "BAD_REQUEST", "per_page must be between 1 and 100.")
    records = coll.all_items(store, DEFAULT_SENDERS, who.user_id)
    sort_by = params.get("sort_by") or "created_timestamp"
    keys = (
        "id",
        "country_code",
        "product_type",
        "status",
        "created_timestamp",
        "updated_timestamp",
    )
    if sort_by not in keys:
        raise ApiError(
            400, "BAD_REQUEST", f"Invalid sort_by: {sort_by!r}. Sortable: {', '.join(keys)}."
        )
    direction = (params.get("sort_direction") or "asc").lower()
    if direction not in ("asc", "desc"):
        raise ApiError(400, "BAD_REQUEST", "sort_direction must be asc or desc.")
    records.sort(key=lambda r: (str(r.get(sort_by)), r["id"]), reverse=direction == "desc")
    offset = params.get("offset")
    if offset:
        ids = [r["id"] for r in records]
        if offset not in ids:
            raise ApiError(400, "BAD_REQUEST", "offset is not an id of this list.")
        records = records[ids.index(offset) + 1 :]
    page = records[:per_page]
    base = str(request.url.replace(query=""))
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "offset"]
    nxt = (
        f"{base}?{urlencode([*query, ('offset', page[-1]['id'])])}"
        if len(records) > per_page
        else None
    )
    data = {
        "data": page,
        "per_page": per_page,
        "self_page_url": str(request.url),
        "next_page_url": nxt,
    }
    return envelope(data, "Default senders retrieved successfully")


@endpoint
async def default_sender(request: Request) -> Response:
    """``GET``, ``PATCH`` (strategies) and ``DELETE`` ``/senders/default-senders/{id}``."""
    who = authenticate(request)
    store = store_of(request)
    sid = request.path_params["default_sender_id"]
    rec = coll.get_item(store, DEFAULT_SENDERS, who.user_id, sid)
    if rec is None:
        raise ApiError(404, "NOT_FOUND", "Default sender not found.")
    if request.method == "DELETE":
        coll.delete_item(store, DEFAULT_SENDERS, who.user_id, sid)
        return Response(status_code=204)
    if request.method == "PATCH":
        payload = await object_body(request)
        details: list[dict[str, str]] = []
        strategies = _strategies(payload, details)
        if details:
            return _sender_error(details)
        rec.update(default_sender_strategies=strategies, updated_timestamp=_ts(store))
        coll.put_item(store, DEFAULT_SENDERS, who.user_id, sid, rec)
    return envelope(rec, OK)


# Recipient country -> (blocked sender types, [(allowed type, global?, sender countries)]).
_COMPLIANT: dict[str, tuple[list[str], list[tuple[str, bool, list[str]]]]] = {
    "US": (
        ["alpha_tag", "shared_longcode"],
        [("10DLC", False, ["US"]), ("tollfree", False, ["US", "CA"]), ("shortcode", False, ["US"])],
    ),
    "CA": (
        ["alpha_tag"],
        [
            ("longcode", False, ["CA"]),
            ("tollfree", False, ["US", "CA"]),
            ("shortcode", False, ["CA"]),
        ],
    ),
}
_DEFAULT_COMPLIANT = (
    ["10DLC", "tollfree"],
    [("alpha_tag", True, []), ("longcode", False, ["AU", "NZ", "GB"]), ("own_number", True, []), ("shared_longcode", True, [])],
)  # fmt: skip


@endpoint
async def compliant_sender_types(request: Request) -> Response:
    """``GET /senders/compliant-sender-types`` (``filter[country_code][n]`` narrows it)."""
    authenticate(request)
    wanted = [
        v.upper()
        for k, v in request.query_params.multi_items()
        if k.startswith("filter[country_code]")
    ]
    product = request.query_params.get("filter[product_type]")
    if product not in (None, "", "SMS"):
        raise ApiError(400, "BAD_REQUEST", "filter[product_type] must be SMS.")
    countries = wanted or sorted(COUNTRIES)
    out = []
    for code in countries:
        blocked, allowed = _COMPLIANT.get(code, _DEFAULT_COMPLIANT)
        out.append(
            {
                "recipient_country_code": code,
                "blocked_sender_types": blocked,
                "allowed_sender_types": [
                    {
                        "sender_type": kind,
                        "allowed_sender_countries": {"global": True}
                        if glob
                        else {"global": False, "country_codes": codes},
                    }
                    for kind, glob, codes in allowed
                ],
            }
        )
    return envelope({"data": out}, "Compliant sender types retrieved successfully")


def _plain(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


def _h(*parts: Any) -> int:
    return int(hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:12], 16)


@endpoint
async def short_url_statistics(request: Request) -> Response:
    """``GET /short-url/statistics/{source}/{source_id}``: per-link opens (deterministic)."""
    authenticate(request)
    source, source_id = request.path_params["source"], request.path_params["source_id"]
    if source not in ("quick_sms", "sms_campaign", "mms_campaign"):
        raise ApiError(
            400, "BAD_REQUEST", "source must be quick_sms, sms_campaign or mms_campaign."
        )
    h = _h(source, source_id)
    total = 1 + h % 50
    unique = h % (total + 1)

    def labels(values: tuple[str, ...]) -> list[dict[str, Any]]:
        return [{"label": v, "count": (h >> i) % (unique + 1)} for i, v in enumerate(values)]

    data = [
        {
            "long_url_id": f"{source}-{format_uuid(h).lower()}",
            "links": {
                "total": total,
                "opened_unique": unique,
                "opened_total": unique + h % 7,
                "unopened": total - unique,
            },
            "device": labels(("mobile", "desktop")),
            "os": labels(("android", "ios")),
            "browser": labels(("chrome", "safari")),
            "country": labels(("AU", "NZ")),
            "region": labels(("victoria", "new_south_wales")),
        }
    ]
    # No envelope: the OpenAPI schema (get-statistics) and the official SDK's model say so.
    return _plain({"data": data})


@endpoint
async def short_url_tracking(request: Request) -> Response:
    """``GET /short-url/tracking/{long_url_id}``: who opened the link (deterministic)."""
    authenticate(request)
    long_url_id = request.path_params["long_url_id"]
    h = _h("tracking", long_url_id)
    n = h % 6
    rows = [
        {
            "open_count": 1 + (h >> i) % 5,
            "date_opened": 1_733_981_414 + i * 3_600,
            "user_geo_country": "AU",
            "user_geo_region": "victoria",
            "user_device": "mobile",
            "user_browser": "chrome",
            "user_os": ("android", "ios")[i % 2],
            "contact": {
                "contact_id": str(100_000 + (h >> i) % 900_000),
                "first_name": "",
                "last_name": "",
                "phone_number": f"+614{(h >> i) % 10**8:08d}",
            },
        }
        for i in range(n)
    ]
    # No envelope either (get-tracking); no prev/next URL: one page.
    return _plain({"total": n, "per_page": 20, "current_page_size": n, "data": rows})


REGISTRATION_FIELDS = (
    "full_name",
    "company_name",
    "email",
    "website_url",
    "sample_message",
    "primary_use_case",
    "company_number",
    "area_code",
)


@endpoint
async def register_numbers(request: Request) -> Response:
    """``POST /numbers/registrations/number-types/{type}/country/{country}``."""
    authenticate(request)
    payload = await object_body(request)
    missing = [f for f in REGISTRATION_FIELDS if not str(payload.get(f) or "").strip()]
    if missing:
        raise ApiError(400, "MISSING_REQUIRED_FIELDS", f"Required: {', '.join(missing)}.")
    if request.path_params["country_code"].upper() not in COUNTRIES:
        raise ApiError(400, "COUNTRY_NOT_ENABLED", "This country is not enabled on your account.")
    return envelope(None, "Number registration notification sent successfully.")


ACCOUNT_FIELDS = (
    "username",
    "password",
    "user_email",
    "user_phone",
    "user_first_name",
    "user_last_name",
    "account_name",
    "country",
)


@endpoint
async def create_account(request: Request) -> Response:
    """``POST /account`` (no credentials: it is how an account is made)."""
    payload = await object_body(request)
    missing = [f for f in ACCOUNT_FIELDS if not str(payload.get(f) or "").strip()]
    if missing:
        raise ApiError(400, "MISSING_REQUIRED_FIELDS", f"Required: {', '.join(missing)}.")
    store = store_of(request)
    username = str(payload["username"])
    if store.principal(username) is not None:
        raise ApiError(400, "ALREADY_EXISTS", "The resource you're trying to add already exists.")
    h = _h("account", username)
    email = str(payload["user_email"])
    data = {
        "user_id": 100_000 + h % 900_000,
        "username": username,
        "user_email": email,
        "active": 0,
        "banned": 0,
        "balance": "0.000000",
        "user_phone": str(payload["user_phone"]),
        "reply_to": "originalemail",
        "delivery_to": None,
        "user_first_name": str(payload["user_first_name"]),
        "user_last_name": str(payload["user_last_name"]),
        "account": 0,
        "account_name": str(payload["account_name"]),
        "account_billing_email": email,
        "account_billing_mobile": str(payload["user_phone"]),
        "country": str(payload["country"]).upper(),
        "default_country_sms": str(payload["country"]).upper(),
        **ACCOUNT_SETTINGS,
        "_currency": dict(CURRENCY),
        "_subaccount": {
            "subaccount_id": 100_000 + (h >> 20) % 900_000,
            "api_username": username,
            "email": email,
            "phone_number": str(payload["user_phone"]),
            "first_name": str(payload["user_first_name"]),
            "last_name": str(payload["user_last_name"]),
            "api_key": format_uuid(_h("account-key", username) << 80),
            **{f"access_{a}": 1 for a in ACCESS},
            "share_campaigns": 0,
            "notes": None,
        },
    }
    return envelope(data, "Successfully created an account.")


ACCESS = (
    "users",
    "billing",
    "reporting",
    "contacts",
    "settings",
    "sms",
    "email",
    "voice",
    "fax",
    "post",
    "reseller",
    "mms",
)


routes = [
    Route("/v3/senders/default-senders", default_senders, methods=["GET", "POST"]),
    Route(
        "/v3/senders/default-senders/{default_sender_id}",
        default_sender,
        methods=["GET", "PATCH", "DELETE"],
    ),
    Route("/v3/senders/compliant-sender-types", compliant_sender_types, methods=["GET"]),
    Route("/v3/short-url/statistics/{source}/{source_id}", short_url_statistics, methods=["GET"]),
    Route("/v3/short-url/tracking/{long_url_id}", short_url_tracking, methods=["GET"]),
    Route(
        "/v3/numbers/registrations/number-types/{number_type}/country/{country_code}",
        register_numbers,
        methods=["POST"],
    ),
    Route("/v3/account", create_account, methods=["POST"]),
]
