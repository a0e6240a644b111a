"""Deterministic synthetic account data: accounts, subaccounts and 13 months of SMS.

The same ``seed`` and ``now`` always give byte-identical data (ids, dates, bodies, keys).
Generation is vectorised with numpy; only the final JSON rendering is a Python loop, fed
straight into SQLite, so a million rows seed in seconds.

What the data looks like (so tests and reports have something realistic to chew on):

- one account ``csframe_demo`` (AUD, Australia/Melbourne) with four logins: the main one
  and the subaccounts ``csframe_marketing`` (campaign bursts), ``csframe_support`` and
  ``csframe_alerts`` (transactional traffic) -- different volumes and senders;
- weekday/daytime rhythm in Melbourne time and a growth trend over the 13 months;
- campaign bursts: one body and ``list_id`` sent to hundreds of contacts within minutes,
  with ``contact_id``/``first_name``/``last_name`` filled in;
- destinations in 9 countries with different per-part prices, a recipient pool so
  people receive several messages, carriers stable per number;
- GSM, GSM-with-extension-chars, accented, emoji and CJK bodies, 1 to 3 parts;
- ~94% ``Completed``/201 (delivered), ~4.5% ``Failed`` with carrier error codes, a few
  ``Cancelled`` (refunded: price 0), ``Scheduled`` (queued before ``now`` for later) and
  ``Sent`` (the last minutes, no receipt yet);
- ``custom_string`` on order, ticket and alert messages.

Example::

    store = Store()
    accounts = seed(store, seed=42, scale="small", now="2026-11-01T00:00:00Z")
    accounts["main"]   # {"username": "csframe_demo", "api_key": "…"}
"""

from __future__ import annotations

import gc
import hashlib
import importlib
import time
import zlib
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson

from csframe.sandbox.encoding import sms_parts
from csframe.sandbox.models import Store, format_uuid
from csframe.sandbox.pricing import COUNTRIES, CURRENCY, fmt_money

SCALES: dict[str, int] = {"tiny": 300, "small": 5_000, "medium": 100_000, "large": 1_000_000}

TEST_API_KEY = "D83DED51-9E35-4D42-9BB9-0E34B7CA85AE"  # the reference's Testing section

# Seeders of the other areas, run after the SMS in this fixed order (messages, contacts,
# campaigns) as ``fn(store, seed_value, n_sms, now_ts, rng)``; "module:function" strings,
# imported lazily (the area modules import this one). Add yours in its place.
AREA_SEEDERS: tuple[str, ...] = (
    "csframe.sandbox.seed_messages:seed_area",
    "csframe.sandbox.seed_contacts:seed_area",
    "csframe.sandbox.seed_campaigns:seed_area",
    "csframe.sandbox.seed_resellers:seed_area",
)

MAIN_USER_ID = 48213
# (name, subaccount_id, api_username, is_main, sender, first_name, last_name)
LOGINS = (
    ("main", 60311, "csframe_demo", True, "ACME", "Alex", "Morgan"),
    ("marketing", 60312, "csframe_marketing", False, "ACMEDeals", "Priya", "Shah"),
    ("support", 60313, "csframe_support", False, "+61480000123", "Sam", "Nguyen"),
    ("alerts", 60314, "csframe_alerts", False, "ACMEAlerts", "Jordan", "Lee"),
)
# name -> (user_id, subaccount_id, active, banned, balance_micros)
TEST_ACCOUNTS = {
    "nocredit": (90001, 90011, True, False, 0),
    "notactive": (90002, 90012, False, False, 25_000_000),
    "banned": (90003, 90013, True, True, 25_000_000),
}
MAIN_BALANCE_MICROS = 4_973_615_200  # "4973.615200"
LOCAL_OFFSET = 10 * 3600  # Melbourne standard time; DST is ignored for the rhythm
DAYS = 395  # 13 months

