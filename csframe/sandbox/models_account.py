"""Account extras: subaccount management over the Store's logins, and recharge transactions.

Subaccounts *are* the Store's logins (``subaccounts`` table): one created through the API
can authenticate at once, an updated one authenticates with its new username, a
regenerated key replaces the old one. A deleted subaccount is a tombstone: its row stays
(history rows and usage lines keep naming it) but its key is replaced by an unguessable
secret and it is listed in ``subaccounts_deleted``, so it can no longer log in and is
hidden from ``/subaccounts``; its username stays reserved.

Recharge transactions are the account's top-ups, seeded so that they fund the seeded SMS
spend: the balance they imply never goes below zero, and the amounts add up to the SMS
spend plus the current balance (to the cent). ``PUT /recharge/purchase/{package_id}``
adds one and credits the balance.

Example::

    sub = create_subaccount(store, 48213, {"api_username": "ops", ...})
    store.principal("ops").api_key == sub["api_key"]      # True
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import orjson

from csframe.sandbox.models import Store, format_uuid
from csframe.sandbox.models_collections import bulk, next_counter, track_tables

SCHEMA = """
CREATE TABLE IF NOT EXISTS subaccounts_deleted (subaccount_id INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS recharge_transactions (
    seq INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    invoice_number TEXT NOT NULL UNIQUE,
    amount_cents INTEGER NOT NULL,
    currency TEXT NOT NULL,
    date INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS recharge_user_date ON recharge_transactions(user_id, date);
"""

# The _subaccount fields a caller may set (POST/PUT /subaccounts), with their types.
ACCESS_FIELDS = (
    "access_smpp",
    "access_users",
    "access_billing",
    "access_reporting",
    "access_contacts",
    "access_settings",
    "access_sms",
    "access_email",
    "access_voice",
    "access_fax",
    "access_post",
    "access_reseller",
    "access_global_sending",
    "access_mms",
    "hide_pricing",
    "share_campaigns",
)
TEXT_FIELDS = ("api_username", "email", "phone_number", "first_name", "last_name")


def setup(store: Store) -> None:
    """Create the tables and make reset restore them (and the logins)."""
    with store._lock:
        store.db.executescript(SCHEMA)
    track_tables(
        store,
        "users",  # reseller client accounts are accounts (add_client_account)
        "subaccounts",
        "subaccounts_deleted",
        "recharge_transactions",
        on_reset=lambda s: s.forget_principals(),
    )


# ---------------------------------------------------------------------- subaccounts


def new_api_key(store: Store, username: str) -> str:
    """A fresh UUID-style key, deterministic for the seed and the sequence of calls."""
    n = next_counter(store, "subaccount-keys")
    digest = hashlib.sha256(f"csframe-sandbox:{store.seed_value}:{username}:{n}".encode())
    return format_uuid(int(digest.hexdigest()[:32], 16))


def subaccounts(store: Store, user_id: int) -> list[dict[str, Any]]:
    """The live subaccounts of an account, in id order (the ``_subaccount`` objects)."""
    with store._lock:
        rows = store.db.execute(
            "SELECT info FROM subaccounts WHERE user_id=? AND subaccount_id NOT IN "
            "(SELECT subaccount_id FROM subaccounts_deleted) ORDER BY subaccount_id",
            (user_id,),
        ).fetchall()
    return [orjson.loads(r[0]) for r in rows]


def subaccount(store: Store, user_id: int, subaccount_id: int) -> dict[str, Any] | None:
    with store._lock:
        row = store.db.execute(
            "SELECT info FROM subaccounts WHERE user_id=? AND subaccount_id=? AND subaccount_id "
            "NOT IN (SELECT subaccount_id FROM subaccounts_deleted)",
            (user_id, subaccount_id),
        ).fetchone()
    return orjson.loads(row[0]) if row else None


def username_taken(store: Store, username: str, except_id: int | None = None) -> bool:
    """Whether a login (live or deleted: names are never reused) has this username."""
    with store._lock:
        row = store.db.execute(
            "SELECT subaccount_id FROM subaccounts WHERE api_username = ? COLLATE NOCASE",
            (username,),
        ).fetchone()
    return row is not None and row[0] != except_id


def create_subaccount(store: Store, user_id: int, fields: dict[str, Any]) -> dict[str, Any]:
    """Add a login to an account; ``fields`` are validated TEXT_FIELDS/ACCESS_FIELDS."""
    with store._lock:
        sid = store.db.execute("SELECT coalesce(max(subaccount_id), 0) + 1 FROM subaccounts")
        sid = sid.fetchone()[0]
        username = fields["api_username"]
        info: dict[str, Any] = {
            "subaccount_id": sid,
            "api_username": username,
            "email": fields["email"],
            "phone_number": fields["phone_number"],
            "first_name": fields["first_name"],
            "last_name": fields["last_name"],
            "api_key": new_api_key(store, username),
        }
        # New subaccounts get the API's defaults: full messaging access, no admin rights.
        defaults = dict.fromkeys(ACCESS_FIELDS, 1) | {
            "access_smpp": 0,
            "access_users": 0,
            "access_billing": 0,
            "access_settings": 0,
            "access_reseller": 0,
            "hide_pricing": 0,
            "share_campaigns": 0,
        }
        for name in ACCESS_FIELDS:
            info[name] = int(fields.get(name, defaults[name]))
        info |= {"notes": fields.get("notes"), "is_main": 0, "sign_up_type": None}
        store.add_subaccount(
            sid, user_id, username, info["api_key"], is_main=False, sender="", info=info
        )
        return info


def update_subaccount(
    store: Store, user_id: int, subaccount_id: int, fields: dict[str, Any]
) -> dict[str, Any] | None:
    """Change the given fields of a subaccount (a new username logs in at once)."""
    with store._lock:
        info = subaccount(store, user_id, subaccount_id)
        if info is None:
            return None
        for name in TEXT_FIELDS:
            if name in fields:
                info[name] = fields[name]
        for name in ACCESS_FIELDS:
            if name in fields:
                info[name] = int(fields[name])
        if "notes" in fields:
            info["notes"] = fields["notes"]
        _write(store, subaccount_id, info)
        return info


def regenerate_key(store: Store, user_id: int, subaccount_id: int) -> str | None:
    with store._lock:
        info = subaccount(store, user_id, subaccount_id)
        if info is None:
            return None
        info["api_key"] = new_api_key(store, info["api_username"])
        _write(store, subaccount_id, info)
        return info["api_key"]


def delete_subaccount(store: Store, user_id: int, subaccount_id: int) -> bool:
    """Tombstone a subaccount: it can no longer log in and is no longer listed."""
    with store._lock:
        if subaccount(store, user_id, subaccount_id) is None:
            return False
        store.db.execute(
            "UPDATE subaccounts SET api_key=? WHERE subaccount_id=?",
            (f"deleted:{secrets.token_hex(32)}", subaccount_id),
        )
        store.db.execute("INSERT INTO subaccounts_deleted VALUES (?)", (subaccount_id,))
        store.forget_principals()
        return True


def _write(store: Store, subaccount_id: int, info: dict[str, Any]) -> None:
    store.db.execute(
        "UPDATE subaccounts SET api_username=?, api_key=?, info=? WHERE subaccount_id=?",
        (info["api_username"], info["api_key"], orjson.dumps(info), subaccount_id),
    )
    store.forget_principals()


# ---------------------------------------------------------------------- reseller clients


def add_client_account(store: Store, record: dict[str, Any]) -> None:
    """Make a reseller's client account (a ``/reseller/accounts`` record) a real account:
    its ``users`` row and its main login (``record["_subaccount"]``), so it logs in with
    the ``api_username`` and ``api_key`` the reseller endpoints show, sees only its own
    messages and has its own balance.

    Example::

        add_client_account(store, coll.get_item(store, "reseller_accounts", 48213, 24))
        store.principal("acme_retail_nz").user_id      # 24
    """
    sub = record["_subaccount"]
    info = {k: v for k, v in record.items() if k != "_subaccount"} | {"balance": None}
    with store.transaction():
        store.add_user(
            record["user_id"],
            record["username"],
            active=bool(record["active"]),
            banned=bool(record["banned"]),
            balance_micros=round(float(record["balance"]) * 1_000_000),
            info=info,
        )
        store.add_subaccount(
            sub["subaccount_id"],
            record["user_id"],
            sub["api_username"],
            sub["api_key"],
            is_main=True,
            sender="",
            info=sub,
        )


def update_client_login(store: Store, record: dict[str, Any]) -> None:
    """After ``PUT /reseller/accounts/{id}``: the login follows the record (a new
    ``username`` logs in at once, the old one no longer)."""
    sub = record["_subaccount"]
    with store._lock:
        _write(store, sub["subaccount_id"], sub)


# ---------------------------------------------------------------------- recharges


def transaction_record(invoice: str, cents: int, currency: str, date: int) -> dict[str, Any]:
    """A transaction as the API shows it (``amount`` a number: the OpenAPI type)."""
    return {"invoice_number": invoice, "amount": cents / 100, "currency": currency, "date": date}


def add_transactions(store: Store, rows: list[tuple[int, str, int, str, int]]) -> None:
    """Insert ``(user_id, invoice_number, amount_cents, currency, date)`` rows."""
    with store._lock:
        bulk(
            store,
            "INSERT INTO recharge_transactions (user_id, invoice_number, amount_cents, currency, "
            "date) VALUES (?,?,?,?,?)",
            rows,
        )


def transactions(store: Store, user_id: int, page: int, limit: int) -> tuple[int, list[dict]]:
    """``(total, page)`` of an account's transactions, newest first (as the reference)."""
    with store._lock:
        total = store.db.execute(
            "SELECT count(*) FROM recharge_transactions WHERE user_id=?", (user_id,)
        ).fetchone()[0]
        rows = store.db.execute(
            "SELECT invoice_number, amount_cents, currency, date FROM recharge_transactions "
            "WHERE user_id=? ORDER BY date DESC, seq DESC LIMIT ? OFFSET ?",
            (user_id, limit, (page - 1) * limit),
        ).fetchall()
    return total, [transaction_record(*r) for r in rows]


def transaction(store: Store, user_id: int, invoice: str) -> dict[str, Any] | None:
    with store._lock:
        row = store.db.execute(
            "SELECT invoice_number, amount_cents, currency, date FROM recharge_transactions "
            "WHERE user_id=? AND invoice_number = ? COLLATE NOCASE",
            (user_id, invoice),
        ).fetchone()
    return transaction_record(*row) if row else None


def purchase(store: Store, user_id: int, cents: int, currency: str, date: int) -> str:
    """Record a top-up and credit the balance in one transaction; returns the invoice."""
    invoice = new_invoice(store)
    with store._lock:
        store.db.execute("BEGIN")
        try:
            store.db.execute(
                "INSERT INTO recharge_transactions (user_id, invoice_number, amount_cents, "
                "currency, date) VALUES (?,?,?,?,?)",
                (user_id, invoice, cents, currency, date),
            )
            store.db.execute(
                "UPDATE users SET balance_micros = balance_micros + ? WHERE user_id=?",
                (cents * 10_000, user_id),
            )
            store.db.execute("COMMIT")
        except BaseException:
            store.db.execute("ROLLBACK")
            raise
    return invoice


def new_invoice(store: Store) -> str:
    """A lower-case UUID like the reference's invoice numbers (deterministic sequence)."""
    n = next_counter(store, "recharge-invoices")
    digest = hashlib.sha256(f"csframe-sandbox:{store.seed_value}:invoice:{n}".encode())
    return format_uuid(int(digest.hexdigest()[:32], 16)).lower()
