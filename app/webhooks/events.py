"""Webhook events: their types, and :func:`emit`, which writes one into the outbox.

An event is written in the transaction of the change it tells of (the outbox: it exists exactly
when the change does), with a delivery and a queued job for every enabled endpoint of the tenant
listening to its type, by the SQL function ``jixiao_webhook_emit`` of migration 0011; nothing is
sent from the transaction itself, a worker does (app.webhooks.tasks). No endpoint listening:
nothing is written.

Who emits what:

* ``assessment.created``: a trigger on ``assessments`` (migration 0011), for an assessment made by
  another tenant than the unit's owner (an audit firm under an engagement), to the owner: every
  path that stores assessments tells it in the insert's own statement;
* ``submission.updated``: a trigger on ``submissions`` (one call per statement), for every new
  version by any path, to the unit's owner;
* ``engagement.created``, ``engagement.revoked``: triggers on ``engagements``, to the audit firm
  and to the granting tenant;
* ``job.succeeded``, ``job.failed``: the jobs' worker (app.jobs), to the job's tenant, with
  :func:`emit` in the transaction that finishes the job;
* ``webhook_endpoint.disabled``: app.webhooks.delivery, to the tenant's other endpoints, when an
  endpoint is disabled because its deliveries kept failing.

The body a receiver gets is ``{"type": …, "timestamp": …, "data": {…}}`` (the envelope the Standard
Webhooks specification suggests); ``webhook-id`` is the event's id, the same on every retry.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any, Literal

import orjson
from sqlalchemy.orm import Session
from typing_extensions import TypeAliasType

from app.db import sql

WebhookEventType = TypeAliasType("WebhookEventType", Literal[
    "assessment.created", "submission.updated", "engagement.created", "engagement.revoked",
    "job.succeeded", "job.failed", "webhook_endpoint.disabled"])
EVENT_TYPES: tuple[str, ...] = WebhookEventType.__value__.__args__

_EMIT = "SELECT jixiao_webhook_emit(%s, %s, %s::jsonb)"


def _text(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")  # exact, as the API writes decimals
    raise TypeError(f"not JSON: {type(value).__name__}")


def emit(session: Session, tenant_id: uuid.UUID, type_: str, data: dict[str, Any]) -> uuid.UUID | None:
    """Write an event for ``tenant_id`` in the session's transaction (the transaction's own tenant,
    or one engaged with it: the SQL function refuses others); its id, or None when no endpoint
    listens. ``data`` is JSON (ids and times as text; Decimals as strings)."""
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {type_!r}")
    document = orjson.dumps(data, default=_text).decode()
    row = sql.first(session, _EMIT, (tenant_id, type_, document))
    return row[0] if row else None
