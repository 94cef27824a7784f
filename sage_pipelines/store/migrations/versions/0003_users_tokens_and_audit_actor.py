"""Users and their API tokens; the audit log says from where (source, client) and what changed

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nombre", sa.String(length=200), nullable=False),
        sa.Column("rol", sa.String(length=30), nullable=False),
        sa.Column("activo", sa.Boolean(), nullable=False),
        sa.Column("creado_en", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("nombre"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("sal", sa.LargeBinary(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.Column("descripcion", sa.String(length=200), nullable=False),
        sa.Column("creado_en", sa.DateTime(), nullable=False),
        sa.Column("expira_en", sa.DateTime(), nullable=True),
        sa.Column("revocado_en", sa.DateTime(), nullable=True),
        sa.Column("ultimo_uso", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("origen", sa.String(length=30), nullable=True))
        batch.add_column(sa.Column("cliente", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("antes", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("despues", sa.JSON(), nullable=True))
        batch.create_index("ix_audit_log_momento", ["momento"])
        batch.create_index("ix_audit_log_actor", ["actor"])
        batch.create_index("ix_audit_log_objeto", ["objeto"])


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_index("ix_audit_log_objeto")
        batch.drop_index("ix_audit_log_actor")
        batch.drop_index("ix_audit_log_momento")
        batch.drop_column("despues")
        batch.drop_column("antes")
        batch.drop_column("cliente")
        batch.drop_column("origen")
    op.drop_table("tokens")
    op.drop_table("users")
