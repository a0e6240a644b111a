"""Contact lists and contacts: SQLite tables, the API's write rules, and match keys.

Tables (created on first use by :func:`ensure_schema`, copied at ``Store.snapshot()`` and
restored at ``Store.reset()``):

- ``contact_lists`` -- one row per list, owned by an account (``user_id``); every login
  of the account sees the account's lists.
- ``contacts`` -- one row per contact; the columns are the API record's keys in the
  API's order, so a record is ``dict(zip(CONTACT_COLUMNS, row))`` plus ``_list_name``.
  Text columns the OpenAPI types as non-null strings (phone_number, names, custom_N)
  hold ``""`` when unset; the others are NULL.
The seed's ground truth per seeded contact (person, planted duplicate group, kinds of
dirt; see :mod:`csframe.sandbox.seed_contacts`) is kept in memory (:attr:`AreaState.truth`).

Write rules (what the API does with a contact it is given; decisions documented in the
README): every text field is trimmed; ``phone_number`` and ``fax_number`` are normalised
to E.164 with the account's ``default_country_sms`` when they can be read as a number,
and stored as given otherwise; at least one of phone_number, email, fax_number must be
non-blank. Matching (remove-duplicates, remove-opted-out) compares :func:`match_key`
values: phones as E.164 where they normalise, everything else trimmed and case-folded.

Example::

    ensure_schema(store)
    lst = create_list(store, 48213, "Customers")
    rec = create_contact(store, 48213, lst["list_id"], {"phone_number": "0411 111 111"})
    rec["phone_number"]        # '+61411111111'
"""

from __future__ import annotations

import functools
import hashlib
import random
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from csframe.sandbox.keyset import OrderKey
from csframe.sandbox.models import Store
from csframe.sandbox.pricing import NumberError, country_of, normalise_number

