"""History keeps the server's name; byte and row counts are 64-bit

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 01:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_BIG = (("uploads", "tamano_bytes"),) + tuple(
    ("materialization_history", c) for c in ("filas", "insertadas", "actualizadas", "eliminadas", "bytes"))


def upgrade() -> None:
    op.add_column("materialization_history", sa.Column("servidor", sa.String(length=200), nullable=True))
    if op.get_bind().dialect.name != "sqlite":  # SQLite integers are already 64-bit
        for table, column in _BIG:
            op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer(),
                            existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        for table, column in _BIG:
            op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger(),
                            existing_nullable=False)
    with op.batch_alter_table("materialization_history") as batch:
        batch.drop_column("servidor")
