"""duplicates() and dedupe() on a dask DataFrame: the pandas matcher's own stages, run where
the rows are, so that the clusters are the pandas clusters.

:func:`csframe.clean.duplicates` dispatches here for a dask frame. The stages (the pandas
path runs the same functions on the whole list at once):

1. per-row match keys (cleaning, :func:`linkage.match_keys`), the preference scores and a
   global row position, partition by partition (persisted on the workers);
2. per field: the values' counts (Σ count² for u, shares for the term-frequency
   adjustment, joined to the rows by value, so nothing depends on how rows are split);
3. candidate pairs: every row once per blocking key it has, shuffled on the key so that a
   block is in one partition, paired there by :func:`linkage._window_pairs` (rows in
   position order, so ties break as in pandas); pairs shuffled again to drop repeats;
4. both rows' keys joined to each pair; :func:`linkage.compare` and
   :func:`linkage.features` per partition (persisted: levels, flags, shares);
5. on the driver: EM over the pattern counts (:func:`linkage.em`), u from the value counts
   and the random pairs (:func:`linkage.random_pairs`, only their rows fetched);
6. :func:`linkage.score_features` per partition; the links (few) come to the driver, where
   :func:`dedup.explain` makes clusters, best links, conflicts and review flags, fetching
   the keys of rows in clusters of two or more only;
7. the cluster columns go back to the partitions by position (:func:`dedup.attach`).

dedupe() stays on the workers: the rows to merge are shuffled on their cluster id, merged
there (:func:`merging.merge_clusters`, rows in list order so that ties break as in
pandas), and each merged row is sent to its survivor's partition by ``set_index`` on that
partition's number.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from csframe.clean import linkage
from csframe.clean._common import resolve_columns
from csframe.clean.clusters import (
    CLUSTER_COLUMNS,
    Edges,
    allowed,
    attach,
    blocks_of,
    explain,
    field_keys,
    preference,
)
from csframe.clean.contacts import CONTACT_COLUMNS, ensure_clean
from csframe.clean.fields import CUSTOM
from csframe.clean.fields import resolve as resolve_fields
from csframe.clean.merging import assemble, decided_of, merge_clusters, merging, row_ids
from csframe.scale import dask_dataframe

_TEXT = [c for c in linkage.KEY_COLUMNS if c != "personal"]
# per-row columns of the keys frame besides KEY_COLUMNS
_EXTRA = {"pos": "int64", "score0": "float64", "score1": "float64", "last_sound": "str",
          "name_set": "str"}  # fmt: skip
_CMP_COLUMNS = [c for c in linkage.KEY_COLUMNS if c != "name_key"] + list(linkage.SHARE_COLUMNS)
_SEP = "\x1f"
PAIR_ROWS = 20_000  # rows per partition of the pair stages (their pairs are compared at once)


def _config() -> Any:
    import dask

    # keep csframe's pandas "str" columns as they are (Dask would convert them)
    return dask.config.set({"dataframe.convert-string": False})


# ----------------------------------------------------------------------------- 1. row keys


def _field_sample(c: Any) -> pd.DataFrame:
    """An empty frame with ``c``'s columns, plus the first 500 filled values of each
    ``custom_N`` column: what :func:`fields.resolve` reads to find a date of birth."""
    meta = c._meta
    customs = [col for col in meta.columns if str(col) in CUSTOM]
    sample = {}
    for col in customs:
        got: list[pd.Series] = []
        for k in range(c.npartitions):  # usually the first partition has enough
            s = c[col].partitions[k].compute()
            s = s[s.notna() & (s.astype("str").str.strip() != "")]
            got.append(s)
            if sum(map(len, got)) >= 500:
                break
        sample[col] = pd.concat(got).head(500).reset_index(drop=True)
    out = meta.iloc[:0].reset_index(drop=True)
    if sample:
        size = max(len(s) for s in sample.values())
        out = out.reindex(range(size))
        for col, s in sample.items():
            out[col] = s.reindex(range(size)).astype(object)
    return out


def _keys_meta() -> pd.DataFrame:
    cols = {c: pd.Series([], dtype="str") for c in _TEXT}
    cols["personal"] = pd.Series([], dtype=bool)
    cols.update({c: pd.Series([], dtype=t) for c, t in _EXTRA.items()})
    return pd.DataFrame(cols)


def _row_keys(
    part: pd.DataFrame,
    cols: dict[str, str | None],
    keep: str | Callable,
    offsets: list[int],
    partition_info: dict | None = None,
) -> pd.DataFrame:
    """The match keys, block values, preference scores and global position of each row."""
    k = linkage.match_keys(part, field_keys(part, cols))
    score0, score1 = preference(part, keep)
    k = k.reset_index(drop=True)
    start = offsets[partition_info["number"]] if partition_info else 0
    k["pos"] = np.arange(start, start + len(k), dtype=np.int64)
    k["score0"], k["score1"] = score0, score1
    # the block values prepare() codes: Soundex of the surname, the set of both names
    last = k["last_name"].to_numpy(dtype=object, na_value=None)
    codes, uniq = pd.factorize(last, use_na_sentinel=True)
    sound = linkage._soundex(np.asarray(uniq, dtype=object))
    k["last_sound"] = pd.Series(
        np.where(codes >= 0, sound[np.maximum(codes, 0)] if len(sound) else None, None),
        dtype="str",
    )
    first = k["first_name"]
    lo = first.where(first <= k["last_name"], k["last_name"])
    hi = first.where(first > k["last_name"], k["last_name"])
    both = first.notna() & k["last_name"].notna()
    k["name_set"] = (lo + _SEP + hi).where(both).astype("str")
    return k[list(_keys_meta().columns)]


# ----------------------------------------------------------------------------- 2. shares


def _counts(keys: Any) -> tuple[dict[str, tuple[int, int]], dict[str, Any]]:
    """Per field (Σ count², filled rows), and per TF field a dask Series: value → share of
    the list (names: the larger of the shares in either column, as pandas)."""
    import dask

    vc = {f: keys[f].value_counts() for f in linkage.FIELD_ORDER}
    sq = {f: (v.astype("int64") ** 2).sum() for f, v in vc.items()}
    filled = {f: v.sum() for f, v in vc.items()}
    sq, filled = dask.compute(sq, filled)
    counts = {f: (int(sq[f]), int(filled[f])) for f in linkage.FIELD_ORDER}
    share = {}
    for f in linkage.TF_FIELDS:
        share[f] = vc[f].astype("int64") / max(counts[f][1], linkage.MIN_ROWS)
    names = (
        share["first_name"]
        .to_frame("a")
        .merge(share["last_name"].to_frame("b"), left_index=True, right_index=True, how="outer")
        .fillna(0.0)
    )
    both = names["a"].where(names["a"] >= names["b"], names["b"])
    share["first_name"] = share["last_name"] = both
    return counts, share


def _with_shares(keys: Any, share: dict[str, Any], counts: dict[str, tuple[int, int]]) -> Any:
    """The keys frame with each row's share of its TF values (``share_<field>``)."""
    out = keys[["pos", *[c for c in linkage.KEY_COLUMNS if c != "name_key"]]]
    for f in linkage.TF_FIELDS:
        if not counts[f][1]:  # no values at all (the list has no such column)
            out = out.assign(**{f"share_{f}": np.nan})
            continue
        table = share[f].rename_axis("__value").to_frame(f"share_{f}").reset_index()
        # rows without a value join on a key of their own: all on one key, they would all
        # hash into one partition
        out = out.map_partitions(_join_key, f, meta=out._meta.assign(__key=pd.Series(dtype="str")))
        out = out.merge(table, left_on="__key", right_on="__value", how="left")
        out = out.drop(columns=["__key", "__value"])
    return out


