"""Account extras: subaccounts, recharges, and the account area's reference data.

- ``GET|POST /subaccounts``, ``GET|PUT|DELETE /subaccounts/{id}``,
  ``PUT /subaccounts/{id}/regen-api-key``: the account's logins (see models_account).
  Managing subaccounts needs ``access_users`` (the main login has it; the seeded
  subaccounts do not: 403), except that any login may regenerate its own key.
- ``GET /recharge/transactions[/{id}]`` (newest first), ``GET /recharge/packages``,
  ``PUT /recharge/purchase/{package_id}`` (records a transaction, credits the balance),
  ``GET|PUT /recharge/credit-card``: need ``access_billing``.
- ``GET /countries``, ``/country-list``, ``/timezones``; ``GET|POST /user-countries``
  and ``POST /user-countries/agree`` (the global-sending selection; seeded with the
  countries the account sends to).
- ``PUT /forgot-username``, ``/forgot-password``, ``/forgot-password/verify`` (no auth,
  always "sent": they never reveal whether an account exists), ``PUT /account-verify/send``
  and ``PUT /account-verify/verify/{token}``.

Example::

    POST /v3/subaccounts {"api_username": "ops", "password": "x", "email": "ops@acme.example",
                          "phone_number": "0411 111 111", "first_name": "O", "last_name": "P"}
    -> data.api_key: the new login's key; GET /v3/account with ("ops", key) now works
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csframe.sandbox import models_account as accounts
from csframe.sandbox import models_collections as coll
from csframe.sandbox.models import Principal
from csframe.sandbox.pricing import COUNTRIES, CURRENCY, PRICE_MICROS, fmt_money
from csframe.sandbox.refdata import COUNTRIES as ISO_COUNTRIES
from csframe.sandbox.refdata import TIMEZONES
from csframe.sandbox.responses.common import (
    ApiError,
    authenticate,
    endpoint,
    envelope,
    json_body,
    ordering,
    pagination,
    paging,
    query_records,
    search,
    store_of,
    wants_query,
)

# What q= and order_by= accept on GET /recharge/transactions (a transaction's keys).
TRANSACTION_FIELDS = ("invoice_number", "amount", "currency", "date")
SUBACCOUNT_FIELDS = (
    "subaccount_id",
    *accounts.TEXT_FIELDS,
    "api_key",
    *accounts.ACCESS_FIELDS,
    "notes",
    "is_main",
)
REQUIRED = ("api_username", "password", "email", "phone_number", "first_name", "last_name")
_USERNAME = re.compile(r"^[A-Za-z0-9_.@+-]{3,64}$")


def require(who: Principal, request: Request, flag: str) -> None:
    """403 unless the caller's login has ``flag`` (e.g. ``access_users``)."""
    if not store_of(request).subaccount_info(who.subaccount_id).get(flag):
        raise ApiError(403, "FORBIDDEN", f"This login does not have {flag.replace('_', ' ')}.")


def paged(request: Request, records: list[dict[str, Any]], msg: str) -> Response:
    """A paginated envelope of in-memory records, with ``q=`` and ``order_by=`` over fields."""
    fields = {k: k for r in records[:1] for k in r} or {"_": "_"}
    page, limit = paging(request)
    filters, operator = search(request, fields)
    order = request.query_params.get("order_by")
    order_field, order_dir = ordering(request, fields, default="") if order else (None, "asc")
    q = coll.ItemQuery(page, limit, filters, operator, order_field, order_dir)
    rows = coll.filter_sort(records, q)
    data = pagination(request, len(rows), page, limit, len(coll.page_of(rows, q)))
    data["data"] = coll.page_of(rows, q)
    return envelope(data, msg)


def int_param(request: Request, name: str) -> int:
    try:
        return int(request.path_params[name])
    except ValueError:
        raise ApiError(404, "NOT_FOUND", f"{name} must be an integer.") from None


def normalise_phone(raw: str, country: str = "AU") -> str:
    """``+`` and digits: national numbers get the account country's calling code.

    Example::

        >>> normalise_phone("941-751-3278")     # as the reference's own example
        '+619417513278'
        >>> normalise_phone("0411 111 111"), normalise_phone("+1 (415) 555-0100")
        ('+61411111111', '+14155550100')
    """
    digits = re.sub(r"\D", "", raw)
    if raw.strip().startswith("+"):
        return "+" + digits
    return "+" + COUNTRIES[country].calling_code + digits.removeprefix("0")


