"""Projects of a unit and their versioned 自评表 submissions. Every query of the domain lives here.

A project's tenant is its unit's; an audit firm engaged for the unit reads its projects (and, for the
engagement's years, their submissions) and changes nothing. Submissions are versioned exactly like a
unit's (app.submissions.service: the same ETag and conditional-request rules, rows never updated)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import orjson
from sqlalchemy import any_, func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.api.problems import Conflict, NotFound, Unprocessable
from app.db.models import Project, ProjectSubmission
from app.db.query import equals, keyset_page
from app.projects.schemas import ProjectCreate, ProjectUpdate
from app.submissions.service import check_preconditions
from app.units import service as units


def _conflict(code: str) -> Conflict:
    return Conflict(f"the unit already has a project with code {code}",
                    errors=[{"pointer": "/code", "message": "already used by another project of the unit"}])


def get(session: Session, unit_id: uuid.UUID, project_id: uuid.UUID, *, for_update: bool = False) -> Project:
    """A visible project of a visible unit (404 otherwise, as for a project that does not exist)."""
    stmt = select(Project).where(Project.id == project_id, Project.unit_id == unit_id)
    if for_update:
        stmt = stmt.with_for_update()
    project = session.scalar(stmt)
    if project is None:
        raise NotFound(f"unit {unit_id} has no project {project_id}")
    return project


def by_id(session: Session, project_id: uuid.UUID) -> Project | None:
    return session.get(Project, project_id)


def create(session: Session, unit_id: uuid.UUID, data: ProjectCreate) -> Project:
    unit = units.get_owned(session, unit_id)
    if session.scalar(select(Project.id).where(Project.unit_id == unit.id, Project.code == data.code)) is not None:
        raise _conflict(data.code)
    values = data.model_dump()
    values["fiscal_years"] = sorted(set(data.fiscal_years))
    project = Project(id=uuid.uuid4(), tenant_id=unit.tenant_id, unit_id=unit.id, **values)
    session.add(project)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise _conflict(data.code) from None
    session.refresh(project)
    return project


def update(session: Session, unit_id: uuid.UUID, project_id: uuid.UUID, data: ProjectUpdate) -> Project:
    units.get_owned(session, unit_id)
    project = get(session, unit_id, project_id, for_update=True)
    for key, value in data.model_dump(exclude_unset=True).items():
        if value is None:
            raise Unprocessable(f"{key} cannot be null", errors=[{"pointer": f"/{key}", "message": "cannot be null"}])
        setattr(project, key, sorted(set(value)) if key == "fiscal_years" else value)
    project.updated_at = func.now()
    session.flush()
    session.refresh(project)
    return project


def page(session: Session, unit_id: uuid.UUID, *, fiscal_year: int | None, code: str | None, after: str | None,
         limit: int) -> tuple[list[Project], str | None]:
    """The unit's projects ordered by code; keyset pagination on code (unique within the unit)."""
    units.get(session, unit_id)
    filters = [Project.unit_id == unit_id, *equals((Project.code, code))]
    if fiscal_year is not None:
        filters.append(literal(fiscal_year) == any_(Project.fiscal_years))
    if after is not None:
        filters.append(Project.code > after)
    return keyset_page(session, select(Project).where(*filters).order_by(Project.code), limit, lambda p: p.code)


# --------------------------------------------------------------------------- submissions


def content_hash(content: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


def current(session: Session, project_id: uuid.UUID, year: int) -> ProjectSubmission | None:
    return session.scalar(
        select(ProjectSubmission).where(ProjectSubmission.project_id == project_id, ProjectSubmission.fiscal_year == year)
        .order_by(ProjectSubmission.version.desc()).limit(1))


def _running(project: Project, year: int) -> None:
    if year not in project.fiscal_years:
        raise NotFound(f"project {project.code} does not run in fiscal year {year} "
                       f"(its years: {', '.join(map(str, project.fiscal_years))})")


def get_current(session: Session, unit_id: uuid.UUID, project_id: uuid.UUID, year: int) -> ProjectSubmission:
    get(session, unit_id, project_id)
    sub = current(session, project_id, year)
    if sub is None:
        raise NotFound(f"project {project_id} has no submission for fiscal year {year}")
    return sub


def versions(session: Session, unit_id: uuid.UUID, project_id: uuid.UUID, year: int) -> list[ProjectSubmission]:
    get(session, unit_id, project_id)
    return list(session.scalars(
        select(ProjectSubmission).where(ProjectSubmission.project_id == project_id, ProjectSubmission.fiscal_year == year)
        .order_by(ProjectSubmission.version)))


def version(session: Session, unit_id: uuid.UUID, project_id: uuid.UUID, year: int, number: int) -> ProjectSubmission:
    get(session, unit_id, project_id)
    sub = session.scalar(select(ProjectSubmission).where(
        ProjectSubmission.project_id == project_id, ProjectSubmission.fiscal_year == year,
        ProjectSubmission.version == number))
    if sub is None:
        raise NotFound(f"project {project_id} has no submission version {number} for fiscal year {year}")
    return sub


def put(session: Session, unit_id: uuid.UUID, project_id: uuid.UUID, year: int, content: dict[str, Any],
        note: str | None, if_match: str | None, if_none_match: str | None) -> tuple[ProjectSubmission, bool]:
    """Create (version 1) or replace (version n+1) the project's 自评表 data for the year; ``content`` is
    in stored form already (validated by the caller). Returns (submission, created)."""
    units.get_owned(session, unit_id)
    project = get(session, unit_id, project_id, for_update=True)  # also serialises writers of this project
    _running(project, year)
    existing = current(session, project_id, year)
    check_preconditions(existing, if_match, if_none_match)
    sub = ProjectSubmission(id=uuid.uuid4(), tenant_id=project.tenant_id, project_id=project.id, unit_id=unit_id,
                            fiscal_year=year, version=1 if existing is None else existing.version + 1,
                            content=content, note=note, content_hash=content_hash(content))
    session.add(sub)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict("the submission was replaced concurrently; read it again") from None
    session.refresh(sub)
    return sub, existing is None
