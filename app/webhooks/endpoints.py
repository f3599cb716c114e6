"""``/v1/webhook-endpoints``: where a tenant receives events, their delivery log, redelivery (admin)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request, Response, status
from sqlalchemy import select, tuple_

from app.api import idempotency
from app.api.deps import CursorQuery, LimitQuery, Route, SessionDep, decode_cursor, encode_cursor
from app.api.problems import BadRequest, responses
from app.auth.deps import ADMIN
from app.db.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from app.db.query import keyset_page
from app.webhooks import service
from app.webhooks.delivery import body_of
from app.webhooks.schemas import (
    WebhookAttemptPage,
    WebhookDeliveryDetail,
    WebhookDeliveryOut,
    WebhookDeliveryPage,
    WebhookDeliveryState,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointList,
    WebhookEndpointOut,
    WebhookEndpointUpdate,
)

router = APIRouter(route_class=Route, tags=["webhooks"])

EndpointId = Annotated[uuid.UUID, Path(description="The webhook endpoint")]
DeliveryId = Annotated[uuid.UUID, Path(description="One delivery of an event to the endpoint")]


def _out(row: WebhookEndpoint) -> dict[str, Any]:
    return {"id": row.id, "url": row.url, "events": list(row.events), "description": row.description,
            "enabled": row.enabled, "disabled_reason": row.disabled_reason, "disabled_at": row.disabled_at,
            "last_success_at": row.last_success_at, "previous_secret_expires_at": row.previous_secret_expires_at,
            "created_at": row.created_at, "updated_at": row.updated_at}


def _with_secret(request: Request, response: Response, row: WebhookEndpoint, secret: str) -> dict[str, Any]:
    response.headers["Cache-Control"] = "no-store"
    idempotency.redact(request, secret=None, secret_withheld=True)  # a replay answers without the secret
    return {**_out(row), "secret": secret, "secret_withheld": False}


def _delivery(row: WebhookDelivery, event_type: str) -> dict[str, Any]:
    return {"id": row.id, "endpoint_id": row.endpoint_id, "event_id": row.event_id, "event_type": event_type,
            "state": row.state, "attempts": row.attempts, "last_status": row.last_status,
            "next_attempt_at": row.next_attempt_at, "created_at": row.created_at, "updated_at": row.updated_at}


def _attempt(row: WebhookAttempt) -> dict[str, Any]:
    return {"id": row.id, "delivery_id": row.delivery_id, "at": row.at, "outcome": row.outcome,
            "status": row.status, "latency_ms": row.latency_ms, "response_excerpt": row.response_excerpt,
            "error": row.error}


def _after_time(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """A (created_at, id) cursor."""
    after = decode_cursor(cursor, 2)
    if after is None:
        return None
    try:
        return datetime.fromisoformat(str(after[0])), uuid.UUID(str(after[1]))
    except ValueError:
        raise BadRequest("the cursor is not valid",
                         errors=[{"parameter": "cursor", "message": "not a cursor issued by this API"}]) from None


def _after(cursor: str | None) -> int | None:
    after = decode_cursor(cursor, 1)
    if after is None:
        return None
    if not isinstance(after[0], int) or isinstance(after[0], bool):
        raise BadRequest("the cursor is not valid",
                         errors=[{"parameter": "cursor", "message": "not a cursor issued by this API"}])
    return after[0]


@router.post("/v1/webhook-endpoints", dependencies=[ADMIN], operation_id="createWebhookEndpoint",
             summary="Register a webhook endpoint", status_code=status.HTTP_201_CREATED,
             response_model=WebhookEndpointCreated, responses=responses(409, 422))
def create_endpoint(body: WebhookEndpointCreate, session: SessionDep, request: Request, response: Response) -> dict[str, Any]:
    """Events of the listed types are POSTed to the URL, signed as the Standard Webhooks specification
    says (`webhook-id`, `webhook-timestamp`, `webhook-signature`) with the secret in this answer,
    which is shown once: store it now. Deliveries are retried with exponential backoff for about a
    day; an endpoint that keeps failing for that long is disabled (`webhook_endpoint.disabled`)."""
    row, secret = service.create(session, body)
    request.state.created_id = row.id
    response.headers["Location"] = f"/v1/webhook-endpoints/{row.id}"
    return _with_secret(request, response, row, secret)


@router.get("/v1/webhook-endpoints", dependencies=[ADMIN], operation_id="listWebhookEndpoints",
            summary="List webhook endpoints", response_model=WebhookEndpointList, responses=responses(400, 422))
def list_endpoints(session: SessionDep, cursor: CursorQuery = None, limit: LimitQuery = 100) -> dict[str, Any]:
    """The tenant's endpoints, oldest first, without their secrets."""
    stmt = select(WebhookEndpoint).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    after = _after_time(cursor)
    if after is not None:
        stmt = stmt.where(tuple_(WebhookEndpoint.created_at, WebhookEndpoint.id) > tuple_(*after))
    rows, last = keyset_page(session, stmt, limit, lambda r: [r.created_at.isoformat(), str(r.id)])
    return {"items": [_out(r) for r in rows], "next_cursor": encode_cursor(last) if last is not None else None}


@router.get("/v1/webhook-endpoints/{endpoint_id}", dependencies=[ADMIN], operation_id="getWebhookEndpoint",
            summary="Get a webhook endpoint", response_model=WebhookEndpointOut, responses=responses(404))
def get_endpoint(endpoint_id: EndpointId, session: SessionDep) -> dict[str, Any]:
    """The endpoint without its secret (shown only at creation and rotation)."""
    return _out(service.get(session, endpoint_id))


