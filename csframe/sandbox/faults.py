"""Network and server misbehaviour for /v3 requests: latency, 429s, 5xx, drops, truncation.

All randomness comes from one ``random.Random(seed)`` that draws the same fixed number
of values for every request, in arrival order. A sequential client therefore sees the
exact same faults on a rerun with the same settings, and enabling one kind of fault does
not reshuffle the others. Setting the faults (``PUT /_sandbox/faults``) replaces the
whole configuration and re-seeds the generator.

Settings (all default off):

- ``latency_ms`` + uniform ``jitter_ms``: delay before the request is handled;
- ``rate_limit``: requests per second allowed per account by a token bucket of its own
  (burst = one second's worth), as the API limits each account: the account is the one
  whose login the request's Basic auth names (requests without one share a bucket);
  beyond it 429 TOO_MANY_REQUESTS with ``Retry-After`` (whole seconds);
- ``rate_limit_rate``: probability of a spurious 429 (``Retry-After: 1``);
- ``error_rate``: probability of 500 INTERNAL_SERVER_ERROR or 503 SERVICE_UNAVAILABLE;
- ``drop_rate``: the connection is closed before the server acts (no HTTP response);
- ``drop_after_commit_rate``: the request is fully handled (a send is committed) and
  then the connection is closed without a response -- the ambiguous failure;
- ``truncate_rate``: the response is sent with its full Content-Length but only half
  of the body, then the connection is closed;
- ``lost_answer_rate``: like ``drop_after_commit_rate``, but only for writes (POST, PUT,
  PATCH, DELETE): the change is made, its answer never arrives;
- ``slow_commit_s``: every write is held that many seconds before the server acts on it,
  and then it is carried out *even if the client has given up* (timed out, closed the
  connection) -- a slow backend or a load balancer's queue. The body is read first, so
  the late commit is the whole request;
- ``search_match``: how ``q=field:value`` compares text: ``"exact"`` (default,
  case-insensitive equality) or ``"substring"`` (case-insensitive containment: a search
  for ``run1.1`` also finds ``run1.10``) -- the API's reference promises a
  case-insensitive search but not an exact one, so clients must verify what they get --
  or ``"unsupported"`` (every ``q=`` is refused with 400, as on an endpoint without search);
- ``ignore_order_by``: ``order_by=`` is checked (a bad field is still a 400) but not applied:
  every collection answers in its default order, as an API may where sorting is not
  implemented -- clients that rely on the order (newest first, to stop early) must notice;
- ``write_paths``: a regular expression; when set, the write faults (``lost_answer_rate``,
  ``slow_commit_s``) apply only to writes whose path matches it (``"/import$"``);
- ``seed``: seeds the generator.

Per-request overrides for tests: ``X-Sandbox-Fault: error|rate_limit|drop|
drop_after_commit|truncate`` forces that fault, ``X-Sandbox-Latency-Ms: N`` sets the delay.

Example::

    injector = FaultInjector({"error_rate": 0.1, "seed": 7})
    app = FaultMiddleware(app, injector, Stats())
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
import random
import re
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import asdict, dataclass, fields
from typing import Any

import orjson

from csframe.sandbox.stats import Stats

FAULT_KEYS = (
    "latency_ms",
    "jitter_ms",
    "rate_limit",
    "error_rate",
    "rate_limit_rate",
    "drop_rate",
    "drop_after_commit_rate",
    "truncate_rate",
    "lost_answer_rate",
    "slow_commit_s",
    "search_match",
    "ignore_order_by",
    "write_paths",
    "seed",
)
SEARCH_MATCHES = ("exact", "substring", "unsupported")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORCEABLE = ("error", "rate_limit", "drop", "drop_after_commit", "truncate", "lost_answer")


@dataclass
class FaultSettings:
    """The fault configuration; see the module docstring for each key."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    rate_limit: float | None = None
    error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    drop_rate: float = 0.0
    drop_after_commit_rate: float = 0.0
    truncate_rate: float = 0.0
    lost_answer_rate: float = 0.0
    slow_commit_s: float = 0.0
    search_match: str = "exact"
    ignore_order_by: bool = False
    write_paths: str | None = None
    seed: int = 0

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> FaultSettings:
        """Validate a settings dict (unknown keys and bad values raise ValueError).

        Example::

            >>> FaultSettings.from_dict({"error_rate": 0.5}).error_rate
            0.5
        """
        values = dict(values or {})
        unknown = set(values) - set(FAULT_KEYS)
        if unknown:
            raise ValueError(
                f"unknown fault settings: {sorted(unknown)}; known: {list(FAULT_KEYS)}"
            )
        out = cls()
        for f in fields(cls):
            if f.name not in values or values[f.name] is None:
                continue
            v = values[f.name]
            if f.name == "write_paths":
                try:
                    re.compile(v)
                except (TypeError, re.error) as exc:
                    raise ValueError(f"write_paths must be a regular expression ({exc})") from None
                out.write_paths = v
                continue
            if f.name == "search_match":
                if v not in SEARCH_MATCHES:
                    raise ValueError(f"search_match must be one of {list(SEARCH_MATCHES)}")
                out.search_match = v
                continue
            if f.name == "ignore_order_by":
                if not isinstance(v, bool):
                    raise ValueError("ignore_order_by must be True or False")
                out.ignore_order_by = v
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError(f"{f.name} must be a number")
            if f.name == "seed":
                setattr(out, f.name, int(v))
            elif f.name.endswith("_rate"):
                if not 0 <= v <= 1:
                    raise ValueError(f"{f.name} must be between 0 and 1")
                setattr(out, f.name, float(v))
            else:
                if v < 0 or (f.name == "rate_limit" and v == 0):
                    raise ValueError(f"{f.name} must be positive")
                setattr(out, f.name, float(v))
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TokenBucket:
    """Classic token bucket: ``rate`` tokens per second, capacity ``max(1, rate)``.

    Example::

        >>> b = TokenBucket(2.0, now=0.0)
        >>> b.take(0.0), b.take(0.0), b.take(0.0)
        (0.0, 0.0, 0.5)
    """

    def __init__(self, rate: float, now: float | None = None) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.stamp = time.monotonic() if now is None else now

    def take(self, now: float | None = None) -> float:
        """Spend a token: 0.0 if there was one, else seconds until the next one."""
        now = time.monotonic() if now is None else now
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


