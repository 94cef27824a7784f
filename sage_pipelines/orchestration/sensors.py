"""The landing sensor: every new upload folder becomes a dynamic partition and one run.

An upload is complete once its folder exists under `$SAGE_HOME/landing/<casilla>/` (uploads
are copied to a temporary name and renamed into place). The cursor remembers the ids already
requested, and the run key makes a second request for the same upload a no-op anyway.
"""

from __future__ import annotations

import json

from dagster import (
    AddDynamicPartitionsRequest,
    DefaultSensorStatus,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from sage_pipelines.errors import SageError
from sage_pipelines.orchestration.naming import partitions_name
from sage_pipelines.orchestration.observations import observe_uploads
from sage_pipelines.orchestration.routing import upload_run_requests
from sage_pipelines.services.uploads import landed_uploads, register_landed_upload
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope


def build_landing_sensor(casillas: list[str], home: SageHome, jobs: list) -> SensorDefinition:
    @sensor(name="sage_landing_sensor", jobs=jobs, minimum_interval_seconds=15,
            default_status=DefaultSensorStatus.RUNNING,
            description="Turns each new upload under $SAGE_HOME/landing into a partition and a run")
    def _landing(context: SensorEvaluationContext):
        seen: dict[str, list[str]] = json.loads(context.cursor) if context.cursor else {}
        requests, partition_requests, observations = [], [], []
        for casilla in casillas:
            known = set(seen.get(casilla, []))
            new = [u for u in landed_uploads(home, casilla) if u not in known
                   and not context.instance.has_dynamic_partition(partitions_name(casilla), u)]
            if not new:
                continue
            new = _register(context, home, casilla, new)
            if not new:
                continue
            partition_requests.append(AddDynamicPartitionsRequest(partitions_name(casilla), new))
            requests += upload_run_requests(home, casilla, new)  # one run per upload and chosen server
            observations += observe_uploads(home, casilla, new)  # its files, on the catalogs' source assets
            seen[casilla] = sorted(known | set(new))
        if not requests:
            return SkipReason("no new uploads")
        return SensorResult(run_requests=requests, dynamic_partitions_requests=partition_requests,
                            cursor=json.dumps(seen, sort_keys=True), asset_events=observations)

    return _landing


def _register(context: SensorEvaluationContext, home: SageHome, casilla: str, upload_ids: list[str]) -> list[str]:
    """Uploads dropped straight into landing get their `uploads` row too. A folder that is not a
    valid upload (bad id, files no catalog names) is logged and skipped, not fatal to the tick."""
    valid = []
    for upload_id in upload_ids:
        try:
            with session_scope(home) as session:
                register_landed_upload(session, home, casilla, upload_id, "landing")
            valid.append(upload_id)
        except SageError as exc:
            context.log.warning(f"skipping landing/{casilla}/{upload_id}: {exc}")
    return valid
