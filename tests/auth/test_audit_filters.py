"""The audit log read by unit, resource, key and outcome (issue "For integrators")."""

from __future__ import annotations

from tests.api.factories import assess, create_unit, seed_unit_with_submission
from tests.conftest import make_key


def test_the_audit_log_filters_by_unit_resource_key_and_outcome(client, anonymous):
    school, _ = seed_unit_with_submission(client, "001")
    other = create_unit(client)
    made = assess(client, school["id"], 2023, "shenzhen-yantian@2023")
    assert made.status_code == 201
    assert client.patch(f"/v1/units/{other['id']}", json={"name": "改名"}).status_code == 200
    assert client.post("/v1/units", json={"code": school["code"], "name": "dup", "kind": "school",
                                          "region": "r"}).status_code == 409
    _, reader = make_key("tenant-a", ["read"])
    assert anonymous.patch(f"/v1/units/{school['id']}", json={"name": "x"},
                           headers={"Authorization": f"Bearer {reader}"}).status_code == 403

    def listed(**params):  # type: ignore[no-untyped-def]
        r = client.get("/v1/audit-log", params=params)
        assert r.status_code == 200, r.text
        return [(i["method"], i["route"], i["status"]) for i in r.json()["items"]]

    by_school = listed(unit_id=school["id"])
    assert ("POST", "/v1/assessments", 201) in by_school
    assert ("PUT", "/v1/units/{unit_id}/submissions/{fiscal_year}", 201) in by_school
    assert ("PATCH", "/v1/units/{unit_id}", 403) in by_school
    assert all(i["unit_id"] == school["id"] for i in client.get("/v1/audit-log", params={"unit_id": school["id"]}).json()["items"])
    assert ("PATCH", "/v1/units/{unit_id}", 200) not in by_school
    assert listed(resource_type="assessment", resource_id=made.json()["id"]) == [("POST", "/v1/assessments", 201)]
    assert listed(outcome="refused") == [("PATCH", "/v1/units/{unit_id}", 403)]
    assert listed(outcome="failed") == [("POST", "/v1/units", 409)]
    assert ("POST", "/v1/units", 409) not in listed(outcome="succeeded")
    reader_id = client.get("/v1/audit-log", params={"outcome": "refused"}).json()["items"][0]["key_id"]
    assert listed(key_id=reader_id) == [("PATCH", "/v1/units/{unit_id}", 403)]
    bad = client.get("/v1/audit-log", params={"outcome": "maybe"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["parameter"] == "outcome"
