"""POST /v1/jobs and its reads: chunks done by a worker, every item's outcome once, cancellation
between chunks, the tenant's own jobs only (row-level security included), idempotency."""

from __future__ import annotations

import orjson
from sqlalchemy import text

from tests.api.factories import create_unit, put_submission, seed
from tests.conftest import make_key
from tests.jobs.conftest import drain, items


def _all_items(client, job_id: str) -> list[dict]:  # type: ignore[no-untyped-def]
    out, cursor = [], None
    while True:
        r = client.get(f"/v1/jobs/{job_id}/items", params={"limit": 3, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        out += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return out


def test_an_assessments_job_is_done_in_chunks_and_answers_every_item(client, db_engine, chunk_size):
    chunk_size(2)
    body = items(5)
    body[3]["facts"] = {**body[3]["facts"], "budget_execution_rate": "not a rate"}
    del body[4]["evaluator"]
    r = client.post("/v1/jobs", json={"kind": "assessments", "items": body})
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["state"] == "queued"
    assert job["items"] == {"total": 5, "stored": 0, "refused": 0}
    assert job["chunks_total"] == 3
    drain()
    done = client.get(f"/v1/jobs/{job['id']}").json()
    assert done["state"] == "succeeded", done
    assert done["items"] == {"total": 5, "stored": 3, "refused": 2}
    assert done["progress"] == "100.0%"
    assert done["started_at"]
    assert done["finished_at"]
    results = _all_items(client, job["id"])
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert [r["status"] for r in results] == [201, 201, 201, 422, 422]
    assert results[3]["problem"]["errors"][0]["pointer"] == "/items/3/facts/budget_execution_rate"
    assert results[4]["problem"]["errors"][0]["pointer"] == "/items/4/evaluator"
    for r in results[:3]:
        a = client.get(r["location"])
        assert a.status_code == 200
        assert a.json()["total"] == r["total"] == "93.97"
    refused = client.get(f"/v1/jobs/{job['id']}/items", params={"outcome": "refused"}).json()["items"]
    assert [r["index"] for r in refused] == [3, 4]
    with db_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM assessments")).scalar() == 3
        chunks = conn.execute(text("SELECT count(*) FROM audit_log WHERE route = 'jobs.chunk'")).scalar()
    assert chunks == 3  # each chunk audited
    listed = client.get("/v1/jobs").json()["items"]
    assert [j["id"] for j in listed] == [job["id"]]


def test_ndjson_items_and_a_line_that_is_not_json(client, chunk_size):
    chunk_size(10)
    lines = [orjson.dumps(i) for i in items(2, prefix="N")] + [b'{"unit": ', orjson.dumps(items(1, prefix="M")[0])]
    r = client.post("/v1/jobs", content=b"\n".join(lines) + b"\n\n", headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 202, r.text
    assert r.json()["items"]["total"] == 4
    drain()
    results = _all_items(client, r.json()["id"])
    assert [r["status"] for r in results] == [201, 201, 422, 201]
    assert results[2]["problem"]["errors"][0]["pointer"] == "/items/2"


def test_an_idempotent_retry_makes_no_second_job(client, db_engine):
    body = {"kind": "assessments", "items": items(1, prefix="I")}
    first = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "job-1"})
    again = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "job-1"})
    assert first.status_code == again.status_code == 202
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    with db_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM jobs")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM procrastinate_jobs")).scalar() == 1


