"""Generic collections: every other documented list endpoint, from one table of specs.

Each :class:`Collection` names a path, its id field, which operations exist, and the
reference's example record(s) (keys and order of endpoints.json's ``example_response``,
JSON types of the OpenAPI schema); the table and its seed are ``collections_spec.py``
(data only, so seeders need no response module). From the table this module builds the
routes:

- ``GET <path>``: the account's records. ``style="paged"``: the Laravel pagination
  block (``page``/``limit`` as everywhere, ``q=field:value`` exact and case-insensitive
  over the record's fields, ``operator``, ``order_by=field:asc|desc``; default order is
  creation order). ``style="array"``: ``data`` is the plain array (reference data).
  ``style="cursor"``: the newer endpoints (alpha tags, own numbers): no envelope,
  ``{<key>: [...], "_metadata": {"pagination": {"self", "next", "page_size"}}}`` with
  ``offset`` = the id after which to continue and ``page_size`` (default 10, 1..100).
- ``GET <path>/{id}``, ``POST <path>``, ``PUT|PATCH <path>/{id}``, ``DELETE <path>/{id}``
  where the reference has them. POST stores what was posted (the writable fields of the
  example record, coerced to the example's JSON types; unknown keys ignored) with a new
  id and the server-side fields (``user_id``, ``date_added``, timestamps); PUT changes
  only the fields given. Missing required fields -> 400 MISSING_REQUIRED_FIELDS; a value
  that cannot take the field's type -> 400 BAD_REQUEST; an unknown id -> 404.

Records belong to the caller's account (every login of the account sees them);
``global_`` collections (master templates, voice languages) are shared reference data.

Where a collection meets the rest of the sandbox the seed makes it coherent: SMS
templates are the bodies the history was sent from, alpha tags are the alphanumeric
senders of the history, dedicated numbers include the number the support login sends
from, delivery issues cite failed messages of the history, allowed email addresses are
the senders of the email campaigns.

Example::

    GET /v3/email/templates?q=template_name:Welcome&order_by=template_id:desc
    POST /v3/post/return-addresses {"address_name": "HQ", "address_line_1": "1 Main St", ...}
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csframe.sandbox import models_account as accounts
from csframe.sandbox import models_collections as coll
from csframe.sandbox.collections_spec import (
    ACCOUNT_EXAMPLE,
    BY_NAME,
    COLLECTIONS,
    Collection,
    iso_time,
    number_record,
    uuid_for,
)
from csframe.sandbox.models import Store
from csframe.sandbox.pricing import COUNTRIES, CURRENCY, NumberError, fmt_money, normalise_number
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

JSON = "application/json"


# ---------------------------------------------------------------------- records


def _coerce(spec: Collection, key: str, value: Any, like: Any) -> Any:
    """``value`` in the JSON type of ``like`` (the example's value), or 400."""
    if value is None or like is None:
        return value
    try:
        if isinstance(like, bool):
            if isinstance(value, bool) or value in (0, 1, "0", "1", "true", "false"):
                return value in (True, 1, "1", "true")
            raise ValueError
        if isinstance(like, int):
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and value != int(value):
                raise ValueError
            return int(value)
        if isinstance(like, float):
            return float(value)
        if isinstance(like, str):
            if isinstance(value, (dict, list)):
                raise ValueError
            return str(value)
        if isinstance(like, (dict, list)) and not isinstance(value, type(like)):
            raise ValueError
    except (TypeError, ValueError):
        raise ApiError(400, "BAD_REQUEST", f"{key} has the wrong type.") from None
    return value


def _fields(spec: Collection, payload: Any, *, create: bool) -> dict[str, Any]:
    """The writable fields of a body, coerced (and the required ones checked on create)."""
    if not isinstance(payload, dict):
        raise ApiError(400, "BAD_REQUEST", "The request body must be a JSON object.")
    payload = {spec.aliases.get(k, k): v for k, v in payload.items()}
    template = spec.examples[0]
    if create:
        missing = [k for k in spec.required if str(payload.get(k) or "").strip() == ""]
        if missing:
            raise ApiError(
                400, "MISSING_REQUIRED_FIELDS", f"Missing required fields: {', '.join(missing)}."
            )
    skip = {spec.id_field, *spec.server_fields}
    return {
        k: _coerce(spec, k, payload[k], template.get(k))
        for k in template
        if k in payload and k not in skip
    }


def _view(record: dict[str, Any], keys: tuple[str, ...] | None) -> dict[str, Any]:
    return record if keys is None else {k: record.get(k) for k in keys}


def _new_id(store: Store, spec: Collection, user_id: int) -> Any:
    if spec.id_kind == "uuid":
        return uuid_for(spec.name, store.seed_value, coll.next_counter(store, f"ids:{spec.name}"))
    return coll.next_int_id(store, spec.name)


def _item_id(spec: Collection, request: Request) -> Any:
    raw = request.path_params[spec.param]
    if spec.id_kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise ApiError(404, "NOT_FOUND", f"{spec.param} must be an integer.") from None
    return raw


def _server_fields(spec: Collection, record: dict[str, Any], user_id: int, now: int) -> None:
    """Fill what the server decides on create (by the example's types)."""
    template = spec.examples[0]
    for key in spec.server_fields:
        like = template.get(key)
        if key == "user_id":
            record[key] = uuid_for("user", user_id) if isinstance(like, str) else user_id
        elif key in ("account_id", "workspace_id"):
            record[key] = uuid_for("account", user_id)
        elif key == "date_added":
            record[key] = str(now) if isinstance(like, str) else now
        elif key.endswith("_timestamp"):
            record[key] = None if like is None else iso_time(now)
        elif key == "status":
            record[key] = "PENDING" if spec.style == "cursor" else None
        elif key == "balance":
            record[key] = fmt_money(0)
        else:
            record[key] = like if not isinstance(like, (dict, list)) else like
    if spec.name == "email_addresses":
        record["verified"] = 0
    if spec.name == "reseller_accounts":
        record["active"], record["banned"] = 0, 0


# ---------------------------------------------------------------------- handlers


def _not_found(spec: Collection) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"{spec.id_field} not found.")


