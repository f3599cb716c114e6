"""``make fuzz``: schemathesis against a served instance, as an admin key, a read key and no key.

    .venv/bin/python -m tests.fuzz.served [--max-examples 60] [--seed 13]

Serves ``uvicorn app.main:app`` on 127.0.0.1 (a free port; only loopback traffic) with a fresh
database ``jixiao_fuzz`` on the embedded PostgreSQL (or ``DATABASE_URL``'s server), keys made with
``jixiao keys create`` as an operator would, a unit with a submission and an assessment to find;
rate limits on, high enough never to refuse the fuzzer (so their headers are on every answer).
Then, for each caller, ``schemathesis run`` over the served ``/openapi.json``, every phase:
examples, coverage, fuzzing and stateful (the document has no OpenAPI links; schemathesis infers
them from ``Location`` headers and from response fields matching parameters).

Checks: no server error, the answer as documented (status code, content type, headers, body
schema), and a method the document does not list for a path answered 405 with the path's ``Allow``. Prints the cases and failing cases per caller and kind; exits non-zero on any failing
case, or with fewer than 5,000 cases in all. Schemathesis' own errors (a strategy it cannot draw
from) are counted apart: they are not answers of the service. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from tests import served

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test-artifacts" / "fuzz"
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance", "unsupported_method",
          "allow_header_conformance")
MIN_CASES = 5000


def _database() -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from app.settings import Settings

    url = Settings().database_url
    if not url:
        from app.db.embedded import ensure_running

        url = ensure_running(ROOT / ".data" / "pg")
    base = make_url(url)
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text('DROP DATABASE IF EXISTS "jixiao_fuzz" WITH (FORCE)'))
        conn.execute(text('CREATE DATABASE "jixiao_fuzz"'))
    admin.dispose()
    return base.set(database="jixiao_fuzz").render_as_string(hide_password=False)


def _seed(base: str, admin: str) -> None:
    from tests.api.factories import seed

    data = seed("001")
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin}"}, timeout=60) as c:
        unit = c.post("/v1/units", json={"code": "FUZZ001", "name": data["unit"]["name"], "kind": "school",
                                         "region": "广东省深圳市盐田区"}).raise_for_status().json()
        c.put(f"/v1/units/{unit['id']}/submissions/2023",
              json={k: data.get(k, {}) for k in ("facts", "answers", "overrides")}).raise_for_status()
        c.post("/v1/assessments", json={"unit_id": unit["id"], "fiscal_year": 2023, "ruleset": "shenzhen-yantian@2023",
                                        "kind": "self", "evaluator": "fuzz"}).raise_for_status()


def _run(base: str, caller: str, key: str | None, args: argparse.Namespace) -> dict[str, Any]:
    report = OUT / f"{caller}.json"
    cmd = [str(Path(sys.executable).with_name("schemathesis")), "run", f"{base}/openapi.json",
           "--checks", ",".join(CHECKS), "--max-examples", str(args.max_examples), "--seed", str(args.seed),
           "--continue-on-failure", "--suppress-health-check", "all", "--workers", "2", "--no-shrink",
           "--request-timeout", "60", "--report", "json", "--report-json-path", str(report),
           "--output-truncate", "true"]
    if key:
        cmd += ["--header", f"Authorization: Bearer {key}"]
    if caller == "admin":
        # revoking its own key would leave the rest of the run unauthenticated
        cmd += ["--exclude-operation-id", "revokeKey"]
    print(f"\n== {caller}: {' '.join(c if not c.startswith('Authorization') else 'Authorization: Bearer …' for c in cmd[1:])}",
          flush=True)
    log = OUT / f"{caller}.log"
    with log.open("w") as out:
        # in OUT: schemathesis keeps its cache (.schemathesis/) in the working directory
        subprocess.run(cmd, cwd=OUT, stdout=out, stderr=subprocess.STDOUT, check=False)
    return json.loads(report.read_text()) if report.exists() else {}


def _counts(report: dict[str, Any]) -> tuple[int, Counter[str], int]:
    """(cases, failing cases by kind of failure, schemathesis' own errors) from its JSON report."""
    failures: Counter[str] = Counter()
    for failure in report.get("failures", []):
        failures[f"{failure['code']} {failure['title']}"] += int(failure["count"])
    errors = sum(int(e.get("count", 1)) for e in report.get("errors", []))
    return int(report.get("test_cases", {}).get("generated", 0)), failures, errors


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-examples", type=int, default=60, help="cases per operation in the fuzzing phase")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    url = _database()
    served.migrate(url)
    admin = served.create_key(url, "fuzz", "read,submit,assess,admin")
    read = served.create_key(url, "fuzz", "read")
    port = served.free_port()
    proc = served.serve(url, port, {"JIXIAO_RATE_LIMIT_ENABLED": "1", "JIXIAO_RATE_LIMIT_PER_KEY": "1000000/minute",
                                    "JIXIAO_RATE_LIMIT_ANONYMOUS": "1000000/minute", "JIXIAO_SCORING_PROCESSES": "0",
                                    "JIXIAO_BATCH_PROCESSES": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        _seed(base, admin)
        reports = {caller: _run(base, caller, key, args) for caller, key in
                   (("admin", admin), ("read", read), ("anonymous", None))}
    finally:
        served.stop(proc)
    total = tool_errors = 0
    failed: Counter[str] = Counter()
    print(f"\n{'caller':<10} {'cases':>7} {'tool errors':>11}  failing cases by kind")
    for caller, report in reports.items():
        cases, failures, errors = _counts(report)
        total += cases
        tool_errors += errors
        failed.update(failures)
        print(f"{caller:<10} {cases:>7} {errors:>11}  {dict(failures) or 'none'}")
    print(f"{'all':<10} {total:>7} {tool_errors:>11}  {dict(failed) or 'none'}")
    print(f"details (each failure with a curl to reproduce it): {OUT}/<caller>.log")
    bad = sum(failed.values())
    if bad or total < MIN_CASES:
        print(f"FAIL: {bad} failing case(s) (server errors or answers unlike the document); "
              f"{total} cases (at least {MIN_CASES} required)")
        return 1
    print("OK: 0 server errors, 0 schema violations")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
