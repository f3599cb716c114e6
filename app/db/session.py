"""Engine and sessions. One session per request; the dependency owns the transaction."""

from __future__ import annotations

from functools import lru_cache

import orjson
from psycopg.types.json import set_json_loads
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from app.auth import scoping
from app.db import bounded, sql
from app.settings import Settings, get_settings


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    from app.db.embedded import ensure_running

    return ensure_running(settings.data_dir)


# psycopg's own JSON loader (fixed SQL, app.db.sql, reads json columns with it) parses with orjson too.
set_json_loads(orjson.loads)


def make_engine(url: str, settings: Settings, *, as_app_role: bool = True) -> Engine:
    """The service's engine. Its connections run as the application role (``JIXIAO_DB_APP_ROLE``,
    migration 0009), subject to PostgreSQL's row-level security: the role is a startup option of
    each connection (no round trip; ``RESET ROLE`` returns to it, not to the login role). The
    tenant of each transaction is set by app.auth.scoping, whose pool events also make sure no
    connection goes back to the pool carrying one. ``as_app_role=False``: the login role itself
    (the owner), for the operator CLI and the test fixtures."""
    engine = create_engine(
        url,
        json_serializer=sql.dumps,
        json_deserializer=orjson.loads,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        # No pre-ping round trip per request: when the database restarts, the first statement on a
        # stale connection fails (answered 503) and SQLAlchemy invalidates the whole pool, so the
        # service recovers by itself on the next request.
        pool_pre_ping=False,
        pool_recycle=1800,
        pool_timeout=settings.db_connect_timeout,
        connect_args={
            "connect_timeout": settings.db_connect_timeout,
            "options": f"-c statement_timeout={settings.db_statement_timeout_ms}" + (
                f" -c role={settings.db_app_role}" if as_app_role and settings.db_app_role else ""),
            "application_name": "jixiao",
            **bounded.tcp_args(url, settings.db_io_timeout_ms),
        },
    )
    if as_app_role:
        scoping.watch(engine)
    # Every wait for the server is bounded on the client too (a frozen database answers 503): app.db.bounded.
    event.listen(engine, "do_connect", bounded.connector(settings.db_io_timeout_ms))
    return engine


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    settings = get_settings()
    return make_engine(database_url(settings), settings)


@lru_cache(maxsize=1)
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False, autoflush=False)


@lru_cache(maxsize=1)
def get_owner_engine() -> Engine:
    """An engine as the login role (the owner in development: the embedded server's superuser),
    not subject to row-level security: for operator commands that span tenants (``jixiao keys
    list|revoke``) and test fixtures. The service never uses it."""
    settings = get_settings()
    return make_engine(database_url(settings), settings, as_app_role=False)


@lru_cache(maxsize=1)
def get_owner_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_owner_engine(), expire_on_commit=False, autoflush=False)