# Destination mix of the seeded traffic.
DEST_WEIGHTS = {
    "AU": 0.70,
    "NZ": 0.09,
    "US": 0.06,
    "GB": 0.05,
    "SG": 0.03,
    "CA": 0.03,
    "IN": 0.02,
    "DE": 0.01,
    "FR": 0.01,
}
# National number shapes: (fixed prefixes to choose from, random digits after the prefix).
NUMBER_SHAPES = {
    "AU": (("4",), 8),
    "NZ": (("21", "22", "27"), 7),
    "US": (("212", "310", "415", "512", "617", "702", "305", "206", "312"), 7),
    "CA": (("416", "604", "514", "403", "613"), 7),
    "GB": (("7",), 9),
    "SG": (("8", "9"), 7),
    "IN": (("9", "8"), 9),
    "DE": (("151", "160", "170"), 8),
    "FR": (("6", "7"), 8),
}

FIRST_NAMES = [
    "Olivia",
    "Jack",
    "Charlotte",
    "Noah",
    "Amelia",
    "William",
    "Isla",
    "Oliver",
    "Mia",
    "Leo",
    "Ava",
    "Henry",
    "Grace",
    "Lucas",
    "Chloé",
    "José",
    "Zoë",
    "Renée",
    "Søren",
    "Aroha",
    "Wiremu",
    "Priya",
    "Arjun",
    "Mei",
    "Hiroshi",
    "王芳",
    "李娜",
    "Siobhán",
    "Connor",
    "Emily",
    "James",
    "Sophie",
    "Thomas",
    "Ella",
    "Lachlan",
    "Ruby",
    "Ethan",
    "Matilda",
    "Mason",
    "Harper",
]
LAST_NAMES = [
    "Smith",
    "Jones",
    "Williams",
    "Brown",
    "Wilson",
    "Taylor",
    "Nguyen",
    "Johnson",
    "Martin",
    "White",
    "Anderson",
    "Walker",
    "Tran",
    "Thompson",
    "Kelly",
    "O'Brien",
    "Müller",
    "García",
    "Ngata",
    "Patel",
    "Chen",
    "Wang",
    "Tanaka",
    "Kowalski",
    "Dubois",
    "Murphy",
    "Robinson",
    "Clarke",
    "Singh",
    "Rossi",
]

# Bodies by traffic kind; {first_name} and {code} are filled per row.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "main": (
        "Hi {first_name}, your ACME order has shipped and will arrive in 2-3 business days. Questions? Reply to this message.",
        "Reminder: your appointment with ACME is tomorrow at 10:30am. Reply Y to confirm or N to reschedule.",
        "Hi {first_name}, thanks for your payment of $49.95. Your receipt has been emailed to you.",
        "ACME: your order is ready for pickup at our Collins St store. Bring photo ID. Opening hours 9am-5pm Mon-Fri, 10am-4pm Sat. See you soon!",
        "Hi {first_name}, we've updated our terms of service effective next month. Read the summary at acme.example/terms - no action is needed on your part. Thanks for being an ACME customer for another year!",
        "Bonjour {first_name}, votre commande est prête. Merci et à bientôt chez ACME !",
    ),
    "support": (
        "Hi {first_name}, your support ticket has been updated. Reply to this SMS or call 1300 000 000.",
        "Your ticket has been resolved. How did we do? Reply 1-5 (5 = excellent).",
        "Hi {first_name}, a technician will visit between 8am and 12pm tomorrow. Reply STOP to opt out of updates.",
        "您好，您的服务请求已收到，我们会尽快与您联系。",
        "Hi {first_name}, we're sorry for the wait 🙏 Your case is with our senior team and we'll call you within 24 hours.",
    ),
    "alerts": (
        "Your ACME verification code is {code}. It expires in 10 minutes.",
        "{code} is your ACME login code. Never share it with anyone.",
        "ACME alert: unusual sign-in to your account from a new device. If this wasn't you, reply HELP.",
        "ACME: your monthly statement is ready. Balance due: €120.50 [auto-pay on]",
        "⚠️ ACME service notice: scheduled maintenance tonight 11pm-1am AEST. Some services may be unavailable.",
    ),
    "campaign": (
        "Hi {first_name}! Our Spring Sale starts today: 30% off everything in store and online until Sunday night. Shop now at acme.example/sale Reply STOP to opt out",
        "🎉 {first_name}, you've unlocked VIP early access! Grab 2-for-1 deals before anyone else at acme.example/vip 🛍️ Reply STOP to opt out",
        "ACME Black Friday: up to 50% off storewide + free shipping on orders over $50. This weekend only, while stocks last. Don't miss out! acme.example/bf Reply STOP to opt out",
        "Hi {first_name}, it's been a while! Here's $10 off your next order with code COMEBACK10. Valid 14 days. Reply STOP to opt out",
        "Café René x ACME: join us Thursday for free coffee & pastries at any store 9-11am. Reply STOP to opt out",
        "新年快乐！ACME 农历新年特惠：全场八折，仅限本周。回复STOP退订",
        "Hola {first_name}, ¡nuevas ofertas te esperan! Visita acme.example/es para ver los descuentos de temporada. Responde STOP para darte de baja",
        "ACME Winter Newsletter: {first_name}, this season we opened three new stores, launched same-day delivery in Melbourne and Sydney, and added 400 new products to our range. "
        "Members save an extra 10% this month with code WINTER10 at checkout. Thanks for being part of the ACME community - see all the news at acme.example/news. Reply STOP to opt out",
    ),
}
LIST_IDS = ("428", "431", "502", "517", "560", "611")

