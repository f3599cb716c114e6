"""Tenant scoping in the data layer: every ORM query sees only what the caller may see.

A listener on the Session adds ``with_loader_criteria`` for every tenant-owned model to
every ORM statement of a session whose ``info["principal"]`` is set. Endpoints never
filter by tenant themselves, so a new query cannot forget to. A tenant sees its own rows;
an audit firm also sees the units, submissions and assessments granted to it by an
engagement (unit and fiscal years) until the engagement is revoked, and, after that, still the
assessments it made itself.
"""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, any_, cast, event, exists, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from app.db.models import (
    ApiKey,
    Assessment,
    AuditEntry,
    Engagement,
    IdempotencyRecord,
    RulesetVersion,
    Submission,
    Unit,
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
        # an audit firm keeps reading the assessments it made itself after its engagement ends
        Assessment: with_loader_criteria(
            Assessment, or_(Assessment.tenant_id == tid, Assessment.assessed_by_tenant_id == tid,
                            granted_year(Assessment)), include_aliases=True),
        RulesetVersion: with_loader_criteria(RulesetVersion, RulesetVersion.tenant_id == tid, include_aliases=True),
        IdempotencyRecord: with_loader_criteria(IdempotencyRecord, IdempotencyRecord.tenant_id == tid,
                                                include_aliases=True),
        ApiKey: with_loader_criteria(ApiKey, ApiKey.tenant_id == tid, include_aliases=True),
        AuditEntry: with_loader_criteria(AuditEntry, AuditEntry.tenant_id == tid, include_aliases=True),
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
