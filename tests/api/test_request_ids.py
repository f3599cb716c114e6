"""X-Request-Id (app/api/request_id.py): accepted or made, echoed, in problems, logs and the audit log."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select

from app.db.models import AuditEntry


def test_a_request_id_is_made_when_none_is_sent(client):
    r = client.get("/v1/facts")
    rid = r.headers["x-request-id"]
    assert str(uuid.UUID(rid)) == rid
    assert client.get("/v1/facts").headers["x-request-id"] != rid


def test_the_callers_request_id_is_echoed_and_in_the_problem(client):
    r = client.get("/v1/units/00000000-0000-0000-0000-000000000000", headers={"X-Request-Id": "ticket-4711.a"})
    assert r.status_code == 404
    assert r.headers["x-request-id"] == "ticket-4711.a"
    assert r.json()["request_id"] == "ticket-4711.a"


def test_a_malformed_request_id_is_replaced(client):
    for bad in ("x" * 129, "two words", "<script>"):
        r = client.get("/v1/facts", headers={"X-Request-Id": bad})
        assert r.headers["x-request-id"] != bad
        uuid.UUID(r.headers["x-request-id"])


def test_problems_before_any_route_carry_the_id_too(anonymous):
    r = anonymous.post("/v1/units", json={}, headers={"X-Request-Id": "anon-1"})
    assert r.status_code == 401
    assert r.json()["request_id"] == "anon-1"


def test_the_audit_log_records_the_request_id_and_filters_by_it(client, db_engine):
    r = client.post("/v1/units", json={"code": "RID1", "name": "n", "kind": "school", "region": "r"},
                    headers={"X-Request-Id": "change-1"})
    assert r.status_code == 201
    with db_engine.connect() as conn:
        assert conn.execute(select(AuditEntry.request_id).where(AuditEntry.route == "/v1/units")).scalar_one() == "change-1"
    items = client.get("/v1/audit-log", params={"request_id": "change-1"}).json()["items"]
    assert [i["request_id"] for i in items] == ["change-1"]
    assert items[0]["resource_type"] == "unit"
    assert items[0]["resource_id"] == r.json()["id"]
    assert items[0]["unit_id"] == r.json()["id"]


def test_log_lines_carry_the_request_id(client, caplog):
    from asgi_correlation_id import CorrelationIdFilter

    caplog.handler.addFilter(CorrelationIdFilter(default_value="-"))
    caplog.set_level(logging.INFO)
    log = logging.getLogger("jixiao.test")

    from app.main import app

    @app.get("/v1/_log_probe", include_in_schema=False)
    def probe() -> dict[str, str]:
        log.info("inside the request")
        return {}

    try:
        client.get("/v1/_log_probe", headers={"X-Request-Id": "log-1"})
    finally:
        app.router.routes.pop()
    records = [r for r in caplog.records if r.getMessage() == "inside the request"]
    assert [r.correlation_id for r in records] == ["log-1"]  # type: ignore[attr-defined]


def test_the_service_log_format_shows_the_id():
    from app.api.request_id import LOG_FORMAT

    assert "%(correlation_id)s" in LOG_FORMAT