# (status, status_code, status_text, error_code, error_text)
# status_text as the reference words it ("Success: Message received on handset.")
COMPLETED = ("Completed", "201", "Success: Message received on handset.", None, None)
SENT = ("Sent", None, "Sent to carrier", None, None)
SCHEDULED = ("Scheduled", None, "Scheduled", None, None)
CANCELLED = ("Cancelled", None, "Cancelled by user", None, None)
FAILURES = (
    ("Failed", "301", "Undeliverable", "301", "Unknown subscriber: the number is not allocated"),
    ("Failed", "302", "Expired", "302", "Message expired: handset switched off or out of coverage"),
    (
        "Failed",
        "303",
        "Rejected by carrier",
        "303",
        "Carrier rejected the message (content filter)",
    ),
    ("Failed", "304", "Blocked", "304", "Recipient has opted out of messages from this sender"),
    (
        "Failed",
        "305",
        "Invalid destination",
        "305",
        "Number is not a mobile or has been disconnected",
    ),
)
STATUSES = (COMPLETED, SENT, SCHEDULED, CANCELLED, *FAILURES)
ST_COMPLETED, ST_SENT, ST_SCHEDULED, ST_CANCELLED, ST_FAILED0 = 0, 1, 2, 3, 4


def parse_now(now: object = None) -> int:
    """Unix seconds from a datetime (naive = UTC), ISO string, number, or None (= now).

    Example::

        >>> parse_now("2026-11-01T00:00:00Z")
        1793491200
    """
    if now is None:
        return int(datetime.now(UTC).timestamp())
    if isinstance(now, (int, float)) and not isinstance(now, bool):
        return int(now)
    if isinstance(now, str):
        now = datetime.fromisoformat(now.replace("Z", "+00:00"))
    if isinstance(now, datetime):
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        return int(now.timestamp())
    raise TypeError(f"now must be a datetime, ISO string or unix seconds, not {type(now).__name__}")


def scale_rows(scale: str | int) -> int:
    """Number of SMS rows for a scale name or an exact count.

    Example::

        >>> scale_rows("small"), scale_rows(1234)
        (5000, 1234)
    """
    if isinstance(scale, int) and not isinstance(scale, bool):
        if scale < 0:
            raise ValueError("scale must be >= 0")
        return scale
    if isinstance(scale, str) and scale.isdigit():
        return int(scale)
    try:
        return SCALES[str(scale)]
    except KeyError:
        raise ValueError(
            f"scale must be one of {sorted(SCALES)} or an int, not {scale!r}"
        ) from None


def api_key_for(seed: int, username: str) -> str:
    """The deterministic (fake) API key of a seeded login.

    Example::

        >>> len(api_key_for(42, "csframe_demo"))
        36
    """
    digest = hashlib.sha256(f"csframe-sandbox:{seed}:{username}".encode()).hexdigest()
    return format_uuid(int(digest[:32], 16))


