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


def test_json_numbers_are_stored_as_the_exact_text_sent_by_both_write_paths(client):
    """A platform that sends JSON numbers (318.98, 5.5) gets back exactly those digits as text,
    whether it PUTs the submission or sends it in a batch item (scored in a worker process)."""
    data = seed("001")
    facts = {**data["facts"], "procurement_actual": 318.98, "procurement_planned": 326.61}
    overrides = {"3.4.2": {"score": 5.5, "reason": "满意度以评分表为准"}}
    doc = {"facts": facts, "answers": data["answers"], "overrides": overrides}
    unit = create_unit(client)
    put = client.put(f"/v1/units/{unit['id']}/submissions/2023", json=doc)
    assert put.status_code == 201, put.text[:300]
    item = {"unit": {"code": "FLOATS1", "name": "单位", "kind": "school", "region": "盐田区"}, "fiscal_year": 2023,
            **doc, "ruleset": "shenzhen-yantian@2023", "kind": "self", "evaluator": "e"}
    batch = client.post("/v1/assessments:batch", json={"items": [item]})
    assert batch.status_code == 200, batch.text[:300]
    done = batch.json()["items"][0]
    assert done["status"] == 201, done
    for unit_id in (unit["id"], done["unit_id"]):
        stored = client.get(f"/v1/units/{unit_id}/submissions/2023").json()
        assert stored["facts"]["procurement_actual"] == "318.98"
        assert stored["facts"]["procurement_planned"] == "326.61"
        assert stored["overrides"]["3.4.2"]["score"] == "5.5"
    sub_hash = client.get(f"/v1/units/{unit['id']}/submissions/2023").json()["content_hash"]
    assert client.get(f"/v1/units/{done['unit_id']}/submissions/2023").json()["content_hash"] == sub_hash
