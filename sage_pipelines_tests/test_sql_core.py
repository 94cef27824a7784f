"""The shared SQL core, without a database: names, type maps, staging text."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from sage_pipelines.destinations.base import Strategy, TableSpec
from sage_pipelines.destinations.duckdb.destination import DuckDBDialect
from sage_pipelines.destinations.mysql.destination import MySQLDialect
from sage_pipelines.destinations.postgresql.destination import PostgresDialect
from sage_pipelines.destinations.sql.staging import StagedRows, encode_text
from sage_pipelines.destinations.sql.typemap import CatalogColumn
from sage_pipelines.errors import DataError, DestinationError
from sage_pipelines.types import Column, ColumnType, Kind

TEXT, INT = ColumnType(Kind.TEXT), ColumnType(Kind.INTEGER)


# --- identifiers ---------------------------------------------------------------------------

@pytest.mark.parametrize("dialect, quoted", [(PostgresDialect(), '"group"'), (MySQLDialect(), "`group`"),
                                             (DuckDBDialect(), '"group"')])
def test_every_identifier_is_quoted_even_plain_words(dialect, quoted):
    assert dialect.q.ident("group") == quoted


def test_quote_characters_inside_a_name_are_doubled():
    assert PostgresDialect().q.ident('x"; drop table y;--') == '"x""; drop table y;--"'
    assert MySQLDialect().q.ident("x`; drop table y;--") == "`x``; drop table y;--`"


def test_postgres_counts_the_identifier_limit_in_bytes():
    q = PostgresDialect().q
    q.check("a" * 63, "table")
    with pytest.raises(DestinationError, match="64 bytes long, more than the 63 allowed"):
        q.check("ñ" * 32, "table")


def test_mysql_counts_the_identifier_limit_in_characters_and_refuses_a_trailing_space():
    q = MySQLDialect().q
    q.check("ñ" * 64, "table")
    with pytest.raises(DestinationError, match="65 characters"):
        q.check("ñ" * 65, "table")
    with pytest.raises(DestinationError, match="end with a space"):
        q.check("ventas ", "table")


def test_columns_equal_but_for_case_are_refused_where_names_ignore_case():
    with pytest.raises(DestinationError, match="same name"):
        MySQLDialect().q.check_columns(["Id", "id"], "table t")
    PostgresDialect().q.check_columns(["Id", "id"], "table t")


def test_empty_and_nul_names_are_refused():
    for bad in ("", "a\x00b"):
        with pytest.raises(DestinationError):
            PostgresDialect().q.check(bad, "column")


# --- type maps ---------------------------------------------------------------------------------

@pytest.mark.parametrize("t, pg, my, duck", [
    (TEXT, "TEXT", "LONGTEXT", "VARCHAR"),
    (ColumnType(Kind.TEXT, length=10), "VARCHAR(10)", "VARCHAR(10)", "VARCHAR"),
    (ColumnType(Kind.DECIMAL, 12, 2), "NUMERIC(12,2)", "DECIMAL(12,2)", "DECIMAL(12,2)"),
    (INT, "BIGINT", "BIGINT", "BIGINT"),
    (ColumnType(Kind.DATE), "DATE", "DATE", "DATE"),
    (ColumnType(Kind.TIMESTAMP), "TIMESTAMP", "DATETIME(6)", "TIMESTAMP"),
    (ColumnType(Kind.BOOLEAN), "BOOLEAN", "TINYINT(1)", "BOOLEAN"),
])
def test_each_logical_type_has_its_ddl_in_each_dialect(t, pg, my, duck):
    assert (PostgresDialect.type_map.ddl(t), MySQLDialect.type_map.ddl(t), DuckDBDialect.type_map.ddl(t)) \
        == (pg, my, duck)


def test_mysql_keys_cannot_be_text_so_unbounded_text_keys_are_varchar():
    assert MySQLDialect.type_map.ddl(TEXT, key=True) == "VARCHAR(255)"
    assert PostgresDialect.type_map.ddl(TEXT, key=True) == "TEXT"


@pytest.mark.parametrize("dialect, column, expected", [
    (PostgresDialect, CatalogColumn("c", "character varying", length=10), ColumnType(Kind.TEXT, length=10)),
    (PostgresDialect, CatalogColumn("c", "numeric", precision=12, scale=2), ColumnType(Kind.DECIMAL, 12, 2)),
    (PostgresDialect, CatalogColumn("c", "timestamp without time zone"), ColumnType(Kind.TIMESTAMP)),
    (MySQLDialect, CatalogColumn("c", "tinyint", column_type="tinyint(1)"), ColumnType(Kind.BOOLEAN)),
    (MySQLDialect, CatalogColumn("c", "longtext", length=4294967295), TEXT),
    (MySQLDialect, CatalogColumn("c", "datetime"), ColumnType(Kind.TIMESTAMP)),
    (DuckDBDialect, CatalogColumn("c", "decimal(38,10)", precision=38, scale=10), ColumnType(Kind.DECIMAL, 38, 10)),
    (PostgresDialect, CatalogColumn("c", "jsonb"), None),
])
def test_existing_columns_read_back_as_logical_types(dialect, column, expected):
    assert dialect.type_map.from_catalog(column) == expected


# --- staging text --------------------------------------------------------------------------------

def test_text_encoding_keeps_null_empty_and_special_characters_apart():
    batch = pa.record_batch([pa.array(["", None, "a\tb\nc\rd\\e", "\\N", "Año 😀"])], names=["s"])
    assert bytes(encode_text(batch)).decode() == "\n\\N\na\\tb\\nc\\rd\\\\e\n\\\\N\nAño 😀\n"


def test_text_encoding_of_numbers_dates_and_booleans_is_exact():
    batch = pa.record_batch([
        pa.array([Decimal("12345678901234567890.1234567891"), None], pa.decimal128(38, 10)),
        pa.array([dt.date(1900, 1, 1), dt.date(2024, 2, 29)]),
        pa.array([dt.datetime(2024, 1, 31, 10, 0, 0, 5), None], pa.timestamp("us")),
        pa.array([True, False]),
        pa.array([-(2 ** 63), 0], pa.int64())], names=list("abcde"))
    assert bytes(encode_text(batch)).decode().splitlines() == [
        "12345678901234567890.1234567891\t1900-01-01\t2024-01-31 10:00:00.000005\t1\t-9223372036854775808",
        "\\N\t2024-02-29\t\\N\t0\t0"]


def test_text_encoding_of_a_sliced_batch_holds_only_its_rows():
    batch = pa.record_batch([pa.array(["a", "b", "c", "d"])], names=["s"])
    assert bytes(encode_text(batch.slice(1, 2))) == b"b\nc\n"
    assert bytes(encode_text(batch.slice(0, 0))) == b""


# --- staged rows ---------------------------------------------------------------------------------

SPEC = TableSpec(name="t", columns=(Column("id", INT), Column("v", TEXT)), strategy=Strategy.UPSERT,
                 primary_key=("id",))


def reader(*batches: list[dict], fail: bool = False) -> pa.RecordBatchReader:
    def gen():
        for rows in batches:
            yield pa.RecordBatch.from_pylist(rows, schema=SPEC.arrow_schema)
        if fail:
            raise DataError("u.csv", 9, "v", "x", "bad")
    return pa.RecordBatchReader.from_batches(SPEC.arrow_schema, gen())


def test_staged_rows_carry_the_sage_columns_and_the_row_order_across_batches():
    staged = StagedRows(reader([{"id": 1, "v": "a"}, {"id": 2, "v": "b"}], [{"id": 1, "v": "c"}]),
                        SPEC, "u1")
    table = staged.reader().read_all()
    assert table.column("_sage_row").to_pylist() == [0, 1, 2]
    assert table.column("_sage_upload_id").to_pylist() == ["u1"] * 3
    assert staged.rows == 3 and staged.bytes > 0


def test_staged_rows_remember_the_readers_error():
    staged = StagedRows(reader([{"id": 1, "v": "a"}], fail=True), SPEC, "u1")
    with pytest.raises(DataError):
        staged.reader().read_all()
    assert isinstance(staged.error, DataError) and staged.error.line == 9


def test_an_upload_with_other_columns_than_declared_is_refused():
    other = pa.schema([("id", pa.int64()), ("w", pa.string())])
    with pytest.raises(DestinationError, match="differ from the declared"):
        StagedRows(pa.RecordBatchReader.from_batches(other, []), SPEC, "u1")


def test_a_timestamp_column_of_one_instant_encodes_like_one_of_many():
    instant = dt.datetime(2024, 5, 6, 7, 8, 9, 123456)
    same = pa.record_batch([pa.array([instant] * 3, pa.timestamp("us"))], names=["t"])
    mixed = pa.record_batch([pa.array([instant, None, instant.replace(microsecond=0)], pa.timestamp("us"))],
                            names=["t"])
    assert bytes(encode_text(same)).decode().splitlines() == ["2024-05-06 07:08:09.123456"] * 3
    assert bytes(encode_text(mixed)).decode().splitlines() == [
        "2024-05-06 07:08:09.123456", "\\N", "2024-05-06 07:08:09.000000"]
