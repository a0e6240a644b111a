"""Layers inside csframe/reports: each module imports only modules below it, and no
report imports another report (shared pieces live in modules of their own)."""

from __future__ import annotations

import ast
from pathlib import Path

import csframe.reports

ROOT = Path(csframe.reports.__file__).parent
#: Bottom up; a module may import any module of a lower layer, none of its own or above.
LAYERS = [
    {"sheetxml"},
    {"model", "cells"},
    {"periods"},
    {"excel", "output"},
    {"base"},
    {"history", "budgets", "cube", "stored"},
    {"usage_cost", "delivery", "campaigns", "contacts_health"},  # the reports
    {"cli"},
]
REPORTS = LAYERS[6]


def _imports(path: Path) -> set[str]:
    """csframe.reports modules imported by ``path`` (type-checking-only imports aside)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("csframe.reports."):
                out.add(node.module.split(".")[2])
            elif node.module == "csframe.reports":
                out |= {a.name for a in node.names if (ROOT / f"{a.name}.py").exists()}
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("csframe.reports."):
                    out.add(a.name.split(".")[2])
    return out


def _layer(name: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if name in layer)


def test_every_module_has_a_layer():
    modules = {p.stem for p in ROOT.glob("*.py") if p.stem != "__init__"}
    assert modules == set().union(*LAYERS)


def test_modules_import_only_downwards():
    wrong = []
    for path in ROOT.glob("*.py"):
        if path.stem == "__init__":
            continue
        for target in _imports(path) - {path.stem}:
            if _layer(target) >= _layer(path.stem):
                wrong.append(f"{path.stem} imports {target}")
    assert not wrong, wrong


def test_no_report_imports_another():
    for name in REPORTS:
        assert not (_imports(ROOT / f"{name}.py") & (REPORTS - {name})), name
