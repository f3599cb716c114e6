"""GET /v1/assessments/{id}/comparison/{other_id}/report.xlsx: two assessments side by side."""

from __future__ import annotations

import copy
import uuid

from app.reports.xlsx import XLSX_MEDIA_TYPE
from tests.api.factories import assess, put_submission, seed_unit_with_submission
from tests.reports.conftest import walk, workbook


def _pair(client):
    unit, data = seed_unit_with_submission(client, "001")
    self_eval = assess(client, unit["id"], 2023, "shenzhen-yantian@2023", evaluator="深圳市盐港中学").json()
    tag = client.get(f"/v1/units/{unit['id']}/submissions/2023").headers["etag"]
    third = copy.deepcopy(data)
    third["answers"]["3.3.1"] = {"score": "20", "reason": "第三方：部分绩效目标未实现"}
    third["answers"]["2.5.1/1"] = {"score": 0, "reason": "第三方：制度未覆盖内控"}
    assert put_submission(client, unit["id"], 2023, third, if_match=tag).status_code == 200
    firm = assess(client, unit["id"], 2023, "shenzhen-yantian@2023", kind="third_party",
                  evaluator="某会计师事务所").json()
    return unit, self_eval, firm


def test_comparison_xlsx_rows_differences_and_highlights(client, artifacts):
    unit, a, b = _pair(client)
    r = client.get(f"/v1/assessments/{a['id']}/comparison/{b['id']}/report.xlsx")
    assert r.status_code == 200, r.text
    (artifacts / "comparison-001.xlsx").write_bytes(r.content)
    assert r.headers["content-type"] == XLSX_MEDIA_TYPE
    assert r.headers["content-disposition"].startswith("attachment;")
    wb = workbook(r.content)
    assert wb.sheetnames == ["评分对比", "差异指标"]
    ws = wb["评分对比"]
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert any("深圳市盐港中学" in t and "评分对比表" in t for t in texts)
    assert any(t.startswith("甲：自评（深圳市盐港中学）") and "93.97" in t for t in texts)
    assert any(t.startswith("乙：第三方评价（某会计师事务所）") for t in texts)
    head = next(row[0].row for row in ws.iter_rows() if row[0].value == "编码")
    assert [c.value for c in ws[head]][:3] == ["编码", "指标名称", "分值"]
    assert ws.cell(row=head, column=6).value == "差异\n（乙−甲）"
    assert ws.cell(row=head, column=4).value == "甲得分"
    codes = [n["code"] for n in walk(a["indicators"])]
    rows = {ws.cell(row=r, column=1).value: r for r in range(head + 1, head + 1 + len(codes))}
    assert list(rows) == codes  # every indicator, in tree order
    differing = {"3", "3.3", "3.3.1", "2", "2.5", "2.5.1"}
    for code, r in rows.items():
        diff = ws.cell(row=r, column=6).value
        fill = ws.cell(row=r, column=2).fill.fgColor.rgb
        if code in differing:
            assert diff != 0, code
            assert fill.endswith("FCE4D6"), code
        else:
            assert diff == 0, code
            assert not fill.endswith("FCE4D6"), code
    r331 = rows["3.3.1"]
    assert ws.cell(row=r331, column=4).value == 22
    assert ws.cell(row=r331, column=5).value == 20
    assert ws.cell(row=r331, column=6).value == -2
    assert "第三方：部分绩效目标未实现" in ws.cell(row=r331, column=8).value
    total_row = next(row[0].row for row in ws.iter_rows() if row[0].value == "总计得分")
    assert ws.cell(row=total_row, column=4).value == 93.97
    assert b["total"] == "91.47"
    assert ws.cell(row=total_row, column=5).value == 91.47
    assert ws.cell(row=total_row, column=6).value == -2.5
    # the second sheet: only the differing indicators, largest difference first
    ws2 = wb["差异指标"]
    head2 = next(row[0].row for row in ws2.iter_rows() if row[0].value == "编码")
    listed = [ws2.cell(row=r, column=1).value for r in range(head2 + 1, head2 + 1 + len(differing))]
    assert set(listed) == differing
    assert listed[0] in {"2", "3", "3.3", "3.3.1"}  # −2 before −0.5
    assert ws2.cell(row=head2 + 1 + len(differing), column=1).value == "总计得分"


def test_comparison_xlsx_problems(client):
    unit, a, _b = _pair(client)
    r = client.get(f"/v1/assessments/{a['id']}/comparison/{uuid.uuid4()}/report.xlsx")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    other_unit, _ = seed_unit_with_submission(client, "001")
    other = assess(client, other_unit["id"], 2023, "shenzhen-yantian@2023").json()
    r = client.get(f"/v1/assessments/{a['id']}/comparison/{other['id']}/report.xlsx")
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"


def test_comparison_xlsx_keeps_formula_like_text_as_text(client):
    from tests.api.factories import create_unit, seed

    unit = create_unit(client, name='=HYPERLINK("http://example.invalid","单位")')
    put_submission(client, unit["id"], 2023, seed("001"))
    a = assess(client, unit["id"], 2023, "shenzhen-yantian@2023").json()
    b = assess(client, unit["id"], 2023, "shenzhen-yantian@2023", kind="third_party").json()
    r = client.get(f"/v1/assessments/{a['id']}/comparison/{b['id']}/report.xlsx")
    assert r.status_code == 200
    wb = workbook(r.content)
    cells = [c for ws in wb for row in ws.iter_rows() for c in row if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert cells
    assert all(c.data_type == "s" for c in cells)
    assert "两次评价各指标得分相同" in [row[0].value for row in wb["差异指标"].iter_rows()]
