"""csframe.widgets.explorer: the logic against the sandbox, and the ipywidgets view driven
headlessly (set .value, read the outputs)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from csframe import Client
from csframe.widgets import Explorer, explorer
from csframe.widgets.explore import normalise

TODAY = dt.date(2026, 11, 26)


@pytest.fixture(scope="module")
def module_client(sandbox, tmp_path_factory):
    cs = Client(
        **sandbox.credentials,
        base_url=sandbox.base_url,
        cache_dir=tmp_path_factory.mktemp("explorer-cache"),
        progress=False,
    )
    yield cs
    cs.close()


@pytest.fixture(scope="module")
def history(module_client):
    """The raw SMS history of the whole sandbox, for independent computations."""
    h = module_client.history("sms")
    return h[h["direction"].astype("str") != "in"]


def _window(history: pd.DataFrame, start: str, end: str) -> pd.DataFrame:
    t0 = pd.Timestamp(start, tz="UTC")
    t1 = pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)
    return history[(history["date"] >= t0) & (history["date"] < t1)]


def _range(history):
    last = history["date"].max().date()
    first = (pd.Timestamp(last) - pd.DateOffset(months=5)).replace(day=1).date()
    return str(first), str(last)


def test_monthly_spend_equals_pandas(module_client, history):
    start, end = _range(history)
    ex = Explorer(module_client, start=start, end=end, metric="spend", group_by="month")
    assert ex.refresh(), ex.error
    assert ex.status == "ready" and ex.error is None
    table = ex.table()
    rows = _window(history, start, end)
    month = (
        rows["date"].dt.tz_convert(None).dt.to_period("M").dt.to_timestamp().dt.tz_localize("UTC")
    )
    expected = rows.groupby(month)["message_price"].sum().round(6)
    assert list(table.columns) == ["sms"]
    assert table.index.name == "month"
    assert len(table) == 6  # every month of the range, even if one were empty
    pd.testing.assert_series_equal(
        table["sms"].loc[expected.index], expected, check_names=False, check_freq=False
    )
    assert ex.currency == "AUD"
    assert ex.summary()["messages"] == len(rows)


def test_volume_by_country_and_delivery_rate(module_client, history):
    start, end = _range(history)
    ex = Explorer(module_client, start=start, end=end, metric="volume", group_by="country")
    ex.refresh()
    rows = _window(history, start, end)
    counts = rows["country"].astype("str").value_counts()
    vol = ex.table()["sms"]
    assert vol.to_dict() == counts.to_dict()
    assert list(vol.index) == list(counts.index)  # largest first
    ex.metric = "delivery_rate"
    rate = ex.table()["sms"]
    status = rows["status"].astype("str")
    sent = rows[status != "Cancelled"]
    delivered = sent["status"].astype("str").eq("Completed")
    expected = delivered.groupby(sent["country"].astype("str")).mean()
    np.testing.assert_allclose(rate.loc[expected.index].to_numpy(float), expected.to_numpy(float))


def test_controls_that_do_not_change_the_data_never_reload(module_client, history):
    start, end = _range(history)
    ex = Explorer(module_client, start=start, end=end)
    ex.refresh()
    loads, sent = ex.requests, module_client.requests_sent
    for metric in ("spend", "volume", "delivery_rate"):
        for group in ("day", "week", "month", "country"):
            ex.metric, ex.group_by = metric, group
            assert ex.refresh()
            ex.table()
    subs = sorted(history["subaccount_id"].dropna().unique().tolist())
    ex.subaccounts = subs[:1]
    assert ex.refresh()
    assert ex.requests == loads
    assert module_client.requests_sent == sent
    # another range loads; going back to the first one comes from memory
    ex.start = str(pd.Timestamp(start) + pd.Timedelta(days=7))[:10]
    assert ex.refresh()
    assert ex.requests == loads + 1
    ex.start = start
    assert ex.refresh()
    assert ex.requests == loads + 1


def test_subaccount_filter_and_weeks(module_client, history):
    start, end = _range(history)
    sub = int(history["subaccount_id"].dropna().iloc[0])
    ex = Explorer(
        module_client, start=start, end=end, subaccounts=[sub], metric="volume", group_by="week"
    )
    ex.refresh()
    table = ex.table()
    assert all(ts.weekday() == 0 for ts in table.index)  # Monday-based weeks
    assert table.index.is_monotonic_increasing
    assert (table.index[1:] - table.index[:-1] == pd.Timedelta(days=7)).all()  # no gaps
    rows = _window(history, start, end)
    assert int(table["sms"].sum()) == int((rows["subaccount_id"] == sub).sum())
    assert ex.subaccount_options()  # the account's subaccounts, labelled
    assert sub in [v for _, v in ex.subaccount_options()]


def test_daily_grid_and_figure(module_client, history):
    start, end = _range(history)
    ex = Explorer(module_client, start=start, end=end, metric="delivery_rate", group_by="day")
    ex.refresh()
    table = ex.table()
    days = (pd.Timestamp(end) - pd.Timestamp(start)).days + 1
    assert len(table) == days
    fig = ex.figure()
    assert fig.axes[0].get_title().startswith("Delivery rate per day")
    assert len(fig.axes[0].lines) == 1
    html = ex.table_html()
    assert html.count("<tr>") == days + 1 and "%" in html


def test_bad_fields_are_rejected_before_any_request(module_client):
    ex = Explorer(module_client, today=TODAY)
    with pytest.raises(ValueError, match="unknown metric"):
        ex.metric = "profit"
    with pytest.raises(ValueError, match="unknown grouping"):
        ex.group_by = "hour"
    with pytest.raises(ValueError, match="unknown channel"):
        ex.channels = ["sms", "pigeon"]
    with pytest.raises(ValueError, match="start must be a date"):
        ex.start = "not a date"
    ex.start, ex.end = "2026-10-01", "2026-09-01"
    sent = module_client.requests_sent
    assert not ex.refresh()
    assert ex.status == "error" and "after the end date" in ex.error
    ex.channels = []
    assert not ex.refresh() and "at least one channel" in ex.error
    assert module_client.requests_sent == sent


def test_default_range_is_the_last_twelve_months(module_client):
    ex = Explorer(module_client, today=TODAY)
    assert ex.start == dt.date(2025, 12, 1) and ex.end == TODAY
    t0, t1 = ex.window()
    assert t1 - t0 == pd.Timedelta(days=(TODAY - dt.date(2025, 12, 1)).days + 1)


def test_a_failed_load_is_error_text_not_a_traceback(tmp_path):
    dead = Client(
        "someone",
        "SECRET-KEY-0000",
        base_url="http://127.0.0.1:9/v3",
        cache=False,
        max_attempts=1,
        timeout=2,
        progress=False,
    )
    ex = Explorer(dead, today=TODAY)
    assert ex.refresh() is False
    assert ex.status == "error"
    assert "\n" not in ex.error and "Traceback" not in ex.error
    assert "SECRET-KEY-0000" not in ex.error


class _LeakyClient:
    """A client whose loader fails with the key in the message (it must be masked)."""

    class session:  # noqa: N801 - mimics client.session.credentials.api_key
        class credentials:  # noqa: N801
            api_key = "k3y-that-must-not-show"

    def history(self, *a, **k):
        raise RuntimeError("boom for user:k3y-that-must-not-show")

    def subaccounts(self):
        raise RuntimeError("no")


def test_error_text_masks_the_api_key():
    ex = Explorer(_LeakyClient(), today=TODAY)
    assert not ex.refresh()
    assert ex.error == "RuntimeError: boom for user:***"
    view = explorer(_LeakyClient(), today=TODAY)
    assert "k3y-that-must-not-show" not in view.status.value
    assert "boom" in view.status.value and view.output.outputs == ()


def test_normalise_keeps_outbound_rows_only():
    df = pd.DataFrame(
        {
            "date": pd.to_datetime([1, 2, 3], unit="s", utc=True),
            "direction": ["out", "in", "out"],
            "status": ["Completed", "Completed", "Cancelled"],
            "message_price": [0.1, 0.0, 0.0],
            "country": ["AU", "AU", None],
            "subaccount_id": pd.array([1, 1, 2], dtype="Int64"),
        }
    )
    out = normalise("sms", df)
    assert len(out) == 2
    assert out["outcome"].astype(str).tolist() == ["delivered", "cancelled"]
    assert out["country"].astype(str).tolist() == ["AU", "unknown"]


# -- the view -------------------------------------------------------------------------------
def test_view_is_driven_by_its_controls(module_client, history):
    start, end = _range(history)
    view = explorer(module_client, start=start, end=end)
    m = view.model
    assert m.status == "ready"
    kinds = [set(o["data"]) for o in view.output.outputs]
    assert "image/png" in kinds[0] and "text/html" in kinds[1]
    assert "messages" in view.status.value
    assert view.progress.layout.visibility == "hidden"

    view.metric.value = "volume"
    view.group_by.value = "country"
    assert (m.metric, m.group_by) == ("volume", "country")
    html = view.output.outputs[1]["data"]["text/html"]
    top = m.table().index[0]
    assert f"<td>{top}</td>" in html

    sub = view.subaccounts.options[0][1]
    view.subaccounts.value = (sub,)
    assert m.subaccounts == (sub,)
    assert int(m.table()["sms"].sum()) == int(
        (_window(history, start, end)["subaccount_id"] == sub).sum()
    )

    view.start.value = dt.date.fromisoformat(end) + dt.timedelta(days=3)
    assert m.status == "error"
    assert "after the end date" in view.status.value
    assert view.output.outputs == ()
    view.start.value = dt.date.fromisoformat(start)
    assert m.status == "ready" and len(view.output.outputs) == 2

    view.start.value = None
    assert "Choose a start and an end date" in view.status.value


def test_view_shows_progress_while_loading(module_client, history):
    start, end = _range(history)
    view = explorer(module_client, start=start, end=end)
    seen = []
    view.model.listeners.append(
        lambda m: seen.append((m.status, m.progress, view.progress.layout.visibility))
    )
    view.end.value = dt.date.fromisoformat(end) - dt.timedelta(days=1)
    assert ("loading", (0, 1), "visible") in seen
    assert seen[-1][0] == "ready" and view.progress.layout.visibility == "hidden"


def test_several_channels_and_their_total(module_client, history):
    start, end = _range(history)
    ex = Explorer(module_client, start=start, end=end, channels=["email", "sms"], metric="spend")
    assert ex.refresh(), ex.error
    assert ex.channels == ("sms", "email")  # canonical order
    spend = ex.table()
    assert list(spend.columns) == ["sms", "email", "all"]
    assert spend["all"].to_numpy() == pytest.approx((spend["sms"] + spend["email"]).to_numpy())
    email = module_client.history(
        "email", start=start, end=str(pd.Timestamp(end) + pd.Timedelta(days=1))[:10]
    )
    assert spend["email"].sum() == pytest.approx(email["price"].sum())
    ex.metric = "volume"
    assert int(ex.table()["email"].sum()) == len(email)
    ex.metric = "delivery_rate"
    rate = ex.table()
    m = ex.measures()
    total = m.groupby(ex.group_by)[["delivered", "sent"]].sum()
    assert rate["all"].to_numpy() == pytest.approx((total["delivered"] / total["sent"]).to_numpy())
    ex.group_by = "country"
    assert "unknown" in ex.table().index  # email has no destination country
