"""Sandbox lifecycle: start/stop, process mode, the CLI, seed determinism, independence."""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest
import requests

from csframe.sandbox import running
from csframe.sandbox.models import Store, sms_record
from csframe.sandbox.seed import scale_rows, seed

REPO = Path(__file__).resolve().parents[1]
NOW = "2026-11-01T00:00:00Z"


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except OSError:
        return True


def test_start_and_stop_twice_leaves_nothing_behind():
    before = {t.name for t in threading.enumerate()}
    for _ in range(2):
        with running(scale="tiny") as sb:
            assert sb.base_url == sb.root_url + "/v3" and sb.root_url.startswith(
                "http://127.0.0.1:"
            )
            with requests.Session() as s:  # a keep-alive connection still open at exit
                assert (
                    s.get(sb.base_url + "/account", auth=tuple(sb.credentials.values())).status_code
                    == 200
                )
                port = port_of(sb.root_url)
        assert refused(port)
    time.sleep(0.1)
    assert {t.name for t in threading.enumerate()} <= before


def test_running_contract_attributes():
    with running(
        scale=40,
        seed=9,
        now=NOW,
        latency_ms=5,
        rate_limit=100,
        faults={"error_rate": 0.0, "seed": 3},
    ) as sb:
        assert set(sb.credentials) == {"username", "api_key"}
        assert {"main", "marketing", "support", "alerts", "nocredit", "notactive", "banned"} <= set(
            sb.accounts
        )
        assert all(set(v) == {"username", "api_key"} for v in sb.accounts.values())
        faults = sb.faults()
        assert (faults["latency_ms"], faults["rate_limit"], faults["seed"]) == (5.0, 100.0, 3)
        r = requests.get(sb.base_url + "/sms/history", auth=tuple(sb.credentials.values()))
        assert r.json()["data"]["total"] == 40


def test_process_mode():
    with running(scale="tiny", seed=42, now=NOW, process=True) as sb:
        r = requests.get(sb.base_url + "/sms/history", auth=tuple(sb.credentials.values()))
        assert r.json()["data"]["total"] == 300
        pid = requests.get(sb.root_url + "/_sandbox/health").json()["pid"]
        assert pid != os.getpid()
        ids = sb.insert_sms(2)
        assert sb.truth_sms_ids()[-2:] == ids
        assert sb.stats()["requests"] == 1
        port = port_of(sb.root_url)
    assert refused(port)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_same_data_in_thread_and_process_mode():
    with (
        running(scale="tiny", seed=11, now=NOW) as a,
        running(scale="tiny", seed=11, now=NOW, process=True) as b,
    ):
        assert a.truth_sms_ids() == b.truth_sms_ids()
        assert a.credentials == b.credentials


def test_cli_serve_starts_and_stops():
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "csframe",
            "sandbox",
            "serve",
            "--port",
            "0",
            "--scale",
            "tiny",
            "--seed",
            "4",
            "--now",
            NOW,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    try:
        lines = [proc.stdout.readline() for _ in range(3)]
        url = re.search(r"(http://\S+/v3)", lines[0]).group(1)
        username = lines[1].split(":", 1)[1].strip()
        key = lines[2].split(":", 1)[1].strip()
        r = requests.get(url + "/account", auth=(username, key), timeout=10)
        assert r.status_code == 200 and r.json()["data"]["username"] == username == "csframe_demo"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == 0


def dump(seed_value: int, n: int = 400) -> list[bytes]:
    store = Store()
    seed(store, seed=seed_value, scale=n, now=NOW)
    try:
        return [r[0] for r in store.db.execute("SELECT json FROM sms ORDER BY id")]
    finally:
        store.close()


def test_seed_is_deterministic():
    a, b, c = dump(1), dump(1), dump(2)
    # 400 rows of the main account, then the reseller's clients' small histories
    main = [x for x in a if orjson.loads(x)["user_id"] == 48213]
    assert a == b and len(main) == 400 and len(a) > 400
    assert a != c
    ids_a = {orjson.loads(x)["message_id"] for x in a}
    ids_c = {orjson.loads(x)["message_id"] for x in c}
    assert not ids_a & ids_c


def test_seed_fast_renderer_matches_the_record_builder():
    # The seeder assembles JSON from fragments for speed; it must equal the generic path.
    for raw in dump(3, 2000):
        rec = orjson.loads(raw)
        kw = {
            k: v
            for k, v in rec.items()
            if k not in ("direction", "from_email", "from", "_api_username")
        }
        kw.update(
            sender=rec["from"], api_username=rec["_api_username"], schedule=int(rec["schedule"])
        )
        assert orjson.dumps(sms_record(**kw)) == raw


def test_scales():
    assert [scale_rows(s) for s in ("tiny", "small", "medium", "large")] == [
        300,
        5000,
        100_000,
        1_000_000,
    ]
    assert scale_rows(17) == 17
    with pytest.raises(ValueError):
        scale_rows("huge")


def test_sandbox_imports_nothing_else_from_csframe():
    # An independent implementation: tests of the client against it must mean something.
    for path in (REPO / "csframe" / "sandbox").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                if name == "csframe" or name.startswith("csframe."):
                    assert name.startswith("csframe.sandbox"), f"{path.name} imports {name}"


