"""Errors and small helpers shared by the writers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from csframe.errors import CsframeError
from csframe.session import SessionOwner

if TYPE_CHECKING:  # for annotations only
    pass

MAX_PER_REQUEST = 1000  # /sms/send, /sms/price, /mms/send: at most 1000 messages per call
SHOW_ROWS = 10  # how many row labels an error message lists before "... and N more"


class ClientLike(SessionOwner, Protocol):
    """What the writers use of a :class:`csframe.Client` (``cs.send(...)`` calls them, so
    they are typed against this, not against ``Client``)."""

    def account(self) -> dict: ...


class PlanError(CsframeError, ValueError):
    """A plan (or an import) cannot be built from the frame as given.

    ``problems`` is a frame with one line per problem: ``row`` (the row's index label,
    ``None`` for problems of the whole frame), ``column`` and ``problem``.
    """

    def __init__(self, message: str, problems: pd.DataFrame | None = None) -> None:
        super().__init__(message)
        self.problems = (
            problems
            if problems is not None
            else pd.DataFrame({"row": [], "column": [], "problem": []})
        )


class JournalMismatch(CsframeError, ValueError):
    """The journal was written for a different plan than the one given."""


class OptOutWarning(UserWarning):
    """A message that may be marketing has no opt-out instruction."""


class PlanWarning(UserWarning):
    """Something in a plan deserves a look (long messages, past schedules, ...)."""


def show_rows(labels: Sequence[Any], limit: int = SHOW_ROWS) -> str:
    """``"[3, 7, 12]"`` or ``"[3, 7, ... and 40 more]"`` for an error message."""
    labels = list(labels)
    head = ", ".join(repr(x) if isinstance(x, str) else str(x) for x in labels[:limit])
    more = len(labels) - limit
    return f"[{head}{f', ... and {more} more' if more > 0 else ''}]"


class Problems:
    """Collects per-row problems, then raises one :class:`PlanError` listing all of them."""

    def __init__(self, index: pd.Index, what: str) -> None:
        self.index = index
        self.what = what
        self.lines: list[str] = []
        self.rows: list[tuple[Any, str | None, str]] = []

    def add_rows(
        self, mask: np.ndarray | pd.Series, column: str | None, problem: str, hint: str = ""
    ) -> None:
        """Record ``problem`` for every row where boolean ``mask`` is true."""
        labels = self.index[mask]
        if not len(labels):
            return
        where = f"column {column!r}: " if column else ""
        self.lines.append(f"{where}{problem} in {len(labels)} row(s) {show_rows(labels)}{hint}")
        self.rows.extend((label, column, problem) for label in labels)

    def add(self, problem: str, column: str | None = None) -> None:
        """A problem of the whole frame or argument (no row)."""
        self.lines.append(problem)
        self.rows.append((None, column, problem))

    def __bool__(self) -> bool:
        return bool(self.lines)

    def raise_if_any(self) -> None:
        if not self.lines:
            return
        frame = pd.DataFrame(
            {
                "row": pd.Series([r[0] for r in self.rows], dtype=object),
                "column": pd.Series([r[1] for r in self.rows], dtype=object),
                "problem": pd.Series([r[2] for r in self.rows], dtype="str"),
            }
        )
        head = f"{self.what}: {len(self.lines)} problem(s)"
        raise PlanError(head + "\n  - " + "\n  - ".join(self.lines), frame)


def unix_time(value: Any, name: str = "schedule") -> int | None:
    """``None`` or a Unix time (int seconds) from an int, ISO string, date or datetime
    (naive means UTC)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, bool):
        raise PlanError(f"{name} must be a datetime, ISO string or Unix time, got {value!r}")
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise PlanError(
            f"{name} must be a datetime, ISO string or Unix time, got {value!r}"
        ) from exc
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return int(ts.timestamp())


def chunks(n: int, size: int) -> Iterable[tuple[int, int]]:
    """``(start, stop)`` positions of consecutive chunks of at most ``size``."""
    for start in range(0, n, size):
        yield start, min(n, start + size)


def check_chunk_size(size: int) -> int:
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_PER_REQUEST:
        raise ValueError(
            f"chunk_size must be an integer from 1 to {MAX_PER_REQUEST} (the API's limit "
            f"per request), got {size!r}"
        )
    return size
