"""The 项目支出绩效自评表 (app.reports.selfeval) tested as the 评分表 is: the workbook opened (layout, merges,
print set-up), converted to PDF by LibreOffice where it is installed, the page laid out and printed by headless
Chromium where it is installed."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.api.factories import create_project, create_unit, put_project_submission
from tests.api.test_project_scenario import SHEET_B, SHEET_C
from tests.reports import test_render_browser as browser
from tests.reports import test_render_libreoffice as office


def _scored(client: Any, sheet: dict[str, Any]) -> dict[str, Any]:
    unit = create_unit(client, name="深圳市盐港中学")
    project = create_project(client, unit["id"], code="YT2023-017", name="校园安全管理服务项目")
    assert put_project_submission(client, unit["id"], project["id"], 2023, sheet).status_code == 201
    r = client.post("/v1/assessments", json={"unit_id": unit["id"], "project_id": project["id"], "fiscal_year": 2023,
                                             "ruleset": "national-project", "kind": "self", "evaluator": "本单位"})
    assert r.status_code == 201, r.text
    return r.json()


def _row_codes(body: dict[str, Any]) -> list[str]:
    out: list[str] = []

    def walk(nodes: list[dict[str, Any]]) -> None:
        for n in nodes:
            if n.get("row") is not None:
                out.append(n["code"])
            walk(n.get("children") or [])

    walk(body["indicators"])
    return out


def test_the_workbook_is_the_national_layout(client):
    body = _scored(client, SHEET_B)
    r = client.get(f"/v1/assessments/{body['id']}/report.xlsx")
    assert r.status_code == 200
    assert "%E6%A0%A1%E5%9B%AD" in r.headers["content-disposition"]  # 校园… : named by the project
    ws = load_workbook(io.BytesIO(r.content))["自评表"]
    grid = {(c.row, c.column): c.value for row in ws.iter_rows() for c in row if c.value is not None}
    where = {v: k for k, v in grid.items()}
    head = where["三级指标"][0]
    # the funds block and 年度总体目标 come before the indicator grid's header
    assert where["项目资金（万元）"][0] < where["年度总体目标"][0] < head
    assert where["全年执行数"][0] == where["项目资金（万元）"][0]
    assert [grid.get((head, c)) for c in range(1, 12)] == [
        "一级指标", "二级指标", "三级指标", "指标性质", "年度指标值", "实际完成值", "分值", "得分", "自评得分",
        "偏差原因分析及改进措施", "扣分事由"]
    rows = [r for r in range(head + 1, ws.max_row + 1) if grid.get((r, 3)) in {"培训人次", "完成时限", "校园安全水平", "师生满意度"}]
    assert [grid[(r, 3)] for r in rows] == ["培训人次", "完成时限", "校园安全水平", "师生满意度"]
    # 产出 merged over its two rows, with its points
    merged = {str(m) for m in ws.merged_cells.ranges}
    assert f"A{rows[0]}:A{rows[1]}" in merged
    assert grid[(rows[0], 1)] == "产出指标\n（50分）"
    assert [grid[(rows[0], c)] for c in (4, 5, 6, 7, 8, 9)] == ["≥", "≥2000人次", "1850人次", 25, 23.13, 25]
    assert grid[(rows[2], 5)] == "明显提升"  # a qualitative row prints its wording
    # the claim that differs is highlighted
    assert ws.cell(row=rows[0], column=9).fill.fgColor.rgb.endswith("FCE4D6")
    assert ws.cell(row=rows[1], column=9).fill.fgColor.rgb.endswith("000000")  # 18.75 as printed: no fill
    total_row = where["总分"][0]
    assert [grid.get((total_row, c)) for c in (7, 8, 9)] == [100, 80.32, 85]
    assert grid[(where["评价等级"][0], 8)] == "良"
    assert ws.page_setup.orientation == "landscape"
    assert ws.print_title_rows == f"${head}:${head}"  # the grid's header repeats on every printed page


def test_rescaled_rows_print_not_applicable_and_the_formula(client):
    body = _scored(client, SHEET_C)
    ws = load_workbook(io.BytesIO(client.get(f"/v1/assessments/{body['id']}/report.xlsx").content))["自评表"]
    values = [c.value for row in ws.iter_rows() for c in row if c.value is not None]
    assert "不适用" in values
    assert any(isinstance(v, str) and "按百分制折算：55/70×100" in v for v in values)
    assert 78.57 in values


@pytest.mark.skipif(browser.CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_the_page_fits_and_prints_a4_landscape_in_chromium(client, artifacts: Path, tmp_path: Path):
    body = _scored(client, SHEET_B)
    r = client.get(f"/v1/assessments/{body['id']}/report.html")
    assert r.status_code == 200
    page = r.text
    saved = artifacts / "selfeval.html"
    saved.write_text(page, encoding="utf-8")
    for width in (1123, 1040):
        m = browser.probe(page, tmp_path, width)
        assert m["docScrollWidth"] <= m["innerWidth"], m
        assert all(t["scrollWidth"] <= m["innerWidth"] for t in m["tables"]), m
        assert m["overflowing"] == [], m["overflowing"]
        assert m["rows"] == _row_codes(body)
        assert "80.32" in m["text"]
        assert "项目资金（万元）" in m["text"]
    pdf = artifacts / "selfeval.pdf"
    pdf.unlink(missing_ok=True)
    browser.chromium(tmp_path / "profile", "--no-pdf-header-footer", f"--print-to-pdf={pdf}", saved.as_uri())
    pages = browser.pdf_pages(pdf.read_bytes())
    assert pages
    for w, h in pages:
        assert abs(w - browser.A4_LANDSCAPE[0]) < 2, (w, h)
        assert abs(h - browser.A4_LANDSCAPE[1]) < 2, (w, h)


@pytest.mark.skipif(office.SOFFICE is None, reason="LibreOffice is not installed (soffice/libreoffice not on PATH)")
def test_the_workbook_converts_to_a4_landscape_pdf_in_libreoffice(client, artifacts: Path, tmp_path: Path):
    body = _scored(client, SHEET_B)
    xlsx = tmp_path / "selfeval.xlsx"
    xlsx.write_bytes(client.get(f"/v1/assessments/{body['id']}/report.xlsx").content)
    assert office.SOFFICE is not None
    proc = subprocess.run(
        [office.SOFFICE, f"-env:UserInstallation={(tmp_path / 'lo-profile').as_uri()}", "--headless", "--norestore",
         "--convert-to", "pdf", "--outdir", str(tmp_path), str(xlsx)], capture_output=True, text=True, timeout=300)
    pdf = tmp_path / "selfeval.pdf"
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shutil.copy(pdf, artifacts / "selfeval-xlsx.pdf")
    pages = office.pdf_pages(pdf.read_bytes())
    assert 0 < len(pages) <= 4
    for w, h in pages:
        assert abs(w - 841.9) < 2, (w, h)
        assert abs(h - 595.3) < 2, (w, h)
