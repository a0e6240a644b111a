"""Where csframe finds its credentials, base URL and cache directory.

Resolution order for each setting: explicit argument, then environment variable.

==========================  ===========================================================
environment variable        meaning
==========================  ===========================================================
``CLICKSEND_USERNAME``      API username
``CLICKSEND_API_KEY``       API key (never printed, logged or cached)
``CLICKSEND_BASE_URL``      API root, default ``https://rest.clicksend.com/v3``
``CSFRAME_CACHE_DIR``       cache directory, default the user cache dir
                            (``~/.cache/csframe`` on Linux): the HTTP cache
                            (``*.sqlite``), the frame cache (``*.frames/``) and
                            the send journals (``runs/``)
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
from urllib.parse import urlsplit

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
    """The cache directory (created with mode 0700 on first use). It holds both caches,
    the HTTP cache (one ``<user>-<hash>.sqlite`` per username and API root) and the frame
    cache beside each (``*.frames/``, :mod:`csframe.framecache`), and the send journals
    (``runs/``).

    Raises :class:`ConfigurationError` naming the path when it cannot be a directory.

    Example::

        cache_dir("/tmp/csframe-cache")       # PosixPath('/tmp/csframe-cache'), now 0700
    """
    if explicit is not None:
        if not isinstance(explicit, str | os.PathLike) or not str(explicit):
            raise ConfigurationError(f"cache_dir must be a directory path, got {explicit!r}")
        path = Path(explicit)
    elif os.environ.get("CSFRAME_CACHE_DIR"):
        path = Path(os.environ["CSFRAME_CACHE_DIR"])
    else:
        from platformdirs import user_cache_dir

        path = Path(user_cache_dir("csframe"))
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigurationError(
            f"cache_dir {str(path)!r} cannot be used as the cache directory: {exc.strerror or exc}"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigurationError(f"cache_dir {str(path)!r} is not writable")
    return path


def api_root(base_url: str) -> str:
    """The API root as the cache namespaces it: scheme, host, port and path, normalised.

    Example::

        >>> api_root("HTTP://LocalHost:8765/v3/")
        'http://localhost:8765/v3'
    """
    parts = urlsplit(base_url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    host = (parts.hostname or "").lower()
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme.lower()}://{host}:{port}{parts.path.rstrip('/')}"


def cache_file(username: str, directory: Path, base_url: str = DEFAULT_BASE_URL) -> Path:
    """One cache file per username and API root (two servers never share a file); the name
    is the sanitised username made unique by a short hash of both."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", username)[:40] or "user"
    digest = hashlib.sha256(f"{username}\0{api_root(base_url)}".encode()).hexdigest()[:12]
    return directory / f"{safe}-{digest}.sqlite"
