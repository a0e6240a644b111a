"""``csframe report REPORT ...``: build a report and write its workbook.

::

    csframe report usage-cost --start 2026-01 --end 2026-10 --out usage-cost.xlsx
    csframe report usage-cost --sandbox --out 'out/usage-{month}.xlsx' --quiet

Without ``--start/--end`` a report covers the 12 months up to the current one. Without
``--sandbox`` the credentials come from ``CLICKSEND_USERNAME`` / ``CLICKSEND_API_KEY``
(and ``CLICKSEND_BASE_URL``). ``--out`` may use the placeholders ``{month}`` (the last
month of the period, YYYY-MM), ``{date}`` (today, UTC, YYYY-MM-DD), ``{start}``,
``{end}`` and ``{report}``. The workbook is written atomically.

Exit codes (stable; cron jobs and CI branch on them):

== ======================================================================================
0  the workbook was written
1  unexpected internal error (a bug: please report it with the traceback)
2  usage or configuration error: bad arguments, bad month, unknown placeholder in
   ``--out``, missing credentials (same meaning as in ``csframe sync``)
3  API or authentication error: wrong credentials, account not active or banned, the
   API failing or unreachable after retries
4  the workbook could not be written (permissions, disk full, ...)
5  reserved: a budget was exceeded (``--budget``, to come)
== ======================================================================================

Example::

    from csframe.cli import main
    main(["report", "usage-cost", "--sandbox", "--out", "out/u-{month}.xlsx", "--quiet"])
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_API = 3
EXIT_OUTPUT = 4
EXIT_BUDGET = 5

EXIT_CODES_HELP = """\
exit codes:
  0  the workbook was written
  1  unexpected internal error
  2  usage or configuration error (bad arguments, missing credentials)
  3  API or authentication error
  4  the workbook could not be written
