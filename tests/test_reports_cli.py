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
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_USAGE,
    UsageError,
    output_path,
)

REPO = Path(__file__).resolve().parents[1]
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
    path = tmp_path / "tmp" / f"x-{THIS_MONTH}.xlsx"
    assert path.exists()
    assert "total spend" in done.stdout and str(Path("tmp") / f"x-{THIS_MONTH}.xlsx") in done.stdout
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
