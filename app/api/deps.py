"""Shared dependencies and helpers for the routers."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Coroutine
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, BeforeValidator, ValidationError
from pydantic_core import PydanticCustomError
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException

from app.api.problems import BadRequest
from app.auth.deps import SessionDep as SessionDep  # one session per request, shared with the auth check
from app.engine.facts import json_shape

# Query and path parameters are read strictly: Pydantic alone takes "1.0" for the integer 1 and
# "0.5" for the datetime 1970-01-01T00:00:00.5Z.
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
_ISO_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]{1,6})?)?"
                           r"(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?)?")


def _integer_text(value: Any) -> Any:
    if isinstance(value, str) and not _INTEGER.fullmatch(value):
        raise PydanticCustomError("int_parsing", "expected a whole number written in digits, such as 2023")
    return value


def _datetime_text(value: Any) -> Any:
    if isinstance(value, str) and not _ISO_DATETIME.fullmatch(value):
        raise PydanticCustomError("datetime_parsing",
                                  "expected an ISO 8601 date or date-time, such as 2026-11-26T08:00:00+08:00")
    return value


#: An integer parameter: digits only.
StrictInt = Annotated[int, BeforeValidator(_integer_text)]
#: A date-time parameter: ISO 8601 text only (no Unix timestamps).
StrictDateTime = Annotated[datetime, BeforeValidator(_datetime_text)]

LimitQuery = Annotated[StrictInt, Query(ge=1, le=500, description="Page size")]
CursorQuery = Annotated[str | None, Query(description="Opaque cursor from `next_cursor` of the previous page")]


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, size: int) -> list[Any] | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != size:
            raise ValueError
        return values
    except (ValueError, json.JSONDecodeError):
        raise BadRequest("the cursor is not valid; use next_cursor from a previous page",
                         errors=[{"parameter": "cursor", "message": "not a cursor issued by this API"}]) from None


# --------------------------------------------------------------------------- JSON bodies

#: Deepest nesting of arrays and objects a request body may have (a batch item's findings sit
#: at depth 6: body, items, item, answers, answer, findings).
MAX_JSON_DEPTH = 16


class JsonBodyError(ValueError):
    """A body that is JSON but breaks a rule of this API: a duplicate key, too deep, a number
    that cannot be held exactly. ``pointer`` is where (JSON pointer into the body)."""

    def __init__(self, pointer: str, message: str) -> None:
        super().__init__(message)
        self.pointer = pointer
        self.message = message

    def as_validation_error(self) -> RequestValidationError:
        loc = ("body", *[t.replace("~1", "/").replace("~0", "~") for t in self.pointer.split("/")[1:]])
        return RequestValidationError([{"type": "json_invalid", "loc": loc, "msg": self.message, "input": None}])


def load_json(raw: bytes) -> Any:
    """A JSON body, exactly as sent, or :class:`JsonBodyError` (malformed JSON: JSONDecodeError).

    orjson parses it (several times faster than the standard library on a 5 MB batch) and one
    walk over the containers checks what orjson does not: its depth, and, from the count of
    keys, that no object repeats a key (orjson keeps the last one silently). Every ``:`` outside
    a string ends one key, so when the body holds exactly as many ``:`` bytes as the parsed
    objects hold keys, no key was dropped. Otherwise (a key repeated, or just a ``:`` inside a
    string), and whenever a number came out as a float (a fraction or exponent, or an integer
    beyond 64 bits, which orjson rounds), the body is parsed again by the standard library with
    every fraction as an exact Decimal, integers exact, and a duplicate key refused by name.
    """
    doc = orjson.loads(raw)
    if type(doc) is not dict and type(doc) is not list:
        return doc
    keys, inexact, depth = json_shape(doc, MAX_JSON_DEPTH)
    if depth > MAX_JSON_DEPTH:
        raise JsonBodyError("", f"the body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels")
    if not inexact and raw.count(b":") == keys:
        return doc
    return _load_exact(raw)


class _Repeated(dict[str, Any]):
    """An object that repeated a key (marked by the standard library's pairs hook)."""

    key = ""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    seen: set[str] = set()
    repeated = _Repeated(obj)
    for k, _ in pairs:
        if k in seen:
            repeated.key = k
            break
        seen.add(k)
    return repeated


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _find_repeated(value: Any, pointer: str) -> tuple[str, str] | None:
    if isinstance(value, _Repeated):
        return pointer, value.key
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        if isinstance(v, dict | list):
            found = _find_repeated(v, f"{pointer}/{str(k).replace('~', '~0').replace('/', '~1')}")
            if found is not None:
                return found
    return None


def _load_exact(raw: bytes) -> Any:
    try:
        doc = json.loads(raw, object_pairs_hook=_pairs, parse_float=Decimal, parse_constant=_no_constant)
    except ValueError as exc:  # an integer of more than 4,300 digits (sys.int_info), or NaN
        raise JsonBodyError("", f"the body holds a value this API cannot read exactly: {exc}") from None
    found = _find_repeated(doc, "")
    if found is not None:
        pointer, key = found
        raise JsonBodyError(f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}",
                            f"the key '{key[:100]}' appears more than once in this object; send it once")
    return doc


