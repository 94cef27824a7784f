"""Run a casilla's upload now, through Dagster's own execution API, and wait.

`sage materialize`, the demo and the tests all come through `materialize_upload`: it makes the
upload a partition, selects the assets asked for, executes the casilla's job with
`execute_job` on a reconstructable job (so the same path works for remote executors), and
returns what each asset wrote or why the run failed. With `server="auto"` the balancer
(`routing.route_upload`) first splits the steps into one run per chosen server.

A failure comes back as one line per failed step, `<asset>: <the user's error>` (file names as
`<upload id>/<file>`, no exception class of ours), the way the CLI prints it. Dagster's own
log lines (with stack traces) go to the console only at the `log_level` asked for: the default,
CRITICAL, keeps them in the run's event log, which the Dagster UI shows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagster import AssetKey, DagsterEvent, DagsterEventType, DagsterInstance, build_reconstructable_job, execute_job

from sage_pipelines.errors import ConfigError, NotFoundError, SageError
from sage_pipelines.materialization.casillas import get_casilla
from sage_pipelines.materialization.model import AUTO_SERVER
from sage_pipelines.materialization.names import check_upload_id
from sage_pipelines.materialization.plan import MaterializationPlan, load_plans
from sage_pipelines.orchestration.checks import failed_checks_line
from sage_pipelines.orchestration.naming import table_key, job_name, partitions_name
from sage_pipelines.orchestration.observations import report_landed
from sage_pipelines.orchestration.routing import RoutedRun, current_states, route_upload
from sage_pipelines.servers.executor import error_line
from sage_pipelines.servers.instance import SERVER_TAG, ensure_dagster_home
from sage_pipelines.servers.run_process import RUN_PROCESS_TAG, fail_dead_runs, process_identity
from sage_pipelines.services.uploads import latest_upload
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope

# Where `build_reconstructable_job` finds the job in every process that runs a step.
JOB_LOADER = ("sage_pipelines.orchestration.definitions_factory", "load_job")


@dataclass
class AssetOutcome:
    key: list[str]
    metadata: dict[str, Any]


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    upload_id: str
    assets: list[AssetOutcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def select_assets(plans: list[MaterializationPlan], casilla: str, tables: list[str] | None,
                  destinations: list[str] | None) -> list[AssetKey]:
    """The asset keys of `casilla` to materialize: all, or those of the tables / destinations named
    (each name must exist)."""
    keys = []
    known_tables: set[str] = set()
    known_dests: set[str] = set()
    for plan in plans:
        if plan.casilla != casilla:
            continue
        for t in plan.tables:
            names = {t.catalog_key, t.spec.name, t.spec.qualified_name}
            known_tables |= names
            known_dests.add(t.destination.alias)
            if tables and not names & set(tables):
                continue
            if destinations and t.destination.alias not in destinations:
                continue
            keys.append(table_key(casilla, t))
    if not known_dests:
        raise ConfigError(f"casilla {casilla!r} has no materialization (apply one with `sage materializations apply`)")
    for t in tables or []:
        if t not in known_tables:
            raise ConfigError(f"casilla {casilla!r}: unknown table {t!r} (known: {', '.join(sorted(known_tables))})")
    for d in destinations or []:
        if d not in known_dests:
            raise ConfigError(f"casilla {casilla!r}: unknown destination {d!r} (known: {', '.join(sorted(known_dests))})")
    if not keys:  # each name exists, but no table goes to the destinations asked for
        raise ConfigError(f"casilla {casilla!r}: no table among {', '.join(tables or [])} is materialized "
                          f"to {', '.join(destinations or [])}")
    return keys


def root_cause(error: Any, landing: Path | None = None) -> str:
    """The innermost message of a Dagster SerializableErrorInfo chain (the user's SageError)
    without the class path of our exceptions, and file names relative to `landing` (a casilla's
    landing folder: `<upload id>/ventas.csv`)."""
    while error is not None and getattr(error, "cause", None) is not None:
        error = error.cause
    if error is None:
        return "unknown error"
    line = error_line(error)
    return line.replace(f"{landing}{os.sep}", "") if landing is not None else line


def materialize_upload(casilla: str, upload_id: str | None = None, tables: list[str] | None = None,
                       destinations: list[str] | None = None, home: SageHome | None = None,
                       run_config: dict | None = None, tags: dict[str, str] | None = None,
                       server: str = AUTO_SERVER, log_level: str = "CRITICAL",
                       asset_keys: list[AssetKey] | None = None) -> RunOutcome:
    """`server="auto"`: the balancer groups the steps into one run per server (routing.py)."""
    home = home or SageHome.from_env()
    ensure_dagster_home(home)
    with session_scope(home) as session:
        get_casilla(session, casilla)  # a misspelt casilla is named as such, not as one without a materialization
        plans = load_plans(session)
    if server == AUTO_SERVER:
        return _materialize_routed(plans, casilla, upload_id, tables, destinations, home, run_config, tags,
                                   log_level)
    selection = asset_keys if asset_keys is not None else select_assets(plans, casilla, tables, destinations)
    upload_id = upload_id or latest_upload(home, casilla)
    return _execute(casilla, upload_id, server, selection, home, run_config, tags, log_level)


def _materialize_routed(plans: list[MaterializationPlan], casilla: str, upload_id: str | None,
                        tables: list[str] | None, destinations: list[str] | None, home: SageHome,
                        run_config: dict | None, tags: dict[str, str] | None, log_level: str) -> RunOutcome:
    """The upload's runs, one per server, `local` first; one outcome over all of them.

    The runs execute one after another: two Dagster runs in threads of one process race on the
    SQLite instance's per-run databases (alembic's module globals). The daemon path (sensor and
    schedules) launches each run in its own process and has no such limit.
    """
    upload_id, runs = routed_runs(plans, casilla, upload_id, tables, destinations, home)

    def execute(run: RoutedRun) -> RunOutcome:
        return _execute(casilla, upload_id, run.server, run.asset_keys, home, run_config,
                        {**(tags or {}), **run.tags}, log_level)

    return merge_outcomes([execute(run) for run in runs], upload_id)  # local first: a remote fault never delays it


def merge_outcomes(outcomes: list[RunOutcome], upload_id: str) -> RunOutcome:
    """One outcome over an upload's runs (one per server)."""
    if len(outcomes) == 1:
        return outcomes[0]
    merged = RunOutcome(run_id=",".join(o.run_id for o in outcomes), success=all(o.success for o in outcomes),
                        upload_id=upload_id)
    for o in outcomes:
        merged.assets += o.assets
        merged.errors += o.errors
    return merged


