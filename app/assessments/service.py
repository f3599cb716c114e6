"""Assessments: score the current submission, persist immutably, read back, compare, rank."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import any_, func, literal, select, tuple_
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from app.api.problems import NotFound, ProblemError, Unprocessable
from app.assessments import workers
from app.assessments.schemas import AssessmentCreate, BatchItem
from app.auth.deps import AUDIT_COLUMNS, AUDIT_VALUES, Forbidden
from app.auth.scoping import current_tenant, owns
from app.db import packed, sql
from app.db.models import Assessment, Project, Submission, Unit
from app.db.query import equals, keyset_page
from app.engine.labels import ASSESSMENT_STATUS_LABELS, INDICATOR_STATUS_LABELS, KIND_LABELS, grade_code
from app.engine.rules import CohortRelative, fmt
from app.engine.ruleset import Ruleset
from app.rulesets import service as rulesets
from app.submissions import service as submissions

SUMMARY_KEYS = ("ruleset", "status", "status_label", "total", "grade", "grade_code", "points_total", "base_total",
                "adjustments_total", "warnings", "missing_facts", "missing_answers", "adjustments")


def _labelled(result: dict[str, Any]) -> dict[str, Any]:
    """A stored breakdown with the labels of its codes (app.engine.labels): assessments stored before
    the engine wrote them get them here, on the way out."""
    if "status_label" in result:
        return result
    result["status_label"] = ASSESSMENT_STATUS_LABELS[result["status"]]
    result["grade_code"] = grade_code(result.get("grade"))

    def walk(node: dict[str, Any]) -> None:
        node["status_label"] = INDICATOR_STATUS_LABELS.get(node["status"], node["status"])
        for child in node.get("children") or ():
            walk(child)

    for node in result["indicators"]:
        walk(node)
    return result


def _cohort_means(session: Session, rs: Ruleset, unit: Unit | UnitRef, year: int, facts: dict[str, Any],
                  warnings: list[dict[str, str]]) -> None:
    """Fill cohort means a cohort-relative rule needs from the cohort's stored assessments."""
    vocab = rulesets.vocabulary()
    for leaf in rs.leaves:
        rule = leaf.rule
        if not isinstance(rule, CohortRelative) or rule.mean in facts:
            continue
        rows = session.execute(
            select(Assessment.inputs)
            .join(Unit, Unit.id == Assessment.unit_id)
            .where(Assessment.ruleset_name == rs.name, Assessment.fiscal_year == year,
                   Unit.region == unit.region, Assessment.unit_id != unit.id)
            .order_by(Assessment.created_at.desc()).limit(2000)
        ).scalars()
        values: list[Decimal] = []
        for inputs in rows:
            parsed, problems = vocab.parse((inputs or {}).get("facts", {}))
            if problems or any(n not in parsed for n in rule.formula.names):
                continue
            try:
                values.append(rule.formula(parsed))
            except ArithmeticError:
                continue
        if values:
            mean = sum(values, Decimal(0)) / len(values)
            facts[rule.mean] = mean
            warnings.append({"code": "cohort_mean", "message":
                             f"{leaf.code} {leaf.name}：同类单位均值取自{unit.region}已评价的{len(values)}家单位，为{fmt((mean * 100).quantize(Decimal('0.01')))}%"})


def evaluate(session: Session, rs: Ruleset, unit: Unit | UnitRef, year: int, sub: Submission | SubmissionRef,
             strict: bool, offload: bool = False, *, own_judgments: bool = False) -> tuple[bytes, str, str, str | None]:
    """Score a stored submission: (breakdown JSON, status, total, grade); 422 problems when the
    submission does not fit the ruleset, or when ``strict`` and the result is incomplete.
    With ``offload`` the engine runs in an interactive worker process (app.assessments.workers)."""
    # Cohort means come from the database, so they are found here and handed to the engine.
    present: dict[str, Any] = dict.fromkeys(sub.facts)
    cohort_warnings: list[dict[str, str]] = []
    _cohort_means(session, rs, unit, year, present, cohort_warnings)
    extra = {k: v for k, v in present.items() if k not in sub.facts}
    outcome = workers.score_stored(rs.ref, rs.content_hash, rs.text, sub.facts, sub.answers, sub.overrides,
                                   extra, cohort_warnings, strict, offload)
    if outcome[0] == "invalid":
        detail = (f"the assessment's answers/overrides with the current submission (version {sub.version}) "
                  f"do not fit {rs.ref}" if own_judgments
                  else f"the current submission (version {sub.version}) does not fit {rs.ref}")
        raise Unprocessable(detail, errors=[{"pointer": p, "message": m} for p, m in outcome[1]])
    if outcome[0] == "strict":
        raise strict_refusal(rs, outcome[1], outcome[2])
    _, breakdown, status, total, grade = outcome
    return breakdown, status, total, grade


