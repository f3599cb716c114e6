"""Database models (SQLAlchemy 2, typed). Schema changes go through Alembic only."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from app.db.packed import pack, unpack

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JsonB = JSON().with_variant(JSONB(), "postgresql")


class PackedJSON(TypeDecorator[Any]):
    """A JSON document stored as an LZ4 frame in a ``bytea`` column (see app.db.packed).

    Binds a document (dict, list, ...) or its stored form (``bytes``, from :func:`pack`, written as
    is); reads the document."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None or isinstance(value, bytes):
            return value
        return pack(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else unpack(bytes(value))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _now() -> Any:
    return func.now()


class Unit(Base):
    """A budget unit (预算单位): a school, a bureau, an IT centre."""

    __tablename__ = "units"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="RESTRICT"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())

    __table_args__ = (
        UniqueConstraint("tenant_id", "code", name="uq_units_tenant_code"),
        Index("ix_units_tenant_region_code", "tenant_id", "region", "code"),
        Index("ix_units_tenant_parent_code", "tenant_id", "parent_id", "code"),
        Index("ix_units_tenant_kind_code", "tenant_id", "kind", "code"),
    )


class Submission(Base):
    """One version of a unit's data for one fiscal year. Rows are never updated."""

    __tablename__ = "submissions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="RESTRICT"))
    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    fiscal_year: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    facts: Mapped[dict[str, Any]] = mapped_column(JsonB)
    answers: Mapped[dict[str, Any]] = mapped_column(JsonB)
    overrides: Mapped[dict[str, Any]] = mapped_column(JsonB)
    note: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())

    __table_args__ = (
        UniqueConstraint("unit_id", "fiscal_year", "version", name="uq_submissions_unit_year_version"),
        CheckConstraint("version >= 1", name="version_positive"),
    )


class Project(Base):
    """A project (项目支出) of a unit: each fiscal year it runs gets a 自评表 (migration 0012)."""

    __tablename__ = "projects"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="RESTRICT"))
    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    #: 主管部门
    department: Mapped[str] = mapped_column(String(200))
    #: 实施单位
    implementer: Mapped[str] = mapped_column(String(200))
    #: 资金性质 (一般公共预算, 政府性基金, 上级转移支付 ...)
    fund_nature: Mapped[str] = mapped_column(String(100))
    fiscal_years: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())

    __table_args__ = (
        UniqueConstraint("unit_id", "code", name="uq_projects_unit_code"),
        Index("ix_projects_tenant_unit_code", "tenant_id", "unit_id", "code"),
    )


class ProjectSubmission(Base):
    """One version of a project's 自评表 data for one fiscal year. Rows are never updated."""

    __tablename__ = "project_submissions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="RESTRICT"))
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"))
    #: the project's unit (the engagements and row-level security read it, as for a unit's submission)
    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    fiscal_year: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    #: the 自评表's data in stored form (funds, goals, indicator rows, claimed scores)
    content: Mapped[dict[str, Any]] = mapped_column(JsonB)
    note: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())

    __table_args__ = (
        UniqueConstraint("project_id", "fiscal_year", "version", name="uq_project_submissions_project_year_version"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_project_submissions_unit_year", "unit_id", "fiscal_year"),
    )


class RulesetVersion(Base):
    """A ruleset version registered through the API (built-ins live in rulesets/)."""

    __tablename__ = "rulesets"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    region: Mapped[str] = mapped_column(String(100))
    fiscal_years: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    content: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())

    __table_args__ = (UniqueConstraint("tenant_id", "name", "version", name="uq_rulesets_tenant_name_version"),)


