"""reports/monthly-usage.ipynb: committed without outputs, parameterised like papermill,
and it runs against a sandbox when no credentials are set.

The test injects a cell after the ``parameters`` cell, as papermill does, and executes the
notebook with nbclient in a temporary working directory without ClickSend variables.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "reports" / "monthly-usage.ipynb"


def _parameters_index(nb) -> int:
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    return tagged[0]


def test_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    params = nb.cells[_parameters_index(nb)].source
    for name in ("month", "out", "budget", "sandbox"):
        assert f"\n{name} = " in "\n" + params


def test_notebook_runs_with_injected_parameters(tmp_path, monkeypatch):
    for var in ("CLICKSEND_USERNAME", "CLICKSEND_API_KEY", "CLICKSEND_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CSFRAME_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    injected = nbformat.v4.new_code_cell(
        'month = "this"\nout = "reports-out/usage-{month}.xlsx"\nbudget = 0.01\n',
        metadata={"tags": ["injected-parameters"]},
    )
    nb.cells.insert(_parameters_index(nb) + 1, injected)
    client = nbclient.NotebookClient(
        nb,
        timeout=180,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert text.startswith("sandbox: 12 months up to ")  # no credentials: the sandbox
    # The sandbox refunds some undelivered SMS: usage (billed) differs from history (sent)
    # in those rows, and the notebook says so.
    differ = re.search(r"usage vs history: (\d+) row\(s\) differ", text)
    assert differ and int(differ.group(1)) > 0, text
    assert f"! Usage and history differ in {differ.group(1)} row(s)" in text
    assert "! Account over budget" in text  # the injected budget reached the report
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 2  # the charts are rendered in the notebook
    written = list((tmp_path / "reports-out").glob("usage-*.xlsx"))
    assert len(written) == 1 and f"workbook: {written[0].relative_to(tmp_path)}" in text
    from openpyxl import load_workbook

    wb = load_workbook(written[0])
    assert {"Summary", "monthly_spend", "reconciliation", "budget"} <= set(wb.sheetnames)
