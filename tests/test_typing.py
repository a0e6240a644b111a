"""The public API is fully annotated (``py.typed`` promises it to type checkers).

mypy (run by ``make lint``) checks the annotations that exist; it cannot see a public
parameter that has none, because an unannotated parameter is simply ``Any`` to it. This
test walks what a user can reach (the names each public module exports, and the public
methods of exported classes) and lists every parameter or return without an annotation.
"""

from __future__ import annotations

import importlib
import inspect

import pytest

PUBLIC_MODULES = [
    "csframe",
    "csframe.client",
    "csframe.clean",
    "csframe.errors",
    "csframe.reports",
    "csframe.scale",
    "csframe.schema",
    "csframe.store",
    "csframe.sync",
    "csframe.timeutil",
    "csframe.writers",
    "csframe.widgets",
]


def _exported(module) -> list[str]:
    names = getattr(module, "__all__", None)
    return list(names) if names is not None else [n for n in vars(module) if n[:1] != "_"]


def _functions(obj, where: str):
    """(qualified name, function) for a function, or for a class's public methods."""
    if inspect.isfunction(obj):
        yield where, obj
    elif inspect.isclass(obj):
        for name, member in vars(obj).items():
            if name.startswith("_") and name != "__init__":
                continue
            if isinstance(member, staticmethod | classmethod):
                member = member.__func__
            elif isinstance(member, property):
                member = member.fget
            # (a Protocol's generated __init__ belongs to typing, not to csframe)
            if inspect.isfunction(member) and member.__module__.startswith("csframe"):
                yield f"{where}.{name}", member


def _unannotated(fn) -> list[str]:
    sig = inspect.signature(fn)
    missing = [
        p.name
        for p in sig.parameters.values()
        if p.name not in ("self", "cls") and p.annotation is inspect.Parameter.empty
    ]
    if sig.return_annotation is inspect.Signature.empty and fn.__name__ != "__init__":
        missing.append("return")
    return missing


def test_every_public_function_and_method_is_fully_annotated():
    pytest.importorskip("ipywidgets", reason="csframe.widgets needs the notebook extra")
    seen: set[tuple[str, str]] = set()
    problems = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in _exported(module):
            obj = getattr(module, name)
            if not str(getattr(obj, "__module__", "")).startswith("csframe"):
                continue  # re-exported from elsewhere (pandas, typing, ...)
            for where, fn in _functions(obj, f"{module_name}.{name}"):
                key = (fn.__module__, fn.__qualname__)
                if key in seen:
                    continue
                seen.add(key)
                missing = _unannotated(fn)
                if missing:
                    problems.append(f"{where}: {', '.join(missing)}")
    assert len(seen) > 80, f"the walk found only {len(seen)} public functions"
    assert not problems, "public functions with unannotated parameters or returns:\n" + "\n".join(
        problems
    )