def strict_refusal(rs: Ruleset, missing_facts: list[str], missing_answers: list[str]) -> Unprocessable:
    """The 422 of a strict scoring whose result is incomplete (an assessment or a dry run)."""
    vocab = rulesets.vocabulary()
    errors = [{"pointer": f"/facts/{f}", "message": f"missing fact {f} ({vocab[f].name})"} for f in missing_facts]
    errors += [{"pointer": f"/answers/{a.replace('~', '~0').replace('/', '~1')}",
                "message": "missing evaluator answer"} for a in missing_answers]
    return Unprocessable(f"strict scoring refused: the assessment under {rs.ref} is incomplete",
                         errors=errors, extra={"missing_facts": missing_facts, "missing_answers": missing_answers})


# The unit and its newest submission for the year, visible to the caller: the unit's owner, or an
# audit firm holding an unrevoked engagement for the unit and year (as app.auth.scoping states it).
_UNIT_AND_SUBMISSION = """
SELECT s.id, s.version, s.facts, s.answers, s.overrides, s.content_hash, u.tenant_id, u.region
FROM submissions s JOIN units u ON u.id = s.unit_id
WHERE s.unit_id = %(unit)s AND s.fiscal_year = %(year)s
  AND (u.tenant_id = %(tenant)s OR EXISTS (
       SELECT 1 FROM engagements e
       WHERE e.firm_tenant_id = %(tenant)s AND e.unit_id = s.unit_id AND e.revoked_at IS NULL
         AND s.fiscal_year = ANY (e.fiscal_years)))
ORDER BY s.version DESC LIMIT 1"""

_INSERT = """
INSERT INTO assessments (id, tenant_id, assessed_by_tenant_id, unit_id, fiscal_year, submission_id,
    submission_version, ruleset_name, ruleset_version, ruleset_hash, kind, evaluator, status, total, grade,
    inputs, result, created_at)
VALUES (%(id)s, %(tenant_id)s, %(assessed_by_tenant_id)s, %(unit_id)s, %(fiscal_year)s, %(submission_id)s,
    %(submission_version)s, %(ruleset_name)s, %(ruleset_version)s, %(ruleset_hash)s, %(kind)s, %(evaluator)s,
    %(status)s, %(total)s, %(grade)s, %(inputs)s, %(result)s, %(created_at)s)"""
# The lookup above for the tenant the statement runs as (the key's): see prefetch().
_UNIT_AND_SUBMISSION_OF_KEY = _UNIT_AND_SUBMISSION.replace("%(tenant)s", "jixiao_tenant()")
# The same insert with the request's audit entry in one statement (one round trip): see create().
_INSERT_AUDITED = f"WITH assessment AS ({_INSERT.strip()})\nINSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES ({AUDIT_VALUES})"
# An assessment of a project (app.projects.assess): the same statements with the project's columns.
_INSERT_PROJECT = (_INSERT.replace("submission_id,", "submission_id, project_id, project_submission_id,", 1)
                   .replace("%(submission_id)s,", "%(submission_id)s, %(project_id)s, %(project_submission_id)s,", 1))
_INSERT_PROJECT_AUDITED = _INSERT_AUDITED.replace(_INSERT.strip(), _INSERT_PROJECT.strip(), 1)


