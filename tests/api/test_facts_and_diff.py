"""GET /v1/facts (each fact's 口径, sources and readers) and GET /v1/rulesets/{name}/{version}/diff."""

from __future__ import annotations

from tests.api.test_rulesets import _custom


def test_every_fact_explains_itself(client):
    r = client.get("/v1/facts")
    assert r.status_code == 200
    items = {f["key"]: f for f in r.json()["items"]}
    assert len(items) >= 55
    for key, f in items.items():
        assert f["description"], key
        assert f["taken_from"], key
        assert f["json_type"], key
        assert f["example"] is not None, key
        assert any(s["quote"] and s["line"] for s in f["sources"]), key
    p = items["procurement_actual"]
    assert p["json_type"] == ["string", "number"]
    assert p["example"] == "318.98"
    assert {"document": "001_b4d05a7bd3cc8c65.txt", "line": 229, "url": None} .items() <= p["sources"][0].items()
    assert "决算报表" in p["taken_from"]
    assert items["satisfaction_rate"]["json_type"] == ["string"]
    assert items["staff_authorized"]["example"] == 226
    assert "人事编制" in items["staff_authorized"]["taken_from"]
    assert items["financial_violation"]["json_type"] == ["boolean"]


def test_which_rulesets_and_indicators_read_each_fact(client):
    items = {f["key"]: f for f in client.get("/v1/facts").json()["items"]}
    readers = {r["ruleset"]: r["indicators"] for r in items["procurement_actual"]["read_by"]}
    assert set(readers) == {"huizhou-huidong@2023", "shenzhen@2021", "shenzhen-yantian@2023", "yiyang-ziyang@2023"}
    assert readers["shenzhen-yantian@2023"] == [{"code": "2.1.1", "name": "政府采购执行情况"}]
    assert readers["yiyang-ziyang@2023"] == [{"code": "2.1.7", "name": "政府采购执行率"}]
    adjusted = {r["ruleset"]: [i["code"] for i in r["indicators"]] for r in items["budget_adjusted"]["read_by"]}
    assert adjusted == {"shenzhen@2021": ["2.1.2"], "yiyang-ziyang@2023": ["2.1.1", "2.1.4"]}
    # 资阳's 指标说明 compares budgets, its formula and scores compare 决算数: nothing reads this one
    assert items["three_public_budget_prev"]["read_by"] == []

    assert client.post("/v1/rulesets", json={"content": _custom()}).status_code == 201
    items = {f["key"]: f for f in client.get("/v1/facts").json()["items"]}
    readers = {r["ruleset"]: r["indicators"] for r in items["procurement_actual"]["read_by"]}
    assert readers["test-district@2024"] == [{"code": "1.1", "name": "政府采购执行率"}]


def test_diff_of_the_two_shenzhen_rulesets(client):
    r = client.get("/v1/rulesets/shenzhen-yantian/2023/diff", params={"against": "shenzhen@2021"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["from"]["ref"] == "shenzhen@2021"
    assert doc["to"]["ref"] == "shenzhen-yantian@2023"
    assert doc["summary"]["renamed"] == 2
    assert doc["summary"]["rules_changed"] == 4
    by_code = {e["code"]: e for e in doc["indicators"]}
    assert by_code["1.2.1"]["points"] == {"from": "3", "to": "5"}
    assert {"path": "kind", "from": "judgment", "to": "deduction"} in by_code["1.1.2"]["rule"]
    assert by_code["2.2.2"]["from_name"] == "项目监管"
    assert "~ 1.2.2 绩效指标明确性\n    分值：7 → 5" in doc["text"]
    # the other way round: the same changes reversed
    back = client.get("/v1/rulesets/shenzhen/2021/diff", params={"against": "shenzhen-yantian@2023"}).json()
    assert {e["code"]: e["points"] for e in back["indicators"] if e["points"]} == {
        "1.2.1": {"from": "5", "to": "3"}, "1.2.2": {"from": "5", "to": "7"}}
    # a name alone is its latest version
    latest = client.get("/v1/rulesets/shenzhen-yantian/2023/diff", params={"against": "shenzhen"}).json()
    assert latest["from"]["ref"] == "shenzhen@2021"


def test_diff_of_a_registered_version_against_a_builtin(client):
    assert client.post("/v1/rulesets", json={"content": _custom()}).status_code == 201
    doc = client.get("/v1/rulesets/test-district/2024/diff", params={"against": "shenzhen-yantian@2023"}).json()
    assert doc["to"]["ref"] == "test-district@2024"
    assert doc["summary"]["removed"] > 0
    same = client.get("/v1/rulesets/test-district/2024/diff", params={"against": "test-district@2024"}).json()
    assert same["identical"] is True


def test_diff_refusals_name_the_parameter(client):
    r = client.get("/v1/rulesets/shenzhen-yantian/2023/diff", params={"against": "nowhere@1"})
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["parameter"] == "against"
    assert "shenzhen@2021" in r.json()["available"]
    r = client.get("/v1/rulesets/shenzhen-yantian/2023/diff", params={"against": "Not A Ref"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["parameter"] == "against"
    assert client.get("/v1/rulesets/shenzhen-yantian/2023/diff").status_code == 422
    assert client.get("/v1/rulesets/shenzhen/1999/diff", params={"against": "shenzhen@2021"}).status_code == 404
