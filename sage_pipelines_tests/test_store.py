"""The metadata store migrates to the full data model on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect

from sage_pipelines.store.db import engine_for, migrate

TABLES = {"db_secrets", "database_connections", "materialization_servers", "materializations",
          "materialization_tables", "materialization_destinations", "materialization_history",
          "casillas", "lakes", "audit_log", "uploads"}


def test_migration_creates_every_table_of_the_data_model_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'sage.db'}"
    migrate(url)
    migrate(url)  # idempotent
    assert TABLES <= set(inspect(engine_for(url)).get_table_names())


def test_migration_creates_every_table_of_the_data_model_on_postgresql(pg_database):
    url = pg_database.replace("postgresql://", "postgresql+psycopg://", 1)
    migrate(url)
    engine = engine_for(url)
    assert TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()
