"""Messages area (reads): history of MMS, voice, email, fax, letters and postcards.

Every history endpoint takes ``date_from``/``date_to`` (inclusive unix seconds on the
record's ``date_added``), ``page``/``limit``, ``q=field:value[,...]``, ``operator`` and
``order_by=field:asc|desc`` (fax also reads the reference's ``order=``) with the SMS
history's rules (see the README): the reference says "most GET endpoints allow searching
and sorting", so every channel accepts them even where its page lists fewer.

Example::

    GET /v3/voice/history?date_from=1790000000&limit=100&page=2
    GET /v3/post/letters/history?q=status:Sent&order_by=date:desc
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csframe.sandbox import models_messages as mm
from csframe.sandbox.models import HistoryQuery, Principal
from csframe.sandbox.responses.admin import plain
from csframe.sandbox.responses.common import (
    ApiError,
    authenticate,
    endpoint,
    opt_int,
    ordering,
    paged_response,
    pagination,
    paging,
    search,
    store_of,
)

# channel -> (history path, response_msg of the reference's example)
HISTORY = {
    "mms": ("/v3/mms/history", "Here are your data."),
    "voice": ("/v3/voice/history", "Here is your history."),
    "email": ("/v3/email/history", "Here is your result."),
    "fax": ("/v3/fax/history", "Here is your history."),
    "letter": ("/v3/post/letters/history", "Here is your history."),
    "postcard": ("/v3/post/postcards/history", "Here is your history."),
}


def history_query(request: Request, spec: mm.TableSpec, with_paging: bool = True) -> HistoryQuery:
    """The validated history parameters of a request (400 on bad ones)."""
    page, limit = paging(request) if with_paging else (1, 15)
    filters, operator = search(request, spec.search)
    if not request.query_params.get("order_by") and request.query_params.get("order"):
        # The fax reference spells it ``order``; read it the same way.
        field, direction = _order_param(request.query_params["order"], spec.order)
    else:
        field, direction = ordering(request, spec.order)
    return HistoryQuery(
        date_from=opt_int(request, "date_from"),
        date_to=opt_int(request, "date_to"),
        page=page,
        limit=limit,
        q=filters,
        operator=operator,
        order_field=field,
        order_dir=direction,
    )


def _order_param(raw: str, fields: dict[str, str]) -> tuple[str, str]:
    # Only the first "field:dir" of a comma list decides (ties break on date, then id).
    name, _, direction = raw.split(",")[0].strip().partition(":")
    name, direction = name.strip().lower(), (direction.strip().lower() or "asc")
    if name not in fields or direction not in ("asc", "desc"):
        raise ApiError(400, "BAD_REQUEST", f"Invalid order: {raw!r}.")
    return name, direction


def _history(channel: str) -> Any:
    msg = HISTORY[channel][1]

    @endpoint
    async def history(request: Request) -> Response:
        who = authenticate(request)
        st = mm.state(store_of(request))
        q = history_query(request, mm.ROWS)
        total, rows = st.rows.page(who.view, channel, q)
        block = pagination(request, total, q.page, q.limit, len(rows))
        return paged_response(block, [r[0] for r in rows], msg)

    history.__name__ = f"{channel}_history"
    history.__doc__ = f"``GET {HISTORY[channel][0]}``: the caller's {channel} history, paginated."
    return history


# ---------------------------------------------------------------------- truth (/_sandbox)


def truth_login(request: Request) -> Principal:
    """The login named by ``?username=`` (default: the main login) for truth endpoints."""
    store = store_of(request)
    username = request.query_params.get("username") or store.get_meta("accounts", {})["main"]
    who = store.principal(username)
    if who is None:
        raise ApiError(404, "NOT_FOUND", f"no login {username!r}")
    return who


@endpoint
async def truth_history(request: Request) -> Response:
    """``GET /_sandbox/truth/history/{channel}``: every message_id a login pages through."""
    channel = request.path_params["channel"]
    if channel not in mm.CHANNELS:
        raise ApiError(404, "NOT_FOUND", f"no channel {channel!r}; one of {list(mm.CHANNELS)}")
    who = truth_login(request)
    q = history_query(request, mm.ROWS, with_paging=False)
    rows = mm.state(store_of(request)).rows.select_all(who.view, channel, q, "message_id")
    return plain({"count": len(rows), "message_ids": [r[0] for r in rows]})


routes = [
    *(Route(path, _history(ch), methods=["GET"]) for ch, (path, _) in HISTORY.items()),
    Route("/_sandbox/truth/history/{channel}", truth_history, methods=["GET"]),
]
