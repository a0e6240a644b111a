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


def prepare(c: pd.DataFrame, keys: dict[str, pd.Series | None]) -> Prepared:
    """Codes per field from a cleaned frame and the dob/address/suburb keys."""
    n = len(c)
    codes, values = {}, {}
    valid_phone = c["phone_valid"].fillna(False).to_numpy(bool)
    valid_email = c["email_valid"].fillna(False).to_numpy(bool)
    # first and last names share one vocabulary, so that swapped names compare equal
    first = c["first_name_key"].to_numpy(dtype=object, na_value=None)
    last = c["last_name_key"].to_numpy(dtype=object, na_value=None)
    both, names = _codes(np.r_[first, last])
    codes["first_name"], codes["last_name"] = both[:n], both[n:]
    values["first_name"] = values["last_name"] = names
    sources = {
        "postcode": keys["postcode"] if "postcode" in keys else c["postcode_key"],
        "phone": c["phone_e164"].where(valid_phone),
        "email": c["email_match_key"].where(valid_email),
        **{k: keys.get(k) for k in ("dob", "address", "suburb")},
    }
    for name, s in sources.items():
        if s is None:
            codes[name], values[name] = np.full(n, -1, np.int64), np.empty(0, dtype=object)
        else:
            codes[name], values[name] = _codes(s.to_numpy(dtype=object, na_value=None))
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
    personal = valid_phone & c["phone_type"].isin(("mobile", "pager", "personal_number")).to_numpy(
        bool
    )
    sort = pd.factorize(c["name_key"], sort=True, use_na_sentinel=True)[0].astype(np.int64)
    return Prepared(n, codes, values, personal, sort)


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
    freq: dict[str, np.ndarray]  # per-code value frequency (term-frequency adjustment)

    def weights(self, name: str) -> np.ndarray:
        return np.log2(self.m[name] / self.u[name])

    def table(self) -> pd.DataFrame:
        """m, u and the weight of every field and level (for README/bench output)."""
        rows = []
        for name in FIELD_ORDER:
            for level, (m, u) in enumerate(zip(self.m[name], self.u[name], strict=True)):
                rows.append((name, level, m, u, np.log2(m / u)))
        return pd.DataFrame(rows, columns=["field", "level", "m", "u", "weight"])


def _random_pairs(n: int, size: int, rng) -> tuple[np.ndarray, np.ndarray]:
    total = n * (n - 1) // 2
    if total <= size:
        i, j = np.triu_indices(n, 1)
        return i.astype(np.int64), j.astype(np.int64)
    i = rng.integers(0, n, size)
    j = rng.integers(0, n - 1, size)
    j = j + (j >= i)
    return np.minimum(i, j), np.maximum(i, j)


MIN_ROWS = 1000  # a shorter list is a small sample: its values' shares are taken over this


def _share(codes: np.ndarray, size: int) -> np.ndarray:
    """Each value's share of the filled rows (over at least MIN_ROWS rows)."""
    c = codes[codes >= 0]
    return np.bincount(c, minlength=size) / max(len(c), MIN_ROWS)


