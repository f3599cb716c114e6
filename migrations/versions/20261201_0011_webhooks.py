"""webhooks: endpoints, the event outbox, deliveries and their attempts

* ``webhook_endpoints``: a tenant's URL, the event types it listens to, its signing secret
  (encrypted, app.webhooks.secrets; the previous one too for a day after a rotation), and
  whether it is enabled (the service disables one whose deliveries kept failing for a day).
* ``webhook_events``: the outbox. An event is written in the transaction of the change it tells
  of, by ``jixiao_webhook_emit`` (below), and only for a tenant with an enabled endpoint
  listening to its type: a deployment nobody listens to writes nothing.
* ``webhook_deliveries``: one event to one endpoint (unique), pending until an attempt succeeds
  or the retries end; ``webhook_attempts``: the delivery log (each HTTP attempt: outcome, status,
  latency, the first 1 KiB of the answer).

``jixiao_webhook_emit(tenant, type, data)`` writes the event, a delivery for each endpoint
listening, and a procrastinate job for each delivery (``procrastinate_defer_jobs_v1``, the queue
of migration 0010: its NOTIFY wakes a worker at once), all in the caller's transaction: the event
and its jobs exist exactly when the change does, and nothing is sent from the request itself. It
runs as its owner (SECURITY DEFINER) because an audit firm's assessment tells the unit's owner, a
tenant whose rows the firm's transaction cannot write; it refuses any tenant but the transaction's
own (``jixiao_tenant()``) or one engaged with it, either way.

Triggers emit the events of the tables' own changes, so every path that writes them (the single
POST's fixed SQL, the batch's staged COPY, jobs) tells them in the write's own transaction:

* ``assessment.created``: an assessment made by another tenant than the unit's owner (an audit
  firm under an engagement), to the owner; the trigger's WHEN clause keeps it from firing at all
  for the owner's own assessments (the hot path of POST /v1/assessments is unchanged);
* ``submission.updated``: every new version, to the unit's owner: one call per statement (a
  transition table), which looks for a listener once;
* ``engagement.created`` / ``engagement.revoked``: to the firm and to the granting tenant.

Row-level security as migration 0009 states it: every table is the tenant's own. The functions'
owner (the migrating role) reads endpoints and engagements and writes events and deliveries of any
tenant through policies of its own (under FORCE it is filtered too unless it bypasses them).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 12:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT = "jixiao_tenant()"
#: (table, privileges of the service's role)
TABLES = [("webhook_endpoints", "SELECT, INSERT, UPDATE, DELETE"), ("webhook_events", "SELECT, INSERT"),
          ("webhook_deliveries", "SELECT, INSERT, UPDATE"), ("webhook_attempts", "SELECT, INSERT, DELETE")]
#: the queue's name and task of a delivery (app.webhooks.tasks)
QUEUE, TASK = "webhooks", "webhooks.deliver"


def _role() -> str:
    from app.settings import get_settings

    name = get_settings().db_app_role or "jixiao_app"
    return op.get_bind().dialect.identifier_preparer.quote(name)  # type: ignore[no-any-return]


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=f'fk_{table}_tenant_id_tenants',
                                   ondelete='CASCADE')


def upgrade() -> None:
    now = sa.text('now()')
    op.create_table(
        'webhook_endpoints',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('tenant_id', sa.Uuid(), nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('description', sa.String(length=500), nullable=False),
        sa.Column('events', postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('secret', sa.LargeBinary(), nullable=False),
        sa.Column('previous_secret', sa.LargeBinary(), nullable=True),
        sa.Column('previous_secret_expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('disabled_reason', sa.String(length=500), nullable=True),
        sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=now, nullable=False),
        _tenant_fk('webhook_endpoints'),
        sa.PrimaryKeyConstraint('id', name='pk_webhook_endpoints'),
    )
    op.create_index('ix_webhook_endpoints_tenant_created', 'webhook_endpoints', ['tenant_id', 'created_at', 'id'])
    op.create_table(
        'webhook_events',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('tenant_id', sa.Uuid(), nullable=False),
        sa.Column('type', sa.String(length=64), nullable=False),
        sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=now, nullable=False),
        _tenant_fk('webhook_events'),
        sa.PrimaryKeyConstraint('id', name='pk_webhook_events'),
    )
    op.create_index('ix_webhook_events_tenant_created', 'webhook_events', ['tenant_id', 'created_at', 'id'])
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('tenant_id', sa.Uuid(), nullable=False),
        sa.Column('endpoint_id', sa.Uuid(), nullable=False),
        sa.Column('event_id', sa.Uuid(), nullable=False),
        sa.Column('state', sa.String(length=16), server_default=sa.text("'pending'"), nullable=False),
        sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('scheduled_try', sa.Integer(), server_default=sa.text('1'), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=now, nullable=True),
        sa.Column('last_status', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.CheckConstraint("state IN ('pending', 'succeeded', 'failed')", name='ck_webhook_deliveries_state_known'),
        _tenant_fk('webhook_deliveries'),
        sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'],
                                name='fk_webhook_deliveries_endpoint_id_webhook_endpoints', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['event_id'], ['webhook_events.id'],
                                name='fk_webhook_deliveries_event_id_webhook_events', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_webhook_deliveries'),
        sa.UniqueConstraint('endpoint_id', 'event_id', name='uq_webhook_deliveries_endpoint_event'),
    )
    op.create_index('ix_webhook_deliveries_endpoint_created', 'webhook_deliveries', ['endpoint_id', 'created_at', 'id'])
    op.create_index('ix_webhook_deliveries_pending', 'webhook_deliveries', ['next_attempt_at'],
                    postgresql_where=sa.text("state = 'pending'"))
    op.create_table(
        'webhook_attempts',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('tenant_id', sa.Uuid(), nullable=False),
        sa.Column('endpoint_id', sa.Uuid(), nullable=False),
        sa.Column('delivery_id', sa.Uuid(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column('outcome', sa.String(length=32), nullable=False),
        sa.Column('status', sa.Integer(), nullable=True),
        sa.Column('latency_ms', sa.Integer(), nullable=True),
        sa.Column('response_excerpt', sa.String(length=1024), nullable=True),
        sa.Column('error', sa.String(length=500), nullable=True),
        _tenant_fk('webhook_attempts'),
        sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'],
                                name='fk_webhook_attempts_endpoint_id_webhook_endpoints', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['delivery_id'], ['webhook_deliveries.id'],
                                name='fk_webhook_attempts_delivery_id_webhook_deliveries', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_webhook_attempts'),
    )
    op.create_index('ix_webhook_attempts_endpoint', 'webhook_attempts', ['endpoint_id', 'id'])
    op.create_index('ix_webhook_attempts_delivery', 'webhook_attempts', ['delivery_id', 'id'])

    role = _role()
    schema = op.get_bind().exec_driver_sql("SELECT current_schema()").scalar()
    for table, privileges in TABLES:
        op.execute(f"REVOKE ALL ON {table} FROM {role}")  # the default privileges of 0009 grant more
        op.execute(f"GRANT {privileges} ON {table} TO {role}")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY {table}_own ON {table} FOR ALL "
                   f"USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT})")
    # the functions below run as their owner: any tenant's endpoints, events and deliveries, and the
    # engagements that allow one tenant's transaction to tell another
    for table in ("webhook_endpoints", "webhook_events", "webhook_deliveries"):
        op.execute(f"CREATE POLICY {table}_definer ON {table} FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true)")
    op.execute("CREATE POLICY engagements_definer_lookup ON engagements FOR SELECT TO CURRENT_USER USING (true)")

    safe = f"SET search_path = pg_catalog, {schema}"
    op.execute(f"""
