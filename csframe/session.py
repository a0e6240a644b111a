"""The HTTP layer: auth, cache, retries, rate limit, redaction and the ClickSend envelope.

:class:`ApiSession` wraps a ``requests_cache.CachedSession`` (SQLite, WAL, one file per
username and API root, mode 0600; see :mod:`csframe.httpcache`). Only GET is cached; the
Authorization header is neither stored nor part of the cache key. Next to the file, the
session's :class:`~csframe.framecache.FrameCache` (same namespace) holds closed history
windows as tables; their pages are fetched with :data:`NO_CACHE`. The client-side rate
limit is applied in the transport adapter, so cache hits never spend a token.

Every body that comes off the network passes one place, the transport adapter, before
anything else sees it: it must parse as JSON with the API's envelope (else it is a
transient :class:`~csframe.errors.TruncatedResponse`: retried, never cached), and every
field named like a secret (``api_key``, ``password``, ``token``, ``secret``), at any depth,
is removed. So no cache entry, frame, iterator, log line or exception ever holds a key.
A body that carried a secret is not cached at all.

A failed GET is retried per the :class:`RetryPolicy`; an expired cache entry is never
served in its place here. :func:`snapshot` is the loaders' last resort: a whole load
answered from cached entries of one age, flagged ``df.attrs["stale"]``, or the error.

Example::

    s = ApiSession(Credentials("user", "key"), "http://127.0.0.1:8765/v3")
    data = s.get("/account")          # the envelope's ``data``
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import sqlite3
import threading
import time
import urllib.parse
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import urlsplit

import orjson
import pandas as pd
import requests
import requests_cache
from requests.adapters import HTTPAdapter

from csframe import __version__
from csframe.config import Credentials, api_root, cache_file
from csframe.errors import (
    ApiError,
    ClientClosed,
    CsframeError,
    RateLimited,
    ServerError,
    TruncatedResponse,
    error_for,
)
from csframe.framecache import FrameCache, directory_for
from csframe.httpcache import (
    LOCK_WAIT,
    BoundedSQLiteCache,
    CacheClosed,
    _ts,
    cached_session,
    make_key_fn,
    open_cache,
)
from csframe.ratelimit import TokenBucket

if TYPE_CHECKING:  # for annotations only
    from requests_cache.policy.expiration import ExpirationTime

log = logging.getLogger("csframe")

# Expiry used when a caller gives none: short, because most data can still change.
DEFAULT_EXPIRE = timedelta(minutes=5)
# Expiry that keeps a request away from the HTTP cache, neither read nor stored (pages of
# closed history windows: their table goes to the frame cache instead).
NO_CACHE: Any = object()
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_SUCCESS_CODES = frozenset({"SUCCESS", "CREATED", "NO_CONTENT"})
# Cached pages of one listing count as one snapshot when they were all stored within this
# span (one pass over the listing); pages refreshed at another time would mix two states.
STALE_SPREAD = timedelta(minutes=2)
# Words that make a field a secret, wherever it is (matched in the lower-cased name).
SECRET_WORDS = ("api_key", "apikey", "api-key", "password", "passwd", "secret", "token")
# POSTs that only read (price quotes) and so invalidate nothing.
_READ_ONLY_POST = re.compile(r"/price/?$")
_CHANNELS = frozenset({"sms", "mms", "voice", "email", "fax", "post"})


class StaleDataWarning(UserWarning):
    """A load was answered from expired cache entries (one snapshot) because the API failed."""


class CacheMiss(CsframeError):
    """A cache-only read found no stored entry (see :meth:`ApiSession.cached_only`)."""


class StaleMixed(CsframeError):
    """Cached pages of one listing were stored at different times: not one snapshot."""


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter; ``Retry-After`` wins when the server sends it."""

    max_attempts: int = 6
    base: float = 0.25
    cap: float = 20.0

    def __post_init__(self) -> None:
        if (
            isinstance(self.max_attempts, bool)
            or not isinstance(self.max_attempts, int)
            or self.max_attempts < 1
        ):
            raise ValueError(
                f"max_attempts must be an integer of at least 1, got {self.max_attempts!r}"
            )
        for name in ("base", "cap"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            # A small jitter so that many workers told "1 s" do not return in lockstep.
            return min(self.cap, retry_after) + random.uniform(0, 0.1)
        return random.uniform(0, min(self.cap, self.base * (2**attempt)))


# -- secrets ----------------------------------------------------------------------------------
def is_secret(name: Any) -> bool:
    """Whether a field called ``name`` holds a secret (``api_key``, ``sub_password``, ...).

    Example::

        >>> is_secret("api_key"), is_secret("Auth_Token"), is_secret("list_name")
        (True, True, False)
    """
    lowered = str(name).lower()
    return any(word in lowered for word in SECRET_WORDS)


def redact(value: Any) -> Any:
    """A copy of ``value`` without any field named like a secret, at any depth.

    Example::

        >>> redact({"user": "a", "api_key": "K", "sub": [{"password": "p", "id": 1}]})
        {'user': 'a', 'sub': [{'id': 1}]}
    """
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items() if not is_secret(k)}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _maybe_secret(body: bytes) -> bool:
    # a cheap byte scan first; only bodies that mention a secret word are walked
    lowered = body.lower()
    return any(word.encode() in lowered for word in SECRET_WORDS)


