"""What every /v3 endpoint shares: the envelope, errors, auth, paging and search params.

Endpoints are plain async Starlette functions wrapped in :func:`endpoint`, which turns
an :class:`ApiError` (or any unexpected exception) into the API's error envelope.

Example::

    @endpoint
    async def account(request: Request) -> Response:
        who = authenticate(request)
        return envelope({"user_id": who.user_id}, "Here's your account")
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response

from csframe.sandbox.models import ORDER_FIELDS, SEARCH_FIELDS, Principal, Store

log = logging.getLogger("csframe.sandbox")

JSON = "application/json"

# HTTP status -> the generic response_code of the reference's status table.
STATUS_CODES = {
    200: "SUCCESS",
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_SERVER_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


class ApiError(Exception):
    """An error answered with the envelope: HTTP status, response_code, message.

    Example::

        raise ApiError(400, "BAD_REQUEST", "limit must be an integer.")
    """

    def __init__(
        self,
        status: int,
        response_code: str | None = None,
        msg: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(msg)
        self.status = status
        self.response_code = response_code or STATUS_CODES.get(status, "ERROR")
        self.msg = msg
        self.headers = headers or {}


def envelope(
    data: Any,
    msg: str,
    status: int = 200,
    response_code: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The API envelope as a JSON response.

    Example::

        envelope([], "Here are your data.")   # {"http_code": 200, "response_code": "SUCCESS", ...}
    """
    body = orjson.dumps(
        {
            "http_code": status,
            "response_code": response_code or STATUS_CODES.get(status, "ERROR"),
            "response_msg": msg,
            "data": data,
        }
    )
    return Response(body, status_code=status, media_type=JSON, headers=headers)


def error_response(exc: ApiError) -> Response:
    """The envelope of an error: same keys, ``data`` null."""
    return envelope(None, exc.msg, exc.status, exc.response_code, exc.headers)


