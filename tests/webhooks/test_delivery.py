"""Deliveries from the queue: signed (verified with ``standardwebhooks``), retried, logged,
redelivered, refused at delivery time, the endpoint disabled when it keeps failing; the events
of each kind, to the right tenant only, written in the change's own transaction."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from sqlalchemy import text
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.api.factories import create_unit, put_submission, seed
from tests.conftest import ALL_SCOPES, make_key
from tests.webhooks.conftest import run_worker


def _endpoint(client, url: str, events: list[str]) -> dict[str, Any]:
    r = client.post("/v1/webhook-endpoints", json={"url": url, "events": events})
    assert r.status_code == 201, r.text
    return r.json()


def _unit_with_submission(client) -> dict[str, Any]:
    unit = create_unit(client)
    assert put_submission(client, unit["id"], 2023, seed("001")).status_code == 201
    return unit


def _deliveries(client, endpoint_id: str) -> list[dict[str, Any]]:
    r = client.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries")
    assert r.status_code == 200, r.text
    return r.json()["items"]


def _as(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_delivery_is_signed_as_standard_webhooks_says(client, receiver):
    hook = _endpoint(client, receiver.url + "/a", ["submission.updated"])
    unit = _unit_with_submission(client)
    assert receiver.requests == []  # never sent from the request: the queue does it
    run_worker()
    [got] = receiver.requests
    payload = Webhook(hook["secret"]).verify(got.body, got.headers)
    assert payload["type"] == "submission.updated"
    assert payload["data"]["unit_id"] == unit["id"]
    assert payload["data"]["version"] == 1
    assert payload["data"]["href"] == f"/v1/units/{unit['id']}/submissions/2023"
    assert got.headers["content-type"] == "application/json"
    [delivery] = _deliveries(client, hook["id"])
    assert got.headers["webhook-id"] == delivery["event_id"]
    assert (delivery["state"], delivery["attempts"], delivery["last_status"]) == ("succeeded", 1, 204)
    detail = client.get(f"/v1/webhook-endpoints/{hook['id']}/deliveries/{delivery['id']}").json()
    assert detail["event"] == payload
    [attempt] = detail["attempt_log"]
    assert attempt["outcome"] == "succeeded"
    assert attempt["status"] == 204
    assert attempt["latency_ms"] >= 0
    # another secret does not verify it
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook("whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=").verify(got.body, got.headers)
    tampered = got.body.replace(b"submission.updated", b"submission.UPDATED")
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(hook["secret"]).verify(tampered, got.headers)


def test_after_a_rotation_both_secrets_verify_for_a_while(client, receiver):
    hook = _endpoint(client, receiver.url + "/r", ["submission.updated"])
    new = client.post(f"/v1/webhook-endpoints/{hook['id']}:rotate-secret").json()["secret"]
    _unit_with_submission(client)
    run_worker()
    [got] = receiver.requests
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    assert Webhook(new).verify(got.body, got.headers)["type"] == "submission.updated"
    assert Webhook(hook["secret"]).verify(got.body, got.headers)["type"] == "submission.updated"


def test_a_receiver_that_fails_three_times_then_accepts(client, receiver, settings):
    settings(webhook_retry_schedule="[0, 0, 0, 0, 0]")
    receiver.answer = lambda n, path: (500, "服务暂不可用".encode(), {}) if n <= 3 else (200, b"ok", {})
    hook = _endpoint(client, receiver.url + "/flaky", ["submission.updated"])
    _unit_with_submission(client)
    run_worker()
    assert len(receiver.requests) == 4
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert len(ids) == 1  # the same event every time: the receiver can deduplicate
    for r in receiver.requests:
        Webhook(hook["secret"]).verify(r.body, r.headers)
    [delivery] = _deliveries(client, hook["id"])
    assert (delivery["state"], delivery["attempts"], delivery["last_status"]) == ("succeeded", 4, 200)
    log = client.get(f"/v1/webhook-endpoints/{hook['id']}/attempts").json()["items"]
    assert [(a["outcome"], a["status"], a["response_excerpt"]) for a in log] == [
        ("succeeded", 200, "ok")] + [("http_error", 500, "服务暂不可用")] * 3
    assert client.get(f"/v1/webhook-endpoints/{hook['id']}").json()["enabled"] is True
    metrics = client.get("/metrics").text
    assert 'jixiao_webhook_attempts_total{outcome="http_error",then="retried"}' in metrics
    assert 'jixiao_webhook_attempts_total{outcome="succeeded",then="delivered"}' in metrics
    assert "jixiao_webhook_deliveries_pending 0.0" in metrics


def test_a_failed_attempt_is_retried_later_through_the_queue(client, receiver, settings, db_engine):
    settings(webhook_retry_schedule="[300, 600]")
    receiver.answer = lambda n, path: (503, b"", {})
    hook = _endpoint(client, receiver.url + "/later", ["submission.updated"])
    _unit_with_submission(client)
    before = time.time()
    run_worker()  # the first attempt only: the second is not due yet
    assert len(receiver.requests) == 1
    [delivery] = _deliveries(client, hook["id"])
    assert (delivery["state"], delivery["attempts"], delivery["last_status"]) == ("pending", 1, 503)
    with db_engine.connect() as conn:
        due = conn.execute(text("SELECT extract(epoch FROM scheduled_at) FROM procrastinate_jobs "
                                "WHERE queue_name = 'webhooks' AND status = 'todo'")).scalar_one()
    assert before + 299 <= float(due) <= time.time() + 301
    assert "jixiao_webhook_deliveries_pending 1.0" in client.get("/metrics").text


def test_the_default_schedule_retries_with_growing_waits_for_about_a_day():
    from app.webhooks.delivery import retry_delay

    waits = [retry_delay(n) for n in range(1, 12)]
    assert waits[-1] is None
    seconds = [w.total_seconds() for w in waits[:-1] if w is not None]
    assert seconds == sorted(seconds)
    assert seconds[0] == 5
    assert 22 * 3600 <= sum(seconds) <= 25 * 3600


def test_an_endpoint_that_keeps_failing_is_disabled_with_an_event(client, receiver, settings):
    settings(webhook_retry_schedule="[0, 0]")
    receiver.answer = lambda n, path: (502, b"bad gateway", {}) if path == "/down" else (204, b"", {})
    down = _endpoint(client, receiver.url + "/down", ["submission.updated"])
    watcher = _endpoint(client, receiver.url + "/ops", ["webhook_endpoint.disabled"])
    _unit_with_submission(client)
    run_worker()
    assert len(receiver.on("/down")) == 3
    [delivery] = _deliveries(client, down["id"])
    assert (delivery["state"], delivery["attempts"]) == ("failed", 3)
    state = client.get(f"/v1/webhook-endpoints/{down['id']}").json()
    assert state["enabled"] is False
    assert "3 failed attempts" in state["disabled_reason"]
    [told] = receiver.on("/ops")
    event = Webhook(watcher["secret"]).verify(told.body, told.headers)
    assert event["type"] == "webhook_endpoint.disabled"
    assert event["data"]["endpoint_id"] == down["id"]
    # disabled: a new event is not delivered to it; enabled again, it is
    assert put_submission(client, create_unit(client)["id"], 2023, seed("001")).status_code == 201
    run_worker()
    assert len(receiver.on("/down")) == 3
    r = client.patch(f"/v1/webhook-endpoints/{down['id']}", json={"enabled": True})
    assert r.json()["enabled"] is True
    assert r.json()["disabled_reason"] is None
    # a manual redelivery of the failed one is refused while disabled, allowed now
    receiver.answer = lambda n, path: (204, b"", {})
    again = client.post(f"/v1/webhook-endpoints/{down['id']}/deliveries/{delivery['id']}:redeliver")
    assert again.status_code == 202, again.text
    assert again.json()["state"] == "pending"
    assert again.json()["attempts"] == 0
    run_worker()
    assert len(receiver.on("/down")) == 4
    assert receiver.on("/down")[-1].headers["webhook-id"] == delivery["event_id"]
    assert _deliveries(client, down["id"])[0]["state"] == "succeeded"


def test_redelivering_while_disabled_is_a_conflict(client, receiver):
    hook = _endpoint(client, receiver.url + "/x", ["submission.updated"])
    _unit_with_submission(client)
    run_worker()
    [delivery] = _deliveries(client, hook["id"])
    client.patch(f"/v1/webhook-endpoints/{hook['id']}", json={"enabled": False})
    r = client.post(f"/v1/webhook-endpoints/{hook['id']}/deliveries/{delivery['id']}:redeliver")
    assert r.status_code == 409


def test_the_destination_is_checked_again_at_delivery_time(client, receiver, settings):
    hook = _endpoint(client, receiver.url + "/ssrf", ["submission.updated"])  # allowed when registered
    settings(webhook_allowed_networks="", webhook_retry_schedule="[3600]")
    _unit_with_submission(client)
    run_worker()
    assert receiver.requests == []
    [attempt] = client.get(f"/v1/webhook-endpoints/{hook['id']}/attempts").json()["items"]
    assert attempt["outcome"] == "refused_destination"
    assert "loopback" in attempt["error"]
    assert attempt["status"] is None


def test_redirects_are_not_followed(client, receiver):
    receiver.answer = lambda n, path: (307, b"", {"Location": "/elsewhere"}) if path == "/moved" else (204, b"", {})
    hook = _endpoint(client, receiver.url + "/moved", ["submission.updated"])
    _unit_with_submission(client)
    run_worker()
    assert [r.path for r in receiver.requests] == ["/moved"]
    attempt = client.get(f"/v1/webhook-endpoints/{hook['id']}/attempts").json()["items"][0]
    assert (attempt["outcome"], attempt["status"]) == ("http_error", 307)


def test_a_receiver_that_does_not_answer_in_time_is_a_timeout(client, receiver, settings):
    settings(webhook_read_timeout="0.2", webhook_retry_schedule="[3600]")

    def slow(n: int, path: str) -> tuple[int, bytes, dict[str, str]]:
        time.sleep(1)
        return 204, b"", {}

    receiver.answer = slow
    hook = _endpoint(client, receiver.url + "/slow", ["submission.updated"])
    _unit_with_submission(client)
    run_worker()
    attempt = client.get(f"/v1/webhook-endpoints/{hook['id']}/attempts").json()["items"][0]
    assert attempt["outcome"] == "timeout"
    assert attempt["status"] is None


def test_each_tenant_is_told_of_its_own_events_only(client, receiver, admin_key):
    """The unit's owner learns of an audit firm's assessment; the firm and the owner of an engagement;
    nobody of another tenant's events."""
    firm_id, firm_key = make_key("firm-f", ALL_SCOPES)
    _, b_key = make_key("tenant-b", ALL_SCOPES)
    owner = _endpoint(client, receiver.url + "/owner", ["assessment.created", "engagement.created",
                                                        "engagement.revoked"])
    r = client.post("/v1/webhook-endpoints", headers=_as(firm_key),
                    json={"url": receiver.url + "/firm", "events": ["engagement.created", "engagement.revoked",
                                                                    "assessment.created"]})
    firm = r.json()
    r = client.post("/v1/webhook-endpoints", headers=_as(b_key), json={
        "url": receiver.url + "/b", "events": ["assessment.created", "submission.updated", "engagement.created",
                                               "engagement.revoked"]})
    assert r.status_code == 201
    unit = _unit_with_submission(client)
    own = client.post("/v1/assessments", json={"unit_id": unit["id"], "fiscal_year": 2023,
                                               "ruleset": "shenzhen-yantian@2023", "kind": "self", "evaluator": "本单位"})
    assert own.status_code == 201
    e = client.post("/v1/engagements", json={"firm_tenant_id": firm_id, "unit_id": unit["id"], "fiscal_years": [2023]})
    assert e.status_code == 201
    third = client.post("/v1/assessments", headers=_as(firm_key), json={
        "unit_id": unit["id"], "fiscal_year": 2023, "ruleset": "shenzhen-yantian@2023", "kind": "third_party",
        "evaluator": "某会计师事务所"})
    assert third.status_code == 201, third.text
    assert client.post(f"/v1/engagements/{e.json()['id']}:revoke").status_code == 200
    run_worker()

    def types(path: str, secret: str) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for got in receiver.on(path):
            event = Webhook(secret).verify(got.body, got.headers)
            out.append((event["type"], event["data"]))
        return sorted(out, key=lambda t: t[0])

    told = types("/owner", owner["secret"])
    assert [t for t, _ in told] == ["assessment.created", "engagement.created", "engagement.revoked"]
    created = told[0][1]
    assert created["id"] == third.json()["id"]
    assert created["assessed_by_tenant_id"] == firm_id
    assert created["kind"] == "third_party"
    assert created["total"] == third.json()["total"]
    assert created["href"] == f"/v1/assessments/{third.json()['id']}"
    # the firm is told of its engagement, not of its own assessment
    assert [t for t, _ in types("/firm", firm["secret"])] == ["engagement.created", "engagement.revoked"]
    assert receiver.on("/b") == []


