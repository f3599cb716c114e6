"""Finding 7 of the "Trust" issue: authentication before any body is read, and an audit log that
keeps what matters (refusals by known keys, with their tenant) without one row per anonymous call."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db.models import AuditEntry
from tests.api.factories import create_unit
from tests.conftest import make_key

BAD_JSON = b"{bad"
CHANGES = [
    ("POST", "/v1/units"),
    ("POST", "/v1/keys"),
    ("POST", "/v1/engagements"),
    ("POST", "/v1/rulesets"),
    ("POST", "/v1/rulesets:validate"),
    ("POST", "/v1/assessments"),
    ("POST", "/v1/assessments:batch"),
    ("PATCH", "/v1/units/{unit}"),
    ("PUT", "/v1/units/{unit}/submissions/2023"),
]


def _audit_rows(db_engine) -> int:  # type: ignore[no-untyped-def]
    with db_engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(AuditEntry)).scalar_one()


@pytest.mark.parametrize(("method", "path"), CHANGES)
def test_finding7_a_malformed_body_without_a_valid_key_is_401_not_422(method, path, client, anonymous, db_engine):
    unit = create_unit(client)
    url = path.replace("{unit}", unit["id"])
    for headers in ({}, {"Authorization": "Bearer jx_deadbeef_not-a-real-key"}, {"Authorization": "Basic eDp5"}):
        r = anonymous.request(method, url, content=BAD_JSON, headers={"Content-Type": "application/json", **headers})
        assert r.status_code == 401, (method, url, headers, r.status_code, r.text[:200])
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["www-authenticate"].startswith("Bearer")


def test_finding7_the_body_of_an_unknown_key_is_never_read(anonymous):
    """A body that never ends: refused at once, since nothing waits for it."""
    from app.main import app

    received: list[bool] = []

    async def call() -> tuple[int, list[bool]]:
        import anyio

        status = 0
        sent = anyio.Event()

        async def receive():  # type: ignore[no-untyped-def]
            received.append(True)
            await sent.wait()  # would hang for ever if anything read the body
            return {"type": "http.disconnect"}

        async def send(message):  # type: ignore[no-untyped-def]
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            if message["type"] == "http.response.body" and not message.get("more_body"):
                sent.set()

        scope = {"type": "http", "method": "POST", "path": "/v1/units", "raw_path": b"/v1/units",
                 "query_string": b"", "root_path": "", "scheme": "http", "http_version": "1.1",
                 "server": ("test", 80), "client": ("127.0.0.1", 1), "state": {},
                 "headers": [(b"authorization", b"Bearer jx_deadbeef_nope"), (b"content-type", b"application/json"),
                             (b"transfer-encoding", b"chunked")]}
        with anyio.fail_after(10):
            await app(scope, receive, send)
        return status, received

    import anyio

    status, reads = anyio.run(call)
    assert status == 401
    assert reads == []


def test_finding7_anonymous_refusals_are_counted_not_stored(anonymous, client, db_engine):
    from app import metrics

    def counted() -> float:
        return sum(metrics.ANONYMOUS_REFUSALS.labels(r)._value.get() for r in ("no_key", "unknown_key"))

    before_rows, before_count = _audit_rows(db_engine), counted()
    for _ in range(20):
        assert anonymous.post("/v1/units", json={}).status_code == 401
        assert anonymous.get("/v1/units", headers={"Authorization": "Bearer jx_00000000_x"}).status_code == 401
    assert _audit_rows(db_engine) == before_rows
    assert counted() == before_count + 40
    assert "jixiao_anonymous_refusals_total" in anonymous.get("/metrics").text


def test_finding7_refusals_of_a_revoked_or_wrong_key_are_in_its_tenants_log(client, anonymous, db_engine):
    created = client.post("/v1/keys", json={"name": "soon revoked", "scopes": ["read", "submit"]}).json()
    prefix = created["prefix"]
    assert client.post(f"/v1/keys/{created['id']}:revoke").status_code == 200
    r = anonymous.post("/v1/units", json={"code": "X1", "name": "n", "kind": "k", "region": "r"},
                       headers={"Authorization": f"Bearer {created['key']}"})
    assert r.status_code == 401
    r = anonymous.get("/v1/units", headers={"Authorization": f"Bearer {prefix}_wrong-secret"})
    assert r.status_code == 401
    entries = client.get("/v1/audit-log", params={"refused": True}).json()["items"]
    assert [(e["method"], e["status"], e["key_id"]) for e in entries] == [
        ("GET", 401, created["id"]), ("POST", 401, created["id"])]
    # and another tenant's admin sees none of them
    _, other = make_key("tenant-b", ["read", "admin"])
    with TestClient(client.app, headers={"Authorization": f"Bearer {other}"}) as c:
        assert c.get("/v1/audit-log", params={"refused": True}).json()["items"] == []


@pytest.mark.parametrize(("method", "path"), CHANGES)
def test_a_key_without_the_scope_gets_403_before_its_body_is_parsed(method, path, client, anonymous):
    unit = create_unit(client)
    url = path.replace("{unit}", unit["id"])
    _, reader = make_key("tenant-a", ["read"])
    r = anonymous.request(method, url, content=BAD_JSON,
                          headers={"Content-Type": "application/json", "Authorization": f"Bearer {reader}"})
    assert r.status_code == 403, (method, url, r.status_code, r.text[:200])
    assert r.headers["content-type"] == "application/problem+json"


def test_a_tenant_key_on_the_operators_routes_gets_403_before_its_body_is_parsed(anonymous):
    _, admin = make_key("tenant-a", ["read", "submit", "assess", "admin"])
    r = anonymous.post("/v1/tenants", content=BAD_JSON,
                       headers={"Content-Type": "application/json", "Authorization": f"Bearer {admin}"})
    assert r.status_code == 403
