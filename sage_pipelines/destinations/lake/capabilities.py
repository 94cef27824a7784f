"""What every lake format shares as capabilities: every strategy, namespaces, atomic commits,
and table folders whose names must be safe in a URI (Delta and Hudi tables are folders
`<warehouse>/<namespace>/<table>/`)."""

from __future__ import annotations

from sage_pipelines.destinations.base import Capabilities, IdentifierRules, Strategy, WriterScope

# Characters with a meaning in a URI or an object-store path: deltalake panics or looks for
# another folder when a table folder's name holds one. 255 bytes: a file name's limit.
FOLDER_NAMES = IdentifierRules(max_length=255, length_in_bytes=True,
                               refused_characters=frozenset("/#?[]%\\\x00"), reserved=frozenset({".", ".."}),
                               noun="folder")
CATALOG_NAMES = IdentifierRules(max_length=255)  # Iceberg SQL catalogs keep names in VARCHAR(255)
COLUMN_NAMES = IdentifierRules(max_length=255)

TIME_TRANSFORMS = frozenset({"day", "month", "year"})


def lake_capabilities(bulk_load: str, transforms: frozenset[str], *, table_names: IdentifierRules = FOLDER_NAMES,
                      column_names: IdentifierRules = COLUMN_NAMES, time_partition_max_columns: int | None = None,
                      writer_scope: WriterScope = WriterScope.NONE) -> Capabilities:
    """Lakes take every strategy, namespaces and partitioning, and commit atomically (a schema
    change lands in the same commit as the rows)."""
    return Capabilities(strategies=frozenset(Strategy), bulk_load=bulk_load, table_names=table_names,
                        column_names=column_names, supports_schemas=True, transactional=True,
                        transactional_ddl=True, partition_transforms=transforms,
                        time_partition_max_columns=time_partition_max_columns, writer_scope=writer_scope)
