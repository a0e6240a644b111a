"""Writers, offline part: GSM-7/UCS-2 parts, template rendering, plan validation."""

from __future__ import annotations

import doctest
import importlib
import random
import warnings

import numpy as np
import pandas as pd
import pytest

from csframe.writers import (
    OptOutWarning,
    PlanError,
    PlanWarning,
    email_plan,
    mms_plan,
    segment,
    segments,
    sms_plan,
)
from csframe.writers.render import render
from csframe.writers.segments import GSM7_BASIC, GSM7_EXTENSION


@pytest.mark.parametrize(
    "module",
    [
        "csframe.writers.segments",
        "csframe.writers.render",
        "csframe.writers.plan",
    ],
)
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


# ------------------------------------------------------------------------------ segments


@pytest.mark.parametrize(
    "body,expected",
    [
        ("", ("gsm7", 0, 1)),
        ("a" * 160, ("gsm7", 160, 1)),
        ("a" * 161, ("gsm7", 161, 2)),
        ("a" * 306, ("gsm7", 306, 2)),  # the reference's table: 161-306 = 2 credits
        ("a" * 307, ("gsm7", 307, 3)),
        ("a" * 1224, ("gsm7", 1224, 8)),
        ("€" * 80, ("gsm7", 160, 1)),  # extension characters count double
        ("€" * 81, ("gsm7", 162, 2)),
        ("a" * 159 + "^", ("gsm7", 161, 2)),
        ("é" * 160, ("gsm7", 160, 1)),  # é is in the basic table
        ("ж" * 70, ("ucs2", 70, 1)),
        ("ж" * 71, ("ucs2", 71, 2)),
        ("ж" * 134, ("ucs2", 134, 2)),
        ("ж" * 135, ("ucs2", 135, 3)),
        ("ç" + "a" * 69, ("ucs2", 70, 1)),  # lower-case ç is not GSM: the whole body is UCS-2
        ("😀" * 35, ("ucs2", 70, 1)),  # surrogate pairs: 2 units each
        ("😀" * 36, ("ucs2", 72, 2)),
        ("Hi 👋", ("ucs2", 5, 1)),
    ],
)
def test_segment_counts(body, expected):
    assert segment(body) == expected
    assert tuple(segments(pd.Series([body])).iloc[0]) == expected


def test_characters_are_never_split_across_parts():
    # 306 septets would fit 2 parts of 153, but the € (escape + char) at septets 153-154
    # cannot straddle the boundary: it moves to part 2, and one septet spills into part 3.
    assert segment("x" * 152 + "€" + "x" * 152) == ("gsm7", 306, 3)
    assert segment("x" * 151 + "€" + "x" * 153) == ("gsm7", 306, 2)
    # same for a surrogate pair in UCS-2 (67 units per part)
    assert segment("ж" * 66 + "😀" + "ж" * 66) == ("ucs2", 134, 3)
    assert segment("ж" * 65 + "😀" + "ж" * 67) == ("ucs2", 134, 2)


def test_vectorised_segments_equal_the_scalar_definition():
    rnd = random.Random(3)
    pools = [GSM7_BASIC, GSM7_BASIC + GSM7_EXTENSION, GSM7_BASIC + "çж😀🎉你"]
    bodies = [
        "".join(rnd.choice(rnd.choice(pools)) for _ in range(rnd.randint(0, 420)))
        for _ in range(3000)
    ]
    got = segments(pd.Series(bodies, index=range(10, 3010)))
    want = [segment(b) for b in bodies]
    assert list(got.index) == list(range(10, 3010))
    assert got["encoding"].tolist() == [w[0] for w in want]
    assert got["units"].tolist() == [w[1] for w in want]
    assert got["parts"].tolist() == [w[2] for w in want]


# -------------------------------------------------------------------------------- render


def test_render_formats_values_like_str_format():
    df = pd.DataFrame(
        {
            "name": ["Ann", "Zoë"],
            "amount": [12.5, 3.0],
            "postcode": [3000.0, 2000.0],  # ints that became floats
            "due": pd.to_datetime(["2026-11-03", "2026-12-24"]),
        }
    )
    out = render(df, "{name} owes ${amount:.2f} by {due:%d %b}; pc {postcode} {{literal}}")
    assert out.tolist() == [
        "Ann owes $12.50 by 03 Nov; pc 3000 {literal}",
        "Zoë owes $3.00 by 24 Dec; pc 2000 {literal}",
    ]


