"""Lake table schemas in the planner's terms: Arrow schemas <-> logical columns, and data conformed.

Iceberg, Delta and Hudi ask the one schema-evolution planner (`destinations.evolution`) what a
write does to a table's columns; this module maps an Arrow schema (Iceberg's and Delta's schemas
convert to one) to the logical columns the planner compares, builds the table's Arrow schema
after the plan, and conforms data to it: columns in the table's order and types, the ones an
upload lacks as NULLs. Each format then applies the plan its own way (Iceberg `update_schema`,
Delta `schema_mode`, Hudi's commit schema), rewriting stored files only when its format cannot
widen a type in place.
"""

from __future__ import annotations

import pyarrow as pa

from sage_pipelines.destinations.base import TableSpec
from sage_pipelines.destinations.evolution import SchemaPlan, Unmodeled, plan_schema
from sage_pipelines.types import Column, ColumnType, Kind


def logical(t: pa.DataType) -> ColumnType | None:
    """The logical type of an Arrow type as a lake stores it (None: not one of ours)."""
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return ColumnType(Kind.TEXT)
    if pa.types.is_decimal(t):
        return ColumnType(Kind.DECIMAL, t.precision, t.scale)
    if pa.types.is_integer(t):
        return ColumnType(Kind.INTEGER)
    if pa.types.is_date(t):
        return ColumnType(Kind.DATE)
    if pa.types.is_timestamp(t):
        return ColumnType(Kind.TIMESTAMP)
    if pa.types.is_boolean(t):
        return ColumnType(Kind.BOOLEAN)
    return None


def logical_columns(schema: pa.Schema) -> list[Column | Unmodeled]:
    """A lake table's (or an upload's) Arrow schema as the schema-evolution planner takes it."""
    out: list[Column | Unmodeled] = []
    for f in schema:
        t = logical(f.type)
        out.append(Unmodeled(f.name, f.nullable) if t is None else Column(f.name, t, f.nullable))
    return out


def plan_for(name: str, existing: pa.Schema | None, incoming: pa.Schema, table: TableSpec) -> SchemaPlan:
    """The planner's decision for writing `incoming` into a table of schema `existing` (None: a
    new table); refused plans raise `SchemaChangeError` here, before anything is written."""
    stored = None if existing is None else logical_columns(existing)
    upload = [c for c in logical_columns(incoming) if isinstance(c, Column)]
    return plan_schema(name, stored, upload, table.schema_change).check()


def target_schema(existing: pa.Schema, incoming: pa.Schema, plan: SchemaPlan) -> pa.Schema:
    """The table's Arrow schema after `plan`: its fields in order (widened ones with the upload's
    type), then the added fields (nullable)."""
    widened = {c.name for c in plan.widened}
    fields = [incoming.field(f.name).with_nullable(f.nullable) if f.name in widened else f for f in existing]
    fields += [incoming.field(c.name).with_nullable(True) for c in plan.added]
    return pa.schema(fields)


def conform(data: pa.Table, schema: pa.Schema) -> pa.Table:
    """`data` with exactly `schema`'s columns, order and types (missing columns as NULLs)."""
    arrays = []
    for f in schema:
        if f.name in data.column_names:
            column = data.column(f.name)
            arrays.append(column if column.type == f.type else column.cast(f.type))
        else:
            arrays.append(pa.nulls(data.num_rows, f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def with_declared_types(data: pa.Table, table: TableSpec) -> pa.Table:
    """Declared columns in their declared Arrow types, then the rest as stored."""
    declared = {c.name: c.type.to_arrow() for c in table.table_columns}
    arrays, fields = [], []
    for f in data.schema:
        column = data.column(f.name)
        want = declared.get(f.name)
        if want is not None and want != f.type:
            try:
                column = column.cast(want)
                f = f.with_type(want)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass  # the table holds a wider type than this spec declares: keep it
        arrays.append(column)
        fields.append(f)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
