"""Checking a `MaterializationSpec` against its casilla and the store before it is stored.

Catalogs and columns must exist in the casilla's SAGE YAML, destinations must name registered
connections and lakes, each destination must be able to do what the table asks (its kind's
capabilities in the destinations registry: strategy, partition transform, table, schema and
column names), no two tables may land on the same physical table, and no other materialization
may already own the same asset (casilla + destination alias + catalog).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sage_pipelines.casilla.model import Catalog, SageYaml
from sage_pipelines.destinations.base import Capabilities
from sage_pipelines.destinations.registry import capabilities
from sage_pipelines.errors import ConfigError
from sage_pipelines.materialization.casillas import load_casilla
from sage_pipelines.materialization.model import (AUTO_SERVER, LOCAL_SERVER, MaterializationSpec, TableConfig,
                                                  target_schema)
from sage_pipelines.materialization.names import asset_title, dagster_name
from sage_pipelines.store.models import (Casilla, DatabaseConnection, Lake, Materialization, MaterializationDestination,
                                         MaterializationServer, MaterializationTable)
from sage_pipelines.types import Kind

_TIME_TRANSFORMS = ("day", "month", "year")


def validate_spec(session: Session, spec: MaterializationSpec, source: str,
                  sage: SageYaml | None = None) -> SageYaml:
    """Raise a ConfigError naming the key path at fault; return the casilla's SAGE YAML.

    `sage` replaces the registered SAGE YAML (to check a new version before it is stored).
    """
    p = f"{source}: materialization"
    if sage is None:
        try:
            _, sage = load_casilla(session, spec.casilla)
        except ConfigError as exc:
            raise ConfigError(f"{p}.casilla: {exc}") from None
    _check_server(session, spec.server, f"{p}.server")
    schemas = _check_destinations(session, spec, f"{p}.destinations")
    for key, table in spec.tables.items():
        tp = f"{p}.tables.{key}"
        catalog = sage.catalogs.get(key)
        if catalog is None:
            raise ConfigError(f"{tp}: unknown catalog {key!r} in casilla {spec.casilla!r} "
                              f"(catalogs: {', '.join(sage.catalogs)})")
        _check_columns(table, catalog, tp)
        for alias in table.destinations:
            _, default_schema, kind = schemas[alias]
            _check_capabilities(spec, table, catalog, tp, alias, kind, default_schema)
    _check_unique_targets(spec, schemas, f"{p}.tables")
    _check_asset_clash(session, spec, f"{p}.tables")
    return sage


def _check_server(session: Session, server: str, path: str) -> None:
    if server in (AUTO_SERVER, LOCAL_SERVER):
        return
    if session.scalar(select(MaterializationServer.id).where(MaterializationServer.nombre == server)) is None:
        raise ConfigError(f"{path}: unknown server {server!r} (use auto, local or a name from "
                          "`sage servers list`)")


def _check_destinations(session: Session, spec: MaterializationSpec, path: str) -> dict[str, tuple]:
    """Each alias's physical place, default schema and kind: {alias: (place, default schema, kind)}."""
    out: dict[str, tuple] = {}
    for alias, d in spec.destinations.items():
        if d.connection is not None:
            conn = session.scalar(select(DatabaseConnection).where(DatabaseConnection.nombre == d.connection))
            if conn is None:
                raise ConfigError(f"{path}.{alias}.connection: unknown connection {d.connection!r} "
                                  f"(registered: {_names(session, DatabaseConnection)})")
            out[alias] = (("connection", conn.id), conn.esquema, conn.secret.tipo)
        else:
            lake = session.scalar(select(Lake).where(Lake.nombre == d.lake))
            if lake is None:
                raise ConfigError(f"{path}.{alias}.lake: unknown lake {d.lake!r} "
                                  f"(registered: {_names(session, Lake)})")
            out[alias] = (("lake", lake.id), None, d.format)
    return out


def _names(session: Session, model: type) -> str:
    return ", ".join(session.scalars(select(model.nombre).order_by(model.nombre))) or "none"


def _check_columns(table: TableConfig, catalog: Catalog, path: str) -> None:
    fields = [f.name for f in catalog.fields]

    def known(name: str, where: str) -> None:
        if name not in fields:
            shown = ", ".join(fields[:12]) + (", ..." if len(fields) > 12 else "")
            raise ConfigError(f"{where}: unknown column {name!r} in catalog {catalog.key!r} (columns: {shown})")

    for key in ("primary_key", "delete_by"):
        for i, name in enumerate(getattr(table, key)):
            known(name, f"{path}.{key}[{i}]")
    for name in table.columns:
        known(name, f"{path}.columns.{name}")
    if table.partitioning is not None:
        columns = {c.name: c for c in catalog.columns(table.columns)}
        for i, name in enumerate(table.partitioning.columns):
            known(name, f"{path}.partitioning.columns[{i}]")
            kind = columns[name].type.kind
            if table.partitioning.transform in _TIME_TRANSFORMS and kind not in (Kind.DATE, Kind.TIMESTAMP):
                raise ConfigError(f"{path}.partitioning.transform: {table.partitioning.transform} needs a "
                                  f"date or timestamp column, but {name!r} is {kind.value}")


