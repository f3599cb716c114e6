"""Conditional GET: a strong ``ETag`` on every successful GET under ``/v1``, and ``304 Not Modified``
when the caller's ``If-None-Match`` names it.

The tag is the route's own when it sets one (a submission's version), else a digest of the exact
bytes answered, so two answers with one tag are byte-identical (a strong validator, RFC 9110
8.8.3). The check runs on the route's answer, after the route has authenticated and authorized
the caller: a 304 tells nothing a 200 would not have told the same key, and a refused call (401,
403, 404) is never turned into one. Every answer depends on the key that asked (its tenant), so
it is marked ``Vary: Authorization`` and ``private``: shared caches keep none of it.

Assessments never change (a new scoring is a new assessment), so an assessment's summary,
breakdown, inputs and comparisons may be cached for a year without asking again (``immutable``);
everything else, reports included, is revalidated on each use (``no-cache``: a cache keeps it,
but asks with its tag first).
"""

from __future__ import annotations

import hashlib

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

IMMUTABLE = "private, max-age=31536000, immutable"
REVALIDATE = "private, no-cache"
#: an assessment's own documents: built from its stored row only (the reports are not: they print the
#: unit's current name and note a ruleset changed since, so they are revalidated like the rest)
_IMMUTABLE_ROUTES = {"/v1/assessments/{assessment_id}", "/v1/assessments/{assessment_id}/breakdown",
                     "/v1/assessments/{assessment_id}/inputs", "/v1/assessments/{assessment_id}/comparison/{other_id}"}


def matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 13.1.2: weak comparison for If-None-Match (W/ prefixes ignored), or ``*``."""
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(candidate.strip().removeprefix("W/") == bare for candidate in if_none_match.split(","))


class ConditionalGetMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def hold(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, hold)
        assert start is not None
        body = b"".join(chunks)
        if start["status"] != 200:
            await send(start)
            await send({"type": "http.response.body", "body": body})
            return
        headers = MutableHeaders(scope=start)
        etag = headers.get("etag")
        if etag is None:
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            headers["ETag"] = etag
        route = getattr(scope.get("route"), "path_format", "")
        if "cache-control" not in headers:
            headers["Cache-Control"] = IMMUTABLE if route in _IMMUTABLE_ROUTES else REVALIDATE
        headers.append("Vary", "Authorization")
        condition = Headers(scope=scope).get("if-none-match")
        if condition is not None and matches(condition, etag):
            kept = [(k, v) for k, v in start["headers"]
                    if k.lower() in (b"etag", b"cache-control", b"vary", b"x-request-id", b"content-location")]
            await send({"type": "http.response.start", "status": 304, "headers": kept})
            await send({"type": "http.response.body", "body": b""})
            return
        await send(start)
        await send({"type": "http.response.body", "body": body})