def test_the_event_is_written_in_the_changes_transaction_only(client, receiver, db_engine):
    from app.auth import scoping
    from app.db.session import get_sessionmaker
    from app.webhooks import events

    _endpoint(client, receiver.url + "/tx", ["submission.updated", "job.succeeded"])
    unit = _unit_with_submission(client)
    stale = put_submission(client, unit["id"], 2023, seed("001"), if_match='"00000000-0000-0000-0000-000000000000"')
    assert stale.status_code == 412  # refused: no new version, no event
    tenant = uuid.UUID(client.get("/v1/tenant").json()["id"])
    with get_sessionmaker()() as session:
        session.begin()
        scoping.set_tenant(session, tenant)
        assert events.emit(session, tenant, "job.succeeded", {"id": "x"}) is not None
        session.rollback()
    with db_engine.connect() as conn:
        kinds = conn.execute(text("SELECT type FROM webhook_events")).scalars().all()
        jobs = conn.execute(text("SELECT count(*) FROM procrastinate_jobs WHERE queue_name = 'webhooks'")).scalar()
    assert kinds == ["submission.updated"]
    assert jobs == 1


def test_jobs_tell_their_end_through_the_hook(client, receiver):
    from app.auth import scoping
    from app.db.session import get_sessionmaker
    from app.jobs.events import job_finished

    hook = _endpoint(client, receiver.url + "/jobs", ["job.succeeded", "job.failed"])
    tenant = uuid.UUID(client.get("/v1/tenant").json()["id"])
    job = uuid.uuid4()
    with get_sessionmaker()() as session, session.begin():
        scoping.set_tenant(session, tenant)
        job_finished(session, job_id=job, tenant_id=tenant, state="failed",
                     summary={"id": job, "state": "failed", "items_total": 3})
    run_worker()
    [got] = receiver.requests
    event = Webhook(hook["secret"]).verify(got.body, got.headers)
    assert event == {"type": "job.failed", "timestamp": event["timestamp"],
                     "data": {"id": str(job), "state": "failed", "items_total": 3}}


