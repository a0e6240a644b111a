"""What was billed, as opposed to what was sent: refunds of undelivered SMS.

History shows every message at the price it was charged when it was sent. Usage
(``GET /account/usage/...``) shows what the account was finally billed: a share of the
SMS that failed because the number does not exist (error codes :data:`REFUND_CODES`) is
credited back, so usage and history differ in known ways, as they do on real accounts.

Which failures are refunded is a pure function of the seed, the message id and the
``refund_share`` behaviour setting (``sb.set_behaviour(refund_share=0)`` turns refunds
off; the default is :data:`DEFAULT_REFUND_SHARE`). It applies to the seeded history and
to messages sent through the sandbox alike; a sent message refunded when it fails is
also credited to the balance (``lifecycle``). ``GET /_sandbox/truth/refunds``
(``sb.refunds()``) lists the refunds a login's usage subtracts.

Example::

    refunds(store, View(48213), start, end, share=0.5)   # [Refund(...), ...]
    billed_sms_usage(store, View(48213), start, end, share=0.5)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from csframe.sandbox.models import Store, View

# Failures where the message never reached a handset because the number is not in service
# (301 unknown subscriber, 305 invalid/disconnected): the ones a refund is plausible for.
REFUND_CODES = ("301", "305")
DEFAULT_REFUND_SHARE = 0.5


@dataclass(frozen=True)
class Refund:
    """One refunded SMS: its history row's id, login, date, parts and price (micros)."""

    message_id: str
    subaccount_id: int
    username: str
    date: int
    message_parts: int
    price_micros: int
    error_code: str

    def to_dict(self) -> dict[str, object]:
        return {
            "message_id": self.message_id,
            "subaccount_id": self.subaccount_id,
            "username": self.username,
            "date": self.date,
            "message_parts": self.message_parts,
            "message_price": f"{self.price_micros / 1_000_000:.6f}",
            "error_code": self.error_code,
        }


def is_refunded(seed: int, message_id: str, error_code: str | None, share: float) -> bool:
    """Whether a failed SMS with ``error_code`` is refunded: the same for the same seed
    and message id (the draw is independent of the delivery outcome's).

    Example::

        >>> is_refunded(42, "ABC", "303", 1.0)   # a content rejection is never refunded
        False
        >>> is_refunded(42, "ABC", "301", 1.0)
        True
    """
    if share <= 0 or error_code not in REFUND_CODES:
        return False
    digest = hashlib.blake2b(f"refund:{seed}:{message_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < share


def refunds(store: Store, view: View, start: int, end: int, share: float) -> list[Refund]:
    """The refunded SMS of ``view`` dated in ``[start, end)``, in date order.

    Example::

        sum(r.price_micros for r in refunds(store, View(48213), start, end, 0.5))
    """
    if share <= 0:
        return []
    clauses = ["user_id=?", "date>=?", "date<?", "status='Failed'", "price_micros>0"]
    args: list[object] = [view.user_id, start, end]
    index = "sms_user_date"
    if view.subaccount_id is not None:
        clauses.append("subaccount_id=?")
        args.append(view.subaccount_id)
        index = "sms_sub_date"
    codes = ",".join(f"'{c}'" for c in REFUND_CODES)
    error_code = "CAST(json_extract(CAST(json AS TEXT), '$.error_code') AS TEXT)"
    with store._lock:
        store._index()
        rows = store.db.execute(
            f"SELECT message_id, subaccount_id, username, date, message_parts, price_micros, "
            f"{error_code} FROM sms INDEXED BY {index} WHERE {' AND '.join(clauses)} "
            f"AND {error_code} IN ({codes}) ORDER BY date, id",
            args,
        ).fetchall()
        seed = store.seed_value
    return [Refund(*row) for row in rows if is_refunded(seed, row[0], row[6], share)]


def billed_sms_usage(
    store: Store, view: View, start: int, end: int, share: float
) -> list[tuple[int, str, int, int]]:
    """SMS usage as billed: :meth:`Store.usage` (the history's parts and prices per
    subaccount) less the refunded messages' parts and prices.

    Example::

        billed_sms_usage(store, View(48213), start, end, 0.5)  # [(sid, username, parts, micros)]
    """
    rows = store.usage(view, start, end)
    credit: dict[int, tuple[int, int]] = {}
    for r in refunds(store, view, start, end, share):
        parts, micros = credit.get(r.subaccount_id, (0, 0))
        credit[r.subaccount_id] = (parts + r.message_parts, micros + r.price_micros)
    out = []
    for sid, username, parts, micros in rows:
        less_parts, less_micros = credit.get(sid, (0, 0))
        out.append((sid, username, parts - less_parts, micros - less_micros))
    return out
