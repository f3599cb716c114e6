"""The queue task of a webhook delivery (registered on app.jobs.queue.app).

Its jobs are written in SQL, by ``jixiao_webhook_enqueue`` (migration 0011), in the transaction of
the event (or of the failed attempt before, or of a manual redelivery): queue ``webhooks``, task
``webhooks.deliver``, arguments ``delivery_id``, ``tenant_id``, ``attempt``. The work is
app.webhooks.delivery.attempt, run in a thread of the worker (it waits on the receiver).
"""

from __future__ import annotations

import uuid

from app.jobs.queue import app
from app.webhooks import delivery

#: the names migration 0011's SQL writes its jobs with
QUEUE, TASK = "webhooks", "webhooks.deliver"


@app.task(name=TASK, queue=QUEUE)
def deliver(delivery_id: str, tenant_id: str, attempt: int) -> None:
    delivery.attempt(uuid.UUID(delivery_id), uuid.UUID(tenant_id), attempt)
