"""row-level security: tenant isolation enforced by PostgreSQL as well (defence in depth)

The service already scopes every statement to the caller's tenant in the data layer
(app.auth.scoping for the ORM, spelled out in the fixed SQL of app.db.sql's callers). This
revision makes PostgreSQL refuse what a forgotten condition would leak:

* a NOLOGIN role (``JIXIAO_DB_APP_ROLE``, ``jixiao_app`` by default) without BYPASSRLS and not a
  superuser, with only the privileges the service uses. Every pooled connection of the service
  switches to it when it is opened (``-c role=…`` in the connection's startup options,
  app.db.session), so it also stays the role after ``RESET ROLE``. A deployment may instead
  connect directly as a LOGIN role that is a member of it (and set the setting to empty).
  Migrations, the operator CLI (``jixiao keys list|revoke``) and the test fixture's TRUNCATE keep
  running as the owner;
* the tenant of a transaction is ``current_setting('app.tenant_id')``, read through
  ``jixiao_tenant()`` (an inlined SQL function: NULL when unset or empty, so nothing matches: with
  no tenant set nothing is visible, not everything). The service sets it with
  ``set_config('app.tenant_id', …, true)`` for each transaction once the key is verified
  (app.auth.scoping);
* ``ENABLE`` and ``FORCE ROW LEVEL SECURITY`` on every tenant-owned table, FORCE so that even a
  session of the owner (a deployment connecting as the owner by mistake) is filtered. A superuser
  or a BYPASSRLS role (the embedded server's ``postgres``, which migrations and the test fixtures
  use) still sees everything: that is the owner's business, not the service's.

Per table (``t`` is ``jixiao_tenant()``; an audit firm's grants are read from ``engagements`` by
the policies themselves, in the form app.auth.scoping uses: the granted unit ids as one array, so
``unit_id = ANY(…)`` stays an index condition, evaluated once per statement; an engagement revoked
is out of the very next statement, and no grant list has to be sent with each request):

* ``units``: read own, or granted to the firm by an unrevoked engagement; write own only.
* ``submissions``: read own, or of a granted unit and a fiscal year of its engagement; write own only
  (the service never updates or deletes them: INSERT and SELECT only are granted).
* ``assessments``: read as submissions; insert only as ``assessed_by_tenant_id = t``, of an own unit
  or of a granted unit and year (a firm's third-party assessment). Immutable: no UPDATE, DELETE.
* ``rulesets`` (registered ones; built-ins are files), ``idempotency_keys``: own only.
* ``engagements``: read by the owner and by the firm; written (created, revoked) by the owner only.
* ``api_keys``: own only. Key verification happens before any tenant is known, so the lookup by
  prefix goes through ``jixiao_key(prefix)``, a SECURITY DEFINER function that returns the one row
  with that exact prefix (what the service checked the secret against before): it cannot list
  keys, and EXECUTE is granted to the service role only. Under FORCE the function's owner is
  filtered too, so that owner may read ``api_keys`` (SELECT only, a policy for the migrating role).
* ``audit_log``: read own; append-only (INSERT and SELECT granted, no UPDATE/DELETE, and the
  trigger of 0003 stays). An entry may be appended for the tenant of the transaction, or, for a
  refusal (401/403), for any tenant or none: a refused key's tenant is not the transaction's
  (no tenant is set for a refused request) and its admin must see the refusal.
* ``tenants`` has no row-level security: it is the directory the CLI resolves names in and holds
  no tenant's data beyond its name and suspension (read with a key's own lookup, to refuse a
  suspended tenant's keys); only the operator's routes (app.auth.tenants) list and update it.
* ``operator_keys`` (0008) belong to no tenant: no row-level security; the service reads them to
  authenticate the operator's routes.
* ``alembic_version``: SELECT only (``/readyz`` compares it with the head).

Tables added by later revisions get the role's table privileges by default (ALTER DEFAULT
PRIVILEGES for the migrating role) but no policy: a test (tests/db/test_rls.py) fails for any
table with a tenant column that has no forced row-level security.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 09:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT = "jixiao_tenant()"
#: the units granted to the transaction's tenant as an audit firm (app.auth.scoping._granted_unit_ids)
GRANTED = (f"coalesce((SELECT array_agg(e.unit_id) FROM engagements e WHERE e.firm_tenant_id = {TENANT} "
           "AND e.revoked_at IS NULL), '{}'::uuid[])")


def _granted_year(table: str) -> str:
    """A row of a granted unit, for a fiscal year of its engagement (app.auth.scoping granted_year)."""
    return (f"({table}.unit_id = ANY ({GRANTED}) AND EXISTS (SELECT 1 FROM engagements e "
            f"WHERE e.firm_tenant_id = {TENANT} AND e.revoked_at IS NULL AND e.unit_id = {table}.unit_id "
            f"AND {table}.fiscal_year = ANY (e.fiscal_years)))")


#: (table, privileges granted to the service's role, [(policy, command, USING, WITH CHECK)])
TABLES: list[tuple[str, str, list[tuple[str, str, str | None, str | None]]]] = [
    ("units", "SELECT, INSERT, UPDATE", [
        ("units_read", "SELECT", f"tenant_id = {TENANT} OR id = ANY ({GRANTED})", None),
        ("units_write", "ALL", f"tenant_id = {TENANT}", f"tenant_id = {TENANT}"),
    ]),
    ("submissions", "SELECT, INSERT", [
        ("submissions_read", "SELECT", f"tenant_id = {TENANT} OR {_granted_year('submissions')}", None),
        ("submissions_write", "INSERT", None, f"tenant_id = {TENANT}"),
    ]),
    ("assessments", "SELECT, INSERT", [
        # an audit firm keeps reading the assessments it made after its engagement ends (app.auth.scoping)
        ("assessments_read", "SELECT",
         f"tenant_id = {TENANT} OR assessed_by_tenant_id = {TENANT} OR {_granted_year('assessments')}", None),
        ("assessments_write", "INSERT", None,
         f"assessed_by_tenant_id = {TENANT} AND (tenant_id = {TENANT} OR {_granted_year('assessments')})"),
    ]),
    ("rulesets", "SELECT, INSERT, UPDATE", [
        ("rulesets_own", "ALL", f"tenant_id = {TENANT}", f"tenant_id = {TENANT}"),
    ]),
    ("engagements", "SELECT, INSERT, UPDATE", [
        ("engagements_read", "SELECT", f"owner_tenant_id = {TENANT} OR firm_tenant_id = {TENANT}", None),
        ("engagements_write", "ALL", f"owner_tenant_id = {TENANT}", f"owner_tenant_id = {TENANT}"),
    ]),
    ("api_keys", "SELECT, INSERT, UPDATE", [
        ("api_keys_own", "ALL", f"tenant_id = {TENANT}", f"tenant_id = {TENANT}"),
    ]),
    ("idempotency_keys", "SELECT, INSERT, UPDATE, DELETE", [
        ("idempotency_keys_own", "ALL", f"tenant_id = {TENANT}", f"tenant_id = {TENANT}"),
    ]),
    ("audit_log", "SELECT, INSERT", [
        ("audit_log_read", "SELECT", f"tenant_id = {TENANT}", None),
        ("audit_log_append", "INSERT", None, f"refused OR tenant_id IS NULL OR tenant_id = {TENANT}"),
    ]),
]
#: tables without row-level security, with their privileges (see the docstring)
PLAIN = [("tenants", "SELECT, INSERT, UPDATE"), ("operator_keys", "SELECT, INSERT, UPDATE"),
         ("alembic_version", "SELECT")]


def _role() -> str:
    from app.settings import get_settings

    name = get_settings().db_app_role or "jixiao_app"
    return op.get_bind().dialect.identifier_preparer.quote(name)  # type: ignore[no-any-return]


def upgrade() -> None:
    role = _role()
    literal = role.strip('"').replace("'", "''")
    schema = op.get_bind().exec_driver_sql("SELECT current_schema()").scalar()
    # Roles belong to the cluster: another database of the same server may have created it.
    op.execute(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{literal}') THEN "
               f"CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE; END IF; END $$")
    # A migrating owner that is not a superuser needs to be a member to connect as the service
    # (JIXIAO_DB_APP_ROLE is a startup option: the login role must be allowed to SET it).
    op.execute(f"DO $$ BEGIN IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) "
               f"AND NOT pg_has_role(current_user, '{literal}', 'MEMBER') THEN "
               f"GRANT {role} TO CURRENT_USER; END IF; END $$")
    op.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")

    op.execute("CREATE FUNCTION jixiao_tenant() RETURNS uuid LANGUAGE sql STABLE PARALLEL SAFE AS "
               "$$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$")
    op.execute(
        "CREATE FUNCTION jixiao_key(key_prefix text) RETURNS TABLE (id uuid, tenant_id uuid, secret_hash varchar, "
        "scopes varchar[], expires_at timestamptz, revoked_at timestamptz) "
        f"LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, {schema} AS "
        "$$ SELECT k.id, k.tenant_id, k.secret_hash, k.scopes, k.expires_at, k.revoked_at "
        "FROM api_keys k WHERE k.prefix = key_prefix $$")
    op.execute("REVOKE ALL ON FUNCTION jixiao_key(text) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION jixiao_key(text) TO {role}")
    op.execute(f"GRANT EXECUTE ON FUNCTION jixiao_tenant() TO {role}")

    for table, privileges, policies in TABLES:
        op.execute(f"GRANT {privileges} ON {table} TO {role}")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        for name, command, using, check in policies:
            op.execute(f"CREATE POLICY {name} ON {table} FOR {command}"
                       + (f" USING ({using})" if using else "") + (f" WITH CHECK ({check})" if check else ""))
    # jixiao_key runs as its owner, filtered too under FORCE unless a superuser or BYPASSRLS.
    op.execute("CREATE POLICY api_keys_owner_lookup ON api_keys FOR SELECT TO CURRENT_USER USING (true)")
    for table, privileges in PLAIN:
        op.execute(f"GRANT {privileges} ON {table} TO {role}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {role}")


def downgrade() -> None:
    role = _role()
    schema = op.get_bind().exec_driver_sql("SELECT current_schema()").scalar()
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE USAGE, SELECT ON SEQUENCES FROM {role}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {role}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {role}")
    op.execute("DROP POLICY api_keys_owner_lookup ON api_keys")
    for table, _, policies in reversed(TABLES):
        for name, *_ in policies:
            op.execute(f"DROP POLICY {name} ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        op.execute(f"REVOKE ALL ON {table} FROM {role}")
    for table, _ in PLAIN:
        op.execute(f"REVOKE ALL ON {table} FROM {role}")
    op.execute("DROP FUNCTION jixiao_key(text)")
    op.execute("DROP FUNCTION jixiao_tenant()")
    op.execute(f"REVOKE USAGE ON SCHEMA {schema} FROM {role}")
    # The role stays when another database of the server still grants it something.
    op.execute(f"DO $$ BEGIN DROP ROLE {role}; EXCEPTION WHEN dependent_objects_still_exist THEN NULL; END $$")
