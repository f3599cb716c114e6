"""The response headers and conditional requests of every operation, declared in the OpenAPI
document (generated clients expose declared headers only): ``X-Request-Id`` on every answer,
``ETag`` and ``Cache-Control`` on every GET with ``If-None-Match`` and its 304, ``Location`` on
every 201, ``Retry-After`` where the service sends it (409, 429, 503)."""

from __future__ import annotations

from typing import Any

_REQUEST_ID = {"description": "The request's id (the caller's `X-Request-Id`, or one made for it): quote it to support",
               "schema": {"type": "string"}}
_ETAG = {"description": "Strong validator of this answer: send it back as `If-None-Match` to get 304 when unchanged",
         "schema": {"type": "string"}}
_CACHE_CONTROL = {"description": "`private, max-age=31536000, immutable` for an assessment's own documents (they "
                                 "never change), else `private, no-cache`", "schema": {"type": "string"}}
_LOCATION = {"description": "The URL of the created record", "schema": {"type": "string"}}
_RETRY_AFTER = {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "required": False,
                 "description": "An `ETag` of an earlier answer: 304 without a body when the answer is unchanged",
                 "schema": {"type": "string"}}


def declare(schema: dict[str, Any]) -> None:
    for path, item in schema["paths"].items():
        for method, op in item.items():
            responses: dict[str, Any] = op["responses"]
            protected = path.startswith("/v1/")
            if method == "get" and protected and "200" in responses:
                responses["200"].setdefault("headers", {}).update({"ETag": _ETAG, "Cache-Control": _CACHE_CONTROL})
                responses.setdefault("304", {"description": "Not modified: the answer is the one whose `ETag` was sent",
                                             "headers": {"ETag": _ETAG}})
                params = op.setdefault("parameters", [])
                if not any(p.get("name") == "If-None-Match" for p in params):
                    params.append(IF_NONE_MATCH)
            if "201" in responses:
                responses["201"].setdefault("headers", {})["Location"] = _LOCATION
            for code in ("409", "429", "503"):
                if code in responses:
                    responses[code].setdefault("headers", {})["Retry-After"] = _RETRY_AFTER
            for response in responses.values():
                response.setdefault("headers", {})["X-Request-Id"] = _REQUEST_ID
            op["responses"] = dict(sorted(responses.items()))
