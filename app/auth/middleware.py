"""Authentication and audit, as ASGI middleware (outermost: audit, then authentication)."""

from __future__ import annotations

import logging
import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import problem_response
from app.auth.keys import Principal, verify

log = logging.getLogger("jixiao.auth")
PUBLIC = ("/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect")
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
_ID = re.compile(r"/v1/[a-z-]+/([0-9a-f-]{36})")


def _protected(path: str) -> bool:
    return path.startswith("/v1/") or path == "/v1"


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            text = value.decode("latin-1").strip()
            if text[:7].lower() == "bearer ":
                return text[7:].strip()
            return ""
    return None


def _verify(key: str) -> Principal | None:
    from app.db.session import get_sessionmaker

    with get_sessionmaker()() as session:
        return verify(session, key)


class AuthMiddleware:
    """Resolves ``Authorization: Bearer <key>`` into ``scope["state"]["principal"]``.

    A key that is present but unknown, wrong, expired or revoked is answered 401 here;
    a missing key leaves no principal, and each route's scope check answers 401.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _protected(scope["path"]):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        key = _bearer(scope)
        if key is not None:
            try:
                principal = await run_in_threadpool(_verify, key) if key else None
            except Exception:  # noqa: BLE001 - the database is down: say so, as everywhere else
                await problem_response(503, "database-unavailable", "Database unavailable",
                                       "the database cannot be reached; retry later",
                                       headers={"Retry-After": "5"})(scope, receive, send)
                return
            if principal is None:
                state["auth_refused"] = True
                await problem_response(401, "unauthorized", "Unauthorized",
                                       "the API key is not valid (unknown, expired or revoked)",
                                       headers={"WWW-Authenticate": 'Bearer realm="jixiao"'})(scope, receive, send)
                return
            state["principal"] = principal
        await self.app(scope, receive, send)


class AuditMiddleware:
    """Appends one audit entry per change (every POST/PUT/PATCH/DELETE, whatever its outcome)
    and per refused call (401/403), after the response. Never records keys or bodies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _protected(scope["path"]):
            await self.app(scope, receive, send)
            return
        status = 0
        location: str | None = None

        async def capture(message: Message) -> None:
            nonlocal status, location
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"location":
                        location = value.decode("latin-1")
            await send(message)

        await self.app(scope, receive, capture)
        if scope["method"] in MUTATING or status in (401, 403):
            state = scope.get("state", {})
            principal: Principal | None = state.get("principal")
            route = scope.get("route")
            template = getattr(route, "path", None) or scope["path"]
            ids: dict[str, Any] = {k: str(v) for k, v in (scope.get("path_params") or {}).items()}
            if location:
                ids["location"] = location
            try:
                await run_in_threadpool(_append, principal, scope["method"], template, scope["path"], ids, status)
            except Exception:  # noqa: BLE001 - never fail a request on the audit write; log it loudly
                log.exception("audit log write failed for %s %s", scope["method"], template)


def _append(principal: Principal | None, method: str, route: str, path: str, ids: dict[str, Any], status: int) -> None:
    from sqlalchemy import insert

    from app.db.models import AuditEntry
    from app.db.session import get_sessionmaker

    with get_sessionmaker()() as session, session.begin():
        session.execute(insert(AuditEntry).values(
            tenant_id=principal.tenant_id if principal else None,
            key_id=principal.key_id if principal else None,
            method=method, route=route[:200], path=path[:500], resource_ids=ids, status=status,
            refused=status in (401, 403),
        ))
