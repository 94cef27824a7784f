"""SQL Server destination, offline: no SQL Server runs on this machine, so these tests check
what can be checked without one: the T-SQL each strategy sends (structure, quoting, and that it
parses as T-SQL with sqlglot), the exact literals values become, the batch arithmetic, the
type map and key limits, the order of statements around the transaction (against a recording
connection standing in for the server), and the real pymssql driver's connection failures.
The same scenarios as PostgreSQL and MariaDB run against a real server in
`test_destination_sqlserver_live.py` when SAGE_TEST_MSSQL_URL is set.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pymssql
import pytest
import sqlglot
from sqlglot import exp

from sage_pipelines.destinations.base import (
    ConnectionSettings,
    SchemaChange,
    Strategy,
    TableSpec,
    UPLOAD_ID_COLUMN,
)
from sage_pipelines.destinations.registry import destination_class
from sage_pipelines.destinations.sql import Target
from sage_pipelines.destinations.sql.staging import ROW_COLUMN
from sage_pipelines.destinations.sql.typemap import CatalogColumn
from sage_pipelines.destinations.sqlserver import batching, literals
from sage_pipelines.destinations.sqlserver.destination import SQLServerDestination, SQLServerDialect
from sage_pipelines.destinations.sqlserver.literals import PARAM
from sage_pipelines.destinations.sqlserver.typemap import TYPE_MAP, check_key_size
from sage_pipelines.errors import DataError, DestinationError, SchemaChangeError
from sage_pipelines.types import Column, ColumnType, Kind
from sage_pipelines_tests.destination_scenarios import COLUMNS, TRICKY_DECIMALS, TRICKY_TEXT, reader_of, row

HOSTILE = ["group", "order", "Año", "30001", "select * from x;--", "a]b", "pct%s", "x'; DROP TABLE y;--"]
D = SQLServerDialect()
TARGET = Target("ventas", "fact_ventas")
NAMES = ["id", "semana", "codigo", UPLOAD_ID_COLUMN]


def tsql(statement: str | bytes) -> list[exp.Expression]:
    """Parse T-SQL (markers shown as @p), failing the test on a syntax error."""
    text = statement.decode() if isinstance(statement, bytes) else statement
    return sqlglot.parse(text.replace(PARAM, "@p"), read="tsql", error_level=sqlglot.ErrorLevel.RAISE)


def squash(sql: str) -> str:
    return " ".join(sql.split())


# --- batch arithmetic --------------------------------------------------------------------

@pytest.mark.parametrize("columns, rows", [(1, 1000), (2, 1000), (3, 699), (10, 209), (11, 190),
                                          (100, 20), (2099, 1)])
def test_a_statement_carries_at_most_1000_rows_and_2099_values(columns, rows):
    assert batching.rows_per_statement(columns) == rows
    assert rows <= 1000 and rows * columns <= 2099 and (rows + 1 > 1000 or (rows + 1) * columns > 2099)


def test_more_columns_than_one_statement_can_carry_are_refused():
    with pytest.raises(ValueError):
        batching.rows_per_statement(2100)


@pytest.mark.parametrize("rows, columns, statements", [
    (0, 11, 0), (1, 11, 1), (190, 11, 1), (191, 11, 2), (1000, 2, 1), (1001, 2, 2),
    (1_000_000, 11, 5264), (1_000_000, 1, 1000), (218_000, 11, 1148)])
def test_the_number_of_statements_for_a_given_size(rows, columns, statements):
    assert batching.statements_needed(rows, columns) == statements
    slices = batching.statement_slices(rows, columns)
    assert len(slices) == statements
    assert [a for a, _ in slices] == [0] + [b for _, b in slices[:-1]][:max(0, len(slices) - 1)] \
        if slices else True  # contiguous, in order
    assert sum(b - a for a, b in slices) == rows


def test_round_trips_group_whole_statements_of_about_10000_rows():
    trips = list(batching.round_trips(25_000, 11))
    assert [sum(b - a for a, b in t) for t in trips] == [9880, 9880, 5240]  # 52 statements of 190
    assert [s for t in trips for s in t] == batching.statement_slices(25_000, 11)


def test_one_arrow_batch_becomes_the_expected_insert_statements_with_every_row_once():
    schema = pa.schema([("n", pa.int64()), ("t", pa.string()), ("d", pa.date32())])
    batch = pa.RecordBatch.from_pydict({"n": list(range(2500)), "t": [f"v{i}" for i in range(2500)],
                                        "d": [dt.date(2024, 1, 1)] * 2500}, schema=schema)
    trips = D.load_statements("#stage", batch)
    statements = [s for trip in trips for s in trip.split(b";\n")]
    assert len(trips) == 1 and len(statements) == batching.statements_needed(2500, 3) == 4
    numbers = [int(n) for s in statements for n in re.findall(rb"\((\d+),N'v", s)]
    assert numbers == list(range(2500))


# --- values as T-SQL literals ------------------------------------------------------------

def literal_value(e: exp.Expression) -> Any:
    """What SQL Server makes of one literal of our INSERT (as sqlglot reads the T-SQL)."""
    if isinstance(e, exp.Null):
        return None
    if isinstance(e, exp.Neg):
        return -literal_value(e.this)
    if isinstance(e, exp.National):
        return e.this
    if isinstance(e, exp.Literal) and not e.is_string:
        text = e.this
        return Decimal(text) if "." in text else int(text)
    if isinstance(e, exp.Convert):  # CONVERT(type, N'iso text', style)
        value = literal_value(e.expression)
        if value is None:
            return None
        kind = e.this.this
        return dt.date.fromisoformat(value) if kind == exp.DataType.Type.DATE else dt.datetime.fromisoformat(value)
    raise AssertionError(f"unexpected literal {e.sql('tsql')}")


def values_of(statement: bytes) -> list[list[Any]]:
    insert = tsql(statement)[0]
    return [[literal_value(v) for v in t.expressions] for t in insert.expression.expressions]


def test_every_value_becomes_a_literal_that_reads_back_exactly():
    rows = [row(i, codigo=t, nota=t, monto=TRICKY_DECIMALS[i % len(TRICKY_DECIMALS)],
                fecha=[dt.date(1900, 1, 1), dt.date(2099, 12, 31), None, dt.date(1, 1, 1)][i % 4],
                activo=[True, False, None][i % 3]) for i, t in enumerate(TRICKY_TEXT)]
    batch = next(iter(reader_of(rows, batch_rows=100)))
    (statement,) = D.load_statements("#stage", batch)
    expected = [[r[c.name] if not isinstance(r[c.name], bool) else int(r[c.name]) for c in COLUMNS]
                for r in rows]
    got = values_of(statement)
    monto = [c.name for c in COLUMNS].index("monto")
    for values in got:  # decimals travel as exact text that the DECIMAL column converts
        values[monto] = None if values[monto] is None else Decimal(values[monto])
    assert got == expected
    assert b"N'-0.0000000001'" in statement and b"E-10" not in statement  # never exponent spelling


def test_null_and_empty_text_are_different_literals():
    batch = pa.RecordBatch.from_pydict({"t": ["", None, "NULL"]})
    assert literals.encode_rows(batch) == [b"(N'')", b"(NULL)", b"(N'NULL')"]


def test_decimals_keep_every_digit_in_fixed_point_never_a_float_spelling():
    values = [Decimal("-0.0000000001"), Decimal("12345678901234567890.1234567891"), Decimal("0")]
    batch = pa.RecordBatch.from_pydict({"m": pa.array(values, pa.decimal128(38, 10))})
    assert literals.encode_rows(batch) == [b"(N'-0.0000000001')", b"(N'12345678901234567890.1234567891')",
                                           b"(N'0.0000000000')"]


def test_dates_and_timestamps_are_iso_text_converted_with_a_fixed_style_even_when_null():
    batch = pa.RecordBatch.from_pydict({
        "d": pa.array([dt.date(2024, 2, 29), None], pa.date32()),
        "ts": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5, 6), None], pa.timestamp("us"))})
    assert literals.encode_rows(batch) == [
        b"(CONVERT(DATE, N'2024-02-29', 23),CONVERT(DATETIME2(6), N'2024-01-02 03:04:05.000006', 121))",
        b"(CONVERT(DATE, NULL, 23),CONVERT(DATETIME2(6), NULL, 121))"]


def test_booleans_are_bits():
    batch = pa.RecordBatch.from_pydict({"b": [True, False, None]})
    assert literals.encode_rows(batch) == [b"(1)", b"(0)", b"(NULL)"]


def test_text_with_a_nul_character_is_refused_clearly():
    batch = pa.RecordBatch.from_pydict({"nota": ["ok", "bad\x00value"]})
    with pytest.raises(DestinationError, match="nota.*NUL"):
        D.load_statements("#stage", batch)


def test_bound_values_are_quoted_by_the_driver_and_names_with_percent_are_left_alone():
    sql = D.delete_upload_sql(Target("dbo", "pct%s"))
    bound = literals.bind(sql, ("u1'; DROP TABLE x;--",))
    assert bound == "DELETE FROM [dbo].[pct%s] WHERE [_sage_upload_id] = N'u1''; DROP TABLE x;--'".encode()
    (statement,) = tsql(bound)
    assert isinstance(statement, exp.Delete)
    assert statement.find(exp.National).this == "u1'; DROP TABLE x;--"


def test_binding_needs_exactly_one_value_per_marker():
    with pytest.raises(ValueError):
        literals.bind(D.delete_upload_sql(TARGET), ())
    with pytest.raises(ValueError):
        literals.bind("SELECT 1 AS [x]", ("extra",))


# --- the T-SQL of each strategy ----------------------------------------------------------

def test_upsert_is_one_merge_with_holdlock_over_the_last_row_of_each_key():
    sql = D.upsert_sql(TARGET, "#_sage_stage_1", NAMES, ["id", "semana"])
    declare, merge, count = tsql(sql)
    assert isinstance(merge, exp.Merge)
    s = squash(sql)
    assert "MERGE INTO [ventas].[fact_ventas] WITH (HOLDLOCK) AS t" in s
    assert ("ROW_NUMBER() OVER (PARTITION BY [id], [semana] ORDER BY [_sage_row] DESC) AS [_sage_rn] "
            "FROM [#_sage_stage_1]) AS d WHERE d.[_sage_rn] = 1") in s
    assert "ON t.[id] = s.[id] AND t.[semana] = s.[semana]" in s
    assert "WHEN MATCHED THEN UPDATE SET t.[codigo] = s.[codigo], t.[_sage_upload_id] = s.[_sage_upload_id]" in s
    updated = s.split("UPDATE SET ")[1].split(" WHEN NOT MATCHED")[0]
    assert "[id]" not in updated and "[semana]" not in updated  # keys are matched, never updated
    assert "WHEN NOT MATCHED BY TARGET THEN INSERT ([id], [semana], [codigo], [_sage_upload_id]) " \
           "VALUES (s.[id], s.[semana], s.[codigo], s.[_sage_upload_id])" in s
    assert "WHEN NOT MATCHED BY SOURCE" not in s  # rows absent from the upload stay
    assert "OUTPUT $action INTO @sage_merge;" in s
    assert "COUNT(CASE WHEN [action] = N'INSERT' THEN 1 END) AS [inserted], COUNT(*) AS [total]" in s


def test_delete_insert_deletes_the_target_rows_whose_keys_are_staged():
    sql = D.delete_matching_sql(TARGET, "#_sage_stage_1", ["semana"])
    assert sql == ("DELETE t FROM [ventas].[fact_ventas] AS t WHERE EXISTS (SELECT 1 FROM "
                   "[#_sage_stage_1] AS s WHERE t.[semana] = s.[semana])")
    assert isinstance(tsql(sql)[0], exp.Delete)


def test_append_deletes_only_the_uploads_earlier_rows_by_a_bound_id():
    sql = D.delete_upload_sql(TARGET)
    assert sql == f"DELETE FROM [ventas].[fact_ventas] WHERE [_sage_upload_id] = {PARAM}"


def test_truncate_insert_deletes_everything_and_inserts_from_staging():
    assert D.delete_all_sql(TARGET) == "DELETE FROM [ventas].[fact_ventas]"
    sql = D.insert_sql(TARGET, "#_sage_stage_1", NAMES)
    assert sql == ("INSERT INTO [ventas].[fact_ventas] ([id], [semana], [codigo], [_sage_upload_id]) "
                   "SELECT [id], [semana], [codigo], [_sage_upload_id] FROM [#_sage_stage_1]")
    assert isinstance(tsql(sql)[0], exp.Insert)


def test_the_table_lock_and_the_application_lock():
    assert D.lock_table_sql(TARGET) == \
        "SELECT TOP (1) 1 AS [locked] FROM [ventas].[fact_ventas] WITH (TABLOCKX, HOLDLOCK)"
    tsql(D.lock_table_sql(TARGET))
    sql = squash(D.applock_sql())
    assert "sp_getapplock @Resource = " in sql and "@LockOwner = N'Session'" in sql
    assert sql.count(PARAM) == 2  # resource and timeout are bound
    assert D.lock_resource(TARGET) == D.lock_resource(Target("ventas", "fact_ventas"))
    assert D.lock_resource(TARGET) != D.lock_resource(Target("ventas", "fact_ventas2"))
    assert len(D.lock_resource(Target("s" * 128, "t" * 128))) <= 255


def test_a_missing_schema_is_created_by_dynamic_sql_with_the_name_bound_and_quotename():
    sql = D.create_schema_sql("select * from x;--")
    assert "select * from x" not in sql and sql.count(PARAM) == 1
    assert "QUOTENAME(@sage_schema)" in sql and "EXEC sp_executesql @sage_ddl" in sql
    bound = literals.bind(sql, ("a]b'c",))
    assert b"DECLARE @sage_schema SYSNAME = N'a]b''c';" in bound


def test_the_staging_table_is_a_session_temporary_table_with_not_null_keys():
    name = D.staging_name()
    assert name.startswith("#") and len(name) <= 116  # temp table names are at most 116 characters
    defs = SQLServerDestination(ConnectionSettings(kind="sqlserver"))._column_defs(
        TableSpec("t", COLUMNS[:3], Strategy.UPSERT, primary_key=("codigo",)), COLUMNS[:3])
    sql = D.create_staging_sql(name, defs, ["codigo"])
    assert sql == (f"CREATE TABLE [{name}] ([id] BIGINT NULL, [semana] BIGINT NULL, "
                   "[codigo] NVARCHAR(450) COLLATE Latin1_General_100_BIN2 NOT NULL)")
    assert isinstance(tsql(sql)[0], exp.Create)


def test_schema_evolution_adds_nullable_columns_and_alters_with_explicit_nullability():
    from sage_pipelines.destinations.sql.dialect import ColumnDef

    add = D.add_column_sql(TARGET, ColumnDef("region", "NVARCHAR(MAX) COLLATE DATABASE_DEFAULT"))
    assert add == "ALTER TABLE [ventas].[fact_ventas] ADD [region] NVARCHAR(MAX) COLLATE DATABASE_DEFAULT NULL"
    widen = D.widen_column_sql(TARGET, ColumnDef("monto", "DECIMAL(38,10)", nullable=False))
    assert widen == "ALTER TABLE [ventas].[fact_ventas] ALTER COLUMN [monto] DECIMAL(38,10) NOT NULL"
    for sql in (add, widen):
        tsql(sql)


@pytest.mark.parametrize("name", HOSTILE)
def test_awkward_names_are_bracket_quoted_in_every_statement(name):
    target = Target(name, name)
    quoted = "[" + name.replace("]", "]]") + "]"
    names = [name, UPLOAD_ID_COLUMN]
    statements = [D.upsert_sql(target, "#s", names, [name]), D.delete_matching_sql(target, "#s", [name]),
                  D.insert_sql(target, "#s", names), D.delete_upload_sql(target), D.lock_table_sql(target),
                  D.select_sql(target, names, [name])]
    for sql in statements:
        assert f"{quoted}.{quoted}" in sql
        unquoted = re.sub(r"\[(?:[^\]]|\]\])*\]", "", sql)  # everything outside brackets
        assert name not in unquoted or name in ("group", "order") and f" {name} " not in unquoted
        tsql(sql)


# --- types and names ---------------------------------------------------------------------

@pytest.mark.parametrize("t, key, ddl", [
    (ColumnType(Kind.TEXT), False, "NVARCHAR(MAX) COLLATE DATABASE_DEFAULT"),
    (ColumnType(Kind.TEXT), True, "NVARCHAR(450) COLLATE Latin1_General_100_BIN2"),
    (ColumnType(Kind.TEXT, length=10), False, "NVARCHAR(10) COLLATE DATABASE_DEFAULT"),
    (ColumnType(Kind.TEXT, length=10), True, "NVARCHAR(10) COLLATE Latin1_General_100_BIN2"),
    (ColumnType(Kind.TEXT, length=4000), False, "NVARCHAR(4000) COLLATE DATABASE_DEFAULT"),
    (ColumnType(Kind.TEXT, length=5000), False, "NVARCHAR(MAX) COLLATE DATABASE_DEFAULT"),
    (ColumnType(Kind.DECIMAL, 12, 2), False, "DECIMAL(12,2)"),
    (ColumnType(Kind.DECIMAL, 38, 10), False, "DECIMAL(38,10)"),
    (ColumnType(Kind.INTEGER), True, "BIGINT"),
    (ColumnType(Kind.DATE), False, "DATE"),
    (ColumnType(Kind.TIMESTAMP), False, "DATETIME2(6)"),
    (ColumnType(Kind.BOOLEAN), False, "BIT"),
])
def test_each_logical_type_has_its_sql_server_ddl(t, key, ddl):
    assert TYPE_MAP.ddl(t, key=key) == ddl


@pytest.mark.parametrize("column, expected", [
    (CatalogColumn("a", "nvarchar", None), ColumnType(Kind.TEXT)),  # MAX (-1 read as None)
    (CatalogColumn("a", "nvarchar", 450), ColumnType(Kind.TEXT, length=450)),
    (CatalogColumn("a", "varchar", 20), ColumnType(Kind.TEXT, length=20)),
    (CatalogColumn("a", "decimal", None, 12, 2), ColumnType(Kind.DECIMAL, 12, 2)),
    (CatalogColumn("a", "numeric", None, 38, 10), ColumnType(Kind.DECIMAL, 38, 10)),
    (CatalogColumn("a", "bigint"), ColumnType(Kind.INTEGER)),
    (CatalogColumn("a", "date"), ColumnType(Kind.DATE)),
    (CatalogColumn("a", "datetime2"), ColumnType(Kind.TIMESTAMP)),
    (CatalogColumn("a", "bit"), ColumnType(Kind.BOOLEAN)),
    (CatalogColumn("a", "int"), None),  # not ours: left as it is
])
def test_existing_columns_read_back_as_logical_types(column, expected):
    assert TYPE_MAP.from_catalog(column) == expected


def test_a_key_too_large_for_a_sql_server_index_is_refused_up_front():
    text = ColumnType(Kind.TEXT)
    check_key_size("t", "primary_key", [Column("a", text)], 900)  # 450 characters: 900 bytes
    with pytest.raises(DestinationError, match="1800 bytes.*900"):
        check_key_size("t", "primary_key", [Column("a", text), Column("b", text)], 900)
    check_key_size("t", "delete_by", [Column("a", text), Column("b", ColumnType(Kind.TEXT, length=400))], 1700)
    with pytest.raises(DestinationError, match="delete_by.*1800 bytes.*1700"):
        check_key_size("t", "delete_by", [Column("a", text), Column("b", text)], 1700)
    with pytest.raises(DestinationError, match="varchar"):
        check_key_size("t", "primary_key", [Column("a", ColumnType(Kind.TEXT, length=451))], 900)


def unreachable() -> SQLServerDestination:
    """Port 1 of this machine: nothing listens, so any statement sent would be an error."""
    return SQLServerDestination(ConnectionSettings(kind="sqlserver", name="ventas_mssql", host="127.0.0.1",
                                                   port=1, user="sa", password=lambda: "s3cr3t-pw"))


def test_a_composite_text_key_too_large_is_refused_before_connecting():
    cols = (Column("a", ColumnType(Kind.TEXT)), Column("b", ColumnType(Kind.TEXT)))
    spec = TableSpec("t", cols, Strategy.UPSERT, primary_key=("a", "b"))
    with pytest.raises(DestinationError, match="primary_key"):
        unreachable().write(reader_of([], cols), spec, "u1")


def test_a_name_longer_than_128_characters_is_refused_before_connecting():
    spec = TableSpec("t" * 129, COLUMNS, Strategy.UPSERT, primary_key=("id",))
    with pytest.raises(DestinationError, match="129 characters.*128"):
        unreachable().write(reader_of([row(1)]), spec, "u1")
    D.q.check("t" * 128, "table")  # 128 is allowed


@pytest.mark.parametrize("names, message", [(("Id", "id"), "same name"), (("a ",), "end with a space"),
                                            (("a\x00b",), "NUL")])
def test_names_sql_server_would_confuse_are_refused(names, message):
    with pytest.raises(DestinationError, match=message):
        D.q.check_columns(names, "table t")


def test_capabilities_are_data():
    caps = SQLServerDestination(ConnectionSettings(kind="sqlserver")).capabilities
    assert caps.max_identifier_length == 128 and caps.supports_schemas and caps.transactional
    assert caps.strategies == frozenset(Strategy)
    assert "#staging" in caps.bulk_load and "1,000 rows" in caps.bulk_load


def test_the_registry_builds_it_for_kind_sqlserver_and_describe_never_connects():
    cls = destination_class("sqlserver")
    assert cls is SQLServerDestination
    dest = cls(ConnectionSettings(kind="sqlserver", name="erp", host="127.0.0.1", port=1))
    assert dest.describe(TableSpec("fact_ventas", COLUMNS, Strategy.APPEND)) == "sqlserver:erp/dbo.fact_ventas"
    assert dest.describe(TableSpec("v", COLUMNS, Strategy.APPEND, schema="Año")) == "sqlserver:erp/Año.v"


# --- the real driver's connection failures -----------------------------------------------

def test_a_closed_port_fails_naming_the_connection_and_the_port_never_the_password():
    # pymssql really tries 127.0.0.1:1 (nothing listens there).
    with pytest.raises(DestinationError) as info:
        unreachable().write(reader_of([row(1)]), TableSpec("t", COLUMNS, Strategy.APPEND), "u1")
    message = str(info.value)
    assert "ventas_mssql" in message and "sqlserver" in message and "port: " in message
    assert "s3cr3t-pw" not in message and "\n" not in message


def test_an_unknown_host_fails_naming_the_connection_and_the_host():
    dest = SQLServerDestination(ConnectionSettings(kind="sqlserver", name="erp", host="nonexistent.invalid",
                                                   password=lambda: "s3cr3t-pw"))
    with pytest.raises(DestinationError) as info:
        dest.read(TableSpec("t", COLUMNS, Strategy.APPEND))
    assert "'erp'" in str(info.value) and "host 'nonexistent.invalid'" in str(info.value)
    assert "s3cr3t-pw" not in str(info.value)


# --- the order of statements around the transaction --------------------------------------

class RecordingConnection:
    """Stands in for a SQL Server session (none runs here): records every batch sent and
    answers the few queries the write asks, from `existing` columns; `fail_on` raises the
    driver's own error for the first batch containing that text."""

    def __init__(self, existing: list[tuple] = (), fail_on: str | None = None):
        self.sent: list[str] = []
        self.existing = list(existing)
        self.fail_on = fail_on
        self.closed = False

    def cursor(self) -> "RecordingCursor":
        return RecordingCursor(self)

    def close(self) -> None:
        self.closed = True


