"""Defects found by reviewing `sage_pipelines/destinations/`: each test pins one of them, run
against every destination available here (DuckDB, PostgreSQL, MariaDB, Iceberg, Delta, Hudi)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from sage_pipelines.destinations.base import ConnectionSettings, LakeSettings, Strategy, TableSpec
from sage_pipelines.types import Column, ColumnType, Kind
from sage_pipelines_tests.conftest import MYSQL_HOST, unique_name
from sage_pipelines_tests.destination_scenarios import (
    expected_table,
    normalized,
    reader_of,
    stored_rows,
)

KINDS = ["duckdb", "postgresql", "mysql", "iceberg", "delta", "hudi"]


def _destination(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Any, str]:
    """A destination of `kind` and a namespace of its own (removed by the fixtures used)."""
    if kind == "duckdb":
        from sage_pipelines.destinations.duckdb import DuckDBDestination
        return DuckDBDestination(ConnectionSettings(kind="duckdb", name="warehouse",
                                                    database=str(tmp_path / "w.duckdb"))), "main"
    if kind == "postgresql":
        from sage_pipelines.destinations.postgres import PostgresDestination
        from sage_pipelines_tests.test_destination_postgres import pg_settings
        return PostgresDestination(pg_settings()), request.getfixturevalue("pg_schema")
    if kind == "mysql":
        from sage_pipelines.destinations.mysql import MySQLDestination
        database = request.getfixturevalue("mysql_database")
        return MySQLDestination(ConnectionSettings(kind="mysql", name="m", host=MYSQL_HOST, port=3306,
                                                   user="root", database=database)), database
    warehouse = (tmp_path / "lake").as_uri()
    settings = LakeSettings(name="lake", warehouse=warehouse, format=kind)
    if kind == "iceberg":
        from sage_pipelines.destinations.iceberg import IcebergDestination
        return IcebergDestination(settings), unique_name("ns")
    if kind == "delta":
        from sage_pipelines.destinations.delta import DeltaDestination
        return DeltaDestination(settings), unique_name("ns")
    from sage_pipelines.destinations.hudi import HudiDestination
    return HudiDestination(settings), "ventas"


@pytest.fixture(params=KINDS)
def dest(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Any, str]:
    return _destination(request.param, request, tmp_path)


TEXT_KEY = (
    Column("codigo", ColumnType(Kind.TEXT)),
    Column("semana", ColumnType(Kind.TEXT)),
    Column("monto", ColumnType(Kind.DECIMAL, 12, 2)),
)


def spec(namespace: str, strategy: Strategy, columns=TEXT_KEY, **kw: Any) -> TableSpec:
    return TableSpec(name=f"t_{uuid.uuid4().hex[:8]}", schema=namespace, strategy=strategy,
                     columns=columns, **kw)


def write_all(destination: Any, table: TableSpec, uploads: list) -> list:
    return [destination.write(reader_of(rows, table.columns), table, upload_id)
            for upload_id, rows in uploads]


# --- text keys are compared exactly -------------------------------------------------------

def _key_rows() -> list[dict]:
    return [{"codigo": c, "semana": "w1", "monto": Decimal(i)}
            for i, c in enumerate(["a", "a ", "A", " a", "á"])]


def test_upsert_keeps_text_keys_that_differ_by_trailing_space_or_case_apart(dest):
    destination, namespace = dest
    table = spec(namespace, Strategy.UPSERT, primary_key=("codigo",))
    u1 = ("u1", _key_rows())
    u2 = ("u2", [{"codigo": "a ", "semana": "w2", "monto": Decimal("9.99")}])
    results = write_all(destination, table, [u1, u2])
    assert stored_rows(destination, table) == normalized(expected_table(table, [u1, u2]))
    assert (results[0].inserted, results[1].inserted, results[1].updated) == (5, 0, 1)


def test_delete_insert_by_a_text_column_replaces_only_exactly_equal_values(dest):
    destination, namespace = dest
    table = spec(namespace, Strategy.DELETE_INSERT, delete_by=("semana",))
    u1 = ("u1", [{"codigo": "x", "semana": "w1", "monto": Decimal(1)},
                 {"codigo": "y", "semana": "w1 ", "monto": Decimal(2)}])
    u2 = ("u2", [{"codigo": "z", "semana": "w1", "monto": Decimal(3)}])
    results = write_all(destination, table, [u1, u2])
    assert stored_rows(destination, table) == normalized(expected_table(table, [u1, u2]))
    assert results[1].deleted == 1


def test_mysql_writes_into_a_table_made_with_the_older_pad_space_collation(mysql_database):
    """Tables created before NO PAD collations were used must keep working (staging follows
    the table's collation; two collations in one comparison are an error in MySQL)."""
    import pymysql

    from sage_pipelines.destinations.mysql import MySQLDestination
    destination = MySQLDestination(ConnectionSettings(kind="mysql", name="m", host=MYSQL_HOST,
                                                      port=3306, user="root", database=mysql_database))
    for strategy, extra in ((Strategy.UPSERT, {"primary_key": ("codigo",)}),
                            (Strategy.DELETE_INSERT, {"delete_by": ("semana",)})):
        table = spec(mysql_database, strategy, **extra)
        u1 = ("u1", [{"codigo": "x", "semana": "w1", "monto": Decimal(1)}])
        write_all(destination, table, [u1])
        conn = pymysql.connect(host=MYSQL_HOST, user="root", password="", database=mysql_database,
                               autocommit=True)
        with conn.cursor() as cur:
            cur.execute(f"ALTER TABLE `{table.name}` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        conn.close()
        u2 = ("u2", [{"codigo": "x", "semana": "w1", "monto": Decimal(2)}])
        write_all(destination, table, [u2])
        assert stored_rows(destination, table) == normalized(expected_table(table, [u1, u2]))
