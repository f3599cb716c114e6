"""Access control walked over every operation of the published OpenAPI document."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.api.factories import (
    assess,
    create_project,
    create_unit,
    project_sheet,
    put_project_submission,
    put_submission,
    seed,
)
from tests.conftest import ALL_SCOPES, make_key

ROOT = Path(__file__).resolve().parents[2]
DOC = json.loads((ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8"))
PUBLIC = {"/healthz", "/readyz", "/metrics"}
OPERATIONS = sorted((path, method, op) for path, item in DOC["paths"].items() for method, op in item.items()
                    if path not in PUBLIC)
TENANT_OWNED_PARAMS = {"unit_id", "assessment_id", "other_id", "key_id", "engagement_id", "endpoint_id", "delivery_id",
                       "job_id", "project_id"}
TABLES = ("tenants", "api_keys", "units", "submissions", "assessments", "rulesets", "engagements", "idempotency_keys",
          "jobs", "job_chunks", "job_items", "procrastinate_jobs",
          "webhook_endpoints", "webhook_events", "webhook_deliveries", "webhook_attempts", "projects", "project_submissions")


def test_every_operation_documents_401_403_and_bearer_security():
    for _path, _method, op in OPERATIONS:
        assert "401" in op["responses"], op["operationId"]
        assert "403" in op["responses"], op["operationId"]
        assert op.get("security"), op["operationId"]


def snapshot(engine) -> dict[str, str]:  # type: ignore[no-untyped-def]
    out = {}
    with engine.connect() as conn:
        for t in TABLES:
            out[t] = conn.execute(text(f"SELECT count(*)::text || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM {t} x")).scalar_one()
    return out


@pytest.fixture
def world(client, db_engine):  # type: ignore[no-untyped-def]
    """Tenant A's records: a unit with a submission and two assessments, a key, an engagement, a
    webhook endpoint with a delivery."""
    hook = client.post("/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/h", "events": ["submission.updated"]})
    assert hook.status_code == 201, hook.text
    data = seed("001")
    unit = create_unit(client, name=data["unit"]["name"])
    assert put_submission(client, unit["id"], 2023, data).status_code == 201
    a1 = assess(client, unit["id"], 2023, "shenzhen-yantian@2023").json()
    a2 = assess(client, unit["id"], 2023, "shenzhen-yantian@2023", kind="third_party").json()
    key = client.post("/v1/keys", json={"name": "spare", "scopes": ["read"]}).json()
    firm_id, _ = make_key("firm-x", ["read"])
    eng = client.post("/v1/engagements", json={"firm_tenant_id": firm_id, "unit_id": unit["id"], "fiscal_years": [2023]}).json()
    job = client.post("/v1/jobs", json={"kind": "rescore", "ruleset": "shenzhen-yantian", "fiscal_year": 2023,
                                        "evaluator": "测试"})
    assert job.status_code == 202, job.text
    project = create_project(client, unit["id"])
    assert put_project_submission(client, unit["id"], project["id"], 2023, project_sheet()).status_code == 201
    return {"unit_id": unit["id"], "project_id": project["id"], "fiscal_year": 2023, "version": 1,
            "assessment_id": a1["id"], "other_id": a2["id"],
            "key_id": key["id"], "engagement_id": eng["id"], "name": "shenzhen-yantian",
            "tenant_id": client.get("/v1/tenant").json()["id"], "endpoint_id": hook.json()["id"], "job_id": job.json()["id"],
            "delivery_id": client.get(f"/v1/webhook-endpoints/{hook.json()['id']}/deliveries").json()["items"][0]["id"]}


def _url(path: str, values: dict[str, Any]) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "version" and "/rulesets/" in path:
            return "2023"
        return str(values[name])

    return re.sub(r"\{([a-z_]+)\}", sub, path)


BODIES: dict[str, Any] = {
    "updateUnit": {"name": "改名"},
    "putSubmission": {"facts": {"procurement_planned": "1"}},
    "createProject": {"code": "P-NEW", "name": "新项目", "department": "教育局", "implementer": "学校",
                      "fund_nature": "一般公共预算", "fiscal_years": [2023]},
    "updateProject": {"name": "改名"},
    "putProjectSubmission": project_sheet(),
    "batchProjectAssessments": {"items": [{"project": {"code": "P-B", "name": "批量", "department": "教育局",
                                                       "implementer": "学校", "fund_nature": "一般公共预算"},
                                           "fiscal_year": 2023, "submission": project_sheet(),
                                           "ruleset": "national-project", "kind": "self", "evaluator": "x"}]},
}


#: the required query parameters of an operation (so that a refusal is about the caller, not the query)
QUERIES: dict[str, dict[str, Any]] = {"getProjectsSummary": {"fiscal_year": 2023}}


def _call(c: TestClient, method: str, url: str, op: dict[str, Any], headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    body = BODIES.get(op["operationId"], {}) if method in ("post", "put", "patch") else None
    return c.request(method.upper(), url, json=body, headers=headers or {}, params=QUERIES.get(op["operationId"]))


def test_the_walk_covers_every_operation():
    ops = {op["operationId"] for _, _, op in OPERATIONS}
    assert len(ops) == len(OPERATIONS) >= 25
    assert {"createAssessment", "batchAssessments", "createKey", "listAuditLog", "getAssessmentReportXlsx"} <= ops


@pytest.mark.parametrize(("path", "method", "op"), OPERATIONS, ids=[o[2]["operationId"] for o in OPERATIONS])
def test_refusals_change_nothing(path, method, op, world, db_engine):  # type: ignore[no-untyped-def]
    from app.main import app

    url = _url(path, world)
    with TestClient(app, raise_server_exceptions=False) as anon:
        before = snapshot(db_engine)
        r = _call(anon, method, url, op)
        assert r.status_code == 401, (method, url, r.status_code, r.text[:200])
        assert r.headers["content-type"] == "application/problem+json"
        r = _call(anon, method, url, op, {"Authorization": "Bearer jx_deadbeef_not-a-real-key"})
        assert r.status_code == 401
        assert snapshot(db_engine) == before
        # Keys that each lack one scope: exactly the lack of the needed scope is refused (403),
        # and a refused call changes nothing.
        keys = {scope: make_key("tenant-a", [s for s in ALL_SCOPES if s != scope])[1] for scope in ALL_SCOPES}
        refused = []
        for scope, key in keys.items():
            before = snapshot(db_engine)
            code = _call(anon, method, url, op, {"Authorization": f"Bearer {key}"}).status_code
            if code == 403:
                refused.append(scope)
                assert snapshot(db_engine) == before, f"{op['operationId']}: a refused call changed the database"
        assert len(refused) >= 1, f"{op['operationId']}: no scope is required"
        if TENANT_OWNED_PARAMS & set(re.findall(r"\{([a-z_]+)\}", path)):
            _, other = make_key("tenant-b", ALL_SCOPES)
            before = snapshot(db_engine)
            r = _call(anon, method, url, op, {"Authorization": f"Bearer {other}"})
            assert r.status_code == 404, (op["operationId"], r.status_code, r.text[:300])
            assert snapshot(db_engine) == before


def test_refused_calls_are_in_the_audit_log(client, anonymous):
    assert anonymous.post("/v1/units", json={}).status_code == 401
    _, reader = make_key("tenant-a", ["read"])
    r = anonymous.post("/v1/units", json={"code": "A1", "name": "n", "kind": "k", "region": "r"},
                       headers={"Authorization": f"Bearer {reader}"})
    assert r.status_code == 403
    entries = client.get("/v1/audit-log", params={"refused": True}).json()["items"]
    assert [e["status"] for e in entries] == [403]  # the anonymous one has no tenant to belong to
    assert entries[0]["route"] == "/v1/units"
    assert entries[0]["method"] == "POST"


def test_audit_log_is_append_only(client, db_engine):
    create_unit(client)
    entries = client.get("/v1/audit-log").json()["items"]
    assert entries
    assert entries[0]["method"] == "POST"
    assert entries[0]["status"] == 201
    assert entries[0]["resource_ids"]["created"]  # the new unit's id, written in the same transaction
    with pytest.raises(Exception, match="append-only"), db_engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))
    with pytest.raises(Exception, match="append-only"), db_engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET status = 200"))
    ops = {(p, m) for p, item in DOC["paths"].items() for m in item if p.startswith("/v1/audit-log")}
    assert ops == {("/v1/audit-log", "get")}


def test_engagement_grants_one_unit_and_year_until_revoked(client, anonymous):
    data = seed("001")
    unit = create_unit(client, name="被审计单位")
    other_unit = create_unit(client, name="其他单位")
    for u in (unit, other_unit):
        put_submission(client, u["id"], 2023, data)
    put_submission(client, unit["id"], 2022, {"facts": {}})
    own = assess(client, unit["id"], 2023, "shenzhen-yantian@2023").json()
    firm_id, firm_key = make_key("audit-firm", ["read", "assess"])
    firm = {"Authorization": f"Bearer {firm_key}"}
    eng = client.post("/v1/engagements", json={"firm_tenant_id": firm_id, "unit_id": unit["id"], "fiscal_years": [2023]})
    assert eng.status_code == 201

    assert anonymous.get(f"/v1/units/{unit['id']}", headers=firm).status_code == 200
    assert anonymous.get(f"/v1/units/{unit['id']}/submissions/2023", headers=firm).status_code == 200
    assert anonymous.get(f"/v1/assessments/{own['id']}", headers=firm).status_code == 200
    listed = anonymous.get("/v1/units", headers=firm).json()["items"]
    assert [u["id"] for u in listed] == [unit["id"]]
    third = anonymous.post("/v1/assessments", headers=firm, json={"unit_id": unit["id"], "fiscal_year": 2023,
                           "ruleset": "shenzhen-yantian@2023", "kind": "third_party", "evaluator": "某会计师事务所"})
    assert third.status_code == 201, third.text
    assert third.json()["total"] == "93.97"
    selfie = anonymous.post("/v1/assessments", headers=firm, json={"unit_id": unit["id"], "fiscal_year": 2023,
                            "ruleset": "shenzhen-yantian@2023", "kind": "self", "evaluator": "x"})
    assert selfie.status_code == 403
    # the owner sees the firm's assessment of its unit
    kinds = {a["kind"] for a in client.get("/v1/assessments", params={"unit_id": unit["id"]}).json()["items"]}
    assert kinds == {"self", "third_party"}

    assert anonymous.get(f"/v1/units/{other_unit['id']}", headers=firm).status_code == 404
    assert anonymous.get(f"/v1/units/{unit['id']}/submissions/2022", headers=firm).status_code == 404
    r = anonymous.post("/v1/assessments", headers=firm, json={"unit_id": unit["id"], "fiscal_year": 2022,
                       "ruleset": "shenzhen-yantian", "kind": "third_party", "evaluator": "x"})
    assert r.status_code == 404
    assert anonymous.put(f"/v1/units/{unit['id']}/submissions/2023", headers=firm, json={"facts": {}}).status_code == 403

    assert client.post(f"/v1/engagements/{eng.json()['id']}:revoke").status_code == 200
    assert anonymous.get(f"/v1/units/{unit['id']}", headers=firm).status_code == 404
    assert anonymous.get(f"/v1/assessments/{own['id']}", headers=firm).status_code == 404
    # the firm keeps reading what it made itself, and nothing else
    assert anonymous.get(f"/v1/assessments/{third.json()['id']}", headers=firm).status_code == 200
    assert anonymous.get(f"/v1/assessments/{third.json()['id']}/breakdown", headers=firm).status_code == 200
    listed = anonymous.get("/v1/assessments", headers=firm).json()["items"]
    assert [a["id"] for a in listed] == [third.json()["id"]]
    assert anonymous.get(f"/v1/units/{unit['id']}/submissions/2023", headers=firm).status_code == 404
    assert anonymous.get(f"/v1/assessments/{own['id']}/comparison/{third.json()['id']}", headers=firm).status_code == 404


def test_keys_are_shown_once_and_never_logged(client, anonymous, caplog):
    caplog.set_level(logging.DEBUG)
    created = client.post("/v1/keys", json={"name": "平台", "scopes": ["read"]})
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith(created.json()["prefix"] + "_")
    auth = {"Authorization": f"Bearer {key}"}
    assert anonymous.get("/v1/rulesets", headers=auth).status_code == 200
    assert anonymous.post("/v1/units", headers=auth, json={}).status_code == 403
    listing = client.get("/v1/keys")
    assert key not in listing.text
    assert created.json()["prefix"] in listing.text
    audit = client.get("/v1/audit-log")
    assert key not in audit.text
    assert key not in caplog.text
    secret = key.split("_", 2)[2]
    assert secret not in listing.text + audit.text + caplog.text

    assert client.post(f"/v1/keys/{created.json()['id']}:revoke").status_code == 200
    assert anonymous.get("/v1/rulesets", headers=auth).status_code == 401


def test_expired_key_is_refused(client, anonymous):
    import datetime as dt

    from app.db.models import ApiKey
    from app.db.session import get_owner_sessionmaker

    created = client.post("/v1/keys", json={"name": "short", "scopes": ["read"],
                                            "expires_at": "2099-01-01T00:00:00+00:00"}).json()
    auth = {"Authorization": f"Bearer {created['key']}"}
    assert anonymous.get("/v1/facts", headers=auth).status_code == 200
    with get_owner_sessionmaker()() as s, s.begin():
        s.get(ApiKey, created["id"]).expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    r = anonymous.get("/v1/facts", headers=auth)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"


def test_another_tenant_sees_nothing(client, anonymous):
    unit = create_unit(client)
    _, other = make_key("tenant-b", ALL_SCOPES)
    auth = {"Authorization": f"Bearer {other}"}
    assert anonymous.get("/v1/units", headers=auth).json()["items"] == []
    assert anonymous.get(f"/v1/units/{unit['id']}", headers=auth).status_code == 404
    # the same unit code is free in another tenant
    r = anonymous.post("/v1/units", headers=auth, json={"code": unit["code"], "name": "n", "kind": "k", "region": "r"})
    assert r.status_code == 201


def test_assessments_and_their_audit_entries_are_written_together(client, db_engine):
    """POST /v1/assessments writes the row and its audit entry in one statement: both or neither."""
    from tests.api.factories import seed_unit_with_submission

    unit, _ = seed_unit_with_submission(client, "001")
    body = {"unit_id": unit["id"], "fiscal_year": 2023, "ruleset": "shenzhen-yantian@2023", "kind": "self",
            "evaluator": "e"}
    created = client.post("/v1/assessments", json=body)
    assert created.status_code == 201
    entries = client.get("/v1/audit-log").json()["items"]
    mine = [e for e in entries if e["route"] == "/v1/assessments"]
    assert len(mine) == 1
    assert (mine[0]["method"], mine[0]["status"], mine[0]["refused"]) == ("POST", 201, False)
    assert mine[0]["path"] == "/v1/assessments"
    assert mine[0]["resource_ids"] == {"created": created.json()["id"]}

    # a failed assessment (a ruleset that does not cover the year) leaves no row and no success entry
    with db_engine.connect() as conn:
        before = conn.execute(text("SELECT (SELECT count(*) FROM assessments), "
                                   "(SELECT count(*) FROM audit_log WHERE status < 400)")).one()
    assert client.post("/v1/assessments", json={**body, "ruleset": "shenzhen@2021"}).status_code == 422
    with db_engine.connect() as conn:
        after = conn.execute(text("SELECT (SELECT count(*) FROM assessments), "
                                  "(SELECT count(*) FROM audit_log WHERE status < 400)")).one()
    assert after == before


def test_create_assessment_checks_the_key_it_read_with_the_unit(client, anonymous, db_engine):
    """POST /v1/assessments reads the key and the unit's submission in one statement; the key is
    still checked first, and the unit is only found for the key's own tenant (or engagement)."""
    from tests.api.factories import seed_unit_with_submission

    unit, _ = seed_unit_with_submission(client, "001")
    body = {"unit_id": unit["id"], "fiscal_year": 2023, "ruleset": "shenzhen-yantian@2023", "kind": "self",
            "evaluator": "e"}

    def assessments() -> int:
        with db_engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM assessments")).scalar_one())

    _, own = make_key("tenant-a", ["assess"])
    _, reader = make_key("tenant-a", ["read"])
    _, stranger = make_key("tenant-b", ALL_SCOPES)
    wrong_secret = own[:-4] + ("0000" if not own.endswith("0000") else "1111")  # right prefix, wrong secret
    cases = [
        (wrong_secret, body, 401),
        (wrong_secret, {"unit_id": "not a uuid"}, 401),  # the key before the body
        ("jx_nokey", body, 401),
        (reader, body, 403),
        (stranger, body, 404),  # another tenant's unit is not there at all
        (own, {**body, "fiscal_year": 2022}, 422),  # visible unit, no submission for the year
    ]
    for key, payload, expected in cases:
        r = anonymous.post("/v1/assessments", json=payload, headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == expected, (key[:12], payload, r.text[:200])
        assert r.headers["content-type"] == "application/problem+json"
    assert assessments() == 0
    r = anonymous.post("/v1/assessments", json=body, headers={"Authorization": f"Bearer {own}"})
    assert r.status_code == 201
    assert r.json()["total"] == "93.97"
    assert assessments() == 1


def test_a_firm_scores_the_units_facts_with_its_own_judgments(client, anonymous):
    """A third-party evaluation sends its own answers/overrides: they replace the submission's for
    that assessment only; the unit's submission stays as it is; the comparison shows the difference."""
    data = seed("001")
    unit = create_unit(client, name="被审计单位")
    put_submission(client, unit["id"], 2023, data)
    before = client.get(f"/v1/units/{unit['id']}/submissions/2023")
    own = assess(client, unit["id"], 2023, "shenzhen-yantian@2023").json()
    assert own["total"] == "93.97"
    firm_id, firm_key = make_key("audit-firm", ["read", "assess"])
    firm = {"Authorization": f"Bearer {firm_key}"}
    assert client.post("/v1/engagements", json={"firm_tenant_id": firm_id, "unit_id": unit["id"],
                                                 "fiscal_years": [2023]}).status_code == 201
    judged = dict(data["answers"])
    judged["1.1.1/1"] = {"score": "0.5", "reason": "第三方：预算编报不够规范"}
    body = {"unit_id": unit["id"], "fiscal_year": 2023, "ruleset": "shenzhen-yantian@2023", "kind": "third_party",
            "evaluator": "某会计师事务所", "answers": judged, "overrides": {}}
    third = anonymous.post("/v1/assessments", headers=firm, json=body)
    assert third.status_code == 201, third.text[:300]
    # the firm's 0.5 instead of 1 on 1.1.1/1, and no override of 3.4.2 (the unit's own override raised it)
    assert third.json()["total"] != own["total"]
    flat = {i["code"]: i for i in anonymous.get(f"/v1/assessments/{third.json()['id']}/breakdown",
                                                 params={"view": "flat"}, headers=firm).json()["items"]}
    assert any("第三方：预算编报不够规范" in d["reason"] for d in flat["1.1.1"]["deductions"])
    assert flat["3.4.2"]["override"] is None
    # the unit's submission is untouched
    after = client.get(f"/v1/units/{unit['id']}/submissions/2023")
    assert after.json() == before.json()
    assert after.headers["etag"] == before.headers["etag"]
    # self against third party: the indicators that differ come first
    comparison = client.get(f"/v1/assessments/{own['id']}/comparison/{third.json()['id']}").json()
    assert comparison["differing"] >= 2
    assert {comparison["indicators"][i]["code"] for i in range(comparison["differing"])} >= {"1.1.1", "3.4.2"}
    # what each was scored with: the same facts, different judgments; enough to score it again offline
    own_inputs = client.get(f"/v1/assessments/{own['id']}/inputs").json()
    third_inputs = anonymous.get(f"/v1/assessments/{third.json()['id']}/inputs", headers=firm).json()
    assert own_inputs["judgments"] == "submission"
    assert third_inputs["judgments"] == "assessment"
    assert own_inputs["facts"] == third_inputs["facts"] == before.json()["facts"]
    assert own_inputs["submission_hash"] == third_inputs["submission_hash"] == before.json()["content_hash"]
    assert own_inputs["overrides"] == before.json()["overrides"]
    assert third_inputs["answers"]["1.1.1/1"] == judged["1.1.1/1"]
    assert third_inputs["overrides"] == {}
    from app.engine import builtin_registry
    from app.engine.scoring import score_raw

    registry = builtin_registry()
    rs = registry.get(third.json()["ruleset"]["ref"])
    assert rs is not None
    assert rs.content_hash == third.json()["ruleset"]["content_hash"]
    for scored, snapshot in ((own, own_inputs), (third.json(), third_inputs)):
        again = score_raw(rs, registry.vocabulary, snapshot["facts"], snapshot["answers"], snapshot["overrides"])
        assert str(again.total) == scored["total"]
    # the engaged firm reads the owner's too (an engagement grants read); a stranger reads neither
    assert anonymous.get(f"/v1/assessments/{own['id']}/inputs", headers=firm).status_code == 200
    _, stranger_key = make_key("stranger", ["read"])
    stranger = {"Authorization": f"Bearer {stranger_key}"}
    for scored in (own, third.json()):
        assert anonymous.get(f"/v1/assessments/{scored['id']}/inputs", headers=stranger).status_code == 404
    # the firm's judgments are validated like a submission's, with pointers into this request
    bad = anonymous.post("/v1/assessments", headers=firm, json={**body, "answers": {"1.1.1/1": {"score": "x"}}})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"].startswith("/answers/1.1.1")
