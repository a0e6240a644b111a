"""The notebooks in notebooks/ and reports/ run top to bottom against the sandbox, and the
committed copies carry no outputs and no credentials.

Each notebook is executed with nbclient in its own kernel, in a temporary working
directory, with no ClickSend credentials in the environment (so it starts its own sandbox,
``scale="small"``) and a temporary HTTP cache. Any error fails the test. Afterwards one
extra cell, added by the test and never saved, reads a key value from the kernel (the rows
loaded, the campaign's sent count, ...) and a check per notebook asserts it; a notebook
without a check of its own (e.g. one a colleague added to reports/) must at least leave
a file or a figure behind.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb")) + sorted(
    p for p in (REPO / "reports").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
)
CELL_TIMEOUT = 180
MARKER = "__csframe_check__="

# Values the check cell reads from the kernel: notebook stem -> {name: expression}.
PROBES: dict[str, dict[str, str]] = {
    "01-quickstart": {
        "rows": "len(sms)",
        "again_requests": "new_requests",
        "explorer_status": "ex.model.status",
        "weeks": "len(ex.model.table())",
    },
    "02-usage-and-cost": {
        "workbook": "str(workbook)",
        "total_spend": "float(rep.summary['total_spend'])",
        "months": "len(rep.tables['monthly_spend'])",
    },
    "03-contact-cleanup": {
        "rows_in": "len(raw)",
        "rows_out": "len(final)",
        "dry_run_actions": "sorted(map(str, plan['action'].unique()))",
        "imported": "int(imported_count)",
    },
    "04-bulk-campaign": {
        "recipients": "len(plan)",
        "sent": "int(sent_count)",
        "quote_total": "float(quote_total)",
        "delivered": "int(delivered)",
        "in_history": "len(ours)",
    },
    "05-delivery-analysis": {
        "countries": "len(by_country)",
        "error_codes": "len(errors)",
        "replies": "len(replies)",
    },
    # reports/ (a colleague's parameterised notebook): the workbook it writes
    "monthly-usage": {"workbook": "str(workbook)"},
}


def _check_01(v: dict, workdir: Path) -> None:
    assert v["rows"] > 0
    assert v["again_requests"] == 0, "closed months must come from the cache"
    assert v["explorer_status"] == "ready"
    assert v["weeks"] >= 26


def _check_02(v: dict, workdir: Path) -> None:
    from openpyxl import load_workbook

    path = workdir / v["workbook"]
    assert path.is_file(), f"{path} was not written"
    wb = load_workbook(path, read_only=True)
    assert "Summary" in wb.sheetnames
    assert v["total_spend"] > 0
    assert v["months"] == 12


def _check_03(v: dict, workdir: Path) -> None:
    assert v["rows_out"] < v["rows_in"], "cleanup removed no duplicates"
    assert "add" in v["dry_run_actions"]
    assert v["imported"] > 0


def _check_04(v: dict, workdir: Path) -> None:
    assert v["recipients"] > 0
    assert v["sent"] == v["recipients"], "every planned message must be sent exactly once"
    assert v["quote_total"] > 0
    # the sandbox delivers after a few seconds: the run's statuses have moved on
    assert v["in_history"] == v["sent"] and 0 < v["delivered"] <= v["sent"]


def _check_05(v: dict, workdir: Path) -> None:
    assert v["countries"] >= 3
    assert v["error_codes"] >= 1
    assert v["replies"] >= 1


def _check_monthly_usage(v: dict, workdir: Path) -> None:
    assert (workdir / v["workbook"]).is_file(), f"{v['workbook']} was not written"


CHECKS: dict[str, Callable[[dict, Path], None]] = {
    "monthly-usage": _check_monthly_usage,
    "01-quickstart": _check_01,
    "02-usage-and-cost": _check_02,
    "03-contact-cleanup": _check_03,
    "04-bulk-campaign": _check_04,
    "05-delivery-analysis": _check_05,
}


def _id(path: Path) -> str:
    return str(path.relative_to(REPO))


def test_every_example_notebook_is_present():
    names = {p.stem for p in NOTEBOOKS if p.parent.name == "notebooks"}
    expected = {n for n in CHECKS if n[:2].isdigit()}
    assert expected <= names, f"missing notebooks: {sorted(expected - names)}"


# -- committed notebooks are clean ------------------------------------------------------------
# Anything that looks like a ClickSend API key (UUID-style), an assignment of a key or a
# password, a Basic auth header, or the sandbox's fixed test key.
SECRET_PATTERNS = [
    re.compile(r"\b[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\b"),
    re.compile(r"api_key\s*=\s*['\"][^'\"]+['\"]", re.I),
    re.compile(r"(CLICKSEND_API_KEY|CLICKSEND_USERNAME)['\"]?\s*\]?\s*=\s*['\"]", re.I),
    re.compile(r"password\s*=\s*['\"][^'\"]+['\"]", re.I),
    re.compile(r"Authorization['\"]?\s*:\s*['\"]?Basic", re.I),
    re.compile(r"Basic\s+[A-Za-z0-9+/]{12,}={0,2}"),
]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_committed_notebook_has_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert cell.get("outputs") == [], f"cell {i} of {path.name} has outputs: strip them"
        assert cell.get("execution_count") is None, (
            f"cell {i} of {path.name} has an execution count"
        )
    assert "widgets" not in nb.metadata, f"{path.name} saved widget state: strip it"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_committed_notebook_has_no_credentials(path):
    text = path.read_text(encoding="utf-8")
    for pattern in SECRET_PATTERNS:
        hit = pattern.search(text)
        assert hit is None, f"{path.name} contains something like a credential: {hit.group(0)!r}"


def test_secret_patterns_catch_keys():
    leaky = [
        'cs = csf.Client("acme", "D83DED51-9E35-4D42-9BB9-0E34B7CA85AE")',
        'cs = csf.Client(username="acme", api_key="s3cret")',
        'os.environ["CLICKSEND_API_KEY"] = "abc"',
        "headers = {'Authorization': 'Basic YWNtZTpzM2NyZXQ='}",
    ]
    for text in leaky:
        assert any(p.search(text) for p in SECRET_PATTERNS), text
    fine = 'cs = csf.Client(**sb.credentials, base_url=sb.base_url)\nos.environ.get("CLICKSEND_API_KEY")'
    assert not any(p.search(fine) for p in SECRET_PATTERNS)


# -- notebooks run against the sandbox ----------------------------------------------------------
def _probe_cell(probes: dict[str, str]) -> str:
    lines = ["import json as _json", "_values = {}"]
    for name, expr in probes.items():
        lines.append(f"_values[{name!r}] = {expr}")
    lines.append(f"print({MARKER!r} + _json.dumps(_values, default=str))")
    return "\n".join(lines)


def _read_probe(cell) -> dict:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and MARKER in out.get("text", ""):
            return json.loads(out["text"].split(MARKER, 1)[1].strip())
    raise AssertionError(f"the check cell printed nothing: {cell.get('outputs')}")


def _execute(path: Path, workdir: Path, probes: dict[str, str] | None) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    if probes:
        nb.cells.append(nbformat.v4.new_code_cell(_probe_cell(probes)))
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{path.name} failed:\n{exc}", pytrace=False)
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", f"cell {i} of {path.name} raised"
    return nb


@pytest.fixture
def kernel_env(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("CI", "1")  # no progress bars in the outputs


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_notebook_runs_against_the_sandbox(path, tmp_path, kernel_env):
    probes = PROBES.get(path.stem)
    workdir = tmp_path / "work"
    workdir.mkdir()
    nb = _execute(path, workdir, probes)
    if probes:
        CHECKS[path.stem](_read_probe(nb.cells[-1]), workdir)
    else:
        written = [p for p in workdir.rglob("*") if p.is_file()]
        images = [
            o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})
        ]
        assert written or images, f"{path.name} ran but wrote no file and drew no figure"


# With CLICKSEND_* set, a notebook talks to "your account". Here that account is a sandbox
# the test started (CLICKSEND_BASE_URL points at it), so we can prove that the notebooks
# that can write -- 03 imports contacts, 04 sends SMS -- read and quote but write nothing
# until the user flips WRITE / SEND.
ACCOUNT_PROBES = {
    "03-contact-cleanup": {"imported": "int(imported_count)", "write": "WRITE", "sandbox": "sb"},
    "04-bulk-campaign": {
        "sent": "int(sent_count)",
        "send": "SEND",
        "quote_total": "float(quote_total)",
        "sandbox": "sb",
    },
}


@pytest.mark.slow
@pytest.mark.parametrize("stem", sorted(ACCOUNT_PROBES))
def test_notebook_on_an_account_writes_nothing(stem, tmp_path, kernel_env, monkeypatch):
    from csframe import Client
    from csframe.sandbox import running

    path = REPO / "notebooks" / f"{stem}.ipynb"
    workdir = tmp_path / "work"
    workdir.mkdir()
    with running(scale="small", seed=11, process=True) as account:
        monkeypatch.setenv("CLICKSEND_USERNAME", account.credentials["username"])
        monkeypatch.setenv("CLICKSEND_API_KEY", account.credentials["api_key"])
        monkeypatch.setenv("CLICKSEND_BASE_URL", account.base_url)
        observer = Client(**account.credentials, base_url=account.base_url, cache=False)

        def contacts_per_list():
            return observer.lists().set_index("list_id")["_contacts_count"].to_dict()

        messages = len(account.truth_sms_ids())
        lists = contacts_per_list()
        nb = _execute(path, workdir, ACCOUNT_PROBES[stem])
        v = _read_probe(nb.cells[-1])
        assert v["sandbox"] is None, "with credentials set the notebook must not start a sandbox"
        assert len(account.truth_sms_ids()) == messages, "a message was sent"
        assert contacts_per_list() == lists, "contacts were written"
        observer.close()
    if stem.startswith("03"):
        assert v["write"] is False and v["imported"] == 0
    else:
        assert v["send"] is False and v["sent"] == 0 and v["quote_total"] > 0
    text = json.dumps(nb, default=str)
    assert account.credentials["api_key"] not in text, "the API key appeared in an output"
