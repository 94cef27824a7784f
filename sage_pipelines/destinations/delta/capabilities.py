"""What Delta Lake can do, as data: identity and the time transforms (as derived partition
columns; bucket / truncate have no Delta equivalent), table folders safe in a URI, and optimistic
commits that start over after a lost race, so no writer scope."""

from __future__ import annotations

from sage_pipelines.destinations.lake.capabilities import lake_capabilities

TRANSFORMS = frozenset({"identity", "year", "month", "day"})

CAPABILITIES = lake_capabilities("Parquet data files + one Delta commit (delta-rs)", TRANSFORMS)
