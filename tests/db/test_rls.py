"""Row-level security (migration 0009): PostgreSQL itself keeps tenants apart.

Each test runs SQL as the service's role (JIXIAO_DB_APP_ROLE, through the service's own engine)
without the data layer's tenant conditions, and checks that only the tenant set for the
transaction (or an audit firm's granted units and years) comes back; the fixture's view of the
rows is the owner's (a superuser, outside row-level security).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, ProgrammingError

from tests.api.factories import (
    assess,
    create_project,
    create_unit,
    project_sheet,
    put_project_submission,
    put_submission,
    seed,
)
from tests.api.test_rulesets import _custom
from tests.conftest import ALL_SCOPES, make_key

#: every tenant-owned table and the column naming its tenant
TENANT_COLUMN = {"units": "tenant_id", "submissions": "tenant_id", "assessments": "tenant_id",
                 "rulesets": "tenant_id", "engagements": "owner_tenant_id", "api_keys": "tenant_id",
                 "idempotency_keys": "tenant_id", "audit_log": "tenant_id", "projects": "tenant_id",
                 "project_submissions": "tenant_id"}


def _client(key: str) -> TestClient:
    from app.main import app

    return TestClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {key}"})


def _populate(c: TestClient, firm_id: str | None = None) -> dict[str, Any]:
    """A tenant's rows in every tenant-owned table, through the API; an engagement for the firm."""
    data = seed("001")
    unit = create_unit(c, name=data["unit"]["name"])
    other = create_unit(c)
    for u in (unit, other):
        assert put_submission(c, u["id"], 2023, data).status_code == 201
    assert put_submission(c, unit["id"], 2024, data).status_code == 201
    a = c.post("/v1/assessments", headers={"Idempotency-Key": "k1"}, json={
        "unit_id": unit["id"], "fiscal_year": 2023, "ruleset": "shenzhen-yantian@2023", "kind": "self",
        "evaluator": "测试"})
    assert a.status_code == 201, a.text
    assert assess(c, other["id"], 2023, "shenzhen-yantian@2023").status_code == 201
    project = create_project(c, unit["id"])  # type: ignore[arg-type]
    assert put_project_submission(c, unit["id"], project["id"], 2023, project_sheet()).status_code == 201  # type: ignore[arg-type]
    assert c.post("/v1/rulesets", json={"content": _custom()}).status_code == 201
    assert c.post("/v1/keys", json={"name": "spare", "scopes": ["read"]}).status_code == 201
    out = {"unit": unit["id"], "other": other["id"], "assessment": a.json()["id"]}
    if firm_id is not None:
        e = c.post("/v1/engagements", json={"firm_tenant_id": firm_id, "unit_id": unit["id"], "fiscal_years": [2023]})
        assert e.status_code == 201, e.text
        out["engagement"] = e.json()["id"]
    return out


class _As:
    """One test client (one app lifespan) that calls as whichever key it is given."""

    def __init__(self, client: TestClient, key: str) -> None:
        self.client, self.key = client, key

    def __getattr__(self, method: str) -> Any:
        def call(url: str, **kw: Any) -> Any:
            headers = {"Authorization": f"Bearer {self.key}", **kw.pop("headers", {})}
            return getattr(self.client, method)(url, headers=headers, **kw)
        return call


