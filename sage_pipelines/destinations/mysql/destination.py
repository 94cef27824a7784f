"""MySQL / MariaDB (PyMySQL): the upload is streamed through a pipe with no name in LOAD DATA's default
text format (tab-separated, backslash escapes, `\\N` for NULL; `staging.encode_text`), loaded with
`LOAD DATA LOCAL INFILE` into a TEMPORARY staging table, then one statement per strategy inside
one InnoDB transaction. A feeder thread reads and encodes the upload into the pipe while the
server loads what came before (`mysql.pipe`): no spooled copy on disk (and no name a writer
killed mid-load could leave behind), reading overlaps loading.

MySQL commits DDL on its own, so the table is created or altered before the data transaction,
while the writer holds a named lock (`GET_LOCK`) that makes writers of one table take turns; a
table created by a write whose data transaction then fails is dropped again. `LOAD DATA LOCAL`
turns bad values into warnings instead of errors, so any warning fails the write. Upsert
staging has the key as its primary key and loads with REPLACE: the last row of a key in file
order wins, which is the deduplication rule.

Text compares byte for byte under a NO PAD binary collation (MariaDB `utf8mb4_nopad_bin`,
MySQL 8 `utf8mb4_0900_bin`): under `utf8mb4_bin` (PAD SPACE) the keys `a` and `a ` are one key,
so an upsert merged them and a delete_insert deleted the other's rows. The staging table takes
the target table's collation, since MySQL refuses to compare columns of two collations.
"""

from __future__ import annotations

import hashlib
from typing import Any, Sequence

import pyarrow as pa
import pymysql
from sqlalchemy.dialects import mysql

from sage_pipelines.destinations.base import ConnectionSettings
from sage_pipelines.destinations.mysql.capabilities import CAPABILITIES
from sage_pipelines.destinations.mysql.client import CLIENT
from sage_pipelines.destinations.mysql.pipe import PipeFeeder
from sage_pipelines.destinations.mysql.typemap import TYPE_MAP
from sage_pipelines.destinations.sql import Dialect, SqlDestination, Target
from sage_pipelines.destinations.sql.dialect import ColumnDef
from sage_pipelines.destinations.sql.identifiers import Quoter
from sage_pipelines.destinations.sql.staging import StagedRows, encode_text
from sage_pipelines.destinations.sql.typemap import CatalogColumn
from sage_pipelines.errors import DestinationError

LOCK_TIMEOUT_SECONDS = 300
# Binary collations that do not ignore trailing spaces, best first; utf8mb4_bin as a last resort.
NO_PAD_COLLATIONS = ("utf8mb4_nopad_bin", "utf8mb4_0900_bin")
PAD_COLLATION = "utf8mb4_bin"


