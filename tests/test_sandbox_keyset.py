"""Searched and sorted histories page by keyset: a client paging in order costs one
``count(*)`` for the whole query and an index seek per page (no OFFSET scan), and the
pages are exactly those of count + OFFSET paging, also when the store is written between
pages. ``sb.stats()["paging"]`` says how each page was served."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from csframe.sandbox import running

NOW = "2026-11-01T00:00:00Z"


@pytest.fixture(scope="module")
def sb():
    with running(scale="small", seed=42, now=NOW, behaviour={"reply_rate": 0}) as sandbox:
        yield sandbox


def page(sb, path: str, **params: Any) -> dict[str, Any]:
    r = requests.get(
        sb.base_url + path, params=params, auth=tuple(sb.credentials.values()), timeout=30
    )
    assert r.status_code == 200, r.text
    return r.json()["data"]


def walk(sb, path: str, **params: Any) -> list[str]:
    ids, n = [], 1
    while True:
        data = page(sb, path, page=n, **params)
        ids += [r["message_id"] for r in data["data"]]
        if data["next_page_url"] is None:
            return ids
        n += 1


QUERIES = [
    {"q": "status:Completed"},  # most of the history
    {"q": "status:Failed,country:AU", "order_by": "date:desc"},
    {"q": "status:Failed,status:Cancelled", "operator": "OR"},
    {"order_by": "to:desc"},  # a sort on a field, mixed directions with the date tie-break
    {"order_by": "status:asc", "date_from": 1780272000},
]


@pytest.mark.parametrize(
    "params", QUERIES, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items())
)
def test_paging_in_order_counts_once_and_seeks(sb, params):
    sb.reset_stats()
    ids = walk(sb, "/sms/history", limit=50, **params)
    truth = sb.truth_sms_ids(**params)
    assert ids == truth and len(ids) > 100
    pages = -(-len(ids) // 50)
    assert sb.stats()["paging"] == {"counts": 1, "seeks": pages - 1, "offsets": 0}


def test_other_channels_page_by_keyset_too(sb):
    sb.reset_stats()
    ids = walk(sb, "/mms/history", limit=15, q="status:Completed", order_by="date:desc")
    assert len(ids) > 30 and len(set(ids)) == len(ids)
    stats = sb.stats()["paging"]
    assert stats["counts"] == 1 and stats["offsets"] == 0
    assert stats["seeks"] == -(-len(ids) // 15) - 1


def test_a_page_out_of_order_is_served_by_offset(sb):
    params = {"q": "status:Completed", "limit": 20}
    in_order = [page(sb, "/sms/history", page=n, **params)["data"] for n in (1, 2, 3)]
    sb.reset_stats()
    again = page(sb, "/sms/history", page=7, **params)["data"]
    assert sb.stats()["paging"] == {"counts": 0, "seeks": 0, "offsets": 1}
    truth = sb.truth_sms_ids(q="status:Completed")
    assert [r["message_id"] for r in again] == truth[120:140]
    assert [r["message_id"] for p in in_order for r in p] == truth[:60]


def test_a_write_between_pages_gives_what_offset_paging_gives(sb):
    """Messages inserted between two pages shift the pages of a date-descending search:
    page 2 must then be page 2 of the new state (what count + OFFSET gives), not the rows
    after page 1's last row."""
    sb.reset()
    params = {"q": "status:Sent", "order_by": "date:desc", "limit": 15}
    first = page(sb, "/sms/history", page=1, **params)
    sb.insert_sms(5)  # Sent rows, dated now: the newest, at the top of this order
    sb.reset_stats()
    second = page(sb, "/sms/history", page=2, **params)
    truth = sb.truth_sms_ids(q="status:Sent", order_by="date:desc")
    assert second["total"] == first["total"] + 5
    assert [r["message_id"] for r in second["data"]] == truth[15:30]
    assert sb.stats()["paging"]["counts"] == 1  # counted again after the write
    sb.reset()


@pytest.mark.parametrize(
    "params",
    [{}, {"q": "address_country:AU"}, {"order_by": "first_name:desc"}, {"order_by": "email:asc"}],
    ids=["default", "search", "sort desc", "sort on a nullable field"],
)
def test_contacts_page_by_keyset_with_searches_and_sorts(sb, params):
    lists = page(sb, "/lists", limit=100)["data"]
    list_id = max(lists, key=lambda x: x["_contacts_count"])["list_id"]

    def walk_contacts(limit: int) -> list[int]:
        ids, n = [], 1
        while True:
            data = page(sb, f"/lists/{list_id}/contacts", page=n, limit=limit, **params)
            ids += [c["contact_id"] for c in data["data"]]
            if data["next_page_url"] is None:
                return ids
            n += 1

    sb.reset_stats()
    small = walk_contacts(15)
    pages = -(-len(small) // 15)
    assert sb.stats()["paging"] == {"counts": 1, "seeks": pages - 1, "offsets": 0}
    assert len(small) > 30 and len(set(small)) == len(small)
    assert small == walk_contacts(100)  # the same order whatever the page size
    total = page(sb, f"/lists/{list_id}/contacts", limit=15, **params)["total"]
    assert len(small) == total  # every row once: none skipped, none repeated
