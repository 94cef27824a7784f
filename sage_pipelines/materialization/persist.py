"""A materialization spec as store rows and back: the model's own mapping onto its tables.

`save_spec` writes `materializations`, `materialization_destinations` and
`materialization_tables` in the caller's transaction (validating first and auditing is
`services.materializations.apply_materialization`). A re-save updates rows in place (matched
by alias and catalog key), so table and destination ids, which Dagster assets and history rows
refer to, stay stable. `spec_from_row` reads a stored one back as the spec `load_spec` makes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sage_pipelines.destinations.base import Partitioning, SchemaChange, Strategy
from sage_pipelines.materialization.casillas import get_casilla
from sage_pipelines.materialization.model import DestinationSpec, MaterializationSpec, TableConfig, TableTarget
from sage_pipelines.store.models import (DatabaseConnection, Lake, Materialization, MaterializationDestination,
                                         MaterializationHistory, MaterializationTable)
from sage_pipelines.types import parse_type


def save_spec(session: Session, spec: MaterializationSpec) -> tuple[Materialization, bool]:
    """Write a validated spec (creating or updating its rows); returns (row, created)."""
    casilla_id = get_casilla(session, spec.casilla).id
    row = session.scalar(select(Materialization).where(Materialization.nombre == spec.name))
    created = row is None
    with session.no_autoflush:  # half-built rows must not be flushed by the lookups below
        if row is None:
            row = Materialization(nombre=spec.name, casilla_id=casilla_id)
            session.add(row)
        row.casilla_id = casilla_id
        row.descripcion = spec.description
        row.servidor = spec.server
        row.schedule = spec.schedule
        row.activo = True
        _sync_destinations(session, row, spec)
        _sync_tables(session, row, spec)
    session.flush()
    return row, created


def _sync_destinations(session: Session, row: Materialization, spec: MaterializationSpec) -> None:
    existing = {d.nombre: d for d in row.destinations}
    _forget_in_history(session, MaterializationHistory.destino_id,
                       [d.id for name, d in existing.items() if name not in spec.destinations])
    row.destinations = [_destination_row(session, existing.get(alias), d) for alias, d in spec.destinations.items()]


def _destination_row(session: Session, d: MaterializationDestination | None,
                     spec: DestinationSpec) -> MaterializationDestination:
    d = d or MaterializationDestination(nombre=spec.alias)
    if spec.connection is not None:
        d.tipo, d.lake_id, d.formato = "connection", None, None
        d.connection_id = session.scalar(select(DatabaseConnection.id).where(
            DatabaseConnection.nombre == spec.connection))
    else:
        d.tipo, d.connection_id, d.formato = "lake", None, spec.format
        d.lake_id = session.scalar(select(Lake.id).where(Lake.nombre == spec.lake))
    return d


def _sync_tables(session: Session, row: Materialization, spec: MaterializationSpec) -> None:
    existing = {t.catalogo: t for t in row.tables}
    _forget_in_history(session, MaterializationHistory.tabla_id,
                       [t.id for key, t in existing.items() if key not in spec.tables])
    tables = []
    for key, t in spec.tables.items():
        r = existing.get(key) or MaterializationTable(catalogo=key)
        r.tabla = str(t.target)
        r.estrategia = t.strategy.value
        r.primary_key = list(t.primary_key)
        r.delete_by = list(t.delete_by)
        r.particionamiento = (None if t.partitioning is None else
                              {"columns": list(t.partitioning.columns), "transform": t.partitioning.transform})
        r.schema_change = t.schema_change.value
        r.columnas = {name: {"type": str(ct)} for name, ct in t.columns.items()}
        r.destinos = list(t.destinations)
        tables.append(r)
    row.tables = tables


def _forget_in_history(session: Session, column: Any, ids: list[int]) -> None:
    """History outlives the tables and destinations it names: it keeps their names, not their ids."""
    if ids:
        session.execute(update(MaterializationHistory).where(column.in_(ids)).values({column: None}))


def spec_from_row(row: Materialization) -> MaterializationSpec:
    """The stored materialization as the same typed spec `load_spec` produces."""
    destinations = {
        d.nombre: (DestinationSpec(d.nombre, connection=d.connection.nombre) if d.tipo == "connection"
                   else DestinationSpec(d.nombre, lake=d.lake.nombre, format=d.formato))
        for d in row.destinations}
    return MaterializationSpec(name=row.nombre, casilla=row.casilla.nombre, description=row.descripcion,
                               server=row.servidor, schedule=row.schedule, destinations=destinations,
                               tables={t.catalogo: table_config(t) for t in row.tables})


def table_config(t: MaterializationTable) -> TableConfig:
    part = t.particionamiento
    strategy = Strategy(t.estrategia)
    delete_by = tuple(t.delete_by)
    if strategy is Strategy.DELETE_INSERT and not delete_by:
        delete_by = tuple(t.primary_key)  # applied before delete_by was required: it deleted by the key
    return TableConfig(
        catalog=t.catalogo,
        target=TableTarget.parse(t.tabla),
        strategy=strategy,
        destinations=tuple(t.destinos),
        primary_key=tuple(t.primary_key),
        delete_by=delete_by,
        partitioning=None if not part else Partitioning(tuple(part["columns"]), part["transform"]),
        schema_change=SchemaChange(t.schema_change),
        columns={name: parse_type(c["type"], f"{t.catalogo}.columns.{name}") for name, c in t.columnas.items()},
    )
