"""Property-based API fuzzing from the published OpenAPI document (schemathesis).

Every operation gets generated requests, valid and invalid, with a key of every scope but
`admin` (so the fuzzer cannot revoke its own key) plus a seeded unit. The only property
checked here is the one callers rely on most: never a 5xx, and every error is problem+json.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from app.main import app
from tests.api.factories import assess, create_unit, put_submission, seed
from tests.conftest import make_key

schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture
def fuzz_headers(client) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    unit = create_unit(client)
    put_submission(client, unit["id"], 2023, seed("001"))
    assess(client, unit["id"], 2023, "shenzhen-yantian@2023")
    _, key = make_key("tenant-a", ["read", "submit", "assess"])
    return {"Authorization": f"Bearer {key}"}


@schema.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, fuzz_headers):  # type: ignore[no-untyped-def]
    response = case.call(headers=fuzz_headers)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        content_type = response.headers.get("content-type") or [""]
        if isinstance(content_type, list):
            content_type = content_type[0]
        assert content_type.startswith("application/problem+json"), (
            f"{case.method} {case.formatted_path}: {response.status_code} without problem+json"
        )
