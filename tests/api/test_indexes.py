"""Listing is index-backed: every statement a listing runs (units, assessments, cohorts, the audit
log) is planned by PostgreSQL without a sequential scan of a record table, and every index scan
has an index condition (no walk over a whole index either).

The statements are the ones the service really sends (captured at the driver), explained with
their parameters under ``enable_seqscan = off``: with few test rows the planner would prefer a
sequential scan anyway, but with that setting it only chooses one when no index can serve the
query, which is exactly the defect this test is after.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, text

from tests.api.factories import (
    assess,
    create_project,
    create_unit,
    project_sheet,
    put_project_submission,
    put_submission,
    seed,
)
from tests.conftest import make_key

RECORD_TABLES = {"units", "submissions", "assessments", "audit_log", "engagements", "projects", "project_submissions"}
INDEX_SCANS = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}


@pytest.fixture
def captured() -> Iterator[list[tuple[str, Any]]]:
    from app.db.session import get_engine

    statements: list[tuple[str, Any]] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append((statement, parameters))

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", before)
    yield statements
    event.remove(engine, "before_cursor_execute", before)


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _problems(statement: str, parameters: Any) -> list[str]:
    """The statement's own conditions, planned as the owner (outside row-level security), and
    the plan it really gets as the service's role, with the policies of migration 0009 added."""
    from app.db.session import get_engine, get_owner_engine

    found = []
    for engine, policies in ((get_owner_engine(), ""), (get_engine(), " (with row-level security)")):
        with engine.connect() as conn:
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            if policies:
                conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(uuid.uuid4())})
            plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters).scalar()
            conn.rollback()
        for node in _nodes(plan[0]["Plan"]):
            relation = node.get("Relation Name")
            kind = node["Node Type"]
            if kind == "Seq Scan" and relation in RECORD_TABLES:
                found.append(f"sequential scan of {relation}{policies}")
            if kind in INDEX_SCANS and not node.get("Index Cond") and _table_of(node) in RECORD_TABLES:
                found.append(f"{kind} of {node.get('Index Name')} without an index condition{policies}")
    return found


def _table_of(node: dict[str, Any]) -> str | None:
    if node.get("Relation Name"):
        return str(node["Relation Name"])
    index = str(node.get("Index Name") or "")
    return next((t for t in RECORD_TABLES if index.startswith((f"ix_{t}_", f"{t}_"))), None)


@pytest.fixture
def world(client) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    data = seed("001")
    bureau = create_unit(client, name="教育局", kind="bureau")
    school = create_unit(client, name="学校", parent_id=bureau["id"])
    put_submission(client, school["id"], 2023, data)
    other = create_unit(client, name="另一所学校", parent_id=bureau["id"])
    put_submission(client, other["id"], 2023, data)
    a = assess(client, school["id"], 2023, "shenzhen-yantian@2023").json()
    assess(client, school["id"], 2023, "shenzhen-yantian@2023", kind="third_party")
    assess(client, other["id"], 2023, "shenzhen-yantian@2023")
    project = create_project(client, school["id"])
    assert put_project_submission(client, school["id"], project["id"], 2023, project_sheet()).status_code == 201
    for _ in range(2):
        assert client.post("/v1/assessments", json={"unit_id": school["id"], "project_id": project["id"],
                                                     "fiscal_year": 2023, "ruleset": "national-project",
                                                     "kind": "self", "evaluator": "x"}).status_code == 201
    create_project(client, school["id"])  # a second project: the listing has a second page
    firm_id, firm_key = make_key("firm-idx", ["read", "assess"])
    for unit in (school, other):  # two granted units: the firm's listings have a second page too
        eng = client.post("/v1/engagements", json={"firm_tenant_id": firm_id, "unit_id": unit["id"], "fiscal_years": [2023]})
        assert eng.status_code == 201
    return {"bureau": bureau, "school": school, "assessment": a, "project": project, "firm": {"Authorization": f"Bearer {firm_key}"}}


