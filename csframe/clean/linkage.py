"""Scored duplicate links: blocking, comparison vectors and Fellegi–Sunter weights.

The steps (see README.md, "Duplicates"):

1. ``prepare``: one integer code per row and field (first name, last name, date of birth,
   street address, suburb, postcode, valid phone, email key; -1 = missing).
2. ``candidates``: pairs of rows sharing any blocking key (phone, email, surname+postcode,
   first name+date of birth, address+suburb, ...); inside a large block only the nearest rows
   (sorted by name) are paired, so the pair count stays linear.
3. ``compare``: a comparison level per pair and field (exact / fuzzy / different / missing),
   names also compared swapped (first ↔ last).
4. ``estimate``: u (chance agreement) from random pairs and value frequencies, m (agreement
   among true duplicates) by EM over the candidates' comparison patterns, seeded with
   defaults so that small lists behave; exact agreement on a common value weighs less
   (term-frequency adjustment).
5. ``score``: match weight = prior log-odds + Σ log2(m/u); a pair links when its match
   probability reaches the threshold, something personal agrees and something besides the
   names agrees (see ``score``); it needs review when it also carries a conflict
   (``VETOES``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import process
from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein
from rapidfuzz.fuzz import ratio

# field → number of agreement levels above "different" (level 0); -1 means missing
LEVELS = {
    "first_name": 3, "last_name": 3, "dob": 3, "address": 3, "suburb": 2, "postcode": 2,
    "phone": 1, "email": 3,
}  # fmt: skip
FIELD_ORDER = tuple(LEVELS)
# label order of the fields that drove a link
LABEL_ORDER = (
    "phone",
    "email",
    "name",
    "first_name",
    "last_name",
    "dob",
    "address",
    "suburb",
    "postcode",
)
# m before EM (index = level 0..k): what true duplicates usually look like
M_DEFAULT = {
    3: np.array([0.03, 0.03, 0.09, 0.85]),
    2: np.array([0.04, 0.06, 0.90]),
    1: np.array([0.05, 0.95]),
}
PSEUDO_PAIRS = 20.0  # weight of the defaults in EM (matters only for small lists)
U_PSEUDO = 1000.0  # weight of "random pairs disagree" in u of the levels below exact
TF_FIELDS = ("first_name", "last_name", "suburb", "postcode", "address")
# Two different people rarely share a phone number or an email address. Value frequencies
# cannot show that (a person's duplicates repeat their number), so u of exact agreement on
# these is at most this (families share emails more often than mobiles), and they get no
# term-frequency adjustment.
IDENTIFIER_U = {"phone": 1e-6, "email": 1e-5}
VETOES = {
    "mobile": "different mobiles",
    "dob": "different dates of birth",
    "first_name": "different first names",
    "blank_first": "a blank first name across a different email or postcode",
}
#: blocking keys: fields that must be equal (and present) for a pair to be compared
#: (name_set: first and last name in either order; last_sound: Soundex of the surname)
BLOCKS: tuple[tuple[str, ...], ...] = (
    ("phone",), ("email",), ("name_set",), ("first_name", "dob"), ("dob", "last_sound"),
    ("dob", "postcode"), ("dob", "suburb"), ("address", "suburb"), ("address", "postcode"),
    ("last_sound", "postcode"), ("last_sound", "suburb"), ("first_name", "suburb"),
    ("first_name", "postcode"),
)  # fmt: skip
WINDOW = 20  # in a block, each row is paired with at most this many others (sorted by name)


@dataclass
class Prepared:
    """Per-row codes (-1 = missing) and the per-code values they stand for."""

    n: int
    codes: dict[str, np.ndarray]
    values: dict[str, np.ndarray]
    personal: np.ndarray  # the phone is a mobile (pager, personal number): one person's own
    sort: np.ndarray  # secondary order inside blocks (full name)
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    # per code of a TF_FIELDS field: its value's share of the whole list (computed from these
    # rows unless given: a part of a list on Dask carries the list's shares)
    share: dict[str, np.ndarray] | None = None

    def shares(self) -> dict[str, np.ndarray]:
        """Each value's share of the list, per field and code (term-frequency adjustment)."""
        if self.share is None:
            self.share = _frequencies(self)
        return self.share

    def cached(self, key: str, make) -> np.ndarray:
        """Per-value helper arrays, built once (candidate and random pairs share them)."""
        if key not in self.extra:
            self.extra[key] = make()
        return self.extra[key]


