"""History exports: ask the API for an export URL, download the CSV, type it like history.

``GET /sms/history/export`` (and the other channels') answers ``{"url": ...}``: a file the
API serves for a limited time. Its rows are the history rows; they are parsed with the
same registry dtypes as :func:`csframe.loaders.history`.
"""

from __future__ import annotations

import io

import pandas as pd
import requests

from csframe.frames import convert
from csframe.loaders.message_history import HISTORY, _resource_for, history_params

EXPORT_PATHS = {
    "sms": "/sms/history/export",
    "mms": "/mms/history/export",
    "voice": "/voice/history/export",
    "email": "/email/history/export",
    "letter": "/post/letters/export",
    "postcard": "/post/postcards/history/export",
}


def history_export(session, channel: str, start=None, end=None, *, currency=None) -> pd.DataFrame:
    """The export CSV of ``channel`` history in ``[start, end)`` as a typed frame."""
    resource = _resource_for(channel)
    if channel.lower() not in EXPORT_PATHS:
        raise ValueError(
            f"channel must be one of {', '.join(sorted(EXPORT_PATHS))} for exports; got {channel!r}"
        )
    params = {**history_params(start, end), "filename": f"{resource.name}.csv"}
    data = session.get(EXPORT_PATHS[channel.lower()], params, expire_after=0)
    url = (data or {}).get("url")
    if not url:
        raise ValueError(f"GET {EXPORT_PATHS[channel.lower()]}: the answer has no 'url'")
    # The export URL is pre-signed: no credentials are sent with it.
    response = requests.get(url, timeout=session.timeout)
    response.raise_for_status()
    raw = pd.read_csv(io.BytesIO(response.content), dtype=str, keep_default_na=False)
    kinds = resource.kinds()
    columns = {}
    for name, kind in kinds.items():
        values = raw[name].tolist() if name in raw.columns else [None] * len(raw)
        columns[name] = convert([v if v != "" else None for v in values], kind)
    for name in raw.columns:
        if name not in kinds:
            columns[name] = pd.array([v if v != "" else None for v in raw[name]], dtype="str")
    df = pd.DataFrame(columns, index=pd.RangeIndex(len(raw)))
    if currency:
        df.attrs["currency"] = currency
    return df


__all__ = ["EXPORT_PATHS", "HISTORY", "history_export"]
