"""Frame building: both parsing paths give the registry's dtypes and the same values."""

from __future__ import annotations

import orjson
import pandas as pd
import pytest

from csframe import schema
from csframe.frames import convert, empty_frame, pages_table, table_to_frame, to_frame

RES = schema.SMS_HISTORY


def page(records, page_no=1, last=2):
    return orjson.dumps(
        {
            "http_code": 200,
            "response_code": "SUCCESS",
            "response_msg": "Here are your data.",
            "data": {
                "total": 3,
                "per_page": 15,
                "current_page": page_no,
                "last_page": last,
                "next_page_url": None,
                "prev_page_url": None,
                "from": 1,
                "to": 2,
                "data": records,
            },
        }
    )


REC = {
    "direction": "out",
    "date": 1436932432,
    "to": "+61411111111",
    "body": "=SUM(A1)",
    "status": "Completed",
    "from": "ACME",
    "schedule": "0",
    "status_code": "201",
    "status_text": "Delivered",
    "error_code": None,
    "error_text": None,
    "message_id": "A",
    "message_parts": 1,
    "message_price": "0.070000",
    "from_email": None,
    "list_id": None,
    "custom_string": "run-1",
    "contact_id": None,
    "user_id": 1,
    "subaccount_id": 2,
    "country": "AU",
    "carrier": "Telstra",
    "first_name": None,
    "last_name": None,
    "_api_username": "demo",
}


def dtypes(df):
    return {c: str(t) for c, t in df.dtypes.items() if c in RES.dtypes()}


def test_columnar_and_record_paths_agree():
    recs = [
        REC,
        {
            **REC,
            "message_id": "B",
            "date": "1436932500",
            "message_price": "1.5",
            "list_id": "428",
            "status_code": None,
            "extra_field": "kept",
        },
    ]
    fast = table_to_frame(pages_table([page(recs[:1]), page(recs[1:], 2)], RES), RES)
    slow = to_frame(recs, RES)
    assert dtypes(fast) == RES.dtypes() == dtypes(slow)
    pd.testing.assert_frame_equal(fast, slow, check_categorical=False)
    assert fast["extra_field"].tolist()[1] == "kept"
    assert pd.isna(fast.loc[0, "schedule"])  # "0" means not scheduled
    assert fast.loc[1, "list_id"] == 428


def test_type_conflicts_fall_back_to_the_record_path():
    # contact_id is a number on one page and a string on another: Arrow cannot infer it
    recs = [{**REC, "contact_id": 5}, {**REC, "message_id": "B", "contact_id": "x7"}]
    df = table_to_frame(pages_table([page(recs[:1]), page(recs[1:], 2)], RES), RES)
    assert df["contact_id"].tolist()[0] == 5 and pd.isna(df["contact_id"].tolist()[1])
    assert dtypes(df) == RES.dtypes()


def test_pretty_printed_bodies_are_read():
    body = orjson.dumps(orjson.loads(page([REC])), option=orjson.OPT_INDENT_2)
    assert b"\n" in body
    df = table_to_frame(pages_table([body], RES), RES)
    assert df["message_id"].tolist() == ["A"]


def test_empty_pages_give_the_full_typed_frame():
    df = table_to_frame(pages_table([page([])], RES), RES)
    assert len(df) == 0 and dtypes(df) == RES.dtypes()
    assert dtypes(empty_frame(RES)) == RES.dtypes()


@pytest.mark.parametrize(
    ("values", "kind", "expected"),
    [
        (["1.00", 2, None, ""], "int", [1, 2, None, None]),
        (["0.070000", None], "money", [0.07, None]),
        ([1, "0", None, "true"], "bool", [True, False, None, True]),
        ([201, "201", None], "category", ["201", "201", None]),
    ],
)
def test_convert_kinds(values, kind, expected):
    got = pd.Series(convert(values, kind)).tolist()
    assert [None if pd.isna(v) else v for v in got] == expected


def test_iso_date_strings_are_read_as_utc_datetimes_on_both_paths():
    res = schema.EMAIL_CAMPAIGN_HISTORY
    recs = [
        {"message_id": "A", "processed_at": "2026-03-01 10:00:00"},
        {"message_id": "B", "processed_at": None},
    ]
    body = orjson.dumps(
        {
            "http_code": 200,
            "response_code": "SUCCESS",
            "data": {"data": recs, "total": 2, "last_page": 1},
        }
    )
    fast = table_to_frame(pages_table([body], res), res)
    slow = to_frame(recs, res)
    for df in (fast, slow):
        assert str(df["processed_at"].dtype) == "datetime64[s, UTC]"
        assert df["processed_at"].iloc[0] == pd.Timestamp("2026-03-01 10:00:00", tz="UTC")
        assert pd.isna(df["processed_at"].iloc[1])
