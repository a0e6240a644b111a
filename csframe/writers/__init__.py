"""Writers: push DataFrames back into ClickSend -- planned, priced, chunked, journaled.

Example::

    import csframe
    from csframe import writers

    plan = writers.sms_plan(keep, "Hi {first_name}, ... Reply STOP to opt out",
                            to="phone_e164", sender="ACME", prices=cs)
    q = writers.quote(cs, plan)                          # or cs.quote(plan)
    sent = writers.send(cs, plan, journal="runs/oct.sqlite")   # or cs.send(...)

Modules: ``segments`` (GSM-7/UCS-2 parts), ``render`` (templates), ``plan``
(sms_plan / mms_plan / email_plan), ``quote``, ``journal`` (SQLite), ``lookup``
(history by custom_string), ``send``, ``imports`` (import_contacts, sync_list),
``campaigns`` (send_campaign, cancel_campaign).
"""

from csframe.writers._common import (
    JournalMismatch,
    OptOutWarning,
    PlanError,
    PlanWarning,
)
from csframe.writers.campaigns import (
    CampaignPriceError,
    cancel_campaign,
    price_campaign,
    send_campaign,
)
from csframe.writers.imports import ImportTimeout, import_contacts, sync_list
from csframe.writers.journal import Journal, JournalBusy
from csframe.writers.plan import account_prices, email_plan, mms_plan, sms_plan
from csframe.writers.quote import by_country, quote
from csframe.writers.segments import segment, segments
from csframe.writers.send import SendInDoubt, SendStopped, send

__all__ = [
    "CampaignPriceError",
    "ImportTimeout",
    "Journal",
    "JournalBusy",
    "JournalMismatch",
    "OptOutWarning",
    "PlanError",
    "PlanWarning",
    "SendInDoubt",
    "SendStopped",
    "account_prices",
    "by_country",
    "cancel_campaign",
    "email_plan",
    "import_contacts",
    "mms_plan",
    "price_campaign",
    "quote",
    "segment",
    "segments",
    "send",
    "send_campaign",
    "sms_plan",
    "sync_list",
]
