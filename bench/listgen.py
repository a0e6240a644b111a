"""Synthetic Australian contact lists with known truth, for de-duplication benchmarks and tests.

    from listgen import generate
    df, truth = generate("postal", people=2000, seed=1)

One population of people (given name and surname drawn with Zipf-like frequencies, date of
birth, street address, suburb and postcode, a mobile and an email), written out as one of
four list shapes:

- ``postal``: names, ``address_line_1``, ``address_city`` (suburb), ``address_state``,
  ``address_postal_code`` and the date of birth in ``custom_1``; no phone or email (how
  letters and postcards lists look);
- ``sms``: names, a mobile in varied formats, an email, the postcode and the date of birth in
  ``custom_1``; 15% of rows miss the phone, 15% the email, 5% of the duplicates carry an
  email typo;
- ``mixed``: every column; each row has the phone and the email with probability 0.6;
- ``households``: the ``sms`` shape where 20% of people share a landline with another person
  of their family (same surname, address and landline; another first name, date of birth and
  email; a third of them with a blank first name and a different postcode).

Every shape has households living at one address (different people, never duplicates). A
person has 0-3 duplicate rows (FEBRL-style): each with one to three errors among a typo in a
name, first/last name swapped, a missing field, a date-of-birth typo or day/month swap, a
one-digit postcode typo, an address or suburb typo or abbreviation. Dates of birth are
written in six day-first formats. ``truth`` has, per row: ``person`` (the same id = the same
person) and ``household`` (id shared by the different people of one household, -1 if none).
"""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd

SHAPES = ("postal", "sms", "mixed", "households")

