"""``Idempotency-Key`` for every POST, as Stripe's keys work ("Implementing Stripe-like Idempotency
Keys in Postgres"): the outcome is recorded in the same transaction as the effect.

The flow of a POST carrying the header:

1. :class:`IdempotencyMiddleware` checks the header (1 to :data:`MAX_KEY_CHARS` characters, no
   control characters; 400 otherwise) and puts a :class:`Claim` in the request's state. It reads
   nothing of the body: the key is authenticated first, by the route.
2. The route authenticates the API key and makes all of its own checks (scopes, the unit an audit
   firm may assess, ...), exactly as without the header. Then, right before its effect, it calls
   :func:`guard` in its own transaction, which
   * takes a transaction-level advisory lock for (API key, route, header value) with
     ``pg_try_advisory_xact_lock``: a second request with the same key while the first is running
     gets 409 with ``Retry-After: 1`` (true: the lock lives exactly as long as the first
     request's transaction, and PostgreSQL releases it the moment that connection closes, so a
     retry after the first request's process died runs at once, not after a time-out);
   * looks up a stored outcome for (API key, route, header value): the same body answers it
     again (``Idempotent-Replayed: true``; :class:`Replayed`), another body gets 422.
3. The route does its work and, in the same transaction, :func:`store` writes the outcome before
   COMMIT. Routes that build their response themselves store it directly; for the others the
   request's session hands its open transaction to the middleware (:func:`defer`), which stores
   the response it captured, commits, and only then sends it. A crash at any instant leaves
   either the effect with its record, or neither: never the effect alone.

What is stored: successful outcomes (2xx) only. A request refused by its checks or by validation
(4xx), or failing (5xx), rolls its transaction back with its lock, and stores nothing: its retry
runs afresh. Records are scoped to the API key that made the request: another key, even of the
same tenant, reusing the header value starts afresh and can never read the first key's answer.
No secret is ever stored: a route marks secret fields of its answer (:func:`redact`), a replay
answers them as ``null``. Records answer for ``JIXIAO_IDEMPOTENCY_TTL_HOURS`` (24) and are then
deleted (:func:`purge`, run by the service every few minutes).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import Conflict, Unprocessable, problem_response
from app.db import sql

if TYPE_CHECKING:
    from fastapi import FastAPI, Request, Response
    from sqlalchemy.orm import Session

log = logging.getLogger("jixiao.idempotency")

HEADER = b"idempotency-key"
#: the longest accepted header value, in characters (Stripe's limit too)
MAX_KEY_CHARS = 255
#: response headers a replay answers again
_KEPT_HEADERS = ("location", "etag", "content-type", "cache-control")
_STATE = "idempotency"


@dataclass(slots=True)
class Claim:
    """The Idempotency-Key of one request, and what the route has done with it."""

    key: str
    route: str
    #: set by :func:`guard`: the session whose transaction holds the lock and will carry the record
    session: Session | None = None
    key_id: uuid.UUID | None = None
    tenant_id: uuid.UUID | None = None
    digest: str = ""
    #: the transaction is waiting for the middleware to store the answer and commit
    deferred: bool = False
    #: response fields never stored (a created key's secret): their stored value
    redacted: dict[str, Any] = field(default_factory=dict)


class InProgress(Conflict):
    slug, title = "idempotency-key-in-progress", "A request with this Idempotency-Key is in progress"


class KeyReused(Unprocessable):
    slug, title = "idempotency-key-reused", "Idempotency-Key reused with a different request"


class Replayed(Exception):  # noqa: N818 - not an error: the stored answer, raised out of the route
    """The stored answer of the first request with this key; answered by the handler :func:`install` adds."""

    def __init__(self, status_code: int, headers: dict[str, str], body: bytes) -> None:
        super().__init__(status_code)
        self.status_code, self.headers, self.body = status_code, headers, body


def claim_of(request: Request) -> Claim | None:
    claim: Claim | None = request.scope.get("state", {}).get(_STATE)
    return claim


def requested(request: Request) -> bool:
    """The request carries a (well-formed) Idempotency-Key."""
    return claim_of(request) is not None


def _lock_id(key_id: uuid.UUID, route: str, key: str) -> int:
    digest = hashlib.sha256(f"{key_id}\x00{route}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


_LOOKUP = ("SELECT request_hash, status_code, headers, body FROM idempotency_keys "
           "WHERE key_id = %s AND route = %s AND key = %s AND expires_at > now()")


def guard(session: Session, request: Request, raw: bytes) -> None:
    """Right before the route's effect, in its transaction, after all of its checks: lock the key
    (409 when another request holds it), answer a stored outcome again (:class:`Replayed`, or 422
    for another body), or claim the key for this request's outcome. Nothing without the header."""
    claim = claim_of(request)
    if claim is None:
        return
    principal = session.info["principal"]
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    locked = sql.first(session, "SELECT pg_try_advisory_xact_lock(%s)",
                       (_lock_id(principal.key_id, claim.route, claim.key),))
    if not (locked and locked[0]):
        raise InProgress(
            "the first request with this Idempotency-Key has not answered yet; retry it after a moment",
            errors=[{"parameter": "Idempotency-Key", "message": "the first request is still running"}],
            headers={"Retry-After": "1"})
    row = sql.first(session, _LOOKUP, (principal.key_id, claim.route, claim.key))
    if row is not None:
        request_hash, status_code, headers, body = row
        if request_hash != digest:
            raise KeyReused("this Idempotency-Key was already used for a different request body",
                            errors=[{"parameter": "Idempotency-Key", "message": "already used with another body"}])
        raise Replayed(status_code, headers, bytes(body))
    claim.session, claim.key_id, claim.tenant_id, claim.digest = session, principal.key_id, principal.tenant_id, digest


