"""The metadata store migrates to the full data model on SQLite and PostgreSQL, and older stores'
values to the current words."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text

from sage_pipelines.store.db import MIGRATIONS, engine_for, migrate
from sage_pipelines.store.states import ConnectionStatus, HistoryStatus, ServerStatus

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


SPANISH_ROWS = """
INSERT INTO db_secrets (id, nombre, tipo, opciones, creado_en, actualizado_en)
    VALUES (1, 's', 'duckdb', '{}', '2026-01-01', '2026-01-01');
INSERT INTO database_connections (nombre, secret_id, estado_conexion, creado_en) VALUES
    ('never', 1, 'sin_probar', '2026-01-01'), ('good', 1, 'ok', '2026-01-01'), ('bad', 1, 'error', '2026-01-01');
INSERT INTO materialization_servers (nombre, tipo, capacidad, prioridad, estado, metricas, creado_en) VALUES
    ('new1', 'remote', 1, 0, 'desconocido', '{}', '2026-01-01'), ('big1', 'remote', 1, 0, 'online', '{}', '2026-01-01');
INSERT INTO materialization_history (casilla, tabla, destino, upload_id, estado, estrategia, filas, insertadas,
    actualizadas, eliminadas, bytes, segundos, iniciado_en) VALUES
    ('c', 't', 'd', 'u1', 'exito', 'upsert', 1, 1, 0, 0, 1, 0.1, '2026-01-01'),
    ('c', 't', 'd', 'u2', 'fallido', 'upsert', 0, 0, 0, 0, 0, 0.1, '2026-01-01')
"""


def states(url: str) -> dict[str, list[tuple[str, str]]]:
    engine = engine_for(url)
    with engine.connect() as conn:
        out = {table: sorted(conn.execute(text(f"SELECT {key}, {column} FROM {table}")).all())
               for table, key, column in (("database_connections", "nombre", "estado_conexion"),
                                          ("materialization_servers", "nombre", "estado"),
                                          ("materialization_history", "upload_id", "estado"))}
    engine.dispose()
    return {table: [tuple(row) for row in rows] for table, rows in out.items()}


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_the_english_states_migration_rewrites_the_spanish_values_of_an_older_store(store, tmp_path, request):
    if store == "sqlite":
        url = f"sqlite:///{tmp_path / 'sage.db'}"
    else:
        url = request.getfixturevalue("pg_database").replace("postgresql://", "postgresql+psycopg://", 1)
    migrate(url, "0002")  # a store written before the states were English
    engine = engine_for(url)
    with engine.begin() as conn:
        for statement in SPANISH_ROWS.split(";"):
            conn.execute(text(statement))
    engine.dispose()
    migrate(url)
    assert states(url) == {
        "database_connections": [("bad", "error"), ("good", "ok"), ("never", "untested")],
        "materialization_servers": [("big1", "online"), ("new1", "unknown")],
        "materialization_history": [("u1", "succeeded"), ("u2", "failed")],
    }
    assert (ConnectionStatus.UNTESTED, ServerStatus.UNKNOWN, HistoryStatus.SUCCEEDED, HistoryStatus.FAILED) == (
        "untested", "unknown", "succeeded", "failed")  # the words the code writes are the ones migrated to

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    command.downgrade(cfg, "0004-1")
    assert states(url)["materialization_history"] == [("u1", "exito"), ("u2", "fallido")]
