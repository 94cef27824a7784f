"""`sage_pipelines.definitions:defs`, the code location Dagster loads (`dagster dev`,
`dagster asset list -m sage_pipelines.definitions`), built from `$SAGE_HOME`'s store."""

from sage_pipelines.orchestration.definitions_factory import build_definitions

defs = build_definitions()
