"""Tenants, API keys, engagements and the audit log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from app.api import idempotency
from app.api.deps import Route, SessionDep, StrictDateTime, StrictInt, decode_cursor, encode_cursor
from app.api.enums import AuditOutcome, AuditResource, Scope, request_body, request_schema
from app.api.problems import BadRequest, Conflict, NotFound, Unprocessable, responses
from app.auth import keys
from app.auth.deps import ADMIN, READ, Forbidden
from app.auth.scoping import current_tenant
from app.db.models import ApiKey, AuditEntry, Engagement, Tenant, Unit
from app.db.query import equals, keyset_page

router = APIRouter(route_class=Route, tags=["access"])



class TenantOut(BaseModel):
    id: uuid.UUID
    name: str


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=request_body(
        {"name": "智慧财政平台 生产", "scopes": ["read", "submit", "assess"]}))
    name: str = Field(min_length=1, max_length=200)
    scopes: list[Scope] = Field(min_length=1, max_length=4)
    expires_at: datetime | None = Field(default=None, description="Optional expiry (with time zone)")


class KeyOut(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str = Field(description="The public part of the key, e.g. jx_1a2b3c4d")
    scopes: list[Scope]
    expires_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class KeyCreated(KeyOut):
    key: str | None = Field(description=(
        "The key itself. Shown once: only a hash is stored. `null` in a replay of the creation "
        "(`Idempotent-Replayed: true`, `key_withheld: true`): the key is never stored, so a lost "
        "key is revoked and a new one created."))
    key_withheld: bool = Field(default=False, description="True when this answer is a replay without the key")


class KeyList(BaseModel):
    items: list[KeyOut]


class EngagementCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=request_schema)
    firm_tenant_id: uuid.UUID = Field(description="The audit firm's tenant (it reads it from GET /v1/tenant)")
    unit_id: uuid.UUID
    fiscal_years: list[Annotated[int, Field(ge=1990, le=2100)]] = Field(
        min_length=1, max_length=50, description="Years the firm may read and assess")


class EngagementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    owner_tenant_id: uuid.UUID
    firm_tenant_id: uuid.UUID
    unit_id: uuid.UUID
    fiscal_years: list[int]
    created_at: datetime
    revoked_at: datetime | None


class EngagementList(BaseModel):
    items: list[EngagementOut]


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    tenant_id: uuid.UUID | None
    key_id: uuid.UUID | None
    method: str
    route: str
    path: str
    resource_ids: dict[str, Any]
    status: int
    refused: bool
    request_id: str | None = Field(description="The request's X-Request-Id")
    resource_type: AuditResource | None = Field(description="What the call changed or tried to change")
    resource_id: str | None = Field(description="The id of that record (NAME@VERSION for a ruleset)")
    unit_id: uuid.UUID | None = Field(description="The unit the call concerns, when it concerns one")


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_cursor: str | None = None


def _key_out(row: ApiKey) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "prefix": row.prefix, "scopes": list(row.scopes),
            "expires_at": row.expires_at, "revoked_at": row.revoked_at, "created_at": row.created_at}


@router.get("/v1/tenant", dependencies=[READ], operation_id="getTenant", summary="The caller's tenant",
            response_model=TenantOut, responses=responses())
def get_tenant(session: SessionDep) -> dict[str, Any]:
    """Who the key belongs to. An audit firm gives this id to the units' owner for an engagement."""
    tenant = session.get(Tenant, current_tenant(session))
    assert tenant is not None
    return {"id": tenant.id, "name": tenant.name}


@router.post("/v1/keys", dependencies=[ADMIN], operation_id="createKey", summary="Create an API key",
             status_code=status.HTTP_201_CREATED, response_model=KeyCreated, responses=responses(422))
