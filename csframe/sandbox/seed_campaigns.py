"""Seed of the campaigns area: account extras, generic collections and campaigns.

Registered in ``seed.AREA_SEEDERS``; runs after the SMS, messages and contacts areas,
from its own random stream, so it never changes anyone else's data.

- SMS campaigns: one per campaign burst of the seeded SMS history (rows of one list and
  one subaccount less than 30 minutes apart), with the burst's template as the body
  (``(First Name)`` where the messages carry the name), its sender, and ``_total_count``
  = its messages. MMS campaigns likewise from the messages area's MMS bursts (one list,
  one subaccount, one subject); the MMS rows queued for later make scheduled ones.
- Email campaigns: a few newsletters over the lists' contacts with an email (only
  contacts that were on the list at the time), each recipient with an outcome: delivered,
  opened (some several times), clicked, hard/soft bounced, unsubscribed, spam report;
  plus one scheduled for the coming days (recipients not processed yet).
- Recharge transactions: top-ups that fund the seeded spend (SMS, the messages area's
  channels, email campaigns). Walking the days of spend from sign-up, the account
  recharges (a round amount worth about ten days of spend) whenever the balance would
  drop below about a week of spend, and once more recently to reach today's balance:
  the running balance never goes negative and the amounts add up to the spend plus the
  current balance, to the cent.
- Generic collections: the reference's example records of every collection endpoint,
  plus deterministic variations (see ``collections_spec.py``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import numpy as np
import orjson

from csframe.sandbox import collections_spec, models_account, models_campaigns, models_collections
from csframe.sandbox.models import Store, format_uuid
from csframe.sandbox.seed import (
    DAYS,
    DEST_WEIGHTS,
    LOCAL_OFFSET,
    LOGINS,
    MAIN_USER_ID,
    TEMPLATES,
)

# Round top-up amounts (dollars) a business would pick.
NICE_AMOUNTS = (20, 50, 100, 200, 250, 500, 1000, 1500, 2000, 2500, 5000)
BURST_GAP = 1800  # messages of one list and subaccount closer than this are one campaign
# Names of the seed's campaign templates (seed.TEMPLATES["campaign"], same order).
SMS_CAMPAIGN_NAMES = (
    "Spring Sale",
    "VIP early access",
    "Black Friday",
    "Win-back $10",
    "Café René coffee morning",
    "Lunar New Year",
    "Ofertas de temporada",
    "Winter Newsletter",
)
# (list_id, subject, from_email_address_id) of the seeded newsletters, in turn.
EMAIL_CAMPAIGNS = (
    (431, "ACME Newsletter: what's new this month", 3),
    (611, "(First Name), your Spring Sale early access", 2),
    (428, "Thanks for shopping with ACME - 10% off your next order", 2),
    (560, "We miss you, (First Name)! Here's $10 off", 2),
    (517, "See you at the ACME event - your schedule inside", 3),
)
EMAIL_BODY = (
    "<html><body><h1>{title}</h1><p>Hi (First Name),</p><p>Here's what's new at ACME this "
    "season: new stores, same-day delivery and hundreds of new products.</p>"
    '<p><a href="https://acme.example/news">Read more</a></p>'
    '<p style="font-size:small">You are receiving this because you subscribed. '
    '<a href="https://acme.example/unsubscribe">Unsubscribe</a></p></body></html>'
)


def seed_area(store: Store, seed_value: int, n_sms: int, now_ts: int, rng: Any) -> None:
    """Seed everything of this area (deterministic for ``seed_value`` and ``now_ts``)."""
    parts = [np.random.default_rng(int(x)) for x in rng.integers(0, 2**62, 6)]
    models_collections.setup(store)
    models_account.setup(store)
    models_campaigns.setup(store)
    _seed_user_countries(store, MAIN_USER_ID, list(DEST_WEIGHTS), now_ts - 300 * 86400)
    collections_spec.seed(store, seed_value, now_ts, parts[0])
    seed_sms_campaigns(store, now_ts, parts[1])
    seed_mms_campaigns(store, now_ts, parts[2])
    seed_email_campaigns(store, seed_value, n_sms, now_ts, parts[3])
    seed_recharges(store, now_ts, parts[4], email_campaign_spend(store))


def _seed_user_countries(store: Store, user_id: int, codes: list[str], agreed_at: int) -> None:
    """The countries the account agreed to send to (``GET /user-countries``)."""
    rows = [{"key": f"{user_id}:{c}", "code": c, "agreed_at": agreed_at} for c in codes]
    models_collections.add_items(store, "user_countries", user_id, "key", rows)


# ---------------------------------------------------------------------- campaigns


def _ip(i: int) -> str:
    return f"203.0.113.{10 + i % 200}"


def _template_matchers(templates: list[str]) -> list[re.Pattern[str]]:
    return [
        re.compile("^" + re.escape(t).replace(re.escape("{first_name}"), ".*") + "$", re.S)
        for t in templates
    ]


def _which(matchers: list[re.Pattern[str]], body: str) -> int | None:
    return next((i for i, m in enumerate(matchers) if m.match(body)), None)


def seed_sms_campaigns(store: Store, now_ts: int, rng: np.random.Generator) -> None:
    """One campaign per burst of list messages in the seeded SMS history."""
    with store._lock:
        found = store.db.execute(
            "SELECT id, date, subaccount_id, list_id FROM sms WHERE user_id=? AND list_id IS NOT NULL",
            (MAIN_USER_ID,),
        ).fetchall()
    groups = _bursts(found)
    with store._lock:
        firsts = {
            row_id: (body, sender)
            for row_id, body, sender in (
                store.db.execute("SELECT id, body, from_ FROM sms WHERE id=?", (g[5],)).fetchone()
                for g in groups
            )
        }
    templates = list(TEMPLATES["campaign"])
    matchers = _template_matchers(templates)
    names = {}
    rows = []
    for i, (list_id, sid, first, last, count, first_id) in enumerate(groups, 1):
        first_body, sender = firsts[first_id]
        t = _which(matchers, first_body)
        body = first_body if t is None else templates[t].replace("{first_name}", "(First Name)")
        name = SMS_CAMPAIGN_NAMES[t] if t is not None else "Campaign"
        day = _local_day(first)
        added = first - int(rng.integers(120, 900))
        lid = int(list_id)
        if lid not in names:
            names[lid] = models_campaigns.list_name(store, MAIN_USER_ID, lid)
        record = {
            "sms_campaign_id": i,
            "name": f"{name} {day}",
            "user_id": MAIN_USER_ID,
            "subaccount_id": sid,
            "list_id": lid,
            "from": sender,
            "body": body,
            "schedule": first,
            "status": "Sent",
            "date_added": added,
            "ip_address": _ip(i),
            "custom_string": None,
            "url_to_shorten": "",
            "unsubscribe_link": 0,
            "source": None,
            "senders": [],
            "_total_count": count,
            "_list_name": names[lid],
        }
        rows.append(_campaign_row(i, sid, lid, added, first, first, last, record))
    models_campaigns.add_campaigns(store, "sms", rows)


def _bursts(found: list[tuple[int, int, int, str]]) -> list[tuple[str, int, int, int, int, int]]:
    """Group ``(id, date, subaccount_id, list_id)`` rows into bursts: one list and one
    subaccount, consecutive messages less than BURST_GAP apart. Returns
    ``(list_id, subaccount_id, first date, last date, count, first id)`` by first date."""
    if not found:
        return []
    ids, dates, subs, lists = (np.asarray(c) for c in zip(*found, strict=True))
    codes, list_code = np.unique(lists, return_inverse=True)
    order = np.lexsort((ids, dates, subs, list_code))
    ids, dates, subs, list_code = ids[order], dates[order], subs[order], list_code[order]
    new = np.ones(len(ids), bool)
    new[1:] = (
        (list_code[1:] != list_code[:-1])
        | (subs[1:] != subs[:-1])
        | (dates[1:] - dates[:-1] > BURST_GAP)
    )
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], len(ids)) - 1
    out = [
        (str(codes[list_code[a]]), int(subs[a]), int(dates[a]), int(dates[b]), int(b - a + 1), int(ids[a]))
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
    ]  # fmt: skip
    return sorted(out, key=lambda g: (g[2], g[5]))


def _campaign_row(
    cid: int, sid: int, lid: int, added: int, schedule: int, first: int, last: int, record: dict
) -> dict[str, Any]:
    return {
        "campaign_id": cid,
        "user_id": MAIN_USER_ID,
        "subaccount_id": sid,
        "list_id": lid,
        "date_added": added,
        "schedule": schedule,
        "first_date": first,
        "last_date": last,
        "record": record,
    }


def _local_day(ts: int) -> str:
    import time

    return time.strftime("%Y-%m-%d", time.gmtime(ts + LOCAL_OFFSET))


def seed_mms_campaigns(store: Store, now_ts: int, rng: np.random.Generator) -> None:
    """One campaign per MMS burst of the messages area (one list, subaccount and subject)."""
    try:
        from csframe.sandbox.seed_messages import MMS_CAMPAIGN
    except ImportError:  # the messages area is not there: no MMS history, no MMS campaigns
        return
    with store._lock:
        exists = store.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='msg_rows'"
        ).fetchone()
        if not exists:
            return
        found = store.db.execute(
            "SELECT date, subaccount_id, list_id, from_, schedule, json FROM msg_rows "
            "WHERE channel='mms' AND user_id=? AND list_id IS NOT NULL ORDER BY date, id",
            (MAIN_USER_ID,),
        ).fetchall()
    by_subject = {subject: body for subject, body in MMS_CAMPAIGN}
    groups: dict[tuple[str, int, str], list[list[Any]]] = defaultdict(list)
    for date, sid, list_id, sender, schedule, js in found:
        rec = orjson.loads(js)
        key = (list_id, sid, rec["subject"])
        runs = groups[key]
        if runs and date - runs[-1][-1]["date"] <= BURST_GAP:
            runs[-1].append({"date": date, "schedule": schedule, "from": sender, "rec": rec})
        else:
            runs.append([{"date": date, "schedule": schedule, "from": sender, "rec": rec}])
    bursts = sorted(
        (run for runs in groups.values() for run in runs), key=lambda run: run[0]["date"]
    )
    rows = []
    names: dict[int, str] = {}
    for i, run in enumerate(bursts, 1):
        first, last = run[0], run[-1]
        rec = first["rec"]
        lid = int(rec["list_id"])
        if lid not in names:
            names[lid] = models_campaigns.list_name(store, MAIN_USER_ID, lid)
        template = by_subject.get(rec["subject"], rec["body"])
        schedule = max(r["schedule"] or r["date"] for r in run)
        added = first["date"] - int(rng.integers(120, 900))
        media = rec["_media_file_url"]
        record = {
            "mms_campaign_id": i,
            "name": f"{rec['subject']} {_local_day(first['date'])}",
            "user_id": MAIN_USER_ID,
            "subaccount_id": rec["subaccount_id"],
            "list_id": lid,
            "from": first["from"],
            "subject": rec["subject"],
            "file_name": media.rsplit("/", 1)[-1],
            "body": template.replace("{first_name}", "(First Name)"),
            "schedule": schedule,
            "status": "Sent",
            "date_added": added,
            "custom_string": None,
            "country": None,
            "unsubscribe_link": 0,
            "_total_count": len(run),
            "_list_name": names[lid],
            "_media_file_url": media,
        }
        rows.append(
            _campaign_row(
                i, rec["subaccount_id"], lid, added, schedule, first["date"], last["date"], record
            )  # fmt: skip
        )
    models_campaigns.add_campaigns(store, "mms", rows)


def _list_people(store: Store, list_id: int) -> list[dict[str, Any]]:
    """The contacts of a list with what an email campaign needs (and when they joined).

    Read straight from the contacts area's table: ``list_recipients`` would also read
    every phone number, which the newsletters do not need (seconds at scale "large").
    """
    with store._lock:
        rows = store.db.execute(
            "SELECT contact_id, first_name, last_name, email, date_added FROM contacts "
            "WHERE list_id=? ORDER BY contact_id",
            (list_id,),
        ).fetchall()
    keys = ("contact_id", "first_name", "last_name", "email", "date_added")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def seed_email_campaigns(
    store: Store, seed_value: int, n_sms: int, now_ts: int, rng: np.random.Generator
) -> None:
    """Newsletters with per-recipient outcomes (and one scheduled to go in three days)."""
    try:
        from csframe.sandbox import models_contacts  # noqa: F401
    except ImportError:  # no contacts area: no lists to send to
        return
    sid = LOGINS[1][1]  # the marketing login sends the newsletters
    n_past = 4 + min(8, n_sms // 100_000)
    rows_out: list[tuple[Any, ...]] = []
    campaigns: list[dict[str, Any]] = []
    addresses = {
        r["email_address_id"]: r["email_address"]
        for r in models_collections.all_items(store, "email_addresses", MAIN_USER_ID)
    }
    templates = models_collections.all_items(store, "email_templates", MAIN_USER_ID)
    people: dict[int, tuple[np.ndarray, list[tuple[int, str, str, str]]]] = {}
    # Past campaigns spread over the last year (weekday mornings), and one to come.
    days = sorted(rng.choice(np.arange(14, 360), n_past, replace=False).tolist(), reverse=True)
    plans = [(now_ts - d * 86400, False) for d in days] + [(now_ts + 3 * 86400, True)]
    for i, (when, scheduled) in enumerate(plans, 1):
        list_id, subject, address_id = EMAIL_CAMPAIGNS[(i - 1) % len(EMAIL_CAMPAIGNS)]
        local = (when + LOCAL_OFFSET) // 86400 * 86400 - LOCAL_OFFSET
        when = local + 9 * 3600 + int(rng.integers(0, 3 * 3600))  # 9-12am local
        added = now_ts - 3600 if scheduled else when - int(rng.integers(3600, 5 * 86400))
        if list_id not in people:
            people[list_id] = _email_targets(store, list_id)
        joined, targets = people[list_id]
        plan = [targets[k] for k in np.flatnonzero(joined <= added).tolist()]
        template = templates[(i - 1) % len(templates)] if templates else None
        title = subject.replace("(First Name)", "").strip(" ,!")
        body = EMAIL_BODY.format(title=title)
        sender = addresses.get(address_id, "marketing@acme.example")
        rows_out += _email_rows(rng, i, plan, subject, sender, when, scheduled)
        charged = len(plan) * models_campaigns.EMAIL_PRICE_MICROS
        record = {
            "email_campaign_id": i,
            "name": f"{title} {_local_day(when)}",
            "user_id": MAIN_USER_ID,
            "subaccount_id": sid,
            "subject": subject,
            "list_id": list_id,
            "from_email_address_id": address_id,
            "from_name": "ACME",
            "template_id": template["template_id"] if template else 0,
            "schedule": "",
            "status": "Sent",
            "date_added": str(added),
            "custom_string": "",
            "body": body,
            "body_plain_text": models_campaigns.plain_text(body),
            models_campaigns.PRIVATE + "charged": charged,
        }
        campaigns.append(_campaign_row(i, sid, list_id, added, when, when, when, record))
    models_campaigns.add_email_recipients(store, rows_out)
    models_campaigns.add_campaigns(store, "email", campaigns)


def _email_targets(
    store: Store, list_id: int
) -> tuple[np.ndarray, list[tuple[int, str, str, str]]]:
    """The contacts of a list an email can go to, and when each joined the list:
    ``(date_added array, [(contact_id, to_name JSON, to_address JSON, first_name)])``.

    Read straight from the contacts area's table (``list_recipients`` would also read
    every phone number, which newsletters do not need: seconds at scale "large").
    """
    with store._lock:
        rows = store.db.execute(
            "SELECT contact_id, first_name, last_name, email, date_added FROM contacts "
            "WHERE list_id=? ORDER BY contact_id",
            (list_id,),
        ).fetchall()
    joined, targets = [], []
    for contact_id, first, last, email, date_added in rows:
        address = models_campaigns.clean_email(email)
        if address:
            name = " ".join(x for x in (first, last) if x) or address
            js = models_campaigns.json_fragment
            targets.append((contact_id, js(name), js(address), first or ""))
            joined.append(date_added or 0)
    return np.asarray(joined, np.int64), targets


# Outcome codes of a seeded email: (status, bounced hard) by code.
OUTCOMES = ("Delivered", "Opened", "Clicked", "Unsubscribed", "SpamReport", "SoftBounce", "HardBounce")  # fmt: skip


def _email_rows(
    rng: np.random.Generator,
    cid: int,
    plan: list[tuple[int, str, str, str]],
    subject: str,
    sender: str,
    when: int,
    scheduled: bool,
) -> list[tuple[Any, ...]]:
    """``email_campaign_recipients`` rows of a seeded campaign, each recipient with an
    outcome: hard/soft bounce, spam report, unsubscribe, click, open or just delivered.

    The history records are rendered from pre-escaped fragments (byte-identical to the
    record the campaigns endpoints store for a sent campaign's recipient; a test checks)."""
    n = len(plan)
    if n == 0:
        return []
    u, engaged = rng.random(n), rng.random(n)
    code = np.select(
        [u < 0.012, u < 0.03, engaged < 0.0008, engaged < 0.0068, engaged < 0.04, engaged < 0.30],
        [6, 5, 4, 3, 2, 1],
        0,
    )
    opens = np.where(code == 4, 1, rng.geometric(0.55, n)) * np.isin(code, (1, 2, 3, 4))
    clicks = rng.geometric(0.6, n) * (code == 2)
    soft = rng.integers(1, 4, n) * (code == 5)
    hard = (code == 6).astype(np.int64)
    dates = when + rng.integers(1, 600, n)  # processed within minutes of the send
    stamps = np.datetime_as_string(dates.astype("datetime64[s]")).tolist()
    hexes = rng.bytes(16 * n).hex().upper()
    js = models_campaigns.json_fragment
    head = f'{{"email_campaign_id":{cid},"from_name":"ACME","from_address":{js(sender)},'
    personal = "(First Name)" in subject
    subject_js = js(subject)
    out = []
    rows = zip(plan, code.tolist(), opens.tolist(), clicks.tolist(), soft.tolist(), hard.tolist(), stamps, dates.tolist(), strict=True)  # fmt: skip
    for k, ((contact_id, name, address, first), c, o, cl, so, ha, stamp, date) in enumerate(rows):
        h = hexes[32 * k : 32 * k + 32]
        mid = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        subj = js(subject.replace("(First Name)", first)) if personal else subject_js
        if scheduled:
            tail = '"processed_at":null,"status":null,"open_count":0,"click_count":0,"hard_bounce_count":0,"soft_bounce_count":0}'
            status, date = None, None
        else:
            status = OUTCOMES[c]
            tail = f'"processed_at":"{stamp.replace("T", " ")}","status":"{status}","open_count":{o},"click_count":{cl},"hard_bounce_count":{ha},"soft_bounce_count":{so}}}'
        record = f'{head}"to_name":{name},"to_address":{address},"contact_id":{contact_id},"subject":{subj},"message_id":"{mid}",{tail}'
        out.append((cid, k + 1, contact_id, date, status, record.encode()))
    return out


# ---------------------------------------------------------------------- recharges


def _nice(dollars: float, rng: np.random.Generator) -> int:
    below = [a for a in NICE_AMOUNTS if a <= dollars] or [NICE_AMOUNTS[0]]
    i = NICE_AMOUNTS.index(below[-1])
    # Now and then the next amount up, so the amounts are not all alike.
    if rng.random() < 0.3 and i + 1 < len(NICE_AMOUNTS):
        i += 1
    return NICE_AMOUNTS[i]


def daily_spend(store: Store, extra: list[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """``[(unix day, micros)]`` the main account spent: SMS, the messages area's channels
    (when that area is there) and ``extra`` (email campaigns)."""
    with store._lock:
        sms = store.db.execute(
            "SELECT date / 86400, sum(price_micros) FROM sms WHERE user_id=? GROUP BY 1",
            (MAIN_USER_ID,),
        ).fetchall()
    try:
        from csframe.sandbox import models_messages

        other = models_messages.daily_spend(store, MAIN_USER_ID)
    except ImportError:
        other = []
    by_day: dict[int, int] = defaultdict(int)
    for day, micros in [*sms, *other, *extra]:
        by_day[day] += micros
    return sorted(by_day.items())


def email_campaign_spend(store: Store, user_id: int = MAIN_USER_ID) -> list[tuple[int, int]]:
    """``[(unix day, micros)]`` charged for email campaigns (by the day they were sent)."""
    with store._lock:
        return store.db.execute(
            "SELECT date_added / 86400, sum(json_extract(json, '$.__charged')) FROM campaigns "
            "WHERE kind='email' AND user_id=? GROUP BY 1 ORDER BY 1",
            (user_id,),
        ).fetchall()


def seed_recharges(
    store: Store, now_ts: int, rng: np.random.Generator, extra: list[tuple[int, int]] = ()
) -> None:
    """Top-ups of the main account consistent with its spend and current balance."""
    spend = daily_spend(store, extra)
    target = store.balance(MAIN_USER_ID)
    total_spend = sum(s for _, s in spend)
    per_day = total_spend / DAYS / 1e6
    amount_cap = max(20.0, target / 1e6 / 3)
    low = min(7 * per_day, target / 1e6 / 10) * 1e6
    signup = now_ts - (DAYS + 220) * 86400
    rows: list[tuple[int, int]] = []  # (date, cents)

    def top_up(date: int) -> int:
        cents = _nice(min(10 * per_day, amount_cap), rng) * 100
        rows.append((date, cents))
        return cents * 10_000

    balance = top_up(signup + int(rng.integers(3600, 6 * 3600)))
    for day, micros in spend:
        while balance - micros < low:
            # In the last hour of the day before: every message of the day comes after it.
            balance += top_up(day * 86400 - int(rng.integers(60, 3600)))
        balance -= micros
    rest = target - balance  # > 0: the amounts above are capped well below the balance
    if rest > 0:
        cents = -(-rest // 10_000)
        rows.append((now_ts - int(rng.integers(2 * 86400, 20 * 86400)), int(cents)))
    rows.sort()
    ids = rng.bytes(16 * len(rows))
    models_account.add_transactions(
        store,
        [
            (
                MAIN_USER_ID,
                format_uuid(int.from_bytes(ids[16 * i : 16 * i + 16], "big")).lower(),
                cents,
                "AUD",
                date,
            )
            for i, (date, cents) in enumerate(rows)
        ],
    )
