"""A backfill launched from the Dagster UI (the webserver's GraphQL `launchPartitionBackfill`, what
the UI's "Launch backfill" sends) re-materializes a range of uploads in the order they landed,
one run at a time, under `sage dev`'s real webserver and daemon."""

from __future__ import annotations

import time

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from sage_pipelines.demo import DEMO_DIR
from sage_pipelines.demo.data import write_week
from sage_pipelines.orchestration.naming import partitions_name
from sage_pipelines.services.casillas import register_casilla
from sage_pipelines.services.materializations import apply_materialization
from sage_pipelines.services.uploads import add_upload
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope
from sage_pipelines_tests.orchestration_fixtures import demo_home, land_week  # noqa: F401
from sage_pipelines_tests.test_webserver import graphql, sage_dev

LAKE_ONLY = "ventas_lago"
# Iceberg has no writer scope: without the per-backfill limit the queue would run these runs at once.
SPEC = f"""
materialization:
  name: {LAKE_ONLY}
  casilla: {LAKE_ONLY}
  destinations:
    lake: {{lake: lake, format: iceberg}}
  tables:
    ventas:
      table: fact_ventas
      primary_key: [id_venta]
      strategy: delete_insert
      delete_by: [semana]
"""
UPLOADS = ["ui-c", "ui-b", "ui-a"]  # landed in this order, which is not the order of their names


def lake_only_casilla(home: SageHome, tmp_path) -> None:  # noqa: ANN001
    with session_scope(home) as session:
        register_casilla(session, LAKE_ONLY, (DEMO_DIR / "ventas_semanales.yaml").read_text(encoding="utf-8"),
                         f"{LAKE_ONLY}.yaml")
    with session_scope(home) as session:
        apply_materialization(session, SPEC, f"{LAKE_ONLY}.yaml")

    with DagsterInstance.get() as instance:
        for week, upload_id in enumerate(UPLOADS, 1):
            with session_scope(home) as session:
                add_upload(session, home, LAKE_ONLY, write_week(tmp_path / upload_id, week), upload_id=upload_id)
            # landed earlier: their partitions exist, so the landing sensor leaves them alone
            instance.add_dynamic_partitions(partitions_name(LAKE_ONLY), [upload_id])


PARTITIONS = """
{ partitionSetOrError(repositorySelector: {repositoryLocationName: "%s", repositoryName: "__repository__"},
                      partitionSetName: "materialize_%s_partition_set") {
    ... on PartitionSet { partitionsOrError { ... on Partitions { results { name } } } } } }
"""

LAUNCH = """
mutation {
  launchPartitionBackfill(backfillParams: {
    selector: {partitionSetName: "materialize_%s_partition_set",
               repositorySelector: {repositoryLocationName: "%s", repositoryName: "__repository__"}},
    partitionNames: [%s]}) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""


@pytest.mark.slow
def test_a_backfill_launched_through_the_webservers_graphql_runs_the_uploads_in_order_one_at_a_time(
        demo_home, tmp_path):
    lake_only_casilla(demo_home, tmp_path)
    with sage_dev(demo_home) as (_proc, port):
        location = graphql(port, "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }")
        [name] = [e["name"] for e in location["data"]["workspaceOrError"]["locationEntries"]]
        listed = graphql(port, PARTITIONS % (name, LAKE_ONLY))["data"]["partitionSetOrError"]["partitionsOrError"]
        # The UI lists an upload partition set in the order the uploads landed, and a range picked
        # there is sent in that order: the order the backfill creates, and the queue launches, its runs.
        assert [p["name"] for p in listed["results"]] == UPLOADS
        names = ", ".join(f'"{p["name"]}"' for p in listed["results"])
        launched = graphql(port, LAUNCH % (LAKE_ONLY, name, names))["data"]["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        backfill = launched["backfillId"]
        deadline = time.monotonic() + 300
        with DagsterInstance.get() as instance:
            while True:
                records = instance.get_run_records(RunsFilter(tags={"dagster/backfill": backfill}), ascending=True)
                if len(records) == len(UPLOADS) and all(r.dagster_run.is_finished for r in records):
                    break
                assert time.monotonic() < deadline, [(r.dagster_run.tags, r.dagster_run.status) for r in records]
                time.sleep(2)
    assert [r.dagster_run.status for r in records] == [DagsterRunStatus.SUCCESS] * len(UPLOADS)
    by_start = sorted(records, key=lambda r: r.start_time)
    assert [r.dagster_run.tags["dagster/partition"] for r in by_start] == UPLOADS  # the order they landed
    for earlier, later in zip(by_start, by_start[1:]):
        assert earlier.end_time <= later.start_time  # one run at a time
