"""DuckDB: the embedded warehouse. The upload's Arrow batches are scanned by DuckDB directly
(no text encoding), into a temporary staging table, then the shared strategy statements.

DuckDB allows one writing process per file and resolves concurrent transactions inside a
process optimistically (a conflict aborts one). Connections to the same file from one process
take turns on a lock held from connect to close, and opening a file another process holds is
retried for a while.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any, Sequence

import duckdb
import pyarrow as pa
from sqlalchemy.dialects import postgresql

from sage_pipelines.destinations.base import Capabilities, ConnectionSettings
from sage_pipelines.destinations.sql import Dialect, SqlDestination, Target, TypeMap
from sage_pipelines.destinations.sql.dialect import ColumnDef
from sage_pipelines.destinations.sql.identifiers import Quoter
from sage_pipelines.destinations.sql.staging import StagedRows
from sage_pipelines.types import Kind

CONNECT_RETRY_SECONDS = 30.0

_file_locks: dict[str, threading.Lock] = {}
_file_locks_guard = threading.Lock()


def _file_lock(path: str) -> threading.Lock:
    with _file_locks_guard:
        return _file_locks.setdefault(path, threading.Lock())


class DuckDBDialect(Dialect):
    kind = "duckdb"
    default_schema_label = "main"
    capabilities = Capabilities(bulk_load="Arrow scan", max_identifier_length=1024,
                                supports_schemas=True, transactional=True)
    type_map = TypeMap(
        text="VARCHAR", varchar=None, decimal="DECIMAL({precision},{scale})",
        catalog={"varchar": Kind.TEXT, "decimal": Kind.DECIMAL, "bigint": Kind.INTEGER,
                 "date": Kind.DATE, "timestamp": Kind.TIMESTAMP, "boolean": Kind.BOOLEAN})
    # DuckDB quotes like PostgreSQL; its `?` parameters need no doubled percent signs.
    q = Quoter(postgresql.dialect(paramstyle="qmark"), max_length=1024, case_insensitive=True)
    param = "?"
    driver_errors = (duckdb.Error,)

    def __init__(self) -> None:
        self._held: dict[int, threading.Lock] = {}

    def connect(self, settings: ConnectionSettings) -> Any:
        """Open the file holding this process's lock for it until `close`: DuckDB's catalog is
        not safe to use from two connections at once while Arrow streams are being scanned
        (seen as "python_arrow_scan does not exist"), and one writer per file is its rule anyway."""
        path = str(Path(settings.database).resolve()) if settings.database else ":memory:"
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        lock = _file_lock(path)
        lock.acquire()
        try:
            conn = self._open(path)
        except BaseException:
            lock.release()
            raise
        self._held[id(conn)] = lock
        return conn

    @staticmethod
    def _open(path: str) -> Any:
        deadline = time.monotonic() + CONNECT_RETRY_SECONDS
        while True:
            try:
                return duckdb.connect(path)
            except duckdb.IOException as exc:  # another process holds the file
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def close(self, conn: Any) -> None:
        try:
            conn.close()
        finally:
            lock = self._held.pop(id(conn), None)
            if lock is not None:
                lock.release()

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

    def load_staging(self, conn: Any, staging: str, rows: StagedRows, keyed: bool) -> None:
        view = f"_sage_arrow_{uuid.uuid4().hex[:12]}"
        conn.register(view, rows.reader())
        try:
            conn.execute(f"INSERT INTO {self.q.ident(staging)} ({self.cols(rows.names)}) "
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


class DuckDBDestination(SqlDestination):
    """A DuckDB database file (`ConnectionSettings.database`), e.g. `$SAGE_HOME/warehouse.duckdb`."""

    dialect_class = DuckDBDialect
