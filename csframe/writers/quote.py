"""Quote a plan: the API's exact price for every message before anything is sent.

``/sms/price`` (``/mms/price``) takes at most 1000 messages; the plan is priced in chunks
of ``chunk_size``, concurrently (pricing stores and charges nothing, so the requests are
retried like reads). The result is the plan with four more columns -- ``quote_status``
(SUCCESS or the code the send would get, e.g. INVALID_RECIPIENT), ``quote_parts``,
``quote_price`` and ``quote_country`` -- and ``attrs["quote"]``: ``total``,
``estimate`` (the plan's), ``difference``, ``requests``, ``currency``, ``refused``
(rows the send would refuse) and ``parts_differ`` (rows where the API counts parts
differently from the plan). :func:`by_country` compares estimate and quote per country.

A quoted plan is still the same plan: ``send`` accepts it and its journal identity
ignores the quote columns.

Example::

    q = csframe.writers.quote(cs, plan)
    q.attrs["quote"]["total"], q.attrs["quote"]["estimate"]
    csframe.writers.by_country(q)
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from csframe.writers._common import ClientLike, PlanWarning, check_chunk_size, chunks, show_rows
from csframe.writers.channels import channel_of

QUOTE_COLUMNS = ("quote_status", "quote_parts", "quote_price", "quote_country")


def quote(
    client: ClientLike, plan: pd.DataFrame, *, chunk_size: int = 1000, workers: int | None = None
) -> pd.DataFrame:
    """The plan with the API's per-message price; see the module docstring.

    Example::

        q = quote(cs, plan)
        q.loc[q["quote_status"] != "SUCCESS", ["to", "quote_status"]]
    """
    ch = channel_of(plan)
    chunk_size = check_chunk_size(chunk_size)
    workers = workers or client.max_workers
    media_url = plan.attrs.get("media_file")
    if ch.name == "mms" and media_url and not str(media_url).startswith(("http://", "https://")):
        from csframe.writers.uploads import upload_file

        media_url = upload_file(client.session, media_url, convert="mms")
    cols = ch.columns(plan)
    n = len(plan)
    spans = list(chunks(n, chunk_size))
    # custom_string is not needed to price; positions keep the answers in order
    placeholder = [""] * chunk_size

    def price(span: tuple[int, int]) -> tuple[list[dict], dict]:
        start, stop = span
        msgs = ch.messages(cols, range(start, stop), placeholder[: stop - start])
        for m in msgs:
            m.pop("custom_string", None)
        data = client.session.post(ch.price_path, ch.payload(msgs, media_url), idempotent=True)
        answers = (data or {}).get("messages") or []
        if len(answers) != stop - start:
            raise ValueError(
                f"{ch.price_path} answered {len(answers)} messages for {stop - start} asked"
            )
        return answers, (data or {}).get("_currency") or {}

    status = np.empty(n, dtype=object)
    parts = np.zeros(n, dtype=np.int64)
    prices = np.zeros(n, dtype=float)
    country = np.empty(n, dtype=object)
    currency = None
    if spans:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(spans)))) as pool:
            for (start, stop), (answers, cur) in zip(spans, pool.map(price, spans), strict=True):
                currency = currency or cur.get("currency_name_short")
                status[start:stop] = [str(a.get("status") or "") for a in answers]
                parts[start:stop] = [int(a.get("message_parts") or 0) for a in answers]
                prices[start:stop] = [float(a.get("message_price") or 0) for a in answers]
                country[start:stop] = [a.get("country") or None for a in answers]
    out = plan.copy()
    out["quote_status"] = pd.Series(status, index=plan.index, dtype="str")
    out["quote_parts"] = pd.Series(parts, index=plan.index, dtype="Int64")
    out["quote_price"] = pd.Series(prices, index=plan.index, dtype="float64")
    out["quote_country"] = pd.Series(country, index=plan.index, dtype="category")
    refused = status != "SUCCESS"
    differ = (parts != plan["parts"].to_numpy()) & ~refused if ch.name == "sms" else refused & False
    total = round(float(prices.sum()), 6)
    estimate = plan.attrs.get("estimated_total")
    out.attrs.update(plan.attrs)
    out.attrs["currency"] = currency or plan.attrs.get("currency")
    out.attrs["quote"] = {
        "total": total,
        "estimate": estimate,
        "difference": None if estimate is None else round(total - estimate, 6),
        "requests": len(spans),
        "currency": currency,
        "refused": int(refused.sum()),
        "parts_differ": int(differ.sum()),
    }
    if refused.any():
        codes = pd.Series(status[refused]).value_counts().to_dict()
        warnings.warn(
            f"the API would refuse {int(refused.sum())} message(s) {show_rows(plan.index[refused])}: "
            f"{codes}",
            PlanWarning,
            stacklevel=2,
        )
    if differ.any():
        warnings.warn(
            f"the API counts parts differently for {int(differ.sum())} message(s) "
            f"{show_rows(plan.index[differ])} (see quote_parts vs parts)",
            PlanWarning,
            stacklevel=2,
        )
    return out


def by_country(quoted: pd.DataFrame) -> pd.DataFrame:
    """Per country: messages, estimated and quoted parts and cost, and the difference.

    Example::

        by_country(quote(cs, plan))
    """
    missing = [c for c in QUOTE_COLUMNS if c not in quoted.columns]
    if missing:
        raise ValueError(f"not a quoted plan (no {missing}); use quote(client, plan) first")
    ok = quoted["quote_status"] == "SUCCESS"
    g = quoted.assign(
        ok=ok,
        quote_parts_ok=quoted["quote_parts"].where(ok, 0),
    ).groupby("country", observed=True, dropna=False)
    out = pd.DataFrame(
        {
            "messages": g.size(),
            "refused": g["ok"].apply(lambda s: int((~s).sum())),
            "parts": g["parts"].sum(),
            "quote_parts": g["quote_parts_ok"].sum().astype("Int64"),
            "est_cost": g["est_cost"].sum(min_count=1),
            "quote_price": g["quote_price"].sum(),
        }
    )
    out["difference"] = out["quote_price"] - out["est_cost"]
    return out.reset_index()
