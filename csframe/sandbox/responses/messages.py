"""Messages area (reads): history of MMS, voice, email, fax, letters and postcards;
SMS/voice/fax delivery receipts, inbound SMS (with read state), SMS/voice statistics.

Every history endpoint takes ``date_from``/``date_to`` (inclusive unix seconds on the
record's ``date_added``), ``page``/``limit``, ``q=field:value[,...]``, ``operator`` and
``order_by=field:asc|desc`` (fax also reads the reference's ``order=``) with the SMS
history's rules (see the README): the reference says "most GET endpoints allow searching
and sorting", so every channel accepts them even where its page lists fewer.

Receipts and inbound are inboxes: ``GET /sms/receipts`` and ``GET /sms/inbound`` list the
*unread* rows (oldest first) until they are marked read (``PUT /sms/receipts-read``,
``PUT /sms/inbound-read[/{message_id}]``); voice and fax receipts have no read endpoint
and list everything. Statistics cover the last 30 UTC days, today included.

Example::

    GET /v3/voice/history?date_from=1790000000&limit=100&page=2
    GET /v3/post/letters/history?q=status:Sent&order_by=date:desc
    PUT /v3/sms/receipts-read {"date_before": 1790000000}
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import secrets
from typing import Any
from urllib.parse import quote

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from csframe.sandbox import models_messages as mm
from csframe.sandbox.models import ORDER_FIELDS, SEARCH_FIELDS, HistoryQuery, Principal, Store, View
from csframe.sandbox.pricing import CURRENCY
from csframe.sandbox.responses.admin import plain
from csframe.sandbox.responses.common import (
    ApiError,
    authenticate,
    endpoint,
    envelope,
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


# ---------------------------------------------------------------------- receipts


async def _optional_body(request: Request) -> dict[str, Any]:
    """A JSON object body, or {} when the body is empty (400 when it is not an object)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)  # orjson: nesting is capped (a 400 here, not a crash)
    except orjson.JSONDecodeError:
        raise ApiError(400, "BAD_REQUEST", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "BAD_REQUEST", "The request body must be a JSON object.")
    return body


def _date_before(body: dict[str, Any]) -> int | None:
    value = body.get("date_before")
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ApiError(400, "BAD_REQUEST", "date_before must be a unix timestamp.")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, "BAD_REQUEST", "date_before must be a unix timestamp.") from None


def _receipts(channel: str) -> Any:
    @endpoint
    async def receipts(request: Request) -> Response:
        who = authenticate(request)
        store = store_of(request)
        st = mm.state(store)
        page, limit = paging(request)
        filters, operator = search(request, mm.RECEIPTS.search)
        order_field, order_dir = ordering(request, mm.RECEIPTS.order)
        q = HistoryQuery(
            page=page,
            limit=limit,
            q=filters,
            operator=operator,
            order_field=order_field,
            order_dir=order_dir,
        )
        if channel == "sms":
            mm.sync_sms_receipts(store)
        total, rows = st.receipts.page(who.view, channel, q, unread=channel == "sms")
        body = mm.render_receipts(store, rows)
        block = pagination(request, total, page, limit, len(body))
        return paged_response(block, body, "Here are your delivery receipts.")

    receipts.__name__ = f"{channel}_receipts"
    receipts.__doc__ = f"``GET /{channel}/receipts``: delivery receipts, oldest first."
    return receipts


def sms_receipt_of(store: Any, view: View, message_id: str) -> bytes | None:
    """The receipt JSON of one SMS (a test receipt, or derived from a delivered/failed SMS)."""
    sql = "SELECT json FROM msg_receipts WHERE message_id=? COLLATE NOCASE AND channel='sms' AND user_id=?"
    args: list[Any] = [message_id, view.user_id]
    if view.subaccount_id is not None:
        sql += " AND subaccount_id=?"
        args.append(view.subaccount_id)
    mm.state(store).receipts.create_lookup_indexes()
    with store._lock:
        got = store.db.execute(sql, args).fetchone()
    if got is not None:
        return got[0]
    row = mm.find_sms(store, view, message_id)
    if row is None or row[1] not in mm.RECEIPT_STATUSES:
        return None
    row_id, _, _, js = row
    ts_delay = 3 + (row_id * 2654435761) % 177  # as RECEIPT_DELAY_SQL
    rec = json.loads(js)
    return orjson.dumps(mm.sms_receipt_record(rec, rec["date"] + ts_delay))


