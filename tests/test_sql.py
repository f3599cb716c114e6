"""Fixed SQL (app.db.sql) fails exactly like SQLAlchemy statements: the same exception classes,
so the same problem responses, and the session stays usable after a rollback."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.exc import DataError, IntegrityError, ProgrammingError
from sqlalchemy.orm import Session

from app.db import sql


def test_driver_errors_become_sqlalchemy_errors(db_engine) -> None:  # type: ignore[no-untyped-def]
    with Session(db_engine) as session:
        with pytest.raises(IntegrityError) as caught:
            sql.run(session, "INSERT INTO units (id, tenant_id, code, name, kind, region) VALUES (%s, %s, 'X', 'x', 'school', 'r')",
                    (uuid.uuid4(), uuid.uuid4()))
        assert "fk_units_tenant_id_tenants" in str(caught.value)
        assert caught.value.connection_invalidated is False
        session.rollback()
        with pytest.raises(DataError):
            sql.first(session, "SELECT %s::integer", ("not a number",))
        session.rollback()
        with pytest.raises(ProgrammingError):
            sql.first(session, "SELECT no_such_column FROM units", ())
        session.rollback()
        assert sql.first(session, "SELECT 1 + %s", (1,)) == (2,)


def test_json_parameters_and_results_round_trip(db_engine) -> None:  # type: ignore[no-untyped-def]
    with Session(db_engine) as session:
        doc = {"分值": "10", "nested": [1, {"a": None}]}
        assert sql.first(session, "SELECT %s::json", (sql.dumps(doc),)) == (doc,)


def test_run_and_commit_commits_or_leaves_nothing(db_engine) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    tenant = uuid.uuid4()
    with Session(db_engine) as setup, setup.begin():
        setup.execute(text("INSERT INTO tenants (id, name) VALUES (:id, :name)"), {"id": tenant, "name": f"t-{tenant}"})
    insert = "INSERT INTO units (id, tenant_id, code, name, kind, region) VALUES (%s, %s, %s, 'x', 'school', 'r')"

    def count(code: str) -> int:
        with db_engine.connect() as other:
            return int(other.execute(text("SELECT count(*) FROM units WHERE code = :c"), {"c": code}).scalar_one())

    with Session(db_engine) as session:
        sql.run(session, insert, (uuid.uuid4(), tenant, "RC1"))  # earlier work of the same transaction
        sql.run_and_commit(session, insert, (uuid.uuid4(), tenant, "RC2"))
        assert (count("RC1"), count("RC2")) == (1, 1)  # committed before the session's own commit
        session.commit()  # nothing left to do, and no error
        assert sql.first(session, "SELECT 1", ()) == (1,)  # a new transaction works

    with Session(db_engine) as session:
        sql.run(session, insert, (uuid.uuid4(), tenant, "RC3"))
        with pytest.raises(IntegrityError):  # unknown tenant: the statement fails, the COMMIT is skipped
            sql.run_and_commit(session, insert, (uuid.uuid4(), uuid.uuid4(), "RC4"))
        session.rollback()
        assert (count("RC3"), count("RC4")) == (0, 0)
        assert sql.first(session, "SELECT 1 + %s", (1,)) == (2,)


def test_autocommit_writes_each_statement_alone_and_gives_the_connection_back_transactional(db_engine) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    tenant = uuid.uuid4()
    with Session(db_engine) as setup, setup.begin():
        setup.execute(text("INSERT INTO tenants (id, name) VALUES (:id, :name)"), {"id": tenant, "name": f"t-{tenant}"})
    insert = "INSERT INTO units (id, tenant_id, code, name, kind, region) VALUES (%s, %s, %s, 'x', 'school', 'r')"
    with Session(db_engine) as session:
        with sql.autocommit(session):
            driver = session.connection().connection.driver_connection
            assert driver.autocommit is True
            sql.run(session, insert, (uuid.uuid4(), tenant, "AC1"))  # committed by itself
            with pytest.raises(IntegrityError):
                sql.run(session, insert, (uuid.uuid4(), uuid.uuid4(), "AC2"))  # fails alone
            assert sql.first(session, "SELECT count(*) FROM units WHERE code IN ('AC1', 'AC2')", ()) == (1,)
        assert driver.autocommit is False
        session.rollback()
    with db_engine.connect() as other:
        assert other.execute(text("SELECT count(*) FROM units WHERE code IN ('AC1', 'AC2')")).scalar_one() == 1
