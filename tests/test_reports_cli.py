"""``csframe report``: exit codes, output naming, errors without tracebacks or secrets."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from csframe.cli import main
from csframe.reports.cli import (
    EXIT_API,
    EXIT_BUDGET,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_USAGE,
    UsageError,
    output_path,
)

REPO = Path(__file__).resolve().parents[1]
# Without --start/--end/--month a report covers the 12 complete months before this one.
LAST_MONTH = f"{dt.datetime.now(dt.UTC).replace(day=1) - dt.timedelta(days=1):%Y-%m}"
THIS_MONTH = f"{dt.datetime.now(dt.UTC):%Y-%m}"


def run_cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m csframe ARGS`` in a clean environment (no ClickSend variables)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CLICKSEND_")}
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), base.get("PYTHONPATH")]))
    base["CSFRAME_CACHE_DIR"] = str(cwd / "cache")
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "csframe", *args],
        cwd=cwd,
        env=base,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture
def sandbox_env(sandbox, monkeypatch):
    """The session sandbox's credentials in the environment, as a real deployment has."""
    monkeypatch.setenv("CLICKSEND_USERNAME", sandbox.credentials["username"])
    monkeypatch.setenv("CLICKSEND_API_KEY", sandbox.credentials["api_key"])
    monkeypatch.setenv("CLICKSEND_BASE_URL", sandbox.base_url)
    return sandbox


def test_cli_sandbox_writes_the_workbook(tmp_path):
    done = run_cli("report", "usage-cost", "--sandbox", "--out", "tmp/x-{month}.xlsx", cwd=tmp_path)
    assert done.returncode == EXIT_OK, done.stderr
    path = tmp_path / "tmp" / f"x-{LAST_MONTH}.xlsx"
    assert path.exists()
    assert "total spend" in done.stdout and str(Path("tmp") / f"x-{LAST_MONTH}.xlsx") in done.stdout
    assert "Traceback" not in done.stderr
    wb = load_workbook(path)
    assert wb.sheetnames[0] == "Summary" and "monthly_by_channel" in wb.sheetnames
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_cli_missing_credentials_is_a_clear_error(tmp_path):
    done = run_cli("report", "usage-cost", "--out", "x.xlsx", cwd=tmp_path)
    assert done.returncode == EXIT_USAGE
    assert "CLICKSEND_USERNAME" in done.stderr and "CLICKSEND_API_KEY" in done.stderr
    assert "--sandbox" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "x.xlsx").exists()


def test_cli_with_env_credentials_and_period(sandbox_env, tmp_path, capsys):
    out = tmp_path / "{report}_{start}_{end}.xlsx"
    code = main(
        ["report", "usage-cost", "--start", "2026-01", "--end", "2026-03", "--out", str(out)]
    )
    assert code == EXIT_OK
    path = tmp_path / "usage-cost_2026-01_2026-03.xlsx"
    assert path.exists()
    printed = capsys.readouterr()
    assert "3 (2026-01 to 2026-03)" in printed.out
    assert sandbox_env.credentials["api_key"] not in printed.out + printed.err
    ws = load_workbook(path)["monthly_spend"]
    assert ws.max_row == 1 + 3 + 1


def test_cli_quiet_prints_nothing(sandbox_env, tmp_path, capsys):
    code = main(["report", "usage-cost", "--quiet", "--out", str(tmp_path / "q.xlsx")])
    assert code == EXIT_OK
    assert capsys.readouterr() == ("", "")
    assert (tmp_path / "q.xlsx").exists()


def test_cli_wrong_key_is_an_api_error_without_the_key(sandbox_env, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CLICKSEND_API_KEY", "WRONG-KEY-0123456789")
    code = main(["report", "usage-cost", "--out", str(tmp_path / "x.xlsx")])
    assert code == EXIT_API
    err = capsys.readouterr().err
    assert "usage-cost: error:" in err and "INVALID_CREDENTIALS" in err.upper()
    assert "WRONG-KEY-0123456789" not in err
    assert not (tmp_path / "x.xlsx").exists()


def test_cli_unwritable_output(sandbox_env, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code = main(["report", "usage-cost", "--quiet", "--out", str(blocker / "x.xlsx")])
    assert code == EXIT_OUTPUT
    assert "cannot write" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["--start", "2026-13"],
        ["--start", "2026-05", "--end", "2026-01"],
        ["--end", "last year"],
        ["--out", "{nope}.xlsx"],
        ["--out", "x-{month.xlsx"],
    ],
)
def test_cli_usage_errors(args, capsys):
    # These fail before any client exists: no credentials or network needed.
    code = main(["report", "usage-cost", *args])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("csframe report usage-cost: error:")


def test_cli_report_without_a_name_shows_help(capsys):
    assert main(["report"]) == EXIT_USAGE
    assert "usage-cost" in capsys.readouterr().err