@dataclass
class Plan:
    """What to do with one request, decided at arrival."""

    latency: float = 0.0  # seconds
    fault: str | None = None  # one of FORCEABLE, or None
    status: int = 0  # for error / rate_limit
    retry_after: int = 0


class FaultInjector:
    """Decides, per request and reproducibly, which fault (if any) to inject."""

    DRAWS = 6  # values drawn per request, whatever the settings (keeps replays aligned)

    def __init__(
        self,
        settings: dict[str, Any] | None = None,
        on_configure: Callable[[FaultSettings], None] | None = None,
        account_of: Callable[[str], Hashable] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        # told of every new configuration (the store applies ``search_match`` and
        # ``ignore_order_by``)
        self.on_configure = on_configure
        # login -> its account, whose rate-limit bucket it spends (default: the login's own)
        self.account_of = account_of or (lambda username: username)
        self.configure(settings)

    def configure(self, settings: dict[str, Any] | None) -> FaultSettings:
        """Replace the settings (missing keys = off) and re-seed. Raises ValueError."""
        parsed = FaultSettings.from_dict(settings)
        with self._lock:
            self.settings = parsed
            self.rng = random.Random(parsed.seed)
            self.buckets: dict[Hashable, TokenBucket] = {}  # account -> its rate limit
        if self.on_configure is not None:
            self.on_configure(parsed)
        return parsed

    def plan(
        self,
        forced: str | None = None,
        latency_ms: float | None = None,
        write: bool = False,
        account: Hashable = None,
    ) -> Plan:
        """Draw the fate of the next request (``forced``/``latency_ms`` from test headers;
        ``write``: a POST/PUT/PATCH/DELETE, which ``lost_answer_rate`` applies to;
        ``account``: whose ``rate_limit`` bucket it spends)."""
        with self._lock:
            s = self.settings
            u_jitter, u_drop, u_429, u_err, u_kind, u_late = (
                self.rng.random() for _ in range(self.DRAWS)
            )
            latency = (
                (s.latency_ms + u_jitter * s.jitter_ms) / 1000
                if latency_ms is None
                else latency_ms / 1000
            )
            plan = Plan(latency=latency)
            if forced:
                plan.fault = forced
                if forced == "error":
                    plan.status = 500
                elif forced == "rate_limit":
                    plan.status, plan.retry_after = 429, 1
                return plan
            if u_drop < s.drop_rate:
                plan.fault = "drop"
                return plan
            if s.rate_limit:
                bucket = self.buckets.get(account)
                if bucket is None:
                    bucket = self.buckets[account] = TokenBucket(s.rate_limit)
                wait = bucket.take()
                if wait > 0:
                    plan.fault, plan.status, plan.retry_after = (
                        "rate_limit",
                        429,
                        max(1, math.ceil(wait)),
                    )
                    return plan
            if u_429 < s.rate_limit_rate:
                plan.fault, plan.status, plan.retry_after = "rate_limit", 429, 1
            elif u_err < s.error_rate:
                plan.fault, plan.status = "error", (500 if u_kind < 0.5 else 503)
            elif u_late < s.drop_after_commit_rate:
                plan.fault = "drop_after_commit"
            elif u_late < s.drop_after_commit_rate + s.truncate_rate:
                plan.fault = "truncate"
            elif write and u_late < s.drop_after_commit_rate + s.truncate_rate + s.lost_answer_rate:
                plan.fault = "lost_answer"
            return plan


_ERRORS = {
    429: ("TOO_MANY_REQUESTS", "Rate Limit Exceeded. Please slow down."),
    500: ("INTERNAL_SERVER_ERROR", "Something is broken."),
    503: ("SERVICE_UNAVAILABLE", "The service is temporarily unavailable. Please try again."),
}


def _error_body(status: int) -> bytes:
    code, msg = _ERRORS[status]
    return orjson.dumps(
        {"http_code": status, "response_code": code, "response_msg": msg, "data": None}
    )


async def close_connection(send: Any) -> None:
    """Close the client's TCP connection without (the rest of) an HTTP response.

    ASGI has no "abort" message, so this reaches for the server's transport: in uvicorn
    (h11 and httptools) ``send`` is a bound method of the request cycle, which holds it.
    ``close()`` flushes anything already written (a truncated body) and sends FIN; the
    client sees the connection end early. Elsewhere we raise, which yields a 500.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("cannot drop the connection: transport not reachable from this server")
    transport.close()
    # Let uvicorn run connection_lost() (marks the cycle disconnected) before we return,
    # so it does not try to answer a request whose connection is gone.
    for _ in range(3):
        await asyncio.sleep(0)


async def run_captured(app: Any, scope: dict[str, Any], receive: Any) -> tuple[dict, bytes]:
    """Run ``app`` on the request and return its response (start message, whole body)
    instead of sending it: for layers that change or withhold an answer."""
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def capture(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, capture)
    return start, b"".join(chunks)


async def _read_then_wait(receive: Any, seconds: float) -> Any:
    """Read the whole request body now, wait ``seconds``, and return a ``receive`` that
    replays it -- so the app acts on the request later even if the client is gone by then
    (a slow commit). Later calls go to the real ``receive`` (which reports a disconnect)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # disconnected while sending the body: act on what arrived
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    await asyncio.sleep(seconds)
    replayed = False

    async def replay() -> dict[str, Any]:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        return await receive()

    return replay


def basic_username(scope: dict[str, Any]) -> str | None:
    """The username of a request's HTTP Basic credentials (unchecked), or None."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() != b"basic":
                return None
            try:
                username = base64.b64decode(token.strip(), validate=True).partition(b":")[0]
                return username.decode("utf-8") or None
            except (binascii.Error, UnicodeDecodeError):
                return None
    return None


class FaultMiddleware:
    """Raw ASGI middleware in front of the app: counts /v3 requests and applies faults.

    It must be the outermost layer: dropping a connection needs the server's own
    ``send`` (see :func:`close_connection`), so it keeps that and passes a wrapper on.
    """

    def __init__(self, app: Any, injector: FaultInjector, stats: Stats) -> None:
        self.app = app
        self.injector = injector
        self.stats = stats

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v3"):
            await self.app(scope, receive, send)
            return
        stats = self.stats
        stats.arrive(scope["method"], scope["path"])
        raw_send = send

        async def counting_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                stats.status(message["status"])
            await raw_send(message)

        try:
            await self._dispatch(scope, receive, raw_send, counting_send)
        finally:
            stats.leave()

    async def _dispatch(
        self, scope: dict[str, Any], receive: Any, raw_send: Any, send: Any
    ) -> None:
        forced = latency_ms = None
        for name, value in scope["headers"]:
            if name == b"x-sandbox-fault":
                forced = value.decode("latin-1").strip().lower()
            elif name == b"x-sandbox-latency-ms":
                try:
                    latency_ms = max(0.0, float(value))
                except ValueError:
                    latency_ms = None
        if forced is not None and forced not in FORCEABLE:
            forced = None  # unknown override values are ignored
        pattern = self.injector.settings.write_paths
        write = scope["method"] in WRITE_METHODS and (
            pattern is None or re.search(pattern, scope["path"]) is not None
        )
        login = basic_username(scope)
        account = None if login is None else self.injector.account_of(login)
        plan = self.injector.plan(forced, latency_ms, write, account)
        if plan.latency > 0:
            await asyncio.sleep(plan.latency)
        slow = self.injector.settings.slow_commit_s
        if write and slow > 0 and plan.fault not in ("drop", "rate_limit", "error"):
            receive = await _read_then_wait(receive, slow)
        if plan.fault:
            self.stats.fault(plan.fault)
        if plan.fault == "drop":
            await close_connection(raw_send)
        elif plan.fault in ("rate_limit", "error"):
            await self._respond(send, plan)
        elif plan.fault in ("drop_after_commit", "truncate", "lost_answer"):
            await self._handle_then_break(scope, receive, raw_send, send, plan.fault)
        else:
            await self.app(scope, receive, send)

    async def _respond(self, send: Any, plan: Plan) -> None:
        body = _error_body(plan.status)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if plan.status == 429:
            headers.append((b"retry-after", str(plan.retry_after).encode()))
        await send({"type": "http.response.start", "status": plan.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _handle_then_break(
        self, scope: dict[str, Any], receive: Any, raw_send: Any, send: Any, fault: str
    ) -> None:
        # the request really happens (and commits)
        start, body = await run_captured(self.app, scope, receive)
        if fault == "truncate" and start:
            await send(start)  # still announces the full Content-Length
            await send(
                {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
            )
        await close_connection(raw_send)