def test_missing_placeholder_values_are_errors_naming_rows():
    df = pd.DataFrame(
        {"first_name": ["Ann", None, "  ", "Cy", np.nan], "code": [1, 2, 3, None, 5]},
        index=["a", "b", "c", "d", "e"],
    )
    with pytest.raises(PlanError) as exc:
        render(df, "Hi {first_name}, code {code}")
    msg = str(exc.value)
    assert "first_name" in msg and "['b', 'c', 'e']" in msg
    assert "code" in msg and "['d']" in msg
    probs = exc.value.problems
    assert sorted(probs.loc[probs["column"] == "first_name", "row"]) == ["b", "c", "e"]


def test_unknown_placeholder_lists_available_columns():
    df = pd.DataFrame({"phone": ["+61412000001"], "first_name": ["Ann"]})
    with pytest.raises(PlanError, match=r"\['firstname'\].*available: \['phone', 'first_name'\]"):
        render(df, "Hi {firstname}")
    with pytest.raises(PlanError, match="name a column"):
        render(df, "Hi {}")
    with pytest.raises(PlanError, match="not a valid template"):
        render(df, "Hi {first_name")


# ---------------------------------------------------------------------------------- plan


def frame(n=4):
    return pd.DataFrame(
        {
            "phone": [f"+614120000{i:02d}" for i in range(n)],
            "first_name": ["Ann", "Bob", "Zoë", "Dee"][:n] + ["Eve"] * max(0, n - 4),
        }
    )


BODY = "Hi {first_name}, 20% off today. Reply STOP to opt out"


def test_sms_plan_columns_and_estimate():
    plan = sms_plan(frame(), BODY, to="phone", sender="ACME", prices={"AU": 0.077})
    assert list(plan.columns) == [
        "row_key",
        "to",
        "body",
        "sender",
        "schedule",
        "country",
        "encoding",
        "units",
        "parts",
        "unit_price",
        "est_cost",
    ]
    assert plan["row_key"].tolist() == ["0", "1", "2", "3"]
    assert plan["encoding"].tolist() == ["gsm7", "gsm7", "ucs2", "gsm7"]
    assert plan["country"].astype(str).tolist() == ["AU"] * 4
    assert plan.attrs["channel"] == "sms"
    assert plan.attrs["estimated_total"] == pytest.approx(0.308)
    assert plan["schedule"].isna().all() and (plan["sender"] == "ACME").all()


def test_plan_collects_every_problem_in_one_error():
    df = frame(6)
    df.loc[1, "phone"] = "0412 345 678"
    df.loc[2, "first_name"] = None
    df.loc[4, "phone"] = df.loc[3, "phone"]
    df.loc[5, "phone"] = None
    with pytest.raises(PlanError) as exc:
        sms_plan(df, BODY + " {missing_col}", to="phone", sender="ACME CORP LTD")
    msg = str(exc.value)
    assert "not an E.164 number" in msg and "[1]" in msg and "phone_e164" in msg
    assert "no value for placeholder {first_name}" in msg and "[2]" in msg
    assert "the same recipient again" in msg and "[4]" in msg
    assert "no recipient number" in msg and "[5]" in msg
    assert "['missing_col']" in msg
    assert "not a valid sender id" in msg
    assert set(exc.value.problems["row"].dropna()) == {1, 2, 4, 5}


def test_missing_recipient_column_names_the_alternatives():
    df = frame().rename(columns={"phone": "phone_e164"})
    with pytest.raises(PlanError, match=r"'phone_number' is not in the frame.*to='phone_e164'"):
        sms_plan(df, BODY)


def test_duplicates_allowed_on_request():
    df = pd.concat([frame(2), frame(2)], ignore_index=True)
    with pytest.raises(PlanError, match="same recipient"):
        sms_plan(df, BODY, to="phone")
    assert len(sms_plan(df, BODY, to="phone", allow_duplicates=True)) == 4


