from __future__ import annotations

from pathlib import Path

from tests.api.factories import assess, create_unit, put_submission

ROOT = Path(__file__).resolve().parents[2]


def test_list_rulesets_has_the_four_seeds(client):
    r = client.get("/v1/rulesets")
    assert r.status_code == 200
    names = {i["name"]: i for i in r.json()["items"]}
    assert {"shenzhen-yantian", "shenzhen", "huizhou-huidong", "yiyang-ziyang"} <= set(names)
    assert names["shenzhen"]["versions"] == ["2021"]
    assert names["shenzhen"]["fiscal_years"] == [2021]


def test_get_ruleset_tree_with_points_and_criteria(client):
    r = client.get("/v1/rulesets/shenzhen-yantian/2023")
    assert r.status_code == 200
    body = r.json()
    assert body["total_points"] == "100"
    assert body["rounding"] == {"places": 2, "mode": "down"}
    assert [i["points"] for i in body["indicators"]] == ["20", "20", "60"]
    assert r.headers["etag"] == f'"{body["content_hash"]}"'
    leaves = []

    def walk(n):
        if n["children"]:
            for c in n["children"]:
                walk(c)
        else:
            leaves.append(n)

    for n in body["indicators"]:
        walk(n)
    assert len(leaves) == 21
    assert all(leaf["rule"] for leaf in leaves)
    assert any("政府采购执行率" in (leaf["criteria"] or "") for leaf in leaves)


def test_unknown_ruleset_version_is_404_naming_the_available(client):
    r = client.get("/v1/rulesets/shenzhen/1999")
    assert r.status_code == 404
    assert "shenzhen@2021" in r.json()["detail"]


def _custom(name: str = "test-district", version: str = "2024", points: str = "100") -> str:
    return f"""
name: {name}
version: "{version}"
title: 测试区部门整体支出绩效评价
region: 测试区
fiscal_years: [2024]
source: {{document: none}}
total_points: 100
rounding: {{places: 2, mode: half_up}}
bounds: {{min: 0, max: 100}}
grades: [{{grade: 优, min: 90}}, {{grade: 良, min: 80}}, {{grade: 中, min: 60}}, {{grade: 差, min: 0}}]
indicators:
  - code: "1"
    name: 部门管理
    points: {points}
    children:
      - code: "1.1"
        name: 政府采购执行率
        points: 60
        rule: {{kind: rate, name: 政府采购执行率, formula: procurement_actual / procurement_planned}}
      - code: "1.2"
        name: 综合评价
        points: 40
        rule: {{kind: judgment}}
"""


def test_validate_reports_errors_with_pointers_and_lines(client):
    ok = client.post("/v1/rulesets:validate", json={"content": _custom()})
    assert ok.status_code == 200
    assert ok.json()["valid"] is True
    assert ok.json()["ref"] == "test-district@2024"
    bad = client.post("/v1/rulesets:validate", json={"content": _custom(points="90")})
    body = bad.json()
    assert bad.status_code == 200
    assert body["valid"] is False
    assert any(e["pointer"] == "/indicators/0/children" and "line" in e["message"] for e in body["errors"])


def test_register_then_assess_with_a_custom_ruleset(client):
    r = client.post("/v1/rulesets", json={"content": _custom()})
    assert r.status_code == 201, r.text
    assert r.headers["location"] == "/v1/rulesets/test-district/2024"
    again = client.post("/v1/rulesets", json={"content": _custom()})
    assert again.status_code == 200
    changed = client.post("/v1/rulesets", json={"content": _custom() + "\n# changed\n"})
    assert changed.status_code == 409
    builtin = client.post("/v1/rulesets", json={"content": (ROOT / "rulesets/shenzhen/2021.yaml").read_text()})
    assert builtin.status_code == 409
    assert "test-district" in {i["name"] for i in client.get("/v1/rulesets").json()["items"]}

    unit = create_unit(client)
    put_submission(client, unit["id"], 2024, {"facts": {"procurement_planned": "100", "procurement_actual": "95"},
                                              "answers": {"1.2": {"score": "38", "reason": "资料不全"}}})
    a = assess(client, unit["id"], 2024, "test-district")
    assert a.status_code == 201, a.text
    assert a.json()["total"] == "95"
    assert a.json()["ruleset"]["ref"] == "test-district@2024"


def test_invalid_registration_is_422_with_pointers(client):
    r = client.post("/v1/rulesets", json={"content": _custom(points="90")})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["pointer"].startswith("/indicators")


