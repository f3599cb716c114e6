"""Jobs benchmark: a 100,000-item ``assessments`` job end to end with one and with two worker
processes, a ``rescore`` of 10,000 units, and one item's latency through an idle queue.

    .venv/bin/python bench/jobs.py [--items 100000] [--workers 1,2] [--rescore 10000] [--latency 10] [--batch 10000]

Starts the service (uvicorn, no worker in its process) and ``jixiao worker`` processes on the embedded
PostgreSQL (or DATABASE_URL's server), in a throwaway database ``jixiao_bench_jobs`` per run. Each job
is sent as NDJSON (seed 001's facts and answers for every item, a new unit each) and timed from the
POST to the job's ``succeeded`` (polled every 50 ms): units per second, the POST itself (reading,
chunking and storing the items), and the time until the first items are stored. Targets (the issue's):
at least 2,500 units/s with two workers on 2 cores; an idle queue's single item under 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api import free_port, fresh_database, start  # noqa: E402


def _items(n: int, prefix: str, region: str) -> bytes:
    from tests.api.factories import seed

    data = seed("001")
    head = {"fiscal_year": 2023, "facts": data["facts"], "answers": data["answers"],
            "overrides": data.get("overrides", {}), "ruleset": "shenzhen-yantian@2023", "kind": "self",
            "evaluator": "bench"}
    return b"\n".join(orjson.dumps({"unit": {"code": f"{prefix}{i:06d}", "name": f"单位{i}", "kind": "school",
                                             "region": region}, **head}) for i in range(n))


def _workers(url: str, n: int) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "DATABASE_URL": url, "JIXIAO_LOG_LEVEL": "WARNING"}
    return [subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], cwd=ROOT, env=env) for _ in range(n)]


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu(groups: dict[str, tuple[set[int], str | None]]) -> dict[str, float]:
    """CPU seconds (user + system, /proc) used so far by each group: its processes by pid, and
    those whose command line has its mark (the PostgreSQL backends of the bench's database). Linux
    only; elsewhere empty. Read it while the processes run (a dead one is not counted)."""
    out = dict.fromkeys(groups, 0.0)
    proc = Path("/proc")
    if not proc.is_dir():
        return {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        for name, (pids, mark) in groups.items():
            if int(entry.name) in pids or (mark is not None and mark in cmd):
                out[name] += (int(fields[11]) + int(fields[12])) / _TICK
    return out


def _pieces(body: bytes, size: int = 1 << 20) -> Iterator[bytes]:
    """The body in 1 MiB pieces (sent chunked). Not one ``bytes``: httpcore's synchronous write
    re-slices what is left after every ``send``, which is quadratic in the body's size (a 540 MB,
    100,000-item body took 35 s of the client's CPU before the service had read it)."""
    view = memoryview(body)
    for i in range(0, len(view), size):
        yield bytes(view[i:i + size])


def _run_job(c: httpx.Client, body: bytes, content_type: str) -> dict[str, float]:
    t0 = time.perf_counter()
    r = c.post("/v1/jobs", content=_pieces(body), headers={"content-type": content_type})
    r.raise_for_status()
    posted = time.perf_counter() - t0
    job_id = r.json()["id"]
    first = None
    while True:
        job = c.get(f"/v1/jobs/{job_id}").json()
        now = time.perf_counter() - t0
        if first is None and job["items"]["stored"] + job["items"]["refused"] > 0:
            first = now
        if job["state"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.05)
    assert job["state"] == "succeeded", job
    return {"seconds": now, "post_seconds": posted, "first_stored_seconds": first or now,
            "stored": job["items"]["stored"], "refused": job["items"]["refused"],
            "units_per_second": job["items"]["stored"] / now}


def _setup(db: str) -> tuple[str, dict[str, str]]:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from app.auth.keys import create_key, get_or_create_tenant

    url = fresh_database(db)
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["url"] = url
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")
    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        _, key = create_key(session, get_or_create_tenant(session, "bench").id, "bench", ["read", "submit", "assess"])
    engine.dispose()
    return url, {"Authorization": f"Bearer {key}"}


def _batch(n: int) -> dict[str, float]:
    """The same items through POST /v1/assessments:batch (the API's own batch processes score them)."""
    from concurrent.futures import ThreadPoolExecutor

    url, auth = _setup("jixiao_bench_jobs")
    port = free_port()
    api = start("app.main:app", url, port, 1)
    lines = _items(n, "BAT", "批量区").split(b"\n")
    bodies = [b'{"items":[' + b",".join(lines[i:i + 1000]) + b"]}" for i in range(0, n, 1000)]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600, headers=auth) as c:
            warm = _items(20, "WARMB", "预热区").split(b"\n")
            c.post("/v1/assessments:batch", content=b'{"items":[' + b",".join(warm) + b"]}",
                   headers={"content-type": "application/json"}).raise_for_status()

            def call(body: bytes) -> int:
                r = c.post("/v1/assessments:batch", content=body, headers={"content-type": "application/json"})
                r.raise_for_status()
                return int(r.json()["succeeded"])

            t0 = time.perf_counter()
            with ThreadPoolExecutor(2) as pool:
                stored = sum(pool.map(call, bodies))
            seconds = time.perf_counter() - t0
    finally:
        api.terminate()
        api.wait(30)
    print(f"the same items through POST /v1/assessments:batch (1,000 a call, 2 at a time, no queue): {stored} "
          f"stored in {seconds:.1f}s ({stored / seconds:.0f} units/s)")
    return {"seconds": seconds, "stored": stored, "units_per_second": stored / seconds}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--workers", default="1,2", help="worker processes of each run")
    ap.add_argument("--rescore", type=int, default=10_000, help="units of the rescore (0: none)")
    ap.add_argument("--latency", type=int, default=10, help="single-item jobs through an idle queue (0: none)")
    ap.add_argument("--batch", type=int, default=10_000,
                    help="units sent through POST /v1/assessments:batch instead (1,000 a call, 2 at a time), the same "
                         "items, after the jobs: the same machine's figure without a queue (0: none)")
    args = ap.parse_args()
    os.environ["JIXIAO_JOBS_WORKER_IN_PROCESS"] = "0"
    os.environ.setdefault("JIXIAO_RATE_LIMIT_ENABLED", "0")
    print(f"load before: {os.getloadavg()[0]:.2f} (1 min) on {os.cpu_count()} cores")
    body = _items(args.items, "JOB", "批量区")
    results: dict[str, object] = {}
    for n in [int(x) for x in args.workers.split(",")]:
        url, auth = _setup("jixiao_bench_jobs")
        port = free_port()
        api = start("app.main:app", url, port, 1)
        workers = _workers(url, n)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600, headers=auth) as c:
                warm = _items(20, "WARM", "预热区")
                _run_job(c, warm, "application/x-ndjson")  # the workers' start and first scoring
                groups = {"workers": ({w.pid for w in workers}, None), "API": ({api.pid}, None),
                          "PostgreSQL": (set(), "jixiao_bench_jobs")}
                before = _cpu(groups)
                out = _run_job(c, body, "application/x-ndjson")
                after = _cpu(groups)
                print(f"assessments job, {args.items} items, {n} worker(s): {out['seconds']:.1f}s end to end "
                      f"({out['units_per_second']:.0f} units/s), POST {out['post_seconds']:.1f}s, first items stored "
                      f"after {out['first_stored_seconds']:.2f}s; {out['stored']:.0f} stored, {out['refused']:.0f} refused")
                if after:
                    # What the cores could give at best: all the CPU time the job took, spread over them.
                    per = {g: (after[g] - before[g]) * 1000 / args.items for g in groups}
                    total = sum(per.values())
                    results[f"assessments_{n}_workers_cpu_ms_per_unit"] = per
                    print(f"  CPU per unit: workers {per['workers']:.2f} ms, API {per['API']:.2f} ms, "
                          f"PostgreSQL {per['PostgreSQL']:.2f} ms; {total:.2f} ms in all, so at most "
                          f"{(os.cpu_count() or 1) * 1000 / total:.0f} units/s on {os.cpu_count()} cores")
                results[f"assessments_{n}_workers"] = out
                if n == max(int(x) for x in args.workers.split(",")):
                    if args.latency:
                        one = _items(1, "ONE", "单项区")
                        lat = []
                        for i in range(args.latency):
                            time.sleep(0.5)
                            line = one.replace(b"ONE000000", f"ONE{i:06d}".encode())
                            lat.append(_run_job(c, line, "application/x-ndjson")["seconds"])
                        print(f"single item through the idle queue, {args.latency} jobs: p50 "
                              f"{statistics.median(lat) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms")
                        results["single_item_seconds"] = {"p50": statistics.median(lat), "max": max(lat)}
                    if args.rescore:
                        _run_job(c, _items(args.rescore, "RES", "复评区"), "application/x-ndjson")
                        t = _run_job(c, json.dumps({"kind": "rescore", "ruleset": "shenzhen-yantian",
                                                    "fiscal_year": 2023, "region": "复评区",
                                                    "evaluator": "bench"}).encode(), "application/json")
                        print(f"rescore of {args.rescore} units, {n} worker(s): {t['seconds']:.1f}s "
                              f"({t['units_per_second']:.0f} units/s), first stored after "
                              f"{t['first_stored_seconds']:.2f}s")
                        results[f"rescore_{n}_workers"] = t
        finally:
            _stop(workers)
            api.terminate()
            api.wait(30)
    if args.batch:
        results["batch"] = _batch(args.batch)
    print(f"load after: {os.getloadavg()[0]:.2f} (1 min)")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
