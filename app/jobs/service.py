"""Jobs: made by a request, done chunk by chunk by queue workers, read back with their item outcomes.

Exactly once per item:

* the request's transaction writes the job, all of its chunks (the items as sent) and the queue
  task of chunk 0, with the request's audit entry and its Idempotency-Key's outcome: a crash at any
  instant leaves all of it or none;
* a chunk task first queues the next chunk (once: ``job_chunks.queued_at`` is set by the UPDATE that
  decides to queue it, in the transaction that queues it), so that another worker can take it while
  this one works: the job's chunks spread over every worker;
* then it does its chunk in one transaction that locks the chunk's row (a duplicate run of the same
  chunk waits for it, then finds it done), scores and stores its items through the batch path of
  POST /v1/assessments:batch (app.assessments.service.batch) or, for a rescore, POST
  /v1/assessments's (service.create), writes one ``job_items`` row per item (primary key (job, item):
  a retried chunk cannot store an item twice; a second attempt fails whole), marks the chunk done,
  adds its counts to the job, appends its audit entry, and COMMITs. A worker killed before the COMMIT
  leaves nothing of the chunk; procrastinate's task stays ``doing`` until a worker finds its worker's
  heartbeat stale and queues it again (app.jobs.worker);
* the chunk whose counts complete the job ends it (``succeeded``) and tells app.jobs.events in that
  same transaction.

Cancellation (``POST /v1/jobs/{id}:cancel``) sets the job's state; every chunk checks it before it
starts, so the job stops between chunks (a chunk running then commits its items).

Every transaction of a worker sets the job's tenant first (app.auth.scoping.set_tenant): row-level
security holds there as in a request; the task's arguments carry the tenant for that.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import metrics
from app.api.problems import Conflict, NotFound, ProblemError, Unprocessable
from app.auth import scoping
from app.auth.deps import AUDIT_COLUMNS, AUDIT_VALUES
from app.auth.keys import Principal
from app.db import packed, sql
from app.db.models import Job, JobChunk, JobItem, Unit
from app.settings import get_settings

log = logging.getLogger("jixiao.jobs")

FINISHED = ("succeeded", "failed", "cancelled")


# --------------------------------------------------------------------------- the items as stored


def _fragment(value: Any) -> Any:
    if isinstance(value, Decimal):  # a JSON number read exactly (app.api.deps.load_json): its own text
        return orjson.Fragment(str(value).encode())
    raise TypeError(type(value).__name__)


def _exact(value: Any) -> str:
    """JSON text of a parsed value, every number as read (integers beyond 64 bits included)."""
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + _exact(v) for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_exact(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def item_line(item: Any) -> bytes:
    """An item of a JSON body as one NDJSON line, exactly as parsed (numbers as sent)."""
    try:
        return orjson.dumps(item, default=_fragment)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits (refused later by its bound, never rounded)
        return _exact(item).encode()


def ndjson_lines(raw: bytes) -> list[bytes]:
    """The items of an NDJSON body: its non-blank lines, each as sent."""
    return [line for line in raw.split(b"\n") if line.strip()]


def _chunks(lines: list[bytes], size: int) -> list[bytes]:
    return [packed.pack_json(b"\n".join(lines[i:i + size])) for i in range(0, len(lines), size)]


def _lines(stored: bytes) -> list[bytes]:
    return packed.unpack_json(stored).split(b"\n")


# --------------------------------------------------------------------------- creation


_INSERT_JOB = """
INSERT INTO jobs (id, tenant_id, key_id, kind, state, params, request_id, items_total, chunk_size, chunks_total,
                  created_at)
