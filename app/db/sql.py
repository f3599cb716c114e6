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
each one spells out the same tenant condition itself; tests/auth covers both paths. PostgreSQL's
row-level security (migration 0009) covers them exactly like the ORM: in a transaction, the
tenant is set by app.auth.scoping for the whole transaction; in autocommit mode (POST
/v1/assessments, where each statement is its own transaction) each statement carries it for its
own transaction, at whose end PostgreSQL reverts it, so nothing stays on the pooled connection:
:func:`first_with_key` sends ``set_config('app.tenant_id', …, true)`` and its read in one
pipeline (one round trip, one implicit transaction), :func:`run_in_tenant` makes the setting
part of its write (:func:`writes_in_tenant`); tests/db/test_rls.py covers them.
"""

from __future__ import annotations

import hashlib
import re
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
            apply_pending_tenant(conn.info, cur)
            cur.execute(statement, params)
            return cur.fetchone()
    except psycopg.Error as exc:
        _raise(conn, statement, params, exc)


def run(session: Session, statement: str, params: Params) -> None:
    """Execute a statement in the session's transaction."""
    run_on(session.connection(), statement, params)


def run_on(conn: Connection, statement: str, params: Params) -> None:
    """Execute a statement on a connection (in its transaction, if any)."""
    try:
        with _driver(conn).cursor() as cur:
            apply_pending_tenant(conn.info, cur)
            cur.execute(statement, params)
    except psycopg.Error as exc:
        _raise(conn, statement, params, exc)


def run_and_commit(session: Session, statement: str, params: Params) -> None:
    """Execute a statement and COMMIT the session's transaction at the driver: for a route's last
    write. The session's own commit afterwards has nothing left to do at the driver (psycopg skips
    COMMIT when idle). If the statement fails, nothing is committed and the error is raised here.
    (In autocommit mode, where the statement would run without the request's tenant, the hot
    path uses :func:`run_in_tenant`.)

    (psycopg's pipeline mode, sending both at once, was measured: on a local connection its
    Python overhead costs more than the round trip it saves.)"""
    conn = session.connection()
    driver = _driver(conn)
    try:
        with driver.cursor() as cur:
            apply_pending_tenant(conn.info, cur)
            cur.execute(statement, params)
        driver.commit()
    except psycopg.Error as exc:
        _raise(conn, statement, params, exc)


# --- The tenant PostgreSQL's row-level security sees (migration 0009, app.auth.scoping) ---------

#: for the rest of the transaction (PostgreSQL reverts it at COMMIT or ROLLBACK)
SET_TENANT_LOCAL = "SELECT set_config('app.tenant_id', %s, true)"
_SET_TENANT_SESSION = "SELECT set_config('app.tenant_id', %s, false)"
#: keys of a pooled connection's ``info``: the tenant to set on the connection before its next
#: statement in autocommit mode, and the tenant set on it (to be reset before it is pooled again)
PENDING_TENANT, SESSION_TENANT = "jixiao_pending_tenant", "jixiao_session_tenant"


def apply_pending_tenant(info: dict[Any, Any], cursor: Any) -> None:
    """In autocommit mode each statement is its own transaction, which a transaction-local
    setting would not outlive: a statement other than :func:`first_with_key` and
    :func:`run_in_tenant` (an ORM fallback of POST /v1/assessments) gets the tenant set on the
    connection first, once. The pool's checkin (:func:`reset_tenant`) takes it off again."""
    pending = info.get(PENDING_TENANT)
    if pending is not None and info.get(SESSION_TENANT) != pending and cursor.connection.autocommit:
        info[SESSION_TENANT] = pending  # first: a failure still resets it at checkin
        cursor.execute(_SET_TENANT_SESSION, (pending,))


