"""The landing sensor: every new upload folder becomes a dynamic partition and one run.

An upload is complete once its folder exists under `$SAGE_HOME/landing/<casilla>/` (uploads
are copied to a temporary name and renamed into place). The record of what was seen is Dagster's
own: the casilla's dynamic partitions (one per upload), added in the same tick as the upload's
runs. So the sensor keeps no cursor that would grow with every upload ever landed, an upload
whose partition `sage materialize` or the API added first gets no second run, and the run key
makes a second request for the same upload a no-op anyway.
"""

from __future__ import annotations

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
from sage_pipelines.orchestration.resources import SageStore
from sage_pipelines.orchestration.routing import upload_run_requests
from sage_pipelines.services.uploads import landed_uploads, register_landed_upload
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope


def build_landing_sensor(casillas: list[str], jobs: list) -> SensorDefinition:
    @sensor(name="sage_landing_sensor", jobs=jobs, minimum_interval_seconds=15,
            default_status=DefaultSensorStatus.RUNNING,
            description="Turns each new upload under $SAGE_HOME/landing into a partition and a run")
    def _landing(context: SensorEvaluationContext, sage_store: SageStore):
        home = sage_store.home
        requests, partition_requests, observations = [], [], []
        for casilla in casillas:
            known = set(context.instance.get_dynamic_partitions(partitions_name(casilla)))
            new = [u for u in landed_uploads(home, casilla) if u not in known]
            if not new:
                continue
            new = _register(context, home, casilla, new)
            if not new:
                continue
            partition_requests.append(AddDynamicPartitionsRequest(partitions_name(casilla), new))
            requests += upload_run_requests(home, casilla, new)  # one run per upload and chosen server
            observations += observe_uploads(home, casilla, new)  # its files, on the catalogs' source assets
        if not requests:
            return SkipReason("no new uploads")
        return SensorResult(run_requests=requests, dynamic_partitions_requests=partition_requests,
                            asset_events=observations)

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
