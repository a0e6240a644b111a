"""``csframe report REPORT ...`` and ``csframe report run DEFINITION.toml``.

::

    csframe report usage-cost --start 2026-01 --end 2026-10 --out usage-cost.xlsx
    csframe report usage-cost --month last --budget 500 --budget csframe_marketing=150
    csframe report delivery --sandbox --month 2026-10 --format html --out 'out/d-{month}.html'
    csframe report run reports/usage-cost.toml            # a scheduled definition

Period: ``--start``/``--end`` (months, inclusive) or ``--month last|this|YYYY-MM`` (one
month); neither = the last 12 complete months (the running month is only in a period
that asks for it, and is then labelled "to date"). Months and days are those of the
account's time zone (``--tz`` overrides it; usage-cost uses the billing months of
``/account/usage``). Without ``--sandbox`` the credentials come from
``CLICKSEND_USERNAME`` / ``CLICKSEND_API_KEY`` (and ``CLICKSEND_BASE_URL``). ``--out``
may use the placeholders ``{month}`` (the last month of the period, YYYY-MM), ``{date}``
(today, YYYY-MM-DD), ``{start}``, ``{end}`` and ``{report}``. ``--format`` is ``xlsx``
(default), ``html`` (one self-contained page) or ``csv`` (a directory: ``summary.csv``
and one CSV per table); an ``--out`` ending in ``.html`` or ``.csv`` implies the format
(``--out usage.csv`` writes the directory ``usage/``). Every output is written
atomically: a reader sees the previous file or the new one, never half of one.

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
6  ``--fail-on-alert`` and the report has alerts (failure rates, opt-outs, list health,
   reconciliation differences): the report was written and every alert line is on
   stderr, even with ``--quiet`` (a budget exceeded still exits 5)
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
EXIT_ALERT = 6

EXIT_CODES_HELP = """\
exit codes:
  0  the report was written
  1  unexpected internal error
  2  usage or configuration error (bad arguments or definition, missing credentials)
  3  API or authentication error
  4  the report could not be written
  5  a budget was exceeded (the report was written; alerts on stderr)
  6  --fail-on-alert and the report has alerts (written; alerts on stderr)
