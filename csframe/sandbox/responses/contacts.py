"""Contacts area: contact lists, contacts, search, and the contacts ground truth.

- ``GET|POST /lists``, ``GET|PUT|DELETE /lists/{list_id}``
- ``PUT /lists/{list_id}/remove-duplicates`` (body ``{"fields": [...]}`` or
  ``{"fields": {"phone_number": ..., ...}}``; default ``["phone_number"]``)
- ``PUT /lists/{list_id}/remove-opted-out-contacts/{opt_out_list_id}``
- ``GET|POST /lists/{list_id}/contacts`` (``updated_after``), ``GET|PUT|DELETE
  /lists/{list_id}/contacts/{contact_id}``, ``PUT .../copy/{to_list_id}``,
  ``PUT .../transfer/{to_list_id}``
- ``GET /search/contacts-lists?q=``
- ``GET /_sandbox/truth/contacts`` (no auth): the seed's truth, see :func:`truth`.

Lists belong to the account: every login of it sees them. A list id that does not exist
is 404 NOT_FOUND; one of another account 403 NOT_ENOUGH_PERMISSION_TO_LIST_ID.

Example::

    POST /v3/lists {"list_name": "Spring 2027"}             -> data.list_id 646
    POST /v3/lists/646/contacts {"phone_number": "0411 111 111"}
    -> data.phone_number "+61411111111", data._list_name "Spring 2027"
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csframe.sandbox import models_contacts as mc
from csframe.sandbox.models import Principal
from csframe.sandbox.responses.common import (
    ApiError,
    authenticate,
    endpoint,
    envelope,
    json_body,
    object_body,
    opt_int,
    page_url_maker,
    paged_response,
    pagination,
    paging,
    query_records,
    store_of,
    wants_query,
)
from csframe.sandbox.responses.common import ordering as order_params
from csframe.sandbox.responses.common import search as search_params

DATA = "Here are your data."


# What q= and order_by= accept on GET /lists (the keys of a list object).
LIST_FIELDS = (
    "list_id",
    "list_name",
    "list_email_id",
    "_contacts_count",
    "_import_in_progress",
    "_optout_in_progress",
)


def path_int(request: Request, name: str) -> int:
    """An integer path parameter; anything else names no resource (404)."""
    raw = request.path_params[name]
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(404, "NOT_FOUND", f"{name} {raw!r} does not exist.") from None
    if value <= 0:
        raise ApiError(404, "NOT_FOUND", f"{name} {raw!r} does not exist.")
    return value


def call(fn: Any, *args: Any) -> Any:
    """Run a model function, turning its exceptions into the API's errors."""
    try:
        return fn(*args)
    except mc.NotFound as exc:
        raise ApiError(404, "NOT_FOUND", str(exc)) from None
    except mc.Forbidden as exc:
        raise ApiError(403, "NOT_ENOUGH_PERMISSION_TO_LIST_ID", str(exc)) from None
    except mc.Invalid as exc:
        raise ApiError(400, exc.code, exc.msg) from None


async def optional_body(request: Request) -> Any:
    """The JSON body, or None when there is none (bad JSON is still 400)."""
    raw = await request.body()
    if not raw.strip():
        return None
    return await json_body(request)


def laravel_block(request: Request, total: int, page: int, limit: int, n: int) -> dict[str, Any]:
    """The pagination block of ``/lists`` as its OpenAPI schema has it: the usual keys plus
    ``first_page_url``, ``last_page_url``, ``path`` and ``links`` (Laravel's paginator)."""
    block = pagination(request, total, page, limit, n)
    url = page_url_maker(request)
    last = block["last_page"]
    scope = request.scope
    host = request.headers.get("host") or "{}:{}".format(*scope["server"])
    pages: list[int | None] = (
        list(range(1, last + 1))
        if last <= 10
        else sorted({1, 2, last - 1, last, *range(max(1, page - 2), min(last, page + 2) + 1)})
    )
    links = [
        {"url": block["prev_page_url"], "label": "&laquo; Previous", "page": page - 1 if page > 1 else None, "active": False}
    ]  # fmt: skip
    prev = 0
    for p in pages:
        assert p is not None
        if p - prev > 1:
            links.append({"url": None, "label": "...", "page": None, "active": False})
        links.append({"url": url(p), "label": str(p), "page": p, "active": p == page})
        prev = p
    links.append(
        {"url": block["next_page_url"], "label": "Next &raquo;", "page": page + 1 if page < last else None, "active": False}
    )  # fmt: skip
    block.update(
        first_page_url=url(1),
        last_page_url=url(last),
        path=f"{scope['scheme']}://{host}{scope.get('root_path', '')}{scope['path']}",
        links=links,
    )
    return block


