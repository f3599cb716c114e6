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


def _chunks(body: bytes, size: int = 4096):  # type: ignore[no-untyped-def]
    for i in range(0, len(body), size):
        yield body[i:i + size]


def test_a_body_over_the_limit_is_a_413_problem_and_nothing_is_stored(client, db_engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import orjson
    from sqlalchemy import func, select

    from app.db.models import Unit
    from app.settings import get_settings

    monkeypatch.setattr(get_settings(), "max_body_bytes", 500)
    unit = {"code": "BIG1", "name": "大单位" * 60, "kind": "school", "region": "区"}  # ~600 bytes of JSON
    body = orjson.dumps(unit)
    assert len(body) > 500
    announced = client.post("/v1/units", content=body, headers={"Content-Type": "application/json"})
    chunked = client.post("/v1/units", content=_chunks(body), headers={"Content-Type": "application/json"})
    for r in (announced, chunked):  # with Content-Length, and streamed without one
        assert r.status_code == 413, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["type"].endswith("/payload-too-large")
        assert "500 bytes" in r.json()["detail"]
    assert "content-length" not in {k.lower() for k in chunked.request.headers}
    # the routes that read their bodies themselves, with an Idempotency-Key (hashed before the route runs)
    for path in ("/v1/assessments", "/v1/assessments:batch"):
        r = client.post(path, content=_chunks(b'{"items": [' + b'{}, ' * 1000 + b'{}]}'),
                        headers={"Content-Type": "application/json", "Idempotency-Key": f"big-{path}"})
        assert r.status_code == 413, (path, r.text)
    with db_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Unit)) == 0
    monkeypatch.setattr(get_settings(), "max_body_bytes", 4000)
    assert client.post("/v1/units", content=body, headers={"Content-Type": "application/json"}).status_code == 201
