"""State values in English: the words users read in listings (column names stay Spanish)

Rewrites the values older versions stored: connections `sin_probar` -> `untested`, servers
`desconocido` -> `unknown`, history `exito` -> `succeeded` and `fallido` -> `failed`. The words
are written out here, not imported from `store.states`, so this migration keeps meaning what it
meant when the words change again.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 12:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# (table, column, Spanish value, English value)
_RENAMES = (
    ("database_connections", "estado_conexion", "sin_probar", "untested"),
    ("materialization_servers", "estado", "desconocido", "unknown"),
    ("materialization_history", "estado", "exito", "succeeded"),
    ("materialization_history", "estado", "fallido", "failed"),
)


def _rewrite(table: str, column: str, old: str, new: str) -> None:
    t = sa.table(table, sa.column(column, sa.String))
    op.execute(t.update().where(t.c[column] == op.inline_literal(old)).values({column: op.inline_literal(new)}))


def upgrade() -> None:
    for table, column, spanish, english in _RENAMES:
        _rewrite(table, column, spanish, english)


def downgrade() -> None:
    for table, column, spanish, english in _RENAMES:
        _rewrite(table, column, english, spanish)
