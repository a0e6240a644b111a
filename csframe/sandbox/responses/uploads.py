"""Uploads and imports: ``POST /uploads``, ``POST /lists/{list_id}/import``, the files.

- ``POST /v3/uploads?convert=csv`` -- a JSON body ``{"content": "<base64>"}`` (``convert``
  may also be in the body) or ``multipart/form-data`` with a ``file`` part (any part with
  a filename; or a ``content`` part holding base64). Answers the reference's record with
  ``_url`` = ``{root}/_files/uploads/{file_name}``, served without auth (like a pre-signed
  URL) until ``date_delete`` (10 minutes later; ``upload_ttl_seconds``), then 404.
- ``POST /v3/lists/{list_id}/import`` ``{"file_url", "field_order"}`` -- queues an import
  of one of those URLs: "Your file is now queued." with the job's id; rows are written in
  the background (``import_rows_per_second``); ``_import_in_progress`` is 1 meanwhile.
- ``GET /_files/uploads/{file_name}`` -- the file (no auth, no faults, not counted).
- ``GET /_sandbox/truth/imports`` and ``/_sandbox/truth/imports/{id}`` -- progress and the
  outcome of every row (imported with its contact_id, rejected with the reason, skipped).
- ``GET|PUT /_sandbox/contacts/settings`` -- ``{"upload_ttl_seconds": 600,
  "import_rows_per_second": 5000}`` (PUT changes the keys given).

Example::

    POST /v3/uploads?convert=csv {"content": "cGhvbmUKMDQxMTExMTExMQo="}
    -> data._url "http://127.0.0.1:8765/_files/uploads/3F2C…csv"
    POST /v3/lists/428/import {"file_url": "<that _url>", "field_order": ["phone_number"]}
    -> data.id "6254358460638066203"
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csframe.sandbox import models_imports as mi
from csframe.sandbox.responses.common import (
    ApiError,
    authenticate,
    endpoint,
    envelope,
    json_body,
    store_of,
)
from csframe.sandbox.responses.contacts import call, path_int


def plain(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def upload_call(fn: Any, *args: Any) -> Any:
    try:
        return call(fn, *args)
    except mi.UploadError as exc:
        raise ApiError(400, exc.code, exc.msg) from None


def multipart_parts(body: bytes, content_type: str) -> list[tuple[dict[str, str], bytes]]:
    """``[(disposition params, content)]`` of a multipart/form-data body.

    A small exact parser (the body is in memory already): parts are split on the boundary
    and their content kept byte for byte, so CSV line endings survive.
    """
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        raise ApiError(400, "BAD_REQUEST", "multipart/form-data without a boundary.")
    delim = b"--" + m.group(1).encode("latin-1")
    parts = []
    for chunk in body.split(delim)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n")
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        params: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-disposition":
                for key, val in re.findall(r';\s*([\w*]+)="?([^";]*)"?', value):
                    params[key.lower()] = val
            elif name.strip().lower() == "content-type":
                params["content-type"] = value.strip()
        parts.append((params, content.removesuffix(b"\r\n")))
    return parts


def b64(value: Any) -> bytes:
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "MISSING_REQUIRED_FIELDS", "content is required (base64).")
    text = value.strip()
    if text.startswith("data:") and "," in text:  # a data: URL
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode(re.sub(r"\s+", "", text), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "BAD_REQUEST", "content is not valid base64.") from None


def files_url(request: Request, file_name: str) -> str:
    scope = request.scope
    host = request.headers.get("host") or "{}:{}".format(*scope["server"])
    return f"{scope['scheme']}://{host}{scope.get('root_path', '')}/_files/uploads/{file_name}"


@endpoint
async def upload(request: Request) -> Response:
    """``POST /uploads?convert=...``: base64 JSON or multipart; see the module docstring."""
    who = authenticate(request)
    convert = (request.query_params.get("convert") or "").strip().lower()
    ctype = request.headers.get("content-type", "")
    if ctype.lower().startswith("multipart/form-data"):
        parts = multipart_parts(await request.body(), ctype)
        files = [(p, c) for p, c in parts if "filename" in p] or [
            (p, c) for p, c in parts if p.get("name") == "file"
        ]
        if files:
            content = files[0][1]
        else:
            fields = {p.get("name"): c for p, c in parts}
            if "content" not in fields:
                raise ApiError(400, "MISSING_REQUIRED_FIELDS", "A file part is required.")
            content = b64(fields["content"].decode("utf-8", "replace"))
            convert = convert or fields.get("convert", b"").decode().strip().lower()
    else:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise ApiError(400, "BAD_REQUEST", "The request body must be a JSON object.")
        content = b64(body.get("content"))
        convert = convert or str(body.get("convert") or "").strip().lower()
    if not convert:
        raise ApiError(400, "MISSING_REQUIRED_FIELDS", "convert is required.")
    rec = upload_call(mi.add_upload, store_of(request), who.user_id, content, convert)
    rec["_url"] = files_url(request, rec["file_name"])
    return envelope(rec, "Your file has been uploaded.")


@endpoint
async def import_contacts(request: Request) -> Response:
    """``POST /lists/{list_id}/import``: queue an import; answers at once."""
    who = authenticate(request)
    list_id = path_int(request, "list_id")
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "BAD_REQUEST", "The request body must be a JSON object.")
    job = upload_call(
        mi.start_import,
        store_of(request),
        who.user_id,
        list_id,
        body.get("file_url"),
        body.get("field_order"),
    )
    data = {"msg": "Messages put on queue.", "ids": [job.id], "id": job.id}
    return envelope(data, "Your file is now queued.")


async def serve_file(request: Request) -> Response:
    """``GET /_files/uploads/{file_name}``: the bytes until the upload expires, then 404."""
    got = mi.get_file(store_of(request), request.path_params["file_name"])
    if got is None:
        return Response(
            b"Not found (unknown or expired upload).", status_code=404, media_type="text/plain"
        )
    content, media = got
    return Response(content, media_type=media)


@endpoint
async def truth_imports(request: Request) -> Response:
    """Every import of this sandbox (summaries, oldest first)."""
    jobs = mi.all_imports(store_of(request))
    return plain({"imports": [j.summary() for j in jobs]})


@endpoint
async def truth_import(request: Request) -> Response:
    """One import: status, counts, contact_ids and every row's outcome."""
    job = mi.get_import(store_of(request), request.path_params["import_id"])
    if job is None:
        raise ApiError(404, "NOT_FOUND", "No such import.")
    return plain(job.truth())


@endpoint
async def contacts_settings(request: Request) -> Response:
    store = store_of(request)
    if request.method == "PUT":
        body = await json_body(request)
        if not isinstance(body, dict):
            raise ApiError(400, "BAD_REQUEST", "settings must be a JSON object")
        try:
            return plain(mi.configure(store, body))
        except ValueError as exc:
            raise ApiError(400, "BAD_REQUEST", str(exc)) from None
    return plain(dict(mi.settings(store)))


routes = [
    Route("/v3/uploads", upload, methods=["POST"]),
    Route("/v3/lists/{list_id}/import", import_contacts, methods=["POST"]),
    Route("/_files/uploads/{file_name}", serve_file, methods=["GET"]),
    Route("/_sandbox/truth/imports", truth_imports, methods=["GET"]),
    Route("/_sandbox/truth/imports/{import_id}", truth_import, methods=["GET"]),
    Route("/_sandbox/contacts/settings", contacts_settings, methods=["GET", "PUT"]),
]