@router.patch("/v1/webhook-endpoints/{endpoint_id}", dependencies=[ADMIN], operation_id="updateWebhookEndpoint",
              summary="Change a webhook endpoint", response_model=WebhookEndpointOut, responses=responses(404, 422))
def update_endpoint(endpoint_id: EndpointId, body: WebhookEndpointUpdate, session: SessionDep) -> dict[str, Any]:
    """Change the URL (checked as at registration), the events, the description, or enable and disable it."""
    return _out(service.update(session, endpoint_id, body))


@router.delete("/v1/webhook-endpoints/{endpoint_id}", dependencies=[ADMIN], operation_id="deleteWebhookEndpoint",
               summary="Delete a webhook endpoint", status_code=status.HTTP_204_NO_CONTENT,
               response_class=Response, responses=responses(404))
def delete_endpoint(endpoint_id: EndpointId, session: SessionDep) -> Response:
    """The endpoint, its deliveries and its log are deleted; nothing more is sent to it."""
    session.delete(service.get(session, endpoint_id))
    session.flush()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/v1/webhook-endpoints/{endpoint_id}:rotate-secret", dependencies=[ADMIN],
             operation_id="rotateWebhookSecret", summary="Rotate a webhook endpoint's secret",
             response_model=WebhookEndpointCreated, responses=responses(404))
def rotate_secret(endpoint_id: EndpointId, session: SessionDep, request: Request, response: Response) -> dict[str, Any]:
    """A new secret, shown in this answer only. For a day (`previous_secret_expires_at`) deliveries
    carry a signature with the previous secret too, so the receiver can switch without missing one."""
    row, secret = service.rotate(session, endpoint_id)
    return _with_secret(request, response, row, secret)


@router.get("/v1/webhook-endpoints/{endpoint_id}/deliveries", dependencies=[ADMIN],
            operation_id="listWebhookDeliveries", summary="List an endpoint's deliveries",
            response_model=WebhookDeliveryPage, responses=responses(400, 404, 422))
def list_deliveries(endpoint_id: EndpointId, session: SessionDep,
                    state: Annotated[WebhookDeliveryState | None, Query(description="Only deliveries in this state")] = None,
                    cursor: CursorQuery = None, limit: LimitQuery = 100) -> dict[str, Any]:
    """Newest first: each event sent (or being sent) to the endpoint, its state and attempts."""
    stmt = (select(WebhookDelivery, WebhookEvent.type).join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.endpoint_id == service.get(session, endpoint_id).id))
    if state is not None:
        stmt = stmt.where(WebhookDelivery.state == state)
    after = _after_time(cursor)
    if after is not None:
        stmt = stmt.where(tuple_(WebhookDelivery.created_at, WebhookDelivery.id) < tuple_(*after))
    rows = list(session.execute(stmt.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
                                .limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1][0] if more else None
    return {"items": [_delivery(d, t) for d, t in rows],
            "next_cursor": encode_cursor([last.created_at.isoformat(), str(last.id)]) if last is not None else None}


@router.get("/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}", dependencies=[ADMIN],
            operation_id="getWebhookDelivery", summary="Get a delivery with its attempts",
            response_model=WebhookDeliveryDetail, responses=responses(404))
def get_delivery(endpoint_id: EndpointId, delivery_id: DeliveryId, session: SessionDep) -> dict[str, Any]:
    """The event as the receiver gets it and every attempt: outcome, status, latency, the answer's first 1 KiB."""
    row = service.delivery(session, endpoint_id, delivery_id)
    event = session.get(WebhookEvent, row.event_id)
    assert event is not None
    attempts = session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id == row.id)
                               .order_by(WebhookAttempt.id.desc()).limit(100))
    return {**_delivery(row, event.type), "event": orjson.loads(body_of(event.type, event.created_at, event.data)),
            "attempt_log": [_attempt(a) for a in attempts]}


@router.post("/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}:redeliver", dependencies=[ADMIN],
             operation_id="redeliverWebhook", summary="Deliver an event again",
             status_code=status.HTTP_202_ACCEPTED, response_model=WebhookDeliveryOut, responses=responses(404, 409))
def redeliver(endpoint_id: EndpointId, delivery_id: DeliveryId, session: SessionDep) -> dict[str, Any]:
    """Queue an attempt now (with the same `webhook-id`), and a new round of retries if it fails."""
    row = service.redeliver(session, endpoint_id, delivery_id)
    event = session.get(WebhookEvent, row.event_id)
    assert event is not None
    return _delivery(row, event.type)


@router.get("/v1/webhook-endpoints/{endpoint_id}/attempts", dependencies=[ADMIN],
            operation_id="listWebhookAttempts", summary="An endpoint's delivery log",
            response_model=WebhookAttemptPage, responses=responses(400, 404, 422))
def list_attempts(endpoint_id: EndpointId, session: SessionDep, cursor: CursorQuery = None,
                  limit: LimitQuery = 100) -> dict[str, Any]:
    """Every attempt, newest first (the latest 1,000 per endpoint are kept): outcome, HTTP status,
    latency and the first 1 KiB of the receiver's answer."""
    stmt = select(WebhookAttempt).where(WebhookAttempt.endpoint_id == service.get(session, endpoint_id).id)
    after = _after(cursor)
    if after is not None:
        stmt = stmt.where(WebhookAttempt.id < after)
    rows, last = keyset_page(session, stmt.order_by(WebhookAttempt.id.desc()), limit, lambda r: r.id)
    return {"items": [_attempt(r) for r in rows], "next_cursor": encode_cursor([last]) if last is not None else None}
