"""The jixiao API application."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from app.api import docs, idempotency, methods, openapi_headers, problems, ratelimit, request_id
from app.api.body_limit import BodyLimitMiddleware
from app.api.caching import ConditionalGetMiddleware
from app.api.examples import SCHEMA_EXAMPLES
from app.api.idempotency import IdempotencyMiddleware
from app.api.ratelimit import RateLimitMiddleware
from app.assessments import workers
from app.assessments.endpoints import router as assessments_router
from app.assessments.schemas import AssessmentCreate, BatchItem, BatchRequest
from app.auth.endpoints import router as access_router
from app.auth.middleware import AuditMiddleware, AuthenticateFirstMiddleware
from app.auth.tenants import router as tenants_router
from app.db.bounded import OneTimeoutPerRequest
from app.engine import builtin_registry
from app.engine.fileformat import RulesetFile
from app.engine.fileformat import examples as format_examples
from app.engine.project_format import ProjectRulesetFile
from app.jobs import worker as jobs_worker
from app.jobs.endpoints import router as jobs_router
from app.jobs.schemas import JobCreate
from app.metrics import MetricsMiddleware, exposition
from app.projects.endpoints import router as projects_router
from app.projects.schemas import ProjectBatchItem, ProjectBatchRequest
from app.reports.endpoints import router as reports_router
from app.rulesets.endpoints import router as rulesets_router
from app.rulesets.project_contract import examples as project_examples
from app.rulesets.schemas import ProjectScoreRequest, ScoreRequest
from app.settings import get_settings
from app.submissions.endpoints import router as submissions_router
from app.units.endpoints import router as units_router
from app.webhooks.endpoints import router as webhooks_router

VERSION = "1.0.0"
DESCRIPTION = """
Scores Chinese public-budget performance evaluations (部门整体支出绩效评价) against named,
versioned rulesets, stores every assessment immutably, and explains every point.

* Decimal values travel as JSON strings (`"93.97"`); amounts are in 万元; percentages are strings
  ending in `%`.
* Errors are `application/problem+json` (RFC 9457); invalid input lists each offending field as a
  JSON pointer in `errors`.
* Every `/v1` call needs `Authorization: Bearer <key>`; keys carry scopes (`read`, `submit`,
  `assess`, `admin`). Another tenant's records answer 404, exactly like records that do not exist.
* Every POST accepts `Idempotency-Key`: a successful outcome is stored with its effect (one
  transaction) for the API key that sent it, for 24 hours; a retry with the same key and body
  returns the first response (`Idempotent-Replayed: true`) and changes nothing; the same key with
  another body is refused with 422, and a retry while the first request is still running with 409
  (`Retry-After`). Refusals and failures store nothing: their retry runs afresh.
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    builtin_registry()  # fail fast on a broken ruleset file
    anyio.to_thread.current_default_thread_limiter().total_tokens = get_settings().threads
    workers.warm()  # worker processes start in the background (if not already running)
    purging = asyncio.create_task(_purge_idempotency()) if get_settings().idempotency_purge_minutes else None
    queue_worker = jobs_worker.start_in_process()  # JIXIAO_JOBS_WORKER_IN_PROCESS (app.jobs.worker)
    workers.freeze_heap()  # the start-up heap out of the cyclic collector's sight
    yield
    if purging is not None:
        purging.cancel()
    await jobs_worker.stop_in_process(queue_worker)
    if not get_settings().workers_outlive_app:
        workers.shutdown()  # in order, not by signal: no worker left behind, nothing for the resource tracker


async def _purge_idempotency() -> None:
    """Delete expired Idempotency-Key records every few minutes (every process does it; each
    deletion is a few index-ordered rows at a time, so they never wait on each other for long)."""
    log = logging.getLogger("jixiao.idempotency")
    while True:
        await asyncio.sleep(get_settings().idempotency_purge_minutes * 60)
        try:
            while await anyio.to_thread.run_sync(idempotency.purge) >= 1000:
                pass
        except Exception:  # noqa: BLE001 - the database may be away; the next round tries again
            log.warning("could not delete expired Idempotency-Key records", exc_info=True)