@endpoint
async def sms_receipt(request: Request) -> Response:
    """``GET /sms/receipts/{message_id}``: one receipt, read or not (404 if none yet)."""
    who = authenticate(request)
    js = sms_receipt_of(store_of(request), who.view, request.path_params["message_id"])
    if js is None:
        raise ApiError(404, "NOT_FOUND", "Receipt not found.")
    return envelope(json.loads(js), "Your receipt.")


@endpoint
async def sms_receipt_test(request: Request) -> Response:
    """``POST /sms/receipts``: add a test receipt (delivered, fresh message id) to the inbox."""
    who = authenticate(request)
    body = await _optional_body(request)
    if not isinstance(body.get("url"), str) or not body["url"].strip():
        raise ApiError(400, "BAD_REQUEST", "url is required.")
    store = store_of(request)
    now = store.clock.now()
    message_id = store.new_message_id()
    rec = mm.sms_receipt_record(
        {
            "date": now,
            "message_id": message_id,
            "status_code": "201",
            "status_text": "Success: Message received on handset.",
            "error_code": None,
            "error_text": None,
            "custom_string": None,
            "subaccount_id": who.subaccount_id,
        },
        now,
    )
    row = {
        "channel": "sms",
        "user_id": who.user_id,
        "subaccount_id": who.subaccount_id,
        "date": now,
        "read": 0,
        "src_id": None,
        "message_id": message_id,
        "json": orjson.dumps(rec),
    }
    st = mm.state(store)
    mm.sync_sms_receipts(store)  # derived receipts first: the test one comes after them
    mm.insert_rows(store, st.receipts, [row])
    return envelope(rec, "Receipt has been added")


def _mark_read(channel: str, table: str, msg: str) -> Any:
    @endpoint
    async def mark(request: Request) -> Response:
        who = authenticate(request)
        date_before = _date_before(await _optional_body(request))
        store = store_of(request)
        st = mm.state(store)
        if channel == "sms" and table == "receipts":
            mm.sync_sms_receipts(store)
        paged = st.receipts if table == "receipts" else st.inbound
        mm.mark_read(store, paged, channel, who.view, date_before)
        return envelope({}, msg)

    mark.__name__ = f"{channel}_{table}_read"
    return mark


@endpoint
async def fax_receipt(request: Request) -> Response:
    """``GET /fax/receipts/{message_id}``: the fax's record with its delivery status."""
    who = authenticate(request)
    row = mm.find_row(store_of(request), "fax", who.view, request.path_params["message_id"])
    if row is None:
        raise ApiError(404, "NOT_FOUND", "Fax receipt not found.")
    return envelope(json.loads(row[3]), "Here is your fax receipt.")


# ---------------------------------------------------------------------- inbound


@endpoint
async def inbound(request: Request) -> Response:
    """``GET /sms/inbound``: unread inbound SMS, oldest first."""
    who = authenticate(request)
    st = mm.state(store_of(request))
    q = history_query(request, mm.INBOUND)
    total, rows = st.inbound.page(who.view, "sms", q, unread=True)
    block = pagination(request, total, q.page, q.limit, len(rows))
    return paged_response(block, [r[0] for r in rows], "Here are your data.")


def _inbound_where(view: View, column: str) -> tuple[str, list[Any]]:
    sql = f"{column}=? COLLATE NOCASE AND channel='sms' AND user_id=?"
    args: list[Any] = [view.user_id]
    if view.subaccount_id is not None:
        sql += " AND subaccount_id=?"
        args.append(view.subaccount_id)
    return sql, args


