"""The Celery app of one remote server, the same on the worker and on the run's side.

Built from dagster-celery's own `make_app` (so the worker has dagster-celery's `execute_plan`
task) with the server's broker, its queue as `task_default_queue`, and `task_track_started` so
a step's STARTED state names the worker node that took it — which is how a dead worker is told
apart from a step that is merely waiting for a slot. Every message is signed and only signed
messages are accepted (`signing`).

The step task is registered on this app only (`shared=False`). dagster-celery's `create_task`
makes a new function on each call, and Celery's default (`shared=True`) also adds every one of
them to each app created later in the process; two functions under one name make Celery print
a 9-line `DuplicateTaskNameWarning`.
"""

from __future__ import annotations

from typing import Any

from dagster_celery.config import DEFAULT_CONFIG, dict_wrapper
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from sage_pipelines.servers import signing
from sage_pipelines.services.broker_tls import celery_tls

# Bounded broker waits: a broker that is down must fail a run in seconds, not hang it.
BROKER_CONNECT_TIMEOUT = 4.0
BROKER_TRANSPORT_OPTIONS = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1.0}


def result_backend_for(broker: str) -> str:
    """Redis keeps results in Redis; AMQP brokers answer over the `rpc://` backend."""
    return broker if broker.startswith(("redis://", "rediss://")) else "rpc://"


def app_args(server: str, broker: str) -> dict[str, Any]:
    """The keyword arguments of `celery.Celery` for server `server` (its queue is its name)."""
    broker, tls = celery_tls(broker)
    config = dict(DEFAULT_CONFIG)
    config.update(
        task_default_queue=server,
        task_track_started=True,
        worker_prefetch_multiplier=1,
        broker_connection_timeout=BROKER_CONNECT_TIMEOUT,
        broker_transport_options=dict(BROKER_TRANSPORT_OPTIONS),
        result_backend_transport_options=dict(BROKER_TRANSPORT_OPTIONS),
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        **signing.celery_settings(),
        **tls,
    )
    return {"broker": broker, "backend": result_backend_for(broker), "include": [],
            "config_source": dict_wrapper(config)}


def server_app(server: str, broker: str):
    """A Celery app for `server` with dagster-celery's step task registered (on this app only)."""
    app = make_app(app_args(server, broker))
    create_task(app, shared=False)
    return app


def check_broker(app, timeout: float = BROKER_CONNECT_TIMEOUT) -> None:
    """Connect to the broker once, raising the driver's error within about `timeout` seconds."""
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