class RecordingCursor:
    def __init__(self, conn: RecordingConnection):
        self.conn, self.rows, self.rowcount = conn, [], 0

    def execute(self, statement: bytes, *params: Any) -> None:
        assert not params, "statements are sent finished, never with pymssql parameters"
        text = statement.decode()
        self.conn.sent.append(text)
        if self.conn.fail_on and self.conn.fail_on in text:
            raise pymssql.OperationalError(f"(8152, b'String or binary data would be truncated')")
        if "sp_getapplock" in text:
            self.rows = [(0,)]
        elif text.startswith("SELECT SCHEMA_NAME()"):
            self.rows = [("dbo",)]
        elif "INFORMATION_SCHEMA.COLUMNS" in text:
            self.rows = self.conn.existing
        elif "information_schema.table_constraints" in text.lower():
            self.rows = [("PK_t", "id")] if self.conn.existing else []  # tables here are keyed on id
        elif "OUTPUT $action" in text:
            self.rows = [(2, 3)]
        elif text.startswith("SELECT COUNT(*) FROM ["):
            self.rows = [(7,)]  # the table's rows after the write
        else:
            self.rows, self.rowcount = [], 1

    def fetchall(self) -> list[tuple]:
        return self.rows

    def close(self) -> None:
        pass


class RecordingDialect(SQLServerDialect):
    connection: RecordingConnection

    def connect(self, settings: ConnectionSettings) -> Any:
        return self.connection


