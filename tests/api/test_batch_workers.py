"""Batch scoring in worker processes (app.assessments.workers): same answers as scoring inline,
and a dead worker or a missing pool never loses an item."""

from __future__ import annotations

from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool

import orjson
import pytest

from app.assessments import workers
from app.db.packed import unpack_json
from app.engine import builtin_registry
from app.submissions.service import parse_facts
from tests.api.factories import seed


def _jobs(n: int) -> tuple[str, str, str, list[workers.Job]]:
    data = seed("001")
    rs = builtin_registry().get("shenzhen-yantian@2023")
    assert rs is not None
    jobs: list[workers.Job] = [(data["answers"], data.get("overrides", {}), data["facts"], False)] * n
    return rs.ref, rs.content_hash, rs.text, jobs


def test_worker_processes_score_exactly_like_the_request_thread() -> None:
    ref, h, text, jobs = _jobs(3)
    pool = workers.pool()
    if pool is None:
        pytest.skip("JIXIAO_BATCH_PROCESSES=0: no worker pool in this environment")
    remote = pool.submit(workers.score_jobs, ref, h, text, jobs).result(timeout=120)
    inline = workers.score_jobs(ref, h, text, jobs)
    assert remote == inline
    kind, breakdown, status, total, grade, stored = remote[0]
    assert (kind, status, total, grade) == ("ok", "complete", "93.97", "优")
    assert orjson.loads(unpack_json(breakdown))["total"] == "93.97"  # stored form: LZ4-compressed JSON
    # the facts come back in their stored form, exactly as a PUT of the submission stores them
    assert stored == parse_facts(seed("001")["facts"])[0]
    assert list(stored) == sorted(stored)


def test_a_dead_worker_chunk_is_rescored_in_the_request_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    ref, h, text, jobs = _jobs(2)
    dead: Future[list[workers.Outcome]] = Future()
    dead.set_exception(BrokenProcessPool("worker killed"))
    outcomes = workers.result(dead, ref, h, text, jobs)
    assert [o[3] for o in outcomes] == ["93.97", "93.97"]


def test_strict_and_invalid_items_come_back_as_outcomes() -> None:
    data = seed("001")
    facts = dict(data["facts"])
    facts.pop("procurement_actual")
    rs = builtin_registry().get("shenzhen-yantian@2023")
    assert rs is not None
    strict, = workers.score_jobs(rs.ref, rs.content_hash, rs.text, [(data["answers"], {}, facts, True)])
    assert strict[0] == "strict"
    assert "procurement_actual" in strict[1]
    invalid, = workers.score_jobs(rs.ref, rs.content_hash, rs.text,
                                  [(data["answers"], {"1.1.1": {"score": "99", "reason": "x"}}, facts, False)])
    assert invalid[0] == "invalid"
    assert invalid[1][0][0] == "/overrides/1.1.1/score"
    bad_facts, = workers.score_jobs(rs.ref, rs.content_hash, rs.text,
                                    [(data["answers"], {}, {**facts, "budget_initial": "many", "nope": 1}, False)])
    assert bad_facts[0] == "facts"
    assert sorted(p for p, _ in bad_facts[1]) == ["/facts/budget_initial", "/facts/nope"]


