from __future__ import annotations

from tests.api.factories import create_unit, put_submission, seed


def test_put_get_replace_with_etag(client):
    unit = create_unit(client)
    data = seed("001")
    r = put_submission(client, unit["id"], 2023, data)
    assert r.status_code == 201
    assert r.json()["version"] == 1
    tag = r.headers["etag"]
    got = client.get(f"/v1/units/{unit['id']}/submissions/2023")
    assert got.headers["etag"] == tag
    assert got.json()["facts"]["procurement_actual"] == "318.98"

    no_tag = put_submission(client, unit["id"], 2023, data)
    assert no_tag.status_code == 428
    ok = put_submission(client, unit["id"], 2023, data, if_match=tag)
    assert ok.status_code == 200
    assert ok.json()["version"] == 2
    stale = put_submission(client, unit["id"], 2023, data, if_match=tag)
    assert stale.status_code == 412
    assert stale.headers["etag"] == ok.headers["etag"]
    versions = client.get(f"/v1/units/{unit['id']}/submissions/2023/versions").json()["items"]
    assert [v["version"] for v in versions] == [1, 2]
    assert client.get(f"/v1/units/{unit['id']}/submissions/2023/versions/1").json()["version"] == 1


def test_bad_facts_are_named_and_nothing_is_written(client):
    unit = create_unit(client)
    bad = {"facts": {"procurement_actual": "-5", "staff_authorized": "3.5", "satisfaction_rate": "96",
                     "no_such_fact": 1, "financial_violation": "no"}}
    r = put_submission(client, unit["id"], 2023, bad)
    assert r.status_code == 422
    pointers = {e["pointer"] for e in r.json()["errors"]}
    assert pointers == {"/facts/procurement_actual", "/facts/staff_authorized", "/facts/satisfaction_rate",
                        "/facts/no_such_fact", "/facts/financial_violation"}
    assert client.get(f"/v1/units/{unit['id']}/submissions/2023").status_code == 404


def test_submission_for_unknown_unit_is_404(client):
    r = put_submission(client, "00000000-0000-0000-0000-000000000001", 2023, {"facts": {}})
    assert r.status_code == 404


def test_out_of_range_numbers_and_forged_cursors_are_4xx(client):
    unit = create_unit(client)
    r = client.get(f"/v1/units/{unit['id']}/submissions/2023/versions/2147483648")
    assert r.status_code == 422
    import base64
    import json

    forged = base64.urlsafe_b64encode(json.dumps([12345]).encode()).decode().rstrip("=")
    assert client.get("/v1/units", params={"cursor": forged}).status_code == 400
    assert client.get("/v1/assessments", params={"cursor": base64.urlsafe_b64encode(b"[1,2]").decode().rstrip("=")}).status_code == 400
    assert client.get("/v1/audit-log", params={"cursor": base64.urlsafe_b64encode(b'["x"]').decode().rstrip("=")}).status_code == 400
