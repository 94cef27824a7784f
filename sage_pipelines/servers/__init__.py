"""Materialization servers at run time: the balancer, Celery workers, executor, health, monitor.

`local` runs steps inside the Dagster run's own process; every other server is a Celery worker
(dagster-celery) consuming the queue named after the server on its broker. `balancer` decides
per step, `celery_app` / `worker` / `executor` run the steps, `health` / `monitor` ping servers
and fail orphaned runs, `instance` keeps the Dagster instance (`DAGSTER_HOME`, its storage and
per-server run-queue limits). Registering servers (the rules) is `services.servers`. Sits below
`orchestration`, which builds jobs on these executors.
"""