def test_a_tenant_cannot_emit_to_a_tenant_it_has_nothing_to_do_with(client, receiver):
    from sqlalchemy.exc import DBAPIError

    from app.auth import scoping
    from app.db.session import get_sessionmaker
    from app.webhooks import events

    _endpoint(client, receiver.url + "/a", ["job.succeeded"])
    a = uuid.UUID(client.get("/v1/tenant").json()["id"])
    b_id, _ = make_key("tenant-b", ALL_SCOPES)
    with get_sessionmaker()() as session, session.begin():
        scoping.set_tenant(session, uuid.UUID(b_id))
        with pytest.raises(DBAPIError, match="engaged"):
            events.emit(session, a, "job.succeeded", {})


def test_row_level_security_keeps_each_tenants_webhook_rows(client, receiver):
    from app.auth import scoping
    from app.db.session import get_sessionmaker

    _endpoint(client, receiver.url + "/a", ["submission.updated"])
    _unit_with_submission(client)
    run_worker()
    b_id, _ = make_key("tenant-b", ALL_SCOPES)
    a_id = client.get("/v1/tenant").json()["id"]
    tables = ("webhook_endpoints", "webhook_events", "webhook_deliveries", "webhook_attempts")
    with get_sessionmaker()() as session, session.begin():
        for tenant, expected in ((b_id, 0), (a_id, 1)):
            scoping.set_tenant(session, uuid.UUID(tenant))
            for table in tables:  # no tenant condition: PostgreSQL's policies alone
                assert session.execute(text(f"SELECT count(*) FROM {table}")).scalar() == expected, (tenant, table)


