"""Jobs: one per casilla over all its assets, partitioned by upload.

`load_job` is the module-level reconstructor that `sage materialize` (and remote workers)
use to rebuild a job from the store by name, through Dagster's public
`build_reconstructable_job`.
"""

from __future__ import annotations

from dagster import AssetSelection, JobDefinition, define_asset_job, in_process_executor

from sage_pipelines.orchestration.naming import dagster_name, job_name


def casilla_job(casilla: str):
    """Runs in the run's own process: the embedded default needs no broker."""
    return define_asset_job(
        name=job_name(casilla),
        selection=AssetSelection.groups(dagster_name(casilla)),
        executor_def=in_process_executor,
        description=f"Materialize uploads of casilla {casilla} on the local server",
    )


def load_job(name: str) -> JobDefinition:
    from sage_pipelines.orchestration.definitions_factory import build_definitions

    return build_definitions().resolve_job_def(name)
