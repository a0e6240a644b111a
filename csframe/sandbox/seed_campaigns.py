"""Seed of the campaigns area: account extras, generic collections and campaigns.

Registered in ``seed.AREA_SEEDERS``; runs after the SMS (and the messages and contacts
areas), from its own random stream, so it never changes anyone else's data.

- Recharge transactions: top-ups that fund the seeded SMS spend. Walking the days of
  SMS spend from sign-up, the account recharges (a round amount worth about ten days of
  spend) whenever the balance would drop below about a week of spend, and once more
  recently to reach today's balance: the running balance never goes negative and the
  amounts add up to the SMS spend plus the current balance, to the cent.
- Generic collections: the reference's example records of every collection endpoint,
  plus deterministic variations (see ``responses/collections.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from csframe.sandbox import models_account, models_collections
from csframe.sandbox.models import Store, format_uuid
from csframe.sandbox.responses import account_extras, collections
from csframe.sandbox.seed import DAYS, DEST_WEIGHTS, MAIN_USER_ID

# Round top-up amounts (dollars) a business would pick.
NICE_AMOUNTS = (20, 50, 100, 200, 250, 500, 1000, 1500, 2000, 2500, 5000)


def seed_area(store: Store, seed_value: int, n_sms: int, now_ts: int, rng: Any) -> None:
    """Seed everything of this area (deterministic for ``seed_value`` and ``now_ts``)."""
    models_collections.setup(store)
    models_account.setup(store)
    seed_recharges(store, now_ts, rng)
    account_extras.seed_user_countries(
        store, MAIN_USER_ID, list(DEST_WEIGHTS), now_ts - 300 * 86400
    )
    collections.seed(store, seed_value, now_ts, rng)


def _nice(dollars: float, rng: np.random.Generator) -> int:
    below = [a for a in NICE_AMOUNTS if a <= dollars] or [NICE_AMOUNTS[0]]
    i = NICE_AMOUNTS.index(below[-1])
    # Now and then the next amount up, so the amounts are not all alike.
    if rng.random() < 0.3 and i + 1 < len(NICE_AMOUNTS):
        i += 1
    return NICE_AMOUNTS[i]


def seed_recharges(store: Store, now_ts: int, rng: np.random.Generator) -> None:
    """Top-ups of the main account consistent with its SMS spend and current balance."""
    with store._lock:
        spend = store.db.execute(
            "SELECT date / 86400, sum(price_micros) FROM sms WHERE user_id=? GROUP BY 1 ORDER BY 1",
            (MAIN_USER_ID,),
        ).fetchall()
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
