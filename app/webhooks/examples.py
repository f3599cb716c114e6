"""Examples of the webhook schemas in the OpenAPI document (merged into app.api.examples)."""

from __future__ import annotations

from typing import Any

_ENDPOINT_ID = "5b7c3f0e-6a1d-4c2b-9e8f-1a2b3c4d5e6f"
_DELIVERY_ID = "0f9e8d7c-6b5a-4c3d-8e1f-2a3b4c5d6e7f"
_EVENT_ID = "7d4e2a1b-3c5f-4e6a-9b8c-0d1e2f3a4b5c"

_ENDPOINT_OUT: dict[str, Any] = {
    "id": _ENDPOINT_ID, "url": "https://platform.example.cn/jixiao/events",
    "events": ["assessment.created", "job.succeeded"], "description": "智慧财政平台 生产", "enabled": True,
    "disabled_reason": None, "disabled_at": None, "last_success_at": "2026-12-01T08:00:03Z",
    "previous_secret_expires_at": None, "created_at": "2026-12-01T07:59:00Z", "updated_at": "2026-12-01T07:59:00Z"}
_DELIVERY_OUT: dict[str, Any] = {
    "id": _DELIVERY_ID, "endpoint_id": _ENDPOINT_ID, "event_id": _EVENT_ID, "event_type": "assessment.created",
    "state": "succeeded", "attempts": 2, "last_status": 200, "next_attempt_at": None,
    "created_at": "2026-12-01T08:00:00Z", "updated_at": "2026-12-01T08:00:06Z"}
_ATTEMPT_OUT: dict[str, Any] = {
    "id": 41, "delivery_id": _DELIVERY_ID, "at": "2026-12-01T08:00:06Z", "outcome": "succeeded", "status": 200,
    "latency_ms": 38, "response_excerpt": "ok", "error": None}
_EVENT: dict[str, Any] = {
    "type": "assessment.created", "timestamp": "2026-12-01T08:00:00+00:00",
    "data": {"id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "unit_id": "3f2e1d0c-9b8a-4f7e-8d6c-5b4a3f2e1d0c",
             "fiscal_year": 2023, "kind": "third_party", "evaluator": "某会计师事务所",
             "assessed_by_tenant_id": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "ruleset": "shenzhen-yantian@2023",
             "status": "complete", "total": "93.97", "grade": "优", "created_at": "2026-12-01T08:00:00+00:00",
             "href": "/v1/assessments/9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"}}

WEBHOOK_EXAMPLES: dict[str, Any] = {
    "WebhookEventType": "assessment.created",
    "WebhookDeliveryState": "pending",
    "WebhookAttemptOutcome": "http_error",
    "WebhookEndpointCreate": {"url": "https://platform.example.cn/jixiao/events",
                              "events": ["assessment.created", "job.succeeded"], "description": "智慧财政平台 生产"},
    "WebhookEndpointUpdate": {"enabled": True},
    "WebhookEndpointOut": _ENDPOINT_OUT,
    "WebhookEndpointCreated": {**_ENDPOINT_OUT, "last_success_at": None,
                               "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw4pNBZJMaCNk=", "secret_withheld": False},
    "WebhookEndpointList": {"items": [_ENDPOINT_OUT], "next_cursor": None},
    "WebhookDeliveryOut": _DELIVERY_OUT,
    "WebhookDeliveryPage": {"items": [_DELIVERY_OUT], "next_cursor": None},
    "WebhookDeliveryDetail": {**_DELIVERY_OUT, "event": _EVENT, "attempt_log": [
        _ATTEMPT_OUT, {**_ATTEMPT_OUT, "id": 40, "at": "2026-12-01T08:00:00Z", "outcome": "http_error", "status": 503,
                       "latency_ms": 12, "response_excerpt": "服务暂不可用", "error": "HTTP 503"}]},
    "WebhookAttemptOut": _ATTEMPT_OUT,
    "WebhookAttemptPage": {"items": [_ATTEMPT_OUT], "next_cursor": None},
}