# The record's keys in the API's order (without the trailing _list_name).
CONTACT_COLUMNS = (
    "contact_id",
    "list_id",
    "phone_number",
    "first_name",
    "last_name",
    "custom_1",
    "custom_2",
    "custom_3",
    "custom_4",
    "date_added",
    "date_updated",
    "fax_number",
    "organization_name",
    "email",
    "address_line_1",
    "address_line_2",
    "address_city",
    "address_state",
    "address_postal_code",
    "address_country",
)
# Fields a client may write (POST/PUT contact, import columns).
WRITABLE = tuple(
    c for c in CONTACT_COLUMNS if c not in ("contact_id", "list_id", "date_added", "date_updated")
)
# Non-null strings in the OpenAPI contact schema: "" when unset.
NOT_NULL = frozenset(
    ("phone_number", "first_name", "last_name", "custom_1", "custom_2", "custom_3", "custom_4")
)
CHANNELS = ("phone_number", "email", "fax_number")
PHONE_FIELDS = ("phone_number", "fax_number")

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS contact_lists (
    list_id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    list_name TEXT NOT NULL,
    list_email_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS contact_lists_user ON contact_lists(user_id, list_id);
CREATE TABLE IF NOT EXISTS contacts (
    contact_id INTEGER PRIMARY KEY,
    list_id INTEGER NOT NULL,
    {", ".join(f"{c} TEXT NOT NULL DEFAULT ''" if c in NOT_NULL else (f"{c} INTEGER NOT NULL" if c.startswith("date_") else f"{c} TEXT") for c in CONTACT_COLUMNS[2:])}
);
CREATE INDEX IF NOT EXISTS contacts_list ON contacts(list_id, contact_id);
"""
TRACKED = ("contact_lists", "contacts")
# The seed's truth rows (kept in memory; the seed never changes): (contact_id, list_id,
# person_id, group_id, rule, base, phone_e164, phone_valid, dirt) -- see seed_contacts.
TRUTH_COLUMNS = (
    "contact_id",
    "list_id",
    "person_id",
    "group_id",
    "rule",
    "base",
    "phone_e164",
    "phone_valid",
    "dirt",
)

_CONTACT_INSERT = (
    f"INSERT INTO contacts ({', '.join(CONTACT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(CONTACT_COLUMNS))})"
)


class NotFound(LookupError):
    """A list or contact that does not exist (for this account)."""


class Forbidden(PermissionError):
    """A list that exists but belongs to another account."""


class Invalid(ValueError):
    """A write the API refuses: ``code`` is the response_code (HTTP 400)."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


# ---------------------------------------------------------------------- per-store state


@dataclass
class AreaState:
    """In-memory state of this area for one store (settings, import jobs, id streams)."""

    settings: dict[str, Any] = field(
        default_factory=lambda: {"upload_ttl_seconds": 600, "import_rows_per_second": 5000}
    )
    imports: dict[str, Any] = field(default_factory=dict)  # import id -> ImportJob
    ids: random.Random = field(default_factory=lambda: random.Random("contacts-area:0"))
    threads: list[threading.Thread] = field(default_factory=list)
    truth: list[tuple[Any, ...]] = field(default_factory=list)  # TRUTH_COLUMNS rows


_STATES: weakref.WeakKeyDictionary[Store, AreaState] = weakref.WeakKeyDictionary()
_STATES_LOCK = threading.Lock()


def state(store: Store) -> AreaState:
    """This area's in-memory state of ``store`` (created with the schema on first use)."""
    with _STATES_LOCK:
        st = _STATES.get(store)
        if st is None:
            st = _STATES[store] = AreaState(ids=random.Random(f"contacts-area:{store.seed_value}"))
            _install(store)
    return st


def ensure_schema(store: Store) -> None:
    """Create the tables and register the snapshot/reset hooks (idempotent)."""
    state(store)


def _install(store: Store) -> None:
    with store._lock:
        store.db.executescript(SCHEMA)
    store.snapshot_hooks.append(_snapshot)
    store.reset_hooks.append(_reset)


def _snapshot(store: Store) -> None:
    with store._lock:
        for t in TRACKED:
            store.db.execute(f"DROP TABLE IF EXISTS _seed_{t}")
            store.db.execute(f"CREATE TABLE _seed_{t} AS SELECT * FROM {t}")
    st = state(store)
    st.ids = random.Random(f"contacts-area:{store.seed_value}")


def _reset(store: Store) -> None:
    st = state(store)
    # Running imports stop before their next batch (they check under the store lock,
    # which reset holds): no join here, a worker may be waiting for that lock.
    for job in list(st.imports.values()):
        job.cancel()
    st.threads.clear()
    st.imports.clear()
    st.ids = random.Random(f"contacts-area:{store.seed_value}")
    with store._lock:
        db = store.db
        db.execute("BEGIN")
        for t in TRACKED:
            db.execute(f"DELETE FROM {t}")
            if db.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (f"_seed_{t}",)
            ).fetchone():
                db.execute(f"INSERT INTO {t} SELECT * FROM _seed_{t}")
        for hook in RESET_EXTRAS:
            hook(store)
        db.execute("COMMIT")


# Other modules of this area (uploads/imports) append table cleanups run inside reset.
RESET_EXTRAS: list[Any] = []


# ---------------------------------------------------------------------- helpers


def default_country(store: Store, user_id: int) -> str:
    """The account's ``default_country_sms`` (national numbers are read in it)."""
    try:
        info, _ = store.account_info(user_id)
    except TypeError:  # no such account
        return "AU"
    return str(info.get("default_country_sms") or "AU").upper()


def normalise_phone(raw: Any, country: str) -> str | None:
    """E.164 of a phone/fax number read with ``country`` for national formats, or None.

    Example::

        >>> normalise_phone("(04) 1111 1111", "AU"), normalise_phone("n/a", "AU")
        ('+61411111111', None)
    """
    if raw is None or raw == "":
        return None
    return _normalise_text(str(raw).strip(), country)


@functools.lru_cache(maxsize=131_072)  # bulk operations read the same list again and again
def _normalise_text(text: str, country: str) -> str | None:
    try:
        return normalise_number(text, country)[0]
    except NumberError:
        return None


def match_key(fld: str, value: Any, country: str) -> str:
    """The value remove-duplicates/remove-opted-out compare ("" means blank).

    Phone and fax numbers compare as E.164 when they normalise, otherwise as text;
    everything compares trimmed and case-insensitively.

    Example::

        >>> match_key("phone_number", "0411 111 111", "AU"), match_key("email", " A@B.com", "AU")
        ('+61411111111', 'a@b.com')
    """
    if value is None:
        return ""
    text = str(value).strip()
    if not text:
        return ""
    if fld in PHONE_FIELDS:
        e164 = normalise_phone(text, country)
        if e164:
            return e164
    return text.casefold()


