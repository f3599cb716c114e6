"""tenants api keys engagements audit log

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 11:27:49.409303+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_TENANT = "00000000-0000-0000-0000-000000000001"


def upgrade() -> None:
    op.create_table('tenants',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenants')),
    sa.UniqueConstraint('name', name=op.f('uq_tenants_name'))
    )
    op.create_table('api_keys',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('prefix', sa.String(length=32), nullable=False),
    sa.Column('secret_hash', sa.String(length=128), nullable=False),
    sa.Column('scopes', postgresql.ARRAY(sa.String(length=16)), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_api_keys_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('prefix', name=op.f('uq_api_keys_prefix'))
    )
    op.create_index(op.f('ix_api_keys_tenant_id'), 'api_keys', ['tenant_id'], unique=False)
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=True),
    sa.Column('key_id', sa.Uuid(), nullable=True),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('route', sa.String(length=200), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('resource_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('refused', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['api_keys.id'], name=op.f('fk_audit_log_key_id_api_keys'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_audit_log_tenant_id_tenants'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_index('ix_audit_log_tenant_at', 'audit_log', ['tenant_id', 'at', 'id'], unique=False)
    # Append-only, enforced by the database itself.
    op.execute(
        "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
    )
    op.create_table('engagements',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_tenant_id', sa.Uuid(), nullable=False),
    sa.Column('firm_tenant_id', sa.Uuid(), nullable=False),
    sa.Column('unit_id', sa.Uuid(), nullable=False),
    sa.Column('fiscal_years', postgresql.ARRAY(sa.Integer()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['firm_tenant_id'], ['tenants.id'], name=op.f('fk_engagements_firm_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_tenant_id'], ['tenants.id'], name=op.f('fk_engagements_owner_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_engagements_unit_id_units'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_engagements'))
    )
    op.create_index('ix_engagements_firm_unit', 'engagements', ['firm_tenant_id', 'unit_id'], unique=False)
    op.create_index(op.f('ix_engagements_owner_tenant_id'), 'engagements', ['owner_tenant_id'], unique=False)
    # Rows written before tenants existed belong to one 'default' tenant.
    op.execute(f"INSERT INTO tenants (id, name) VALUES ('{DEFAULT_TENANT}', 'default')")
    for table in ("units", "submissions", "assessments", "rulesets"):
        op.add_column(table, sa.Column('tenant_id', sa.Uuid(), nullable=True))
        op.execute(f"UPDATE {table} SET tenant_id = '{DEFAULT_TENANT}'")
        op.alter_column(table, 'tenant_id', nullable=False)
    op.add_column('assessments', sa.Column('assessed_by_tenant_id', sa.Uuid(), nullable=True))
    op.execute("UPDATE assessments SET assessed_by_tenant_id = tenant_id")
    op.alter_column('assessments', 'assessed_by_tenant_id', nullable=False)
    op.drop_index(op.f('ix_assessments_created_id'), table_name='assessments')
    op.drop_index(op.f('ix_assessments_grade_created'), table_name='assessments')
    op.drop_index(op.f('ix_assessments_kind_created'), table_name='assessments')
    op.create_index('ix_assessments_tenant_created', 'assessments', ['tenant_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_assessments_tenant_grade_created', 'assessments', ['tenant_id', 'grade', 'created_at', 'id'], unique=False)
    op.create_index('ix_assessments_tenant_kind_created', 'assessments', ['tenant_id', 'kind', 'created_at', 'id'], unique=False)
    op.create_foreign_key(op.f('fk_assessments_assessed_by_tenant_id_tenants'), 'assessments', 'tenants', ['assessed_by_tenant_id'], ['id'], ondelete='RESTRICT')
    op.create_foreign_key(op.f('fk_assessments_tenant_id_tenants'), 'assessments', 'tenants', ['tenant_id'], ['id'], ondelete='RESTRICT')
    # Stored replays are short-lived; they are keyed per tenant from now on.
    op.execute("DELETE FROM idempotency_keys")
    op.drop_constraint('pk_idempotency_keys', 'idempotency_keys', type_='primary')
    op.add_column('idempotency_keys', sa.Column('tenant_id', sa.Uuid(), nullable=False))
    op.create_primary_key('pk_idempotency_keys', 'idempotency_keys', ['tenant_id', 'key', 'route'])
    op.create_foreign_key(op.f('fk_idempotency_keys_tenant_id_tenants'), 'idempotency_keys', 'tenants', ['tenant_id'], ['id'], ondelete='CASCADE')
    op.drop_constraint(op.f('uq_rulesets_name_version'), 'rulesets', type_='unique')
    op.create_unique_constraint('uq_rulesets_tenant_name_version', 'rulesets', ['tenant_id', 'name', 'version'])
    op.create_foreign_key(op.f('fk_rulesets_tenant_id_tenants'), 'rulesets', 'tenants', ['tenant_id'], ['id'], ondelete='RESTRICT')
    op.create_foreign_key(op.f('fk_submissions_tenant_id_tenants'), 'submissions', 'tenants', ['tenant_id'], ['id'], ondelete='RESTRICT')
    op.drop_index(op.f('ix_units_kind_code'), table_name='units')
    op.drop_index(op.f('ix_units_parent_code'), table_name='units')
    op.drop_index(op.f('ix_units_region_code'), table_name='units')
    op.drop_constraint(op.f('uq_units_code'), 'units', type_='unique')
    op.create_index('ix_units_tenant_kind_code', 'units', ['tenant_id', 'kind', 'code'], unique=False)
    op.create_index('ix_units_tenant_parent_code', 'units', ['tenant_id', 'parent_id', 'code'], unique=False)
    op.create_index('ix_units_tenant_region_code', 'units', ['tenant_id', 'region', 'code'], unique=False)
    op.create_unique_constraint('uq_units_tenant_code', 'units', ['tenant_id', 'code'])
    op.create_foreign_key(op.f('fk_units_tenant_id_tenants'), 'units', 'tenants', ['tenant_id'], ['id'], ondelete='RESTRICT')


def downgrade() -> None:
    op.drop_constraint(op.f('fk_units_tenant_id_tenants'), 'units', type_='foreignkey')
    op.drop_constraint('uq_units_tenant_code', 'units', type_='unique')
    op.drop_index('ix_units_tenant_region_code', table_name='units')
    op.drop_index('ix_units_tenant_parent_code', table_name='units')
    op.drop_index('ix_units_tenant_kind_code', table_name='units')
    op.create_unique_constraint(op.f('uq_units_code'), 'units', ['code'], postgresql_nulls_not_distinct=False)
    op.create_index(op.f('ix_units_region_code'), 'units', ['region', 'code'], unique=False)
    op.create_index(op.f('ix_units_parent_code'), 'units', ['parent_id', 'code'], unique=False)
    op.create_index(op.f('ix_units_kind_code'), 'units', ['kind', 'code'], unique=False)
    op.drop_column('units', 'tenant_id')
    op.drop_constraint(op.f('fk_submissions_tenant_id_tenants'), 'submissions', type_='foreignkey')
    op.drop_column('submissions', 'tenant_id')
    op.drop_constraint(op.f('fk_rulesets_tenant_id_tenants'), 'rulesets', type_='foreignkey')
    op.drop_constraint('uq_rulesets_tenant_name_version', 'rulesets', type_='unique')
    op.create_unique_constraint(op.f('uq_rulesets_name_version'), 'rulesets', ['name', 'version'], postgresql_nulls_not_distinct=False)
    op.drop_column('rulesets', 'tenant_id')
    op.drop_constraint(op.f('fk_idempotency_keys_tenant_id_tenants'), 'idempotency_keys', type_='foreignkey')
    op.execute("DELETE FROM idempotency_keys")
    op.drop_constraint('pk_idempotency_keys', 'idempotency_keys', type_='primary')
    op.drop_column('idempotency_keys', 'tenant_id')
    op.create_primary_key('pk_idempotency_keys', 'idempotency_keys', ['key', 'route'])
    op.drop_constraint(op.f('fk_assessments_tenant_id_tenants'), 'assessments', type_='foreignkey')
    op.drop_constraint(op.f('fk_assessments_assessed_by_tenant_id_tenants'), 'assessments', type_='foreignkey')
    op.drop_index('ix_assessments_tenant_kind_created', table_name='assessments')
    op.drop_index('ix_assessments_tenant_grade_created', table_name='assessments')
    op.drop_index('ix_assessments_tenant_created', table_name='assessments')
    op.create_index(op.f('ix_assessments_kind_created'), 'assessments', ['kind', 'created_at', 'id'], unique=False)
    op.create_index(op.f('ix_assessments_grade_created'), 'assessments', ['grade', 'created_at', 'id'], unique=False)
    op.create_index(op.f('ix_assessments_created_id'), 'assessments', ['created_at', 'id'], unique=False)
    op.drop_column('assessments', 'assessed_by_tenant_id')
    op.drop_column('assessments', 'tenant_id')
    op.drop_index(op.f('ix_engagements_owner_tenant_id'), table_name='engagements')
    op.drop_index('ix_engagements_firm_unit', table_name='engagements')
    op.drop_table('engagements')
    op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_index('ix_audit_log_tenant_at', table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_index(op.f('ix_api_keys_tenant_id'), table_name='api_keys')
    op.drop_table('api_keys')
    op.drop_table('tenants')
