"""The HTTP layer: auth, cache, retries, rate limit and the ClickSend envelope.

:class:`ApiSession` wraps a ``requests_cache.CachedSession`` (SQLite, WAL, one file per
username, mode 0600). Only GET is cached; the Authorization header is neither stored nor
part of the cache key (requests-cache redacts it). The client-side rate limit is applied
in the transport adapter, so cache hits never spend a token.

Example::

    s = ApiSession(Credentials("user", "key"), "http://127.0.0.1:8765/v3")
    data = s.get("/account")          # the envelope's ``data``
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
import warnings
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import requests
import requests_cache
from requests.adapters import HTTPAdapter

from csframe import __version__
from csframe.config import Credentials, cache_file
from csframe.errors import ApiError, RateLimited, ServerError, error_for
from csframe.httpcache import cached_session
from csframe.ratelimit import TokenBucket

log = logging.getLogger("csframe")

# Expiry used when a caller gives none: short, because most data can still change.
DEFAULT_EXPIRE = timedelta(minutes=5)
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_SUCCESS_CODES = frozenset({"SUCCESS", "CREATED", "NO_CONTENT"})


class StaleDataWarning(UserWarning):
    """Data came from an expired cache entry because the API failed (stale_if_error)."""


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter; ``Retry-After`` wins when the server sends it."""

    max_attempts: int = 6
    base: float = 0.25
    cap: float = 20.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            # A small jitter so that many workers told "1 s" do not return in lockstep.
            return min(self.cap, retry_after) + random.uniform(0, 0.1)
        return random.uniform(0, min(self.cap, self.base * (2**attempt)))


class _RateLimitedAdapter(HTTPAdapter):
    """Spends a token per request that really goes out (requests-cache calls no adapter
    on a hit). Counts what was sent, for tests and benchmarks."""

    def __init__(self, bucket: TokenBucket, **kw) -> None:
        super().__init__(**kw)
        self.bucket = bucket
        self.sent = 0
        self._lock = threading.Lock()

    def send(self, request, **kw):  # noqa: D401 - adapter protocol
        self.bucket.acquire()
        with self._lock:
            self.sent += 1
        return super().send(request, **kw)


SECRET_KEYS = frozenset({"api_key", "password"})
REDACTED = "********"


def _cacheable(response: requests.Response) -> bool:
    """Never cache a body that was cut short (a truncated 200 would be replayed forever),
    nor one that carries a secret: /account and /subaccounts return API keys."""
    if getattr(response, "from_cache", False):
        return True  # it passed this check when it was stored
    # requests-cache asks twice per response; the answer cannot change in between
    verdict = getattr(response, "_csframe_cacheable", None)
    if verdict is None:
        body = response.content.strip()
        verdict = body[:1] == b"{" and body[-1:] == b"}" and not _has_secret(body)
        response._csframe_cacheable = verdict
    return verdict


