"""The shared workbook writer: layout, formats, formula neutralisation, atomic write."""

from __future__ import annotations

import datetime as dt
import os

import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook

from csframe.reports import ChartSpec, Report, ReportMeta, TableSpec
from csframe.reports import excel as excel_mod
from csframe.reports.base import AccountInfo
from csframe.reports.cells import neutralise
from csframe.reports.excel import money_format, save_atomic, write_excel

DANGEROUS = ["=1+1", "+61411111111", "-x", "@SUM(A1:A2)", "\t=cmd", "\r=cmd", "＝1+1"]


def small_report(texts: list[str] | None = None) -> Report:
    texts = texts or ["alpha", "beta", "gamma"]
    n = len(texts)
    months = pd.date_range("2026-01-01", periods=n, freq="MS", tz="UTC").as_unit("s")
    table = pd.DataFrame(
        {
            "month": months,
            "name": pd.array(texts, dtype="str"),
            "count": pd.array(range(1, n + 1), dtype="Int64"),
            "spend": [1.25 * (i + 1) for i in range(n)],
        }
    )
    meta = ReportMeta(
        name="test",
        title="Test report",
        start=months[0],
        end=months[-1],
        account=AccountInfo("=ACME", "acme", "AUD", "$"),
        currency="AUD",
        generated_at=dt.datetime(2026, 11, 1, 6, 0, tzinfo=dt.UTC),
    )
    return Report(
        meta=meta,
        tables={"data": table},
        specs={
            "data": TableSpec(
                "Some rows.", kinds={"month": "month", "spend": "money"}, totals=("count", "spend")
            )
        },
        charts=[ChartSpec("data", x="month", y=("spend",), title="Spend")],
        summary={"total_spend": float(table["spend"].sum()), "names": texts},
        summary_kinds={"total_spend": "money"},
    )


def filter_ref(ws) -> str:
    """The range the sheet's filter buttons cover: its Excel table's, else the sheet's."""
    tables = list(ws.tables.values())
    return tables[0].autoFilter.ref if tables else ws.auto_filter.ref


def _openpyxl_temp_files() -> list[str]:
    from openpyxl.worksheet._writer import ALL_TEMP_FILES

    return [p for p in ALL_TEMP_FILES if os.path.exists(p)]


@pytest.mark.parametrize("text", DANGEROUS)
def test_neutralise_prefixes_formula_like_text(text):
    out = neutralise(text)
    assert out == "'" + text


@pytest.mark.parametrize("text", ["hello", "61 411", "a=b", " =1", "", "'quoted"])
def test_neutralise_leaves_plain_text_alone(text):
    assert neutralise(text) == text


def test_neutralise_drops_characters_excel_cannot_store():
    assert neutralise("a\x00b\x1fc\nd") == "abc\nd"


def test_money_format():
    assert money_format("AUD", "$") == '"$"#,##0.00'
    assert money_format("GBP") == '#,##0.00 "GBP"'
    assert money_format(None) == "#,##0.00"


