"""File slices: which file groups a write touches, and how their new base files are written.

A copy-on-write table is a set of file groups per partition; each holds one key range of rows
and its latest base file (`<fileId>_<writeToken>_<instantTime>.parquet`) is the group's
current content. A write never modifies a file: it plans `FileJob`s, each producing one new
base file = the surviving rows of an existing slice (their `_hoodie_commit_time` and
`_hoodie_commit_seqno` kept) + new rows (stamped with this instant). A job either continues
the file group (a new slice, used by `commit`) or replaces it by a new group (`replacecommit`
lists the old id in `partitionToReplaceFileIds`). Only slices that hold affected rows are
read in full; the others are probed by one column (record key or the delete-by columns).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sage_pipelines.destinations.hudi.schema import (
    COMMIT_TIME,
    META_COLUMNS,
    PARTITION_PATH,
    RECORD_KEY,
    SEQNO,
    TableSchema,
    conform,
)
from sage_pipelines.destinations.hudi.table import (
    PARTITION_METADATA,
    TIME_TRANSFORMS,
    PartitionSpec,
    TableLocation,
)
from sage_pipelines.destinations.lake.rows import keep_absent
from sage_pipelines.errors import DestinationError

TARGET_FILE_ROWS = 1_000_000  # rows per base file before a new file group is started
SMALL_FILE_ROWS = 100_000  # file groups below this size take the inserts of their partition
DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_NULL_MARK = "\x00"
_SEPARATOR = "\x1f"

Matcher = Callable[[pa.Table], pa.Array]  # rows of an existing slice -> True where dropped


@dataclass(frozen=True)
class Slice:
    """The latest file slice of one file group, as the reader sees it."""

    file_id: str
    partition: str
    path: str  # relative to the table's base path
    instant: str


@dataclass
class FileJob:
    """One base file to write in `partition`: the kept rows of `prev` plus `inserts`."""

    partition: str
    prev: Slice | None = None
    drop: Matcher | None = None
    replace: bool = False  # True: a new file group that replaces `prev`'s group
    inserts: list[pa.Table] = field(default_factory=list)
    updates: int = 0
    prev_rows: int = 0
    file_id: str = ""
    keep: tuple[str, ...] = ()  # columns the upload lacks: updated rows keep `prev`'s values

    def __post_init__(self) -> None:
        if not self.file_id:
            self.file_id = self.prev.file_id if (self.prev and not self.replace) else f"{uuid.uuid4()}-0"

    @property
    def insert_rows(self) -> int:
        return sum(t.num_rows for t in self.inserts)


@dataclass
class Plan:
    """Everything a write will do, decided before its instant is requested."""

    action: str  # commit | replacecommit
    operation: str  # Hudi's WriteOperationType name, for Java tools reading the timeline
    jobs: list[FileJob] = field(default_factory=list)
    replaced: list[Slice] = field(default_factory=list)  # file groups hidden by a replacecommit
    inserted: int = 0
    updated: int = 0
    deleted: int = 0


# --- keys and partition paths ------------------------------------------------------------

def _as_text(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    return column if pa.types.is_string(column.type) else pc.cast(column, pa.string())


def record_keys(table: pa.Table, fields: tuple[str, ...]) -> pa.ChunkedArray | pa.Array:
    """Hudi record keys: the value for one field, `f1:v1,f2:v2` for several (ComplexKeyGenerator)."""
    if len(fields) == 1:
        return _as_text(table.column(fields[0]))
    parts = []
    for i, f in enumerate(fields):
        parts += [pa.scalar(("," if i else "") + f + ":"), _as_text(table.column(f))]
    return pc.binary_join_element_wise(*parts, "")


def partition_paths(table: pa.Table, spec: PartitionSpec, where: str) -> pa.ChunkedArray | pa.Array:
    """Hive-style partition paths `col=value[/col2=value2]` (a time transform formats the value,
    e.g. `fecha=2024-01` for month); NULL is `__HIVE_DEFAULT_PARTITION__`."""
    if not spec.fields:
        return pa.repeat(pa.scalar("", pa.string()), table.num_rows)
    parts = []
    for i, f in enumerate(spec.fields):
        column = table.column(f)
        if spec.transform in TIME_TRANSFORMS:
            if pa.types.is_date(column.type):
                column = pc.cast(column, pa.timestamp("s"))
            text = pc.strftime(column, format=TIME_TRANSFORMS[spec.transform][0])
        else:
            text = _as_text(column)
        bad = pc.or_(pc.match_substring(text, "/"), pc.equal(text, ""))
        if pc.any(bad).as_py():
            value = pc.filter(text, bad)[0].as_py()
            raise DestinationError(f"{where}: partition column {f!r} has the value {value!r}, which cannot "
                                   "be a partition path (empty or containing '/')")
        parts += [pa.scalar(("/" if i else "") + f + "="), pc.fill_null(text, DEFAULT_PARTITION)]
    return pc.binary_join_element_wise(*parts, "")


def tuples(table: pa.Table, columns: tuple[str, ...]) -> pa.ChunkedArray | pa.Array:
    """One comparable string per row for `columns`, where NULL equals NULL (delete-by matching)."""
    parts = [pc.fill_null(_as_text(table.column(c)), _NULL_MARK) for c in columns]
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, _SEPARATOR)


# --- reading existing slices -------------------------------------------------------------

def read_slice(location: TableLocation, s: Slice, columns: Iterable[str] | None = None) -> pa.Table:
    path = location.path(s.path)
    if columns is None:
        return pq.read_table(path, filesystem=location.fs)
    present = set(pq.read_schema(path, filesystem=location.fs).names)
    return pq.read_table(path, columns=[c for c in columns if c in present], filesystem=location.fs)


def slice_rows(location: TableLocation, s: Slice) -> int:
    return pq.read_metadata(location.path(s.path), filesystem=location.fs).num_rows


def may_hold(location: TableLocation, s: Slice, column: str, values: pa.Array) -> bool:
    """Footer statistics: False only when no row group's [min, max] of the string `column` meets
    the range of `values` (then the slice cannot hold them and is not read at all)."""
    if len(values) == 0:
        return False
    bounds = pc.min_max(values).as_py()
    lo, hi = bounds["min"], bounds["max"]
    if lo is None or lo.startswith(_NULL_MARK):
        return True
    meta = pq.read_metadata(location.path(s.path), filesystem=location.fs)
    names = meta.schema.names
    if column not in names:
        return True  # an older file without the column: let the reader decide
    index = names.index(column)
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(index).statistics
        if stats is None or not stats.has_min_max:
            return True
        if not (hi < stats.min or lo > stats.max):
            return True
    return False


# --- planning ----------------------------------------------------------------------------

class Planner:
    """Plans one strategy's file jobs against the current slices of the table."""

    def __init__(self, location: TableLocation, schema: TableSchema, slices: list[Slice],
                 partition_fields: tuple[str, ...], keep: Iterable[str] = ()):
        self.location = location
        self.schema = schema
        self.slices = slices
        self.partition_fields = partition_fields
        self.data_schema = schema.data_schema()
        self.keep = tuple(keep)  # stored columns the upload lacks (an upsert keeps their values)

    def _candidates(self, incoming: pa.Table, pruning_columns: tuple[str, ...]) -> list[Slice]:
        """Slices that may hold matching rows: only the upload's partitions when the partition
        columns are among the matched columns, else every slice."""
        if self.partition_fields and set(self.partition_fields) <= set(pruning_columns):
            touched = set(pc.unique(incoming.column(PARTITION_PATH)).to_pylist())
            return [s for s in self.slices if s.partition in touched]
        return list(self.slices)

    def upsert(self, incoming: pa.Table, key_fields: tuple[str, ...]) -> Plan:
        """`incoming` holds one row per key (the upload's last; `lake.rows.prepare` chose it)."""
        plan = Plan("commit", "upsert")
        keys = incoming.column(RECORD_KEY).combine_chunks()
        placed = pa.array(np.zeros(incoming.num_rows, dtype=bool))
        found_keys: list[pa.Array] = []
        for s in self._candidates(incoming, key_fields):
            if not may_hold(self.location, s, RECORD_KEY, keys):
                continue
            old_keys = read_slice(self.location, s, [RECORD_KEY]).column(RECORD_KEY)
            hit = pc.is_in(old_keys, value_set=keys)
            if not pc.any(hit).as_py():
                continue
            matched = pc.unique(pc.filter(old_keys, hit))
            found_keys.append(matched)
            here = pc.and_(pc.is_in(keys, value_set=matched), pc.equal(incoming.column(PARTITION_PATH), s.partition))
            rows = incoming.filter(here)
            placed = pc.or_(placed, here)
            plan.jobs.append(FileJob(s.partition, prev=s, drop=_key_matcher(matched), inserts=[rows],
                                     updates=rows.num_rows, prev_rows=len(old_keys), keep=self.keep))
        plan.updated = (pc.sum(pc.is_in(keys, value_set=pa.concat_arrays(found_keys))).as_py() or 0
                        if found_keys else 0)
        plan.inserted = incoming.num_rows - plan.updated
        self._place(incoming.filter(pc.invert(placed)), plan, replace=False)
        return plan

    def delete_then_insert(self, incoming: pa.Table, columns: tuple[str, ...], values: pa.Array,
                           operation: str, plain_insert_if_clean: bool = False) -> Plan:
        """Replace every file group holding rows whose `columns` values are in `values`. With
        `plain_insert_if_clean`, a write that deletes nothing is a plain `commit` of inserts."""
        plan = Plan("replacecommit", operation)
        types = pa.schema([self.data_schema.field(c) for c in columns])
        probe_stats = len(columns) == 1 and pa.types.is_string(types.field(0).type)
        for s in self._candidates(incoming, columns):
            if probe_stats and not may_hold(self.location, s, columns[0], values):
                continue
            old = conform(read_slice(self.location, s, columns), types)
            hit = pc.is_in(tuples(old, columns), value_set=values)
            n = pc.sum(hit).as_py() or 0
            if n:
                plan.deleted += n
                plan.replaced.append(s)
                plan.jobs.append(FileJob(s.partition, prev=s, replace=True, prev_rows=old.num_rows,
                                         drop=_tuple_matcher(columns, types, values)))
        plan.inserted = incoming.num_rows
        if plain_insert_if_clean and not plan.jobs:
            plan.action = "commit"
        self._place(incoming, plan, replace=plan.action == "replacecommit")
        return plan

    def truncate_then_insert(self, incoming: pa.Table) -> Plan:
        plan = Plan("replacecommit", "insert_overwrite_table", replaced=list(self.slices))
        plan.deleted = sum(slice_rows(self.location, s) for s in self.slices)
        plan.inserted = incoming.num_rows
        self._place(incoming, plan, replace=True, reuse_small=False)
        return plan

    def _place(self, rows: pa.Table, plan: Plan, replace: bool, reuse_small: bool = True) -> None:
        """Put new rows into file groups of their partition: a group this write rewrites anyway,
        else a small group (rewritten), else new groups of at most TARGET_FILE_ROWS."""
        if rows.num_rows == 0:
            return
        paths = rows.column(PARTITION_PATH)
        taken = {j.prev.file_id for j in plan.jobs if j.prev} | {s.file_id for s in plan.replaced}
        for partition in pc.unique(paths).to_pylist():
            part = rows.filter(pc.equal(paths, partition))
            jobs = [j for j in plan.jobs if j.partition == partition]
            job = min(jobs, key=lambda j: j.prev_rows + j.insert_rows, default=None)
            if (job is None or job.prev_rows + job.insert_rows + part.num_rows > TARGET_FILE_ROWS) and reuse_small:
                job = self._small_group(partition, part.num_rows, taken, replace, plan)
            if job is not None and job.prev_rows + job.insert_rows + part.num_rows <= TARGET_FILE_ROWS:
                job.inserts.append(part)
                continue
            for start in range(0, part.num_rows, TARGET_FILE_ROWS):
                plan.jobs.append(FileJob(partition, inserts=[part.slice(start, TARGET_FILE_ROWS)]))

    def _small_group(self, partition: str, incoming_rows: int, taken: set[str], replace: bool,
                     plan: Plan) -> FileJob | None:
        for s in self.slices:
            if s.partition != partition or s.file_id in taken:
                continue
            n = slice_rows(self.location, s)
            if n < SMALL_FILE_ROWS and n + incoming_rows <= TARGET_FILE_ROWS:
                job = FileJob(partition, prev=s, replace=replace, prev_rows=n)
                plan.jobs.append(job)
                if replace:
                    plan.replaced.append(s)
                taken.add(s.file_id)
                return job
        return None


