"""dedupe(): one row per duplicate cluster, fields merged from the cluster."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from csframe.clean import dedup_dask
from csframe.clean._common import resolve_columns
from csframe.clean.clusters import CLUSTER_COLUMNS, preference
from csframe.clean.contacts import CONTACT_COLUMNS
from csframe.clean.dedup import duplicates
from csframe.clean.merging import assemble, decided_of, merge_clusters, merging, row_ids
from csframe.scale import is_dask


def dedupe(
    df: pd.DataFrame,
    keep: str | Callable = "most_complete",
    decisions: pd.DataFrame | Mapping[int, str] | None = None,
    *,
    rules: str | Iterable[str] = ("phone", "email", "name"),
    default_region: str | None = None,
    mapping: dict[str, str] | None = None,
    name_threshold: float = 88,
    fields: dict[str, str | None] | None = None,
    threshold: float = 0.99,
) -> pd.DataFrame:
    """One row per duplicate cluster, with missing fields filled from its duplicates.

    Parameters
    ----------
    df : the output of :func:`duplicates`, or a contacts frame (cleaned and clustered first);
        pandas or a dask DataFrame (then only the rows of merged clusters come to this
        process, and the result is a lazy dask frame equal to the pandas one).
    keep : which row survives (keeps its ``contact_id`` and wins conflicting fields):
        ``"most_complete"`` (most filled fields, a valid phone/email counting double; ties:
        latest ``date_updated``), ``"latest"`` (latest ``date_updated``/``date_added``;
        ties: most complete) or a callable ``f(frame) -> Series`` of scores aligned on the
        frame's index (higher wins). Remaining ties go to the earlier row.
    decisions : DataFrame with ``cluster_id`` and ``decision`` (``"accept"`` merges the
        cluster, ``"split"`` keeps its rows separate), or a dict. Clusters flagged
        ``needs_review`` are kept separate unless accepted.
    rules, fields, threshold, name_threshold : passed to :func:`duplicates` when ``df`` is
        not its output yet.

    Merging: the phone fields (raw number, E.164, validity, type, ...) come together from the
    best-ranked row with a valid phone; the email fields likewise; first and last names each
    from the best-ranked row that has one; the address block from the best-ranked row that has
    any address field; any other column from the best-ranked row where it is not null.
    ``date_added`` is the earliest, ``date_updated`` the latest, ``unsubscribed`` is True if
    any row is. ``contact_id`` and ``list_id`` are the survivor's.

    Returns
    -------
    A frame with the survivors' index labels, in first-appearance order, and
    ``merged_from`` (str: the comma-joined ``contact_id``s — or index labels when there is no
    ``contact_id`` column — of every row merged into this one, survivor first) and
    ``merged_count`` (Int64). ``survivor`` and ``rule`` are dropped; ``cluster_id``,
    ``cluster_size`` and ``needs_review`` stay so review clusters can be found.

    Example
    -------
    >>> import pandas as pd
    >>> from csframe import clean
    >>> df = pd.DataFrame({"contact_id": [1, 2], "phone_number": ["0412 345 678", "+61412345678"],
    ...                    "email": [None, "ann@example.com"], "first_name": ["Ann", None]})
    >>> out = clean.dedupe(df, default_region="AU")
    >>> out[["contact_id", "first_name", "email", "merged_from"]].values.tolist()
    [[2, 'Ann', 'ann@example.com', '2,1']]
    """
    if all(c in df.columns for c in CLUSTER_COLUMNS):
        d = df
    else:
        d = duplicates(
            df,
            rules,
            default_region=default_region,
            mapping=mapping,
            name_threshold=name_threshold,
            fields=fields,
            threshold=threshold,
            keep=keep,
        )
    if is_dask(d):  # merged on the workers; only decisions= ids come to this process
        return dedup_dask.dedupe(d, keep, decisions, mapping=mapping)
    decided = decided_of(decisions, set(d["cluster_id"].dropna().astype(int)))
    cols = resolve_columns(d, CONTACT_COLUMNS, mapping, func="dedupe")
    merge = merging(d, decided)
    score = preference(d, keep)
    ids = row_ids(d, cols)
    mrows = np.flatnonzero(merge)
    merged = merge_clusters(d.iloc[mrows], score[0][mrows], score[1][mrows], ids[mrows], cols)
    merged["_pos"] = mrows[merged["_pos"].to_numpy(np.int64)]
    return assemble(d, np.flatnonzero(~merge), ids, merged)