def routed_runs(plans: list[MaterializationPlan], casilla: str, upload_id: str | None, tables: list[str] | None,
                destinations: list[str] | None, home: SageHome) -> tuple[str, list[RoutedRun]]:
    """(upload id, its runs): the selected steps of the upload (default: the newest) grouped by
    the server the balancer picks for each, `local` first. `sage materialize` executes them;
    `submit.submit_upload` queues them."""
    selection = set(select_assets(plans, casilla, tables, destinations))
    upload_id = check_upload_id(upload_id, "upload") if upload_id else latest_upload(home, casilla)
    if not home.upload_dir(casilla, upload_id).is_dir():
        raise NotFoundError(f"casilla {casilla!r} has no upload {upload_id!r}")
    return upload_id, route_upload(plans, casilla, upload_id, home, current_states(home), only=selection)


def upload_run_tags(casilla: str, upload_id: str, server: str) -> dict[str, str]:
    """The tags of every run of an upload, however it is started: its partition, casilla, upload and server."""
    return {"dagster/partition": upload_id, "sage/casilla": casilla, "sage/upload_id": upload_id, SERVER_TAG: server}


def _execute(casilla: str, upload_id: str, server: str, selection: list[AssetKey], home: SageHome,
             run_config: dict | None, tags: dict[str, str] | None, log_level: str) -> RunOutcome:
    """One Dagster run of `server`'s job for the selected assets of one upload."""
    upload_dir = home.upload_dir(casilla, upload_id)
    if not upload_dir.is_dir():
        raise NotFoundError(f"casilla {casilla!r} has no upload {upload_id!r}")
    assets = step_assets(selection)
    instance = DagsterInstance.get()
    try:
        if not instance.has_dynamic_partition(partitions_name(casilla), upload_id):
            instance.add_dynamic_partitions(partitions_name(casilla), [upload_id])
            report_landed(instance, home, casilla, upload_id)  # its files, on the catalogs' source assets
        job = build_reconstructable_job(*JOB_LOADER,
                                        reconstructable_args=(job_name(casilla, server),),
                                        reconstructor_working_directory=os.getcwd())
        run_tags = {**upload_run_tags(casilla, upload_id, server), **(tags or {})}
        identity = process_identity(os.getpid())  # this process runs the run: a kill -9 of it is noticed
        if identity is not None:
            run_tags[RUN_PROCESS_TAG] = identity
        fail_dead_runs(instance)  # runs whose process was killed since: failed before this one starts
        config = {"loggers": {"console": {"config": {"log_level": log_level}}}, **(run_config or {})}
        with execute_job(job, instance, run_config=config, tags=run_tags,
                         asset_selection=selection) as result:
            outcome = RunOutcome(run_id=result.run_id, success=result.success, upload_id=upload_id)
            for event in result.all_events:
                collect_event(outcome, event, assets, casilla, home.landing / casilla)
            return outcome
    finally:
        instance.dispose()


def step_assets(selection: list[AssetKey]) -> dict[str, str]:
    """step key -> asset (`a/b/c`), as Dagster names the steps of the selected assets."""
    return {key.to_python_identifier(): "/".join(key.path) for key in selection}


def collect_event(outcome: RunOutcome, event: DagsterEvent, assets: dict[str, str], casilla: str,
                  landing: Path) -> None:
    """Add what one of a run's events tells to `outcome`: an asset written (with its metadata),
    or a failed step / run as one line (its failed checks, or `root_cause` with file names
    relative to `landing`)."""
    if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
        mat = event.event_specific_data.materialization
        outcome.assets.append(AssetOutcome(list(mat.asset_key.path), {k: v.value for k, v in mat.metadata.items()}))
    elif event.event_type == DagsterEventType.STEP_FAILURE:
        asset = assets.get(event.step_key, event.step_key)
        error = event.event_specific_data.error
        outcome.errors.append(f"{asset}: {failed_checks_line(error, casilla) or root_cause(error, landing)}")
    elif event.event_type == DagsterEventType.RUN_FAILURE and not outcome.errors:
        error = getattr(event.event_specific_data, "error", None)  # e.g. a remote server's fault
        if error is not None:
            outcome.errors.append(root_cause(error, landing))


def raise_for_failure(outcome: RunOutcome) -> RunOutcome:
    if not outcome.success:
        raise SageError(f"run {outcome.run_id} failed: " + "; ".join(outcome.errors or ["see the Dagster UI"]))
    return outcome