def test_workbook_layout_formats_filters_and_chart(tmp_path):
    report = small_report()
    path = write_excel(report, tmp_path / "r.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames == ["Summary", "data"]

    ws = wb["data"]
    assert [c.value for c in ws[1]] == ["Month", "Name", "Count", "Spend (AUD)"]
    assert all(c.font.b for c in ws[1])
    assert ws.freeze_panes == "B2"
    # The data is an Excel table (its own filter); the totals row stays outside it.
    (table,) = ws.tables.values()
    assert table.ref == "A1:D4" and table.autoFilter.ref == "A1:D4"
    assert [c.name for c in table.tableColumns] == ["Month", "Name", "Count", "Spend (AUD)"]
    assert table.tableStyleInfo.showRowStripes
    assert ws.auto_filter.ref is None  # Excel rejects a sheet filter over a table's range
    assert ws["A2"].value == dt.datetime(2026, 1, 1) and ws["A2"].number_format == "yyyy-mm"
    assert ws["C2"].number_format == "#,##0"
    assert ws["D2"].value == 1.25 and ws["D2"].number_format == '"$"#,##0.00'
    total = [c.value for c in ws[5]]
    assert total == ["Total", None, 6, 7.5]
    assert ws["D5"].font.b and ws["D5"].number_format == '"$"#,##0.00'
    for letter in "ABCD":
        assert ws.column_dimensions[letter].width >= 8

    summary = wb["Summary"]
    values = {row[0].value: row[1].value for row in summary.iter_rows(min_row=3) if row[0].value}
    # Text that openpyxl would store as a formula is a text cell, shown as it is.
    assert values["Account"] == "=ACME (acme)"
    account = next(r[1] for r in summary.iter_rows(min_row=3) if r[0].value == "Account")
    assert account.data_type == "s"
    assert values["Currency"] == "AUD"
    assert values["Total spend"] == 7.5
    assert values["Names"] == "alpha, beta, gamma"
    assert values["data"] == "Some rows."
    charts = summary._charts
    assert len(charts) == 1
    assert charts[0].tagname == "lineChart"


def test_formula_like_text_is_written_as_text(tmp_path):
    path = write_excel(small_report(DANGEROUS), tmp_path / "r.xlsx")
    ws = load_workbook(path)["data"]
    cells = [ws.cell(row=i + 2, column=2) for i in range(len(DANGEROUS))]
    # (Without lxml, openpyxl stores a CR that XML readers turn into LF; with lxml the CR
    # survives.) Text cells are never evaluated: the value is kept as it is, no apostrophe.
    got = [c.value.replace("\r", "\n") for c in cells]
    assert got == [t.replace("\r", "\n") for t in DANGEROUS]
    assert all(c.data_type == "s" for c in cells)  # strings, never formulas
    # Nothing anywhere in the workbook is a formula.
    for sheet in load_workbook(path):
        for row in sheet.iter_rows():
            assert all(c.data_type != "f" for c in row)


def test_missing_values_are_empty_cells(tmp_path):
    report = small_report()
    table = report.tables["data"]
    table.loc[1, "spend"] = float("nan")
    table.loc[1, "count"] = pd.NA
    table.loc[1, "name"] = pd.NA
    ws = load_workbook(write_excel(report, tmp_path / "r.xlsx"))["data"]
    assert [c.value for c in ws[3]][1:] == [None, None, None]


def test_atomic_write_keeps_previous_file_when_saving_fails(tmp_path, monkeypatch):
    target = tmp_path / "report.xlsx"
    write_excel(small_report(), target)
    before = target.read_bytes()

    def broken_save(self, fh):
        fh.write(b"PK\x03\x04 half a workbook")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Workbook, "save", broken_save)
    with pytest.raises(OSError, match="No space"):
        write_excel(small_report(["other"]), target)
    assert target.read_bytes() == before
    assert not _openpyxl_temp_files()  # the half-built sheets' streams were released
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.xlsx"]  # no temp left


def test_atomic_write_keeps_previous_file_when_building_fails(tmp_path, monkeypatch):
    target = tmp_path / "report.xlsx"
    write_excel(small_report(), target)
    before = target.read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("bug while writing a sheet")

    monkeypatch.setattr(excel_mod, "_write_table", boom)
    with pytest.raises(RuntimeError):
        write_excel(small_report(), target)
    assert target.read_bytes() == before
    assert not _openpyxl_temp_files()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.xlsx"]


def test_atomic_write_creates_parents_and_uses_normal_permissions(tmp_path):
    wb = Workbook()
    path = save_atomic(wb, tmp_path / "a" / "b" / "w.xlsx")
    assert path.exists()
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert sorted(p.name for p in path.parent.iterdir()) == ["w.xlsx"]


def test_sheet_names_are_valid_and_unique():
    names = excel_mod.sheet_names({"a/b": 1, "a:b": 2, "x" * 40: 3, "summary": 4})
    assert names["a/b"] == "a_b" and names["a:b"] == "a_b (2)"
    assert len(names["x" * 40]) == 31
    assert names["summary"] != "Summary" and names["summary"].lower() != "summary"