def _enveloped(doc: Any) -> bool:
    # the API's envelope, or the bare page block a few listings answer with
    return isinstance(doc, dict) and ("response_code" in doc or isinstance(doc.get("data"), list))


def _inspect(response: requests.Response) -> None:
    """Validate a network body by parsing it, and remove its secrets (see the module doc)."""
    body = response.content
    # the verdicts travel on the response itself, to _storable() in the cache's filter
    r = cast(Any, response)
    r.csframe_secret = False
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        r.csframe_valid = False
        return
    r.csframe_valid = _enveloped(doc)
    if _maybe_secret(body):
        clean = redact(doc)
        if clean != doc:
            r._content = orjson.dumps(clean)
            r.headers.pop("Content-Length", None)
            r.csframe_secret = True


class _RateLimitedAdapter(HTTPAdapter):
    """Spends a token per request that really goes out (requests-cache calls no adapter
    on a hit), and inspects every body that comes back. Counts what was sent, for tests
    and benchmarks."""

    def __init__(self, bucket: TokenBucket, **kw) -> None:
        super().__init__(**kw)
        self.bucket = bucket
        self.sent = 0
        self._lock = threading.Lock()

    def send(self, request, **kw):  # noqa: D401 - adapter protocol
        waited = self.bucket.acquire()
        if waited > 0.05:
            log.info("rate limit: waited %.2f s before %s", waited, _loggable(request.path_url))
        with self._lock:
            self.sent += 1
        response = super().send(request, **kw)
        _inspect(response)
        return response


_SECRET_PARAM = re.compile(r"api_?key|password|passwd|secret|token", re.IGNORECASE)


def _loggable(path_url: str) -> str:
    """A path with its query, secrets masked (for log lines)."""
    path, _, query = path_url.partition("?")
    if not query:
        return path
    pairs = [
        (k, "***" if _SECRET_PARAM.search(k) else v)
        for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True)
    ]
    return path + "?" + urllib.parse.urlencode(pairs)


def _log_request(method: str, path: str, params, response: requests.Response, t0: float) -> None:
    """One DEBUG line per request: method, path and params (secrets masked), status,
    milliseconds, and whether the HTTP cache answered."""
    if not log.isEnabledFor(logging.DEBUG):
        return
    query = urllib.parse.urlencode(params or {}, doseq=True)
    where = _loggable(f"{path}?{query}" if query else path)
    cache = "cache hit" if getattr(response, "from_cache", False) else "network"
    ms = (time.perf_counter() - t0) * 1000
    log.debug("%s %s -> %s in %.0f ms (%s)", method, where, response.status_code, ms, cache)


def _cacheable(response: requests.Response) -> bool:
    """Store only bodies that parsed with their envelope, and none that carried a secret."""
    if getattr(response, "from_cache", False):
        return True  # it passed this check when it was stored
    return getattr(response, "csframe_valid", False) and not getattr(
        response, "csframe_secret", True
    )


