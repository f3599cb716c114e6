"""Queue tasks of jobs (registered on app.jobs.queue.app; the work is app.jobs.service's)."""

from __future__ import annotations

import logging
import uuid

from procrastinate import JobContext, RetryStrategy
from sqlalchemy.orm import Session

from app.assessments.workers import paused_gc
from app.jobs import queue, service
from app.settings import get_settings

log = logging.getLogger("jixiao.jobs")


@queue.app.task(name="jobs.chunk", queue=queue.QUEUE, pass_context=True,
                retry=RetryStrategy(max_attempts=get_settings().jobs_max_attempts, exponential_wait=2))
def chunk(context: JobContext, job: str, tenant: str, chunk: int) -> str:
    """One chunk of a job: the next one queued, then this one's work in one transaction."""
    job_id, tenant_id = uuid.UUID(job), uuid.UUID(tenant)
    try:
        if not service.start_chunk(job_id, tenant_id, chunk):
            return "job over"
        with paused_gc():  # ends once run_chunk's items, rows and results are freed
            return service.run_chunk(job_id, tenant_id, chunk)
    except Exception as exc:
        attempts = context.job.attempts if context.job is not None else 0
        if attempts >= get_settings().jobs_max_attempts:  # procrastinate retries no more: the job fails
            log.exception("chunk %s of job %s failed %s times; the job fails", chunk, job_id, attempts + 1)
            service.fail(job_id, tenant_id, f"chunk {chunk} failed: {type(exc).__name__}: {exc}")
        raise


def queue_chunk(session: Session, job_id: uuid.UUID, tenant_id: uuid.UUID, n: int) -> None:
    """Queue chunk ``n`` of a job in the session's transaction."""
    queue.defer(session, chunk, job=str(job_id), tenant=str(tenant_id), chunk=n)
