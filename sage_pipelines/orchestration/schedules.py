"""Schedules: a materialization with a `schedule` cron re-materializes its casilla's newest upload.

A schedule can only launch its own job, so a materialization gets one schedule per server job
of its casilla (`<name>_schedule` for `local`, `<name>_schedule__<server>` for each remote one),
all on the same cron. Each evaluates the balancer for the newest upload on the servers' stored
state (the same inputs at the same tick, so the same split) and requests only the steps routed
to its own server. Should two evaluations ever see different states, a step runs twice or waits
for the next tick — both safe, since a rerun of an upload leaves the same table.
"""

from __future__ import annotations

from dagster import RunRequest, ScheduleDefinition, ScheduleEvaluationContext, SkipReason, schedule

from sage_pipelines.materialization.model import LOCAL_SERVER
from sage_pipelines.materialization.plan import MaterializationPlan
from sage_pipelines.orchestration.naming import table_key, dagster_name, job_name, partitions_name
from sage_pipelines.orchestration.routing import current_states, upload_run_requests
from sage_pipelines.services.uploads import latest_upload
from sage_pipelines.settings import SageHome


def schedule_name(plan: MaterializationPlan, server: str = LOCAL_SERVER) -> str:
    return f"{dagster_name(plan.name)}_schedule" + ("" if server == LOCAL_SERVER else f"__{dagster_name(server)}")


def build_schedule(plan: MaterializationPlan, job, home: SageHome, server: str = LOCAL_SERVER) -> ScheduleDefinition:
    mine = {table_key(plan.casilla, t) for t in plan.tables}

    @schedule(name=schedule_name(plan, server), cron_schedule=plan.schedule, job=job,
              description=f"Re-materialize the newest upload of {plan.casilla} ({plan.schedule}): "
                          f"the steps the balancer routes to server {server}")
    def _scheduled(context: ScheduleEvaluationContext):
        uploads = context.instance.get_dynamic_partitions(partitions_name(plan.casilla))
        if not uploads:
            return SkipReason(f"casilla {plan.casilla} has no uploads yet")
        latest = latest_upload(home, plan.casilla)
        tick = f"{context.scheduled_execution_time:%Y%m%dT%H%M}" if context.scheduled_execution_time else "now"
        requests = []
        for request in upload_run_requests(home, plan.casilla, [latest], current_states(home, live=False)):
            selection = [k for k in (request.asset_selection or []) if k in mine]
            if request.job_name != job_name(plan.casilla, server) or not selection:
                continue
            requests.append(RunRequest(run_key=f"{plan.name}:{latest}:{server}:{tick}", partition_key=latest,
                                       job_name=request.job_name, asset_selection=selection,
                                       tags=request.tags))
        return requests or SkipReason(f"no step of upload {latest} is routed to server {server}")

    return _scheduled
