"""csframe.widgets.composer: preview, encoding, parts and cost from the writers' own
counter and planner; quote and the two-step send against a private sandbox."""

from __future__ import annotations

import pandas as pd
import pytest

from csframe import Client, writers
from csframe.widgets import Composer, composer
from csframe.widgets.compose import highlight

PRICES = {"AU": 0.077, "NZ": 0.105}
OPT_OUT = " Reply STOP to opt out"


def people() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "contact_id": [11, 12, 13],
            "phone_e164": ["+61412000001", "+61412000002", "+64211234567"],
            "first_name": ["Ann", "Zoë", "Bob"],
            "city": ["Sydney", "Perth", "Auckland"],
        }
    )


# -- text, parts and cost (no API) --------------------------------------------------------
def test_preview_placeholders_and_the_whole_frame():
    cp = Composer(people(), prices=PRICES, body="Hi {first_name} in {city}!" + OPT_OUT)
    s = cp.state()
    assert s["preview"] == "Hi Ann in Sydney! Reply STOP to opt out"
    assert s["placeholders"] == ["first_name", "city"] and s["unknown"] == []
    assert (s["encoding"], s["parts"]) == ("gsm7", 1)
    assert s["recipients"] == 3 and s["total_parts"] == 3
    assert s["estimated_total"] == pytest.approx(0.077 * 2 + 0.105)
    assert s["ucs2_rows"] == 1  # Zoë
    assert s["problems"] == [] and s["notes"] == []
    cp.sample = 1
    s = cp.state()
    assert s["preview"].startswith("Hi Zoë in Perth")
    assert s["encoding"] == "ucs2" and s["non_gsm"] == ["ë"]


@pytest.mark.parametrize(
    "text",
    [
        "x" * 160,
        "x" * 161,
        "€" * 80,
        "€" * 81,
        "x" * 152 + "€" + "x" * 152,
        "Hi 👋",
        "ж" * 70,
        "ж" * 71,
        "👋" * 34 + "x",
        "café ñ ü",
    ],
)
def test_encoding_parts_and_chars_left_follow_the_writers_counter(text):
    cp = Composer(people().head(1), body=text)
    s = cp.state()
    assert (s["encoding"], s["units"], s["parts"]) == writers.segment(text)
    left = s["chars_left"]
    assert writers.segment(text + "a" * left)[2] == s["parts"]
    assert writers.segment(text + "a" * (left + 1))[2] == s["parts"] + 1
    if s["encoding"] == "gsm7":
        assert s["non_gsm"] == []
    else:
        assert s["non_gsm"] and all(ch in text for ch in s["non_gsm"])


def test_known_counts():
    cp = Composer(people().head(1), body="x" * 161)
    assert (cp.state()["parts"], cp.state()["chars_left"]) == (2, 145)
    cp.body = "€" * 80  # the extension table counts double: exactly one part
    assert (cp.state()["encoding"], cp.state()["parts"], cp.state()["chars_left"]) == ("gsm7", 1, 0)
    cp.body = "Hi 👋"  # a surrogate pair: 5 units of 70
    s = cp.state()
    assert (s["encoding"], s["units"], s["chars_left"], s["non_gsm"]) == ("ucs2", 5, 65, ["👋"])


def test_unknown_placeholders_and_missing_values_block_the_send():
    cp = Composer(people(), prices=PRICES, body="Hi {first_name} {nickname}" + OPT_OUT)
    s = cp.state()
    assert s["unknown"] == ["nickname"]
    assert s["preview"] is None and "nickname" in s["preview_error"]
    assert s["problems"] and any("nickname" in p for p in s["problems"])
    assert cp.plan() is None
    df = people()
    df.loc[2, "first_name"] = None
    cp = Composer(df, prices=PRICES, body="Hi {first_name}" + OPT_OUT)
    s = cp.state()
    assert s["preview"] == "Hi Ann" + OPT_OUT  # the sample row is fine
    assert s["problems"] and cp.plan() is None  # but row 2 has no first name
    assert any("2" in p for p in s["problems"])


