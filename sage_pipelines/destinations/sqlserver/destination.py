"""`SQLServerDestination`: the shared SQL core with the SQL Server dialect, plus a check of key
sizes before connecting."""

from __future__ import annotations

from sage_pipelines.destinations.base import Strategy, TableSpec
from sage_pipelines.destinations.sql import SqlDestination
from sage_pipelines.destinations.sqlserver.dialect import SQLServerDialect
from sage_pipelines.destinations.sqlserver.typemap import (
    CLUSTERED_KEY_BYTES,
    INDEX_KEY_BYTES,
    check_key_size,
)


class SQLServerDestination(SqlDestination):
    """A SQL Server database reached with pymssql (`host`, `port`, `user`, `database`; options
    `tds_version`, `encryption`, `charset`, `appname`); a table's schema is created when missing.
    The password is asked of the settings only when connecting."""

    dialect_class = SQLServerDialect

    def _check(self, table: TableSpec, upload_id: str) -> None:
        super()._check(table, upload_id)
        by_name = {c.name: c for c in table.columns}
        if table.strategy is Strategy.UPSERT:
            check_key_size(table.qualified_name, "primary_key",
                           [by_name[k] for k in table.primary_key], CLUSTERED_KEY_BYTES)
        if table.strategy is Strategy.DELETE_INSERT:
            check_key_size(table.qualified_name, "delete_by",
                           [by_name[k] for k in table.effective_delete_by], INDEX_KEY_BYTES)


__all__ = ["SQLServerDestination", "SQLServerDialect"]
