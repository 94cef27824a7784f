"""Dagster names derived from SAGE names (Dagster allows only letters, digits and underscores)."""

from __future__ import annotations

from dagster import AssetKey

from sage_pipelines.materialization.model import LOCAL_SERVER
from sage_pipelines.materialization.names import dagster_name

__all__ = ["asset_key", "dagster_name", "io_manager_key", "job_name", "partitions_name"]


def asset_key(destination: str, casilla: str, table: str) -> AssetKey:
    """The contract's asset key: `[destination, casilla, table]` (table = catalog key)."""
    return AssetKey([dagster_name(destination), dagster_name(casilla), dagster_name(table)])


def partitions_name(casilla: str) -> str:
    return f"uploads_{dagster_name(casilla)}"


def job_name(casilla: str, server: str = LOCAL_SERVER) -> str:
    return f"materialize_{dagster_name(casilla)}" + ("" if server == LOCAL_SERVER else f"__{dagster_name(server)}")


def io_manager_key(materialization: str, destination: str) -> str:
    return f"io_{dagster_name(materialization)}__{dagster_name(destination)}"