@pytest.fixture
def tenants(db_engine) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Tenants A and B with rows everywhere, and F, an audit firm engaged by A for one unit and 2023
    (B engages another firm)."""
    a_id, a_key = make_key("tenant-a", ALL_SCOPES)
    b_id, b_key = make_key("tenant-b", ALL_SCOPES)
    f_id, f_key = make_key("firm-f", ALL_SCOPES)
    g_id, _ = make_key("firm-g", ["read"])  # engaged by B
    with _client(a_key) as client:
        a, b, f = _As(client, a_key), _As(client, b_key), _As(client, f_key)
        rows_a = _populate(a, firm_id=f_id)  # type: ignore[arg-type]
        rows_b = _populate(b, firm_id=g_id)  # type: ignore[arg-type]
        r = assess(f, rows_a["unit"], 2023, "shenzhen-yantian@2023", kind="third_party")  # type: ignore[arg-type]
        assert r.status_code == 201, r.text
        yield {"a": a_id, "b": b_id, "f": f_id, "a_key": a_key, "b_key": b_key, "f_key": f_key,
               "rows_a": rows_a, "rows_b": rows_b, "firm_assessment": r.json()["id"], "client_a": a}


def _as(conn: Connection, tenant: str | None) -> Connection:
    """The connection's transaction as ``tenant`` (the service's setting), or as nobody."""
    if tenant is not None:
        conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": tenant})
    return conn


def _owner_count(db_engine, table: str, column: str, tenant: str) -> int:  # type: ignore[no-untyped-def]
    with db_engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table} WHERE {column} = :t"), {"t": tenant}).scalar_one())


def test_the_service_runs_as_a_role_row_level_security_applies_to(database):
    from app.db.session import get_engine

    with get_engine().connect() as conn:
        user, superuser, bypass = conn.execute(text(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")).one()
        conn.execute(text("RESET ROLE"))  # the role is the session's default, not a SET on top of it
        assert conn.execute(text("SELECT current_user")).scalar_one() == user
    assert user == "jixiao_app"
    assert not superuser
    assert not bypass


def test_every_table_with_a_tenant_column_forces_row_level_security(database):
    """A table added later with a tenant column and no policy fails here."""
    from app.db.session import get_owner_engine

    with get_owner_engine().connect() as conn:
        rows = conn.execute(text(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
            "(SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r' AND EXISTS (SELECT 1 FROM pg_attribute a "
            "WHERE a.attrelid = c.oid AND a.attname LIKE '%tenant_id' AND NOT a.attisdropped)")).all()
    assert {r[0] for r in rows} >= set(TENANT_COLUMN)
    for name, enabled, forced, policies in rows:
        assert enabled, name
        assert forced, name
        assert policies, name


@pytest.mark.parametrize("table", sorted(TENANT_COLUMN))
def test_unfiltered_sql_as_a_tenant_sees_none_of_another_tenants_rows(tenants, db_engine, table):
    from app.db.session import get_engine

    column = TENANT_COLUMN[table]
    for me, other in (("a", "b"), ("b", "a")):
        with get_engine().connect() as conn:
            seen = [r[0] for r in _as(conn, tenants[me]).execute(text(f"SELECT {column} FROM {table}"))]
        mine = _owner_count(db_engine, table, column, tenants[me])
        assert mine > 0, (table, me)  # the fixture wrote rows of both tenants there
        assert _owner_count(db_engine, table, column, tenants[other]) > 0
        assert str(tenants[other]) not in {str(t) for t in seen}, table
        assert len(seen) == mine, table


@pytest.mark.parametrize("table", sorted(TENANT_COLUMN))
def test_no_tenant_set_sees_nothing(tenants, table):
    from app.db.session import get_engine

    with get_engine().connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0
        _as(conn, "")  # set, but empty (what a reverted setting reads as)
        assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0


def test_a_query_missing_its_tenant_condition_returns_nothing_foreign(tenants):
    """The hot path's own lookup with its tenant condition cut out, and an ORM query with the data
    layer's scoping switched off, both as tenant A, asking for B's rows by id."""
    from app.assessments import service
    from app.db.models import Assessment, Submission, Unit
    from app.db.session import get_sessionmaker

    unscoped = service._UNIT_AND_SUBMISSION.replace(
        "(u.tenant_id = %(tenant)s OR EXISTS (", "(true OR EXISTS (")
    assert unscoped != service._UNIT_AND_SUBMISSION
    b_unit = tenants["rows_b"]["unit"]
    with get_sessionmaker()() as session, session.begin():
        from app.auth.scoping import set_tenant
        from app.db import sql

        set_tenant(session, uuid.UUID(tenants["a"]))
        params = {"unit": b_unit, "year": 2023, "tenant": tenants["a"]}
        assert sql.first(session, unscoped, params) is None
        assert sql.first(session, unscoped, {**params, "unit": tenants["rows_a"]["unit"]}) is not None
        for model in (Unit, Submission, Assessment):
            rows = session.scalars(select(model).execution_options(skip_tenant_scope=True)).all()
            assert rows, model
            assert {str(r.tenant_id) for r in rows} == {tenants["a"]}, model
        assert session.get(Unit, uuid.UUID(b_unit)) is None


def test_the_hot_path_statements_are_covered_like_the_orm(tenants):
    """app.db.sql.first_with_key and run_in_tenant in autocommit mode (POST /v1/assessments)."""
    from app.db import sql
    from app.db.session import get_sessionmaker

    prefix = tenants["a_key"][: len("jx_") + 8]
    probe = "SELECT id, tenant_id FROM units WHERE id = %(unit)s"
    with get_sessionmaker()() as session, sql.autocommit(session):
        key, row = sql.first_with_key(session, prefix, probe, {"unit": tenants["rows_b"]["unit"]})
        assert key is not None
        assert str(key[1]) == tenants["a"]
        assert row is None  # B's unit, no tenant condition in the statement
        _, row = sql.first_with_key(session, prefix, probe, {"unit": tenants["rows_a"]["unit"]})
        assert row is not None
        assert str(row[1]) == tenants["a"]
        key, row = sql.first_with_key(session, "jx_00000000", probe, {"unit": tenants["rows_a"]["unit"]})
        assert key is None
        assert row is None
        insert = ("INSERT INTO units (id, tenant_id, code, name, kind, region) "
                  "VALUES (%(id)s, %(tenant)s, %(code)s, 'x', 'school', 'x')")
        with pytest.raises(ProgrammingError, match="row-level security"):
            sql.run_in_tenant(session, tenants["a"], insert,
                              {"id": uuid.uuid4(), "tenant": tenants["b"], "code": "FORGED"})
        sql.run_in_tenant(session, tenants["a"], insert,
                          {"id": uuid.uuid4(), "tenant": tenants["a"], "code": "MINE"})
        # nothing of the messages' tenant is left on the connection
        assert session.execute(text("SELECT count(*) FROM units")).scalar_one() == 0


def test_an_audit_firm_sees_only_its_granted_units_and_years(tenants, db_engine):
    from app.db.session import get_engine

    rows_a = tenants["rows_a"]
    with get_engine().connect() as conn:
        _as(conn, tenants["f"])
        units = {str(r[0]) for r in conn.execute(text("SELECT id FROM units WHERE tenant_id <> :f"),
                                                  {"f": tenants["f"]})}
        assert units == {rows_a["unit"]}  # not A's other unit, nothing of B
        years = [r[0] for r in conn.execute(text("SELECT fiscal_year FROM submissions WHERE tenant_id <> :f"),
                                            {"f": tenants["f"]})]
        assert years == [2023]  # the unit's 2024 submission is not granted
        seen = {str(r[0]) for r in conn.execute(text("SELECT id FROM assessments"))}
        assert seen == {rows_a["assessment"], tenants["firm_assessment"]}
        assert conn.execute(text("SELECT count(*) FROM engagements")).scalar_one() == 1
        # the granted unit's project and its 2023 submission, nothing of B's
        assert {str(r[0]) for r in conn.execute(text("SELECT unit_id FROM projects"))} == {rows_a["unit"]}
        assert [r[0] for r in conn.execute(text("SELECT fiscal_year FROM project_submissions"))] == [2023]
        for table in ("rulesets", "api_keys", "idempotency_keys", "audit_log"):
            owners = {str(r[0]) for r in conn.execute(text(f"SELECT {TENANT_COLUMN[table]} FROM {table}"))}
            assert owners <= {tenants["f"]}, table
    # revoked: the very next statement sees none of it
    c = tenants["client_a"]
    assert c.post(f"/v1/engagements/{rows_a['engagement']}:revoke").status_code == 200
    with get_engine().connect() as conn:
        _as(conn, tenants["f"])
        assert conn.execute(text("SELECT count(*) FROM units")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM submissions")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM projects")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM project_submissions")).scalar_one() == 0
        ids = {str(r[0]) for r in conn.execute(text("SELECT id FROM assessments"))}
        assert ids == {tenants["firm_assessment"]}  # only the assessment it made itself (issue 18)


def test_a_firm_cannot_write_an_engaged_units_data_nor_assess_an_ungranted_unit(tenants):
    from app.db.session import get_engine

    rows_a = tenants["rows_a"]
    submission = ("INSERT INTO submissions (id, tenant_id, unit_id, fiscal_year, version, facts, answers, "
                  "overrides, content_hash) VALUES (gen_random_uuid(), :a, :u, 2023, 9, '{}', '{}', '{}', 'x')")
    # a copy of the firm's own third-party assessment, moved to A's other unit (not granted)
    assessment = ("INSERT INTO assessments SELECT (jsonb_populate_record(a, jsonb_build_object("
                  "'id', gen_random_uuid(), 'unit_id', CAST(:u AS uuid)))).* FROM assessments a WHERE a.id = :id")
    with get_engine().connect() as conn:
        _as(conn, tenants["f"])
        conn.execute(text("SAVEPOINT s"))
        with pytest.raises(DBAPIError, match="row-level security"):
            conn.execute(text(submission), {"a": tenants["a"], "u": rows_a["unit"]})
        conn.execute(text("ROLLBACK TO SAVEPOINT s"))
        with pytest.raises(DBAPIError, match="row-level security"):
            conn.execute(text(assessment), {"u": rows_a["other"], "id": tenants["firm_assessment"]})


def test_a_pooled_connection_does_not_carry_the_previous_tenant(tenants, db_engine):
    """A connection that carried tenant A on the session level (an ORM statement in autocommit
    mode) goes back to the pool without it: the next request on it, as tenant B or as nobody,
    sees nothing of A's."""
    from sqlalchemy.orm import sessionmaker

    from app.auth.scoping import set_tenant
    from app.db import sql
    from app.db.models import Unit
    from app.db.session import make_engine
    from app.settings import get_settings

    settings = get_settings().model_copy(update={"db_pool_size": 1, "db_max_overflow": 0})
    engine = make_engine(get_settings().database_url or "", settings)  # one connection, reused
    make = sessionmaker(bind=engine, expire_on_commit=False)
    try:
        with make() as session, sql.autocommit(session):
            set_tenant(session, uuid.UUID(tenants["a"]))
            units = session.scalars(select(Unit)).all()
            assert {str(u.tenant_id) for u in units} == {tenants["a"]}
            assert session.execute(text("SELECT current_setting('app.tenant_id')")).scalar_one() == tenants["a"]
            first = session.connection().connection.dbapi_connection
        with engine.connect() as conn:  # the next checkout: the same connection, no tenant
            assert conn.connection.dbapi_connection is first
            assert conn.execute(text("SELECT coalesce(current_setting('app.tenant_id', true), '')")).scalar_one() == ""
            assert conn.execute(text("SELECT count(*) FROM units")).scalar_one() == 0
        with make() as session, session.begin():  # another tenant's request on it
            set_tenant(session, uuid.UUID(tenants["b"]))
            assert session.connection().connection.dbapi_connection is first
            owners = {str(u.tenant_id) for u in session.scalars(select(Unit).execution_options(skip_tenant_scope=True))}
            assert owners == {tenants["b"]}
    finally:
        engine.dispose()


