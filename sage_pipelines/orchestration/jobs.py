"""Jobs: one per casilla over all its assets, partitioned by upload, run in-process on `local`.

(The jobs of remote servers are `routing.server_job`; `definitions_factory.load_job` rebuilds
any of them by name in each process that runs a step.)
"""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job, in_process_executor

from sage_pipelines.orchestration.naming import dagster_name, job_name


DUCKDB_TAG = "sage/duckdb"


def duckdb_tags(plans: list, casilla: str) -> dict[str, str]:
    """DuckDB allows one writing process per file: runs that write a DuckDB connection carry its
    name in `sage/duckdb`, and the run queue (dagster.yaml) runs one of them per value at a time."""
    names = sorted({t.destination.connection for p in plans if p.casilla == casilla for t in p.tables
                    if t.destination.kind == "duckdb" and t.destination.connection})
    return {DUCKDB_TAG: ",".join(names)} if names else {}


def casilla_job(casilla: str, tags: dict[str, str] | None = None):
    """Runs in the run's own process: the embedded default needs no broker."""
    return define_asset_job(
        name=job_name(casilla),
        selection=AssetSelection.groups(dagster_name(casilla)),
        executor_def=in_process_executor,
        tags=tags or None,
        description=f"Materialize uploads of casilla {casilla} on the local server",
    )

