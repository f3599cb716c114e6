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


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = get_settings()
        # a job's items (up to 100,000) come in one body: POST /v1/jobs has a limit of its own
        limit = settings.jobs_max_body_bytes if scope["path"] == "/v1/jobs" else settings.max_body_bytes
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
