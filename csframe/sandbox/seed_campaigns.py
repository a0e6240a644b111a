"""Seed of the campaigns area: account extras, generic collections and campaigns.

Registered in ``seed.AREA_SEEDERS``; runs after the SMS (and the messages and contacts
areas), from its own random stream.
"""

from __future__ import annotations

from typing import Any

from csframe.sandbox.models import Store


def seed_area(store: Store, seed_value: int, n_sms: int, now_ts: int, rng: Any) -> None:
    """Seed everything of this area (deterministic for ``seed_value`` and ``now_ts``)."""
