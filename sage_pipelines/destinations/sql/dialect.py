"""A database dialect: what differs between SQL databases, and the shared statements.

Shared code never branches on a database's name. It asks the dialect for data (capabilities,
type map, quoting rules) and for statements; a dialect overrides only what its SQL does
differently (e.g. MySQL's `ON DUPLICATE KEY UPDATE` and multi-table DELETE), like dlt's shared
merge SQL. Driver specifics (connect, lock, bulk load) are the dialect's other job.

Statements that carry values take them as bound parameters (`self.param`); identifiers go
through `self.q.ident`, never pasted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Sequence

import pyarrow as pa
from sage_pipelines.destinations.base import Capabilities, ConnectionSettings
from sage_pipelines.destinations.sql.connect import Client
from sage_pipelines.destinations.sql.identifiers import Quoter
from sage_pipelines.destinations.sql.staging import StagedRows
from sage_pipelines.destinations.sql.typemap import CatalogColumn, TypeMap


@dataclass(frozen=True)
class Target:
    """A resolved table: its schema (None only where the database has no schemas) and name."""

    schema: str | None
    name: str

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass(frozen=True)
class ColumnDef:
    name: str
    ddl: str
    nullable: bool = True


class Dialect:
    """Defaults are ANSI-ish SQL that PostgreSQL and DuckDB both accept."""

    kind: str = ""
    default_schema_label: str | None = None  # for `describe` without connecting (public, main)
    capabilities: Capabilities = Capabilities()
    type_map: TypeMap = TypeMap()
    q: Quoter
    param: str = "%s"
    driver_errors: tuple[type[BaseException], ...] = ()
    client: Client  # the kind's connect code, shared with `connections test`

    @property
    def transactional_ddl(self) -> bool:
        """False: DDL commits on its own (MySQL), so it runs before the data transaction."""
        return self.capabilities.transactional_ddl

    # --- driver --------------------------------------------------------------------------

    def connect(self, settings: ConnectionSettings) -> Any:
        """A connection for one write: the kind's client opens it as `connections test` does."""
        return self.client.open(settings, None)

    def begin(self, conn: Any) -> None:
        """Start the write's transaction."""

    def commit(self, conn: Any) -> None:
        conn.commit()

    def rollback(self, conn: Any) -> None:
        conn.rollback()

    def close(self, conn: Any) -> None:
        self.client.close(conn)

    def run(self, conn: Any, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute one statement; the number of rows it affected."""
        cur = conn.cursor()
        try:
            cur.execute(sql, tuple(params))
            return cur.rowcount
        finally:
            cur.close()

    def query(self, conn: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        cur = conn.cursor()
        try:
            cur.execute(sql, tuple(params))
            return list(cur.fetchall())
        finally:
            cur.close()

    def fetch_arrow(self, conn: Any, sql: str, schema: pa.Schema) -> pa.Table:
        """Run a SELECT and return its rows with `schema` (used by `read`, not the hot path)."""
        cur = self.select(conn, sql)
        try:
            batches = []
            while chunk := cur.fetchmany(10_000):
                columns = list(zip(*chunk))
                batches.append(pa.RecordBatch.from_arrays(
                    [self.arrow_values(list(v), f.type) for v, f in zip(columns, schema)], schema=schema))
            return pa.Table.from_batches(batches, schema=schema)
        finally:
            cur.close()

    def select(self, conn: Any, sql: str) -> Any:
        """A cursor that has run `sql` (a statement without parameters)."""
        cur = conn.cursor()
        try:
            cur.execute(sql, ())
        except BaseException:
            cur.close()
            raise
        return cur

    def arrow_values(self, values: list[Any], type_: pa.DataType) -> pa.Array:
        return pa.array(values, type=type_)

    def default_schema(self, conn: Any) -> str | None:
        return self.query(conn, "SELECT current_schema()")[0][0]

    def table_columns(self, conn: Any, target: Target) -> list[CatalogColumn]:
        """The table's columns in order (empty: the table does not exist)."""
        rows = self.query(
            conn,
            "SELECT column_name, data_type, character_maximum_length, numeric_precision, "
            "numeric_scale, is_nullable FROM information_schema.columns "
            f"WHERE table_schema = {self.param} AND table_name = {self.param} ORDER BY ordinal_position",
            (target.schema, target.name))
        return [CatalogColumn(r[0], str(r[1]).lower(), r[2], r[3], r[4], nullable=str(r[5]).upper() != "NO")
                for r in rows]

    def unique_keys(self, conn: Any, target: Target) -> list[frozenset[str]]:
        """The column sets of the table's PRIMARY KEY and UNIQUE constraints."""
        rows = self.query(
            conn,
            "SELECT tc.constraint_name, kcu.column_name FROM information_schema.table_constraints tc "
            "JOIN information_schema.key_column_usage kcu ON tc.constraint_name = kcu.constraint_name "
            "AND tc.table_schema = kcu.table_schema AND tc.table_name = kcu.table_name "
            f"WHERE tc.table_schema = {self.param} AND tc.table_name = {self.param} "
            "AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE')",
            (target.schema, target.name))
        keys: dict[str, set[str]] = {}
        for constraint, column in rows:
            keys.setdefault(constraint, set()).add(column)
        return [frozenset(cols) for cols in keys.values()]

    def serialize_ddl(self, conn: Any, target: Target) -> None:
        """Make concurrent writers of the same table take turns from here on (before DDL)."""

    def release(self, conn: Any, target: Target) -> None:
        """Undo `serialize_ddl` when its lock outlives the transaction."""

    def lock_table(self, conn: Any, target: Target) -> None:
        """Lock the existing table against other writers until the transaction ends."""

    def staging_name(self) -> str:
        return f"_sage_stage_{uuid.uuid4().hex[:16]}"

    def create_staging(self, conn: Any, staging: str, columns: list[ColumnDef],
                       unique_key: Sequence[str]) -> None:
        cols = ", ".join(f"{self.q.ident(c.name)} {c.ddl}" for c in columns)
        self.run(conn, f"CREATE TEMPORARY TABLE {self.q.ident(staging)} ({cols})")

    def load_staging(self, conn: Any, staging: str, rows: StagedRows, keyed: bool) -> None:
        """Bulk-load the upload into the staging table. `keyed`: staging was created with the
        upsert key as `unique_key` (a dialect may deduplicate while loading)."""
        self.load_into(conn, self.q.ident(staging), rows, replace=keyed)

    def load_into(self, conn: Any, table_sql: str, rows: StagedRows, replace: bool) -> None:
        """Bulk-load the rows into `table_sql` (a quoted name) by the database's bulk path;
        `replace`: a later row replaces an earlier one of the same unique key."""
        raise NotImplementedError

    # True when truncate_insert and append bulk-load straight into the target table (no staging
    # table, no INSERT ... SELECT pass): the dialect's `load_into` is part of the transaction.
    loads_directly: bool = False

    def drop_staging(self, conn: Any, staging: str) -> None:
        """Temporary tables of PostgreSQL / DuckDB go with the transaction or connection."""

    def dedups_on_load(self) -> bool:
        """True when loading the staging table already keeps the last row per key."""
        return False

    # --- statements ----------------------------------------------------------------------

    def table(self, target: Target) -> str:
        return self.q.qualified(target.schema, target.name)

    def create_schema_sql(self, schema: str) -> str:
        return f"CREATE SCHEMA IF NOT EXISTS {self.q.ident(schema)}"

    def create_schema(self, conn: Any, schema: str) -> None:
        """Create the schema when missing. A dialect whose statement takes the name as a bound
        value (SQL Server's dynamic CREATE SCHEMA) overrides this."""
        self.run(conn, self.create_schema_sql(schema))

    def create_table_sql(self, target: Target, columns: list[ColumnDef],
                         primary_key: Sequence[str]) -> str:
        parts = [f"{self.q.ident(c.name)} {c.ddl}{'' if c.nullable else ' NOT NULL'}" for c in columns]
        if primary_key:
            parts.append(f"PRIMARY KEY ({self.cols(primary_key)})")
        return f"CREATE TABLE {self.table(target)} ({', '.join(parts)})"

    def create_index_sql(self, target: Target, columns: Sequence[str]) -> str:
        index = f"ix_{uuid.uuid4().hex[:12]}"
        return f"CREATE INDEX {self.q.ident(index)} ON {self.table(target)} ({self.cols(columns)})"

    def add_column_sql(self, target: Target, column: ColumnDef) -> str:
        return f"ALTER TABLE {self.table(target)} ADD COLUMN {self.q.ident(column.name)} {column.ddl}"

    def drop_column_sql(self, target: Target, name: str) -> str:
        return f"ALTER TABLE {self.table(target)} DROP COLUMN {self.q.ident(name)}"

    def widen_column(self, conn: Any, target: Target, column: ColumnDef) -> None:
        """Change an existing column to the wider type of `column` (schema evolution)."""
        self.run(conn, self.widen_column_sql(target, column))

    def widen_column_sql(self, target: Target, column: ColumnDef) -> str:
        return (f"ALTER TABLE {self.table(target)} ALTER COLUMN {self.q.ident(column.name)} "
                f"TYPE {column.ddl}")

    def cols(self, names: Sequence[str], prefix: str = "") -> str:
        return ", ".join(prefix + self.q.ident(n) for n in names)

    def match(self, keys: Sequence[str], left: str, right: str) -> str:
        return " AND ".join(f"{left}.{self.q.ident(k)} = {right}.{self.q.ident(k)}" for k in keys)

    def dedup_sql(self, staging: str, keys: Sequence[str]) -> str:
        """Keep only the last row (highest ordinal) of each key in the staging table."""
        s = self.q.ident(staging)
        row = self.q.ident("_sage_row")
        return (f"DELETE FROM {s} AS a WHERE EXISTS (SELECT 1 FROM {s} AS b WHERE "
                f"{self.match(keys, 'b', 'a')} AND b.{row} > a.{row})")

    def insert_sql(self, target: Target, staging: str, names: Sequence[str]) -> str:
        return (f"INSERT INTO {self.table(target)} ({self.cols(names)}) "
                f"SELECT {self.cols(names)} FROM {self.q.ident(staging)}")

    def count_existing_sql(self, target: Target, staging: str, keys: Sequence[str]) -> str:
        return (f"SELECT COUNT(*) FROM {self.q.ident(staging)} AS s WHERE EXISTS "
                f"(SELECT 1 FROM {self.table(target)} AS t WHERE {self.match(keys, 't', 's')})")

    def upsert_last_rows(self, conn: Any, target: Target, staging: str, names: Sequence[str],
                         keys: Sequence[str]) -> tuple[int, int]:
        """Upsert the staging rows, the last row of each key winning; (inserted, updated)."""
        if not self.dedups_on_load():
            self.run(conn, self.dedup_sql(staging, keys))
        return self.upsert(conn, target, staging, names, keys)

    def upsert(self, conn: Any, target: Target, staging: str, names: Sequence[str],
               keys: Sequence[str]) -> tuple[int, int]:
        """Apply the deduplicated staging rows; (inserted, updated)."""
        existing = self.query(conn, self.count_existing_sql(target, staging, keys))[0][0]
        staged = self.query(conn, f"SELECT COUNT(*) FROM {self.q.ident(staging)}")[0][0]
        self.run(conn, self.upsert_sql(target, staging, names, keys))
        return staged - existing, existing

    def upsert_sql(self, target: Target, staging: str, names: Sequence[str], keys: Sequence[str]) -> str:
        updates = [n for n in names if n not in keys]
        sets = ", ".join(f"{self.q.ident(n)} = EXCLUDED.{self.q.ident(n)}" for n in updates)
        return (f"{self.insert_sql(target, staging, names)} "
                f"ON CONFLICT ({self.cols(keys)}) DO UPDATE SET {sets}")

    def delete_matching_sql(self, target: Target, staging: str, keys: Sequence[str]) -> str:
        return (f"DELETE FROM {self.table(target)} AS t WHERE EXISTS (SELECT 1 FROM "
                f"{self.q.ident(staging)} AS s WHERE {self.match(keys, 't', 's')})")

    def delete_upload_sql(self, target: Target) -> str:
        return f"DELETE FROM {self.table(target)} WHERE {self.q.ident('_sage_upload_id')} = {self.param}"

    def delete_all_sql(self, target: Target) -> str:
        return f"DELETE FROM {self.table(target)}"

    def count_sql(self, target: Target) -> str:
        return f"SELECT COUNT(*) FROM {self.table(target)}"

    def null_rows_sql(self, target: Target, columns: Sequence[str], count: bool) -> str:
        """The rows with a NULL in any of `columns` (their key values), or how many there are."""
        where = " OR ".join(f"{self.q.ident(c)} IS NULL" for c in columns)
        shown = "COUNT(*)" if count else self.cols(columns)
        return f"SELECT {shown} FROM {self.table(target)} WHERE {where}"

    def duplicate_keys_sql(self, target: Target, columns: Sequence[str], count: bool) -> str:
        """The values of `columns` that more than one row holds (rows with a NULL there left
        out), with how many rows share each; or how many such values there are."""
        where = " AND ".join(f"{self.q.ident(c)} IS NOT NULL" for c in columns)
        groups = (f"SELECT {self.cols(columns)}, COUNT(*) AS {self.q.ident('rows')} FROM {self.table(target)} "
                  f"WHERE {where} GROUP BY {self.cols(columns)} HAVING COUNT(*) > 1")
        if count:
            return f"SELECT COUNT(*) FROM ({groups}) {self.q.ident('d')}"
        return f"{groups} ORDER BY {self.cols(columns)}"

    def fetch_some(self, conn: Any, sql: str, limit: int) -> list[tuple]:
        """The first `limit` rows of a SELECT (no LIMIT / TOP syntax needed: the cursor stops)."""
        cur = self.select(conn, sql)
        try:
            return list(cur.fetchmany(limit))
        finally:
            cur.close()

    def location(self, settings: ConnectionSettings, target: Target) -> tuple[str, str | None]:
        """(database.schema.table, URI or None) as Dagster shows the table."""
        return ".".join(p for p in (settings.database, target.schema, target.name) if p), None

    def select_sql(self, target: Target, names: Sequence[str], order_by: Sequence[str]) -> str:
        order = f" ORDER BY {self.cols(order_by)}" if order_by else ""
        return f"SELECT {self.cols(names)} FROM {self.table(target)}{order}"
