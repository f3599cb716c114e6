"""Request bodies are parsed by orjson (app.api.deps.Route); malformed JSON is still a 422 problem."""

from __future__ import annotations


def test_malformed_json_is_a_422_problem(client) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/units", content=b'{"code": "U1", "name": ', headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "JSON" in r.text


def test_nan_is_not_json(client) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/units", content=b'{"code": NaN}', headers={"Content-Type": "application/json"})
    assert r.status_code == 422


def test_assessment_routes_check_the_key_before_the_body(anonymous) -> None:  # type: ignore[no-untyped-def]
    # createAssessment and the batch read their body themselves (one thread-pool hop per request):
    # a caller without a valid key learns nothing about the body, exactly as on every other route.
    for path in ("/v1/assessments", "/v1/assessments:batch"):
        r = anonymous.post(path, content=b"{not json", headers={"Authorization": "Bearer jx_deadbeef_nope",
                                                                "Content-Type": "application/json"})
        assert r.status_code == 401, (path, r.text)
        assert r.json()["status"] == 401


def test_assessment_body_errors_are_422_problems_with_pointers(client) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/assessments", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    r = client.post("/v1/assessments", json={"unit_id": "nope", "fiscal_year": 1800, "ruleset": "x", "kind": "self",
                                             "evaluator": "e"})
    assert r.status_code == 422
    pointers = {e.get("pointer") for e in r.json()["errors"]}
    assert {"/unit_id", "/fiscal_year"} <= pointers
    r = client.post("/v1/assessments", content=b'{"unit_id": 1}', headers={"Content-Type": "text/plain"})
    assert r.status_code == 422
    assert "application/json" in r.text
    r = client.post("/v1/assessments:batch", json={"items": []})
    assert r.status_code == 422
    assert r.json()["errors"][0]["pointer"] == "/items"