class _OrjsonRequest(Request):
    """A request whose JSON body is parsed by :func:`load_json`. A malformed body still raises
    orjson's JSONDecodeError (a subclass of the standard one: FastAPI answers 422)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = load_json(await self.body())
        return self._json


_WITH_BODY = {"POST", "PUT", "PATCH"}


class _Segment(Convertor[str]):
    """A path parameter is one segment without ":": ``/v1/jobs/{job_id}:cancel`` and
    ``/v1/rulesets/{name}/{version}:score`` are paths of their own (custom methods, AIP-136), so
    ``{version}`` must not match ``2023:score`` (GET …/2023:score would reach the version's GET and
    OPTIONS would list its methods)."""

    regex = "[^/:]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("segment", _Segment())
_PARAM = re.compile(r"\{(\w+)\}")


class Route(APIRoute):
    """The route class of every router: JSON request bodies parsed by :func:`load_json`; path
    parameters without a convertor of their own match one segment without ":" (:class:`_Segment`).
    A route's template as the OpenAPI document shows it, and as metrics labels, audit entries and
    cache rules name it, is its ``path_format`` (``/v1/jobs/{job_id}``), not its ``path``."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(_PARAM.sub(r"{\1:segment}", path), endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        # FastAPI reads and parses a body before it runs the route's dependencies: a key without
        # the route's scope would get 422 for a malformed body instead of 403. The authorization
        # dependencies (app.auth.deps.require, app.auth.tenants.operator_key) carry a check of
        # their own that runs first, for the methods that have a body.
        checks = [check for d in self.dependant.dependencies
                  if (check := getattr(d.call, "before_body", None)) is not None]

        async def route_handler(request: Request) -> Response:
            if checks and request.method in _WITH_BODY:
                for check in checks:
                    await check(request)
            try:
                return await handler(_OrjsonRequest(request.scope, request.receive))
            except HTTPException as exc:
                # FastAPI turns any error of request.json() but JSONDecodeError into a bare 400.
                if isinstance(exc.__cause__, JsonBodyError):
                    raise exc.__cause__.as_validation_error() from None
                raise

        return route_handler


async def _raw_body(request: Request) -> bytes:
    return await request.body()


#: The request body, unparsed: for routes that authorize before they validate (see
#: app.auth.deps.require_in_route), parsed in the route's own thread with :func:`parse_body`.
RawBody = Annotated[bytes, Depends(_raw_body)]

M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], raw: bytes, content_type: str | None) -> M:
    """Validate a JSON body exactly as FastAPI would (422 with ``body`` locations)."""
    if content_type is not None:
        media = content_type.split(";", 1)[0].strip().lower()
        if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
            raise RequestValidationError([{"type": "json_invalid", "loc": ("body",), "input": None,
                                           "msg": f"the request body must be application/json, not {media}"}])
    try:
        data = load_json(raw)
    except JsonBodyError as exc:
        raise exc.as_validation_error() from None
    except orjson.JSONDecodeError as exc:
        raise RequestValidationError([{"type": "json_invalid", "loc": ("body",), "input": None,
                                       "msg": f"the body is not JSON: {exc}"}]) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI ``requestBody`` of a route that reads :data:`RawBody` (the model is documented as usual)."""
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}
