"""Cubes (csframe.reports.cube): one row per key with weighted counts, sums and maxima,
against plain pandas groupbys, and history.load folding chunks into them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from csframe.reports import history as hist
from csframe.reports.cube import WEIGHT, count, cube, group_ids


def frame(n: int = 5000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            # categories never seen, and missing values, are keys as they are
            "country": pd.Categorical(
                rng.choice(["AU", "NZ", None], n), categories=["AU", "NZ", "US"]
            ),
            "sub": pd.array(rng.choice([1, 2, None], n), dtype="Int64"),
            "text": pd.array(rng.choice(["a", "b", None], n), dtype="str"),
            "day": pd.to_datetime(rng.integers(0, 40, n), unit="D", utc=True).astype(
                "datetime64[s, UTC]"
            ),
            # wide keys: their combined number overflows int64 and must be renumbered
            "w1": rng.integers(0, 2**20, n),
            "w2": rng.integers(0, 2**20, n).astype("float64"),
            "w3": rng.integers(0, 2**20, n),
            "w4": rng.integers(0, 2**20, n),
            "w5": rng.integers(0, 2**20, n),
            "price": rng.integers(0, 1000, n) / 1000,
            "date": pd.to_datetime(rng.integers(0, 10**9, n), unit="s", utc=True).astype(
                "datetime64[s, UTC]"
            ),
        }
    )
    df.loc[::7, "price"] = np.nan
    return df


def expected(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    work = df.assign(**{WEIGHT: np.ones(len(df), dtype="int64")})
    g = work.groupby(keys, observed=True, dropna=False, sort=False)
    out = g.agg({WEIGHT: "sum", "price": "sum", "date": "max"}).reset_index()
    for k in keys:  # groupby gives back some key dtypes changed (Int64 -> float with NaN...)
        out[k] = out[k].astype(df[k].dtype)
    return out


@pytest.mark.parametrize(
    "keys",
    [
        ["country"],
        ["country", "sub", "text", "day"],
        ["w1", "w2", "w3", "w4", "w5", "sub", "country"],
    ],
)
def test_cube_is_the_groupby_of_its_keys_in_order_of_first_appearance(keys):
    df = frame()
    got = cube(df, keys, sums=["price"], maxes=["date"])
    pd.testing.assert_frame_equal(got, expected(df, keys))
    assert got[WEIGHT].sum() == len(df)


def test_a_cube_of_cubes_is_the_cube_of_their_rows():
    df = frame()
    keys = ["country", "sub", "text", "day"]
    parts = [
        cube(p, keys, sums=["price"], maxes=["date"])
        for p in (df.iloc[i : i + 1300] for i in range(0, len(df), 1300))
    ]
    combined = cube(pd.concat(parts, ignore_index=True), keys, sums=["price"], maxes=["date"])
    whole = cube(df, keys, sums=["price"], maxes=["date"])
    pd.testing.assert_frame_equal(combined, whole, check_exact=False, rtol=1e-12)
    pd.testing.assert_series_equal(count(combined, "country"), count(df, "country"))


def test_group_ids_number_groups_by_first_appearance():
    df = pd.DataFrame({"a": [2, 1, 2, None, 1, None], "b": ["x", "y", "x", "z", "y", "z"]})
    ids, first = group_ids(df, ["a", "b"])
    assert ids.tolist() == [0, 1, 0, 2, 1, 2] and first.tolist() == [0, 1, 3]
    empty_ids, empty_first = group_ids(df.iloc[:0], ["a", "b"])
    assert len(empty_ids) == 0 and len(empty_first) == 0


def test_load_folds_every_chunk_into_the_aggregate_of_the_whole_history(client):
    def per_country(chunk: pd.DataFrame) -> pd.DataFrame:
        if "outcome" not in chunk:
            chunk = hist._lean(chunk, ["country", "message_price", "date"])
        return cube(chunk, ["country", "outcome"], sums=["message_price"], maxes=["date"])

    # one page per chunk: many partial cubes to combine
    agg, failed = hist.load(
        client,
        "sms",
        "2026-01",
        "2026-03",
        reduce=per_country,
        detail=lambda c: c.loc[np.asarray(hist.outcomes(c) == "failed"), ["message_id"]],
        chunk_pages=1,
    )
    whole = client.history("sms", *hist.window("2026-01", "2026-03"))
    assert len(whole) > 300  # several pages
    want = per_country(whole)
    key = ["country", "outcome"]
    got = agg.sort_values(key, ignore_index=True)
    want = want.sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, check_categorical=False)
    assert agg.attrs["currency"] == "AUD"
    assert sorted(failed["message_id"]) == sorted(
        whole.loc[np.asarray(hist.outcomes(whole) == "failed"), "message_id"]
    )