def subaccount_fields(payload: Any, *, partial: bool) -> dict[str, Any]:
    """Validated writable fields of a POST/PUT /subaccounts body."""
    if not isinstance(payload, dict):
        raise ApiError(400, "BAD_REQUEST", "The request body must be a JSON object.")
    if not partial:
        missing = [f for f in REQUIRED if not str(payload.get(f) or "").strip()]
        if missing:
            raise ApiError(
                400, "MISSING_REQUIRED_FIELDS", f"Missing required fields: {', '.join(missing)}."
            )
    out: dict[str, Any] = {}
    for name in accounts.TEXT_FIELDS:
        if payload.get(name) is not None:
            value = str(payload[name]).strip()
            if not value:
                raise ApiError(400, "BAD_REQUEST", f"{name} must not be empty.")
            out[name] = value
    if "api_username" in out and not _USERNAME.match(out["api_username"]):
        raise ApiError(400, "BAD_REQUEST", "api_username: 3-64 letters, digits or _.@+-")
    if "email" in out and "@" not in out["email"]:
        raise ApiError(400, "BAD_REQUEST", "email is not a valid email address.")
    if "phone_number" in out:
        out["phone_number"] = normalise_phone(out["phone_number"])
        if not 8 <= len(out["phone_number"]) <= 16:
            raise ApiError(400, "BAD_REQUEST", "phone_number is not a valid phone number.")
    for name in accounts.ACCESS_FIELDS:
        if payload.get(name) is not None:
            if payload[name] not in (0, 1, "0", "1", True, False):
                raise ApiError(400, "BAD_REQUEST", f"{name} must be 0 or 1.")
            out[name] = int(payload[name])
    if "notes" in payload:
        out["notes"] = None if payload["notes"] is None else str(payload["notes"])
    return out


# ---------------------------------------------------------------------- subaccounts


@endpoint
async def list_subaccounts(request: Request) -> Response:
    who = authenticate(request)
    require(who, request, "access_users")
    records = accounts.subaccounts(store_of(request), who.user_id)
    return paged(request, records, "Here are your data.")


@endpoint
async def create_subaccount(request: Request) -> Response:
    who = authenticate(request)
    require(who, request, "access_users")
    fields = subaccount_fields(await json_body(request), partial=False)
    store = store_of(request)
    with store._lock:
        if accounts.username_taken(store, fields["api_username"]):
            raise ApiError(400, "ALREADY_EXISTS", "This api_username is already taken.")
        info = accounts.create_subaccount(store, who.user_id, fields)
    return envelope(info, "New account has been created.")


@endpoint
async def get_subaccount(request: Request) -> Response:
    who = authenticate(request)
    require(who, request, "access_users")
    info = accounts.subaccount(store_of(request), who.user_id, int_param(request, "subaccount_id"))
    if info is None:
        raise ApiError(404, "NOT_FOUND", "Subaccount not found.")
    return envelope(info, "Here are your data.")


@endpoint
async def update_subaccount(request: Request) -> Response:
    who = authenticate(request)
    require(who, request, "access_users")
    sid = int_param(request, "subaccount_id")
    fields = subaccount_fields(await json_body(request), partial=True)
    store = store_of(request)
    with store._lock:
        if "api_username" in fields and accounts.username_taken(
            store, fields["api_username"], except_id=sid
        ):
            raise ApiError(400, "ALREADY_EXISTS", "This api_username is already taken.")
        info = accounts.update_subaccount(store, who.user_id, sid, fields)
    if info is None:
        raise ApiError(404, "NOT_FOUND", "Subaccount not found.")
    return envelope(info, f"Subaccount #{sid} has been updated.")


@endpoint
async def delete_subaccount(request: Request) -> Response:
    who = authenticate(request)
    require(who, request, "access_users")
    sid = int_param(request, "subaccount_id")
    store = store_of(request)
    info = accounts.subaccount(store, who.user_id, sid)
    if info is None:
        raise ApiError(404, "NOT_FOUND", "Subaccount not found.")
    if info.get("is_main"):
        raise ApiError(403, "FORBIDDEN", "The main subaccount cannot be deleted.")
    accounts.delete_subaccount(store, who.user_id, sid)
    return envelope(True, f"Subaccount #{sid} has been deleted")


@endpoint
async def regen_api_key(request: Request) -> Response:
    who = authenticate(request)
    sid = int_param(request, "subaccount_id")
    if sid != who.subaccount_id:
        require(who, request, "access_users")
    key = accounts.regenerate_key(store_of(request), who.user_id, sid)
    if key is None:
        raise ApiError(404, "NOT_FOUND", "Subaccount not found.")
    return envelope({"api_key": key}, "Your API Key has been regenerated.")


