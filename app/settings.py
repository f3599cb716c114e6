"""Service settings, read once from the environment (prefix ``JIXIAO_``)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JIXIAO_", env_file=".env", extra="ignore")

    #: PostgreSQL URL. Unset: an embedded PostgreSQL is started in ``data_dir``.
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    #: Where the embedded PostgreSQL keeps its data (when DATABASE_URL is unset).
    data_dir: Path = ROOT / ".data" / "pg"
    #: Environment name: development, test or production.
    env: str = "development"
    #: SQLAlchemy pool size and overflow per process.
    db_pool_size: int = 10
    #: Threads running the synchronous route code (and so holding database connections) at once.
    #: The work is mostly Python under one GIL: a few threads keep the database busy without the
    #: lock handoffs that dozens of contending threads cost.
    threads: int = 4
    db_max_overflow: int = 20
    #: Seconds to wait for a new database connection, or for a pooled one, before answering 503
    #: (libpq counts whole seconds, at least 2).
    db_connect_timeout: int = 2
    #: Milliseconds after which PostgreSQL cancels a statement (below ``db_io_timeout_ms``, so that
    #: a slow statement is cancelled by the server, its connection kept, before the client gives up).
    db_statement_timeout_ms: int = 1500
    #: Largest request body in bytes (larger: 413 before it is read). A full 1,000-unit batch is ~5 MB.
    max_body_bytes: int = 32 * 1024 * 1024
    #: Largest batch accepted by POST /v1/assessments:batch.
    batch_max_items: int = 1000
    #: Worker processes scoring batch items (0: score in the request thread). Batches are
    #: CPU-bound Python; separate processes let them use more than one core.
    batch_processes: int = Field(default_factory=lambda: min(4, os.cpu_count() or 1))
    #: Worker processes scoring single assessments while the service is busy (0: always inline).
    scoring_processes: int = Field(default_factory=lambda: min(2, os.cpu_count() or 1))
    #: Score a single assessment in a worker process once this many are being made at once in
    #: this process (0: never). Alone, a request scores inline (no inter-process hop); under
    #: load, scoring leaves the request process so its GIL serves the HTTP and database work.
    scoring_offload_at: int = 2
    #: Keep the worker processes (batch and scoring pools) when the app's lifespan ends. Off, a
    #: server's shutdown stops them in order; the test suite, which starts and ends an app
    #: lifespan per test in one process, keeps them instead of starting new ones each time.
    workers_outlive_app: bool = False
    #: Log level of the service.
    log_level: str = "INFO"
    #: Hours an Idempotency-Key's stored outcome answers retries; then it is deleted.
    idempotency_ttl_hours: int = Field(default=24, ge=1, le=24 * 30)
    #: Minutes between two deletions of expired Idempotency-Key records (0: never, e.g. a cron job does it).
    idempotency_purge_minutes: int = Field(default=10, ge=0)
    #: The role the service's statements run as: every pooled connection switches to it (SET ROLE)
    #: when it is opened. Migration 0009 creates it NOLOGIN, without BYPASSRLS, with the grants
    #: the service needs, so PostgreSQL's row-level security applies to everything the service
    #: runs. Empty: no SET ROLE, for a deployment that connects directly as a LOGIN role that is
    #: a member of it (``GRANT jixiao_app TO svc`` … and ``ALTER ROLE svc SET role = 'jixiao_app'``).
    db_app_role: str = "jixiao_app"
    #: Milliseconds the service waits for the database's answer to one operation (a statement, a
    #: COMMIT, a block of a COPY) before it closes the connection and answers 503: the bound for
    #: a database that stops answering, which no server-side timeout covers (app.db.bounded).
    #: ``/readyz`` answers within it as a whole. 0: no client-side bound.
    db_io_timeout_ms: int = 2000

    #: Networks (comma-separated CIDRs or addresses) webhooks may be delivered to although they are
    #: not public: a government intranet's private ranges, or 127.0.0.1/32 for a local receiver.
    #: Loopback, link-local, private and cloud metadata addresses are refused otherwise
    #: (app.webhooks.destinations), at registration and again at every delivery.
    webhook_allowed_networks: str = ""
    #: Fernet keys (comma-separated; the first encrypts, all decrypt) that encrypt the endpoints'
    #: signing secrets in the database (app.webhooks.secrets). Empty: a key kept in
    #: .data/webhook-secret.key, made on first use (one machine only: API and workers on several
    #: machines need the same keys).
    webhook_secret_keys: str = ""
    #: Seconds a delivery waits to connect, and then for each read of the receiver's answer.
    webhook_connect_timeout: float = Field(default=5.0, gt=0, le=60)
    webhook_read_timeout: float = Field(default=10.0, gt=0, le=120)
    #: Seconds between a failed attempt and the next (exponential, then capped; the last failure
    #: ends the delivery): 11 attempts over ~24 hours. The tests make it short.
    webhook_retry_schedule: list[int] = Field(
        default=[5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800], min_length=1, max_length=50)
    #: Hours the secret before a rotation still signs deliveries (beside the new one).
    webhook_previous_secret_hours: int = Field(default=24, ge=0, le=24 * 30)

    #: Jobs (app.jobs): ``make serve`` (the app's lifespan) runs one queue worker in the API process,
    #: so that one machine needs no second command; off where separate ``jixiao worker`` processes
    #: (any number, on any machines sharing the database) do the work.
    jobs_worker_in_process: bool = True
    #: Items of an ``assessments`` job (and units of a ``rescore``) done in one chunk: one
    #: transaction, one queue task. A killed worker loses at most one chunk's work, which is retried.
    jobs_chunk_size: int = Field(default=500, ge=1, le=5000)
    #: Largest ``assessments`` job (items) and ``rescore`` job (units).
    jobs_max_items: int = Field(default=100_000, ge=1)
    #: Largest POST /v1/jobs body (bytes); every other route keeps ``max_body_bytes``.
    jobs_max_body_bytes: int = 1024 * 1024 * 1024
    #: How many such bodies (NDJSON only; a JSON body keeps ``max_body_bytes``) one process receives
    #: at a time (app.api.body_limit); another is answered 503 with Retry-After.
    jobs_concurrent_uploads: int = Field(default=2, ge=1)
    #: Chunks one worker process runs at once (procrastinate's concurrency).
    jobs_worker_concurrency: int = Field(default=1, ge=1)
    #: A port on which ``jixiao worker`` serves its own ``/metrics`` (prometheus_client's server), so
    #: that every worker process is a scrape target: the job items, job durations and webhook
    #: attempts it did are counted in that process, not in the API's. None: not served.
    jobs_worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    #: The address it listens on (loopback by default; 0.0.0.0 for a scraper on another machine).
    jobs_worker_metrics_host: str = "127.0.0.1"
    #: Seconds between a worker's heartbeats, and without one after which its running chunks are
    #: taken for stalled (the worker died) and queued again (procrastinate's heartbeat).
    jobs_heartbeat_seconds: float = Field(default=10.0, gt=0)
    jobs_stalled_seconds: float = Field(default=30.0, gt=0)
    #: Attempts of a chunk that fails with an error (not a refused item: those are results) before
    #: its job fails.
    jobs_max_attempts: int = Field(default=5, ge=1)

    #: Rate limits on /v1 (app.api.ratelimit): 429 with Retry-After and RateLimit headers.
    rate_limit_enabled: bool = True
    #: Requests per API key, in the notation of the ``limits`` library (several with ";":
    #: "50/second;3000/minute"); counted once the key has been verified in the process.
    rate_limit_per_key: str = "3000/minute"
    #: Requests per source address without a verified key (none, unknown, forged, revoked).
    rate_limit_anonymous: str = "120/minute"
    #: The ``limits`` strategy: fixed-window (cheapest; a client may get up to twice a limit across
    #: a window's end), moving-window (exact; memory per request counted) or sliding-window-counter.
    rate_limit_strategy: Literal["fixed-window", "moving-window", "sliding-window-counter"] = "fixed-window"
    #: Processes serving the API (uvicorn's workers; uvicorn reads WEB_CONCURRENCY too): each counts
    #: on its own and allows this share of every limit.
    rate_limit_processes: int = Field(default_factory=lambda: int(os.environ.get("WEB_CONCURRENCY") or 1), ge=1)

    @field_validator("rate_limit_per_key", "rate_limit_anonymous")
    @classmethod
    def _limits(cls, v: str) -> str:
        """Fail at start on a limit the ``limits`` library cannot read."""
        from limits import parse_many

        parse_many(v)
        return v

    @field_validator("database_url")
    @classmethod
    def _driver(cls, v: str | None) -> str | None:
        """Accept postgres:// and postgresql:// URLs and use the psycopg 3 driver."""
        if not v:
            return None
        for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
            if v.startswith(prefix):
                return "postgresql+psycopg://" + v[len(prefix):]
        return v


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
