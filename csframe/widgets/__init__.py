"""Notebook widgets: a history explorer, a duplicate-cluster reviewer and an SMS composer.

Each widget is two layers (modules ``explore``, ``review``, ``compose``; named apart from
the factory functions so that importing a module never hides a function):

- a plain logic class (:class:`Explorer`, :class:`CleanupReview`, :class:`Composer`) that
  holds the state, loads and computes -- tests and scripts drive it without a browser:
  set its fields, call its methods, read its tables;
- a thin ipywidgets view on it (``*View``), which only copies control values into the
  model and renders what the model says. Every view has ``.model`` and displays itself.

Example::

    import csframe as csf
    from csframe import widgets

    widgets.explorer(cs)                         # chart + table, controls above
    rv = widgets.cleanup_review(dups)            # accept / split / skip each flagged cluster
    keep = csf.clean.dedupe(dups, decisions=rv.decisions)
    widgets.composer(keep, client=cs)            # body, preview, parts, cost, quote

Importing this package imports neither ipywidgets nor matplotlib (nor the writers); a
widget pulls in what it needs when it is built.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from csframe.client import Client
    from csframe.widgets.compose import Composer, ComposerView
    from csframe.widgets.explore import Explorer, ExplorerView
    from csframe.widgets.review import CleanupReview, CleanupReviewView

__all__ = [
    "CleanupReview",
    "Composer",
    "Explorer",
    "cleanup_review",
    "composer",
    "explorer",
]


_LAZY = {
    "Explorer": "csframe.widgets.explore",
    "CleanupReview": "csframe.widgets.review",
    "Composer": "csframe.widgets.compose",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'csframe.widgets' has no attribute {name!r}")


def explorer(client: Client, **options: Any) -> ExplorerView:
    """Explore ``client``'s message history: date range, channels, subaccounts, metric
    (spend, volume, delivery rate) and grouping (day, week, month, country) drive a chart
    and a table. ``options`` set the starting values (see :class:`Explorer`).

    Example::

        ex = explorer(cs, metric="delivery_rate", group_by="country")
        ex.model.table()          # the numbers behind the chart
    """
    from csframe.widgets.explore import Explorer, ExplorerView

    return ExplorerView(Explorer(client, **options))


def cleanup_review(duplicates_frame: pd.DataFrame, **options: Any) -> CleanupReviewView:
    """Step through the duplicate clusters flagged for review, side by side with the rule
    that linked them; accept, split or skip each. ``.decisions`` is the DataFrame
    :func:`csframe.clean.dedupe` takes.

    Example::

        rv = cleanup_review(csframe.clean.duplicates(ct))
        # ... click through ...
        keep = csframe.clean.dedupe(dups, decisions=rv.decisions)
    """
    from csframe.widgets.review import CleanupReview, CleanupReviewView

    return CleanupReviewView(CleanupReview(duplicates_frame, **options))


def composer(contacts: pd.DataFrame, client: Client | None = None, **options: Any) -> ComposerView:
    """Write an SMS for every row of ``contacts``: placeholders, a live preview for a sample
    row, encoding, parts, characters left, the non-GSM characters that forced unicode, and
    the estimated cost of the whole frame; with a ``client``, a quote button and a send
    button that always asks for confirmation first.

    Example::

        cp = composer(keep, client=cs, sender="ACME")
        cp.model.body = "Hi {first_name}, 20% off this week. Reply STOP to opt out"
        cp.model.state()["parts"]
    """
    from csframe.widgets.compose import Composer, ComposerView

    return ComposerView(Composer(contacts, client=client, **options))
