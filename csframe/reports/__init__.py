"""Prebuilt reports: tables, matplotlib figures and polished Excel workbooks.

Each report function takes a :class:`csframe.Client` and returns a :class:`Report`
(``.tables``, ``.figures``, ``.summary``, ``.meta``, ``.show()``, ``.to_excel(path)``).
Reports read through the client and loaders; nothing below imports them, and the sandbox
is only started by the CLI's ``--sandbox`` and by ``csframe demo``.

Example::

    import csframe
    cs = csframe.Client()
    rep = csframe.reports.usage_cost(cs, start="2026-01", end="2026-10")
    rep.to_excel("usage-cost.xlsx")
"""

from __future__ import annotations

from csframe.reports.base import ChartSpec, Report, ReportMeta, TableSpec
from csframe.reports.usage_cost import usage_cost

__all__ = ["Report", "ReportMeta", "TableSpec", "ChartSpec", "usage_cost"]
