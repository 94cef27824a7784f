"""SQL Server's differences from the shared SQL core: T-SQL statements, pymssql, locks, staging.

Write path (one transaction, `SET XACT_ABORT ON` so any error rolls all of it back):
  sp_getapplock (session) -> BEGIN TRAN -> create schema / table or evolve it ->
  lock the table (TABLOCKX, HOLDLOCK) -> CREATE TABLE #staging -> INSERT ... VALUES batches ->
  one statement per strategy -> COMMIT -> sp_releaseapplock

Strategies: upsert is one `MERGE ... WITH (HOLDLOCK)` whose source keeps the last row of each
key (`ROW_NUMBER() OVER (PARTITION BY key ORDER BY _sage_row DESC) = 1`) and whose
`OUTPUT $action` counts inserted and updated rows; delete_insert is `DELETE t FROM ... WHERE
EXISTS (staging)` + INSERT; append deletes the upload's earlier rows + INSERT; truncate_insert is
DELETE + INSERT in the same transaction, so a reader waits for the commit and never sees an
empty table.

The bulk path is multi-row `INSERT ... VALUES` (see `batching`, `literals`): pymssql's
`bulk_copy` (FreeTDS bcp) was not chosen because, as pymssql 2.4.6 / FreeTDS 1.5 stand, it
binds decimals at precision 33 (our 38-digit values overflow), sends '' as NULL (bcp's zero
length), and has open reports of wrong text in NVARCHAR columns and of empty strings under
FreeTDS >= 1.5; exact values come first. mssql-python's `bulkcopy_arrow` opens a second
connection of its own, which can neither see a session `#staging` table nor join this
transaction.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, Sequence

import pyarrow as pa
import pymssql
from sqlalchemy.dialects import mssql

from sage_pipelines.destinations.sql import Dialect, Target
from sage_pipelines.destinations.sql.dialect import ColumnDef
from sage_pipelines.destinations.sql.identifiers import Quoter
from sage_pipelines.destinations.sql.staging import ROW_COLUMN, StagedRows
from sage_pipelines.destinations.sql.typemap import CatalogColumn
from sage_pipelines.destinations.sqlserver import batching, literals
from sage_pipelines.destinations.sqlserver.capabilities import CAPABILITIES
from sage_pipelines.destinations.sqlserver.client import CLIENT
from sage_pipelines.destinations.sqlserver.literals import PARAM
from sage_pipelines.destinations.sqlserver.typemap import TYPE_MAP
from sage_pipelines.errors import DestinationError

LOCK_TIMEOUT_MS = 300_000
MERGE_ACTIONS = "@sage_merge"
RN_COLUMN = "_sage_rn"


class SQLServerDialect(Dialect):
    kind = "sqlserver"
    default_schema_label = "dbo"
    capabilities = CAPABILITIES
    type_map = TYPE_MAP
    # The default collation compares names without case; a name ending in spaces equals the
    # name without them.
    q = Quoter(mssql.dialect(), CAPABILITIES.table_names)
    param = PARAM
    driver_errors = (pymssql.Error,)
    client = CLIENT

    # --- driver --------------------------------------------------------------------------

    def begin(self, conn: Any) -> None:
        self.run(conn, "BEGIN TRANSACTION")

    def commit(self, conn: Any) -> None:
        self.run(conn, "COMMIT TRANSACTION")

    def rollback(self, conn: Any) -> None:
        # XACT_ABORT may already have rolled back; ROLLBACK without a transaction is an error
        self.run(conn, "IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION")

    def execute(self, conn: Any, statement: bytes) -> Any:
        """Send finished T-SQL (values already quoted): no parameters, so pymssql does not
        scan the text for `%s`."""
        cur = conn.cursor()
        cur.execute(statement)
        return cur

    def run(self, conn: Any, sql: str, params: Sequence[Any] = ()) -> int:
        cur = self.execute(conn, literals.bind(sql, params))
        try:
            return cur.rowcount
        finally:
            cur.close()

    def query(self, conn: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        cur = self.execute(conn, literals.bind(sql, params))
        try:
            return list(cur.fetchall())
        finally:
            cur.close()

    def select(self, conn: Any, sql: str) -> Any:
        return self.execute(conn, literals.bind(sql))

    def default_schema(self, conn: Any) -> str | None:
        return self.query(conn, "SELECT SCHEMA_NAME() AS [name]")[0][0]

    def table_columns(self, conn: Any, target: Target) -> list[CatalogColumn]:
        rows = self.query(conn, self.table_columns_sql(), (target.schema, target.name))
        # CHARACTER_MAXIMUM_LENGTH is -1 for (N)VARCHAR(MAX): unbounded
        return [CatalogColumn(r[0], str(r[1]).lower(), None if r[2] == -1 else r[2], r[3], r[4],
                              nullable=str(r[5]).upper() != "NO") for r in rows]

    def table_columns_sql(self) -> str:
        return ("SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, "
                "NUMERIC_SCALE, IS_NULLABLE FROM INFORMATION_SCHEMA.COLUMNS "
                f"WHERE TABLE_SCHEMA = {PARAM} AND TABLE_NAME = {PARAM} ORDER BY ORDINAL_POSITION")

    # --- locks ---------------------------------------------------------------------------

    @staticmethod
    def lock_resource(target: Target) -> str:
        return "sage:" + hashlib.sha1(target.label.encode("utf-8")).hexdigest()  # <= 255 chars

    def applock_sql(self) -> str:
        return ("DECLARE @sage_lock INT; EXEC @sage_lock = sp_getapplock @Resource = "
                f"{PARAM}, @LockMode = N'Exclusive', @LockOwner = N'Session', @LockTimeout = {PARAM}; "
                "SELECT @sage_lock AS [status];")

    def serialize_ddl(self, conn: Any, target: Target) -> None:
        """Writers of one table take turns from before their transaction until after it (a
        session lock, so the first two writes cannot both create the table)."""
        status = self.query(conn, self.applock_sql(), (self.lock_resource(target), LOCK_TIMEOUT_MS))[0][0]
        if status is None or status < 0:
            raise DestinationError(f"sqlserver: table {target.label} is being written by another "
                                   f"writer for more than {LOCK_TIMEOUT_MS // 1000} s")

    def release(self, conn: Any, target: Target) -> None:
        self.run(conn, f"EXEC sp_releaseapplock @Resource = {PARAM}, @LockOwner = N'Session'",
                 (self.lock_resource(target),))

    def lock_table_sql(self, target: Target) -> str:
        return f"SELECT TOP (1) 1 AS [locked] FROM {self.table(target)} WITH (TABLOCKX, HOLDLOCK)"

    def lock_table(self, conn: Any, target: Target) -> None:
        """Writers outside sage wait too; held until the transaction ends."""
        self.query(conn, self.lock_table_sql(target))

    # --- schema and tables ---------------------------------------------------------------

    def create_schema_sql(self, schema: str) -> str:
        """CREATE SCHEMA must be alone in its batch, so it runs as dynamic SQL; the name is a
        bound value that the server quotes itself (QUOTENAME), never pasted."""
        return (f"DECLARE @sage_schema SYSNAME = {PARAM}; "
                "IF SCHEMA_ID(@sage_schema) IS NULL BEGIN "
                "DECLARE @sage_ddl NVARCHAR(300) = N'CREATE SCHEMA ' + QUOTENAME(@sage_schema); "
                "EXEC sp_executesql @sage_ddl; END")

    def create_schema(self, conn: Any, schema: str) -> None:
        self.run(conn, self.create_schema_sql(schema), (schema,))

    def add_column_sql(self, target: Target, column: ColumnDef) -> str:
        return f"ALTER TABLE {self.table(target)} ADD {self.q.ident(column.name)} {column.ddl} NULL"

    def widen_column_sql(self, target: Target, column: ColumnDef) -> str:
        null = "NULL" if column.nullable else "NOT NULL"  # ALTER COLUMN resets it otherwise
        return f"ALTER TABLE {self.table(target)} ALTER COLUMN {self.q.ident(column.name)} {column.ddl} {null}"

    # --- staging -------------------------------------------------------------------------

    def staging_name(self) -> str:
        return f"#_sage_stage_{uuid.uuid4().hex[:16]}"  # '#': a temporary table of this session

    def create_staging_sql(self, staging: str, columns: list[ColumnDef], not_null: Sequence[str]) -> str:
        keys = set(not_null)
        cols = ", ".join(f"{self.q.ident(c.name)} {c.ddl} {'NOT NULL' if c.name in keys else 'NULL'}"
                         for c in columns)
        return f"CREATE TABLE {self.q.ident(staging)} ({cols})"

    def create_staging(self, conn: Any, staging: str, columns: list[ColumnDef],
                       unique_key: Sequence[str]) -> None:
        # upsert keys may not be NULL: the load fails (and rolls back) on a NULL key
        self.run(conn, self.create_staging_sql(staging, columns, unique_key))

    def insert_head(self, staging: str, names: Sequence[str]) -> bytes:
        return f"INSERT INTO {self.q.ident(staging)} ({self.cols(names)}) VALUES ".encode(literals.CHARSET)

    def load_statements(self, staging: str, batch: pa.RecordBatch) -> list[bytes]:
        """The round trips that put one Arrow batch into the staging table."""
        literals.check_no_nul(batch)
        rows = literals.encode_rows(batch)
        head = self.insert_head(staging, batch.schema.names)
        return [b";\n".join(literals.insert_values(head, rows[a:b]) for a, b in trip) + b";"
                for trip in batching.round_trips(len(rows), batch.num_columns)]

    def load_staging(self, conn: Any, staging: str, rows: StagedRows, keyed: bool) -> None:
        for batch in rows:
            for statement in self.load_statements(staging, batch):
                self.execute(conn, statement).close()

    def drop_staging(self, conn: Any, staging: str) -> None:
        try:
            self.run(conn, f"DROP TABLE IF EXISTS {self.q.ident(staging)}")
        except pymssql.Error:
            pass  # the connection is closed next, which drops it too

    def dedups_on_load(self) -> bool:
        """The MERGE keeps the last row of each key itself (ROW_NUMBER), so no separate pass."""
        return True

    # --- strategies ----------------------------------------------------------------------

    def merge_sql(self, target: Target, staging: str, names: Sequence[str], keys: Sequence[str]) -> str:
        cols = self.cols(names)
        rn = self.q.ident(RN_COLUMN)
        last = (f"SELECT {cols} FROM (SELECT {cols}, ROW_NUMBER() OVER (PARTITION BY {self.cols(keys)} "
                f"ORDER BY {self.q.ident(ROW_COLUMN)} DESC) AS {rn} FROM {self.q.ident(staging)}) AS d "
                f"WHERE d.{rn} = 1")
        updates = ", ".join(f"t.{self.q.ident(n)} = s.{self.q.ident(n)}" for n in names if n not in keys)
        return (f"MERGE INTO {self.table(target)} WITH (HOLDLOCK) AS t USING ({last}) AS s "
                f"ON {self.match(keys, 't', 's')} "
                f"WHEN MATCHED THEN UPDATE SET {updates} "
                f"WHEN NOT MATCHED BY TARGET THEN INSERT ({cols}) VALUES ({self.cols(names, 's.')}) "
                f"OUTPUT $action INTO {MERGE_ACTIONS};")

    def upsert_sql(self, target: Target, staging: str, names: Sequence[str], keys: Sequence[str]) -> str:
        """One batch: the MERGE, then how many of its rows were inserted and how many updated."""
        return (f"DECLARE {MERGE_ACTIONS} TABLE ([action] NVARCHAR(10) NOT NULL); "
                f"{self.merge_sql(target, staging, names, keys)} "
                "SELECT COUNT(CASE WHEN [action] = N'INSERT' THEN 1 END) AS [inserted], "
                f"COUNT(*) AS [total] FROM {MERGE_ACTIONS};")

    def upsert(self, conn: Any, target: Target, staging: str, names: Sequence[str],
               keys: Sequence[str]) -> tuple[int, int]:
        inserted, total = self.query(conn, self.upsert_sql(target, staging, names, keys))[0]
        return int(inserted), int(total) - int(inserted)

    def delete_matching_sql(self, target: Target, staging: str, keys: Sequence[str]) -> str:
        return (f"DELETE t FROM {self.table(target)} AS t WHERE EXISTS (SELECT 1 FROM "
                f"{self.q.ident(staging)} AS s WHERE {self.match(keys, 't', 's')})")
