"""Prebuilt reports: tables, matplotlib figures and polished Excel workbooks.

Each report function takes a :class:`csframe.Client` and returns a :class:`Report`
(``.tables``, ``.figures``, ``.summary``, ``.alerts``, ``.meta``, ``.show()``,
``.to_excel(path)``, ``.to_html(path)``, ``.to_csv(directory)``):

- :func:`usage_cost` -- spend and units per month, channel and subaccount; month-over-month
  change, shares, cost per delivered message, usage-vs-history reconciliation, budgets
- :func:`delivery` -- delivered / failed / pending rates per day, country, carrier;
  error codes; failed spend
- :func:`campaigns` -- per SMS / MMS / email campaign: delivery, cost, replies, opt-outs,
  opens and clicks
- :func:`contacts_health` -- per contact list: invalid numbers, duplicates, opt-outs,
  reachable contacts (uses :mod:`csframe.clean`)

Reports read through the client and loaders; nothing below imports them, and the sandbox
is only started by the CLI's ``--sandbox`` and by ``csframe demo``.

Example::

    import csframe
    cs = csframe.Client()
    rep = csframe.reports.usage_cost(cs, start="2026-01", end="2026-10", budget=500)
    rep.to_excel("usage-cost.xlsx")
"""

from __future__ import annotations

from csframe.reports.base import ChartSpec, Highlight, OptionError, Report, ReportMeta, TableSpec
from csframe.reports.campaigns import campaigns
from csframe.reports.contacts_health import contacts_health
from csframe.reports.delivery import delivery
from csframe.reports.usage_cost import usage_cost

__all__ = [
    "ChartSpec",
    "Highlight",
    "OptionError",
    "Report",
    "ReportMeta",
    "TableSpec",
    "campaigns",
    "contacts_health",
    "delivery",
    "usage_cost",
]
