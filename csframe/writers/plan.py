"""Plans: a DataFrame of exactly what a send will put out, row by row, before anything goes.

:func:`sms_plan` renders the body template for every row, validates every row (the
recipient, each placeholder's value, the sender, the schedule, duplicates, the opt-out
text of marketing messages) and raises one :class:`~csframe.writers.PlanError` that
names every bad row and column -- or returns a plan with the encoding, parts and an
estimated cost per row. :func:`mms_plan` and :func:`email_plan` do the same for MMS and
transactional email. Nothing in this module talks to the API unless ``prices`` is a
client (then one ``/sms/price`` request samples the account's price per country).

Plan columns (SMS): ``row_key`` (str; the row's id inside the run, carried in each
message's ``custom_string``), ``to`` (E.164), ``body``, ``sender`` (NA = ClickSend's
shared number), ``schedule`` (Int64 Unix time; NA = now), ``country`` (ISO code from the
calling code), ``encoding`` (gsm7/ucs2), ``units``, ``parts``, ``unit_price`` (per part)
and ``est_cost``. The plan keeps the input's index; ``plan.attrs`` holds ``channel``,
``currency``, ``estimated_total``, ``marketing`` and the templates.

Estimated cost (decision): the account's price per part per destination country, from
``prices=`` -- a mapping ``{"AU": 0.077, ...}``, or a client, which prices one single-part
message to up to three real recipients of each country in the plan in one ``/sms/price``
request (the highest of the three, so that a free test number cannot make a country look
free). Quotes of the whole plan (:func:`csframe.writers.quote`) give the exact figure;
the estimate is what you can have offline, instantly, for 10 million rows.

Example::

    plan = sms_plan(keep, "Hi {first_name}, 20% off today. Reply STOP to opt out",
                    to="phone_e164", sender="ACME", prices={"AU": 0.077})
    plan[["to", "body", "parts", "est_cost"]].head()
    plan.attrs["estimated_total"]
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

from csframe.writers import render as tpl
from csframe.writers._common import (
    ClientLike,
    OptOutWarning,
    PlanError,
    PlanWarning,
    Problems,
    show_rows,
    unix_time,
)
from csframe.writers.segments import segments

E164 = r"^\+[1-9][0-9]{6,14}$"
EMAIL = r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$"
SENDER_ALPHA = re.compile(r"^[A-Za-z0-9]{1,11}$")
SENDER_NUMBER = re.compile(r"^\+?[0-9]{3,16}$")
MAX_SMS_PARTS = 6  # the reference: "longer than 6 message parts, it will be truncated"
MMS_MAX_GSM, MMS_MAX_UCS2 = 1500, 500  # characters (the reference's MMS limits)
MMS_SUBJECT_MAX = 20
KEY_MAX = 64
# Opt-out instructions the reference accepts: "reply STOP" or the StopMsg.me/xxxxx link.
OPT_OUT = (
    r"(?:\bSTOP\b|(?i:\breply\s+stop\b)|(?i:stopmsg\.me/\S+)|(?i:\bopt[\s-]?out\b)"
    r"|(?i:\bunsubscribe\b))"
)

_CALLING = {str(code): regions[0] for code, regions in COUNTRY_CODE_TO_REGION_CODE.items()}


# ------------------------------------------------------------------------------- helpers


def calling_country(numbers: pd.Series) -> pd.Series:
    """ISO country of each E.164 number from its calling code (``+1`` reads as US,
    ``+7`` as RU, ``+44`` as GB: the main region of a shared code); NA when unknown.

    Example::

        >>> calling_country(pd.Series(["+61411111111", "+6421000000", "+14155550100"])).tolist()
        ['AU', 'NZ', 'US']
    """
    s = numbers.astype("str")
    prefix = s.str.slice(1, 4)
    uniq = {}
    for p in prefix.dropna().unique().tolist():
        uniq[p] = next((_CALLING[p[:k]] for k in (1, 2, 3) if p[:k] in _CALLING), None)
    return prefix.map(uniq).astype("category")


def _as_str(col: pd.Series) -> pd.Series:
    """Values as text (``str`` dtype), missing kept missing."""
    if col.dtype == "str":
        return col
    return col.map(str, na_action="ignore").astype("str")


def _arrow(series: pd.Series) -> pa.Array:
    arr = pa.array(series.astype("str"))
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr


def _matches(series: pd.Series, pattern: str) -> np.ndarray:
    """Boolean array: the value (as text) matches ``pattern``; missing never matches."""
    out = pc.fill_null(pc.match_substring_regex(_arrow(series), pattern), False)
    return out.to_numpy(zero_copy_only=False)


def _column(df: pd.DataFrame, name: str, role: str, problems: Problems, hint: str = "") -> bool:
    if name in df.columns:
        return True
    problems.add(
        f"{role} column {name!r} is not in the frame{hint}; available: "
        f"{[str(c) for c in df.columns]}",
        column=name,
    )
    return False


def _row_keys(df: pd.DataFrame, key: str | None, problems: Problems) -> pd.Series:
    """The row keys (str): positions, the index (``key="index"``) or a column."""
    if key is None:
        return pd.Series(np.arange(len(df)).astype(str), index=df.index, dtype="str")
    if key == "index":
        values = pd.Series(df.index.map(str), index=df.index, dtype="str")
        origin = "the index"
    else:
        if not _column(df, key, "key", problems):
            return pd.Series(np.arange(len(df)).astype(str), index=df.index, dtype="str")
        problems.add_rows(tpl.missing_mask(df[key]), key, "missing row key")
        values = _as_str(df[key])
        origin = f"column {key!r}"
    text = values.fillna("")
    problems.add_rows(
        text.str.contains(",", regex=False).to_numpy(bool),
        None if key == "index" else key,
        f"row key from {origin} contains ',' (the API's search separator)",
    )
    problems.add_rows(
        (text.str.len() > KEY_MAX).to_numpy(bool),
        None if key == "index" else key,
        f"row key from {origin} is longer than {KEY_MAX} characters",
    )
    folded = text.str.casefold()
    dup = folded.duplicated(keep=False).to_numpy(bool) & (text != "").to_numpy(bool)
    problems.add_rows(
        dup,
        None if key == "index" else key,
        f"row key from {origin} is not unique (compared case-insensitively)",
    )
    return values


def _check_sender(sender: Any, problems: Problems) -> str | None:
    if sender is None or sender == "":
        return None
    if not isinstance(sender, str):
        sender = str(sender)
    if SENDER_ALPHA.match(sender) or SENDER_NUMBER.match(sender):
        return sender
    problems.add(
        f"sender {sender!r} is not a valid sender id: use up to 11 letters and digits "
        "(no spaces) or a phone number, or None for a shared number",
        column="sender",
    )
    return None


def _check_schedule(schedule: Any, problems: Problems) -> int | None:
    try:
        ts = unix_time(schedule)
    except PlanError as exc:
        problems.add(str(exc), column="schedule")
        return None
    if ts is not None and ts < pd.Timestamp.now(tz="UTC").timestamp():
        warnings.warn(
            f"schedule {pd.Timestamp(ts, unit='s', tz='UTC')} is in the past: the messages "
            "go out immediately",
            PlanWarning,
            stacklevel=3,
        )
    return ts


def _phones(df: pd.DataFrame, to: str, problems: Problems, allow_duplicates: bool) -> pd.Series:
    hint = ""
    if "phone_e164" in df.columns and to != "phone_e164":
        hint = " (csframe.clean.contacts() put E.164 numbers in 'phone_e164': to='phone_e164')"
    if not _column(df, to, "recipient", problems, hint):
        return pd.Series(pd.NA, index=df.index, dtype="str")
    raw = df[to]
    missing = tpl.missing_mask(raw)
    problems.add_rows(missing, to, "no recipient number")
    text = _as_str(raw).str.strip()
    bad = ~missing & ~_matches(text, E164)
    problems.add_rows(
        bad,
        to,
        "recipient is not an E.164 number (+ and 7 to 15 digits)",
        hint=" -- normalise with csframe.clean.contacts(df, default_region=...) and use "
        "to='phone_e164'",
    )
    if not allow_duplicates:
        dup = text.duplicated(keep="first").to_numpy(bool) & ~missing
        problems.add_rows(
            dup,
            to,
            "the same recipient again (each would get a message; pass allow_duplicates=True "
            "if that is intended)",
        )
    return text


def _opt_out(
    bodies: pd.Series, marketing: bool | None, problems: Problems, template: str = ""
) -> None:
    if marketing is False:
        return
    literal = "".join(p for p in tpl.parse(template) if isinstance(p, str)) if template else ""
    if re.search(OPT_OUT, literal):
        return  # the template's own text has it, so every message does
    lacking = ~_matches(bodies, OPT_OUT) & bodies.notna().to_numpy(bool)
    if not lacking.any():
        return
    labels = bodies.index[lacking]
    what = (
        "has no opt-out instruction: marketing messages must tell recipients how to opt "
        "out ('Reply STOP to opt out' or the StopMsg.me/xxxxx placeholder)"
    )
    if marketing:
        problems.add_rows(lacking, "body", what)
    else:
        warnings.warn(
            f"{len(labels)} message(s) {show_rows(labels)} {what}. If these are marketing, "
            "add one; pass marketing=False for transactional messages to silence this, or "
            "marketing=True to refuse plans without one.",
            OptOutWarning,
            stacklevel=3,
        )


def _unit_prices(
    countries: pd.Series, prices: Any, sample: pd.Series, media_file: str | None = None
) -> pd.Series:
    """Price per part per row from ``prices`` (a mapping, a Series, or a client)."""
    if prices is None:
        return pd.Series(np.nan, index=countries.index, dtype="float64")
    if hasattr(prices, "session"):
        if media_file is not None and not re.match(r"^https?://", media_file):
            # pricing needs a URL: upload the file once just for the quote (the send
            # uploads it again: uploads expire after 10 minutes)
            from csframe.writers.uploads import upload_file

            media_file = upload_file(prices.session, media_file, convert="mms")
        prices = account_prices(prices, sample, countries, media_file=media_file)
    if isinstance(prices, pd.Series):
        prices = prices.to_dict()
    if not isinstance(prices, Mapping):
        raise PlanError(
            "prices must be None, a mapping {country: price per part}, or a csframe Client"
        )
    table = {str(k).upper(): float(v) for k, v in prices.items()}
    return countries.astype(object).map(table).astype("float64")


def account_prices(
    client: ClientLike, numbers: pd.Series, countries: pd.Series, media_file: str | None = None
) -> dict[str, float]:
    """The account's price per SMS part (per MMS with ``media_file``, a URL) for each
    country in ``countries``, asked of the API in one ``/sms/price`` (``/mms/price``)
    request: a one-part message to up to three recipients per country; the highest price
    per country wins (test numbers are free).

    Example::

        account_prices(cs, plan["to"], plan["country"])     # {'AU': 0.077, 'NZ': 0.105}
    """
    frame = pd.DataFrame({"to": numbers, "country": countries.astype(object)}).dropna()
    if frame.empty:
        return {}
    picks = frame.groupby("country", sort=True, observed=True).head(3)
    messages = [{"to": t, "body": "x"} for t in picks["to"].tolist()][:1000]
    if media_file is None:
        payload: dict[str, Any] = {"messages": messages}
        path = "/sms/price"
    else:
        payload = {"media_file": media_file, "messages": [{**m, "subject": "x"} for m in messages]}
        path = "/mms/price"
    data = client.session.post(path, payload, idempotent=True)
    out: dict[str, float] = {}
    for m in (data or {}).get("messages") or []:
        if m.get("status") != "SUCCESS" or not m.get("country"):
            continue
        parts = max(1, int(m.get("message_parts") or 1))
        price = float(m.get("message_price") or 0) / parts
        country = str(m["country"]).upper()
        out[country] = max(out.get(country, 0.0), price)
    return out


def _currency(prices: Any) -> str | None:
    if hasattr(prices, "currency"):
        try:
            return prices.currency()
        except Exception:  # noqa: BLE001 - the currency is a label, never worth failing for
            return None
    return None


def _finish(plan: pd.DataFrame, attrs: dict[str, Any]) -> pd.DataFrame:
    total = plan["est_cost"].sum(min_count=1)
    plan.attrs.update(attrs)
    plan.attrs["estimated_total"] = None if pd.isna(total) else round(float(total), 6)
    plan.attrs["rows"] = len(plan)
    return plan


# ---------------------------------------------------------------------------------- SMS


def sms_plan(
    df: pd.DataFrame,
    body: str,
    to: str = "phone_number",
    sender: str | None = None,
    schedule: Any = None,
    *,
    key: str | None = None,
    prices: Any = None,
    marketing: bool | None = None,
    allow_duplicates: bool = False,
) -> pd.DataFrame:
    """Plan a personalised SMS send: one row per message, validated, with parts and cost.

    Parameters
    ----------
    df : the recipients, one row each.
    body : template, ``{column}`` placeholders (see :mod:`csframe.writers.render`).
    to : the column with E.164 numbers (after ``csframe.clean.contacts``: ``"phone_e164"``).
    sender : sender id (alphanumeric up to 11, or a number); None = a shared number.
    schedule : when to send (datetime, ISO string or Unix time; naive = UTC); None = now.
    key : where the row keys come from: None = positions 0..n-1, ``"index"`` = the
        index labels, or a column (e.g. ``"contact_id"``). Keys must be unique
        (case-insensitively), without commas, at most 64 characters: they go into each
        message's ``custom_string`` and come back with replies and receipts.
    prices : price per part by country for ``est_cost``: a mapping, or a client (one
        ``/sms/price`` request); None leaves ``est_cost`` empty.
    marketing : True refuses messages without an opt-out instruction ("Reply STOP..."
        or StopMsg.me/xxxxx), None (default) warns about them, False skips the check.
    allow_duplicates : allow the same number more than once (default: an error).

    Raises
    ------
    PlanError listing every problem: unknown columns (with the available ones), rows
    whose placeholder values are missing, invalid or duplicate recipients, empty bodies,
    a bad sender or schedule, marketing rows without an opt-out, bad row keys.

    Example::

        >>> df = pd.DataFrame({"phone": ["+61412000001", "+61412000002"],
        ...                    "name": ["Ann", "Zoë"]})
        >>> p = sms_plan(df, "Hi {name}! 20% off. Reply STOP to opt out", to="phone",
        ...              prices={"AU": 0.077})
        >>> p[["to", "encoding", "parts", "est_cost"]].values.tolist()
        [['+61412000001', 'gsm7', 1, 0.077], ['+61412000002', 'ucs2', 1, 0.077]]
    """
    if not isinstance(df, pd.DataFrame):
        raise PlanError(f"sms_plan needs a DataFrame, got {type(df).__name__}")
    problems = Problems(df.index, "cannot plan this SMS send")
    keys = _row_keys(df, key, problems)
    numbers = _phones(df, to, problems, allow_duplicates)
    bodies = tpl.render(df, body, "body", problems)
    empty = bodies.notna().to_numpy(bool) & bodies.fillna("").str.strip().eq("").to_numpy(bool)
    problems.add_rows(empty, "body", "the message body is empty")
    sender = _check_sender(sender, problems)
    ts = _check_schedule(schedule, problems)
    _opt_out(bodies, marketing, problems, body)
    problems.raise_if_any()

    seg = segments(bodies)
    long = seg["parts"].to_numpy() > MAX_SMS_PARTS
    if long.any():
        warnings.warn(
            f"{int(long.sum())} message(s) {show_rows(df.index[long])} need more than "
            f"{MAX_SMS_PARTS} parts; ClickSend may truncate them",
            PlanWarning,
            stacklevel=2,
        )
    countries = calling_country(numbers)
    unit = _unit_prices(countries, prices, numbers)
    plan = pd.DataFrame(
        {
            "row_key": keys,
            "to": numbers,
            "body": bodies,
            "sender": pd.Series(sender, index=df.index, dtype="str"),
            "schedule": pd.Series(ts, index=df.index, dtype="Int64"),
            "country": countries,
            "encoding": seg["encoding"],
            "units": seg["units"],
            "parts": seg["parts"],
            "unit_price": unit,
            "est_cost": seg["parts"] * unit,
        },
        index=df.index,
    )
    return _finish(
        plan,
        {
            "channel": "sms",
            "currency": _currency(prices),
            "template": body,
            "marketing": marketing,
        },
    )


# ---------------------------------------------------------------------------------- MMS


def mms_plan(
    df: pd.DataFrame,
    body: str,
    media_file: str | os.PathLike,
    subject: str,
    to: str = "phone_number",
    sender: str | None = None,
    schedule: Any = None,
    *,
    key: str | None = None,
    prices: Any = None,
    marketing: bool | None = None,
    allow_duplicates: bool = False,
) -> pd.DataFrame:
    """Plan a personalised MMS send (see :func:`sms_plan` for the shared arguments).

    ``media_file`` is one image for the whole send: an ``http(s)`` URL, or a local file
    that :func:`csframe.writers.send` / :func:`~csframe.writers.quote` upload once
    (``/uploads?convert=mms``). ``subject`` is a template too (at most 20 characters
    after rendering). Bodies over 1500 GSM / 500 Unicode characters are refused (the API
    would truncate them). ``unit_price`` is per message.

    Example::

        p = mms_plan(df, "Hi {name}, your voucher", "https://example.com/v.gif", "Voucher")
    """
    if not isinstance(df, pd.DataFrame):
        raise PlanError(f"mms_plan needs a DataFrame, got {type(df).__name__}")
    problems = Problems(df.index, "cannot plan this MMS send")
    keys = _row_keys(df, key, problems)
    numbers = _phones(df, to, problems, allow_duplicates)
    bodies = tpl.render(df, body, "body", problems)
    subjects = tpl.render(df, subject, "subject", problems)
    media = _media(media_file, problems)
    empty = bodies.notna().to_numpy(bool) & bodies.fillna("").str.strip().eq("").to_numpy(bool)
    problems.add_rows(empty, "body", "the message body is empty")
    blank_subject = subjects.notna().to_numpy(bool) & subjects.fillna("").str.strip().eq(
        ""
    ).to_numpy(bool)
    problems.add_rows(blank_subject, "subject", "the subject is empty")
    problems.add_rows(
        (subjects.fillna("").str.len() > MMS_SUBJECT_MAX).to_numpy(bool),
        "subject",
        f"the subject is longer than {MMS_SUBJECT_MAX} characters",
    )
    sender = _check_sender(sender, problems)
    ts = _check_schedule(schedule, problems)
    _opt_out(bodies, marketing, problems, body)
    seg = segments(bodies.fillna(""))
    chars = bodies.fillna("").str.len().to_numpy()
    limit = np.where(seg["encoding"].to_numpy() == "gsm7", MMS_MAX_GSM, MMS_MAX_UCS2)
    problems.add_rows(
        chars > limit,
        "body",
        f"the body is longer than an MMS allows ({MMS_MAX_GSM} GSM / {MMS_MAX_UCS2} "
        "Unicode characters)",
    )
    problems.raise_if_any()
    countries = calling_country(numbers)
    unit = _unit_prices(countries, prices, numbers, media_file=media)
    plan = pd.DataFrame(
        {
            "row_key": keys,
            "to": numbers,
            "subject": subjects,
            "body": bodies,
            "sender": pd.Series(sender, index=df.index, dtype="str"),
            "schedule": pd.Series(ts, index=df.index, dtype="Int64"),
            "country": countries,
            "encoding": seg["encoding"],
            "units": seg["units"],
            "parts": np.ones(len(df), dtype=np.int64),
            "unit_price": unit,
            "est_cost": unit,
        },
        index=df.index,
    )
    return _finish(
        plan,
        {
            "channel": "mms",
            "currency": _currency(prices),
            "template": body,
            "subject_template": subject,
            "media_file": media,
            "marketing": marketing,
        },
    )


def _media(media_file: Any, problems: Problems) -> str | None:
    if media_file is None or str(media_file).strip() == "":
        problems.add("media_file is required (an http(s) URL or a local file)", "media_file")
        return None
    text = os.fspath(media_file) if isinstance(media_file, os.PathLike) else str(media_file)
    if re.match(r"^https?://", text):
        return text
    if not os.path.isfile(text):
        problems.add(
            f"media_file {text!r} is neither an http(s) URL nor an existing file", "media_file"
        )
        return None
    return os.path.abspath(text)


# -------------------------------------------------------------------------------- email


def email_plan(
    df: pd.DataFrame,
    subject: str,
    body: str,
    from_email_address_id: int,
    to: str = "email",
    name: str | None = None,
    from_name: str | None = None,
    schedule: Any = None,
    *,
    key: str | None = None,
    price: float | None = None,
    marketing: bool | None = None,
    allow_duplicates: bool = False,
) -> pd.DataFrame:
    """Plan personalised transactional emails (``/email/send``, one request per email).

    ``subject`` and ``body`` are templates; ``to`` the address column; ``name`` an
    optional template for the recipient's name; ``from_email_address_id`` a verified
    sender address of the account. ``price`` (per email) fills ``est_cost``. For a
    send to a whole contact list use :func:`csframe.writers.send_campaign` with
    ``kind="email"`` instead.

    Example::

        p = email_plan(df, "Your invoice {invoice}", "<p>Hi {first_name}</p>", 12)
    """
    if not isinstance(df, pd.DataFrame):
        raise PlanError(f"email_plan needs a DataFrame, got {type(df).__name__}")
    problems = Problems(df.index, "cannot plan this email send")
    keys = _row_keys(df, key, problems)
    if isinstance(from_email_address_id, bool) or not isinstance(from_email_address_id, int):
        problems.add(
            "from_email_address_id must be the integer id of a verified sender address "
            "(see cs.frame('/email/addresses'))",
            "from_email_address_id",
        )
    addresses = pd.Series(pd.NA, index=df.index, dtype="str")
    if _column(df, to, "recipient", problems):
        raw = df[to]
        missing = tpl.missing_mask(raw)
        problems.add_rows(missing, to, "no recipient address")
        addresses = _as_str(raw).str.strip()
        problems.add_rows(
            ~missing & ~_matches(addresses, EMAIL), to, "recipient is not an email address"
        )
        if not allow_duplicates:
            dup = addresses.str.lower().duplicated(keep="first").to_numpy(bool) & ~missing
            problems.add_rows(dup, to, "the same address again (allow_duplicates=True?)")
    subjects = tpl.render(df, subject, "subject", problems)
    bodies = tpl.render(df, body, "body", problems)
    names = (
        tpl.render(df, name, "name", problems)
        if name
        else pd.Series(pd.NA, index=df.index, dtype="str")
    )
    problems.add_rows(
        subjects.notna().to_numpy(bool) & subjects.fillna("").str.strip().eq("").to_numpy(bool),
        "subject",
        "the subject is empty",
    )
    problems.add_rows(
        bodies.notna().to_numpy(bool) & bodies.fillna("").str.strip().eq("").to_numpy(bool),
        "body",
        "the body is empty",
    )
    ts = _check_schedule(schedule, problems)
    if marketing is not False:
        lacking = ~_matches(bodies, r"(?i)unsubscribe|opt[\s-]?out") & bodies.notna().to_numpy(bool)
        if marketing and lacking.any():
            problems.add_rows(lacking, "body", "marketing email without an unsubscribe link")
        elif lacking.any():
            warnings.warn(
                f"{int(lacking.sum())} email(s) have no unsubscribe text; if they are "
                "marketing add one (marketing=False silences this)",
                OptOutWarning,
                stacklevel=2,
            )
    problems.raise_if_any()
    unit = float(price) if price is not None else np.nan
    plan = pd.DataFrame(
        {
            "row_key": keys,
            "to": addresses,
            "name": names,
            "subject": subjects,
            "body": bodies,
            "schedule": pd.Series(ts, index=df.index, dtype="Int64"),
            "parts": np.ones(len(df), dtype=np.int64),
            "unit_price": pd.Series(unit, index=df.index, dtype="float64"),
            "est_cost": pd.Series(unit, index=df.index, dtype="float64"),
        },
        index=df.index,
    )
    return _finish(
        plan,
        {
            "channel": "email",
            "currency": None,
            "template": body,
            "subject_template": subject,
            "from_email_address_id": from_email_address_id,
            "from_name": from_name,
            "marketing": marketing,
        },
    )
