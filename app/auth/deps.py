"""Route dependencies: the request's session, the caller's principal and the scope a route needs.

The key is verified inside the request's own session (one round trip, no second connection);
the session is then scoped to the caller's tenant. A successful change is written to the audit
log in the same transaction as the change itself, so no change can exist without its entry.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.api import idempotency, request_id
from app.api.problems import ProblemError
from app.auth import scoping
from app.auth.keys import Principal, check, verify
from app.db import sql

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer jx_…`")
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


class Unauthorized(ProblemError):
    status, slug, title = 401, "unauthorized", "Unauthorized"


class Forbidden(ProblemError):
    status, slug, title = 403, "forbidden", "Forbidden"


async def session_scope(request: Request) -> AsyncIterator[Session]:
    """One session per request; commit on success (with the audit entry), roll back on error.

    Database work runs in the thread pool. A route that ends its own unit of work with
    :func:`finish` (in the same hop as its other statements) leaves nothing to do here but
    return the connection, which needs no I/O.
    """
    from app.db.session import get_sessionmaker

    session = get_sessionmaker()(info={"principal": None})
    try:
        yield session
        if not session.info.get("finished"):
            await run_in_threadpool(finish, session, request)
    except BaseException:
        if session.in_transaction():
            await run_in_threadpool(session.rollback)
        raise
    finally:
        if session.info.get("deferred"):
            pass  # its transaction waits for the idempotency middleware to store the answer and commit
        elif session.in_transaction():  # only after a failed rollback: closing would do I/O
            await run_in_threadpool(session.close)
        else:
            session.close()


@contextmanager
def request_session(request: Request) -> Iterator[Session]:
    """:func:`session_scope` for a route that does all of its work in one thread-pool hop of its
    own, without FastAPI's dependency machinery (the hottest route, POST /v1/assessments): the
    session's whole life, commit with the audit entry, rollback and close, in that one thread."""
    from app.db.session import get_sessionmaker

    session = get_sessionmaker()(info={"principal": None})
    try:
        yield session
        if not session.info.get("finished"):
            finish(session, request)
    except BaseException:
        if session.in_transaction():
            session.rollback()
        raise
    finally:
        if not session.info.get("deferred"):
            session.close()


def require_key(request: Request, *scopes: str) -> None:
    """A key must be presented (401 otherwise); the route verifies it with :func:`authorize`,
    which checks ``scopes``. Called by :func:`require_in_route`'s dependency, or by a route
    without dependencies itself."""
    if bearer_key(request) is None:
        raise Unauthorized(_KEY_REQUIRED, headers=_CHALLENGE)
    request.state.required_scopes = scopes


#: OpenAPI of a route that checks its key itself (:func:`require_key`)
BEARER_SECURITY: dict[str, Any] = {"security": [{"HTTPBearer": []}]}


def finish(session: Session, request: Request, answer: Any = None) -> None:
    """Commit the request's unit of work: the audit entry of a successful change, the outcome of its
    Idempotency-Key (app.api.idempotency), then COMMIT. A route that wrote its audit entry itself
    (:func:`audit_params`, in the statement of its change) has set ``request.state.audited``.

    ``answer``: the response the route built itself, stored for its Idempotency-Key; without one,
    the key's transaction is handed to the idempotency middleware, which stores the response
    FastAPI renders and commits before sending it."""
    if request.method in MUTATING and session.info.get("principal") is not None \
            and not getattr(request.state, "audited", False):
        sql.run(session, _AUDIT, audit_params(session, request))
        request.state.audited = True
    if idempotency.claimed(request, session):
        if answer is None:
            idempotency.defer(request, session)
            session.info["finished"] = True
            return
        idempotency.store(session, request, answer.status_code, answer.headers, bytes(answer.body))
    session.commit()
    session.info["finished"] = True


SessionDep = Annotated[Session, Depends(session_scope, scope="function")]