@endpoint
async def inbound_reply(request: Request) -> Response:
    """``GET /sms/inbound/{original_message_id}``: the first reply to one outbound SMS."""
    who = authenticate(request)
    store = store_of(request)
    mm.state(store).inbound.create_lookup_indexes()
    where, args = _inbound_where(who.view, "original_message_id")
    with store._lock:
        got = store.db.execute(
            f"SELECT json FROM msg_inbound WHERE {where} ORDER BY date, id LIMIT 1",
            [request.path_params["original_message_id"], *args],
        ).fetchone()
    if got is None:
        raise ApiError(404, "NOT_FOUND", "No inbound message replies to this message.")
    return envelope(json.loads(got[0]), "Here are your data.")


@endpoint
async def inbound_read_one(request: Request) -> Response:
    """``PUT /sms/inbound-read/{message_id}``: mark one inbound SMS read.

    ``data`` is the number of messages it names (1; 0 for an id the caller has none of).
    """
    who = authenticate(request)
    store = store_of(request)
    mm.state(store).inbound.create_lookup_indexes()
    where, args = _inbound_where(who.view, "message_id")
    with store._lock:
        cur = store.db.execute(
            f"UPDATE msg_inbound SET read=1 WHERE {where}",
            [request.path_params["message_id"], *args],
        )
    return envelope(cur.rowcount, "Receipt have been marked as read.")


@endpoint
async def inbound_test(request: Request) -> Response:
    """``POST /sms/inbound``: add a test reply to the caller's latest outbound SMS (unread)."""
    who = authenticate(request)
    body = await _optional_body(request)
    if not isinstance(body.get("url"), str) or not body["url"].strip():
        raise ApiError(400, "BAD_REQUEST", "url is required.")
    store = store_of(request)
    now = store.clock.now()
    view = who.view
    key, idx = (
        ("user_id", "sms_user_ord")
        if view.subaccount_id is None
        else ("subaccount_id", "sms_sub_ord")
    )
    ord_col = "ord" if view.subaccount_id is None else "sub_ord"
    with store._lock:
        store._index()
        last = store.db.execute(
            f"SELECT to_, from_, body, message_id, custom_string, subaccount_id FROM sms INDEXED BY {idx} "
            f"WHERE {key}=? AND status IN ('Completed', 'Sent') ORDER BY {ord_col} DESC LIMIT 1",
            (view.subaccount_id or view.user_id,),
        ).fetchone()
    to, sender, original, original_id, custom, sid = last or (
        "+61411111111",
        "",
        "",
        "",
        None,
        who.subaccount_id,
    )
    rec = mm.inbound_record(
        timestamp=now,
        sender=to,
        body="This is a test incoming SMS.",
        original_body=original,
        original_message_id=original_id,
        to=sender,
        custom_string=custom,
        message_id=store.new_message_id(),
    )
    row = {
        "channel": "sms",
        "user_id": who.user_id,
        "subaccount_id": sid,
        "date": now,
        "read": 0,
        "message_id": rec["message_id"],
        "original_message_id": original_id,
        "from_": rec["from"],
        "to_": rec["to"],
        "body": rec["body"],
        "opt_out": 0,
        "json": orjson.dumps(rec),
    }
    mm.insert_rows(store, mm.state(store).inbound, [row])
    return envelope({**rec, "timestamp_send": now}, "Here are your incoming messages.")


# ---------------------------------------------------------------------- statistics

STATS_DAYS = 30


