"""Assessments: scoring, breakdowns, comparisons, cohorts and batches."""

from __future__ import annotations

import uuid
from contextlib import nullcontext
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool

from app import metrics
from app.api import idempotency
from app.api.deps import (
    CursorQuery,
    LimitQuery,
    RawBody,
    Route,
    SessionDep,
    StrictInt,
    decode_cursor,
    encode_cursor,
    json_body,
    parse_body,
)
from app.api.enums import AssessmentKind, AssessmentStatus, BreakdownView, IndicatorStatus
from app.api.problems import BadRequest, FastJSONResponse, PayloadTooLarge, responses
from app.assessments import service
from app.assessments.schemas import (
    AssessmentCreate,
    AssessmentInputs,
    AssessmentOut,
    AssessmentPage,
    AssessmentSummary,
    BatchRequest,
    BatchResult,
    Breakdown,
    Cohort,
    Comparison,
)
from app.auth.deps import (
    BEARER_SECURITY,
    READ,
    audit_params,
    authorize,
    bearer_key,
    finish,
    request_session,
    require_in_route,
    require_key,
)
from app.auth.keys import key_prefix
from app.db import sql
from app.projects import assess as project_assessments
from app.settings import get_settings

router = APIRouter(route_class=Route, tags=["assessments"])
SUBMIT_ASSESS_IN_ROUTE = require_in_route("submit", "assess")
IdPath = Annotated[uuid.UUID, Path(description="Assessment id")]


@router.post("/v1/assessments", operation_id="createAssessment", summary="Score and store an assessment",
             status_code=status.HTTP_201_CREATED, response_model=AssessmentOut, responses=responses(404, 422),
             openapi_extra={**json_body(AssessmentCreate), **BEARER_SECURITY})
async def create_assessment(request: Request) -> Response:
    """Score the unit's current submission for the year under the ruleset (`NAME` picks the version covering
    the year), store the result pinned to the ruleset version and content hash with a snapshot of the inputs,
    and answer with the full breakdown. With `project_id` the subject is a project of the unit: its current
    自评表 for the year, under a project ruleset. Missing facts give an `incomplete` assessment listing them, or 422
    with `strict=true`. Assessments never change: scoring again makes a new one."""
    # The hottest route: no FastAPI dependencies (their resolution cost ~0.3 ms a request); the
    # same checks in the same order, and the whole request in one thread-pool hop.
    require_key(request, "assess")
    raw = await request.body()
    return await run_in_threadpool(_create_assessment, raw, request)


def _create_assessment(raw: bytes, request: Request) -> Response:
    """Authorize, validate, score, store, audit and commit (one thread-pool hop)."""
    # Autocommit: the reads need no common snapshot and the only write (the row with its audit
    # entry) is one statement, so BEGIN and COMMIT would only cost two round trips. With an
    # Idempotency-Key, the key's lock, its record and the row share one transaction instead.
    idempotent = idempotency.requested(request)
    with request_session(request) as session, (nullcontext() if idempotent else sql.autocommit(session)):
        content_type = request.headers.get("content-type")
        prefix = key_prefix(bearer_key(request) or "")
        try:
            body: AssessmentCreate | None = parse_body(AssessmentCreate, raw, content_type)
        except RequestValidationError:
            body = None
        found = service.NOT_READ
        if body is not None and body.project_id is None and prefix is not None:
            # the key and the unit's current submission in one round trip; the key is checked first
            key_row, found = service.prefetch(session, prefix, body.unit_id, body.fiscal_year)
            authorize(session, request, key_row)
        else:
            authorize(session, request)  # 401/403 before anything about the body
            body = parse_body(AssessmentCreate, raw, content_type)

        request.state.audit_unit_id = body.unit_id

        def audit(created: uuid.UUID) -> dict[str, Any]:
            request.state.created_id = created
            return audit_params(session, request)

        # After the unit, engagement and ruleset checks, before scoring: a retry is answered again here.
        guard = (lambda: idempotency.guard(session, request, raw)) if idempotent else None
        if body.project_id is not None:  # the subject is a project of the unit (app.projects.assess)
            row = project_assessments.create(session, body, audit, guard=guard, commit=not idempotent)
        else:
            row = service.create(session, body, audit, found, guard=guard, commit=not idempotent)
        request.state.audited = True
        response = Response(service.answer(row), status_code=201, media_type="application/json",
                            headers={"Location": f"/v1/assessments/{row.id}"})
        if idempotent:
            finish(session, request, response)  # the key's outcome with the row, then COMMIT
        session.info["finished"] = True  # autocommit: stored already, the session's commit has nothing to do
        metrics.record_assessment("single", row.status, row.grade)
        return response