VALUES (%(id)s, %(tenant_id)s, %(key_id)s, %(kind)s, 'queued', %(params)s::jsonb, %(request_id)s, %(items_total)s,
        %(chunk_size)s, %(chunks_total)s, %(created_at)s)"""


def create(session: Session, kind: str, lines: list[bytes], params: dict[str, Any],
           request_id: str | None) -> uuid.UUID:
    """Write a job, its chunks and the queue task of its first chunk in the session's transaction
    (the caller's: its audit entry and Idempotency-Key's outcome commit with them)."""
    from app.jobs import tasks

    principal: Principal = session.info["principal"]
    size = get_settings().jobs_chunk_size
    blobs = _chunks(lines, size)
    job_id, now = uuid.uuid4(), datetime.now(UTC)
    sql.run(session, _INSERT_JOB, {
        "id": job_id, "tenant_id": principal.tenant_id, "key_id": principal.key_id, "kind": kind,
        "params": sql.dumps(params), "request_id": request_id, "items_total": len(lines), "chunk_size": size,
        "chunks_total": len(blobs), "created_at": now})
    sql.copy_rows(session, JobChunk, [
        {"job_id": job_id, "chunk": n, "tenant_id": principal.tenant_id, "first_item": n * size, "items": blob,
         "queued_at": now if n == 0 else None} for n, blob in enumerate(blobs)])
    tasks.queue_chunk(session, job_id, principal.tenant_id, 0)
    metrics.JOBS_CREATED.labels(kind).inc()
    return job_id


def cohort_units(session: Session, fiscal_year: int, region: str | None, parent_id: uuid.UUID | None) -> list[bytes]:
    """The caller's units of a cohort (a rescore's items), by code: each as its id's text."""
    tid = scoping.current_tenant(session)
    stmt = select(Unit.id).where(Unit.tenant_id == tid).order_by(Unit.code, Unit.id)
    if region is not None:
        stmt = stmt.where(Unit.region == region)
    if parent_id is not None:
        stmt = stmt.where(Unit.parent_id == parent_id)
    del fiscal_year  # a unit without a submission for the year is an item too: refused with its reason
    return [str(u).encode() for u in session.scalars(stmt)]


# --------------------------------------------------------------------------- reading


def get(session: Session, job_id: uuid.UUID) -> Job:
    job = session.get(Job, job_id)  # scoped to the caller's tenant (and row-level security)
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job


def to_out(job: Job) -> dict[str, Any]:
    done = job.stored + job.refused
    percent = (Decimal(done * 100) / Decimal(job.items_total)).quantize(Decimal("0.1")) if job.items_total else Decimal(0)
    return {
        "id": str(job.id), "kind": job.kind, "state": job.state,
        "items": {"total": job.items_total, "stored": job.stored, "refused": job.refused},
        "progress": f"{percent}%", "chunks_total": job.chunks_total, "chunks_done": job.chunks_done,
        "params": job.params, "error": job.error, "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "items_url": f"/v1/jobs/{job.id}/items",
    }


def page(session: Session, state: str | None, kind: str | None, after: tuple[datetime, uuid.UUID] | None,
         limit: int) -> tuple[list[Job], tuple[str, str] | None]:
    from sqlalchemy import tuple_

    from app.db.query import keyset_page

    stmt = select(Job).order_by(Job.created_at.desc(), Job.id.desc())
    if state is not None:
        stmt = stmt.where(Job.state == state)
    if kind is not None:
        stmt = stmt.where(Job.kind == kind)
    if after is not None:
        stmt = stmt.where(tuple_(Job.created_at, Job.id) < tuple_(*after))
    return keyset_page(session, stmt, limit, lambda j: (j.created_at.isoformat(), str(j.id)))


