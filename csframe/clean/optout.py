"""suppress_opt_outs(): drop contacts who replied STOP, are on an opt-out list, or unsubscribed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from csframe.clean._common import CleanInputError, as_text, ascii_fold, resolve_columns
from csframe.clean.contacts import CONTACT_COLUMNS, ensure_clean
from csframe.clean.emails import emails
from csframe.clean.phones import phones

STOP_WORDS = (
    "stop", "stopall", "stop all", "unsubscribe", "unsub", "cancel", "end", "quit", "optout",
    "opt out", "remove", "revoke", "stop2end", "stop2quit",
)  # fmt: skip
START_WORDS = ("start", "unstop", "subscribe", "resubscribe", "yes", "optin", "opt in")
# polite words that may follow a keyword without changing its meaning
FILLER = (
    "please", "pls", "plz", "pl", "all", "me", "now", "thanks", "thank", "you", "thx", "ty",
    "asap", "texting", "text", "texts", "messaging", "messages", "message", "msgs", "sms",
    "sending", "send", "this", "from", "the", "list", "number", "it", "to", "my", "us",
    "immediately", "right", "away", "sub", "subscription", "contact", "contacting",
    "calling", "emails", "mail", "x",
)  # fmt: skip
OPT_OUT_REASONS = ("replied_stop", "opt_out_list", "unsubscribed")


class OptOutResult(NamedTuple):
    """What :func:`suppress_opt_outs` kept and what it dropped (unpacks as a 2-tuple)."""

    kept: pd.DataFrame
    dropped: pd.DataFrame


def _keyword_regex(words) -> str:
    kw = "|".join(sorted((w.replace(" ", " ?") for w in words), key=len, reverse=True))
    filler = "|".join(FILLER)
    return f"^(?:{kw})(?: (?:{filler}))*$"


def keyword_kind(body: pd.Series | Iterable[object]) -> pd.Series:
    """'stop', 'start' or NA per message: keywords case- and punctuation-insensitive.

    A message is an opt-out when it is a stop keyword, optionally followed by polite words
    ("Stop.", "STOP ALL", "unsubscribe please", "Stop texting me!"); "Don't stop" is not.

    >>> keyword_kind(pd.Series(["Stop.", "STOP ALL", "unsubscribe please", "stop by later?",
    ...                         "START"])).tolist()
    ['stop', 'stop', 'stop', nan, 'start']
    """
    text = as_text(body, func="keyword_kind", name="body")
    s = pa.array(ascii_fold(text).to_numpy(dtype=object, na_value=None), type=pa.string())
    s = pc.utf8_lower(pc.utf8_normalize(s, "NFKC"))
    s = pc.utf8_trim_whitespace(pc.replace_substring_regex(s, r"[^\p{L}\p{N}]+", " "))
    stop = pc.fill_null(pc.match_substring_regex(s, _keyword_regex(STOP_WORDS)), False)
    start = pc.fill_null(pc.match_substring_regex(s, _keyword_regex(START_WORDS)), False)
    kind = np.full(len(text), None, dtype=object)
    kind[start.to_numpy(zero_copy_only=False)] = "start"
    kind[stop.to_numpy(zero_copy_only=False)] = "stop"
    return pd.Series(kind, index=text.index, dtype="str")


def _find(df: pd.DataFrame, options: tuple[str, ...]) -> str | None:
    lower = {str(c).casefold(): c for c in df.columns}
    for o in options:
        if o in lower:
            return lower[o]
    return None


def _inbound_stops(inbound: pd.DataFrame, default_region) -> pd.DataFrame:
    """Latest keyword per sender: senders whose last keyword message is a stop."""
    if not isinstance(inbound, pd.DataFrame):
        raise CleanInputError(
            f"suppress_opt_outs(inbound=...) takes an inbound SMS DataFrame, got "
            f"{type(inbound).__name__}"
        )
    frm = _find(inbound, ("from", "from_number", "sender", "originator", "phone_number"))
    body = _find(inbound, ("body", "message", "text", "content"))
    if frm is None or body is None:
        missing = "'from'" if frm is None else "'body'"
        raise CleanInputError(
            f"suppress_opt_outs(inbound=...): the inbound frame has no {missing} column "
            "(accepted: from/from_number/sender/originator and body/message/text); "
            f"columns present: {list(inbound.columns)}"
        )
    date = _find(inbound, ("date", "timestamp", "received", "date_received"))
    kind = keyword_kind(inbound[body]).set_axis(inbound.index)
    hit = kind.notna()
    if not hit.any():
        return pd.DataFrame({"e164": [], "detail": [], "date": []})
    f = inbound.loc[hit]
    e164 = phones(f[frm], default_region=default_region)["phone_e164"]
    ev = pd.DataFrame(
        {
            "e164": e164.to_numpy(dtype=object, na_value=None),
            "kind": kind[hit].to_numpy(dtype=object),
            "detail": as_text(f[body]).to_numpy(dtype=object, na_value=None),
            "date": (
                pd.to_datetime(f[date], errors="coerce", utc=True)
                if date
                else pd.Series(pd.NaT, index=f.index, dtype="datetime64[ns, UTC]")
            )
            .astype("datetime64[ns, UTC]")
            .to_numpy(dtype="datetime64[ns]"),
            "_pos": np.arange(len(f)),
        }
    ).dropna(subset=["e164"])
    ev = ev.sort_values(["date", "_pos"], na_position="first", kind="stable")
    last = ev.groupby("e164", sort=False).tail(1)
    return last[last["kind"] == "stop"][["e164", "detail", "date"]]


def _list_keys(opt_out_list, default_region) -> tuple[set, set]:
    """(E.164 set, email-key set) from an opt-out list of phones/emails or a frame."""
    if isinstance(opt_out_list, pd.DataFrame):
        cols = resolve_columns(
            opt_out_list, ("phone_number", "email"), None, func="suppress_opt_outs"
        )
        ph = (
            opt_out_list[cols["phone_number"]]
            if cols["phone_number"]
            else pd.Series([], dtype="str")
        )
        em = opt_out_list[cols["email"]] if cols["email"] else pd.Series([], dtype="str")
        if cols["phone_number"] is None and cols["email"] is None:
            raise CleanInputError(
                "suppress_opt_outs(opt_out_list=...): the frame has neither a phone nor an "
                f"email column; columns present: {list(opt_out_list.columns)}"
            )
    else:
        values = as_text(opt_out_list, func="suppress_opt_outs", name="opt_out_list")
        is_mail = values.str.contains("@", regex=False).fillna(False)
        ph, em = values[~is_mail], values[is_mail]
    phones_ = set(phones(ph, default_region=default_region)["phone_e164"].dropna())
    emails_ = set(emails(em)["email_match_key"].dropna())
    return phones_, emails_


def suppress_opt_outs(
    df: pd.DataFrame,
    inbound: pd.DataFrame | None = None,
    opt_out_list: pd.DataFrame | Iterable[object] | None = None,
    *,
    default_region: str | None = None,
    respect_unsubscribed: bool = True,
    mapping: dict[str, str] | None = None,
) -> OptOutResult:
    """Drop contacts who opted out, and say why.

    A contact is dropped when:

    - its E.164 phone sent an inbound SMS whose latest keyword message is a stop keyword
      (STOP, STOP ALL, UNSUBSCRIBE, CANCEL, END, QUIT, OPT OUT, ...; case and punctuation
      ignored, polite words allowed: "Stop.", "unsubscribe please"). A later START/UNSTOP
      from the same number cancels it. ``inbound`` is a ClickSend inbound SMS frame
      (``from``, ``body``, ``date``); senders are normalised with ``default_region``.
    - its phone (E.164) or email (match key) is on ``opt_out_list`` (list-like of phones
      and/or emails, or a frame with phone/email columns);
    - ``unsubscribed`` is True (with ``respect_unsubscribed``).

    Returns
    -------
    ``OptOutResult(kept, dropped)`` — a named tuple, so ``kept, dropped = ...`` works.
    ``dropped`` has the dropped rows plus ``opt_out_reason`` (category: ``replied_stop``,
    ``opt_out_list``, ``unsubscribed``; the first that applies), ``opt_out_detail`` (str:
    the message or list entry) and ``opt_out_date`` (datetime64[ns, UTC], when known).
    Frames that lack the contacts() columns are cleaned first.

    Example
    -------
    >>> import pandas as pd
    >>> from csframe import clean
    >>> ct = pd.DataFrame({"phone_number": ["0412 345 678", "0412 000 111"]})
    >>> inb = pd.DataFrame({"from": ["+61412345678"], "body": ["Stop."]})
    >>> kept, dropped = clean.suppress_opt_outs(ct, inb, default_region="AU")
    >>> len(kept), dropped["opt_out_reason"].tolist()
    (1, ['replied_stop'])
    """
    c = ensure_clean(df, default_region, mapping=mapping, func="suppress_opt_outs")
    n = len(c)
    reason = np.full(n, None, dtype=object)
    detail = np.full(n, None, dtype=object)
    when = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns, UTC]")
    e164 = c["phone_e164"].to_numpy(dtype=object, na_value=None)
    if respect_unsubscribed:
        ucol = resolve_columns(c, CONTACT_COLUMNS, mapping, func="suppress_opt_outs")[
            "unsubscribed"
        ]
        if ucol is not None:
            uns = c[ucol]
            if not pd.api.types.is_bool_dtype(uns.dtype):
                uns = uns.astype("str").str.strip().str.lower().isin(["1", "true", "yes", "y"])
            u = uns.fillna(False).to_numpy(bool)
            reason[u] = "unsubscribed"
    if opt_out_list is not None:
        ph, em = _list_keys(opt_out_list, default_region)
        key = c["email_match_key"].to_numpy(dtype=object, na_value=None)
        on_p = np.isin(e164, list(ph)) & ~np.equal(e164, None)
        on_e = np.isin(key, list(em)) & ~np.equal(key, None)
        reason[on_p | on_e] = "opt_out_list"
        detail[on_e] = key[on_e]
        detail[on_p] = e164[on_p]
    if inbound is not None:
        stops = _inbound_stops(inbound, default_region)
        if len(stops):
            lookup = stops.set_index("e164")
            hit = np.isin(e164, stops["e164"].to_numpy()) & ~np.equal(e164, None)
            idx = np.flatnonzero(hit)
            reason[idx] = "replied_stop"
            detail[idx] = lookup["detail"].reindex(e164[idx]).to_numpy()
            when.iloc[idx] = pd.DatetimeIndex(lookup["date"].reindex(e164[idx])).tz_localize("UTC")
    drop = ~np.equal(reason, None)
    kept = c.loc[~drop].copy()
    dropped = c.loc[drop].copy()
    dropped["opt_out_reason"] = pd.Categorical(reason[drop], categories=OPT_OUT_REASONS)
    dropped["opt_out_detail"] = pd.Series(detail[drop], index=dropped.index, dtype="str")
    dropped["opt_out_date"] = when[drop].set_axis(dropped.index)
    return OptOutResult(kept, dropped)