def test_a_job_tells_its_success_and_the_submissions_it_wrote(client, receiver):
    from tests.jobs.conftest import items

    hook = _endpoint(client, receiver.url + "/job", ["job.succeeded", "submission.updated"])
    r = client.post("/v1/jobs", json={"kind": "assessments", "items": items(2, prefix="W")})
    assert r.status_code == 202, r.text
    run_worker()
    told = [Webhook(hook["secret"]).verify(got.body, got.headers) for got in receiver.requests]
    assert sorted(e["type"] for e in told) == ["job.succeeded", "submission.updated", "submission.updated"]
    [done] = [e for e in told if e["type"] == "job.succeeded"]
    assert done["data"]["id"] == r.json()["id"]
    assert done["data"]["state"] == "succeeded"
    assert done["data"]["items"]["stored"] == 2


def test_a_write_with_no_tenant_set_tells_nobody(client, receiver, db_engine):
    """The owner's maintenance (outside the service, no tenant set) is not refused by the triggers."""
    _endpoint(client, receiver.url + "/m", ["submission.updated"])
    unit = _unit_with_submission(client)
    with db_engine.begin() as conn:
        conn.execute(text("INSERT INTO submissions (id, tenant_id, unit_id, fiscal_year, version, facts, answers, "
                          "overrides, content_hash) SELECT gen_random_uuid(), tenant_id, unit_id, fiscal_year, 2, "
                          "facts, answers, overrides, content_hash FROM submissions WHERE unit_id = :u"),
                     {"u": unit["id"]})
        assert conn.execute(text("SELECT count(*) FROM webhook_events")).scalar() == 1  # the PUT's only
