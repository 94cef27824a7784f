"""The materialization spec as typed, immutable objects (the YAML of DESIGN.md, normalized).

Defaults are already applied here (table name, server, schema_change, per-table
destinations), so everything downstream reads one canonical shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sage_pipelines.destinations.base import Partitioning, SchemaChange, Strategy
from sage_pipelines.types import ColumnType

DEFAULT_LAKE_FORMAT = "iceberg"
AUTO_SERVER = "auto"  # `server: auto`: the balancer chooses per step
LOCAL_SERVER = "local"  # the built-in server: steps run inside the Dagster run's own process

# SAGE's own words for the strategies, accepted beside ours.
STRATEGY_WORDS: dict[str, Strategy] = {
    **{s.value: s for s in Strategy},
    "reemplazar": Strategy.TRUNCATE_INSERT,
    "agregar": Strategy.APPEND,
    "actualizar": Strategy.UPSERT,
}


@dataclass(frozen=True)
class DestinationSpec:
    """One alias of the `destinations:` block: a database connection or a lake plus format."""

    alias: str
    connection: str | None = None
    lake: str | None = None
    format: str | None = None  # lakes only: iceberg | delta | hudi

    @property
    def is_lake(self) -> bool:
        return self.lake is not None


@dataclass(frozen=True)
class TableTarget:
    """`table:` split into its optional schema (MySQL: database; lakes: namespace) and name."""

    name: str
    schema: str | None = None

    @classmethod
    def parse(cls, text: str) -> "TableTarget":
        schema, dot, name = text.rpartition(".")
        return cls(name=name, schema=schema if dot else None)

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass(frozen=True)
class TableConfig:
    """How one catalog of the casilla is materialized."""

    catalog: str
    target: TableTarget
    strategy: Strategy
    destinations: tuple[str, ...]
    primary_key: tuple[str, ...] = ()
    delete_by: tuple[str, ...] = ()
    partitioning: Partitioning | None = None
    schema_change: SchemaChange = SchemaChange.EVOLVE
    columns: dict[str, ColumnType] = field(default_factory=dict)  # type overrides


@dataclass(frozen=True)
class MaterializationSpec:
    name: str
    casilla: str
    destinations: dict[str, DestinationSpec]
    tables: dict[str, TableConfig]
    description: str = ""
    server: str = AUTO_SERVER
    schedule: str | None = None


def target_schema(target: TableTarget, is_lake: bool, connection_schema: str | None,
                  casilla: str) -> str | None:
    """Where a table lands: its explicit `schema.name`, else the connection's schema (databases)
    or a namespace named after the casilla (lakes), else None (the database default)."""
    if target.schema:
        return target.schema
    return casilla if is_lake else connection_schema