def list_email_id(seed_value: int, list_id: int) -> str:
    """The list's inbound email id: 16 upper-case letters and digits, deterministic.

    Example::

        >>> len(list_email_id(42, 428))
        16
    """
    digest = hashlib.sha256(f"list-email:{seed_value}:{list_id}".encode()).digest()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(alphabet[b % 36] for b in digest[:16])


def _clean_value(fld: str, value: Any) -> str | None:
    if value is None:
        return "" if fld in NOT_NULL else None
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if not text and fld not in NOT_NULL:
        return None
    return text


def prepare_fields(fields: dict[str, Any], country: str) -> dict[str, str | None]:
    """Trim, default and normalise writable fields as the API stores them (unknown keys dropped).

    Example::

        >>> prepare_fields({"phone_number": " 0411 111 111 ", "email": ""}, "AU")["phone_number"]
        '+61411111111'
    """
    out: dict[str, str | None] = {}
    for fld in WRITABLE:
        if fld not in fields:
            continue
        val = _clean_value(fld, fields[fld])
        if fld in PHONE_FIELDS and val:
            val = normalise_phone(val, country) or val
        out[fld] = val
    return out


def has_channel(rec: dict[str, Any]) -> bool:
    return any((rec.get(c) or "").strip() for c in CHANNELS)


def _record(row: Sequence[Any], list_name: str) -> dict[str, Any]:
    rec = dict(zip(CONTACT_COLUMNS, row, strict=True))
    rec["_list_name"] = list_name
    return rec


# ---------------------------------------------------------------------- lists


def _list_row(store: Store, list_id: int) -> tuple[int, int, str, str] | None:
    return store.db.execute(
        "SELECT list_id, user_id, list_name, list_email_id FROM contact_lists WHERE list_id=?",
        (list_id,),
    ).fetchone()


def _own_list(store: Store, user_id: int, list_id: int) -> tuple[int, int, str, str]:
    row = _list_row(store, list_id)
    if row is None:
        raise NotFound(f"List #{list_id} not found.")
    if row[1] != user_id:
        raise Forbidden(f"You don't have access to list #{list_id}.")
    return row


def list_record(
    store: Store, row: tuple[int, int, str, str], count: int | None = None
) -> dict[str, Any]:
    """The API's list object (``_contacts_count`` counted unless given)."""
    list_id = row[0]
    if count is None:
        count = store.db.execute(
            "SELECT count(*) FROM contacts WHERE list_id=?", (list_id,)
        ).fetchone()[0]
    return {
        "list_id": list_id,
        "list_name": row[2],
        "list_email_id": row[3],
        "_contacts_count": count,
        "_import_in_progress": int(import_in_progress(store, list_id)),
        "_optout_in_progress": 0,
    }


def import_in_progress(store: Store, list_id: int) -> bool:
    return any(
        j.list_id == list_id and j.status in ("queued", "processing")
        for j in list(state(store).imports.values())
    )


def lists_page(
    store: Store, user_id: int, page: int, limit: int
) -> tuple[int, list[dict[str, Any]]]:
    """``(total, list objects of the page)`` of an account's lists, by list_id."""
    state(store)
    with store._lock:
        total = store.db.execute(
            "SELECT count(*) FROM contact_lists WHERE user_id=?", (user_id,)
        ).fetchone()[0]
        rows = store.db.execute(
            "SELECT list_id, user_id, list_name, list_email_id FROM contact_lists WHERE user_id=? "
            "ORDER BY list_id LIMIT ? OFFSET ?",
            (user_id, limit, (page - 1) * limit),
        ).fetchall()
        return total, [list_record(store, r) for r in rows]


def get_list(store: Store, user_id: int, list_id: int) -> dict[str, Any]:
    state(store)
    with store._lock:
        return list_record(store, _own_list(store, user_id, list_id))


def list_name(store: Store, user_id: int, list_id: int) -> str:
    """The name of one of the account's lists (raises NotFound/Forbidden)."""
    state(store)
    with store._lock:
        return _own_list(store, user_id, list_id)[2]


def _check_name(name: Any) -> str:
    if name is None or not str(name).strip():
        raise Invalid("MISSING_REQUIRED_FIELDS", "list_name is required.")
    return str(name).strip()


