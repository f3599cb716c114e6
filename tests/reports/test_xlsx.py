"""GET /v1/assessments/{id}/report.xlsx: the 评分表 as the seeds print it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from openpyxl.worksheet.worksheet import Worksheet

from app.reports.xlsx import XLSX_MEDIA_TYPE
from tests.api.factories import assess, create_unit, put_submission, seed
from tests.reports.conftest import leaves, walk, workbook


def _find(ws: Worksheet, value: Any, column: int | None = None) -> list[tuple[int, int]]:
    out = []
    for row in ws.iter_rows():
        for c in row:
            if c.value == value and (column is None or c.column == column):
                out.append((c.row, c.column))
    return out


def _merged(ws: Worksheet, row: int, col: int) -> tuple[int, int, int, int] | None:
    """(min_row, min_col, max_row, max_col) of the merged range starting at the cell, if any."""
    for rng in ws.merged_cells.ranges:
        if rng.min_row == row and rng.min_col == col:
            return rng.min_row, rng.min_col, rng.max_row, rng.max_col
    return None


def _columns(ws: Worksheet, head_row: int) -> dict[str, int]:
    """Column number by header text (the standalone headers of the first header row, the 名称/分值 pairs by level)."""
    cols: dict[str, int] = {}
    for c in ws[head_row]:
        if isinstance(c.value, str):
            cols[c.value] = c.column
    for c in ws[head_row + 1]:
        if isinstance(c.value, str) and c.value.endswith("级指标"):
            cols[c.value] = c.column
    return cols


def _num(v: Any) -> str:
    return format(v, "g") if isinstance(v, float) else str(v)


def _get(client, assessment_id: str) -> Any:
    r = client.get(f"/v1/assessments/{assessment_id}/report.xlsx")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == XLSX_MEDIA_TYPE
    return r


def test_xlsx_001_layout_merges_rows_total_and_print_setup(client, assessed):
    body, unit, data = assessed("001")
    r = _get(client, body["id"])
    cd = r.headers["content-disposition"]
    assert cd.startswith("attachment;")
    assert f'filename="assessment-{body["id"]}.xlsx"' in cd
    assert "filename*=UTF-8''" in cd
    assert "%E8%AF%84%E5%88%86%E8%A1%A8" in cd

    wb = workbook(r.content)
    assert wb.sheetnames == ["评分表", "指标明细"]
    ws = wb["评分表"]
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert ws["A1"].value == "部门整体支出绩效评价共性指标体系框架（2023年度修订）评分表"
    for expected in ("被评价单位：深圳市盐港中学", f"单位代码：{unit['code']}", "评价年度：2023年度", "评价类型：自评",
                     "评价人：深圳市盐港中学"):
        assert expected in texts, expected
    assert any("shenzhen-yantian@2023" in t and "部门整体支出绩效评价共性指标体系框架" in t for t in texts if t.startswith("评分规则"))

    [(head, _)] = _find(ws, "评价指标")
    cols = _columns(ws, head)
    assert list(cols)[:1] == ["评价指标"]
    for title in ("指标说明", "评分标准", "得分", "扣分事由", "一级指标", "二级指标", "三级指标"):
        assert title in cols, title
    assert "细则分值" not in cols  # a three-level ruleset has no sub-criteria column
    assert [c.value for c in ws[head + 2]][:6] == ["名称", "分值"] * 3
    first = head + 3

    tree = body["indicators"]
    rows = leaves(tree)
    assert len(rows) == 21
    name3, score_col, reason_col = cols["三级指标"] + 0, cols["得分"], cols["扣分事由"]
    # every scored indicator has its row, in tree order, with its score
    for i, leaf in enumerate(rows):
        assert ws.cell(row=first + i, column=name3).value == leaf["name"], leaf["code"]
        assert _num(ws.cell(row=first + i, column=score_col).value) == leaf["score"], leaf["code"]
    # 一级 and 二级 names and 分值 are merged over their descendants' rows
    row = first
    for top in tree:
        n = len(leaves([top]))
        assert ws.cell(row=row, column=1).value == top["name"]
        assert _merged(ws, row, 1) == (row, 1, row + n - 1, 1), top["name"]
        assert _merged(ws, row, 2) == (row, 2, row + n - 1, 2)
        assert _num(ws.cell(row=row, column=2).value) == top["points"]
        sub = row
        for mid in top["children"]:
            m = len(leaves([mid]))
            assert ws.cell(row=sub, column=3).value == mid["name"]
            if m > 1:
                assert _merged(ws, sub, 3) == (sub, 3, sub + m - 1, 3), mid["name"]
            sub += m
        row += n
    # 扣分事由 joins the deductions' reasons
    i = next(i for i, leaf in enumerate(rows) if leaf["code"] == "3.1.1")
    reason = ws.cell(row=first + i, column=reason_col).value
    assert "“三公”经费控制率" in reason
    assert "日常公用经费控制率" in reason
    assert "；" in reason
    # 指标说明 and 评分标准 come from the ruleset
    i = next(i for i, leaf in enumerate(rows) if leaf["code"] == "2.1.1")
    assert "政府采购执行率得分=政府采购执行率×1分" in ws.cell(row=first + i, column=cols["评分标准"]).value
    assert "政府采购预算执行情况" in ws.cell(row=first + i, column=cols["指标说明"]).value
    assert ws.cell(row=first + i, column=cols["评分标准"]).alignment.wrap_text

    # total and grade at the foot
    foot = first + len(rows)
    assert ws.cell(row=foot, column=1).value == "总计得分"
    assert _num(ws.cell(row=foot, column=score_col).value) == "93.97" == body["total"]
    assert ws.cell(row=foot + 1, column=1).value == "评价等级"
    assert ws.cell(row=foot + 1, column=score_col).value == "优"
    assert _merged(ws, foot, 1) == (foot, 1, foot, score_col - 1)

    # printing: A4 landscape, fit to one page wide, header rows repeated
    ps = ws.page_setup
    assert ps.orientation == "landscape"
    assert str(ps.paperSize) == "9"
    assert ps.fitToWidth == 1
    assert ps.fitToHeight == 0
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows == f"${head}:${head + 2}"
    assert ws.freeze_panes == f"A{first}"
    assert ws.column_dimensions["H"].width
    assert ws.column_dimensions["H"].width > 30
    assert all(ws.row_dimensions[first + i].height for i in range(len(rows)))

    # the detail sheet: every indicator of every level
    detail = wb["指标明细"]
    header = [c.value for c in detail[1]]
    assert header[:5] == ["层级", "编码", "一级指标", "二级指标", "三级指标"]
    codes = [detail.cell(row=i, column=2).value for i in range(2, detail.max_row + 1)]
    assert codes == [n["code"] for n in walk(tree)]
    assert detail.auto_filter.ref


def test_xlsx_003_sub_criteria_are_rows_under_their_three_level_indicator(client, assessed):
    body, _unit, data = assessed("003", kind="third_party")
    ws = workbook(_get(client, body["id"]).content)["评分表"]
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert "评价类型：第三方评价" in texts
    assert "评价人：湖南源成会计师事务所" in texts
    [(head, _)] = _find(ws, "评价指标")
    cols = _columns(ws, head)
    assert "细则分值" in cols
    assert "评分标准（评分细则）" in cols
    first = head + 3
    tree = body["indicators"]
    rows = leaves(tree)
    assert len(rows) == 49
    crit, detail_pts, score = cols["评分标准（评分细则）"], cols["细则分值"], cols["得分"]
    by_code = {n["code"]: n for n in walk(tree)}
    for i, leaf in enumerate(rows):
        r = first + i
        if leaf["level"] == 4:  # a sub-criterion: its text in 评分标准（评分细则）, its own 分值 and 得分
            assert leaf["name"] in ws.cell(row=r, column=crit).value, leaf["code"]
            parent = by_code[leaf["code"].rsplit(".", 1)[0]]
            assert parent["name"] in [ws.cell(row=rr, column=5).value for rr in range(first, r + 1)]
        else:
            assert ws.cell(row=r, column=5).value == leaf["name"], leaf["code"]
        assert _num(ws.cell(row=r, column=detail_pts).value) == leaf["points_available"]
        assert _num(ws.cell(row=r, column=score).value) == leaf["score"], leaf["code"]
    # 绩效目标合理性 (1.1.1): 4 sub-criteria → name, 分值 and 指标说明 merged over 4 rows
    r = first
    assert ws.cell(row=r, column=5).value == "绩效目标合理性"
    assert _merged(ws, r, 5) == (r, 5, r + 3, 5)
    assert _merged(ws, r, 6) == (r, 6, r + 3, 6)
    assert _merged(ws, r, cols["指标说明"]) == (r, cols["指标说明"], r + 3, cols["指标说明"])
    assert ws.cell(row=r, column=cols["指标说明"]).value.startswith("部门设立的整体绩效目标依据是否充分")
    # 投入 spans all of its sub-criteria rows
    assert _merged(ws, first, 1) == (first, 1, first + len(leaves([tree[0]])) - 1, 1)
    # 扣分事由 of a sub-criterion
    i = next(i for i, leaf in enumerate(rows) if leaf["code"] == "2.2.4.1")
    assert ws.cell(row=first + i, column=cols["扣分事由"]).value == "决算公开数据与会计账不符"
    foot = first + len(rows)
    assert ws.cell(row=foot, column=1).value == "总计得分"
    assert _num(ws.cell(row=foot, column=score).value) == "88.5"
    assert ws.cell(row=foot + 1, column=score).value == "良"
    assert body["grade"] == "良"


def test_xlsx_adjustments_and_clamped_total_are_at_the_foot(client, assessed):
    body, _unit, _data = assessed("002")
    ws = workbook(_get(client, body["id"]).content)["评分表"]
    [(head, _)] = _find(ws, "评价指标")
    cols = _columns(ws, head)
    score = cols["得分"]
    [(bonus, _)] = _find(ws, "加分项：工作表现加分", 1)
    [(penalty, _)] = _find(ws, "减分项：工作表现减分", 1)
    assert penalty == bonus + 1
    assert _num(ws.cell(row=bonus, column=score).value) == "3"
    assert "表彰一次加1分" in ws.cell(row=bonus, column=cols["评分标准"]).value
    [(sub, _)] = _find(ws, "指标得分合计", 1)
    assert _num(ws.cell(row=sub, column=score).value) == "100"
    [(total, _)] = _find(ws, "总计得分", 1)
    assert _num(ws.cell(row=total, column=score).value) == "100"
    [(note, _)] = _find(ws, "说明", 1)
    assert "超出总分上限" in ws.cell(row=note, column=7).value


def test_xlsx_incomplete_assessment_marks_pending_rows_and_has_no_grade(client):
    unit = create_unit(client, name="缺数据的学校")
    data = seed("001")
    del data["facts"]["procurement_actual"]
    put_submission(client, unit["id"], 2023, data)
    body = assess(client, unit["id"], 2023, "shenzhen-yantian@2023").json()
    assert body["status"] == "incomplete"
    ws = workbook(_get(client, body["id"]).content)["评分表"]
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert any(t.startswith("缺少数据：") and "procurement_actual" in t for t in texts)
    [(grade_row, _)] = _find(ws, "评价等级", 1)
    assert "评价不完整，不评定等级" in [c.value for c in ws[grade_row]]


def test_xlsx_text_that_looks_like_a_formula_stays_text(client):
    unit = create_unit(client, name="=HYPERLINK(\"http://example.invalid\",\"单位\")")
    data = seed("001")
    data["answers"]["3.3.1"]["reason"] = '=HYPERLINK("http://example.invalid","点这里")'
    put_submission(client, unit["id"], 2023, data)
    body = assess(client, unit["id"], 2023, "shenzhen-yantian@2023").json()
    wb = workbook(_get(client, body["id"]).content)
    cells = [c for ws in wb for row in ws.iter_rows() for c in row
             if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert cells
    assert all(c.data_type == "s" for c in cells)


def test_unknown_assessment_is_a_404_problem(client):
    missing = uuid.uuid4()
    for path in (f"/v1/assessments/{missing}/report.xlsx", f"/v1/assessments/{missing}/report.csv",
                 f"/v1/assessments/{missing}/report.html"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == 404
        assert str(missing) in r.json()["detail"]


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "html"])
def test_report_routes_are_documented(client, fmt):
    doc = client.get("/openapi.json").json()
    op = doc["paths"][f"/v1/assessments/{{assessment_id}}/report.{fmt}"]["get"]
    assert op["tags"] == ["reports"]
    assert op["operationId"] == f"getAssessmentReport{fmt.capitalize()}"
    media = {"xlsx": XLSX_MEDIA_TYPE, "csv": "text/csv", "html": "text/html"}[fmt]
    # binary reports also as application/octet-stream, for clients that ask for it (generated ones)
    expected = [media, "application/octet-stream"] if fmt == "xlsx" else [media]
    assert list(op["responses"]["200"]["content"]) == expected
    assert {"404", "503"} <= set(op["responses"])


def test_a_binary_download_may_ask_for_octet_stream(client, assessed):
    body, _unit, _data = assessed("001")
    url = f"/v1/assessments/{body['id']}/report.xlsx"
    plain = client.get(url)
    assert plain.headers["content-type"] == XLSX_MEDIA_TYPE
    binary = client.get(url, headers={"Accept": "application/octet-stream"})
    assert binary.headers["content-type"] == "application/octet-stream"
    assert workbook(binary.content)["评分表"] is not None  # the same workbook
    both = client.get(url, headers={"Accept": f"application/octet-stream, {XLSX_MEDIA_TYPE}"})
    assert both.headers["content-type"] == XLSX_MEDIA_TYPE


def test_a_changed_ruleset_is_noted_under_the_table(client, assessed, db_engine):
    from sqlalchemy import text

    body, _unit, _data = assessed("001")
    with db_engine.begin() as conn:
        conn.execute(text("UPDATE assessments SET ruleset_hash = 'sha256:older' WHERE id = :id"), {"id": body["id"]})
    ws = workbook(_get(client, body["id"]).content)["评分表"]
    [(note, _)] = _find(ws, "说明", 1)
    assert "内容在本次评价后有更新" in ws.cell(row=note, column=7).value
