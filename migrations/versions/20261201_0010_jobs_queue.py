"""jobs: procrastinate's queue schema, and jobs with their chunks and item outcomes

* procrastinate's schema (``procrastinate_*`` tables, types, functions and triggers), from the
  schema file of the pinned version (pyproject.toml): the queue the workers share (app.jobs.queue).
  Its tables hold no tenant's data (task names and arguments: job ids, chunk numbers, tenant ids),
  so they have no row-level security; the service's role gets its table privileges by default
  (0009's ALTER DEFAULT PRIVILEGES) and PostgreSQL's default EXECUTE on the functions.
* ``jobs``, ``job_chunks`` (a job's items as sent, per chunk), ``job_items`` (each item's outcome;
  its primary key (job, item) is what keeps a retried chunk from storing an item twice): tenant-owned,
  forced row-level security as in 0009 (own tenant only), no DELETE for the service's role, and no
  UPDATE of an item's outcome.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 12:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT = "jixiao_tenant()"
#: (table, privileges of the service's role)
TABLES = [("jobs", "SELECT, INSERT, UPDATE"), ("job_chunks", "SELECT, INSERT, UPDATE"), ("job_items", "SELECT, INSERT")]


def _role() -> str:
    from app.settings import get_settings

    name = get_settings().db_app_role or "jixiao_app"
    return op.get_bind().dialect.identifier_preparer.quote(name)  # type: ignore[no-any-return]


def upgrade() -> None:
    from procrastinate.schema import SchemaManager

    # The whole file in one simple-protocol execute (no parameters: its '%' stay as they are), in
    # the migration's transaction.
    op.get_bind().connection.driver_connection.execute(SchemaManager.get_schema())  # type: ignore[union-attr]

    op.create_table(
        'jobs',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('tenant_id', sa.Uuid(), nullable=False),
        sa.Column('key_id', sa.Uuid(), nullable=True),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('params', sa.dialects.postgresql.JSONB(), nullable=False),
        sa.Column('request_id', sa.String(length=128), nullable=True),
        sa.Column('items_total', sa.Integer(), nullable=False),
        sa.Column('chunk_size', sa.Integer(), nullable=False),
        sa.Column('chunks_total', sa.Integer(), nullable=False),
        sa.Column('chunks_done', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('stored', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('refused', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')",
                           name=op.f('ck_jobs_state')),
        sa.CheckConstraint("kind IN ('assessments', 'rescore')", name=op.f('ck_jobs_kind')),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_jobs_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['key_id'], ['api_keys.id'], name=op.f('fk_jobs_key_id_api_keys'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    )
    op.create_index('ix_jobs_tenant_created', 'jobs', ['tenant_id', 'created_at', 'id'])
    op.create_table(
        'job_chunks',
        sa.Column('job_id', sa.Uuid(), nullable=False),
        sa.Column('chunk', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Uuid(), nullable=False),
        sa.Column('first_item', sa.Integer(), nullable=False),
        sa.Column('items', sa.LargeBinary(), nullable=False),
        sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_job_chunks_job_id_jobs'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_job_chunks_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('job_id', 'chunk', name=op.f('pk_job_chunks')),
    )
    op.create_table(
        'job_items',
        sa.Column('job_id', sa.Uuid(), nullable=False),
        sa.Column('item', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Uuid(), nullable=False),
        sa.Column('status', sa.Integer(), nullable=False),
        sa.Column('assessment_id', sa.Uuid(), nullable=True),
        sa.Column('result', sa.dialects.postgresql.JSONB(), nullable=False),
        sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_job_items_job_id_jobs'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_job_items_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('job_id', 'item', name=op.f('pk_job_items')),
    )

    role = _role()
    for table, privileges in TABLES:
        op.execute(f"REVOKE ALL ON {table} FROM {role}")  # the default privileges of 0009 include DELETE
        op.execute(f"GRANT {privileges} ON {table} TO {role}")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY {table}_own ON {table} FOR ALL USING (tenant_id = {TENANT}) "
                   f"WITH CHECK (tenant_id = {TENANT})")


def downgrade() -> None:
    op.drop_table('job_items')
    op.drop_table('job_chunks')
    op.drop_index('ix_jobs_tenant_created', table_name='jobs')
    op.drop_table('jobs')
    # procrastinate's objects, by their prefix (its schema file has no counterpart to undo it)
    bind = op.get_bind()
    for (table,) in bind.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND starts_with(tablename, 'procrastinate_')").all():
        op.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')
    for (signature,) in bind.exec_driver_sql(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = current_schema() AND starts_with(p.proname, 'procrastinate_')").all():
        op.execute(f"DROP ROUTINE IF EXISTS {signature} CASCADE")
    for (name,) in bind.exec_driver_sql(
            "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE n.nspname = current_schema() AND starts_with(t.typname, 'procrastinate_') AND t.typtype IN ('e', 'c')").all():
        op.execute(f'DROP TYPE IF EXISTS "{name}" CASCADE')
