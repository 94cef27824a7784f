"""Apache Hudi destination: copy-on-write tables written in the Hudi table format, in Python.

There is no Python Hudi writer (hudi-rs only reads), so this package writes the table format
itself and checks every result with Apache Hudi's own Rust reader (the `hudi` package).

Supported subset (anything else is refused with a one-line `DestinationError`):
- table version 6, timeline layout 1 (JSON instants in `.hoodie/`), copy-on-write only
  (no merge-on-read, no log files, no `deltacommit`), Parquet base files;
- no metadata table: a table with `.hoodie/metadata` is refused (readers would trust its stale
  file listing); no cleaning or archiving (old file slices stay, as time travel);
- one writer per table: the run queue runs one write per table (`WriterScope.TABLE`), writers on
  one host take turns on an `fcntl.flock` of `.hoodie/.aux/sage.lock` (option `hudi.lock`), and a
  commit that finds a newer completed instant it did not see is undone and fails (`timeline`);
  under the host lock a write first rolls back what a dead writer (killed mid-write) left: its
  data files and pending instants (`Timeline.roll_back_dead_writes`);
- tables sage created: each commit carries the logical column types (`sage.columns` in its
  `extraMetadata`); a table whose latest commit lacks them (written by Spark, say) is refused;
- column names must be Avro names (`[A-Za-z_][A-Za-z0-9_]*`; hudi-rs cannot read others);
- `file://` warehouses (local paths); `s3://` through pyarrow's S3 filesystem;
- partitioning: identity on the partition columns, or day / month / year of one date or
  timestamp column (TimestampBasedKeyGenerator); hive-style paths (`fecha=2024-01-01`,
  `fecha=2024-01`, NULL as `__HIVE_DEFAULT_PARTITION__`); bucket / truncate are refused.

Record key: the primary key (SimpleKeyGenerator / ComplexKeyGenerator, NonpartitionedKeyGenerator
when unpartitioned). Tables without a primary key (append) use `_sage_upload_id` + `_sage_row_id`
(the row's ordinal inside its upload, stored but not returned by `read`). Precombine field:
`_sage_loaded_at`.

Strategies: upsert is a `commit` writing new slices of the file groups holding the upload's keys
(rows carried over keep `_hoodie_commit_time` / `_hoodie_commit_seqno`; new keys go to a small
group of their partition or a new one); delete_insert and truncate_insert are `replacecommit`s
whose `partitionToReplaceFileIds` hide the affected groups; append is a `commit` of inserts, or,
when the same upload ran before, a `replacecommit` that also removes that upload's earlier rows.

Schema evolution follows the one planner of every destination (`destinations.evolution`):
`evolve` adds nullable columns (older files lack them; hudi-rs reads NULL) and widens types
(hudi-rs casts older files to the latest commit schema); key and partition columns never change
type. `freeze` refuses new columns, wider types and a missing NOT NULL column before anything is
written. An upsert keeps the old values of the columns the upload lacks on the rows it updates.

Memory: an upload is staged in memory (Arrow) before the write begins, plus one file group at a
time while it is rewritten.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sage_pipelines.destinations.base import UPLOAD_ID_COLUMN, Strategy, TableSpec, WriteResult
from sage_pipelines.destinations.evolution import plan_schema
from sage_pipelines.destinations.hudi.schema import (
    PARTITION_PATH,
    RECORD_KEY,
    ROW_ID_COLUMN,
    SAGE_COLUMNS_KEY,
    TableSchema,
    check_column_names,
    conform,
    sage_columns,
)
from sage_pipelines.destinations.hudi.table import (
    HOODIE,
    PROPERTIES,
    TIME_TRANSFORMS,
    PartitionSpec,
    TableLocation,
    TableProperties,
    check_supported,
)
from sage_pipelines.destinations.hudi.timeline import ConcurrentCommit, Timeline
from sage_pipelines.destinations.hudi.writer import (
    Plan,
    Planner,
    Slice,
    partition_paths,
    record_keys,
    tuples,
    write_job,
)
from sage_pipelines.destinations.hudi.capabilities import CAPABILITIES
from sage_pipelines.destinations.lake.destination import LakeDestination
from sage_pipelines.destinations.lake.partitioning import partition_fields
from sage_pipelines.errors import ConfigError, DestinationError
from sage_pipelines.types import Kind


class HudiDestination(LakeDestination):
    """Hudi copy-on-write tables at `<warehouse>/<namespace>/<table>/` (see the package docstring
    for the supported subset). Writers of one table take turns under a file lock, so no commit
    ever conflicts and `retry_on` stays empty."""

    format = "hudi"
    capabilities = CAPABILITIES

    # --- the Destination interface ----------------------------------------------------------

    def write_once(self, upload: pa.Table, table: TableSpec, upload_id: str) -> WriteResult:
        """`upload` is the whole upload with the `_sage_*` columns (read to its end by
        `LakeDestination.write`, NULL keys refused, the last row per key kept for upsert)."""
        where = self.describe(table)
        check_column_names(table.columns, where)
        location = self._location(table)
        key_fields = self._key_fields(table, where)
        partitioning = self._partitioning(table)
        parts = partitioning.fields
        with location.lock():
            props = self._properties(location, where)
            timeline = Timeline(location)
            if location.host_lock:  # under the lock a pending instant is a dead writer's
                timeline.roll_back_dead_writes()
            stored = self._stored_schema(timeline)
            if props is not None:
                self._check_layout(props, key_fields, partitioning, where)
            schema, absent = merged_schema(stored, table, with_row_id=ROW_ID_COLUMN in key_fields, where=where,
                                           fixed=key_fields + parts)
            incoming = self._stage(upload, upload_id, schema, key_fields, partitioning, where)
            slices = self._slices(location) if timeline.completed else []
            planner = Planner(location, schema, slices, parts, keep=absent)
            plan = self._plan(planner, table, incoming, key_fields, upload_id)
            try:
                extra = self._commit(location, timeline, props is None, schema, plan, table, key_fields,
                                     partitioning)
            except ConcurrentCommit as exc:
                raise DestinationError(
                    f"{where}: another writer committed to this table while this write ran ({exc}); this "
                    "write was undone and changed nothing: re-run it") from None
            # still this table's only writer (the lock): the snapshot just committed
            table_rows = self._row_count(location)
        return WriteResult(inserted=plan.inserted, updated=plan.updated, deleted=plan.deleted, extra=extra,
                           table_rows=table_rows)

    def read(self, table: TableSpec) -> pa.Table:
        from hudi import HudiTableBuilder

        location = self._location(table)
        where = self.describe(table)
        if self._properties(location, where) is None:
            raise DestinationError(f"{where}: no such Hudi table (no {HOODIE}/{PROPERTIES})")
        stored = self._stored_schema(Timeline(location))
        if stored is None:
            return TableSchema(table.table_columns).read_schema().empty_table()
        target = stored.read_schema()
        hudi_table = (HudiTableBuilder.from_base_uri(location.uri)
                      .with_storage_options(dict(location.storage_options)).build())
        batches = hudi_table.read()
        if not batches:
            return target.empty_table()
        return conform(pa.Table.from_batches(batches), target)

    # --- steps of a write ----------------------------------------------------------------------

    def _location(self, table: TableSpec) -> TableLocation:
        return TableLocation.of(self.settings, self.namespace(table), table.name)

    def uri(self, table: TableSpec) -> str:
        """The table's base URI (what Hudi's own readers open)."""
        return self._location(table).uri

    def _row_count(self, location: TableLocation) -> int:
        """The rows of the table's latest file slices, as the reader sees them, from the base
        files' parquet footers (no data read)."""
        total = 0
        for piece in self._slices(location):
            with location.fs.open_input_file(location.path(piece.path)) as f:
                total += pq.ParquetFile(f).metadata.num_rows
        return total

    @staticmethod
    def _key_fields(table: TableSpec, where: str) -> tuple[str, ...]:
        """The record key: the primary key, else `_sage_upload_id` + `_sage_row_id` (append)."""
        if table.primary_key:
            return tuple(table.primary_key)
        if table.strategy is Strategy.UPSERT:
            raise ConfigError(f"{where}: strategy upsert needs a primary_key")
        return (UPLOAD_ID_COLUMN, ROW_ID_COLUMN)

    @staticmethod
    def _partitioning(table: TableSpec) -> PartitionSpec:
        pairs = partition_fields(table.partitioning, [c.name for c in table.columns], table.qualified_name)
        if not pairs:
            return PartitionSpec()
        fields = tuple(c for c, _ in pairs)
        transform = pairs[0][1]
        if transform.name == "identity":
            return PartitionSpec(fields)
        kinds = {c.name: c.type.kind for c in table.columns}
        if (transform.name not in TIME_TRANSFORMS or len(fields) != 1
                or kinds[fields[0]] not in (Kind.DATE, Kind.TIMESTAMP)):
            raise ConfigError(f"{table.qualified_name}: partitioning transform {transform} on "
                              f"({', '.join(fields)}) is not supported for Hudi tables (identity on any "
                              "columns, or day / month / year of one date or timestamp column)")
        return PartitionSpec(fields, transform.name, kinds[fields[0]] is Kind.TIMESTAMP)

    @staticmethod
    def _properties(location: TableLocation, where: str) -> dict[str, str] | None:
        if not location.exists(HOODIE, PROPERTIES):
            return None
        props = TableProperties.parse(location.read_bytes(f"{HOODIE}/{PROPERTIES}"))
        check_supported(location, props, where)
        return props

    @staticmethod
    def _check_layout(props: dict[str, str], key_fields: tuple[str, ...], partitioning: PartitionSpec,
                      where: str) -> None:
        stored_keys = tuple(k for k in props.get("hoodie.table.recordkey.fields", "").split(",") if k)
        if stored_keys != key_fields:
            raise DestinationError(f"{where}: the table's record key is ({', '.join(stored_keys)}); this write "
                                   f"needs ({', '.join(key_fields)}) — a Hudi record key cannot change")
        fields, transform = PartitionSpec.stored(props)
        if (fields, transform) != (partitioning.fields, partitioning.transform):
            raise DestinationError(f"{where}: the table is partitioned by {transform}({', '.join(fields)}); "
                                   f"this write by {partitioning.transform}({', '.join(partitioning.fields)}) "
                                   "— Hudi partitioning cannot change")

    @staticmethod
    def _stored_schema(timeline: Timeline) -> TableSchema | None:
        metadata = timeline.latest_metadata()
        if metadata is None:
            return None
        text = (metadata.get("extraMetadata") or {}).get(SAGE_COLUMNS_KEY)
        if not text:
            raise DestinationError(f"{timeline.location.uri}: the latest commit was not written by sage "
                                   f"(no {SAGE_COLUMNS_KEY} in its metadata); sage writes only its own tables")
        return TableSchema.from_json(text)

    @staticmethod
    def _stage(rows: pa.Table, upload_id: str, schema: TableSchema, key_fields: tuple[str, ...],
               partitioning: PartitionSpec, where: str) -> pa.Table:
        """Shape the upload as file rows: table schema, record keys, partition paths."""
        if ROW_ID_COLUMN in key_fields:
            rows = rows.append_column(ROW_ID_COLUMN, pa.array(np.arange(rows.num_rows, dtype=np.int64)))
        for k in key_fields:
            nulls = rows.column(k).null_count
            if nulls:
                raise DestinationError(f"{where}: key column {k!r} is NULL in {nulls} row(s) of upload "
                                       f"{upload_id!r}; a Hudi record key cannot be NULL")
        data = conform(rows, schema.data_schema())
        keys = record_keys(data, key_fields)
        paths = partition_paths(data, partitioning, where)
        return data.append_column(RECORD_KEY, keys).append_column(PARTITION_PATH, paths)

    @staticmethod
    def _slices(location: TableLocation) -> list[Slice]:
        from hudi import HudiTableBuilder

        hudi_table = (HudiTableBuilder.from_base_uri(location.uri)
                      .with_storage_options(dict(location.storage_options)).build())
        return [Slice(s.file_id, s.partition_path, s.base_file_relative_path(), s.creation_instant_time)
                for s in hudi_table.get_file_slices()]

    @staticmethod
    def _plan(planner: Planner, table: TableSpec, incoming: pa.Table, key_fields: tuple[str, ...],
              upload_id: str) -> Plan:
        if table.strategy is Strategy.UPSERT:
            return planner.upsert(incoming, key_fields)
        if table.strategy is Strategy.TRUNCATE_INSERT:
            return planner.truncate_then_insert(incoming)
        if table.strategy is Strategy.DELETE_INSERT:
            by = table.effective_delete_by or key_fields
            values = pc.unique(tuples(incoming, by))
            return planner.delete_then_insert(incoming, by, values, "insert_overwrite")
        # append: a first run of this upload is plain inserts; a re-run replaces its earlier rows
        return planner.delete_then_insert(incoming, (UPLOAD_ID_COLUMN,), pa.array([upload_id]), "insert",
                                          plain_insert_if_clean=True)

    @staticmethod
    def _commit(location: TableLocation, timeline: Timeline, creating: bool, schema: TableSchema,
                plan: Plan, table: TableSpec, key_fields: tuple[str, ...],
                partitioning: PartitionSpec) -> dict[str, Any]:
        """Requested -> inflight -> base files -> completed (by rename). Any failure removes what
        this write created and re-raises; readers never saw any of it."""
        instant = timeline.new_instant_time()
        written: list[str] = []
        begun = False
        try:
            if creating:
                props = TableProperties(table.name, table.schema or "default", key_fields, partitioning,
                                        precombine_field="_sage_loaded_at")
                location.fs.create_dir(location.path(HOODIE), recursive=True)
                location.write_bytes(f"{HOODIE}/{PROPERTIES}", props.render())
            timeline.begin(instant, plan.action)
            begun = True
            stats: dict[str, list[dict]] = {}
            for task, job in enumerate(plan.jobs):
                stat = write_job(location, schema, job, instant, task, written)
                if stat is not None:
                    stats.setdefault(job.partition, []).append(stat)
            replaced: dict[str, list[str]] = {}
            for s in plan.replaced:
                replaced.setdefault(s.partition, []).append(s.file_id)
            metadata: dict[str, Any] = {
                "partitionToWriteStats": stats,
                "compacted": False,
                "extraMetadata": {"schema": schema.avro_json(table.name), SAGE_COLUMNS_KEY: schema.to_json()},
                "operationType": plan.operation.upper(),
            }
            if plan.action == "replacecommit":
                metadata["partitionToReplaceFileIds"] = replaced
            timeline.complete(instant, plan.action, metadata)
        except BaseException:
            _undo(location, timeline, instant, plan.action, written, begun, creating)
            raise
        removed = [j.prev.path for j in plan.jobs if j.prev is not None]
        removed += [s.path for s in plan.replaced if s.path not in removed]
        return {
            "instant_time": instant, "action": plan.action, "operation": plan.operation,
            "files_added": [p for p in written if p.endswith(".parquet")], "files_removed": removed,
            "partitions": sorted({j.partition for j in plan.jobs} | {s.partition for s in plan.replaced}),
            "table_uri": location.uri,
        }