# ---------------------------------------------------------------------- recharge


@endpoint
async def list_transactions(request: Request) -> Response:
    who = authenticate(request)
    require(who, request, "access_billing")
    page, limit = paging(request)
    if wants_query(request):
        _, every = accounts.transactions(store_of(request), who.user_id, 1, 2**31)
        matching = query_records(request, every, TRANSACTION_FIELDS)
        total, rows = len(matching), matching[(page - 1) * limit : page * limit]
    else:
        total, rows = accounts.transactions(store_of(request), who.user_id, page, limit)
    data = pagination(request, total, page, limit, len(rows))
    data["data"] = rows
    return envelope(data, "Here are your transactions.")


@endpoint
async def get_transaction(request: Request) -> Response:
    who = authenticate(request)
    require(who, request, "access_billing")
    row = accounts.transaction(
        store_of(request), who.user_id, request.path_params["transaction_id"]
    )
    if row is None:
        raise ApiError(404, "NOT_FOUND", "Transaction not found.")
    return envelope(row, "Here is your transaction.")


# Top-up packages: (package_id, price in dollars). Quantities follow from the prices.
PACKAGES = ((1, 20), (2, 50), (3, 100), (4, 250), (5, 500), (6, 1000), (7, 2500), (8, 5000))
# Non-SMS unit prices (AUD) of the package table; SMS comes from the price list.
UNIT_PRICES = {
    "voice_mobile": 0.099,
    "voice_landline": 0.0583,
    "mms": 0.429,
    "fax": 0.198,
    "email": 0.033,
    "post_letter_black": 1.397,
    "post_letter_colour": 1.617,
    "postcard": 2.2,
}


