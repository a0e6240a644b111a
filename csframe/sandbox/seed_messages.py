"""Seed of the messages area: 13 months of MMS, voice, email, fax, letters and postcards,
voice and fax receipts, and inbound SMS replies (including STOP opt-outs).

Registered in ``seed.AREA_SEEDERS`` (runs right after the SMS, from its own random
stream). Volumes follow the SMS row count ``n``:

| channel | rows | who sends it |
|---|---|---|
| MMS | 2% (min 12) | marketing (campaign bursts to list contacts), main (order photos) |
| voice | 1.5% (min 10) | alerts (codes read out), support (reminders, keypress), main |
| email | 4% (min 20) | main (orders, invoices), support (tickets), alerts (security) |
| fax | 0.4% (min 6) | main (invoices to businesses), support |
| letters | 0.15% (min 5) | main (statements, reminders), support |
| postcards | 0.15% (min 5) | marketing, main |
| inbound SMS | 2% (min 15) | replies to delivered SMS; ~35% are opt-outs |

Dates follow the SMS rhythm (weekdays, business hours in Melbourne, growth over the 13
months); statuses and prices are realistic per channel (see each ``_<channel>`` function).
Recipients of MMS and voice, and the senders of inbound replies, are drawn from a random
sample of the seeded SMS rows -- replies and STOPs preferring campaign recipients (SMS
rows with a ``list_id``), so opt-outs overlap with the numbers contact lists are built from.

Receipts of voice and fax are stored at seed time (one per Completed/Failed message);
SMS receipts are derived from the ``sms`` table on first use (see ``models_messages``).
Everything seeded is unread.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import numpy as np
import orjson

from csframe.sandbox import models_messages as mm
from csframe.sandbox.encoding import sms_parts
from csframe.sandbox.models import Store
from csframe.sandbox.pricing import COUNTRIES, carrier_for
from csframe.sandbox.seed import DAYS, FIRST_NAMES, LAST_NAMES, LOCAL_OFFSET, LOGINS, MAIN_USER_ID

# ---------------------------------------------------------------------- prices (AUD micros)

MMS_PRICE = {"AU": 330_000, "NZ": 390_000, "US": 110_000, "CA": 110_000, "GB": 350_000}
# Per voice part; AU landlines are cheaper than mobiles.
VOICE_PRICE = {"AU": 120_000, "NZ": 180_000, "US": 60_000, "CA": 60_000, "GB": 110_000}
VOICE_PRICE_OTHER = 250_000
VOICE_PRICE_AU_LANDLINE = 70_000
FAX_PRICE = {"AU": 220_000, "NZ": 350_000, "US": 150_000, "CA": 150_000, "GB": 250_000}
FAX_PRICE_OTHER = 400_000
EMAIL_PRICE = 7_000  # per recipient (to + cc + bcc)
LETTER_BASE, LETTER_PAGE, LETTER_COLOUR_PAGE, LETTER_PRIORITY = 1_100_000, 250_000, 300_000, 600_000
POSTCARD_PRICE, POSTCARD_PRICE_INTL = 1_710_000, 2_600_000


def voice_price(country: str, to_type: str) -> int:
    if country == "AU" and to_type == "landline":
        return VOICE_PRICE_AU_LANDLINE
    return VOICE_PRICE.get(country, VOICE_PRICE_OTHER)


def fax_price(country: str) -> int:
    return FAX_PRICE.get(country, FAX_PRICE_OTHER)


def letter_price(country: str, pages: int, colour: int, priority: int) -> int:
    micros = LETTER_BASE + LETTER_PAGE * (pages - 1) + colour * LETTER_COLOUR_PAGE * pages
    micros += priority * LETTER_PRIORITY
    return micros if country == "AU" else micros * 2


def postcard_price(country: str) -> int:
    return POSTCARD_PRICE if country == "AU" else POSTCARD_PRICE_INTL


def voice_parts(body: str) -> int:
    """Voice credits: 300 GSM / 150 unicode characters each, at most 4 (then truncated)."""
    encoding, units, _ = sms_parts(body)
    per = 300 if encoding == "gsm" else 150
    return max(1, min(4, -(-units // per)))


def to_type(e164: str, iso: str) -> str:
    """ "mobile" or "landline" (AU/NZ/GB by prefix; elsewhere mobile)."""
    national = e164[1 + len(COUNTRIES[iso].calling_code) :]
    if iso == "AU":
        return "mobile" if national.startswith("4") else "landline"
    if iso == "NZ":
        return "mobile" if national.startswith("2") else "landline"
    if iso == "GB":
        return "mobile" if national.startswith("7") else "landline"
    return "mobile"


# ---------------------------------------------------------------------- content

MMS_CAMPAIGN = (
    ("Spring Sale 🌸", "Hi {first_name}! Spring Sale starts today - 30% off everything. Show this picture in store or shop at acme.example/sale. Reply STOP to opt out"),
    ("VIP early access", "{first_name}, you're in! VIP early access to our new range starts now: acme.example/vip Reply STOP to opt out"),
    ("New arrivals", "Fresh in store this week 👀 Tap the picture to see the new season range. Reply STOP to opt out"),
    ("Black Friday", "ACME Black Friday: up to 50% off storewide this weekend only. Reply STOP to opt out"),
)  # fmt: skip
MMS_TX = (
    ("Your order", "Hi {first_name}, here's a photo of your order as it left our warehouse. Tracking: acme.example/track"),
    ("Delivered", "Your parcel was delivered - photo attached. Questions? Reply to this message."),
)  # fmt: skip
VOICE_BODIES = {
    "alerts": (
        "Hello. Your ACME verification code is {spoken}. Again, your code is {spoken}. Goodbye.",
        "This is an ACME security alert. A new device signed in to your account. If this was not you, please call us on 1300 000 000.",
    ),
    "support": (
        "Hello {first_name}, this is ACME calling to confirm your appointment tomorrow at 10 30 AM. Press 1 to confirm, or 2 to reschedule.",
        "Hello, this is ACME support. Your technician is on the way and will arrive within the hour. Press 1 if someone will be home.",
    ),
    "main": (
        "Hello, this is ACME. Your order is ready to collect from our Collins Street store. We are open until 5 PM today.",
        "Hello {first_name}, this is a reminder from ACME that your account payment of 49 dollars 95 is due on Friday. Thank you.",
    ),
}
VOICE_FAILURES = (
    ("301", "No answer"),
    ("302", "Busy"),
    ("303", "Invalid number"),
    ("304", "Call rejected"),
)
FAX_FAILURES = (
    ("301", "No answer"),
    ("302", "Busy"),
    ("303", "Not a fax machine"),
    ("304", "Line dropped during transmission"),
)
MMS_FAILURES = (
    ("301", "Undeliverable", "Unknown subscriber: the number is not allocated"),
    ("302", "Expired", "Message expired: handset switched off or out of coverage"),
    ("303", "Rejected by carrier", "Carrier rejected the message (content filter)"),
    ("305", "Invalid destination", "Number is not a mobile or has been disconnected"),
)
EMAIL_KINDS = {
    "main": (
        101,
        "ACME Orders",
        (
            ("Your ACME order #{code} is confirmed", "<p>Hi {first_name},</p><p>Thanks for your order #{code}. We'll email you again when it ships.</p><p>ACME</p>"),
            ("Your ACME order #{code} has shipped", "<p>Hi {first_name},</p><p>Good news: order #{code} is on its way. Track it at acme.example/track.</p>"),
            ("Tax invoice INV-{code}", "<p>Hi {first_name},</p><p>Please find attached tax invoice INV-{code}. Payment is due within 14 days.</p>"),
        ),
    ),
    "support": (
        102,
        "ACME Support",
        (
            ("[Ticket #{code}] We've received your request", "<p>Hi {first_name},</p><p>Thanks for contacting ACME Support. Your ticket number is #{code}.</p>"),
            ("[Ticket #{code}] Resolved - how did we do?", "<p>Hi {first_name},</p><p>Your ticket #{code} has been resolved. Reply to reopen it.</p>"),
        ),
    ),
    "alerts": (
        103,
        "ACME Security",
        (
            ("Reset your ACME password", "<p>Hi {first_name},</p><p>Use the link below to reset your password. It expires in 30 minutes.</p>"),
            ("New sign-in to your ACME account", "<p>Hi {first_name},</p><p>We noticed a new sign-in from Chrome on Windows. If this wasn't you, reset your password.</p>"),
        ),
    ),
}  # fmt: skip
EMAIL_DOMAINS = ("gmail.com", "outlook.com", "bigpond.com", "yahoo.com.au", "icloud.com", "hotmail.com", "optusnet.com.au", "xtra.co.nz")  # fmt: skip
AU_PLACES = (
    ("Richmond", "VIC", "3121"), ("Fitzroy", "VIC", "3065"), ("Carlton", "VIC", "3053"),
    ("St Kilda", "VIC", "3182"), ("Geelong", "VIC", "3220"), ("Parramatta", "NSW", "2150"),
    ("Bondi", "NSW", "2026"), ("Surry Hills", "NSW", "2010"), ("Newcastle", "NSW", "2300"),
    ("Fortitude Valley", "QLD", "4006"), ("Southport", "QLD", "4215"), ("Fremantle", "WA", "6160"),
    ("Glenelg", "SA", "5045"), ("Hobart", "TAS", "7000"), ("Braddon", "ACT", "2612"),
)  # fmt: skip
INTL_PLACES = (
    ("NZ", "Ponsonby", "Auckland", "1011"), ("NZ", "Te Aro", "Wellington", "6011"),
    ("GB", "Camden", "London", "NW1 8NH"), ("GB", "Didsbury", "Manchester", "M20 2WS"),
    ("US", "Brooklyn", "NY", "11201"), ("US", "Austin", "TX", "78701"),
)  # fmt: skip
STREETS = ("Smith St", "High St", "Chapel St", "George St", "King St", "Station Rd", "Church St", "Victoria Pde", "Beach Rd", "Park Ave", "Queen St", "Main Rd")  # fmt: skip
BUSINESSES = ("Harbour Dental", "Northside Plumbing", "Collins Legal", "Greenleaf Cafe", "Summit Accounting", "Bayside Physio", "Metro Motors", "Oak & Co Builders")  # fmt: skip

OPT_OUT_BODIES = (
    ("STOP", 30), ("Stop", 14), ("stop", 14), ("Stop.", 6), ("STOP ", 3), (" stop", 2),
    ("STOP ALL", 4), ("stop all", 3), ("Stopall", 1), ("UNSUBSCRIBE", 4), ("Unsubscribe", 3),
    ("unsubscribe ", 1), ("STOP!", 3), ("Stop!!", 1), ("END", 1), ("QUIT", 1), ("Cancel", 1),
    ("OPT OUT", 2), ("optout", 1),
)  # fmt: skip
CAMPAIGN_REPLIES = (
    "Is the sale on in store too?", "How long does the offer last?", "Thanks!", "👍",
    "Do you ship to New Zealand?", "Who is this?", "Yes please", "Can I use the code online?",
    "wrong number", "What sizes do you have?", "Love it 😍", "Is Chadstone open on Sunday?",
)  # fmt: skip
TX_REPLIES = (
    "Y", "Yes", "N", "No", "5", "4", "Thanks", "Thank you!", "Ok", "Can I change to Friday?",
    "Call me please", "HELP", "What time?", "Got it, thanks 😊", "你好，请问什么时候到？",
)  # fmt: skip


# ---------------------------------------------------------------------- helpers


class _Ids:
    """Message ids drawn from the area's stream (upper-case UUID style)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def take(self, k: int) -> list[str]:
        h = self.rng.bytes(16 * k).hex().upper()
        return [
            f"{h[i : i + 8]}-{h[i + 8 : i + 12]}-{h[i + 12 : i + 16]}-{h[i + 16 : i + 20]}-{h[i + 20 : i + 32]}"
            for i in range(0, 32 * k, 32)
        ]