def items(session: Session, job_id: uuid.UUID, outcome: str | None, after: int | None,
          limit: int) -> tuple[list[dict[str, Any]], int | None]:
    get(session, job_id)
    stmt = select(JobItem.item, JobItem.result).where(JobItem.job_id == job_id).order_by(JobItem.item)
    if outcome == "stored":
        stmt = stmt.where(JobItem.status == 201)
    elif outcome == "refused":
        stmt = stmt.where(JobItem.status != 201)
    if after is not None:
        stmt = stmt.where(JobItem.item > after)
    rows = session.execute(stmt.limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return [r.result for r in rows], (rows[-1].item if more else None)


_CANCEL = ("UPDATE jobs SET state = 'cancelled', finished_at = now() "
           "WHERE id = %s AND state IN ('queued', 'running') RETURNING id")


def cancel(session: Session, job_id: uuid.UUID) -> Job:
    """Stop the job between chunks: its state says so at once; chunks not started never run."""
    job = get(session, job_id)
    if job.state in ("succeeded", "failed"):
        raise Conflict(f"job {job_id} has already {job.state}; it cannot be cancelled")
    if sql.first(session, _CANCEL, (job_id,)) is not None:
        metrics.JOBS_FINISHED.labels(job.kind, "cancelled").inc()
    session.expire(job)
    return get(session, job_id)


# --------------------------------------------------------------------------- a worker's chunk


_AUDIT = f"INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES ({AUDIT_VALUES})"

_JOB = "SELECT kind, state, key_id, params, request_id, chunks_total FROM jobs WHERE id = %s"
_START = "UPDATE jobs SET state = 'running', started_at = now() WHERE id = %s AND state = 'queued'"
_QUEUE_NEXT = ("UPDATE job_chunks SET queued_at = now() WHERE job_id = %s AND chunk = %s AND queued_at IS NULL "
               "RETURNING chunk")
_CHUNK = "SELECT first_item, items, done_at FROM job_chunks WHERE job_id = %s AND chunk = %s FOR UPDATE"
_CHUNK_DONE = "UPDATE job_chunks SET done_at = now() WHERE job_id = %s AND chunk = %s"
_COUNT = """
UPDATE jobs SET stored = stored + %(stored)s, refused = refused + %(refused)s, chunks_done = chunks_done + 1,
       state = CASE WHEN chunks_done + 1 = chunks_total AND state = 'running' THEN 'succeeded' ELSE state END,
       finished_at = CASE WHEN chunks_done + 1 = chunks_total AND state = 'running' THEN now() ELSE finished_at END
WHERE id = %(job)s
RETURNING state, finished_at IS NOT NULL AND chunks_done = chunks_total AND state = 'succeeded', created_at, kind"""


@contextmanager
def _transaction(tenant_id: uuid.UUID) -> Iterator[Session]:
    """One transaction of a worker, as the job's tenant (row-level security), committed at the end."""
    from app.db.session import get_sessionmaker

    with get_sessionmaker()(info={"principal": None}) as session, session.begin():
        scoping.set_tenant(session, tenant_id)  # first: every statement of the transaction sees it
        yield session


def start_chunk(job_id: uuid.UUID, tenant_id: uuid.UUID, chunk: int) -> bool:
    """Before a chunk's work (its own short transaction): the job is running, and the next chunk is
    queued (exactly once). False when the job is over (cancelled, failed): nothing more to do."""
    from app.jobs import tasks

    with _transaction(tenant_id) as session:
        row = sql.first(session, _JOB, (job_id,))
        if row is None or row[1] in FINISHED:
            return False
        sql.run(session, _START, (job_id,))
        if chunk + 1 < row[5] and sql.first(session, _QUEUE_NEXT, (job_id, chunk + 1)) is not None:
            tasks.queue_chunk(session, job_id, tenant_id, chunk + 1)
    return True


def run_chunk(job_id: uuid.UUID, tenant_id: uuid.UUID, chunk: int) -> str:
    """A chunk's work, in one transaction (see the module's docstring); what happened, for the log."""
    with _transaction(tenant_id) as session:
        found = sql.first(session, _CHUNK, (job_id, chunk))  # locked until COMMIT: one run at a time
        if found is None:
            return "no such chunk"
        first, stored_items, done_at = found
        if done_at is not None:
            return "already done"
        job = sql.first(session, _JOB, (job_id,))  # read once the chunk is ours: a cancellation meanwhile counts
        assert job is not None
        kind, state, key_id, params, request_id, _ = job
        if state in FINISHED:
            return f"job {state}"
        # the job's key, as its requests: app.assessments.service reads the tenant from it
        session.info["principal"] = Principal(tenant_id=tenant_id, key_id=key_id, scopes=frozenset(("submit", "assess")))
        lines = _lines(bytes(stored_items))
        if kind == "assessments":
            results = _assessments(session, lines, first)
        else:
            results = _rescore(session, lines, first, params)
        rows = [{"job_id": job_id, "item": r["index"], "tenant_id": tenant_id, "status": r["status"],
                 "assessment_id": r["assessment_id"], "result": _json_ready(r)} for r in results]
        sql.copy_rows(session, JobItem, rows)  # primary key (job, item): never twice
        sql.run(session, _CHUNK_DONE, (job_id, chunk))
        stored = sum(1 for r in results if r["status"] == 201)
        refused = len(results) - stored
        sql.run(session, _AUDIT, {
            "audit_tenant": tenant_id, "audit_key": key_id, "audit_method": "WORKER", "audit_route": "jobs.chunk",
            "audit_path": f"/v1/jobs/{job_id}",
            "audit_ids": sql.dumps({"job_id": str(job_id), "chunk": chunk, "first_item": first,
                                    "stored": stored, "refused": refused}),
            "audit_status": 200, "audit_request_id": request_id, "audit_resource_type": "job",
            "audit_resource_id": str(job_id), "audit_unit": None})
        counted = sql.first(session, _COUNT, {"stored": stored, "refused": refused, "job": job_id})
        assert counted is not None
        final_state, finished_now, created_at, kind = counted
        if finished_now:
            _finished(session, job_id, tenant_id, final_state)
    metrics.JOB_ITEMS.labels("stored").inc(stored)
    metrics.JOB_ITEMS.labels("refused").inc(refused)
    if finished_now:
        metrics.JOBS_FINISHED.labels(kind, final_state).inc()
        metrics.JOB_DURATION.labels(kind).observe((datetime.now(UTC) - created_at).total_seconds())
    return f"{stored} stored, {refused} refused"


def _finished(session: Session, job_id: uuid.UUID, tenant_id: uuid.UUID, state: str) -> None:
    from app.jobs import events

    job = session.get(Job, job_id, populate_existing=True)
    assert job is not None
    events.job_finished(session, job_id=job_id, tenant_id=tenant_id, state=state, summary=to_out(job))


_FAIL = ("UPDATE jobs SET state = 'failed', error = %s, finished_at = now() "
         "WHERE id = %s AND state IN ('queued', 'running') RETURNING kind")


def fail(job_id: uuid.UUID, tenant_id: uuid.UUID, error: str) -> None:
    """A chunk is out of attempts: the job fails (its stored chunks stay stored)."""
    with _transaction(tenant_id) as session:
        row = sql.first(session, _FAIL, (error[:2000], job_id))
        if row is not None:
            _finished(session, job_id, tenant_id, "failed")
    if row is not None:
        metrics.JOBS_FINISHED.labels(row[0], "failed").inc()


def _json_ready(result: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in result.items()}


def _assessments(session: Session, lines: list[bytes], first: int) -> list[dict[str, Any]]:
    """The chunk's items through the batch path (app.assessments.service.batch)."""
    from app.api.deps import JsonBodyError, load_json
    from app.assessments import service as assessments

    items: list[dict[str, Any] | ProblemError] = []
    for line in lines:
        try:
            items.append(load_json(line))
        except JsonBodyError as exc:
            items.append(Unprocessable("the item is not valid JSON", errors=[{"pointer": exc.pointer, "message": exc.message}]))
        except orjson.JSONDecodeError as exc:
            items.append(Unprocessable("the item is not JSON", errors=[{"pointer": "", "message": str(exc)}]))
    outcome = assessments.batch(session, items, first)
    metrics.record_batch(outcome["items"], via="job")
    return outcome["items"]  # type: ignore[no-any-return]


def _rescore(session: Session, lines: list[bytes], first: int, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Each unit scored from its current submission, as POST /v1/assessments does (service.create)."""
    from app.assessments import service as assessments
    from app.assessments.schemas import AssessmentCreate
    from app.engine.labels import grade_code

    results: list[dict[str, Any]] = []
    for n, line in enumerate(lines):
        index = first + n
        result: dict[str, Any] = {"index": index, "status": 0, "unit_id": None, "assessment_id": None,
                                  "location": None, "total": None, "grade": None, "grade_code": None,
                                  "assessment_status": None, "problem": None}
        unit_id = uuid.UUID(line.decode())
        result["unit_id"] = unit_id
        body = AssessmentCreate(unit_id=unit_id, fiscal_year=params["fiscal_year"], ruleset=params["ruleset"],
                                kind=params["assessment_kind"], evaluator=params["evaluator"],
                                strict=params["strict"])
        try:
            row = assessments.create(session, body, commit=False)
        except ProblemError as exc:
            if exc.status >= 500:  # the database, not the unit: the chunk fails whole and is retried
                raise
            result.update(status=exc.status, problem=assessments.item_problem(exc, index))
        else:
            total = _total(row.breakdown)
            result.update(status=201, assessment_id=row.id, location=f"/v1/assessments/{row.id}", total=total,
                          grade=row.grade, grade_code=grade_code(row.grade), assessment_status=row.status)
            metrics.record_assessment("job", row.status, row.grade)
        results.append(result)
    return results


def _total(breakdown: bytes) -> str:
    total: str = orjson.loads(breakdown)["total"]
    return total