def test_fact_vocabulary(client):
    items = {f["key"]: f for f in client.get("/v1/facts").json()["items"]}
    assert items["procurement_actual"]["unit"] == "wan_yuan"
    assert items["procurement_actual"]["unit_label"] == "万元"
    assert items["satisfaction_rate"]["unit"] == "percent"


def _with_case(expected_total: str) -> str:
    return _custom() + f"""\
cases:
  - name: 95% 采购执行率
    facts: {{procurement_planned: 100, procurement_actual: 95}}
    answers: {{"1.2": {{score: 38, reason: 资料不全}}}}
    expect: {{total: {expected_total}, grade: 优, status: complete, indicators: {{"1.1": 57}}}}
"""


def test_validate_runs_the_rulesets_own_cases(client):
    ok = client.post("/v1/rulesets:validate", json={"content": _with_case("95")})
    assert ok.status_code == 200
    assert ok.json()["valid"] is True
    bad = client.post("/v1/rulesets:validate", json={"content": _with_case("96")})
    assert bad.status_code == 200
    body = bad.json()
    assert body["valid"] is False
    line = _with_case("96").splitlines().index('    expect: {total: 96, grade: 优, status: complete, indicators: {"1.1": 57}}') + 1
    assert body["errors"] == [{"pointer": "/cases/0/expect/total",
                               "message": f"line {line}, /cases/0/expect/total: case '95% 采购执行率': expected total 96, scored 95"}]


def test_registration_refuses_a_ruleset_whose_cases_fail(client):
    r = client.post("/v1/rulesets", json={"content": _with_case("96")})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert [e["pointer"] for e in r.json()["errors"]] == ["/cases/0/expect/total"]
    assert "test-district" not in {i["name"] for i in client.get("/v1/rulesets").json()["items"]}  # nothing stored
    ok = client.post("/v1/rulesets", json={"content": _with_case("95")})
    assert ok.status_code == 201, ok.text


def _example_document(name: str) -> dict:
    import yaml

    from app.engine.fileformat import EXAMPLE

    doc = yaml.safe_load(EXAMPLE)  # JSON numbers on the wire (0.5 arrives as an exact Decimal)
    doc["name"] = name
    return doc


def test_register_a_ruleset_sent_as_a_json_document(client):
    from app.engine.ruleset import content_hash
    from app.rulesets.schemas import json_text

    doc = _example_document("json-district")
    r = client.post("/v1/rulesets", json={"document": doc})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["ref"] == "json-district@2024"
    assert body["total_points"] == "30"
    quarterly = next(c for c in body["indicators"][0]["children"] if c["code"] == "1.4")
    assert quarterly["rule"] == "quarterly"
    # Stored as its JSON text: the same document again is the same content.
    import json
    from decimal import Decimal

    exact = json.loads(json.dumps(doc), parse_float=Decimal)
    assert body["content_hash"] == content_hash(json_text(exact))
    assert client.post("/v1/rulesets", json={"document": doc}).status_code == 200
    assert client.get("/v1/rulesets/json-district/2024").json()["content_hash"] == body["content_hash"]


def test_validate_a_json_document_points_into_it(client):
    doc = _example_document("json-check")
    doc["total_points"] = 99
    doc["indicators"][0]["children"][0]["rule"]["weight"] = 1
    r = client.post("/v1/rulesets:validate", json={"document": doc})
    assert r.status_code == 200
    errors = {e["pointer"]: e["message"] for e in r.json()["errors"]}
    assert "unknown key 'weight'" in errors["/indicators/0/children/0/rule/weight"]
    assert errors["/indicators/0/children/0/rule/weight"].startswith("line ")
    del doc["indicators"][0]["children"][0]["rule"]["weight"]
    r = client.post("/v1/rulesets:validate", json={"document": doc})
    assert [(e["pointer"], "total_points is 99" in e["message"]) for e in r.json()["errors"]] == [("/indicators", True)]
    doc["total_points"] = 30
    assert client.post("/v1/rulesets:validate", json={"document": doc}).json()["valid"] is True


def test_a_ruleset_is_sent_one_way_only(client):
    both = client.post("/v1/rulesets:validate", json={"content": _custom(), "document": _example_document("both-ways")})
    assert both.status_code == 422
    assert "either as YAML text (content) or as a JSON object (document)" in both.text
    assert client.post("/v1/rulesets:validate", json={}).status_code == 422
    assert client.post("/v1/rulesets:validate", json={"document": "name: x"}).status_code == 422