def test_the_service_leaves_no_tenant_on_its_pooled_connections(tenants, db_engine):
    """After requests of every kind (ORM routes, POST /v1/assessments with and without an ORM
    fallback, a refused key), no pooled connection of the service carries a tenant."""
    from app.db.session import get_engine

    c = tenants["client_a"]
    unit = tenants["rows_a"]["unit"]
    assert assess(c, unit, 2023, "shenzhen-yantian@2023").status_code == 201
    assert assess(c, unit, 2023, "shenzhen-yantian").status_code == 201  # the ruleset resolved through the ORM
    assert assess(c, str(uuid.uuid4()), 2023, "shenzhen-yantian@2023").status_code == 404
    assert c.get("/v1/units").status_code == 200
    bad = tenants["a_key"][:-4] + "AAAA"
    refusals = "SELECT count(*) FROM audit_log WHERE refused AND status = 401"
    with db_engine.connect() as conn:
        before = conn.execute(text(refusals)).scalar_one()
    assert c.get("/v1/units", headers={"Authorization": f"Bearer {bad}"}).status_code == 401
    with db_engine.connect() as conn:  # its refusal was recorded (as no tenant)
        assert conn.execute(text(refusals)).scalar_one() == before + 1
    engine = get_engine()
    conns = [engine.connect() for _ in range(engine.pool.checkedin())]  # type: ignore[attr-defined]
    try:
        assert conns
        for conn in conns:
            assert conn.execute(text("SELECT coalesce(current_setting('app.tenant_id', true), '')")).scalar_one() == ""
            assert conn.execute(text("SELECT count(*) FROM units")).scalar_one() == 0
    finally:
        for conn in conns:
            conn.close()


