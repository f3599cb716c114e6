"""The whole project self-evaluation (项目支出绩效自评) through the HTTP API: a unit with three projects, each
submitted, scored under national-project@2020, one compared self against a third party's assessment, exported
as XLSX and summarised. Every expected figure is worked out by hand in the comments (national-project@2020:
产出 50, 效益 30, 满意度 10, 预算执行率 10; rows rounded to two places, half up; the total is the sum of the
rounded rows)."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from openpyxl import load_workbook

from tests.api.factories import create_project, create_unit, project_sheet, put_project_submission
from tests.conftest import make_key

RULESET = "national-project@2020"

#: A: every target met, 100% executed: 50 + 30 + 10 + 10 = 100, 优
SHEET_A = project_sheet()

#: B: 产出 has two rows, 25 points each (the 一级's 50 spread evenly):
#:   1.1.1 培训人次 ≥2000, actual 1850: 1850 / 2000 × 25 = 23.125 → 23.13 (the unit printed 25)
#:   1.3.1 完成时限 ≤30天, actual 40: 30 / 40 × 25 = 18.75
#: 效益 2.2.1 qualitative, 部分达成 (60–80% of 30: [18, 24)), the evaluator's 20
#: 满意度 3.1.1 ≥90%, actual 85%: 85 / 90 × 10 = 9.444… → 9.44
#: 执行率 90 / 100 = 90% × 10 = 9
#: total 23.13 + 18.75 + 20 + 9.44 + 9 = 80.32, 良 (the unit printed 85)
SHEET_B = project_sheet(
    {"level1": "产出指标", "level2": "数量指标", "name": "培训人次", "nature": "≥", "target": "2000", "unit": "人次",
     "actual": "1850", "claimed": "25", "deviation_reason": "两期培训因场地改造延后", "improvement": "提前排期"},
    {"level1": "产出指标", "level2": "时效指标", "name": "完成时限", "nature": "≤", "target": "30", "unit": "天",
     "actual": "40", "claimed": "18.75", "deviation_reason": "设备到货延迟", "improvement": "提前采购"},
    {"level1": "效益指标", "level2": "社会效益指标", "name": "校园安全水平", "nature": "定性", "target_text": "明显提升",
     "actual_text": "有所提升", "band": "partial", "band_score": "20", "band_reason": "巡查覆盖率提高但隐患整改滞后",
     "claimed": "20", "deviation_reason": "隐患整改滞后", "improvement": "建立整改台账"},
    {"level1": "满意度指标", "level2": "服务对象满意度指标", "name": "师生满意度", "nature": "≥", "target": "90",
     "unit": "%", "actual": "85", "claimed": "9.44", "deviation_reason": "食堂满意度偏低", "improvement": "改进食堂管理"},
    executed="90", claimed_execution="9", claimed_total="85")

#: C: 1.1.1 设备台数 =10个, actual 8: (1 − |8 − 10| / 10) × 50 = 40
#: 效益 2.1.1 does not apply: its 30 points are left out
#: 满意度 3.1.1 met: 10; 执行率 50 / 100 = 50% × 10 = 5
#: 实得 40 + 10 + 5 = 55 of the 70 points counted: 55 / 70 × 100 = 78.571… → 78.57, 中
SHEET_C = project_sheet(
    {"level1": "产出指标", "level2": "数量指标", "name": "设备台数", "nature": "=", "target": "10", "unit": "个",
     "actual": "8", "deviation_reason": "两台设备退货", "improvement": "下年度补齐"},
    {"level1": "效益指标", "level2": "经济效益指标", "name": "节约经费", "nature": "≥", "target": "5", "unit": "万元",
     "not_applicable": True, "not_applicable_reason": "本年度未产生经济效益指标所需的运维支出"},
    {"level1": "满意度指标", "level2": "服务对象满意度指标", "name": "师生满意度", "nature": "≥", "target": "90",
     "unit": "%", "actual": "92"},
    executed="50")


def _assess(client: Any, unit_id: str, project_id: str, kind: str = "self", **extra: Any) -> Any:
    return client.post("/v1/assessments", json={"unit_id": unit_id, "project_id": project_id, "fiscal_year": 2023,
                                                 "ruleset": RULESET, "kind": kind, "evaluator": "测试", **extra})


def _leaf(nodes: list[dict[str, Any]], code: str) -> dict[str, Any]:
    for n in nodes:
        if n["code"] == code:
            return n
        found = _leaf(n.get("children") or [], code)
        if found:
            return found
    return {}


def test_a_unit_with_three_projects_scored_compared_exported_summarised(client, db_engine):
    unit = create_unit(client, name="深圳市盐港中学")
    projects = {name: create_project(client, unit["id"], code=f"YT-{name}", name=f"项目{name}") for name in "ABC"}
    for name, sheet in (("A", SHEET_A), ("B", SHEET_B), ("C", SHEET_C)):
        r = put_project_submission(client, unit["id"], projects[name]["id"], 2023, sheet)
        assert r.status_code == 201, r.text

    scored = {}
    for name in "ABC":
        r = _assess(client, unit["id"], projects[name]["id"])
        assert r.status_code == 201, r.text
        scored[name] = r.json()
        assert r.headers["location"] == f"/v1/assessments/{scored[name]['id']}"
        assert scored[name]["project_id"] == projects[name]["id"]
    assert (scored["A"]["total"], scored["A"]["grade"], scored["A"]["grade_code"]) == ("100", "优", "excellent")
    assert (scored["B"]["total"], scored["B"]["grade"]) == ("80.32", "良")
    assert (scored["C"]["total"], scored["C"]["grade"]) == ("78.57", "中")

    b = scored["B"]["indicators"]
    assert [(c, _leaf(b, c)["score"]) for c in ("0", "1.1.1", "1.3.1", "2.2.1", "3.1.1")] == [
        ("0", "9"), ("1.1.1", "23.13"), ("1.3.1", "18.75"), ("2.2.1", "20"), ("3.1.1", "9.44")]
    # what the unit printed against the rules: the row and the total flagged, both numbers given
    warnings = {w["code"] for w in scored["B"]["warnings"]}
    assert {"claim_differs", "claimed_total_differs"} <= warnings
    assert _leaf(b, "1.1.1")["row"]["claim_differs"] is True
    assert _leaf(scored["C"]["indicators"], "2.1.1")["status"] == "not_applicable"

    # the stored assessment reads back the same, with what it was scored with
    got = client.get(f"/v1/assessments/{scored['B']['id']}").json()
    assert (got["project_id"], got["total"]) == (projects["B"]["id"], "80.32")
    inputs = client.get(f"/v1/assessments/{scored['B']['id']}/inputs").json()
    assert inputs["content"]["rows"][0]["actual"] == "1850"
    assert inputs["submission_version"] == 1
    listed = client.get("/v1/assessments", params={"project_id": projects["B"]["id"]}).json()["items"]
    assert [a["id"] for a in listed] == [scored["B"]["id"]]

    # an audit firm engaged for the unit scores B with its own judgment of one row
    firm_id, firm_key = make_key("某会计师事务所", ["read", "assess"])
    e = client.post("/v1/engagements", json={"firm_tenant_id": firm_id, "unit_id": unit["id"], "fiscal_years": [2023]})
    assert e.status_code == 201, e.text
    firm = {"Authorization": f"Bearer {firm_key}"}
    assert client.get(f"/v1/units/{unit['id']}/projects", headers=firm).status_code == 200
    refused = client.post("/v1/assessments", headers=firm, json={
        "unit_id": unit["id"], "project_id": projects["B"]["id"], "fiscal_year": 2023, "ruleset": RULESET,
        "kind": "self", "evaluator": "某会计师事务所"})
    assert refused.status_code == 403
    third = client.post("/v1/assessments", headers=firm, json={
        "unit_id": unit["id"], "project_id": projects["B"]["id"], "fiscal_year": 2023, "ruleset": RULESET,
        "kind": "third_party", "evaluator": "某会计师事务所",
        "overrides": {"1.1.1": {"score": "20", "reason": "培训签到表仅能核实1600人次"}}})
    assert third.status_code == 201, third.text
    # 20 instead of 23.13: 80.32 − 3.13 = 77.19, 中
    assert (third.json()["total"], third.json()["grade"]) == ("77.19", "中")
    cmp = client.get(f"/v1/assessments/{scored['B']['id']}/comparison/{third.json()['id']}").json()
    assert cmp["total_difference"] == "-3.13"
    # the row, its 二级 and its 一级 differ by as much; nothing else does
    differing = [(d["code"], d["score_a"], d["score_b"], d["difference"]) for d in cmp["indicators"][:cmp["differing"]]]
    assert differing == [("1", "41.88", "38.75", "-3.13"), ("1.1", "23.13", "20", "-3.13"),
                         ("1.1.1", "23.13", "20", "-3.13")]
    # a project's assessment is compared only with one of the same project
    other = client.get(f"/v1/assessments/{scored['B']['id']}/comparison/{scored['A']['id']}")
    assert other.status_code == 422

    # exported as XLSX: the 自评表 in the national layout
    r = client.get(f"/v1/assessments/{scored['B']['id']}/report.xlsx")
    assert r.status_code == 200
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["自评表", "指标明细"]
    ws = wb["自评表"]
    cells = {str(c.value) for row in ws.iter_rows() for c in row if c.value is not None}
    assert "项目支出绩效自评表（2023年度）" in cells
    assert {"项目资金（万元）", "年度总体目标", "偏差原因分析及改进措施", "总分", "评价等级", "自评得分"} <= cells
    assert "项目名称：项目B" in cells
    assert "≥2000人次" in cells
    assert "1850人次" in cells
    assert "≤30天" in cells
    values = [c.value for row in ws.iter_rows() for c in row]
    assert 80.32 in values
    assert 23.13 in values
    assert "良" in values
    assert any(isinstance(v, str) and "偏差原因：两期培训因场地改造延后" in v for v in values)

    # the unit's projects at a glance (the self-evaluations)
    s = client.get(f"/v1/units/{unit['id']}/projects:summary",
                   params={"fiscal_year": 2023, "kind": "self", "rows": 3}).json()
    assert (s["projects"], s["assessed"]) == (3, 3)
    # budgets 100 × 3 = 300; executed 100 + 90 + 50 = 240; 80%
    assert (s["budget_full_year"], s["executed"], s["execution_rate"]) == ("300", "240", "80%")
    # (100 + 80.32 + 78.57) / 3 = 86.296… → 86.30
    assert s["mean"] == "86.3"
    assert s["grades"] == {"优": 1, "良": 1, "中": 1}
    assert s["grade_codes"] == {"excellent": 1, "good": 1, "fair": 1}
    # lost most: B 2.2.1 (30 − 20 = 10) and C 1.1.1 (50 − 40 = 10), then B 1.3.1 (25 − 18.75 = 6.25)
    assert [(r["project_code"], r["code"], r["points_lost"]) for r in s["lost_most"]] == [
        ("YT-B", "2.2.1", "10"), ("YT-C", "1.1.1", "10"), ("YT-B", "1.3.1", "6.25")]
    assert any("两台设备退货" in t or "未达年度指标值" in t for t in s["lost_most"][1]["reasons"])

    # the cohort of the unit's projects under the ruleset: ranked by total
    cohort = client.get("/v1/cohorts", params={"ruleset": RULESET, "fiscal_year": 2023, "unit_id": unit["id"],
                                               "kind": "self"}).json()
    assert cohort["count"] == 3
    assert [(m["project_code"], m["total"]) for m in cohort["ranking"]] == [
        ("YT-A", "100"), ("YT-B", "80.32"), ("YT-C", "78.57")]
    assert Decimal(cohort["mean"]) == Decimal("86.30")
