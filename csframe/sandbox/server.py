"""Build the sandbox app, serve it with uvicorn, and the ``running()`` context manager.

``running()`` seeds a store, serves it on 127.0.0.1 (a free port by default) and yields
a :class:`Sandbox` handle. With ``process=False`` uvicorn runs in a daemon thread of this
process; with ``process=True`` in a child process (seeded there), so a benchmark's client
does not share the server's GIL. Either way the handle talks HTTP to ``/_sandbox/...``.

Example::

    from csframe.sandbox import running
    with running(scale="tiny", seed=42, now="2026-11-01T00:00:00Z") as sb:
        import requests
        r = requests.get(sb.base_url + "/sms/history", auth=tuple(sb.credentials.values()))
        r.json()["data"]["total"]      # 300
"""

from __future__ import annotations

import atexit
import contextlib
import hmac
import ipaddress
import json
import os
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypedDict

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from csframe.sandbox import lifecycle, models_messages
from csframe.sandbox.cut import CutBodies, CutPlan
from csframe.sandbox.faults import FaultInjector, FaultMiddleware, FaultSettings
from csframe.sandbox.models import Store
from csframe.sandbox.responses.common import ApiError, error_response
from csframe.sandbox.seed import parse_now, scale_rows, seed
from csframe.sandbox.stats import Stats
from csframe.sandbox.urls import routes

READY_MARKER = "CSFRAME_SANDBOX_READY"


async def _not_found(request: Request, exc: Exception) -> Response:
    return error_response(
        ApiError(404, "NOT_FOUND", "The requested URI is invalid or the resource does not exist.")
    )


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return error_response(
        ApiError(405, "METHOD_NOT_ALLOWED", "Method doesn't exist or is not allowed.")
    )


class _DeliverDue:
    """ASGI layer: make the deliveries that are due before a /v3 request is answered, so
    a poll right after the delivery delay never races the delivery thread."""

    def __init__(self, app: Any, lc: lifecycle.Lifecycle) -> None:
        self.app = app
        self.lifecycle = lc

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v3"):
            self.lifecycle.flush_due()
        await self.app(scope, receive, send)


ADMIN_HEADER = "X-Sandbox-Admin-Token"
# Open without the token: liveness only (the runners poll it before they know the token).
# health, and the instance token clients namespace their caches with (not a secret)
OPEN_ADMIN_PATHS = frozenset({"/_sandbox/health", "/_sandbox/instance"})


