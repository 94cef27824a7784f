"""Dagster names derived from SAGE names (Dagster allows only letters, digits and underscores)."""

from __future__ import annotations

from dagster import AssetKey

from sage_pipelines.materialization.model import LOCAL_SERVER
from sage_pipelines.materialization.names import dagster_name
from sage_pipelines.materialization.plan import TablePlan

__all__ = ["catalog_key", "dagster_name", "io_manager_key", "job_name", "partitions_name", "table_key",
           "table_title"]


def table_title(casilla: str, table: TablePlan) -> str:
    """What the asset graph shows for a table: the table as its destination names it
    (`dim_clientes`, `ventas.fact_ventas`). A lake's tables carry the lake destination's alias
    (`lake.fact_ventas`), since a lake usually holds the same tables as a warehouse; their
    namespace shows only when it is not the casilla's (the default)."""
    spec = table.spec
    parts = [spec.schema, spec.name] if spec.schema else [spec.name]
    if table.destination.connection is None:
        parts = [table.destination.alias] + ([spec.name] if spec.schema == casilla else parts)
    return ".".join(dagster_name(part) for part in parts)


def table_key(casilla: str, table: TablePlan) -> AssetKey:
    """A table's asset key: `[destination, casilla, table title]`; Dagster's graph titles a node
    with the last part, so it reads alone."""
    return AssetKey([dagster_name(table.destination.alias), dagster_name(casilla), table_title(casilla, table)])


def catalog_key(casilla: str, catalog: str) -> AssetKey:
    """A casilla catalog's (its upload file's) source asset key: `[casilla, catalog key]`."""
    return AssetKey([dagster_name(casilla), dagster_name(catalog)])


def partitions_name(casilla: str) -> str:
    return f"uploads_{dagster_name(casilla)}"


def job_name(casilla: str, server: str = LOCAL_SERVER) -> str:
    return f"materialize_{dagster_name(casilla)}" + ("" if server == LOCAL_SERVER else f"__{dagster_name(server)}")


def io_manager_key(materialization: str, destination: str) -> str:
    return f"io_{dagster_name(materialization)}__{dagster_name(destination)}"
