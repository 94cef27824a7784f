"""Arrow operations every lake strategy is built from: collect, check keys, dedup, match.

Lake formats commit whole files, so a write first gathers the upload (a lazy reader that may
raise `DataError` mid-stream) into one Arrow table: nothing touches the lake before the upload
has been read to its end, which is what makes a bad value leave no trace. The upload is spooled
batch by batch to an Arrow IPC file and mapped back, so its bytes are file-backed pages the
kernel can drop and reread, not heap: reading it holds one batch in memory, not the file. Everything here is
vectorised (Arrow compute and Acero joins); no Python loop visits rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sage_pipelines.destinations.base import UPLOAD_ID_COLUMN, Strategy, TableSpec, with_sage_columns
from sage_pipelines.errors import ConfigError, SageError

_ROW = "__sage_row"


def collect(batches: pa.RecordBatchReader, upload_id: str, path: str) -> pa.Table:
    """The whole upload with the `_sage_*` columns, memory-mapped from the spool file `path`.

    Raises whatever the reader raises, unchanged. The table's buffers point into the mapped
    file (uncompressed IPC is read zero-copy); the mapping keeps the file's pages alive.
    """
    reader = with_sage_columns(batches, upload_id)
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)
    return pa.ipc.open_file(pa.memory_map(path, "r")).read_all()


def match_columns(table: TableSpec) -> tuple[str, ...]:
    """The columns whose values decide which existing rows a write replaces (empty: all rows)."""
    if table.strategy is Strategy.UPSERT:
        if not table.primary_key:
            raise ConfigError(f"{table.qualified_name}: strategy upsert needs a primary_key")
        return table.primary_key
    if table.strategy is Strategy.DELETE_INSERT:
        if not table.effective_delete_by:
            raise ConfigError(f"{table.qualified_name}: strategy delete_insert needs delete_by "
                              "or a primary_key")
        return table.effective_delete_by
    if table.strategy is Strategy.APPEND:
        return (UPLOAD_ID_COLUMN,)
    return ()


def prepare(upload: pa.Table, table: TableSpec) -> pa.Table:
    """Refuse NULL keys and keep, for upsert, only the last row of each key (file order)."""
    if table.strategy in (Strategy.UPSERT, Strategy.DELETE_INSERT):
        for name in match_columns(table):
            if name not in upload.column_names:
                raise ConfigError(f"{table.qualified_name}: key column {name!r} is not in the upload")
            nulls = upload.column(name).null_count
            if nulls:
                raise SageError(f"{table.qualified_name}: key column {name!r} is NULL in "
                                f"{nulls} row(s) of the upload; {table.strategy.value} needs a value")
    if table.strategy is Strategy.UPSERT:
        return last_per_key(upload, list(table.primary_key))
    return upload


def last_per_key(upload: pa.Table, keys: list[str]) -> pa.Table:
    """One row per key: the last in file order, the others dropped; the order kept."""
    if upload.num_rows < 2:
        return upload
    if len(keys) == 1 and len(pc.unique(upload.column(keys[0]))) == upload.num_rows:
        return upload  # the common case, found with one hash pass
    indexed = upload.select(keys).append_column(_ROW, pa.array(np.arange(upload.num_rows, dtype=np.int64)))
    last = indexed.group_by(keys, use_threads=False).aggregate([(_ROW, "max")])
    if last.num_rows == upload.num_rows:
        return upload
    rows = last.column(f"{_ROW}_max")
    return upload.take(pc.take(rows, pc.array_sort_indices(rows)))


def distinct_keys(upload: pa.Table, columns: tuple[str, ...]) -> pa.Table:
    """The distinct values of `columns` in the upload."""
    if len(columns) == 1:
        return pa.table([pc.unique(upload.column(columns[0]))], names=list(columns))
    return upload.select(list(columns)).group_by(list(columns), use_threads=False).aggregate([])


def matches(existing: pa.Table, keys: pa.Table) -> pa.ChunkedArray | pa.Array:
    """A boolean mask over `existing`: True where its values of `keys`' columns occur in `keys`."""
    columns = keys.column_names
    if len(columns) == 1:
        column = existing.column(columns[0])
        return pc.is_in(column, value_set=keys.column(0).cast(column.type))
    left = existing.select(columns).append_column(_ROW, pa.array(np.arange(existing.num_rows, dtype=np.int64)))
    right = pa.table([keys.column(c).cast(left.column(c).type) for c in columns], names=columns)
    hit = left.join(right, keys=columns, join_type="left semi", use_threads=False).column(_ROW)
    return pc.is_in(left.column(_ROW), value_set=hit.combine_chunks())


