"""Clean cells: every report's workbook shows text as it is (no ``'`` prefix, no formula
cell csframe did not mean to write), while CSV output keeps the apostrophe defence."""

from __future__ import annotations

import pandas as pd
import pytest
from openpyxl import load_workbook

from csframe.reports import campaigns, contacts_health, delivery, usage_cost
from csframe.reports.base import AccountInfo
from csframe.reports.campaigns import build as build_campaigns

#: Formula cells csframe writes on purpose: none (totals are values; see reports.excel).
INTENDED_FORMULAS: set[tuple[str, str]] = set()


def assert_clean_workbook(path) -> int:
    """Fail on any cell whose value starts with ``'`` or that is a formula; returns the
    number of text cells checked."""
    wb = load_workbook(path)
    texts = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    assert (ws.title, cell.coordinate) in INTENDED_FORMULAS, (
                        f"{ws.title}!{cell.coordinate} is a formula: {cell.value!r}"
                    )
                if isinstance(cell.value, str):
                    texts += 1
                    assert not cell.value.startswith("'"), (
                        f"{ws.title}!{cell.coordinate} has a literal apostrophe: {cell.value!r}"
                    )
    return texts


@pytest.mark.parametrize("name", ["usage_cost", "delivery", "campaigns", "contacts_health"])
def test_every_report_workbook_has_clean_cells(name, client, tmp_path):
    build = {
        "usage_cost": usage_cost,
        "delivery": delivery,
        "campaigns": campaigns,
        "contacts_health": contacts_health,
    }[name]
    # A budget nobody exceeds: "Over budget months" is "-", which once read "'-".
    rep = build(client, budget=1e9) if name == "usage_cost" else build(client)
    assert assert_clean_workbook(rep.to_excel(tmp_path / f"{name}.xlsx")) > 0
    if name == "usage_cost":
        summary = load_workbook(tmp_path / f"{name}.xlsx")["Summary"]
        values = {r[0]: r[1] for r in summary.iter_rows(values_only=True) if r[0]}
        assert values["Over budget months"] == "-"


def test_phone_numbers_show_as_numbers_in_the_workbook_and_are_defended_in_csv(client, tmp_path):
    rep = delivery(client)
    failed = rep.tables["failed_messages"]
    assert failed["to"].str.startswith("+").all()  # the data: E.164 numbers
    wb = load_workbook(rep.to_excel(tmp_path / "d.xlsx"))
    ws = wb["failed_messages"]
    header = [c.value for c in ws[1]]
    col = header.index("To") + 1
    shown = [ws.cell(row=r, column=col).value for r in range(2, min(ws.max_row, 20) + 1)]
    assert shown and all(v.startswith("+61") or v.startswith("+") for v in shown)
    assert all(ws.cell(row=r, column=col).data_type == "s" for r in range(2, 5))
    # CSV has no cell types: there the apostrophe stays (OWASP's rule for CSV).
    out = rep.to_csv(tmp_path / "d-csv")
    csv = pd.read_csv(out / "failed_messages.csv", dtype=str)
    assert csv["to"].str.startswith("'+").all()


def test_hostile_text_is_a_text_cell_in_xlsx_and_prefixed_in_csv(tmp_path):
    camps = pd.DataFrame(
        {
            "sms_campaign_id": pd.array([1, 2], dtype="Int64"),
            "name": pd.Series(['=HYPERLINK("http://x")', "+61412903005"], dtype="str"),
            "schedule": pd.to_datetime(["2026-03-01", "2026-03-02"], utc=True),
            "status": pd.Series(["Sent", "Sent"], dtype="str"),
            "_total_count": pd.array([10, 10], dtype="Int64"),
        }
    )
    acme = AccountInfo(name="=ACME", username="acme", currency="AUD", symbol="$")
    rep = build_campaigns({"sms": camps}, "2026-03", "2026-03", account=acme)
    path = rep.to_excel(tmp_path / "c.xlsx")
    assert_clean_workbook(path)
    ws = load_workbook(path)["campaigns"]
    names = {ws.cell(row=r, column=3).value for r in (2, 3)}
    assert names == {'=HYPERLINK("http://x")', "+61412903005"}
    summary = {r[0].value: r[1] for r in load_workbook(path)["Summary"].iter_rows() if r[0].value}
    assert summary["Account"].value == "=ACME (acme)" and summary["Account"].data_type == "s"
    csv = pd.read_csv(rep.to_csv(tmp_path / "c-csv") / "campaigns.csv", dtype=str)
    assert set(csv["name"]) == {'\'=HYPERLINK("http://x")', "'+61412903005"}
