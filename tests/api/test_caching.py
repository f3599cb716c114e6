"""Conditional GET (app/api/caching.py): strong ETags, 304, immutable assessments, authorization first."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.factories import assess, create_unit, seed_unit_with_submission
from tests.conftest import ALL_SCOPES, make_key


def test_every_get_has_an_etag_and_if_none_match_gives_304(client):
    unit = create_unit(client)
    for url in ("/v1/facts", "/v1/rulesets", f"/v1/units/{unit['id']}", "/v1/units", "/v1/tenant"):
        first = client.get(url)
        assert first.status_code == 200
        etag = first.headers["etag"]
        assert etag.startswith('"')
        assert not etag.startswith("W/")
        assert "Authorization" in first.headers["vary"]
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304, url
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200


def test_a_changed_resource_gets_a_new_tag(client):
    unit = create_unit(client)
    etag = client.get(f"/v1/units/{unit['id']}").headers["etag"]
    assert client.patch(f"/v1/units/{unit['id']}", json={"name": "新名称"}).status_code == 200
    r = client.get(f"/v1/units/{unit['id']}", headers={"If-None-Match": etag})
    assert r.status_code == 200
    assert r.json()["name"] == "新名称"


def test_assessments_are_cached_for_ever(client):
    unit, _ = seed_unit_with_submission(client, "001")
    created = assess(client, unit["id"], 2023, "shenzhen-yantian@2023").json()
    for suffix in ("", "/breakdown", "/inputs"):
        r = client.get(f"/v1/assessments/{created['id']}{suffix}")
        assert r.status_code == 200
        assert "immutable" in r.headers["cache-control"]
        assert client.get(f"/v1/assessments/{created['id']}{suffix}",
                          headers={"If-None-Match": r.headers["etag"]}).status_code == 304
    assert client.get("/v1/assessments").headers["cache-control"] == "private, no-cache"
    # a report prints the unit's current name: revalidated, not immutable
    report = client.get(f"/v1/assessments/{created['id']}/report.csv")
    assert report.headers["cache-control"] == "private, no-cache"
    assert client.get(f"/v1/assessments/{created['id']}/report.csv",
                      headers={"If-None-Match": report.headers["etag"]}).status_code == 304


def test_a_tag_tells_another_tenant_nothing(client, db_engine):
    unit = create_unit(client)
    etag = client.get(f"/v1/units/{unit['id']}").headers["etag"]
    _, other = make_key("tenant-b", ALL_SCOPES)
    from app.main import app

    with TestClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {other}"}) as c:
        assert c.get(f"/v1/units/{unit['id']}", headers={"If-None-Match": etag}).status_code == 404
    with TestClient(app, raise_server_exceptions=False) as anon:
        assert anon.get(f"/v1/units/{unit['id']}", headers={"If-None-Match": "*"}).status_code == 401
