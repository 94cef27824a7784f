"""Every destination this project writes, built by name for tests that run across all of them.

`make_destination(kind, request, tmp_path)` returns a ready destination and a namespace of its
own; the namespace (schema, database, lake folder) is removed by the fixtures it uses. A SQL
Server destination needs SAGE_TEST_MSSQL_URL and is skipped without it.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from sage_pipelines.destinations.base import ConnectionSettings, LakeSettings
from sage_pipelines.destinations.delta.destination import DeltaDestination
from sage_pipelines.destinations.duckdb.destination import DuckDBDestination
from sage_pipelines.destinations.hudi.destination import HudiDestination
from sage_pipelines.destinations.iceberg.destination import IcebergDestination
from sage_pipelines.destinations.mysql.destination import MySQLDestination
from sage_pipelines.destinations.postgresql.destination import PostgresDestination
from sage_pipelines.destinations.sqlserver.destination import SQLServerDestination
from sage_pipelines_tests.conftest import MYSQL_HOST, unique_name
from sage_pipelines_tests.test_destination_postgres import pg_settings
from sage_pipelines_tests.test_destination_sqlserver_live import MSSQL_URL, Q, drop_schema, mssql_settings, sql

KINDS = ("duckdb", "postgresql", "mysql", "sqlserver", "iceberg", "iceberg-postgres", "delta", "hudi")


def make_destination(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Any, str]:
    """A destination of `kind` and a namespace of its own."""
    if kind == "duckdb":
        return DuckDBDestination(ConnectionSettings(kind="duckdb", name="warehouse",
                                                    database=str(tmp_path / "w.duckdb"))), "main"
    if kind == "postgresql":
        return PostgresDestination(pg_settings()), request.getfixturevalue("pg_schema")
    if kind == "mysql":
        database = request.getfixturevalue("mysql_database")
        return MySQLDestination(ConnectionSettings(kind="mysql", name="m", host=MYSQL_HOST, port=3306,
                                                   user="root", database=database)), database
    if kind == "sqlserver":
        if not MSSQL_URL:
            pytest.skip("SAGE_TEST_MSSQL_URL is not set: no SQL Server runs on this machine")
        schema = f"t_{uuid.uuid4().hex[:10]}"
        sql(f"CREATE SCHEMA {Q.ident(schema)}")
        request.addfinalizer(lambda: drop_schema(schema))
        return SQLServerDestination(mssql_settings()), schema
    warehouse = (tmp_path / "lake").as_uri()
    if kind == "iceberg":
        return IcebergDestination(LakeSettings(name="lake", warehouse=warehouse, format="iceberg")), unique_name("ns")
    if kind == "iceberg-postgres":
        catalog = request.getfixturevalue("pg_database")
        settings = LakeSettings(name="pglake", warehouse=warehouse, format="iceberg", catalog_uri=catalog)
        return IcebergDestination(settings), unique_name("ns")
    if kind == "delta":
        return DeltaDestination(LakeSettings(name="lake", warehouse=warehouse, format="delta")), unique_name("ns")
    if kind == "hudi":
        return HudiDestination(LakeSettings(name="lake", warehouse=warehouse, format="hudi")), "ventas"
    raise ValueError(f"unknown destination kind {kind!r}")