def test_output_path_placeholders():
    start, end = pd.Timestamp("2026-01-01", tz="UTC"), pd.Timestamp("2026-10-01", tz="UTC")
    now = dt.datetime(2026, 11, 2, 6, 0, tzinfo=dt.UTC)
    path = output_path(
        "r/{report}-{month}-{date}-{start}.xlsx", report="usage-cost", start=start, end=end, now=now
    )
    assert path == Path("r/usage-cost-2026-10-2026-11-02-2026-01.xlsx")
    assert output_path("plain.xlsx", report="x", start=start, end=end) == Path("plain.xlsx")
    assert output_path("{{literal}}.xlsx", report="x", start=start, end=end) == Path(
        "{literal}.xlsx"
    )
    with pytest.raises(UsageError, match="unknown placeholder"):
        output_path("{foo}.xlsx", report="x", start=start, end=end)


# --- periods, budgets, formats, other reports ---------------------------------------------------


def test_month_shortcuts(sandbox_env, tmp_path, capsys):
    from csframe.reports.cli import month_period

    assert month_period("last", dt.datetime(2026, 3, 31, tzinfo=dt.UTC)) == ("2026-02", "2026-02")
    assert month_period("this", dt.datetime(2026, 3, 31, tzinfo=dt.UTC)) == ("2026-03", "2026-03")
    assert month_period("2026-07") == ("2026-07", "2026-07")
    code = main(
        [
            "report",
            "usage-cost",
            "--month",
            "2026-03",
            "--no-history",
            "--out",
            str(tmp_path / "m-{month}.xlsx"),
        ]
    )
    assert code == EXIT_OK
    assert "1 (2026-03 to 2026-03)" in capsys.readouterr().out
    wb = load_workbook(tmp_path / "m-2026-03.xlsx")
    assert "reconciliation" not in wb.sheetnames  # --no-history
    assert main(["report", "usage-cost", "--month", "last", "--start", "2026-01"]) == EXIT_USAGE
    assert "cannot be combined" in capsys.readouterr().err
    assert main(["report", "usage-cost", "--month", "lastish"]) == EXIT_USAGE


def test_budget_exceeded_exit_code_with_the_workbook_written(sandbox_env, tmp_path, capsys):
    out = tmp_path / "b.xlsx"
    code = main(["report", "usage-cost", "--quiet", "--budget", "1", "--out", str(out)])
    assert code == EXIT_BUDGET == 5
    assert out.exists()  # cron still gets the workbook to send
    printed = capsys.readouterr()
    assert printed.out == ""  # --quiet, yet the alerts are on stderr
    assert "budget exceeded: Account over budget in" in printed.err
    wb = load_workbook(out)
    assert wb["budget"]["A1"].value == "Month"
    code = main(
        [
            "report",
            "usage-cost",
            "--quiet",
            "--budget",
            "1e9",
            "--budget",
            "csframe_marketing=1e9",
            "--out",
            str(out),
        ]
    )
    assert code == EXIT_OK
    assert capsys.readouterr() == ("", "")


def test_budget_exceeded_by_a_subaccount(sandbox_env, tmp_path, capsys):
    code = main(
        [
            "report",
            "usage-cost",
            "--quiet",
            "--budget",
            "csframe_marketing=0.5",
            "--out",
            str(tmp_path / "s.xlsx"),
        ]
    )
    assert code == EXIT_BUDGET
    assert "Subaccount csframe_marketing over budget" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["lots", "marketing=", "-5", "marketing=-1"])
def test_bad_budget_is_a_usage_error(value, sandbox_env, tmp_path, capsys):
    code = main(["report", "usage-cost", "--budget", value, "--out", str(tmp_path / "x.xlsx")])
    assert code == EXIT_USAGE
    assert "budget" in capsys.readouterr().err
    assert not (tmp_path / "x.xlsx").exists()


def test_parse_budget_args():
    from csframe.reports.cli import parse_budget_args

    assert parse_budget_args(None) is None
    assert parse_budget_args(["500", "a=1,b=2.5"]) == {"total": 500.0, "a": 1.0, "b": 2.5}
    with pytest.raises(UsageError):
        parse_budget_args(["a=x"])


def test_html_and_csv_formats(sandbox_env, tmp_path, capsys):
    code = main(
        [
            "report",
            "delivery",
            "--quiet",
            "--format",
            "html",
            "--out",
            str(tmp_path / "d-{month}.html"),
        ]
    )
    assert code == EXIT_OK
    html = (tmp_path / f"d-{LAST_MONTH}.html").read_text(encoding="utf-8")
    assert "<h1>Delivery (SMS)</h1>" in html and "data:image/png;base64," in html
    # The suffix alone says html.
    assert main(["report", "usage-cost", "--quiet", "--out", str(tmp_path / "u.html")]) == EXIT_OK
    assert (tmp_path / "u.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    code = main(
        ["report", "usage-cost", "--quiet", "--format", "csv", "--out", str(tmp_path / "u-csv")]
    )
    assert code == EXIT_OK
    names = sorted(p.name for p in (tmp_path / "u-csv").iterdir())
    assert "summary.csv" in names and "monthly_spend.csv" in names and "reconciliation.csv" in names
    monthly = pd.read_csv(tmp_path / "u-csv" / "monthly_spend.csv")
    assert len(monthly) == 12  # no totals row
    assert (
        main(["report", "usage-cost", "--format", "csv", "--out", str(tmp_path / "x.xlsx")])
        == EXIT_USAGE
    )
    assert "ends in .xlsx but --format is csv" in capsys.readouterr().err


