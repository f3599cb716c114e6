"""/v1/jobs: asynchronous assessments (up to 100,000 items) and rescores of a cohort (app.jobs.service)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.exceptions import RequestValidationError

from app.api import idempotency, request_id
from app.api.deps import (
    CursorQuery,
    LimitQuery,
    RawBody,
    Route,
    SessionDep,
    decode_cursor,
    encode_cursor,
    parse_body,
)
from app.api.enums import JobKind, JobState
from app.api.problems import BadRequest, FastJSONResponse, PayloadTooLarge, responses
from app.auth.deps import ASSESS, READ, Forbidden, authorize, finish, require_in_route
from app.jobs import service
from app.jobs.schemas import JobCreate, JobItemPage, JobOut, JobPage
from app.rulesets import service as rulesets
from app.settings import get_settings

router = APIRouter(route_class=Route, tags=["jobs"])
JobPath = Annotated[uuid.UUID, Path(description="Job id")]
NDJSON = ("application/x-ndjson", "application/jsonl", "application/json-seq")


def _request_body() -> dict[str, Any]:
    # NDJSON is described in the operation's text only: client generators refuse the media type
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/JobCreate"}}}}}


def _rescore_params(body: JobCreate) -> dict[str, Any]:
    missing = [name for name in ("ruleset", "fiscal_year", "evaluator") if getattr(body, name) is None]
    if missing:
        raise RequestValidationError([{"type": "missing", "loc": ("body", name), "input": None,
                                       "msg": "a rescore needs it"} for name in missing])
    if body.items is not None:
        raise RequestValidationError([{"type": "extra_forbidden", "loc": ("body", "items"), "input": None,
                                       "msg": "a rescore scores the cohort's units: it takes no items"}])
    return {"ruleset": body.ruleset, "fiscal_year": body.fiscal_year, "region": body.region,
            "parent_id": str(body.parent_id) if body.parent_id else None,
            "assessment_kind": body.assessment_kind or "self", "evaluator": body.evaluator,
            "strict": bool(body.strict)}


_RESCORE_ONLY = ("ruleset", "fiscal_year", "region", "parent_id", "assessment_kind", "evaluator", "strict")


@router.post("/v1/jobs", dependencies=[require_in_route("assess")], operation_id="createJob",
             summary="Make a job: assessments of up to 100,000 items, or a rescore of a cohort", status_code=202,
             response_model=JobOut, responses=responses(403, 413, 422), openapi_extra=_request_body())
def create_job(raw: RawBody, session: SessionDep, request: Request) -> FastJSONResponse:
    """Answered at once (202, `Location` of the job); workers do the work in chunks. `assessments`:
    each item as in POST /v1/assessments:batch (the `submit` and `assess` scopes), in the body's `items`
    or as NDJSON (`Content-Type: application/x-ndjson`: one BatchItem a line, blank lines skipped;
    for large jobs: nothing is parsed before the job is stored). `rescore`: every unit of the caller's cohort (region, parent unit) scored from its
    current submission for the fiscal year under the ruleset (`assess`); a unit without one is refused
    as its item. Follow the job with GET /v1/jobs/{id}; its items' outcomes are in /v1/jobs/{id}/items."""
    principal = authorize(session, request)
    media = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    limit = get_settings().jobs_max_items
    params: dict[str, Any] = {}
    if media in NDJSON:
        kind = "assessments"
        lines = service.ndjson_lines(raw)
        if not lines:
            raise RequestValidationError([{"type": "missing", "loc": ("body",), "input": None,
                                           "msg": "no items: one JSON item a line"}])
    else:
        body = parse_body(JobCreate, raw, request.headers.get("content-type"))
        kind = body.kind
        if kind == "assessments":
            extra = [name for name in _RESCORE_ONLY if getattr(body, name) is not None]
            if body.items is None or extra:
                raise RequestValidationError(
                    [{"type": "missing", "loc": ("body", "items"), "input": None, "msg": "an assessments job needs items"}]
                    if body.items is None else
                    [{"type": "extra_forbidden", "loc": ("body", name), "input": None,
                      "msg": "only a rescore takes it"} for name in extra])
            if len(body.items) > limit:
                raise PayloadTooLarge(f"at most {limit} items per job")
            lines = [service.item_line(item) for item in body.items]
        else:
            params = _rescore_params(body)
            assert body.ruleset is not None
            assert body.fiscal_year is not None
            # 404/422 now, not in every item; the version is pinned when the job is made (NAME@VERSION)
            params["ruleset"] = rulesets.resolve(session, body.ruleset, body.fiscal_year).ref
            lines = service.cohort_units(session, body.fiscal_year, body.region, body.parent_id)
            if not lines:
                raise BadRequest("the cohort has no units", errors=[
                    {"pointer": "/region" if body.region else "/parent_id" if body.parent_id else "/kind",
                     "message": "no unit of the caller matches"}])
    if kind == "assessments" and "submit" not in principal.scopes:
        raise Forbidden("this key lacks the 'submit' scope (an assessments job stores submissions)")
    if len(lines) > limit:
        raise PayloadTooLarge(f"at most {limit} items per job")
    idempotency.guard(session, request, raw)  # a retry is answered again here, before any work
    job_id = service.create(session, kind, lines, params, request_id.current())
    request.state.created_id = job_id
    request.state.audit_status = 202
    job = service.get(session, job_id)
    response = FastJSONResponse(service.to_out(job), status_code=202, headers={"Location": f"/v1/jobs/{job_id}"})
    finish(session, request, response)  # the job, its chunks, its first task, the audit entry and the key's outcome
    return response


