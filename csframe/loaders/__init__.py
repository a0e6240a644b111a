"""Loaders: API resources to typed DataFrames, one module per resource family.

Each loader validates its arguments before any request, fetches through the paging
engine, and builds the frame once against the registry (:mod:`csframe.schema`). Loaders
take an :class:`~csframe.session.ApiSession`; users call them through
:class:`csframe.Client` (``cs.history(...)``, ``cs.usage(...)``, ...).

=================  ==========================================================
module             resources
=================  ==========================================================
``message_history``history of sms, mms, voice, email, fax, letter, postcard
``account_usage``  monthly usage per channel and subaccount
``paged``          receipts, inbound, campaigns, lists, contacts, subaccounts,
                   recharge transactions, statistics
``generic``        any paginated GET with inferred dtypes (``cs.frame``)
``export``         the CSV behind a ``/history/export`` URL
=================  ==========================================================
"""

from csframe.loaders.account_usage import USAGE_CHANNELS, usage
from csframe.loaders.message_history import (
    HISTORY,
    history,
    history_resource,
    iter_history,
    plan_windows,
)

__all__ = [
    "HISTORY",
    "USAGE_CHANNELS",
    "history",
    "history_resource",
    "iter_history",
    "plan_windows",
    "usage",
]
