"""What the Hudi writer can do, as data: identity partitioning, or day / month / year of ONE date
or timestamp column; column names that are Avro fields (hudi-rs reads no other); table folders
safe in a URI; and one writer per table (`WriterScope.TABLE`): the format has no conflict
detection between writers of its own, so the run queue serialises them, a file lock does on one
host, and a commit that finds a newer completed instant it did not see fails (see `timeline`)."""

from __future__ import annotations

from sage_pipelines.destinations.base import IdentifierRules, WriterScope
from sage_pipelines.destinations.lake.capabilities import lake_capabilities

AVRO_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
COLUMN_NAMES = IdentifierRules(max_length=255, pattern=AVRO_NAME, noun="column",
                               pattern_rule="Avro field names use only ASCII letters, digits and '_' "
                                            "and do not start with a digit")
TRANSFORMS = frozenset({"identity", "day", "month", "year"})

CAPABILITIES = lake_capabilities("Parquet base files (Hudi copy-on-write, table version 6)", TRANSFORMS,
                                 column_names=COLUMN_NAMES, time_partition_max_columns=1,
                                 writer_scope=WriterScope.TABLE)
