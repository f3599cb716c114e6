"""A job's large body is bounded in memory: only NDJSON may exceed JIXIAO_MAX_BODY_BYTES, and a
process receives at most JIXIAO_JOBS_CONCURRENT_UPLOADS such bodies at a time."""

from __future__ import annotations

import asyncio

from app.api import body_limit
from app.settings import get_settings


def test_a_json_job_body_keeps_the_ordinary_limit(client):
    limit = get_settings().max_body_bytes
    r = client.post("/v1/jobs", content=b"{" + b" " * limit + b"}", headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    assert str(limit) in r.json()["detail"]


def test_a_third_concurrent_ndjson_upload_is_told_to_retry(monkeypatch):
    """Two uploads in flight hold the process's slots; the third is answered 503 before its body is read."""
    calls: list[dict] = []
    gate = asyncio.Event()

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        await gate.wait()

    async def send(message):  # type: ignore[no-untyped-def]
        calls.append(message)

    async def receive():  # type: ignore[no-untyped-def]
        raise AssertionError("the refused request's body must not be read")

    scope = {"type": "http", "method": "POST", "path": "/v1/jobs",
             "headers": [(b"content-type", b"application/x-ndjson")]}
    monkeypatch.setattr(body_limit, "_uploads", None)
    middleware = body_limit.BodyLimitMiddleware(app)

    async def run() -> None:
        first = asyncio.create_task(middleware(scope, receive, send))
        second = asyncio.create_task(middleware(scope, receive, send))
        await asyncio.sleep(0)
        await middleware(scope, receive, send)  # the third
        gate.set()
        await asyncio.gather(first, second)

    asyncio.run(run())
    start = next(m for m in calls if m["type"] == "http.response.start")
    assert start["status"] == 503
    assert (b"retry-after", b"5") in start["headers"]