def _undo(location: TableLocation, timeline: Timeline, instant: str, action: str, written: list[str],
          begun: bool, creating: bool) -> None:
    """Best effort: remove the data files, then the pending instants (kept if a file could not be
    removed, so the leftover stays marked as uncommitted), then a table this write created."""
    leftover = False
    for relative in reversed(written):
        try:
            location.fs.delete_file(location.path(relative))
        except FileNotFoundError:
            pass
        except OSError:
            leftover = True
    if begun and not leftover:
        timeline.abandon(instant, action)
    if creating and not leftover and not timeline.unseen_completed():  # not a table another writer made
        location.delete(f"{HOODIE}/{PROPERTIES}")


def merged_schema(stored: TableSchema | None, table: TableSpec, with_row_id: bool, where: str,
                  fixed: tuple[str, ...]) -> tuple[TableSchema, list[str]]:
    """The table schema after this write, as the schema-evolution planner decides it (refusals
    raise here, before anything is written), and the stored columns the upload lacks. Added
    columns are read as NULL from older files; record key and partition columns never change
    type (a record key is the text of its values)."""
    upload = tuple(table.columns) + sage_columns(with_row_id)
    plan = plan_schema(where, None if stored is None else stored.columns, upload, table.schema_change,
                       fixed=fixed).check()
    sage_names = {c.name for c in sage_columns(True)}
    columns = plan.target
    ordered = [c for c in columns if c.name not in sage_names] + [c for c in columns if c.name in sage_names]
    return TableSchema(tuple(ordered)), plan.absent
