"""The tenant lifecycle through the API (app/auth/tenants.py): an operator key, made from the shell,
creates, lists, suspends and reactivates tenants and makes their first admin key."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import make_key


def _operator_key() -> str:
    from app.auth import operators
    from app.db.session import get_sessionmaker

    with get_sessionmaker()() as session, session.begin():
        _, key = operators.create(session, "test operator")
    return key


def _as(key: str) -> TestClient:
    from app.main import app

    return TestClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {key}"})


def test_an_operator_creates_a_tenant_and_its_first_admin_key(db_engine):
    with _as(_operator_key()) as op:
        created = op.post("/v1/tenants", json={"name": "某会计师事务所"})
        assert created.status_code == 201, created.text
        tenant = created.json()
        assert created.headers["location"] == f"/v1/tenants/{tenant['id']}"
        assert tenant["suspended"] is False
        assert op.post("/v1/tenants", json={"name": "某会计师事务所"}).status_code == 409
        key = op.post(f"/v1/tenants/{tenant['id']}/keys", json={"name": "首个管理员", "scopes": ["read", "admin"]})
        assert key.status_code == 201
        assert [t["name"] for t in op.get("/v1/tenants").json()["items"]] == ["某会计师事务所"]
        assert op.get(f"/v1/tenants/{tenant['id']}").json()["name"] == "某会计师事务所"
        # the operator reads no tenant's data
        assert op.get("/v1/units").status_code == 401
    with _as(key.json()["key"]) as admin:
        assert admin.get("/v1/tenant").json() == {"id": tenant["id"], "name": "某会计师事务所"}
        # the operator's actions are in the tenant's own audit log
        entries = admin.get("/v1/audit-log", params={"resource_type": "tenant"}).json()["items"]
        assert [(e["route"], e["status"]) for e in entries] == [
            ("/v1/tenants/{tenant_id}/keys", 201), ("/v1/tenants", 201)]
        assert all(e["resource_ids"]["operator"].startswith("jxop_") for e in entries)


def test_tenant_routes_need_an_operator_key(db_engine, anonymous):
    _, admin = make_key("tenant-a", ["read", "submit", "assess", "admin"])
    r = anonymous.post("/v1/tenants", json={"name": "x"}, headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 403
    assert "operator key" in r.json()["detail"]
    assert anonymous.get("/v1/tenants").status_code == 401
    assert anonymous.get("/v1/tenants", headers={"Authorization": "Bearer jxop_00000000_nope"}).status_code == 401
    assert anonymous.post("/v1/tenants", content=b"{bad", headers={"Authorization": "Bearer jxop_00000000_nope",
                                                                  "Content-Type": "application/json"}).status_code == 401


def test_a_suspended_tenants_keys_get_403_with_the_reason_until_reactivated(db_engine, client):
    tenant_id, key = make_key("suspended-platform", ["read", "submit", "assess"])
    with _as(key) as c:
        assert c.get("/v1/units").status_code == 200
        with _as(_operator_key()) as op:
            s = op.post(f"/v1/tenants/{tenant_id}:suspend", json={"reason": "合同到期未续签"})
            assert s.status_code == 200
            assert s.json()["suspended"] is True
            for r in (c.get("/v1/units"), c.post("/v1/units", json={"code": "S1", "name": "n", "kind": "k", "region": "r"}),
                      c.post("/v1/assessments", json={"unit_id": tenant_id, "fiscal_year": 2023, "ruleset": "shenzhen-yantian",
                                                      "kind": "self", "evaluator": "x"})):
                assert r.status_code == 403, r.text
                assert "合同到期未续签" in r.json()["detail"]
            assert op.post(f"/v1/tenants/{tenant_id}:reactivate").json()["suspended"] is False
        assert c.get("/v1/units").status_code == 200
    # another tenant is not affected
    assert client.get("/v1/units").status_code == 200


def test_operator_keys_from_the_shell(db_engine):
    from typer.testing import CliRunner

    from app.cli import app

    runner = CliRunner()
    made = runner.invoke(app, ["operators", "create", "--name", "平台运维"])
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[-1]
    assert key.startswith("jxop_")
    with _as(key) as op:
        assert op.get("/v1/tenants").status_code == 200
    assert runner.invoke(app, ["operators", "revoke", key[:13]]).exit_code == 0
    with _as(key) as op:
        assert op.get("/v1/tenants").status_code == 401
