"""The foundation: OpenAPI drift, migrations round trip, health and readiness, problem documents."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]


def test_openapi_document_is_up_to_date():
    from app.openapi_doc import render

    committed = (ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8")
    assert committed == render(), "openapi/openapi.json is stale: run `make openapi` and commit it"


def test_openapi_declares_problem_responses_for_every_operation():
    doc = json.loads((ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8"))
    ops = [(p, m, op) for p, item in doc["paths"].items() for m, op in item.items()]
    assert len(ops) >= 18
    for path, method, op in ops:
        assert op.get("operationId"), (path, method)
        assert op.get("summary"), (path, method)
        if path.startswith("/v1/"):
            assert "503" in op["responses"], f"{method} {path} does not declare 503"


def _alembic_config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["configure_logger"] = False
    cfg.attributes["url"] = url
    return cfg


def test_migrations_round_trip_and_match_models(database):
    base = make_url(database)
    name = f"{base.database}_mig"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        cfg = _alembic_config(url)
        command.upgrade(cfg, "head")
        command.downgrade(cfg, "base")
        engine = create_engine(url)
        with engine.connect() as conn:
            tables = conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")).scalar()
        assert tables == 0, "downgrade base left tables behind"
        command.upgrade(cfg, "head")
        from app.db.models import Base, include_name

        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name})
            diff = compare_metadata(ctx, Base.metadata)
        engine.dispose()
        assert diff == [], f"models and migrations differ: {diff}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_packed_documents_migrate_both_ways_with_their_data(database):
    """Migration 0005: json documents become bytea (the JSON text as bytes), written afterwards as
    LZ4 frames; both forms read back alike, and a downgrade turns both into json again."""
    import uuid

    from app.db.packed import LZ4_MAGIC, pack, unpack

    base = make_url(database)
    name = f"{base.database}_packed"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    tenant, unit, sub = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    old, new = uuid.uuid4(), uuid.uuid4()
    doc = {"total": "93.97", "indicators": [{"code": "1", "name": "决策", "reasons": ["扣0.5分"] * 200}]}
    row = ("INSERT INTO assessments (id, tenant_id, assessed_by_tenant_id, unit_id, fiscal_year, submission_id, "
           "submission_version, ruleset_name, ruleset_version, ruleset_hash, kind, evaluator, status, total, grade, "
           "inputs, result) VALUES (:id, :t, :t, :u, 2023, :s, 1, 'r', '1', 'h', 'self', 'e', 'complete', 93.97, "
           "'优', {inputs}, {result})")
    try:
        cfg = _alembic_config(url)
        command.upgrade(cfg, "0004")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO tenants (id, name) VALUES (:t, 'mig')"), {"t": tenant})
            conn.execute(text("INSERT INTO units (id, tenant_id, code, name, kind, region) "
                              "VALUES (:u, :t, 'U1', '单位', 'school', '区')"), {"u": unit, "t": tenant})
            conn.execute(text("INSERT INTO submissions (id, tenant_id, unit_id, fiscal_year, version, facts, answers, "
                              "overrides, content_hash) VALUES (:s, :t, :u, 2023, 1, '{}', '{}', '{}', 'h')"),
                         {"s": sub, "t": tenant, "u": unit})
            conn.execute(text(row.format(inputs="CAST(:i AS json)", result="CAST(:r AS json)")),
                         {"id": old, "t": tenant, "u": unit, "s": sub, "i": json.dumps({"facts": {}}),
                          "r": json.dumps(doc, ensure_ascii=False)})
        command.upgrade(cfg, "head")
        with engine.begin() as conn:
            conn.execute(text(row.format(inputs=":i", result=":r")),
                         {"id": new, "t": tenant, "u": unit, "s": sub, "i": pack({"facts": {}}), "r": pack(doc)})
            stored = dict(conn.execute(text("SELECT id, result FROM assessments")).all())
            storage = conn.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'assessments'")).scalar()
        assert bytes(stored[old])[:1] == b"{"  # converted as text, not rewritten
        assert bytes(stored[new])[:4] == LZ4_MAGIC
        assert len(stored[new]) < len(stored[old]) / 4
        assert unpack(bytes(stored[old])) == unpack(bytes(stored[new])) == doc
        assert storage == ["toast_tuple_target=8160"]
        command.downgrade(cfg, "0004")
        with engine.connect() as conn:
            totals = conn.execute(text("SELECT result->>'total', result->'indicators'->0->>'name', inputs::text "
                                       "FROM assessments ORDER BY id = :old"), {"old": old}).all()
        assert totals == [("93.97", "决策", '{"facts":{}}'), ("93.97", "决策", '{"facts": {}}')]
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["status"] == "ready"


def test_unknown_route_is_a_problem_document(client):
    r = client.get("/v1/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 404
    assert body["type"].endswith("/not-found")
    assert body["title"]


def test_validation_error_names_the_field_by_json_pointer(client):
    r = client.post("/v1/units", json={"code": "bad code!", "name": "x", "kind": "school"})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    pointers = {e.get("pointer") for e in r.json()["errors"]}
    assert "/code" in pointers
    assert "/region" in pointers
    assert "Traceback" not in r.text
    assert "SELECT" not in r.text


def test_malformed_json_is_a_problem_not_a_500(client):
    r = client.post("/v1/units", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, want: int, timeout: float) -> tuple[int, float, httpx.Response | None]:
    start = time.monotonic()
    last: httpx.Response | None = None
    while time.monotonic() - start < timeout:
        try:
            last = httpx.get(url, timeout=5)
            if last.status_code == want:
                return want, time.monotonic() - start, last
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return (last.status_code if last is not None else 0), time.monotonic() - start, last


def test_database_outage_gives_503_and_recovers_without_restart(tmp_path_factory):
    """A real server of our own: stop it under a running service, then start it again."""
    from app.db.embedded import ensure_running, stop

    data_dir = Path(tmp_path_factory.mktemp("outage", numbered=True)) / "pg"
    url = ensure_running(data_dir)
    command.upgrade(_alembic_config(url), "head")
    from sqlalchemy.orm import Session

    from app.auth.keys import create_key, get_or_create_tenant

    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        _, key = create_key(session, get_or_create_tenant(session, "outage").id, "outage", ["read"])
    engine.dispose()
    auth = {"Authorization": f"Bearer {key}"}
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "JIXIAO_DB_CONNECT_TIMEOUT": "2"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        status, _, _ = _wait(f"{base}/readyz", 200, 30)
        assert status == 200
        stop(data_dir)
        status, elapsed, resp = _wait(f"{base}/readyz", 503, 15)
        assert status == 503, "readyz did not turn 503 after the database stopped"
        assert elapsed < 10
        assert resp is not None
        assert resp.headers["content-type"] == "application/problem+json"
        units = httpx.get(f"{base}/v1/units", timeout=10, headers=auth)
        assert units.status_code == 503
        assert units.headers["content-type"] == "application/problem+json"
        assert units.json()["type"].endswith("/database-unavailable")
        ensure_running(data_dir)
        status, _, _ = _wait(f"{base}/readyz", 200, 30)
        assert status == 200, "the service did not recover after the database came back"
        assert httpx.get(f"{base}/v1/units", timeout=10, headers=auth).status_code == 200
        assert proc.poll() is None, "the service process must be the same one"
    finally:
        proc.terminate()
        proc.wait(10)
        stop(data_dir)
