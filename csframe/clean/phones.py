"""Phone numbers → E.164, validity, number type, region and a reason when they fail.

Pipeline (each step over unique values only):

1. text coercion (ints/floats from spreadsheets lose no digits; NaN/None → empty);
2. vectorised clean-up of unique raw strings: unicode digits → ASCII, NBSP and zero-width
   characters, extensions (``x123``, ``ext. 12``), labels (``Mob: ...``), separators;
3. one parse per unique (candidate, region) pair: a vectorised replay of phonenumbers'
   metadata rules (``_phone_engine``), and plain ``phonenumbers.parse`` for the rest — over a
   process pool when there are many;
4. vectorised classification (valid, possible, type, region) from phonenumbers' metadata;
5. second chances for invalid rows: ``00`` read as ``+`` first and as a national number
   second, and long national numbers that are valid once a ``+`` is put in front (exported
   spreadsheets drop the ``+``).
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from csframe.clean import _phone_engine as eng
from csframe.clean._common import CleanInputError, as_text, ascii_fold, pick, take_str
from csframe.clean._phone_engine import _np
from csframe.clean.regions import SUPPORTED, check_region, regions_for
from csframe.scale import is_dask

PHONE_REASONS = (
    "empty",
    "not_a_number",
    "too_short",
    "too_long",
    "invalid_length",
    "local_only",
    "no_region",
    "invalid_country_code",
    "invalid_number",
)
PHONE_TYPES = tuple(eng.TYPE_NAMES.values())
PHONE_REGIONS = tuple(sorted(SUPPORTED | {eng.NON_GEO}))

_EXT = r"(?i)\s*[,;]?\s*(?:ext\.?|extn\.?|extension|x|#)\s*(?P<ext>\d{1,7})\s*$"
_PLAIN = r"^\+?\d(?:[\d .\-]*\d)?$"  # RE2: \d is ASCII 0-9
# When the whole pipeline is split over processes: from PROCESS_ROWS rows when the pool is
# running; when it must start first, only where the workers win its start back. Measured
# here: ~3.2 µs of work a row in one process, ~1.1 µs a row to ship rows out and results
# back, ~0.8 s to start the pool (fresh interpreters importing pandas, pyarrow and
# phonenumbers). That is from ~1.6 million rows on two workers, ~600,000 on four.
PROCESS_ROWS = 200_000
ROW_SECONDS = 3.2e-6
SHIP_SECONDS = 1.1e-6
POOL_START_SECONDS = 0.8
POOL_THRESHOLD = 20_000  # unique slow-path values before a process pool pays for itself


def phones(
    values: pd.Series | Iterable[object],
    default_region: str | None = None,
    region_column: pd.Series | Iterable[object] | None = None,
    *,
    prefix: str = "phone",
    workers: int | None = None,
) -> pd.DataFrame:
    """Normalise phone numbers to E.164 and say why the others fail.

    Parameters
    ----------
    values : Series or list-like
        Raw numbers in any format: national, international, ``00``/IDD prefixes, missing
        ``+``, spaces/dots/dashes/brackets, extensions, ints or floats from spreadsheets,
        unicode digits, NBSP and zero-width characters, None/NaN.
    default_region : str, optional
        Region for numbers written without a country code: ISO alpha-2 (``"AU"``) or a
        country name. Usually the account's country.
    region_column : Series, optional
        Per-row region (codes or country names, e.g. a contacts frame's
        ``address_country``); rows where it is empty or unknown use ``default_region``.
    prefix : str
        Output column prefix (``"phone"`` → ``phone_e164``, ...).
    workers : int, optional
        Processes to use (default: all cores). From 200,000 rows once it runs, and when
        it must start first from where the workers win its start-up back (~1.6 million
        rows on two cores, ~600,000 on four), the work is split over a session-wide
        process pool (forkserver); the
        phonenumbers fallback path uses processes from 20,000 unique fallback values.
        ``workers=1`` keeps everything in this process. As with any multiprocessing, a script must guard its entry point
        with ``if __name__ == "__main__":`` (notebooks need nothing).

    Returns
    -------
    DataFrame with the input's index and columns ``{prefix}_e164`` (str, set when the number
    parses to a possible length), ``{prefix}_valid`` and ``{prefix}_possible`` (boolean),
    ``{prefix}_type`` and ``{prefix}_region`` (category), ``{prefix}_reason`` (category,
    NA when valid: one of ``PHONE_REASONS``) and ``{prefix}_extension`` (str).

    Example
    -------
    >>> import pandas as pd
    >>> from csframe import clean
    >>> out = clean.phones(pd.Series(["0412 345 678", "+44 20 7946 0958 x12", "12"]),
    ...                    default_region="AU")
    >>> out["phone_e164"].tolist()
    ['+61412345678', '+442079460958', nan]
    >>> out["phone_reason"].tolist()
    [nan, nan, 'too_short']
    """
    if is_dask(values):  # partition by partition on the cluster (csframe.scale.clean)
        from csframe.scale import clean as on_dask

        return on_dask.phones(
            phones, values, default_region, region_column, prefix=prefix, workers=workers
        )
    text = as_text(values, func="phones", name="values")
    default = check_region(default_region)
    if region_column is not None:
        if isinstance(region_column, str):
            raise CleanInputError(
                "phones(region_column=...) takes a Series of per-row regions; for one region "
                "for every row pass default_region=" + repr(region_column)
            )
        region_series = as_text(region_column, func="phones", name="region_column")
        if len(region_series) != len(text):
            raise CleanInputError(
                f"phones(): region_column has {len(region_series)} rows, values has {len(text)}"
            )
        region = regions_for(region_series.reset_index(drop=True), default)
    else:
        region = np.full(len(text), default, dtype=object)
    n = workers or os.cpu_count() or 1
    if n > 1 and len(text) >= _split_rows(n) and multiprocessing.parent_process() is None:
        out = _phones_parallel(text, region, n)
    else:
        out = _phones(text, region, workers)
    out.columns = [c.replace("phone", prefix, 1) for c in out.columns]
    return out


def _split_rows(n: int) -> int | float:
    """Rows from which ``n`` worker processes beat one (see ROW_SECONDS)."""
    if n in _POOL:
        return PROCESS_ROWS
    saving = ROW_SECONDS * (1 - 1 / n) - SHIP_SECONDS  # per row
    return max(PROCESS_ROWS, POOL_START_SECONDS / saving) if saving > 0 else float("inf")


def _arrow_str(s: pd.Series) -> pa.Array:
    """A ``str`` Series as an Arrow string array (its own buffers, not Python strings)."""
    arr = pa.array(s.array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.string())


def _clean_unique(raw: pd.Series) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """Clean unique raw strings → (candidate '+digits'/'digits' or null, extension or null,
    pre-reason), Arrow arrays for the first two."""
    s = _arrow_str(ascii_fold(raw))
    n = len(s)
    # Plain numbers (digits with spaces, dots or dashes, maybe a leading '+') are most of a
    # real list and need none of the label, extension and bracket clean-up: for them that
    # clean-up is the identity, so they skip ten passes over the strings.
    plain = _np(pc.fill_null(pc.match_substring_regex(s, _PLAIN), False))
    p_idx, o_idx = np.flatnonzero(plain), np.flatnonzero(~plain)
    p_s = s.take(pa.array(p_idx))
    o_digits, o_ext, o_plus, o_junk, o_empty = _clean_other(s.take(pa.array(o_idx)))
    # back to the input's order: concatenated plain + other, then taken by position
    back = np.empty(n, dtype=np.int64)
    back[np.concatenate([p_idx, o_idx])] = np.arange(n)
    p_digits = pc.replace_substring_regex(p_s, r"\D+", "")
    digits = pa.concat_arrays([p_digits, o_digits]).take(pa.array(back))
    ext = pa.concat_arrays([pa.nulls(len(p_idx), pa.string()), o_ext]).take(pa.array(back))
    plus, junk, empty = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, bool)
    plus[p_idx] = _np(pc.starts_with(p_s, "+"))
    plus[o_idx], junk[o_idx], empty[o_idx] = o_plus, o_junk, o_empty
    ndig = _np(pc.fill_null(pc.utf8_length(digits), 0)).astype(np.int64)
    reason = np.full(n, None, dtype=object)
    reason[ndig > 20] = "too_long"
    reason[ndig < 3] = "too_short"
    reason[(ndig == 0) | junk] = "not_a_number"
    reason[empty] = "empty"
    cand = pc.if_else(pa.array(plus), pc.binary_join_element_wise("+", digits, ""), digits)
    cand = pc.if_else(pa.array(np.equal(reason, None)), cand, pa.scalar(None, pa.string()))
    return cand, ext, reason


def _clean_other(s: pa.Array) -> tuple[pa.Array, pa.Array, np.ndarray, np.ndarray, np.ndarray]:
    """Labels, extensions, brackets and junk off non-plain strings → (digits, extension,
    written with '+', junk left, empty)."""
    s = pc.utf8_trim_whitespace(s)
    ext = pc.struct_field(pc.extract_regex(s, _EXT), [0])
    s = pc.replace_substring_regex(s, _EXT, "")
    core = pc.replace_substring_regex(s, r"(?:\s*\([^\d)]*\))+\s*$", "")  # "(home)"
    core = pc.replace_substring_regex(core, r"^[^\d+(]+", "")
    core = pc.replace_substring_regex(core, r"[^\d)]+$", "")
    plus = _np(pc.fill_null(pc.match_substring_regex(core, r"^\(?\s*\+"), False))
    body = pc.replace_substring_regex(core, r"^\(?\s*\+", "")
    junk = _np(pc.fill_null(pc.match_substring_regex(body, r"[^\d\s\-./()\[\]]"), False))
    digits = pc.replace_substring_regex(body, r"\D+", "")
    empty = _np(pc.fill_null(pc.equal(s, ""), True))
    return digits, ext, plus.astype(bool), junk.astype(bool), empty.astype(bool)


_POOL: dict[int, ProcessPoolExecutor] = {}


def _pool(n: int) -> ProcessPoolExecutor:
    """A process pool kept for the session (forkserver: workers start from a clean process
    with this module preloaded, so there is no fork of a threaded pyarrow process)."""
    if n not in _POOL:
        ctx = get_context("forkserver")
        ctx.set_forkserver_preload(["csframe.clean.phones"])
        _POOL[n] = ProcessPoolExecutor(max_workers=n, mp_context=ctx)
        atexit.register(shutdown_pool)
    return _POOL[n]


def shutdown_pool() -> None:
    """Stop the worker processes phones() keeps for the session (they restart on demand)."""
    while _POOL:
        _, pool = _POOL.popitem()
        pool.shutdown(wait=True, cancel_futures=True)


def _phones_chunk(args) -> pd.DataFrame:
    text, region = args
    return _phones(text, region, 1)


def _phones_parallel(text: pd.Series, region: np.ndarray, n: int) -> pd.DataFrame:
    """Both cores: contiguous row chunks through the whole pipeline in worker processes."""
    bounds = np.linspace(0, len(text), n + 1).astype(int)
    chunks = [(text.iloc[a:b], region[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    try:
        parts = list(_pool(n).map(_phones_chunk, chunks))
    except (OSError, RuntimeError, AssertionError, BrokenProcessPool):
        # no worker processes here (sandboxed, daemonic, ...): do it in-process
        _POOL.pop(n, None)
        return _phones(text, region, 1)
    out = pd.concat(parts)
    for col in ("phone_type", "phone_region", "phone_reason"):
        out[col] = out[col].astype(parts[0][col].dtype)
    return out


def _reference(items: list[tuple[str, str | None]], workers: int | None) -> list[tuple]:
    if len(items) < POOL_THRESHOLD or workers == 1 or multiprocessing.parent_process():
        return eng.reference_parse_many(items)
    n = workers or os.cpu_count() or 1
    size = max(1000, -(-len(items) // (n * 4)))
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    try:
        parts = list(_pool(n).map(eng.reference_parse_many, chunks))
    except (OSError, RuntimeError, AssertionError, BrokenProcessPool):
        _POOL.pop(n, None)
        return eng.reference_parse_many(items)
    return [r for part in parts for r in part]


def _attempt(digits: np.ndarray, plus: np.ndarray, region: np.ndarray, workers) -> dict:
    """Parse + classify unique candidates: e164, valid, length, type, region, reason."""
    parsed = eng.parse(digits, plus, region)
    slow = np.flatnonzero(parsed.slow)
    if len(slow):
        items = [(("+" if plus[i] else "") + digits[i], region[i]) for i in slow.tolist()]
        for i, (e164, reason) in zip(slow.tolist(), _reference(items, workers), strict=True):
            parsed.e164[i], parsed.reason[i] = e164, reason
    ok = np.flatnonzero(~np.equal(parsed.e164, None))
    n = len(digits)
    valid = np.zeros(n, bool)
    length = np.full(n, eng.INVALID_LENGTH, np.int8)
    ntype = np.full(n, -1, np.int8)
    reg = np.full(n, None, dtype=object)
    if len(ok):
        c = eng.classify(parsed.e164[ok])
        valid[ok], length[ok], ntype[ok], reg[ok] = c.valid, c.length, c.ntype, c.region
    return {
        "e164": parsed.e164,
        "reason": parsed.reason,
        "valid": valid,
        "length": length,
        "type": ntype,
        "region": reg,
    }


def _merge(base: dict, alt: dict, idx: np.ndarray) -> None:
    """Where the alternative reading of rows idx is valid, take it."""
    take = alt["valid"]
    for key in base:
        base[key][idx[take]] = alt[key][take]


def _resolve(c: np.ndarray, regs: np.ndarray, workers) -> dict:
    """Parse and classify unique candidates, with second readings for the invalid ones."""
    ca = pa.array(c, type=pa.string())
    plus = _np(pc.starts_with(ca, "+"))
    dz = ~plus & _np(pc.starts_with(ca, "00")) & (_np(pc.utf8_length(ca)) > 4)
    digits = _np(
        pc.if_else(
            pa.array(plus),
            pc.utf8_slice_codeunits(ca, 1),
            pc.if_else(pa.array(dz), pc.utf8_slice_codeunits(ca, 2), ca),
        )
    )
    res = _attempt(digits, plus | dz, regs, workers)
    # '00…' as phonenumbers reads it (the region's own IDD, such as TW's 002, or a national
    # number) wins when valid; '00' as '+' stays only where that reading is invalid
    retry = np.flatnonzero(dz)
    if len(retry):
        _merge(res, _attempt(c[retry], np.zeros(len(retry), bool), regs[retry], workers), retry)
    # long national numbers that are valid with a '+' in front (the '+' was lost)
    da = pa.array(digits, type=pa.string())
    lens = _np(pc.utf8_length(da))
    starts0 = _np(pc.starts_with(da, "0"))
    retry = np.flatnonzero(~plus & ~dz & ~starts0 & (lens >= 11) & ~res["valid"])
    if len(retry):
        alt = _attempt(digits[retry], np.ones(len(retry), bool), regs[retry], workers)
        _merge(res, alt, retry)
    return res


def _phones(text: pd.Series, region: np.ndarray, workers: int | None) -> pd.DataFrame:
    n = len(text)
    raw_codes, raw_uniques = pd.factorize(text, use_na_sentinel=True)
    cand, ext, pre_reason = _clean_unique(pd.Series(raw_uniques, dtype="str"))
    # unique (candidate, region) pairs
    encoded = pc.dictionary_encode(cand)
    cand_codes_u = _np(pc.fill_null(encoded.indices, -1)).astype(np.int64)
    cand_uniques = _np(encoded.dictionary)
    # pick(): an all-empty column has no unique values to index
    cand_codes = pick(cand_codes_u, raw_codes, -1)
    reg_codes, reg_uniques = pd.factorize(pd.Series(region, dtype=object), use_na_sentinel=True)
    nreg = len(reg_uniques) + 1
    pair = np.where(cand_codes >= 0, cand_codes.astype(np.int64) * nreg + (reg_codes + 1), -1)
    pair_codes, pair_uniques = pd.factorize(pair)
    has = pair_uniques >= 0
    pc_idx = np.where(has, pair_uniques // nreg, 0)
    pr_idx = np.where(has, pair_uniques % nreg, 0)
    cands = (
        np.asarray(cand_uniques, dtype=object)[pc_idx]
        if len(cand_uniques)
        else np.array([""] * len(pair_uniques), dtype=object)
    )
    regs = np.array([None, *list(reg_uniques)], dtype=object)[pr_idx]
    m = len(pair_uniques)
    res = {
        "e164": np.full(m, None, dtype=object),
        "reason": np.full(m, None, dtype=object),
        "valid": np.zeros(m, bool),
        "length": np.full(m, eng.INVALID_LENGTH, np.int8),
        "type": np.full(m, -1, np.int8),
        "region": np.full(m, None, dtype=object),
    }
    live = np.flatnonzero(has)
    if len(live):
        part = _resolve(cands[live], regs[live], workers)
        for key in res:
            res[key][live] = part[key]
    # reasons and outputs per unique pair
    parsed = ~np.equal(res["e164"], None)
    possible = parsed & ((res["length"] == eng.IS_POSSIBLE) | (res["length"] == eng.LOCAL_ONLY))
    reason = res["reason"].copy()
    need = parsed & ~res["valid"]
    reason[need] = [eng.LENGTH_REASON.get(int(x), "invalid_number") for x in res["length"][need]]
    reason[res["valid"]] = None
    e164 = np.where(parsed & (res["length"] == eng.IS_POSSIBLE), res["e164"], None)
    type_lookup = np.full(128, "unknown", dtype=object)
    for code, name in eng.TYPE_NAMES.items():
        type_lookup[code] = name
    ntype = np.where(
        parsed, type_lookup[np.where(res["type"] >= 0, res["type"], eng.UNKNOWN)], None
    )
    # back to rows
    take = pair_codes
    if not n:
        return _empty(text.index)
    # pre-clean-up failures (empty, junk, too short/long) live on the raw uniques
    pre = _cat_codes(pre_reason, PHONE_REASONS)
    pre_row = np.where(raw_codes >= 0, pre[np.maximum(raw_codes, 0)] if len(pre) else -1, 0)
    reason_row = np.where(pre_row >= 0, pre_row, _cat_codes(reason, PHONE_REASONS)[take])
    ext_values = _np(ext)
    index = text.index
    return pd.DataFrame(
        {
            "phone_e164": take_str(e164, take, index),
            "phone_valid": pd.Series(res["valid"][take], index=index, dtype="boolean"),
            "phone_possible": pd.Series(possible[take], index=index, dtype="boolean"),
            "phone_type": pd.Categorical.from_codes(
                _cat_codes(ntype, PHONE_TYPES)[take], categories=PHONE_TYPES
            ),
            "phone_region": pd.Categorical.from_codes(
                _cat_codes(res["region"], PHONE_REGIONS)[take], categories=PHONE_REGIONS
            ),
            "phone_reason": pd.Categorical.from_codes(reason_row, categories=PHONE_REASONS),
            "phone_extension": take_str(ext_values, raw_codes, index),
        },
        index=index,
    )


def _cat_codes(values: np.ndarray, categories: tuple[str, ...]) -> np.ndarray:
    """Category codes of an object array (None → -1).

    Factorized first: looking a few distinct values up is ~10× cheaper than
    ``get_indexer`` on every element."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    lookup = np.append(pd.Index(categories).get_indexer(uniques), -1).astype(np.int16)
    return lookup[codes]  # code -1 picks the trailing -1


def _empty(index: pd.Index) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "phone_e164": pd.Series([], dtype="str"),
            "phone_valid": pd.Series([], dtype="boolean"),
            "phone_possible": pd.Series([], dtype="boolean"),
            "phone_type": pd.Categorical([], categories=PHONE_TYPES),
            "phone_region": pd.Categorical([], categories=PHONE_REGIONS),
            "phone_reason": pd.Categorical([], categories=PHONE_REASONS),
            "phone_extension": pd.Series([], dtype="str"),
        },
        index=index,
    )