def recorded_write(spec: TableSpec, rows: list[dict], conn: RecordingConnection, upload: str = "u1",
                   **reader: Any):
    dest = SQLServerDestination(ConnectionSettings(kind="sqlserver", name="erp"))
    dest.dialect = RecordingDialect()
    dest.dialect.connection = conn
    return dest.write(reader_of(rows, spec.columns, **reader), spec, upload)


def kinds(sent: list[str]) -> list[str]:
    """Each batch reduced to what it does."""
    out = []
    for s in sent:
        word = re.match(r"\s*(DECLARE @sage_lock|DECLARE @sage_schema|DECLARE @sage_merge|EXEC sp_releaseapplock|"
                        r"SELECT SCHEMA_NAME|SELECT COLUMN_NAME|SELECT TOP \(1\) 1|IF @@TRANCOUNT|"
                        r"\S+ \S+)", s).group(1)
        out.append({"DECLARE @sage_lock": "applock", "DECLARE @sage_schema": "create schema",
                    "DECLARE @sage_merge": "merge", "EXEC sp_releaseapplock": "release",
                    "SELECT SCHEMA_NAME": "schema?", "SELECT COLUMN_NAME": "columns?",
                    "SELECT TOP (1) 1": "lock table", "IF @@TRANCOUNT": "rollback",
                    "SELECT COUNT(*)": "count rows"}.get(word, word))
    return out