def _frequencies(p: Prepared) -> dict[str, np.ndarray]:
    freq = {name: _share(p.codes[name], len(p.values[name])) for name in FIELD_ORDER}
    # names share one vocabulary (for swaps): a value's share in the column it is common in
    both = np.maximum(freq["first_name"], freq["last_name"])
    return {**freq, "first_name": both, "last_name": both}


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
    rng = np.random.default_rng(seed)
    freq = _frequencies(p)
    # 5,000-200,000 random pairs (two per row): u of the fuzzy levels; the exact level's u
    # comes from the value frequencies, which need no sample
    size = sample or int(np.clip(2 * p.n, 5_000, 200_000))
    ri, rj = _random_pairs(p.n, size, rng)
    rand = compare(p, ri, rj, name_threshold, swaps=False)["levels"] if len(ri) else {}
    u = {}
    for name, k in LEVELS.items():
        f = _share(p.codes[name], len(p.values[name]))
        exact = float((f**2).sum()) if len(f) else 0.0
        exact = min(max(exact, 1e-9), 0.5)
        if name in IDENTIFIER_U:
            exact = min(exact, IDENTIFIER_U[name])
        # seeded with U_PSEUDO pairs that mostly disagree (matters only for short lists)
        counts = np.zeros(k + 1)
        counts[0] = U_PSEUDO * (0.97 if k > 1 else 1.0)
        counts[1:k] = U_PSEUDO * 0.03 / max(k - 1, 1)
        if name in rand:
            lv = rand[name]
            lv = lv[lv >= 0]
            counts += np.bincount(lv, minlength=k + 1)[: k + 1]
        below = counts[:k] / counts[:k].sum() * (1 - exact)
        u[name] = np.r_[below, exact]
    # EM over the distinct comparison patterns of the candidates
    names = list(FIELD_ORDER)
    mat = np.stack([levels[f].astype(np.int64) + 1 for f in names], axis=1)
    code = np.zeros(len(mat), np.int64)
    for col in range(mat.shape[1]):
        code = code * 5 + mat[:, col]
    uniq, first, count = np.unique(code, return_index=True, return_counts=True)
    pat = mat[first] - 1  # patterns × fields, -1 missing
    count = count.astype(float)
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
        return Model(m, u, 1e-6, freq)
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
    all_pairs = max(p.n * (p.n - 1) / 2, 1.0)
    prior = float(np.clip(share * count.sum() / all_pairs, 1e-12, 0.5))
    return Model(m, u, prior, freq)


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


def score(
    p: Prepared,
    i: np.ndarray,
    j: np.ndarray,
    cmp: dict,
    model: Model,
    threshold: float,
) -> Links:
    lv = cmp["levels"]
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
                codes = p.codes[name][i[exact]]
                if name in ("first_name", "last_name"):
                    # swapped pairs carry the value of the other column on side i
                    other = "last_name" if name == "first_name" else "first_name"
                    codes = np.where(cmp["swapped"][exact], p.codes[other][i[exact]], codes)
                # u of this value: how often two random rows share it (common names and
                # shared landlines weigh less, rare values more)
                tf = np.maximum(model.freq[name][codes], 1.0 / max(p.n, MIN_ROWS))
                w[exact] = np.log2(model.m[name][top] / tf)
        contrib[name] = w
        weight += w
    prob = 1 / (1 + np.exp2(-np.clip(weight, -60, 60)))
    f_lv = lv["first_name"]
    # identity: something only this person has agrees (not just a household's surname,
    # address, landline and postcode)
    identity = (
        ((lv["phone"] == 1) & p.personal[i] & p.personal[j])
        | (lv["email"] >= 2)
        | (lv["dob"] >= 2)
        | (f_lv >= 1)
    )
    # and names alone never link: namesakes are common
    support = np.zeros(len(i), bool)
    for name in ("phone", "email", "dob", "address", "suburb", "postcode"):
        support |= contrib[name] > 0
    linked = (prob >= threshold) & identity & support
    conflict = np.zeros(len(i), np.int64)
    veto = list(VETOES)
    mobile = (lv["phone"] == 0) & p.personal[i] & p.personal[j]
    conflict |= mobile.astype(np.int64) << veto.index("mobile")
    # the same mobile or email: two typos (dates two digits apart, first names two slips
    # apart on the same birthday) are typos, not another person
    strong = ((lv["phone"] == 1) & p.personal[i] & p.personal[j]) | (lv["email"] == 3)
    dob = (lv["dob"] == 0) | ((lv["dob"] == 1) & ~strong)
    conflict |= dob.astype(np.int64) << veto.index("dob")
    first = (f_lv == 0) & ~(strong & (lv["dob"] >= 2))
    conflict |= first.astype(np.int64) << veto.index("first_name")
    fi, fj = p.codes["first_name"][i], p.codes["first_name"][j]
    blank = (fi < 0) != (fj < 0)
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
    return Links(i, j, weight, prob, linked, conflict, agree, lv, cmp["swapped"])


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
