"""Small query helpers shared by the domains' list endpoints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import Session

T = TypeVar("T")


def equals(*pairs: tuple[Any, Any]) -> list[Any]:
    """``column == value`` for every pair whose value was given (None means: no filter)."""
    return [column == value for column, value in pairs if value is not None]


def keyset_page(session: Session, stmt: Select[T], limit: int,
                cursor_of: Callable[[T], Any]) -> tuple[list[T], Any | None]:
    """One page of an ordered statement: fetch one row more than asked to know whether another
    page follows; its cursor is ``cursor_of`` the last row shown."""
    rows = list(session.scalars(stmt.limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, cursor_of(rows[-1])
