"""`sage_pipelines.definitions:defs`, the code location Dagster loads (`dagster dev`,
`dagster asset list -m sage_pipelines.definitions`), built from `$SAGE_HOME`'s store: the whole
of it when listed, one job alone in a process that runs only that job (definitions_factory)."""

from sage_pipelines.orchestration.definitions_factory import code_location

defs = code_location()
