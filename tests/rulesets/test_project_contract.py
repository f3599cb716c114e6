"""Project rulesets (kind: project) as a contract: listed with their kind, their detail, requirements,
submission schema and dry run; the schema and PUT …/projects/{pid}/submissions/{year}?ruleset= agree;
registered like 部门整体 rulesets (201/200/409/422), scoped to the registering tenant, and used by a
real project assessment and its report. Numbers are worked by hand (tests/engine/test_project_golden.py)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from sqlalchemy import text

from tests.api.factories import create_project, create_unit, project_sheet, put_project_submission
from tests.api.test_rulesets import _custom
from tests.conftest import make_key
from tests.engine.test_project_golden import EVEN_FUNDS, EVEN_ROWS, WHY, base_rows, table

ROOT = Path(__file__).resolve().parents[2]
NATIONAL_TEXT = (ROOT / "rulesets" / "national-project" / "2020.yaml").read_text(encoding="utf-8")
PROJECT_RULESETS = ["national-project@2020", "local-project@2023"]


def _path(ref: str) -> str:
    return "/v1/rulesets/" + ref.replace("@", "/")


def _name() -> str:
    return f"proj-{uuid.uuid4().hex[:8]}"


def _variant(name: str, version: str = "2024", places: int = 0) -> str:
    """national-project@2020 under another name and version, rounded to ``places`` (0: whole points)."""
    out = NATIONAL_TEXT.replace("name: national-project", f"name: {name}").replace('version: "2020"', f'version: "{version}"')
    return out.replace("rounding: {places: 2, mode: half_up}", f"rounding: {{places: {places}, mode: half_up}}")


def _pointers(r: Any) -> set[str]:
    return {e.get("pointer") for e in r.json().get("errors", [])}


# --------------------------------------------------------------------------- discovery


def test_the_list_carries_every_rulesets_kind(client):
    items = {i["name"]: i for i in client.get("/v1/rulesets").json()["items"]}
    assert all(i["kind"] in ("unit", "project") for i in items.values())
    assert items["national-project"]["kind"] == "project"
    assert items["national-project"]["versions"] == ["2020"]
    assert items["local-project"]["kind"] == "project"
    assert items["shenzhen-yantian"]["kind"] == "unit"


def test_a_project_rulesets_detail(client):
    r = client.get("/v1/rulesets/national-project/2020")
    assert r.status_code == 200, r.text
    d = r.json()
    assert r.headers["etag"] == f'"{d["content_hash"]}"'
    assert (d["kind"], d["ref"], d["builtin"], d["total_points"]) == ("project", "national-project@2020", True, "100")
    assert d["execution"]["code"] == "0"
    assert d["execution"]["points"] == "10"
    assert [(lv["code"], lv["name"], lv["points"]) for lv in d["levels"]] == [
        ("1", "产出指标", "50"), ("2", "效益指标", "30"), ("3", "满意度指标", "10")]
    assert [c["name"] for c in d["levels"][0]["children"]] == ["数量指标", "质量指标", "时效指标", "成本指标"]
    assert d["levels"][2]["when_empty"] == {"rule": "transfer", "transfer_to": ["1", "2"]}
    assert d["levels"][0]["when_empty"] == {"rule": "refuse", "transfer_to": []}
    assert [(b["band"], b["name"], b["min"], b["max"], b["min_inclusive"], b["max_inclusive"]) for b in d["bands"]] == [
        ("met", "达成年度指标", "0.8", "1", True, True),
        ("partial", "部分达成年度指标并具有一定效果", "0.6", "0.8", True, False),
        ("missed", "未达成年度指标且效果较差", "0", "0.6", True, False)]
    assert {n["nature"]: n["rule"] for n in d["natures"]} == {
        "gte": "proportional", "lte": "inverse_proportional", "eq": "deviation", "qualitative": "qualitative_band"}
    assert (d["row_points"], d["not_applicable"], d["deviation_reason"]) == ("either", "rescale", "required")
    assert d["rounding"]["places"] == 2
    assert d["rounding"]["mode"] == "half_up"
    assert [g["grade"] for g in d["grades"]] == ["优", "良", "中", "差"]
    local = client.get("/v1/rulesets/local-project/2023").json()
    assert [lv["points"] for lv in local["levels"]] == ["40", "30", "20"]
    assert (local["rounding"]["places"], local["deviation_reason"]) == (0, "warn")
    assert local["levels"][2]["when_empty"]["rule"] == "refuse"


def test_a_unit_rulesets_detail_is_unchanged_but_for_its_kind(client):
    d = client.get("/v1/rulesets/shenzhen-yantian/2023").json()
    assert d["kind"] == "unit"
    assert {"indicators", "adjustments", "bounds", "rounding", "grades", "content_hash"} <= set(d)
    assert client.get("/v1/rulesets/shenzhen-yantian/2023/requirements").json()["kind"] == "unit"


@pytest.mark.parametrize("ref", PROJECT_RULESETS)
def test_requirements_and_schema_of_a_project_ruleset(client, ref):
    r = client.get(_path(ref) + "/requirements")
    assert r.status_code == 200, r.text
    assert r.headers["etag"].startswith('"')
    req = r.json()
    assert (req["kind"], req["ref"]) == ("project", ref)
    assert req["levels"][0]["accepted"] == ["1", "产出指标", "产出"]
    assert req["execution"]["reads"] == ["/funds/full_year_budget", "/funds/executed"]
    assert {u["dimension"] for u in req["units"]} == {"amount", "percent", "days"}
    assert {f["field"] for f in req["rows"]} >= {"level1", "level2", "name", "nature", "target", "actual", "band"}
    assert req["checked_when_scored"]
    assert client.get(_path(ref) + "/requirements", headers={"If-None-Match": r.headers["etag"]}).status_code == 304
    s = client.get(_path(ref) + "/submission.schema.json")
    assert s.status_code == 200
    assert s.headers["content-type"].startswith("application/schema+json")
    schema = s.json()
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == _path(ref) + "/submission.schema.json"
    v = Draft202012Validator(schema)
    assert v.is_valid(project_sheet())
    assert not v.is_valid(project_sheet({"level1": "社会影响", "level2": "数量指标", "name": "x", "nature": "gte",
                                         "target": "1", "unit": "个", "actual": "1"}))


def test_unknown_project_ruleset_is_404(client):
    assert client.get("/v1/rulesets/national-project/1999").status_code == 404
    assert client.get("/v1/rulesets/national-project/1999/requirements").status_code == 404
    assert client.post("/v1/rulesets/national-project/1999:score", json=table(base_rows())).status_code == 404


# --------------------------------------------------------------------------- the dry run


def _counts(db_engine: Any) -> dict[str, int]:
    with db_engine.connect() as conn:
        tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
        return {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables}


def test_dry_run_scores_the_golden_tables_and_stores_nothing(client, db_engine):
    before = _counts(db_engine)
    met = client.post("/v1/rulesets/national-project/2020:score", json=table(base_rows()))
    assert met.status_code == 200, met.text
    assert (met.json()["total"], met.json()["grade"], met.json()["status"]) == ("100", "优", "complete")
    # ≥2000人次, 1850 done: 1850/2000 × 20 = 18.5 → 98.5
    missed = client.post("/v1/rulesets/national-project/2020:score", json=table(base_rows(qty={"actual": "1850", **WHY})))
    assert missed.json()["total"] == "98.5"
    # the same even table: 95.3 at two places nationally, 96 in whole points locally
    assert client.post("/v1/rulesets/national-project/2020:score", json=table(EVEN_ROWS, EVEN_FUNDS)).json()["total"] == "95.3"
    local = client.post("/v1/rulesets/local-project/2023:score", json=table(EVEN_ROWS, EVEN_FUNDS)).json()
    assert local["total"] == "96"
    assert local["framework"] == "project"
    assert local["funds"]["execution_rate"] == "98.00%"
    # an evaluator's override of a row
    over = client.post("/v1/rulesets/national-project/2020:score",
                       json={**table(base_rows()), "overrides": {"1.1.1": {"score": "15", "reason": "指标值偏低"}}})
    assert over.json()["total"] == "95"
    assert _counts(db_engine) == before


def test_dry_run_and_a_stored_assessment_give_the_same_breakdown(client):
    sheet = table(EVEN_ROWS, EVEN_FUNDS)
    unit = create_unit(client)
    project = create_project(client, unit["id"])
    assert put_project_submission(client, unit["id"], project["id"], 2023, sheet).status_code == 201
    a = client.post("/v1/assessments", json={"unit_id": unit["id"], "project_id": project["id"], "fiscal_year": 2023,
                                             "ruleset": "national-project@2020", "kind": "self", "evaluator": "本单位"})
    assert a.status_code == 201, a.text
    dry = client.post("/v1/rulesets/national-project/2020:score", json=sheet)
    # the answer of POST /v1/assessments is the assessment's identity, then its stored breakdown as is
    assert a.content.endswith(dry.content[1:])
    stored = client.get(f"/v1/assessments/{a.json()['id']}/breakdown").json()["items"]
    assert stored == dry.json()["indicators"]
    assert dry.json()["total"] == "95.3"


def test_dry_run_refuses_bad_input_with_pointers(client):
    rows = base_rows()
    rows[3] = {**rows[3], "actual_unit": "人次"}  # 万元 against 人次: they do not compare
    r = client.post("/v1/rulesets/national-project/2020:score", json=table(rows))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "/rows/3/actual_unit" in _pointers(r)
    r = client.post("/v1/rulesets/national-project/2020:score", json=table(base_rows(qty={"level1": "社会影响"})))
    assert (r.status_code, _pointers(r)) == (422, {"/rows/0/level1"})
    r = client.post("/v1/rulesets/national-project/2020:score", json=table(base_rows(qty={"actual": "1850"})))
    assert (r.status_code, _pointers(r)) == (422, {"/rows/0/deviation_reason"})  # required nationally
    r = client.post("/v1/rulesets/national-project/2020:score", json={**table(base_rows()), "facts": {}})
    assert (r.status_code, _pointers(r)) == (422, {"/facts"})  # a unit's body is not a project's
    incomplete = base_rows(qty={"actual": None})
    r = client.post("/v1/rulesets/national-project/2020:score", json={**table(incomplete), "strict": True})
    assert (r.status_code, _pointers(r)) == (422, {"/rows/0/actual"})
    # a unit ruleset's dry run still takes facts and answers only
    r = client.post("/v1/rulesets/shenzhen-yantian/2023:score", json=table(base_rows()))
    assert r.status_code == 422


# --------------------------------------------------------------------------- schema ↔ PUT


#: values a row's field may be given (valid and invalid ones; None: JSON null; _DROP: the field left out)
_DROP = object()
_VALUES: dict[str, list[Any]] = {
    "level1": ["产出", "1", " 效益指标 ", "满意度", "社会影响", ""],
    "level2": ["数量", "1.1", "社会效益指标", "2.2", "服务对象满意度指标", "无此二级", _DROP],
    "name": ["培训人次", "  ", "x" * 201],
    "nature": ["gte", "≥", "正向", "lte", "=", "qualitative", "定性", "大于", "ｇｔｅ", None],
    "not_applicable": [True, False, None],
    "not_applicable_reason": ["本年度未开展", None, ""],
    "target": ["2000", "1,000", " 90 ", "-5", "abc", "1.1234567", 12, None, _DROP],
    "target_text": ["效果明显", None],
    "unit": ["人次", "%", "万元", "天", "", None, _DROP],
    "actual": ["1850", "2000", "1e3", None, 3, _DROP],
    "actual_unit": ["万元", "元", "%", "百分比", "日", "人次", None],
    "points": ["20", "-1", "10", None],
    "band": ["met", "partial", "missed", "bad", None, _DROP],
    "band_score": ["8", "x", None, _DROP],
    "band_reason": ["效果一般", None],
    "deviation_reason": ["延期", None],
    "improvement": ["提前安排", None],
    "claimed": ["1", "-2"],
    "extra": ["x"],
}
_QUALITATIVE = {"level1": "效益指标", "level2": "社会效益指标", "name": "技能提升", "nature": "定性", "target_text": "明显",
                "band": "met", "band_score": "9"}
_MUTATION = st.tuples(st.integers(0, 3), st.sampled_from(sorted(_VALUES))).flatmap(
    lambda t: st.tuples(st.just(t[0]), st.just(t[1]), st.sampled_from(_VALUES[t[1]])))
_TOP: dict[str, list[Any]] = {  # mostly left out or valid: the rows' changes are the point
    "funds": [{"full_year_budget": "100", "executed": "98"}, _DROP, _DROP, _DROP, {"executed": "-1"}, {"x": 1}],
    "claimed_total": ["100", "1,000.5", _DROP, _DROP, _DROP, "-1"],
    "note": ["说明", None, _DROP, _DROP],
    "goals": [{"actual": "完成"}, _DROP, _DROP, _DROP, {"expected": " "}],
}


@st.composite
def _tables(draw: Any) -> dict[str, Any]:
    """The default 自评表 (valid under both rulesets) with a qualitative row, then a few of its fields changed."""
    doc = project_sheet()
    doc["rows"] = [dict(r) for r in doc["rows"]] + [dict(_QUALITATIVE)]
    for i, field, value in draw(st.lists(_MUTATION, max_size=2)):
        if value is _DROP:
            doc["rows"][i].pop(field, None)
        else:
            doc["rows"][i][field] = value
    for field, values in _TOP.items():
        value = draw(st.sampled_from(values))
        if value is _DROP:
            doc.pop(field, None)
        else:
            doc[field] = value
    keep = draw(st.sets(st.integers(0, 3), min_size=0, max_size=4))
    doc["rows"] = [r for i, r in enumerate(doc["rows"]) if i in keep or len(keep) < 2]
    return doc


_TABLE = _tables()


@pytest.mark.parametrize("ref", PROJECT_RULESETS)
def test_the_schema_accepts_what_put_accepts_and_refuses_what_it_refuses(client, ref):
    schema = client.get(_path(ref) + "/submission.schema.json").json()
    validator = Draft202012Validator(schema)
    unit = create_unit(client)
    seen = {True: 0, False: 0}

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(_TABLE)
    def agree(doc: dict[str, Any]) -> None:
        project = create_project(client, unit["id"])  # a new one each time: the first version, no If-Match
        url = f"/v1/units/{unit['id']}/projects/{project['id']}/submissions/2023"
        r = client.put(url, params={"ruleset": ref}, json=doc)
        assert r.status_code in (201, 422), r.text
        accepted = r.status_code == 201
        assert validator.is_valid(doc) == accepted, (doc, r.text, [e.message for e in validator.iter_errors(doc)][:3])
        seen[accepted] += 1

    # every single change of a quantitative and of the qualitative row, then combinations at random
    for i in (0, 3):
        for field, values in _VALUES.items():
            for value in values:
                doc = project_sheet()
                doc["rows"] = [dict(r) for r in doc["rows"]] + [dict(_QUALITATIVE)]
                if value is _DROP:
                    doc["rows"][i].pop(field, None)
                else:
                    doc["rows"][i][field] = value
                agree.hypothesis.inner_test(doc)  # type: ignore[attr-defined]
    agree()
    assert seen[False] > 10, seen
    assert seen[True] > 10, seen


def test_put_with_a_ruleset_refuses_at_the_schemas_pointers(client):
    unit = create_unit(client)
    project = create_project(client, unit["id"])
    url = f"/v1/units/{unit['id']}/projects/{project['id']}/submissions/2023"
    schema = client.get("/v1/rulesets/local-project/2023/submission.schema.json").json()
    no_satisfaction = project_sheet(
        {"level1": "产出指标", "level2": "数量指标", "name": "培训人次", "nature": "gte", "target": "2000",
         "unit": "人次", "actual": "2000"},
        {"level1": "效益", "level2": "质量指标", "name": "x", "nature": "gte", "target": "1", "unit": "个", "actual": "1"})
    r = client.put(url, params={"ruleset": "local-project@2023"}, json=no_satisfaction)
    assert r.status_code == 422
    expected = {"/rows", "/rows/1/level2"}  # 满意度 is required locally; 质量指标 is not a 二级 of 效益
    assert _pointers(r) == expected
    assert {"/" + "/".join(map(str, e.absolute_path)) if e.absolute_path else "/rows"
            for e in Draft202012Validator(schema).iter_errors(no_satisfaction)} >= {"/rows"}
    # without ?ruleset= the same table is stored (checked when scored)
    assert client.put(url, json=no_satisfaction).status_code == 201
    assert client.put(url, params={"ruleset": "shenzhen-yantian@2023"}, json=project_sheet()).status_code == 422
    assert client.put(url, params={"ruleset": "no-such"}, json=project_sheet()).status_code == 404
    # a free-text unit compares only with itself: what the schema cannot say, the service refuses
    other = project_sheet({"level1": "产出指标", "level2": "数量指标", "name": "培训人次", "nature": "gte",
                           "target": "2000", "unit": "人次", "actual": "2000", "actual_unit": "个"})
    r = client.put(url, params={"ruleset": "national-project"}, json=other)
    assert (r.status_code, _pointers(r)) == (422, {"/rows/0/actual_unit"})


# --------------------------------------------------------------------------- registration


def test_register_a_project_ruleset_and_assess_a_project_with_it(client):
    name = _name()
    doc = _variant(name)
    v = client.post("/v1/rulesets:validate", json={"content": doc})
    assert v.status_code == 200
    assert v.json()["valid"] is True
    assert v.json()["kind"] == "project"
    r = client.post("/v1/rulesets", json={"content": doc})
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"/v1/rulesets/{name}/2024"
    assert (r.json()["kind"], r.json()["builtin"]) == ("project", False)
    assert client.post("/v1/rulesets", json={"content": doc}).status_code == 200  # same content: no-op
    changed = client.post("/v1/rulesets", json={"content": doc.replace("title: 项目支出绩效自评表", "title: 另一版本")})
    assert changed.status_code == 409
    items = {i["name"]: i for i in client.get("/v1/rulesets").json()["items"]}
    assert (items[name]["kind"], items[name]["builtin"]) == ("project", False)
    assert client.get(f"/v1/rulesets/{name}/2024").json()["rounding"]["places"] == 0
    assert client.get(f"/v1/rulesets/{name}/2024/requirements").json()["kind"] == "project"
    assert client.get(f"/v1/rulesets/{name}/2024/submission.schema.json").status_code == 200
    # the even table in whole points with the national weights: 产出 25/25: 23.125 → 23, 25; 效益 15/15:
    # 12.93 → 13, 15; 满意度 10: 9.44 → 9; execution 9.8 → 10: 95 (95.3 at two places)
    sheet = table(EVEN_ROWS, EVEN_FUNDS)
    assert client.post(f"/v1/rulesets/{name}/2024:score", json=sheet).json()["total"] == "95"
    unit = create_unit(client)
    project = create_project(client, unit["id"])
    url = f"/v1/units/{unit['id']}/projects/{project['id']}/submissions/2023"
    assert client.put(url, params={"ruleset": f"{name}@2024"}, json=sheet).status_code == 201
    a = client.post("/v1/assessments", json={"unit_id": unit["id"], "project_id": project["id"], "fiscal_year": 2023,
                                             "ruleset": name, "kind": "self", "evaluator": "本单位"})
    assert a.status_code == 201, a.text
    assert (a.json()["total"], a.json()["ruleset"]["ref"]) == ("95", f"{name}@2024")
    csv_report = client.get(f"/v1/assessments/{a.json()['id']}/report.csv")
    assert csv_report.status_code == 200
    assert csv_report.content.decode("utf-8-sig").splitlines()[-1].split(",")[10] == "95"
    assert client.get(f"/v1/assessments/{a.json()['id']}/report.html").status_code == 200
    # the diff of two project rulesets: their terms; a 部门整体 ruleset against a project one is 422
    d = client.get(f"/v1/rulesets/{name}/2024/diff", params={"against": "national-project@2020"})
    assert d.status_code == 200, d.text
    assert {c["field"]: (c["from"], c["to"]) for c in d.json()["ruleset"]} == {
        "rounding": ("2位小数，四舍五入", "0位小数，四舍五入")}
    assert d.json()["indicators"] == []
    for path, against in ((f"/v1/rulesets/{name}/2024/diff", "shenzhen-yantian@2023"),
                          ("/v1/rulesets/shenzhen-yantian/2023/diff", "national-project@2020")):
        d = client.get(path, params={"against": against})
        assert d.status_code == 422
        assert "one kind" in d.json()["detail"]


def test_the_diff_of_the_two_built_in_project_rulesets(client):
    d = client.get("/v1/rulesets/local-project/2023/diff", params={"against": "national-project@2020"})
    assert d.status_code == 200, d.text
    body = d.json()
    fields = {c["field"]: (c["from"], c["to"]) for c in body["ruleset"]}
    assert fields["rounding"] == ("2位小数，四舍五入", "0位小数，四舍五入")
    assert fields["deviation_reason"] == ("required", "warn")
    assert "natures" not in fields
    assert "bands" not in fields
    changed = {e["code"]: e for e in body["indicators"]}
    # 产出 50 → 40; 满意度 10 → 20 and no longer moved to 产出 and 效益; the execution rate's 评分标准 adds 取整
    assert set(changed) == {"0", "1", "3"}
    assert [t["field"] for t in changed["0"]["texts"]] == ["criteria"]
    assert changed["0"]["points"] is None
    assert changed["1"]["points"] == {"from": "50", "to": "40"}
    assert changed["3"]["points"] == {"from": "10", "to": "20"}
    assert changed["3"]["rule"] == [{"path": "when_empty", "from": "分值按权重调增至1、2", "to": "不予受理（须至少一行）"}]
    assert body["summary"]["points_changed"] == 2
    assert "产出指标" in body["text"]
    assert "分值：50 → 40" in body["text"]
    assert client.get("/v1/rulesets/local-project/2023/diff", params={"against": "no-such"}).status_code == 404


def test_register_a_project_ruleset_sent_as_a_json_document(client):
    import yaml

    name = _name()
    document = yaml.safe_load(_variant(name, places=2))
    r = client.post("/v1/rulesets", json={"document": document})
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "project"
    assert client.post(f"/v1/rulesets/{name}/2024:score", json=table(EVEN_ROWS, EVEN_FUNDS)).json()["total"] == "95.3"


def test_registration_conflicts_and_refusals(client):
    # a built-in version
    assert client.post("/v1/rulesets", json={"content": NATIONAL_TEXT}).status_code == 409
    # a name of the other kind, both ways
    r = client.post("/v1/rulesets", json={"content": _variant("shenzhen-yantian")})
    assert r.status_code == 409
    assert _pointers(r) == {"/name"}
    r = client.post("/v1/rulesets", json={"content": _custom(name="national-project")})
    assert r.status_code == 409
    unit_name = _name()
    assert client.post("/v1/rulesets", json={"content": _custom(name=unit_name)}).status_code == 201
    assert client.post("/v1/rulesets", json={"content": _variant(unit_name, version="2025")}).status_code == 409
    # a project file that does not load: pointers and lines
    bad = _variant(_name()).replace("    points: 50", "    points: 55")
    v = client.post("/v1/rulesets:validate", json={"content": bad}).json()
    assert v["valid"] is False
    assert {e["pointer"] for e in v["errors"]} == {"/levels"}
    assert "add up to 105" in v["errors"][0]["message"]
    r = client.post("/v1/rulesets", json={"content": bad})
    assert r.status_code == 422
    assert _pointers(r) == {"/levels"}
    wrong = _variant(_name()).replace("row_points: either", "row_points: sometimes")
    v = client.post("/v1/rulesets:validate", json={"content": wrong}).json()
    assert v["valid"] is False
    assert v["errors"][0]["pointer"] == "/row_points"
    assert "line " in v["errors"][0]["message"]


@pytest.mark.parametrize("hostile", [
    "kind: project\n" + "a:\n" + "".join("  " * i + " b:\n" for i in range(1, 40)) + "  " * 40 + " c: 1\n",
    "kind: project\nname: &n x\nversion: *n\n",
    "kind: project\n" + "x: " + "[" * 200 + "]" * 200 + "\n",
    "kind: project\nlevels:\n" + "".join(f"  - {{code: '{i}', name: n{i}, points: 1, children: [{{code: '{i}.1', name: m}}]}}\n"
                                        for i in range(3000)),
])
def test_hostile_project_documents_are_refused_not_500(client, hostile):
    for path in ("/v1/rulesets:validate", "/v1/rulesets"):
        r = client.post(path, json={"content": hostile})
        assert r.status_code in (200, 422), r.text
        assert r.status_code == 422 or r.json()["valid"] is False


def test_a_huge_project_document_is_refused(client):
    huge = _variant(_name()) + "#" + "x" * 500_001
    r = client.post("/v1/rulesets", json={"content": huge})
    assert r.status_code == 422
    r = client.post("/v1/rulesets/national-project/2020:score",
                    json=table([base_rows()[0]] * 201))
    assert (r.status_code, _pointers(r)) == (422, {"/rows"})


def test_a_registered_project_ruleset_is_its_tenants_own(client):
    name = _name()
    assert client.post("/v1/rulesets", json={"content": _variant(name)}).status_code == 201
    _, key = make_key(f"tenant-{uuid.uuid4().hex[:6]}", ["read", "submit", "assess", "admin"])
    b = {"Authorization": f"Bearer {key}"}
    assert name not in {i["name"] for i in client.get("/v1/rulesets", headers=b).json()["items"]}
    assert client.get(f"/v1/rulesets/{name}/2024", headers=b).status_code == 404
    assert client.post(f"/v1/rulesets/{name}/2024:score", headers=b, json=table(base_rows())).status_code == 404
    from fastapi.testclient import TestClient

    from app.main import app

    other = TestClient(app, raise_server_exceptions=False, headers=b)
    unit = create_unit(other)
    project = create_project(other, unit["id"])
    assert put_project_submission(other, unit["id"], project["id"], 2023, table(base_rows())).status_code == 201
    r = other.post("/v1/assessments", json={"unit_id": unit["id"], "project_id": project["id"], "fiscal_year": 2023,
                                            "ruleset": name, "kind": "self", "evaluator": "本单位"})
    assert (r.status_code, _pointers(r)) == (404, {"/ruleset"})
    # the other tenant may register the same name for itself (names are per tenant, as for unit rulesets)
    assert client.post("/v1/rulesets", headers=b, json={"content": _variant(name, places=2)}).status_code == 201
    assert client.get(f"/v1/rulesets/{name}/2024", headers=b).json()["rounding"]["places"] == 2
    assert client.get(f"/v1/rulesets/{name}/2024").json()["rounding"]["places"] == 0
