"""MATERIALIZATION_HISTORY: recording writes and listing them newest first."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from sage_pipelines.cli import main
from sage_pipelines.services.home import init_home
from sage_pipelines.store.db import session_scope
from sage_pipelines.store.history import list_history, record_history
from sage_pipelines.store.models import MaterializationServer


def write(session, casilla: str, upload_id: str, minute: int, **extra):
    fields = dict(casilla=casilla, tabla="main.fact_ventas", destino="warehouse", upload_id=upload_id,
                  estado="succeeded", estrategia="upsert", filas=3, insertadas=2, actualizadas=1,
                  segundos=0.25, iniciado_en=dt.datetime(2030, 1, 1, 6, minute))
    fields.update(extra)
    return record_history(session, **fields)


@pytest.fixture
def store(sage_home: Path):
    init_home()
    with session_scope() as session:
        yield session


def test_history_lists_the_newest_rows_first(store):
    for minute, upload in enumerate(["u1", "u2", "u3"]):
        write(store, "ventas", upload, minute)
    assert [h.upload_id for h in list_history(store)] == ["u3", "u2", "u1"]
    assert [h.upload_id for h in list_history(store, limit=2)] == ["u3", "u2"]


def test_history_filters_by_casilla(store):
    write(store, "ventas", "u1", 0)
    write(store, "clientes", "c1", 1)
    assert [h.casilla for h in list_history(store, "ventas")] == ["ventas"]


def test_record_history_refuses_an_unknown_field(store):
    with pytest.raises(TypeError, match="unknown field\\(s\\) rows"):
        record_history(store, casilla="ventas", rows=3)


def test_cli_history_prints_one_row_per_write_with_server_and_error(sage_home, capsys):
    init_home()
    with session_scope() as session:
        server = MaterializationServer(nombre="gpu01", tipo="remote")
        session.add(server)
        session.flush()
        write(session, "ventas", "u1", 0, servidor_id=server.id)
        write(session, "ventas", "u2", 1, servidor="local", estado="failed", filas=0, insertadas=0, actualizadas=0,
              error="ventas.csv, line 3, column 'fecha': not a date: '2024-13-01'\nTraceback...")
    assert main(["history", "ventas"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["TIME", "CASILLA", "TABLE", "DESTINATION", "UPLOAD", "STRATEGY", "STATUS",
                                "ROWS", "INSERTED", "UPDATED", "DELETED", "SECONDS", "SERVER", "CHECKS", "ERROR"]
    assert lines[1].split()[:13] == ["2030-01-01T06:01:00", "ventas", "main.fact_ventas", "warehouse", "u2",
                                     "upsert", "failed", "0", "0", "0", "0", "0.25", "local"]
    assert lines[1].endswith("column 'fecha': not a date: '2024-13-01'")
    assert lines[2].split() == ["2030-01-01T06:00:00", "ventas", "main.fact_ventas", "warehouse", "u1",
                                "upsert", "succeeded", "3", "2", "1", "0", "0.25", "gpu01"]


def test_history_counts_and_upload_sizes_are_64_bit_on_postgresql(pg_database):
    from sqlalchemy import BigInteger, inspect

    from sage_pipelines.store.db import engine_for, migrate

    url = pg_database.replace("postgresql://", "postgresql+psycopg://", 1)
    migrate(url)
    engine = engine_for(url)
    columns = {c["name"]: c["type"] for c in inspect(engine).get_columns("materialization_history")}
    uploads = {c["name"]: c["type"] for c in inspect(engine).get_columns("uploads")}
    engine.dispose()
    assert all(isinstance(columns[c], BigInteger) for c in ("filas", "insertadas", "actualizadas",
                                                             "eliminadas", "bytes"))
    assert isinstance(uploads["tamano_bytes"], BigInteger)
    assert "servidor" in columns
