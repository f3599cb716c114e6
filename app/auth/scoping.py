"""Tenant scoping in the data layer: every ORM query sees only what the caller may see.

A listener on the Session adds ``with_loader_criteria`` for every tenant-owned model to
every ORM statement of a session whose ``info["principal"]`` is set. Endpoints never
filter by tenant themselves, so a new query cannot forget to. A tenant sees its own rows;
an audit firm also sees the units, submissions and assessments granted to it by an
engagement (unit and fiscal years) until the engagement is revoked, and, after that, still the
assessments it made itself.

PostgreSQL enforces the same (defence in depth): the service's connections run as a role subject
to row-level security (migration 0009, whose policies state these criteria again), and
:func:`set_tenant` tells PostgreSQL the caller's tenant for each transaction
(``set_config('app.tenant_id', …, true)``, which PostgreSQL itself reverts at the transaction's
end). With no tenant set nothing is visible. How each kind of unit of work gets it:

* a request's first transaction: the key's lookup sets it in the same statement
  (app.auth.keys.verify), :func:`set_tenant` (from app.auth.deps once the key is checked) finds it
  set and costs nothing; any later transaction of the session sets it as its first statement
  (``after_begin`` below);
* autocommit (POST /v1/assessments): the hot statements carry it themselves, still two round
  trips (app.db.sql.first_with_key, run_in_tenant); any other statement sets it on the connection
  first, and the pool's checkin takes it off again (app.db.sql.apply_pending_tenant,
  reset_tenant), so a pooled connection never carries a tenant into another request.
"""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, and_, any_, cast, event, exists, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from app.db import sql
from app.db.models import (
    ApiKey,
    Assessment,
    AuditEntry,
    Engagement,
    IdempotencyRecord,
    Job,
    JobChunk,
    JobItem,
    Project,
    ProjectSubmission,
    RulesetVersion,
    Submission,
    Unit,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)


def _granted_unit_ids(tid: uuid.UUID) -> Any:
    """The units granted to a firm, as one array (empty when none): ``x = ANY(...)`` of it is an
    index condition, evaluated once per statement. (``x IN (SELECT ...)`` under an OR becomes a
    hashed subplan that no index serves: every tenant's listing would scan the whole table.)"""
    granted = (select(func.array_agg(Engagement.unit_id))
               .where(Engagement.firm_tenant_id == tid, Engagement.revoked_at.is_(None))
               .scalar_subquery())
    return func.coalesce(granted, cast([], ARRAY(UUID)))  # ANY(array), not ANY(subquery)


@lru_cache(maxsize=4096)
def _criteria(tid: uuid.UUID) -> dict[type, Any]:
    """The loader criteria of one tenant, built once and reused by every statement."""
    granted = _granted_unit_ids(tid)

    def granted_year(cls: Any) -> Any:
        # the unit (an index condition), then its engagement's years (a filter on those rows only)
        return and_(cls.unit_id == any_(granted), exists().where(and_(
            Engagement.firm_tenant_id == tid, Engagement.revoked_at.is_(None),
            Engagement.unit_id == cls.unit_id, cls.fiscal_year == any_(Engagement.fiscal_years))))

    return {
        Unit: with_loader_criteria(Unit, or_(Unit.tenant_id == tid, Unit.id == any_(granted)), include_aliases=True),
        Submission: with_loader_criteria(
            Submission, or_(Submission.tenant_id == tid, granted_year(Submission)), include_aliases=True),
        # a project comes with its unit's engagement; its submissions with the engagement's years
        Project: with_loader_criteria(Project, or_(Project.tenant_id == tid, Project.unit_id == any_(granted)),
                                      include_aliases=True),
        ProjectSubmission: with_loader_criteria(
            ProjectSubmission, or_(ProjectSubmission.tenant_id == tid, granted_year(ProjectSubmission)),
            include_aliases=True),
        # an audit firm keeps reading the assessments it made itself after its engagement ends
        Assessment: with_loader_criteria(
            Assessment, or_(Assessment.tenant_id == tid, Assessment.assessed_by_tenant_id == tid,
                            granted_year(Assessment)), include_aliases=True),
        RulesetVersion: with_loader_criteria(RulesetVersion, RulesetVersion.tenant_id == tid, include_aliases=True),
        IdempotencyRecord: with_loader_criteria(IdempotencyRecord, IdempotencyRecord.tenant_id == tid,
                                                include_aliases=True),
        ApiKey: with_loader_criteria(ApiKey, ApiKey.tenant_id == tid, include_aliases=True),
        AuditEntry: with_loader_criteria(AuditEntry, AuditEntry.tenant_id == tid, include_aliases=True),
        WebhookEndpoint: with_loader_criteria(WebhookEndpoint, WebhookEndpoint.tenant_id == tid, include_aliases=True),
        WebhookEvent: with_loader_criteria(WebhookEvent, WebhookEvent.tenant_id == tid, include_aliases=True),
        WebhookDelivery: with_loader_criteria(WebhookDelivery, WebhookDelivery.tenant_id == tid, include_aliases=True),
        WebhookAttempt: with_loader_criteria(WebhookAttempt, WebhookAttempt.tenant_id == tid, include_aliases=True),
        Job: with_loader_criteria(Job, Job.tenant_id == tid, include_aliases=True),
        JobChunk: with_loader_criteria(JobChunk, JobChunk.tenant_id == tid, include_aliases=True),
        JobItem: with_loader_criteria(JobItem, JobItem.tenant_id == tid, include_aliases=True),
        Engagement: with_loader_criteria(
            Engagement, or_(Engagement.owner_tenant_id == tid, Engagement.firm_tenant_id == tid),
            include_aliases=True),
    }


