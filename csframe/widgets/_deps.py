"""ipywidgets, which the views need, is the `notebook` extra."""

from __future__ import annotations

from types import ModuleType


def ipywidgets() -> ModuleType:
    """The ipywidgets module, or an ImportError naming the extra to install.

    Example::

        w = ipywidgets()
        w.Button(description="OK")
    """
    try:
        import ipywidgets as w
    except ImportError:
        raise ImportError(
            "csframe widgets need the 'notebook' extra: pip install 'csframe[notebook]'"
        ) from None
    return w
