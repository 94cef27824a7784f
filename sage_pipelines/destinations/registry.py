"""Which destination class serves which kind, imported lazily so a missing driver only
matters to the destinations that use it."""

from __future__ import annotations

import importlib

# kind -> "module:factory". Each factory takes keyword settings (never a plaintext URL in logs).
DESTINATION_KINDS: dict[str, str] = {
    "duckdb": "sage_pipelines.destinations.duckdb:DuckDBDestination",
    "postgresql": "sage_pipelines.destinations.postgres:PostgresDestination",
    "mysql": "sage_pipelines.destinations.mysql:MySQLDestination",
    "sqlserver": "sage_pipelines.destinations.sqlserver:SQLServerDestination",
    "iceberg": "sage_pipelines.destinations.iceberg:IcebergDestination",
    "delta": "sage_pipelines.destinations.delta:DeltaDestination",
    "hudi": "sage_pipelines.destinations.hudi:HudiDestination",
}


def destination_class(kind: str) -> type:
    module_name, _, attr = DESTINATION_KINDS[kind].partition(":")
    return getattr(importlib.import_module(module_name), attr)
