"""Pieces shared by the lake destinations (Iceberg, Delta, Hudi).

- `storage`: table locations, pyarrow filesystems and each library's storage options from a
  `LakeSettings` (credentials read at use time, never kept).
- `partitioning`: the YAML's partition transforms, parsed and checked once.
- `rows`: collect an upload, refuse NULL keys, last row per key, match existing rows against
  an upload's keys, key ranges for pruning, the strategies applied in Arrow, and the old values
  an upsert keeps for the columns its upload lacks.
- `schema`: Arrow schemas as the logical columns the schema-evolution planner
  (`destinations.evolution`) compares, the schema after its plan, and data conformed to it.
"""
