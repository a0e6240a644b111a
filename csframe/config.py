"""Where csframe finds its credentials, base URL and cache directory.

Resolution order for each setting: explicit argument, then environment variable.

==========================  ===========================================================
environment variable        meaning
==========================  ===========================================================
``CLICKSEND_USERNAME``      API username
``CLICKSEND_API_KEY``       API key (never printed, logged or cached)
``CLICKSEND_BASE_URL``      API root, default ``https://rest.clicksend.com/v3``
``CSFRAME_CACHE_DIR``       HTTP cache directory, default the user cache dir
                            (``~/.cache/csframe`` on Linux)
==========================  ===========================================================

Example::

    >>> from csframe.config import resolve_base_url
    >>> resolve_base_url("http://127.0.0.1:8765/v3/")
    'http://127.0.0.1:8765/v3'
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from csframe.errors import ConfigurationError

DEFAULT_BASE_URL = "https://rest.clicksend.com/v3"

_SANDBOX_HINT = (
    "To try csframe without an account, use the embedded sandbox:\n"
    "    with csframe.sandbox.running() as sb:\n"
    "        cs = csframe.Client(**sb.credentials, base_url=sb.base_url)\n"
    "or pass --sandbox on the command line."
)


@dataclass(frozen=True)
class Credentials:
    """API username and key. The key is kept out of ``repr`` and ``str``."""

    username: str
    api_key: str = field(repr=False)

    def __str__(self) -> str:
        return f"Credentials(username={self.username!r}, api_key=***)"


def resolve_credentials(username: str | None = None, api_key: str | None = None) -> Credentials:
    """Credentials from the arguments or ``CLICKSEND_USERNAME`` / ``CLICKSEND_API_KEY``.

    Raises :class:`ConfigurationError` naming the missing variable.

    Example::

        >>> resolve_credentials("alice", "k").username
        'alice'
    """
    user = username if username is not None else os.environ.get("CLICKSEND_USERNAME")
    key = api_key if api_key is not None else os.environ.get("CLICKSEND_API_KEY")
    missing = []
    if not user:
        missing.append("CLICKSEND_USERNAME (or username=)")
    if not key:
        missing.append("CLICKSEND_API_KEY (or api_key=)")
    if missing:
        raise ConfigurationError(
            "ClickSend credentials are missing: set "
            + " and ".join(missing)
            + ".\n"
            + _SANDBOX_HINT
        )
    return Credentials(str(user), str(key))


def resolve_base_url(base_url: str | None = None) -> str:
    """The API root without a trailing slash, from the argument, env or the default."""
    url = base_url or os.environ.get("CLICKSEND_BASE_URL") or DEFAULT_BASE_URL
    if not re.match(r"^https?://[^/\s]+", url):
        raise ConfigurationError(
            f"base_url must be an http(s) URL such as {DEFAULT_BASE_URL!r}, got {url!r}"
        )
    return url.rstrip("/")


def cache_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The HTTP cache directory (created with mode 0700 on first use)."""
    if explicit is not None:
        path = Path(explicit)
    elif os.environ.get("CSFRAME_CACHE_DIR"):
        path = Path(os.environ["CSFRAME_CACHE_DIR"])
    else:
        from platformdirs import user_cache_dir

        path = Path(user_cache_dir("csframe"))
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def cache_file(username: str, directory: Path) -> Path:
    """One cache file per username; the name is sanitised and made unique by a short hash."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", username)[:40] or "user"
    digest = hashlib.sha256(username.encode()).hexdigest()[:8]
    return directory / f"{safe}-{digest}.sqlite"