@router.post("/v1/assessments:batch", dependencies=[SUBMIT_ASSESS_IN_ROUTE], operation_id="batchAssessments",
             summary="Submit and score up to 1,000 units", response_model=BatchResult,
             responses=responses(413, 422), openapi_extra=json_body(BatchRequest))
def batch_assessments(raw: RawBody, session: SessionDep, request: Request) -> FastJSONResponse:
    """Each item carries a unit (found by code or created), its submission and the assessment to make.
    Items are answered one by one: a failing item reports its own problem (pointers under `/items/N`)
    and leaves nothing stored; the others are stored in one transaction."""
    authorize(session, request)
    body = parse_body(BatchRequest, raw, request.headers.get("content-type"))
    limit = get_settings().batch_max_items
    if len(body.items) > limit:
        raise PayloadTooLarge(f"at most {limit} items per batch")
    idempotency.guard(session, request, raw)  # a retry is answered again here, before any work
    result = service.batch(session, body.items)
    request.state.audit_status = 200
    # Built by the service in BatchResult's shape (tests validate it against the model); orjson writes it directly.
    response = FastJSONResponse(result, status_code=200)
    finish(session, request, response)  # the audit entry and the Idempotency-Key's outcome commit with the items
    metrics.record_batch(result["items"])  # committed
    return response


@router.get("/v1/assessments", dependencies=[READ], operation_id="listAssessments", summary="List assessments",
            response_model=AssessmentPage, responses=responses(400, 422))
