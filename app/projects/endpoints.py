"""Projects (项目支出) of a unit, their versioned 自评表 submissions and the unit's projects at a glance."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response, status

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
from app.api.enums import AssessmentKind
from app.api.problems import BadRequest, FastJSONResponse, PayloadTooLarge, Unprocessable, responses
from app.auth.deps import READ, SUBMIT, authorize, finish, require_in_route
from app.db.models import ProjectSubmission
from app.projects import batch, service, summary
from app.projects.schemas import (
    ProjectBatchRequest,
    ProjectBatchResult,
    ProjectCreate,
    ProjectOut,
    ProjectPage,
    ProjectsSummary,
    ProjectSubmissionIn,
    ProjectSubmissionOut,
    ProjectSubmissionVersionList,
    ProjectUpdate,
)
from app.settings import get_settings
from app.submissions.service import etag

router = APIRouter(route_class=Route, tags=["projects"])
UnitIdPath = Annotated[uuid.UUID, Path(description="Unit id")]
ProjectIdPath = Annotated[uuid.UUID, Path(description="Project id")]
YearPath = Annotated[StrictInt, Path(ge=1990, le=2100, description="Fiscal year", examples=[2023])]
BASE = "/v1/units/{unit_id}/projects"


@router.post(BASE, dependencies=[SUBMIT], operation_id="createProject", summary="Create a project of a unit",
             status_code=status.HTTP_201_CREATED, response_model=ProjectOut, responses=responses(403, 404, 409, 422))
def create_project(unit_id: UnitIdPath, body: ProjectCreate, session: SessionDep, response: Response,
                   request: Request) -> ProjectOut:
    """A project (项目支出) of the unit: its code (unique within the unit), name, 主管部门, 实施单位, 资金性质 and
    the fiscal years it runs, each of which gets a 自评表 (`PUT …/submissions/{fiscal_year}`)."""
    project = service.create(session, unit_id, body)
    request.state.created_id = project.id
    response.headers["Location"] = f"/v1/units/{unit_id}/projects/{project.id}"
    return ProjectOut.model_validate(project)


@router.get(BASE, dependencies=[READ], operation_id="listProjects", summary="List a unit's projects",
            response_model=ProjectPage, responses=responses(400, 404, 422))
def list_projects(
    unit_id: UnitIdPath, session: SessionDep,
    fiscal_year: Annotated[StrictInt | None, Query(ge=1990, le=2100, description="Projects running in this year")] = None,
    code: Annotated[str | None, Query(description="Exact code")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> ProjectPage:
    """The unit's projects ordered by code, with cursor pagination."""
    after = decode_cursor(cursor, 1)
    if after is not None and not isinstance(after[0], str):
        raise BadRequest("the cursor is not valid", errors=[{"parameter": "cursor", "message": "not a cursor issued by this API"}])
    rows, last = service.page(session, unit_id, fiscal_year=fiscal_year, code=code,
                              after=after[0] if after else None, limit=limit)
    return ProjectPage(items=[ProjectOut.model_validate(r) for r in rows],
                       next_cursor=encode_cursor([last]) if last else None)


@router.get(BASE + ":summary", dependencies=[READ], operation_id="getProjectsSummary",
            summary="A unit's projects at a glance", response_model=ProjectsSummary, responses=responses(404, 422))
def get_projects_summary(
    unit_id: UnitIdPath, session: SessionDep,
    fiscal_year: Annotated[StrictInt, Query(ge=1990, le=2100)],
    ruleset: Annotated[str | None, Query(description="Only assessments under this ruleset (NAME or NAME@VERSION)")] = None,
    kind: Annotated[AssessmentKind | None, Query(description="Only self or third_party assessments")] = None,
    rows: Annotated[StrictInt, Query(ge=0, le=100, description="How many of the rows that lost most to list")] = 10,
) -> dict[str, Any]:
    """For the unit and year: how many projects run, how many have a complete assessment (the latest of each
    project counts), their 全年预算数 and 全年执行数 with the execution rate, the mean 总分, the grades, and the
    三级 rows that lost the most points across them, with their 扣分事由 and 偏差原因."""
    return summary.summarise(session, unit_id, fiscal_year, ruleset, kind, rows)


@router.get(BASE + "/{project_id}", dependencies=[READ], operation_id="getProject", summary="Get a project",
            response_model=ProjectOut, responses=responses(404))
def get_project(unit_id: UnitIdPath, project_id: ProjectIdPath, session: SessionDep) -> ProjectOut:
    """One project of the unit."""
    return ProjectOut.model_validate(service.get(session, unit_id, project_id))


@router.patch(BASE + "/{project_id}", dependencies=[SUBMIT], operation_id="updateProject", summary="Update a project",
              response_model=ProjectOut, responses=responses(403, 404, 422))
def update_project(unit_id: UnitIdPath, project_id: ProjectIdPath, body: ProjectUpdate,
                   session: SessionDep) -> ProjectOut:
    """Change a project's name, 主管部门, 实施单位, 资金性质 or fiscal years. The code cannot change."""
    return ProjectOut.model_validate(service.update(session, unit_id, project_id, body))


# --------------------------------------------------------------------------- submissions

SUBMISSION = BASE + "/{project_id}/submissions/{fiscal_year}"


def out(sub: ProjectSubmission) -> ProjectSubmissionOut:
    return ProjectSubmissionOut(project_id=sub.project_id, unit_id=sub.unit_id, fiscal_year=sub.fiscal_year,
                                version=sub.version, content=sub.content, note=sub.note,
                                content_hash=sub.content_hash, created_at=sub.created_at, etag=etag(sub))


