"""Contract test: every endpoint of the reference that the sandbox routes answers like the
reference says, with the OpenAPI's JSON types.

Walks ../shared/clicksend-api/endpoints.json (skipped, with the reason, in a fresh clone
without ../shared). For each endpoint:

- routed or not: matched against the sandbox's routing table. The endpoints it does not
  route are listed by ``test_unimplemented_endpoints_are_reported`` (printed, and as one
  warning in the run's summary) so the gap stays visible; that test never fails.
- GET: called with real ids (taken from the sandbox's own list endpoints); it must answer
  200 with the reference's envelope, the example record's keys, and JSON types that
  validate against the OpenAPI 200 schema (``nullable`` honoured).
- POST/PUT/PATCH (and GETs that act: one with a body, a ``/cancel``): called with the
  reference's example body (its placeholder ids of lists, addresses, templates and client
  accounts replaced by real ones) on a sandbox that is reset after each call. 200 is checked like a GET; a 4xx with the error envelope is accepted
  (the examples are placeholders such as ``"phone_number": "phone_number"``) and listed.
  DELETE: called on a real id; 200 (checked like a GET) or 204.
- Always a failure: 404 or 405 from a routed endpoint (wrong id resolution is reported
  as such), 5xx, a non-JSON body where JSON is expected, missing example keys, wrong types.
"""

from __future__ import annotations

import json
import re
import warnings
from typing import Any

import pytest
import requests
from sandbox_openapi import ENDPOINTS, errors
from starlette.routing import Match

from csframe.sandbox import running
from csframe.sandbox.urls import routes

NOW = "2026-11-01T00:00:00Z"
EP: list[dict[str, Any]] = json.loads(ENDPOINTS.read_text()) if ENDPOINTS.is_file() else []
ENVELOPE = ["http_code", "response_code", "response_msg", "data"]

# Path parameters that do not come from a list endpoint.
FIXED = {
    "year": "2026",
    "month": "10",
    "country": "AU",
    "package_id": "1",
    "activation_token": "123456",
}
# Where to find ids when the parent path is not itself a list endpoint.
SOURCES = {
    "message_id": ("{prefix}/history", "/sms/history"),
    "mms_campaign_id": ("/mms-campaigns",),
    "to_list_id": ("/lists",),
    "from_list_id": ("/lists",),
    "opt_out_list_id": ("/lists",),
    "dedicated_number": ("/numbers/search/AU",),
    "template_id": ("{prefix}", "/email/master-templates"),
    "email_address_id": ("/email/addresses",),
}
# Ids of things no list endpoint shows: made by a call first (method, path, body, key).
MADE = {
    "verification_id": (
        "POST",
        "/own-numbers/verifications",
        {"phone_number": "+61411000111"},
        "id",
    ),
}
# Body fields that name a resource: the example's placeholder id is replaced by a real
# one (source list endpoint, key), so the call can succeed and its answer be checked.
BODY_IDS = {
    "list_id": ("/lists", "list_id"),
    "from_email_address_id": ("/email/addresses", "email_address_id"),
    "template_id": ("/email/templates", "template_id"),
    "client_user_id": ("/reseller/accounts", "user_id"),
}
# Ids of an action endpoint come from the list it acts on.
PREFIX_SOURCES = {"/sms/inbound-read": "/sms/inbound", "/sms/receipts-read": "/sms/receipts"}
# Path parameters named after another record key.
ALIASES = {
    "from_list_id": "list_id",
    "to_list_id": "list_id",
    "opt_out_list_id": "list_id",
    "client_user_id": "user_id",
    "transaction_id": "invoice_number",
}
# Query parameters some endpoints require.
QUERY = {"convert": "csv", "filename": "export.csv"}


def ep_id(ep: dict[str, Any]) -> str:
    return f"{ep['method']} {ep['path']}"


def routed(method: str, path: str) -> bool:
    concrete = re.sub(r"\{[^}]*\}", "1", "/v3" + path)
    scope = {"type": "http", "path": concrete, "method": method, "root_path": ""}
    return any(r.matches(scope)[0] == Match.FULL for r in routes)


