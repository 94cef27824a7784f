"""What Dagster knows about an upload's runs (the console queues them with
`orchestration.submit`, as the API does; the daemon of `sage dev` launches them).

The upload page follows the runs in the Dagster instance itself (runs tagged with the upload
id), so it shows runs started any way (the console, the API, the landing sensor, the CLI, a
backfill) the same. One instance per SAGE_HOME is opened once and read under a lock: opening
SQLite instances from several threads at once races on their schema checks.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from dagster import DagsterInstance, RunsFilter

from sage_pipelines.servers.instance import ensure_dagster_home
from sage_pipelines.settings import SageHome

FINISHED = ("SUCCESS", "FAILURE", "CANCELED")

_instance_lock = threading.Lock()
_instances: dict[str, DagsterInstance] = {}


def _instance(home: SageHome) -> DagsterInstance:
    """This home's Dagster instance, opened once (call with `_instance_lock` held)."""
    key = str(home.root)
    if key not in _instances:
        ensure_dagster_home(home)
        _instances[key] = DagsterInstance.from_config(str(home.dagster_home))
    return _instances[key]


def upload_runs(home: SageHome, casilla: str, upload_id: str) -> list[dict[str, Any]]:
    """The Dagster runs of one upload, newest first: id, job, status, server, start and end."""
    with _instance_lock:
        records = _instance(home).get_run_records(
            filters=RunsFilter(tags={"sage/casilla": casilla, "sage/upload_id": upload_id}), limit=20)
    return [{"run_id": r.dagster_run.run_id, "job": r.dagster_run.job_name,
             "status": r.dagster_run.status.value, "server": r.dagster_run.tags.get("sage/server"),
             "reason": r.dagster_run.tags.get("sage/server_reason"),
             "started": _utc(r.start_time), "ended": _utc(r.end_time)} for r in records]


def _utc(timestamp: float | None) -> dt.datetime | None:
    """A Dagster timestamp as the store writes times (naive UTC)."""
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).replace(tzinfo=None)
