"""Seed of the contacts area: contact lists as dirty as real ones, with their ground truth.

Registered in ``seed.AREA_SEEDERS`` (after the messages area, before campaigns); draws
from its own random stream. Deterministic for the seed and ``now``.

Lists (the first six have the ``list_id`` values of the seeded campaign messages in SMS
history, so history's ``list_id``/``contact_id`` point into them):

==========  ======================  ======  =============================================
list_id     name                    share   looks like
==========  ======================  ======  =============================================
428         Customers AU            19 %    CRM export: AU numbers, national formats,
                                            addresses, customer numbers in custom_1..3
431         Newsletter              17 %    web sign-ups: many email-only, gmail variants
502         VIP                      5 %    mostly Customers AU people, added via the API
517         Event signups 2026      12 %    messy event forms: every kind of format
560         Lapsed customers        10 %    CRM export, overlaps Customers AU
611         Spring sale leads        8 %    web leads, overlaps Newsletter
633         Loyalty members         14 %    CRM export, overlaps Customers AU
640         Website enquiries       12 %    web leads
623         Opt-outs                 3 %+   E.164 numbers (and a few emails) of people who
                                            opted out, no names: everyone who replied STOP
                                            (inbound SMS), list members, SMS recipients
645         Import staging           0      empty
==========  ======================  ======  =============================================

Sizes scale with the SMS count: about ``n_sms / 5`` contacts in all, at least 60 and at
most 100,000 (tiny 60, small 1,000, medium 20,000, large 100,000), and no list beyond
the 20,000 recipients a campaign may have at large scale; every list also holds everyone
its latest seeded campaign reached, which makes the small scales somewhat larger.

People come from the SMS history (campaign recipients keep their history ``contact_id``
and names; transactional recipients get names) and from fresh numbers. Seeded rows are
stored as they were in the source files (the dashboard import keeps the text when no
country is chosen), which is why they carry national formats and punctuation that the
API would have normalised; see the README. Every row's truth (the person behind it,
the planted duplicate group and the rule that links it, the kinds of dirt) is kept by
``models_contacts`` (in memory) and served at ``/_sandbox/truth/contacts``.

No accidental duplicates: distinct people never share a mobile number or an email match
key (lower-cased; gmail dots and ``+tags`` removed), and no two people with a postcode
share (postcode, last-name initial), so the only links between rows are the planted
ones (duplicate groups, cross-list people) -- except the planted households, whose
members share a landline but are different people (``not_duplicates`` in the truth), and
the planted review cases.

Review cases (``REVIEW_KINDS``; about one per 80 contacts, at least 8): two or three rows
in *different* lists that a careful matcher links but must not merge silently -- one
person with an old and a new mobile (same name and email), a parent and a child on one
mobile (same surname and address, two first names), one mobile and address with a row
lacking its first name and another email, and a chain A~B~C (A and B share a mobile, B and C an email, one name).
Each list holds at most one row of a case, so every list's own truth is as above; the
combined lists (what notebook 03 cleans) have clusters that need review. The truth lists
them as ``review_cases``.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import operator
import random
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import orjson

from csframe.sandbox import models_contacts as mc
from csframe.sandbox.models import Store
from csframe.sandbox.pricing import COUNTRIES, country_of
from csframe.sandbox.seed import FIRST_NAMES, LAST_NAMES, LIST_IDS, MAIN_USER_ID

OPT_OUT_LIST_ID = 623
STAGING_LIST_ID = 645
# (list_id, name, share of all contacts, profile)
LISTS: tuple[tuple[int, str, float, str], ...] = (
    (int(LIST_IDS[0]), "Customers AU", 0.19, "crm"),
    (int(LIST_IDS[1]), "Newsletter", 0.17, "web"),
    (int(LIST_IDS[2]), "VIP", 0.05, "api"),
    (int(LIST_IDS[3]), "Event signups 2026", 0.12, "event"),
    (int(LIST_IDS[4]), "Lapsed customers", 0.10, "crm"),
    (int(LIST_IDS[5]), "Spring sale leads", 0.08, "web"),
    (633, "Loyalty members", 0.14, "crm"),
    (640, "Website enquiries", 0.12, "web"),
    (OPT_OUT_LIST_ID, "Opt-outs", 0.03, "optout"),
    (STAGING_LIST_ID, "Import staging", 0.0, "none"),
)
# Where each list's people come from, in order: SMS history of the same list, other
# lists (list_id: share), SMS recipients, then fresh people. AU-only lists say so.
SOURCES: dict[int, dict[str, Any]] = {
    428: {"history": 0.5, "from": {}, "recipients": 0.25, "au_only": True},
    431: {"history": 0.3, "from": {428: 0.25}, "recipients": 0.10, "au_only": False},
    502: {"history": 0.3, "from": {428: 0.6}, "recipients": 0.0, "au_only": True},
    517: {"history": 0.2, "from": {431: 0.1}, "recipients": 0.10, "au_only": False},
    560: {"history": 0.3, "from": {428: 0.3}, "recipients": 0.10, "au_only": True},
    611: {"history": 0.3, "from": {431: 0.15}, "recipients": 0.10, "au_only": False},
    633: {"history": 0.0, "from": {428: 0.4}, "recipients": 0.20, "au_only": True},
    640: {"history": 0.0, "from": {431: 0.1}, "recipients": 0.10, "au_only": False},
}
# Per profile: P(phone shown | person has one), P(email shown | person has one),
# P(address), phone format weights.
PROFILES: dict[str, dict[str, Any]] = {
    "crm": {
        "phone": 0.98,
        "email": 0.55,
        "address": 0.7,
        "formats": {
            "national_spaced": 30,
            "national": 20,
            "intl_spaced": 10,
            "e164": 10,
            "dashes": 6,
            "brackets": 6,
            "dots": 4,
            "intl_00": 4,
            "no_plus": 5,
            "no_trunk": 5,
        },
    },
    "web": {
        "phone": 0.65,
        "email": 0.98,
        "address": 0.0,
        "formats": {
            "e164": 25,
            "national": 35,
            "national_spaced": 20,
            "intl_spaced": 10,
            "no_trunk": 10,
        },
    },
    "api": {
        "phone": 1.0,
        "email": 0.8,
        "address": 0.3,
        "formats": {"e164": 90, "intl_spaced": 10},
    },
    "event": {
        "phone": 0.92,
        "email": 0.85,
        "address": 0.5,
        "formats": {
            "national_spaced": 15,
            "national": 15,
            "intl_spaced": 10,
            "e164": 10,
            "dashes": 10,
            "brackets": 10,
            "dots": 10,
            "intl_00": 10,
            "no_plus": 5,
            "no_trunk": 5,
        },
    },
}
FORMATS_FOREIGN = {"e164": 40, "intl_spaced": 35, "intl_00": 15, "no_plus": 10}

PLACEHOLDER_NAMES = ("n/a", "N/A", "test", "Test", "-", "x", "Customer", "unknown", "TBC", ".")
INVALID_PHONES = (
    "too_short",
    "too_long",
    "letters",
    "na",
    "unknown",
    "excel",
    "junk",
    "trunk_in_brackets",
)
INVALID_ANYWHERE = ("letters", "na", "unknown", "excel", "junk")
COMMON_DOMAINS = (
    ("gmail.com", 35),
    ("outlook.com", 10),
    ("hotmail.com", 10),
    ("yahoo.com.au", 8),
    ("bigpond.com", 8),
    ("icloud.com", 7),
)
CASE_FREE = frozenset(d for d, _ in COMMON_DOMAINS)  # local part case-insensitive
PLUS_TAGS = frozenset(("gmail.com", "outlook.com", "hotmail.com", "icloud.com"))
WORK_DOMAINS = (
    "acme-corp.example",
    "bayside-dental.example",
    "northwind.example",
    "harbourview.example",
    "greenleaf.example",
    "kestrel-legal.example",
)
ORGS = (
    "Bayside Dental",
    "Northwind Traders",
    "Harbourview Physio",
    "Greenleaf Cafe",
    "Kestrel Legal",
    "Smith & Co",
    "Southbank Motors",
    "Wattle Childcare",
)
STREETS = ("High", "Station", "Church", "Park", "Victoria", "George", "King", "Queen", "Main")
STREET_TYPES = ("St", "Rd", "Ave", "Street", "Road", "Pde")
# (first postcode, last postcode, state, city) -- a postcode's city is its range's.
POSTCODES = (
    (2000, 2234, "NSW", "Sydney"),
    (2250, 2490, "NSW", "Newcastle"),
    (2600, 2618, "ACT", "Canberra"),
    (3000, 3207, "VIC", "Melbourne"),
    (3211, 3399, "VIC", "Geelong"),
    (3400, 3999, "VIC", "Bendigo"),
    (4000, 4179, "QLD", "Brisbane"),
    (4207, 4499, "QLD", "Gold Coast"),
    (5000, 5199, "SA", "Adelaide"),
    (6000, 6199, "WA", "Perth"),
    (7000, 7099, "TAS", "Hobart"),
)
COUNTRY_SPELLINGS = (("AU", 60), ("Australia", 20), ("australia ", 5), ("", 15))


@dataclass
class Person:
    pid: int
    first: str
    last: str
    phone: str | None = None  # E.164
    landline: bool = False
    email: str | None = None  # canonical (lower-case)
    work_email: str | None = None  # for name+postcode duplicates
    postcode: str | None = None
    street: str | None = None
    org: str | None = None
    fax: str | None = None
    history: dict[int, tuple[int, int]] = field(
        default_factory=dict
    )  # list_id -> (contact_id, first date)
    special: str | None = None  # "household", "group"
    phone_valid: bool = False  # a valid number by phonenumbers' metadata (as far as we know)
    stop_date: int | None = None  # replied STOP (inbound SMS of the messages area)


@dataclass
class Row:
    list_id: int
    person: Person
    fields: dict[str, Any]
    date_added: int
    dirt: list[str]
    contact_id: int | None = None
    group_id: int | None = None
    rule: str | None = None
    base: bool = True


def seed_area(store: Store, seed_value: int, n_sms: int, now_ts: int, rng: Any) -> None:
    """Seed lists, contacts and their truth (deterministic for ``seed_value``, ``now_ts``)."""
    mc.ensure_schema(store)
    py = random.Random(int(rng.integers(0, 2**62)))
    _Seeder(store, seed_value, n_sms, now_ts, py).run()


def total_contacts(n_sms: int) -> int:
    """About n_sms / 5 contacts, at least 60, at most 100,000.

    Example::

        >>> total_contacts(300), total_contacts(5000), total_contacts(1_000_000)
        (60, 1000, 100000)
    """
    return int(min(100_000, max(60, n_sms // 5)))


def ascii_slug(text: str) -> str:
    """Lower-case ASCII letters of a name (accents folded), for email local parts.

    Example::

        >>> ascii_slug("Zoë O'Brien"), ascii_slug("王芳")
        ('zoeobrien', '')
    """
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def email_key(email: str) -> str:
    """The match key distinct people must not share (gmail dots/+tags, case)."""
    local, _, domain = email.strip().lower().partition("@")
    if domain in PLUS_TAGS:
        local = local.split("+", 1)[0]
    if domain == "gmail.com":
        local = local.replace(".", "")
    return f"{local}@{domain}"


class _Rand:
    """Fast draws from one ``random.Random`` (``random()`` is a single C call; the
    convenience methods of ``Random`` cost microseconds each, which adds up at 100k rows)."""

    def __init__(self, r: random.Random) -> None:
        self.random = r.random
        self.shuffle = r.shuffle
        self.sample = r.sample

    def pick(self, seq: Any) -> Any:
        return seq[int(self.random() * len(seq))]

    def int(self, lo: int, hi: int) -> int:
        """Uniform integer in [lo, hi]."""
        return lo + int(self.random() * (hi - lo + 1))

    def weighted(self, table: tuple[list[Any], list[float]]) -> Any:
        values, cum = table
        return values[bisect.bisect_right(cum, self.random() * cum[-1])]


def _table(pairs: Any) -> tuple[list[Any], list[float]]:
    """(values, cumulative weights) for :meth:`_Rand.weighted`."""
    items = list(pairs.items()) if isinstance(pairs, dict) else list(pairs)
    return [v for v, _ in items], list(itertools.accumulate(w for _, w in items))


FORMAT_TABLES = {name: _table(p["formats"]) for name, p in PROFILES.items()}
FOREIGN_TABLE = _table(FORMATS_FOREIGN)
FOREIGN_READABLE = _table({k: w for k, w in FORMATS_FOREIGN.items() if k != "no_plus"})
DOMAIN_TABLE = _table(COMMON_DOMAINS)
COUNTRY_TABLE = _table(COUNTRY_SPELLINGS)
POSTCODE_CITY = {
    f"{pc:04d}": (state, city) for lo, hi, state, city in POSTCODES for pc in range(lo, hi + 1)
}
ALL_POSTCODES = sorted(POSTCODE_CITY)


@functools.lru_cache(maxsize=4096)
def _slug(text: str) -> str:
    return ascii_slug(text)


class _Seeder:
    def __init__(
        self, store: Store, seed_value: int, n_sms: int, now: int, py: random.Random
    ) -> None:
        self.store, self.seed_value, self.n_sms, self.now = store, seed_value, n_sms, now
        self.r = _Rand(py)
        self.total = total_contacts(n_sms)
        self.persons: list[Person] = []
        self.by_phone: dict[str, Person] = {}
        self.email_keys: set[str] = set()
        self.free_blocks: dict[str, list[str]] = {}  # last initial -> postcodes still free
        self.members: dict[int, list[Person]] = {}
        self.person_lists: dict[int, set[int]] = {}
        self.rows: list[Row] = []
        self.next_group = 1
        self.rule_counts: dict[str, int] = {}
        self.junk_seen: set[str] = set()
        self.review_cases: list[tuple[str, list[Row]]] = []

    # ------------------------------------------------------------------ people

    def person(
        self, first: str, last: str, phone: str | None, landline: bool = False, valid: bool = False
    ) -> Person:
        p = Person(len(self.persons) + 1, first, last, phone, landline)
        p.phone_valid = valid or bool(
            phone and AU_MOBILE.fullmatch(phone[3:]) and phone[:3] == "+61"
        )
        self.persons.append(p)
        if phone:
            self.by_phone[phone] = p
        return p

    def fresh_number(self, iso: str = "AU", landline: bool = False) -> str:
        """An unused number in a range phonenumbers' metadata calls valid (so a cleaner
        can read it): AU mobiles 040-043/046, AU landlines 02 9/03 9/07 3/08 9, ..."""
        r = self.r
        while True:
            if iso == "AU":
                pre = r.pick(("29", "39", "73", "89")) if landline else "4" + r.pick("01236")
                num = f"+61{pre}{r.int(0, 10**7 - 1):07d}"
            else:
                pre, n = {
                    "NZ": ("+6421", 7),
                    "GB": ("+447" + r.pick("123"), 8),
                    "US": ("+1" + r.pick(("212", "415", "617", "312")) + r.pick("23456789"), 6),
                    "SG": ("+659" + r.pick("012345678"), 6),
                }[iso]
                num = f"{pre}{r.int(0, 10**n - 1):0{n}d}"
            if num not in self.by_phone:
                return num

    def give_email(self, p: Person) -> None:
        r = self.r
        first, last = _slug(p.first) or "user", _slug(p.last)
        domain = r.weighted(DOMAIN_TABLE)
        while True:
            n = r.int(1, 9999)
            shape = r.random()
            if shape < 0.4:
                local = f"{first}.{last}{n if shape < 0.3 else ''}"
            elif shape < 0.7:
                local = f"{first[0]}{last}{n}"
            elif shape < 0.9:
                local = f"{first}{n}"
            else:
                local = f"{first}_{last}{n % 100}"
            email = f"{local}@{domain}"
            key = email_key(email)
            if key not in self.email_keys:
                self.email_keys.add(key)
                p.email = email
                return

    def give_work_email(self, p: Person) -> None:
        first, last = _slug(p.first) or "user", _slug(p.last) or "contact"
        domain = self.r.pick(WORK_DOMAINS)
        n = 0
        while True:
            email = f"{first}.{last}{n or ''}@{domain}"
            if email_key(email) not in self.email_keys:
                self.email_keys.add(email_key(email))
                p.work_email = email
                return
            n += 1

    def _initial(self, last: str) -> str:
        return (_slug(last)[:1] or last[:1]).lower()

    def give_address(self, p: Person, postcode: str | None = None) -> bool:
        """A postcode whose (postcode, last initial) block nobody else uses (or ``postcode``,
        for a household sharing its block); False when the initial has none left."""
        r = self.r
        if postcode is None:
            free = self.free_blocks.get(self._initial(p.last))
            if free is None:
                free = self.free_blocks[self._initial(p.last)] = list(ALL_POSTCODES)
                r.shuffle(free)
            if not free:
                return False
            postcode = free.pop()
        p.postcode = postcode
        p.street = f"{r.int(1, 250)} {r.pick(STREETS)} {r.pick(STREET_TYPES)}"
        return True

    def name(self) -> tuple[str, str]:
        return self.r.pick(FIRST_NAMES), self.r.pick(LAST_NAMES)

    # ------------------------------------------------------------------ sources

    def history(
        self,
    ) -> tuple[dict[int, tuple[list[Person], list[Person]]], list[tuple[str, str]]]:
        """People of the SMS history: per campaign list ``(recipients of its latest
        campaign, a sample of earlier recipients)``, and other SMS recipients.

        A sample of the rows is plenty (and cheap at 1M rows); the latest campaign of each
        list (a burst of at most 20 minutes around its newest sampled message) is read in
        full through the date index, so the list holds everyone its last campaign reached.
        """
        k = max(1, self.n_sms // 50_000)
        cols = (
            "list_id, to_, date, json_extract(json, '$.contact_id'), "
            "json_extract(json, '$.first_name'), json_extract(json, '$.last_name')"
        )
        db = self.store.db
        with self.store._lock:
            # Every k-th row by rowid lookups: no scan of the (large) table.
            top = db.execute("SELECT coalesce(max(id), 0) FROM sms").fetchone()[0]
            rows = db.execute(
                "WITH RECURSIVE s(i) AS (SELECT ? UNION ALL SELECT i + ? FROM s WHERE i + ? <= ?) "
                "SELECT m.list_id, m.to_, m.date, CASE WHEN m.list_id IS NULL THEN NULL ELSE m.json END "
                "FROM s JOIN sms m ON m.id = s.i WHERE m.user_id = ? ORDER BY s.i",
                (k, k, k, top, MAIN_USER_ID),
            ).fetchall()
            sample, other, newest = [], set(), {}
            for lid, to, date, js in rows:
                if lid is None:
                    other.add(to)
                    continue
                rec = orjson.loads(js)
                sample.append(
                    (lid, to, date, rec["contact_id"], rec["first_name"], rec["last_name"])
                )
                newest[lid] = max(newest.get(lid, 0), date)
            latest = []
            for lid, date in sorted(newest.items()):
                latest += db.execute(
                    f"SELECT {cols} FROM sms INDEXED BY sms_user_date WHERE user_id = ? "
                    "AND date BETWEEN ? AND ? AND list_id = ? ORDER BY id",
                    (MAIN_USER_ID, date - 1300, date + 1300, lid),
                ).fetchall()
        out: dict[int, tuple[list[Person], list[Person]]] = {}
        used_ids: dict[int, int] = {}  # history contact_id -> pid
        for rows, slot in ((latest, 0), (sample, 1)):
            for list_id, to, date, cid, first, last in rows:
                try:
                    lid, cid = int(list_id), int(cid)
                except (TypeError, ValueError):
                    continue
                if lid not in SOURCES or country_of(to) is None:
                    continue
                p = self.by_phone.get(to)
                if p is None:
                    p = self.person(first or "", last or "", to)
                elif (p.first, p.last) != (first or "", last or ""):
                    continue  # two pool entries drew the same number: keep the first
                if used_ids.setdefault(cid, p.pid) != p.pid:
                    continue  # the id belongs to someone else already
                if lid in p.history:
                    p.history[lid] = (cid, min(p.history[lid][1], int(date)))
                    continue
                p.history[lid] = (cid, int(date))
                out.setdefault(lid, ([], []))[slot].append(p)
        recipients = [(to, country_of(to)) for to in sorted(other) if to not in self.by_phone]
        return out, [(t, c) for t, c in recipients if c]

    # ------------------------------------------------------------------ lists

    def run(self) -> None:
        hist, recipients = self.history()
        self.r.shuffle(recipients)
        recip_iter = iter(recipients)
        for list_id, _, share, profile in LISTS:
            if profile in PROFILES:
                self.members[list_id] = self.pick_members(
                    list_id,
                    round(self.total * share / 1.12),
                    hist.get(list_id, ([], [])),
                    recip_iter,
                )
        self.decorate_people()
        self.members[OPT_OUT_LIST_ID] = self.pick_opt_outs(round(self.total * 0.03), recip_iter)
        for list_id, ms in self.members.items():
            for p in ms:
                self.person_lists.setdefault(p.pid, set()).add(list_id)
        for list_id, _, _, profile in LISTS:
            if profile in PROFILES:
                self.render_list(list_id, profile)
        self.plant_review_cases()
        self.render_opt_outs()
        self.assign_ids()
        self.load()

    def pick_members(
        self, list_id: int, n: int, hist: tuple[list[Person], list[Person]], recipients: Any
    ) -> list[Person]:
        spec = SOURCES[list_id]
        r = self.r
        latest, earlier = hist
        # Everyone the list's latest campaign reached is still in it, whatever its size.
        n = max(n, round(len(latest) * 1.15))
        chosen: list[Person] = []
        seen: set[int] = set()

        def take(p: Person) -> None:
            if p.pid not in seen and len(chosen) < n:
                seen.add(p.pid)
                chosen.append(p)

        au_only = spec["au_only"]
        for p in latest:
            take(p)
        pool = [p for p in earlier if not au_only or (p.phone or "").startswith("+61")]
        for p in r.sample(pool, min(len(pool), round(n * spec["history"]))):
            take(p)
        for other, frac in spec["from"].items():
            src = [p for p in self.members.get(other, []) if p.special is None]
            for p in r.sample(src, min(len(src), round(n * frac))):
                take(p)
        want = len(chosen) + round(n * spec["recipients"])
        while len(chosen) < want:
            got = next(recipients, None)
            if got is None:
                break
            to, iso = got
            if (au_only and iso != "AU") or to in self.by_phone:
                continue
            first, last = self.name()
            take(self.person(first, last, to))
        email_only = PROFILES[LISTS_BY_ID[list_id][3]]["email"] > 0.9
        while len(chosen) < n:
            first, last = self.name()
            roll = r.random()
            if roll < 0.03 and len(chosen) + 2 <= n:  # a household: two people, one landline
                num = self.fresh_number("AU", landline=True)
                a = self.person(first, last, num, landline=True, valid=True)
                second = r.pick([f for f in FIRST_NAMES if f[0] != first[0]])
                b = Person(len(self.persons) + 1, second, last, num, True, phone_valid=True)
                self.persons.append(b)
                a.special = b.special = "household"
                if self.give_address(a):
                    self.give_address(b, a.postcode)
                    b.street = a.street
                take(a)
                take(b)
            elif roll < 0.10 and not au_only:
                num = self.fresh_number(r.pick(("NZ", "GB", "US", "SG")))
                take(self.person(first, last, num, valid=True))
            elif roll < 0.17:
                num = self.fresh_number("AU", True)
                take(self.person(first, last, num, landline=True, valid=True))
            elif roll < 0.23 and email_only:
                take(self.person(first, last, None))  # email-only person
            else:
                take(self.person(first, last, self.fresh_number("AU"), valid=True))
        return chosen

    def decorate_people(self) -> None:
        """Emails, addresses and organisations for everyone chosen (once per person)."""
        r = self.r
        for p in self.persons:
            if p.special == "household":
                continue
            if p.phone is None or r.random() < 0.75:
                self.give_email(p)
            if r.random() < 0.55:
                self.give_address(p)
            if r.random() < 0.08:
                p.org = r.pick(ORGS)
                if r.random() < 0.3:
                    p.fax = self.fresh_number("AU", landline=True)

    def stop_senders(self) -> list[tuple[str, int]]:
        """``(number, date of the first STOP)`` of the seeded inbound opt-outs (messages
        area, which seeds before this one), or [] when that area is absent."""
        db = self.store.db
        with self.store._lock:
            if not db.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='msg_inbound'"
            ).fetchone():
                return []
            rows = db.execute(
                "SELECT from_, min(date) FROM msg_inbound WHERE opt_out = 1 AND user_id = ? "
                "GROUP BY from_ ORDER BY from_",
                (MAIN_USER_ID,),
            ).fetchall()
        return [(to, int(date)) for to, date in rows if country_of(str(to))]

    def pick_opt_outs(self, n: int, recipients: Any) -> list[Person]:
        """People on the opt-out list: everyone who replied STOP (as ClickSend adds them),
        plus list members who opted out otherwise (phone, or the email of email-only
        people) and other SMS recipients, up to at least ``n``."""
        picked: list[Person] = []
        seen: set[int] = set()
        for to, date in self.stop_senders():
            p = self.by_phone.get(to) or self.person("", "", to)
            if p.pid not in seen and p.special != "household":
                seen.add(p.pid)
                p.stop_date = date
                picked.append(p)
        candidates = []
        for ms in self.members.values():
            for p in ms:
                if p.special != "household" and p.pid not in seen:
                    seen.add(p.pid)
                    candidates.append(p)
        picked += self.r.sample(candidates, min(len(candidates), round(n * 0.3)))
        while len(picked) < n:
            got = next(recipients, None)
            to = got[0] if got else self.fresh_number("AU")
            if to not in self.by_phone:
                picked.append(self.person("", "", to))
        return picked

    # ------------------------------------------------------------------ rendering

    def fmt_phone(self, e164: str, kind: str, landline: bool) -> str:
        """One written form of a number: e164, intl_spaced, national_spaced, national,
        dashes, brackets, dots, intl_00, no_plus, no_trunk (the last seven AU only)."""
        if not e164.startswith("+61"):
            iso = country_of(e164) or "US"
            cc = COUNTRIES[iso].calling_code
            nat = e164[1 + len(cc) :]
            if cc == "1":  # NANP: area code, exchange, line
                groups = f"{nat[:3]} {nat[3:6]} {nat[6:]}"
            else:
                groups = f"{nat[:2]} {nat[2:5]} {nat[5:]}" if len(nat) > 7 else nat
            if kind == "intl_spaced":
                return f"+{cc} {groups}"
            if kind == "intl_00":
                return f"00{cc} {groups}"
            if kind == "no_plus":
                return f"{cc}{nat}"
            return e164
        nat = e164[3:]
        if landline:  # area digit + 8
            a, b, c = nat[0], nat[1:5], nat[5:]
        else:
            a, b, c = nat[:3], nat[3:6], nat[6:]
        if kind == "e164":
            return e164
        if kind == "intl_spaced":
            return f"+61 {a} {b} {c}"
        if kind == "national_spaced":
            return f"0{a} {b} {c}"
        if kind == "national":
            return f"0{nat}"
        if kind == "dashes":
            return f"0{a}-{b}-{c}"
        if kind == "brackets":
            return f"(0{a}) {b} {c}" if landline else f"(0{nat[0]}) {nat[1:5]} {nat[5:]}"
        if kind == "dots":
            return f"0{a}.{b}.{c}"
        if kind == "intl_00":
            return f"0061 {a} {b} {c}"
        if kind == "no_plus":
            return f"61{nat}"
        return nat  # no_trunk: a spreadsheet dropped the leading 0

    def phone_text(
        self, p: Person, profile: str, junk: bool, readable: bool = False
    ) -> tuple[str, str]:
        """``(text, dirt)`` of the person's number as this list wrote it. ``junk``: maybe
        unusable (6 %); ``readable``: a form the API reads back as the same number."""
        r = self.r
        assert p.phone
        au = p.phone.startswith("+61")
        if junk and r.random() < 0.06:
            nat = "0" + p.phone[3:] if au else p.phone
            # Length and trunk-prefix faults are only surely unreadable in an AU number.
            kinds = ("extension", "two_numbers", *INVALID_PHONES) if au else INVALID_ANYWHERE
            unused = [k for k in kinds if k not in self.junk_seen]
            # Each kind at least once; those only an AU number can show, first.
            kind = unused[0] if unused and au else r.pick(unused or kinds)
            self.junk_seen.add(kind)
            if kind == "extension":
                return f"{nat} ext {r.int(2, 40)}", "phone_extension"
            if kind == "two_numbers":
                other = self.fmt_phone(self.fresh_number("AU", True), "national_spaced", True)
                mine = self.fmt_phone(p.phone, "national_spaced", p.landline)
                return f"{mine} / {other}", "phone_two_numbers"
            value = {
                "too_short": nat[:-2],
                "too_long": nat + "9",
                "letters": f"{nat[:4]} ABC {nat[7:]}",
                "na": "n/a",
                "unknown": "unknown",
                "excel": f"{float(p.phone[1:]):.5E}",
                "junk": "1234",
                "trunk_in_brackets": f"{p.phone[:3]} (0) {p.phone[3:]}",
            }[kind]
            return value, f"phone_invalid:{kind}"
        if au:
            kind = r.weighted(FORMAT_TABLES[profile])
        else:
            kind = r.weighted(FOREIGN_READABLE if readable else FOREIGN_TABLE)
        return self.fmt_phone(p.phone, kind, p.landline), f"fmt:{kind}"

    def email_variant(self, email: str, gmail_variants: bool) -> tuple[str, str]:
        """Another written form of the same address (same match key)."""
        local, _, domain = email.partition("@")
        r = self.r
        options = ["whitespace", "domain_case"]
        if domain in CASE_FREE:
            options.append("case")
        if gmail_variants and domain in PLUS_TAGS:
            options.append("plus")
        if gmail_variants and domain == "gmail.com":
            options.append("dots")
        kind = r.pick(options)
        if kind == "whitespace":
            return (f" {email} " if r.random() < 0.5 else f"{email}\t"), "email_whitespace"
        if kind == "domain_case":
            return f"{local}@{domain.upper()}", "email_case"
        if kind == "case":
            return (
                f"{local.title()}@{domain}" if r.random() < 0.6 else email.upper()
            ), "email_case"
        if kind == "plus":
            tag = r.pick(("news", "promo", "shop", "sale"))
            return f"{local}+{tag}@{domain}", "email_gmail_variant"
        bare = local.replace(".", "")
        dotted = ".".join(bare[i : i + 3] for i in range(0, len(bare), 3))
        return f"{dotted if dotted != local else bare}@{domain}", "email_gmail_variant"

    def name_forms(self, p: Person, typo: bool = False) -> tuple[str, str, list[str]]:
        """The person's names as written in one row (case, whitespace, typos)."""
        r = self.r
        first, last = p.first, p.last
        roll = r.random()
        if roll < 0.05:
            return first.upper(), last.upper(), ["name_case"]
        if roll < 0.08:
            return first.lower(), last.lower(), ["name_case"]
        if roll < 0.11:
            return f" {first}", f"{last}  ", ["name_whitespace"]
        first_typo = "name_typo" not in self.junk_seen
        if typo and (roll < 0.2 or first_typo) and len(first) >= 5 and first.isascii():
            self.junk_seen.add("name_typo")
            i = r.int(1, len(first) - 2)
            return first[:i] + first[i + 1 :], last, ["name_typo"]
        return first, last, []

    def custom_fields(self, p: Person, profile: str) -> dict[str, Any]:
        r = self.r
        f: dict[str, Any] = dict(ROW_TEMPLATE)  # every column, in order
        if profile == "crm":
            f["custom_1"] = f"CUST-{100000 + p.pid}"
            f["custom_2"] = r.pick(("Gold", "Silver", "Bronze", ""))
            f["custom_3"] = r.pick(("Collins St", "Chadstone", "Online", "Bourke St", ""))
        elif profile == "web":
            f["custom_1"] = r.pick(("Website", "Facebook", "Instagram", "Referral", "Google"))
        elif profile == "event":
            f["custom_1"] = "Summit 2026"
            f["custom_2"] = r.pick(("GA", "VIP", "Student", "Speaker"))
            f["custom_3"] = r.pick(("", "", "Vegetarian", "Vegan", "Gluten free"))
        elif profile == "api":
            f["custom_1"] = r.pick(("Priya Shah", "Sam Nguyen", "Alex Morgan"))
        if p.org:
            f["organization_name"] = p.org
        return f

    def address(self, p: Person, f: dict[str, Any], dirt: list[str]) -> None:
        if not p.postcode or f["address_postal_code"]:
            return
        state, city = POSTCODE_CITY[p.postcode]
        f.update(
            address_line_1=p.street,
            address_city=city,
            address_state=state,
            address_postal_code=p.postcode,
        )
        country = self.r.weighted(COUNTRY_TABLE)
        f["address_country"] = country or None
        if country != "AU":
            dirt.append("country_format")

    def render_list(self, list_id: int, profile: str) -> None:
        r = self.r
        for p in self.members[list_id]:
            # Rows of people seen elsewhere (other lists, groups, households) stay
            # linkable: no junk numbers, placeholder names or broken emails.
            linked = p.special is not None or len(self.person_lists[p.pid]) > 1
            rule = self.pick_rule(p) if not linked and r.random() < 0.11 else None
            # A campaign of this list reached the person: history shows these very names.
            sent = list_id in p.history
            junk = not linked and rule is None and not sent
            row = self.render_row(p, list_id, profile, junk=junk, rule=rule, exact_names=sent)
            self.rows.append(row)
            if rule:
                p.special = "group"
                row.group_id, row.rule = self.next_group, rule
                row.dirt.append(f"dup_{rule.replace('+', '_')}")
                for _ in range(1 if r.random() < 0.75 else 2):
                    self.rows.append(self.variant(p, row, list_id, profile, rule))
                self.next_group += 1

    def pick_rule(self, p: Person) -> str | None:
        options = []
        if p.phone and p.phone_valid and not p.landline:
            options += ["phone"] * 5
        if p.phone and p.phone_valid and p.landline and p.first and p.last:
            options += ["phone+name"] * 2
        if p.email:
            options += ["email"] * 3
        if p.postcode and p.phone and p.first and p.last:
            options += ["name+postcode"] * 2
        if not options:
            return None
        unused = [o for o in options if not self.rule_counts.get(o)]
        rule = self.r.pick(unused or options)
        self.rule_counts[rule] = self.rule_counts.get(rule, 0) + 1
        if rule == "name+postcode":
            self.give_work_email(p)
        return rule

    def render_row(
        self,
        p: Person,
        list_id: int,
        profile: str,
        junk: bool,
        rule: str | None,
        exact_names: bool = False,
    ) -> Row:
        """The person's row in a list; ``junk`` allows unusable values (only for people
        who appear nowhere else), ``rule`` shapes the first row of a duplicate group."""
        r = self.r
        prof = PROFILES[profile]
        f = self.custom_fields(p, profile)
        dirt: list[str] = []
        if rule in ("phone+name", "name+postcode") or exact_names:
            first, last = p.first, p.last  # compared by the rule, or shown in history
        else:
            first, last, dirt = self.name_forms(p)
            if junk:
                roll = r.random()
                if roll < 0.04:
                    first, dirt = r.pick(PLACEHOLDER_NAMES), ["name_placeholder"]
                elif roll < 0.07:
                    first, last, dirt = "", "", ["name_missing"]
                elif roll < 0.10:
                    first, dirt = "", ["name_missing_first"]
                elif roll < 0.12:
                    last, dirt = "", ["name_missing_last"]
        f["first_name"], f["last_name"] = first, last
        want_phone = p.phone is not None and (
            rule in ("phone", "phone+name", "name+postcode")
            or not junk
            or r.random() < prof["phone"]
            or not p.email
        )
        if want_phone:
            f["phone_number"], kind = self.phone_text(p, profile, junk, readable=exact_names)
            dirt.append(kind)
        want_email = (
            p.email is not None
            and rule != "name+postcode"
            and (rule == "email" or r.random() < prof["email"] or not want_phone)
        )
        if want_email:
            email = p.email
            if r.random() < 0.12:
                email, kind = self.email_variant(email, gmail_variants=False)
                dirt.append(kind)
            elif junk and r.random() < 0.03:
                local, _, domain = email.partition("@")
                email = r.pick(
                    (f"{local}@", f"{local}@{domain.split('.')[0]}", f"{local}@@{domain}",
                     f"{local} @{domain}")
                )  # fmt: skip
                dirt.append("email_invalid")
            f["email"] = email
        if p.fax and (p.org and r.random() < 0.3 or not (want_phone or want_email)):
            f["fax_number"] = self.fmt_phone(p.fax, "national_spaced", True)
            if not (want_phone or want_email):
                dirt.append("fax_only")
        if junk and p.fax and ("fax_only" not in self.junk_seen or r.random() < 0.1):
            self.junk_seen.add("fax_only")  # an office reached by fax only
            f["phone_number"], f["email"] = "", None
            f["fax_number"] = self.fmt_phone(p.fax, "national_spaced", True)
            dirt = [d for d in dirt if not d.startswith(("fmt:", "phone_", "email_"))] + [
                "fax_only"
            ]
        if not f.get("phone_number"):
            dirt.append("no_phone")
        if p.special == "household":
            dirt.append("shared_landline")
        if rule == "name+postcode" or r.random() < prof["address"]:
            self.address(p, f, dirt)
        return Row(list_id, p, f, self.date_added(p, list_id), dirt)

    def variant(self, p: Person, base: Row, list_id: int, profile: str, rule: str) -> Row:
        """Another row of the same person in the same list, linked to the base by ``rule``."""
        r = self.r
        f = self.custom_fields(p, profile)
        dirt: list[str] = [f"dup_{rule.replace('+', '_')}"]
        if rule in ("phone", "phone+name"):
            assert p.phone
            used = {d[4:] for d in base.dirt if d.startswith("fmt:")}
            # A foreign number without its "+" reads as a national one: the planted
            # duplicate would then be a different number, so variants stay readable.
            table = FORMAT_TABLES["event"] if p.phone.startswith("+61") else FOREIGN_READABLE
            kinds = [k for k in table[0] if k not in used] or table[0]
            kind = r.pick(kinds)
            f["phone_number"] = self.fmt_phone(p.phone, kind, p.landline)
            dirt.append(f"fmt:{kind}")
            if rule == "phone":
                first, last, nd = self.name_forms(p, typo=True)
                if r.random() < 0.15:
                    first, nd = "", ["name_missing_first"]
                if p.email and r.random() < 0.4:
                    f["email"] = p.email
            else:
                first, last, nd = p.first, p.last, []
                if r.random() < 0.5:
                    first, last, nd = p.first.upper(), p.last.upper(), ["name_case"]
            dirt += nd
        elif rule == "email":
            assert p.email
            f["email"], kind = self.email_variant(p.email, gmail_variants=True)
            first, last, nd = self.name_forms(p, typo=True)
            dirt += [kind, *nd, "no_phone"]
        else:  # name+postcode: the person's other (work) address, no phone
            f["email"] = p.work_email
            first, last = p.first, p.last
            if r.random() < 0.3:
                first, last = first.upper(), last.upper()
                dirt.append("name_case")
            dirt.append("no_phone")
            self.address(p, f, dirt)
        f["first_name"], f["last_name"] = first, last
        added = min(base.date_added + r.int(86400, 400 * 86400), self.now - 3600)
        return Row(list_id, p, f, added, dirt, group_id=base.group_id, rule=rule, base=False)

    def date_added(self, p: Person, list_id: int) -> int:
        r = self.r
        hist = p.history.get(list_id)
        if hist:  # before the person's first campaign from this list
            return max(self.now - 3 * 365 * 86400, hist[1] - r.int(86400, 90 * 86400))
        if list_id == int(LIST_IDS[3]):  # Event signups 2026: the last 8 months
            return self.now - r.int(3600, 240 * 86400)
        return self.now - int(r.random() ** 1.5 * 3 * 365 * 86400) - r.int(3600, 86400)

    def plant_review_cases(self) -> None:
        """Rows across lists that a careful matcher links but must not merge silently
        (:data:`REVIEW_KINDS`): each row in another list, so no list holds two rows of a
        case and the per-list truth (duplicate groups, households) is unchanged."""
        r = self.r
        lists = [lid for lid, _, _, profile in LISTS if profile in PROFILES]
        n = max(len(REVIEW_KINDS) * 2, self.total // 80)
        for i in range(n):
            kind = tuple(REVIEW_KINDS)[i % len(REVIEW_KINDS)]
            first, last = self.name()
            phone = self.fresh_number("AU")
            if kind == "changed_mobile":  # one person, an old and a new mobile
                a = self.person(first, last, phone, valid=True)
                self.give_email(a)
                b = self.person(first, last, self.fresh_number("AU"), valid=True)
                b.email = a.email
                people = [a, b]
            elif kind == "shared_mobile":  # a parent and a child on one mobile
                a = self.person(first, last, phone, valid=True)
                other = r.pick([f for f in FIRST_NAMES if f[0] != first[0]])
                b = Person(len(self.persons) + 1, other, last, phone, phone_valid=True)
                self.persons.append(b)
                self._same_home(a, b)
                people = [a, b]
            elif kind == "unnamed":  # one mobile, one row without a first name, two emails
                a = self.person(first, last, phone, valid=True)
                self.give_email(a)
                b = Person(len(self.persons) + 1, "", last, phone, phone_valid=True)
                self.persons.append(b)
                self.give_email(b)
                self._same_home(a, b)
                people = [a, b]
            else:  # chain: A~B share a mobile, B~C an email; A and C share nothing
                a = self.person(first, last, phone, valid=True)
                self.give_email(a)
                b = Person(len(self.persons) + 1, first, last, phone, phone_valid=True)
                self.persons.append(b)
                self.give_email(b)
                c = self.person(first, last, self.fresh_number("AU"), valid=True)
                c.email = b.email
                people = [a, b, c]
            rows = []
            for p, list_id in zip(people, r.sample(lists, len(people)), strict=True):
                p.special = "review"
                profile = LISTS_BY_ID[list_id][3]
                f = self.custom_fields(p, profile)
                f["first_name"], f["last_name"] = p.first, p.last
                fmt = r.pick(("e164", "national_spaced", "national", "intl_spaced"))
                assert p.phone  # every case row has a mobile
                f["phone_number"] = self.fmt_phone(p.phone, fmt, False)
                f["email"] = p.email
                dirt = [f"fmt:{fmt}", *([] if p.first else ["name_missing_first"])]
                self.address(p, f, dirt)  # the family cases give their (one) address
                row = Row(list_id, p, f, self.date_added(p, list_id), [*dirt, f"review_{kind}"])
                rows.append(row)
            self.rows += rows
            self.review_cases.append((kind, rows))

    def _same_home(self, a: Person, b: Person) -> None:
        """One address for two people of a review case (a family): with one mobile and a
        surname, it is what makes a matcher link them whatever the surname's frequency."""
        if self.give_address(a):
            b.postcode, b.street = a.postcode, a.street

    def render_opt_outs(self) -> None:
        """Opt-out rows as ClickSend adds them: E.164 numbers (or the email), no names."""
        r = self.r
        for p in self.members[OPT_OUT_LIST_ID]:
            f = dict(ROW_TEMPLATE, custom_1="Opted out")
            if p.stop_date:
                f["custom_1"] = "STOP reply"
            if p.phone:
                f["phone_number"] = p.phone
                dirt = ["fmt:e164", "name_missing"]
            else:
                f["email"], f["custom_1"] = p.email.upper(), "Email unsubscribe"
                dirt = ["email_case", "name_missing", "no_phone"]
            added = (
                (p.stop_date + r.int(1, 60)) if p.stop_date else self.now - r.int(3600, 300 * 86400)
            )
            self.rows.append(Row(OPT_OUT_LIST_ID, p, f, added, dirt))

    # ------------------------------------------------------------------ ids and load

    def assign_ids(self) -> None:
        """History contacts keep their history ids; others get ids in date_added order."""
        taken = set()
        for row in self.rows:
            hist = row.person.history.get(row.list_id)
            if row.base and hist and hist[0] not in taken:
                row.contact_id = hist[0]
                taken.add(hist[0])
        rest = sorted(
            (row for row in self.rows if row.contact_id is None), key=lambda x: x.date_added
        )
        for i, row in enumerate(rest):
            row.contact_id = FIRST_FRESH_ID + i

    def load(self) -> None:
        rand, now = self.r.random, self.now
        person_lists = self.person_lists
        contacts, truth = [], []
        self.rows.sort(key=operator.attrgetter("contact_id"))
        for row in self.rows:
            f = row.fields  # ROW_TEMPLATE's keys, in CONTACT_COLUMNS order
            added = row.date_added
            f["date_added"] = added
            f["date_updated"] = added + int(rand() * (now - added)) if rand() < 0.3 else added
            contacts.append((row.contact_id, row.list_id, *f.values()))
            dirt = ",".join(row.dirt)
            if len(person_lists.get(row.person.pid, ())) > 1:
                dirt += ",cross_list"
            truth.append(
                (row.contact_id, row.list_id, row.person.pid, row.group_id, row.rule,
                 int(row.base), row.person.phone, int(row.person.phone_valid), dirt)
            )  # fmt: skip
        lists = [(lid, MAIN_USER_ID, name) for lid, name, _, _ in LISTS]
        mc.bulk_insert(self.store, self.seed_value, lists, contacts, truth)
        self.store.set_meta(
            "contacts_seed",
            {
                "lists": {str(lid): name for lid, name, _, _ in LISTS},
                "opted_out": self.opted_out(),
                "contacts": len(contacts),
                "review_cases": [
                    {
                        "case_id": i,
                        "kind": kind,
                        "same_person": REVIEW_KINDS[kind],
                        "contacts": [[row.list_id, row.contact_id] for row in rows],
                    }
                    for i, (kind, rows) in enumerate(self.review_cases, 1)
                ],
            },
        )

    def opted_out(self) -> dict[str, dict[str, list[int]]]:
        """Per list, the contacts remove-opted-out-contacts with the opt-out list deletes:
        rows of opted-out people whose number reads (default country AU) as theirs, or
        whose email equals theirs ignoring case and surrounding whitespace."""
        phones, emails, pids = set(), set(), set()
        for p in self.members[OPT_OUT_LIST_ID]:
            pids.add(p.pid)
            if p.phone:
                phones.add(p.phone)
            elif p.email:
                emails.add(p.email.casefold())
        out: dict[str, list[int]] = {}
        for row in self.rows:  # sorted by contact_id in load()
            if row.list_id == OPT_OUT_LIST_ID or row.person.pid not in pids:
                continue
            phone = mc.normalise_phone(row.fields.get("phone_number"), "AU")
            email = (row.fields.get("email") or "").strip().casefold()
            if (phone and phone in phones) or (email and email in emails):
                out.setdefault(str(row.list_id), []).append(row.contact_id)
        return {lid: {str(OPT_OUT_LIST_ID): ids} for lid, ids in out.items()}


# AU mobile numbers phonenumbers calls valid (its metadata, national number without 0).
AU_MOBILE = re.compile(
    r"4(?:79[01]|83[0-36-9]|9(?:5[0-3]|6[0-4]))\d{5}|4(?:[0-36]\d|4[047-9]|[58][0-24-9]|7[02-8]|9[0-47-9])\d{6}"
)
# A contact row's fields: "" for the non-null text columns, None for the others.
ROW_TEMPLATE: dict[str, Any] = {c: "" if c in mc.NOT_NULL else None for c in mc.CONTACT_COLUMNS[2:]}
# Planted review cases (rows in different lists): kind -> whether its rows are one person
# (None: cannot be told from the rows). See _Seeder.plant_review_cases.
REVIEW_KINDS: dict[str, bool | None] = {
    "changed_mobile": True,  # same name and email, two mobiles: a new number, probably
    "shared_mobile": False,  # same mobile and surname, two first names: a family phone
    "unnamed": None,  # one mobile and surname, one row without first name, two emails
    "chain": None,  # A~B one mobile, B~C one email, same name: one person or two namesakes
}
FIRST_FRESH_ID = 9_000_001  # seeded contacts not from history; history ids are below
LISTS_BY_ID = {lst[0]: lst for lst in LISTS}