def test_opt_out_and_empty_body():
    cp = Composer(people(), prices=PRICES)
    assert cp.state()["problems"] == ["Write a message."]
    cp.body = "Hi {first_name}, 20% off today"
    s = cp.state()
    assert s["problems"] == [] and any("opt-out" in n for n in s["notes"])
    cp.marketing = True
    assert cp.state()["problems"]


def test_no_prices_no_estimate():
    cp = Composer(people(), body="Hi" + OPT_OUT)
    s = cp.state()
    assert s["total_parts"] == 3 and s["estimated_total"] is None
    view = composer(people(), body="Hi" + OPT_OUT)
    assert "no estimate" in view.stats.value


def test_without_a_client_there_is_nothing_to_send():
    cp = Composer(people(), prices=PRICES, body="Hi" + OPT_OUT)
    with pytest.raises(RuntimeError, match="needs a client"):
        cp.quote()
    with pytest.raises(RuntimeError, match="needs a client"):
        cp.arm_send()
    with pytest.raises(RuntimeError, match="arm_send"):
        cp.confirm_send("3")
    view = composer(people(), prices=PRICES, body="Hi" + OPT_OUT)
    assert view.send_button.disabled and view.quote_button.disabled
    assert view.send_button not in _all_children(view.widget)


def test_preview_html_is_escaped_and_marks_unicode():
    df = people()
    df.loc[0, "first_name"] = "<b>Ann</b>"
    view = composer(df, prices=PRICES, body="Hi {first_name} 😀" + OPT_OUT)
    assert "<b>Ann</b>" not in view.preview.value and "&lt;b&gt;Ann&lt;/b&gt;" in view.preview.value
    assert '<mark title="not GSM-7: forces unicode">😀</mark>' in view.preview.value
    assert highlight("a<b", []) == "a&lt;b"


def test_bad_arguments():
    with pytest.raises(TypeError, match="DataFrame"):
        Composer([{"phone": "+61412000001"}])
    with pytest.raises(ValueError, match="sample"):
        Composer(people(), sample=5)
    with pytest.raises(TypeError, match="body"):
        Composer(people(), body=42)


def test_view_updates_as_you_type():
    view = composer(people(), prices=PRICES)
    view.body.value = "Hi {first_name}" + OPT_OUT
    assert "Hi Ann" in view.preview.value
    assert "1 part" in view.stats.value and "3 recipients" in view.stats.value
    view.sample.value = 2
    assert "Hi Bob" in view.preview.value
    view.body.value = "Hi {first_name} {oops}"
    assert "oops" in view.problems.value
    view.sender.value = "NOT A VALID SENDER ID"
    view.body.value = "Hi" + OPT_OUT
    assert "sender" in view.problems.value


def _all_children(widget):
    out = [widget]
    for child in getattr(widget, "children", ()):
        out += _all_children(child)
    return out


# -- against a sandbox: quote, arm, confirm, resume ------------------------------------------
@pytest.fixture(scope="module")
def own_sandbox():
    from csframe.sandbox import running

    with running(scale="tiny", seed=7) as sb:
        yield sb


@pytest.fixture
def cs(own_sandbox, tmp_path):
    client = Client(
        **own_sandbox.credentials,
        base_url=own_sandbox.base_url,
        cache_dir=tmp_path / "cache",
        progress=False,
    )
    yield client
    client.close()


def _sent_to(sb, number: str) -> int:
    return len(sb.truth_sms_ids(q=f"to:{number}"))