def _retry_after(response: requests.Response | None) -> float | None:
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def sandbox_instance(base_url: str, timeout: float = 5.0) -> str | None:
    """The instance token of the csframe sandbox serving ``base_url`` (``GET
    <origin>/_sandbox/instance``), or None for any other server (the real API is not asked).

    Example::

        sandbox_instance(sb.base_url)      # '3f9c...' (new for every running() / serve)
    """
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if host == "clicksend.com" or host.endswith(".clicksend.com"):
        return None
    try:
        r = requests.get(
            f"{parts.scheme}://{parts.netloc}/_sandbox/instance", timeout=min(timeout, 5.0)
        )
        token = r.json().get("instance") if r.status_code == 200 else None
    except (requests.RequestException, ValueError, AttributeError):
        return None
    return token if isinstance(token, str) and re.fullmatch(r"[0-9a-f]{8,64}", token) else None


def touched(path: str) -> list[str]:
    """The API paths whose cached pages a write to ``path`` may change: its resource
    family, the channel of a campaign, that channel's statistics, and the account.

    Example::

        >>> touched("/lists/428/import")
        ['/account', '/lists']
        >>> touched("/sms-campaigns/send")
        ['/account', '/sms', '/sms-campaigns', '/statistics/sms']
    """
    segment = path.strip("/").split("/", 1)[0]
    found = {"/account", f"/{segment}"}
    family = segment.split("-", 1)[0]
    if family != segment:
        found.add(f"/{family}")
    if family in _CHANNELS:
        found.add(f"/statistics/{family}")
    return sorted(found)


