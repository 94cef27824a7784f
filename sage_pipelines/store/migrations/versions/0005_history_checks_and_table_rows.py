"""History keeps each write's asset check results and the table's row count after it

`comprobaciones`: the checks run right after the write (name, passed, offending count, first
few offending values), which `sage history` and the Dagster UI show; `filas_tabla`: the rows
the table held after the write (the write's own count), beside `filas`, the upload's rows.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 17:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("materialization_history", sa.Column("comprobaciones", sa.JSON(), nullable=True))
    op.add_column("materialization_history", sa.Column("filas_tabla", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("materialization_history") as batch:
        batch.drop_column("filas_tabla")
        batch.drop_column("comprobaciones")
