"""Assessments whose subject is a project: refusals naming their field, idempotency, tenancy, batches,
and the 自评表 as CSV and HTML."""

from __future__ import annotations

import csv
import io
from typing import Any

from tests.api.factories import create_project, create_unit, project_sheet, put_project_submission
from tests.conftest import make_key


def _project(client: Any, sheet: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    unit = create_unit(client)
    project = create_project(client, unit["id"])
    r = put_project_submission(client, unit["id"], project["id"], 2023, sheet or project_sheet())
    assert r.status_code == 201, r.text
    return unit, project


def _body(unit: dict[str, Any], project: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"unit_id": unit["id"], "project_id": project["id"], "fiscal_year": 2023, "ruleset": "national-project",
            "kind": "self", "evaluator": "本单位", **extra}


def test_refusals_name_their_field_and_store_nothing(client):
    unit, project = _project(client)
    cases = [
        ({"project_id": None, "ruleset": "national-project"}, 422, "/project_id"),  # a project ruleset needs a project
        ({"ruleset": "shenzhen-yantian@2023"}, 422, "/ruleset"),  # a 部门整体 ruleset scores no project
        ({"ruleset": "no-such"}, 404, "/ruleset"),
        ({"fiscal_year": 2019}, 422, "/fiscal_year"),  # national-project@2020 covers 2020-
        ({"answers": {"1.1.1": {"score": "1", "reason": "x"}}}, 422, "/answers"),
        ({"overrides": {"9.9.9": {"score": "1", "reason": "x"}}}, 422, "/overrides/9.9.9"),
        ({"overrides": {"1.1.1": {"score": "80", "reason": "x"}}}, 422, "/overrides/1.1.1/score"),
    ]
    for change, status, pointer in cases:
        body = {k: v for k, v in {**_body(unit, project), **change}.items() if v is not None}
        r = client.post("/v1/assessments", json=body)
        assert r.status_code == status, (change, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert pointer in {e["pointer"] for e in r.json()["errors"]}, (change, r.json())
    other = create_unit(client)
    r = client.post("/v1/assessments", json=_body(other, project))
    assert r.status_code == 404
    assert r.json()["errors"][0]["pointer"] == "/project_id"
    no_sheet = create_project(client, unit["id"])
    r = client.post("/v1/assessments", json=_body(unit, no_sheet))
    assert r.status_code == 422
    assert r.json()["errors"][0]["pointer"] == "/fiscal_year"
    assert client.get("/v1/assessments", params={"project_id": project["id"]}).json()["items"] == []


def test_rows_that_do_not_fit_the_ruleset_are_refused_with_pointers_into_the_submission(client):
    sheet = project_sheet({"level1": "社会影响", "level2": "数量指标", "name": "x", "nature": "gte", "target": "1",
                           "unit": "个", "actual": "1"})
    unit, project = _project(client, sheet)
    r = client.post("/v1/assessments", json=_body(unit, project))
    assert r.status_code == 422
    assert [e["pointer"] for e in r.json()["errors"]] == ["/rows/0/level1"]
    assert "version 1" in r.json()["detail"]


def test_a_missing_actual_is_incomplete_never_zero_and_strict_refuses(client):
    sheet = project_sheet({"level1": "产出指标", "level2": "数量指标", "name": "培训人次", "nature": "gte",
                           "target": "2000", "unit": "人次"},
                          {"level1": "效益指标", "level2": "社会效益指标", "name": "安全水平", "nature": "定性",
                           "target_text": "明显提升"})
    unit, project = _project(client, sheet)
    r = client.post("/v1/assessments", json=_body(unit, project))
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["status"], body["grade"]) == ("incomplete", None)
    assert body["missing_facts"] == ["/rows/0/actual"]
    assert body["missing_answers"] == ["2.2.1"]  # the qualitative row waits for its band
    strict = client.post("/v1/assessments", json=_body(unit, project, strict=True))
    assert strict.status_code == 422
    assert [e["pointer"] for e in strict.json()["errors"]] == ["/rows/0/actual", "/rows/1"]


def test_idempotent_retry_answers_the_same_assessment(client):
    unit, project = _project(client)
    first = client.post("/v1/assessments", json=_body(unit, project), headers={"Idempotency-Key": "p-1"})
    again = client.post("/v1/assessments", json=_body(unit, project), headers={"Idempotency-Key": "p-1"})
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert len(client.get("/v1/assessments", params={"project_id": project["id"]}).json()["items"]) == 1
    other = client.post("/v1/assessments", json=_body(unit, project, evaluator="另一人"),
                        headers={"Idempotency-Key": "p-1"})
    assert other.status_code == 422
    log = client.get("/v1/audit-log", params={"resource_type": "assessment",
                                             "resource_id": first.json()["id"]}).json()["items"]
    assert [e["unit_id"] for e in log if e["status"] == 201] == [unit["id"]]


def test_another_tenant_and_an_unengaged_firm_see_nothing_of_a_project(client):
    unit, project = _project(client)
    _, key = make_key("tenant-b", ["read", "submit", "assess"])
    b = {"Authorization": f"Bearer {key}"}
    assert client.get(f"/v1/units/{unit['id']}/projects", headers=b).status_code == 404
    assert client.get(f"/v1/units/{unit['id']}/projects/{project['id']}", headers=b).status_code == 404
    r = client.post("/v1/assessments", headers=b, json=_body(unit, project, kind="third_party"))
    assert r.status_code == 404
    r = client.put(f"/v1/units/{unit['id']}/projects/{project['id']}/submissions/2023", headers=b,
                   json=project_sheet())
    assert r.status_code == 404
    # an engaged firm reads, scores third-party, and changes nothing
    firm_id, firm_key = make_key("firm-p", ["read", "submit", "assess"])
    assert client.post("/v1/engagements", json={"firm_tenant_id": firm_id, "unit_id": unit["id"],
                                                "fiscal_years": [2023]}).status_code == 201
    f = {"Authorization": f"Bearer {firm_key}"}
    assert client.get(f"/v1/units/{unit['id']}/projects/{project['id']}/submissions/2023", headers=f).status_code == 200
    r = client.put(f"/v1/units/{unit['id']}/projects/{project['id']}/submissions/2023", headers=f,
                   json=project_sheet(), )
    assert r.status_code == 403
    assert client.patch(f"/v1/units/{unit['id']}/projects/{project['id']}", headers=f,
                        json={"name": "x"}).status_code == 403
    assert client.post(f"/v1/units/{unit['id']}/projects", headers=f, json={
        "code": "F1", "name": "x", "department": "x", "implementer": "x", "fund_nature": "x",
        "fiscal_years": [2023]}).status_code == 403


def test_batch_scores_each_project_and_a_failing_item_leaves_nothing(client):
    unit = create_unit(client)
    existing = create_project(client, unit["id"], code="OLD-1")

    def item(code: str, sheet: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"project": {"code": code, "name": f"项目{code}", "department": "教育局", "implementer": "盐港中学",
                            "fund_nature": "一般公共预算"},
                "fiscal_year": 2023, "submission": sheet, "ruleset": "national-project", "kind": "self",
                "evaluator": "本单位", **extra}

    bad_rows = project_sheet({"level1": "产出指标", "level2": "数量指标", "name": "x", "nature": "gte", "target": "10",
                              "unit": "个", "actual": "5"},  # misses its target without 偏差原因
                             {"level1": "效益指标", "level2": "社会效益指标", "name": "y", "nature": "定性",
                              "band": "met", "band_score": "33.75"})
    items = [item("NEW-1", project_sheet()), item("OLD-1", project_sheet(executed="90")),
             item("NEW-2", bad_rows), {"project": {"code": "含中文"}}]
    r = client.post(f"/v1/units/{unit['id']}/projects:batch", json={"items": items},
                    headers={"Idempotency-Key": "pb-1"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["succeeded"], out["failed"]) == (2, 2)
    assert [i["status"] for i in out["items"]] == [201, 201, 422, 422]
    # 100 for the first; 90% executed is 9 of the execution rate's 10 for the second
    assert [i["total"] for i in out["items"][:2]] == ["100", "99"]
    assert out["items"][1]["project_id"] == existing["id"]
    assert {e["pointer"] for e in out["items"][2]["problem"]["errors"]} == {"/items/2/submission/rows/0/deviation_reason"}
    assert any(e["pointer"].startswith("/items/3/") for e in out["items"][3]["problem"]["errors"])
    codes = [p["code"] for p in client.get(f"/v1/units/{unit['id']}/projects").json()["items"]]
    assert codes == ["NEW-1", "OLD-1"]  # NEW-2 was not created
    replay = client.post(f"/v1/units/{unit['id']}/projects:batch", json={"items": items},
                         headers={"Idempotency-Key": "pb-1"})
    assert replay.json() == out
    assert len(client.get("/v1/assessments", params={"unit_id": unit["id"]}).json()["items"]) == 2


def test_the_self_evaluation_table_as_csv_and_html(client):
    sheet = project_sheet(
        {"level1": "产出指标", "level2": "数量指标", "name": "=cmd|' /C calc'!A0", "nature": "gte", "target": "2000",
         "unit": "人次", "actual": "1850", "claimed": "50", "deviation_reason": "延后", "improvement": "提前"},
        {"level1": "效益指标", "level2": "社会效益指标", "name": "事故率", "nature": "lte", "target": "1", "unit": "%",
         "actual": "0.5"},
        claimed_total="100")
    unit, project = _project(client, sheet)
    created = client.post("/v1/assessments", json=_body(unit, project)).json()
    # 1850 / 2000 × 50 = 46.25; 效益 30; 满意度 has no row: its 10 go to 产出 and 效益 in proportion (6.25, 3.75),
    # so 产出 is 56.25 and its row 1850 / 2000 × 56.25 = 52.03…; the total is the rows' sum with 执行率 10
    r = client.get(f"/v1/assessments/{created['id']}/report.csv")
    assert r.status_code == 200
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["一级指标", "二级指标", "三级指标", "编码"]
    by_code = {row[3]: row for row in rows[1:]}
    assert by_code["1.1.1"][2].startswith("'=")  # a formula stays text
    assert by_code["1.1.1"][12:14] == ["50", "是"]  # the unit's 50 against the rules' score
    assert by_code["0"][10] == "10"
    assert rows[-1][0] == "总分"
    assert rows[-1][10] == created["total"]
    html = client.get(f"/v1/assessments/{created['id']}/report.html")
    assert html.status_code == 200
    text = html.text
    assert "项目支出绩效自评表（2023年度）" in text
    assert "项目资金（万元）" in text
    assert "年度总体目标" in text
    assert "偏差原因分析及改进措施" in text
    assert 'class="score diff"' in text  # the claimed score that differs is highlighted
    assert "<script" not in text
