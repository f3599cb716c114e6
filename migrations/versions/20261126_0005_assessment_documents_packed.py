"""assessment documents LZ4-compressed in the row

An assessment's breakdown (~14 KB of JSON) and input snapshot (~3 KB) become ``bytea`` holding an
LZ4 frame of the JSON text (app.db.packed): about a quarter of the size, compressed by the
service in ~15 µs. With ``toast_tuple_target`` at its maximum, a row that fits a page (any
assessment of the seed rulesets) keeps both documents in the heap: no TOAST chunks and TOAST
index entries to write and read back, which were most of the server's work per assessment.
EXTERNAL storage: PostgreSQL does not try to compress them again.

Existing rows are converted to the documents' JSON text as bytes, not compressed: the readers
accept both forms, and the immutable rows are not rewritten a second time.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 17:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE assessments "
               "ALTER COLUMN inputs TYPE bytea USING convert_to(inputs::text, 'UTF8'), "
               "ALTER COLUMN result TYPE bytea USING convert_to(result::text, 'UTF8')")
    op.execute("ALTER TABLE assessments ALTER COLUMN result SET STORAGE EXTERNAL, "
               "ALTER COLUMN inputs SET STORAGE EXTERNAL")
    op.execute("ALTER TABLE assessments SET (toast_tuple_target = 8160)")


def downgrade() -> None:
    from app.db.packed import LZ4_MAGIC, unpack_json

    conn = op.get_bind()
    packed = conn.execute(sa.text(
        "SELECT id, inputs, result FROM assessments "
        "WHERE substring(inputs FROM 1 FOR 4) = :magic OR substring(result FROM 1 FOR 4) = :magic"),
        {"magic": LZ4_MAGIC})
    for row in packed:
        conn.execute(sa.text("UPDATE assessments SET inputs = :inputs, result = :result WHERE id = :id"),
                     {"id": row.id, "inputs": unpack_json(bytes(row.inputs)), "result": unpack_json(bytes(row.result))})
    op.execute("ALTER TABLE assessments RESET (toast_tuple_target)")
    op.execute("ALTER TABLE assessments "
               "ALTER COLUMN inputs TYPE json USING convert_from(inputs, 'UTF8')::json, "
               "ALTER COLUMN result TYPE json USING convert_from(result, 'UTF8')::json")
    op.execute("ALTER TABLE assessments ALTER COLUMN result SET STORAGE EXTERNAL, "
               "ALTER COLUMN inputs SET STORAGE EXTERNAL")
