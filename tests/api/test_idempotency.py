"""Idempotency-Key (app.api.idempotency): replays authorized like fresh requests, per API key,
stored with their effect, never holding a secret, expiring; findings 1, 2 and 9 of the "Trust"
issue. The crash test (a server killed around a batch's commit) is tests/crash/."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from app.db.models import ApiKey, Assessment, AuditEntry, IdempotencyRecord, Unit
from tests.api.factories import seed_unit_with_submission
from tests.conftest import ALL_SCOPES, make_key


def _count(engine, model) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


def _as(key: str) -> TestClient:
    from app.main import app

    return TestClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {key}"})


ADMIN_KEY_REQUEST = {"name": "platform", "scopes": ["read", "submit", "assess", "admin"]}


def test_finding1_a_read_key_cannot_replay_an_admin_key_creation(client, db_engine):
    first = client.post("/v1/keys", json=ADMIN_KEY_REQUEST, headers={"Idempotency-Key": "k1"})
    assert first.status_code == 201
    assert first.json()["key"].startswith("jx_")
    _, reader = make_key("tenant-a", ["read"])
    with _as(reader) as c:
        r = c.post("/v1/keys", json=ADMIN_KEY_REQUEST, headers={"Idempotency-Key": "k1"})
    assert r.status_code == 403  # exactly what it gets without the header
    assert "idempotent-replayed" not in r.headers
    assert "key" not in r.text or first.json()["key"] not in r.text
    assert _count(db_engine, ApiKey) == 3  # the admin, the created one and the reader


def test_finding1_records_are_per_api_key_not_per_tenant(client, db_engine):
    body = {"code": "PERKEY", "name": "n", "kind": "school", "region": "r"}
    first = client.post("/v1/units", json=body, headers={"Idempotency-Key": "same-value"})
    assert first.status_code == 201
    _, other_admin = make_key("tenant-a", ALL_SCOPES)
    with _as(other_admin) as c:
        r = c.post("/v1/units", json=body, headers={"Idempotency-Key": "same-value"})
    # another key of the same tenant starts afresh: the unit exists already (409), it is no replay
    assert r.status_code == 409, r.text
    assert "idempotent-replayed" not in r.headers
    assert _count(db_engine, Unit) == 1


def test_finding1_no_secret_is_stored_and_a_replay_says_it_withholds_the_key(client, db_engine):
    first = client.post("/v1/keys", json=ADMIN_KEY_REQUEST, headers={"Idempotency-Key": "k2"})
    secret = first.json()["key"]
    with db_engine.connect() as conn:
        bodies = conn.execute(select(IdempotencyRecord.body)).scalars().all()
    assert len(bodies) == 1
    assert secret.encode() not in bodies[0]
    # the random part after "jx_<8 hex>_"; it may itself contain "_", so it is cut by position
    random_part = secret[len(first.json()["prefix"]) + 1 :]
    assert len(random_part) >= 40
    assert random_part.encode() not in bodies[0]
    replay = client.post("/v1/keys", json=ADMIN_KEY_REQUEST, headers={"Idempotency-Key": "k2"})
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["key"] is None
    assert replay.json()["key_withheld"] is True
    assert replay.json()["id"] == first.json()["id"]
    assert replay.headers["location"] == first.headers["location"]
    assert _count(db_engine, ApiKey) == 2


def test_finding1_a_replay_leaves_an_audit_entry(client, db_engine):
    body = {"code": "AUDREP", "name": "n", "kind": "school", "region": "r"}
    assert client.post("/v1/units", json=body, headers={"Idempotency-Key": "a-1"}).status_code == 201
    assert client.post("/v1/units", json=body, headers={"Idempotency-Key": "a-1"}).status_code == 201
    with db_engine.connect() as conn:
        rows = conn.execute(select(AuditEntry.route, AuditEntry.status, AuditEntry.resource_ids)
                            .where(AuditEntry.route == "/v1/units").order_by(AuditEntry.id)).all()
    assert [r.status for r in rows] == [201, 201]
    assert rows[1].resource_ids.get("idempotent_replay") == "true"
    assert "idempotent_replay" not in rows[0].resource_ids


def test_a_revoked_key_cannot_replay(client, db_engine):
    created = client.post("/v1/keys", json={"name": "w", "scopes": ["submit", "read"]}).json()
    body = {"code": "REVREP", "name": "n", "kind": "school", "region": "r"}
    with _as(created["key"]) as c:
        assert c.post("/v1/units", json=body, headers={"Idempotency-Key": "r-1"}).status_code == 201
        assert client.post(f"/v1/keys/{created['id']}:revoke").status_code == 200
        r = c.post("/v1/units", json=body, headers={"Idempotency-Key": "r-1"})
    assert r.status_code == 401
    assert "idempotent-replayed" not in r.headers


def test_an_audit_firm_whose_engagement_was_revoked_cannot_replay_its_assessment(client, db_engine):
    unit, _ = seed_unit_with_submission(client, "001")
    firm_tenant, firm = make_key("firm", ALL_SCOPES)
    engagement = client.post("/v1/engagements", json={"firm_tenant_id": firm_tenant, "unit_id": unit["id"],
                                                      "fiscal_years": [2023]}).json()
    body = {"unit_id": unit["id"], "fiscal_year": 2023, "ruleset": "shenzhen-yantian@2023", "kind": "third_party",
            "evaluator": "事务所"}
    with _as(firm) as c:
        assert c.post("/v1/assessments", json=body, headers={"Idempotency-Key": "f-1"}).status_code == 201
        assert client.post(f"/v1/engagements/{engagement['id']}:revoke").status_code == 200
        r = c.post("/v1/assessments", json=body, headers={"Idempotency-Key": "f-1"})
    assert r.status_code == 404  # what the firm gets without the header
    assert _count(db_engine, Assessment) == 1


def test_a_request_refused_by_validation_stores_nothing(client, db_engine):
    bad = client.post("/v1/units", json={"code": "V1", "name": "n"}, headers={"Idempotency-Key": "v-1"})
    assert bad.status_code == 422
    assert _count(db_engine, IdempotencyRecord) == 0
    good = client.post("/v1/units", json={"code": "V1", "name": "n", "kind": "school", "region": "r"},
                       headers={"Idempotency-Key": "v-1"})
    assert good.status_code == 201  # not "reused with another body": the refusal was not stored
    assert _count(db_engine, IdempotencyRecord) == 1


def test_another_body_with_the_same_key_is_refused(client, db_engine):
    unit, _ = seed_unit_with_submission(client, "001")
    body = {"unit_id": unit["id"], "fiscal_year": 2023, "ruleset": "shenzhen-yantian@2023", "kind": "self",
            "evaluator": "x"}
    assert client.post("/v1/assessments", json=body, headers={"Idempotency-Key": "b-1"}).status_code == 201
    other = client.post("/v1/assessments", json={**body, "evaluator": "y"}, headers={"Idempotency-Key": "b-1"})
    assert other.status_code == 422
    assert other.json()["errors"][0]["parameter"] == "Idempotency-Key"
    assert _count(db_engine, Assessment) == 1


def _admin_key_id(db_engine) -> Any:  # type: ignore[no-untyped-def]
    with db_engine.connect() as conn:
        return conn.execute(select(ApiKey.id).where(ApiKey.scopes.contains(["admin"]))).scalar_one()


def test_a_retry_while_the_first_holds_the_key_gets_409_with_retry_after(client, db_engine):
    from app.api.idempotency import _lock_id

    body = {"code": "BUSY1", "name": "n", "kind": "school", "region": "r"}
    lock = _lock_id(_admin_key_id(db_engine), "/v1/units", "busy")
    with db_engine.connect() as holder:  # stands for the first request's transaction
        holder.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock})
        r = client.post("/v1/units", json=body, headers={"Idempotency-Key": "busy"})
        assert r.status_code == 409
        assert r.headers["retry-after"] == "1"
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"][0]["parameter"] == "Idempotency-Key"
        assert _count(db_engine, Unit) == 0
        holder.rollback()
    assert client.post("/v1/units", json=body, headers={"Idempotency-Key": "busy"}).status_code == 201


def test_a_retry_after_the_first_requests_process_died_runs_at_once(client, db_engine):
    """The lock belongs to the first request's connection: when its process dies, PostgreSQL
    releases it as soon as the connection closes, not after a time-out."""
    from app.api.idempotency import _lock_id

    lock = _lock_id(_admin_key_id(db_engine), "/v1/units", "dead")
    url = db_engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, psycopg, time\n"
         "c = psycopg.connect(sys.argv[1]); c.execute('SELECT pg_advisory_xact_lock(%s)', (int(sys.argv[2]),))\n"
         "print('locked', flush=True); time.sleep(600)\n", url, str(lock)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        body = {"code": "DEAD1", "name": "n", "kind": "school", "region": "r"}
        assert client.post("/v1/units", json=body, headers={"Idempotency-Key": "dead"}).status_code == 409
        holder.kill()
        holder.wait()
        deadline = time.monotonic() + 10
        while True:
            r = client.post("/v1/units", json=body, headers={"Idempotency-Key": "dead"})
            if r.status_code != 409 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert r.status_code == 201
    finally:
        holder.kill()


def test_records_expire_and_are_deleted(client, db_engine):
    from app.api.idempotency import purge

    body = {"code": "EXP1", "name": "n", "kind": "school", "region": "r"}
    first = client.post("/v1/units", json=body, headers={"Idempotency-Key": "e-1"})
    with db_engine.connect() as conn:
        expires = conn.execute(select(IdempotencyRecord.expires_at - IdempotencyRecord.created_at)).scalar_one()
    assert expires.total_seconds() == 24 * 3600
    with db_engine.begin() as conn:
        conn.execute(text("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'"))
    # an expired record answers nothing: the retry runs (and finds the unit it created)
    again = client.post("/v1/units", json=body, headers={"Idempotency-Key": "e-1"})
    assert again.status_code == 409
    assert "idempotent-replayed" not in again.headers
    assert first.status_code == 201
    assert purge() == 1
    assert _count(db_engine, IdempotencyRecord) == 0


def test_finding9_idempotency_key_length_counts_characters_and_is_documented(client, db_engine):
    body = {"code": "LEN1", "name": "n", "kind": "school", "region": "r"}
    chinese = "幂" * 255
    ok = client.post("/v1/units", json=body, headers={"Idempotency-Key": chinese.encode()})
    assert ok.status_code == 201, ok.text
    for bad in ("a" * 256, "幂" * 256, "a\tb"):
        r = client.post("/v1/units", json={**body, "code": "LEN2"},
                        headers={"Idempotency-Key": bad.encode()})
        assert r.status_code == 400, bad
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"][0]["parameter"] == "Idempotency-Key"
    assert _count(db_engine, Unit) == 1
    doc = client.get("/openapi.json").json()
    for item in doc["paths"].values():
        if "post" in item and "operator" not in item["post"]["tags"]:  # the operator's routes store none
            op = item["post"]
            param = next(p for p in op["parameters"] if p["name"] == "Idempotency-Key")
            assert param["schema"]["maxLength"] == 255
            assert "400" in op["responses"], op["operationId"]
            assert "409" in op["responses"], op["operationId"]
