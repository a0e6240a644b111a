"""Every loader against the sandbox: same rows as the raw API, registry dtypes, also empty."""

from __future__ import annotations

import pandas as pd
import pytest
import requests

from csframe import schema


def raw_records(sb, path: str, **params) -> list[dict]:
    """All records of a paginated GET, fetched one page at a time with plain requests:
    an independent reading of what the API holds."""
    out, page = [], 1
    auth = (sb.credentials["username"], sb.credentials["api_key"])
    while True:
        r = requests.get(
            sb.base_url + path, params={**params, "page": page, "limit": 100}, auth=auth, timeout=30
        )
        r.raise_for_status()
        body = r.json()
        # GET /mms-campaigns answers with the pagination block itself, no envelope
        block = body["data"] if isinstance(body.get("data"), dict) else body
        out += block["data"]
        if page >= block["last_page"]:
            return out
        page += 1


def assert_registry_dtypes(df: pd.DataFrame, resource: schema.Resource) -> None:
    got = {c: str(df[c].dtype) for c in resource.column_names}
    assert got == resource.dtypes()
    assert list(df.columns[: len(resource.columns)]) == resource.column_names


HISTORY_CASES = [
    ("sms", "/sms/history", schema.SMS_HISTORY),
    ("mms", "/mms/history", schema.MMS_HISTORY),
    ("voice", "/voice/history", schema.VOICE_HISTORY),
    ("email", "/email/history", schema.EMAIL_HISTORY),
    ("fax", "/fax/history", schema.FAX_HISTORY),
    ("letter", "/post/letters/history", schema.LETTER_HISTORY),
    ("postcard", "/post/postcards/history", schema.POSTCARD_HISTORY),
]


@pytest.mark.parametrize(("channel", "path", "resource"), HISTORY_CASES)
def test_history_of_every_channel(client, sandbox, channel, path, resource):
    df = client.history(channel, start="2026-01-01", end="2026-07-01")
    raw = raw_records(
        sandbox,
        path,
        date_from=int(pd.Timestamp("2026-01-01", tz="UTC").timestamp()),
        date_to=int(pd.Timestamp("2026-07-01", tz="UTC").timestamp()) - 1,
    )
    assert len(df) == len(raw) > 0
    assert df["message_id"].tolist() == [r["message_id"] for r in raw]
    assert_registry_dtypes(df, resource)
    empty = client.history(channel, start="2001-01-01", end="2001-02-01")
    assert len(empty) == 0
    assert_registry_dtypes(empty, resource)


@pytest.mark.parametrize(
    ("channel", "resource"),
    [("sms", schema.SMS_RECEIPTS), ("voice", schema.VOICE_RECEIPTS), ("fax", schema.FAX_RECEIPTS)],
)
def test_receipts(client, sandbox, channel, resource):
    df = client.receipts(channel)
    raw = raw_records(sandbox, resource.path)
    assert sorted(df["message_id"]) == sorted({r["message_id"] for r in raw})
    assert_registry_dtypes(df, resource)
    recent = client.receipts(channel, start="2026-06-01")
    assert (recent["timestamp"] >= pd.Timestamp("2026-06-01", tz="UTC")).all()


def test_sms_receipts_match_history(client):
    rc = client.receipts("sms")
    h = client.history("sms")
    assert set(rc["message_id"]) <= set(h["message_id"])
    joined = rc.merge(h[["message_id", "status_code"]], on="message_id", suffixes=("", "_h"))
    assert (joined["status_code"].astype(str) == joined["status_code_h"].astype(str)).mean() > 0.9


def test_inbound_includes_stop_replies_linked_to_originals(client, sandbox):
    df = client.inbound()
    raw = raw_records(sandbox, "/sms/inbound")
    assert sorted(df["message_id"]) == sorted(r["message_id"] for r in raw)
    assert_registry_dtypes(df, schema.SMS_INBOUND)
    stops = df[df["body"].str.upper().str.contains("STOP", na=False)]
    assert len(stops) > 0
    sent = set(client.history("sms")["message_id"])
    assert stops["original_message_id"].isin(sent).mean() > 0.9


def test_statistics_equal_history_counts(client):
    st = client.statistics("sms")
    assert_registry_dtypes(st, schema.STATISTICS)
    assert len(st) > 0 and st["date"].is_monotonic_increasing
    day = st.iloc[len(st) // 2]
    h = client.history("sms", start=day["date"], end=day["date"] + pd.Timedelta(days=1))
    assert day["outbound_count"] == len(h[h["direction"] == "out"])


@pytest.mark.parametrize(
    ("kind", "resource", "key"),
    [
        ("sms", schema.SMS_CAMPAIGNS, "sms_campaign_id"),
        ("mms", schema.MMS_CAMPAIGNS, "mms_campaign_id"),
        ("email", schema.EMAIL_CAMPAIGNS, "email_campaign_id"),
    ],
)
def test_campaigns(client, sandbox, kind, resource, key):
    df = client.campaigns(kind)
    raw = raw_records(sandbox, resource.path)
    assert df[key].tolist() == [r[key] for r in raw] and len(df) > 0
    assert_registry_dtypes(df, resource)


def test_email_campaign_history_is_its_list(client, sandbox):
    camps = client.campaigns("email")
    cid = int(camps["email_campaign_id"].iloc[0])
    h = client.campaign_history(cid)
    raw = raw_records(sandbox, f"/email-campaigns/{cid}/history")
    assert len(h) == len(raw) > 0
    assert_registry_dtypes(h, schema.EMAIL_CAMPAIGN_HISTORY)


def test_campaign_messages_join_receipts_and_replies(client):
    camps = client.campaigns("sms")
    sent = camps[camps["status"].astype(str).str.lower().isin(["sent", "completed"])]
    cid = int(sent["sms_campaign_id"].iloc[0])
    m = client.campaign_messages(cid)
    assert len(m) > 0
    assert (m["list_id"] == sent["list_id"].iloc[0]).all()
    assert {"receipt_status_code", "replies", "opted_out"} <= set(m.columns)


def test_lists_and_contacts(client, sandbox):
    lists = client.lists()
    assert_registry_dtypes(lists, schema.LISTS)
    raw_lists = raw_records(sandbox, "/lists")
    assert lists["list_id"].tolist() == [r["list_id"] for r in raw_lists]
    one = int(lists["list_id"].iloc[0])
    ct = client.contacts(one)
    assert ct["contact_id"].tolist() == [
        r["contact_id"] for r in raw_records(sandbox, f"/lists/{one}/contacts")
    ]
    every = client.contacts()
    assert_registry_dtypes(every, schema.CONTACTS)
    assert len(every) == sum(
        len(raw_records(sandbox, f"/lists/{i}/contacts")) for i in lists["list_id"]
    )
    non_empty = set(lists.loc[lists["_contacts_count"] > 0, "list_id"])
    assert set(every["list_id"]) == non_empty
    future = client.contacts(updated_after=pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=1))
    assert len(future) == 0
    assert_registry_dtypes(future, schema.CONTACTS)


