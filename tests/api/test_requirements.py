"""The ruleset as a contract: its requirements, the JSON Schema of a submission, the answers checked
by PUT ?ruleset=, and the dry run (POST /v1/rulesets/{name}/{version}:score)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import text

from app.engine import builtin_registry
from app.rulesets.schemas import RulesetRequirements
from tests.api.factories import SEED_RULESETS, SEED_TOTALS, create_unit, seed
from tests.conftest import make_key

REFS = [rs.ref for rs in builtin_registry().all()]


def _path(ref: str) -> str:
    name, version = ref.split("@")
    return f"/v1/rulesets/{name}/{version}"


# --------------------------------------------------------------------------- a form-filler


def _value(fact: dict[str, Any]) -> Any:
    """A value for a fact, from what the requirements say of it only: its unit, JSON types and
    bounds (amounts and counts well inside them, percentages at 100%, yes/no as no)."""
    types = fact["json_type"]
    if types == ["boolean"]:
        return False
    if fact["unit"] == "percent":
        value = "100%"
        assert re.search(fact["pattern"], value)
        return value
    if "integer" in types:
        return min(10, int(fact["maximum"]))
    value = "100"
    assert re.search(fact["pattern"], value)
    return value


def _answer(entry: dict[str, Any]) -> Any:
    """An answer for an address, from its entry only: full marks where that is allowed, else the
    highest score it may get, with a reason whenever points are lost."""
    kind = entry["kind"]
    if kind == "item":
        assert "boolean" in entry["forms"]
        return True
    if kind == "findings":
        return {"findings": []}
    if kind == "judgment":
        points = Decimal(entry["points"])
        top = min([points, *(Decimal(c["maximum"]) for c in entry["caps"])])
        if top == points:
            return {"score": entry["points"]}
        assert entry["reason"] == "required_when_points_lost"
        return {"score": format(top, "f"), "reason": "表单填写：该档由评价人视情评分"}
    return None  # not applicable, events: optional


def fill(requirements: dict[str, Any]) -> dict[str, Any]:
    facts = {f["key"]: _value(f) for f in requirements["facts"]}
    answers = {}
    for entry in requirements["answers"]:
        if entry["needed"] == "optional":
            continue
        value = _answer(entry)
        if value is not None:
            answers[entry["address"]] = value
    return {"facts": facts, "answers": answers, "overrides": {}}


@pytest.mark.parametrize("ref", REFS)
def test_a_form_filler_using_only_the_requirements_scores_complete(client, ref):
    r = client.get(f"{_path(ref)}/requirements")
    assert r.status_code == 200, r.text
    requirements = r.json()
    submission = fill(requirements)
    dry = client.post(f"{_path(ref)}:score", json=submission)
    assert dry.status_code == 200, dry.text
    result = dry.json()
    assert result["status"] == "complete", (result["missing_facts"], result["missing_answers"])
    assert result["missing_facts"] == []
    assert result["missing_answers"] == []
    assert result["grade"] is not None
    # the checked PUT takes it too
    unit = create_unit(client)
    put = client.put(f"/v1/units/{unit['id']}/submissions/{requirements['fiscal_years'][0]}",
                     params={"ruleset": ref}, json=submission)
    assert put.status_code == 201, put.text


@pytest.mark.parametrize("ref", REFS)
def test_requirements_list_every_fact_and_answer_the_ruleset_reads(client, ref):
    rs = builtin_registry().get(ref)
    assert rs is not None
    r = client.get(f"{_path(ref)}/requirements")
    assert r.status_code == 200
    body = RulesetRequirements.model_validate(r.json()).model_dump()
    assert {f["key"] for f in body["facts"]} == rs.facts_used()
    assert {a["address"] for a in body["answers"]} == set(rs.answer_shapes)
    for f in body["facts"]:
        assert f["read_by"], f
        assert f["required"] == bool(f["required_by"])
        assert f["name"]
        assert f["unit_label"]
    for a in body["answers"]:
        leaf = rs.by_code.get(a["indicator_code"])
        assert leaf is not None or any(adj.code == a["address"] for adj in rs.adjustments)
        assert a["kind"] in {"judgment", "item", "findings", "events", "not_applicable"}
        if a["kind"] == "item":
            assert a["item"]["key"] == a["address"].rsplit("/", 1)[1]
    computed = {c["code"] for c in body["computed"]}
    answered = {a["indicator_code"] for a in body["answers"] if a["needed"] in ("always", "unless_zero_if")}
    assert computed
    assert not computed & answered
    # ETag and If-None-Match, like the other ruleset GETs
    assert r.headers["etag"].startswith('"')
    again = client.get(f"{_path(ref)}/requirements", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


def test_requirements_of_shenzhen_yantian_name_the_procurement_parts_and_reasons(client):
    body = client.get("/v1/rulesets/shenzhen-yantian/2023/requirements").json()
    facts = {f["key"]: f for f in body["facts"]}
    planned = facts["procurement_planned"]
    assert planned["unit"] == "wan_yuan"
    assert planned["unit_label"] == "万元"
    assert set(planned["json_type"]) == {"string", "number"}
    assert any(r["code"] == "2.1.1" and r["formula"] for r in planned["read_by"])
    answers = {a["address"]: a for a in body["answers"]}
    judgment = next(a for a in answers.values() if a["kind"] == "judgment" and a["needed"] == "always")
    assert judgment["reason"] == "required_when_points_lost"
    assert judgment["score"]["maximum"] == judgment["points"]


def test_unknown_ruleset_requirements_are_404(client):
    assert client.get("/v1/rulesets/shenzhen/1999/requirements").status_code == 404
    assert client.get("/v1/rulesets/shenzhen/1999/submission.schema.json").status_code == 404


# --------------------------------------------------------------------------- the JSON Schema


def _as_json(value: Any) -> Any:
    """A seed file's values as a JSON parser gives them: integers as int, fractions as float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    return value


