"""``/v1/webhook-endpoints``: registration, the secret shown once, the destination check, tenant scoping."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import ALL_SCOPES, make_key

URL = "http://127.0.0.1:9/hooks"  # allowed by the test suite's JIXIAO_WEBHOOK_ALLOWED_NETWORKS


def _create(client, url: str = URL, events=("assessment.created",), **extra):
    return client.post("/v1/webhook-endpoints", json={"url": url, "events": list(events), **extra})


def test_register_read_change_delete(client):
    r = _create(client, description="平台 生产", events=["assessment.created", "job.failed"])
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["secret"].startswith("whsec_")
    assert made["secret_withheld"] is False
    assert r.headers["Location"] == f"/v1/webhook-endpoints/{made['id']}"
    assert r.headers["Cache-Control"] == "no-store"
    assert made["enabled"] is True
    assert made["events"] == ["assessment.created", "job.failed"]

    got = client.get(f"/v1/webhook-endpoints/{made['id']}")
    assert got.status_code == 200
    assert "secret" not in got.json()
    assert client.get("/v1/webhook-endpoints").json()["items"] == [got.json()]

    p = client.patch(f"/v1/webhook-endpoints/{made['id']}", json={"enabled": False, "description": "停用"})
    assert p.status_code == 200, p.text
    assert (p.json()["enabled"], p.json()["description"], p.json()["url"]) == (False, "停用", URL)

    assert client.delete(f"/v1/webhook-endpoints/{made['id']}").status_code == 204
    assert client.get(f"/v1/webhook-endpoints/{made['id']}").status_code == 404


def test_the_secret_is_stored_encrypted_and_a_replay_withholds_it(client, db_engine):
    first = client.post("/v1/webhook-endpoints", headers={"Idempotency-Key": "w1"},
                        json={"url": URL, "events": ["submission.updated"]})
    assert first.status_code == 201
    secret = first.json()["secret"]
    again = client.post("/v1/webhook-endpoints", headers={"Idempotency-Key": "w1"},
                        json={"url": URL, "events": ["submission.updated"]})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (again.json()["id"], again.json()["secret"], again.json()["secret_withheld"]) == (first.json()["id"], None, True)
    with db_engine.connect() as conn:
        stored = conn.execute(text("SELECT secret FROM webhook_endpoints")).scalars().all()
        kept = conn.execute(text("SELECT body FROM idempotency_keys")).scalar_one()
    assert len(stored) == 1
    assert secret.encode() not in bytes(stored[0])
    assert secret.split("_", 1)[1].encode() not in bytes(stored[0])
    assert secret.encode() not in bytes(kept)
    from app.webhooks.secrets import unseal

    assert unseal(stored[0]) == secret


def test_rotation_gives_a_new_secret_and_keeps_the_old_one_signing_for_a_while(client):
    made = _create(client).json()
    r = client.post(f"/v1/webhook-endpoints/{made['id']}:rotate-secret")
    assert r.status_code == 200, r.text
    assert r.json()["secret"].startswith("whsec_")
    assert r.json()["secret"] != made["secret"]
    assert r.json()["previous_secret_expires_at"] is not None


@pytest.mark.parametrize(("url", "pointer_message"), [
    ("http://127.0.0.2/x", "loopback"),
    ("http://[::1]/x", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://100.100.100.200/latest/meta-data/", "metadata"),
    ("http://10.0.0.5/x", "private"),
    ("file:///etc/passwd", "http or https"),
])
def test_destinations_that_are_refused_at_registration(client, url, pointer_message):
    r = _create(client, url=url)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["pointer"] == "/url"
    assert pointer_message in r.json()["errors"][0]["message"]


def test_an_intranet_range_is_allowed_only_through_the_operators_allow_list(client, settings):
    assert _create(client, url="http://10.8.1.20/jixiao").status_code == 422
    settings(webhook_allowed_networks="10.8.0.0/16")
    assert _create(client, url="http://10.8.1.20/jixiao").status_code == 201
    made = _create(client, url="http://10.8.1.21/jixiao").json()
    r = client.patch(f"/v1/webhook-endpoints/{made['id']}", json={"url": "http://10.9.0.1/x"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["pointer"] == "/url"


def test_bad_bodies_name_their_field(client):
    assert _create(client, events=[]).json()["errors"][0]["pointer"] == "/events"
    assert _create(client, events=["assessment.deleted"]).json()["errors"][0]["pointer"].startswith("/events")
    assert _create(client, events=["job.failed", "job.failed"]).status_code == 422
    made = _create(client).json()
    for name in ("url", "events", "description", "enabled"):  # null is not "leave it": refused, not ignored
        r = client.patch(f"/v1/webhook-endpoints/{made['id']}", json={name: None})
        assert r.status_code == 422
        assert r.json()["errors"][0]["pointer"] == f"/{name}"
    r = client.patch(f"/v1/webhook-endpoints/{made['id']}", json={"enabled": None})
    assert r.status_code == 422
    assert r.json()["errors"][0]["pointer"] == "/enabled"


def test_endpoints_are_the_tenants_own_and_need_admin(client, db_engine):
    made = _create(client).json()
    _, b_key = make_key("tenant-b", ALL_SCOPES)
    _, read_key = make_key("tenant-a", ["read", "submit", "assess"])
    b = {"Authorization": f"Bearer {b_key}"}
    assert client.get(f"/v1/webhook-endpoints/{made['id']}", headers=b).status_code == 404
    assert client.get("/v1/webhook-endpoints", headers=b).json()["items"] == []
    assert client.patch(f"/v1/webhook-endpoints/{made['id']}", headers=b, json={"enabled": False}).status_code == 404
    assert client.post(f"/v1/webhook-endpoints/{made['id']}:rotate-secret", headers=b).status_code == 404
    assert client.delete(f"/v1/webhook-endpoints/{made['id']}", headers=b).status_code == 404
    assert client.get(f"/v1/webhook-endpoints/{made['id']}/deliveries", headers=b).status_code == 404
    r = client.get("/v1/webhook-endpoints", headers={"Authorization": f"Bearer {read_key}"})
    assert r.status_code == 403
    assert client.get(f"/v1/webhook-endpoints/{made['id']}").json()["enabled"] is True


def test_changes_are_audited(client):
    made = _create(client).json()
    client.post(f"/v1/webhook-endpoints/{made['id']}:rotate-secret")
    entries = client.get("/v1/audit-log", params={"resource_type": "webhook_endpoint"}).json()["items"]
    assert [(e["method"], e["resource_id"]) for e in entries] == [("POST", made["id"]), ("POST", made["id"])]
    assert all(made["secret"] not in str(e) for e in entries)


def test_the_key_encrypting_the_secrets_can_be_rotated(client, settings, db_engine):
    from cryptography.fernet import Fernet
    from typer.testing import CliRunner

    from app.cli import app as cli
    from app.webhooks.secrets import unseal

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings(webhook_secret_keys=old)
    secret = _create(client).json()["secret"]
    settings(webhook_secret_keys=f"{new},{old}")
    done = CliRunner().invoke(cli, ["webhooks", "reencrypt"])
    assert done.exit_code == 0, done.output
    assert "1 endpoint secrets" in done.stdout
    settings(webhook_secret_keys=new)  # the old key is gone: the secret still opens
    with db_engine.connect() as conn:
        stored = conn.execute(text("SELECT secret FROM webhook_endpoints")).scalar_one()
    assert unseal(stored) == secret
    settings(webhook_secret_keys=old)
    with pytest.raises(ValueError, match="no key"):
        unseal(stored)


def test_a_tenant_has_at_most_twenty_endpoints(client):
    for _ in range(20):
        assert _create(client).status_code == 201
    r = _create(client)
    assert r.status_code == 409
    assert "at most 20" in r.json()["detail"]
