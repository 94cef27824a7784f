"""`SqlDestination`: the write algorithm every SQL database shares.

    check names -> connect -> [serialize writers] -> create / evolve the table -> lock it
    -> stage the upload through the bulk path -> one set-based statement per strategy -> commit

All of it is one transaction where the database allows transactional DDL (PostgreSQL, DuckDB).
Where DDL commits by itself (MySQL) the table is created or altered first, under a lock that
serializes writers, and each DDL step is undone again (a created table dropped, an added column
dropped, a widened column narrowed back) if a later step or the data transaction fails, so a
failure leaves the destination as it was.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Iterator, Sequence

import pyarrow as pa

from sage_pipelines.destinations.base import (
    Capabilities,
    ConnectionSettings,
    Strategy,
    TableSpec,
    WriteResult,
)
from sage_pipelines.destinations.checks import (SAMPLE_LIMIT, KeyCheck, Rule, TableLocation, Violations,
                                                sample_rows)
from sage_pipelines.destinations.evolution import plan_schema
from sage_pipelines.destinations.sql.connect import explain_connect_error
from sage_pipelines.destinations.sql.dialect import ColumnDef, Dialect, Target
from sage_pipelines.destinations.sql.staging import ROW_COLUMN, StagedRows
from sage_pipelines.errors import DestinationError, SageError
from sage_pipelines.security import known_secrets, redact
from sage_pipelines.types import Column

MAX_UPLOAD_ID = 64  # _sage_upload_id is VARCHAR(64)


class SqlDestination:
    """A database destination: `Cls(settings)`; the subclass names its `dialect_class`."""

    dialect_class: type[Dialect] = Dialect

    def __init__(self, settings: ConnectionSettings):
        self.settings = settings
        self.dialect = self.dialect_class()
        self.capabilities: Capabilities = self.dialect.capabilities

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.settings.name or self.settings.kind!r})"

    # --- naming --------------------------------------------------------------------------

    @property
    def connection_label(self) -> str:
        return self.settings.name or self.settings.database or self.settings.kind

    def describe(self, table: TableSpec) -> str:
        schema = table.schema or self.settings.schema or self.dialect.default_schema_label \
            or self.settings.database
        return f"{self.dialect.kind}:{self.connection_label}/{Target(schema, table.name).label}"

    def _target(self, conn: Any, table: TableSpec) -> Target:
        schema = table.schema or self.settings.schema or self.dialect.default_schema(conn)
        return Target(schema, table.name)

    def _check(self, table: TableSpec, upload_id: str) -> None:
        where = f"table {table.qualified_name}"
        q = self.dialect.q
        q.check(table.name, "table")
        if table.schema:
            q.check(table.schema, f"{where}: schema")
        q.check_columns([c.name for c in table.table_columns] + [ROW_COLUMN], where)
        if table.strategy not in self.capabilities.strategies:
            raise DestinationError(f"{where}: {self.dialect.kind} does not support strategy "
                                   f"{table.strategy.value}")
        names = {c.name for c in table.columns}
        for role, keys in (("primary_key", table.primary_key), ("delete_by", table.delete_by)):
            missing = [k for k in keys if k not in names]
            if missing:
                raise DestinationError(f"{where}: {role} column(s) {missing} are not in the upload")
        if table.strategy is Strategy.UPSERT and not table.primary_key:
            raise DestinationError(f"{where}: strategy upsert needs a primary_key")
        if table.strategy is Strategy.DELETE_INSERT and not table.effective_delete_by:
            raise DestinationError(f"{where}: strategy delete_insert needs delete_by or a primary_key")
        if not upload_id or len(upload_id) > MAX_UPLOAD_ID:
            raise DestinationError(f"{where}: upload id must be 1 to {MAX_UPLOAD_ID} characters")

    # --- connections ---------------------------------------------------------------------

    def _secret(self) -> str | None:
        try:
            return self.settings.password()
        except Exception:  # noqa: BLE001 - a failing decrypt must not hide the real error
            return None

    def _reason(self, exc: BaseException) -> str:
        """The driver's message on one line, with any secret masked."""
        return " ".join(redact(str(exc) or type(exc).__name__, self._secret(), *known_secrets()).split())

    def _connect(self) -> Any:
        try:
            return self.dialect.connect(self.settings)
        except SageError:
            raise
        except Exception as exc:  # noqa: BLE001 - every driver failure becomes one clear line
            _, reason = explain_connect_error(self.settings, exc, self.dialect.client.hints, (self._secret(),))
            raise DestinationError(f"connection {self.connection_label!r} ({self.dialect.kind}): "
                                   f"cannot connect: {reason}") from None

    def _failed(self, exc: BaseException, target: Target | None) -> BaseException:
        if isinstance(exc, SageError) or not isinstance(exc, self.dialect.driver_errors):
            return exc
        where = f"{self.dialect.kind}:{self.connection_label}"
        if target is not None:
            where += f"/{target.label}"
        return DestinationError(f"{where}: {self._reason(exc)}")

    # --- write ---------------------------------------------------------------------------

    def write(self, batches: pa.RecordBatchReader, table: TableSpec, upload_id: str) -> WriteResult:
        started = time.perf_counter()
        self._check(table, upload_id)
        rows = StagedRows(batches, table, upload_id, ordinal=not self._loads_directly(table))
        conn = self._connect()
        try:
            result = self._write(conn, table, rows)
        finally:
            try:
                self.dialect.close(conn)
            except Exception:  # noqa: BLE001 - closing a broken connection may fail too
                pass
        result.bytes = rows.bytes
        result.seconds = time.perf_counter() - started
        return result

    def _write(self, conn: Any, table: TableSpec, rows: StagedRows) -> WriteResult:
        d = self.dialect
        target: Target | None = None
        undo: list[str] = []  # statements reverting DDL that committed on its own, in order
        try:
            target = self._target(conn, table)
            # Take turns before the transaction starts, so its snapshot sees the previous
            # writer's commit (DuckDB); PostgreSQL's advisory lock is transaction-scoped anyway.
            d.serialize_ddl(conn, target)
            if d.transactional_ddl:
                d.begin(conn)
                self._prepare_table(conn, table, target, undo)
            else:
                self._prepare_table(conn, table, target, undo)
                d.begin(conn)
            d.lock_table(conn, target)
            result = self._apply(conn, table, target, rows)
            d.commit(conn)
            return result
        except BaseException as exc:
            self._undo(conn, [] if d.transactional_ddl else undo)
            if rows.error is not None:
                raise rows.error
            failure = self._failed(exc, target)
            if failure is exc:
                raise
            raise failure from None
        finally:
            if target is not None:
                try:
                    d.release(conn, target)
                except Exception:  # noqa: BLE001 - the lock also ends with the session
                    pass

    def _undo(self, conn: Any, ddl: list[str]) -> None:
        """Roll back, then revert the DDL that committed on its own, last step first."""
        try:
            self.dialect.rollback(conn)
        except Exception:  # noqa: BLE001 - the original failure is what the user must see
            pass
        for statement in reversed(ddl):
            try:
                self.dialect.run(conn, statement)
            except Exception:  # noqa: BLE001 - as above
                pass

    @staticmethod
    def _keys(table: TableSpec) -> set[str]:
        """Key and delete_by columns are NOT NULL: SQL's `=` never matches NULL, so a NULL there
        could never be updated or replaced; such a row is refused instead."""
        if table.strategy is Strategy.DELETE_INSERT:
            return set(table.primary_key) | set(table.effective_delete_by)
        return set(table.primary_key)

    def _column_defs(self, table: TableSpec, columns: tuple[Column, ...]) -> list[ColumnDef]:
        keys = self._keys(table)
        tm = self.dialect.type_map
        return [ColumnDef(c.name, tm.ddl(c.type, key=c.name in keys),
                          nullable=c.nullable and c.name not in keys)
                for c in columns]

    def _prepare_table(self, conn: Any, table: TableSpec, target: Target, undo: list[str]) -> None:
        """Create the table, or evolve it to take the upload; `undo` gets, after each step, the
        statement that reverts it (used where DDL is not transactional)."""
        d = self.dialect
        existing = d.table_columns(conn, target)
        defs = self._column_defs(table, table.table_columns)
        if not existing:
            if target.schema and d.capabilities.supports_schemas:
                d.create_schema(conn, target.schema)
            key = table.primary_key if table.strategy is Strategy.UPSERT else ()
            d.run(conn, d.create_table_sql(target, defs, key))
            undo.append(f"DROP TABLE IF EXISTS {d.table(target)}")
            if table.strategy is Strategy.DELETE_INSERT:
                d.run(conn, d.create_index_sql(target, table.effective_delete_by))
            return
        if table.strategy is Strategy.UPSERT:
            self._require_unique_key(conn, table, target)
        keys = self._keys(table)
        tm, fold = d.type_map, d.q.fold
        upload = [Column(c.name, tm.stored(c.type, key=c.name in keys), c.nullable) for c in table.table_columns]
        plan = plan_schema(target.label, [tm.logical(c) for c in existing], upload, table.schema_change,
                           fold=fold).check()
        by_name = {fold(x.name): x for x in defs}
        for c in plan.added:
            d.run(conn, d.add_column_sql(target, by_name[fold(c.name)]))
            undo.append(d.drop_column_sql(target, c.name))
        for c in plan.widened:
            wide = by_name[fold(c.name)]
            d.widen_column(conn, target, ColumnDef(c.name, wide.ddl, c.nullable))
            undo.append(d.widen_column_sql(target, ColumnDef(c.name, tm.ddl(c.table_type), c.nullable)))

    def _require_unique_key(self, conn: Any, table: TableSpec, target: Target) -> None:
        """An upsert into an existing table needs a unique key on exactly the primary key
        columns; a table created by append or delete_insert has none, and without one the
        database would either refuse ON CONFLICT obscurely or (MySQL) silently duplicate rows."""
        fold = self.dialect.q.fold
        wanted = frozenset(fold(k) for k in table.primary_key)
        if any(frozenset(fold(c) for c in key) == wanted for key in self.dialect.unique_keys(conn, target)):
            return
        raise DestinationError(
            f"table {target.label}: upsert needs a primary key on ({', '.join(table.primary_key)}) but the "
            "existing table has none (it was created by another strategy); recreate the table or keep "
            "its strategy")

    def _loads_directly(self, table: TableSpec) -> bool:
        """truncate_insert and append need no staging table: their delete does not depend on
        the upload's values, so it runs first and the upload is bulk-loaded into the table
        itself, in the same transaction (one pass over the rows instead of load + INSERT)."""
        return self.dialect.loads_directly and table.strategy in (Strategy.TRUNCATE_INSERT, Strategy.APPEND)

    def _apply(self, conn: Any, table: TableSpec, target: Target, rows: StagedRows) -> WriteResult:
        d = self.dialect
        if self._loads_directly(table):
            if table.strategy is Strategy.APPEND:
                deleted = d.run(conn, d.delete_upload_sql(target), (rows.upload_id,))
            else:
                deleted = d.run(conn, d.delete_all_sql(target))
            d.load_into(conn, d.table(target), rows, replace=False)
            return self._counted(conn, target, WriteResult(inserted=rows.rows, deleted=deleted, rows=rows.rows))
        staging = d.staging_name()
        upsert = table.strategy is Strategy.UPSERT
        defs = self._column_defs(table, table.table_columns)
        defs = [ColumnDef(c.name, c.ddl) for c in defs] + [ColumnDef(ROW_COLUMN, d.type_map.integer)]
        d.create_staging(conn, staging, defs, table.primary_key if upsert else ())
        try:
            d.load_staging(conn, staging, rows, keyed=upsert)
            names = [c.name for c in table.table_columns]
            if upsert:
                inserted, updated = d.upsert_last_rows(conn, target, staging, names, table.primary_key)
                result = WriteResult(inserted=inserted, updated=updated, rows=inserted + updated,
                                     superseded=rows.rows - inserted - updated)
            else:
                if table.strategy is Strategy.DELETE_INSERT:
                    deleted = d.run(conn, d.delete_matching_sql(target, staging, table.effective_delete_by))
                elif table.strategy is Strategy.APPEND:
                    deleted = d.run(conn, d.delete_upload_sql(target), (rows.upload_id,))
                else:
                    deleted = d.run(conn, d.delete_all_sql(target))
                inserted = d.run(conn, d.insert_sql(target, staging, names))
                result = WriteResult(inserted=inserted, deleted=deleted, rows=inserted)
            return self._counted(conn, target, result)
        finally:
            d.drop_staging(conn, staging)

    def _counted(self, conn: Any, target: Target, result: WriteResult) -> WriteResult:
        """The table's rows, counted in the write's own transaction: the size the commit makes visible."""
        result.table_rows = int(self.dialect.query(conn, self.dialect.count_sql(target))[0][0])
        return result

    # --- checks and location ---------------------------------------------------------------

    def violations(self, table: TableSpec, checks: Sequence[KeyCheck]) -> list[Violations]:
        """Each check as two queries on the stored table (a count, then the first few)."""
        with self._on_table(table) as (conn, target):
            return [self._violations(conn, target, check) for check in checks]

    def _violations(self, conn: Any, target: Target, check: KeyCheck) -> Violations:
        d, columns = self.dialect, check.columns
        if check.rule is Rule.NOT_NULL:
            count = d.query(conn, d.null_rows_sql(target, columns, count=True))[0][0]
            shown = d.fetch_some(conn, d.null_rows_sql(target, columns, count=False), SAMPLE_LIMIT) if count else []
            return Violations(int(count), sample_rows(columns, shown))
        count = d.query(conn, d.duplicate_keys_sql(target, columns, count=True))[0][0]
        shown = d.fetch_some(conn, d.duplicate_keys_sql(target, columns, count=False), SAMPLE_LIMIT) if count else []
        return Violations(int(count), sample_rows([*columns, "rows"], shown))

    def locate(self, table: TableSpec, uri: bool = True) -> TableLocation:
        """Without connecting: the schema is the table's, the connection's or the database's
        usual default."""
        schema = table.schema or self.settings.schema or self.dialect.default_schema_label
        name, where = self.dialect.location(self.settings, Target(schema, table.name))
        return TableLocation(name, where if uri else None)

    # --- read ----------------------------------------------------------------------------

    def read(self, table: TableSpec) -> pa.Table:
        with self._on_table(table) as (conn, target):
            existing = self.dialect.table_columns(conn, target)
            if not existing:
                raise DestinationError(f"{self.describe(table)}: the table does not exist")
            declared = {self.dialect.q.fold(c.name): c.type for c in table.table_columns}
            fields = []
            for c in existing:
                t = declared.get(self.dialect.q.fold(c.name)) or self.dialect.type_map.from_catalog(c)
                fields.append(pa.field(c.name, t.to_arrow() if t else pa.null()))
            order = [k for k in table.primary_key]
            sql = self.dialect.select_sql(target, [c.name for c in existing], order)
            return self.dialect.fetch_arrow(conn, sql, pa.schema(fields))

    @contextlib.contextmanager
    def _on_table(self, table: TableSpec) -> Iterator[tuple[Any, Target]]:
        """A connection and the table's resolved target for one read-only use; a driver failure
        becomes the destination's one-line error (`_failed`), and the connection always closes."""
        conn = self._connect()
        target = None
        try:
            target = self._target(conn, table)
            yield conn, target
        except BaseException as exc:
            failure = self._failed(exc, target)
            if failure is exc:
                raise
            raise failure from None
        finally:
            self.dialect.close(conn)