def records(rows: list[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps(r) for r in rows]


# ---------------------------------------------------------------------- lists


@endpoint
async def lists(request: Request) -> Response:
    """``GET /lists`` (paginated, by list_id) and ``POST /lists`` ``{"list_name"}``."""
    who = authenticate(request)
    store = store_of(request)
    if request.method == "POST":
        body = await object_body(request)
        rec = call(mc.create_list, store, who.user_id, body.get("list_name"))
        return envelope(rec, "New list has been created.")
    page, limit = paging(request)
    if wants_query(request):
        _, every = mc.lists_page(store, who.user_id, 1, 2**31)
        matching = query_records(request, every, LIST_FIELDS)
        total, rows = len(matching), matching[(page - 1) * limit : page * limit]
    else:
        total, rows = mc.lists_page(store, who.user_id, page, limit)
    return paged_response(
        laravel_block(request, total, page, limit, len(rows)), records(rows), DATA
    )


@endpoint
async def one_list(request: Request) -> Response:
    """``GET|PUT|DELETE /lists/{list_id}``."""
    who = authenticate(request)
    store = store_of(request)
    list_id = path_int(request, "list_id")
    if request.method == "GET":
        return envelope(call(mc.get_list, store, who.user_id, list_id), DATA)
    if request.method == "PUT":
        body = await object_body(request)
        rec = call(mc.rename_list, store, who.user_id, list_id, body.get("list_name"))
        return envelope(rec, f"List #{list_id} has been updated.")
    call(mc.delete_list, store, who.user_id, list_id)
    return envelope([], f"List #{list_id} has been deleted.")


def dedupe_fields(body: Any) -> list[str]:
    """The fields of a remove-duplicates body: a list of names, or an object whose keys
    are the names (the OpenAPI schema and the SDKs send that); default phone_number."""
    if body is None:
        return ["phone_number"]
    fields = body.get("fields") if isinstance(body, dict) else None
    if fields is None:
        return ["phone_number"]
    if isinstance(fields, dict):
        fields = list(fields)
    if isinstance(fields, str):
        fields = [f.strip() for f in fields.split(",")]
    if not isinstance(fields, list) or not fields:
        raise ApiError(400, "BAD_REQUEST", "fields must be a non-empty list of contact fields.")
    names = []
    for f in fields:
        name = str(f).strip()
        if name not in mc.DEDUPE_FIELDS:
            raise ApiError(400, "BAD_REQUEST", f"Unknown contact field {name!r} in fields.")
        if name not in names:
            names.append(name)
    return names


@endpoint
async def remove_duplicates(request: Request) -> Response:
    """``PUT /lists/{list_id}/remove-duplicates``: keep the oldest contact of each group."""
    who = authenticate(request)
    list_id = path_int(request, "list_id")
    fields = dedupe_fields(await optional_body(request))
    deleted = call(mc.remove_duplicates, store_of(request), who.user_id, list_id, fields)
    return envelope({"deleted": deleted}, "Your list duplicate contacts has been deleted.")


@endpoint
async def remove_opted_out(request: Request) -> Response:
    """``PUT /lists/{list_id}/remove-opted-out-contacts/{opt_out_list_id}``."""
    who = authenticate(request)
    list_id = path_int(request, "list_id")
    opt_out = path_int(request, "opt_out_list_id")
    deleted = call(mc.remove_opted_out, store_of(request), who.user_id, list_id, opt_out)
    return envelope({"deleted": deleted}, "Optout contacts has been deleted.")


# ---------------------------------------------------------------------- contacts


@endpoint
async def contacts(request: Request) -> Response:
    """``GET /lists/{list_id}/contacts`` (``updated_after``) and ``POST`` (create one)."""
    who = authenticate(request)
    store = store_of(request)
    list_id = path_int(request, "list_id")
    if request.method == "POST":
        body = await object_body(request)
        rec = call(mc.create_contact, store, who.user_id, list_id, body)
        return envelope(rec, "New contact has been created.")
    page, limit = paging(request)
    columns = {c: c for c in mc.CONTACT_COLUMNS}
    filters, operator = search_params(request, columns)
    order_field, order_dir = None, "asc"
    if (request.query_params.get("order_by") or "").strip():
        order_field, order_dir = order_params(request, columns, default="")
    q = mc.ContactQuery(
        page, limit, opt_int(request, "updated_after"), filters, operator, order_field, order_dir
    )
    total, rows = call(mc.contacts_page, store, who.user_id, list_id, q)
    return paged_response(pagination(request, total, page, limit, len(rows)), records(rows), DATA)


@endpoint
async def one_contact(request: Request) -> Response:
    """``GET|PUT|DELETE /lists/{list_id}/contacts/{contact_id}``."""
    who = authenticate(request)
    store = store_of(request)
    list_id = path_int(request, "list_id")
    contact_id = path_int(request, "contact_id")
    if request.method == "GET":
        return envelope(call(mc.get_contact, store, who.user_id, list_id, contact_id), DATA)
    if request.method == "PUT":
        body = await object_body(request)
        rec = call(mc.update_contact, store, who.user_id, list_id, contact_id, body)
        return envelope(rec, f"Contact #{contact_id} has been updated.")
    call(mc.delete_contact, store, who.user_id, list_id, contact_id)
    return envelope([], f"Contact #{contact_id} has been deleted.")


def _move(copy: bool):  # noqa: ANN202
    @endpoint
    async def move(request: Request) -> Response:
        who: Principal = authenticate(request)
        from_list = path_int(request, "from_list_id")
        contact_id = path_int(request, "contact_id")
        to_list = path_int(request, "to_list_id")
        fn = mc.copy_contact if copy else mc.transfer_contact
        rec = call(fn, store_of(request), who.user_id, from_list, contact_id, to_list)
        verb = "copied" if copy else "transferred"
        return envelope(rec, f"Contact #{contact_id} has been {verb} to List #{to_list}")

    move.__name__ = "copy_contact" if copy else "transfer_contact"
    return move


@endpoint
async def search(request: Request) -> Response:
    """``GET /search/contacts-lists?q=``: contacts whose name, phone or email contains ``q``,
    then lists whose name does (case-insensitive)."""
    who = authenticate(request)
    q = (request.query_params.get("q") or "").strip()
    if not q:
        raise ApiError(400, "MISSING_REQUIRED_FIELDS", "q is required.")
    page, limit = paging(request)
    total, rows = mc.search(store_of(request), who.user_id, q, page, limit)
    block = pagination(request, total, page, limit, len(rows))
    return paged_response(block, records(rows), "Here are some search result.")


# ---------------------------------------------------------------------- truth


@endpoint
async def truth(request: Request) -> Response:
    """``GET /_sandbox/truth/contacts[?list_id=&rows=1]``: the seed's truth (as seeded;
    later writes are not reflected -- ``POST /_sandbox/reset`` restores the seeded state).

    Per list: ``contact_ids``; ``duplicate_groups`` (``group_id``, ``rule`` -- phone,
    phone+name, email or name+postcode, the rule that links every row to the group's
    first -- ``person_id``, ``contact_ids``); ``duplicate_rows`` (rows beyond the first of
    each group); ``not_duplicates`` (households: different people on one landline);
    ``dirt`` (kind -> contact ids); ``opted_out`` ({opt-out list id: contact ids that
    remove-opted-out-contacts would delete}). Across lists: ``cross_list`` (people with
    rows in several lists) and ``review_cases`` (``case_id``, ``kind``, ``same_person``
    -- true, false or null when the rows cannot tell --, ``contacts`` as [list_id,
    contact_id]: rows in different lists that a matcher links but should flag for review,
    see ``seed_contacts.REVIEW_KINDS``). ``rows=1`` adds every row's truth.
    """
    store = store_of(request)
    st = mc.state(store)
    want = opt_int(request, "list_id")
    with_rows = request.query_params.get("rows") in ("1", "true", "yes")
    by_list: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    by_person: dict[int, list[tuple[int, int]]] = defaultdict(list)
    valid: dict[int, bool] = {}
    for t in st.truth:
        by_list[t[1]].append(t)
        by_person[t[2]].append((t[1], t[0]))
        valid[t[2]] = bool(t[7])
    names = store.get_meta("contacts_seed", {}).get("lists", {})
    opted = store.get_meta("contacts_seed", {}).get("opted_out", {})
    out_lists = []
    seeded = set(by_list) | {int(k) for k in names}
    for list_id in sorted(seeded if want is None else [want]):
        rows = by_list.get(list_id, [])
        groups: dict[int, dict[str, Any]] = {}
        dirt: dict[str, list[int]] = defaultdict(list)
        households: dict[str, list[int]] = defaultdict(list)
        for cid, _, pid, gid, rule, _base, phone, _valid, d in rows:
            if gid is not None:
                g = groups.setdefault(
                    gid, {"group_id": gid, "rule": rule, "person_id": pid, "contact_ids": []}
                )
                g["contact_ids"].append(cid)
            for kind in filter(None, d.split(",")):
                dirt[kind].append(cid)
                if kind == "shared_landline":
                    households[phone].append(cid)
        item: dict[str, Any] = {
            "list_id": list_id,
            "list_name": names.get(str(list_id)),
            "contacts": len(rows),
            "contact_ids": [r[0] for r in rows],
            "duplicate_groups": list(groups.values()),
            "duplicate_rows": sum(len(g["contact_ids"]) - 1 for g in groups.values()),
            "not_duplicates": [
                {"reason": "shared_landline", "contact_ids": ids}
                for ids in households.values()
                if len(ids) > 1
            ],
            "dirt": dict(sorted(dirt.items())),
            "opted_out": opted.get(str(list_id), {}),
        }
        if with_rows:
            item["rows"] = [dict(zip(mc.TRUTH_COLUMNS, r, strict=True)) for r in rows]
            for r in item["rows"]:
                r["dirt"] = [k for k in r["dirt"].split(",") if k]
                r["base"], r["phone_valid"] = bool(r["base"]), bool(r["phone_valid"])
        out_lists.append(item)
    cross: list[dict[str, Any]] = [
        {"person_id": pid, "phone_valid": valid[pid], "contacts": [list(x) for x in sorted(rows)]}
        for pid, rows in sorted(by_person.items())
        if len({lid for lid, _ in rows}) > 1
    ]
    review = store.get_meta("contacts_seed", {}).get("review_cases", [])
    if want is not None:
        cross = [c for c in cross if any(lid == want for lid, _ in c["contacts"])]
        review = [c for c in review if any(lid == want for lid, _ in c["contacts"])]
    body = {"lists": out_lists, "cross_list": cross, "review_cases": review}
    return Response(orjson.dumps(body), media_type="application/json")


routes = [
    Route("/v3/lists", lists, methods=["GET", "POST"]),
    Route("/v3/lists/{list_id}", one_list, methods=["GET", "PUT", "DELETE"]),
    Route("/v3/lists/{list_id}/remove-duplicates", remove_duplicates, methods=["PUT"]),
    Route("/v3/lists/{list_id}/remove-duplicates/", remove_duplicates, methods=["PUT"]),
    Route(
        "/v3/lists/{list_id}/remove-opted-out-contacts/{opt_out_list_id}",
        remove_opted_out,
        methods=["PUT"],
    ),
    Route("/v3/lists/{list_id}/contacts", contacts, methods=["GET", "POST"]),
    Route(
        "/v3/lists/{list_id}/contacts/{contact_id}", one_contact, methods=["GET", "PUT", "DELETE"]
    ),
    Route(
        "/v3/lists/{from_list_id}/contacts/{contact_id}/copy/{to_list_id}",
        _move(copy=True),
        methods=["PUT"],
    ),
    Route(
        "/v3/lists/{from_list_id}/contacts/{contact_id}/transfer/{to_list_id}",
        _move(copy=False),
        methods=["PUT"],
    ),
    Route("/v3/search/contacts-lists", search, methods=["GET"]),
    Route("/_sandbox/truth/contacts", truth, methods=["GET"]),
]
