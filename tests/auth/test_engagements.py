"""Engagements as an audit firm and its client need them: the firm reads its grants with `read`,
a grant is not made twice."""

from __future__ import annotations

from tests.api.factories import create_unit
from tests.conftest import make_key


def test_a_firm_reads_the_engagements_granted_to_it_with_read(client, anonymous):
    unit = create_unit(client)
    firm_id, firm_reader = make_key("audit-firm", ["read"])
    eng = client.post("/v1/engagements", json={"firm_tenant_id": firm_id, "unit_id": unit["id"], "fiscal_years": [2023]})
    assert eng.status_code == 201
    r = anonymous.get("/v1/engagements", headers={"Authorization": f"Bearer {firm_reader}"})
    assert r.status_code == 200
    assert [(e["id"], e["unit_id"], e["fiscal_years"]) for e in r.json()["items"]] == [
        (eng.json()["id"], unit["id"], [2023])]
    _, stranger = make_key("other-firm", ["read"])
    assert anonymous.get("/v1/engagements", headers={"Authorization": f"Bearer {stranger}"}).json()["items"] == []


def test_an_identical_active_engagement_is_not_created_twice(client, db_engine):
    from sqlalchemy import func, select

    from app.db.models import Engagement

    unit = create_unit(client)
    firm_id, _ = make_key("audit-firm", ["read"])
    body = {"firm_tenant_id": firm_id, "unit_id": unit["id"], "fiscal_years": [2023, 2022]}
    first = client.post("/v1/engagements", json=body)
    assert first.status_code == 201
    again = client.post("/v1/engagements", json={**body, "fiscal_years": [2022, 2023, 2023]})
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.headers["location"] == f"/v1/engagements/{first.json()['id']}"
    assert again.json()["errors"][0]["pointer"] == "/unit_id"
    # other years are another grant; a revoked grant may be made again
    assert client.post("/v1/engagements", json={**body, "fiscal_years": [2024]}).status_code == 201
    assert client.post(f"/v1/engagements/{first.json()['id']}:revoke").status_code == 200
    assert client.post("/v1/engagements", json=body).status_code == 201
    with db_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Engagement)).scalar_one() == 3


def test_concurrent_identical_engagements_make_one_row(client, db_engine):
    """The route's check and a partial unique index: two identical grants at once, one row."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import func, select

    from app.db.models import Engagement

    unit = create_unit(client)
    firm_id, _ = make_key("audit-firm", ["read"])
    body = {"firm_tenant_id": firm_id, "unit_id": unit["id"], "fiscal_years": [2023]}
    with ThreadPoolExecutor(4) as pool:
        codes = sorted(r.status_code for r in pool.map(lambda _: client.post("/v1/engagements", json=body), range(4)))
    assert codes == [201, 409, 409, 409]
    with db_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Engagement)).scalar_one() == 1


def test_engagement_years_and_key_scopes_are_bounded(client):
    unit = create_unit(client)
    firm_id, _ = make_key("audit-firm", ["read"])
    r = client.post("/v1/engagements", json={"firm_tenant_id": firm_id, "unit_id": unit["id"],
                                             "fiscal_years": list(range(1990, 2100))})
    assert r.status_code == 422
    assert r.json()["errors"][0]["pointer"] == "/fiscal_years"
    r = client.post("/v1/engagements", json={"firm_tenant_id": firm_id, "unit_id": unit["id"], "fiscal_years": [99999]})
    assert r.status_code == 422
    r = client.post("/v1/keys", json={"name": "k", "scopes": ["read"] * 100})
    assert r.status_code == 422
    assert r.json()["errors"][0]["pointer"] == "/scopes"