def _join_key(k: pd.DataFrame, f: str) -> pd.DataFrame:
    """``k`` with ``__key``: the value of ``f``, or a key no value has (NUL + position)."""
    key = k[f].astype("str")
    missing = key.isna()
    if missing.any():
        key = key.where(~missing, "\x00" + k["pos"].astype("str"))
    return k.assign(__key=key.astype("str"))


# ----------------------------------------------------------------------------- 3. candidates


def _block_rows(k: pd.DataFrame, blocks: list[tuple[str, ...]]) -> pd.DataFrame:
    """One row per row and blocking key it has: (key, pos, name_key)."""
    parts = []
    for b, fields in enumerate(blocks):
        cols = list(fields)
        ok = k[cols].notna().all(axis=1).to_numpy(bool)
        if not ok.any():
            continue
        sub = k.loc[ok]
        key = pd.Series(f"{b}{_SEP}", index=sub.index, dtype="str")
        for col in cols:
            key = key + _SEP + sub[col]
        parts.append(pd.DataFrame({"key": key, "pos": sub["pos"], "name_key": sub["name_key"]}))
    if not parts:
        return _block_meta()
    return pd.concat(parts, ignore_index=True)


def _block_meta() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "key": pd.Series([], dtype="str"),
            "pos": pd.Series([], dtype="int64"),
            "name_key": pd.Series([], dtype="str"),
        }
    )


