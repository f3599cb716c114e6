"""Shared dependencies and helpers for the routers."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import Query

from app.api.problems import BadRequest
from app.auth.deps import SessionDep as SessionDep  # one session per request, shared with the auth check

LimitQuery = Annotated[int, Query(ge=1, le=500, description="Page size")]
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
