"""Usage loader: shape, dtypes, and reconciliation with history (real sandbox)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from csframe import schema
from csframe.timeutil import now_utc


def test_usage_is_long_and_typed(client):
    u = client.usage("2026-01", "2026-10")
    assert list(u.columns) == schema.USAGE.column_names
    assert {c: str(t) for c, t in u.dtypes.items()} == schema.USAGE.dtypes()
    assert u.attrs["currency"] == "AUD"
    assert set(u["month"].dt.month) <= set(range(1, 11))
    assert "sms" in set(u["channel"].astype(str))
    assert "voice" in list(u["channel"].cat.categories)


def test_default_range_is_the_twelve_months_up_to_now(client, sandbox):
    u = client.usage()
    months = sorted(u["month"].unique())
    now = now_utc()
    this = pd.Timestamp(year=now.year, month=now.month, day=1, tz="UTC")
    assert months[0] >= this - pd.DateOffset(months=11) and months[-1] <= this
    assert len(months) <= 12
    # the current month is there exactly when it has messages (not yet, just after
    # midnight on the 1st): usage lists months with usage
    sent_this_month = sandbox.truth_sms_ids(date_from=int(this.timestamp()))
    assert (months[-1] == this) == bool(sent_this_month)


def test_usage_is_history_less_the_sandbox_refunds_per_month_and_subaccount(client, sandbox):
    """Usage is what was billed: history's prices and parts less the SMS the sandbox
    refunded (``sb.refunds()``), per month and subaccount."""
    u = client.usage("2025-12", "2026-10")
    h = client.history("sms", start="2025-12-01", end="2026-11-01")
    h = h[h["direction"] == "out"]
    refunds = pd.DataFrame(
        sandbox.refunds("2025-12-01", "2026-11-01"), columns=["message_id", "message_price"]
    )
    assert len(refunds)  # the default seed has refunds in this period
    refunded = h["message_id"].isin(set(refunds["message_id"]))
    assert refunded.sum() == len(refunds)  # each refund is a history row
    billed = h[~refunded]
    hist = (
        billed.assign(month=billed["date"].dt.tz_localize(None).dt.to_period("M").dt.to_timestamp())
        .groupby(["month", "subaccount_id"])
        .agg(price=("message_price", "sum"), count=("message_parts", "sum"))
    )
    hist.index = hist.index.set_levels(hist.index.levels[0].tz_localize("UTC"), level=0)
    sms = u[u["channel"] == "sms"].set_index(["month", "subaccount_id"])[["price", "count"]]
    joined = sms.merge(hist, left_index=True, right_index=True, how="outer", suffixes=("", "_hist"))
    assert len(joined) > 10
    np.testing.assert_allclose(joined["price"], joined["price_hist"], atol=1e-6)
    assert (joined["count"] == joined["count_hist"]).all()
    # And usage is below history by exactly the refunds.
    assert u[u["channel"] == "sms"]["price"].sum() == pytest.approx(
        h["message_price"].sum() - refunds["message_price"].astype(float).sum()
    )


def test_usage_is_cached_per_month(client, sandbox):
    client.usage("2026-01", "2026-06")
    before = sandbox.stats()["requests"]
    client.usage("2026-02", "2026-05")
    assert sandbox.stats()["requests"] == before