def test_subaccounts_never_carry_keys(client, sandbox):
    df = client.subaccounts()
    assert_registry_dtypes(df, schema.SUBACCOUNTS)
    assert "api_key" not in df.columns
    assert len(df) == len(raw_records(sandbox, "/subaccounts"))
    assert sandbox.credentials["api_key"] not in df.to_csv()


def test_recharge_transactions(client, sandbox):
    df = client.recharge_transactions()
    assert_registry_dtypes(df, schema.RECHARGE_TRANSACTIONS)
    assert len(df) == len(raw_records(sandbox, "/recharge/transactions")) > 0
    assert (df["amount"] > 0).all()


def test_history_export_equals_history(client):
    ex = client.history_export("sms", start="2026-03-01", end="2026-04-01")
    h = client.history("sms", start="2026-03-01", end="2026-04-01")
    assert_registry_dtypes(ex, schema.SMS_HISTORY)
    assert sorted(ex["message_id"]) == sorted(h["message_id"])
    merged = ex.merge(h, on="message_id", suffixes=("_ex", ""))
    assert (merged["message_price_ex"] - merged["message_price"]).abs().max() < 1e-9
    assert (merged["date_ex"] == merged["date"]).all()


def test_frame_infers_dtypes_for_any_paginated_get(client):
    df = client.frame(
        "/sms/history", date_from=int(pd.Timestamp("2026-02-01", tz="UTC").timestamp())
    )
    assert str(df["date"].dtype) == "datetime64[s, UTC]"
    assert str(df["message_price"].dtype) == "float64"
    assert str(df["subaccount_id"].dtype) == "Int64"
    assert str(df["to"].dtype) == "str"  # phone numbers stay text
    with pytest.raises(ValueError, match="path must start with '/'"):
        client.frame("sms/history")


def test_bad_arguments_fail_before_any_request(client):
    sent = client.requests_sent
    with pytest.raises(ValueError, match="channel must be one of"):
        client.receipts("pigeon")
    with pytest.raises(ValueError, match="kind must be one of"):
        client.campaigns("fax")
    with pytest.raises(ValueError, match="channel must be one of"):
        client.statistics("fax")
    with pytest.raises(ValueError, match="list_id must be a positive integer"):
        client.contacts(list_id=-3)
    with pytest.raises(ValueError, match="updated_after must be"):
        client.contacts(updated_after="yesterday-ish")
    assert client.requests_sent == sent


@pytest.mark.parametrize("name", sorted(schema.REGISTRY))
def test_every_registered_resource_has_its_dtypes_when_empty(name):
    import pyarrow as pa

    from csframe.frames import empty_frame, table_to_frame

    res = schema.get(name)
    for df in (empty_frame(res), table_to_frame(pa.table({}), res)):
        assert len(df) == 0
        assert_registry_dtypes(df, res)


def test_iter_frames_is_the_lazy_twin_of_the_paged_loaders(client):
    whole = client.inbound()
    parts = list(client.iter_frames("sms_inbound", chunk_pages=1))
    assert sum(len(p) for p in parts) == len(whole)
    assert (
        pd.concat(parts, ignore_index=True)["message_id"].tolist() == whole["message_id"].tolist()
    )
    with pytest.raises(ValueError, match="not a plain paginated resource"):
        next(client.iter_frames("contacts"))


def test_stale_cache_answers_a_whole_load_only_as_a_last_resort(tmp_path):
    import csframe
    from csframe import errors
    from csframe.sandbox import running
    from csframe.session import StaleDataWarning

    with running(scale="tiny", seed=4) as sb:
        cs = csframe.Client(
            **sb.credentials,
            base_url=sb.base_url,
            cache_dir=tmp_path,
            progress=False,
            max_attempts=2,
        )
        fresh = cs.inbound()
        cs.session.http.cache.reset_expiration(0)  # every entry has expired
        sb.set_faults(error_rate=1.0, seed=1)
        # a single response is never answered by an expired copy: retried, then raised
        with pytest.raises(errors.ServerError):
            cs.session.get("/sms/inbound", {"limit": 100, "page": 1})
        with pytest.warns(StaleDataWarning, match="cached data stored at"):
            stale = cs.inbound()
        assert stale.attrs["stale"] is True and stale.attrs["stale_age"] >= pd.Timedelta(0)
        pd.testing.assert_frame_equal(stale, fresh)
        assert "stale" not in fresh.attrs
        cs.close()
