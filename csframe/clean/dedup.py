"""duplicates(): explainable duplicate clusters (union-find over rule links) and survivors."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process

from csframe.clean._common import CleanInputError
from csframe.clean.contacts import ensure_clean

RULES = ("phone", "email", "name")
RULE_LABELS = ("phone", "phone+name", "email", "name+postcode")
# numbers that belong to one person; any other type (fixed line, VoIP, toll free, US
# fixed-line-or-mobile, ...) may be shared by a household or office and links rows only
# when their first names agree
PERSONAL_TYPES = frozenset({"mobile", "pager", "personal_number"})
CLUSTER_COLUMNS = ("cluster_id", "cluster_size", "rule", "needs_review", "survivor")


def _star(group_codes: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges linking every row of a group to the group's first row."""
    if not len(pos):
        return np.empty(0, np.int64), np.empty(0, np.int64)
    order = np.argsort(group_codes, kind="stable")
    g, p = group_codes[order], pos[order]
    starts = np.r_[True, g[1:] != g[:-1]]
    hub = p[np.maximum.accumulate(np.where(starts, np.arange(len(p)), 0))]
    keep = ~starts
    return hub[keep], p[keep]


def _components(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Connected components (union-find by min-label hooking + pointer jumping).

    Returns each row's root: the smallest row position in its component.
    """
    parent = np.arange(n, dtype=np.int64)
    if not len(u):
        return parent
    while True:
        pu, pv = parent[u], parent[v]
        if (pu == pv).all():
            return parent
        lo, hi = np.minimum(pu, pv), np.maximum(pu, pv)
        np.minimum.at(parent, hi, lo)
        while True:
            nxt = parent[parent]
            if (nxt == parent).all():
                break
            parent = nxt


def _similar(a: np.ndarray, b: np.ndarray, threshold: float, same=None) -> np.ndarray:
    """Pairwise name similarity ≥ threshold (rapidfuzz ratio, 0-100)."""
    if not len(a):
        return np.zeros(0, bool)
    same = (a == b) if same is None else same
    out = same.copy()
    idx = np.flatnonzero(~same)
    if len(idx):
        scores = process.cpdist(
            list(a[idx]), list(b[idx]), scorer=fuzz.ratio, score_cutoff=threshold, workers=-1
        )
        out[idx] = scores >= threshold
    return out


def _pairs_within(block: np.ndarray, pos: np.ndarray, left_mask: np.ndarray | None = None):
    """All pairs (i < j by position) of rows sharing a block code; optionally i restricted."""
    left = pd.DataFrame({"b": block, "i": pos})
    if left_mask is not None:
        left = left[left_mask]
    right = pd.DataFrame({"b": block, "j": pos})
    m = left.merge(right, on="b")
    m = m[m["i"] != m["j"]]
    i, j = m["i"].to_numpy(), m["j"].to_numpy()
    return np.minimum(i, j), np.maximum(i, j)


def _obj(s: pd.Series) -> np.ndarray:
    return s.to_numpy(dtype=object, na_value=None)


def duplicates(
    df: pd.DataFrame,
    rules=RULES,
    *,
    default_region: str | None = None,
    mapping: dict[str, str] | None = None,
    name_threshold: float = 88,
    keep: str | Callable = "most_complete",
) -> pd.DataFrame:
    """Find duplicate contacts and explain why rows were linked.

    Rules (``rules=``, any subset of ``("phone", "email", "name")``):

    - ``phone``: same valid E.164 number. Mobiles (and pagers/personal numbers) link on the
      number alone (rule ``"phone"``); numbers that a household or office may share (fixed
      lines, VoIP, toll-free, US/CA fixed-line-or-mobile) link only rows whose first names
      agree (rule ``"phone+name"``), so a family on one landline stays separate. A row with
      no first name joins such a number only when the others on it all have one first name.
    - ``email``: same ``email_match_key`` (gmail dots/+tags folded).
    - ``name``: fuzzy full-name match (rapidfuzz ratio ≥ ``name_threshold``) within a block
      of the same postcode and last-name initial (rule ``"name+postcode"``); vetoed when both
      rows have valid phones that differ or email keys that differ.

    Clusters are the connected components of these links (union-find). A cluster that ends
    up holding two different valid phones AND two different email keys (a chain A~B~C) is
    flagged ``needs_review`` and is not merged by :func:`dedupe` without a decision.

    Parameters
    ----------
    df : a contacts frame, cleaned (:func:`contacts`) or raw (it is cleaned first with
        ``default_region``/``mapping``).
    keep : survivorship policy, as in :func:`dedupe`, used for the ``survivor`` flag.

    Returns
    -------
    The cleaned frame (same index and order) plus ``cluster_id`` (Int64; every row has one,
    numbered 1.. by first appearance), ``cluster_size`` (Int64), ``rule`` (category: the
    strongest rule that linked the row — ``phone``, ``email``, ``phone+name``,
    ``name+postcode`` — NA for a row alone), ``needs_review`` (boolean) and ``survivor``
    (boolean: the row :func:`dedupe` keeps; every row of a cluster needing review is True).

    Example
    -------
    >>> import pandas as pd
    >>> from csframe import clean
    >>> df = pd.DataFrame({"contact_id": [1, 2, 3],
    ...                    "phone_number": ["0412 345 678", "+61412345678", "0400 000 001"],
    ...                    "first_name": ["Ann", "Anne", "Bob"]})
    >>> d = clean.duplicates(df, default_region="AU")
    >>> d["cluster_id"].tolist(), d["rule"].tolist(), d["survivor"].tolist()
    ([1, 1, 2], ['phone', 'phone', nan], [True, False, True])
    """
    rules = (rules,) if isinstance(rules, str) else tuple(rules)
    unknown = set(rules) - set(RULES)
    if unknown:
        raise CleanInputError(
            f"duplicates(rules=...): unknown rule(s) {sorted(unknown)}; known rules: {RULES}"
        )
    if not 0 <= float(name_threshold) <= 100:
        raise CleanInputError(f"duplicates(name_threshold={name_threshold!r}): must be 0-100")
    c = ensure_clean(df, default_region, mapping=mapping, func="duplicates")
    c = c.drop(columns=[k for k in CLUSTER_COLUMNS if k in c.columns])
    n = len(c)
    pos = np.arange(n, dtype=np.int64)
    edges: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {k: [] for k in RULE_LABELS}

    pcode = _col_codes(c["phone_e164"])
    pvalid = c["phone_valid"].fillna(False).to_numpy(bool) & (pcode >= 0)
    pcode[~pvalid] = -1
    ecode = _col_codes(c["email_match_key"])
    evalid = c["email_valid"].fillna(False).to_numpy(bool) & (ecode >= 0)
    ecode[~evalid] = -1
    fcode = _col_codes(c["first_name_key"])
    ncode = _col_codes(c["name_key"])
    names_ = _obj(c["name_key"])

    if "phone" in rules and pvalid.any():
        personal = pvalid & c["phone_type"].isin(PERSONAL_TYPES).to_numpy(bool)
        edges["phone"].append(_star(pcode[personal], pos[personal]))
        shared = pvalid & ~personal
        # compare full names (the shared surname keeps "Mary Lee"/"Mark Lee" apart but lets
        # "Jon Lee"/"John Lee" through); rows without a first name count as blank
        full = np.where(fcode >= 0, ncode, -1)
        edges["phone+name"].extend(
            _shared_line_edges(pcode, full, names_, pos[shared], name_threshold)
        )
    if "email" in rules and evalid.any():
        edges["email"].append(_star(ecode[evalid], pos[evalid]))
    if "name" in rules:
        edges["name+postcode"].append(
            _name_edges(c, fcode, ncode, names_, pcode, ecode, name_threshold)
        )

    us, vs, touched = [], [], {}
    for label in RULE_LABELS:
        parts = [p for p in edges[label] if len(p[0])]
        u = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, np.int64)
        v = np.concatenate([p[1] for p in parts]) if parts else np.empty(0, np.int64)
        t = np.zeros(n, bool)
        t[u] = True
        t[v] = True
        touched[label] = t
        us.append(u)
        vs.append(v)
    root = _components(n, np.concatenate(us), np.concatenate(vs))
    codes, _ = pd.factorize(root)
    size = np.bincount(codes, minlength=codes.max() + 1 if n else 0)[codes] if n else codes
    rule = np.full(n, None, dtype=object)
    for label in reversed(RULE_LABELS):
        rule[touched[label]] = label
    rule[size == 1] = None

    review = _needs_review(codes, size, pcode, ecode)
    score = preference(c, keep)
    survivor = np.zeros(n, bool)
    if n:
        order = np.lexsort((pos, -score[1], -score[0], codes))
        firsts = order[np.r_[True, codes[order][1:] != codes[order][:-1]]]
        survivor[firsts] = True
    survivor |= review

    out = c.copy()
    out["cluster_id"] = pd.array(codes + 1, dtype="Int64")
    out["cluster_size"] = pd.array(size, dtype="Int64")
    out["rule"] = pd.Categorical(rule, categories=RULE_LABELS)
    out["needs_review"] = pd.array(review, dtype="boolean")
    out["survivor"] = pd.array(survivor, dtype="boolean")
    return out


def _col_codes(s: pd.Series) -> np.ndarray:
    """Integer codes of a column, -1 for missing (a writable int64 array)."""
    return pd.factorize(s, use_na_sentinel=True)[0].astype(np.int64)


def _shared_line_edges(pcode, ncode, names_, pos, threshold):
    """Links on shared-line numbers: same (or fuzzy-same) name; blanks join a lone name."""
    if not len(pos):
        return []
    num, nm = pcode[pos], ncode[pos]
    num = pd.factorize(num)[0].astype(np.int64)
    keep = np.bincount(num)[num] > 1
    num, nm, p = num[keep], nm[keep], pos[keep]
    if not len(p):
        return []
    m = max(int(nm.max()) + 1, 1)
    named = nm >= 0
    combo = num * m + nm
    distinct = np.bincount(np.unique(combo[named]) // m, minlength=int(num.max()) + 1)
    # rows with the same name on the number
    out = [_star(combo[named], p[named])]
    # a number carrying at most one name: everyone on it, blanks included
    single = distinct[num] <= 1
    out.append(_star(num[single], p[single]))
    # fuzzy-same names (typos) on numbers with several names: one representative per name
    sel = named & ~single
    if sel.any():
        _, first = np.unique(combo[sel], return_index=True)
        rep = p[sel][first]
        i, j = _pairs_within(num[sel][first], np.arange(len(rep)))
        ok = _similar(names_[rep[i]], names_[rep[j]], threshold)
        out.append((rep[i[ok]], rep[j[ok]]))
    return out


def _name_edges(c, fcode, ncode, names_, pcode, ecode, threshold):
    """Fuzzy full-name links within (postcode, last-name initial) blocks, with a channel veto."""
    lcode = _col_codes(c["last_name_key"])
    post = _col_codes(c["postcode_key"])
    ok = (ncode >= 0) & (fcode >= 0) & (lcode >= 0) & (post >= 0)
    # a pair can add a link only if one side lacks a phone and one side lacks an email
    # (equal phones/emails are linked already; different ones veto)
    open_ = ok & ((pcode < 0) | (ecode < 0))
    if not open_.any():
        return np.empty(0, np.int64), np.empty(0, np.int64)
    rows = np.flatnonzero(ok)
    initial = pc.utf8_slice_codeunits(pa.array(c["last_name_key"].array), 0, 1)
    icode = _col_codes(pd.Series(initial, dtype="str"))[rows]
    block = post[rows] * (int(icode.max()) + 1) + icode
    i, j = _pairs_within(block, rows, left_mask=open_[rows])
    if not len(i):
        return i, j
    n = len(c)
    key = np.sort(i.astype(np.int64) * n + j)
    key = key[np.r_[True, key[1:] != key[:-1]]]
    i, j = key // n, key % n
    phone_conflict = (pcode[i] >= 0) & (pcode[j] >= 0) & (pcode[i] != pcode[j])
    email_conflict = (ecode[i] >= 0) & (ecode[j] >= 0) & (ecode[i] != ecode[j])
    keep = ~phone_conflict & ~email_conflict
    i, j = i[keep], j[keep]
    sim = _similar(names_[i], names_[j], threshold, same=ncode[i] == ncode[j])
    return i[sim], j[sim]


def _needs_review(codes, size, pcode, ecode) -> np.ndarray:
    """Clusters holding ≥2 distinct valid phones and ≥2 distinct email keys."""
    n = len(codes)
    review = np.zeros(n, bool)
    big = size >= 3
    if not big.any():
        return review
    idx = np.flatnonzero(big)
    f = pd.DataFrame(
        {
            "c": codes[idx],
            "p": np.where(pcode[idx] >= 0, pcode[idx], np.nan),
            "e": np.where(ecode[idx] >= 0, ecode[idx], np.nan),
        }
    )
    agg = f.groupby("c").agg(p=("p", "nunique"), e=("e", "nunique"))
    flagged = agg.index[(agg["p"] >= 2) & (agg["e"] >= 2)].to_numpy()
    review[idx] = np.isin(codes[idx], flagged)
    return review


_COMPLETENESS = (
    "first_name_clean", "last_name_clean", "organization_name", "fax_number", "address_line_1",
    "address_line_2", "address_city", "address_state", "address_postal_code", "address_country",
    "custom_1", "custom_2", "custom_3", "custom_4",
)  # fmt: skip


def completeness(c: pd.DataFrame) -> np.ndarray:
    """Filled fields per row; a valid phone or email counts 2."""
    score = 2.0 * c["phone_valid"].fillna(False).to_numpy(bool)
    score += 2.0 * c["email_valid"].fillna(False).to_numpy(bool)
    for col in _COMPLETENESS:
        if col in c.columns:
            v = c[col]
            filled = v.notna().to_numpy(bool).copy()
            if v.dtype == object or isinstance(v.dtype, pd.StringDtype):
                filled &= (v.astype("str").str.strip() != "").fillna(False).to_numpy(bool)
            score += filled
    return score


def _timestamp(c: pd.DataFrame) -> np.ndarray:
    for col in ("date_updated", "date_added"):
        if col in c.columns:
            t = pd.to_datetime(c[col], errors="coerce", utc=True)
            bad = t.isna() & c[col].notna()
            if bad.any():
                raise CleanInputError(
                    f"column {col!r} has values that are not dates at rows "
                    f"{list(c.index[bad.to_numpy(bool)][:10])} (e.g. "
                    f"{c.loc[bad, col].iloc[0]!r}); fix or drop them to rank rows by date"
                )
            vals = t.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
            out = vals.astype(np.int64).astype(np.float64)
            out[np.isnat(vals)] = -np.inf
            return out
    raise CleanInputError(
        "keep='latest' needs a 'date_updated' or 'date_added' column; "
        f"columns present: {list(c.columns)}"
    )


def preference(c: pd.DataFrame, keep) -> tuple[np.ndarray, np.ndarray]:
    """(primary, secondary) scores, higher preferred; ties go to the earlier row."""
    if callable(keep):
        s = keep(c)
        if not isinstance(s, pd.Series) or not s.index.equals(c.index):
            raise CleanInputError(
                "keep=callable must return a Series of scores aligned on the frame's index "
                "(higher = preferred)"
            )
        primary = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=-np.inf)
        return primary, completeness(c)
    if keep == "most_complete":
        secondary = (
            _timestamp(c) if ("date_updated" in c or "date_added" in c) else np.zeros(len(c))
        )
        return completeness(c), secondary
    if keep == "latest":
        return _timestamp(c), completeness(c)
    raise CleanInputError(
        f"keep={keep!r}: use 'most_complete', 'latest' or a callable returning scores"
    )
