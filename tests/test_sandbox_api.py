"""Sandbox read API over real loopback HTTP: envelope, paging, search, auth, account, usage.

Also validates response JSON types against ../shared/clicksend-api/openapi.yaml when it
is present (skipped in a fresh clone).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from csframe.sandbox import running

NOW = "2026-11-01T00:00:00Z"
OPENAPI = Path(__file__).resolve().parents[2] / "shared" / "clicksend-api" / "openapi.yaml"


@pytest.fixture(scope="module")
def sb():
    with running(scale="small", seed=42, now=NOW) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def http(sb):
    with requests.Session() as s:
        s.auth = (sb.credentials["username"], sb.credentials["api_key"])
        yield s


def history(sb, http, **params: Any) -> dict[str, Any]:
    r = http.get(sb.base_url + "/sms/history", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def all_rows(sb, http, **params: Any) -> list[dict[str, Any]]:
    rows, page = [], 1
    while True:
        data = history(sb, http, page=page, limit=100, **params)["data"]
        rows += data["data"]
        if data["next_page_url"] is None:
            return rows
        page += 1


@pytest.fixture(scope="module")
def everything(sb, http) -> list[dict[str, Any]]:
    return all_rows(sb, http)


# ---------------------------------------------------------------- envelope + paging


def test_envelope_and_pagination_block(sb, http):
    body = history(sb, http)
    assert list(body) == ["http_code", "response_code", "response_msg", "data"]
    assert (body["http_code"], body["response_code"]) == (200, "SUCCESS")
    data = body["data"]
    assert list(data) == [
        "total",
        "per_page",
        "current_page",
        "last_page",
        "next_page_url",
        "prev_page_url",
        "from",
        "to",
        "data",
    ]
    assert data["total"] == 5000 and data["per_page"] == 15 and data["current_page"] == 1
    assert data["last_page"] == 334 and (data["from"], data["to"]) == (1, 15)
    assert data["prev_page_url"] is None
    assert (
        data["next_page_url"].startswith(sb.base_url + "/sms/history?")
        and "page=2" in data["next_page_url"]
    )
    rec = data["data"][0]
    types = {
        "date": int,
        "message_parts": int,
        "user_id": int,
        "subaccount_id": int,
        "schedule": str,
        "message_price": str,
        "message_id": str,
    }
    for key, typ in types.items():
        assert isinstance(rec[key], typ), key
    assert len(rec["message_price"].split(".")[1]) == 6


def test_page_arithmetic_last_page_past_end_and_clamp(sb, http):
    d = history(sb, http, limit=100, page=50)["data"]
    assert (d["last_page"], d["from"], d["to"], d["next_page_url"]) == (50, 4901, 5000, None)
    assert "page=49" in d["prev_page_url"] and "limit=100" in d["prev_page_url"]
    past = history(sb, http, limit=100, page=51)["data"]
    assert past["data"] == [] and past["total"] == 5000 and past["last_page"] == 50
    assert past["from"] is None and past["to"] is None and past["next_page_url"] is None
    assert history(sb, http, limit=5)["data"]["per_page"] == 15
    assert history(sb, http, limit=500)["data"]["per_page"] == 100
    assert len(history(sb, http, limit=500)["data"]["data"]) == 100
    assert history(sb, http, page=0)["data"]["current_page"] == 1
    partial = history(sb, http, limit=30, page=167)["data"]  # 5000 = 166*30 + 20
    assert (partial["from"], partial["to"], len(partial["data"])) == (4981, 5000, 20)


def test_empty_result_block(sb, http):
    d = history(sb, http, date_from=2_000_000_000)["data"]
    assert d["total"] == 0 and d["last_page"] == 1 and d["data"] == []
    assert (
        d["from"] is None
        and d["to"] is None
        and d["next_page_url"] is None
        and d["prev_page_url"] is None
    )


def test_paging_through_everything_matches_truth(sb, everything):
    ids = [r["message_id"] for r in everything]
    assert len(ids) == len(set(ids)) == 5000
    assert ids == sb.truth_sms_ids()
    dates = [r["date"] for r in everything]
    assert dates == sorted(dates)
    assert max(dates) <= datetime.fromisoformat(NOW).timestamp()


def test_bad_params_are_400(sb, http):
    for params in (
        {"limit": "x"},
        {"date_from": "yesterday"},
        {"q": "nonsense:1"},
        {"order_by": "date:sideways"},
        {"operator": "XOR"},
    ):
        r = http.get(sb.base_url + "/sms/history", params=params)
        assert (
            r.status_code == 400
            and r.json()["response_code"] == "BAD_REQUEST"
            and r.json()["data"] is None
        )


# ---------------------------------------------------------------- search, order, dates


def test_q_is_case_insensitive_and_exact(sb, http, everything):
    failed = [r["message_id"] for r in everything if r["status"] == "Failed"]
    got = all_rows(sb, http, q="status:failed")
    assert [r["message_id"] for r in got] == failed and failed
    assert sb.truth_sms_ids(q="status:FAILED") == failed


def test_q_and_or(sb, http, everything):
    sub = 60313
    both = [
        r["message_id"] for r in everything if r["status"] == "Failed" and r["subaccount_id"] == sub
    ]
    either = [
        r["message_id"]
        for r in everything
        if r["status"] == "Cancelled" or r["subaccount_id"] == sub
    ]
    assert [
        r["message_id"] for r in all_rows(sb, http, q=f"status:Failed,subaccount_id:{sub}")
    ] == both
    assert [
        r["message_id"]
        for r in all_rows(sb, http, q=f"status:Cancelled,subaccount_id:{sub}", operator="OR")
    ] == either
    one = everything[1234]
    assert [
        r["message_id"] for r in all_rows(sb, http, q=f"message_id:{one['message_id'].lower()}")
    ] == [one["message_id"]]
    to = [r["message_id"] for r in everything if r["to"] == one["to"]]
    assert [r["message_id"] for r in all_rows(sb, http, q=f"to:{one['to']}")] == to


def test_order_by(sb, http, everything):
    desc = all_rows(sb, http, order_by="date:desc")
    assert [r["message_id"] for r in desc] == [r["message_id"] for r in reversed(everything)]
    by_to = all_rows(sb, http, order_by="to:asc")
    assert [r["to"] for r in by_to] == sorted(r["to"] for r in everything)
    by_status = history(sb, http, order_by="status:desc", limit=100)["data"]["data"]
    assert by_status[0]["status"] == max(r["status"] for r in everything)


def test_date_window_is_inclusive(sb, http, everything):
    d = everything[2500]["date"]
    same = [r["message_id"] for r in everything if r["date"] == d]
    assert [r["message_id"] for r in all_rows(sb, http, date_from=d, date_to=d)] == same
    lo, hi = everything[1000]["date"], everything[1999]["date"]
    window = [r["message_id"] for r in everything if lo <= r["date"] <= hi]
    got = all_rows(sb, http, date_from=lo, date_to=hi)
    assert [r["message_id"] for r in got] == window
    assert history(sb, http, date_from=lo, date_to=hi)["data"]["total"] == len(window)
    desc = all_rows(sb, http, date_from=lo, date_to=hi, order_by="date:desc")
    assert [r["message_id"] for r in desc] == window[::-1]
    assert sb.truth_sms_ids(date_from=lo, date_to=hi) == window
    assert history(sb, http, date_from=hi, date_to=lo)["data"]["total"] == 0


# ---------------------------------------------------------------- data realism


def test_seed_is_coherent_and_varied(everything):
    statuses = {r["status"] for r in everything}
    assert {"Completed", "Failed", "Cancelled", "Scheduled"} <= statuses
    assert len({r["country"] for r in everything}) >= 5
    assert len({r["subaccount_id"] for r in everything}) == 4
    assert any(r["message_parts"] >= 2 for r in everything)
    assert any(any(ord(c) > 0xFFFF for c in r["body"]) for r in everything)  # emoji
    assert any(
        r["list_id"] and r["contact_id"] and r["first_name"] for r in everything
    )  # campaigns
    assert any(r["custom_string"] for r in everything)
    for r in everything:
        if r["status"] == "Completed":
            assert (r["status_code"], r["status_text"], r["error_code"]) == (
                "201",
                "Success: Message received on handset.",  # the reference's wording
                None,
            )
        if r["status"] == "Failed":
            assert r["error_code"] and r["error_text"]
        if r["status"] == "Cancelled":
            assert r["message_price"] == "0.000000"
        if r["status"] == "Scheduled":
            assert int(r["schedule"]) > r["date"]


# ---------------------------------------------------------------- auth


def test_auth_errors(sb):
    url = sb.base_url + "/account"
    r = requests.get(url)
    assert (r.status_code, r.json()["response_code"], r.json()["data"]) == (
        401,
        "MISSING_CREDENTIALS",
        None,
    )
    r = requests.get(url, auth=(sb.credentials["username"], "wrong"))
    assert (r.status_code, r.json()["response_code"]) == (401, "INVALID_CREDENTIALS")
    r = requests.get(url, auth=("nobody", sb.credentials["api_key"]))
    assert (r.status_code, r.json()["response_code"]) == (401, "INVALID_CREDENTIALS")
    key = sb.accounts["notactive"]["api_key"]
    assert key == "D83DED51-9E35-4D42-9BB9-0E34B7CA85AE"
    for path in ("/account", "/sms/history"):
        r = requests.get(sb.base_url + path, auth=("notactive", key))
        assert (r.status_code, r.json()["response_code"]) == (403, "ACCOUNT_NOT_ACTIVATED")
        r = requests.get(sb.base_url + path, auth=("banned", key))
        assert (r.status_code, r.json()["response_code"], r.json()["response_msg"]) == (
            403,
            "FORBIDDEN",
            "This account is banned.",
        )
    r = requests.get(url, auth=("nocredit", key))
    assert r.status_code == 200 and r.json()["data"]["balance"] == "0.000000"
    r = requests.get(sb.base_url + "/sms/history", auth=("nocredit", key))
    assert r.json()["data"]["total"] == 0


def test_unknown_path_and_method(sb, http):
    r = http.get(sb.base_url + "/no/such/thing")
    assert (r.status_code, r.json()["response_code"], r.json()["data"]) == (404, "NOT_FOUND", None)
    r = http.delete(sb.base_url + "/sms/history")
    assert (r.status_code, r.json()["response_code"]) == (405, "METHOD_NOT_ALLOWED")


def test_subaccount_sees_only_its_own(sb, everything):
    acc = sb.accounts["support"]
    with requests.Session() as s:
        s.auth = (acc["username"], acc["api_key"])
        rows = []
        page = 1
        while True:
            d = s.get(sb.base_url + "/sms/history", params={"limit": 100, "page": page}).json()[
                "data"
            ]
            rows += d["data"]
            if not d["next_page_url"]:
                break
            page += 1
        mine = [r["message_id"] for r in everything if r["_api_username"] == acc["username"]]
        assert [r["message_id"] for r in rows] == mine and mine
        assert sb.truth_sms_ids(username=acc["username"]) == mine
        account = s.get(sb.base_url + "/account").json()["data"]
        assert (
            account["username"] == "csframe_demo"
            and account["_subaccount"]["api_username"] == acc["username"]
        )
        usage = s.get(sb.base_url + "/account/usage/2026/10/subaccount").json()["data"]["sms"]
        assert [u["username"] for u in usage] == [acc["username"]]


# ---------------------------------------------------------------- account + usage


def test_account(sb, http):
    body = http.get(sb.base_url + "/account").json()
    data = body["data"]
    assert body["response_code"] == "SUCCESS"
    assert data["username"] == sb.credentials["username"]
    assert data["_currency"]["currency_name_short"] == "AUD"
    assert (
        data["country"] == data["default_country_sms"] == "AU"
        and data["timezone"] == "Australia/Melbourne"
    )
    whole, frac = data["balance"].split(".")
    assert whole.isdigit() and len(frac) == 6
    assert data["_subaccount"]["api_key"] == sb.credentials["api_key"]


def test_usage_is_history_sums_less_refunds(sb, http, everything):
    """Usage is what was billed: the history's parts and prices per month and subaccount,
    less the refunded SMS (failed for a number not in service, about half of them)."""
    refunded = {r["message_id"]: r for r in sb.refunds()}
    failed = {
        r["message_id"]: r
        for r in everything
        if r["status"] == "Failed"
        and r["error_code"] in ("301", "305")
        and float(r["message_price"]) > 0
    }
    assert set(refunded) <= set(failed)
    assert 0.3 < len(refunded) / len(failed) < 0.7  # refund_share 0.5
    for mid, r in refunded.items():
        assert (r["message_parts"], r["message_price"]) == (
            failed[mid]["message_parts"],
            failed[mid]["message_price"],
        )
    expected: dict[tuple[int, int], dict[int, list[float]]] = defaultdict(
        lambda: defaultdict(lambda: [0, 0.0])
    )
    for r in everything:
        if r["message_id"] in refunded:
            continue
        d = datetime.fromtimestamp(r["date"], UTC)
        acc = expected[(d.year, d.month)][r["subaccount_id"]]
        acc[0] += r["message_parts"]
        acc[1] += float(r["message_price"])
    assert len(expected) >= 13
    for (year, month), subs in expected.items():
        body = http.get(f"{sb.base_url}/account/usage/{year}/{month}/subaccount").json()
        data = body["data"]
        got = {u["subaccount_id"]: u for u in data["sms"]}
        assert set(got) == set(subs), (year, month)
        for sid, (parts, price) in subs.items():
            assert got[sid]["total_count"] == f"{parts}.00"
            assert got[sid]["total_price"] == pytest.approx(price, abs=1e-6)
            assert isinstance(got[sid]["total_price"], float | int)
        assert data["sms_total"]["count"] == sum(p for p, _ in subs.values())
        # (the other channels' lines are checked in test_sandbox_messages.py)
        assert data["_currency"]["currency_name_short"] == "AUD"
    empty = http.get(f"{sb.base_url}/account/usage/2020/1/subaccount").json()["data"]
    assert empty["sms"] == [] and empty["sms_total"] == {"count": 0, "price": 0}


@pytest.mark.parametrize(
    "year,month", [("2026", "13"), ("2026", "0"), ("abcd", "1"), ("2026", "x")]
)
def test_usage_bad_month_is_400(sb, http, year, month):
    r = http.get(f"{sb.base_url}/account/usage/{year}/{month}/subaccount")
    assert r.status_code == 400 and r.json()["response_code"] == "BAD_REQUEST"


# ---------------------------------------------------------------- OpenAPI types


# Where the sandbox deliberately returns null although the OpenAPI schema says "string"
# (or integer): the real API does too -- the OpenAPI's own examples show null for these
# history fields, and an empty page has no first/last row number (Laravel paginator).
NULLABLE_TOO = {
    "pagination": {"from", "to"},
    "view_sms_history_data_allOf_data_inner": {
        "status_code",
        "from_email",
        "custom_string",
        "contact_id",
    },
}


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    if not OPENAPI.is_file():
        pytest.skip(f"{OPENAPI} not present (a fresh clone has no ../shared)")
    yaml = pytest.importorskip("yaml")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with OPENAPI.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=loader)


def json_schema(openapi: dict[str, Any], name: str) -> dict[str, Any]:
    """An OpenAPI component as plain JSON Schema: $refs inlined, ``nullable`` turned into null types."""
    schemas = openapi["components"]["schemas"]

    def convert(node: Any, owner: str | None) -> Any:
        if isinstance(node, list):
            return [convert(n, owner) for n in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            ref = node["$ref"].rsplit("/", 1)[-1]
            return convert(copy.deepcopy(schemas[ref]), ref)
        out = {
            k: convert(v, owner)
            for k, v in node.items()
            if k not in ("example", "nullable", "description")
        }
        if "properties" in out:
            for prop in NULLABLE_TOO.get(owner or "", ()):
                if prop in out["properties"]:
                    out["properties"][prop]["nullable"] = True
            out["properties"] = {
                k: convert_nullable(v, node["properties"].get(k, {}))
                for k, v in out["properties"].items()
            }
        return out

    def convert_nullable(converted: Any, original: dict[str, Any]) -> Any:
        if (
            isinstance(converted, dict)
            and (converted.pop("nullable", False) or original.get("nullable"))
            and "type" in converted
        ):
            converted["type"] = [converted["type"], "null"]
        return converted

    return convert(copy.deepcopy(schemas[name]), name)


def validate(openapi: dict[str, Any], name: str, body: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(body, json_schema(openapi, name))


def test_openapi_types(openapi, sb, http):
    validate(openapi, "view-account-details", http.get(sb.base_url + "/account").json())
    validate(openapi, "view-sms-history", history(sb, http, limit=100, page=3))
    validate(openapi, "view-sms-history", history(sb, http, date_from=2_000_000_000))  # empty page
    validate(
        openapi,
        "view-account-usage",
        http.get(sb.base_url + "/account/usage/2026/10/subaccount").json(),
    )
    msgs = {
        "messages": [
            {"to": "+61411111111", "body": "hi 🎉", "custom_string": "x"},
            {"to": "bogus", "body": "x"},
        ]
    }
    validate(
        openapi, "calculate-sms-price", http.post(sb.base_url + "/sms/price", json=msgs).json()
    )
    validate(
        openapi, "send-sms", http.post(sb.base_url + "/sms/send", json=msgs).json()
    )  # test number: free, not stored


def test_openapi_conversion_catches_wrong_types(openapi):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json_schema(openapi, "view-account-usage")
    bad = {
        "http_code": 200,
        "response_code": "SUCCESS",
        "response_msg": "",
        "data": {
            "sms": [{"subaccount_id": 1, "username": "u", "total_count": 29, "total_price": 1.0}]
        },
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
