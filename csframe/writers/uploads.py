"""``POST /uploads?convert=...``: put a file where the API can read it; returns its URL.

The body is JSON with the file base64-encoded in ``content`` (the reference's first
form). Uploading twice only leaves a second copy (files expire after 10 minutes), so an
upload is retried like a read.

Example::

    url = upload_bytes(cs.session, csv_bytes, convert="csv")
    url = upload_file(cs.session, "voucher.png", convert="mms")
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for annotations only
    from csframe.session import ApiSession

CONVERSIONS = ("csv", "mms", "fax", "post", "postcard")


def upload_bytes(session: ApiSession, content: bytes, convert: str) -> str:
    """Upload ``content`` converted for ``convert``; the file's URL (``data._url``)."""
    if convert not in CONVERSIONS:
        raise ValueError(f"convert must be one of {CONVERSIONS}, got {convert!r}")
    data = session.post(
        "/uploads",
        {"content": base64.b64encode(content).decode("ascii")},
        params={"convert": convert},
        idempotent=True,
    )
    url = (data or {}).get("_url") if isinstance(data, dict) else None
    if not url:
        raise ValueError(f"POST /uploads answered without a file URL: {data!r}")
    return str(url)


def upload_file(session: ApiSession, path: str | os.PathLike, convert: str) -> str:
    """Upload the file at ``path``; its URL."""
    return upload_bytes(session, Path(path).read_bytes(), convert)
