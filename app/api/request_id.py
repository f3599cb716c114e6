"""Request ids: ``X-Request-Id`` accepted from the caller or made here, echoed on every answer,
written into every log line, every problem body and the audit log, so that a platform's support
ticket can quote one id that finds the request everywhere. ``asgi-correlation-id`` carries it in
a context variable for the whole request (threads included)."""

from __future__ import annotations

import logging
import re
import uuid

from asgi_correlation_id import CorrelationIdFilter, CorrelationIdMiddleware, correlation_id
from starlette.types import ASGIApp

HEADER = "X-Request-Id"
#: a caller's own id is kept when it is a plain token of at most 128 characters (uuids, trace ids,
#: nginx's $request_id, a platform's ticket numbers); anything else is replaced by a new uuid
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=-]{0,127}")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"


def _valid(value: str) -> bool:
    return _TOKEN.fullmatch(value) is not None


def middleware(app: ASGIApp) -> CorrelationIdMiddleware:
    return CorrelationIdMiddleware(app, header_name=HEADER, validator=_valid, generator=lambda: str(uuid.uuid4()))


def current() -> str | None:
    """The id of the request being answered (None outside a request)."""
    return correlation_id.get()


def configure_logging(level: str) -> None:
    """Every log line of the service (uvicorn's included) carries the request id, ``-`` outside a request."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    root.setLevel(level)
    access = logging.Formatter('%(asctime)s %(levelname)s [%(correlation_id)s] %(message)s')
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, CorrelationIdFilter) for f in handler.filters):
                handler.addFilter(CorrelationIdFilter(default_value="-"))
            handler.setFormatter(access if name == "uvicorn.access" else logging.Formatter(LOG_FORMAT))
