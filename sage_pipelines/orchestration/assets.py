"""The asset factory: one asset per (casilla file, destination), key `[destination, casilla, table]`.

Each asset streams its catalog's file from an upload (a dynamic partition of the casilla) as
Arrow batches; the destination's IO manager writes them. The table's whole configuration is
definition metadata, so the UI shows it and the IO manager needs nothing else.
"""


from typing import Any, Iterator

from dagster import (
    AssetExecutionContext,
    AssetSpec,
    AssetsDefinition,
    DynamicPartitionsDefinition,
    MetadataValue,
    Output,
    TableColumn,
    TableSchema,
    asset,
)

from sage_pipelines.casilla.model import SageYaml
from sage_pipelines.casilla.readers import UploadMember, read_member, upload_members
from sage_pipelines.destinations.spec_json import spec_to_json
from sage_pipelines.orchestration.checks import (CHECKS_KEY, check_results, check_specs, not_run_results,
                                                 table_checks)
from sage_pipelines.orchestration.io_managers import IO_MANAGERS, SPEC_KEY, SageIOManager, column_schema
from sage_pipelines.orchestration.naming import catalog_key, dagster_name, io_manager_key, partitions_name, table_key
from sage_pipelines.orchestration.resources import store_resource
from sage_pipelines.orchestration.table_metadata import spec_markdown
from sage_pipelines.services.destinations import open_destination
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope
from sage_pipelines.store.history import run_history_row
from sage_pipelines.materialization.plan import MaterializationPlan, TablePlan


def uploads_partitions(casilla: str) -> DynamicPartitionsDefinition:
    return DynamicPartitionsDefinition(name=partitions_name(casilla))


def find_member(home: SageHome, sage: SageYaml, casilla: str, upload_id: str,
                catalog_key: str) -> UploadMember | None:
    """The upload's file for one catalog, or None when the upload does not carry it."""
    for member in upload_members(sage, home.upload_dir(casilla, upload_id)):
        if member.catalog.key == catalog_key:
            return member
    return None


def catalog_asset(sage: SageYaml, casilla: str, catalog: str) -> AssetSpec:
    """A casilla catalog as an external source asset, partitioned by upload like its tables;
    observed when an upload lands (observations.py), never materialized by us."""
    c = sage.catalogs[catalog]
    return AssetSpec(
        key=catalog_key(casilla, catalog),
        partitions_def=uploads_partitions(casilla),
        group_name=dagster_name(casilla),
        description=f"{c.filename}: the {c.name or catalog} file of casilla {casilla}'s uploads",
        kinds={c.file_format.type.lower()},
        metadata={"file": c.filename, "sage/casilla": casilla,
                  "dagster/column_schema": MetadataValue.table_schema(
                      TableSchema(columns=[TableColumn(f.name, str(f.column_type)) for f in c.fields]))},
    )


def catalog_assets(plans: list[MaterializationPlan]) -> list[AssetSpec]:
    """One source asset per catalog some table is materialized from."""
    seen: dict[tuple[str, str], AssetSpec] = {}
    for plan in plans:
        for table in plan.tables:
            if (plan.casilla, table.catalog_key) not in seen:
                seen[(plan.casilla, table.catalog_key)] = catalog_asset(plan.sage, plan.casilla, table.catalog_key)
    return list(seen.values())