def _codes(values) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of text values (None/NaN → -1) and the value of each code."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def _soundex(words: np.ndarray) -> np.ndarray:
    """Soundex of each unique name (letter + 3 digits; simplified: equal codes merge even
    across vowels)."""
    table = str.maketrans("bfpvcgjkqsxzdtlmnr", "111122222222334556", "aeiouyhw")
    out: list[str | None] = []
    for w in words:
        w = "".join(ch for ch in str(w) if ch.isalpha())
        if not w:
            out.append(None)
            continue
        digits = w.translate(table)
        code, prev = [], w[0].translate(table)
        for d in digits[1 if w[0] in "bfpvcgjkqsxzdtlmnr" else 0 :]:
            if d != prev and d.isdigit():
                code.append(d)
            prev = d
        out.append((w[0] + "".join(code) + "000")[:4])
    return np.array(out, dtype=object)


#: the per-row match keys ``prepare`` codes (text, NA = missing; ``personal``: a mobile)
KEY_COLUMNS = (
    "first_name", "last_name", "name_key", "postcode", "phone", "email", "dob", "address",
    "suburb", "personal",
)  # fmt: skip
#: per-row share of each TF field's value in the whole list (given by the Dask engine)
SHARE_COLUMNS = tuple(f"share_{f}" for f in TF_FIELDS)


def match_keys(c: pd.DataFrame, keys: dict[str, pd.Series | None]) -> pd.DataFrame:
    """The match keys of each row (``KEY_COLUMNS``) from a cleaned frame and the
    dob/address/suburb (and postcode) keys; row by row, so it runs on any part of a list."""
    valid_phone = c["phone_valid"].fillna(False).to_numpy(bool)
    valid_email = c["email_valid"].fillna(False).to_numpy(bool)
    n = len(c)
    none = pd.Series(np.full(n, None, dtype=object), index=c.index, dtype="str")

    def text(s: pd.Series | None) -> pd.Series:
        return none if s is None else s.astype("str")

    personal = valid_phone & c["phone_type"].isin(("mobile", "pager", "personal_number")).to_numpy(
        bool
    )
    return pd.DataFrame(
        {
            "first_name": text(c["first_name_key"]),
            "last_name": text(c["last_name_key"]),
            "name_key": text(c["name_key"]),
            "postcode": text(keys["postcode"] if "postcode" in keys else c["postcode_key"]),
            "phone": text(c["phone_e164"].where(valid_phone)),
            "email": text(c["email_match_key"].where(valid_email)),
            **{k: text(keys.get(k)) for k in ("dob", "address", "suburb")},
            "personal": personal,
        },
        index=c.index,
    )


def prepare(k: pd.DataFrame) -> Prepared:
    """Codes per field from the rows' match keys (:func:`match_keys`); with
    ``SHARE_COLUMNS``, the values' shares of the whole list come from them."""
    n = len(k)
    codes, values = {}, {}
    # first and last names share one vocabulary, so that swapped names compare equal
    first = k["first_name"].to_numpy(dtype=object, na_value=None)
    last = k["last_name"].to_numpy(dtype=object, na_value=None)
    both, names = _codes(np.r_[first, last])
    codes["first_name"], codes["last_name"] = both[:n], both[n:]
    values["first_name"] = values["last_name"] = names
    for name in ("postcode", "phone", "email", "dob", "address", "suburb"):
        codes[name], values[name] = _codes(k[name].to_numpy(dtype=object, na_value=None))
    sc = np.full(n, -1, np.int64)
    has = codes["last_name"] >= 0
    if has.any():  # Soundex of the surnames only
        used, inv = np.unique(codes["last_name"][has], return_inverse=True)
        s_codes, _ = pd.factorize(_soundex(names[used]), use_na_sentinel=True)
        sc[has] = s_codes[inv]
    codes["last_sound"] = sc
    # first and last name in either order (finds swapped names)
    lo = np.minimum(codes["first_name"], codes["last_name"])
    hi = np.maximum(codes["first_name"], codes["last_name"])
    codes["name_set"] = np.where(lo >= 0, lo * (len(names) + 1) + hi, -1)
    personal = k["personal"].to_numpy(bool)
    sort = (
        pd.factorize(k["name_key"], sort=True, use_na_sentinel=True)[0].astype(np.int64)
        if "name_key" in k.columns
        else np.zeros(n, np.int64)  # pairs only (no blocking)
    )
    p = Prepared(n, codes, values, personal, sort)
    if SHARE_COLUMNS[0] in k.columns:  # a part of a list: the list's shares, by code
        share = {}
        for name in TF_FIELDS:
            size = len(values[name])
            share[name] = np.zeros(size)
            sides = ("first_name", "last_name") if name in ("first_name", "last_name") else (name,)
            for side in sides:  # a name's share is the same in either column
                given = k[f"share_{side}"].to_numpy(float)
                ok = (codes[side] >= 0) & ~np.isnan(given)  # rows without it: other rows'
                share[name][codes[side][ok]] = given[ok]
        p.share = share
    return p