def claimed(request: Request, session: Session) -> bool:
    """This session's transaction is to carry the outcome of the request's Idempotency-Key."""
    claim = claim_of(request)
    return claim is not None and claim.session is session


def redact(request: Request, **stored: Any) -> None:
    """Fields of the answer that are never stored (a key's secret), with the value a replay shows."""
    claim = claim_of(request)
    if claim is not None:
        claim.redacted.update(stored)


_STORE = (
    "INSERT INTO idempotency_keys (key_id, route, key, tenant_id, request_hash, status_code, headers, body, "
    "expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s, now() + make_interval(hours => %s)) "
    # an expired record that the purge has not deleted yet is replaced; a live one cannot exist (the lock)
    "ON CONFLICT (key_id, route, key) DO UPDATE SET tenant_id = EXCLUDED.tenant_id, "
    "request_hash = EXCLUDED.request_hash, status_code = EXCLUDED.status_code, headers = EXCLUDED.headers, "
    "body = EXCLUDED.body, created_at = now(), expires_at = EXCLUDED.expires_at "
    "WHERE idempotency_keys.expires_at <= now()"
)


def store(session: Session, request: Request, status_code: int, headers: Any, body: bytes) -> None:
    """Write the successful outcome in the claimed transaction (before its COMMIT)."""
    claim = claim_of(request)
    assert claim is not None
    assert claim.session is session
    _store(claim, status_code, headers, body)


def _store(claim: Claim, status_code: int, headers: Any, body: bytes) -> None:
    from app.settings import get_settings

    session = claim.session
    assert session is not None
    assert 200 <= status_code < 300

    kept = {name: headers[name] for name in _KEPT_HEADERS if name in headers}
    if claim.redacted:
        document = orjson.loads(body)
        document.update(claim.redacted)
        body = orjson.dumps(document)
        kept["content-type"] = "application/json"
    sql.run(session, _STORE, (claim.key_id, claim.route, claim.key, claim.tenant_id, claim.digest, status_code,
                              sql.dumps(kept), body, get_settings().idempotency_ttl_hours))


def defer(request: Request, session: Session) -> None:
    """Hand the claimed, uncommitted transaction to the middleware: it stores the answer the route
    produces and commits before sending it (for routes whose answer FastAPI renders)."""
    claim = claim_of(request)
    assert claim is not None
    assert claim.session is session
    claim.deferred = True
    session.info["deferred"] = True


