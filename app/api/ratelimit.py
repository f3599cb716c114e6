"""Rate limits on ``/v1``: per API key, and per source address for requests without a verified key.

A request over its limit gets 429 (problem+json) with ``Retry-After``; every limited answer carries
the IETF headers of draft-ietf-httpapi-ratelimit-headers (-10): ``RateLimit-Policy`` (the quotas:
``"key-60s";q=3000;w=60``) and ``RateLimit`` (what is left of each and when it resets:
``"key-60s";r=2999;t=60``). ``/healthz``, ``/readyz``, ``/metrics`` and the documents are not
limited (probes and scrapers must never be turned away). Settings: ``JIXIAO_RATE_LIMIT_*``
(app/settings.py; off in the test suite, which tests the limiter with an app of its own).

The counting is the ``limits`` library's (fixed window by default, ``JIXIAO_RATE_LIMIT_STRATEGY``
chooses its moving window or sliding window counter), in its memory storage.

**Per process, the limit divided.** Each process counts on its own and allows its share of each
limit (``JIXIAO_RATE_LIMIT_PROCESSES``, by default uvicorn's ``WEB_CONCURRENCY``). A count shared
through PostgreSQL would cost a round trip on every request (the hottest route makes two in all),
turn one row per key into a lock every concurrent request of that key queues on, write WAL for
every request, and stop limiting, or stop serving, exactly when the database is slow or down.
The price of counting per process: connections are spread over the processes by the kernel, so a
client using a single keep-alive connection gets one process's share, and one spreading many
connections up to the whole limit. With one process (``make serve``, the container) it is exact.

**Which bucket: a key only once it has proved itself.** The key is told from the ``Authorization``
header alone (no database round trip, no body read), but a key's prefix (``jx_1a2b3c4d``) is not a
secret: it is shown in key listings and the audit log. Charging whatever prefix a request shows
would let anyone exhaust a real key's quota with forged keys of the same prefix. So a request is
charged to its key only when that exact key (a digest of the whole header value, never the key)
has been verified by the routes in this process before (the route stores the verified principal
in the request's state); any other request (no key, an unknown, forged, revoked or expired key,
or a real key's first request in this process) is charged to its source address under the
anonymous limit. A key that stops verifying (revoked) is forgotten at its next refusal.

Behind a reverse proxy the source address is the proxy's unless uvicorn is told to trust its
``X-Forwarded-For`` (``--proxy-headers --forwarded-allow-ips``).

Cost: no I/O; the library's counter update and window read, and two header lines: ~25 µs a
request on the 2-core development machine, measured around a bare ASGI app (bench/RESULTS.md).
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import STRATEGIES, RateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api import problems
from app.settings import Settings, get_settings

#: keys remembered as verified, per process (the oldest forgotten first; it then pays one request
#: to its address's bucket)
KNOWN_KEYS = 10_000


def shares(limit: str, processes: int) -> list[RateLimitItem]:
    """Each of ``limit``'s items (limits notation) with this process's share of its amount."""
    n = max(1, processes)
    return [type(item)(max(1, item.amount // n), item.multiples, item.namespace) for item in parse_many(limit)]


class _Policy:
    def __init__(self, kind: str, items: list[RateLimitItem]) -> None:
        self.items = [(f"{kind}-{item.get_expiry()}s", item) for item in items]
        self.header = ", ".join(f'"{name}";q={item.amount};w={item.get_expiry()}' for name, item in self.items)
        self.header_bytes = self.header.encode()


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings | None = None) -> None:
        self.app = app
        s = settings or get_settings()
        self.enabled = s.rate_limit_enabled
        self.keys = _Policy("key", shares(s.rate_limit_per_key, s.rate_limit_processes))
        self.anonymous = _Policy("address", shares(s.rate_limit_anonymous, s.rate_limit_processes))
        self.limiter: RateLimiter = STRATEGIES[s.rate_limit_strategy](MemoryStorage())
        self.known: dict[bytes, None] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.enabled or scope["type"] != "http" or not scope["path"].startswith("/v1"):
            await self.app(scope, receive, send)
            return
        digest = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                if value[:7].lower() == b"bearer ":  # the key itself: one bucket however it is written
                    value = value[7:].strip()
                digest = hashlib.blake2b(value, digest_size=16).digest()
                break
        if digest is not None and digest in self.known:
            policy, who = self.keys, "k" + digest.hex()
        else:
            policy, who = self.anonymous, "a" + ((scope.get("client") or ("-",))[0])
        limiter = self.limiter
        for name, item in policy.items:
            if not limiter.hit(item, who):
                await self._refuse(scope, receive, send, policy, who, name, item)
                return
        state = self._state(policy, who)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()),
                                                  (b"ratelimit-policy", policy.header_bytes),
                                                  (b"ratelimit", state)]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
        if digest is not None:
            principal = scope.get("state", {}).get("principal")
            if principal is not None:
                if digest not in self.known:
                    if len(self.known) >= KNOWN_KEYS:
                        del self.known[next(iter(self.known))]
                    self.known[digest] = None
            elif digest in self.known:
                del self.known[digest]  # verified before, refused now (revoked, expired)

    def _state(self, policy: _Policy, who: str) -> bytes:
        now = time.time()
        parts = []
        for name, item in policy.items:
            reset, remaining = self.limiter.get_window_stats(item, who)
            parts.append(f'"{name}";r={remaining};t={max(0, math.ceil(reset - now))}')
        return ", ".join(parts).encode()

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, policy: _Policy, who: str,
                      name: str, item: RateLimitItem) -> None:
        reset, _ = self.limiter.get_window_stats(item, who)
        retry = max(1, math.ceil(reset - time.time()))
        per = f"{item.get_expiry()} s"
        whose = "this API key" if policy is self.keys else "this address without a verified API key"
        response = problems.problem_response(
            429, "too-many-requests", "Too many requests",
            f"more than {item.amount} requests in {per} from {whose}; retry after {retry} s",
            headers={"Retry-After": str(retry), "RateLimit-Policy": policy.header,
                     "RateLimit": self._state(policy, who).decode()},
            instance=scope["path"])
        await response(scope, receive, send)


#: the headers of a 429 (OpenAPI components, referred to by every /v1 operation)
OPENAPI_HEADERS: dict[str, Any] = {
    "Retry-After": {"description": "Seconds until a request is allowed again", "schema": {"type": "string"}},
    "RateLimit-Policy": {"description": "The quotas (draft-ietf-httpapi-ratelimit-headers): "
                                        '`"key-60s";q=3000;w=60`', "schema": {"type": "string"}},
    "RateLimit": {"description": 'What is left of each quota and seconds to its reset: `"key-60s";r=0;t=12`',
                  "schema": {"type": "string"}},
}


def document(schema: dict[str, Any]) -> None:
    """Add the 429 to every /v1 operation of an OpenAPI document (its headers defined once, referred to)."""
    schema.setdefault("components", {}).setdefault("headers", {}).update(OPENAPI_HEADERS)
    response = {
        "description": "Too many requests from this API key (or, without a verified key, from this address): "
                       "retry after `Retry-After` seconds",
        "headers": {name: {"$ref": f"#/components/headers/{name}"} for name in OPENAPI_HEADERS},
        "content": {problems.PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}},
    }
    for path, item in schema["paths"].items():
        if not path.startswith("/v1"):
            continue
        for op in item.values():
            op["responses"].setdefault("429", response)
            op["responses"] = dict(sorted(op["responses"].items()))