@event.listens_for(Session, "do_orm_execute")
def _scope_to_tenant(state: ORMExecuteState) -> None:
    principal = state.session.info.get("principal")
    if principal is None or not (state.is_select or state.is_update or state.is_delete):
        return
    if state.execution_options.get("skip_tenant_scope"):
        return
    criteria = _criteria(principal.tenant_id)
    # Every scoped entity the statement may touch (joins and subqueries included) gets its criteria.
    state.statement = state.statement.options(*criteria.values())


def owns(session: Session, tenant_id: uuid.UUID) -> bool:
    """Whether the caller of this session is the owner tenant (not a firm under an engagement)."""
    principal = session.info.get("principal")
    return principal is not None and principal.tenant_id == tenant_id


def current_tenant(session: Session) -> uuid.UUID:
    principal = session.info.get("principal")
    if principal is None:
        raise RuntimeError("no principal on this session")
    return principal.tenant_id  # type: ignore[no-any-return]


# --- The tenant PostgreSQL's row-level security sees -------------------------------------------

_TENANT_TX = "tenant_tx"  # session.info: (transaction, tenant) whose setting is known to be made


def set_tenant(session: Session, tenant_id: uuid.UUID) -> None:
    """Row-level security sees ``tenant_id`` for the rest of the session's work (see the module's
    docstring): the current transaction (unless already set in it), each later one, or in
    autocommit mode each later statement."""
    session.info["tenant_id"] = tenant_id
    conn = session.connection()
    if conn.connection.driver_connection.autocommit:  # type: ignore[union-attr]
        conn.info[sql.PENDING_TENANT] = str(tenant_id)
        return
    known = session.info.get(_TENANT_TX)
    if known is None or known[0] is not conn.get_transaction() or known[1] != tenant_id:
        _set_local(session, conn, tenant_id)


def tenant_was_set(session: Session, tenant_id: uuid.UUID) -> None:
    """The statement just run set ``tenant_id`` for the session's current transaction (the key's
    lookup, app.auth.keys.verify): :func:`set_tenant` need not set it again. Not in autocommit
    mode, where the setting ended with the statement."""
    conn = session.connection()
    if not conn.connection.driver_connection.autocommit:  # type: ignore[union-attr]
        session.info[_TENANT_TX] = (conn.get_transaction(), tenant_id)


def _set_local(session: Session, conn: Connection, tenant_id: uuid.UUID) -> None:
    sql.run_on(conn, sql.SET_TENANT_LOCAL, (str(tenant_id),))
    session.info[_TENANT_TX] = (conn.get_transaction(), tenant_id)


@event.listens_for(Session, "after_begin")
def _tenant_of_new_transaction(session: Session, transaction: Any, connection: Connection) -> None:
    tenant_id = session.info.get("tenant_id")
    if tenant_id is not None and not connection.connection.driver_connection.autocommit:  # type: ignore[union-attr]
        _set_local(session, connection, tenant_id)


def _before_cursor_execute(conn: Connection, cursor: Any, *_: Any) -> None:
    sql.apply_pending_tenant(conn.info, cursor)


def watch(engine: Engine) -> None:
    """Install the pool and statement events of the tenant setting on the service's engine."""
    event.listen(engine, "before_cursor_execute", _before_cursor_execute)
    event.listen(engine, "checkin", sql.reset_tenant)