def reset_tenant(dbapi_connection: Any, record: Any) -> None:
    """Pool checkin: no connection goes back to the pool carrying a tenant (only a connection
    that :func:`apply_pending_tenant` set one on costs a round trip here)."""
    info = record.info
    info.pop(PENDING_TENANT, None)
    if info.pop(SESSION_TENANT, None) is None or dbapi_connection is None:
        return
    try:
        was = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        dbapi_connection.execute(_SET_TENANT_SESSION, ("",))
        dbapi_connection.autocommit = was
    except psycopg.Error as exc:  # never pooled with a tenant: this connection is dropped instead
        record.invalidate(exc)


def _in_tenant(conn: Connection, statement: str, head: str,
               args: Mapping[str, Any]) -> tuple[tuple[Any, ...] | None, tuple[Any, ...] | None]:
    """Run ``head`` (which sets the tenant for its transaction) and then ``statement``: the first
    row of each. In autocommit mode both go in one pipeline with one Sync: PostgreSQL runs the
    statements before a Sync as one implicit transaction, which the setting ends with, and the
    pair costs one round trip (the results are read after the pipeline's Sync: reading them
    inside would cost a Flush round trip more). In a transaction the setting lasts until its
    end anyway: two statements."""
    driver = _driver(conn)
    with driver.cursor() as cur, driver.cursor() as cur2:
        if driver.autocommit:
            with driver.pipeline():
                cur.execute(head, args)
                cur2.execute(statement, args)
        else:
            cur.execute(head, args)
            cur2.execute(statement, args)
        return cur.fetchone(), (cur2.fetchone() if cur2.description is not None else None)


#: A key's row by its prefix, before any tenant is known (jixiao_key, migration 0009: the one
#: lookup row-level security lets through): app.auth.keys.KEY_COLUMNS (the tenant's suspension
#: last), then the setting of the key's tenant for the transaction.
KEY_LOOKUP = ("SELECT k.id, k.tenant_id, k.secret_hash, k.scopes, k.expires_at, k.revoked_at, "
              "CASE WHEN t.suspended_at IS NOT NULL THEN coalesce(t.suspended_reason, 'suspended') END, "
              "set_config('app.tenant_id', k.tenant_id::text, true) "
              "FROM jixiao_key(%(jx_prefix)s) k JOIN tenants t ON t.id = k.tenant_id")
#: the number of key columns (app.auth.keys.KEY_COLUMNS) before the setting
KEY_WIDTH = 7


def first_with_key(session: Session, prefix: str, statement: str,
                   params: Mapping[str, Any]) -> tuple[tuple[Any, ...] | None, tuple[Any, ...] | None]:
    """The row of the key with ``prefix`` (app.auth.keys.KEY_COLUMNS, through the SECURITY
    DEFINER lookup of migration 0009; None if there is none) and the first row of ``statement``
    run as that key's tenant: one round trip in autocommit mode. The tenant is the key's before
    its secret is checked (app.auth.deps.authorize), as when the same lookup was joined to the
    key: a failing check discards the second row, and the setting ends with the pipeline."""
    conn = session.connection()
    args = {**params, "jx_prefix": prefix}
    try:
        key, row = _in_tenant(conn, statement, KEY_LOOKUP, args)
    except psycopg.Error as exc:
        _raise(conn, statement, args, exc)
    return (key[:KEY_WIDTH] if key is not None else None), row


_VALUES = re.compile(r"\bVALUES \(((?:[^()]|%\(\w+\)s)*)\)")  # placeholders %(x)s are the only parentheses
_WRITES_IN_TENANT: dict[str, str] = {}


def writes_in_tenant(statement: str) -> str:
    """An INSERT statement (its rows given as ``VALUES (…)``, CTEs included) that first sets the
    tenant ``%(jx_tenant)s`` for its own transaction, as one statement: each row is selected from
    the one-row CTE that calls set_config, so the setting is made before any row exists, and the
    policies' WITH CHECK, evaluated on each row once formed, see it. (For a read this ordering
    would not hold: a scan's conditions may be evaluated before anything else of the statement;
    :func:`first_with_key` sends its setting as a statement of its own.)"""
    written = _WRITES_IN_TENANT.get(statement)
    if written is None:
        body = statement.strip()
        head = "WITH jixiao_tenant AS MATERIALIZED (SELECT set_config('app.tenant_id', %(jx_tenant)s, true))"
        if body.startswith("WITH "):
            body = head + ",\n" + body[len("WITH "):]
        else:
            body = head + "\n" + body
        written, rows = _VALUES.subn(r"SELECT \1 FROM jixiao_tenant", body)
        if not rows:  # a row not selected from it would be checked without the setting
            raise ValueError(f"not an INSERT … VALUES (…) statement: {statement[:80]}")
        _WRITES_IN_TENANT[statement] = written
    return written