def _seed_numbers(name: str) -> dict[str, Any]:
    from app.engine.yamlio import load_yaml
    from tests.api.factories import SEEDS

    data, _ = load_yaml(SEEDS / f"{name}.yaml")
    return _as_json(data)


def schema_pointers(validator: Draft202012Validator, doc: dict[str, Any]) -> set[str]:
    """Where a standard validator refuses ``doc``: the error's path, and the missing or unexpected
    property of a required / additionalProperties error."""
    out: set[str] = set()
    for e in validator.iter_errors(doc):
        base = "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in e.absolute_path)
        if e.validator == "required":
            out |= {f"{base}/{p}" for p in e.validator_value if p not in e.instance}
        elif e.validator == "additionalProperties":
            out |= {f"{base}/{p.replace('~', '~0').replace('/', '~1')}" for p in e.instance
                    if p not in e.schema.get("properties", {})}
        else:
            out.add(base)
    return out


@pytest.mark.parametrize(("seed_name", "ref"), sorted(SEED_RULESETS.items()))
def test_every_seed_validates_against_its_rulesets_schema(client, seed_name, ref):
    r = client.get(f"{_path(ref)}/submission.schema.json")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/schema+json")
    schema = r.json()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    for doc in (seed(seed_name), _seed_numbers(seed_name)):  # numbers as text, and as JSON numbers
        assert schema_pointers(validator, doc) == set(), doc
    assert client.get(f"{_path(ref)}/submission.schema.json",
                      headers={"If-None-Match": r.headers["etag"]}).status_code == 304