def _pair_meta() -> pd.DataFrame:
    return pd.DataFrame({"lo": pd.Series([], dtype="int64"), "hi": pd.Series([], dtype="int64")})


def _pairs_in_blocks(b: pd.DataFrame, window: int) -> pd.DataFrame:
    """Pairs of a partition holding whole blocks: as pandas pairs them (rows in position
    order, each with the next ``window`` by name)."""
    b = b.sort_values("pos", kind="stable")
    code = pd.factorize(b["key"], use_na_sentinel=True)[0].astype(np.int64)
    sort = pd.factorize(b["name_key"], sort=True, use_na_sentinel=True)[0].astype(np.int64)
    i, j = linkage._window_pairs(code, sort, window)
    pos = b["pos"].to_numpy(np.int64)
    lo, hi = np.minimum(pos[i], pos[j]), np.maximum(pos[i], pos[j])
    return _distinct(pd.DataFrame({"lo": lo, "hi": hi}))


def _distinct(pairs: pd.DataFrame) -> pd.DataFrame:
    return pairs.drop_duplicates(ignore_index=True)


# ----------------------------------------------------------------------------- 4. compare


def _feature_meta() -> pd.DataFrame:
    cols: dict[str, pd.Series] = {
        "lo": pd.Series([], dtype="int64"),
        "hi": pd.Series([], dtype="int64"),
    }
    cols.update({f"lv_{f}": pd.Series([], dtype="int8") for f in linkage.FIELD_ORDER})
    cols.update({c: pd.Series([], dtype=bool) for c in ("swapped", "personal", "blank_first")})
    cols.update({c: pd.Series([], dtype="float64") for c in linkage.SHARE_COLUMNS})
    return pd.DataFrame(cols)


def _compare_part(x: pd.DataFrame, name_threshold: float) -> pd.DataFrame:
    """Levels and scoring features of pairs carrying both rows' keys (``*_i``, ``*_j``)."""
    m = len(x)
    if not m:
        return _feature_meta()
    side = [
        x[[f"{c}_{s}" for c in cols]].set_axis(cols, axis=1)
        for s, cols in (("i", _CMP_COLUMNS), ("j", _CMP_COLUMNS[: -len(linkage.SHARE_COLUMNS)]))
    ]
    rows = pd.concat(side, ignore_index=True)  # side j's shares: NaN (not read)
    p = linkage.prepare(rows)
    li = np.arange(m, dtype=np.int64)
    lj = li + m
    cmp = linkage.compare(p, li, lj, name_threshold)
    feat = linkage.features(p, li, lj, cmp)
    out = {"lo": x["lo"].to_numpy(np.int64), "hi": x["hi"].to_numpy(np.int64)}
    out.update({f"lv_{f}": feat["levels"][f].astype(np.int8) for f in linkage.FIELD_ORDER})
    out.update({c: feat[c] for c in ("swapped", "personal", "blank_first")})
    out.update({f"share_{f}": feat["share"][f] for f in linkage.TF_FIELDS})
    return pd.DataFrame(out)


