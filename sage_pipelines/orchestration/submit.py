"""Submitting an upload's runs to the Dagster instance's run queue, without waiting for them.

The routing is `sage materialize`'s (`run.routed_runs`: the balancer groups the selected steps
into one run per chosen server, `local` first), the tags too (`run.upload_run_tags` and the
balancer's reason). Each run is then created in the instance the way the daemon creates a
sensor's runs: from the code location `sage_pipelines.definitions` (the location `sage dev`,
`workspace.yaml` and the daemon load), loaded here in-process only to snapshot the job and its
execution plan, and handed to the QueuedRunCoordinator. The daemon launches it through its own
code server when the queue's limits allow (a server's capacity, one writer per DuckDB file), as
for the landing sensor's runs. Nothing runs in the calling process, so an API request returns at
once with the run ids; `run_state` reads a run's status back.

(Dagster has no public API for "create a queued run of this job from outside the daemon and the
webserver"; this module is the one place that uses `dagster._core` for it: the same calls as
`dagster job launch` and the sensor daemon.)
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import quote

from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.definitions.selector import JobSubsetSelector
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.run_coordinator.queued_run_coordinator import QueuedRunCoordinator
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from sage_pipelines.errors import NotFoundError, SageError
from sage_pipelines.materialization.names import check_upload_id
from sage_pipelines.materialization.plan import load_plans
from sage_pipelines.orchestration.naming import partitions_name
from sage_pipelines.orchestration.observations import report_landed
from sage_pipelines.orchestration.routing import RoutedRun
from sage_pipelines.orchestration.run import routed_runs, select_assets, upload_run_tags
from sage_pipelines.servers.instance import ensure_dagster_home
from sage_pipelines.services.audit import current_actor
from sage_pipelines.services.casillas import get_casilla
from sage_pipelines.services.uploads import add_upload, new_upload_id
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope

CODE_LOCATION = "sage_pipelines.definitions"  # the module `sage dev` and workspace.yaml load; also its location name
DAGSTER_URL_ENV = "SAGE_DAGSTER_URL"  # where users open the Dagster UI (`sage dev`'s default below)
DEFAULT_DAGSTER_URL = "http://127.0.0.1:3000"
ACTOR_TAG = "sage/submitted_by"
_LOAD_LOCK = threading.Lock()  # one (re)load of the code location at a time


@dataclass
class SubmittedRun:
    run_id: str
    server: str
    job: str
    asset_keys: list[list[str]] = field(default_factory=list)
    reason: str = ""


@dataclass
class RunState:
    run_id: str
    status: str  # Dagster's: QUEUED, STARTING, STARTED, SUCCESS, FAILURE, CANCELED, ...
    job: str
    tags: dict[str, str]
    finished: bool


def ensure_instance(home: SageHome) -> None:
    """The installation's Dagster instance, its storage created now: processes started later (the
    daemon, the webserver, runs) find it ready instead of racing to create the same SQLite schema
    (which fails with "more than one head")."""
    ensure_dagster_home(home)
    with DagsterInstance.get():
        pass


def dagster_url() -> str:
    return os.environ.get(DAGSTER_URL_ENV, DEFAULT_DAGSTER_URL).rstrip("/")


def run_url(run_id: str) -> str:
    """The run's page in the Dagster UI."""
    return f"{dagster_url()}/runs/{quote(run_id)}"


def asset_url(key: list[str]) -> str:
    """An asset's page in the Dagster UI."""
    return f"{dagster_url()}/assets/{'/'.join(quote(part, safe='') for part in key)}"


def _code_location(instance: DagsterInstance):  # noqa: ANN202 (an internal Dagster type)
    """The code location as the store is now. Its module builds the definitions when imported, and
    a long-lived process (the API) imported it at its first submit: rebuild it, so a
    materialization applied since then is part of it. Callers hold `_LOAD_LOCK`."""
    loaded = sys.modules.get(CODE_LOCATION)
    if loaded is not None:
        importlib.reload(loaded)
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(executable_path=sys.executable, module_name=CODE_LOCATION,
                             working_directory=os.getcwd()),
        location_name=CODE_LOCATION)
    return origin.create_location(instance)