def _mutations(req: dict[str, Any]) -> list[tuple[str, str, Any, str]]:
    """(what, section, change, expected pointer): one of each kind of misfit, at real addresses."""
    answers = {a["address"]: a for a in req["answers"]}
    judgment = next(a for a in answers.values() if a["kind"] == "judgment" and a["needed"] == "always"
                    and Decimal(a["points"]) >= 2)
    item = next((a for a in answers.values() if a["kind"] == "item"), None)
    amount = next(f for f in req["facts"] if f["unit"] == "wan_yuan")
    percent = next(f for f in req["facts"] if f["unit"] == "percent")
    j = judgment["address"]
    pj = j.replace("/", "~1")
    over = format(Decimal(judgment["points"]) + 5, "f")
    below = format(Decimal(judgment["points"]) - 1, "f")
    items = [] if item is None else [
        ("item score above its points", "answers",
         {item["address"]: {"score": format(Decimal(item["points"]) + 1, "f")}},
         f"/answers/{item['address'].replace('/', '~1')}/score")]
    return [*items,
        ("wrong type of a fact", "facts", {amount["key"]: True}, f"/facts/{amount['key']}"),
        ("a percentage without %", "facts", {percent["key"]: 97}, f"/facts/{percent['key']}"),
        ("a fact out of bounds", "facts", {percent["key"]: "100001%"}, f"/facts/{percent['key']}"),
        ("unknown answer address", "answers", {"9.9.9": {"score": "1"}}, "/answers/9.9.9"),
        ("score above the points", "answers", {j: {"score": over, "reason": "超过分值"}}, f"/answers/{pj}/score"),
        ("missing reason", "answers", {j: {"score": below}}, f"/answers/{pj}/reason"),
        ("blank reason", "answers", {j: {"score": below, "reason": "  "}}, f"/answers/{pj}/reason"),
        ("wrong shape", "answers", {j: {"findings": ["不适用的键"]}}, f"/answers/{pj}/findings"),
        ("override without reason", "overrides", {j.split("/")[0]: {"score": "0"}},
         f"/overrides/{j.split('/')[0].replace('/', '~1')}/reason"),
    ]


