"""Hand-written SQL for the hottest statements (key verification, the scoring lookups and inserts).

Every request verifies a key and every assessment reads a unit with its submission and writes a
row plus an audit entry. Built as ORM/Core statements, each of those spends most of its time
in SQLAlchemy (statement construction, cache keys, loader criteria, result processing), not in
PostgreSQL: ~0.3-1.5 ms against ~0.1 ms on the wire. Here they are fixed SQL strings run on the
driver cursor of the session's own connection, so they share its transaction and psycopg
prepares them after a few executions. Driver errors are translated exactly as SQLAlchemy does
for its own statements (``DBAPIError`` subclasses; a lost connection invalidates the pool and
answers 503), so callers and exception handlers cannot tell the difference.

Tenant scoping: these statements bypass the session's loader criteria (app.auth.scoping), so
each one spells out the same tenant condition itself; tests/auth covers both paths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

import orjson
import psycopg
from psycopg.types.json import Json, Jsonb
from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

Params = Sequence[Any] | Mapping[str, Any]


def dumps(value: Any) -> str:
    """JSON text for a ``%s::json`` parameter."""
    return orjson.dumps(value).decode()


def _driver(conn: Connection) -> psycopg.Connection[Any]:
    return conn.connection.driver_connection  # type: ignore[return-value]


def _raise(conn: Connection, statement: str, params: Params, exc: psycopg.Error) -> NoReturn:
    disconnect = conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, None)  # type: ignore[arg-type]
    if disconnect and not conn.invalidated:
        # What Connection._handle_dbapi_exception does: every pooled connection predates the
        # outage, so the pool drops them all and the next request connects afresh.
        conn.engine.pool._invalidate(conn.connection, exc)  # noqa: SLF001
        conn.invalidate(exc)
    raise DBAPIError.instance(statement, params, exc, psycopg.Error,
                              connection_invalidated=disconnect) from exc


def first(session: Session, statement: str, params: Params) -> tuple[Any, ...] | None:
    """The first row of a query (a plain tuple), in the session's transaction."""
    conn = session.connection()
    try:
        with _driver(conn).cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchone()
    except psycopg.Error as exc:
        _raise(conn, statement, params, exc)


def run(session: Session, statement: str, params: Params) -> None:
    """Execute a statement in the session's transaction."""
    conn = session.connection()
    try:
        with _driver(conn).cursor() as cur:
            cur.execute(statement, params)
    except psycopg.Error as exc:
        _raise(conn, statement, params, exc)


def run_and_commit(session: Session, statement: str, params: Params) -> None:
    """Execute a statement and COMMIT the session's transaction at the driver: for a route's last
    write. The session's own commit afterwards has nothing left to do at the driver (psycopg skips
    COMMIT when idle). If the statement fails, nothing is committed and the error is raised here.

    (psycopg's pipeline mode, sending both at once, was measured: on a local connection its
    Python overhead costs more than the round trip it saves.)"""
    conn = session.connection()
    driver = _driver(conn)
    try:
        with driver.cursor() as cur:
            cur.execute(statement, params)
        driver.commit()
    except psycopg.Error as exc:
        _raise(conn, statement, params, exc)


@contextmanager
def autocommit(session: Session) -> Iterator[None]:
    """The session's statements in autocommit mode: each is its own transaction, so psycopg sends
    no BEGIN and no COMMIT (a round trip each). Only for a unit of work whose reads need no common
    snapshot (at READ COMMITTED each statement takes its own anyway) and whose writes are a single
    statement, atomic by itself: POST /v1/assessments writes its row and audit entry in one."""
    conn = session.connection()
    driver = _driver(conn)
    driver.autocommit = True
    try:
        yield
    finally:
        try:
            driver.autocommit = False  # as the pool expects it back
        except psycopg.Error:  # a broken connection: the pool discards it
            pass


_TYPES: dict[tuple[str, tuple[str, ...]], list[str]] = {}


def _pg_types(model: type[Any], columns: tuple[str, ...]) -> list[str]:
    """The PostgreSQL type names of a model's columns, without modifiers: VARCHAR(64) -> varchar."""
    key = (model.__tablename__, columns)
    types = _TYPES.get(key)
    if types is None:
        pg = postgresql.dialect()  # type: ignore[no-untyped-call]
        types = [str(model.__table__.c[c].type.compile(dialect=pg)).split("(")[0].strip().lower() for c in columns]
        _TYPES[key] = types
    return types


def copy_rows(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> None:
    """Insert rows of a model's table (dicts with the same keys) with one binary COPY on the session's own
    connection, in its transaction. JSON columns take documents; every other value is written
    as its column's type (bytes for bytea).

    Binary, not text: the text format escapes every value (a 4 KB bytea becomes 8 KB of hex) on
    both sides; for an assessment row that cost the service ~60 µs and PostgreSQL ~80 µs more."""
    if not rows:
        return
    columns = list(rows[0])
    types = _pg_types(model, tuple(columns))
    documents: list[tuple[int, Callable[..., Any]]] = [
        (i, Jsonb if t == "jsonb" else Json) for i, t in enumerate(types) if t in {"json", "jsonb"}]
    conn = session.connection()
    names = ", ".join(f'"{c}"' for c in columns)
    statement = f'COPY "{model.__tablename__}" ({names}) FROM STDIN (FORMAT BINARY)'
    try:
        with _driver(conn).cursor() as cur, cur.copy(statement) as copy:
            copy.set_types(types)
            for row in rows:
                values = [row[c] for c in columns]
                for i, document in documents:
                    values[i] = document(values[i], dumps=dumps)
                copy.write_row(values)
    except psycopg.Error as exc:
        _raise(conn, statement, (), exc)