def seed(
    store: Store, seed: int = 42, scale: str | int = "small", now: object = None
) -> dict[str, dict[str, str]]:
    """Fill an empty store; returns ``{name: {"username", "api_key"}}`` of every login.

    Example::

        accounts = seed(Store(), seed=7, scale=300, now="2026-06-30")
    """
    started = time.perf_counter()
    now_ts = parse_now(now)
    n_rows = scale_rows(scale)
    store.clock.set(now_ts)
    accounts = _seed_accounts(store, seed, now_ts)
    # A million short-lived tuples would trigger many useless GC passes.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        _seed_sms(store, seed, n_rows, now_ts)
        _seed_areas(store, seed, n_rows, now_ts)
    finally:
        if gc_was_enabled:
            gc.enable()
    store.set_meta(
        "seed",
        {
            "seed": seed,
            "scale": scale,
            "rows": n_rows,
            "now": now_ts,
            "seconds": round(time.perf_counter() - started, 3),
        },
    )
    store.set_meta("accounts", {name: acc["username"] for name, acc in accounts.items()})
    store.snapshot(seed)
    return accounts


def _seed_areas(store: Store, seed_value: int, n_rows: int, now_ts: int) -> None:
    for ref in AREA_SEEDERS:
        module, _, name = ref.partition(":")
        fn = getattr(importlib.import_module(module), name)
        # Each area draws from its own stream: adding one never changes another's data.
        rng = np.random.default_rng([seed_value, zlib.crc32(ref.encode())])
        fn(store, seed_value, n_rows, now_ts, rng)


# Settings every new account starts with (seeded accounts and POST /account alike).
ACCOUNT_SETTINGS: dict = {
    "auto_recharge": 0,
    "auto_recharge_amount": "20.00",
    "low_credit_amount": "0.00",
    "setting_unicode_sms": 0,
    "setting_email_sms_subject": 0,
    "setting_fix_sender_id": 0,
    "setting_sms_message_char_limit": 6,
    "old_dashboard": 0,
    "balance_commission": "0.000000",
    "timezone": "Australia/Melbourne",
}


def _user_info(
    user_id: int,
    username: str,
    *,
    first: str,
    last: str,
    active: bool,
    banned: bool,
    signup: int,
    account_name: str,
) -> dict[str, Any]:
    email = f"{username}@acme.example"
    phone = f"+6141{user_id % 10_000_000:07d}"
    return {
        "user_id": user_id,
        "username": username,
        "user_email": email,
        "active": int(active),
        "banned": int(banned),
        "date_sign_up": signup,
        "balance": None,  # filled live
        "user_phone": phone,
        "reply_to": "originalemail",
        "delivery_to": None,
        "user_first_name": first,
        "user_last_name": last,
        "account": 1,
        "account_name": account_name,
        "account_billing_email": f"billing@{username.replace('_', '-')}.example",
        "account_billing_mobile": phone,
        "priority": 0,
        "country": "AU",
        "country_ip": "AU",
        "default_country_sms": "AU",
        **ACCOUNT_SETTINGS,
        "price_rate": 0,
        "private_uploads": 0,
        "fax_quality": 0,
        "setting_sms_hide_your_number": 0,
        "setting_sms_hide_business_name": 0,
        "pricing_variant": 0,
        "on_trial": 0,
        "trial_expiry": None,
        "_currency": CURRENCY,
        "_referrer_chosen": {"id": 8, "name": "Other"},
    }


def _subaccount_info(
    subaccount_id: int, username: str, api_key: str, *, first: str, last: str, is_main: bool
) -> dict[str, Any]:
    full = int(is_main)
    return {
        "subaccount_id": subaccount_id,
        "api_username": username,
        "email": f"{username}@acme.example",
        "phone_number": f"+6142{subaccount_id % 10_000_000:07d}",
        "first_name": first,
        "last_name": last,
        "api_key": api_key,
        "access_smpp": 0,
        "access_users": full,
        "access_billing": full,
        "access_reporting": 1,
        "access_contacts": 1,
        "access_settings": full,
        "access_sms": 1,
        "access_email": 1,
        "access_voice": 1,
        "access_fax": 1,
        "access_post": 1,
        "access_reseller": 0,
        "access_global_sending": 1,
        "access_mms": 1,
        "hide_pricing": 0,
        "share_campaigns": 1,
        "notes": None,
        "is_main": full,
        "sign_up_type": None,
    }


