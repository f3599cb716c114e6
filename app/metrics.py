"""Prometheus metrics (prometheus_client): ``GET /metrics`` in the text exposition format.

What an operator watches: requests by route template, method and status, their latency, the
requests in progress, the assessments stored (by route, status and grade), batch items stored
and refused, and the database connection pool. Labels are route templates and fixed words, never
ids, tenants, codes or other values a caller chooses, so the series stay few and leak nothing.

Several uvicorn worker processes: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory shared by
them (prometheus_client's multiprocess mode); ``/metrics`` then answers for all of them.
"""

from __future__ import annotations

import os
import time
from collections import Counter as Tally
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("jixiao_http_requests", "HTTP requests answered, by route template, method and status",
                   ["method", "route", "status"])
LATENCY = Histogram("jixiao_http_request_duration_seconds",
                    "Time from a request's arrival to the end of its response, by route template and method",
                    ["method", "route"],
                    buckets=(.0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))
IN_PROGRESS = Gauge("jixiao_http_requests_in_progress", "HTTP requests being answered", multiprocess_mode="livesum")
ASSESSMENTS = Counter("jixiao_assessments_stored", "Assessments scored and stored, by route, status and grade",
                      ["via", "status", "grade"])
BATCH_ITEMS = Counter("jixiao_batch_items", "Batch items answered: stored, or refused with a problem of their own",
                      ["outcome"])

WEBHOOK_ATTEMPTS = Counter(
    "jixiao_webhook_attempts",
    "Webhook delivery attempts made by this process's workers, by outcome (succeeded, http_error, timeout, "
    "connection_error, refused_destination) and what followed (delivered, retried, given_up, superseded)",
    ["outcome", "then"])
WEBHOOK_LATENCY = Histogram("jixiao_webhook_attempt_duration_seconds",
                            "Time from a webhook attempt's connection to the receiver's answer",
                            buckets=(.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))
WEBHOOK_ENDPOINTS_DISABLED = Counter("jixiao_webhook_endpoints_disabled",
                                     "Webhook endpoints disabled because their deliveries kept failing")
JOBS_CREATED = Counter("jixiao_jobs_created", "Jobs made (POST /v1/jobs), by kind", ["kind"])
JOBS_FINISHED = Counter("jixiao_jobs_finished", "Jobs ended, by kind and state (succeeded, failed, cancelled)",
                        ["kind", "state"])
JOB_DURATION = Histogram("jixiao_job_duration_seconds", "Time from a job's creation to its success or failure, by kind",
                         ["kind"], buckets=(.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600))
JOB_ITEMS = Counter("jixiao_job_items", "Job items done by the workers of this process: stored, or refused",
                    ["outcome"])

#: the route label of a request no route matched (any path: one series, not one per path)
UNMATCHED = "unmatched"


#: refused calls that no tenant can be told of: no key, or a key prefix nobody has (the audit log
#: keeps the refusals of known keys; one permanent row per anonymous attempt would only fill it)
ANONYMOUS_REFUSALS = Counter("jixiao_anonymous_refusals", "Calls refused with 401 without a known key, by reason",
                             ["reason"])


def record_assessment(via: str, status: str, grade: str | None) -> None:
    ASSESSMENTS.labels(via, status, grade or "none").inc()


def record_batch(items: Iterable[dict[str, Any]], via: str = "batch") -> None:
    """Count a committed batch's items (its answer's ``items``); ``via`` a job's chunk: ``job``."""
    stored: Tally[tuple[str, str]] = Tally()
    refused = 0
    for item in items:
        if item.get("status") == 201:
            stored[(item["assessment_status"], item.get("grade") or "none")] += 1
        else:
            refused += 1
    for (status, grade), n in stored.items():
        ASSESSMENTS.labels(via, status, grade).inc(n)
    if via != "batch":
        return  # a job's items are counted by JOB_ITEMS
    if stored:
        BATCH_ITEMS.labels("stored").inc(sum(stored.values()))
    if refused:
        BATCH_ITEMS.labels("refused").inc(refused)


def record_webhook_attempt(outcome: str, latency_ms: int | None, then: str) -> None:
    WEBHOOK_ATTEMPTS.labels(outcome, then).inc()
    if latency_ms is not None:
        WEBHOOK_LATENCY.observe(latency_ms / 1000)


class _WebhookBacklog(Collector):
    """Deliveries waiting for an attempt (every tenant's: a count only), read at scrape time from
    the database that every API and worker process shares."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from app.db import session

        if not session.get_engine.cache_info().currsize:
            return
        try:
            with session.get_engine().connect() as conn:
                pending = conn.exec_driver_sql("SELECT jixiao_webhook_backlog()").scalar()
        except Exception:  # noqa: BLE001 - no database, no figure: the rest of the page still answers
            return
        family = GaugeMetricFamily("jixiao_webhook_deliveries_pending",
                                   "Webhook deliveries waiting for their next attempt")
        family.add_metric([], int(pending or 0))
        yield family


class _PoolCollector(Collector):
    """The SQLAlchemy connection pool of this process, read at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from app.db import session

        if not session.get_engine.cache_info().currsize:
            return  # no engine yet: nothing to report, and a scrape does not create one
        pool: Any = session.get_engine().pool
        family = GaugeMetricFamily("jixiao_db_pool_connections", "Database connections of the pool, by state",
                                   labels=["state"])
        for state, read in (("checked_out", "checkedout"), ("idle", "checkedin"), ("overflow", "overflow")):
            method = getattr(pool, read, None)
            if method is not None:
                family.add_metric([state], max(0, int(method())))
        yield family


class _QueueCollector(Collector):
    """The job queue's tasks not finished yet (procrastinate's table, read at scrape time): by queue
    and status (todo: waiting, doing: being run by a worker)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from app.db import session

        if not session.get_engine.cache_info().currsize:
            return
        family = GaugeMetricFamily("jixiao_queue_tasks", "Queue tasks waiting (todo) or running (doing), by queue",
                                   labels=["queue", "status"])
        try:
            with session.get_engine().connect() as conn:
                rows = conn.exec_driver_sql(_QUEUE_DEPTH).all()
        except Exception:  # noqa: BLE001 - the database may be away: the scrape answers without it
            return
        seen = {(queue, status): n for queue, status, n in rows}
        for (queue, status), n in sorted(seen.items()):
            family.add_metric([queue, status], n)
        yield family


_QUEUE_DEPTH = ("SELECT queue_name, status::text, count(*) FROM procrastinate_jobs "
                "WHERE status IN ('todo', 'doing') GROUP BY queue_name, status")

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    REGISTRY.register(_PoolCollector())
    REGISTRY.register(_WebhookBacklog())
    REGISTRY.register(_QueueCollector())


def exposition() -> tuple[bytes, str]:
    """The metrics page and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(_WebhookBacklog())  # a database figure: the same in every process
        registry.register(_QueueCollector())  # read from the database: the same for every process
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Counts and times every HTTP request (outermost, so refusals and replays count too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        recorded = False

        def record() -> None:
            nonlocal recorded
            recorded = True
            route = scope.get("route")
            template = getattr(route, "path_format", None) or UNMATCHED
            method = scope["method"]
            REQUESTS.labels(method, template, str(status)).inc()
            LATENCY.labels(method, template).observe(time.perf_counter() - start)

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                record()  # the caller has the whole answer; later work (a refusal's audit entry) is not its wait

        IN_PROGRESS.inc()
        try:
            await self.app(scope, receive, watch)
        finally:
            IN_PROGRESS.dec()
            if not recorded:
                record()  # no complete answer (an error, or the client went away)
