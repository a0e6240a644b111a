"""Account area: ``GET /account`` and ``GET /account/usage/{year}/{month}/subaccount``.

Usage is what was billed, computed from the message rows history shows (UTC calendar
months of the message ``date``): for each subaccount with traffic, ``total_count`` is the
sum of ``message_parts`` and ``total_price`` the sum of ``message_price``, less the SMS
refunded for a number not in service (``billing.py``; the ``refund_share`` behaviour
setting, 0 = none). Every other row counts, whatever its status -- failed messages are
charged, cancelled ones carry price 0. A subaccount login sees only its own line; the
main login sees them all.

Example::

    GET /v3/account/usage/2026/10/subaccount
    {"data": {"sms": [{"subaccount_id": 60311, "username": "csframe_demo",
                       "total_count": "1234.00", "total_price": 95.018}, ...],
              "sms_total": {"count": 1234, "price": 95.018}, "mms": [], ...}}
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csframe.sandbox import billing, lifecycle
from csframe.sandbox.pricing import CURRENCY, fmt_money
from csframe.sandbox.responses.common import ApiError, authenticate, endpoint, envelope, store_of

# Channel keys of the usage report, in the OpenAPI order (SMS here, the others via usage_hooks).
CHANNELS = ("sms", "mms", "voice", "fax", "post", "email", "email_transactional", "postcards")


@endpoint
async def account(request: Request) -> Response:
    """``GET /account``: the account of the caller, ``_subaccount`` being the caller's login."""
    who = authenticate(request)
    store = store_of(request)
    info, balance = store.account_info(who.user_id)
    info["balance"] = fmt_money(balance)
    info["_subaccount"] = store.subaccount_info(who.subaccount_id)
    return envelope(info, "Here's your account")


def month_bounds(year: str, month: str) -> tuple[int, int]:
    """Unix ``[start, end)`` of a UTC calendar month, or 400 for a bad year/month.

    Example::

        >>> month_bounds("2026", "2")
        (1769904000, 1772323200)
    """
    try:
        y, m = int(year), int(month)
    except ValueError:
        raise ApiError(400, "BAD_REQUEST", "year and month must be integers.") from None
    if not (1970 <= y <= 9998 and 1 <= m <= 12):
        raise ApiError(400, "BAD_REQUEST", "Invalid year or month.")
    start = datetime(y, m, 1, tzinfo=UTC)
    end = datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=UTC)
    return int(start.timestamp()), int(end.timestamp())


@endpoint
async def usage(request: Request) -> Response:
    """``GET /account/usage/{year}/{month}/subaccount``."""
    who = authenticate(request)
    start, end = month_bounds(request.path_params["year"], request.path_params["month"])
    store = store_of(request)
    share = lifecycle.of(store).behaviour.refund_share
    rows = billing.billed_sms_usage(store, who.view, start, end, share)
    data: dict[str, object] = {ch: [] for ch in CHANNELS}
    data["sms"] = [
        {
            "subaccount_id": sid,
            "username": username,
            "total_count": f"{parts}.00",  # a string like "29.00" per the OpenAPI schema
            "total_price": round(micros / 1_000_000, 6),
        }
        for sid, username, parts, micros in rows
    ]
    sms_parts = sum(r[2] for r in rows)
    sms_micros = sum(r[3] for r in rows)
    for ch in CHANNELS:
        data[f"{ch}_total"] = {"count": 0, "price": 0}
    data["sms_total"] = {"count": sms_parts, "price": round(sms_micros / 1_000_000, 6)}
    for hook in store.usage_hooks:  # the other channels, each from its own rows
        for ch, lines in hook(store, who.view, start, end).items():
            data[ch] = [
                *data[ch],  # type: ignore[misc]
                *(
                    {
                        "subaccount_id": sid,
                        "username": username,
                        # OpenAPI: "N.00" strings, except integer counts for the email channels
                        "total_count": count if ch.startswith("email") else f"{count}.00",
                        "total_price": round(micros / 1_000_000, 6),
                    }
                    for sid, username, count, micros in lines
                ),
            ]
            total = data[f"{ch}_total"]
            data[f"{ch}_total"] = {
                "count": total["count"] + sum(line[2] for line in lines),
                "price": round(total["price"] + sum(line[3] for line in lines) / 1e6, 6),
            }
    data["_currency"] = CURRENCY
    return envelope(data, "Here is your usage for this month.")


routes = [
    Route("/v3/account", account, methods=["GET"]),
    Route("/v3/account/usage/{year}/{month}/subaccount", usage, methods=["GET"]),
]