def _unpack(f: pd.DataFrame) -> dict:
    """The :func:`linkage.features` dict of a features partition."""
    return {
        "levels": {n: f[f"lv_{n}"].to_numpy(np.int8) for n in linkage.FIELD_ORDER},
        "swapped": f["swapped"].to_numpy(bool),
        "personal": f["personal"].to_numpy(bool),
        "blank_first": f["blank_first"].to_numpy(bool),
        "share": {n: f[f"share_{n}"].to_numpy(float) for n in linkage.TF_FIELDS},
    }


def _pattern_counts(f: pd.DataFrame) -> pd.Series:
    codes = linkage.pattern_codes(_unpack(f)["levels"])
    return pd.Series(codes).value_counts()


# ----------------------------------------------------------------------------- 6. score


def _edge_meta() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lo": pd.Series([], dtype="int64"),
            "hi": pd.Series([], dtype="int64"),
            "weight": pd.Series([], dtype="float64"),
            "agree": pd.Series([], dtype="int64"),
            "swapped": pd.Series([], dtype=bool),
            "conflict": pd.Series([], dtype="int64"),
        }
    )


def _score_part(
    f: pd.DataFrame, model: linkage.Model, threshold: float, chosen: tuple[str, ...]
) -> pd.DataFrame:
    """The links of a features partition that the chosen rules allow."""
    i, j = f["lo"].to_numpy(np.int64), f["hi"].to_numpy(np.int64)
    links = linkage.score_features(i, j, _unpack(f), model, threshold)
    sel = np.flatnonzero(links.linked & allowed(chosen, links.levels))
    return pd.DataFrame(
        {
            "lo": i[sel],
            "hi": j[sel],
            "weight": links.weight[sel],
            "agree": links.agree[sel],
            "swapped": links.swapped[sel],
            "conflict": links.conflict[sel],
        }
    )


# ----------------------------------------------------------------------------- fetching rows


# what clusters.explain() reads of a row: the fields of its review checks and conflict
# texts, and the preference scores; the other keys stay on the workers
_EXPLAIN_COLUMNS = ["pos", "first_name", "phone", "email", "dob", "score0", "score1"]


def _take(part: pd.DataFrame, want: np.ndarray, columns: list[str] | None) -> pd.DataFrame:
    got = part[np.isin(part["pos"].to_numpy(np.int64), want)]
    return got if columns is None else got[columns]


def _fetch(
    keys: Any, offsets: list[int], positions: np.ndarray, columns: list[str] | None = None
) -> pd.DataFrame:
    """The keys of the rows at ``positions`` (sorted, distinct), in that order, as a frame
    :func:`linkage.prepare` takes; each partition gets only the positions it holds. With
    ``columns``, only those are sent; the other keys come back empty (missing)."""
    import dask

    tasks = []
    for k, part in enumerate(keys.to_delayed()):
        lo, hi = np.searchsorted(positions, [offsets[k], offsets[k + 1]])
        if hi > lo:
            tasks.append(dask.delayed(_take)(part, positions[lo:hi], columns))
    got = pd.concat(dask.compute(*tasks), ignore_index=True) if tasks else keys._meta
    got = got.sort_values("pos", kind="stable", ignore_index=True)
    if columns is not None:
        meta = keys._meta
        empty = {
            c: np.zeros(len(got), bool) if meta[c].dtype == bool
            else pd.Series(None, index=got.index, dtype=meta[c].dtype)
            for c in meta.columns if c not in columns
        }  # fmt: skip
        got = got.assign(**empty)[list(meta.columns)]
    return got


