"""The audit middleware: records what a request's own transaction could not (see AuditMiddleware)."""

from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth import scoping
from app.auth.keys import Principal

log = logging.getLogger("jixiao.auth")
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def _protected(path: str) -> bool:
    return path.startswith("/v1/") or path == "/v1"


class AuditMiddleware:
    """Appends the audit entries a request's own transaction could not: refused calls (401/403)
    and failed changes (a POST/PUT/PATCH/DELETE answered 4xx/5xx, whose transaction was rolled
    back). Successful changes are audited inside their own transaction (app.auth.deps).
    Never records keys or bodies."""

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
        state = scope.get("state", {})
        if state.get("audited"):
            return
        if (scope["method"] in MUTATING and status >= 400) or status in (401, 403):
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
        if principal is not None:
            scoping.set_tenant(session, principal.tenant_id)  # row-level security (migration 0007)
        # inline: no RETURNING of the new id, which row-level security would check as a read of
        # the row (a refusal's tenant is not the transaction's)
        session.execute(insert(AuditEntry).inline().values(
            tenant_id=principal.tenant_id if principal else None,
            key_id=principal.key_id if principal else None,
            method=method, route=route[:200], path=path[:500], resource_ids=ids, status=status,
            refused=status in (401, 403),
        ))
