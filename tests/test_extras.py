"""The core install works without the extras: loaders, cleanup, writers and reports need
neither the sandbox's web stack nor ipywidgets; a missing extra is a one-line error.

A child process blocks the extras' modules (as a `pip install csframe` without extras
would lack them) and talks to a sandbox served by this process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from csframe.sandbox import running

REPO = Path(__file__).resolve().parents[1]

BLOCK = textwrap.dedent(
    """
    import sys
    import importlib.abc

    BLOCKED = {"starlette", "uvicorn", "ipywidgets", "duckdb", "dask", "distributed"}

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Block())
    """
)

CORE = BLOCK + textwrap.dedent(
    """
    import csframe
    from csframe import clean, reports, writers
    base_url, username, api_key, out = sys.argv[1:5]
    cs = csframe.Client(username, api_key, base_url, cache=False, progress=False)
    sms = cs.history("sms", start="2026-01-01", end="2026-03-01")
    ct = clean.contacts(cs.contacts())
    plan = writers.sms_plan(
        ct[ct["phone_valid"].fillna(False)].drop_duplicates("phone_e164").head(3),
        "Hi. Reply STOP to opt out", to="phone_e164",
    )
    rep = reports.usage_cost(cs, start="2026-01", end="2026-02")
    rep.to_excel(out)
    for mod in ("starlette", "uvicorn", "ipywidgets", "dask"):
        assert mod not in sys.modules, mod
    print("OK", len(sms), len(plan))
    try:
        import csframe.sandbox
    except ImportError as exc:
        print("SANDBOX", exc)
    from csframe import widgets
    try:
        widgets.explorer(cs)
    except ImportError as exc:
        print("WIDGETS", exc)
    try:
        csframe.store.duckdb(".")
    except ImportError as exc:
        print("DUCKDB", exc)
    try:
        csframe.store.read(".", engine="dask")
    except ImportError as exc:
        print("DASK", exc)
    from csframe.cli import main
    print("SERVE", main(["sandbox", "serve"]))
    """
)


def test_the_core_install_needs_no_extra(tmp_path):
    script = tmp_path / "core.py"
    script.write_text(CORE)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with running(scale="tiny", seed=44) as sb:
        args = [sb.base_url, sb.credentials["username"], sb.credentials["api_key"]]
        done = subprocess.run(
            [sys.executable, str(script), *args, str(tmp_path / "r.xlsx")],
            capture_output=True,
            text=True,
            env=env,
            timeout=240,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert out.startswith("OK ") and (tmp_path / "r.xlsx").stat().st_size > 0
    assert "SANDBOX" in out and "pip install 'csframe[sandbox]'" in out
    assert "WIDGETS" in out and "pip install 'csframe[notebook]'" in out
    assert "DUCKDB" in out and "pip install 'csframe[duckdb]'" in out
    assert "DASK engine='dask' needs the 'dask' extra: pip install 'csframe[dask]'" in out
    assert "SERVE 2" in out
    assert "csframe: the csframe sandbox needs the 'sandbox' extra" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_cli_lists_every_command_without_the_sandbox_extra(tmp_path):
    script = tmp_path / "cli.py"
    script.write_text(BLOCK + "from csframe.cli import build_parser\nbuild_parser().print_help()\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    for command in ("sandbox", "report", "sync", "cache", "demo"):
        assert command in done.stdout


@pytest.mark.parametrize("extra", ["sandbox", "notebook", "duckdb", "dask", "all"])
def test_the_extras_are_declared(extra):
    import tomllib

    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert extra in meta["project"]["optional-dependencies"]
    core = " ".join(meta["project"]["dependencies"])
    for heavy in ("starlette", "uvicorn", "ipywidgets", "duckdb", "dask", "distributed"):
        assert heavy not in core