def _seed_accounts(store: Store, seed_value: int, now_ts: int) -> dict[str, dict[str, str]]:
    signup = now_ts - (DAYS + 220) * 86400
    accounts: dict[str, dict[str, str]] = {}
    store.add_user(
        MAIN_USER_ID,
        "csframe_demo",
        active=True,
        banned=False,
        balance_micros=MAIN_BALANCE_MICROS,
        info=_user_info(
            MAIN_USER_ID,
            "csframe_demo",
            first="Alex",
            last="Morgan",
            active=True,
            banned=False,
            signup=signup,
            account_name="ACME Pty Ltd",
        ),
    )
    for name, sid, username, is_main, sender, first, last in LOGINS:
        key = api_key_for(seed_value, username)
        store.add_subaccount(
            sid,
            MAIN_USER_ID,
            username,
            key,
            is_main=is_main,
            sender=sender,
            info=_subaccount_info(sid, username, key, first=first, last=last, is_main=is_main),
        )
        accounts[name] = {"username": username, "api_key": key}
    for name, (user_id, sid, active, banned, balance) in TEST_ACCOUNTS.items():
        info = _user_info(
            user_id,
            name,
            first="Test",
            last=name.title(),
            active=active,
            banned=banned,
            signup=signup,
            account_name=f"Test account ({name})",
        )
        store.add_user(
            user_id, name, active=active, banned=banned, balance_micros=balance, info=info
        )
        store.add_subaccount(
            sid,
            user_id,
            name,
            TEST_API_KEY,
            is_main=True,
            sender="",
            info=_subaccount_info(
                sid, name, TEST_API_KEY, first="Test", last=name.title(), is_main=True
            ),
        )
        accounts[name] = {"username": name, "api_key": TEST_API_KEY}
    return accounts


def _recipient_pool(
    rng: np.random.Generator, size: int
) -> tuple[list[str], list[str], list[str], list[int], list[int]]:
    """(numbers, countries, carriers, first-name idx, last-name idx) of ``size`` contacts."""
    isos = list(DEST_WEIGHTS)
    p = np.array(list(DEST_WEIGHTS.values()))
    country_idx = rng.choice(len(isos), size=size, p=p / p.sum())
    numbers: list[str] = [""] * size
    for ci, iso in enumerate(isos):
        where = np.flatnonzero(country_idx == ci)
        if not where.size:
            continue
        prefixes, ndigits = NUMBER_SHAPES[iso]
        pre = rng.integers(0, len(prefixes), where.size)
        tail = rng.integers(0, 10**ndigits, where.size)
        cc = COUNTRIES[iso].calling_code
        for w, pi, t in zip(where.tolist(), pre.tolist(), tail.tolist(), strict=True):
            numbers[w] = f"+{cc}{prefixes[pi]}{t:0{ndigits}d}"
    countries = [isos[i] for i in country_idx.tolist()]
    carriers = []
    for num, iso in zip(numbers, countries, strict=True):
        cs = COUNTRIES[iso].carriers
        carriers.append(cs[int(num[-4:]) % len(cs)])
    first = rng.integers(0, len(FIRST_NAMES), size).tolist()
    last = rng.integers(0, len(LAST_NAMES), size).tolist()
    return numbers, countries, carriers, first, last


def _day_starts(now_ts: int) -> np.ndarray:
    """UTC timestamps of local midnights of the DAYS+1 days ending today (local)."""
    local_today = (now_ts + LOCAL_OFFSET) // 86400 * 86400 - LOCAL_OFFSET
    return local_today - 86400 * np.arange(DAYS, -1, -1, dtype=np.int64)


# kind -> (template group, subaccount_id, api_username, sender, custom_string prefix, share)
KINDS = (
    ("main", 60311, "csframe_demo", "ACME", "order-", 0.6),
    ("support", 60313, "csframe_support", "+61480000123", "ticket-", 0.8),
    ("alerts", 60314, "csframe_alerts", "ACMEAlerts", "alert-", 0.3),
    ("campaign", 60312, "csframe_marketing", "ACMEDeals", None, 0.0),
    ("campaign", 60311, "csframe_demo", "ACME", None, 0.0),
)


