"""duplicates(): explainable duplicate clusters (union-find over scored links) and survivors."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from csframe.clean import linkage
from csframe.clean._common import CleanInputError
from csframe.clean.contacts import ensure_clean
from csframe.clean.fields import address_key, parse_dates, postcode_key, text_key
from csframe.clean.fields import resolve as resolve_fields
from csframe.scale import is_dask, not_on_dask

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


def duplicates(
    df: pd.DataFrame,
    rules: str | Iterable[str] = RULES,
    *,
    default_region: str | None = None,
    mapping: dict[str, str] | None = None,
    fields: dict[str, str | None] | None = None,
    threshold: float = 0.99,
    name_threshold: float = 88,
    keep: str | Callable = "most_complete",
) -> pd.DataFrame:
    """Find duplicate contacts with a scored (Fellegi–Sunter) matcher and explain each link.

    Candidate pairs come from several blocking keys (phone, email key, surname + postcode,
    first name + date of birth, street address + suburb, sounds-like surname + suburb, ...).
    Each pair is compared field by field (names exact/fuzzy and swapped, date of birth with
    typos and day/month swaps, postcode with a one-digit typo, address, suburb, phone,
    email with edit distance) and weighed with m/u probabilities estimated from the list
    itself (u from random pairs, m by EM; common names weigh less). A pair links when its
    match probability reaches ``threshold`` and something personal agrees (a mobile, an
    email, the date of birth or the first name): a family sharing a surname, an address and
    a landline is never merged on those alone.

    Conflicts veto a silent merge: a linked pair with two different mobiles, two different
    dates of birth, two different first names, or a blank first name across different
    emails or postcodes puts its cluster under ``needs_review`` (``review_reason`` says
    which, with the values);
    so does a chain: a cluster holding two different phones and two different emails, or
    two dates of birth that are no typo apart.
    :func:`dedupe` keeps such clusters apart unless ``decisions`` accepts them.

    Parameters
    ----------
    df : a contacts frame, cleaned (:func:`contacts`) or raw (it is cleaned first with
        ``default_region``/``mapping``).
    rules : which links are allowed, any of ``("phone", "email", "name")``: ``phone`` and
        ``email`` allow pairs that agree on that value, ``name`` pairs found through names,
        dates of birth and addresses.
    fields : the column holding a matching field, e.g. ``{"dob": "custom_1"}`` (fields:
        ``dob``, ``address``, ``suburb``, ``postcode``; None = do not use). Detected when not
        given: ``dob``/``date_of_birth``/... or a ``custom_N`` column of past dates,
        ``address_line_1``/``address``/``street``, ``address_city``/``suburb``/``city``.
        Names, phones and emails come from the cleaned columns (``mapping=`` names them).
    threshold : match probability (0-1) from which a pair links.
    name_threshold : Jaro–Winkler similarity (0-100) from which two names count as alike.
    keep : survivorship policy, as in :func:`dedupe`, used for the ``survivor`` flag.

    Returns
    -------
    The cleaned frame (same index and order) plus ``cluster_id`` (Int64; every row has one,
    numbered 1.. by first appearance), ``cluster_size`` (Int64), ``rule`` (category: the
    fields that agreed on the row's strongest link, e.g. ``phone+name``,
    ``name+dob+postcode``; NA for a row alone), ``match_weight`` (Float64: that link's
    log2 odds), ``needs_review`` (boolean), ``review_reason`` (str, ``""`` unless flagged)
    and ``survivor`` (boolean: the row :func:`dedupe` keeps; every row of a cluster needing
    review is True).

    Example
    -------
    >>> import pandas as pd
    >>> from csframe import clean
    >>> df = pd.DataFrame({"contact_id": [1, 2, 3],
    ...                    "phone_number": ["0412 345 678", "+61412345678", "0400 000 001"],
    ...                    "first_name": ["Ann", "Anne", "Bob"]})
    >>> d = clean.duplicates(df, default_region="AU")
    >>> d["cluster_id"].tolist(), d["rule"].tolist(), d["survivor"].tolist()
    ([1, 1, 2], ['phone+first_name', 'phone+first_name', nan], [True, False, True])
    """
    if is_dask(df):
        raise not_on_dask("duplicates")
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
    c = ensure_clean(df, default_region, mapping=mapping, func="duplicates")
    c = c.drop(columns=[k for k in CLUSTER_COLUMNS if k in c.columns])
    n = len(c)
    p = linkage.prepare(c, _field_keys(c, fields))
    blocks = [b for r in chosen for b in _RULE_BLOCKS[r]]
    i, j = linkage.candidates(p, blocks)
    cmp = linkage.compare(p, i, j, name_threshold)
    model = linkage.estimate(p, cmp["levels"], name_threshold)
    links = linkage.score(p, i, j, cmp, model, threshold)
    allowed = np.zeros(len(i), bool)
    if "phone" in chosen:
        allowed |= cmp["levels"]["phone"] == 1
    if "email" in chosen:
        allowed |= cmp["levels"]["email"] == 3
    if "name" in chosen:
        allowed[:] = True
    sel = np.flatnonzero(links.linked & allowed)
    li, lj = i[sel], j[sel]
    root = _components(n, li, lj)
    codes, _ = pd.factorize(root)
    size = np.bincount(codes, minlength=codes.max() + 1 if n else 0)[codes] if n else codes

    # each row's strongest link explains it
    ends, link = np.r_[li, lj], np.r_[sel, sel]
    order = np.lexsort((links.weight[link], ends))  # by row, strongest link last
    last = order[np.r_[ends[order][1:] != ends[order][:-1], True]] if len(order) else order
    best = np.full(n, -1, np.int64)
    best[ends[last]] = link[last]
    best_w = np.full(n, -np.inf)
    best_w[best >= 0] = links.weight[best[best >= 0]]
    has = best >= 0
    rule = np.full(n, None, dtype=object)
    rule[has] = linkage.labels(links.agree[best[has]], links.swapped[best[has]])

    # conflicts inside a cluster: it needs review
    bad = sel[links.conflict[sel] != 0]
    why = linkage.conflict_text(p, i[bad], j[bad], links.conflict[bad])
    reason = (
        pd.Series(why, dtype=object)
        .groupby(codes[i[bad]])
        .agg(lambda s: "; ".join(dict.fromkeys("; ".join(s).split("; "))))
    )
    pcode = np.where(p.codes["phone"] >= 0, p.codes["phone"], -1)
    chain = _needs_review(codes, size, pcode, p.codes["email"])
    chain_text = np.where(chain, "two different phones and two different emails in one chain", "")
    # links through rows with missing fields can chain two people: dates of birth in one
    # cluster that are not a typo apart flag it too
    dob_chain = _dob_chain(p, codes, size)
    chain_text = np.where(dob_chain & chain, chain_text + "; ", chain_text) + np.where(
        dob_chain, "different dates of birth in one chain", ""
    )
    chain |= dob_chain
    review = chain | np.isin(codes, reason.index.to_numpy())
    review_reason = np.full(n, "", dtype=object)
    if review.any():
        text = reason.reindex(codes[review]).to_numpy(dtype=object)
        extra = chain_text[review]
        text = np.where(
            extra != "",
            np.where(pd.isna(text), extra, text.astype(str) + "; " + extra),
            text,
        )
        review_reason[review] = text
    score = preference(c, keep)
    pos = np.arange(n, dtype=np.int64)
    survivor = np.zeros(n, bool)
    if n:
        order = np.lexsort((pos, -score[1], -score[0], codes))
        firsts = order[np.r_[True, codes[order][1:] != codes[order][:-1]]]
        survivor[firsts] = True
    survivor |= review

    out = c.copy()
    out["cluster_id"] = pd.array(codes + 1, dtype="Int64")
    out["cluster_size"] = pd.array(size, dtype="Int64")
    labels = sorted(set(rule[has].tolist()))
    out["rule"] = pd.Categorical(rule, categories=labels)
    mw = pd.array(np.round(best_w, 2), dtype="Float64")
    mw[~has] = pd.NA
    out["match_weight"] = mw
    out["needs_review"] = pd.array(review, dtype="boolean")
    out["review_reason"] = pd.Series(review_reason, index=c.index, dtype="str")
    out["survivor"] = pd.array(survivor, dtype="boolean")
    return out


def _dob_chain(p: linkage.Prepared, codes: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Rows of clusters (≥ 3 rows) holding two dates of birth that are not a typo apart."""
    dob = p.codes["dob"]
    out = np.zeros(len(codes), bool)
    big = np.flatnonzero(size >= 3)
    if not len(big) or dob.max() < 0:
        return out
    cl, d = _distinct_per_cluster(codes, dob, big)
    several = np.bincount(cl)[cl] > 1
    if not several.any():
        return out
    # every pair of a cluster's distinct dates (clusters are small)
    i, j = linkage._window_pairs(cl[several], d[several], 1_000)
    dc = d[several]
    bad = cl[several][i[linkage.dob_code_levels(p, dc[i], dc[j]) == 0]]
    out[np.isin(codes, bad)] = True
    return out


def _field_keys(c: pd.DataFrame, fields) -> dict[str, pd.Series | None]:
    """Match keys of the fields contacts() does not clean (dob, address, suburb), and of a
    postcode taken from another column."""
    cols = resolve_fields(c, fields)
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
