"""Two middlewares around the routes: authentication before any body is read, and the audit
entries a request's own transaction could not write."""

from __future__ import annotations

import hashlib
import logging
import time
from functools import lru_cache
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import metrics
from app.api import request_id
from app.api.problems import problem_response
from app.auth import scoping
from app.auth.deps import describe, uuid_or_none
from app.auth.keys import Principal, key_prefix

log = logging.getLogger("jixiao.auth")
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def _protected(path: str) -> bool:
    return path.startswith("/v1/") or path == "/v1"


def _presented(scope: Scope) -> str | None:
    """The presented key: None without an Authorization header, "" when it is not a bearer key."""
    header = next((v for k, v in scope["headers"] if k == b"authorization"), None)
    if header is None:
        return None
    text = header.decode("latin-1")
    return text[7:].strip() if text[:7].lower() == "bearer " else ""


#: how long a verified key lets its bodies be read without asking the database again (see below)
_GATE_SECONDS = 2.0
_GATE_MAX = 4096


class AuthenticateFirstMiddleware:
    """Refuses a change (POST, PUT, PATCH, DELETE under /v1) from a missing or unknown key with 401
    before its body is read or parsed: FastAPI would otherwise parse a route's JSON body before
    its key dependency runs, and the fastest routes read their raw body before the statement that
    verifies their key. A GET has no body; its route answers 401 itself.

    This is a gate, not the authority: every route still verifies the key freshly, in its own
    transaction (revocation takes effect on the next request). So that the gate does not cost the
    hottest route a database round trip per request, a key that passed it is let through again for
    :data:`_GATE_SECONDS` by the SHA-256 of the whole presented key (never the key itself). A key
    revoked in that window still has its body read once more, and is then refused by its route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._passed: dict[bytes, float] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING or not _protected(scope["path"]) \
                or not _routed(scope):
            # no route takes this method at this path: the app answers 404 or 405 (with Allow) and
            # reads no body, whoever asks
            await self.app(scope, receive, send)
            return
        presented = _presented(scope)
        if presented is None:
            await _refuse(scope, receive, send, "an API key is required: Authorization: Bearer <key>")
            return
        digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
        now = time.monotonic()
        if self._passed.get(digest, 0.0) < now:
            try:
                principal = await run_in_threadpool(_verify, presented)
            except Exception:  # noqa: BLE001 - the database is down: the route answers 503 itself
                await self.app(scope, receive, send)
                return
            if principal is None:
                await _refuse(scope, receive, send, "the API key is not valid (unknown, expired or revoked)")
                return
            if len(self._passed) >= _GATE_MAX:
                self._passed.clear()
            self._passed[digest] = now + _GATE_SECONDS
        await self.app(scope, receive, send)


def _routed(scope: Scope) -> bool:
    """Some route takes this method at this path (cached by method and path: the fixed paths of the
    hottest routes are looked up once)."""
    return _route_matches(scope["app"], scope["method"], scope["path"])


@lru_cache(maxsize=4096)
def _route_matches(app: Any, method: str, path: str) -> bool:
    probe = {"type": "http", "method": method, "path": path, "root_path": ""}
    return any(route.matches(probe)[0] is Match.FULL for route in app.router.routes)


def _verify(presented: str) -> object | None:
    """The tenant principal or the operator of a presented key (app.auth.operators), or None."""
    from app.auth import operators
    from app.auth.keys import verify
    from app.db.session import get_sessionmaker

    with get_sessionmaker()() as session:
        if operators.is_operator_key(presented):
            return operators.verify(session, presented)
        return verify(session, presented)


async def _refuse(scope: Scope, receive: Receive, send: Send, detail: str) -> None:
    await problem_response(401, "unauthorized", "Unauthorized", detail, instance=scope["path"],
                           headers={"WWW-Authenticate": 'Bearer realm="jixiao"'})(scope, receive, send)


class AuditMiddleware:
    """Appends the audit entries a request's own transaction could not: refused calls (401/403),
    failed changes (a POST/PUT/PATCH/DELETE answered 4xx/5xx, whose transaction was rolled back)
    and replays of an Idempotency-Key's stored answer. Successful changes are audited inside their
    own transaction (app.auth.deps). Never records keys or bodies.

    A call refused before a route knew its caller (401, or a 4xx in front of the routes) is
    recorded for the tenant of the presented key's prefix when one has it (a wrong secret, an
    expired or revoked key: its admin sees the attempts). One without a key, or with a prefix no
    tenant has, is only counted (``jixiao_anonymous_refusals_total``): a permanent
    row per anonymous attempt, which nobody can read or delete, would only fill the log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _protected(scope["path"]):
            await self.app(scope, receive, send)
            return
        status = 0
        location: str | None = None
        replayed = False

        async def capture(message: Message) -> None:
            nonlocal status, location, replayed
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    lowered = name.lower()
                    if lowered == b"location":
                        location = value.decode("latin-1")
                    elif lowered == b"idempotent-replayed":
                        replayed = True
            await send(message)

        await self.app(scope, receive, capture)
        state = scope.get("state", {})
        if state.get("audited") and not replayed:
            return
        if replayed or (scope["method"] in MUTATING and status >= 400) or status in (401, 403):
            principal: Principal | None = state.get("principal")
            route = scope.get("route")
            template = getattr(route, "path_format", None) or scope["path"]
            ids: dict[str, Any] = {k: str(v) for k, v in (scope.get("path_params") or {}).items()}
            if location:
                ids["location"] = location
            if replayed:
                ids["idempotent_replay"] = "true"
            presented = _presented(scope) if principal is None else None
            described = describe(template, scope.get("path_params") or {}, state)
            try:
                await run_in_threadpool(_append, principal, presented, scope["method"], template, scope["path"],
                                        ids, status, described)
            except Exception:  # noqa: BLE001 - never fail a request on the audit write; log it loudly
                log.exception("audit log write failed for %s %s", scope["method"], template)


_OWNER = "SELECT id, tenant_id FROM jixiao_key(%s)"


def _append(principal: Principal | None, presented: str | None, method: str, route: str, path: str,
            ids: dict[str, Any], status: int, described: tuple[str | None, str | None, str | None]) -> None:
    from sqlalchemy import insert

    from app.db import sql
    from app.db.models import AuditEntry
    from app.db.session import get_sessionmaker

    with get_sessionmaker()() as session, session.begin():
        tenant_id = principal.tenant_id if principal else None
        key_id = principal.key_id if principal else None
        if principal is None:  # refused before a route knew the caller: the tenant of the key's prefix
            prefix = key_prefix(presented or "")
            # jixiao_key: the one lookup row-level security lets through before a tenant is known
            owner = sql.first(session, _OWNER, (prefix,)) if prefix else None
            if owner is None:
                metrics.ANONYMOUS_REFUSALS.labels("no_key" if not presented else "unknown_key").inc()
                return
            key_id, tenant_id = owner
        if tenant_id is not None:
            scoping.set_tenant(session, tenant_id)  # row-level security (migration 0009): the entry's tenant
        kind, ident, unit = described
        # inline: no RETURNING of the new id (row-level security would check it as a read)
        session.execute(insert(AuditEntry).inline().values(
            tenant_id=tenant_id, key_id=key_id,
            method=method, route=route[:200], path=path[:500], resource_ids=ids, status=status,
            refused=status in (401, 403), request_id=request_id.current(), resource_type=kind, resource_id=ident,
            unit_id=uuid_or_none(unit),
        ))
