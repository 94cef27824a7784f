"""Materialization servers: the balancer, the registry, Celery workers, health and faults.

`local` runs steps inside the Dagster run's own process; every other server is a Celery worker
(dagster-celery) consuming the queue named after the server on its broker.
"""
