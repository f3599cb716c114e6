"""``Idempotency-Key`` for every POST.

The first response (2xx or 4xx) to a POST with a key is stored with a hash of
the request body. A retry with the same key and body gets that response again
(header ``Idempotent-Replayed: true``) and creates nothing; the same key with
another body is refused with 422. Server errors (5xx) are not stored, so they
can be retried.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import problem_response
from app.db.models import IdempotencyRecord

HEADER = b"idempotency-key"
_KEPT_HEADERS = {"location", "etag", "content-type"}


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

        try:
            record = await run_in_threadpool(_lookup, tenant_id, key, route)
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

        await self.app(scope, replay_receive, capture)
        if 200 <= status_code < 500:
            try:
                await run_in_threadpool(_store, tenant_id, key, route, digest, status_code, resp_headers,
                                        b"".join(chunks))
            except Exception:  # noqa: BLE001 - storing the replay is best effort
                pass


def _principal(header: str) -> Any:
    from app.auth.keys import verify
    from app.db.session import get_sessionmaker

    if header[:7].lower() != "bearer ":
        return None
    with get_sessionmaker()() as session:
        return verify(session, header[7:].strip())


def _lookup(tenant_id: uuid.UUID, key: str, route: str) -> IdempotencyRecord | None:
    from app.db.session import get_sessionmaker

    with get_sessionmaker()() as session:
        return session.scalar(select(IdempotencyRecord).where(
            IdempotencyRecord.tenant_id == tenant_id, IdempotencyRecord.key == key, IdempotencyRecord.route == route))


def _store(tenant_id: uuid.UUID, key: str, route: str, digest: str, status_code: int, headers: dict[str, Any],
           body: bytes) -> None:
    from app.db.session import get_sessionmaker

    with get_sessionmaker()() as session, session.begin():
        session.execute(
            insert(IdempotencyRecord)
            .values(tenant_id=tenant_id, key=key, route=route, request_hash=digest, status_code=status_code,
                    headers=headers, body=body.decode("utf-8"))
            .on_conflict_do_nothing()
        )