def test_estimate_from_the_account_and_quote(cs):
    cp = Composer(people(), client=cs, sender="ACME", body="Hi {first_name}" + OPT_OUT)
    s = cp.state()
    assert s["currency"] == "AUD"
    assert s["estimated_total"] == pytest.approx(0.077 * 2 + 0.105)
    q = cp.quote()
    assert q["total"] == pytest.approx(s["estimated_total"])
    assert q["messages"] == 3 and q["by_status"] == {"SUCCESS": 3} and q["requests"] == 1
    assert cp.state()["quote"] == q
    cp.body = "Hello {first_name}" + OPT_OUT  # a new body invalidates the quote
    assert cp.quoted is None


def test_two_step_send_never_twice(cs, own_sandbox, tmp_path):
    df = people()
    df["phone_e164"] = ["+61412300001", "+61412300002", "+61412300003"]
    journal = tmp_path / "run.sqlite"
    cp = Composer(df, client=cs, sender="ACME", body="Hi {first_name}" + OPT_OUT, journal=journal)
    armed = cp.arm_send()
    assert armed["recipients"] == 3 and armed["confirm_with"] == "3"
    assert armed["journal"] == str(journal)
    assert all(_sent_to(own_sandbox, n) == 0 for n in df["phone_e164"])  # arming sends nothing
    with pytest.raises(ValueError, match="number of recipients"):
        cp.confirm_send("yes")
    cp.body = "Hi {first_name}!" + OPT_OUT  # changing the message disarms
    assert cp.armed is None
    with pytest.raises(RuntimeError, match="arm_send"):
        cp.confirm_send("3")
    cp.body = "Hi {first_name}" + OPT_OUT
    cp.arm_send()
    result = cp.confirm_send("3")
    assert result["outcome"].tolist() == ["sent"] * 3
    assert all(_sent_to(own_sandbox, n) == 1 for n in df["phone_e164"])
    assert cp.armed is None
    cp.arm_send()
    again = cp.confirm_send(" 3 ")
    assert again["outcome"].tolist() == ["sent"] * 3
    assert again.attrs["requests"] == 0  # resumed from the journal: nothing sent again
    assert all(_sent_to(own_sandbox, n) == 1 for n in df["phone_e164"])


def test_view_send_flow_and_no_secrets(cs, own_sandbox, tmp_path):
    df = people()
    df["phone_e164"] = ["+61412400001", "+61412400002", "+61412400003"]
    view = composer(df, client=cs, body="Hi {first_name}" + OPT_OUT, journal=tmp_path / "j.sqlite")
    assert not view.send_button.disabled
    assert view.confirm_box.layout.display == "none"
    view.quote_button.click()
    assert "Quoted by the API: AUD 0.23" in view.stats.value
    view.send_button.click()
    assert view.confirm_box.layout.display == "flex"
    assert (
        "Send 3 messages" in view.confirmation.value
        and "quoted AUD 0.23" in view.confirmation.value
    )
    assert view.send_button.disabled and view.body.disabled
    assert view.confirm_button.disabled
    view.confirm_text.value = "2"
    assert view.confirm_button.disabled
    view.cancel_button.click()
    assert view.confirm_box.layout.display == "none" and not view.body.disabled
    assert all(_sent_to(own_sandbox, n) == 0 for n in df["phone_e164"])
    view.send_button.click()
    view.confirm_text.value = "3"
    assert not view.confirm_button.disabled
    view.confirm_button.click()
    assert "Sent: 3 sent" in view.status.value
    assert all(_sent_to(own_sandbox, n) == 1 for n in df["phone_e164"])
    key = own_sandbox.credentials["api_key"]
    for w in _all_children(view.widget):
        assert key not in str(getattr(w, "value", ""))


def test_api_errors_are_text(cs, own_sandbox):
    df = people()
    df["phone_e164"] = ["+61412500001", "+61412500002", "+61412500003"]
    view = composer(df, client=cs, body="Hi {first_name}" + OPT_OUT)
    own_sandbox.set_faults(error_rate=1.0, seed=1)
    try:
        view.quote_button.click()
    finally:
        own_sandbox.set_faults()
    assert view.model.quoted is None
    assert "Error" in view.problems.value and "Traceback" not in view.problems.value
