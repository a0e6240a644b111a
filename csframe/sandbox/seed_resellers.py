"""Seed of the reseller area: the main account's client accounts become real accounts.

``GET /reseller/accounts`` lists the main account's clients (the ``reseller_accounts``
collection, seeded by ``responses/collections.py``). Here each one gets

- its login key, derived from the seed like every seeded key (``seed.api_key_for``), so
  the ``_subaccount.api_username``/``api_key`` the reseller endpoints return log in;
- its ``users`` row and main login (``models_account.add_client_account``): it sees only
  its own messages, has its own balance and its own rate-limit bucket (``faults``);
- a small SMS history of its own over the same 13 months: :func:`history_size` rows,
  delivered mostly, a few failed, to numbers of the client's country, from its own
  sender name.

Registered last in ``seed.AREA_SEEDERS`` (its own random stream: nothing seeded before
changes). Clients created later through ``POST /reseller/accounts`` log in too, with
an empty history.

Example::

    seed_area(store, 42, 5_000, now_ts, np.random.default_rng(1))
    store.principal("acme_retail_nz").user_id          # 24
"""

from __future__ import annotations

from typing import Any

import numpy as np

from csframe.sandbox import models_account
from csframe.sandbox import models_collections as coll
from csframe.sandbox.encoding import sms_parts
from csframe.sandbox.models import Store, format_uuid, sms_record, sms_row
from csframe.sandbox.pricing import COUNTRIES, carrier_for, fmt_money
from csframe.sandbox.seed import COMPLETED, DAYS, FAILURES, MAIN_USER_ID, api_key_for

# Bodies of the clients' traffic ({code}: a number per message).
BODIES = (
    "Your order {code} is ready for collection. Show this message at the counter.",
    "Reminder: your booking {code} is tomorrow. Reply N to cancel.",
    "Your verification code is {code}. It expires in 10 minutes.",
    "Thanks for your purchase! Rate us and get 10% off: acme.example/r/{code}",
)
# National number shapes of the clients' countries: (prefix, random digits).
NUMBERS = {"NZ": ("+6421", 7), "AU": ("+614", 8)}
FAILED_SHARE = 0.06


def history_size(n_sms: int, i: int) -> int:
    """Rows of the ``i``-th client's history for a seed of ``n_sms`` main-account SMS:
    small (15..500), and different per client.

    Example::

        >>> history_size(300, 0), history_size(300, 1), history_size(5_000, 0)
        (15, 22, 250)
    """
    return int(np.clip(n_sms // 20, 15, 500)) + 7 * i


def seed_area(store: Store, seed_value: int, n_sms: int, now_ts: int, rng: Any) -> None:
    """Give every seeded client account of the main account its key, account and history."""
    for i, record in enumerate(coll.all_items(store, "reseller_accounts", MAIN_USER_ID)):
        sub = record["_subaccount"]
        sub["api_key"] = api_key_for(seed_value, sub["api_username"])
        coll.put_item(store, "reseller_accounts", MAIN_USER_ID, record["user_id"], record)
        models_account.add_client_account(store, record)
        part = np.random.default_rng(int(rng.integers(0, 2**62)))
        _seed_history(store, record, history_size(n_sms, i), now_ts, part)


def _seed_history(
    store: Store, record: dict[str, Any], n: int, now_ts: int, rng: np.random.Generator
) -> None:
    iso = record["country"]
    prefix, digits = NUMBERS.get(iso, NUMBERS["AU"])
    sender = "".join(c for c in record["account_name"] if c.isalnum())[:11]
    sub = record["_subaccount"]
    # Spread over the 13 months, never in the last hour (all have their outcome by now).
    dates = np.sort(rng.integers(now_ts - DAYS * 86400, now_ts - 3600, n))
    bodies = rng.integers(0, len(BODIES), n)
    codes = rng.integers(100_000, 1_000_000, n)
    failed = rng.random(n) < FAILED_SHARE
    failure = rng.integers(0, len(FAILURES), n)
    numbers = rng.integers(0, 10**digits, max(5, n // 3))  # people get several messages
    to_idx = rng.integers(0, numbers.size, n)
    ids = rng.bytes(16 * n)
    rows = []
    for k in range(n):
        to = f"{prefix}{int(numbers[to_idx[k]]):0{digits}d}"
        body = BODIES[bodies[k]].format(code=int(codes[k]))
        parts = sms_parts(body)[2]
        price = parts * COUNTRIES[iso].price_micros
        status, code, text, error_code, error_text = (
            FAILURES[failure[k]] if failed[k] else COMPLETED
        )
        rec = sms_record(
            date=int(dates[k]),
            to=to,
            body=body,
            status=status,
            sender=sender,
            schedule=int(dates[k]),
            status_code=code,
            status_text=text,
            error_code=error_code,
            error_text=error_text,
            message_id=format_uuid(int.from_bytes(ids[16 * k : 16 * k + 16], "big")),
            message_parts=parts,
            message_price=fmt_money(price),
            list_id=None,
            custom_string=None,
            contact_id=None,
            user_id=record["user_id"],
            subaccount_id=sub["subaccount_id"],
            country=iso,
            carrier=carrier_for(to, iso),
            first_name=None,
            last_name=None,
            api_username=sub["api_username"],
        )
        rows.append(sms_row(rec, price))
    store.insert_sms(rows)
