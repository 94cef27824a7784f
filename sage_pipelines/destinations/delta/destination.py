"""Delta destination: each strategy is one Delta commit made by delta-rs (merge or write).

- upsert: `DeltaTable.merge` on the primary key (plus the derived partition columns of key
  columns, so delta-rs prunes partitions), `when_matched_update` of the upload's columns (a table
  column the upload lacks keeps its value) / `when_not_matched_insert_all`, after the upload is
  reduced to the last row per key;
- delete_insert and append: one merge whose source is the upload's rows plus one "delete" row
  per distinct `delete_by` value (append: its `_sage_upload_id`), so matching rows are deleted
  and the upload inserted in the same commit, with no value ever pasted into a predicate;
- truncate_insert: `write_deltalake(mode="overwrite")`.
A new column joins the schema in the same commit (`merge_schema` / `schema_mode="merge"`); a
widened type rewrites the table in one overwrite commit (`schema_mode="overwrite"`), because
Delta cannot widen a stored type in place. A concurrent commit makes the write start over.

Partition columns are fixed when the table is created; later writes keep them. WriteResult.extra
(Dagster metadata): version, files_added / files_removed (and their paths, read from the commit's
log entry), partitions_touched, table_location; never credentials.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from sage_pipelines.destinations.base import Strategy, TableSpec, WriteResult
from sage_pipelines.destinations.delta.capabilities import CAPABILITIES
from sage_pipelines.destinations.delta.partitioning import (
    DeltaPartition,
    delta_partitions,
    with_partition_columns,
)
from sage_pipelines.destinations.lake.partitioning import partition_fields
from sage_pipelines.destinations.lake.rows import (
    Counts,
    apply_strategy,
    counts,
    last_per_key,
    match_columns,
)
from sage_pipelines.destinations.lake.destination import LakeDestination
from sage_pipelines.destinations.lake.schema import conform, plan_for, target_schema, with_declared_types
from sage_pipelines.destinations.lake.storage import delta_storage_options, filesystem, table_uri
from sage_pipelines.errors import DestinationError

OP_COLUMN = "__sage_op"  # marks the merge source's delete rows; never stored


def quote(name: str) -> str:
    """A column name as a DataFusion identifier (double quotes, doubled inside)."""
    return '"' + name.replace('"', '""') + '"'


class _TableCreatedMeanwhile(Exception):
    """Another writer created the table between our look and our create: start over."""


class DeltaDestination(LakeDestination):
    """Delta tables at `<warehouse>/<namespace>/<table>/`."""

    format = "delta"
    capabilities = CAPABILITIES
    retry_on = (CommitFailedError, _TableCreatedMeanwhile)

    def uri(self, table: TableSpec) -> str:
        return table_uri(self.settings.warehouse, self.namespace(table), table.name)

    def rows_at(self, table: TableSpec, version: int) -> int:
        """The table's row count at the version a write committed (from its file statistics)."""
        return DeltaTable(self.uri(table), version=version, storage_options=delta_storage_options(self.settings)).count()

    def load(self, table: TableSpec) -> DeltaTable:
        try:
            return DeltaTable(self.uri(table), storage_options=delta_storage_options(self.settings))
        except TableNotFoundError:
            raise DestinationError(f"{self.describe(table)}: no such table") from None

    def read(self, table: TableSpec) -> pa.Table:
        return with_declared_types(self._rows(self.load(table), table), table)

    def _rows(self, current: DeltaTable, table: TableSpec) -> pa.Table:
        """Every row of the table's current version, read by pyarrow's own filesystem.

        Not `DeltaTable.to_pyarrow_table()`: that reads the Parquet files through deltalake's
        Python filesystem handler with pre-buffering, so arrow's I/O threads hold Python-owned
        buffers; when one is released after the interpreter began to exit, the thread cannot
        take the GIL, is unwound by `pthread_exit` through a noexcept destructor, and the process
        aborts ("terminate called without an active exception", exit 134) about half the time.
        The file list and partition values still come from the Delta log (delta-rs).
        """
        fs, root = filesystem(self.settings)
        location = pafs.SubTreeFileSystem(f"{root}/{self.namespace(table)}/{table.name}", fs)
        dataset: pads.Dataset = current.to_pyarrow_dataset(filesystem=location)
        return dataset.to_table()

    # --- write ------------------------------------------------------------------------

    def write_once(self, upload: pa.Table, table: TableSpec, upload_id: str) -> WriteResult:
        partitions = delta_partitions(
            partition_fields(table.partitioning, upload.column_names, table.qualified_name),
            upload.schema, table.qualified_name)
        options = delta_storage_options(self.settings)
        uri = self.uri(table)
        try:
            current = DeltaTable(uri, storage_options=options)
        except TableNotFoundError:
            data = with_partition_columns(upload, partitions)
            try:
                # No commit retries: delta-rs retries a commit that lost version 0 to another
                # writer's create as a blind append at version 1, so two first writes of one
                # table both inserted every row (duplicated keys; found by the concurrent-writers
                # test). Failing instead, this write starts over and merges into the new table.
                write_deltalake(uri, data, mode="error", storage_options=options,
                                partition_by=[p.name for p in partitions] or None,
                                commit_properties=CommitProperties(max_commit_retries=0))
            except DeltaError as exc:
                if DeltaTable.is_deltatable(uri, storage_options=options):
                    raise _TableCreatedMeanwhile(str(exc)) from exc
                raise
            return self._result(table, Counts(inserted=data.num_rows), 0)

        stored = pa.schema(current.schema().to_arrow())
        keep = [p for p in partitions if p.name in current.metadata().partition_columns]
        data = with_partition_columns(upload, keep)
        plan = plan_for(self.describe(table), stored, data.schema, table)
        target = target_schema(stored, data.schema, plan)
        data = conform(data, target)
        if plan.widened:
            existing = conform(self._rows(current, table), target)
            rows, tally = apply_strategy(existing, data, table, plan.absent)
            write_deltalake(current, rows, mode="overwrite", schema_mode="overwrite",
                            partition_by=current.metadata().partition_columns or None)
        elif table.strategy is Strategy.TRUNCATE_INSERT:
            tally = counts(table.strategy, current.count(), data.num_rows)
            write_deltalake(current, data, mode="overwrite",
                            schema_mode="merge" if plan.added else None)
        elif table.strategy is Strategy.UPSERT:
            metrics = self._merge_upsert(current, data, table, keep, bool(plan.added), plan.absent)
            tally = Counts(inserted=metrics["num_target_rows_inserted"],
                           updated=metrics["num_target_rows_updated"])
        else:
            metrics = self._merge_replace(current, data, table, keep, bool(plan.added))
            tally = counts(table.strategy, metrics["num_target_rows_deleted"], data.num_rows)
        return self._result(table, tally, current.version())

    @staticmethod
    def _key_predicate(columns: tuple[str, ...], partitions: list[DeltaPartition]) -> str:
        """Equality on the key columns, plus on the partition columns derived from key columns:
        that equality holds whenever the keys match, and lets delta-rs prune partitions."""
        names = list(columns) + [p.name for p in partitions
                                 if p.source in columns and p.name not in columns]
        return " AND ".join(f"t.{quote(n)} = s.{quote(n)}" for n in names)

    def _merge_upsert(self, current: DeltaTable, data: pa.Table, table: TableSpec,
                      partitions: list[DeltaPartition], merge_schema: bool, absent: list[str]) -> dict[str, Any]:
        """Matched rows get the upload's columns only (a column the upload lacks keeps its value);
        new rows get every column (NULL for the absent ones, which `data` holds as NULLs)."""
        predicate = self._key_predicate(table.primary_key, partitions)
        merge = current.merge(data, predicate, source_alias="s", target_alias="t", merge_schema=merge_schema)
        if absent:
            given = {quote(n): f"s.{quote(n)}" for n in data.column_names if n not in absent}
            merge = merge.when_matched_update(given)
        else:
            merge = merge.when_matched_update_all()
        return merge.when_not_matched_insert_all().execute()

    def _merge_replace(self, current: DeltaTable, data: pa.Table, table: TableSpec,
                       partitions: list[DeltaPartition], merge_schema: bool) -> dict[str, Any]:
        """Delete the rows whose match columns occur in the upload, insert the upload: one merge.

        The delete rows are one upload row per distinct match value, so the source keeps the
        table's NOT NULL columns non-null: delta-rs 1.6 checks a merge that adds a column against
        the source's nullability and refuses it when the source loosens a NOT NULL column
        (delta-io/delta-rs#4527; found by hypothesis)."""
        columns = match_columns(table)
        deletes = last_per_key(data, list(columns))
        source = pa.concat_tables([
            data.append_column(OP_COLUMN, pa.repeat(pa.scalar("insert"), data.num_rows)),
            deletes.append_column(OP_COLUMN, pa.repeat(pa.scalar("delete"), deletes.num_rows)),
        ])
        op = f"s.{quote(OP_COLUMN)}"
        predicate = f"{op} = 'delete' AND {self._key_predicate(columns, partitions)}"
        inserts = {quote(n): f"s.{quote(n)}" for n in data.column_names}
        return (current.merge(source, predicate, source_alias="s", target_alias="t",
                              merge_schema=merge_schema)
                .when_matched_delete()
                .when_not_matched_insert(inserts, predicate=f"{op} = 'insert'")
                .execute())

    def _result(self, table: TableSpec, tally: Counts, version: int) -> WriteResult:
        added, removed = self._commit_files(table, version)
        touched = sorted({path.rsplit("/", 1)[0] for path in added + removed if "/" in path})
        return WriteResult(inserted=tally.inserted, updated=tally.updated, deleted=tally.deleted,
                           table_rows=self.rows_at(table, version),
                           extra={"format": "delta", "version": version,
                                  "files_added": len(added), "files_removed": len(removed),
                                  "added_files": added, "removed_files": removed,
                                  "partitions_touched": touched, "table_location": self.uri(table)})

    def _commit_files(self, table: TableSpec, version: int) -> tuple[list[str], list[str]]:
        """The data files commit `version` added and removed, from its log entry."""
        fs, root = filesystem(self.settings)
        log = f"{root}/{self.namespace(table)}/{table.name}/_delta_log/{version:020d}.json"
        added, removed = [], []
        with fs.open_input_stream(log) as f:
            # One JSON action per "\n"-terminated line; not `splitlines`, which also breaks at
            # U+0085, U+2028, ... that column statistics may hold unescaped.
            for line in f.read().decode().split("\n"):
                action = json.loads(line) if line.strip() else {}
                if "add" in action:
                    added.append(unquote(action["add"]["path"]))
                elif "remove" in action:
                    removed.append(unquote(action["remove"]["path"]))
        return added, removed