def _plain(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=JSON)


def _list_handler(spec: Collection) -> Callable[[Request], Any]:
    @endpoint
    async def handler(request: Request) -> Response:
        who = authenticate(request)
        store = store_of(request)
        if spec.style == "cursor":
            return _cursor_page(spec, request, who.user_id)
        records = [
            _live(store, spec, r) for r in coll.all_items(store, spec.name, spec.owner(who.user_id))
        ]
        if spec.style == "array":
            return envelope([_view(r, spec.list_fields) for r in records], spec.msgs["L"])
        fields = {k: k for k in spec.examples[0]}
        page, limit = paging(request)
        filters, operator = search(request, fields)
        if request.query_params.get("order_by"):
            order_field, order_dir = ordering(request, fields, default="")
        else:
            order_field, order_dir = None, "asc"
        q = coll.ItemQuery(
            page, limit, filters, operator, order_field, order_dir, store.search_match
        )
        matching = coll.filter_sort(records, q)
        rows = [_view(r, spec.list_fields) for r in coll.page_of(matching, q)]
        for key, fn in spec.list_types.items():
            for r in rows:
                r[key] = fn(r[key])
        data = pagination(request, len(matching), page, limit, len(rows))
        data["data"] = rows
        data.update(spec.extra)
        return envelope(data, spec.msgs["L"])

    return handler


