"""Builds the Dagster definitions from the metadata store.

Every registered materialization contributes one asset per (casilla file, destination); each
casilla gets a job partitioned by its uploads (plus one per remote server), the landing and
executions sensors, and schedules when the materialization has one. `load_job` is the
module-level reconstructor that `sage materialize` (and remote workers) use to rebuild a job
from the store by name, through Dagster's public `build_reconstructable_job`.
"""

from __future__ import annotations

from dagster import Definitions, JobDefinition

from sage_pipelines.materialization.plan import MaterializationPlan, load_plans
from sage_pipelines.orchestration.assets import build_assets, casillas_of
from sage_pipelines.orchestration.executions import build_executions_sensor
from sage_pipelines.orchestration.jobs import casilla_job, writer_tags
from sage_pipelines.orchestration.routing import remote_servers, server_job
from sage_pipelines.orchestration.schedules import build_schedule
from sage_pipelines.orchestration.sensors import build_landing_sensor
from sage_pipelines.servers.monitor import build_servers_sensor
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import migrate, session_scope, store_exists


def _plans(home: SageHome) -> list[MaterializationPlan]:
    if not store_exists(home):
        return []  # `sage init` not run yet: nothing registered
    migrate(home.store_url)
    with session_scope(home) as session:
        return load_plans(session)


def build_definitions(home: SageHome | None = None) -> Definitions:
    home = home or SageHome.from_env()
    plans = _plans(home)
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
    sensors = ([build_landing_sensor(sorted(by_casilla), home, all_jobs), build_executions_sensor(home)]
               if jobs else [])
    if len(all_jobs) > len(jobs):  # remote servers exist: watch them (servers/monitor.py)
        sensors.append(build_servers_sensor(home))
    return Definitions(assets=assets, jobs=all_jobs, sensors=sensors,
                       schedules=schedules, resources=resources)


def load_job(name: str) -> JobDefinition:
    return build_definitions().resolve_job_def(name)
