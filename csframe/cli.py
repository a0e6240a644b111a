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
from typing import Any

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
    verbose: dict[str, Any] = {
        "action": "count",
        "help": "log to stderr: -v what csframe does (retries, rate-limit waits, stale data), "
        "-vv every request",
    }
    parser.add_argument("-v", "--verbose", default=0, **verbose)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module, attr in _COMMANDS:
        try:
            getattr(importlib.import_module(module), attr)(sub)
        except ImportError as exc:
            if "csframe[" not in str(exc):
                raise
            _missing_extra(sub, module, str(exc))
    # -v after the command too (`csframe report usage-cost -v`), on every sub-command
    for command in _leaves(sub):
        command.add_argument("-v", "--verbose", default=argparse.SUPPRESS, **verbose)
    return parser


def _missing_extra(sub: argparse._SubParsersAction, module: str, message: str) -> None:
    """A command whose extra is not installed still exists, and says what to install."""
    name = module.split(".")[1]  # csframe.sandbox.cli -> sandbox
    stub = sub.add_parser(name, help=f"(needs an extra) {message}", add_help=False)
    stub.add_argument("rest", nargs=argparse.REMAINDER)
    stub.set_defaults(func=lambda _args: _fail(message))


def _fail(message: str) -> int:
    print(f"csframe: {message}", file=sys.stderr)
    return 2


def _leaves(sub: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    out = []
    for command in set(sub.choices.values()):
        nested = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
        out += [leaf for n in nested for leaf in _leaves(n)] if nested else [command]
    return out


def _configure_logging(verbosity: int) -> None:
    """``-v``: INFO, ``-vv``: DEBUG, on the ``csframe`` logger, to stderr."""
    import logging

    if not verbosity:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("csframe")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbosity > 1 else logging.INFO)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(getattr(args, "verbose", 0) or 0)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except ImportError as exc:
        if "csframe[" not in str(exc):  # a missing extra: one line naming it
            raise
        return _fail(str(exc))
