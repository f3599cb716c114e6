"""The job queue: procrastinate on the service's own PostgreSQL (no other infrastructure).

Why procrastinate: its queue is tables and functions in the database we already run, its workers
take tasks with ``SELECT … FOR UPDATE SKIP LOCKED`` and are woken by LISTEN/NOTIFY, so any number
of worker processes on any number of machines share only PostgreSQL; a job can be deferred on an
external connection, i.e. inside the transaction of the request that makes it (the job's rows and
its first task commit together or not at all); and its workers send heartbeats, from which a dead
worker's running tasks are found and queued again (:func:`retry_stalled`). pgqueuer would fit the
database too, but has no deferral on a caller's connection.

Its schema (``procrastinate_*`` tables, types and functions) is created by Alembic (migration
0010, from the schema file of the pinned version; a later version's SQL migrations become later
Alembic revisions), never by ``procrastinate schema --apply``.

Connections: the database of ``DATABASE_URL`` (or the embedded server), as the service's role
(``JIXIAO_DB_APP_ROLE``), resolved when the pool opens. The queue's own statements (fetch,
finish, heartbeat) use procrastinate's pool; a task's work uses the service's engine
(app.db.session), where row-level security applies as in a request (app.jobs.tasks sets the
tenant of every transaction).

Other modules register tasks here: ``@app.task(...)`` on :data:`app`, and their module in
:data:`TASK_MODULES` so that every worker imports it.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import orjson
import procrastinate
from procrastinate.manager import JobManager
from procrastinate.sync_psycopg_connector import SyncPsycopgConnector
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.settings import get_settings

log = logging.getLogger("jixiao.jobs")

#: the modules whose tasks every worker knows (procrastinate imports them when a worker starts)
TASK_MODULES = ["app.jobs.tasks", "app.webhooks.tasks"]
#: the queue of job chunks (other modules may use queues of their own; a worker takes every queue)
QUEUE = "jobs"


def conninfo() -> str:
    """libpq's URL of the service's database (the embedded server is started if it is the one)."""
    from app.db.session import database_url

    return make_url(database_url(get_settings())).set(drivername="postgresql").render_as_string(hide_password=False)


def _connection_options() -> dict[str, Any]:
    settings = get_settings()
    options = f"-c role={settings.db_app_role}" if settings.db_app_role else ""
    return {"options": options, "application_name": "jixiao-queue"} if options else {"application_name": "jixiao-queue"}


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _connector() -> procrastinate.PsycopgConnector:
    # conninfo is a callable: resolved when the pool opens (settings may change in between, as in tests)
    return procrastinate.PsycopgConnector(conninfo=conninfo, kwargs=_connection_options(), min_size=1, max_size=4,
                                          json_dumps=_dumps, json_loads=orjson.loads)


app = procrastinate.App(connector=_connector(), import_paths=TASK_MODULES)


@lru_cache(maxsize=1)
def _in_transaction() -> JobManager:
    """A job manager that only ever runs on a caller's connection (never opens a pool of its own)."""
    return JobManager(SyncPsycopgConnector(json_dumps=_dumps, json_loads=orjson.loads))


def defer(session: Session, task: procrastinate.tasks.Task[Any, Any, Any], **kwargs: Any) -> int:
    """Queue ``task(**kwargs)`` in the session's open transaction: it exists for the workers once that
    transaction commits, and never if it rolls back (the effect and its tasks are one unit of work).
    The procrastinate job's id."""
    driver = session.connection().connection.driver_connection
    job = task.configure().job.evolve(task_kwargs=kwargs)
    deferred = _in_transaction().defer_job(job, connection=driver)
    assert deferred.id is not None
    return deferred.id

