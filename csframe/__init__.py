"""csframe: the ClickSend messaging API in pandas.

Example::

    import csframe as csf
    with csf.sandbox.running(scale="small") as sb:
        cs = csf.Client(**sb.credentials, base_url=sb.base_url)
        sms = cs.history("sms", start="2026-01-01", end="2026-11-01")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Client",
    "clean",
    "errors",
    "reports",
    "sandbox",
    "schema",
    "store",
    "sync_accounts",
    "widgets",
    "writers",
    "__version__",
]

if TYPE_CHECKING:  # pragma: no cover
    from csframe import clean, errors, reports, sandbox, schema, store, widgets, writers
    from csframe.accounts import sync_accounts
    from csframe.client import Client


def __getattr__(name: str) -> Any:
    # Lazy imports keep `import csframe` fast and let the sandbox be used without
    # pulling in matplotlib or openpyxl.
    if name == "Client":
        from csframe.client import Client

        return Client
    if name == "sync_accounts":  # many accounts, optionally on a Dask cluster (csframe.scale)
        from csframe.accounts import sync_accounts

        return sync_accounts
    if name in {"clean", "errors", "reports", "sandbox", "schema", "store", "widgets", "writers"}:
        return importlib.import_module(f"csframe.{name}")
    raise AttributeError(f"module 'csframe' has no attribute {name!r}")


def __dir__() -> list[str]:
    # The lazy submodules are invisible to the default dir(): list them, so that
    # `csf.<TAB>` in Jupyter offers them.
    return sorted(set(globals()) | set(__all__))
