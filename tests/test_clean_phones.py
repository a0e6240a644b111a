"""Phone normalisation: the vectorised engine must agree with phonenumbers exactly."""

from __future__ import annotations

import importlib
import random

import numpy as np
import pandas as pd
import phonenumbers as pn
import pytest
from phonenumbers import PhoneNumberFormat as F
from phonenumbers import PhoneNumberType as T

from csframe import clean
from csframe.clean import _phone_engine as eng

P = importlib.import_module("csframe.clean.phones")  # the module (the package exports phones())

TYPES = (T.FIXED_LINE, T.MOBILE, T.TOLL_FREE, T.PREMIUM_RATE, T.VOIP, T.SHARED_COST,
         T.PERSONAL_NUMBER, T.UAN, T.PAGER, T.VOICEMAIL)  # fmt: skip


def _samples(seed: int = 0) -> list[tuple[str, bool, str | None]]:
    """Example numbers of every type in every region, in several formats, plus mutations."""
    rng = random.Random(seed)
    out = []
    for region in sorted(pn.SUPPORTED_REGIONS):
        meta = pn.PhoneMetadata.metadata_for_region(region)
        for t in TYPES:
            ex = pn.example_number_for_type(region, t)
            if ex is None:
                continue
            for fmt in (F.E164, F.NATIONAL):
                s = pn.format_number(ex, fmt)
                digits = "".join(c for c in s if c.isdigit())
                plus = s.startswith("+")
                out.append((digits, plus, region))
                d = list(digits)
                d[rng.randrange(len(d))] = str(rng.randrange(10))
                out.append(("".join(d), plus, region))
                out.append((digits[:-1], plus, region))
                out.append((digits + str(rng.randrange(10)), plus, region))
            out.append((str(ex.country_code) + digits[-8:], False, region))
        for _ in range(3):
            n = rng.choice([*meta.general_desc.possible_length, 3, 12, 16])
            d = "".join(str(rng.randrange(10)) for _ in range(max(n, 1)))
            out.append(("0" + d, False, region))
            out.append(("00" + str(meta.country_code) + d, False, region))
            out.append(("011" + d, False, region))
            out.append((str(meta.country_code) + d, False, region))
    for cc in pn.COUNTRY_CODE_TO_REGION_CODE:
        d = "".join(str(rng.randrange(10)) for _ in range(rng.randrange(4, 14)))
        out.append((str(cc) + d, True, None))
    return out


def _reference(digits: str, plus: bool, region: str | None):
    try:
        num = pn.parse(("+" if plus else "") + digits, region)
    except pn.NumberParseException:
        return None
    return (
        pn.format_number(num, F.E164),
        pn.is_valid_number(num),
        pn.number_type(num),
        pn.region_code_for_number(num),
        pn.is_possible_number(num),
    )


def test_engine_matches_phonenumbers_everywhere():
    samples = _samples()
    assert len(samples) > 10_000
    digits = np.array([s[0] for s in samples], dtype=object)
    plus = np.array([s[1] for s in samples])
    region = np.array([s[2] for s in samples], dtype=object)
    got = P._attempt(digits, plus, region, 1)
    # most inputs take the vectorised path; the rest go through phonenumbers.parse
    assert eng.parse(digits, plus, region).slow.mean() < 0.2
    bad = []
    for i, (d, p, r) in enumerate(samples):
        ref = _reference(d, p, r)
        if ref is None:
            if got["e164"][i] is not None:
                bad.append((d, p, r, "parsed", got["e164"][i]))
            continue
        mine = (
            got["e164"][i],
            bool(got["valid"][i]),
            int(got["type"][i]),
            got["region"][i],
            int(got["length"][i]) in (eng.IS_POSSIBLE, eng.LOCAL_ONLY),
        )
        if mine != ref:
            bad.append((d, p, r, ref, mine))
    assert not bad, bad[:10]


@pytest.mark.parametrize(
    ("raw", "region", "e164", "reason"),
    [
        ("0412 345 678", "AU", "+61412345678", None),
        ("+61 (0) 412 345 678", "AU", "+61412345678", None),
        ("0011 61 412 345 678", "AU", "+61412345678", None),  # AU's own IDD
        ("0061 412 345 678", "AU", "+61412345678", None),  # 00 read as +
        ("447400123456", "AU", "+447400123456", None),  # lost '+', not valid in AU
        ("Mob: 0412-345-678 (home)", "AU", "+61412345678", None),
        ("0412.345.678", "AU", "+61412345678", None),
        ("(650) 253-0000 x 123", "US", "+16502530000", None),
        ("+1 650 253 0000 extension 9", None, "+16502530000", None),
        ("6502530000", None, None, "no_region"),
        ("", "AU", None, "empty"),
        ("   ", "AU", None, "empty"),
        ("call me", "AU", None, "not_a_number"),
        ("12", "AU", None, "too_short"),
        ("1" * 25, "AU", None, "too_long"),
        ("+999 1234 5678", "AU", None, "invalid_country_code"),
        ("0412 345 67", "AU", "+6141234567", "invalid_number"),
        ("7946 0958", "GB", None, "local_only"),  # London number without its area code
        ("+54 9 11 1234 5678", "AU", "+5491112345678", None),  # transform-rule region (slow path)
    ],
)
def test_formats_and_reasons(raw, region, e164, reason):
    out = clean.phones(pd.Series([raw], dtype="str"), default_region=region)
    got = out["phone_e164"].iloc[0]
    assert (None if pd.isna(got) else got) == e164
    r = out["phone_reason"].iloc[0]
    assert (None if pd.isna(r) else r) == reason
    assert bool(out["phone_valid"].iloc[0]) == (reason is None)


