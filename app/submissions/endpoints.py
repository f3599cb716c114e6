"""Submissions: one unit's data for one fiscal year, versioned."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response, status

from app.api.deps import Route, SessionDep, StrictInt
from app.api.problems import responses
from app.auth.deps import ADMIN, ASSESS, READ, SUBMIT  # noqa: F401
from app.db.models import Submission
from app.submissions import service
from app.submissions.schemas import SubmissionIn, SubmissionOut, SubmissionVersionList, SubmissionWarning

router = APIRouter(route_class=Route, tags=["submissions"])
UnitIdPath = Annotated[uuid.UUID, Path(description="Unit id")]
YearPath = Annotated[StrictInt, Path(ge=1990, le=2100, description="Fiscal year", examples=[2023])]


def out(sub: Submission) -> SubmissionOut:
    return SubmissionOut(unit_id=sub.unit_id, fiscal_year=sub.fiscal_year, version=sub.version, facts=sub.facts,
                         answers=sub.answers, overrides=sub.overrides, note=sub.note, content_hash=sub.content_hash,
                         created_at=sub.created_at, etag=service.etag(sub))


@router.put("/v1/units/{unit_id}/submissions/{fiscal_year}", dependencies=[SUBMIT], operation_id="putSubmission",
            summary="Create or replace a submission", response_model=SubmissionOut,
            responses={201: {"description": "Created (first version)", "model": SubmissionOut}, **responses(404, 412, 422, 428)})
def put_submission(
    unit_id: UnitIdPath, fiscal_year: YearPath, body: SubmissionIn, session: SessionDep, response: Response,
    request: Request,
    if_match: Annotated[str | None, Header(alias="If-Match", description="ETag of the version being replaced (required to replace)")] = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match", description="`*` to create only if none exists")] = None,
    ruleset: Annotated[str | None, Query(
        min_length=1, max_length=100, examples=["shenzhen-yantian@2023"],
        description="`NAME@VERSION` (or `NAME`: the version covering the year): refuse (422, with JSON pointers) "
                    "answers and overrides that do not fit it, exactly as its submission.schema.json does")] = None,
) -> SubmissionOut:
    """Store a new version of the unit's data for the year. Replacing requires `If-Match` (412 when stale, 428 when absent).
    Facts are checked against the vocabulary: each bad value is reported with its JSON pointer. With `ruleset`,
    answers and overrides are checked against that ruleset version (unknown address, wrong shape, score above the
    points, missing 扣分事由) and refused with 422; without it they are stored, and `warnings` says what would not
    fit the rulesets covering the year."""
    warnings = service.check_answers(session, fiscal_year, ruleset, body.facts, body.answers, body.overrides)
    sub, created = service.put(session, unit_id, fiscal_year, body.facts, body.answers, body.overrides, body.note,
                               if_match, if_none_match)
    response.headers["ETag"] = service.etag(sub)
    response.headers["Location"] = f"/v1/units/{unit_id}/submissions/{fiscal_year}"
    if created:
        response.status_code = status.HTTP_201_CREATED
    request.state.audit_status = response.status_code or 200
    request.state.created_id = sub.id
    result = out(sub)
    result.warnings = [SubmissionWarning(**w) for w in warnings]
    return result


@router.get("/v1/units/{unit_id}/submissions/{fiscal_year}", dependencies=[READ], operation_id="getSubmission",
            summary="Get the current submission", response_model=SubmissionOut, responses=responses(404))
def get_submission(unit_id: UnitIdPath, fiscal_year: YearPath, session: SessionDep, response: Response) -> SubmissionOut:
    """The newest version, with its `ETag` for a later `If-Match`."""
    sub = service.get_current(session, unit_id, fiscal_year)
    response.headers["ETag"] = service.etag(sub)
    return out(sub)


@router.get("/v1/units/{unit_id}/submissions/{fiscal_year}/versions", dependencies=[READ], operation_id="listSubmissionVersions",
            summary="List every version of a submission", response_model=SubmissionVersionList, responses=responses(404))
def list_versions(unit_id: UnitIdPath, fiscal_year: YearPath, session: SessionDep) -> dict[str, Any]:
    """All versions, oldest first. Versions are never changed or deleted."""
    return {"items": [out(s) for s in service.versions(session, unit_id, fiscal_year)]}


@router.get("/v1/units/{unit_id}/submissions/{fiscal_year}/versions/{version}", dependencies=[READ], operation_id="getSubmissionVersion",
            summary="Get one version of a submission", response_model=SubmissionOut, responses=responses(404))
def get_version(unit_id: UnitIdPath, fiscal_year: YearPath, version: Annotated[StrictInt, Path(ge=1, le=2_147_483_647)], session: SessionDep,
                response: Response) -> SubmissionOut:
    """One stored version."""
    sub = service.version(session, unit_id, fiscal_year, version)
    response.headers["ETag"] = service.etag(sub)
    return out(sub)