@pytest.mark.parametrize(("seed_name", "ref"), sorted(SEED_RULESETS.items()))
def test_schema_and_service_refuse_the_same_mutations_at_the_same_pointers(client, seed_name, ref):
    req = client.get(f"{_path(ref)}/requirements").json()
    validator = Draft202012Validator(client.get(f"{_path(ref)}/submission.schema.json").json())
    base = {k: seed(seed_name).get(k, {}) for k in ("facts", "answers", "overrides")}
    unit = create_unit(client)
    year = req["fiscal_years"][0]
    for what, section, change, pointer in _mutations(req):
        doc = json.loads(json.dumps(base))
        doc[section] = {**doc[section], **change}
        assert schema_pointers(validator, doc) == {pointer}, what
        r = client.put(f"/v1/units/{unit['id']}/submissions/{year}", params={"ruleset": ref}, json=doc)
        assert r.status_code == 422, (what, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert {e["pointer"] for e in r.json()["errors"]} == {pointer}, what
    # nothing was stored by the refused PUTs; the seed itself is accepted
    assert client.get(f"/v1/units/{unit['id']}/submissions/{year}").status_code == 404
    ok = client.put(f"/v1/units/{unit['id']}/submissions/{year}", params={"ruleset": ref}, json=base)
    assert ok.status_code == 201, ok.text
    assert ok.json()["warnings"] == []


def test_put_without_ruleset_stores_answers_that_do_not_fit_and_warns(client):
    unit = create_unit(client)
    base = {k: seed("001").get(k, {}) for k in ("facts", "answers", "overrides")}
    req = client.get("/v1/rulesets/shenzhen-yantian/2023/requirements").json()
    judgment = next(a for a in req["answers"] if a["kind"] == "judgment" and a["needed"] == "always")
    over = format(Decimal(judgment["points"]) + 5, "f")
    base["answers"] = {**base["answers"], judgment["address"]: {"score": over, "reason": "x"}, "9.9.9": True}
    r = client.put(f"/v1/units/{unit['id']}/submissions/2023", json=base)
    assert r.status_code == 201, r.text
    warnings = r.json()["warnings"]
    pointer = "/answers/" + judgment["address"].replace("/", "~1") + "/score"
    assert {"code": "answer_does_not_fit", "ruleset": "shenzhen-yantian@2023", "pointer": pointer} \
        in [{k: w[k] for k in ("code", "ruleset", "pointer")} for w in warnings]
    assert any(w["code"] == "answer_not_read" and w["pointer"] == "/answers/9.9.9" for w in warnings)
    stored = client.get(f"/v1/units/{unit['id']}/submissions/2023").json()
    assert stored["answers"][judgment["address"]] == {"score": over, "reason": "x"}
    assert stored["warnings"] == []


def test_put_with_an_unknown_ruleset_is_404(client):
    unit = create_unit(client)
    r = client.put(f"/v1/units/{unit['id']}/submissions/2023", params={"ruleset": "nowhere@1"}, json={})
    assert r.status_code == 404


# --------------------------------------------------------------------------- the dry run


def _counts(engine: Any) -> dict[str, int]:
    with engine.connect() as conn:
        tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
        return {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables}


def test_dry_run_and_an_assessment_of_the_same_inputs_give_byte_identical_breakdowns(client, db_engine):
    data = seed("001")
    body = {k: data.get(k, {}) for k in ("facts", "answers", "overrides")}
    before = _counts(db_engine)
    dry = client.post("/v1/rulesets/shenzhen-yantian/2023:score", json=body)
    assert dry.status_code == 200, dry.text
    assert _counts(db_engine) == before  # no assessment, no submission, no audit entry, no row anywhere
    assert (dry.json()["total"], dry.json()["grade"]) == SEED_TOTALS["001"]
    unit = create_unit(client)
    assert client.put(f"/v1/units/{unit['id']}/submissions/2023", json=body).status_code == 201
    made = client.post("/v1/assessments", json={"unit_id": unit["id"], "fiscal_year": 2023,
                                                "ruleset": "shenzhen-yantian@2023", "kind": "self", "evaluator": "本单位"})
    assert made.status_code == 201, made.text
    # the answer of POST /v1/assessments is the assessment's identity, then its stored breakdown as is
    assert made.content.endswith(dry.content[1:])
    stored = client.get(f"/v1/assessments/{made.json()['id']}/breakdown").json()["items"]
    assert orjson.dumps(stored) == orjson.dumps(dry.json()["indicators"])


def test_dry_run_reports_missing_items_and_refuses_bad_input_like_an_assessment(client, db_engine):
    before = _counts(db_engine)
    r = client.post("/v1/rulesets/shenzhen-yantian/2023:score", json={"facts": {}})
    assert r.status_code == 200
    assert r.json()["status"] == "incomplete"
    assert r.json()["missing_facts"]
    assert r.json()["missing_answers"]
    strict = client.post("/v1/rulesets/shenzhen-yantian/2023:score", json={"strict": True})
    assert strict.status_code == 422
    assert any(e["pointer"].startswith("/facts/") for e in strict.json()["errors"])
    bad = client.post("/v1/rulesets/shenzhen-yantian/2023:score", json={"facts": {"satisfaction_rate": 97}})
    assert bad.status_code == 422
    assert [e["pointer"] for e in bad.json()["errors"]] == ["/facts/satisfaction_rate"]
    assert client.post("/v1/rulesets/shenzhen/1999:score", json={}).status_code == 404
    counts = _counts(db_engine)
    # refused calls are appended to the audit log after the response (at most one entry each); nothing else
    assert {t: n for t, n in counts.items() if t != "audit_log"} == {t: n for t, n in before.items() if t != "audit_log"}


def test_dry_run_authenticates_first_and_needs_the_read_scope(anonymous):
    r = anonymous.post("/v1/rulesets/shenzhen-yantian/2023:score", content=b"{not json")
    assert r.status_code == 401
    _, key = make_key("tenant-submit-only", ["submit"])
    r = anonymous.post("/v1/rulesets/shenzhen-yantian/2023:score", content=b"{not json",
                       headers={"Authorization": f"Bearer {key}", "content-type": "application/json"})
    assert r.status_code == 403


def test_jixiao_score_and_the_dry_run_answer_the_same_breakdown(client, tmp_path):
    from typer.testing import CliRunner

    from app.cli import app as cli
    from tests.api.factories import SEEDS

    out = tmp_path / "001.json"
    result = CliRunner().invoke(cli, ["score", str(SEEDS / "001.yaml"), "--ruleset", "shenzhen-yantian@2023",
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    offline = json.loads(out.read_text(encoding="utf-8"))
    data = seed("001")
    dry = client.post("/v1/rulesets/shenzhen-yantian/2023:score",
                      json={k: data.get(k, {}) for k in ("facts", "answers", "overrides")}).json()
    for key in ("unit", "fiscal_year", "kind", "evaluator"):
        offline.pop(key)
    assert offline == dry