def _key_matcher(keys: pa.Array) -> Matcher:
    return lambda old: pc.is_in(old.column(RECORD_KEY), value_set=keys)


def _tuple_matcher(columns: tuple[str, ...], types: pa.Schema, values: pa.Array) -> Matcher:
    return lambda old: pc.is_in(tuples(conform(old.select([c for c in columns if c in old.column_names]),
                                               types), columns), value_set=values)


# --- writing -----------------------------------------------------------------------------

def write_job(location: TableLocation, schema: TableSchema, job: FileJob, instant: str, task: int,
              written: list[str]) -> dict | None:
    """Write the job's base file; return its Hudi write stat (None when a replacing job has no
    rows left). `written` collects the relative paths created, so a failed write can remove them."""
    data_schema = schema.data_schema()
    name = f"{job.file_id}_{task}-0-0_{instant}.parquet"
    relative = f"{job.partition}/{name}" if job.partition else name
    parts: list[pa.Table] = []
    dropped = 0
    new = pa.concat_tables(job.inserts) if job.inserts else None
    if job.prev is not None:
        old = read_slice(location, job.prev)
        if job.drop is not None:
            mask = job.drop(old)
            dropped = pc.sum(mask).as_py() or 0
            if job.keep and new is not None:
                new = _keep_values(new, old.filter(mask), job.keep, data_schema)
            old = old.filter(pc.invert(mask))
        kept = conform(old, data_schema)
        meta = [old.column(COMMIT_TIME), old.column(SEQNO), old.column(RECORD_KEY),
                old.column(PARTITION_PATH), pa.repeat(pa.scalar(name), old.num_rows)]
        parts.append(_with_meta(meta, kept, schema))
    if new is not None and new.num_rows:
        n = new.num_rows
        seq = pc.binary_join_element_wise(pa.scalar(f"{instant}_{task}_"),
                                          pc.cast(pa.array(np.arange(n)), pa.string()), "")
        meta = [pa.repeat(pa.scalar(instant), n), seq, new.column(RECORD_KEY), new.column(PARTITION_PATH),
                pa.repeat(pa.scalar(name), n)]
        parts.append(_with_meta(meta, conform(new, data_schema), schema))
    table = pa.concat_tables(parts) if parts else schema.file_schema().empty_table()
    if job.replace and table.num_rows == 0:
        return None  # the replaced group simply disappears; no empty file group is needed
    _ensure_partition_metadata(location, job.partition, instant, written)
    written.append(relative)
    pq.write_table(table, location.path(relative), filesystem=location.fs)
    size = location.fs.get_file_info(location.path(relative)).size
    inserts = job.insert_rows - job.updates
    return {
        "fileId": job.file_id, "path": relative, "partitionPath": job.partition,
        "prevCommit": job.prev.instant if (job.prev and not job.replace) else "null",
        "numWrites": table.num_rows, "numInserts": inserts, "numUpdateWrites": job.updates,
        "numDeletes": 0 if job.updates else dropped, "totalWriteBytes": size, "fileSizeInBytes": size,
        "totalWriteErrors": 0, "tempPath": None, "totalLogRecords": 0, "totalLogFilesCompacted": 0,
        "totalLogSizeCompacted": 0, "totalUpdatedRecordsCompacted": 0, "totalLogBlocks": 0,
        "totalCorruptLogBlock": 0, "totalRollbackBlocks": 0,
    }


