"""What SQL Server can do, as data (read by the SQL core, the validator and the run queue).

Names: at most 128 characters, compared without case (the default collation), no trailing space
(`a ` equals `a`), and a table may not start with `#`: `[#x]` is a temporary table, gone when the
session ends.
"""

from __future__ import annotations

from sage_pipelines.destinations.base import Capabilities, IdentifierRules, WriterScope

MAX_IDENTIFIER_LENGTH = 128
TABLE_NAMES = IdentifierRules(max_length=MAX_IDENTIFIER_LENGTH, case_insensitive=True, no_trailing_space=True,
                              refused_prefixes=("#",))
COLUMN_NAMES = IdentifierRules(max_length=MAX_IDENTIFIER_LENGTH, case_insensitive=True, no_trailing_space=True)

CAPABILITIES = Capabilities(
    bulk_load="INSERT ... VALUES batches (1,000 rows / 2,099 values per statement, "
              "10,000 rows per round trip) into a #staging table",
    table_names=TABLE_NAMES,
    column_names=COLUMN_NAMES,
    supports_schemas=True,
    transactional=True,
    transactional_ddl=True,
    writer_scope=WriterScope.NONE,  # sp_getapplock makes writers of one table take turns
)
