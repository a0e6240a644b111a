"""Merging a duplicate cluster's rows into one (shared by both engines of dedupe())."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from csframe.clean._common import CleanInputError
from csframe.clean.clusters import CLUSTER_COLUMNS
from csframe.clean.contacts import issues_for

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


def decided_of(
    decisions: pd.DataFrame | Mapping[int, str] | None, known: set[int]
) -> dict[int, str]:
    """{cluster_id: "accept"/"split"} of ``decisions``, checked against the ``known`` ids."""
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
    unknown = [x for x in ids if pd.isna(x) or int(x) not in known]
    if unknown:
        raise CleanInputError(
            f"dedupe(decisions=...): unknown cluster_id(s) {unknown[:10]} "
            "(decisions must refer to the cluster ids of this duplicates() result)"
        )
    return dict(zip(ids.astype(int), dec, strict=True))


def merging(d: pd.DataFrame, decided: Mapping[int, str]) -> np.ndarray:
    """Which rows of a duplicates() frame are merged: clusters of two or more not needing
    review, unless ``decided`` (cluster_id → accept/split) says otherwise."""
    cid = d["cluster_id"].to_numpy(dtype=np.int64)
    size = d["cluster_size"].to_numpy(dtype=np.int64)
    review = d["needs_review"].fillna(False).to_numpy(bool)
    merge = (size > 1) & ~review
    if decided:
        dec = pd.Series(cid).map(decided).to_numpy(dtype=object)
        merge = (size > 1) & ((merge & (dec != "split")) | (dec == "accept"))
    return merge


def row_ids(d: pd.DataFrame, cols: Mapping[str, str | None]) -> np.ndarray:
    """What ``merged_from`` lists per row: the contact id, else the index label (text)."""
    return (
        d[cols["contact_id"]].astype("str")
        if cols["contact_id"]
        else pd.Series(d.index.astype(str))
    ).to_numpy(dtype=object, na_value="")


def merge_clusters(
    d: pd.DataFrame,
    score0: np.ndarray,
    score1: np.ndarray,
    ids: np.ndarray,
    cols: Mapping[str, str | None],
) -> pd.DataFrame:
    """One merged row per cluster of ``d`` (rows that are all merged; ``score0/1``: their
    preference, ``ids``: their ids), with ``merged_from``, ``merged_count`` and ``_pos``:
    the survivor's position in ``d``."""
    n = len(d)
    cid = d["cluster_id"].to_numpy(dtype=np.int64)
    pos = np.arange(n)
    # rows sorted by cluster, then preference
    order = np.lexsort((pos, -score1, -score0, cid))
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
    if not ngroups:
        merged["merged_from"] = pd.Series([], index=merged.index, dtype="str")
        merged["merged_count"] = pd.array([], dtype="Int64")
        merged["_pos"] = np.empty(0, np.int64)
    return merged


def assemble(
    d: pd.DataFrame, single: np.ndarray, ids: np.ndarray, merged: pd.DataFrame
) -> pd.DataFrame:
    """The dedupe() result: the rows of ``d`` at ``single`` as they are, and the ``merged``
    rows (:func:`merge_clusters`, ``_pos`` in ``d``), in position order, with ``d``'s dtypes."""
    keepers = d.iloc[single].copy()
    keepers["merged_from"] = pd.Series(ids[single], index=keepers.index, dtype="str")
    keepers["merged_count"] = pd.array(np.ones(len(single), dtype=np.int64), dtype="Int64")
    keepers["_pos"] = single
    parts = [p for p in (keepers, merged) if len(p)]
    out = pd.concat(parts) if parts else keepers
    out = out.sort_values("_pos", kind="stable").drop(columns=["_pos", "survivor", "rule"])
    for col in d.columns:
        if col in out.columns and out[col].dtype != d[col].dtype:
            with contextlib.suppress(TypeError, ValueError):
                out[col] = out[col].astype(d[col].dtype)
    return out
