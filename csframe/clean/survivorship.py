"""dedupe(): one row per duplicate cluster, fields merged from the cluster."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from csframe.clean._common import CleanInputError, resolve_columns
from csframe.clean.contacts import CONTACT_COLUMNS, issues_for
from csframe.clean.dedup import CLUSTER_COLUMNS, duplicates, preference
from csframe.scale import is_dask, not_on_dask

DECISIONS = ("accept", "split")
PHONE_UNIT = (
    "phone_e164", "phone_valid", "phone_possible", "phone_type", "phone_region",
    "phone_reason", "phone_extension",
)  # fmt: skip
EMAIL_UNIT = ("email_norm", "email_valid", "email_match_key", "email_reason")
_ADDRESS = (
    "address_line_1", "address_line_2", "address_city", "address_state",
    "address_postal_code", "address_country", "postcode_key",
)  # fmt: skip


def _decisions(decisions, d: pd.DataFrame) -> dict[int, str]:
    if decisions is None:
        return {}
    if isinstance(decisions, Mapping):
        decisions = pd.DataFrame(
            {"cluster_id": list(decisions), "decision": list(decisions.values())}
        )
    if not isinstance(decisions, pd.DataFrame) or not {"cluster_id", "decision"} <= set(
        decisions.columns
    ):
        raise CleanInputError(
            "dedupe(decisions=...) takes a DataFrame with columns 'cluster_id' and 'decision' "
            "('accept' merges a cluster, 'split' keeps its rows separate) or a dict "
            "{cluster_id: decision}"
        )
    dec = decisions["decision"].astype("str").str.strip().str.lower()
    bad = decisions.index[~dec.isin(DECISIONS).fillna(False).to_numpy(bool)]
    if len(bad):
        raise CleanInputError(
            f"dedupe(decisions=...): rows {list(bad)[:10]} have decision "
            f"{list(decisions.loc[bad[:10], 'decision'])}; use 'accept' or 'split'"
        )
    ids = pd.to_numeric(decisions["cluster_id"], errors="coerce")
    known = set(d["cluster_id"].dropna().astype(int))
    unknown = [x for x in ids if pd.isna(x) or int(x) not in known]
    if unknown:
        raise CleanInputError(
            f"dedupe(decisions=...): unknown cluster_id(s) {unknown[:10]} "
            "(decisions must refer to the cluster ids of this duplicates() result)"
        )
    return dict(zip(ids.astype(int), dec, strict=True))


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
    df : the output of :func:`duplicates`, or a contacts frame (cleaned and clustered first).
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
    if is_dask(df):
        raise not_on_dask("dedupe")
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
    decided = _decisions(decisions, d)
    cols = resolve_columns(d, CONTACT_COLUMNS, mapping, func="dedupe")
    n = len(d)
    cid = d["cluster_id"].to_numpy(dtype=np.int64)
    size = d["cluster_size"].to_numpy(dtype=np.int64)
    review = d["needs_review"].fillna(False).to_numpy(bool)
    merge = (size > 1) & ~review
    if decided:
        dec = pd.Series(cid).map(decided).to_numpy(dtype=object)
        merge = (size > 1) & ((merge & (dec != "split")) | (dec == "accept"))
    score = preference(d, keep)
    pos = np.arange(n)
    ids = (
        d[cols["contact_id"]].astype("str")
        if cols["contact_id"]
        else pd.Series(d.index.astype(str))
    ).to_numpy(dtype=object, na_value="")

    # rows that stay as they are
    single = np.flatnonzero(~merge)
    # merged clusters: rows sorted by cluster, then preference
    mrows = np.flatnonzero(merge)
    order = mrows[np.lexsort((pos[mrows], -score[1][mrows], -score[0][mrows], cid[mrows]))]
    S = d.iloc[order]
    sc = cid[order]
    starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]]) if len(sc) else np.empty(0, int)
    group = np.cumsum(np.r_[True, sc[1:] != sc[:-1]]) - 1 if len(sc) else np.empty(0, int)
    ngroups = len(starts)

    def donor(mask: np.ndarray) -> np.ndarray:
        """Per group: position in S of the first row where mask holds, else the survivor."""
        out = starts.copy()
        idx = np.flatnonzero(mask)
        if len(idx):
            g, first = np.unique(group[idx], return_index=True)
            out[g] = idx[first]
        return out

    merged = S.iloc[starts].copy()
    units: list[tuple[list[str], np.ndarray]] = []
    mapped = {k: c for k, c in cols.items() if c}  # the input's own columns, by role

    def unit(columns: list[str], role: str) -> list[str]:
        """A unit's derived columns plus the input column they were derived from."""
        own = mapped.get(role)
        return [*columns, own] if own and own not in columns else columns

    phone_cols = unit([c for c in PHONE_UNIT if c in d.columns], "phone_number")
    units.append((phone_cols, S["phone_valid"].fillna(False).to_numpy(bool)))
    email_cols = unit([c for c in EMAIL_UNIT if c in d.columns], "email")
    units.append((email_cols, S["email_valid"].fillna(False).to_numpy(bool)))
    for part in ("first", "last"):
        ucols = unit([f"{part}_name_clean", f"{part}_name_key"], f"{part}_name")
        units.append((ucols, S[f"{part}_name_clean"].notna().to_numpy(bool)))
    addr = unit([c for c in _ADDRESS if c in d.columns], "address_postal_code")
    if addr:
        units.append((addr, S[addr].notna().any(axis=1).to_numpy(bool)))
    handled = {c for u, _ in units for c in u}
    for ucols, mask in units:
        src = donor(mask)
        merged[ucols] = S[ucols].iloc[src].set_axis(merged.index)
    fixed = set(CLUSTER_COLUMNS) | {"name_key", "name_placeholder", "issues"}
    fixed |= {mapped[k] for k in ("contact_id",) if k in mapped} | {"list_id"}
    special = {mapped[k]: k for k in ("date_added", "date_updated", "unsubscribed") if k in mapped}
    rest = [c for c in d.columns if c not in handled and c not in fixed and c not in special]
    if rest and ngroups:
        firsts = S[rest].groupby(group, sort=False).first()
        firsts.index = merged.index
        merged[rest] = firsts
    if ngroups:
        if special:
            g = S[list(special)].groupby(group, sort=False)
        for col, kind in special.items():
            if kind == "date_added":
                merged[col] = g[col].min().set_axis(merged.index)
            elif kind == "date_updated":
                merged[col] = g[col].max().set_axis(merged.index)
            else:
                merged[col] = g[col].any().set_axis(merged.index).astype(d[col].dtype)
        # first and last name may come from different rows: their keys, joined as names() does
        first = pa.array(
            merged["first_name_key"].to_numpy(dtype=object, na_value=None), pa.string()
        )
        last = pa.array(merged["last_name_key"].to_numpy(dtype=object, na_value=None), pa.string())
        full = pc.utf8_trim_whitespace(
            pc.binary_join_element_wise(
                first, last, " ", null_handling="replace", null_replacement=""
            )
        )
        full = pc.if_else(pc.equal(full, ""), pa.scalar(None, pa.string()), full)
        merged["name_key"] = pd.Series(
            full.to_numpy(zero_copy_only=False), index=merged.index, dtype="str"
        )
        merged["name_placeholder"] = (
            merged["name_placeholder"].fillna(False) & merged["first_name_clean"].isna()
        ).astype("boolean")
        merged["issues"] = issues_for(merged)
    # merged_from: ids in preference order
    if ngroups:
        lists = pa.ListArray.from_arrays(
            pa.array(np.r_[starts, len(order)], type=pa.int32()),
            pa.array(ids[order], type=pa.string()),
        )
        joined = pc.binary_join(lists, ",").to_numpy(zero_copy_only=False)
        merged["merged_from"] = pd.Series(joined, index=merged.index, dtype="str")
        merged["merged_count"] = pd.array(np.diff(np.r_[starts, len(order)]), dtype="Int64")
        merged["_pos"] = order[starts]
    keepers = d.iloc[single].copy()
    keepers["merged_from"] = pd.Series(ids[single], index=keepers.index, dtype="str")
    keepers["merged_count"] = pd.array(np.ones(len(single), dtype=np.int64), dtype="Int64")
    keepers["_pos"] = single
    parts = [p for p in (keepers, merged if ngroups else None) if p is not None and len(p)]
    out = pd.concat(parts) if parts else keepers
    out = out.sort_values("_pos", kind="stable").drop(columns=["_pos", "survivor", "rule"])
    for col in d.columns:
        if col in out.columns and out[col].dtype != d[col].dtype:
            with contextlib.suppress(TypeError, ValueError):
                out[col] = out[col].astype(d[col].dtype)
    return out
