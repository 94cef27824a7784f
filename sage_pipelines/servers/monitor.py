"""Monitoring in Dagster: a sensor that pings every server, stores its figures, reports the ones
that are down, and fails runs orphaned on a dead server or whose own process was killed
(`run_process`).

Every `SAGE_SERVERS_SENSOR_SECONDS` (30) the sensor refreshes each server's `estado`,
`ultimo_heartbeat` and `metricas` (the same figures as `sage servers status`), and its tick shows
which servers are down. A run that is STARTED on a remote server whose workers have not answered
for `SAGE_SERVER_DEAD_SECONDS` (300) is reported failed with a message naming the server: the
run's own process normally fails it sooner (the executor's watch), so this covers runs whose
process is gone too, or whose steps were still queued on a server that never came back.
"""

from __future__ import annotations

import datetime as dt
import os
import time

from dagster import (DagsterInstance, DagsterRunStatus, DefaultSensorStatus, RunsFilter, SensorDefinition,
                     SensorEvaluationContext, SkipReason, sensor)

from sage_pipelines.materialization.model import LOCAL_SERVER
from sage_pipelines.servers.health import refresh_status
from sage_pipelines.servers.instance import SERVER_TAG
from sage_pipelines.servers.run_process import fail_dead_runs
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope
from sage_pipelines.store.models import utcnow
from sage_pipelines.store.states import ServerStatus
SENSOR_SECONDS = int(os.environ.get("SAGE_SERVERS_SENSOR_SECONDS", "30"))


def dead_after_seconds() -> float:
    return float(os.environ.get("SAGE_SERVER_DEAD_SECONDS", "300"))


def fail_orphaned_runs(instance: DagsterInstance, down: dict[str, dt.datetime | None],
                       dead_after: float, now: dt.datetime | None = None) -> list[str]:
    """Report failed every STARTED run on a server of `down` (name -> last heartbeat, naive UTC)
    silent for more than `dead_after` seconds. Returns the failed run ids."""
    now = now or utcnow()
    failed = []
    for server, last_seen in down.items():
        silent = (now - last_seen).total_seconds() if last_seen else float("inf")
        if silent < dead_after:
            continue
        for run in instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED], tags={SERVER_TAG: server})):
            record = instance.get_run_record_by_id(run.run_id)
            if record is not None and record.start_time and time.time() - record.start_time < dead_after:
                continue  # started after the server went silent: give it time
            since = f"since {last_seen.isoformat(timespec='seconds')} UTC" if last_seen else "at all"
            instance.report_run_failed(run, message=f"server {server}: no worker has answered {since} "
                                                    f"(more than {dead_after:.0f} s); the run's steps were lost")
            failed.append(run.run_id)
    return failed


def check_servers(instance: DagsterInstance, home: SageHome) -> tuple[str, list[str]]:
    """Ping, store, fail orphaned runs; returns (summary line, failed run ids)."""
    with session_scope(home) as session:
        results = refresh_status(session, home)
        summary = ", ".join(f"{s.nombre} {s.estado}" + (f" ({p.active} active, {p.reserved} reserved)" if p.online else "")
                            for s, p in results)
        down = {s.nombre: s.ultimo_heartbeat for s, p in results if s.tipo != LOCAL_SERVER and not p.online}
    return summary, fail_orphaned_runs(instance, down, dead_after_seconds()) + fail_dead_runs(instance)


def build_servers_sensor(home: SageHome) -> SensorDefinition:
    @sensor(name="sage_servers_sensor", minimum_interval_seconds=SENSOR_SECONDS,
            default_status=DefaultSensorStatus.RUNNING,
            description="Pings every materialization server through its broker, stores its metrics, "
                        "reports servers that are down and fails runs orphaned on them or whose "
                        "process was killed")
    def _servers(context: SensorEvaluationContext):
        summary, failed = check_servers(context.instance, home)
        if any(state in summary for state in (ServerStatus.OFFLINE, ServerStatus.BROKER_DOWN)):
            context.log.warning(f"servers down: {summary}")
        if failed:
            context.log.error(f"failed runs orphaned on dead servers or processes: {', '.join(failed)}")
        return SkipReason(summary + (f"; failed {len(failed)} orphaned run(s)" if failed else ""))

    return _servers