def test_resolve_format_defaults():
    from csframe.reports.cli import resolve_format

    assert resolve_format(None, None, "{report}-{month}.xlsx") == ("xlsx", "{report}-{month}.xlsx")
    assert resolve_format("html", None, "{report}-{month}.xlsx") == (
        "html",
        "{report}-{month}.html",
    )
    assert resolve_format(None, "x.XLSX", "d.xlsx") == ("xlsx", "x.XLSX")


def test_delivery_command(sandbox_env, tmp_path, capsys):
    code = main(["report", "delivery", "--month", "last", "--out", str(tmp_path / "d.xlsx")])
    assert code == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith("Delivery (SMS)") and "delivered" in out and "failed spend" in out
    wb = load_workbook(tmp_path / "d.xlsx")
    assert wb.sheetnames[:3] == ["Summary", "daily", "monthly"]
    assert main(["report", "delivery", "--failure-threshold", "2"]) == EXIT_USAGE
    assert (
        main(["report", "delivery", "--channel", "pigeon", "--out", str(tmp_path / "p.xlsx")])
        == EXIT_USAGE
    )
    assert "pigeon" in capsys.readouterr().err


def test_every_report_has_a_command_and_help(capsys):
    from csframe.reports.cli import REPORTS

    assert [c.name for c in REPORTS] == ["usage-cost", "delivery", "campaigns", "contacts-health"]
    for cmd in REPORTS:
        assert callable(cmd.load())
        with pytest.raises(SystemExit) as exc:
            main(["report", cmd.name, "--help"])
        assert exc.value.code == 0
        assert "exit codes:" in capsys.readouterr().out


# --- report definitions (csframe report run) -------------------------------------------------------

DEFINITIONS = sorted((REPO / "reports").glob("*.toml"))


def test_every_prebuilt_report_has_a_definition():
    from csframe.reports.cli import REPORTS, load_definition

    jobs = {p.stem: load_definition(p) for p in DEFINITIONS}
    assert sorted(jobs) == sorted(c.name for c in REPORTS)
    for name, job in jobs.items():
        assert job.command.name == name
        assert job.out and "{" in job.out  # dated output names
        params = __import__("inspect").signature(job.command.load()).parameters
        assert set(job.options) <= set(params), name  # every option is a real parameter


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda p: p.stem)
def test_definitions_run_against_the_sandbox(path, sandbox_env, tmp_path, capsys):
    out = tmp_path / f"{path.stem}.xlsx"
    code = main(["report", "run", str(path), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    if code == EXIT_API and "NOT_FOUND" in err:
        pytest.skip(f"the sandbox does not serve the endpoints of {path.stem} yet: {err.strip()}")
    assert code == EXIT_OK, err
    wb = load_workbook(out)
    assert wb.sheetnames[0] == "Summary" and len(wb.sheetnames) > 2


def test_definition_with_sandbox_flag_and_overrides(tmp_path, capsys):
    # the last complete month always has spend; this one may not yet (the 1st, 00:20)
    definition = tmp_path / "mine.toml"
    definition.write_text(
        'report = "usage-cost"\nsandbox = true\nquiet = true\nmonth = "last"\n'
        'out = "{report}-{month}.xlsx"\n[options]\nhistory = false\n[budget]\ntotal = 0.01\n'
    )
    code = main(["report", "run", str(definition), "--out", str(tmp_path / "o-{month}.xlsx")])
    assert code == EXIT_BUDGET
    assert (tmp_path / f"o-{LAST_MONTH}.xlsx").exists()
    wb = load_workbook(tmp_path / f"o-{LAST_MONTH}.xlsx")
    assert "reconciliation" not in wb.sheetnames and "budget" in wb.sheetnames


@pytest.mark.parametrize(
    "text,message",
    [
        ("report = 'usage-cost'\nmonht = 'last'\n", "unknown key(s) monht"),
        ("month = 'last'\n", "missing `report"),
        ("report = 'usage-costs'\n", "unknown report 'usage-costs'"),
        ("report = 'usage-cost'\n[options]\nbudgett = 5\n", "has no option budgett"),
        ("report = 'usage-cost'\nmonth = 2026\n", "month must be a string"),
        ("report = 'usage-cost\n", "not valid TOML"),
    ],
)
def test_bad_definitions_are_usage_errors(text, message, tmp_path, capsys):
    definition = tmp_path / "bad.toml"
    definition.write_text(text)
    code = main(["report", "run", str(definition), "--sandbox"])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_missing_definition(tmp_path, capsys):
    assert main(["report", "run", str(tmp_path / "nope.toml")]) == EXIT_USAGE
    assert "no such report definition" in capsys.readouterr().err
