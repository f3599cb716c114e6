"""Exactly once per item across killed workers: a 20,000-item job, its worker process (with its
scoring processes) killed with SIGKILL at random moments while it runs a chunk, again and again,
and a new worker started each time. In the end every item is stored once: one job_items row, one
unit, submission and assessment per item, one audit entry per chunk.

A killed worker's chunk leaves nothing (one transaction per chunk); its task stays ``doing`` until
a worker sees the dead one's heartbeat stale and queues it again (app.jobs.worker)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import orjson
import pytest
from sqlalchemy import text

from tests.conftest import ROOT
from tests.jobs.conftest import items

pytestmark = [pytest.mark.crash, pytest.mark.slow]
ITEMS = 20_000
KILLS = 6


def _worker() -> subprocess.Popen[bytes]:
    env = {**os.environ, "JIXIAO_JOBS_HEARTBEAT_SECONDS": "0.5", "JIXIAO_JOBS_STALLED_SECONDS": "2",
           "JIXIAO_JOBS_MAX_ATTEMPTS": "100", "JIXIAO_BATCH_PROCESSES": "1", "JIXIAO_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], cwd=ROOT, env=env, start_new_session=True)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the worker and its scoring processes
    except ProcessLookupError:
        pass
    proc.wait(30)


def _doing(db_engine) -> int:  # type: ignore[no-untyped-def]
    with db_engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing'")).scalar_one())


def _job(db_engine, job_id: str) -> tuple[str, int, int]:  # type: ignore[no-untyped-def]
    with db_engine.connect() as conn:
        row = conn.execute(text("SELECT state, stored, chunks_done FROM jobs WHERE id = :id"), {"id": job_id}).one()
    return row[0], int(row[1]), int(row[2])


def test_killed_workers_leave_every_item_stored_exactly_once(client, db_engine):
    from app.settings import get_settings

    size = get_settings().jobs_chunk_size  # 500: 40 chunks
    body = b"\n".join(orjson.dumps(i) for i in items(ITEMS, prefix="K"))
    r = client.post("/v1/jobs", content=body, headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    rng = random.Random(17)
    interrupted = 0
    for _ in range(KILLS):
        proc = _worker()
        try:
            deadline = time.monotonic() + 120
            while _doing(db_engine) == 0 and _job(db_engine, job_id)[0] != "succeeded":
                assert time.monotonic() < deadline, "the worker took no chunk within 120 s"
                time.sleep(0.05)
            time.sleep(rng.uniform(0, 1.5))  # somewhere in a chunk (or between two)
            before = _job(db_engine, job_id)[2]
            interrupted += _doing(db_engine) > 0
        finally:
            _kill(proc)
        assert _job(db_engine, job_id)[2] >= before  # nothing of a committed chunk is lost
    assert interrupted > 0
    proc = _worker()
    try:
        deadline = time.monotonic() + 1200
        while _job(db_engine, job_id)[0] != "succeeded":
            assert proc.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, f"the job did not finish: {_job(db_engine, job_id)}"
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        finally:
            _kill(proc)
    state, stored, chunks = _job(db_engine, job_id)
    assert (state, stored, chunks) == ("succeeded", ITEMS, -(-ITEMS // size))
    with db_engine.connect() as conn:
        rows, distinct, assessed = conn.execute(text(
            "SELECT count(*), count(DISTINCT item), count(DISTINCT assessment_id) FROM job_items WHERE job_id = :j"),
            {"j": job_id}).one()
        units, subs, assessments, joined = conn.execute(text(
            "SELECT (SELECT count(*) FROM units WHERE code LIKE 'K%'), "
            "(SELECT count(*) FROM submissions s JOIN units u ON u.id = s.unit_id WHERE u.code LIKE 'K%'), "
            "(SELECT count(*) FROM assessments a JOIN units u ON u.id = a.unit_id WHERE u.code LIKE 'K%'), "
            "(SELECT count(*) FROM job_items i JOIN assessments a ON a.id = i.assessment_id WHERE i.job_id = :j)"),
            {"j": job_id}).one()
        audited = conn.execute(text("SELECT count(*) FROM audit_log WHERE route = 'jobs.chunk'")).scalar_one()
    assert (rows, distinct, assessed) == (ITEMS, ITEMS, ITEMS)
    assert (units, subs, assessments, joined) == (ITEMS, ITEMS, ITEMS, ITEMS)
    assert audited == -(-ITEMS // size)
