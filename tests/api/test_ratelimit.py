"""Rate limits per API key and per source address (issue 13, "Rate limits per API key").

The suite runs with the limiter off (tests/conftest.py); here the service's app is wrapped in a
limiter of its own, with small limits, outermost as in the app (app.main registers it inside the
metrics middleware only).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.ratelimit import RateLimitMiddleware, shares
from app.settings import Settings
from tests.conftest import make_key

KEY_LIMIT = 5
ANONYMOUS_LIMIT = 3


def _limited(**overrides: Any) -> RateLimitMiddleware:
    from app.main import app

    settings = Settings(**{"rate_limit_enabled": True, "rate_limit_per_key": f"{KEY_LIMIT}/hour",
                           "rate_limit_anonymous": f"{ANONYMOUS_LIMIT}/hour", "rate_limit_processes": 1, **overrides})
    return RateLimitMiddleware(app, settings)


@pytest.fixture
def limited(db_engine) -> RateLimitMiddleware:  # type: ignore[no-untyped-def]
    return _limited()


def _client(app: RateLimitMiddleware, address: str, key: str | None = None) -> TestClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return TestClient(app, raise_server_exceptions=False, headers=headers, client=(address, 40000))


@pytest.fixture
def victim_key(db_engine) -> str:  # type: ignore[no-untyped-def]
    return make_key("tenant-a", ["read"])[1]


def _remaining(response: Any) -> int:
    match = re.fullmatch(r'"(key|address)-3600s";r=(\d+);t=(\d+)', response.headers["ratelimit"])
    assert match, response.headers["ratelimit"]
    return int(match.group(2))


def test_a_key_over_its_limit_gets_429_with_retry_after_and_ratelimit_headers(limited, victim_key) -> None:  # type: ignore[no-untyped-def]
    with _client(limited, "10.0.0.1", victim_key) as c:
        first = c.get("/v1/units")  # the key's first request here: charged to its address (not yet verified)
        assert first.status_code == 200
        assert first.headers["ratelimit-policy"] == f'"address-3600s";q={ANONYMOUS_LIMIT};w=3600'
        seen = []
        for _ in range(KEY_LIMIT):
            r = c.get("/v1/units")
            assert r.status_code == 200
            assert r.headers["ratelimit-policy"] == f'"key-3600s";q={KEY_LIMIT};w=3600'
            seen.append(_remaining(r))
        assert seen == list(range(KEY_LIMIT - 1, -1, -1))
        refused = c.get("/v1/units")
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    body = refused.json()
    assert body["status"] == 429
    assert body["type"].endswith("/too-many-requests")
    assert 0 < int(refused.headers["retry-after"]) <= 3600
    assert refused.headers["ratelimit-policy"] == f'"key-3600s";q={KEY_LIMIT};w=3600'
    assert _remaining(refused) == 0


def test_anonymous_requests_are_limited_per_source_address(limited) -> None:  # type: ignore[no-untyped-def]
    with _client(limited, "10.0.0.2") as c:
        assert [c.get("/v1/units").status_code for _ in range(ANONYMOUS_LIMIT)] == [401] * ANONYMOUS_LIMIT
        refused = c.post("/v1/units", content=b"{bad")  # refused before the body is read
        assert refused.status_code == 429
        assert refused.headers["retry-after"].isdigit()
    with _client(limited, "10.0.0.3") as other:  # another address has its own budget
        assert other.get("/v1/units").status_code == 401


def test_a_forged_key_with_a_real_prefix_spends_the_forgers_budget_not_the_keys(limited, victim_key) -> None:  # type: ignore[no-untyped-def]
    prefix = victim_key.rsplit("_", 1)[0]  # jx_1a2b3c4d: shown in listings and the audit log, not secret
    with _client(limited, "10.0.0.4", victim_key) as victim:
        assert victim.get("/v1/units").status_code == 200  # verified: from now on charged to the key
        assert _remaining(victim.get("/v1/units")) == KEY_LIMIT - 1
        with _client(limited, "10.0.0.5", f"{prefix}_forged") as forger:
            statuses = [forger.get("/v1/units").status_code for _ in range(ANONYMOUS_LIMIT + 2)]
        assert statuses == [401] * ANONYMOUS_LIMIT + [429, 429]
        after = victim.get("/v1/units")
        assert after.status_code == 200
        assert _remaining(after) == KEY_LIMIT - 2  # untouched by the forger's 5 requests


def test_a_revoked_key_is_charged_to_its_address_again(limited, client) -> None:  # type: ignore[no-untyped-def]
    created = client.post("/v1/keys", json={"name": "soon revoked", "scopes": ["read"]})
    assert created.status_code == 201, created.text
    key, key_id = created.json()["key"], created.json()["id"]
    with _client(limited, "10.0.0.6", key) as c:
        assert c.get("/v1/units").status_code == 200
        assert c.get("/v1/units").headers["ratelimit-policy"].startswith('"key-')
        assert client.post(f"/v1/keys/{key_id}:revoke").status_code == 200
        assert c.get("/v1/units").status_code == 401  # charged to the key one last time, then forgotten
        assert c.get("/v1/units").headers["ratelimit-policy"].startswith('"address-')


def test_health_metrics_and_documents_are_never_limited(limited) -> None:  # type: ignore[no-untyped-def]
    with _client(limited, "10.0.0.7") as c:
        for path in ("/healthz", "/metrics", "/openapi.json"):
            responses = [c.get(path) for _ in range(ANONYMOUS_LIMIT + 2)]
            assert {r.status_code for r in responses} == {200}, path
            assert "ratelimit" not in responses[-1].headers


def test_off_means_no_counting_and_no_headers(db_engine) -> None:  # type: ignore[no-untyped-def]
    off = _limited(rate_limit_enabled=False)
    with _client(off, "10.0.0.8") as c:
        responses = [c.get("/v1/units") for _ in range(ANONYMOUS_LIMIT + 2)]
    assert {r.status_code for r in responses} == {401}
    assert "ratelimit" not in responses[-1].headers


def test_each_process_allows_its_share_of_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    assert [(i.amount, i.get_expiry()) for i in shares("3000/minute;50/second", 4)] == [(750, 60), (12, 1)]
    assert shares("3/minute", 8)[0].amount == 1  # never 0: a limit below one per process still admits one
    monkeypatch.setenv("WEB_CONCURRENCY", "4")  # uvicorn's own default for --workers
    assert Settings().rate_limit_processes == 4


def test_a_limit_the_library_cannot_read_fails_at_start() -> None:
    with pytest.raises(ValueError, match="rate limit"):
        Settings(rate_limit_per_key="lots")


def test_the_app_registers_the_limiter_and_documents_429_on_every_v1_operation() -> None:
    from app.main import app

    assert any(m.cls is RateLimitMiddleware for m in app.user_middleware)
    schema = app.openapi()
    assert {"Retry-After", "RateLimit", "RateLimit-Policy"} <= set(schema["components"]["headers"])
    for path, item in schema["paths"].items():
        for method, op in item.items():
            documented = op["responses"].get("429")
            if path.startswith("/v1"):
                assert documented is not None, f"{method} {path}"
                assert set(documented["headers"]) >= {"Retry-After", "RateLimit", "RateLimit-Policy"}
            else:
                assert documented is None, f"{method} {path}"

