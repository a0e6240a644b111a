"""The campaigns and contacts-health reports.

Unit tests feed the builders frames that follow the registry's column contracts
(``csframe.schema``: sms/email campaigns, SMS history rows, inbound SMS, lists, contacts).
The sandbox tests skip, saying why, while the Client lacks a loader or the sandbox does not
serve the endpoint yet.
"""

from __future__ import annotations

import pandas as pd
import pytest
from openpyxl import load_workbook

from csframe.reports import campaigns, contacts_health
from csframe.reports.base import AccountInfo
from csframe.reports.campaigns import build as build_campaigns
from csframe.reports.contacts_health import build as build_health
from csframe.reports.contacts_health import statuses

ACME = AccountInfo(name="ACME Pty Ltd", username="acme", currency="AUD", symbol="$")


def ts(values) -> pd.Series:
    return pd.Series(pd.to_datetime(values, utc=True)).astype("datetime64[s, UTC]")


@pytest.fixture
def campaign_frames():
    sms = pd.DataFrame(
        {
            "sms_campaign_id": pd.array([1, 2, 3], dtype="Int64"),
            "name": pd.array(["Spring sale", "=cmd|' /C calc'!A0", "Old"], dtype="str"),
            "subaccount_id": pd.array([60312] * 3, dtype="Int64"),
            "list_id": pd.array([502, 431, 502], dtype="Int64"),
            "schedule": ts(["2026-03-01", None, "2020-01-01"]),
            "date_added": ts(["2026-02-27", "2026-05-02", "2020-01-01"]),
            "status": pd.Categorical(["Sent"] * 3),
            "_total_count": pd.array([4, 2, 9], dtype="Int64"),
        }
    )
    messages = pd.DataFrame(
        {
            "sms_campaign_id": pd.array([1, 1, 1, 1, 2, 2], dtype="Int64"),
            "message_id": list("abcdef"),
            "status": pd.Categorical(
                ["Completed", "Completed", "Failed", "Sent", "Completed", "Cancelled"]
            ),
            "status_code": pd.Categorical(["201", "201", "301", None, "201", None]),
            "error_code": pd.Categorical([None, None, "301", None, None, None]),
            "message_price": [0.077, 0.077, 0.077, 0.077, 0.154, 0.0],
        }
    )
    messages.attrs["currency"] = "AUD"
    inbound = pd.DataFrame(
        {
            "timestamp": ts(["2026-03-01 01:00", "2026-03-01 02:00", "2026-05-03 00:00"]),
            "from": ["+61411000001", "+61411000002", "+61411000003"],
            "body": ["Stop.", "Thanks!", "STOP ALL"],
            "original_message_id": ["a", "b", "e"],
        }
    )
    email = pd.DataFrame(
        {
            "email_campaign_id": pd.array([7], dtype="Int64"),
            "name": ["Newsletter"],
            "date_added": ts(["2026-04-01"]),
            "schedule": ts([None]),
            "status": pd.Categorical(["Sent"]),
            **{
                c: pd.array([v], dtype="Int64")
                for c, v in (
                    ("send_count", 100),
                    ("open_count", 40),
                    ("click_count", 10),
                    ("hard_bounce_count", 2),
                    ("soft_bounce_count", 1),
                    ("unsubscribe_count", 3),
                    ("abuse_count", 0),
                )
            },
        }
    )
    return {"sms": sms, "email": email}, messages, inbound


def test_campaign_numbers(campaign_frames):
    frames, messages, inbound = campaign_frames
    rep = build_campaigns(
        frames, "2026-01", "2026-10", messages=messages, inbound=inbound, account=ACME
    )
    table = rep.tables["campaigns"].set_index(["channel", "campaign_id"])
    assert len(table) == 3  # campaign 3 (2020) is outside the period
    spring = table.loc[("sms", 1)]
    assert (spring["recipients"], spring["sent"], spring["delivered"]) == (4, 4, 2)
    assert (spring["failed"], spring["pending"]) == (1, 1)
    assert spring["cost"] == pytest.approx(0.308)
    assert spring["cost_per_delivered"] == pytest.approx(0.154)
    assert (spring["replies"], spring["opt_outs"]) == (2, 1)
    assert spring["opt_out_rate"] == pytest.approx(0.25)
    second = table.loc[("sms", 2)]
    assert second["sent"] == 1  # the cancelled message was never sent
    assert second["date"] == pd.Timestamp("2026-05-02", tz="UTC")  # no schedule: date_added
    news = table.loc[("email", 7)]
    assert (news["emails_sent"], news["opens"], news["bounces"]) == (100, 40, 3)
    assert news["open_rate"] == pytest.approx(0.4)
    assert news["unsubscribe_rate"] == pytest.approx(0.03)
    replies = rep.tables["replies"]
    assert list(replies["opt_out"]) == [True, False, True]
    s = rep.summary
    assert (s["campaigns"], s["sms_campaigns"], s["email_campaigns"]) == (3, 2, 1)
    assert s["opt_outs"] == 2 and s["delivered"] == 3
    assert s["cost_per_delivered"] == pytest.approx((0.308 + 0.154) / 3)
    assert len(rep.alerts) == 2  # both SMS campaigns are over 2% opt-outs
    assert list(rep.tables) == ["campaigns", "sms", "email", "replies"]


