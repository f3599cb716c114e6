"""audit log: an index on (tenant_id, id), the order every listing of the log is read in

``GET /v1/audit-log`` pages newest first by id within the tenant. The filters with an index of
their own (key, unit, resource) are served by those; the others (``refused``, ``status``,
``method``, ``outcome``, ``since``) had none that gives the tenant's rows in id order, and the
planner could walk the whole primary key backwards, every tenant's entries, filtering as it went
(tests/api/test_indexes.py caught it when the statistics leaned that way). Built CONCURRENTLY:
the log is written by every request, and a plain CREATE INDEX would block those writes.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 15:10:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        # A CREATE INDEX CONCURRENTLY killed half-way leaves an INVALID index of this name, and the
        # revision is not recorded, so the next upgrade runs this again: drop whatever is there first
        # (only this migration makes the index), never skip it with IF NOT EXISTS.
        op.drop_index('ix_audit_log_tenant_id', table_name='audit_log', postgresql_concurrently=True, if_exists=True)
        op.create_index('ix_audit_log_tenant_id', 'audit_log', ['tenant_id', 'id'], postgresql_concurrently=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index('ix_audit_log_tenant_id', table_name='audit_log', postgresql_concurrently=True, if_exists=True)
