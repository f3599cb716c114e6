"""A client-side bound on every wait for PostgreSQL: a database that stops answering is a 503 within
``JIXIAO_DB_IO_TIMEOUT_MS``, not a request that hangs for as long as the database does.

What bounds what (settings in app/settings.py, defaults 2 s in all):

* opening a connection: libpq's ``connect_timeout`` (psycopg 3 enforces it itself, on any socket;
  whole seconds, at least 2);
* waiting for a pooled connection: the pool's checkout timeout (``pool_timeout``, the same value);
* a statement that runs too long: PostgreSQL's ``statement_timeout``, cancelled by the server
  (the connection stays usable);
* a database that does not answer at all (stopped by SIGSTOP, a host frozen or cut off): no
  server-side timeout can fire, and no socket option helps either. The embedded server is reached
  over a unix socket, where libpq's ``tcp_user_timeout`` and keepalives do not exist; and even
  over TCP they only notice a peer whose *kernel* stops acknowledging, while a frozen PostgreSQL
  process on a live host is acknowledged by its kernel indefinitely. So the client bounds its own
  wait: :class:`BoundedConnection` passes a timeout to psycopg's wait loop (``Connection.wait``,
  which every statement, COMMIT and COPY block goes through: the same poll loop psycopg uses for
  its own ``notifies(timeout=)``; no extra thread, one ``monotonic()`` per operation).

When that wait expires the connection is in an unknown state (the request may or may not have
reached the server), so it is closed: SQLAlchemy sees a disconnect, invalidates the pool (every
pooled connection predates the outage) and the request answers 503 (app.api.problems). As with
any client-side timeout, a COMMIT already sent may still be carried out by the server once it
resumes; a retry with the same ``Idempotency-Key`` is how a client resolves that.

**One timeout per request.** A request may reach the database more than once (a middleware's own
lookup, the route's session, an audit entry): each would wait its own bound, and a request would
answer after two or three. :class:`OneTimeoutPerRequest` gives each HTTP request a marker that
its threads share (a context variable holding one mutable object; anyio copies the context into
every worker thread): once one of the request's database operations has timed out, its later
ones fail at once with the same 503. Other requests are not affected, so a database that comes
back serves the very next request.

For TCP connections (``DATABASE_URL`` with a host name), keepalives and ``tcp_user_timeout`` are set
as well: they detect a dead host or a cut network also while a connection is idle in the pool.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import psycopg
from psycopg import errors
from starlette.types import ASGIApp, Receive, Scope, Send

#: psycopg's own exception for an expired wait (private, but what ``Connection.wait`` documents it raises)
_WAIT_TIMEOUT: type[Exception] = getattr(errors, "_WaitTimeout", psycopg.OperationalError)


class DatabaseNotAnswering(psycopg.OperationalError):
    """The database did not answer within the client-side bound; the connection was closed."""


class _Request:
    """The request's marker: whether one of its database operations has timed out."""

    __slots__ = ("timed_out",)

    def __init__(self) -> None:
        self.timed_out: str | None = None


_request: ContextVar[_Request | None] = ContextVar("jixiao_db_request", default=None)


def _timed_out(message: str) -> None:
    marker = _request.get()
    if marker is not None:
        marker.timed_out = message


def _refuse_after_a_timeout() -> None:
    marker = _request.get()
    if marker is not None and marker.timed_out:
        raise DatabaseNotAnswering(f"{marker.timed_out} (earlier in this request)")


class BoundedConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every wait for the server ends after :attr:`io_timeout` seconds."""

    io_timeout: float | None = None

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        if timeout is None:
            _refuse_after_a_timeout()
        try:
            return super().wait(gen, interval, self.io_timeout if timeout is None else timeout)
        except _WAIT_TIMEOUT:
            if timeout is not None:  # a caller's own timeout (notifies): its business
                raise
            # The operation is half-done on a socket nobody reads: close it (the pool invalidates it).
            self.pgconn.finish()
            message = f"the database did not answer within {self.io_timeout:g} s"
            _timed_out(message)
            raise DatabaseNotAnswering(message) from None


def connector(io_timeout_ms: int) -> Any:
    """A SQLAlchemy ``do_connect`` listener that opens :class:`BoundedConnection` connections."""

    def do_connect(dialect: Any, conn_rec: Any, cargs: Any, cparams: Any) -> BoundedConnection:
        _refuse_after_a_timeout()
        try:
            conn = BoundedConnection.connect(*cargs, **cparams)
        except errors.ConnectionTimeout as exc:
            _timed_out(f"the database did not accept a connection in time ({exc})")
            raise
        conn.io_timeout = io_timeout_ms / 1000 if io_timeout_ms > 0 else None
        return conn

    return do_connect


class OneTimeoutPerRequest:
    """ASGI middleware: each HTTP request's database operations share one timeout (see above).
    Outside every middleware that reaches the database."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _request.set(_Request())
        try:
            await self.app(scope, receive, send)
        finally:
            _request.reset(token)


def tcp_args(url: str, io_timeout_ms: int) -> dict[str, Any]:
    """libpq's TCP-level timeouts, for a server reached over TCP (not a unix socket, where libpq
    would ignore them anyway): the idle pool's connections to a dead host are noticed too."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    host = u.host or str(u.query.get("host", ""))
    if not host or host.startswith("/"):
        return {}
    seconds = max(1, io_timeout_ms // 1000)
    return {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": seconds, "keepalives_count": 3,
            "tcp_user_timeout": io_timeout_ms}