def package(package_id: int, dollars: int, country: str) -> dict[str, Any]:
    sms = PRICE_MICROS[country] / 1e6
    q = {k: int(dollars // v) for k, v in UNIT_PRICES.items()}
    return {
        "package_id": package_id,
        "package_price": f"{dollars}.00",
        "price_rate": 0,
        "sms_price": sms,
        "sms_quantity": int(dollars // sms),
        "price_sms_carrier_fee": None,
        "voice_mobile_price": UNIT_PRICES["voice_mobile"],
        "voice_mobile_quantity": q["voice_mobile"],
        "voice_landline_price": UNIT_PRICES["voice_landline"],
        "voice_landline_quantity": q["voice_landline"],
        "mms_price": UNIT_PRICES["mms"],
        "mms_quantity": q["mms"],
        "price_mms_carrier_fee": None,
        "fax_price": UNIT_PRICES["fax"],
        "fax_quantity": q["fax"],
        "email_price": UNIT_PRICES["email"],
        "email_quantity": q["email"],
        "post_letter_black_price": UNIT_PRICES["post_letter_black"],
        "post_letter_colour_price": UNIT_PRICES["post_letter_colour"],
        "post_page_black_price": 0.11,
        "post_page_colour_price": 0.264,
        "post_letter_black_quantity": q["post_letter_black"],
        "post_letter_colour_quantity": q["post_letter_colour"],
        "post_direct_mail_dl_price": 0.44,
        "post_direct_mail_a5_price": 0.66,
        "post_direct_mail_min_quantity": 5000,
        "postcard_price": UNIT_PRICES["postcard"],
        "postcard_quantity": q["postcard"],
        "automation_price": 0.0,
    }


@endpoint
async def packages(request: Request) -> Response:
    who = authenticate(request)
    require(who, request, "access_billing")
    country = (request.query_params.get("country") or "AU").strip().upper()
    if country not in PRICE_MICROS:
        raise ApiError(400, "BAD_REQUEST", f"country {country!r} is not supported.")
    data = {"packages": [package(i, d, country) for i, d in PACKAGES], "_currency": CURRENCY}
    return envelope(data, "List of Packages.")


@endpoint
async def purchase(request: Request) -> Response:
    who = authenticate(request)
    require(who, request, "access_billing")
    prices = dict(PACKAGES)
    package_id = int_param(request, "package_id")
    if package_id not in prices:
        raise ApiError(404, "NOT_FOUND", "Package not found.")
    store = store_of(request)
    now = store.clock.now()
    dollars = prices[package_id]
    accounts.purchase(store, who.user_id, dollars * 100, CURRENCY["currency_name_short"], now)
    data = {
        "user_id": who.user_id,
        "amount": dollars,  # integers, as the OpenAPI types them
        "currency": CURRENCY["currency_name_short"],
        "amount_aud": dollars,
        "date": now,
    }
    return envelope(data, f"Successfully purchased a package #{package_id}")


DEFAULT_CARD = {
    "display_number": "XXXX-XXXX-XXXX-4242",
    "expiry_month": 8,
    "expiry_year": 2029,
    "name": "Alex Morgan",
}


@endpoint
async def credit_card(request: Request) -> Response:
    who = authenticate(request)
    require(who, request, "access_billing")
    store = store_of(request)
    card = coll.get_item(store, "credit_card", who.user_id, who.user_id)
    if request.method == "GET":
        card = dict(card or DEFAULT_CARD)
        card.pop("token", None)
        card.pop("user_id", None)
        return envelope(card, "Customer payment info.")
    payload = await json_body(request)
    if not isinstance(payload, dict):
        raise ApiError(400, "BAD_REQUEST", "The request body must be a JSON object.")
    number = re.sub(r"\D", "", str(payload.get("number") or ""))
    try:
        month, year = int(payload.get("expiry_month")), int(payload.get("expiry_year"))
    except (TypeError, ValueError):
        month, year = 0, 0
    if not 12 <= len(number) <= 19 or not 1 <= month <= 12 or year < 1:
        raise ApiError(400, "BAD_REQUEST", "Invalid card number or expiry date.")
    token = "cus_" + accounts.new_invoice(store).replace("-", "")[:22]
    record = {
        "user_id": who.user_id,
        "display_number": f"XXXX-XXXX-XXXX-{number[-4:]}",
        "expiry_month": month,
        "expiry_year": year if year > 99 else 2000 + year,
        "name": str(payload.get("name") or ""),
        "token": token,
    }
    with store._lock:
        coll.delete_item(store, "credit_card", who.user_id, who.user_id)
        coll.add_items(store, "credit_card", who.user_id, "user_id", [record])
    return envelope({"token": token}, "Your payment info has been updated.")


# ---------------------------------------------------------------------- reference data

COUNTRY_IDS = {code: i for i, (code, _, _) in enumerate(ISO_COUNTRIES, 1)}


@endpoint
async def countries(request: Request) -> Response:
    # Public: the OpenAPI gives GET /countries no security, and the official SDK's
    # view_countries() sends no credentials.
    data = [{"code": code, "value": name} for code, name, _ in ISO_COUNTRIES]
    return envelope(data, "List of Countries.")


def country_item(code: str) -> dict[str, Any]:
    _, name, region = ISO_COUNTRIES[COUNTRY_IDS[code] - 1]
    return {"id": COUNTRY_IDS[code], "name": name, "code": code, "region": region}


@endpoint
async def country_list(request: Request) -> Response:
    authenticate(request)
    return envelope([country_item(c) for c, _, _ in ISO_COUNTRIES], "List of Countries.")


@endpoint
async def timezones(request: Request) -> Response:
    authenticate(request)
    return envelope(list(TIMEZONES), "List of timezones.")


def user_country(code: str, agreed_at: int | None) -> dict[str, Any]:
    """One global-sending country (the OpenAPI's user-countries item)."""
    restricted = code not in PRICE_MICROS  # the sandbox only prices these destinations
    return {
        **country_item(code),
        "agreed_at": agreed_at,
        "registration_entity": None,
        "registration_status": {"id": 1, "name": "NOT_INITIATED"},
        "jotform_id": "",
        "sms_registration_type": 0,
        "block_registration": False,
        "block_leads": False,
        "trial_from_address": "",
        "restricted_sending": restricted,
        "trial_sending": 0,
        "trial_sending_description": "",
        "has_regulation_requirements": 0,
        "registration_steps_url": "https://help.clicksend.com/",
        "regulation_requirements_description": "",
    }


@endpoint
async def user_countries(request: Request) -> Response:
    who = authenticate(request)
    store = store_of(request)
    if request.url.path.endswith("/agree"):
        now = store_of(request).clock.now()
        with store._lock:
            for r in coll.all_items(store, "user_countries", who.user_id):
                if r.get("agreed_at") is None:
                    coll.put_item(
                        store, "user_countries", who.user_id, r["key"], r | {"agreed_at": now}
                    )
    elif request.method == "POST":
        payload = await json_body(request)
        ids = payload.get("country_list_ids") if isinstance(payload, dict) else None
        by_id = {i: code for code, i in COUNTRY_IDS.items()}
        if not isinstance(ids, list) or not ids or any(i not in by_id for i in ids):
            raise ApiError(400, "BAD_REQUEST", "country_list_ids must be a list of country ids.")
        with store._lock:
            old = {r["code"]: r for r in coll.all_items(store, "user_countries", who.user_id)}
            for code in old:
                coll.delete_item(store, "user_countries", who.user_id, f"{who.user_id}:{code}")
            keep = [
                old.get(by_id[i]) or {"key": f"{who.user_id}:{by_id[i]}", "code": by_id[i]}
                for i in dict.fromkeys(ids)
            ]
            coll.add_items(store, "user_countries", who.user_id, "key", keep)
    rows = coll.all_items(store, "user_countries", who.user_id)
    data = [user_country(r["code"], r.get("agreed_at")) for r in rows]
    return envelope(data, "Here are your countries selection.")


# ---------------------------------------------------------------------- verification


@endpoint
async def forgot(request: Request) -> Response:
    """forgot-username / forgot-password: always "sent" (never reveals an account)."""
    payload = await json_body(request)
    if not isinstance(payload, dict) or not any(str(v or "").strip() for v in payload.values()):
        raise ApiError(400, "MISSING_REQUIRED_FIELDS", "Some required fields are missing.")
    return envelope([], "An email notification has been sent.")


@endpoint
async def forgot_verify(request: Request) -> Response:
    payload = await json_body(request)
    if not isinstance(payload, dict) or not all(
        str(payload.get(k) or "").strip() for k in ("activation_token", "password")
    ):
        raise ApiError(400, "MISSING_REQUIRED_FIELDS", "Some required fields are missing.")
    return envelope([], "Your password has been updated.")


@endpoint
async def verify_send(request: Request) -> Response:
    who = authenticate(request)
    payload = await json_body(request)
    if not isinstance(payload, dict):
        raise ApiError(400, "BAD_REQUEST", "The request body must be a JSON object.")
    info, _ = store_of(request).account_info(who.user_id)
    kind = str(payload.get("type") or "sms")
    if kind not in ("sms", "voice"):
        raise ApiError(400, "BAD_REQUEST", "type must be sms or voice.")
    data = {
        "user_phone": str(payload.get("user_phone") or info["user_phone"]),
        "type": kind,
        "country": str(payload.get("country") or info["country"]),
    }
    return envelope(data, "Verification sent.")


@endpoint
async def verify_account(request: Request) -> Response:
    who = authenticate(request)
    store = store_of(request)
    info, balance = store.account_info(who.user_id)
    info["balance"] = fmt_money(balance)
    info.setdefault("unsubscribe_mail", 0)  # keys of the reference's answer
    info.setdefault("setting_beta", 0)
    info["_subaccount"] = store.subaccount_info(who.subaccount_id)
    return envelope(info, "You're account has been verified.")


routes = [
    Route("/v3/subaccounts", list_subaccounts, methods=["GET"]),
    Route("/v3/subaccounts", create_subaccount, methods=["POST"]),
    Route("/v3/subaccounts/{subaccount_id}", get_subaccount, methods=["GET"]),
    Route("/v3/subaccounts/{subaccount_id}", update_subaccount, methods=["PUT"]),
    Route("/v3/subaccounts/{subaccount_id}", delete_subaccount, methods=["DELETE"]),
    Route("/v3/subaccounts/{subaccount_id}/regen-api-key", regen_api_key, methods=["PUT"]),
    Route("/v3/recharge/transactions", list_transactions, methods=["GET"]),
    Route("/v3/recharge/transactions/{transaction_id}", get_transaction, methods=["GET"]),
    Route("/v3/recharge/packages", packages, methods=["GET"]),
    Route("/v3/recharge/purchase/{package_id}", purchase, methods=["PUT"]),
    Route("/v3/recharge/credit-card", credit_card, methods=["GET", "PUT"]),
    Route("/v3/countries", countries, methods=["GET"]),
    Route("/v3/country-list", country_list, methods=["GET"]),
    Route("/v3/timezones", timezones, methods=["GET"]),
    Route("/v3/user-countries", user_countries, methods=["GET", "POST"]),
    Route("/v3/user-countries/agree", user_countries, methods=["POST"]),
    Route("/v3/forgot-username", forgot, methods=["PUT"]),
    Route("/v3/forgot-password", forgot, methods=["PUT"]),
    Route("/v3/forgot-password/verify", forgot_verify, methods=["PUT"]),
    Route("/v3/account-verify/send", verify_send, methods=["PUT"]),
    Route("/v3/account-verify/verify/{activation_token}", verify_account, methods=["PUT"]),
]
