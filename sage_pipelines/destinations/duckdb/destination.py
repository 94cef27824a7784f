"""DuckDB: the embedded warehouse. The upload's Arrow batches are scanned by DuckDB directly
(no text encoding), into a temporary staging table, then the shared strategy statements.

DuckDB allows one writing process per file and resolves concurrent transactions inside a
process optimistically (a conflict aborts one). Opening the file (`client`) takes this
process's turn on it and retries while another process holds it.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Sequence

import duckdb
import pyarrow as pa
from sqlalchemy.dialects import postgresql

from sage_pipelines.destinations.base import ConnectionSettings
from sage_pipelines.destinations.duckdb.capabilities import CAPABILITIES
from sage_pipelines.destinations.duckdb.client import CLIENT
from sage_pipelines.destinations.duckdb.typemap import TYPE_MAP
from sage_pipelines.destinations.sql import Dialect, SqlDestination, Target
from sage_pipelines.destinations.sql.dialect import ColumnDef
from sage_pipelines.destinations.sql.identifiers import Quoter
from sage_pipelines.destinations.sql.staging import StagedRows, prefetched


class DuckDBDialect(Dialect):
    kind = "duckdb"
    default_schema_label = "main"
    capabilities = CAPABILITIES
    type_map = TYPE_MAP
    # DuckDB quotes like PostgreSQL; its `?` parameters need no doubled percent signs.
    q = Quoter(postgresql.dialect(paramstyle="qmark"), CAPABILITIES.table_names)
    param = "?"
    driver_errors = (duckdb.Error,)
    client = CLIENT

    def begin(self, conn: Any) -> None:
        conn.execute("BEGIN TRANSACTION")

    def run(self, conn: Any, sql: str, params: Sequence[Any] = ()) -> int:
        result = conn.execute(sql, list(params)).fetchall()
        # DML returns one row holding the count; DDL returns nothing
        return int(result[0][0]) if len(result) == 1 and len(result[0]) == 1 else 0

    def query(self, conn: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return conn.execute(sql, list(params)).fetchall()

    def widen_column(self, conn: Any, target: Target, column: ColumnDef) -> None:
        """DuckDB refuses to change a column's type while the table has any index ("Cannot alter
        entry ... because there are entries that depend on it"; a delete_insert table has one):
        the indexes are dropped and made again, by their own catalog definition, around the
        change, in the write's transaction. (Found by hypothesis.)"""
        indexes = self.query(conn, "SELECT index_name, sql FROM duckdb_indexes() "
                                   "WHERE schema_name = ? AND table_name = ? AND sql IS NOT NULL",
                             (target.schema, target.name))
        for name, _ in indexes:
            self.run(conn, f"DROP INDEX {self.q.qualified(target.schema, name)}")
        super().widen_column(conn, target, column)
        for _, definition in indexes:
            self.run(conn, definition)

    loads_directly = True

    def load_into(self, conn: Any, table_sql: str, rows: StagedRows, replace: bool) -> None:
        view = f"_sage_arrow_{uuid.uuid4().hex[:12]}"
        # The next batch is read while DuckDB inserts the previous one.
        conn.register(view, pa.RecordBatchReader.from_batches(rows.schema, prefetched(rows)))
        try:
            conn.execute(f"INSERT INTO {table_sql} ({self.cols(rows.names)}) "
                         f"SELECT {self.cols(rows.names)} FROM {self.q.ident(view)}")
        finally:
            conn.unregister(view)

    def drop_staging(self, conn: Any, staging: str) -> None:
        try:
            conn.execute(f"DROP TABLE IF EXISTS {self.q.ident(staging)}")
        except duckdb.Error:
            pass  # an aborted transaction: the connection (and its temp table) is closed next

    def fetch_arrow(self, conn: Any, sql: str, schema: pa.Schema) -> pa.Table:
        return conn.sql(sql).to_arrow_table().cast(schema)

    def fetch_some(self, conn: Any, sql: str, limit: int) -> list[tuple]:
        return conn.execute(sql).fetchmany(limit)

    def location(self, settings: ConnectionSettings, target: Target) -> tuple[str, str | None]:
        """DuckDB names the file's catalog after its stem (`warehouse.main.t`); the file is the URI."""
        path = Path(settings.database or "")
        return ".".join(p for p in (path.stem, target.schema, target.name) if p), str(path)


class DuckDBDestination(SqlDestination):
    """A DuckDB database file (`ConnectionSettings.database`), e.g. `$SAGE_HOME/warehouse.duckdb`."""

    dialect_class = DuckDBDialect
