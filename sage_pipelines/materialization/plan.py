"""Resolved plans: what the Dagster asset factory consumes, one `TablePlan` per table and destination.

Everything a write needs is resolved here from the store (destination kind from the secret's
`tipo` or the lake format, schema / namespace defaults, column types with overrides), so the
orchestration layer never reads YAML or store rows itself. Plans carry names, never secrets.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sage_pipelines.casilla.model import SageYaml
from sage_pipelines.destinations.base import TableSpec
from sage_pipelines.materialization.casillas import casilla_yaml
from sage_pipelines.materialization.model import DEFAULT_LAKE_FORMAT, target_schema
from sage_pipelines.materialization.persist import table_config
from sage_pipelines.store.models import Casilla, Materialization, MaterializationDestination


@dataclass(frozen=True)
class DestinationRef:
    id: int  # materialization_destinations.id
    alias: str
    kind: str  # duckdb | postgresql | mysql | sqlserver | iceberg | delta | hudi
    connection: str | None
    lake: str | None
    format: str | None


@dataclass(frozen=True)
class TablePlan:
    table_id: int  # materialization_tables.id
    catalog_key: str
    destination: DestinationRef
    spec: TableSpec
    target: str = ""  # the table as the materialization names it (`name` or `schema.name`)


@dataclass(frozen=True)
class MaterializationPlan:
    id: int
    name: str
    casilla: str
    sage: SageYaml
    server: str
    schedule: str | None
    description: str
    tables: tuple[TablePlan, ...]


def load_plans(session: Session, casilla: str | None = None) -> list[MaterializationPlan]:
    """Every active materialization (of `casilla` only, when given), resolved, in name order."""
    query = select(Materialization).where(Materialization.activo.is_(True))
    if casilla is not None:
        query = query.join(Materialization.casilla).where(Casilla.nombre == casilla)
    rows = session.scalars(query.order_by(Materialization.nombre))
    sages: dict[str, SageYaml] = {}
    plans = []
    for m in rows:
        casilla = m.casilla.nombre
        if casilla not in sages:
            sages[casilla] = casilla_yaml(m.casilla)
        plans.append(materialization_plan(m, sages[casilla]))
    return plans


def materialization_plan(m: Materialization, sage: SageYaml) -> MaterializationPlan:
    destinations = {d.nombre: d for d in m.destinations}
    tables = []
    for t in m.tables:
        config = table_config(t)
        catalog = sage.catalogs[t.catalogo]
        for alias in config.destinations:
            d = destinations[alias]
            schema = target_schema(config.target, d.tipo == "lake",
                                   d.connection.esquema if d.connection is not None else None, m.casilla.nombre)
            spec = TableSpec(name=config.target.name, columns=catalog.columns(config.columns),
                             strategy=config.strategy, schema=schema, primary_key=config.primary_key,
                             delete_by=config.delete_by, partitioning=config.partitioning,
                             schema_change=config.schema_change)
            tables.append(TablePlan(table_id=t.id, catalog_key=t.catalogo, destination=destination_ref(d),
                                    spec=spec, target=str(config.target)))
    return MaterializationPlan(id=m.id, name=m.nombre, casilla=m.casilla.nombre, sage=sage, server=m.servidor,
                               schedule=m.schedule, description=m.descripcion, tables=tuple(tables))


def destination_ref(d: MaterializationDestination) -> DestinationRef:
    if d.tipo == "lake":
        return DestinationRef(id=d.id, alias=d.nombre, kind=d.formato or DEFAULT_LAKE_FORMAT, connection=None,
                              lake=d.lake.nombre, format=d.formato)
    return DestinationRef(id=d.id, alias=d.nombre, kind=d.connection.secret.tipo,
                          connection=d.connection.nombre, lake=None, format=None)