def redact(value: Any) -> Any:
    """A copy of ``value`` with every ``api_key`` / ``password`` field masked."""
    if isinstance(value, dict):
        return {k: (REDACTED if k in SECRET_KEYS and v else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _retry_after(response: requests.Response | None) -> float | None:
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


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
        if cache:
            if cache_dir is None:
                raise ValueError("cache_dir is required when cache=True")
            self.cache_path = cache_file(credentials.username, cache_dir)
            _create_private(self.cache_path)
            self.http: requests.Session = cached_session(
                self.cache_path,
                allowable_methods=("GET",),
                allowable_codes=(200,),
                expire_after=DEFAULT_EXPIRE,
                stale_if_error=True,
                filter_fn=_cacheable,
                match_headers=False,
            )
        else:
            self.http = requests.Session()
        self.adapter = _RateLimitedAdapter(
            self.bucket, pool_connections=4, pool_maxsize=max(4, max_workers * 2)
        )
        self.http.mount("http://", self.adapter)
        self.http.mount("https://", self.adapter)
        self.http.auth = (credentials.username, credentials.api_key)
        # requests re-reads proxy and CA settings from the environment on every request
        # (a third of a cached request's time); resolve them once here instead.
        self.http.proxies.update(requests.utils.get_environ_proxies(base_url))
        ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if ca_bundle:
            self.http.verify = ca_bundle
        self.http.trust_env = False
        self.http.headers.update(
            {"Accept": "application/json", "User-Agent": f"csframe/{__version__}"}
        )

    def __repr__(self) -> str:
        return (
            f"ApiSession(username={self.credentials.username!r}, base_url={self.base_url!r}, "
            f"cache={str(self.cache_path) if self.cache_path else False!r})"
        )

    @property
    def requests_sent(self) -> int:
        """How many HTTP requests actually left this process (cache hits excluded)."""
        return self.adapter.sent

    def close(self) -> None:
        self.http.close()

    # -- requests ---------------------------------------------------------------------------
    def get(self, path: str, params: dict | None = None, *, expire_after=None) -> Any:
        """GET ``path`` (relative to the base URL) and return the envelope's ``data``."""
        return self.request("GET", path, params=params, expire_after=expire_after)[0]

    def get_raw(self, path: str, params: dict | None = None, *, expire_after=None) -> bytes:
        """GET ``path`` and return the whole response body as bytes, once the envelope is
        known to be a success (for columnar parsing of many pages at once)."""
        return self.request("GET", path, params=params, expire_after=expire_after, raw=True)[0]

    def post(self, path: str, json: Any = None, *, params=None, idempotent: bool = False) -> Any:
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
        expire_after=None,
        idempotent: bool | None = None,
        raw: bool = False,
    ) -> tuple[Any, requests.Response]:
        """Send one request with retries; returns ``(data, response)``.

        Raises a :mod:`csframe.errors` exception for failure envelopes, and
        :class:`~csframe.errors.ServerError` / :class:`~csframe.errors.RateLimited` once
        the retry budget is spent.
        """
        method = method.upper()
        retryable = method == "GET" if idempotent is None else idempotent
        url = self.base_url + path
        kwargs: dict[str, Any] = {"params": params, "timeout": self.timeout}
        if json is not None:
            kwargs["data"] = orjson.dumps(json)
            kwargs["headers"] = {"Content-Type": "application/json"}
        if method == "GET" and isinstance(self.http, requests_cache.CachedSession):
            kwargs["expire_after"] = DEFAULT_EXPIRE if expire_after is None else expire_after
        attempts = self.retry.max_attempts if retryable else 1
        last: Exception | None = None
        for attempt in range(attempts):
            response = None
            try:
                response = self.http.request(method, url, **kwargs)
                if getattr(response, "is_expired", False):
                    # requests-cache's stale_if_error: the API failed, an old copy answered.
                    warnings.warn(
                        f"GET {path}: the API did not answer; serving a cached copy from "
                        f"{getattr(response, 'created_at', 'earlier')} that has expired",
                        StaleDataWarning,
                        stacklevel=4,
                    )
                if raw and _fast_success(response):
                    return response.content, response
                data = self._parse(method, path, response)
                return (response.content if raw else data), response
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                # The connection dropped or timed out: the server may or may not have acted.
                last = ServerError(
                    f"{method} {path} failed: {type(exc).__name__} (no complete response)",
                    method=method,
                    path=path,
                )
            except _BadBody as exc:
                last = ServerError(str(exc), status=exc.status, method=method, path=path)
                if method == "GET" and isinstance(self.http, requests_cache.CachedSession):
                    # never answer the retry from a cached copy of the broken body
                    kwargs["force_refresh"] = True
            except ApiError as exc:
                if exc.status not in _RETRY_STATUSES:
                    raise
                last = exc
            if attempt + 1 < attempts:
                wait = self.retry.delay(attempt, _retry_after(response))
                log.debug("retrying %s %s in %.2fs after %s", method, path, wait, last)
                time.sleep(wait)
        assert last is not None
        raise last

    def _parse(self, method: str, path: str, response: requests.Response) -> Any:
        status = response.status_code
        try:
            envelope = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            if status in _RETRY_STATUSES or status == 200:
                raise _BadBody(
                    f"{method} {path}: unreadable response body (HTTP {status})", status
                ) from None
            raise error_for(status, None, response.reason, method=method, path=path) from None
        if not isinstance(envelope, dict):
            raise _BadBody(f"{method} {path}: response is not a JSON object", status)
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
        data = envelope.get("data")
        # Reads never hand secrets to callers (they end up in notebooks and reports);
        # cached bodies were checked before they were stored.
        fresh = not getattr(response, "from_cache", False)
        if method == "GET" and fresh and _has_secret(response.content):
            return redact(data)
        return data


_SUCCESS_PREFIX = b'{"http_code":200,"response_code":"SUCCESS"'


def _fast_success(response: requests.Response) -> bool:
    """A cheap success test for page bodies in the API's compact form; anything else is
    parsed in full by ``_parse`` (which raises the right error)."""
    return (
        response.status_code == 200
        and response.content.startswith(_SUCCESS_PREFIX)
        and _cacheable(response)  # a whole object, and no secret in it
    )


def _has_secret(body: bytes) -> bool:
    return any(b'"%s"' % k.encode() in body for k in SECRET_KEYS)


class _BadBody(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _create_private(path: Path) -> None:
    """Create the cache file (and its WAL/SHM siblings, which SQLite creates with the same
    mode) readable by the owner only, before SQLite opens it with the default umask."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)
