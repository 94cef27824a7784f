"""Schedules: a materialization with a `schedule` cron re-materializes its casilla's newest upload."""

from __future__ import annotations

from dagster import RunRequest, ScheduleDefinition, ScheduleEvaluationContext, SkipReason, schedule

from sage_pipelines.orchestration.naming import dagster_name, job_name, partitions_name
from sage_pipelines.spec.plan import MaterializationPlan


def build_schedule(plan: MaterializationPlan, job) -> ScheduleDefinition:
    @schedule(name=f"{dagster_name(plan.name)}_schedule", cron_schedule=plan.schedule, job=job,
              description=f"Re-materialize the newest upload of {plan.casilla} ({plan.schedule})")
    def _scheduled(context: ScheduleEvaluationContext):
        uploads = sorted(context.instance.get_dynamic_partitions(partitions_name(plan.casilla)))
        if not uploads:
            return SkipReason(f"casilla {plan.casilla} has no uploads yet")
        latest = uploads[-1]
        return RunRequest(run_key=f"{plan.name}:{latest}:{context.scheduled_execution_time:%Y%m%dT%H%M}",
                          partition_key=latest, job_name=job_name(plan.casilla),
                          tags={"sage/casilla": plan.casilla, "sage/upload_id": latest})

    return _scheduled