def test_a_first_upsert_creates_everything_inside_one_transaction_then_merges_once():
    spec = TableSpec("fact_ventas", COLUMNS, Strategy.UPSERT, schema="ventas", primary_key=("id",))
    conn = RecordingConnection()
    result = recorded_write(spec, [row(i) for i in range(5)], conn)
    assert kinds(conn.sent) == [
        "applock", "BEGIN TRANSACTION", "columns?", "create schema", "CREATE TABLE",
        "lock table", "CREATE TABLE", "INSERT INTO", "INSERT INTO", "merge", "count rows", "DROP TABLE",
        "COMMIT TRANSACTION", "release"]
    assert "PRIMARY KEY ([id])" in conn.sent[4] and conn.sent[6].startswith("CREATE TABLE [#_sage_stage_")
    assert conn.sent[10] == "SELECT COUNT(*) FROM [ventas].[fact_ventas]"  # inside the transaction
    assert (result.inserted, result.updated, result.table_rows) == (2, 1, 7)
    assert conn.closed


CATALOG_NAMES = {Kind.TEXT: "nvarchar", Kind.DECIMAL: "decimal", Kind.INTEGER: "bigint", Kind.DATE: "date",
                 Kind.TIMESTAMP: "datetime2", Kind.BOOLEAN: "bit"}