def test_cancel_stops_a_job_between_chunks(client, db_engine, chunk_size):
    import uuid

    from app.jobs import service

    chunk_size(2)
    r = client.post("/v1/jobs", json={"kind": "assessments", "items": items(6, prefix="C")})
    job_id = uuid.UUID(r.json()["id"])
    with db_engine.connect() as conn:
        tenant = conn.execute(text("SELECT tenant_id FROM jobs")).scalar_one()
    # chunk 0 as a worker runs it (it queues chunk 1 first), then the job is cancelled
    assert service.start_chunk(job_id, tenant, 0)
    service.run_chunk(job_id, tenant, 0)
    running = client.get(f"/v1/jobs/{job_id}").json()
    assert running["state"] == "running"
    assert running["items"]["stored"] == 2
    cancelled = client.post(f"/v1/jobs/{job_id}:cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    drain()  # chunk 1 is queued: it finds the job cancelled and does nothing
    after = client.get(f"/v1/jobs/{job_id}").json()
    assert after["state"] == "cancelled"
    assert after["items"]["stored"] == 2
    assert after["chunks_done"] == 1
    with db_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM assessments")).scalar() == 2
        assert conn.execute(text("SELECT count(*) FROM job_items")).scalar() == 2
    assert client.post(f"/v1/jobs/{job_id}:cancel").json()["state"] == "cancelled"


def test_a_finished_job_cannot_be_cancelled(client):
    r = client.post("/v1/jobs", json={"kind": "assessments", "items": items(1, prefix="F")})
    drain()
    assert client.post(f"/v1/jobs/{r.json()['id']}:cancel").status_code == 409


def test_jobs_are_the_tenants_own_row_level_security_included(client, db_engine):
    from fastapi.testclient import TestClient

    from app.db.session import get_engine
    from app.main import app

    r = client.post("/v1/jobs", json={"kind": "assessments", "items": items(2, prefix="T")})
    job_id = r.json()["id"]
    drain()
    _, other = make_key("tenant-b", ["read", "submit", "assess"])
    with TestClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {other}"}) as b:
        assert b.get(f"/v1/jobs/{job_id}").status_code == 404
        assert b.get(f"/v1/jobs/{job_id}/items").status_code == 404
        assert b.post(f"/v1/jobs/{job_id}:cancel").status_code == 404
        assert b.get("/v1/jobs").json()["items"] == []
    with db_engine.connect() as conn:
        owner = str(conn.execute(text("SELECT tenant_id FROM jobs")).scalar_one())
        b_id = str(conn.execute(text("SELECT id FROM tenants WHERE name = 'tenant-b'")).scalar_one())
        # the worker wrote every row as the job's tenant
        assert conn.execute(text("SELECT count(*) FROM job_items WHERE tenant_id = :t"), {"t": owner}).scalar() == 2
    for table in ("jobs", "job_chunks", "job_items"):
        with get_engine().connect() as conn:  # the service's role, no data-layer conditions
            conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": b_id})
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0, table
        with get_engine().connect() as conn:
            conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": owner})
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() > 0, table


def test_a_rescore_scores_every_unit_of_the_cohort_from_its_current_submission(client, db_engine):
    data = seed("001")
    units = [create_unit(client, region="盐田区") for _ in range(3)]
    create_unit(client, region="别处")
    for u in units[:2]:
        assert put_submission(client, u["id"], 2023, data).status_code == 201
    r = client.post("/v1/jobs", json={"kind": "rescore", "ruleset": "shenzhen-yantian", "fiscal_year": 2023,
                                      "region": "盐田区", "evaluator": "复评"})
    assert r.status_code == 202, r.text
    assert r.json()["items"]["total"] == 3
    drain()
    done = client.get(f"/v1/jobs/{r.json()['id']}").json()
    assert done["state"] == "succeeded"
    assert done["items"] == {"total": 3, "stored": 2, "refused": 1}
    results = _all_items(client, r.json()["id"])
    assert sorted(x["total"] for x in results if x["status"] == 201) == ["93.97", "93.97"]
    refused = next(x for x in results if x["status"] != 201)
    assert refused["status"] == 422
    assert refused["problem"]["errors"][0]["pointer"] == f"/items/{refused['index']}/fiscal_year"
    with db_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM submissions")).scalar() == 2  # no new versions


def test_bad_job_requests(client):
    assert client.post("/v1/jobs", json={"kind": "assessments"}).status_code == 422
    r = client.post("/v1/jobs", json={"kind": "rescore", "ruleset": "shenzhen-yantian"})
    assert r.status_code == 422
    assert {e["pointer"] for e in r.json()["errors"]} == {"/fiscal_year", "/evaluator"}
    r = client.post("/v1/jobs", json={"kind": "rescore", "ruleset": "nope", "fiscal_year": 2023, "evaluator": "x"})
    assert r.status_code in (404, 422)
    _, read_only = make_key("tenant-a", ["read", "assess"])
    r = client.post("/v1/jobs", json={"kind": "assessments", "items": items(1)},
                    headers={"Authorization": f"Bearer {read_only}"})
    assert r.status_code == 403