def _cursor_page(spec: Collection, request: Request, user_id: int) -> Response:
    """The newer endpoints' paging: ``offset`` = last id seen, ``page_size``."""
    params = request.query_params
    try:
        size = int(params.get("page_size") or 10)
    except ValueError:
        raise ApiError(400, "BAD_REQUEST", "page_size must be an integer.") from None
    if not 1 <= size <= 100:
        raise ApiError(400, "BAD_REQUEST", "page_size must be between 1 and 100.")
    records = coll.all_items(store_of(request), spec.name, user_id)
    statuses = {
        v.upper() for k, v in parse_qsl(request.url.query) if k.startswith("filter[status]")
    }
    if statuses:
        records = [r for r in records if str(r.get("status")).upper() in statuses]
    for key in ("alpha_tag", "phone_number"):
        wanted = params.get(f"filter[{key}]")
        if wanted:
            records = [r for r in records if str(r.get(key, "")).lower() == wanted.lower()]
    sort_by = params.get("sort_by") or "created_timestamp"
    if sort_by not in spec.examples[0]:
        raise ApiError(400, "BAD_REQUEST", f"Invalid sort_by: {sort_by!r}.")
    direction = (params.get("sort_direction") or "asc").lower()
    if direction not in ("asc", "desc"):
        raise ApiError(400, "BAD_REQUEST", "sort_direction must be asc or desc.")
    records = sorted(
        records, key=lambda r: (str(r.get(sort_by)), r["id"]), reverse=direction == "desc"
    )
    offset = params.get("offset")
    if offset:
        ids = [r["id"] for r in records]
        if offset not in ids:
            raise ApiError(400, "BAD_REQUEST", "offset is not an id of this list.")
        records = records[ids.index(offset) + 1 :]
    page, more = records[:size], len(records) > size
    base = str(request.url.replace(query=""))
    query = [(k, v) for k, v in parse_qsl(request.url.query) if k != "offset"]
    nxt = f"{base}?{urlencode([*query, ('offset', page[-1]['id'])])}" if more and page else ""
    return _plain(
        {
            spec.list_key: page,
            "_metadata": {"pagination": {"self": str(request.url), "next": nxt, "page_size": size}},
        }
    )


def _get_handler(spec: Collection) -> Callable[[Request], Any]:
    @endpoint
    async def handler(request: Request) -> Response:
        who = authenticate(request)
        rec = coll.get_item(
            store_of(request), spec.name, spec.owner(who.user_id), _item_id(spec, request)
        )
        if rec is None:
            raise _not_found(spec)
        rec = _view(_live(store_of(request), spec, rec), spec.get_fields)
        if spec.style == "cursor":
            return _plain(rec)
        return envelope(rec, spec.msgs["G"])

    return handler


def _create_handler(spec: Collection) -> Callable[[Request], Any]:
    @endpoint
    async def handler(request: Request) -> Response:
        who = authenticate(request)
        fields = _fields(spec, await json_body(request), create=True)
        store = store_of(request)
        now = store.clock.now()
        with store._lock:
            record = _blank(spec)
            record |= fields
            record[spec.id_field] = _new_id(store, spec, who.user_id)
            _server_fields(spec, record, who.user_id, now)
            _derive(store, spec, record, who.user_id)
            coll.add_items(store, spec.name, spec.owner(who.user_id), spec.id_field, [record])
        shown = _view(record, spec.create_fields)
        if spec.style == "cursor":
            return _plain(shown)
        return envelope(shown, spec.msgs["C"])

    return handler


def _blank(spec: Collection) -> dict[str, Any]:
    """A new record before the body is applied: the example's keys, text fields blank,
    numbers and flags at the example's value (e.g. ``enabled: 1``), nested values kept."""
    out: dict[str, Any] = {}
    for key, value in spec.examples[0].items():
        out[key] = "" if isinstance(value, str) and key not in spec.server_fields else value
    return orjson.loads(orjson.dumps(out))  # a deep copy


def _derive(store: Store, spec: Collection, record: dict[str, Any], user_id: int) -> None:
    """Fields that come from elsewhere in the account (a template's master body...)."""
    if spec.name == "email_templates":
        master = coll.get_item(store, "email_master_templates", 0, record["template_id_master"])
        if master is None:
            raise ApiError(400, "BAD_REQUEST", "template_id_master is not a master template.")
        record["body"] = master["body"]
    if spec.name == "alpha_tags":  # "Abc123+" is stored as "Abc123", as the reference shows
        tag = record["alpha_tag"] = "".join(
            c for c in record["alpha_tag"] if c.isalnum() or c == " "
        )
        if not (1 <= len(tag) <= 11 and tag.replace(" ", "").isalnum()):
            raise ApiError(400, "BAD_REQUEST", "alpha_tag must be 1-11 letters or digits.")
    if spec.name == "reseller_accounts":
        if accounts.username_taken(store, record["username"]):
            raise ApiError(400, "ALREADY_EXISTS", "This username is already taken.")
        sub = dict(ACCOUNT_EXAMPLE["_subaccount"])
        sub.update(
            subaccount_id=61000 + record["user_id"],
            api_username=record["username"],
            email=record["user_email"],
            phone_number=record["user_phone"],
            first_name=record["user_first_name"],
            last_name=record["user_last_name"],
            api_key=accounts.new_api_key(store, record["username"]),
        )
        record["_subaccount"] = sub
        record["account_billing_email"] = record["user_email"]
        record["account_billing_mobile"] = record["user_phone"]
        record["default_country_sms"] = record["country"]
        # A real account that logs in at once with the key above. (The reference's create
        # example says active 0; a client its reseller made is taken as activated.)
        record["active"] = 1
        accounts.add_client_account(store, record)