#: the audit entry of a successful change; :data:`AUDIT_VALUES` is its VALUES list, for a route
#: that writes the entry in the same statement as its change (one round trip, see assessments)
AUDIT_COLUMNS = ("tenant_id, key_id, method, route, path, resource_ids, status, refused, request_id, "
                 "resource_type, resource_id, unit_id")
AUDIT_VALUES = ("%(audit_tenant)s, %(audit_key)s, %(audit_method)s, %(audit_route)s, %(audit_path)s, "
                "%(audit_ids)s::jsonb, %(audit_status)s, false, %(audit_request_id)s, %(audit_resource_type)s, "
                "%(audit_resource_id)s, %(audit_unit)s")
_AUDIT = f"INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES ({AUDIT_VALUES})"

#: the resource a route changes, by the route template's first segments after /v1 (see :func:`describe`)
_RESOURCES = (("/v1/units/{unit_id}/submissions", "submission"),
              ("/v1/units/{unit_id}/projects/{project_id}/submissions", "project_submission"),
              ("/v1/units/{unit_id}/projects:batch", "batch"),
              ("/v1/units/{unit_id}/projects", "project"), ("/v1/units", "unit"),
              ("/v1/assessments:batch", "batch"), ("/v1/assessments", "assessment"), ("/v1/keys", "key"),
              ("/v1/engagements", "engagement"), ("/v1/rulesets", "ruleset"), ("/v1/jobs", "job"),
              ("/v1/webhook-endpoints", "webhook_endpoint"))


