"""A unit's projects at a glance (``GET /v1/units/{id}/projects:summary``): for one fiscal year, the latest
complete assessment of each of its projects, their funds, mean, grades and the rows that lost the most."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import any_, func, literal, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from app.assessments.service import flatten, ruleset_filter
from app.db.models import Assessment, Project
from app.db.query import equals
from app.engine.labels import grade_code
from app.engine.rules import fmt
from app.units import service as units

_CENT = Decimal("0.01")


def _amount(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def summarise(session: Session, unit_id: uuid.UUID, year: int, ruleset: str | None, kind: str | None,
              rows: int) -> dict[str, Any]:
    units.get(session, unit_id)
    running = session.scalar(select(func.count()).select_from(Project).where(
        Project.unit_id == unit_id, literal(year) == any_(Project.fiscal_years))) or 0
    filters = equals((Assessment.unit_id, unit_id), (Assessment.fiscal_year, year),
                     (Assessment.status, "complete"), (Assessment.kind, kind))
    filters.append(Assessment.project_id.is_not(None))
    if ruleset is not None:
        filters += ruleset_filter(ruleset)
    latest = (select(Assessment, Project.code, Project.name)
              .join(Project, Project.id == Assessment.project_id)
              .where(*filters)
              .order_by(Assessment.project_id, Assessment.created_at.desc(), Assessment.id.desc())
              .ext(distinct_on(Assessment.project_id)))
    found = session.execute(latest).all()
    budget = executed = Decimal(0)
    funded = 0
    totals: list[Decimal] = []
    grades: dict[str, int] = {}
    codes: dict[str, int] = {}
    lost: list[tuple[Decimal, str, int, dict[str, Any]]] = []
    for row, code, name in found:
        totals.append(Decimal(row.total))
        label = row.grade or "—"
        grades[label] = grades.get(label, 0) + 1
        national = grade_code(row.grade)
        if national is not None:
            codes[national] = codes.get(national, 0) + 1
        funds = (row.inputs.get("content") or {}).get("funds") or {}
        full, spent = _amount(funds.get("full_year_budget")), _amount(funds.get("executed"))
        if full is not None and spent is not None:
            budget += full
            executed += spent
            funded += 1
        for n, node in enumerate(flatten(row.result["indicators"])):
            if "rule" not in node:  # only leaves carry a rule: the 三级 rows and the execution rate
                continue
            points_lost = node.get("points_lost")
            if points_lost in (None, "0") or node.get("score") is None:
                continue
            reasons = [d["reason"] for d in node.get("deductions") or []]
            if node.get("note"):
                reasons.append(node["note"])
            lost.append((Decimal(points_lost), code, n, {
                "project_id": row.project_id, "project_code": code, "project_name": name,
                "assessment_id": row.id, "code": node["code"], "name": node["name"],
                "points": node["points_available"], "score": node["score"], "points_lost": points_lost,
                "reasons": reasons}))
    lost.sort(key=lambda t: (-t[0], t[1], t[2]))
    return {
        "unit_id": unit_id, "fiscal_year": year, "ruleset": ruleset, "kind": kind, "projects": running,
        "assessed": len(found),
        "budget_full_year": fmt(budget) if funded else None, "executed": fmt(executed) if funded else None,
        "execution_rate": (fmt((executed / budget * 100).quantize(_CENT)) + "%") if funded and budget else None,
        "mean": fmt((sum(totals, Decimal(0)) / len(totals)).quantize(_CENT)) if totals else None,
        "grades": grades, "grade_codes": codes, "lost_most": [t[3] for t in lost[:rows]],
    }