CREATE FUNCTION jixiao_webhook_enqueue(delivery uuid, tenant uuid, attempt integer, due timestamptz)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER {safe} AS $$
BEGIN
    -- procrastinate's own defer (its stable, versioned SQL API): the job, and its NOTIFY, are part
    -- of the caller's transaction
    PERFORM procrastinate_defer_jobs_v1(ARRAY[ROW('{QUEUE}', '{TASK}', 0, NULL, NULL,
        jsonb_build_object('delivery_id', delivery, 'tenant_id', tenant, 'attempt', attempt),
        due)::procrastinate_job_to_defer_v1]);
END $$""")
    op.execute(f"""
CREATE FUNCTION jixiao_webhook_emit(tenant uuid, kind text, payload jsonb)
RETURNS uuid LANGUAGE plpgsql SECURITY DEFINER {safe} AS $$
DECLARE
    caller uuid := jixiao_tenant();
    event uuid;
    d record;
BEGIN
    IF caller IS NULL THEN
        RETURN NULL;  -- no tenant set: the owner's own maintenance (the service always sets one), told to nobody
    END IF;
    IF caller <> tenant AND NOT EXISTS (
        SELECT 1 FROM engagements e WHERE (e.owner_tenant_id = caller AND e.firm_tenant_id = tenant)
                                       OR (e.owner_tenant_id = tenant AND e.firm_tenant_id = caller)) THEN
        RAISE EXCEPTION 'a webhook event is for the transaction''s tenant or a tenant engaged with it'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM webhook_endpoints w
                   WHERE w.tenant_id = tenant AND w.enabled AND kind = ANY (w.events)) THEN
        RETURN NULL;  -- nobody listens: nothing is written
    END IF;
    event := gen_random_uuid();
    INSERT INTO webhook_events (id, tenant_id, type, data) VALUES (event, tenant, kind, payload);
    FOR d IN INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id)
             SELECT gen_random_uuid(), tenant, w.id, event FROM webhook_endpoints w
             WHERE w.tenant_id = tenant AND w.enabled AND kind = ANY (w.events)
             RETURNING id LOOP
        PERFORM jixiao_webhook_enqueue(d.id, tenant, 1, NULL);
    END LOOP;
    RETURN event;
END $$""")
    op.execute(f"""
