"""Batch scoring of a unit's projects (``POST /v1/units/{id}/projects:batch``): each item names a project
(found by code within the unit, created when new), carries its 自评表 for a year (stored as a new version)
and the assessment to make. Items are answered one by one: a failing item reports its own problem
(pointers under ``/items/N``) and leaves nothing of itself (a savepoint each); the others are stored in
the request's one transaction, with one audit entry for the batch."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.problems import ProblemError, Unprocessable
from app.assessments.schemas import AssessmentCreate
from app.assessments.service import item_problem
from app.db.models import Project
from app.engine.labels import grade_code
from app.projects import assess
from app.projects import service as projects
from app.projects.schemas import ProjectBatchItem, ProjectCreate
from app.units import service as units

#: pointers of the assessment's own fields (the rest point into the item's submission)
_ITEM_FIELDS = ("/ruleset", "/fiscal_year", "/kind", "/evaluator", "/strict", "/project")


def _item(raw: dict[str, Any]) -> ProjectBatchItem:
    try:
        return ProjectBatchItem.model_validate(raw)
    except ValidationError as exc:
        raise Unprocessable("the item is not valid", errors=[
            {"pointer": "/" + "/".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]) from None


def _one(session: Session, unit_id: uuid.UUID, item: ProjectBatchItem) -> dict[str, Any]:
    project = session.scalar(select(Project).where(Project.unit_id == unit_id, Project.code == item.project.code))
    if project is None:
        project = projects.create(session, unit_id, ProjectCreate(**item.project.model_dump(),
                                                                   fiscal_years=[item.fiscal_year]))
    elif item.fiscal_year not in project.fiscal_years:
        raise Unprocessable(f"project {project.code} does not run in fiscal year {item.fiscal_year}; "
                            "PATCH its fiscal_years first",
                            errors=[{"pointer": "/fiscal_year", "message": "not a fiscal year of the project"}])
    existing = projects.current(session, project.id, item.fiscal_year)
    content = item.submission.model_dump(mode="json", exclude_none=True)
    # the batch replaces the current version as the unit's own platform sends it (no If-Match)
    projects.put(session, unit_id, project.id, item.fiscal_year, content, None,
                 None if existing is None else "*", None)
    body = AssessmentCreate(unit_id=unit_id, project_id=project.id, fiscal_year=item.fiscal_year,
                            ruleset=item.ruleset, kind=item.kind, evaluator=item.evaluator, strict=item.strict)
    try:
        row = assess.create(session, body, None, commit=False)
    except ProblemError as exc:
        # the engine's pointers are into the 自评表, the item's ``submission``
        for e in exc.errors or []:
            pointer = e.get("pointer") or ""
            if pointer and not pointer.startswith(_ITEM_FIELDS):
                e["pointer"] = "/submission" + pointer
        raise
    return {"project_id": project.id, "assessment_id": row.id, "location": f"/v1/assessments/{row.id}",
            "total": row.total, "grade": row.grade, "grade_code": grade_code(row.grade),
            "assessment_status": row.status}


def batch(session: Session, unit_id: uuid.UUID, items: list[dict[str, Any]]) -> dict[str, Any]:
    units.get_owned(session, unit_id, for_update=True)  # the owner only; serialises the unit's writers
    results: list[dict[str, Any]] = []
    for i, raw in enumerate(items):
        result: dict[str, Any] = {"index": i, "status": 0, "project_id": None, "assessment_id": None, "location": None,
                                  "total": None, "grade": None, "grade_code": None, "assessment_status": None,
                                  "problem": None}
        try:
            item = _item(raw)
            with session.begin_nested():
                result.update(status=201, **_one(session, unit_id, item))
        except ProblemError as exc:
            result.update(status=exc.status, problem=item_problem(exc, i))
        results.append(result)
    ok = sum(1 for r in results if r["status"] == 201)
    return {"succeeded": ok, "failed": len(results) - ok, "items": results}