def create_list(
    store: Store, user_id: int, name: Any, list_id: int | None = None
) -> dict[str, Any]:
    """Create a list; its id is the next free one unless given (the seeder gives them)."""
    name = _check_name(name)
    state(store)
    with store._lock:
        if list_id is None:
            list_id = store.db.execute(
                "SELECT coalesce(max(list_id), 0) + 1 FROM contact_lists"
            ).fetchone()[0]
        email_id = list_email_id(store.seed_value, list_id)
        store.db.execute(
            "INSERT INTO contact_lists VALUES (?,?,?,?)", (list_id, user_id, name, email_id)
        )
        return list_record(store, (list_id, user_id, name, email_id), 0)


def rename_list(store: Store, user_id: int, list_id: int, name: Any) -> dict[str, Any]:
    name = _check_name(name)
    state(store)
    with store._lock:
        _own_list(store, user_id, list_id)
        store.db.execute("UPDATE contact_lists SET list_name=? WHERE list_id=?", (name, list_id))
        return list_record(store, _own_list(store, user_id, list_id))


def delete_list(store: Store, user_id: int, list_id: int) -> None:
    """Delete a list and its contacts (an import into it stops)."""
    state(store)
    with store._lock:
        _own_list(store, user_id, list_id)
        store.db.execute("BEGIN")
        store.db.execute("DELETE FROM contacts WHERE list_id=?", (list_id,))
        store.db.execute("DELETE FROM contact_lists WHERE list_id=?", (list_id,))
        store.db.execute("COMMIT")


# ---------------------------------------------------------------------- contacts


@dataclass
class ContactQuery:
    page: int = 1
    limit: int = 15
    updated_after: int | None = None
    q: list[tuple[str, str]] = field(default_factory=list)  # (column, value), validated
    operator: str = "AND"
    order_field: str | None = None  # a column of CONTACT_COLUMNS; None: contact_id
    order_dir: str = "asc"


def contacts_page(
    store: Store, user_id: int, list_id: int, q: ContactQuery
) -> tuple[int, list[dict[str, Any]]]:
    """``(total, records of the page)`` of a list's contacts, by contact_id.

    ``updated_after`` keeps contacts whose ``date_updated`` is strictly greater.
    """
    state(store)
    where = "list_id=?"
    args: list[Any] = [list_id]
    if q.updated_after is not None:
        where += " AND date_updated > ?"
        args.append(q.updated_after)
    if q.q:
        parts = []
        for col, value in q.q:
            if col in ("contact_id", "list_id", "date_added", "date_updated"):
                try:
                    args.append(int(value))
                    parts.append(f"{col}=?")
                except ValueError:
                    parts.append("0")  # a non-number never matches an integer field
            else:
                parts.append(store.text_match(f"coalesce({col}, '')"))
                args.append(store.text_value(value))
        where += " AND (" + (" OR " if q.operator == "OR" else " AND ").join(parts) + ")"
    order: list[OrderKey] = [("contact_id", False)]
    if q.order_field:
        order = [(f"{q.order_field} COLLATE NOCASE", q.order_dir == "desc"), *order]
    with store._lock:
        name = _own_list(store, user_id, list_id)[2]
        # Keyset paging (keyset.py): the total counted once, page N+1 after page N's last
        # row, while nothing was written -- searches and sorts included.
        key = (
            "contacts", list_id, q.updated_after, tuple(q.q), q.operator, q.order_field,
            q.order_dir, q.limit, store.search_match,
        )  # fmt: skip
        total, rows = store.keyset.page(
            store.db, key, "contacts INDEXED BY contacts_list", where, args, order,
            ", ".join(CONTACT_COLUMNS), q.page, q.limit,
        )  # fmt: skip
    return total, [_record(r, name) for r in rows]


def _contact_row(store: Store, list_id: int, contact_id: int) -> tuple[Any, ...]:
    row = store.db.execute(
        f"SELECT {', '.join(CONTACT_COLUMNS)} FROM contacts WHERE contact_id=? AND list_id=?",
        (contact_id, list_id),
    ).fetchone()
    if row is None:
        raise NotFound(f"Contact #{contact_id} not found in list #{list_id}.")
    return row


def get_contact(store: Store, user_id: int, list_id: int, contact_id: int) -> dict[str, Any]:
    state(store)
    with store._lock:
        name = _own_list(store, user_id, list_id)[2]
        return _record(_contact_row(store, list_id, contact_id), name)