def catalog_rows(spec: TableSpec) -> list[tuple]:
    """INFORMATION_SCHEMA.COLUMNS rows of the table a previous write of `spec` created."""
    rows = []
    for c in spec.table_columns:
        t = TYPE_MAP.stored(c.type, key=c.name in spec.primary_key)
        length = (t.length or -1) if t.kind is Kind.TEXT else None
        not_null = not c.nullable or c.name in spec.primary_key
        rows.append((c.name, CATALOG_NAMES[t.kind], length, t.precision, t.scale, "NO" if not_null else "YES"))
    return rows


@pytest.mark.parametrize("strategy, statement", [
    (Strategy.DELETE_INSERT, "DELETE t FROM [dbo].[fact_ventas] AS t WHERE EXISTS"),
    (Strategy.APPEND, "DELETE FROM [dbo].[fact_ventas] WHERE [_sage_upload_id] = N'u1'"),
    (Strategy.TRUNCATE_INSERT, "DELETE FROM [dbo].[fact_ventas]")])
def test_other_strategies_delete_then_insert_from_staging_before_commit(strategy, statement):
    spec = TableSpec("fact_ventas", COLUMNS, strategy, primary_key=("id",))
    conn = RecordingConnection(existing=catalog_rows(spec))
    recorded_write(spec, [row(1)], conn)
    sent = kinds(conn.sent)
    begin, commit = sent.index("BEGIN TRANSACTION"), sent.index("COMMIT TRANSACTION")
    delete = next(i for i, s in enumerate(conn.sent) if s.startswith(statement))
    insert = next(i for i, s in enumerate(conn.sent) if s.startswith("INSERT INTO [dbo].[fact_ventas]"))
    assert begin < delete < insert < commit and sent[-1] == "release"