class ApiSession:
    """Authenticated, cached, rate-limited, retrying access to one ClickSend account.

    Parameters mirror :class:`csframe.Client`; see there. Thread-safe for concurrent
    GETs (one connection pool sized to ``max_workers``).
    """

    def __init__(
        self,
        credentials: Credentials,
        base_url: str,
        *,
        cache: bool = True,
        cache_dir: Path | None = None,
        max_workers: int = 8,
        rate_limit: float | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.credentials = credentials
        self.base_url = base_url
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.bucket = TokenBucket(rate_limit)
        self.cache_path: Path | None = None
        self.instance: str | None = None
        self.frames: FrameCache | None = None
        self._closed = threading.Event()
        self._idle = threading.Condition()
        self._busy = 0
        backend = None
        if cache:
            if cache_dir is None:
                raise ValueError("cache_dir is required when cache=True")
            root = api_root(base_url)
            self.instance = sandbox_instance(base_url, timeout)
            self.cache_path = cache_file(credentials.username, cache_dir, base_url)
            backend = open_cache(
                self.cache_path, root=root, instance=self.instance, username=credentials.username
            )
            self.frames = _frame_cache(self.cache_path, f"{root}#{self.instance or ''}")
            if backend is None:  # unusable even after healing: this client runs uncached
                self.cache_path = None
        self.cache: BoundedSQLiteCache | None = backend
        if backend is not None:
            self._key = make_key_fn(f"{api_root(base_url)}#{self.instance or ''}")
            self.http: requests.Session = cached_session(
                backend,
                f"{api_root(base_url)}#{self.instance or ''}",
                allowable_methods=("GET",),
                allowable_codes=(200,),
                expire_after=DEFAULT_EXPIRE,
                filter_fn=_cacheable,
                match_headers=False,
            )
        else:
            self.http = requests.Session()
        self.adapter = _RateLimitedAdapter(
            self.bucket, pool_connections=4, pool_maxsize=max(4, max_workers * 2)
        )
        # Requests that skip the HTTP cache (pages of closed history windows) go through a
        # plain session on the same adapter: requests-cache's bookkeeping costs each page
        # about 0.2 ms of CPU even when it neither reads nor stores.
        self.plain = requests.Session() if backend is not None else self.http
        self._configure(self.http, credentials, base_url)
        if self.plain is not self.http:
            self._configure(self.plain, credentials, base_url)

    def _configure(self, http: requests.Session, credentials: Credentials, base_url: str) -> None:
        http.mount("http://", self.adapter)
        http.mount("https://", self.adapter)
        http.auth = (credentials.username, credentials.api_key)
        # requests re-reads proxy and CA settings from the environment on every request
        # (a third of a cached request's time); resolve them once here instead.
        http.proxies.update(requests.utils.get_environ_proxies(base_url))
        ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if ca_bundle:
            http.verify = ca_bundle
        http.trust_env = False
        http.headers.update({"Accept": "application/json", "User-Agent": f"csframe/{__version__}"})

    def __repr__(self) -> str:
        return (
            f"ApiSession(username={self.credentials.username!r}, base_url={self.base_url!r}, "
            f"cache={str(self.cache_path) if self.cache_path else False!r})"
        )

    @property
    def requests_sent(self) -> int:
        """How many HTTP requests actually left this process (cache hits excluded)."""
        return self.adapter.sent

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        """Refuse new requests (:class:`~csframe.errors.ClientClosed`), let in-flight ones
        finish (at most ``timeout`` seconds), close the HTTP cache, write the frame cache's
        queued windows once and stop its writer thread. Safe to call from another thread
        during a load, and twice."""
        self._closed.set()
        with self._idle:
            self._idle.wait_for(lambda: self._busy == 0, self.timeout + LOCK_WAIT)
        self.http.close()  # a CachedSession closes its backend too
        self.plain.close()
        if self.frames is not None:
            self.frames.close()

    def _enter(self, method: str, path: str) -> None:
        with self._idle:
            if self._closed.is_set():
                raise ClientClosed(f"{method} {path}: the client is closed")
            self._busy += 1

    def _leave(self) -> None:
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()

    # -- cache management ----------------------------------------------------------------------
    def invalidate(self, paths: Iterable[str]) -> None:
        """Stop serving this client's short-lived cached responses under these API paths
        (``"/lists"`` covers ``/lists/428/contacts``); settled history windows and closed
        months, which a write cannot change, are kept. Writes call this themselves.

        Example::

            session.invalidate(["/lists", "/account"])
        """
        if self.cache is None or self.cache.closed:
            return
        base = urlsplit(self.base_url).path.rstrip("/")
        with contextlib.suppress(CacheClosed):
            self.cache.invalidate([base + "/" + p.strip("/") for p in paths])

    def clear_cache(self) -> None:
        """Delete every cached response of this client's cache file, and every window of
        its frame cache."""
        if self.cache is not None:
            self.cache.clear()
        if self.frames is not None:
            self.frames.clear()

    def cached_only(self) -> CacheOnlySession:
        """This session answered from stored entries only (fresh or expired); see
        :func:`snapshot`."""
        return CacheOnlySession(self)

    # -- requests ---------------------------------------------------------------------------
    def get(
        self, path: str, params: dict | None = None, *, expire_after: ExpirationTime = None
    ) -> Any:
        """GET ``path`` (relative to the base URL) and return the envelope's ``data``."""
        return self.request("GET", path, params=params, expire_after=expire_after)[0]

    def get_raw(
        self, path: str, params: dict | None = None, *, expire_after: ExpirationTime = None
    ) -> bytes:
        """GET ``path`` and return the whole response body as bytes, once the envelope is
        known to be a success (for columnar parsing of many pages at once)."""
        return self.request("GET", path, params=params, expire_after=expire_after, raw=True)[0]

    def post(
        self, path: str, json: Any = None, *, params: dict | None = None, idempotent: bool = False
    ) -> Any:
        """POST and return ``data``. Not retried unless ``idempotent`` (e.g. price quotes):
        a send whose answer was lost must be resolved by looking it up, not by resending."""
        return self.request("POST", path, params=params, json=json, idempotent=idempotent)[0]

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        json: Any = None,
        expire_after: ExpirationTime = None,
        idempotent: bool | None = None,
        raw: bool = False,
    ) -> tuple[Any, requests.Response]:
        """Send one request with retries; returns ``(data, response)``.

        Raises a :mod:`csframe.errors` exception for failure envelopes, and
        :class:`~csframe.errors.ServerError` / :class:`~csframe.errors.RateLimited` once
        the retry budget is spent. A write (anything but GET, price quotes aside)
        invalidates the cached pages it may change (:func:`touched`), whatever its outcome.
        """
        method = method.upper()
        self._enter(method, path)
        try:
            return self._request(method, path, params, json, expire_after, idempotent, raw)
        finally:
            if method != "GET" and not _READ_ONLY_POST.search(path):
                self.invalidate(touched(path))
            self._leave()

    def _request(
        self,
        method: str,
        path: str,
        params: dict | None,
        json: Any,
        expire_after: ExpirationTime,
        idempotent: bool | None,
        raw: bool,
    ) -> tuple[Any, requests.Response]:
        retryable = method == "GET" if idempotent is None else idempotent
        url = self.base_url + path
        kwargs: dict[str, Any] = {"params": params, "timeout": self.timeout}
        if json is not None:
            kwargs["data"] = orjson.dumps(json)
            kwargs["headers"] = {"Content-Type": "application/json"}
        http = self.plain if expire_after is NO_CACHE else self.http
        cached = method == "GET" and isinstance(http, requests_cache.CachedSession)
        if cached:
            kwargs["expire_after"] = DEFAULT_EXPIRE if expire_after is None else expire_after
        attempts = self.retry.max_attempts if retryable else 1
        last: Exception | None = None
        for attempt in range(attempts):
            response = None
            t0 = time.perf_counter()
            try:
                response = http.request(method, url, **kwargs)
                _log_request(method, path, params, response, t0)
                if raw and _fast_success(response):
                    return response.content, response
                data = self._parse(method, path, response)
                return (response.content if raw else data), response
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                if self._closed.is_set():
                    raise ClientClosed(f"{method} {path}: the client was closed") from None
                # The connection dropped or timed out: the server may or may not have acted.
                last = ServerError(
                    f"{method} {path} failed: {type(exc).__name__} (no complete response)",
                    method=method,
                    path=path,
                )
            except TruncatedResponse as exc:
                last = exc
                if cached:  # never answer the retry from a cached copy of the broken body
                    kwargs["force_refresh"] = True
            except ApiError as exc:
                if exc.status not in _RETRY_STATUSES:
                    raise
                last = exc
            except (CacheClosed, sqlite3.ProgrammingError):
                raise ClientClosed(f"{method} {path}: the client was closed") from None
            if attempt + 1 < attempts:
                wait = self.retry.delay(attempt, _retry_after(response))
                log.info("retrying %s %s in %.2f s after %s", method, path, wait, last)
                if self._closed.wait(wait):
                    raise ClientClosed(f"{method} {path}: the client was closed") from None
        assert last is not None  # attempts >= 1 (RetryPolicy checks)
        raise last

    def _parse(self, method: str, path: str, response: requests.Response) -> Any:
        status = response.status_code
        try:
            envelope = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            if status in _RETRY_STATUSES or status == 200:
                raise TruncatedResponse(
                    f"{method} {path}: unreadable response body (HTTP {status})",
                    status=status,
                    method=method,
                    path=path,
                ) from None
            raise error_for(status, None, response.reason, method=method, path=path) from None
        if not _enveloped(envelope):
            raise TruncatedResponse(
                f"{method} {path}: the response has no API envelope (HTTP {status})",
                status=status,
                method=method,
                path=path,
            )
        code = envelope.get("response_code")
        if status >= 400 or (code is not None and str(code).upper() not in _SUCCESS_CODES):
            err = error_for(
                status,
                code,
                envelope.get("response_msg"),
                method=method,
                path=path,
                data=envelope.get("data"),
                retry_after=_retry_after(response),
            )
            if status == 429 and not isinstance(err, RateLimited):
                err = RateLimited(str(err), retry_after=_retry_after(response), status=status)
            raise err
        return envelope.get("data")