def _client_changed(store: Store, old: dict[str, Any], record: dict[str, Any]) -> None:
    """PUT /reseller/accounts/{id}: the client's login follows its record."""
    sub = record["_subaccount"]
    if record["username"] != old["username"]:
        if accounts.username_taken(store, record["username"], except_id=sub["subaccount_id"]):
            raise ApiError(400, "ALREADY_EXISTS", "This username is already taken.")
        sub["api_username"] = record["username"]
    accounts.update_client_login(store, record)


def _live(store: Store, spec: Collection, record: dict[str, Any]) -> dict[str, Any]:
    """A reseller client's balance is its account's (sends and transfers move it)."""
    if spec.name == "reseller_accounts":
        return record | {"balance": fmt_money(store.balance(record["user_id"]))}
    return record


def _update_handler(spec: Collection) -> Callable[[Request], Any]:
    @endpoint
    async def handler(request: Request) -> Response:
        who = authenticate(request)
        item_id = _item_id(spec, request)
        fields = _fields(spec, await json_body(request), create=False)
        store = store_of(request)
        owner = spec.owner(who.user_id)
        with store._lock:
            rec = coll.get_item(store, spec.name, owner, item_id)
            if rec is None:
                raise _not_found(spec)
            old, rec = rec, rec | fields
            if spec.name == "reseller_accounts":
                _client_changed(store, old, rec)
            if "updated_timestamp" in rec:
                rec["updated_timestamp"] = iso_time(store.clock.now())
            coll.put_item(store, spec.name, owner, item_id, rec)
        if spec.style == "cursor":
            return _plain(rec)
        return envelope(_view(_live(store, spec, rec), spec.get_fields), spec.msgs["U"])

    return handler


def _delete_handler(spec: Collection) -> Callable[[Request], Any]:
    @endpoint
    async def handler(request: Request) -> Response:
        who = authenticate(request)
        store = store_of(request)
        item_id = _item_id(spec, request)
        owner = spec.owner(who.user_id)
        with store._lock:
            rec = coll.get_item(store, spec.name, owner, item_id)
            if rec is None:
                raise _not_found(spec)
            coll.delete_item(store, spec.name, owner, item_id)
        if spec.deleted == "no-content":
            return Response(status_code=204)
        if spec.deleted == "record":
            return _plain(rec)
        return envelope(spec.deleted, spec.msgs["D"])

    return handler


def _routes(spec: Collection) -> list[Route]:
    base, item = f"/v3{spec.path}", f"/v3{spec.path}/{{{spec.param}}}"
    out = []
    if "L" in spec.ops:
        out.append(Route(base, _list_handler(spec), methods=["GET"]))
    if "C" in spec.ops:
        out.append(Route(base, _create_handler(spec), methods=["POST"]))
    if "G" in spec.ops:
        out.append(Route(item, _get_handler(spec), methods=["GET"]))
    if "U" in spec.ops:
        out.append(Route(item, _update_handler(spec), methods=[spec.update_method]))
    if "D" in spec.ops:
        out.append(Route(item, _delete_handler(spec), methods=["DELETE"]))
    return out


# ---------------------------------------------------------------------- extra actions


@endpoint
async def master_templates_in_category(request: Request) -> Response:
    authenticate(request)
    try:
        category = int(request.path_params["category_id"])
    except ValueError:
        raise ApiError(404, "NOT_FOUND", "category_id must be an integer.") from None
    store = store_of(request)
    if coll.get_item(store, "email_master_categories", 0, category) is None:
        raise ApiError(404, "NOT_FOUND", "category_id not found.")
    rows = [
        {
            k: r[k]
            for k in (
                "template_id_master",
                "category_id",
                "template_name",
                "body",
                "date_added",
                "thumbnail",
            )
        }  # fmt: skip
        for r in coll.all_items(store, "email_master_templates", 0)
        if r["category_id"] == category
    ]
    return envelope(rows, "List of Email Templates By Category")