GIVEN = (  # noqa: SIM905 - easier to read as text
    "jack oliver william noah thomas james lucas henry liam ethan mason alexander harrison "
    "charlie leo samuel max isaac hudson archie oscar lachlan benjamin jacob joshua daniel "
    "ryan matthew michael david andrew peter john mark paul stephen christopher robert "
    "nicholas anthony jason luke adam nathan scott aaron cooper riley hunter xavier "
    "charlotte olivia amelia isla mia ava grace chloe sophie emily ruby zoe evie lily "
    "ella sienna harper willow matilda ivy hannah jessica sarah emma lauren rebecca laura "
    "michelle kate rachel amy megan stephanie jennifer lisa karen susan helen margaret "
    "elizabeth jane anne mary patricia nicole kylie melissa natalie danielle tahlia "
    "brooke jasmine madison georgia abigail alice annabelle eleanor scarlett violet"
).split()
SURNAMES = (  # noqa: SIM905 - easier to read as text
    "smith jones williams brown wilson taylor johnson white martin anderson thompson "
    "nguyen thomas walker harris lee ryan robinson kelly king davis wright evans roberts "
    "green hall wood jackson clarke patel khan lewis james phillips mitchell turner "
    "campbell murphy young scott edwards baker hughes allen stewart moore clark morris "
    "cooper ward adams collins bell parker murray king hill cook watson morgan bailey "
    "richardson cox howard cameron graham kennedy ross fraser reid hamilton hunt mills "
    "chen wang zhang liu singh sharma tran pham le kaur ali hussain rossi russo ferrari "
    "papadopoulos nikolaidis obrien oconnor mcdonald mackenzie macdonald sullivan walsh "
    "byrne gallagher doyle quinn fitzgerald burke dunn hayes barnes brooks butler "
    "carter chapman crawford daniels dawson ellis fisher fletcher ford foster gibson "
    "gordon grant gray griffiths harvey hart henderson holmes hudson jenkins knight "
    "lawrence lloyd marshall mason matthews miller newman owen palmer pearce price "
    "reynolds richards rogers russell saunders shaw simpson spencer stevens sutton "
    "tucker wallace warren webb wells west wheeler willis woods"
).split()
SUBURBS = (  # suburb, postcode, state
    ("Parramatta", "2150", "NSW"), ("Blacktown", "2148", "NSW"), ("Penrith", "2750", "NSW"),
    ("Liverpool", "2170", "NSW"), ("Bondi", "2026", "NSW"), ("Manly", "2095", "NSW"),
    ("Chatswood", "2067", "NSW"), ("Hornsby", "2077", "NSW"), ("Newtown", "2042", "NSW"),
    ("Randwick", "2031", "NSW"), ("Wollongong", "2500", "NSW"), ("Newcastle", "2300", "NSW"),
    ("Gosford", "2250", "NSW"), ("Dubbo", "2830", "NSW"), ("Wagga Wagga", "2650", "NSW"),
    ("Albury", "2640", "NSW"), ("Orange", "2800", "NSW"), ("Bathurst", "2795", "NSW"),
    ("Tamworth", "2340", "NSW"), ("Lismore", "2480", "NSW"), ("Carlton", "3053", "VIC"),
    ("Fitzroy", "3065", "VIC"), ("Richmond", "3121", "VIC"), ("St Kilda", "3182", "VIC"),
    ("Brunswick", "3056", "VIC"), ("Footscray", "3011", "VIC"), ("Geelong", "3220", "VIC"),
    ("Ballarat", "3350", "VIC"), ("Bendigo", "3550", "VIC"), ("Frankston", "3199", "VIC"),
    ("Dandenong", "3175", "VIC"), ("Box Hill", "3128", "VIC"), ("Werribee", "3030", "VIC"),
    ("Shepparton", "3630", "VIC"), ("Mildura", "3500", "VIC"), ("Toowong", "4066", "QLD"),
    ("Indooroopilly", "4068", "QLD"), ("Southport", "4215", "QLD"), ("Ipswich", "4305", "QLD"),
    ("Toowoomba", "4350", "QLD"), ("Cairns", "4870", "QLD"), ("Townsville", "4810", "QLD"),
    ("Mackay", "4740", "QLD"), ("Bundaberg", "4670", "QLD"), ("Caloundra", "4551", "QLD"),
    ("Glenelg", "5045", "SA"), ("Norwood", "5067", "SA"), ("Elizabeth", "5112", "SA"),
    ("Mount Gambier", "5290", "SA"), ("Fremantle", "6160", "WA"), ("Joondalup", "6027", "WA"),
    ("Rockingham", "6168", "WA"), ("Bunbury", "6230", "WA"), ("Subiaco", "6008", "WA"),
    ("Hobart", "7000", "TAS"), ("Launceston", "7250", "TAS"), ("Devonport", "7310", "TAS"),
    ("Braddon", "2612", "ACT"), ("Belconnen", "2617", "ACT"), ("Darwin", "0800", "NT"),
)  # fmt: skip
STREETS = (  # noqa: SIM905 - easier to read as text
    "george king queen elizabeth victoria albert william church high station railway "
    "park bridge main mill market smith wattle acacia banksia jacaranda waratah "
    "boronia grevillea eucalyptus kurrajong myrtle cedar oak elm ash pine beach ocean "
    "river lake hill ridge valley forest bay harbour anzac kitchener macquarie hume "
    "lachlan murray darling flinders cook banks phillip hunter bligh brisbane sydney"
).split()
STREET_TYPES = (
    ("Street", "St"), ("Road", "Rd"), ("Avenue", "Ave"), ("Place", "Pl"), ("Crescent", "Cres"),
    ("Drive", "Dr"), ("Court", "Ct"), ("Lane", "Ln"), ("Parade", "Pde"), ("Close", "Cl"),
)  # fmt: skip
DOMAINS = ("gmail.com", "outlook.com", "yahoo.com.au", "bigpond.com", "hotmail.com", "icloud.com")
DOB_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%Y%m%d", "%d %b %Y", "%d.%m.%Y")
KEYS = "qwertyuiopasdfghjklzxcvbnm"


def _zipf(rng, pool, n, a=1.1):
    w = 1.0 / np.arange(1, len(pool) + 1) ** a
    return rng.choice(np.array(pool, dtype=object), n, p=w / w.sum())


