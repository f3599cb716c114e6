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
        Index("ix_audit_log_tenant_id", "tenant_id", "id"),
        Index("ix_audit_log_tenant_unit", "tenant_id", "unit_id", "id"),
        Index("ix_audit_log_tenant_resource", "tenant_id", "resource_type", "resource_id", "id"),
        Index("ix_audit_log_tenant_key", "tenant_id", "key_id", "id"),
    )


# --------------------------------------------------------------------------- jobs (migration 0010)

#: a job's states, in the order it can pass through them (app.jobs)
JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")
JOB_KINDS = ("assessments", "rescore")


class Job(Base):
    """Asynchronous work of a tenant (app.jobs): its kind, state, counts and times. The work is done
    chunk by chunk by queue workers; the counts move as each chunk commits."""

    __tablename__ = "jobs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    #: the API key that made it (its chunks are audited as that key)
    key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    #: what a rescore scores (ruleset, fiscal year, cohort); {} for assessments
    params: Mapped[dict[str, Any]] = mapped_column(JsonB)
    #: the X-Request-Id of the request that made it (its chunks' audit entries carry it too)
    request_id: Mapped[str | None] = mapped_column(String(128))
    items_total: Mapped[int] = mapped_column(Integer)
    chunk_size: Mapped[int] = mapped_column(Integer)
    chunks_total: Mapped[int] = mapped_column(Integer)
    chunks_done: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    stored: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    refused: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    #: why it failed
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(f"state IN {JOB_STATES}", name="state"),
        CheckConstraint(f"kind IN {JOB_KINDS}", name="kind"),
        Index("ix_jobs_tenant_created", "tenant_id", "created_at", "id"),
    )


class JobChunk(Base):
    """A chunk of a job: its items as sent (assessments) or its units (rescore), stored with the job,
    and when its task was queued and done."""

    __tablename__ = "job_chunks"

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    chunk: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    #: the index of its first item in the job
    first_item: Mapped[int] = mapped_column(Integer)
    #: its items: an LZ4 frame (app.db.packed) of NDJSON lines (an item each, as sent) or of unit ids
    items: Mapped[bytes] = mapped_column(LargeBinary)
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class JobItem(Base):
    """One item's outcome: stored (its assessment) or refused (its problem). One row per (job, item):
    the primary key is what makes a retried chunk unable to store an item twice."""

    __tablename__ = "job_items"

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    item: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    #: 201 when stored, else the problem's status
    status: Mapped[int] = mapped_column(Integer)
    assessment_id: Mapped[uuid.UUID | None] = mapped_column()
    #: the item's answer, as a batch item's (app.assessments.schemas.BatchItemResult)
    result: Mapped[dict[str, Any]] = mapped_column(JsonB)


class WebhookEndpoint(Base):
    """Where a tenant receives events (app.webhooks, migration 0011). The signing secret is kept
    encrypted (app.webhooks.secrets): it is needed to sign, so it cannot be a hash."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(500))
    events: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    enabled: Mapped[bool] = mapped_column(Boolean)
    #: the Fernet token of the current secret
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    #: the secret before the last rotation: deliveries are signed with both until it expires
    previous_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: why and when the service disabled it (deliveries kept failing); cleared when re-enabled
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())

    __table_args__ = (Index("ix_webhook_endpoints_tenant_created", "tenant_id", "created_at", "id"),)


class WebhookEvent(Base):
    """The outbox: an event, written in the transaction of the change it tells of, only for a tenant
    with an enabled endpoint listening to its type. Its id is the deliveries' ``webhook-id``."""

    __tablename__ = "webhook_events"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JsonB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())

    __table_args__ = (Index("ix_webhook_events_tenant_created", "tenant_id", "created_at", "id"),)


class WebhookDelivery(Base):
    """One event to one endpoint: pending until an attempt succeeds or the retries end."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    #: the number of the attempt the queue holds a job for: a job of an older number (superseded by a
    #: manual redelivery) does nothing
    scheduled_try: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), server_default=_now())
    last_status: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())

    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_event"),
        CheckConstraint("state IN ('pending', 'succeeded', 'failed')", name="state_known"),
        Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at", "id"),
        # the backlog (/metrics) and a sweep of deliveries whose job was lost read only pending ones
        Index("ix_webhook_deliveries_pending", "next_attempt_at", postgresql_where=text("state = 'pending'")),
    )


class WebhookAttempt(Base):
    """One HTTP attempt of a delivery: the delivery log (the latest ``WEBHOOK_LOG_PER_ENDPOINT`` per
    endpoint are kept, with at most 1 KiB of the receiver's answer)."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    #: succeeded, http_error, timeout, connection_error, refused_destination
    outcome: Mapped[str] = mapped_column(String(32))
    status: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    response_excerpt: Mapped[str | None] = mapped_column(String(1024))
    error: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        Index("ix_webhook_attempts_endpoint", "endpoint_id", "id"),
        Index("ix_webhook_attempts_delivery", "delivery_id", "id"),
    )


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's filter of database objects to compare with these models: procrastinate's own tables
    (the job queue, created by migration 0010 from its schema file) are not models."""
    return not (type_ == "table" and (name or "").startswith("procrastinate_"))