def _create_run(instance: DagsterInstance, location, casilla: str, upload_id: str,  # noqa: ANN001
                routed: RoutedRun) -> SubmittedRun:
    """Create one queued run of `routed`'s job for its steps, as the daemon does for a sensor."""
    repository = next(iter(location.get_repositories().values()))
    remote_job = location.get_job(JobSubsetSelector(
        location_name=location.name, repository_name=repository.name, job_name=routed.job_name,
        op_selection=None, asset_selection=routed.asset_keys))
    plan = location.get_execution_plan(remote_job, {}, step_keys_to_execute=None, known_state=None,
                                       instance=instance)
    tags = {**(remote_job.run_tags or {}), **upload_run_tags(casilla, upload_id, routed.server), **routed.tags,
            ACTOR_TAG: current_actor().name}
    run = instance.create_run(
        job_name=routed.job_name, run_id=None, run_config={}, resolved_op_selection=remote_job.resolved_op_selection,
        step_keys_to_execute=None, status=DagsterRunStatus.NOT_STARTED, op_selection=None, root_run_id=None,
        parent_run_id=None, tags=tags, job_snapshot=remote_job.job_snapshot,
        execution_plan_snapshot=plan.execution_plan_snapshot, parent_job_snapshot=remote_job.parent_job_snapshot,
        remote_job_origin=remote_job.get_remote_origin(), job_code_origin=remote_job.get_python_origin(),
        asset_selection=frozenset(routed.asset_keys), asset_check_selection=None,
        asset_graph=repository.asset_graph)
    instance.submit_run(run.run_id, workspace=None)  # the queue ignores the workspace; the daemon has its own
    return SubmittedRun(run.run_id, routed.server, routed.job_name, [list(k.path) for k in routed.asset_keys],
                        routed.reason)


def submit_upload(casilla: str, upload_id: str | None = None, tables: list[str] | None = None,
                  destinations: list[str] | None = None, home: SageHome | None = None,
                  before_queue: Callable[[DagsterInstance], None] | None = None) -> tuple[str, list[SubmittedRun]]:
    """Queue the runs that materialize upload `upload_id` (default: the newest) of `casilla`;
    returns (upload id, runs). The Dagster daemon (`sage dev`) launches them. `before_queue` checks
    the instance once the request itself is known to be valid (`sage materialize`: is a daemon there?)."""
    home = home or SageHome.from_env()
    ensure_dagster_home(home)
    with session_scope(home) as session:
        get_casilla(session, casilla)  # a misspelt casilla is named as such, not as one without a materialization
        plans = load_plans(session)
    upload_id, runs = routed_runs(plans, casilla, upload_id, tables, destinations, home)
    instance = DagsterInstance.get()
    try:
        if not isinstance(instance.run_coordinator, QueuedRunCoordinator):
            raise SageError(f"the Dagster instance at {home.dagster_home} has no run queue (QueuedRunCoordinator "
                            "in its dagster.yaml): runs cannot be submitted, use `sage materialize --in-process`")
        if before_queue is not None:
            before_queue(instance)
        if not instance.has_dynamic_partition(partitions_name(casilla), upload_id):
            instance.add_dynamic_partitions(partitions_name(casilla), [upload_id])
            report_landed(instance, home, casilla, upload_id)  # its files, on the catalogs' source assets
        with _LOAD_LOCK, _code_location(instance) as location:
            return upload_id, [_create_run(instance, location, casilla, upload_id, run) for run in runs]
    finally:
        instance.dispose()


def land_and_submit(home: SageHome, casilla: str, path: Path, upload_id: str | None = None,
                    origen: str = "api", move: bool = False) -> tuple[str, list[SubmittedRun]]:
    """Land `path` as a new upload (`services.uploads.add_upload`) and queue its runs, without a
    second run from the landing sensor: the upload's partition is added before its folder
    appears, and the sensor leaves alone every upload that already has one."""
    ensure_dagster_home(home)
    with session_scope(home) as session:
        get_casilla(session, casilla)
        select_assets(load_plans(session), casilla, None, None)  # refuse before landing: nothing to run
    upload_id = check_upload_id(upload_id, "id") if upload_id else new_upload_id()
    instance = DagsterInstance.get()
    try:
        claimed = not instance.has_dynamic_partition(partitions_name(casilla), upload_id)
        if claimed:
            instance.add_dynamic_partitions(partitions_name(casilla), [upload_id])
        try:
            with session_scope(home) as session:
                add_upload(session, home, casilla, path, upload_id, origen, move=move)
        except BaseException:
            if claimed:
                instance.delete_dynamic_partition(partitions_name(casilla), upload_id)
            raise
        if claimed:
            report_landed(instance, home, casilla, upload_id)  # its files, on the catalogs' source assets
    finally:
        instance.dispose()
    return submit_upload(casilla, upload_id, home=home)


def run_state(run_id: str, home: SageHome | None = None) -> RunState:
    """A run's status as the Dagster instance has it."""
    ensure_dagster_home(home or SageHome.from_env())
    instance = DagsterInstance.get()
    try:
        run = instance.get_run_by_id(run_id)
        if run is None:
            raise NotFoundError(f"unknown run {run_id!r} (not in the Dagster instance)", field="run_id")
        return RunState(run.run_id, run.status.value, run.job_name, dict(run.tags), run.is_finished)
    finally:
        instance.dispose()


__all__ = ["RunState", "SubmittedRun", "asset_url", "ensure_instance", "land_and_submit", "run_state", "run_url", "submit_upload"]
