"""Test set-up: a throwaway database on a real PostgreSQL, migrated to head.

The server is the embedded one (started from the pip-installed wheel into
.data/pg) or the one ``DATABASE_URL`` names. Each test session creates its own
database ``jixiao_test_<pid>`` and drops it at the end; every test starts from
empty tables (TRUNCATE), so tests never see each other's rows.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
# Every test starts and ends an app lifespan: the worker processes stay for the whole session
# instead of being stopped and started again each time (tests/api/test_batch_workers.py checks
# the shutdown a server makes).
os.environ.setdefault("JIXIAO_WORKERS_OUTLIVE_APP", "1")
# Rate limits would refuse the suite's bursts; tests/api/test_ratelimit.py turns them on for its own app.
os.environ.setdefault("JIXIAO_RATE_LIMIT_ENABLED", "0")
# The webhook tests' receivers listen on 127.0.0.1 (loopback is refused otherwise: app.webhooks.destinations).
os.environ.setdefault("JIXIAO_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.1/32")
# No queue worker in each test's app: tests of jobs run workers of their own (tests/jobs).
os.environ.setdefault("JIXIAO_JOBS_WORKER_IN_PROCESS", "0")
TABLES = ("webhook_attempts", "webhook_deliveries", "webhook_events", "webhook_endpoints",
          "job_items", "job_chunks", "jobs", "procrastinate_events", "procrastinate_periodic_defers",
          "procrastinate_jobs", "procrastinate_workers", "idempotency_keys", "operator_keys", "engagements", "assessments", "project_submissions", "projects", "submissions", "units", "rulesets", "audit_log",
          "api_keys", "tenants")


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        from app.settings import Settings

        return Settings(database_url=url).database_url or url
    from app.db.embedded import ensure_running

    return ensure_running(ROOT / ".data" / "pg")


_BASE_URL = make_url(_server_url())
_TEST_DB = f"jixiao_test_{os.getpid()}"
_TEST_URL = _BASE_URL.set(database=_TEST_DB)


def _admin():  # type: ignore[no-untyped-def]
    return create_engine(_BASE_URL.set(database="postgres"), isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session", autouse=True)
def database() -> Iterator[str]:
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{_TEST_DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{_TEST_DB}"'))
    url = _TEST_URL.render_as_string(hide_password=False)
    os.environ["DATABASE_URL"] = url
    from app.settings import get_settings

    get_settings.cache_clear()
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")
    yield url
    from app.db.session import get_engine, get_owner_engine

    get_engine().dispose()
    get_owner_engine().dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{_TEST_DB}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def db_engine(database: str):  # type: ignore[no-untyped-def]
    from app.db.session import get_owner_engine

    # the owner (a superuser here), not the service's role: row-level security does not apply, so
    # tests may read and TRUNCATE every tenant's rows (the app runs as JIXIAO_DB_APP_ROLE)
    engine = get_owner_engine()
    with engine.begin() as conn:
        # The audit log is append-only (a trigger refuses TRUNCATE); between tests only, lift it.
        conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))
        conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
    return engine


def make_key(tenant: str, scopes: list[str]) -> tuple[str, str]:
    """(tenant id, key) for a tenant (created when new) with the given scopes."""
    from app.auth.keys import create_key, get_or_create_tenant
    from app.db.session import get_sessionmaker

    with get_sessionmaker()() as session, session.begin():
        t = get_or_create_tenant(session, tenant)
        _, key = create_key(session, t.id, f"test {','.join(scopes)}", scopes)
        return str(t.id), key


ALL_SCOPES = ["read", "submit", "assess", "admin"]


@pytest.fixture
def admin_key(db_engine) -> str:  # type: ignore[no-untyped-def]
    return make_key("tenant-a", ALL_SCOPES)[1]


@pytest.fixture
def client(db_engine, admin_key):  # type: ignore[no-untyped-def]
    """The app through httpx, as tenant-a with every scope."""
    from fastapi.testclient import TestClient

    from app.main import app

    with TestClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {admin_key}"}) as c:
        yield c


@pytest.fixture
def anonymous(db_engine):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from app.main import app

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
