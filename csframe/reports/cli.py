"""``csframe report REPORT ...`` and ``csframe report run DEFINITION.toml``.

::

    csframe report usage-cost --start 2026-01 --end 2026-10 --out usage-cost.xlsx
    csframe report usage-cost --month last --budget 500 --budget marketing=150
    csframe report delivery --sandbox --month 2026-10 --format html --out 'out/d-{month}.html'
    csframe report run reports/usage-cost.toml            # a scheduled definition

Period: ``--start``/``--end`` (months, inclusive) or ``--month last|this|YYYY-MM`` (one
month); neither = the 12 months up to the current one. Without ``--sandbox`` the
credentials come from ``CLICKSEND_USERNAME`` / ``CLICKSEND_API_KEY`` (and
``CLICKSEND_BASE_URL``). ``--out`` may use the placeholders ``{month}`` (the last month of
the period, YYYY-MM), ``{date}`` (today, UTC, YYYY-MM-DD), ``{start}``, ``{end}`` and
``{report}``. ``--format`` is ``xlsx`` (default, or inferred from an ``.html`` name),
``html`` (one self-contained page) or ``csv`` (a directory: ``summary.csv`` and one CSV
per table). Every output is written atomically: a reader sees the previous file or the new
one, never half of one.

Exit codes (stable; cron jobs and CI branch on them):

== ======================================================================================
0  the report was written
1  unexpected internal error (a bug: please report it with the traceback)
2  usage or configuration error: bad arguments, bad month, unknown placeholder in
   ``--out``, bad report definition, missing credentials (same meaning as in
   ``csframe sync``)
3  API or authentication error: wrong credentials, account not active or banned, the
   API failing or unreachable after retries
4  the report could not be written (permissions, disk full, ...)
5  a budget was exceeded (``--budget``): the report *was* written (send it!) and the
   over-budget lines are printed on stderr, even with ``--quiet``
== ======================================================================================

Example::

    from csframe.cli import main
    main(["report", "usage-cost", "--sandbox", "--out", "out/u-{month}.xlsx", "--quiet"])
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import inspect
import sys
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_API = 3
EXIT_OUTPUT = 4
EXIT_BUDGET = 5

EXIT_CODES_HELP = """\
exit codes:
  0  the report was written
  1  unexpected internal error
  2  usage or configuration error (bad arguments or definition, missing credentials)
  3  API or authentication error
  4  the report could not be written
  5  a budget was exceeded (the report was written; alerts on stderr)
