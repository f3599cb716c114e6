"""Issue 13 ("Trust"), findings 3-6: bounded input, refused with a 422 problem naming the field,
nothing stored; rulesets sent over the API are data, not a weapon. Each test is named after the
finding it reproduces (each answered 500, 200 or a silently altered value before)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from app.db.models import Assessment, RulesetVersion, Submission, Unit
from tests.api.factories import assess, create_unit, put_submission, seed
from tests.api.test_rulesets import _custom
from tests.conftest import make_key

PROBLEM = "application/problem+json"


def _counts(db_engine: Any) -> dict[str, int]:
    with db_engine.connect() as conn:
        return {m.__tablename__: conn.scalar(select(func.count()).select_from(m))
                for m in (Unit, Submission, Assessment, RulesetVersion)}


def _pointers(r: Any) -> dict[str, str]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    return {e.get("pointer") or e.get("parameter"): e["message"] for e in r.json()["errors"]}


def _put_raw(client: Any, unit_id: str, body: bytes, year: int = 2023) -> Any:
    return client.put(f"/v1/units/{unit_id}/submissions/{year}", content=body,
                      headers={"Content-Type": "application/json"})


def _facts(client: Any, db_engine: Any, facts: dict[str, Any]) -> tuple[Any, dict[str, int]]:
    unit = create_unit(client)
    r = put_submission(client, unit["id"], 2023, {"facts": facts})
    return r, _counts(db_engine)


# --------------------------------------------------------------------------- finding 3: 500s from input


def test_finding3_count_1e25_is_422(client, db_engine) -> None:  # type: ignore[no-untyped-def]
    r, counts = _facts(client, db_engine, {"staff_authorized": "1e25"})
    assert "at most 999999999" in _pointers(r)["/facts/staff_authorized"]
    assert counts["submissions"] == 0


def test_finding3_count_2_pow_64_is_422(client, db_engine) -> None:  # type: ignore[no-untyped-def]
    unit = create_unit(client)
    for number in (b"18446744073709551616", b"18446744073709551615", b"1e25"):  # JSON numbers, not strings
        r = _put_raw(client, unit["id"], b'{"facts": {"staff_authorized": ' + number + b"}}")
        assert "/facts/staff_authorized" in _pointers(r), number
    assert _counts(db_engine)["submissions"] == 0


def test_finding3_answers_nested_260_deep_is_422(client, db_engine) -> None:  # type: ignore[no-untyped-def]
    unit = create_unit(client)
    deep = b"[" * 260 + b"]" * 260
    r = _put_raw(client, unit["id"], b'{"answers": {"3.3.1": {"reason": ' + deep + b"}}}")
    assert "deeper than 16" in " ".join(_pointers(r).values())
    # a small nesting breaks the answer's shape instead, named where it is
    r = _put_raw(client, unit["id"], b'{"answers": {"3.3.1": {"reason": [[["x"]]]}}}')
    assert "/answers/3.3.1/reason" in _pointers(r)
    r = client.post("/v1/assessments", content=b'{"answers": {"3.3.1": ' + deep + b"}}",
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert _counts(db_engine)["submissions"] == 0


def _batch_item(code: str, facts: dict[str, Any]) -> dict[str, Any]:
    data = seed("001")
    return {"unit": {"code": code, "name": "单位" + code, "kind": "school", "region": "广东省深圳市盐田区"},
            "fiscal_year": data["fiscal_year"], "facts": {**data["facts"], **facts}, "answers": data["answers"],
            "overrides": data.get("overrides", {}), "ruleset": "shenzhen-yantian@2023", "kind": "self",
            "evaluator": "本单位"}


def test_finding3_batch_item_with_count_1e30_fails_alone(client, db_engine) -> None:  # type: ignore[no-untyped-def]
    items = [_batch_item("B1", {}), _batch_item("B2", {"staff_authorized": 10 ** 30}),
             _batch_item("B3", {"staff_authorized": "1e25"}),
             {**_batch_item("B4", {}), "answers": {"3.3.1": {"score": 18446744073709551616, "reason": "x"}}}]
    r = client.post("/v1/assessments:batch", content=_dumps_bigint({"items": items}),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["succeeded"], body["failed"]) == (1, 3)
    assert [i["status"] for i in body["items"]] == [201, 422, 422, 422]
    assert body["items"][1]["problem"]["errors"][0]["pointer"] == "/items/1/facts/staff_authorized"
    assert body["items"][2]["problem"]["errors"][0]["pointer"] == "/items/2/facts/staff_authorized"
    assert body["items"][3]["problem"]["errors"][0]["pointer"] == "/items/3/answers/3.3.1/score"
    assert _counts(db_engine) | {"rulesets": 0} == {"units": 1, "submissions": 1, "assessments": 1, "rulesets": 0}


def _dumps_bigint(doc: Any) -> bytes:
    """JSON with integers beyond 64 bits (orjson refuses to write them)."""
    import json

    return json.dumps(doc, ensure_ascii=False).encode()


def test_finding3_validate_alias_is_422(client) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/rulesets:validate", json={"content": "a: &a [*a]\n"})
    assert "anchors and aliases" in _pointers(r)["/content"]


def test_finding3_validate_900_deep_is_422(client) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/rulesets:validate", json={"content": "[" * 900 + "]" * 900})
    assert "deeper than 32" in _pointers(r)["/content"]
    r = client.post("/v1/rulesets:validate", json={"content": "a:\n" + "".join("  " * i + "- \n" for i in range(1, 60))})
    assert r.status_code == 422, r.text


def test_finding3_validate_formula_of_10000_minus_signs_is_422(client, db_engine) -> None:  # type: ignore[no-untyped-def]
    doc = _custom().replace("formula: procurement_actual / procurement_planned",
                            "formula: " + "-" * 10_000 + "procurement_actual")
    for path in ("/v1/rulesets:validate", "/v1/rulesets"):
        r = client.post(path, json={"content": doc})
        assert "at most 1000 characters" in _pointers(r)["/content"], path
    deep = _custom().replace("formula: procurement_actual / procurement_planned",
                             "formula: " + "-" * 500 + "procurement_actual")
    r = client.post("/v1/rulesets:validate", json={"content": deep})
    assert "32 levels" in _pointers(r)["/content"]
    assert _counts(db_engine)["rulesets"] == 0


def test_finding3_registered_formula_1e999999999_is_refused(client, db_engine) -> None:  # type: ignore[no-untyped-def]
    doc = _custom().replace("formula: procurement_actual / procurement_planned",
                            "formula: 1e999999999 * procurement_actual / procurement_planned")
    r = client.post("/v1/rulesets", json={"content": doc})
    found = _pointers(r)
    assert "out of range" in found["/indicators/0/children/0/rule/formula"]
    v = client.post("/v1/rulesets:validate", json={"content": doc})
    assert v.status_code == 200
    assert v.json()["valid"] is False
    # numbers elsewhere in the document are bounded as well
    r = client.post("/v1/rulesets:validate", json={"content": _custom().replace("total_points: 100", "total_points: 1.0e+999999999")})
    assert r.status_code == 200
    assert "out of range" in r.json()["errors"][0]["message"]
    assert _counts(db_engine)["rulesets"] == 0


def test_finding3_scoring_outside_the_decimal_context_is_an_indicator_problem(client) -> None:  # type: ignore[no-untyped-def]
    # Every number is within its bounds, but points × cap (10^28) cannot be rounded to 0.01 in
    # the 28-digit Decimal context (InvalidOperation): the indicator is not computed, the rest is.
    big = "100000000000000"
    doc = f"""