def create_key(body: KeyCreate, session: SessionDep, response: Response, request: Request) -> dict[str, Any]:
    """A new key of the caller's tenant. The key is in this response only; store it now."""
    if body.expires_at is not None and (body.expires_at.tzinfo is None or body.expires_at <= datetime.now(UTC)):
        raise Unprocessable("expires_at must be a future time with a time zone",
                            errors=[{"pointer": "/expires_at", "message": "must be in the future, with a time zone"}])
    row, key = keys.create_key(session, current_tenant(session), body.name, list(body.scopes), body.expires_at)
    session.refresh(row)
    request.state.created_id = row.id
    response.headers["Location"] = f"/v1/keys/{row.id}"
    response.headers["Cache-Control"] = "no-store"
    idempotency.redact(request, key=None, key_withheld=True)  # a replay answers without the secret
    return {**_key_out(row), "key": key, "key_withheld": False}


@router.get("/v1/keys", dependencies=[ADMIN], operation_id="listKeys", summary="List API keys",
            response_model=KeyList, responses=responses())
def list_keys(session: SessionDep) -> dict[str, Any]:
    """The tenant's keys, without their secrets."""
    rows = session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id))
    return {"items": [_key_out(r) for r in rows]}


@router.post("/v1/keys/{key_id}:revoke", dependencies=[ADMIN], operation_id="revokeKey", summary="Revoke an API key",
             response_model=KeyOut, responses=responses(404))
def revoke_key(key_id: Annotated[uuid.UUID, Path()], session: SessionDep) -> dict[str, Any]:
    """Revoked keys are refused from the next request on. Revoking twice changes nothing."""
    row = keys.revoke(session, current_tenant(session), key_id)
    if row is None:
        raise NotFound(f"no key {key_id}")
    return _key_out(row)


@router.post("/v1/engagements", dependencies=[ADMIN], operation_id="createEngagement",
             summary="Grant an audit firm access to a unit", status_code=status.HTTP_201_CREATED,
             response_model=EngagementOut, responses=responses(404, 409, 422))
def create_engagement(body: EngagementCreate, session: SessionDep, response: Response, request: Request) -> Engagement:
    """The firm's keys may then read the unit and its submissions and assessments of the named years,
    and submit `third_party` assessments for them, until the engagement is revoked."""
    tid = current_tenant(session)
    unit = session.get(Unit, body.unit_id)
    if unit is None or unit.tenant_id != tid:
        raise NotFound(f"no unit {body.unit_id}", errors=[{"pointer": "/unit_id", "message": "no such unit"}])
    if body.firm_tenant_id == tid or session.get(Tenant, body.firm_tenant_id) is None:
        raise Unprocessable("firm_tenant_id must be another existing tenant",
                            errors=[{"pointer": "/firm_tenant_id", "message": "not another tenant"}])
    years = sorted(set(body.fiscal_years))
    same = session.scalar(select(Engagement).where(
        Engagement.owner_tenant_id == tid, Engagement.firm_tenant_id == body.firm_tenant_id,
        Engagement.unit_id == unit.id, Engagement.fiscal_years == years, Engagement.revoked_at.is_(None)))
    if same is not None:  # a retry or a double click: the grant exists already, point to it
        raise Conflict(f"an identical active engagement exists: /v1/engagements/{same.id}",
                       errors=[{"pointer": "/unit_id", "message": "already granted to this firm for these years"}],
                       headers={"Location": f"/v1/engagements/{same.id}"})
    row = Engagement(id=uuid.uuid4(), owner_tenant_id=tid, firm_tenant_id=body.firm_tenant_id, unit_id=unit.id,
                     fiscal_years=years)
    session.add(row)
    session.flush()
    session.refresh(row)
    response.headers["Location"] = f"/v1/engagements/{row.id}"
    request.state.created_id = row.id
    request.state.audit_unit_id = row.unit_id
    return row


@router.get("/v1/engagements", dependencies=[READ], operation_id="listEngagements", summary="List engagements",
            response_model=EngagementList, responses=responses())
