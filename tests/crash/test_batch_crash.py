"""Exactly once across crashes (finding 2 of the "Trust" issue): a 1,000-unit batch with an
Idempotency-Key, the server (its whole process group: the uvicorn process and its scoring
workers) killed with SIGKILL at 20 moments spread over before, during and after the commit, and
the same request retried after each restart. Every time there are exactly 1,000 assessments in
the end, never 0 after a 2xx and never 2,000, and the retry answers within 10 s of the restart
(plus three times one batch's own duration here, which the retry spends scoring on a loaded machine).

Run alone with ``pytest -m crash``; ``make test`` runs it too."""

from __future__ import annotations

import random
import threading
import time

import httpx
import pytest
from sqlalchemy import text

from tests.api.factories import seed
from tests.conftest import ALL_SCOPES, make_key
from tests.served import Server

pytestmark = [pytest.mark.crash, pytest.mark.slow]
UNITS = 1000
KILLS = 20


def _batch(tag: str) -> dict:
    data = seed("001")
    return {"items": [{"unit": {"code": f"{tag}{i:04d}", "name": f"单位{i}", "kind": "school", "region": "崩溃区"},
                       "fiscal_year": 2023, "facts": data["facts"], "answers": data["answers"],
                       "overrides": data.get("overrides", {}), "ruleset": "shenzhen-yantian@2023", "kind": "self",
                       "evaluator": "crash"} for i in range(UNITS)]}


def _counts(db_engine, tag: str) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    with db_engine.connect() as conn:
        row = conn.execute(text(
            "SELECT (SELECT count(*) FROM units WHERE code LIKE :p), "
            "(SELECT count(*) FROM submissions s JOIN units u ON u.id = s.unit_id WHERE u.code LIKE :p), "
            "(SELECT count(*) FROM assessments a JOIN units u ON u.id = a.unit_id WHERE u.code LIKE :p)"),
            {"p": tag + "%"}).one()
    return int(row[0]), int(row[1]), int(row[2])


def _wait_backends_gone(db_engine) -> None:  # type: ignore[no-untyped-def]
    """Wait until no statement of the killed server is still running in PostgreSQL. A COMMIT the
    server sent just before SIGKILL still completes inside its backend after the process is gone,
    so counting before then could see "nothing stored" for a batch that is about to be (CI saw it
    once). Idle sessions do not matter: without their client they can only roll back."""
    deadline = time.monotonic() + 30
    while True:
        with db_engine.connect() as conn:
            left = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = 'jixiao' "
                "AND state <> 'idle' AND pid <> pg_backend_pid()")).scalar_one()
        if not left:
            return
        assert time.monotonic() < deadline, f"{left} statements of the killed server still running after 30 s"
        time.sleep(0.05)


def test_finding2_a_batch_killed_at_any_moment_is_stored_exactly_once(db_engine, database):
    _, key = make_key("crash-tenant", ALL_SCOPES)
    headers = {"Authorization": f"Bearer {key}"}
    server = Server(database, JIXIAO_BATCH_PROCESSES="1")
    rng = random.Random(20261201)
    outcomes: list[str] = []
    try:
        # how long one batch takes here, to spread the kills over its life
        server.start()
        began = time.monotonic()
        r = httpx.post(server.url + "/v1/assessments:batch", json=_batch("CRT"), headers=headers, timeout=120)
        duration = time.monotonic() - began
        # a retry that is not blocked answers once it has scored the batch again (when nothing was
        # stored); 10 s is the promise on top of that, whatever the machine's load
        patience = 10 + 3 * duration
        assert r.status_code == 200
        assert _counts(db_engine, "CRT") == (UNITS, UNITS, UNITS)
        for n in range(KILLS):
            tag = f"CR{n:02d}"
            body = _batch(tag)
            idem = {**headers, "Idempotency-Key": f"crash-{n}"}
            # 0 .. 1.3 x the batch's duration: before the body is read, while it is scored, around its
            # commit, and after the answer
            delay = duration * 1.3 * (n + rng.random()) / KILLS
            got_2xx = False
            with httpx.Client(timeout=120) as client:
                answer: list[httpx.Response] = []

                def send(client: httpx.Client, body: dict, idem: dict, answer: list[httpx.Response]) -> None:
                    try:
                        answer.append(client.post(server.url + "/v1/assessments:batch", json=body, headers=idem))
                    except httpx.HTTPError:
                        pass

                sender = threading.Thread(target=send, args=(client, body, idem, answer))
                sender.start()
                time.sleep(delay)
                server.kill()
                sender.join()
                _wait_backends_gone(db_engine)
                got_2xx = bool(answer) and answer[0].status_code == 200
            stored = _counts(db_engine, tag)
            assert stored in ((0, 0, 0), (UNITS, UNITS, UNITS)), (n, stored)  # all or nothing
            if got_2xx:
                assert stored == (UNITS, UNITS, UNITS), (n, "a 2xx answer with nothing stored")
            outcomes.append("answered" if got_2xx else ("stored" if stored[0] else "nothing"))
            ready = server.start()
            while True:
                retry = httpx.post(server.url + "/v1/assessments:batch", json=body, headers=idem, timeout=120)
                if retry.status_code != 409 or time.monotonic() - ready > patience:
                    break
                time.sleep(float(retry.headers.get("retry-after", "1")) / 10)
            assert retry.status_code == 200, (n, retry.status_code, retry.text[:300])
            assert time.monotonic() - ready < patience, (n, "the retry took too long")
            replayed = retry.headers.get("idempotent-replayed") == "true"
            assert replayed == (stored[0] == UNITS), (n, stored, replayed)
            assert _counts(db_engine, tag) == (UNITS, UNITS, UNITS), n
            items = retry.json()["items"]
            assert len(items) == UNITS
            assert all(i.get("assessment_id") for i in items)
    finally:
        if server.proc is not None:
            server.kill()
    # the kills hit every phase: some before anything was stored, some after the commit
    assert "nothing" in outcomes, outcomes
    assert "stored" in outcomes or "answered" in outcomes, outcomes
