"""A cap on request bodies (``JIXIAO_MAX_BODY_BYTES``): larger ones are refused with 413 before
they are read into memory, whether they announce their length or arrive in chunks.

The largest legitimate body is a 1,000-unit batch with every item's facts, answers and reasons
(~5 MB); the default leaves room for that several times over. Nothing is written for a refused
request: the refusal comes before any route runs, or from the route's first read of its body.

Not FastAPI's own ``max_body_size`` (Starlette's RequestBodyLimitMiddleware, recent versions only):
a body read by a middleware (the idempotency middleware hashes every POST body) is refused there
with FastAPI's default ``{"detail": ...}`` JSON, not the problem+json every other error is.
"""

from __future__ import annotations

import asyncio

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api import problems
from app.settings import get_settings


class BodyTooLarge(HTTPException):
    """Raised from the body stream once it passes the limit; answered 413 (app.api.problems),
    also where FastAPI reads a body itself (it lets HTTP exceptions through)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


def _refusal(exc: BodyTooLarge, path: str) -> JSONResponse:
    """The answer the problem handlers give ``exc``, for a refusal outside them (app.api.problems)."""
    return problems.problem_response(exc.status_code, "payload-too-large", "Payload too large", exc.detail,
                                     instance=path)


#: POST /v1/jobs with an NDJSON body is the one route allowed a body above ``max_body_bytes`` (up to
#: ``jobs_max_body_bytes``: 100,000 items). The route holds such a body, its lines and its packed
#: chunks in memory at once (about three times its size), so a process receives at most
#: ``jobs_concurrent_uploads`` of them at a time; another gets 503 with Retry-After, not memory.
NDJSON = (b"application/x-ndjson", b"application/jsonl", b"application/json-seq")
_uploads: asyncio.Semaphore | None = None


def _large_job_body(scope: Scope) -> bool:
    if scope["path"] != "/v1/jobs" or scope.get("method") != "POST":
        return False
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower() in NDJSON
    return False


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = get_settings()
        if _large_job_body(scope):
            global _uploads
            if _uploads is None:
                _uploads = asyncio.Semaphore(settings.jobs_concurrent_uploads)
            if _uploads.locked():
                await problems.problem_response(
                    503, "service-unavailable", "Service unavailable",
                    f"{settings.jobs_concurrent_uploads} large job bodies are being received already; retry later",
                    headers={"Retry-After": "5"}, instance=scope["path"])(scope, receive, send)
                return
            async with _uploads:
                await self._limited(scope, receive, send, settings.jobs_max_body_bytes)
            return
        await self._limited(scope, receive, send, settings.max_body_bytes)

    async def _limited(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _refusal(BodyTooLarge(limit), scope["path"])(scope, receive, send)
                return
        received = 0
        started = False

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracked)
        except BodyTooLarge as exc:
            if started:
                raise
            # read outside the routes (the idempotency middleware hashes bodies before they run)
            await _refusal(exc, scope["path"])(scope, receive, send)
