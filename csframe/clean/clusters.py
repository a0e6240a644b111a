"""From scored links to duplicate clusters: components, each row's strongest link, conflicts
and review flags, survivors; the rules' blocking keys; the preference that ranks rows.

Shared by both engines of :func:`csframe.clean.duplicates` (pandas, and Dask in
``dedup_dask``): they differ only in where the links and rows come from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from csframe.clean import linkage
from csframe.clean._common import CleanInputError
from csframe.clean.fields import address_key, parse_dates, postcode_key, text_key

RULES = ("phone", "email", "name")
CLUSTER_COLUMNS = (
    "cluster_id", "cluster_size", "rule", "match_weight", "needs_review", "review_reason",
    "survivor",
)  # fmt: skip
# blocking keys each rule may use ("name": everything but the phone and the email)
_RULE_BLOCKS: dict[str, list[tuple[str, ...]]] = {
    "phone": [b for b in linkage.BLOCKS if b == ("phone",)],
    "email": [b for b in linkage.BLOCKS if b == ("email",)],
    "name": [b for b in linkage.BLOCKS if b not in (("phone",), ("email",))],
}


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


def blocks_of(chosen: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The blocking keys the chosen rules use."""
    return [b for r in chosen for b in _RULE_BLOCKS[r]]


def allowed(chosen: tuple[str, ...], levels: dict[str, np.ndarray]) -> np.ndarray:
    """Which pairs the chosen rules may link (``phone``: the same phone, ``email``: the same
    email key, ``name``: any)."""
    ok = np.zeros(len(levels["phone"]), bool)
    if "phone" in chosen:
        ok |= levels["phone"] == 1
    if "email" in chosen:
        ok |= levels["email"] == 3
    if "name" in chosen:
        ok[:] = True
    return ok


def check_arguments(
    rules: str | Iterable[str], threshold: float, name_threshold: float
) -> tuple[str, ...]:
    """The chosen rules, or a CleanInputError naming the bad argument."""
    chosen: tuple[str, ...] = (rules,) if isinstance(rules, str) else tuple(rules)
    unknown = set(chosen) - set(RULES)
    if unknown:
        raise CleanInputError(
            f"duplicates(rules=...): unknown rule(s) {sorted(unknown)}; known rules: {RULES}"
        )
    if not 0 <= float(name_threshold) <= 100:
        raise CleanInputError(f"duplicates(name_threshold={name_threshold!r}): must be 0-100")
    if not 0 < float(threshold) < 1:
        raise CleanInputError(f"duplicates(threshold={threshold!r}): a probability in (0, 1)")
    return chosen


@dataclass
class Edges:
    """The links (row positions i < j, ascending by (i, j)) with what explains them."""

    i: np.ndarray
    j: np.ndarray
    weight: np.ndarray
    agree: np.ndarray
    swapped: np.ndarray
    conflict: np.ndarray


#: rows(positions) -> (Prepared holding them, their index in it, preference scores)
RowsOf = Callable[[np.ndarray], tuple[linkage.Prepared, np.ndarray, np.ndarray, np.ndarray]]


def explain(n: int, e: Edges, rows: RowsOf) -> dict[str, np.ndarray]:
    """Clusters of a list of ``n`` rows from its links: per row the cluster code (0.. by
    first appearance), size, rule and weight of its strongest link, review flag and reason,
    survivor. Only rows in clusters of two or more are looked at (``rows`` gives them)."""
    root = _components(n, e.i, e.j)
    codes, _ = pd.factorize(root)
    size = np.bincount(codes, minlength=codes.max() + 1 if n else 0)[codes] if n else codes

    # each row's strongest link explains it
    ends, link = np.r_[e.i, e.j], np.r_[np.arange(len(e.i)), np.arange(len(e.i))]
    order = np.lexsort((e.weight[link], ends))  # by row, strongest link last
    last = order[np.r_[ends[order][1:] != ends[order][:-1], True]] if len(order) else order
    best = np.full(n, -1, np.int64)
    best[ends[last]] = link[last]
    best_w = np.full(n, -np.inf)
    best_w[best >= 0] = e.weight[best[best >= 0]]
    has = best >= 0
    rule = np.full(n, None, dtype=object)
    rule[has] = linkage.labels(e.agree[best[has]], e.swapped[best[has]])

    sub = np.flatnonzero(size >= 2)  # rows in clusters: the only ones to review or rank
    p, loc, score0, score1 = rows(sub)
    # conflicts inside a cluster: it needs review
    bad = np.flatnonzero(e.conflict != 0)
    at = loc[np.searchsorted(sub, e.i[bad])], loc[np.searchsorted(sub, e.j[bad])]
    why = linkage.conflict_text(p, at[0], at[1], e.conflict[bad])
    reason = (
        pd.Series(why, dtype=object)
        .groupby(codes[e.i[bad]])
        .agg(lambda s: "; ".join(dict.fromkeys("; ".join(s).split("; "))))
    )
    scodes, ssize = codes[sub], size[sub]
    pcode = np.where(p.codes["phone"][loc] >= 0, p.codes["phone"][loc], -1)
    chain = _needs_review(scodes, ssize, pcode, p.codes["email"][loc])
    chain_text = np.where(chain, "two different phones and two different emails in one chain", "")
    # links through rows with missing fields can chain two people: dates of birth in one
    # cluster that are not a typo apart flag it too
    dob_chain = _dob_chain(p, p.codes["dob"][loc], scodes, ssize)
    chain_text = np.where(dob_chain & chain, chain_text + "; ", chain_text) + np.where(
        dob_chain, "different dates of birth in one chain", ""
    )
    chain |= dob_chain
    sreview = chain | np.isin(scodes, reason.index.to_numpy())
    review = np.zeros(n, bool)
    review[sub] = sreview
    review_reason = np.full(n, "", dtype=object)
    if sreview.any():
        text = reason.reindex(scodes[sreview]).to_numpy(dtype=object)
        extra = chain_text[sreview]
        text = np.where(
            extra != "",
            np.where(pd.isna(text), extra, text.astype(str) + "; " + extra),
            text,
        )
        review_reason[sub[sreview]] = text
    # survivors: the preferred row of each cluster (ties: the earlier row); every row of a
    # cluster needing review
    survivor = np.ones(n, bool)
    if len(sub):
        order = np.lexsort((sub, -score1, -score0, scodes))
        firsts = np.r_[True, scodes[order][1:] != scodes[order][:-1]]
        survivor[sub[order]] = firsts | sreview[order]
    return {
        "codes": codes,
        "size": size,
        "rule": rule,
        "weight": best_w,
        "has": has,
        "review": review,
        "review_reason": review_reason,
        "survivor": survivor,
    }


