"""duplicates(): explainable duplicate clusters (union-find over rule links) and survivors."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
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


def _similar(a: np.ndarray, b: np.ndarray, threshold: float) -> np.ndarray:
    """Pairwise name similarity ≥ threshold (rapidfuzz ratio, 0-100)."""
    if not len(a):
        return np.zeros(0, bool)
    same = a == b
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

    e164 = _obj(c["phone_e164"])
    pvalid = c["phone_valid"].fillna(False).to_numpy(bool) & ~np.equal(e164, None)
    ekey = _obj(c["email_match_key"])
    evalid = c["email_valid"].fillna(False).to_numpy(bool) & ~np.equal(ekey, None)
    first = _obj(c["first_name_key"])

    if "phone" in rules and pvalid.any():
        ptype = c["phone_type"].astype(object).to_numpy()
        personal = pvalid & np.isin(ptype, list(PERSONAL_TYPES))
        codes = pd.factorize(e164[personal])[0]
        edges["phone"].append(_star(codes, pos[personal]))
        shared = pvalid & ~personal
        # compare full names (the shared surname keeps "Mary Lee"/"Mark Lee" apart but lets
        # "Jon Lee"/"John Lee" through); rows without a first name count as blank
        full = np.where(np.equal(first, None), None, _obj(c["name_key"]))
        edges["phone+name"].extend(_shared_line_edges(e164, full, pos[shared], name_threshold))
    if "email" in rules and evalid.any():
        codes = pd.factorize(ekey[evalid])[0]
        edges["email"].append(_star(codes, pos[evalid]))
    if "name" in rules:
        edges["name+postcode"].append(
            _name_edges(c, first, e164, pvalid, ekey, evalid, name_threshold)
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

    review = _needs_review(codes, size, e164, pvalid, ekey, evalid)
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


def _shared_line_edges(e164, first, pos, threshold):
    """Links on shared-line numbers: same (or fuzzy-same) first name; blanks join one name."""
    if not len(pos):
        return []
    g = pd.DataFrame({"num": e164[pos], "first": first[pos], "pos": pos})
    g = g[g.groupby("num")["pos"].transform("size") > 1]
    if g.empty:
        return []
    named = g[g["first"].notna()]
    distinct = named.groupby("num")["first"].nunique()
    out = []
    # rows with the same first name on the number
    out.append(
        _star(pd.factorize(named["num"] + "\x00" + named["first"])[0], named["pos"].to_numpy())
    )
    # blanks join when the number carries exactly one first name (or none at all)
    one = set(distinct.index[distinct <= 1])
    blanks = g[g["first"].isna()]
    blanks_ok = blanks[blanks["num"].isin(one) | ~blanks["num"].isin(distinct.index)]
    anchor = pd.concat([named[named["num"].isin(one)], blanks_ok])
    out.append(_star(pd.factorize(anchor["num"])[0], anchor["pos"].to_numpy()))
    # fuzzy-same first names (typos) on numbers with several names
    multi = named[named["num"].isin(distinct.index[distinct > 1])].drop_duplicates(["num", "first"])
    if len(multi):
        i, j = _pairs_within(pd.factorize(multi["num"])[0], np.arange(len(multi)))
        f = multi["first"].to_numpy(dtype=object)
        ok = _similar(f[i], f[j], threshold)
        rep = multi["pos"].to_numpy()
        out.append((rep[i[ok]], rep[j[ok]]))
    return out


def _name_edges(c, first, e164, pvalid, ekey, evalid, threshold):
    """Fuzzy full-name links within (postcode, last-name initial) blocks, with a channel veto."""
    name = _obj(c["name_key"])
    last = _obj(c["last_name_key"])
    post = _obj(c["postcode_key"])
    ok = ~np.equal(name, None) & ~np.equal(first, None) & ~np.equal(last, None)
    ok &= ~np.equal(post, None)
    # a pair can add a link only if one side lacks a phone and one side lacks an email
    # (equal phones/emails are linked already; different ones veto)
    open_ = ok & (~pvalid | ~evalid)
    if open_.sum() == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    rows = np.flatnonzero(ok)
    block = pd.factorize(
        pd.Series(post[rows], dtype=object) + "\x00" + pd.Series([s[0] for s in last[rows]])
    )[0]
    i, j = _pairs_within(block, rows, left_mask=open_[rows])
    if not len(i):
        return i, j
    pairs = pd.DataFrame({"i": i, "j": j}).drop_duplicates()
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    phone_conflict = pvalid[i] & pvalid[j] & (e164[i] != e164[j])
    email_conflict = evalid[i] & evalid[j] & (ekey[i] != ekey[j])
    keep = ~phone_conflict & ~email_conflict
    i, j = i[keep], j[keep]
    sim = _similar(name[i], name[j], threshold)
    return i[sim], j[sim]


def _needs_review(codes, size, e164, pvalid, ekey, evalid) -> np.ndarray:
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
            "p": np.where(pvalid[idx], e164[idx], None),
            "e": np.where(evalid[idx], ekey[idx], None),
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
