"""Request and response bodies of ``/v1/webhook-endpoints``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from typing_extensions import TypeAliasType

from app.api.enums import request_body, request_schema
from app.webhooks.destinations import MAX_URL_CHARS
from app.webhooks.events import WebhookEventType

WebhookDeliveryState = TypeAliasType("WebhookDeliveryState", Literal["pending", "succeeded", "failed"])
WebhookAttemptOutcome = TypeAliasType(
    "WebhookAttemptOutcome", Literal["succeeded", "http_error", "timeout", "connection_error", "refused_destination"])

_EVENTS = Field(min_length=1, max_length=20, description="The event types this endpoint receives (each once)")


def _unique(events: list[str] | None) -> list[str] | None:
    if events is not None and len(set(events)) != len(events):
        raise ValueError("each event type once")
    return events


class WebhookEndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=request_body(
        {"url": "https://platform.example.cn/jixiao/events", "events": ["assessment.created", "job.succeeded"],
         "description": "智慧财政平台 生产"}))
    url: str = Field(min_length=1, max_length=MAX_URL_CHARS, description=(
        "http or https; no credentials. Loopback, link-local, private and cloud metadata addresses are "
        "refused unless the operator allows their network"))
    events: list[WebhookEventType] = _EVENTS
    description: str = Field(default="", max_length=500)
    enabled: bool = Field(default=True, description="Deliveries are made only while enabled")

    _events_unique = field_validator("events")(_unique)


class WebhookEndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=request_schema)
    url: str | None = Field(default=None, min_length=1, max_length=MAX_URL_CHARS)
    events: list[WebhookEventType] | None = Field(default=None, min_length=1, max_length=20)
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = Field(default=None, description=(
        "false stops deliveries (pending ones end); true resumes them for new events and clears "
        "`disabled_reason`"))

    _events_unique = field_validator("events")(_unique)


class WebhookEndpointOut(BaseModel):
    id: uuid.UUID
    url: str
    events: list[WebhookEventType]
    description: str
    enabled: bool
    disabled_reason: str | None = Field(description="Why the service disabled it (its deliveries kept failing)")
    disabled_at: datetime | None
    last_success_at: datetime | None = Field(description="The last attempt the receiver accepted")
    previous_secret_expires_at: datetime | None = Field(
        description="Until then deliveries are signed with the secret before the last rotation too")
    created_at: datetime
    updated_at: datetime


class WebhookEndpointCreated(WebhookEndpointOut):
    secret: str | None = Field(description=(
        "The signing secret (`whsec_…`, Standard Webhooks). Shown in this answer only; `null` in a replay "
        "(`Idempotent-Replayed: true`, `secret_withheld: true`): rotate it to get a new one."))
    secret_withheld: bool = Field(default=False, description="True when this answer is a replay without the secret")


class WebhookEndpointList(BaseModel):
    items: list[WebhookEndpointOut]
    next_cursor: str | None = None


class WebhookDeliveryOut(BaseModel):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID = Field(description="The `webhook-id` of every attempt")
    event_type: WebhookEventType
    state: WebhookDeliveryState
    attempts: int = Field(description="Attempts made in the current round (a redelivery starts a new one)")
    last_status: int | None = Field(description="The HTTP status of the last attempt that got an answer")
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookAttemptOut(BaseModel):
    id: int
    delivery_id: uuid.UUID
    at: datetime
    outcome: WebhookAttemptOutcome
    status: int | None
    latency_ms: int | None
    response_excerpt: str | None = Field(description="The first 1 KiB of the receiver's answer")
    error: str | None


class WebhookDeliveryDetail(WebhookDeliveryOut):
    event: dict[str, Any] = Field(description="The body the receiver gets: type, timestamp, data")
    attempt_log: list[WebhookAttemptOut] = Field(description="This delivery's attempts, newest first (at most 100)")


class WebhookDeliveryPage(BaseModel):
    items: list[WebhookDeliveryOut]
    next_cursor: str | None = None


class WebhookAttemptPage(BaseModel):
    items: list[WebhookAttemptOut]
    next_cursor: str | None = None