def create_app() -> FastAPI:
    settings = get_settings()
    request_id.configure_logging(settings.log_level)
    app = FastAPI(title="jixiao", version=VERSION, description=DESCRIPTION, lifespan=lifespan,
                  openapi_url="/openapi.json", docs_url=None, redoc_url=None)
    docs.install(app)  # /docs and /redoc with their assets served here: no CDN (intranets have no internet)
    problems.install(app)
    idempotency.install(app)
    methods.install(app)
    # Audit sees every outcome, including replays and refusals; metrics (outermost) count them all.
    # Innermost first: the idempotency middleware holds a response until its outcome is committed;
    # a change from an unknown key is refused before anything reads its body.
    app.add_middleware(ConditionalGetMiddleware)  # ETag and 304 on the routes' authorized answers
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(AuthenticateFirstMiddleware)
    app.add_middleware(AuditMiddleware)
    app.add_middleware(BodyLimitMiddleware)  # before anything reads a body (outside the audit: nobody is known yet)
    app.add_middleware(RateLimitMiddleware)  # before any work; a 429 is counted, not audited
    app.add_middleware(OneTimeoutPerRequest)  # outside all that reaches the database (app.db.bounded)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(request_id.middleware)  # outermost: every answer and log line has its id
    app.include_router(rulesets_router)
    app.include_router(units_router)
    app.include_router(submissions_router)
    app.include_router(assessments_router)
    app.include_router(reports_router)
    app.include_router(jobs_router)
    app.include_router(access_router)
    app.include_router(tenants_router)
    app.include_router(webhooks_router)
    app.include_router(projects_router)  # last: its paths are added at the end of the document

    @app.get("/healthz", operation_id="healthz", summary="Liveness", tags=["health"])
    def healthz() -> dict[str, str]:
        """The process is alive. Does not touch the database."""
        return {"status": "ok"}

    @app.get("/metrics", operation_id="metrics", summary="Prometheus metrics", tags=["health"],
             response_class=Response, responses={200: {
                 "description": "The Prometheus text exposition format: requests by route template, method "
                                "and status, their latency, requests in progress, assessments stored by "
                                "route, status and grade, batch items, the database connection pool, and "
                                "the process (CPU, memory, open files).",
                 "content": {"text/plain": {"schema": {"type": "string"}}}}})
    def metrics() -> Response:
        """Metrics for a Prometheus scraper. No key needed, like `/healthz`: the labels are route
        templates and fixed words, never ids, tenants or anything a caller sent."""
        body, content_type = exposition()
        return Response(body, media_type=content_type)

    @app.get("/readyz", operation_id="readyz", summary="Readiness", tags=["health"],
             responses=problems.responses())
    async def readyz() -> Any:
        """The database is reachable and its schema is at the migration head. Answers within
        ``JIXIAO_DB_IO_TIMEOUT_MS`` whatever the database does: the check runs in a thread of its
        own (never queued behind route threads stuck on the database), under that deadline."""
        bound = get_settings().db_io_timeout_ms
        try:
            # A limiter of its own: a check abandoned at the deadline ends by the database bounds
            # (app.db.bounded) without holding up the next probe.
            with anyio.fail_after(bound / 1000 if bound > 0 else None):
                head, current = await anyio.to_thread.run_sync(_schema_versions, abandon_on_cancel=True,
                                                               limiter=anyio.CapacityLimiter(1))
        except Exception:  # noqa: BLE001 - any failure (the deadline included) means "not ready"
            return problems.problem_response(503, "not-ready", "Not ready", "the database cannot be reached",
                                             headers={"Retry-After": "5"}, instance="/readyz")
        if current != head:
            return problems.problem_response(503, "not-ready", "Not ready",
                                             f"database schema is at {current}, expected {head}; run migrations",
                                             instance="/readyz")
        return JSONResponse({"status": "ready", "migration": current})

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        # Models the routes validate themselves (bodies read raw, items validated one by one; a
        # ruleset document by the loader, app.engine.fileformat, which gives every model an example).
        for model in (BatchItem, AssessmentCreate, BatchRequest, JobCreate, ProjectBatchItem, ProjectBatchRequest,
                      RulesetFile, ProjectRulesetFile, ScoreRequest, ProjectScoreRequest):
            # the project file's parts share names with the unit file's (BandSpec, GradeSpec): prefixed
            prefix = "ProjectFile" if model is ProjectRulesetFile else ""
            doc = model.model_json_schema(ref_template=f"#/components/schemas/{prefix}{{model}}")
            for name, sub in doc.pop("$defs", {}).items():
                if prefix:  # generators name a model by its title
                    sub["title"] = prefix + name
                components.setdefault(prefix + name, sub)
            components[model.__name__] = doc
        # Items are validated one by one (a bad item fails alone), but each one is a BatchItem.
        components["BatchRequest"]["properties"]["items"]["items"] = {"$ref": "#/components/schemas/BatchItem"}
        components["ProjectBatchRequest"]["properties"]["items"]["items"] = {
            "$ref": "#/components/schemas/ProjectBatchItem"}
        # A ruleset document is read raw and validated by the loader; it is a RulesetFile.
        document = components["RulesetDocument"]["properties"]["document"]
        components["RulesetDocument"]["properties"]["document"] = {
            "oneOf": [{"$ref": "#/components/schemas/RulesetFile"}, {"$ref": "#/components/schemas/ProjectRulesetFile"}],
            "description": document["description"]}
        # A whole-object example on every schema (app/api/examples.py) that has none of its own.
        for name, example in {**SCHEMA_EXAMPLES, **format_examples(), **project_examples()}.items():
            if name in components and "examples" not in components[name]:
                components[name]["examples"] = [example]
        schema["components"]["schemas"] = dict(sorted(components.items()))
        # Every error is application/problem+json (app.api.problems), including the 422 FastAPI
        # documents for any operation with parameters as its own HTTPValidationError JSON; every
        # body goes through the size limit (app.api.body_limit).
        problem_422 = problems.responses(422)[422]
        for item in schema["paths"].values():
            for op in item.values():
                for code, response in op["responses"].items():
                    content = response.get("content", {})
                    if code == "422" and problems.PROBLEM_JSON not in content:
                        response.update(description=problem_422["description"], content=dict(problem_422["content"]))
                    elif not code.startswith("2") and problems.PROBLEM_JSON in content:
                        for media in [m for m in content if m != problems.PROBLEM_JSON]:
                            content.pop(media)  # the route's own media type (JSON, JSON Schema …)
                if "requestBody" in op:
                    op["responses"].setdefault("413", {
                        "description": "The request body is larger than the service's limit (32 MiB by default)",
                        "content": dict(problem_422["content"])})
                    op["responses"] = dict(sorted(op["responses"].items()))
        for unused in ("HTTPValidationError", "ValidationError"):
            schema["components"]["schemas"].pop(unused, None)
        # Every POST goes through the idempotency middleware (app.api.idempotency).
        for item in schema["paths"].values():
            op = item.get("post")
            if op is None or "operator" in op.get("tags", ()):
                continue  # the operator's tenant routes store no outcomes (app.auth.tenants)
            params = op.setdefault("parameters", [])
            if not any(p.get("name") == "Idempotency-Key" for p in params):
                params.append(idempotency.OPENAPI_PARAMETER)
            problem = {problems.PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}}
            op["responses"].setdefault("409", {"description": idempotency.OPENAPI_409, "content": dict(problem)})
            op["responses"].setdefault("400", {"description": idempotency.OPENAPI_400, "content": dict(problem)})
            for code, response in op["responses"].items():
                if code.startswith("2"):
                    response.setdefault("headers", {})["Idempotent-Replayed"] = idempotency.OPENAPI_REPLAYED_HEADER
            op["responses"] = dict(sorted(op["responses"].items()))
        ratelimit.document(schema)
        openapi_headers.declare(schema)  # X-Request-Id, ETag/304, Location, Retry-After
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _schema_versions() -> tuple[str | None, str | None]:
    """(the migration head, the database's version)."""
    from app.db.session import get_engine

    head = _migration_head()
    with get_engine().connect() as conn:
        return head, conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _migration_head() -> str | None:
    from pathlib import Path

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from app.settings import ROOT

    # The source tree in development; the working directory in the container image.
    ini = next((p for p in (ROOT / "alembic.ini", Path.cwd() / "alembic.ini") if p.exists()), ROOT / "alembic.ini")
    cfg = Config(str(ini))
    return ScriptDirectory.from_config(cfg).get_current_head()


app = create_app()
