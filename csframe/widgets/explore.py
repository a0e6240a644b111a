"""The history explorer: spend, volume or delivery rate per day, week, month or country.

:class:`Explorer` is the logic (no ipywidgets): set its fields, call :meth:`Explorer.refresh`,
read :meth:`Explorer.table` and :meth:`Explorer.figure`. :class:`ExplorerView` is a thin
ipywidgets view on it; :func:`csframe.widgets.explorer` builds one.

Loading goes through ``client.history`` (HTTP-cached, closed months kept for good) and each
channel's frame for a date range is also kept in memory, normalised to a few columns, so
changing the metric, the grouping or the subaccounts never goes back to the API, and
changing the range only fetches what the client cache does not already hold.

Example::

    ex = Explorer(cs, start="2026-01-01", end="2026-10-31", metric="spend", group_by="month")
    ex.refresh()
    ex.table()            # rows: months; columns: channels
    ex.figure()           # a matplotlib Figure
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from csframe import schema
from csframe.widgets._common import client_secrets, error_text, esc, new_figure, png

if TYPE_CHECKING:  # for annotations only
    from matplotlib.axis import Axis
    from matplotlib.figure import Figure

    from csframe.client import Client
    from csframe.timeutil import Instant

CHANNELS = ("sms", "mms", "voice", "email", "fax", "letter", "postcard")
METRICS = {"spend": "Spend", "volume": "Messages", "delivery_rate": "Delivery rate"}
GROUPINGS = ("day", "week", "month", "country")
#: Normalised columns every channel's history is reduced to.
COLUMNS = ("time", "channel", "subaccount_id", "username", "country", "spend", "outcome")
#: Countries drawn in the chart (the table has them all).
TOP_COUNTRIES = 15
#: Loaded (channel, range) frames kept in memory.
MEMO_SIZE = 16

_PRICE = ("message_price", "price", "post_price")
_COUNTRY = ("country", "address_country")


def _outcomes(df: pd.DataFrame) -> pd.Categorical:
    # The delivery report's definition, so the explorer and the report agree on a rate.
    from csframe.reports.history import outcomes

    return outcomes(df)


def _as_date(value: Any, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return pd.Timestamp(value).date()
        except (ValueError, TypeError):
            pass
    raise ValueError(f"{name} must be a date (e.g. '2026-01-31'), got {value!r}")


def normalise(channel: str, df: pd.DataFrame) -> pd.DataFrame:
    """One channel's history frame reduced to :data:`COLUMNS` (outbound messages only).

    Example::

        normalise("sms", cs.history("sms", start="2026-10-01"))["spend"].sum()
    """
    if "direction" in df:
        inbound = df["direction"].astype("str").str.lower().isin(["in", "inbound"])
        df = df.loc[~inbound.fillna(False).to_numpy(bool)]
    df = df.reset_index(drop=True)  # the columns below must align with a fresh RangeIndex
    resource = schema.REGISTRY.get(f"{channel}_history")
    time_col = resource.time_field if resource is not None else "date"
    if time_col not in df:
        time_col = "date" if "date" in df else "date_added"
    n = len(df)
    price = next((c for c in _PRICE if c in df), None)
    country = next((c for c in _COUNTRY if c in df), None)
    out = pd.DataFrame(
        {
            "time": pd.to_datetime(df[time_col], utc=True) if time_col in df else pd.NaT,
            "channel": pd.Categorical([channel] * n, categories=CHANNELS),
            "subaccount_id": (
                df["subaccount_id"].astype("Int64")
                if "subaccount_id" in df
                else pd.array([pd.NA] * n, dtype="Int64")
            ),
            "username": (
                df["_api_username"].astype("str")
                if "_api_username" in df
                else pd.Series([None] * n, dtype="str")
            ),
            "country": (
                df[country].astype("str").str.upper().fillna("unknown").astype("category")
                if country
                else pd.Categorical(["unknown"] * n)
            ),
            "spend": df[price].astype("float64") if price else 0.0,
            "outcome": _outcomes(df) if n else pd.Categorical([]),
        },
        index=pd.RangeIndex(n),
    )
    out.attrs["currency"] = df.attrs.get("currency")
    return out


class Explorer:
    """Explore message history: a date range, channels and subaccounts in; a metric per
    day, week, month or country out, as a table and a chart.

    Fields (set them, then :meth:`refresh`): ``start``, ``end`` (dates, both inclusive,
    UTC days), ``channels`` (any of :data:`CHANNELS`), ``subaccounts`` (subaccount ids;
    empty = all), ``metric`` (``spend``, ``volume`` or ``delivery_rate``) and ``group_by``
    (``day``, ``week`` -- Monday-based --, ``month`` or ``country``).

    State: ``status`` (``idle``, ``loading``, ``ready``, ``error``), ``error`` (one line of
    text, never a traceback), ``progress`` (channels loaded, channels to load) and ``data``
    (the loaded rows, normalised to :data:`COLUMNS`).

    Delivery rate is delivered / sent, where sent is every message but cancelled ones --
    the definition of :func:`csframe.reports.delivery`.

    Example::

        ex = Explorer(cs, channels=["sms"], metric="delivery_rate", group_by="country")
        ex.refresh()
        ex.table().head()
    """

    def __init__(
        self,
        client: Client,
        *,
        start: Instant | None = None,
        end: Instant | None = None,
        channels: Iterable[str] = ("sms",),
        subaccounts: Iterable[int] = (),
        metric: str = "spend",
        group_by: str = "month",
        today: dt.date | None = None,
    ) -> None:
        self.client = client
        today = today or pd.Timestamp.now(tz="UTC").date()
        first = (pd.Timestamp(today) - pd.DateOffset(months=11)).replace(day=1).date()
        self.start = start if start is not None else first
        self.end = end if end is not None else today
        self.channels = channels
        self.subaccounts = subaccounts
        self.metric = metric
        self.group_by = group_by
        self.status = "idle"
        self.error: str | None = None
        self.progress: tuple[int, int] = (0, 0)
        self.data: pd.DataFrame | None = None
        self.currency: str | None = None
        self.requests = 0  # history loads that went to the client (memo misses)
        self.listeners: list[Callable[[Explorer], None]] = []
        self._memo: OrderedDict[tuple, pd.DataFrame] = OrderedDict()
        self._subaccount_options: list[tuple[str, int]] | None = None
        self._loaded_key: tuple | None = None

    # -- fields, validated on assignment ----------------------------------------------------
    @property
    def start(self) -> dt.date:
        return self._start

    @start.setter
    def start(self, value: Instant) -> None:
        self._start = _as_date(value, "start")

    @property
    def end(self) -> dt.date:
        return self._end

    @end.setter
    def end(self, value: Instant) -> None:
        self._end = _as_date(value, "end")

    @property
    def channels(self) -> tuple[str, ...]:
        return self._channels

    @channels.setter
    def channels(self, value: Iterable[str]) -> None:
        chosen = (value,) if isinstance(value, str) else tuple(value)
        bad = [c for c in chosen if c not in CHANNELS]
        if bad:
            raise ValueError(f"unknown channel(s) {bad}; choose from {', '.join(CHANNELS)}")
        # keep the canonical order, drop repeats
        self._channels = tuple(c for c in CHANNELS if c in chosen)

    @property
    def subaccounts(self) -> tuple[int, ...]:
        return self._subaccounts

    @subaccounts.setter
    def subaccounts(self, value: Iterable[int]) -> None:
        values = () if value is None else ((value,) if isinstance(value, int) else tuple(value))
        try:
            self._subaccounts = tuple(sorted({int(v) for v in values}))
        except (TypeError, ValueError):
            raise ValueError(f"subaccounts must be subaccount ids, got {value!r}") from None

    @property
    def metric(self) -> str:
        return self._metric

    @metric.setter
    def metric(self, value: str) -> None:
        if value not in METRICS:
            raise ValueError(f"unknown metric {value!r}; choose from {', '.join(METRICS)}")
        self._metric = value

    @property
    def group_by(self) -> str:
        return self._group_by

    @group_by.setter
    def group_by(self, value: str) -> None:
        if value not in GROUPINGS:
            raise ValueError(f"unknown grouping {value!r}; choose from {', '.join(GROUPINGS)}")
        self._group_by = value

    def window(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The half-open UTC window ``[start 00:00, day after end 00:00)``."""
        t0 = pd.Timestamp(self.start, tz="UTC")
        t1 = pd.Timestamp(self.end, tz="UTC") + pd.Timedelta(days=1)
        return t0, t1

    # -- loading ---------------------------------------------------------------------------
    def _notify(self) -> None:
        for listener in list(self.listeners):
            listener(self)

    def _fail(self, message: str) -> bool:
        self.status, self.error = "error", message
        self._notify()
        return False

    def load(self) -> bool:
        """Load the selected channels for the selected range (memory first, then the
        client); ``True`` on success, else ``status == "error"`` and ``error`` says why."""
        if not self.channels:
            return self._fail("Choose at least one channel.")
        if self.start > self.end:
            return self._fail(f"The start date {self.start} is after the end date {self.end}.")
        t0, t1 = self.window()
        key = (self.channels, t0, t1)
        if key == self._loaded_key and self.data is not None:
            if self.status != "ready":
                self.status, self.error = "ready", None
                self._notify()
            return True
        self.status, self.error = "loading", None
        self.progress = (0, len(self.channels))
        self._notify()
        frames = []
        try:
            for i, channel in enumerate(self.channels):
                frames.append(self._frame(channel, t0, t1))
                self.progress = (i + 1, len(self.channels))
                self._notify()
        except Exception as exc:  # shown as text in the widget, never as a traceback
            self.data, self._loaded_key = None, None
            return self._fail(error_text(exc, client_secrets(self.client)))
        data = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        self.currency = next(
            (f.attrs.get("currency") for f in frames if f.attrs.get("currency")), None
        )
        data["channel"] = data["channel"].astype(pd.CategoricalDtype(CHANNELS))
        self.data, self._loaded_key = data, key
        self.status = "ready"
        self._notify()
        return True

    def _frame(self, channel: str, t0: pd.Timestamp, t1: pd.Timestamp) -> pd.DataFrame:
        key = (channel, t0, t1)
        if key in self._memo:
            self._memo.move_to_end(key)
            return self._memo[key]
        self.requests += 1
        frame = normalise(channel, self.client.history(channel, start=t0, end=t1, progress=False))
        self._memo[key] = frame
        while len(self._memo) > MEMO_SIZE:
            self._memo.popitem(last=False)
        return frame

    def refresh(self) -> bool:
        """Load if the range or channels changed; ``True`` when table and chart are ready."""
        return self.load()

    def subaccount_options(self) -> list[tuple[str, int]]:
        """``(label, subaccount_id)`` choices: the account's subaccounts, or (when the login
        may not list them) those seen in the loaded history."""
        if self._subaccount_options is None:
            options: list[tuple[str, int]] = []
            try:
                subs = self.client.subaccounts()
                for sid, name in zip(subs["subaccount_id"], subs["api_username"], strict=True):
                    if pd.notna(sid):
                        options.append(
                            (f"{name} ({sid})" if pd.notna(name) else str(sid), int(sid))
                        )
            except Exception:  # a subaccount login may not list subaccounts
                options = []
            if not options and self.data is not None:
                seen = self.data.dropna(subset=["subaccount_id"]).drop_duplicates("subaccount_id")
                options = [
                    (f"{u} ({s})" if pd.notna(u) else str(s), int(s))
                    for s, u in zip(seen["subaccount_id"], seen["username"], strict=True)
                ]
            self._subaccount_options = sorted(options, key=lambda o: o[1])
        return self._subaccount_options

    # -- results ---------------------------------------------------------------------------
    def rows(self) -> pd.DataFrame:
        """The loaded rows within the selected subaccounts (normalised columns)."""
        if self.data is None and not self.load():
            raise RuntimeError(self.error or "nothing loaded")
        data = self.data
        assert data is not None  # load() returned True
        if self.subaccounts:
            data = data[data["subaccount_id"].isin(self.subaccounts).fillna(False)]
        return data

    def _keys(self, data: pd.DataFrame) -> pd.Series:
        t = data["time"]
        if self.group_by == "day":
            return t.dt.floor("D")
        if self.group_by == "week":
            day = t.dt.floor("D")
            return day - pd.to_timedelta(day.dt.day_of_week, unit="D")
        if self.group_by == "month":
            naive = t.dt.tz_convert(None)
            return (
                (naive - pd.to_timedelta(naive.dt.day - 1, unit="D"))
                .dt.floor("D")
                .dt.tz_localize("UTC")
            )
        return data["country"].astype("str")

    def _grid(self) -> pd.DatetimeIndex | None:
        t0, t1 = self.window()
        last = t1 - pd.Timedelta(days=1)
        if self.group_by == "day":
            return pd.date_range(t0, last, freq="D", name="day")
        if self.group_by == "week":
            monday = t0 - pd.Timedelta(days=t0.weekday())
            return pd.date_range(monday, last, freq="7D", name="week")
        if self.group_by == "month":
            return pd.date_range(t0.replace(day=1), last, freq="MS", name="month")
        return None

    def measures(self) -> pd.DataFrame:
        """Long frame: one row per group x channel with ``messages``, ``sent``,
        ``delivered``, ``spend`` and the three metrics."""
        data = self.rows()
        key = self._keys(data).rename(self.group_by)
        frame = pd.DataFrame(
            {
                self.group_by: key.to_numpy(),
                "channel": data["channel"].astype("str").to_numpy(),
                "messages": 1,
                "sent": (data["outcome"] != "cancelled").to_numpy(np.int64),
                "delivered": (data["outcome"] == "delivered").to_numpy(np.int64),
                "spend": data["spend"].fillna(0.0).to_numpy(),
            }
        )
        g = frame.groupby([self.group_by, "channel"], sort=True).sum()
        g["volume"] = g["messages"]
        with np.errstate(invalid="ignore", divide="ignore"):
            g["delivery_rate"] = g["delivered"] / g["sent"].where(g["sent"] > 0)
        g["spend"] = g["spend"].round(6)
        return g.reset_index()

    def table(self) -> pd.DataFrame:
        """The chosen metric: one row per day / week / month (every one in the range, zero
        when nothing was sent) or country (largest volume first); one column per channel,
        plus ``all`` when several channels are chosen."""
        m = self.measures()
        by = self.group_by
        parts = {}
        for channel in self.channels:
            parts[channel] = m[m["channel"] == channel].set_index(by)
        if len(self.channels) > 1:
            parts["all"] = m.groupby(by)[["messages", "sent", "delivered", "spend"]].sum()
        grid = self._grid()
        out = {}
        for name, part in parts.items():
            part = part if grid is None else part.reindex(grid)
            if self.metric == "spend":
                col = part["spend"].fillna(0.0).round(6)
            elif self.metric == "volume":
                col = part["messages"].fillna(0).astype("Int64")
            else:
                sent = part["sent"].astype("float64")
                col = part["delivered"].astype("float64") / sent.where(sent > 0)
            out[name] = col
        table = pd.DataFrame(out)
        if grid is None:
            volume = m.groupby(by)["messages"].sum()
            table = table.reindex(volume.sort_values(ascending=False, kind="stable").index)
            table.index.name = by
            if self.metric != "delivery_rate":
                table = table.fillna(0)
        else:
            table.index.name = by
        return table

    def summary(self) -> dict[str, Any]:
        """Key figures over the selection: messages, spend, delivered rate, currency."""
        data = self.rows()
        sent = int((data["outcome"] != "cancelled").sum())
        delivered = int((data["outcome"] == "delivered").sum())
        return {
            "messages": len(data),
            "spend": round(float(data["spend"].sum()), 6),
            "delivery_rate": delivered / sent if sent else None,
            "currency": self.currency,
        }

    def title(self) -> str:
        label = METRICS[self.metric]
        if self.metric == "spend" and self.currency:
            label += f" ({self.currency})"
        channels = ", ".join(self.channels)
        return f"{label} per {self.group_by} — {channels}, {self.start} to {self.end}"

    def figure(self) -> Figure:
        """A matplotlib Figure of :meth:`table`: lines over time, or bars per country."""
        from matplotlib.ticker import PercentFormatter

        table = self.table()
        fig, ax = new_figure()
        if self.group_by == "country":
            column = "all" if "all" in table else table.columns[0]
            top = table[column].head(TOP_COUNTRIES).astype("float64").iloc[::-1]
            ax.barh(top.index.astype(str), top.to_numpy(), color="#3a6ea5")
            ax.set_xlabel(METRICS[self.metric])
            value_axis: Axis = ax.xaxis
        else:
            x = table.index.tz_convert(None) if len(table) else table.index
            for column in table.columns:
                ax.plot(
                    x,
                    table[column].astype("float64").to_numpy(),
                    marker="o" if len(table) <= 40 else None,
                    markersize=3,
                    label=column,
                )
            if len(table.columns) > 1:
                ax.legend(loc="best", fontsize="small")
            ax.set_ylabel(METRICS[self.metric])
            ax.grid(True, alpha=0.3)
            value_axis = ax.yaxis
        if self.metric == "delivery_rate":
            value_axis.set_major_formatter(PercentFormatter(1.0))
        ax.set_title(self.title(), fontsize="medium")
        return fig

    def table_html(self, max_rows: int = 400) -> str:
        """:meth:`table` as an HTML table with formatted numbers (escaped)."""
        table = self.table().head(max_rows)
        by = self.group_by
        if by == "month":
            labels = [t.strftime("%Y-%m") for t in table.index]
        elif by in ("day", "week"):
            labels = [t.strftime("%Y-%m-%d") for t in table.index]
        else:
            labels = [str(x) for x in table.index]
        cur = f" ({self.currency})" if self.metric == "spend" and self.currency else ""

        def fmt(v: Any) -> str:
            if pd.isna(v):
                return "–"
            if self.metric == "spend":
                return f"{v:,.2f}"
            if self.metric == "volume":
                return f"{int(v):,}"
            return f"{v:.1%}"

        head = "".join(f"<th>{esc(c)}{esc(cur)}</th>" for c in table.columns)
        body = "".join(
            f"<tr><td>{esc(label)}</td>"
            + "".join(f'<td style="text-align:right">{fmt(v)}</td>' for v in row)
            + "</tr>"
            for label, row in zip(labels, table.itertuples(index=False), strict=True)
        )
        return (
            f'<table class="csframe-explorer"><thead><tr><th>{esc(by)}</th>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>"
        )