def test_usage_cost_workbook_from_sandbox(client, sandbox, tmp_path):
    import zipfile

    from csframe.reports import usage_cost

    report = usage_cost(client, budget={"total": 25, "csframe_marketing": 5})
    path = report.to_excel(tmp_path / "usage-cost.xlsx")
    wb = load_workbook(path)
    sheets = [
        "monthly_spend",
        "subaccounts",
        "monthly_by_channel",
        "monthly_by_subaccount",
        "breakdown",
        "cost_per_delivered",
        "reconciliation",
        "budget",
        "detail",
    ]
    assert wb.sheetnames == ["Summary", *sheets]
    charts = wb["Summary"]._charts
    assert [c.tagname for c in charts] == ["lineChart", "barChart"]
    money = money_format(report.meta.currency, report.meta.currency_symbol)
    for name in sheets:
        ws = wb[name]
        rows = len(report.tables[name])
        assert ws.freeze_panes is not None and ws.freeze_panes.endswith("2"), name
        (table,) = ws.tables.values()  # every data sheet is an Excel table
        assert table.ref == f"A1:{ws.cell(row=1, column=ws.max_column).column_letter}{rows + 1}"
        assert filter_ref(ws) == table.ref
        assert [c.name for c in table.tableColumns] == [c.value for c in ws[1]], name
        assert any(c.number_format == money for c in ws[2]), name
    subs = wb["monthly_by_subaccount"]
    assert subs["B1"].value == "Subaccount" and subs["B2"].number_format == "0"  # ids: no 60,311
    assert subs["D2"].number_format == "#,##0"
    ws = wb["monthly_spend"]
    last = [c.value for c in ws[ws.max_row]]
    assert last[0] == "Total"
    assert last[list(report.tables["monthly_spend"].columns).index("total")] == pytest.approx(
        report.summary["total_spend"]
    )
    assert ws.max_row == 1 + 12 + 1  # header, 12 months, totals
    # Percentages and per-message prices have their own formats.
    cpd = wb["cost_per_delivered"]
    header = [c.value for c in cpd[1]]
    assert cpd.cell(row=2, column=header.index("Delivery rate") + 1).number_format == "0.0%"
    per = cpd.cell(row=2, column=header.index("Cost per delivered (AUD)") + 1)
    assert per.number_format == money_format("AUD", "$", 4)
    # Conditional formats: over-budget rows, totals over the account budget, differences.
    assert _cf(wb["budget"]) and "TRUE" in _cf(wb["budget"])[0][1]
    assert any(">25" in f for _, f in _cf(wb["monthly_spend"]))
    assert any('"difference"' in f for _, f in _cf(wb["reconciliation"]))
    summary = {r[0].value: r[1].value for r in wb["Summary"].iter_rows(min_row=3) if r[0].value}
    assert summary["Budget exceeded"] == "True" and summary["!"]  # an alert line
    # The account record carries the subaccount's API key; none of it reaches the file.
    with zipfile.ZipFile(path) as zf:
        blob = b"".join(zf.read(name) for name in zf.namelist())
    assert sandbox.credentials["api_key"].encode() not in blob


def _cf(ws) -> list[tuple[str, str]]:
    """``[(range, formula), ...]`` of a sheet's conditional formats."""
    return [
        (str(cf.sqref), rule.formula[0]) for cf in ws.conditional_formatting for rule in cf.rules
    ]


def highlighted_report() -> Report:
    from csframe.reports import Highlight

    report = small_report(["ok", "=bad", "fine"])
    table = report.tables["data"]
    table["rate"] = [0.01, 0.2, None]
    table["over"] = [False, True, False]
    report.specs["data"] = TableSpec(
        "Rows.",
        kinds={"month": "month", "spend": "money", "rate": "percent"},
        totals=("count", "spend"),
        highlights=(
            Highlight("rate", ">", 0.05),
            Highlight("over", "==", True, row=True, style="warn"),
            Highlight("name", "==", "=bad", style="good"),
            Highlight("missing_column", ">", 1),
        ),
    )
    return report


