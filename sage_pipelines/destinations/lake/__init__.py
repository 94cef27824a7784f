"""Pieces shared by the lake destinations (Iceberg, Delta, Hudi).

- `storage`: table locations, pyarrow filesystems and each library's storage options from a
  `LakeSettings` (credentials read at use time, never kept).
- `partitioning`: the YAML's partition transforms, parsed and checked once.
- `rows`: collect an upload, refuse NULL keys, last row per key, match existing rows against
  an upload's keys, key ranges for pruning, and the strategies applied in Arrow.
- `schema`: the schema-change policy (add, widen, cast, refuse) and conforming data to it.
"""
