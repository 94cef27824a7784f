"""What DuckDB can do, as data (read by the SQL core, the validator and the run queue)."""

from __future__ import annotations

from sage_pipelines.destinations.base import Capabilities, IdentifierRules, WriterScope

# DuckDB has no practical name limit; 1,024 keeps messages and catalogs sane. Names compare
# without case.
NAMES = IdentifierRules(max_length=1024, case_insensitive=True)

CAPABILITIES = Capabilities(
    bulk_load="Arrow scan",
    table_names=NAMES,
    column_names=NAMES,
    supports_schemas=True,
    transactional=True,
    transactional_ddl=True,
    writer_scope=WriterScope.FILE,  # one writing process per database file
)