# ----------------------------------------------------------------------------- blocking


def _block_code(p: Prepared, fields: tuple[str, ...]) -> np.ndarray:
    code = np.zeros(p.n, np.int64)
    missing = np.zeros(p.n, bool)
    for f in fields:
        c = p.codes[f]
        missing |= c < 0
        code = code * (int(c.max()) + 2 if len(c) else 1) + c
    code[missing] = -1
    return code


def _window_pairs(code: np.ndarray, sort: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of rows with one block code: each row with up to ``window`` following rows
    (rows ordered by ``sort`` inside the block)."""
    idx = np.flatnonzero(code >= 0)
    if len(idx) < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    order = idx[np.lexsort((sort[idx], code[idx]))]
    g = code[order]
    new = np.r_[True, g[1:] != g[:-1]]
    start = np.flatnonzero(new)
    end = np.r_[start[1:], len(g)]
    group_end = np.repeat(end, end - start)
    k = np.arange(len(g))
    count = np.minimum(group_end - k - 1, window)
    total = int(count.sum())
    if not total:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    left = np.repeat(k, count)
    offset = np.arange(total) - np.repeat(np.cumsum(count) - count, count) + 1
    return order[left], order[left + offset]


def candidates(p: Prepared, blocks=BLOCKS, window: int = WINDOW) -> tuple[np.ndarray, np.ndarray]:
    """Distinct pairs (i < j) of rows sharing at least one blocking key."""
    keys = []
    for fields in blocks:
        i, j = _window_pairs(_block_code(p, fields), p.sort, window)
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        keys.append(lo * p.n + hi)
    if not keys:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    key = np.unique(np.concatenate(keys))
    return key // max(p.n, 1), key % max(p.n, 1)


# ----------------------------------------------------------------------------- comparing


def _sim(values: np.ndarray, a: np.ndarray, b: np.ndarray, scorer, **kw) -> np.ndarray:
    """Similarity of values[a] and values[b] for code pairs (both ≥ 0)."""
    if not len(a):
        return np.zeros(0)
    # compare each distinct pair of values once
    key = a * (len(values) + 1) + b
    uk, inv = np.unique(key, return_inverse=True)
    ua, ub = uk // (len(values) + 1), uk % (len(values) + 1)
    workers = -1 if len(ua) > 50_000 else 1  # threads cost more than they save on little work
    s = process.cpdist(list(values[ua]), list(values[ub]), scorer=scorer, workers=workers, **kw)
    return np.asarray(s, dtype=float)[inv]


def _string_levels(
    values, a, b, cuts: tuple[float, ...], scorer=JaroWinkler.normalized_similarity, typo=False
):
    """Levels from a similarity: len(cuts)+1 for equal, then one per cut met, 0 otherwise."""
    lvl = np.full(len(a), -1, np.int8)
    both = (a >= 0) & (b >= 0)
    eq = both & (a == b)
    lvl[both] = 0
    lvl[eq] = len(cuts) + 1
    fuzzy = np.flatnonzero(both & ~eq)
    if len(fuzzy):
        s = _sim(values, a[fuzzy], b[fuzzy], scorer)
        sub = np.zeros(len(fuzzy), np.int8)
        for k, cut in enumerate(sorted(cuts)):
            sub[s >= cut] = k + 1
        if typo:  # typing slips ("Jack"/"Jfck", "Hunetr"/"Hinter") are at least the lowest level
            low = np.flatnonzero(sub == 0)
            if len(low):
                ia, ib = a[fuzzy[low]], b[fuzzy[low]]
                d = _sim(values, ia, ib, OSA.distance)
                lens = np.array([len(v) for v in values])
                short = np.minimum(lens[ia], lens[ib])
                sub[low[(d <= 1) | ((d <= 2) & (short >= 5))]] = 1
        lvl[fuzzy] = sub
    return lvl


def _chars(values: np.ndarray, width: int) -> np.ndarray:
    """Fixed-width byte matrix of short ASCII strings (for digit-by-digit comparisons)."""
    if not len(values):
        return np.zeros((0, width), np.uint8)
    arr = np.array([str(v)[:width].ljust(width) for v in values], dtype=f"S{width}")
    return arr.view(np.uint8).reshape(len(values), width)


def _dob_levels(p: Prepared, i, j) -> np.ndarray:
    return dob_code_levels(p, p.codes["dob"][i], p.codes["dob"][j])


def dob_code_levels(p: Prepared, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Date-of-birth levels of pairs of dob codes (-1 missing, 0 different ... 3 equal)."""
    lvl = np.full(len(a), -1, np.int8)
    both = (a >= 0) & (b >= 0)
    lvl[both] = 0
    eq = both & (a == b)
    lvl[eq] = 3
    rest = np.flatnonzero(both & ~eq)
    if len(rest):
        ch = p.cached("dob_chars", lambda: _chars(p.values["dob"], 8))
        x, y = ch[a[rest]], ch[b[rest]]
        diff = (x != y).sum(axis=1)
        swapped = (
            (x[:, :4] == y[:, :4]).all(axis=1)
            & (x[:, 4:6] == y[:, 6:8]).all(axis=1)
            & (x[:, 6:8] == y[:, 4:6]).all(axis=1)
        )
        sub = np.where((diff <= 1) | swapped, 2, np.where(diff == 2, 1, 0))
        lvl[rest] = sub
    return lvl


def _postcode_levels(p: Prepared, i, j) -> np.ndarray:
    a, b = p.codes["postcode"][i], p.codes["postcode"][j]
    lvl = np.full(len(i), -1, np.int8)
    both = (a >= 0) & (b >= 0)
    lvl[both] = 0
    lvl[both & (a == b)] = 2
    rest = np.flatnonzero(both & (a != b))
    if len(rest):
        vals = p.values["postcode"]
        lens = p.cached("postcode_len", lambda: np.array([len(str(v)) for v in vals]))
        ch = p.cached("postcode_chars", lambda: _chars(vals, 10))
        same_len = lens[a[rest]] == lens[b[rest]]
        diff = (ch[a[rest]] != ch[b[rest]]).sum(axis=1)
        lvl[rest] = np.where(same_len & (diff == 1), 1, 0)
    return lvl


def _address_levels(p: Prepared, i, j) -> np.ndarray:
    a, b = p.codes["address"][i], p.codes["address"][j]
    lvl = _string_levels(p.values["address"], a, b, (75, 90), scorer=ratio)
    # a different house number is a different address, however alike the street
    fuzzy = np.flatnonzero((lvl > 0) & (lvl < 3))
    if len(fuzzy):
        h = p.cached(
            "house",
            lambda: pc.struct_field(
                pc.extract_regex(pa.array(p.values["address"], pa.string()), r"(?P<n>\d+)"), [0]
            ).to_numpy(zero_copy_only=False),
        )
        ha, hb = h[a[fuzzy]], h[b[fuzzy]]
        differ = np.array(
            [x is not None and y is not None and x != y for x, y in zip(ha, hb, strict=True)]
        )
        lvl[fuzzy[differ]] = 0
    return lvl


def _email_levels(p: Prepared, i, j) -> np.ndarray:
    a, b = p.codes["email"][i], p.codes["email"][j]
    lvl = np.full(len(i), -1, np.int8)
    both = (a >= 0) & (b >= 0)
    lvl[both] = 0
    lvl[both & (a == b)] = 3
    rest = np.flatnonzero(both & (a != b))
    if len(rest):
        vals = p.values["email"]
        d = _sim(vals, a[rest], b[rest], Levenshtein.distance)
        local = p.cached(
            "email_local", lambda: np.array([str(v).rsplit("@", 1)[0] for v in vals], dtype=object)
        )
        same_local = local[a[rest]] == local[b[rest]]
        lvl[rest] = np.where(d <= 2, 2, np.where(same_local, 1, 0))
    return lvl


def _name_cuts(name_threshold: float) -> tuple[float, float]:
    weak = float(name_threshold) / 100
    return (weak, max(weak, 0.94))


def compare(
    p: Prepared, i: np.ndarray, j: np.ndarray, name_threshold: float = 88, *, swaps: bool = True
) -> dict:
    """Comparison levels per field for pairs (i, j), and which pairs had swapped names
    (``swaps=False``: names compared straight only, as for random pairs)."""
    cuts = _name_cuts(name_threshold)
    fi, fj = p.codes["first_name"][i], p.codes["first_name"][j]
    li, lj = p.codes["last_name"][i], p.codes["last_name"][j]
    names = p.values["first_name"]
    first = _string_levels(names, fi, fj, cuts, typo=True)
    last = _string_levels(names, li, lj, cuts, typo=True)
    # first/last swapped on one side: compare crosswise where that fits better
    swapped = np.zeros(len(i), bool)
    cand = np.flatnonzero(
        swaps & (fi >= 0) & (fj >= 0) & (li >= 0) & (lj >= 0) & ((first < 3) | (last < 3))
    )
    if len(cand):
        xf = _string_levels(names, fi[cand], lj[cand], cuts, typo=True)
        xl = _string_levels(names, li[cand], fj[cand], cuts, typo=True)
        better = (
            (xf.astype(int) + xl > first[cand].astype(int) + last[cand]) & (xf >= 1) & (xl >= 1)
        )
        swapped[cand[better]] = True
        first[cand[better]], last[cand[better]] = xf[better], xl[better]
    # one name only, in the other column than the other row's ("Collins" as a first name)
    for lone, lone_other, full_other, here, there in (
        (fi, li, lj, first, last),  # i has a first name only: its surname?
        (fj, lj, li, first, last),
        (li, fi, fj, last, first),  # i has a last name only: its first name?
        (lj, fj, fi, last, first),
    ):
        one = np.flatnonzero(
            swaps & (lone >= 0) & (lone_other < 0) & (full_other >= 0) & (here <= 0)
        )
        if len(one):
            x = _string_levels(names, lone[one], full_other[one], cuts, typo=True)
            fit = one[x >= 2]
            swapped[fit] = True
            here[fit], there[fit] = -1, x[x >= 2]
    lv = {
        "first_name": first,
        "last_name": last,
        "dob": _dob_levels(p, i, j),
        "address": _address_levels(p, i, j),
        "suburb": _string_levels(
            p.values["suburb"], p.codes["suburb"][i], p.codes["suburb"][j], (0.9,)
        ),
        "postcode": _postcode_levels(p, i, j),
        "phone": _string_levels(p.values["phone"], p.codes["phone"][i], p.codes["phone"][j], ()),
        "email": _email_levels(p, i, j),
    }
    return {"levels": lv, "swapped": swapped}


# ----------------------------------------------------------------------------- estimating


@dataclass
class Model:
    """Fellegi–Sunter parameters for one list: m and u per field and level, the prior."""

    m: dict[str, np.ndarray]
    u: dict[str, np.ndarray]
    prior: float  # share of true duplicates among the candidate pairs
    rows: int  # rows of the list (floor of the term-frequency adjustment)

    def weights(self, name: str) -> np.ndarray:
        return np.log2(self.m[name] / self.u[name])

    def table(self) -> pd.DataFrame:
        """m, u and the weight of every field and level (for README/bench output)."""
        rows = []
        for name in FIELD_ORDER:
            for level, (m, u) in enumerate(zip(self.m[name], self.u[name], strict=True)):
                rows.append((name, level, m, u, np.log2(m / u)))
        return pd.DataFrame(rows, columns=["field", "level", "m", "u", "weight"])


def random_pairs(n: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The random pairs (row positions) that measure chance agreement: ``size`` drawn with
    ``seed`` (all pairs when there are no more)."""
    rng = np.random.default_rng(seed)
    total = n * (n - 1) // 2
    if total <= size:
        i, j = np.triu_indices(n, 1)
        return i.astype(np.int64), j.astype(np.int64)
    i = rng.integers(0, n, size)
    j = rng.integers(0, n - 1, size)
    j = j + (j >= i)
    return np.minimum(i, j), np.maximum(i, j)


def random_sample_size(n: int, sample: int | None = None) -> int:
    """How many random pairs a list of ``n`` rows draws: two per row, 5,000-200,000."""
    return sample or int(np.clip(2 * n, 5_000, 200_000))


MIN_ROWS = 1000  # a shorter list is a small sample: its values' shares are taken over this


def _share(codes: np.ndarray, size: int) -> np.ndarray:
    """Each value's share of the filled rows (over at least MIN_ROWS rows)."""
    c = codes[codes >= 0]
    return np.bincount(c, minlength=size) / max(len(c), MIN_ROWS)


def _frequencies(p: Prepared) -> dict[str, np.ndarray]:
    freq = {name: _share(p.codes[name], len(p.values[name])) for name in TF_FIELDS}
    # names share one vocabulary (for swaps): a value's share in the column it is common in
    both = np.maximum(freq["first_name"], freq["last_name"])
    return {**freq, "first_name": both, "last_name": both}


def value_counts(p: Prepared) -> dict[str, tuple[int, int]]:
    """Per field: (Σ count² over its values, filled rows): how often two rows agree by
    chance, in whole numbers so that parts of a list add up to the same answer."""
    out = {}
    for name in FIELD_ORDER:
        c = p.codes[name]
        c = c[c >= 0]
        counts = np.bincount(c, minlength=len(p.values[name])).astype(np.int64)
        out[name] = (int((counts * counts).sum()), len(c))
    return out


def u_probabilities(
    counts: dict[str, tuple[int, int]], rand: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """u per field and level: exact agreement Σ p_v² from the value counts (``counts``:
    :func:`value_counts`), the levels below from the random pairs' levels ``rand``."""
    u = {}
    for name, k in LEVELS.items():
        square, filled = counts[name]
        # Σ (count / rows)², rounded once (Python integers divide exactly)
        exact = square / max(filled, MIN_ROWS) ** 2 if filled else 0.0
        exact = min(max(exact, 1e-9), 0.5)
        if name in IDENTIFIER_U:
            exact = min(exact, IDENTIFIER_U[name])
        # seeded with U_PSEUDO pairs that mostly disagree (matters only for short lists)
        level_counts = np.zeros(k + 1)
        level_counts[0] = U_PSEUDO * (0.97 if k > 1 else 1.0)
        level_counts[1:k] = U_PSEUDO * 0.03 / max(k - 1, 1)
        if name in rand:
            lv = rand[name]
            lv = lv[lv >= 0]
            level_counts += np.bincount(lv, minlength=k + 1)[: k + 1]
        below = level_counts[:k] / level_counts[:k].sum() * (1 - exact)
        u[name] = np.r_[below, exact]
    return u


def pattern_codes(levels: dict[str, np.ndarray]) -> np.ndarray:
    """One integer per pair for its comparison pattern (levels of every field, base 5)."""
    n = len(levels[FIELD_ORDER[0]])
    code = np.zeros(n, np.int64)
    for f in FIELD_ORDER:
        code = code * 5 + (levels[f].astype(np.int64) + 1)
    return code


def patterns(levels: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct comparison patterns (sorted codes) of pairs and how many pairs have each."""
    uniq, count = np.unique(pattern_codes(levels), return_counts=True)
    return uniq, count.astype(np.int64)


def _decode(uniq: np.ndarray) -> np.ndarray:
    """Patterns × fields levels (-1 missing) of pattern codes."""
    pat = np.zeros((len(uniq), len(FIELD_ORDER)), np.int64)
    rest = uniq.astype(np.int64)
    for col in range(len(FIELD_ORDER) - 1, -1, -1):
        pat[:, col] = rest % 5 - 1
        rest = rest // 5
    return pat


def em(
    uniq: np.ndarray, counts: np.ndarray, rows: int, iterations: int = 30
) -> tuple[dict[str, np.ndarray], float]:
    """m per field and level and the prior, by EM over the candidates' distinct comparison
    patterns (:func:`patterns`: sorted codes and their pair counts) of a list of ``rows``."""
    names = list(FIELD_ORDER)
    pat = _decode(uniq)  # patterns × fields, -1 missing
    count = np.asarray(counts).astype(float)
    # Both classes are re-estimated on the candidates (their non-matches agree far more
    # often than random pairs: they were blocked on shared values); only m is kept, and
    # the weights use u from random pairs with the prior over all pairs.
    m = {f: M_DEFAULT[LEVELS[f]].copy() for f in names}
    uc = {}
    for col, f in enumerate(names):
        lv = pat[:, col]
        ok = lv >= 0
        marg = np.bincount(lv[ok], weights=count[ok], minlength=LEVELS[f] + 1) + 1.0
        uc[f] = marg / marg.sum()
    share = 0.1
    if not len(pat):
        return m, 1e-6
    last = None
    for _ in range(iterations):
        llr = np.zeros(len(pat))
        for col, f in enumerate(names):
            lv = pat[:, col]
            ok = lv >= 0
            llr[ok] += np.log(m[f][lv[ok]]) - np.log(uc[f][lv[ok]])
        logit = np.log(share / (1 - share)) + llr
        resp = 1 / (1 + np.exp(-np.clip(logit, -50, 50)))
        if last is not None and np.abs(resp - last).max() < 1e-5:
            break  # converged
        last = resp
        w, wn = resp * count, (1 - resp) * count
        share = float(
            np.clip((w.sum() + PSEUDO_PAIRS / 2) / (count.sum() + PSEUDO_PAIRS), 1e-6, 0.999)
        )
        for col, f in enumerate(names):
            lv = pat[:, col]
            ok = lv >= 0
            k = LEVELS[f]
            num = np.bincount(lv[ok], weights=w[ok], minlength=k + 1)[: k + 1]
            m[f] = np.clip(
                (num + PSEUDO_PAIRS * M_DEFAULT[k]) / (num.sum() + PSEUDO_PAIRS), 1e-6, 1
            )
            den = np.bincount(lv[ok], weights=wn[ok], minlength=k + 1)[: k + 1] + 1.0
            uc[f] = den / den.sum()
    # prior: the expected duplicates among all pairs of the list
    all_pairs = max(rows * (rows - 1) / 2, 1.0)
    return m, float(np.clip(share * count.sum() / all_pairs, 1e-12, 0.5))


def estimate(
    p: Prepared,
    levels: dict[str, np.ndarray],
    name_threshold: float = 88,
    *,
    sample: int | None = None,
    iterations: int = 30,
    seed: int = 0,
) -> Model:
    """u from random pairs (exact level: Σ p_v² from value frequencies), m by EM."""
    # 5,000-200,000 random pairs (two per row): u of the fuzzy levels; the exact level's u
    # comes from the value frequencies, which need no sample
    ri, rj = random_pairs(p.n, random_sample_size(p.n, sample), seed)
    rand = compare(p, ri, rj, name_threshold, swaps=False)["levels"] if len(ri) else {}
    u = u_probabilities(value_counts(p), rand)
    m, prior = em(*patterns(levels), p.n, iterations)
    return Model(m, u, prior, p.n)


# ----------------------------------------------------------------------------- scoring


@dataclass
class Links:
    """Scored candidate pairs (row positions i < j)."""

    i: np.ndarray
    j: np.ndarray
    weight: np.ndarray  # match weight (log2 odds)
    probability: np.ndarray
    linked: np.ndarray  # bool
    conflict: np.ndarray  # int: bit k set = VETOES key k
    agree: np.ndarray  # int: bit per LABEL_ORDER field that drove the link
    levels: dict[str, np.ndarray]
    swapped: np.ndarray


def features(p: Prepared, i: np.ndarray, j: np.ndarray, cmp: dict) -> dict:
    """What scoring needs of pairs (i, j) besides their levels: both phones personal, one
    first name blank, and for exact agreement on a TF field the value's share of the list
    (NaN otherwise). Scoring needs no rows after this (the Dask engine keeps only these)."""
    lv = cmp["levels"]
    share = {}
    for name in TF_FIELDS:
        s = np.full(len(i), np.nan)
        exact = np.flatnonzero(lv[name] == LEVELS[name])
        if len(exact):
            codes = p.codes[name][i[exact]]
            if name in ("first_name", "last_name"):
                # swapped pairs carry the value of the other column on side i
                other = "last_name" if name == "first_name" else "first_name"
                codes = np.where(cmp["swapped"][exact], p.codes[other][i[exact]], codes)
            s[exact] = p.shares()[name][codes]
        share[name] = s
    fi, fj = p.codes["first_name"][i], p.codes["first_name"][j]
    return {
        "levels": lv,
        "swapped": cmp["swapped"],
        "personal": p.personal[i] & p.personal[j],
        "blank_first": (fi < 0) != (fj < 0),
        "share": share,
    }


def score(
    p: Prepared,
    i: np.ndarray,
    j: np.ndarray,
    cmp: dict,
    model: Model,
    threshold: float,
) -> Links:
    """Match weights, links and conflicts of pairs (i, j) of ``p``."""
    return score_features(i, j, features(p, i, j, cmp), model, threshold)


def score_features(
    i: np.ndarray, j: np.ndarray, feat: dict, model: Model, threshold: float
) -> Links:
    """:func:`score` from the pairs' :func:`features`."""
    lv = feat["levels"]
    personal = feat["personal"]
    weight = np.full(len(i), np.log2(model.prior / (1 - model.prior)))
    contrib = {}
    for name in FIELD_ORDER:
        lvl = lv[name]
        w = np.zeros(len(i))
        ok = lvl >= 0
        w[ok] = model.weights(name)[lvl[ok]]
        if name in TF_FIELDS:
            top = LEVELS[name]
            exact = np.flatnonzero(lvl == top)
            if len(exact):
                # u of this value: how often two random rows share it (common names and
                # shared landlines weigh less, rare values more)
                tf = np.maximum(feat["share"][name][exact], 1.0 / max(model.rows, MIN_ROWS))
                w[exact] = np.log2(model.m[name][top] / tf)
        contrib[name] = w
        weight += w
    prob = 1 / (1 + np.exp2(-np.clip(weight, -60, 60)))
    f_lv = lv["first_name"]
    # identity: something only this person has agrees (not just a household's surname,
    # address, landline and postcode)
    identity = ((lv["phone"] == 1) & personal) | (lv["email"] >= 2) | (lv["dob"] >= 2) | (f_lv >= 1)
    # and names alone never link: namesakes are common
    support = np.zeros(len(i), bool)
    for name in ("phone", "email", "dob", "address", "suburb", "postcode"):
        support |= contrib[name] > 0
    linked = (prob >= threshold) & identity & support
    conflict = np.zeros(len(i), np.int64)
    veto = list(VETOES)
    mobile = (lv["phone"] == 0) & personal
    conflict |= mobile.astype(np.int64) << veto.index("mobile")
    # the same mobile or email: two typos (dates two digits apart, first names two slips
    # apart on the same birthday) are typos, not another person
    strong = ((lv["phone"] == 1) & personal) | (lv["email"] == 3)
    dob = (lv["dob"] == 0) | ((lv["dob"] == 1) & ~strong)
    conflict |= dob.astype(np.int64) << veto.index("dob")
    first = (f_lv == 0) & ~(strong & (lv["dob"] >= 2))
    conflict |= first.astype(np.int64) << veto.index("first_name")
    blank = feat["blank_first"].copy()
    blank &= (lv["email"] >= 0) & (lv["email"] <= 1) | (lv["postcode"] == 0)
    conflict |= blank.astype(np.int64) << veto.index("blank_first")
    # which fields drove it: those with a positive contribution
    agree = np.zeros(len(i), np.int64)
    pos = {k: contrib[k] > 0 for k in FIELD_ORDER}
    flags = {
        "phone": pos["phone"],
        "email": pos["email"],
        "name": pos["first_name"] & pos["last_name"],
        "first_name": pos["first_name"] & ~pos["last_name"],
        "last_name": pos["last_name"] & ~pos["first_name"],
        "dob": pos["dob"],
        "address": pos["address"],
        "suburb": pos["suburb"],
        "postcode": pos["postcode"],
    }
    for bit, name in enumerate(LABEL_ORDER):
        agree |= flags[name].astype(np.int64) << bit
    return Links(i, j, weight, prob, linked, conflict, agree, lv, feat["swapped"])


def labels(agree: np.ndarray, swapped: np.ndarray | None = None) -> np.ndarray:
    """Readable rule per pair: the agreeing fields joined with '+', e.g. name+dob+postcode."""
    key = agree * 2 + (swapped.astype(np.int64) if swapped is not None else 0)
    uniq, inv = np.unique(key, return_inverse=True)
    text = []
    for k in uniq.tolist():
        parts = [name for bit, name in enumerate(LABEL_ORDER) if (k >> 1) >> bit & 1]
        if k & 1:
            parts = [("name(swapped)" if x == "name" else x) for x in parts]
        text.append("+".join(parts) or "weak")
    return np.array(text, dtype=object)[inv] if len(key) else np.empty(0, dtype=object)


def conflict_text(p: Prepared, i: np.ndarray, j: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """The veto reasons of pairs (i, j) with the values that conflict, joined with '; '.

    e.g. ``different mobiles +61400111222 / +61400999888`` (one string per pair; run on the
    few conflicting pairs only)."""
    names = list(VETOES)

    def value(field: str, row: int) -> str:
        code = p.codes[field][row]
        v = p.values[field][code] if code >= 0 else "-"
        return f"{v[:4]}-{v[4:6]}-{v[6:]}" if field == "dob" and code >= 0 else str(v)

    shown = {"mobile": "phone", "dob": "dob", "first_name": "first_name"}
    out = []
    for a, b, bit in zip(i.tolist(), j.tolist(), bits.tolist(), strict=True):
        parts = []
        for k, name in enumerate(names):
            if bit >> k & 1:
                text = VETOES[name]
                if name in shown:
                    text += f" {value(shown[name], a)} / {value(shown[name], b)}"
                parts.append(text)
        out.append("; ".join(parts))
    return np.array(out, dtype=object)