"""

FORMATS = ("xlsx", "html", "csv")
_SUFFIX_FORMAT = {".xlsx": "xlsx", ".html": "html", ".htm": "html", ".csv": "csv"}


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
    #: The time zone the report's months are in: None = the account's (``--tz`` offered);
    #: a name = fixed (usage-cost: the usage endpoint's billing months).
    fixed_tz: str | None = None

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
        fixed_tz="UTC",
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
        if cmd.fixed_tz is None:
            _opt_tz(p)
        else:  # accepted only to be refused in one clear line (months are fixed)
            p.add_argument("--tz", help=argparse.SUPPRESS)
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
    _opt_tz(p)
    p.set_defaults(func=run_definition)


def _add_common(p: argparse.ArgumentParser, *, default_out: str | None, periodic: bool) -> None:
    if periodic:
        p.add_argument(
            "--start", metavar="YYYY-MM", help="first month (default: 11 months before --end)"
        )
        p.add_argument(
            "--end",
            metavar="YYYY-MM",
            help="last month, inclusive (default: the last complete month)",
        )
        p.add_argument(
            "--month",
            metavar="last|this|YYYY-MM",
            help="one month instead of --start/--end: last month, this month, or YYYY-MM",
        )
    else:  # accepted only to be refused in one clear line (no period to choose)
        p.add_argument("--month", help=argparse.SUPPRESS)
    out_help = "output path; may use {month} {date} {start} {end} {report}"
    if default_out:
        out_help += (
            f" (default: {default_out}; .html means html; .csv means csv, written as the "
            "directory of that name without .csv)"
        )
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
    p.add_argument(
        "--fail-on-alert",
        action="store_true",
        default=None,
        help="exit 6 when the report has alerts, printing them on stderr (even with --quiet)",
    )


def _opt_tz(p):
    p.add_argument(
        "--tz",
        default=None,
        metavar="ZONE",
        help="time zone of months, days and times, e.g. Australia/Melbourne or UTC "
        "(default: the account's)",
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
                    f"--budget: {item!r} is not AMOUNT or NAME=AMOUNT (e.g. 500, csframe_marketing=150)"
                ) from None
    return out


def month_period(month: str, now: dt.datetime | None = None, tz: str = "UTC") -> tuple[str, str]:
    """``--month`` as ``(start, end)``: ``last``, ``this`` (or ``current``) or YYYY-MM;
    ``last``/``this`` are months of ``tz`` at ``now`` (default:
    :func:`csframe.timeutil.now_utc`).

    Example::

        >>> month_period("last", dt.datetime(2026, 1, 15, tzinfo=dt.UTC))
        ('2025-12', '2025-12')
        >>> month_period("this", dt.datetime(2026, 1, 31, 14, tzinfo=dt.UTC), "Australia/Melbourne")
        ('2026-02', '2026-02')
    """
    import pandas as pd

    from csframe import timeutil

    stamp = pd.Timestamp(now) if now is not None else timeutil.now_utc()
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    now = stamp.tz_convert(tz).floor("us").to_pydatetime()
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
    if now is None:
        from csframe import timeutil

        now = timeutil.now_utc().floor("us").to_pydatetime()
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
    elif fmt == "csv" and suffix == ".csv":
        # CSV output is a directory of CSV files: named after --out, without the suffix.
        out = out[: -len(suffix)]
        if not out.strip() or out.endswith(("/", "\\")):
            raise UsageError(f"--out {out + suffix!r}: name the CSV directory, e.g. usage.csv")
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
    tz: str | None = None
    fail_on_alert: bool = False


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
            tz=getattr(args, "tz", None),
            fail_on_alert=bool(getattr(args, "fail_on_alert", None)),
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
    from csframe import timeutil
    from csframe.errors import ApiError, ConfigurationError, CsframeError
    from csframe.reports.model import OptionError
    from csframe.reports.periods import account_tz, check_tz

    cmd = job.command
    prog = f"csframe report {cmd.name}"
    try:
        if job.tz is not None and cmd.fixed_tz is not None:
            raise UsageError(f"{cmd.name} has no --tz: its months are {cmd.fixed_tz} months")
        tz = check_tz(job.tz) if job.tz is not None else cmd.fixed_tz
        start, end = job.start, job.end
        if job.month is not None and (start is not None or end is not None):
            raise UsageError("--month cannot be combined with --start/--end")
        if job.month is not None and not cmd.periodic:
            raise UsageError(
                f"{cmd.name} has no --month: it describes the lists as they are now "
                "(use {date} in --out to keep one file per day)"
            )
        # The period is checked before any client exists (a bad month needs no network);
        # its months are settled once the time zone is known.
        _period(job, tz or "UTC")
        fmt, template = resolve_format(job.format, job.out, cmd.default_out)
        _check_template(template, cmd.name)
        build = cmd.load()
        kwargs = _check_options(cmd, build, job.options)
        with open_client(sandbox=job.sandbox, quiet=job.quiet) as cs:
            if tz is None:
                tz = account_tz(cs.account())
            first, last = _period(job, tz)
            if cmd.periodic:
                kwargs |= {"start": f"{first:%Y-%m}", "end": f"{last:%Y-%m}"}
            if cmd.fixed_tz is None:
                kwargs["tz"] = tz
            report = build(cs, **kwargs)
        now = timeutil.now_utc().tz_convert(tz).floor("us").to_pydatetime()  # {date}: there
        m = report.meta
        out = output_path(template, report=cmd.name, start=m.start, end=m.end, now=now)
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
    if job.fail_on_alert and report.alerts:
        for line in report.alerts:
            print(f"{prog}: alert: {line}", file=sys.stderr)
        return EXIT_ALERT
    return EXIT_OK


def _period(job: Job, tz: str):
    """The first and last month of ``job`` in ``tz`` (UsageError for a bad month)."""
    from csframe.reports.periods import resolve_period

    if not job.command.periodic:
        p = resolve_period(tz=tz)
        return p.current, p.current
    start, end = job.start, job.end
    try:
        if job.month is not None:
            start, end = month_period(job.month, tz=tz)
        p = resolve_period(start, end, tz=tz)
    except ValueError as exc:
        raise UsageError(f"--start/--end/--month: {exc}") from None
    return p.first, p.last


def _check_template(template: str, report: str) -> None:
    """Unknown placeholders in ``--out`` fail before anything is loaded."""
    import pandas as pd

    stamp = pd.Timestamp("2026-01-01", tz="UTC")
    output_path(template, report=report, start=stamp, end=stamp)


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
    lines = [f"{m.title}, account {m.account.label or '-'}"]
    if m.snapshot:
        lines.append(f"  {'as of':<12} {m.period_label.removeprefix('as of ')} ({m.tz})")
    else:
        lines.append(f"  months       {m.months} ({m.period_label.split(' (', 1)[0]})")
        if m.to_date is not None:
            lines.append(f"  {'to date':<12} {m.to_date:%Y-%m} is not complete (run rate only)")
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
    "tz",
    "fail_on_alert",
}


def load_definition(path: str | Path) -> Job:
    """A :class:`Job` from a report definition (TOML). Keys: ``report`` (required),
    ``description``, ``month`` or ``start``/``end``, ``out``, ``format``, ``sandbox``,
    ``quiet``, ``tz``, ``fail_on_alert``, ``[options]`` (keyword options of the report
    function) and ``[budget]`` (usage-cost: ``total = 500``, ``<subaccount> = 150``; a
    subaccount the account does not have is an error). Relative ``out`` paths are relative
    to the working directory, like ``--out``.

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
    for key in ("start", "end", "month", "out", "format", "tz"):
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
        tz=data.get("tz"),
        fail_on_alert=bool(data.get("fail_on_alert", False)),
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
    for key in ("out", "format", "sandbox", "quiet", "tz", "fail_on_alert"):
        value = getattr(args, key, None)
        if value is not None:
            setattr(job, key, value)
    return execute(job)


def _fail(prog: str, error, code: int) -> int:
    print(f"{prog}: error: {error}", file=sys.stderr)
    return code
