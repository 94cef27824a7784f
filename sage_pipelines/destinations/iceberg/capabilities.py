"""What Iceberg can do, as data: every transform of the spec, names as the catalog keeps them,
and optimistic commits (a commit that lost a race starts over), so no writer scope."""

from __future__ import annotations

from sage_pipelines.destinations.lake.capabilities import CATALOG_NAMES, lake_capabilities

TRANSFORMS = frozenset({"identity", "day", "month", "year", "bucket", "truncate"})

CAPABILITIES = lake_capabilities("Parquet data files + one Iceberg snapshot", TRANSFORMS, table_names=CATALOG_NAMES)