def typo(rng, s: str | None) -> str | None:
    """One edit: a substituted, dropped, inserted or transposed letter."""
    if not s or len(s) < 3:
        return s
    i = int(rng.integers(1, len(s) - 1))
    op = rng.integers(4)
    c = KEYS[int(rng.integers(len(KEYS)))]
    if op == 0:
        return s[:i] + c + s[i + 1 :]
    if op == 1:
        return s[:i] + s[i + 1 :]
    if op == 2:
        return s[:i] + c + s[i:]
    return s[:i] + s[i + 1] + s[i] + s[i + 2 :]


def _digit_typo(rng, s: str) -> str:
    i = int(rng.integers(len(s)))
    d = str((int(s[i]) + int(rng.integers(1, 10))) % 10)
    return s[:i] + d + s[i + 1 :]


def _mobile_formats(rng, nat: str) -> str:
    r = rng.random()
    intl = "61" + nat[1:]
    if r < 0.3:
        return f"{nat[:4]} {nat[4:7]} {nat[7:]}"
    if r < 0.5:
        return f"+61 {nat[1:4]} {nat[4:7]} {nat[7:]}"
    if r < 0.6:
        return intl
    if r < 0.7:
        return f"({nat[:4]}) {nat[4:7]}-{nat[7:]}"
    if r < 0.8:
        return "00" + intl
    return nat


def _population(rng, n: int, start: int = 0) -> pd.DataFrame:
    sub = rng.integers(len(SUBURBS), size=n)
    st = rng.integers(len(STREET_TYPES), size=n)
    dob = pd.to_datetime("1940-01-01") + pd.to_timedelta(rng.integers(0, 65 * 365, n), unit="D")
    mobiles = rng.choice(4 * 10**7, size=n, replace=False)  # 0400..0439: valid AU mobiles
    p = pd.DataFrame(
        {
            "first": _zipf(rng, GIVEN, n),
            "last": _zipf(rng, SURNAMES, n, a=0.9),
            "dob": dob,
            "number": rng.integers(1, 300, n).astype(str),
            "street": rng.choice(np.array(STREETS, dtype=object), n),
            "stype": st,
            "suburb": [SUBURBS[i][0] for i in sub],
            "postcode": [SUBURBS[i][1] for i in sub],
            "state": [SUBURBS[i][2] for i in sub],
            "mobile": [f"04{m:08d}" for m in mobiles],
            "landline": None,
            "household": -1,
        }
    )
    p["email"] = _emails(rng, p, start)
    return p


def _emails(rng, p: pd.DataFrame, start: int) -> list[str]:
    """One address per person (the number makes it unique)."""
    return [
        f"{f}.{la}{i}@{d}" if i % 3 else f"{f[0]}{la}{i}@{d}"
        for i, (f, la, d) in enumerate(
            zip(p["first"], p["last"], rng.choice(DOMAINS, len(p)), strict=True), start
        )
    ]


def _households(rng, p: pd.DataFrame, share: float, landline: bool) -> pd.DataFrame:
    """Append a family member for ``share`` of the people: same surname, address (and landline)."""
    heads = rng.choice(len(p), int(len(p) * share), replace=False)
    if not len(heads):
        return p
    other = _population(rng, len(heads))
    for col in ("last", "number", "street", "stype", "suburb", "postcode", "state"):
        other[col] = p[col].to_numpy()[heads]
    same = other["first"].to_numpy() == p["first"].to_numpy()[heads]
    other.loc[same, "first"] = [
        GIVEN[(GIVEN.index(f) + 7) % len(GIVEN)] for f in other["first"][same]
    ]
    other["email"] = _emails(rng, other, len(p))
    hid = np.arange(len(heads))
    p.loc[p.index[heads], "household"] = hid
    other["household"] = hid
    if landline:
        lines = rng.choice(10**7, len(heads), replace=False)
        area = rng.choice(["29", "39", "73", "89"], len(heads))  # valid AU fixed lines
        nums = [f"0{a}{x:07d}" for a, x in zip(area, lines, strict=True)]
        p.loc[p.index[heads], "landline"] = nums
        other["landline"] = nums
        # a third: a blank first name on the shared line, another postcode
        blank = rng.random(len(heads)) < 1 / 3
        other["blank"] = blank
        other.loc[blank, "postcode"] = [_digit_typo(rng, x) for x in other["postcode"][blank]]
    out = pd.concat([p, other], ignore_index=True)
    if "blank" in out:
        out["blank"] = out["blank"].fillna(False).astype(bool)
    return out


