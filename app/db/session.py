"""Engine and sessions. One session per request; the dependency owns the transaction."""

from __future__ import annotations

from functools import lru_cache

import orjson
from psycopg.types.json import set_json_loads
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from app.db import bounded, sql
from app.settings import Settings, get_settings


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    from app.db.embedded import ensure_running

    return ensure_running(settings.data_dir)


# psycopg's own JSON loader (fixed SQL, app.db.sql, reads json columns with it) parses with orjson too.
set_json_loads(orjson.loads)


def make_engine(url: str, settings: Settings) -> Engine:
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
            "options": f"-c statement_timeout={settings.db_statement_timeout_ms}",
            "application_name": "jixiao",
            **bounded.tcp_args(url, settings.db_io_timeout_ms),
        },
    )
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