@router.put(SUBMISSION, dependencies=[SUBMIT], operation_id="putProjectSubmission",
            summary="Create or replace a project's 自评表 data", response_model=ProjectSubmissionOut,
            responses={201: {"description": "Created (first version)", "model": ProjectSubmissionOut},
                       **responses(403, 404, 412, 422, 428)})
def put_project_submission(
    unit_id: UnitIdPath, project_id: ProjectIdPath, fiscal_year: YearPath, body: ProjectSubmissionIn,
    session: SessionDep, response: Response, request: Request,
    if_match: Annotated[str | None, Header(alias="If-Match", description="ETag of the version being replaced (required to replace)")] = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match", description="`*` to create only if none exists")] = None,
    ruleset: Annotated[str | None, Query(
        min_length=1, max_length=100, description="A project ruleset (NAME@VERSION, or NAME: its version covering the year): "
        "the rows are checked against its submission schema (GET /v1/rulesets/{name}/{version}/submission.schema.json) "
        "and refused (422, the schema's pointers) when they do not fit", examples=["national-project@2020"])] = None,
) -> ProjectSubmissionOut:
    """Store a new version of the project's 自评表 data for a year it runs: the funds block, 年度总体目标, the
    三级 rows (指标性质, 年度指标值 and 实际完成值 with their 度量单位, 偏差原因, 改进措施) and the scores the unit
    printed. Replacing requires `If-Match` (412 when stale, 428 when absent), as for a unit's submission.
    Whether the rows fit a ruleset's 一级 / 二级 is checked when an assessment scores them, or now with `ruleset`
    (the ruleset's submission schema; what it cannot state is checked when the table is scored)."""
    content = body.model_dump(mode="json", exclude_none=True, exclude={"note"})
    if ruleset is not None:
        from app.projects.assess import resolve
        from app.rulesets import project_contract

        rs = resolve(session, ruleset, fiscal_year)
        problems = project_contract.check(rs, body.model_dump(mode="json", exclude_none=True))
        if problems:
            raise Unprocessable(f"the 自评表 does not fit {rs.ref}",
                                errors=[{"pointer": p.pointer, "message": p.message} for p in problems])
    sub, created = service.put(session, unit_id, project_id, fiscal_year, content, body.note, if_match, if_none_match)
    response.headers["ETag"] = etag(sub)
    response.headers["Location"] = SUBMISSION.format(unit_id=unit_id, project_id=project_id, fiscal_year=fiscal_year)
    if created:
        response.status_code = status.HTTP_201_CREATED
    request.state.audit_status = response.status_code or 200
    request.state.created_id = sub.id
    return out(sub)


@router.get(SUBMISSION, dependencies=[READ], operation_id="getProjectSubmission",
            summary="Get a project's current submission", response_model=ProjectSubmissionOut, responses=responses(404))
def get_project_submission(unit_id: UnitIdPath, project_id: ProjectIdPath, fiscal_year: YearPath,
                           session: SessionDep, response: Response) -> ProjectSubmissionOut:
    """The newest version, with its `ETag` for a later `If-Match`."""
    sub = service.get_current(session, unit_id, project_id, fiscal_year)
    response.headers["ETag"] = etag(sub)
    return out(sub)


@router.get(SUBMISSION + "/versions", dependencies=[READ], operation_id="listProjectSubmissionVersions",
            summary="List every version of a project's submission", response_model=ProjectSubmissionVersionList,
            responses=responses(404))
def list_project_versions(unit_id: UnitIdPath, project_id: ProjectIdPath, fiscal_year: YearPath,
                          session: SessionDep) -> dict[str, Any]:
    """All versions, oldest first. Versions are never changed or deleted."""
    return {"items": [out(s) for s in service.versions(session, unit_id, project_id, fiscal_year)]}


@router.get(SUBMISSION + "/versions/{version}", dependencies=[READ], operation_id="getProjectSubmissionVersion",
            summary="Get one version of a project's submission", response_model=ProjectSubmissionOut,
            responses=responses(404))
def get_project_version(unit_id: UnitIdPath, project_id: ProjectIdPath, fiscal_year: YearPath,
                        version: Annotated[StrictInt, Path(ge=1, le=2_147_483_647)], session: SessionDep,
                        response: Response) -> ProjectSubmissionOut:
    """One stored version."""
    sub = service.version(session, unit_id, project_id, fiscal_year, version)
    response.headers["ETag"] = etag(sub)
    return out(sub)


# --------------------------------------------------------------------------- batch


@router.post(BASE + ":batch", dependencies=[require_in_route("submit", "assess")], operation_id="batchProjectAssessments",
             summary="Submit and score up to 1,000 of a unit's projects", response_model=ProjectBatchResult,
             responses=responses(403, 404, 413, 422), openapi_extra=json_body(ProjectBatchRequest))
def batch_projects(unit_id: UnitIdPath, raw: RawBody, session: SessionDep, request: Request) -> FastJSONResponse:
    """Each item names a project of the unit (found by code, created when new, running in the item's year),
    carries its 自评表 for the year (stored as a new version of its submission) and the assessment to make
    under a project ruleset. Items are answered one by one: a failing item reports its own problem (pointers
    under `/items/N`) and leaves nothing stored; the others are stored in one transaction. The unit's owner
    only (an audit firm scores a project with `POST /v1/assessments`)."""
    authorize(session, request)
    body = parse_body(ProjectBatchRequest, raw, request.headers.get("content-type"))
    limit = get_settings().batch_max_items
    if len(body.items) > limit:
        raise PayloadTooLarge(f"at most {limit} items per batch")
    idempotency.guard(session, request, raw)  # a retry is answered again here, before any work
    result = batch.batch(session, unit_id, body.items)
    request.state.audit_status = 200
    response = FastJSONResponse(result, status_code=200)
    finish(session, request, response)  # the audit entry and the Idempotency-Key's outcome commit with the items
    return response
