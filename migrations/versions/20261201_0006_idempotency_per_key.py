"""idempotency records per API key, written with their effect, expiring

The old records were claimed per tenant in a transaction of their own before the request ran
and completed in another one after it: a crash between a batch's commit and the completion
left the effect without its record (the retry ran it again), and a replay was answered before
the presenting key's scopes were checked, from a body that could hold a key's secret.

The new table is keyed by the API key that made the request (another key of the tenant reusing
the header value starts afresh); a row is inserted in the transaction of the request's effect,
only for a successful outcome, so after a crash there is either the effect with its record or
neither. No pending state is stored: a request in progress holds a transaction-level advisory
lock on its own connection instead, which PostgreSQL releases the moment that connection dies.
``expires_at`` (24 h by default) bounds how long a record answers; expired rows are deleted by
the service (``jixiao_purge_idempotency``, a SECURITY DEFINER function, so it also works for a
role that row-level security confines to one tenant).

Existing records are dropped: they are claims of the old protocol, some hold plaintext key
secrets, and none is needed after 24 hours anyway.

The audit log no longer keeps a row per anonymous refusal (a 401 without a key or with a key
prefix nobody has): those are counted in /metrics. The rows of that kind already stored carry no
tenant and no key, so no admin can read them; they are deleted here (the append-only trigger is
lifted for that one statement).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table('idempotency_keys')
    op.create_table(
        'idempotency_keys',
        sa.Column('key_id', sa.Uuid(), nullable=False),
        sa.Column('route', sa.String(length=200), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('tenant_id', sa.Uuid(), nullable=False),
        sa.Column('request_hash', sa.String(length=80), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=False),
        sa.Column('headers', sa.dialects.postgresql.JSONB(), nullable=False),
        sa.Column('body', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['key_id'], ['api_keys.id'], name=op.f('fk_idempotency_keys_key_id_api_keys'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_idempotency_keys_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('key_id', 'route', 'key', name=op.f('pk_idempotency_keys')),
        sa.CheckConstraint('status_code BETWEEN 200 AND 299', name=op.f('ck_idempotency_keys_success_only')),
    )
    op.create_index('ix_idempotency_keys_expires_at', 'idempotency_keys', ['expires_at'])
    op.execute(
        "CREATE FUNCTION jixiao_purge_idempotency(batch integer DEFAULT 1000) RETURNS integer "
        "LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$ "
        "WITH gone AS (DELETE FROM idempotency_keys WHERE ctid IN ("
        "  SELECT ctid FROM idempotency_keys WHERE expires_at <= now() LIMIT batch) RETURNING 1) "
        "SELECT count(*)::integer FROM gone $$"
    )
    op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    op.execute("DELETE FROM audit_log WHERE tenant_id IS NULL AND key_id IS NULL AND status = 401")
    op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")


def downgrade() -> None:
    op.execute("DROP FUNCTION jixiao_purge_idempotency(integer)")
    op.drop_index('ix_idempotency_keys_expires_at', table_name='idempotency_keys')
    op.drop_table('idempotency_keys')
    op.create_table(
        'idempotency_keys',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('route', sa.String(length=200), nullable=False),
        sa.Column('request_hash', sa.String(length=80), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=False),
        sa.Column('headers', sa.dialects.postgresql.JSONB(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('tenant_id', sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_idempotency_keys_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('tenant_id', 'key', 'route', name=op.f('pk_idempotency_keys')),
    )
