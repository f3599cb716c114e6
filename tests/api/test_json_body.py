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
