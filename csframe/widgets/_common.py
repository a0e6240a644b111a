"""Helpers shared by the widgets: safe error text, HTML tables, figures as PNG."""

from __future__ import annotations

import html
import io
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:  # for annotations only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def error_text(exc: BaseException, secrets: tuple[str, ...] = ()) -> str:
    """One line for a failed action: the exception's type and message, never a traceback,
    with any of ``secrets`` (e.g. the API key) masked.

    Example::

        >>> error_text(ValueError("start must be before end"))
        'ValueError: start must be before end'
    """
    message = str(exc).strip() or repr(exc)
    for secret in secrets:
        if secret and len(secret) >= 4:
            message = message.replace(secret, "***")
    return f"{type(exc).__name__}: {message}"


def client_secrets(client: Any) -> tuple[str, ...]:
    """The values a widget must never show for ``client`` (its API key), if it has any."""
    try:
        key = client.session.credentials.api_key
    except AttributeError:
        return ()
    return (key,) if isinstance(key, str) and key else ()


def esc(value: Any) -> str:
    """HTML-escaped text of a cell; missing values as an empty string.

    Example::

        >>> esc("<b>Ann</b>"), esc(None)
        ('&lt;b&gt;Ann&lt;/b&gt;', '')
    """
    if value is None:
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return html.escape(str(value))


def png(figure: Figure) -> bytes:
    """A matplotlib figure rendered to PNG bytes (no pyplot, no global state)."""
    buf = io.BytesIO()
    figure.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    return buf.getvalue()


def new_figure(width: float = 8.0, height: float = 3.6) -> tuple[Figure, Axes]:
    """A standalone matplotlib Figure with one Axes (not registered with pyplot, so
    re-rendering a widget never leaks figures or shows duplicates inline)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()
