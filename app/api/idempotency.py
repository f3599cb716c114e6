"""``Idempotency-Key`` for every POST.

The key is claimed before the request runs: a pending record (status 0) is inserted for
(tenant, key, route) with a hash of the request body, in its own committed transaction. The
first response (2xx or 4xx) is then stored in that record. A retry with the same key and body
gets that response again (header ``Idempotent-Replayed: true``) and creates nothing; the same key
with another body is refused with 422; a retry while the first request is still running is
refused with 409 and ``Retry-After`` (two concurrent requests with one key never both run).
Server errors (5xx) release the claim, so they can be retried. A claim left pending for
:data:`ABANDONED_AFTER` (its process died mid-request) is taken over by the next retry.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import problem_response
from app.auth import scoping
from app.db.models import IdempotencyRecord

HEADER = b"idempotency-key"
_KEPT_HEADERS = {"location", "etag", "content-type"}
#: status_code of a claimed key whose request has not answered yet
PENDING = 0
#: a pending claim older than this belongs to a request that will never answer (its process died)
ABANDONED_AFTER = timedelta(minutes=10)


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        key_raw = headers.get(HEADER)
        if key_raw is None:
            await self.app(scope, receive, send)
            return
        presented = headers.get(b"authorization", b"").decode("latin-1")
        try:
            principal = await run_in_threadpool(_principal, presented)
        except Exception:  # noqa: BLE001 - database down: the route answers 503 itself
            principal = None
        if principal is None:
            # Without a valid caller there is nothing to replay: the route answers 401 itself.
            await self.app(scope, receive, send)
            return
        tenant_id = principal.tenant_id
        key = key_raw.decode("latin-1").strip()
        if not key or len(key) > 200:
            await problem_response(400, "bad-request", "Bad request", "Idempotency-Key must be 1 to 200 characters",
                                   errors=[{"parameter": "Idempotency-Key", "message": "1 to 200 characters"}])(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        route = scope["path"]
        digest = "sha256:" + hashlib.sha256(body).hexdigest()

        claimed = False
        try:
            record = await run_in_threadpool(_claim, tenant_id, key, route, digest)
            claimed = record is None
        except Exception:  # noqa: BLE001 - the database is down: let the app answer 503 itself
            record = None
        if record is not None:
            if record.request_hash != digest:
                await problem_response(
                    422, "idempotency-key-reused", "Idempotency-Key reused with a different request",
                    "this Idempotency-Key was already used for a different request body",
                    errors=[{"parameter": "Idempotency-Key", "message": "already used with another body"}],
                )(scope, receive, send)
                return
            if record.status_code == PENDING:
                await problem_response(
                    409, "idempotency-key-in-progress", "A request with this Idempotency-Key is in progress",
                    "the first request with this Idempotency-Key has not answered yet; retry it after a moment",
                    errors=[{"parameter": "Idempotency-Key", "message": "the first request is still running"}],
                    headers={"Retry-After": "1"},
                )(scope, receive, send)
                return
            replay = [(k.encode(), v.encode()) for k, v in record.headers.items()]
            replay.append((b"idempotent-replayed", b"true"))
            replay.append((b"content-length", str(len(record.body.encode())).encode()))
            await send({"type": "http.response.start", "status": record.status_code, "headers": replay})
            await send({"type": "http.response.body", "body": record.body.encode()})
            return

        sent = False

        async def replay_receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        status_code = 0
        resp_headers: dict[str, str] = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                for k, v in message.get("headers", []):
                    name = k.decode("latin-1").lower()
                    if name in _KEPT_HEADERS:
                        resp_headers[name] = v.decode("latin-1")
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_receive, capture)
        finally:
            if claimed:
                with anyio.CancelScope(shield=True):  # even when the client went away mid-request
                    await _finish_claim(tenant_id, key, route, status_code, resp_headers, b"".join(chunks))


async def _finish_claim(tenant_id: uuid.UUID, key: str, route: str, status_code: int, headers: dict[str, Any],
                        body: bytes) -> None:
    """Store the answer in the claimed record (2xx/4xx), or release the claim (5xx, no answer)."""
    try:
        if 200 <= status_code < 500:
            await run_in_threadpool(_store, tenant_id, key, route, status_code, headers, body)
        else:
            await run_in_threadpool(_release, tenant_id, key, route)
    except Exception:  # noqa: BLE001 - best effort: a claim left pending is taken over after ABANDONED_AFTER
        pass


def _principal(header: str) -> Any:
    from app.auth.keys import verify
    from app.db.session import get_sessionmaker

    if header[:7].lower() != "bearer ":
        return None
    with get_sessionmaker()() as session:
        return verify(session, header[7:].strip())


def _where(tenant_id: uuid.UUID, key: str, route: str) -> tuple[Any, ...]:
    return (IdempotencyRecord.tenant_id == tenant_id, IdempotencyRecord.key == key, IdempotencyRecord.route == route)


def _claim(tenant_id: uuid.UUID, key: str, route: str, digest: str) -> IdempotencyRecord | None:
    """Claim the key for this request: None when claimed (a new pending record, or an abandoned
    one taken over), else the record of the request that has it (pending or answered)."""
    from app.db.session import get_sessionmaker

    now = datetime.now(UTC)
    with get_sessionmaker()(expire_on_commit=False) as session, session.begin():
        scoping.set_tenant(session, tenant_id)  # row-level security (migration 0007)
        inserted = session.execute(
            insert(IdempotencyRecord)
            .values(tenant_id=tenant_id, key=key, route=route, request_hash=digest, status_code=PENDING,
                    headers={}, body="", created_at=now)
            .on_conflict_do_nothing()
            .returning(IdempotencyRecord.key)
        ).first()
        if inserted is not None:
            return None
        taken = session.execute(
            update(IdempotencyRecord)
            .where(*_where(tenant_id, key, route), IdempotencyRecord.status_code == PENDING,
                   IdempotencyRecord.created_at < now - ABANDONED_AFTER)
            .values(request_hash=digest, created_at=now)
            .returning(IdempotencyRecord.key)
        ).first()
        if taken is not None:
            return None
        return session.scalar(select(IdempotencyRecord).where(*_where(tenant_id, key, route)))


def _store(tenant_id: uuid.UUID, key: str, route: str, status_code: int, headers: dict[str, Any],
           body: bytes) -> None:
    from app.db.session import get_sessionmaker

    with get_sessionmaker()() as session, session.begin():
        scoping.set_tenant(session, tenant_id)  # row-level security (migration 0007)
        session.execute(
            update(IdempotencyRecord)
            .where(*_where(tenant_id, key, route), IdempotencyRecord.status_code == PENDING)
            .values(status_code=status_code, headers=headers, body=body.decode("utf-8"))
        )


def _release(tenant_id: uuid.UUID, key: str, route: str) -> None:
    from app.db.session import get_sessionmaker

    with get_sessionmaker()() as session, session.begin():
        scoping.set_tenant(session, tenant_id)  # row-level security (migration 0007)
        session.execute(delete(IdempotencyRecord).where(*_where(tenant_id, key, route),
                                                        IdempotencyRecord.status_code == PENDING))


#: OpenAPI: the header every POST accepts, and the answer to a retry while the first is running
OPENAPI_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Makes a retry safe: the same key and body answer the first response again (with "
                   "`Idempotent-Replayed: true`) and create nothing; another body is refused with 422; a "
                   "retry while the first request is still running is refused with 409 and `Retry-After`.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
}
OPENAPI_409 = "A request with this Idempotency-Key is still in progress (retry after `Retry-After` seconds)"
