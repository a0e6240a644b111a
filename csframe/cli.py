"""The ``csframe`` command (also ``python -m csframe``).

Each area registers its own sub-commands, so this module stays a thin dispatcher:

- ``csframe sandbox serve``  -- csframe.sandbox.cli
- ``csframe report ...``     -- csframe.reports.cli
- ``csframe demo``           -- csframe.demo
- ``csframe sync``           -- csframe.sync
- ``csframe cache info|clear`` -- csframe.cache_cli

Example::

    $ csframe sandbox serve --port 8765 --seed 42 --scale small
    $ csframe report usage-cost --sandbox --out usage-cost.xlsx
"""

from __future__ import annotations

import argparse
import importlib
import sys

# (module, attribute) pairs; each attribute is ``register(subparsers)``.
_COMMANDS = (
    ("csframe.sandbox.cli", "register"),
    ("csframe.reports.cli", "register"),
    ("csframe.demo", "register"),
    ("csframe.sync", "register"),
    ("csframe.cache_cli", "register"),
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered sub-command."""
    from csframe import __version__

    parser = argparse.ArgumentParser(
        prog="csframe",
        description="The ClickSend messaging API in pandas: loaders, reports and a sandbox.",
    )
    parser.add_argument("--version", action="version", version=f"csframe {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module, attr in _COMMANDS:
        getattr(importlib.import_module(module), attr)(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