def test_freeze_refuses_before_anything_is_written():
    existing = [(c.name, "bigint", None, 19, 0, "NO" if c.name == "id" else "YES")
                for c in COLUMNS if c.name in ("id", "semana")]
    spec = TableSpec("t", COLUMNS, Strategy.UPSERT, primary_key=("id",), schema_change=SchemaChange.FREEZE)
    conn = RecordingConnection(existing=existing)
    with pytest.raises(SchemaChangeError, match="codigo"):
        recorded_write(spec, [row(1)], conn)
    assert not [s for s in conn.sent if re.match(r"(ALTER|INSERT|MERGE|DELETE|CREATE)", s)]
    assert kinds(conn.sent)[-2:] == ["rollback", "release"]


def test_evolve_adds_the_missing_columns_inside_the_transaction():
    existing = [(c.name, "bigint", None, 19, 0, "NO" if c.name == "id" else "YES")
                for c in COLUMNS if c.name in ("id", "semana")]
    spec = TableSpec("t", COLUMNS, Strategy.UPSERT, primary_key=("id",))
    conn = RecordingConnection(existing=existing)
    recorded_write(spec, [row(1)], conn)
    alters = [s for s in conn.sent if s.startswith("ALTER TABLE")]
    assert [re.search(r"ADD (\[\w+\])", s).group(1) for s in alters] == \
        ["[codigo]", "[monto]", "[fecha]", "[activo]", "[nota]", "[_sage_upload_id]", "[_sage_loaded_at]"]
    sent = kinds(conn.sent)
    assert sent.index("BEGIN TRANSACTION") < conn.sent.index(alters[0]) < sent.index("COMMIT TRANSACTION")