def test_non_string_input_and_index_kept():
    s = pd.Series(
        [61412345678, 412345678.0, None, np.nan, True, b"0412345678"], index=list("abcdef")
    )
    out = clean.phones(s, default_region="AU")
    assert list(out.index) == list("abcdef")
    assert out["phone_e164"].tolist()[:2] == ["+61412345678", "+61412345678"]
    assert out["phone_reason"].astype(object).tolist()[2:5] == ["empty", "empty", "not_a_number"]
    assert out.loc["f", "phone_e164"] == "+61412345678"


def test_unicode_digits_and_invisible_characters():
    s = pd.Series(
        [
            "\u0660\u0664\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668",  # Arabic-Indic
            "\u06f0\u06f4\u06f1\u06f2\u06f3\u06f4\u06f5\u06f6\u06f7\u06f8",  # Persian
            "\u0966\u096a\u0967\u0968\u0969\u096a\u096b\u096c\u096d\u096e",  # Devanagari
            "\uff10\uff14\uff11\uff12 \uff13\uff14\uff15 \uff16\uff17\uff18",  # fullwidth
            "0412\u00a0345\u200b678\ufeff",
            "\u202f0412\u2013345\u2013678",
        ]
    )
    out = clean.phones(s, default_region="AU")
    assert out["phone_e164"].tolist() == ["+61412345678"] * len(s)


def test_region_column_names_and_codes():
    s = pd.Series(["07400 123456", "021 123 4567", "06 12 34 56 78", "0412 345 678"])
    regions = pd.Series(["United Kingdom", "nzl", "France", None])
    out = clean.phones(s, default_region="AU", region_column=regions)
    assert out["phone_e164"].tolist() == [
        "+447400123456", "+64211234567", "+33612345678", "+61412345678",
    ]  # fmt: skip
    assert out["phone_region"].astype(object).tolist() == ["GB", "NZ", "FR", "AU"]


def test_bad_arguments():
    with pytest.raises(ValueError, match="default_region"):
        clean.phones(["1"], default_region="ZZ")
    with pytest.raises(clean.CleanInputError, match="Series"):
        clean.phones(["1"], region_column="AU")
    with pytest.raises(clean.CleanInputError, match="DataFrame"):
        clean.phones(pd.DataFrame({"a": ["1"]}))
    with pytest.raises(clean.CleanInputError, match="rows"):
        clean.phones(["1", "2"], region_column=pd.Series(["AU"]))


def test_empty_input():
    out = clean.phones(pd.Series([], dtype="str"), default_region="AU")
    assert len(out) == 0 and out["phone_valid"].dtype == "boolean"


@pytest.fixture
def pool_cleanup():
    yield
    P.shutdown_pool()


def test_fallback_pool_gives_same_answers(monkeypatch, pool_cleanup):
    # force the process pool on a small input: same results as the serial path
    monkeypatch.setattr(P, "POOL_THRESHOLD", 1)
    raw = pd.Series(["+54 9 11 1234 5678", "+81 3-1234-5678", "011 54 9 11 1234 5678"] * 3)
    pooled = clean.phones(raw, default_region="US", workers=2)
    monkeypatch.setattr(P, "POOL_THRESHOLD", 10**9)
    serial = clean.phones(raw, default_region="US")
    pd.testing.assert_frame_equal(pooled, serial)


def test_parallel_rows_give_same_answers(monkeypatch, pool_cleanup):
    raw = pd.Series(["0412 345 678", "+44 7400 123456", None, "12", "650 253 0000"] * 40)
    regions = pd.Series(["AU", "GB", None, "AU", "US"] * 40)
    serial = clean.phones(raw, default_region="AU", region_column=regions, workers=1)
    monkeypatch.setattr(P, "PROCESS_ROWS", 10)
    monkeypatch.setattr(P, "POOL_START_SECONDS", 0.0)
    parallel = clean.phones(raw, default_region="AU", region_column=regions, workers=2)
    pd.testing.assert_frame_equal(parallel, serial)


