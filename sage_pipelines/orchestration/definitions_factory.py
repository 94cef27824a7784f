"""Builds the Dagster definitions from the metadata store, reading it and never writing it.

Every registered materialization contributes one asset per (casilla file, destination); each
casilla gets a job partitioned by its uploads (plus one per remote server), the landing and
executions sensors, and schedules when the materialization has one.

Loading the definitions only reads the store: migrations belong to `sage init`. A store that is
not at the newest revision (or not created yet) loads as an empty code location with a warning,
and `sage dev` / `sage materialize` refuse with "run `sage init`" (`check_store_current`).

A process that runs one job builds only that job: `SageRepositoryData` (the code location's
repository, `sage_pipelines.definitions:defs`) builds the whole location when the UI or the
daemon list it, but answers `get_job(name)` -- what a run worker, a step process or a Celery
worker asks -- from the plans of that job's casilla alone; `load_job` does the same for
`build_reconstructable_job` (`sage materialize --in-process`). `BUILT` records what this process
built, so tests and a curious operator can see it.
"""

from __future__ import annotations

import logging
from typing import AbstractSet, Mapping, Sequence

from dagster import (
    AssetKey,
    Definitions,
    JobDefinition,
    RepositoryDefinition,
    ResourceDefinition,
    ScheduleDefinition,
    SensorDefinition,
    SourceAsset,
    in_process_executor,
)
from dagster._core.definitions.repository_definition.repository_data import RepositoryData
from sqlalchemy import select

from sage_pipelines.errors import SageError
from sage_pipelines.materialization.model import LOCAL_SERVER
from sage_pipelines.materialization.plan import MaterializationPlan, load_plans
from sage_pipelines.orchestration.assets import build_assets, casillas_of
from sage_pipelines.orchestration.executions import build_executions_sensor
from sage_pipelines.orchestration.jobs import casilla_job, writer_tags
from sage_pipelines.orchestration.naming import job_name
from sage_pipelines.orchestration.resources import STORE_RESOURCE, store_resource
from sage_pipelines.orchestration.routing import remote_servers, server_job
from sage_pipelines.orchestration.schedules import build_schedule
from sage_pipelines.orchestration.sensors import build_landing_sensor
from sage_pipelines.servers.monitor import build_servers_sensor
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import schema_revisions, session_scope, store_exists
from sage_pipelines.store.models import Casilla

log = logging.getLogger(__name__)

WHOLE_LOCATION = "*"
BUILT: list[str] = []  # what this process built: WHOLE_LOCATION, or "<casilla>@<server>" for one job


def check_store_current(home: SageHome) -> None:
    """Refuse (one line) a home whose store `sage init` has not created or not migrated yet."""
    if not store_exists(home):
        raise SageError(f"{home.root} is not initialised: run `sage init` first")
    current, head = schema_revisions(home.store_url)
    if current != head:
        raise SageError(f"the store of {home.root} is at revision {current or '(none)'}, this version needs "
                        f"{head}: run `sage init` to migrate it")


def _plans(home: SageHome, casilla: str | None = None) -> list[MaterializationPlan]:
    """The active plans (of `casilla`), read only; none while the store is missing or behind."""
    try:
        check_store_current(home)
    except SageError as exc:
        if store_exists(home):
            log.warning("sage: the code location loads empty: %s", exc)
        return []  # `sage init` not run yet: nothing registered
    with session_scope(home) as session:
        return load_plans(session, casilla)


def build_definitions(home: SageHome | None = None) -> Definitions:
    """The whole code location: every casilla's assets, jobs, schedules and the sensors."""
    home = home or SageHome.from_env()
    plans = _plans(home)
    BUILT.append(WHOLE_LOCATION)
    assets, resources = build_assets(plans, home)
    by_casilla = casillas_of(plans)
    tags = {casilla: writer_tags(plans, casilla) for casilla in by_casilla}
    jobs = {casilla: casilla_job(casilla, tags[casilla]) for casilla in by_casilla}
    servers = remote_servers(home)
    remote = {(casilla, server): server_job(casilla, server, tags[casilla])
              for casilla in sorted(by_casilla) for server in servers}
    all_jobs = list(jobs.values()) + list(remote.values())  # one per remote server too
    schedules = [build_schedule(plan, jobs[plan.casilla], home) for plan in plans if plan.schedule]
    schedules += [build_schedule(plan, remote[(plan.casilla, server)], home, server)
                  for plan in plans if plan.schedule for server in servers]
    sensors = ([build_landing_sensor(sorted(by_casilla), all_jobs), build_executions_sensor()]
               if jobs else [])
    if len(all_jobs) > len(jobs):  # remote servers exist: watch them (servers/monitor.py)
        sensors.append(build_servers_sensor(home))
    # The implicit asset job (what the UI's "Materialize" and asset backfills run) executes in the
    # run's own process like `materialize_<casilla>`: no second writer on a DuckDB file.
    return Definitions(assets=assets, jobs=all_jobs, sensors=sensors, schedules=schedules,
                       resources={**resources, STORE_RESOURCE: store_resource(home)}, executor=in_process_executor)


