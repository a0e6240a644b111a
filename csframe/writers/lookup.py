"""Find sent messages in the message history, trusting nothing the search says blindly.

Used to resolve a request whose outcome is unknown (a dropped connection, a timeout, a
5xx, a killed process). Two ways to look, never through the HTTP cache (a stale "not
found" would send a message twice):

1. **search** -- ``GET /{channel}/history?q=custom_string:a,custom_string:b,...&
   operator=OR``, up to ``per_request`` strings a request, all pages. The reference
   documents the generic ``q`` search as case-insensitive but does not promise an exact
   match, so a search for ``run.1`` may also return ``run.10``.
2. **window** -- when the search is refused, or answers with records that match none of
   the values asked for (a server that ignores or mangles ``q``): every message of the
   channel between ``since`` (minus a margin) and now (``date_from``/``date_to``,
   documented on every history endpoint), all pages.

Either way every candidate is **verified client-side** against what was sent: the exact
custom string (case-sensitive), the recipient's digits, the sender when one was set, and
the body (equal after folding white space, or a prefix of it when the API truncated a
long message). Only verified records count: a loose search can never make an unsent row
look sent.

Example::

    found = find_sent(cs.session, "sms", messages, since=started)
    found["csf1a2b3c4d.17"][0]["message_id"]
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from requests_cache import DO_NOT_CACHE

from csframe.errors import ApiError, NotFound, ValidationError

if TYPE_CHECKING:  # for annotations only
    from csframe.session import ApiSession

PER_REQUEST = 100  # custom strings per search (keeps the URL around 4 kB)
WINDOW_MARGIN = 300  # seconds around the attempt a window read covers (clock skew)
HISTORY_PATHS = {"sms": "/sms/history", "mms": "/mms/history", "email": "/email/history"}


class LookupFailed(ApiError):
    """The history could not be read: nothing can be concluded about the messages."""


def _pages(session: ApiSession, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        data = session.get(path, {**params, "limit": 100, "page": page}, expire_after=DO_NOT_CACHE)
        records = (data or {}).get("data") or []
        out.extend(r for r in records if isinstance(r, dict))
        last = int((data or {}).get("last_page") or 1)
        if page >= last or not records:
            return out
        page += 1


def _search(session: ApiSession, path: str, values: Sequence[str]) -> list[dict[str, Any]] | None:
    """Records for a group of custom strings, or None when the search cannot be trusted
    (refused, or answering with records that match none of the values loosely)."""
    q = ",".join(f"custom_string:{v}" for v in values)
    try:
        records = _pages(session, path, {"q": q, "operator": "OR"})
    except (ValidationError, NotFound):
        return None  # q not supported here: read the window instead
    wanted = [v.lower() for v in values]
    for rec in records:
        got = str(rec.get("custom_string") or "").lower()
        if not any(w in got for w in wanted):
            return None  # the server ignored q: its answer says nothing
    return records


def _digits(value: Any) -> str:
    return re.sub(r"\D", "", str(value or ""))


def _text(value: Any) -> str:
    return " ".join(str(value or "").split())


def verify(record: dict[str, Any], message: dict[str, Any]) -> bool:
    """Is ``record`` (from the history) the message that was sent as ``message``?

    Example::

        >>> verify({"custom_string": "r.1", "to": "+61411", "body": "Hi"},
        ...        {"custom_string": "r.1", "to": "+61 411", "body": "Hi"})
        True
    """
    if str(record.get("custom_string") or "") != str(message.get("custom_string") or ""):
        return False
    if _digits(record.get("to")) != _digits(message.get("to")):
        return False
    sender = message.get("from")
    if sender and record.get("from") and str(record["from"]).lower() != str(sender).lower():
        return False
    if "body" not in record:
        return True
    sent, stored = _text(message.get("body")), _text(record["body"])
    return stored == sent or bool(stored and sent.startswith(stored))  # truncated: a prefix


def find_sent(
    session: ApiSession,
    channel: str,
    messages: Sequence[dict[str, Any]],
    since: float,
    *,
    per_request: int = PER_REQUEST,
    workers: int = 4,
) -> dict[str, list[dict[str, Any]]]:
    """``{custom_string: [verified history records]}`` for the ``messages`` (as sent:
    dicts with ``custom_string``, ``to``, ``body`` and maybe ``from``) that are in the
    history; ``since`` is when their request started (Unix seconds). More than one record
    means the message exists more than once. Raises :class:`LookupFailed` when the
    history cannot be read."""
    path = HISTORY_PATHS[channel]
    by_custom = {str(m["custom_string"]): m for m in messages}
    values = list(by_custom)
    groups = [values[i : i + per_request] for i in range(0, len(values), per_request)]
    if not groups:
        return {}
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(groups)))) as pool:
            answers = list(pool.map(lambda g: _search(session, path, g), groups))
        if any(a is None for a in answers):
            now = int(time.time())
            window = {"date_from": int(since) - WINDOW_MARGIN, "date_to": now + WINDOW_MARGIN}
            answers = [_pages(session, path, window)]
    except ApiError as exc:
        raise LookupFailed(f"could not read {path}: {exc}") from exc
    except OSError as exc:
        raise LookupFailed(f"could not read {path}: {exc}") from exc
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for records in answers:
        for rec in records or ():
            message = by_custom.get(str(rec.get("custom_string") or ""))
            if message is not None and verify(rec, message):
                # the same message can appear on two pages if rows arrived mid-read
                found.setdefault(message["custom_string"], {})[str(rec.get("message_id"))] = rec
    return {key: list(recs.values()) for key, recs in found.items()}


def find_by_custom_string(
    session: ApiSession, channel: str, custom_strings: Sequence[str], **kw: Any
) -> dict[str, list[dict[str, Any]]]:
    """``{custom_string.lower(): [records]}`` whose custom string is exactly one of
    ``custom_strings`` (no recipient or body check; for inspection, not resolution)."""
    path = HISTORY_PATHS[channel]
    values = list(dict.fromkeys(custom_strings))
    exact = set(values)
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for i in range(0, len(values), PER_REQUEST):
        for rec in _search(session, path, values[i : i + PER_REQUEST]) or ():
            key = str(rec.get("custom_string") or "")
            if key in exact:
                found.setdefault(key.lower(), {})[str(rec.get("message_id"))] = rec
    return {key: list(recs.values()) for key, recs in found.items()}
