"""GET /metrics: Prometheus counters that move with what the service does, and labels that hold
route templates and fixed words only (no ids, no codes, nothing a caller sent)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.api.factories import seed, seed_unit_with_submission


def _samples(client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:  # type: ignore[no-untyped-def]
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def _value(samples, name: str, **labels: str) -> float:  # type: ignore[no-untyped-def]
    return float(samples.get((name, frozenset(labels.items())), 0.0))


def test_metrics_count_requests_assessments_and_batch_items(client, anonymous):  # type: ignore[no-untyped-def]
    unit, _ = seed_unit_with_submission(client, "001")
    before = _samples(anonymous)  # no key needed, like /healthz

    body = {"unit_id": unit["id"], "fiscal_year": 2023, "ruleset": "shenzhen-yantian@2023", "kind": "self",
            "evaluator": "e"}
    assert client.post("/v1/assessments", json=body).status_code == 201
    assert client.post("/v1/assessments", json={**body, "ruleset": "nowhere"}).status_code == 404
    assert client.get(f"/v1/units/{unit['id']}").status_code == 200
    assert client.get("/no/such/path/12345").status_code == 404
    data = seed("001")
    good = {"unit": {"code": "METRIC0001", "name": "单位", "kind": "school", "region": "区"}, "fiscal_year": 2023,
            "facts": data["facts"], "answers": data["answers"], "overrides": data.get("overrides", {}),
            "ruleset": "shenzhen-yantian@2023", "kind": "self", "evaluator": "batch"}
    bad = {**good, "unit": {**good["unit"], "code": "METRIC0002"}, "ruleset": "nowhere@1"}
    r = client.post("/v1/assessments:batch", json={"items": [good, bad]})
    assert r.status_code == 200
    assert (r.json()["succeeded"], r.json()["failed"]) == (1, 1)

    after = _samples(anonymous)

    def delta(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    requests = "jixiao_http_requests_total"
    assert delta(requests, method="POST", route="/v1/assessments", status="201") == 1
    assert delta(requests, method="POST", route="/v1/assessments", status="404") == 1
    assert delta(requests, method="GET", route="/v1/units/{unit_id}", status="200") == 1
    assert delta(requests, method="GET", route="unmatched", status="404") == 1
    assert delta(requests, method="POST", route="/v1/assessments:batch", status="200") == 1
    assert delta("jixiao_http_request_duration_seconds_count", method="POST", route="/v1/assessments") == 2
    assert delta("jixiao_http_request_duration_seconds_sum", method="POST", route="/v1/assessments") > 0
    # seed 001 scores 93.97, 优, complete: once through the route, once in the batch
    assert delta("jixiao_assessments_stored_total", via="single", status="complete", grade="优") == 1
    assert delta("jixiao_assessments_stored_total", via="batch", status="complete", grade="优") == 1
    assert delta("jixiao_batch_items_total", outcome="stored") == 1
    assert delta("jixiao_batch_items_total", outcome="refused") == 1
    # the scrape itself is in progress while it is answered
    assert _value(after, "jixiao_http_requests_in_progress") >= 1
    states = {dict(labels)["state"] for name, labels in after if name == "jixiao_db_pool_connections"}
    assert states >= {"checked_out", "idle", "overflow"}

    page = anonymous.get("/metrics").text
    for private in (unit["id"], unit["code"], "METRIC0001", "12345", "nowhere"):
        assert private not in page


def test_a_refused_call_is_counted_with_its_status(anonymous):  # type: ignore[no-untyped-def]
    before = _samples(anonymous)
    assert anonymous.get("/v1/units").status_code == 401
    after = _samples(anonymous)
    key = ("jixiao_http_requests_total", frozenset({"method": "GET", "route": "/v1/units", "status": "401"}.items()))
    assert after.get(key, 0) - before.get(key, 0) == 1