def test_no_pool_started_for_rows_it_cannot_win_back(monkeypatch, pool_cleanup):
    # starting worker processes costs more than splitting a mid-sized input saves: no
    # pool starts for 120 rows when the start-up takes 120 rows' worth of the saving;
    # one already running is used from PROCESS_ROWS
    P.shutdown_pool()
    raw = pd.Series(["0412 345 678", "+44 7400 123456", "650 253 0000"] * 40)
    monkeypatch.setattr(P, "PROCESS_ROWS", 10)
    saving = P.ROW_SECONDS / 2 - P.SHIP_SECONDS
    monkeypatch.setattr(P, "POOL_START_SECONDS", saving * (len(raw) + 1))
    assert P._split_rows(2) > len(raw)
    serial = clean.phones(raw, default_region="AU", workers=1)
    out = clean.phones(raw, default_region="AU", workers=2)
    assert not P._POOL
    pd.testing.assert_frame_equal(out, serial)
    pool = P._pool(2)
    calls = []
    real_map = pool.map
    monkeypatch.setattr(pool, "map", lambda *a, **k: calls.append(1) or real_map(*a, **k))
    out = clean.phones(raw, default_region="AU", workers=2)
    assert calls, "a running pool is used from PROCESS_ROWS"
    pd.testing.assert_frame_equal(out, serial)


def _raw_samples(seed: int = 1) -> list[tuple[str, str | None]]:
    """(raw text, region) as people write numbers: every region's example numbers in the
    formats phonenumbers prints and in spreadsheet forms (dots, no '+', '00', brackets,
    extensions, labels), mutated ones and junk, with the right, a wrong or no region."""
    rng = random.Random(seed)
    regions = sorted(pn.SUPPORTED_REGIONS)
    out: list[tuple[str, str | None]] = []
    for region in regions:
        for t in (T.MOBILE, T.FIXED_LINE, T.TOLL_FREE):
            ex = pn.example_number_for_type(region, t)
            if ex is None:
                continue
            nat = pn.format_number(ex, F.NATIONAL)
            intl = pn.format_number(ex, F.INTERNATIONAL)
            e164 = pn.format_number(ex, F.E164)
            digits = "".join(c for c in nat if c.isdigit())
            forms = [
                nat,
                intl,
                e164,
                pn.format_number(ex, F.RFC3966),
                e164[1:],  # the '+' lost
                "00" + e164[1:],
                intl.replace(" ", "."),
                f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
                f"{nat} ext. {rng.randrange(1, 999)}",
                f"Tel: {nat}",  # (a trailing "(home)" phonenumbers reads as keypad digits)
                digits[:-1],
                digits + str(rng.randrange(10)),
            ]
            for raw in forms:
                other = rng.choice(regions)
                out.append((raw, rng.choice([region, region, other, None])))
    junk = ["", "  ", "n/a", "call me", "12", "1" * 25, "+", "+999 1234 5678", "0", "++61"]
    out += [(j, rng.choice(["AU", "US", None])) for j in junk]
    rng.shuffle(out)
    return out


def _per_row(raw: str, region: str | None):
    """What phonenumbers says, one row at a time: (E.164, type name, region) when valid."""
    try:
        num = pn.parse(raw, region)
    except pn.NumberParseException:
        return None
    if not pn.is_valid_number(num):
        return None
    return (
        pn.format_number(num, F.E164),
        eng.TYPE_NAMES[pn.number_type(num)],
        pn.region_code_for_number(num),
    )


def test_phones_agree_with_phonenumbers_per_row():
    # the whole vectorised path (clean-up, unique pairs, engine, second readings, per-row
    # assembly) against phonenumbers row by row on varied input
    samples = _raw_samples()
    assert len(samples) > 5000
    raw = pd.Series([s[0] for s in samples], dtype="str")
    regions = pd.Series([s[1] for s in samples], dtype="str")
    out = clean.phones(raw, region_column=regions, workers=1)
    e164 = out["phone_e164"].astype(object).where(out["phone_e164"].notna(), None).tolist()
    ntype = out["phone_type"].astype(object).tolist()
    reg = out["phone_region"].astype(object).tolist()
    valid = out["phone_valid"].tolist()
    lost, differ, unconfirmed = [], [], []
    for i, (text, region) in enumerate(samples):
        ref = _per_row(text, region)
        mine = (e164[i], ntype[i], reg[i]) if valid[i] else None
        if ref is not None and mine is None:
            lost.append((text, region, ref))
        elif ref is not None and mine != ref:
            differ.append((text, region, ref, mine))
        elif mine is not None and ref is None and _per_row(mine[0], None) != mine:
            # a second reading ('00' as '+', a lost '+'): the number itself must be valid
            # per phonenumbers, with the same type and region
            unconfirmed.append((text, region, mine))
    assert not lost, lost[:10]
    assert not differ, differ[:10]
    assert not unconfirmed, unconfirmed[:10]
    # the sample exercises all three outcomes
    assert 0.3 < np.mean(valid) < 0.95