def _day_weights(now_ts: int) -> tuple[np.ndarray, np.ndarray]:
    local_today = (now_ts + LOCAL_OFFSET) // 86400 * 86400 - LOCAL_OFFSET
    days = local_today - 86400 * np.arange(DAYS, -1, -1, dtype=np.int64)
    weekday = ((days + LOCAL_OFFSET) // 86400 + 3) % 7
    w = np.where(weekday < 5, 1.0, np.where(weekday == 5, 0.35, 0.2)) * np.linspace(
        0.6, 1.4, days.size
    )
    return days, w / w.sum()


HOURS = np.array([0.03] * 7 + [0.4, 1.0] + [1.5] * 9 + [0.8] * 3 + [0.2] * 3)
HOURS = HOURS / HOURS.sum()


def _dates(rng: np.random.Generator, k: int, now_ts: int) -> np.ndarray:
    days, w = _day_weights(now_ts)
    date = days[rng.choice(days.size, k, p=w)] + rng.choice(24, k, p=HOURS) * 3600
    date = date + rng.integers(0, 3600, k)
    start = now_ts - DAYS * 86400
    late = date > now_ts
    date[late] = start + rng.integers(0, now_ts - start, int(late.sum()))
    return np.clip(date, start, now_ts)


def _bursts(rng: np.random.Generator, k: int, now_ts: int) -> list[tuple[int, int]]:
    """``(start, size)`` of campaign bursts totalling ``k`` rows, on weekdays before yesterday."""
    if k <= 0:
        return []
    days, w = _day_weights(now_ts)
    n_b = int(np.clip(k // 80, 1, 60))
    sizes = rng.multinomial(k - n_b, rng.dirichlet(np.ones(n_b) * 2)) + 1
    out = []
    for size in sizes.tolist():
        d = int(days[rng.choice(days.size - 2, p=w[:-2] / w[:-2].sum())])
        out.append((d + int(rng.integers(9, 15)) * 3600 + int(rng.integers(0, 3600)), size))
    return out


def _ascii(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _status_mix(
    rng: np.random.Generator, k: int, date: np.ndarray, now_ts: int, fail: float, cancel: float
) -> np.ndarray:
    """0 delivered, 1 failed, 2 cancelled, 3 in flight (last 15 minutes)."""
    u = rng.random(k)
    st = np.zeros(k, np.int8)
    st[u < fail] = 1
    st[(u >= fail) & (u < fail + cancel)] = 2
    st[(date > now_ts - 900) & (rng.random(k) < 0.7)] = 3
    return st


def _n(n_sms: int, share: float, minimum: int) -> int:
    return max(minimum, int(round(n_sms * share)))


# ---------------------------------------------------------------------- entry


def seed_area(store: Store, seed_value: int, n_sms: int, now_ts: int, rng: Any) -> None:
    """Seed every table of this area (deterministic for ``seed_value`` and ``now_ts``)."""
    st = mm.state(store)
    if n_sms == 0:
        return
    logins = {name: (sid, username, sender) for name, sid, username, _, sender, *_ in LOGINS}
    sample = _sms_sample(store, rng, n_sms)
    ids = _Ids(rng)
    out = _RowSink(now_ts, st)
    _mms(out, rng, ids, logins, sample, _n(n_sms, 0.02, 12), now_ts)
    _voice(out, rng, ids, logins, sample, _n(n_sms, 0.015, 10), now_ts)
    _email(out, rng, ids, logins, _n(n_sms, 0.04, 20), now_ts)
    _fax(out, rng, ids, logins, _n(n_sms, 0.004, 6), now_ts)
    _letters(out, rng, ids, logins, _n(n_sms, 0.0015, 5), now_ts)
    _postcards(out, rng, ids, logins, _n(n_sms, 0.0015, 5), now_ts)
    out.flush()
    st.inbound.bulk_load(_inbound(rng, ids, sample, n_sms, now_ts))
    for paged in (st.rows, st.receipts, st.inbound):
        paged.create_indexes()


class _RowSink:
    """Final ``msg_rows`` tuples, numbered as they come (callers add in date order per
    channel), plus the receipts of delivered/failed voice and fax messages; loaded in
    batches of :attr:`BATCH` so that a million-SMS seed never holds all of them at once
    (email bodies make them large)."""

    BATCH = 5_000

    def __init__(self, now_ts: int, st: Any) -> None:
        self.now = now_ts
        self.st = st
        self.rows: list[tuple[Any, ...]] = []
        self.receipts: list[tuple[Any, ...]] = []
        self.n_rows = self.n_receipts = 0
        self.begin()

    def flush(self) -> None:
        self.st.rows.bulk_load(self.rows)
        self.st.receipts.bulk_load(self.receipts)
        self.rows, self.receipts = [], []

    def begin(self) -> None:
        """Start a channel: ordinals restart."""
        self._ord, self._sub, self._r_ord, self._r_sub = 0, {}, 0, {}

    def add(self, cols: tuple[Any, ...], rec: dict[str, Any]) -> None:
        self.n_rows += 1
        rid = self.n_rows
        sid = cols[2]
        self._ord += 1
        self._sub[sid] = self._sub.get(sid, 0) + 1
        self.rows.append((rid, self._ord, self._sub[sid], *cols, orjson.dumps(rec)))
        channel, status = cols[0], cols[4]
        if channel in ("voice", "fax") and status in mm.RECEIPT_STATUSES:
            spread = (rid * 2654435761) % 1000
            delay = 15 + spread % 105 if channel == "voice" else 60 + spread % 840
            ts = min(self.now, cols[3] + delay)
            render = mm.voice_receipt_record if channel == "voice" else mm.fax_receipt_record
            self._r_ord += 1
            self._r_sub[sid] = self._r_sub.get(sid, 0) + 1
            self.n_receipts += 1
            self.receipts.append(
                (self.n_receipts, self._r_ord, self._r_sub[sid], channel, MAIN_USER_ID,
                 sid, ts, 0, rid, cols[7], orjson.dumps(render(rec, ts)))
            )  # fmt: skip
        if len(self.rows) >= self.BATCH:
            self.flush()


def _cols(
    channel: str,
    date: int,
    sid: int,
    username: str,
    status: str,
    to: str,
    sender: str,
    message_id: str,
    custom: str | None,
    list_id: str | None,
    country: str,
    units: int,
    price: int,
    schedule: int,
) -> tuple[Any, ...]:
    """A ``msg_rows`` row without its json, in ``mm.ROWS.columns`` order."""
    return (channel, MAIN_USER_ID, sid, date, status, to, sender, message_id, custom, list_id,
            country, username, units, price, schedule)  # fmt: skip


def _sms_sample(store: Store, rng: np.random.Generator, n_sms: int) -> dict[str, list[Any]]:
    """A random sample of delivered SMS rows (recipients and reply originals)."""
    with store._lock:
        max_id = store.db.execute("SELECT coalesce(max(id), 0) FROM sms").fetchone()[0]
    k = int(min(max_id, max(600, n_sms * 0.03)))
    picks = np.sort(rng.choice(max_id, size=k, replace=False) + 1).tolist() if k else []
    cols = (
        "id, to_, from_, body, message_id, custom_string, list_id, date, subaccount_id, country, "
        "CASE WHEN list_id IS NULL THEN NULL "
        "ELSE json_extract(json, '$.contact_id', '$.first_name', '$.last_name') END"
    )
    names = ("id", "to", "from", "body", "message_id", "custom_string", "list_id", "date",
             "subaccount_id", "country")  # fmt: skip
    got: list[tuple[Any, ...]] = []
    with store._lock:
        for i in range(0, len(picks), 900):
            chunk = picks[i : i + 900]
            got += store.db.execute(
                f"SELECT {cols} FROM sms WHERE id IN ({','.join('?' * len(chunk))}) "
                "AND status='Completed' ORDER BY id",
                chunk,
            ).fetchall()
    out = {name: [r[j] for r in got] for j, name in enumerate(names)}
    contacts = [orjson.loads(r[10]) if r[10] else (None, None, None) for r in got]
    for j, name in enumerate(("contact_id", "first_name", "last_name")):
        out[name] = [c[j] for c in contacts]
    return out


# ---------------------------------------------------------------------- channels


def _scheduled(rng: np.random.Generator, k: int, now_ts: int) -> tuple[np.ndarray, np.ndarray]:
    """Dates (queued during the last week) and future schedules of ``k`` scheduled rows."""
    return now_ts - rng.integers(60, 7 * 86400, k), now_ts + rng.integers(3600, 14 * 86400, k)


def _mms(out, rng, ids, logins, sample, k, now_ts):  # noqa: ANN001
    idx = [i for i, c in enumerate(sample["country"]) if c in MMS_PRICE]
    if not idx:
        return
    camp_idx = [i for i in idx if sample["list_id"][i] is not None] or idx
    k_camp = int(k * 0.65)
    k_sched = max(1, k // 300)
    k_tx = k - k_camp - k_sched
    date = np.empty(k, np.int64)
    schedule = np.zeros(k, np.int64)
    pos = 0
    camp_tmpl = np.zeros(k, np.int64)
    for t0, size in _bursts(rng, k_camp, now_ts):
        date[pos : pos + size] = t0 + np.sort(rng.integers(0, max(60, size * 2), size))
        camp_tmpl[pos : pos + size] = rng.integers(0, len(MMS_CAMPAIGN))
        pos += size
    date[k_camp : k_camp + k_tx] = _dates(rng, k_tx, now_ts)
    date[k - k_sched :], schedule[k - k_sched :] = _scheduled(rng, k_sched, now_ts)
    date = np.minimum(date, now_ts)
    st = _status_mix(rng, k, date, now_ts, 0.05, 0.005)
    st[k - k_sched :] = 4
    recip = np.where(
        np.arange(k) < k_camp,
        np.asarray(camp_idx)[rng.integers(0, len(camp_idx), k)],
        np.asarray(idx)[rng.integers(0, len(idx), k)],
    )
    fail = rng.integers(0, len(MMS_FAILURES), k)
    tx_tmpl = rng.integers(0, len(MMS_TX), k)
    mids = ids.take(k)
    media = ids.take(k)
    order = np.argsort(date, kind="stable").tolist()
    # Python lists: indexing numpy arrays row by row costs more than the row itself.
    date, schedule, camp_tmpl, st, recip, fail, tx_tmpl = (
        a.tolist() for a in (date, schedule, camp_tmpl, st, recip, fail, tx_tmpl)
    )
    out.begin()
    for i in order:
        r = int(recip[i])
        campaign = i < k_camp or i >= k - k_sched
        name = "marketing" if campaign else "main"
        sid, username, sender = logins[name]
        to, country = sample["to"][r], sample["country"][r]
        first = sample["first_name"][r] if campaign else None
        first = first or FIRST_NAMES[r % len(FIRST_NAMES)]
        subject, body = (
            MMS_CAMPAIGN[camp_tmpl[i] % len(MMS_CAMPAIGN)] if campaign else MMS_TX[tx_tmpl[i]]
        )
        body = body.replace("{first_name}", first)
        s = int(st[i])
        code = text = err = err_text = None
        status = "Completed"
        if s == 0:
            code, text = "201", "Success: Message received on handset."
        elif s == 1:
            code, text, err_text = MMS_FAILURES[fail[i]]
            status, err = "Failed", code
        elif s == 2:
            status, text = "Cancelled", "Cancelled by user"
        elif s == 3:
            status, text = "Sent", "Sent to carrier"
        else:
            status, text = "Scheduled", "Scheduled"
        price = 0 if status == "Cancelled" else MMS_PRICE[country]
        d = int(date[i])
        sched = int(schedule[i]) or d
        list_id = sample["list_id"][r] if campaign and sample["list_id"][r] else None
        contact = sample["contact_id"][r] if list_id else None
        rec = mm.mms_record(
            date=d, to=to, body=body, subject=subject,
            media_url=f"https://media.acme.example/mms/{media[i]}.jpg", status=status,
            sender=sender, schedule=sched, status_code=code, status_text=text, error_code=err,
            error_text=err_text, message_id=mids[i], price_micros=price, list_id=list_id,
            custom_string=None if campaign else f"order-{100000 + r}",
            contact_id=int(contact) if contact else None, user_id=MAIN_USER_ID,
            subaccount_id=sid, country=country, carrier=carrier_for(to, country),
            first_name=sample["first_name"][r] if list_id else None,
            last_name=sample["last_name"][r] if list_id else None, api_username=username,
        )  # fmt: skip
        out.add(
            _cols("mms", d, sid, username, status, to, sender, mids[i], rec["custom_string"] or None,
                  list_id, country, 1, price, sched),
            rec,
        )  # fmt: skip


def _spoken(code: int) -> str:
    return ", ".join(str(code))


def _voice(out, rng, ids, logins, sample, k, now_ts):  # noqa: ANN001
    k_sched = max(1, k // 200)
    date = _dates(rng, k, now_ts)
    schedule = np.zeros(k, np.int64)
    date[k - k_sched :], schedule[k - k_sched :] = _scheduled(rng, k_sched, now_ts)
    st = _status_mix(rng, k, date, now_ts, 0.15, 0.004)
    st[k - k_sched :] = 4
    kind = rng.choice(3, k, p=[0.5, 0.3, 0.2])  # alerts, support, main
    landline = rng.random(k) < 0.3
    recip = rng.integers(0, max(1, len(sample["to"])), k)
    land = rng.integers(0, 10**8, k)
    tmpl = rng.integers(0, 2, k)
    code = rng.integers(100_000, 1_000_000, k)
    fail = rng.integers(0, len(VOICE_FAILURES), k)
    u = rng.random((k, 4))
    mids = ids.take(k)
    langs = {"AU": "en-au", "NZ": "en-au", "GB": "en-gb", "US": "en-us", "CA": "en-us",
             "DE": "de-de", "FR": "fr-fr", "IN": "en-in"}  # fmt: skip
    order = np.argsort(date, kind="stable").tolist()
    # Python lists: indexing numpy arrays row by row costs more than the row itself.
    date, schedule, st, kind, landline, recip, land, tmpl, code, fail, u = (
        a.tolist() for a in (date, schedule, st, kind, landline, recip, land, tmpl, code, fail, u)
    )
    out.begin()
    for i in order:
        name = ("alerts", "support", "main")[kind[i]]
        sid, username, sender = logins[name]
        if landline[i] or not sample["to"]:
            area = "2378"[land[i] % 4]
            to, country = f"+61{area}{land[i] % 10**8:08d}", "AU"
        else:
            to, country = sample["to"][recip[i]], sample["country"][recip[i]]
        ttype = to_type(to, country)
        body = VOICE_BODIES[name][tmpl[i]]
        body = body.replace("{spoken}", _spoken(int(code[i]))).replace(
            "{first_name}", FIRST_NAMES[int(code[i]) % len(FIRST_NAMES)]
        )
        parts = voice_parts(body)
        lang = langs.get(country, "en-us")
        voice = "female" if u[i][0] < 0.75 or lang == "en-in" else "male"
        require_input = int(name == "support")
        detection = int(u[i][1] < 0.4)
        s = int(st[i])
        status_code = status_text = None
        digits = detected = None
        if s == 0:
            status, status_code, status_text = "Completed", "201", "Delivered"
            if require_input and u[i][2] < 0.7:
                digits = "1" if u[i][3] < 0.8 else "2"
            if detection:
                detected = int(u[i][2] < 0.25)
        elif s == 1:
            status = "Failed"
            status_code, status_text = VOICE_FAILURES[fail[i]]
        elif s == 2:
            status, status_text = "Cancelled", "Cancelled by user"
        elif s == 3:
            status, status_text = "Sent", "Queued for calling"
        else:
            status, status_text = "Scheduled", "Scheduled"
        price = 0 if status == "Cancelled" else parts * voice_price(country, ttype)
        d = int(date[i])
        sched = int(schedule[i]) or d
        caller = sender if sender.startswith("+") else None
        custom = f"{'alert' if name == 'alerts' else 'ticket' if name == 'support' else 'order'}-{code[i]}"
        rec = mm.voice_record(
            date=d, to=to, to_type=ttype, body=body, sender=caller, lang=lang, voice=voice,
            schedule=sched, message_id=mids[i], parts=parts, price_micros=price,
            custom_string=custom, list_id=None, user_id=MAIN_USER_ID, subaccount_id=sid,
            country=country, carrier=carrier_for(to, country), require_input=require_input,
            machine_detection=detection, machine_detected=detected, digits=digits, status=status,
            status_code=status_code, status_text=status_text, api_username=username,
        )  # fmt: skip
        out.add(
            _cols("voice", d, sid, username, status, to, caller or "", mids[i], custom, None,
                  country, parts, price, sched),
            rec,
        )  # fmt: skip


def _email(out, rng, ids, logins, k, now_ts):  # noqa: ANN001
    k_sched = max(1, k // 400)
    date = _dates(rng, k, now_ts)
    schedule = np.zeros(k, np.int64)
    date[k - k_sched :], schedule[k - k_sched :] = _scheduled(rng, k_sched, now_ts)
    st = _status_mix(rng, k, date, now_ts, 0.03, 0.003)
    st[k - k_sched :] = 4
    kind = rng.choice(3, k, p=[0.45, 0.35, 0.2])
    first = rng.integers(0, len(FIRST_NAMES), k)
    last = rng.integers(0, len(LAST_NAMES), k)
    dom = rng.integers(0, len(EMAIL_DOMAINS), k)
    num = rng.integers(1, 100, k)
    tmpl = rng.integers(0, 3, k)
    code = rng.integers(100_000, 1_000_000, k)
    u = rng.random((k, 4))
    mids = ids.take(k)
    files = ids.take(k)
    plain = {name: [mm._plain(b) for _, b in EMAIL_KINDS[name][2]] for name in EMAIL_KINDS}
    ascii_first = [_ascii(x) or "customer" for x in FIRST_NAMES]
    ascii_last = [_ascii(x) or "acme" for x in LAST_NAMES]
    order = np.argsort(date, kind="stable").tolist()
    # Python lists: indexing numpy arrays row by row costs more than the row itself.
    date, schedule, st, kind, first, last, dom, num, tmpl, code, u = (
        a.tolist() for a in (date, schedule, st, kind, first, last, dom, num, tmpl, code, u)
    )
    out.begin()
    for i in order:
        name = ("main", "support", "alerts")[kind[i]]
        sid, username, _ = logins[name]
        addr_id, from_name, templates = EMAIL_KINDS[name]
        subject, body = templates[tmpl[i] % len(templates)]
        fn, ln = FIRST_NAMES[first[i]], LAST_NAMES[last[i]]
        local = f"{ascii_first[first[i]]}.{ascii_last[last[i]]}"
        if u[i][0] < 0.4:
            local += str(num[i])
        email = f"{local}@{EMAIL_DOMAINS[dom[i]]}"
        to = [{"email": email, "name": f"{fn} {ln}"}]
        cc = (
            [{"email": "accounts@" + EMAIL_DOMAINS[dom[i]], "name": "Accounts"}]
            if u[i][1] < 0.08
            else []
        )
        bcc = [{"email": "archive@acme.example", "name": "ACME Archive"}] if u[i][2] < 0.05 else []
        code_s = str(code[i])
        subject = subject.replace("{code}", code_s)
        body = body.replace("{code}", code_s).replace("{first_name}", fn)
        body_plain = (
            plain[name][tmpl[i] % len(templates)]
            .replace("{code}", code_s)
            .replace("{first_name}", fn)
        )
        attachments = []
        if subject.startswith("Tax invoice"):
            attachments = [{
                "file_name": f"INV-{code[i]}.pdf", "content_type": "application/pdf",
                "content_disposition": "attachment", "content_id": "invoice",
                "_attachment_file_url": f"https://files.acme.example/attachments/{files[i]}.pdf",
            }]  # fmt: skip
        s = int(st[i])
        soft = hard = 0
        if s == 0:
            status, text = "Delivered", "Delivered"
            soft = int(u[i][3] < 0.03)
        elif s == 1:
            status, text, hard = "Bounced", "Hard bounce: mailbox does not exist", 1
        elif s == 2:
            status, text = "Cancelled", "Cancelled by user"
        elif s == 3:
            status, text = "Queued:WaitSend", "Accepted for delivery"
        else:
            status, text = "Scheduled", "Scheduled"
        units = len(to) + len(cc) + len(bcc)
        price = 0 if status == "Cancelled" else units * EMAIL_PRICE
        d = int(date[i])
        sched = int(schedule[i]) or d
        rec = mm.email_record(
            date=d, user_id=MAIN_USER_ID, subaccount_id=sid, from_email_address_id=addr_id,
            from_name=from_name, to=to, cc=cc, bcc=bcc, subject=subject, body=body,
            schedule=sched, message_id=mids[i], status=status, status_text=text,
            soft_bounce_count=soft, hard_bounce_count=hard, price_micros=price,
            custom_string=None, attachments=attachments, body_plain_text=body_plain,
        )  # fmt: skip
        out.add(
            _cols("email", d, sid, username, status, email, from_name, mids[i], None, None,
                  "", units, price, sched),
            rec,
        )  # fmt: skip


def _fax(out, rng, ids, logins, k, now_ts):  # noqa: ANN001
    date = _dates(rng, k, now_ts)
    st = _status_mix(rng, k, date, now_ts, 0.12, 0.0)
    main = rng.random(k) < 0.7
    us = rng.random(k) < 0.1
    num = rng.integers(0, 10**8, k)
    pages = np.minimum(1 + rng.geometric(0.45, k) - 1, 12)
    fail = rng.integers(0, len(FAX_FAILURES), k)
    u = rng.random((k, 2))
    mids = ids.take(k)
    files = ids.take(k)
    senders = {"main": "+61390001234", "support": "+61290005678"}
    order = np.argsort(date, kind="stable").tolist()
    # Python lists: indexing numpy arrays row by row costs more than the row itself.
    date, st, main, us, num, pages, fail, u = (
        a.tolist() for a in (date, st, main, us, num, pages, fail, u)
    )
    out.begin()
    for i in order:
        name = "main" if main[i] else "support"
        sid, username, _ = logins[name]
        if us[i]:
            to, country = f"+1212{num[i] % 10**7:07d}", "US"
        else:
            to, country = f"+61{'2378'[num[i] % 4]}{num[i]:08d}", "AU"
        s = int(st[i])
        code = text = None
        if s == 0:
            status, code, text = "Completed", "201", "Delivered"
        elif s == 1:
            status = "Failed"
            code, text = FAX_FAILURES[fail[i]]
        else:
            status, text = "Sent", "Sending"
        p = int(pages[i])
        price = p * fax_price(country)
        d = int(date[i])
        custom = f"invoice-{200000 + int(num[i] % 800000)}" if u[i][0] < 0.6 else None
        rec = mm.fax_record(
            date=d, user_id=MAIN_USER_ID, subaccount_id=sid, list_id=None, message_id=mids[i],
            to=to, sender=senders[name], country=country, custom_string=custom, schedule=d,
            pages=p, price_micros=price, status=status, status_code=code, status_text=text,
            from_email="accounts@acme.example" if u[i][1] < 0.5 else None,
            file_url=f"https://files.acme.example/fax/{files[i]}.pdf", api_username=username,
        )  # fmt: skip
        out.add(
            _cols("fax", d, sid, username, status, to, senders[name], mids[i], custom, None,
                  country, p, price, d),
            rec,
        )  # fmt: skip


def _address(rng: np.random.Generator, intl: bool, business: bool) -> dict[str, str]:
    first, last = (
        FIRST_NAMES[rng.integers(len(FIRST_NAMES))],
        LAST_NAMES[rng.integers(len(LAST_NAMES))],
    )
    name = BUSINESSES[rng.integers(len(BUSINESSES))] if business else f"{first} {last}"
    line1 = f"{rng.integers(1, 400)} {STREETS[rng.integers(len(STREETS))]}"
    line2 = f"Unit {rng.integers(1, 40)}" if rng.random() < 0.25 else ""
    if intl:
        country, city, state, postcode = INTL_PLACES[rng.integers(len(INTL_PLACES))]
    else:
        city, state, postcode = AU_PLACES[rng.integers(len(AU_PLACES))]
        country = "AU"
    return {
        "address_name": name,
        "address_line_1": line1,
        "address_line_2": line2,
        "address_city": city,
        "address_state": state,
        "address_postal_code": postcode,
        "address_country": country,
    }


def _post_status(s: int, date: int, now_ts: int) -> tuple[str, str]:
    if s == 2:
        return "Cancelled", "Cancelled by user"
    if s == 4:
        return "Scheduled", "Scheduled"
    if date > now_ts - 2 * 86400:
        return "Queued:Stamped", "Printed and stamped"
    return "Sent", "Lodged with the postal service"


def _letters(out, rng, ids, logins, k, now_ts):  # noqa: ANN001
    k_sched = max(1, k // 100)
    date = _dates(rng, k, now_ts)
    schedule = np.zeros(k, np.int64)
    date[k - k_sched :], schedule[k - k_sched :] = _scheduled(rng, k_sched, now_ts)
    st = _status_mix(rng, k, date, now_ts, 0.0, 0.015)
    st[st == 3] = 0
    st[k - k_sched :] = 4
    mids = ids.take(k)
    files = ids.take(k)
    out.begin()
    for i in np.argsort(date, kind="stable").tolist():
        name = "main" if rng.random() < 0.75 else "support"
        sid, username, _ = logins[name]
        address = _address(rng, rng.random() < 0.1, rng.random() < 0.4)
        pages = int(min(6, rng.geometric(0.5)))
        colour, duplex, priority = (int(rng.random() < p) for p in (0.2, 0.3, 0.1))
        status, text = _post_status(int(st[i]), int(date[i]), now_ts)
        country = address["address_country"]
        price = 0 if status == "Cancelled" else letter_price(country, pages, colour, priority)
        d = int(date[i])
        sched = int(schedule[i]) or d
        custom = f"statement-{rng.integers(10000, 99999)}" if rng.random() < 0.5 else None
        rec = mm.letter_record(
            date=d, user_id=MAIN_USER_ID, subaccount_id=sid, message_id=mids[i], address=address,
            return_address_id=1, custom_string=custom, schedule=sched, source=".rest.v3",
            colour=colour, duplex=duplex, priority_post=priority, pages=pages,
            price_micros=price, status=status, status_code="", status_text=text,
            file_url=f"https://files.acme.example/post/{files[i]}.pdf", api_username=username,
        )  # fmt: skip
        out.add(
            _cols("letter", d, sid, username, status, address["address_name"], "", mids[i],
                  custom, None, country, 1, price, sched),
            rec,
        )  # fmt: skip


def _postcards(out, rng, ids, logins, k, now_ts):  # noqa: ANN001
    k_sched = max(1, k // 100)
    date = _dates(rng, k, now_ts)
    schedule = np.zeros(k, np.int64)
    date[k - k_sched :], schedule[k - k_sched :] = _scheduled(rng, k_sched, now_ts)
    st = _status_mix(rng, k, date, now_ts, 0.0, 0.015)
    st[st == 3] = 0
    st[k - k_sched :] = 4
    mids = ids.take(k)
    files = ids.take(k)
    suppliers = ids.take(k)
    out.begin()
    for i in np.argsort(date, kind="stable").tolist():
        name = "marketing" if rng.random() < 0.8 else "main"
        sid, username, _ = logins[name]
        address = _address(rng, rng.random() < 0.05, False)
        status, _ = _post_status(int(st[i]), int(date[i]), now_ts)
        country = address["address_country"]
        price = 0 if status == "Cancelled" else postcard_price(country)
        d = int(date[i])
        sched = int(schedule[i]) or d
        rec = mm.postcard_record(
            date=d, user_id=MAIN_USER_ID, subaccount_id=sid, message_id=mids[i],
            supplier_id=suppliers[i].replace("-", "")[:28], address=address,
            return_address_id=1, custom_string=None, schedule=sched, source=".rest.v3",
            price_micros=price, status=status,
            file_url=f"https://files.acme.example/post/{files[i]}.pdf", api_username=username,
        )  # fmt: skip
        out.add(
            _cols("postcard", d, sid, username, status, address["address_name"], "", mids[i],
                  None, None, country, 1, price, sched),
            rec,
        )  # fmt: skip


# ---------------------------------------------------------------------- receipts, inbound


def _inbound(
    rng: np.random.Generator, ids: _Ids, sample: dict[str, list[Any]], n_sms: int, now_ts: int
) -> list[tuple[Any, ...]]:
    """Replies to delivered SMS: opt-outs (unique senders, campaign recipients) and chatter."""
    n = len(sample["id"])
    if not n:
        return []
    k = min(n, _n(n_sms, 0.02, 15))
    camp = [i for i in range(n) if sample["list_id"][i] is not None]
    other = [i for i in range(n) if sample["list_id"][i] is None]
    rng.shuffle(camp)
    rng.shuffle(other)
    k_stop = max(5, int(k * 0.35))
    picks: list[tuple[int, str]] = []  # (sample index, kind)
    seen: set[str] = set()
    for i in camp:  # opt-outs: one per number, from campaign recipients first
        if len(picks) >= k_stop:
            break
        if sample["to"][i] not in seen:
            seen.add(sample["to"][i])
            picks.append((i, "stop"))
    rest = [i for i in camp if sample["to"][i] not in seen]
    half = (k - len(picks)) // 2
    picks += [(i, "campaign") for i in rest[:half]]
    picks += [(i, "tx") for i in other[: k - len(picks)]]
    weights = np.array([w for _, w in OPT_OUT_BODIES], float)
    m = len(picks)
    stop_body = rng.choice(len(OPT_OUT_BODIES), m, p=weights / weights.sum()).tolist()
    camp_body = rng.integers(0, len(CAMPAIGN_REPLIES), m).tolist()
    tx_body = rng.integers(0, len(TX_REPLIES), m).tolist()
    slow = rng.exponential(3 * 3600, m)
    quick = rng.exponential(1800, m)
    rows = []
    mids = ids.take(m)
    for j, (i, kind) in enumerate(picks):
        if kind == "stop":
            body = OPT_OUT_BODIES[stop_body[j]][0]
        elif kind == "campaign":
            body = CAMPAIGN_REPLIES[camp_body[j]]
        else:
            body = TX_REPLIES[tx_body[j]]
        delay = min(3 * 86400, max(20, int(quick[j] if kind == "tx" else slow[j])))
        ts = min(now_ts, sample["date"][i] + delay)
        rec = mm.inbound_record(
            timestamp=ts, sender=sample["to"][i], body=body, original_body=sample["body"][i],
            original_message_id=sample["message_id"][i], to=sample["from"][i],
            custom_string=sample["custom_string"][i], message_id=mids[j],
        )  # fmt: skip
        rows.append((ts, j, sample["subaccount_id"][i], rec, mm.is_opt_out(body)))
    rows.sort(key=lambda r: (r[0], r[1]))
    out, sub_ords = [], {}
    for n_row, (ts, _, sid, rec, opt) in enumerate(rows, start=1):
        sub_ords[sid] = sub_ords.get(sid, 0) + 1
        out.append(
            (n_row, n_row, sub_ords[sid], "sms", MAIN_USER_ID, sid, ts, 0, rec["message_id"],
             rec["original_message_id"], rec["from"], rec["to"], rec["body"], int(opt),
             orjson.dumps(rec))
        )  # fmt: skip
    return out