"""

FORMATS = ("xlsx", "html", "csv")
_SUFFIX_FORMAT = {".xlsx": "xlsx", ".html": "html", ".htm": "html"}


@dataclass(frozen=True)
class ReportCommand:
    """One ``csframe report`` sub-command: the report function (``client, start, end,
    **options`` -> Report), its help, and the extra options it takes on the command line.

    Example::

        ReportCommand("usage-cost", "csframe.reports.usage_cost:usage_cost",
                      "monthly spend per channel and subaccount")
    """

    name: str
    target: str  # "module:function", imported only when the command runs
    help: str
    options: tuple[str, ...] = ()  # names of the extra CLI options (see _OPTIONS)
    periodic: bool = True  # False: the report has no period (contacts-health)
    default_out: str = "{report}-{month}.xlsx"

    def load(self) -> Callable:
        import importlib

        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


#: The prebuilt reports, in ``--help`` order. A new report adds one line.
REPORTS: tuple[ReportCommand, ...] = (
    ReportCommand(
        "usage-cost",
        "csframe.reports.usage_cost:usage_cost",
        "monthly spend and units per channel and subaccount, budgets, reconciliation",
        options=("budget", "by", "no_history"),
    ),
    ReportCommand(
        "delivery",
        "csframe.reports.delivery:delivery",
        "delivered / failed / pending rates per day, country and carrier; error codes",
        options=("channel", "failure_threshold"),
    ),
    ReportCommand(
        "campaigns",
        "csframe.reports.campaigns:campaigns",
        "per campaign: recipients, delivered, failed, cost, replies, opt-outs, email opens",
        options=("channels",),
    ),
    ReportCommand(
        "contacts-health",
        "csframe.reports.contacts_health:contacts_health",
        "per contact list: contacts, invalid numbers, duplicates, opt-outs",
        options=("region",),
        periodic=False,
    ),
)


def command(name: str) -> ReportCommand:
    """The :class:`ReportCommand` called ``name``; UsageError listing the known ones.

    Example::

        >>> command("usage-cost").target
        'csframe.reports.usage_cost:usage_cost'
    """
    for c in REPORTS:
        if c.name == name:
            return c
    known = ", ".join(c.name for c in REPORTS)
    raise UsageError(f"unknown report {name!r}; known reports: {known}")


class UsageError(ValueError):
    """A command-line value or definition that cannot be used (exit code 2)."""


# --- arguments ---------------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``csframe report`` with its report sub-commands and ``run``.

    Example::

        parser = argparse.ArgumentParser(); register(parser.add_subparsers())
    """
    parser = subparsers.add_parser(
        "report",
        help="build a report (usage-cost, delivery, campaigns, contacts-health)",
        description="Build a prebuilt report and write it as an Excel workbook, an HTML "
        "page or CSV files; or run a report definition (reports/*.toml).",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    reports = parser.add_subparsers(dest="report", metavar="REPORT")
    parser.set_defaults(func=lambda _args: _no_report(parser))
    for cmd in REPORTS:
        p = reports.add_parser(
            cmd.name,
            help=cmd.help,
            description=f"{cmd.name}: {cmd.help}.",
            epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _add_common(p, default_out=cmd.default_out, periodic=cmd.periodic)
        for opt in cmd.options:
            _OPTIONS[opt](p)
        p.set_defaults(func=lambda args, cmd=cmd: run(cmd, args))
    p = reports.add_parser(
        "run",
        help="run a report definition (TOML), e.g. reports/usage-cost.toml",
        description="Run a report definition file. Command-line options override the "
        "file's values.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("definition", metavar="FILE.toml", help="the report definition")
    _add_common(p, default_out=None, periodic=True)
    p.set_defaults(func=run_definition)


def _add_common(p: argparse.ArgumentParser, *, default_out: str | None, periodic: bool) -> None:
    if periodic:
        p.add_argument(
            "--start", metavar="YYYY-MM", help="first month (default: 11 months before --end)"
        )
        p.add_argument(
            "--end", metavar="YYYY-MM", help="last month, inclusive (default: this month)"
        )
        p.add_argument(
            "--month",
            metavar="last|this|YYYY-MM",
            help="one month instead of --start/--end: last month, this month, or YYYY-MM",
        )
    out_help = "output path; may use {month} {date} {start} {end} {report}"
    if default_out:
        out_help += f" (default: {default_out}, .html for html, a directory for csv)"
    p.add_argument("--out", metavar="PATH", default=None, help=out_help)
    p.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="xlsx (default), html (one page) or csv (a directory of CSV files)",
    )
    p.add_argument(
        "--sandbox",
        action="store_true",
        default=None,
        help="run against an embedded, seeded sandbox instead of the real API",
    )
    p.add_argument(
        "--quiet", action="store_true", default=None, help="print nothing but errors and alerts"
    )


def _opt_budget(p):
    p.add_argument(
        "--budget",
        action="append",
        metavar="AMOUNT|NAME=AMOUNT",
        help="monthly budget: AMOUNT for the account, NAME=AMOUNT for a subaccount "
        "(username or id); repeat for several. Exceeded: exit code 5",
    )


def _opt_by(p):
    p.add_argument(
        "--by",
        metavar="DIMS",
        help="breakdown dimensions, comma-separated (default: month,channel,subaccount)",
    )


def _opt_no_history(p):
    p.add_argument(
        "--no-history",
        dest="history",
        action="store_false",
        default=None,
        help="usage only: skip the history (no cost per delivered, no reconciliation)",
    )


def _opt_channel(p):
    p.add_argument("--channel", default=None, help="history channel (default: sms)")


def _opt_channels(p):
    p.add_argument(
        "--channels",
        default=None,
        metavar="LIST",
        help="campaign channels, comma-separated (default: sms,mms,email)",
    )


def _opt_failure_threshold(p):
    p.add_argument(
        "--failure-threshold",
        type=float,
        default=None,
        metavar="RATE",
        help="highlight and alert failure rates above RATE (default: 0.10)",
    )


def _opt_region(p):
    p.add_argument(
        "--region",
        default=None,
        metavar="CC",
        help="default region for national phone numbers (default: the account's country)",
    )


_OPTIONS = {
    "budget": _opt_budget,
    "by": _opt_by,
    "no_history": _opt_no_history,
    "channel": _opt_channel,
    "channels": _opt_channels,
    "failure_threshold": _opt_failure_threshold,
    "region": _opt_region,
}


def _no_report(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


# --- values ------------------------------------------------------------------------------------


def parse_budget_args(values: list[str] | None) -> dict[str, float] | None:
    """``--budget`` values as a mapping: ``500`` -> ``{"total": 500}``,
    ``marketing=150`` -> ``{"marketing": 150}``.

    Example::

        >>> parse_budget_args(["500", "marketing=150"])
        {'total': 500.0, 'marketing': 150.0}
    """
    if not values:
        return None
    out: dict[str, float] = {}
    for raw in values:
        for item in str(raw).split(","):
            item = item.strip()
            if not item:
                continue
            name, sep, amount = item.rpartition("=")
            key = name.strip() if sep else "total"
            try:
                out[key or "total"] = float(amount)
            except ValueError:
                raise UsageError(
                    f"--budget: {item!r} is not AMOUNT or NAME=AMOUNT (e.g. 500, marketing=150)"
                ) from None
    return out


def month_period(month: str, now: dt.datetime | None = None) -> tuple[str, str]:
    """``--month`` as ``(start, end)``: ``last``, ``this`` (or ``current``) or YYYY-MM.

    Example::

        >>> month_period("last", dt.datetime(2026, 1, 15, tzinfo=dt.UTC))
        ('2025-12', '2025-12')
    """
    now = now or dt.datetime.now(dt.UTC)
    text = str(month).strip().lower()
    if text in ("this", "current"):
        m = f"{now:%Y-%m}"
    elif text in ("last", "previous"):
        first = now.replace(day=1)
        m = f"{first - dt.timedelta(days=1):%Y-%m}"
    else:
        m = str(month).strip()
    return m, m


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


def resolve_format(fmt: str | None, out: str | None, default_out: str) -> tuple[str, str]:
    """The output format and ``--out`` template: an explicit format wins (an ``--out``
    whose suffix says otherwise is an error); else the suffix of ``--out``; else xlsx.

    Example::

        >>> resolve_format(None, "r.html", "{report}-{month}.xlsx")
        ('html', 'r.html')
        >>> resolve_format("csv", None, "{report}-{month}.xlsx")
        ('csv', '{report}-{month}')
    """
    suffix = Path(out).suffix.lower() if out else ""
    implied = _SUFFIX_FORMAT.get(suffix)
    if fmt is None:
        fmt = implied or "xlsx"
    elif fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    elif implied and implied != fmt:
        raise UsageError(f"--out {out!r} ends in {suffix} but --format is {fmt}")
    if out is None:
        stem = default_out.removesuffix(".xlsx")
        out = {"xlsx": default_out, "html": stem + ".html", "csv": stem}[fmt]
    return fmt, out


# --- running -----------------------------------------------------------------------------------


@dataclass
class Job:
    """Everything one report run needs, from the command line or a definition file.

    Example::

        Job(command("usage-cost"), month="last", sandbox=True, options={"budget": 500})
    """

    command: ReportCommand
    start: str | None = None
    end: str | None = None
    month: str | None = None
    out: str | None = None
    format: str | None = None
    sandbox: bool = False
    quiet: bool = False
    options: dict[str, Any] = field(default_factory=dict)


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


def _cli_options(cmd: ReportCommand, args: argparse.Namespace) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if "budget" in cmd.options:
        budget = parse_budget_args(getattr(args, "budget", None))
        if budget is not None:
            opts["budget"] = budget
    if "by" in cmd.options and getattr(args, "by", None):
        opts["by"] = tuple(x.strip() for x in args.by.split(",") if x.strip())
    if "no_history" in cmd.options and getattr(args, "history", None) is False:
        opts["history"] = False
    if "channel" in cmd.options and getattr(args, "channel", None):
        opts["channel"] = args.channel
    if "channels" in cmd.options and getattr(args, "channels", None):
        opts["channels"] = tuple(x.strip() for x in args.channels.split(",") if x.strip())
    if "failure_threshold" in cmd.options and getattr(args, "failure_threshold", None) is not None:
        opts["failure_threshold"] = args.failure_threshold
    if "region" in cmd.options and getattr(args, "region", None):
        opts["region"] = args.region
    return opts


def run(cmd: ReportCommand, args: argparse.Namespace) -> int:
    """Run one report sub-command; returns the exit code.

    Example::

        run(REPORTS[0], argparse.Namespace(start=None, end=None, month=None, out="u.xlsx",
                                           format=None, sandbox=True, quiet=True))
    """
    prog = f"csframe report {cmd.name}"
    try:
        job = Job(
            cmd,
            start=getattr(args, "start", None),
            end=getattr(args, "end", None),
            month=getattr(args, "month", None),
            out=args.out,
            format=args.format,
            sandbox=bool(args.sandbox),
            quiet=bool(args.quiet),
            options=_cli_options(cmd, args),
        )
    except UsageError as exc:
        return _fail(prog, exc, EXIT_USAGE)
    return execute(job)


def execute(job: Job) -> int:
    """Build the report of ``job``, write it and return the exit code. Errors are one line
    on stderr (the library's messages never contain credentials), never a traceback,
    except for bugs.

    Example::

        execute(Job(command("delivery"), month="last", sandbox=True, quiet=True))
    """
    from csframe.errors import ApiError, ConfigurationError, CsframeError
    from csframe.reports.base import OptionError
    from csframe.reports.usage_cost import period

    cmd = job.command
    prog = f"csframe report {cmd.name}"
    try:
        start, end = job.start, job.end
        if job.month is not None:
            if start is not None or end is not None:
                raise UsageError("--month cannot be combined with --start/--end")
            start, end = month_period(job.month)
        try:
            first, last = period(start, end) if cmd.periodic else period(None, None)
        except ValueError as exc:
            raise UsageError(f"--start/--end/--month: {exc}") from None
        if not cmd.periodic:
            first = last
        fmt, template = resolve_format(job.format, job.out, cmd.default_out)
        out = output_path(template, report=cmd.name, start=first, end=last)
        build = cmd.load()
        kwargs = _check_options(cmd, build, job.options)
        if cmd.periodic:
            kwargs |= {"start": f"{first:%Y-%m}", "end": f"{last:%Y-%m}"}
        with open_client(sandbox=job.sandbox, quiet=job.quiet) as cs:
            report = build(cs, **kwargs)
    except (UsageError, ConfigurationError, OptionError) as exc:
        return _fail(prog, exc, EXIT_USAGE)
    except (ApiError, CsframeError) as exc:
        return _fail(prog, exc, EXIT_API)
    except OSError as exc:  # requests' ConnectionError is an OSError too
        return _fail(prog, f"cannot reach the API: {type(exc).__name__}: {exc}", EXIT_API)

    try:
        path = report.write(out, fmt)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return _fail(prog, f"cannot write {out}: {reason}", EXIT_OUTPUT)
    if not job.quiet:
        print(describe(report, path))
    if report.budget_exceeded:
        lines = [a for a in report.alerts if "over budget" in a] or report.alerts
        for line in lines:
            print(f"{prog}: budget exceeded: {line}", file=sys.stderr)
        return EXIT_BUDGET
    return EXIT_OK


def _check_options(cmd: ReportCommand, build: Callable, options: dict) -> dict:
    params = inspect.signature(build).parameters
    unknown = sorted(k for k in options if k not in params or k in ("client", "start", "end"))
    if unknown:
        allowed = sorted(
            n
            for n, p in params.items()
            if p.kind == p.KEYWORD_ONLY and n not in ("client", "start", "end")
        )
        raise UsageError(
            f"{cmd.name} has no option {', '.join(unknown)}; options: {', '.join(allowed) or '-'}"
        )
    return dict(options)


_HEADLINE = (
    ("channels", "channels"),
    ("total_spend", "total spend"),
    ("messages", "messages"),
    ("delivery_rate", "delivered"),
    ("failed_spend", "failed spend"),
    ("campaigns", "campaigns"),
    ("lists", "lists"),
    ("contacts", "contacts"),
)


def describe(report, path: Path | str) -> str:
    """The short summary printed after a run: period, a few key figures, alerts, output.

    Example::

        print(describe(rep, "out/usage-cost.xlsx"))
    """
    from csframe.reports.base import format_value

    s, m = report.summary, report.meta
    lines = [
        f"{m.title}, account {m.account.label or '-'}",
        f"  months       {m.months} ({m.period[0]} to {m.period[1]})",
    ]
    for key, label in _HEADLINE:
        if key not in s:
            continue
        kind = report.summary_kinds.get(key, "text")
        if key == "channels":
            text = ", ".join(s[key]) or "none"
        else:
            text = format_value(s[key], kind, m)
        lines.append(f"  {label:<12} {text}")
    if report.alerts:
        lines.append(f"  alerts       {len(report.alerts)} (see the Summary)")
    if Path(path).is_dir():
        label = "directory"
    else:
        label = "workbook" if str(path).endswith(".xlsx") else "output"
    lines.append(f"  {label:<12} {path}")
    return "\n".join(lines)


# --- definitions -------------------------------------------------------------------------------

_DEFINITION_KEYS = {
    "report",
    "start",
    "end",
    "month",
    "out",
    "format",
    "sandbox",
    "quiet",
    "options",
    "budget",
    "description",
}


def load_definition(path: str | Path) -> Job:
    """A :class:`Job` from a report definition (TOML). Keys: ``report`` (required),
    ``description``, ``month`` or ``start``/``end``, ``out``, ``format``, ``sandbox``,
    ``quiet``, ``[options]`` (keyword options of the report function) and ``[budget]``
    (usage-cost: ``total = 500``, ``<subaccount> = 150``). Relative ``out`` paths are
    relative to the working directory, like ``--out``.

    Example::

        job = load_definition("reports/usage-cost.toml")
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such report definition") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - _DEFINITION_KEYS)
    if unknown:
        raise UsageError(
            f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_DEFINITION_KEYS))}"
        )
    if "report" not in data:
        raise UsageError(f'{path}: missing `report = "usage-cost"` (or another report)')
    cmd = command(str(data["report"]))
    options = data.get("options") or {}
    if not isinstance(options, dict):
        raise UsageError(f"{path}: [options] must be a table")
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    if "budget" in data:
        if not isinstance(data["budget"], dict | int | float):
            raise UsageError(f"{path}: budget must be a number or a [budget] table")
        options["budget"] = data["budget"]
    for key in ("start", "end", "month", "out", "format"):
        if key in data and not isinstance(data[key], str):
            raise UsageError(f'{path}: {key} must be a string, e.g. {key} = "..."')
    return Job(
        cmd,
        start=data.get("start"),
        end=data.get("end"),
        month=data.get("month"),
        out=data.get("out"),
        format=data.get("format"),
        sandbox=bool(data.get("sandbox", False)),
        quiet=bool(data.get("quiet", False)),
        options=options,
    )


def run_definition(args: argparse.Namespace) -> int:
    """``csframe report run FILE.toml [overrides]``; returns the exit code.

    Example::

        main(["report", "run", "reports/usage-cost.toml", "--sandbox"])
    """
    prog = "csframe report run"
    try:
        job = load_definition(args.definition)
    except UsageError as exc:
        return _fail(prog, exc, EXIT_USAGE)
    if args.start is not None or args.end is not None or args.month is not None:
        job.start, job.end, job.month = args.start, args.end, args.month
    for key in ("out", "format", "sandbox", "quiet"):
        value = getattr(args, key)
        if value is not None:
            setattr(job, key, value)
    return execute(job)


def _fail(prog: str, error, code: int) -> int:
    print(f"{prog}: error: {error}", file=sys.stderr)
    return code