def endpoint(
    fn: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """Decorate an endpoint so errors become envelopes rather than tracebacks."""

    @functools.wraps(fn)
    async def wrapper(request: Request) -> Response:
        try:
            return await fn(request)
        except ApiError as exc:
            return error_response(exc)
        except OverflowError:
            # A number beyond SQLite's 64-bit integers (a hostile id, page or amount).
            return error_response(
                ApiError(400, "BAD_REQUEST", "A number in the request is out of range.")
            )
        except RecursionError:
            return error_response(ApiError(400, "BAD_REQUEST", "The request is nested too deeply."))
        except Exception:  # a sandbox bug: answer like the API would, keep the traceback
            log.exception("sandbox endpoint %s failed", request.url.path)
            return error_response(ApiError(500, None, "Something is broken."))

    return wrapper


def store_of(request: Request) -> Store:
    return request.app.state.store


# ---------------------------------------------------------------------- auth

MISSING = "Not enough information has been supplied for authentication. Please ensure that your Username and Unique Key are supplied in your request."
INVALID = "Your Username or Unique Key is incorrect."


def authenticate(request: Request) -> Principal:
    """The caller from HTTP Basic auth, or raise the documented 401/403.

    Test accounts answer as the reference's Testing section says: ``notactive`` gets
    403 ACCOUNT_NOT_ACTIVATED and ``banned`` 403 FORBIDDEN on every request.
    """
    header = request.headers.get("authorization")
    if not header:
        raise ApiError(401, "MISSING_CREDENTIALS", MISSING)
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token:
        raise ApiError(401, "MISSING_CREDENTIALS", MISSING)
    try:
        username, sep, key = (
            base64.b64decode(token.strip(), validate=True).decode("utf-8").partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(401, "INVALID_CREDENTIALS", INVALID) from None
    if not sep or not username:
        raise ApiError(401, "MISSING_CREDENTIALS", MISSING)
    who = store_of(request).principal(username)
    if who is None or who.api_key != key:
        raise ApiError(401, "INVALID_CREDENTIALS", INVALID)
    if who.banned:
        raise ApiError(403, "FORBIDDEN", "This account is banned.")
    if not who.active:
        raise ApiError(403, "ACCOUNT_NOT_ACTIVATED", "Your account has not been activated.")
    return who


# ---------------------------------------------------------------------- params


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT32_MAX = 2**31 - 1  # the OpenAPI types page and limit int32


def opt_int(request: Request, name: str) -> int | None:
    """An optional integer query parameter; blank counts as absent (``?date_from=``)."""
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "BAD_REQUEST", f"{name} must be an integer.") from None
    if not INT64_MIN <= value <= INT64_MAX:
        raise ApiError(400, "BAD_REQUEST", f"{name} is out of range.")
    return value


async def object_body(request: Request) -> dict[str, Any]:
    """The request's JSON body, which must be an object (else 400 BAD_REQUEST)."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "BAD_REQUEST", "The request body must be a JSON object.")
    return body


def paging(request: Request) -> tuple[int, int]:
    """``(page, limit)``: page defaults to 1 (values < 1 read as 1), limit to 15 clamped to 15..100."""
    page = opt_int(request, "page")
    limit = opt_int(request, "limit")
    if page is not None and page > INT32_MAX:
        raise ApiError(400, "BAD_REQUEST", f"page must be at most {INT32_MAX}.")
    page = 1 if page is None or page < 1 else page
    limit = 15 if limit is None else min(100, max(15, limit))
    return page, limit


def search(
    request: Request, fields: dict[str, Any] = SEARCH_FIELDS
) -> tuple[list[tuple[str, str]], str]:
    """``(filters, operator)`` from ``q=field:value,field2:value`` and ``operator=AND|OR``.

    Field names are case-insensitive; values match case-insensitively (see models).
    """
    raw = request.query_params.get("q") or ""
    if raw and getattr(request.app.state.store, "search_match", "exact") == "unsupported":
        raise ApiError(400, "BAD_REQUEST", "Search is not available on this endpoint.")
    filters: list[tuple[str, str]] = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        name, sep, value = part.partition(":")
        name = name.strip().lower()
        if not sep or name not in fields:
            known = ", ".join(sorted(fields))
            raise ApiError(
                400,
                "BAD_REQUEST",
                f"Invalid search field: {name or part!r}. Searchable fields: {known}.",
            )
        filters.append((name, value.strip()))
    operator = (request.query_params.get("operator") or "AND").strip().upper()
    if operator not in ("AND", "OR"):
        raise ApiError(400, "BAD_REQUEST", "operator must be AND or OR.")
    return filters, operator


def ordering(
    request: Request, fields: dict[str, str] = ORDER_FIELDS, default: str = "date"
) -> tuple[str, str]:
    """``(field, "asc"|"desc")`` from ``order_by=field:dir`` (default ``date:asc``)."""
    raw = (request.query_params.get("order_by") or "").strip()
    if not raw:
        return default, "asc"
    name, _, direction = raw.partition(":")
    name, direction = name.strip().lower(), (direction.strip().lower() or "asc")
    if name not in fields or direction not in ("asc", "desc"):
        known = ", ".join(sorted(fields))
        raise ApiError(
            400,
            "BAD_REQUEST",
            f"Invalid order_by: {raw!r} (use field:asc or field:desc). Sortable fields: {known}.",
        )
    if getattr(request.app.state.store, "ignore_order_by", False):
        return default, "asc"  # the fault: checked, then not applied
    return name, direction


# ---------------------------------------------------------------------- pagination


def page_url_maker(request: Request) -> Callable[[int], str]:
    """A function giving the absolute URL of another page: same path and query, new ``page``.

    The query is parsed and re-encoded once per request (this runs on every history
    page, so it is kept cheap).

    Example::

        url = page_url_maker(request)
        url(3)   # "http://127.0.0.1:8765/v3/sms/history?limit=100&page=3"
    """
    scope = request.scope
    host = request.headers.get("host") or "{}:{}".format(*scope["server"])
    base = f"{scope['scheme']}://{host}{scope.get('root_path', '')}{scope['path']}?"
    pairs = [
        (k, v)
        for k, v in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        if k != "page"
    ]
    rest = urlencode(pairs)
    prefix = base + rest + "&page=" if rest else base + "page="
    return lambda page: f"{prefix}{page}"


def pagination(request: Request, total: int, page: int, limit: int, n_rows: int) -> dict[str, Any]:
    """The pagination block (without ``data``), Laravel-style like the real API.

    ``from``/``to`` are 1-based row numbers of this page, null when the page is empty
    (an empty result, or a page past the last).

    Example::

        pagination(request, total=31, page=3, limit=15, n_rows=1)
        # {"total": 31, "per_page": 15, "current_page": 3, "last_page": 3,
        #  "next_page_url": None, "prev_page_url": ".../sms/history?page=2", "from": 31, "to": 31}
    """
    last_page = max(1, math.ceil(total / limit))
    first_row = (page - 1) * limit + 1
    page_url = page_url_maker(request)
    return {
        "total": total,
        "per_page": limit,
        "current_page": page,
        "last_page": last_page,
        "next_page_url": page_url(page + 1) if page < last_page else None,
        "prev_page_url": page_url(page - 1) if page > 1 else None,
        "from": first_row if n_rows else None,
        "to": first_row + n_rows - 1 if n_rows else None,
    }


def paged_response(
    block: dict[str, Any], rows: list[bytes], msg: str = "Here are your data."
) -> Response:
    """A paginated envelope around pre-rendered rows, spliced as bytes (no re-encoding)."""
    head = orjson.dumps({"http_code": 200, "response_code": "SUCCESS", "response_msg": msg})[:-1]
    body = b"".join(
        (head, b',"data":', orjson.dumps(block)[:-1], b',"data":[', b",".join(rows), b"]}}")
    )
    return Response(body, media_type=JSON)


async def json_body(request: Request) -> Any:
    """The parsed JSON request body, or 400 BAD_REQUEST."""
    raw = await request.body()
    if not raw.strip():
        raise ApiError(400, "BAD_REQUEST", "The request body is empty.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "BAD_REQUEST", "The request body is not valid JSON.") from None


def wants_query(request: Request) -> bool:
    """Whether the request asks for a search or an order (``q``, ``order_by``)."""
    params = request.query_params
    return bool((params.get("q") or "").strip() or (params.get("order_by") or "").strip())


def query_records(
    request: Request, records: list[dict[str, Any]], fields: Iterable[str]
) -> list[dict[str, Any]]:
    """Apply ``q``/``operator``/``order_by`` to in-memory records (every one of the
    collection, in its default order); ``fields`` are the searchable and sortable keys,
    anything else is a 400 naming the field.

    Example::

        rows = query_records(request, all_lists, ("list_id", "list_name"))
        rows[(page - 1) * limit : page * limit]
    """
    from csframe.sandbox import models_collections as coll

    names = {f: f for f in fields}
    filters, operator = search(request, names)
    order_field, order_dir = None, "asc"
    if (request.query_params.get("order_by") or "").strip():
        order_field, order_dir = ordering(request, names, default="")
    q = coll.ItemQuery(
        q=filters,
        operator=operator,
        order_field=order_field,
        order_dir=order_dir,
        match=store_of(request).search_match,
    )
    return coll.filter_sort(records, q)
