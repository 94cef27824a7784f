"""Which destination class serves which kind, imported lazily so a missing driver only
matters to the destinations that use it.

The lazy `importlib` loads in `destination_class` are the one place the package imports its
own modules inside a function (the import contract's allowlist names it): a kind's module pulls
in its driver (psycopg, pymysql, pymssql, duckdb, pyiceberg, deltalake, hudi) only when used.
"""

from __future__ import annotations

import importlib

# kind -> "module:factory". Each factory takes keyword settings (never a plaintext URL in logs).
_DATABASE_KINDS: dict[str, str] = {
    "duckdb": "sage_pipelines.destinations.duckdb:DuckDBDestination",
    "postgresql": "sage_pipelines.destinations.postgres:PostgresDestination",
    "mysql": "sage_pipelines.destinations.mysql:MySQLDestination",
    "sqlserver": "sage_pipelines.destinations.sqlserver:SQLServerDestination",
}
_LAKE_KINDS: dict[str, str] = {
    "iceberg": "sage_pipelines.destinations.iceberg:IcebergDestination",
    "delta": "sage_pipelines.destinations.delta:DeltaDestination",
    "hudi": "sage_pipelines.destinations.hudi:HudiDestination",
}
DESTINATION_KINDS: dict[str, str] = {**_DATABASE_KINDS, **_LAKE_KINDS}

# The table formats a lake destination takes (`format:` in a materialization), in this order
# in every message and choice list.
LAKE_FORMATS: tuple[str, ...] = tuple(_LAKE_KINDS)


def destination_class(kind: str) -> type:
    module_name, _, attr = DESTINATION_KINDS[kind].partition(":")
    return getattr(importlib.import_module(module_name), attr)
