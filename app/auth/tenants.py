"""Tenant lifecycle for the deployment's operator: ``/v1/tenants`` with an operator key
(app.auth.operators). Create a tenant (a platform or an audit firm), list them, suspend one (its
keys are refused with 403 and the reason until it is reactivated) and make its first admin key.

Each change is written to the audit log of the tenant it concerns, in the same transaction, so
the tenant's admin sees who suspended it and when (``resource_ids.operator`` is the operator
key's prefix). These operations do not store Idempotency-Key outcomes: creating a tenant twice is
refused (409, the name is unique) and suspending twice changes nothing; a key creation that lost
its answer is revoked and made again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response, Security, status
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import insert, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.api import request_id
from app.api.deps import Route, SessionDep
from app.api.enums import request_body
from app.api.problems import Conflict, NotFound, Unprocessable, responses
from app.auth import keys, operators, scoping
from app.auth.deps import _CHALLENGE, Forbidden, Unauthorized, bearer, bearer_key
from app.auth.endpoints import KeyCreate, KeyCreated, _key_out
from app.db.models import AuditEntry, Tenant

router = APIRouter(route_class=Route, tags=["operator"])
TenantPath = Annotated[uuid.UUID, Path(description="Tenant id")]


def _operator(session: Session, presented: str | None) -> operators.Operator:
    """The operator of the presented key: 401 without a valid one, 403 for a tenant's key."""
    if presented is None:
        raise Unauthorized("an operator key is required: Authorization: Bearer jxop_…", headers=_CHALLENGE)
    if not operators.is_operator_key(presented):
        if keys.verify(session, presented) is None:
            raise Unauthorized("the key is not valid (unknown, expired or revoked)", headers=_CHALLENGE)
        raise Forbidden("managing tenants needs an operator key (jixiao operators create), not a tenant's key")
    found = operators.verify(session, presented)
    if found is None:
        raise Unauthorized("the operator key is not valid (unknown or revoked)", headers=_CHALLENGE)
    return found


async def operator_key(request: Request, session: SessionDep,
                       _: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None) -> operators.Operator:
    """The route needs an operator key (401 without a valid one; 403 for a tenant's key)."""
    found = await run_in_threadpool(_operator, session, bearer_key(request))
    session.info["operator"] = found
    return found


async def _operator_before_body(request: Request) -> None:
    """The same refusals before the body is read (app.api.deps.Route), in a session of its own."""
    from app.db.session import get_sessionmaker

    def check() -> None:
        with get_sessionmaker()() as session:
            _operator(session, bearer_key(request))

    await run_in_threadpool(check)


operator_key.before_body = _operator_before_body  # type: ignore[attr-defined]


OperatorDep = Annotated[operators.Operator, Depends(operator_key)]


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=request_body({"name": "某会计师事务所"}))
    name: str = Field(min_length=1, max_length=200, description="Unique name of the platform or audit firm")


class TenantSuspend(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=request_body({"reason": "合同到期未续签"}))
    reason: str = Field(min_length=1, max_length=500, description="Told to every refused caller of the tenant")


class TenantDetail(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    suspended: bool = Field(description="Its keys are refused (403) while it is suspended")
    suspended_at: datetime | None
    suspended_reason: str | None
    created_at: datetime


class TenantList(BaseModel):
    items: list[TenantDetail]


def _detail(row: Tenant) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "suspended": row.suspended_at is not None,
            "suspended_at": row.suspended_at, "suspended_reason": row.suspended_reason, "created_at": row.created_at}


def _tenant(session: Session, tenant_id: uuid.UUID) -> Tenant:
    row = session.get(Tenant, tenant_id)
    if row is None:
        raise NotFound(f"no tenant {tenant_id}")
    return row


def _audit(session: Session, request: Request, operator: operators.Operator, tenant_id: uuid.UUID,
           status_code: int, created: uuid.UUID | None = None) -> None:
    """The operator's change, in the audit log of the tenant it concerns (same transaction)."""
    route = request.scope.get("route")
    ids = {"operator": operator.prefix, **{k: str(v) for k, v in request.path_params.items()}}
    if created is not None:
        ids["created"] = str(created)
    scoping.set_tenant(session, tenant_id)  # row-level security (migration 0009): the entry's tenant
    session.execute(insert(AuditEntry).inline().values(
        tenant_id=tenant_id, key_id=None, method=request.method, route=getattr(route, "path_format", request.url.path)[:200],
        path=request.url.path[:500], resource_ids=ids, status=status_code, refused=False,
        request_id=request_id.current(), resource_type="tenant", resource_id=str(tenant_id)))