def test_batch_copy_is_checked_by_the_policies(tenants):
    """Batches COPY into a staging table and move the rows with INSERT … SELECT, which the
    policies check: a row of another tenant fails the statement."""
    from app.auth.scoping import set_tenant
    from app.db import sql
    from app.db.models import Unit
    from app.db.session import get_sessionmaker

    def row(tenant: str, code: str) -> dict[str, Any]:
        return {"id": uuid.uuid4(), "tenant_id": uuid.UUID(tenant), "code": code, "name": "x", "kind": "school",
                "region": "x"}

    with get_sessionmaker()() as session, session.begin():
        set_tenant(session, uuid.UUID(tenants["a"]))
        sql.copy_rows(session, Unit, [row(tenants["a"], "C1"), row(tenants["a"], "C2")])
        sql.copy_rows(session, Unit, [row(tenants["a"], "C3")])  # the staging table again, empty
        codes = set(session.scalars(select(Unit.code)))
        assert {"C1", "C2", "C3"} <= codes
    with get_sessionmaker()() as session, session.begin():
        set_tenant(session, uuid.UUID(tenants["a"]))
        with pytest.raises(ProgrammingError, match="row-level security"):
            sql.copy_rows(session, Unit, [row(tenants["a"], "C4"), row(tenants["b"], "C5")])


