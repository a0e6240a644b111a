"""Writers: list campaigns (SMS, MMS, email) -- priced first, sent once, cancellable."""

from __future__ import annotations

import time

import pytest

import csframe
from csframe import writers
from csframe.errors import InsufficientCredit
from csframe.sandbox import running
from csframe.writers import CampaignPriceError, OptOutWarning, PlanError
from csframe.writers.campaigns import clicksend_body

LIST = 428  # "Customers AU" in the seeded sandbox
BODY = "Hi {first_name}, 20% off this week. Reply STOP to opt out"


@pytest.fixture(scope="module")
def sb():
    with running(scale="tiny", seed=31) as sandbox:
        yield sandbox


@pytest.fixture
def cs(sb):
    sb.reset()
    sb.set_faults()
    sb.reset_stats()
    return csframe.Client(**sb.credentials, base_url=sb.base_url, cache=False, progress=False)


def campaigns_named(cs, name: str, kind: str = "sms") -> list[dict]:
    data = cs.session.get(f"/{kind}-campaigns", {"limit": 100}, expire_after=0)
    return [r for r in data["data"] if r["name"] == name]


def sends(sb, kind: str = "sms") -> int:
    return sb.stats()["by_path"].get(f"/v3/{kind}-campaigns/send", 0)


def test_placeholders_become_clicksends():
    assert (
        clicksend_body("Hi {first_name} {last_name}, {{x}}") == "Hi (First Name) (Last Name), {x}"
    )
    with pytest.raises(PlanError, match=r"\['amount'\].*sms_plan"):
        clicksend_body("You owe {amount}")


def test_sms_campaign_is_priced_then_sent(sb, cs):
    camp = cs.send_campaign(LIST, BODY, "Spring", sender="ACME")
    paths = list(sb.stats()["by_path"])
    assert paths.index("/v3/sms-campaigns/price") < paths.index("/v3/sms-campaigns/send")
    assert sends(sb) == 1
    assert camp["via"] == "response" and camp["list_id"] == LIST
    assert camp["recipients"] == camp["quoted_count"] > 0
    assert camp["quoted_price"] > 0 and camp["currency"] == "AUD"
    # every message of the campaign is in the history, personalised, with the list id
    hist = cs.history("sms")
    mine = hist[hist["custom_string"] == camp["record"]["custom_string"]]
    assert len(mine) == camp["recipients"]
    assert (mine["list_id"].astype(str) == str(LIST)).all()
    assert not mine["body"].str.contains("{first_name}|\\(First Name\\)", regex=True).any()


def test_max_price_and_balance_refuse_before_sending(sb, cs):
    with pytest.raises(CampaignPriceError, match="nothing was sent"):
        cs.send_campaign(LIST, BODY, "Too dear", max_price=0.01)
    sb.set_balance(sb.credentials["username"], 0.05)
    with pytest.raises(InsufficientCredit, match="nothing was sent"):
        cs.send_campaign(LIST, BODY, "Broke")
    assert sends(sb) == 0
    assert not campaigns_named(cs, "Too dear") and not campaigns_named(cs, "Broke")


def test_opt_out_required_for_marketing(cs, sb):
    with pytest.raises(PlanError, match="opt-out"):
        cs.send_campaign(LIST, "Hi {first_name}, 20% off", "Promo", marketing=True)
    with pytest.warns(OptOutWarning):
        cs.send_campaign(LIST, "Hi {first_name}, your order shipped", "Notice", sender="ACME")
    cs.send_campaign(LIST, "Bye StopMsg.me/xxxxx", "Link", marketing=True)
    assert sends(sb) == 2


