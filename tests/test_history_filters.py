"""Server-side filters on history: q / operator / order_by, columns and max_rows.

Each filtered load is checked against the unfiltered load filtered in pandas.
"""

from __future__ import annotations

import pandas as pd
import pytest

import csframe
from csframe import schema
from csframe.paging import PREFETCH
from csframe.sandbox import running

START, END = "2026-02-01", "2026-06-01"


@pytest.fixture(scope="module")
def sb():
    with running(scale="small", seed=43) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def cs(sb, tmp_path_factory):
    return csframe.Client(
        **sb.credentials,
        base_url=sb.base_url,
        cache_dir=tmp_path_factory.mktemp("cache"),
        progress=False,
    )


@pytest.fixture(scope="module")
def full(cs):
    return cs.history("sms", START, END)


def test_q_equals_the_unfiltered_load_filtered_in_pandas(cs, full):
    failed = cs.history("sms", START, END, q={"status": "Failed"})
    want = full[full["status"].astype(str).str.lower() == "failed"]
    assert len(want) > 0
    assert failed["message_id"].tolist() == want["message_id"].tolist()
    assert {c: str(t) for c, t in failed.dtypes.items()} == schema.SMS_HISTORY.dtypes()
    # the raw string form and OR
    either = cs.history("sms", START, END, q="country:NZ,country:GB", operator="OR")
    want = full[full["country"].astype(str).isin(["NZ", "GB"])]
    assert either["message_id"].tolist() == want["message_id"].tolist()
    # and the unfiltered load is not answered from the filtered pages in the cache
    again = cs.history("sms", START, END)
    assert again["message_id"].tolist() == full["message_id"].tolist()


def test_order_by_is_global(cs, full):
    newest = cs.history("sms", START, END, order_by=("date", "desc"))
    assert newest["date"].is_monotonic_decreasing
    assert sorted(newest["message_id"]) == sorted(full["message_id"])
    by_to = cs.history("sms", START, END, order_by="to:asc")
    assert by_to["to"].tolist() == full.sort_values("to", kind="stable")["to"].tolist()


def test_unknown_fields_are_refused_before_any_request(cs):
    sent = cs.requests_sent
    with pytest.raises(ValueError, match="no field 'stauts'; allowed: .*status"):
        cs.history("sms", START, END, q={"stauts": "Failed"})
    with pytest.raises(ValueError, match="order_by"):
        cs.history("sms", START, END, order_by=("date", "sideways"))
    with pytest.raises(ValueError, match="operator"):
        cs.history("sms", START, END, q={"status": "x"}, operator="XOR")
    with pytest.raises(ValueError, match="no column"):
        cs.history("sms", START, END, columns=["date", "nope"])
    for bad in (5, "date", [], ["date", 3]):  # 5 used to raise a bare TypeError
        with pytest.raises(ValueError, match="columns must be a list of column names"):
            cs.history("sms", START, END, columns=bad)
    with pytest.raises(ValueError, match="max_rows"):
        cs.history("sms", START, END, max_rows=0)
    assert cs.requests_sent == sent


def test_columns_keep_values_and_dtypes(cs, full):
    cols = ["date", "to", "message_price", "status"]
    part = cs.history("sms", START, END, columns=cols)
    assert list(part.columns) == cols
    pd.testing.assert_frame_equal(part, full[cols].reset_index(drop=True))
    empty = cs.history("sms", "2001-01-01", "2001-02-01", columns=cols)
    assert list(empty.columns) == cols and len(empty) == 0
    assert {c: str(t) for c, t in empty.dtypes.items()} == {
        c: schema.SMS_HISTORY.dtypes()[c] for c in cols
    }
    parts = list(cs.iter_history("sms", START, END, columns=cols, chunk_pages=2))
    assert all(list(p.columns) == cols for p in parts)


def test_max_rows_stops_early(sb, full):
    fresh = csframe.Client(**sb.credentials, base_url=sb.base_url, cache=False, progress=False)
    n = 130
    head = fresh.history("sms", START, END, max_rows=n, max_workers=1, limit=15)
    capped = fresh.requests_sent
    assert head["message_id"].tolist() == full["message_id"].head(n).tolist()
    fresh.history("sms", START, END, max_workers=1, limit=15)
    everything = fresh.requests_sent - capped
    assert everything > 40 and capped < everything / 2  # stopped, did not read it all