@router.get("/v1/jobs", dependencies=[READ], operation_id="listJobs", summary="List jobs",
            response_model=JobPage, responses=responses(400, 422))
def list_jobs(session: SessionDep, state: Annotated[JobState | None, Query()] = None,
              kind: Annotated[JobKind | None, Query()] = None, cursor: CursorQuery = None,
              limit: LimitQuery = 50) -> FastJSONResponse:
    """The caller's jobs, newest first, with cursor pagination."""
    after_raw = decode_cursor(cursor, 2)
    after = None
    if after_raw is not None:
        try:
            after = (datetime.fromisoformat(after_raw[0]), uuid.UUID(after_raw[1]))
        except (ValueError, TypeError, AttributeError):
            raise BadRequest("the cursor is not valid",
                             errors=[{"parameter": "cursor", "message": "not a cursor issued by this API"}]) from None
    rows, last = service.page(session, state, kind, after, limit)
    return FastJSONResponse({"items": [service.to_out(j) for j in rows],
                             "next_cursor": encode_cursor(list(last)) if last else None})


@router.get("/v1/jobs/{job_id:uuid}", dependencies=[READ], operation_id="getJob", summary="Get a job",
            response_model=JobOut, responses=responses(404))
def get_job(job_id: JobPath, session: SessionDep) -> FastJSONResponse:
    """State (queued, running, succeeded, failed, cancelled), counts, progress and times; the counts
    move as each chunk is stored."""
    return FastJSONResponse(service.to_out(service.get(session, job_id)))


@router.get("/v1/jobs/{job_id:uuid}/items", dependencies=[READ], operation_id="listJobItems",
            summary="The per-item results of a job", response_model=JobItemPage, responses=responses(400, 404, 422))
def list_job_items(job_id: JobPath, session: SessionDep,
                   outcome: Annotated[Literal["stored", "refused"] | None, Query()] = None,
                   cursor: CursorQuery = None, limit: LimitQuery = 100) -> FastJSONResponse:
    """In item order, those of the chunks done so far: a stored item's assessment (`assessment_id`,
    `location`, total, grade), a refused one's problem (its pointers under `/items/N`)."""
    after_raw = decode_cursor(cursor, 1)
    after = None
    if after_raw is not None:
        if not isinstance(after_raw[0], int) or isinstance(after_raw[0], bool):
            raise BadRequest("the cursor is not valid",
                             errors=[{"parameter": "cursor", "message": "not a cursor issued by this API"}])
        after = after_raw[0]
    rows, last = service.items(session, job_id, outcome, after, limit)
    return FastJSONResponse({"items": rows, "next_cursor": encode_cursor([last]) if last is not None else None})


@router.post("/v1/jobs/{job_id}:cancel", dependencies=[ASSESS], operation_id="cancelJob", summary="Cancel a job",
             response_model=JobOut, responses=responses(404, 409))
def cancel_job(job_id: JobPath, session: SessionDep) -> FastJSONResponse:
    """Stop the job between chunks: no chunk starts after this (one running now still stores its items).
    A job already cancelled answers as it is; one that has succeeded or failed gets 409."""
    return FastJSONResponse(service.to_out(service.cancel(session, job_id)))