async def _email_address(request: Request) -> tuple[Store, int, dict[str, Any]]:
    who = authenticate(request)
    store = store_of(request)
    try:
        item_id = int(request.path_params["email_address_id"])
    except ValueError:
        raise ApiError(404, "NOT_FOUND", "email_address_id must be an integer.") from None
    rec = coll.get_item(store, "email_addresses", who.user_id, item_id)
    if rec is None:
        raise ApiError(404, "NOT_FOUND", "email_address_id not found.")
    return store, who.user_id, rec


def verification_token(seed_value: int, email_address_id: int) -> str:
    """The token a verification email would carry (exposed for tests: not guessable by API)."""
    return hashlib.sha256(f"verify:{seed_value}:{email_address_id}".encode()).hexdigest()[:12]


@endpoint
async def email_address_send(request: Request) -> Response:
    await _email_address(request)
    return envelope(None, "Verification email has been sent.")


@endpoint
async def email_address_verify(request: Request) -> Response:
    store, user_id, rec = await _email_address(request)
    token = request.path_params["activation_token"]
    if token != verification_token(store.seed_value, rec["email_address_id"]):
        raise ApiError(400, "BAD_REQUEST", "The activation token is invalid.")
    rec["verified"] = 1
    coll.put_item(store, "email_addresses", user_id, rec["email_address_id"], rec)
    return envelope(rec, "Email address verified.")


# What q= and order_by= accept on GET /numbers/search/{country} (an offer's keys).
NUMBER_FIELDS = (
    "country",
    "country_name",
    "dedicated_number",
    "price_setup",
    "price_monthly",
    "price_total",
)


def available_numbers(iso: str) -> list[dict[str, Any]]:
    """The numbers ``/numbers/search/{country}`` offers (deterministic per country)."""
    country = COUNTRIES[iso]
    setup, monthly = (0, 18.59) if iso == "AU" else (2.5, 20.71)
    digits = sum(country.national_lengths) // 2
    out = []
    for i in range(40):
        h = int(hashlib.sha256(f"available:{iso}:{i}".encode()).hexdigest()[:12], 16)
        national = str(h % 10 ** (digits - 1)).zfill(digits - 1)
        lead = {"AU": "4", "GB": "7", "NZ": "2"}.get(iso, "5" if iso != "US" else "2")
        out.append(
            {
                "country": iso,
                "country_name": country.name,
                "dedicated_number": f"+{country.calling_code}{lead}{national}",
                "price_setup": f"{setup:.4f}",
                "price_monthly": f"{monthly:.4f}",
                "price_total": f"{setup + monthly:.4f}",
                "address_requirement": None,
            }
        )
    return out


@endpoint
async def numbers_search(request: Request) -> Response:
    who = authenticate(request)
    iso = request.path_params["country"].upper()
    if iso not in COUNTRIES:
        raise ApiError(400, "COUNTRY_NOT_ENABLED", "This country is not enabled on your account.")
    owned = {
        r["dedicated_number"] for r in coll.all_items(store_of(request), "numbers", who.user_id)
    }
    rows = [r for r in available_numbers(iso) if r["dedicated_number"] not in owned]
    needle = (request.query_params.get("search") or "").strip()
    if needle:
        rows = [r for r in rows if needle in r["dedicated_number"]]
    if wants_query(request):
        rows = query_records(request, rows, NUMBER_FIELDS)
    page, limit = paging(request)
    shown = rows[(page - 1) * limit : page * limit]
    data = pagination(request, len(rows), page, limit, len(shown))
    data["data"] = shown
    data["_currency"] = CURRENCY
    return envelope(data, "Here are some numbers.")


