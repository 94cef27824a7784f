"""MySQL / MariaDB destination: the shared scenario suite plus what is particular to MySQL."""

from __future__ import annotations

import uuid

import pyarrow as pa
import pymysql
import pytest

from sage_pipelines.destinations.base import ConnectionSettings, Strategy, TableSpec
from sage_pipelines.destinations.mysql.destination import MySQLDestination
from sage_pipelines.errors import DestinationError
from sage_pipelines.types import Column, ColumnType, Kind
from sage_pipelines_tests.conftest import MYSQL_HOST
from sage_pipelines_tests.destination_scenarios import COLUMNS, DestinationScenarios, reader_of, row


def mysql_settings(**kw) -> ConnectionSettings:
    base = dict(kind="mysql", name="ventas_mysql", host=MYSQL_HOST, port=3306, user="root")
    base.update(kw)
    return ConnectionSettings(**base)


@pytest.fixture
def destination(mysql_database: str) -> MySQLDestination:
    return MySQLDestination(mysql_settings(database=mysql_database))


@pytest.fixture
def namespace(mysql_database: str) -> str:
    return mysql_database


class TestMySQLScenarios(DestinationScenarios):
    pass


def spec_in(schema: str | None, strategy: Strategy = Strategy.UPSERT, **kw) -> TableSpec:
    kw.setdefault("primary_key", ("id",) if strategy is not Strategy.APPEND else ())
    kw.setdefault("columns", COLUMNS)
    return TableSpec(name=kw.pop("name", f"t_{uuid.uuid4().hex[:8]}"), schema=schema, strategy=strategy, **kw)


def column_types(database: str, table: str) -> dict[str, str]:
    conn = pymysql.connect(host=MYSQL_HOST, user="root", password="")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT column_name, column_type FROM information_schema.columns "
                        "WHERE table_schema = %s AND table_name = %s", (database, table))
            return dict(cur.fetchall())
    finally:
        conn.close()


def test_describe_names_connection_database_and_table(destination, mysql_database):
    spec = spec_in(None, name="fact_ventas")
    assert destination.describe(spec) == f"mysql:ventas_mysql/{mysql_database}.fact_ventas"


def test_tables_are_created_with_the_type_map_and_text_keys_become_varchar(destination, mysql_database):
    cols = tuple(c for c in COLUMNS if c.name != "id")
    spec = spec_in(None, columns=cols, primary_key=("codigo",))
    destination.write(reader_of([row(1, codigo="000123")], cols), spec, "u1")
    assert column_types(mysql_database, spec.name) == {
        "codigo": "varchar(255)", "semana": "bigint(20)", "monto": "decimal(38,10)", "fecha": "date",
        "activo": "tinyint(1)", "nota": "longtext", "_sage_upload_id": "varchar(64)",
        "_sage_loaded_at": "datetime(6)"}


def test_a_missing_database_is_created(destination, mysql_database):
    schema = f"{mysql_database}_new"
    spec = spec_in(schema)
    try:
        destination.write(reader_of([row(1)]), spec, "u1")
        assert "id" in column_types(schema, spec.name)
        assert destination.describe(spec) == f"mysql:ventas_mysql/{schema}.{spec.name}"
    finally:
        conn = pymysql.connect(host=MYSQL_HOST, user="root", password="", autocommit=True)
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{schema}`")
        conn.close()


@pytest.mark.parametrize("name", ["group", "order", "Año", "30001", "select * from x;--", "a`b", "pct%s"])
def test_awkward_names_are_plain_names(destination, name):
    cols = (Column("id", ColumnType(Kind.INTEGER)), Column(name, ColumnType(Kind.TEXT)))
    spec = TableSpec(name=name, columns=cols, strategy=Strategy.UPSERT, primary_key=("id",))
    batch = pa.RecordBatch.from_pylist([{"id": 1, name: "v"}], schema=spec.arrow_schema)
    destination.write(pa.RecordBatchReader.from_batches(spec.arrow_schema, [batch]), spec, "u1")
    assert destination.read(spec).column(name).to_pylist() == ["v"]


def test_a_name_longer_than_64_characters_is_refused_before_connecting():
    dest = MySQLDestination(mysql_settings(port=1))
    with pytest.raises(DestinationError, match="64"):
        dest.write(reader_of([row(1)]), spec_in("db", name="t" * 65), "u1")


def test_a_broken_connection_names_it_and_never_the_password(mysql_database):
    dest = MySQLDestination(mysql_settings(user="nobody", database=mysql_database, password=lambda: "s3cr3t-pw"))
    with pytest.raises(DestinationError, match="ventas_mysql") as info:
        dest.write(reader_of([row(1)]), spec_in(None), "u1")
    assert "s3cr3t-pw" not in str(info.value)


def test_a_value_too_long_for_a_varchar_key_is_refused_not_truncated(destination):
    cols = (Column("codigo", ColumnType(Kind.TEXT, length=5)), Column("nota", ColumnType(Kind.TEXT)))
    spec = TableSpec(name="t_len", columns=cols, strategy=Strategy.UPSERT, primary_key=("codigo",))
    batch = pa.RecordBatch.from_pylist([{"codigo": "123456", "nota": "x"}], schema=spec.arrow_schema)
    with pytest.raises(DestinationError):
        destination.write(pa.RecordBatchReader.from_batches(spec.arrow_schema, [batch]), spec, "u1")