def test_a_database_error_during_the_load_rolls_back_and_never_commits():
    spec = TableSpec("t", COLUMNS, Strategy.TRUNCATE_INSERT)
    conn = RecordingConnection(fail_on="INSERT INTO [#_sage_stage_")
    with pytest.raises(DestinationError, match=r"sqlserver:erp/dbo\.t: .*truncated"):
        recorded_write(spec, [row(1)], conn)
    sent = kinds(conn.sent)
    assert "COMMIT TRANSACTION" not in sent and "DELETE FROM" not in sent
    assert sent[-2:] == ["rollback", "release"] and conn.closed


def test_a_bad_value_in_the_upload_rolls_back_and_raises_the_readers_error():
    spec = TableSpec("t", COLUMNS, Strategy.APPEND)
    conn = RecordingConnection()
    with pytest.raises(DataError, match="line"):
        recorded_write(spec, [row(i) for i in range(6)], conn, batch_rows=2, fail_after_batches=2)
    sent = kinds(conn.sent)
    assert "COMMIT TRANSACTION" not in sent and sent[-2:] == ["rollback", "release"]
    assert sent.count("INSERT INTO") == 2  # the two good batches reached staging only


def test_the_table_count_and_check_queries_are_valid_tsql_with_every_name_bracketed():
    target = Target("ventas] x", "fact]ventas")
    count = D.count_sql(target)
    nulls = D.null_rows_sql(target, ["id]x", "semana"], count=False)
    duplicates = D.duplicate_keys_sql(target, ["id]x"], count=True)
    shown = D.duplicate_keys_sql(target, ["id]x"], count=False)
    for statement in (count, nulls, duplicates, shown, D.null_rows_sql(target, ["semana"], count=True)):
        assert len(tsql(statement)) == 1, statement
        assert "FROM [ventas]] x].[fact]]ventas]" in statement
    assert count == "SELECT COUNT(*) FROM [ventas]] x].[fact]]ventas]"
    assert nulls.endswith("WHERE [id]]x] IS NULL OR [semana] IS NULL")
    assert duplicates.startswith("SELECT COUNT(*) FROM (SELECT [id]]x], COUNT(*) AS [rows] FROM")
    assert duplicates.endswith("GROUP BY [id]]x] HAVING COUNT(*) > 1) [d]")  # no ORDER BY in a derived table
    assert shown.endswith("HAVING COUNT(*) > 1 ORDER BY [id]]x]")