def test_conditional_formats_are_native_rules(tmp_path):
    ws = load_workbook(write_excel(highlighted_report(), tmp_path / "r.xlsx"))["data"]
    rules = _cf(ws)
    assert ("E2:E4", "AND(NOT(ISBLANK($E2)),$E2>0.05)") in rules
    assert ("A2:F4", "AND(NOT(ISBLANK($F2)),$F2=TRUE)") in rules  # the whole row
    # Text thresholds are compared with the text as it is in the cells.
    assert ("B2:B4", 'AND(NOT(ISBLANK($B2)),$B2="=bad")') in rules
    assert len(rules) == 3  # a highlight of a column the table lacks is skipped
    fills = {
        str(cf.sqref): rule.dxf.fill.fgColor.rgb
        for cf in ws.conditional_formatting
        for rule in cf.rules
    }
    assert fills["E2:E4"].endswith("FFC7CE") and fills["A2:F4"].endswith("FFEB9C")


def test_highlight_mask_matches_the_rule():
    from csframe.reports import Highlight

    s = pd.Series([0.01, 0.2, None, float("nan")])
    assert Highlight("x", ">", 0.05).mask(s).tolist() == [False, True, False, False]
    assert Highlight("x", "<=", 0.01).mask(s).tolist() == [True, False, False, False]
    with pytest.raises(ValueError):
        Highlight("x", "~", 1)


def test_table_headers_are_unique_and_names_valid(tmp_path):
    report = small_report()
    report.specs["data"] = TableSpec(labels={"name": "Month", "count": "month"})
    ws = load_workbook(write_excel(report, tmp_path / "r.xlsx"))["data"]
    names = [c.value for c in ws[1]]
    assert names == ["Month", "Month (2)", "month (3)", "Spend"]
    (table,) = ws.tables.values()
    assert [c.name for c in table.tableColumns] == names
    assert table.displayName == "T_data"
    assert excel_mod.table_name("a b-(c)") == "T_a_b__c_"


def test_sheet_without_rows_gets_a_plain_filter(tmp_path):
    report = small_report()
    report.tables["data"] = report.tables["data"].iloc[0:0]
    ws = load_workbook(write_excel(report, tmp_path / "r.xlsx"))["data"]
    assert not ws.tables  # Excel tables need a data row
    assert ws.auto_filter.ref == "A1:D1"


def test_tables_in_write_only_mode_raise_no_warning(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_excel(highlighted_report(), tmp_path / "r.xlsx")


def test_large_detail_sheet_streams_in_write_only_mode(tmp_path):
    n = 100_000
    report = small_report()
    report.tables["detail"] = pd.DataFrame(
        {
            "date": pd.date_range("2026-01-01", periods=n, freq="min", tz="UTC").as_unit("s"),
            "body": pd.array(["=HYPERLINK(x)" if i % 1000 == 0 else f"msg {i}" for i in range(n)]),
            "price": [0.077] * n,
        }
    )
    report.specs["detail"] = TableSpec(kinds={"price": "money"})
    wb = excel_mod.build_workbook(report)
    assert all(ws.__class__.__name__ == "WriteOnlyWorksheet" for ws in wb.worksheets)
    path = save_atomic(wb, tmp_path / "big.xlsx")
    ws = load_workbook(path, read_only=True)["detail"]
    head = list(ws.iter_rows(min_row=1, max_row=2, values_only=True))
    assert head[0] == ("Date", "Body", "Price (AUD)")
    assert head[1][1] == "=HYPERLINK(x)" and head[1][2] == 0.077
    # Every row is there (counted in the XML: reading 100,000 rows back with openpyxl
    # would take longer than writing them).
    import zipfile

    with zipfile.ZipFile(path) as zf:
        xml = zf.read("xl/worksheets/sheet3.xml")
    assert xml.count(b"<row ") == n + 1
    assert f'<row r="{n + 1}">'.encode() in xml


def test_html_rendering(tmp_path):
    report = highlighted_report()
    report.alerts.append("<script>alert(1)</script> over budget")
    path = report.to_html(tmp_path / "r.html")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<h1>Test report</h1>" in text
    assert "<script>" not in text and "&lt;script&gt;" in text  # everything escaped
    assert "$1.25" in text and "20.0%" in text  # money and percentages formatted
    assert 'class="n bad"' in text  # the rate over 5%
    assert '<tr class="total">' in text
    assert "data:image/png;base64," not in text  # small_report has no figures
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]
    assert report.to_html() == text  # no path: the text itself


