"""Sandbox messages area over loopback: history of MMS, voice, email, fax, letters and
postcards (envelope, paging, search, types), and usage = the sum of each channel's history.

JSON types are validated against ../shared/clicksend-api/openapi.yaml where it has a
schema (MMS, voice, email), else against the reference example's types (fax, post);
those tests skip when ../shared is absent.
"""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from csframe.sandbox import running

NOW = "2026-11-01T00:00:00Z"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "clicksend-api"
OPENAPI = SHARED / "openapi.yaml"
ENDPOINTS = SHARED / "endpoints.json"

HISTORY = {
    "mms": "/mms/history",
    "voice": "/voice/history",
    "email": "/email/history",
    "fax": "/fax/history",
    "letter": "/post/letters/history",
    "postcard": "/post/postcards/history",
}
USAGE_KEY = {
    "mms": "mms",
    "voice": "voice",
    "email": "email_transactional",
    "fax": "fax",
    "letter": "post",
    "postcard": "postcards",
}


@pytest.fixture(scope="module")
def sb():
    with running(scale="small", seed=42, now=NOW) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def http(sb):
    with requests.Session() as s:
        s.auth = (sb.credentials["username"], sb.credentials["api_key"])
        yield s


def get(sb, http, path: str, **params: Any) -> dict[str, Any]:
    r = http.get(sb.base_url + path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def all_rows(sb, http, path: str, **params: Any) -> list[dict[str, Any]]:
    rows, page = [], 1
    while True:
        data = get(sb, http, path, page=page, limit=100, **params)["data"]
        rows += data["data"]
        if data["next_page_url"] is None:
            return rows
        page += 1


def truth(sb, channel: str, **params: Any) -> list[str]:
    r = requests.get(
        f"{sb.root_url}/_sandbox/truth/history/{channel}", params=params, headers=sb.admin_headers
    )
    assert r.status_code == 200, r.text
    return r.json()["message_ids"]


@pytest.fixture(scope="module")
def histories(sb, http) -> dict[str, list[dict[str, Any]]]:
    return {ch: all_rows(sb, http, path) for ch, path in HISTORY.items()}


def date_of(channel: str, rec: dict[str, Any]) -> int:
    return rec["date_added"]


# ---------------------------------------------------------------- history


@pytest.mark.parametrize("channel", list(HISTORY))
def test_history_envelope_paging_and_truth(sb, http, histories, channel):
    body = get(sb, http, HISTORY[channel])
    assert list(body) == ["http_code", "response_code", "response_msg", "data"]
    data = body["data"]
    rows = histories[channel]
    assert data["total"] == len(rows) > 0
    assert data["per_page"] == 15 and data["current_page"] == 1
    assert data["from"] == 1 and data["to"] == min(15, len(rows))
    assert [r["message_id"] for r in rows] == truth(sb, channel)
    dates = [date_of(channel, r) for r in rows]
    assert dates == sorted(dates)  # default order: date ascending
    assert len({r["message_id"] for r in rows}) == len(rows)
    # desc is the exact reverse of asc
    desc = all_rows(sb, http, HISTORY[channel], order_by="date:desc")
    assert [r["message_id"] for r in desc] == [r["message_id"] for r in reversed(rows)]


def test_history_seed_is_realistic(histories):
    mms, voice, email = histories["mms"], histories["voice"], histories["email"]
    assert {r["status"] for r in mms} >= {"Completed", "Failed", "Scheduled"}
    assert any(r["list_id"] for r in mms) and any(r["list_id"] is None for r in mms)
    assert {r["to_type"] for r in voice} == {"mobile", "landline"}
    assert {r["status"] for r in voice} >= {"Completed", "Failed"}
    assert any(r["digits"] for r in voice)  # keypresses on reminder calls
    assert {r["status"] for r in email} >= {"Delivered", "Bounced"}
    assert any(r["_attachments"] for r in email) and any(r["cc"] for r in email)
    for r in histories["fax"]:
        assert float(r["message_price"]) > 0 and r["message_pages"].endswith(".00")
    assert {r["address_country"] for r in histories["letter"]} >= {"AU"}
    # every channel spans the 13 months up to now
    now = int(datetime.fromisoformat(NOW).timestamp())
    for channel, rows in histories.items():
        assert all(date_of(channel, r) <= now for r in rows), channel
    assert min(r["date_added"] for r in email) < now - 300 * 86400


def test_history_date_window_q_operator_order(sb, http, histories):
    rows = histories["voice"]
    lo, hi = rows[len(rows) // 4]["date_added"], rows[3 * len(rows) // 4]["date_added"]
    window = all_rows(sb, http, "/voice/history", date_from=lo, date_to=hi)
    expect = [r["message_id"] for r in rows if lo <= r["date_added"] <= hi]
    assert [r["message_id"] for r in window] == expect
    assert expect == truth(sb, "voice", date_from=lo, date_to=hi)

    failed = all_rows(sb, http, "/voice/history", q="status:failed")  # case-insensitive
    assert failed and [r["message_id"] for r in failed] == [
        r["message_id"] for r in rows if r["status"] == "Failed"
    ]
    one = rows[7]
    both = all_rows(
        sb, http, "/voice/history", q=f"status:Failed,message_id:{one['message_id']}", operator="OR"
    )
    assert {r["message_id"] for r in both} == {
        r["message_id"] for r in rows if r["status"] == "Failed" or r is one
    }
    by_to = all_rows(sb, http, "/voice/history", order_by="to:desc")
    assert [r["to"] for r in by_to] == sorted((r["to"] for r in rows), reverse=True)
    # the fax reference's "order=" spelling
    fax = all_rows(sb, http, "/fax/history", order="date_added:desc")
    assert [r["message_id"] for r in fax] == [r["message_id"] for r in reversed(histories["fax"])]


def test_history_bad_params_are_400(sb, http):
    for params in ({"q": "nosuchfield:1"}, {"order_by": "body:up"}, {"date_from": "yesterday"}):
        r = http.get(sb.base_url + "/mms/history", params=params)
        assert r.status_code == 400 and r.json()["response_code"] == "BAD_REQUEST", params


def test_history_subaccount_sees_only_its_own(sb, histories):
    marketing = sb.accounts["marketing"]
    r = requests.get(
        sb.base_url + "/mms/history",
        params={"limit": 100},
        auth=(marketing["username"], marketing["api_key"]),
    )
    data = r.json()["data"]
    own = [x for x in histories["mms"] if x["_api_username"] == marketing["username"]]
    assert data["total"] == len(own) > 0
    assert {x["_api_username"] for x in data["data"]} == {marketing["username"]}


def test_history_past_the_last_page(sb, http, histories):
    n = len(histories["fax"])
    data = get(sb, http, "/fax/history", page=n + 5)["data"]
    assert data["data"] == [] and data["total"] == n and data["from"] is None


# ---------------------------------------------------------------- usage


def _units(channel: str, rec: dict[str, Any]) -> int:
    if channel in ("mms", "voice"):
        return int(float(rec["message_parts"]))
    if channel == "fax":
        return int(float(rec["message_pages"]))
    if channel == "email":
        return len(rec["to"]) + len(rec["cc"]) + len(rec["bcc"])
    return 1  # a letter or a postcard


def _price(channel: str, rec: dict[str, Any]) -> float:
    key = {"email": "price", "letter": "post_price", "postcard": "post_price"}.get(
        channel, "message_price"
    )
    return float(rec[key])


def test_usage_equals_history_per_month_subaccount_and_channel(sb, http, histories):
    expect: dict[tuple[int, int, str], dict[int, list[float]]] = defaultdict(
        lambda: defaultdict(lambda: [0, 0.0])
    )
    for channel, rows in histories.items():
        for r in rows:
            d = datetime.fromtimestamp(r["date_added"], UTC)
            line = expect[(d.year, d.month, channel)][r["subaccount_id"]]
            line[0] += _units(channel, r)
            line[1] += _price(channel, r)
    months = sorted({(y, m) for y, m, _ in expect})
    assert len(months) >= 13
    for y, m in months:
        data = get(sb, http, f"/account/usage/{y}/{m}/subaccount")["data"]
        for channel, key in USAGE_KEY.items():
            got = {
                line["subaccount_id"]: (line["total_count"], line["total_price"])
                for line in data[key]
            }
            want = expect.get((y, m, channel), {})
            assert set(got) == set(want), (y, m, channel)
            for sid, (count, price) in want.items():
                shown = got[sid][0]
                assert (shown if channel == "email" else float(shown)) == count
                assert got[sid][1] == pytest.approx(price, abs=1e-6), (y, m, channel, sid)
            assert data[f"{key}_total"]["count"] == sum(c for c, _ in want.values())
            assert data[f"{key}_total"]["price"] == pytest.approx(
                sum(p for _, p in want.values()), abs=1e-6
            )


def test_usage_of_a_subaccount_is_its_own_line(sb, histories):
    support = sb.accounts["support"]
    r = requests.get(
        sb.base_url + "/account/usage/2026/10/subaccount",
        auth=(support["username"], support["api_key"]),
    )
    data = r.json()["data"]
    for key in USAGE_KEY.values():
        assert {line["username"] for line in data[key]} <= {support["username"]}
    sid = next(
        x["subaccount_id"] for x in sb.info["logins"] if x["username"] == support["username"]
    )
    expect = sum(
        _price("email", x)
        for x in histories["email"]
        if x["subaccount_id"] == sid
        and datetime.fromtimestamp(x["date_added"], UTC).strftime("%Y-%m") == "2026-10"
    )
    assert data["email_transactional_total"]["price"] == pytest.approx(expect, abs=1e-6)


# ---------------------------------------------------------------- determinism


def test_seed_is_deterministic():
    from csframe.sandbox.models import Store
    from csframe.sandbox.seed import seed

    dumps = []
    for _ in range(2):
        store = Store()
        seed(store, seed=3, scale="tiny", now=NOW)
        dumps.append(
            [
                store.db.execute(f"SELECT * FROM {t} ORDER BY id").fetchall()
                for t in ("msg_rows", "msg_receipts", "msg_inbound")
            ]
        )
        store.close()
    assert dumps[0] == dumps[1] and all(dumps[0])


# ---------------------------------------------------------------- OpenAPI / reference types


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    if not OPENAPI.is_file():
        pytest.skip(f"{OPENAPI} not present (a fresh clone has no ../shared)")
    yaml = pytest.importorskip("yaml")
    with OPENAPI.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@pytest.fixture(scope="module")
def examples() -> dict[tuple[str, str], dict[str, Any]]:
    if not ENDPOINTS.is_file():
        pytest.skip(f"{ENDPOINTS} not present (a fresh clone has no ../shared)")
    eps = json.loads(ENDPOINTS.read_text(encoding="utf-8"))
    return {(e["method"], e["path"]): e for e in eps}


# Where the sandbox returns null although the OpenAPI says a plain type (documented in
# the README): receipts of SMS carry no keypress digits.
NULLABLE_TOO: dict[str, set[str]] = {
    "pagination": {"from", "to"},
    "sms_receipt": {"digits"},
}


def json_schema(openapi: dict[str, Any], name: str) -> dict[str, Any]:
    """An OpenAPI component as JSON Schema: $refs inlined, ``nullable`` as null types."""
    schemas = openapi["components"]["schemas"]

    def convert(node: Any, owner: str | None) -> Any:
        if isinstance(node, list):
            return [convert(n, owner) for n in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            ref = node["$ref"].rsplit("/", 1)[-1]
            return convert(copy.deepcopy(schemas[ref]), ref)
        out = {k: convert(v, owner) for k, v in node.items() if k not in ("example", "description")}
        nullable = out.pop("nullable", False)
        if "properties" in out:
            for prop in NULLABLE_TOO.get(owner or "", ()):
                if prop in out["properties"] and "type" in out["properties"][prop]:
                    out["properties"][prop]["nullable_too"] = True
            for v in out["properties"].values():
                if isinstance(v, dict) and v.pop("nullable_too", False):
                    v["type"] = [v["type"], "null"]
        if nullable and isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        return out

    return convert(copy.deepcopy(schemas[name]), name)


def validate(openapi: dict[str, Any], name: str, body: Any) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(body, json_schema(openapi, name))


def test_openapi_types_of_history(openapi, sb, http):
    validate(openapi, "view-mms-history", get(sb, http, "/mms/history", limit=100, page=1))
    validate(openapi, "get-voice-history", get(sb, http, "/voice/history", limit=100, page=1))
    validate(openapi, "view-mms-history", get(sb, http, "/mms/history", date_from=2_000_000_000))
    # The email schema is self-contradictory (pagination allOf an array): check the block
    # against pagination and each record against transactional_email.
    body = get(sb, http, "/email/history", limit=100)
    validate(openapi, "pagination", {k: v for k, v in body["data"].items() if k != "data"})
    for rec in body["data"]["data"]:
        validate(openapi, "transactional_email", rec)


def test_openapi_validation_catches_wrong_types(openapi):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json_schema(openapi, "view_mms_history_data_allOf_data_inner")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"date": 1436932432}, schema)  # a string in the schema


def _kind(v: Any) -> str:
    return {bool: "bool", int: "int", float: "num", str: "str", list: "list", dict: "dict"}.get(
        type(v), "null"
    )


@pytest.mark.parametrize(
    "channel,path",
    [
        ("fax", "/fax/history"),
        ("letter", "/post/letters/history"),
        ("postcard", "/post/postcards/history"),
    ],
)
def test_reference_keys_and_types_without_openapi(examples, histories, channel, path):
    example = examples[("GET", path)]["example_response"]["data"]["data"][0]
    for rec in histories[channel]:
        assert set(example) <= set(rec), set(example) - set(rec)
        for key, value in example.items():
            # null in the example only says "may be null"; otherwise the type must match
            if value is not None and rec[key] is not None:
                assert _kind(rec[key]) == _kind(value), (key, rec[key], value)


# ---------------------------------------------------------------- exports

EXPORTS = {
    "sms": ("/sms/history/export", "/sms/history"),
    "mms": ("/mms/history/export", "/mms/history"),
    "voice": ("/voice/history/export", "/voice/history"),
    "email": ("/email/history/export", "/email/history"),
    "letter": ("/post/letters/export", "/post/letters/history"),
    "postcard": ("/post/postcards/history/export", "/post/postcards/history"),
}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def export_csv(sb, http, path: str, **params: Any) -> tuple[requests.Response, list[list[str]]]:
    import csv
    import io

    body = get(sb, http, path, filename="my export.csv", **params)
    assert body["response_msg"] == "Download your file here." and list(body["data"]) == ["url"]
    url = body["data"]["url"]
    assert url.startswith(sb.root_url + "/_files/exports/")
    r = requests.get(url)  # a pre-signed URL: no credentials
    assert r.status_code == 200, r.text
    return r, list(csv.reader(io.StringIO(r.content.decode("utf-8"))))


@pytest.mark.parametrize("channel", list(EXPORTS))
def test_export_csv_is_the_history_of_the_same_filter(sb, http, histories, channel):
    export_path, history_path = EXPORTS[channel]
    sample = histories.get(channel) or all_rows(sb, http, history_path)
    key = "date" if channel == "sms" else "date_added"
    lo, hi = sample[len(sample) // 5][key], sample[4 * len(sample) // 5][key]
    params: dict[str, Any] = {"date_from": lo, "date_to": hi}
    if channel in ("sms", "voice"):
        params.update(q="status:Completed", order_by="date:desc")
    rows = all_rows(sb, http, history_path, **params)
    response, table = export_csv(sb, http, export_path, **params)
    assert response.headers["content-type"].startswith("text/csv")
    assert "my%20export.csv" in response.headers["content-disposition"]  # RFC 5987
    assert table[0] == list(rows[0]) and len(rows) > 3
    assert table[1:] == [[_cell(r[k]) for k in table[0]] for r in rows]


def test_export_errors_empty_and_expiry(sb, http, monkeypatch):
    # filename is optional (the OpenAPI description and the official SDK say so)
    r = http.get(sb.base_url + "/mms/history/export")
    assert r.status_code == 200 and r.json()["data"]["url"].endswith(".csv")
    _, table = export_csv(sb, http, "/voice/history/export", date_from=2_000_000_000)
    assert len(table) == 1 and "message_id" in table[0]  # header only
    assert requests.get(sb.root_url + "/_files/exports/nosuchtoken.csv").status_code == 404
    from csframe.sandbox import models_messages

    monkeypatch.setattr(models_messages, "EXPORT_TTL_SECONDS", 0.0)
    url = get(sb, http, "/post/letters/export", filename="a.csv")["data"]["url"]
    gone = requests.get(url)
    assert gone.status_code == 403 and "expired" in gone.text
    unauth = requests.get(sb.base_url + "/sms/history/export", params={"filename": "a.csv"})
    assert unauth.status_code == 401
