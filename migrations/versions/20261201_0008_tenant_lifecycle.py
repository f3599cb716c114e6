"""tenants can be suspended; operator keys, above tenants

An operator (the deployment's owner: the finance bureau's IT centre running jixiao) creates,
lists, suspends and reactivates tenants and makes a tenant's first admin key through the API
(``/v1/tenants``), with an operator key made from the shell (``jixiao operators create``). An
operator key belongs to no tenant and reads no tenant's data: it manages tenants only. Like an
API key it is random, shown once and stored as a SHA-256 hash only.

An identical active engagement (owner, firm, unit, years) cannot exist twice: a partial unique
index backs the route's check, so two concurrent identical grants give one row and a 409.

A suspended tenant's keys are refused with 403 and the reason (``suspended_reason``), until the
tenant is reactivated; nothing of its data is changed.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 10:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('tenants', sa.Column('suspended_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('tenants', sa.Column('suspended_reason', sa.String(length=500), nullable=True))
    op.create_table(
        'operator_keys',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('prefix', sa.String(length=32), nullable=False),
        sa.Column('secret_hash', sa.String(length=128), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_operator_keys')),
        sa.UniqueConstraint('prefix', name=op.f('uq_operator_keys_prefix')),
    )
    op.create_index('uq_engagements_active_grant', 'engagements',
                    ['owner_tenant_id', 'firm_tenant_id', 'unit_id', 'fiscal_years'], unique=True,
                    postgresql_where=sa.text('revoked_at IS NULL'))


def downgrade() -> None:
    op.drop_index('uq_engagements_active_grant', table_name='engagements')
    op.drop_table('operator_keys')
    op.drop_column('tenants', 'suspended_reason')
    op.drop_column('tenants', 'suspended_at')