def test_seeders_import_no_response_module():
    # Seeds sit below the endpoints: a seeder importing a response module made the
    # sandbox's one import circle (responses/campaigns <-> seed_campaigns).
    sandbox = REPO / "csframe" / "sandbox"
    for path in [*sandbox.glob("seed*.py"), sandbox / "collections_spec.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            bad = [n for n in names if n.startswith("csframe.sandbox.responses")]
            assert not bad, f"{path.name} imports {bad}"


def test_every_sandbox_docstring_example_runs():
    import doctest
    import importlib
    import pkgutil

    import csframe.sandbox

    ran = 0
    for info in pkgutil.walk_packages(csframe.sandbox.__path__, "csframe.sandbox."):
        mod = importlib.import_module(info.name)
        result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS, report=False)
        assert result.failed == 0, f"{info.name}: a docstring example is wrong"
        ran += result.attempted
    assert ran > 40


def test_admin_accounts_listing():
    with running(scale="tiny") as sb:
        info = requests.get(sb.root_url + "/_sandbox/accounts", headers=sb.admin_headers).json()
        logins = {x["username"]: x for x in info["logins"]}
        assert logins["banned"]["banned"] == 1 and logins["notactive"]["active"] == 0
        assert logins["nocredit"]["balance"] == "0.000000"
        assert json.dumps(info)  # JSON-able


@pytest.mark.parametrize(
    "module",
    [
        "encoding",
        "pricing",
        "models",
        "seed",
        "faults",
        "lifecycle",
        "delivery",
        "billing",
        "responses.account",
    ],
)
def test_docstring_examples(module):
    import doctest
    import importlib

    mod = importlib.import_module(f"csframe.sandbox.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize("process", [False, True])
def test_exports_leave_no_folder_behind(process, tmp_path, monkeypatch):
    import tempfile as tf

    monkeypatch.setenv("TMPDIR", str(tmp_path))  # where the exports folder goes
    tf.tempdir = None  # re-read TMPDIR in this process
    try:
        with running(scale="tiny", seed=4, now=NOW, process=process) as sb:
            r = requests.get(
                sb.base_url + "/sms/history/export",
                params={"filename": "all.csv"},
                auth=tuple(sb.credentials.values()),
            )
            assert r.status_code == 200, r.text
            assert requests.get(r.json()["data"]["url"]).status_code == 200
            made = [p.name for p in tmp_path.iterdir()]
            assert any(n.startswith("csframe-sandbox-exports-") for n in made), made
        assert not [p for p in tmp_path.iterdir() if p.name.startswith("csframe-sandbox-")]
    finally:
        tf.tempdir = None


@pytest.mark.parametrize("process", [False, True])
def test_on_disk_stores_serve_the_same_data_and_leave_no_file(process, tmp_path, monkeypatch):
    import tempfile as tf

    monkeypatch.setenv("TMPDIR", str(tmp_path))  # where the temporary folder goes
    tf.tempdir = None  # re-read TMPDIR in this process
    try:
        with running(scale="tiny", seed=4, now=NOW, on_disk=False) as a:
            mem = requests.get(a.base_url + "/sms/history", auth=tuple(a.credentials.values()))
        with running(scale="tiny", seed=4, now=NOW, on_disk=True, process=process) as b:
            folders = [p for p in tmp_path.iterdir() if p.name.startswith("csframe-sandbox-")]
            assert [f.name for f in folders[0].iterdir()][:1] == ["sandbox.sqlite"]
            disk = requests.get(b.base_url + "/sms/history", auth=tuple(b.credentials.values()))
        assert disk.json()["data"]["data"] == mem.json()["data"]["data"]
        assert not [p for p in tmp_path.iterdir() if p.name.startswith("csframe-sandbox-")]
    finally:
        tf.tempdir = None


def test_cli_serve_closes_its_store_cleanly_on_sigterm(tmp_path):
    db = tmp_path / "sandbox.sqlite"
    wal = tmp_path / "sandbox.sqlite-wal"
    args = ["serve", "--port", "0", "--scale", "tiny", "--seed", "4", "--now", NOW]
    proc = subprocess.Popen(
        [sys.executable, "-m", "csframe", "sandbox", *args, "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        cwd=REPO,
    )
    try:
        lines: list[str] = []
        while not any("Ctrl-C" in x for x in lines):
            line = proc.stdout.readline()
            assert line, "serve ended before it was ready"
            lines.append(line)
        url = re.search(r"(http://\S+/v3)", lines[0]).group(1)
        auth = (lines[1].split(":", 1)[1].strip(), lines[2].split(":", 1)[1].strip())
        assert requests.get(url + "/account", auth=auth, timeout=10).status_code == 200
        assert wal.exists()  # the store is open (SQLite in WAL mode)
        proc.send_signal(signal.SIGTERM)  # as a service manager or `kill` stops it
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    # Was -15: the re-raised SIGTERM killed it before it closed its store.
    assert proc.returncode == 0, err
    assert "csframe sandbox: stopped" in out
    assert not wal.exists()  # closed: the WAL was checkpointed into the file and removed
    with contextlib.closing(sqlite3.connect(db)) as con:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert con.execute("SELECT count(*) FROM sms WHERE user_id=48213").fetchone() == (300,)