def table_asset(plan: MaterializationPlan, table: TablePlan, home: SageHome, table_name: str) -> AssetsDefinition:
    dest = table.destination
    spec = table.spec
    catalog = plan.sage.catalogs[table.catalog_key]
    checks = table_checks(spec, catalog)
    key = table_key(plan.casilla, table)
    metadata: dict[str, Any] = {
        SPEC_KEY: spec_to_json(spec),
        CHECKS_KEY: MetadataValue.json([c.to_json() for c in checks]),
        "table_spec": MetadataValue.md(spec_markdown(spec)),
        "sage/materialization_id": plan.id,
        "sage/table_id": table.table_id,
        "sage/destination_id": dest.id,
        "sage/casilla": plan.casilla,
        "sage/destination": dest.alias,
        "dagster/table_name": table_name,
        "dagster/column_schema": MetadataValue.table_schema(column_schema(spec)),
        "strategy": spec.strategy.value,
        "primary_key": ", ".join(spec.primary_key) or "(none)",
        "destination": dest.connection or f"{dest.lake} ({dest.format})",
        "server": plan.server,
    }
    if spec.effective_delete_by and spec.strategy.value == "delete_insert":
        metadata["delete_by"] = ", ".join(spec.effective_delete_by)
    if spec.partitioning:
        metadata["partitioning"] = f"{spec.partitioning.transform}({', '.join(spec.partitioning.columns)})"

    @asset(
        key=key,
        deps=[catalog_key(plan.casilla, table.catalog_key)],
        partitions_def=uploads_partitions(plan.casilla),
        io_manager_key=io_manager_key(plan.name, dest.alias),
        group_name=dagster_name(plan.casilla),
        metadata=metadata,
        kinds={dest.kind},
        check_specs=check_specs(key, checks, uploads_partitions(plan.casilla)),
        description=f"{spec.qualified_name} in {dest.alias} ({dest.kind}), from {catalog.filename} "
                    f"({catalog.name or table.catalog_key}), {spec.strategy.value}",
        output_required=False,
    )
    def _materialize(context: AssetExecutionContext) -> Iterator[Any]:
        upload_id = context.partition_key
        member = find_member(home, plan.sage, plan.casilla, upload_id, table.catalog_key)
        if member is None:
            reason = f"upload {upload_id} carries no {catalog.filename}; {spec.qualified_name} unchanged"
            context.log.info(reason)
            yield from not_run_results(checks, reason)
            return
        yield Output(read_member(member, columns=spec.columns),
                     metadata={"source_file": member.display, "source_bytes": member.size,
                               "upload_id": upload_id})
        # Dagster has stored the output (the IO manager wrote the table and ran the checks) by now
        with session_scope(home) as session:
            row = run_history_row(session, context.run.run_id, table.table_id, dest.id)
            outcomes = list(row.comprobaciones or []) if row is not None else []
        yield from check_results(outcomes)

    return _materialize


def qualified_names(plans: list[MaterializationPlan], home: SageHome) -> dict[tuple[int, int], str]:
    """Each table's fully qualified name (database.schema.table, lake.namespace.table) by
    (table id, destination id), as its destination names it without connecting."""
    if not plans:
        return {}
    names = {}
    with session_scope(home) as session:
        for plan in plans:
            for table in plan.tables:
                ref = table.destination
                destination = open_destination(session, connection=ref.connection, lake=ref.lake, format=ref.format)
                names[(table.table_id, ref.id)] = destination.locate(table.spec, uri=False).name
    return names


def build_assets(plans: list[MaterializationPlan], home: SageHome
                 ) -> tuple[list[AssetsDefinition | AssetSpec], dict[str, SageIOManager]]:
    assets: list[AssetsDefinition] = []
    resources: dict[str, SageIOManager] = {}
    store = store_resource(home)
    table_names = qualified_names(plans, home)
    for plan in plans:
        for table in plan.tables:
            dest = table.destination
            resources[io_manager_key(plan.name, dest.alias)] = IO_MANAGERS[dest.kind](
                store=store, connection=dest.connection, lake=dest.lake, format=dest.format)
            assets.append(table_asset(plan, table, home, table_names[(table.table_id, dest.id)]))
    return [*catalog_assets(plans), *assets], resources


def casillas_of(plans: list[MaterializationPlan]) -> dict[str, list[MaterializationPlan]]:
    out: dict[str, list[MaterializationPlan]] = {}
    for plan in plans:
        out.setdefault(plan.casilla, []).append(plan)
    return out


