"""An embedded, ClickSend-compatible sandbox server (moto-style), seeded with synthetic data.

It is an independent implementation of the API: it imports nothing from csframe outside
``csframe.sandbox``, so tests of the client against it mean something.

Example::

    from csframe.sandbox import running
    with running(scale="small", seed=42) as sb:
        sb.base_url        # "http://127.0.0.1:PORT/v3"
        sb.credentials     # {"username": "csframe_demo", "api_key": "…"}
        sb.stats()["requests"]

    sb = start(scale="small")      # a notebook's sandbox: runs until sb.stop() or exit

Layout: ``models`` (SQLite store and queries), ``seed`` (synthetic data), ``responses/``
(one module per API area + ``common``), ``urls`` (routing table), ``lifecycle`` (delivery,
receipts, opt-outs, replies, throttling), ``faults`` (latency, 429, 5xx, drops,
truncation), ``stats``, ``server`` (app factory, ``running()``),
``cli`` (``csframe sandbox serve``). ``README.md`` in this folder lists the behavioural
decisions taken where the reference is silent.
"""

from __future__ import annotations

try:  # the server's web stack is the `sandbox` extra, not a core dependency
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised with the extra blocked
    raise ImportError(
        f"the csframe sandbox needs the 'sandbox' extra ({exc.name} is missing): "
        "pip install 'csframe[sandbox]'"
    ) from None

from csframe.sandbox.server import Sandbox, SandboxStopped, create_app, running, start

__all__ = ["running", "start", "Sandbox", "SandboxStopped", "create_app"]
