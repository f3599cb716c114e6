"""audit entries carry the request id and the resource they concern

``request_id`` is the request's ``X-Request-Id`` (the id a platform quotes to support, also in
every problem body and log line). ``resource_type`` / ``resource_id`` name the record a call
changed or tried to change (``unit``, ``submission``, ``assessment``, ``batch``, ``key``,
``engagement``, ``ruleset``), and ``unit_id`` the unit it concerns, so that the log can be read
by unit and by resource (``GET /v1/audit-log?unit_id=…``, ``?resource_type=…&resource_id=…``),
each filter served by an index. Existing entries keep NULL in the new columns: they are
immutable (the append-only trigger), and what they concern is still in ``resource_ids``.

An index on assessments (assessed_by_tenant_id, created_at, id): an audit firm keeps reading the
assessments it made after its engagement ends, and its listings stay index-backed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 09:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('audit_log', sa.Column('request_id', sa.String(length=128), nullable=True))
    op.add_column('audit_log', sa.Column('resource_type', sa.String(length=32), nullable=True))
    op.add_column('audit_log', sa.Column('resource_id', sa.String(length=200), nullable=True))
    op.add_column('audit_log', sa.Column('unit_id', sa.Uuid(), nullable=True))
    op.create_index('ix_audit_log_tenant_unit', 'audit_log', ['tenant_id', 'unit_id', 'id'])
    op.create_index('ix_audit_log_tenant_resource', 'audit_log', ['tenant_id', 'resource_type', 'resource_id', 'id'])
    op.create_index('ix_audit_log_tenant_key', 'audit_log', ['tenant_id', 'key_id', 'id'])
    op.create_index('ix_audit_log_request_id', 'audit_log', ['request_id'])
    op.create_index('ix_assessments_assessor_created', 'assessments', ['assessed_by_tenant_id', 'created_at', 'id'])


def downgrade() -> None:
    op.drop_index('ix_assessments_assessor_created', table_name='assessments')
    op.drop_index('ix_audit_log_request_id', table_name='audit_log')
    op.drop_index('ix_audit_log_tenant_key', table_name='audit_log')
    op.drop_index('ix_audit_log_tenant_resource', table_name='audit_log')
    op.drop_index('ix_audit_log_tenant_unit', table_name='audit_log')
    op.drop_column('audit_log', 'unit_id')
    op.drop_column('audit_log', 'resource_id')
    op.drop_column('audit_log', 'resource_type')
    op.drop_column('audit_log', 'request_id')
