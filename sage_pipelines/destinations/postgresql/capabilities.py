"""What PostgreSQL can do, as data (read by the SQL core, the validator and the run queue).

Names: at most 63 bytes (the server silently cuts longer names, so two long names would become
one: refused instead), compared with case. DDL is transactional: a write's CREATE / ALTER commit
with its rows or not at all.
"""

from __future__ import annotations

from sage_pipelines.destinations.base import Capabilities, IdentifierRules, WriterScope

NAMES = IdentifierRules(max_length=63, length_in_bytes=True)

CAPABILITIES = Capabilities(
    bulk_load="COPY",
    table_names=NAMES,
    column_names=NAMES,
    supports_schemas=True,
    transactional=True,
    transactional_ddl=True,
    writer_scope=WriterScope.NONE,  # an advisory lock makes writers of one table take turns
)
