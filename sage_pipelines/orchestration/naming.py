"""Dagster names derived from SAGE names (Dagster allows only letters, digits and underscores)."""

from __future__ import annotations

import re

from dagster import AssetKey


def dagster_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return name if name and not name[0].isdigit() else f"_{name}"


def asset_key(destination: str, casilla: str, table: str) -> AssetKey:
    """The contract's asset key: `[destination, casilla, table]` (table = catalog key)."""
    return AssetKey([dagster_name(destination), dagster_name(casilla), dagster_name(table)])


def partitions_name(casilla: str) -> str:
    return f"uploads_{dagster_name(casilla)}"


def job_name(casilla: str, server: str = "local") -> str:
    return f"materialize_{dagster_name(casilla)}" + ("" if server == "local" else f"__{dagster_name(server)}")


def io_manager_key(materialization: str, destination: str) -> str:
    return f"io_{dagster_name(materialization)}__{dagster_name(destination)}"