def test_unanswered_send_is_found_not_repeated(sb, cs, tmp_path):
    post = cs.session.post

    def dropping_post(path, *a, **kw):  # the send commits, then its answer is lost
        if path.endswith("/send"):
            sb.set_faults(drop_after_commit_rate=1.0)
        try:
            return post(path, *a, **kw)
        finally:
            sb.set_faults()

    cs.session.post = dropping_post
    camp = cs.send_campaign(LIST, BODY, "Dropped", doubt_horizon=0.2, journal=tmp_path / "c.sqlite")
    assert camp["via"] == "lookup"
    assert sends(sb) == 1
    assert [r["sms_campaign_id"] for r in campaigns_named(cs, "Dropped")] == [camp["campaign_id"]]
    # the journal remembers: a rerun returns the campaign without a request
    cs.session.post = post
    sb.reset_stats()
    again = cs.send_campaign(LIST, BODY, "Dropped", journal=tmp_path / "c.sqlite")
    assert again["via"] == "journal" and again["campaign_id"] == camp["campaign_id"]
    assert sb.stats()["requests"] == 0
    with pytest.raises(writers.JournalMismatch):
        cs.send_campaign(LIST, BODY + "!", "Dropped", journal=tmp_path / "c.sqlite")


def test_a_send_that_never_arrived_is_sent_again(sb, cs):
    post = cs.session.post
    calls = []

    def lost_once(path, *a, **kw):  # dropped before the server acts, once
        if path.endswith("/send") and not calls:
            calls.append(path)
            sb.set_faults(drop_rate=1.0)
        try:
            return post(path, *a, **kw)
        finally:
            sb.set_faults()

    cs.session.post = lost_once
    camp = cs.send_campaign(LIST, BODY, "Retried", doubt_horizon=0.2)
    assert camp["via"] == "response"
    assert len(campaigns_named(cs, "Retried")) == 1


def test_scheduled_campaign_cancel(sb, cs):
    when = int(time.time()) + 3 * 86400
    camp = cs.send_campaign(LIST, BODY, "Later", sender="ACME", schedule=when)
    assert camp["status"] == "Scheduled"
    balance = float(cs.account()["balance"])
    rec = cs.cancel_campaign(camp["campaign_id"])
    assert rec["status"] == "Cancelled"
    assert float(cs.session.get("/account", expire_after=0)["balance"]) > balance  # refunded
    assert cs.cancel_campaign(camp["campaign_id"])["status"] == "Cancelled"  # idempotent
    with pytest.raises(ValueError):
        cs.cancel_campaign(0)


def test_mms_and_email_campaigns(sb, cs):
    mms = cs.send_campaign(
        LIST,
        "Hi {first_name}, your voucher. Reply STOP to opt out",
        "Voucher",
        kind="mms",
        subject="Voucher",
        media_file="https://example.com/voucher.png",
    )
    assert mms["kind"] == "mms" and mms["recipients"] == mms["quoted_count"] > 0
    with pytest.raises(PlanError, match="subject of 1 to 20"):
        cs.send_campaign(
            LIST, BODY, "x", kind="mms", subject="y" * 21, media_file="https://e/a.png"
        )
    mail = cs.send_campaign(
        LIST,
        "<p>Hi {first_name}</p><p><a href='#'>Unsubscribe</a></p>",
        "Newsletter",
        kind="email",
        subject="News",
        from_email_address_id=2,
        from_name="ACME",
        marketing=True,
    )
    assert mail["kind"] == "email" and mail["campaign_id"] and mail["quoted_count"] > 0
    with pytest.raises(PlanError, match="from_email_address_id"):
        cs.send_campaign(LIST, "Hi", "x", kind="email", subject="s", from_name="A")


def test_unanswered_email_campaign_is_found_by_name(sb, cs):
    post = cs.session.post

    def dropping_post(path, *a, **kw):
        if path.endswith("/send"):
            sb.set_faults(drop_after_commit_rate=1.0)
        try:
            return post(path, *a, **kw)
        finally:
            sb.set_faults()

    cs.session.post = dropping_post
    args = dict(kind="email", subject="Hello", from_email_address_id=2, from_name="ACME")
    cs.send_campaign(LIST, "<p>Old</p> unsubscribe", "Monthly", **{**args, "doubt_horizon": 0.1})
    mail = cs.send_campaign(
        LIST, "<p>Hi</p> unsubscribe", "Monthly", **{**args, "doubt_horizon": 0.1}
    )
    assert mail["via"] == "lookup" and sends(sb, "email") == 2
    ids = [r["email_campaign_id"] for r in campaigns_named(cs, "Monthly", "email")]
    assert len(ids) == 2 and mail["campaign_id"] == max(ids)