@router.post("/v1/tenants", operation_id="createTenant", summary="Create a tenant (operator)",
             status_code=status.HTTP_201_CREATED, response_model=TenantDetail, responses=responses(409, 422))
def create_tenant(body: TenantCreate, operator: OperatorDep, session: SessionDep, request: Request,
                  response: Response) -> dict[str, Any]:
    """A platform or an audit firm sharing the deployment. Then make its first admin key with
    `POST /v1/tenants/{tenant_id}/keys`."""
    if session.scalar(select(Tenant.id).where(Tenant.name == body.name)) is not None:
        raise Conflict(f"a tenant named {body.name!r} exists", errors=[{"pointer": "/name", "message": "taken"}])
    row = Tenant(id=uuid.uuid4(), name=body.name)
    session.add(row)
    session.flush()
    session.refresh(row)
    _audit(session, request, operator, row.id, 201, row.id)
    response.headers["Location"] = f"/v1/tenants/{row.id}"
    return _detail(row)


@router.get("/v1/tenants", operation_id="listTenants", summary="List tenants (operator)",
            response_model=TenantList, responses=responses())
def list_tenants(operator: OperatorDep, session: SessionDep) -> dict[str, Any]:
    """Every tenant of the deployment, oldest first, suspended ones included."""
    rows = session.scalars(select(Tenant).order_by(Tenant.created_at, Tenant.id))
    return {"items": [_detail(r) for r in rows]}


@router.get("/v1/tenants/{tenant_id:uuid}", operation_id="getTenantDetail", summary="Get a tenant (operator)",
            response_model=TenantDetail, responses=responses(404))
def get_tenant_detail(tenant_id: TenantPath, operator: OperatorDep, session: SessionDep) -> dict[str, Any]:
    """The tenant and whether it is suspended."""
    return _detail(_tenant(session, tenant_id))


@router.post("/v1/tenants/{tenant_id}:suspend", operation_id="suspendTenant", summary="Suspend a tenant (operator)",
             response_model=TenantDetail, responses=responses(404, 422))
def suspend_tenant(tenant_id: TenantPath, body: TenantSuspend, operator: OperatorDep, session: SessionDep,
                   request: Request) -> dict[str, Any]:
    """From the next request on, every key of the tenant is refused with 403 and the reason. Its data
    stays as it is, and engagements it granted or was granted stay (their use is refused meanwhile)."""
    row = _tenant(session, tenant_id)
    if row.suspended_at is None:
        row.suspended_at = datetime.now(UTC)
    row.suspended_reason = body.reason
    session.flush()
    _audit(session, request, operator, row.id, 200)
    return _detail(row)


@router.post("/v1/tenants/{tenant_id}:reactivate", operation_id="reactivateTenant",
             summary="Reactivate a suspended tenant (operator)", response_model=TenantDetail, responses=responses(404))
def reactivate_tenant(tenant_id: TenantPath, operator: OperatorDep, session: SessionDep,
                      request: Request) -> dict[str, Any]:
    """Its keys work again from the next request on."""
    row = _tenant(session, tenant_id)
    row.suspended_at, row.suspended_reason = None, None
    session.flush()
    _audit(session, request, operator, row.id, 200)
    return _detail(row)


@router.post("/v1/tenants/{tenant_id}/keys", operation_id="createTenantKey",
             summary="Make a key of a tenant, e.g. its first admin key (operator)", status_code=status.HTTP_201_CREATED,
             response_model=KeyCreated, responses=responses(404, 422))
def create_tenant_key(tenant_id: TenantPath, body: KeyCreate, operator: OperatorDep, session: SessionDep,
                      request: Request, response: Response) -> dict[str, Any]:
    """The key is in this answer only (only its hash is stored). The tenant's admin makes its other
    keys itself with `POST /v1/keys`."""
    row = _tenant(session, tenant_id)
    if body.expires_at is not None and (body.expires_at.tzinfo is None or body.expires_at <= datetime.now(UTC)):
        raise Unprocessable("expires_at must be a future time with a time zone",
                            errors=[{"pointer": "/expires_at", "message": "must be in the future, with a time zone"}])
    key_row, key = keys.create_key(session, row.id, body.name, list(body.scopes), body.expires_at)
    session.refresh(key_row)
    _audit(session, request, operator, row.id, 201, key_row.id)
    response.headers["Location"] = f"/v1/keys/{key_row.id}"
    response.headers["Cache-Control"] = "no-store"
    return {**_key_out(key_row), "key": key, "key_withheld": False}