def _complete(claim: Claim, status_code: int, headers: dict[str, str], body: bytes) -> bool:
    """Store the answer and commit the deferred transaction (True), or roll it back (False)."""
    session = claim.session
    assert session is not None
    try:
        if 200 <= status_code < 300:
            _store(claim, status_code, headers, body)
            session.commit()
            return True
        session.rollback()
        return False
    except Exception:
        log.exception("could not store the outcome of Idempotency-Key %r; nothing was committed", claim.key)
        try:
            session.rollback()
        except Exception:  # noqa: BLE001 - a broken connection: the pool discards it
            pass
        raise
    finally:
        session.close()


def _header_value(raw: bytes) -> str | None:
    try:
        value = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None
    if not value or len(value) > MAX_KEY_CHARS or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return None
    return value


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        raw_key = next((v for k, v in scope["headers"] if k == HEADER), None)
        if raw_key is None:
            await self.app(scope, receive, send)
            return
        key = _header_value(raw_key)
        if key is None:
            await problem_response(
                400, "bad-request", "Bad request",
                f"Idempotency-Key must be 1 to {MAX_KEY_CHARS} characters of UTF-8 text without control characters",
                errors=[{"parameter": "Idempotency-Key", "message": f"1 to {MAX_KEY_CHARS} characters"}],
                instance=scope["path"])(scope, receive, send)
            return
        claim = Claim(key=key, route=scope["path"])
        scope.setdefault("state", {})[_STATE] = claim

        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            else:  # pragma: no cover - nothing else is sent by the app
                await send(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            if claim.deferred:
                await run_in_threadpool(_abandon, claim)
            raise
        assert start is not None
        body = b"".join(chunks)
        if claim.deferred:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start.get("headers", [])}
            try:
                await run_in_threadpool(_complete, claim, start["status"], headers, body)
            except Exception:  # noqa: BLE001 - the effect is not committed: say so, the retry runs it
                await problem_response(503, "service-unavailable", "Service unavailable",
                                       "the outcome could not be stored; nothing was changed, retry the request",
                                       headers={"Retry-After": "1"}, instance=scope["path"])(scope, receive, send)
                return
        await send(start)
        await send({"type": "http.response.body", "body": body})


def _abandon(claim: Claim) -> None:
    session = claim.session
    if session is None:
        return
    try:
        session.rollback()
    finally:
        session.close()


def install(app: FastAPI) -> None:
    """The handler answering :class:`Replayed`: the stored answer, marked as a replay."""
    from fastapi import Response

    async def _replayed(request: Request, exc: Replayed) -> Response:
        headers = {**exc.headers, "Idempotent-Replayed": "true"}
        media = headers.pop("content-type", "application/json")
        return Response(exc.body, status_code=exc.status_code, headers=headers, media_type=media)

    app.add_exception_handler(Replayed, _replayed)  # type: ignore[arg-type]


_PURGE = "SELECT jixiao_purge_idempotency(%s)"


def purge(batch: int = 1000) -> int:
    """Delete expired records (at most ``batch`` per call); the number deleted."""
    from app.db.session import get_sessionmaker

    with get_sessionmaker()() as session, session.begin():
        row = sql.first(session, _PURGE, (batch,))
        return int(row[0]) if row else 0


#: OpenAPI: the header every POST accepts, its 400, and the answer to a retry while the first is running
OPENAPI_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": (
        "Makes a retry safe. The key's successful outcome is stored with its effect, in one transaction, "
        "for 24 hours, for the API key that sent it: a retry with the same header value and body "
        "answers the first response again (with `Idempotent-Replayed: true`) and changes nothing; "
        "another body is refused with 422; a retry while the first request is still running gets 409 "
        "with `Retry-After`. Refusals (4xx) and failures (5xx) store nothing: their retry runs afresh. "
        f"1 to {MAX_KEY_CHARS} characters (UTF-8), no control characters; otherwise 400."),
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_CHARS},
}
OPENAPI_409 = "A request with this Idempotency-Key is still in progress (retry after `Retry-After` seconds)"
OPENAPI_400 = f"The Idempotency-Key header is not 1 to {MAX_KEY_CHARS} characters of text"
OPENAPI_REPLAYED_HEADER: dict[str, Any] = {
    "description": "`true` when this answer is the stored answer of an earlier request with the same Idempotency-Key",
    "schema": {"type": "string", "enum": ["true"]}}