def _keep_values(new: pa.Table, replaced: pa.Table, columns: tuple[str, ...], data_schema: pa.Schema) -> pa.Table:
    """The upsert's rows with `columns` (which the upload lacks) taken from the rows they replace,
    matched by record key; an older file without such a column reads it as NULL."""
    wanted = pa.schema([pa.field(RECORD_KEY, pa.string())] + [data_schema.field(c) for c in columns])
    return keep_absent(new, conform(replaced, wanted), (RECORD_KEY,), columns)


def _with_meta(meta: list, data: pa.Table, schema: TableSchema) -> pa.Table:
    return pa.Table.from_arrays([*meta, *data.columns], schema=schema.file_schema())


def _ensure_partition_metadata(location: TableLocation, partition: str, instant: str,
                               written: list[str]) -> None:
    """`.hoodie_partition_metadata` marks a partition folder for Java readers."""
    relative = f"{partition}/{PARTITION_METADATA}" if partition else PARTITION_METADATA
    if location.exists(relative):
        return
    depth = len(partition.split("/")) if partition else 0
    if partition and location.local:
        location.fs.create_dir(location.path(partition), recursive=True)
    written.append(relative)
    location.write_bytes(relative, f"#partition metadata\ncommitTime={instant}\npartitionDepth={depth}\n".encode())


__all__ = ["META_COLUMNS", "FileJob", "Plan", "Planner", "Slice", "partition_paths",
           "read_slice", "record_keys", "slice_rows", "tuples", "write_job"]
