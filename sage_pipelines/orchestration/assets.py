"""The asset factory: one asset per (casilla file, destination), key `[destination, casilla, table]`.

Each asset streams its catalog's file from an upload (a dynamic partition of the casilla) as
Arrow batches; the destination's IO manager writes them. The table's whole configuration is
definition metadata, so the UI shows it and the IO manager needs nothing else.
"""


from typing import Any, Iterator

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    DynamicPartitionsDefinition,
    MetadataValue,
    Output,
    asset,
)

from sage_pipelines.casilla.model import SageYaml
from sage_pipelines.casilla.readers import UploadMember, read_member, upload_members
from sage_pipelines.destinations.spec_json import spec_to_json
from sage_pipelines.orchestration.io_managers import IO_MANAGERS, SPEC_KEY, SageIOManager, column_schema
from sage_pipelines.orchestration.resources import store_resource
from sage_pipelines.orchestration.naming import asset_key, dagster_name, io_manager_key, partitions_name
from sage_pipelines.settings import SageHome
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


def table_asset(plan: MaterializationPlan, table: TablePlan, home: SageHome) -> AssetsDefinition:
    dest = table.destination
    spec = table.spec
    metadata: dict[str, Any] = {
        SPEC_KEY: spec_to_json(spec),
        "sage/materialization_id": plan.id,
        "sage/table_id": table.table_id,
        "sage/destination_id": dest.id,
        "sage/casilla": plan.casilla,
        "sage/destination": dest.alias,
        "dagster/table_name": spec.qualified_name,
        "dagster/column_schema": MetadataValue.table_schema(column_schema(spec)),
        "strategy": spec.strategy.value,
        "primary_key": ", ".join(spec.primary_key) or "(none)",
        "destination": dest.connection or f"{dest.lake} ({dest.format})",
        "server": plan.server,
    }
    if spec.effective_delete_by and spec.strategy.value == "delete_insert":
        metadata["delete_by"] = ", ".join(spec.effective_delete_by)
    if spec.partitioning:
        metadata["partitioning"] = MetadataValue.json(
            {"columns": list(spec.partitioning.columns), "transform": spec.partitioning.transform})
    catalog = plan.sage.catalogs[table.catalog_key]

    @asset(
        key=asset_key(dest.alias, plan.casilla, table.catalog_key),
        partitions_def=uploads_partitions(plan.casilla),
        io_manager_key=io_manager_key(plan.name, dest.alias),
        group_name=dagster_name(plan.casilla),
        metadata=metadata,
        kinds={dest.kind},
        description=f"{catalog.name or table.catalog_key} ({catalog.filename}) → {spec.qualified_name} "
                    f"in {dest.alias}, {spec.strategy.value}",
        output_required=False,
    )
    def _materialize(context: AssetExecutionContext) -> Iterator[Output]:
        upload_id = context.partition_key
        member = find_member(home, plan.sage, plan.casilla, upload_id, table.catalog_key)
        if member is None:
            context.log.info(f"upload {upload_id} carries no {catalog.filename}; {spec.qualified_name} unchanged")
            return
        yield Output(read_member(member, columns=spec.columns),
                     metadata={"source_file": member.display, "source_bytes": member.size,
                               "upload_id": upload_id})

    return _materialize


def build_assets(plans: list[MaterializationPlan], home: SageHome) -> tuple[list[AssetsDefinition], dict[str, SageIOManager]]:
    assets: list[AssetsDefinition] = []
    resources: dict[str, SageIOManager] = {}
    store = store_resource(home)
    for plan in plans:
        for table in plan.tables:
            dest = table.destination
            resources[io_manager_key(plan.name, dest.alias)] = IO_MANAGERS[dest.kind](
                store=store, connection=dest.connection, lake=dest.lake, format=dest.format)
            assets.append(table_asset(plan, table, home))
    return assets, resources


def casillas_of(plans: list[MaterializationPlan]) -> dict[str, list[MaterializationPlan]]:
    out: dict[str, list[MaterializationPlan]] = {}
    for plan in plans:
        out.setdefault(plan.casilla, []).append(plan)
    return out


