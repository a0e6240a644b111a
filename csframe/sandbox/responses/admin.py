"""The test-only API under ``/_sandbox`` (the instance's admin token, not Basic auth; no
faults; not counted in stats). Only ``/_sandbox/health`` is open (see ``server._AdminGuard``).

- ``GET  /_sandbox/health``                 -> {"ok": true, "sms_rows": n, "pid", "max_rss_mb"}
- ``GET  /_sandbox/stats``, ``POST /_sandbox/stats/reset``
- ``GET|PUT /_sandbox/faults``              (PUT replaces the whole fault configuration)
- ``GET|PUT /_sandbox/behaviour``           lifecycle settings (PUT replaces them), counters
- ``POST /_sandbox/inbound``               {"from", "to", "body", "username"?}: a reply arrives
- ``POST /_sandbox/sms/insert``             {"count": n, "date": unix?, "subaccount_id": id?}
- ``GET  /_sandbox/truth/sms-history``      ?date_from&date_to&q&operator&order_by&username
- ``GET  /_sandbox/truth/refunds``          ?date_from&date_to&username: SMS usage credits
- ``POST /_sandbox/reset``                  back to the seeded data and balances
- ``GET  /_sandbox/accounts``               every login and its (fake) key
- ``PUT  /_sandbox/accounts/{username}``    {"balance": 123.45} sets the account balance
- ``GET  /_sandbox/instance``               {"instance": token}: new for every server
- ``GET|PUT /_sandbox/cut``                 {"count": n, "path": "/v3/..."}: cut bodies
- ``GET|PUT /_sandbox/clock``               {"advance_s": n}: sandbox time jumps ahead

Example::

    curl -X POST localhost:8765/_sandbox/sms/insert -H "X-Sandbox-Admin-Token: $TOKEN" -d '{"count": 3}'
    {"message_ids": ["…", "…", "…"]}
"""

from __future__ import annotations

import os
from typing import Any

try:
    import resource
except ImportError:  # not on Windows
    resource = None

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csframe.sandbox import billing, lifecycle
from csframe.sandbox.models import HistoryQuery, sms_record, sms_row
from csframe.sandbox.pricing import PRICE_MICROS, carrier_for, fmt_money
from csframe.sandbox.responses.common import (
    ApiError,
    endpoint,
    json_body,
    opt_int,
    ordering,
    search,
    store_of,
)


def plain(data: Any, status: int = 200) -> Response:
    """A bare JSON response (the admin API has no envelope)."""
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def main_username(request: Request) -> str:
    return store_of(request).get_meta("accounts", {})["main"]


@endpoint
async def health(request: Request) -> Response:
    """Liveness plus a few process facts (benchmarks read the server's peak memory here)."""
    max_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return plain(
        {
            "ok": True,
            "sms_rows": store_of(request).sms_count(),
            "pid": os.getpid(),
            "max_rss_mb": round(max_rss_kb / 1024, 1),
        }
    )


def _stats(request: Request) -> dict[str, Any]:
    # "paging": how searched/sorted pages were served (keyset.py): totals counted, pages
    # that seeked after the previous page's last row, pages that fell back to OFFSET.
    return {**request.app.state.stats.snapshot(), "paging": store_of(request).keyset.counters()}


@endpoint
async def stats(request: Request) -> Response:
    return plain(_stats(request))


@endpoint
async def stats_reset(request: Request) -> Response:
    request.app.state.stats.reset()
    store_of(request).keyset.reset_counters()
    return plain(_stats(request))


@endpoint
async def faults(request: Request) -> Response:
    injector = request.app.state.faults
    if request.method == "PUT":
        payload = await json_body(request)
        if not isinstance(payload, dict):
            raise ApiError(400, "BAD_REQUEST", "faults must be a JSON object")
        try:
            injector.configure(payload)
        except ValueError as exc:
            raise ApiError(400, "BAD_REQUEST", str(exc)) from None
    return plain(injector.settings.to_dict())


@endpoint
async def instance(request: Request) -> Response:
    """This server's identity: clients namespace their caches with it."""
    return plain({"instance": request.app.state.instance})


@endpoint
async def cut(request: Request) -> Response:
    """Read or replace the body-cutting plan (see :mod:`csframe.sandbox.cut`)."""
    plan = request.app.state.cut
    if request.method == "PUT":
        payload = await json_body(request)
        if not isinstance(payload, dict) or set(payload) - {"count", "path"}:
            raise ApiError(400, "BAD_REQUEST", 'cut takes {"count": n, "path": "/v3/..."}')
        try:
            plan.configure(payload.get("count", 0), payload.get("path", "/v3"))
        except ValueError as exc:
            raise ApiError(400, "BAD_REQUEST", str(exc)) from None
    return plain(plan.to_dict())