def test_campaign_workbook(campaign_frames, tmp_path):
    frames, messages, inbound = campaign_frames
    rep = build_campaigns(frames, "2026-01", "2026-10", messages=messages, inbound=inbound)
    wb = load_workbook(rep.to_excel(tmp_path / "c.xlsx"))
    assert wb.sheetnames == ["Summary", "campaigns", "sms", "email", "replies"]
    names = [r[2] for r in wb["sms"].iter_rows(min_row=2, values_only=True)]
    assert "=cmd|' /C calc'!A0" in names  # a text cell, as it is
    assert [c.tagname for c in wb["Summary"]._charts] == ["barChart"]


def test_no_campaigns(tmp_path):
    rep = build_campaigns({"sms": pd.DataFrame()}, "2026-01", "2026-01")
    assert rep.tables["campaigns"].empty and rep.summary["campaigns"] == 0
    load_workbook(rep.to_excel(tmp_path / "c.xlsx"))


def test_campaign_channels_are_validated():
    from csframe.reports import OptionError
    from csframe.reports.campaigns import _channels

    assert _channels("sms, email") == ("sms", "email")
    with pytest.raises(OptionError):
        _channels(["fax"])


@pytest.fixture
def contact_frames():
    lists = pd.DataFrame(
        {
            "list_id": pd.array([10, 11, 12], dtype="Int64"),
            "list_name": pd.array(["VIP", "Newsletter", "Empty"], dtype="str"),
            "_contacts_count": pd.array([4, 3, 0], dtype="Int64"),
        }
    )
    contacts = pd.DataFrame(
        {
            "contact_id": pd.array(range(1, 8), dtype="Int64"),
            "list_id": pd.array([10, 10, 10, 10, 11, 11, 11], dtype="Int64"),
            "_list_name": ["VIP"] * 4 + ["Newsletter"] * 3,
            "phone_number": [
                "0412 345 678",
                "+61412345678",  # the same person as contact 1
                "123",  # invalid
                None,  # no number
                "0412 345 678",  # contact 1 again, in another list
                "0413 111 222",  # replied STOP
                "=HYPERLINK(1)",  # invalid, and formula-like
            ],
            "email": [None, "bob@example", "x@y.com", "z@y.com", None, "ann@ex.com", None],
            "first_name": ["Ann", "Ann", "n/a", "Zed", "Ann", "Bo", "@evil"],
            "last_name": ["Lee", "Lee", None, "Z", "Lee", "Ng", "x"],
        }
    )
    inbound = pd.DataFrame(
        {
            "timestamp": ts(["2026-01-01"]),
            "from": ["+61413111222"],
            "body": ["STOP"],
        }
    )
    return lists, contacts, inbound


def test_contacts_health_counts(contact_frames):
    lists, contacts, inbound = contact_frames
    rep = build_health(lists, contacts, inbound, account=ACME, region="AU")
    t = rep.tables["lists"].set_index("list_name")
    vip, news, empty = t.loc["VIP"], t.loc["Newsletter"], t.loc["Empty"]
    assert (vip["contacts"], vip["valid_phones"], vip["invalid_phones"]) == (4, 2, 1)
    assert (vip["missing_phones"], vip["duplicates"], vip["opt_outs"]) == (1, 1, 0)
    assert vip["reachable"] == 1 and vip["health"] == pytest.approx(0.25)
    assert vip["in_other_lists"] == 2  # contacts 1 and 2 share a person with list 11
    assert (news["contacts"], news["invalid_phones"], news["opt_outs"]) == (3, 1, 1)
    assert news["reachable"] == 1
    assert empty["contacts"] == 0 and pd.isna(empty["health"])
    s = rep.summary
    assert (s["lists"], s["contacts"], s["reachable"], s["unique_people"]) == (3, 7, 2, 5)
    assert len(rep.alerts) == 2  # VIP and Newsletter under 80%
    opt = rep.tables["opt_outs"]
    assert list(opt["contact_id"]) == [6] and opt["opt_out_reason"].iloc[0] == "replied_stop"
    assert set(rep.tables["invalid_numbers"]["contact_id"]) == {3, 7}
    dups = rep.tables["duplicates"]
    assert list(dups["kept"]) == ["kept", "duplicate"]


