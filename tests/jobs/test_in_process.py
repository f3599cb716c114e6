"""``make serve`` alone does a job: the API process runs a queue worker of its own (the app's
lifespan, JIXIAO_JOBS_WORKER_IN_PROCESS, on by default; the rest of the suite turns it off)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.jobs.conftest import items


@pytest.fixture
def in_process() -> Iterator[None]:
    from app.settings import get_settings

    settings = get_settings()
    settings.jobs_worker_in_process = True
    yield
    settings.jobs_worker_in_process = False


def test_the_api_process_runs_a_worker_by_default(db_engine, admin_key, in_process):
    from app.main import app

    with TestClient(app, headers={"Authorization": f"Bearer {admin_key}"}) as c:
        r = c.post("/v1/jobs", json={"kind": "assessments", "items": items(3, prefix="P")})
        assert r.status_code == 202, r.text
        deadline = time.monotonic() + 300  # a bound for a stuck worker, not a timing check
        while (job := c.get(r.headers["location"]).json())["state"] != "succeeded":
            assert time.monotonic() < deadline, job
            time.sleep(0.1)
        assert job["items"]["stored"] == 3
