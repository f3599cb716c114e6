"""A served instance for tests and tools that need a real server process: uvicorn on 127.0.0.1 on a
free port, its database migrated, keys made with ``jixiao keys create`` (as an operator would).
:class:`Server` runs it in a process group of its own, for the tests that kill it (a browser, a
shell script, a crash)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "JIXIAO_LOG_LEVEL": "WARNING", **(extra or {})}


def migrate(url: str) -> None:
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=_env(url), check=True,
                   capture_output=True)


def create_key(url: str, tenant: str, scopes: str) -> str:
    out = subprocess.run([sys.executable, "-m", "app.cli", "keys", "create", "--tenant", tenant, "--scopes", scopes],
                         cwd=ROOT, env=_env(url), check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def serve(url: str, port: int, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``uvicorn app.main:app`` on 127.0.0.1:``port``, once it answers ``/healthz``."""
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port),
                             "--log-level", "warning", "--no-access-log"], cwd=ROOT, env=_env(url, env))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    stop(proc)
    raise RuntimeError("uvicorn did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Server:
    """``start()`` waits until ``/readyz`` answers 200; ``kill()`` sends SIGKILL to the whole
    process group (uvicorn and its scoring workers), as a host that dies would."""

    def __init__(self, database_url: str, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = _env(database_url, {"JIXIAO_WORKERS_OUTLIVE_APP": "0", "JIXIAO_BATCH_PROCESSES": "0",
                                       "JIXIAO_SCORING_PROCESSES": "0", **env})
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Start it; the monotonic time at which it was ready."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(self.port),
             "--log-level", "warning", "--no-access-log"],
            cwd=ROOT, env=self.env, start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return time.monotonic()
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}")
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("the server did not start")

    def kill(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