class _AdminGuard:
    """ASGI layer: ``/_sandbox/*`` (but health) needs this instance's admin token in
    ``X-Sandbox-Admin-Token``; it lists API keys and can reset or reconfigure the server."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] == "http"
            and (path == "/_sandbox" or path.startswith("/_sandbox/"))
            and path not in OPEN_ADMIN_PATHS
        ):
            given = dict(scope["headers"]).get(ADMIN_HEADER.lower().encode(), b"")
            if not hmac.compare_digest(given, self.token):
                body = json.dumps(
                    {
                        "error": f"the sandbox admin API needs this instance's admin token in "
                        f"the {ADMIN_HEADER} header (the Sandbox handle sends it; "
                        f"'csframe sandbox serve' prints it)"
                    }
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def create_app(
    store: Store,
    settings: dict[str, Any] | None = None,
    behaviour: dict[str, Any] | None = None,
    admin_token: str | None = None,
) -> FaultMiddleware:
    """The ASGI app of a seeded store; ``settings`` are the initial fault settings,
    ``behaviour`` the lifecycle settings (see :mod:`csframe.sandbox.lifecycle`).

    The Starlette app is ``result.app.app.app`` (its ``state`` holds store, stats, faults,
    lifecycle and the admin token); ``result.admin_token`` is the token ``/_sandbox/*``
    needs (``admin_token``, or a fresh random one).

    Example::

        store = Store(); seed(store, scale="tiny")
        app = create_app(store, {"latency_ms": 20})
        uvicorn.run(app, port=8765)
    """
    app = Starlette(
        routes=routes,
        exception_handlers={404: _not_found, 405: _method_not_allowed},
        middleware=[Middleware(CutBodies)],  # issue 13: bodies cut at a record boundary
    )
    app.state.store = store
    app.state.stats = Stats()

    def configure_store(s: FaultSettings) -> None:
        store.search_match = s.search_match
        store.ignore_order_by = s.ignore_order_by

    def account_of(username: str) -> object:
        # The API limits each account: every login of one account spends its bucket
        # (unknown logins share the bucket of requests without credentials).
        who = store.principal(username)
        return None if who is None else who.user_id

    app.state.faults = FaultInjector(settings, on_configure=configure_store, account_of=account_of)
    # a token new for every app, so a client's cache can tell two sandboxes on the same
    # port apart (GET /_sandbox/instance)
    app.state.instance = secrets.token_hex(16)
    app.state.cut = CutPlan()
    app.state.lifecycle = lifecycle.of(store)
    app.state.lifecycle.configure(behaviour or {})
    app.state.lifecycle.watch_scheduled()  # seeded Scheduled rows move on when due
    app.state.admin_token = admin_token or secrets.token_urlsafe(24)
    inner = _AdminGuard(_DeliverDue(app, app.state.lifecycle), app.state.admin_token)
    outer = FaultMiddleware(inner, app.state.faults, app.state.stats)
    outer.admin_token = app.state.admin_token  # type: ignore[attr-defined]
    return outer


def fault_settings(
    latency_ms: float = 0,
    jitter_ms: float = 0,
    rate_limit: float | None = None,
    faults: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Merge the ``running()`` shortcuts with a ``faults`` dict (the dict wins)."""
    settings: dict[str, Any] = {
        "latency_ms": latency_ms,
        "jitter_ms": jitter_ms,
        "rate_limit": rate_limit,
    }
    settings.update(faults or {})
    return settings


class _Server(uvicorn.Server):
    """uvicorn's server with a hook once it listens (to print the URL or a ready line)."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None] | None = None) -> None:
        super().__init__(config)
        self.on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.on_ready:
            self.on_ready()


def _config(app: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,  # per-request logging would cost more than serving a page
        lifespan="off",
        timeout_graceful_shutdown=3,
        timeout_keep_alive=30,
        backlog=4096,
    )


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket; port 0 picks a free one (read it back with getsockname)."""
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose
    # proto says TCP, and without it every keep-alive response waits ~40 ms for the
    # client's delayed ACK (headers and body go out as two writes).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited on Linux too
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(4096)
    sock.set_inheritable(True)
    return sock


def build(
    scale: str | int = "small",
    seed_value: int = 42,
    now: object = None,
    settings: dict[str, Any] | None = None,
    db_path: str | None = None,
    behaviour: dict[str, Any] | None = None,
    on_disk: bool | None = None,
) -> tuple[Store, Any]:
    """Seed a fresh store and wrap it in an app: ``(store, app)``.

    With ``on_disk`` (default: from :data:`DISK_ROWS` SMS rows on), and unless ``db_path``
    says where, the store is a temporary SQLite file (removed by :func:`close_store` or at
    exit) rather than memory:
    the pages then live in the OS cache, not in the server's heap (2.2 GB -> under 1 GB
    of peak RSS at 1,000,000 rows; see bench/sandbox.py).
    """
    lifecycle.Behaviour.from_dict(behaviour or {})  # bad settings fail before seeding
    folder = None
    if db_path is None and _on_disk(scale, on_disk):
        folder = tempfile.mkdtemp(prefix="csframe-sandbox-")
        atexit.register(shutil.rmtree, folder, True)
        db_path = os.path.join(folder, "sandbox.sqlite")
    store = Store(db_path)
    if folder:
        _TEMP_DIRS[store] = folder
    seed(store, seed=seed_value, scale=scale, now=now)
    return store, create_app(store, settings, behaviour)


# Stores this big are kept in a temporary file instead of memory.
DISK_ROWS = 250_000


def _on_disk(scale: str | int, on_disk: bool | None) -> bool:
    return scale_rows(scale) >= DISK_ROWS if on_disk is None else on_disk


_TEMP_DIRS: dict[Store, str] = {}  # store -> the temporary folder of its file


def close_store(store: Store) -> None:
    """Stop the store's background work (deliveries), close it, and remove its
    temporary file if :func:`build` made one."""
    lifecycle.of(store).close()
    models_messages.drop_exports(store)
    store.close()
    folder = _TEMP_DIRS.pop(store, None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


class _Stopped(Exception):
    """Raised by the signal handler :func:`serve` installs: a stop was asked for."""


def _stopped(signum: int, frame: object) -> None:
    raise _Stopped


def serve(app: Any, sock: socket.socket, on_ready: Callable[[], None] | None = None) -> None:
    """Serve ``app`` on ``sock`` in this thread until SIGINT or SIGTERM, then return, so
    the caller can close its store (the CLI and the child of ``running(process=True)``).

    uvicorn shuts down gracefully on either signal and then raises it again under the
    handlers it found; with Python's default SIGTERM handler that would kill the process
    before the store is closed (a WAL file and exports left behind), so both signals end
    here as a return instead.
    """
    server = _Server(_config(app), on_ready)
    if threading.current_thread() is not threading.main_thread():
        server.run(sockets=[sock])  # no signals here: whoever started the thread stops it
        return
    previous = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run(sockets=[sock])
    except _Stopped:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Credentials(TypedDict):
    """An account's login, as ``Client(**sb.credentials)`` takes it."""

    username: str
    api_key: str


class Sandbox:
    """Handle on a running sandbox: URLs, credentials, and the /_sandbox helpers.

    Example::

        sb.set_faults(error_rate=0.2, seed=3)
        ids = sb.insert_sms(5)
        assert set(ids) <= set(sb.truth_sms_ids())
    """

    def __init__(self, root_url: str, admin_token: str = "") -> None:
        self.root_url = root_url
        self.base_url = root_url + "/v3"
        self._admin_token = admin_token
        self._stopped = False
        self._closer: contextlib.AbstractContextManager[Any] | None = None  # set by start()
        info = self._call("GET", "/_sandbox/accounts")
        self.info: dict[str, Any] = info
        self.accounts: dict[str, dict[str, str]] = info["accounts"]
        main = self.accounts["main"]
        self.credentials: Credentials = {"username": main["username"], "api_key": main["api_key"]}

    def _call(
        self, method: str, path: str, payload: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        url = self.root_url + path
        if params:
            url += "?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(
            url,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", **self.admin_headers},
        )
        if self._stopped:
            raise SandboxStopped(f"the sandbox at {self.base_url} was stopped; start a new one")
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            detail = f"{method} {path} -> {exc.code}: {exc.read()[:500].decode(errors='replace')}"
            # A 400 means the arguments were wrong (e.g. an unknown fault key).
            raise (ValueError if exc.code == 400 else RuntimeError)(detail) from None
        except (urllib.error.URLError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SandboxStopped(
                f"cannot reach the sandbox at {self.base_url} ({reason}); was it stopped?"
            ) from None

    @property
    def admin_headers(self) -> dict[str, str]:
        """The header ``/_sandbox/*`` needs, for direct calls:
        ``requests.get(sb.root_url + "/_sandbox/truth/contacts", headers=sb.admin_headers)``."""
        return {ADMIN_HEADER: self._admin_token}

    def stats(self) -> dict[str, Any]:
        """``{"requests": n, "by_path": {...}, "by_status": {...}, "faults": {...}, ...}`` (/v3 only)."""
        return self._call("GET", "/_sandbox/stats")

    def reset_stats(self) -> None:
        self._call("POST", "/_sandbox/stats/reset")

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """Replace the fault settings (keys as in ``faults.FAULT_KEYS``); ``set_faults()`` clears them."""
        return self._call("PUT", "/_sandbox/faults", settings)

    def faults(self) -> dict[str, Any]:
        return self._call("GET", "/_sandbox/faults")

    @property
    def instance(self) -> str:
        """This server's identity token (new for every ``running()`` / ``serve``)."""
        return self._call("GET", "/_sandbox/instance")["instance"]

    def cut_bodies(self, count: int, path: str = "/v3") -> dict[str, Any]:
        """Cut the next ``count`` successful GET bodies under ``path`` at a record boundary
        (framing intact); see :mod:`csframe.sandbox.cut`."""
        return self._call("PUT", "/_sandbox/cut", {"count": count, "path": path})

    def set_behaviour(self, **settings: Any) -> dict[str, Any]:
        """Replace the lifecycle settings (``delivery_delay_s``...); missing keys take
        their defaults. Example: ``sb.set_behaviour(delivery_delay_s=0)``."""
        return self._call("PUT", "/_sandbox/behaviour", settings)

    def behaviour(self) -> dict[str, Any]:
        """The lifecycle settings and counters (``pending``, ``delivered``)."""
        return self._call("GET", "/_sandbox/behaviour")

    def now(self) -> int:
        """Sandbox time (unix seconds): the seeded ``now`` plus the time since start."""
        return self._call("GET", "/_sandbox/clock")["now"]

    def advance_clock(self, seconds: int) -> int:
        """Move sandbox time ``seconds`` ahead (never back); scheduled messages that come
        due are released and delivered like any other. Returns the new time. Example::

            sb.advance_clock(2 * 86400)   # the seeded Scheduled SMS of the next two days go
        """
        return self._call("PUT", "/_sandbox/clock", {"advance_s": int(seconds)})["now"]

    def inbound(
        self, from_: str, to: str, body: str, username: str | None = None
    ) -> dict[str, Any]:
        """An SMS from ``from_`` to ``to`` arrives now (a reply; "STOP" opts ``from_`` out).

        It goes to the account that last texted ``from_`` (else ``username``'s, default
        main) and is listed by ``GET /sms/inbound``. Example::

            sb.inbound("+61411000001", "+61481070000", "STOP")
        """
        payload = {"from": from_, "to": to, "body": body, "username": username}
        return self._call("POST", "/_sandbox/inbound", payload)

    def insert_sms(
        self, count: int, date: object = None, subaccount_id: int | None = None
    ) -> list[str]:
        """Insert ``count`` outbound SMS rows (date: datetime/ISO/unix, default sandbox now); their ids."""
        payload = {
            "count": count,
            "date": None if date is None else parse_now(date),
            "subaccount_id": subaccount_id,
        }
        return self._call("POST", "/_sandbox/sms/insert", payload)["message_ids"]

    def truth_sms_ids(
        self,
        date_from: object = None,
        date_to: object = None,
        q: str | None = None,
        username: str | None = None,
        **params: Any,
    ) -> list[str]:
        """Ids a login (default main) pages through for these filters, in the API's order."""
        query = {
            "date_from": None if date_from is None else parse_now(date_from),
            "date_to": None if date_to is None else parse_now(date_to),
            "q": q,
            "username": username,
            **params,
        }
        return self._call("GET", "/_sandbox/truth/sms-history", params=query)["message_ids"]

    def refunds(
        self, date_from: object = None, date_to: object = None, username: str | None = None
    ) -> list[dict[str, Any]]:
        """The SMS refunded for a number not in service that a login's (default main) usage
        leaves out, dated in ``[date_from, date_to)``: ``message_id, subaccount_id,
        username, date, message_parts, message_price, error_code`` each. Usage minus
        history is minus their sum (see ``billing.py``). Example::

            credit = sum(float(r["message_price"]) for r in sb.refunds("2026-10-01", "2026-11-01"))
        """
        query = {
            "date_from": None if date_from is None else parse_now(date_from),
            "date_to": None if date_to is None else parse_now(date_to),
            "username": username,
        }
        return self._call("GET", "/_sandbox/truth/refunds", params=query)["refunds"]

    def reset(self) -> None:
        """Back to the seeded data and balances (stats and faults are left alone)."""
        self._call("POST", "/_sandbox/reset")

    def set_balance(self, username: str, amount: float) -> str:
        """Set the balance of ``username``'s account; returns it formatted."""
        return self._call(
            "PUT", f"/_sandbox/accounts/{urllib.parse.quote(username)}", {"balance": amount}
        )["balance"]

    def truth_contacts(self, list_id: int | None = None, rows: bool = False) -> dict[str, Any]:
        """The seeded contact lists' ground truth (see ``responses/contacts.truth``)."""
        params = {"list_id": list_id, "rows": 1 if rows else None}
        return self._call("GET", "/_sandbox/truth/contacts", params=params)

    def truth_import(self, import_id: str, wait: float = 0) -> dict[str, Any]:
        """An import's status, counts and row outcomes; waits up to ``wait`` s for it to end."""
        deadline = time.monotonic() + wait
        while True:
            got = self._call("GET", f"/_sandbox/truth/imports/{import_id}")
            if got["status"] not in ("queued", "processing") or time.monotonic() >= deadline:
                return got
            time.sleep(0.05)

    def contacts_settings(self, **settings: Any) -> dict[str, Any]:
        """Read, or change, ``upload_ttl_seconds`` and ``import_rows_per_second``."""
        if settings:
            return self._call("PUT", "/_sandbox/contacts/settings", settings)
        return self._call("GET", "/_sandbox/contacts/settings")

    def stop(self) -> None:
        """Stop a sandbox made by :func:`start` (idempotent); later calls through this
        handle raise :class:`SandboxStopped` naming its URL."""
        closer, self._closer = self._closer, None
        _STARTED.discard(self)
        self._stopped = True
        if closer is not None:
            closer.__exit__(None, None, None)

    @property
    def stopped(self) -> bool:
        return self._stopped

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = ", stopped" if self._stopped else ""
        return f"Sandbox({self.base_url!r}, username={self.credentials['username']!r}{state})"


class SandboxStopped(RuntimeError):
    """A call through a :class:`Sandbox` handle whose server is gone (the message names its URL)."""


# Handles made by start(): strongly held here so garbage collection never stops them.
_STARTED: set[Sandbox] = set()


def start(**options: Any) -> Sandbox:
    """Start a sandbox that runs until ``sb.stop()`` or interpreter exit -- the form for
    notebooks. Takes the options of :func:`running`; the handle is also a context manager.

    Example::

        from csframe.sandbox import start
        sb = start(scale="small", seed=42, delivery_delay_s=2)
        client = Client(**sb.credentials, base_url=sb.base_url)
        ...
        sb.stop()
    """
    cm = running(**options)
    sb = cm.__enter__()
    sb._closer = cm
    _STARTED.add(sb)
    return sb


@atexit.register
def _stop_started() -> None:
    for sb in list(_STARTED):
        with contextlib.suppress(Exception):
            sb.stop()


def _wait_healthy(root_url: str, timeout: float, alive: Callable[[], bool] = lambda: True) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(root_url + "/_sandbox/health", timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if not alive():
            raise RuntimeError("the sandbox server stopped while starting")
        if time.monotonic() > deadline:
            raise TimeoutError(f"sandbox at {root_url} did not answer within {timeout:.0f}s")
        time.sleep(0.02)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback name or address (``127.0.0.1``, ``::1``, ``localhost``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(host: str, allow_remote: bool) -> None:
    """Refuse a non-loopback bind unless ``allow_remote`` (ValueError naming the host)."""
    if not allow_remote and not is_loopback(host):
        raise ValueError(
            f"host {host!r} is not a loopback address: other machines could reach this "
            "sandbox; pass allow_remote=True (--allow-remote) if that is intended"
        )


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextlib.contextmanager
def _thread_server(app: Any, host: str, port: int) -> Iterator[str]:
    sock = bind(host, port)
    server = _Server(_config(app))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="csframe-sandbox", daemon=True
    )
    thread.start()
    root = _url(host, sock.getsockname()[1])
    try:
        _wait_healthy(root, 30, thread.is_alive)
        yield root
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[2])


@contextlib.contextmanager
def _process_server(config: dict[str, Any], timeout: float = 600) -> Iterator[tuple[str, str]]:
    env = dict(os.environ)
    # The child must import this very csframe, installed or not.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (_package_root(), env.get("PYTHONPATH"))))
    proc = subprocess.Popen(
        [sys.executable, "-m", "csframe.sandbox", json.dumps(config)],
        stdin=subprocess.PIPE,  # the child exits when this closes: no orphans if we die
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        root, token = _read_ready(proc, timeout)
        # Keep draining stdout so the child can never block on a full pipe.
        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
        _wait_healthy(root, 60, lambda: proc.poll() is None)
        yield root, token
    finally:
        if proc.poll() is None:
            proc.terminate()  # uvicorn shuts down gracefully on SIGTERM
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe:
                pipe.close()


def _read_ready(proc: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the sandbox process did not become ready in time")
            if sel.select(timeout=min(left, 1.0)):
                line = proc.stdout.readline()
                if line.startswith(READY_MARKER):
                    ready = json.loads(line[len(READY_MARKER) :])
                    return ready["root_url"], ready["admin_token"]
                if not line and proc.poll() is not None:
                    raise RuntimeError(
                        f"the sandbox process exited with code {proc.returncode} before it was ready"
                    )
            elif proc.poll() is not None:
                raise RuntimeError(
                    f"the sandbox process exited with code {proc.returncode} before it was ready"
                )


@contextlib.contextmanager
def running(
    scale: str | int = "small",
    seed: int = 42,
    now: object = None,
    latency_ms: float = 0,
    jitter_ms: float = 0,
    rate_limit: float | None = None,
    faults: dict[str, Any] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    process: bool = False,
    delivery_delay_s: float = lifecycle.DEFAULT_DELIVERY_DELAY_S,
    behaviour: dict[str, Any] | None = None,
    allow_remote: bool = False,
    on_disk: bool | None = None,
) -> Iterator[Sandbox]:
    """Run a seeded sandbox for the duration of a ``with`` block.

    Args:
        scale: "tiny" (300 SMS), "small" (5,000), "medium" (100,000), "large"
            (1,000,000) or an exact row count.
        seed: data seed; the same seed and ``now`` give identical data and keys.
        now: where the 13 months of data end (datetime, ISO string, unix; default: now).
        latency_ms, jitter_ms, rate_limit: shortcuts for the fault settings of the same name.
        faults: fault settings (see :mod:`csframe.sandbox.faults`).
        host, port: where to listen; port 0 picks a free port.
        process: serve from a child process instead of a thread of this one.
        delivery_delay_s: seconds after which a sent SMS is delivered (or fails) and
            gets its receipt; 0 = at once (see :mod:`csframe.sandbox.lifecycle`).
        behaviour: lifecycle settings (``{"delivery_delay_s": ...}``; the dict wins).
        allow_remote: needed to listen on a non-loopback ``host`` (other machines could
            then reach the fake API and, with the admin token, the admin API).
        on_disk: keep the data in a temporary SQLite file (removed at the end) instead of
            memory; default: from 250,000 SMS rows on (``large`` peaks under 1 GB).

    Example::

        with running(scale="tiny", faults={"error_rate": 0.05, "seed": 7}) as sb:
            client = Client(**sb.credentials, base_url=sb.base_url)
    """
    check_host(host, allow_remote)
    settings = fault_settings(latency_ms, jitter_ms, rate_limit, faults)
    behave = {"delivery_delay_s": delivery_delay_s, **(behaviour or {})}
    now_ts = parse_now(now)  # fixed here so a thread and a process agree on it
    if process:
        lifecycle.Behaviour.from_dict(behave)  # fail here, not in the child
        # A big store goes to a file in a folder this process removes (the child is
        # stopped by a signal, which skips its own clean-up).
        folder = tempfile.mkdtemp(prefix="csframe-sandbox-") if _on_disk(scale, on_disk) else None
        config = {
            "scale": scale,
            "seed": seed,
            "now": now_ts,
            "settings": settings,
            "behaviour": behave,
            "host": host,
            "port": port,
            "db_path": folder and os.path.join(folder, "sandbox.sqlite"),
        }
        try:
            with _process_server(config) as (root, token), _handle(root, token) as sb:
                yield sb
        finally:
            if folder:
                shutil.rmtree(folder, ignore_errors=True)
    else:
        store, app = build(scale, seed, now_ts, settings, behaviour=behave, on_disk=on_disk)
        try:
            with _thread_server(app, host, port) as root, _handle(root, app.admin_token) as sb:
                yield sb
        finally:
            close_store(store)


@contextlib.contextmanager
def _handle(root: str, admin_token: str) -> Iterator[Sandbox]:
    sb = Sandbox(root, admin_token)
    try:
        yield sb
    finally:
        sb._stopped = True  # later calls through it say the sandbox was stopped


def child_main(argv: list[str]) -> int:
    """Entry of ``running(process=True)``: seed, listen, print a ready line, serve."""
    config = json.loads(argv[0])
    store, app = build(
        config["scale"],
        config["seed"],
        config["now"],
        config["settings"],
        db_path=config.get("db_path"),
        behaviour=config.get("behaviour"),
    )
    sock = bind(config["host"], config["port"])
    root = _url(config["host"], sock.getsockname()[1])

    def ready() -> None:
        # stdout is a pipe only the parent reads: the token does not leak from here.
        print(
            READY_MARKER + json.dumps({"root_url": root, "admin_token": app.admin_token}),
            flush=True,
        )

    def exit_with_parent() -> None:
        # The parent holds our stdin open; EOF means it is gone (even if it was killed
        # without a chance to stop us), so shut down like on Ctrl-C.
        sys.stdin.read()
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=exit_with_parent, daemon=True).start()
    try:
        serve(app, sock, ready)
    finally:
        close_store(store)  # exports; the parent removes an on-disk store's folder
    return 0