IMPLEMENTED = [ep for ep in EP if routed(ep["method"], ep["path"])]
MISSING = [ep for ep in EP if not routed(ep["method"], ep["path"])]


def is_action(ep: dict[str, Any]) -> bool:
    """A GET that acts rather than reads: it takes a body (``GET /email/price``) or
    changes state (``GET /post/letters/{id}/cancel``). Checked like a write."""
    return (
        ep["method"] != "GET"
        or ep.get("example_body") is not None
        or ep["path"].endswith("/cancel")
    )


GETS = [ep for ep in IMPLEMENTED if not is_action(ep)]
OTHERS = [ep for ep in IMPLEMENTED if is_action(ep)]


def needs_reference() -> None:
    if not EP:
        pytest.skip(f"{ENDPOINTS} not present (a fresh clone has no ../shared)")


@pytest.fixture(scope="module")
def sb():
    needs_reference()
    with running(scale="small", seed=42, now=NOW) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def sbw():
    """A second sandbox for writes, reset after each call."""
    needs_reference()
    with running(scale="tiny", seed=42, now=NOW) as sandbox:
        yield sandbox


def call(sb, method: str, path: str, **kw: Any) -> requests.Response:
    auth = tuple(sb.accounts["main"].values())
    return requests.request(method, sb.base_url + path, auth=auth, timeout=60, **kw)


def records(body: Any) -> list[Any]:
    """The records of a response or example: paged block, array, or a single object."""
    if isinstance(body, dict) and "http_code" in body:
        body = body.get("data")
    if isinstance(body, dict) and isinstance(body.get("data"), list):
        return body["data"]
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        arrays = [v for k, v in body.items() if isinstance(v, list) and not k.startswith("_")]
        if len(arrays) == 1 and len(body) <= 2:  # {"alpha_tags": [...], "_metadata": ...}
            return arrays[0]
        return [body]
    return []


def resolve(sb, path: str, cache: dict[str, str]) -> str:
    """``path`` with every ``{param}`` replaced by a real value from the sandbox."""
    out = path
    for name in re.findall(r"\{([^}]*)\}", path):
        prefix = out.split("{" + name + "}")[0].rstrip("/")
        key = f"{prefix}|{name}"
        if key not in cache:
            cache[key] = _find(sb, prefix, name)
        out = out.replace("{" + name + "}", cache[key], 1)
    return out


def _find(sb, prefix: str, name: str) -> str:
    if name in FIXED:
        return FIXED[name]
    if name in MADE:
        method, path, body, key = MADE[name]
        return str(call(sb, method, path, json=body).json()[key])
    candidates = [prefix, *[s.format(prefix=prefix) for s in SOURCES.get(name, ())]]
    if prefix in PREFIX_SOURCES:
        candidates.insert(0, PREFIX_SOURCES[prefix])
    pick_second = name == "to_list_id"
    for source in candidates:
        if not routed("GET", source) or "{" in source:
            continue
        r = call(sb, "GET", source)
        if r.status_code != 200:
            continue
        rows = [row for row in records(r.json()) if isinstance(row, dict)]
        for row in rows[1:] if pick_second else rows:
            keys = (name, ALIASES.get(name), "id", name.removesuffix("_id") + "_id_master")
            for key in (k for k in keys if k):
                if row.get(key) not in (None, ""):
                    return str(row[key])
    return "0"  # nothing to point at: the call will 404 and say so


def real_ids(sb, body: Any) -> Any:
    """The example body with the ids of BODY_IDS pointing at real resources."""
    if not isinstance(body, dict):
        return body
    out = dict(body)
    for key, (source, field) in BODY_IDS.items():
        if key in out and routed("GET", source):
            r = call(sb, "GET", source)
            rows = [row for row in records(r.json()) if isinstance(row, dict)] if r.ok else []
            if rows and field in rows[0]:
                out[key] = rows[0][field]
    return out