def _check_capabilities(spec: MaterializationSpec, table: TableConfig, catalog: Catalog, path: str, alias: str,
                        kind: str, default_schema: str | None) -> None:
    """Refuse now, naming the key path, what destination `alias` could only refuse in the middle
    of a run: a strategy or partition transform its kind lacks, a table, schema or column name it
    cannot hold (too long, a refused character; Delta and Hudi tables are folders, Hudi columns
    Avro fields). A database kind does not partition: `partitioning` is for the lake destinations."""
    caps: Capabilities = capabilities(kind)
    where = f"(destination {alias!r})"
    if table.strategy not in caps.strategies:
        raise ConfigError(f"{path}.strategy: {kind} cannot {table.strategy.value} {where}; it takes "
                          f"{', '.join(sorted(s.value for s in caps.strategies))}")
    if table.partitioning is not None and caps.partition_transforms:
        transform = table.partitioning.transform
        name = transform.split("[")[0]
        if name not in caps.partition_transforms:
            raise ConfigError(f"{path}.partitioning.transform: {kind} cannot partition by {transform} {where}; "
                              f"it takes {', '.join(sorted(caps.partition_transforms))}")
        most = caps.time_partition_max_columns
        if name in _TIME_TRANSFORMS and most is not None and len(table.partitioning.columns) > most:
            raise ConfigError(f"{path}.partitioning.columns: {kind} takes at most {most} column(s) for a {name} "
                              f"transform {where}, not {len(table.partitioning.columns)}")
    schema = target_schema(table.target, spec.destinations[alias].is_lake, default_schema, spec.casilla)
    for role, name in (("schema", schema), ("table", table.target.name)):
        problem = None if name is None else caps.table_names.problem(name)
        if problem:
            raise ConfigError(f"{path}.table: {name!r} cannot be a {kind} {caps.table_names.noun or role} "
                              f"{where}: {problem}")
    seen: dict[str, str] = {}
    for column in catalog.columns(table.columns):
        problem = caps.column_names.problem(column.name)
        if problem:
            raise ConfigError(f"{path} {where}: column {column.name!r} cannot be a {kind} "
                              f"{caps.column_names.noun or 'column'}: {problem}")
        folded = column.name.lower() if caps.column_names.case_insensitive else column.name
        if folded in seen:
            raise ConfigError(f"{path} {where}: columns {seen[folded]!r} and {column.name!r} are one name "
                              f"in {kind}, which compares names without case")
        seen[folded] = column.name


def _check_unique_targets(spec: MaterializationSpec, places: dict[str, tuple], path: str) -> None:
    """Two tables (or two aliases of one place) must not write the same physical table."""
    seen: dict[tuple, str] = {}
    for key, table in spec.tables.items():
        for alias in table.destinations:
            place, default_schema, _ = places[alias]
            schema = target_schema(table.target, spec.destinations[alias].is_lake, default_schema, spec.casilla)
            where = (place, (schema or "").casefold(), table.target.name.casefold())
            other = seen.setdefault(where, f"{key} -> {alias}")
            if other != f"{key} -> {alias}":
                raise ConfigError(f"{path}.{key}.table: {str(table.target)!r} in destination {alias!r} is "
                                  f"the same table as {other} (each table needs its own target)")


def _check_asset_clash(session: Session, spec: MaterializationSpec, path: str) -> None:
    """Asset keys are [destination alias, casilla, table title] as Dagster names (letters, digits,
    underscores: `ventas-2024` and `ventas_2024` are one key; `names.asset_title`): one owner per key."""
    mine: dict[tuple[str, str], str] = {}
    sources: dict[str, str] = {}  # each catalog is a source asset [casilla, catalog] too
    for catalog, table in spec.tables.items():
        source = sources.setdefault(dagster_name(catalog), catalog)
        if source != catalog:
            raise ConfigError(f"{path}.{catalog}: catalogs {source!r} and {catalog!r} make the same "
                              f"Dagster asset key {spec.casilla}/{dagster_name(catalog)}")
        for alias in table.destinations:
            lake = alias if spec.destinations[alias].lake is not None else None
            key = (dagster_name(alias), asset_title(str(table.target), lake, spec.casilla))
            if key in mine:
                raise ConfigError(f"{path}.{catalog}: catalogs {mine[key]!r} and {catalog!r} make the same "
                                  f"Dagster asset key {key[0]}/{spec.casilla}/{key[1]}")
            mine[key] = catalog
    others = (select(Materialization.id, Materialization.nombre)
              .join(Casilla, Casilla.id == Materialization.casilla_id)
              .where(Casilla.nombre == spec.casilla, Materialization.nombre != spec.name))
    names = dict(session.execute(others).all())
    lakes = {(m, d) for m, d in session.execute(
        select(MaterializationDestination.materialization_id, MaterializationDestination.nombre)
        .where(MaterializationDestination.materialization_id.in_(names),
               MaterializationDestination.tipo == "lake")).all()}
    rows = session.execute(select(MaterializationTable.materialization_id, MaterializationTable.tabla,
                                  MaterializationTable.destinos)
                           .where(MaterializationTable.materialization_id.in_(names))).all()
    for other, target, aliases in rows:
        for alias in aliases:
            key = (dagster_name(alias), asset_title(target, alias if (other, alias) in lakes else None, spec.casilla))
            mine_catalog = mine.get(key)
            if mine_catalog is not None:
                raise ConfigError(f"{path}.{mine_catalog}.destinations: asset {key[0]}/{spec.casilla}/{key[1]} "
                                  f"already belongs to materialization {names[other]!r} "
                                  "(use another destination alias or drop the table from one of them)")
