"""Units (预算单位)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from app.api.deps import CursorQuery, LimitQuery, Route, SessionDep, decode_cursor, encode_cursor
from app.api.problems import BadRequest, responses
from app.auth.deps import ADMIN, ASSESS, READ, SUBMIT  # noqa: F401
from app.units import service
from app.units.schemas import UnitCreate, UnitOut, UnitPage, UnitUpdate

router = APIRouter(route_class=Route, tags=["units"])
UnitIdPath = Annotated[uuid.UUID, Path(description="Unit id")]


@router.post("/v1/units", dependencies=[SUBMIT], operation_id="createUnit", summary="Create a unit", status_code=status.HTTP_201_CREATED,
             response_model=UnitOut, responses=responses(409, 422))
def create_unit(body: UnitCreate, session: SessionDep, response: Response, request: Request) -> UnitOut:
    """Create a budget unit. The code (预算单位编码 / 统一社会信用代码) is unique."""
    unit = service.create(session, body)
    request.state.created_id = unit.id
    response.headers["Location"] = f"/v1/units/{unit.id}"
    return UnitOut.model_validate(unit)


@router.get("/v1/units", dependencies=[READ], operation_id="listUnits", summary="List units", response_model=UnitPage, responses=responses(400, 422))
def list_units(
    session: SessionDep,
    region: Annotated[str | None, Query(description="Exact region")] = None,
    kind: Annotated[str | None, Query(description="Exact kind")] = None,
    parent_id: Annotated[uuid.UUID | None, Query(description="Units under this parent")] = None,
    code: Annotated[str | None, Query(description="Exact code")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> UnitPage:
    """Units ordered by code, filtered, with cursor pagination."""
    after = decode_cursor(cursor, 1)
    if after is not None and not isinstance(after[0], str):
        raise BadRequest("the cursor is not valid", errors=[{"parameter": "cursor", "message": "not a cursor issued by this API"}])
    rows, last = service.page(session, region=region, kind=kind, parent_id=parent_id, code=code,
                              after=after[0] if after else None, limit=limit)
    return UnitPage(items=[UnitOut.model_validate(r) for r in rows], next_cursor=encode_cursor([last]) if last else None)


@router.get("/v1/units/{unit_id}", dependencies=[READ], operation_id="getUnit", summary="Get a unit", response_model=UnitOut, responses=responses(404))
def get_unit(unit_id: UnitIdPath, session: SessionDep) -> UnitOut:
    """One unit."""
    return UnitOut.model_validate(service.get(session, unit_id))


@router.patch("/v1/units/{unit_id}", dependencies=[SUBMIT], operation_id="updateUnit", summary="Update a unit", response_model=UnitOut,
              responses=responses(404, 422))
def update_unit(unit_id: UnitIdPath, body: UnitUpdate, session: SessionDep) -> UnitOut:
    """Change a unit's name, kind, region or parent. The code cannot change."""
    return UnitOut.model_validate(service.update(session, unit_id, body))