@endpoint
async def behaviour(request: Request) -> Response:
    lc = request.app.state.lifecycle
    if request.method == "PUT":
        payload = await json_body(request)
        if not isinstance(payload, dict):
            raise ApiError(400, "BAD_REQUEST", "behaviour must be a JSON object")
        try:
            lc.configure(payload)
        except ValueError as exc:
            raise ApiError(400, "BAD_REQUEST", str(exc)) from None
    return plain(
        {
            **lc.behaviour.to_dict(),
            "pending": lc.pending(),
            "scheduled": lc.scheduled_count(),
            "delivered": lc.delivered,
            "webhooks": lc.webhooks.counts(),
        }
    )


@endpoint
async def clock(request: Request) -> Response:
    """Sandbox time (``{"now": unix}``); PUT ``{"advance_s": n}`` moves it ``n`` seconds
    ahead (never back), so that scheduled messages come due without waiting."""
    store = store_of(request)
    if request.method == "PUT":
        payload = await json_body(request)
        step = payload.get("advance_s") if isinstance(payload, dict) else None
        if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= 10 * 365 * 86400:
            raise ApiError(400, "BAD_REQUEST", 'clock takes {"advance_s": n}, 0 <= n <= 10 years')
        with store._lock:
            store.clock.start += step
        request.app.state.lifecycle.clock_moved()
    return plain({"now": store.clock.now()})


@endpoint
async def inbound(request: Request) -> Response:
    """Store an inbound SMS {"from", "to", "body", "username"?} as if it just arrived."""
    payload = await json_body(request)
    if not isinstance(payload, dict):
        raise ApiError(400, "BAD_REQUEST", "inbound must be a JSON object")
    store = store_of(request)
    user_id = None
    if payload.get("username") is not None:
        who = store.principal(str(payload["username"]))
        if who is None:
            raise ApiError(400, "BAD_REQUEST", f"unknown username {payload['username']!r}")
        user_id = who.user_id
    try:
        rec = lifecycle.inbound(
            store, payload.get("from"), str(payload.get("to") or ""), payload.get("body"), user_id
        )
    except ValueError as exc:
        raise ApiError(400, "BAD_REQUEST", str(exc)) from None
    return plain(rec)


@endpoint
async def insert_sms(request: Request) -> Response:
    """Insert ``count`` delivered-to-carrier SMS rows (status "Sent") for the main account.

    Rows are dated ``date`` (default: sandbox now) and belong to ``subaccount_id``
    (default: the main login). They cost nothing from the balance but count in usage.
    """
    payload = await json_body(request)
    if not isinstance(payload, dict):
        raise ApiError(400, "BAD_REQUEST", "body must be a JSON object")
    count, date, sid = payload.get("count"), payload.get("date"), payload.get("subaccount_id")
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 1_000_000:
        raise ApiError(400, "BAD_REQUEST", "count must be an integer 0..1000000")
    store = store_of(request)
    main = store.principal(main_username(request))
    logins = {r["subaccount_id"]: r for r in store.logins() if r["user_id"] == main.user_id}
    sid = main.subaccount_id if sid is None else sid
    if sid not in logins:
        raise ApiError(
            400, "BAD_REQUEST", f"subaccount_id {sid} is not a login of the main account"
        )
    date = store.clock.now() if date is None else int(date)
    sender = store.subaccount_sender(sid)
    rows, ids = [], []
    for _ in range(count):
        message_id = store.new_message_id()
        # A deterministic AU mobile from the id, so replays insert the same numbers.
        to = f"+614{int(message_id[:8], 16) % 100_000_000:08d}"
        price = PRICE_MICROS["AU"]
        rec = sms_record(
            date=date,
            to=to,
            body="Sandbox inserted message: your order is on its way.",
            status="Sent",
            sender=sender,
            schedule=date,
            status_code=None,
            status_text="Sent to carrier",
            error_code=None,
            error_text=None,
            message_id=message_id,
            message_parts=1,
            message_price=fmt_money(price),
            list_id=None,
            custom_string=None,
            contact_id=None,
            user_id=main.user_id,
            subaccount_id=sid,
            country="AU",
            carrier=carrier_for(to, "AU"),
            first_name=None,
            last_name=None,
            api_username=logins[sid]["username"],
        )
        rows.append(sms_row(rec, price))
        ids.append(message_id)
    store.insert_sms(rows)
    return plain({"message_ids": ids})