def test_batch_without_worker_processes(client, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(workers, "pool", lambda: None)
    data = seed("001")
    items = [{"unit": {"code": f"INLINE{i}", "name": "单位", "kind": "school", "region": "批量区"},
              "fiscal_year": 2023, "facts": data["facts"], "answers": data["answers"],
              "overrides": data.get("overrides", {}), "ruleset": "shenzhen-yantian@2023", "kind": "self",
              "evaluator": "inline"} for i in range(3)]
    r = client.post("/v1/assessments:batch", json={"items": items})
    assert r.status_code == 200, r.text[:300]
    assert [i["total"] for i in r.json()["items"]] == ["93.97"] * 3


def test_busy_service_scores_single_assessments_in_worker_processes(client, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import os
    import signal
    import time

    from app.settings import get_settings
    from tests.api.factories import seed_unit_with_submission

    unit, _ = seed_unit_with_submission(client, "001")
    body = {"unit_id": unit["id"], "fiscal_year": 2023, "ruleset": "shenzhen-yantian@2023", "kind": "self",
            "evaluator": "e"}
    inline = client.post("/v1/assessments", json=body)
    assert inline.status_code == 201
    scoring = workers.interactive()
    if scoring is None:
        pytest.skip("JIXIAO_SCORING_PROCESSES=0: no interactive pool in this environment")
    assert scoring.wait_ready(120)
    pids = scoring.workers()
    assert pids
    assert os.getpid() not in pids

    monkeypatch.setattr(get_settings(), "scoring_offload_at", 1)  # every request counts as busy
    served = scoring.served
    offloaded = client.post("/v1/assessments", json=body)
    assert offloaded.status_code == 201
    assert scoring.served == served + 1  # answered by a worker process
    a, b = inline.json(), offloaded.json()
    for key in ("id", "created_at"):
        a.pop(key), b.pop(key)
    assert a == b
    assert client.get(offloaded.headers["Location"]).json()["total"] == "93.97"
    strict = client.post("/v1/assessments", json={**body, "strict": True})
    assert strict.status_code == 201  # complete: strict changes nothing
    assert scoring.served == served + 2

    # A worker that dies: the request is scored inline, and the pool starts a replacement.
    for pid in scoring.workers():
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(w.process.is_alive() for w in scoring._idle) and time.monotonic() < deadline:
        time.sleep(0.02)  # SIGKILL is delivered asynchronously
    survived = client.post("/v1/assessments", json=body)
    assert survived.status_code == 201
    assert survived.json()["total"] == "93.97"
    assert scoring.wait_ready(120)
    assert not set(scoring.workers()) & set(pids)
    served = scoring.served
    assert client.post("/v1/assessments", json=body).status_code == 201
    assert scoring.served == served + 1


def test_worker_needs_the_text_of_a_registered_ruleset_once() -> None:
    """A registered (non built-in) ruleset's text goes to a worker with its first job only."""
    import pickle

    from app.engine import builtin_registry

    rs = builtin_registry().get("shenzhen-yantian@2023")
    assert rs is not None
    data = seed("001")
    worker = workers._Worker()
    try:
        assert worker.ready()
        args = (data["facts"], data["answers"], data.get("overrides", {}), {}, [], False)
        other_hash = "0" * 64  # the same text under another hash: not a built-in, so it must be sent
        first = worker.call("custom@1", other_hash, rs.text, args)
        assert first[0] == "ok"
        assert first[3] == "93.97"
        assert other_hash in worker.known
        again = worker.call("custom@1", other_hash, "", args)  # text not sent again (would not parse)
        assert again[:4] == first[:4]
        unknown = worker._roundtrip(pickle.dumps(("custom@2", "1" * 64, None, *args)))
        assert unknown[0] == "error"
        assert "not known here" in unknown[1]
    finally:
        worker.stop()


def test_busy_counter_sets_offload_from_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.settings import get_settings

    monkeypatch.setattr(get_settings(), "scoring_offload_at", 2)
    with workers.Busy() as first:
        assert first.offload is False
        with workers.Busy() as second:
            assert second.offload is True
    with workers.Busy() as again:
        assert again.offload is False
    monkeypatch.setattr(get_settings(), "scoring_offload_at", 0)
    with workers.Busy() as one, workers.Busy() as two:
        assert (one.offload, two.offload) == (False, False)


def test_a_servers_shutdown_stops_its_worker_processes(db_engine, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """A server's lifespan ends once, at exit: the pools' processes stop with it, in order (not
    left to the parent watch or the resource tracker), and a new lifespan starts new ones."""
    import time

    from fastapi.testclient import TestClient

    from app.main import app
    from app.settings import get_settings

    settings = get_settings()
    if settings.batch_processes <= 0 or settings.scoring_processes <= 0:
        pytest.skip("worker pools disabled in this environment")
    monkeypatch.setattr(settings, "workers_outlive_app", False)
    with TestClient(app):
        batch, scoring = workers.pool(), workers.interactive()
        assert batch is not None
        assert scoring is not None
        assert batch.submit(workers._warm).result(timeout=120) is None  # a batch worker is running
        assert scoring.wait_ready(120)
        processes = [*batch._processes.values(), *(w.process for w in scoring._idle)]
        assert len(processes) == settings.batch_processes + settings.scoring_processes
        assert all(p.is_alive() for p in processes)
    assert (workers._batch, workers._interactive) == (None, None)
    deadline = time.monotonic() + 10
    while any(p.is_alive() for p in processes) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(p.is_alive() for p in processes)
    with pytest.raises(RuntimeError):
        batch.submit(workers._warm)  # the old pool is shut down, not merely forgotten

    monkeypatch.setattr(settings, "workers_outlive_app", True)
    with TestClient(app):  # the next lifespan starts new processes
        fresh = workers.interactive()
        assert fresh is not None
        assert fresh is not scoring
        assert fresh.wait_ready(120)
        assert not {p.pid for p in processes} & set(fresh.workers())
