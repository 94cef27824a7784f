"""What MySQL / MariaDB can do, as data (read by the SQL core, the validator and the run queue).

Names: at most 64 characters, compared without case, no trailing space, and nothing beyond the
Basic Multilingual Plane (the server refuses an emoji in a name: "Invalid utf8mb4 character
string"). DDL commits on its own, so a write creates or alters its table before the data
transaction and undoes that DDL if the write fails.
"""

from __future__ import annotations

from sage_pipelines.destinations.base import Capabilities, IdentifierRules, WriterScope

NAMES = IdentifierRules(max_length=64, case_insensitive=True, no_trailing_space=True, max_code_point=0xFFFF)

CAPABILITIES = Capabilities(
    bulk_load="LOAD DATA LOCAL INFILE",
    table_names=NAMES,
    column_names=NAMES,
    supports_schemas=True,  # a schema is a database, created when missing
    transactional=True,
    transactional_ddl=False,
    writer_scope=WriterScope.NONE,  # GET_LOCK makes writers of one table take turns
)
