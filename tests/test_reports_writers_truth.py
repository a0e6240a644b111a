"""What the README promises about writing and exporting: national fax numbers import
(``clean.contacts`` normalises them like phones), names go up cleaned, ``sms_plan`` with
``prices=cs`` estimates the cost, and ``frames.for_excel`` makes any frame writable."""

from __future__ import annotations

import pandas as pd
import pytest

import csframe
from csframe import clean
from csframe.frames import for_excel
from csframe.sandbox import running


@pytest.fixture(scope="module")
def sb():
    with running(scale="tiny", seed=33) as sandbox:
        sandbox.contacts_settings(import_rows_per_second=200_000)
        yield sandbox


def test_clean_contacts_normalises_fax_numbers_like_phones():
    df = pd.DataFrame(
        {
            "phone_number": ["0412 345 678", "0412 345 679", "0412 345 680"],
            "fax_number": ["(03) 9123 4567", "+61 2 9876 5432", "not a number"],
        }
    )
    out = clean.contacts(df, default_region="AU")
    assert out["fax_e164"].tolist() == ["+61391234567", "+61298765432", "not a number"]
    assert out["fax_number"].tolist() == df["fax_number"].tolist()  # input unchanged
    assert "fax_e164" not in clean.contacts(df.drop(columns="fax_number"), "AU")


def test_import_of_cleaned_contacts_sends_e164_fax_numbers_and_clean_names(sb):
    sb.reset()
    cs = csframe.Client(**sb.credentials, base_url=sb.base_url, cache=False, progress=False)
    n = 30
    df = pd.DataFrame(
        {
            "phone_number": [f"0412 {i:03d} 000" for i in range(n)],
            "fax_number": [f"(03) 9{i:03d} 4567" for i in range(n)],  # national format
            "first_name": ["  Ann  "] * (n - 1) + ["n/a"],
            "last_name": ["Ng\u00a0"] * n,
        }
    )
    cleaned = clean.contacts(df, default_region="AU")
    result = cs.import_contacts(cleaned, list_name="Fax test", method="upload")
    assert (result["outcome"] == "imported").all(), result.loc[result["outcome"] != "imported"]
    stored = cs.contacts(list_id=int(result.attrs["list_id"]))
    assert stored["fax_number"].str.startswith("+613").all()
    assert set(stored["first_name"].fillna("")) == {"Ann", ""}  # trimmed; "n/a" is no name
    assert set(stored["last_name"]) == {"Ng"}
    cs.close()


def test_sms_plan_with_prices_from_the_client_estimates_the_cost(sb):
    cs = csframe.Client(**sb.credentials, base_url=sb.base_url, cache=False, progress=False)
    ok = pd.DataFrame({"phone_e164": ["+61412345678", "+61412345679"], "first_name": ["A", "B"]})
    plan = csframe.writers.sms_plan(
        ok, body="Hi {first_name}", to="phone_e164", sender="ACME", prices=cs, marketing=False
    )
    assert plan["est_cost"].notna().all() and (plan["est_cost"] > 0).all()
    bare = csframe.writers.sms_plan(
        ok, body="Hi {first_name}", to="phone_e164", sender="ACME", marketing=False
    )
    assert bare["est_cost"].isna().all()  # no prices: no estimate (the README says prices=cs)
    cs.close()


def test_for_excel_gives_naive_local_times_that_to_excel_accepts(tmp_path):
    df = pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-03-31T23:30:00Z", None], utc=True),
            "n": [1, 2],
        }
    )
    with pytest.raises(ValueError, match="timezones"):
        df.to_excel(tmp_path / "x.xlsx")
    out = for_excel(df, tz="Australia/Melbourne")
    assert out["date"].iloc[0] == pd.Timestamp("2026-04-01 10:30:00") and pd.isna(out["date"][1])
    assert str(df["date"].dtype) == "datetime64[ns, UTC]" or "UTC" in str(df["date"].dtype)
    out.to_excel(tmp_path / "x.xlsx", index=False)
    back = pd.read_excel(tmp_path / "x.xlsx")
    assert back["date"].iloc[0] == pd.Timestamp("2026-04-01 10:30:00")
    assert for_excel(df)["date"].iloc[0] == pd.Timestamp("2026-03-31 23:30:00")
