"""Find sent messages by their ``custom_string`` in the message history.

Used to resolve a request whose answer was lost (a dropped connection, a timeout, a 5xx,
a killed process): ``GET /{channel}/history?q=custom_string:a,custom_string:b,...&
operator=OR`` for up to ``per_request`` custom strings at a time, all pages, never from
the HTTP cache (a stale "not found" would send a message twice). The API matches
search values case-insensitively, so results are keyed by the lower-cased string.

Example::

    found = find_by_custom_string(cs.session, "sms", ["csf1a2b3c4d.17", "csf1a2b3c4d.18"])
    found["csf1a2b3c4d.17"][0]["message_id"]
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from requests_cache import DO_NOT_CACHE

PER_REQUEST = 100  # custom strings per search (keeps the URL around 4 kB)
HISTORY_PATHS = {"sms": "/sms/history", "mms": "/mms/history", "email": "/email/history"}


def _search(session, path: str, values: Sequence[str]) -> list[dict[str, Any]]:
    q = ",".join(f"custom_string:{v}" for v in values)
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        data = session.get(
            path,
            {"q": q, "operator": "OR", "limit": 100, "page": page},
            expire_after=DO_NOT_CACHE,
        )
        records = (data or {}).get("data") or []
        out.extend(records)
        last = int((data or {}).get("last_page") or 1)
        if page >= last or not records:
            return out
        page += 1


def find_by_custom_string(
    session,
    channel: str,
    custom_strings: Sequence[str],
    *,
    per_request: int = PER_REQUEST,
    workers: int = 4,
) -> dict[str, list[dict[str, Any]]]:
    """``{custom_string.lower(): [history records]}`` for every string that was found
    (more than one record means the message exists more than once)."""
    path = HISTORY_PATHS[channel]
    values = list(dict.fromkeys(custom_strings))
    groups = [values[i : i + per_request] for i in range(0, len(values), per_request)]
    wanted = {v.lower() for v in values}
    found: dict[str, list[dict[str, Any]]] = {}
    if not groups:
        return found
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(groups)))) as pool:
        for records in pool.map(lambda g: _search(session, path, g), groups):
            for rec in records:
                key = str(rec.get("custom_string") or "").lower()
                if key in wanted:
                    found.setdefault(key, []).append(rec)
    # the same message can appear on two pages if rows arrived mid-search: one per id
    for key, recs in found.items():
        unique = {str(r.get("message_id")): r for r in recs}
        found[key] = list(unique.values())
    return found
