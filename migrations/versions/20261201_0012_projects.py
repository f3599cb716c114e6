"""projects (项目支出) of a unit, their versioned self-evaluation submissions, project assessments

A project belongs to a unit of the same tenant (code unique within the unit; 主管部门, 实施单位,
资金性质, the fiscal years it runs). Its submission (the 自评表's data for one year: funds, 年度总体目标,
the 三级 indicator rows the unit wrote, claimed scores) is versioned like a unit's: rows are never
updated, the newest version is current.

An assessment's subject is either a unit (``submission_id`` set) or a project of that unit
(``project_id`` and ``project_submission_id`` set, ``submission_id`` null): one assessment resource,
one listing, one comparison, one cohort query. ``unit_id`` and ``fiscal_year`` stay set for both, so the
engagements (a firm is granted a unit and years: its projects come with it) and the policies of 0009
apply unchanged to project assessments.

Row-level security as in 0009:

* ``projects``: read own, or of a unit granted to the firm by an unrevoked engagement; write own only;
* ``project_submissions``: read own, or of a granted unit and a fiscal year of its engagement; insert own
  only (never updated or deleted: INSERT and SELECT only are granted).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 11:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT = "jixiao_tenant()"
GRANTED = (f"coalesce((SELECT array_agg(e.unit_id) FROM engagements e WHERE e.firm_tenant_id = {TENANT} "
           "AND e.revoked_at IS NULL), '{}'::uuid[])")
GRANTED_YEAR = (f"(project_submissions.unit_id = ANY ({GRANTED}) AND EXISTS (SELECT 1 FROM engagements e "
                f"WHERE e.firm_tenant_id = {TENANT} AND e.revoked_at IS NULL "
                "AND e.unit_id = project_submissions.unit_id "
                "AND project_submissions.fiscal_year = ANY (e.fiscal_years)))")

POLICIES: list[tuple[str, str, str, list[tuple[str, str, str | None, str | None]]]] = [
    ("projects", "SELECT, INSERT, UPDATE", "", [
        ("projects_read", "SELECT", f"tenant_id = {TENANT} OR unit_id = ANY ({GRANTED})", None),
        ("projects_write", "ALL", f"tenant_id = {TENANT}", f"tenant_id = {TENANT}"),
    ]),
    ("project_submissions", "SELECT, INSERT", "", [
        ("project_submissions_read", "SELECT", f"tenant_id = {TENANT} OR {GRANTED_YEAR}", None),
        ("project_submissions_write", "INSERT", None, f"tenant_id = {TENANT}"),
    ]),
]


def _role() -> str:
    from app.settings import get_settings

    name = get_settings().db_app_role or "jixiao_app"
    return op.get_bind().dialect.identifier_preparer.quote(name)  # type: ignore[no-any-return]


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("department", sa.String(length=200), nullable=False),
        sa.Column("implementer", sa.String(length=200), nullable=False),
        sa.Column("fund_nature", sa.String(length=100), nullable=False),
        sa.Column("fiscal_years", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_projects_tenant_id_tenants", ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name="fk_projects_unit_id_units", ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name="pk_projects"),
        sa.UniqueConstraint("unit_id", "code", name="uq_projects_unit_code"),
    )
    op.create_index("ix_projects_tenant_unit_code", "projects", ["tenant_id", "unit_id", "code"])
    op.create_table(
        "project_submissions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("version >= 1", name="ck_project_submissions_version_positive"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_project_submissions_tenant_id_tenants",
                                ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name="fk_project_submissions_project_id_projects",
                                ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name="fk_project_submissions_unit_id_units",
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name="pk_project_submissions"),
        sa.UniqueConstraint("project_id", "fiscal_year", "version", name="uq_project_submissions_project_year_version"),
    )
    op.create_index("ix_project_submissions_unit_year", "project_submissions", ["unit_id", "fiscal_year"])

    op.add_column("assessments", sa.Column("project_id", sa.Uuid(), nullable=True))
    op.add_column("assessments", sa.Column("project_submission_id", sa.Uuid(), nullable=True))
    op.alter_column("assessments", "submission_id", existing_type=sa.Uuid(), nullable=True)
    op.create_foreign_key("fk_assessments_project_id_projects", "assessments", "projects", ["project_id"], ["id"],
                          ondelete="RESTRICT")
    op.create_foreign_key("fk_assessments_project_submission_id_project_submissions", "assessments",
                          "project_submissions", ["project_submission_id"], ["id"], ondelete="RESTRICT")
    op.create_check_constraint(
        "ck_assessments_one_subject", "assessments",
        "(project_id IS NULL AND project_submission_id IS NULL AND submission_id IS NOT NULL) OR "
        "(project_id IS NOT NULL AND project_submission_id IS NOT NULL AND submission_id IS NULL)")
    op.create_index("ix_assessments_project_year_created", "assessments",
                    ["project_id", "fiscal_year", "created_at", "id"])

    role = _role()
    for table, privileges, _, policies in POLICIES:
        op.execute(f"GRANT {privileges} ON {table} TO {role}")
        # 0009's default privileges gave the role DELETE (and UPDATE) on new tables: only what is used
        op.execute(f"REVOKE DELETE ON {table} FROM {role}")
        if "UPDATE" not in privileges:
            op.execute(f"REVOKE UPDATE ON {table} FROM {role}")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        for name, command, using, check in policies:
            op.execute(f"CREATE POLICY {name} ON {table} FOR {command}"
                       + (f" USING ({using})" if using else "") + (f" WITH CHECK ({check})" if check else ""))


def downgrade() -> None:
    for table, _, _, policies in reversed(POLICIES):
        for name, *_ in policies:
            op.execute(f"DROP POLICY {name} ON {table}")
    op.drop_index("ix_assessments_project_year_created", table_name="assessments")
    op.drop_constraint("ck_assessments_one_subject", "assessments", type_="check")
    op.drop_constraint("fk_assessments_project_submission_id_project_submissions", "assessments", type_="foreignkey")
    op.drop_constraint("fk_assessments_project_id_projects", "assessments", type_="foreignkey")
    op.execute("DELETE FROM assessments WHERE submission_id IS NULL")
    op.alter_column("assessments", "submission_id", existing_type=sa.Uuid(), nullable=False)
    op.drop_column("assessments", "project_submission_id")
    op.drop_column("assessments", "project_id")
    op.drop_index("ix_project_submissions_unit_year", table_name="project_submissions")
    op.drop_table("project_submissions")
    op.drop_index("ix_projects_tenant_unit_code", table_name="projects")
    op.drop_table("projects")
