"""Apache Hudi destination: copy-on-write tables written in the Hudi table format, in Python.

There is no Python Hudi writer (hudi-rs only reads), so this package writes the table format
itself and checks every result with Apache Hudi's own Rust reader (the `hudi` package).

Supported subset (anything else is refused with a one-line `DestinationError`):
- table version 6, timeline layout 1 (JSON instants in `.hoodie/`), copy-on-write only
  (no merge-on-read, no log files, no `deltacommit`), Parquet base files;
- no metadata table: a table with `.hoodie/metadata` is refused (readers would trust its stale
  file listing); no cleaning or archiving (old file slices stay, as time travel);
- one writer per table, serialized by an `fcntl.flock` on `.hoodie/.aux/sage.lock` (on object
  stores: one writer process per table);
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

from sage_pipelines.destinations.hudi.destination import HudiDestination

__all__ = ["HudiDestination"]