CREATE FUNCTION jixiao_assessment_created() RETURNS trigger LANGUAGE plpgsql {safe} AS $$
BEGIN
    PERFORM jixiao_webhook_emit(NEW.tenant_id, 'assessment.created', jsonb_build_object(
        'id', NEW.id, 'unit_id', NEW.unit_id, 'fiscal_year', NEW.fiscal_year, 'kind', NEW.kind,
        'evaluator', NEW.evaluator, 'assessed_by_tenant_id', NEW.assessed_by_tenant_id,
        'ruleset', NEW.ruleset_name || '@' || NEW.ruleset_version, 'status', NEW.status,
        'total', trim_scale(NEW.total)::text, 'grade', NEW.grade, 'created_at', NEW.created_at,
        'href', '/v1/assessments/' || NEW.id));
    RETURN NULL;
END $$""")
    op.execute("CREATE TRIGGER assessments_webhook AFTER INSERT ON assessments FOR EACH ROW "
               "WHEN (NEW.tenant_id <> NEW.assessed_by_tenant_id) EXECUTE FUNCTION jixiao_assessment_created()")
    # every new version, by any path (PUT, a batch's staged COPY): one call per statement, which
    # looks for a listener once, and emits per row only when there is one
    op.execute(f"""
CREATE FUNCTION jixiao_submission_updated() RETURNS trigger LANGUAGE plpgsql {safe} AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.enabled AND 'submission.updated' = ANY (w.events)
               AND w.tenant_id IN (SELECT a.tenant_id FROM added a)) THEN
        PERFORM jixiao_webhook_emit(a.tenant_id, 'submission.updated', jsonb_build_object(
            'id', a.id, 'unit_id', a.unit_id, 'fiscal_year', a.fiscal_year, 'version', a.version,
            'content_hash', a.content_hash, 'created_at', a.created_at,
            'href', '/v1/units/' || a.unit_id || '/submissions/' || a.fiscal_year))
        FROM added a ORDER BY a.unit_id, a.fiscal_year, a.version;
    END IF;
    RETURN NULL;
END $$""")
    op.execute("CREATE TRIGGER submissions_webhook AFTER INSERT ON submissions REFERENCING NEW TABLE AS added "
               "FOR EACH STATEMENT EXECUTE FUNCTION jixiao_submission_updated()")
    # an engagement granted or revoked: the audit firm and the granting tenant are told
    op.execute(f"""
CREATE FUNCTION jixiao_engagement_changed() RETURNS trigger LANGUAGE plpgsql {safe} AS $$
DECLARE
    kind text := CASE WHEN TG_OP = 'INSERT' THEN 'engagement.created' ELSE 'engagement.revoked' END;
    payload jsonb := jsonb_build_object(
        'id', NEW.id, 'owner_tenant_id', NEW.owner_tenant_id, 'firm_tenant_id', NEW.firm_tenant_id,
        'unit_id', NEW.unit_id, 'fiscal_years', to_jsonb(NEW.fiscal_years), 'created_at', NEW.created_at,
        'revoked_at', NEW.revoked_at, 'href', '/v1/engagements/' || NEW.id);
BEGIN
    PERFORM jixiao_webhook_emit(NEW.firm_tenant_id, kind, payload);
    PERFORM jixiao_webhook_emit(NEW.owner_tenant_id, kind, payload);
    RETURN NULL;
END $$""")
    op.execute("CREATE TRIGGER engagements_webhook_created AFTER INSERT ON engagements FOR EACH ROW "
               "EXECUTE FUNCTION jixiao_engagement_changed()")
    op.execute("CREATE TRIGGER engagements_webhook_revoked AFTER UPDATE OF revoked_at ON engagements FOR EACH ROW "
               "WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL) EXECUTE FUNCTION jixiao_engagement_changed()")
    # /metrics: the deliveries waiting, of every tenant (a count, nothing else)
    op.execute(f"CREATE FUNCTION jixiao_webhook_backlog() RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER {safe} "
               "AS $$ SELECT count(*) FROM webhook_deliveries WHERE state = 'pending' $$")
    for fn in ("jixiao_webhook_enqueue(uuid, uuid, integer, timestamptz)", "jixiao_webhook_emit(uuid, text, jsonb)",
               "jixiao_webhook_backlog()"):
        op.execute(f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {fn} TO {role}")


def downgrade() -> None:
    op.execute("DROP FUNCTION jixiao_webhook_backlog()")
    op.execute("DROP TRIGGER engagements_webhook_revoked ON engagements")
    op.execute("DROP TRIGGER engagements_webhook_created ON engagements")
    op.execute("DROP FUNCTION jixiao_engagement_changed()")
    op.execute("DROP TRIGGER submissions_webhook ON submissions")
    op.execute("DROP FUNCTION jixiao_submission_updated()")
    op.execute("DROP TRIGGER assessments_webhook ON assessments")
    op.execute("DROP FUNCTION jixiao_assessment_created()")
    op.execute("DROP FUNCTION jixiao_webhook_emit(uuid, text, jsonb)")
    op.execute("DROP FUNCTION jixiao_webhook_enqueue(uuid, uuid, integer, timestamptz)")
    op.execute("DROP POLICY engagements_definer_lookup ON engagements")
    for table in ("webhook_attempts", "webhook_deliveries", "webhook_events", "webhook_endpoints"):
        op.drop_table(table)
