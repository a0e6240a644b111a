"""emails(), names(), suppress_opt_outs(), diff() and the docstring examples of csframe.clean."""

from __future__ import annotations

import doctest
import importlib

import pandas as pd
import pytest

from csframe import clean

MODULES = [
    "csframe.clean.phones", "csframe.clean.emails", "csframe.clean.names",
    "csframe.clean.contacts", "csframe.clean.dedup", "csframe.clean.survivorship",
    "csframe.clean.optout", "csframe.clean.diff", "csframe.clean.report",
    "csframe.clean.regions",
]  # fmt: skip


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_emails_norm_key_and_reasons():
    s = pd.Series(
        [
            " Jane.Doe+news@GoogleMail.com ", "JANEDOE@gmail.com", "j.a.n.e.d.o.e@gmail.com",
            "Bob+x@Hotmail.com", "Bob.Smith+x@Company.COM", "mailto:<Ann@Example.org>",
            "\u200bann@example.org\u00a0", "a@b", "nodomain", "x@y.com; z@w.com",
            "a..b@x.com", None, 42,
        ]
    )  # fmt: skip
    out = clean.emails(s)
    assert out["email_norm"].tolist()[:7] == [
        "jane.doe+news@googlemail.com", "janedoe@gmail.com", "j.a.n.e.d.o.e@gmail.com",
        "bob+x@hotmail.com", "Bob.Smith+x@company.com", "Ann@example.org", "ann@example.org",
    ]  # fmt: skip
    keys = out["email_match_key"].tolist()
    assert keys[:3] == ["janedoe@gmail.com"] * 3
    assert keys[3] == "bob@hotmail.com"
    assert keys[4] == "bob.smith+x@company.com"  # +tags kept for unknown providers
    reasons = out["email_reason"].astype(object).tolist()
    assert reasons[7:] == [
        "bad_domain", "missing_at", "multiple", "bad_local", "empty", "missing_at",
    ]  # fmt: skip
    assert out["email_valid"].dtype == "boolean"


def test_names_keys_and_placeholders():
    df = pd.DataFrame(
        {
            "FirstName": ["  Zoë ", "N/A", "-", "anne  marie", "123"],
            "Surname": ["D'Arcy", "Smith", None, "LEE", "x"],
        }
    )
    out = clean.names(df)
    assert out["first_name_key"].tolist()[:1] == ["zoe"]
    assert out["name_key"].tolist()[0] == "zoe d arcy"
    assert out["first_name_clean"].tolist()[3] == "anne marie"
    assert out["name_placeholder"].tolist() == [False, True, True, False, True]
    with pytest.raises(clean.CleanInputError, match="first_name"):
        clean.names(pd.DataFrame({"x": [1]}))


def test_keywords():
    bodies = pd.Series(
        ["Stop.", "STOP ALL", "unsubscribe please", "Stop texting me!!", "opt-out", "s t o p",
         "Please don't stop", "stop by the shop", "START", "Unstop", None, "STOP\u200b"]
    )  # fmt: skip
    got = clean.keyword_kind(bodies)
    assert [None if pd.isna(x) else x for x in got] == [
        "stop", "stop", "stop", "stop", "stop", None, None, None, "start", "start", None, "stop",
    ]  # fmt: skip


def test_suppress_opt_outs_reasons_and_restart():
    ct = pd.DataFrame(
        {
            "contact_id": [1, 2, 3, 4, 5],
            "phone_number": [
                "0412 345 678",
                "0412 000 111",
                "0412 000 222",
                "0400 111 222",
                "0400 999 888",
            ],
            "email": [None, None, "X.Y+z@gmail.com", None, None],
            "unsubscribed": pd.array([False, False, False, True, False], dtype="boolean"),
        }
    )
    inb = pd.DataFrame(
        {
            "from": ["61412345678", "+61412000111", "+61412000111", "+61400999888"],
            "body": ["Stop.", "STOP", "start", "stop sending please"],
            "date": pd.to_datetime([1, 2, 3, 4], unit="D", utc=True).as_unit("s"),
            "message_id": ["a", "b", "c", "d"],
        }
    )
    before = ct.copy()
    res = clean.suppress_opt_outs(ct, inb, ["xy@gmail.com"], default_region="AU")
    pd.testing.assert_frame_equal(ct, before)
    kept, dropped = res
    assert kept["contact_id"].tolist() == [2]  # STOP then START: still subscribed
    reasons = dict(
        zip(dropped["contact_id"], dropped["opt_out_reason"].astype(object), strict=True)
    )
    assert reasons == {1: "replied_stop", 3: "opt_out_list", 4: "unsubscribed", 5: "replied_stop"}
    assert dropped.set_index("contact_id").loc[1, "opt_out_detail"] == "Stop."
    assert dropped["opt_out_date"].dtype == "datetime64[ns, UTC]"
    assert res.kept is kept


def test_suppress_opt_outs_bad_inbound():
    ct = pd.DataFrame({"phone_number": ["0412 345 678"]})
    with pytest.raises(clean.CleanInputError, match="'body'"):
        clean.suppress_opt_outs(ct, pd.DataFrame({"from": ["+61412345678"]}), default_region="AU")
    # an opt-out list frame by column aliases
    kept, dropped = clean.suppress_opt_outs(
        ct, opt_out_list=pd.DataFrame({"Mobile": ["+61 412 345 678"]}), default_region="AU"
    )
    assert len(kept) == 0 and dropped["opt_out_reason"].tolist() == ["opt_out_list"]


def test_diff_add_update_unchanged_remove():
    current = pd.DataFrame(
        {
            "contact_id": [10, 11, 12, 13],
            "phone_number": ["+61412345678", "+61400111222", None, "+61400999888"],
            "email": [None, "bob@example.com", "cat@example.com", None],
            "first_name": ["Ann", "Bob", "Cat", "Dan"],
        }
    )
    new = pd.DataFrame(
        {
            "phone_number": ["0412 345 678", "0400 111 222", "0411 222 333", "0499 000 000"],
            "email": [None, "BOB@example.com", "cat@example.com", None],
            "first_name": ["Ann", None, "Cathy", "Eve"],
        }
    )
    d = clean.diff(new, current, default_region="AU")
    assert d["action"].astype(object).tolist() == [
        "unchanged",
        "unchanged",
        "update",
        "add",
        "remove",
    ]
    assert d["match_on"].astype(object).tolist()[:3] == ["phone", "phone", "email"]
    assert d["current_contact_id"].tolist()[:3] == [10, 11, 12]
    assert d["current_contact_id"].tolist()[4] == 13
    assert d["changed_columns"].tolist()[2] == "phone_number,first_name"
    assert d["action"].dtype == "category" and d["current_contact_id"].dtype == "Int64"