def job_owner(home: SageHome, name: str) -> tuple[str, str] | None:
    """(casilla, server) whose job is called `name`, or None (not one of ours, or no store)."""
    if not store_exists(home):
        return None
    with session_scope(home) as session:
        casillas = list(session.scalars(select(Casilla.nombre)))
    for server in [LOCAL_SERVER, *remote_servers(home)]:
        for casilla in casillas:
            if job_name(casilla, server) == name:
                return casilla, server
    return None


def build_job(home: SageHome, casilla: str, server: str = LOCAL_SERVER) -> JobDefinition:
    """One job from the plans of its casilla alone: what a run or step process executes."""
    plans = _plans(home, casilla)
    BUILT.append(f"{casilla}@{server}")
    assets, resources = build_assets(plans, home)
    tags = writer_tags(plans, casilla)
    job = casilla_job(casilla, tags) if server == LOCAL_SERVER else server_job(casilla, server, tags)
    defs = Definitions(assets=assets, jobs=[job], resources={**resources, STORE_RESOURCE: store_resource(home)},
                       executor=in_process_executor)
    return defs.resolve_job_def(job.name)


def load_job(name: str) -> JobDefinition:
    """The job `name` for `build_reconstructable_job`, built from its casilla's plans only."""
    home = SageHome.from_env()
    owner = job_owner(home, name)
    if owner is None:
        return build_definitions(home).resolve_job_def(name)
    return build_job(home, *owner)


class SageRepositoryData(RepositoryData):
    """The code location's repository: the whole of it built once when it is listed (the UI, the
    daemon, a sensor tick), a single job built alone when only that job is asked for."""

    def __init__(self, home: SageHome) -> None:
        self._home = home
        self._whole: RepositoryDefinition | None = None
        self._jobs: dict[str, JobDefinition] = {}

    def _repository(self) -> RepositoryDefinition:
        if self._whole is None:
            self._whole = build_definitions(self._home).get_repository_def()
        return self._whole

    def get_job(self, job_name: str) -> JobDefinition:
        if self._whole is not None:
            return self._whole.get_job(job_name)
        if job_name not in self._jobs:
            owner = job_owner(self._home, job_name)
            if owner is None:
                return self._repository().get_job(job_name)
            self._jobs[job_name] = build_job(self._home, *owner)
        return self._jobs[job_name]

    def has_job(self, job_name: str) -> bool:
        if self._whole is None and job_owner(self._home, job_name) is not None:
            return True
        return self._repository().has_job(job_name)

    def get_all_jobs(self) -> Sequence[JobDefinition]:
        return self._repository().get_all_jobs()

    def get_top_level_resources(self) -> Mapping[str, ResourceDefinition]:
        return self._repository().get_top_level_resources()

    def get_env_vars_by_top_level_resource(self) -> Mapping[str, AbstractSet[str]]:
        return self._repository().get_env_vars_by_top_level_resource()

    def get_all_schedules(self) -> Sequence[ScheduleDefinition]:
        return self._repository().schedule_defs

    def get_all_sensors(self) -> Sequence[SensorDefinition]:
        return self._repository().sensor_defs

    def get_source_assets_by_key(self) -> Mapping[AssetKey, SourceAsset]:
        return self._repository().source_assets_by_key

    def get_assets_defs_by_key(self) -> Mapping:
        return self._repository().assets_defs_by_key

    def get_asset_checks_defs_by_key(self) -> Mapping:
        return self._repository().asset_checks_defs_by_key

    def get_asset_job_nodes(self) -> Sequence:
        return self._repository()._repository_data.get_asset_job_nodes()  # noqa: SLF001 (no public accessor)

    def get_component_tree(self):  # noqa: ANN201 (Dagster's optional ComponentTree)
        return None


def code_location(home: SageHome | None = None) -> RepositoryDefinition:
    """`sage_pipelines.definitions:defs`: the repository Dagster loads, named like a `Definitions`'."""
    return RepositoryDefinition(name="__repository__", repository_data=SageRepositoryData(home or SageHome.from_env()))
