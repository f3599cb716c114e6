"""What the rest of the service is told when a job ends.

:func:`job_finished` is called by the chunk task that ends a job (all of its chunks done: ``succeeded``;
a chunk out of attempts: ``failed``), in that task's own transaction, with the tenant of the job set
for row-level security. Whatever it writes (an outbox row for the webhooks: ``job.succeeded`` /
``job.failed``) commits with the job's final state, or not at all. It must not do I/O outside the
database (deliveries are tasks of their own, queued on this transaction: app.jobs.queue.defer).

It emits ``job.succeeded`` / ``job.failed`` to the job's tenant (app.webhooks.events.emit: the
outbox row and its delivery tasks, written only when an endpoint listens).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session


def job_finished(session: Session, *, job_id: uuid.UUID, tenant_id: uuid.UUID, state: str,
                 summary: dict[str, Any]) -> None:
    """The job ``job_id`` of ``tenant_id`` has just ended in ``state`` (``succeeded`` or ``failed``);
    ``summary`` is its public representation (GET /v1/jobs/{id}). Runs in the ending transaction."""
    from app.webhooks import events

    events.emit(session, tenant_id, f"job.{state}", summary)