LISTINGS = [
    ("/v1/units", {}),
    ("/v1/units", {"region": "广东省深圳市盐田区"}),
    ("/v1/units", {"kind": "school"}),
    ("/v1/units", {"parent_id": "{bureau}"}),
    ("/v1/units", {"code": "X1"}),
    ("/v1/units", {"limit": 1, "cursor": "next"}),
    ("/v1/assessments", {}),
    ("/v1/assessments", {"unit_id": "{school}"}),
    ("/v1/assessments", {"unit_id": "{school}", "fiscal_year": 2023}),
    ("/v1/assessments", {"fiscal_year": 2023}),
    ("/v1/assessments", {"ruleset": "shenzhen-yantian"}),
    ("/v1/assessments", {"ruleset": "shenzhen-yantian@2023", "fiscal_year": 2023}),
    ("/v1/assessments", {"grade": "优"}),
    ("/v1/assessments", {"kind": "third_party"}),
    ("/v1/assessments", {"status": "incomplete"}),
    ("/v1/assessments", {"limit": 1, "cursor": "next"}),
    ("/v1/cohorts", {"ruleset": "shenzhen-yantian", "fiscal_year": 2023}),
    ("/v1/cohorts", {"ruleset": "shenzhen-yantian", "fiscal_year": 2023, "region": "广东省深圳市盐田区"}),
    ("/v1/cohorts", {"ruleset": "shenzhen-yantian", "fiscal_year": 2023, "parent_id": "{bureau}"}),
    ("/v1/assessments", {"project_id": "{project}"}),
    ("/v1/assessments", {"project_id": "{project}", "fiscal_year": 2023}),
    ("/v1/cohorts", {"ruleset": "national-project", "fiscal_year": 2023, "unit_id": "{school}"}),
    ("/v1/units/{school}/projects", {}),
    ("/v1/units/{school}/projects", {"fiscal_year": 2023}),
    ("/v1/units/{school}/projects", {"limit": 1, "cursor": "next"}),
    ("/v1/units/{school}/projects:summary", {"fiscal_year": 2023}),
    ("/v1/audit-log", {}),
    ("/v1/audit-log", {"method": "POST", "status": 201}),
    ("/v1/audit-log", {"refused": "true"}),
]


@pytest.mark.parametrize(("path", "query"), LISTINGS, ids=[f"{p} {sorted(q)}" for p, q in LISTINGS])
@pytest.mark.parametrize("caller", ["owner", "firm"])
def test_listings_are_index_backed(client, world, captured, path: str, query: dict[str, Any], caller: str) -> None:  # type: ignore[no-untyped-def]
    if caller == "firm" and path == "/v1/audit-log":
        pytest.skip("the audit log is the admin's; the firm key has no admin scope")
    headers = world["firm"] if caller == "firm" else {}
    ids = {"bureau": world["bureau"]["id"], "school": world["school"]["id"], "project": world["project"]["id"]}
    path = path.format(**ids)
    params = {k: (v.format(**ids) if isinstance(v, str) else v) for k, v in query.items()}
    if params.get("cursor") == "next":
        params.pop("cursor")
        first = client.get(path, params=params, headers=headers)
        assert first.status_code == 200
        if not first.json()["next_cursor"]:
            pytest.skip("a single page: no cursor to follow")
        params["cursor"] = first.json()["next_cursor"]
    captured.clear()
    r = client.get(path, params=params, headers=headers)
    assert r.status_code == 200, r.text[:300]
    listing = [(s, p) for s, p in captured if any(t in s for t in ("FROM units", "FROM assessments", "FROM audit_log", "JOIN units", "JOIN assessments",
                                                               "FROM projects", "JOIN projects"))]
    assert listing, "no listing statement captured"
    problems = {f"{msg}: {stmt[:160]}" for stmt, params_ in listing for msg in _problems(stmt, params_)}
    assert not problems, "\n".join(sorted(problems))


def test_the_check_finds_a_sequential_scan(client, world) -> None:  # type: ignore[no-untyped-def]
    """The check above can fail: a filter no index serves is reported."""
    found = _problems("SELECT id FROM assessments WHERE evaluator = %(e)s", {"e": "x"})
    assert found == ["sequential scan of assessments"]