def _frame_cache(cache_path: Path, namespace: str) -> FrameCache | None:
    """The frame cache next to the HTTP cache file, or None (with a warning) when its
    folder cannot be made."""
    try:
        return FrameCache(directory_for(cache_path), namespace)
    except OSError as exc:
        warnings.warn(
            f"frame cache {directory_for(cache_path)} cannot be used ({exc}); "
            "closed history windows go through the HTTP cache",
            stacklevel=4,
        )
        return None


_SUCCESS_PREFIX = b'{"http_code":200,"response_code":"SUCCESS"'


def _fast_success(response: requests.Response) -> bool:
    """A cheap success test for page bodies in the API's compact form; anything else is
    parsed in full by ``_parse`` (which raises the right error)."""
    return (
        response.status_code == 200
        and response.content.startswith(_SUCCESS_PREFIX)
        and (getattr(response, "from_cache", False) or getattr(response, "csframe_valid", False))
    )


class CacheOnlySession:
    """An :class:`ApiSession`'s cache as a read-only API: every GET is answered from its
    stored entry, fresh or expired, or raises :class:`CacheMiss`. It notes when each
    listing's entries were stored, so :meth:`snapshot_time` can tell whether they form one
    snapshot. Loaders take it in place of the session."""

    def __init__(self, session: ApiSession) -> None:
        self.session = session
        self.timeout = session.timeout
        self.retry = session.retry
        self.frames = session.frames.read_only() if session.frames is not None else None
        self._stored: dict[tuple, list[float]] = {}
        self._lock = threading.Lock()

    def get(self, path: str, params: dict | None = None, *, expire_after=None) -> Any:
        return self.request("GET", path, params=params)[0]

    def get_raw(self, path: str, params: dict | None = None, *, expire_after=None) -> bytes:
        return self.request("GET", path, params=params, raw=True)[0]

    def request(self, method: str, path: str, *, params=None, raw=False, **_ignored):
        s = self.session
        if method.upper() != "GET" or s.cache is None:
            raise CacheMiss(f"{method} {path}: not answerable from the cache")
        prepared = s.http.prepare_request(requests.Request("GET", s.base_url + path, params=params))
        s._enter(method, path)  # close() waits for this read like for a request
        try:
            response = s.cache.get_response(s._key(prepared))
        except CacheClosed:
            raise ClientClosed(f"{method} {path}: the client was closed") from None
        finally:
            s._leave()
        if response is None:
            raise CacheMiss(f"GET {path}: no cached copy")
        listing = (
            path,
            tuple(sorted((k, str(v)) for k, v in (params or {}).items() if k != "page")),
        )
        with self._lock:
            self._stored.setdefault(listing, []).append(_ts(response.created_at))
        data = s._parse("GET", path, response)
        return (response.content if raw else data), response

    def snapshot_time(self) -> pd.Timestamp:
        """When the oldest entry read was stored; raises :class:`StaleMixed` when one
        listing's pages were stored more than ``STALE_SPREAD`` apart."""
        spread = STALE_SPREAD.total_seconds()
        with self._lock:
            for (path, _), times in self._stored.items():
                if max(times) - min(times) > spread:
                    raise StaleMixed(f"GET {path}: cached pages were stored at different times")
            oldest = min(t for times in self._stored.values() for t in times)
        return pd.Timestamp(oldest, unit="s", tz="UTC")


