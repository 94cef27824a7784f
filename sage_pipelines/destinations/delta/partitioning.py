"""Delta partitioning: Delta partitions by column values, so a time transform becomes a column.

`identity` partitions by the column itself. `year`, `month` and `day` of a date or timestamp
column add a derived partition column named `<column>_<transform>` (the same names Iceberg gives
its partition fields), computed from the source column on every write:

| transform | column            | type   | value        |
|-----------|-------------------|--------|--------------|
| year      | `<column>_year`   | int32  | 2024         |
| month     | `<column>_month`  | string | "2024-03"    |
| day       | `<column>_day`    | date32 | 2024-03-15   |

Readers see the derived columns like any other and can filter on them to prune files.
`bucket[N]` and `truncate[N]` have no Delta equivalent and are refused (use Iceberg).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from sage_pipelines.destinations.delta.capabilities import TRANSFORMS
from sage_pipelines.destinations.lake.partitioning import Transform
from sage_pipelines.errors import ConfigError



@dataclass(frozen=True)
class DeltaPartition:
    """One Delta partition column: its name and the column and transform it derives from."""

    name: str
    source: str
    transform: Transform


def delta_partitions(fields: list[tuple[str, Transform]], schema: pa.Schema,
                     table: str) -> list[DeltaPartition]:
    out = []
    for column, transform in fields:
        if transform.name not in TRANSFORMS:
            raise ConfigError(f"{table}: Delta Lake cannot partition by {transform}({column}); "
                              "use identity, year, month or day, or an Iceberg destination")
        if transform.name != "identity":
            kind = schema.field(column).type
            if not (pa.types.is_date(kind) or pa.types.is_timestamp(kind)):
                raise ConfigError(f"{table}: partitioning transform {transform} needs a date or "
                                  f"timestamp column, and {column!r} is {kind}")
            out.append(DeltaPartition(f"{column}_{transform.name}", column, transform))
        else:
            out.append(DeltaPartition(column, column, transform))
    return out


def with_partition_columns(data: pa.Table, partitions: list[DeltaPartition]) -> pa.Table:
    """`data` plus the derived partition columns (recomputed, so they always agree)."""
    for p in partitions:
        if p.transform.name == "identity":
            continue
        source = data.column(p.source)
        if p.transform.name == "year":
            value = pc.year(source).cast(pa.int32())
        elif p.transform.name == "month":
            stamps = source.cast(pa.timestamp("s")) if pa.types.is_date(source.type) else source
            value = pc.strftime(stamps, format="%Y-%m")
        else:
            value = source.cast(pa.date32())
        if p.name in data.column_names:
            data = data.set_column(data.column_names.index(p.name), p.name, value)
        else:
            data = data.append_column(p.name, value)
    return data
