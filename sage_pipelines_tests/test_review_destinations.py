"""Defects found by reviewing `sage_pipelines/destinations/` that concern some destinations only:
MySQL's collations and self-committing DDL, upsert into a keyless SQL table, lake spool files.
(Defects every destination must avoid are scenarios in `destination_scenarios.py`.)"""

from __future__ import annotations

import os

import uuid
from decimal import Decimal
from typing import Any

import pytest

from sage_pipelines.destinations.base import ConnectionSettings, Strategy, TableSpec
from sage_pipelines.types import Column, ColumnType, Kind
from sage_pipelines_tests.conftest import MYSQL_HOST
from sage_pipelines_tests.destination_scenarios import (
    TEXT_KEY,
    expected_table,
    normalized,
    reader_of,
    stored_rows,
)
from sage_pipelines_tests.destination_kinds import make_destination


def spec(namespace: str, strategy: Strategy, columns=TEXT_KEY, **kw: Any) -> TableSpec:
    return TableSpec(name=f"t_{uuid.uuid4().hex[:8]}", schema=namespace, strategy=strategy,
                     columns=columns, **kw)


def write_all(destination: Any, table: TableSpec, uploads: list) -> list:
    return [destination.write(reader_of(rows, table.columns), table, upload_id)
            for upload_id, rows in uploads]


def test_mysql_writes_into_a_table_made_with_the_older_pad_space_collation(mysql_database):
    """Tables created before NO PAD collations were used must keep working (staging follows
    the table's collation; two collations in one comparison are an error in MySQL)."""
    import pymysql

    from sage_pipelines.destinations.mysql.destination import MySQLDestination
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


# --- MySQL: DDL commits on its own, so a failed write must revert every DDL step -----------

@pytest.fixture
def mysql_destination(mysql_database: str):
    from sage_pipelines.destinations.mysql.destination import MySQLDestination
    return MySQLDestination(ConnectionSettings(kind="mysql", name="m", host=MYSQL_HOST, port=3306,
                                               user="root", database=mysql_database))


def test_mysql_a_first_delete_insert_whose_index_fails_leaves_no_table(mysql_destination, mysql_database):
    from sage_pipelines.errors import SageError
    cols = tuple(Column(f"k{i}", ColumnType(Kind.TEXT)) for i in range(5))  # 5 x 1020 bytes > 3072
    table = spec(mysql_database, Strategy.DELETE_INSERT, columns=cols,
                 delete_by=tuple(c.name for c in cols))
    with pytest.raises(SageError, match="key was too long"):
        write_all(mysql_destination, table, [("u1", [{c.name: "v" for c in cols}])])
    with pytest.raises(SageError, match="does not exist"):
        mysql_destination.read(table)


def test_mysql_a_failed_write_drops_the_column_it_added(mysql_destination, mysql_database):
    from sage_pipelines.errors import DataError
    table = spec(mysql_database, Strategy.UPSERT, primary_key=("codigo",))
    write_all(mysql_destination, table, [("u1", [{"codigo": "x", "semana": "w1", "monto": Decimal(1)}])])
    before = mysql_destination.read(table).schema
    wider = TableSpec(name=table.name, schema=table.schema, strategy=Strategy.UPSERT,
                      columns=TEXT_KEY + (Column("extra", ColumnType(Kind.TEXT)),), primary_key=("codigo",))
    bad = reader_of([{"codigo": "y", "semana": "w", "monto": Decimal(1), "extra": "e"}] * 4,
                    wider.columns, batch_rows=1, fail_after_batches=2)
    with pytest.raises(DataError):
        mysql_destination.write(bad, wider, "u2")
    assert mysql_destination.read(table).schema == before


def test_mysql_a_failed_write_narrows_back_the_column_it_widened(mysql_destination, mysql_database):
    from sage_pipelines.errors import DataError
    from sage_pipelines_tests.test_destination_mysql import column_types
    table = spec(mysql_database, Strategy.UPSERT, primary_key=("codigo",))
    write_all(mysql_destination, table, [("u1", [{"codigo": "x", "semana": "w1", "monto": Decimal(1)}])])
    before = column_types(mysql_database, table.name)
    wide = tuple(Column("monto", ColumnType(Kind.DECIMAL, 20, 4)) if c.name == "monto" else c
                 for c in TEXT_KEY)
    wider = TableSpec(name=table.name, schema=table.schema, strategy=Strategy.UPSERT, columns=wide,
                      primary_key=("codigo",))
    bad = reader_of([{"codigo": "y", "semana": "w", "monto": Decimal("1.2345")}] * 4, wide,
                    batch_rows=1, fail_after_batches=2)
    with pytest.raises(DataError):
        mysql_destination.write(bad, wider, "u2")
    assert column_types(mysql_database, table.name) == before


# --- switching an existing table to upsert --------------------------------------------------

@pytest.mark.parametrize("kind", ["duckdb", "postgresql", "mysql"])
def test_upsert_into_a_table_created_without_a_key_is_refused_and_leaves_it(kind, request, tmp_path):
    """An append table has no primary key: an upsert into it must not silently duplicate rows
    (MySQL did) nor fail with the driver's ON CONFLICT message — it is refused in one clear line."""
    from sage_pipelines.errors import DestinationError

    destination, namespace = make_destination(kind, request, tmp_path)
    appended = spec(namespace, Strategy.APPEND)
    rows = [{"codigo": "a", "semana": "w1", "monto": Decimal(1)}]
    write_all(destination, appended, [("u1", rows)])
    before = stored_rows(destination, appended)
    upserted = TableSpec(name=appended.name, schema=namespace, strategy=Strategy.UPSERT,
                         columns=TEXT_KEY, primary_key=("codigo",))
    with pytest.raises(DestinationError, match=r"upsert needs a primary key on \(codigo\)"):
        write_all(destination, upserted, [("u2", [{"codigo": "a", "semana": "w2", "monto": Decimal(2)}])])
    assert stored_rows(destination, appended) == before


# --- lake uploads are spooled to a temporary file, and it goes away --------------------------

@pytest.mark.parametrize("kind", ["iceberg", "delta", "hudi"])
def test_a_lake_write_spools_the_upload_to_disk_and_removes_it_even_on_failure(kind, request, tmp_path,
                                                                               monkeypatch):
    import tempfile

    from sage_pipelines.errors import DataError

    spool_root = tmp_path / "tmp"
    spool_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool_root))
    import pyarrow as pa

    mapped: list[str] = []
    real_memory_map = pa.memory_map
    def on_disk(path) -> str:  # a nameless scratch file is mapped through /proc/self/fd: where it lives
        return os.readlink(path) if str(path).startswith("/proc/self/fd/") else str(path)

    monkeypatch.setattr(pa, "memory_map", lambda path, *a: mapped.append(on_disk(path)) or real_memory_map(path, *a))
    destination, namespace = make_destination(kind, request, tmp_path)
    table = spec(namespace, Strategy.APPEND)
    rows = [{"codigo": f"c{i}", "semana": "w1", "monto": Decimal(i)} for i in range(6)]
    write_all(destination, table, [("u1", rows)])
    assert any(p.startswith(str(spool_root)) for p in mapped)  # the upload was read back from disk
    with pytest.raises(DataError):
        destination.write(reader_of(rows, table.columns, batch_rows=2, fail_after_batches=2), table, "u2")
    assert list(spool_root.iterdir()) == []
    assert len(destination.read(table)) == 6
