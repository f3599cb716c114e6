"""A real served instance for the tests that need one (a browser, a shell script, a crash): uvicorn
in a process group of its own on a free loopback port, on the test session's database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``start()`` waits until ``/readyz`` answers 200; ``kill()`` sends SIGKILL to the whole
    process group (uvicorn and its scoring workers), as a host that dies would."""

    def __init__(self, database_url: str, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "DATABASE_URL": database_url, "JIXIAO_LOG_LEVEL": "WARNING",
                    "JIXIAO_WORKERS_OUTLIVE_APP": "0", "JIXIAO_BATCH_PROCESSES": "0",
                    "JIXIAO_SCORING_PROCESSES": "0", **env}
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