def example_keys(ep: dict[str, Any]) -> set[str]:
    rows = [r for r in records(ep.get("example_response")) if isinstance(r, dict)]
    return set(rows[0]) if rows else set()


def check_body(ep: dict[str, Any], r: requests.Response) -> list[str]:
    """Problems of a 200 answer: envelope, example keys, OpenAPI types."""
    try:
        body = r.json()
    except ValueError:
        if ep.get("example_response_is_json") is False or ep.get("example_response") is None:
            return []  # a file download or an empty answer, as documented
        return [f"not JSON: {r.text[:200]!r}"]
    problems = []
    example = ep.get("example_response")
    if isinstance(example, dict) and "http_code" in example:
        if not isinstance(body, dict) or list(body) != ENVELOPE:
            return [f"no envelope: {str(body)[:200]}"]
        if body["http_code"] != 200 or body["response_code"] != "SUCCESS":
            problems.append(f"envelope says {body['http_code']} {body['response_code']}")
    want = example_keys(ep)
    got = [row for row in records(body) if isinstance(row, dict)]
    if want and got:
        missing = want - set(got[0])
        if missing:
            problems.append(f"record lacks the example's keys {sorted(missing)}")
    problems += errors(ep["method"], ep["path"], body, example)
    return problems


def query_for(ep: dict[str, Any]) -> dict[str, str]:
    return {
        p["name"]: QUERY.get(p["name"], "1")
        for p in ep.get("parameters", [])
        if p.get("location") == "query" and p.get("required")
    }


# ---------------------------------------------------------------- tests


def test_unimplemented_endpoints_are_reported():
    needs_reference()
    lines = [ep_id(ep) for ep in MISSING]
    report = (
        f"sandbox routes {len(IMPLEMENTED)} of {len(EP)} reference endpoints; "
        f"not implemented ({len(lines)}): " + ", ".join(lines)
    )
    print(report)
    if lines:
        warnings.warn(report, UserWarning, stacklevel=1)
    assert len(IMPLEMENTED) + len(MISSING) == len(EP)


@pytest.fixture(scope="module")
def ids() -> dict[str, str]:
    """Resolved path parameters of the read-only sandbox, shared by the GET tests."""
    return {}


@pytest.mark.parametrize("ep", GETS, ids=ep_id)
def test_get_endpoint(ep, sb, ids):
    path = resolve(sb, ep["path"], ids)
    r = call(sb, "GET", path, params=query_for(ep))
    assert r.status_code == 200, f"GET {path} -> {r.status_code}: {r.text[:300]}"
    problems = check_body(ep, r)
    assert not problems, f"GET {path}: " + "; ".join(problems[:10])


@pytest.mark.parametrize("ep", OTHERS, ids=ep_id)
def test_write_endpoint(ep, sbw, request):
    cache: dict[str, str] = {}
    path = resolve(sbw, ep["path"], cache)
    kw: dict[str, Any] = {"params": query_for(ep)}
    if ep.get("example_body") is not None:
        kw["json"] = real_ids(sbw, ep["example_body"])
    try:
        r = call(sbw, ep["method"], path, **kw)
    finally:
        sbw.reset()
    assert r.status_code not in (404, 405), (
        f"{ep['method']} {path} -> {r.status_code}: {r.text[:300]}"
    )
    assert r.status_code < 500, f"{ep['method']} {path} -> {r.status_code}: {r.text[:300]}"
    if r.status_code == 204:
        assert ep["method"] == "DELETE" and not r.content, r.text
        return
    if r.status_code != 200:
        body = r.json()
        assert list(body) == ENVELOPE and body["data"] is None, body
        assert body["response_code"] not in ("SUCCESS", "INTERNAL_SERVER_ERROR"), body
        request.node.user_properties.append(
            ("answered", f"{r.status_code} {body['response_code']}")
        )
        return
    problems = check_body(ep, r)
    assert not problems, f"{ep['method']} {path}: " + "; ".join(problems[:10])