@endpoint
async def numbers_buy(request: Request) -> Response:
    who = authenticate(request)
    store = store_of(request)
    raw = request.path_params["dedicated_number"]
    try:
        number, iso = normalise_number(raw if raw.startswith("+") else "+" + raw, None)
    except NumberError:
        raise ApiError(400, "INVALID_RECIPIENT", "This is not a valid number.") from None
    offer = next((r for r in available_numbers(iso) if r["dedicated_number"] == number), None)
    if offer is None:
        raise ApiError(404, "NOT_FOUND", "This number is not available.")
    cost = round(float(offer["price_total"]) * 1_000_000)
    with store._lock:
        if coll.get_item(store, "numbers", who.user_id, number) is not None:
            raise ApiError(400, "ALREADY_EXISTS", "You already own this number.")
        if store.balance(who.user_id) < cost:
            raise ApiError(400, "INSUFFICIENT_CREDIT", "You have reached the end of your credits.")
        guid = uuid_for("number", number)
        coll.add_items(store, "numbers", who.user_id, "dedicated_number",
                       [number_record(number, iso, f"{float(offer['price_monthly']):.2f}", guid)])  # fmt: skip
        store.set_balance(who.user_id, store.balance(who.user_id) - cost)
    data = {
        "dedicated_number": number,
        "country": iso,
        "price_total": f"{float(offer['price_total']):.2f}",
        "_price_setup": f"{float(offer['price_setup']):.2f}",
        "_price_monthly": f"{float(offer['price_monthly']):.2f}",
        "_currency": CURRENCY,
    }
    return envelope(data, "Here is your new number.")


@endpoint
async def reseller_transfer(request: Request) -> Response:
    """Move credit from the caller's account to one of its client accounts."""
    who = authenticate(request)
    payload = await json_body(request)
    if not isinstance(payload, dict):
        raise ApiError(400, "BAD_REQUEST", "The request body must be a JSON object.")
    try:
        client_id = int(payload.get("client_user_id"))
        amount = round(float(payload.get("balance")) * 1_000_000)
    except (TypeError, ValueError):
        raise ApiError(400, "MISSING_REQUIRED_FIELDS", "client_user_id and balance are required.") from None  # fmt: skip
    if amount <= 0:
        raise ApiError(400, "BAD_REQUEST", "balance must be positive.")
    store = store_of(request)
    with store._lock:
        client = coll.get_item(store, "reseller_accounts", who.user_id, client_id)
        if client is None:  # a body naming someone else: the request is wrong, not the URL
            raise ApiError(400, "BAD_REQUEST", "client_user_id is not one of your client accounts.")
        if store.balance(who.user_id) < amount:
            raise ApiError(400, "INSUFFICIENT_CREDIT", "You have reached the end of your credits.")
        with store.transaction():  # the client's account is credited what ours is debited
            store.set_balance(client_id, store.balance(client_id) + amount)
            store.set_balance(who.user_id, store.balance(who.user_id) - amount)
        client["balance"] = fmt_money(store.balance(client_id))
        coll.put_item(store, "reseller_accounts", who.user_id, client_id, client)
    return envelope(client, "Your balance has been successfully transferred.")


@endpoint
async def detect_address(request: Request) -> Response:
    """Address detection of an uploaded letter: the first return address of the account."""
    who = authenticate(request)
    if not request.query_params.get("convert"):
        raise ApiError(400, "MISSING_REQUIRED_FIELDS", "convert is required.")
    rows = coll.all_items(store_of(request), "return_addresses", who.user_id)
    if not rows:
        raise ApiError(400, "BAD_REQUEST", "No address could be detected.")
    keys = ("address_name", "address_line_1", "address_line_2", "address_city", "address_state", "address_postal_code", "address_country")  # fmt: skip
    return envelope({k: rows[0][k] for k in keys}, "Here is your result.")


@endpoint
async def own_number_verification(request: Request) -> Response:
    """Start verifying a number you own: a verification the OTP is checked against."""
    who = authenticate(request)
    payload = await json_body(request)
    if not isinstance(payload, dict) or not str(payload.get("phone_number") or "").strip():
        raise ApiError(400, "MISSING_REQUIRED_FIELDS", "phone_number is required.")
    try:
        number, iso = normalise_number(payload["phone_number"], payload.get("country") or "AU")
    except NumberError as exc:
        raise ApiError(400, exc.code, "The phone number is invalid.") from None
    store = store_of(request)
    now = store.clock.now()
    vid = uuid_for("verification", store.seed_value, coll.next_counter(store, "ids:verifications"))
    record = {
        "id": vid,
        "own_number_id": uuid_for("own-number", number),
        "status": "PENDING",
        "expires_timestamp": iso_time(now + 600),
        "remaining_attempts": 3,
        "created_timestamp": iso_time(now),
        "updated_timestamp": iso_time(now),
        "_number": {
            "phone_number": number,
            "country": iso,
            "label": str(payload.get("label") or ""),
        },
    }
    coll.add_items(store, "own_number_verifications", who.user_id, "id", [record])
    return _plain({k: v for k, v in record.items() if not k.startswith("_")})


