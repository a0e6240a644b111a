"""Benchmark: csframe.clean.duplicates() side by side with splink on lists with known truth.

    .venv/bin/python -m pip install -e ".[bench]"      # splink + duckdb (bench only)
    .venv/bin/python bench/linkage.py                   # ~1,000 and ~5,000 contacts, 2 seeds
    .venv/bin/python bench/linkage.py --people 1000 --seeds 1

The lists come from ``bench/listgen.py`` (Australian people with typos, swapped names,
missing fields, day-first dates of birth in six layouts, households; see its docstring):
``postal`` (names, address, suburb, postcode, date of birth in ``custom_1``), ``sms``
(mobile, email, names, postcode, date of birth), ``mixed`` and ``households`` (20% of
people share a landline with a family member).

Both sides start from the raw list and include clean.contacts() in their time (each the
best of at least three runs and one second, in one process):

- csframe : clean.contacts() + clean.duplicates() + clean.dedupe();
- splink  : clean.contacts() + the same match keys (date of birth as ISO, address and
  suburb keys) + splink 4/5 on DuckDB: u by random sampling, m by EM (two training
  blocking rules), predict with standard blocking rules (name, surname+postcode, first
  name+dob, dob+postcode; + phone and email when present), clusters at a match probability
  threshold. Its figures are shown at the threshold (0.5, 0.9, 0.95, 0.99) where its F1 is best.

Scores are pairwise over clusters against the truth: precision, recall, F1. For csframe
"linked" counts every cluster of duplicates(), "merged" only what dedupe() merges without
review. ``households`` counts pairs of different people of one household put in one
cluster without needs_review (splink has no review: every such pair counts).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

from listgen import generate, households_merged, pair_metrics  # noqa: E402

from csframe import clean  # noqa: E402
from csframe.clean.fields import address_key, parse_dates, text_key  # noqa: E402

SPLINK_THRESHOLDS = (0.5, 0.9, 0.95, 0.99)


REPEATS, MIN_SECONDS = 3, 1.0  # like timeit: at least 3 runs and 1 s per side, the best


def best(run, df):
    """(fastest wall time, result) of ``run(df)`` repeated at least REPEATS times and for at
    least MIN_SECONDS, garbage collection off while it runs (the machine is shared: the
    minimum is the cost without interference)."""
    times, out = [], None
    while len(times) < REPEATS or sum(times) < MIN_SECONDS:
        gc.collect()
        gc.disable()  # as timeit does: no collection of the other side's garbage mid-run
        try:
            t, out = run(df)
        finally:
            gc.enable()
        times.append(t)
    return min(times), out


def run_csframe(df: pd.DataFrame) -> tuple[float, pd.DataFrame]:
    t = time.perf_counter()
    c = clean.contacts(df, default_region="AU")
    d = clean.duplicates(c)
    clean.dedupe(d)
    return time.perf_counter() - t, d


def splink_frame(c: pd.DataFrame) -> pd.DataFrame:
    """The cleaned list as splink wants it: one match key per column, None when missing."""
    dob = parse_dates(c["custom_1"]) if "custom_1" in c else pd.Series(None, index=c.index)
    iso = dob.str.slice(0, 4) + "-" + dob.str.slice(4, 6) + "-" + dob.str.slice(6, 8)
    out = pd.DataFrame(
        {
            "unique_id": np.arange(len(c)),
            "first_name": c["first_name_key"],
            "last_name": c["last_name_key"],
            "dob": iso,
            "postcode": c["postcode_key"],
        }
    )
    if "address_line_1" in c:
        out["address"] = address_key(c["address_line_1"])
        out["suburb"] = text_key(c["address_city"])
    if c["phone_valid"].any():
        out["phone"] = c["phone_e164"].where(c["phone_valid"].fillna(False))
        out["email"] = c["email_match_key"].where(c["email_valid"].fillna(False))
    return out.astype(object).where(out.notna(), None)


def run_splink(df: pd.DataFrame) -> tuple[float, dict[float, np.ndarray]]:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    t = time.perf_counter()
    c = clean.contacts(df, default_region="AU")
    s = splink_frame(c)
    comparisons = [
        cl.NameComparison("first_name"),
        cl.NameComparison("last_name"),
        cl.DateOfBirthComparison("dob", input_is_string=True),
        cl.LevenshteinAtThresholds("postcode", [1]),
    ]
    rules = [
        block_on("first_name", "last_name"),
        block_on("last_name", "postcode"),
        block_on("first_name", "dob"),
        block_on("dob", "postcode"),
    ]
    if "address" in s:
        comparisons += [
            cl.JaroWinklerAtThresholds("address", [0.95, 0.88]),
            cl.JaroWinklerAtThresholds("suburb", [0.9]),
        ]
        rules.append(block_on("address", "suburb"))
    if "phone" in s:
        comparisons += [cl.ExactMatch("phone"), cl.EmailComparison("email")]
        rules += [block_on("phone"), block_on("email")]
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    db = DuckDBAPI()
    linker = Linker(db.register(s), settings, log_level="ERROR")
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "last_name", "dob")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("first_name", "last_name")
    )
    # a level never observed in a small list raises: keep the first session's m then
    with contextlib.suppress(ValueError):
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    pred = linker.inference.predict(threshold_match_probability=min(SPLINK_THRESHOLDS))
    out = {}
    for th in SPLINK_THRESHOLDS:
        cl_ = linker.clustering.cluster_pairwise_predictions_at_threshold(
            pred, threshold_match_probability=th
        ).as_pandas_dataframe()
        cl_ = cl_.set_index("unique_id")["cluster_id"].reindex(np.arange(len(s)))
        out[th] = pd.factorize(cl_)[0]
    return time.perf_counter() - t, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--people", type=int, nargs="+", default=[600, 2800])  # ~1,000 and ~5,000 rows
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--shapes", nargs="+", default=["postal", "sms", "mixed", "households"])
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    import splink

    logging.getLogger("splink").setLevel(logging.ERROR)

    print(
        f"csframe.clean.duplicates() vs splink {splink.__version__} (DuckDB), "
        f"{os.cpu_count()} cores, pandas {pd.__version__}"
    )
    # warm both up (imports, regex compilation, DuckDB start)
    warm, _ = generate("sms", 1000, seed=99)
    run_csframe(warm)
    run_splink(warm)
    head = (
        f"{'list':<11}{'rows':>6} {'seed':>4} | {'csframe linked P / R / F1':<26}"
        f"{'merged F1':>10}{'hh':>10}{'time':>8} | {'splink P / R / F1':<22}{'thr':>5}"
        f"{'hh':>10}{'time':>8} | {'speed-up':>8}"
    )
    print(head)
    print("-" * len(head))
    rows = []
    for people in args.people:
        for shape in args.shapes:
            for seed in range(1, args.seeds + 1):
                df, truth = generate(shape, people, seed=seed)
                person, hh = truth["person"].to_numpy(), truth["household"].to_numpy()
                t_cs, d = best(run_csframe, df)
                review = d["needs_review"].to_numpy(bool)
                cs = pair_metrics(d["cluster_id"], person)
                merged = pair_metrics(
                    np.where(review, -1 - np.arange(len(d)), d["cluster_id"]), person
                )
                cs_hh = households_merged(d["cluster_id"], hh, review)
                t_sp, sp_clusters = best(run_splink, df)
                scored = {th: pair_metrics(cl_, person) for th, cl_ in sp_clusters.items()}
                th = max(scored, key=lambda k: scored[k]["f1"])
                sp = scored[th]
                sp_hh = households_merged(sp_clusters[th], hh)
                rows.append((shape, cs, merged, cs_hh, t_cs, sp, sp_hh, t_sp))
                print(
                    f"{shape:<11}{len(df):>6} {seed:>4} | "
                    f"{cs['precision']:.3f} / {cs['recall']:.3f} / {cs['f1']:.3f}     "
                    f"{merged['f1']:>10.3f}{cs_hh[0]:>5}/{cs_hh[1]:<4}{t_cs:>7.2f}s | "
                    f"{sp['precision']:.3f} / {sp['recall']:.3f} / {sp['f1']:.3f}     "
                    f"{th:>5}{sp_hh[0]:>5}/{sp_hh[1]:<4}{t_sp:>7.2f}s | {t_sp / t_cs:>7.1f}x",
                    flush=True,
                )
    print()
    print("targets")
    by = pd.DataFrame(
        [
            {
                "shape": r[0],
                "cs_f1": r[1]["f1"],
                "cs_p": r[1]["precision"],
                "merged_p": r[2]["precision"],
                "cs_hh": r[3][0],
                "sp_f1": r[5]["f1"],
                "speed": r[7] / r[4],
            }
            for r in rows
        ]
    )

    def check(ok: bool) -> str:
        return "ok  " if ok else "MISS"

    postal = by[by["shape"] == "postal"]
    sms = by[by["shape"] == "sms"]
    print(
        f"  {check((postal.cs_f1 >= postal.sp_f1).all() and (postal.cs_f1 >= 0.95).all())} "
        f"postal F1 >= splink's and >= 0.95: csframe {postal.cs_f1.min():.4f}-{postal.cs_f1.max():.4f}, "
        f"splink {postal.sp_f1.min():.4f}-{postal.sp_f1.max():.4f}"
    )
    print(
        f"  {check((sms.cs_f1 >= sms.sp_f1).all() and (sms.cs_f1 >= 0.995).all())} "
        f"SMS F1 >= splink's and >= 0.995: csframe {sms.cs_f1.min():.4f}-{sms.cs_f1.max():.4f}, "
        f"splink {sms.sp_f1.min():.4f}-{sms.sp_f1.max():.4f}"
    )
    print(
        f"  {check((by.cs_p >= 0.995).all())} precision >= 0.995 on every list: "
        f"min {by.cs_p.min():.4f} (linked), {by.merged_p.min():.4f} (merged)"
    )
    print(
        f"  {check(by.cs_hh.sum() == 0)} households merged without needs_review: "
        f"{int(by.cs_hh.sum())}"
    )
    print(
        f"  {check((by.speed >= 10).all())} >= 10x faster than splink end to end: "
        f"{by.speed.min():.1f}x-{by.speed.max():.1f}x"
    )
    print("  (1,000,000 contacts clean+duplicates+dedupe < 30 s: bench/clean.py)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