def attach(
    c: pd.DataFrame, r: dict[str, np.ndarray], labels: list[str] | None = None
) -> pd.DataFrame:
    """``c`` with the cluster columns of :func:`explain`'s arrays (``labels``: the rule
    categories, by default the rules present)."""
    out = c.copy()
    out["cluster_id"] = pd.array(r["codes"] + 1, dtype="Int64")
    out["cluster_size"] = pd.array(r["size"], dtype="Int64")
    has = r["has"]
    if labels is None:
        labels = sorted(set(r["rule"][has].tolist()))
    out["rule"] = pd.Categorical(r["rule"], categories=labels)
    mw = pd.array(np.round(r["weight"], 2), dtype="Float64")
    mw[~has] = pd.NA
    out["match_weight"] = mw
    out["needs_review"] = pd.array(r["review"], dtype="boolean")
    out["review_reason"] = pd.Series(r["review_reason"], index=c.index, dtype="str")
    out["survivor"] = pd.array(r["survivor"], dtype="boolean")
    return out


def _dob_chain(
    p: linkage.Prepared, dob: np.ndarray, codes: np.ndarray, size: np.ndarray
) -> np.ndarray:
    """Rows of clusters (≥ 3 rows) holding two dates of birth that are not a typo apart
    (``dob``: the rows' date-of-birth codes in ``p``)."""
    out = np.zeros(len(codes), bool)
    big = np.flatnonzero(size >= 3)
    if not len(big) or dob.max() < 0:
        return out
    cl, d = _distinct_per_cluster(codes, dob, big)
    several = np.bincount(cl)[cl] > 1
    if not several.any():
        return out
    # every pair of a cluster's distinct dates (clusters are small). Past 1,000 dates only
    # a window is paired, in code order, which differs between engines; the answer cannot:
    # dates that pairwise differ in ≤ 2 digits (or by a day/month swap, one partner each)
    # number at most 2 × 100, so any 1,001 of them hold a pair of level 0 and flag the cluster
    i, j = linkage._window_pairs(cl[several], d[several], 1_000)
    dc = d[several]
    bad = cl[several][i[linkage.dob_code_levels(p, dc[i], dc[j]) == 0]]
    out[np.isin(codes, bad)] = True
    return out


def field_keys(c: pd.DataFrame, cols: dict[str, str | None]) -> dict[str, pd.Series | None]:
    """Match keys of the fields contacts() does not clean (dob, address, suburb), and of a
    postcode taken from another column (``cols``: the resolved source columns)."""
    keys: dict[str, pd.Series | None] = {
        "dob": parse_dates(c[cols["dob"]]) if cols["dob"] else None,
        "address": address_key(c[cols["address"]]) if cols["address"] else None,
        "suburb": text_key(c[cols["suburb"]]) if cols["suburb"] else None,
    }
    if "postcode" in cols:  # named in fields=: that column instead of contacts()' postcode
        keys["postcode"] = postcode_key(c[cols["postcode"]]) if cols["postcode"] else None
    return keys


def _distinct_per_cluster(codes: np.ndarray, values: np.ndarray, rows: np.ndarray):
    """(cluster, value) pairs, distinct, of the given rows with a value (≥ 0)."""
    rows = rows[values[rows] >= 0]
    key = np.unique(codes[rows].astype(np.int64) * (int(values.max()) + 1) + values[rows])
    return key // (int(values.max()) + 1), key % (int(values.max()) + 1)


def _needs_review(codes, size, pcode, ecode) -> np.ndarray:
    """Clusters holding ≥2 distinct valid phones and ≥2 distinct email keys."""
    big = np.flatnonzero(size >= 3)
    if not len(big) or pcode.max() < 0 or ecode.max() < 0:
        return np.zeros(len(codes), bool)
    nc = int(codes.max()) + 1
    phones = np.bincount(_distinct_per_cluster(codes, pcode, big)[0], minlength=nc)
    emails = np.bincount(_distinct_per_cluster(codes, ecode, big)[0], minlength=nc)
    return (phones >= 2)[codes] & (emails >= 2)[codes] & (size >= 3)


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
