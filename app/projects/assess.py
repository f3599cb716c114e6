"""Assessments whose subject is a project of a unit: its current 自评表 for the year scored under a
project ruleset (app.engine.project), stored in the one assessment resource (app.assessments).

The checks are the unit's (app.assessments.service.check_assessor: the owner, or an audit firm under an
engagement for the unit and year, third-party only), in the same order; the row and its audit entry are
written by the same fixed statements with the project's columns. A project is scored in the request's
thread (its table is a few dozen rows; the worker pools serve the 部门整体 hot path)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from app.api.problems import NotFound, Unprocessable
from app.assessments.schemas import AssessmentCreate
from app.assessments.service import Created, check_assessor, store
from app.auth.scoping import current_tenant
from app.db import packed
from app.db.models import Project, Unit
from app.engine.errors import InvalidInput
from app.engine.project import ProjectAssessment, ProjectRuleset, score_project
from app.engine.rules import fmt
from app.projects import service as projects
from app.rulesets import service as rulesets


def resolve(session: Session, ref: str, year: int) -> ProjectRuleset:
    """A project ruleset (built-in, or registered by the caller's tenant) covering the year, or 404/422
    naming ``/ruleset`` or ``/fiscal_year``."""
    found = rulesets.resolve_project(session, ref, year)
    if found is not None and found.covers(year):
        return found
    every = rulesets.project_rulesets(session)
    available = [r.ref for r in every]
    name = ref.split("@", 1)[0]
    same = [r for r in every if r.name == name]
    if same:
        years = sorted({y for r in same for y in r.fiscal_years})
        raise Unprocessable(f"project ruleset '{ref}' does not cover fiscal year {year}; it covers {years}",
                            errors=[{"pointer": "/fiscal_year", "message": f"not covered by {ref}; covered years: {years}"}])
    if any(r.name == name for r in rulesets.all_rulesets(session)):
        raise Unprocessable(f"{ref} scores a unit (部门整体), not a project; project rulesets: {', '.join(available)}",
                            errors=[{"pointer": "/ruleset", "message": f"not a project ruleset; available: {', '.join(available)}"}])
    raise NotFound(f"unknown project ruleset '{ref}'; available: {', '.join(available)}",
                   errors=[{"pointer": "/ruleset", "message": f"unknown project ruleset; available: {', '.join(available)}"}],
                   extra={"available": available})


def score(rs: ProjectRuleset, content: dict[str, Any], overrides: dict[str, Any] | None, strict: bool,
          refused: str, overrides_refused: str | None = None) -> tuple[ProjectAssessment, bytes]:
    """Score a 自评表 (stored form) under ``rs``: the scored table and its breakdown as stored; 422 with
    the problems' pointers (``refused``, or ``overrides_refused`` when only the overrides do not fit),
    or, ``strict``, when the result is incomplete. An assessment and the dry run (POST …:score) both."""
    try:
        scored = score_project(rs, content, overrides)
    except InvalidInput as exc:
        only_overrides = overrides_refused is not None and all(p.pointer.startswith("/overrides") for p in exc.problems)
        raise Unprocessable(overrides_refused if only_overrides and overrides_refused else refused,
                            errors=[{"pointer": p.pointer, "message": p.message} for p in exc.problems]) from None
    if strict and scored.status != "complete":
        errors = [{"pointer": p, "message": "missing 实际完成值 or funds"} for p in scored.missing_facts]
        errors += [{"pointer": f"/rows/{_row_index(scored, code)}", "message": f"{code}: evaluator's judgment pending"}
                   for code in scored.missing_answers]
        raise Unprocessable(f"strict scoring refused: the assessment under {rs.ref} is incomplete", errors=errors,
                            extra={"missing_facts": scored.missing_facts, "missing_answers": scored.missing_answers})
    return scored, orjson.dumps(scored.to_dict())


def create(session: Session, body: AssessmentCreate, audit: Callable[[uuid.UUID], dict[str, Any]] | None = None, *,
           guard: Callable[[], None] | None = None, commit: bool = True) -> Created:
    """Score and store an assessment of the project ``body.project_id`` of the unit ``body.unit_id``
    (see app.assessments.service.create for ``audit``, ``guard`` and ``commit``)."""
    assert body.project_id is not None
    project = session.get(Project, body.project_id)  # scoped: the owner's, or of a granted unit
    if project is None or project.unit_id != body.unit_id:
        raise NotFound(f"unit {body.unit_id} has no project {body.project_id}",
                       errors=[{"pointer": "/project_id", "message": "no such project of the unit"}])
    unit = session.get(Unit, project.unit_id)
    if unit is None:  # pragma: no cover - a visible project's unit is visible
        raise NotFound(f"no unit {body.unit_id}", errors=[{"pointer": "/unit_id", "message": "no such unit"}])
    check_assessor(session, unit, body)
    if body.answers is not None:
        raise Unprocessable("a project's rows are scored from its 自评表; an evaluator's own row scores go in overrides",
                            errors=[{"pointer": "/answers", "message": "not taken for a project: use overrides"}])
    rs = resolve(session, body.ruleset, body.fiscal_year)
    sub = projects.current(session, project.id, body.fiscal_year)
    if sub is None:
        raise Unprocessable(f"project {project.code} has no submission for fiscal year {body.fiscal_year}; PUT one first",
                            errors=[{"pointer": "/fiscal_year", "message": "no submission for this project and year"}])
    if guard is not None:
        guard()
    scored, breakdown = score(
        rs, sub.content, body.overrides, body.strict,
        f"the project's current submission (version {sub.version}) does not fit {rs.ref}",
        f"the assessment's overrides with the current submission (version {sub.version}) do not fit {rs.ref}"
        if body.overrides is not None else None)
    assessment_id, created_at = uuid.uuid4(), datetime.now(UTC)
    own = body.overrides is not None
    overrides = body.overrides if own else {}
    values = dict(
        id=assessment_id, tenant_id=unit.tenant_id, assessed_by_tenant_id=current_tenant(session),
        unit_id=unit.id, fiscal_year=body.fiscal_year, submission_id=None, project_id=project.id,
        project_submission_id=sub.id, submission_version=sub.version, ruleset_name=rs.name,
        ruleset_version=rs.version, ruleset_hash=rs.content_hash, kind=body.kind, evaluator=body.evaluator,
        status=scored.status, total=scored.total, grade=scored.grade,
        inputs=packed.pack({"facts": {}, "answers": {}, "overrides": overrides, "content": sub.content,
                            "submission_hash": sub.content_hash, **({"judgments": "assessment"} if own else {})}),
        result=packed.pack_json(breakdown), created_at=created_at,
    )
    store(session, values, audit, commit)
    return Created(assessment_id, unit.id, body.fiscal_year, sub.version, body.kind, body.evaluator, created_at,
                   breakdown, scored.status, scored.grade, project_id=project.id, total=fmt(scored.total))


def _row_index(scored: ProjectAssessment, code: str) -> str:
    """The position in the submission's rows of the row ``code`` (a JSON pointer token)."""
    try:
        index = scored.node(code).index
    except KeyError:
        return "-"
    return "-" if index is None else str(index)