def insert_contacts(
    store: Store, list_id: int, records: Iterable[dict[str, Any]], now: int
) -> list[int]:
    """Insert prepared records (see :func:`prepare_fields`) in one transaction; their ids.

    No validation here: callers check channels. Used by POST, copy and the import worker.
    """
    ids = []
    with store._lock:
        db = store.db
        next_id = db.execute("SELECT coalesce(max(contact_id), 0) + 1 FROM contacts").fetchone()[0]
        rows = []
        for rec in records:
            row = [next_id, list_id]
            for c in CONTACT_COLUMNS[2:]:
                if c in ("date_added", "date_updated"):
                    row.append(rec.get(c) or now)
                else:
                    v = rec.get(c)
                    row.append(("" if v is None else v) if c in NOT_NULL else v)
            rows.append(row)
            ids.append(next_id)
            next_id += 1
        db.execute("BEGIN")
        db.executemany(_CONTACT_INSERT, rows)
        db.execute("COMMIT")
    return ids


def create_contact(
    store: Store, user_id: int, list_id: int, fields: dict[str, Any]
) -> dict[str, Any]:
    """POST /lists/{id}/contacts: validate, normalise, insert; the stored record."""
    state(store)
    country = default_country(store, user_id)
    rec = prepare_fields(fields, country)
    if not has_channel(rec):
        raise Invalid(
            "MISSING_REQUIRED_FIELDS",
            "At least one of phone_number, email or fax_number is required.",
        )
    with store._lock:
        name = _own_list(store, user_id, list_id)[2]
        (cid,) = insert_contacts(store, list_id, [rec], store.clock.now())
        return _record(_contact_row(store, list_id, cid), name)


def update_contact(
    store: Store, user_id: int, list_id: int, contact_id: int, fields: dict[str, Any]
) -> dict[str, Any]:
    """PUT: the given fields replace the stored ones (others are kept); a channel must remain."""
    state(store)
    country = default_country(store, user_id)
    changes = prepare_fields(fields, country)
    with store._lock:
        name = _own_list(store, user_id, list_id)[2]
        current = _record(_contact_row(store, list_id, contact_id), name)
        merged = {**current, **changes}
        if not has_channel(merged):
            raise Invalid(
                "MISSING_REQUIRED_FIELDS",
                "At least one of phone_number, email or fax_number is required.",
            )
        sets = [f"{c}=?" for c in changes] + ["date_updated=?"]
        store.db.execute(
            f"UPDATE contacts SET {', '.join(sets)} WHERE contact_id=?",
            [*changes.values(), store.clock.now(), contact_id],
        )
        return _record(_contact_row(store, list_id, contact_id), name)


def delete_contact(store: Store, user_id: int, list_id: int, contact_id: int) -> None:
    state(store)
    with store._lock:
        _own_list(store, user_id, list_id)
        _contact_row(store, list_id, contact_id)
        store.db.execute("DELETE FROM contacts WHERE contact_id=?", (contact_id,))


def copy_contact(
    store: Store, user_id: int, from_list: int, contact_id: int, to_list: int
) -> dict[str, Any]:
    """A new contact (new id, dated now) in ``to_list`` with the fields of the source."""
    state(store)
    with store._lock:
        _own_list(store, user_id, from_list)
        to_name = _own_list(store, user_id, to_list)[2]
        src = _record(_contact_row(store, from_list, contact_id), "")
        fields = {c: src[c] for c in WRITABLE}
        (cid,) = insert_contacts(store, to_list, [fields], store.clock.now())
        return _record(_contact_row(store, to_list, cid), to_name)


def transfer_contact(
    store: Store, user_id: int, from_list: int, contact_id: int, to_list: int
) -> dict[str, Any]:
    """Move the contact (same id) to ``to_list``; ``date_updated`` becomes now."""
    state(store)
    with store._lock:
        _own_list(store, user_id, from_list)
        to_name = _own_list(store, user_id, to_list)[2]
        _contact_row(store, from_list, contact_id)
        if from_list == to_list:
            raise Invalid("BAD_REQUEST", f"Contact #{contact_id} is already in list #{to_list}.")
        store.db.execute(
            "UPDATE contacts SET list_id=?, date_updated=? WHERE contact_id=?",
            (to_list, store.clock.now(), contact_id),
        )
        return _record(_contact_row(store, to_list, contact_id), to_name)


