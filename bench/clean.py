"""Benchmark: contact clean-up and de-duplication on synthetic contacts with known truth.

    .venv/bin/python bench/clean.py                 # 1,000,000 contacts
    .venv/bin/python bench/clean.py --rows 100000 --phone-rows 100000   # quick run

The generator makes people in eight regions (AU, US, GB, NZ, DE, IN, SG, FR) with mobiles,
emails, names and postcodes, a few households sharing a landline (different people who must
stay apart), then adds duplicate rows (30% of all rows by default) written differently:
national/international/00/no-'+'/dotted/bracketed phone formats, extensions, NBSP, upper-case
and gmail dot/+tag email variants, name typos, a missing phone, email or postcode. Every row
keeps the id of the person it belongs to, so duplicate pairs can be scored.

Compared, in one process:
  naive   : df.phone.apply(phonenumbers.parse + format E.164) + drop_duplicates on it
  csframe : clean.contacts() + clean.duplicates() + clean.dedupe()
and the phone normalisation alone (clean.phones() vs the naive apply) at each --phone-rows
size (default 200,000 and 1,000,000; a size other than --rows gets its own generated list).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
import threading
import time
from contextlib import contextmanager

import numpy as np
import pandas as pd
import phonenumbers

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from csframe import clean  # noqa: E402

REGIONS = {  # region: (share, country name as written in the list, cc)
    "AU": (0.40, "Australia", "61"),
    "US": (0.20, "United States", "1"),
    "GB": (0.15, "United Kingdom", "44"),
    "NZ": (0.10, "New Zealand", "64"),
    "DE": (0.05, "Germany", "49"),
    "IN": (0.05, "India", "91"),
    "SG": (0.03, "Singapore", "65"),
    "FR": (0.02, "France", "33"),
}
SYL = [
    "ka",
    "li",
    "ma",
    "ro",
    "sa",
    "ne",
    "ti",
    "jo",
    "an",
    "el",
    "mi",
    "da",
    "ve",
    "lu",
    "ch",
    "ar",
    "en",
    "is",
    "or",
    "us",
    "be",
    "ni",
    "co",
    "ra",
]
DOMAINS = ["gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "icloud.com", "example.com"]


# ----------------------------------------------------------------------------- generator


def _digits(rng, n: int, k: int) -> np.ndarray:
    return np.array(["".join(map(str, row)) for row in rng.integers(0, 10, (n, k))], dtype=object)


def _national(rng, region: str, n: int) -> np.ndarray:
    """National-format mobile numbers (digits only)."""
    if region == "AU":
        return "04" + rng.integers(0, 4, n).astype(str).astype(object) + _digits(rng, n, 7)
    if region == "US":
        area = rng.choice(["201", "212", "305", "415", "617", "650", "702", "713", "312"], n)
        return (
            area.astype(object)
            + rng.integers(2, 10, n).astype(str).astype(object)
            + _digits(rng, n, 6)
        )
    if region == "GB":
        return "07" + rng.choice(["4", "5", "7", "8", "9"], n).astype(object) + _digits(rng, n, 8)
    if region == "NZ":
        return "02" + rng.choice(["1", "2", "7"], n).astype(object) + _digits(rng, n, 7)
    if region == "DE":
        return "015" + rng.choice(["1", "2", "7"], n).astype(object) + _digits(rng, n, 8)
    if region == "IN":
        return rng.choice(["9", "8", "7"], n).astype(object) + _digits(rng, n, 9)
    if region == "SG":
        return rng.choice(["8", "9"], n).astype(object) + _digits(rng, n, 7)
    return "06" + _digits(rng, n, 8)  # FR


def _intl(region: str, nat: str) -> str:
    """International digits (no '+') from national digits."""
    cc = REGIONS[region][2]
    return cc + (nat[1:] if nat.startswith("0") else nat)


def _fmt(rng_value: float, region: str, nat: str) -> str:
    """One of several ways people write the same number."""
    intl = _intl(region, nat)
    cc = REGIONS[region][2]
    rest = intl[len(cc) :]
    r = rng_value
    if r < 0.20:
        return f"{nat[:4]} {nat[4:7]} {nat[7:]}"
    if r < 0.40:
        return f"+{cc} {rest[:3]} {rest[3:6]} {rest[6:]}"
    if r < 0.50:
        return f"00{intl}"
    if r < 0.60:
        return intl  # the '+' lost in a spreadsheet
    if r < 0.70:
        return f"({nat[:3]}) {nat[3:6]}-{nat[6:]}"
    if r < 0.80:
        return f"+{cc}.{rest[:3]}.{rest[3:6]}.{rest[6:]}"
    if r < 0.88:
        return f"{nat} ext. {int(r * 1000)}"
    if r < 0.95:
        return f"{nat[:4]}\u00a0{nat[4:7]}\u200b{nat[7:]}"
    return f"+{intl}"


def _typo(rng, name: str) -> str:
    if len(name) < 4:
        return name
    i = int(rng.integers(1, len(name) - 1))
    if rng.random() < 0.5:
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]  # swap
    return name[:i] + name[i + 1 :]  # drop


def generate(rows: int, dup_share: float = 0.30, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    people = int(round(rows * (1 - dup_share)))
    regions = list(REGIONS)
    share = np.array([REGIONS[r][0] for r in regions])
    p_region = rng.choice(regions, people, p=share / share.sum())
    first_pool = np.array(
        sorted({(a + b).capitalize() for a in SYL for b in SYL} | {"Ann", "John", "Wei", "Priya"})
    )
    last_pool = np.array(
        sorted({(a + b + c).capitalize() for a in SYL[:12] for b in SYL for c in SYL[:4]})
    )
    first = rng.choice(first_pool, people)
    last = rng.choice(last_pool, people)
    postcode = np.array([f"{x:04d}" for x in rng.integers(1000, 9999, people)], dtype=object)
    phone_nat = np.empty(people, dtype=object)
    for r in regions:
        m = np.flatnonzero(p_region == r)
        phone_nat[m] = _national(rng, r, len(m))
        while True:  # one person, one mobile: redraw numbers that two people got
            clash = m[pd.Series(phone_nat[m]).duplicated().to_numpy()]
            if not len(clash):
                break
            phone_nat[clash] = _national(rng, r, len(clash))
    # households: pairs of people sharing an AU landline (same surname, different first names)
    hh = np.flatnonzero(p_region == "AU")[: max(2, people // 100) // 2 * 2]
    line = (
        "02" + rng.choice(["8", "9"], len(hh) // 2).astype(object) + _digits(rng, len(hh) // 2, 7)
    )
    phone_nat[hh] = np.repeat(line, 2)
    last[hh[1::2]] = last[hh[0::2]]
    first[hh[1::2]] = np.where(first[hh[1::2]] == first[hh[0::2]], "Zed", first[hh[1::2]])
    pid = np.arange(people)
    email = np.array(
        [
            f"{f.lower()}.{la.lower()}{i}@{d}"
            for f, la, i, d in zip(first, last, pid, rng.choice(DOMAINS, people), strict=True)
        ],
        dtype=object,
    )
    no_email = rng.random(people) < 0.2
    no_email[hh] = True
    email[no_email] = None
    no_phone = (rng.random(people) < 0.1) & ~no_email
    no_phone[hh] = False
    phone_nat[no_phone] = None

    # duplicates: a random person again, written differently
    ndup = rows - people
    src = rng.choice(np.setdiff1d(pid, hh), ndup)
    all_pid = np.r_[pid, src]
    region = p_region[all_pid]
    fmt_r = rng.random(rows)
    phone = np.array(
        [
            None if n is None else _fmt(f, r, n)
            for n, f, r in zip(phone_nat[all_pid], fmt_r, region, strict=True)
        ],
        dtype=object,
    )
    # originals mostly in a plain national or international format
    orig = np.arange(rows) < people
    phone[orig] = [
        None if n is None else (n if f < 0.5 else "+" + _intl(r, n))
        for n, f, r in zip(phone_nat, fmt_r[:people], p_region, strict=True)
    ]
    em = email[all_pid].copy()
    fn = first[all_pid].copy()
    ln = last[all_pid].copy()
    pc_ = postcode[all_pid].copy()
    dup = ~orig
    u = rng.random((6, rows))
    drop_phone = dup & (u[0] < 0.10) & ~np.equal(em, None)
    drop_email = dup & (u[1] < 0.15) & ~drop_phone & ~np.equal(phone, None)
    phone[drop_phone] = None
    em[drop_email] = None
    upper = dup & (u[2] < 0.2) & ~np.equal(em, None)
    em[upper] = [e.upper() for e in em[upper]]
    gm = dup & (u[3] < 0.3) & ~np.equal(em, None)
    em[gm] = [
        (e.split("@")[0].replace(".", "") + "+promo@" + e.split("@")[1])
        if "gmail" in e.lower()
        else e
        for e in em[gm]
    ]
    ty = dup & (u[4] < 0.2)
    fn[ty] = [_typo(rng, x) for x in fn[ty]]
    up = dup & (u[5] < 0.1)
    ln[up] = [x.upper() for x in ln[up]]
    pc_[dup & (u[4] > 0.9)] = None
    order = rng.permutation(rows)
    df = pd.DataFrame(
        {
            "contact_id": pd.array(np.arange(1, rows + 1), dtype="Int64"),
            "phone_number": pd.Series(phone[order], dtype="str"),
            "email": pd.Series(em[order], dtype="str"),
            "first_name": pd.Series(fn[order], dtype="str"),
            "last_name": pd.Series(ln[order], dtype="str"),
            "address_postal_code": pd.Series(pc_[order], dtype="str"),
            "address_country": pd.Series([REGIONS[r][1] for r in region[order]], dtype="str"),
            "date_updated": pd.to_datetime(rng.integers(1.7e9, 1.79e9, rows), unit="s", utc=True),
        }
    )
    df["_person"] = all_pid[order]
    return df


# ----------------------------------------------------------------------------- measuring


class PeakRSS:
    """Peak resident set size (with worker processes) while a block runs (50 ms samples).

    Cheap on purpose: the process list is refreshed once a second, so sampling does not
    slow down what it measures.
    """

    def __init__(self):
        try:
            import psutil

            self._proc = psutil.Process()
        except ImportError:  # pragma: no cover
            self._proc = None
        self._children: list = []

    def refresh(self) -> None:
        if self._proc is not None:
            self._children = self._proc.children(recursive=True)

    def rss(self) -> int:
        """This process plus its worker processes."""
        total = 0
        if self._proc is not None:
            total = self._proc.memory_info().rss
            for child in self._children:
                with contextlib.suppress(Exception):  # a worker may exit while we look
                    total += child.memory_info().rss
            return total
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    @contextmanager
    def measure(self, out: dict):
        self.refresh()
        start = self.rss()
        peak = [start]
        stop = threading.Event()

        def sample():
            n = 0
            while not stop.wait(0.05):
                n += 1
                if n % 20 == 0:
                    self.refresh()
                peak[0] = max(peak[0], self.rss())

        t = threading.Thread(target=sample, daemon=True)
        t.start()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            out["seconds"] = time.perf_counter() - t0
            stop.set()
            t.join()
            self.refresh()
            peak[0] = max(peak[0], self.rss())
            out["peak_rss_mb"] = peak[0] / 2**20
            out["peak_delta_mb"] = (peak[0] - start) / 2**20


def pair_scores(cluster: np.ndarray, person: np.ndarray) -> tuple[float, float, int, int]:
    """Precision and recall of same-cluster pairs against same-person pairs."""

    def pairs(counts: np.ndarray) -> int:
        return int((counts * (counts - 1) // 2).sum())

    f = pd.DataFrame({"c": cluster, "p": person})
    predicted = pairs(f.groupby("c").size().to_numpy())
    truth = pairs(f.groupby("p").size().to_numpy())
    tp = pairs(f.groupby(["c", "p"]).size().to_numpy())
    precision = tp / predicted if predicted else 1.0
    recall = tp / truth if truth else 1.0
    return precision, recall, predicted, truth


def naive_e164(phone: pd.Series, region: pd.Series) -> pd.Series:
    def one(args):
        raw, reg = args
        try:
            return phonenumbers.format_number(
                phonenumbers.parse(raw, reg), phonenumbers.PhoneNumberFormat.E164
            )
        except Exception:  # noqa: BLE001 - the naive way
            return None

    return pd.Series(map(one, zip(phone, region, strict=True)), index=phone.index, dtype=object)


NAME_TO_REGION = {v[1]: k for k, v in REGIONS.items()}


def phone_race(meter, df, naive_s=None, e164=None, naive_mb=None) -> dict:
    """The naive apply, then clean.phones(), on the same rows (the naive run is reused when
    given). Each is timed on its own; the pool clean.phones() may start is part of its time."""
    if e164 is None:
        region_codes = df["address_country"].map(NAME_TO_REGION)
        gc.collect()
        nv: dict = {}
        with meter.measure(nv):
            e164 = naive_e164(df["phone_number"], region_codes)
        naive_s, naive_mb = nv["seconds"], nv["peak_delta_mb"]
    gc.collect()
    ph: dict = {}
    with meter.measure(ph):
        phones = clean.phones(
            df["phone_number"], default_region="AU", region_column=df["address_country"]
        )
    valid = phones["phone_valid"].fillna(False).to_numpy(bool)
    mine = phones["phone_e164"].to_numpy(dtype=object, na_value=None)
    differ = int((valid & (mine != e164.to_numpy(dtype=object))).sum())
    return {
        "rows": len(df),
        "naive_s": naive_s,
        "naive_mb": naive_mb,
        "csframe_s": ph["seconds"],
        "csframe_mb": ph["peak_delta_mb"],
        "differ": differ,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dup-share", type=float, default=0.30)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--phone-rows",
        default="200000,1000000",
        help="sizes of the phones race (comma-separated; default 200000,1000000)",
    )
    args = ap.parse_args(argv)
    phone_sizes = sorted({int(x) for x in args.phone_rows.split(",") if x.strip()})

    t0 = time.perf_counter()
    df = generate(args.rows, args.dup_share, args.seed)
    truth = df.pop("_person").to_numpy()
    gen_s = time.perf_counter() - t0
    rows = len(df)
    print(
        f"csframe.clean benchmark: {rows:,} contacts, {args.dup_share:.0%} duplicates, "
        f"{os.cpu_count()} cores, pandas {pd.__version__}, phonenumbers {phonenumbers.__version__}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"  generated in {gen_s:.1f} s; {pd.Series(truth).duplicated().sum():,} duplicate rows "
        f"of {pd.Series(truth).nunique():,} people"
    )
    meter = PeakRSS()
    region_codes = df["address_country"].map(NAME_TO_REGION)
    # warm both paths up (metadata loading, regex compilation) on a small slice
    naive_e164(df["phone_number"][:5000], region_codes[:5000])
    clean.dedupe(clean.contacts(df[:5000], default_region="AU"))
    gc.collect()

    # naive ---------------------------------------------------------------------------
    naive: dict = {}
    with meter.measure(naive):
        e164 = naive_e164(df["phone_number"], region_codes)
    naive_phone_s = naive["seconds"]
    nd: dict = {}
    with meter.measure(nd):
        work = df.assign(e164=e164)
        has = work["e164"].notna()
        kept = pd.concat([work[has].drop_duplicates("e164"), work[~has]])
    naive_total = naive_phone_s + nd["seconds"]
    # the naive clusters: rows sharing an E.164 number
    ncl = pd.factorize(e164.where(e164.notna(), "row" + pd.Series(np.arange(rows)).astype(str)))[0]
    n_prec, n_rec, _, _ = pair_scores(ncl, truth)
    del work, kept
    gc.collect()

    # csframe phones alone, against the naive apply, at each size --------------------------
    races = []
    for size in phone_sizes:
        if size == rows:
            race = phone_race(meter, df, naive["seconds"], e164, naive["peak_delta_mb"])
        else:
            sized = generate(size, args.dup_share, args.seed).drop(columns="_person")
            race = phone_race(meter, sized)
            del sized
        races.append(race)
        gc.collect()

    # csframe end to end ------------------------------------------------------------------
    stages: dict = {}
    timings = {}
    with meter.measure(stages):
        t = time.perf_counter()
        cleaned = clean.contacts(df, default_region="AU")
        timings["contacts()"] = time.perf_counter() - t
        t = time.perf_counter()
        dups = clean.duplicates(cleaned)
        timings["duplicates()"] = time.perf_counter() - t
        t = time.perf_counter()
        out = clean.dedupe(dups)
        timings["dedupe()"] = time.perf_counter() - t
    total = stages["seconds"]
    dup_prec, dup_rec, predicted, true_pairs = pair_scores(dups["cluster_id"].to_numpy(), truth)
    # merged pairs only (clusters needing review stay separate in dedupe)
    merged_cluster = np.where(
        dups["needs_review"].to_numpy(bool), -1 - np.arange(rows), dups["cluster_id"].to_numpy()
    )
    m_prec, m_rec, m_pred, _ = pair_scores(merged_cluster, truth)
    report = clean.CleanupReport.from_frames(raw=df, cleaned=cleaned, clusters=dups, deduped=out)

    print()
    print(
        "phone normalisation: naive apply(phonenumbers.parse + format E.164) vs "
        "clean.phones() (also validity, type, region, reason)"
    )
    print(
        f"  {'rows':>10} {'naive s':>9} {'csframe s':>10} {'speed-up':>9} "
        f"{'csframe rows/s':>15} {'peak RSS naive/csframe':>23} {'read differently':>17}"
    )
    for r in races:
        print(
            f"  {r['rows']:>10,} {r['naive_s']:>9.2f} {r['csframe_s']:>10.2f} "
            f"{r['naive_s'] / r['csframe_s']:>8.2f}x {r['rows'] / r['csframe_s']:>15,.0f} "
            f"{'+' + format(r['naive_mb'], ',.0f') + ' / +' + format(r['csframe_mb'], ',.0f') + ' MB':>23} "
            f"{r['differ']:>17,}"
        )
    print(
        "  target >= 3x at every size; 'read differently': valid numbers whose E.164 is not the "
        "naive parse's ('00'/'+'-less international forms the naive parse takes as national)"
    )
    print()
    print("end to end")
    print(
        f"  naive apply + drop_duplicates  {naive_total:8.2f} s  {rows / naive_total:>10,.0f} rows/s"
    )
    for k, v in timings.items():
        print(f"    csframe {k:<20}{v:8.2f} s")
    print(
        f"  csframe contacts+duplicates+dedupe {total:8.2f} s  {rows / total:>10,.0f} rows/s"
        f"  peak RSS {stages['peak_rss_mb']:,.0f} MB (+{stages['peak_delta_mb']:,.0f} MB)"
        f"   (target < 30 s)"
    )
    print()
    print(f"duplicate pairs vs truth ({true_pairs:,} true pairs)")
    print(f"  naive (same E.164)          precision {n_prec:.4f}  recall {n_rec:.4f}")
    print(
        f"  csframe duplicates()        precision {dup_prec:.4f}  recall {dup_rec:.4f}  ({predicted:,} pairs)"
    )
    print(
        f"  csframe dedupe() merges     precision {m_prec:.4f}  recall {m_rec:.4f}  ({m_pred:,} pairs)"
        "   (targets >= 0.99 / >= 0.95)"
    )
    print()
    print(report)
    print(
        f"process peak RSS: {meter.rss() / 2**20:,.0f} MB now; "
        f"{__import__('resource').getrusage(__import__('resource').RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB max"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
