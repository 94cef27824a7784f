"""PostgreSQL (psycopg 3): COPY FROM STDIN into a temporary staging table (ON COMMIT DROP), then
one set-based statement per strategy, all in one transaction (PostgreSQL's DDL is transactional,
so even a table created by a failed write disappears with the rollback).

COPY uses the text format: each Arrow batch becomes escaped tab-separated lines in Arrow
compute (`staging.encode_text`), so NULL (`\\N`) and the empty string stay distinct and decimals
keep every digit. A producer thread reads and encodes the next batch while the server parses the
previous one (`staging.prefetched`). Writers of one table take turns on a transaction-scoped advisory lock (taken
before any DDL, so two first writes cannot both create the table), then
`LOCK TABLE ... IN SHARE ROW EXCLUSIVE MODE`, which lets readers read the old rows until commit.
"""

from __future__ import annotations

from typing import Any, Sequence

import psycopg
from sqlalchemy.dialects import postgresql

from sage_pipelines.destinations.postgresql.capabilities import CAPABILITIES
from sage_pipelines.destinations.postgresql.client import CLIENT
from sage_pipelines.destinations.postgresql.typemap import TYPE_MAP
from sage_pipelines.destinations.sql import Dialect, SqlDestination, Target
from sage_pipelines.destinations.sql.dialect import ColumnDef
from sage_pipelines.destinations.sql.identifiers import Quoter
from sage_pipelines.destinations.sql.staging import StagedRows, encode_text, prefetched


class PostgresDialect(Dialect):
    kind = "postgresql"
    default_schema_label = "public"
    capabilities = CAPABILITIES
    type_map = TYPE_MAP
    q = Quoter(postgresql.dialect(), CAPABILITIES.table_names)
    driver_errors = (psycopg.Error,)
    client = CLIENT

    def serialize_ddl(self, conn: Any, target: Target) -> None:
        self.run(conn, "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                 (f"sage:{target.label}",))

    def lock_table(self, conn: Any, target: Target) -> None:
        self.run(conn, f"LOCK TABLE {self.table(target)} IN SHARE ROW EXCLUSIVE MODE")

    def create_staging(self, conn: Any, staging: str, columns: list[ColumnDef],
                       unique_key: Sequence[str]) -> None:
        cols = ", ".join(f"{self.q.ident(c.name)} {c.ddl}" for c in columns)
        self.run(conn, f"CREATE TEMPORARY TABLE {self.q.ident(staging)} ({cols}) ON COMMIT DROP")

    loads_directly = True

    def load_into(self, conn: Any, table_sql: str, rows: StagedRows, replace: bool) -> None:
        # psycopg merges parameters (and so collapses the quoter's doubled %) only when given
        # some; this statement has none, so undo the doubling on identifiers here.
        statement = f"COPY {table_sql} ({self.cols(rows.names)}) FROM STDIN"
        with conn.cursor() as cur, cur.copy(statement.replace("%%", "%")) as copy:
            for chunk in prefetched(encode_text(batch) for batch in rows):
                copy.write(memoryview(chunk))

    def upsert_last_rows(self, conn: Any, target: Target, staging: str, names: Sequence[str],
                         keys: Sequence[str]) -> tuple[int, int]:
        """Optimistic: most uploads repeat no key, so the upsert runs on the staging rows as
        they are. A repeated key makes ON CONFLICT fail with a cardinality violation before
        anything is applied; only then is the savepoint rolled back and staging deduplicated
        (last row wins) — so the common case skips a self-join over the whole upload."""
        self.run(conn, "SAVEPOINT sage_upsert")
        try:
            result = self.upsert(conn, target, staging, names, keys)
        except psycopg.errors.CardinalityViolation:
            self.run(conn, "ROLLBACK TO SAVEPOINT sage_upsert")
            return super().upsert_last_rows(conn, target, staging, names, keys)
        self.run(conn, "RELEASE SAVEPOINT sage_upsert")
        return result

    def upsert(self, conn: Any, target: Target, staging: str, names: Sequence[str],
               keys: Sequence[str]) -> tuple[int, int]:
        # One statement; a row inserted by this statement has xmax = 0, an updated one does not.
        sql = (f"WITH m AS ({self.upsert_sql(target, staging, names, keys)} "
               "RETURNING (xmax = 0) AS inserted) "
               "SELECT count(*) FILTER (WHERE inserted), count(*) FROM m")
        inserted, total = self.query(conn, sql)[0]
        return inserted, total - inserted


class PostgresDestination(SqlDestination):
    """A PostgreSQL database reached with psycopg 3 (`host`, `port`, `user`, `database`, options
    such as `sslmode`); the password is asked of the settings only when connecting."""

    dialect_class = PostgresDialect
