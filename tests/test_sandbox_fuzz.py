"""Hostile input answers 4xx, never 5xx: a bounded loopback fuzz of every route with
huge, negative and malformed ids, paging and dates, and deeply nested or oversized JSON."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
import requests

from csframe.sandbox import running
from csframe.sandbox.urls import routes

HUGE = "9" * 30
PATH_VALUES = (HUGE, "18446744073709551616", "-1", "x" * 300)
QUERIES = (
    {"page": HUGE},
    {"page": "-" + HUGE, "limit": HUGE},
    {"date_from": HUGE, "date_to": "-" + HUGE},
    {"q": "status:" + "x" * 5000, "operator": "XOR"},
    {"order_by": "date:" * 200},
    {"updated_after": HUGE, "limit": "nan"},
)
BODIES = (
    "[" * 50_000 + "]" * 50_000,
    '{"a":' * 20_000 + "1" + "}" * 20_000,
    json.dumps({"messages": [{"to": HUGE, "body": "x", "schedule": 1e29}]}),
    json.dumps(
        {
            k: int(HUGE)
            for k in ("amount", "date_before", "contact_id", "list_id", "schedule", "balance")
        }
    ),
    json.dumps({"messages": [[[[]]]] * 3, "list_name": ["x"] * 3}),
    "not json at all",
)
# Admin routes that reconfigure the server itself are left out (faults make 5xx on purpose).
SKIP_ADMIN = re.compile(r"^/_sandbox/(faults|behaviour)")


def _fill(path: str, value: str) -> str:
    return re.sub(r"{\w+(?::\w+)?}", requests.utils.quote(value, safe=""), path)


@pytest.fixture(scope="module")
def sb():
    with running(scale="tiny", seed=1, delivery_delay_s=0) as sandbox:
        yield sandbox


def test_no_route_answers_hostile_input_with_a_5xx(sb):
    auth = tuple(sb.credentials.values())
    headers = {"Content-Type": "application/json", **sb.admin_headers}
    session = requests.Session()
    bad: Counter[tuple[str, str, int]] = Counter()
    sent = 0
    for route in routes:
        path = getattr(route, "path", "")
        if not path.startswith(("/v3", "/_sandbox")) or SKIP_ADMIN.match(path):
            continue
        for method in sorted((getattr(route, "methods", None) or {"GET"}) - {"HEAD"}):
            tries = [(_fill(path, v), {}, None) for v in PATH_VALUES]
            tries += [(_fill(path, PATH_VALUES[0]), q, None) for q in QUERIES]
            if method != "GET":
                tries += [(_fill(path, PATH_VALUES[1]), {}, b) for b in BODIES]
            for url_path, query, body in tries:
                r = session.request(
                    method,
                    sb.root_url + url_path,
                    params=query,
                    data=body,
                    auth=auth,
                    headers=headers,
                    timeout=60,
                )
                sent += 1
                if r.status_code >= 500:
                    bad[(method, path, r.status_code)] += 1
                elif path.startswith("/v3") and r.status_code >= 400:
                    assert {"http_code", "response_code", "response_msg"} <= set(r.json())
    assert sent > 2000
    assert not bad, f"5xx answers: {dict(bad)}"


def test_page_beyond_int32_and_ids_beyond_int64_are_clear_400s(sb):
    auth = tuple(sb.credentials.values())
    r = requests.get(sb.base_url + "/sms/history", params={"page": 2**31}, auth=auth)
    assert r.status_code == 400 and "page" in r.json()["response_msg"]
    r = requests.get(sb.base_url + "/sms/history", params={"date_from": 2**64}, auth=auth)
    assert r.status_code == 400 and "date_from" in r.json()["response_msg"]
    r = requests.get(sb.base_url + f"/lists/{2**64}", auth=auth)
    assert r.status_code == 400 and "out of range" in r.json()["response_msg"]
    r = requests.put(
        sb.base_url + "/sms/inbound-read",
        data="[" * 100_000 + "]" * 100_000,
        auth=auth,
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400