"""


@dataclass(frozen=True)
class ReportCommand:
    """One ``csframe report`` sub-command: the report function (``client, start, end``
    -> Report) and its default output name.

    Example::

        ReportCommand("usage-cost", "csframe.reports.usage_cost:usage_cost",
                      "monthly spend per channel and subaccount")
    """

    name: str
    target: str  # "module:function", imported only when the command runs
    help: str
    default_out: str = "{report}-{month}.xlsx"

    def load(self) -> Callable:
        import importlib

        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


#: The prebuilt reports, in ``--help`` order. Later reports add one line each.
REPORTS: tuple[ReportCommand, ...] = (
    ReportCommand(
        "usage-cost",
        "csframe.reports.usage_cost:usage_cost",
        "monthly spend and units per channel and subaccount",
    ),
)


class UsageError(ValueError):
    """A command-line value that cannot be used (exit code 2)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``csframe report`` and its report sub-commands.

    Example::

        parser = argparse.ArgumentParser(); register(parser.add_subparsers())
    """
    parser = subparsers.add_parser(
        "report",
        help="build a report workbook (usage-cost, ...)",
        description="Build a prebuilt report and write it as an Excel workbook.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    reports = parser.add_subparsers(dest="report", metavar="REPORT")
    parser.set_defaults(func=lambda _args: _no_report(parser))
    for command in REPORTS:
        p = reports.add_parser(
            command.name,
            help=command.help,
            description=f"{command.name}: {command.help}.",
            epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _add_common(p, command)
        p.set_defaults(func=lambda args, command=command: run(command, args))


def _add_common(p: argparse.ArgumentParser, command: ReportCommand) -> None:
    p.add_argument(
        "--start", metavar="YYYY-MM", help="first month (default: 11 months before --end)"
    )
    p.add_argument("--end", metavar="YYYY-MM", help="last month, inclusive (default: this month)")
    p.add_argument(
        "--out",
        metavar="PATH",
        default=command.default_out,
        help="workbook path; may use {month} {date} {start} {end} {report} "
        f"(default: {command.default_out})",
    )
    p.add_argument(
        "--sandbox",
        action="store_true",
        help="run against an embedded, seeded sandbox instead of the real API",
    )
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")


def _no_report(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def output_path(template: str, *, report: str, start, end, now: dt.datetime | None = None) -> Path:
    """``--out`` with its placeholders filled in; raises :class:`UsageError` for an unknown
    placeholder or stray brace.

    Example::

        >>> import pandas as pd
        >>> str(output_path("u-{month}.xlsx", report="usage-cost",
        ...                 start=pd.Timestamp("2026-01-01"), end=pd.Timestamp("2026-10-01")))
        'u-2026-10.xlsx'
    """
    now = now or dt.datetime.now(dt.UTC)
    values = {
        "month": f"{end:%Y-%m}",
        "start": f"{start:%Y-%m}",
        "end": f"{end:%Y-%m}",
        "date": f"{now:%Y-%m-%d}",
        "report": report,
    }
    try:
        text = template.format_map(values)
    except KeyError as exc:
        known = ", ".join("{" + k + "}" for k in values)
        raise UsageError(f"--out: unknown placeholder {{{exc.args[0]}}}; use {known}") from None
    except (ValueError, IndexError) as exc:
        raise UsageError(f"--out: {exc} (write a literal brace as {{{{ or }}}})") from None
    if not text.strip():
        raise UsageError("--out must not be empty")
    return Path(text).expanduser()


@contextlib.contextmanager
def open_client(*, sandbox: bool, quiet: bool) -> Iterator:
    """A Client for the command: an embedded sandbox's (started lazily, stopped on exit)
    or one from the environment's credentials.

    Example::

        with open_client(sandbox=True, quiet=True) as cs:
            cs.usage()
    """
    from csframe.client import Client

    progress = False if quiet else "auto"
    if sandbox:
        # Imported here only: the report layer never depends on the sandbox otherwise.
        from csframe.sandbox import running

        with (
            running(scale="small", seed=42) as sb,
            # A fresh sandbox each run: caching its answers would only fill the user's cache.
            Client(**sb.credentials, base_url=sb.base_url, cache=False, progress=progress) as cs,
        ):
            yield cs
    else:
        with Client(progress=progress) as cs:
            yield cs


def run(command: ReportCommand, args: argparse.Namespace) -> int:
    """Run one report command; returns the exit code. Errors are one line on stderr (the
    library's messages never contain credentials), never a traceback, except for bugs.

    Example::

        run(REPORTS[0], argparse.Namespace(start=None, end=None, out="u.xlsx",
                                           sandbox=True, quiet=True))
    """
    from csframe.errors import ApiError, ConfigurationError, CsframeError
    from csframe.reports.usage_cost import period

    prog = f"csframe report {command.name}"
    try:
        try:
            first, last = period(args.start, args.end)
        except ValueError as exc:
            raise UsageError(f"--start/--end: {exc}") from None
        out = output_path(args.out, report=command.name, start=first, end=last)
        build = command.load()
        with open_client(sandbox=args.sandbox, quiet=args.quiet) as cs:
            report = build(cs, start=f"{first:%Y-%m}", end=f"{last:%Y-%m}")
    except (UsageError, ConfigurationError) as exc:
        return _fail(prog, exc, EXIT_USAGE)
    except (ApiError, CsframeError) as exc:
        return _fail(prog, exc, EXIT_API)
    except OSError as exc:  # requests' ConnectionError is an OSError too
        return _fail(prog, f"cannot reach the API: {type(exc).__name__}: {exc}", EXIT_API)

    try:
        path = report.to_excel(out)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return _fail(prog, f"cannot write {out}: {reason}", EXIT_OUTPUT)
    if not args.quiet:
        print(describe(report, path))
    return EXIT_OK


def describe(report, path: Path | str) -> str:
    """The short summary printed after a run: period, channels, total spend, workbook.

    Example::

        print(describe(rep, "out/usage-cost.xlsx"))
    """
    s, m = report.summary, report.meta
    lines = [
        f"{m.title}, account {m.account.label or '-'}",
        f"  months       {m.months} ({m.period[0]} to {m.period[1]})",
    ]
    if "channels" in s:
        lines.append(f"  channels     {', '.join(s['channels']) or 'none'}")
    if "total_spend" in s:
        lines.append(f"  total spend  {m.money(s['total_spend'])}")
    lines.append(f"  workbook     {path}")
    return "\n".join(lines)


def _fail(prog: str, error, code: int) -> int:
    print(f"{prog}: error: {error}", file=sys.stderr)
    return code