def test_key_verification_works_before_the_tenant_is_known(tenants):
    from app.auth.keys import verify
    from app.db.session import get_sessionmaker

    with get_sessionmaker()() as session:
        assert session.execute(text("SELECT count(*) FROM api_keys")).scalar_one() == 0  # not by reading the table
        principal = verify(session, tenants["b_key"])
        assert principal is not None
        assert str(principal.tenant_id) == tenants["b"]
        assert verify(session, tenants["b_key"][:-1] + "x") is None
        session.rollback()
        # jixiao_key returns the one key of an exact prefix, never a list
        assert session.execute(text("SELECT count(*) FROM jixiao_key('jx_%')")).scalar_one() == 0


def test_cli_keys_create_and_list_work(db_engine):
    from typer.testing import CliRunner

    from app.cli import app as cli

    runner = CliRunner()
    created = runner.invoke(cli, ["keys", "create", "--tenant", "cli-tenant", "--scopes", "read"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    listed = runner.invoke(cli, ["keys", "list", "--tenant", "cli-tenant"])
    assert listed.exit_code == 0
    assert key[: len("jx_") + 8] in listed.stdout
    with _client(key) as c:
        assert c.get("/v1/units").status_code == 200


def test_post_assessments_still_takes_two_round_trips(tenants, monkeypatch):
    """Row-level security costs the hot path no round trip: the key with the unit's submission
    (a pipeline of two statements, one Sync, the first setting the tenant), then the row with its
    audit entry (one statement that sets its tenant first); no BEGIN/COMMIT."""
    import psycopg

    c = tenants["client_a"]
    unit = tenants["rows_a"]["unit"]
    assert assess(c, unit, 2023, "shenzhen-yantian@2023").status_code == 201
    trips: list[list[str]] = []  # what each round trip sent
    execute, pipeline = psycopg.Cursor.execute, psycopg.Connection.pipeline

    def counting_execute(self, query, params=None, **kw):  # type: ignore[no-untyped-def]
        if self.connection._pipeline is None:
            trips.append([])
        trips[-1].append(str(query))
        return execute(self, query, params, **kw)

    def counting_pipeline(self):  # type: ignore[no-untyped-def]
        trips.append([])
        return pipeline(self)

    monkeypatch.setattr(psycopg.Cursor, "execute", counting_execute)
    monkeypatch.setattr(psycopg.Connection, "pipeline", counting_pipeline)
    assert assess(c, unit, 2023, "shenzhen-yantian@2023").status_code == 201
    assert len(trips) == 2, trips
    (key, lookup), (insert,) = trips
    assert "jixiao_key(" in key
    assert "set_config('app.tenant_id', k.tenant_id::text, true)" in key
    assert "FROM submissions s JOIN units u" in lookup
    assert insert.startswith("WITH jixiao_tenant AS MATERIALIZED (SELECT set_config('app.tenant_id'")
    assert "INSERT INTO assessments" in insert
    assert "INSERT INTO audit_log" in insert


def test_run_in_tenant_commits_or_leaves_nothing(db_engine) -> None:  # type: ignore[no-untyped-def]
    """As tests/test_sql.py checks run_and_commit (here as the owner: the outcomes, not the policies)."""
    from sqlalchemy.orm import Session

    from app.db import sql

    tenant = uuid.uuid4()
    with Session(db_engine) as setup, setup.begin():
        setup.execute(text("INSERT INTO tenants (id, name) VALUES (:id, :name)"), {"id": tenant, "name": f"t-{tenant}"})
    insert = "INSERT INTO units (id, tenant_id, code, name, kind, region) VALUES (%s, %s, %s, 'x', 'school', 'r')"
    named = ("INSERT INTO units (id, tenant_id, code, name, kind, region) "
             "VALUES (%(id)s, %(tenant)s, %(code)s, 'x', 'school', 'r')")

    def count(code: str) -> int:
        with db_engine.connect() as other:
            return int(other.execute(text("SELECT count(*) FROM units WHERE code = :c"), {"c": code}).scalar_one())

    with Session(db_engine) as session:
        sql.run(session, insert, (uuid.uuid4(), tenant, "RC1"))  # earlier work of the same transaction
        sql.run_in_tenant(session, tenant, named, {"id": uuid.uuid4(), "tenant": tenant, "code": "RC2"})
        assert (count("RC1"), count("RC2")) == (1, 1)  # committed before the session's own commit
        session.commit()  # nothing left to do, and no error
        assert sql.first(session, "SELECT 1", ()) == (1,)  # a new transaction works

    with Session(db_engine) as session:
        sql.run(session, insert, (uuid.uuid4(), tenant, "RC3"))
        with pytest.raises(IntegrityError):  # unknown tenant: the statement fails, the COMMIT is skipped
            sql.run_in_tenant(session, tenant, named, {"id": uuid.uuid4(), "tenant": uuid.uuid4(),
                                                                   "code": "RC4"})
        session.rollback()
        assert (count("RC3"), count("RC4")) == (0, 0)
        assert sql.first(session, "SELECT 1 + %s", (1,)) == (2,)

    with Session(db_engine) as session, sql.autocommit(session):  # one message: the same outcomes
        sql.run_in_tenant(session, tenant, named, {"id": uuid.uuid4(), "tenant": tenant, "code": "RC5"})
        with pytest.raises(IntegrityError):
            sql.run_in_tenant(session, tenant, named, {"id": uuid.uuid4(), "tenant": uuid.uuid4(),
                                                                   "code": "RC6"})
        assert (count("RC5"), count("RC6")) == (1, 0)
        assert sql.first(session, "SELECT 1 + %s", (1,)) == (2,)