class ExplorerView:
    """The ipywidgets view of an :class:`Explorer` (build it with
    :func:`csframe.widgets.explorer`). Controls: ``start``, ``end``, ``channels``,
    ``subaccounts``, ``metric``, ``group_by``; ``progress`` and ``status`` show loading
    and errors; ``output`` holds the chart and the table. ``widget`` is the box to display
    (the view displays itself as that box).
    """

    def __init__(self, model: Explorer) -> None:
        from csframe.widgets._deps import ipywidgets

        w = ipywidgets()

        self.model = model
        self.start = w.DatePicker(description="From", value=model.start)
        self.end = w.DatePicker(description="To", value=model.end)
        self.channels = w.SelectMultiple(
            options=CHANNELS, value=model.channels, description="Channels", rows=4
        )
        self.subaccounts = w.SelectMultiple(
            options=model.subaccount_options(),
            value=model.subaccounts,
            description="Subaccounts",
            rows=4,
        )
        self.metric = w.Dropdown(
            options=[(label, key) for key, label in METRICS.items()],
            value=model.metric,
            description="Metric",
        )
        self.group_by = w.ToggleButtons(options=GROUPINGS, value=model.group_by, description="Per")
        self.progress = w.IntProgress(
            min=0, max=1, value=0, description="Loading", layout=w.Layout(visibility="hidden")
        )
        self.status = w.HTML()
        self.output = w.Output()
        self._busy = False
        self.widget = w.VBox(
            [
                w.HBox(
                    [w.VBox([self.start, self.end, self.metric]), self.channels, self.subaccounts]
                ),
                self.group_by,
                w.HBox([self.progress, self.status]),
                self.output,
            ]
        )
        model.listeners.append(self._on_model)
        for control in (
            self.start,
            self.end,
            self.channels,
            self.subaccounts,
            self.metric,
            self.group_by,
        ):
            control.observe(self._changed, names="value")
        self.refresh()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _changed(self, _change: object = None) -> None:
        if self._busy:
            return
        try:
            if self.start.value is None or self.end.value is None:
                raise ValueError("Choose a start and an end date.")
            self.model.start = self.start.value
            self.model.end = self.end.value
            self.model.channels = self.channels.value
            self.model.subaccounts = self.subaccounts.value
            self.model.metric = self.metric.value
            self.model.group_by = self.group_by.value
        except ValueError as exc:
            self.model.status, self.model.error = "error", str(exc)
            self._show_error()
            return
        self.refresh()

    def _on_model(self, model: Explorer) -> None:
        done, total = model.progress
        if model.status == "loading":
            self.progress.max = max(total, 1)
            self.progress.value = done
            self.progress.layout.visibility = "visible"
            current = model.channels[done] if done < len(model.channels) else ""
            self.status.value = f"Loading {esc(current)} history… ({done}/{total})"
        else:
            self.progress.layout.visibility = "hidden"

    def _show_error(self) -> None:
        self.status.value = (
            f'<span style="color:#b00020">{esc(self.model.error or "Something went wrong.")}</span>'
        )
        self.output.outputs = ()

    def refresh(self) -> bool:
        """Reload if needed and redraw the chart and the table."""
        from IPython.display import HTML, Image

        if not self.model.refresh():
            self._show_error()
            return False
        if not self.subaccounts.options:
            options = self.model.subaccount_options()
            if options:
                self._busy = True  # new options reset the selection: not a user change
                try:
                    self.subaccounts.options = options
                finally:
                    self._busy = False
        s = self.model.summary()
        rate = "–" if s["delivery_rate"] is None else f"{s['delivery_rate']:.1%}"
        cur = f"{s['currency']} " if s["currency"] else ""
        self.status.value = esc(
            f"{s['messages']:,} messages · {cur}{s['spend']:,.2f} · {rate} delivered"
        )
        self.output.outputs = ()
        self.output.append_display_data(Image(png(self.model.figure())))
        self.output.append_display_data(HTML(self.model.table_html()))
        return True