# ----------------------------------------------------------------------------- 7. attach


def _attach_part(part: pd.DataFrame, r: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    rule = np.asarray([*labels, None], dtype=object)[r["rule"].to_numpy(np.int64)]
    arrays = {
        "codes": r["codes"].to_numpy(np.int64),
        "size": r["size"].to_numpy(np.int64),
        "rule": rule,
        "weight": r["weight"].to_numpy(float),
        "has": r["has"].to_numpy(bool),
        "review": r["review"].to_numpy(bool),
        "review_reason": r["review_reason"].to_numpy(dtype=object, na_value=""),
        "survivor": r["survivor"].to_numpy(bool),
    }
    return attach(part, arrays, labels)


def _on_workers(frames: list[pd.DataFrame], meta: pd.DataFrame) -> Any:
    """A dask frame of ``frames`` (pieces made on the driver), persisted on the workers.

    The pieces travel inside the graph, under names of their own (not hashed: hashing
    every piece would cost a pass over the data), so that the scheduler can send a piece
    again when the worker holding it dies. ``client.scatter`` would be lighter, but a
    scattered piece dies with its worker, and then the result can never be computed."""
    import uuid

    import dask

    dd = dask_dataframe()
    tag = uuid.uuid4().hex
    parts = [dask.delayed(f, name=f"csframe-clusters-{tag}-{k}") for k, f in enumerate(frames)]
    with warnings.catch_warnings():  # the graph is large by design (see above)
        warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
        return dd.from_delayed(parts, meta=meta, verify_meta=False).persist()


# ----------------------------------------------------------------------------- the driver


def duplicates(
    ddf: Any,
    chosen: tuple[str, ...],
    *,
    default_region: str | None,
    mapping: dict[str, str] | None,
    fields: dict[str, str | None] | None,
    threshold: float,
    name_threshold: float,
    keep: str | Callable,
) -> Any:
    """:func:`csframe.clean.duplicates` of a dask DataFrame (arguments checked there): a
    lazy dask frame, partitioned like ``ddf``, equal to the pandas result."""
    dask_dataframe()  # a clear error when the dask extra is missing
    with _config():
        c = ensure_clean(ddf, default_region, mapping=mapping, func="duplicates")
        c = c.drop(columns=[k for k in CLUSTER_COLUMNS if k in c.columns])
        if not callable(keep):
            preference(c._meta, keep)  # a bad keep= fails here, not on a worker
        cols = resolve_fields(c._meta, fields)
        if cols["dob"] is None and "dob" not in (fields or {}):  # a custom_N column of dates?
            cols = resolve_fields(_field_sample(c), fields)
        lengths = [int(x) for x in ddf.map_partitions(len).compute()]
        offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64).tolist()
        n = offsets[-1]
        keys = c.map_partitions(_row_keys, cols, keep, offsets, meta=_keys_meta()).persist()
        counts, share = _counts(keys)
        # pairs run to ~25 a row on lists with common names: small partitions for them
        nparts = max(keys.npartitions, -(-n // PAIR_ROWS))

        # 3. candidate pairs through the shuffle, once per blocking key
        blocks = blocks_of(chosen)
        brows = keys.map_partitions(_block_rows, blocks, meta=_block_meta())
        pairs = brows.shuffle(on="key", npartitions=nparts).map_partitions(
            _pairs_in_blocks, linkage.WINDOW, meta=_pair_meta()
        )
        pairs = pairs.shuffle(on="lo", npartitions=nparts).map_partitions(
            _distinct, meta=_pair_meta()
        )

        # 4. both rows' keys to each pair, compared where they meet
        rows = _with_shares(keys, share, counts)
        # the shares are read on side i only (features() takes a value's share from there)
        side = {
            s: part.rename(columns={c: f"{c}_{s}" for c in part.columns})
            for s, part in (("i", rows), ("j", rows.drop(columns=list(linkage.SHARE_COLUMNS))))
        }
        both = pairs.merge(side["i"], left_on="lo", right_on="pos_i", how="inner").merge(
            side["j"], left_on="hi", right_on="pos_j", how="inner"
        )
        feats = both.map_partitions(_compare_part, name_threshold, meta=_feature_meta())
        feats = feats.persist()

        # 5. the model, on the driver
        pc = feats.map_partitions(_pattern_counts, meta=pd.Series([], dtype="int64")).compute()
        pc = pc.groupby(level=0).sum().sort_index()
        ri, rj = linkage.random_pairs(n, linkage.random_sample_size(n), 0)
        rand: dict[str, np.ndarray] = {}
        if len(ri):
            need = np.unique(np.r_[ri, rj])
            got = _fetch(keys, offsets, need)
            rp = linkage.prepare(got)
            loc = np.searchsorted(need, ri), np.searchsorted(need, rj)
            rand = linkage.compare(rp, loc[0], loc[1], name_threshold, swaps=False)["levels"]
        u = linkage.u_probabilities(counts, rand)
        m, prior = linkage.em(pc.index.to_numpy(np.int64), pc.to_numpy(np.int64), n)
        model = linkage.Model(m, u, prior, n)

        # 6. links to the driver, explained there
        e = feats.map_partitions(_score_part, model, threshold, chosen, meta=_edge_meta())
        e = e.compute().sort_values(["lo", "hi"], ignore_index=True)
        edges = Edges(
            e["lo"].to_numpy(np.int64),
            e["hi"].to_numpy(np.int64),
            e["weight"].to_numpy(float),
            e["agree"].to_numpy(np.int64),
            e["swapped"].to_numpy(bool),
            e["conflict"].to_numpy(np.int64),
        )
        del feats

        def rows_of(sub: np.ndarray) -> tuple[linkage.Prepared, np.ndarray, np.ndarray, np.ndarray]:
            got = _fetch(keys, offsets, sub, _EXPLAIN_COLUMNS)
            return (
                linkage.prepare(got),
                np.arange(len(got)),
                got["score0"].to_numpy(float),
                got["score1"].to_numpy(float),
            )

        r = explain(n, edges, rows_of)
        labels = sorted(set(r["rule"][r["has"]].tolist()))
        rule_code = pd.Categorical(r["rule"], categories=labels).codes.astype(np.int64)
        rule_code[rule_code < 0] = len(labels)
        frame = pd.DataFrame(
            {
                "codes": r["codes"],
                "size": r["size"],
                "rule": rule_code,
                "weight": r["weight"],
                "has": r["has"],
                "review": r["review"],
                "review_reason": pd.Series(r["review_reason"], dtype=object),
                "survivor": r["survivor"],
            }
        )
        pieces = [frame.iloc[offsets[k] : offsets[k + 1]] for k in range(len(lengths))]
        res = _on_workers(pieces, frame.iloc[:0])
        meta = _attach_part(c._meta, frame.iloc[:0], labels)
        out = c.map_partitions(_attach_part, res, labels, align_dataframes=False, meta=meta)
        return out


# ----------------------------------------------------------------------------- dedupe


def _merge_rows(part: pd.DataFrame, decided: dict[int, str], partition_info=None) -> pd.DataFrame:
    """The rows of a duplicates() partition that dedupe() merges, with their partition and
    position in it."""
    merge = merging(part, decided)
    number = partition_info["number"] if partition_info else 0
    return part[merge].assign(__part=number, __pos=np.flatnonzero(merge))


def _merge_part(
    rows: pd.DataFrame, keep: str | Callable, cols: dict[str, str | None]
) -> pd.DataFrame:
    """One merged row per cluster of ``rows`` (whole clusters, shuffled here by cluster id),
    as pandas merges them, with the survivor's partition (``__part``), its position there
    (``_pos``) and its index label (``__index``)."""
    # back in the list's order, so that ties of preference go to the earlier row as in pandas
    rows = rows.sort_values(["__part", "__pos"], kind="stable")
    part = rows.pop("__part").to_numpy(np.int64)
    pos = rows.pop("__pos").to_numpy(np.int64)
    score0, score1 = preference(rows, keep)
    merged = merge_clusters(rows, score0, score1, row_ids(rows, cols), cols)
    survivor = merged["_pos"].to_numpy(np.int64)  # its position in rows
    return merged.assign(__part=part[survivor], _pos=pos[survivor], __index=merged.index)


def _dedupe_part(
    part: pd.DataFrame,
    merged: pd.DataFrame,
    decided: dict[int, str],
    cols: dict[str, str | None],
) -> pd.DataFrame:
    """dedupe() of one partition: its rows that stay, and the merged rows whose survivor
    is here (``_pos`` in this partition, ``__index`` their label), in position order."""
    merge = merging(part, decided)
    merged = merged.set_index("__index").rename_axis(part.index.name)
    return assemble(part, np.flatnonzero(~merge), row_ids(part, cols), merged)


def dedupe(d: Any, keep: str | Callable, decisions: Any, *, mapping: dict[str, str] | None) -> Any:
    """:func:`csframe.clean.dedupe` of a dask duplicates() frame ``d``, all on the workers:
    the rows of merged clusters are shuffled on the cluster id, merged where a cluster
    meets, and each merged row goes to its survivor's partition; every other row stays
    where it is. The merged rows are computed here and kept on the workers; the rest of
    the result is lazy. Nothing but the ids named in ``decisions`` comes to the driver."""
    with _config():
        known: set[int] = set()
        if decisions is not None:  # only the ids the decisions name are looked up
            asked = _decision_ids(decisions)
            found = d["cluster_id"][d["cluster_id"].isin(asked)].unique().compute()
            known = {int(x) for x in found.dropna()}
        decided = decided_of(decisions, known)
        cols = resolve_columns(d._meta, CONTACT_COLUMNS, mapping, func="dedupe")
        if not callable(keep):
            preference(d._meta, keep)  # a bad keep= fails here, not on a worker
        mmeta = d._meta.assign(__part=np.empty(0, np.int64), __pos=np.empty(0, np.int64))
        rows = d.map_partitions(_merge_rows, decided, meta=mmeta)
        # a cluster's rows meet in one partition (clusters are small: any count will do). The
        # task shuffle moves pandas frames as they are: the user's columns may mix types
        # (a phone column of numbers and text), which the P2P shuffle's Arrow cannot carry.
        rows = rows.shuffle(on="cluster_id", npartitions=d.npartitions, shuffle_method="tasks")
        merged = rows.map_partitions(_merge_part, keep, cols, meta=_merge_part(mmeta, keep, cols))
        # partition k of the result holds the merged rows whose survivor is in d's partition k
        merged = merged.set_index(
            "__part", divisions=list(range(d.npartitions + 1)), shuffle_method="tasks"
        )
        # kept on the workers: computed with the result, every partition of d would be held
        # until the shuffle ends (the whole list at once); this way the result streams d
        merged = merged.persist()
        meta = _dedupe_part(d._meta, merged._meta, decided, cols)
        return d.map_partitions(
            _dedupe_part, merged, decided, cols, align_dataframes=False, meta=meta
        )


def _decision_ids(decisions: Any) -> list[int]:
    """The cluster ids ``decisions`` (a frame or a dict) names, as far as they are numbers."""
    ids = list(decisions) if isinstance(decisions, dict) else None
    if ids is None and isinstance(decisions, pd.DataFrame) and "cluster_id" in decisions:
        ids = decisions["cluster_id"].tolist()
    out = pd.to_numeric(pd.Series(ids or [], dtype=object), errors="coerce").dropna()
    return [int(x) for x in out]