class MySQLDialect(Dialect):
    kind = "mysql"
    capabilities = CAPABILITIES
    type_map = TYPE_MAP
    q = Quoter(mysql.dialect(), CAPABILITIES.table_names)
    driver_errors = (pymysql.Error,)
    client = CLIENT
    collation: str | None = None  # the server's NO PAD binary collation, found at first connect

    def connect(self, settings: ConnectionSettings) -> Any:
        conn = super().connect(settings)  # the same as `connections test`
        if self.collation is None:
            found = {r[0] for r in self.query(
                conn, "SELECT collation_name FROM information_schema.collations "
                      "WHERE collation_name IN (%s, %s)", NO_PAD_COLLATIONS)}
            self.collation = next((c for c in NO_PAD_COLLATIONS if c in found), PAD_COLLATION)
        return conn

    def begin(self, conn: Any) -> None:
        conn.begin()

    def default_schema(self, conn: Any) -> str | None:
        schema = self.query(conn, "SELECT DATABASE()")[0][0]
        if not schema:
            raise DestinationError("mysql: no database: give the connection a database or the "
                                   "table a schema")
        return schema

    def table_columns(self, conn: Any, target: Target) -> list[CatalogColumn]:
        rows = self.query(
            conn,
            "SELECT column_name, data_type, character_maximum_length, numeric_precision, "
            "numeric_scale, column_type, is_nullable FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            (target.schema, target.name))
        return [CatalogColumn(r[0], str(r[1]).lower(), r[2], r[3], r[4], str(r[5]).lower(),
                              nullable=str(r[6]).upper() != "NO") for r in rows]

    @staticmethod
    def _lock_name(target: Target) -> str:
        return "sage:" + hashlib.sha1(target.label.encode("utf-8")).hexdigest()  # <= 64 chars

    def serialize_ddl(self, conn: Any, target: Target) -> None:
        got = self.query(conn, "SELECT GET_LOCK(%s, %s)", (self._lock_name(target), LOCK_TIMEOUT_SECONDS))
        if got[0][0] != 1:
            raise DestinationError(f"mysql: table {target.label} is being written by another "
                                   f"writer for more than {LOCK_TIMEOUT_SECONDS} s")

    def release(self, conn: Any, target: Target) -> None:
        self.query(conn, "SELECT RELEASE_LOCK(%s)", (self._lock_name(target),))

    def create_schema_sql(self, schema: str) -> str:
        return f"CREATE DATABASE IF NOT EXISTS {self.q.ident(schema)} CHARACTER SET utf8mb4"

    def create_table_sql(self, target: Target, columns: list[ColumnDef], primary_key: Sequence[str]) -> str:
        return (super().create_table_sql(target, columns, primary_key)
                + f" ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={self.collation or PAD_COLLATION}")

    def lock_table(self, conn: Any, target: Target) -> None:
        """GET_LOCK already serializes writers; here the connection notes the table's collation
        for its staging table (a table made before NO PAD collations were used keeps its own)."""
        rows = self.query(conn, "SELECT table_collation FROM information_schema.tables "
                                "WHERE table_schema = %s AND table_name = %s", (target.schema, target.name))
        found = str(rows[0][0]) if rows and rows[0][0] else ""
        conn.sage_collation = found if found.isidentifier() else self.collation  # a name, not SQL

    def widen_column_sql(self, target: Target, column: ColumnDef) -> str:
        null = "" if column.nullable else " NOT NULL"
        return f"ALTER TABLE {self.table(target)} MODIFY COLUMN {self.q.ident(column.name)} {column.ddl}{null}"

    def create_staging(self, conn: Any, staging: str, columns: list[ColumnDef],
                       unique_key: Sequence[str]) -> None:
        cols = [f"{self.q.ident(c.name)} {c.ddl}" for c in columns]
        if unique_key:
            cols.append(f"PRIMARY KEY ({self.cols(unique_key)})")
        collation = getattr(conn, "sage_collation", None) or self.collation or PAD_COLLATION
        self.run(conn, f"CREATE TEMPORARY TABLE {self.q.ident(staging)} ({', '.join(cols)}) "
                       f"ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={collation}")

    def dedups_on_load(self) -> bool:
        return True

    loads_directly = True  # LOAD DATA into an InnoDB table is part of the transaction

    def load_into(self, conn: Any, table_sql: str, rows: StagedRows, replace: bool) -> None:
        # REPLACE only when staging has the upsert key: the later row of a key wins.
        mode = "REPLACE " if replace else ""
        with PipeFeeder(encode_text(batch) for batch in rows) as feeder:
            with conn.cursor() as cur:
                cur.execute(f"LOAD DATA LOCAL INFILE %s {mode}INTO TABLE {table_sql} "
                            f"CHARACTER SET utf8mb4 ({self.cols(rows.names)})", (feeder.path,))
                feeder.check()  # a reader error ends the pipe early: the load is then void
                cur.execute("SELECT @@warning_count")
                if cur.fetchone()[0]:
                    cur.execute("SHOW WARNINGS LIMIT 3")
                    notes = "; ".join(str(w[2]) for w in cur.fetchall())
                    raise DestinationError(f"mysql: the upload does not fit the table: {notes}")

    def upsert(self, conn: Any, target: Target, staging: str, names: Sequence[str],
               keys: Sequence[str]) -> tuple[int, int]:
        """One statement, counted from its affected rows (1 per inserted row, 2 per updated one,
        0 for a row left unchanged, the connection not asking for FOUND_ROWS): every matched row
        does change, since `_sage_loaded_at` is this write's timestamp (microseconds, later than
        any earlier write's), so no second pass over the table counts the matches."""
        staged = self.query(conn, f"SELECT COUNT(*) FROM {self.q.ident(staging)}")[0][0]
        affected = self.run(conn, self.upsert_sql(target, staging, names, keys))
        updated = affected - staged
        return staged - updated, updated

    def drop_staging(self, conn: Any, staging: str) -> None:
        try:
            self.run(conn, f"DROP TEMPORARY TABLE IF EXISTS {self.q.ident(staging)}")
        except pymysql.Error:
            pass  # the connection is closed next, which drops it too

    def upsert_sql(self, target: Target, staging: str, names: Sequence[str], keys: Sequence[str]) -> str:
        updates = ", ".join(f"{self.q.ident(n)} = VALUES({self.q.ident(n)})" for n in names if n not in keys)
        return f"{self.insert_sql(target, staging, names)} ON DUPLICATE KEY UPDATE {updates}"

    def delete_matching_sql(self, target: Target, staging: str, keys: Sequence[str]) -> str:
        return (f"DELETE t FROM {self.table(target)} AS t JOIN (SELECT DISTINCT {self.cols(keys)} "
                f"FROM {self.q.ident(staging)}) AS s ON {self.match(keys, 't', 's')}")

    def arrow_values(self, values: list[Any], type_: pa.DataType) -> pa.Array:
        if pa.types.is_boolean(type_):  # TINYINT(1) comes back as 0 / 1
            values = [None if v is None else bool(v) for v in values]
        return pa.array(values, type=type_)


class MySQLDestination(SqlDestination):
    """A MySQL or MariaDB server reached with PyMySQL (`local_infile` must be enabled on the
    server); a table's schema is a database, created when missing."""

    dialect_class = MySQLDialect