name: big-district
version: "2024"
title: 测试区
region: 测试区
fiscal_years: [2024]
source: {{document: none}}
total_points: {big}
rounding: {{places: 2, mode: half_up}}
bounds: {{min: 0, max: {big}}}
grades: [{{grade: 差, min: 0}}]
indicators:
  - code: "1"
    name: 部门管理
    points: {big}
    children:
      - code: "1.1"
        name: 政府采购执行率
        points: 99999999999960
        rule: {{kind: rate, name: 比率, formula: procurement_actual / procurement_planned * {big}, cap: {big}}}
      - code: "1.2"
        name: 综合评价
        points: 40
        rule: {{kind: judgment}}
"""
    reg = client.post("/v1/rulesets", json={"content": doc})
    assert reg.status_code == 201, reg.text
    unit = create_unit(client)
    assert put_submission(client, unit["id"], 2024, {"facts": {"procurement_planned": "1", "procurement_actual": "1"},
                                                     "answers": {"1.2": {"score": "40", "reason": "x"}}}).status_code == 201
    r = assess(client, unit["id"], 2024, "big-district@2024")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "incomplete"
    assert any(w["code"] == "not_computable" and "1.1" in w["message"] for w in body["warnings"])
    leaf = body["indicators"][0]["children"][0]
    assert leaf["score"] is None
    assert leaf["status"] == "judgment_pending"


# --------------------------------------------------------------------------- finding 4: denial of service with a read key


def test_finding4_validate_needs_the_admin_scope(db_engine) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from app.main import app

    _, read = make_key("tenant-a", ["read"])
    with TestClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {read}"}) as c:
        r = c.post("/v1/rulesets:validate", json={"content": _custom()})
    assert r.status_code == 403, r.text


def test_finding4_alias_bomb_is_refused_before_it_expands(client) -> None:  # type: ignore[no-untyped-def]
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcde", "bcdef", strict=True))
    assert len(bomb) < 400
    r = client.post("/v1/rulesets:validate", json={"content": bomb})
    assert "anchors and aliases" in _pointers(r)["/content"]


# --------------------------------------------------------------------------- finding 5: amplification


def test_finding5_amount_1e_minus_30000000_is_422(client, db_engine) -> None:  # type: ignore[no-untyped-def]
    r, counts = _facts(client, db_engine, {"procurement_actual": "1e-30000000"})
    assert "more than 6 decimal places" in _pointers(r)["/facts/procurement_actual"]
    unit = create_unit(client)
    r = _put_raw(client, unit["id"], b'{"facts": {"procurement_actual": 1e-30000000}}')  # a JSON number
    assert "more than 6 decimal places" in _pointers(r)["/facts/procurement_actual"]
    assert len(r.content) < 2000
    assert _counts(db_engine)["submissions"] == counts["submissions"] == 0


# --------------------------------------------------------------------------- finding 6: values changed without a word


def test_finding6_decimal_comma_318_98_is_refused_not_read_as_31898(client, db_engine) -> None:  # type: ignore[no-untyped-def]
    data = seed("001")
    unit = create_unit(client)
    r = put_submission(client, unit["id"], data["fiscal_year"],
                       {**data, "facts": {**data["facts"], "procurement_actual": "318,98"}})
    message = _pointers(r)["/facts/procurement_actual"]
    assert "thousands separator" in message
    assert "318.98" in message
    assert _counts(db_engine)["submissions"] == 0


def test_finding6_misgrouped_thousands_1_2_3_is_refused(client, db_engine) -> None:  # type: ignore[no-untyped-def]
    for bad in ("1,2,3", "12,12.5", "1,0000", ",100", "100,"):
        r, counts = _facts(client, db_engine, {"procurement_planned": bad})
        assert "thousands separator" in _pointers(r)["/facts/procurement_planned"], bad
        assert counts["submissions"] == 0
    r, counts = _facts(client, db_engine, {"procurement_planned": "12,128.9", "procurement_actual": "1,234,567"})
    assert r.status_code == 201, r.text
    assert r.json()["facts"] == {"procurement_planned": "12128.9", "procurement_actual": "1234567"}


def test_finding6_minus_zero_is_stored_as_zero(client) -> None:  # type: ignore[no-untyped-def]
    unit = create_unit(client)
    r = _put_raw(client, unit["id"], b'{"facts": {"procurement_planned": "-0", "procurement_actual": -0.0, '
                                     b'"staff_authorized": -0, "satisfaction_rate": "-0%"}}')
    assert r.status_code == 201, r.text
    assert r.json()["facts"] == {"procurement_planned": "0", "procurement_actual": "0", "staff_authorized": 0,
                                 "satisfaction_rate": "0%"}


@pytest.mark.parametrize("route", ["units", "submission", "assessment", "batch"])
def test_finding6_duplicate_json_keys_are_422_naming_the_key(client, db_engine, route) -> None:  # type: ignore[no-untyped-def]
    unit = create_unit(client)
    if route == "units":
        r = client.post("/v1/units", content='{"code": "D1", "name": "甲", "name": "乙", "kind": "school", "region": "区"}'.encode(),
                        headers={"Content-Type": "application/json"})
        pointer = "/name"
    elif route == "submission":
        r = _put_raw(client, unit["id"], b'{"facts": {"procurement_actual": "318.98", "procurement_actual": "31898"}}')
        pointer = "/facts/procurement_actual"
    elif route == "assessment":
        r = client.post("/v1/assessments", headers={"Content-Type": "application/json"}, content=(
            '{"unit_id": "' + unit["id"] + '", "fiscal_year": 2023, "ruleset": "shenzhen-yantian", "kind": "self", '
            '"kind": "third_party", "evaluator": "e"}').encode())
        pointer = "/kind"
    else:
        item = orjson.dumps(_batch_item("D2", {}))
        r = client.post("/v1/assessments:batch", headers={"Content-Type": "application/json"},
                        content=b'{"items": [' + item + b", " + item[:-1] + b', "strict": true, "strict": false}]}')
        pointer = "/items/1/strict"
    message = _pointers(r)[pointer]
    assert "appears more than once" in message
    assert _counts(db_engine) == {"units": 1, "submissions": 0, "assessments": 0, "rulesets": 0}


def test_a_colon_inside_a_string_is_not_a_duplicate_key(client) -> None:  # type: ignore[no-untyped-def]
    unit = create_unit(client)
    r = _put_raw(client, unit["id"], '{"answers": {"3.3.1": {"score": "20", "reason": "时间: 10:30 \\u003a"}}}'.encode())
    assert r.status_code == 201, r.text
    assert r.json()["answers"] == {"3.3.1": {"score": "20", "reason": "时间: 10:30 :"}}


def test_finding6_answer_score_2_pow_64_is_refused_not_rounded(client, db_engine) -> None:  # type: ignore[no-untyped-def]
    unit = create_unit(client)
    r = _put_raw(client, unit["id"], b'{"answers": {"3.3.1": {"score": 18446744073709551616, "reason": "x"}}}')
    assert "less than or equal to 1000" in _pointers(r)["/answers/3.3.1/score"]
    r = _put_raw(client, unit["id"], b'{"answers": {"3.3.1": 18446744073709551616}}')
    assert "/answers/3.3.1/score" in _pointers(r)
    assert _counts(db_engine)["submissions"] == 0
    # numbers that orjson would round come through exactly: kept as sent, or refused
    r = _put_raw(client, unit["id"], b'{"facts": {"procurement_actual": 318.98000000000000000001}}')
    assert "more than 6 decimal places" in _pointers(r)["/facts/procurement_actual"]
    r = _put_raw(client, unit["id"], b'{"answers": {"3.3.1": {"score": 21.50, "reason": "x"}}, '
                                     b'"facts": {"procurement_actual": 318.980}}')
    assert r.status_code == 201, r.text
    assert r.json()["answers"] == {"3.3.1": {"score": "21.5", "reason": "x"}}  # the value sent, as text
    assert r.json()["facts"] == {"procurement_actual": "318.98"}


def test_finding6_ten_million_digit_amount_is_422(client, db_engine) -> None:  # type: ignore[no-untyped-def]
    r, counts = _facts(client, db_engine, {"procurement_actual": "1" + "0" * 10_000_000})
    assert "at most 40" in _pointers(r)["/facts/procurement_actual"]
    unit = create_unit(client)
    r = _put_raw(client, unit["id"], b'{"facts": {"procurement_actual": 1' + b"0" * 10_000 + b"}}")
    assert r.status_code == 422, r.text[:500]
    assert counts["submissions"] == _counts(db_engine)["submissions"] == 0


def test_finding6_ten_mb_reason_is_422(client, db_engine) -> None:  # type: ignore[no-untyped-def]
    unit = create_unit(client)
    reason = "扣" * (10 * 1024 * 1024 // 3)
    r = put_submission(client, unit["id"], 2023, {"answers": {"3.3.1": {"score": "20", "reason": reason}}})
    assert "at most 2000 characters" in _pointers(r)["/answers/3.3.1/reason"]
    r = put_submission(client, unit["id"], 2023, {"overrides": {"2.1.1": {"score": "1", "reason": reason}}})
    assert "/overrides/2.1.1/reason" in _pointers(r)
    r = put_submission(client, unit["id"], 2023, {"answers": {"2.4.1": {"findings": ["x"] * 201}}})
    assert "/answers/2.4.1/findings" in _pointers(r)
    r = put_submission(client, unit["id"], 2023, {"answers": {"x" * 65: True}})
    assert r.status_code == 422
    assert _counts(db_engine)["submissions"] == 0


@pytest.mark.parametrize("query", ["until=0.5", "since=1700000000", "limit=1.0", "status=200.0"])
def test_finding6_audit_log_query_parameters_are_strict(client, query) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"/v1/audit-log?{query}")
    assert r.status_code == 422, r.text
    assert query.split("=")[0] in _pointers(r)
    assert client.get("/v1/audit-log?until=2099-01-01T00:00:00%2B08:00&since=2000-01-01").status_code == 200


@pytest.mark.parametrize("path", ["/v1/assessments?fiscal_year=2023.0", "/v1/assessments?limit=5.0",
                                  "/v1/cohorts?ruleset=shenzhen&fiscal_year=2023.0",
                                  "/v1/units/00000000-0000-0000-0000-000000000000/submissions/2023.0"])
def test_finding6_integer_parameters_are_strict(client, path) -> None:  # type: ignore[no-untyped-def]
    assert client.get(path).status_code == 422


def test_numbers_in_an_assessments_own_answers_are_stored_exactly(client) -> None:  # type: ignore[no-untyped-def]
    # the evaluator's own answers, sent as JSON numbers, are read exactly and stored as their text
    data = seed("001")
    unit = create_unit(client)
    assert put_submission(client, unit["id"], data["fiscal_year"], data).status_code == 201
    answers = {**data["answers"], "3.3.1": {"score": "SCORE", "reason": "x"}}
    body = orjson.dumps({"unit_id": unit["id"], "fiscal_year": 2023, "ruleset": "shenzhen-yantian",
                         "kind": "third_party", "evaluator": "firm", "answers": answers}).replace(b'"SCORE"', b"21.50")
    r = client.post("/v1/assessments", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    inputs = client.get(f"/v1/assessments/{r.json()['id']}/inputs").json()
    assert inputs["answers"]["3.3.1"] == {"score": "21.5", "reason": "x"}