class Assessment(Base):
    """A scored, immutable assessment pinned to a ruleset version and its content hash."""

    __tablename__ = "assessments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    #: the unit owner's tenant (the assessment is part of the unit's record)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="RESTRICT"))
    #: the tenant whose key made it (an audit firm's, under an engagement)
    assessed_by_tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="RESTRICT"))
    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    fiscal_year: Mapped[int] = mapped_column(Integer)
    #: the unit's submission scored (null when the subject is a project: migration 0012)
    submission_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("submissions.id", ondelete="RESTRICT"))
    #: the project scored, a project of ``unit_id``, and its submission (both null for a unit's assessment)
    project_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"))
    project_submission_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("project_submissions.id", ondelete="RESTRICT"))
    submission_version: Mapped[int] = mapped_column(Integer)
    ruleset_name: Mapped[str] = mapped_column(String(64))
    ruleset_version: Mapped[str] = mapped_column(String(32))
    ruleset_hash: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16))
    evaluator: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    total: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    grade: Mapped[str | None] = mapped_column(String(8))
    # Stored exactly as computed (key order kept, so a read returns the very document the POST
    # answered), never queried inside, LZ4-compressed in the row (app.db.packed, migration 0005).
    inputs: Mapped[dict[str, Any]] = mapped_column(PackedJSON)
    result: Mapped[dict[str, Any]] = mapped_column(PackedJSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())

    __table_args__ = (
        CheckConstraint("kind IN ('self', 'third_party')", name="kind_known"),
        CheckConstraint("(project_id IS NULL AND project_submission_id IS NULL AND submission_id IS NOT NULL) OR "
                        "(project_id IS NOT NULL AND project_submission_id IS NOT NULL AND submission_id IS NULL)",
                        name="one_subject"),
        Index("ix_assessments_project_year_created", "project_id", "fiscal_year", "created_at", "id"),
        Index("ix_assessments_unit_year_created", "unit_id", "fiscal_year", "created_at", "id"),
        Index("ix_assessments_ruleset_year", "ruleset_name", "fiscal_year", "created_at", "id"),
        Index("ix_assessments_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_assessments_tenant_grade_created", "tenant_id", "grade", "created_at", "id"),
        Index("ix_assessments_tenant_kind_created", "tenant_id", "kind", "created_at", "id"),
        Index("ix_assessments_assessor_created", "assessed_by_tenant_id", "created_at", "id"),
    )


class IdempotencyRecord(Base):
    """The successful answer to a POST carrying an Idempotency-Key, stored in the transaction of its
    effect (app.api.idempotency). Keyed by the API key that made the request; expires."""

    __tablename__ = "idempotency_keys"

    key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True)
    route: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    request_hash: Mapped[str] = mapped_column(String(80))
    status_code: Mapped[int] = mapped_column(Integer)
    headers: Mapped[dict[str, Any]] = mapped_column(JsonB)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)

    __table_args__ = (CheckConstraint("status_code BETWEEN 200 AND 299", name="success_only"),)


class Tenant(Base):
    """A smart-finance platform or an audit firm sharing the deployment."""

    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    #: set while the tenant is suspended: its keys are refused with 403 (migration 0008)
    suspended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    suspended_reason: Mapped[str | None] = mapped_column(String(500))


class OperatorKey(Base):
    """A key of the deployment's operator: manages tenants (``/v1/tenants``), reads no tenant's data."""

    __tablename__ = "operator_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    """An API key: only a hash of the secret is stored; the key is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class Engagement(Base):
    """A tenant grants an audit firm's tenant access to one unit for named fiscal years."""

    __tablename__ = "engagements"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner_tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    firm_tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    fiscal_years: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_engagements_firm_unit", "firm_tenant_id", "unit_id"),
        # one active grant per owner, firm, unit and set of years (two concurrent identical grants: 409)
        Index("uq_engagements_active_grant", "owner_tenant_id", "firm_tenant_id", "unit_id", "fiscal_years",
              unique=True, postgresql_where=text("revoked_at IS NULL")),
    )


class AuditEntry(Base):
    """Append-only: a trigger refuses UPDATE and DELETE (migration 0003)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tenants.id", ondelete="RESTRICT"))
    key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_keys.id", ondelete="RESTRICT"))
    method: Mapped[str] = mapped_column(String(8))
    route: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(500))
    resource_ids: Mapped[dict[str, Any]] = mapped_column(JsonB)
    status: Mapped[int] = mapped_column(Integer)
    refused: Mapped[bool] = mapped_column(Boolean)
    #: the request's X-Request-Id (migration 0007)
    request_id: Mapped[str | None] = mapped_column(String(128), index=True)
    #: what the call changed or tried to change: unit, submission, assessment, batch, key, engagement, ruleset
    resource_type: Mapped[str | None] = mapped_column(String(32))
    resource_id: Mapped[str | None] = mapped_column(String(200))
    #: the unit the call concerns, when it concerns one
    unit_id: Mapped[uuid.UUID | None] = mapped_column()

    __table_args__ = (
        Index("ix_audit_log_tenant_at", "tenant_id", "at", "id"),
        Index("ix_audit_log_tenant_unit", "tenant_id", "unit_id", "id"),
        Index("ix_audit_log_tenant_resource", "tenant_id", "resource_type", "resource_id", "id"),
        Index("ix_audit_log_tenant_key", "tenant_id", "key_id", "id"),
    )
