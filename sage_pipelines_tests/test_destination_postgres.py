"""PostgreSQL destination: the shared scenario suite plus what is particular to PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from urllib.parse import urlparse

import psycopg
import pytest

from sage_pipelines.destinations.base import ConnectionSettings, Strategy, TableSpec
from sage_pipelines.destinations.postgresql.destination import PostgresDestination
from sage_pipelines.errors import DestinationError
from sage_pipelines.types import Column, ColumnType, Kind
from sage_pipelines_tests.conftest import PG_URL
from sage_pipelines_tests.destination_scenarios import COLUMNS, DestinationScenarios, reader_of, row


def pg_settings(**kw) -> ConnectionSettings:
    url = urlparse(PG_URL)
    base = dict(kind="postgresql", name="analytics", host=url.hostname, port=url.port or 5432,
                user=url.username, database=url.path.lstrip("/"))
    base.update(kw)
    return ConnectionSettings(**base)


@pytest.fixture
def destination() -> PostgresDestination:
    return PostgresDestination(pg_settings())


@pytest.fixture
def namespace(pg_schema: str) -> str:
    return pg_schema


class TestPostgresScenarios(DestinationScenarios):
    pass


def spec_in(schema: str, strategy: Strategy = Strategy.UPSERT, **kw) -> TableSpec:
    kw.setdefault("primary_key", ("id",) if strategy is not Strategy.APPEND else ())
    kw.setdefault("columns", COLUMNS)
    return TableSpec(name=kw.pop("name", f"t_{uuid.uuid4().hex[:8]}"), schema=schema, strategy=strategy, **kw)


def test_describe_names_connection_schema_and_table(destination, pg_schema):
    spec = spec_in(pg_schema, name="fact_ventas")
    assert destination.describe(spec) == f"postgresql:analytics/{pg_schema}.fact_ventas"


def test_tables_are_created_with_the_type_map_and_the_primary_key(destination, pg_schema):
    spec = spec_in(pg_schema)
    destination.write(reader_of([row(1)]), spec, "u1")
    with psycopg.connect(PG_URL) as conn:
        types = dict(conn.execute(
            "SELECT column_name, format_type(atttypid, atttypmod) FROM information_schema.columns c "
            "JOIN pg_attribute a ON a.attrelid = (quote_ident(%s) || '.' || quote_ident(%s))::regclass "
            "AND a.attname = c.column_name WHERE table_schema = %s AND table_name = %s",
            (pg_schema, spec.name, pg_schema, spec.name)).fetchall())
        pk = conn.execute("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                          "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = (quote_ident(%s) || '.' || "
                          "quote_ident(%s))::regclass AND i.indisprimary",
                          (pg_schema, spec.name)).fetchall()
    assert types == {"id": "bigint", "semana": "bigint", "codigo": "text", "monto": "numeric(38,10)",
                     "fecha": "date", "activo": "boolean", "nota": "text",
                     "_sage_upload_id": "character varying(64)",
                     "_sage_loaded_at": "timestamp without time zone"}
    assert pk == [("id",)]


def test_a_missing_schema_is_created(destination, pg_schema):
    schema = f"{pg_schema}_new"
    try:
        destination.write(reader_of([row(1)]), spec_in(schema), "u1")
        with psycopg.connect(PG_URL) as conn:
            assert conn.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s",
                                (schema,)).fetchone()
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.parametrize("name", ["group", "order", "Año", "30001", "select * from x;--", 'a"b', "pct%s"])
def test_awkward_names_are_plain_names(destination, pg_schema, name):
    cols = (Column("id", ColumnType(Kind.INTEGER)), Column(name, ColumnType(Kind.TEXT)))
    spec = TableSpec(name=name, schema=pg_schema, columns=cols, strategy=Strategy.UPSERT, primary_key=("id",))
    import pyarrow as pa
    batch = pa.RecordBatch.from_pylist([{"id": 1, name: "v"}], schema=spec.arrow_schema)
    destination.write(pa.RecordBatchReader.from_batches(spec.arrow_schema, [batch]), spec, "u1")
    assert destination.read(spec).column(name).to_pylist() == ["v"]


def test_a_name_longer_than_63_bytes_is_refused_before_connecting(pg_schema):
    dest = PostgresDestination(pg_settings(port=1))  # unreachable: the check must come first
    with pytest.raises(DestinationError, match="63"):
        dest.write(reader_of([row(1)]), spec_in(pg_schema, name="ñ" * 32), "u1")


def test_a_broken_connection_names_it_and_never_the_password(pg_schema):
    dest = PostgresDestination(pg_settings(name="ventas_pg", port=1, password=lambda: "s3cr3t-pw"))
    with pytest.raises(DestinationError, match="ventas_pg") as info:
        dest.write(reader_of([row(1)]), spec_in(pg_schema), "u1")
    assert "s3cr3t-pw" not in str(info.value)


def test_truncate_insert_never_shows_an_empty_table_to_a_concurrent_reader(destination, pg_schema):
    spec = spec_in(pg_schema, Strategy.TRUNCATE_INSERT)
    destination.write(reader_of([row(i) for i in range(100)]), spec, "u1")
    seen: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            while not stop.is_set():
                seen.append(conn.execute(f'SELECT count(*) FROM "{pg_schema}"."{spec.name}"').fetchone()[0])

    reader = threading.Thread(target=watch)
    reader.start()
    try:
        for n in range(2, 8):
            destination.write(reader_of([row(i) for i in range(100)], batch_rows=10), spec, f"u{n}")
    finally:
        stop.set()
        reader.join()
    assert seen and set(seen) == {100}


def test_an_existing_key_repeated_in_one_upload_takes_its_last_row(destination, pg_schema):
    """The optimistic upsert meets ON CONFLICT's cardinality violation and falls back to
    deduplicating staging: the last row wins and the counts stay exact."""
    spec = spec_in(pg_schema)
    destination.write(reader_of([row(1), row(2)]), spec, "u1")
    result = destination.write(reader_of([row(2, codigo="a"), row(3), row(2, codigo="last")]), spec, "u2")
    stored = {r["id"]: r["codigo"] for r in destination.read(spec).to_pylist()}
    assert stored == {1: "c", 2: "last", 3: "c"}
    assert (result.inserted, result.updated) == (1, 1)