# ------------------------------------------------------------ the other paginated loaders


def _pick(df: pd.DataFrame, column: str):
    """A value of ``column`` that some but not all rows have (so the filter means something)."""
    values = df[column].dropna().astype(str)
    counts = values.value_counts()
    return counts.index[len(counts) // 2] if len(counts) > 1 else counts.index[0]


@pytest.mark.parametrize(
    "loader,column",
    [
        (lambda cs, **kw: cs.lists(**kw), "list_name"),
        (lambda cs, **kw: cs.receipts("sms", **kw), "status_code"),
        (lambda cs, **kw: cs.recharge_transactions(**kw), "invoice_number"),
        (lambda cs, **kw: cs.inbound(**kw), "from"),
        (lambda cs, **kw: cs.campaigns("sms", **kw), "name"),
        (lambda cs, **kw: cs.subaccounts(**kw), "api_username"),
    ],
    ids=[
        "lists",
        "sms_receipts",
        "recharge_transactions",
        "inbound",
        "sms_campaigns",
        "subaccounts",
    ],
)
def test_paged_loaders_filter_on_the_server_like_pandas(cs, loader, column):
    everything = loader(cs)
    assert len(everything) > 1
    value = _pick(everything, column)
    got = loader(cs, q={column: value})
    want = everything[everything[column].astype(str).str.lower() == value.lower()]
    assert 0 < len(got) < len(everything) or len(want) == len(everything)
    key = everything.columns[0]
    assert sorted(got[key].astype(str)) == sorted(want[key].astype(str))
    some = loader(cs, columns=[key, column], max_rows=1)
    assert list(some.columns) == [key, column] and len(some) == 1
    sent = cs.requests_sent
    with pytest.raises(ValueError, match="allowed"):
        loader(cs, q={"no_such_field": 1})
    assert cs.requests_sent == sent


def test_contacts_filter_per_list_like_pandas(cs):
    everything = cs.contacts()
    value = _pick(everything, "last_name")
    got = cs.contacts(q={"last_name": value})
    want = everything[everything["last_name"].astype(str).str.lower() == value.lower()]
    assert len(want) > 0
    assert sorted(got["contact_id"]) == sorted(want["contact_id"])
    some = cs.contacts(columns=["contact_id", "phone_number"], max_rows=5)
    assert list(some.columns) == ["contact_id", "phone_number"] and len(some) == 5
    with pytest.raises(ValueError, match="allowed"):
        cs.contacts(q={"nope": 1})


# ------------------------------------------- usage, statistics, exports, iter_frames, contacts


def fresh_client(sb, **kw) -> csframe.Client:
    """No cache, one worker: request counts say exactly what was fetched."""
    return csframe.Client(
        **sb.credentials, base_url=sb.base_url, cache=False, progress=False, max_workers=1, **kw
    )


@pytest.mark.parametrize(
    "loader,cols",
    [
        (lambda cs, **kw: cs.usage("2026-01", "2026-06", **kw), ["month", "channel", "price"]),
        (lambda cs, **kw: cs.statistics("sms", **kw), ["date", "outbound_count"]),
        (lambda cs, **kw: cs.statistics("voice", **kw), ["date", "bounced_price"]),
    ],
    ids=["usage", "sms_statistics", "voice_statistics"],
)
def test_unsearchable_loaders_take_columns_and_max_rows_and_refuse_search(sb, loader, cols):
    cs = fresh_client(sb)
    everything = loader(cs)
    assert len(everything) > 7
    pd.testing.assert_frame_equal(loader(cs, columns=cols), everything[cols])
    pd.testing.assert_frame_equal(loader(cs, max_rows=7), everything.head(7))
    both = loader(cs, columns=cols[::-1], max_rows=3)
    pd.testing.assert_frame_equal(both, everything[cols[::-1]].head(3))
    sent = cs.requests_sent
    for bad in ({"q": {"channel": "sms"}}, {"order_by": ("date", "desc")}, {"operator": "OR"}):
        with pytest.raises(ValueError, match=f"cannot search or sort \\({next(iter(bad))} given"):
            loader(cs, **bad)
    with pytest.raises(ValueError, match="no column"):
        loader(cs, columns=["nope"])
    assert cs.requests_sent == sent


def test_usage_max_rows_stops_fetching_months(sb):
    cs = fresh_client(sb)
    cs.currency()  # read once per client: not counted below
    before = cs.requests_sent
    everything = cs.usage("2026-01", "2026-06")
    all_months = cs.requests_sent - before
    first = everything[everything["month"] == everything["month"].min()]
    before = cs.requests_sent
    head = cs.usage("2026-01", "2026-06", max_rows=len(first))
    assert cs.requests_sent - before == 1 < all_months == 6  # January was enough
    pd.testing.assert_frame_equal(head, first)


def test_history_export_filters_like_pandas(cs):
    everything = cs.history_export("sms", START, END)
    assert len(everything) > 100
    failed = cs.history_export("sms", START, END, q={"status": "Failed"})
    want = everything[everything["status"].astype(str).str.lower() == "failed"]
    assert 0 < len(failed) < len(everything)
    assert failed["message_id"].tolist() == want["message_id"].tolist()
    newest = cs.history_export("sms", START, END, order_by=("date", "desc"))
    assert newest["message_id"].tolist() == everything["message_id"].tolist()[::-1]
    cols = ["date", "to", "message_price"]
    part = cs.history_export("sms", START, END, columns=cols, max_rows=25)
    pd.testing.assert_frame_equal(part, everything[cols].head(25))
    assert {c: str(t) for c, t in part.dtypes.items()} == {
        c: schema.SMS_HISTORY.dtypes()[c] for c in cols
    }
    sent = cs.requests_sent
    with pytest.raises(ValueError, match="no field 'stauts'; allowed"):
        cs.history_export("sms", START, END, q={"stauts": "Failed"})
    with pytest.raises(ValueError, match="max_rows"):
        cs.history_export("sms", START, END, max_rows=-1)
    assert cs.requests_sent == sent


def test_iter_frames_checks_and_sends_filters(sb, cs):
    receipts = cs.receipts("sms")
    value = _pick(receipts, "status_code")
    cols = ["message_id", "status_code"]
    parts = list(
        cs.iter_frames("sms_receipts", chunk_pages=1, q={"status_code": value}, columns=cols)
    )
    got = pd.concat(parts, ignore_index=True)
    want = receipts[receipts["status_code"].astype(str) == value]
    assert 0 < len(got) < len(receipts) and all(list(p.columns) == cols for p in parts)
    assert got["message_id"].tolist() == want["message_id"].tolist()
    fresh = fresh_client(sb)
    head = pd.concat(list(fresh.iter_frames("sms_receipts", chunk_pages=1, max_rows=150)))
    assert head["message_id"].tolist() == receipts["message_id"].head(150).tolist()
    # two pages of 100 and what the pager had asked for ahead, not all 50 pages
    assert fresh.requests_sent <= 2 + PREFETCH < len(receipts) // 100
    sent = fresh.requests_sent
    with pytest.raises(ValueError, match="no field 'nope'; allowed"):
        fresh.iter_frames("sms_receipts", q={"nope": 1})  # refused when called, not iterated
    with pytest.raises(ValueError, match="order_by"):
        fresh.iter_frames("lists", order_by=("list_id", "up"))
    assert fresh.requests_sent == sent


def test_contacts_max_rows_stops_fetching(sb, cs):
    everything = cs.contacts()
    fresh = fresh_client(sb)
    head = fresh.contacts(max_rows=5)
    # the lists, then page 1 of the first list (and what the pager had asked for ahead)
    assert fresh.requests_sent <= 2 + PREFETCH
    pd.testing.assert_frame_equal(head, everything.head(5))
    before = fresh.requests_sent
    fresh.contacts()
    assert fresh.requests_sent - before > 2 * (2 + PREFETCH)