@endpoint
async def truth_sms_history(request: Request) -> Response:
    """Every message id a login would page through, in the API's order (no paging)."""
    store = store_of(request)
    username = request.query_params.get("username") or main_username(request)
    who = store.principal(username)
    if who is None:
        raise ApiError(404, "NOT_FOUND", f"no login {username!r}")
    filters, operator = search(request)
    order_field, order_dir = ordering(request)
    q = HistoryQuery(
        date_from=opt_int(request, "date_from"),
        date_to=opt_int(request, "date_to"),
        q=filters,
        operator=operator,
        order_field=order_field,
        order_dir=order_dir,
    )
    ids = store.history_ids(who.view, q)
    return plain({"count": len(ids), "message_ids": ids})


@endpoint
async def truth_refunds(request: Request) -> Response:
    """The refunded SMS a login's usage leaves out (``billing.refunds``), dated in
    ``[date_from, date_to)`` (default: all), with their parts and price."""
    store = store_of(request)
    username = request.query_params.get("username") or main_username(request)
    who = store.principal(username)
    if who is None:
        raise ApiError(404, "NOT_FOUND", f"no login {username!r}")
    start = opt_int(request, "date_from")
    end = opt_int(request, "date_to")
    share = request.app.state.lifecycle.behaviour.refund_share
    found = billing.refunds(
        store, who.view, 0 if start is None else start, 2**62 if end is None else end, share
    )
    return plain(
        {
            "refund_share": share,
            "count": len(found),
            "message_parts": sum(r.message_parts for r in found),
            "total_price": fmt_money(sum(r.price_micros for r in found)),
            "refunds": [r.to_dict() for r in found],
        }
    )


@endpoint
async def reset(request: Request) -> Response:
    store_of(request).reset()
    return plain({"ok": True, "sms_rows": store_of(request).sms_count()})


@endpoint
async def accounts(request: Request) -> Response:
    store = store_of(request)
    names = store.get_meta("accounts", {})
    logins = store.logins()
    by_username = {r["username"]: r for r in logins}
    return plain(
        {
            "accounts": {
                name: {"username": u, "api_key": by_username[u]["api_key"]}
                for name, u in names.items()
            },
            "logins": [{**r, "balance": fmt_money(r.pop("balance_micros"))} for r in logins],
            "seed": store.get_meta("seed"),
        }
    )


@endpoint
async def account_update(request: Request) -> Response:
    store = store_of(request)
    who = store.principal(request.path_params["username"])
    if who is None:
        raise ApiError(404, "NOT_FOUND", "no such login")
    payload = await json_body(request)
    balance = payload.get("balance") if isinstance(payload, dict) else None
    if isinstance(balance, bool) or not isinstance(balance, (int, float, str)):
        raise ApiError(400, "BAD_REQUEST", "balance is required")
    try:
        store.set_balance(who.user_id, round(float(balance) * 1_000_000))
    except ValueError:
        raise ApiError(400, "BAD_REQUEST", "balance must be a number") from None
    return plain({"username": who.username, "balance": fmt_money(store.balance(who.user_id))})


routes = [
    Route("/_sandbox/health", health, methods=["GET"]),
    Route("/_sandbox/stats", stats, methods=["GET"]),
    Route("/_sandbox/stats/reset", stats_reset, methods=["POST"]),
    Route("/_sandbox/faults", faults, methods=["GET", "PUT"]),
    Route("/_sandbox/instance", instance, methods=["GET"]),
    Route("/_sandbox/cut", cut, methods=["GET", "PUT"]),
    Route("/_sandbox/behaviour", behaviour, methods=["GET", "PUT"]),
    Route("/_sandbox/inbound", inbound, methods=["POST"]),
    Route("/_sandbox/clock", clock, methods=["GET", "PUT"]),
    Route("/_sandbox/sms/insert", insert_sms, methods=["POST"]),
    Route("/_sandbox/truth/sms-history", truth_sms_history, methods=["GET"]),
    Route("/_sandbox/truth/refunds", truth_refunds, methods=["GET"]),
    Route("/_sandbox/reset", reset, methods=["POST"]),
    Route("/_sandbox/accounts", accounts, methods=["GET"]),
    Route("/_sandbox/accounts/{username}", account_update, methods=["PUT"]),
]