def describe(route: str, path_params: dict[str, Any],
             state: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(resource type, resource id, unit id) of a call, for the audit log's filters: the record a
    route created (``state.created_id``) or addressed by its path, and the unit it concerns
    (a path's ``unit_id``, or ``state.audit_unit_id`` set by a route that knows it)."""
    kind = next((name for prefix, name in _RESOURCES if route.startswith(prefix)), None)
    created = state.get("created_id")
    unit = path_params.get("unit_id") or state.get("audit_unit_id")
    ident: Any = created
    if ident is None:
        by_kind = {"unit": "unit_id", "project": "project_id", "key": "key_id", "engagement": "engagement_id",
                   "assessment": "assessment_id", "job": "job_id", "webhook_endpoint": "endpoint_id"}
        ident = path_params.get(by_kind.get(kind or "", ""))
    if kind == "unit" and unit is None:
        unit = ident
    return kind, (str(ident)[:200] if ident is not None else None), (str(unit) if unit is not None else None)


def audit_params(session: Session, request: Request) -> dict[str, Any]:
    """The parameters of the audit entry of the request's successful change (:data:`AUDIT_VALUES`)."""
    principal: Principal = session.info["principal"]
    scope = request.scope
    route = scope.get("route")
    status = getattr(request.state, "audit_status", None) or getattr(route, "status_code", None) or 200
    path_params = scope.get("path_params", {})
    ids: dict[str, Any] = {k: str(v) for k, v in path_params.items()}
    created = getattr(request.state, "created_id", None)
    if created is not None:
        ids["created"] = str(created)
    path: str = scope["path"]
    template = getattr(route, "path_format", None) or path
    kind, ident, unit = describe(template, path_params, scope.get("state", {}))  # request.state's own dict
    return {"audit_tenant": principal.tenant_id, "audit_key": principal.key_id, "audit_method": scope["method"],
            "audit_route": template[:200], "audit_path": path[:500],
            "audit_ids": sql.dumps(ids), "audit_status": int(status), "audit_request_id": request_id.current(),
            "audit_resource_type": kind, "audit_resource_id": ident, "audit_unit": uuid_or_none(unit)}


def uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def bearer_key(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    if header[:7].lower() != "bearer ":
        return ""
    return header[7:].strip()


_UNVERIFIED = object()
_KEY_REQUIRED = "an API key is required: Authorization: Bearer <key>"
_KEY_INVALID = "the API key is not valid (unknown, expired or revoked)"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="jixiao"'}


def _refuse(principal: Principal | None, scopes: tuple[str, ...]) -> Principal:
    """The principal, when it may make a call that needs ``scopes``; else 401 or 403."""
    if principal is None:
        raise Unauthorized(_KEY_INVALID, headers=_CHALLENGE)
    if principal.suspended is not None:
        raise Forbidden(f"the tenant of this key is suspended: {principal.suspended}")
    for scope in scopes:
        if scope not in principal.scopes:
            raise Forbidden(f"this key lacks the '{scope}' scope")
    return principal


def _admit(session: Session, request: Request, principal: Principal | None, scopes: tuple[str, ...]) -> Principal:
    request.state.principal = principal
    _refuse(principal, scopes)
    assert principal is not None
    session.info["principal"] = principal
    scoping.set_tenant(session, principal.tenant_id)  # row-level security (migration 0009)
    return principal


def require(scope: str) -> Callable[..., Any]:
    """The route needs a valid key with ``scope``. The key is verified once per request, as the
    first statement of the request's session (its own thread-pool hop)."""

    async def check(request: Request, session: SessionDep,
                    _: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None) -> Principal:
        key = bearer_key(request)
        if key is None:
            raise Unauthorized(_KEY_REQUIRED, headers=_CHALLENGE)
        known: object = getattr(request.state, "principal", _UNVERIFIED)
        principal = await run_in_threadpool(verify, session, key) if known is _UNVERIFIED else known
        assert principal is None or isinstance(principal, Principal)
        admitted = _admit(session, request, principal, (scope,))
        if idempotency.requested(request):
            # The key is authenticated and holds the scope: only now is the body read (hashed), and a
            # stored outcome answered again (the routes behind these dependencies check nothing else
            # before their effect; POST /v1/assessments guards in the route, after its unit check).
            raw = await request.body()
            await run_in_threadpool(idempotency.guard, session, request, raw)
        return admitted

    async def before_body(request: Request) -> None:
        """401/403 before FastAPI reads and parses the body (app.api.deps.Route): the key is verified
        in a session of its own, and the route's dependency above uses that principal."""
        key = bearer_key(request)
        if key is None:
            raise Unauthorized(_KEY_REQUIRED, headers=_CHALLENGE)
        principal = await run_in_threadpool(_verify_alone, key)
        request.state.principal = principal
        _refuse(principal, (scope,))

    check.__name__ = f"require_{scope}"
    check.before_body = before_body  # type: ignore[attr-defined]
    return check


def _verify_alone(key: str) -> Principal | None:
    from app.db.session import get_sessionmaker

    with get_sessionmaker()() as session:
        return verify(session, key)


def require_in_route(*scopes: str) -> Any:
    """For the hottest routes: the key's presence is checked here, but it is verified (401/403)
    by the route itself, with :func:`authorize` as the first statement of its own thread-pool
    hop, so the whole request (verify, work, audit, commit) costs one hop. A bad key answers 401/403
    before anything about the body (tests/api/test_json_body.py)."""

    async def check(request: Request,
                    _: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None) -> None:
        require_key(request, *scopes)

    check.__name__ = "require_" + "_".join(scopes)
    return Depends(check)


def authorize(session: Session, request: Request, key_row: Sequence[Any] | None | object = _UNVERIFIED) -> Principal:
    """Verify the key and the scopes :func:`require_in_route` asked for (runs in the route's thread).
    ``key_row``: the key's row (app.auth.keys.KEY_COLUMNS, None if there is none), when the route
    read it itself in the same statement as its own first read (one round trip for both)."""
    key = bearer_key(request) or ""
    if key_row is _UNVERIFIED:
        principal = verify(session, key)
    else:
        principal = check(key_row, key)  # type: ignore[arg-type]
    return _admit(session, request, principal, request.state.required_scopes)


READ = Depends(require("read"))
SUBMIT = Depends(require("submit"))
ASSESS = Depends(require("assess"))
ADMIN = Depends(require("admin"))