def test_marketing_opt_out_warn_refuse_or_skip():
    body = "Hi {first_name}, 20% off today"
    with pytest.warns(OptOutWarning, match="no opt-out"):
        sms_plan(frame(), body, to="phone")
    with pytest.raises(PlanError, match="no opt-out instruction"):
        sms_plan(frame(), body, to="phone", marketing=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sms_plan(frame(), body, to="phone", marketing=False)
        sms_plan(frame(), body + " StopMsg.me/ab12x", to="phone", marketing=True)
        sms_plan(frame(), body + ". Reply stop to end", to="phone", marketing=True)
    # the word must be an instruction, not any "stop"
    with pytest.raises(PlanError):
        sms_plan(frame(), "Don't stop {first_name}", to="phone", marketing=True)


def test_row_keys_from_a_column_must_be_usable():
    df = frame()
    df["cid"] = ["A-1", "a-1", "B,2", "C"]
    with pytest.raises(PlanError) as exc:
        sms_plan(df, BODY, to="phone", key="cid")
    msg = str(exc.value)
    assert "not unique" in msg and "[0, 1]" in msg
    assert "contains ','" in msg and "[2]" in msg
    df["cid"] = ["A-1", "A-2", "B-2", "C"]
    assert sms_plan(df, BODY, to="phone", key="cid")["row_key"].tolist() == df["cid"].tolist()
    df.index = [10, 11, 12, 13]
    assert sms_plan(df, BODY, to="phone", key="index")["row_key"].tolist() == [
        "10",
        "11",
        "12",
        "13",
    ]


def test_schedule_and_long_message_warnings():
    with pytest.warns(PlanWarning, match="in the past"):
        p = sms_plan(frame(), BODY, to="phone", schedule="2001-01-01")
    assert p["schedule"].iloc[0] == 978307200
    with pytest.warns(PlanWarning, match="more than 6 parts"):
        sms_plan(frame(), BODY + " {first_name}" * 200, to="phone")
    with pytest.raises(PlanError, match="schedule"):
        sms_plan(frame(), BODY, to="phone", schedule="not a date")


def test_country_from_calling_code():
    df = pd.DataFrame(
        {
            "phone": [
                "+61412000001",
                "+6421000000",
                "+14155550100",
                "+447700900123",
                "+8613800000000",
            ]
        }
    )
    p = sms_plan(df, "Hi. Reply STOP to opt out", to="phone", prices={"AU": 0.077, "US": 0.042})
    assert p["country"].astype(str).tolist() == ["AU", "NZ", "US", "GB", "CN"]
    assert p["est_cost"].tolist()[:3] == [0.077, pytest.approx(np.nan, nan_ok=True), 0.042]


def test_plan_keeps_the_input_untouched_and_its_index():
    df = frame()
    df.index = ["w", "x", "y", "z"]
    before = df.copy()
    p = sms_plan(df, BODY, to="phone")
    pd.testing.assert_frame_equal(df, before)
    assert list(p.index) == ["w", "x", "y", "z"]


def test_mms_plan_validates_subject_length_and_media(tmp_path):
    df = frame()
    with pytest.raises(PlanError, match="longer than 20"):
        mms_plan(df, BODY, "https://example.com/a.gif", "Dear {first_name}, big news today")
    with pytest.raises(PlanError, match="neither an http"):
        mms_plan(df, BODY, tmp_path / "nope.gif", "Sale", to="phone")
    img = tmp_path / "a.gif"
    img.write_bytes(b"GIF89a")
    p = mms_plan(df, BODY, img, "Sale {first_name}", to="phone")
    assert p.attrs["channel"] == "mms" and p.attrs["media_file"] == str(img)
    assert p["subject"].tolist()[0] == "Sale Ann"


def test_email_plan_validates_addresses():
    df = pd.DataFrame(
        {"email": ["ann@example.com", "not-an-email", "ANN@example.com"], "n": ["A", "B", "C"]}
    )
    with pytest.raises(PlanError) as exc:
        email_plan(df, "Hi {n}", "<p>Hello {n}</p> unsubscribe", 3)
    msg = str(exc.value)
    assert "not an email address" in msg and "[1]" in msg
    assert "same address again" in msg and "[2]" in msg
    p = email_plan(df.iloc[[0]], "Hi {n}", "<p>Hello {n}</p> unsubscribe", 3, price=0.01)
    assert p["subject"].tolist() == ["Hi A"] and p.attrs["estimated_total"] == 0.01


def test_plan_speed_is_not_a_python_loop_per_row():
    # correctness at scale; the speed target lives in bench/writers.py
    n = 20_000
    df = pd.DataFrame(
        {
            "phone": [f"+614{i:08d}" for i in range(n)],
            "name": np.where(np.arange(n) % 3, "Ann", "Zoë"),
        }
    )
    p = sms_plan(df, "Hi {name}! Reply STOP to opt out", to="phone")
    assert p["parts"].sum() == n
    assert (p["encoding"] == "ucs2").sum() == len(range(0, n, 3))


def test_missing_placeholder_columns_and_values_are_reported_not_rendered_as_nan():
    import pandas as pd
    import pytest

    from csframe.writers import sms_plan
    from csframe.writers.plan import PlanError

    df = pd.DataFrame({"phone": ["+61411111111", "+61422222222"], "first_name": ["Ann", None]})
    with pytest.raises(PlanError) as info:
        sms_plan(df, "Hi {first_name} {nope}", to="phone", sender="ACME")
    text = str(info.value)
    assert "nope" in text and "first_name" in text