def test_contacts_health_figure_counts_each_contact_once(contact_frames):
    from csframe.reports.contacts_health import _flags

    lists, contacts, inbound = contact_frames
    rep = build_health(lists, contacts, inbound, region="AU")
    bars = rep.figures["lists"].axes[0].patches
    assert sum(b.get_width() for b in bars) == pytest.approx(len(contacts))
    assert rep.tables["lists"]["reachable"].sum() == 2
    assert statuses  # exported for notebooks
    assert callable(_flags)


def test_contacts_health_workbook(contact_frames, tmp_path):
    lists, contacts, inbound = contact_frames
    rep = build_health(lists, contacts, inbound, region="AU")
    wb = load_workbook(rep.to_excel(tmp_path / "h.xlsx"))
    assert wb.sheetnames == [
        "Summary",
        "lists",
        "issues",
        "invalid_numbers",
        "duplicates",
        "opt_outs",
    ]
    phones = [r[4] for r in wb["invalid_numbers"].iter_rows(min_row=2, values_only=True)]
    assert "=HYPERLINK(1)" in phones  # a text cell, as it is
    rules = [r.formula[0] for cf in wb["lists"].conditional_formatting for r in cf.rules]
    assert any("<0.8" in f for f in rules)


def test_contacts_health_without_contacts(tmp_path):
    lists = pd.DataFrame({"list_id": pd.array([1], dtype="Int64"), "list_name": ["A"]})
    contacts = pd.DataFrame(
        {
            "contact_id": pd.array([], dtype="Int64"),
            "list_id": pd.array([], dtype="Int64"),
            "phone_number": pd.array([], dtype="str"),
        }
    )
    rep = build_health(lists, contacts, None)
    assert rep.summary["contacts"] == 0 and rep.tables["lists"]["contacts"].tolist() == [0]
    load_workbook(rep.to_excel(tmp_path / "h.xlsx"))


# --- against the sandbox (skipped until the sandbox serves these endpoints) --------------------


def _need(client, *methods: str) -> None:
    from csframe.errors import NotFound

    for m in methods:
        if not callable(getattr(client, m, None)):
            pytest.skip(f"csframe.Client has no {m}() yet")
    probes = {"campaigns": ("sms",), "lists": (), "contacts": (), "inbound": ()}
    try:
        for m in methods:
            if m in probes:
                getattr(client, m)(*probes[m])
    except NotFound as exc:
        pytest.skip(f"the sandbox does not serve this endpoint yet: {exc}")


def test_campaigns_from_sandbox(client, tmp_path):
    _need(client, "campaigns", "campaign_messages", "inbound")
    rep = campaigns(client)
    sms = client.campaigns("sms")
    table = rep.tables["campaigns"]
    assert (table["channel"] == "sms").sum() <= len(sms)
    for _, row in table[table["channel"] == "sms"].iterrows():
        msgs = client.campaign_messages(int(row["campaign_id"]))
        assert row["delivered"] == (msgs["status_code"] == "201").sum()
        assert row["cost"] == pytest.approx(msgs["message_price"].sum())
        if "opted_out" in msgs:  # the loader's own STOP detection agrees with clean's
            assert row["opt_outs"] >= int(msgs["opted_out"].sum())
    load_workbook(rep.to_excel(tmp_path / "c.xlsx"))


def test_contacts_health_from_sandbox(client, tmp_path):
    _need(client, "lists", "contacts", "inbound")
    rep = contacts_health(client)
    lists = client.lists()
    contacts = client.contacts()
    t = rep.tables["lists"]
    assert set(t["list_id"]) >= set(lists["list_id"])
    assert t["contacts"].sum() == len(contacts)
    per_list = contacts.groupby("list_id").size()
    for list_id, n in per_list.items():
        assert t.set_index("list_id").loc[list_id, "contacts"] == n
    load_workbook(rep.to_excel(tmp_path / "h.xlsx"))