# ---------------------------------------------------------------------- bulk operations

DEDUPE_FIELDS = frozenset(WRITABLE)


def _keys(
    store: Store, list_id: int, fields: Sequence[str], country: str
) -> list[tuple[int, tuple[str, ...]]]:
    cols = ", ".join(fields)
    rows = store.db.execute(
        f"SELECT contact_id, {cols} FROM contacts INDEXED BY contacts_list WHERE list_id=? ORDER BY contact_id",
        (list_id,),
    ).fetchall()
    cache: dict[tuple[str, Any], str] = {}
    out = []
    for row in rows:
        key = []
        for f, v in zip(fields, row[1:], strict=True):
            k = cache.get((f, v))
            if k is None:
                k = cache[(f, v)] = match_key(f, v, country)
            key.append(k)
        out.append((row[0], tuple(key)))
    return out


def duplicate_ids(store: Store, user_id: int, list_id: int, fields: Sequence[str]) -> list[int]:
    """Contacts remove-duplicates would delete: all but the oldest (lowest id) of each group
    of contacts with equal :func:`match_key` on every field; all-blank keys never match."""
    state(store)
    country = default_country(store, user_id)
    with store._lock:
        _own_list(store, user_id, list_id)
        seen: set[tuple[str, ...]] = set()
        doomed = []
        for cid, key in _keys(store, list_id, fields, country):
            if not any(key):
                continue
            if key in seen:
                doomed.append(cid)
            else:
                seen.add(key)
        return doomed


def remove_duplicates(store: Store, user_id: int, list_id: int, fields: Sequence[str]) -> int:
    with store._lock:
        doomed = duplicate_ids(store, user_id, list_id, fields)
        _delete_ids(store, doomed)
        return len(doomed)


def opted_out_ids(store: Store, user_id: int, list_id: int, opt_out_list_id: int) -> list[int]:
    """Contacts of ``list_id`` whose phone number or email is in the opt-out list.

    Phones compare as E.164 (account's default country) where they normalise, else as
    text; emails trimmed and case-insensitively. Fax numbers are not compared.
    """
    state(store)
    country = default_country(store, user_id)
    with store._lock:
        _own_list(store, user_id, list_id)
        _own_list(store, user_id, opt_out_list_id)
        phones, emails = set(), set()
        for _, (p, e) in _keys(store, opt_out_list_id, ("phone_number", "email"), country):
            if p:
                phones.add(p)
            if e:
                emails.add(e)
        return [
            cid
            for cid, (p, e) in _keys(store, list_id, ("phone_number", "email"), country)
            if (p and p in phones) or (e and e in emails)
        ]


def remove_opted_out(store: Store, user_id: int, list_id: int, opt_out_list_id: int) -> int:
    if list_id == opt_out_list_id:
        raise Invalid("BAD_REQUEST", "The opt-out list must be another list.")
    with store._lock:
        doomed = opted_out_ids(store, user_id, list_id, opt_out_list_id)
        _delete_ids(store, doomed)
        return len(doomed)


def _delete_ids(store: Store, ids: list[int]) -> None:
    if not ids:
        return
    db = store.db
    db.execute("BEGIN")
    db.executemany("DELETE FROM contacts WHERE contact_id=?", [(i,) for i in ids])
    db.execute("COMMIT")