@dataclass(slots=True)
class UnitRef:
    """What scoring needs of a unit (read by fixed SQL, no ORM instance)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    region: str


@dataclass(slots=True)
class SubmissionRef:
    """What scoring needs of a submission version (read by fixed SQL, no ORM instance)."""

    id: uuid.UUID
    version: int
    facts: dict[str, Any]
    answers: dict[str, Any]
    overrides: dict[str, Any]
    content_hash: str


@dataclass(slots=True)
class Created:
    """A just-stored assessment: the fields its answer shows."""

    id: uuid.UUID
    unit_id: uuid.UUID
    fiscal_year: int
    submission_version: int
    kind: str
    evaluator: str
    created_at: datetime
    #: the stored breakdown document (JSON)
    breakdown: bytes
    #: complete or incomplete, and the grade (for the service's metrics)
    status: str
    grade: str | None
    #: the project scored, when the subject is a project of the unit, and its total (batches answer it)
    project_id: uuid.UUID | None = None
    total: str | None = None


#: "the lookup row was not read yet" (see prefetch)
NOT_READ: Any = object()


def prefetch(session: Session, prefix: str, unit_id: uuid.UUID,
             year: int) -> tuple[tuple[Any, ...] | None, tuple[Any, ...] | None]:
    """The presented key's row (app.auth.keys.KEY_COLUMNS) and, visible to that key's tenant, the
    unit's current submission row for the year: one pipeline, one round trip, before the key is
    checked (app.auth.deps.authorize with ``key_row``; a failing check discards the second row)."""
    return sql.first_with_key(session, prefix, _UNIT_AND_SUBMISSION_OF_KEY, {"unit": unit_id, "year": year})


def _unit_and_submission(session: Session, unit_id: uuid.UUID, year: int,
                         found: tuple[Any, ...] | None = NOT_READ) -> tuple[Unit | UnitRef, SubmissionRef | None]:
    """The unit and its current submission for the year: one fixed-SQL query in the common case
    (none when ``found``, the row :func:`prefetch` read, is given)."""
    if found is NOT_READ:
        row = sql.first(session, _UNIT_AND_SUBMISSION,
                        {"unit": unit_id, "year": year, "tenant": current_tenant(session)})
    else:
        row = found
    if row is not None:
        sub_id, version, facts, answers, overrides, content_hash, tenant_id, region = row
        return (UnitRef(unit_id, tenant_id, region),
                SubmissionRef(sub_id, version, facts, answers, overrides, content_hash))
    unit = session.get(Unit, unit_id)  # scoped: a visible unit without a (visible) submission
    if unit is None:
        raise NotFound(f"no unit {unit_id}", errors=[{"pointer": "/unit_id", "message": "no such unit"}])
    return unit, None


def _engaged(session: Session, unit_id: uuid.UUID, year: int) -> bool:
    from app.db.models import Engagement

    return session.scalar(select(Engagement.id).where(
        Engagement.unit_id == unit_id, Engagement.firm_tenant_id == current_tenant(session),
        Engagement.revoked_at.is_(None), literal(year) == any_(Engagement.fiscal_years)).limit(1)) is not None


def create(session: Session, body: AssessmentCreate,
           audit: Callable[[uuid.UUID], dict[str, Any]] | None = None,
           found: tuple[Any, ...] | None = NOT_READ, *,
           guard: Callable[[], None] | None = None, commit: bool = True) -> Created:
    """Score and store one assessment. ``audit`` gives the parameters of the request's audit entry
    (app.auth.deps.audit_params) for the new id; the entry is then written by the same statement,
    and (``commit``) the transaction is committed right after it: the request's last write.
    ``guard`` runs after every check and before scoring (the request's Idempotency-Key)."""
    unit, sub = _unit_and_submission(session, body.unit_id, body.fiscal_year, found)
    check_assessor(session, unit, body)
    try:
        rs = rulesets.resolve(session, body.ruleset, body.fiscal_year)
    except NotFound:
        if rulesets.resolve_project(session, body.ruleset) is not None:
            raise Unprocessable(f"{body.ruleset} scores a project's 自评表: give the project's project_id",
                                errors=[{"pointer": "/project_id", "message": "required by a project ruleset"}]) from None
        raise
    if sub is None:
        raise Unprocessable(
            f"unit {unit.id} has no submission for fiscal year {body.fiscal_year}; PUT one first",
            errors=[{"pointer": "/fiscal_year", "message": "no submission for this unit and year"}],
        )
    if guard is not None:
        guard()
    own = body.answers is not None or body.overrides is not None
    if own:  # the evaluator's own judgments replace the submission's (which stays as it is)
        sub = replace(sub, answers=sub.answers if body.answers is None else body.answers,
                      overrides=sub.overrides if body.overrides is None else body.overrides)
    with workers.Busy() as busy:
        breakdown, status, total, grade = evaluate(session, rs, unit, body.fiscal_year, sub, body.strict, busy.offload,
                                                   own_judgments=own)
    assessment_id, created_at = uuid.uuid4(), datetime.now(UTC)
    values = dict(
        id=assessment_id, tenant_id=unit.tenant_id, assessed_by_tenant_id=current_tenant(session),
        unit_id=unit.id, fiscal_year=body.fiscal_year, submission_id=sub.id,
        submission_version=sub.version, ruleset_name=rs.name, ruleset_version=rs.version,
        ruleset_hash=rs.content_hash, kind=body.kind, evaluator=body.evaluator, status=status,
        total=Decimal(total), grade=grade,
        inputs=packed.pack({"facts": sub.facts, "answers": sub.answers, "overrides": sub.overrides,
                            "submission_hash": sub.content_hash,
                            **({"judgments": "assessment"} if own else {})}),
        result=packed.pack_json(breakdown), created_at=created_at,
    )
    store(session, values, audit, commit)
    return Created(assessment_id, unit.id, body.fiscal_year, sub.version, body.kind, body.evaluator, created_at,
                   breakdown, status, grade)


def check_assessor(session: Session, unit: Unit | UnitRef, body: AssessmentCreate) -> None:
    """The caller may assess the unit (or a project of it) for the year: its owner, or an audit firm under
    an engagement for the unit and year, which submits third-party assessments only."""
    if not owns(session, unit.tenant_id):
        if not _engaged(session, unit.id, body.fiscal_year):
            raise NotFound(f"no unit {body.unit_id} for fiscal year {body.fiscal_year}")
        if body.kind != "third_party":
            raise Forbidden("under an engagement only third_party assessments can be submitted",
                            errors=[{"pointer": "/kind", "message": "must be third_party"}])


def store(session: Session, values: dict[str, Any], audit: Callable[[uuid.UUID], dict[str, Any]] | None,
          commit: bool) -> None:
    """Insert an assessment row (``values``: its columns; a project's assessment names its project and
    project submission), with the request's audit entry in the same statement when ``audit`` is given."""
    project = "project_id" in values
    # Fixed SQL (app.db.sql): the row is immutable, so the unit of work has nothing to track.
    if audit is None:
        sql.run(session, _INSERT_PROJECT if project else _INSERT, values)
    elif commit:  # the row and its audit entry (one statement), then COMMIT
        sql.run_in_tenant(session, current_tenant(session), _INSERT_PROJECT_AUDITED if project else _INSERT_AUDITED,
                          {**values, **audit(values["id"])})
    else:  # in the request's transaction (its Idempotency-Key's record follows): the tenant is set
        sql.run(session, _INSERT_PROJECT_AUDITED if project else _INSERT_AUDITED, {**values, **audit(values["id"])})


def answer(row: Created) -> bytes:
    """The JSON answer to a POST: the assessment's identity, then the stored breakdown document
    as is (no second serialisation of the ~14 KB breakdown)."""
    head = orjson.dumps({
        "id": row.id, "unit_id": row.unit_id, **({"project_id": row.project_id} if row.project_id else {}),
        "fiscal_year": row.fiscal_year,
        "submission_version": row.submission_version, "kind": row.kind, "kind_label": KIND_LABELS[row.kind],
        "evaluator": row.evaluator, "created_at": row.created_at.isoformat(),
    })
    return head[:-1] + b"," + row.breakdown[1:]


def to_out(row: Assessment, *, with_indicators: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(row.id), "unit_id": str(row.unit_id), "fiscal_year": row.fiscal_year,
        "submission_version": row.submission_version, "kind": row.kind, "kind_label": KIND_LABELS[row.kind],
        "evaluator": row.evaluator, "created_at": row.created_at.isoformat(),
    }
    if row.project_id is not None:
        out["project_id"] = str(row.project_id)
    result = _labelled(row.result)
    for key in SUMMARY_KEYS:
        out[key] = result[key]
    if with_indicators:
        out["indicators"] = result["indicators"]
    return out


def inputs(row: Assessment) -> dict[str, Any]:
    """The stored input snapshot of an assessment (see AssessmentInputs)."""
    snapshot = row.inputs
    return {"assessment_id": str(row.id), "submission_version": row.submission_version,
            "submission_hash": snapshot["submission_hash"], "judgments": snapshot.get("judgments", "submission"),
            "facts": snapshot["facts"], "answers": snapshot["answers"], "overrides": snapshot["overrides"],
            **({"content": snapshot["content"]} if "content" in snapshot else {})}


def get(session: Session, assessment_id: uuid.UUID) -> Assessment:
    row = session.get(Assessment, assessment_id)
    if row is None:
        raise NotFound(f"no assessment {assessment_id}")
    return row


def ruleset_filter(ruleset: str) -> list[Any]:
    """``NAME`` (any version) or ``NAME@VERSION``."""
    if "@" in ruleset:
        name, version = ruleset.split("@", 1)
        return [Assessment.ruleset_name == name, Assessment.ruleset_version == version]
    return [Assessment.ruleset_name == ruleset]


def page(session: Session, *, unit_id: uuid.UUID | None, fiscal_year: int | None, ruleset: str | None,
         grade: str | None, kind: str | None, status: str | None, after: tuple[datetime, uuid.UUID] | None,
         limit: int, project_id: uuid.UUID | None = None) -> tuple[list[Assessment], tuple[str, str] | None]:
    """Newest first; keyset pagination on (created_at, id), served by the (filter, created_at, id) indexes."""
    filters = equals((Assessment.unit_id, unit_id), (Assessment.project_id, project_id),
                     (Assessment.fiscal_year, fiscal_year),
                     (Assessment.grade, grade), (Assessment.kind, kind), (Assessment.status, status))
    if ruleset is not None:
        filters += ruleset_filter(ruleset)
    if after is not None:
        filters.append(tuple_(Assessment.created_at, Assessment.id) < tuple_(after[0], after[1]))
    stmt = select(Assessment).where(*filters).order_by(Assessment.created_at.desc(), Assessment.id.desc())
    return keyset_page(session, stmt, limit, lambda r: (r.created_at.isoformat(), str(r.id)))


# --------------------------------------------------------------------------- breakdown


def flatten(nodes: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for n in nodes:
        flat = {k: v for k, v in n.items() if k != "children"}
        out.append(flat)
        out.extend(flatten(n.get("children") or []))
    return out


def breakdown(row: Assessment, view: str, level: int | None, status: str | None, lost_points: bool) -> list[dict[str, Any]]:
    tree = _labelled(row.result)["indicators"]

    def keep(n: dict[str, Any]) -> bool:
        if level is not None and n["level"] != level:
            return False
        if status is not None and n["status"] != status:
            return False
        return not (lost_points and (n.get("points_lost") in (None, "0")))

    if view == "flat":
        return [n for n in flatten(tree) if keep(n)]
    if level is None and status is None and not lost_points:
        return list(tree)

    def prune(n: dict[str, Any]) -> dict[str, Any] | None:
        kids = [c for c in (prune(k) for k in n.get("children") or []) if c is not None]
        if keep(n) or kids:
            return {**n, "children": kids}
        return None

    return [p for p in (prune(n) for n in tree) if p is not None]


# --------------------------------------------------------------------------- comparison


def compare(session: Session, a_id: uuid.UUID, b_id: uuid.UUID) -> dict[str, Any]:
    a, b = get(session, a_id), get(session, b_id)
    if a.unit_id != b.unit_id or a.fiscal_year != b.fiscal_year:
        raise Unprocessable("only assessments of the same unit and fiscal year can be compared",
                            errors=[{"parameter": "other_id", "message": "different unit or fiscal year"}])
    if a.project_id != b.project_id:
        raise Unprocessable("only assessments of the same subject can be compared (the unit, or one of its projects)",
                            errors=[{"parameter": "other_id", "message": "a different project, or the unit itself"}])
    fa = {n["code"]: n for n in flatten(a.result["indicators"])}
    fb = {n["code"]: n for n in flatten(b.result["indicators"])}
    order = list(fa) + [c for c in fb if c not in fa]
    diffs = []
    for code in order:
        na, nb = fa.get(code), fb.get(code)
        sa = na["score"] if na else None
        sb = nb["score"] if nb else None
        diff = None if sa is None or sb is None else fmt(Decimal(sb) - Decimal(sa))
        base = na or nb
        assert base is not None
        diffs.append({
            "code": code, "name": base["name"], "level": base["level"], "points": base["points_available"],
            "score_a": sa, "score_b": sb, "difference": diff,
            "status_a": na["status"] if na else None, "status_b": nb["status"] if nb else None,
            "deductions_a": (na or {}).get("deductions") or [], "deductions_b": (nb or {}).get("deductions") or [],
        })

    def differs(d: dict[str, Any]) -> bool:
        return bool(d["score_a"] != d["score_b"] if d["difference"] is None else d["difference"] != "0")

    ranked = sorted(enumerate(diffs), key=lambda p: (
        not differs(p[1]), -abs(Decimal(p[1]["difference"])) if p[1]["difference"] else Decimal(0), p[0]))
    return {
        "a": to_out(a, with_indicators=False), "b": to_out(b, with_indicators=False),
        "total_difference": fmt(Decimal(b.result["total"]) - Decimal(a.result["total"])),
        "differing": sum(1 for d in diffs if differs(d)),
        "same_ruleset": (a.ruleset_name, a.ruleset_version) == (b.ruleset_name, b.ruleset_version),
        "indicators": [d for _, d in ranked],
    }


# --------------------------------------------------------------------------- cohorts


def cohort(session: Session, ruleset: str, fiscal_year: int, region: str | None, parent_id: uuid.UUID | None,
           kind: str | None, limit: int, unit_id: uuid.UUID | None = None) -> dict[str, Any]:
    """The latest complete assessment per subject (a unit, or a project of a unit: a project ruleset's
    cohort is its projects), ranked by total."""
    filters = equals((Assessment.fiscal_year, fiscal_year), (Assessment.status, "complete"),
                     (Unit.region, region), (Unit.parent_id, parent_id), (Assessment.kind, kind),
                     (Assessment.unit_id, unit_id))
    filters += ruleset_filter(ruleset)
    latest = (
        select(Assessment.id, Assessment.unit_id, Assessment.project_id, Assessment.total, Assessment.grade,
               Unit.code, Unit.name, Project.code.label("project_code"), Project.name.label("project_name"))
        .join(Unit, Unit.id == Assessment.unit_id)
        .outerjoin(Project, Project.id == Assessment.project_id)
        .where(*filters)
        .order_by(Assessment.unit_id, Assessment.project_id, Assessment.created_at.desc(), Assessment.id.desc())
        .ext(distinct_on(Assessment.unit_id, Assessment.project_id))
    ).subquery()
    rows = session.execute(select(latest).order_by(latest.c.total.desc(), latest.c.code,
                                                   latest.c.project_code)).all()
    totals = [Decimal(r.total) for r in rows]
    grades: dict[str, int] = {}
    for r in rows:
        grades[r.grade or "—"] = grades.get(r.grade or "—", 0) + 1
    ranking = []
    rank = 0
    previous: Decimal | None = None
    for i, r in enumerate(rows[:limit]):
        if previous is None or Decimal(r.total) != previous:
            rank = i + 1
        previous = Decimal(r.total)
        member = {"rank": rank, "unit_id": r.unit_id, "unit_code": r.code, "unit_name": r.name,
                  "assessment_id": r.id, "total": fmt(Decimal(r.total)), "grade": r.grade,
                  "grade_code": grade_code(r.grade)}
        if r.project_id is not None:
            member.update(project_id=r.project_id, project_code=r.project_code, project_name=r.project_name)
        ranking.append(member)
    q = Decimal("0.01")
    return {
        "ruleset": ruleset, "fiscal_year": fiscal_year, "region": region, "parent_id": parent_id,
        **({"unit_id": unit_id} if unit_id is not None else {}),
        "count": len(rows),
        "mean": fmt((sum(totals, Decimal(0)) / len(totals)).quantize(q)) if totals else None,
        "minimum": fmt(min(totals)) if totals else None, "maximum": fmt(max(totals)) if totals else None,
        "grades": grades, "ranking": ranking,
    }


# --------------------------------------------------------------------------- batch


def item_problem(exc: ProblemError, index: int) -> dict[str, Any]:
    """An item's problem, in ProblemDetail's JSON exactly (every field, null when it does not apply),
    its pointers under ``/items/N``."""
    errors = None
    if exc.errors:
        errors = [{"pointer": f"/items/{index}{e['pointer']}" if e.get("pointer") is not None else None,
                   "parameter": e.get("parameter"), "message": e["message"]} for e in exc.errors]
    return {"type": f"https://jixiao.dev/problems/{exc.slug}", "title": exc.title, "status": exc.status,
            "detail": exc.detail or None, "instance": None, "errors": errors, "request_id": None}


_CHUNK = 100


def batch(session: Session, items: Sequence[dict[str, Any] | ProblemError], first: int = 0) -> dict[str, Any]:
    """See :func:`_batch`. The cyclic garbage collector is paused while a batch is scored: a batch
    allocates many small objects that are all alive until the response, so collections during it
    only rescan them (they cost more than the scoring itself); it runs again right after.

    ``first``: the index of the first item in the whole it is part of (a job's chunk, app.jobs):
    results and problem pointers (``/items/N``) count from it. An item given as a problem (a job's
    line that is not JSON) is answered with that problem."""
    with workers.paused_gc():
        return _batch(session, items, first)


def _batch(session: Session, items: Sequence[dict[str, Any] | ProblemError], first: int) -> dict[str, Any]:
    """Validate, score and persist up to 1,000 items in this request's single transaction.

    A failing item is reported with its own problem and leaves nothing behind
    (its unit is not created, no submission, no assessment). Items are scored in
    chunks; while one chunk's rows are being inserted (the database works on the
    other core and psycopg releases the GIL), the next chunk is scored.
    """
    # Every item answers every BatchItemResult field (null when it does not apply).
    results: list[dict[str, Any]] = [
        {"index": first + i, "status": 0, "unit_id": None, "assessment_id": None, "location": None, "total": None,
         "grade": None, "grade_code": None, "assessment_status": None, "problem": None} for i in range(len(items))]
    rs_cache: dict[tuple[str, int], Ruleset | ProblemError] = {}
    candidates: list[Candidate] = []
    chunks: list[list[Candidate]] = []
    pending: list[list[tuple[list[int], Ruleset, list[workers.Job], Future[list[workers.Outcome]]]]] = []
    for i, raw in enumerate(items):
        try:
            if isinstance(raw, ProblemError):
                raise raw
            try:
                item = BatchItem.model_validate(raw)
            except ValidationError as exc:
                raise Unprocessable("the item is not valid", errors=[
                    {"pointer": "/" + "/".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
                ]) from None
            key = (item.ruleset, item.fiscal_year)
            if key not in rs_cache:
                try:
                    rs_cache[key] = rulesets.resolve(session, item.ruleset, item.fiscal_year)
                except ProblemError as exc:
                    rs_cache[key] = exc
            found = rs_cache[key]
            if isinstance(found, ProblemError):
                raise found
            candidates.append((i, item, found))
            if len(candidates) % _CHUNK == 0:
                # A full chunk goes to the workers now: they score while the rest is validated.
                chunk = candidates[-_CHUNK:]
                chunks.append(chunk)
                pending.append(_submit_chunk(chunk))
        except ProblemError as exc:
            results[i].update(status=exc.status, problem=item_problem(exc, first + i))
    if not candidates:
        return _batch_summary(results)

    tid = current_tenant(session)
    codes = sorted({c[1].unit.code for c in candidates})
    existing = {u.code: u.id for u in session.execute(
        select(Unit.code, Unit.id).where(Unit.code.in_(codes), Unit.tenant_id == tid))}
    planned = {code: existing.get(code) or uuid.uuid4() for code in codes}
    pairs = sorted({(planned[c[1].unit.code], c[1].fiscal_year) for c in candidates})
    versions: dict[tuple[uuid.UUID, int], int] = {}
    for uid, year, v in session.execute(
        select(Submission.unit_id, Submission.fiscal_year, func.max(Submission.version))
        .where(tuple_(Submission.unit_id, Submission.fiscal_year).in_(pairs))
        .group_by(Submission.unit_id, Submission.fiscal_year)
    ):
        versions[(uid, year)] = v

    def write(unit_rows: list[dict[str, Any]], sub_rows: list[dict[str, Any]], assess_rows: list[dict[str, Any]]) -> None:
        sql.copy_rows(session, Unit, unit_rows)
        sql.copy_rows(session, Submission, sub_rows)
        sql.copy_rows(session, Assessment, assess_rows)

    created: set[str] = set(existing)
    now = datetime.now(UTC)
    if len(candidates) % _CHUNK:
        chunks.append(candidates[-(len(candidates) % _CHUNK):])
        pending.append(_submit_chunk(chunks[-1]))
    # Every chunk is queued by now: the workers score ahead while this thread writes.
    for chunk, parts in zip(chunks, pending, strict=True):
        outcomes: list[workers.Outcome] = [()] * len(chunk)
        for positions, rs, jobs, future in parts:
            for pos, outcome in zip(positions, workers.result(future, rs.ref, rs.content_hash, rs.text, jobs),
                                    strict=True):
                outcomes[pos] = outcome
        unit_rows: list[dict[str, Any]] = []
        sub_rows: list[dict[str, Any]] = []
        assess_rows: list[dict[str, Any]] = []
        for (i, item, rs), outcome in zip(chunk, outcomes, strict=True):
            if outcome[0] == "facts":
                refused = Unprocessable("invalid facts", errors=[{"pointer": p, "message": m} for p, m in outcome[1]])
                results[i].update(status=refused.status, problem=item_problem(refused, first + i))
                continue
            if outcome[0] == "invalid":
                refused = Unprocessable(f"the item does not fit {rs.ref}",
                                        errors=[{"pointer": p, "message": m} for p, m in outcome[1]])
                results[i].update(status=refused.status, problem=item_problem(refused, first + i))
                continue
            if outcome[0] == "strict":
                refused = Unprocessable(f"strict scoring refused: incomplete under {rs.ref}", errors=[
                    {"pointer": f"/facts/{f}", "message": "missing fact"} for f in outcome[1]])
                results[i].update(status=refused.status, problem=item_problem(refused, first + i))
                continue
            _, stored_breakdown, status, total, grade, facts = outcome
            code = item.unit.code
            uid = planned[code]
            if code not in created:
                created.add(code)
                unit_rows.append({"id": uid, "tenant_id": tid, **item.unit.model_dump()})
            version = versions.get((uid, item.fiscal_year), 0) + 1
            versions[(uid, item.fiscal_year)] = version
            sub = submissions.build_values(uid, item.fiscal_year, version, facts, item.answers, item.overrides,
                                           None, tenant_id=tid, canonical=True)
            sub["created_at"] = now
            sub_rows.append(sub)
            aid = uuid.uuid4()
            assess_rows.append({
                "id": aid, "tenant_id": tid, "assessed_by_tenant_id": tid, "unit_id": uid, "fiscal_year": item.fiscal_year, "submission_id": sub["id"],
                "submission_version": version, "ruleset_name": rs.name, "ruleset_version": rs.version,
                "ruleset_hash": rs.content_hash, "kind": item.kind, "evaluator": item.evaluator,
                "status": status, "total": Decimal(total), "grade": grade,
                "inputs": packed.pack({"facts": sub["facts"], "answers": sub["answers"],
                                       "overrides": sub["overrides"], "submission_hash": sub["content_hash"]}),
                "result": stored_breakdown, "created_at": now,
            })
            results[i].update(status=201, unit_id=uid, assessment_id=aid, location=f"/v1/assessments/{aid}",
                              total=total, grade=grade, grade_code=grade_code(grade), assessment_status=status)
        write(unit_rows, sub_rows, assess_rows)
    return _batch_summary(results)


#: (item index, item, its ruleset)
Candidate = tuple[int, BatchItem, Ruleset]


def _submit_chunk(chunk: list[Candidate]) -> list[tuple[list[int], Ruleset, list[workers.Job], Future[list[workers.Outcome]]]]:
    """Queue a chunk's scoring, one job list per ruleset in it (positions keep the item order)."""
    groups: dict[str, list[int]] = {}
    for pos, candidate in enumerate(chunk):
        groups.setdefault(candidate[2].content_hash, []).append(pos)
    parts = []
    for positions in groups.values():
        rs = chunk[positions[0]][2]
        jobs: list[workers.Job] = [(chunk[p][1].answers, chunk[p][1].overrides, chunk[p][1].facts, chunk[p][1].strict)
                                   for p in positions]
        parts.append((positions, rs, jobs, workers.submit(rs.ref, rs.content_hash, rs.text, jobs)))
    return parts


def _batch_summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    ok = sum(1 for r in results if r.get("status") == 201)
    return {"succeeded": ok, "failed": len(results) - ok, "items": results}
