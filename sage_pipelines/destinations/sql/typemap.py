"""Logical column types <-> one dialect's DDL, as data.

A dialect declares its `TypeMap` (a few format strings and catalog names); the same table
drives CREATE/ALTER and reading a live table's columns back into `ColumnType`s, which is what
the schema-evolution planner (`destinations.evolution`) compares. `stored` says what a declared type really becomes in this database
(DuckDB ignores VARCHAR lengths; MySQL cannot key a TEXT column), so comparisons are made
between like and like.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sage_pipelines.destinations.evolution import Unmodeled
from sage_pipelines.types import Column, ColumnType, Kind


@dataclass(frozen=True)
class CatalogColumn:
    """One column as the database's information_schema describes it."""

    name: str
    data_type: str  # information_schema.columns.data_type (lower-cased)
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    column_type: str = ""  # MySQL's full column_type, e.g. "tinyint(1)"
    nullable: bool = True  # information_schema.columns.is_nullable


@dataclass(frozen=True)
class TypeMap:
    text: str = "TEXT"
    varchar: str | None = "VARCHAR({length})"  # None: lengths are not enforced (DuckDB)
    key_text_length: int | None = None  # MySQL: unbounded text keys become VARCHAR(n)
    decimal: str = "NUMERIC({precision},{scale})"
    integer: str = "BIGINT"
    date: str = "DATE"
    timestamp: str = "TIMESTAMP"
    boolean: str = "BOOLEAN"
    # information_schema data_type (lower case) -> logical kind
    catalog: dict[str, Kind] = field(default_factory=dict)
    # the catalog types whose length is a real limit (VARCHAR(n), not TEXT)
    bounded_text: frozenset[str] = frozenset({"character varying", "varchar"})
    # MySQL: tinyint(1) is how BOOLEAN is stored; the full column_type tells it from a number
    boolean_column_types: frozenset[str] = frozenset()

    def stored(self, t: ColumnType, key: bool = False) -> ColumnType:
        """The logical type this database will actually hold for a declared type."""
        if t.kind is Kind.TEXT:
            if self.varchar is None:
                return ColumnType(Kind.TEXT)
            if key and t.length is None and self.key_text_length:
                return ColumnType(Kind.TEXT, length=self.key_text_length)
        return t

    def ddl(self, t: ColumnType, key: bool = False) -> str:
        t = self.stored(t, key)
        if t.kind is Kind.TEXT:
            return self.varchar.format(length=t.length) if t.length and self.varchar else self.text
        if t.kind is Kind.DECIMAL:
            return self.decimal.format(precision=t.precision, scale=t.scale)
        return {Kind.INTEGER: self.integer, Kind.DATE: self.date,
                Kind.TIMESTAMP: self.timestamp, Kind.BOOLEAN: self.boolean}[t.kind]

    def from_catalog(self, c: CatalogColumn) -> ColumnType | None:
        """The logical type of an existing column, or None when it is none of ours."""
        if c.column_type.lower() in self.boolean_column_types:
            return ColumnType(Kind.BOOLEAN)
        kind = self.catalog.get(c.data_type.lower().split("(")[0].strip())
        if kind is None:
            return None
        if kind is Kind.TEXT:
            bounded = self.varchar is not None and c.data_type.lower() in self.bounded_text
            return ColumnType(Kind.TEXT, length=c.length if bounded else None)
        if kind is Kind.DECIMAL:
            return ColumnType(Kind.DECIMAL, c.precision, c.scale)
        return ColumnType(kind)

    def logical(self, c: CatalogColumn) -> Column | Unmodeled:
        """An existing column as the schema-evolution planner takes it."""
        t = self.from_catalog(c)
        return Unmodeled(c.name, c.nullable) if t is None else Column(c.name, t, c.nullable)
