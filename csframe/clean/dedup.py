"""duplicates(): explainable duplicate clusters of a contact list, on pandas or Dask."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from csframe.clean import dedup_dask, linkage
from csframe.clean.clusters import (
    CLUSTER_COLUMNS,
    RULES,
    Edges,
    allowed,
    attach,
    blocks_of,
    check_arguments,
    explain,
    field_keys,
    preference,
)
from csframe.clean.contacts import ensure_clean
from csframe.clean.fields import resolve as resolve_fields
from csframe.scale import is_dask

__all__ = ["CLUSTER_COLUMNS", "RULES", "duplicates", "preference"]


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
        ``default_region``/``mapping``); pandas or a dask DataFrame (then the matching
        runs on the cluster and the result is a lazy dask frame equal to the pandas one;
        ``keep`` as a callable is then called per partition).
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
    chosen = check_arguments(rules, threshold, name_threshold)
    if is_dask(df):
        return dedup_dask.duplicates(
            df,
            chosen,
            default_region=default_region,
            mapping=mapping,
            fields=fields,
            threshold=threshold,
            name_threshold=name_threshold,
            keep=keep,
        )
    c = ensure_clean(df, default_region, mapping=mapping, func="duplicates")
    c = c.drop(columns=[k for k in CLUSTER_COLUMNS if k in c.columns])
    n = len(c)
    keys = linkage.match_keys(c, field_keys(c, resolve_fields(c, fields)))
    p = linkage.prepare(keys)
    i, j = linkage.candidates(p, blocks_of(chosen))
    cmp = linkage.compare(p, i, j, name_threshold)
    model = linkage.estimate(p, cmp["levels"], name_threshold)
    links = linkage.score(p, i, j, cmp, model, threshold)
    sel = np.flatnonzero(links.linked & allowed(chosen, links.levels))
    edges = Edges(
        i[sel], j[sel], links.weight[sel], links.agree[sel], links.swapped[sel], links.conflict[sel]
    )
    score = preference(c, keep)

    def rows(sub: np.ndarray) -> tuple[linkage.Prepared, np.ndarray, np.ndarray, np.ndarray]:
        return p, sub, score[0][sub], score[1][sub]

    return attach(c, explain(n, edges, rows))
