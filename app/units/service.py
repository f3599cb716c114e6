"""Units: the budget units being assessed. Every query of the domain lives here."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.api.problems import Conflict, NotFound, Unprocessable
from app.auth.deps import Forbidden
from app.auth.scoping import current_tenant, owns
from app.db.models import Unit
from app.db.query import equals, keyset_page
from app.units.schemas import UnitCreate, UnitUpdate


def get(session: Session, unit_id: uuid.UUID, *, for_update: bool = False) -> Unit:
    stmt = select(Unit).where(Unit.id == unit_id)
    if for_update:
        stmt = stmt.with_for_update()
    unit = session.scalar(stmt)
    if unit is None:
        raise NotFound(f"no unit {unit_id}")
    return unit


def by_code(session: Session, code: str) -> Unit | None:
    """The caller's own unit with this code."""
    return session.scalar(select(Unit).where(Unit.code == code, Unit.tenant_id == current_tenant(session)))


def get_owned(session: Session, unit_id: uuid.UUID, *, for_update: bool = False) -> Unit:
    """A unit the caller owns: 404 when invisible, 403 when only granted by an engagement."""
    unit = get(session, unit_id, for_update=for_update)
    if not owns(session, unit.tenant_id):
        raise Forbidden("an engagement grants reading this unit and third-party assessments, not changes")
    return unit


def _check_parent(session: Session, parent_id: uuid.UUID | None, self_id: uuid.UUID | None = None) -> None:
    if parent_id is None:
        return
    if parent_id == self_id:
        raise Unprocessable("a unit cannot be its own parent", errors=[{"pointer": "/parent_id", "message": "cannot be the unit itself"}])
    seen = {self_id}
    current: uuid.UUID | None = parent_id
    while current is not None:
        parent = session.get(Unit, current)
        if parent is None or not owns(session, parent.tenant_id):
            raise Unprocessable(f"parent unit {parent_id} does not exist",
                                errors=[{"pointer": "/parent_id", "message": "no such unit"}])
        if parent.id in seen:
            raise Unprocessable("the parent chain would form a cycle", errors=[{"pointer": "/parent_id", "message": "cycle"}])
        seen.add(parent.id)
        current = parent.parent_id


def create(session: Session, data: UnitCreate) -> Unit:
    if by_code(session, data.code) is not None:
        raise Conflict(f"a unit with code {data.code} already exists",
                       errors=[{"pointer": "/code", "message": "already used by another unit"}])
    _check_parent(session, data.parent_id)
    unit = Unit(id=uuid.uuid4(), tenant_id=current_tenant(session), **data.model_dump())
    session.add(unit)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(f"a unit with code {data.code} already exists",
                       errors=[{"pointer": "/code", "message": "already used by another unit"}]) from None
    session.refresh(unit)
    return unit


def update(session: Session, unit_id: uuid.UUID, data: UnitUpdate) -> Unit:
    unit = get_owned(session, unit_id, for_update=True)
    changes = data.model_dump(exclude_unset=True)
    if "parent_id" in changes:
        _check_parent(session, changes["parent_id"], unit.id)
    for key, value in changes.items():
        if value is None and key != "parent_id":
            raise Unprocessable(f"{key} cannot be null", errors=[{"pointer": f"/{key}", "message": "cannot be null"}])
        setattr(unit, key, value)
    unit.updated_at = func.now()
    session.flush()
    session.refresh(unit)
    return unit


def page(session: Session, *, region: str | None, kind: str | None, parent_id: uuid.UUID | None,
         code: str | None, after: str | None, limit: int) -> tuple[list[Unit], str | None]:
    """Units ordered by code; keyset pagination on code (unique, indexed with each filter)."""
    filters = equals((Unit.region, region), (Unit.kind, kind), (Unit.parent_id, parent_id), (Unit.code, code))
    if after is not None:
        filters.append(Unit.code > after)
    return keyset_page(session, select(Unit).where(*filters).order_by(Unit.code), limit, lambda u: u.code)