def list_engagements(session: SessionDep) -> dict[str, Any]:
    """Engagements the tenant granted or was granted (an audit firm's `read` key sees the units it may
    evaluate, and for which years)."""
    rows = session.scalars(select(Engagement).order_by(Engagement.created_at, Engagement.id))
    return {"items": [EngagementOut.model_validate(r) for r in rows]}


@router.post("/v1/engagements/{engagement_id}:revoke", dependencies=[ADMIN], operation_id="revokeEngagement",
             summary="Revoke an engagement", response_model=EngagementOut, responses=responses(404))
def revoke_engagement(engagement_id: Annotated[uuid.UUID, Path()], session: SessionDep,
                      request: Request) -> Engagement:
    """Only the granting tenant can revoke; the firm loses access on its next request."""
    row = session.get(Engagement, engagement_id)
    if row is None:
        raise NotFound(f"no engagement {engagement_id}")
    request.state.audit_unit_id = row.unit_id
    if row.owner_tenant_id != current_tenant(session):
        raise Forbidden("only the tenant that granted an engagement can revoke it")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        session.flush()
    return row


@router.get("/v1/audit-log", dependencies=[ADMIN], operation_id="listAuditLog", summary="Read the audit log",
            response_model=AuditPage, responses=responses(400, 422))
def list_audit(
    session: SessionDep, request: Request,
    method: Annotated[str | None, Query(description="POST, PUT, PATCH, DELETE or GET")] = None,
    status_code: Annotated[StrictInt | None, Query(alias="status", ge=100, le=599)] = None,
    refused: Annotated[bool | None, Query(description="Only refused (401/403) calls, or only others")] = None,
    key_id: Annotated[uuid.UUID | None, Query(description="Calls made with this key")] = None,
    unit_id: Annotated[uuid.UUID | None, Query(description="Calls concerning this unit")] = None,
    resource_type: Annotated[AuditResource | None, Query(description="Calls on this kind of record")] = None,
    resource_id: Annotated[str | None, Query(max_length=200, description="Calls on this record (with resource_type)")] = None,
    outcome: Annotated[AuditOutcome | None, Query(description="succeeded (2xx), refused (401/403) or failed (other errors)")] = None,
    request_id: Annotated[str | None, Query(max_length=128, description="The call with this X-Request-Id")] = None,
    since: Annotated[StrictDateTime | None, Query()] = None,
    until: Annotated[StrictDateTime | None, Query()] = None,
    cursor: Annotated[str | None, Query()] = None,
    limit: Annotated[StrictInt, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """The tenant's entries, newest first. Append-only: nothing in the API changes or deletes them."""
    stmt = select(AuditEntry).where(*equals(
        (AuditEntry.method, method.upper() if method else None), (AuditEntry.status, status_code),
        (AuditEntry.refused, refused), (AuditEntry.key_id, key_id), (AuditEntry.unit_id, unit_id),
        (AuditEntry.resource_type, resource_type), (AuditEntry.resource_id, resource_id),
        (AuditEntry.request_id, request_id)))
    if outcome == "succeeded":
        stmt = stmt.where(AuditEntry.status < 400)
    elif outcome == "refused":
        stmt = stmt.where(AuditEntry.refused.is_(True))
    elif outcome == "failed":
        stmt = stmt.where(AuditEntry.status >= 400, AuditEntry.refused.is_(False))
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    if until is not None:
        stmt = stmt.where(AuditEntry.at < until)
    after = decode_cursor(cursor, 1)
    if after is not None:
        if not isinstance(after[0], int) or isinstance(after[0], bool):
            raise BadRequest("the cursor is not valid", errors=[{"parameter": "cursor", "message": "not a cursor issued by this API"}])
        stmt = stmt.where(AuditEntry.id < after[0])
    rows, last = keyset_page(session, stmt.order_by(AuditEntry.id.desc()), limit, lambda r: r.id)
    return {"items": [AuditOut.model_validate(r) for r in rows],
            "next_cursor": encode_cursor([last]) if last is not None else None}