def test_csv_output_is_a_directory_of_tables(tmp_path):
    report = highlighted_report()
    out = report.to_csv(tmp_path / "r")
    assert sorted(p.name for p in out.iterdir()) == ["data.csv", "summary.csv"]
    data = pd.read_csv(out / "data.csv", keep_default_na=False)
    assert list(data["name"]) == ["ok", "'=bad", "fine"]  # neutralised, as in Excel
    assert list(data["month"]) == ["2026-01", "2026-02", "2026-03"]
    assert len(data) == 3  # no totals row
    summary = pd.read_csv(out / "summary.csv")
    assert summary.set_index("key").loc["total_spend", "value"] == "7.5"
    assert summary.set_index("key").loc["account", "value"] == "'=ACME (acme)"


def test_csv_output_replaces_the_directory_atomically(tmp_path, monkeypatch):
    from csframe.reports import output

    target = tmp_path / "r"
    small_report().to_csv(target)
    (target / "stale.csv").write_text("old")
    small_report().to_csv(target)
    assert not (target / "stale.csv").exists()  # replaced as a whole
    before = (target / "data.csv").read_bytes()

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output, "csv_frame", boom)
    with pytest.raises(OSError):
        small_report(["x"]).to_csv(target)
    assert (target / "data.csv").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # no temporary left


def test_chunked_text_columns(tmp_path):
    # pyarrow-backed text columns built by concat are chunked arrays underneath.
    report = small_report()
    chunked = pd.concat([pd.Series(["a", "=b"], dtype="str"), pd.Series(["c"], dtype="str")])
    report.tables["data"]["name"] = chunked.reset_index(drop=True)
    ws = load_workbook(write_excel(report, tmp_path / "r.xlsx"))["data"]
    assert [ws.cell(row=r, column=2).value for r in (2, 3, 4)] == ["a", "=b", "c"]


def test_neutralise_array_matches_neutralise():
    import pyarrow as pa

    from csframe.reports import cells

    texts = [*DANGEROUS, "hello", "a=b", " =1", "", "'quoted", "a\x00b\x1fc\nd", "x" * 40000, None]
    got = cells.neutralise_array(pa.array(texts)).to_pylist()
    assert got == [None if t is None else neutralise(t) for t in texts]
    clean = cells.clean_array(pa.array(texts)).to_pylist()
    assert clean == [None if t is None else cells.clean_text(t) for t in texts]


def test_xml_special_text_round_trips(tmp_path):
    texts = ["a & b", "<tag>x</tag>", " lead", "trail ", "x\ry", "in\ttab", "emoji 🙏 ü", "a\nb"]
    ws = load_workbook(write_excel(small_report(texts), tmp_path / "r.xlsx"))["data"]
    assert [ws.cell(row=i + 2, column=2).value for i in range(len(texts))] == texts


def test_bytes_present():
    import pyarrow as pa

    from csframe.reports.sheetxml import bytes_present

    present = bytes_present(pa.array(["ab", None, "c&"]).slice(1))
    assert present[ord("&")] and present[ord("c")] and not present[ord("a")]
    assert not bytes_present(pa.array([None, None], type=pa.string())).any()