# ---------------------------------------------------------------------- search


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(
    store: Store, user_id: int, q: str, page: int, limit: int
) -> tuple[int, list[dict[str, Any]]]:
    """GET /search/contacts-lists: contacts (name, phone or email contains ``q``) then lists
    (name contains ``q``), case-insensitively, each by id."""
    state(store)
    pattern = _like(q.strip())
    c_where = (
        "c.list_id IN (SELECT list_id FROM contact_lists WHERE user_id=?) AND ("
        "(c.first_name || ' ' || c.last_name) LIKE ? ESCAPE '\\' OR c.phone_number LIKE ? ESCAPE '\\' "
        "OR c.email LIKE ? ESCAPE '\\')"
    )
    c_args = [user_id, pattern, pattern, pattern]
    l_where = "user_id=? AND list_name LIKE ? ESCAPE '\\'"
    l_args = [user_id, pattern]
    skip = (page - 1) * limit
    with store._lock:
        db = store.db
        n_c = db.execute(f"SELECT count(*) FROM contacts c WHERE {c_where}", c_args).fetchone()[0]
        n_l = db.execute(f"SELECT count(*) FROM contact_lists WHERE {l_where}", l_args).fetchone()[
            0
        ]
        out: list[dict[str, Any]] = []
        if skip < n_c:
            for cid, first, last, phone, email, fax in db.execute(
                "SELECT contact_id, first_name, last_name, phone_number, email, fax_number "
                f"FROM contacts c WHERE {c_where} ORDER BY contact_id LIMIT ? OFFSET ?",
                [*c_args, limit, skip],
            ):
                out.append(
                    {
                        "id": cid,
                        "name": f"{first} {last}".strip(),
                        "contact": phone or email or fax or "",
                        "type": "contact",
                        "contacts_count": None,
                    }
                )
        rest = limit - len(out)
        if rest > 0 and skip + len(out) < n_c + n_l:
            l_skip = max(0, skip - n_c)
            for row in db.execute(
                f"SELECT list_id, user_id, list_name, list_email_id FROM contact_lists WHERE {l_where} "
                "ORDER BY list_id LIMIT ? OFFSET ?",
                [*l_args, rest, l_skip],
            ).fetchall():
                rec = list_record(store, row)
                out.append(
                    {
                        "id": row[0],
                        "name": row[2],
                        "contact": row[3],
                        "type": "list",
                        "contacts_count": rec["_contacts_count"],
                    }
                )
    return n_c + n_l, out


# ---------------------------------------------------------------------- for other areas


def list_recipients(store: Store, list_id: int, user_id: int | None = None) -> list[dict[str, Any]]:
    """Every contact of a list as a campaign would address it (for the campaigns area).

    One dict per contact, by contact_id: ``contact_id``, ``list_id``, ``list_name``,
    ``phone`` (E.164 read with the account's default country, or None when the stored
    number cannot be read: such contacts cannot receive SMS), ``country`` (ISO of
    ``phone``), ``email``, ``fax_number``, ``phone_number`` (as stored), ``first_name``,
    ``last_name``, ``organization_name``, ``custom_1``..``custom_4`` and the address fields.
    Raises NotFound (no such list) or Forbidden (``user_id`` given and not the owner).

    Example::

        rows = list_recipients(store, 428, user_id=48213)
        sendable = [r for r in rows if r["phone"]]
    """
    state(store)
    with store._lock:
        row = _list_row(store, list_id)
        if row is None:
            raise NotFound(f"List #{list_id} not found.")
        if user_id is not None and row[1] != user_id:
            raise Forbidden(f"You don't have access to list #{list_id}.")
        country = default_country(store, row[1])
        rows = store.db.execute(
            f"SELECT {', '.join(CONTACT_COLUMNS)} FROM contacts INDEXED BY contacts_list "
            "WHERE list_id=? ORDER BY contact_id",
            (list_id,),
        ).fetchall()
    out = []
    cache: dict[str, str | None] = {}
    for r in rows:
        rec = _record(r, row[2])
        raw = rec["phone_number"]
        if raw not in cache:
            cache[raw] = normalise_phone(raw, country)
        phone = cache[raw]
        rec.pop("_list_name")
        rec.pop("date_added")
        rec.pop("date_updated")
        rec.update(list_name=row[2], phone=phone, country=country_of(phone) if phone else None)
        out.append(rec)
    return out


# ---------------------------------------------------------------------- seed support


def bulk_insert(
    store: Store,
    seed_value: int,
    lists: list[tuple[int, int, str]],
    contacts: list[tuple[Any, ...]],
    truth: list[tuple[Any, ...]],
) -> None:
    """Seeder's load: lists ``(list_id, user_id, name)``, contact tuples in CONTACT_COLUMNS
    order (one transaction), truth rows in TRUTH_COLUMNS order (kept in memory)."""
    state(store).truth = truth
    with store._lock:
        db = store.db
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO contact_lists VALUES (?,?,?,?)",
            [(lid, uid, name, list_email_id(seed_value, lid)) for lid, uid, name in lists],
        )
        # A bulk load then one index build is cheaper than maintaining it row by row.
        db.execute("DROP INDEX IF EXISTS contacts_list")
        db.executemany(_CONTACT_INSERT, contacts)
        db.execute("CREATE INDEX contacts_list ON contacts(list_id, contact_id)")
        db.execute("COMMIT")


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)