def generate(
    shape: str = "postal",
    people: int = 2000,
    *,
    seed: int = 0,
    max_duplicates: int = 3,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A contact list of ``shape`` and its truth (``person``, ``household`` per row)."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")
    rng = np.random.default_rng(seed)
    p = _population(rng, people)
    p = _households(rng, p, 0.2 if shape == "households" else 0.04, shape == "households")
    if "blank" not in p:
        p["blank"] = False
    n = len(p)
    # duplicates: 0-3 more rows per person (households members: their own rows only)
    k = rng.choice(np.arange(max_duplicates + 1), n, p=[0.5, 0.3, 0.15, 0.05][: max_duplicates + 1])
    k[p["household"].to_numpy() >= 0] = 0
    src = np.r_[np.arange(n), np.repeat(np.arange(n), k)]
    dup = np.r_[np.zeros(n, bool), np.ones(int(k.sum()), bool)]
    r = p.iloc[src].reset_index(drop=True)
    rows = len(r)
    first = r["first"].str.title().to_numpy(dtype=object)
    last = r["last"].map(_surname_display).to_numpy(dtype=object)
    first[r["blank"].to_numpy(bool)] = None
    stype = r["stype"].to_numpy()
    abbrev = rng.random(rows) < 0.3
    address = np.array(
        [
            f"{num} {st.title()} {STREET_TYPES[t][1 if a else 0]}"
            for num, st, t, a in zip(r["number"], r["street"], stype, abbrev, strict=True)
        ],
        dtype=object,
    )
    suburb = r["suburb"].to_numpy(dtype=object).copy()
    postcode = r["postcode"].to_numpy(dtype=object).copy()
    dob = r["dob"].to_numpy()
    dob_text = np.empty(rows, dtype=object)
    email = r["email"].to_numpy(dtype=object).copy()
    phone = np.where(r["landline"].isna(), r["mobile"], r["landline"]).astype(object)
    fmt = rng.integers(len(DOB_FORMATS), size=rows)
    dob_day_month_swap = np.zeros(rows, bool)
    dob_digit = np.zeros(rows, bool)
    # errors: one to three per duplicate row
    kinds = ("first", "last", "swap", "missing", "dob", "postcode", "address", "suburb")
    nerr = rng.choice([1, 2, 3], rows, p=[0.5, 0.35, 0.15])
    for i in np.flatnonzero(dup):
        for kind in rng.choice(kinds, nerr[i], replace=False):
            if kind == "first":
                first[i] = typo(rng, first[i])
            elif kind == "last":
                last[i] = typo(rng, last[i])
            elif kind == "swap":
                first[i], last[i] = last[i], first[i]
            elif kind == "missing":
                what = rng.integers(5)
                if what == 0:
                    first[i] = None
                elif what == 1:
                    dob_text[i] = ""
                elif what == 2:
                    address[i] = None
                elif what == 3:
                    suburb[i] = None
                else:
                    postcode[i] = None
            elif kind == "dob":
                if rng.random() < 0.4:
                    dob_day_month_swap[i] = True
                else:
                    dob_digit[i] = True
            elif kind == "postcode" and postcode[i]:
                postcode[i] = _digit_typo(rng, postcode[i])
            elif kind == "address" and address[i]:
                address[i] = typo(rng, address[i])
            elif kind == "suburb" and suburb[i]:
                suburb[i] = typo(rng, suburb[i])
    for i in range(rows):
        if dob_text[i] == "":
            dob_text[i] = None
            continue
        d = pd.Timestamp(dob[i])
        if dob_day_month_swap[i] and d.day <= 12:
            d = pd.Timestamp(year=d.year, month=d.day, day=d.month)
        text = d.strftime(DOB_FORMATS[fmt[i]])
        if dob_digit[i]:
            s = d.strftime("%Y%m%d")
            j = int(rng.choice([3, 5, 7]))  # a year, month or day units digit
            s = s[:j] + str((int(s[j]) + 1) % 10) + s[j + 1 :]
            with contextlib.suppress(ValueError):  # not a date: keep the true one
                text = pd.Timestamp(s).strftime(DOB_FORMATS[fmt[i]])
        dob_text[i] = text
    out = pd.DataFrame(
        {
            "contact_id": pd.array(np.arange(1, rows + 1), dtype="Int64"),
            "first_name": pd.Series(first, dtype="str"),
            "last_name": pd.Series(last, dtype="str"),
        }
    )
    if shape in ("postal", "mixed"):
        out["address_line_1"] = pd.Series(address, dtype="str")
        out["address_city"] = pd.Series(suburb, dtype="str")
        out["address_state"] = pd.Series(r["state"].to_numpy(dtype=object), dtype="str")
    out["address_postal_code"] = pd.Series(postcode, dtype="str")
    out["custom_1"] = pd.Series(dob_text, dtype="str")
    if shape != "postal":
        landline = r["landline"].notna().to_numpy()
        has = rng.random((2, rows))
        keep_p = (has[0] >= 0.15) if shape != "mixed" else (has[0] < 0.6)
        keep_e = (has[1] >= 0.15) if shape != "mixed" else (has[1] < 0.6)
        keep_p |= landline  # households: the shared line is what this test is about
        email_typo = dup & (rng.random(rows) < 0.05)
        email[email_typo] = [typo(rng, e) for e in email[email_typo]]
        out["phone_number"] = pd.Series(
            [_mobile_formats(rng, x) if kp else None for x, kp in zip(phone, keep_p, strict=True)],
            dtype="str",
        )
        out["email"] = pd.Series(np.where(keep_e, email, None), dtype="str")
    order = rng.permutation(rows)
    out = out.iloc[order].reset_index(drop=True)
    out["contact_id"] = pd.array(np.arange(1, rows + 1), dtype="Int64")
    truth = pd.DataFrame(
        {"person": src[order], "household": r["household"].to_numpy()[order]},
    )
    # household members are different people: their own person ids
    return out, truth


