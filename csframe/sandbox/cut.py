"""A hostile behaviour for tests: successful /v3 GET bodies cut at a record boundary.

A proxy or load balancer that loses the end of a body but frames what it got correctly
(a matching ``Content-Length``) leaves the client a body that starts with ``{`` and ends
with ``}`` yet is not JSON. ``PUT /_sandbox/cut {"count": n, "path": "/v3/lists"}`` (or
``sb.cut_bodies(n, "/v3/lists")``) cuts the next ``n`` successful GET bodies under
``path`` right after a record's closing brace, halfway through the page; ``count: 0``
turns it off. Unlike the faults (:mod:`csframe.sandbox.faults`), the connection stays up.

Example::

    sb.cut_bodies(2, "/v3/lists")          # the next two pages of lists arrive cut
"""

from __future__ import annotations

import threading
from typing import Any

from csframe.sandbox.faults import run_captured


class CutPlan:
    """How many more bodies to cut, and under which path."""

    def __init__(self) -> None:
        self.count = 0
        self.path = "/v3"
        self._lock = threading.Lock()

    def configure(self, count: int, path: str = "/v3") -> dict[str, Any]:
        """Replace the plan; raises ValueError on a bad count or path."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"count must be a non-negative integer, got {count!r}")
        if not isinstance(path, str) or not path.startswith("/v3"):
            raise ValueError(f"path must start with /v3, got {path!r}")
        with self._lock:
            self.count, self.path = count, path
        return self.to_dict()

    def take(self, path: str) -> bool:
        """Whether to cut the response to ``path`` (spends one of ``count``)."""
        with self._lock:
            if self.count > 0 and (
                path == self.path or path.startswith(self.path.rstrip("/") + "/")
            ):
                self.count -= 1
                return True
            return False

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "path": self.path}


def cut_at_record(body: bytes) -> bytes:
    """``body`` up to the end of the record that spans its middle (a ``}`` before ``,{``).

    Example::

        >>> cut_at_record(b'{"data":[{"a":1},{"a":2},{"a":3}]}')
        b'{"data":[{"a":1},{"a":2}'
    """
    at = body.find(b"},{", len(body) // 2)
    if at < 0:
        at = body.rfind(b"},{")
    if at < 0:
        return body[: len(body) // 2]
    return body[: at + 1]


class CutBodies:
    """Pure ASGI middleware inside the Starlette app; the plan is ``app.state.cut``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        plan = getattr(getattr(scope.get("app"), "state", None), "cut", None)
        if (
            plan is None
            or scope["type"] != "http"
            or scope["method"] != "GET"
            or not plan.take(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        start, body = await run_captured(self.app, scope, receive)
        if start.get("status") == 200:
            body = cut_at_record(body)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})
