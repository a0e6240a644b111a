"""``csframe.Client``: one object per ClickSend account, every loader a method.

Example::

    import csframe
    cs = csframe.Client()                      # CLICKSEND_USERNAME / CLICKSEND_API_KEY
    sms = cs.history("sms", start="2026-01-01", end="2026-11-01")
    usage = cs.usage(start="2026-01", end="2026-10")

With the embedded sandbox (no account needed)::

    with csframe.sandbox.running() as sb:
        cs = csframe.Client(**sb.credentials, base_url=sb.base_url)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from csframe import loaders, schema
from csframe.config import cache_dir as default_cache_dir
from csframe.config import resolve_base_url, resolve_credentials
from csframe.errors import InsufficientCredit, ValidationError
from csframe.loaders import export, generic, paged
from csframe.loaders.filters import (
    check_columns,
    check_max_rows,
    chunk_pages_for,
    filter_params,
    refuse_search,
)
from csframe.session import ApiSession, CacheMiss, RetryPolicy, snapshot

if TYPE_CHECKING:
    from collections.abc import Mapping

    from csframe.sync import SyncResult
    from csframe.timeutil import Instant


class Client:
    """A ClickSend account as DataFrames.

    Parameters
    ----------
    username, api_key:
        Credentials; default ``CLICKSEND_USERNAME`` / ``CLICKSEND_API_KEY``. The key is
        never shown in reprs, logs, exceptions or the cache.
    base_url:
        API root; default ``CLICKSEND_BASE_URL`` or ``https://rest.clicksend.com/v3``.
    cache:
        ``True`` (default): SQLite HTTP cache in ``cache_dir``, one file per username and
        API root (a sandbox's entries are also keyed by its instance), owner-only
        permissions, and next to it the frame cache of closed history windows
        (:mod:`csframe.framecache`); ``False``: no cache; a path: use that directory. See
        the README's configuration section for healing, clearing and read-your-writes.
    cache_dir:
        Cache directory; default ``CSFRAME_CACHE_DIR`` or the user cache directory.
    max_workers:
        Concurrent requests for pages, windows and months.
    rate_limit:
        Client-side requests per second shared by all workers (cache hits are free).
    timeout:
        Seconds per request.
    progress:
        ``"auto"`` (bars in notebooks and terminals, none under CI), ``True`` or ``False``.
    settle_days:
        How long after a window closes its data may still change (receipts); older
        windows go to the frame cache for good. A number of days, 0 or more.
    max_attempts:
        Tries per read request (1 = no retry) before a transient failure is raised.

    Loaders return one consistent snapshot: every page is retried per the retry policy,
    and only when retries are spent is the whole load answered from cached data of one
    age (``df.attrs["stale"]`` and a :class:`~csframe.session.StaleDataWarning`), or else
    the error is raised. A write through the client invalidates its cached pages of the
    resources it touched (:func:`csframe.session.touched`). ``close()`` is safe during a
    load, which then ends with :class:`~csframe.errors.ClientClosed`.
    """

    def __init__(
        self,
        username: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        cache: bool | str | os.PathLike = True,
        cache_dir: str | os.PathLike | None = None,
        max_workers: int = 8,
        rate_limit: float | None = None,
        timeout: float = 30.0,
        progress: bool | str = "auto",
        settle_days: float = 7,
        max_attempts: int = 6,
    ) -> None:
        _check_workers(max_workers)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        _check_progress(progress)
        if (
            isinstance(settle_days, bool)
            or not isinstance(settle_days, int | float)
            or not 0 <= settle_days < 3650
        ):
            raise ValueError(
                f"settle_days must be a number of days from 0 to 3650, got {settle_days!r}"
            )
        if rate_limit is not None and (
            isinstance(rate_limit, bool)
            or not isinstance(rate_limit, int | float)
            or not rate_limit > 0
        ):
            raise ValueError(
                f"rate_limit must be a positive number of requests per second, got {rate_limit!r}"
            )
        if not isinstance(cache, bool | str | os.PathLike):
            raise ValueError(f"cache must be True, False or a directory path, got {cache!r}")
        retry = RetryPolicy(max_attempts=max_attempts)  # checks max_attempts
        credentials = resolve_credentials(username, api_key)
        use_cache = cache is not False
        if not isinstance(cache, bool):
            cache_dir = cache
        directory = default_cache_dir(cache_dir) if use_cache else None
        self.session = ApiSession(
            credentials,
            resolve_base_url(base_url),
            cache=use_cache,
            cache_dir=directory,
            max_workers=max_workers,
            rate_limit=rate_limit,
            timeout=float(timeout),
            retry=retry,
        )
        self.max_workers = max_workers
        self.progress = progress
        # where this client keeps its files (None: CSFRAME_CACHE_DIR or the user cache
        # folder); send journals go under it even when the HTTP cache is off
        self.cache_dir = cache_dir
        self.settle = timedelta(days=settle_days)
        self._currency: str | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"Client(username={self.username!r}, base_url={self.base_url!r}, "
            f"cache={str(self.cache_path) if self.cache_path else False!r})"
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session and the cache database. Safe from another thread during a
        load: in-flight requests finish, later ones raise
        :class:`~csframe.errors.ClientClosed`, queued frame-cache windows are written
        once, and no thread is left behind."""
        self.session.close()

    def clear_cache(self) -> None:
        """Delete every cached response of this client (its cache file stays, empty) and
        every window of its frame cache.

        Example::

            cs.clear_cache(); cs.lists()        # straight from the API
        """
        self.session.clear_cache()

    def invalidate(self, *paths: str) -> None:
        """Forget this client's short-lived cached pages under these API paths (writes
        through the client do this themselves; this is for writes made elsewhere).

        Example::

            cs.invalidate("/lists", "/account")
        """
        self.session.invalidate([_path(p) for p in paths])

    @property
    def username(self) -> str:
        return self.session.credentials.username

    @property
    def base_url(self) -> str:
        return self.session.base_url

    @property
    def cache_path(self) -> Path | None:
        """The SQLite cache file, or None when caching is off."""
        return self.session.cache_path

    @property
    def requests_sent(self) -> int:
        """HTTP requests that actually went out (cache hits excluded)."""
        return self.session.requests_sent

    # -- raw access ---------------------------------------------------------------------------
    def get(self, path: str, **params: Any) -> Any:
        """GET any API path and return the envelope's ``data``.

        Example::

            cs.get("/sms/history", page=2, limit=100)["data"][0]["message_id"]
        """
        return self.session.get(_path(path), params or None)

    # -- account ------------------------------------------------------------------------------
    def account(self) -> dict:
        """The ``/account`` record as a dict (cached for one minute).

        Example::

            cs.account()["_currency"]["currency_name_short"]   # 'AUD'
        """
        data = self.session.get("/account", expire_after=timedelta(minutes=1))
        with self._lock:
            self._currency = _currency_of(data) or self._currency
        return data

    def currency(self) -> str | None:
        """The account's currency code (e.g. 'AUD'), read once per client."""
        return self._currency_with(self.session)

    def _currency_with(self, session) -> str | None:
        if self._currency is None:
            try:
                data = session.get("/account", expire_after=timedelta(hours=1))
            except CacheMiss:  # a stale snapshot without it: frames just lack the currency
                return None
            self._currency = _currency_of(data)
        return self._currency

    def _snapshot(self, what: str, load) -> pd.DataFrame:
        """``load(session)`` as one consistent snapshot (see :func:`csframe.session.snapshot`)."""
        return snapshot(self.session, load, what)

    # -- loaders ------------------------------------------------------------------------------
    def history(
        self,
        channel: str = "sms",
        start: Instant | None = None,
        end: Instant | None = None,
        **kw: Any,
    ) -> pd.DataFrame:
        """Message history of ``channel`` in the window ``[start, end)`` as a typed frame.

        ``start``/``end``: dates, datetimes or ISO strings; naive means UTC (``tz="account"``:
        dates without a time are midnight in the account's time zone; or an IANA name);
        ``None`` means unbounded (``end`` is then pinned to the moment the load starts).
        Columns and dtypes: :data:`csframe.schema.SMS_HISTORY`; currency in
        ``df.attrs["currency"]``.

        Filters, checked against the resource's columns before any request: ``q`` (a dict
        ``{"status": "Failed"}`` or ``"field:value,..."``, searched by the API,
        case-insensitively), ``operator`` (``"AND"``/``"OR"``), ``order_by``
        (``("date", "desc")``), ``columns`` (only those columns are kept, as each chunk is
        parsed) and ``max_rows`` (stop once that many rows are in, in API order).

        Example::

            sms = cs.history("sms", start="2026-10-01", end="2026-11-01")
            sms.groupby("country", observed=True)["message_price"].sum()
            failed = cs.history("sms", q={"status": "Failed"}, columns=["date", "to"])
        """
        opts = self._load_kw(kw, channel)
        return self._snapshot(
            f"{channel} history",
            lambda s: loaders.history(
                s, channel, start, end, currency=self._currency_with(s), **opts
            ),
        )

    def iter_history(
        self,
        channel: str = "sms",
        start: Instant | None = None,
        end: Instant | None = None,
        **kw: Any,
    ) -> Iterator[pd.DataFrame]:
        """Lazy twin of :meth:`history`: yields typed frames (``chunk_pages`` pages each).

        Example::

            for part in cs.iter_history("sms", start="2026-01-01"):
                part.to_parquet(...)
        """
        chunk_pages = _check_chunk_pages(kw.pop("chunk_pages", 50))
        opts = self._load_kw(kw, channel)
        return loaders.iter_history(
            self.session,
            channel,
            start,
            end,
            currency=self.currency(),
            chunk_pages=chunk_pages,
            **opts,
        )

    def usage(
        self, start: Instant | None = None, end: Instant | None = None, **filters: Any
    ) -> pd.DataFrame:
        """Usage per month x channel x subaccount for months ``start``..``end`` (inclusive).

        Months as 'YYYY-MM' (or dates); default: the 12 months up to the current one.
        Columns: month, channel, subaccount_id, username, count, price. ``columns=[...]``
        and ``max_rows=N`` (months fetched in order until N rows are in); the API cannot
        search or sort usage, so ``q``/``operator``/``order_by`` are refused.

        Example::

            u = cs.usage("2026-01", "2026-10")
            u.pivot_table(index="month", columns="channel", values="price", aggfunc="sum")
        """
        opts = self._unsearchable("usage", filters)
        return self._snapshot(
            "usage",
            lambda s: loaders.usage(
                s,
                start,
                end,
                currency=self._currency_with(s),
                max_workers=self.max_workers,
                settle=self.settle,
                **opts,
            ),
        )

    def receipts(
        self,
        channel: str = "sms",
        start: Instant | None = None,
        end: Instant | None = None,
        **filters: Any,
    ) -> pd.DataFrame:
        """Delivery receipts of ``channel`` (sms, voice, fax), optionally in ``[start, end)``
        of their ``timestamp`` (filtered after loading: the API has no time filter).

        Example::

            rc = cs.receipts("sms", start="2026-10-01")
            rc["status_code"].value_counts()
        """
        resource = paged.choose(paged.RECEIPTS, channel, "channel")
        paged.check_window(start, end)  # before any request
        return self._windowed(resource, start, end, filters)

    def inbound(
        self, start: Instant | None = None, end: Instant | None = None, **filters: Any
    ) -> pd.DataFrame:
        """Inbound SMS (replies, STOP opt-outs, messages to your numbers) in ``[start, end)``.

        Example::

            stops = cs.inbound()[lambda d: d["body"].str.upper().str.strip() == "STOP"]
        """
        paged.check_window(start, end)
        return self._windowed(schema.SMS_INBOUND, start, end, filters)

    def _windowed(self, resource, start, end, filters: dict) -> pd.DataFrame:
        """A resource the API cannot window by time: loaded (filtered and projected on
        the way), then cut to ``[start, end)`` of its ``timestamp``; ``max_rows`` counts
        rows inside the window, so with a window it cannot stop the fetch early."""
        opts = self._filters(resource, filters)
        windowed = start is not None or end is not None
        columns, max_rows = opts["columns"], opts["max_rows"]
        if windowed:
            if columns is not None and "timestamp" not in columns:
                opts["columns"] = [*columns, "timestamp"]
            opts["max_rows"] = None
        df = self._snapshot(
            resource.name, lambda s: paged.load(s, resource, **opts, **self._page_kw())
        )
        if not windowed:
            return df
        df = paged.between(df, "timestamp", start, end)
        if columns is not None:
            df = df[columns]
        return df.head(max_rows) if max_rows is not None else df

    def _filters(self, resource, filters: dict) -> dict:
        """``q``/``operator``/``order_by``/``columns``/``max_rows``, checked against the
        resource's columns before any request."""
        unknown = set(filters) - set(_HISTORY_FILTERS)
        if unknown:
            raise TypeError(
                f"unexpected argument(s) {', '.join(sorted(unknown))}; "
                f"filters: {', '.join(_HISTORY_FILTERS)}"
            )
        return {
            "search": filter_params(
                resource, filters.get("q"), filters.get("operator"), filters.get("order_by")
            ),
            "columns": check_columns(resource, filters.get("columns")),
            "max_rows": check_max_rows(filters.get("max_rows")),
        }

    def _unsearchable(self, what: str, filters: dict) -> dict:
        """``columns``/``max_rows`` for a loader whose endpoint cannot search or sort:
        ``q``/``operator``/``order_by`` are refused (a ValueError), before any request."""
        unknown = set(filters) - set(_HISTORY_FILTERS)
        if unknown:
            raise TypeError(
                f"unexpected argument(s) {', '.join(sorted(unknown))}; filters: columns, max_rows"
            )
        refuse_search(what, filters.get("q"), filters.get("operator"), filters.get("order_by"))
        return {"columns": filters.get("columns"), "max_rows": filters.get("max_rows")}

    def iter_frames(
        self, resource: str, chunk_pages: int = 50, **params: Any
    ) -> Iterator[pd.DataFrame]:
        """Lazy twin of the paginated loaders: typed frames of ``chunk_pages`` pages each
        for any registered paginated resource (``"sms_receipts"``, ``"sms_inbound"``,
        ``"sms_campaigns"``, ``"lists"``, ...; see :data:`csframe.schema.REGISTRY`).
        History has its own twin with time windows, :meth:`iter_history`.

        ``q``/``operator``/``order_by``/``columns``/``max_rows`` are checked against the
        resource's columns when this is called, before any request, as on the loaders
        (``max_rows`` stops the fetch once that many rows were yielded); other keyword
        arguments go to the API as query parameters.

        Example::

            for part in cs.iter_frames("sms_inbound", chunk_pages=20, q={"from": "+61411111111"}):
                handle(part)
        """
        _check_chunk_pages(chunk_pages)
        res = schema.get(resource)
        if not res.paginated or "{" in res.path:
            raise ValueError(
                f"{resource!r} is not a plain paginated resource; use its own method "
                "(e.g. contacts(), campaign_history())"
            )
        opts = self._filters(res, {k: params.pop(k) for k in _HISTORY_FILTERS if k in params})
        params = {**params, **opts["search"]}
        return self._iter_frames(res, chunk_pages, params, opts["columns"], opts["max_rows"])

    def _iter_frames(
        self,
        res: schema.Resource,
        chunk_pages: int,
        params: dict,
        columns: list[str] | None,
        max_rows: int | None,
    ) -> Iterator[pd.DataFrame]:
        """The frames of :meth:`iter_frames`, its arguments checked."""
        chunk_pages = chunk_pages_for(max_rows, 100, chunk_pages)
        chunks = paged.iter_tables(
            self.session, res, params=params or None, chunk_pages=chunk_pages, **self._page_kw()
        )
        left = max_rows
        for table in chunks:
            if left is not None and table.num_rows >= left:
                yield paged.table_to_frame(
                    table.slice(0, left), res, currency=None, columns=columns
                )
                chunks.close()  # enough rows: pending pages are cancelled
                return
            if left is not None:
                left -= table.num_rows
            yield paged.table_to_frame(table, res, currency=None, columns=columns)

    def statistics(self, channel: str = "sms", **filters: Any) -> pd.DataFrame:
        """Daily outbound / inbound / bounced counts and prices for ``channel`` (sms, voice).

        ``columns=[...]`` and ``max_rows=N`` (the oldest N days); the API cannot search or
        sort statistics, so ``q``/``operator``/``order_by`` are refused.

        Example::

            cs.statistics("sms").set_index("date")["outbound_price"].plot()
        """
        paged.choose(dict.fromkeys(paged.STATISTICS_CHANNELS), channel, "channel")
        opts = self._unsearchable(f"{channel} statistics", filters)
        return self._snapshot(
            f"{channel} statistics",
            lambda s: paged.statistics(s, channel, currency=self._currency_with(s), **opts),
        )

    def campaigns(self, kind: str = "sms", **filters: Any) -> pd.DataFrame:
        """Campaigns of ``kind`` (sms, mms, email) with their counts.

        Example::

            cs.campaigns("email")[["name", "send_count", "open_count", "click_count"]]
        """
        resource = paged.choose(paged.CAMPAIGNS, kind, "kind")
        opts = self._filters(resource, filters)
        return self._snapshot(
            resource.name,
            lambda s: paged.load(
                s, resource, currency=self._currency_with(s), **opts, **self._page_kw()
            ),
        )

    def campaign_history(self, email_campaign_id: int, **filters: Any) -> pd.DataFrame:
        """Per-recipient history of one email campaign (opens, clicks, bounces).

        Example::

            h = cs.campaign_history(64); h["open_count"].gt(0).mean()   # open rate
        """
        cid = paged._check_id(email_campaign_id, "email_campaign_id")
        opts = self._filters(schema.EMAIL_CAMPAIGN_HISTORY, filters)
        return self._snapshot(
            f"email campaign {cid} history",
            lambda s: paged.load(
                s,
                schema.EMAIL_CAMPAIGN_HISTORY,
                path=f"/email-campaigns/{cid}/history",
                **opts,
                **self._page_kw(),
            ),
        )

    def campaign_messages(self, sms_campaign_id: int) -> pd.DataFrame:
        """The history rows of one SMS campaign joined with receipts and replies.

        Example::

            m = cs.campaign_messages(12); m["opted_out"].sum()
        """
        cid = paged._check_id(sms_campaign_id, "sms_campaign_id")
        opts = self._load_kw({})
        return self._snapshot(
            f"sms campaign {cid} messages",
            lambda s: paged.campaign_messages(s, cid, currency=self._currency_with(s), **opts),
        )

    def lists(self, **filters: Any) -> pd.DataFrame:
        """Contact lists with their sizes.

        Example::

            cs.lists()[["list_id", "list_name", "_contacts_count"]]
        """
        opts = self._filters(schema.LISTS, filters)
        return self._snapshot(
            "lists", lambda s: paged.load(s, schema.LISTS, **opts, **self._page_kw())
        )

    def contacts(
        self, list_id: int | None = None, updated_after: Instant | None = None, **filters: Any
    ) -> pd.DataFrame:
        """Contacts of list ``list_id``, or of every list (fetched concurrently) when None;
        ``updated_after`` (a date or datetime) keeps contacts changed since then.

        Example::

            ct = cs.contacts()          # every list; list_id and _list_name columns say which
        """
        opts = self._filters(schema.CONTACTS, filters)
        return self._snapshot(
            "contacts",
            lambda s: paged.contacts(
                s,
                list_id,
                updated_after=updated_after,
                max_workers=self.max_workers,
                progress=self.progress,
                **opts,
            ),
        )

    def subaccounts(self, **filters: Any) -> pd.DataFrame:
        """Subaccounts and their permissions (API keys are never loaded).

        Example::

            cs.subaccounts()[["subaccount_id", "api_username", "access_sms"]]
        """
        opts = self._filters(schema.SUBACCOUNTS, filters)
        return self._snapshot(
            "subaccounts", lambda s: paged.load(s, schema.SUBACCOUNTS, **opts, **self._page_kw())
        )

    def recharge_transactions(self, **filters: Any) -> pd.DataFrame:
        """Credit purchases (recharges) of the account.

        Example::

            cs.recharge_transactions()["amount"].sum()
        """
        opts = self._filters(schema.RECHARGE_TRANSACTIONS, filters)
        return self._snapshot(
            "recharge transactions",
            lambda s: paged.load(s, schema.RECHARGE_TRANSACTIONS, **opts, **self._page_kw()),
        )

    def history_export(
        self,
        channel: str = "sms",
        start: Instant | None = None,
        end: Instant | None = None,
        **filters: Any,
    ) -> pd.DataFrame:
        """The API's CSV export of ``channel`` history in ``[start, end)``, typed like
        :meth:`history`; ``q``/``operator``/``order_by`` go to the export (checked against
        the history's columns first), ``columns`` converts only those, ``max_rows`` parses
        only the first rows of the file (the export is one download either way).

        Example::

            ex = cs.history_export("sms", start="2026-10-01", end="2026-11-01")
            failed = cs.history_export("sms", q={"status": "Failed"}, columns=["date", "to"])
        """
        resource = loaders.history_resource(channel)
        opts = self._filters(resource, filters)
        return export.history_export(
            self.session, channel, start, end, currency=self.currency(), **opts
        )

    def frame(self, path: str, **params: Any) -> pd.DataFrame:
        """Any paginated GET as a frame, dtypes inferred (timestamps, money, ids).

        Example::

            cs.frame("/automations/sms/inbound")
        """
        path = _path(path)
        return self._snapshot(
            path, lambda s: generic.frame(s, path, params or None, **self._page_kw())
        )

    def sync(self, resource: str, path: str | os.PathLike, start: object = None) -> SyncResult:
        """Incrementally sync ``resource`` into a Parquet store at ``path``: a history
        channel (``"sms"``) or any store name of :data:`csframe.sync_targets.TARGETS`
        (``"sms_receipts"``, ``"sms_inbound"``, ``"usage"``, ``"sms_statistics"``,
        ``"contacts"``, ``"lists"``, ``"sms_campaigns"``, ...). Time-based resources are
        kept by month, the others as dated snapshots; see :func:`csframe.sync.sync` and
        :func:`csframe.store.read`.

        Example::

            cs.sync("sms", "data/sms")
            df = csframe.store.read("data/sms", start="2026-01-01")
            cs.sync("contacts", "data/contacts")
            ct = csframe.store.read("data/contacts", as_of="2026-11-30")
        """
        from csframe.sync import sync

        return sync(self, resource, path, start=start)

    # -- sending (thin; the journaled writers build on these) ----------------------------------
    def price_sms(self, messages: list[dict]) -> dict:
        """``POST /sms/price`` for up to 1000 messages; returns the API's ``data``.

        Example::

            cs.price_sms([{"to": "+61411111111", "body": "Hi"}])["total_price"]
        """
        return self.session.post(
            "/sms/price", {"messages": _check_messages(messages)}, idempotent=True
        )

    def send_sms(self, messages: list[dict]) -> dict:
        """``POST /sms/send`` for up to 1000 messages; returns the API's ``data``.

        Never retried automatically (a lost answer must be resolved by looking the batch
        up, not by sending again). Per-message failures are in ``data["messages"][i]
        ["status"]``; raises :class:`~csframe.errors.InsufficientCredit` when nothing was
        queued because the account has no credit.

        Example::

            cs.send_sms([{"to": "+61411111111", "body": "Hi", "custom_string": "run-1:7"}])
        """
        data = self.session.post("/sms/send", {"messages": _check_messages(messages)})
        statuses = {m.get("status") for m in (data or {}).get("messages") or []}
        if statuses == {"INSUFFICIENT_CREDIT"}:
            raise InsufficientCredit(
                "POST /sms/send: nothing was sent, the account has insufficient credit",
                status=200,
                response_code="INSUFFICIENT_CREDIT",
                response_msg="Insufficient credit",
                method="POST",
                path="/sms/send",
                data=data,
            )
        return data

    # == writers: thin delegates to csframe.writers (all logic lives there) ======== BEGIN ==
    def quote(self, plan: pd.DataFrame, **kw: Any) -> pd.DataFrame:
        """The API's exact price for every message of a plan (``/sms/price`` in chunks of
        at most 1000); see :func:`csframe.writers.quote`.

        Example::

            q = cs.quote(plan); q.attrs["quote"]["total"]
        """
        from csframe import writers

        return writers.quote(self, plan, **kw)

    def send(
        self, plan: pd.DataFrame, journal: str | os.PathLike | None = None, **kw: Any
    ) -> pd.DataFrame:
        """Send a plan in chunks of at most 1000 with a resumable journal: never twice,
        every row with an outcome; see :func:`csframe.writers.send`.

        Example::

            sent = cs.send(plan, journal="runs/oct-promo.sqlite")
        """
        from csframe import writers

        return writers.send(self, plan, journal, **kw)

    def import_contacts(
        self,
        df: pd.DataFrame,
        list_id: int | None = None,
        list_name: str | None = None,
        mapping: Mapping[str, str] | None = None,
        **kw: Any,
    ) -> pd.DataFrame:
        """Validate, upload and import contacts, verified by reading the list back; one
        outcome per row (imported / already_present / rejected + reason); see
        :func:`csframe.writers.import_contacts`.

        Example::

            res = cs.import_contacts(keep, list_name="Customers 2026")
        """
        from csframe import writers

        return writers.import_contacts(self, df, list_id, list_name, mapping, **kw)

    def sync_list(
        self, df: pd.DataFrame, list_id: int, mode: str = "upsert", **kw: Any
    ) -> pd.DataFrame:
        """Add / update / (``mode="replace"``) remove contacts so the list matches ``df``;
        ``dry_run=True`` returns the plan; see :func:`csframe.writers.sync_list`.

        Example::

            cs.sync_list(keep, 428, mode="replace", dry_run=True)["action"].value_counts()
        """
        from csframe import writers

        return writers.sync_list(self, df, list_id, mode, **kw)

    def send_campaign(
        self,
        list_id: int,
        body: str,
        name: str,
        sender: str | None = None,
        schedule: Any = None,
        **kw: Any,
    ) -> dict[str, Any]:
        """Price, then send a list campaign exactly once (``kind=`` sms, mms, email); see
        :func:`csframe.writers.send_campaign`.

        Example::

            camp = cs.send_campaign(428, "Hi {first_name}! Reply STOP to opt out", "Spring")
        """
        from csframe import writers

        return writers.send_campaign(self, list_id, body, name, sender, schedule, **kw)

    def cancel_campaign(self, campaign_id: int, kind: str = "sms") -> dict:
        """Cancel a scheduled campaign; see :func:`csframe.writers.cancel_campaign`.

        Example::

            cs.cancel_campaign(12)["status"]          # 'Cancelled'
        """
        from csframe import writers

        return writers.cancel_campaign(self, campaign_id, kind)

    # == writers ==================================================================== END ==

    def _page_kw(self) -> dict:
        return {"max_workers": self.max_workers, "progress": self.progress}

    def _load_kw(self, kw: dict, channel: object = None) -> dict:
        """The loader's options from ``kw``, all checked before any request (with
        ``channel``, the history filters too: the currency lookup comes first)."""
        allowed = {"max_workers", "progress", "limit", "tz", *_HISTORY_FILTERS}
        unknown = set(kw) - allowed
        if unknown:
            raise TypeError(
                f"unexpected argument(s) {', '.join(sorted(unknown))}; "
                f"allowed: {', '.join(sorted(allowed | {'channel', 'start', 'end'}))}"
            )
        out = {
            "max_workers": _check_workers(kw.get("max_workers", self.max_workers)),
            "progress": _check_progress(kw.get("progress", self.progress)),
            "settle": self.settle,
            "limit": kw.get("limit", 100),
        }
        if "tz" in kw:  # history only: the zone of dates without a time ("account": its own)
            out["tz"] = kw["tz"]
        out.update({k: kw[k] for k in _HISTORY_FILTERS if kw.get(k) is not None})
        if channel is not None:
            resource = loaders.history_resource(channel)
            filter_params(resource, kw.get("q"), kw.get("operator"), kw.get("order_by"))
            check_columns(resource, kw.get("columns"))
            check_max_rows(kw.get("max_rows"))
        return out


# history only: server-side search and sort, projection, and a row cap
_HISTORY_FILTERS = ("q", "operator", "order_by", "columns", "max_rows")


def _check_workers(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 64:
        raise ValueError(f"max_workers must be an integer from 1 to 64, got {value!r}")
    return value


def _check_progress(value):
    if value not in (True, False, "auto") or isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"progress must be True, False or 'auto', got {value!r}")
    return value


def _check_chunk_pages(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"chunk_pages must be a positive integer, got {value!r}")
    return value


def _path(path: str) -> str:
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"path must start with '/', e.g. '/sms/history'; got {path!r}")
    if path.startswith("/v3/"):
        path = path[3:]
    return path


def _currency_of(data: Any) -> str | None:
    if isinstance(data, dict):
        cur = data.get("_currency") or {}
        return cur.get("currency_name_short") if isinstance(cur, dict) else None
    return None


def _check_messages(messages: list[dict]) -> list[dict]:
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list of dicts with 'to' and 'body'")
    if len(messages) > 1000:
        raise ValidationError(
            f"{len(messages)} messages in one request; the API accepts at most 1000 "
            "(the writers chunk larger sends)",
            response_code="TOO_MANY_RECIPIENTS",
        )
    bad = [i for i, m in enumerate(messages) if not isinstance(m, dict) or "body" not in m]
    if bad:
        raise ValueError(f"messages at positions {bad[:10]} are not dicts with a 'body'")
    return messages
