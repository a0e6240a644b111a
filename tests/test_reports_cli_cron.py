"""The command line under cron: loud typos, alerts that fail the job when asked, one-line
errors with their exit codes (never a traceback), and no progress bars without a
terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from csframe.cli import main
from csframe.reports.cli import EXIT_ALERT, EXIT_OK, EXIT_OUTPUT, EXIT_USAGE

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def sandbox_env(sandbox, monkeypatch):
    monkeypatch.setenv("CLICKSEND_USERNAME", sandbox.credentials["username"])
    monkeypatch.setenv("CLICKSEND_API_KEY", sandbox.credentials["api_key"])
    monkeypatch.setenv("CLICKSEND_BASE_URL", sandbox.base_url)
    return sandbox


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_unknown_budget_subaccount_exits_2_listing_the_known_ones(sandbox_env, tmp_path, capsys):
    out = tmp_path / "u.xlsx"
    code = main(["report", "usage-cost", "--budget", "nosuch=10", "--out", str(out)])
    assert code == EXIT_USAGE
    line = one_line(capsys.readouterr().err)
    assert line.startswith("csframe report usage-cost: error: budget: unknown subaccount 'nosuch'")
    assert "csframe_marketing (60312)" in line and "csframe_support (60313)" in line
    assert not out.exists()


def test_unknown_budget_subaccount_in_a_definition_exits_2(sandbox_env, tmp_path, capsys):
    definition = tmp_path / "u.toml"
    definition.write_text(
        'report = "usage-cost"\nout = "u.xlsx"\n[budget]\ntotal = 500\nmarketing = 150\n'
    )
    assert main(["report", "run", str(definition), "--out", str(tmp_path / "u.xlsx")]) == 2
    line = one_line(capsys.readouterr().err)
    assert "unknown subaccount 'marketing'" in line and "csframe_marketing" in line


def test_the_shipped_definitions_name_real_subaccounts():
    import tomllib

    data = tomllib.loads((REPO / "reports" / "usage-cost.toml").read_text(encoding="utf-8"))
    names = {k for k in data.get("budget", {}) if k not in ("total", "account", "*")}
    assert names <= {"csframe_demo", "csframe_marketing", "csframe_support", "csframe_alerts"}


def test_fail_on_alert_exits_6_with_the_alerts_on_stderr_even_when_quiet(
    sandbox_env, tmp_path, capsys
):
    args = ["report", "delivery", "--quiet", "--failure-threshold", "0.001"]
    out = tmp_path / "d.xlsx"
    assert main([*args, "--out", str(out)]) == EXIT_OK  # alerts alone do not fail a job...
    assert capsys.readouterr() == ("", "")
    assert main([*args, "--fail-on-alert", "--out", str(out)]) == EXIT_ALERT == 6  # ...unless asked
    printed = capsys.readouterr()
    assert printed.out == "" and out.exists()
    lines = printed.err.splitlines()
    assert lines and all(line.startswith("csframe report delivery: alert: ") for line in lines)
    assert any("Failure rate" in line for line in lines)


def test_out_with_csv_suffix_writes_csv_files(sandbox_env, tmp_path, capsys):
    code = main(["report", "usage-cost", "--quiet", "--out", str(tmp_path / "usage.csv")])
    assert code == EXIT_OK
    folder = tmp_path / "usage"
    assert folder.is_dir() and not (tmp_path / "usage.csv").exists()
    assert len(pd.read_csv(folder / "monthly_spend.csv")) == 12
    code = main(["report", "usage-cost", "--format", "xlsx", "--out", str(tmp_path / "x.csv")])
    assert code == EXIT_USAGE
    assert "ends in .csv but --format is xlsx" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    "args,message",
    [
        (["report", "usage-cost", "--month", "2026-13"], "--start/--end/--month:"),
        (["report", "delivery", "--month", "someday"], "--start/--end/--month:"),
        (["report", "contacts-health", "--month", "last"], "contacts-health has no --month"),
        (["report", "delivery", "--tz", "Mars/Olympus"], "tz must be an IANA time zone"),
        (["report", "usage-cost", "--tz", "UTC"], "usage-cost has no --tz"),
    ],
)
def test_bad_values_are_one_line_usage_errors(args, message, capsys):
    assert main(args) == EXIT_USAGE
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"csframe report {args[1]}: error:") and message in line


def run_cli(*args, cwd, stderr=subprocess.PIPE, env=None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env or {})}
    env.pop("CI", None)  # "auto" progress is off under CI anyway: test the TTY rule itself
    return subprocess.run(
        [sys.executable, "-m", "csframe", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=env,
        timeout=240,
    )


def test_sandbox_serve_with_a_bad_port_is_a_one_line_error(tmp_path):
    done = run_cli("sandbox", "serve", "--port", "99999", cwd=tmp_path)
    assert done.returncode == EXIT_USAGE
    line = one_line(done.stderr.decode())
    assert line.startswith("csframe sandbox: error:") and "65535" in line


def test_sync_to_an_unwritable_path_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    done = run_cli("sync", "sms", str(blocker / "store"), "--sandbox", cwd=tmp_path)
    assert done.returncode == EXIT_OUTPUT == 4
    line = one_line(done.stderr.decode())
    assert line.startswith("csframe sync: error: cannot write")


def test_sync_under_cron_or_into_a_pipe_prints_no_progress_bars(tmp_path):
    # Cron (and `csframe sync ... | cat`): no terminal, so nothing but the result line.
    done = run_cli("sync", "sms", str(tmp_path / "store"), "--sandbox", cwd=tmp_path)
    err = done.stderr.decode(errors="replace")
    assert done.returncode == EXIT_OK, err
    assert err == "", err  # no bars ("sms history:  40%|####  | 2/5 [...page/s]"), nothing
    assert done.stdout.decode().startswith("synced ")
    assert (tmp_path / "store").is_dir()


def test_progress_auto_needs_a_terminal_on_both_streams(monkeypatch):
    from csframe import paging

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False, raising=False)
    assert paging.progress_enabled("auto") is False
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    assert paging.progress_enabled("auto") is True
    assert paging.progress_enabled(False) is False


def test_progress_total_is_known_before_the_bar_starts(sandbox, monkeypatch):
    """Every window's first page says its last page before the bar shows a total."""
    import tqdm.auto

    from csframe import Client, paging

    totals = []

    class Recorder(tqdm.auto.tqdm):
        def __init__(self, *a, **kw):
            kw["disable"] = True
            super().__init__(*a, **kw)
            totals.append(kw.get("total"))
            self.recorded = kw.get("total")

        def refresh(self, *a, **kw):
            totals.append(self.total)

    monkeypatch.setattr(tqdm.auto, "tqdm", Recorder)
    monkeypatch.setattr(paging, "progress_enabled", lambda p: bool(p))
    with Client(**sandbox.credentials, base_url=sandbox.base_url, cache=False, progress=True) as cs:
        df = cs.history("sms", start="2026-01-01T00:00:00Z", end="2026-07-01T00:00:00Z", limit=100)
    assert len(df) > 100
    assert totals and totals[0] >= len(df) // 100
    assert set(totals) == {totals[0]}  # never grows while the bar runs


def test_workbook_of_a_definition_run_is_written(sandbox_env, tmp_path):
    # The shipped usage-cost definition runs as is against the sandbox (real names).
    code = main(
        [
            "report",
            "run",
            str(REPO / "reports" / "usage-cost.toml"),
            "--quiet",
            "--out",
            str(tmp_path / "u.xlsx"),
        ]
    )
    assert code in (EXIT_OK, 5)
    assert load_workbook(tmp_path / "u.xlsx").sheetnames[0] == "Summary"
