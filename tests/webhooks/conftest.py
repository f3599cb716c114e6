"""Webhook test set-up: a receiver on 127.0.0.1 (allowed by JIXIAO_WEBHOOK_ALLOWED_NETWORKS, which
tests/conftest.py sets to 127.0.0.1/32), and settings changed for one test."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records every request and answers as ``answer`` says
    (the request's number, from 1, and its path, to (status, body, extra headers))."""

    url: str
    requests: list[Received] = field(default_factory=list)
    answer: Callable[[int, str], tuple[int, bytes, dict[str, str]]] = lambda n, path: (204, b"", {})

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box: dict[str, Receiver] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the standard library's name
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            rec = box["r"]
            with lock:
                rec.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                n = len(rec.requests)
            status, text, headers = rec.answer(n, self.path)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("content-length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box["r"] = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box["r"]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """``settings(webhook_allowed_networks="")``: these settings for the rest of the test."""
    from app.settings import get_settings

    def change(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"JIXIAO_{name.upper()}", value)
        get_settings.cache_clear()

    yield change
    monkeypatch.undo()
    get_settings.cache_clear()


def run_worker() -> None:
    """Run a queue worker until no task is due (app.jobs.worker, as ``jixiao worker`` runs it)."""
    import asyncio

    from app.jobs import worker

    asyncio.run(worker.run_async(wait=False))