def snapshot(session: ApiSession, load: Callable[[Any], pd.DataFrame], what: str) -> pd.DataFrame:
    """``load(session)``; when the API fails after every retry, the same load answered from
    cached entries alone, as a last resort: only if every page it needs is stored, and each
    listing's pages were stored together (never fresh pages mixed with stale ones). The
    frame then has ``attrs["stale"] = True``, ``attrs["stale_since"]`` (when the data was
    fetched) and ``attrs["stale_age"]``, and a :class:`StaleDataWarning` is issued.
    Otherwise the API's error is raised.

    Example::

        df = snapshot(session, lambda s: paged.load(s, schema.LISTS), "lists")
    """
    try:
        return load(session)
    except (ServerError, RateLimited) as exc:
        if session.cache is None:
            raise
        cached = session.cached_only()
        try:
            df = load(cached)
            since = cached.snapshot_time()
        except (CacheMiss, StaleMixed, ApiError) as why:
            log.debug("no stale snapshot of %s: %s", what, why)
            raise exc from None
        age = pd.Timestamp.now(tz="UTC") - since
        df.attrs.update(stale=True, stale_since=since, stale_age=age)
        log.info("%s: the API failed (%s); answered from a stale snapshot of %s", what, exc, since)
        warnings.warn(
            f"{what}: the API failed ({exc}); answered from cached data stored at "
            f"{since:%Y-%m-%d %H:%M:%S} UTC ({age.floor('s')} ago), df.attrs['stale'] is True",
            StaleDataWarning,
            stacklevel=4,  # the caller of the Client method
        )
        return df


class SessionOwner(Protocol):
    """What the layers a :class:`csframe.Client` calls into (writers, syncs) use of it at
    the least: its session and its defaults for workers and progress bars. They type their
    ``client`` against protocols built on this, never against ``Client``, so nothing below
    the client imports it back."""

    @property
    def session(self) -> ApiSession: ...

    @property
    def max_workers(self) -> int: ...

    @property
    def progress(self) -> bool | str: ...
