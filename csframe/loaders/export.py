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
from csframe.loaders.filters import check_columns, check_max_rows
from csframe.loaders.message_history import HISTORY, history_params, history_resource

EXPORT_PATHS = {
    "sms": "/sms/history/export",
    "mms": "/mms/history/export",
    "voice": "/voice/history/export",
    "email": "/email/history/export",
    "letter": "/post/letters/export",
    "postcard": "/post/postcards/history/export",
}


def history_export(
    session,
    channel: str,
    start=None,
    end=None,
    *,
    currency=None,
    search: dict | None = None,
    columns: list[str] | None = None,
    max_rows: int | None = None,
) -> pd.DataFrame:
    """The export CSV of ``channel`` history in ``[start, end)`` as a typed frame.

    ``search``: validated ``q``/``operator``/``order_by`` parameters
    (:func:`csframe.loaders.filters.filter_params`), sent with the export request (the
    export holds the rows paging the history with them would give); ``columns``: only those
    are read and converted; ``max_rows``: only the first rows of the file are parsed.

    Example::

        history_export(session, "sms", "2026-10-01", "2026-11-01", columns=["date", "to"])
    """
    resource = history_resource(channel)
    if channel.lower() not in EXPORT_PATHS:
        raise ValueError(
            f"channel must be one of {', '.join(sorted(EXPORT_PATHS))} for exports; got {channel!r}"
        )
    columns = check_columns(resource, columns)
    max_rows = check_max_rows(max_rows)
    params = {
        **history_params(start, end),
        **(search or {}),
        "filename": f"{resource.name}.csv",
    }
    data = session.get(EXPORT_PATHS[channel.lower()], params, expire_after=0)
    url = (data or {}).get("url")
    if not url:
        raise ValueError(f"GET {EXPORT_PATHS[channel.lower()]}: the answer has no 'url'")
    # The export URL is pre-signed: no credentials are sent with it.
    response = requests.get(url, timeout=session.timeout)
    response.raise_for_status()
    raw = pd.read_csv(
        io.BytesIO(response.content),
        dtype=str,
        keep_default_na=False,
        usecols=(lambda name: name in columns) if columns is not None else None,
        nrows=max_rows,
    )
    kinds = resource.kinds()
    wanted = columns if columns is not None else list(kinds)
    out = {}
    for name in wanted:
        values = raw[name].tolist() if name in raw.columns else [None] * len(raw)
        out[name] = convert([v if v != "" else None for v in values], kinds[name])
    if columns is None:
        for name in raw.columns:
            if name not in kinds:
                out[name] = pd.array([v if v != "" else None for v in raw[name]], dtype="str")
    df = pd.DataFrame(out, index=pd.RangeIndex(len(raw)))
    if currency:
        df.attrs["currency"] = currency
    return df


__all__ = ["EXPORT_PATHS", "HISTORY", "history_export"]
