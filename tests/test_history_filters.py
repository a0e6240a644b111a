"""Server-side filters on history: q / operator / order_by, columns and max_rows.

Each filtered load is checked against the unfiltered load filtered in pandas.
"""

from __future__ import annotations

import pandas as pd
import pytest

import csframe
from csframe import schema
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
