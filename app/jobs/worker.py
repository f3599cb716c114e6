"""Queue workers: ``jixiao worker`` (``make worker``) as a process of its own, or one inside the API
process (the app's lifespan, ``JIXIAO_JOBS_WORKER_IN_PROCESS``, on by default so that ``make serve``
alone does everything on one machine).

A worker takes tasks of every queue (job chunks, and whatever else is registered on
app.jobs.queue) and sends a heartbeat every ``JIXIAO_JOBS_HEARTBEAT_SECONDS``. A worker that dies
(killed, its machine gone) leaves its running tasks in procrastinate's ``doing`` state; every worker
looks for tasks whose worker has sent no heartbeat for ``JIXIAO_JOBS_STALLED_SECONDS`` (at its
start and then every heartbeat interval) and queues them again (:func:`retry_stalled`). A chunk's
work is one transaction (app.jobs.tasks), so the dead worker left nothing of it and the retry does
it whole.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from app.settings import get_settings

log = logging.getLogger("jixiao.jobs.worker")


async def retry_stalled() -> int:
    """Queue again the tasks of workers without a recent heartbeat; how many."""
    from app.jobs import queue

    settings = get_settings()
    manager = queue.app.job_manager
    await manager.prune_stalled_workers(settings.jobs_stalled_seconds)
    stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=settings.jobs_stalled_seconds))
    for job in stalled:
        log.warning("task %s of a worker without heartbeat for %ss: queued again", job.call_string,
                    settings.jobs_stalled_seconds)
        await manager.retry_job(job)
    return len(stalled)


async def _watch_stalled() -> None:
    interval = get_settings().jobs_heartbeat_seconds
    while True:
        try:
            await retry_stalled()
        except Exception:  # noqa: BLE001 - the database may be away; the next round tries again
            log.warning("could not look for stalled tasks", exc_info=True)
        await asyncio.sleep(interval)


def _options(in_process: bool) -> dict[str, Any]:
    settings = get_settings()
    return {"concurrency": settings.jobs_worker_concurrency, "name": "jixiao-in-process" if in_process else "jixiao",
            "update_heartbeat_interval": settings.jobs_heartbeat_seconds,
            "stalled_worker_timeout": settings.jobs_stalled_seconds,
            # the API process's own signal handling (uvicorn's) stays in charge there
            "install_signal_handlers": not in_process, "delete_jobs": "successful"}


async def run_async(*, in_process: bool = False, wait: bool = True) -> None:
    """Run a worker until it is stopped (cancelled, or SIGINT/SIGTERM for a process of its own)."""
    from app.jobs import queue  # procrastinate: imported by the processes that use it (~0.4 s)

    async with queue.app.open_async():
        watcher = asyncio.create_task(_watch_stalled(), name="jixiao-stalled-tasks")
        try:
            await queue.app.run_worker_async(wait=wait, **_options(in_process))
        finally:
            watcher.cancel()


def run() -> None:
    """``jixiao worker``: a worker process (blocks until SIGINT or SIGTERM; a task running then is
    finished first), serving its own metrics when ``JIXIAO_JOBS_WORKER_METRICS_PORT`` is set."""
    from app.api import request_id
    from app.assessments import workers

    request_id.configure_logging(get_settings().log_level)
    workers.score_in_process()  # one worker process per core, not a pool under each (see there)
    import app.assessments.service  # noqa: F401 - what the tasks run (imported lazily there), before the freeze
    import app.jobs.tasks  # noqa: F401
    from app.engine import builtin_registry

    builtin_registry()
    workers.freeze_heap()
    settings = get_settings()
    if settings.jobs_worker_metrics_port is not None:
        from prometheus_client import REGISTRY, start_http_server

        import app.metrics  # noqa: F401 - registers the service's collectors on REGISTRY

        start_http_server(settings.jobs_worker_metrics_port, addr=settings.jobs_worker_metrics_host, registry=REGISTRY)
        log.info("metrics on http://%s:%s/metrics", settings.jobs_worker_metrics_host, settings.jobs_worker_metrics_port)
    asyncio.run(run_async())


def start_in_process() -> asyncio.Task[None] | None:
    """The API process's own worker (the app's lifespan), unless turned off."""
    if not get_settings().jobs_worker_in_process:
        return None
    return asyncio.create_task(_in_process(), name="jixiao-in-process-worker")


async def _in_process() -> None:
    """The API's worker, started again after it stops on an error (the database away at the API's
    start, or lost): the API keeps serving meanwhile."""
    while True:  # ends when cancelled (the app's shutdown)
        try:
            await run_async(in_process=True)
            log.warning("the in-process queue worker stopped; starting it again in 5 s")
        except Exception:  # noqa: BLE001 - logged; retried after a pause
            log.warning("the in-process queue worker stopped; starting it again in 5 s", exc_info=True)
        await asyncio.sleep(5)


async def stop_in_process(task: asyncio.Task[None] | None) -> None:
    if task is None:
        return
    task.cancel()  # procrastinate stops fetching, waits for the running task, then unregisters
    try:
        await task
    except (asyncio.CancelledError, Exception):  # noqa: BLE001 - stopping: nothing more to do
        pass
