"""Translate our schema decisions into Iceberg: types, partition transforms, schema updates.

Iceberg widens a type in place only where its spec allows (int -> long, decimal(P,S) ->
decimal(P',S) with P' > P). Any other widening our policy accepts (a decimal gaining scale,
a date becoming a timestamp) is applied by replacing the column (a new field id, same name and
position) and rewriting the table's data files, inside the same transaction as the write.
"""

from __future__ import annotations

import pyarrow as pa
from pyiceberg.table import Transaction
from pyiceberg.transforms import (
    BucketTransform,
    DayTransform,
    IdentityTransform,
    MonthTransform,
    Transform as IcebergTransform,
    TruncateTransform,
    YearTransform,
)
from pyiceberg.types import (
    BooleanType,
    DateType,
    DecimalType,
    IcebergType,
    LongType,
    StringType,
    TimestampType,
)

from sage_pipelines.destinations.lake.partitioning import Transform
from sage_pipelines.destinations.evolution import SchemaPlan


def iceberg_type(t: pa.DataType) -> IcebergType:
    if pa.types.is_decimal(t):
        return DecimalType(t.precision, t.scale)
    if pa.types.is_integer(t):
        return LongType()
    if pa.types.is_date(t):
        return DateType()
    if pa.types.is_timestamp(t):
        return TimestampType()
    if pa.types.is_boolean(t):
        return BooleanType()
    return StringType()


def iceberg_transform(transform: Transform) -> IcebergTransform:
    return {
        "identity": lambda: IdentityTransform(),
        "day": lambda: DayTransform(),
        "month": lambda: MonthTransform(),
        "year": lambda: YearTransform(),
        "bucket": lambda: BucketTransform(transform.width),
        "truncate": lambda: TruncateTransform(transform.width),
    }[transform.name]()


def promotable_in_place(old: pa.DataType, new: pa.DataType) -> bool:
    """Whether Iceberg's type promotion covers old -> new (no data rewrite needed)."""
    if pa.types.is_decimal(old) and pa.types.is_decimal(new):
        return old.scale == new.scale and new.precision >= old.precision
    return pa.types.is_integer(old) and pa.types.is_integer(new)


def apply_schema_plan(txn: Transaction, existing: pa.Schema, incoming: pa.Schema, plan: SchemaPlan) -> bool:
    """Stage `plan` in `txn` (column types from the upload's schema `incoming`); True when stored
    files must be rewritten (a replaced column)."""
    replaced = [c.name for c in plan.widened
                if not promotable_in_place(existing.field(c.name).type, incoming.field(c.name).type)]
    promoted = [c.name for c in plan.widened if c.name not in replaced]
    if plan.added or promoted:
        with txn.update_schema() as update:
            for c in plan.added:
                update.add_column(c.name, iceberg_type(incoming.field(c.name).type))
            for name in promoted:
                update.update_column(name, field_type=iceberg_type(incoming.field(name).type))
    if replaced:
        with txn.update_schema() as update:
            for name in replaced:
                update.delete_column(name)
        with txn.update_schema() as update:
            for name in replaced:
                update.add_column(name, iceberg_type(incoming.field(name).type))
                position = existing.get_field_index(name)
                if position == 0:
                    update.move_first(name)
                else:
                    update.move_after(name, existing.field(position - 1).name)
    return bool(replaced)
