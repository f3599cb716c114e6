"""Route dependencies: the caller's principal and the scope a route needs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.api.problems import ProblemError
from app.auth.keys import Principal

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer jx_…`")


class Unauthorized(ProblemError):
    status, slug, title = 401, "unauthorized", "Unauthorized"


class Forbidden(ProblemError):
    status, slug, title = 403, "forbidden", "Forbidden"


def require(scope: str) -> Callable[..., Principal]:
    def check(request: Request,
              _: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None) -> Principal:
        principal: Principal | None = getattr(request.state, "principal", None)
        if principal is None:
            raise Unauthorized("an API key is required: Authorization: Bearer <key>",
                               headers={"WWW-Authenticate": 'Bearer realm="jixiao"'})
        if scope not in principal.scopes:
            raise Forbidden(f"this key lacks the '{scope}' scope")
        return principal

    check.__name__ = f"require_{scope}"
    return check


READ = Depends(require("read"))
SUBMIT = Depends(require("submit"))
ASSESS = Depends(require("assess"))
ADMIN = Depends(require("admin"))


def session_scope(request: Request) -> Iterator[Session]:
    """One session per request, scoped to the caller's tenant; commit on success, roll back on error."""
    from app.db.session import get_sessionmaker

    principal = getattr(request.state, "principal", None)
    session = get_sessionmaker()(info={"principal": principal})
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
