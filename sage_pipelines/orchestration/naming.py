"""Dagster names derived from SAGE names (Dagster allows only letters, digits and underscores)."""

from __future__ import annotations

from dagster import AssetKey

from sage_pipelines.materialization.model import LOCAL_SERVER
from sage_pipelines.materialization.names import asset_title, dagster_name
from sage_pipelines.materialization.plan import TablePlan

__all__ = ["catalog_key", "dagster_name", "io_manager_key", "job_name", "partitions_name", "table_key"]


def table_key(casilla: str, table: TablePlan) -> AssetKey:
    """A table's asset key: `[destination, casilla, table title]`; Dagster's graph titles a node
    with the last part, so it reads alone."""
    lake = table.destination.alias if table.destination.connection is None else None
    return AssetKey([dagster_name(table.destination.alias), dagster_name(casilla),
                     asset_title(table.target, lake, casilla)])


def catalog_key(casilla: str, catalog: str) -> AssetKey:
    """A casilla catalog's (its upload file's) source asset key: `[casilla, catalog key]`."""
    return AssetKey([dagster_name(casilla), dagster_name(catalog)])


def partitions_name(casilla: str) -> str:
    return f"uploads_{dagster_name(casilla)}"


def job_name(casilla: str, server: str = LOCAL_SERVER) -> str:
    return f"materialize_{dagster_name(casilla)}" + ("" if server == LOCAL_SERVER else f"__{dagster_name(server)}")


def io_manager_key(materialization: str, destination: str) -> str:
    return f"io_{dagster_name(materialization)}__{dagster_name(destination)}"