def list_assessments(
    session: SessionDep,
    unit_id: Annotated[uuid.UUID | None, Query()] = None,
    project_id: Annotated[uuid.UUID | None, Query(description="Assessments of this project")] = None,
    fiscal_year: Annotated[StrictInt | None, Query(ge=1990, le=2100)] = None,
    ruleset: Annotated[str | None, Query(description="NAME or NAME@VERSION")] = None,
    grade: Annotated[str | None, Query(description="优, 良, 中 or 差")] = None,
    kind: Annotated[AssessmentKind | None, Query()] = None,
    status_: Annotated[AssessmentStatus | None, Query(alias="status")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> dict[str, Any]:
    """Newest first, filtered, with cursor pagination. Summaries only; see the breakdown endpoint."""
    after_raw = decode_cursor(cursor, 2)
    after = None
    if after_raw is not None:
        try:
            after = (datetime.fromisoformat(after_raw[0]), uuid.UUID(after_raw[1]))
        except (ValueError, TypeError, AttributeError):
            raise BadRequest("the cursor is not valid", errors=[{"parameter": "cursor", "message": "not a cursor issued by this API"}]) from None
    rows, last = service.page(session, unit_id=unit_id, fiscal_year=fiscal_year, ruleset=ruleset, grade=grade,
                              kind=kind, status=status_, after=after, limit=limit, project_id=project_id)
    return {"items": [service.to_out(r, with_indicators=False) for r in rows],
            "next_cursor": encode_cursor(list(last)) if last else None}


@router.get("/v1/assessments/{assessment_id}", dependencies=[READ], operation_id="getAssessment", summary="Get an assessment (summary)",
            response_model=AssessmentSummary, responses=responses(404))
def get_assessment(assessment_id: IdPath, session: SessionDep) -> FastJSONResponse:
    """Total, grade, status, warnings, missing facts, ruleset version and hash."""
    return FastJSONResponse(service.to_out(service.get(session, assessment_id), with_indicators=False))


@router.get("/v1/assessments/{assessment_id}/breakdown", dependencies=[READ], operation_id="getAssessmentBreakdown",
            summary="Get the indicator breakdown", response_model=Breakdown, responses=responses(404, 422))
def get_breakdown(
    assessment_id: IdPath, session: SessionDep,
    view: Annotated[BreakdownView, Query(description="tree (nested) or flat (one row per indicator)")] = "tree",
    level: Annotated[StrictInt | None, Query(ge=1, le=6, description="Only indicators of this level (1 = 一级)")] = None,
    status_: Annotated[IndicatorStatus | None,
                       Query(alias="status")] = None,
    lost_points: Annotated[bool, Query(description="Only indicators that lost points")] = False,
) -> FastJSONResponse:
    """Every indicator's points, score, computed vs adopted score, inputs, formula and 扣分事由."""
    row = service.get(session, assessment_id)
    items = service.breakdown(row, view, level, status_, lost_points)
    return FastJSONResponse({"assessment_id": str(row.id), "view": view, "items": items})


@router.get("/v1/assessments/{assessment_id}/inputs", dependencies=[READ], operation_id="getAssessmentInputs",
            summary="Get what an assessment was scored with", response_model=AssessmentInputs,
            responses=responses(404))
def get_inputs(assessment_id: IdPath, session: SessionDep) -> FastJSONResponse:
    """The facts, answers and overrides the assessment was scored with, the submission version and
    hash they came from, and whose judgments they are: with the pinned ruleset version, enough for an
    auditor to score it again and check every point."""
    return FastJSONResponse(service.inputs(service.get(session, assessment_id)))


@router.get("/v1/assessments/{assessment_id}/comparison/{other_id}", dependencies=[READ], operation_id="compareAssessments",
            summary="Compare two assessments of one unit and year", response_model=Comparison,
            responses=responses(404, 422))
def compare(assessment_id: IdPath, other_id: Annotated[uuid.UUID, Path(description="The other assessment")],
            session: SessionDep) -> FastJSONResponse:
    """Per-indicator differences (other − this), the indicators that differ first, largest difference first.
    The everyday case: a self-evaluation against a third-party evaluation."""
    return FastJSONResponse(Comparison.model_validate(service.compare(session, assessment_id, other_id)).model_dump(mode="json"))


@router.get("/v1/cohorts", dependencies=[READ], operation_id="getCohort", summary="Statistics of a cohort of assessments",
            response_model=Cohort, responses=responses(422), tags=["cohorts"])
def get_cohort(
    session: SessionDep,
    ruleset: Annotated[str, Query(description="NAME or NAME@VERSION")],
    fiscal_year: Annotated[StrictInt, Query(ge=1990, le=2100)],
    region: Annotated[str | None, Query()] = None,
    parent_id: Annotated[uuid.UUID | None, Query(description="Units under this parent (a bureau's schools)")] = None,
    kind: Annotated[AssessmentKind | None, Query()] = None,
    unit_id: Annotated[uuid.UUID | None, Query(description="Only this unit's assessments (a project ruleset: its projects)")] = None,
    limit: Annotated[StrictInt, Query(ge=1, le=5000, description="Length of the ranking")] = 100,
) -> FastJSONResponse:
    """Count, mean, min, max, grade distribution and ranking of the latest complete assessment of each subject:
    each unit, or under a project ruleset each project (of a unit with `unit_id`, of a bureau's units with
    `parent_id`, of a region, or every project assessed under the ruleset and year)."""
    return FastJSONResponse(Cohort.model_validate(service.cohort(session, ruleset, fiscal_year, region, parent_id, kind, limit, unit_id)).model_dump(mode="json", exclude_unset=True))