def _surname_display(s: str) -> str:
    if s.startswith("mc") or s.startswith("mac"):
        k = 2 if s.startswith("mc") else 3
        return s[:k].title() + s[k:].title()
    if s.startswith("o") and s[1:] in ("brien", "connor"):
        return "O'" + s[1:].title()
    return s.title()


def pair_metrics(cluster, person) -> dict:
    """Pairwise precision, recall and F1 of clusters against the truth's people."""

    def pairs(counts) -> int:
        counts = np.asarray(counts, dtype=np.int64)
        return int((counts * (counts - 1) // 2).sum())

    f = pd.DataFrame({"c": np.asarray(cluster), "p": np.asarray(person)})
    predicted = pairs(f.groupby("c").size())
    true = pairs(f.groupby("p").size())
    tp = pairs(f.groupby(["c", "p"]).size())
    precision = tp / predicted if predicted else 1.0
    recall = tp / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "pairs": predicted, "true": true}


def households_merged(cluster, household, flagged=None) -> tuple[int, int]:
    """(household pairs of different people in one cluster [not flagged], household pairs)."""
    f = pd.DataFrame({"c": np.asarray(cluster), "h": np.asarray(household)})
    if flagged is not None:
        f["c"] = np.where(np.asarray(flagged, bool), -1 - np.arange(len(f)), f["c"])
    f = f[f["h"] >= 0]
    total = int(f.groupby("h").size().map(lambda k: k * (k - 1) // 2).sum())
    merged = int(f.groupby(["h", "c"]).size().map(lambda k: k * (k - 1) // 2).sum())
    return merged, total
