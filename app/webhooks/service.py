"""Webhook endpoints of a tenant: register, change, rotate the secret, redeliver.

Every query goes through the session's tenant scoping (app.auth.scoping) and row-level security
(migration 0011): another tenant's endpoint answers 404 like one that does not exist.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.api.problems import Conflict, NotFound, Unprocessable
from app.auth.scoping import current_tenant
from app.db import sql
from app.db.models import WebhookDelivery, WebhookEndpoint
from app.webhooks import destinations, secrets
from app.webhooks.schemas import WebhookEndpointCreate, WebhookEndpointUpdate


def check_url(url: str) -> None:
    """422 naming ``/url`` for a destination webhooks are not delivered to (checked again at every delivery)."""
    try:
        destinations.check(url, destinations.allowed_networks())
    except destinations.DestinationRefused as exc:
        raise Unprocessable(f"the webhook URL is refused: {exc}",
                            errors=[{"pointer": "/url", "message": str(exc)}]) from None


def get(session: Session, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    row = session.get(WebhookEndpoint, endpoint_id)
    if row is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    return row


#: endpoints a tenant may have: every event is written once per endpoint listening to it
MAX_ENDPOINTS = 20


def create(session: Session, body: WebhookEndpointCreate) -> tuple[WebhookEndpoint, str]:
    check_url(body.url)
    if (session.scalar(select(func.count()).select_from(WebhookEndpoint)) or 0) >= MAX_ENDPOINTS:
        raise Conflict(f"a tenant has at most {MAX_ENDPOINTS} webhook endpoints; delete one first",
                       errors=[{"pointer": "", "message": f"at most {MAX_ENDPOINTS} endpoints"}])
    secret = secrets.new_secret()
    row = WebhookEndpoint(id=uuid.uuid4(), tenant_id=current_tenant(session), url=body.url, events=list(body.events),
                          description=body.description, enabled=body.enabled, secret=secrets.seal(secret))
    session.add(row)
    session.flush()
    session.refresh(row)
    return row, secret


def update(session: Session, endpoint_id: uuid.UUID, body: WebhookEndpointUpdate) -> WebhookEndpoint:
    row = get(session, endpoint_id)
    changes = body.model_dump(exclude_unset=True)
    for name in ("url", "events", "description", "enabled"):
        if name in changes and changes[name] is None:
            raise Unprocessable(f"{name} cannot be null", errors=[{"pointer": f"/{name}", "message": "may not be null"}])
    if "url" in changes:
        check_url(changes["url"])
        row.url = changes["url"]
    if "events" in changes:
        row.events = list(changes["events"])
    if "description" in changes:
        row.description = changes["description"]
    if "enabled" in changes:
        if changes["enabled"] and not row.enabled:
            row.disabled_reason = row.disabled_at = None
        row.enabled = changes["enabled"]
    row.updated_at = datetime.now(UTC)
    session.flush()
    session.refresh(row)
    return row


def rotate(session: Session, endpoint_id: uuid.UUID) -> tuple[WebhookEndpoint, str]:
    """A new secret; the current one keeps signing beside it for ``JIXIAO_WEBHOOK_PREVIOUS_SECRET_HOURS``
    (so a receiver switches without missing a delivery)."""
    from app.settings import get_settings

    row = get(session, endpoint_id)
    hours = get_settings().webhook_previous_secret_hours
    secret = secrets.new_secret()
    now = datetime.now(UTC)
    row.previous_secret = row.secret if hours else None
    row.previous_secret_expires_at = now + timedelta(hours=hours) if hours else None
    row.secret = secrets.seal(secret)
    row.updated_at = now
    session.flush()
    session.refresh(row)
    return row, secret


def delivery(session: Session, endpoint_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDelivery:
    row = session.get(WebhookDelivery, delivery_id)
    if row is None or row.endpoint_id != endpoint_id:
        raise NotFound(f"no delivery {delivery_id} of webhook endpoint {endpoint_id}")
    return row


_REDELIVER = ("UPDATE webhook_deliveries SET state = 'pending', attempts = 0, scheduled_try = scheduled_try + 1, "
              "next_attempt_at = now(), updated_at = now() WHERE id = %s RETURNING scheduled_try")


def redeliver(session: Session, endpoint_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDelivery:
    """Attempt a delivery again now, whatever its state, with a new round of retries; a job already
    queued for it becomes a no-op (its attempt number is superseded)."""
    endpoint = get(session, endpoint_id)
    row = delivery(session, endpoint_id, delivery_id)
    if not endpoint.enabled:
        raise Conflict("the endpoint is disabled; enable it (PATCH enabled: true) to redeliver",
                       errors=[{"pointer": "/enabled", "message": "endpoint disabled"}])
    found = sql.first(session, _REDELIVER, (row.id,))
    assert found is not None
    sql.run(session, "SELECT jixiao_webhook_enqueue(%s, %s, %s, NULL)", (row.id, row.tenant_id, found[0]))
    session.refresh(row)
    return row


def deliveries_of(session: Session, endpoint_id: uuid.UUID) -> Any:
    get(session, endpoint_id)
    return select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