def otp_for(verification_id: str) -> str:
    """The code the verification SMS would carry (the sandbox sends none; tests use this)."""
    return str(int(hashlib.sha256(f"otp:{verification_id}".encode()).hexdigest()[:8], 16) % 1_000_000).zfill(6)  # fmt: skip


@endpoint
async def own_number_verify(request: Request) -> Response:
    who = authenticate(request)
    store = store_of(request)
    vid = request.path_params["verification_id"]
    payload = await json_body(request)
    code = str(payload.get("code") or "") if isinstance(payload, dict) else ""
    with store._lock:
        rec = coll.get_item(store, "own_number_verifications", who.user_id, vid)
        if rec is None:
            raise ApiError(404, "NOT_FOUND", "verification_id not found.")
        now = store.clock.now()
        if rec["status"] == "PENDING" and rec["remaining_attempts"] > 0:
            if code == otp_for(vid):
                rec["status"] = "APPROVED"
                number = rec["_number"]
                own = (
                    BY_NAME["own_numbers"].examples[0]
                    | number
                    | {
                        "id": rec["own_number_id"],
                        "user_id": uuid_for("user", who.user_id),
                        "account_id": uuid_for("account", who.user_id),
                        "workspace_id": uuid_for("account", who.user_id),
                        "status": "APPROVED",
                        "verified_timestamp": iso_time(now),
                        "created_timestamp": iso_time(now),
                        "updated_timestamp": iso_time(now),
                    }
                )
                coll.delete_item(store, "own_numbers", who.user_id, own["id"])
                coll.add_items(store, "own_numbers", who.user_id, "id", [own])
            else:
                rec["remaining_attempts"] -= 1
                if rec["remaining_attempts"] == 0:
                    rec["status"] = "FAILED"
            rec["updated_timestamp"] = iso_time(now)
            coll.put_item(store, "own_number_verifications", who.user_id, vid, rec)
    out = {k: v for k, v in rec.items() if not k.startswith("_")}
    out["error_code"] = None if rec["status"] == "APPROVED" else "INVALID_CODE"
    return _plain(out)


routes: list[Route] = [route for spec in COLLECTIONS for route in _routes(spec)] + [
    Route(
        "/v3/email/master-templates-categories/{category_id}/master-templates",
        master_templates_in_category,
        methods=["GET"],
    ),  # fmt: skip
    Route("/v3/email/address-verify/{email_address_id}/send", email_address_send, methods=["PUT"]),
    Route(
        "/v3/email/address-verify/{email_address_id}/verify/{activation_token}",
        email_address_verify,
        methods=["PUT"],
    ),  # fmt: skip
    Route("/v3/numbers/search/{country}", numbers_search, methods=["GET"]),
    Route("/v3/numbers/buy/{dedicated_number}", numbers_buy, methods=["POST"]),
    Route("/v3/reseller/transfer-credit", reseller_transfer, methods=["PUT"]),
    Route("/v3/detect-address", detect_address, methods=["POST"]),
    Route("/v3/own-numbers/verifications", own_number_verification, methods=["POST"]),
    Route(
        "/v3/own-numbers/verifications/{verification_id}/verify",
        own_number_verify,
        methods=["POST"],
    ),  # fmt: skip
]


def unshadowed(all_routes: list[Any]) -> list[Any]:
    """Drop the generic routes of any path another area already serves (any method).

    The generic table also covers a few paths of other areas' prefixes (SMS templates,
    email-to-SMS, voice languages) as a fallback; when that area implements the path
    itself, its handlers win for every method of the path, so one resource is never
    split between two implementations.
    """
    mine = {id(r) for r in routes}
    taken = {r.path for r in all_routes if id(r) not in mine and hasattr(r, "path")}
    return [r for r in all_routes if id(r) not in mine or r.path not in taken]
