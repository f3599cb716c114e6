"""assessment documents stored out of line, uncompressed

An assessment's breakdown (~12 KB) and input snapshot (~3 KB) are written once and read whole.
With the default EXTENDED storage PostgreSQL compresses them with pglz on every insert, which
costs more than the rest of the insert together (~0.35 ms against ~0.14 ms per assessment on
the reference machine). EXTERNAL keeps them out of line without compression: about three times
the disk space for these two columns, in exchange for faster writes and reads.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 13:30:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE assessments ALTER COLUMN result SET STORAGE EXTERNAL, "
               "ALTER COLUMN inputs SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.execute("ALTER TABLE assessments ALTER COLUMN result SET STORAGE EXTENDED, "
               "ALTER COLUMN inputs SET STORAGE EXTENDED")
