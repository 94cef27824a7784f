"""SQL Server destination against a real server: the shared scenario suite plus what is
particular to SQL Server. Runs only when SAGE_TEST_MSSQL_URL names a server, e.g.
`mssql://sa:Secret_123@127.0.0.1:1433/master` (no SQL Server can run on the project's machines).
Each test works in a schema of its own, dropped afterwards with its tables.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import replace
from typing import Iterator
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import pytest

from sage_pipelines.destinations.base import ConnectionSettings, Strategy, TableSpec
from sage_pipelines.destinations.sqlserver.destination import SQLServerDestination, SQLServerDialect
from sage_pipelines.errors import DestinationError
from sage_pipelines.types import Column, ColumnType, Kind
from sage_pipelines_tests.destination_scenarios import COLUMNS, DestinationScenarios, reader_of, row

MSSQL_URL = os.environ.get("SAGE_TEST_MSSQL_URL", "")
pytestmark = pytest.mark.skipif(
    not MSSQL_URL, reason="SAGE_TEST_MSSQL_URL is not set: no SQL Server runs on this machine "
                          "(set it to mssql://user:password@host:1433/database to run these)")
Q = SQLServerDialect.q


def mssql_settings(**kw) -> ConnectionSettings:
    url = urlsplit(MSSQL_URL)
    password = unquote(url.password or "")
    base = dict(kind="sqlserver", name="ventas_mssql", host=url.hostname, port=url.port or 1433,
                user=unquote(url.username or ""), database=url.path.lstrip("/") or None,
                password=lambda: password)
    base.update(kw)
    return ConnectionSettings(**base)


def admin():
    """A plain autocommit pymssql session for fixtures and checks (not the code under test)."""
    import pymssql

    s = mssql_settings()
    return pymssql.connect(server=s.host, port=str(s.port), user=s.user, password=s.password(),
                           database=s.database, autocommit=True, tds_version="7.4")


def sql(statement: str, params: tuple = ()) -> list[tuple]:
    conn = admin()
    try:
        cur = conn.cursor()
        cur.execute(statement, params) if params else cur.execute(statement)
        return list(cur.fetchall()) if cur.description else []
    finally:
        conn.close()


def drop_schema(name: str) -> None:
    for (table,) in sql("SELECT name FROM sys.tables WHERE schema_id = SCHEMA_ID(%s)", (name,)):
        sql(f"DROP TABLE {Q.qualified(name, table)}")
    sql(f"IF SCHEMA_ID(%s) IS NOT NULL DROP SCHEMA {Q.ident(name)}", (name,))


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:10]}"
    sql(f"CREATE SCHEMA {Q.ident(name)}")
    yield name
    drop_schema(name)


@pytest.fixture
def destination() -> SQLServerDestination:
    return SQLServerDestination(mssql_settings())


class TestSQLServerScenarios(DestinationScenarios):
    pass


def spec_in(schema: str | None, strategy: Strategy = Strategy.UPSERT, **kw) -> TableSpec:
    kw.setdefault("primary_key", ("id",) if strategy is not Strategy.APPEND else ())
    kw.setdefault("columns", COLUMNS)
    return TableSpec(name=kw.pop("name", f"t_{uuid.uuid4().hex[:8]}"), schema=schema, strategy=strategy, **kw)


def column_types(schema: str, table: str) -> dict[str, str]:
    rows = sql("SELECT c.name, TYPE_NAME(c.user_type_id), c.max_length, c.precision, c.scale, "
               "c.collation_name FROM sys.columns c WHERE c.object_id = OBJECT_ID(%s)",
               (Q.qualified(schema, table),))
    out = {}
    for name, type_name, max_length, precision, scale, collation in rows:
        if type_name == "nvarchar":
            out[name] = f"nvarchar({'max' if max_length == -1 else max_length // 2}) {collation}"
        elif type_name == "decimal":
            out[name] = f"decimal({precision},{scale})"
        elif type_name == "datetime2":
            out[name] = f"datetime2({scale})"
        else:
            out[name] = type_name
    return out


def test_tables_are_created_with_the_type_map_and_text_keys_are_bounded_and_binary(destination, namespace):
    cols = tuple(c for c in COLUMNS if c.name != "id")
    spec = spec_in(namespace, columns=cols, primary_key=("codigo",))
    destination.write(reader_of([row(1, codigo="000123")], cols), spec, "u1")
    types = column_types(namespace, spec.name)
    assert types["codigo"] == "nvarchar(450) Latin1_General_100_BIN2"
    assert types["semana"] == "bigint" and types["monto"] == "decimal(38,10)" and types["fecha"] == "date"
    assert types["activo"] == "bit" and types["nota"].startswith("nvarchar(max) ")
    assert types["_sage_upload_id"].startswith("nvarchar(64)") and types["_sage_loaded_at"] == "datetime2(6)"


def test_keys_that_differ_only_in_case_or_accent_are_different_rows(destination, namespace):
    cols = (Column("codigo", ColumnType(Kind.TEXT)), Column("nota", ColumnType(Kind.TEXT)))
    spec = TableSpec("t_case", cols, Strategy.UPSERT, schema=namespace, primary_key=("codigo",))
    rows = [{"codigo": c, "nota": c} for c in ("abc", "ABC", "ábc")]
    batch = pa.RecordBatch.from_pylist(rows, schema=spec.arrow_schema)
    destination.write(pa.RecordBatchReader.from_batches(spec.arrow_schema, [batch]), spec, "u1")
    assert sorted(destination.read(spec).column("nota").to_pylist()) == sorted(["abc", "ABC", "ábc"])


def test_a_missing_schema_is_created(destination):
    schema = f"t_{uuid.uuid4().hex[:10]} new"
    try:
        destination.write(reader_of([row(1)]), spec_in(schema, name="fact"), "u1")
        assert "id" in column_types(schema, "fact")
    finally:
        drop_schema(schema)


@pytest.mark.parametrize("name", ["group", "order", "Año", "30001", "select * from x;--", "a]b", "pct%s",
                                  "x'; DROP TABLE y;--"])
def test_awkward_names_are_plain_names(destination, namespace, name):
    cols = (Column("id", ColumnType(Kind.INTEGER)), Column(name, ColumnType(Kind.TEXT)))
    spec = TableSpec(name=name, columns=cols, strategy=Strategy.UPSERT, schema=namespace, primary_key=("id",))
    batch = pa.RecordBatch.from_pylist([{"id": 1, name: "v"}], schema=spec.arrow_schema)
    destination.write(pa.RecordBatchReader.from_batches(spec.arrow_schema, [batch]), spec, "u1")
    assert destination.read(spec).column(name).to_pylist() == ["v"]


def test_a_value_too_long_for_a_varchar_column_is_refused_not_truncated(destination, namespace):
    cols = (Column("codigo", ColumnType(Kind.TEXT, length=5)), Column("nota", ColumnType(Kind.TEXT)))
    spec = TableSpec("t_len", cols, Strategy.UPSERT, schema=namespace, primary_key=("codigo",))
    batch = pa.RecordBatch.from_pylist([{"codigo": "123456", "nota": "x"}], schema=spec.arrow_schema)
    with pytest.raises(DestinationError):
        destination.write(pa.RecordBatchReader.from_batches(spec.arrow_schema, [batch]), spec, "u1")


def test_many_rows_cross_statement_and_round_trip_boundaries(destination, namespace):
    spec = spec_in(namespace)
    rows = [row(i, codigo=f"{i:06d}") for i in range(25_000)]
    result = destination.write(reader_of(rows, batch_rows=7_000), spec, "u1")
    assert result.inserted == 25_000
    again = destination.write(reader_of(rows[10_000:], batch_rows=7_000), spec, "u2")
    assert (again.inserted, again.updated) == (0, 15_000)
    assert destination.read(spec).column("codigo").to_pylist() == [f"{i:06d}" for i in range(25_000)]


def test_a_wrong_password_is_reported_as_credentials_without_the_password(namespace):
    dest = SQLServerDestination(mssql_settings(password=lambda: "n0t-the-pw-canary"))
    with pytest.raises(DestinationError, match="ventas_mssql.*credentials") as info:
        dest.write(reader_of([row(1)]), spec_in(namespace), "u1")
    assert "n0t-the-pw-canary" not in str(info.value)


def test_an_unknown_database_is_reported_as_the_database(namespace):
    dest = SQLServerDestination(mssql_settings(database=f"no_such_db_{uuid.uuid4().hex[:6]}"))
    with pytest.raises(DestinationError, match="database"):
        dest.write(reader_of([row(1)]), spec_in(namespace), "u1")


def test_evolve_widens_a_bounded_text_column(destination, namespace):
    narrow = tuple(replace(c, type=ColumnType(Kind.TEXT, length=10)) if c.name == "nota" else c for c in COLUMNS)
    spec = spec_in(namespace, columns=narrow)
    destination.write(reader_of([row(1, nota="short")], narrow), spec, "u1")
    wide = replace(spec, columns=COLUMNS)
    destination.write(reader_of([row(2, nota="x" * 5000)]), wide, "u2")
    assert column_types(namespace, spec.name)["nota"].startswith("nvarchar(max)")
    assert {r["id"]: len(r["nota"]) for r in destination.read(wide).to_pylist()} == {1: 5, 2: 5000}
