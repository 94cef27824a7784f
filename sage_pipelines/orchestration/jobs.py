"""Jobs: one per casilla over all its assets, partitioned by upload, run in-process on `local`.

(The jobs of remote servers are `routing.server_job`; `definitions_factory.load_job` rebuilds
any of them by name in each process that runs a step.)
"""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job, in_process_executor

from sage_pipelines.destinations.base import WriterScope
from sage_pipelines.destinations.registry import capabilities
from sage_pipelines.orchestration.naming import dagster_name, job_name
from sage_pipelines.servers.instance import WRITER_TAGS


def writer_tags(plans: list, casilla: str) -> dict[str, str]:
    """What the casilla's runs write that takes one writer at a time, by the kind's writer scope
    (its capabilities in the destinations registry): `sage/file_writer` names the connections of
    per-file writers (DuckDB), `sage/table_writer` the tables of per-table writers (Hudi), as
    `<lake or connection>/<schema>.<table>`. The run queue (dagster.yaml) runs one run per value
    at a time. A run writing several carries them joined, so it waits for runs with that same
    set; runs of one casilla always carry the same set."""
    found: dict[WriterScope, set[str]] = {}
    for plan in plans:
        if plan.casilla != casilla:
            continue
        for table in plan.tables:
            dest = table.destination
            scope = capabilities(dest.kind).writer_scope
            place = dest.connection or dest.lake or dest.alias
            if scope is WriterScope.FILE:
                found.setdefault(scope, set()).add(place)
            elif scope is WriterScope.TABLE:
                found.setdefault(scope, set()).add(f"{place}/{table.spec.qualified_name}")
    return {WRITER_TAGS[scope]: ",".join(sorted(names)) for scope, names in sorted(found.items())}


def casilla_job(casilla: str, tags: dict[str, str] | None = None):
    """Runs in the run's own process: the embedded default needs no broker."""
    return define_asset_job(
        name=job_name(casilla),
        selection=AssetSelection.groups(dagster_name(casilla)),
        executor_def=in_process_executor,
        tags=tags or None,
        description=f"Materialize uploads of casilla {casilla} on the local server",
    )