@dataclass
class Counts:
    """Rows inserted / updated / deleted, in the meaning of `WriteResult`."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0


def counts(strategy: Strategy, matched: int, rows: int) -> Counts:
    """`matched` existing rows were replaced by an upload of `rows` rows."""
    if strategy is Strategy.UPSERT:
        return Counts(inserted=rows - matched, updated=matched)
    return Counts(inserted=rows, deleted=matched)


def apply_strategy(existing: pa.Table, upload: pa.Table, table: TableSpec,
                   absent: Sequence[str] = ()) -> tuple[pa.Table, Counts]:
    """The table after the write, computed in Arrow (for rewrites of a whole table).

    `existing` and `upload` must already share one schema; `upload` has been `prepare`d; `absent`
    names the table columns the upload lacks (an upsert keeps their values on updated rows).
    """
    columns = match_columns(table)
    if not columns:
        return upload, counts(table.strategy, existing.num_rows, upload.num_rows)
    mask = matches(existing, distinct_keys(upload, columns))
    matched = pc.sum(mask).as_py() or 0
    kept = existing.filter(pc.invert(mask))
    if table.strategy is Strategy.UPSERT:
        upload = keep_absent(upload, existing.filter(mask), columns, absent)
    return pa.concat_tables([kept, upload]), counts(table.strategy, matched, upload.num_rows)


def keep_absent(upload: pa.Table, replaced: pa.Table, keys: Sequence[str], absent: Sequence[str]) -> pa.Table:
    """`upload` whose `absent` columns (the table's columns the upload lacks, NULL in `upload`)
    hold the values of the `replaced` row with the same key, and stay NULL for new keys: an
    upsert updates only the columns it was given. Same schema and row order as `upload`."""
    absent = [c for c in absent if c in upload.column_names and c in replaced.column_names]
    if not absent or upload.num_rows == 0 or replaced.num_rows == 0:
        return upload
    keys = list(keys)
    old = last_per_key(replaced.select(keys + absent), keys)
    old = pa.table([old.column(c).cast(upload.schema.field(c).type) for c in old.column_names],
                   names=old.column_names)
    order = pa.array(np.arange(upload.num_rows, dtype=np.int64))
    left = upload.drop_columns(absent).append_column(_ROW, order)
    joined = left.join(old, keys=keys, join_type="left outer", use_threads=False).sort_by(_ROW)
    return pa.Table.from_arrays([joined.column(n) for n in upload.column_names], schema=upload.schema)


IN_LIST_LIMIT = 256  # up to this many distinct values a predicate lists them; beyond, a range


@dataclass(frozen=True)
class KeyRange:
    """What an upload's keys look like in one column, for pruning files and partitions:
    the distinct values when there are few (`values`), else their bounds (`low`, `high`)."""

    column: str
    values: tuple | None
    low: object
    high: object


def key_ranges(keys: pa.Table) -> list[KeyRange]:
    """One `KeyRange` per column of the distinct keys of an upload (no NULLs: `prepare` refused them)."""
    ranges = []
    for name in keys.column_names:
        column = keys.column(name)
        bounds = pc.min_max(column).as_py()
        unique = pc.unique(column) if keys.num_rows > IN_LIST_LIMIT else column
        values = tuple(unique.to_pylist()) if len(unique) <= IN_LIST_LIMIT else None
        ranges.append(KeyRange(name, values, bounds["min"], bounds["max"]))
    return ranges