def run_in_tenant(session: Session, tenant_id: Any, statement: str, params: Mapping[str, Any]) -> None:
    """Execute the INSERT ``statement`` as ``tenant_id`` (:func:`writes_in_tenant`: one statement,
    one round trip) and COMMIT (nothing to commit in autocommit mode): for a route's last write,
    as :func:`run_and_commit`."""
    conn = session.connection()
    written = writes_in_tenant(statement)
    args = {**params, "jx_tenant": str(tenant_id)}
    driver = _driver(conn)
    try:
        with driver.cursor() as cur:
            cur.execute(written, args)
        driver.commit()
    except psycopg.Error as exc:
        _raise(conn, written, args, exc)


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


_STAGING: dict[tuple[str, tuple[str, ...]], str] = {}


def copy_rows(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> None:
    """Insert rows of a model's table (dicts with the same keys) with one binary COPY on the session's own
    connection, in its transaction. JSON columns take documents; every other value is written
    as its column's type (bytes for bytea).

    Binary, not text: the text format escapes every value (a 4 KB bytea becomes 8 KB of hex) on
    both sides; for an assessment row that cost the service ~60 µs and PostgreSQL ~80 µs more.

    PostgreSQL refuses COPY FROM into a table under row-level security (migration 0009) for a
    role it applies to, so the rows are copied into a temporary table of the same columns (no
    row-level security: it is the session's own), created once per transaction and dropped at
    its end, and moved from there by one INSERT … SELECT, which the table's policies check like
    any other insert (its WITH CHECK: a row of another tenant fails the whole statement)."""
    if not rows:
        return
    columns = list(rows[0])
    types = _pg_types(model, tuple(columns))
    documents: list[tuple[int, Callable[..., Any]]] = [
        (i, Jsonb if t == "jsonb" else Json) for i, t in enumerate(types) if t in {"json", "jsonb"}]
    conn = session.connection()
    table = model.__tablename__
    names = ", ".join(f'"{c}"' for c in columns)
    staging = _STAGING.get((table, tuple(columns)))
    if staging is None:  # one name per table and column list, the same in every thread
        digest = hashlib.blake2s(",".join(columns).encode(), digest_size=4).hexdigest()
        staging = _STAGING[(table, tuple(columns))] = f"jixiao_copy_{table}_{digest}"
    # the staging tables of this transaction (a new transaction gets a new Transaction object)
    created: tuple[Any, set[str]] | None = conn.info.get("jixiao_staging")
    if created is None or created[0] is not conn.get_transaction():
        created = conn.info["jixiao_staging"] = (conn.get_transaction(), set())
    statement = f'COPY "{staging}" ({names}) FROM STDIN (FORMAT BINARY)'
    try:
        with _driver(conn).cursor() as cur:
            if staging not in created[1]:
                cur.execute(f'CREATE TEMPORARY TABLE "{staging}" ON COMMIT DROP AS SELECT {names} FROM "{table}" WITH NO DATA')
                created[1].add(staging)
            with cur.copy(statement) as copy:
                copy.set_types(types)
                for row in rows:
                    values = [row[c] for c in columns]
                    for i, document in documents:
                        values[i] = document(values[i], dumps=dumps)
                    copy.write_row(values)
            statement = (f'WITH moved AS (DELETE FROM "{staging}" RETURNING {names}) '
                         f'INSERT INTO "{table}" ({names}) SELECT {names} FROM moved')
            cur.execute(statement)
    except psycopg.Error as exc:
        _raise(conn, statement, (), exc)