def _statistics(channel: str) -> Any:
    @endpoint
    async def statistics(request: Request) -> Response:
        who = authenticate(request)
        store = store_of(request)
        start = (store.clock.now() // 86400 - (STATS_DAYS - 1)) * 86400
        if channel == "sms":
            out = mm.sms_daily(store, who.view, start, STATS_DAYS)
            inbound = mm.channel_daily(store, "msg_inbound", "sms", who.view, start, STATS_DAYS)
        else:
            out = mm.channel_daily(store, "msg_rows", "voice", who.view, start, STATS_DAYS)
            inbound = {}
        directions = (
            ("outbound", "inbound", "bounced") if channel == "sms" else ("outbound", "bounced")
        )
        days, total = [], {d: [0, 0] for d in directions}
        for i in range(STATS_DAYS):
            c, p, f, fp = out.get(i, (0, 0, 0, 0))
            counts = {
                "outbound": (c, p),
                "inbound": (inbound.get(i, (0,))[0], 0),
                "bounced": (f, fp),
            }
            day: dict[str, Any] = {"date": start + i * 86400}
            for d in directions:
                n, micros = counts[d]
                day[d] = {"count": n, "price": round(micros / 1e6, 6)}
                total[d][0] += n
                total[d][1] += micros
            days.append(day)
        data = {
            "total": {d: {"count": n, "price": round(m / 1e6, 6)} for d, (n, m) in total.items()},
            "stats": days,
            "stat": days,  # the reference's example spells it "stat"; the OpenAPI "stats"
            "_currency": CURRENCY,
        }
        return envelope(
            data, "Here are your statistics." if channel == "voice" else "Here are your data."
        )

    statistics.__name__ = f"{channel}_statistics"
    return statistics


# ---------------------------------------------------------------------- exports

# channel -> the export path (the reference's; fax has none)
EXPORTS = {
    "sms": "/v3/sms/history/export",
    "mms": "/v3/mms/history/export",
    "voice": "/v3/voice/history/export",
    "email": "/v3/email/history/export",
    "letter": "/v3/post/letters/export",
    "postcard": "/v3/post/postcards/history/export",
}
EXPORT_CHUNK = 5000


def _cell(value: Any) -> str:
    """A CSV cell: "" for null, JSON for lists/objects, the text of anything else."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, dict)):
        return orjson.dumps(value).decode()
    return str(value)


def _export_rows(store: Store, view: View, channel: str, q: HistoryQuery) -> Any:
    """The history rows (JSON bytes) of a filter, in the API's order; the caller holds the lock."""
    if channel == "sms":
        page = 1
        while True:
            total, rows = store.history(view, dataclasses.replace(q, page=page, limit=EXPORT_CHUNK))
            yield from rows
            if not rows or page * EXPORT_CHUNK >= total:
                return
            page += 1
    else:
        yield from (r[0] for r in mm.state(store).rows.select_all(view, channel, q, "json"))


def write_export(store: Store, view: View, channel: str, q: HistoryQuery) -> tuple[str, int]:
    """Write the CSV of a history filter; ``(path, rows)``. Holds the store lock throughout,
    so the file is the history at one instant (nothing is written meanwhile).

    Flat records go through pyarrow (JSON lines -> Arrow -> CSV, ~5x faster); records with
    nested values (email recipients, postcard return addresses), or whose types vary in a
    way the first rows did not show, are written by the csv module.
    """
    path = os.path.join(mm.export_dir(store), secrets.token_hex(16) + ".csv")
    with store._lock:
        try:
            n = _write_arrow(store, view, channel, q, path)
        except _NotFlat:
            n = _write_python(store, view, channel, q, path)
    return path, n


class _NotFlat(Exception):
    """The records cannot be written by the Arrow path."""


def _arrow_schema(sample: list[dict[str, Any]]) -> Any:
    import pyarrow as pa

    fields = []
    for key in sample[0]:
        kinds = {type(r.get(key)) for r in sample} - {type(None)}
        if kinds & {list, dict} or len(kinds) > 1:
            raise _NotFlat(key)
        kind = kinds.pop() if kinds else str
        fields.append(pa.field(key, {int: pa.int64(), float: pa.float64()}.get(kind, pa.string())))
    return pa.schema(fields)


def _write_arrow(store: Store, view: View, channel: str, q: HistoryQuery, path: str) -> int:
    import io

    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.json as pajson

    rows = _export_rows(store, view, channel, q)
    first = [js for _, js in zip(range(200), rows, strict=False)]
    if not first:
        raise _NotFlat("no rows")  # the csv module writes the header-only file
    schema = _arrow_schema([orjson.loads(js) for js in first])
    options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
    n = 0
    try:
        with pacsv.CSVWriter(
            path, schema, write_options=pacsv.WriteOptions(quoting_style="needed")
        ) as out:
            chunk = first
            while chunk:
                table = pajson.read_json(io.BytesIO(b"\n".join(chunk)), parse_options=options)
                out.write_table(table)
                n += len(chunk)
                chunk = [js for _, js in zip(range(20_000), rows, strict=False)]
    except pa.ArrowInvalid as exc:  # a type the sample did not show
        raise _NotFlat(str(exc)) from None
    return n


def _write_python(store: Store, view: View, channel: str, q: HistoryQuery, path: str) -> int:
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        header: list[str] | None = None
        batch: list[list[Any]] = []
        for js in _export_rows(store, view, channel, q):
            rec = orjson.loads(js)
            if header is None:
                header = list(rec)
                writer.writerow(header)
            batch.append([_cell(rec.get(k)) for k in header])
            if len(batch) >= 1000:
                writer.writerows(batch)
                n += len(batch)
                batch = []
        writer.writerows(batch)
        n += len(batch)
        if header is None:  # no rows: still the header, from any record of the channel
            table, where = (
                ("sms", "") if channel == "sms" else ("msg_rows", f" WHERE channel='{channel}'")
            )
            any_row = store.db.execute(f"SELECT json FROM {table}{where} LIMIT 1").fetchone()
            if any_row:
                writer.writerow(list(orjson.loads(any_row[0])))
    return n


def _export(channel: str) -> Any:
    @endpoint
    async def export(request: Request) -> Response:
        who = authenticate(request)
        # Optional, as the OpenAPI description and the official SDK have it.
        filename = (request.query_params.get("filename") or "").strip() or f"{channel}_history.csv"
        if channel == "sms":
            filters, operator = search(request, SEARCH_FIELDS)
            field, direction = ordering(request, ORDER_FIELDS)
            q = HistoryQuery(
                date_from=opt_int(request, "date_from"),
                date_to=opt_int(request, "date_to"),
                q=filters,
                operator=operator,
                order_field=field,
                order_dir=direction,
            )
        else:
            q = history_query(request, mm.ROWS, with_paging=False)
        store = store_of(request)
        path, n = await run_in_threadpool(write_export, store, who.view, channel, q)
        token = mm.add_export(store, filename, path, n)
        scope = request.scope
        host = request.headers.get("host") or "{}:{}".format(*scope["server"])
        url = f"{scope['scheme']}://{host}/_files/exports/{token}.csv?filename={quote(filename)}"
        return envelope({"url": url}, "Download your file here.")

    export.__name__ = f"{channel}_export"
    export.__doc__ = f"``GET {EXPORTS[channel]}``: a CSV of the {channel} history, as a URL."
    return export


async def download(request: Request) -> Response:
    """``GET /_files/exports/{token}.csv``: an export's CSV (no auth: a pre-signed URL)."""
    token = request.path_params["token"]
    store = store_of(request)
    exp = mm.get_export(store, token)
    if exp is None:
        if token in mm.state(store).expired:
            return PlainTextResponse("Request has expired", status_code=403)
        return PlainTextResponse("The specified key does not exist.", status_code=404)
    return FileResponse(exp.path, media_type="text/csv; charset=utf-8", filename=exp.filename)


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


@endpoint
async def truth_receipts(request: Request) -> Response:
    """``GET /_sandbox/truth/receipts/{channel}``: message ids of the receipts a login sees
    (``?unread=1``: only the unread ones), in the API's order."""
    channel = request.path_params["channel"]
    if channel not in mm.RECEIPT_CHANNELS:
        raise ApiError(404, "NOT_FOUND", f"no receipts for {channel!r}")
    who = truth_login(request)
    store = store_of(request)
    if channel == "sms":
        mm.sync_sms_receipts(store)
    unread = request.query_params.get("unread") in ("1", "true")
    rows = mm.state(store).receipts.select_all(
        who.view, channel, HistoryQuery(), "json, src_id, date", unread
    )
    ids = [json.loads(js)["message_id"] for js in mm.render_receipts(store, rows)]
    return plain({"count": len(ids), "message_ids": ids})


@endpoint
async def truth_inbound(request: Request) -> Response:
    """``GET /_sandbox/truth/inbound``: inbound message ids a login sees (``?unread=1``)."""
    who = truth_login(request)
    unread = request.query_params.get("unread") in ("1", "true")
    rows = mm.state(store_of(request)).inbound.select_all(
        who.view, "sms", HistoryQuery(), "message_id", unread
    )
    return plain({"count": len(rows), "message_ids": [r[0] for r in rows]})


@endpoint
async def truth_opt_outs(request: Request) -> Response:
    """``GET /_sandbox/truth/opt-outs``: every number that replied with an opt-out keyword.

    ``numbers`` (sorted, unique) and the ``messages`` themselves, each with the
    ``list_id`` of the SMS it answered (campaign sends have one).
    """
    who = truth_login(request)
    store = store_of(request)
    mm.state(store).inbound.create_lookup_indexes()
    where = "i.channel='sms' AND i.user_id=? AND i.opt_out=1"
    args: list[Any] = [who.user_id]
    if who.view.subaccount_id is not None:
        where += " AND i.subaccount_id=?"
        args.append(who.view.subaccount_id)
    with store._lock:
        store._ensure_index("message_id")
        rows = store.db.execute(
            "SELECT i.from_, i.body, i.message_id, i.original_message_id, i.date, s.list_id, s.to_ "
            "FROM msg_inbound i LEFT JOIN sms s ON s.message_id = i.original_message_id COLLATE NOCASE "
            f"WHERE {where} ORDER BY i.date, i.id",
            args,
        ).fetchall()
    keys = ("from", "body", "message_id", "original_message_id", "timestamp", "list_id")
    messages = [dict(zip(keys, r[:6], strict=True)) for r in rows]
    numbers = sorted({r[0] for r in rows})
    return plain({"count": len(numbers), "numbers": numbers, "messages": messages})


routes = [
    *(Route(path, _history(ch), methods=["GET"]) for ch, (path, _) in HISTORY.items()),
    Route("/v3/sms/receipts", _receipts("sms"), methods=["GET"]),
    Route("/v3/sms/receipts", sms_receipt_test, methods=["POST"]),
    Route("/v3/sms/receipts/{message_id}", sms_receipt, methods=["GET"]),
    Route(
        "/v3/sms/receipts-read",
        _mark_read("sms", "receipts", "Receipts has been marked as read."),
        methods=["PUT"],
    ),
    Route("/v3/voice/receipts", _receipts("voice"), methods=["GET"]),
    Route("/v3/fax/receipts", _receipts("fax"), methods=["GET"]),
    Route("/v3/fax/receipts/{message_id}", fax_receipt, methods=["GET"]),
    Route("/v3/sms/inbound", inbound, methods=["GET"]),
    Route("/v3/sms/inbound", inbound_test, methods=["POST"]),
    Route("/v3/sms/inbound/{original_message_id}", inbound_reply, methods=["GET"]),
    Route(
        "/v3/sms/inbound-read",
        _mark_read("sms", "inbound", "Inbound messages have been marked as read."),
        methods=["PUT"],
    ),
    Route("/v3/sms/inbound-read/{message_id}", inbound_read_one, methods=["PUT"]),
    Route("/v3/statistics/sms", _statistics("sms"), methods=["GET"]),
    Route("/v3/statistics/voice", _statistics("voice"), methods=["GET"]),
    *(Route(path, _export(ch), methods=["GET"]) for ch, path in EXPORTS.items()),
    Route("/_files/exports/{token}.csv", download, methods=["GET", "HEAD"]),
    Route("/_sandbox/truth/history/{channel}", truth_history, methods=["GET"]),
    Route("/_sandbox/truth/receipts/{channel}", truth_receipts, methods=["GET"]),
    Route("/_sandbox/truth/inbound", truth_inbound, methods=["GET"]),
    Route("/_sandbox/truth/opt-outs", truth_opt_outs, methods=["GET"]),
]