def _seed_sms(store: Store, seed_value: int, n: int, now_ts: int) -> None:
    if n == 0:
        return
    rng = np.random.default_rng(seed_value)
    start_ts = now_ts - DAYS * 86400
    days = _day_starts(now_ts)
    weekday = ((days + LOCAL_OFFSET) // 86400 + 3) % 7  # 0 = Monday (1970-01-01 was a Thursday)
    day_w = np.where(weekday < 5, 1.0, np.where(weekday == 5, 0.35, 0.2)) * np.linspace(
        0.6, 1.4, days.size
    )
    hour_w = np.array([0.05] * 7 + [0.4, 1.0] + [1.5] * 9 + [0.8] * 3 + [0.2] * 3)

    pool_size = int(np.clip(n // 5, 50, 200_000))
    numbers, countries, carriers, pool_first, pool_last = _recipient_pool(rng, pool_size)

    n_sched = max(1, n // 500) if n >= 20 else 0
    n_camp = int(n * 0.35) if n >= 50 else 0
    n_tx = n - n_camp - n_sched

    # Per-row columns, filled segment by segment: transactional, campaigns, scheduled.
    date = np.empty(n, np.int64)
    kind = np.empty(n, np.int8)  # index into KINDS
    tmpl = np.empty(n, np.int16)
    recip = np.empty(n, np.int64)
    list_idx = np.full(n, -1, np.int16)
    schedule = np.zeros(n, np.int64)

    # Transactional: main/support/alerts by volume, day by weekday+trend, hour by profile.
    tx = slice(0, n_tx)
    day = rng.choice(days.size, n_tx, p=day_w / day_w.sum())
    hour = rng.choice(24, n_tx, p=hour_w / hour_w.sum())
    date[tx] = days[day] + hour * 3600 + rng.integers(0, 3600, n_tx)
    kind[tx] = rng.choice(3, n_tx, p=[0.45, 0.30, 0.25])  # KINDS[0..2]
    # Some people get far more messages than others: skew pool indices.
    recip[tx] = (rng.random(n_tx) ** 2 * pool_size).astype(np.int64)

    # Campaign bursts: one body + list to many recipients within minutes.
    if n_camp:
        k = int(np.clip(n_camp // 600, 2, 150))
        sizes = rng.multinomial(n_camp - k, rng.dirichlet(np.ones(k) * 2)) + 1
        weekdays = np.flatnonzero(weekday[:-2] < 5)  # not today/yesterday: bursts end < now
        pos = n_tx
        for size in sizes.tolist():
            d = days[rng.choice(weekdays)]
            t0 = d + int(rng.integers(9, 15)) * 3600 + int(rng.integers(0, 3600))
            duration = int(np.clip(size * 0.25, 60, 1200))
            seg = slice(pos, pos + size)
            date[seg] = t0 + np.sort(rng.integers(0, duration, size))
            kind[seg] = 3 if rng.random() < 0.8 else 4  # marketing, or main running a campaign
            tmpl[seg] = rng.integers(0, len(TEMPLATES["campaign"]))
            list_idx[seg] = rng.integers(0, len(LIST_IDS))
            recip[seg] = rng.choice(pool_size, size, replace=size > pool_size)
            pos += size

    # Scheduled: queued during the last week for delivery up to two weeks ahead.
    if n_sched:
        sc = slice(n - n_sched, n)
        date[sc] = now_ts - rng.integers(60, 7 * 86400, n_sched)
        schedule[sc] = now_ts + rng.integers(3600, 14 * 86400, n_sched)
        kind[sc] = 3
        tmpl[sc] = rng.integers(0, len(TEMPLATES["campaign"]), n_sched)
        recip[sc] = rng.integers(0, pool_size, n_sched)

    # Keep everything inside [start, now]; late-night draws on the last day wrap back.
    late = date > now_ts
    date[late] = start_ts + rng.integers(0, now_ts - start_ts, int(late.sum()))
    date = np.clip(date, start_ts, now_ts)

    # Transactional templates per kind (campaign ones were set above).
    for kd, name in enumerate(("main", "support", "alerts")):
        where = np.flatnonzero(kind[:n_tx] == kd)
        tmpl[where] = rng.integers(0, len(TEMPLATES[name]), where.size)

    # Statuses: mostly delivered, some failed/cancelled; the last minutes still in flight.
    u = rng.random(n)
    status = np.full(n, ST_COMPLETED, np.int8)
    failed = u < 0.045
    status[failed] = ST_FAILED0 + rng.choice(
        len(FAILURES), int(failed.sum()), p=[0.35, 0.3, 0.15, 0.12, 0.08]
    )
    cancelled = (u >= 0.045) & (u < 0.048)
    status[cancelled] = ST_CANCELLED
    schedule[cancelled] = np.minimum(
        date[cancelled] + rng.integers(3600, 3 * 86400, int(cancelled.sum())), now_ts
    )
    in_flight = (date > now_ts - 900) & (u < 0.7)
    status[in_flight] = ST_SENT
    schedule[in_flight] = 0
    if n_sched:
        status[n - n_sched :] = ST_SCHEDULED
    code = rng.integers(100_000, 1_000_000, n)  # verification codes and order/ticket numbers
    custom_u = rng.random(n)
    ids_hex = rng.bytes(16 * n).hex().upper()

    # Default order: by date; generation order breaks ties, so it is deterministic.
    order = np.argsort(date, kind="stable")
    cols = [a[order] for a in (date, kind, tmpl, recip, list_idx, schedule, status, code, custom_u)]
    date, kind, tmpl, recip, list_idx, schedule, status, code, custom_u = cols

    kinds = KINDS
    subs = np.array([kinds[k][1] for k in range(len(kinds))])[kind]
    sub_ord = np.empty(n, np.int64)
    for sid in np.unique(subs).tolist():
        where = np.flatnonzero(subs == sid)
        sub_ord[where] = np.arange(1, where.size + 1)

    store.bulk_load_sms(
        _render_rows(
            date,
            kind,
            tmpl,
            recip,
            list_idx,
            schedule,
            status,
            code,
            custom_u,
            sub_ord,
            ids_hex,
            (numbers, countries, carriers, pool_first, pool_last),
        )
    )


def _js(value: str | None) -> str:
    """A JSON fragment for a string or null, escaped exactly as orjson does."""
    return "null" if value is None else orjson.dumps(value).decode()


def _render_rows(
    date, kind, tmpl, recip, list_idx, schedule, status, code, custom_u, sub_ord, ids_hex, pool
):  # noqa: ANN001, ANN202
    """Yield SQLite tuples for each row: the one per-row Python loop of the seed.

    Everything that repeats is rendered once: numpy finds the distinct (body, status,
    sender, country) combinations, each becomes a pre-escaped JSON fragment, and the loop
    only splices in what is unique per row (date, number, id, custom_string). The result
    is byte-identical to ``orjson.dumps(models.sms_record(...))`` (a test checks), at a
    fraction of the cost of building and dumping a 25-key dict per row.
    """
    numbers, countries, carriers, pool_first, pool_last = pool
    # Flat template table and, per kind, the index of its group's first template.
    groups = list(TEMPLATES)
    flat = [(g, t) for g in groups for t in range(len(TEMPLATES[g]))]
    offset = {g: next(i for i, (gg, _) in enumerate(flat) if gg == g) for g in groups}
    kind_offset = np.array([offset[k[0]] for k in KINDS])
    tid = kind_offset[kind] + tmpl
    has_first = np.array(["{first_name}" in TEMPLATES[g][t] for g, t in flat])[tid]
    has_code = np.array(["{code}" in TEMPLATES[g][t] for g, t in flat])[tid]
    first_arr = np.asarray(pool_first)
    fi = np.where(has_first, first_arr[recip], -1)
    ci = np.where(has_code, code, -1)
    body_keys, body_idx = np.unique((tid * 64 + fi + 1) * 1_000_001 + ci + 1, return_inverse=True)
    bodies = []
    for key in body_keys.tolist():
        rest, c = divmod(key, 1_000_001)
        t, f = divmod(rest, 64)
        g, tt = flat[t]
        body = (
            TEMPLATES[g][tt]
            .replace("{first_name}", FIRST_NAMES[f - 1] if f else "")
            .replace("{code}", str(c - 1))
        )
        bodies.append((body, _js(body), sms_parts(body)[2]))

    isos = sorted(set(countries))
    country_idx = np.array([isos.index(c) for c in countries])[recip]
    static_keys, static_idx = np.unique(
        ((body_idx * 16 + status) * 8 + kind) * 32 + country_idx, return_inverse=True
    )
    statics = []  # (fragment before message_id, fragment after it, body, parts, price, status, country)
    for key in static_keys.tolist():
        rest, ci_ = divmod(key, 32)
        rest, k = divmod(rest, 8)
        bi, si = divmod(rest, 16)
        body, body_js, parts = bodies[bi]
        st = STATUSES[si]
        country = isos[ci_]
        price = 0 if si == ST_CANCELLED else parts * COUNTRIES[country].price_micros
        before = f'"body":{body_js},"status":{_js(st[0])},"from":{_js(KINDS[k][3])},"schedule":"'
        after = (
            f'"status_code":{_js(st[1])},"status_text":{_js(st[2])},"error_code":{_js(st[3])},"error_text":{_js(st[4])}',
            f'"message_parts":{parts},"message_price":"{fmt_money(price)}","from_email":null',
        )
        statics.append((before, after, body, parts, price, st[0], country))

    # Per-recipient and per-kind fragments of the record's tail.
    carriers_js = {c: _js(c) for c in set(carriers)}
    cc_js = [
        f',"country":"{c}","carrier":{carriers_js[k]}'
        for c, k in zip(countries, carriers, strict=True)
    ]
    first_js = [_js(x) for x in FIRST_NAMES]
    last_js = [_js(x) for x in LAST_NAMES]
    kind_js = [
        (f',"user_id":{MAIN_USER_ID},"subaccount_id":{k[1]}', f',"_api_username":{_js(k[2])}}}')
        for k in KINDS
    ]
    sched = np.where(schedule > 0, schedule, date)
    wants_custom = custom_u < np.array([k[5] for k in KINDS])[kind]

    # Python lists of a chunk at a time: a million-row tolist() per column would hold
    # ~250 MB of boxed ints for the whole load.
    chunk = 65_536
    columns = (date, kind, recip, list_idx, sched, static_idx, code, wants_custom, sub_ord)
    rows = (
        row
        for a in range(0, date.size, chunk)
        for row in zip(*(col[a : a + chunk].tolist() for col in columns), strict=True)
    )
    for i, (d, k, r, li, sc, sti, cd, want_cs, so) in enumerate(rows):
        before, (status_block, parts_block), body, parts, price, st, country = statics[sti]
        _, sid, username, sender, cs_prefix, _ = KINDS[k]
        user_a, user_b = kind_js[k]
        h = ids_hex[32 * i : 32 * i + 32]
        mid = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        to = numbers[r]
        if li >= 0:  # a list (campaign) send: the contact is known
            list_id, custom = LIST_IDS[li], None
            tail = f',"list_id":"{list_id}","custom_string":null,"contact_id":"{3_000_000 + li * 1_000_000 + r}"{user_a}{cc_js[r]},"first_name":{first_js[pool_first[r]]},"last_name":{last_js[pool_last[r]]}{user_b}'
        else:
            list_id = None
            custom = f"{cs_prefix}{cd}" if cs_prefix and want_cs else None
            cs_js = "null" if custom is None else f'"{custom}"'
            tail = f',"list_id":null,"custom_string":{cs_js},"contact_id":null{user_a}{cc_js[r]},"first_name":null,"last_name":null{user_b}'
        js = f'{{"direction":"out","date":{d},"to":"{to}",{before}{sc}",{status_block},"message_id":"{mid}",{parts_block}{tail}'
        yield (
            i + 1,
            MAIN_USER_ID,
            sid,
            i + 1,
            so,
            d,
            to,
            sender,
            st,
            body,
            mid,
            parts,
            price,
            username,
            custom,
            list_id,
            country,
            js.encode(),
        )
