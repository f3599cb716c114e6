"""A standalone worker (``jixiao worker``) is a scrape target of its own: what it did is counted in
its process, so with ``JIXIAO_JOBS_WORKER_METRICS_PORT`` it serves ``/metrics`` (prometheus_client's
server): the items and the job it ran appear there."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import orjson
from sqlalchemy import text

from tests.conftest import ROOT
from tests.jobs.conftest import items
from tests.served import free_port


def _sample(page: str, name: str, labels: str) -> float | None:
    found = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", page, re.MULTILINE)
    return float(found.group(1)) if found else None


def test_a_worker_serves_the_metrics_of_the_work_it_did(client, db_engine):
    port = free_port()
    env = {**os.environ, "JIXIAO_JOBS_WORKER_METRICS_PORT": str(port), "JIXIAO_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], cwd=ROOT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, "the worker exited"
            try:
                before = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the worker served no metrics within 120 s"
                time.sleep(0.2)
        assert before.status_code == 200
        assert "# TYPE jixiao_job_items_total counter" in before.text
        assert _sample(before.text, "jixiao_job_items_total", 'outcome="stored"') is None  # nothing done yet

        body = b"\n".join(orjson.dumps(i) for i in items(3, prefix="WM"))
        r = client.post("/v1/jobs", content=body, headers={"content-type": "application/x-ndjson"})
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        while True:
            with db_engine.connect() as conn:
                state = conn.execute(text("SELECT state FROM jobs WHERE id = :id"), {"id": job_id}).scalar_one()
            if state == "succeeded":
                break
            assert time.monotonic() < deadline + 120, f"the job is {state}"
            time.sleep(0.2)
        page = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert _sample(page, "jixiao_job_items_total", 'outcome="stored"') == 3.0
        assert _sample(page, "jixiao_jobs_finished_total", 'kind="assessments",state="succeeded"') == 1.0
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
