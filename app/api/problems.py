"""One error model for the whole API: RFC 9457 ``application/problem+json``.

Every error leaves through :func:`install`'s handlers. Clients get ``type``,
``title``, ``status``, ``detail`` and, for invalid input, ``errors``: a list
of ``{pointer, message}`` with a JSON pointer into the request body (or
``{parameter, message}`` for query, path and header parameters). No stack
trace or SQL ever reaches a client.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from asgi_correlation_id import correlation_id
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.engine.errors import InvalidInput

log = logging.getLogger("jixiao.errors")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://jixiao.dev/problems/"


class FastJSONResponse(JSONResponse):
    """JSON rendered by orjson (several times faster than the standard library for large breakdowns)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class FieldError(BaseModel):
    pointer: str | None = Field(default=None, description="JSON pointer into the request body", examples=["/facts/procurement_actual"])
    parameter: str | None = Field(default=None, description="Name of the offending query, path or header parameter")
    message: str


class ProblemDetail(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(examples=[TYPE_BASE + "validation-error"])
    title: str = Field(examples=["The request is not valid"])
    status: int = Field(examples=[422])
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None
    request_id: str | None = Field(default=None, description="The request's `X-Request-Id`: quote it to support")


class ProblemError(Exception):
    status = 500
    slug = "internal-error"
    title = "Internal error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        title: str | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}
        if title is not None:
            self.title = title


class BadRequest(ProblemError):
    status, slug, title = 400, "bad-request", "Bad request"


class NotFound(ProblemError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(ProblemError):
    status, slug, title = 409, "conflict", "Conflict"


class PreconditionFailed(ProblemError):
    status, slug, title = 412, "precondition-failed", "Precondition failed"


class PreconditionRequired(ProblemError):
    status, slug, title = 428, "precondition-required", "Precondition required"


class Unprocessable(ProblemError):
    status, slug, title = 422, "validation-error", "The request is not valid"


class PayloadTooLarge(ProblemError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class ServiceUnavailable(ProblemError):
    status, slug, title = 503, "service-unavailable", "Service unavailable"


def problem_response(
    status: int, slug: str, title: str, detail: str | None = None, *,
    errors: list[dict[str, str]] | None = None, headers: dict[str, str] | None = None,
    instance: str | None = None, extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": TYPE_BASE + slug, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)
    rid = correlation_id.get()
    if rid:
        body["request_id"] = rid
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _pointer(loc: tuple[Any, ...] | list[Any]) -> dict[str, str]:
    parts = list(loc)
    where = parts[0] if parts else "body"
    rest = [str(p).replace("~", "~0").replace("/", "~1") for p in parts[1:]]
    if where == "body":
        return {"pointer": "/" + "/".join(rest) if rest else ""}
    return {"parameter": ".".join(rest) if rest else str(where)}


def validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        entry = _pointer(err.get("loc", ()))
        msg = str(err.get("msg", "invalid"))
        entry["message"] = msg
        out.append(entry)
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(exc.status, exc.slug, exc.title, exc.detail, errors=exc.errors,
                                headers=exc.headers, instance=request.url.path, extra=exc.extra)

    @app.exception_handler(InvalidInput)
    async def _invalid(request: Request, exc: InvalidInput) -> JSONResponse:
        return problem_response(422, "validation-error", exc.title, f"{len(exc.problems)} problem(s) in the submission",
                                errors=[p.as_dict() for p in exc.problems], instance=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc)
        return problem_response(422, "validation-error", "The request is not valid",
                                f"{len(errors)} problem(s) in the request", errors=errors, instance=request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed", 401: "Unauthorized", 403: "Forbidden",
                  413: "Payload too large"}
        slug = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large"}.get(exc.status_code, "http-error")
        detail = exc.detail if isinstance(exc.detail, str) else None
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.method} {request.url.path}"
        return problem_response(exc.status_code, slug, titles.get(exc.status_code, "HTTP error"), detail,
                                headers=getattr(exc, "headers", None), instance=request.url.path)

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _db_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", type(exc).__name__)
        return problem_response(503, "database-unavailable", "Database unavailable",
                                "the database cannot be reached; retry later", headers={"Retry-After": "5"},
                                instance=request.url.path)

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        # A value the database cannot hold (e.g. a number out of range): the caller's input.
        return problem_response(422, "validation-error", "The request is not valid",
                                "a value is out of the range the service accepts", instance=request.url.path)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("integrity error on %s", request.url.path)
        return problem_response(409, "conflict", "Conflict",
                                "the request conflicts with data written concurrently; read and retry",
                                instance=request.url.path)

    @app.exception_handler(DBAPIError)
    async def _dbapi(request: Request, exc: DBAPIError) -> JSONResponse:
        if exc.connection_invalidated:
            return problem_response(503, "database-unavailable", "Database unavailable",
                                    "the database connection was lost; retry later", headers={"Retry-After": "5"},
                                    instance=request.url.path)
        log.exception("database error")
        return problem_response(500, "internal-error", "Internal error", "an unexpected error occurred",
                                instance=request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem_response(500, "internal-error", "Internal error", "an unexpected error occurred",
                                instance=request.url.path)


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the problem statuses a route may answer."""
    text = {
        400: "Bad request",
        401: "No API key, or the key is unknown, expired or revoked",
        403: "The API key lacks the scope this operation needs",
        404: "Not found",
        409: "Conflict with the current state",
        412: "The If-Match tag is stale",
        413: "Payload too large: more items than a batch may hold, or a body over the service's limit (32 MiB by default)",
        422: "Invalid input: `errors` lists each offending field as a JSON pointer",
        428: "If-Match is required",
        503: "Database unavailable",
    }
    out: dict[int | str, dict[str, Any]] = {}
    for c in sorted({*codes, 401, 403, 503}):
        out[c] = {"model": ProblemDetail, "description": text.get(c, "Error"),
                  "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}}}
    return out
