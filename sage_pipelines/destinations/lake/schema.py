"""Schema change for lake tables: compare the table's schema with the upload's, decide, conform.

One policy for every format: a new column is added (nullable); a column whose upload type is
wider than the table's (`ColumnType.can_widen_to`) is widened; an upload type narrower than the
table's is cast up to it; anything else, or any change under `schema_change: freeze`, is a
`SchemaChangeError` raised before a single file is written. A table column the upload lacks is
filled with NULLs. Each format then applies the plan its own way (Iceberg `update_schema`,
Delta `schema_mode`), rewriting stored files only when its format cannot widen a type in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from sage_pipelines.destinations.base import SchemaChange, TableSpec
from sage_pipelines.errors import SchemaChangeError
from sage_pipelines.types import ColumnType, Kind


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


def _fits(inner: pa.DataType, outer: pa.DataType) -> bool:
    a, b = logical(inner), logical(outer)
    return a is not None and b is not None and a.can_widen_to(b)


@dataclass
class SchemaPlan:
    """What a write does to a table's schema. `target` is the schema after the write."""

    target: pa.Schema
    added: list[pa.Field] = field(default_factory=list)
    widened: list[pa.Field] = field(default_factory=list)  # with their new type

    @property
    def changed(self) -> bool:
        return bool(self.added or self.widened)


def plan_schema(existing: pa.Schema | None, incoming: pa.Schema, table: TableSpec) -> SchemaPlan:
    """Decide the table's schema after writing an upload of schema `incoming`."""
    if existing is None:
        return SchemaPlan(target=incoming)
    fields = {f.name: f for f in existing}
    added: list[pa.Field] = []
    widened: list[pa.Field] = []
    for f in incoming:
        old = fields.get(f.name)
        if old is None:
            added.append(f.with_nullable(True))
        elif logical(old.type) == logical(f.type) or _fits(f.type, old.type):
            continue
        elif _fits(old.type, f.type):
            widened.append(old.with_type(f.type))
            fields[f.name] = old.with_type(f.type)
        else:
            raise SchemaChangeError(
                f"{table.qualified_name}: column {f.name!r} is {logical(old.type) or old.type} in the "
                f"table but {logical(f.type) or f.type} in the upload, which cannot be converted")
    incoming_names = set(incoming.names)
    for name, f in fields.items():
        if name not in incoming_names and not f.nullable:
            raise SchemaChangeError(f"{table.qualified_name}: required column {name!r} is missing "
                                    "from the upload")
    if (added or widened) and table.schema_change is SchemaChange.FREEZE:
        what = [f"new column {f.name!r}" for f in added] + [f"wider type for {f.name!r} ({f.type})"
                                                             for f in widened]
        raise SchemaChangeError(f"{table.qualified_name}: schema_change is freeze but the upload "
                                f"brings {', '.join(what)}")
    target = pa.schema([fields[f.name] for f in existing] + added)
    return SchemaPlan(target=target, added=added, widened=widened)


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
